"""The bindings: each runs a nanscope command in this process, through the
compiled extension, and returns its JSON report as a dictionary (the same
document `nanscope COMMAND --format json` writes; docs/design.md describes it).

Keyword options are the command's long options with `_` for `-`:
`scan_weights(["model.safetensors"], overflow_dtype="fp16")` runs
`nanscope weights model.safetensors --overflow-dtype fp16`. `True` passes a
flag, `False`/`None` leave it out, a list or tuple repeats the option once per
value. The work runs without the GIL.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import json

PathLike = Union[str, "os.PathLike[str]"]
Report = Dict[str, Any]


class NanscopeError(RuntimeError):
    """nanscope could not do its job (exit code 2): a missing path, bad
    options, an unwritable output. `message` is the error nanscope printed."""

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


def _paths(paths: Union[PathLike, Iterable[PathLike]]) -> List[str]:
    if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
        return [os.fsdecode(os.fspath(paths))]
    return [os.fsdecode(os.fspath(p)) for p in paths]


def _value(value: Any) -> str:
    if hasattr(value, "__fspath__"):
        return os.fsdecode(os.fspath(value))
    return str(value)


def _options(options: Dict[str, Any]) -> List[str]:
    argv: List[str] = []
    for key, value in options.items():
        if key in ("format", "output", "o"):
            raise TypeError(f"{key!r} is chosen by the binding (the report comes back as a dictionary)")
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                argv += [flag, _value(item)]
        else:
            argv += [flag, _value(value)]
    return argv


class _CapturedStderr:
    """Collects what the extension writes on file descriptor 2 (its error
    line) so that it can become the exception's message."""

    def __enter__(self) -> "_CapturedStderr":
        self.text = ""
        try:
            sys.stderr.flush()
        except Exception:  # pragma: no cover
            pass
        self._file = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc: Any) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode("utf-8", "replace")
        self._file.close()


def run_cli(argv: Sequence[str]) -> int:
    """Runs the command line (`argv` without the program name) in this
    process, as the `nanscope` command does, and returns its exit code."""
    return int(_native().run_cli(["nanscope", *[_value(a) for a in argv]]))


def _report(argv: List[str]) -> Report:
    native = _native()
    with tempfile.TemporaryDirectory(prefix="nanscope-") as tmp:
        out = os.path.join(tmp, "report.json")
        full = ["nanscope", *argv, "--format", "json", "--no-progress", "--color", "never", "-o", out]
        with _CapturedStderr() as err:
            code = int(native.run_cli(full))
        if code not in (0, 1) or not os.path.exists(out):
            lines = [line for line in err.text.splitlines() if line.strip()]
            message = "\n".join(lines) or f"nanscope {argv[0]} exited with code {code}"
            raise NanscopeError(message.replace("nanscope: error: ", "", 1), code)
        if err.text.strip():
            sys.stderr.write(err.text)
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def scan_weights(paths: Union[PathLike, Iterable[PathLike]], **options: Any) -> Report:
    """Scans checkpoints (safetensors, PyTorch, NumPy, GGUF, quantized
    schemes) for NaN/Inf, overflow and other hazards: `nanscope weights`."""
    return _report(["weights", *_paths(paths), *_options(options)])


def check_video(paths: Union[PathLike, Iterable[PathLike]], **options: Any) -> Report:
    """Diagnoses video files (containers, streams, black/blank/frozen/NaN-cast
    frames): `nanscope video check`. Needs ffmpeg/ffprobe 5.1+ on PATH."""
    return _report(["video", "check", *_paths(paths), *_options(options)])


def check_poses(paths: Union[PathLike, Iterable[PathLike]], **options: Any) -> Report:
    """Checks pose sequences (EchoMimicV2 .npy folders, OpenPose JSON):
    `nanscope pose check`."""
    return _report(["pose", "check", *_paths(paths), *_options(options)])


def check_image(paths: Union[PathLike, Iterable[PathLike]], **options: Any) -> Report:
    """Checks reference images (PNG, JPEG, WebP, BMP, TIFF, image tensors)
    before a generation reads them: `nanscope image check`. Raises
    `NanscopeError` when this build has no `image` command."""
    return _report(["image", "check", *_paths(paths), *_options(options)])


def trace(dump: PathLike, **options: Any) -> Report:
    """Names the module and step that first produced NaN/Inf in a dump folder
    written by `nanscope.probe`: `nanscope trace`."""
    return _report(["trace", *_paths(dump), *_options(options)])


def scheduler(config: PathLike, **options: Any) -> Report:
    """Checks a diffusers `scheduler_config.json` and computes its schedule:
    `nanscope scheduler`."""
    return _report(["scheduler", *_paths(config), *_options(options)])


def rules(code: Optional[str] = None, **options: Any) -> Report:
    """The rule catalogue, or one rule explained when `code` (`W101`) or a
    slug is given: `nanscope rules`."""
    return _report(["rules", *([code] if code else []), *_options(options)])
