# SPDX-License-Identifier: MIT
"""fib(N) timed in-process, best of R runs; prints ns per Python call."""
import sys
import time


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def calls(n):
    return 1 if n < 2 else 1 + calls(n - 1) + calls(n - 2)


n = int(sys.argv[1]) if len(sys.argv) > 1 else 25
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
best = float("inf")
for _ in range(runs):
    t0 = time.perf_counter()
    fib(n)
    best = min(best, time.perf_counter() - t0)
print(f"{best * 1e9 / calls(n):.1f}")
