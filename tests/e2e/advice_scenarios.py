"""Real Prefect 3.9.1 runs, recorded by cachescope-recorder, for the advice and checks of
issue 8 (items 4, 5 and 7): what a fix must keep and what a check must carry.

Usage: ``python advice_scenarios.py OUT`` with Prefect and the recorder installed, and a fresh
``PREFECT_HOME``. OUT must be empty or absent.

Each case works on its own copy of ``advice/flows.py`` under ``OUT/<case>/project`` with its own
result storage (and key storage), so no case can hit another's entry. The runs happen in this
process against one Prefect server; only ``advice/pickled.py``, whose input class must be pickled
by value, runs in two child processes that use this process's server and record through
``CACHESCOPE_RUNS``.

The cases:
- ``cache-key-fn-run-id``: ``train`` is keyed on ``CacheKeyFnPolicy(cache_key_fn=dataset_key) +
  RUN_ID``; two flow runs with the same dataset, so B misses on RUN_ID alone. ``train_fixed``,
  in the same flows, has the policy the advice must suggest: its second run is served from the
  cache, under the key the cache_key_fn returned. ``validate`` and ``validate_fixed`` do the
  same with a policy class of the project's own (``DatasetVersion() + RUN_ID``).
- ``configured``: ``summarize`` is keyed on ``(TASK_SOURCE + INPUTS).configure(key_storage=K)``
  and ``publish`` also sets ``isolation_level="SERIALIZABLE", lock_manager=LOCKS``; a comment in
  each is edited between A and B. The fix the advice must suggest (TASK_SOURCE left out, the
  configure kept) is then written into the file, and two more runs around another comment edit
  show Prefect serving the second from the cache, with its record in the key storage.
- ``repr-address``: ``score`` and ``describe`` get a model object with the default repr, twice
  in one process (kept alive, so the two addresses differ): Prefect hashes it by reference, so
  B is served from the cache; nothing changed.
- ``repr-address-processes``: ``pickled.py`` in two processes: the class is pickled by value,
  so B misses, though the repr differs only by the address.
- ``moved``: a project recorded, then moved away; no ``--project`` can find it.

Written into OUT: ``manifest.json``, one object per case (see ``main``). The script checks that
each scenario happened as it claims and exits 1 when one did not.
"""

from __future__ import annotations

import importlib.util
import json
import linecache
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import cachescope_recorder
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

PROJECT = Path(__file__).resolve().parent / "advice"
PROBLEMS: list[str] = []
# Every module loaded, so that objects the flows keep alive stay alive.
LOADED: list[ModuleType] = []

SUMMARIZE_POLICY = "(TASK_SOURCE + INPUTS).configure(key_storage=KEY_STORAGE)"
PUBLISH_POLICY = '(TASK_SOURCE + INPUTS).configure(key_storage=KEY_STORAGE, isolation_level="SERIALIZABLE", lock_manager=LOCKS)'
COMMENT_EDITS = [("# Sum of the rows.", "# Sum of the rows, as one number."), ("# Publish the rows.", "# Publish the rows as text.")]
SECOND_COMMENT_EDITS = [("# Sum of the rows, as one number.", "# The sum of the rows."), ("# Publish the rows as text.", "# Publish the rows, comma separated.")]


def require(ok: bool, problem: str) -> None:
    if not ok:
        PROBLEMS.append(problem)


@dataclass
class Project:
    dir: Path

    @classmethod
    def copy(cls, dir: Path) -> "Project":
        dir.mkdir(parents=True)
        shutil.copy(PROJECT / "flows.py", dir / "flows.py")
        return cls(dir)

    @property
    def file(self) -> Path:
        return self.dir / "flows.py"

    def edit(self, old: str, new: str) -> None:
        text = self.file.read_text()
        if text.count(old) != 1:
            sys.exit(f"{self.file}: the text to edit is not there exactly once: {old!r}")
        self.file.write_text(text.replace(old, new))

    def load(self) -> ModuleType:
        """Imports the file as it is now, as a new process would (Prefect reads each task's
        source through ``inspect`` and ``linecache``)."""
        linecache.clearcache()
        spec = importlib.util.spec_from_file_location("flows", self.file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["flows"] = module
        spec.loader.exec_module(module)
        LOADED.append(module)
        return module


@dataclass
class Runs:
    """The records of one flow run."""

    dir: Path

    def path(self, task: str) -> Path:
        found = [p for p in sorted(self.dir.glob("*.json")) if json.loads(p.read_text())["task"]["name"] == task]
        if len(found) != 1:
            sys.exit(f"{self.dir}: {len(found)} records of task {task}, expected one")
        return found[0]

    def record(self, task: str) -> dict[str, Any]:
        return json.loads(self.path(task).read_text())


def run_flow(project: Project, flow_name: str, runs: Path, storage: Path, **parameters: Any) -> Runs:
    module = project.load()
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: storage}), cachescope_recorder.recording(runs, project_root=project.dir):
        getattr(module, flow_name)(**parameters)
    return Runs(runs)


