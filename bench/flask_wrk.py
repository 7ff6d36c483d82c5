#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Requests per second of a Flask server under wrk: untraced, attached idle, recording request
events, recording every function event. Needs wrk, a running lttng-sessiond and Flask for the
build's CPython (Debian: python3-flask; python3-waitress for --servers waitress).

    bench/flask_wrk.py [--rounds N] [--duration S] [--threads T] [--connections C]
        [--servers werkzeug,waitress] [--quick] BUILD_DIR...
    bench/flask_wrk.py --instructions BUILD_DIR...

The server is bench/programs/flask_server.py, one route doing little work, served by
werkzeug's threaded server (a thread per connection, HTTP/1.0; the default) or waitress (four
threads, keep-alive connections; a table of its own). It runs under the CPython the build
embeds (the interpreter of its Python package; PYTRACE_PYTHON to override) with
PYTHONPATH=BUILD/python, in four modes:

| mode | process | session |
|---|---|---|
| untraced | `python3 flask_server.py` (pytrace never imported) | none |
| idle | `python3 -m pytrace flask_server.py --instrument` (`Pytrace(app)`) | none |
| requests | the same | `python:request_*` |
| all | the same | `python:*` (request and function events) |

Each run is a server process of its own: started stopped, its pid tracked by its own session
(8 x 8 MiB sub-buffers per CPU, trace on tmpfs, destroyed with its trace afterwards), resumed,
asked `/recording` until it says its requests are recorded (recording modes: a process records
nothing before its liblttng-ust has registered with the session daemon), warmed up by one
second of `wrk -t1 -c2`, then measured by `wrk -tT -cC -dSs` on `/item/42`. Modes are
interleaved round after round in a rotated order. The table shows the median req/s of each
mode, its ratio to the untraced median of the same run, min and max; the median of wrk's mean
latency; the median of the server's CPU time per request during the measured run (all its
threads, /proc/PID/stat), which other processes competing for the CPUs inflate less than they
do req/s (LTTng's consumer daemon is another process: its CPU time is not in it); the
discarded events of the recording runs (`lttng list`) and the trace size. The request events
of every `requests` run are counted in its trace against the requests the server says it
served. The goal: recording request events keeps >= 0.95x the untraced rate.

--instructions counts instead, with callgrind, the instructions per request of the same four
modes through Flask's test client (no server: the app and what pytrace adds to it; recording
modes must record every request), which do not move from run to run as req/s do here. Needs
valgrind.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchtools as bt  # noqa: E402

PROG = os.path.join(bt.BENCH, "programs", "flask_server.py")
PATH = "/item/42"

MODES = [  # key, label, under -m pytrace and instrumented, events the session enables
    ("untraced", "untraced (no pytrace)", False, None),
    ("idle", "attached idle (`-m pytrace`, `Pytrace(app)`, no session)", True, None),
    ("requests", "recording `python:request_*`", True, ["python:request_*"]),
    ("all", "recording `python:*` (function events too)", True, ["python:*"]),
]


