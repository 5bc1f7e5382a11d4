def f(): return 1
def g(): pass  # trailing comment
def h(): x = 1; return x
    # indented comment after a one-liner is not part of it


class A: pass


class B:
    def m(self): return 1
    def n(self): return 2
    # comment

    def o(self): return 3
def after(): return 4


def returns_lambda(): return lambda: 0
