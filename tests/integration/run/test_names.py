# SPDX-License-Identifier: MIT
"""Names that are not plain ASCII: identifiers (qualnames, exception types, module names) and
file paths are recorded as UTF-8; a path with a byte that is not UTF-8 (held by Python as a
lone surrogate, surrogateescape) is recorded escaped (backslashreplace: "\\udcff") and the
event is not dropped."""
import ast
import os
import shutil
import subprocess
import tempfile

import pytest

import lttngharness
import runlib
from runlib import expect, lines, prog

# Pin the file system encoding of the traced interpreter: UTF-8 with surrogateescape.
UTF8_ENV = dict(os.environ, LC_ALL="C.UTF-8")


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="pytrace-run-names-")
    yield d
    shutil.rmtree(os.fsencode(d), ignore_errors=True)


def test_non_ascii_identifiers_and_path(tmp):
    src = prog("names.py")
    L = lines(src)
    d = os.path.join(tmp, "dïr ü")
    os.mkdir(d)
    path = os.path.join(d, "prögräm.py")
    shutil.copyfile(src, path)
    t = runlib.run([path], env=UTF8_ENV)
    assert (t.returncode, t.stdout, t.stderr) == (0, "groß\n", "")
    runlib.check_common(t)
    runlib.single_thread(t)
    exp = [
        ("call <module>", 1),
        ("call Ünïcode", L["def-Ünïcode"]),
        ("return Ünïcode", L["def-method"]),
        ("call Fehlerä", L["def-Fehlerä"]),
        ("return Fehlerä", L["ret-Fehlerä"]),
        ("call größe", L["def-größe"]),
        ("exception __main__.Fehlerä in größe", L["raise"]),
        ("call Ünïcode.größe", L["def-method"]),
        ("return Ünïcode.größe", L["ret-method"]),
        ("return größe", L["ret-größe"]),
        ("return <module>", L["last"]),
    ]
    own = expect(t.events, exp, path)
    assert {e["co_name"] for e in own} == {"<module>", "Ünïcode", "Fehlerä", "größe"}


def test_non_ascii_module_name(tmp):
    with open(os.path.join(tmp, "hilfsmodül.py"), "w", encoding="utf-8") as f:
        f.write("def größe():\n    return 'ß'\n")
    env = dict(UTF8_ENV, PYTHONPATH=tmp)
    t = runlib.run(["-c", "import hilfsmodül\nprint(hilfsmodül.größe())\n"], env=env)
    assert (t.returncode, t.stdout, t.stderr) == (0, "ß\n", "")
    runlib.check_common(t)
    runlib.single_thread(t)
    mod = os.path.join(tmp, "hilfsmodül.py")
    # -c code is the module __main__ with co_filename "<string>"
    exp = [
        ("call <module>", 1),  # __main__
        ("call <module>", 1),  # hilfsmodül, executed by the import
        ("return <module>", 1),
        ("call größe", 1),
        ("return größe", 2),
        ("return <module>", 2),
    ]
    own = expect(t.events, exp, {"__main__": "<string>", "hilfsmodül": mod},
                 modules=("__main__", "hilfsmodül"))
    assert [e["module"] for e in own] == ["__main__", "hilfsmodül", "hilfsmodül", "hilfsmodül",
                                          "hilfsmodül", "__main__"]


def test_undecodable_byte_in_script_path(tmp):
    src = prog("path_probe.py")
    L = lines(src)
    d = os.path.join(os.fsencode(tmp), b"bad\xffdir")
    os.mkdir(d)
    path = os.path.join(d, b"prog.py")
    shutil.copyfile(src, path)

    t = runlib.run([path], env=UTF8_ENV)
    assert t.returncode == 0 and t.stderr == ""
    out = t.stdout.splitlines()
    assert out[1:] == ["1"]
    # what the program sees: its __file__ holds the byte as the lone surrogate U+DCFF
    file_seen = ast.literal_eval(out[0])
    assert file_seen == os.path.join(tmp, "bad\udcffdir", "prog.py")
    # same as python3 itself
    r = subprocess.run([runlib.PYTHON, path], env=UTF8_ENV, capture_output=True, timeout=60)
    assert (r.returncode, r.stdout.decode(), r.stderr.decode()) == (0, t.stdout, "")

    runlib.check_common(t)
    runlib.single_thread(t)
    want = tmp + "/bad\\udcffdir/prog.py"  # backslashreplace of the surrogate
    assert want == file_seen.encode("utf-8", "backslashreplace").decode("utf-8")
    exp = [
        # the module's first line is read from the source: its copy's path is escaped here
        ("call <module>", runlib.module_first_line(src)),
        ("call probe", L["def-probe"]),
        ("return probe", L["ret-probe"]),
        ("return <module>", L["last"]),
    ]
    expect(t.events, exp, want)


def test_module_of_code_run_in_two_namespaces():
    path = prog("shared_code.py")
    t = runlib.run([path])
    assert (t.returncode, t.stderr) == (0, "")
    assert t.stdout == "[('alpha', 'alpha'), ('beta', 'beta')]\n"
    runlib.check_common(t)
    runlib.single_thread(t)
    mods = ("alpha", "beta")
    shared = [e for e in t.events if e.get("co_filename") == "<shared>"]
    got = [(s, e["module"]) for s, e in zip(lttngharness.compact(shared, modules=None), shared)]
    # the same code objects, run once with the globals of "alpha", then with those of "beta"
    one_run = ["call <module>", "call f", "return f", "return <module>"]
    assert got == [(s, m) for m in mods for s in one_run]
    assert [e["line_no"] for e in shared] == [1, 1, 2, 5] * 2
