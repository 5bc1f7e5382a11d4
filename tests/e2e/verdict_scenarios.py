"""Real Prefect 3.9.1 runs, recorded by cachescope-recorder, for the verdicts `cachescope explain`
got wrong on real flows (issue 8): a run served another task's cache entry (tasks keyed on
INPUTS only), and cache policies of the user's own that give another key on every run.

Usage: ``python verdict_scenarios.py OUT`` with Prefect and the recorder installed, and a fresh
``PREFECT_HOME``. OUT must be empty or absent.

The projects are the modules in ``verdicts/``, each copied to ``OUT/<scenario>/project`` with its
own result storage. The flow runs happen in this process against one Prefect server, each
recorded into its own folder ``OUT/<scenario>/runs/run-N``.

- ``sensors``: ``station_report`` runs three times. Run 1 (station 1) runs only
  ``my_stateful_task``. Runs 2 and 3 (station 2) run ``summarize`` and ``count_readings`` first:
  in run 2 ``summarize`` stores the entry of station 2, and ``count_readings`` and
  ``my_stateful_task`` are served it (the flow's return value is ``summarize``'s result); in run
  3 all three are served it.
- ``calibration``: ``calibration`` runs three times with the same parameters; ``calibrate``
  (``INPUTS + FreshnessPolicy()``, a class that returns the time) and ``baseline`` (a
  ``cache_key_fn`` that returns the time) run every time with another key. Then the project is
  run once more (recorded into ``OUT/calibration/rerun``, outside the runs folder) to see what
  Prefect does on "the next run".

Written into OUT: ``manifest.json`` with the records and what Prefect did (see ``main``). The
script checks that each scenario happened as it claims and exits 1 when one did not.
"""

from __future__ import annotations

import importlib.util
import json
import linecache
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import cachescope_recorder
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

PROJECTS = Path(__file__).resolve().parent / "verdicts"

PROBLEMS: list[str] = []


def require(ok: bool, problem: str) -> None:
    if not ok:
        PROBLEMS.append(problem)


def load(project: Path, module: str) -> ModuleType:
    """Imports the project's module as a new process would (Prefect reads each task's source
    through ``inspect`` and ``linecache``)."""
    linecache.clearcache()
    spec = importlib.util.spec_from_file_location(module, project / f"{module}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[module] = loaded
    spec.loader.exec_module(loaded)
    return loaded


def copy_project(module: str, dir: Path) -> Path:
    dir.mkdir(parents=True)
    shutil.copy(PROJECTS / f"{module}.py", dir / f"{module}.py")
    return dir


def run_flow(project: Path, module: str, flow: str, runs: Path, storage: Path, **parameters: Any) -> tuple[Any, dict[str, Path]]:
    """One flow run, recorded into ``runs``; returns the flow's result and each task's record."""
    loaded = load(project, module)
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: storage}), cachescope_recorder.recording(runs, project_root=project):
        result = getattr(loaded, flow)(**parameters)
    records: dict[str, Path] = {}
    for path in sorted(runs.glob("*.json")):
        task = json.loads(path.read_text())["task"]["name"]
        require(task not in records, f"{runs}: two records of {task}")
        records[task] = path
    return result, records


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def state(path: Path) -> str:
    return read(path)["outcome"]["state"]


# ---------------------------------------------------------------------------------------------


def sensors(out: Path) -> dict[str, Any]:
    project = copy_project("sensors", out / "sensors" / "project")
    runs, storage = out / "sensors" / "runs", out / "sensors" / "storage"
    _, run1 = run_flow(project, "sensors", "station_report", runs / "run-1", storage, station=1)
    result2, run2 = run_flow(project, "sensors", "station_report", runs / "run-2", storage, station=2, with_summary=True)
    _, run3 = run_flow(project, "sensors", "station_report", runs / "run-3", storage, station=2, with_summary=True)

    require(state(run1["my_stateful_task"]) == "Completed", "sensors run 1: my_stateful_task did not run")
    require(state(run2["summarize"]) == "Completed", "sensors run 2: summarize did not run")
    for task in ("count_readings", "my_stateful_task"):
        require(state(run2[task]) == "Cached", f"sensors run 2: {task} was not served from the cache")
    for task in ("summarize", "count_readings", "my_stateful_task"):
        require(state(run3[task]) == "Cached", f"sensors run 3: {task} was not served from the cache")
    # Served the first task's result: the flow returns what my_stateful_task returned.
    require(result2 == "summary of station 2", f"sensors run 2: my_stateful_task returned {result2!r}")
    keys = {read(run2[t])["key"] for t in run2} | {read(run3[t])["key"] for t in run3}
    require(len(keys) == 1, f"sensors: runs 2 and 3 have keys {keys}")
    require(read(run1["my_stateful_task"])["key"] not in keys, "sensors: station 1 has station 2's key")
    producer = read(run2["summarize"])
    return {
        "runs": str(runs),
        "a": str(run1["my_stateful_task"]),
        "b": str(run2["my_stateful_task"]),
        "producer": str(run2["summarize"]),
        "producer_flow_run": producer["flow"]["run_id"],
        "producer_flow_run_name": producer["flow"]["run_name"],
        "b_result": result2,
        "other_tasks": ["summarize", "count_readings"],
    }


