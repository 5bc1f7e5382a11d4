# Lambdas assigned to names, in defaults, in calls and across lines.
import functools

square = lambda x: x * x
add = lambda a, b=1: a + b
nothing = lambda: None
compose = lambda f, g: (
    lambda x: f(g(x))
)
table = {
    "inc": lambda n: n + 1,
    "dec": lambda n: n - 1,
}


def with_default(key=lambda item: item[0]):
    return key


def sorter(items):
    return sorted(items, key=lambda i: (i.priority,
                                        i.name))


class Handlers:
    on_error = staticmethod(lambda e: print(e))

    def handle(self, fn=lambda: 0):
        return fn()


reducer = functools.partial(functools.reduce, lambda acc, x: acc + x)
my_lambda = 3; other = lambda: my_lambda
