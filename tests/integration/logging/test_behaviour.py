# SPDX-License-Identifier: MIT
"""What a program sees and what is recorded: the same records as the official agent, once
each when both run, bad input reported and never raised, the root logger's level, the switch
from Python, pytrace-run's default and --no-logging, and nothing added while no session
records Python events."""
import os
import re
import subprocess
import tempfile

import pytest

import lttngharness
import loglib
from loglib import prog

ASCTIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}")
LTTNGUST = "/usr/lib/python3/dist-packages/lttngust"


def embedded_version():
    r = subprocess.run([loglib.PYTRACE_RUN, "--no-logging", "-c",
                        "import sys; print(*sys.version_info[:3])"],
                       capture_output=True, text=True, check=True)
    return r.stdout.split()


def sys_version():
    r = subprocess.run([loglib.SYS_PYTHON, "-c", "import sys; print(*sys.version_info[:3])"],
                       capture_output=True, text=True, check=True)
    return r.stdout.split()


@pytest.fixture(scope="module")
def lttngust_path():
    """A folder holding only lttngust (pure Python + ctypes: it works with every CPython 3),
    for a pytrace-run that embeds another CPython than /usr/bin/python3."""
    if not os.path.isdir(LTTNGUST):
        if os.environ.get("CI") == "true":
            pytest.fail("python3-lttngust is not installed")
        pytest.skip("python3-lttngust is not installed")
    d = tempfile.mkdtemp(prefix="pytrace-lttngust-")
    os.symlink(LTTNGUST, os.path.join(d, "lttngust"))
    yield d


def comparable(e, with_traceback):
    e = dict(e)
    assert ASCTIME.match(e["asctime"]), e
    e["asctime"] = loglib.strip_time(e["asctime"]) if with_traceback else ""
    e["thread"] = None
    return e


def test_same_records_as_the_official_agent(lttngust_path):
    ours = loglib.run([prog("levels.py")])
    official = loglib.run_logged([loglib.SYS_PYTHON, prog("levels.py"), "--lttngust"],
                                 env=loglib.env(PYTHONPATH=lttngust_path))
    assert ours.returncode == official.returncode == 0, (ours.stderr, official.stderr)
    assert len(official.events) == 4 * 5 * 2 + 3
    same = embedded_version() == sys_version()  # tracebacks differ between versions
    assert ([comparable(e, same) for e in ours.events] ==
            [comparable(e, same) for e in official.events])
    # asctime with the traceback appended, exactly as the program's own Formatter wrote it
    exc = [e for e in ours.events if e["msg"] == "lookup failed for missing"]
    assert len(exc) == 1 and "\nTraceback (most recent call last):\n" in exc[0]["asctime"]
    assert exc[0]["asctime"].endswith("KeyError: 'missing'")
    stack = [e for e in ours.events if e["msg"] == "with stack"]
    assert "\nStack (most recent call last):\n" in stack[0]["asctime"]
    # thread and threadName of the worker thread
    oracle = ours.oracle()
    threads = {(r["thread"], r["threadName"]) for r in oracle}
    assert {(e["thread"], e["threadName"]) for e in ours.events} == threads
    assert len(threads) == 2 and {n for _, n in threads} == {"MainThread", "worker-1"}


def test_coexistence_each_record_once(lttngust_path):
    run = loglib.run([prog("levels.py"), "--lttngust"], env=loglib.env(PYTHONPATH=lttngust_path))
    assert run.returncode == 0, run.stderr
    oracle = run.oracle()
    assert run.events == oracle


def test_bad_input_never_raises():
    plain = subprocess.run([loglib.PYTRACE_RUN, "--no-logging", prog("bad.py")],
                           capture_output=True, text=True)
    run = loglib.run([prog("bad.py")])
    assert run.returncode == plain.returncode == 3
    assert run.stdout == plain.stdout == "survived\n"
    # Python's own report, once per failing record, with the caller's line
    assert run.stderr.count("--- Logging error ---") == 2, run.stderr
    # (3.8 and 3.9 say "a number", later versions "a real number")
    assert re.search(r"TypeError: %d format: a (real )?number is required, not str", run.stderr)
    assert "ValueError: no __str__ today" in run.stderr
    assert "Message: 'wrong %d arguments'\nArguments: ('x',)" in run.stderr
    with open(prog("bad.py")) as f:
        line = next(i for i, text in enumerate(f, 1) if text.startswith('log.info("wrong'))
    assert f'bad.py", line {line}, in <module>' in run.stderr  # Call stack: the program's line
    assert [e["msg"] for e in run.events] == ["42", "{'a': 1}", "undecodable \\udcff text",
                                              "after"]
    assert run.discarded == 1  # the 3 MiB message, dropped and counted by LTTng


def test_root_level_like_the_agent():
    run = loglib.run([prog("root_level.py")])
    assert run.returncode == 0, run.stderr
    assert [(e["logger_name"], e["msg"], e["int_loglevel"]) for e in run.events] == [
        ("app", "info from app", 20), ("app", "debug from app", 10)]
    # the program sees its root logger as untraced: no handler, level WARNING
    assert run.stdout == ("root [] 30\n"
                          "methods LoggerMethod LoggerMethod LoggerMethod\n")
    assert run.stderr == ""


def test_switch_from_python():
    run = loglib.run([prog("switch.py")])
    assert run.returncode == 0, run.stderr
    assert [e["msg"] for e in run.events] == ["one", "three"]
    assert run.stdout.splitlines() == [
        "start True [] 30",              # the root logger is never touched
        "disabled False [] 30",
        "enabled True [] 30",
    ]


@pytest.mark.parametrize("how", ["--no-logging", "PYTRACE_LOGGING=0"])
def test_pytrace_run_no_logging(how):
    args, env = [prog("root_level.py")], loglib.env()
    if how.startswith("--"):
        args.insert(0, how)
    else:
        env["PYTRACE_LOGGING"] = "0"
    run = loglib.run(args, env=env)
    assert run.returncode == 0, run.stderr
    assert run.events == []
    assert run.stdout == "root [] 30\nmethods function function function\n"


def test_pytrace_run_help():
    r = subprocess.run([loglib.PYTRACE_RUN, "--help"], capture_output=True, text=True)
    assert "--no-logging" in r.stdout


def test_bad_variable_runs_untraced():
    run = loglib.run([prog("root_level.py")], env=loglib.env(PYTRACE_LOGGING="maybe"))
    assert run.returncode == 0
    assert 'PYTRACE_LOGGING: "maybe" is not a boolean' in run.stderr
    assert run.events == []


def test_nothing_added_without_python_session():
    """A session that records only the call events (not Python logging): logging.Logger keeps
    its own methods."""
    t = lttngharness.run_traced([loglib.PYTRACE_RUN, prog("root_level.py")],
                                env=loglib.env(), events="python:*")
    assert t.returncode == 0, t.stderr
    assert t.stdout == "root [] 30\nmethods function function function\n"
    r = subprocess.run([loglib.PYTRACE_RUN, prog("root_level.py")], capture_output=True,
                       text=True, env=loglib.env())
    assert r.stdout == "root [] 30\nmethods function function function\n" and r.stderr == ""
