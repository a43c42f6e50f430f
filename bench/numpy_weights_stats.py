#!/usr/bin/env python3
"""The NumPy baseline of the weights benchmark.

Computes, for every tensor of a safetensors file, the statistics that
`nanscope weights` reports (count, nan, pos_inf, neg_inf, zero, subnormal,
min, max, absmax, mean, std, first_nonfinite_flat, and overflow/underflow
against an fp16 target), the way a careful NumPy user would: tensors come
from `safetensors.safe_open(..., framework="numpy")`, one at a time, and
every statistic is a vectorised NumPy expression over the whole tensor.

Usage: numpy_weights_stats.py CHECKPOINT OUTPUT.json
"""

import json
import sys

import numpy as np
from safetensors import safe_open

FP16_MAX = 65504.0
FP16_MIN_NORMAL = 2.0**-14
OWN_MIN_NORMAL = {np.dtype(np.float16): 2.0**-14, np.dtype(np.float32): float(np.finfo(np.float32).tiny)}


def tensor_stats(t: np.ndarray) -> dict:
    x = t.reshape(-1)
    own_min_normal = OWN_MIN_NORMAL[x.dtype]
    xf = x.astype(np.float32, copy=False)
    finite = np.isfinite(xf)
    a = np.abs(xf)
    nan = int(np.count_nonzero(np.isnan(xf)))
    pos_inf = int(np.count_nonzero(xf == np.inf))
    neg_inf = int(np.count_nonzero(xf == -np.inf))
    nonzero = a != 0
    stats = {
        "count": int(x.size),
        "nan": nan,
        "pos_inf": pos_inf,
        "neg_inf": neg_inf,
        "zero": int(x.size - np.count_nonzero(nonzero)),
        "subnormal": int(np.count_nonzero((a < own_min_normal) & nonzero)),
    }
    nonfinite = nan + pos_inf + neg_inf
    values = xf if nonfinite == 0 else xf[finite]
    if values.size:
        lo, hi = float(values.min()), float(values.max())
        mean = float(values.mean(dtype=np.float64))
        std = float(values.std(dtype=np.float64))
        stats.update(min=lo, max=hi, absmax=max(abs(lo), abs(hi)), mean=mean, std=std)
    else:
        stats.update(min=None, max=None, absmax=None, mean=None, std=None)
    stats["first_nonfinite_flat"] = int(np.argmin(finite)) if nonfinite else None
    stats["overflow"] = int(np.count_nonzero(finite & (a > FP16_MAX)))
    stats["underflow"] = int(np.count_nonzero((a < FP16_MIN_NORMAL) & nonzero))
    return stats


def main() -> None:
    path, output = sys.argv[1], sys.argv[2]
    tensors = []
    with safe_open(path, framework="numpy") as f:
        for name in f.keys():
            t = f.get_tensor(name)
            tensors.append({"name": name, "dtype": str(t.dtype), "shape": list(t.shape), "stats": tensor_stats(t)})
    with open(output, "w") as out:
        json.dump({"tensors": tensors}, out)


if __name__ == "__main__":
    main()
