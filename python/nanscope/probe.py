"""Record every module output of a PyTorch pipeline into a nanscope dump folder.

    from nanscope.probe import attach

    probe = attach(pipe.unet, "dump", prefix="unet")
    attach(pipe.vae, "dump", prefix="vae")          # same folder: same writer
    probe.step(0)
    ...                                             # run the pipeline
    probe.close()

then `nanscope trace dump` names the module and step that first produced
NaN/Inf. The folder layout is described in docs/dump-format.md: a
`manifest.json`, one JSON record per module output in `records.jsonl`, and at
levels `stages`/`all` one safetensors file per kept tensor under `tensors/`.

Statistics are computed on the tensor's device with a handful of torch
reductions. On the CPU they are read at once; on an accelerator each record's
numbers stay on the device and the records are copied to the host together,
at `step()`, every `FLUSH_RECORDS` records and at `close()`, so the stream
is not synchronised once per module. Inputs are measured in a forward
pre-hook, before the module runs, so in-place modules cannot hide a producer.
Only torch is needed; `safetensors` only for payload levels.
"""

import inspect
import json
import math
import os
import shutil
import weakref
from collections import OrderedDict

import torch

FORMAT_NAME = "nanscope-dump"
FORMAT_VERSION = 1
LEVELS = ("stats", "stages", "all")
PROBE_VERSION = "0.1.0"

# safetensors spellings of the dtypes a probe may meet.
_DTYPE_NAMES = {
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float32: "F32",
    torch.float64: "F64",
}
for _name, _code in (("float8_e4m3fn", "F8_E4M3"), ("float8_e5m2", "F8_E5M2")):
    if hasattr(torch, _name):
        _DTYPE_NAMES[getattr(torch, _name)] = _code

# One writer per folder, shared by every probe attached to it in this process.
_WRITERS = {}
# Recently measured tensors; a module's output is usually the next module's input.
_CACHE_SIZE = 64
# Records whose statistics may wait on the device before one host copy.
FLUSH_RECORDS = 1024
# Which tensors keep their statistics on the device until a flush: "auto"
# (every tensor not on the CPU), "always" (also CPU tensors) or "never".
# The environment variable NANSCOPE_PROBE_DEFER sets it at import.
DEFER = os.environ.get("NANSCOPE_PROBE_DEFER", "auto")
if DEFER not in ("auto", "always", "never"):
    raise ValueError(f"NANSCOPE_PROBE_DEFER must be auto, always or never, got {DEFER!r}")


def _dtype_name(dtype):
    return _DTYPE_NAMES.get(dtype, str(dtype).replace("torch.", "").upper())


def _finite_or_none(x):
    return x if x == x and x not in (float("inf"), float("-inf")) else None


def _is_float_tensor(x):
    return isinstance(x, torch.Tensor) and x.is_floating_point() and x.dtype in _DTYPE_NAMES


@torch.no_grad()
def tensor_stats(x):
    """Statistics of a floating tensor, with nanscope's names.

    The common case (every element finite) uses reductions that allocate no
    tensor-sized temporaries (sum, aminmax, vector_norm, count_nonzero) and one device
    sync; a tensor holding NaN/Inf, which the sum reveals, takes the masked
    path, slower but only run once a run has gone bad.
    """
    x = x.detach()
    n = x.numel()
    if n == 0:
        return {"count": 0, "nan": 0, "pos_inf": 0, "neg_inf": 0, "zero": 0, "subnormal": 0}
    flat = x.reshape(-1)
    copied = flat.dtype not in (torch.float32, torch.float64)
    xf = flat.float() if copied else flat
    tiny = torch.finfo(x.dtype).tiny
    total = xf.sum()
    lo, hi = torch.aminmax(xf)
    # A torch reduction rather than a BLAS dot: BLAS threads contend with torch's own.
    squares = torch.linalg.vector_norm(xf) ** 2
    nonzero = torch.count_nonzero(xf)
    # Last, because on a private float32 copy abs_ overwrites it in place.
    small = torch.count_nonzero((xf.abs_() if copied else xf.abs()) < tiny)
    total, lo, hi, squares, nonzero, small = torch.stack(
        [total.double(), lo.double(), hi.double(), squares.double(), nonzero.double(), small.double()]
    ).tolist()
    if not (math.isfinite(total) and math.isfinite(squares)):
        return _masked_stats(flat, flat.float() if copied else flat, n, tiny)
    mean = total / n
    var = max(squares / n - mean * mean, 0.0)
    if var < 1e-4 * mean * mean:
        # E[x^2] - mean^2 cancels when the spread is tiny next to the mean.
        var = float(torch.var(flat.double(), correction=0))
    zero = n - int(nonzero)
    return {
        "count": n,
        "nan": 0,
        "pos_inf": 0,
        "neg_inf": 0,
        "zero": zero,
        "subnormal": int(small) - zero,
        "min": lo,
        "max": hi,
        "absmax": max(abs(lo), abs(hi)),
        "mean": mean,
        "std": var**0.5,
        "first_nonfinite_flat": None,
    }


