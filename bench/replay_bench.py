#!/usr/bin/env python3
"""Replay engine speed: probe overhead and the built-in engine against PyTorch eager.

Runs, in one go and with the same thread count:
  1. `nanscope replay` on a benchmark spec (the demo models at 64x64 pixels,
     2 frames, 10 DDIM steps, guidance 1.5, fp32, no quantization, no dump)
     without probes (`--no-probe`) and with the analysing probe (level stats);
  2. the same loop in PyTorch eager with diffusers (UNet + DDIM + VAE decode).
Reports medians and ratios; with --write, records them in reports/replay-bench.md.

nanscope is timed as a whole process (model loading and the report included),
PyTorch only over the loop (imports and model loading excluded), so the
engine ratio is conservative.

    cargo build --release
    python3 bench/replay_bench.py --threads 2 --repeat 5 --write
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures", "replay")
BIN = os.path.join(ROOT, "target", "release", "nanscope")
STEPS, FRAMES, SIZE, GUIDANCE = 10, 2, 64, 1.5

SPEC = f"""
dtype = "fp32"
seed = 0
steps = {STEPS}
guidance_scale = {GUIDANCE}
frames = {FRAMES}
height = {SIZE}
width = {SIZE}
[scheduler]
beta_schedule = "scaled_linear"
beta_start = 0.00085
beta_end = 0.012
clip_sample = false
set_alpha_to_one = false
steps_offset = 1
[models]
unet = "{FIX}/demo-unet"
vae = "{FIX}/demo-vae"
"""


def time_nanscope(spec, extra, repeat, env):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([BIN, "replay", spec, "--format", "json", *extra], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_torch(repeat, threads):
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel

    torch.set_num_threads(threads)
    unet = UNet2DConditionModel.from_pretrained(os.path.join(FIX, "demo-unet")).float().eval()
    vae = AutoencoderKL.from_pretrained(os.path.join(FIX, "demo-vae")).float().eval()
    lat_size = SIZE // 2
    cond = torch.randn(1, 4, unet.config.cross_attention_dim)
    ctx = torch.cat([torch.zeros_like(cond).expand(FRAMES, -1, -1), cond.expand(FRAMES, -1, -1)])

    def loop():
        sched = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
        sched.set_timesteps(STEPS)
        lat = torch.randn(1, 4, FRAMES, lat_size, lat_size)
        with torch.no_grad():
            for t in sched.timesteps:
                x = lat[0].transpose(0, 1)
                eps = unet(torch.cat([x, x]), t, encoder_hidden_states=ctx).sample
                eps = eps[:FRAMES] + GUIDANCE * (eps[FRAMES:] - eps[:FRAMES])
                lat = sched.step(eps.transpose(0, 1)[None], t, lat).prev_sample
            vae.decode(lat[0].transpose(0, 1) / vae.config.scaling_factor)

    loop()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        loop()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release")
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        spec = os.path.join(tmp, "bench.toml")
        with open(spec, "w") as f:
            f.write(SPEC)
        time_nanscope(spec, ["--no-probe"], 1, env)  # warm the page cache
        bare = time_nanscope(spec, ["--no-probe"], args.repeat, env)
        probed = time_nanscope(spec, [], args.repeat, env)
    torch_s = time_torch(args.repeat, args.threads)
    lines = [
        "# Replay engine benchmark",
        "",
        f"Configuration: demo UNet + VAE, {SIZE}x{SIZE} px ({SIZE // 2}x{SIZE // 2} latents), {FRAMES} frames, "
        f"{STEPS} DDIM steps, guidance {GUIDANCE} (batch {2 * FRAMES}), fp32, {args.threads} threads, "
        f"median of {args.repeat}. Produced by `python3 bench/replay_bench.py --threads {args.threads} --write`.",
        "",
        "| run | seconds |",
        "|---|---|",
        f"| nanscope replay, no probe (whole process) | {bare:.3f} |",
        f"| nanscope replay, analysing probe, level stats (whole process) | {probed:.3f} |",
        f"| PyTorch eager + diffusers (loop only) | {torch_s:.3f} |",
        "",
        f"- probe overhead: {probed / bare:.2f}x (target at most 1.10x)",
        f"- built-in engine vs PyTorch eager: {bare / torch_s:.2f}x (target within 2x)",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        with open(os.path.join(ROOT, "reports", "replay-bench.md"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
