# An exception nobody catches: traceback on stderr, exit status 1.
def fail(x):  # @def-fail
    raise RuntimeError(f"boom {x}")  # @raise-fail


def main():  # @def-main
    print("started")
    fail(42)  # @call-fail


main()  # @last
