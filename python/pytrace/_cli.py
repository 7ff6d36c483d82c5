# SPDX-License-Identifier: MIT
"""`python3 -m pytrace`: run a program as `python3` would, with libpytrace attached.

    python3 -m pytrace [--c-calls] [--no-logging] [--] script.py [args...]
    python3 -m pytrace [--c-calls] [--no-logging] [--] -m module [args...]
    python3 -m pytrace [--c-calls] [--no-logging] [--] -c command [args...]

The contract of pytrace-run (tools/pytrace-run): the program sees the sys.argv, sys.path[0],
`__main__` module and `__file__` that `python3 script.py` / `python3 -m module` would give it,
and its output, traceback and exit status (1 for an uncaught exception, death by SIGINT for an
uncaught KeyboardInterrupt, SystemExit's code) are those of the untraced run. Python's own
options go before `-m pytrace` (`python3 -X dev -m pytrace app.py`).

As pytrace-run, it forwards the program's `logging` records to LTTng (`lttng_python:event`, as
the official agent does; docs/logging.md) unless --no-logging is given or PYTRACE_LOGGING=0
(PYTRACE_LOGGING, when set, wins over both: libpytrace reads it at attach). When libpytrace
cannot load liblttng-ust-python-agent.so.1, it says why on stderr, the launcher adds that
logging is not forwarded, and the program's calls are traced all the same.

How: the script is compiled and run in a fresh `__main__` module set up as CPython's
pymain_run_file() does (a module is run by runpy._run_module_as_main(), as `python3 -m`); an
uncaught exception is re-raised unchanged, and the interpreter reports it as it would have, with
the traceback entries of this launcher removed (a one-shot sys.excepthook wrapper hands the
program's own hook the trimmed traceback).
"""
import os
import sys

USAGE = """\
Usage: python3 -m pytrace [OPTIONS] [--] script.py [ARGS...]
       python3 -m pytrace [OPTIONS] [--] -m module [ARGS...]
       python3 -m pytrace [OPTIONS] [--] -c command [ARGS...]

Run a Python program as python3 does, with every Python call recorded as an
LTTng-UST event (provider `python`) whenever a session enables them, and its
`logging` records as the official LTTng Python agent records them:
  lttng create s && lttng enable-event -u 'python:*' && lttng start
  lttng enable-event --python -a      (logging records: lttng_python:event)

Options:
  --c-calls      also record calls of C functions (len, list.append, time.sleep)
  --no-logging   do not forward `logging` records (same as PYTRACE_LOGGING=0)
  --help         show this help and exit
  --version      show the libpytrace version and exit

Python's own options go before -m pytrace (python3 -X dev -m pytrace app.py).
PYTRACE_MODE, PYTRACE_INCLUDE, PYTRACE_EXCLUDE, PYTRACE_MAX_DEPTH, PYTRACE_C_CALLS
and PYTRACE_LOGGING set what is recorded (docs/api.md).
"""

_HERE = os.path.dirname(os.path.abspath(__file__))
PROG = "python -m pytrace"


def _program_name():
    # What CPython's own messages start with: the interpreter as it was invoked.
    orig = getattr(sys, "orig_argv", None)
    return orig[0] if orig else sys.executable


def _fresh_main():
    """A `__main__` module as CPython creates it at start-up (pylifecycle.c add_main_module()),
    installed as sys.modules['__main__'] for good, as for the program run untraced."""
    import builtins
    import importlib.machinery
    import types

    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    main.__loader__ = importlib.machinery.BuiltinImporter
    if sys.version_info < (3, 14):
        main.__annotations__ = {}
    sys.modules["__main__"] = main
    return main


def _set_path0(path):
    """sys.path[0] as `python3 ...` sets it: `-m pytrace` put the cwd there, unless -P/-I."""
    if getattr(sys.flags, "safe_path", False) or sys.flags.isolated:
        return
    sys.path[0] = path


def _script(path, args):
    """Prepares `python3 path args...`; returns what runs it (after the attach, so that the
    launcher's own work is not recorded)."""
    sys.argv[:] = [path, *args]
    # 3.9+ makes the script's path absolute (config.run_filename, _Py_abspath(): the working
    # directory joined, nothing normalized: `./a/../b.py` stays); 3.8 keeps it as given.
    filename = path
    if sys.version_info >= (3, 9) and not os.path.isabs(path):
        filename = os.path.join(os.getcwd(), path)
    if _has_main(path):
        # `python3 dir` / `python3 app.zip`: its __main__ module, found on sys.path[0].
        import runpy

        _set_path0(filename)
        _fresh_main()
        return lambda: runpy._run_module_as_main("__main__", alter_argv=False)
    try:
        import io

        with io.open_code(path) as f:
            source = f.read()
    except OSError as e:
        sys.stderr.write(f"{_program_name()}: can't open file {filename!r}: "
                         f"[Errno {e.errno}] {e.strerror}\n")
        raise SystemExit(2)
    # Where CPython looks for the script's imports: its real directory (symlinks resolved).
    _set_path0(os.path.dirname(os.path.realpath(path)))
    import importlib.machinery

    main = _fresh_main()
    main.__file__ = filename
    main.__cached__ = None
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", filename)
    code = compile(source, filename, "exec", dont_inherit=True)
    return lambda: exec(code, main.__dict__)


