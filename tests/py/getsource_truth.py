"""What inspect.getsource returns for every function of some Python files: the ground truth
for tests/source_vs_inspect.rs.

Files are compiled with compile() and never imported. Every function code object found by
walking co_consts (methods, nested and async functions; not module or class bodies, lambdas,
comprehensions or generator expressions) is passed to inspect.getsource, which reads the
file through linecache as it would for a live function.

Usage:
    python getsource_truth.py --out FILE --stdlib [--min-modules N]
    python getsource_truth.py --out FILE PATH...      (files, or directories searched for .py files)

FILE gets one JSON object per line:
    {"file": ..., "qualname": ... or null before 3.11, "name": ..., "line": co_firstlineno,
     "source": ...}  or the same with "error": "ExceptionType: message" instead of "source"
and a last line {"summary": {...}} with the interpreter version and what was skipped: test
suites, files that do not compile under this interpreter, and code objects that are not a
`def` (3.12+ type aliases and type-parameter bounds).
"""
import argparse
import ast
import inspect
import json
import os
import sys
import sysconfig

CO_OPTIMIZED = inspect.CO_OPTIMIZED
# Directory names whose files are test suites rather than library code.
TEST_DIRS = {"test", "tests", "idle_test"}
# Directories under the stdlib that are not the stdlib.
FOREIGN_DIRS = {"site-packages", "dist-packages", "__pycache__"}


def stdlib_files():
    root = sysconfig.get_paths()["stdlib"]
    files, skipped_tests = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in FOREIGN_DIRS)
        rel = os.path.relpath(dirpath, root).split(os.sep)
        in_tests = any(part in TEST_DIRS for part in rel)
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            if in_tests or name.startswith("test_"):
                skipped_tests += 1
                continue
            files.append(os.path.join(dirpath, name))
    return root, files, skipped_tests


def given_files(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames.sort()
                files += [os.path.join(dirpath, n) for n in sorted(filenames) if n.endswith(".py")]
        else:
            files.append(p)
    return files


def functions(code):
    """Function code objects nested in `code`, depth first, in co_consts order."""
    for const in code.co_consts:
        if inspect.iscode(const):
            if const.co_flags & CO_OPTIMIZED and not const.co_name.startswith("<"):
                yield const
            yield from functions(const)


def def_starts(data, path):
    """(name, co_firstlineno) of every def and async def, from the AST. Code objects that are
    not defs but look like functions (3.12+ `type X = ...` aliases and type-parameter bounds
    are evaluated lazily by code objects named after the alias or parameter) are left out."""
    starts = set()
    for node in ast.walk(ast.parse(data, path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            line = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            starts.add((node.name, line))
    return starts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--stdlib", action="store_true")
    ap.add_argument("--min-modules", type=int, default=0)
    ap.add_argument("paths", nargs="*")
    args = ap.parse_args()

    if args.stdlib:
        root, files, skipped_tests = stdlib_files()
    else:
        root, files, skipped_tests = None, given_files(args.paths), 0

    compiled = 0
    not_compiling = []
    n_functions = 0
    not_defs = 0
    with open(args.out, "w", encoding="utf-8") as out:
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            try:
                module = compile(data, path, "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as e:
                not_compiling.append("%s: %s: %s" % (path, type(e).__name__, e))
                continue
            compiled += 1
            defs = def_starts(data, path)
            for code in functions(module):
                if (code.co_name, code.co_firstlineno) not in defs:
                    not_defs += 1
                    continue
                rec = {
                    "file": path,
                    "qualname": getattr(code, "co_qualname", None),
                    "name": code.co_name,
                    "line": code.co_firstlineno,
                }
                try:
                    rec["source"] = inspect.getsource(code)
                except Exception as e:  # the failure is part of the truth
                    rec["error"] = "%s: %s" % (type(e).__name__, e)
                out.write(json.dumps(rec) + "\n")
                n_functions += 1
        summary = {
            "python": "%d.%d.%d" % sys.version_info[:3],
            "stdlib": root,
            "modules": compiled,
            "functions": n_functions,
            "skipped_code_objects_not_defs": not_defs,
            "skipped_test_files": skipped_tests,
            "skipped_not_compiling": len(not_compiling),
            "not_compiling": not_compiling,
        }
        out.write(json.dumps({"summary": summary}) + "\n")
    if compiled < args.min_modules:
        sys.exit("only %d modules compiled, wanted at least %d" % (compiled, args.min_modules))


if __name__ == "__main__":
    main()
