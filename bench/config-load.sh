#!/bin/sh
# bench/config-load.sh - issue 2 point 8, reproducibly: build libmesh in
# release mode, run bench_config_load (10,000 generated VirtualServices, one
# core, median of several runs, peak RSS, libyaml floor), then time
# `meshctl validate` on the same inputs as a second view.
#
# Usage: bench/config-load.sh [-n COUNT] [-r REPS] [-c CPU]
# Environment: BUILD (default build-bench/ beside the sources).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$src/build-bench}
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$src" --buildtype=release -Dtests=false >/dev/null
fi
ninja -C "$build" bench/bench_config_load meshctl/meshctl >/dev/null

tmp=$(mktemp -d "${TMPDIR:-/tmp}/config-load.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

status=0
"$build/bench/bench_config_load" -k "$tmp/in" "$@" >"$tmp/out" || status=$?
grep -v '^inputs kept in' "$tmp/out" || true

# meshctl validate: the whole program (start, load, validate, print the
# summary), wall time and peak RSS from /usr/bin/time, pinned like the
# benchmark when taskset exists.
pin=""
if command -v taskset >/dev/null 2>&1; then
	pin="taskset -c 0"
fi
if [ -x /usr/bin/time ]; then
	for what in all.yaml files; do
		for i in 1 2 3 4 5; do
			$pin /usr/bin/time -f "%e %M" "$build/meshctl/meshctl" validate \
				"$tmp/in/$what" 2>&1 >/dev/null | tail -n 1
		done | sort -n | awk -v what="$what" '
			{ t[NR] = $1; if ($2 > rss) rss = $2 }
			END { printf "meshctl validate %-9s median %.2f s, min %.2f s, max %.2f s, peak %.1f MB\n",
			      what, t[int((NR + 1) / 2)], t[1], t[NR], rss * 1024 / 1e6 }'
	done
else
	echo "(no /usr/bin/time: meshctl timing skipped)"
fi
exit $status
