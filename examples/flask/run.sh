#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Records the Flask example (examples/flask/README.md): server.py under `python3 -m pytrace`
# from a build folder, in an LTTng session of its own enabling every `python` event (requests
# and function calls) and every Python logger (`--python -a`: the Trace Compass lab's records),
# tracking only the server's process. Sends the lab's requests, three of them at once and one
# with a W3C traceparent header, stops the server, and prints one line per recorded request and
# the count of each kind of event. The trace is kept; its path is printed last.
#
#   examples/flask/run.sh [BUILD_DIR]            (BUILD_DIR defaults to build)
#
# As root on a fresh Debian bookworm machine, after `meson setup build && ninja -C build` (or
# scripts/test.sh): installs what it needs that is missing (lttng-tools, python3-bt2, the
# agent library, python3-flask for Debian's CPython). Starts a session daemon if none runs and
# stops it at the end. PORT=N serves on that port (default: a free one). PYTRACE_PYTHON=PATH
# runs another interpreter than the one the build embeds. Exit status 0 only if request events
# came back.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/common.sh"

build=$(cd "${1:-$PYTRACE_ROOT/build}" 2>/dev/null && pwd) ||
	die "no build folder ${1:-$PYTRACE_ROOT/build} (meson setup build && ninja -C build)"
[ -f "$build/python/pytrace/flask.py" ] ||
	die "$build has no Python package pytrace with pytrace.flask (the shim): ninja -C $build"

# The interpreter the build's package is for, found as python/pytrace/meson.build finds it:
# PREFIX/bin/pythonX.Y of the embed pkg-config module named by the build's `python` option.
build_python() {
	/usr/bin/python3 - "$1" <<'PY'
import json, os, subprocess, sys
opts = {o["name"]: o["value"] for o in
        json.load(open(os.path.join(sys.argv[1], "meson-info", "intro-buildoptions.json")))}
env = dict(os.environ)
env["PKG_CONFIG_PATH"] = ":".join(opts.get("pkg_config_path", []) +
                                  [env.get("PKG_CONFIG_PATH", "")])
def pc(arg):
    return subprocess.run(["pkg-config", arg, opts["python"]], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
print(os.path.join(pc("--variable=prefix"), "bin", "python" + pc("--modversion")))
PY
}
py=${PYTRACE_PYTHON:-$(build_python "$build")} || die "cannot tell which CPython $build embeds"
[ -x "$py" ] || die "$py (the CPython $build embeds) is not there; set PYTRACE_PYTHON"

PYTRACE_PACKAGES=(lttng-tools babeltrace2 python3-bt2 liblttng-ust-python-agent1)
case $py in /usr/bin/python3*) PYTRACE_PACKAGES+=(python3-flask) ;; esac
ensure_packages
"$py" -c 'import flask' 2>/dev/null || die "$py cannot import flask (Debian: python3-flask)"

session=pytrace-flask-$$-$(date +%s)
trace=$(mktemp -d /tmp/pytrace-flask-XXXXXX)
log=$trace.server.log
created= pid= ok=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		kill -CONT "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null || true
	fi
	[ -n "$created" ] && lttng destroy "$session" >/dev/null 2>&1
	stop_sessiond
	[ -n "$ok" ] || say "failed; server output in $log, trace (if any) in $trace"
}
trap cleanup EXIT
ensure_sessiond
trap cleanup EXIT # ensure_sessiond sets its own

say "session $session, trace $trace"
lttng create "$session" --output="$trace" >/dev/null
created=1
# Every Python call of the server is two events: big sub-buffers keep them from being discarded.
lttng enable-channel -u -s "$session" --subbuf-size=8M --num-subbuf=8 flask >/dev/null
lttng enable-event -u -s "$session" -c flask 'python:*' >/dev/null
lttng enable-event --python -s "$session" -a >/dev/null
# The thread id on every event, the lab's logging records included (their `thread` is Python's).
lttng add-context -u -s "$session" -t vtid >/dev/null

# Started stopped so that its pid is tracked before it runs; the pid stays the same across exec.
PYTHONPATH="$build/python${PYTHONPATH:+:$PYTHONPATH}" /bin/sh -c 'kill -STOP $$; exec "$@"' sh \
	"$py" -m pytrace "$here/server.py" "${PORT:-0}" >"$log" 2>&1 &
pid=$!
until [ "$(ps -o stat= -p "$pid" | cut -c1)" = T ]; do
	kill -0 "$pid" 2>/dev/null || die "the server did not start: $(cat "$log")"
	sleep 0.02
done
lttng track -u -s "$session" --vpid="$pid" >/dev/null
lttng start "$session" >/dev/null
kill -CONT "$pid"

