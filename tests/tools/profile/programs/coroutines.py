# SPDX-License-Identifier: MIT
# Coroutines, send(), throw() and close() of generators, a generator expression
# (test_profile.py compares the ncalls of these with cProfile's).
import asyncio


async def leaf(i):
    await asyncio.sleep(0)
    return i


async def branch(n):
    total = 0
    for i in range(n):
        total += await leaf(i)
    return total


async def root():
    return sum(await asyncio.gather(branch(3), branch(4)))


def echo():
    received = 0
    try:
        while True:
            value = yield received
            received += value
    except KeyError:
        yield -1
    finally:
        pass


def drive():
    g = echo()
    next(g)
    g.send(1)
    g.send(2)
    g.throw(KeyError)
    g.close()
    return sum(x * x for x in range(5))


asyncio.run(root())
drive()
