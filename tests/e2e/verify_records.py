"""Recomputes the cache key of run records with nothing but ``json`` and ``hashlib``, as
prefect-cache-keys.md describes, independently of the recorder's own check.

Usage: ``python verify_records.py RUNS_DIR [MANIFEST.json]``

For each record: every node marked reproducible is recomputed from the recorded material; a
node that is not (or a CacheKeyFnPolicy, or an unknown class) carries its recorded key into
its parent. The record is ``match`` when every node was recomputed and agreed, ``unverifiable``
when some node could only be carried, ``changed`` when a recomputed node disagrees. With a
manifest (written by tricky_flow.py), the root key must also be the key Prefect stored the
result under, and ``unverifiable`` must be exactly where the manifest says.

Used by sample-runs/regenerate.sh to check the demo records, and by hand while the Rust CLI is
not at hand. Exit status 1 when any check fails.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Optional

RANK = {"match": 0, "unverifiable": 1, "changed": 2}


def hash_objects(*args: Any) -> str:
    return hashlib.md5(json.dumps([list(args), {}]).encode("utf-8")).hexdigest()


def recompute(node: dict[str, Any], record: dict[str, Any]) -> tuple[Optional[str], str]:
    """(key, status) of one node."""
    kind = node["policy"]
    if kind == "CompoundCachePolicy":
        results = [recompute(child, record) for child in node["policies"]]
        keys = [key for key, _ in results if key is not None]
        key = hash_objects(*keys) if keys else None
        status = max((s for _, s in results), key=RANK.__getitem__, default="match")
        if not node.get("reproducible", True):
            return node["key"], max(status, "unverifiable", key=RANK.__getitem__)
        if key != node["key"]:
            status = "changed"
        return key, status
    if not node.get("reproducible", True) or kind not in ("Inputs", "TaskSource", "FlowParameters", "RunId", "_None"):
        return node["key"], "unverifiable"
    if kind == "Inputs":
        inputs = record["inputs"]
        exclude = set(node.get("exclude") or [])
        key = hash_objects({k: v for k, v in inputs.items() if k not in exclude}) if inputs else None
    elif kind == "TaskSource":
        key = hash_objects(record["task"]["source"])
    elif kind == "FlowParameters":
        params = (record["flow"] or {}).get("parameters")
        key = hash_objects(params) if params else None
    elif kind == "RunId":
        key = record["flow"]["run_id"] if record["flow"] else record["task_run"]["id"]
    else:
        key = None
    return key, ("match" if key == node["key"] else "changed")


def main() -> int:
    runs = Path(sys.argv[1])
    manifest = json.loads(Path(sys.argv[2]).read_text()) if len(sys.argv) > 2 else None
    problems: list[str] = []
    counts = {"match": 0, "unverifiable": 0, "changed": 0}
    seen: set[str] = set()
    for path in sorted(runs.rglob("*.json")):
        record = json.loads(path.read_text())
        if record.get("format") != "cachescope/run-record@1":
            problems.append(f"{path}: not a run record")
            continue
        if record["policy"] is None:
            key, status = record["key"], "unverifiable"
        else:
            key, status = recompute(record["policy"], record)
            if record["policy"]["key"] != record["key"]:
                status = "changed"
        counts[status] += 1
        run_id = record["task_run"]["id"]
        seen.add(run_id)
        label = f"{path.name} ({record['task']['name']}/{record['task_run']['name']})"
        if status == "changed":
            problems.append(f"{label}: recomputed {key}, recorded {record['key']}")
        if manifest is None:
            continue
        entry = manifest.get(run_id)
        if entry is None:
            problems.append(f"{label}: task run not in the manifest")
            continue
        label += f" [{entry['case']}]"
        if entry["unverifiable"] != (status == "unverifiable"):
            problems.append(f"{label}: status {status}, manifest says unverifiable={entry['unverifiable']}")
        # A failed run stores nothing under its key: only the recomputation can be checked.
        stored = record["key"] if entry["state"] == "Failed" else entry["stored_key"]
        if record["key"] != stored:
            problems.append(f"{label}: recorded key {record['key']}, Prefect stored {stored}")
        if status == "match" and key != stored:
            problems.append(f"{label}: recomputed key {key}, Prefect stored {stored}")
    if manifest is not None:
        for run_id in sorted(set(manifest) - seen):
            problems.append(f"no record for task run {run_id} [{manifest[run_id]['case']}]")
    total = sum(counts.values())
    print(f"{total} records: {counts['match']} match, {counts['unverifiable']} unverifiable, {counts['changed']} changed")
    for problem in problems:
        print("  " + problem)
    return 1 if problems or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
