"""Real Prefect 3.9.1 runs, recorded by cachescope-recorder, of a flow whose tasks have several
runs per flow run (``pairing/readings.py``: a task mapped by the parent flow, a task mapped
inside a subflow, a task called once per region), for ``cachescope explain`` with one record:
it must compare each run with the same call in the previous flow run, never with a sibling.

Usage: ``python pairing_scenarios.py OUT`` with Prefect and the recorder installed, and a fresh
``PREFECT_HOME``. OUT must be empty or absent.

The flow file runs twice, as a user runs it (``python readings.py``), in two processes that
record through ``CACHESCOPE_RUNS`` (the recorder switched on at start-up by its ``.pth`` file)
into folders not named ``runs``: ``OUT/nightly/flow history/2024-06-01 first run`` and
``.../2024-06-02 second run``, beside the project and Prefect's result storage. Between the two,
one field of one reading changes. The umask is set to 022, so records and result files must
both be 0644.

Written into OUT: ``manifest.json`` with ``umask``, ``storage`` (Prefect's result folder),
``records`` (every record file) and ``cases``: each ``{"case", "task", "b", "a", "pairing",
"verdict", "changes", "siblings_before_b", "text"}``: ``explain B`` must pick ``a`` with that
``pairing`` and ``verdict``; for a miss, ``changes`` are exactly the Inputs culprit's changes
(``path``, ``old``, ``new``); ``siblings_before_b`` says that runs of B's own flow run were
recorded before B (so picking the latest earlier run would pick a sibling); ``text`` is a line
the text output must contain.

The script checks that the runs happened as the cases claim (which runs hit, which keys are
equal, which element each record is) and exits 1 when they did not.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from prefect.server.api.server import SubprocessASGIServer

PROJECT = Path(__file__).resolve().parent / "pairing" / "readings.py"
REGIONS = ["north", "south", "east"]
READINGS = [
    {"sensor": "n-1", "region": "north", "value": 21.5, "unit": "C"},
    {"sensor": "n-2", "region": "north", "value": 70.7, "unit": "F"},
    {"sensor": "s-1", "region": "south", "value": 24.0, "unit": "C"},
    {"sensor": "e-1", "region": "east", "value": 19.25, "unit": "C"},
]
# The second night: one field of one reading changed (still below the alert threshold, so
# only the temperature moves downstream).
CHANGED = 2
READINGS_2 = copy.deepcopy(READINGS)
READINGS_2[CHANGED]["value"] = 31.5
UMASK = 0o022

PROBLEMS: list[str] = []


def require(ok: bool, problem: str) -> None:
    if not ok:
        PROBLEMS.append(problem)


def run_night(project: Path, runs: Path, storage: Path, readings: list[dict[str, Any]], api_url: str) -> None:
    # Beside the project, not in the runs tree, which must hold only runs.
    data = project.parent / f"readings {runs.name}.json"
    data.write_text(json.dumps(readings))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CACHESCOPE_")}
    env.update(
        PREFECT_API_URL=api_url,
        PREFECT_LOCAL_STORAGE_PATH=str(storage),
        CACHESCOPE_RUNS=str(runs),
        CACHESCOPE_PROJECT_ROOT=str(project),
    )
    done = subprocess.run([sys.executable, str(project / "readings.py"), str(data)], cwd=project, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"readings.py into {runs} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


class Night:
    """The records of one run of the flow file."""

    def __init__(self, runs: Path) -> None:
        self.paths = sorted(runs.glob("*.json"))
        self.records = {p: json.loads(p.read_text()) for p in self.paths}

    def of(self, task: str) -> list[tuple[Path, dict[str, Any]]]:
        return [(p, r) for p, r in self.records.items() if r["task"]["name"] == task]

    def element(self, task: str, index: int) -> tuple[Path, dict[str, Any]]:
        found = [(p, r) for p, r in self.of(task) if r["task_run"].get("map_index") == index]
        if len(found) != 1:
            sys.exit(f"{len(found)} records of {task} with map_index {index}")
        return found[0]

    def call(self, task: str, index: int) -> tuple[Path, dict[str, Any]]:
        found = [(p, r) for p, r in self.of(task) if r["task_run"].get("call_index") == index]
        if len(found) != 1:
            sys.exit(f"{len(found)} records of {task} with call_index {index}")
        return found[0]


def check_calls(night: Night, readings: list[dict[str, Any]], label: str) -> None:
    """Each record says which call it was, and that is the call its inputs show."""
    cleaned_sensors = [r["sensor"] for r in readings]
    for task in ("clean", "score"):
        runs = night.of(task)
        require(len(runs) == len(readings), f"{label}: {len(runs)} runs of {task}")
        for path, record in runs:
            tr = record["task_run"]
            index = tr.get("map_index")
            require(isinstance(index, int), f"{label}: {path.name} has no map_index: {tr}")
            if not isinstance(index, int):
                continue
            reading = record["inputs"]["reading"]
            if task == "clean":
                require(reading == readings[index], f"{label}: clean element {index} got {reading}")
                require(record["flow"]["name"] == "nightly", f"{label}: clean ran in {record['flow']['name']}")
            else:
                require(reading["sensor"] == cleaned_sensors[index], f"{label}: score element {index} got {reading}")
                require(record["flow"]["name"] == "score-batch", f"{label}: score ran in {record['flow']['name']}")
            # One task mapped once per flow run: its calls are its elements.
            require(tr.get("call_index") == index, f"{label}: {task} element {index} is call {tr.get('call_index')}")
            # Prefect's own dynamic_key says nothing about the element: a random UUID.
            require(isinstance(tr.get("dynamic_key"), str) and len(tr["dynamic_key"]) == 36, f"{label}: dynamic_key {tr.get('dynamic_key')!r}")
    runs = night.of("summarize")
    require(len(runs) == len(REGIONS), f"{label}: {len(runs)} runs of summarize")
    for path, record in runs:
        tr = record["task_run"]
        index = tr.get("call_index")
        require(tr.get("map_index") is None, f"{label}: summarize is not mapped: {tr}")
        require(isinstance(index, int) and record["inputs"]["region"] == REGIONS[index], f"{label}: summarize call {index} got {record['inputs']['region']}")


CASES: list[dict[str, Any]] = []


def case(name: str, task: str, a: tuple[Path, dict[str, Any]], b: tuple[Path, dict[str, Any]], night_b: Night, pairing: str, verdict: str, changes: Optional[list[dict[str, Any]]], text: str) -> None:
    (a_path, a_rec), (b_path, b_rec) = a, b
    state = b_rec["outcome"]["state"]
    require((verdict == "hit") == (state == "Cached"), f"{name}: B ended {state}, the case says {verdict}")
    require((a_rec["key"] == b_rec["key"]) == (verdict == "hit"), f"{name}: keys {a_rec['key']} and {b_rec['key']}")
    flow_run = b_rec["flow"]["run_id"]
    siblings = [r for _, r in night_b.of(task) if r["flow"]["run_id"] == flow_run and r["task_run"]["id"] != b_rec["task_run"]["id"] and r["recorded_at"] < b_rec["recorded_at"]]
    CASES.append({"case": name, "task": task, "a": str(a_path), "b": str(b_path), "pairing": pairing, "verdict": verdict, "changes": changes, "siblings_before_b": bool(siblings), "text": text})


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    # Before any thread starts: the umask is process-wide.
    os.umask(UMASK)
    out = Path(sys.argv[1]).resolve()
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty")
    started = time.monotonic()
    base = out / "nightly"
    project = base / "project"
    project.mkdir(parents=True)
    shutil.copy(PROJECT, project / "readings.py")
    storage = base / "storage"
    history = base / "flow history"
    first, second = history / "2024-06-01 first run", history / "2024-06-02 second run"

    server = SubprocessASGIServer()
    # Waits PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, which the tests set.
    server.start()
    try:
        run_night(project, first, storage, READINGS, server.api_url)
        run_night(project, second, storage, READINGS_2, server.api_url)
    finally:
        server.stop()

    night1, night2 = Night(first), Night(second)
    check_calls(night1, READINGS, "first night")
    check_calls(night2, READINGS_2, "second night")

    old, new = READINGS[CHANGED]["value"], READINGS_2[CHANGED]["value"]
    for task in ("clean", "score"):
        for i in range(len(READINGS)):
            a, b = night1.element(task, i), night2.element(task, i)
            if i == CHANGED:
                path = "reading.value" if task == "clean" else "reading.celsius"
                case(f"{task}-changed-element", task, a, b, night2, "same-call", "miss", [{"path": path, "old": old, "new": new}], f"A is the same element of the `{task}` map (index {i}) in the latest earlier flow run")
            else:
                case(f"{task}-element-{i}", task, a, b, night2, "same-inputs", "hit", None, f"A is the latest earlier run of `{task}` with the same inputs.")
    south = REGIONS.index(READINGS[CHANGED]["region"])
    for i, region in enumerate(REGIONS):
        a, b = night1.call("summarize", i), night2.call("summarize", i)
        if i == south:
            changes = [{"path": "scored[0].celsius", "old": old, "new": new}]
            case("summarize-changed-call", "summarize", a, b, night2, "same-call", "miss", changes, f"A is call #{i + 1} of `summarize` in the latest earlier flow run, as B is in its own")
        else:
            case(f"summarize-{region}", "summarize", a, b, night2, "same-inputs", "hit", None, "A is the latest earlier run of `summarize` with the same inputs.")

    manifest = {"umask": UMASK, "storage": str(storage), "records": [str(p) for p in night1.paths + night2.paths], "cases": CASES}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{len(CASES)} cases in {time.monotonic() - started:.0f} s", flush=True)
    for problem in PROBLEMS:
        print("PROBLEM: " + problem, file=sys.stderr)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
