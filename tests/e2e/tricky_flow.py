"""End-to-end material for cachescope: real Prefect 3.9.1 task runs with the hardest inputs and
every kind of cache policy, recorded by cachescope-recorder through the real install path
(``CACHESCOPE_RUNS`` and the ``.pth`` file, no import of the recorder here).

Usage: ``python tricky_flow.py MANIFEST.json``

Every task run is made with ``return_state=True`` so the flow can learn the key Prefect stored
its result under: the file name of ``state.data.metadata.storage_key`` when that file exists.
The manifest maps each task run id to that stored key (or null when nothing was stored under a
key) and says whether the run record must be ``unverifiable`` (cloudpickle, a user
``cache_key_fn``, an unknown policy class, a key computation that raised).

The flow checks its own expectations as it goes (which runs are cached, which store nothing)
and exits non-zero when one fails, so a wrong manifest cannot pass silently.
"""

from __future__ import annotations

import asyncio
import enum
import io
import json
import math
import os
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, Optional

from prefect import flow, task
from prefect.cache_policies import (
    DEFAULT,
    FLOW_PARAMETERS,
    INPUTS,
    NO_CACHE,
    RUN_ID,
    TASK_SOURCE,
    CachePolicy,
    CompoundCachePolicy,
    Inputs,
)
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects
from pydantic import BaseModel

# ---------------------------------------------------------------------------------------------
# The manifest


@dataclass
class Expect:
    """What the flow knows about one task run before looking at any record."""

    case: str
    unverifiable: bool = False
    # True when Prefect computes no key (or stores nothing under it) for this run.
    keyless: bool = False
    state: Optional[str] = None


MANIFEST: dict[str, dict[str, Any]] = {}
FAILURES: list[str] = []
_manifest_lock = threading.Lock()


def note(state: Any, expect: Expect) -> Any:
    """Adds one finished task run to the manifest and checks what the flow can check itself."""
    run_id = str(state.state_details.task_run_id)
    metadata = getattr(state.data, "metadata", None)
    storage_key = getattr(metadata, "storage_key", None)
    stored = os.path.basename(storage_key) if storage_key and os.path.exists(storage_key) else None
    if state.is_failed():
        # A failure is persisted under a random name, never under the cache key.
        stored = None
    if expect.keyless and stored is not None:
        FAILURES.append(f"{expect.case}: expected no stored result, found {stored}")
    if not expect.keyless and stored is None:
        FAILURES.append(f"{expect.case}: expected a stored result, found none ({state.name})")
    if expect.state is not None and state.name != expect.state:
        FAILURES.append(f"{expect.case}: expected state {expect.state}, got {state.name}")
    with _manifest_lock:
        if run_id in MANIFEST:
            FAILURES.append(f"{expect.case}: task run {run_id} noted twice")
        MANIFEST[run_id] = {
            "case": expect.case,
            "stored_key": stored,
            "unverifiable": expect.unverifiable,
            "state": state.name,
        }
    return state


# ---------------------------------------------------------------------------------------------
# Values Prefect's JSON encoder handles in its own ways


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 10


class Mode(str, enum.Enum):
    FAST = "fast"


class Reading(BaseModel):
    sensor: str
    at: datetime
    values: list[float]


@dataclass
class Window:
    start: date
    days: int
    tags: list[str] = field(default_factory=list)


class Pair(NamedTuple):
    left: int
    right: str


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for i in range(levels):
        value = {"level": i, "next": [value]}
    return value


