# SPDX-License-Identifier: MIT
"""sink.pytrace.stack on real traces: programs recorded by real sessions (lttngharness) in
per-event and fast mode, viewed with `babeltrace2 --plugin-path=PLUGIN_DIR TRACE -c
sink.pytrace.stack`, compared line by line with expected/NAME.txt: what each program does, with
durations masked (`D`) and thread ids renamed by first appearance (`T1`, `T2`...).

Only the programs' own frames are recorded (PYTRACE_INCLUDE=__main__), so the view does not
depend on the standard library. Fast mode must give the same lines per thread; across threads
its order is the order in which the batches were handed over, so per-thread blocks are
compared. On CPython 3.8-3.11 fast mode records no `exception` events (docs/events.md): the
`!!` lines are then left out of the comparison. Return lines carry no line number in either
mode.

PYTRACE_STACK_REGEN=1 rewrites expected/ from the per-event views (review the diff!).
"""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

import lttngharness

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
EXPECTED = os.path.join(HERE, "expected")
SOURCE = os.environ["PYTRACE_SOURCE_DIR"]
PLUGIN_DIR = os.environ["PYTRACE_BT_PLUGIN_DIR"]
RUN = os.environ["PYTRACE_RUN"]
SHIM = os.environ.get("PYTRACE_SHIM_PATH", "")
BABELTRACE2 = shutil.which("babeltrace2") or "/usr/bin/babeltrace2"
REGEN = os.environ.get("PYTRACE_STACK_REGEN") == "1"
PYTHON = os.environ.get("PYTRACE_PYTHON", "/usr/bin/python3")
DIST = "/usr/lib/python3/dist-packages"
FLASK_PACKAGES = ("flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click",
                  "blinker")

# name: (program, pytrace-run options, needs the shim package `pytrace`, threads)
CASES = {
    "calls": ("calls.py", [], True, 2),
    "shop": (os.path.join(SOURCE, "examples", "demo", "shop.py"), [], False, 2),
    "requests": ("requests.py", [], True, 1),
    "ccalls": ("ccalls.py", ["--c-calls"], False, 1),
}

_traces = {}
_flask_dir = tempfile.mkdtemp(prefix="pytrace-flask-")


def teardown_module():
    for t in _traces.values():
        shutil.rmtree(t.path, ignore_errors=True)
    shutil.rmtree(_flask_dir, ignore_errors=True)


def need_shim(case):
    if CASES[case][2] and not SHIM:
        if os.environ.get("CI") == "true":
            pytest.fail("PYTRACE_SHIM_PATH is not set: the shim package pytrace is not built")
        pytest.skip("the shim package pytrace is not built")


def python_path(tmp):
    """The shim, and Flask for the build's CPython: its own, or Debian's (pure Python) linked
    into @tmp, as tests/python/test_flask.py does."""
    r = subprocess.run([PYTHON, "-c", "import flask"], capture_output=True, timeout=60)
    if r.returncode == 0:
        return SHIM
    for name in FLASK_PACKAGES:
        src, dst = os.path.join(DIST, name), os.path.join(tmp, name)
        if os.path.isdir(src) and not os.path.lexists(dst):
            os.symlink(src, dst)
    return f"{SHIM}:{tmp}"


def retried(run, *args, **kw):
    """run(*args, **kw), again when no trace came out of it: on a loaded machine a program may
    give up registering with the session daemon (lttng-ust's registration timeout) and run
    untraced. Never retried on an assertion."""
    for attempt in range(3):
        try:
            return run(*args, **kw)
        except RuntimeError:
            if attempt == 2:
                raise


def record(case, mode):
    """The trace of CASES[case] in @mode ("events" or "fast"), recorded once per module."""
    if (case, mode) in _traces:
        return _traces[case, mode]
    need_shim(case)
    prog, opts = CASES[case][0], CASES[case][1]
    env = dict(os.environ, PYTRACE_MODE=mode, PYTRACE_INCLUDE="__main__",
               PYTHONPATH=python_path(_flask_dir))
    t = retried(lttngharness.run_traced, [RUN, *opts, os.path.join(PROGRAMS, prog)], env=env,
                keep=True, python_rules=(("-a",),), contexts=("vtid",))
    assert t.returncode == 0, t.stderr
    _traces[case, mode] = t
    return t


def view(path, *components, params=None):
    argv = [BABELTRACE2, f"--plugin-path={PLUGIN_DIR}", path, *components,
            "-c", "sink.pytrace.stack"]
    if params:
        argv += ["-p", params]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def _python_version():
    r = subprocess.run([PYTHON, "-c", "import sys; print(*sys.version_info[:2])"],
                       capture_output=True, text=True, timeout=60)
    return tuple(int(x) for x in r.stdout.split()) if r.returncode == 0 else (3, 11)


OLD_PYTHON = _python_version() < (3, 10)


def normalize(text):
    """Durations masked, thread ids renamed by first appearance. Before 3.10 (docs/events.md,
    "CPython 3.8 to 3.10"), a module's entry line is its first statement's, and a generator
    exhausted by a `for` loop raises StopIteration in the loop's frame: the view is brought back
    to what 3.10+ show."""
    names = {}
    if OLD_PYTHON:
        text = re.sub(r"^(\s*-> <module>(?: \[\w+\])?  \S+):\d+$", r"\1:1", text, flags=re.M)
        text = re.sub(r"^\s*!! StopIteration in .*\n", "", text, flags=re.M)

    def tid(m):
        return "thread " + names.setdefault(m.group(1), f"T{len(names) + 1}") + ":"
    text = re.sub(r"\b\d+\.\d+ (us|ms|s)\b", "D", text)
    return re.sub(r"^thread (\d+|\?):$", tid, text, flags=re.M)


