"""A weekly report: a summary stored under a readable name (``result_storage_key``), a chart
cached on its code alone, and a score that leaves its threshold out of the key. Each of them is
served a stale result when the inputs the key does not see change (storage_scenarios.py).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE


@task(result_storage_key="latest-summary-{parameters[label]}")
def summarize(label: str, rows: list[dict[str, Any]]) -> str:
    total = sum(row["amount"] for row in rows)
    return f"{label}: {len(rows)} orders, {total} in total"


@task(result_storage_key="{task_run.task_name}/{parameters[label]}-v{parameters[version]:03d}")
def archive(label: str, version: int, rows: list[dict[str, Any]]) -> int:
    return len(rows)


@task(result_storage_key="runs/{flow_run.id}/{parameters[label]}")
def snapshot(label: str, rows: list[dict[str, Any]]) -> int:
    return len(rows)


@task(cache_policy=TASK_SOURCE, persist_result=True)
def render_chart(rows: list[dict[str, Any]], style: str) -> str:
    return f"<chart {style} of {len(rows)} rows>"


@task(cache_policy=INPUTS - "threshold", persist_result=True)
def score(region: str, threshold: float) -> str:
    return f"{region}: orders over {threshold} flagged"


@flow
def weekly(label: str, rows: list[dict[str, Any]], version: int, style: str, threshold: float) -> str:
    summary = summarize(label, rows)
    archive(label, version, rows)
    snapshot(label, rows)
    render_chart(rows, style)
    score(label, threshold)
    return summary
