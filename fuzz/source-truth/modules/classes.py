"""Classes with methods, dataclasses, properties and special methods."""
from dataclasses import dataclass, field
from typing import List


@dataclass
class Point:
    x: float
    y: float = 0.0
    tags: List[str] = field(default_factory=list)

    def norm(self) -> float:
        return (self.x ** 2 + self.y ** 2) ** 0.5

    def __add__(self, other: "Point") -> "Point":
        return Point(self.x + other.x,
                     self.y + other.y)


class Account(object):
    """A docstring with def inside:
def not_a_function():
    pass
"""
    rate = 0.01

    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance

    def __repr__(self):
        return f"Account({self.owner!r}, {self.balance})"

    @property
    def interest(self):
        return self.balance * self.rate

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("positive amounts only")
        self.balance += amount
        return self.balance

    def withdraw(self, amount):
        self.balance -= amount; return self.balance

    class History:
        entries = []

        def add(self, entry): self.entries.append(entry)

        def last(self):
            return self.entries[-1] if self.entries else None


class Empty:
    pass


class Meta(type):
    def __new__(mcs, name, bases, ns):
        return super().__new__(mcs, name, bases, ns)


class WithMeta(metaclass=Meta):
    def method(self):
        return type(self)


class Point3(Point):
    def norm(self):
        # overrides with a different body
        return super().norm()
