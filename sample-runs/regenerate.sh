#!/usr/bin/env bash
# Regenerates the demo records (runs/) and Prefect's result files (storage/) with real
# Prefect 3.9.1 and the recorder from this checkout. Takes about three minutes: every run is
# its own Python process, and each starts a temporary local Prefect server.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"

# The test suite's venv when it exists (tests/support/mod.rs makes it), else one of our own.
venv="$repo/target/tmp/venvs/prefect-3.9.1-py3"
if [ ! -x "$venv/bin/python" ]; then
  venv="$repo/target/sample-runs-venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "prefect==3.9.1"
  fi
fi
"$venv/bin/python" -c 'import prefect, sys; sys.exit(prefect.__version__ != "3.9.1")' \
  || { echo "regenerate.sh: $venv does not have prefect 3.9.1" >&2; exit 2; }
# The recorder as it is in this checkout, so the records show what it writes today.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$repo/recorder"

exec "$venv/bin/python" "$here/regenerate.py"
