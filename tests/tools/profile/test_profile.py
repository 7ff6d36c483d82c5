# SPDX-License-Identifier: MIT
"""sink.pytrace.profile on real traces: programs with known call counts (programs/) recorded by
real sessions (lttngharness) in per-event and fast mode, viewed with `babeltrace2
--plugin-path=PLUGIN_DIR TRACE -c sink.pytrace.profile`. The table's ncalls are compared with
what the programs do and with cProfile run on the same program by the same CPython; times are
only compared with each other (tottime <= cumtime, the parts sum to the whole), never with a
clock. Folded stacks must add up to the table, the SVG must parse and name the functions.
"""
import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

import lttngharness

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
PLUGIN_DIR = os.environ["PYTRACE_BT_PLUGIN_DIR"]
RUN = os.environ["PYTRACE_RUN"]
PYTHON = os.environ.get("PYTRACE_PYTHON") or "/usr/bin/python3"
CI = os.environ.get("CI") == "true"
BABELTRACE2 = shutil.which("babeltrace2") or "/usr/bin/babeltrace2"
SVG = "{http://www.w3.org/2000/svg}"

# name: (program, pytrace-run options, PYTRACE_MODE[, more environment])
CASES = {
    "known": ("known.py", [], "events"),
    "known-fast": ("known.py", [], "fast"),
    "threads": ("threads.py", [], "events"),
    "threads-fast": ("threads.py", [], "fast"),
    "ccalls": ("ccalls.py", ["--c-calls"], "events"),
    "open": ("open_frames.py", [], "events"),
    # only the program's frames, so that its tiny ones are wide enough to be drawn in the SVG
    "names": ("names.py", [], "events", {"PYTRACE_INCLUDE": "__main__"}),
    "coroutines": ("coroutines.py", [], "events"),
    "coroutines-fast": ("coroutines.py", [], "fast"),
}

_traces = {}


def teardown_module():
    for t in _traces.values():
        shutil.rmtree(t.path, ignore_errors=True)


def trace(case):
    """The case's trace, recorded once per module."""
    if case not in _traces:
        prog, opts, mode, *more = CASES[case]
        env = dict(os.environ, PYTRACE_MODE=mode, **(more[0] if more else {}))
        t = lttngharness.run_traced([RUN, *opts, os.path.join(PROGRAMS, prog)], env=env,
                                    keep=True)
        assert t.returncode == 0 and "libpytrace" not in t.stderr, t.stderr
        _traces[case] = t
    return _traces[case].path


def babeltrace(path, *params, check=True):
    argv = [BABELTRACE2, f"--plugin-path={PLUGIN_DIR}", path, "-c", "sink.pytrace.profile"]
    for p in params:
        argv += ["-p", p]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


ROW = re.compile(r"^\s*(\d+(?:/\d+)?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s(.*)$")
HEADER = re.compile(r"^\s*(\d+) function calls(?: \((\d+) primitive calls\))? in ([\d.]+) "
                    r"(seconds|ms|us)$")


class Table:
    def __init__(self, out):
        lines = out.splitlines()
        m = HEADER.match(lines[0])
        assert m, lines[0]
        self.calls = int(m.group(1))
        self.prim = int(m.group(2) or m.group(1))
        self.total = float(m.group(3))
        self.unit = m.group(4)
        m = re.match(r"^\s*(\d+) threads$", lines[1])
        assert m, lines[1]
        self.threads = int(m.group(1))
        start = next(i for i, l in enumerate(lines) if l.split()[:2] == ["ncalls", "tottime"])
        self.rows = []
        for line in lines[start + 1:]:
            m = ROW.match(line)
            assert m, line
            nc = m.group(1)
            self.rows.append({"ncalls": nc, "calls": int(nc.split("/")[0]),
                              "prim": int(nc.split("/")[-1]), "tottime": float(m.group(2)),
                              "tpercall": float(m.group(3)), "cumtime": float(m.group(4)),
                              "cpercall": float(m.group(5)), "func": m.group(6)})

    def of(self, prog, name):
        """The row of @name (a qualname) defined in programs/@prog."""
        found = [r for r in self.rows
                 if r["func"].startswith(os.path.join(PROGRAMS, prog) + ":")
                 and r["func"].endswith(f"({name})")]
        assert len(found) == 1, (name, found)
        return found[0]

    def own(self, prog):
        """{(line, co_name): row} of the functions defined in programs/@prog."""
        out = {}
        pre = os.path.join(PROGRAMS, prog) + ":"
        for r in self.rows:
            if r["func"].startswith(pre):
                m = re.match(r"(\d+)\((.*)\)$", r["func"][len(pre):])
                out[(int(m.group(1)), m.group(2).rsplit(".", 1)[-1])] = r
        return out


