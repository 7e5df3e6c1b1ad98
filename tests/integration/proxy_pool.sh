#!/bin/sh
# proxy_pool.sh - DestinationRule connectionPool settings on upstream
# connections, observed from outside: tcp.maxConnectionDuration (a pooled
# HTTP/1.1 connection is replaced once it is that old, idle or not),
# tcp.tcpKeepalive (the kernel's keepalive timer on the proxy's upstream
# socket, as `ss -o` shows it), http.useClientProtocol (the upstream
# request goes as HTTP/2 when the client spoke HTTP/2, else HTTP/1.1).
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"

start_echo aged && aged=$port
start_echo kept && kept=$port
start_echo either && either=$port
mkdir -p "$tmp/cfg"
{
	service_entry aged "$aged"
	service_entry kept "$kept"
	service_entry either "$either"
	cat <<'YAML'
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: aged}
spec:
  host: aged.default.svc.cluster.local
  trafficPolicy: {connectionPool: {tcp: {maxConnectionDuration: 2s}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: kept}
spec:
  host: kept.default.svc.cluster.local
  trafficPolicy:
    connectionPool: {tcp: {tcpKeepalive: {time: 42s, interval: 7s, probes: 3}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: either}
spec:
  host: either.default.svc.cluster.local
  trafficPolicy: {connectionPool: {http: {useClientProtocol: true}}}
YAML
} >"$tmp/cfg/svc.yaml"
start_proxy "$tmp/p.log" --config "$tmp/cfg" --concurrency 1
C="curl -s --max-time 5"
get() { $C -o /dev/null -w '%{http_code}' -H "Host: $1" "http://127.0.0.1:$out/${2:-}"; }
conns_to() { ss -Htn state established "( dport = :$1 )" dst 127.0.0.1 | wc -l; }
conns_to_zero() { [ "$(conns_to "$1")" = 0 ]; }

# --- maxConnectionDuration: 2 s (room for two requests on a slow machine)
c0=$(counter upstream_cx_total)
a=$(get aged) b=$(get aged)
c1=$(counter upstream_cx_total)
[ "$a$b" = 200200 ] && [ $((c1 - c0)) = 1 ] &&
	ok "maxConnectionDuration 2s: two requests in a row share one upstream connection" ||
	not_ok "two quick requests: $a $b, $((c1 - c0)) connections"
# idle in the pool past its duration: closed by the proxy
if wait_for 5 conns_to_zero "$aged"; then
	ok "... the pooled connection is closed when its duration is over, idle as it is"
else
	not_ok "the pooled connection outlived its duration ($(conns_to "$aged") open)"
fi
a=$(get aged)
c2=$(counter upstream_cx_total)
[ "$a" = 200 ] && [ $((c2 - c1)) = 1 ] &&
	ok "... and the next request gets a new one" ||
	not_ok "after the duration: $a, $((c2 - c1)) new connections"
# a connection busy when its time runs out: the request finishes, then it closes
a=$($C -o /dev/null -w '%{http_code}' -H 'Host: aged' "http://127.0.0.1:$out/slow?delay=2500")
c3=$(counter upstream_cx_total)
b=$(get aged)
c4=$(counter upstream_cx_total)
[ "$a$b" = 200200 ] && [ $((c3 - c2)) -le 1 ] && [ $((c4 - c3)) = 1 ] &&
	ok "... a request longer than the duration finishes; the connection is not reused after it" ||
	not_ok "long request: $a then $b, connections $c2 -> $c3 -> $c4"

# --- tcpKeepalive: time 42 s (the kernel's first probe after 42 s idle; the
# timer counts down from the last byte, so 30-42 s left on a slow machine)
[ "$(get kept)" = 200 ] || not_ok "request to kept"
timer=$(ss -Htno state established "( dport = :$kept )" dst 127.0.0.1 | grep -o 'timer:([a-z]*,[0-9.]*[a-z]*' | head -1)
case "$timer" in
timer:\(keepalive,[34][0-9]sec | timer:\(keepalive,[34][0-9].*) ok "tcpKeepalive time 42s: the upstream socket's keepalive timer is armed ($timer)" ;;
*) not_ok "tcpKeepalive: no keepalive timer on the upstream socket ('$timer')" ;;
esac
timer=$(ss -Htno state established "( dport = :$aged )" dst 127.0.0.1 | grep -o 'timer:([a-z]*' | head -1 || true)
[ "$timer" != "timer:(keepalive" ] && ok "... and none where the DestinationRule sets none" ||
	not_ok "keepalive armed without tcpKeepalive"

# --- useClientProtocol: the upstream speaks what the client spoke
p1=$($C -H 'Host: either' "http://127.0.0.1:$out/proto" | sed -n 's/.*"protocol":"\([^"]*\)".*/\1/p')
p2=$($C --http2-prior-knowledge -H 'Host: either' "http://127.0.0.1:$out/proto" | sed -n 's/.*"protocol":"\([^"]*\)".*/\1/p')
[ "$p1" = HTTP/1.1 ] && [ "$p2" = HTTP/2 ] &&
	ok "useClientProtocol: an HTTP/1.1 client's request goes upstream as HTTP/1.1, an HTTP/2 client's as HTTP/2" ||
	not_ok "useClientProtocol: upstream saw '$p1' for HTTP/1.1 and '$p2' for HTTP/2"
p3=$($C --http2-prior-knowledge -H 'Host: kept' "http://127.0.0.1:$out/proto" | sed -n 's/.*"protocol":"\([^"]*\)".*/\1/p')
[ "$p3" = HTTP/1.1 ] && ok "... without it, an HTTP port gets HTTP/1.1 from an HTTP/2 client" ||
	not_ok "without useClientProtocol: '$p3'"

kill -0 "$proxy" 2>/dev/null && ok "the proxy is up" || not_ok "the proxy died"
sanitizer_check "$tmp/p.log"
finish
