"""Speed of `weights --simulate int8-channel` and `diff` against NumPy.

Builds (once) two ~1 GiB fp16 safetensors checkpoints shaped like a latent
diffusion UNet under bench/out/, checks that nanscope and an equivalent NumPy
script compute the same figures, then times both, interleaved, and writes the
medians and ratios to reports/quant-bench.md.

    cargo build --release
    python3 bench/quant_bench.py [--runs 3] [--gib 1.0]

The NumPy script does the same work per tensor: decode fp16 to f32,
quantize-dequantize per output row with torchao's int8 weight-only formula
and measure whole-tensor and per-row SQNR, zeroed and clipped weights; for
the diff, max abs diff, relative L2 error, cosine, SQNR, allclose violations
and one-sided NaN/Inf. It reads one tensor at a time, as nanscope does.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BINARY = ROOT / "target" / "release" / "nanscope"
F = np.float32
RTOL, ATOL = 1e-3, 1e-5
SETTINGS = {"binary": BINARY}

# One cycle of UNet-like weights: attention and feed-forward matrices, convolutions.
CYCLE = [(320, 320), (640, 640), (1280, 1280), (5120, 1280), (1280, 5120), (320, 4, 3, 3), (1280, 1280, 3, 3), (1280,)]


def make_checkpoints(gib):
    a_path, b_path = OUT / f"unet_a_{gib}g.safetensors", OUT / f"unet_b_{gib}g.safetensors"
    if a_path.exists() and b_path.exists():
        return a_path, b_path
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    target = gib * (1 << 30) / 2
    a, b, total, i = {}, {}, 0, 0
    while total < target:
        shape = CYCLE[i % len(CYCLE)]
        n = math.prod(shape)
        w = (rng.standard_normal(n, dtype=F) * F(0.02)).astype(np.float16).reshape(shape)
        name = f"blocks.{i // len(CYCLE)}.layer{i % len(CYCLE)}.weight"
        a[name] = w
        drifted = w.copy()
        if i % 3 == 0:  # a third of the tensors drift like a lossy conversion
            drifted.reshape(shape[0], -1)[::2] += np.float16(1e-3)
        b[name] = drifted
        total += n
        i += 1
    save_file(a, str(a_path))
    save_file(b, str(b_path))
    return a_path, b_path


def numpy_simulate_int8_channel(path):
    out = {}
    with safe_open(str(path), framework="np") as f:
        for name in f.keys():
            t = f.get_tensor(name)
            if t.ndim < 2:
                continue
            x = t.astype(F).reshape(t.shape[0], -1)
            absmax = np.abs(x).max(axis=1)
            scale = np.maximum(absmax / F(127.5), np.finfo(F).eps).astype(F)
            inv = (F(1) / scale)[:, None]
            scaled = x * inv
            code = np.clip(np.rint(scaled), -128, 127)
            q = code * scale[:, None]
            err = x - q
            signal = np.einsum("ij,ij->i", x, x, dtype=np.float64)
            noise = np.einsum("ij,ij->i", err, err, dtype=np.float64)
            row_db = 10 * np.log10(signal / np.where(noise > 0, noise, np.nan))
            lossy = (signal > 0) & (noise > 0)
            nonzero = int(np.count_nonzero(x))
            zeroed = int(np.count_nonzero((x != 0) & (q == 0)))
            out[name] = {
                "sqnr_db": 10 * math.log10(signal.sum() / noise.sum()),
                "worst_channel_sqnr_db": float(np.min(row_db[lossy])),
                "zeroed": zeroed,
                "zeroed_share": zeroed / nonzero,
                "clipped": int(np.count_nonzero(np.abs(scaled - code) > F(0.501))),
                "rel_error": math.sqrt(noise.sum() / signal.sum()),
            }
    return out


def numpy_diff(a_path, b_path):
    out = {}
    with safe_open(str(a_path), framework="np") as fa, safe_open(str(b_path), framework="np") as fb:
        b_keys = set(fb.keys())
        for name in fa.keys():
            if name not in b_keys:
                continue
            a = fa.get_tensor(name).astype(F).ravel()
            b = fb.get_tensor(name).astype(F).ravel()
            fin_a, fin_b = np.isfinite(a), np.isfinite(b)
            both = fin_a & fin_b
            a0, b0 = np.where(both, a, F(0)), np.where(both, b, F(0))
            d = b0 - a0
            a2 = float(np.dot(a0.astype(np.float64), a0))
            b2 = float(np.dot(b0.astype(np.float64), b0))
            ab = float(np.dot(a0.astype(np.float64), b0))
            d2 = float(np.dot(d.astype(np.float64), d))
            out[name] = {
                "max_abs_diff": float(np.abs(d).max()),
                "rel_l2_error": math.sqrt(d2 / a2),
                "cosine": ab / math.sqrt(a2 * b2),
                "sqnr_db": 10 * math.log10(a2 / d2) if d2 > 0 else None,
                "beyond_tolerance": int(np.count_nonzero(np.abs(d) > F(ATOL) + F(RTOL) * np.abs(a0))),
                "nonfinite_only_a": int(np.count_nonzero(~fin_a & fin_b)),
                "nonfinite_only_b": int(np.count_nonzero(fin_a & ~fin_b)),
            }
    return out


def nanscope(*args):
    cmd = [str(SETTINGS["binary"]), *args, "--format", "json", "--fail-on", "never", "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, check=True)
    return json.loads(done.stdout)


def nanscope_simulate(path):
    report = nanscope("weights", "--simulate", "int8-channel", str(path))
    return {t["tensor"]: t for t in report["simulation"]["tensors"]}


def nanscope_diff(a, b):
    report = nanscope("diff", str(a), str(b), "--rtol", str(RTOL), "--atol", str(ATOL))
    return {p["tensor"]: p for p in report["pairs"]}


def close(x, y, rel, abs_=0.0):
    if x is None or y is None:
        return x is None and y is None
    return abs(x - y) <= abs_ + rel * abs(y)


def verify(mine, theirs, fields):
    assert mine.keys() == theirs.keys(), "different tensor sets"
    worst = 0.0
    for name, ref in theirs.items():
        got = mine[name]
        for field, (rel, abs_) in fields.items():
            if not close(got[field], ref[field], rel, abs_):
                raise SystemExit(f"mismatch in {name}.{field}: nanscope {got[field]} vs numpy {ref[field]}")
            if ref[field]:
                worst = max(worst, abs(got[field] - ref[field]) / abs(ref[field]))
    return worst


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--binary", type=Path, default=BINARY)
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "quant-bench.md")
    parser.add_argument("--machine", default="", help="a note on the machine for the report")
    args = parser.parse_args()
    SETTINGS["binary"] = args.binary
    if not args.binary.exists():
        sys.exit("build first: cargo build --release")
    a, b = make_checkpoints(args.gib)
    size = a.stat().st_size

    sim_fields = {"sqnr_db": (1e-6, 1e-6), "worst_channel_sqnr_db": (1e-6, 1e-6), "zeroed": (0, 0),
                  "clipped": (0, 0), "rel_error": (1e-6, 0)}
    diff_fields = {"max_abs_diff": (0, 0), "rel_l2_error": (1e-9, 0), "cosine": (1e-9, 1e-9),
                   "sqnr_db": (1e-9, 1e-9), "beyond_tolerance": (0, 0), "nonfinite_only_a": (0, 0),
                   "nonfinite_only_b": (0, 0)}
    sim_dev = verify(nanscope_simulate(a), numpy_simulate_int8_channel(a), sim_fields)
    diff_dev = verify(nanscope_diff(a, b), numpy_diff(a, b), diff_fields)

    times = {k: [] for k in ("sim_nanscope", "sim_numpy", "diff_nanscope", "diff_numpy")}
    load_before = os.getloadavg()
    for _ in range(args.runs):
        times["sim_nanscope"].append(timed(lambda: nanscope_simulate(a)))
        times["sim_numpy"].append(timed(lambda: numpy_simulate_int8_channel(a)))
        times["diff_nanscope"].append(timed(lambda: nanscope_diff(a, b)))
        times["diff_numpy"].append(timed(lambda: numpy_diff(a, b)))
    load_after = os.getloadavg()
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [
        "# Benchmark: `weights --simulate int8-channel` and `diff` against NumPy",
        "",
        f"Generated by `python3 bench/quant_bench.py --runs {args.runs} --gib {args.gib}`.",
        "",
        f"- Checkpoints: two fp16 safetensors files of {size / (1 << 30):.2f} GiB each, UNet-like shapes, page cache warm.",
        f"- Machine: {os.cpu_count()} cores{args.machine}; load average {load_before[0]:.1f} before and "
        f"{load_after[0]:.1f} after.",
        f"- NumPy {np.__version__}; runs interleaved, {args.runs} of each; medians.",
        f"- Agreement checked first: simulate figures within {sim_dev:.1e} relative (zeroed and clipped counts exact), "
        f"diff figures within {diff_dev:.1e} relative (allclose counts and max abs diff exact).",
        "",
        "| work | nanscope (s) | NumPy (s) | speed-up |",
        "|---|---|---|---|",
        f"| simulate int8-channel | {med['sim_nanscope']:.2f} | {med['sim_numpy']:.2f} | "
        f"{med['sim_numpy'] / med['sim_nanscope']:.1f}x |",
        f"| diff A B | {med['diff_nanscope']:.2f} | {med['diff_numpy']:.2f} | "
        f"{med['diff_numpy'] / med['diff_nanscope']:.1f}x |",
        "",
        "All runs (s): " + json.dumps({k: [round(x, 2) for x in v] for k, v in times.items()}),
        "",
    ]
    report = args.report
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
