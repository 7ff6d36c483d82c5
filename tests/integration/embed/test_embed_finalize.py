# SPDX-License-Identifier: MIT
"""The script ends while attached: Py_FinalizeEx() (in Py_RunMain()) detaches implicitly after
the last Python code ran, so atexit handlers are traced and the trace is balanced."""
from embedhelp import run_script, seq, thread_events, tids
from lttngharness import assert_balanced


def test_finalize_without_detach(tmp_path):
    t = run_script(tmp_path, """
        import atexit
        import threading

        import _pytracehost as host

        def helper():
            return 1

        def on_exit():
            helper()

        print("tid main", threading.get_native_id(), flush=True)
        atexit.register(on_exit)
        assert host.attach() == 0
        helper()
    """)
    main = tids(t.stdout)["main"]
    assert set(t.tids()) == {main}
    assert seq(t, main) == [
        "active <module>",
        "call helper", "return helper",
        "return <module>",
        # Finalization: atexit handlers run while still attached.
        "call on_exit", "call helper", "return helper", "return on_exit",
    ]
    # Nothing was open when finalization detached: no `detach` return at all.
    assert not [e for e in t.events if e.get("kind") == "detach"]
    assert_balanced(t.events)


def test_finalize_with_a_daemon_thread_blocked(tmp_path):
    # A daemon thread still inside Python at exit: CPython stops it without unwinding its
    # frames; the trace must still close them (`detach` returns with the daemon's tid).
    t = run_script(tmp_path, """
        import threading

        import _pytracehost as host

        started = threading.Event()

        def block():
            started.set()
            threading.Event().wait()

        def daemon():
            print("tid daemon", threading.get_native_id(), flush=True)
            block()

        print("tid main", threading.get_native_id(), flush=True)
        assert host.attach() == 0
        threading.Thread(target=daemon, daemon=True).start()
        started.wait()
    """)
    ids = tids(t.stdout)
    assert set(t.tids()) == {ids["main"], ids["daemon"]}
    assert seq(t, ids["main"]) == ["active <module>", "return <module>"]
    assert seq(t, ids["daemon"]) == [
        "call daemon", "call block",
        "detach block", "detach daemon",
    ]
    daemon = thread_events(t, ids["daemon"])
    assert daemon[-1]["co_qualname"] == "Thread._bootstrap"
    assert daemon[-1]["kind"] == "detach"
    assert_balanced(t.events)
