# SPDX-License-Identifier: MIT
"""Shared by the embedding tests: run a script in pytrace-test-host (host.c) under a real LTTng
session, and pick one thread's events out of the trace.

Scripts print `tid LABEL N` lines (N = threading.get_native_id(), the kernel tid that events
carry in their `tid` field), so that a test knows which thread is which.
"""
import os
import subprocess
import tempfile
import textwrap

from lttngharness import compact, run_traced


def _binary(var, rel):
    path = os.environ.get(var) or os.path.join(os.environ["PYTRACE_BUILD_DIR"], rel)
    assert os.access(path, os.X_OK), f"{path} is not built"
    return path


def host_path():
    return _binary("PYTRACE_HOST", "tests/integration/embed/pytrace-test-host")


def example_path():
    return _binary("PYTRACE_EMBED_EXAMPLE", "examples/embed/pytrace-embed-example")


def _embedded_version():
    with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
        f.write("import sys\nprint(*sys.version_info[:3])\n")
        f.flush()
        r = subprocess.run([host_path(), f.name], capture_output=True, text=True, check=True,
                           timeout=60)
    return tuple(int(x) for x in r.stdout.split())


# (major, minor) of the CPython the hosts embed. From 3.12 on, libpytrace traces through
# sys.monitoring, which covers every thread of the interpreter and leaves the profile hooks to
# the program: the tests that depend on it say how.
PY_FULL = _embedded_version()
PY = PY_FULL[:2]

# Fast mode without C calls uses the frame evaluation function on 3.11.4+ (hook-eval.c).
FAST_EVAL_HOOK = PY == (3, 11) and PY_FULL >= (3, 11, 4)


def check_clean_run(t, logs=()):
    """The program exited 0, raised nothing, and libpytrace logged exactly the lines that contain
    the strings of `logs`, in that order."""
    assert t.returncode == 0, t.stderr
    assert "Traceback" not in t.stderr, t.stderr
    logged = [line for line in t.stderr.splitlines() if line.startswith("libpytrace:")]
    assert len(logged) == len(logs), t.stderr
    for line, expected in zip(logged, logs):
        assert expected in line, t.stderr


def run_script(tmp_path, source, *args, logs=()):
    """Run `source` (dedented) as the script of pytrace-test-host; return the Trace."""
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(source))
    t = run_traced([host_path(), str(script), *args])
    check_clean_run(t, logs)
    return t


def tids(stdout):
    """{label: tid} from the `tid LABEL N` lines a script printed."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "tid":
            out[parts[1]] = int(parts[2])
    return out


def thread_events(t, tid, interp=0):
    """The events of one thread of one interpreter, in order."""
    return [e for e in t.events if e["tid"] == tid and e["interp"] == interp]


def seq(t, tid, interp=0, modules=("__main__",)):
    """compact() of one thread's events: its frames of `modules` (None: every frame)."""
    return compact(thread_events(t, tid, interp), modules=modules)


def fib_calls(n, name="fib"):
    """compact() lines of fib(n) = fib(n-1) + fib(n-2), fib(0|1) = n, called once."""
    out = [f"call {name}"]
    if n >= 2:
        out += fib_calls(n - 1, name) + fib_calls(n - 2, name)
    return out + [f"return {name}"]
