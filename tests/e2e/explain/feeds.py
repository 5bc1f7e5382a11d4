"""Feeds fetched several times a day: a result that expires after a second, and tasks that never
get a cache key."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from prefect import flow, task
from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True, cache_expiration=timedelta(seconds=1))
def fetch_rates(day: str) -> dict[str, float]:
    return {"EUR": 1.0, "USD": 1.08}


@task(cache_policy=NO_CACHE, persist_result=True)
def stream(day: str) -> int:
    return len(day)


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=False)
def notify(day: str) -> str:
    # persist_result=False turns the policy into NO_CACHE.
    return f"rates for {day}"


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def append(day: str, lock: Any) -> str:
    # A lock can be neither JSON-encoded nor pickled: computing the key raises.
    with lock:
        return day


@flow
def feeds(day: str) -> None:
    fetch_rates(day)
    stream(day)
    notify(day)
    append(day, threading.Lock())
