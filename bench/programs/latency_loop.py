# SPDX-License-Identifier: MIT
"""Writes CLOCK_MONOTONIC (ns) at its start to the file argv[1], then calls a tiny function in a
loop for argv[2] seconds (default 20): a program a session is started on while it runs."""
import sys
import time


def tiny(i):
    return i + 1


def main():
    start = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    with open(sys.argv[1], "w") as f:
        f.write(f"{start}\n")
    end = start + int(float(sys.argv[2] if len(sys.argv) > 2 else 20) * 1e9)
    i = 0
    while True:
        for _ in range(1000):
            i = tiny(i)
        if time.clock_gettime_ns(time.CLOCK_MONOTONIC) > end:
            break


main()
