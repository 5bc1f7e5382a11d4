#!/usr/bin/env bash
# Keys per second on a 10,000-record folder, release build, measured side by side with the
# same recomputation in plain Python (bench/reference_keys.py) so the ratio survives a noisy
# machine. Needs python3 and hyperfine (apt-get install hyperfine).
# Usage: bench/keys-throughput.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 2; }
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 bench/make_records.py "$n" "$dir/runs"
./target/release/cachescope keys "$dir/runs" | tail -n 1
python3 bench/reference_keys.py "$dir/runs"
hyperfine --warmup 1 --runs 10 --export-json "$dir/h.json" \
  -n cachescope "./target/release/cachescope keys $dir/runs --json > /dev/null" \
  -n python-reference "python3 bench/reference_keys.py $dir/runs"
python3 - "$dir/h.json" "$n" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
n = int(sys.argv[2])
cs, py = res["cachescope"]["median"], res["python-reference"]["median"]
print(f"cachescope keys: {n / cs:,.0f} records/s (median {cs:.3f} s for {n} records)")
print(f"python reference: {n / py:,.0f} records/s (median {py:.3f} s)")
print(f"ratio: cachescope is {py / cs:.1f}x the plain-Python recomputation")
PY
