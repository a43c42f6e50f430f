"""`nanscope.guard`: save_video, assert_finite, raise_on_nonfinite."""

import subprocess
import warnings

import pytest

from conftest import needs_diffusers, needs_ffmpeg, needs_torch, run_probe  # noqa: F401


@needs_torch
def test_assert_finite_names_the_tensor_and_the_first_bad_index():
    import torch

    from nanscope.guard import NonFiniteError, assert_finite

    assert_finite(torch.ones(2, 3), "ok")
    assert_finite(torch.arange(4), "integers")
    x = torch.zeros(2, 3, dtype=torch.float16)
    x[1, 2] = float("nan")
    x[0, 1] = float("-inf")
    with pytest.raises(NonFiniteError) as err:
        assert_finite(x, "latents")
    e = err.value
    assert (e.name, e.nan, e.pos_inf, e.neg_inf, e.count, e.index) == ("latents", 1, 0, 1, 6, (0, 1))
    assert "latents holds non-finite values: 1 NaN, 0 +Inf, 1 -Inf of 6; first at index [0, 1]" in str(e)


def test_assert_finite_reads_numpy_arrays():
    import numpy as np

    from nanscope.guard import NonFiniteError, assert_finite

    a = np.ones((2, 2), dtype=np.float32)
    a[1, 1] = np.inf
    with pytest.raises(NonFiniteError, match=r"first at index \[1, 1\]"):
        assert_finite(a, "frame")


@needs_diffusers
def test_raise_on_nonfinite_stops_a_pipeline_at_the_producer():
    import torch
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    from nanscope.guard import NonFiniteError, raise_on_nonfinite

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=16, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       norm_num_groups=4)
    pipe = DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=50))
    pipe.set_progress_bar_config(disable=True)
    with raise_on_nonfinite(pipe):  # clean: runs through
        pipe(num_inference_steps=2, output_type="np")
    calls = {"n": 0}

    def plant(module, args, out):
        # From the second step on, the convolution returns NaN at one element.
        calls["n"] += 1
        if calls["n"] >= 2:
            out = out.clone()
            out.view(-1)[5] = float("nan")
            return out

    unet.up_blocks[0].resnets[0].conv1.register_forward_hook(plant)
    with pytest.raises(NonFiniteError) as err:
        with raise_on_nonfinite(pipe):
            pipe(num_inference_steps=3, output_type="np")
    e = err.value
    assert (e.module, e.step, e.nan) == ("unet.up_blocks.0.resnets.0.conv1", 1, 1)
    assert e.index == (0, 0, 0, 5)
    # The hooks and the scheduler are restored.
    assert "step" not in vars(pipe.scheduler)


def _video_with_nan_frames():
    import numpy as np

    t = np.linspace(0, 1, 12, dtype=np.float32)
    x = np.linspace(0, 1, 32, dtype=np.float32)
    videos = np.empty((1, 3, 12, 24, 32), dtype=np.float32)
    videos[:] = 0.25 + 0.5 * (x[None, None, None, :] * 0.5 + t[None, :, None, None] * 0.5)
    videos[0, :, 5] = np.nan  # a whole frame
    videos[0, 1, 8, :4, :4] = np.inf  # a few pixels
    return videos


@needs_ffmpeg
def test_save_video_reports_and_fills_nonfinite_frames(tmp_path):
    import numpy as np

    import nanscope
    from nanscope.guard import NonFiniteFramesWarning, save_video

    out = tmp_path / "sub" / "video.mp4"
    with pytest.warns(NonFiniteFramesWarning, match=r"2 of 12 frames held NaN/Inf \(frames 5, 8\)"):
        summary = save_video(_video_with_nan_frames(), str(out), fps=8)
    assert out.exists()
    assert summary["nonfinite_frames"] == [5, 8]
    assert summary["frames"][5]["nan"] == 3 * 24 * 32
    assert summary["command"] == "video encode"
    assert summary["encode"]["range"] == "0-1" and summary["summary"]["filled"] == 2
    assert any(f["rule"] == "nonfinite-pixels" for f in summary["findings"])
    # The filled frame is not black: `video check` finds no black or NaN-cast frame.
    report = nanscope.check_video(out)
    assert not [f for f in report["findings"] if f["rule"] in ("black-frames", "nan-cast-signature")], report["findings"]
    # What astype(uint8) would have written: a black frame 5.
    assert np.isnan(_video_with_nan_frames()[0, :, 5]).all()


@needs_ffmpeg
def test_save_video_takes_save_videos_grids_arguments(tmp_path):
    import numpy as np

    from nanscope.guard import save_video

    videos = np.random.default_rng(0).uniform(-1, 1, size=(2, 3, 4, 16, 16)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = save_video(videos, str(tmp_path / "grid.mp4"), None, True, 6, 8)
    assert summary["encode"]["range"] == "-1-1"
    # make_grid(nrow=6, padding=2): two 16-pixel videos side by side with 2-pixel borders.
    assert (summary["encode"]["width"], summary["encode"]["height"]) == (2 + 18 * 2, 2 + 18)
    assert summary["nonfinite_frames"] == []


@needs_ffmpeg
@needs_torch
def test_save_video_accepts_a_bf16_tensor_and_audio(tmp_path):
    import torch

    from nanscope.guard import save_video

    audio = tmp_path / "tone.wav"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    str(audio)], check=True)
    videos = torch.rand(1, 3, 8, 16, 16).to(torch.bfloat16)
    summary = save_video(videos, tmp_path / "v.mp4", fps=8, audio=audio)
    assert summary["encode"]["output"].endswith("v.mp4")
    streams = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
                              str(tmp_path / "v.mp4")], capture_output=True, text=True, check=True).stdout.split()
    assert sorted(streams) == ["audio", "video"]
