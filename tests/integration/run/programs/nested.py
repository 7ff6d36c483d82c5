# Nested functions, closures, lambdas and comprehensions (3.11: each comprehension is a frame).
def outer(n):  # @def-outer
    def inner(x):  # @def-inner
        return x + n  # @ret-inner
    return inner(1)  # @ret-outer


def make_adder(n):  # @def-make_adder
    return lambda x: x + n  # @def-adder-lambda @ret-adder-lambda @ret-make_adder


sq = lambda x: x * x  # @def-sq @ret-sq


def comps(xs):  # @def-comps
    lst = [x * 2 for x in xs]  # @listcomp
    st = {x % 2 for x in xs}  # @setcomp
    dct = {x: -x for x in xs}  # @dictcomp
    return lst, st, dct  # @ret-comps


def main():  # @def-main
    a = outer(10)
    b = make_adder(5)(1)
    c = sq(3)
    d = comps([1, 2])
    e = [sq(v) for v in range(2)]  # @main-listcomp
    return a, b, c, d, e  # @ret-main


top = [i for i in range(1)]  # @top-listcomp
print(main())  # @last
