#!/usr/bin/env bash
# cachescope keys --json against the plainest fast CPython equivalent (bench/reference_keys.py:
# json + hashlib, the spec's recipe), on the same records, alternating run by run so that the
# ratio survives a busy machine. Prints each run, the medians, the ratio and the peak memory
# (maximum resident set size) of each, and the CPU time of each (user + system, GNU time): on a
# machine busy with other work the wall-clock ratio is what the cores left give cachescope, the
# CPU ratio is the work. Needs python3, hyperfine and GNU time (/usr/bin/time).
# Usage: bench/keys-ratio.sh DIR [ROUNDS]     (DIR: records, e.g. made by bench/make_records.py)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1
rounds=${2:-5}
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 2; }
cargo build --release --quiet
cs=(./target/release/cachescope keys "$dir" --json)
py=(python3 bench/reference_keys.py "$dir")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Both must agree that every record was read; Python's count of matches is its own check.
"${cs[@]}" | wc -l | sed 's/^/cachescope lines: /'
"${py[@]}"
for i in $(seq "$rounds"); do
  # hyperfine times one run of each, in turn; GNU time measures their peak memory.
  hyperfine -N --runs 1 --export-json "$tmp/h$i.json" -n cachescope "${cs[*]}" -n python "${py[*]}" >/dev/null
  /usr/bin/time -v "${cs[@]}" 2>"$tmp/cs$i.time" >/dev/null
  /usr/bin/time -v "${py[@]}" 2>"$tmp/py$i.time" >/dev/null
done
python3 - "$tmp" "$rounds" <<'PY'
import json, re, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
times = {"cachescope": [], "python": []}
rss = {"cachescope": [], "python": []}
cpu = {"cachescope": [], "python": []}
for i in range(1, rounds + 1):
    for r in json.load(open(f"{tmp}/h{i}.json"))["results"]:
        times[r["command"]].append(r["times"][0])
    for name, short in (("cachescope", "cs"), ("python", "py")):
        text = open(f"{tmp}/{short}{i}.time").read()
        rss[name].append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)))
        cpu[name].append(sum(float(re.search(rf"{what} time \(seconds\): ([0-9.]+)", text).group(1))
                             for what in ("User", "System")))
for name in times:
    print(f"{name:10} runs: " + ", ".join(f"{t:.3f}" for t in times[name]) + " s")
cs, py = statistics.median(times["cachescope"]), statistics.median(times["python"])
ccpu, pcpu = statistics.median(cpu["cachescope"]), statistics.median(cpu["python"])
print(f"cachescope keys --json: median {cs:.3f} s wall, {ccpu:.2f} s CPU, peak memory {max(rss['cachescope']) / 1024:.0f} MB")
print(f"python reference:       median {py:.3f} s wall, {pcpu:.2f} s CPU, peak memory {max(rss['python']) / 1024:.0f} MB")
print(f"ratio: cachescope is {py / cs:.1f}x the plain CPython recomputation (wall), {pcpu / ccpu:.1f}x in CPU time")
PY
