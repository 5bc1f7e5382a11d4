import contextlib


def branches(n):
    if n < 0:
        return "negative"
    elif n == 0:
        return "zero"
    else:
        return "positive"


def loops(items):
    for i, item in enumerate(items):
        if item is None:
            continue
        while i > 0:
            i -= 1
        else:
            pass
    else:
        return len(items)


def exceptions(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError as e:
        raise RuntimeError(path) from e
    except (PermissionError, IsADirectoryError):
        return None
    else:
        pass
    finally:
        print("done")


def generator(n):
    for i in range(n):
        received = yield i
        if received:
            yield from range(received)
    return "finished"


@contextlib.contextmanager
def managed(resource):
    print("acquire", resource)
    try:
        yield resource
    finally:
        print("release", resource)


class Resource:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return False


def comprehensions(rows):
    squares = [r * r for r in rows if r]
    lookup = {r: i for i, r in enumerate(rows)}
    unique = {r % 3 for r in rows}
    lazy = (r for r in rows)
    nested = [[c for c in range(r)] for r in rows]
    if (n := len(rows)) > 10:
        return n
    first, *rest = rows or [0]
    return squares, lookup, unique, lazy, nested, first, rest


def walrus_in_comprehension(data):
    return [y for x in data if (y := x * 2) > 3]


def global_and_assert(x):
    global COUNTER
    assert x, "x must be truthy"
    COUNTER = x
    del x


COUNTER = 0
