# SPDX-License-Identifier: MIT
"""`lttng enable-event --python` rules select our records exactly as the official agent's:
-a, a logger name (its children not included), --loglevel, --loglevel-only, disable-event.
Every record is compared field by field with what the program logged (its oracle handler)."""
import pytest

import loglib
from loglib import prog

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def check(run, keep):
    assert run.returncode == 0, run.stderr
    assert "Logging error" not in run.stderr, run.stderr
    assert run.discarded == 0
    oracle = [r for r in run.oracle() if keep(r)]
    assert len(oracle) > 0
    assert run.events == oracle
    return oracle


RULES = [
    ("all", [("-a",)], [], lambda r: True),
    ("name", [("app",)], [], lambda r: r["logger_name"] == "app"),
    ("child", [("app.sub",)], [], lambda r: r["logger_name"] == "app.sub"),
    ("two-names", [("app,other",)], [], lambda r: r["logger_name"] in ("app", "other")),
    ("glob", [("app*",)], [], lambda r: r["logger_name"].startswith("app")),
    ("root", [("root",)], [], lambda r: r["logger_name"] == "root"),
    ("loglevel", [("-a", "--loglevel=WARNING")], [], lambda r: r["int_loglevel"] >= 30),
    ("loglevel-only", [("-a", "--loglevel-only=ERROR")], [],
     lambda r: r["int_loglevel"] == 40),
    ("name-loglevel", [("other", "--loglevel=INFO")], [],
     lambda r: r["logger_name"] == "other" and r["int_loglevel"] >= 20),
    ("disable", [("app,other",)], [("other",)], lambda r: r["logger_name"] == "app"),
]


@pytest.mark.parametrize("label,enable,disable,keep", RULES, ids=[r[0] for r in RULES])
def test_rule(label, enable, disable, keep):
    run = loglib.run([prog("levels.py")], enable=enable, disable=disable)
    got = check(run, keep)
    if label == "all":
        # 4 loggers x 5 levels on two threads, the exception, the stack, the last one.
        assert len(got) == 4 * 5 * 2 + 3


def test_counts_per_logger_and_level():
    run = loglib.run([prog("levels.py")])
    got = check(run, lambda r: True)
    for name in ("root", "app", "app.sub", "other"):
        for level in LEVELS.values():
            n = sum(1 for e in got if e["logger_name"] == name and e["int_loglevel"] == level
                    and e["msg"].split()[0] in ("main", "thread"))
            assert n == 2, (name, level, n)


def test_disable_all_records_nothing():
    run = loglib.run([prog("levels.py")], enable=[("app",)], disable=[("app",)])
    assert run.returncode == 0, run.stderr
    assert run.events == []
