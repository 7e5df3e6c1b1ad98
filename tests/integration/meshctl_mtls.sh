#!/bin/sh
# meshctl mtls as a user checking which mTLS mode a workload enforces: the
# mesh-wide, namespace, workload and port levels, JSON, exit codes; and the
# upstream TLS line of meshctl route.
set -eu
. "$(dirname "$0")/lib.sh"
M=${MESHCTL:?}

cat >"$tmp/pa.yaml" <<'YAML'
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: legacy}
spec: {mtls: {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: finance, namespace: foo}
spec:
  selector: {matchLabels: {app: finance}}
  mtls: {mode: UNSET}
  portLevelMtls:
    8080: {mode: DISABLE}
YAML

expect_status "usage without config" 2 "$M" mtls
expect_status "bad --port" 2 "$M" mtls "$tmp/pa.yaml" --port 70000
expect_status "bad --labels" 2 "$M" mtls "$tmp/pa.yaml" --labels app

expect_status "mesh-wide policy" 0 "$M" mtls "$tmp/pa.yaml" -n bar
expect_output "mesh-wide STRICT" "mtls mode: STRICT"
expect_output "from the root namespace" "source: PeerAuthentication istio-system/default"

expect_status "namespace policy" 0 "$M" mtls "$tmp/pa.yaml" --namespace legacy --labels app=x
expect_output "namespace PERMISSIVE" "source: PeerAuthentication legacy/default"

expect_status "workload UNSET inherits" 0 "$M" mtls "$tmp/pa.yaml" -n foo --labels app=finance
expect_output "inherited STRICT" "mtls mode: STRICT"

expect_status "port level" 0 "$M" mtls "$tmp/pa.yaml" -n foo --labels app=finance,v=1 --port 8080
expect_output "port DISABLE" "mtls mode: DISABLE"
expect_output "port source" "source: PeerAuthentication foo/finance port 8080"

expect_status "json output" 0 "$M" mtls "$tmp/pa.yaml" -n foo --labels app=finance --port 8080 -o json
expect_output "json mode" '"mode":"DISABLE","source":"PeerAuthentication foo/finance port 8080"'
if command -v jq >/dev/null; then
	if jq -e '.namespace == "foo" and .labels.app == "finance" and .port == 8080' \
		"$tmp/out" >/dev/null; then ok "json fields"; else not_ok "json fields"; cat "$tmp/out"; fi
fi

expect_status "no policy at all" 0 "$M" mtls /dev/null -n foo
expect_output "PERMISSIVE by default" "mtls mode: PERMISSIVE"
expect_output "default source" "source: default"

printf 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: x}\nspec: {mtls: {mode: SOMETIMES}}\n' >"$tmp/bad.yaml"
expect_status "invalid config is refused" 1 "$M" mtls "$tmp/bad.yaml"

cat >"$tmp/svc.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 9080, name: http}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.1, serviceAccount: reviews}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http}]
  resolution: STATIC
  endpoints: [{address: 10.1.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec: {host: httpbin.org, trafficPolicy: {tls: {mode: DISABLE}}}
YAML
expect_status "route to a mesh workload" 0 "$M" route "$tmp/svc.yaml" --host reviews
expect_output "auto mTLS" "tls: ISTIO_MUTUAL (auto)"
expect_status "route with a DestinationRule" 0 "$M" route "$tmp/svc.yaml" --host httpbin.org
expect_output "DestinationRule tls" "tls: DISABLE (DestinationRule default/httpbin)"

finish
