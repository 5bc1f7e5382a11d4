"""Which call of its task a task run is: its position among the runs of the same task in its
flow run (``call_index``), and its element when it is one of the runs of a ``task.map``
(``map_index``). cachescope needs both to compare a run with the same call in an earlier flow
run rather than with a sibling.

Prefect 3.9.1 keeps neither. The engine creates each task run locally with
``dynamic_key_for_task_run(..., stable=False)``: the ``dynamic_key`` is a random UUID (the
call counter Prefect keeps in ``FlowRunContext.task_run_dynamic_keys`` is only used for runs
created through the API, such as ``apply_async``), the run's name is the task's name and the
first three characters of that UUID, and the run's id is a UUID7 with millisecond resolution
and random low bits, so the ids of map elements submitted in the same millisecond do not sort
in submission order. Inputs do not say it either (two elements may get equal inputs).

So the recorder counts the calls itself, where the flow makes them, in the calling thread, in
the order the flow's code runs: ``Task.__call__`` (a direct call), the task runner's
``submit`` (``task.submit``, and each element of ``task.map``, submitted one by one in map
order), and ``Task.map`` (which says that the submits inside it are elements). The count is
handed to the task run in a ``ContextVar``: a direct call runs in the caller's context, and the
task runners copy the submitting context (``copy_context()``) into the worker thread. The
"inside a submit" and "inside a map" marks are thread-local instead, so they never travel into
the task runs started from them.

As everywhere in the recorder, each wrapper calls the original and returns or raises exactly
what it did; when recording is off they only call it.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Set

from . import current

_WRAPPED = "__cachescope_wrapped__"


@dataclass(frozen=True)
class Call:
    """One call of a task, as the flow made it."""

    task: Any
    # The run's position among the runs of its task (by task_key) in its flow run, from 0;
    # None outside a flow run.
    call_index: Optional[int]
    # The element of the ``task.map`` that submitted it, from 0; None when not mapped.
    map_index: Optional[int]


CALL: ContextVar[Optional[Call]] = ContextVar("cachescope_call", default=None)


class _Marks(threading.local):
    submitting: int = 0
    # While ``Task.map`` runs in this thread: [the mapped task, the next element's index].
    mapping: Optional[list] = None


_marks = _Marks()

# Calls counted so far per flow run id, then per task_key. Only the latest flow runs are
# kept: a long-lived process (a worker) must not grow without end, and a flow run that made
# no call for this long has finished.
_MAX_FLOW_RUNS = 512
_counts: "OrderedDict[str, Dict[str, int]]" = OrderedDict()
_lock = threading.Lock()


def _flow_run_id() -> Optional[str]:
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    flow_run = getattr(ctx, "flow_run", None) if ctx is not None else None
    return str(flow_run.id) if flow_run is not None else None


def _next_call_index(task: Any) -> Optional[int]:
    flow_run = _flow_run_id()
    if flow_run is None:
        return None
    with _lock:
        per_task = _counts.pop(flow_run, None) or {}
        _counts[flow_run] = per_task
        while len(_counts) > _MAX_FLOW_RUNS:
            _counts.popitem(last=False)
        index = per_task.get(task.task_key, 0)
        per_task[task.task_key] = index + 1
    return index


def _note(task: Any, submitted: bool) -> Call:
    map_index = None
    mapping = _marks.mapping
    if submitted and mapping is not None and mapping[0] is task:
        map_index = mapping[1]
        mapping[1] += 1
    return Call(task=task, call_index=_next_call_index(task), map_index=map_index)


def _failed(what: str) -> None:
    from ._hooks import report_failure

    report_failure(what)


def _wrap_submit(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def submit(self: Any, *args: Any, **kwargs: Any) -> Any:
        # A runner's submit that calls its base class's submit is one submission.
        if current() is None or _marks.submitting:
            return method(self, *args, **kwargs)
        call = None
        try:
            task = args[0] if args else kwargs.get("task")
            if task is not None:
                call = _note(task, submitted=True)
        except Exception:  # noqa: BLE001 - the call goes on, uncounted
            _failed("could not count a task submission")
        if call is None:
            return method(self, *args, **kwargs)
        token = CALL.set(call)
        _marks.submitting += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            _marks.submitting -= 1
            CALL.reset(token)

    setattr(submit, _WRAPPED, True)
    return submit


_seen_runners: Set[type] = set()


def wrap_runner_class(cls: type) -> None:
    """Wraps ``submit`` wherever ``cls`` or one of its bases defines its own."""
    for klass in cls.__mro__:
        if klass is object or klass in _seen_runners:
            continue
        _seen_runners.add(klass)
        method = klass.__dict__.get("submit")
        # An abstract submit is never called; wrapping it would only blur what is abstract.
        if callable(method) and not getattr(method, _WRAPPED, False) and not getattr(method, "__isabstractmethod__", False):
            setattr(klass, "submit", _wrap_submit(method))


def _wrap_runners_of_flow() -> None:
    """The flow's task runner may be a class defined after the recorder was installed (a
    Dask or Ray runner imported later): wrap it before the map or submit uses it."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    runner = getattr(ctx, "task_runner", None) if ctx is not None else None
    if runner is not None:
        wrap_runner_class(type(runner))


