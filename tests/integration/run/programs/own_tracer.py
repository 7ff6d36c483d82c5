# A program with its own trace function (as pdb or coverage install): it must see what it sees
# without pytrace, and pytrace keeps calls and returns complete.
import sys

seen = []


def tracer(frame, event, arg):
    if frame.f_code.co_name in ("fail", "main"):
        seen.append((frame.f_code.co_name, event))
    return tracer


def fail():  # @def-fail
    raise KeyError("k")  # @raise-fail


def main():  # @def-main
    sys.settrace(tracer)
    try:
        fail()  # @call-fail
    except KeyError:
        pass
    sys.settrace(None)
    return len(seen)  # @ret-main


print(main(), seen)  # @last
