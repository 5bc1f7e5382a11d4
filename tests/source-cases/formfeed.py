def f():
    return 1

def g():
    return 2
    # form feed then comment

class C:
    def m(self):
        return 3
    # comment after a form feed in the indentation

    def n(self):
        return 4
