#!/bin/bash
# meshctl_apply.sh - meshctl apply against a running meshproxy's watched
# config dir: a valid change is written whole and the proxy routes by it; an
# invalid one (or a duplicate of a resource in another file) is refused with
# the diagnostics and nothing is written; --dry-run writes nothing.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"
M=${MESHCTL:?}

start_echo v1
v1=$port
start_echo v2
v2=$port
mkdir -p "$tmp/cfg" "$tmp/new"
cat >"$tmp/cfg/svc.yaml" <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web}
spec:
  hosts: [web.default.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: $v1}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {http: $v2}, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web.default.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
YAML
vs() { # SUBSET
	printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web}\nspec:\n  hosts: [web.default.svc.cluster.local]\n  http: [{route: [{destination: {host: web.default.svc.cluster.local, subset: %s}}]}]\n' "$1"
}
vs v1 >"$tmp/cfg/vs-web.yaml"
start_proxy "$tmp/p.log" --config "$tmp/cfg" --reload-poll 100ms --concurrency 1
gen() { curl -s "http://127.0.0.1:$adm/stats/prometheus" | sed -n 's/^meshproxy_config_generation //p'; }
who() { curl -s --max-time 5 -H 'Host: web' "http://127.0.0.1:$out/" | sed -n 's/.*"name":"\([a-z0-9]*\)".*/\1/p'; }
[ "$(who)" = v1 ] && ok "before: routed to v1" || not_ok "before: v1"

vs v2 >"$tmp/new/vs-web.yaml"
expect_status "meshctl apply --dry-run: valid" 0 "$M" apply --dir "$tmp/cfg" --dry-run "$tmp/new/vs-web.yaml"
expect_output "... and says nothing was written" "dry run: nothing written"
grep -q "subset: v1" "$tmp/cfg/vs-web.yaml" && ok "... and the dir is unchanged" || not_ok "dry run wrote"

g0=$(gen)
expect_status "meshctl apply: the new VirtualService replaces the file of the same name" 0 \
	"$M" apply --dir "$tmp/cfg" "$tmp/new/vs-web.yaml"
expect_output "... 'applied 1 file'" "applied 1 file to $tmp/cfg"
i=0
while [ "$(gen)" -le "$g0" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ "$(who)" = v2 ] && ok "the proxy reloaded it: routed to v2" || not_ok "after apply: v2"
ls -a "$tmp/cfg" | grep -q '^\.' && [ -z "$(ls -a "$tmp/cfg" | grep '^\.vs-web' || true)" ] &&
	ok "no temporary file left in the dir" || not_ok "temporary file left"

printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web}\nspec:\n  hosts: [web.default.svc.cluster.local]\n  htp: []\n' >"$tmp/new/vs-web.yaml"
g1=$(gen)
expect_status "meshctl apply refuses an invalid file (exit 1)" 1 "$M" apply --dir "$tmp/cfg" "$tmp/new/vs-web.yaml"
expect_output "... with the diagnostic" 'unknown field "htp" in VirtualService, did you mean "http"?'
expect_output "... and writes nothing" "nothing written to $tmp/cfg"
grep -q "subset: v2" "$tmp/cfg/vs-web.yaml" && ok "the dir still holds the last good file" || not_ok "invalid apply wrote"
vs v1 >"$tmp/new/other-name.yaml"
expect_status "meshctl apply refuses a resource another file of the dir defines" 1 \
	"$M" apply --dir "$tmp/cfg" "$tmp/new/other-name.yaml"
expect_output "... naming both places" "duplicate VirtualService"
[ ! -e "$tmp/cfg/other-name.yaml" ] && ok "... and writes nothing" || not_ok "duplicate apply wrote"
sleep 0.3
[ "$(gen)" = "$g1" ] && [ "$(who)" = v2 ] && ok "the proxy saw no change" || not_ok "proxy changed"
expect_status "meshctl apply without --dir: usage error" 2 "$M" apply "$tmp/new/vs-web.yaml"
sanitizer_check "$tmp/p.log"
finish
