def after_form_feed():
    return 1


class C:
    
    def m(self):
        return 2
