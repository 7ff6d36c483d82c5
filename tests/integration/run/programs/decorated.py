# A functools.wraps decorator (wrapper frame around the wrapped one) and functools.lru_cache
# (a C wrapper: a cache hit runs no Python frame at all).
import functools


def deco(fn):  # @def-deco
    @functools.wraps(fn)  # @def-wrapper
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)  # @ret-wrapper
    return wrapper  # @ret-deco


@deco  # @def-add
def add(a, b):
    return a + b  # @ret-add


@functools.lru_cache(maxsize=None)  # @def-square
def square(x):
    return x * x  # @ret-square


def main():  # @def-main
    r = [add(1, 2), square(3), square(3), square(4)]
    assert add.__qualname__ == "add" and add.__wrapped__.__qualname__ == "add"
    return r  # @ret-main


print(main())  # @last
