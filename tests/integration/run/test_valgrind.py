# SPDX-License-Identifier: MIT
"""pytrace-run under valgrind memcheck while a session records: no invalid access, no use of
uninitialised memory, and no block definitely lost that the same program does not lose when
nothing records (CPython 3.12+ loses its interned strings at exit whatever we do, so the idle
run is the baseline). This caught the module names of static code objects (3.11) and the
interned thread-state key (3.12) being lost at exit."""
import os
import re
import shutil
import subprocess

import pytest

import lttngharness
import runlib
from runlib import prog

SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "valgrind.supp")


def memcheck(tmp_path, mode, record):
    valgrind = shutil.which("valgrind")
    assert valgrind, "valgrind is missing (apt-get install valgrind)"
    log = tmp_path / f"memcheck-{mode}-{record}.log"
    argv = [valgrind, "-q", "--leak-check=full", "--show-leak-kinds=definite",
            f"--suppressions={SUPP}", f"--log-file={log}", runlib.PYTRACE_RUN,
            prog("generators.py")]
    env = dict(os.environ, PYTRACE_MODE=mode, PYTHONMALLOC="malloc")
    if record:
        t = lttngharness.run_traced(argv, env=env, timeout=300)
        assert t.returncode == 0, t.stderr
        assert t.events, "nothing recorded under valgrind"
        lttngharness.assert_balanced(t.events)
    else:
        r = subprocess.run(argv, env=env, capture_output=True, timeout=300)
        assert r.returncode == 0, r.stderr
    text = log.read_text()
    errors = re.findall(r"^==\d+== (Invalid .*|.*uninitialised.*)$", text, re.M)
    lost = len(re.findall(r"definitely lost in loss record", text))
    return errors, lost, text


# Fast mode: the code descriptions' lifetimes (records keep them alive) and, on 3.11.4+, the
# frame evaluation function; the per-event path shares the rest. One mode keeps CI short.
@pytest.mark.parametrize("mode", ["fast"])
def test_memcheck_while_recording(tmp_path, mode):
    _, idle_lost, _ = memcheck(tmp_path, mode, record=False)
    errors, lost, text = memcheck(tmp_path, mode, record=True)
    assert not errors, text
    assert lost <= idle_lost, text
