# SPDX-License-Identifier: MIT
"""Sessions that start and stop while the program runs: libpytrace installs its hooks only
while a session records (the program itself checks), restates the frames open when recording
starts as `active` entries, and in fast mode gives every session the definitions its records
name, also a session started while another one records."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

import lttngharness
import runlib
from runlib import prog

MODES = ["events", "fast"]


class Session:
    """A session that tracks one process; started and stopped by the test."""

    def __init__(self, pid):
        self.name = f"pytrace-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.out = tempfile.mkdtemp(prefix="pytrace-trace-")
        lttngharness._lttng("create", self.name, f"--output={self.out}")
        lttngharness._lttng("enable-channel", "-u", "-s", self.name, "--buffers-pid",
                            "--subbuf-size=4M", "--num-subbuf=8", "chan")
        lttngharness._lttng("enable-event", "-u", "-s", self.name, "-c", "chan", "python:*")
        lttngharness._lttng("track", "-u", "-s", self.name, f"--vpid={pid}")

    def start(self):
        lttngharness._lttng("start", self.name)

    def stop(self):
        lttngharness._lttng("stop", self.name)

    def events(self):
        lttngharness._lttng("destroy", self.name)
        evs, discarded = lttngharness.read_trace(self.out)
        assert not discarded
        shutil.rmtree(self.out, ignore_errors=True)
        return evs

    def destroy(self):
        lttngharness._lttng("destroy", self.name, check=False)
        shutil.rmtree(self.out, ignore_errors=True)


def spawn(program, mode):
    """pytrace-run PROGRAM, stopped before exec so that sessions can track it first."""
    lttngharness.ensure_sessiond()
    env = dict(os.environ, PYTRACE_MODE=mode)
    proc = subprocess.Popen(["/bin/sh", "-c", 'kill -STOP $$; exec "$@"', "sh",
                             runlib.PYTRACE_RUN, prog(program)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)
    return proc


def assert_prefix_balanced(events, late=False):
    """Every return closes the innermost open entry of its thread; returns what stays open.
    With @late (a session started while another one recorded), returns of frames opened before
    the session started come first, with no entry (docs/events.md, "Balance")."""
    stacks = {}
    for e in events:
        stack = stacks.setdefault(e["tid"], [])
        if e["event"] in lttngharness.ENTRY_EVENTS:
            stack.append((e["event"], lttngharness.frame_name(e)))
        elif e["event"] in lttngharness.RETURN_EVENTS:
            if late and not stack:
                continue
            assert stack, f"orphan return {e}"
            top = stack.pop()
            assert top[1] == lttngharness.frame_name(e), (top, e)
    return [f for stack in stacks.values() for f in stack]


def say(proc, expected):
    line = proc.stdout.readline()
    assert line == expected + "\n", (line, proc.stderr.read() if not line else "")


@pytest.mark.parametrize("mode", MODES)
def test_hooks_come_and_go_with_the_session(mode):
    proc = spawn("session_cycle.py", mode)
    s = Session(proc.pid)
    try:
        os.kill(proc.pid, signal.SIGCONT)
        say(proc, "idle False")  # attached, nobody records: no hook at all
        s.start()
        proc.stdin.write("\n")
        proc.stdin.flush()
        say(proc, "recording True")
        say(proc, "done")
        if mode == "fast":
            # Records reach LTTng when a buffer fills or, for a thread that went quiet, from
            # the watcher within ~0.2 s (docs/events.md): stopping sooner would lose them.
            time.sleep(1)
        s.stop()
        proc.stdin.write("\n")
        proc.stdin.flush()
        say(proc, "stopped True")  # and gone again once nobody records
        assert proc.wait(timeout=60) == 0
        events = s.events()
    finally:
        proc.kill()
        s.destroy()
    # The session stopped while main was still running: its frames stay open, nothing else.
    open_frames = assert_prefix_balanced(events)
    assert [f for f in open_frames if f[1] not in ("<module>", "main", "wait_until", "hooked")] \
        == [], open_frames
    own = runlib.of_modules(events)
    # Recording starts inside main's wait loop: the frames open then come first, as `active`.
    first = lttngharness.compact(own[:2])
    assert first == ["active <module>", "active main"], first
    calls = lttngharness.compact(own)
    assert calls.count("call during") == 3
    # nothing from before the session started, nor after it stopped
    assert "call after" not in calls and "call hooked" in calls
    assert not any(c.startswith("call before") for c in calls[:3])


def test_fast_mode_defines_codes_for_a_session_started_later():
    proc = spawn("two_sessions.py", "fast")
    first, second = Session(proc.pid), None
    try:
        first.start()
        os.kill(proc.pid, signal.SIGCONT)
        say(proc, "first")
        second = Session(proc.pid)
        second.start()
        proc.stdin.write("\n")
        proc.stdin.flush()
        say(proc, "second")
        assert proc.wait(timeout=60) == 0
        a, b = first.events(), second.events()
    finally:
        proc.kill()
        first.destroy()
        if second:
            second.destroy()
    for events in (a, b):
        names = [e.get("co_qualname", e.get("name")) for e in events
                 if e["event"].endswith("entry")]
        assert not [n for n in names if n.startswith("<code")], names
    assert lttngharness.compact(runlib.of_modules(a)).count("call alpha") == 100
    # The second session saw at least the last 50 calls, named, with their returns (records
    # still buffered when it started reach it too: up to one buffer per thread).
    got_b = lttngharness.compact(runlib.of_modules(b))
    assert got_b.count("call alpha") >= 50
    assert_prefix_balanced(b, late=True)
