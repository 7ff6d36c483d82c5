#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what the suite needs, builds, runs the whole `meson test` suite against a real
# lttng-sessiond, then the same suite against every pyenv CPython 3.8-3.13 the machine has (the
# version matrix), and ends with one line summed over all builds: "N passed, N failed, N skipped".
#
#   scripts/test.sh [BUILD_DIR] [meson test options...]      (BUILD_DIR defaults to build)
#
# BUILD_DIR uses the system's CPython (python3-embed). Each pyenv CPython X.Y gets its own
# BUILD_DIR-pyX.Y (the newest patch release of each minor version found). pyenv is looked for on
# PATH and in $PYENV_ROOT, ~/.pyenv and /root/.pyenv: CI runs as root on a fresh machine, where
# pyenv may be installed but not on PATH. A CPython found that fails to build, or any failing
# test, makes the script fail.
#
#   PYTRACE_MATRIX=none          only BUILD_DIR
#   PYTRACE_MATRIX="3.8 3.12"    only these pyenv versions (each must be found)
#   PYTRACE_MATRIX_ARGS="..."    more `meson test` options for the pyenv builds only
#                                (e.g. "--no-suite abi")
# The trace tools' tests (suite tools) run in BUILD_DIR only. Tests run 2 per CPU
# (MESON_TESTTHREADS overrides): most of their time is spent waiting on LTTng.
#   PYTRACE_FUZZ=none            no fuzz build (BUILD_DIR-fuzz: tests/fuzz, clang, ASan/UBSan)
#   PYTRACE_FUZZ_SECONDS=N       how long each fuzz target runs (20)
set -euo pipefail
. "$(dirname "$0")/common.sh"

dir=${1:-$PYTRACE_ROOT/build}
shift || true
matrix=${PYTRACE_MATRIX:-all}
read -r -a matrix_args <<<"${PYTRACE_MATRIX_ARGS:-}"

# "passed failed skipped" of the last `meson test` run in build dir $1; fails without a log.
counts() {
	local log=$1/meson-logs/testlog.json
	[ -f "$log" ] || { say "no test log at $log"; return 1; }
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
print(counts["passed"], counts["failed"], counts["skipped"])
PY
}

