# -*- coding: latin-1 -*-
def f(x):
    return "é"
