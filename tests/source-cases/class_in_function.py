def factory(base):
    class Made(base):
        attr = 1

        def method(self):
            return self.attr

        class Inner:
            def deeper(self):
                return 2
    return Made


def generator():
    yield 1
    yield from range(3)
