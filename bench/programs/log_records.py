# SPDX-License-Identifier: MIT
"""Times N logging records (after a warm-up): `logger.info("record %d of %s", i, name)` on a
child logger that propagates to the root logger, whose level is NOTSET in every mode (as the
official agent sets it). Prints `BENCH-LOG <ns per record> <records> <handlers on root>
<wall ns per record>`: the first figure is the thread's CPU time (time.thread_time_ns), which
other processes competing for the CPUs do not inflate as they do wall-clock time.

    log_records.py N [--lttngust]
"""
import logging
import sys
import time

n = int(sys.argv[1])
if "--lttngust" in sys.argv:
    import lttngust  # noqa: F401  (the official agent: registers, then its handler is on root)
logging.getLogger().setLevel(logging.NOTSET)
log = logging.getLogger("bench.child")


def section(count):
    info = log.info
    t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
    for i in range(count):
        info("record %d of %s", i, "bench")
    return time.thread_time_ns() - c0, time.perf_counter_ns() - t0


section(min(n, 20000))
cpu, wall = section(n)
handlers = ",".join(type(h).__name__ for h in logging.getLogger().handlers) or "-"
print(f"BENCH-LOG {cpu / n:.1f} {n} {handlers} {wall / n:.1f}")
