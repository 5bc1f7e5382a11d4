class A:
    class B:
        class C:
            def deep(self):
                return 1

        def b_method(self):
            def local():
                class Local:
                    def m(self):
                        return 2
                return Local
            return local

    def a_method(self):
        return 3


def outer():
    def middle():
        def inner():
            return 4
        return inner
    class InFunction:
        def method(self):
            def closure():
                return 5
            return closure

        @property
        def prop(self):
            return 6
    return middle, InFunction


def __dunder__():
    class __Private:
        def __mangled(self):
            return 7
    return __Private
