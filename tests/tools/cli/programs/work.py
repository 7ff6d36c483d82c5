# SPDX-License-Identifier: MIT
# What tests/tools/cli records: known calls, its argv and stdin echoed, an exit status chosen by
# its first argument ("raise": an uncaught exception; "kill": SIGKILL; "term": SIGTERM).
import os
import signal
import sys


def square(n):
    return n * n


def total(n):
    return sum(square(i) for i in range(n))


class Box:
    def size(self):
        return total(3)


def main():
    print("argv", sys.argv[1:])
    print("total", Box().size())
    if "--stdin" in sys.argv:
        print("stdin", sys.stdin.read().strip())
    what = sys.argv[1] if len(sys.argv) > 1 else "0"
    sys.stdout.flush()
    if what == "raise":
        raise ValueError("on purpose")
    if what == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if what == "term":
        os.kill(os.getpid(), signal.SIGTERM)
    return int(what)


if __name__ == "__main__":
    sys.exit(main())
