"""CPU time and memory of one EchoMimicV2 denoising step in the reference code,
and the inputs for nanscope's side of the comparison.

    python bench/echomimic_model.py --checkout /path/to/echomimic_v2 --out /tmp/emv2-bench
    NANSCOPE_EMV2_BENCH=/tmp/emv2-bench cargo test --release --lib bench_denoising_step -- --ignored --nocapture

The model is a mid-size configuration (channels 64/128/256/256, 2 layers per
block, motion modules everywhere, 8 heads) on a 2-sample (guidance) × 4-frame
batch of 32×32 latents, fp32, random weights. Memory is the peak resident set
during the step above the resident set before it (peak reset through
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


def rss_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkout", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(args.checkout.resolve()))
    sys.path.insert(0, str(HERE.parent / "fixtures/replay/echomimic"))
    import make_goldens as mg
    from src.models.unet_2d_condition import UNet2DConditionModel
    from src.models.unet_3d_emo import EMOUNet3DConditionModel

    torch.set_num_threads(args.threads)
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
    Control = mg.cpu_control()
    ref = UNet2DConditionModel(**config).eval()
    mg.randomize(ref, 21)
    inflated = dict(config)
    inflated["down_block_types"] = [t.replace("2D", "3D") for t in config["down_block_types"]]
    inflated["up_block_types"] = [t.replace("2D", "3D") for t in config["up_block_types"]]
    inflated["mid_block_type"] = "UNetMidBlock3DCrossAttn"
    den = EMOUNet3DConditionModel(**{**inflated, **kwargs}).eval()
    mg.randomize(den, 22)
    writer = Control(ref, mode="write", do_classifier_free_guidance=True, fusion_blocks="full", batch_size=1)
    reader = Control(den, mode="read", do_classifier_free_guidance=True, fusion_blocks="full", batch_size=1)
    frames = 4
    ref_latents = mg.tensor((1, 4, 32, 32), 23)
    latents = mg.tensor((2, 4, frames, 32, 32), 24)
    audio = mg.tensor((2, frames, 3, 16), 25)
    pose = mg.tensor((2, 64, frames, 32, 32), 26, 0.5)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(
        {
            **mg.state(ref, "reference_unet."),
            **mg.state(den, "denoising_unet."),
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
    times = []
    with torch.no_grad():
        for run in range(3):
            Path("/proc/self/clear_refs").write_text("5")
            before = rss_kib("VmRSS")
            start = time.perf_counter()
            writer.clear() if hasattr(writer, "clear") else None
            reader.clear()
            ref(ref_latents, torch.zeros(1), encoder_hidden_states=None, return_dict=False)
            reader.update(writer, do_classifier_free_guidance=True, dtype=torch.float32)
            y = den(latents, torch.tensor(501.0), encoder_hidden_states=None, audio_cond_fea=audio, face_musk_fea=pose).sample
            times.append(time.perf_counter() - start)
            peak = rss_kib("VmHWM")
            print(f"run {run}: {times[-1]:.3f} s, peak above start {(peak - before) / 1024:.1f} MiB")
    torch.save(y, args.out / "torch_output.pt")
    save_file({"golden.output": y.contiguous()}, str(args.out / "output.safetensors"))
    print(f"torch {torch.__version__}, {args.threads} threads: best {min(times):.3f} s")


if __name__ == "__main__":
    main()
