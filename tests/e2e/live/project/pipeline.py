"""Daily order totals: the project that tests/e2e/live_scenario.py runs, edits and runs again.

Every task persists its result and has a cache policy without RunId, except ``stamp``, which
keeps Prefect's DEFAULT. ``checksum`` and ``pairs`` are each defined twice, under an ``if``.
``nightly`` returns what Prefect did for each task run, so the scenario can hold cachescope's
predictions against it.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from typing import Any

from prefect import flow, task
from prefect.cache_policies import FLOW_PARAMETERS, INPUTS, TASK_SOURCE
from prefect.states import State

from stages import weigh

FAST_CHECKSUM = True


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def load_rows(day: str) -> list[int]:
    # Stand-in for reading the day's export.
    return [len(day) * i for i in range(1, 6)]


@task(cache_policy=TASK_SOURCE, persist_result=True)
def describe(rows: list[int]) -> str:
    """Says how many rows there are."""
    return f"{len(rows)} rows"


@task(cache_policy=(INPUTS + TASK_SOURCE) - "debug", persist_result=True)
def summarize(rows: list[int], debug: bool = False) -> int:
    if debug:
        print(rows)
    return sum(rows)


@task(cache_policy=TASK_SOURCE + FLOW_PARAMETERS, persist_result=True)
def publish(total: int, channel: str) -> str:
    return f"{channel}: {total}"


@task(persist_result=True)
def stamp(total: int) -> str:
    # No cache_policy: DEFAULT, whose RunId is new in every flow run.
    return f"total={total}"


@dataclass
class Ledger:
    currency: str

    @task(name="ledger-total", cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    def total(self, rows: list[int]) -> str:
        return f"{sum(rows)} {self.currency}"


def make_scaler(factor: int) -> Any:
    """A task that multiplies by factor."""

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    def scale(total: int) -> int:
        return total * factor

    return scale


if FAST_CHECKSUM:

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    def checksum(rows: list[int]) -> int:
        return sum(rows) % 97

else:

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    def checksum(rows: list[int]) -> int:
        total = 0
        for row in rows:
            total = (total + row) % 97
        return total


# A compatibility shim: on Python 3.10 and later the second definition is the one that runs.
if sys.version_info < (3, 10):

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    def pairs(rows: list[int]) -> list[list[int]]:
        return [[a, b] for a, b in zip(rows, rows[1:])]

else:

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    def pairs(rows: list[int]) -> list[list[int]]:
        return [list(pair) for pair in itertools.pairwise(rows)]


def observe(state: State) -> dict[str, Any]:
    """The task run's id, its final state and the result file Prefect read or wrote."""
    metadata = getattr(state.data, "metadata", None)
    return {
        "task_run": str(state.state_details.task_run_id),
        "state": state.name,
        "storage_key": getattr(metadata, "storage_key", None),
    }


@flow
def nightly(day: str = "2024-03-01", channel: str = "#sales", factor: int = 3) -> dict[str, dict[str, Any]]:
    """Runs each task once; returns observe() of each run by the task function's qualname."""
    observed: dict[str, dict[str, Any]] = {}

    def run(task_: Any, *args: Any, **kwargs: Any) -> Any:
        state = task_(*args, return_state=True, **kwargs)
        observed[task_.fn.__qualname__] = observe(state)
        return state.result()

    rows = run(load_rows, day)
    run(describe, rows)
    total = run(summarize, rows, debug=True)
    run(publish, total, channel)
    run(stamp, total)
    run(Ledger("EUR").total, rows)
    run(make_scaler(factor), total)
    run(checksum, rows)
    run(pairs, rows)
    run(weigh, rows)
    return observed
