# A bit of everything, for `python -m pytrace` against `pytrace-run` (test_sessions.py):
# methods, a generator, a caught exception, a thread, then an uncaught chained exception.
import threading


class Stock:
    def __init__(self, n):
        self.n = n

    def items(self):
        for i in range(self.n):
            yield i

    def take(self, i):
        if i == 2:
            raise KeyError(i)
        return i


def worker(out):
    out.append(sum(Stock(3).items()))


def main():
    s = Stock(3)
    got = []
    for i in s.items():
        try:
            got.append(s.take(i))
        except KeyError:
            got.append(None)
    out = []
    t = threading.Thread(target=worker, args=(out,))
    t.start()
    t.join()
    print(got, out)
    try:
        s.take(2)
    except KeyError as e:
        raise RuntimeError("out of stock") from e


main()
