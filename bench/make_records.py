"""Writes N synthetic run records (format v1) into a folder, for benchmarks and scale tests.

Keys are computed here the way Prefect 3.9 computes them (md5 over json.dumps text), so
`cachescope keys` must report `match` for every record. Usage:
    python3 bench/make_records.py N DIR [--seed S] [--jsonl]
"""
import argparse
import hashlib
import json
import os
import random
import uuid


def hash_objects(*args):
    text = json.dumps([list(args), {}], sort_keys=True)
    return hashlib.md5(text.encode("utf-8")).hexdigest()


SOURCE = '''@task(cache_policy=INPUTS + TASK_SOURCE)
def clean_{n}(rows, threshold=0.5, tags=None):
    """Drop rows under the threshold."""
    # keep rows that pass
    return [r for r in rows if r["score"] >= threshold]
'''


def make_inputs(rng):
    rows = [
        {"id": rng.randrange(10**6), "score": rng.random(), "name": "row-%d" % i, "ok": rng.random() < 0.5}
        for i in range(rng.randrange(1, 40))
    ]
    return {
        "rows": rows,
        "tags": {"__class__": "builtins.set", "data": sorted({"a", "b", "c"})},
        "threshold": rng.choice([0.5, 0.25, 1e-05, 1e16]),
    }


def make_record(rng, i):
    flow_run = str(uuid.UUID(int=rng.getrandbits(128)))
    task_run = str(uuid.UUID(int=rng.getrandbits(128)))
    source = SOURCE.format(n=i % 50)
    # Records store encoded values with keys in the order sort_keys put them (run-record v1).
    inputs = json.loads(json.dumps(make_inputs(rng), sort_keys=True))
    params = {"day": "2026-11-%02d" % (1 + i % 28), "limit": i}
    src_key = hash_objects(source)
    run_key = flow_run
    in_key = hash_objects({k: v for k, v in inputs.items()})
    params_key = hash_objects(params)
    keys = [src_key, run_key, params_key, in_key]
    root = hash_objects(*keys)
    node = lambda name, key, **kw: dict({"policy": name, "key": key, "reproducible": True}, **kw)
    policy = node(
        "CompoundCachePolicy",
        root,
        policies=[
            node("TaskSource", src_key),
            node("RunId", run_key),
            node("FlowParameters", params_key),
            node("Inputs", in_key, exclude=[]),
        ],
    )
    return {
        "format": "cachescope/run-record@1",
        "recorded_at": "2026-11-24T18:14:56.451Z",
        "environment": {"prefect": "3.9.1", "python": "3.11.7"},
        "project_root": "project",
        "flow": {"name": "nightly", "run_id": flow_run, "run_name": "run-%d" % i, "parameters": params},
        "task": {
            "name": "clean_%d" % (i % 50),
            "task_key": "clean-%08x" % (i % 50),
            "qualname": "clean_%d" % (i % 50),
            "file": "flows.py",
            "line": 10 + i % 50,
            "source": source,
        },
        "task_run": {"id": task_run, "name": "clean-%d" % i},
        "inputs": inputs,
        "policy": policy,
        "key": root,
        "outcome": {
            "state": "Completed",
            "cache_hit": False,
            "cache_expiration": None,
            "refresh_cache": False,
            "result_storage": "storage",
        },
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jsonl", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.dir, exist_ok=True)
    if args.jsonl:
        with open(os.path.join(args.dir, "records.jsonl"), "w") as f:
            for i in range(args.n):
                f.write(json.dumps(make_record(rng, i)) + "\n")
    else:
        for i in range(args.n):
            # 100 records per folder, as a long-lived runs folder would grow
            sub = os.path.join(args.dir, "batch-%03d" % (i // 100))
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, "record-%05d.json" % i), "w") as f:
                json.dump(make_record(rng, i), f, indent=1)


if __name__ == "__main__":
    main()
