#!/usr/bin/env bash
# Latency of `cachescope watch`: from saving a task's source file to its `verdict` line, with
# 10,000 records loaded (100 tasks in 10 files), over EDITS saves (default 200). Release build;
# needs python3. Prints p50, p90, p99 and the maximum.
# Usage: bench/watch-latency.sh [EDITS] [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
edits=${1:-200}
n=${2:-10000}
cargo build --release --quiet --bin cachescope --example watch_bench
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 bench/make_watch_project.py "$n" "$dir" --tasks 100 --files 10
CACHESCOPE=target/release/cachescope target/release/examples/watch_bench latency "$dir" "$edits"
