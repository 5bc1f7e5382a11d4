# Definitions with the same qualname are told apart by the line the caller gives.
def twice():
    return "first"


def twice():
    return "second"


if True:
    def twice():
        return "third"
