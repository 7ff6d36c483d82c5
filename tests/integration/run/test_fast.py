# SPDX-License-Identifier: MIT
"""Fast mode records the same calls as per-event mode: each program is run in both modes and the
decoded fast-mode stream (pytrace.records) must equal the per-event stream, event by event and
thread by thread: kinds, qualified names, modules, files and entry lines. (Per-event mode is
itself checked against hand-written oracles by the other tests.) Exceptions are compared
elsewhere: fast mode on 3.8-3.11 records them only as `unwind` returns (docs/events.md)."""
import os

import pytest

import lttngharness
import runlib
from runlib import prog

PROGRAMS = [
    (["fib.py"], ()),
    (["generators.py"], ()),
    (["coroutines.py"], ()),
    (["methods.py"], ()),
    (["nested.py"], ()),
    (["exc_caught.py"], ()),
    (["threads.py"], ("Thread._bootstrap", "Thread._bootstrap_inner")),
    (["--c-calls", "c_calls.py"], ()),
]


def streams(trace, modules=None):
    """Per thread, the calls as (event, kind, qualname or C name, module, file, entry line), of
    frames of @modules only if given."""
    out = []
    for tid in trace.tids():
        seq = []
        for e in trace.by_tid()[tid]:
            if modules and e.get("module") not in modules:
                continue
            if e["event"] in ("function__entry", "function__return"):
                line = e["line_no"] if e["event"] == "function__entry" else None
                seq.append((e["event"], e["kind"], e["co_qualname"], e["module"],
                            e["co_filename"], line))
            elif e["event"].startswith("c_function"):
                seq.append((e["event"], e["kind"], e["name"]))
        out.append(seq)
    return sorted(out)


@pytest.mark.parametrize("args,active_ok", PROGRAMS, ids=[p[0][-1] for p in PROGRAMS])
def test_fast_equals_events(args, active_ok):
    argv = args[:-1] + [prog(args[-1])]
    ev = runlib.run(argv)
    fast = runlib.run(argv, env=dict(os.environ, PYTRACE_MODE="fast"))
    assert fast.returncode == ev.returncode and fast.stderr == ev.stderr
    if args[-1] != "threads.py":  # which prints its thread ids
        assert fast.stdout == ev.stdout
    fast_active_ok = active_ok
    modules = None
    if runlib.FAST_EVAL_HOOK and "--c-calls" not in args and active_ok:
        # 3.11's frame evaluation function sees a `threading` thread from its first frame (its
        # bootstrap frames are calls); the per-event profile hook only from threading's
        # trampoline on. The program's own frames are the same in both.
        fast_active_ok, modules = (), {"__main__"}
    runlib.check_common(fast, active_ok=fast_active_ok)
    assert streams(fast, modules) == streams(ev, modules)
    assert not [e for e in fast.events if e["event"] in ("records", "code")]


def test_fast_mode_writes_batches_and_definitions():
    t = runlib.run([prog("fib.py")], env=dict(os.environ, PYTRACE_MODE="fast"), keep=True)
    raw, _ = lttngharness.read_trace(t.path, decode=False)
    names = {e["event"] for e in raw}
    assert "records" in names and "code" in names
    assert not names & {"function__entry", "function__return"}, names
    defs = [e for e in raw if e["event"] == "code"]
    # one definition per code object per session
    assert len({e["id"] for e in defs}) == len(defs)
    fib = [e for e in defs if e["co_qualname"] == "fib"]
    assert len(fib) == 1 and fib[0]["module"] == "__main__" and fib[0]["kind"] == "python"
    for e in raw:
        if e["event"] == "records":
            assert len(e["records"]) % 2 == 0 and 0 < len(e["records"]) <= 256


def _tsc_expected():
    """Whether fast mode should pick the TSC here: x86-64 with the kernel's clock on it."""
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
            return os.uname().machine == "x86_64" and f.read().strip() == "tsc"
    except OSError:
        return False


@pytest.mark.parametrize("clock", ["auto", "monotonic"])
@pytest.mark.parametrize("program", ["many_calls.py", "threads.py"])
def test_fast_timestamps_on_lttng_clock(clock, program):
    """A record's time is CLOCK_MONOTONIC, LTTng's clock, whichever clock fast mode reads (the
    TSC where the kernel's clock runs on it, converted per batch; PYTRACE_FAST_CLOCK=monotonic
    reads CLOCK_MONOTONIC per record): per thread, a batch's records are non-decreasing, no
    later than the `python:records` event that carries them and no earlier than the thread's
    previous batch."""
    env = dict(os.environ, PYTRACE_MODE="fast", PYTRACE_FAST_CLOCK=clock, PYTRACE_LOG="debug")
    t = runlib.run([prog(program)], env=env, keep=True)
    assert t.returncode == 0
    want = "tsc" if clock == "auto" and _tsc_expected() else "CLOCK_MONOTONIC"
    assert f"libpytrace: fast mode clock: {want}" in t.stderr
    raw, _ = lttngharness.read_trace(t.path, decode=False)
    previous, n = {}, 0
    for e in raw:
        if e["event"] != "records":
            continue
        stamps = [w + e["clock_offset"] for w in e["records"][0::2]]
        key = (e["interp"], e["tid"])
        assert stamps == sorted(stamps), e
        assert previous.get(key, 0) <= stamps[0] and stamps[-1] <= e["ts"], e
        previous[key] = e["ts"]
        n += len(stamps)
    # many_calls.py: 3 threads x 6000 calls, each an entry and a return record
    assert n >= 36000 if program == "many_calls.py" else n > 50


@pytest.mark.parametrize("hook", ["auto", "profile"])
def test_fast_raw_thread(hook):
    """A `_thread.start_new_thread` thread is traced where the hook covers the interpreter (3.12+
    sys.monitoring; 3.11.4+ frame evaluation function, unless PYTRACE_FAST_HOOK=profile), and
    not with per-thread profile hooks, which such a thread never gets."""
    env = dict(os.environ, PYTRACE_MODE="fast", PYTRACE_FAST_HOOK=hook)
    t = runlib.run([prog("raw_thread.py")], env=env)
    assert (t.returncode, t.stdout, t.stderr) == (0, "ok\n", "")
    runlib.check_common(t)
    seqs = [[(e["event"], e["co_qualname"]) for e in events if e.get("module") == "__main__"]
            for events in t.by_tid().values()]
    thread = [("function__entry", "body"), ("function__entry", "work"),
              ("function__return", "work"), ("function__return", "body")]
    covered = runlib.PY >= (3, 12) or (runlib.FAST_EVAL_HOOK and hook == "auto")
    assert (thread in seqs) == covered, seqs
    assert len(seqs) == (2 if covered else 1)
