# min-python: 3.10
# Structural pattern matching: `match` and `case` are soft keywords.


def classify(command):
    match command.split():
        case ["go", direction]:
            return f"going {direction}"
        case ["look"]:
            return "looking"
        case [("quit" | "exit")]:
            return "bye"
        case _:
            return "unknown"


def match_as_a_name(match, case=None):
    match = match or case
    return match


class Shape:
    def area(self, shape):
        match shape:
            case {"kind": "square", "side": s}:
                return s * s
            case {"kind": "circle",
                  "r": r}:
                return 3.14159 * r * r
        # after the match
        return 0
