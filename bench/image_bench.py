#!/usr/bin/env python3
"""Benchmark: `nanscope image check` on 64-megapixel images against Pillow.

Writes an 8192x8192 RGB picture (smooth gradients, a head and a body, fine
texture: a photograph's structure, not noise) as PNG, JPEG (quality 90) and
LZW TIFF into a folder (and the same picture without texture as
`smooth.tiff`, which LZW shrinks to a few MiB), then times, in the same run and on the same warm
page cache:
  * `nanscope image check FILE --format json --size 8192x8192` (a build
    chosen with --nanscope, release-like);
  * Pillow as a peer: `Image.open(FILE).load()`, then NumPy per-channel
    min, max, mean and std, the statistics `image check` reports.
Each side runs in its own process --repeat times; the best wall time and the
best CPU time (user + system) count, with the child's peak RSS. Prints a
markdown table and the nanscope/Pillow ratios.

Usage: python3 bench/image_bench.py --nanscope target/release/nanscope [--dir /tmp/imgbench] [--repeat 3]
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None

SIDE = 8192
PEER = """
import sys
import numpy as np
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
image = Image.open(sys.argv[1])
image.load()
a = np.asarray(image)
for c in range(a.shape[2]):
    x = a[..., c]
    print(x.min(), x.max(), x.mean(dtype=np.float64), x.std(dtype=np.float64))
"""


def picture(side: int, texture: bool = True) -> np.ndarray:
    """A portrait-like picture, built in bands of rows to bound memory."""
    out = np.empty((side, side, 3), dtype=np.uint8)
    x = np.arange(side, dtype=np.float32)[None, :]
    for top in range(0, side, 512):
        y = np.arange(top, top + 512, dtype=np.float32)[:, None]
        img = np.empty((512, side, 3), dtype=np.float32)
        img[..., 0] = 90 + 60 * x / side
        img[..., 1] = 110 + 40 * y / side
        img[..., 2] = 150 - 30 * (x + y) / (2 * side)
        head = ((x - side / 2) / (0.16 * side)) ** 2 + ((y - 0.3 * side) / (0.2 * side)) ** 2 <= 1
        img[head] = [205, 160, 130]
        body = (np.abs(x - side / 2) < 0.25 * side) & (y > 0.5 * side)
        img[body] = [60, 80, 140]
        if texture:
            img += (12 * np.sin(x / 3.0) * np.cos(y / 5.0))[..., None]
        out[top : top + 512] = np.clip(img, 0, 255).round().astype(np.uint8)
    return out


def make(folder: str) -> list:
    os.makedirs(folder, exist_ok=True)
    names = ("big.png", "big.jpg", "big.tiff", "smooth.tiff")
    files = [os.path.join(folder, name) for name in names]
    if not all(os.path.exists(f) for f in files[:3]):
        image = Image.fromarray(picture(SIDE))
        image.save(files[0], compress_level=6)
        image.save(files[1], quality=90)
        image.save(files[2], compression="tiff_lzw")
    if not os.path.exists(files[3]):
        # Without the texture: LZW shrinks it to a few MiB, the case where
        # decoding is cheap and the per-pixel work shows.
        Image.fromarray(picture(SIDE, texture=False)).save(files[3], compression="tiff_lzw")
    return files


def timed(argv: list) -> tuple:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    stderr = child.stderr.read().decode(errors="replace")
    child.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{argv}: exit {code}: {stderr}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def best(argv: list, repeat: int) -> tuple:
    runs = [timed(argv) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nanscope", default="target/release/nanscope")
    parser.add_argument("--dir", default="/tmp/nanscope-image-bench")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    files = make(args.dir)
    print(f"{SIDE}x{SIDE} RGB, best of {args.repeat}; nanscope = {args.nanscope}\n")
    print("| file | size | nanscope wall s | Pillow wall s | wall ratio | nanscope CPU s | Pillow CPU s "
          "| CPU ratio | nanscope peak MiB | Pillow peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in files:
        ours = best([args.nanscope, "image", "check", "--format", "json", "--size", f"{SIDE}x{SIDE}", path],
                    args.repeat)
        peer = best([sys.executable, "-c", PEER, path], args.repeat)
        size = os.path.getsize(path) / 2**20
        print(f"| {os.path.basename(path)} | {size:.1f} MiB | {ours[0]:.2f} | {peer[0]:.2f} | "
              f"{ours[0] / peer[0]:.2f} | {ours[1]:.2f} | {peer[1]:.2f} | {ours[1] / peer[1]:.2f} | "
              f"{ours[2]:.0f} | {peer[2]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
