"""Tasks whose cache policy is held in a module-level variable: the project behind
tests/variable_policy_prefect.rs. variable_policy.py records one run of it, then edits copies
(the variables, or only the task bodies) and runs each copy again.
"""

from __future__ import annotations

from prefect import cache_policies, flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE

MY_POLICY = INPUTS

BASE = INPUTS + TASK_SOURCE
DEBUG_FREE = BASE - "debug"


@task(cache_policy=MY_POLICY, persist_result=True)
def score(x: int) -> int:
    return x * 2


@task(cache_policy=DEBUG_FREE, persist_result=True)
def render(report: str, debug: bool = False) -> str:
    return report.upper()


# Rebound below: the decorator above evaluated DEBUG_FREE as it was bound at its line.
DEBUG_FREE = cache_policies.NO_CACHE


@flow
def pipeline(x: int = 3, debug: bool = False) -> None:
    score(x)
    render("weekly", debug=debug)
