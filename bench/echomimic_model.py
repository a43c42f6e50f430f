"""Time and memory of one EchoMimicV2 denoising step in the reference code,
and the inputs for nanscope's side of the comparison.

    python bench/echomimic_model.py --checkout /path/to/echomimic_v2 --out /tmp/emv2-bench
    NANSCOPE_EMV2_BENCH=/tmp/emv2-bench cargo test --release --lib bench_denoising_step -- --ignored --nocapture

One step is the reference UNet writing its banks (timestep 0) and one guided
denoising-UNet forward reading them, with pose features and audio, on a
2-sample (guidance) batch, random weights. Two sizes:

- `mid` (default): channels 64/128/256/256, 2 layers per block, motion
  modules everywhere, 8 heads, audio width 16, 4 frames of 32x32 latents.
- `full`: the shipped model: the SD image-variations UNet config
  (320/640/1280/1280, 8-dim heads, cross-attention width 768 for the
  reference UNet) inflated with `configs/inference/inference_v2.yaml`'s
  `unet_additional_kwargs` (audio width 384), one 12-frame window of
  768x768 (96x96 latents), audio features (12, 50, 384), pose features
  (320, 12, 96, 96).

`--device cuda --dtype fp16` times the step on the GPU (CUDA-synchronised,
after a warm-up run); nanscope's side then runs with
`NANSCOPE_EMV2_DEVICE=cuda NANSCOPE_EMV2_DTYPE=fp16` from a build with
`--features cuda`. On the CPU, memory is the peak resident set during the
step above the resident set before it (peak reset through
/proc/self/clear_refs).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent

# The 2-D UNet config EchoMimicV2 builds both UNets from
# (sd-image-variations-diffusers/unet/config.json).
SD_IMAGE_VARIATIONS_UNET = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "act_fn": "silu",
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
    "use_linear_projection": False,
}

# configs/inference/inference_v2.yaml: unet_additional_kwargs, but for
# motion_module_kwargs, which are make_goldens.MOTION_KWARGS.
INFERENCE_V2_KWARGS = {
    "use_inflated_groupnorm": True,
    "unet_use_cross_frame_attention": False,
    "unet_use_temporal_attention": False,
    "use_motion_module": True,
    "cross_attention_dim": 384,
    "motion_module_resolutions": [1, 2, 4, 8],
    "motion_module_mid_block": True,
    "motion_module_decoder_only": False,
    "motion_module_type": "Vanilla",
}


def rss_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def configuration(size, mg):
    """(2-D config, additional kwargs, frames, latent side, audio tokens per frame)."""
    if size == "full":
        kwargs = dict(INFERENCE_V2_KWARGS, motion_module_kwargs=dict(mg.MOTION_KWARGS))
        return dict(SD_IMAGE_VARIATIONS_UNET), kwargs, 12, 96, 50
    config = dict(
        mg.UNET_2D_CONFIG,
        block_out_channels=[64, 128, 256, 256],
        down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
        up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
        layers_per_block=2,
        norm_num_groups=32,
        attention_head_dim=8,
        sample_size=32,
    )
    kwargs = mg.unet_additional_kwargs()
    kwargs["motion_module_kwargs"]["num_attention_heads"] = 8
    return config, kwargs, 4, 32, 3


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkout", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", choices=["mid", "full"], default="mid")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(args.checkout.resolve()))
    sys.path.insert(0, str(HERE.parent / "fixtures/replay/echomimic"))
    import make_goldens as mg
    from src.models.unet_2d_condition import UNet2DConditionModel
    from src.models.unet_3d_emo import EMOUNet3DConditionModel

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    cuda = device.type == "cuda"
    config, kwargs, frames, side, tokens = configuration(args.size, mg)
    audio_width = kwargs["cross_attention_dim"]
    pose_channels = config["block_out_channels"][0]
    Control = mg.reference_control(args.device)
    # Built on the device: initialising a full-size model on the CPU first
    # would take longer than the measurement.
    with torch.device(device):
        ref = UNet2DConditionModel(**config).eval()
    mg.randomize(ref, 21, args.device)
    inflated = dict(config)
    inflated["down_block_types"] = [t.replace("2D", "3D") for t in config["down_block_types"]]
    inflated["up_block_types"] = [t.replace("2D", "3D") for t in config["up_block_types"]]
    inflated["mid_block_type"] = "UNetMidBlock3DCrossAttn"
    with torch.device(device):
        den = EMOUNet3DConditionModel(**{**inflated, **kwargs}).eval()
    mg.randomize(den, 22, args.device)
    writer = Control(ref, mode="write", do_classifier_free_guidance=True, fusion_blocks="full", batch_size=1)
    reader = Control(den, mode="read", do_classifier_free_guidance=True, fusion_blocks="full", batch_size=1)
    ref_latents = mg.tensor((1, 4, side, side), 23)
    latents = mg.tensor((2, 4, frames, side, side), 24)
    audio = mg.tensor((2, frames, tokens, audio_width), 25)
    pose = mg.tensor((2, pose_channels, frames, side, side), 26, 0.5)
    args.out.mkdir(parents=True, exist_ok=True)
    # Weights are stored in half precision (mg.state), so both sides compute
    # from the same values.
    save_file(
        {
            **{k: v.cpu() for k, v in mg.state(ref, "reference_unet.").items()},
            **{k: v.cpu() for k, v in mg.state(den, "denoising_unet.").items()},
            "golden.ref_latents": ref_latents,
            "golden.latents": latents,
            "golden.audio": audio,
            "golden.pose": pose,
            "golden.timestep": torch.tensor([501.0]),
        },
        str(args.out / "bench.safetensors"),
    )
    (args.out / "unet_config.json").write_text(json.dumps(config))
    (args.out / "unet_additional_kwargs.json").write_text(json.dumps(kwargs))
    ref.to(dtype)
    den.to(dtype)
    inputs = [t.to(device, dtype) for t in (ref_latents, latents, audio, pose)]
    ref_latents, latents, audio, pose = inputs
    zero = torch.zeros(1, device=device)
    timestep = torch.tensor(501.0, device=device)
    times = []
    with torch.no_grad():
        for run in range(args.runs + int(cuda)):
            Path("/proc/self/clear_refs").write_text("5")
            before = rss_kib("VmRSS")
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            writer.clear() if hasattr(writer, "clear") else None
            reader.clear()
            ref(ref_latents, zero, encoder_hidden_states=None, return_dict=False)
            reader.update(writer, do_classifier_free_guidance=True, dtype=dtype)
            y = den(latents, timestep, encoder_hidden_states=None, audio_cond_fea=audio, face_musk_fea=pose).sample
            if cuda:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            if cuda and run == 0:
                print(f"warm-up: {seconds:.3f} s")
                continue
            times.append(seconds)
            if cuda:
                memory = f"peak allocated {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"
            else:
                memory = f"peak above start {(rss_kib('VmHWM') - before) / 1024:.1f} MiB"
            print(f"run {len(times) - 1}: {seconds:.3f} s, {memory}")
    y = y.float().cpu()
    save_file({"golden.output": y.contiguous()}, str(args.out / "output.safetensors"))
    where = torch.cuda.get_device_name() if cuda else f"{args.threads} threads"
    print(
        f"torch {torch.__version__}, {args.size} size, {args.dtype}, {where}: "
        f"best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s, output max {y.abs().max():.3g}"
    )


if __name__ == "__main__":
    main()