def state(runs: Runs, task: str) -> str:
    return runs.record(task)["outcome"]["state"]


def node(record: dict[str, Any], policy: str) -> dict[str, Any]:
    """The one node of the record's tree of this class."""
    found = []

    def visit(n: dict[str, Any]) -> None:
        if n["policy"] == policy:
            found.append(n)
        for child in n.get("policies") or []:
            visit(child)

    visit(record["policy"])
    if len(found) != 1:
        sys.exit(f"{len(found)} {policy} nodes in {record['policy']}")
    return found[0]


def pair(a: Runs, b: Runs, task: str) -> dict[str, str]:
    return {"a": str(a.path(task)), "b": str(b.path(task))}


# ---------------------------------------------------------------------------------------------


def cache_key_fn_run_id(out: Path) -> dict[str, Any]:
    project = Project.copy(out / "project")
    a = run_flow(project, "training", out / "a", out / "storage", dataset="sales")
    b = run_flow(project, "training", out / "b", out / "storage", dataset="sales")
    ra, rb = a.record("train"), b.record("train")
    require(state(b, "train") == "Completed", f"train: B ended {state(b, 'train')}, expected Completed (RUN_ID)")
    require(ra["key"] != rb["key"], "train: A and B have one key")
    fn_a, fn_b = node(ra, "CacheKeyFnPolicy")["key"], node(rb, "CacheKeyFnPolicy")["key"]
    require(fn_a == fn_b == "train-sales-v1", f"train: the cache_key_fn returned {fn_a} and {fn_b}")
    # The fix, as Prefect runs it: one key, the cache_key_fn's, and B served from the cache.
    fixed_a, fixed_b = a.record("train_fixed"), b.record("train_fixed")
    require(state(b, "train_fixed") == "Cached", f"train_fixed: B ended {state(b, 'train_fixed')}, expected Cached")
    require(fixed_a["key"] == fixed_b["key"] == fn_a, f"train_fixed: keys {fixed_a['key']} and {fixed_b['key']}, the cache_key_fn returned {fn_a}")
    # The same with a policy class of the project's own.
    va, vb = a.record("validate"), b.record("validate")
    require(state(b, "validate") == "Completed", f"validate: B ended {state(b, 'validate')}, expected Completed (RUN_ID)")
    own_a, own_b = node(va, "flows.DatasetVersion")["key"], node(vb, "flows.DatasetVersion")["key"]
    require(own_a == own_b == "sales-schema-1", f"validate: DatasetVersion returned {own_a} and {own_b}")
    fixed_a, fixed_b = a.record("validate_fixed"), b.record("validate_fixed")
    require(state(b, "validate_fixed") == "Cached", f"validate_fixed: B ended {state(b, 'validate_fixed')}, expected Cached")
    require(fixed_a["key"] == fixed_b["key"] == own_a, f"validate_fixed: keys {fixed_a['key']} and {fixed_b['key']}, DatasetVersion returned {own_a}")
    return {
        "train": {**pair(a, b, "train"), "task": "train", "fix": "CacheKeyFnPolicy(cache_key_fn=dataset_key)", "fixed_key": a.record("train_fixed")["key"]},
        "validate": {**pair(a, b, "validate"), "task": "validate", "fixed_key": fixed_b["key"]},
    }


def configured(out: Path) -> dict[str, Any]:
    project = Project.copy(out / "project")
    a = run_flow(project, "reports", out / "a", out / "storage", rows=[1, 2, 3])
    for edit in COMMENT_EDITS:
        project.edit(*edit)
    b = run_flow(project, "reports", out / "b", out / "storage", rows=[1, 2, 3])
    key_storage = str(project.dir.parent / "keys")
    cases: dict[str, Any] = {}
    fixes: dict[str, str] = {}
    for task, configure in (("summarize", f'key_storage="{key_storage}"'), ("publish", f'key_storage="{key_storage}", isolation_level="SERIALIZABLE", lock_manager=LOCKS')):
        ra, rb = a.record(task), b.record(task)
        require(state(b, task) == "Completed", f"{task}: B ended {state(b, task)}, expected Completed (a comment edit)")
        require(ra["key"] != rb["key"], f"{task}: A and B have one key")
        require(ra["policy"].get("key_storage") == key_storage, f"{task}: recorded key_storage {ra['policy'].get('key_storage')}, expected {key_storage}")
        require(Path(key_storage, ra["key"]).is_file(), f"{task}: no record of A's key in the key storage {key_storage}")
        fixes[task] = f"INPUTS.configure({configure})"
        cases[task] = {**pair(a, b, task), "task": task, "fix": fixes[task], "key_storage": key_storage}
    # Apply the fixes, then edit the comments again: Prefect must serve the second run from the
    # cache, under the INPUTS key, with its record in the key storage.
    project.edit(SUMMARIZE_POLICY, fixes["summarize"])
    project.edit(PUBLISH_POLICY, fixes["publish"])
    c = run_flow(project, "reports", out / "c-fixed", out / "storage", rows=[1, 2, 3])
    for edit in SECOND_COMMENT_EDITS:
        project.edit(*edit)
    d = run_flow(project, "reports", out / "d-fixed-edited", out / "storage", rows=[1, 2, 3])
    for task in ("summarize", "publish"):
        rc, rd = c.record(task), d.record(task)
        require(state(d, task) == "Cached", f"{task} with the fix: the run after a comment edit ended {state(d, task)}, expected Cached")
        require(rc["key"] == rd["key"] == node(a.record(task), "Inputs")["key"], f"{task} with the fix: keys {rc['key']} and {rd['key']}, not A's Inputs key")
        require(Path(key_storage, rd["key"]).is_file(), f"{task} with the fix: no record in the key storage {key_storage}")
        require(rd["policy"].get("key_storage") == key_storage, f"{task} with the fix: key_storage {rd['policy'].get('key_storage')}")
        cases[task]["fixed"] = [str(c.path(task)), str(d.path(task))]
    require(d.record("publish")["policy"].get("isolation_level") == "SERIALIZABLE", "publish with the fix lost its isolation level")
    return cases


