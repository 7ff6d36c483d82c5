#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The cost of libpytrace's watcher thread (pthread name "pytrace-watch", which polls whether a
# session enables the events) in an idle program: a sleep-heavy Python loop under pytrace-run, no
# session. Over SECONDS (default 10), measured on the live thread: CPU time (utime + stime of
# /proc/PID/task/TID/stat, clock ticks -> ms; and the exact run time from .../schedstat) and
# wake-ups (voluntary + involuntary context switches of .../status).
#
#   bench/watch-cost.sh [BUILD_DIR] [SECONDS]        (BUILD_DIR defaults to build-bench)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build-bench}
secs=${2:-10}
run=$build/tools/pytrace-run/pytrace-run
[ -x "$run" ] || { echo "error: $run is missing (build $build first)" >&2; exit 1; }

if lttng list 2>/dev/null | grep -q '\[active\]'; then
	echo "warning: a session is active: if it enables python events, the watcher is not idle" >&2
fi

env -u PYTRACE_MODE -u PYTRACE_INCLUDE -u PYTRACE_EXCLUDE -u PYTRACE_MAX_DEPTH -u PYTRACE_C_CALLS \
	"$run" "$here/programs/idle_sleep.py" "$((secs + 3))" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
sleep 1
if ! kill -0 "$pid" 2>/dev/null; then
	wait "$pid" || true
	echo "error: pytrace-run exited early" >&2
	exit 1
fi

tid=
names=()
for t in /proc/"$pid"/task/*; do
	name=$(cat "$t/comm" 2>/dev/null || true)
	names+=("${t##*/}:$name")
	[ "$name" = pytrace-watch ] && tid=${t##*/}
done
python=$("$build/bench/pytrace-bench-bare" -c 'import sys; print(sys.version.split()[0])' ||
	echo '?')
echo "### Watcher cost — CPython $python, \`$build\`"
echo
if [ -z "$tid" ]; then
	echo "No thread named pytrace-watch in pytrace-run (pid $pid); its threads: ${names[*]}."
	echo "This build of libpytrace has no watcher thread yet: nothing to measure."
	exit 0
fi

# Prints: utime+stime (ticks), run time (ns), voluntary and involuntary context switches.
sample() {
	local stat rest
	stat=$(cat "/proc/$pid/task/$tid/stat")
	rest=${stat##*) }      # fields from 3 (state) on; comm may hold spaces
	read -r -a f <<<"$rest"
	# utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after comm (0-based 11, 12).
	echo "$((f[11] + f[12])) $(cut -d' ' -f1 "/proc/$pid/task/$tid/schedstat")" \
		"$(awk '/^voluntary_ctxt_switches/ {v=$2} /^nonvoluntary_ctxt_switches/ {n=$2}
			END {print v, n}' "/proc/$pid/task/$tid/status")"
}

read -r ticks0 ns0 vol0 nvol0 < <(sample)
t0=$(date +%s%N)
sleep "$secs"
read -r ticks1 ns1 vol1 nvol1 < <(sample)
t1=$(date +%s%N)
hz=$(getconf CLK_TCK)

awk -v dt="$(((t1 - t0) / 1000))" -v ticks="$((ticks1 - ticks0))" -v hz="$hz" \
	-v ns="$((ns1 - ns0))" -v vol="$((vol1 - vol0))" -v nvol="$((nvol1 - nvol0))" \
	-v tid="$tid" 'BEGIN {
	s = dt / 1e6
	printf "| thread | window | CPU (stat, %d Hz ticks) | CPU (schedstat) | share of a CPU |" \
		" wake-ups (voluntary + involuntary) | per second |\n", hz
	print "|---|---|---|---|---|---|---|"
	printf "| pytrace-watch (tid %d) | %.2f s | %d ms | %.2f ms | %.3f%% | %d + %d | %.1f |\n",
		tid, s, ticks * 1000 / hz, ns / 1e6, ns / 1e7 / s, vol, nvol, (vol + nvol) / s
}'
wait "$pid" || true
trap - EXIT
