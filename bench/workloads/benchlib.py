# SPDX-License-Identifier: MIT
"""Shared driver of the benchmark workloads (bench/workloads/*.py).

A workload defines make(size) -> work, a callable running its work section once, and calls
main(). Only work() is timed (time.perf_counter, in the process). Run under any host:

    HOST bench/workloads/fib.py [--size N | --quick] [--mode MODE] [--warmup W] [--repeat R]

MODE selects what runs in this process around the work section (the host decides the rest):
  plain        nothing (untraced under pytrace-bench-bare; libpytrace under pytrace-run)
  count        no timing: counts the Python calls of one work() with sys.setprofile ('call'
               events: calls and generator/coroutine resumes, i.e. what a tracer's entry hook sees)
  cprofile     cProfile.Profile() enabled around each work()
  setprofile   sys.setprofile and threading.setprofile with an empty Python function
  viztracer    viztracer.VizTracer(...).start()/stop() around each work(), never saved
               (VIZTRACER_PATH: directories to put first on sys.path, os.pathsep-separated)
  floor-empty  the empty C hook of pytrace_bench_floor (--floor-dir: folder of its .so)
  floor-tp     the same hook firing two pytrace_bench tracepoints per call
  floor-tp-exc floor-tp plus an empty exception hook (3.8-3.11: a C trace function; 3.12+: RAISE)

The result is one line on stdout: "BENCH-RESULT " followed by JSON (see emit()): times_ns, the
perf_counter time of each timed section, and cpu_ns, the CPU time of this thread during it (much
less than times_ns means the process waited for a CPU: another process was running), and in
plain mode, hooks: the profile hooks and sys.monitoring tools installed right after work().
W warm-up runs (default 1) precede the R timed ones (default 1): the first run of a work section
also pays for imports, caches and CPython's specialization.
"""
import argparse
import json
import os
import sys
import time

MODES = ("plain", "count", "cprofile", "setprofile", "viztracer", "floor-empty", "floor-tp",
         "floor-tp-exc")


def emit(**fields):
    fields.setdefault("python", sys.version.split()[0])
    fields.setdefault("pid", os.getpid())
    sys.stdout.write("BENCH-RESULT " + json.dumps(fields) + "\n")
    sys.stdout.flush()


def _empty_profile(frame, event, arg):
    pass


class _Around:
    """What MODE installs just before and removes just after each timed work()."""

    def __init__(self, mode, floor_dir, script):
        self.mode = mode
        self.info = None
        if mode == "cprofile":
            import cProfile

            self.profiler = cProfile.Profile()
        elif mode == "viztracer":
            for p in reversed(os.environ.get("VIZTRACER_PATH", "").split(os.pathsep)):
                if p:
                    sys.path.insert(0, p)
            import viztracer

            self.info = "viztracer " + getattr(viztracer, "__version__", "?")
            # The default ring of 1M entries, overwritten when full: tracing cost without saving.
            self.tracer = viztracer.VizTracer(verbose=0, register_global=False)
        elif mode.startswith("floor-"):
            if floor_dir:
                sys.path.insert(0, floor_dir)
            import pytrace_bench_floor

            self.floor = pytrace_bench_floor
            # Constant payload of realistic size: this script's path, a short name, __main__.
            self.floor_args = ("empty",) if mode == "floor-empty" else (
                mode[len("floor-"):], os.path.abspath(script), "work", "work", "__main__")

    def start(self):
        m = self.mode
        if m == "cprofile":
            self.profiler.enable()
        elif m == "setprofile":
            import threading

            threading.setprofile(_empty_profile)
            sys.setprofile(_empty_profile)
        elif m == "viztracer":
            self.tracer.start()
        elif m.startswith("floor-"):
            self.info = self.floor.install(*self.floor_args)

    def stop(self):
        m = self.mode
        if m == "cprofile":
            self.profiler.disable()
            self.profiler = type(self.profiler)()  # drop the statistics between runs
        elif m == "setprofile":
            import threading

            sys.setprofile(None)
            threading.setprofile(None)
        elif m == "viztracer":
            self.tracer.stop()
            self.tracer.clear()
        elif m.startswith("floor-"):
            self.floor.uninstall()


def installed_hooks():
    """Profile hooks and sys.monitoring tools with global events on, e.g. ["profile:ThreadState"]:
    in an "idle" run, anything here means some session made libpytrace install its hooks."""
    found = []
    prof = sys.getprofile()
    if prof is not None:
        found.append("profile:" + getattr(type(prof), "__qualname__", type(prof).__name__))
    mon = getattr(sys, "monitoring", None)
    if mon is not None:
        # A tool id may stay registered while idle: only events switched on cost anything.
        for tool in range(6):
            name = mon.get_tool(tool)
            if name is not None and mon.get_events(tool):
                found.append(f"monitoring:{tool}:{name}")
    return found


def count_calls(work):
    """Python calls of one work(): 'call' events of sys.setprofile (calls and resumes)."""
    n = 0

    def counter(frame, event, arg):
        nonlocal n
        if event == "call":
            n += 1

    sys.setprofile(counter)
    try:
        work()
    finally:
        sys.setprofile(None)
    return n


def main(make, name, default_size, quick_size, requires=()):
    ap = argparse.ArgumentParser(description=f"benchmark workload {name}")
    ap.add_argument("--size", type=int)
    ap.add_argument("--quick", action="store_true", help=f"size {quick_size}")
    ap.add_argument("--mode", choices=MODES, default="plain")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--floor-dir", help="folder holding pytrace_bench_floor*.so")
    args = ap.parse_args()
    size = args.size or (quick_size if args.quick else default_size)

    for mod in requires:
        try:
            __import__(mod)
        except ImportError as e:
            emit(workload=name, size=size, mode=args.mode, skip=f"{mod} not importable ({e})")
            return

    work = make(size)
    for _ in range(args.warmup):
        work()

    if args.mode == "count":
        counts = [count_calls(work), count_calls(work)]
        emit(workload=name, size=size, mode="count", calls=counts)
        return

    around = _Around(args.mode, args.floor_dir, sys.argv[0])
    times, cpu, hooks = [], [], set()
    for _ in range(args.repeat):
        around.start()
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        work()
        t1 = time.perf_counter_ns()
        c1 = time.thread_time_ns()
        if args.mode == "plain":
            hooks.update(installed_hooks())
        around.stop()
        times.append(t1 - t0)
        cpu.append(c1 - c0)
    emit(workload=name, size=size, mode=args.mode, times_ns=times, cpu_ns=cpu, info=around.info,
         hooks=sorted(hooks))
