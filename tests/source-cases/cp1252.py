#!/usr/bin/env python
# vim: set fileencoding=cp1252 :
def quotes():
    return "“quoted” € …"


class K:
    def m(self):
        # – dash
        return "™"
