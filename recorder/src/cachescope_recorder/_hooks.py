"""Installs the recorder into Prefect's task engine.

Prefect is never imported here on behalf of the user: when ``prefect.task_engine`` is not
loaded yet, a one-shot import hook waits for it and patches the module right after it has
executed. Three things are patched, each a thin wrapper that calls the original and returns
or raises exactly what it did:

- ``compute_key`` of every cache policy class (see :mod:`._capture`), which reports each node's
  key while a capture is active;
- ``BaseTaskRunEngine.compute_transaction_key``, which opens that capture around Prefect's own
  computation and takes the snapshot of the material right after;
- ``set_state`` of the sync and async engines, which writes the record when the task run
  reaches a final state (again on a later final state, so the file always holds the last),
  and, inside an enclosing transaction, again when the task's own transaction commits or rolls
  back (see :mod:`._transactions`).

And where the flow calls, submits or maps a task (``Task.__call__``, ``Task.submit``,
``Task.map`` and the task runner's ``submit``), :mod:`._calls` notes which call of the task
it is; the hook patches ``Task`` as soon as ``prefect.tasks`` is loaded, before the first call.

Any failure of the recorder itself is logged once, as a warning, and the task run goes on.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, Callable, Optional, Sequence

from . import current
from . import _calls, _capture, _record, _transactions

_TARGET = "prefect.task_engine"
_TASKS = "prefect.tasks"
# The engine keeps its pending record (and the file name chosen for it) in this attribute.
_PENDING = "_cachescope_pending"
_FILE_NAME = "_cachescope_file_name"

_logger = logging.getLogger("cachescope_recorder")
_lock = threading.Lock()
_patched = False
_warned = False


def report_failure(what: str) -> None:
    """Logs the first recorder failure with its traceback; later ones only at debug level, so
    a broken recorder cannot flood a flow's logs."""
    global _warned
    if not _warned:
        _warned = True
        _logger.warning("cachescope recorder: %s; the run goes on unrecorded", what, exc_info=True)
    else:
        _logger.debug("cachescope recorder: %s", what, exc_info=True)


class _TaskEngineFinder(MetaPathFinder):
    """Finds ``prefect.task_engine`` through the other finders and patches it once loaded;
    ``prefect.tasks`` too, which a flow imports long before its first task call imports the
    engine, so that the first call of a task is counted like the others (see :mod:`._calls`)."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        if fullname not in (_TARGET, _TASKS):
            return None
        spec = None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original_exec(module)
            if fullname == _TASKS:
                try:
                    _calls.patch()
                except Exception:  # noqa: BLE001 - never break the import of Prefect
                    report_failure("could not patch prefect.tasks")
                return
            _remove_finder()
            try:
                _patch(module)
            except Exception:  # noqa: BLE001 - never break the import of Prefect
                report_failure("could not patch prefect.task_engine")

        # The loader object belongs to this one spec, so shadowing its method is local.
        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _remove_finder() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TaskEngineFinder)]


def install() -> None:
    """Patches Prefect now if its task engine is loaded, else when it is imported."""
    with _lock:
        if _patched:
            return
        module = sys.modules.get(_TARGET)
        if module is not None:
            _patch(module)
            return
        if _TASKS in sys.modules:
            _calls.patch()
        if not any(isinstance(f, _TaskEngineFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, _TaskEngineFinder())


def _patch(task_engine: ModuleType) -> None:
    global _patched
    if _patched:
        return
    from prefect.cache_policies import CachePolicy

    _capture.wrap_hierarchy(CachePolicy)
    base = task_engine.BaseTaskRunEngine
    base.compute_transaction_key = _wrap_compute_transaction_key(base.compute_transaction_key)
    sync_engine = task_engine.SyncTaskRunEngine
    sync_engine.set_state = _wrap_sync_set_state(sync_engine.set_state)
    async_engine = task_engine.AsyncTaskRunEngine
    async_engine.set_state = _wrap_async_set_state(async_engine.set_state)
    _calls.patch()
    _patched = True


def _wrap_compute_transaction_key(original: Callable[[Any], Optional[str]]) -> Callable[[Any], Optional[str]]:
    @functools.wraps(original)
    def compute_transaction_key(self: Any) -> Optional[str]:
        config = current()
        if config is None:
            return original(self)
        try:
            from prefect.cache_policies import CachePolicy, CompoundCachePolicy

            if isinstance(self.task.cache_policy, CachePolicy):
                _capture.wrap_policy_tree(self.task.cache_policy, CompoundCachePolicy)
        except Exception:  # noqa: BLE001
            report_failure("could not inspect the task's cache policy")
        try:
            _transactions.note_parent(self)
        except Exception:  # noqa: BLE001
            report_failure("could not see the enclosing transaction")
        capture = _capture.Capture()
        token = _capture.CURRENT.set(capture)
        try:
            key = original(self)
        finally:
            _capture.CURRENT.reset(token)
        try:
            file_name = self.__dict__.get(_FILE_NAME)
            if file_name is None:
                file_name = _record.file_name_for(self.task.name, self.task_run.id)
                self.__dict__[_FILE_NAME] = file_name
            self.__dict__[_PENDING] = _record.snapshot(self, key, capture, config, file_name)
        except Exception:  # noqa: BLE001
            self.__dict__.pop(_PENDING, None)
            report_failure("could not take the cache key material")
        return key

    return compute_transaction_key


def _after_state(engine: Any, state: Any) -> None:
    try:
        pending = engine.__dict__.get(_PENDING)
        if pending is None or not state.is_final():
            return
        record = _record.finish(pending, state)
        try:
            _transactions.annotate(engine, state, pending.path, record, report_failure)
        except Exception:  # noqa: BLE001
            report_failure("could not follow the task's transaction")
        _record.write_record(pending.path, record)
    except Exception:  # noqa: BLE001
        report_failure("could not write the run record")


def _wrap_sync_set_state(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def set_state(self: Any, *args: Any, **kwargs: Any) -> Any:
        state = original(self, *args, **kwargs)
        _after_state(self, state)
        return state

    return set_state


def _wrap_async_set_state(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def set_state(self: Any, *args: Any, **kwargs: Any) -> Any:
        state = await original(self, *args, **kwargs)
        _after_state(self, state)
        return state

    return set_state
