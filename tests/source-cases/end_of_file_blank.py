def f():
    return 1



# comment at the end

    # indented comment at the very end



