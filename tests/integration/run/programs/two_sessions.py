# SPDX-License-Identifier: MIT
# Calls alpha() before and after a second session starts: in fast mode, the second session must
# still get alpha's definition (test_session.py).
import sys


def alpha(i):
    return i


def main():
    for i in range(50):
        alpha(i)
    print("first", flush=True)
    sys.stdin.readline()  # the second session was started
    for i in range(50):
        alpha(i)
    print("second", flush=True)


main()
