import sys

if sys.version_info >= (3, 10):
    def which():
        return "new"
else:
    def which():
        return "old"

try:
    def attempt():
        return 1
except ImportError:
    def attempt():
        return 2
finally:
    def cleanup():
        return 3

with open(__file__) as fh:
    def in_with():
        return 4

for _i in range(1):
    def in_for():
        return 5

while False:
    def in_while():
        return 6


def redefined():
    return 1


def redefined():
    return 2


class R:
    def m(self):
        return 1

    def m(self):
        return 2
