# SPDX-License-Identifier: MIT
"""Plain calls under pytrace-run: recursion, methods, class bodies, nested functions, lambdas,
comprehensions, decorators, atexit handlers. Every test compares the program's own event
sequence with an oracle derived from what the program does, line numbers included: an entry
carries the code's first line (co_firstlineno: the `def`/`class` line, or the first decorator's
line for a decorated function), a return carries the line it returned from."""
import lttngharness
import runlib
from runlib import expect, lines, prog


def test_fib_recursion():
    path = prog("fib.py")
    L = lines(path)
    t = runlib.run([path])
    assert (t.returncode, t.stdout, t.stderr) == (0, "3\n", "")
    runlib.check_common(t)
    runlib.single_thread(t)

    def fib(n):  # the oracle: the events of one fib(n) call
        ev = [("call fib", L["def-fib"])]
        if n < 2:
            return ev + [("return fib", L["ret-base"])]
        return ev + fib(n - 1) + fib(n - 2) + [("return fib", L["ret-rec"])]

    exp = [("call <module>", 1)] + fib(4) + [("return <module>", L["last"])]
    assert len(exp) == 2 + 2 * 9  # fib(4) makes 9 calls
    own = expect(t.events, exp, path)
    assert all(e["module"] == "__main__" and e["kind"] == "call"
               for e in own if e["event"] == "function__entry")
    assert all(e["kind"] == "return" for e in own if e["event"] == "function__return")


def test_methods_and_class_bodies():
    path = prog("methods.py")
    L = lines(path)
    t = runlib.run([path])
    assert (t.returncode, t.stdout, t.stderr) == (0, "(2, 4, 'K', 'inner', 10)\n", "")
    runlib.check_common(t)
    runlib.single_thread(t)
    exp = [
        ("call <module>", 1),
        # class bodies run when the class statement executes; a class body returns from the
        # line of its last statement (K's is `class Inner:`, Inner's is `def method`)
        ("call K", L["def-K"]),
        ("call K.Inner", L["def-Inner"]),
        ("return K.Inner", L["def-inner-method"]),
        ("return K", L["def-Inner"]),
        ("call main", L["def-main"]),
        ("call K.__init__", L["def-init"]),
        ("return K.__init__", L["ret-init"]),
        ("call K.method", L["def-method"]),
        ("return K.method", L["ret-method"]),
        ("call K.smethod", L["def-smethod"]),  # decorated: first line is @staticmethod's
        ("return K.smethod", L["ret-smethod"]),
        ("call K.cmethod", L["def-cmethod"]),
        ("return K.cmethod", L["ret-cmethod"]),
        ("call K.Inner.method", L["def-inner-method"]),
        ("return K.Inner.method", L["ret-inner-method"]),
        ("call K.prop", L["def-prop"]),
        ("return K.prop", L["ret-prop"]),
        ("return main", L["ret-main"]),
        ("return <module>", L["last"]),
    ]
    expect(t.events, exp, path)


def test_nested_functions_lambdas_comprehensions():
    path = prog("nested.py")
    L = lines(path)
    t = runlib.run([path])
    assert t.returncode == 0 and t.stderr == ""
    assert t.stdout == "(11, 6, 9, ([2, 4], {0, 1}, {1: -1, 2: -2}), [0, 1])\n"
    runlib.check_common(t)
    runlib.single_thread(t)
    lam = L["def-sq"]

    def comp(qualname, line, *inside):
        """A list, set or dict comprehension: a frame of its own up to 3.11; inlined into the
        function that contains it from 3.12 on (PEP 709), where only the calls made inside
        remain. (Generator expressions keep their frame.)"""
        if runlib.PY >= (3, 12):
            return list(inside)
        return [(f"call {qualname}", line), *inside, (f"return {qualname}", line)]

    exp = [
        ("call <module>", 1),
        *comp("<listcomp>", L["top-listcomp"]),  # module-level comprehension
        ("call main", L["def-main"]),
        ("call outer", L["def-outer"]),
        ("call outer.<locals>.inner", L["def-inner"]),
        ("return outer.<locals>.inner", L["ret-inner"]),
        ("return outer", L["ret-outer"]),
        ("call make_adder", L["def-make_adder"]),
        ("return make_adder", L["ret-make_adder"]),
        ("call make_adder.<locals>.<lambda>", L["def-adder-lambda"]),
        ("return make_adder.<locals>.<lambda>", L["ret-adder-lambda"]),
        ("call <lambda>", lam),
        ("return <lambda>", lam),
        ("call comps", L["def-comps"]),
        *comp("comps.<locals>.<listcomp>", L["listcomp"]),
        *comp("comps.<locals>.<setcomp>", L["setcomp"]),
        *comp("comps.<locals>.<dictcomp>", L["dictcomp"]),
        ("return comps", L["ret-comps"]),
        *comp("main.<locals>.<listcomp>", L["main-listcomp"],
              ("call <lambda>", lam), ("return <lambda>", lam),
              ("call <lambda>", lam), ("return <lambda>", lam)),
        ("return main", L["ret-main"]),
        ("return <module>", L["last"]),
    ]
    own = expect(t.events, exp, path)
    names = {"<module>", "main", "outer", "inner", "make_adder", "<lambda>", "comps"}
    if runlib.PY < (3, 12):
        names |= {"<listcomp>", "<setcomp>", "<dictcomp>"}
    assert {e["co_name"] for e in own} == names


