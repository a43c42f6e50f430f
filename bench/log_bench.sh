#!/usr/bin/env bash
# Speed of `nanscope log check` on a generated 1 GiB server log, against
# `grep -c` (one fixed string) and `wc -l` on the same file, in one run.
# The log is generated (not committed): realistic INFO/progress lines with the
# incident's signature lines spread through it. Results go to reports/log-check.md.
#
#   bench/log_bench.sh [SIZE_MIB] [NANSCOPE_BINARY]
#
# With RATES set (say RATES="400m 700m 1200m", pv's units), the file is also
# fed through a FIFO at each of those rates, standing in for disks of that
# speed where the page cache cannot be dropped (virtual machines): nanscope
# keeps up with a disk when its time equals pv's alone.
set -euo pipefail
size_mib=${1:-1024}
bin=${2:-target/release/nanscope}
log=${TMPDIR:-/tmp}/nanscope-bench-${size_mib}m.log

if [ ! -s "$log" ]; then
  python3 - "$log" "$size_mib" <<'PY'
import sys
path, mib = sys.argv[1], int(sys.argv[2])
lines = []
for i in range(12000):
    s = i % 60
    lines.append(f"2025-11-20 14:{(i // 60) % 60:02d}:{s:02d},{i % 1000:03d} INFO:     127.0.0.1:{40000 + i % 9000} - \"GET /job-status/{i:08x} HTTP/1.1\" 200 OK")
    if i % 7 == 0:
        lines.append(f" {i % 100:3d}%|{'#' * (i % 10):<10}| {i % 30}/30 [00:{i % 60:02d}<00:{(60 - i % 60) % 60:02d},  1.{i % 90:02d}s/it]")
block = ("\n".join(lines) + "\n").encode()
incident = (
    "2025-11-20 14:00:27,999 Pipeline output shape: torch.Size([1, 3, 120, 768, 768]), range: [nan, nan]\n"
    "2025-11-20 14:00:30,000 WARNING: NaN values detected in video tensor, replacing with zeros\n"
    "2025-11-20 14:00:33,407 /app/src/utils/util.py:98: RuntimeWarning: invalid value encountered in cast\n"
).encode()
target = mib << 20
written = 0
with open(path, "wb") as f:
    n = 0
    while written < target:
        chunk = block if n % 97 else block + incident
        f.write(chunk)
        written += len(chunk)
        n += 1
PY
fi

bytes=$(stat -c %s "$log")
# Warm the page cache so that every tool reads from memory alike.
cat "$log" > /dev/null

# Output goes to a file, not /dev/null: GNU grep stops at the first match
# when its output is /dev/null.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeit() { local t0 t1; t0=$(date +%s.%N); "$@" > "$out"; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }

t_wc=$(timeit wc -l "$log")
t_grep=$(timeit grep -c -F 'invalid value encountered in cast' "$log")
t_nan=$(timeit "$bin" log check "$log" --format json --fail-on never)
lines=$(wc -l < "$log")

printf 'file: %s (%d bytes, %d lines)\n' "$log" "$bytes" "$lines"
printf '%-32s %8.2f s  %8.0f MiB/s\n' "wc -l" "$t_wc" "$(echo "$bytes / 1048576 / $t_wc" | bc -l)"
printf '%-32s %8.2f s  %8.0f MiB/s\n' "grep -c -F (one string)" "$t_grep" "$(echo "$bytes / 1048576 / $t_grep" | bc -l)"
printf '%-32s %8.2f s  %8.0f MiB/s\n' "nanscope log check" "$t_nan" "$(echo "$bytes / 1048576 / $t_nan" | bc -l)"
printf 'ratio nanscope / grep -c: %.2f   nanscope / wc -l: %.2f\n' "$(echo "$t_nan / $t_grep" | bc -l)" "$(echo "$t_nan / $t_wc" | bc -l)"

for rate in ${RATES:-}; do
  command -v pv >/dev/null || { echo "RATES needs pv (apt-get install pv)" >&2; exit 2; }
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  t_pv=$(timeit pv -q -L "$rate" "$log")
  pv -q -L "$rate" "$log" > "$fifo" &
  t_fifo=$(timeit "$bin" log check "$fifo" --format json --fail-on never)
  wait
  rm -f "$fifo"
  printf 'source at %-6s  pv alone %6.2f s  nanscope through the FIFO %6.2f s  (%.2f of the source)\n' \
    "$rate" "$t_pv" "$t_fifo" "$(echo "$t_fifo / $t_pv" | bc -l)"
done
