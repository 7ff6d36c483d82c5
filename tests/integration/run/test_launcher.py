# SPDX-License-Identifier: MIT
"""pytrace-run behaves as the python3 it embeds would (runlib.PYTHON): same stdout, stderr,
exit status and sys.argv, with and without a recording session; its own options (--help,
--version, --c-calls) are only recognised before the program; `-m module` runs the module as
__main__ and is traced like a script."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

import lttngharness
import runlib
from runlib import expect, lines, prog


@pytest.fixture(scope="module")
def modpath():
    """A temporary directory holding mainmod.py and helper.py, for `-m mainmod`."""
    d = tempfile.mkdtemp(prefix="pytrace-run-mod-")
    for f in ("mainmod.py", "helper.py"):
        shutil.copyfile(os.path.join(runlib.PROGRAMS, "modpkg", f), os.path.join(d, f))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _plain(argv, env=None, cwd=None):
    r = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


IO = prog("launcher_io.py")

# id: (arguments after the interpreter/launcher, extra arguments for pytrace-run only)
CASES = {
    # options after the program are the program's, pytrace-run's own included
    "output-and-argv": ([IO, "a", "b c", "", "ü", "--help", "--version", "--c-calls"], []),
    "sys-exit-3": ([IO, "exit3"], []),
    "sys-exit-message": ([IO, "exitmsg"], []),
    "uncaught-chained": ([IO, "raise"], []),
    "uncaught": ([prog("exc_uncaught.py")], []),
    "sys-exit-module-level": ([prog("sys_exit.py")], []),
    "module": (["-m", "mainmod", "x", "-y"], []),
    "command": (["-c", "import sys; print(sys.argv); sys.exit(5)", "arg"], []),
    "python-options": (["-E", "-s", "-u", "-X", "utf8", IO], []),
    "double-dash": (["-B", IO, "z"], ["--"]),
    "c-calls": ([IO, "raise"], ["--c-calls"]),
    "version-of-python": (["-V"], []),
}


def _env(case, modpath):
    return dict(os.environ, PYTHONPATH=modpath) if case == "module" else None


@pytest.mark.parametrize("case", CASES)
def test_same_as_python3_untraced(case, modpath):
    args, own = CASES[case]
    env = _env(case, modpath)
    want = _plain([runlib.PYTHON, *args], env=env)
    got = _plain([runlib.PYTRACE_RUN, *own, *args], env=env)
    assert got == want
    if case == "uncaught-chained":
        assert "The above exception was the direct cause" in got[2]


@pytest.mark.parametrize("case", CASES)
def test_same_as_python3_traced(case, modpath):
    args, own = CASES[case]
    env = _env(case, modpath)
    want = _plain([runlib.PYTHON, *args], env=env)
    t = runlib.run([*own, *args], env=env)
    assert (t.returncode, t.stdout, t.stderr) == want
    if case == "version-of-python":
        assert t.events == []  # the interpreter exits while parsing its command line
    else:
        runlib.check_common(t)
        runlib.single_thread(t)


def test_relative_script_path():
    # run from programs/ with a relative path: __file__ and sys.path[0] as python3 makes them
    want = _plain([runlib.PYTHON, "launcher_io.py", "rel"], cwd=runlib.PROGRAMS)
    got = _plain([runlib.PYTRACE_RUN, "launcher_io.py", "rel"], cwd=runlib.PROGRAMS)
    assert got == want
    # 3.9+ makes the script's path absolute (bpo-20443); 3.8 keeps it as given
    assert f"file {IO if runlib.PY >= (3, 9) else 'launcher_io.py'} name __main__\n" in got[1]


def test_missing_script():
    # same status and message; the message names the running program, hence the prefix
    want = _plain([runlib.PYTHON, "/nonexistent/script.py"])
    got = _plain([runlib.PYTRACE_RUN, "/nonexistent/script.py"])
    assert got[0] == want[0] == 2 and got[1] == want[1] == ""
    assert got[2].startswith(runlib.PYTRACE_RUN + ": ")
    assert got[2].split(": ", 1)[1] == want[2].split(": ", 1)[1]


def test_module_traced(modpath):
    t = runlib.run(["-m", "mainmod", "a", "b c"], env=dict(os.environ, PYTHONPATH=modpath))
    assert (t.returncode, t.stderr) == (0, "")
    assert t.stdout == "argv ['a', 'b c']\nfile True __main__\n42\n"
    runlib.check_common(t)
    runlib.single_thread(t)
    M = lines(os.path.join(modpath, "mainmod.py"))
    H = lines(os.path.join(modpath, "helper.py"))
    files = {"__main__": os.path.join(modpath, "mainmod.py"),
             "helper": os.path.join(modpath, "helper.py")}
    exp = [
        ("call <module>", 1),  # mainmod, run by runpy as __main__
        ("call <module>", 1),  # helper, imported by it: frames carry the module "helper"
        ("return <module>", H["def-double"]),  # its last statement is the def
        ("call main", M["def-main"]),
        ("call double", H["def-double"]),
        ("return double", H["ret-double"]),
        ("return main", M["ret-main"]),
        ("return <module>", M["last"]),
    ]
    own = expect(t.events, exp, files, modules=("__main__", "helper"))
    assert [e["module"] for e in own] == ["__main__", "helper", "helper", "__main__", "helper",
                                          "helper", "__main__", "__main__"]
    # mainmod was not imported under its own name: it only ran as __main__
    assert not [e for e in t.events if e.get("module") == "mainmod"]
    # runpy runs it: its <module> is entered from runpy._run_code, which returns after it
    whole = lttngharness.compact(t.events, modules=("__main__", "runpy"))
    i = whole.index("call _run_code")
    assert whole[i + 1] == "call <module>"
    assert whole[i + 2:i + 6] == ["call main", "return main", "return <module>",
                                  "return _run_code"]


def _version():
    with open(os.path.join(os.environ["PYTRACE_SOURCE_DIR"], "meson.build")) as f:
        m = re.search(r"project\([^)]*?version:\s*'([^']+)'", f.read(), re.S)
    return m.group(1)


def test_help():
    rc, out, err = _plain([runlib.PYTRACE_RUN, "--help"])
    assert (rc, err) == (0, "")
    assert out.startswith("Usage: pytrace-run ")
    for opt in ("--c-calls", "--help", "--version", "-m module"):
        assert opt in out


def test_version():
    rc, out, err = _plain([runlib.PYTRACE_RUN, "--version"])
    assert (rc, out, err) == (0, f"pytrace-run (libpytrace) {_version()}\n", "")
    # own options come first; --version after --c-calls still is pytrace-run's
    assert _plain([runlib.PYTRACE_RUN, "--c-calls", "--version"]) == (rc, out, err)


@pytest.mark.parametrize("argv", [[], ["--c-calls"], ["--"], ["--c-calls", "--"]],
                         ids=["none", "c-calls", "double-dash", "c-calls-double-dash"])
def test_no_program_is_a_usage_error(argv):
    rc, out, err = _plain([runlib.PYTRACE_RUN, *argv])
    assert (rc, out) == (2, "")
    assert err.startswith("Usage: pytrace-run ")


def test_help_and_version_traced_emit_nothing():
    for opt in ("--help", "--version"):
        t = runlib.run([opt])
        assert (t.returncode, t.stderr) == (0, "")
        assert t.events == []
