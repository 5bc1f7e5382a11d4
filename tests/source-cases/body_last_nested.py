def outer():
    x = 1

    def inner():
        return x
        # comment in inner
    # comment in outer after inner


def outer2():
    class Inner:
        def m(self):
            pass
            # deepest


def outer3():
    if x:
        y = 1
    else:
        y = 2
    # after else
    return y
