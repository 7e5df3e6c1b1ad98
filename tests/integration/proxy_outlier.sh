#!/bin/bash
# proxy_outlier.sh - outlier detection applied for real: an endpoint that
# answers 503 is ejected after DestinationRule consecutive5xxErrors, gets no
# more requests while ejected, and /clusters shows it
# (health_flags::/failed_outlier_check, outlier_ejections, rq_error).
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
finish
