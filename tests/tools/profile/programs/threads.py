# SPDX-License-Identifier: MIT
# Three threads call work() 50, 100 and 150 times (test_profile.py): 300 calls of work, three of
# worker, each thread its own root in the folded stacks.
import threading


def work(k):
    total = 0
    for i in range(k):
        total += i
    return total


def worker(n):
    for _ in range(n):
        work(100)


def main():
    threads = [threading.Thread(target=worker, args=(50 * (i + 1),)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


main()
