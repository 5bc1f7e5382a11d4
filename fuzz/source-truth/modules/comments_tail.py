# Trailing comments and blank lines decide where a block ends.


def trailing_comment_at_body_depth():
    x = 1
    # part of the function


def trailing_comment_deeper():
    if True:
        y = 2
            # deeper than the body: still part of it

# at column zero: not part of it, but does not end it either
    # back at body depth after a column-zero comment


def comment_left_of_body():
    return 3
  # two spaces: left of the body, skipped

def blank_lines_then_comment():
    pass



    # three blank lines later


def nested_comment_levels():
    def inner():
        return 4
        # inner's trailing comment
    # outer's trailing comment
    return inner


class Holder:
    def method(self):
        return 5
        # method tail

    # class-level comment between methods

    def other(self):
        return 6
# the end of the file, at column zero
