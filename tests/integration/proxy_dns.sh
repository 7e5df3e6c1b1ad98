#!/bin/bash
# proxy_dns.sh - DNS endpoints (ServiceEntry resolution DNS), resolved by the
# proxy's resolver thread: an endpoint named by a host name, a DNS service
# without endpoints (the host itself is dialled, as Envoy's STRICT_DNS), and
# a name that does not resolve (503 UH). Names come from /etc/hosts
# (localhost): no network beyond loopback.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"

start_echo named
named=$port
mkdir -p "$tmp/cfg"
cat >"$tmp/cfg/svc.yaml" <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: byname}
spec:
  hosts: [echo.example.test]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  endpoints: [{address: localhost, ports: {http: $named}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: itself}
spec:
  hosts: [localhost]
  ports: [{number: $named, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: nowhere}
spec:
  hosts: [nowhere.example.test]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  endpoints: [{address: no-such-host.invalid}]
YAML
start_proxy "$tmp/p.log" --config "$tmp/cfg" --concurrency 2
get() { curl -s -o "$tmp/body" -w '%{http_code}' --max-time 5 -H "Host: $1" "http://127.0.0.1:$out/dns" || true; }
i=0
until [ "$(get echo.example.test)" = 200 ] || [ $i -gt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(get echo.example.test)" = 200 ] && grep -q '"name":"named"' "$tmp/body" &&
	ok "an endpoint named 'localhost' is resolved and reached" || not_ok "DNS endpoint"
[ "$(get "localhost:$named")" = 200 ] && ok "a DNS service without endpoints dials its host" ||
	not_ok "DNS service without endpoints"
[ "$(get nowhere.example.test)" = 503 ] && ok "a name that does not resolve: 503" || not_ok "unresolvable name"
[ "$(flag_count UH)" -ge 1 ] && ok "... counted as UH (no healthy upstream)" || not_ok "UH flag count"
kill -0 "$proxy" && ok "the proxy is up" || not_ok "proxy alive"
sanitizer_check "$tmp/p.log"
finish
