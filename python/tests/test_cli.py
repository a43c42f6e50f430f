"""The `nanscope` command installed by the wheel and the report bindings."""

import json
import os
import shutil
import subprocess
import sys

import pytest

import nanscope
from conftest import fixture, needs_ffmpeg

UNET = fixture("weights", "unet", "diffusion_pytorch_model.safetensors")
VAE = fixture("weights", "vae", "diffusion_pytorch_model.fp16.safetensors")


def cli(*args):
    exe = shutil.which("nanscope")
    assert exe is not None, "the wheel installs a `nanscope` command"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300)


def without_volatile(report):
    report = dict(report)
    report.pop("tool", None)
    report.pop("generated", None)
    return report


def test_the_command_runs_with_no_rust_toolchain():
    out = cli("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"nanscope {nanscope.__version__}"


def test_python_dash_m_nanscope_is_the_same_command():
    out = subprocess.run([sys.executable, "-m", "nanscope", "rules", "W101"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "W101" in out.stdout


def test_exit_codes_are_the_binarys():
    assert cli("weights", UNET, "--format", "json").returncode in (0, 1)
    missing = cli("weights", "no/such/file.safetensors")
    assert missing.returncode == 2
    assert "no/such/file.safetensors: no such file or directory" in missing.stderr


def test_scan_weights_returns_the_commands_json_report():
    report = nanscope.scan_weights([UNET, VAE])
    assert report["command"] == "weights"
    out = cli("weights", UNET, VAE, "--format", "json", "--fail-on", "never")
    assert out.returncode == 0, out.stderr
    assert without_volatile(report) == without_volatile(json.loads(out.stdout))


def test_rules_lists_and_explains():
    catalogue = nanscope.rules()
    assert catalogue["command"] == "rules"
    one = nanscope.rules("W101")
    assert "W101" in json.dumps(one)


def test_scheduler_trace_and_poses():
    assert nanscope.scheduler(fixture("scheduler", "sd15.config.json"))["command"] == "scheduler"
    traced = nanscope.trace(fixture("trace", "planted-stats"))
    assert traced["command"] == "trace"
    assert any(f["code"] == "R120" for f in traced["findings"])
    poses = nanscope.check_poses(fixture("pose", "echomimic_clean"))
    assert poses["command"] == "pose check"


@needs_ffmpeg
def test_check_video(tmp_path):
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=64x48:rate=8:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)],
                   check=True)
    report = nanscope.check_video(clip)
    assert report["command"] == "video check"
