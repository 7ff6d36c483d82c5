# SPDX-License-Identifier: MIT
"""Forwarding is invisible to the program: programs/invisible.py (basicConfig() after recording
starts, no handler and logging.lastResort, a root handler without level, propagate=False, a
child with its own level, logging.disable(), the program inspecting the root logger, a Logger
subclass, the program replacing Logger.callHandlers) prints the same stdout and stderr and exits
with the same code under a session recording Python events as untraced, while LTTng gets
exactly the records the official agent (lttngust) records from the same program."""
import os
import subprocess
import tempfile

import loglib
from loglib import prog
from test_behaviour import lttngust_path  # noqa: F401  (fixture)

KEYS = ("logger_name", "msg", "int_loglevel", "funcName", "lineno", "threadName")


def side_env(path):
    return loglib.env(INVISIBLE_SIDE=path)


def test_invisible_and_recorded_as_the_official_agent(lttngust_path):  # noqa: F811
    d = tempfile.mkdtemp(prefix="pytrace-invisible-")
    traced_side, plain_side = os.path.join(d, "traced"), os.path.join(d, "plain")
    traced = loglib.run([prog("invisible.py")], env=side_env(traced_side))
    plain = subprocess.run([loglib.PYTRACE_RUN, prog("invisible.py")], capture_output=True,
                           text=True, env=side_env(plain_side))
    official = loglib.run_logged([loglib.SYS_PYTHON, prog("invisible.py"), "--lttngust"],
                                 env=loglib.env(PYTHONPATH=lttngust_path))
    # what the program prints, and how it ends: byte for byte the untraced run
    assert plain.returncode == 5, plain.stderr
    assert traced.returncode == plain.returncode
    assert traced.stdout == plain.stdout
    assert traced.stderr == plain.stderr
    # the checks that matter in the output itself
    assert "c2.app WARNING" not in plain.stderr and "warning from c2.app\n" in plain.stderr
    assert "c1.app WARNING warning from c1.app\n" in plain.stderr  # basicConfig() worked
    assert "debug from" not in plain.stderr
    assert "c3.remote DEBUG remote debug\n" in plain.stdout
    assert "c10.app INFO info from c10.app\n" in plain.stdout
    assert "c10.app DEBUG" not in plain.stdout
    assert plain.stdout.count("kept True\n") == 2
    # what is observable by design: isEnabledFor() is wrapped while a session records
    with open(traced_side) as f:
        assert f.read() == "c7.app DEBUG enabled True\n"
    with open(plain_side) as f:
        assert f.read() == "c7.app DEBUG enabled False\n"
    # the records: those of the official agent, once each
    assert official.returncode == 5, official.stderr
    want = [{k: e[k] for k in KEYS} for e in official.events]
    got = [{k: e[k] for k in KEYS} for e in traced.events]
    assert got == want
    names = {(e["logger_name"], e["int_loglevel"]) for e in got}
    assert ("c1.app", 10) in names and ("root", 10) in names      # below the root's level
    assert ("c4.quiet", 30) not in names and ("c4.quiet.kid", 30) not in names
    assert ("c5.parent", 30) not in names and ("c5.parent.child.leaf", 10) not in names
    assert ("c5.parent.child", 20) in names
    assert ("c6.app", 20) not in names and ("c6.app", 30) in names
    assert ("c8.sub", 25) not in names
    assert ("c3.remote", 10) in names
    assert sum(1 for e in got if e["logger_name"] == "c9.again") == 3
