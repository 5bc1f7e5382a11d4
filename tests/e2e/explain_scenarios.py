"""Real Prefect 3.9.1 runs, recorded by cachescope-recorder, for every case `cachescope explain`
must explain: each case is a pair of runs of one task (A, then B after a code edit or a changed
setting), or a run A and an edited copy of its project for `explain --live`.

Usage: ``python explain_scenarios.py OUT`` with Prefect and the recorder installed, and a fresh
``PREFECT_HOME``. OUT must be empty or absent.

The projects are the modules in ``explain/``; every case works on its own copy under
``OUT/<case>/`` with its own result storage, so no case can hit another's cache entry. The
runs happen in this one process, against one Prefect server started once (a server costs ~15 s,
a flow run ~0.2 s), with the recorder switched on around each flow run. A source edit rewrites
the copy and imports it again under the same module name, which is what a second
``python flows.py`` would see. Only the cases whose key depends on the process itself
(PYTHONHASHSEED, cloudpickle by value) run ``explain/hashing.py`` in two child processes, which
use this process's server and record through ``CACHESCOPE_RUNS``.

Written into OUT:
- ``manifest.json``: a list of cases, each ``{"case", "task", "a", "b", "expect"}`` where ``a`` is
  A's record, ``b`` B's record or ``"live"`` (then ``project`` is the folder to pass to
  ``--project``; where the case edits the project, the folder it was recorded in no longer
  exists, so only ``--project`` can lead to the edited source), and
  ``task_a`` names A's task when it is not ``task``. ``expect`` holds ``verdict``, ``culprits``
  (``policy`` and ``path``; ``proof`` and ``with`` when fixed; ``detail``, a subset of the
  culprit's detail; ``diff_lines``, lines its diff must contain), ``non_key_causes`` and
  ``advice`` (kinds), ``evidence``, a subset of the whole ``explain --json`` output, and
  ``cause_mentions``, text the summary of a non-key cause must contain, by kind.
  Subsets match objects key by key and arrays item by item.
- ``check.json``: runs of one project and copies of it (one task edited, unedited, a helper
  edited) for ``cachescope check``.

The script checks that each scenario happened as it claims (B's final state, equal or different
keys, expiry before B) and exits 1 when one did not.
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
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional

import cachescope_recorder
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import (
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_LOCAL_STORAGE_PATH,
    PREFECT_TASKS_REFRESH_CACHE,
    temporary_settings,
)
from prefect.utilities.hashing import hash_objects

PROJECTS = Path(__file__).resolve().parent / "explain"

# Rows with a missing score, so `clean` has something to drop.
ROWS = [{"sensor": "a", "score": 0.25}, {"sensor": "b", "score": 0.5}, {"sensor": "c", "score": None}]
ROWS_B1_CHANGED = [ROWS[0], {"sensor": "b", "score": 0.75}, ROWS[2]]
REGIONS = ["north", "south", "east", "west"]
# expired: the result of fetch_rates lives 1 s; B runs at least this long after A.
EXPIRY_GAP = 2.5

# Edits of explain/scores.py: (the text as it is, the text after the edit).
CODE_EDIT = (
    'if row.get("score") is not None]',
    'if row.get("score") is not None and row["score"] >= 0]',
)
COMMENT_EDIT = (
    "# A missing score means the sensor was offline.",
    "# A missing score means the sensor was offline or unplugged.",
)
DOCSTRING_EDIT = ('"""Keeps the rows that have a score."""', '"""Keeps the rows that have a score; drops the others."""')
DECORATOR_EDIT = ("persist_result=True, retries=1)", "persist_result=True, retries=2)")
HELPER_EDIT = ("return round(value, 2)", "return round(value, 3)")
DEFAULT_ADDED_EDIT = ('channel: str = "#scores", **options', 'channel: str = "#scores", fmt: str = "text", **options')

# Edits of explain/policies.py between its two runs: module-level settings only.
POLICIES_EDITS = [
    ('MODEL_VERSION = "v1"', 'MODEL_VERSION = "v2"'),
    ("DEBUG = False", "DEBUG = True"),
    ('RENDER_POLICY = TASK_SOURCE + INPUTS - "debug"', "RENDER_POLICY = TASK_SOURCE + INPUTS"),
    ("REPORT_POLICY = TASK_SOURCE + INPUTS\n", "REPORT_POLICY = TASK_SOURCE + INPUTS + FLOW_PARAMETERS\n"),
    ('CODES = {1: "one", "b": "bee"}', 'CODES = {"b": "bee", 1: "one"}'),
]

PROBLEMS: list[str] = []


def require(ok: bool, problem: str) -> None:
    if not ok:
        PROBLEMS.append(problem)


# ---------------------------------------------------------------------------------------------
# Projects, runs and records


@dataclass
class Project:
    """A copy of one module of ``explain/`` in a folder of its own."""

    dir: Path
    module: str

    @classmethod
    def copy(cls, module: str, dir: Path) -> "Project":
        dir.mkdir(parents=True)
        shutil.copy(PROJECTS / f"{module}.py", dir / f"{module}.py")
        return cls(dir, module)

    @property
    def file(self) -> Path:
        return self.dir / f"{self.module}.py"

    def edit(self, old: str, new: str) -> None:
        text = self.file.read_text()
        if text.count(old) != 1:
            sys.exit(f"{self.file}: the text to edit is not there exactly once: {old!r}")
        self.file.write_text(text.replace(old, new))

    def load(self) -> ModuleType:
        """Imports the file as it is now, under its own module name, as a new process would.
        Prefect takes each task's source when the module runs, through ``inspect`` and
        ``linecache``, so the line cache must not hold the file as it was."""
        linecache.clearcache()
        spec = importlib.util.spec_from_file_location(self.module, self.file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[self.module] = module
        spec.loader.exec_module(module)
        return module

    def moved(self, dir: Path) -> "Project":
        """The project moved away from where it was recorded, so the records' project_root no
        longer holds it (only ``--project`` finds it)."""
        shutil.move(self.dir, dir)
        return Project(dir, self.module)

    def copied(self, dir: Path) -> "Project":
        shutil.copytree(self.dir, dir)
        return Project(dir, self.module)


def run_flow(project: Project, flow_name: str, runs: Path, storage: Path, refresh: bool = False, **parameters: Any) -> "Runs":
    """One run of a flow of the project as it is now, recorded into ``runs``."""
    module = project.load()
    settings: dict[Any, Any] = {PREFECT_LOCAL_STORAGE_PATH: storage}
    if refresh:
        settings[PREFECT_TASKS_REFRESH_CACHE] = True
    with temporary_settings(settings), cachescope_recorder.recording(runs, project_root=project.dir):
        getattr(module, flow_name)(**parameters)
    return Runs(runs)


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


def result_file(record: dict[str, Any]) -> Path:
    return Path(record["outcome"]["result_storage"]) / record["key"]


def inputs_key(record: dict[str, Any]) -> str:
    """The key of the Inputs node, the last child of INPUTS + TASK_SOURCE."""
    policy = record["policy"]
    assert [p["policy"] for p in policy["policies"]] == ["TaskSource", "Inputs"], policy
    return policy["policies"][1]["key"]


def live_key(project: Project, task: str, recorded: dict[str, Any]) -> str:
    """The key of an INPUTS + TASK_SOURCE task with its source as it is now in the project and
    the recorded inputs: what the next run will compute, by Prefect's own hash."""
    source = getattr(project.load(), task).source_code
    return hash_objects(hash_objects(source), inputs_key(recorded))


