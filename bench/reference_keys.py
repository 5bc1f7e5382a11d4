"""The baseline for the keys benchmark: the same recomputation in plain Python (json.loads,
json.dumps + md5 per node), the way one would check records without cachescope.

Usage: python3 bench/reference_keys.py DIR   (prints one line: records and matches)
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
        return hash_objects({k: v for k, v in inputs.items() if k not in node.get("exclude", [])})
    return node.get("key")


def main():
    total = matched = 0
    for root, _, files in os.walk(sys.argv[1]):
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(root, name)) as f:
                rec = json.load(f)
            total += 1
            matched += node_key(rec["policy"], rec) == rec["key"]
    print(f"{total} records, {matched} match")


if __name__ == "__main__":
    main()
