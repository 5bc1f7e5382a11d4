@staticmethod  # a comment on the decorator line
def decorated_with_comment():
    return 1


def one_liner_continued(): \
    return 2


def whitespace_only_lines():
    x = 1
        
    
    return x
    


def backslash_line_in_body():
    x = 1
    \
y = 2


def prefixes():
    return U"u", BR"br", Rb'rb', F"{1}", rB"x"


class Decorated:
    pass


@Decorated
class WithMethods:
    @classmethod
    def method(cls): return cls


if __name__ == "__main__":
    def main():
        return 3