def node_at(record: dict[str, Any], path: str) -> dict[str, Any]:
    """The node of the record's policy tree at ``path`` ("" the root, "1", "1/0")."""
    node = record["policy"]
    for index in filter(None, path.split("/")):
        node = node["policies"][int(index)]
    return node


# Where each task's opaque node is in its tree: calibrate is INPUTS + FreshnessPolicy() (Prefect
# puts INPUTS last, so the class is node 0), baseline is a CacheKeyFnPolicy alone.
OPAQUE = {"calibrate": ("0", "calibration.FreshnessPolicy"), "baseline": ("", "CacheKeyFnPolicy")}


def calibration(out: Path) -> dict[str, Any]:
    project = copy_project("calibration", out / "calibration" / "project")
    runs, storage = out / "calibration" / "runs", out / "calibration" / "storage"
    recorded: dict[str, list[str]] = {task: [] for task in OPAQUE}
    for n in (1, 2, 3):
        _, records = run_flow(project, "calibration", "calibration", runs / f"run-{n}", storage, sensor="s-7", gain=2.0)
        for task in OPAQUE:
            recorded[task].append(str(records[task]))
        # Distinct times, even on a coarse clock.
        time.sleep(0.01)
    node_keys: dict[str, list[str]] = {}
    for task, (path, policy) in OPAQUE.items():
        records = [read(Path(p)) for p in recorded[task]]
        labels = {node_at(r, path)["policy"] for r in records}
        require(labels == {policy}, f"calibration: {task}'s node {path!r} is {labels}, expected {policy}")
        for r in records:
            require(r["outcome"]["state"] == "Completed", f"calibration: {task} ended {r['outcome']['state']}")
        node_keys[task] = [node_at(r, path)["key"] for r in records]
        require(len(set(node_keys[task])) == 3, f"calibration: {task} keys {node_keys[task]}")
        require(len({json.dumps(r["inputs"]) for r in records}) == 1, f"calibration: {task} got other inputs")

    # The next run, with the project unchanged: what Prefect really does.
    time.sleep(0.01)
    _, rerun = run_flow(project, "calibration", "calibration", out / "calibration" / "rerun", storage, sensor="s-7", gain=2.0)
    next_run: dict[str, Any] = {}
    for task, (path, _) in OPAQUE.items():
        r = read(rerun[task])
        earlier = {read(Path(p))["key"] for p in recorded[task]}
        next_run[task] = {"record": str(rerun[task]), "state": r["outcome"]["state"], "cache_hit": r["outcome"]["cache_hit"], "key": r["key"], "node_key": node_at(r, path)["key"], "key_is_new": r["key"] not in earlier}
        require(r["outcome"]["state"] == "Completed" and r["key"] not in earlier, f"calibration rerun: {task} {next_run[task]}")
    return {"runs": str(runs), "project": str(project), "records": recorded, "node_keys": node_keys, "opaque": {t: {"path": p, "policy": c} for t, (p, c) in OPAQUE.items()}, "next_run": next_run}


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1]).resolve()
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    sys.dont_write_bytecode = True
    started = time.monotonic()
    server = SubprocessASGIServer()
    server.start()
    # Heartbeats only detect crashed runs; each flow run waits up to a second for its thread.
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        manifest = {"sensors": sensors(out), "calibration": calibration(out)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"verdict scenarios recorded in {time.monotonic() - started:.0f} s", flush=True)
    for problem in PROBLEMS:
        print("PROBLEM: " + problem, file=sys.stderr)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
