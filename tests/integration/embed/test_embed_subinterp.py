# SPDX-License-Identifier: MIT
"""Sub-interpreters: silent while only the main interpreter is attached; once attached
themselves, their events carry their own interpreter id and are balanced, detached explicitly or
by Py_EndInterpreter(), while the main interpreter's stream stays balanced around them."""
from embedhelp import run_script, seq, tids
from lttngharness import assert_balanced

SCRIPT = """
    import threading

    import _pytracehost as host

    SUB = '''
    import threading
    import _pytracehost as host

    def sub_leaf():
        return 1

    def sub_work():
        return sub_leaf() + sub_leaf()

    print("interp", host.interp_id(), flush=True)
    sub_work()
    '''

    def main_work():
        return 1

    print("tid main", threading.get_native_id(), flush=True)
    assert host.interp_id() == 0
    assert host.attach() == 0
    main_work()
    host.run_in_subinterpreter(SUB)
    main_work()
    host.run_in_subinterpreter(SUB, attach=True)
    host.run_in_subinterpreter(SUB, attach=True, detach=False)
    main_work()
    assert host.detach() == 0
"""

SUB = [
    "call <module>",
    "call sub_work",
    "call sub_leaf", "return sub_leaf",
    "call sub_leaf", "return sub_leaf",
    "return sub_work",
    "return <module>",
]


def test_subinterpreters(tmp_path):
    t = run_script(tmp_path, SCRIPT)
    main = tids(t.stdout)["main"]
    ids = [int(line.split()[1]) for line in t.stdout.splitlines() if line.startswith("interp ")]
    assert len(ids) == 3 and len(set(ids)) == 3 and 0 not in ids
    silent, detached, ended = ids

    # The first sub-interpreter was never attached; the main interpreter's attach does not
    # reach it although it runs on the same thread.
    assert {e["interp"] for e in t.events} == {0, detached, ended}
    assert set(t.tids()) == {main}

    assert seq(t, main, interp=0) == [
        "active <module>",
        "call main_work", "return main_work",
        "call main_work", "return main_work",
        "call main_work", "return main_work",
        "detach <module>",
    ]
    # Attached before its code ran, so nothing is `active`; detached (explicitly or by ending)
    # after it returned, so nothing is closed by `detach`.
    for interp in (detached, ended):
        assert seq(t, main, interp=interp) == SUB
        assert not [e for e in t.events
                    if e["interp"] == interp and e.get("kind") in ("active", "detach")]
    # The per-(interp, tid) stacks are balanced: each interpreter's stream on its own.
    assert_balanced(t.events)
    # ... and the sub-interpreters' events come while main's frames are open, between them.
    first = next(i for i, e in enumerate(t.events) if e["interp"] != 0)
    last = max(i for i, e in enumerate(t.events) if e["interp"] != 0)
    assert t.events[first - 1]["interp"] == 0 and t.events[last + 1]["interp"] == 0


def test_subinterpreter_attached_alone_from_python(tmp_path):
    # Only the sub-interpreter is attached, by its own code, mid-stack, and it detaches with
    # frames open: the main interpreter stays silent; the sub-interpreter's frames are restated
    # as `active` and closed as `detach`, all with its interp id.
    t = run_script(tmp_path, """
        import threading

        import _pytracehost as host

        SUB = '''
        import errno
        import _pytracehost as host

        def leaf():
            return 1

        def f():
            assert host.attach() == 0
            leaf()

        def g():
            f()
            leaf()
            assert host.detach() == 0
            leaf()

        print("interp", host.interp_id(), flush=True)
        g()
        assert host.detach() == -errno.ENOENT
        '''

        def main_work():
            return 1

        print("tid main", threading.get_native_id(), flush=True)
        host.run_in_subinterpreter(SUB)
        main_work()
    """)
    main = tids(t.stdout)["main"]
    sub = int(next(line.split()[1] for line in t.stdout.splitlines() if line.startswith("interp ")))
    assert {e["interp"] for e in t.events} == {sub}
    assert set(t.tids()) == {main}
    assert seq(t, main, interp=sub) == [
        "active <module>", "active g", "active f",
        "call leaf", "return leaf",
        "return f",
        "call leaf", "return leaf",
        "detach g", "detach <module>",
    ]
    assert_balanced(t.events)
