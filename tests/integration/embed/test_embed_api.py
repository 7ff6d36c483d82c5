# SPDX-License-Identifier: MIT
"""The C API's contract, called from Python through the host: return values (0 or a negative
errno), and that a failed call leaves nothing installed and records nothing."""
from embedhelp import run_script, seq, tids
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

        # Another profile function on a thread of the interpreter: refused, nothing installed.
        sys.setprofile(lambda *args: None)
        assert host.attach() == -errno.EBUSY
        sys.setprofile(None)
        assert sys.getprofile() is None
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
    """, logs=["already has a profile function"])
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
