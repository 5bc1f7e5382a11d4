# A parenthesised decorator is not a node of its own: co_firstlineno is the line of the
# expression inside. 3.11 walks back to the '@' line; 3.13 starts at the inner line.
def deco(f):
    return f


@(
    deco
)
def grouped():
    return 1


@(
    lambda f: f
)
def grouped_lambda():
    return 2


@((
    deco))
def double_group():
    return 3


@(deco
  )
def same_line_group():
    return 4


class K:
    @(
        deco
    )
    def method(self):
        return 5

    def after(self):
        return 6
