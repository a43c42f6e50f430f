"""`nanscope.bisect`: which modules must stay in higher precision (or
unquantized) so that the rest of the model can be quantized and the output
stays finite, found by delta debugging inside the user's own pipeline, on
their device, with their quantization library (as `nanscope replay --bisect`
does on the built-in engine).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Optional, Sequence, Set, TextIO

# The most trials (build + run) one bisection may spend.
MAX_TRIALS = 200


@dataclass
class BisectResult:
    """What `bisect` found. `exclude` is the minimal set of module names to
    keep in higher precision / unquantized; empty when not needed
    (`already_finite`) or when no set helps (`fixed` is False)."""

    exclude: List[str]
    fixed: bool
    already_finite: bool
    candidates: int
    trials: int
    log: List[str] = field(default_factory=list)

    def filter_fn(self, base: Optional[Callable[[Any, str], bool]] = None) -> Callable[[Any, str], bool]:
        """A torchao `quantize_` `filter_fn` that quantizes what `base` would
        (every `torch.nn.Linear` by default) except the modules of `exclude`."""
        exclude = frozenset(self.exclude)

        def keep_quantizing(module: Any, fqn: str) -> bool:
            if fqn in exclude:
                return False
            if base is not None:
                return bool(base(module, fqn))
            import torch

            return isinstance(module, torch.nn.Linear)

        return keep_quantizing

    def qconfig_spec(self, qconfig: Any = None, types: Sequence[Any] = ()) -> dict:
        """A `torch.ao.quantization.quantize_dynamic` `qconfig_spec`: `types`
        (default `torch.nn.Linear`) with `qconfig` (default
        `default_dynamic_qconfig`), each excluded module name mapped to None
        (a name overrides a type)."""
        import torch

        if qconfig is None:
            qconfig = torch.ao.quantization.default_dynamic_qconfig
        spec: dict = {t: qconfig for t in (types or (torch.nn.Linear,))}
        spec.update({name: None for name in self.exclude})
        return spec

    def snippet(self) -> str:
        """The exclude list and the two ways of using it, ready to paste."""
        names = ",\n".join(f"    {name!r}" for name in self.exclude)
        return (
            f"EXCLUDE = {{\n{names},\n}}\n"
            "# torchao\n"
            "quantize_(model, config, filter_fn=lambda m, fqn: isinstance(m, torch.nn.Linear) and fqn not in EXCLUDE)\n"
            "# torch.ao.quantization.quantize_dynamic\n"
            "spec = {torch.nn.Linear: torch.ao.quantization.default_dynamic_qconfig, **{n: None for n in EXCLUDE}}\n"
            "model = torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)\n"
        )

    def __str__(self) -> str:
        if self.already_finite:
            return "the output is already finite with every candidate quantized: nothing to exclude"
        if not self.fixed:
            return (f"no set of the {self.candidates} candidate modules, kept in higher precision, makes the "
                    "output finite: the non-finite values do not come from the precision plan")
        return (f"keep {len(self.exclude)} of {self.candidates} modules in higher precision "
                f"({self.trials} trials):\n{self.snippet()}")


def _nonfinite(value: Any) -> bool:
    """Whether a run's output holds NaN/Inf: tensors, NumPy arrays, floats and
    containers of them (diffusers' outputs are dictionaries)."""
    if value is None:
        return False
    try:
        import torch

        if isinstance(value, torch.Tensor):
            if not (value.is_floating_point() or value.is_complex()):
                return False
            return not bool(torch.isfinite(value).all())
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float):
        return not math.isfinite(value)
    if hasattr(value, "dtype") and hasattr(value, "shape") and hasattr(value, "__array__"):
        import numpy as np

        arr = np.asarray(value)
        return arr.dtype.kind in "fc" and not bool(np.isfinite(arr).all())
    if isinstance(value, dict):
        return any(_nonfinite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_nonfinite(v) for v in value)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return any(_nonfinite(v) for v in vars(value).values())
    return False


