# SPDX-License-Identifier: MIT
"""TOTAL Python calls (default 10 million) in 10 equal chunks; after each chunk, this process's
VmRSS from /proc/self/status. Each iteration makes 5 calls: a function, a method, a nested
function, a property and a generator resume. Output: one line "MEM-RESULT " + JSON."""
import json
import sys

CALLS_PER_ITERATION = 5


class Counter:
    def __init__(self):
        self.n = 0

    def bump(self, i):
        self.n += leaf(i)
        return self.n

    @property
    def value(self):
        return self.n


def leaf(i):
    return i & 1


def step(c, g, i):
    c.bump(i)
    next(g)
    return c.value


def ticker():
    i = 0
    while True:
        yield i
        i += 1


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    per_chunk = total // 10 // CALLS_PER_ITERATION
    c, g = Counter(), ticker()
    next(g)
    samples = []
    for _ in range(10):
        for i in range(per_chunk):
            step(c, g, i)
        samples.append(rss_kib())
    print("MEM-RESULT " + json.dumps({"calls": per_chunk * 10 * CALLS_PER_ITERATION,
                                      "rss_kib": samples}), flush=True)


main()
