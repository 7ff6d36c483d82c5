#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ns per Python call of each workload in each mode, as markdown tables (one per build folder,
hence per embedded CPython). Run by scripts/bench.sh; needs a running lttng-sessiond.

    bench/harness.py [--quick] [--runs N] [--workloads fib,oop] [--modes untraced,events]
                     [--json FILE] BUILD_DIR...

Each (workload, mode) runs in --runs separate processes; modes are interleaved (round after
round, each round in a rotated order) so that a machine that slows down mid-run hurts every mode
alike. A process times one work section (after one warm-up section) with perf_counter; ns per
call = that time / the section's Python calls, counted once per workload with sys.setprofile
under the bare host. Tables show medians; ratios divide by the untraced median of the same
invocation; "best ratio" divides the fastest runs (steadier on a busy machine, where contention
only adds time). Recording runs use one session each, tracking only the benchmarked process
(started stopped, tracked, then resumed), with its own 8 x 8 MiB channel; their discarded events
are reported and any run that discarded is flagged.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchtools as bt  # noqa: E402

WORKLOADS = {  # name: script in bench/workloads
    "fib": "fib.py",
    "oop": "oop.py",
    "gen_async": "gen_async.py",
    "logging": "logging_heavy.py",
    "flask": "flask_app.py",
}


class Mode:
    def __init__(self, key, label, host, inproc="plain", events=None, env=None):
        self.key = key
        self.label = label
        self.host = host  # "bare" or "run"
        self.inproc = inproc  # benchlib --mode
        self.events = events  # session event rules when recording
        self.env = env or {}


MODES = [
    Mode("untraced", "untraced (bare host)", "bare"),
    Mode("idle", "libpytrace attached, idle (no session)", "run"),
    Mode("events", "libpytrace recording, per-event mode", "run", events=["python:*"]),
    Mode("fast", "libpytrace recording, fast mode", "run", events=["python:*"],
         env={"PYTRACE_MODE": "fast"}),
    Mode("floor-empty", "floor: empty C hook", "bare", inproc="floor-empty"),
    Mode("floor-tp", "floor: empty C hook + 2 bare tracepoints/call (recording)", "bare",
         inproc="floor-tp", events=["pytrace_bench:*"]),
    Mode("floor-tp-exc", "floor: the same + empty exception hook (per-event mode's mechanism)",
         "bare", inproc="floor-tp-exc", events=["pytrace_bench:*"]),
    Mode("cprofile", "cProfile", "bare", inproc="cprofile"),
    Mode("setprofile", "sys.setprofile(empty Python function)", "bare", inproc="setprofile"),
    Mode("viztracer", "VizTracer (not saved)", "bare", inproc="viztracer"),
]
MODE_BY_KEY = {m.key: m for m in MODES}


class Cell:
    """The runs of one (workload, mode)."""

    def __init__(self):
        self.ns = []  # ns per call, one per run
        self.cpu_share = []  # thread CPU time / wall time of the timed section, per run
        self.wall_ns = []  # ns per call from perf_counter, one per run
        self.cpu_ns = []  # ns per call from the thread's CPU time, one per run
        self.discarded = []
        self.lost = []
        self.trace_bytes = []
        self.flags = set()
        self.foreign = set()  # other sessions active during a run
        self.na = None  # reason when not measured
        self.info = None


def parse_result(out):
    for line in out.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT "):])
    return None


def first_error_line(err):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else "no output"