def repr_address(out: Path) -> dict[str, Any]:
    project = Project.copy(out / "project")
    a = run_flow(project, "scoring", out / "a", out / "storage", x=3)
    b = run_flow(project, "scoring", out / "b", out / "storage", x=3)
    cases: dict[str, Any] = {}
    for task in ("score", "describe"):
        ra, rb = a.record(task), b.record(task)
        reprs = [r["inputs"]["model"].get("__cachescope_repr__") for r in (ra, rb)]
        require(all(r and " at 0x" in r for r in reprs), f"{task}: the model is recorded as {reprs}, not as a repr with an address")
        require(reprs[0] != reprs[1], f"{task}: both runs' models have the repr {reprs[0]}")
        require(state(b, task) == "Cached", f"{task}: B ended {state(b, task)}, expected Cached (the model is pickled by reference)")
        require(ra["key"] == rb["key"], f"{task}: A and B have different keys")
        cases[task] = {**pair(a, b, task), "task": task, "reprs": reprs}
    return cases


def start_pickled(project: Path, runs: Path, storage: Path, api_url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CACHESCOPE_")}
    env.update(PREFECT_API_URL=api_url, PREFECT_LOCAL_STORAGE_PATH=str(storage), CACHESCOPE_RUNS=str(runs), CACHESCOPE_PROJECT_ROOT=str(project))
    return subprocess.Popen([sys.executable, str(project / "pickled.py")], cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen[str], what: str) -> None:
    output, _ = process.communicate()
    if process.returncode != 0:
        sys.exit(f"{what} failed ({process.returncode}):\n{output}")


def repr_address_processes(out: Path, first: subprocess.Popen[str], api_url: str) -> dict[str, Any]:
    finish(first, "pickled.py, first process")
    second = start_pickled(out / "project", out / "b", out / "storage", api_url)
    finish(second, "pickled.py, second process")
    a, b = Runs(out / "a"), Runs(out / "b")
    ra, rb = a.record("flag"), b.record("flag")
    reprs = [r["inputs"]["threshold"].get("__cachescope_repr__") for r in (ra, rb)]
    require(all(r and " at 0x" in r for r in reprs), f"flag: the threshold is recorded as {reprs}")
    require(reprs[0] != reprs[1], f"flag: both processes' thresholds have the repr {reprs[0]}")
    require(state(b, "flag") == "Completed", f"flag: B ended {state(b, 'flag')}, expected Completed (pickled by value)")
    require(ra["key"] != rb["key"], "flag: A and B have one key")
    return {**pair(a, b, "flag"), "task": "flag", "reprs": reprs}


def moved(out: Path) -> dict[str, Any]:
    project = Project.copy(out / "project-as-recorded")
    runs = run_flow(project, "inventory", out / "runs", out / "storage", x=4)
    tasks = sorted(json.loads(p.read_text())["task"]["name"] for p in runs.dir.glob("*.json"))
    require(tasks == ["count", "load", "total"], f"moved: records of {tasks}")
    shutil.move(project.dir, out / "project-moved-away")
    return {"runs": str(runs.dir), "tasks": tasks, "records": len(tasks)}


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
    pickled_dir = out / "repr-address-processes"
    (pickled_dir / "project").mkdir(parents=True)
    shutil.copy(PROJECT / "pickled.py", pickled_dir / "project" / "pickled.py")
    first = start_pickled(pickled_dir / "project", pickled_dir / "a", pickled_dir / "storage", server.api_url)

    manifest: dict[str, Any] = {}
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        manifest["cache_key_fn_run_id"] = cache_key_fn_run_id(out / "cache-key-fn-run-id")
        manifest["configured"] = configured(out / "configured")
        manifest["repr_address"] = repr_address(out / "repr-address")
        manifest["moved"] = moved(out / "moved")
        manifest["repr_address_processes"] = repr_address_processes(pickled_dir, first, server.api_url)

    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"advice scenarios in {time.monotonic() - started:.0f} s", flush=True)
    for problem in PROBLEMS:
        print("PROBLEM: " + problem, file=sys.stderr)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
