# Backslash continuations and implicit joins.


def backslash_body(a, b):
    total = a + \
        b
    if total > 10 and \
       total < 20:
        return total
    return 0


def \
split_name(x):
    return x


def bracket_body():
    return [
        1, 2,
        3,
    ], {
        "k": "v",
    }


def closing_bracket_at_column_zero():
    values = (
        1,
        2,
)
    return values


def dict_at_column_zero():
    return {
"a": 1,
"b": 2,
}


x = 1 + \
    2


def after_module_continuation():
    return x
