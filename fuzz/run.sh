#!/usr/bin/env bash
# Runs one fuzz target for as long as asked: fuzz/run.sh TARGET SECONDS [extra libFuzzer flags]
# Targets: load pyjson source policy_expr sanitize record_fast (fuzz/fuzz_targets/).
#
# The committed seeds (fuzz/seeds/TARGET) are read but never written: what libFuzzer finds
# goes to fuzz/corpus/TARGET (ignored by git), and crashes to fuzz/artifacts/TARGET.
# `source` also compares with CPython's inspect.getsource as committed in fuzz/source-truth
# (fuzz/make_source_truth.py writes it); a difference is a crash like any other.
# cargo fuzz wants nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")"
if [ $# -lt 2 ]; then
  echo "usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2
# The cargo-fuzz `cargo test` installs where PATH has none, if it did.
PATH="$PATH:$(pwd)/../target/tmp/tools/bin"
command -v cargo-fuzz >/dev/null || {
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked --version 0.13.2" >&2
  exit 2
}
mkdir -p "corpus/$target"
export RUSTC_BOOTSTRAP=1
exec cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
  -max_total_time="$seconds" -print_final_stats=1 "$@"
