# -*- coding: utf-8 -*-
@staticmethod
def f():
    return "bom and cookie"
