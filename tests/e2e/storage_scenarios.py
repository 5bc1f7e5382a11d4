"""Real Prefect 3.9.1 runs, recorded by cachescope-recorder, where the result storage tells the
story: a transaction that rolls a task's cached result back, and hits served a result computed
from other inputs (a ``result_storage_key`` template, a TASK_SOURCE-only policy,
``INPUTS - "threshold"``).

Usage: ``python storage_scenarios.py OUT`` with Prefect and the recorder installed, and a fresh
``PREFECT_HOME``. OUT must be empty or absent.

The projects are the modules in ``storage/``, copied to ``OUT/project``. Each case records its
flow runs into ``OUT/<case>/runs/run-N`` with its own result storage ``OUT/<case>/storage``.
Written into OUT, ``manifest.json``:

- ``explain``: cases, each ``{"case", "record", "live", "expect"}``: ``cachescope explain
  RECORD`` (with ``--live --project OUT/project`` when ``live``) must give ``expect``:
  ``verdict``, ``exit``, ``headline`` (texts it must contain), ``causes`` (kinds, in order),
  ``cause_mentions`` (texts the causes' summaries must contain), ``stale`` (null, or the
  changed ``arguments`` and texts ``why`` must contain) and ``json`` (a subset of the output).
- ``keys``: the runs folders; ``keys_live``: ``{record: {"verdict", "reason"}}``, what
  ``keys --live`` must say of a record (``reason``: a text its reason contains).
- ``project``: the project folder.

The script checks that every scenario happened in Prefect as it claims (final states, keys,
result files present or absent) and exits 1 when one did not.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import cachescope_recorder
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

PROJECTS = Path(__file__).resolve().parent / "storage"

ROWS_MONDAY = [{"order": "A-1", "amount": 120}, {"order": "A-2", "amount": 80}]
# A-2 was corrected on Tuesday: a summary keyed on the label alone does not see it.
ROWS_TUESDAY = [{"order": "A-1", "amount": 120}, {"order": "A-2", "amount": 95}]

PROBLEMS: list[str] = []
MANIFEST: dict[str, Any] = {"explain": [], "keys": [], "keys_live": {}}


def require(ok: bool, problem: str) -> None:
    if not ok:
        PROBLEMS.append(problem)


def load(module: str, project: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(module, project / f"{module}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[module] = loaded
    spec.loader.exec_module(loaded)
    return loaded


class Runs:
    """The records of one flow run."""

    def __init__(self, dir: Path) -> None:
        self.dir = dir

    def path(self, task: str) -> Path:
        found = [p for p in sorted(self.dir.glob("*.json")) if json.loads(p.read_text())["task"]["name"] == task]
        if len(found) != 1:
            sys.exit(f"{self.dir}: {len(found)} records of task {task}, expected one")
        return found[0]

    def record(self, task: str) -> dict[str, Any]:
        return json.loads(self.path(task).read_text())


def run_flow(flow: Callable[..., Any], project: Path, runs: Path, storage: Path, fails: bool = False, **parameters: Any) -> Runs:
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: storage}), cachescope_recorder.recording(runs, project_root=project):
        try:
            flow(**parameters)
        except Exception as exc:  # noqa: BLE001 - a failing run is part of some scenarios
            require(fails, f"{flow.__name__}{parameters} raised {exc!r}")
        else:
            require(not fails, f"{flow.__name__}{parameters} was expected to fail")
    return Runs(runs)


def result_file(record: dict[str, Any]) -> Path:
    return Path(record["outcome"]["result_storage"]) / record["key"]


def explain_case(case: str, record: Path, expect: dict[str, Any], live: bool = False) -> None:
    MANIFEST["explain"].append({"case": case, "record": str(record), "live": live, "expect": expect})


def expect(verdict: str, headline: list[str], causes: tuple[str, ...] = (), cause_mentions: Optional[list[str]] = None, stale: Optional[dict[str, Any]] = None, json_subset: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    return {
        "verdict": verdict,
        "exit": {"hit": 0, "miss": 1}.get(verdict, 0),
        "headline": headline,
        "causes": list(causes),
        "cause_mentions": cause_mentions or [],
        "stale": stale,
        "json": json_subset or {},
    }


# ---------------------------------------------------------------------------------------------
# Item 3: a transaction rolls a task's result back


def rollback_cases(out: Path, project: Path) -> None:
    orders = load("orders", project)
    storage = out / "rollback" / "storage"
    runs = out / "rollback" / "runs"
    # 30 is over the limit: process_data raises inside the transaction, which rolls back
    # load_data's result although load_data completed.
    first = run_flow(orders.nightly, project, runs / "run-1", storage, fails=True, batch="2024-06-01", max_amount=25)
    loaded, failed = first.record("load_data"), first.record("process_data")
    require(loaded["outcome"]["state"] == "Completed", f"rollback: load_data ended {loaded['outcome']['state']}")
    require(failed["outcome"]["state"] == "Failed", f"rollback: process_data ended {failed['outcome']['state']}")
    require(not result_file(loaded).exists(), "rollback: load_data's result was written though the transaction rolled back")
    txn = loaded.get("transaction") or {}
    require(txn.get("outcome") == "rolled_back", f"rollback: load_data's transaction {txn}")
    require((txn.get("failed") or {}).get("task") == "process_data", f"rollback: no failed task named in {txn}")
    require(txn.get("key") == "nightly-2024-06-01", f"rollback: transaction key {txn.get('key')}")
    require((failed.get("transaction") or {}).get("id") == txn.get("id"), "rollback: process_data ran in another transaction")
    second = run_flow(orders.nightly, project, runs / "run-2", storage, batch="2024-06-01", max_amount=100)
    again = second.record("load_data")
    require(again["key"] == loaded["key"], "rollback: load_data's key changed between the runs")
    require(again["outcome"]["state"] == "Completed", f"rollback: the second load_data ended {again['outcome']['state']}, expected a miss")
    require((again.get("transaction") or {}).get("outcome") == "committed", f"rollback: second transaction {again.get('transaction')}")
    explain_case(
        "rollback-task-failed",
        second.path("load_data"),
        expect("miss", ["`load_data` missed", "rolled back because `process_data` failed in the same transaction"], causes=("rolled_back",), cause_mentions=["`process_data`", "nightly-2024-06-01"], json_subset={"pairing": "same-inputs", "key_a": loaded["key"], "key_b": loaded["key"], "non_key_causes": [{"kind": "rolled_back", "detail": {"failed_task": "process_data", "failed_task_run": failed["task_run"]["id"], "transaction": {"key": "nightly-2024-06-01", "id": txn.get("id")}}}]}),
    )

    # The flow's own check raises inside the transaction: no task failed, the result is gone.
    flow_storage = out / "rollback-flow-code" / "storage"
    audited = run_flow(orders.audited, project, out / "rollback-flow-code" / "runs" / "run-1", flow_storage, fails=True, batch="2024-06-02", expected_rows=5)
    rolled = audited.record("load_data")
    require(rolled["outcome"]["state"] == "Completed", f"rollback-flow-code: load_data ended {rolled['outcome']['state']}")
    require(not result_file(rolled).exists(), "rollback-flow-code: load_data's result was written")
    rolled_txn = rolled.get("transaction") or {}
    require(rolled_txn.get("outcome") == "rolled_back" and rolled_txn.get("failed") is None, f"rollback-flow-code: transaction {rolled_txn}")
    explain_case(
        "rollback-flow-code-live",
        audited.path("load_data"),
        expect("miss", ["would miss", "rolled back"], causes=("rolled_back",), cause_mentions=["no task run is recorded as failing"]),
        live=True,
    )
    MANIFEST["keys"].append(str(runs))


# ---------------------------------------------------------------------------------------------
# Item 8: stale hits


def stale_cases(out: Path, project: Path) -> None:
    reports = load("reports", project)
    storage = out / "stale" / "storage"
    runs = out / "stale" / "runs"
    a = run_flow(reports.weekly, project, runs / "run-1", storage, label="north", rows=ROWS_MONDAY, version=3, style="bars", threshold=100.0)
    b = run_flow(reports.weekly, project, runs / "run-2", storage, label="north", rows=ROWS_TUESDAY, version=3, style="lines", threshold=50.0)

    for task, key in (("summarize", "latest-summary-north"), ("archive", "archive/north-v003")):
        require(a.record(task)["key"] == key, f"stale: {task}'s key is {a.record(task)['key']}, expected {key}")
        require(result_file(a.record(task)).is_file(), f"stale: {task}'s result is not at {result_file(a.record(task))}")
    for task in ("summarize", "archive", "render_chart", "score"):
        require(b.record(task)["outcome"]["state"] == "Cached", f"stale: B's {task} ended {b.record(task)['outcome']['state']}, expected Cached")
        require(b.record(task)["key"] == a.record(task)["key"], f"stale: {task}'s keys differ")
    require(b.record("snapshot")["outcome"]["state"] == "Completed", "stale: snapshot hit though its key holds the flow run id")

    rows_changed = {"arguments": ["rows"], "why": ['result_storage_key "latest-summary-{parameters[label]}"', "only `label`"]}
    explain_case(
        "stale-result-storage-key",
        b.path("summarize"),
        expect("hit", ["`summarize` hit, but was served a result computed from other inputs", "its input `rows` changed at rows[1].amount (80 -> 95)"], stale=rows_changed, json_subset={"key_a": "latest-summary-north", "key_b": "latest-summary-north", "culprits": []}),
    )
    explain_case(
        "stale-task-source-only",
        b.path("render_chart"),
        expect("hit", ["`render_chart` hit, but was served a result computed from other inputs", "its inputs `rows` and `style` changed"], stale={"arguments": ["rows", "style"], "why": ["the policy `TASK_SOURCE` does not hash inputs"]}),
    )
    explain_case(
        "stale-inputs-minus",
        b.path("score"),
        expect("hit", ["`score` hit, but was served a result computed from other inputs", "its input `threshold` changed (100.0 -> 50.0)"], stale={"arguments": ["threshold"], "why": ['excludes `threshold`']}),
    )
    # A run that computed its own result is no stale hit; the template says why it missed.
    explain_case("stale-not-for-a-miss", b.path("snapshot"), expect("miss", ['`snapshot` missed because its result_storage_key "runs/{flow_run.id}/{parameters[label]}" formats to another key', "`{flow_run.id}` is"], stale=None, json_subset={"unexplained": None}))
    explain_case("storage-key-live-new-id", b.path("snapshot"), expect("miss", ["would miss because its result_storage_key", "takes `flow_run.id`, and the next run has a new one"], json_subset={"key_b": None}), live=True)
    explain_case("storage-key-live-hit", a.path("summarize"), expect("hit", ["The next run of `summarize` would hit"], json_subset={"key_b": "latest-summary-north"}), live=True)

    MANIFEST["keys"].append(str(runs))
    for runs_of in (a, b):
        for task in ("summarize", "archive"):
            record = runs_of.record(task)
            MANIFEST["keys_live"][str(runs_of.path(task))] = {"verdict": "hit", "reason": str(result_file(record))}
        MANIFEST["keys_live"][str(runs_of.path("snapshot"))] = {"verdict": "miss", "reason": "takes flow_run.id"}


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1]).resolve()
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    sys.dont_write_bytecode = True
    started = time.monotonic()
    project = out / "project"
    shutil.copytree(PROJECTS, project)
    MANIFEST["project"] = str(project)

    server = SubprocessASGIServer()
    server.start()
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        rollback_cases(out, project)
        stale_cases(out, project)

    (out / "manifest.json").write_text(json.dumps(MANIFEST, indent=2) + "\n")
    print(f"{len(MANIFEST['explain'])} explain cases in {time.monotonic() - started:.0f} s", flush=True)
    for problem in PROBLEMS:
        print("PROBLEM: " + problem, file=sys.stderr)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
