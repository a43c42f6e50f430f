"""Shared helpers of the Python test suite (run by scripts/test.sh against
the installed wheel; `pytest python/tests`)."""

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "fixtures")
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts")


def has(module):
    return importlib.util.find_spec(module) is not None


needs_torch = pytest.mark.skipif(not has("torch"), reason="needs torch")
needs_diffusers = pytest.mark.skipif(not (has("torch") and has("diffusers")), reason="needs torch and diffusers")
needs_torchao = pytest.mark.skipif(not (has("torch") and has("torchao") and has("diffusers")),
                                   reason="needs torch, torchao and diffusers")
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                  reason="needs ffmpeg and ffprobe")


def fixture(*parts):
    return os.path.join(FIXTURES, *parts)


def run_probe(script, out, *args):
    """`python -m nanscope.probe run --out OUT SCRIPT ARGS…` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "nanscope.probe", "run", "--out", str(out), os.path.join(SCRIPTS, script), *args],
        capture_output=True, text=True, timeout=600,
    )
