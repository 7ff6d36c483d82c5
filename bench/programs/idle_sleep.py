# SPDX-License-Identifier: MIT
"""An idle program: for SECONDS (default 12), sleep 50 ms, then make a few calls."""
import sys
import time


def tick(i):
    return i + 1


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 12.0
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        time.sleep(0.05)
        i = tick(i)


main()
