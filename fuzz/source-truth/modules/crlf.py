"""CRLF line endings throughout."""


def first(a,
          b):
    return a + b


class Windows:
    def method(self):
        # comment
        return "\r\n in a string"


def last():
    pass
