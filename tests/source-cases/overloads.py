from typing import overload


class O:
    @overload
    def get(self, x: int) -> int: ...
    @overload
    def get(self, x: str) -> str: ...
    def get(self, x):
        return x


@overload
def top(x: int) -> int: ...


@overload
def top(x: str) -> str:
    ...


def top(x):
    return x
