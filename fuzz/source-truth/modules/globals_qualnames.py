# `global` changes the qualname a nested def gets.


def declares_global():
    global helper

    def helper():
        return "module-level qualname"

    def local_one():
        return "local"

    return local_one


class Registry:
    global registered

    def registered(self):
        return self

    def normal(self):
        global late, other

        def late():
            pass

        def other():
            pass

        def kept_local():
            pass

        return kept_local


def semicolon_global():
    x = 1; global semi
    def semi():
        return x