class Runner:
    def __init__(self, build, args):
        self.b = build
        self.args = args
        self.fast_ok, self.fast_why = None, None
        self.viz_ok, self.viz_why = None, None

    def cmd(self, mode, workload):
        host = self.b.bare if mode.host == "bare" else self.b.run
        c = [host, os.path.join(bt.BENCH, "workloads", WORKLOADS[workload]),
             "--mode", mode.inproc, "--warmup", str(self.args.warmup), "--repeat", "1"]
        if self.args.quick:
            c.append("--quick")
        if mode.inproc.startswith("floor"):
            c += ["--floor-dir", self.b.floor_dir]
        return c

    def env(self, mode):
        return bt.clean_env(VIZTRACER_PATH=os.environ.get("VIZTRACER_PATH"), **mode.env)

    def count(self, workload):
        c = self.cmd(MODE_BY_KEY["untraced"], workload)
        c[c.index("--mode") + 1] = "count"
        rc, out, err = bt.run_process(c, bt.clean_env())
        res = parse_result(out)
        if rc or not res:
            return None, f"count failed: {first_error_line(err)}"
        if "skip" in res:
            return None, res["skip"]
        counts = res["calls"]
        note = None if counts[0] == counts[1] else f"calls vary: {counts}"
        return sum(counts) / len(counts), note

    def probe(self, wanted):
        if "fast" in wanted:
            bt.log(f"  probing PYTRACE_MODE=fast of {self.b.path}")
            self.fast_ok, self.fast_why = bt.probe_fast_mode(self.b)
            bt.log(f"  fast mode: {'yes' if self.fast_ok else 'n/a'} ({self.fast_why})")
        if "viztracer" in wanted:
            path = os.environ.get("VIZTRACER_PATH")
            if not path:
                self.viz_ok, self.viz_why = False, "not available (VIZTRACER_PATH unset)"
            else:
                code = ("import sys; sys.path[:0] = sys.argv[1].split(':'); import viztracer; "
                        "print(viztracer.__version__)")
                rc, out, err = bt.run_process([self.b.bare, "-c", code, path], bt.clean_env())
                self.viz_ok = rc == 0
                self.viz_why = (f"viztracer {out.strip()}" if rc == 0 else
                                f"not available ({first_error_line(err)})")
            bt.log(f"  VizTracer: {self.viz_why}")

    def one(self, workload, mode, calls, cell):
        """One process of (workload, mode); appends to cell."""
        if mode.key == "idle" or mode.events:
            # Another session enabling python:* makes "idle" pay for the hooks, and any session
            # is a process competing for the CPUs.
            cell.foreign.update(bt.active_sessions())
        c, env = self.cmd(mode, workload), self.env(mode)
        if mode.events:
            with bt.Session(f"{workload}-{mode.key}", mode.events) as s:
                rc, out, err = bt.run_process(c, env, s)
                disc, lost = s.discarded()
                tbytes = s.trace_bytes()
        else:
            rc, out, err = bt.run_process(c, env)
            disc = lost = tbytes = None
        if mode.key == "fast" and bt.mode_rejected(err):
            cell.na = f"n/a (library: {bt.mode_rejected(err)})"
            return
        res = parse_result(out)
        if rc or not res:
            cell.na = f"error: {first_error_line(err)}"
            return
        if "skip" in res:
            cell.na = f"n/a ({res['skip']})"
            return
        if mode.key == "idle" and res.get("hooks"):
            cell.flags.add("**hooks installed while idle** (" + ", ".join(res["hooks"]) + ")")
        if mode.key == "untraced" and res.get("hooks"):
            cell.flags.add("hooks present: " + ", ".join(res["hooks"]))
        if res["python"] != self.b.python:
            cell.flags.add(f"ran Python {res['python']}, not {self.b.python}")
        wall, cpu = res["times_ns"][0], res["cpu_ns"][0]
        cell.wall_ns.append(wall / calls)
        cell.cpu_ns.append(cpu / calls)
        cell.ns = cell.cpu_ns if self.args.clock == "cpu" else cell.wall_ns
        cell.cpu_share.append(cpu / wall if wall else 1.0)
        cell.info = res.get("info")
        if disc is not None:
            cell.discarded.append(disc)
            cell.lost.append(lost)
            cell.trace_bytes.append(tbytes)
            if disc or lost:
                cell.flags.add("DISCARDS")

    def tp_cost(self):
        """ns per pytrace_bench event fired from C while recording: (full payload, empty)."""
        exe = os.path.join(self.b.path, "bench", "pytrace-bench-tp-cost")
        if not os.access(exe, os.X_OK):
            return None
        with bt.Session("tpcost", ["pytrace_bench:*"]) as s:
            rc, out, err = bt.run_process([exe, "1000000"], bt.clean_env(), s)
            disc, _ = s.discarded()
        if rc:
            return None
        full, empty = (float(x) for x in out.split())
        return full, empty, disc

    def run(self):
        args = self.args
        workloads, modes = args.workloads, [MODE_BY_KEY[k] for k in args.modes]
        bt.log(f"== {self.b.path}: Python {self.b.python}")
        self.loadavg = [os.getloadavg()]
        self.probe({m.key for m in modes})
        self.tp = self.tp_cost()
        calls, notes = {}, {}
        for w in workloads:
            calls[w], notes[w] = self.count(w)
            bt.log(f"  {w}: {calls[w] if calls[w] is not None else 'skipped'} calls per section"
                   + (f" ({notes[w]})" if notes[w] else ""))
        cells = {(w, m.key): Cell() for w in workloads for m in modes}
        for w in workloads:
            for m in modes:
                cell = cells[(w, m.key)]
                if calls[w] is None:
                    cell.na = f"n/a ({notes[w]})"
                elif m.key == "fast" and not self.fast_ok:
                    cell.na = f"n/a ({self.fast_why})"
                elif m.key == "viztracer" and not self.viz_ok:
                    cell.na = f"n/a ({self.viz_why})"
                elif m.inproc.startswith("floor") and not self.b.has_floor:
                    cell.na = "n/a (pytrace_bench_floor not built)"
        t0 = time.monotonic()
        for r in range(args.runs):
            order = modes[r % len(modes):] + modes[:r % len(modes)]
            for w in workloads:
                for m in order:
                    cell = cells[(w, m.key)]
                    if cell.na:
                        continue
                    try:
                        self.one(w, m, calls[w], cell)
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        cell.na = f"error: {e}"
                        bt.log(f"  {w}/{m.key}: {e}")
            bt.log(f"  round {r + 1}/{args.runs} done ({time.monotonic() - t0:.0f} s)")
        self.loadavg.append(os.getloadavg())
        return calls, notes, cells


