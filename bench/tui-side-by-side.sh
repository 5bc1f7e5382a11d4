#!/usr/bin/env bash
# Two or more builds of the inspector side by side: each opens DIR in a 160x45 tmux pane in
# turn, ROUNDS times, and the UI's own "loaded N runs … in X ms" figure is read off the pane
# (polled every 200 ms, which the load barely feels); prints each binary's figures and median.
# Needs tmux. Usage: bench/tui-side-by-side.sh DIR ROUNDS BIN...
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: bench/tui-side-by-side.sh DIR ROUNDS BIN..." >&2; exit 2; }
command -v tmux >/dev/null || { echo "tmux is needed: apt-get install tmux" >&2; exit 2; }
dir=$(realpath "$1")
rounds=$2
shift 2
sock="cachescope-side-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true' EXIT
declare -A figures
for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    tmux -L "$sock" kill-server 2>/dev/null || true
    tmux -L "$sock" new-session -d -x 160 -y 45 "$bin $dir"
    ms=""
    for _ in $(seq 1500); do
      sleep 0.2
      ms=$(tmux -L "$sock" capture-pane -p 2>/dev/null |
        grep -o "loaded [0-9,]* runs\? of [0-9,]* tasks\? in [0-9]* ms" |
        grep -o "in [0-9]* ms" | grep -o "[0-9]*" || true)
      [ -n "$ms" ] && break
    done
    [ -n "$ms" ] || { echo "$bin: no full load after 300 s" >&2; exit 1; }
    tmux -L "$sock" send-keys q
    sleep 0.5
    figures[$bin]="${figures[$bin]:-} $ms"
  done
done
for bin in "$@"; do
  median=$(tr ' ' '\n' <<<"${figures[$bin]}" | grep . | sort -n |
    awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  echo "$bin: full load${figures[$bin]} ms, median $median ms"
done
