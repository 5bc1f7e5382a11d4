# 3.9 to 3.12 walk back into the string below and tokenize from 'def fake' to the end of
# the file: tokenize raises 'EOF in multi-line string', and so does inspect.getsource.
DOC = """
def fake
"""
def\
real(): pass
