"""Guards against NaN/Inf where a pipeline would hide them.

- `save_video`: a drop-in for EchoMimicV2's `save_videos_grid` that never
  turns NaN into black silently. `(x * 255).numpy().astype(np.uint8)` casts
  NaN to 0 (a black pixel) without a word; here the frames holding non-finite
  values are reported (a `NonFiniteFramesWarning` and the returned summary)
  and filled as `nanscope video encode` fills them (interpolated in time
  between clean frames), by the same Rust encoder.
- `assert_finite(tensor, name)`: raises `NonFiniteError` naming the tensor,
  its counts and the first bad index.
- `raise_on_nonfinite(target)`: a context manager that raises
  `NonFiniteError` at the first module output holding NaN/Inf, with the
  module's name, the denoising step and the index of the first bad element.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

__all__ = [
    "NonFiniteError",
    "NonFiniteFramesWarning",
    "assert_finite",
    "raise_on_nonfinite",
    "save_video",
]


class NonFiniteError(FloatingPointError):
    """A tensor (or a module's output) holds NaN or Inf. `name`, `module`,
    `step`, `index` (the first bad element, one number per axis), `nan`,
    `pos_inf`, `neg_inf` and `count` say where and how much."""

    def __init__(
        self,
        name: str,
        *,
        nan: int,
        pos_inf: int,
        neg_inf: int,
        count: int,
        index: Optional[Tuple[int, ...]],
        shape: Tuple[int, ...],
        module: Optional[str] = None,
        step: Optional[int] = None,
        output: Optional[str] = None,
    ) -> None:
        self.name = name
        self.module = module
        self.step = step
        self.output = output
        self.nan, self.pos_inf, self.neg_inf, self.count = nan, pos_inf, neg_inf, count
        self.index = index
        self.shape = shape
        where = name if module is None else f"module {module}" + (f" (output {output})" if output else "")
        at_step = "" if step is None else f" at step {step}"
        verb = "holds" if module is None else "produced"
        super().__init__(
            f"{where} {verb} non-finite values{at_step}: {nan} NaN, {pos_inf} +Inf, {neg_inf} -Inf of "
            f"{count}; first at index {list(index) if index is not None else None} of shape {list(shape)}"
        )


class NonFiniteFramesWarning(UserWarning):
    """`save_video` met frames holding NaN/Inf and filled them."""


def _is_tensor(x: Any) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(x, torch.Tensor)


def _counts(x: Any) -> Tuple[int, int, int, int, Optional[Tuple[int, ...]], Tuple[int, ...]]:
    """(nan, +inf, -inf, count, first bad index, shape) of a tensor or array."""
    if _is_tensor(x):
        import torch

        t = x.detach()
        shape = tuple(t.shape)
        if not (t.is_floating_point() or t.is_complex()) or t.numel() == 0:
            return 0, 0, 0, t.numel(), None, shape
        finite = torch.isfinite(t)
        if bool(finite.all()):
            return 0, 0, 0, t.numel(), None, shape
        nan = int(torch.isnan(t).sum())
        pinf = int(torch.isposinf(t).sum()) if not t.is_complex() else 0
        ninf = int(torch.isneginf(t).sum()) if not t.is_complex() else 0
        flat = int((~finite).reshape(-1).to(torch.uint8).argmax())
        index = tuple(int(i) for i in _unravel(flat, shape))
        return nan, pinf, ninf, t.numel(), index, shape
    import numpy as np

    a = np.asarray(x)
    shape = tuple(a.shape)
    if a.dtype.kind not in "fc" or a.size == 0:
        return 0, 0, 0, int(a.size), None, shape
    finite = np.isfinite(a)
    if finite.all():
        return 0, 0, 0, int(a.size), None, shape
    real = a.real if a.dtype.kind == "c" else a
    flat = int(np.argmax(~finite.reshape(-1)))
    return (int(np.isnan(a).sum()), int(np.isposinf(real).sum()), int(np.isneginf(real).sum()), int(a.size),
            tuple(int(i) for i in _unravel(flat, shape)), shape)


def _unravel(flat: int, shape: Sequence[int]) -> List[int]:
    index = []
    for size in reversed(shape):
        index.append(flat % size if size else 0)
        flat = flat // size if size else 0
    return list(reversed(index))


def assert_finite(tensor: Any, name: str = "tensor") -> None:
    """Raises `NonFiniteError` when `tensor` (a torch tensor or anything NumPy
    reads) holds NaN or Inf; integer tensors always pass."""
    nan, pinf, ninf, count, index, shape = _counts(tensor)
    if nan or pinf or ninf:
        raise NonFiniteError(name, nan=nan, pos_inf=pinf, neg_inf=ninf, count=count, index=index, shape=shape)


class raise_on_nonfinite:
    """Raises `NonFiniteError` at the first module output holding NaN/Inf.

    `target` is a `torch.nn.Module` or a pipeline (an object whose attributes
    are modules, as diffusers' and EchoMimicV2's pipelines are): every module
    of it is hooked, so the innermost module that produced the values is the
    one named (its children run, and are checked, before it returns). The
    step is the number of completed calls of the pipeline scheduler's
    `step` (a pipeline with a `scheduler`), else of calls of `target`'s
    root modules; `step(i)` sets it explicitly. Hooks are removed on exit.
    """

    def __init__(self, target: Any, *, inputs: bool = False) -> None:
        self.target = target
        self.check_inputs = inputs
        self.step_index = 0
        self._handles: List[Any] = []
        self._scheduler = None
        self._scheduler_step = None

    def step(self, i: int) -> "raise_on_nonfinite":
        self.step_index = int(i)
        return self

    def _roots(self) -> List[Tuple[str, Any]]:
        import torch

        if isinstance(self.target, torch.nn.Module):
            return [("", self.target)]
        roots = []
        for attr, value in sorted(vars(self.target).items()):
            if isinstance(value, torch.nn.Module):
                roots.append((attr, value))
        if not roots:
            raise TypeError("raise_on_nonfinite needs a torch.nn.Module or an object holding modules")
        return roots

    def _check(self, value: Any, module: str, output: Optional[str]) -> None:
        if _is_tensor(value):
            nan, pinf, ninf, count, index, shape = _counts(value)
            if nan or pinf or ninf:
                raise NonFiniteError(module, nan=nan, pos_inf=pinf, neg_inf=ninf, count=count, index=index,
                                     shape=shape, module=module, step=self.step_index, output=output)
        elif isinstance(value, dict):
            for k, v in value.items():
                if _is_tensor(v):
                    self._check(v, module, str(k))
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                if _is_tensor(v):
                    self._check(v, module, str(i))

    def __enter__(self) -> "raise_on_nonfinite":
        roots = self._roots()
        counts_steps = True
        scheduler = getattr(self.target, "scheduler", None)
        if scheduler is not None and callable(getattr(scheduler, "step", None)):
            counts_steps = False
            self._scheduler = scheduler
            self._scheduler_step = scheduler.__dict__.get("step")
            bound = scheduler.step

            def step(*args: Any, **kwargs: Any) -> Any:
                out = bound(*args, **kwargs)
                self.step_index += 1
                return out

            scheduler.step = step
        for prefix, root in roots:
            for name, module in root.named_modules():
                full = ".".join(p for p in (prefix, name) if p) or type(root).__name__
                self._handles.append(module.register_forward_hook(self._hook(full)))
                if self.check_inputs and module is root:
                    self._handles.append(module.register_forward_pre_hook(self._pre_hook(full)))
            if counts_steps:
                self._handles.append(root.register_forward_hook(self._count))
        return self

    def _hook(self, name: str) -> Any:
        def hook(module: Any, args: Any, output: Any) -> None:
            self._check(output, name, None)

        return hook

    def _pre_hook(self, name: str) -> Any:
        def hook(module: Any, args: Any) -> None:
            self._check(tuple(args), f"{name} (input)", None)

        return hook

    def _count(self, module: Any, args: Any, output: Any) -> None:
        self.step_index += 1

    def __exit__(self, *exc: Any) -> bool:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self._scheduler is not None:
            if self._scheduler_step is None:
                self._scheduler.__dict__.pop("step", None)
            else:
                self._scheduler.step = self._scheduler_step
            self._scheduler = None
        return False


def _grid(videos: Any, n_rows: int) -> Any:
    """(c, t, H, W) float32 frames of a (b, c, t, h, w) batch tiled as
    torchvision's `make_grid(nrow=n_rows, padding=2)` tiles each time step
    (a single video is not padded)."""
    import numpy as np

    b, c, t, h, w = videos.shape
    if c == 1:
        videos = np.concatenate([videos] * 3, axis=1)
        c = 3
    if b == 1:
        return videos[0]
    pad = 2
    xmaps = min(n_rows, b)
    ymaps = int(math.ceil(b / xmaps))
    cell_h, cell_w = h + pad, w + pad
    grid = np.zeros((c, t, cell_h * ymaps + pad, cell_w * xmaps + pad), dtype=np.float32)
    for k in range(b):
        y, x = divmod(k, xmaps)
        grid[:, :, y * cell_h + pad : y * cell_h + pad + h, x * cell_w + pad : x * cell_w + pad + w] = videos[k]
    return grid


def save_video(
    videos: Any,
    path: Union[str, "os.PathLike[str]"],
    audio_path: Optional[Union[str, "os.PathLike[str]"]] = None,
    rescale: bool = False,
    n_rows: int = 6,
    fps: float = 8,
    *,
    audio: Optional[Union[str, "os.PathLike[str]"]] = None,
    fill: str = "interpolate",
    crf: int = 18,
    warn: bool = True,
) -> Dict[str, Any]:
    """Writes `videos` (b, c, t, h, w), values in [0, 1] (or [-1, 1] with
    `rescale=True`), as H.264 yuv420p at `path`, as EchoMimicV2's
    `save_videos_grid(videos, path, audio_path, rescale, n_rows, fps)` does,
    with the same arguments in the same order, but:

    - NaN/Inf pixels are filled (`fill`: `interpolate` in time between clean
      frames, `hold` the previous frame, or `zero`), never cast to black
      silently: frames that held any are listed in the result and a
      `NonFiniteFramesWarning` names them (unless `warn=False`);
    - values are clamped and rounded to 8 bits, not wrapped and truncated;
    - `audio` (or `audio_path`) is muxed as AAC, trimmed to the video.

    Several videos are tiled as `make_grid(nrow=n_rows, padding=2)` tiles
    them. Needs ffmpeg 5.1+ on PATH. Returns the report of `nanscope video
    encode` as a dictionary (`findings`; `encode`: output, size, range, fill;
    `frames`: each frame's NaN/+Inf/-Inf counts; `streams`) with
    `nonfinite_frames`, the indices of the frames that were filled, added.
    Raises `NanscopeError` when the video cannot be written.
    """
    import numpy as np

    from ._api import NanscopeError, _native

    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() == ".gif":
        raise ValueError("save_video writes H.264 (.mp4, .mkv, .mov); GIF is not supported")
    if audio is not None and audio_path is not None:
        raise TypeError("pass audio or audio_path, not both")
    audio = audio if audio is not None else audio_path
    if _is_tensor(videos):
        array = videos.detach().to("cpu").float().numpy()
    else:
        array = np.asarray(videos, dtype=np.float32)
    if array.ndim == 4:
        array = array[None]
    if array.ndim != 5:
        raise ValueError(f"videos must be (b, c, t, h, w), got shape {list(array.shape)}")
    if array.shape[1] not in (1, 3, 4):
        raise ValueError(f"videos must be (b, c, t, h, w) with 1, 3 or 4 channels, got shape {list(array.shape)}")
    frames = np.ascontiguousarray(_grid(array.astype(np.float32, copy=False), int(n_rows)))
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nanscope-video-") as tmp:
        tensor = os.path.join(tmp, "videos.npy")
        np.save(tensor, frames)
        try:
            doc = json.loads(
                _native().encode_video(
                    tensor,
                    path,
                    float(fps),
                    audio=None if audio is None else os.fspath(audio),
                    layout_name="cfhw",
                    range="-1-1" if rescale else "0-1",
                    fill_name=fill,
                    crf=int(crf),
                    label="videos",
                )
            )
        except RuntimeError as err:
            raise NanscopeError(str(err)) from None
    bad = [f["index"] for f in doc.get("frames", []) if f["nan"] + f["pos_inf"] + f["neg_inf"] > 0]
    doc["nonfinite_frames"] = bad
    if bad and warn:
        shown = ", ".join(str(i) for i in bad[:20]) + (" …" if len(bad) > 20 else "")
        warnings.warn(
            NonFiniteFramesWarning(
                f"{len(bad)} of {len(doc.get('frames', []))} frames held NaN/Inf (frames {shown}); filled by "
                f"{fill} in {path}"
            ),
            stacklevel=2,
        )
    return doc
