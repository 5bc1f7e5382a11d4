"""Cache policies users get wrong, one task each. Between two runs, explain_scenarios.py edits the
module-level settings below (never a task's own lines) and changes a flow parameter."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import FLOW_PARAMETERS, INPUTS, RUN_ID, TASK_SOURCE
from prefect.context import TaskRunContext

MODEL_VERSION = "v1"
DEBUG = False
RENDER_POLICY = TASK_SOURCE + INPUTS - "debug"
REPORT_POLICY = TASK_SOURCE + INPUTS
CODES = {1: "one", "b": "bee"}


def versioned_key(context: TaskRunContext, inputs: dict[str, Any]) -> str:
    return f"train-{inputs['dataset']}-{MODEL_VERSION}"


@task(cache_policy=TASK_SOURCE + FLOW_PARAMETERS, persist_result=True)
def forecast(region: str) -> str:
    return f"forecast for {region}"


@task(persist_result=True)
def ingest(day: str) -> str:
    return f"ingested {day}"


@task(cache_policy=TASK_SOURCE + RUN_ID, persist_result=True)
def snapshot(day: str) -> str:
    return f"snapshot of {day}"


@task(cache_key_fn=versioned_key, persist_result=True)
def train(dataset: str) -> str:
    return f"model of {dataset}"


@task(cache_policy=RENDER_POLICY, persist_result=True)
def render(report: str, debug: bool = False) -> str:
    return report.upper()


@task(cache_policy=REPORT_POLICY, persist_result=True)
def aggregate(values: list[int]) -> int:
    return sum(values)


@task(cache_policy=TASK_SOURCE - "debug", persist_result=True)
def tune(dataset: str, debug: bool = False) -> str:
    return f"tuned on {dataset}"


@task(cache_policy=TASK_SOURCE + FLOW_PARAMETERS - "config", persist_result=True)
def publish_model(region: str) -> str:
    return f"model for {region}"


@task(cache_policy=INPUTS, persist_result=True)
def double(x: int) -> int:
    return 2 * x


@task(cache_policy=INPUTS, persist_result=True)
def square(x: int) -> int:
    return x * x


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def label(codes: dict[Any, str]) -> str:
    return ", ".join(sorted(codes.values()))


@flow
def policies(config: dict[str, Any], region: str = "north") -> None:
    forecast(region)
    ingest("2024-03-01")
    snapshot("2024-03-01")
    train("sales")
    render("weekly", debug=True)
    aggregate([1, 2, 3])
    tune("sales", debug=DEBUG)
    publish_model(region)
    double(3)
    square(3)
    label(CODES)