def _masked_stats(flat, xf, n, tiny):
    finite = torch.isfinite(xf)
    xf = torch.where(finite, xf, torch.zeros((), dtype=xf.dtype, device=xf.device))
    absx = xf.abs()
    absmax = absx.max()
    # Moments over finite values, scaled by absmax so squares cannot overflow.
    scale = torch.where(absmax > 0, absmax, torch.ones_like(absmax))
    scaled = xf / scale
    values = torch.stack(
        [
            torch.isnan(flat).sum().double(),
            torch.isposinf(flat).sum().double(),
            torch.isneginf(flat).sum().double(),
            (finite & (xf == 0)).sum().double(),
            (finite & (xf != 0) & (absx < tiny)).sum().double(),
            finite.sum().double(),
            torch.where(finite, xf, float("inf")).min().double(),
            torch.where(finite, xf, float("-inf")).max().double(),
            absmax.double(),
            scaled.sum(dtype=torch.float64),
            (scaled * scaled).sum(dtype=torch.float64),
            (~finite).to(torch.uint8).argmax().double(),
            scale.double(),
        ]
    ).tolist()
    *values, scale = values
    return stats_from_vector(values, n, scale)


@torch.no_grad()
def input_stats(x):
    """What the analysis needs of an input: its non-finite counts and magnitude."""
    flat = x.detach().reshape(-1)
    n = flat.numel()
    if n == 0:
        return {"count": 0, "nan": 0, "pos_inf": 0, "neg_inf": 0}
    xf = flat if flat.dtype in (torch.float32, torch.float64) else flat.float()
    lo, hi = torch.aminmax(xf)
    total, lo, hi = torch.stack([xf.sum().double(), lo.double(), hi.double()]).tolist()
    if math.isfinite(total):
        return {"count": n, "nan": 0, "pos_inf": 0, "neg_inf": 0, "absmax": max(abs(lo), abs(hi))}
    finite = torch.isfinite(xf)
    nan, pinf, ninf, amax = torch.stack(
        [
            torch.isnan(xf).sum().double(),
            torch.isposinf(xf).sum().double(),
            torch.isneginf(xf).sum().double(),
            torch.where(finite, xf.abs(), 0.0).max().double(),
        ]
    ).tolist()
    return {"count": n, "nan": int(nan), "pos_inf": int(pinf), "neg_inf": int(ninf), "absmax": amax}


