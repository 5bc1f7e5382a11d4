# Form feeds between sections, as in some stdlib modules.


def before_feed():
    return 1


def after_feed():
    return 2


class Paged:
    def page(self):
        return 3
