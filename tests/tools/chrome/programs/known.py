# SPDX-License-Identifier: MIT
# A program whose calls test_chrome.py knows (COUNTS there): nested calls, a generator, an
# exception raised and caught, a thread, spans, a mark and a logging record.
import logging
import threading

import pytrace

log = logging.getLogger("known")
log.addHandler(logging.NullHandler())  # nothing on stderr


def leaf(x):
    return x + 1


def middle(n):
    total = 0
    for i in range(n):
        total += leaf(i)
    return total


def top():
    return middle(3) + middle(2)


def gen(n):
    for i in range(n):
        yield leaf(i)


def fails():
    raise ValueError("known")


def catches():
    try:
        fails()
    except ValueError:
        return "caught"


def worker():
    with pytrace.span("work", kind="thread"):
        top()


top()
list(gen(3))
catches()
with pytrace.span("outer", user="ann", quote='say "hi"\n\\', uni="\u00fc"):
    top()
    pytrace.mark("tick", n="1")
log.warning("hello %s", "log")
t = threading.Thread(target=worker, name="w")
t.start()
t.join()
print("done")