# ---------------------------------------------------------------------------------------------
# Expectations


def culprit(policy: str, path: str, proof: Optional[str] = "proven", *, with_: Optional[list[str]] = None, detail: Optional[dict[str, Any]] = None, diff_lines: Optional[list[str]] = None) -> dict[str, Any]:
    out: dict[str, Any] = {"policy": policy, "path": path}
    if proof is not None:
        out["proof"] = proof
    if with_ is not None:
        out["with"] = with_
    if detail is not None:
        out["detail"] = detail
    if diff_lines is not None:
        out["diff_lines"] = diff_lines
    return out


def expect(verdict: str, culprits: tuple[dict[str, Any], ...] = (), causes: tuple[str, ...] = (), advice: tuple[str, ...] = (), evidence: Optional[dict[str, Any]] = None, cause_mentions: Optional[dict[str, str]] = None) -> dict[str, Any]:
    out = {"verdict": verdict, "culprits": list(culprits), "non_key_causes": list(causes), "advice": list(advice), "evidence": evidence or {}}
    if cause_mentions is not None:
        out["cause_mentions"] = cause_mentions
    return out


def diff_lines(edit: tuple[str, str]) -> list[str]:
    """The line of explain/scores.py an edit changes, before and after, as a unified diff
    shows them."""
    old, new = edit
    [line] = [line for line in (PROJECTS / "scores.py").read_text().splitlines() if old in line]
    return [f"-{line}", f"+{line.replace(old, new)}"]


