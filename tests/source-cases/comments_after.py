def f():
    return 1
    # at body indent: included


def g():
    return 2
# at column 0: skipped but does not end the block
    # deeper again: included
        # deeper still: included

def h():
    return 3
  # between: not at body indent, skipped


class C:
    def m(self):
        return 4
        # inside method
    # at method level: not included in m

    def n(self):
        if True:
            pass
            # deep comment after nested block
        # at body level


def blank_lines_then_comment():
    x = 1


    # after two blank lines
z = 1


def comment_before_body():
# comment at column 0 before the body
    return 5
