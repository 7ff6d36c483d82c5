# SPDX-License-Identifier: MIT
"""The decoder (tools/bt-plugin/decode.c) on synthetic traces: a bt2 source component made
here emits exactly the messages a case needs (what a real session cannot be made to write:
malformed events, discarded events, a batch naming an undefined code, exact timestamps) into
sink.pytrace.stack, loaded from the build directory. The sink's output is compared exactly.

Timestamps: the clock has an offset of 100 s, so a record's CLOCK_MONOTONIC value (the clock's
raw value) must be moved by 100 s like the events' own, as decode.c does.
"""
import os

import bt2
import pytest

PLUGIN_DIR = os.environ["PYTRACE_BT_PLUGIN_DIR"]
PID = 4242


def _plugin():
    plugins = bt2.find_plugins_in_path(PLUGIN_DIR)
    for p in plugins:
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
        trace = tc(environment={"vpid": PID})
        stream = trace.create_stream(sc)
        self._msgs = [self._create_stream_beginning_message(stream)]
        for name, ts, fields in events:
            if name == "declare":
                continue
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
        cc = self._create_clock_class(frequency=1_000_000_000, offset=bt2.ClockClassOffset(100))
        sc = tc.create_stream_class(default_clock_class=cc, supports_discarded_events=True)
        classes = {}
        for name, ts, fields in events:
            if name == "declare":  # an event class only: ts is its name
                name = ts
            if name == "discarded" or (name, tuple(fields)) in classes:
                continue
            payload = tc.create_structure_field_class()
            for k, v in fields.items():
                payload.append_member(k, _field_class(tc, v))
            classes[name, tuple(fields)] = sc.create_event_class(name=name,
                                                                 payload_field_class=payload)
        self._add_output_port("out", (tc, sc, classes, events))


def run(events, capfd):
    """(ok, stdout, stderr) of the sink on @events: (name, raw clock value, fields)."""
    graph = bt2.Graph()
    src = graph.add_component(_Source, "src", obj=events)
    sink = graph.add_component(_plugin().sink_component_classes["stack"], "sink",
                               params={"color": False, "path": "full"})
    graph.connect_ports(src.output_ports["out"], sink.input_ports["in"])
    try:
        graph.run()
        ok, err = True, ""
    except bt2._Error as e:
        ok, err = False, str(e)
    out = capfd.readouterr()
    return ok, out.out, out.err + err


def entry(ts, tid, q, line=1, kind=0):
    return ("python:function__entry", ts, dict(
        co_filename="/a.py", co_name=q, line_no=line, co_qualname=q, module="__main__",
        kind=kind, tid=tid, interp=0))


def ret(ts, tid, q, line=2, kind=0):
    return ("python:function__return", ts, dict(
        co_filename="/a.py", co_name=q, line_no=line, co_qualname=q, module="__main__",
        kind=kind, tid=tid, interp=0))


def code(ts, ident, q, line=1, kind=0):
    return ("python:code", ts, dict(id=ident, kind=kind, co_filename="/a.py" if not kind else "",
                                    co_name=q, line_no=line, co_qualname=q,
                                    module="__main__" if not kind else "", interp=0))


def records(ts, tid, *recs):
    words = []
    for rts, ident, rtype, kind in recs:
        words += [rts, ident | rtype << 32 | kind << 40]
    return ("python:records", ts, dict(tid=tid, interp=0, records=words))


def span(ts, tid, name, ident, end=False):
    if end:
        return ("python:span_end", ts, dict(name=name, id=ident, tid=tid))
    return ("python:span_begin", ts, dict(name=name, id=ident, attrs="{}", tid=tid))


def mark(ts, tid, name):
    return ("python:mark", ts, dict(name=name, attrs='{"k":"v"}', tid=tid))


def test_fast_mode_merge(capfd):
    # Thread 1's span and mark were emitted between records that reach the trace later, in
    # the batch at 1000: they are held and merged by time. Thread 2's batch comes first. The
    # mark at 1500 has no batch after it: it comes out at the end. Id 9 is never defined.
    ok, out, err = run([
        code(10, 1, "f", 5),
        code(11, 2, "len", kind=1),
        span(200, 1, "s", 1),
        mark(400, 1, "m1"),
        records(500, 2, (150, 1, 0, 0), (160, 1, 1, 0)),
        span(600, 1, "s", 1, end=True),
        records(1000, 1, (100, 1, 0, 0), (300, 2, 2, 0), (350, 2, 3, 0), (700, 9, 0, 1),
                (800, 9, 1, 1), (900, 1, 1, 2)),
        mark(1500, 1, "m2"),
    ], capfd)
    assert ok, err
    assert out == """\
thread 2:
  -> f  /a.py:5
  <- 0.0 us
thread 1:
  -> f  /a.py:5
    { span s
      -> len()
      <- 0.1 us
      * mark m1 {"k":"v"}
    } span s 0.4 us
    -> <code 9> [resume]  ?:0
    <- 0.1 us [yield]
  <- 0.8 us [unwind]
  * mark m2 {"k":"v"}
"""
    assert "pytrace: 12 events, 2 threads, 2 records of undefined code\n" in err


