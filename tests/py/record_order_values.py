"""Random values written as a record reader may find them, for the key-ordering rule.

Usage: record_order_values.py SEED COUNT

For each value, prints one line: the value's JSON text as a record holds it when the writer did
NOT sort (every dict with only string keys in a shuffled insertion order; dicts with number keys
in numeric order, as run-record-v1 says integer keys arrive), a tab, md5 of what Prefect hashes
(`json.dumps([[value], {}], sort_keys=True)`), a tab, and 1 when the record text differs from
`json.dumps(value, sort_keys=True)` (the reader must reorder), else 0.

String keys include look-alikes of numbers, non-ASCII and astral characters (code point order,
not UTF-16 order), and every string-keyed dict has at least one key that is not a number's text,
since a dict of only numeric-looking string keys in numeric order is indistinguishable from an
int-keyed one (the spec keeps that order).
"""
import hashlib
import json
import random
import sys

seed, count = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)

ALPHABET = ["a", "b", "z", "A", "_", "0", "1", "9", "-", ".", " ", "\u00e9", "\u00ff", "\u0100",
            "\u4e2d", "\ue000", "\uffff", "\U0001f600", "\U00010000", "\U0010fffd"]


def text_key():
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 4)))


def str_keys(n):
    keys = {rng.choice(["x", "name", "\u00e9t\u00e9", "\U0001f600", "Z"]) + text_key()}
    while len(keys) < n:
        keys.add(rng.choice([text_key(), str(rng.randint(-20, 20)), repr(rng.random()), "true"]))
    return list(keys)


def number_keys(n):
    keys = set()
    while len(keys) < n:
        kind = rng.randrange(4)
        if kind == 0:
            keys.add(rng.randint(-1000, 1000))
        elif kind == 1:
            keys.add(rng.choice([10**20, -(10**19), 2**64 + 1]))
        elif kind == 2:
            keys.add(rng.choice([0.5, -2.25, 1e16, 1e-05, float("inf"), float("-inf")]))
        else:
            keys.add(rng.choice([True, False]))
    return list(keys)


def leaf():
    return rng.choice([1, -7, 2**70, 1.5, "s", "\U0001f600", None, True, [1, "a"], []])


def value(depth):
    if depth > 3 or rng.random() < 0.3:
        return leaf()
    kind = rng.randrange(3)
    n = rng.randint(0, 6)
    if kind == 0:
        return [value(depth + 1) for _ in range(rng.randint(0, 3))]
    keys = str_keys(n) if kind == 1 else number_keys(n)
    return {k: value(depth + 1) for k in keys}


def as_recorded(v):
    """The value rebuilt with the insertion orders the record text will show."""
    if isinstance(v, list):
        return [as_recorded(x) for x in v]
    if isinstance(v, dict):
        items = list(v.items())
        if all(isinstance(k, str) for k in v):
            rng.shuffle(items)
        else:
            items.sort()
        return {k: as_recorded(x) for k, x in items}
    return v


for _ in range(count):
    keys = str_keys(rng.randint(1, 6))
    v = {k: value(1) for k in keys}  # inputs and flow parameters are string-keyed dicts
    record_text = json.dumps(as_recorded(v))
    hashed = json.dumps([[v], {}], sort_keys=True)
    reorder = int(record_text != json.dumps(v, sort_keys=True))
    print(record_text, hashlib.md5(hashed.encode()).hexdigest(), reorder, sep="\t")
