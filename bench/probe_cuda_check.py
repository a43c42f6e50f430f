"""Checks python/nanscope_probe.py on a CUDA device: an fp16 diffusers UNet with one
convolution scaled so that its output overflows fp16 from a known step on, recorded
with the probe at level `stats`. `nanscope trace OUT_DIR` must then name that module
and step.

    python3 bench/probe_cuda_check.py OUT_DIR [--device cuda]

Needs torch and diffusers; the UNet is built from a config (random weights, nothing
is downloaded).
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from nanscope_probe import attach  # noqa: E402

# conv_in sees the latents before any normalization, so its output grows with
# their scale and the step at which it crosses 65504 can be chosen exactly.
PLANTED = "conv_in"
OVERFLOW_STEP = 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()

    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=32, layers_per_block=1, block_out_channels=(64, 128),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=64,
        norm_num_groups=8, attention_head_dim=8,
    ).to(args.device, torch.float16).eval()
    conv = unet.get_submodule(PLANTED)
    sample = torch.randn(2, 4, 32, 32, device=args.device, dtype=torch.float16)
    ctx = torch.randn(2, 8, 64, device=args.device, dtype=torch.float16)
    timesteps = [999, 799, 599, 399]

    # Calibrate the plant: measure the module's output at each step in fp16, then
    # scale its weights so steps before OVERFLOW_STEP stay finite and it overflows there.
    seen = []
    hook = conv.register_forward_hook(lambda m, i, o: seen.append(o.detach().abs().float().max().item()))
    with torch.no_grad():
        for t in timesteps:
            unet(sample * 2 ** timesteps.index(t), t, encoder_hidden_states=ctx)
    hook.remove()
    before = max(seen[:OVERFLOW_STEP])
    at = seen[OVERFLOW_STEP]
    if at <= before:
        sys.exit("calibration failed: the planted step's output is not the largest so far")
    scale = 65504.0 / ((before + at) / 2)
    with torch.no_grad():
        conv.weight.mul_(scale)
        if conv.bias is not None:
            conv.bias.mul_(scale)

    with attach(unet, args.out, prefix="unet", level="stats", overwrite=True) as probe, torch.no_grad():
        probe.stage("unet")
        for step, t in enumerate(timesteps):
            probe.step(step, timestep=t)
            unet(sample * 2**step, t, encoder_hidden_states=ctx)
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump({"module": f"unet.{PLANTED}", "step": OVERFLOW_STEP, "device": torch.cuda.get_device_name()
                   if args.device.startswith("cuda") else args.device}, f)
    print(f"planted {PLANTED} at step {OVERFLOW_STEP} (scale {scale:.1f}); dump in {args.out}")


if __name__ == "__main__":
    main()
