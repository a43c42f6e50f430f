"""The compiled extension (Rust, PyO3, abi3). Use the wrappers in `nanscope`."""

import os
from typing import List, Optional, Union

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
