#!/usr/bin/env bash
# The inspector in live mode on a big runs folder, while a `.jsonl` file grows: how long after
# one more record is appended the inspector lists it (the watcher's debounce, the file read
# again on every core, its runs put in place), how long it then takes to answer a key (the
# UI thread is free again), and its memory (resident set size) before live mode, in live mode,
# and after the appends. Works on a copy of DIR (under /tmp): nothing is written into DIR.
# Needs tmux; release build.
# Usage: bench/tui-reload.sh DIR [APPENDS]     (DIR: .jsonl records, e.g. made by
#        bench/make_records.py --jsonl)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(realpath "$1")
appends=${2:-3}
command -v tmux >/dev/null || { echo "tmux is needed: apt-get install tmux" >&2; exit 2; }
file=$(find "$src" -name '*.jsonl' | sort | head -1)
[ -n "$file" ] || { echo "no .jsonl file under $src" >&2; exit 2; }
cargo build --release --quiet --bin cachescope
bin=$(realpath target/release/cachescope)
work=$(mktemp -d)
sock="cachescope-reload-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r "$src" "$work/runs"
grown="$work/runs/${file#"$src"/}"
line=$(tail -n 1 "$grown")
screen() { tmux -L "$sock" capture-pane -p; }
wait_for() { # a pattern on the screen, for at most 300 s
  for _ in $(seq 15000); do screen | grep -q "$1" && return 0; sleep 0.02; done
  echo "never saw: $1" >&2; exit 1
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
rss() { awk '/VmRSS/ {printf "%d MB", $2 / 1024}' "/proc/$pid/status"; }
tmux -L "$sock" new-session -d -x 160 -y 45 "$bin $work/runs"
wait_for "loaded [0-9,]* runs\? of"
pid=$(tmux -L "$sock" list-panes -F '#{pane_pid}')
runs=$(screen | grep -o "Runs ([0-9]*)" | head -1 | grep -o "[0-9]*")
echo "loaded $runs runs; memory $(rss)"
tmux -L "$sock" send-keys l
wait_for "live: watching"
echo "live mode; memory $(rss)"
for i in $(seq "$appends"); do
  sleep 1
  start=$(date +%s%N)
  printf '%s\n' "$line" >>"$grown"
  wait_for "Runs ($(( runs + i )))"
  listed=$(ms_since "$start")
  before=$(screen | sed -n 2,6p)
  start=$(date +%s%N)
  tmux -L "$sock" send-keys j
  until [ "$(screen | sed -n 2,6p)" != "$before" ]; do sleep 0.01; done
  echo "append $i: listed after $listed ms; a key answered $(ms_since "$start") ms later; memory $(rss)"
done
tmux -L "$sock" send-keys q
