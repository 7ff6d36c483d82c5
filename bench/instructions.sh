#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instructions per Python call of fib in each mode, counted by callgrind: deterministic where
# wall-clock ratios on a shared VM are not (docs/performance.md). Each mode runs fib(20) and
# fib(21), two sections each and no warm-up, and the difference of the two whole-process counts
# is divided by the difference of their calls: start-up, imports and the session's set-up cancel
# out. Instructions are not time (caches, branches and the ring buffer's memory traffic are not
# in them): use them to compare modes, and the wall-clock tables for what a user waits.
#
#   bench/instructions.sh [BUILD_DIR] [MODE ...]
#
# MODE: untraced idle events fast floor-empty floor-tp floor-tp-exc cprofile setprofile viztracer
# (default: all; viztracer needs VIZTRACER_PATH). Needs valgrind and a running lttng-sessiond.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-bench}
[ $# -gt 0 ] && shift
modes=("$@")
[ ${#modes[@]} -gt 0 ] ||
	modes=(untraced idle events fast floor-empty floor-tp floor-tp-exc cprofile setprofile viztracer)
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
build=$(cd "$build" && pwd)
run=$build/tools/pytrace-run/pytrace-run bare=$build/bench/pytrace-bench-bare
work=$root/bench/workloads/fib.py
tmp=$(mktemp -d /tmp/pytrace-instr.XXXXXX)
session=
cleanup() {
	[ -n "$session" ] && lttng destroy "$session" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

# calls N: Python calls of fib(N) (each call and return once)
calls() { echo $(( $(/usr/bin/python3 -c "f=[1,1]
for i in range(2, $1 + 2): f.append(f[-1] + f[-2])
print(2 * f[$1] - 1)") )); }

# session EVENTS: a fresh session recording EVENTS for every process (this script runs alone)
start_session() {
	session=pytrace-instr-$$-$RANDOM
	lttng create "$session" --output="$tmp/trace" >/dev/null
	lttng enable-channel -u c0 --subbuf-size=8M --num-subbuf=8 -s "$session" >/dev/null
	lttng enable-event -u "$1" -c c0 -s "$session" >/dev/null
	lttng start "$session" >/dev/null
}
stop_session() {
	lttng destroy "$session" >/dev/null
	session=
	rm -rf "$tmp/trace"
}

# total MODE N: instructions of the whole process
total() {
	local mode=$1 n=$2 out=$tmp/cg.out cmd env=()
	case $mode in
	untraced) cmd=("$bare" "$work" --mode plain) ;;
	idle | events) env=(PYTRACE_MODE=events) cmd=("$run" "$work" --mode plain) ;;
	fast) env=(PYTRACE_MODE=fast) cmd=("$run" "$work" --mode plain) ;;
	*) cmd=("$bare" "$work" --mode "$mode" --floor-dir "$build/bench") ;;
	esac
	env ${env[@]+"${env[@]}"} valgrind -q --tool=callgrind --callgrind-out-file="$out" \
		"${cmd[@]}" --size "$n" \
		--repeat 2 --warmup 0 >"$tmp/stdout" 2>"$tmp/stderr" ||
		{ cat "$tmp/stderr" >&2; return 1; }
	grep -q '"times_ns"' "$tmp/stdout" || { cat "$tmp/stdout" "$tmp/stderr" >&2; return 1; }
	callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

# Any other active session enabling user space events would make "idle" record.
if lttng list 2>/dev/null | grep -q '\[active\]'; then
	echo "warning: other tracing sessions are active (lttng list): idle may record" >&2
fi
per_call=$(( 2 * ($(calls 21) - $(calls 20)) ))
python=$("$bare" -c 'import sys; print(sys.version.split()[0])')
echo "| mode ($python, \`$(basename "$build")\`) | instructions per call | added to untraced |"
echo "|---|---|---|"
base=
for m in "${modes[@]}"; do
	case $m in
	events | fast) start_session 'python:*' ;;
	floor-tp | floor-tp-exc) start_session 'pytrace_bench:*' ;;
	esac
	a=$(total "$m" 20) && b=$(total "$m" 21) || a=
	[ -n "$session" ] && stop_session
	[ -n "$a" ] || { echo "| $m | failed | |"; continue; }
	ipc=$(( (b - a) / per_call ))
	[ "$m" = untraced ] && base=$ipc
	echo "| $m | $ipc | ${base:+$(( ipc - base ))} |"
done
