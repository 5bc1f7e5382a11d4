def one(): return 1
def two(): return 2; pass
def three(x): return x if x else \
    None
class Small: value = 1
class WithMethods:
    def a(self): return "a"
    def b(self): return "b"
    # comment after b

def with_semicolons():
    a = 1; b = 2; return a + b
def docstring_oneliner(): "only a docstring"
if True: pass
def after_if(): return [
    1,
]
async def async_oneliner(): return None
