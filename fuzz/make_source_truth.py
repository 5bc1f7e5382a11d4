"""Ground truth for the `source` fuzz target and tests/source_truth.rs: what CPython's
inspect.getsource returns for every function and lambda of the committed modules in
fuzz/source-truth/modules/.

Run it with each interpreter whose truth is committed (the test regenerates and diffs):

    python3.9  fuzz/make_source_truth.py            # writes fuzz/source-truth/truth-3.9.json
    python3.11 fuzz/make_source_truth.py            # ... truth-3.11.json and the seeds
    python3.12 fuzz/make_source_truth.py
    python3.13 fuzz/make_source_truth.py
    python3.11 fuzz/make_source_truth.py --out DIR  # everything under DIR instead

Each module is copied to a temporary folder and imported (so it is real, importable Python
under that interpreter), then compiled again to walk every code object: a `def` (methods,
nested and async functions) or a `lambda`. For each, the truth holds its co_qualname (null
before 3.11), name, co_firstlineno, getsourcelines' first line and getsource's text (or the
exception raised); and every def of the syntax tree by name and line, including those in
dead code that the compiler drops. The imported module's own function objects are checked to give the same
text, since that is what a task decorator holds. A module whose first lines say
`# min-python: 3.X` is left out under older interpreters.

The fuzz target also checks the extractor on variants of a module whose truth follows from
the module's: other line endings, a UTF-8 byte-order mark, lines put in front (which moves
every line number), and any text appended after a `pass` at column 0 (which ends every
block before it). This script checks those assumptions against CPython on a fixed set of
variants and stops if one fails, so the fuzz target never compares against a wrong truth.

The seeds for the fuzz target (fuzz/seeds/source/truth-* and mix-*) are written under the
3.11 run; their byte layout is described in fuzz/source_truth.rs.
"""
import argparse
import ast
import importlib.util
import io
import inspect
import json
import linecache
import os
import re
import shutil
import sys
import tempfile
import tokenize

HERE = os.path.dirname(os.path.abspath(__file__))
# def_starts (the defs of the syntax tree, by name and first line) is the one
# tests/py/getsource_truth.py uses for the stdlib truth.
sys.path.insert(0, os.path.join(HERE, "..", "tests", "py"))
from getsource_truth import def_starts  # noqa: E402
MODULES = os.path.join(HERE, "source-truth", "modules")
# The versions whose truth is committed, in the order the fuzz input's version bits use.
VERSIONS = ["3.9", "3.11", "3.12", "3.13"]
# The version the seeds are written for (the machine's python3).
SEED_VERSION = "3.11"
BOM = b"\xef\xbb\xbf"
LEADING = [b"\n", b"# a line put in front\n", b"pass\n"]
# Appended after `pass` at column 0: broken, binary and unterminated text must not matter.
TAILS = [
    b"",
    b"def tail():\n    return 1\n",
    b"def broken(:\n    '''never closed\n",
    b"    indented = 1\n)]}\n",
    b"\x00\x01\x7f nul and controls\n",
    b"@\n\tclass X:\n  def y(): \\\n",
    b"\r\r\n\x0c\"unterminated\n",
]
UTF8_TAIL = "caf\u00e9 \ufeff \U0001f680 '''\n".encode()


def min_python(data):
    head = data[:300].decode("latin-1").splitlines()[:3]
    for line in head:
        if "min-python:" in line:
            v = line.split("min-python:")[1].strip()
            return tuple(int(p) for p in v.split("."))
    return (3, 0)


def encoding(data):
    """The encoding linecache reads the file with (tokenize.detect_encoding), "utf-8" also
    for a BOM: only a utf-8 module may get a BOM or lines in front (which push a cookie off
    the first two lines) without changing how it decodes."""
    enc, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return "utf-8" if enc == "utf-8-sig" else enc


def code_objects(code):
    for const in code.co_consts:
        if inspect.iscode(const):
            yield const
            yield from code_objects(const)


def getsource(code):
    try:
        lines, first = inspect.getsourcelines(code)
        return {"first_line": first, "source": "".join(lines)}
    except Exception as e:  # the failure is part of the truth
        return {"error": "%s: %s" % (type(e).__name__, e)}


