# SPDX-License-Identifier: MIT
"""Run a program under a real LTTng session and read its events back with babeltrace2 (bt2).

Every session has a unique name and tracks only the traced process (the child is started
stopped, tracked by vpid, then resumed), so events of other processes never leak in. A session
daemon is started when none runs and stopped again at exit if this module started it.

Runs with Debian's /usr/bin/python3, where python3-bt2 lives.
"""
import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import bt2

import importlib.util as _ilu
# The fast-mode decoder of the project, by its path: `import pytrace` would need the extension
# module, built for the build's CPython, which need not be this /usr/bin/python3.
_spec = _ilu.spec_from_file_location("pytrace_records", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "pytrace", "records.py"))
_records = _ilu.module_from_spec(_spec)
_spec.loader.exec_module(_records)

LTTNG = shutil.which("lttng") or "/usr/bin/lttng"
SESSIOND = shutil.which("lttng-sessiond") or "/usr/bin/lttng-sessiond"

_started_daemon = None


def _lttng(*args, check=True):
    r = subprocess.run([LTTNG, *args], capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"lttng {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def _daemon_alive():
    return subprocess.run(["pgrep", "-x", "lttng-sessiond"], capture_output=True).returncode == 0


def ensure_sessiond():
    """Start a session daemon unless one runs; stop it at exit if we started it."""
    global _started_daemon
    if _daemon_alive():
        return
    subprocess.run([SESSIOND, "--daemonize"], check=True, timeout=60)
    out = subprocess.run(["pgrep", "-x", "-n", "lttng-sessiond"], capture_output=True, text=True)
    _started_daemon = int(out.stdout.split()[0]) if out.stdout.strip() else None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _lttng("list", check=False).returncode == 0:
            break
        time.sleep(0.1)
    atexit.register(_stop_sessiond)


def _stop_sessiond():
    if _started_daemon:
        try:
            os.kill(_started_daemon, signal.SIGTERM)
        except ProcessLookupError:
            pass


class Trace:
    """What a traced run gave: the process's result and its events, in time order."""

    def __init__(self, returncode, stdout, stderr, events, discarded, path):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.events = events
        self.discarded = discarded
        self.path = path

    def tids(self):
        seen = []
        for e in self.events:
            if e["tid"] not in seen:
                seen.append(e["tid"])
        return seen

    def by_tid(self):
        out = {}
        for e in self.events:
            out.setdefault(e["tid"], []).append(e)
        return out


def _value(v):
    if isinstance(v, bt2._EnumerationFieldConst):
        return v.labels[0] if v.labels else int(v)
    if isinstance(v, bt2._StringFieldConst):
        return str(v)
    if isinstance(v, (bt2._SignedIntegerFieldConst, bt2._UnsignedIntegerFieldConst)):
        return int(v)
    if isinstance(v, bt2._ArrayFieldConst):
        return [int(x) for x in v]
    return v


def read_trace(path, decode=True):
    """All events of a CTF trace as dicts: event (name without provider), provider, ts, and the
    payload fields (C function events have a payload field `name`). Fast-mode batches are
    expanded into per-event form unless @decode is false."""
    events, discarded, fast = [], 0, False
    for msg in bt2.TraceCollectionMessageIterator(path):
        if type(msg) is bt2._EventMessageConst:
            ev = msg.event
            d = {k: _value(v) for k, v in ev.payload_field.items()}
            d["event"] = ev.name.split(":", 1)[1] if ":" in ev.name else ev.name
            d["provider"] = ev.name.split(":", 1)[0]
            d["ts"] = msg.default_clock_snapshot.ns_from_origin
            if d["provider"] == "python" and d["event"] in ("records", "code"):
                fast = True
                # records carry CLOCK_MONOTONIC ns: the trace clock's value (1 GHz)
                d["clock_offset"] = d["ts"] - msg.default_clock_snapshot.value
            events.append(d)
        elif type(msg) is bt2._DiscardedEventsMessageConst:
            discarded += msg.count or 0
    if fast and decode:
        events = _records.expand(events)
    return events, discarded


def run_traced(argv, env=None, stdin=None, timeout=120, events="python:*", keep=False,
               python_rules=(), contexts=()):
    """Run argv in a fresh session that tracks only its process; return a Trace. @events is
    one `lttng enable-event -u` argument (comma-separated names and globs), or a list of them;
    each of @python_rules (tuples such as ("-a",)) is an `lttng enable-event --python` rule;
    @contexts are `lttng add-context -u -t` types (vtid, vpid, ip) added to every channel."""
    ensure_sessiond()
    name = f"pytrace-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    outdir = tempfile.mkdtemp(prefix="pytrace-trace-")
    _lttng("create", name, f"--output={outdir}")
    try:
        _lttng("enable-channel", "-u", "-s", name, "--buffers-pid", "--subbuf-size=4M",
               "--num-subbuf=8", "chan")
        for ev in [events] if isinstance(events, str) else events:
            _lttng("enable-event", "-u", "-s", name, "-c", "chan", ev)
        channels = ["chan"]
        if python_rules:
            # The agent's channel, made first with the session's buffer scheme.
            _lttng("enable-channel", "-u", "-s", name, "--buffers-pid", "lttng_python_channel")
            channels.append("lttng_python_channel")
        for ctx in contexts:
            for chan in channels:
                _lttng("add-context", "-u", "-s", name, "-c", chan, "-t", ctx)
        for rule in python_rules:
            _lttng("enable-event", "-s", name, "--python", *rule)
        # The child stops itself before exec, so it is tracked before it can emit anything.
        proc = subprocess.Popen(["/bin/sh", "-c", 'kill -STOP $$; exec "$@"', "sh", *argv],
                                env=env, stdin=subprocess.PIPE if stdin is not None else None,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            raise RuntimeError(f"traced child did not stop (status {status})")
        _lttng("track", "-u", "-s", name, f"--vpid={proc.pid}")
        _lttng("start", name)
        os.kill(proc.pid, signal.SIGCONT)
        try:
            out, err = proc.communicate(input=stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise
        _lttng("stop", name)
    finally:
        _lttng("destroy", name, check=False)
    evs, discarded = read_trace(outdir)
    if discarded:
        raise AssertionError(f"LTTng discarded {discarded} events: the comparison would be wrong")
    t = Trace(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
              evs, discarded, outdir)
    if not keep:
        shutil.rmtree(outdir, ignore_errors=True)
    return t


# ---- what the tests compare ----

ENTRY_EVENTS = {"function__entry", "c_function__entry"}
RETURN_EVENTS = {"function__return", "c_function__return"}


def frame_name(e):
    return e["name"] if e["event"].startswith("c_") else e["co_qualname"]


def assert_balanced(events):
    """On every thread, each entry has exactly one matching return, in stack order."""
    stacks = {}
    for e in events:
        stack = stacks.setdefault((e["interp"], e["tid"]), [])
        if e["event"] in ENTRY_EVENTS:
            stack.append((e["event"].startswith("c_"), frame_name(e)))
        elif e["event"] in RETURN_EVENTS:
            assert stack, f"orphan return on tid {e['tid']}: {frame_name(e)}"
            top = stack.pop()
            got = (e["event"].startswith("c_"), frame_name(e))
            assert top == got, f"tid {e['tid']}: return of {got} while {top} is open"
    for key, stack in stacks.items():
        assert not stack, f"tid {key[1]}: entries never closed: {stack}"


def compact(events, modules=("__main__",), c_names=None):
    """One line per event: "call fib", "return fib", "yield gen", "exception ValueError in f"...

    Only frames of the given modules (and C functions in c_names, if given) are kept, so a test
    compares its own program's calls and not those of the standard library.
    """
    out = []
    for e in events:
        n = e["event"]
        if n in ("function__entry", "function__return", "exception"):
            if modules is not None and e["module"] not in modules:
                continue
            if n == "exception":
                out.append(f"exception {e['exc_type']} in {e['co_qualname']}")
            else:
                out.append(f"{e['kind']} {e['co_qualname']}")
        elif n in ("c_function__entry", "c_function__return"):
            if c_names is None or e["name"] not in c_names:
                continue
            out.append(f"c_{e['kind']} {e['name']}")
    return out
