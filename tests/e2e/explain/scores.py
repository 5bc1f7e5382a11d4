"""Scores from sensor readings: the project most explain scenarios record, edit and record again.

Every scenario works on its own copy of this file; explain_scenarios.py names the lines it edits.
"""

from __future__ import annotations

from typing import Any, Optional

from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE


def rounded(value: float) -> float:
    return round(value, 2)


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True, retries=1)
def clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keeps the rows that have a score."""
    # A missing score means the sensor was offline.
    return [row for row in rows if row.get("score") is not None]


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def summarize(rows: list[dict[str, Any]]) -> float:
    return rounded(sum(row["score"] for row in rows) / len(rows))


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def publish(summary: float, channel: str = "#scores", **options: Any) -> str:
    return f"{channel}: {summary} {sorted(options)}"


@flow
def scores(rows: list[dict[str, Any]], publish_options: Optional[dict[str, Any]] = None) -> str:
    return publish(summarize(clean(rows)), **(publish_options or {}))
