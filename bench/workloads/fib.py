# SPDX-License-Identifier: MIT
"""Recursive fib(n): the smallest possible Python function, called fib_calls(n) times."""
import benchlib


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def make(size):
    def work():
        fib(size)

    return work


if __name__ == "__main__":
    benchlib.main(make, "fib", default_size=27, quick_size=22)
