# SPDX-License-Identifier: MIT
"""`lttng list --python` lists a program run under pytrace-run with PYTRACE_LOGGING=1, with the
loggers of its `logging.Logger.manager.loggerDict` (what lttngust reports), whatever the daemon
does: running at start, started later, killed and restarted, or stalled. Real lttng-sessiond
(private ones, see agentlib.py), real `lttng` client; only the stalled daemon is a fake.
"""
import os
import struct
import subprocess
import sys
import time

import pytest

from agentlib import PROGRAM, PYTRACE_RUN, Daemon, Home, Program, StalledListener, parse_list

LOGGERS = ["agtest.app", "agtest.app.db.pool", "agtest.other"]
# loggerDict also holds placeholders for the parents that were never created themselves.
LISTED = ["agtest", "agtest.app", "agtest.app.db", "agtest.app.db.pool", "agtest.other"]


@pytest.fixture
def home():
    h = Home()
    yield h
    h.cleanup()


@pytest.fixture
def daemons(home):
    started = []

    def start():
        d = Daemon(home).start()
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


@pytest.fixture
def programs(home):
    running = []

    def run(loggers=LOGGERS, env=None):
        p = Program(home, loggers, env)
        running.append(p)
        return p

    yield run
    for p in running:
        p.kill()


def check_exit(p, expected_out="bye\n"):
    code, out, err = p.finish()
    assert code == 0, err
    assert out == expected_out
    assert err == "", "tracing changed the program's stderr"


def test_daemon_running_at_start(daemons, programs):
    d = daemons()
    p = programs()
    d.wait_listed(p.pid, LISTED)
    # The shared root daemon of the machine sees it too (its port file is read as well).
    if os.path.exists("/var/run/lttng/agent.port") and os.getuid() == 0:
        r = subprocess.run(["lttng", "list", "--python"], capture_output=True, text=True,
                           timeout=30)
        if r.returncode == 0:
            assert sorted(parse_list(r.stdout).get(p.pid, [])) == LISTED
    check_exit(p)
    # Gone from the list once it exited.
    assert p.pid not in d.list_python()


