# C functions called from Python (--c-calls): a builtin, a method of a C type, functions of C
# modules, one that raises (math.sqrt(-1) -> ValueError, caught), and C functions that call back
# into Python (sorted with a key function, next on a generator).
import math
import time


def key(v):  # @def-key
    return -v  # @ret-key


def gen():  # @def-gen
    yield 1  # @yield-gen


def main():  # @def-main
    items = []
    items.append(len("abc"))
    time.sleep(0)
    try:
        math.sqrt(-1)  # @sqrt
    except ValueError:
        items.append(-1)
    items = sorted(items, key=key)
    items.append(next(gen()))
    return items  # @ret-main


print(main())  # @last
