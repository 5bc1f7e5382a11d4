# min-python: 3.10
def handle(command):
    match command.split():
        case [action]:
            return action
        case [action, obj]:
            return action, obj
        case _:
            pass
    # after match


def match_as_name():
    match = 1
    case = 2
    return match + case
