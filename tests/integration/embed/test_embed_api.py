# SPDX-License-Identifier: MIT
"""The C API's contract, called from Python through the host: return values (0 or a negative
errno), and that a failed call leaves nothing installed and records nothing."""
from embedhelp import PY, run_script, seq, tids
from lttngharness import assert_balanced, compact


def test_return_values(tmp_path):
    t = run_script(tmp_path, """
        import errno
        import sys
        import threading

        import _pytracehost as host

        def f():
            pass

        print("tid main", threading.get_native_id(), flush=True)
        # Nothing attached yet.
        assert host.detach() == -errno.ENOENT
        assert host.thread_attach() == -errno.ENOENT

        if sys.version_info < (3, 12):
            # Another profile function on a thread of the interpreter: refused, nothing
            # installed.
            sys.setprofile(lambda *args: None)
            assert host.attach() == -errno.EBUSY
            sys.setprofile(None)
            assert sys.getprofile() is None
        else:
            # sys.monitoring: other tools hold both ids libpytrace may take (3 and 4).
            sys.monitoring.use_tool_id(3, "other3")
            sys.monitoring.use_tool_id(4, "other4")
            assert host.attach() == -errno.EBUSY
            assert sys.monitoring.get_tool(3) == "other3"
            assert sys.monitoring.get_tool(4) == "other4"
            assert sys.monitoring.get_events(3) == sys.monitoring.get_events(4) == 0
            sys.monitoring.free_tool_id(3)
            sys.monitoring.free_tool_id(4)
        assert host.detach() == -errno.ENOENT
        f()

        assert host.attach() == 0
        assert host.attach() == -errno.EALREADY
        assert host.attach(c_calls=True) == -errno.EALREADY
        # Already traced: nothing to do.
        assert host.thread_attach() == 0
        f()
        assert host.detach() == 0
        assert host.detach() == -errno.ENOENT
        assert host.thread_attach() == -errno.ENOENT
        f()
        print("ok", flush=True)
    """, logs=["already has a profile function" if PY < (3, 12)
               else "tool ids 3 and 4 are both in use (by 'other3' and 'other4')"])
    assert "ok" in t.stdout.splitlines()
    main = tids(t.stdout)["main"]
    assert set(t.tids()) == {main}
    assert seq(t, main) == ["active <module>", "call f", "return f", "detach <module>"]
    assert_balanced(t.events)


def test_c_calls(tmp_path):
    t = run_script(tmp_path, """
        import threading

        import _pytracehost as host

        def f(items):
            return len(items)

        print("tid main", threading.get_native_id(), flush=True)
        assert host.attach(c_calls=True) == 0
        f([1, 2])
        assert host.detach() == 0
        f([3])
    """)
    main = tids(t.stdout)["main"]
    events = [e for e in t.events if e["tid"] == main]
    assert compact(events, c_names={"len"}) == [
        "active <module>",
        "call f", "c_call len", "c_return len", "return f",
        "detach <module>",
    ]
    # detach() itself was called with C calls recorded: its own entry is closed as `detach`.
    c_events = [(e["event"], e["kind"], e["name"]) for e in events if e["event"].startswith("c_")]
    assert c_events[-2:] == [
        ("c_function__entry", "call", "_pytracehost.detach"),
        ("c_function__return", "detach", "_pytracehost.detach"),
    ]
    assert_balanced(t.events)
