"""Overhead of python/nanscope_probe.py at level `stats` on a denoising UNet.

Times the same UNet forward passes with and without the probe attached, in one
process, alternating the two so drift hits both, and prints the ratio.

    python3 bench/probe_overhead.py                       # SD-1.5-sized UNet, random weights, CUDA if present
    python3 bench/probe_overhead.py --device cpu --tiny   # a small UNet on the CPU

Needs torch and diffusers (the UNet is built from a config; nothing is downloaded).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from nanscope_probe import attach  # noqa: E402


def build(tiny, device, dtype, size=64):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    if tiny:
        unet = UNet2DConditionModel(
            sample_size=16, layers_per_block=1, block_out_channels=(32, 64),
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
            norm_num_groups=8, attention_head_dim=4)
        sample, ctx = torch.randn(2, 4, 16, 16), torch.randn(2, 8, 32)
    else:
        unet = UNet2DConditionModel(cross_attention_dim=768)  # the SD-1.5 architecture (860M parameters)
        sample, ctx = torch.randn(2, 4, size, size), torch.randn(2, 77, 768)
    unet = unet.to(device, dtype).eval()
    return unet, sample.to(device, dtype), ctx.to(device, dtype)


def timed(unet, sample, ctx, device, n):
    times = []
    with torch.no_grad():
        for i in range(n):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            unet(sample, 999 - i, encoder_hidden_states=ctx)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--size", type=int, default=64, help="latent height and width of the SD-1.5 UNet")
    args = parser.parse_args()
    dtype = torch.float16 if args.device == "cuda" else torch.float32
    unet, sample, ctx = build(args.tiny, args.device, dtype, args.size)
    modules = sum(1 for _ in unet.modules())
    timed(unet, sample, ctx, args.device, 2)  # warm-up
    plain, probed = [], []
    records = 0
    for _ in range(args.rounds):
        plain += timed(unet, sample, ctx, args.device, args.steps)
        with tempfile.TemporaryDirectory() as out:
            with attach(unet, out, prefix="unet") as probe:
                for i in range(args.steps):
                    probe.step(i)
                probed += timed(unet, sample, ctx, args.device, args.steps)
            with open(os.path.join(out, "records.jsonl")) as f:
                records = sum(1 for _ in f)
    p, q = statistics.median(plain), statistics.median(probed)
    name = "tiny UNet" if args.tiny else f"SD-1.5 UNet at {args.size}x{args.size} latents"
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"{name}, {args.device} ({gpu}), {dtype}, {modules} modules, {records // args.steps} records/step")
    print(f"median step without probe: {p * 1e3:.2f} ms")
    print(f"median step with probe (stats): {q * 1e3:.2f} ms")
    print(f"ratio: {q / p:.2f}x (overhead {100 * (q / p - 1):.0f}%)")


if __name__ == "__main__":
    main()
