"""A station report whose tasks are each keyed on their inputs only (`cache_policy=INPUTS`), as
people write to "cache on the arguments". Every task takes the same argument, so the tasks share
cache entries: whichever runs first with a station stores the entry the others are served."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import INPUTS


@task(cache_policy=INPUTS, persist_result=True)
def summarize(station: int) -> str:
    return f"summary of station {station}"


@task(cache_policy=INPUTS, persist_result=True)
def count_readings(station: int) -> int:
    return 24 * station


@task(cache_policy=INPUTS, persist_result=True)
def my_stateful_task(station: int) -> str:
    return f"state of station {station}"


@flow
def station_report(station: int, with_summary: bool = False) -> str:
    if with_summary:
        summarize(station)
        count_readings(station)
    return my_stateful_task(station)
