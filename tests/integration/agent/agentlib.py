# SPDX-License-Identifier: MIT
"""Helpers of the agent tests: private session daemons, the program under pytrace-run, and
`lttng list --python` read back.

A private daemon has its own LTTNG_HOME (a temporary folder), its own agent port and
`--no-kernel`, so that the tests can start, kill and restart it without touching the shared root
daemon of the machine. As root, lttng-sessiond always uses /var/run/lttng (the shared daemon's
folder) whatever LTTNG_HOME says: there the private daemon runs as `nobody`, a per-user daemon
whose port file is $LTTNG_HOME/.lttng/agent.port — the "user" port file of the program, which
gets the same LTTNG_HOME. Runs with Debian's /usr/bin/python3.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

LTTNG = shutil.which("lttng") or "/usr/bin/lttng"
SESSIOND = shutil.which("lttng-sessiond") or "/usr/bin/lttng-sessiond"
PYTRACE_RUN = os.environ["PYTRACE_RUN"]
PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loggers.py")
NOBODY = 65534


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_daemon_user(argv, home):
    env = ["env", f"LTTNG_HOME={home}"]
    if os.getuid() == 0:
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                *env, *argv]
    return [*env, *argv]


def parse_list(text):
    """{pid: [logger names]} from `lttng list --python`."""
    out, pid = {}, None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("PID:"):
            pid = int(s.split()[1])
            out.setdefault(pid, [])
        elif pid is not None and s.startswith("- "):
            out[pid].append(s[2:].split(" [")[0])
    return out


class Home:
    """A private LTTNG_HOME, writable by the daemon's user; removed by cleanup()."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="pytrace-agent-home-")
        os.makedirs(os.path.join(self.path, ".lttng"))
        if os.getuid() == 0:
            for d in (self.path, os.path.join(self.path, ".lttng")):
                os.chown(d, NOBODY, NOBODY)
        self.port_file = os.path.join(self.path, ".lttng", "agent.port")

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Daemon:
    """A private lttng-sessiond in @home, on its own agent port."""

    def __init__(self, home):
        self.home = home
        self.pid = None
        self.port = None

    def start(self):
        self.port = free_port()
        subprocess.run(_as_daemon_user([SESSIOND, "--daemonize", "--no-kernel",
                                        f"--agent-tcp-port={self.port}"], self.home.path),
                       check=True, timeout=60, capture_output=True)
        pid_file = os.path.join(self.home.path, ".lttng", "lttng-sessiond.pid")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.lttng("list", check=False).returncode == 0 and os.path.exists(pid_file):
                with open(pid_file) as f:
                    self.pid = int(f.read().strip())
                return self
            time.sleep(0.05)
        raise RuntimeError("the private session daemon did not come up")

    def lttng(self, *args, check=True, timeout=30):
        r = subprocess.run(_as_daemon_user([LTTNG, *args], self.home.path),
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"lttng {' '.join(args)}: {r.returncode}: {r.stderr.strip()}")
        return r

    def list_python(self):
        return parse_list(self.lttng("list", "--python").stdout)

    def wait_listed(self, pid, names=None, timeout=10):
        """Seconds until @pid is listed (with @names, if given); fails after @timeout."""
        start = time.monotonic()
        seen = None
        while time.monotonic() - start < timeout:
            seen = self.list_python()
            if pid in seen and (names is None or sorted(seen[pid]) == sorted(names)):
                return time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError(f"pid {pid} not listed by the daemon within {timeout} s: {seen}")

    def stop(self, sig=signal.SIGTERM):
        if not self.pid:
            return
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None


class Program:
    """loggers.py under pytrace-run with PYTRACE_LOGGING=1 and LTTNG_HOME=@home."""

    def __init__(self, home, loggers, env=None):
        e = dict(os.environ)
        e.update({"PYTRACE_LOGGING": "1", "LTTNG_HOME": home.path})
        e.update(env or {})
        self.proc = subprocess.Popen([PYTRACE_RUN, PROGRAM, *loggers], env=e,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        assert self.readline() == "ready"

    def readline(self):
        return self.proc.stdout.readline().strip()

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def ping(self):
        self.send("ping")
        assert self.readline() == "pong"

    def finish(self, timeout=30):
        """Closes stdin; (exit code, rest of stdout, stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


class StalledListener:
    """Accepts TCP connections on 127.0.0.1 and never answers: a daemon that hangs, which a real
    lttng-sessiond cannot be made to do. Keeps what each connection sent."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.received = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.conns.append(c)
            # Read what the agent sends (the kernel would buffer it anyway), answer nothing.
            c.settimeout(2)
            try:
                self.received.append(c.recv(64))
            except OSError:
                self.received.append(b"")

    def close(self):
        self._stop = True
        self._thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()
