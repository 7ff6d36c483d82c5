# SPDX-License-Identifier: MIT
"""The pytrace package in-process, under the build's own CPython (any of 3.8-3.13).

unittest, not pytest: Debian's pytest imports only under Debian's 3.11 and pyenv's 3.12+ (on
3.8-3.10 it needs exceptiongroup and tomli, which bookworm's python3 has no use for), and these
tests must run under every interpreter the build supports. pytest collects them too.

PYTRACE_HOOKS=always (set by meson) keeps the hooks installed while attached even though no
session records, so that "attached" and "detached" are visible in the interpreter: the profile
hook on 3.8-3.11, libpytrace's sys.monitoring tool on 3.12+.
"""
import asyncio
import os
import sys
import threading
import unittest

import pytrace
from pytrace import _native

MONITORING = sys.version_info >= (3, 12)


def hooked():
    """Whether libpytrace's hooks are installed in this interpreter."""
    if MONITORING:
        return any(sys.monitoring.get_tool(i) == "pytrace" for i in (3, 4))
    return type(sys.getprofile()).__name__ == "ThreadState"


def pristine():
    """Nothing of libpytrace is left: no hook, no tool id, and a new attach works."""
    if MONITORING:
        return all(sys.monitoring.get_tool(i) != "pytrace" for i in (3, 4))
    return sys.getprofile() is None and sys.gettrace() is None


class Base(unittest.TestCase):
    def setUp(self):
        self.assertEqual(os.environ.get("PYTRACE_HOOKS"), "always")
        self.assertTrue(pristine())

    def tearDown(self):
        try:
            pytrace.detach()
        except RuntimeError:
            pass
        self.assertTrue(pristine())


class AttachDetach(Base):
    def test_attach_detach(self):
        pytrace.attach()
        self.assertTrue(hooked())
        pytrace.detach()
        self.assertTrue(pristine())

    def test_all_options(self):
        pytrace.attach(c_calls=True, mode="fast", include=["__main__", "test_*"],
                       exclude=":stdlib", max_depth=50)
        self.assertTrue(hooked())
        pytrace.configure(mode="events", include="a.*, b", max_depth=0)
        self.assertTrue(hooked())
        pytrace.detach()

    def test_attach_twice_is_runtime_error_and_keeps_the_first(self):
        pytrace.attach()
        with self.assertRaisesRegex(RuntimeError, "already attached"):
            pytrace.attach(c_calls=True)
        self.assertTrue(hooked())

    def test_detach_unattached(self):
        with self.assertRaisesRegex(RuntimeError, "not attached"):
            pytrace.detach()
        with self.assertRaisesRegex(RuntimeError, "not attached"):
            pytrace.configure()

    def test_tracing_context_detaches_also_on_error(self):
        with pytrace.tracing(c_calls=True):
            self.assertTrue(hooked())
        self.assertTrue(pristine())
        with self.assertRaises(KeyError):
            with pytrace.tracing():
                raise KeyError("never suppressed")
        self.assertTrue(pristine())

    def test_cycles(self):
        for _ in range(50):
            with pytrace.tracing():
                self.assertTrue(hooked())
            self.assertTrue(pristine())

    def test_threads_started_while_attached(self):
        seen = []
        with pytrace.tracing():
            t = threading.Thread(target=lambda: seen.append(hooked()))
            t.start()
            t.join()
        self.assertEqual(seen, [True])

    def test_version(self):
        self.assertRegex(pytrace.__version__, r"^\d+\.\d+\.\d+$")


