"""`nanscope.probe`: the module, its shim at the old path, and
`python -m nanscope.probe run SCRIPT` on unmodified diffusers scripts."""

import json
import os
import subprocess
import sys

import nanscope
from conftest import REPO, SCRIPTS, needs_diffusers, needs_torch, run_probe


def records(folder):
    with open(os.path.join(folder, "records.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@needs_torch
def test_the_old_path_is_the_same_module():
    code = ("import sys; sys.path.insert(0, %r); import nanscope_probe, nanscope.probe; "
            "assert nanscope_probe is nanscope.probe; print(nanscope_probe.FORMAT_NAME)") % os.path.join(REPO, "python")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "nanscope-dump"


@needs_torch
def test_the_probes_own_checks_pass():
    out = subprocess.run([sys.executable, os.path.join(REPO, "python", "test_nanscope_probe.py")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr


@needs_diffusers
def test_an_unmodified_diffusers_script_is_recorded_step_by_step(tmp_path):
    dump = tmp_path / "dump"
    out = run_probe("ddpm_tiny.py", dump, "--steps", "3")
    assert out.returncode == 0, out.stderr
    assert "images (1, 16, 16, 3)" in out.stdout  # the script ran as usual
    manifest = json.loads((dump / "manifest.json").read_text())
    assert manifest["complete"] and manifest["writer"]["name"] == "nanscope.probe"
    recs = records(dump)
    assert {r["module"] for r in recs if r.get("boundary") and r["module"] == "unet"} == {"unet"}
    latents = [r for r in recs if r["module"] == "latents"]
    assert [r["step"] for r in latents] == [0, 1, 2]
    assert all(r["stage"] == "scheduler" for r in latents)
    assert {r["step"] for r in recs if r["module"] == "unet"} == {0, 1, 2}
    # DDPM's three steps over 50 training steps: the UNet's timestep argument.
    assert [r["timestep"] for r in recs if r["module"] == "unet"] == [32.0, 16.0, 0.0]
    report = nanscope.trace(dump)
    assert not [f for f in report["findings"] if f["severity"] == "error"]


@needs_diffusers
def test_trace_names_the_planted_module_of_a_recorded_script(tmp_path):
    dump = tmp_path / "dump"
    out = run_probe("ddpm_tiny.py", dump, "--plant-inf")
    assert out.returncode == 0, out.stderr
    report = nanscope.trace(dump)
    producer = [f for f in report["findings"] if f["code"] == "R120"]
    assert producer, report["findings"]
    assert producer[0]["subject"]["module"] == "unet.up_blocks.0.resnets.0.conv1"
    assert producer[0]["subject"]["step"] == 0


@needs_diffusers
def test_an_echomimic_style_pipeline_records_each_network(tmp_path):
    dump = tmp_path / "dump"
    out = run_probe("echomimic_like.py", dump)
    assert out.returncode == 0, out.stderr
    recs = records(dump)
    roots = {r["module"].split(".")[0] for r in recs}
    assert {"denoising_unet", "reference_unet", "pose_guider", "vae", "latents"} <= roots
    assert sorted({r["step"] for r in recs if r["module"] == "latents"}) == [0, 1]
    # Every later call of the pipeline gets its own folder.
    assert (tmp_path / "dump-2" / "manifest.json").exists()


@needs_diffusers
def test_a_script_that_calls_no_pipeline_exits_2(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text("print('no pipeline here')\n")
    out = subprocess.run([sys.executable, "-m", "nanscope.probe", "run", "--out", str(tmp_path / "d"), str(script)],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "no pipeline call was recorded" in out.stderr


@needs_diffusers
def test_a_module_is_run_as_python_m_runs_it(tmp_path):
    # `-m MODULE ARGS…`, from the folder that holds it, as a server is started
    # (`-m uvicorn api:app`): here the tiny DDPM script, imported as a module.
    dump = tmp_path / "dump"
    out = subprocess.run(
        [sys.executable, "-m", "nanscope.probe", "run", "--out", str(dump), "-m", "ddpm_tiny", "--steps", "2"],
        capture_output=True, text=True, timeout=600, cwd=SCRIPTS,
    )
    assert out.returncode == 0, out.stderr
    assert "images (1, 16, 16, 3)" in out.stdout
    assert sorted({r["step"] for r in records(dump) if r["module"] == "latents"}) == [0, 1]
    missing = subprocess.run([sys.executable, "-m", "nanscope.probe", "run", "--out", str(tmp_path / "d")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "give SCRIPT, or -m MODULE" in missing.stderr
