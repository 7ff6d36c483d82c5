# SPDX-License-Identifier: MIT
"""sink.pytrace.profile on synthetic traces: a bt2 source component made here emits exactly the
events a case needs, with exact timestamps (what a real session cannot give), so that every
time of the table can be checked to the nanosecond: recursion, generators, returns without an
entry, `active` runs, frames open at the end, threads, C calls, fast-mode records, lost events,
a malformed event. Timestamps below are in µs (x 1000 ns) and the table is printed with
unit=us, so each number is exact.
"""
import os

import bt2
import pytest

PLUGIN_DIR = os.environ["PYTRACE_BT_PLUGIN_DIR"]
PID = 4242
US = 1000


def _plugin():
    for p in bt2.find_plugins_in_path(PLUGIN_DIR):
        if p.name == "pytrace":
            return p
    raise AssertionError(f"no plugin pytrace in {PLUGIN_DIR}")


def _field_class(tc, value):
    if isinstance(value, str):
        return tc.create_string_field_class()
    if isinstance(value, list):
        return tc.create_dynamic_array_field_class(tc.create_unsigned_integer_field_class(64))
    return tc.create_signed_integer_field_class(64)


class _Iter(bt2._UserMessageIterator):
    def __init__(self, config, port):
        tc, sc, classes, events = port.user_data
        stream = tc(environment={"vpid": PID}).create_stream(sc)
        self._msgs = [self._create_stream_beginning_message(stream)]
        for name, ts, fields in events:
            if name == "discarded":
                self._msgs.append(self._create_discarded_events_message(stream, count=fields))
                continue
            msg = self._create_event_message(classes[name, tuple(fields)], stream,
                                             default_clock_snapshot=ts)
            for k, v in fields.items():
                msg.event.payload_field[k] = v
            self._msgs.append(msg)
        self._msgs.append(self._create_stream_end_message(stream))
        self._msgs.reverse()

    def __next__(self):
        if not self._msgs:
            raise StopIteration
        return self._msgs.pop()


class _Source(bt2._UserSourceComponent, message_iterator_class=_Iter):
    def __init__(self, config, params, events):
        tc = self._create_trace_class()
        cc = self._create_clock_class(frequency=1_000_000_000)
        sc = tc.create_stream_class(default_clock_class=cc, supports_discarded_events=True)
        classes = {}
        for name, _, fields in events:
            if name == "discarded" or (name, tuple(fields)) in classes:
                continue
            payload = tc.create_structure_field_class()
            for k, v in fields.items():
                payload.append_member(k, _field_class(tc, v))
            classes[name, tuple(fields)] = sc.create_event_class(name=name,
                                                                 payload_field_class=payload)
        self._add_output_port("out", (tc, sc, classes, events))


def run(events, capfd, **params):
    """(ok, stdout, stderr) of the sink on @events: (name, ts in ns, fields)."""
    graph = bt2.Graph()
    src = graph.add_component(_Source, "src", obj=events)
    sink = graph.add_component(_plugin().sink_component_classes["profile"], "sink",
                               params=dict({"unit": "us"}, **params))
    graph.connect_ports(src.output_ports["out"], sink.input_ports["in"])
    try:
        graph.run()
        ok, err = True, ""
    except bt2._Error as e:
        ok, err = False, str(e)
    out = capfd.readouterr()
    return ok, out.out, out.err + err


def entry(us, tid, q, kind=0, line=1):
    return ("python:function__entry", us * US, dict(
        co_filename="/a.py", co_name=q, line_no=line, co_qualname=q, module="__main__",
        kind=kind, tid=tid, interp=0))


def ret(us, tid, q, kind=0):
    return ("python:function__return", us * US, dict(
        co_filename="/a.py", co_name=q, line_no=9, co_qualname=q, module="__main__",
        kind=kind, tid=tid, interp=0))


def c_call(us, tid, name, entry=True):
    return ("python:c_function__" + ("entry" if entry else "return"), us * US,
            dict(name=name, kind=0, tid=tid, interp=0))


def exception(us, tid, q):
    return ("python:exception", us * US, dict(
        exc_type="ValueError", co_filename="/a.py", co_name=q, line_no=3, co_qualname=q,
        module="__main__", tid=tid, interp=0))


