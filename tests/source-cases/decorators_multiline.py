"""Decorators in many shapes: co_firstlineno is the first decorator's line."""
import functools


def deco(*args, **kwargs):
    return lambda f: f


@deco
def plain():
    return 1


@deco(
    1,
    key="value",  # a comment inside the arguments
)
def args_over_lines():
    return 2


@deco
# a comment between decorators
@deco(3)

@functools.lru_cache(maxsize=None)
def stacked():
    return 3


@deco(1)(2)
def call_chain():
    return 4


@deco.__call__
def attribute():
    return 5


@deco(lambda x: x)
def lambda_argument():
    return 6


@deco(1)(lambda: 0)
def lambda_after_call():
    # 3.9's BlockFinder ends the decorator at the first ')' and then takes the lambda
    # for the start of the block.
    return 7


@deco(
    [
        1,
        2,
    ]
)
# comment between the decorator and the def
def nested_brackets():
    return 8


class Holder:
    @deco(
        "x",
    )
    def method(self):
        return 9

    @staticmethod
    @deco
    def static():
        return 10
