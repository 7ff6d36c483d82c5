# SPDX-License-Identifier: MIT
"""Print the python events of a trace as an indented call tree per thread.

    /usr/bin/python3 scripts/show-calls.py TRACE_DIR [--all]

By default only frames of the program's own modules (files under the program's directory,
i.e. not the standard library) are shown; --all shows every frame. This is a stop-gap viewer
for the demo; babeltrace2 TRACE_DIR prints the raw events.
"""
import os
import sys

import bt2


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path, show_all = sys.argv[1], "--all" in sys.argv[2:]
    if not os.path.isdir(path):
        sys.exit(f"show-calls: {path}: not a directory")
    threads, order, total = {}, [], 0
    for msg in bt2.TraceCollectionMessageIterator(path):
        if type(msg) is not bt2._EventMessageConst or not msg.event.name.startswith("python:"):
            continue
        total += 1
        ev, f = msg.event, msg.event.payload_field
        tid = int(f["tid"])
        if tid not in threads:
            threads[tid] = {"depth": 0, "open": [], "lines": []}
            order.append(tid)
        th, ts = threads[tid], msg.default_clock_snapshot.ns_from_origin
        name = ev.name.split(":", 1)[1]
        if name in ("function__entry", "c_function__entry"):
            label = str(f["co_qualname"]) if name == "function__entry" else str(f["name"]) + "()"
            mine = show_all or name == "c_function__entry" or not _stdlib(str(f["co_filename"]))
            kind = f["kind"].labels[0]
            if mine:
                where = f"  {os.path.basename(str(f['co_filename']))}:{int(f['line_no'])}" \
                    if name == "function__entry" else ""
                tag = "" if kind == "call" else f" [{kind}]"
                th["lines"].append(f"{'  ' * th['depth']}-> {label}{tag}{where}")
                th["depth"] += 1
            th["open"].append((mine, ts))
        elif name in ("function__return", "c_function__return"):
            if not th["open"]:
                continue
            mine, t0 = th["open"].pop()
            if mine:
                th["depth"] -= 1
                kind = f["kind"].labels[0]
                tag = "" if kind == "return" else f" [{kind}]"
                th["lines"].append(f"{'  ' * th['depth']}<- {_us(ts - t0)}{tag}")
        elif name == "exception" and (show_all or not _stdlib(str(f["co_filename"]))):
            th["lines"].append(f"{'  ' * th['depth']}!! {f['exc_type']} in {f['co_qualname']}"
                               f" line {int(f['line_no'])}")
    for tid in order:
        print(f"thread {tid}:")
        for line in threads[tid]["lines"]:
            print("  " + line)
    print(f"({total} python events in {path})")


def _stdlib(filename):
    return filename.startswith("<frozen") or "/lib/python3" in filename


def _us(ns):
    return f"{ns / 1000:.1f} us"


if __name__ == "__main__":
    main()
