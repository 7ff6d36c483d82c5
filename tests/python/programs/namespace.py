# What a script sees of its own module and of how it was started; ends as argv[1] says.
import pickle
import sys


class Point:
    pass


print("globals", sorted(globals()))
print("name", __name__, "file", __file__, "cached", __cached__, "spec", __spec__)
print("package", __package__, "loader", type(__loader__).__name__, __loader__.name)
print("builtins", type(__builtins__).__name__, "doc", __doc__)
print("argv", sys.argv, "path0", sys.path[0])
print("main is me", sys.modules["__main__"].__dict__ is globals())
print("pickle", type(pickle.loads(pickle.dumps(Point()))).__qualname__)
mode = sys.argv[1] if len(sys.argv) > 1 else ""
if mode == "kbi":
    raise KeyboardInterrupt
if mode == "hook":
    def hook(t, v, tb):
        n = 0
        while tb:
            n, tb = n + 1, tb.tb_next
        print("own hook", t.__name__, v, "frames", n, file=sys.stderr)
    sys.excepthook = hook
    raise RuntimeError("to the program's hook")
if mode == "atexit":
    import atexit
    atexit.register(print, "atexit handler ran")
    raise ValueError("after atexit registration")
if mode == "none-exit":
    raise SystemExit(None)
