"""nanscope finds where a video-generation pipeline's numbers went wrong.

- `scan_weights`, `check_video`, `check_poses`, `check_image`, `check_log`,
  `check_config`, `trace`, `scheduler`, `rules`, `postmortem`: the commands'
  reports as dictionaries (the JSON contract of docs/design.md), from the
  library itself; `NanscopeError` (a `RuntimeError`) when a command cannot run;
- `nanscope.probe`: record a dump of every module output of a PyTorch run
  (`python -m nanscope.probe run SCRIPT …` for an unmodified script);
- `nanscope.guard`: `save_video` that never turns NaN into black silently,
  `assert_finite`, `raise_on_nonfinite`;
- `bisect`: the modules to keep in higher precision so that the rest can be
  quantized, found inside your own pipeline.

The `nanscope` command installed with the package is the same program.
Only the bindings need the compiled extension; `probe`, `guard` (except
`save_video`) and `bisect` need torch.
"""

from __future__ import annotations

from typing import Any

from ._bisect import BisectResult, bisect
from ._api import (
    NanscopeError,
    check_config,
    check_image,
    check_log,
    check_poses,
    check_video,
    postmortem,
    rules,
    run_cli,
    scan_weights,
    scheduler,
    trace,
)

__all__ = [
    "BisectResult",
    "NanscopeError",
    "bisect",
    "check_config",
    "check_image",
    "check_log",
    "check_poses",
    "check_video",
    "postmortem",
    "rules",
    "run_cli",
    "scan_weights",
    "scheduler",
    "trace",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        try:
            from ._nanscope import __version__ as version
        except ImportError:
            version = "0+source"
        return version
    if name in ("probe", "guard"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