# "X.Y.Z PREFIX" of every pyenv CPython 3.8-3.13, the newest patch release per minor version.
# Other names (2.x, 3.6, 3.7, pypy, free-threaded or dev builds) are not CPython versions we
# support.
find_pythons() {
	local roots=() r v name
	if command -v pyenv >/dev/null 2>&1; then
		for v in $(pyenv versions --bare 2>/dev/null); do
			r=$(pyenv prefix "$v" 2>/dev/null) && echo "$v $r"
		done
	fi
	[ -n "${PYENV_ROOT:-}" ] && roots+=("$PYENV_ROOT")
	roots+=("${HOME:-/root}/.pyenv" /root/.pyenv)
	for r in "${roots[@]}"; do
		for v in "$r"/versions/*; do
			[ -d "$v" ] && echo "$(basename "$v") $v"
		done
	done
} 2>/dev/null

select_pythons() {
	local name prefix
	find_pythons | while read -r name prefix; do
		[[ $name =~ ^3\.(8|9|10|11|12|13)\.[0-9]+$ ]] || continue
		echo "$name $(cd "$prefix" && pwd -P)"
	done | sort -u -k2,2 | sort -V -k1,1 | awk '
		{ split($1, v, "."); mm = v[1] "." v[2]; last[mm] = $0 }
		!(mm in seen) { seen[mm] = 1; order[++n] = mm }
		END { for (i = 1; i <= n; i++) print last[order[i]] }'
}

# Configures (or reconfigures) and builds build dir $1 against the CPython at prefix $2, minor
# version $3. Output goes to $1/pytrace-build.log; 0 if it built.
build_for() {
	local d=$1 prefix=$2 mm=$3 log=$1/pytrace-build.log
	local opts=(-Dtests=enabled "-Dpkg_config_path=$prefix/lib/pkgconfig"
		"-Dpython=python-$mm-embed")
	mkdir -p "$d"
	{
		if [ -f "$d/build.ninja" ]; then
			meson configure "$d" "${opts[@]}"
		else
			meson setup "$d" "$PYTRACE_ROOT" "${opts[@]}"
		fi && ninja -C "$d"
	} >"$log" 2>&1
}

# Most tests wait on lttng-sessiond, a consumer or a child: two per CPU keep the CPUs busy
# (three made a recording of tools-profile come back empty once).
export MESON_TESTTHREADS=${MESON_TESTTHREADS:-$(($(nproc) * 2))}

# run_tests DIR ARGS...: the whole suite; a stale log never counts.
run_tests() {
	local d=$1
	shift
	say "running meson test in $d"
	rm -f "$d/meson-logs/testlog.json"
	meson test -C "$d" --print-errorlogs "$@" || true
}

# fuzz_build DIR SECONDS: configures DIR for the fuzz targets and builds only them; log in
# DIR/pytrace-build.log, 0 if they built.
fuzz_build() {
	local d=$1 log=$1/pytrace-build.log
	local opts=(-Dtests=disabled -Dfuzzing=enabled -Db_sanitize=address,undefined
		-Db_lundef=false "-Dfuzz_seconds=$2")
	mkdir -p "$d"
	{
		if [ -f "$d/build.ninja" ]; then
			meson configure "$d" "${opts[@]}"
		else
			CC=clang meson setup "$d" "$PYTRACE_ROOT" "${opts[@]}"
		fi && meson compile -C "$d" $(meson introspect "$d" --targets |
			/usr/bin/python3 -c 'import json, sys
print(*(t["name"] for t in json.load(sys.stdin) if t["name"].startswith("fuzz-")))')
	} >"$log" 2>&1
}

rows=()
total_p=0 total_f=0 total_s=0 bad=0

# record LABEL DIR BUILT SECONDS: adds a table row and the counts of DIR's last test run.
record() {
	local label=$1 d=$2 built=$3 secs=$4 p=0 f=0 s=0 c
	if [ "$built" = yes ] && c=$(counts "$d"); then
		read -r p f s <<<"$c"
	else
		bad=1
	fi
	[ "$f" -eq 0 ] || bad=1
	total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
	rows+=("$(printf '%-18s %-28s %-5s %6s %6s %7s %6ss' "$label" "$(basename "$d")" "$built" \
		"$p" "$f" "$s" "$secs")")
}

# The pyenv CPythons to test, chosen before anything runs.
pythons=()
if [ "$matrix" != none ]; then
	mapfile -t pythons < <(select_pythons)
	if [ "$matrix" != all ]; then
		wanted=()
		for want in $matrix; do
			found=
			for p in "${pythons[@]}"; do
				[[ ${p%% *} == "$want".* ]] && { wanted+=("$p"); found=1; }
			done
			[ -n "$found" ] || die "PYTRACE_MATRIX: no pyenv CPython $want found"
		done
		pythons=("${wanted[@]}")
	fi
fi
[ "$matrix" = none ] || [ ${#pythons[@]} -gt 0 ] ||
	say "version matrix: no pyenv CPython 3.8-3.13 found"

ensure_packages
build "$dir"
ensure_sessiond

start=$SECONDS
run_tests "$dir" "$@"
record "$(pkg-config --modversion python3-embed 2>/dev/null || echo '?') (system)" "$dir" yes \
	$((SECONDS - start))

for p in "${pythons[@]}"; do
	version=${p%% *} prefix=${p#* }
	mm=${version%.*}
	d=$dir-py$mm
	start=$SECONDS
	say "building $d against CPython $version ($prefix)"
	if ! build_for "$d" "$prefix" "$mm"; then
		tail -n 30 "$d/pytrace-build.log" >&2
		say "CPython $version: build failed (log: $d/pytrace-build.log)"
		record "$version" "$d" no $((SECONDS - start))
		continue
	fi
	# The trace tools (suite tools) read traces whatever CPython wrote them, and their own
	# tests record under several modes: they run in the default build only.
	run_tests "$d" "$@" --no-suite tools "${matrix_args[@]}"
	record "$version" "$d" yes $((SECONDS - start))
done

# The fuzz targets (tests/fuzz): clang with libFuzzer, ASan and UBSan, against the system's
# CPython; each runs PYTRACE_FUZZ_SECONDS (default 20). PYTRACE_FUZZ=none skips them.
if [ "${PYTRACE_FUZZ:-all}" != none ]; then
	d=$dir-fuzz
	start=$SECONDS
	say "building $d (clang, libFuzzer, ASan/UBSan)"
	if fuzz_build "$d" "${PYTRACE_FUZZ_SECONDS:-20}"; then
		rm -f "$d/meson-logs/testlog.json"
		meson test -C "$d" --no-rebuild --suite fuzz --print-errorlogs || true
		record "fuzz (clang)" "$d" yes $((SECONDS - start))
	else
		tail -n 30 "$d/pytrace-build.log" >&2
		record "fuzz (clang)" "$d" no $((SECONDS - start))
	fi
fi

printf '%-18s %-28s %-5s %6s %6s %7s %7s\n' CPython "build dir" built passed failed skipped time
printf '%s\n' "${rows[@]}"
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$bad" -eq 0 ] && [ "$total_p" -gt 0 ]
