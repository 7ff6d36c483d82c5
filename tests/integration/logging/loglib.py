# SPDX-License-Identifier: MIT
"""Helpers of the logging-forwarding tests: run a program under a real session whose rules are
`lttng enable-event --python ...` (and `disable-event --python`), tracking only its process,
and read back its `lttng_python:event` records with bt2.

The programs (programs/) write what they logged as JSON lines on stdout: an oracle handler of
their own on the root logger sees exactly the records the forwarder sees, and formats `asctime`
with logging.Formatter('%(asctime)s') as the official agent does.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import uuid

import lttngharness

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
PYTRACE_RUN = os.environ["PYTRACE_RUN"]
SYS_PYTHON = "/usr/bin/python3"
FIELDS = ("asctime", "msg", "logger_name", "funcName", "lineno", "int_loglevel", "thread",
          "threadName")


def prog(name):
    return os.path.join(PROGRAMS, name)


class Run(lttngharness.Trace):
    """A Trace of the lttng_python:event records (no trace directory is kept: path is None)."""

    def __init__(self, returncode, stdout, stderr, events, discarded):
        super().__init__(returncode, stdout, stderr, events, discarded, None)

    def oracle(self):
        """The records the program logged (its JSON lines), with the trace's field names."""
        out = []
        for line in self.stdout.splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out


def _lttng(*args, check=True):
    return lttngharness._lttng(*args, check=check)


def run_logged(argv, enable=(("-a",),), disable=(), env=None, timeout=120, stdin=None):
    """Runs argv in a fresh session with the given `--python` rules; returns a Run whose events
    are the lttng_python:event records of that process, in order."""
    lttngharness.ensure_sessiond()
    name = f"pytrace-log-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    outdir = tempfile.mkdtemp(prefix="pytrace-log-")
    _lttng("create", name, f"--output={outdir}")
    try:
        for rule in enable:
            _lttng("enable-event", "-s", name, "--python", *rule)
        for rule in disable:
            _lttng("disable-event", "-s", name, "--python", *rule)
        proc = subprocess.Popen(["/bin/sh", "-c", 'kill -STOP $$; exec "$@"', "sh", *argv],
                                env=env, stdin=subprocess.PIPE if stdin is not None else None,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status)
        _lttng("track", "-u", "-s", name, f"--vpid={proc.pid}")
        _lttng("start", name)
        os.kill(proc.pid, signal.SIGCONT)
        try:
            out, err = proc.communicate(input=stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        _lttng("stop", name)
        listing = _lttng("list", name).stdout
    finally:
        _lttng("destroy", name, check=False)
    discarded = sum(int(n) for n in __import__("re").findall(r"Discarded events:\s*(\d+)",
                                                             listing))
    evs = []
    if os.path.isdir(outdir) and any(files for _, _, files in os.walk(outdir)):
        evs, _ = lttngharness.read_trace(outdir)
    shutil.rmtree(outdir, ignore_errors=True)
    evs = [e for e in evs if e["provider"] == "lttng_python" and e["event"] == "event"]
    for e in evs:
        del e["provider"], e["event"], e["ts"]
    return Run(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
               evs, discarded)


def run(args, **kw):
    """pytrace-run ARGS under run_logged(); retried if an lttng command itself failed (the
    daemon is shared), never on an assertion."""
    for attempt in range(3):
        try:
            return run_logged([PYTRACE_RUN, *args], **kw)
        except RuntimeError as e:
            if not str(e).startswith("lttng ") or attempt == 2:
                raise


def env(**kw):
    e = {k: v for k, v in os.environ.items() if not k.startswith("PYTRACE_") or k in
         ("PYTRACE_LOG",)}
    e.update({k: v for k, v in kw.items() if v is not None})
    return e


def strip_time(asctime):
    """asctime without its date and time (`YYYY-mm-dd HH:MM:SS,mmm`): what stays comparable
    between two runs (the traceback)."""
    return asctime[23:]