BAD_OPTIONS = [
    # (options, exception, words the message must contain)
    ({"c_calls": 1}, TypeError, "c_calls must be a bool, not int"),
    ({"mode": 1}, TypeError, "mode must be a str"),
    ({"mode": "slow"}, ValueError, "unknown mode 'slow' (events or fast)"),
    ({"max_depth": "3"}, TypeError, "max_depth must be an int, not str"),
    ({"max_depth": True}, TypeError, "max_depth must be an int, not bool"),
    ({"max_depth": -1}, ValueError, "max_depth=-1 is not a depth"),
    ({"max_depth": 1000001}, ValueError, "up to 1000000"),
    ({"include": 3}, TypeError, "include must be a str or a list of str, not int"),
    ({"include": ["a", 3]}, TypeError, "include items must be str, not int"),
    ({"include": ["a,b"]}, ValueError, "include: 'a,b' contains a comma"),
    ({"include": "myapp.*,,x"}, ValueError, "include: empty pattern (item 2 of 'myapp.*,,x')"),
    ({"exclude": "my app"}, ValueError,
     "exclude: character not allowed in a module glob: ' ' in 'my app'"),
    ({"include": "a[bc"}, ValueError, "include: unclosed '[' in 'a[bc'"),
    ({"exclude": ":std"}, ValueError, "exclude: unknown name ':std'"),
    ({"logging": 1}, TypeError, "logging must be a bool, not int"),
    ({"logging": None}, TypeError, "logging must be a bool, not NoneType"),
]


class BadArguments(Base):
    def test_bad_options_raise_and_attach_nothing(self):
        for func in (pytrace.attach, pytrace.tracing):
            for opts, exc, words in BAD_OPTIONS:
                with self.subTest(func=func.__name__, opts=opts):
                    with self.assertRaises(exc) as cm:
                        func(**opts)
                    self.assertIn(words, str(cm.exception))
                    self.assertIn(f"pytrace.{func.__name__}", str(cm.exception))
                    self.assertTrue(pristine(), "half-attached after an error")
        pytrace.attach()  # and a good attach still works
        self.assertTrue(hooked())

    def test_bad_configure_changes_nothing(self):
        pytrace.attach()
        for opts, exc, words in BAD_OPTIONS:
            with self.subTest(opts=opts):
                with self.assertRaises(exc):
                    pytrace.configure(**opts)
                self.assertTrue(hooked())

    def test_unknown_and_positional_options(self):
        with self.assertRaisesRegex(TypeError, "unexpected keyword argument 'depth'"):
            pytrace.attach(depth=3)
        with self.assertRaises(TypeError):
            pytrace.attach(True)
        self.assertTrue(pristine())

    def test_bad_environment_is_value_error_and_attaches_nothing(self):
        os.environ["PYTRACE_MODE"] = "slow"
        try:
            with self.assertRaisesRegex(ValueError, "PYTRACE_"):
                pytrace.attach()
        finally:
            del os.environ["PYTRACE_MODE"]
        self.assertTrue(pristine())

    def test_filters_that_are_fine(self):
        for spec in ("", " ", [], "pkg.*", "a, b ,c", ":stdlib", "x[!]a]", "é.*", ["a", "b"]):
            with self.subTest(spec=spec):
                with pytrace.tracing(include=spec, exclude=spec):
                    pass


def forwarding():
    """Whether libpytrace forwards this interpreter's logging (its `_libpytrace` module)."""
    return sys.modules["_libpytrace"].logging_enabled()


class Logging(Base):
    """No session records: the switch is seen through `_libpytrace` (docs/logging.md); the
    records themselves are in test_sessions.py, a missing agent library in test_cli.py."""

    def test_attach_option_and_switch(self):
        pytrace.attach(logging=True)
        self.assertTrue(forwarding())
        pytrace.forward_logging(False)
        self.assertFalse(forwarding())
        pytrace.forward_logging(False)  # off when off: nothing
        pytrace.forward_logging()
        pytrace.forward_logging(True)
        self.assertTrue(forwarding())
        pytrace.detach()
        self.assertNotIn("_libpytrace", sys.modules)

    def test_off_by_default_and_with_tracing(self):
        pytrace.attach()
        self.assertFalse(forwarding())
        pytrace.detach()
        with pytrace.tracing(logging=True):
            self.assertTrue(forwarding())

    def test_not_attached_and_bad_argument(self):
        for on in (True, False):
            with self.assertRaisesRegex(RuntimeError,
                                        "pytrace.forward_logging: .*not attached"):
                pytrace.forward_logging(on)
        pytrace.attach()
        for bad in (1, "yes", None):
            with self.subTest(on=bad):
                with self.assertRaisesRegex(TypeError,
                                            "forward_logging: on must be a bool"):
                    pytrace.forward_logging(bad)
        self.assertFalse(forwarding())

    def test_configure_takes_no_logging(self):
        pytrace.attach(logging=True)
        with self.assertRaisesRegex(TypeError, "unexpected keyword argument 'logging'"):
            pytrace.configure(logging=False)
        pytrace.configure(mode="fast")  # and forwarding stays as it was
        self.assertTrue(forwarding())


