import functools


class P:
    @property
    def x(self):
        return self._x

    @x.setter
    def x(self, value):
        self._x = value

    @x.deleter
    def x(self):
        del self._x

    @staticmethod
    def s():
        return 1

    @classmethod
    def c(cls):
        return cls

    @functools.cached_property
    def cached(self):
        return 2


def wrapper(f):
    @functools.wraps(f)
    def inner(*a, **k):
        return f(*a, **k)
    return inner
