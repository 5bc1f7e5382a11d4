"""Writes a project for the watch benchmarks: task source files, N run records of them (format
v1) and a result for every record's key, so that every task's next run hits until its source
is edited.

    python3 bench/make_watch_project.py N DIR [--tasks T] [--files F]

DIR/project/flows_<f>.py holds the tasks (task_<t> in file t % F), DIR/runs/batch-<b>/ the
records (100 per folder, recorded one millisecond apart so that each task's latest is well
defined), DIR/storage/ the results. Keys are computed as Prefect 3.9 computes them
(INPUTS + TASK_SOURCE: md5 over json.dumps text), with bench/make_records.py's hash.
"""
import argparse
import json
import os
import random
import sys
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_records import hash_objects, make_inputs  # noqa: E402

TEMPLATE = '''@task(cache_policy=INPUTS + TASK_SOURCE)
def task_{t}(rows, tags=None, threshold=0.5):
    """Keeps the rows over the threshold."""
    # edit: v0
    return [r for r in rows if r["score"] >= threshold]
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("dir")
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    project = os.path.join(args.dir, "project")
    storage = os.path.join(args.dir, "storage")
    os.makedirs(project, exist_ok=True)
    os.makedirs(storage, exist_ok=True)

    # Each file: an import header, then its tasks two blank lines apart. Remember each task's
    # source and line, as the recorder would.
    where = {}
    for f in range(args.files):
        lines = ["from prefect import task\n", "from prefect.cache_policies import INPUTS, TASK_SOURCE\n"]
        for t in range(f, args.tasks, args.files):
            lines.append("\n\n")
            source = TEMPLATE.format(t=t)
            where[t] = ("flows_%d.py" % f, len("".join(lines).splitlines()) + 1, source)
            lines.append(source)
        with open(os.path.join(project, "flows_%d.py" % f), "w") as out:
            out.write("".join(lines))

    start = datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc)
    for i in range(args.n):
        t = i % args.tasks
        file, line, source = where[t]
        inputs = json.loads(json.dumps(make_inputs(rng), sort_keys=True))
        src_key = hash_objects(source)
        in_key = hash_objects(inputs)
        key = hash_objects(src_key, in_key)
        node = lambda name, k, **kw: dict({"policy": name, "key": k, "reproducible": True}, **kw)
        record = {
            "format": "cachescope/run-record@1",
            "recorded_at": (start + timedelta(milliseconds=i)).isoformat().replace("+00:00", "Z"),
            "environment": {"prefect": "3.9.1", "python": "3.11.7"},
            "project_root": "../../project",
            "flow": {"name": "bench", "run_id": "run-%d" % i, "run_name": "run-%d" % i, "parameters": {}},
            "task": {
                "name": "task_%d" % t,
                "task_key": "task_%d-%08x" % (t, t),
                "qualname": "task_%d" % t,
                "file": file,
                "line": line,
                "source": source,
            },
            "task_run": {"id": "task-run-%d" % i, "name": "task_%d-%d" % (t, i)},
            "inputs": inputs,
            "policy": node(
                "CompoundCachePolicy", key, policies=[node("TaskSource", src_key), node("Inputs", in_key, exclude=[])]
            ),
            "key": key,
            "outcome": {
                "state": "Completed",
                "cache_hit": False,
                "cache_expiration": None,
                "refresh_cache": False,
                "result_storage": "../../storage",
            },
        }
        sub = os.path.join(args.dir, "runs", "batch-%03d" % (i // 100))
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "record-%05d.json" % i), "w") as out:
            json.dump(record, out, indent=1)
        with open(os.path.join(storage, key), "w") as out:
            json.dump({"metadata": {"storage_key": key, "expiration": None, "serializer": {"type": "json"}},
                       "result": "null"}, out)


if __name__ == "__main__":
    main()