def test_decorated_functions():
    path = prog("decorated.py")
    L = lines(path)
    t = runlib.run([path])
    assert (t.returncode, t.stdout, t.stderr) == (0, "[3, 9, 9, 16]\n", "")
    runlib.check_common(t)
    runlib.single_thread(t)
    exp = [
        ("call <module>", 1),
        ("call deco", L["def-deco"]),  # `@deco` applied while the module runs
        ("return deco", L["ret-deco"]),
        ("call main", L["def-main"]),
        # the wrapper frame keeps its code's qualname even though functools.wraps renamed
        # the function object to "add"; it starts on its own decorator's line
        ("call deco.<locals>.wrapper", L["def-wrapper"]),
        ("call add", L["def-add"]),
        ("return add", L["ret-add"]),
        ("return deco.<locals>.wrapper", L["ret-wrapper"]),
        # lru_cache is a C wrapper: square(3), hit for square(3), then square(4)
        ("call square", L["def-square"]),
        ("return square", L["ret-square"]),
        ("call square", L["def-square"]),
        ("return square", L["ret-square"]),
        ("return main", L["ret-main"]),
        ("return <module>", L["last"]),
    ]
    expect(t.events, exp, path)
    # functools.wraps runs functools code: reported under its own module, never as __main__
    funcs = [e for e in t.events if e["event"] == "function__entry" and e["module"] == "functools"]
    assert {e["co_qualname"] for e in funcs} >= {"wraps", "update_wrapper"}
    assert all(e["co_filename"].endswith("/functools.py") for e in funcs)


def test_atexit_handler_is_traced_after_module_returns():
    path = prog("atexit_prog.py")
    L = lines(path)
    t = runlib.run([path])
    assert (t.returncode, t.stdout, t.stderr) == (0, "main\nbye\n", "")
    runlib.check_common(t)
    runlib.single_thread(t)
    exp = [
        ("call <module>", 1),
        ("call main", L["def-main"]),
        ("return main", L["ret-main"]),
        ("return <module>", L["last"]),
        # Py_RunMain() runs atexit handlers before finalizing, and detach happens after them
        ("call bye", L["def-bye"]),
        ("return bye", L["ret-bye"]),
    ]
    expect(t.events, exp, path)


def test_return_lines_of_many_offsets():
    path = prog("many_returns.py")
    L = lines(path)
    t = runlib.run([path])
    order = [0, 1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1, 0, 0, 3, 6, 1, 4, 2, 5, 0, 6]
    assert (t.returncode, t.stderr) == (0, "")
    assert t.stdout == "".join("abcdefg"[n] for n in order) + "\n"
    runlib.check_common(t)
    runlib.single_thread(t)
    # the generator expression that calls pick() is a frame of its own (and resumes, yields)
    py = [e for e in runlib.of_modules(t.events) if e.get("co_name") == "pick"]
    got = [(lttngharness.compact([e], modules=None)[0], e["line_no"]) for e in py]
    exp = []
    for n in order:
        exp += [("call pick", L["def-pick"]), ("return pick", L[f"ret-{n}"])]
    assert got == exp