def default_candidates(model: Any) -> List[str]:
    """The names of a model's `torch.nn.Linear` and convolution modules, the
    layers weight quantization applies to. A pipeline (an object holding
    modules as attributes, such as diffusers') contributes each network's
    layers prefixed with its attribute name (`unet.…`)."""
    import torch

    kinds = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    if isinstance(model, torch.nn.Module):
        return [name for name, m in model.named_modules() if name and isinstance(m, kinds)]
    names: List[str] = []
    for attr, value in sorted(vars(model).items()) if hasattr(model, "__dict__") else []:
        if isinstance(value, torch.nn.Module):
            names += [f"{attr}.{n}" for n, m in value.named_modules() if n and isinstance(m, kinds)]
    return names


def _split(items: List[str], n: int) -> List[List[str]]:
    n = max(1, min(n, len(items)))
    chunks, start = [], 0
    for i in range(n):
        end = start + (len(items) - start) // (n - i)
        chunks.append(items[start:end])
        start = end
    return chunks


def bisect(
    build: Callable[[Set[str]], Any],
    run: Callable[[Any], Any],
    modules: Optional[Iterable[str]] = None,
    *,
    is_bad: Optional[Callable[[Any], bool]] = None,
    max_trials: int = MAX_TRIALS,
    verbose: bool = True,
    file: Optional[TextIO] = None,
) -> BisectResult:
    """Finds a minimal set of modules that, kept in higher precision or
    unquantized, makes the output finite.

    `build(exclude)` returns the model (or pipeline) with every candidate
    quantized / lowered except the module names in the set `exclude` (for
    torchao: `quantize_(model, config, filter_fn=lambda m, fqn: … and fqn not
    in exclude)`); `run(model)` runs it and returns its output. An output is
    bad when it holds NaN/Inf (or when `is_bad(output)` says so). `modules`
    lists the candidate names; by default every Linear/Conv module of
    `build(set())`. Delta debugging (ddmin) needs about
    `2·k·log2(candidates)` trials for `k` culprits; at most `max_trials`.

    Prints the result (exclude list and a snippet for torchao's `quantize_`
    and `quantize_dynamic`) unless `verbose` is False, and returns it.
    """
    bad = is_bad or _nonfinite
    out = file or sys.stdout
    trials = 0
    log: List[str] = []

    def finite_with(exclude: Sequence[str]) -> bool:
        nonlocal trials
        trials += 1
        model = build(set(exclude))
        try:
            ok = not bad(run(model))
        finally:
            del model
        log.append(f"trial {trials}: {len(exclude)} excluded -> {'finite' if ok else 'non-finite'}")
        return ok

    def done(result: BisectResult) -> BisectResult:
        if verbose:
            out.write(f"nanscope.bisect: {result}\n")
            out.flush()
        return result

    if modules is None:
        trials += 1
        model = build(set())
        candidates = default_candidates(model)
        ok = not bad(run(model))
        del model
        log.append(f"trial 1: 0 excluded -> {'finite' if ok else 'non-finite'}")
    else:
        candidates = list(dict.fromkeys(modules))
        ok = finite_with([])
    if ok:
        return done(BisectResult([], True, True, len(candidates), trials, log))
    if not candidates or not finite_with(candidates):
        return done(BisectResult([], False, False, len(candidates), trials, log))

    current = candidates
    n = 2
    while len(current) > 1 and trials < max_trials:
        chunks = _split(current, n)
        reduced = False
        for chunk in chunks:
            if finite_with(chunk):
                current, n, reduced = chunk, 2, True
                break
        if not reduced and n > 2:
            for i in range(len(chunks)):
                complement = [name for j, c in enumerate(chunks) if j != i for name in c]
                if finite_with(complement):
                    current, n, reduced = complement, max(n - 1, 2), True
                    break
        if not reduced:
            if n >= len(current):
                break
            n = min(n * 2, len(current))
    return done(BisectResult(list(current), True, False, len(candidates), trials, log))
