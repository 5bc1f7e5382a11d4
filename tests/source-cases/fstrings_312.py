# min-python: 3.12
def nested_quotes(d):
    return f"{d["key"]} and {f"{d["other"]}"}"


def multiline_field(items):
    return f"""{
        ", ".join(items)  # a comment inside a replacement field
    }"""
    # after


def format_spec(x, width):
    return f"{x:>{width}} {x!r:{'^'}{width}} {{literal}} \N{BULLET}"


def backslash_in_field():
    return f"{'\n'.join(['a', 'b'])}"


def generic[T](x: T) -> T:
    return x


class Box[T]:
    def get[U](self, u: U) -> T:
        return self.value


type Alias = list[int]


def after_alias():
    return Alias
