# SPDX-License-Identifier: MIT
"""`python -m pytrace` behaves as `python` does, without a session (test_sessions.py has the
traced runs): same stdout, stderr (tracebacks included) and exit status, same sys.argv,
sys.path[0], `__main__` module and `__file__`, for scripts, `-m module`, `-c`, symlinks,
SystemExit, uncaught exceptions (chained, KeyboardInterrupt, SyntaxError, the program's own
sys.excepthook) and a file that does not exist. Runs under the build's CPython (unittest, see
test_api.py)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
RUN_PROGRAMS = os.path.join(HERE, "..", "integration", "run", "programs")
PYTHON = sys.executable
SHIM_PATH = os.environ["PYTRACE_SHIM_PATH"]  # BUILD/python: the package, extension included


def run(argv, cwd=None, env=None):
    env = dict(os.environ if env is None else env)
    env.pop("PYTRACE_HOOKS", None)
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def shim_env(extra_path=None):
    """PYTHONPATH for the shim, also for the untraced run (the programs see the same
    sys.path)."""
    path = [SHIM_PATH] + ([extra_path] if extra_path else [])
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path))


class SameAsPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pytrace-cli-")
        sub = os.path.join(cls.tmp, "sub")
        os.mkdir(sub)
        for f in ("namespace.py", "syntax_error.py"):
            shutil.copyfile(os.path.join(PROGRAMS, f), os.path.join(sub, f))
        for f in ("mainmod.py", "helper.py"):
            shutil.copyfile(os.path.join(RUN_PROGRAMS, "modpkg", f), os.path.join(sub, f))
        shutil.copyfile(os.path.join(RUN_PROGRAMS, "launcher_io.py"),
                        os.path.join(sub, "launcher_io.py"))
        os.symlink(os.path.join("sub", "namespace.py"), os.path.join(cls.tmp, "link.py"))
        cls.sub = sub

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def same(self, args, cwd=None, env=None, own=()):
        env = env or shim_env()
        want = run([PYTHON, *args], cwd=cwd or self.tmp, env=env)
        got = run([PYTHON, "-m", "pytrace", *own, *args], cwd=cwd or self.tmp, env=env)
        self.assertEqual(got, want)
        return got

    def test_script_output_argv_and_exit(self):
        for mode in ("", "exit3", "exitmsg", "raise"):
            with self.subTest(mode=mode):
                rc, out, err = self.same(["sub/launcher_io.py", mode, "a b", "", "ü", "--c-calls"])
                self.assertEqual(rc, {"": 0, "exit3": 3, "exitmsg": 1, "raise": 1}[mode])
        self.assertIn("The above exception was the direct cause", err)
        self.assertNotIn("_cli.py", err)
        self.assertNotIn("runpy", err)

    def test_own_options_before_the_program(self):
        self.same(["sub/launcher_io.py", "x"], own=["--c-calls"])
        self.same(["sub/launcher_io.py", "x"], own=["--"])

    def test_main_module_namespace(self):
        rc, out, _ = self.same(["sub/namespace.py"])
        self.assertIn("main is me True", out)
        self.assertIn("pickle Point", out)

    def test_symlinked_script(self):
        rc, out, _ = self.same(["link.py"])
        self.assertIn("path0 " + os.path.realpath(self.sub), out)

    def test_absolute_path_and_other_cwd(self):
        self.same([os.path.join(self.sub, "namespace.py")], cwd="/")

    def test_unnormalized_paths(self):
        for path in ("./sub/../sub/namespace.py", "sub//namespace.py",
                     os.path.join(self.sub, "..", "sub", "namespace.py")):
            with self.subTest(path=path):
                self.same([path])

    def test_uncaught_exceptions(self):
        for mode, status in (("kbi", -2), ("hook", 1), ("atexit", 1), ("none-exit", 0)):
            with self.subTest(mode=mode):
                rc, out, err = self.same(["sub/namespace.py", mode])
                self.assertEqual(rc, status)
                if mode == "atexit":
                    self.assertIn("atexit handler ran", out)

    def test_own_excepthook_gets_only_the_program_frames(self):
        rc, out, err = self.same(["sub/namespace.py", "hook"])
        self.assertIn("own hook RuntimeError to the program's hook frames 1", err)

    def test_syntax_error(self):
        rc, out, err = self.same(["sub/syntax_error.py"])
        self.assertEqual(rc, 1)
        self.assertIn("SyntaxError", err)

    def test_missing_file(self):
        want = run([PYTHON, "nosuch.py"], cwd=self.tmp, env=shim_env())
        got = run([PYTHON, "-m", "pytrace", "nosuch.py"], cwd=self.tmp, env=shim_env())
        self.assertEqual(got, want)
        self.assertEqual(got[0], 2)

    def test_directory_and_zip(self):
        import zipfile

        app = os.path.join(self.tmp, "app")
        os.mkdir(app)
        with open(os.path.join(app, "__main__.py"), "w") as f:
            f.write("import sys\nprint(__name__, __file__, sys.argv, sys.path[0])\n1 / 0\n")
        with zipfile.ZipFile(os.path.join(self.tmp, "app.zip"), "w") as z:
            z.write(os.path.join(app, "__main__.py"), "__main__.py")
        for target in ("app", "app.zip"):
            with self.subTest(target=target):
                rc, out, err = self.same([target, "arg"])
                self.assertEqual(rc, 1)
                self.assertIn("ZeroDivisionError", err)

    def test_module(self):
        env = shim_env(self.sub)
        rc, out, _ = self.same(["-m", "mainmod", "x", "-y"], env=env)
        self.assertIn("file True __main__", out)
        self.same(["-m", "nosuchmodule"], env=env)
        self.same(["-mmainmod"], env=env)

    def test_command(self):
        self.same(["-c", "import sys; print(sys.argv, repr(sys.path[0]), __name__); "
                         "sys.exit(5)", "arg"])
        self.same(["-c", "1/0"])


class OwnOptions(unittest.TestCase):
    def test_help_version_and_usage(self):
        rc, out, err = run([PYTHON, "-m", "pytrace", "--help"], env=shim_env())
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("--c-calls", out)
        rc, out, err = run([PYTHON, "-m", "pytrace", "--version"], env=shim_env())
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^python -m pytrace \(libpytrace\) \d+\.\d+\.\d+\n$")
        rc, out, err = run([PYTHON, "-m", "pytrace"], env=shim_env())
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("Usage:", err)

    def test_logging_options(self):
        from pytrace._cli import parse

        self.assertEqual(parse(["app.py", "--no-logging"]), (False, True, ["app.py",
                                                                           "--no-logging"]))
        self.assertEqual(parse(["--no-logging", "--c-calls", "--", "-m", "mod"]),
                         (True, False, ["-m", "mod"]))
        self.assertEqual(parse(["--c-calls", "-c", "pass"]), (True, True, ["-c", "pass"]))
        rc, out, err = run([PYTHON, "-m", "pytrace", "--help"], env=shim_env())
        self.assertIn("--no-logging", out)
        self.assertIn("PYTRACE_LOGGING", out)

    def test_python_options_belong_before(self):
        rc, out, err = run([PYTHON, "-m", "pytrace", "-E", "x.py"], env=shim_env())
        self.assertEqual(rc, 2)
        self.assertIn("unknown option -E (Python's options go before -m pytrace)", err)

    def test_attach_failure_runs_untraced(self):
        env = shim_env()
        env["PYTRACE_MODE"] = "slow"
        rc, out, err = run([PYTHON, "-m", "pytrace", "-c", "print('ran')"], env=env)
        self.assertEqual((rc, out), (0, "ran\n"))
        self.assertIn("python -m pytrace: cannot attach:", err)
        self.assertIn("running untraced", err)


# Prints whether the interpreter is attached (libpytrace's `_libpytrace` module is there) and
# whether it forwards logging.
STATE = ("import sys; m = sys.modules.get('_libpytrace'); "
         "print('attached', m is not None, 'logging', bool(m and m.logging_enabled()))")


class WithoutAgentLibrary(unittest.TestCase):
    """liblttng-ust-python-agent.so.1 that does not load: a file that is not a library, first
    in the loader's path."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pytrace-noagent-")
        with open(os.path.join(cls.tmp, "liblttng-ust-python-agent.so.1"), "w") as f:
            f.write("not a library\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def env(self, **kw):
        env = shim_env()
        env["LD_LIBRARY_PATH"] = self.tmp
        env.pop("PYTRACE_LOGGING", None)
        env.update(kw)
        return env

    def test_launcher_warns_and_traces_calls(self):
        rc, out, err = run([PYTHON, "-m", "pytrace", "-c", STATE], env=self.env())
        self.assertEqual((rc, out), (0, "attached True logging False\n"))
        self.assertIn("liblttng-ust-python-agent.so.1", err)  # libpytrace's reason
        self.assertTrue(err.endswith("python -m pytrace: Python logging is not forwarded\n"),
                        err)
        self.assertNotIn("untraced", err)

    def test_no_logging_asks_nothing_of_it(self):
        rc, out, err = run([PYTHON, "-m", "pytrace", "--no-logging", "-c", STATE],
                           env=self.env())
        self.assertEqual((rc, out, err), (0, "attached True logging False\n", ""))
        rc, out, err = run([PYTHON, "-m", "pytrace", "-c", STATE],
                           env=self.env(PYTRACE_LOGGING="0"))
        self.assertEqual((rc, out, err), (0, "attached True logging False\n", ""))

    def test_api_raises_runtime_error_and_attaches_nothing(self):
        code = ("import pytrace\n"
                "try:\n"
                "    pytrace.attach(logging=True)\n"
                "except RuntimeError as e:\n"
                "    print(e)\n"
                f"{STATE}\n"
                "pytrace.attach()\n"
                "try:\n"
                "    pytrace.forward_logging()\n"
                "except RuntimeError as e:\n"
                "    print(e)\n"
                f"{STATE}\n")
        rc, out, err = run([PYTHON, "-c", code], env=self.env())
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^pytrace\.attach: cannot forward Python logging: .*"
                                   r"liblttng-ust-python-agent\.so\.1")
        self.assertEqual(lines[1], "attached False logging False")
        self.assertRegex(lines[2], r"^pytrace\.forward_logging: .*"
                                   r"liblttng-ust-python-agent\.so\.1")
        self.assertEqual(lines[3], "attached True logging False")


if __name__ == "__main__":
    unittest.main()
