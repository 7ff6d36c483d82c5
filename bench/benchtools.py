# SPDX-License-Identifier: MIT
"""Shared by the benchmark scripts (run by /usr/bin/python3, which has the bt2 bindings): the
hosts of a build folder, LTTng sessions that record exactly one process, and the check that the
library really runs the fast mode.

Every lttng command names its session explicitly; every session is destroyed (with its trace) on
exit from its `with` block, even on errors.
"""
import collections
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)

# Environment variables of libpytrace that must not leak from the caller into a measurement.
PYTRACE_VARS = ("PYTRACE_MODE", "PYTRACE_INCLUDE", "PYTRACE_EXCLUDE", "PYTRACE_MAX_DEPTH",
                "PYTRACE_LOGGING",
                "PYTRACE_C_CALLS")


class Build:
    """The programs of one build folder."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.bare = os.path.join(self.path, "bench", "pytrace-bench-bare")
        self.run = os.path.join(self.path, "tools", "pytrace-run", "pytrace-run")
        self.floor_dir = os.path.join(self.path, "bench")
        for exe in (self.bare, self.run):
            if not os.access(exe, os.X_OK):
                raise SystemExit(f"error: {exe} is missing: build {self.path} first "
                                 "(scripts/bench.sh does)")
        out = subprocess.run([self.bare, "-c", "import sys; print(sys.version)"],
                             capture_output=True, text=True, check=True, env=clean_env())
        self.python_full = out.stdout.strip()
        self.python = self.python_full.split()[0]
        self.has_floor = any(f.startswith("pytrace_bench_floor") and f.endswith(".so")
                             for f in os.listdir(self.floor_dir))


def clean_env(**extra):
    """The caller's environment without libpytrace's knobs or PYTHONPATH, plus @extra."""
    env = {k: v for k, v in os.environ.items() if k not in PYTRACE_VARS and k != "PYTHONPATH"}
    env["PYTHONHASHSEED"] = "0"
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def trace_root():
    """Where traces go: tmpfs when there is one (no disk I/O in the measurements)."""
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def lttng(*args, check=True):
    p = subprocess.run(["lttng", *args], capture_output=True, text=True)
    if check and p.returncode:
        raise RuntimeError(f"lttng {' '.join(args)} failed ({p.returncode}): "
                           f"{(p.stderr or p.stdout).strip()}")
    return p.stdout


def active_sessions():
    """Names of the active sessions of the session daemon (whoever created them)."""
    p = subprocess.run(["lttng", "list"], capture_output=True, text=True)
    return re.findall(r"^\s*\d+\) (\S+) .*\[active\]", p.stdout, re.M)


_serial = itertools.count()


class Session:
    """A recording session with its own channel (discard mode), tracking only the given vpids.

    with Session("fib", ["python:*"]) as s:
        s.track(pid); s.start(); ...; s.stop(); s.discarded()
    """

    def __init__(self, tag, events, subbuf="8M", num_subbuf=8):
        self.name = f"pytrace-bench-{tag}-{os.getpid()}-{next(_serial)}"
        self.events = events
        self.subbuf = subbuf
        self.num_subbuf = num_subbuf
        self.output = None
        self.created = False

    def __enter__(self):
        self.output = tempfile.mkdtemp(prefix=self.name + "-", dir=trace_root())
        lttng("create", self.name, f"--output={self.output}")
        self.created = True
        lttng("enable-channel", "-u", "-s", self.name, f"--subbuf-size={self.subbuf}",
              f"--num-subbuf={self.num_subbuf}", "benchch")
        lttng("enable-event", "-u", "-s", self.name, "-c", "benchch", *self.events)
        return self

    def track(self, pid):
        lttng("track", "-u", "-s", self.name, f"--vpid={pid}")

    def start(self):
        lttng("start", self.name)

    def stop(self):
        lttng("stop", self.name)

    def discarded(self):
        """Discarded events and lost packets of the session's channels (read after stop)."""
        out = lttng("list", self.name)
        disc = sum(int(n) for n in re.findall(r"Discarded events:\s*(\d+)", out))
        lost = sum(int(n) for n in re.findall(r"Lost packets:\s*(\d+)", out))
        return disc, lost

    def trace_bytes(self):
        total = 0
        for d, _, files in os.walk(self.output):
            total += sum(os.path.getsize(os.path.join(d, f)) for f in files)
        return total

    def __exit__(self, *exc):
        if self.created:
            lttng("stop", self.name, check=False)
            lttng("destroy", self.name, check=False)
        if self.output:
            shutil.rmtree(self.output, ignore_errors=True)
        return False