def source_span(record: dict[str, Any]) -> list[int]:
    """First and last line of the task's source in its file."""
    first = record["task"]["line"]
    return [first, first + record["task"]["source"].count("\n") - 1]


MANIFEST: list[dict[str, Any]] = []


def pair(case: str, task: str, a: Runs, b: Runs, b_state: str, expectation: dict[str, Any], task_a: Optional[str] = None) -> None:
    """A case explained from two records. Checks that B ended as the verdict says and that the
    keys differ exactly when a culprit is expected."""
    record_a, record_b = a.record(task_a or task), b.record(task)
    require(record_b["outcome"]["state"] == b_state, f"{case}: B ended {record_b['outcome']['state']}, expected {b_state}")
    require((expectation["verdict"] == "hit") == (b_state == "Cached"), f"{case}: verdict {expectation['verdict']} with B {b_state}")
    keys_differ = record_a["key"] != record_b["key"]
    require(keys_differ == bool(expectation["culprits"]), f"{case}: keys {record_a['key']} and {record_b['key']}, culprits {expectation['culprits']}")
    entry = {"case": case, "task": task, "a": str(a.path(task_a or task)), "b": str(b.path(task)), "expect": expectation}
    if task_a is not None:
        entry["task_a"] = task_a
    MANIFEST.append(entry)


def live(case: str, task: str, a: Runs, project: Project, expectation: dict[str, Any]) -> None:
    MANIFEST.append({"case": case, "task": task, "a": str(a.path(task)), "b": "live", "project": str(project.dir), "expect": expectation})


# ---------------------------------------------------------------------------------------------
# The scenarios


def scores_pair(out: Path, case: str, edit: Optional[tuple[str, str]] = None, a_options: Optional[dict[str, Any]] = None, b_rows: list[dict[str, Any]] = ROWS, b_options: Optional[dict[str, Any]] = None, b_storage: str = "storage", b_refresh: bool = False, before_b: Optional[Callable[[Runs], None]] = None) -> tuple[Runs, Runs]:
    """Runs the scores flow twice in a copy of its own: A, then B after the edit and with the
    changes given."""
    project = Project.copy("scores", out / case / "project")
    a = run_flow(project, "scores", out / case / "a", out / case / "storage", rows=ROWS, publish_options=a_options)
    if edit is not None:
        project.edit(*edit)
    if before_b is not None:
        before_b(a)
    b = run_flow(project, "scores", out / case / "b", out / case / b_storage, refresh=b_refresh, rows=b_rows, publish_options=b_options)
    return a, b


