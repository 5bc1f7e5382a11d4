# min-python: 3.12
# PEP 701 f-strings: nested quotes, multi-line fields, comments inside fields.


def same_quotes(user):
    return f"{user["name"]} has {len(user["roles"])} roles"


def multiline_field(items):
    return f"total: {
        sum(
            x for x in items  # a comment inside the field
        )
    }"


def nested_deeply(a, b):
    return f"{f"{f"{a}"}"}-{b:{">" if b else "<"}10}"


def after_fstrings():
    return "def inside_a_string(): pass"
