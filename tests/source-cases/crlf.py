def f():
    return 1
    # comment


class C:
    def m(self):
        """doc
        more"""
        return 2


def last():
    pass
