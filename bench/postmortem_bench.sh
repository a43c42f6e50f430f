#!/usr/bin/env bash
# Benchmark of `nanscope postmortem` against the single checks it runs, on a
# generated run folder (nothing committed): 2 GB of fp16 weights in
# EchoMimicV2's pretrained_weights/ layout, a 10 s 768x768 H.264 video with
# AAC audio, the WAV, and 240 pose frames.
#
#   bench/postmortem_bench.sh [NANSCOPE_BINARY] [WORK_DIR]
#
# Prints the wall and CPU time of each single check and of postmortem, the
# ratio postmortem / slowest single check (the goal: at most 1.2), and the
# least that ratio can be on this machine: the checks' CPU time spread over
# every core, or the slowest check, whichever is longer. Run under
# `taskset -c 0-3` it measures what 4 cores allow (the floor counts the cores
# the process may use).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/nanscope}
WORK=${2:-$(mktemp -d)}
RUN="$WORK/run"
mkdir -p "$RUN/pretrained_weights" "$RUN/output" "$RUN/poses"

if [ ! -e "$RUN/pretrained_weights/denoising_unet.safetensors" ]; then
    python3 - "$RUN/pretrained_weights" <<'PY'
import sys, numpy as np
from safetensors.numpy import save_file
out = sys.argv[1]
rng = np.random.default_rng(0)
def write(name, total_bytes):
    tensors, n, i = {}, 0, 0
    while n < total_bytes:
        shape = (1280, 1280) if i % 4 else (1280, 640, 3, 3)
        t = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)
        tensors[f"blocks.{i}.weight"] = t
        n += t.nbytes
        i += 1
    save_file(tensors, f"{out}/{name}")
write("denoising_unet.safetensors", 1_300_000_000)
write("reference_unet.safetensors", 700_000_000)
PY
fi
# The video and the WAV are kept when WORK_DIR already has them (made here or
# elsewhere: the encode needs an ffmpeg with libx264).
if [ ! -e "$RUN/output/video.mp4" ]; then
    ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i "testsrc2=size=768x768:rate=24:duration=10" \
        -f lavfi -i "sine=frequency=440:duration=10" -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac \
        -shortest "$RUN/output/video.mp4"
fi
if [ ! -e "$RUN/audio.wav" ]; then
    ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i "sine=frequency=440:duration=10" "$RUN/audio.wav"
fi
for i in $(seq 0 239); do cp "fixtures/pose/echomimic_clean/$((i % 24)).npy" "$RUN/poses/$i.npy"; done
du -sh "$RUN/pretrained_weights" "$RUN/output/video.mp4"

# Every command reads the weights from memory, held as a read from disk
# leaves them: dropped from the page cache (once written back), then read
# again. The kernel then keeps them in 2 MiB folios, which map several
# times faster than the small ones a fresh write or memory pressure leaves
# (reports/postmortem.md); without this step the weights scan's time
# depends on the files' history. EVICT=0 keeps the cache as it is.
if [ "${EVICT:-1}" = 1 ]; then
    python3 - "$RUN"/pretrained_weights/* <<'PY'
import os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY
fi
cat "$RUN"/pretrained_weights/* > /dev/null
# Each command runs ROUNDS times, interleaved; the medians of wall time and
# of CPU time (user + system, the programs it starts included) are printed.
python3 - "$BIN" "$RUN" "$WORK" "${ROUNDS:-5}" <<'PY'
import json, os, resource, statistics, subprocess, sys, time
binary, run, work, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
checks = {
    "weights": ["weights", f"{run}/pretrained_weights"],
    "video check": ["video", "check", f"{run}/output/video.mp4", "--expect-audio"],
    "pose check": ["pose", "check", f"{run}/poses", "--audio", f"{run}/audio.wav"],
}
commands = dict(checks, postmortem=["postmortem", run, "--format", "json", "-o", f"{work}/postmortem.json"])
def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
times = {name: ([], []) for name in commands}
for _ in range(rounds):
    for name, args in commands.items():
        c, t = cpu(), time.perf_counter()
        subprocess.run([binary, *args, "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[name][0].append(time.perf_counter() - t)
        times[name][1].append(cpu() - c)
wall = {n: statistics.median(w) for n, (w, _) in times.items()}
cpus = {n: statistics.median(c) for n, (_, c) in times.items()}
for name in commands:
    print(f"{name:<12} {wall[name]:.3f} s wall  {cpus[name]:.3f} s CPU")
slowest = max(wall[n] for n in checks)
cores = len(os.sched_getaffinity(0))  # what taskset leaves, not what the machine has
floor = max(slowest, sum(cpus[n] for n in checks) / cores)
print(f"ratio postmortem / slowest single check: {wall['postmortem'] / slowest:.2f}")
print(f"floor on {cores} cores, max(slowest check, sum of the checks' CPU / cores): {floor:.3f} s, "
      f"ratio {floor / slowest:.2f}")
d = json.load(open(f"{work}/postmortem.json"))
print("verdict", d["verdict"]["root_cause"]["code"], d["summary"])
PY
