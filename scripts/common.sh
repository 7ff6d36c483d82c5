# SPDX-License-Identifier: MIT
# Shared by scripts/demo.sh and scripts/test.sh: Debian packages, build, session daemon.
# Sourced, not run.

PYTRACE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Everything the build, the demo and the test suite use, as Debian bookworm packages.
PYTRACE_PACKAGES=(
	meson ninja-build pkg-config gcc g++ binutils procps
	libpython3-dev python3-dev
	liblttng-ust-dev liburcu-dev lttng-tools babeltrace2 python3-bt2 libbabeltrace2-dev
	liblttng-ust-python-agent1 python3-lttngust python3-flask
	libcriterion-dev python3-pytest valgrind
	clang libclang-rt-14-dev libxml2-utils
)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the packages that are missing (as root), or says which to install.
ensure_packages() {
	local missing=() p
	for p in "${PYTRACE_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
	fi
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || die "apt-get update failed"
	# policy-rc.d keeps the package from starting its own lttng-sessiond service.
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
}

# Configures (once) and builds BUILD_DIR with the test suite required.
build() {
	local dir=$1
	if [ ! -f "$dir/build.ninja" ]; then
		say "configuring $dir"
		meson setup "$dir" "$PYTRACE_ROOT" -Dtests=enabled >/dev/null ||
			die "meson setup failed (see $dir/meson-logs/meson-log.txt)"
	fi
	say "building $dir"
	ninja -C "$dir" >/dev/null || { ninja -C "$dir"; die "build failed"; }
}

# Starts a root session daemon unless one runs; stops it on exit if we started it.
PYTRACE_STARTED_SESSIOND=
ensure_sessiond() {
	pgrep -x lttng-sessiond >/dev/null && return 0
	say "starting lttng-sessiond"
	lttng-sessiond --daemonize || die "cannot start lttng-sessiond"
	PYTRACE_STARTED_SESSIOND=$(pgrep -x -n lttng-sessiond)
	trap stop_sessiond EXIT
}

stop_sessiond() {
	[ -n "$PYTRACE_STARTED_SESSIOND" ] && kill "$PYTRACE_STARTED_SESSIOND" 2>/dev/null
	return 0
}
