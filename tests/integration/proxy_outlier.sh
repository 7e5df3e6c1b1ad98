#!/bin/bash
# proxy_outlier.sh - outlier detection and the retry circuit breaker applied
# for real: an endpoint that answers 503 is ejected after DestinationRule
# consecutive5xxErrors, gets no more requests while ejected, and /clusters
# shows it (health_flags::/failed_outlier_check, outlier_ejections,
# rq_error); connectionPool.http.maxRetries caps retries in flight.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"

start_echo good
good=$port
start_raw bad status:503
bad=$port
mkdir -p "$tmp/cfg"
cat >"$tmp/cfg/svc.yaml" <<EOF
$(service_entry web "$good" "$bad")
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web.default.svc.cluster.local]
  http:
  - route: [{destination: {host: web.default.svc.cluster.local}}]
    retries: {attempts: 0}
EOF
start_proxy "$tmp/p.log" --config "$tmp/cfg" --concurrency 1

codes=""
for i in $(seq 1 30); do
	codes="$codes $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Host: web' "http://127.0.0.1:$out/x")"
done
n503=$(echo "$codes" | tr ' ' '\n' | grep -c 503 || true)
n200=$(echo "$codes" | tr ' ' '\n' | grep -c 200 || true)
[ "$n503" = 2 ] && [ "$n200" = 28 ] &&
	ok "the failing endpoint is ejected after 2 consecutive 503s: 2 x 503, then 28 x 200" ||
	not_ok "ejection (503: $n503, 200: $n200:$codes)"
heads=$(grep -c "GET /x" "$tmp/bad.log" || true)
[ "$heads" = 2 ] && ok "the ejected endpoint got no request after its ejection" ||
	not_ok "requests to the ejected endpoint ($heads)"
curl -s "http://127.0.0.1:$adm/clusters" >"$tmp/out"
expect_output "/clusters: the bad endpoint is flagged" "127.0.0.1:$bad::health_flags::/failed_outlier_check"
expect_output "/clusters: its ejection is counted" "127.0.0.1:$bad::outlier_ejections::1"
expect_output "/clusters: its failed requests are counted" "127.0.0.1:$bad::rq_error::2"
expect_output "/clusters: the good endpoint is healthy" "127.0.0.1:$good::health_flags::healthy"
expect_output "/clusters: the good endpoint's requests" "127.0.0.1:$good::rq_total::28"
sanitizer_check "$tmp/p.log"

# --- maxRetries: 1 retry in flight at a time for the cluster
mkdir -p "$tmp/cfg2"
cat >"$tmp/cfg2/svc.yaml" <<EOF
$(service_entry flaky "$bad")
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: flaky}
spec:
  host: flaky.default.svc.cluster.local
  trafficPolicy: {connectionPool: {http: {maxRetries: 1}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky}
spec:
  hosts: [flaky.default.svc.cluster.local]
  http:
  - route: [{destination: {host: flaky.default.svc.cluster.local}}]
    retries: {attempts: 3, retryOn: 5xx}
EOF
kill "$proxy"
start_proxy "$tmp/p2.log" --config "$tmp/cfg2" --concurrency 1
for i in $(seq 1 12); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 -H 'Host: flaky' "http://127.0.0.1:$out/r$i" >>"$tmp/codes" &
done
wait_codes=0
while [ "$(wc -l <"$tmp/codes")" -lt 12 ] && [ $wait_codes -lt 100 ]; do sleep 0.1; wait_codes=$((wait_codes + 1)); done
[ "$(grep -c 503 "$tmp/codes")" = 12 ] && ok "12 concurrent requests to an endpoint that always fails: all 503" ||
	not_ok "concurrent failing requests ($(sort "$tmp/codes" | uniq -c | tr '\n' ' '))"
ov=$(counter upstream_rq_retry_overflow)
rt=$(counter upstream_rq_retry)
[ "${ov:-0}" -gt 0 ] && [ "${rt:-0}" -lt 36 ] &&
	ok "maxRetries 1: $ov retries refused by the circuit breaker, $rt made (36 without it)" ||
	not_ok "maxRetries circuit breaker (overflow $ov, retries $rt)"
sanitizer_check "$tmp/p2.log"

# --- maxConnections 1, http1MaxPendingRequests 1: one request at a time to
# a slow endpoint, one waiting, the next refused (503 UO)
mkdir -p "$tmp/cfg3"
cat >"$tmp/cfg3/svc.yaml" <<EOF
$(service_entry slowpoke "$good")
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: slowpoke}
spec:
  host: slowpoke.default.svc.cluster.local
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}
EOF
kill "$proxy"
start_proxy "$tmp/p3.log" --config "$tmp/cfg3" --concurrency 1
: >"$tmp/codes3"
for i in 1 2 3; do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 -H 'Host: slowpoke' \
		"http://127.0.0.1:$out/s$i?delay=400" >>"$tmp/codes3" &
	sleep 0.1
done
wait_codes=0
while [ "$(wc -l <"$tmp/codes3")" -lt 3 ] && [ $wait_codes -lt 100 ]; do sleep 0.1; wait_codes=$((wait_codes + 1)); done
codes=$(sort "$tmp/codes3" | tr '\n' ' ')
[ "$codes" = "200 200 503 " ] &&
	ok "maxConnections 1 + http1MaxPendingRequests 1: one served, one waited and was served, one refused" ||
	not_ok "connection and pending breakers (codes: $codes)"
[ "$(counter upstream_rq_pending_overflow)" -ge 1 ] && [ "$(flag_count UO)" -ge 1 ] &&
	ok "... the refusal is a pending overflow (UO)" || not_ok "pending overflow counters"
[ "$(counter upstream_cx_total)" = 1 ] && ok "... over one upstream connection" ||
	not_ok "one upstream connection ($(counter upstream_cx_total))"
sanitizer_check "$tmp/p3.log"
finish
