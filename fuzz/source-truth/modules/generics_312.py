# min-python: 3.12
# PEP 695 type parameters and type aliases.

type Pairs[T] = list[tuple[T, T]]


def first[T](items: list[T]) -> T:
    return items[0]


class Stack[T]:
    def __init__(self) -> None:
        self.items: list[T] = []

    def push[U: T](self, item: U) -> None:
        self.items.append(item)