@torch.no_grad()
def device_stats(x):
    """The statistics of `tensor_stats` as a float64 vector on the tensor's
    device, computed without reading anything back (no synchronisation):
    nan, +inf, -inf, zero, subnormal, finite count, min, max, absmax, sum and
    sum of squares of the finite values, first non-finite index.
    `stats_from_vector` turns it into the record's dictionary.
    """
    flat = x.detach().reshape(-1)
    if flat.numel() == 0:
        return torch.zeros(_VECTOR_LEN, dtype=torch.float64, device=flat.device)
    xf = flat if flat.dtype in (torch.float32, torch.float64) else flat.float()
    tiny = torch.finfo(x.dtype).tiny
    finite = torch.isfinite(xf)
    xz = torch.where(finite, xf, torch.zeros((), dtype=xf.dtype, device=xf.device))
    absx = xz.abs()
    n = flat.numel()
    finite_n = finite.sum()
    nan_n = torch.isnan(xf).sum()
    pinf_n = (xf == float("inf")).sum()
    zeros_z = (xz == 0).sum()  # true zeros plus the non-finite values replaced by 0
    below_tiny = (absx < tiny).sum()
    counts = torch.stack([nan_n, pinf_n, n - finite_n - nan_n - pinf_n, zeros_z - (n - finite_n),
                          below_tiny - zeros_z, finite_n]).double()
    extremes = torch.stack([torch.where(finite, xf, float("inf")).min(),
                            torch.where(finite, xf, float("-inf")).max(), absx.max()]).double()
    moments = torch.stack([xz.sum(dtype=torch.float64),
                           torch.linalg.vector_norm(xz, dtype=torch.float64) ** 2])
    first = (~finite).to(torch.uint8).argmax().double().reshape(1)
    return torch.cat([counts, extremes, moments, first])


_VECTOR_LEN = 12


def stats_from_vector(values, n, scale=1.0):
    """The dictionary of `tensor_stats` from `device_stats` numbers (a list);
    `scale` multiplies the moments, which were summed over values divided by it."""
    if n == 0:
        return {"count": 0, "nan": 0, "pos_inf": 0, "neg_inf": 0, "zero": 0, "subnormal": 0}
    nan, pinf, ninf, zero, sub, nfin, lo, hi, amax, s1, s2, first = values
    stats = {
        "count": n,
        "nan": int(nan),
        "pos_inf": int(pinf),
        "neg_inf": int(ninf),
        "zero": int(zero),
        "subnormal": int(sub),
        "min": None,
        "max": None,
        "absmax": None,
        "mean": None,
        "std": None,
        "first_nonfinite_flat": int(first) if nan + pinf + ninf > 0 else None,
    }
    if nfin > 0:
        mean = s1 / nfin
        var = max(s2 / nfin - mean * mean, 0.0)
        stats.update(min=_finite_or_none(lo), max=_finite_or_none(hi), absmax=_finite_or_none(amax),
                     mean=_finite_or_none(mean * scale), std=_finite_or_none(var**0.5 * scale))
    return stats


def _input_fields(stats):
    """What a record keeps of an input's statistics."""
    return {k: stats.get(k) for k in ("count", "nan", "pos_inf", "neg_inf", "absmax")}


class _Deferred:
    """A tensor's statistics still on its device; `stats` is filled by a flush."""

    __slots__ = ("vector", "count", "stats")

    def __init__(self, tensor):
        self.vector = device_stats(tensor)
        self.count = tensor.numel()
        self.stats = None


def _defers(tensor):
    return DEFER == "always" or (DEFER == "auto" and tensor.device.type != "cpu")


def _tensors_in(value, depth=0):
    """Floating tensors among a call's arguments (one level into tuples, lists and dicts)."""
    if _is_float_tensor(value):
        yield value
    elif depth == 0 and isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors_in(item, 1)
    elif depth == 0 and isinstance(value, dict):
        for item in value.values():
            yield from _tensors_in(item, 1)


def _outputs(value):
    """(name, tensor) pairs of a module output; name is None for a single tensor."""
    if _is_float_tensor(value):
        return [(None, value)]
    if isinstance(value, dict):  # diffusers' BaseOutput is an OrderedDict
        return [(str(k), v) for k, v in value.items() if _is_float_tensor(v)]
    if isinstance(value, (tuple, list)):
        return [(str(i), v) for i, v in enumerate(value) if _is_float_tensor(v)]
    return []


