# SPDX-License-Identifier: MIT
"""Generators and asyncio: nested generators chained with `yield from`, a generator pipeline, and
an event loop running tasks whose coroutines await each other, asyncio.sleep(0) (a real
suspension), a queue and an async generator. Every resume is a call for a tracer (entry of kind
resume) and every suspension a return (yield). size = items per stage."""
import asyncio

import benchlib


def leaf(n):
    for i in range(n):
        yield i


def middle(n):
    yield from leaf(n)
    yield from leaf(n)


def top(n):
    for _ in range(2):
        yield from middle(n)


def squares(it):
    for v in it:
        yield v * v


def generators(n):
    return sum(squares(top(n)))


async def compute(i):
    return i + 1


async def fetch(i):
    await asyncio.sleep(0)
    return await compute(i) * 2


async def ticks(n):
    for i in range(n):
        yield i
        if i % 8 == 0:
            await asyncio.sleep(0)


async def worker(items, queue):
    total = 0
    for i in range(items):
        total += await fetch(i)
        total += await compute(i)
    async for t in ticks(items):
        total += t
    await queue.put(total)
    return total


async def main(tasks, items):
    queue = asyncio.Queue()
    done = await asyncio.gather(*(asyncio.create_task(worker(items, queue)) for _ in range(tasks)))
    while not queue.empty():
        await queue.get()
    return sum(done)


def make(size):
    loop = asyncio.new_event_loop()

    def work():
        generators(size * 8)
        return loop.run_until_complete(main(8, size // 8))

    return work


if __name__ == "__main__":
    benchlib.main(make, "gen_async", default_size=8000, quick_size=800)
