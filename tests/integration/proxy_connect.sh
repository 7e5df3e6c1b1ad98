#!/bin/bash
# proxy_connect.sh - HTTP/1.1 CONNECT on the outbound listener: routed by its
# authority (host:port) as any request, then the client connection becomes a
# byte tunnel to the chosen endpoint (curl -p, and raw bytes sent with the
# CONNECT head); no route 404, an endpoint that refuses 503.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"

start_echo web
web=$port
closed_port && closed=$port
mkdir -p "$tmp/cfg"
{
	service_entry web "$web"
	service_entry gone "$closed"
} >"$tmp/cfg/svc.yaml"
start_proxy "$tmp/p.log" --config "$tmp/cfg" --concurrency 1

code=$(curl -s -p -x "http://127.0.0.1:$out" -o "$tmp/body" -w '%{http_connect} %{http_code}' \
	--max-time 5 "http://web:9080/through" || true)
[ "$code" = "200 200" ] && grep -q '"name":"web"' "$tmp/body" && grep -q '"path":"/through"' "$tmp/body" &&
	ok "curl -p: CONNECT web:9080 gets 200, then HTTP through the tunnel reaches the endpoint" ||
	not_ok "CONNECT tunnel (got '$code')"
code=$(curl -s -p -x "http://127.0.0.1:$out" -o /dev/null -w '%{http_connect}' --max-time 5 \
	"http://nowhere.example:80/" || true)
[ "$code" = 404 ] && ok "CONNECT to a host without a route: 404" || not_ok "CONNECT no route (got '$code')"
code=$(curl -s -p -x "http://127.0.0.1:$out" -o /dev/null -w '%{http_connect}' --max-time 5 \
	"http://gone:9080/" || true)
[ "$code" = 503 ] && ok "CONNECT to an endpoint that refuses: 503" || not_ok "CONNECT refused (got '$code')"
# the tunnelled request in the same write as the CONNECT head
$PROBE send "$out" "b'CONNECT web:9080 HTTP/1.1\\r\\nHost: web:9080\\r\\n\\r\\nGET /early HTTP/1.1\\r\\nHost: web\\r\\nConnection: close\\r\\n\\r\\n'" \
	--timeout 5 >"$tmp/out"
expect_output "bytes sent with the CONNECT head go through first: the 200" '"status": 200'
expect_output "... and the tunnelled request's answer" '/early'
[ "$(counter downstream_rq_2xx)" -ge 2 ] && ok "CONNECTs are counted as requests" || not_ok "CONNECT counted"
kill -0 "$proxy" && ok "the proxy is up" || not_ok "proxy alive"
sanitizer_check "$tmp/p.log"
finish
