# Run with `-m mainmod` (its directory on PYTHONPATH): it runs as __main__ and calls a function
# of an imported module, whose frames carry that module's name.
import sys

import helper


def main():  # @def-main
    print("argv", sys.argv[1:])
    print("file", __file__ == sys.argv[0], __name__)
    return helper.double(21)  # @ret-main


print(main())  # @last