class _DumpWriter:
    """The folder's records file, manifest and payloads; shared by its probes."""

    def __init__(self, out_dir, level, overwrite):
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        self.dir = out_dir
        self.level = level
        manifest = os.path.join(out_dir, "manifest.json")
        if os.path.exists(manifest):
            if not overwrite:
                raise FileExistsError(f"{out_dir} already holds a nanscope dump (pass overwrite=True)")
            for name in ("manifest.json", "records.jsonl"):
                if os.path.exists(os.path.join(out_dir, name)):
                    os.remove(os.path.join(out_dir, name))
            shutil.rmtree(os.path.join(out_dir, "tensors"), ignore_errors=True)
        os.makedirs(out_dir, exist_ok=True)
        if level != "stats":
            os.makedirs(os.path.join(out_dir, "tensors"), exist_ok=True)
        self.records = open(os.path.join(out_dir, "records.jsonl"), "w", encoding="utf-8")
        self.seq = 0
        self.users = 0
        self.aborted = None
        self.context = {"stage": None, "step": None, "timestep": None, "frames": None}
        self.measured = OrderedDict()
        # Records not written yet, in order, as (record head, statistics,
        # dtype maximum, input summaries, payload); statistics may still be
        # `_Deferred` until the next flush.
        self.pending = []
        # Whether a pending record still has statistics on a device.
        self.waiting = False
        self._write_manifest(complete=False)

    # The cache is keyed by identity and checked with a weak reference and the
    # tensor's version counter, so a freed tensor whose memory is reused, or a
    # tensor modified in place, is measured again rather than misreported.
    def _cached(self, tensor):
        key = id(tensor)
        entry = self.measured.get(key)
        if entry is not None and entry[0]() is tensor and entry[1] == tensor._version:
            return entry[2]
        return None

    def _remember(self, tensor, stats):
        try:
            ref = weakref.ref(tensor)
        except TypeError:
            return
        self.measured[id(tensor)] = (ref, tensor._version, stats)
        self.measured.move_to_end(id(tensor))
        while len(self.measured) > _CACHE_SIZE:
            self.measured.popitem(last=False)

    def input_summary(self, tensor):
        stats = self._cached(tensor)
        if stats is None:
            stats = _Deferred(tensor) if _defers(tensor) else input_stats(tensor)
            self._remember(tensor, stats)
        summary = {"dtype": _dtype_name(tensor.dtype), "shape": list(tensor.shape)}
        if isinstance(stats, _Deferred):
            summary["stats"] = stats
        else:
            summary["stats"] = _input_fields(stats)
        return summary

    def output_stats(self, tensor):
        # A container module often returns its last child's output object
        # unchanged; its full statistics are then already known.
        stats = self._cached(tensor)
        if isinstance(stats, _Deferred):
            return stats
        if stats is None or "zero" not in stats:
            stats = _Deferred(tensor) if _defers(tensor) else tensor_stats(tensor)
            self._remember(tensor, stats)
        return stats if isinstance(stats, _Deferred) else dict(stats)

    def _write_manifest(self, complete):
        doc = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "level": self.level,
            "writer": {"name": "nanscope.probe", "version": PROBE_VERSION, "backend": f"torch {torch.__version__}"},
            "records_file": "records.jsonl",
            "complete": complete,
        }
        if complete:
            doc["record_count"] = self.seq
        if self.aborted:
            doc["aborted"] = self.aborted
        tmp = os.path.join(self.dir, ".manifest.json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
        os.replace(tmp, os.path.join(self.dir, "manifest.json"))

    def write(self, module, output_name, tensor, default_stage, boundary, inputs):
        seq = self.seq
        self.seq += 1
        stats = self.output_stats(tensor)
        dtype = _dtype_name(tensor.dtype)
        record = {"seq": seq}
        stage = self.context["stage"] or default_stage
        for key, value in (("stage", stage), ("step", self.context["step"]),
                           ("timestep", self.context["timestep"]), ("frames", self.context["frames"])):
            if value is not None:
                record[key] = value
        record["module"] = module
        if output_name is not None:
            record["output"] = output_name
        if boundary:
            record["boundary"] = True
        record["dtype"] = dtype
        record["shape"] = list(tensor.shape)
        payload = None
        if self.level == "all" or (self.level == "stages" and boundary):
            payload = self._write_payload(seq, module, tensor)
        self.pending.append((record, stats, torch.finfo(tensor.dtype).max, inputs, payload))
        self.waiting = self.waiting or isinstance(stats, _Deferred) or any(
            isinstance(i["stats"], _Deferred) for i in inputs or ())
        if len(self.pending) >= FLUSH_RECORDS or not self.waiting:
            self.flush()

    def flush(self):
        """Copies the pending records' device statistics to the host (one
        transfer per device) and writes the records in order."""
        if not self.pending:
            return
        waiting = {}
        for _, stats, _, inputs, _ in self.pending:
            for d in [stats] + [i["stats"] for i in inputs or ()]:
                if isinstance(d, _Deferred) and d.stats is None:
                    waiting.setdefault(id(d), d)
        by_device = {}
        for d in waiting.values():
            by_device.setdefault(d.vector.device, []).append(d)
        for items in by_device.values():
            rows = torch.stack([d.vector for d in items]).tolist()
            for d, row in zip(items, rows):
                d.stats = stats_from_vector(row, d.count)
                d.vector = None
        for record, stats, limit, inputs, payload in self.pending:
            stats = dict(stats.stats) if isinstance(stats, _Deferred) else stats
            if stats.get("absmax") is not None:
                record["headroom"] = stats["absmax"] / limit
            record["stats"] = stats
            if inputs is not None:
                for summary in inputs:
                    if isinstance(summary["stats"], _Deferred):
                        summary["stats"] = _input_fields(summary["stats"].stats)
                record["inputs"] = inputs
            if payload is not None:
                record["payload"] = payload
            self.records.write(json.dumps(record, allow_nan=False) + "\n")
        self.pending = []
        self.waiting = False
        self.records.flush()

    def _write_payload(self, seq, module, tensor):
        from safetensors.torch import save_file

        name = f"tensors/{seq:08d}.safetensors"
        path = os.path.join(self.dir, name)
        save_file({"output": tensor.detach().contiguous().cpu()}, path + ".tmp",
                  metadata={"module": module, "seq": str(seq)})
        os.replace(path + ".tmp", path)
        return {"file": name, "tensor": "output"}

    def close(self):
        if self.records.closed:
            return
        try:
            self.flush()
        finally:
            self.records.close()
        self._write_manifest(complete=True)


def _default_stage(module, prefix):
    if prefix:
        return prefix
    name = type(module).__name__.lower()
    if "unet" in name:
        return "unet"
    if "autoencoder" in name or "vae" in name:
        return "vae"
    return name


class Probe:
    """Forward hooks on one module tree, writing into a (possibly shared) dump folder."""

    def __init__(self, module, out_dir, prefix=None, level="stats", overwrite=False):
        key = os.path.realpath(out_dir)
        writer = _WRITERS.get(key)
        if writer is None or writer.records.closed:
            writer = _DumpWriter(out_dir, level, overwrite)
            _WRITERS[key] = writer
        elif writer.level != level:
            raise ValueError(f"{out_dir} is already open at level {writer.level!r}")
        writer.users += 1
        self._key = key
        self._writer = writer
        self._closed = False
        self._handles = []
        self._stage = _default_stage(module, prefix)
        root_name = prefix or self._stage
        try:
            params = list(inspect.signature(module.forward).parameters)
        except (TypeError, ValueError):
            params = []
        self._timestep_pos = params.index("timestep") if "timestep" in params else None
        for name, child in module.named_modules():
            full = root_name if name == "" else (f"{prefix}.{name}" if prefix else name)
            self._handles.append(child.register_forward_pre_hook(self._pre_hook(child is module), with_kwargs=True))
            self._handles.append(child.register_forward_hook(self._post_hook(full, child is module), with_kwargs=True))

    # Inputs are measured before the module runs; a stack per module keeps
    # re-entrant calls (a module used twice in one forward) paired correctly.
    def _pre_hook(self, is_root):
        def hook(mod, args, kwargs):
            inputs = [self._writer.input_summary(t) for t in list(_tensors_in(args)) + list(_tensors_in(kwargs))]
            mod.__dict__.setdefault("_nanscope_inputs", []).append(inputs)
            if is_root and self._writer.context["timestep"] is None:
                self._capture_timestep(args, kwargs)
            return None
        return hook

    def _capture_timestep(self, args, kwargs):
        # A root whose forward takes `timestep` (UNet-style) fills the current
        # step's timestep when `step()` was not given one.
        if self._timestep_pos is None:
            return
        t = kwargs.get("timestep", args[self._timestep_pos] if len(args) > self._timestep_pos else None)
        if isinstance(t, torch.Tensor) and t.numel() >= 1:
            self._writer.context["timestep"] = float(t.reshape(-1)[0])
        elif isinstance(t, (int, float)):
            self._writer.context["timestep"] = float(t)

    def _post_hook(self, name, is_root):
        def hook(mod, args, kwargs, output):
            stack = mod.__dict__.get("_nanscope_inputs") or [None]
            inputs = stack.pop()
            if self._closed:
                return None
            for output_name, tensor in _outputs(output):
                self._writer.write(name, output_name, tensor, self._stage, is_root, inputs)
            return None
        return hook

    def step(self, i, timestep=None):
        """Sets the 0-based denoising step (None after the loop) and its timestep.
        Records of the previous step waiting on the device are written now."""
        self._writer.flush()
        self._writer.context["step"] = None if i is None else int(i)
        self._writer.context["timestep"] = None if timestep is None else float(timestep)
        return self

    def stage(self, name):
        """Sets the stage for following records (None: each probe's own, e.g. `unet`)."""
        self._writer.context["stage"] = name
        return self

    def frames(self, first, last=None):
        """Sets the inclusive frame range the following records cover (None clears it)."""
        self._writer.context["frames"] = None if first is None else [int(first), int(first if last is None else last)]
        return self

    def record(self, name, tensor, stage=None, boundary=True):
        """Records a tensor that no hooked module returns, e.g. `latents` after a scheduler step."""
        if self._closed or not _is_float_tensor(tensor):
            return
        self._writer.write(name, None, tensor, stage or self._writer.context["stage"] or "scheduler", boundary, None)

    def close(self):
        """Removes the hooks; the folder's manifest is finalised when its last probe closes."""
        if self._closed:
            return
        self._closed = True
        for handle in self._handles:
            handle.remove()
        self._writer.users -= 1
        if self._writer.users <= 0:
            self._writer.close()
            _WRITERS.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self._writer.aborted is None:
            # Kept in the manifest: `trace` reports the error with the records before it.
            self._writer.aborted = f"{exc_type.__name__}: {exc}"
        self.close()
        return False


def attach(module, out_dir, prefix=None, level="stats", overwrite=False):
    """Hooks `module` and all its children; records go to `out_dir`.

    `prefix` starts every module name (`unet` → `unet.down_blocks.0…`); without
    it names are as `named_modules()` gives them. `level` is `stats`,
    `stages` (also the root module's outputs and `record()` tensors) or `all`.
    Attaching several modules to one folder shares one writer and one
    step/stage context.
    """
    return Probe(module, out_dir, prefix=prefix, level=level, overwrite=overwrite)


# ---------------------------------------------------------------------------
# Recording an unmodified script: `python -m nanscope.probe run SCRIPT [ARGS…]`

# Attributes of a pipeline that hold the networks worth recording, in the
# order their probes are attached (diffusers names, then EchoMimicV2's).
PIPELINE_MODULES = (
    "unet",
    "denoising_unet",
    "transformer",
    "reference_unet",
    "pose_guider",
    "pose_encoder",
    "vae",
)


def pipeline_modules(pipe):
    """(name, module) of the networks `PIPELINE_MODULES` names on `pipe`."""
    found = []
    for name in PIPELINE_MODULES:
        module = getattr(pipe, name, None)
        if isinstance(module, torch.nn.Module):
            found.append((name, module))
    return found


class _StepCounter:
    """Wraps a scheduler's `step` on the instance: after each call the
    latents it returns are recorded and the probe moves to the next step
    (to none after the last of `scheduler.timesteps`)."""

    def __init__(self, scheduler, probe):
        self.scheduler = scheduler
        self.probe = probe
        self.index = 0
        self.original = scheduler.__dict__.get("step")
        bound = scheduler.step

        def step(*args, **kwargs):
            out = bound(*args, **kwargs)
            latents = getattr(out, "prev_sample", None)
            if latents is None and isinstance(out, (tuple, list)) and out:
                latents = out[0]
            if isinstance(latents, torch.Tensor):
                probe.record("latents", latents, stage="scheduler")
            self.index += 1
            timesteps = getattr(scheduler, "timesteps", None)
            total = len(timesteps) if timesteps is not None else None
            if total is not None and self.index >= total:
                probe.step(None)
            else:
                probe.step(self.index)
            return out

        scheduler.step = step

    def restore(self):
        if self.original is None:
            self.scheduler.__dict__.pop("step", None)
        else:
            self.scheduler.step = self.original


def record_pipeline_call(pipe, call, out_dir, level="stats", overwrite=False):
    """Runs `call()` (which calls `pipe`) with probes on the pipeline's
    networks writing into `out_dir`, stepping with its scheduler's `step`,
    and returns what `call()` returned. An exception is kept in the manifest
    (`aborted`) and raised again."""
    modules = pipeline_modules(pipe)
    if not modules:
        return call()
    probes = []
    counter = None
    try:
        for name, module in modules:
            probes.append(attach(module, out_dir, prefix=name, level=level, overwrite=overwrite and not probes))
        main = probes[0]
        main.step(0)
        scheduler = getattr(pipe, "scheduler", None)
        if scheduler is not None and callable(getattr(scheduler, "step", None)):
            counter = _StepCounter(scheduler, main)
        return call()
    except BaseException as exc:
        if probes and probes[0]._writer.aborted is None:
            probes[0]._writer.aborted = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if counter is not None:
            counter.restore()
        for probe in reversed(probes):
            probe.close()


class watch_pipelines:
    """While active, every diffusers `DiffusionPipeline` (EchoMimicV2's
    pipelines are ones) records each call into a dump folder: the first call
    into `out_dir`, later ones into `out_dir-2`, `out_dir-3`, …

    It patches `DiffusionPipeline.register_modules`, which every pipeline's
    `__init__` calls, to wrap the `__call__` of the pipeline's class; the
    script itself is not modified. `folders` lists the dumps written.
    """

    def __init__(self, out_dir, level="stats", overwrite=False):
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        self.out_dir = out_dir
        self.level = level
        self.overwrite = overwrite
        self.folders = []
        self._active = False
        self._wrapped = []
        self._base = None
        self._register = None

    def _folder(self):
        n = len(self.folders)
        return self.out_dir if n == 0 else f"{self.out_dir}-{n + 1}"

    def _wrap_class(self, cls):
        if "_nanscope_original_call" in cls.__dict__:
            return
        original = cls.__call__
        watcher = self

        def __call__(pipe, *args, **kwargs):
            if watcher._active or not pipeline_modules(pipe):
                return original(pipe, *args, **kwargs)
            folder = watcher._folder()
            watcher.folders.append(folder)
            watcher._active = True
            try:
                return record_pipeline_call(pipe, lambda: original(pipe, *args, **kwargs), folder,
                                            level=watcher.level, overwrite=watcher.overwrite)
            finally:
                watcher._active = False

        __call__.__doc__ = getattr(original, "__doc__", None)
        __call__.__wrapped__ = original
        cls._nanscope_original_call = original
        cls.__call__ = __call__
        self._wrapped.append(cls)

    def __enter__(self):
        try:
            from diffusers import DiffusionPipeline
        except ImportError as err:
            raise ImportError("recording a script's pipelines needs diffusers") from err
        self._base = DiffusionPipeline
        self._register = DiffusionPipeline.register_modules
        register = self._register
        watcher = self

        def register_modules(pipe, **kwargs):
            register(pipe, **kwargs)
            watcher._wrap_class(type(pipe))

        DiffusionPipeline.register_modules = register_modules
        return self

    def __exit__(self, *exc):
        self._base.register_modules = self._register
        for cls in self._wrapped:
            cls.__call__ = cls.__dict__["_nanscope_original_call"]
            del cls._nanscope_original_call
        self._wrapped = []
        return False


def run_script(script, args=(), out_dir="nanscope-dump", level="stats", overwrite=False):
    """Runs `script` as `python SCRIPT ARGS…` would, recording every pipeline
    call; returns the dump folders written."""
    import runpy
    import sys

    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    watcher = watch_pipelines(out_dir, level=level, overwrite=overwrite)
    try:
        with watcher:
            runpy.run_path(script, run_name="__main__")
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return watcher.folders


def run_module(module, args=(), out_dir="nanscope-dump", level="stats", overwrite=False):
    """Runs `module` as `python -m MODULE ARGS…` would (a server that imports
    the code that builds the pipeline: `uvicorn api:app`), recording every
    pipeline call; returns the dump folders written."""
    import runpy
    import sys

    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [module, *args]
    # As `python -m` does: the working folder first on the import path.
    sys.path.insert(0, os.getcwd())
    watcher = watch_pipelines(out_dir, level=level, overwrite=overwrite)
    try:
        with watcher:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return watcher.folders


def _module_flag(argv):
    """Where `-m` stands among `run`'s own options, before any SCRIPT; None
    when it does not."""
    takes_value = {"--out", "-o", "--level"}
    i = 1 if argv[:1] == ["run"] else 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-m":
            return i if i + 1 < len(argv) else None
        if arg in takes_value:
            i += 2
        elif arg.startswith("-"):
            i += 1
        else:
            return None
    return None


def main(argv=None):
    """`python -m nanscope.probe run [--out DIR] [--level L] [--overwrite] (SCRIPT | -m MODULE) [ARGS…]`"""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m nanscope.probe",
        description="Record a nanscope dump from an unmodified diffusers or EchoMimicV2 script.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run SCRIPT with its arguments, recording every pipeline call",
        description="Runs SCRIPT as `python SCRIPT ARGS…` would, or MODULE as `python -m MODULE ARGS…` "
        "would (`-m uvicorn api:app` for a server). Each call of a diffusers pipeline "
        "(EchoMimicV2's included) is recorded: probes on its " + ", ".join(PIPELINE_MODULES)
        + " and one step per call of its scheduler's `step`. The first call goes to DIR, later ones "
        "to DIR-2, DIR-3, …; then run `nanscope trace DIR`.",
    )
    run.add_argument("--out", "-o", default="nanscope-dump", metavar="DIR", help="dump folder (default: nanscope-dump)")
    run.add_argument("--level", choices=LEVELS, default="stats", help="what to keep (default: stats)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing dump")
    run.add_argument("-m", dest="module", metavar="MODULE",
                     help="run MODULE as `python -m MODULE ARGS…` would instead of a script: a server that "
                          "imports the code (`-m uvicorn api:app`; one process, no --reload or --workers)")
    run.add_argument("script", metavar="SCRIPT", nargs="?")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `-m MODULE` is the module's, options included, as
    # with `python -m`; argparse would take its options for the probe's.
    module_args = []
    at = _module_flag(argv)
    if at is not None:
        argv, module_args = argv[: at + 2], argv[at + 2 :]
    opts = parser.parse_args(argv)
    if opts.module:
        args = module_args
    elif opts.script is None:
        parser.error("give SCRIPT, or -m MODULE")
    elif not os.path.isfile(opts.script):
        parser.error(f"{opts.script}: no such file")
    code = 0
    folders = []
    try:
        if opts.module:
            folders = run_module(opts.module, args, opts.out, opts.level, opts.overwrite)
        else:
            folders = run_script(opts.script, opts.args, opts.out, opts.level, opts.overwrite)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        if folders:
            for folder in folders:
                sys.stderr.write(f"nanscope.probe: recorded {folder} (analyse with `nanscope trace {folder}`)\n")
        else:
            sys.stderr.write("nanscope.probe: no pipeline call was recorded (the script called no diffusers "
                             "pipeline holding one of: " + ", ".join(PIPELINE_MODULES) + ")\n")
    if code == 0 and not folders:
        code = 2
    return code


if __name__ == "__main__":
    import sys as _sys

    from nanscope.probe import main as _main

    _sys.exit(_main())
