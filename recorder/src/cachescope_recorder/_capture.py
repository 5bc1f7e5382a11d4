"""Captures what each cache policy node's ``compute_key`` returned during Prefect's own key
computation.

Every ``compute_key`` method of a policy class is wrapped once (Prefect's classes when the task
engine is patched, a user's subclass the first time one of its instances shows up in a task's
policy). The wrapper only reports when a :class:`Capture` is active in the current context,
which the engine hook opens around ``compute_transaction_key``; a ``ContextVar`` keeps
concurrent task runs in threads or asyncio tasks apart. User code (a ``cache_key_fn``, a custom
policy) therefore runs exactly once, as it would without the recorder, and the wrapper returns
or raises exactly what the original did.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, Optional, Set

_WRAPPED = "__cachescope_wrapped__"


@dataclass
class Capture:
    """What the policy nodes did during one key computation, by ``id()`` of the node."""

    keys: Dict[int, Any] = field(default_factory=dict)
    raised: Dict[int, str] = field(default_factory=dict)
    # Nodes whose compute_key is running: an override calling ``super().compute_key`` must
    # not report the parent class's intermediate result as the node's key.
    active: Set[int] = field(default_factory=set)


CURRENT: ContextVar[Optional[Capture]] = ContextVar("cachescope_capture", default=None)

# Classes already looked at, so walking a task's policy costs a set lookup per node.
_seen_classes: Set[type] = set()


def _wrap(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def compute_key(self: Any, *args: Any, **kwargs: Any) -> Any:
        capture = CURRENT.get()
        node = id(self)
        if capture is None or node in capture.active:
            return method(self, *args, **kwargs)
        capture.active.add(node)
        try:
            key = method(self, *args, **kwargs)
        except BaseException as exc:
            capture.raised[node] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            raise
        finally:
            capture.active.discard(node)
        capture.keys[node] = key
        return key

    setattr(compute_key, _WRAPPED, True)
    return compute_key


def wrap_class(cls: type) -> None:
    """Wraps ``compute_key`` where ``cls`` defines its own; inherited ones are wrapped on the
    class that defines them."""
    if cls in _seen_classes:
        return
    _seen_classes.add(cls)
    method = cls.__dict__.get("compute_key")
    if callable(method) and not getattr(method, _WRAPPED, False):
        setattr(cls, "compute_key", _wrap(method))


def wrap_hierarchy(root: type) -> None:
    """Wraps ``root`` and every subclass defined so far."""
    pending = [root]
    while pending:
        cls = pending.pop()
        wrap_class(cls)
        pending.extend(cls.__subclasses__())


def iter_nodes(policy: Any, compound_type: type) -> Iterator[Any]:
    """Every node of a policy tree, depth first."""
    stack = [policy]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, compound_type):
            stack.extend(getattr(node, "policies", None) or [])


def wrap_policy_tree(policy: Any, compound_type: type) -> None:
    """Makes sure every class in the tree (and their bases) reports to the capture."""
    for node in iter_nodes(policy, compound_type):
        for cls in type(node).__mro__:
            if cls is object:
                break
            wrap_class(cls)
