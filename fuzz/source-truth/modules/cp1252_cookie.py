# vim: set fileencoding=cp1252 :
"""Windows-1252: “smart quotes”, €, — dash."""


def price(amount):
    return f"€{amount:.2f}"  # ‘quoted’


def dashes():
    return "—–"
