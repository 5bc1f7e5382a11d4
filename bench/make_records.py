"""Writes N synthetic run records (format v1) into a folder, for benchmarks and scale tests.

Keys are computed here the way Prefect 3.9 computes them (md5 over json.dumps text), so
`cachescope keys` must report `match` for every record (and `unverifiable` for the nodes a
recorder marks so, with --mix). Usage:
    python3 bench/make_records.py N DIR [--seed S] [--jsonl] [--files F] [--mix] [--big SIZES]

Without --mix every record has the same INPUTS + TASK_SOURCE + RUN_ID + FLOW_PARAMETERS tree
and small inputs (the tests rely on that). For benchmarks:
  --mix          mixed policies (compounds of every kind, Inputs with exclude, TaskSource alone,
                 a cache_key_fn the recorder could not reproduce, no policy at all) and inputs
                 varied in shape and size (nested configurations, non-ASCII text, large ints,
                 floats of every magnitude), all different, so no two spans are alike;
  --files F      spread the records over F files (F .jsonl files with --jsonl; without it
                 records go one per .json file, F folders);
  --big SIZES    comma-separated sizes in MB: one record per size carries an input of that
                 size (a list of rows), e.g. --big 50,20,5;
  --indent K     .json files written with indent=K (the recorder uses 2), 0 for one line.
"""
import argparse
import datetime
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


WORDS = ["alpha", "beta", "gamma", "caf\u00e9", "na\u00efve", "\u65e5\u672c", "tab\there",
         "quote\"d", "back\\slash", "emoji \U0001F600", "line\nbreak", "plain"]


def make_mixed_inputs(rng, i):
    """Inputs that differ from record to record in shape, size and every scalar kind."""
    kind = i % 4
    rows = [
        {
            "id": rng.randrange(-(10**12), 10**12),
            "score": rng.choice([rng.random(), rng.uniform(-1e6, 1e6), rng.random() * 1e-7,
                                 float(rng.randrange(10**6)), rng.random() * 1e20]),
            "label": "%s-%d" % (rng.choice(WORDS), rng.randrange(10**6)),
            "ok": rng.random() < 0.5,
            "extra": None if rng.random() < 0.3 else [rng.random() for _ in range(rng.randrange(4))],
        }
        for _ in range(rng.randrange(1, 16))
    ]
    inputs = {"rows": rows, "threshold": rng.random()}
    if kind == 1:
        inputs["config"] = {
            "model": {"depth": rng.randrange(1, 12), "rate": rng.random() / 100,
                      "layers": [rng.randrange(8, 512) for _ in range(rng.randrange(1, 8))]},
            "name": rng.choice(WORDS) + str(i),
            "big": rng.getrandbits(100),
        }
    elif kind == 2:
        inputs["text"] = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(5, 200)))
        inputs["debug"] = rng.random() < 0.5
    elif kind == 3:
        inputs["matrix"] = [[rng.random() for _ in range(8)] for _ in range(rng.randrange(1, 30))]
    return inputs


def big_inputs(rng, mb):
    """An input of about `mb` megabytes: rows of varied numbers and text."""
    rows = []
    size = 0
    while size < mb * 1_000_000:
        row = {"id": rng.randrange(10**9), "score": rng.random(), "value": rng.uniform(-1e9, 1e9),
               "label": "%s-%d" % (rng.choice(WORDS), rng.randrange(10**9)), "ok": rng.random() < 0.5}
        rows.append(row)
        size += 130
    return {"rows": rows, "threshold": 0.5}


