# SPDX-License-Identifier: MIT
"""A tiny program whose trace shows which events a mode writes (benchtools.probe_fast_mode)."""


def leaf(i):
    return i + 1


def gen(n):
    for i in range(n):
        yield leaf(i)


total = sum(gen(50))
