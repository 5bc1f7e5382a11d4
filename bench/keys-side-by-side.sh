#!/usr/bin/env bash
# Two or more builds of cachescope side by side: `keys DIR --json` (output to /dev/null) run by
# each binary in turn, ROUNDS times, so that every binary meets the machine's load of the same
# minutes; prints each one's median and minimum wall and CPU time (user + system, GNU time).
# Use it to compare a change with the commit before it (build each into its own place first).
# Needs GNU time (/usr/bin/time) and python3.
# Usage: bench/keys-side-by-side.sh DIR ROUNDS BIN...
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: bench/keys-side-by-side.sh DIR ROUNDS BIN..." >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 2; }
dir=$1
rounds=$2
shift 2
times=$(mktemp)
trap 'rm -f "$times"' EXIT
for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    /usr/bin/time -f "$bin %e %U %S" -a -o "$times" "$bin" keys "$dir" --json >/dev/null 2>&1
  done
done
python3 - "$times" "$@" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for bin in sys.argv[2:]:
    wall = [float(r[1]) for r in rows if r[0] == bin]
    cpu = [float(r[2]) + float(r[3]) for r in rows if r[0] == bin]
    print(f"{bin}: wall median {statistics.median(wall):.3f} s (min {min(wall):.3f}), "
          f"CPU median {statistics.median(cpu):.3f} s (min {min(cpu):.3f}), {len(wall)} runs")
PY