def functions_of(data, path):
    """(code, record) for every def and lambda of the file at `path` holding `data`."""
    module = compile(data, path, "exec", dont_inherit=True)
    defs = def_starts(data, path)
    out = []
    for code in code_objects(module):
        if code.co_name == "<lambda>":
            kind = "lambda"
        elif (code.co_name, code.co_firstlineno) in defs:
            kind = "def"
        else:
            continue  # class bodies, comprehensions, generator expressions, type aliases
        rec = {
            "kind": kind,
            "qualname": getattr(code, "co_qualname", None),
            "name": code.co_name,
            "line": code.co_firstlineno,
        }
        rec.update(getsource(code))
        out.append((code, rec))
    return out


def imported_functions(module):
    """Function objects reachable from an imported module's namespace and its classes."""
    seen, found = set(), []

    def visit(obj, depth):
        if id(obj) in seen or depth > 4:
            return
        seen.add(id(obj))
        if inspect.isfunction(obj):
            inner = inspect.unwrap(obj)
            if inspect.isfunction(inner):
                found.append(inner)
        elif isinstance(obj, (staticmethod, classmethod)):
            visit(obj.__func__, depth)
        elif isinstance(obj, property):
            for f in (obj.fget, obj.fset, obj.fdel):
                if f is not None:
                    visit(f, depth)
        elif inspect.isclass(obj) and obj.__module__ == module.__name__:
            for v in vars(obj).values():
                visit(v, depth + 1)

    for v in vars(module).values():
        visit(v, 0)
    return found


def import_and_check(name, tmp, records):
    """Imports the module from `tmp` (written there already) and checks getsource of its
    live functions."""
    path = os.path.join(tmp, name)
    modname = "truth_" + name[:-3]
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    by_line = {(r["name"], r["line"]): r for _, r in records}
    checked = 0
    for fn in imported_functions(module):
        code = fn.__code__
        if code.co_filename != path or code.co_name == "<lambda>":
            continue
        want = by_line.get((code.co_name, code.co_firstlineno))
        if want is None:
            sys.exit("%s: imported %s at line %d is not in the truth" % (name, fn.__qualname__, code.co_firstlineno))
        if want["qualname"] is not None and want["qualname"] != fn.__qualname__:
            sys.exit("%s: qualname %s != %s" % (name, want["qualname"], fn.__qualname__))
        got = getsource(fn)
        if got.get("source") != want.get("source"):
            sys.exit("%s: getsource of the imported %s differs from its code object's" % (name, fn.__qualname__))
        checked += 1
    if checked == 0:
        sys.exit("%s: no function reachable after import" % name)
    return checked


def line_endings(data, style):
    """`data` with every line ending (\\r\\n, \\r, \\n) replaced by `style`."""
    return re.sub(rb"\r\n|\r|\n", style, data)


def variant(data, mod, ending=None, bom=False, leading=0, tail=None):
    """The file the fuzz target builds (fuzz/source_truth.rs `Variant::build` does the same):
    the module with its line endings replaced, a BOM and lines put in front (utf-8 modules
    only: tokenize.detect_encoding splits lines at \\n only, so with \\r endings a cookie's
    line is the whole file, which must then decode as UTF-8), then `pass` and the tail.
    Returns the bytes and how many lines were put in front."""
    utf8 = mod["encoding"] == "utf-8"
    body = data.removeprefix(BOM)
    if ending is not None and utf8:
        body = line_endings(body, ending)
    leading = leading if utf8 else 0
    body = b"".join(LEADING[i % 3] for i in range(leading)) + body
    if mod["bom"] or (bom and utf8):
        body = BOM + body
    if tail:
        if not body.endswith((b"\n", b"\r")):
            body += b"\n"
        body += b"pass\n" + tail
    return body, leading


