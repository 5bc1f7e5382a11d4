"""The baseline for the extraction benchmark: CPython's own inspect.getsource over every
function of every .py file under a directory (the same set examples/source_throughput.rs
extracts). Files are compiled first to find the functions; only the getsource calls are timed,
best of 3, which flatters Python (it gets its function index for free).

Usage: python3 bench/source_baseline.py DIR
"""
import inspect
import linecache
import os
import sys
import time

SKIP_NAMES = {"<module>", "<lambda>", "<genexpr>", "<listcomp>", "<dictcomp>", "<setcomp>"}


def functions(code):
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            if const.co_name not in SKIP_NAMES and const.co_flags & inspect.CO_OPTIMIZED:
                yield const
            yield from functions(const)


def main():
    codes = []
    for root, dirs, files in os.walk(sys.argv[1]):
        dirs[:] = sorted(d for d in dirs if d != "site-packages")
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    code = compile(f.read(), path, "exec", dont_inherit=True)
            except (SyntaxError, ValueError, UnicodeDecodeError):
                continue
            codes.extend(functions(code))
    best = float("inf")
    for _ in range(3):
        linecache.clearcache()
        ok = 0
        start = time.perf_counter()
        for code in codes:
            try:
                inspect.getsource(code)
                ok += 1
            except Exception:
                pass
        best = min(best, time.perf_counter() - start)
    print(f"{ok} functions, best of 3: {best:.3f} s, {ok / best:.0f} functions/s")


if __name__ == "__main__":
    main()
