# Recursion: fib(4) calls fib 9 times; each call returns from one of two lines.
def fib(n):  # @def-fib
    if n < 2:
        return n  # @ret-base
    return fib(n - 1) + fib(n - 2)  # @ret-rec


print(fib(4))  # @last
