#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Memory of a long run: VmRSS of a program making 10 million Python calls, sampled after each
tenth of the calls, in each mode: untraced (bare host), libpytrace attached idle, recording in
per-event mode, recording in fast mode (n/a when the build does not run it). Recording sessions
track only that process, with 8 x 8 MiB sub-buffers, and their discarded events are reported: a
session that discards much would hide growth caused by the events it dropped.

    bench/memory.py [--calls N] [--modes untraced,idle,events,fast] BUILD_DIR...

"flat" means VmRSS grew by less than 1 MiB between 20% and 100% of the calls (the first fifth
pays for start-up, caches and CPython's specialization). Needs a running lttng-sessiond.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchtools as bt  # noqa: E402

PROGRAM = os.path.join(bt.BENCH, "programs", "memcalls.py")
MODES = {  # key: (label, host, PYTRACE_MODE, recording)
    "untraced": ("untraced (bare host)", "bare", None, False),
    "idle": ("attached, idle (no session)", "run", None, False),
    "events": ("recording, per-event mode", "run", None, True),
    "fast": ("recording, fast mode", "run", "fast", True),
}
FLAT_KIB = 1024


def measure(build, key, calls):
    label, host, pymode, recording = MODES[key]
    cmd = [build.bare if host == "bare" else build.run, PROGRAM, str(calls)]
    env = bt.clean_env(PYTRACE_MODE=pymode)
    disc = None
    if recording:
        with bt.Session(f"mem-{key}", ["python:*"]) as s:
            rc, out, err = bt.run_process(cmd, env, s)
            disc, lost = s.discarded()
    else:
        rc, out, err = bt.run_process(cmd, env)
    if key == "fast" and bt.mode_rejected(err):
        return {"na": f"library: {bt.mode_rejected(err)}"}
    for line in out.splitlines():
        if line.startswith("MEM-RESULT "):
            res = json.loads(line[len("MEM-RESULT "):])
            res["discarded"] = disc
            return res
    tail = err.strip().splitlines()[-1:] or [f"exit status {rc}"]
    return {"na": f"error: {tail[0]}"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("builds", nargs="+", metavar="BUILD_DIR")
    ap.add_argument("--calls", type=int, default=10_000_000)
    ap.add_argument("--modes", default=",".join(MODES))
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            ap.error(f"unknown mode {m}")

    for path in args.builds:
        b = bt.Build(path)
        bt.log(f"== memory, {b.path}: Python {b.python}, {args.calls:,} calls per mode")
        fast_ok, fast_why = bt.probe_fast_mode(b) if "fast" in modes else (True, None)
        print(f"### Memory — CPython {b.python}, `{os.path.relpath(b.path, bt.ROOT)}`")
        print()
        print(f"VmRSS in MiB after each tenth of {args.calls:,} Python calls; growth = 100% − 20%"
              f" sample; flat = growth < {FLAT_KIB // 1024} MiB.")
        print("Recording rows include the session's ring buffers mapped into the process (8 x 8"
              " MiB per CPU, per-user buffers): a constant, not growth.")
        if fast_why:
            print(f"Fast mode: {fast_why}.")
        print()
        print("| mode | " + " | ".join(f"{10 * i}%" for i in range(1, 11))
              + " | growth 20→100% | verdict | discarded |")
        print("|---|" + "---|" * 13)
        for m in modes:
            label = MODES[m][0]
            if m == "fast" and not fast_ok:
                res = {"na": fast_why}
            else:
                bt.log(f"  {m}")
                res = measure(b, m, args.calls)
            if "na" in res:
                print(f"| {label} | n/a ({res['na']}) |" + " |" * 13)
                continue
            s = res["rss_kib"]
            growth = s[9] - s[1]
            verdict = "flat" if growth < FLAT_KIB else "**grows**"
            disc = "" if res["discarded"] is None else str(res["discarded"])
            if res["discarded"]:
                disc = f"**{disc} ⚠**"
            print(f"| {label} | " + " | ".join(f"{v / 1024:.1f}" for v in s)
                  + f" | {growth:+d} KiB | {verdict} | {disc} |", flush=True)
        print()


if __name__ == "__main__":
    main()
