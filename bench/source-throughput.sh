#!/usr/bin/env bash
# Extraction throughput (functions per second) over a Python standard library, cachescope's
# inspect.getsource emulation side by side with CPython's own inspect.getsource in one run.
# Usage: bench/source-throughput.sh [PYTHON]   (default python3; its stdlib is measured)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-python3}
stdlib=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
cargo build --release --quiet --example source_throughput
rust=$(./target/release/examples/source_throughput "$stdlib" "$version" | tail -n 1)
base=$("$py" bench/source_baseline.py "$stdlib")
echo "cachescope:          $rust"
echo "inspect.getsource:   $base"
python3 - "$rust" "$base" <<'PY'
import re, sys
r = float(re.search(r"([0-9]+) functions/s", sys.argv[1]).group(1))
p = float(re.search(r"([0-9]+) functions/s", sys.argv[2]).group(1))
print(f"ratio: cachescope extracts {r / p:.1f}x as many functions per second as inspect.getsource")
PY
