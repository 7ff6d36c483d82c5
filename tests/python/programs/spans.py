# Spans and marks on two threads, nested with the program's own calls (test_sessions.py).
import threading

import pytrace


def inner():
    return 1


def work(n):
    with pytrace.span("work", n=str(n), quote='say "hi"\n\\', uni="ü"):
        inner()
        pytrace.mark("tick", n=str(n))
    return n


@pytrace.span("decorated", kind="fn")
def deco():
    return inner()


work(1)
deco()
t = threading.Thread(target=work, args=(2,))
t.start()
t.join()
try:
    with pytrace.span("failing"):
        inner()
        raise ValueError("inside a span")
except ValueError:
    pass
print("done")
