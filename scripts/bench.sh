#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark suite (never part of the test suite). For each build folder — each may embed a
# different CPython — builds what is missing, then prints markdown tables: ns per Python call of
# every workload in every mode (bench/harness.py), memory over 10 million calls
# (bench/memory.py), the watcher thread's cost (bench/watch-cost.sh), the session start
# latency (bench/start-latency.sh) and ns per `logging` record with the official agent's
# handler and libpytrace's forwarder (bench/logging.py; needs python3-lttngust), and the
# requests per second of a Flask server under wrk, untraced to recording every function event
# (bench/flask_wrk.py; needs wrk and Flask for the build's CPython, skipped without them).
# Needs lttng-tools and python3-bt2; starts a session daemon if none runs (and stops it at the
# end).
#
#   scripts/bench.sh [BUILD_DIR ...] [--quick] [harness options...]
#
# BUILD_DIR defaults to build-bench; a folder that does not exist yet is configured with
# -Dtests=disabled. For another CPython, configure it yourself first, e.g. meson setup DIR
# -Dtests=disabled -Dpython=python-3.12-embed
# --pkg-config-path=$(pyenv prefix 3.12.1)/lib/pkgconfig
# --quick: small sizes, 2 runs, 1 million calls for memory, 2 s and 2 repetitions for the others:
# a smoke run (< 2 minutes), its figures mean nothing. Other options go to bench/harness.py
# (--runs N, --workloads a,b, --modes a,b, --clock cpu, --json FILE). VIZTRACER_PATH=DIR adds the
# VizTracer rows (bench/build-viztracer.sh builds DIR). The output is also saved as
# BUILD_DIR/bench-results-DATE.md (first build folder).
set -euo pipefail
. "$(dirname "$0")/common.sh"

quick=
dirs=()
hopts=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=--quick ;;
	-h | --help)
		sed -n '3,24s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	--runs | --workloads | --modes | --clock | --json | --warmup)
		[ $# -ge 2 ] || die "$1 needs a value"
		hopts+=("$1" "$2")
		shift
		;;
	--*=*) hopts+=("$1") ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) dirs+=("$1") ;;
	esac
	shift
done
[ ${#dirs[@]} -gt 0 ] || dirs=("$PYTRACE_ROOT/build-bench")

for tool in meson ninja lttng lttng-sessiond babeltrace2; do
	command -v "$tool" >/dev/null ||
		die "$tool is missing (apt-get install meson ninja-build lttng-tools babeltrace2)"
done
/usr/bin/python3 -c 'import bt2' 2>/dev/null ||
	die "/usr/bin/python3 cannot import bt2 (apt-get install python3-bt2)"

for d in "${dirs[@]}"; do
	if [ ! -f "$d/build.ninja" ]; then
		say "configuring $d"
		meson setup "$d" "$PYTRACE_ROOT" -Dtests=disabled >/dev/null ||
			die "meson setup failed (see $d/meson-logs/meson-log.txt)"
	fi
	say "building $d"
	ninja -C "$d" >/dev/null || { ninja -C "$d" | tail -20; die "build of $d failed"; }
done
ensure_sessiond

mem_calls=10000000 watch_secs=10 latency_runs=5
[ -n "$quick" ] && mem_calls=1000000 watch_secs=2 latency_runs=2
out=${dirs[0]}/bench-results-$(date +%Y%m%d-%H%M%S)${quick:+-quick}.md
{
	/usr/bin/python3 "$PYTRACE_ROOT/bench/harness.py" $quick ${hopts[@]+"${hopts[@]}"} \
		"${dirs[@]}" || say "bench/harness.py failed"
	echo
	/usr/bin/python3 "$PYTRACE_ROOT/bench/memory.py" --calls "$mem_calls" \
		"${dirs[@]}" || say "bench/memory.py failed"
	echo
	/usr/bin/python3 "$PYTRACE_ROOT/bench/logging.py" $quick "${dirs[@]}" ||
		say "bench/logging.py failed"
	echo
	if command -v wrk >/dev/null; then
		/usr/bin/python3 "$PYTRACE_ROOT/bench/flask_wrk.py" $quick "${dirs[@]}" ||
			say "bench/flask_wrk.py failed"
	else
		say "wrk is missing: no Flask figures (apt-get install wrk)"
	fi
	for d in "${dirs[@]}"; do
		"$PYTRACE_ROOT/bench/watch-cost.sh" "$d" "$watch_secs" ||
			say "bench/watch-cost.sh failed"
		echo
		"$PYTRACE_ROOT/bench/start-latency.sh" "$d" "$latency_runs" ||
			say "bench/start-latency.sh failed"
		echo
	done
} | tee "$out"
say "tables saved in $out"
