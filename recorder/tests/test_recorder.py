"""Unit tests of the recorder's parts, without a Prefect server: value encoding against Prefect's
own hash, the per-node capture, the reproducibility check, the lazy bootstrap, the settings.

Run with Prefect and the recorder installed: ``python -m unittest discover -s recorder/tests``.
"""

from __future__ import annotations

import contextvars
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import unittest
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

from prefect.cache_policies import (
    INPUTS,
    RUN_ID,
    TASK_SOURCE,
    CachePolicy,
    CompoundCachePolicy,
    Inputs,
)
from prefect.serializers import JSONSerializer
from prefect.utilities.hashing import hash_objects

import cachescope_recorder
from cachescope_recorder import _calls, _capture, _record, _storage_key

_capture.wrap_hierarchy(CachePolicy)

SOURCE = "@task\ndef f(x):\n    return x\n"


def task_ctx(flow_run_id: Optional[str] = "flow-run", source: Optional[str] = SOURCE) -> Any:
    """The parts of a TaskRunContext that Prefect's policies read."""
    return SimpleNamespace(
        task=SimpleNamespace(source_code=source),
        task_run=SimpleNamespace(flow_run_id=flow_run_id, id="task-run"),
    )


def compute(policy: CachePolicy, inputs: dict[str, Any], params: Optional[dict[str, Any]] = None) -> tuple[Optional[str], _capture.Capture]:
    capture = _capture.Capture()
    token = _capture.CURRENT.set(capture)
    try:
        key = policy.compute_key(task_ctx=task_ctx(), inputs=inputs, flow_parameters=params or {})
    finally:
        _capture.CURRENT.reset(token)
    return key, capture


@dataclass
class Point:
    x: int
    y: float


class LoudInputs(Inputs):
    """Overrides compute_key and calls the original: only the outer result is the node's key."""

    def compute_key(self, *args: Any, **kwargs: Any) -> Optional[str]:
        key = super().compute_key(*args, **kwargs)
        return None if key is None else "loud-" + key


class Boom(CachePolicy):
    def compute_key(self, *args: Any, **kwargs: Any) -> Optional[str]:
        raise RuntimeError("no key today")


TRICKY = [
    {10: "ten", 2: "two", -1: "minus"},
    {True: "t", 2.5: "x", 0: "zero"},
    {None: "alone"},
    math.nan,
    [math.inf, -math.inf, -0.0, 1e16, 5e-324, 0.1 + 0.2],
    2**100,
    "grin \U0001f600 nul \x00 del \x7f",
    datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    Decimal("1.10"),
    {"b", "a", "c"},
    Point(1, 2.5),
    ValueError("boom"),
    b"bytes",
]


class EncodingTest(unittest.TestCase):
    def test_recorded_values_dump_back_to_the_text_prefect_hashed(self) -> None:
        serializer = JSONSerializer(dumps_kwargs={"sort_keys": True})
        for value in TRICKY:
            with self.subTest(value=value):
                encoded = _record.encode_value(value)
                self.assertEqual(json.dumps(encoded), serializer.dumps(value).decode())
                # And through a written record: the file text loads back to the same material.
                reloaded = json.loads(json.dumps({"v": encoded}, indent=2))["v"]
                self.assertEqual(json.dumps(reloaded), json.dumps(encoded))
                self.assertEqual(_record.hash_material({"v": encoded}), hash_objects({"v": value}))

    def test_values_json_cannot_encode_become_repr_markers(self) -> None:
        for value in [lambda x: x, object(), {1: "a", "b": 2}, {(1, 2): "t"}, b"\xff", "\ud800 lone"]:
            with self.subTest(value=repr(value)):
                encoded = _record.encode_value(value)
                self.assertEqual(list(encoded), [_record.REPR_MARKER])
                self.assertTrue(_record.has_marker({"deep": [encoded]}))

    def test_mapping_keys_are_in_code_point_order(self) -> None:
        self.assertEqual(list(_record.encode_mapping({"b": 1, "B": 2, "a": 3, "\u00e9": 4})), ["B", "a", "b", "\u00e9"])