# Values whose JSON encoding Prefect hashes: the record must reproduce each key.
JSON_VALUES: list[tuple[str, Any]] = [
    ("int-set", {3, 1, 2}),
    ("frozenset", frozenset({5, 4})),
    ("string-set", {"beta", "alpha", "gamma", "delta"}),
    ("mixed-set", {1, "one", 2.5}),
    ("datetime-naive", datetime(2024, 1, 2, 3, 4, 5, 678900)),
    ("datetime-utc", datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
    ("datetime-offset", datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))),
    ("date", date(2024, 1, 2)),
    ("time", time(3, 4, 5)),
    ("timedelta", timedelta(days=1, seconds=3, microseconds=500000)),
    ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ("path", Path("data/raw/input.csv")),
    ("decimal", Decimal("1.10")),
    ("bytes-utf8", b"hello \xc3\xa9"),
    ("pydantic", Reading(sensor="t1", at=datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc), values=[1.5, -0.0])),
    ("dataclass", Window(start=date(2024, 2, 29), days=7, tags=["x", "y"])),
    ("enum", Color.RED),
    ("enum-int-value", Color.BLUE),
    ("int-enum", Level.HIGH),
    ("str-enum", Mode.FAST),
    ("exception", ValueError("boom")),
    ("complex", complex(1, -2)),
    ("namedtuple", Pair(1, "b")),
    ("stringio", io.StringIO("text")),
    ("dict-built-out-of-order", {"zeta": 1, "alpha": {"mid": [{"y": 2, "x": 1}], "b": True, "a": None}, "\u00e9": 1, "\U0001f600": 2, "\uffff": 3}),
    ("int-keys", {10: "ten", 2: "two", 1: "one", -5: "minus five"}),
    ("bool-keys", {True: "yes", False: "no"}),
    ("float-keys", {1.5: "a", 0.25: "b", 10.0: "c", -1e20: "d"}),
    ("mixed-number-keys", {0: "zero", True: "one", 2.5: "two and a half"}),
    ("none-key-alone", {None: "null"}),
    ("nan", math.nan),
    ("infinities", [math.inf, -math.inf]),
    ("negative-zero", -0.0),
    ("float-1e16", 1e16),
    ("float-edges", [1e15, 1e-4, 1e-5, 0.1 + 0.2, 123456789012345680000.0, 1.7976931348623157e308]),
    ("subnormals", [5e-324, 2.2250738585072014e-308, 2.225073858507201e-308]),
    ("big-int", 2**100),
    ("negative-big-int", -(2**70)),
    ("astral-unicode", "grin \U0001f600 clef \U0001d11e"),
    ("non-ascii", "caf\u00e9 \u00fcber \u4e2d\u6587 \u2028"),
    ("control-chars", "\x00\x01\x08\t\n\x0b\x0c\r\x1b\x1f\x7f \"quoted\" back\\slash /slash"),
    ("deep-nesting", deep(40)),
    ("empty-containers", {"list": [], "dict": {}, "str": "", "none": None, "tuple": ()}),
    ("booleans", [True, False, None]),
]

# Values whose key no record can recompute outside the process that made it: JSON cannot
# encode them, so Prefect hashes them with cloudpickle (and one cachescope cannot read).
OPAQUE_VALUES: list[tuple[str, Any]] = [
    ("bytes-invalid-utf8", b"\xff\xfe\x00"),
    ("lambda", lambda x: x + 1),
    ("object", object()),
    ("unsortable-keys", {1: "int", "b": "str"}),
    ("tuple-keys", {(1, 2): "pair"}),
    ("none-key-with-str", {None: 1, "a": 2}),
    ("nested-unsortable", {"outer": [{"x": 1}, {2: "two", "y": 3}]}),
    # Not cloudpickle: Prefect hashes the JSON escape `\ud800`, but cachescope holds text as
    # Unicode scalar values and cannot load a lone surrogate, so the recorder keeps only a repr.
    ("lone-surrogate", "\ud800 alone"),
]


# ---------------------------------------------------------------------------------------------
# Tasks and policies


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def echo(value: Any) -> str:
    """Keyed on its input and its source: one run per tricky value."""
    return type(value).__name__


@task(persist_result=True)
def default_policy(x: int, label: str = "plain") -> int:
    # No cache_policy: Prefect uses DEFAULT = [TaskSource, RunId, Inputs].
    return x * 2


@task(cache_policy=DEFAULT - "debug", persist_result=True)
def default_minus(x: int, debug: bool = False) -> int:
    return x


@task(cache_policy=Inputs(exclude=["verbose", "logger"]), persist_result=True)
def inputs_excluding(x: int, verbose: bool = False, logger: Any = None) -> int:
    return x + 1


@task(cache_policy=INPUTS - "a" - "b", persist_result=True)
def all_excluded(a: int, b: int) -> int:
    return a + b


@task(cache_policy=INPUTS, persist_result=True)
def no_inputs() -> str:
    return "nothing to hash"


@task(persist_result=True)
def no_inputs_default() -> str:
    return "default without inputs"


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def varargs(a: int, b: int = 2, *rest: Any, **options: Any) -> int:
    return a + b + len(rest) + len(options)


@task(cache_policy=TASK_SOURCE, persist_result=True)
def source_only(x: int) -> int:
    """Only the source matters."""
    return x


