def f(): a = 1; b = 2; return a + b
def g():
    a = 1; b = 2
    return a; 


x = 1; y = 2
def h(): pass;