class CaptureTest(unittest.TestCase):
    def test_every_node_reports_the_key_it_returned(self) -> None:
        policy = INPUTS + TASK_SOURCE + RUN_ID
        key, capture = compute(policy, {"x": 1})
        node = _record.describe_policy(policy, capture)
        self.assertEqual(node["key"], key)
        self.assertEqual([child["policy"] for child in node["policies"]], ["TaskSource", "RunId", "Inputs"])
        self.assertEqual([child["key"] for child in node["policies"]], [hash_objects(SOURCE), "flow-run", hash_objects({"x": 1})])
        self.assertTrue(all(child["reproducible"] for child in node["policies"]))

    def test_an_override_calling_super_reports_its_own_result(self) -> None:
        policy = LoudInputs()
        _capture.wrap_policy_tree(policy, CompoundCachePolicy)
        key, capture = compute(policy, {"x": 1})
        self.assertEqual(key, "loud-" + hash_objects({"x": 1}))
        self.assertEqual(_record.describe_policy(policy, capture)["key"], key)

    def test_a_raising_node_and_the_nodes_after_it_are_not_reproducible(self) -> None:
        policy = CompoundCachePolicy(policies=[Boom(), TASK_SOURCE])
        _capture.wrap_policy_tree(policy, CompoundCachePolicy)
        capture = _capture.Capture()
        token = _capture.CURRENT.set(capture)
        try:
            with self.assertRaises(RuntimeError):
                policy.compute_key(task_ctx=task_ctx(), inputs={"x": 1}, flow_parameters={})
        finally:
            _capture.CURRENT.reset(token)
        node = _record.describe_policy(policy, capture)
        self.assertIn("raised RuntimeError: no key today", node["reason"])
        self.assertIn("raised RuntimeError", node["policies"][0]["reason"])
        self.assertIn("not reached", node["policies"][1]["reason"])
        self.assertFalse(any(n["reproducible"] for n in [node, *node["policies"]]))

    def test_nothing_is_captured_outside_a_capture(self) -> None:
        self.assertIsNone(_capture.CURRENT.get())
        self.assertEqual(INPUTS.compute_key(task_ctx(), {"x": 1}, {}), hash_objects({"x": 1}))

    def test_threads_keep_their_own_captures(self) -> None:
        policy = INPUTS + TASK_SOURCE
        results: dict[int, tuple[Optional[str], _capture.Capture]] = {}
        barrier = threading.Barrier(8)

        def work(i: int) -> None:
            barrier.wait()
            for _ in range(50):
                results[i] = compute(policy, {"x": i})

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, (key, capture) in results.items():
            node = _record.describe_policy(policy, capture)
            self.assertEqual(node["policies"][1]["key"], hash_objects({"x": i}))
            self.assertEqual(node["key"], key)


