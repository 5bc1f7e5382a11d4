from __future__ import annotations

import enum
from typing import Generic, NamedTuple, Protocol, TypeVar, overload

T = TypeVar("T")


class Color(enum.Enum):
    RED = 1
    GREEN = 2

    def describe(self) -> str:
        return self.name.lower()

    @classmethod
    def default(cls) -> Color:
        return cls.RED


class Pair(NamedTuple):
    left: int
    right: int

    def swap(self) -> Pair:
        return Pair(self.right, self.left)


class Box(Generic[T]):
    def __init__(self, item: T) -> None:
        self.item = item

    def get(self) -> T:
        return self.item


class SupportsClose(Protocol):
    def close(self) -> None: ...


@overload
def double(x: int) -> int: ...
@overload
def double(x: str) -> str: ...
def double(x):
    return x * 2


def union_annotations(a: int | None = None, b: list[dict[str, int]] | None = None) -> tuple[int, ...]:
    return (a or 0,)
