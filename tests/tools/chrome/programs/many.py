# SPDX-License-Identifier: MIT
# N calls of one function (argv[1]): the large traces of test_chrome.py's constant-memory check.
import sys


def f(i):
    return i


def loop(n):
    for i in range(n):
        f(i)


loop(int(sys.argv[1]))
print("done")