class Spans(unittest.TestCase):
    """No session records here: the calls must work and validate; tests/python/
    test_sessions.py reads the events back."""

    def test_with_span(self):
        s = pytrace.span("work", user="ann", n="3")
        self.assertIsNone(s.id)
        with s as entered:
            self.assertIs(entered, s)
            first = s.id
            self.assertIsInstance(first, int)
            with s:  # nested entry of the same object
                self.assertGreater(s.id, first)
            self.assertEqual(s.id, first)
        self.assertIsNone(s.id)
        self.assertEqual(s.name, "work")
        self.assertEqual(s.attrs, {"user": "ann", "n": "3"})

    def test_exception_passes_through(self):
        with self.assertRaises(ZeroDivisionError):
            with pytrace.span("x"):
                1 / 0

    def test_decorator(self):
        @pytrace.span("decorated", kind="fn")
        def f(a, b=2):
            """doc"""
            return a + b

        self.assertEqual(f(1, b=5), 6)
        self.assertEqual(f.__name__, "f")
        self.assertEqual(f.__doc__, "doc")
        with self.assertRaises(TypeError):
            f()

    def test_async_decorator(self):
        @pytrace.span("coro")
        async def c(x):
            await asyncio.sleep(0)
            return x

        self.assertTrue(asyncio.iscoroutinefunction(c))
        self.assertEqual(asyncio.run(c(4)), 4)

    def test_mark(self):
        self.assertIsNone(pytrace.mark("m", k="v", name="attribute called name"))
        pytrace.mark("no attributes")
        pytrace.mark("surrogates \udcff", k="\udcfe")  # escaped, never an error

    def test_bad_arguments(self):
        cases = [
            (lambda: pytrace.span(3), TypeError, "pytrace.span: name must be a str, not int"),
            (lambda: pytrace.span(""), ValueError, "pytrace.span: name must not be empty"),
            (lambda: pytrace.span("a", n=3), TypeError,
             "pytrace.span: attribute 'n' must be a str, not int"),
            (lambda: pytrace.span("a", **{"": "x"}), ValueError, "attribute name is empty"),
            (lambda: pytrace.span("a\0b"), ValueError, "name contains a NUL character"),
            (lambda: pytrace.span(), TypeError, "exactly one positional argument"),
            (lambda: pytrace.span("a", "b"), TypeError, "exactly one positional argument"),
            (lambda: pytrace.span("a")(3), TypeError, "can only decorate a callable"),
            (lambda: pytrace.mark(None), TypeError, "pytrace.mark: name must be a str"),
            (lambda: pytrace.mark("m", v=b"x"), TypeError,
             "pytrace.mark: attribute 'v' must be a str, not bytes"),
            (lambda: pytrace.mark("m", v="a\0"), ValueError, "attribute 'v' contains a NUL"),
        ]
        for call, exc, words in cases:
            with self.subTest(words=words):
                with self.assertRaises(exc) as cm:
                    call()
                self.assertIn(words, str(cm.exception))

    def test_exit_without_enter(self):
        with self.assertRaisesRegex(RuntimeError, "without __enter__"):
            pytrace.span("a").__exit__(None, None, None)

    def test_low_level_ids(self):
        a = _native.span_begin("a", {"k": "v"})
        b = _native.span_begin("b")
        self.assertNotEqual(a, b)
        _native.span_end("b", b)
        _native.span_end("a", a)
        with self.assertRaisesRegex(ValueError, "span id 0"):
            _native.span_end("a", 0)


class OneLibrary(unittest.TestCase):
    def test_extension_uses_the_shared_libpytrace(self):
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libpytrace.so" in line}
        self.assertEqual(len(paths), 1, paths)


if __name__ == "__main__":
    unittest.main()