@task(cache_policy=FLOW_PARAMETERS, persist_result=True)
def flow_params_only(x: int) -> int:
    return x


@task(cache_policy=RUN_ID, persist_result=True)
def run_id_only(x: int) -> int:
    return x


@task(cache_policy=INPUTS + TASK_SOURCE + FLOW_PARAMETERS, persist_result=True)
def three_way(x: int) -> int:
    return x


@task(cache_policy=FLOW_PARAMETERS + RUN_ID + TASK_SOURCE, persist_result=True)
def params_run_source(x: int) -> int:
    return x


@task(cache_policy=(TASK_SOURCE + RUN_ID) - "x", persist_result=True)
def minus_without_inputs(x: int) -> int:
    # `-` on a compound without Inputs does nothing: x still does not count.
    return x


@task(cache_policy=CompoundCachePolicy(policies=[TASK_SOURCE]), persist_result=True)
def compound_of_one(x: int) -> int:
    return x


@task(cache_policy=NO_CACHE, persist_result=True)
def never_cached(x: int) -> int:
    return x


@task(cache_policy=INPUTS + NO_CACHE, persist_result=True)
def plus_no_cache(x: int) -> int:
    return x


def key_from_inputs(context: TaskRunContext, inputs: dict[str, Any]) -> str:
    return f"user-key-{inputs['x']}"


@task(cache_key_fn=key_from_inputs, persist_result=True)
def with_key_fn(x: int) -> int:
    return x


@task(cache_policy=CachePolicy.from_cache_key_fn(key_from_inputs) + TASK_SOURCE, persist_result=True)
def key_fn_in_compound(x: int) -> int:
    return x


@dataclass
class ParityPolicy(CachePolicy):
    """A user's own policy: the key only depends on whether x is even."""

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any) -> Optional[str]:
        return hash_objects("parity", inputs["x"] % 2, raise_on_failure=True)


@dataclass
class LoudInputs(Inputs):
    """A user's subclass of Inputs that calls the original and then changes the key."""

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any) -> Optional[str]:
        key = super().compute_key(task_ctx, inputs, flow_parameters, **kwargs)
        return None if key is None else f"loud-{key}"


@task(cache_policy=ParityPolicy(), persist_result=True)
def parity(x: int) -> int:
    return x % 2


@task(cache_policy=ParityPolicy() + TASK_SOURCE, persist_result=True)
def parity_and_source(x: int) -> int:
    return x % 2


@task(cache_policy=LoudInputs(), persist_result=True)
def loud(x: int) -> int:
    return x


# Beside the result storage when the test gave a PREFECT_HOME, so nothing is left elsewhere.
KEY_STORAGE = (
    Path(os.environ["PREFECT_HOME"]) / "key-storage"
    if "PREFECT_HOME" in os.environ
    else Path(tempfile.mkdtemp(prefix="cachescope-keys-"))
)


@task(
    cache_policy=(INPUTS + TASK_SOURCE).configure(key_storage=KEY_STORAGE, isolation_level="READ_COMMITTED"),
    persist_result=True,
)
def with_key_storage(x: int) -> int:
    return x


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True, cache_expiration=timedelta(hours=1))
def expiring(x: int) -> int:
    return x


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True, refresh_cache=True)
def refreshing(x: int) -> int:
    return x


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def takes_lock(lock: Any) -> str:
    # A lock can be neither JSON-encoded nor pickled: the key computation raises, Prefect logs
    # it and runs the task without a key.
    return "ran uncached"


def _generated_task() -> Any:
    """A task whose function has no source file (made with exec): Prefect has no source text
    and hashes the compiled code object with cloudpickle instead."""
    namespace: dict[str, Any] = {}
    exec(compile("def generated(x):\n    return x * 10\n", "<generated>", "exec"), namespace)
    return task(namespace["generated"], cache_policy=INPUTS + TASK_SOURCE, persist_result=True)


generated = _generated_task()


@task(result_storage_key="fixed-{parameters[x]}", persist_result=True)
def fixed_storage_key(x: int) -> int:
    # result_storage_key replaces the cache policy: Prefect holds no policy at all, and the
    # key is the template formatted with the task run's parameters.
    return x


