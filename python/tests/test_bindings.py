"""The report bindings call the library with typed options: each option is
honoured (the report equals the command line's with the same flag), an
unknown keyword or a wrong type is a TypeError naming it, and a command
that cannot run raises NanscopeError."""

import json
import shutil
import subprocess

import pytest

import nanscope
from conftest import fixture, needs_ffmpeg

UNET = fixture("weights", "unet", "diffusion_pytorch_model.safetensors")


def cli_report(*args):
    exe = shutil.which("nanscope")
    assert exe is not None, "the wheel installs a `nanscope` command"
    out = subprocess.run([exe, *args, "--format", "json", "--fail-on", "never"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def comparable(report):
    report = dict(report)
    report.pop("tool", None)
    report.pop("generated", None)
    return report


def assert_same(report, *cli_args):
    assert comparable(report) == comparable(cli_report(*cli_args))


def codes(report):
    return sorted(f["code"] for f in report["findings"])


def test_scan_weights_honours_its_options():
    default = nanscope.scan_weights(UNET)
    none = nanscope.scan_weights(UNET, target_dtype="none", underflow_share=0.5, all_tensors=True)
    assert_same(none, "weights", UNET, "--target-dtype", "none", "--underflow-share", "0.5", "--all-tensors")
    assert_same(default, "weights", UNET)
    with pytest.raises(nanscope.NanscopeError, match="underflow-share must be between 0 and 1"):
        nanscope.scan_weights(UNET, underflow_share=2.0)
    with pytest.raises(ValueError, match="target_dtype must be one of fp16, bf16, none"):
        nanscope.scan_weights(UNET, target_dtype="fp8")


def test_a_path_that_does_not_exist_raises_nanscope_error():
    with pytest.raises(nanscope.NanscopeError) as err:
        nanscope.scan_weights(["no/such/file.safetensors"])
    assert str(err.value) == "no/such/file.safetensors: no such file or directory"
    assert err.value.message == str(err.value) and err.value.exit_code == 2
    assert isinstance(err.value, RuntimeError)


@pytest.mark.parametrize("call", [
    lambda: nanscope.scan_weights("no/such/path"),
    lambda: nanscope.check_video("no/such/path"),
    lambda: nanscope.check_poses("no/such/path"),
    lambda: nanscope.check_image("no/such/path"),
    lambda: nanscope.check_log("no/such/path"),
    lambda: nanscope.check_config("no/such/path"),
    lambda: nanscope.trace("no/such/path"),
    lambda: nanscope.scheduler("no/such/path"),
    lambda: nanscope.postmortem("no/such/path"),
])
def test_every_binding_raises_on_a_missing_path(call):
    with pytest.raises(nanscope.NanscopeError, match="no/such/path: no such file or directory"):
        call()


@pytest.mark.parametrize("binding,target", [
    (nanscope.scan_weights, UNET),
    (nanscope.check_video, UNET),
    (nanscope.check_poses, UNET),
    (nanscope.check_image, UNET),
    (nanscope.check_log, UNET),
    (nanscope.check_config, UNET),
    (nanscope.trace, UNET),
    (nanscope.scheduler, UNET),
    (nanscope.postmortem, UNET),
])
def test_every_binding_rejects_an_unknown_keyword(binding, target):
    with pytest.raises(TypeError, match="unexpected keyword argument 'no_such_option'"):
        binding(target, no_such_option=3)


def test_the_format_is_not_an_option():
    with pytest.raises(TypeError, match="'format'"):
        nanscope.scan_weights(UNET, format="json")
    with pytest.raises(TypeError):
        nanscope.rules("W101", fail_on="never")


def test_a_wrong_type_is_a_type_error_naming_the_option():
    with pytest.raises(TypeError, match=r"scan_weights\(\): all_tensors must be bool, not str"):
        nanscope.scan_weights(UNET, all_tensors="yes")
    with pytest.raises(TypeError, match=r"scheduler\(\): steps must be int, not str"):
        nanscope.scheduler(fixture("scheduler", "sd15.config.json"), steps="10")
    with pytest.raises(TypeError, match="paths must be"):
        nanscope.scan_weights(3)


def test_the_callers_keywords_are_left_alone():
    options = {"target_dtype": "bf16"}
    nanscope.scan_weights(UNET, **options)
    assert options == {"target_dtype": "bf16"}


def test_check_poses_honours_its_options():
    poses = fixture("pose", "echomimic_clean")
    report = nanscope.check_poses(poses, expect_frames=500, width=768, height=768)
    assert_same(report, "pose", "check", poses, "--expect-frames", "500", "--width", "768", "--height", "768")
    assert codes(report) != codes(nanscope.check_poses(poses))


def test_check_image_honours_its_options():
    image = fixture("image", "clean.png")
    report = nanscope.check_image(image, size=(512, 256))
    assert_same(report, "image", "check", image, "--size", "512x256")
    assert report["command"] == "image check"


def test_check_log_honours_its_options():
    log = fixture("log", "incident.log")
    report = nanscope.check_log(log, max_findings=1)
    assert report["command"] == "log check"
    assert_same(report, "log", "check", log, "--max-findings", "1")


def test_check_config_honours_its_options():
    configs = fixture("config", "echomimic", "configs")
    report = nanscope.check_config(configs, variant="acc", set={"steps": 30})
    assert report["command"] == "config check"
    assert_same(report, "config", "check", configs, "--variant", "acc", "--set", "steps=30")


def test_trace_honours_its_options():
    dump = fixture("trace", "planted-stats")
    report = nanscope.trace(dump, headroom=0.5, headroom_dtype="fp16")
    assert any(f["code"] == "R120" for f in report["findings"])
    assert_same(report, "trace", dump, "--headroom", "0.5", "--headroom-dtype", "fp16")
    with pytest.raises(nanscope.NanscopeError, match="headroom must be in"):
        nanscope.trace(dump, headroom=2.0)


def test_scheduler_honours_its_options():
    config = fixture("scheduler", "sd15.config.json")
    report = nanscope.scheduler(config, steps=10, space="pixel")
    assert_same(report, "scheduler", config, "--steps", "10", "--space", "pixel")
    with pytest.raises(nanscope.NanscopeError, match="steps must be 1 or more"):
        nanscope.scheduler(config, steps=0)


def test_rules_lists_and_explains():
    assert_same(nanscope.rules(), "rules")
    one = nanscope.rules("W101")
    assert_same(one, "rules", "W101")


def test_postmortem_returns_the_verdict():
    run = fixture("postmortem", "healthy")
    report = nanscope.postmortem(run, fps=24.0)
    assert report["command"] == "postmortem"
    assert "verdict" in json.dumps(report)
    assert_same(report, "postmortem", run, "--fps", "24")


@needs_ffmpeg
def test_check_video_honours_its_options(tmp_path):
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=64x48:rate=8:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)],
                   check=True)
    report = nanscope.check_video(clip, expect_frames=20, expect_audio=True)
    assert report["command"] == "video check"
    assert codes(report) != codes(nanscope.check_video(clip))
    assert_same(report, "video", "check", str(clip), "--expect-frames", "20", "--expect-audio")