def scores_cases(out: Path) -> None:
    a, b = scores_pair(out, "source-code-edit", edit=CODE_EDIT)
    pair("source-code-edit", "clean", a, b, "Completed", expect("miss", (culprit("TaskSource", "0", detail={"file": "scores.py", "classification": "code", "lines_a": source_span(a.record("clean")), "lines_b": source_span(b.record("clean"))}, diff_lines=diff_lines(CODE_EDIT)),)))

    a, b = scores_pair(out, "source-comment-edit", edit=COMMENT_EDIT)
    pair("source-comment-edit", "clean", a, b, "Completed", expect("miss", (culprit("TaskSource", "0", detail={"classification": "cosmetic", "cosmetic_kinds": ["comment"]}, diff_lines=diff_lines(COMMENT_EDIT)),), advice=("cosmetic_source_edit",)))

    a, b = scores_pair(out, "source-docstring-edit", edit=DOCSTRING_EDIT)
    pair("source-docstring-edit", "clean", a, b, "Completed", expect("miss", (culprit("TaskSource", "0", detail={"classification": "cosmetic", "cosmetic_kinds": ["docstring"]}, diff_lines=diff_lines(DOCSTRING_EDIT)),), advice=("cosmetic_source_edit",)))

    # A decorator argument is part of the source Prefect hashes, and it is code.
    a, b = scores_pair(out, "source-decorator-edit", edit=DECORATOR_EDIT)
    pair("source-decorator-edit", "clean", a, b, "Completed", expect("miss", (culprit("TaskSource", "0", detail={"classification": "code", "cosmetic_kinds": ["decorator"]}, diff_lines=diff_lines(DECORATOR_EDIT)),)))

    # The helper summarize calls is not part of its source: B is served A's stale result.
    a, b = scores_pair(out, "helper-edit-hits", edit=HELPER_EDIT)
    pair("helper-edit-hits", "summarize", a, b, "Cached", expect("hit"))

    a, b = scores_pair(out, "inputs-nested-change", b_rows=ROWS_B1_CHANGED)
    change = {"argument": "rows", "path": "rows[1].score", "change": "changed", "old": 0.5, "new": 0.75}
    pair("inputs-nested-change", "clean", a, b, "Completed", expect("miss", (culprit("Inputs", "1", detail={"changes": [change]}),)))

    a, b = scores_pair(out, "inputs-kwargs-added", b_options={"compress": True})
    change = {"argument": "options", "path": "options.compress", "change": "added", "new": True}
    pair("inputs-kwargs-added", "publish", a, b, "Completed", expect("miss", (culprit("Inputs", "1", detail={"changes": [change]}),)))

    a, b = scores_pair(out, "inputs-kwargs-removed", a_options={"compress": True})
    change = {"argument": "options", "path": "options.compress", "change": "removed", "old": True}
    pair("inputs-kwargs-removed", "publish", a, b, "Completed", expect("miss", (culprit("Inputs", "1", detail={"changes": [change]}),)))

    # A new parameter with a default changes both the source and the inputs: neither culprit
    # alone gives A's key back, only both together.
    a, b = scores_pair(out, "inputs-default-added", edit=DEFAULT_ADDED_EDIT)
    change = {"argument": "fmt", "path": "fmt", "change": "added", "new": "text"}
    pair("inputs-default-added", "publish", a, b, "Completed", expect("miss", (culprit("TaskSource", "0", "pair", with_=["1"], diff_lines=diff_lines(DEFAULT_ADDED_EDIT)), culprit("Inputs", "1", "pair", with_=["0"], detail={"changes": [change]}))))

    a, b = scores_pair(out, "refresh-cache", b_refresh=True)
    pair("refresh-cache", "clean", a, b, "Completed", expect("miss", causes=("refresh_cache",)))

    a, b = scores_pair(out, "no-record", before_b=lambda a: result_file(a.record("clean")).unlink())
    pair("no-record", "clean", a, b, "Completed", expect("miss", causes=("no_record",)))

    a, b = scores_pair(out, "other-storage", b_storage="storage-b")
    pair("other-storage", "clean", a, b, "Completed", expect("miss", causes=("other_storage",)))


def live_cases(out: Path) -> Runs:
    """One recording of the scores project, then copies of it: edited, unedited, a helper
    edited. The project is moved away from where it was recorded. Returns the runs (``check``
    uses them too)."""
    recorded = Project.copy("scores", out / "live" / "project-as-recorded")
    runs = run_flow(recorded, "scores", out / "live" / "runs", out / "live" / "storage", rows=ROWS)
    clean = runs.record("clean")

    code = recorded.copied(out / "live-code-edit" / "project")
    code.edit(*CODE_EDIT)
    live("live-code-edit", "clean", runs, code, expect("miss", (culprit("TaskSource", "0", detail={"classification": "code"}, diff_lines=diff_lines(CODE_EDIT)),), evidence={"key_a": clean["key"], "key_b": live_key(code, "clean", clean)}))

    comment = recorded.copied(out / "live-comment-edit" / "project")
    comment.edit(*COMMENT_EDIT)
    live("live-comment-edit", "clean", runs, comment, expect("miss", (culprit("TaskSource", "0", detail={"classification": "cosmetic", "cosmetic_kinds": ["comment"]}, diff_lines=diff_lines(COMMENT_EDIT)),), advice=("cosmetic_source_edit",), evidence={"key_b": live_key(comment, "clean", clean)}))

    helper = recorded.copied(out / "live-helper-edit" / "project")
    helper.edit(*HELPER_EDIT)
    summarize = runs.record("summarize")
    live("live-helper-edit", "summarize", runs, helper, expect("hit", evidence={"key_a": summarize["key"], "key_b": summarize["key"]}))

    unedited = recorded.moved(out / "live-unedited" / "project")
    live("live-unedited", "clean", runs, unedited, expect("hit", evidence={"key_a": clean["key"], "key_b": clean["key"]}))

    gone = Project.copy("scores", out / "live-no-record" / "project-as-recorded")
    gone_runs = run_flow(gone, "scores", out / "live-no-record" / "runs", out / "live-no-record" / "storage", rows=ROWS)
    gone_clean = gone_runs.record("clean")
    result_file(gone_clean).unlink()
    live("live-no-record", "clean", gone_runs, gone.moved(out / "live-no-record" / "project"), expect("miss", causes=("no_record",), evidence={"key_b": gone_clean["key"]}))

    (out / "check.json").write_text(json.dumps({"runs": str(runs.dir), "edited_task": "clean", "edited": str(code.dir), "unedited": str(unedited.dir), "helper_edited": str(helper.dir)}, indent=2) + "\n")
    return runs


