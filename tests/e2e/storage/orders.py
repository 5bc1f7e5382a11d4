"""Nightly order processing: load a batch and process it inside one transaction, so that a batch
that fails processing leaves nothing cached behind (storage_scenarios.py records it).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.transactions import transaction


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def load_data(batch: str) -> list[dict[str, Any]]:
    return [{"order": f"{batch}-{n}", "amount": 10 * n} for n in range(1, 4)]


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def process_data(rows: list[dict[str, Any]], max_amount: int) -> int:
    too_big = [row["order"] for row in rows if row["amount"] > max_amount]
    if too_big:
        raise ValueError(f"orders over the limit: {too_big}")
    return sum(row["amount"] for row in rows)


@flow
def nightly(batch: str, max_amount: int) -> int:
    with transaction(key=f"nightly-{batch}"):
        rows = load_data(batch)
        total = process_data(rows, max_amount)
    return total


@flow
def audited(batch: str, expected_rows: int) -> int:
    """The check that rolls the transaction back is the flow's own code, not a task."""
    with transaction():
        rows = load_data(batch)
        if len(rows) != expected_rows:
            raise RuntimeError(f"expected {expected_rows} rows, got {len(rows)}")
    return len(rows)
