"""Real Prefect 3.9.1 runs for tests/variable_policy_prefect.rs: tasks whose ``cache_policy=``
names a module-level variable (``variable_policy/flows.py``), recorded once with the recorder, then
copies of the project edited (a variable's definition, or only the task bodies) and each copy run
again, so the test can compare what ``cachescope explain --live`` and ``check`` predict for the
edited copy with what Prefect then did.

Usage: ``python variable_policy.py OUT`` with Prefect and the recorder installed, and a fresh
``PREFECT_HOME``. OUT must be empty or absent.

The run that is explained is recorded into ``OUT/a`` with its results in ``OUT/storage``. Each
copy (``COPIES``) is run again with a copy of that storage (``OUT/<copy>/storage``), so the rerun
sees A's results as the next run would, and ``OUT/storage`` stays as A left it for cachescope's
prediction. The project A ran in is moved away at the end: only ``--project`` leads to a copy.

Written into OUT: ``manifest.json``, ``{"runs": "<OUT/a>", "a": {task: record}, "copies": {copy:
{"project": dir, "b": {task: {"record", "state", "key"}}}}}`` where ``b`` is what Prefect did when
it ran the copy. The script checks that A ran as the project says (its policies) and exits 1 when
it did not.
"""

from __future__ import annotations

import importlib.util
import json
import linecache
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import cachescope_recorder
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

PROJECT = Path(__file__).resolve().parent / "variable_policy" / "flows.py"
TASKS = ("score", "render")

# Each copy of the project and its edits: (text that occurs exactly once, its replacement).
COPIES: dict[str, list[tuple[str, str]]] = {
    "unedited": [],
    # The variable `score`'s decorator names, now over lines, with a Prefect-qualified name.
    "variable-edited": [("MY_POLICY = INPUTS\n", "MY_POLICY = (\n    INPUTS\n    + cache_policies.TASK_SOURCE  # the code counts too now\n)\n")],
    # The variable `render`'s decorator names, one level above BASE: its exclusion removed.
    "exclusion-removed": [('DEBUG_FREE = BASE - "debug"\n', "DEBUG_FREE = BASE\n")],
    # Only the task bodies: the variables still say what they said.
    "body-only": [("return x * 2", "return x * 3"), ("return report.upper()", "return report.title()")],
    # The variable moved to another module, with the same value.
    "imported": [("MY_POLICY = INPUTS\n", "from shared_policies import MY_POLICY\n")],
}
SHARED_POLICIES = "from prefect.cache_policies import INPUTS\n\nMY_POLICY = INPUTS\n"

PROBLEMS: list[str] = []


def require(ok: bool, problem: str) -> None:
    if not ok:
        PROBLEMS.append(problem)


def load(project: Path) -> ModuleType:
    """Imports ``flows.py`` of a project as it is now, as a new process would: a fresh line cache
    (Prefect takes each task's source through ``inspect``) and the project's other modules."""
    linecache.clearcache()
    sys.modules.pop("shared_policies", None)
    sys.path.insert(0, str(project))
    try:
        spec = importlib.util.spec_from_file_location("flows", project / "flows.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["flows"] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(project))
    return module


def run(project: Path, runs: Path, storage: Path) -> dict[str, Path]:
    """One run of the pipeline flow of ``project``, recorded into ``runs``: each task's record."""
    module = load(project)
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: storage}), cachescope_recorder.recording(runs, project_root=project):
        module.pipeline()
    records: dict[str, Path] = {}
    for path in sorted(runs.glob("*.json")):
        name = json.loads(path.read_text())["task"]["name"]
        require(name not in records, f"{runs}: two records of {name}")
        records[name] = path
    require(set(records) == set(TASKS), f"{runs}: records of {sorted(records)}, expected {sorted(TASKS)}")
    return records


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text()
    if text.count(old) != 1:
        sys.exit(f"{file}: the text to edit is not there exactly once: {old!r}")
    file.write_text(text.replace(old, new))


def policy_classes(record: Path) -> Any:
    policy = json.loads(record.read_text())["policy"]
    if policy["policy"] == "CompoundCachePolicy":
        return [(p["policy"], p.get("exclude")) for p in policy["policies"]]
    return (policy["policy"], policy.get("exclude"))


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1]).resolve()
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    sys.dont_write_bytecode = True

    server = SubprocessASGIServer()
    server.start()
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        recorded = out / "project-as-recorded"
        recorded.mkdir()
        shutil.copy(PROJECT, recorded / "flows.py")
        a = run(recorded, out / "a", out / "storage")
        # What Prefect built from the variables: INPUTS, and BASE - "debug" as bound at the
        # decorator (not the NO_CACHE it is rebound to below the task).
        require(policy_classes(a["score"]) == ("Inputs", []), f"score ran with {policy_classes(a['score'])}")
        want = [("TaskSource", None), ("Inputs", ["debug"])]
        require(policy_classes(a["render"]) == want, f"render ran with {policy_classes(a['render'])}")

        copies: dict[str, Any] = {}
        for name, edits in COPIES.items():
            project = out / name / "project"
            shutil.copytree(recorded, project)
            for old, new in edits:
                edit(project / "flows.py", old, new)
            if name == "imported":
                (project / "shared_policies.py").write_text(SHARED_POLICIES)
            storage = out / name / "storage"
            shutil.copytree(out / "storage", storage)
            b = run(project, out / name / "b", storage)
            rerun = {}
            for task, path in b.items():
                record = json.loads(path.read_text())
                rerun[task] = {"record": str(path), "state": record["outcome"]["state"], "key": record["key"]}
            copies[name] = {"project": str(project), "b": rerun}

    shutil.move(recorded, out / "project-moved-away")
    manifest = {"runs": str(out / "a"), "a": {task: str(path) for task, path in a.items()}, "copies": copies}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for problem in PROBLEMS:
        print("PROBLEM: " + problem, file=sys.stderr)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