def test_per_event_mode_is_not_held(capfd):
    # Function events show the process's mode: nothing waits, threads interleave in time.
    ok, out, err = run([
        entry(100, 1, "a"), mark(150, 1, "m"), entry(200, 2, "b"), ret(300, 1, "a"),
        ret(400, 2, "b"), ("discarded", 0, 7),
    ], capfd)
    assert ok, err
    assert out == """\
thread 1:
  -> a  /a.py:1
    * mark m {"k":"v"}
thread 2:
  -> b  /a.py:1
thread 1:
  <- 0.2 us
thread 2:
  <- 0.2 us
"""
    assert "pytrace: 5 events, 2 threads, 7 events lost (discarded by LTTng)\n" in err


@pytest.mark.parametrize("records_class", [False, True])
def test_held_only_where_batches_can_come(records_class, capfd):
    # Events of a process whose mode is unknown wait, unless its trace has no python:records
    # class. The malformed event at the end stops the graph: what was held is never printed.
    decl = [("declare", "python:records", dict(tid=0, interp=0, records=[]))]
    ok, out, err = run((decl if records_class else []) + [
        mark(100, 1, "a"), mark(200, 2, "b"), ("python:mark", 300, dict(name="m", attrs="{}")),
    ], capfd)
    assert not ok and "no valid field `tid`" in err
    assert out == ("" if records_class else
                   'thread 1:\n  * mark a {"k":"v"}\nthread 2:\n  * mark b {"k":"v"}\n')


def test_active_run_restates_the_stack(capfd):
    ok, out, err = run([
        entry(100, 1, "outer"), entry(200, 1, "inner"),
        entry(300, 1, "outer", kind=2), entry(310, 1, "inner", kind=2),
        ret(400, 1, "inner"), ret(500, 1, "outer"), ret(600, 1, "gone"),
    ], capfd)
    assert ok, err
    assert out == """\
thread 1:
  -> outer  /a.py:1
    -> inner  /a.py:1
  -> outer [active]  /a.py:1
    -> inner [active]  /a.py:1
    <- 0.1 us
  <- 0.2 us
  <- gone (entered before the trace)
"""


def test_requests_dash_is_none(capfd):
    req = dict(id=1, method="GET", path="/x", endpoint="-", rule="-", tid=1)
    ok, out, err = run([
        entry(50, 1, "serve"),
        ("python:request_entry", 100, dict(req, trace_id="-", parent_span_id="-")),
        ("python:request_exit", 900, dict(req, status=404, duration_ns=800, error="-")),
    ], capfd)
    assert ok, err
    assert out == "thread 1:\n  -> serve  /a.py:1\n    => GET /x\n    <= 404 0.8 us\n"


@pytest.mark.parametrize("events, message", [
    ([("python:function__entry", 100, dict(co_filename="/a.py", co_name="f", line_no=1,
                                           module="m", kind=0, tid=1, interp=0))],
     "malformed python:function__entry event: no valid field `co_qualname`"),
    ([("python:mark", 100, dict(name="m", attrs="{}"))],
     "malformed python:mark event: no valid field `tid`"),
    ([records(100, 1, (10, 1, 7, 0))], "malformed python:records event: record type 7"),
    ([("python:records", 100, dict(tid=1, interp=0, records=[1, 2, 3]))],
     "malformed python:records event: 3 words"),
    ([("python:span_begin", 100, dict(name="s", id="one", attrs="{}", tid=1))],
     "malformed python:span_begin event: no valid field `id`"),
])
def test_malformed(events, message, capfd):
    ok, out, err = run(events, capfd)
    assert not ok
    assert message in " ".join(err.split())


def test_other_providers_only(capfd):
    ok, out, err = run([("myapp:thing", 100, dict(x=1))], capfd)
    assert not ok
    assert "no libpytrace events in this trace" in err
