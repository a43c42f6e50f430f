"""The bindings: each calls nanscope's library in this process, through the
compiled extension, and returns the command's report as a dictionary (the
same document `nanscope COMMAND --format json` writes; docs/design.md
describes it). Nothing goes through the command line or JSON text.

Keyword options are the command's long options with `_` for `-`, with
Python values: `scan_weights(["model.safetensors"], target_dtype="bf16",
all_tensors=True)` is `nanscope weights model.safetensors --target-dtype bf16
--all-tensors`. An unknown keyword, or a value of the wrong type, raises
`TypeError` naming it; a value outside the option's choices raises
`ValueError`. A command that cannot run (a missing path, nothing to check, a
refused option value) raises `NanscopeError`. The work runs without the GIL.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, Optional, Sequence, Union

PathLike = Union[str, "os.PathLike[str]"]
Paths = Union[PathLike, Iterable[PathLike]]
Report = Dict[str, Any]


class NanscopeError(RuntimeError):
    """nanscope could not do its job (the command line's exit code 2): a
    missing path, nothing to check, a refused option value, an unwritable
    output. A subclass of `RuntimeError`; `message` is nanscope's error, as
    the command line prints it after `nanscope: error:`."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _native():
    try:
        from . import _nanscope
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ImportError(
            "nanscope's compiled extension is missing: install the package (`pip install .` in the "
            "repository, or the wheel) instead of importing it from the source tree"
        ) from err
    return _nanscope


def _value(value: Any) -> str:
    if hasattr(value, "__fspath__"):
        return os.fsdecode(os.fspath(value))
    return str(value)


def run_cli(argv: Sequence[str]) -> int:
    """Runs the command line (`argv` without the program name) in this
    process, as the `nanscope` command does, and returns its exit code."""
    return int(_native().run_cli(["nanscope", *[_value(a) for a in argv]]))


def scan_weights(paths: Paths, **options: Any) -> Report:
    """Scans checkpoints (safetensors, PyTorch, NumPy, GGUF, quantized
    schemes) for NaN/Inf, overflow and other hazards: `nanscope weights`.

    Options: `target_dtype` ("fp16", "bf16", "none"), `underflow_share`
    (float), `range_ratio` (float), `all_tensors` (bool), `shard` ("I/N")."""
    return _native().scan_weights(paths, **options)


def check_video(paths: Paths, **options: Any) -> Report:
    """Diagnoses video files (containers, streams, black/blank/frozen/NaN-cast
    frames): `nanscope video check`. Needs ffmpeg/ffprobe 5.1+ on PATH.

    Options: the thresholds `black_level`, `black_share`, `white_level`,
    `blank_std`, `freeze_diff`, `freeze_min_seconds`, `jump_luma`,
    `nan_share` (floats); `expect_audio` (bool), `expect_frames` (int),
    `expect_fps`, `av_tolerance` (floats); `threads` (int),
    `full_resolution` (bool), `plot` (folder), `shard` ("I/N")."""
    return _native().check_video(paths, **options)


def check_poses(paths: Paths, **options: Any) -> Report:
    """Checks pose sequences (EchoMimicV2 .npy folders, OpenPose JSON):
    `nanscope pose check`.

    Options: `width`, `height` (ints), `source_size` ((w, h)),
    `canvas_tolerance`, `max_score`, `jump_threshold`, `min_jump` (floats),
    `expect_frames` (int), `audio` (path), `fps` (float), `all_frames`
    (bool), `shard` ("I/N")."""
    return _native().check_poses(paths, **options)


def check_image(paths: Paths, **options: Any) -> Report:
    """Checks reference images (PNG, JPEG, WebP, BMP, TIFF, image tensors)
    before a generation reads them: `nanscope image check`.

    Options: `size` ((w, h)), `aspect_tolerance`, `blank_std`,
    `black_share`, `clip_share` (floats), `range` ("auto", "0-1", "-1-1",
    "0-255", "0-65535"), `max_pixels` (int), `plot` (folder)."""
    return _native().check_image(paths, **options)


def check_log(paths: Paths, **options: Any) -> Report:
    """Finds the signatures of a failed generation in server and inference
    logs (text, JSON lines, gzip): `nanscope log check`.

    Options: `max_findings` (int, findings kept per rule and file)."""
    return _native().check_log(paths, **options)


def check_config(paths: Paths, **options: Any) -> Report:
    """Checks EchoMimicV2 inference YAML, diffusers `model_index.json` and
    scheduler configurations: `nanscope config check`.

    Options: `root` (folder the weight paths are relative to), `variant`
    ("normal", "acc"), `pose_size` ((w, h)), `set` (dict of run parameter to
    number, as `--set KEY=VALUE`)."""
    return _native().check_config(paths, **options)


def trace(dump: PathLike, **options: Any) -> Report:
    """Names the module and step that first produced NaN/Inf in a dump folder
    written by `nanscope.probe`: `nanscope trace`.

    Options: `headroom` (float), `headroom_dtype` ("auto", "fp16", "bf16"),
    `headroom_top` (int), `allow_neg_inf` (list of module globs),
    `recompute_stats` (bool), `plot` (folder)."""
    return _native().trace(dump, **options)


def scheduler(config: PathLike, **options: Any) -> Report:
    """Checks a diffusers `scheduler_config.json` and computes its schedule:
    `nanscope scheduler`.

    Options: `steps` (int), `space` ("latent", "pixel"), `model_prediction`
    ("epsilon", "v_prediction", "sample")."""
    return _native().scheduler(config, **options)


def rules(code: Optional[str] = None) -> Report:
    """The rule catalogue, or one rule explained when `code` (`W101`) or a
    slug is given: `nanscope rules`."""
    return _native().rules(code)


def postmortem(paths: Paths, **options: Any) -> Report:
    """Runs every check that applies to a run folder and returns one
    verdict: `nanscope postmortem`.

    Options: `fps` (float, the frame rate poses are held against the audio
    at; by default the one the run's config or workflow states, else 24)."""
    return _native().postmortem(paths, **options)
