from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple


def positional_only(a, b, /, c, *, d=1, **rest):
    return a, b, c, d, rest


def multi_line(
    first: int,
    second: str = "default, with a comma",
    *args: Any,
    third: Optional[Dict[str, Tuple[int, ...]]] = None,
    callback: Callable[[int], None] = lambda n: None,
    **kwargs: Any,
) -> Dict[
    str,
    Any,
]:
    return {"first": first}


def defaults_with_brackets(a=(1, 2), b=[3, 4], c={"k": (5,)}, d="):"):
    return a, b, c, d


def annotated(x: "int" = 1) -> "list[int]":
    return [x]


def hanging(a,
            b,
            c):
    return a + b + c


def colon_in_default(pairs={1: 2}, s=":") -> None: pass


class Typed:
    def method(
        self,
        value: int,
    ) -> "Typed":
        return self
