#!/usr/bin/env python
# -*- coding: latin-1 -*-
"""Latin-1 bytes: café, naïve, ©."""


def grüße(name="Jürgen"):
    return "Grüß Gott, " + name  # ½


class Café:
    def menü(self):
        return ["crêpe", "gâteau"]
