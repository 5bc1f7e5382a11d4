"""Follows the transaction a task run ran inside, and how the task's own transaction ended.

Prefect runs every task in a transaction of its own, keyed by the cache key. Inside an enclosing
transaction (a user's ``with transaction():``, or the task that called this one) that
transaction only *stages* the result record: it is written when the enclosing transaction
commits, and thrown away when it rolls back, typically because another task in it failed. A
run that ended ``Completed`` can therefore leave no result behind, and only the transaction
knows why.

So, for a task run inside an enclosing transaction, the record gets a ``transaction`` field:
the enclosing transaction's id (Prefect's per-transaction holder id) and key, how the task's
own transaction ended (``committed``, ``rolled_back``, or null while it has not ended yet), and
the first task run that failed inside the enclosing transaction. The record is written at the
task run's final state, as always, and written again when the task's transaction commits or
rolls back, from commit and rollback hooks added to that transaction. The hooks never raise and
never log, so Prefect's commit and rollback go on exactly as they would.

A task that raises rolls the enclosing transaction back while its own transaction exits, just
before Prefect gives it its Failed state: so the records rolled back before a failure in their
transaction is known wait for it, and are written once more when it arrives.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _record

# Set on the engine by the compute_transaction_key hook: the transaction that encloses the
# task's own (the key is computed just before Prefect opens the task's transaction).
PARENT = "_cachescope_parent_transaction"
# The last record written for the engine's task run (the hooks rewrite that one), and the
# transaction whose end is already followed.
_LAST = "_cachescope_last_record"
_FOLLOWED = "_cachescope_followed_transaction"

# The first failed task run in each transaction, by transaction id (and in every transaction
# enclosing it, which rolls back with it).
_failures: Dict[str, Dict[str, Any]] = {}
# Records rolled back before any failure in their transaction was known, by transaction id. A
# task that raises rolls its enclosing transaction back as its own transaction exits, which is
# before Prefect sets its Failed state: the failure arrives just after the rollback.
_waiting: Dict[str, List[Tuple[Any, Dict[str, Any]]]] = {}
_lock = threading.Lock()
# A long-lived process may see many transactions: the oldest entries go past this many.
_KEEP = 10_000


def _bounded(table: Dict[str, Any]) -> None:
    while len(table) > _KEEP:
        del table[next(iter(table))]


def transaction_id(txn: Any) -> str:
    """Prefect's own unique id of a transaction object (the holder of its locks)."""
    holder = getattr(txn, "_holder", None)
    return str(holder) if holder else f"transaction-{id(txn)}"


def _parent_of(txn: Any) -> Optional[Any]:
    try:
        return txn.get_parent()
    except Exception:  # noqa: BLE001 - a transaction that cannot say has no parent to us
        return None


def note_parent(engine: Any) -> None:
    """Called right before Prefect opens the task's transaction: what encloses it now."""
    from prefect.transactions import get_transaction

    engine.__dict__[PARENT] = get_transaction()


def _outcome(txn: Any) -> Optional[str]:
    if txn.is_committed():
        return "committed"
    if txn.is_rolled_back():
        return "rolled_back"
    return None


def _register_failure(parent: Any, record: Dict[str, Any], report_failure: Callable[[str], None]) -> None:
    failure = {"task": record["task"]["name"], "task_run": record["task_run"]["id"], "state": record["outcome"]["state"]}
    txn: Optional[Any] = parent
    seen = set()
    waiting: List[Tuple[Any, Dict[str, Any]]] = []
    with _lock:
        while txn is not None and id(txn) not in seen:
            seen.add(id(txn))
            ident = transaction_id(txn)
            if ident not in _failures:
                _failures[ident] = failure
                waiting.extend(_waiting.pop(ident, []))
            txn = _parent_of(txn)
        _bounded(_failures)
    for path, waiting_record in waiting:
        try:
            waiting_record["transaction"]["failed"] = failure
            _record.write_record(path, waiting_record)
        except Exception:  # noqa: BLE001
            report_failure("could not rewrite a rolled-back run record")


def annotate(engine: Any, state: Any, path: Any, record: Dict[str, Any], report_failure: Callable[[str], None]) -> None:
    """Adds ``transaction`` to a finished record of a task run that ran inside an enclosing
    transaction, registers a failure, and follows the task's own transaction to its end."""
    from prefect.transactions import get_transaction

    parent = engine.__dict__.get(PARENT)
    if parent is None:
        return
    parent_id = transaction_id(parent)
    failed = state.is_failed() or state.is_crashed()
    own = get_transaction()
    # At a final state the task's own transaction is usually the active one. A task that
    # raised has left it already: it rolled back as it exited, and the enclosing one with it.
    if own is parent or own is None or _parent_of(own) is not parent:
        own = None
    if own is not None:
        outcome = _outcome(own)
    elif failed and parent.is_rolled_back():
        outcome = "rolled_back"
    else:
        outcome = None
    if failed:
        _register_failure(parent, record, report_failure)
    info: Dict[str, Any] = {
        "id": parent_id,
        "key": getattr(parent, "key", None),
        "outcome": outcome,
        "failed": _failures.get(parent_id),
    }
    record["transaction"] = info
    engine.__dict__[_LAST] = (path, record)
    if own is None or info["outcome"] is not None or engine.__dict__.get(_FOLLOWED) is own:
        return
    engine.__dict__[_FOLLOWED] = own

    def rewrite(outcome: str) -> None:
        try:
            last_path, last = engine.__dict__[_LAST]
            last["transaction"]["outcome"] = outcome
            with _lock:
                failure = _failures.get(parent_id)
                if failure is None and outcome == "rolled_back":
                    _waiting.setdefault(parent_id, []).append((last_path, last))
                    _bounded(_waiting)
            last["transaction"]["failed"] = failure
            _record.write_record(last_path, last)
        except Exception:  # noqa: BLE001 - never break Prefect's commit or rollback
            report_failure("could not rewrite the run record after its transaction ended")

    def on_commit(txn: Any) -> None:
        rewrite("committed")

    def on_rollback(txn: Any) -> None:
        rewrite("rolled_back")

    for hook in (on_commit, on_rollback):
        # Prefect's undocumented switch that keeps a hook out of the run's logs.
        hook.log_on_run = False  # type: ignore[attr-defined]
    own.on_commit_hooks.append(on_commit)
    own.on_rollback_hooks.append(on_rollback)
