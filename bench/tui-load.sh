#!/usr/bin/env bash
# The terminal UI on a big runs folder: time to the first frame (the inspector's frame on the
# screen, measured by polling a tmux pane every 5 ms from the moment the command starts; then
# every 500 ms, so that polling does not slow the load it waits for) and to
# the full load (the UI's own "loaded N runs of M tasks in X ms" message: from the start of the
# load until the UI holds every run, grouped and listed), and the peak memory of the whole
# session (GNU time). Each round then times `cachescope keys DIR --json` (the whole process,
# output to /dev/null) on the same records, so that the two are compared in the same minutes,
# and the last line gives the medians and their ratio. Needs tmux and GNU time; release build.
# Usage: bench/tui-load.sh DIR [ROUNDS]     (DIR: records, e.g. made by bench/make_records.py)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(realpath "$1")
rounds=${2:-3}
command -v tmux >/dev/null || { echo "tmux is needed: apt-get install tmux" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 2; }
cargo build --release --quiet --bin cachescope
bin=$(realpath target/release/cachescope)
sock="cachescope-bench-$$"
out=$(mktemp -d)
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$out"' EXIT
for i in $(seq "$rounds"); do
  tmux -L "$sock" kill-server 2>/dev/null || true
  rm -f "$out/rss"
  tmux -L "$sock" new-session -d -x 160 -y 45 "bash --norc --noprofile"
  tmux -L "$sock" send-keys "/usr/bin/time -f '%M' -o $out/rss $bin $dir; exit" Enter
  start=$(date +%s%N)
  first=""
  loaded=""
  while :; do
    screen=$(tmux -L "$sock" capture-pane -p 2>/dev/null || true)
    now=$(date +%s%N)
    if [ -z "$first" ] && grep -q "Runs (" <<<"$screen"; then
      first=$(( (now - start) / 1000000 ))
    fi
    if [ -n "$first" ] && loaded=$(grep -o "loaded [0-9,]* runs\? of [0-9,]* tasks\? in [0-9]* ms" <<<"$screen"); then
      break
    fi
    if [ $(( (now - start) / 1000000000 )) -gt 300 ]; then echo "no full load after 300 s" >&2; exit 1; fi
    # Fast until the first frame; then slowly, so that polling (a tmux client and a grep each
    # time, a few ms of CPU) does not take the cores the load runs on: the load time is the
    # UI's own figure, so it need not be watched for.
    if [ -z "$first" ]; then sleep 0.005; else sleep 0.5; fi
  done
  tmux -L "$sock" send-keys q
  for _ in $(seq 200); do [ -s "$out/rss" ] && break; sleep 0.05; done
  ms=$(grep -o "in [0-9]* ms" <<<"$loaded" | grep -o "[0-9]*")
  k0=$(date +%s%N)
  "$bin" keys "$dir" --json >/dev/null
  keys=$(( ($(date +%s%N) - k0) / 1000000 ))
  echo "$ms $keys" >>"$out/pairs"
  echo "round $i: first frame ${first} ms; $loaded; peak memory $(( $(cat "$out/rss") / 1024 )) MB; keys --json ${keys} ms"
done
python3 - "$out/pairs" <<'PY'
import statistics, sys
pairs = [tuple(map(int, line.split())) for line in open(sys.argv[1])]
tui, keys = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
print(f"median: full load {tui:.0f} ms, keys --json {keys:.0f} ms: the load takes {tui / keys:.2f}x keys' time")
PY
