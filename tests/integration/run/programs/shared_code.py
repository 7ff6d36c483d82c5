# The same code object executed in two module namespaces (as template engines and plugin
# loaders do): each frame runs with the globals of its own namespace, so its module is that
# namespace's __name__ (the same as the __module__ of the function objects it defines).
SOURCE = "def f():\n    return __name__\n\n\nr = f()\n"
CODE = compile(SOURCE, "<shared>", "exec")


def main():  # @def-main
    results = []
    for name in ("alpha", "beta"):
        ns = {"__name__": name}
        exec(CODE, ns)
        results.append((ns["r"], ns["f"].__module__))
    return results  # @ret-main


print(main())  # @last
