"""Module docstring mentioning def f(): and class C: at column zero
def looks_like_a_def():
    pass
"""

TEMPLATE = '''
def template_function():
    return "inside a string"
'''

RAW = r"def \( not code"
BYTES = b"def"


def real_function():
    text = """
def fake_inside():
  pass
"""
    return text


def after_strings():
    s = 'def x(): pass'  # def in a comment
    t = "lambda: 1"
    u = f"{s!r} def {t}"
    return s + t + u


def escaped_quotes():
    a = 'it\'s'
    b = "say \"def\""
    c = '''triple with ''' + """ and """
    return a, b, c


def string_continued():
    long = "first part " \
           "second part"
    return long


def docstring_only():
    """Just a docstring, no body.

    def nested_in_docstring():
        pass
    """


def ends_with_string():
    return '''
ends here'''
