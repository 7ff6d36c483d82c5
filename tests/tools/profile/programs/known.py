# SPDX-License-Identifier: MIT
# Known call counts (test_profile.py): fib(15) 1973/1, f 1000, gen 11 (a call and ten
# resumes), boom and catch 1, Shape.area 2, lambda 3.
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def f(i):
    return i * 2


def loop():
    total = 0
    for i in range(1000):
        total += f(i)
    return total


def gen():
    for i in range(10):
        yield i


def consume():
    n = 0
    for _ in gen():
        n += 1
    return n


def boom():
    raise ValueError("boom")


def catch():
    try:
        boom()
    except ValueError:
        return True


class Shape:
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side * self.side


def main():
    fib(15)
    loop()
    consume()
    catch()
    s = Shape(3)
    s.area()
    s.area()
    square = lambda x: x * x  # noqa: E731
    for i in range(3):
        square(i)


main()
