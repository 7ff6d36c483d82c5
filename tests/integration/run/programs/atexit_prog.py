# An atexit handler runs after the main module returned and before the interpreter is detached.
import atexit


def bye():  # @def-bye
    print("bye")  # @ret-bye


def main():  # @def-main
    atexit.register(bye)
    print("main")  # @ret-main


main()  # @last
