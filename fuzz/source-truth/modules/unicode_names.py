# -*- coding: utf-8 -*-
"""Non-ASCII identifiers and strings: été, 日本, 🚀."""


def café(crème="brûlée"):
    return crème


def 計算(値):
    # コメント: a comment in Japanese
    return 値 * 2


class Élève:
    def âge(self):
        return "âge 🚀"


def emoji_strings():
    return ["😀", "é", "​"]  # zero-width space in a string
