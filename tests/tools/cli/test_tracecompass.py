# SPDX-License-Identifier: MIT
"""docs/tracecompass/libpytrace-callstack.xml, the Trace Compass call-stack analysis:

- valid against Trace Compass's own schema (xsd/, copied from eclipse-tracecompass/
  org.eclipse.tracecompass, EPL-2.0) with xmllint, and a broken copy is not (the schema is
  really applied);
- what it computes: its actions are interpreted here on a real trace recorded by `pytrace
  record` (the same state changes Trace Compass makes: a stack per attribute path, push and pop
  of an event field), and the stacks must be the program's calls, balanced at the end.
"""
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

import pytest

import lttngharness

HERE = os.path.dirname(os.path.abspath(__file__))
XSD = os.path.join(HERE, "xsd", "xmlDefinition.xsd")
XML = os.path.join(os.environ["PYTRACE_SOURCE_DIR"], "docs", "tracecompass",
                   "libpytrace-callstack.xml")
PYTRACE = os.environ["PYTRACE_CLI"]
WORK = os.path.join(HERE, "programs", "work.py")


def xmllint():
    path = os.environ.get("PYTRACE_XMLLINT") or shutil.which("xmllint")
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("xmllint is missing (Debian: apt-get install libxml2-utils)")
        pytest.skip("xmllint is missing (Debian: apt-get install libxml2-utils)")
    return path


def validate(path):
    return subprocess.run([xmllint(), "--noout", "--schema", XSD, path], capture_output=True,
                          text=True, timeout=60)


def test_valid_against_trace_compass_schema():
    r = validate(XML)
    assert r.returncode == 0, r.stderr
    assert "validates" in r.stderr


def test_schema_rejects_a_broken_analysis(tmp_path):
    with open(XML) as f:
        text = f.read()
    broken = tmp_path / "broken.xml"
    # A callstack needs its id; a stack operation is push or pop.
    for bad in (text.replace('<callstack id="org.libpytrace.callstack">', "<callstack>"),
                text.replace('stack="push"', 'stack="shove"')):
        broken.write_text(bad)
        r = validate(str(broken))
        assert r.returncode != 0
        assert "fails to validate" in r.stderr


def load_actions():
    root = ET.parse(XML).getroot()
    actions = {}
    for a in root.iter("action"):
        sc = a.find("stateChange")
        path = [(s.get("type"), s.get("value")) for s in sc.findall("stateAttribute")]
        v = sc.find("stateValue")
        actions[a.get("id")] = (path, v.get("type"), v.get("value"), v.get("stack"))
    transitions = {}
    for t in root.iter("transition"):
        transitions[t.get("event")] = t.get("action").split(":")
    return root, actions, transitions


def test_structure():
    root, actions, transitions = load_actions()
    cs = root.find("callstack")
    groups = {g.get("name"): [l.get("path") for l in g.findall("level")]
              for g in cs.findall("callstackGroup")}
    assert groups == {"Python threads": ["Threads/*"], "Requests": ["Requests/*"],
                      "Spans": ["Spans/*"]}
    assert cs.find("pattern/head/traceType").get("id") == \
        "org.eclipse.linuxtools.lttng2.ust.tracetype"
    entry = actions[transitions["python:function__entry"][0]]
    assert entry == ([("constant", "Threads"), ("eventField", "tid"),
                      ("constant", "CallStack")], "eventField", "co_qualname", "push")
    assert actions[transitions["python:function__return"][0]][3] == "pop"
    assert actions[transitions["python:request_entry"][0]][0][0] == ("constant", "Requests")
    assert actions[transitions["python:request_exit"][0]][3] == "pop"


def test_interpreted_on_a_real_trace():
    """The analysis's state changes applied to every event of a recorded trace."""
    _, actions, transitions = load_actions()
    tmp = tempfile.mkdtemp(prefix="pytrace-tc-")
    try:
        out = os.path.join(tmp, "t")
        r = subprocess.run([PYTRACE, "record", "-o", out, "--c-calls", "--", WORK, "0"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        events, _ = lttngharness.read_trace(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    stacks, pushed, deepest = {}, [], {}
    for e in events:
        name = f"{e['provider']}:{e['event']}"
        for aid in transitions.get(name, []):
            path, vtype, field, op = actions[aid]
            key = tuple(v if t == "constant" else str(e[v]) for t, v in path)
            stack = stacks.setdefault(key, [])
            if op == "push":
                stack.append(e[field])
                pushed.append((key, tuple(stack)))
                deepest[key] = max(deepest.get(key, 0), len(stack))
            else:
                assert stack, f"pop of an empty stack {key} at {name}"
                stack.pop()
    assert stacks and all(not s for s in stacks.values()), stacks
    paths = {s for _, s in pushed}
    # sum() is a C call (--c-calls): between total and the generator it consumes.
    chain = ("main", "Box.size", "total", "sum", "total.<locals>.<genexpr>", "square")
    assert sum(1 for _, s in pushed if s[-6:] == chain) == 3, sorted(paths)
    assert all(k[0] == "Threads" for k in stacks)
