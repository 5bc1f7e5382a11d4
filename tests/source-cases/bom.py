def f():
    return "bom"


def g():
    return 2
