"""Random values and CPython's json.dumps of them, for tests/pyjson_vs_cpython.rs.

Usage: python pyjson_random_values.py SEED COUNT

The first line is a header: "# python X.Y.Z nan_mixing=0|1". Then one line per value:

    <description>\t<json.dumps(value, sort_keys=True)>\t<json.dumps(json.loads(that text))>

or "!TypeError" in place of both dumps when json.dumps raised TypeError (unsortable keys).
The third column is what reading the text back gives in Python: the same text, except that
repeated keys (several NaN keys all print as "NaN") collapse as in a dict.
The description is JSON that rebuilds the value exactly, without relying on any float or
big-int parsing on the Rust side:

    ["n"]                 None
    ["b", true]           a bool
    ["i", "-123"]         an int, as decimal text
    ["f", "3ff0..."]      a float, as the 16 hex digits of its IEEE-754 bit pattern
    ["s", "text"]         a str
    ["l", [d, ...]]       a list or tuple
    ["d", [[k, d], ...]]  a dict, items in iteration order; keys use the same tags

Dict keys come as Python left them after insertion (1, 1.0 and True collapse into the first
inserted key), so the description always matches a real dict.

Which NaN keys land where in a sorted dict depends on the exact comparisons list.sort makes.
The Rust side replays CPython 3.11/3.12's sort, so dicts that mix NaN with other numeric keys
are generated only on those versions (nan_mixing=1). Dicts whose only numeric keys are NaN
come out in insertion order on every version, so they are always generated.
"""

import json
import math
import random
import struct
import sys

NAN_MIXING = sys.version_info[:2] in ((3, 11), (3, 12))

KEY_POOL = ["", "a", "b", "A", "aa", "ab", "a\x00", "\u00e9", "\u20ac", "\uffff", "\U0001f600",
            "\U0010ffff", "key", "Key", "x", "y", "\x7f", " ", "~", "\\", '"']


