import asyncio


async def coro():
    await asyncio.sleep(0)


async  def two_spaces():
    return 1


async def agen():
    yield 1
    async for x in agen():
        pass
    async with x:
        pass


class A:
    async def method(self):
        return await coro()

    @staticmethod
    async def static():
        pass


def outer():
    async def inner():
        pass
    return inner
