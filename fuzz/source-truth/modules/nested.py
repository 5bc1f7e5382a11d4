# Nested functions, closures and classes inside functions.


def outer(a):
    def middle(b):
        def inner(c):
            return a + b + c
        return inner

    class Local:
        def method(self):
            def deepest():
                return self
            return deepest()

        class Deeper:
            def leaf(self):
                pass

    counter = 0

    def bump():
        nonlocal counter
        counter += 1
        return counter

    return middle, Local, bump


def factory():
    handlers = {}

    def register(name):
        def deco(fn):
            handlers[name] = fn
            return fn
        return deco

    @register("a")
    def handle_a(event):
        return event

    @register(
        "b"
    )
    def handle_b(event):
        return [event,
                event]

    return handlers


class Outer:
    class Inner:
        def method(self):
            def helper():
                return 1
            return helper()

    def uses_inner(self):
        return self.Inner().method()


def generator_with_nested():
    def pred(x):
        return x % 2
    yield from (x for x in range(10) if pred(x))
