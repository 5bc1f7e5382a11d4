def header_continued(a, \
                     b):
    return a + b


def body_ends_with_continuation():
    x = 1 + \
        2
    return x + \
3


def\
no_space_after_def():
    return 1


async\
 def async_continued():
    return 2


def last_line_continued():
    return [1,
2,
    3]
# trailing comment at column 0
    # indented trailing comment


y = 1