def record_for(policy_node: dict[str, Any], inputs: dict[str, Any], flow: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    return {
        "task": {"source": SOURCE},
        "task_run": {"id": "task-run"},
        "flow": flow,
        "inputs": inputs,
        "policy": policy_node,
    }


class ReproducibleTest(unittest.TestCase):
    def check(self, node: dict[str, Any], inputs: dict[str, Any], flow: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        record = record_for(node, inputs, flow)
        _record.mark_reproducible(record)
        return record["policy"]

    def test_an_excluded_opaque_input_does_not_matter(self) -> None:
        inputs = {"lock": {_record.REPR_MARKER: "<lock>"}, "x": 1}
        node = self.check({"policy": "Inputs", "key": hash_objects({"x": 1}), "exclude": ["lock"]}, inputs)
        self.assertTrue(node["reproducible"])
        node = self.check({"policy": "Inputs", "key": "whatever", "exclude": []}, inputs)
        self.assertFalse(node["reproducible"])
        self.assertIn("lock", node["reason"])

    def test_a_key_the_material_does_not_give_is_flagged(self) -> None:
        node = self.check({"policy": "TaskSource", "key": "0" * 32}, {})
        self.assertFalse(node["reproducible"])
        self.assertIn("another key", node["reason"])

    def test_no_inputs_gives_none_and_all_excluded_gives_the_empty_hash(self) -> None:
        self.assertTrue(self.check({"policy": "Inputs", "key": None, "exclude": []}, {})["reproducible"])
        node = self.check({"policy": "Inputs", "key": "05da934bc95640755e0d7882f6f171d0", "exclude": ["x"]}, {"x": 1})
        self.assertTrue(node["reproducible"])

    def test_user_code_and_unknown_classes_are_never_reproducible(self) -> None:
        for node in [{"policy": "CacheKeyFnPolicy", "key": "k", "function": "m.f"}, {"policy": "m.MyPolicy", "key": "k"}]:
            self.assertFalse(self.check(node, {"x": 1})["reproducible"])

    def test_a_compound_recomputes_from_its_childrens_recorded_keys(self) -> None:
        children = [{"policy": "CacheKeyFnPolicy", "key": "user", "function": "m.f"}, {"policy": "RunId", "key": "flow-run"}]
        flow = {"run_id": "flow-run", "parameters": {}}
        node = self.check({"policy": "CompoundCachePolicy", "key": hash_objects("user", "flow-run"), "policies": children}, {}, flow)
        self.assertTrue(node["reproducible"])
        self.assertEqual([c["reproducible"] for c in node["policies"]], [False, True])


class StorageKeyTest(unittest.TestCase):
    """A result_storage_key template is reproducible only when the recorded material fills it
    into the key Prefect formatted from the run's own values."""

    def check(self, template: str, values: dict[str, Any]) -> dict[str, Any]:
        # What Prefect does: str.format with the task run's parameters as they were.
        key = template.format(parameters=values, task_run=SimpleNamespace(task_name="t", name="t-1", id="task-run"))
        record = {
            "task": {"name": "t", "result_storage_key": _storage_key.describe(SimpleNamespace(result_storage_key=template))},
            "task_run": {"id": "task-run", "name": "t-1"},
            "flow": None,
            "inputs": json.loads(json.dumps(_record.encode_mapping(values))),
            "policy": None,
            "key": key,
        }
        _storage_key.mark_reproducible(record)
        return record["task"]["result_storage_key"]

    def test_a_template_the_material_fills_is_reproducible(self) -> None:
        info = self.check("{task_run.task_name}/latest-{parameters[label]}-{parameters[n]:03d}", {"label": "north", "n": 7})
        self.assertEqual(info, {"template": "{task_run.task_name}/latest-{parameters[label]}-{parameters[n]:03d}", "reproducible": True})

    def test_a_value_whose_text_is_not_its_json_is_flagged(self) -> None:
        # A tuple is formatted "(1, 2)" but recorded as the list [1, 2].
        info = self.check("span-{parameters[span]}", {"span": (1, 2)})
        self.assertFalse(info["reproducible"])
        self.assertIn("str()", info["reason"])

    def test_a_runtime_field_that_is_not_recorded_is_flagged(self) -> None:
        self.assertTrue(self.check("{task_run.name}-{parameters[x]}", {"x": 1})["reproducible"])
        # Prefect formatted the run's tags; the record does not hold them.
        record = {"task": {"name": "t", "result_storage_key": {"template": "{task_run.tags}"}}, "task_run": {"id": "i", "name": "n"}, "flow": None, "inputs": {}, "policy": None, "key": "[]"}
        _storage_key.mark_reproducible(record)
        self.assertFalse(record["task"]["result_storage_key"]["reproducible"])
        self.assertIn("AttributeError", record["task"]["result_storage_key"]["reason"])


class SettingsTest(unittest.TestCase):
    def test_recording_restores_what_was_in_force(self) -> None:
        cachescope_recorder.disable()
        with tempfile.TemporaryDirectory() as tmp:
            with cachescope_recorder.recording(tmp, project_root=tmp, relative_paths=True) as config:
                self.assertEqual(cachescope_recorder.current(), config)
                self.assertEqual(config.runs_dir, Path(tmp))
                self.assertTrue(config.relative_paths)
            self.assertIsNone(cachescope_recorder.current())

    def test_defaults_come_from_the_environment_then_the_working_directory(self) -> None:
        saved = {k: os.environ.pop(k, None) for k in ("CACHESCOPE_RUNS", "CACHESCOPE_PROJECT_ROOT", "CACHESCOPE_RELATIVE_PATHS")}
        try:
            config = cachescope_recorder.enable()
            self.assertEqual(config.runs_dir, Path.cwd() / ".cachescope" / "runs")
            self.assertEqual(config.project_root, Path.cwd())
            self.assertFalse(config.relative_paths)
            os.environ.update(CACHESCOPE_RUNS="elsewhere", CACHESCOPE_RELATIVE_PATHS="1")
            config = cachescope_recorder.enable()
            self.assertEqual(config.runs_dir, Path.cwd() / "elsewhere")
            self.assertTrue(config.relative_paths)
        finally:
            cachescope_recorder.disable()
            for k, v in saved.items():
                os.environ.pop(k, None)
                if v is not None:
                    os.environ[k] = v

    def test_records_are_written_whole(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sub" / "r.json"
            _record.write_record(path, {"format": _record.FORMAT, "x": math.nan})
            self.assertEqual(os.listdir(path.parent), ["r.json"])
            self.assertIn("NaN", path.read_text())

    def test_records_are_readable_as_the_umask_allows(self) -> None:
        # Issue 8: records were 0600 (tempfile.mkstemp) while Prefect's results are 0644.
        with tempfile.TemporaryDirectory() as tmp:
            for umask in (0o022, 0o077, 0o002):
                path = Path(tmp) / f"r-{umask:o}.json"
                previous = os.umask(umask)
                try:
                    _record.write_record(path, {"format": _record.FORMAT})
                    plain = Path(tmp) / f"plain-{umask:o}"
                    plain.write_text("as open() makes files")
                finally:
                    os.umask(previous)
                mode = path.stat().st_mode & 0o777
                self.assertEqual(mode, 0o666 & ~umask, f"umask {umask:o}: mode {mode:o}")
                self.assertEqual(mode, plain.stat().st_mode & 0o777)
            self.assertEqual(sorted(p.name for p in Path(tmp).iterdir() if p.name.startswith(".")), [], "no temporary file is left")


class FakeRunner:
    """A task runner as Prefect's are: ``map`` submits the elements one by one, in order, and
    ``submit`` copies the submitting context for the worker."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def submit(self, task: Any, parameters: dict[str, Any]) -> Any:
        context = contextvars.copy_context()
        # What the task run will see in its worker thread.
        result: list[Any] = []
        worker = threading.Thread(target=lambda: result.append(context.run(lambda: _calls.fields(task, SimpleNamespace(dynamic_key="k")))))
        worker.start()
        worker.join()
        self.seen.append(result[0])
        return result[0]

    def map(self, task: Any, values: list[Any]) -> list[Any]:
        return [self.submit(task=task, parameters={"x": v}) for v in values]


class FakeTask:
    def __init__(self, key: str, runner: FakeRunner) -> None:
        self.task_key = key
        self.runner = runner

    def __call__(self, x: Any) -> Any:
        return _calls.fields(self, SimpleNamespace(dynamic_key=None))

    def submit(self, x: Any) -> Any:
        return self.runner.submit(self, {"x": x})

    def map(self, values: list[Any]) -> list[Any]:
        return self.runner.map(self, values)


FakeTask.__call__ = _calls._wrap_task_call(FakeTask.__call__)  # type: ignore[method-assign]
FakeTask.map = _calls._wrap_task_map(FakeTask.map)  # type: ignore[method-assign]
_calls.wrap_runner_class(FakeRunner)


class CallsTest(unittest.TestCase):
    """Which call of its task a run is: Prefect 3.9.1 does not say (its dynamic_key is a
    random UUID), so the recorder counts calls where the flow makes them."""

    def setUp(self) -> None:
        self.flow_run = "flow-run-1"
        saved = _calls._flow_run_id
        _calls._flow_run_id = lambda: self.flow_run  # type: ignore[assignment]
        self.addCleanup(setattr, _calls, "_flow_run_id", saved)
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        recording = cachescope_recorder.recording(tmp.name)
        recording.__enter__()
        self.addCleanup(recording.__exit__, None, None, None)

    def test_map_elements_get_their_index_and_calls_count_in_order(self) -> None:
        runner = FakeRunner()
        score, other = FakeTask("score-1", runner), FakeTask("other-1", runner)
        self.assertEqual(score(1), {"dynamic_key": None, "call_index": 0, "map_index": None})
        mapped = score.map([10, 20, 30, 40])
        self.assertEqual([(f["call_index"], f["map_index"]) for f in mapped], [(1, 0), (2, 1), (3, 2), (4, 3)])
        self.assertEqual(mapped[0]["dynamic_key"], "k")
        # Another task counts on its own; a submit after the map is not an element.
        self.assertEqual(other.submit(5)["call_index"], 0)
        submitted = score.submit(5)
        self.assertEqual((submitted["call_index"], submitted["map_index"]), (5, None))
        # A new flow run counts from 0 again.
        self.flow_run = "flow-run-2"
        self.assertEqual([f["map_index"] for f in score.map([1, 2])], [0, 1])
        self.assertEqual([f["call_index"] for f in runner.seen[-2:]], [0, 1])

    def test_a_note_counts_only_for_its_own_task(self) -> None:
        runner = FakeRunner()
        score, other = FakeTask("score-1", runner), FakeTask("score-1", runner)
        token = _calls.CALL.set(_calls.Call(task=score, call_index=3, map_index=1))
        try:
            # A run of another task object started inside that call is not that call.
            self.assertEqual(_calls.fields(other, None), {"dynamic_key": None, "call_index": None, "map_index": None})
            self.assertEqual(_calls.fields(score, None)["map_index"], 1)
        finally:
            _calls.CALL.reset(token)

    def test_nothing_is_counted_while_recording_is_off(self) -> None:
        runner = FakeRunner()
        score = FakeTask("score-1", runner)
        cachescope_recorder.disable()
        self.assertEqual([f["call_index"] for f in score.map([1, 2])], [None, None])


class FailureTest(unittest.TestCase):
    def test_a_recorder_failure_is_logged_once_and_never_raised(self) -> None:
        from cachescope_recorder import _hooks

        _hooks._warned = False
        with tempfile.TemporaryDirectory() as tmp:
            blocker = Path(tmp) / "a-file"
            blocker.write_text("")
            config = cachescope_recorder.Config(runs_dir=blocker, project_root=Path(tmp), relative_paths=False)
            record = {"policy": None, "outcome": {}}
            engine = SimpleNamespace()
            engine.__dict__[_hooks._PENDING] = _record.Pending(config=config, path=blocker / "r.json", record=record, key=None)
            state = SimpleNamespace(name="Completed", is_final=lambda: True, data=None)
            with self.assertLogs("cachescope_recorder", "DEBUG") as logs:
                _hooks._after_state(engine, state)
                _hooks._after_state(engine, state)
        self.assertEqual([r.levelname for r in logs.records], ["WARNING", "DEBUG"])
        self.assertIn("could not write the run record", logs.records[0].getMessage())


class BootstrapTest(unittest.TestCase):
    PROBE = (
        "import sys; "
        "print('prefect' in sys.modules, "
        "any(type(f).__name__ == '_TaskEngineFinder' for f in sys.meta_path))"
    )

    def probe(self, runs: Optional[str]) -> str:
        env = {k: v for k, v in os.environ.items() if k != "CACHESCOPE_RUNS"}
        if runs is not None:
            env["CACHESCOPE_RUNS"] = runs
        out = subprocess.run([sys.executable, "-c", self.PROBE], env=env, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def test_the_pth_file_waits_for_prefect_without_importing_it(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            self.assertEqual(self.probe(tmp), "False True")
            self.assertEqual(os.listdir(tmp), [], "nothing is written before a task runs")

    def test_without_the_variable_nothing_happens(self) -> None:
        self.assertEqual(self.probe(None), "False False")
        self.assertEqual(self.probe(""), "False False")


if __name__ == "__main__":
    unittest.main()