def policies_cases(out: Path) -> None:
    project = Project.copy("policies", out / "policies" / "project")
    storage = out / "policies" / "storage"
    a = run_flow(project, "policies", out / "policies" / "a", storage, config={"window": {"days": 7}})
    for edit in POLICIES_EDITS:
        project.edit(*edit)
    b = run_flow(project, "policies", out / "policies" / "b", storage, config={"window": {"days": 14}})

    change = {"argument": "config", "path": "config.window.days", "change": "changed", "old": 7, "new": 14}
    pair("flow-parameter-changed", "forecast", a, b, "Completed", expect("miss", (culprit("FlowParameters", "1", detail={"changes": [change]}),)))

    for case, task, path in (("run-id-default", "ingest", "1"), ("run-id-explicit", "snapshot", "1")):
        run_ids = {"scope": "flow run", "a": a.record(task)["flow"]["run_id"], "b": b.record(task)["flow"]["run_id"]}
        pair(case, task, a, b, "Completed", expect("miss", (culprit("RunId", path, detail=run_ids),), advice=("default_run_id",)))

    pair("cache-key-fn", "train", a, b, "Completed", expect("miss", (culprit("CacheKeyFnPolicy", "", detail={"function": "policies.versioned_key", "a": "train-sales-v1", "b": "train-sales-v2"}),)))
    pair("inputs-exclude-changed", "render", a, b, "Completed", expect("miss", (culprit("Inputs", "1", detail={"exclude": {"a": ["debug"], "b": []}}),)))
    pair("policy-tree-changed", "aggregate", a, b, "Completed", expect("miss", (culprit("CompoundCachePolicy", "", None),)))
    # TASK_SOURCE - "debug" is TASK_SOURCE: no input counts, so B hits with another debug.
    pair("minus-without-inputs", "tune", a, b, "Cached", expect("hit", advice=("minus_without_inputs",)))
    # The same mistake where it costs a miss: the flow parameter meant to be left out busts it.
    pair("minus-without-inputs-flow-parameters", "publish_model", a, b, "Completed", expect("miss", (culprit("FlowParameters", "1", detail={"changes": [change]}),), advice=("minus_without_inputs",)))
    # Two tasks, one argument name, INPUTS only: square is served double's result in run A.
    pair("inputs-only-collision", "square", a, a, "Cached", expect("hit", advice=("inputs_only_collision",)), task_a="double")
    # The same dict written in another order: cloudpickle, not JSON, so another key.
    pair("unhashable-unsortable-keys", "label", a, b, "Completed", expect("miss", (culprit("Inputs", "1"),), advice=("unhashable_input",)))


def feeds_a(out: Path) -> tuple[Project, Runs, float]:
    project = Project.copy("feeds", out / "feeds" / "project")
    a = run_flow(project, "feeds", out / "feeds" / "a", out / "feeds" / "storage", day="2024-03-01")
    return project, a, time.monotonic()


