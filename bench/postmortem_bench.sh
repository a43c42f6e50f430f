#!/usr/bin/env bash
# Benchmark of `nanscope postmortem` against the single checks it runs, on a
# generated run folder (nothing committed): 2 GB of fp16 weights in
# EchoMimicV2's pretrained_weights/ layout, a 10 s 768x768 H.264 video with
# AAC audio, the WAV, and 240 pose frames.
#
#   bench/postmortem_bench.sh [NANSCOPE_BINARY] [WORK_DIR]
#
# Prints the wall time of each single check and of postmortem, and the
# ratio postmortem / slowest single check (the goal: at most 1.2).
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
ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i "testsrc2=size=768x768:rate=24:duration=10" \
    -f lavfi -i "sine=frequency=440:duration=10" -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac \
    -shortest "$RUN/output/video.mp4"
ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i "sine=frequency=440:duration=10" "$RUN/audio.wav"
for i in $(seq 0 239); do cp "fixtures/pose/echomimic_clean/$((i % 24)).npy" "$RUN/poses/$i.npy"; done
du -sh "$RUN/pretrained_weights" "$RUN/output/video.mp4"

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }
# Warm the page cache so every command reads from memory.
cat "$RUN"/pretrained_weights/* > /dev/null
w=$(t "$BIN" weights "$RUN/pretrained_weights" --no-progress)
v=$(t "$BIN" video check "$RUN/output/video.mp4" --expect-audio --no-progress)
p=$(t "$BIN" pose check "$RUN/poses" --audio "$RUN/audio.wav" --no-progress)
pm=$(t "$BIN" postmortem "$RUN" --no-progress --format json -o "$WORK/postmortem.json")
slowest=$(printf '%s\n' "$w" "$v" "$p" | sort -g | tail -1)
echo "weights      ${w}s"
echo "video check  ${v}s"
echo "pose check   ${p}s"
echo "postmortem   ${pm}s"
echo "ratio postmortem / slowest single check: $(echo "scale=3; $pm / $slowest" | bc)"
python3 -c "import json; d=json.load(open('$WORK/postmortem.json')); print('verdict', d['verdict']['root_cause']['code'], d['summary'])"
