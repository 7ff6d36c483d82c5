#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ns per Python call of fib(N): untraced, attached with no session enabling the events, and
# recording every python event. Ratios are taken within one run (these machines are noisy).
#
#   bench/overhead.sh [BUILD_DIR] [N]          (needs a running lttng-sessiond)
set -euo pipefail
build=${1:-build}
n=${2:-25}
here=$(cd "$(dirname "$0")" && pwd)
bare=$build/bench/pytrace-bench-bare
run=$build/tools/pytrace-run/pytrace-run
session=pytrace-bench-$$

if lttng list 2>/dev/null | grep -q '\[active\]'; then
	echo "warning: another session is active; if it enables python events, 'idle' is not idle" >&2
fi
untraced=$("$bare" "$here/fib.py" "$n")
idle=$("$run" "$here/fib.py" "$n")
lttng create "$session" --output="$(mktemp -d)" >/dev/null
lttng enable-channel -u -s "$session" --subbuf-size=8M --num-subbuf=4 ch >/dev/null
lttng enable-event -u -s "$session" -c ch 'python:*' >/dev/null
lttng start "$session" >/dev/null
recording=$("$run" "$here/fib.py" "$n")
lttng stop "$session" >/dev/null
discarded=$(lttng list "$session" | sed -n 's/.*Discarded events: *//p' | head -1)
lttng destroy "$session" >/dev/null

printf '%-10s %10s %8s\n' mode ns/call ratio
for m in untraced idle recording; do
	v=${!m}
	printf '%-10s %10s %8s\n' "$m" "$v" "$(awk -v a="$v" -v b="$untraced" 'BEGIN{printf "%.2f", a/b}')"
done
echo "fib($n); discarded events while recording: ${discarded:-0}"
