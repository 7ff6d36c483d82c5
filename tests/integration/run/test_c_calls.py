# SPDX-License-Identifier: MIT
"""`pytrace-run --c-calls`: calls of C functions are c_function__entry/return events named like
"len", "list.append", "time.sleep", "math.sqrt"; a C function that raises returns with kind
`unwind`; Python called back from C nests inside the C call. Without --c-calls there are none."""
import lttngharness
import runlib
from runlib import lines, prog


def own_with_c(events, modules=("__main__",)):
    """The Python events of frames of @modules, plus the C calls made directly by those frames
    (the innermost Python frame open around the C call is one of them), in order."""
    stack, out = [], []
    for e in events:
        n = e["event"]
        if n == "function__entry":
            stack.append(e["module"])
        elif n == "function__return":
            stack.pop()
        if n in ("function__entry", "function__return", "exception"):
            if e["module"] in modules:
                out.append(e)
            continue
        if n == "c_function__return":
            stack.pop()
        caller = next((m for m in reversed(stack) if m is not None), None)
        if caller in modules:
            out.append(e)
        if n == "c_function__entry":
            stack.append(None)
    return out


def compact_all(events):
    return lttngharness.compact(events, modules=None, c_names={e.get("name") for e in events})


def test_c_calls():
    path = prog("c_calls.py")
    L = lines(path)
    t = runlib.run(["--c-calls", path])
    assert (t.returncode, t.stdout, t.stderr) == (0, "[3, -1, 1]\n", "")
    runlib.check_common(t)
    tid = runlib.single_thread(t)
    own = own_with_c(t.events)
    exp = [
        "call <module>",
        "call main",
        "c_call len", "c_return len",
        "c_call list.append", "c_return list.append",
        "c_call time.sleep", "c_return time.sleep",
        # math.sqrt(-1) raises ValueError: the C call unwinds, then the exception reaches main
        "c_call math.sqrt", "c_unwind math.sqrt",
        "exception ValueError in main",
        "c_call list.append", "c_return list.append",
        # sorted() calls the key function back, once per item: nested inside the C call
        "c_call sorted",
        "call key", "return key",
        "call key", "return key",
        "c_return sorted",
        # next() starts the generator, which yields inside the C call ...
        "c_call next",
        "call gen", "yield gen",
        "c_return next",
        # ... and the temporary generator is freed right after next() returned: CPython
        # closes it, throwing GeneratorExit at the yield (3.13+ closes a generator suspended
        # outside any `try`/`with` without running its frame again: no event)
        *(["resume gen", "exception GeneratorExit in gen", "unwind gen"]
          if runlib.PY < (3, 13) else []),
        "c_call list.append", "c_return list.append",
        "return main",
        "c_call print", "c_return print",
        "return <module>",
    ]
    assert compact_all(own) == exp
    py = [e for e in own if e["event"] != "c_function__entry" and e["event"] != "c_function__return"]
    assert [(lttngharness.compact([e], modules=None)[0], e["line_no"]) for e in py] == [
        ("call <module>", runlib.module_first_line(path)),
        ("call main", L["def-main"]),
        ("exception ValueError in main", L["sqrt"]),
        ("call key", L["def-key"]), ("return key", L["ret-key"]),
        ("call key", L["def-key"]), ("return key", L["ret-key"]),
        ("call gen", L["def-gen"]), ("yield gen", L["yield-gen"]),
        *([("resume gen", L["def-gen"]),
           ("exception GeneratorExit in gen", L["yield-gen"]), ("unwind gen", L["yield-gen"])]
          if runlib.PY < (3, 13) else []),
        ("return main", L["ret-main"]),
        ("return <module>", L["last"]),
    ]
    for e in own:
        assert e["tid"] == tid and e["interp"] == 0
        if e["event"] == "c_function__entry":
            assert e["kind"] == "call" and set(e) >= {"name", "kind", "tid", "interp"}
        if "co_filename" in e:
            assert e["co_filename"] == path
    # the C functions called by the standard library are recorded too, not only the program's
    names = {e["name"] for e in t.events if e["event"] == "c_function__entry"}
    assert names > {"len", "list.append", "time.sleep", "math.sqrt", "sorted", "next", "print"}


def test_no_c_calls_without_the_option():
    path = prog("c_calls.py")
    with_c = runlib.run(["--c-calls", path])
    t = runlib.run([path])
    assert (t.returncode, t.stdout, t.stderr) == (0, "[3, -1, 1]\n", "")
    runlib.check_common(t)
    assert not [e for e in t.events if e["event"].startswith("c_function")]
    # the Python stream of the program is the same with or without C calls
    assert lttngharness.compact(t.events) == lttngharness.compact(with_c.events)
    assert lttngharness.compact(t.events)[:3] == ["call <module>", "call main",
                                                  "exception ValueError in main"]