def build_python(build):
    """The CPython of the build's Python package, found as python/pytrace/meson.build finds
    it: PREFIX/bin/pythonX.Y of the embed pkg-config module named by the `python` option."""
    if os.environ.get("PYTRACE_PYTHON"):
        return os.environ["PYTRACE_PYTHON"]
    with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
        opts = {o["name"]: o["value"] for o in json.load(f)}
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = ":".join(opts.get("pkg_config_path", []) +
                                      [env.get("PKG_CONFIG_PATH", "")])

    def pc(arg):
        return subprocess.run(["pkg-config", arg, opts["python"]], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    return os.path.join(pc("--variable=prefix"), "bin", "python" + pc("--modversion"))


def wait_port(p, timeout=60):
    """The port of the 'serving on PORT' line of server @p."""
    line = []
    t = threading.Thread(target=lambda: line.append(p.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout)
    m = re.match(r"serving on (\d+)$", line[0].strip()) if line else None
    if not m:
        p.kill()
        out, err = p.communicate()
        raise SystemExit(f"error: the server did not start: {(line or [''])[0]}{out}"
                         f"{err.strip()[-600:]}")
    return int(m.group(1))


def wrk(port, threads, connections, duration):
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
           f"http://127.0.0.1:{port}{PATH}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    m = re.search(r"^Requests/sec:\s*([\d.]+)", p.stdout, re.M)
    if p.returncode or not m:
        raise SystemExit(f"error: {' '.join(cmd)} failed ({p.returncode}): "
                         f"{p.stdout}{p.stderr}")
    n = re.search(r"^\s*(\d+) requests in", p.stdout, re.M)
    lat = re.search(r"^\s*Latency\s+([\d.]+)(us|ms|s)\b", p.stdout, re.M)
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)",
                                            re.search(r"Socket errors:.*", p.stdout).group(0)
                                            if "Socket errors" in p.stdout else ""))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", p.stdout)
    ms = float(lat.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[lat.group(2)] if lat else None
    return {"rps": float(m.group(1)), "requests": int(n.group(1)) if n else 0,
            "latency_ms": ms, "errors": errors, "non2xx": int(non2xx.group(1)) if non2xx else 0}


def cpu_seconds(pid):
    """User + system CPU time of process @pid, all its threads (those gone included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read().decode()


def wait_recording(port, timeout=60):
    """Seconds until the server says its requests are recorded; SystemExit after @timeout.
    Only once its liblttng-ust has registered with the session daemon does it record (a busy
    daemon can take seconds: the process goes on unregistered after 3 s)."""
    t0 = time.monotonic()
    while get(port, "/recording") != "yes":
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"error: the server's requests were not recorded after {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - t0


def measure(p, args, recording):
    """Warm-up, then the measured wrk run against server @p, with the server's CPU time."""
    port = wait_port(p)
    if recording:
        waited, unexpected = wait_recording(port), False
    else:
        waited, unexpected = None, get(port, "/recording") == "yes"
    wrk(port, 1, 2, 1)
    c0 = cpu_seconds(p.pid)
    res = wrk(port, args.threads, args.connections, args.duration)
    cpu = cpu_seconds(p.pid) - c0
    res["cpu_us"] = cpu * 1e6 / res["requests"] if res["requests"] else None
    res["waited"], res["unexpected"] = waited, unexpected
    return res


def stop(p):
    """SIGTERM the server, check its exit; the requests it served, and how many of them ended
    with libpytrace's hooks installed."""
    os.kill(p.pid, signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    m = re.search(r"^served (\d+) requests, (\d+) hooked$", out, re.M)
    if p.returncode or not m:
        raise SystemExit(f"error: the server exited with {p.returncode}: {out}{err[-600:]}")
    return int(m.group(1)), int(m.group(2))


def request_exits(trace):
    """The python:request_exit events of @trace: their count, and a Counter of the
    (status, error) of those that are not a plain 200."""
    import collections

    import bt2

    n, odd = 0, collections.Counter()
    for msg in bt2.TraceCollectionMessageIterator(trace):
        if type(msg) is bt2._EventMessageConst and msg.event.name == "python:request_exit":
            n += 1
            f = msg.event.payload_field
            error = str(f["error"])  # "-" for none
            if int(f["status"]) != 200 or error != "-":
                odd[(int(f["status"]), error)] += 1
    return n, odd


def one(py, server, mode, args, env):
    key, _, traced, events = mode
    cmd = [py, *(["-m", "pytrace"] if traced else []), PROG,
           *(["--instrument"] if traced else []), "--server", server, "0"]
    res = {"others": bt.active_sessions()}
    if events:
        with bt.Session(f"flask-{key}", events) as s:
            p = bt.spawn_stopped(cmd, env)
            try:
                s.track(p.pid)
                s.start()
                os.kill(p.pid, signal.SIGCONT)
                res.update(measure(p, args, True))
                res["served"], res["hooked"] = stop(p)
            except BaseException:
                p.kill()
                p.wait()
                raise
            s.stop()
            res["discarded"], res["lost"] = s.discarded()
            res["trace_bytes"] = s.trace_bytes()
            if key == "requests":
                res["recorded"], res["odd"] = request_exits(s.output)
    else:
        p = bt.spawn_stopped(cmd, env)
        try:
            os.kill(p.pid, signal.SIGCONT)
            res.update(measure(p, args, False))
            res["served"], res["hooked"] = stop(p)
        except BaseException:
            p.kill()
            p.wait()
            raise
    return res


def callgrind(py, mode, n, env):
    """Instructions of a whole process sending @n requests through the test client in @mode;
    checks that a recording mode recorded all of them."""
    key, _, traced, events = mode
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", py,
           *(["-m", "pytrace"] if traced else []), PROG, *(["--instrument"] if traced else []),
           "--test-client", str(n)]
    if events:
        with bt.Session(f"flask-instr-{key}", events) as s:
            rc, out, err = bt.run_process(cmd, env, s)
            recorded, _ = request_exits(s.output)
            disc, _ = s.discarded()
        if recorded != n or disc:
            raise SystemExit(f"error: {key}: {recorded} request_exit events recorded for {n} "
                             f"requests, {disc} discarded (liblttng-ust registered late?)")
    else:
        rc, out, err = bt.run_process(cmd, env)
    m = re.search(r"Collected : (\d+)", err)
    if rc or not m or f"served {n} requests" not in out:
        raise SystemExit(f"error: {' '.join(cmd)} failed ({rc}): {out}{err.strip()[-600:]}")
    return int(m.group(1))


def count_instructions(py, build, env, pyver, flaskver, n1=100, n2=300):
    """Instructions per request of each mode: the difference of whole-process counts of @n2 and
    @n1 requests through the test client (start-up, imports and the session cancel out)."""
    per = {}
    for mode in MODES:
        a, b = callgrind(py, mode, n1, env), callgrind(py, mode, n2, env)
        per[mode[0]] = (b - a) / (n2 - n1)
        bt.log(f"  {mode[0]}: {per[mode[0]]:.0f} instructions per request")
    print(f"### Flask: instructions per request (callgrind), Python {pyver} ({py}), Flask "
          f"{flaskver} ({build})\n")
    print(f"`/item/42` through Flask's test client (`flask_server.py --test-client N`: the app "
          f"and the instrumentation, no server, no socket), ({n2} - {n1} requests) / "
          f"{n2 - n1}; {bt.source_summary()}.\n")
    print("| mode | instructions per request | added | ratio |")
    print("|---|---:|---:|---:|")
    for key, label, *_ in MODES:
        print(f"| {label} | {per[key]:.0f} | {per[key] - per['untraced']:+.0f} | "
              f"{per[key] / per['untraced']:.3f} |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    ap.add_argument("--threads", type=int, default=2, help="wrk -t")
    ap.add_argument("--connections", type=int, default=8, help="wrk -c")
    ap.add_argument("--servers", default="werkzeug",
                    help="comma-separated: werkzeug (the default), waitress (python3-waitress)")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 3 s: a smoke run")
    ap.add_argument("--instructions", action="store_true",
                    help="instead of wrk: instructions per request through Flask's test "
                    "client (callgrind), in the same four modes")
    ap.add_argument("builds", nargs="+")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.duration = 2, 3
    if args.instructions:
        if not shutil.which("valgrind"):
            raise SystemExit("error: valgrind is missing (apt-get install valgrind)")
        args.servers = "werkzeug"  # only its version is printed: the test client has no server
    elif not shutil.which("wrk"):
        raise SystemExit("error: wrk is missing (apt-get install wrk)")
    servers = args.servers.split(",")
    for s in servers:
        if s not in ("werkzeug", "waitress"):
            raise SystemExit(f"error: unknown server {s!r} (werkzeug or waitress)")
    for b in args.builds:
        for s in servers:
            run_build(os.path.abspath(b), s, args)


def run_build(build, server, args):
    if not os.path.isfile(os.path.join(build, "python", "pytrace", "flask.py")):
        raise SystemExit(f"error: {build} has no pytrace.flask (build it: ninja -C {build})")
    py = build_python(build)
    env = bt.clean_env(PYTHONPATH=os.path.join(build, "python"), PYTHONDONTWRITEBYTECODE="1")
    probe = subprocess.run([py, "-c", f"import sys, importlib.metadata as m, flask, {server}; "
                            f"print(sys.version.split()[0], m.version('flask'), "
                            f"m.version('{server}'))"], capture_output=True, text=True, env=env)
    if probe.returncode:
        # Not an error: scripts/bench.sh runs every build, and pyenv's CPythons have no Flask.
        print(f"### Flask under wrk: skipped for {build}: {py} cannot import flask and "
              f"{server} (Debian: python3-flask, python3-{server})\n")
        return
    pyver, flaskver, serverver = probe.stdout.split()
    if args.instructions:
        count_instructions(py, build, env, pyver, flaskver)
        return

    res = {m[0]: [] for m in MODES}
    for r in range(args.rounds):
        order = MODES[r % len(MODES):] + MODES[:r % len(MODES)]
        for mode in order:
            x = one(py, server, mode, args, env)
            res[mode[0]].append(x)
            bt.log(f"  {server} round {r + 1}/{args.rounds} {mode[0]}: {x['rps']:.0f} req/s"
                   + (f", {x['discarded']} discarded" if "discarded" in x else ""))

    base = bt.median([x["rps"] for x in res["untraced"]])
    print(f"### Flask under wrk: requests per second, Python {pyver} ({py}), Flask {flaskver}, "
          f"{server} {serverver} ({build})\n")
    print(f"`wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
          f"http://127.0.0.1:PORT{PATH}`, {args.rounds} rounds of the 4 modes interleaved, "
          f"one server process per run; {bt.source_summary()}.\n")
    cpu_base = bt.median([x["cpu_us"] for x in res["untraced"]])
    print("| mode | req/s (median) | ratio | min | max | latency ms | server CPU µs/req | "
          "ratio | discarded events | trace MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, label, *_ in MODES:
        xs = res[key]
        rps = [x["rps"] for x in xs]
        med = bt.median(rps)
        lat = [x["latency_ms"] for x in xs if x["latency_ms"] is not None]
        lat = f"{bt.median(lat):.2f}" if lat else "?"
        disc = str(sum(x["discarded"] for x in xs)) if "discarded" in xs[0] else "—"
        mib = (f"{bt.median([x['trace_bytes'] for x in xs]) / 2**20:.1f}"
               if "trace_bytes" in xs[0] else "—")
        cpu = bt.median([x["cpu_us"] for x in xs])
        print(f"| {label} | {med:.0f} | {med / base:.3f} | {min(rps):.0f} | {max(rps):.0f} | "
              f"{lat} | {cpu:.0f} | {cpu / cpu_base:.2f} | {disc} | {mib} |")
    req = bt.median([x["rps"] for x in res["requests"]]) / base
    print(f"\nrecording request events / untraced = **{req:.3f}** (goal >= 0.95: "
          f"{'met' if req >= 0.95 else 'not met'} in this run)\n")
    notes = []
    for x in res["requests"]:
        if x["recorded"] != x["served"] or x["odd"]:
            odd = ", ".join(f"{n} with status {st}" + (f" error {e!r}" if e else "")
                            for (st, e), n in sorted(x["odd"].items()))
            notes.append(f"a `requests` run recorded {x['recorded']} request_exit events for "
                         f"{x['served']} requests served" + (f" ({odd})" if odd else ""))
    waits = [x["waited"] for key in ("requests", "all") for x in res[key]]
    notes.append(f"recording runs: the server's requests were recorded {bt.median(waits):.2f} s "
                 f"(median; max {max(waits):.2f} s) after it listened (liblttng-ust's "
                 f"registration); measured from then on")
    recorded = sum(x["recorded"] for x in res["requests"])
    served = sum(x["served"] for x in res["requests"])
    notes.append(f"`requests` runs: {recorded} python:request_exit events recorded for {served} "
                 f"requests served (warm-up included)")
    for key, *_ in MODES:
        if any(x["unexpected"] for x in res[key]):
            notes.append(f"{key}: {sum(x['unexpected'] for x in res[key])} runs had their "
                         f"requests recorded (another session enabling python:request_*?)")
        hooked = [x for x in res[key] if x["hooked"]]
        if key != "all" and hooked:
            notes.append(f"{key}: {len(hooked)} runs had hooks installed during "
                         f"{sum(x['hooked'] for x in hooked)} requests (another session "
                         f"enabling python events?)")
        if key == "all":
            notes.append(f"`all` runs: hooks installed during "
                         f"{sum(x['hooked'] for x in res[key])} of "
                         f"{sum(x['served'] for x in res[key])} requests")
        bad = [x for x in res[key] if x["errors"] or x["non2xx"]]
        if bad:
            notes.append(f"{key}: {len(bad)} runs with socket errors or non-2xx responses "
                         f"({sum(x['errors'] for x in bad)} errors, "
                         f"{sum(x['non2xx'] for x in bad)} non-2xx)")
        lost = sum(x.get("lost", 0) for x in res[key])
        if lost:
            notes.append(f"{key}: {lost} lost packets")
    others = sorted({s for key in res for x in res[key] for s in x["others"]})
    if others:
        notes.append(f"other sessions active during some runs: {', '.join(others)}")
    for line in bt.machine_summary():
        notes.append(line)
    print("Notes:\n")
    for n in notes:
        print(f"- {n}")
    print()


if __name__ == "__main__":
    main()
