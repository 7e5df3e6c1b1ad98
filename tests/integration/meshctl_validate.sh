#!/bin/sh
# meshctl validate / analyze as a user runs them: files, directories, stdin,
# exit codes, text and JSON output.
set -eu
. "$(dirname "$0")/lib.sh"
M=${MESHCTL:?}
src=${MESH_SOURCE_DIR:?}

expect_status "no arguments is a usage error" 2 "$M" validate
expect_status "unknown option is a usage error" 2 "$M" validate --bogus x.yaml
expect_status "missing file is an I/O error" 2 "$M" validate "$tmp/none.yaml"
expect_output "the I/O error names the file" "none.yaml: error: cannot open: No such file or directory"

expect_status "seed rules are valid" 0 "$M" validate "$src/examples/bookinfo/rules"
expect_output "summary line" "2 files, 2 resources accepted: 0 errors, 0 warnings"

cat >"$tmp/bad.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
      weight: 50
    - destination:
        host: reviews
        subset: v2
      weight: 40
YAML
expect_status "weights not summing to 100 is invalid" 1 "$M" validate "$tmp/bad.yaml"
expect_output "compiler-style diagnostic" "bad.yaml:17:15: error: spec.http[0].route[1].weight: weights must sum to 100, got 90"

expect_status "stdin is read with -" 1 sh -c "\"$M\" validate - < \"$tmp/bad.yaml\""
expect_output "stdin is named <stdin>" "<stdin>:17:15: error:"

expect_status "json output" 1 "$M" validate -o json "$tmp/bad.yaml"
if command -v jq >/dev/null; then
	if jq -e '.valid == false and .errors == 1 and .diagnostics[0].line == 17 and
	          .diagnostics[0].column == 15 and
	          .diagnostics[0].path == "spec.http[0].route[1].weight"' "$tmp/out" >/dev/null; then
		ok "json fields"
	else
		not_ok "json fields"; cat "$tmp/out"
	fi
fi

printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n' >"$tmp/k8s.yaml"
expect_status "non-mesh kinds are skipped" 0 "$M" validate "$tmp/k8s.yaml"
expect_output "with a note" "note: apps/v1 Deployment \"web\" is not a kind libmesh implements; skipped"
expect_status "--strict refuses them" 1 "$M" validate --strict "$tmp/k8s.yaml"

printf 'a: [1, 2\n' >"$tmp/broken.yaml"
expect_status "YAML syntax error" 1 "$M" validate "$tmp/broken.yaml"
expect_output "syntax error position" "broken.yaml:2:1: error: YAML syntax:"

# a valid and an I/O error together: the I/O error decides (exit 2)
expect_status "I/O error outranks" 2 "$M" validate "$src/examples/bookinfo/rules" "$tmp/none.yaml"

corpus=${MESH_CORPUS_DIR:-}
if [ -d "$corpus" ]; then
	bad=0
	for f in "$corpus"/*/*.yaml; do
		if ! "$M" validate -q "$f" >"$tmp/out" 2>&1; then
			bad=$((bad + 1)); echo "    $(basename "$f"):"; sed 's/^/    | /' "$tmp/out"
		fi
	done
	if [ "$bad" = 0 ]; then ok "every corpus file validates"; else not_ok "$bad corpus files rejected"; fi
fi

expect_status "analyze runs on the examples" 0 "$M" analyze "$src/examples/bookinfo"
expect_status "analyze usage" 2 "$M" analyze

finish
