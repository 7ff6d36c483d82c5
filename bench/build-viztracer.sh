#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds VizTracer (the peer the benchmarks compare with) from a source checkout, without pip:
# copies its Python package and compiles its two C extensions for the CPython that each build
# folder embeds. Then: VIZTRACER_PATH=OUT scripts/bench.sh BUILD_DIR...
#
#   bench/build-viztracer.sh SOURCE OUT BUILD_DIR...
#
# SOURCE is a VizTracer work tree or a bare git directory (e.g. a mirror of
# github.com/gaogaotiantian/viztracer); OUT receives viztracer/ with one .so per Python version.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '3,10s/^# \{0,1\}//p' "$0" >&2; exit 2; }
src=$1 out=$2
shift 2
mkdir -p "$out"
out=$(cd "$out" && pwd)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -d "$src/src/viztracer" ]; then
	cp -r "$src/src/viztracer" "$tmp/"
else
	# A bare repository: export the package without its web viewer and attach helpers.
	# (Mirrors may lack the large blobs of the web viewer: it is not used here.)
	git --git-dir="$src" archive HEAD -- src/viztracer ':!src/viztracer/web_dist' \
		':!src/viztracer/attach_process' 2>/dev/null | tar -x -C "$tmp"
	[ -f "$tmp/src/viztracer/__init__.py" ] || { echo "error: cannot export $src" >&2; exit 1; }
	mv "$tmp/src/viztracer" "$tmp/viztracer"
fi
rm -rf "$out/viztracer.new"
cp -r "$tmp/viztracer" "$out/viztracer.new"
# Keep extensions built earlier for other Python versions.
if [ -d "$out/viztracer" ]; then
	cp "$out"/viztracer/*.so "$out/viztracer.new/" 2>/dev/null || true
	rm -rf "$out/viztracer"
fi
mv "$out/viztracer.new" "$out/viztracer"
mods=$out/viztracer/modules

for build in "$@"; do
	bare=$build/bench/pytrace-bench-bare
	[ -x "$bare" ] || { echo "error: $bare is missing (build $build first)" >&2; exit 1; }
	read -r suffix include < <("$bare" -c \
		'import sysconfig as s; print(s.get_config_var("EXT_SUFFIX"), s.get_paths()["include"])')
	echo "==> VizTracer extensions for $("$bare" -c 'import sys; print(sys.version.split()[0])')" \
		"($suffix)" >&2
	cc -O2 -g -fPIC -shared -std=gnu99 -I"$include" -I"$mods" -o "$out/viztracer/snaptrace$suffix" \
		"$mods"/util.c "$mods"/eventnode.c "$mods"/quicktime.c "$mods"/snaptrace.c \
		"$mods"/snaptrace_member.c -lpthread
	cc -O2 -g -fPIC -shared -std=gnu99 -Wno-unused-result -I"$include" -I"$mods/vcompressor" \
		-o "$out/viztracer/vcompressor$suffix" "$mods"/vcompressor/vcompressor.c \
		"$mods"/vcompressor/vc_dump.c
	"$bare" -c "import sys; sys.path.insert(0, '$out'); import viztracer; \
print('    viztracer', viztracer.__version__, 'imports')" >&2
done
echo "VIZTRACER_PATH=$out" >&2
