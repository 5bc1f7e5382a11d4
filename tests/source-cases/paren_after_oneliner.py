# 3.9's BlockFinder checks '(' and ')' before anything else, so a line of only brackets
# after a one-line def does not end the block there: its NEWLINE extends it.
def f(): pass
()
x = 1


def g(): return 1
(
)
# comment
y = 2


class K:
    def m(self): pass
    ()
    z = 3
