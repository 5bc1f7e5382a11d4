import asyncio
import contextlib


async def fetch(url, *, timeout=10):
    await asyncio.sleep(0)
    return url


async def gather_all(urls):
    results = await asyncio.gather(*(fetch(u) for u in urls))
    return [r async for r in aiter_list(results)]


async def aiter_list(items):
    for item in items:
        yield item


@contextlib.asynccontextmanager
async def session():
    try:
        yield "session"
    finally:
        await asyncio.sleep(0)


class Client:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    async def stream(self):
        async with session() as s:
            async for item in aiter_list([s]):
                yield item

    def sync_helper(self):
        async def inner():
            return 1
        return inner


async  def two_spaces_after_async():
    return None


async def \
continued_async():
    pass