def table(case, *params):
    return Table(babeltrace(trace(case), *params).stdout)


KNOWN = {"fib": "1973/1", "f": "1000", "loop": "1", "gen": "11", "consume": "1", "boom": "1",
         "catch": "1", "Shape": "1", "Shape.__init__": "1", "Shape.area": "2", "main": "1",
         "main.<locals>.<lambda>": "3", "<module>": "1"}


@pytest.mark.parametrize("case", ["known", "known-fast"])
def test_known_counts(case):
    t = table(case)
    for name, nc in KNOWN.items():
        assert t.of("known.py", name)["ncalls"] == nc, name
    assert t.unit == "seconds"
    assert t.calls == sum(r["calls"] for r in t.rows)
    assert t.prim == sum(r["prim"] for r in t.rows)
    assert t.calls > t.prim  # fib's recursion
    assert t.threads == 1


@pytest.mark.parametrize("case", ["known", "known-fast", "threads", "threads-fast", "ccalls"])
def test_times_consistent(case):
    t = table(case)
    eps = 1.5e-6  # two values rounded to 6 decimals
    for r in t.rows:
        assert r["tottime"] <= r["cumtime"] + eps, r
        assert abs(r["tpercall"] - r["tottime"] / r["calls"]) <= eps, r
        assert abs(r["cpercall"] - r["cumtime"] / r["prim"]) <= eps, r
        assert r["cumtime"] <= t.total + eps, r
    assert sum(r["tottime"] for r in t.rows) <= t.total + eps * len(t.rows)
    # nothing but the calls takes time here: the parts make the whole
    assert sum(r["tottime"] for r in t.rows) == pytest.approx(t.total, abs=eps * len(t.rows))
    # a caller's inclusive time holds its callees'
    if case.startswith("known"):
        assert t.of("known.py", "main")["cumtime"] >= t.of("known.py", "fib")["cumtime"]
        assert t.of("known.py", "catch")["cumtime"] >= t.of("known.py", "boom")["cumtime"]
        assert t.of("known.py", "<module>")["cumtime"] >= t.of("known.py", "main")["cumtime"]


