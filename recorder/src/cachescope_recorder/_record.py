"""Builds, checks and writes run records (format ``cachescope/run-record@1``).

A record is built in two steps. When Prefect computes the transaction key, :func:`snapshot`
takes everything the key was computed from (encoded at once, before the task can mutate its
inputs) together with what every policy node returned. When the task run reaches a final state,
:func:`finish` adds the outcome and checks every node against the recorded material
(:func:`mark_reproducible`), and :func:`write_record` writes the file atomically.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Optional

from . import Config, _calls, _storage_key
from ._capture import Capture

FORMAT = "cachescope/run-record@1"
REPR_MARKER = "__cachescope_repr__"
_MAX_REPR = 300

# Prefect's own policy classes, by the name the record uses; anything else is "unknown".
KNOWN_POLICIES = ("Inputs", "TaskSource", "FlowParameters", "RunId", "CompoundCachePolicy", "CacheKeyFnPolicy", "_None")


@dataclass
class Pending:
    """A record waiting for its task run's final state."""

    config: Config
    path: Path
    record: Dict[str, Any]
    # The key compute_transaction_key returned, which the run's transaction carries.
    key: Optional[str]


# --------------------------------------------------------------------------------------------
# Encoding values exactly as Prefect's hash does


_serializer: Any = None


def _json_serializer() -> Any:
    global _serializer
    if _serializer is None:
        from prefect.serializers import JSONSerializer

        _serializer = JSONSerializer(dumps_kwargs={"sort_keys": True})
    return _serializer


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ is the user's, not ours
        text = f"<{type(value).__module__}.{type(value).__qualname__} object>"
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 1] + "\u2026"


def encode_value(value: Any) -> Any:
    """What Prefect's JSON encoder makes of ``value``, as plain JSON data.

    The text comes from the same serializer ``hash_objects`` uses (``sort_keys=True`` with
    ``prefect_json_object_encoder``) and is loaded back with ``json.loads``, which keeps object
    keys in the order sorting put them: dumping the result again without ``sort_keys`` gives
    the hashed text back, even for int keys, which sort differently as strings. A value JSON
    cannot encode (Prefect then falls back to cloudpickle) becomes a repr marker, and so does
    one holding a lone surrogate.
    """
    try:
        text = _json_serializer().dumps(value).decode("utf-8")
    except Exception:  # noqa: BLE001 - any failure here is Prefect's cloudpickle fallback
        return {REPR_MARKER: _safe_repr(value)}
    encoded = json.loads(text)
    if _holds_lone_surrogate(encoded):
        # Prefect hashed the text fine (`\ud800`), but a reader that holds text as Unicode
        # scalar values (cachescope does) cannot load such a string: keep it for display only.
        return {REPR_MARKER: _safe_repr(value)}
    return encoded


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _holds_lone_surrogate(value: Any) -> bool:
    """After ``json.loads``, valid surrogate pairs are joined, so any surrogate left is alone."""
    if isinstance(value, str):
        return _LONE_SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_holds_lone_surrogate(k) or _holds_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_lone_surrogate(v) for v in value)
    return False


