# SPDX-License-Identifier: MIT
"""Qualified names of code defined before attach: the classes, decorators and closures of the
script exist before libpytrace sees any of their code run, as in a program attached (or a session
started) long after its imports. 3.11+ read co_qualname; 3.8-3.10 have none, and libpytrace
finds the same names (the function in the globals, the defining class in the MRO of `self` or
`cls`, the creating code in the module's functions and classes); only a code object that nothing
of its module leads to any more falls back to its co_name. Code whose creator runs traced is
named from the creator's bytecode (3.8-3.10)."""
from embedhelp import PY, run_script, seq, tids

SCRIPT = """
    import functools
    import threading

    import _pytracehost as host

    def deco(fn):
        @functools.wraps(fn)  # the wrapper takes fn's name: not its code's
        def wrapper(*a, **kw):
            return fn(*a, **kw)
        return wrapper

    def make_adder(n):
        return lambda x: x + n

    def factory():
        def orphan():
            return 0
        return orphan

    class K:
        def method(self):
            return 1

        @staticmethod
        def smethod(x):
            return x

        @classmethod
        def cmethod(cls):
            return 2

        @property
        def prop(self):
            return 3

        @deco
        def decorated(self):
            return 4

        class Inner:
            @staticmethod
            def nested_static():
                return 5

        def closure_maker(self):
            def inner():
                return 6
            return inner

    add = make_adder(1)
    k = K()
    closure = k.closure_maker()
    kept = [factory()]  # only a list holds it: not a function of the module
    del factory  # and nothing in the module leads to its creator any more

    def run():
        k.method()
        K.smethod(1)
        K.cmethod()
        k.prop
        k.decorated()
        K.Inner.nested_static()
        add(1)
        closure()
        kept[0]()
        return [i for i in range(1)]

    print("tid main", threading.get_native_id(), flush=True)
    assert host.attach() == 0
    run()

    class Late:  # a class of the module whose body runs traced
        squares = [i * i for i in range(2)]

    assert host.detach() == 0
"""


def test_names_of_code_defined_before_attach(tmp_path):
    t = run_script(tmp_path, SCRIPT)
    main = tids(t.stdout)["main"]

    def call(q):
        return [f"call {q}", f"return {q}"]

    assert seq(t, main) == [
        "active <module>",
        "call run",
        *call("K.method"),
        *call("K.smethod"),
        *call("K.cmethod"),
        *call("K.prop"),
        "call deco.<locals>.wrapper", *call("K.decorated"), "return deco.<locals>.wrapper",
        *call("K.Inner.nested_static"),
        *call("make_adder.<locals>.<lambda>"),
        *call("K.closure_maker.<locals>.inner"),
        # 3.8-3.10: its creator is gone; only its name is left
        *call("factory.<locals>.orphan" if PY >= (3, 11) else "orphan"),
        # a list comprehension is a frame of its own up to 3.11, inlined from 3.12 (PEP 709)
        *(call("run.<locals>.<listcomp>") if PY < (3, 12) else []),
        "return run",
        "call Late",
        *(call("Late.<listcomp>") if PY < (3, 12) else []),
        "return Late",
        "detach <module>",
    ]