@pytest.mark.parametrize("case", ["known", "known-fast", "coroutines", "coroutines-fast"])
def test_same_counts_as_cprofile(case):
    """Every function of the program has the ncalls cProfile gives it: recursion, generators
    (send, throw, close), coroutines, a generator expression."""
    prog = CASES[case][0]
    r = subprocess.run([PYTHON, os.path.join(HERE, "cprofile_counts.py"),
                        os.path.join(PROGRAMS, prog)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    expected = {(line, name): (f"{nc}/{cc}" if nc != cc else str(nc))
                for line, name, cc, nc in json.loads(r.stdout)}
    got = {k: row["ncalls"] for k, row in table(case).own(prog).items()}
    assert got == expected


@pytest.mark.parametrize("sort,key,reverse", [
    ("calls", lambda r: r["calls"], True),
    ("tottime", lambda r: r["tottime"], True),
    ("cumtime", lambda r: r["cumtime"], True),
    ("name", lambda r: re.search(r"\((.*)\)$|\{(.*)\}$", r["func"]).group(1), False),
])
def test_sort(sort, key, reverse):
    t = table("known", f"sort={sort}")
    assert t.rows
    keys = [key(r) for r in t.rows]
    assert keys == sorted(keys, reverse=reverse)
    if sort == "cumtime":
        assert [r["func"] for r in table("known").rows] == [r["func"] for r in t.rows]


@pytest.mark.parametrize("alias,sort", [("ncalls", "calls"), ("time", "tottime"),
                                        ("cumulative", "cumtime"), ("filename", "file")])
def test_sort_pstats_names(alias, sort):
    assert table("known", f"sort={alias}").rows == table("known", f"sort={sort}").rows


def test_sort_file():
    t = table("known", "sort=file")
    keys = []
    for r in t.rows:
        m = re.match(r"(.*):(\d+)\(.*\)$", r["func"])
        keys.append((m.group(1), int(m.group(2))) if m else ("~", 0))
    assert keys == sorted(keys)


def test_limit():
    full = table("known", "sort=tottime")
    t = table("known", "sort=tottime", "limit=3")
    assert [r["func"] for r in t.rows] == [r["func"] for r in full.rows[:3]]
    assert (t.calls, t.prim, t.total) == (full.calls, full.prim, full.total)
    out = babeltrace(trace("known"), "limit=3").stdout
    assert f"List reduced from {len(full.rows)} to 3 due to restriction <3>" in out


def test_units():
    s = table("known")
    for unit, factor in (("ms", 1e3), ("us", 1e6), ("s", 1)):
        t = table("known", f"unit={unit}")
        assert t.unit == {"s": "seconds"}.get(unit, unit)
        assert t.total == pytest.approx(s.total * factor, abs=1e-6 * factor)
        fib = t.of("known.py", "fib")
        assert fib["cumtime"] == pytest.approx(s.of("known.py", "fib")["cumtime"] * factor,
                                               abs=1e-6 * factor)


def folded(case, *params):
    return folded_of(trace(case), *params)


def folded_of(path, *params):
    out = babeltrace(path, "folded=true", *params).stdout
    stacks = []
    for line in out.splitlines():
        stack, value = line.rsplit(" ", 1)
        stacks.append((stack.split(";"), int(value)))
    assert [";".join(s) for s, _ in stacks] == sorted(";".join(s) for s, _ in stacks)
    return stacks


def label(row, prog):
    """The folded name of a table row of programs/@prog: module.qualname."""
    return "__main__." + re.search(r"\((.*)\)$", row["func"]).group(1)


@pytest.mark.parametrize("case", ["known", "known-fast", "threads"])
def test_folded_sums_to_table(case):
    prog = CASES[case][0]
    t = table(case, "unit=us")
    stacks = folded(case)
    assert all(s[0].startswith("thread ") for s, _ in stacks)
    own = {}
    for s, v in stacks:
        own[s[-1]] = own.get(s[-1], 0) + v
    for key, row in t.own(prog).items():
        name = label(row, prog)
        n = sum(1 for s, _ in stacks if s[-1] == name)
        # each stack's value is rounded to a microsecond, the table to a thousandth of one
        assert abs(own[name] - row["tottime"]) <= 0.5 * n + 0.01, name
    calls = {}
    for s, v in folded(case, "folded-value=calls"):
        calls[s[-1]] = calls.get(s[-1], 0) + v
    for key, row in t.own(prog).items():
        assert calls[label(row, prog)] == row["calls"], row


@pytest.mark.parametrize("case", ["known", "known-fast"])
def test_folded_paths(case):
    stacks = {";".join(s[1:]): v for s, v in folded(case, "folded-value=calls")}
    m = "__main__.<module>;__main__.main"
    assert stacks[f"{m};__main__.fib"] == 1
    assert stacks[f"{m};__main__.fib;__main__.fib"] == 2
    assert stacks[f"{m};__main__.loop;__main__.f"] == 1000
    assert stacks[f"{m};__main__.consume;__main__.gen"] == 11
    assert stacks[f"{m};__main__.catch;__main__.boom"] == 1
    assert stacks[f"{m};__main__.Shape.area"] == 2
    assert stacks[f"{m};__main__.main.<locals>.<lambda>"] == 3
    depth = max(k.count("__main__.fib") for k in stacks)
    assert depth == 15  # fib(15) down to fib(1)


@pytest.mark.parametrize("case", ["threads", "threads-fast"])
def test_threads(case):
    t = table(case)
    assert t.of("threads.py", "work")["ncalls"] == "300"
    assert t.of("threads.py", "worker")["ncalls"] == "3"
    assert t.threads == 4
    per_thread = {}
    for s, v in folded(case, "folded-value=calls"):
        if s[-1] == "__main__.work":
            assert s[-2] == "__main__.worker"
            per_thread[s[0]] = per_thread.get(s[0], 0) + v
    assert sorted(per_thread.values()) == [50, 100, 150]
    assert all(re.fullmatch(r"thread \d+", k) for k in per_thread)


def test_c_calls():
    t = table("ccalls")
    gcd = [r for r in t.rows if r["func"] == "{math.gcd}"]
    assert len(gcd) == 1 and gcd[0]["ncalls"] == "7"
    assert t.of("ccalls.py", "gcds")["cumtime"] >= gcd[0]["cumtime"]
    stacks = {";".join(s[1:]): v for s, v in folded("ccalls", "folded-value=calls")}
    # 3.12+ inlines the list comprehension into gcds (PEP 709)
    assert (stacks.get("__main__.<module>;__main__.gcds;__main__.gcds.<locals>.<listcomp>;"
                       "math.gcd") == 7 or
            stacks.get("__main__.<module>;__main__.gcds;math.gcd") == 7), stacks


def test_open_frames():
    """Frames still open at the end count until their thread's last event."""
    t = table("open")
    for name in ("<module>", "main", "deep"):
        assert t.of("open_frames.py", name)["ncalls"] == "1"
    assert t.of("open_frames.py", "<module>")["cumtime"] >= \
        t.of("open_frames.py", "deep")["cumtime"]
    stacks = {";".join(s[1:]) for s, _ in folded("open", "folded-value=calls")}
    assert "__main__.<module>;__main__.main;__main__.deep" in stacks


@pytest.mark.parametrize("case", ["known", "threads-fast"])
def test_svg(case, tmp_path):
    svg = tmp_path / "flame.svg"
    r = babeltrace(trace(case), f'svg="{svg}"', 'title="<profile> & co"')
    Table(r.stdout)  # the table is printed too
    root = ET.parse(svg).getroot()
    assert root.tag == f"{SVG}svg"
    assert any(e.text == "<profile> & co" for e in root.iter(f"{SVG}text"))
    groups = [g for g in root.iter(f"{SVG}g") if g.find(f"{SVG}rect") is not None]
    tips = [g.find(f"{SVG}title").text for g in groups]
    assert tips[0].startswith("all (") and tips[0].endswith(" seconds, 100.00%)")
    names = {re.match(r"(.*) \([\d.]+ seconds, [\d.]+%\)$", tip).group(1) for tip in tips}
    want = ({"__main__.fib", "__main__.loop", "__main__.gen", "__main__.boom",
             "__main__.Shape.area", "__main__.<module>", "__main__.main.<locals>.<lambda>"}
            if case == "known" else {"__main__.work", "__main__.worker"})
    assert want <= names
    width = float(groups[0].find(f"{SVG}rect").get("width"))
    for g in groups:
        rect = g.find(f"{SVG}rect")
        assert 0 < float(rect.get("width")) <= width + 0.05
        pct = float(re.search(r"([\d.]+)%\)$", g.find(f"{SVG}title").text).group(1))
        assert float(rect.get("width")) == pytest.approx(width * pct / 100, abs=0.2)


def test_summary_and_progress():
    r = babeltrace(trace("threads"), "progress=true")
    assert re.search(r"^pytrace: \d+ events, 4 threads", r.stderr, re.M), r.stderr


@pytest.mark.parametrize("param,message", [
    ("sort=bogus", "parameter `sort` must be one of calls, tottime, cumtime, name, file"),
    ("sort=3", "parameter `sort` must be one of"),
    ("unit=h", "parameter `unit` must be s, ms or us"),
    ("limit=-1", "parameter `limit` must be an integer >= 0"),
    ('limit="10"', "parameter `limit` must be an integer >= 0"),
    ("folded=3", "parameter `folded` must be a boolean"),
    ("progress=yes_please", "parameter `progress` must be a boolean"),
    ("folded-value=bytes", "parameter `folded-value` must be time or calls"),
    ('svg="/nonexistent/dir/flame.svg"', "cannot write the SVG file /nonexistent/dir/flame.svg"),
    ("svg=true", "parameter `svg` must be a non-empty string"),
    ('svg="/dev/full"', "cannot write the SVG file /dev/full: No space left on device"),
    ("colour=true", "unknown parameter `colour`"),
])
def test_bad_params(param, message):
    r = babeltrace(trace("known"), param, check=False)
    assert r.returncode != 0
    assert r.stdout == ""
    assert message in " ".join(r.stderr.split()), r.stderr


def test_not_a_libpytrace_trace():
    """A trace of other events only (lttng-ust's dlopen events) is an error, not an empty
    profile."""
    # preloaded by env(1), not by the harness's shell, whose exec would cut its buffers short
    t = lttngharness.run_traced(["/usr/bin/env", "LD_PRELOAD=liblttng-ust-dl.so.1", RUN,
                                 os.path.join(PROGRAMS, "ccalls.py")],
                                events="lttng_ust_dl:*", keep=True)
    try:
        assert t.events and all(e["provider"] == "lttng_ust_dl" for e in t.events)
        r = babeltrace(t.path, check=False)
    finally:
        shutil.rmtree(t.path, ignore_errors=True)
    assert r.returncode != 0
    assert "no libpytrace events in this trace" in r.stderr


def test_valgrind(tmp_path):
    valgrind = shutil.which("valgrind")
    if not valgrind:
        if CI:
            pytest.fail("valgrind is not installed")
        pytest.skip("valgrind is not installed")
    svg = tmp_path / "flame.svg"
    for params in (["folded=true"], [f'svg="{svg}"']):
        argv = [valgrind, "-q", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite", BABELTRACE2, f"--plugin-path={PLUGIN_DIR}",
                trace("known-fast"), "-c", "sink.pytrace.profile"]
        for p in params:
            argv += ["-p", p]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr


def test_names_escaped(tmp_path):
    """Names with `;`, XML's special characters and non-ASCII letters, in each output."""
    t = table("names")
    assert t.of("names.py", 'odd;name & <"quoted">')["ncalls"] == "2"
    assert t.of("names.py", "café")["ncalls"] == "1"
    assert [r for r in t.rows if r["func"] == "we;ird <&> 'file'.py:1(g)"][0]["ncalls"] == "1"
    stacks = {";".join(s[1:]): v for s, v in folded("names", "folded-value=calls")}
    m = "__main__.<module>;__main__.main"
    assert stacks[f'{m};__main__.odd:name & <"quoted">'] == 2
    assert stacks[f"{m};__main__.café"] == 1
    assert stacks[f"{m};__main__.g"] == 1
    # exec'd code of another file, also named __main__.<module>: told apart, `;` and all
    assert stacks["__main__.<module>;__main__.<module> (we:ird <&> 'file'.py:1)"] == 1
    assert len(t.rows) == 6
    svg = tmp_path / "names.svg"
    babeltrace(trace("names"), f'svg="{svg}"')
    tips = [e.text for e in ET.parse(svg).getroot().iter(f"{SVG}title")]
    assert any(tip.startswith('__main__.odd;name & <"quoted"> (') for tip in tips)
    assert any(tip.startswith("__main__.café (") for tip in tips)


def test_native_frames():
    """Native frames (tests/tools/stack/native: a C extension built with
    -finstrument-functions, liblttng-ust-cyg-profile preloaded) are rows `[symbol]` once
    flt.lttng-utils.debug-info names them, and frames of the call paths."""
    module_dir = os.environ.get("PYTRACE_NATIVEDEMO_DIR")
    libs = [os.path.join("/usr/lib/x86_64-linux-gnu", lib)
            for lib in ("liblttng-ust-dl.so.1", "liblttng-ust-cyg-profile.so.1")]
    missing = [] if module_dir else ["the nativedemo module (tests/tools/stack)"]
    missing += [lib for lib in libs if not os.path.exists(lib)]
    if missing:
        if CI:
            pytest.fail(f"missing: {missing}")
        pytest.skip(f"missing: {missing}")
    program = os.path.join(HERE, "..", "stack", "native", "native.py")
    env = dict(os.environ, PYTHONPATH=module_dir, PYTRACE_INCLUDE="__main__",
               LD_PRELOAD=":".join(libs))
    t = lttngharness.run_traced(
        [RUN, program], env=env, keep=True,
        events=["python:*", "lttng_ust_cyg_profile:*", "lttng_ust_statedump:*",
                "lttng_ust_lib:*", "lttng_ust_dl:*"], contexts=("vtid", "vpid", "ip"))
    try:
        assert (t.returncode, t.stdout) == (0, "13\n"), t.stderr
        argv = [BABELTRACE2, f"--plugin-path={PLUGIN_DIR}", t.path,
                "-c", "flt.lttng-utils.debug-info", "-c", "sink.pytrace.profile"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        rows = {row["func"]: row for row in Table(r.stdout).rows}
        for name in ("PyInit_nativedemo", "compute", "triple", "add_one"):
            assert rows[f"[{name}]"]["ncalls"] == "1", name
        assert rows["[compute]"]["cumtime"] >= rows["[triple]"]["cumtime"]
        r = subprocess.run(argv + ["-p", "folded=true,folded-value=calls"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        stacks = {line.rsplit(" ", 1)[0].split(";", 1)[1] for line in r.stdout.splitlines()}
        assert "__main__.<module>;__main__.caller;compute;triple" in stacks
        assert "__main__.<module>;__main__.caller;compute;add_one" in stacks
    finally:
        shutil.rmtree(t.path, ignore_errors=True)


@pytest.mark.parametrize("mode", ["events", "fast"])
def test_session_started_late(mode, tmp_path):
    """A session that starts while <module> and outer() run gets `active` entries for them;
    stopped and started again, it gets them again: each is still one call. step() counts the
    calls made while the session recorded, and none of the others."""
    lttngharness.ensure_sessiond()
    lttng = lttngharness._lttng
    name = f"pytrace-profile-late-{os.getpid()}-{mode}"
    out = str(tmp_path / "trace")
    env = dict(os.environ, PYTRACE_MODE=mode, PYTRACE_INCLUDE="__main__")
    proc = subprocess.Popen([RUN, os.path.join(PROGRAMS, "late.py")], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def steps(n):
        for _ in range(n):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.stdout.readline() == "done\n"

    lttng("create", name, f"--output={out}")
    try:
        lttng("enable-channel", "-u", "-s", name, "--buffers-pid", "chan")
        lttng("enable-event", "-u", "-s", name, "-c", "chan", "python:*")
        lttng("track", "-u", "-s", name, f"--vpid={proc.pid}")
        steps(3)  # before the session starts: not recorded
        for recorded in (5, 7):
            lttng("start", name)
            time.sleep(0.5)  # libpytrace sees the session within about 20 ms
            steps(recorded)
            time.sleep(0.5)  # fast mode: the watcher hands the records over within 0.2 s
            lttng("stop", name)
            steps(2)  # between the two runs: not recorded
        proc.stdin.write("end\n")
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        lttng("destroy", name, check=False)
    t = Table(babeltrace(out).stdout)
    assert t.of("late.py", "step")["ncalls"] == "12"
    assert t.of("late.py", "outer")["ncalls"] == "1"
    assert t.of("late.py", "<module>")["ncalls"] == "1"
    stacks = {";".join(s[1:]): v for s, v in
              folded_of(out, "folded-value=calls")}
    assert stacks["__main__.<module>;__main__.outer;__main__.step"] == 12
