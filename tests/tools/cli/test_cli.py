# SPDX-License-Identifier: MIT
"""The `pytrace` command (tools/pytrace, docs/tools.md) as a user runs it: real sessions of the
machine's session daemon, real relay daemons, the plugin of the build directory.

- record: the program's exit status (normal, failing, killed by a signal), argv, stdin and
  stdout are those of the untraced program; the trace holds its calls (read back with bt2, as
  tests/integration do); both modes; any command (with libpytrace or without); signals sent to
  pytrace reach the program once; a session daemon is started when none runs (as `nobody`, with
  a private LTTNG_HOME: the machine's daemon is never touched).
- view/export/profile through the command on recorded traces (sanity only: the sinks have
  their own tests in tests/tools/stack, chrome, profile).
- bad input: one line "pytrace: ..." and exit status 1 (2 for usage errors), never a traceback.
- live: `record --live` (its own relay daemon on free ports), `view --live` of a session on a
  private relay daemon; every run bounded by a timeout.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import bt2
import pytest

import lttngharness

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
WORK = os.path.join(PROGRAMS, "work.py")
WAITER = os.path.join(PROGRAMS, "waiter.py")
PYTRACE = os.environ["PYTRACE_CLI"]
RUN = os.environ["PYTRACE_RUN"]
PYTHON = os.environ.get("PYTRACE_PYTHON", "/usr/bin/python3")
LTTNG = shutil.which("lttng") or "/usr/bin/lttng"
RELAYD = shutil.which("lttng-relayd") or "/usr/bin/lttng-relayd"
NOBODY = 65534
WORK_CALLS = {"<module>", "main", "Box.size", "total", "square"}


@pytest.fixture(scope="module", autouse=True)
def sessiond():
    lttngharness.ensure_sessiond()


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="pytrace-cli-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def pytrace(*args, timeout=120, **kw):
    return subprocess.run([PYTRACE, *args], capture_output=True, text=True, timeout=timeout,
                          **kw)


def untraced(*args, **kw):
    return subprocess.run([PYTHON, *args], capture_output=True, text=True, timeout=60, **kw)


def clean_stderr(stderr):
    """The program's stderr: pytrace's own lines left out."""
    return "".join(l for l in stderr.splitlines(True) if not l.startswith("pytrace: "))


def one_line_error(r, status):
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pytrace: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def calls(path, balanced=True):
    """The calls of __main__ in the trace at @path (lttngharness.compact); every thread's
    entries and returns balanced unless the program was killed (its frames stay open)."""
    events, discarded = lttngharness.read_trace(path)
    assert discarded == 0
    main = [e for e in events if e["event"] in ("function__entry", "function__return",
                                                  "exception")
            and e["module"] == "__main__"]
    if balanced:
        lttngharness.assert_balanced([e for e in events if e["event"] != "exception"])
    return lttngharness.compact(main)


_traces = {}


def recorded(mode="events"):
    """A trace of work.py, recorded once per mode with `pytrace record`."""
    if mode not in _traces:
        out = os.path.join(tempfile.mkdtemp(prefix="pytrace-cli-trace-"), "t")
        r = pytrace("record", "-o", out, "--mode", mode, "--", WORK, "0")
        assert r.returncode == 0, r.stderr
        _traces[mode] = out
    return _traces[mode]


def teardown_module():
    for t in _traces.values():
        shutil.rmtree(os.path.dirname(t), ignore_errors=True)


# ---------------------------------------------------------------- record

@pytest.mark.parametrize("what,status", [("0", 0), ("3", 3), ("raise", 1),
                                         ("kill", 128 + signal.SIGKILL),
                                         ("term", 128 + signal.SIGTERM)])
def test_record_status_argv_output(tmp, what, status):
    out = os.path.join(tmp, "trace")
    r = pytrace("record", "-o", out, "--", WORK, what, "two words", "--stdin",
                input="from stdin\n")
    u = untraced(WORK, what, "two words", "--stdin", input="from stdin\n")
    assert u.returncode in (status, -(status - 128))
    assert r.returncode == status, r.stderr
    assert r.stdout == u.stdout
    assert "argv ['" + what + "', 'two words', '--stdin']" in r.stdout
    assert "stdin from stdin" in r.stdout
    assert clean_stderr(r.stderr) == u.stderr
    assert f"pytrace: trace written to {out} (view it: pytrace view {out})" in r.stderr
    got = calls(out, balanced=what not in ("kill", "term"))
    assert {c.split()[1] for c in got if c.startswith("call ")} >= WORK_CALLS
    assert got.count("call square") == 3
    if what == "raise":
        assert "exception ValueError in main" in got


def test_record_fast_mode(tmp):
    out = os.path.join(tmp, "trace")
    r = pytrace("record", "-o", out, "--mode", "fast", "--", WORK, "0")
    assert r.returncode == 0, r.stderr
    events, _ = lttngharness.read_trace(out, decode=False)
    assert any(e["event"] == "records" for e in events)
    got = calls(out)
    assert got.count("call square") == 3


def test_record_module_and_c_calls(tmp):
    out = os.path.join(tmp, "trace")
    r = pytrace("record", "-o", out, "--c-calls", "--", "-m", "work", "5", cwd=PROGRAMS)
    assert r.returncode == 5, r.stderr
    events, _ = lttngharness.read_trace(out)
    assert any(e["event"] == "c_function__entry" and e["name"] == "sum" for e in events)
    assert calls(out).count("call square") == 3


def test_record_command_with_libpytrace(tmp):
    """Not a script: run as it is (here pytrace-run itself, given by its path)."""
    out = os.path.join(tmp, "trace")
    r = pytrace("record", "-o", out, "--", RUN, WORK, "4")
    assert r.returncode == 4, r.stderr
    assert calls(out).count("call square") == 3


def test_record_command_without_python(tmp):
    out = os.path.join(tmp, "trace")
    r = pytrace("record", "-o", out, "--", "/bin/sh", "-c", 'echo "out $1"; echo err >&2; exit 9',
                "sh", "arg")
    assert r.returncode == 9
    assert r.stdout == "out arg\n"
    assert clean_stderr(r.stderr) == "err\n"
    assert "pytrace: no events were recorded" in r.stderr
    line = one_line_error(pytrace("view", out), 1)
    assert "empty trace" in line


def test_record_forwards_signals(tmp):
    out = os.path.join(tmp, "trace")
    p = subprocess.Popen([PYTRACE, "record", "-o", out, "--", WAITER], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGTERM)
        rest, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert rest == f"got [{int(signal.SIGTERM)}]\n", err
    assert p.returncode == 40 + signal.SIGTERM, err
    assert "trace written to" in err


def test_record_default_output_and_name(tmp):
    name = f"pytrace-cli-{os.getpid()}"
    r = pytrace("record", "--name", name, "--", WORK, "0", cwd=tmp)
    assert r.returncode == 0, r.stderr
    made = [d for d in os.listdir(tmp) if d.startswith("pytrace-")]
    assert len(made) == 1
    assert calls(os.path.join(tmp, made[0])).count("call square") == 3
    assert name not in lttngharness._lttng("list").stdout  # destroyed


def test_record_starts_a_session_daemon():
    """As `nobody` with a private LTTNG_HOME, where no session daemon runs: pytrace starts one
    and stops it at the end."""
    home = tempfile.mkdtemp(prefix="pytrace-cli-home-")
    try:
        os.chmod(home, 0o755)
        if os.getuid() == 0:
            os.chown(home, NOBODY, NOBODY)
            pre = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        else:
            pre = []
        env = dict(os.environ, HOME=home, LTTNG_HOME=home)
        out = os.path.join(home, "trace")
        r = subprocess.run([*pre, PYTRACE, "record", "-o", out, "--", WORK, "0"], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "pytrace: no LTTng session daemon runs: starting one" in r.stderr
        assert calls(out).count("call square") == 3
        pid_file = os.path.join(home, ".lttng", "lttng-sessiond.pid")
        deadline = time.monotonic() + 10
        while os.path.exists(pid_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(pid_file), "the session daemon pytrace started still runs"
        check = subprocess.run([*pre, LTTNG, "list"], env=env, capture_output=True, text=True)
        assert check.returncode != 0 and "No session daemon" in check.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


# ---------------------------------------------------------------- view, export, profile

@pytest.mark.parametrize("mode", ["events", "fast"])
def test_view(mode):
    r = pytrace("view", "--color", "never", recorded(mode))
    assert r.returncode == 0, r.stderr
    assert re.search(r"^ *-> Box\.size  work\.py:\d+$", r.stdout, re.M)
    assert len(re.findall(r"^ *-> square  work\.py:\d+$", r.stdout, re.M)) == 3
    assert "\x1b[" not in r.stdout
    assert re.search(r"^pytrace: \d+ events, 1 threads", r.stderr, re.M)
    r = pytrace("view", "--color", "always", recorded(mode))
    assert "\x1b[" in r.stdout


def test_export_chrome_zipkin(tmp):
    out = os.path.join(tmp, "out.json")
    r = pytrace("export", recorded(), "-o", out)
    assert r.returncode == 0, r.stderr
    with open(out) as f:
        doc = json.load(f)
    names = [e.get("name") for e in doc["traceEvents"]]
    assert names.count("square") == 3 and "Box.size" in names
    odd = os.path.join(tmp, 'odd "name" \\ here.json')
    r = pytrace("export", "--format", "zipkin", "--service", 'svc "x"', recorded(), "-o", odd)
    assert r.returncode == 0, r.stderr
    with open(odd) as f:
        assert isinstance(json.load(f), list)


def test_profile(tmp):
    r = pytrace("profile", recorded(), "--sort", "calls", "--limit", "200")
    assert r.returncode == 0, r.stderr
    row = [l for l in r.stdout.splitlines() if l.endswith("(square)")]
    assert len(row) == 1 and row[0].split()[0] == "3", r.stdout
    r = pytrace("profile", recorded("fast"), "--folded")
    assert r.returncode == 0, r.stderr
    assert re.search(r";__main__\.Box\.size;__main__\.total;.*;__main__\.square \d+$",
                     r.stdout, re.M), r.stdout
    svg = os.path.join(tmp, "flame.svg")
    r = pytrace("profile", recorded(), "--svg", svg, "--unit", "ms")
    assert r.returncode == 0, r.stderr
    with open(svg) as f:
        assert "<svg" in f.read(2000)


# ---------------------------------------------------------------- bad input

def copy_trace(tmp):
    dst = os.path.join(tmp, "copy")
    shutil.copytree(recorded(), dst)
    return dst


def stream_dir(trace):
    for root, dirs, files in os.walk(trace):
        if "metadata" in files:
            return root
    raise AssertionError("no stream directory")


def test_bad_paths(tmp):
    for cmd in (["view"], ["profile"], ["export", "-o", os.path.join(tmp, "x.json")]):
        assert "no such file or directory" in one_line_error(
            pytrace(*cmd, os.path.join(tmp, "nothere")), 1)
        assert "not a CTF trace" in one_line_error(pytrace(*cmd, tmp), 1)
        with open(os.path.join(tmp, "file"), "w") as f:
            f.write("hello\n")
        assert "not a trace" in one_line_error(pytrace(*cmd, os.path.join(tmp, "file")), 1)


def test_truncated_metadata(tmp):
    t = copy_trace(tmp)
    meta = os.path.join(stream_dir(t), "metadata")
    with open(meta, "r+b") as f:
        f.truncate(os.path.getsize(meta) - 100)
    line = one_line_error(pytrace("view", t, timeout=60), 1)
    assert "metadata" in line


def test_corrupt_stream(tmp):
    t = copy_trace(tmp)
    d = stream_dir(t)
    chan = sorted(f for f in os.listdir(d) if f.startswith("pytrace_"))[0]
    with open(os.path.join(d, chan), "r+b") as f:
        f.truncate(1000)
    line = one_line_error(pytrace("view", t, timeout=60), 1)
    assert "cannot read the trace" in line


class _OtherIter(bt2._UserMessageIterator):
    def __init__(self, config, port):
        tc, sc, ec = port.user_data
        stream = tc().create_stream(sc)
        packet = stream.create_packet()
        ev = self._create_event_message(ec, packet, default_clock_snapshot=10)
        ev.event.payload_field["msg"] = "hello"
        self._msgs = [self._create_stream_beginning_message(stream),
                      self._create_packet_beginning_message(packet, 5), ev,
                      self._create_packet_end_message(packet, 20),
                      self._create_stream_end_message(stream)][::-1]

    def __next__(self):
        if not self._msgs:
            raise StopIteration
        return self._msgs.pop()


class _OtherSource(bt2._UserSourceComponent, message_iterator_class=_OtherIter):
    """One event `myapp:hello` of another provider."""

    def __init__(self, config, params, obj):
        tc = self._create_trace_class()
        cc = self._create_clock_class(frequency=1_000_000_000)
        sc = tc.create_stream_class(default_clock_class=cc, supports_packets=True,
                                    packets_have_beginning_default_clock_snapshot=True,
                                    packets_have_end_default_clock_snapshot=True)
        payload = tc.create_structure_field_class()
        payload.append_member("msg", tc.create_string_field_class())
        self._add_output_port("out", (tc, sc, sc.create_event_class(
            name="myapp:hello", payload_field_class=payload)))


def test_trace_without_our_events(tmp):
    """A valid CTF trace (written by babeltrace2's sink.ctf.fs) with another provider's events
    only."""
    out = os.path.join(tmp, "other")
    graph = bt2.Graph()
    src = graph.add_component(_OtherSource, "src")
    sink = graph.add_component(bt2.find_plugin("ctf").sink_component_classes["fs"], "sink",
                               params={"path": out, "assume-single-trace": True})
    graph.connect_ports(src.output_ports["out"], sink.input_ports["in"])
    graph.run()
    for cmd in (["view"], ["profile"], ["export", "-o", os.path.join(tmp, "x.json")]):
        line = one_line_error(pytrace(*cmd, out), 1)
        assert "no libpytrace events" in line


def test_native_without_python(tmp):
    """--native on a program without libpytrace: it runs, keeps its status; what was recorded
    (the state dump, if the program lived long enough) is not ours."""
    out = os.path.join(tmp, "trace")
    r = pytrace("record", "--native", "-o", out, "--", "/bin/sh", "-c", "exit 3")
    assert r.returncode == 3, r.stderr
    line = one_line_error(pytrace("view", out), 1)
    assert "empty trace" in line or "no libpytrace events" in line


def test_usage_errors(tmp):
    assert "which program" in one_line_error(pytrace("record"), 2)
    assert "unrecognized arguments" in one_line_error(pytrace("record", "--bogus", "--",
                                                              WORK), 2)
    assert "invalid choice" in one_line_error(pytrace("record", "--mode", "slow", "--",
                                                      WORK), 2)
    assert "invalid choice" in one_line_error(
        pytrace("export", "--format", "xml", recorded(), "-o", os.path.join(tmp, "x")), 2)
    assert "required" in one_line_error(pytrace("export", recorded()), 2)
    assert "invalid choice" in one_line_error(pytrace("frobnicate"), 2)
    assert "invalid int" in one_line_error(pytrace("profile", recorded(), "--limit", "x"), 2)
    assert "command not found" in one_line_error(
        pytrace("record", "--", "no-such-command-here"), 1)
    assert "no such file" in one_line_error(pytrace("record", "--", "nothere.py"), 1)
    assert "not a live URL" in one_line_error(pytrace("view", "--live", "http://x"), 2)


def test_unknown_sort():
    line = one_line_error(pytrace("profile", recorded(), "--sort", "bogus"), 1)
    assert "sort" in line and "bogus" in line


def test_output_exists(tmp):
    with open(os.path.join(tmp, "x"), "w") as f:
        f.write("x")
    line = one_line_error(pytrace("record", "-o", tmp, "--", WORK), 1)
    assert "not an empty directory" in line


# ---------------------------------------------------------------- live

def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Relayd:
    """A private lttng-relayd on free ports of 127.0.0.1, writing into its own folder."""

    def __init__(self):
        self.out = tempfile.mkdtemp(prefix="pytrace-cli-relayd-")
        self.ctrl, self.data, self.live = free_ports(3)
        self.proc = subprocess.Popen([
            RELAYD, f"--control-port=tcp://127.0.0.1:{self.ctrl}",
            f"--data-port=tcp://127.0.0.1:{self.data}",
            f"--live-port=tcp://127.0.0.1:{self.live}", f"--output={self.out}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.live), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("the private relay daemon did not come up")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.out, ignore_errors=True)


def live_lines(text):
    return [l.strip() for l in text.splitlines() if re.match(r"^ *-> \S+  work\.py:\d+$", l)]


def test_record_live(tmp):
    out = os.path.join(tmp, "trace")
    r = pytrace("record", "--live", "--color", "never", "-o", out, "--", WORK, "6",
                timeout=180)
    assert r.returncode == 6, r.stderr
    assert r.stdout == untraced(WORK, "6").stdout  # the view goes to stderr
    seen = [l.split()[1] for l in live_lines(r.stderr)]
    assert set(seen) >= WORK_CALLS and seen.count("square") == 3, r.stderr
    assert f"trace written to {out}" in r.stderr
    assert calls(out).count("call square") == 3


def test_record_live_on_a_given_relayd(tmp):
    relayd = Relayd()
    try:
        name = f"pytrace-cli-live-{os.getpid()}"
        r = pytrace("record", "--live", "--name", name, "--color", "never", "--relayd",
                    f"127.0.0.1:{relayd.ctrl}:{relayd.data}:{relayd.live}", "--", WORK, "0",
                    timeout=180)
        assert r.returncode == 0, r.stderr
        seen = [l.split()[1] for l in live_lines(r.stderr)]
        assert seen.count("square") == 3, r.stderr
        assert "kept by the relay daemon" in r.stderr
        kept = [os.path.join(root, d) for root, dirs, _ in os.walk(relayd.out) for d in dirs
                if d.startswith(name)]
        assert len(kept) == 1
        assert calls(kept[0]).count("call square") == 3
    finally:
        relayd.stop()


def test_view_live(tmp):
    """A live session made with lttng itself on a private relay daemon; `pytrace view --live`
    lists it, attaches, shows the calls, and ends when the session is destroyed."""
    relayd = Relayd()
    name = f"pytrace-cli-view-{os.getpid()}"
    viewer = None
    lt = lttngharness._lttng
    try:
        lt("create", name, "--live=200000",
           f"--set-url=net://127.0.0.1:{relayd.ctrl}:{relayd.data}")
        # Per-user buffers: babeltrace2 2.0.4's live source misses the end of per-process
        # streams whose process exited (tools/pytrace does the same for record --live).
        lt("enable-channel", "-u", "-s", name, "--buffers-uid", "chan")
        lt("enable-event", "-u", "-s", name, "-c", "chan", "python:*")
        base = f"net://127.0.0.1:{relayd.live}"
        listed = pytrace("view", "--live", base)
        assert listed.returncode == 0, listed.stderr
        url = [l.split()[0] for l in listed.stdout.splitlines() if l.split()[0].endswith(
            "/" + name)]
        assert len(url) == 1, listed.stdout
        viewer = subprocess.Popen([PYTRACE, "view", "--color", "never", "--live", url[0]],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if f"{name}  (1 viewer)" in pytrace("view", "--live", base).stdout:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the live view did not attach")
        proc = subprocess.Popen(["/bin/sh", "-c", 'kill -STOP $$; exec "$@"', "sh", RUN, WORK,
                                 "0"], stdout=subprocess.DEVNULL)
        os.waitpid(proc.pid, os.WUNTRACED)
        lt("track", "-u", "-s", name, f"--vpid={proc.pid}")
        lt("start", name)
        os.kill(proc.pid, signal.SIGCONT)
        assert proc.wait(timeout=60) == 0
        lt("stop", name)
        lt("destroy", name)
        out, err = viewer.communicate(timeout=60)
        assert viewer.returncode == 0, err
        seen = [l.split()[1] for l in live_lines(out)]
        assert set(seen) >= WORK_CALLS and seen.count("square") == 3, out
        missing = one_line_error(pytrace("view", "--live", f"{base}/host/nohost/nosession"), 1)
        assert "no session" in missing
    finally:
        if viewer is not None and viewer.poll() is None:
            viewer.kill()
            viewer.wait()
        lt("destroy", name, check=False)
        relayd.stop()


# ---------------------------------------------------------------- native frames

def test_record_and_view_native(tmp):
    """tests/tools/stack's instrumented extension module: `record --native` preloads what it
    needs, `view --native` names its C functions between the Python frames."""
    module_dir = os.environ.get("PYTRACE_NATIVEDEMO_DIR")
    if not module_dir:
        if os.environ.get("CI") == "true":
            pytest.fail("PYTRACE_NATIVEDEMO_DIR is not set (tests/tools/stack's nativedemo)")
        pytest.skip("tests/tools/stack's nativedemo is not built")
    program = os.path.join(HERE, "..", "stack", "native", "native.py")
    out = os.path.join(tmp, "trace")
    env = dict(os.environ, PYTHONPATH=module_dir, PYTRACE_INCLUDE="__main__")
    r = pytrace("record", "--native", "-o", out, "--", program, env=env)
    assert (r.returncode, r.stdout) == (0, "13\n"), r.stderr
    r = pytrace("view", "--native", "--color", "never", out)
    assert r.returncode == 0, r.stderr
    lines = [l.strip() for l in r.stdout.splitlines()]
    i = lines.index(next(l for l in lines if l.startswith("-> caller  native.py:")))
    assert lines[i + 1:i + 4] == ["-> compute [native]", "-> triple [native]",
                                  lines[i + 3]] and lines[i + 3].startswith("<- "), r.stdout
    assert "-> add_one [native]" in lines[i + 4:i + 6], r.stdout
