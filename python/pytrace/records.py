# SPDX-License-Identifier: MIT
"""Decode libpytrace's fast mode (docs/events.md, "Fast mode") into per-event form.

Fast mode writes `python:code` definitions and `python:records` batches. `expand()` turns a
time-ordered stream of event dicts (as read with babeltrace2's bt2 bindings, see `from_bt2()`)
into the events that per-event mode would have written: `function__entry`/`function__return`
and `c_function__entry`/`c_function__return` dicts with the same field names, each with the
record's own timestamp. Other events pass through unchanged. The result is sorted by time.

A record names its code by id; a return closes the innermost open entry of its thread, so it
takes that entry's names. An id whose definition the trace does not hold is named `<code N>`.
"""

ENTRY_KINDS = ("call", "resume", "active")
RETURN_KINDS = ("return", "yield", "unwind", "detach")
TYPES = ("function__entry", "function__return", "c_function__entry", "c_function__return")


def _unknown(interp, ident):
    name = f"<code {ident}>"
    return {"kind": "python", "co_filename": "?", "co_name": name, "line_no": 0,
            "co_qualname": name, "module": "?", "interp": interp}


def expand(events, origin_offset=lambda e: e.get("clock_offset", 0)):
    """Yield-free: returns the list of expanded events sorted by `ts`.

    Each `records` event must carry `records` (the list of 64-bit words), `tid`, `interp` and
    `clock_offset`: the ns to add to a record's CLOCK_MONOTONIC timestamp to express it like
    `ts` (ns from the trace clock's origin).
    """
    defs = {}
    stacks = {}
    out = []
    for e in events:
        name = e.get("event")
        if name == "code":
            defs[(e["interp"], e["id"])] = e
            continue
        if name != "records":
            out.append(e)
            continue
        words = e["records"]
        off = origin_offset(e)
        stack = stacks.setdefault((e["interp"], e["tid"]), [])
        for i in range(0, len(words) - 1, 2):
            ts, w = words[i], words[i + 1]
            ident, rtype, kind = w & 0xFFFFFFFF, (w >> 32) & 0xFF, (w >> 40) & 0xFF
            if rtype >= len(TYPES):
                raise ValueError(f"unknown record type {rtype} in a python:records event")
            ev = {"event": TYPES[rtype], "provider": "python", "ts": ts + off,
                  "tid": e["tid"], "interp": e["interp"]}
            if rtype in (0, 2):
                d = defs.get((e["interp"], ident)) or _unknown(e["interp"], ident)
                stack.append(d)
                ev["kind"] = ENTRY_KINDS[kind] if kind < len(ENTRY_KINDS) else kind
            else:
                d = stack.pop() if stack else (defs.get((e["interp"], ident))
                                                or _unknown(e["interp"], ident))
                ev["kind"] = RETURN_KINDS[kind] if kind < len(RETURN_KINDS) else kind
            if rtype in (0, 1):
                ev.update(co_filename=d["co_filename"], co_name=d["co_name"],
                          line_no=d["line_no"] if rtype == 0 else 0,
                          co_qualname=d["co_qualname"], module=d["module"])
            else:
                ev["name"] = d["co_name"]
            out.append(ev)
    out.sort(key=lambda x: x["ts"])
    return out
