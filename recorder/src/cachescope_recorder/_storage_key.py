"""``result_storage_key``: the template a task's cache key is formatted from.

A task with ``result_storage_key="summary-{parameters[label]}"`` has no cache policy: Prefect
formats the template with ``str.format``, the runtime modules (``task_run``, ``flow_run``,
``deployment``) and ``parameters=`` the task run's parameters, and the text is both the name of
the result file and the cache key looked up. The record keeps the template, and the same
reproducibility contract as policy nodes: the recorder formats the template again from the
recorded material alone (the recorded inputs as ``parameters``, the recorded names and ids)
and marks it not reproducible, with a reason, when that does not give the key Prefect used.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Dict, Optional


def describe(task: Any) -> Optional[Dict[str, Any]]:
    """The task's template, before the check; None when it has none."""
    template = getattr(task, "result_storage_key", None)
    if template is None:
        return None
    return {"template": str(template), "reproducible": True}


def _namespace(record: Dict[str, Any]) -> Dict[str, Any]:
    """What the recorded material offers ``str.format``, named as Prefect's runtime names it."""
    parameters = record["inputs"]
    names: Dict[str, Any] = {
        "parameters": parameters,
        "task_run": SimpleNamespace(
            id=record["task_run"]["id"],
            name=record["task_run"]["name"],
            task_name=record["task"]["name"],
            parameters=parameters,
        ),
    }
    flow = record["flow"]
    if flow is not None:
        names["flow_run"] = SimpleNamespace(id=flow["run_id"], name=flow["run_name"], flow_name=flow["name"], parameters=flow["parameters"])
    return names


def mark_reproducible(record: Dict[str, Any]) -> None:
    """Checks a finished record's template against its key, in place."""
    info = record["task"].get("result_storage_key")
    if info is None:
        return
    problem: Optional[str] = None
    if record.get("policy") is not None:
        problem = "the cache key came from the cache policy (NO_CACHE or persist_result=False); the template only names the result file"
    else:
        try:
            text = info["template"].format(**_namespace(record))
        except Exception as exc:  # noqa: BLE001 - whatever the template does with the material
            problem = f"the recorded material cannot fill the template ({type(exc).__name__}: {exc})".splitlines()[0][:300]
        else:
            if text != record["key"]:
                problem = "the recorded material fills the template differently from the run's own values (a value whose str() is not its JSON form: an Enum, a tuple, a date)"
    info["reproducible"] = problem is None
    if problem is not None:
        info["reason"] = problem
    else:
        info.pop("reason", None)
