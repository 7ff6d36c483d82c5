# SPDX-License-Identifier: MIT
# What test_stack.py views: nested calls, a generator, a caught exception, a thread, a span and
# a mark, logging records. Every call happens in a fixed order (the thread is joined before the
# main thread goes on), so the view is the same at every run.
import logging
import threading

import pytrace

log = logging.getLogger("shop")


class Empty(Exception):
    pass


def leaf(n):
    return n + 1


def middle(n):
    return leaf(n) * 2


def numbers(k):
    for i in range(k):
        yield i


def fails():
    raise Empty("nothing")


def guarded():
    try:
        fails()
    except Empty:
        log.warning("empty shelf")


def worker():
    middle(7)


def main():
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("start")
    middle(1)
    total = 0
    for v in numbers(2):
        total += v
    guarded()
    with pytrace.span("batch", size="2"):
        leaf(3)
        pytrace.mark("half", n="1")
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    print("total", total)


main()