def check_variants(data, name, mod, records, tmp):
    """Every variant the fuzz target may build has the truth the fuzz target derives."""
    utf8 = mod["encoding"] == "utf-8"
    cases = [dict(ending=e) for e in (b"\r\n", b"\n", b"\r")]
    cases += [dict(bom=True), dict(leading=1), dict(leading=2), dict(leading=3)]
    cases += [dict(tail=t) for t in TAILS[1:] + ([UTF8_TAIL] if utf8 else [])]
    cases += [dict(ending=b"\r\n", bom=True, leading=3, tail=TAILS[2])]
    n = 0
    for i, case in enumerate(cases):
        body, leading = variant(data, mod, **case)
        path = os.path.join(tmp, "v%d_%s" % (i, name))
        with open(path, "wb") as f:
            f.write(body)
        for code, rec in records:
            moved = code.replace(co_filename=path, co_firstlineno=rec["line"] + leading)
            got = getsource(moved)
            want = dict((k, rec[k]) for k in ("first_line", "source", "error") if k in rec)
            if "first_line" in want:
                want["first_line"] += leading
            if got != want:
                sys.exit(
                    "%s: variant %r changes getsource of %s at line %d:\n%r\n%r"
                    % (name, case, rec["name"], rec["line"], want, got)
                )
            n += 1
        linecache.clearcache()
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", help="write under this folder instead of fuzz/")
    args = ap.parse_args()
    version = "%d.%d" % sys.version_info[:2]
    if version not in VERSIONS:
        sys.exit("this script records the truth of CPython %s; this is %s" % (", ".join(VERSIONS), version))
    out = args.out or HERE
    truth_dir = os.path.join(out, "source-truth")
    os.makedirs(truth_dir, exist_ok=True)

    names = sorted(n for n in os.listdir(MODULES) if n.endswith(".py"))
    modules, skipped, variants_checked, imported = [], [], 0, 0
    tmp = tempfile.mkdtemp(prefix="source-truth-")
    try:
        for name in names:
            with open(os.path.join(MODULES, name), "rb") as f:
                data = f.read()
            if min_python(data) > sys.version_info[:2]:
                skipped.append(name)
                continue
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            records = functions_of(data, path)
            imported += import_and_check(name, tmp, records)
            mod = {
                "file": name,
                "encoding": encoding(data),
                "bom": data.startswith(BOM),
                "lines": len(linecache.getlines(path)),
                # Every def in the syntax, also those the compiler drops as dead code
                # (`if True: ... else: def f()`), which have no code object.
                "syntax_defs": sorted([n, l] for n, l in def_starts(data, path)),
            }
            variants_checked += check_variants(data, name, mod, records, tmp)
            mod["functions"] = [r for _, r in records]
            modules.append(mod)
    finally:
        shutil.rmtree(tmp)

    truth = {
        "generated_by": "fuzz/make_source_truth.py",
        "python": version,
        "modules": modules,
        "needs_newer_python": skipped,
    }
    with open(os.path.join(truth_dir, "truth-%s.json" % version), "w", encoding="utf-8", newline="\n") as f:
        json.dump(truth, f, indent=1, sort_keys=True, ensure_ascii=True)
        f.write("\n")
    n_functions = sum(len(m["functions"]) for m in modules)
    print(
        "CPython %s: %d modules (%d need a newer Python), %d functions and lambdas, "
        "%d live functions checked after import, %d variant extractions checked"
        % (version, len(modules), len(skipped), n_functions, imported, variants_checked)
    )

    if version == SEED_VERSION:
        write_seeds(out, names)


def write_seeds(out, names):
    """Seeds: each module as a plain input (first byte: version 3.11, or 3.13 when the module
    needs it), and each as a composed input (CRLF, a BOM, one line in front, a short tail)."""
    seeds = os.path.join(out, "seeds", "source")
    os.makedirs(seeds, exist_ok=True)
    for old in os.listdir(seeds):
        if old.startswith(("truth-", "mix-")):
            os.remove(os.path.join(seeds, old))
    per_version = {v: [] for v in VERSIONS}
    datas = {}
    for name in names:
        with open(os.path.join(MODULES, name), "rb") as f:
            datas[name] = f.read()
        for v in VERSIONS:
            if min_python(datas[name]) <= tuple(int(p) for p in v.split(".")):
                per_version[v].append(name)
    for name in names:
        v = SEED_VERSION if name in per_version[SEED_VERSION] else "3.13"
        stem = name[:-3]
        # Plain mode: version = 3.9 + first byte % 5.
        plain = bytes([int(v.split(".")[1]) - 9]) + datas[name]
        with open(os.path.join(seeds, "truth-" + stem), "wb") as f:
            f.write(plain)
        # Composed mode: 0x80 | ending 1 (CRLF) | BOM | version index << 3 | 1 leading line << 5.
        head = 0x80 | 1 | 4 | (VERSIONS.index(v) << 3) | (1 << 5)
        index = per_version[v].index(name)
        with open(os.path.join(seeds, "mix-" + stem), "wb") as f:
            f.write(bytes([head, index]) + b"def tail(x):\n    return x\n")


if __name__ == "__main__":
    main()
