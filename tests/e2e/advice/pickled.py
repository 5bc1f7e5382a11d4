"""An input whose class is defined in the script that runs (``python pickled.py``): cloudpickle
pickles such a class by value, with an id that is new in every process, so each run gets
another key; the object's repr holds its memory address. Run once per process, as a user runs a
flow file."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE


class Threshold:
    def __init__(self, limit: float) -> None:
        self.limit = limit


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def flag(values: list[float], threshold: Threshold) -> list[bool]:
    return [value > threshold.limit for value in values]


@flow
def flags(values: list[float]) -> None:
    flag(values, Threshold(0.5))


if __name__ == "__main__":
    flags([0.2, 0.8])
