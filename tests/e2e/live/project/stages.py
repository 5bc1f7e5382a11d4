"""A task in a second file of the project, and the helper function it calls."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import INPUTS, TASK_SOURCE


def weight_of(row: int) -> int:
    """How much one row counts."""
    return 1 if row else 0


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def weigh(rows: list[int]) -> int:
    return sum(weight_of(row) for row in rows)
