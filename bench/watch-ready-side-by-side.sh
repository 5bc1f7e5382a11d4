#!/usr/bin/env bash
# Two or more builds of cachescope side by side on the start of a live session: each binary in
# turn runs `watch ARGS...`, and is stopped as soon as it prints its `ready` event; ROUNDS times,
# so that every binary meets the machine's load of the same minutes. Prints each one's median
# and minimum time to `ready` and CPU time (user + system, up to the stop). The first round
# also warms the page cache: compare warm rounds.
# Needs python3.
# Usage: bench/watch-ready-side-by-side.sh ROUNDS BIN... -- WATCH_ARGS...
#   e.g. bench/watch-ready-side-by-side.sh 5 /tmp/before /tmp/after -- RUNS --project DIR
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: bench/watch-ready-side-by-side.sh ROUNDS BIN... -- WATCH_ARGS..." >&2; exit 2; }
exec python3 - "$@" <<'PY'
import resource, statistics, subprocess, sys, time

rounds = int(sys.argv[1])
rest = sys.argv[2:]
if "--" not in rest:
    sys.exit("usage: bench/watch-ready-side-by-side.sh ROUNDS BIN... -- WATCH_ARGS...")
bins, args = rest[: rest.index("--")], rest[rest.index("--") + 1 :]

def cpu_of_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

results = {b: ([], []) for b in bins}
for _ in range(rounds):
    for b in bins:
        cpu_before = cpu_of_children()
        start = time.monotonic()
        p = subprocess.Popen([b, "watch", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        ready = None
        for line in p.stdout:
            if '"event":"ready"' in line.replace(" ", ""):
                ready = time.monotonic() - start
                break
        p.kill()
        p.wait()
        if ready is None:
            sys.exit(f"{b}: watch ended without a ready event")
        results[b][0].append(ready)
        results[b][1].append(cpu_of_children() - cpu_before)
for b, (ready, cpu) in results.items():
    print(f"{b}: ready median {statistics.median(ready):.3f} s (min {min(ready):.3f}), "
          f"CPU median {statistics.median(cpu):.3f} s (min {min(cpu):.3f}), {len(ready)} runs")
PY
