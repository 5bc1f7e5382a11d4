import sys

try:
    from json import loads as parse
except ImportError:  # pragma: no cover
    def parse(text):
        raise NotImplementedError

if sys.version_info >= (3, 0):
    def platform_name():
        return "py3"
else:
    def platform_name():
        return "py2"


def redefined():
    return "first"


def redefined():
    return "second"


for _name in ("a", "b"):
    def looped():
        return _name


while False:
    def never():
        pass


with open(__file__) as _f:
    def inside_with():
        return _f.name


class Config:
    if True:
        def chosen(self):
            return 1
    else:
        def chosen(self):
            return 2

    try:
        def guarded(self):
            return 3
    finally:
        pass