def fmt_ns(v):
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def report(runner, calls, notes, cells):
    args, b = runner.args, runner.b
    modes = [MODE_BY_KEY[k] for k in args.modes]
    out = []
    out.append(f"### CPython {b.python} — `{os.path.relpath(b.path, bt.ROOT)}`")
    out.append("")
    clock = ("thread CPU time (--clock cpu)" if args.clock == "cpu"
             else "wall time (perf_counter)")
    out.append(f"Python: `{b.python_full.splitlines()[0]}`; {args.runs} runs per cell"
               f"{' (--quick sizes)' if args.quick else ''}; {clock}; medians; ratio = median /"
               " untraced median of this invocation; added = median − untraced median. Load"
               f" average before / after: {runner.loadavg[0][0]:.2f} /"
               f" {runner.loadavg[-1][0]:.2f}.")
    if runner.tp:
        out.append(f"One `pytrace_bench:function__entry` event fired from C while recording costs"
                   f" {runner.tp[0]:.0f} ns with realistic strings, {runner.tp[1]:.0f} ns with"
                   f" empty ones ({runner.tp[2]} discarded).")
    if runner.fast_why:
        out.append(f"Fast mode: {runner.fast_why}.")
    if runner.viz_why:
        out.append(f"VizTracer: {runner.viz_why}.")
    out.append("")
    out.append("| workload | Python calls per section | untraced time |")
    out.append("|---|---|---|")
    for w in args.workloads:
        base = cells.get((w, "untraced"))
        t = (f"{bt.median(base.ns) * calls[w] / 1e6:.1f} ms"
             if base and base.ns and calls[w] else "—")
        c = f"{calls[w]:,.0f}" if calls[w] else f"n/a ({notes[w]})"
        if calls[w] and notes[w]:
            c += f" ({notes[w]})"
        out.append(f"| {w} | {c} | {t} |")
    out.append("")
    other = "wall" if args.clock == "cpu" else "CPU"
    out.append(f"| workload | mode | ns/call | ratio | added ns/call | best–worst | best ratio |"
               f" {other} ns/call | discarded | trace MiB | notes |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    footnotes = []
    for w in args.workloads:
        base = cells.get((w, "untraced"))
        base_med = bt.median(base.ns) if base and base.ns else None
        viz = cells.get((w, "viztracer"))
        viz_added = (bt.median(viz.ns) - base_med) if viz and viz.ns and base_med else None
        for m in modes:
            cell = cells[(w, m.key)]
            if not cell.ns:
                out.append(f"| {w} | {m.label} | {cell.na or 'n/a'} | | | | | | | | |")
                continue
            med = bt.median(cell.ns)
            ratio = f"{med / base_med:.2f}" if base_med else "—"
            added = f"{med - base_med:+.0f}" if base_med else "—"
            spread = (f"{fmt_ns(min(cell.ns))}–{fmt_ns(max(cell.ns))}"
                      if len(cell.ns) > 1 else "—")
            best = f"{min(cell.ns) / min(base.ns):.2f}" if base_med else "—"
            disc = "" if not cell.discarded else str(max(cell.discarded))
            if cell.lost and max(cell.lost):
                disc += f" (+{max(cell.lost)} lost packets)"
            tmib = ("" if not cell.trace_bytes else
                    f"{bt.median(cell.trace_bytes) / 2**20:.0f}")
            notes_ = []
            if "DISCARDS" in cell.flags:
                notes_.append("**⚠ discarded events**")
            notes_ += [f for f in sorted(cell.flags) if f != "DISCARDS"]
            if cell.foreign:
                names = sorted(cell.foreign)
                notes_.append(f"{len(names)} other session(s) active (e.g. {names[0]})")
            if m.key in ("events", "fast") and viz_added and base_med:
                notes_.append(f"{(med - base_med) / viz_added:.2f}× VizTracer's added cost")
            if m.key == "events":
                for fk in ("floor-tp", "floor-tp-exc"):
                    fc = cells.get((w, fk))
                    if fc and fc.ns:
                        notes_.append(f"{med / bt.median(fc.ns):.2f}× {fk}")
            contended = sum(1 for x in cell.cpu_share if x < 0.9)
            if contended:
                notes_.append(f"{contended} run(s) got < 90% of a CPU (contention)")
            if len(cell.ns) < args.runs:
                notes_.append(f"only {len(cell.ns)} runs; {cell.na or ''}".strip("; "))
            alt = cell.wall_ns if args.clock == "cpu" else cell.cpu_ns
            out.append(f"| {w} | {m.label} | {fmt_ns(med)} | {ratio} | {added} | {spread} | "
                       f"{best} | {fmt_ns(bt.median(alt))} | {disc} | {tmib} | "
                       f"{'; '.join(notes_)} |")
    out.append("")
    timer = "perf_counter" if other == "wall" else "the thread CPU time"
    out.append("best–worst = fastest and slowest run (ns/call); best ratio = fastest run / fastest"
               f" untraced run (contention only ever adds time); {other} ns/call = the same runs"
               f" timed with {timer}; discarded = the most events any run of the"
               " cell discarded (`lttng list SESSION`); trace MiB = whole process incl. start-up"
               " and warm-up.")
    # Compact matrices: ratio to untraced per mode and workload, of medians and of best runs.
    for title, pick in (("ratio to untraced (medians)", bt.median), ("ratio of best runs", min)):
        out.append("")
        out.append(f"| {title} | " + " | ".join(args.workloads) + " |")
        out.append("|---|" + "---|" * len(args.workloads))
        for m in modes:
            row = []
            for w in args.workloads:
                cell, base = cells[(w, m.key)], cells.get((w, "untraced"))
                if cell.ns and base and base.ns:
                    row.append(f"{pick(cell.ns) / pick(base.ns):.2f}")
                else:
                    row.append("n/a")
            out.append(f"| {m.label} | " + " | ".join(row) + " |")
    out += footnotes
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("builds", nargs="+", metavar="BUILD_DIR")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes and 2 runs: a smoke run, figures not meaningful")
    ap.add_argument("--runs", type=int, help="processes per cell (default 7, --quick 2)")
    ap.add_argument("--warmup", type=int, default=1, help="warm-up sections per process")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--modes", default=",".join(m.key for m in MODES))
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="ns/call from perf_counter (default) or from the thread's CPU time, "
                         "which a busy machine disturbs less")
    ap.add_argument("--json", help="also write every sample to this file")
    args = ap.parse_args()
    args.runs = args.runs or (2 if args.quick else 7)
    args.workloads = [w for w in args.workloads.split(",") if w]
    args.modes = [m for m in args.modes.split(",") if m]
    for w in args.workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w} (known: {', '.join(WORKLOADS)})")
    for m in args.modes:
        if m not in MODE_BY_KEY:
            ap.error(f"unknown mode {m} (known: {', '.join(MODE_BY_KEY)})")
    if "untraced" not in args.modes:
        args.modes.insert(0, "untraced")

    print("## libpytrace benchmarks")
    print()
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}; " + "; ".join(bt.machine_summary())
          + "; " + bt.source_summary())
    foreign = bt.active_sessions()
    if foreign:
        print()
        print(f"**Warning:** sessions active at start: {', '.join(foreign)} — if one enables "
              "python events, 'idle' is not idle and every process pays for their probes.")
    dump = []
    for path in args.builds:
        runner = Runner(bt.Build(path), args)
        calls, notes, cells = runner.run()
        print()
        print(report(runner, calls, notes, cells), flush=True)
        dump.append({"build": runner.b.path, "python": runner.b.python, "calls": calls,
                     "fast": runner.fast_why, "viztracer": runner.viz_why,
                     "cells": {f"{w}/{m}": vars(c) | {"flags": sorted(c.flags),
                                                      "foreign": sorted(c.foreign)}
                               for (w, m), c in cells.items()}})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dump, f, indent=1)


if __name__ == "__main__":
    main()
