#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ns per Python `logging` record: no handler, the official agent's handler (lttngust), and
libpytrace's forwarder, each with a session recording Python events (`lttng enable-event
--python -a`), plus the forwarder with no session enabling Python events. Run by
scripts/bench.sh; needs a running lttng-sessiond and python3-lttngust.

    bench/logging.py [--runs N] [--records N] BUILD_DIR...

Every mode runs under the build's pytrace-run (the same interpreter and host), differing only
in its flags: `--no-logging` (no handler; with `--lttngust`: the official agent), the default
(our handler). Modes are interleaved round after round (rotated order); each run gets its own
session tracking only its process, with an 8 x 8 MiB lttng_python_channel, trace on tmpfs; its
discarded events are reported. Figures are the timed thread's CPU time per record (other
processes on a shared machine inflate wall-clock time, not that). The table shows medians and the added ns per record against the
no-handler median; the last line is the ratio (ours added / official added) the project's goal
is <= 0.25.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchtools as bt  # noqa: E402

PROG = os.path.join(bt.BENCH, "programs", "log_records.py")
LTTNGUST = "/usr/lib/python3/dist-packages/lttngust"

MODES = [  # key, label, pytrace-run flags, program flags, session records Python events
    ("none", "no handler (pytrace-run --no-logging)", ["--no-logging"], [], True),
    ("official", "lttngust handler (official agent)", ["--no-logging"], ["--lttngust"], True),
    ("ours", "libpytrace forwarder (pytrace-run)", [], [], True),
    ("ours-idle", "libpytrace forwarder, no session enabling Python events", [], [], False),
]


class PySession(bt.Session):
    """A session recording every Python logger, tracking only the given vpid."""

    def __enter__(self):
        self.output = tempfile.mkdtemp(prefix=self.name + "-", dir=bt.trace_root())
        bt.lttng("create", self.name, f"--output={self.output}")
        self.created = True
        bt.lttng("enable-channel", "-u", "-s", self.name, f"--subbuf-size={self.subbuf}",
                 f"--num-subbuf={self.num_subbuf}", "lttng_python_channel")
        bt.lttng("enable-event", "-s", self.name, "--python", "-a")
        return self


def one(build, mode, records, env):
    _, _, rflags, pflags, session = mode
    cmd = [build.run, *rflags, PROG, str(records), *pflags]
    if session:
        with PySession(f"log-{mode[0]}", []) as s:
            rc, out, err = bt.run_process(cmd, env, s)
            disc, _ = s.discarded()
    else:
        rc, out, err = bt.run_process(cmd, env)
        disc = 0
    m = re.search(r"^BENCH-LOG (\S+) (\d+) (\S+) (\S+)$", out, re.M)
    if rc or not m:
        raise SystemExit(f"error: {' '.join(cmd)} failed ({rc}): {err.strip()[-400:]}")
    return float(m.group(1)), disc, m.group(3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--records", type=int, default=200000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("builds", nargs="+")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.records = 2, 20000
    if not os.path.isdir(LTTNGUST):
        raise SystemExit("error: python3-lttngust is not installed (apt-get install "
                         "python3-lttngust)")
    # lttngust is pure Python + ctypes: a folder holding only it serves any CPython 3.
    path = tempfile.mkdtemp(prefix="pytrace-bench-lttngust-")
    os.symlink(LTTNGUST, os.path.join(path, "lttngust"))
    env = bt.clean_env(PYTHONPATH=path)
    for b in args.builds:
        build = bt.Build(b)
        res = {m[0]: [] for m in MODES}
        disc = {m[0]: 0 for m in MODES}
        roots = {m[0]: set() for m in MODES}
        for r in range(args.runs):
            order = MODES[r % len(MODES):] + MODES[:r % len(MODES)]
            for mode in order:
                ns, d, handlers = one(build, mode, args.records, env)
                res[mode[0]].append(ns)
                disc[mode[0]] += d
                roots[mode[0]].add(handlers)
            bt.log(f"  round {r + 1}/{args.runs} done")
        med = {k: bt.median(v) for k, v in res.items()}
        print(f"### Logging: ns per record, Python {build.python} ({build.path})\n")
        print(f"{args.runs} runs per mode, {args.records} records per run, medians.\n")
        print("| mode | CPU ns/record | added | root handlers | discarded |")
        print("|---|---:|---:|---|---:|")
        for key, label, *_ in MODES:
            added = med[key] - med["none"]
            print(f"| {label} | {med[key]:.0f} | {added:+.0f} | "
                  f"{', '.join(sorted(roots[key]))} | {disc[key]} |")
        off, ours = med["official"] - med["none"], med["ours"] - med["none"]
        ratio = ours / off if off > 0 else float("nan")
        print(f"\nours added / official added = {ours:.0f} / {off:.0f} = **{ratio:.3f}** "
              f"(goal <= 0.25); idle added {med['ours-idle'] - med['none']:+.0f} ns "
              f"(no session enabling Python events; its runs also have no session at all)\n")


if __name__ == "__main__":
    main()
