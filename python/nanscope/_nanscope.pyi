"""The compiled extension (Rust, PyO3, abi3). Use the wrappers in `nanscope`."""

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

__version__: str

def run_cli(args: List[Union[str, os.PathLike[str]]]) -> int:
    """Runs the command line on `args` (program name first) in this process,
    without the GIL; returns the exit code (0 clean, 1 findings, 2 failure)."""

def encode_video(
    input: Union[str, os.PathLike[str]],
    output: Union[str, os.PathLike[str]],
    fps: float,
    *,
    audio: Optional[Union[str, os.PathLike[str]]] = None,
    layout_name: Optional[str] = None,
    range: Optional[str] = None,
    fill_name: str = "interpolate",
    crf: int = 18,
    label: Optional[str] = None,
) -> str:
    """Encodes a saved video tensor as `nanscope video encode` does and
    returns that command's JSON report. Raises RuntimeError when the encode
    cannot run (ffmpeg missing, bad tensor, unwritable output)."""

# The report bindings: each calls `nanscope::commands` with options built
# from the keyword arguments (unknown keyword or wrong type: TypeError;
# value outside the choices: ValueError) and returns the report as Python
# objects. A command that cannot run raises nanscope.NanscopeError.
# `nanscope._api` documents each option.

_Path = Union[str, os.PathLike[str]]
_Paths = Union[_Path, Sequence[_Path]]
_Report = Dict[str, Any]

def scan_weights(
    paths: _Paths,
    *,
    target_dtype: Optional[str] = ...,
    underflow_share: Optional[float] = ...,
    range_ratio: Optional[float] = ...,
    all_tensors: Optional[bool] = ...,
    shard: Optional[str] = ...,
) -> _Report: ...
def check_video(
    paths: _Paths,
    *,
    black_level: Optional[float] = ...,
    black_share: Optional[float] = ...,
    white_level: Optional[float] = ...,
    blank_std: Optional[float] = ...,
    freeze_diff: Optional[float] = ...,
    freeze_min_seconds: Optional[float] = ...,
    jump_luma: Optional[float] = ...,
    nan_share: Optional[float] = ...,
    expect_audio: Optional[bool] = ...,
    expect_frames: Optional[int] = ...,
    expect_fps: Optional[float] = ...,
    av_tolerance: Optional[float] = ...,
    threads: Optional[int] = ...,
    full_resolution: Optional[bool] = ...,
    plot: Optional[_Path] = ...,
    shard: Optional[str] = ...,
) -> _Report: ...
def check_poses(
    paths: _Paths,
    *,
    width: Optional[int] = ...,
    height: Optional[int] = ...,
    source_size: Optional[Tuple[int, int]] = ...,
    canvas_tolerance: Optional[float] = ...,
    max_score: Optional[float] = ...,
    jump_threshold: Optional[float] = ...,
    min_jump: Optional[float] = ...,
    expect_frames: Optional[int] = ...,
    audio: Optional[_Path] = ...,
    fps: Optional[float] = ...,
    all_frames: Optional[bool] = ...,
    shard: Optional[str] = ...,
) -> _Report: ...
def check_image(
    paths: _Paths,
    *,
    size: Optional[Tuple[int, int]] = ...,
    aspect_tolerance: Optional[float] = ...,
    blank_std: Optional[float] = ...,
    black_share: Optional[float] = ...,
    clip_share: Optional[float] = ...,
    range: Optional[str] = ...,
    max_pixels: Optional[int] = ...,
    plot: Optional[_Path] = ...,
) -> _Report: ...
def check_log(paths: _Paths, *, max_findings: Optional[int] = ...) -> _Report: ...
def check_config(
    paths: _Paths,
    *,
    root: Optional[_Path] = ...,
    variant: Optional[str] = ...,
    pose_size: Optional[Tuple[int, int]] = ...,
    set: Optional[Dict[str, float]] = ...,
) -> _Report: ...
def trace(
    dump: _Path,
    *,
    headroom: Optional[float] = ...,
    headroom_dtype: Optional[str] = ...,
    headroom_top: Optional[int] = ...,
    allow_neg_inf: Optional[List[str]] = ...,
    recompute_stats: Optional[bool] = ...,
    plot: Optional[_Path] = ...,
) -> _Report: ...
def scheduler(
    config: _Path,
    *,
    steps: Optional[int] = ...,
    space: Optional[str] = ...,
    model_prediction: Optional[str] = ...,
) -> _Report: ...
def rules(code: Optional[str] = ...) -> _Report: ...
def postmortem(paths: _Paths, *, fps: Optional[float] = ...) -> _Report: ...
