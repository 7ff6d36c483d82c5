#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what the suite needs, builds, runs the whole `meson test` suite against a real
# lttng-sessiond, and ends with one line: "N passed, N failed, N skipped".
#
#   scripts/test.sh [BUILD_DIR] [meson test options...]      (BUILD_DIR defaults to build)
set -euo pipefail
. "$(dirname "$0")/common.sh"

dir=${1:-$PYTRACE_ROOT/build}
shift || true

ensure_packages
build "$dir"
ensure_sessiond

say "running meson test"
rc=0
meson test -C "$dir" --print-errorlogs "$@" || rc=$?

log=$dir/meson-logs/testlog.json
[ -f "$log" ] || die "no test log at $log"
/usr/bin/python3 - "$log" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        counts["passed"] += 1
    elif r == "SKIP":
        counts["skipped"] += 1
    else:
        counts["failed"] += 1
print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
sys.exit(1 if counts["failed"] or not counts["passed"] else 0)
PY
exit $rc
