class A:
    @staticmethod
    def g(
        a, b=(1,
        2)):
        async def h(): pass
        return lambda: f"{a!r:>{b}}"
