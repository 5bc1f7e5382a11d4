"""Decorators of every shape: plain, called, stacked, multi-line, with comments between."""
import functools


def traced(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


def retry(times=3, *, delay=0.0):
    def decorate(fn):
        @functools.wraps(fn)
        def again(*args, **kwargs):
            for attempt in range(times):
                try:
                    return fn(*args, **kwargs)
                except ValueError:
                    if attempt == times - 1:
                        raise
        return again
    return decorate


@traced
def plain():
    return 1


@retry(
    times=5,
    delay=0.5,
)
def multi_line_call():
    return "called"


@traced
# a comment between the decorators
@retry(times=2)

def stacked_with_blank_line():
    x = [
        1,
        2,
    ]
    return x


@functools.lru_cache(maxsize=None)
def cached(n):  # def in a trailing comment
    if n < 2:
        return n
    return cached(n - 1) + cached(n - 2)


@(lambda f: f)
def expression_decorator():
    pass


class Service:
    @staticmethod
    def make():
        return Service()

    @classmethod
    @functools.lru_cache()
    def shared(cls):
        return cls()

    @property
    def name(self):
        return "svc"

    @name.setter
    def name(self, value):
        self._name = value

    @traced
    def run(self, *jobs):
        for job in jobs:
            job()
        # trailing comment at body depth


        # another one, after blank lines
    # a comment at class depth ends nothing


@traced
class Decorated:
    def method(self): return 42