def _wrap_task_map(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def map(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current() is None:
            return method(self, *args, **kwargs)
        try:
            _wrap_runners_of_flow()
        except Exception:  # noqa: BLE001
            _failed("could not wrap the flow's task runner")
        previous = _marks.mapping
        _marks.mapping = [self, 0]
        try:
            return method(self, *args, **kwargs)
        finally:
            _marks.mapping = previous

    return map


def _wrap_task_submit(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def submit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current() is not None:
            try:
                _wrap_runners_of_flow()
            except Exception:  # noqa: BLE001
                _failed("could not wrap the flow's task runner")
        return method(self, *args, **kwargs)

    return submit


async def _awaited_in(coro: Any, call: Call) -> Any:
    # Runs the task's coroutine with the call noted: the engine reads it when awaited, after
    # ``Task.__call__`` has returned.
    token = CALL.set(call)
    try:
        return await coro
    finally:
        CALL.reset(token)


def _wrap_task_call(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current() is None:
            return method(self, *args, **kwargs)
        call = None
        try:
            call = _note(self, submitted=False)
        except Exception:  # noqa: BLE001
            _failed("could not count a task call")
        if call is None:
            return method(self, *args, **kwargs)
        token = CALL.set(call)
        try:
            result = method(self, *args, **kwargs)
        finally:
            CALL.reset(token)
        if inspect.iscoroutine(result):
            return _awaited_in(result, call)
        return result

    return __call__


_patched = False


def patch() -> None:
    """Counts the calls of every task from now on. Called as soon as ``prefect.tasks`` is
    loaded, and again with the engine's hooks; only the first call patches. A task runner's
    ``submit`` is wrapped when ``task.submit`` or ``task.map`` first uses the runner."""
    global _patched
    if _patched:
        return
    _patched = True
    from prefect.tasks import Task

    Task.__call__ = _wrap_task_call(Task.__call__)  # type: ignore[method-assign]
    Task.submit = _wrap_task_submit(Task.submit)  # type: ignore[method-assign]
    Task.map = _wrap_task_map(Task.map)  # type: ignore[method-assign]


def fields(task: Any, task_run: Any) -> Dict[str, Any]:
    """What the record says about the call that made ``task_run``: Prefect's ``dynamic_key``,
    and the call and map indexes the wrappers noted (null when not known)."""
    call = CALL.get()
    # A task run started from inside another run of the same context sees that run's note:
    # it only counts for the very task object it was noted for.
    if call is not None and call.task is not task:
        call = None
    dynamic_key = getattr(task_run, "dynamic_key", None)
    return {
        "dynamic_key": None if dynamic_key is None else str(dynamic_key),
        "call_index": call.call_index if call is not None else None,
        "map_index": call.map_index if call is not None else None,
    }
