# SPDX-License-Identifier: MIT
# C calls for test_stack.py (pytrace-run --c-calls): builtins called from Python frames.
def count(xs):
    return len(xs)


def main():
    xs = []
    xs.append(1)
    print(count(xs), abs(-2))


main()
