"""Inputs whose cache keys depend on the Python process that computed them. Run as a script
(``python hashing.py``), once per process, as a user runs a flow file.

- A set of strings iterates in an order that changes with PYTHONHASHSEED, and Prefect's JSON
  encoding of a set keeps that order.
- ``Threshold`` has no JSON encoding, so Prefect hashes it with cloudpickle; defined in the script
  that runs as ``__main__``, the class is pickled by value with a tracker id that is new in every
  process.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE


class Threshold:
    def __init__(self, limit: float) -> None:
        self.limit = limit


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def by_region(regions: set[str]) -> list[str]:
    return sorted(regions)


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def flag(values: list[float], threshold: Threshold) -> list[bool]:
    return [value > threshold.limit for value in values]


@flow
def regional(regions: list[str]) -> None:
    by_region(set(regions))
    flag([0.2, 0.8], Threshold(0.5))


if __name__ == "__main__":
    regional(["north", "south", "east", "west"])
