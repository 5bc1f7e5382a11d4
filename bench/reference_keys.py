"""The baseline for the keys benchmarks: the same recomputation in plain CPython, the way one
would check records without cachescope. json.loads, then per policy node the spec's recipe,
md5 over json.dumps([list(args), {}], sort_keys=True). The records bench/make_records.py makes
hold object keys in Python's sort_keys order and no integer keys, where sort_keys=True and the
run-record key-order rule write the same text.

Usage: python3 bench/reference_keys.py DIR   (prints one line: records and matches)
Reads *.json (one record) and *.jsonl (one per line) under DIR, as cachescope does.
"""
import hashlib
import json
import os
import sys


def hash_objects(*args):
    return hashlib.md5(json.dumps([list(args), {}], sort_keys=True).encode()).hexdigest()


def node_key(node, rec):
    p = node["policy"]
    if not node.get("reproducible", True):
        return node.get("key")
    if p == "CompoundCachePolicy":
        keys = [k for k in (node_key(c, rec) for c in node["policies"]) if k is not None]
        return hash_objects(*keys) if keys else None
    if p == "TaskSource":
        return hash_objects(rec["task"]["source"])
    if p == "RunId":
        return (rec.get("flow") or {}).get("run_id") or rec["task_run"]["id"]
    if p == "FlowParameters":
        params = (rec.get("flow") or {}).get("parameters")
        return hash_objects(params) if params else None
    if p == "Inputs":
        inputs = rec.get("inputs") or {}
        if not inputs:
            return None
        exclude = node.get("exclude") or []
        return hash_objects({k: v for k, v in inputs.items() if k not in exclude})
    return node.get("key")


def records(root):
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith(".json"):
                with open(path) as f:
                    yield json.load(f)
            elif name.endswith(".jsonl"):
                with open(path) as f:
                    for line in f:
                        if line.strip():
                            yield json.loads(line)


def main():
    total = matched = 0
    for rec in records(sys.argv[1]):
        total += 1
        key = node_key(rec["policy"], rec) if rec["policy"] is not None else rec["key"]
        matched += key == rec["key"]
    print(f"{total} records, {matched} match")


if __name__ == "__main__":
    main()