def encode_mapping(values: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Encodes each value of a parameter mapping; keys in ``sort_keys`` order (code points)."""
    values = values or {}
    return {name: encode_value(values[name]) for name in sorted(values)}


def has_marker(value: Any) -> bool:
    if isinstance(value, dict):
        return REPR_MARKER in value or any(has_marker(v) for v in value.values())
    if isinstance(value, list):
        return any(has_marker(v) for v in value)
    return False


def hash_material(*args: Any) -> str:
    """``hash_objects`` as cachescope recomputes it: plain ``json.dumps`` of recorded data."""
    text = json.dumps([list(args), {}])
    return hashlib.md5(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# The policy tree


def _qualified_name(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "?"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__qualname__
    return f"{module}.{name}"


def policy_label(policy: Any) -> str:
    from prefect import cache_policies as cp

    cls = type(policy)
    if getattr(cp, cls.__name__, None) is cls and cls.__name__ in KNOWN_POLICIES:
        return cls.__name__
    return _qualified_name(cls)


def _storage_text(storage: Any) -> str:
    if isinstance(storage, (str, os.PathLike)):
        return os.fspath(storage)
    basepath = getattr(storage, "basepath", None)
    if basepath is not None:
        return f"{type(storage).__name__}(basepath={basepath!r})"
    return _qualified_name(type(storage))


def describe_policy(policy: Any, capture: Capture) -> Dict[str, Any]:
    """One node (and its children) as the record holds it, with the key the node returned."""
    label = policy_label(policy)
    node: Dict[str, Any] = {"policy": label, "key": None}
    problem: Optional[str] = None
    ident = id(policy)
    if ident in capture.keys:
        key = capture.keys[ident]
        if key is not None and not isinstance(key, str):
            problem = f"compute_key returned a {type(key).__name__}, not a string"
            key = str(key)
        node["key"] = key
    elif ident in capture.raised:
        problem = f"compute_key raised {capture.raised[ident]}"
    else:
        problem = "not reached: an earlier node's compute_key raised"

    if label == "CompoundCachePolicy":
        node["policies"] = [describe_policy(child, capture) for child in policy.policies]
    elif label == "Inputs":
        node["exclude"] = list(policy.exclude or [])
    elif label == "CacheKeyFnPolicy":
        fn = policy.cache_key_fn
        node["function"] = _qualified_name(fn) if fn is not None else None

    if policy.key_storage is not None:
        node["key_storage"] = _storage_text(policy.key_storage)
    if policy.isolation_level is not None:
        level = policy.isolation_level
        node["isolation_level"] = str(getattr(level, "value", level))
    if policy.lock_manager is not None:
        node["lock_manager"] = _qualified_name(type(policy.lock_manager))

    node["reproducible"] = problem is None
    if problem is not None:
        node["reason"] = problem
    return node


# --------------------------------------------------------------------------------------------
# Checking the record against itself


def _expected_key(node: Dict[str, Any], record: Dict[str, Any]) -> tuple[Optional[str], Optional[str]]:
    """The key this node must have given the recorded material: (key, None), or (None, reason)
    when the material cannot say."""
    label = node["policy"]
    if label == "Inputs":
        inputs = record["inputs"]
        if not inputs:
            return None, None
        exclude = set(node.get("exclude") or [])
        hashed = {name: value for name, value in inputs.items() if name not in exclude}
        opaque = sorted(name for name, value in hashed.items() if has_marker(value))
        if opaque:
            names = ", ".join(opaque)
            return None, f"input {names} is recorded only as its repr (not JSON-encodable, so Prefect used cloudpickle, or a lone surrogate)"
        return hash_material(hashed), None
    if label == "TaskSource":
        source = record["task"]["source"]
        if source is None:
            return None, "no source text; Prefect hashed the compiled code object with cloudpickle"
        return hash_material(source), None
    if label == "FlowParameters":
        flow = record["flow"]
        parameters = flow["parameters"] if flow else None
        if not parameters:
            return None, None
        if has_marker(parameters):
            return None, "a flow parameter is recorded only as its repr (not JSON-encodable, so Prefect used cloudpickle, or a lone surrogate)"
        return hash_material(parameters), None
    if label == "RunId":
        flow = record["flow"]
        return (flow["run_id"] if flow else record["task_run"]["id"]), None
    if label == "_None":
        return None, None
    if label == "CompoundCachePolicy":
        keys = [child["key"] for child in node["policies"] if child["key"] is not None]
        if not keys:
            return None, None
        return hash_material(*keys), None
    if label == "CacheKeyFnPolicy":
        return None, f"the key is whatever the user function {node.get('function')} returned"
    return None, f"unknown policy class {label}: its compute_key is user code"


def mark_reproducible(record: Dict[str, Any]) -> None:
    """Sets ``reproducible``/``reason`` on every node of a loaded record, in place: a node stays
    reproducible only when plain ``json.dumps`` + md5 over the recorded material gives back the
    key the node returned."""

    def visit(node: Dict[str, Any]) -> None:
        for child in node.get("policies") or []:
            visit(child)
        if not node.get("reproducible", True):
            return
        expected, reason = _expected_key(node, record)
        if reason is None and expected != node["key"]:
            reason = "recomputing from the recorded material gives another key (JSON encoding was not stable)"
        if reason is not None:
            node["reproducible"] = False
            node["reason"] = reason
        else:
            node["reproducible"] = True
            node.pop("reason", None)

    if record.get("policy") is not None:
        visit(record["policy"])


# --------------------------------------------------------------------------------------------
# Snapshot at key time, record at the end


def _utc_text(moment: datetime, timespec: str = "microseconds") -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def _path_in(path: Path, root: Path) -> Optional[str]:
    """``path`` relative to ``root`` with ``/`` separators, when it is inside it."""
    for candidate, base in ((path, root), (Path(os.path.realpath(path)), Path(os.path.realpath(root)))):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return None


def _task_file(fn: Any) -> Optional[str]:
    try:
        return inspect.getsourcefile(fn) or inspect.getfile(fn)
    except TypeError:
        code = getattr(fn, "__code__", None)
        return code.co_filename if code is not None else None


def _local_folder(storage: Any) -> Optional[str]:
    """The folder of a local file system block; None for any other storage."""
    from prefect.filesystems import LocalFileSystem

    if not isinstance(storage, LocalFileSystem):
        return None
    base = Path(storage.basepath).expanduser() if storage.basepath else Path(".")
    return str(base.resolve())


def _lookup_folder(store: Any) -> Optional[str]:
    """Where Prefect looks a key up: the metadata storage when the policy set ``key_storage``,
    else the result storage."""
    if store is None:
        return None
    if store.metadata_storage is not None:
        return _local_folder(store.metadata_storage)
    storage = store.result_storage
    if storage is None:
        from prefect.results import get_default_result_storage

        storage = get_default_result_storage(_sync=True)
    return _local_folder(storage)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def snapshot(engine: Any, key: Optional[str], capture: Capture, config: Config, file_name: str) -> Pending:
    """Everything the key was computed from, taken right after Prefect computed it."""
    import prefect
    from prefect.cache_policies import CachePolicy
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.settings import PREFECT_TASKS_REFRESH_CACHE

    task = engine.task
    task_ctx = TaskRunContext.get()
    flow_ctx = FlowRunContext.get()
    fn = task.fn

    flow: Optional[Dict[str, Any]] = None
    if flow_ctx is not None:
        flow_run = flow_ctx.flow_run
        flow = {
            "name": flow_ctx.flow.name if flow_ctx.flow is not None else None,
            "run_id": str(flow_run.id) if flow_run is not None else None,
            "run_name": flow_run.name if flow_run is not None else None,
            "parameters": encode_mapping(flow_ctx.parameters),
        }

    file = _task_file(fn)
    if file is not None:
        file = _path_in(Path(os.path.abspath(file)), config.project_root) or file
    code = getattr(fn, "__code__", None)

    policy = task.cache_policy
    task_run = task_ctx.task_run if task_ctx is not None else engine.task_run
    refresh = task.refresh_cache if task.refresh_cache is not None else PREFECT_TASKS_REFRESH_CACHE.value()
    record: Dict[str, Any] = {
        "format": FORMAT,
        "recorded_at": None,
        "environment": {"prefect": prefect.__version__, "python": platform.python_version()},
        "project_root": str(config.project_root),
        "flow": flow,
        "task": {
            "name": task.name,
            "task_key": task.task_key,
            "qualname": getattr(fn, "__qualname__", None) or type(fn).__qualname__,
            "file": file,
            "line": code.co_firstlineno if code is not None else None,
            "source": _hashed_source(task, capture, policy),
        },
        "task_run": {"id": str(task_run.id), "name": task_run.name, **_calls.fields(task, task_run)},
        "inputs": encode_mapping(engine.parameters),
        "policy": describe_policy(policy, capture) if isinstance(policy, CachePolicy) else None,
        "key": key,
        "outcome": {
            "state": None,
            "cache_hit": False,
            "cache_expiration": None,
            "refresh_cache": bool(refresh),
            "result_storage": _lookup_folder(task_ctx.result_store if task_ctx is not None else None),
        },
    }
    storage_key = _storage_key.describe(task)
    if storage_key is not None:
        record["task"]["result_storage_key"] = storage_key
    return Pending(config=config, path=config.runs_dir / file_name, record=record, key=key)


def _hashed_source(task: Any, capture: Capture, policy: Any) -> Optional[str]:
    """The text TaskSource hashed: ``task.source_code`` when Prefect had it. Without it,
    Prefect asks ``inspect`` again at key time; that text is kept only when it is provably the
    one hashed (its hash is the key a TaskSource node returned)."""
    source = getattr(task, "source_code", None)
    if source is not None:
        return source
    try:
        text = inspect.getsource(task)
    except (OSError, TypeError):
        return None
    from prefect.cache_policies import CompoundCachePolicy, TaskSource

    from ._capture import iter_nodes

    digest = hash_material(text)
    for node in iter_nodes(policy, CompoundCachePolicy):
        if type(node) is TaskSource and capture.keys.get(id(node)) == digest:
            return text
    return None


def file_name_for(task_name: str, task_run_id: Any) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")[:-3]
    name = _UNSAFE.sub("_", task_name)[:60] or "task"
    return f"{stamp}-{name}-{task_run_id}.json"


def _relative_to(folder: Path, target: Optional[str]) -> Optional[str]:
    if target is None:
        return None
    try:
        return Path(os.path.relpath(target, folder)).as_posix()
    except ValueError:
        # Another drive (Windows): no relative path exists, the absolute one is still right.
        return target


def finish(pending: Pending, state: Any) -> Dict[str, Any]:
    """The record with its outcome, checked, ready to write."""
    from prefect.transactions import get_transaction

    record = json.loads(json.dumps(pending.record))
    outcome = record["outcome"]
    outcome["state"] = state.name
    outcome["cache_hit"] = state.name == "Cached"
    outcome["cache_expiration"] = _stored_expiration(pending.key, state, get_transaction())
    record["recorded_at"] = _utc_text(datetime.now(timezone.utc), "milliseconds")
    if pending.config.relative_paths:
        folder = pending.path.parent
        record["project_root"] = _relative_to(folder, record["project_root"])
        outcome["result_storage"] = _relative_to(folder, outcome["result_storage"])
    mark_reproducible(record)
    _storage_key.mark_reproducible(record)
    return record


def _stored_expiration(key: Optional[str], state: Any, transaction: Any) -> Optional[str]:
    """The expiry of the result record stored under the key, when there is one: the record a
    hit read, or the one this run writes when its transaction commits."""
    data = getattr(state, "data", None)
    metadata = getattr(data, "metadata", None)
    if key is None or metadata is None or transaction is None or getattr(transaction, "key", None) != key:
        return None
    stored = transaction.is_committed() or (state.is_completed() and transaction.write_on_commit)
    if not stored or metadata.expiration is None:
        return None
    return _utc_text(metadata.expiration)


def _create_temp(folder: Path) -> tuple[int, str]:
    """A new temporary file in ``folder``, created as ``open()`` creates files: mode 0666 less
    the process's umask (0644 under the usual 022, as Prefect's result files), so the group and
    others can read records wherever they can read results. ``tempfile.mkstemp`` would make it
    0600 whatever the umask; reading the umask to chmod afterwards would mean setting it, which
    is not safe while task runs in other threads create files."""
    for _ in range(100):
        temp = str(folder / f".{secrets.token_hex(8)}.tmp")
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")


def write_record(path: Path, record: Dict[str, Any]) -> None:
    """Writes atomically: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=2) + "\n"
    fd, temp = _create_temp(path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise

