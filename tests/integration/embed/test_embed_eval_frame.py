# SPDX-License-Identifier: MIT
"""A program with a frame evaluation function of its own (PEP 523: a debugger, a JIT) keeps it
and is traced completely. On 3.11.4+ fast mode would install libpytrace's evaluation function:
with the program's in place it uses the profile hook instead, and when the program replaces
libpytrace's while a session records, the watcher goes over to the profile hook (with a
warning) and the program's function stays in place after detach."""
import pytest

from embedhelp import FAST_EVAL_HOOK, PY, run_script, seq, tids
from lttngharness import assert_balanced

pytestmark = pytest.mark.skipif(
    PY < (3, 9), reason="the host sets an evaluation function with the 3.9+ API")

PROGRAM = """
    import sys
    import threading
    import time

    import _pytracehost as host

    class Box:
        def __getitem__(self, i):
            return i

    def b(box):
        return box[1]

    def a():
        return b(Box())

    def wait_for_watcher():
        time.sleep(0.5)  # it looks every 100 ms

    print("tid main", threading.get_native_id(), flush=True)
"""

CALLS = ["call a", "call b", "call Box.__getitem__", "return Box.__getitem__", "return b",
         "return a"]


def test_program_function_in_place_before_attach(tmp_path):
    t = run_script(tmp_path, PROGRAM + """
    assert host.set_eval_frame(True) == 0
    assert host.attach(mode=1) == 0
    before = host.eval_frame_calls()
    a()
    if sys.version_info[:2] == (3, 11):
        assert sys.getprofile() is not None  # fast mode took the profile hook
    assert host.eval_frame_calls() > before
    assert host.detach() == 0
    assert host.set_eval_frame(False) == 0  # still the program's
    """)
    assert_balanced(t.events)
    main = tids(t.stdout)["main"]
    assert seq(t, main) == ["active <module>", *CALLS, "detach <module>"]


def test_program_replaces_libpytrace_function(tmp_path):
    t = run_script(tmp_path, PROGRAM + """
    assert host.attach(mode=1) == 0
    a()
    assert host.set_eval_frame(True) == 0
    a()
    wait_for_watcher()
    a()
    assert host.detach() == 0
    assert host.eval_frame_calls() > 0
    assert host.set_eval_frame(False) == 0  # still the program's after detach
    """, logs=("replaced libpytrace's",) if FAST_EVAL_HOOK else ())
    assert_balanced(t.events)
    main = tids(t.stdout)["main"]
    if FAST_EVAL_HOOK:
        # The program's function calls the one it replaced, libpytrace's, which records until the
        # watcher has gone over to the profile hook (open frames closed and restated), and then
        # passes frames through: nothing is lost, nothing is recorded twice.
        wait = ["call wait_for_watcher", "detach wait_for_watcher", "detach <module>",
                "active <module>", "active wait_for_watcher", "return wait_for_watcher"]
    else:
        # No evaluation function of libpytrace's is involved: the trace goes on unchanged.
        wait = ["call wait_for_watcher", "return wait_for_watcher"]
    assert seq(t, main) == ["active <module>", *CALLS, *CALLS, *wait, *CALLS, "detach <module>"]