def rows(out):
    """{function: (ncalls, tottime, cumtime)} and the two header lines."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["ncalls"])
    table = {}
    for line in lines[start + 1:]:
        nc, tot, _, cum, _, func = line.split(None, 5)
        table[func] = (nc, float(tot), float(cum))
    return table, lines[0].strip(), lines[1].strip()


def test_recursion(capfd):
    # a calls b, which calls itself once, then b again: b is 3 calls, 2 primitive; its
    # cumtime counts the outermost activations only (50 + 10), its tottime every one's own.
    ok, out, err = run([
        entry(0, 1, "a"), entry(10, 1, "b"), entry(20, 1, "b"), ret(50, 1, "b"),
        ret(60, 1, "b"), entry(70, 1, "b"), ret(80, 1, "b"), ret(100, 1, "a"),
    ], capfd)
    assert ok, err
    table, head, threads = rows(out)
    assert table == {"/a.py:1(a)": ("1", 40.0, 100.0), "/a.py:1(b)": ("3/2", 60.0, 60.0)}
    assert head == "4 function calls (3 primitive calls) in 100.000 us"
    assert threads == "1 threads"
    assert "pytrace: 8 events, 1 threads\n" in err


def test_generator_resumes_are_calls(capfd):
    # the call runs 10 us to its yield, the resume 5 us to its return; 20 us suspended
    ok, out, err = run([
        entry(0, 1, "main"), entry(10, 1, "gen"), ret(20, 1, "gen", kind=1),
        entry(40, 1, "gen", kind=1), ret(45, 1, "gen"), ret(50, 1, "main"),
    ], capfd)
    assert ok, err
    table, _, _ = rows(out)
    assert table["/a.py:1(gen)"] == ("2", 15.0, 15.0)
    assert table["/a.py:1(main)"] == ("1", 35.0, 50.0)


def test_unwind_and_open_frames(capfd):
    # boom unwinds at 30; main is still open at the end: it ends with the thread's last event
    # (an exception at 70), as does inner, entered at 60
    ok, out, err = run([
        entry(0, 1, "main"), entry(10, 1, "boom"), exception(20, 1, "boom"),
        ret(30, 1, "boom", kind=2), entry(60, 1, "inner"), exception(70, 1, "inner"),
    ], capfd)
    assert ok, err
    table, head, _ = rows(out)
    assert table == {"/a.py:1(main)": ("1", 40.0, 70.0), "/a.py:1(boom)": ("1", 20.0, 20.0),
                     "/a.py:1(inner)": ("1", 10.0, 10.0)}
    assert head == "3 function calls in 70.000 us"


def test_returns_without_entry(capfd):
    # The trace starts inside `outer` (entered before it): x runs 10..20, outer returns at 50
    # and counts from the thread's first event (10), x's time left out of its own. No entry
    # of outer was seen, so its first line is unknown: 0.
    ok, out, err = run([
        entry(10, 1, "x"), ret(20, 1, "x"), ret(50, 1, "outer"), entry(60, 1, "x"),
        ret(70, 1, "x"),
    ], capfd)
    assert ok, err
    table, head, _ = rows(out)
    assert table == {"/a.py:0(outer)": ("1", 30.0, 40.0), "/a.py:1(x)": ("2", 20.0, 20.0)}
    assert head == "3 function calls in 50.000 us"


def test_active_run_restates_the_stack(capfd):
    # A session restarts: the run restates outer and mid (still open: no new calls), then
    # other where inner was: inner ended unseen, and ends where the run departs from it.
    ok, out, err = run([
        entry(0, 1, "outer"), entry(10, 1, "mid"), entry(20, 1, "inner"),
        entry(100, 1, "outer", kind=2), entry(101, 1, "mid", kind=2),
        entry(102, 1, "other", kind=2), entry(110, 1, "leaf"), ret(120, 1, "leaf"),
        ret(130, 1, "other"), ret(140, 1, "mid"), ret(150, 1, "outer"),
    ], capfd)
    assert ok, err
    table, _, _ = rows(out)
    assert table == {
        "/a.py:1(outer)": ("1", 20.0, 150.0), "/a.py:1(mid)": ("1", 20.0, 130.0),
        "/a.py:1(inner)": ("1", 82.0, 82.0), "/a.py:1(other)": ("1", 18.0, 28.0),
        "/a.py:1(leaf)": ("1", 10.0, 10.0),
    }


def test_threads_add_up(capfd):
    # w runs on two threads at once: two primitive calls, both cumtimes count
    ok, out, err = run([
        entry(0, 1, "w"), entry(50, 2, "w"), ret(100, 1, "w"), ret(150, 2, "w"),
    ], capfd)
    assert ok, err
    table, head, threads = rows(out)
    assert table == {"/a.py:1(w)": ("2", 200.0, 200.0)}
    assert (head, threads) == ("2 function calls in 200.000 us", "2 threads")
    ok, out, err = run([
        entry(0, 1, "w"), entry(50, 2, "w"), ret(100, 1, "w"), ret(150, 2, "w"),
    ], capfd, folded=True)
    assert out == "thread 1;__main__.w 100\nthread 2;__main__.w 100\n"


def test_c_calls(capfd):
    ok, out, err = run([
        entry(0, 1, "f"), c_call(10, 1, "len"), c_call(15, 1, "len", False),
        c_call(20, 1, "len"), c_call(22, 1, "len", False), ret(30, 1, "f"),
    ], capfd)
    assert ok, err
    table, _, _ = rows(out)
    assert table == {"/a.py:1(f)": ("1", 23.0, 30.0), "{len}": ("2", 7.0, 7.0)}
    ok, out, err = run([
        entry(0, 1, "f"), c_call(10, 1, "len"), c_call(15, 1, "len", False), ret(30, 1, "f"),
    ], capfd, folded=True)
    assert out == "thread 1;__main__.f 25\nthread 1;__main__.f;len 5\n"


def code(us, ident, q, kind=0):
    return ("python:code", us * US, dict(
        id=ident, kind=kind, co_filename="/a.py" if not kind else "", co_name=q, line_no=1,
        co_qualname=q, module="__main__" if not kind else "", interp=0))


def records(us, tid, *recs):
    words = []
    for rus, ident, rtype, kind in recs:
        words += [rus * US, ident | rtype << 32 | kind << 40]
    return ("python:records", us * US, dict(tid=tid, interp=0, records=words))


def test_fast_mode(capfd):
    # the per-event recursion case, as records of two batches
    ok, out, err = run([
        code(0, 1, "a"), code(0, 2, "b"),
        records(55, 1, (0, 1, 0, 0), (10, 2, 0, 0), (20, 2, 0, 0), (50, 2, 1, 0)),
        records(100, 1, (60, 2, 1, 0), (70, 2, 0, 0), (80, 2, 1, 0), (100, 1, 1, 0)),
    ], capfd)
    assert ok, err
    table, _, _ = rows(out)
    assert table == {"/a.py:1(a)": ("1", 40.0, 100.0), "/a.py:1(b)": ("3/2", 60.0, 60.0)}


def test_lost_events_in_the_summary(capfd):
    ok, out, err = run([entry(0, 1, "a"), ret(10, 1, "a"), ("discarded", 0, 5)], capfd)
    assert ok, err
    assert "pytrace: 2 events, 1 threads, 5 events lost (discarded by LTTng)\n" in err


def test_folded_and_svg_of_recursion(capfd, tmp_path):
    events = [
        entry(0, 1, "a"), entry(10, 1, "b"), entry(20, 1, "b"), ret(50, 1, "b"),
        ret(60, 1, "b"), entry(70, 1, "b"), ret(80, 1, "b"), ret(100, 1, "a"),
    ]
    ok, out, err = run(events, capfd, folded=True)
    assert out == ("thread 1;__main__.a 40\nthread 1;__main__.a;__main__.b 30\n"
                   "thread 1;__main__.a;__main__.b;__main__.b 30\n")
    ok, out, err = run(events, capfd, folded=True, **{"folded-value": "calls"})
    assert out == ("thread 1;__main__.a 1\nthread 1;__main__.a;__main__.b 2\n"
                   "thread 1;__main__.a;__main__.b;__main__.b 1\n")
    svg = tmp_path / "f.svg"
    ok, out, err = run(events, capfd, svg=str(svg))
    assert ok, err
    text = svg.read_text()
    for tip in ("all (100.000 us, 100.00%)", "thread 1 (100.000 us, 100.00%)",
                "__main__.a (100.000 us, 100.00%)", "__main__.b (60.000 us, 60.00%)",
                "__main__.b (30.000 us, 30.00%)"):
        assert f"<title>{tip}</title>" in text


def test_malformed_event(capfd):
    ok, out, err = run([("python:function__entry", 0, dict(
        co_filename="/a.py", co_name="f", line_no=1, module="m", kind=0, tid=1, interp=0))],
        capfd)
    assert not ok
    assert "sink.pytrace.profile: malformed python:function__entry event" in " ".join(err.split())
