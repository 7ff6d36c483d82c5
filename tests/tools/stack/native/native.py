# SPDX-License-Identifier: MIT
# test_native.py's program: Python calls a C extension (nativedemo, -finstrument-functions)
# whose functions call each other.
import nativedemo


def caller(n):
    return nativedemo.compute(n)


print(caller(4))
