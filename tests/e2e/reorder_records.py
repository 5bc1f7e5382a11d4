"""Copies run records with their encoded values out of Python's order, as a record edited by
hand or written by another tool may hold them (run-record-v1, "Encoded values").

Usage: reorder_records.py SRC DST

Every `.json` record under SRC is written to the same place under DST with the keys of every
object in `inputs` and `flow.parameters` reversed, at every depth, except objects whose keys are
all numbers' texts (int, float and bool keys, which the spec says arrive in numeric order and are
kept). Prints one line per record whose text changed: its path under DST.
"""
import json
import math
import sys
from pathlib import Path

src, dst = Path(sys.argv[1]), Path(sys.argv[2])


def number_text(key: str) -> bool:
    if key in ("true", "false", "NaN", "Infinity", "-Infinity"):
        return True
    try:
        return str(int(key)) == key
    except ValueError:
        pass
    try:
        value = float(key)
    except ValueError:
        return False
    return math.isfinite(value) and repr(value) == key


def scramble(value):
    if isinstance(value, list):
        return [scramble(v) for v in value]
    if isinstance(value, dict):
        items = [(k, scramble(v)) for k, v in value.items()]
        if not all(number_text(k) for k in value):
            items.reverse()
        return dict(items)
    return value


for path in sorted(src.rglob("*.json")):
    record = json.loads(path.read_text(encoding="utf-8"))
    before = json.dumps(record)
    if record.get("inputs") is not None:
        record["inputs"] = scramble(record["inputs"])
    flow = record.get("flow")
    if flow and flow.get("parameters") is not None:
        flow["parameters"] = scramble(flow["parameters"])
    out = dst / path.relative_to(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record)
    out.write_text(text, encoding="utf-8")
    if text != before:
        print(out)
