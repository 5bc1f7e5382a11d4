"""The project behind tests/live_prefect.rs: written, run under real Prefect, edited, run again.

Usage (one step per process, so that each run imports the project as it is on disk then)::

    python live_scenario.py setup  PROJECT        copy tests/e2e/live/project/ to PROJECT
    python live_scenario.py run    PROJECT OUT    run the flow; write what Prefect did to OUT
    python live_scenario.py edit   PROJECT        the edits made between the two runs
    python live_scenario.py rename PROJECT        rename the task function ``describe``

``run`` records nothing itself: the test sets ``CACHESCOPE_RUNS`` and the recorder that
``pip install ./recorder`` put in the venv does the recording. OUT maps each task function's
qualname to its task run id, final state and the result file Prefect read or wrote (the
file's name is the cache key). Both runs use the same flow parameters, so every difference
between them comes from the edits.

Each edit replaces text that must occur exactly once; the script exits non-zero otherwise,
so an edit can never silently do nothing.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ORIGINAL = Path(__file__).resolve().parent / "live" / "project"

PARAMETERS = {"day": "2024-03-01", "channel": "#sales", "factor": 3}


@dataclass(frozen=True)
class Edit:
    file: str
    before: str
    after: str


# Between the two runs. Each task's expected fate is in tests/live_prefect.rs (CASES).
EDITS = [
    # (a) A comment inside a task: part of inspect.getsource, so TaskSource changes.
    Edit(
        "pipeline.py",
        "    # Stand-in for reading the day's export.\n",
        "    # Stand-in for reading the day's export: one number per order.\n",
    ),
    # (b) A docstring.
    Edit(
        "pipeline.py",
        '    """Says how many rows there are."""\n',
        '    """Says how many rows the day had."""\n',
    ),
    # (c) The decorator's arguments: getsource starts at the first decorator line.
    Edit(
        "pipeline.py",
        '@task(cache_policy=(INPUTS + TASK_SOURCE) - "debug", persist_result=True)\n',
        '@task(cache_policy=(INPUTS + TASK_SOURCE) - "debug", persist_result=True, retries=1)\n',
    ),
    # (c) on a method: its task name, indented inside the class.
    Edit("pipeline.py", 'name="ledger-total"', 'name="ledger-sum"'),
    # The function around a nested task, outside the task: not part of the task's source.
    Edit(
        "pipeline.py",
        '    """A task that multiplies by factor."""\n',
        '    """A task that multiplies a total by factor."""\n',
    ),
    # The definition of checksum that does not run (FAST_CHECKSUM is true). Both definitions
    # have the qualname "checksum": only the one nearest the recorded line is the task's.
    Edit(
        "pipeline.py",
        "        total = 0\n",
        "        # The slow way, kept to check the fast one.\n        total = 0\n",
    ),
    # A helper the task weigh calls, in the other file (one line longer: weigh moves down).
    Edit(
        "stages.py",
        '    """How much one row counts."""\n',
        '    """How much one row counts.\n\n    Empty rows count for nothing."""\n',
    ),
    # (d) Imports and a helper above every function, so each task's recorded line is stale.
    Edit("pipeline.py", "from dataclasses import dataclass\n", "import logging\nfrom dataclasses import dataclass\n"),
    Edit(
        "pipeline.py",
        "FAST_CHECKSUM = True\n",
        'FAST_CHECKSUM = True\nLOG = logging.getLogger("pipeline")\n\n\n'
        "def log_total(total: int) -> None:\n"
        '    """Logs the day\'s total."""\n'
        '    LOG.info("total %s", total)\n',
    ),
    # The flow uses the new helper: the flow's own source is in no task's key.
    Edit(
        "pipeline.py",
        "    total = run(summarize, rows, debug=True)\n",
        "    total = run(summarize, rows, debug=True)\n    log_total(total)\n",
    ),
]

# After the second run: a refactoring that renames a task function (and its call).
RENAME = [
    Edit("pipeline.py", "def describe(rows", "def describe_rows(rows"),
    Edit("pipeline.py", "run(describe, rows)", "run(describe_rows, rows)"),
]


def apply(project: Path, edits: list[Edit]) -> None:
    for edit in edits:
        path = project / edit.file
        text = path.read_text()
        count = text.count(edit.before)
        if count != 1:
            sys.exit(f"{path}: {edit.before!r} occurs {count} times, the edit needs it once")
        path.write_text(text.replace(edit.before, edit.after))


def run(project: Path, out: Path) -> None:
    # The project is imported from its folder, as `python pipeline.py` would find it.
    sys.path.insert(0, str(project))
    import pipeline

    observed = pipeline.nightly(**PARAMETERS)
    out.write_text(json.dumps(observed, indent=2, sort_keys=True) + "\n")


def main(argv: list[str]) -> None:
    usage = "usage: live_scenario.py setup|run|edit|rename PROJECT [OUT]"
    if len(argv) < 2:
        sys.exit(usage)
    command, project = argv[0], Path(argv[1])
    if command == "setup" and len(argv) == 2:
        shutil.copytree(ORIGINAL, project, ignore=shutil.ignore_patterns("__pycache__"))
    elif command == "run" and len(argv) == 3:
        run(project, Path(argv[2]))
    elif command == "edit" and len(argv) == 2:
        apply(project, EDITS)
    elif command == "rename" and len(argv) == 2:
        apply(project, RENAME)
    else:
        sys.exit(usage)


if __name__ == "__main__":
    main(sys.argv[1:])