def blocks(text, drop_exceptions=False):
    """Each thread's lines (its sections joined), without the thread names, sorted."""
    threads, cur = {}, None
    for line in text.splitlines():
        if line.startswith("thread "):
            cur = threads.setdefault(line, [])
        elif not (drop_exceptions and line.lstrip().startswith("!! ")):
            cur.append(line)
    return sorted(threads.values())


def summary_ok(stderr, threads):
    return re.search(rf"^pytrace: \d+ events, {threads} threads$", stderr, re.M)


def expected(case):
    with open(os.path.join(EXPECTED, case + ".txt")) as f:
        return f.read()


@pytest.mark.parametrize("case", sorted(CASES))
def test_events(case):
    r = view(record(case, "events").path)
    assert r.returncode == 0, r.stderr
    assert summary_ok(r.stderr, CASES[case][3]), r.stderr
    got = normalize(r.stdout)
    if REGEN:
        with open(os.path.join(EXPECTED, case + ".txt"), "w") as f:
            f.write(got)
    assert got == expected(case)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast(case):
    r = view(record(case, "fast").path)
    assert r.returncode == 0, r.stderr
    assert summary_ok(r.stderr, CASES[case][3]), r.stderr
    got = normalize(r.stdout)
    # Before 3.12 fast mode has no exception events: compare without them.
    no_exc = "!! " not in got
    assert blocks(got) == blocks(expected(case), drop_exceptions=no_exc)


def test_color_and_paths():
    path = record("calls", "events").path
    plain = view(path).stdout
    colored = view(path, params="color=yes")
    assert colored.returncode == 0
    assert "\033[" in colored.stdout
    assert re.sub(r"\033\[[0-9;]*m", "", colored.stdout) == plain
    assert "\033[" not in view(path, params="color=no").stdout
    full = view(path, params="path=full").stdout
    assert f"  {os.path.join(PROGRAMS, 'calls.py')}:17\n" in full
    stripped = view(path, params=f"path=\"{HERE}\"").stdout
    assert "  programs/calls.py:17\n" in stripped
    bad = view(path, params="color=\"maybe\"")
    assert bad.returncode == 1 and "parameter `color` must be a boolean" in bad.stderr
    bad = view(path, params="colour=yes")
    assert bad.returncode == 1
    assert "unknown parameter `colour` (known: color, path, progress)" in bad.stderr
    # progress lines (at most one a second) go to stderr: stdout is the same
    assert view(path, params="progress=yes").stdout == plain


# ---- what is not a libpytrace trace: a clear message, an error status, no crash ----

def failed_cleanly(r):
    assert r.returncode == 1, (r.returncode, r.stderr)  # not a signal, not a success
    return r.stderr


def test_not_a_trace(tmp_path):
    (tmp_path / "notes.txt").write_text("not a trace\n")
    assert "No trace was found" in failed_cleanly(view(str(tmp_path)))


def test_no_libpytrace_events():
    # A real trace, of another provider only: lttng-ust's malloc wrapper.
    env = dict(os.environ, LD_PRELOAD="liblttng-ust-libc-wrapper.so.1")
    t = retried(lttngharness.run_traced, ["/bin/sh", "-c", "exit 0"], env=env, keep=True,
                events="lttng_ust_libc:*")
    try:
        assert t.events, "the libc wrapper recorded nothing"
        assert "no libpytrace events in this trace" in failed_cleanly(view(t.path))
    finally:
        shutil.rmtree(t.path, ignore_errors=True)


@pytest.mark.parametrize("keep_index", [True, False])
def test_truncated_trace(keep_index):
    src = record("ccalls", "events").path
    with tempfile.TemporaryDirectory(prefix="pytrace-trunc-") as tmp:
        dst = os.path.join(tmp, "trace")
        shutil.copytree(src, dst)
        streams = []
        for root, dirs, files in os.walk(dst):
            if not keep_index and "index" in dirs:
                shutil.rmtree(os.path.join(root, "index"))
                dirs.remove("index")
            streams += [os.path.join(root, f) for f in files if f.startswith("chan")]
        biggest = max(streams, key=os.path.getsize)
        os.truncate(biggest, os.path.getsize(biggest) - 1000)
        err = failed_cleanly(view(dst))
        assert "ERROR:" in err and "CAUSED BY" in err


# ---- the plugin under valgrind: no error, no definite leak, on the decoding and error paths ----

@pytest.mark.parametrize("mode", ["events", "fast"])
def test_valgrind(mode):
    valgrind = shutil.which("valgrind")
    if not valgrind:
        if os.environ.get("CI") == "true":
            pytest.fail("valgrind is not installed")
        pytest.skip("valgrind is not installed")
    t = record("calls", mode)
    vg = [valgrind, "--error-exitcode=99", "--leak-check=full",
          "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite"]
    r = subprocess.run(vg + [BABELTRACE2, f"--plugin-path={PLUGIN_DIR}", t.path,
                             "-c", "sink.pytrace.stack"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert normalize(r.stdout) == normalize(view(t.path).stdout)
    # A component that fails to initialize frees what it had made.
    r = subprocess.run(vg + [BABELTRACE2, f"--plugin-path={PLUGIN_DIR}", t.path,
                             "-c", "sink.pytrace.stack", "-p", "color=\"maybe\""],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