def test_loggers_created_later(daemons, home):
    d = daemons()
    env = dict(os.environ, PYTRACE_LOGGING="1", LTTNG_HOME=home.path)
    code = ("import logging, sys\n"
            "print('ready', flush=True)\n"
            "sys.stdin.readline()\n"
            "logging.getLogger('agtest.late.child')\n"
            "print('created', flush=True)\n"
            "sys.stdin.readline()\n")
    proc = subprocess.Popen([PYTRACE_RUN, "-c", code], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        # A process without any logger is not shown (as with lttngust).
        time.sleep(1.5)
        assert proc.pid not in d.list_python()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "created\n"
        d.wait_listed(proc.pid, ["agtest", "agtest.late", "agtest.late.child"])
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_no_daemon_then_daemon_started_later(daemons, programs):
    p = programs()
    time.sleep(1.5)  # a few rounds of port files that do not exist
    p.ping()
    d = daemons()
    delay = d.wait_listed(p.pid, LISTED)
    print(f"\nlate daemon: listed {delay:.2f} s after it was up", file=sys.stderr)
    assert delay < 5
    check_exit(p)


def test_daemon_killed_then_restarted(daemons, programs):
    d = daemons()
    p = programs()
    d.wait_listed(p.pid, LISTED)
    d.stop(sig=9)
    p.ping()  # the program does not notice
    time.sleep(1.5)  # the agent finds no daemon on the stale port, a few times
    p.ping()
    d2 = daemons()  # same LTTNG_HOME, a new port
    delay = d2.wait_listed(p.pid, LISTED)
    print(f"\nrestarted daemon: listed {delay:.2f} s after it was up", file=sys.stderr)
    assert delay < 5
    check_exit(p)


def test_list_while_the_program_holds_the_gil(daemons, programs):
    d = daemons()
    p = programs()
    d.wait_listed(p.pid, LISTED)
    # Three seconds in C with the GIL held: the names cannot be copied now; the reply comes
    # anyway, from the last copy, before the program gets the GIL back.
    p.send("busy 3")
    assert p.readline() == "busy"
    start = time.monotonic()
    listed = d.list_python()
    took = time.monotonic() - start
    print(f"\nlttng list --python while the GIL is held: {took:.3f} s", file=sys.stderr)
    assert sorted(listed.get(p.pid, [])) == LISTED
    assert p.readline() == "done"
    assert took < min(2, time.monotonic() - start)
    check_exit(p)


def run_once(home, env_extra=None):
    """Wall time of a short program under pytrace-run with PYTRACE_LOGGING=1."""
    env = dict(os.environ, PYTRACE_LOGGING="1", LTTNG_HOME=home.path, **(env_extra or {}))
    start = time.monotonic()
    r = subprocess.run([PYTRACE_RUN, PROGRAM, *LOGGERS, "--exit"], env=env,
                       capture_output=True, text=True, timeout=60)
    took = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ready\nbye\n"
    assert r.stderr == ""
    return took


def test_stalled_daemon_delays_nothing(home):
    # Without any daemon of its own (the root daemon's port file is read in both runs).
    base = sorted(run_once(home) for _ in range(5))
    fake = StalledListener()
    try:
        with open(home.port_file, "w") as f:
            f.write(f"{fake.port}\n")
        stalled = sorted(run_once(home) for _ in range(5))
        # The agent did connect and register (domain python, its pid, protocol 2.0).
        deadline = time.monotonic() + 5
        while len(fake.received) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(fake.received) >= 5, "the agent did not connect to the stalled daemon"
        for msg in fake.received:
            domain, pid, major, minor = struct.unpack(">IIII", msg[:16])
            assert (domain, major, minor) == (5, 2, 0) and pid > 0
    finally:
        fake.close()
    print(f"\nstart-to-exit, median of 5: no daemon {base[2] * 1000:.0f} ms, "
          f"stalled daemon {stalled[2] * 1000:.0f} ms", file=sys.stderr)
    assert stalled[2] < base[2] + 2.0


# CPython 3.12+ warns at fork() when the process has other threads, which it counts in /proc:
# lttng-ust's own listener threads and libpytrace's watcher are there whatever this test does.
# Silenced here, so that stderr shows anything else.
FORK_PROGRAM = """
import logging, os, sys, warnings
logging.getLogger('agtest.fork')
r, w = os.pipe()
with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    pid = os.fork()
if pid == 0:
    os.close(w)
    os.read(r, 1)
    os._exit(0)
os.close(r)
print(pid, flush=True)
sys.stdin.readline()
os.write(w, b'x')
os.waitpid(pid, 0)
sys.stdin.readline()
print('bye', flush=True)
"""


def test_fork_child_registers_on_its_own(daemons, home):
    d = daemons()
    env = dict(os.environ, PYTRACE_LOGGING="1", LTTNG_HOME=home.path)
    proc = subprocess.Popen([PYTRACE_RUN, "-c", FORK_PROGRAM], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        child = int(proc.stdout.readline())
        d.wait_listed(proc.pid, ["agtest", "agtest.fork"])
        d.wait_listed(child, ["agtest", "agtest.fork"])
        proc.stdin.write("\n")
        proc.stdin.flush()
        # The child exited: gone; the parent's registration did not go with it. A list that
        # reaches the daemon while the child's connection is closing can fail in the daemon
        # ("No session daemon is available", the client's word for a command cut short), as
        # with any agent that exits (seen twice in CI, also on the list right after): the next
        # one answers.
        deadline = time.monotonic() + 10
        listed = {child: []}
        while time.monotonic() < deadline:
            try:
                listed = d.list_python()
                if child not in listed:
                    break
            except RuntimeError:
                pass
            time.sleep(0.05)
        assert child not in listed
        assert proc.pid in listed
        out, err = proc.communicate("\n", timeout=30)
        assert proc.returncode == 0, err
        assert out == "bye\n"
        assert err == ""
    finally:
        proc.kill()
        proc.wait()
