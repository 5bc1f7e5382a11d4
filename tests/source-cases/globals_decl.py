def outer():
    global helper

    def helper():
        return 1

    def local():
        return 2
    return local


class K:
    global module_level

    def module_level(self):
        return 3

    def method(self):
        return 4


def many():
    global a, b; x = 1
    def a(): pass
    def b(): pass
    def c(): pass
