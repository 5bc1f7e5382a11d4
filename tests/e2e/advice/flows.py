"""Tasks whose advice must keep what the recorded policy says: a `cache_key_fn` with RUN_ID, a
policy configured with key storage (and isolation and locks), inputs Prefect can only hash with
cloudpickle, and a task keyed on its inputs minus one. advice_scenarios.py copies this file into
a folder of its own per case, edits comments in it, and runs its flows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import INPUTS, RUN_ID, TASK_SOURCE, CacheKeyFnPolicy, CachePolicy
from prefect.context import TaskRunContext
from prefect.locking.filesystem import FileSystemLockManager

HERE = Path(__file__).resolve().parent
# Beside the project, so that each copy has its own.
KEY_STORAGE = HERE.parent / "keys"
LOCKS = FileSystemLockManager(lock_files_directory=HERE.parent / "locks")
# The models the flows made, kept alive so that no later model takes an earlier one's address.
MODELS: list[Any] = []


def dataset_key(context: TaskRunContext, inputs: dict[str, Any]) -> str:
    return f"train-{inputs['dataset']}-v1"


@task(cache_policy=CacheKeyFnPolicy(cache_key_fn=dataset_key) + RUN_ID, persist_result=True)
def train(dataset: str) -> str:
    return f"model of {dataset}"


# What the advice for `train` says to write: the same cache_key_fn without RUN_ID.
@task(cache_policy=CacheKeyFnPolicy(cache_key_fn=dataset_key), persist_result=True)
def train_fixed(dataset: str) -> str:
    return f"model of {dataset}"


class DatasetVersion(CachePolicy):
    """A policy class of the project's own: the dataset and the version of its schema."""

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any) -> str:
        return f"{inputs['dataset']}-schema-1"


@task(cache_policy=DatasetVersion() + RUN_ID, persist_result=True)
def validate(dataset: str) -> bool:
    return True


# What the advice for `validate` says to do: leave RUN_ID out.
@task(cache_policy=DatasetVersion(), persist_result=True)
def validate_fixed(dataset: str) -> bool:
    return True


@flow
def training(dataset: str) -> None:
    train(dataset)
    train_fixed(dataset)
    validate(dataset)
    validate_fixed(dataset)


@task(cache_policy=(TASK_SOURCE + INPUTS).configure(key_storage=KEY_STORAGE), persist_result=True)
def summarize(rows: list[int]) -> int:
    # Sum of the rows.
    return sum(rows)


@task(
    cache_policy=(TASK_SOURCE + INPUTS).configure(key_storage=KEY_STORAGE, isolation_level="SERIALIZABLE", lock_manager=LOCKS),
    persist_result=True,
)
def publish(rows: list[int]) -> str:
    # Publish the rows.
    return ",".join(str(row) for row in rows)


@flow
def reports(rows: list[int]) -> None:
    summarize(rows)
    publish(rows)


class Model:
    """A fitted model: no JSON encoding, so Prefect hashes it with cloudpickle (by reference to
    this class, so equal state gives equal bytes). Its repr is the default one, with its memory
    address."""

    def __init__(self, name: str) -> None:
        self.name = name


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def score(model: Model, x: int) -> float:
    return x * 0.5


@task(cache_policy=TASK_SOURCE, persist_result=True)
def describe(model: Model) -> str:
    return f"model {model.name}"


@flow
def scoring(x: int) -> None:
    model = Model("ridge")
    MODELS.append(model)
    score(model, x)
    describe(model)


@task(cache_policy=INPUTS - "y", persist_result=True)
def count(x: int, y: int) -> int:
    return x + y


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def total(x: int) -> int:
    return 2 * x


@task(cache_key_fn=dataset_key, persist_result=True)
def load(dataset: str) -> str:
    return f"rows of {dataset}"


@flow
def inventory(x: int) -> None:
    count(x, 1)
    total(x)
    load("sales")
