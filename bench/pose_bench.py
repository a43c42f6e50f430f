#!/usr/bin/env python3
"""Benchmark: `nanscope pose check` against a NumPy script doing the same checks.

Writes N EchoMimicV2 pose files (`np.save` of the pose dict, as the producer
does) into a temporary folder, then times, in the same run and on the same
warm page cache:
  * `nanscope pose check DIR --format json` (release build);
  * a NumPy script that loads every file with `np.load(path, allow_pickle=True)`
    and does the same checks: gaps, `num`, required keys and shapes, NaN/Inf,
    out-of-canvas points, score range, subset range, hands drawn (EchoMimicV2's
    int(x*W) > 0.01 rule on the 800 px canvas), draw_pose_params, and jumps
    against median + 8 * 1.4826 * MAD of per-part displacements.
Each side runs --repeat times; the best wall time and the best CPU time
(user + system, which a busy machine disturbs less) count. Prints a markdown table.

Usage: cargo build --release && python3 bench/pose_bench.py [--frames 10000] [--repeat 3]
"""
import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
from make_pose import frame_dict  # noqa: E402


def write_frames(folder, n):
    rng = np.random.default_rng(7)
    for t in range(n):
        np.save(os.path.join(folder, f"{t}.npy"), frame_dict(t, rng), allow_pickle=True)


def numpy_check(folder, width=768, height=768, tol=0.3, max_score=2.0, k=8.0, min_jump=0.1):
    findings = []
    names = os.listdir(folder)
    indices = sorted(int(n[:-4]) for n in names if n.endswith(".npy") and n[:-4].isdigit())
    present = set(indices)
    n = (indices[-1] + 1) if indices else 0
    findings += [("P101", i) for i in range(n) if i not in present]
    findings += [("P104", name) for name in names if not (name.endswith(".npy") and name[:-4].isdigit())]
    canvas = 800
    hands_seq = [None] * n
    for i in indices:
        d = np.load(os.path.join(folder, f"{i}.npy"), allow_pickle=True).tolist()
        if not isinstance(d, dict) or any(key not in d for key in ("bodies", "hands", "hands_score", "draw_pose_params")):
            findings.append(("P108", i))
            continue
        if d.get("num") != i:
            findings.append(("P105", i))
        hands, hs = d["hands"], d["hands_score"]
        if hands.ndim != 3 or hands.shape[1:] != (21, 2) or hs.shape != hands.shape[:2]:
            findings.append(("P108", i))
            continue
        body = d["bodies"]
        for name, arr in (("hands", hands), ("faces", d.get("faces")), ("bodies", body["candidate"])):
            if arr is None:
                continue
            bad = ~np.isfinite(arr).all(axis=-1)
            if bad.any():
                findings.append(("P106", i, name))
        for name, arr in (("hands", hands), ("faces", d.get("faces"))):
            if arr is None:
                continue
            present_pts = ~((arr[..., 0] <= 0) & (arr[..., 1] <= 0))
            with np.errstate(invalid="ignore"):
                out = ((arr < -tol) | (arr > 1 + tol)).any(axis=-1) & present_pts
            if out.any():
                findings.append(("P107", i, name))
        for scores in (hs, d.get("faces_score"), body.get("score")):
            if scores is not None and ((scores < 0) | (scores > max_score)).any():
                findings.append(("P110", i))
        subset = body["subset"]
        ok = (subset == -1) | ((subset >= 0) & (subset < len(body["candidate"])) & (subset == np.floor(subset)))
        if not ok.all():
            findings.append(("P109", i))
        with np.errstate(invalid="ignore"):
            px = np.trunc(hands[..., 0] * canvas)
            py = np.trunc(hands[..., 1] * canvas)
            drawn = (px > 0.01) & (py > 0.01) & (px < canvas) & (py < canvas)
        if not drawn.any():
            findings.append(("P111", i))
        p = d["draw_pose_params"]
        if not (len(p) == 6 and p[2] < p[3] and p[4] < p[5] and p[3] - p[2] == p[0] and p[5] - p[4] == p[1]
                and p[3] <= height and p[5] <= width and min(p) >= 0):
            findings.append(("P112", i))
        hands_seq[i] = np.where(drawn[..., None] | True, hands, np.nan)
    # Jumps: displacements of consecutive frames, robust threshold per part.
    shape = next((h.shape for h in hands_seq if h is not None), None)
    if shape is not None:
        stack = np.stack([h if h is not None and h.shape == shape else np.full(shape, np.nan) for h in hands_seq])
        valid = np.isfinite(stack).all(axis=-1) & ~((stack[..., 0] <= 0) & (stack[..., 1] <= 0))
        disp = np.linalg.norm(np.diff(stack, axis=0), axis=-1)
        both = valid[1:] & valid[:-1]
        moves = disp[both]
        if moves.size >= 8:
            med = np.median(moves)
            mad = np.median(np.abs(moves - med))
            thr = max(min_jump, med + k * 1.4826 * mad)
            for t, g, kp in zip(*np.nonzero(both & (disp > thr))):
                findings.append(("P113", int(t) + 1, f"hands[{g}][{kp}]"))
    return findings


def cpu_seconds():
    """CPU time (user + system) of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def best_of(repeat, fn):
    """Best wall time and best CPU time over `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), cpu_seconds()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(cpu_seconds() - cpu)
    return min(walls), min(cpus)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nanscope", default=os.path.join(HERE, "..", "target", "release", "nanscope"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        write_frames(folder, args.frames)
        command = [args.nanscope, "pose", "check", folder, "--format", "json"]

        def run_nanscope():
            result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if result.returncode not in (0, 1):
                raise SystemExit(result.stderr.decode())

        run_nanscope()
        reference = numpy_check(folder)
        ours = best_of(args.repeat, run_nanscope)
        theirs = best_of(args.repeat, lambda: numpy_check(folder))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0]
    print(f"{args.frames} frames, {cores} cores, load average {load:.1f} at the end, best of {args.repeat}\n")
    print(f"| measure | numpy {np.__version__} script | nanscope pose check | speed-up |")
    print("|---|---:|---:|---:|")
    print(f"| wall time | {theirs[0]:.3f} s | {ours[0]:.3f} s | {theirs[0] / ours[0]:.1f}x |")
    print(f"| CPU time (user + sys) | {theirs[1]:.3f} s | {ours[1]:.3f} s | {theirs[1] / ours[1]:.1f}x |")
    print(f"\nNumPy script findings on the generated sequence: {len(reference)} (expected 0)")


if __name__ == "__main__":
    main()