def float_from_bits(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def float_bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    # ----- scalars -----

    def char(self):
        r = self.r
        k = r.random()
        if k < 0.45:
            return chr(r.randint(0x20, 0x7E))
        if k < 0.55:
            return chr(r.randint(0x00, 0x1F))
        if k < 0.60:
            return r.choice('"\\/\x7f\b\f\n\r\t')
        if k < 0.70:
            return chr(r.randint(0x80, 0x7FF))
        if k < 0.85:
            c = r.randint(0x800, 0xFFFF - 0x800)
            # Skip the surrogate block: a lone surrogate is not text.
            return chr(c + 0x800 if c >= 0xD800 else c)
        return chr(r.randint(0x10000, 0x10FFFF))

    def string(self):
        r = self.r
        if r.random() < 0.25:
            return r.choice(KEY_POOL)
        n = r.choice([0, 1, 1, 2, 3, 4, 6, 10, 20, 40])
        return "".join(self.char() for _ in range(n))

    def int_(self):
        r = self.r
        k = r.randrange(10)
        if k == 0:
            return r.randint(-10, 10)
        if k == 1:
            return r.randint(-(2 ** 31), 2 ** 31)
        if k == 2:
            return r.randint(-(2 ** 63), 2 ** 64)
        if k == 3:
            return r.choice([2 ** 100, -(10 ** 50), 2 ** 53 + 1, -(2 ** 53) - 1, 10 ** 16, 0, -1])
        if k == 4:
            return r.getrandbits(r.randint(1, 700)) * r.choice([1, -1])
        if k == 5:
            return 2 ** r.randint(0, 1030) + r.randint(-2, 2)
        if k == 6:
            return 10 ** r.randint(0, 320) * r.choice([1, -1]) + r.randint(-1, 1)
        return r.randint(-1000, 1000)

    def float_(self):
        r = self.r
        k = r.randrange(15)
        if k == 0:
            return float_from_bits(r.getrandbits(64))
        if k == 1:  # subnormal
            return float_from_bits(r.getrandbits(52) | (r.getrandbits(1) << 63))
        if k == 2:  # huge
            return r.uniform(1e300, 1.7976931348623157e308) * r.choice([1, -1])
        if k == 3:
            return r.choice([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308,
                             1.7976931348623157e308, -1.7976931348623157e308])
        if k == 4:
            return r.choice([math.nan, -math.nan, math.inf, -math.inf,
                             float_from_bits(0x7FF0000000000001 | r.getrandbits(51)),
                             float_from_bits(0xFFF8000000000000 | r.getrandbits(51))])
        if k == 5:
            return round(r.uniform(-1000, 1000), r.randint(0, 6))
        if k == 6:  # around the repr layout switches: 1e-4 and 1e16
            x = 10.0 ** r.randint(-8, 20)
            for _ in range(r.randint(0, 3)):
                x = math.nextafter(x, r.choice([0.0, math.inf]))
            return x * r.choice([1, -1])
        if k == 7:
            return float(r.randint(-(2 ** 70), 2 ** 70))
        if k == 8:
            return r.random()
        if k == 9:
            return float("%de%d" % (r.randint(1, 10 ** r.randint(1, 17)), r.randint(-30, 30)))
        if k == 11:  # few binary fraction digits: exact decimal ties like 1e15 + 0.25
            return float(r.getrandbits(53) | 1) * 2.0 ** r.randint(-60, 40)
        if k == 10:  # an exponent where repr chooses between layouts
            return float_from_bits((r.randint(1000, 1090) << 52) | r.getrandbits(52))
        return r.uniform(-1e6, 1e6)

    def scalar(self):
        r = self.r
        k = r.randrange(10)
        if k == 0:
            return None
        if k == 1:
            return r.random() < 0.5
        if k in (2, 3):
            return self.int_()
        if k in (4, 5, 6):
            return self.float_()
        return self.string()

    # ----- keys -----

    def numeric_key(self, nan):
        r = self.r
        k = r.randrange(8 if nan else 7)
        if k == 0:
            return r.random() < 0.5
        if k in (1, 2):
            return self.int_()
        if k == 3:
            return r.randint(-20, 20)
        if k == 4:
            return r.randint(-20, 20) + r.choice([0.0, 0.5, -0.25])
        if k == 7:
            return math.nan
        x = self.float_()
        while math.isnan(x) and not nan:
            x = self.float_()
        return x

    def dict_(self, depth):
        r = self.r
        d = {}
        modes = ["str", "str", "str", "str", "int", "num", "none", "mixed", "nan_only", "float"]
        if NAN_MIXING:
            modes += ["num_nan", "num_nan"]
        mode = r.choice(modes)
        if r.random() < 0.04:
            mode = "big_nan" if NAN_MIXING and r.random() < 0.7 else "big"
        # Smaller dicts deeper down keep the output (and the test) small.
        n = r.choice([0, 1, 2, 3, 4, 5, 8, 12][: 8 - depth])
        val = lambda: self.value(depth + 1)
        if mode == "str":
            for _ in range(n):
                d[self.string()] = val()
        elif mode == "int":
            for _ in range(n):
                d[self.int_()] = val()
        elif mode == "num":
            for _ in range(n):
                d[self.numeric_key(nan=False)] = val()
        elif mode == "num_nan":
            for _ in range(n + 2):
                d[self.numeric_key(nan=True)] = val()
            d[math.nan] = val()
        elif mode == "float":
            for _ in range(n):
                x = self.float_()
                if not math.isnan(x):
                    d[x] = val()
        elif mode == "none":
            d[None] = val()
        elif mode == "nan_only":
            for _ in range(max(n, 1)):
                d[float_from_bits(0x7FF8000000000000 | r.getrandbits(51))] = val()
        elif mode == "mixed":
            # Keys of several kinds; usually unsortable, sometimes (by chance) not.
            makers = [self.string, lambda: self.numeric_key(nan=NAN_MIXING), lambda: None]
            for _ in range(max(n, 1)):
                d[r.choice(makers)()] = val()
        else:
            # Big dicts: long enough for several runs, merges and galloping in list.sort.
            # Keys come in ascending, descending and random stretches so runs form.
            size = r.randint(64, 400)
            nan = mode == "big_nan"
            keys = []
            while len(keys) < size:
                stretch = r.randint(1, 80)
                start = r.randint(-1000, 1000)
                step = r.choice([1, 2, 3, -1, -2, 0.5, -0.5])
                pattern = r.randrange(3)
                for i in range(stretch):
                    if pattern == 2:
                        keys.append(r.randint(-3000, 3000))
                    else:
                        keys.append(start + i * step)
                    if nan and r.random() < 0.05:
                        keys.append(math.nan)
            for k in keys[:size]:
                # Leaves keep the big dicts cheap to describe.
                d[k] = r.randint(0, 9)
        return d

    # ----- containers -----

    def value(self, depth=0):
        r = self.r
        if depth >= 5 or r.random() < 0.3 + 0.15 * depth:
            return self.scalar()
        k = r.randrange(6)
        if k in (0, 1):
            return [self.value(depth + 1) for _ in range(r.choice([0, 1, 2, 3, 5]))]
        if k == 2:
            return tuple(self.value(depth + 1) for _ in range(r.choice([0, 1, 2, 4])))
        return self.dict_(depth)


def describe(v):
    if v is None:
        return ["n"]
    if isinstance(v, bool):
        return ["b", v]
    if isinstance(v, int):
        return ["i", str(v)]
    if isinstance(v, float):
        return ["f", "%016x" % float_bits(v)]
    if isinstance(v, str):
        return ["s", v]
    if isinstance(v, (list, tuple)):
        return ["l", [describe(x) for x in v]]
    if isinstance(v, dict):
        return ["d", [[describe(k), describe(x)] for k, x in v.items()]]
    raise TypeError("cannot describe %r" % (v,))


def fixed_values():
    """The documented cases, first, so a failure there is easy to spot."""
    return [
        [[{"x": 1}], {}],
        [[{"x": 1e16}], {}],
        [[{}], {}],
        {2: "b", 10: "c", 1: "a"},
        {True: 1, 0.5: 2, -3: 3},
        {None: 1},
        {None: 1, "a": 2},
        {"a": 1, 2: 2},
        {3: 0, math.nan: 0, 1: 0, 2: 0, 0: 0} if NAN_MIXING else {math.nan: 0},
        {math.inf: 1, -math.inf: 2, 1e16: 3, 1e-5: 4},
        ["\U0001f600", "\x00\x1f\x7f", "\u00e9/\\\"", 2 ** 100, -(10 ** 50), -0.0, 5e-324],
    ]


def main():
    seed = int(sys.argv[1])
    count = int(sys.argv[2])
    gen = Gen(seed)
    out = sys.stdout
    out.write("# python %s nan_mixing=%d\n" % (sys.version.split()[0], int(NAN_MIXING)))
    values = fixed_values()
    while len(values) < count:
        values.append(gen.value())
    for v in values:
        try:
            dumped = json.dumps(v, sort_keys=True)
            reread = json.dumps(json.loads(dumped))
        except TypeError:
            dumped = reread = "!TypeError"
        out.write(json.dumps(describe(v)) + "\t" + dumped + "\t" + reread + "\n")


if __name__ == "__main__":
    main()
