#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The quick start: installs what it needs, builds, starts a session daemon if none runs,
# records a traced run of examples/demo/shop.py with pytrace-run and prints its call stream.
set -euo pipefail
. "$(dirname "$0")/common.sh"

dir=$PYTRACE_ROOT/build
ensure_packages
build "$dir"
ensure_sessiond

session=pytrace-demo-$$
trace=$(mktemp -d /tmp/pytrace-demo-XXXXXX)
cleanup() { lttng destroy "$session" >/dev/null 2>&1 || true; stop_sessiond; }
trap cleanup EXIT

say "recording session $session into $trace"
lttng create "$session" --output="$trace" >/dev/null
lttng enable-event -u -s "$session" 'python:*' >/dev/null
# Track only the demo's process: start it stopped, track its pid, then let it run.
/bin/sh -c 'kill -STOP $$; exec "$@"' sh \
	"$dir/tools/pytrace-run/pytrace-run" "$PYTRACE_ROOT/examples/demo/shop.py" &
pid=$!
until [ "$(ps -o stat= -p "$pid" | cut -c1)" = T ]; do sleep 0.05; done
lttng track -u -s "$session" --vpid="$pid" >/dev/null
lttng start "$session" >/dev/null
kill -CONT "$pid"
wait "$pid"
lttng stop "$session" >/dev/null
lttng destroy "$session" >/dev/null

say "call stream (the program's own frames; all events: babeltrace2 $trace)"
/usr/bin/python3 "$PYTRACE_ROOT/scripts/show-calls.py" "$trace"
