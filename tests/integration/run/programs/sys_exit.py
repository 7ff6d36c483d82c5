# sys.exit(3) from inside a function: SystemExit propagates out of the program, status 3.
import sys


def main():  # @def-main
    print("exiting")
    sys.exit(3)  # @exit


main()  # @last