def mixed_policy(rng, i, src_key, run_key, params_key, inputs, node):
    """One of several real policy shapes, with the keys Prefect would have computed."""
    shape = i % 8

    def inputs_node(exclude):
        kept = {k: v for k, v in inputs.items() if k not in exclude}
        return node("Inputs", hash_objects(kept), exclude=exclude)

    def compound(children):
        keys = [c["key"] for c in children if c["key"] is not None]
        return node("CompoundCachePolicy", hash_objects(*keys) if keys else None, policies=children)

    if shape == 0:
        return compound([node("TaskSource", src_key), node("RunId", run_key),
                         node("FlowParameters", params_key), inputs_node([])])
    if shape == 1:
        return compound([inputs_node([]), node("TaskSource", src_key)])
    if shape == 2:
        return compound([inputs_node(sorted(inputs)[:1]), node("TaskSource", src_key)])
    if shape == 3:
        return node("TaskSource", src_key)
    if shape == 4:
        return inputs_node([])
    if shape == 5:
        user = node("CacheKeyFnPolicy", "user-%08x" % rng.getrandbits(32), function="flows.key_fn")
        user["reproducible"] = False
        user["reason"] = "cache_key_fn is user code"
        return compound([user, inputs_node([])])
    if shape == 6:
        return compound([node("FlowParameters", params_key), node("RunId", run_key)])
    return None


def recorded_at(i):
    """A month of runs, about 26 s apart, each at its own millisecond (as real folders are:
    sorting runs by time then rarely falls back to comparing paths)."""
    ms = 1_000 * 26 * i + (i * 7919) % 1_000
    start = datetime.datetime(2026, 11, 1, 2, 0, tzinfo=datetime.timezone.utc)
    t = start + datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def make_record(rng, i, mix=False, big_mb=None):
    flow_run = str(uuid.UUID(int=rng.getrandbits(128)))
    task_run = str(uuid.UUID(int=rng.getrandbits(128)))
    source = SOURCE.format(n=i % (5000 if mix else 50))
    # Records store encoded values with keys in the order sort_keys put them (run-record v1).
    if big_mb is not None:
        raw = big_inputs(rng, big_mb)
    elif mix:
        raw = make_mixed_inputs(rng, i)
    else:
        raw = make_inputs(rng)
    inputs = json.loads(json.dumps(raw, sort_keys=True))
    params = {"day": "2026-11-%02d" % (1 + i % 28), "limit": i}
    src_key = hash_objects(source)
    run_key = flow_run
    in_key = hash_objects({k: v for k, v in inputs.items()})
    params_key = hash_objects(params)
    keys = [src_key, run_key, params_key, in_key]
    root = hash_objects(*keys)
    node = lambda name, key, **kw: dict({"policy": name, "key": key, "reproducible": True}, **kw)
    if mix:
        policy = mixed_policy(rng, i, src_key, run_key, params_key, inputs, node)
        root = policy["key"] if policy else None
    else:
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
        "recorded_at": recorded_at(i),
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
    ap.add_argument("--files", type=int, default=None)
    ap.add_argument("--mix", action="store_true")
    ap.add_argument("--big", default="")
    ap.add_argument("--indent", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.dir, exist_ok=True)
    big = [float(mb) for mb in args.big.split(",") if mb]
    # The big inputs go to evenly spaced records, so they land in different files.
    big_at = {(k + 1) * args.n // (len(big) + 1): mb for k, mb in enumerate(big)}
    records = (make_record(rng, i, args.mix, big_at.get(i)) for i in range(args.n))
    if args.jsonl:
        files = args.files or 1
        per_file = -(-args.n // files)
        out = None
        for i, record in enumerate(records):
            if i % per_file == 0:
                if out:
                    out.close()
                name = "records.jsonl" if files == 1 else "records-%03d.jsonl" % (i // per_file)
                out = open(os.path.join(args.dir, name), "w")
            out.write(json.dumps(record) + "\n")
        if out:
            out.close()
    else:
        # 100 records per folder, as a long-lived runs folder would grow (or F folders)
        per_dir = -(-args.n // args.files) if args.files else 100
        indent = args.indent or None
        for i, record in enumerate(records):
            sub = os.path.join(args.dir, "batch-%03d" % (i // per_dir))
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, "record-%05d.json" % i), "w") as f:
                json.dump(record, f, indent=indent)


if __name__ == "__main__":
    main()
