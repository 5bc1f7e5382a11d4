#!/usr/bin/env bash
# A storm for `cachescope watch`: 1,000 task source files (one task each, 10,000 records)
# rewritten as fast as possible, ROUNDS times (default 5), as a `git checkout` or a formatter
# would. Each round checks that every task got exactly one verdict line and that each last key
# is what `cachescope keys --live` computes from scratch, and prints the time to settle after
# the last write and the watcher's memory (RSS and peak). Release build; needs python3.
# Usage: bench/watch-storm.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
cargo build --release --quiet --bin cachescope --example watch_bench
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 bench/make_watch_project.py 10000 "$dir" --tasks 1000 --files 1000
CACHESCOPE=target/release/cachescope target/release/examples/watch_bench storm "$dir" "$rounds"
