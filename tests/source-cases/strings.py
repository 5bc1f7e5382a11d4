def docstring_with_code():
    """Looks like code:

def fake():
    pass
class Fake:
# not a comment
    """
    return 1


def ends_with_string():
    return """
text at column 0
"""


def ends_with_string_then_comment():
    x = '''a
b'''
    # comment
    return x


def quotes():
    a = 'it\'s'
    b = "say \"hi\""
    c = r'raw \' quote'
    d = b"bytes # not a comment"
    e = 'a' "b" '''c''' """d"""
    f = f"{a!r:>10} {b}"
    g = rb'\d+' + Rb"\w"
    h = 'single \
continued'
    return a, b, c, d, e, f, g, h


def only_docstring():
    """Just a docstring."""


def ellipsis(): ...