ATTEMPTS: dict[str, int] = {}


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True, retries=1, retry_delay_seconds=0)
def flaky(x: int, run: str) -> int:
    # Fails on the first attempt: the key is computed twice, and one record is written.
    ATTEMPTS[run] = ATTEMPTS.get(run, 0) + 1
    if ATTEMPTS[run] == 1:
        raise RuntimeError("first attempt fails")
    return x


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def always_fails(x: int) -> int:
    raise ValueError(f"bad input {x}")


@flow
def inner(k: int = 2) -> None:
    """A subflow: FlowParameters sees its parameters, RunId its run id."""
    note(flow_params_only(1, return_state=True), Expect("subflow-parameters"))
    note(run_id_only(1, return_state=True), Expect("subflow-run-id"))


@dataclass
class Ledger:
    """Tasks as methods: `self` is an input, encoded as a dataclass."""

    owner: str
    currency: str = "EUR"

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    def total(self, amounts: list[float]) -> float:
        return sum(amounts)


class Opaque:
    """A plain class: as `self` it can only be pickled."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    def shifted(self, x: int) -> int:
        return x + self.seed


class Tools:
    """A static method and a class method as tasks."""

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    @staticmethod
    def double(x: int) -> int:
        return 2 * x

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    @classmethod
    def named(cls, x: int) -> str:
        # `cls` is an input, and a class can only be pickled.
        return f"{cls.__name__}-{x}"


def make_scaler(factor: int) -> Any:
    """A task defined inside a function: its qualname has `<locals>`."""

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    def scale(x: int) -> int:
        return x * factor

    return scale


@task(cache_policy=INPUTS + TASK_SOURCE + RUN_ID, persist_result=True)
async def fetch_async(x: int, delay: float = 0.0) -> int:
    await asyncio.sleep(delay)
    return x


# ---------------------------------------------------------------------------------------------
# Flows


# Declared out of alphabetical order, with dicts built out of order inside: FlowParameters
# hashes them sorted, whatever order a record lists them in (issue 7).
CFG_DEFAULT = {"zeta": {"b": 1, "a": [2, {"y": 0, "x": 1}]}, "alpha": 1, "10": "ten", "2": "two", "\u00e9": {3: "c", 1: "a"}}


@flow
def tricky(n: int = 3, started: datetime = datetime(2024, 1, 1, tzinfo=timezone.utc), tags: frozenset[str] = frozenset({"b", "a"}), ratio: float = 0.1, cfg: dict = CFG_DEFAULT) -> None:
    """A flow with parameters (a datetime, a set of strings and a nested dict among them)."""
    for case, value in JSON_VALUES:
        note(echo.with_options(task_run_name=case)(value, return_state=True), Expect(case))
    for case, value in OPAQUE_VALUES:
        note(echo.with_options(task_run_name=case)(value, return_state=True), Expect(case, unverifiable=True))

    # The same input again: a hit on the key stored above.
    note(echo(JSON_VALUES[0][1], return_state=True), Expect("int-set-again", state="Cached"))

    note(default_policy(n, return_state=True), Expect("default"))
    note(default_policy(n, return_state=True), Expect("default-again", state="Cached"))
    note(default_minus(n, debug=True, return_state=True), Expect("default-minus"))
    note(default_minus(n, debug=False, return_state=True), Expect("default-minus-excluded-changed", state="Cached"))
    note(inputs_excluding(1, verbose=True, logger=threading.Lock(), return_state=True), Expect("excluded-opaque-input"))
    note(inputs_excluding(1, verbose=False, return_state=True), Expect("excluded-changed", state="Cached"))
    note(all_excluded(1, 2, return_state=True), Expect("all-excluded"))
    note(no_inputs(return_state=True), Expect("no-inputs", keyless=True))
    note(no_inputs_default(return_state=True), Expect("no-inputs-default"))
    note(varargs(1, 2, 3, "four", mode="fast", when=date(2024, 3, 1), return_state=True), Expect("varargs"))
    note(varargs(1, return_state=True), Expect("defaults-applied"))
    note(source_only(1, return_state=True), Expect("task-source"))
    note(source_only(2, return_state=True), Expect("task-source-other-input", state="Cached"))
    note(flow_params_only(1, return_state=True), Expect("flow-parameters"))
    note(run_id_only(1, return_state=True), Expect("run-id"))
    note(three_way(n, return_state=True), Expect("inputs-source-params"))
    note(params_run_source(n, return_state=True), Expect("params-run-source"))
    note(minus_without_inputs(n, return_state=True), Expect("minus-without-inputs"))
    note(compound_of_one(n, return_state=True), Expect("compound-of-one"))
    note(never_cached(n, return_state=True), Expect("no-cache", keyless=True))
    note(plus_no_cache(n, return_state=True), Expect("plus-no-cache"))
    note(with_key_fn(n, return_state=True), Expect("cache-key-fn", unverifiable=True))
    note(key_fn_in_compound(n, return_state=True), Expect("cache-key-fn-in-compound", unverifiable=True))
    note(parity(4, return_state=True), Expect("unknown-policy", unverifiable=True))
    note(parity(6, return_state=True), Expect("unknown-policy-again", unverifiable=True, state="Cached"))
    note(parity_and_source(3, return_state=True), Expect("unknown-policy-in-compound", unverifiable=True))
    note(loud(n, return_state=True), Expect("inputs-subclass", unverifiable=True))
    note(with_key_storage(n, return_state=True), Expect("key-storage"))
    note(with_key_storage(n, return_state=True), Expect("key-storage-again", state="Cached"))
    note(expiring(n, return_state=True), Expect("cache-expiration"))
    note(refreshing(n, return_state=True), Expect("refresh-cache"))
    note(refreshing(n, return_state=True), Expect("refresh-cache-again", state="Completed"))
    note(takes_lock(threading.Lock(), return_state=True), Expect("key-computation-raised", unverifiable=True, keyless=True))
    note(Ledger("ada").total([1.5, 2.25], return_state=True), Expect("method-on-dataclass"))
    note(Opaque(7).shifted(1, return_state=True), Expect("method-on-plain-object", unverifiable=True))
    note(make_scaler(3)(5, return_state=True), Expect("locals-function"))
    note(Tools.double(n, return_state=True), Expect("staticmethod"))
    note(Tools.named(n, return_state=True), Expect("classmethod", unverifiable=True))
    note(generated(n, return_state=True), Expect("no-source", unverifiable=True))
    # No policy, but the key is the template formatted as Prefect does: recomputed, it matches.
    note(fixed_storage_key(n, return_state=True), Expect("result-storage-key"))
    note(flaky(n, run=str(uuid.uuid4()), return_state=True), Expect("retried", state="Completed"))
    note(always_fails(n, return_state=True), Expect("failed", keyless=True, state="Failed"))
    inner(k=n)

    # Several runs at once on the thread pool: each capture must stay with its own run.
    futures = [(i, echo.with_options(task_run_name=f"concurrent-{i}").submit({"concurrent": i})) for i in range(6)]
    futures += [(i, parity_and_source.with_options(task_run_name=f"concurrent-parity-{i}").submit(100 + i)) for i in range(2)]
    for i, future in futures[:6]:
        future.wait()
        note(future.state, Expect(f"concurrent-{i}"))
    for i, future in futures[6:]:
        future.wait()
        note(future.state, Expect(f"concurrent-parity-{i}", unverifiable=True))


@flow
def plain() -> None:
    """A flow without parameters: FlowParameters gives no key."""
    note(flow_params_only(1, return_state=True), Expect("flow-parameters-no-params", keyless=True))
    note(params_run_source(1, return_state=True), Expect("params-run-source-no-params"))
    note(default_policy(1, return_state=True), Expect("default-other-flow-run"))


@flow
async def async_flow(count: int = 2) -> None:
    """Async tasks in an async flow, some concurrently."""
    note(await fetch_async(1, return_state=True), Expect("async"))
    states = await asyncio.gather(*(fetch_async(10 + i, delay=0.01 * i, return_state=True) for i in range(count)))
    for i, state in enumerate(states):
        note(state, Expect(f"async-gather-{i}"))


def main() -> None:
    manifest_path = Path(sys.argv[1])
    tricky()
    tricky(n=4, tags=frozenset({"z"}))
    plain()
    asyncio.run(async_flow())
    # Outside any flow: RunId falls back to the task run id, and there are no flow parameters.
    note(echo({"outside": True}, return_state=True), Expect("outside-flow"))
    note(default_policy(1, return_state=True), Expect("default-outside-flow"))
    note(asyncio.run(fetch_async(2, return_state=True)), Expect("async-outside-flow"))
    manifest_path.write_text(json.dumps(MANIFEST, indent=2, sort_keys=True) + "\n")
    if FAILURES:
        print("tricky_flow: expectations failed:\n  " + "\n  ".join(FAILURES), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
