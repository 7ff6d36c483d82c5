# SPDX-License-Identifier: MIT
# Waits on stdin while a session starts, stops and starts again (test_profile.py): each line
# is one call of step(); the frames of <module> and outer are open all along.
import sys


def step():
    return sum(range(1000))


def outer():
    for line in sys.stdin:
        if line.strip() == "end":
            break
        step()
        print("done", flush=True)


outer()
