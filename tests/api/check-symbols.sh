#!/bin/sh
# check-symbols.sh LIB MAP - the dynamic symbols LIB defines are exactly the
# global names listed in the version script MAP.
set -eu
lib=$1 map=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sed 's/@.*//' | sort -u)
listed=$(sed -n 's/^[[:space:]]*\(mesh_[a-z0-9_]*\);.*/\1/p' "$map" | sort -u)
if [ "$exported" != "$listed" ]; then
	echo "exported symbols differ from $map:"
	printf '%s\n' "$exported" > /tmp/exported.$$
	printf '%s\n' "$listed" > /tmp/listed.$$
	diff /tmp/listed.$$ /tmp/exported.$$ || true
	rm -f /tmp/exported.$$ /tmp/listed.$$
	exit 1
fi
echo "$(printf '%s\n' "$exported" | wc -l) symbols exported, all listed in libmesh.map"