port=
for _ in $(seq 300); do
	port=$(sed -n 's|^serving on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$log")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || die "the server exited: $(cat "$log")"
	sleep 0.1
done
[ -n "$port" ] || die "the server did not listen within 30 s: $(cat "$log")"
# The process records nothing until its liblttng-ust has registered with the session daemon:
# within milliseconds usually, but a busy daemon can take seconds (past 3 s, liblttng-ust lets
# the program go on and registers later).
for _ in $(seq 300); do
	lttng list -u 2>/dev/null | grep -q "^PID: $pid " && break
	sleep 0.1
done
lttng list -u 2>/dev/null | grep -q "^PID: $pid " ||
	say "the server is not registered with the session daemon yet: its first requests may be missing"
say "server $pid on port $port, under $py -m pytrace"

# GET URL_PATH [HEADER]: prints "STATUS PATH" (curl, or Python's urllib without it).
get() {
	if command -v curl >/dev/null; then
		curl -s -o /dev/null -w "%{http_code} $1\n" ${2:+-H "$2"} "http://127.0.0.1:$port$1"
	else
		/usr/bin/python3 - "http://127.0.0.1:$port$1" "$1" "${2:-}" <<'PY'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1])
if sys.argv[3]:
    req.add_header(*(s.strip() for s in sys.argv[3].split(":", 1)))
with urllib.request.urlopen(req) as r:
    print(r.status, sys.argv[2])
PY
	fi
}
traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
lab=(/ /resource1 /resource2 /resource3 /resource4)
sent=$((${#lab[@]} + 4))
{
	for p in "${lab[@]}"; do
		get "$p"
	done
	# At once: each in a thread of its own in the server.
	get /resource1 & a=$!
	get /resource2 & b=$!
	get /resource4 & c=$!
	wait "$a" "$b" "$c"
	get /resource3 "traceparent: $traceparent"
} | sed 's/^/    /' >&2

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || die "the server exited with status $status: $(cat "$log")"
lttng stop "$session" >/dev/null
discarded=$(lttng list "$session" | sed -n 's/.*Discarded events: *\([0-9]*\).*/\1/p' |
	awk '{ n += $1 } END { print n + 0 }')
lttng destroy "$session" >/dev/null
created=

# One line per request from python:request_exit, with the name of its thread (the lab records'
# threadName, matched by vtid) and the number of function entries of its thread meanwhile.
rc=0
/usr/bin/python3 - "$trace" "$discarded" "$sent" <<'PY' || rc=$?
import collections, sys
import bt2

requests, names, calls, counts = [], {}, {}, collections.Counter()


def text(field):
    """A string field of the request events, None for "-" (what they record for none)."""
    s = str(field)
    return None if s == "-" else s


open_on = {}  # tid -> id of the request its thread serves
for msg in bt2.TraceCollectionMessageIterator(sys.argv[1]):
    if type(msg) is not bt2._EventMessageConst:
        continue
    ev = msg.event
    f = ev.payload_field
    if ev.name == "lttng_python:event":
        lab = str(f["funcName"]) in ("tracing_entry", "tracing_exit")
        counts["lab" if lab else "logging"] += 1
        if lab:
            names[int(ev.common_context_field["vtid"])] = str(f["threadName"])
        continue
    counts[ev.name] += 1
    if ev.name == "python:request_entry":
        open_on[int(f["tid"])] = int(f["id"])
        calls[int(f["id"])] = 0
        if text(f["trace_id"]):
            requests.append(("traceparent", int(f["id"]), text(f["trace_id"]),
                             text(f["parent_span_id"])))
    elif ev.name == "python:request_exit":
        open_on.pop(int(f["tid"]), None)
        requests.append(("exit", int(f["id"]), f))
    elif ev.name in ("python:function__entry", "python:c_function__entry"):
        rid = open_on.get(int(f["tid"]))
        if rid is not None:
            calls[rid] += 1

parents = {r[1]: r[2:] for r in requests if r[0] == "traceparent"}
print("requests (python:request_exit):")
for r in requests:
    if r[0] != "exit":
        continue
    rid, f = r[1], r[2]
    tid = int(f["tid"])
    line = (f"  #{rid:<3} {f['method']} {str(f['path']):<11} {int(f['status'])} "
            f"{int(f['duration_ns']) / 1e6:6.1f} ms  {names.get(tid, '?')} (tid {tid})  "
            f"{calls.get(rid, 0)} function entries")
    if text(f["error"]):
        line += f"  error {f['error']}"
    if rid in parents:
        line += f"  trace_id {parents[rid][0]} parent {parents[rid][1]}"
    print(line)
fn = counts["python:function__entry"] + counts["python:function__return"]
print(f"request events: {counts['python:request_entry']} entries, "
      f"{counts['python:request_exit']} exits, for {sys.argv[3]} requests sent")
print(f"function events: {fn} (python:function__entry/__return), "
      f"{counts['python:exception']} python:exception")
print(f"lab records (lttng_python:event, funcName tracing_entry/tracing_exit): {counts['lab']}; "
      f"other logging records (werkzeug's access log): {counts['logging']}")
print(f"discarded events: {sys.argv[2]}")
sys.exit(0 if counts["python:request_exit"] else 1)
PY
echo "trace: $trace (babeltrace2 $trace; server output: $log)"
[ "$rc" -eq 0 ] || die "no request events were recorded"
ok=1
