# A UTF-8 BOM before the first line.


def after_bom():
    return "é"


class C:
    def m(self):
        pass
