# SPDX-License-Identifier: MIT
"""Filters set through the PYTRACE_* environment (read at attach): include and exclude module
globs, `:stdlib`, the depth limit and C calls; and bad values, which leave the program running
untraced with a message naming the bad part."""
import os

import pytest

import lttngharness
import runlib
from runlib import prog

PATH = prog("filters.py")


def traced(**env):
    t = runlib.run([PATH], env=dict(os.environ, **env))
    assert t.returncode == 0 and t.stdout == '{"total": 11}\n', (t.stdout, t.stderr)
    runlib.check_common(t)
    return t


def modules(t):
    return {e["module"] for e in t.events if e["event"] == "function__entry"}


def calls(t, mods):
    return [c for c in lttngharness.compact(t.events, modules=mods) if c.startswith("call ")]


def test_no_filter_records_everything():
    t = traced()
    assert {"__main__", "filterpkg", "filterpkg.inner", "json"} <= modules(t)


def test_include_a_package():
    t = traced(PYTRACE_INCLUDE="filterpkg.*")
    assert modules(t) == {"filterpkg", "filterpkg.inner"}
    assert calls(t, ("filterpkg", "filterpkg.inner")) == [
        "call <module>", "call <module>", "call outer", "call leaf"]


def test_exclude_the_standard_library():
    t = traced(PYTRACE_EXCLUDE=":stdlib")
    mods = modules(t)
    assert "__main__" in mods and "filterpkg.inner" in mods
    assert not mods & {"json", "json.encoder", "encodings", "codecs", "importlib._bootstrap"}


def test_include_then_exclude():
    t = traced(PYTRACE_INCLUDE="__main__, filterpkg.*", PYTRACE_EXCLUDE="filterpkg.inn?r")
    assert modules(t) == {"__main__", "filterpkg"}


def test_max_depth_counts_recorded_frames():
    t = traced(PYTRACE_INCLUDE="__main__", PYTRACE_MAX_DEPTH="4")
    # <module> > main > down > down: deeper `down` calls are not recorded
    assert calls(t, ("__main__",)) == ["call <module>", "call main", "call down", "call down"]


def test_c_calls_from_the_environment():
    t = traced(PYTRACE_INCLUDE="__main__", PYTRACE_C_CALLS="yes")
    names = {e["name"] for e in t.events if e["event"] == "c_function__entry"}
    assert "json.dumps" not in names  # a Python function
    assert "print" in names


def test_c_calls_of_excluded_frames_are_not_recorded():
    t = traced(PYTRACE_INCLUDE="filterpkg.*", PYTRACE_C_CALLS="1")
    assert not [e for e in t.events if e["event"] == "c_function__entry"]


@pytest.mark.parametrize("var,value,message", [
    ("PYTRACE_INCLUDE", "myapp.*,,x", 'PYTRACE_INCLUDE: empty pattern (item 2 of "myapp.*,,x")'),
    ("PYTRACE_EXCLUDE", "my app", "PYTRACE_EXCLUDE: character not allowed in a module glob: ' ' "
                                  'in "my app"'),
    ("PYTRACE_INCLUDE", "a[bc", "PYTRACE_INCLUDE: unclosed '[' in \"a[bc\""),
    ("PYTRACE_EXCLUDE", ":std", 'PYTRACE_EXCLUDE: unknown name ":std"'),
    ("PYTRACE_MAX_DEPTH", "-1", 'PYTRACE_MAX_DEPTH: "-1" is not a depth'),
    ("PYTRACE_C_CALLS", "maybe", 'PYTRACE_C_CALLS: "maybe" is not a boolean'),
    ("PYTRACE_MODE", "turbo", 'PYTRACE_MODE: unknown mode "turbo"'),
])
def test_bad_values_name_the_bad_part_and_run_untraced(var, value, message):
    t = runlib.run([PATH], env=dict(os.environ, **{var: value}))
    assert t.returncode == 0 and t.stdout == '{"total": 11}\n'
    assert message in t.stderr, t.stderr
    assert "pytrace-run: cannot attach: Invalid argument; running untraced" in t.stderr
    assert not t.events
