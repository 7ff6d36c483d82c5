# asyncio coroutines: main awaits leaf twice; each leaf suspends once in asyncio.sleep(0),
# so each of the program's coroutines yields to the event loop and is resumed.
import asyncio


async def leaf(x):  # @def-leaf
    await asyncio.sleep(0)  # @await-leaf
    return x * 2  # @ret-leaf


async def main():  # @def-main
    a = await leaf(1)  # @await1-main
    b = await leaf(2)  # @await2-main
    return a + b  # @ret-main


print(asyncio.run(main()))  # @last
