#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Helpers of bench/start-latency.sh (run by /usr/bin/python3, which has the bt2 bindings).

    latency.py start SESSION      runs `lttng start SESSION`; prints CLOCK_MONOTONIC (ns) just
                                  before it is called and just after it returned
    latency.py first-event DIR    prints the timestamp (CLOCK_MONOTONIC ns: LTTng's clock) and
                                  name of the first event of the trace in DIR
    latency.py summary            reads one latency (ms) per line on stdin; prints median and max
"""
import statistics
import subprocess
import sys
import time


def start(session):
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    subprocess.run(["lttng", "start", session], check=True, stdout=subprocess.DEVNULL)
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    print(before, after)


def first_event(trace_dir):
    import bt2

    for msg in bt2.TraceCollectionMessageIterator(trace_dir):
        if type(msg) is bt2._EventMessageConst:
            snap = msg.default_clock_snapshot
            # Cycles of LTTng's monotonic clock: CLOCK_MONOTONIC itself at 1 GHz.
            ns = snap.value * 10**9 // snap.clock_class.frequency
            print(ns, msg.event.name)
            return
    print("none none")


def summary():
    values = [float(x) for x in sys.stdin.read().split()]
    if not values:
        print("no measurement")
        return
    print(f"{statistics.median(values):.2f} {max(values):.2f} {len(values)}")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "start" and len(sys.argv) == 3:
        start(sys.argv[2])
    elif cmd == "first-event" and len(sys.argv) == 3:
        first_event(sys.argv[2])
    elif cmd == "summary":
        summary()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