def _has_main(path):
    """Whether python3 would run @path as a directory or zip file with a __main__ module (it
    asks sys.path_hooks; zipimport is loaded at start-up, zipfile need not be imported)."""
    if os.path.isdir(path):
        return True
    import zipimport

    try:
        zipimport.zipimporter(path)
    except (ImportError, OSError):
        return False
    return True


def _module(name, args):
    import runpy

    sys.argv[:] = ["-m", *args]
    _fresh_main()
    return lambda: runpy._run_module_as_main(name, alter_argv=True)


def _command(command, args):
    sys.argv[:] = ["-c", *args]
    _set_path0("")
    main = _fresh_main()
    code = compile(command, "<string>", "exec", dont_inherit=True)
    if sys.version_info >= (3, 13):
        # 3.13+ shows the command's lines in its tracebacks: pymain_run_command() puts it in
        # linecache under "<string>", as here.
        import linecache

        lines = [line + "\n" for line in command.splitlines()]
        linecache.cache["<string>"] = (len(command), None, lines, "<string>")
    return lambda: exec(code, main.__dict__)


def _trim(tb):
    """The traceback without its leading entries in this package (the launcher's frames)."""
    while tb is not None and os.path.dirname(tb.tb_frame.f_code.co_filename) == _HERE:
        tb = tb.tb_next
    return tb


def _report_as_python(exc):
    """Lets the interpreter report @exc as it would have (exit status, SIGINT for a
    KeyboardInterrupt), but with the traceback the untraced program would have had."""
    tb = _trim(exc.__traceback__)
    exc.__traceback__ = tb
    hook = sys.excepthook

    def excepthook(etype, value, _tb):
        sys.excepthook = hook
        if value is exc:
            sys.last_traceback = tb
            value.__traceback__ = tb
            return hook(etype, value, tb)
        return hook(etype, value, _tb)

    sys.excepthook = excepthook


def _usage_error(msg):
    sys.stderr.write(f"{PROG}: {msg}\n{USAGE}")
    return 2


def _attach(c_calls, logging):
    """Attaches as pytrace-run does: without the agent library (libpytrace says why on stderr),
    without logging; if attaching fails, the program runs untraced, after one line on stderr."""
    import pytrace

    try:
        try:
            pytrace.attach(c_calls=c_calls, logging=logging)
        except pytrace._native.AgentLibraryError:
            if not logging:
                raise
            sys.stderr.write(f"{PROG}: Python logging is not forwarded\n")
            pytrace.attach(c_calls=c_calls)
    except (RuntimeError, ValueError, OSError, MemoryError) as e:
        # Never keep the program from running: it runs untraced.
        sys.stderr.write(f"{PROG}: cannot attach: {e}; running untraced\n")


def parse(args):
    """The launcher's options: (c_calls, logging, the program's arguments), or an int, the exit
    status, for --help, --version and a missing program."""
    c_calls, logging = False, True
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--c-calls":
            c_calls = True
        elif a == "--no-logging":
            logging = False
        elif a == "--help":
            sys.stdout.write(USAGE)
            return 0
        elif a == "--version":
            import pytrace

            print(f"{PROG} (libpytrace) {pytrace.__version__}")
            return 0
        elif a == "--":
            i += 1
            break
        else:
            break
        i += 1
    if i == len(args):
        sys.stderr.write(USAGE)
        return 2
    return c_calls, logging, args[i:]


def main(argv=None):
    parsed = parse(list(sys.argv[1:] if argv is None else argv))
    if isinstance(parsed, int):
        return parsed
    c_calls, logging, rest = parsed
    first = rest[0]
    if first in ("-m", "-c") or first.startswith(("-m", "-c")) and len(first) > 2:
        value = first[2:] or (rest[1] if len(rest) > 1 else None)
        if value is None:
            sys.stderr.write(f"Argument expected for the {first} option\n")
            return 2
        run, prog_args = (_module if first.startswith("-m") else _command), \
            rest[1 if first[2:] else 2:]
        what = value
    elif first.startswith("-") and first != "-":
        return _usage_error(f"unknown option {first} (Python's options go before -m pytrace)")
    else:
        if first == "-":
            return _usage_error("reading the program from stdin is not supported")
        run, what, prog_args = _script, first, rest[1:]

    try:
        go = run(what, prog_args)
        _attach(c_calls, logging)
        go()
    except SystemExit:
        raise
    except BaseException as e:
        _report_as_python(e)
        raise
    return 0
