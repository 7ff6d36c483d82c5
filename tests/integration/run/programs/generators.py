# Generators driven by next(), send(), throw(), close(), a for loop, `yield from` and a
# generator expression. Every generator is run to its end or closed explicitly, so that no
# close happens behind the program's back when one is garbage collected.
def counter(n):  # @def-counter
    i = 0
    while i < n:
        got = yield i  # @yield-counter
        i = i + 1 if got is None else got
    return "done"  # @ret-counter


def drive_next():  # @def-drive_next
    g = counter(2)
    out = [next(g), next(g)]
    try:
        next(g)  # @stop-next
    except StopIteration as e:
        out.append(e.value)
    return out  # @ret-drive_next


def drive_send():  # @def-drive_send
    g = counter(10)
    first = next(g)
    second = g.send(7)
    third = g.send(9)
    g.close()
    return first, second, third  # @ret-drive_send


def catcher():  # @def-catcher
    try:
        yield 1  # @yield1-catcher
    except KeyError:
        pass
    yield 2  # @yield2-catcher
    return 3


def drive_throw():  # @def-drive_throw
    g = catcher()
    a = next(g)
    b = g.throw(KeyError)
    try:
        g.throw(ValueError)  # @throw-value
    except ValueError:
        pass
    return a, b  # @ret-drive_throw


def drive_close_unstarted():  # @def-drive_close_unstarted
    g = counter(1)
    g.close()
    return 0  # @ret-drive_close_unstarted


def sub():  # @def-sub
    yield "s1"  # @yield1-sub
    yield "s2"  # @yield2-sub
    return "sub-done"  # @ret-sub


def delegator():  # @def-delegator
    r = yield from sub()  # @yield-from
    yield r  # @yield-r


def drive_for():  # @def-drive_for
    out = []
    for v in delegator():  # @for-drive_for
        out.append(v)
    return out  # @ret-drive_for


def drive_genexpr():  # @def-drive_genexpr
    return sum(x * x for x in range(3))  # @genexpr


def main():  # @def-main
    r = [drive_next(), drive_send(), drive_throw(), drive_close_unstarted()]
    r += [drive_for(), drive_genexpr()]
    return r  # @ret-main


print(main())  # @last
