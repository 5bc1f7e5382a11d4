"""A nightly sensor pipeline, run as a script (``python readings.py READINGS.json``) as a user
runs a flow file: the shapes in which one task has several runs in one flow run.

- ``clean`` is mapped over the readings by the parent flow (the default thread pool: the
  elements run concurrently);
- ``score`` is mapped over the cleaned readings inside the subflow ``score_batch``, whose scoring
  service takes one request at a time;
- ``summarize`` is called once per region, without map.
"""

from __future__ import annotations

import json
import sys

from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.task_runners import ThreadPoolTaskRunner

REGIONS = ["north", "south", "east"]
ALERT_CELSIUS = 35.0


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def clean(reading: dict) -> dict:
    """Celsius, two decimals."""
    value = reading["value"]
    if reading["unit"] == "F":
        value = (value - 32) * 5 / 9
    return {"sensor": reading["sensor"], "region": reading["region"], "celsius": round(value, 2)}


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def score(reading: dict) -> dict:
    return {**reading, "alert": reading["celsius"] > ALERT_CELSIUS}


# The scoring service takes one request at a time.
@flow(task_runner=ThreadPoolTaskRunner(max_workers=1))
def score_batch(readings: list[dict]) -> list[dict]:
    return score.map(readings).result()


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def summarize(region: str, scored: list[dict]) -> dict:
    values = [r["celsius"] for r in scored]
    return {"region": region, "mean": sum(values) / len(values), "alerts": sum(r["alert"] for r in scored)}


@flow
def nightly(readings: list[dict]) -> dict:
    cleaned = clean.map(readings).result()
    scored = score_batch(cleaned)
    return {region: summarize(region, [r for r in scored if r["region"] == region]) for region in REGIONS}


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(json.dumps(nightly(json.load(f))))
