# -*- coding: latin-1 -*-
def café():
    return "café © µ"  # à la
    # üñîçødé


def plain():
    return "ÿ"