def feeds_b(out: Path, project: Project, a: Runs, a_done: float) -> datetime:
    """B of the feeds cases; returns when the result B stored expires."""
    time.sleep(max(0.0, EXPIRY_GAP - (time.monotonic() - a_done)))
    b = run_flow(project, "feeds", out / "feeds" / "b", out / "feeds" / "storage", day="2024-03-01")
    expired_at, b_at = a.record("fetch_rates")["outcome"]["cache_expiration"], b.record("fetch_rates")["recorded_at"]
    require(expired_at is not None and expired_at < b_at, f"expired: A's result expires {expired_at}, B ran {b_at}")
    pair("expired", "fetch_rates", a, b, "Completed", expect("miss", causes=("expired",)))
    for case, task in (("no-key-no-cache", "stream"), ("no-key-persist-off", "notify"), ("no-key-error", "append")):
        require(a.record(task)["key"] is None and b.record(task)["key"] is None, f"{case}: {task} has a key")
        # Only the error says why there is no key: the summary must name it.
        mentions = {"no_key": "ValueError"} if task == "append" else None
        pair(case, task, a, b, "Completed", expect("miss", causes=("no_key",), cause_mentions=mentions))
    # B stored the result again; the script ends only once that one has expired too.
    live("live-expired", "fetch_rates", a, project, expect("miss", causes=("expired",), evidence={"key_b": a.record("fetch_rates")["key"]}))
    return datetime.fromisoformat(b.record("fetch_rates")["outcome"]["cache_expiration"].replace("Z", "+00:00"))


# ---------------------------------------------------------------------------------------------
# The two processes of explain/hashing.py


def set_order(seed: str) -> list[str]:
    code = f"print(list(set({REGIONS!r})))"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.replace("'", '"'))


def seeds_with_different_set_orders() -> tuple[str, str]:
    first = set_order("0")
    for candidate in range(1, 100):
        if set_order(str(candidate)) != first:
            return "0", str(candidate)
    sys.exit("no two hash seeds order the regions differently")


def start_hashing(project: Project, runs: Path, storage: Path, seed: str, api_url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CACHESCOPE_")}
    env.update(
        PYTHONHASHSEED=seed,
        PREFECT_API_URL=api_url,
        PREFECT_LOCAL_STORAGE_PATH=str(storage),
        CACHESCOPE_RUNS=str(runs),
        CACHESCOPE_PROJECT_ROOT=str(project.dir),
    )
    return subprocess.Popen([sys.executable, str(project.file)], cwd=project.dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen[str], what: str) -> None:
    output, _ = process.communicate()
    if process.returncode != 0:
        sys.exit(f"{what} failed ({process.returncode}):\n{output}")


def hashing_cases(a: Runs, b: Runs) -> None:
    pair("set-of-strings", "by_region", a, b, "Completed", expect("miss", (culprit("Inputs", "1"),), advice=("set_of_strings",)))
    pair("unhashable-across-processes", "flag", a, b, "Completed", expect("miss", (culprit("Inputs", "1"),), advice=("unhashable_input",)))


# ---------------------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1]).resolve()
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    # Compiled files of an edited module could be older than the edit by less than their
    # timestamp's resolution; never write them.
    sys.dont_write_bytecode = True
    started = time.monotonic()

    server = SubprocessASGIServer()
    server.start()
    seed_a, seed_b = seeds_with_different_set_orders()
    hashing = Project.copy("hashing", out / "hashing" / "project")
    hashing_storage = out / "hashing" / "storage"
    hashing_a = start_hashing(hashing, out / "hashing" / "a", hashing_storage, seed_a, server.api_url)

    # Heartbeats only detect crashed runs; each flow run waits up to a second for its
    # heartbeat thread on exit.
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        feeds = feeds_a(out)
        scores_cases(out)
        policies_cases(out)
        live_cases(out)
        finish(hashing_a, f"hashing.py with PYTHONHASHSEED={seed_a}")
        hashing_b = start_hashing(hashing, out / "hashing" / "b", hashing_storage, seed_b, server.api_url)
        expires = feeds_b(out, *feeds)
        finish(hashing_b, f"hashing.py with PYTHONHASHSEED={seed_b}")
        hashing_cases(Runs(out / "hashing" / "a"), Runs(out / "hashing" / "b"))

    time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds() + 0.1))
    (out / "manifest.json").write_text(json.dumps(MANIFEST, indent=2) + "\n")
    print(f"{len(MANIFEST)} cases in {time.monotonic() - started:.0f} s", flush=True)
    for problem in PROBLEMS:
        print("PROBLEM: " + problem, file=sys.stderr)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