def spawn_stopped(cmd, env):
    """Starts @cmd stopped before exec (so that it can be tracked before it runs any code);
    resume it with os.kill(p.pid, SIGCONT). The pid stays the same across the exec."""
    p = subprocess.Popen(["sh", "-c", 'kill -STOP "$$"; exec "$@"', "sh", *cmd], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{p.pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            break
        if state == "T":
            return p
        time.sleep(0.002)
    p.kill()
    raise RuntimeError(f"{cmd[0]} did not stop before exec")


def run_process(cmd, env, session=None, timeout=1800):
    """Runs @cmd to completion, recorded by @session (tracking its pid only) when given.
    Returns (returncode, stdout, stderr)."""
    if session is None:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    p = spawn_stopped(cmd, env)
    try:
        session.track(p.pid)
        session.start()
        os.kill(p.pid, signal.SIGCONT)
        out, err = p.communicate(timeout=timeout)
    except BaseException:
        p.kill()
        p.wait()
        raise
    session.stop()
    return p.returncode, out, err


def event_counts(trace_dir):
    """Counter of event names in a (small) trace."""
    import bt2

    counts = collections.Counter()
    for msg in bt2.TraceCollectionMessageIterator(trace_dir):
        if type(msg) is bt2._EventMessageConst:
            counts[msg.event.name] += 1
    return counts


_UNKNOWN_MODE = re.compile(
    r"PYTRACE_MODE.*(unknown|invalid|unsupported|not supported|not one of|ignor)"
    r"|(unknown|invalid|unsupported) (mode|PYTRACE_MODE)", re.I)


def mode_rejected(stderr):
    """The library's own line saying it does not know the requested mode, if any."""
    for line in stderr.splitlines():
        if _UNKNOWN_MODE.search(line):
            return line.strip()
    return None


def probe_fast_mode(build):
    """Whether build's libpytrace really runs PYTRACE_MODE=fast. Records a tiny program once in
    the default mode and once with PYTRACE_MODE=fast: n/a when the library says the mode is
    unknown, or when both traces hold the very same events (the variable was ignored).
    Returns (supported, explanation)."""
    prog = [build.run, os.path.join(BENCH, "programs", "probe.py")]
    traces = {}
    for mode in (None, "fast"):
        with Session("probe", ["python:*"], subbuf="1M", num_subbuf=4) as s:
            rc, out, err = run_process(prog, clean_env(PYTRACE_MODE=mode), s)
            if mode and mode_rejected(err):
                return False, f"library: {mode_rejected(err)}"
            if rc:
                tail = err.strip().splitlines()[-1:] or ["?"]
                return False, f"pytrace-run failed with PYTRACE_MODE={mode}: {tail[0]}"
            traces[mode] = event_counts(s.output)
    if not traces[None]:
        return False, "the per-event mode recorded nothing (is the library broken?)"
    if traces["fast"] == traces[None]:
        return False, "PYTRACE_MODE=fast ignored by this build (same events as per-event mode)"
    if not traces["fast"]:
        return False, "PYTRACE_MODE=fast recorded no event"
    summary = ", ".join(f"{n}×{c}" for n, c in sorted(traces["fast"].items()))
    return True, f"fast-mode probe recorded {summary}"


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def machine_summary():
    """A few lines describing the machine, for the reports."""
    lines = []
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for key in ("Model name", "CPU(s)", "Hypervisor vendor"):
            m = re.search(rf"^{key}:\s*(.*)$", out, re.M)
            if m:
                lines.append(f"{key}: {m.group(1).strip()}")
    except FileNotFoundError:
        pass
    lines.append(f"kernel: {os.uname().release}")
    for pkg in ("liblttng-ust1", "lttng-tools"):
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                           text=True)
        if p.returncode == 0:
            lines.append(f"{pkg}: {p.stdout}")
    return lines


def source_summary():
    """The commit measured, and whether libpytrace/ had uncommitted changes."""
    def git(*args):
        p = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 else None

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "source: not a git tree"
    dirty = git("status", "--porcelain", "--", "libpytrace", "include", "tools")
    return f"source: commit {head}" + (" + uncommitted changes in the library" if dirty else "")


def log(msg):
    print(msg, file=sys.stderr, flush=True)
