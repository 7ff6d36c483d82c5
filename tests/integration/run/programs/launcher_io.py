# Shows what a program can see of how it was launched, writes to both streams, then ends as its
# first argument says: normally, sys.exit(3), sys.exit("message"), or a chained uncaught error.
import sys


class LaunchError(Exception):
    pass


def parse(value):
    return int(value)


def fail(value):
    try:
        parse(value)
    except ValueError as e:
        raise LaunchError(f"cannot parse {value!r}") from e


def main(mode):
    print("argv", sys.argv)
    print("file", __file__, "name", __name__)
    print("flags", sys.flags)
    print("path0", sys.path[0])
    print("to stderr", mode, file=sys.stderr)
    if mode == "exit3":
        sys.exit(3)
    if mode == "exitmsg":
        sys.exit("fatal: message")
    if mode == "raise":
        fail("x")
    return 0


main(sys.argv[1] if len(sys.argv) > 1 else "")
print("end")
