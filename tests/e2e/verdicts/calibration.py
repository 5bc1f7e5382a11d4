"""A calibration step whose author wanted results to be recomputed "now and then": a cache policy
class of the project's own that adds the time to the key, and a `cache_key_fn` that does the
same. Both return another key on every call, whatever the inputs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from prefect import flow, task
from prefect.cache_policies import INPUTS, CachePolicy
from prefect.context import TaskRunContext


@dataclass
class FreshnessPolicy(CachePolicy):
    """Keys a run on the moment it runs, so that results never get old."""

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any) -> Optional[str]:
        return datetime.now(timezone.utc).isoformat()


def stamped_key(context: TaskRunContext, inputs: dict[str, Any]) -> str:
    return f"{inputs['sensor']}-{time.time_ns()}"


@task(cache_policy=INPUTS + FreshnessPolicy(), persist_result=True)
def calibrate(sensor: str, gain: float) -> float:
    return round(gain * 1.5, 3)


@task(cache_key_fn=stamped_key, persist_result=True)
def baseline(sensor: str) -> float:
    return 0.25


@flow
def calibration(sensor: str, gain: float = 2.0) -> None:
    calibrate(sensor, gain)
    baseline(sensor)
