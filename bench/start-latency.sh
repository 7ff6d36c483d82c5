#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Session start latency: how long after `lttng start` returns the first python event of an
# already running program is recorded. A program under pytrace-run calls a tiny function in a
# loop; while it runs, a session enabling python:* and tracking only its pid is created and
# started; the first event's timestamp (LTTng's clock is CLOCK_MONOTONIC) minus CLOCK_MONOTONIC
# just after `lttng start` returned is the latency (negative: recording began before `lttng
# start` returned). Repeated REPEATS times (default 5); prints each, the median and the max.
#
#   bench/start-latency.sh [BUILD_DIR] [REPEATS]     (BUILD_DIR defaults to build-bench)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build-bench}
repeats=${2:-5}
run=$build/tools/pytrace-run/pytrace-run
[ -x "$run" ] || { echo "error: $run is missing (build $build first)" >&2; exit 1; }
shm=/dev/shm
[ -d "$shm" ] || shm=${TMPDIR:-/tmp}

session= pid= dir= work=$(mktemp -d)
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	[ -n "$session" ] && lttng destroy "$session" >/dev/null 2>&1
	[ -n "$dir" ] && rm -rf "$dir"
	rm -rf "$work"
	return 0
}
trap cleanup EXIT

python=$("$build/bench/pytrace-bench-bare" -c 'import sys; print(sys.version.split()[0])' ||
	echo '?')
echo "### Session start latency — CPython $python, \`$build\`"
echo
echo "| # | program start → \`lttng start\` returned | \`lttng start\` took | first event" \
	"| first event − start returned |"
echo "|---|---|---|---|---|"
for i in $(seq 1 "$repeats"); do
	startfile=$work/start-$i
	env -u PYTRACE_MODE -u PYTRACE_INCLUDE -u PYTRACE_EXCLUDE -u PYTRACE_MAX_DEPTH \
		-u PYTRACE_C_CALLS "$run" "$here/programs/latency_loop.py" "$startfile" 30 &
	pid=$!
	for _ in $(seq 1 500); do
		[ -s "$startfile" ] && break
		sleep 0.01
	done
	[ -s "$startfile" ] || { echo "error: the program did not start" >&2; exit 1; }
	sleep 0.3

	session=pytrace-bench-latency-$$-$i
	dir=$(mktemp -d "$shm/$session-XXXXXX")
	lttng create "$session" --output="$dir" >/dev/null
	lttng enable-channel -u -s "$session" --subbuf-size=8M --num-subbuf=8 benchch >/dev/null
	lttng enable-event -u -s "$session" -c benchch 'python:*' >/dev/null
	lttng track -u -s "$session" --vpid="$pid" >/dev/null
	read -r before after < <(/usr/bin/python3 "$here/latency.py" start "$session")
	sleep 0.3
	lttng stop "$session" >/dev/null
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	read -r first name < <(/usr/bin/python3 "$here/latency.py" first-event "$dir")
	lttng destroy "$session" >/dev/null
	session=
	rm -rf "$dir"
	dir=

	if [ "$first" = none ]; then
		echo "| $i | | | no event recorded | n/a |"
		continue
	fi
	read -r prog < "$startfile"
	awk -v i="$i" -v p="$prog" -v b="$before" -v a="$after" -v f="$first" -v n="$name" 'BEGIN {
		printf "| %d | %.1f ms | %.1f ms | %s | %.2f ms |\n", i, (a - p) / 1e6, (a - b) / 1e6, n,
			(f - a) / 1e6
	}'
	awk -v a="$after" -v f="$first" 'BEGIN { printf "%.3f\n", (f - a) / 1e6 }' >>"$work/latencies"
done
echo
if [ -s "$work/latencies" ]; then
	read -r med max n < <(/usr/bin/python3 "$here/latency.py" summary <"$work/latencies")
	echo "First event − \`lttng start\` returned, over $n runs: median $med ms, max $max ms."
fi
