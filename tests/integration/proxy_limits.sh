#!/bin/sh
# meshproxy limits and bad input (issue 4, point 7), driven with raw bytes
# from a python3 socket client (h1probe.py):
#  - smuggling shapes (CL+TE, two Content-Lengths, bad chunk sizes, obs-fold,
#    bare LF, whitespace before the colon, bad header names, two spaces in
#    the request line, HTTP/2.0 on an HTTP/1 port): the status, and the
#    connection closed after it; then a normal request on a new connection
#    must work (the proxy neither crashed nor wedged);
#  - head size and header count limits (431), a 20 KB URI (414), and heads
#    just under the limits served;
#  - header timeout (slowloris, also behind a pipelined request) and idle
#    timeout of keep-alive connections (--header-timeout/--idle-timeout 2s);
#  - pipelining: answers in order, never mixed;
#  - upstream failures with their response flags in /stats/prometheus (UC,
#    UF, UT, UO), retries past failing endpoints, clients and backends that
#    go away mid-exchange, streaming of slow responses;
#  - --max-connections; a clean drain and no sanitizer report at the end.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"

start_echo ratings && rt=$port
start_echo good && good=$port
start_echo slow && slow=$port
start_raw resetter reset && rst=$port
start_raw bad status:503 && bad=$port
start_raw bad2 status:503 && bad2=$port
start_raw partial partial && part=$port
start_raw trickle trickle && trickle=$port
closed_port && closed=$port

cfg="$tmp/config"
mkdir -p "$cfg"
{
	service_entry ratings "$rt"
	service_entry resetter "$rst"
	service_entry closed "$closed"
	service_entry slow "$slow"
	service_entry breaker "$slow"
	service_entry flaky "$bad" "$good"
	service_entry flaky3 "$bad" "$bad2" "$good"
	service_entry partial "$part"
	service_entry trickle "$trickle"
	cat <<'YAML'
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {exact: /direct}}]
    directResponse: {status: 202, body: {string: "direct"}}
  - route: [{destination: {host: ratings}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow}
spec:
  hosts: [slow]
  http: [{timeout: 200ms, route: [{destination: {host: slow}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: breaker}
spec:
  host: breaker
  trafficPolicy: {connectionPool: {http: {http2MaxRequests: 1}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky}
spec:
  hosts: [flaky]
  http: [{retries: {attempts: 2, retryOn: 5xx}, route: [{destination: {host: flaky}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky3}
spec:
  hosts: [flaky3]
  http: [{retries: {attempts: 2, retryOn: 5xx}, route: [{destination: {host: flaky3}}]}]
YAML
} >"$cfg/mesh.yaml"

HT=2 # --header-timeout and --idle-timeout, seconds
start_proxy "$tmp/proxy.log" --config "$cfg" --concurrency 2 --drain-time 3s \
	--header-timeout ${HT}s --idle-timeout ${HT}s --stream-idle-timeout ${HT}s
proxy1=$proxy out1=$out adm1=$adm
C="curl -s --max-time 5"

# alive: a normal request on a new connection -> "" when it is answered 200
alive() {
	code=$($C -o /dev/null -w '%{http_code}' -H 'Host: ratings' "http://127.0.0.1:$out/alive" || true)
	[ "$code" = 200 ] || echo "a normal request afterwards got '$code'"
}

# probe WHAT STATUSES EXPR [h1probe send options]: send the bytes of the
# Python expression EXPR on a new connection; the first answer must have one
# of STATUSES (comma-separated), the connection must be closed after it,
# and the proxy must still serve a normal request
probe() {
	what=$1 want=$2 expr=$3
	shift 3
	$PROBE send "$out" "$expr" --timeout 3 "$@" >"$tmp/out" 2>"$tmp/err" || true
	why=$($PROBE expect "$tmp/out" --status "$want" --closed --timeout 3 2>&1 || true)
	why="$why$(alive)"
	if [ -z "$why" ]; then ok "$what"; else
		not_ok "$what: $why"
		$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print("sent:", d["sent_head"], "(%d bytes)" % d["sent_bytes"]); print("got: ", repr(d["raw"][:200]), "closed:", d["closed"], "reset:", d["reset"])' "$tmp/out" 2>&1 | sed 's/^/    | /'
		sed 's/^/    | /' "$tmp/err" | head -5
	fi
}

H="Host: ratings\\r\\n"
# --- smuggling shapes: 400 and the connection closed
probe "Content-Length with Transfer-Encoding: 400" 400 \
	"b'POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'"
probe "Transfer-Encoding then Content-Length: 400" 400 \
	"b'POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n'"
probe "two different Content-Lengths: 400" 400 \
	"b'POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde'"
probe "Content-Length list with two values: 400" 400 \
	"b'POST / HTTP/1.1\r\n${H}Content-Length: 4, 5\r\n\r\nabcde'"
probe "chunk size not hex: 400" 400 \
	"b'POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'"
probe "chunk size overflowing 64 bits: 400" 400 \
	"b'POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nabc\r\n0\r\n\r\n'"
probe "chunk size with a sign: 400" 400 \
	"b'POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n'"
probe "obs-fold: 400" 400 \
	"b'GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n'"
probe "bare LF line ends: 400" 400 \
	"b'GET / HTTP/1.1\nHost: ratings\n\n'"
probe "one bare LF in a header line: 400" 400 \
	"b'GET / HTTP/1.1\r\n${H}X-A: a\nX-B: b\r\n\r\n'"
probe "whitespace before the colon: 400" 400 \
	"b'GET / HTTP/1.1\r\n${H}X-A : a\r\n\r\n'"
probe "whitespace before the colon of Transfer-Encoding: 400" 400 \
	"b'POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc'"
probe "header name with '(': 400" 400 \
	"b'GET / HTTP/1.1\r\n${H}X(A): a\r\n\r\n'"
probe "header name with a space inside: 400" 400 \
	"b'GET / HTTP/1.1\r\n${H}X A: a\r\n\r\n'"
probe "header name with a non-ASCII byte: 400" 400 \
	"b'GET / HTTP/1.1\r\n${H}X-\xe9: a\r\n\r\n'"
probe "request line with two spaces: 400" 400 \
	"b'GET  / HTTP/1.1\r\n${H}\r\n'"
probe "HTTP/2.0 on an HTTP/1 port: 505 or 400" 505,400 \
	"b'GET / HTTP/2.0\r\n${H}\r\n'"

# --- size and count limits (defaults: 60 KiB head, 100 headers)
probe "header block over 60 KiB: 431" 431 \
	"b'GET / HTTP/1.1\r\n${H}' + b''.join(b'X-H%d: %s\r\n' % (i, b'a' * 1000) for i in range(62)) + b'\r\n'"
probe "101 headers: 431" 431 \
	"b'GET / HTTP/1.1\r\n${H}' + b''.join(b'X-H%d: a\r\n' % i for i in range(100)) + b'\r\n'"
# the 20 KB URI exceeds the codec's 16 KiB start-line limit: 414 (h1.h)
probe "20 KB URI: 414" 414 \
	"b'GET /' + b'a' * 20000 + b' HTTP/1.1\r\n${H}\r\n'"

# under the limits: served (with Connection: close, so the probe sees EOF)
probe "header block of 40 KiB (under the 60 KiB limit) is served: 200" 200 \
	"b'GET / HTTP/1.1\r\n${H}Connection: close\r\n' + b''.join(b'X-H%d: %s\r\n' % (i, b'a' * 1000) for i in range(40)) + b'\r\n'"
probe "exactly 100 headers are served: 200" 200 \
	"b'GET / HTTP/1.1\r\n${H}Connection: close\r\n' + b''.join(b'X-H%d: a\r\n' % i for i in range(98)) + b'\r\n'"

# --- stream idle timeout: a body that stops coming (also 2 s)
$PROBE send "$out" "b'POST /up HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\n' + b'x' * 10" \
	--timeout 8 >"$tmp/stall.out" 2>&1 || true
if $PY -c '
import json,sys; d=json.load(open(sys.argv[1]))
sys.exit(0 if d["closed"] and d["statuses"] == [408] and d["elapsed"] <= float(sys.argv[2]) + 3 else 1)' "$tmp/stall.out" $HT; then
	ok "a request body that stops coming: 408 and closed after the stream idle timeout"
else
	not_ok "stream idle timeout on a stalled body"
	sed 's/^/    | /' "$tmp/stall.out"
fi
n=$(counter downstream_rq_idle_timeout)
[ "${n:-0}" -ge 1 ] && ok "downstream_rq_idle_timeout counts it" || not_ok "downstream_rq_idle_timeout ($n)"

# --- timeouts (the proxy runs with --header-timeout and --idle-timeout 2s);
# the slow clients and idle connections run side by side
# slow1: a header line every 0.5 s; slow2 and slow3: the same behind a
# complete request in the same write (proxied, then answered by the proxy)
$PROBE slow "$out" ratings --interval 0.5 --max 8 >"$tmp/slow1.out" 2>&1 &
bg="$!"
$PROBE slow "$out" ratings --interval 0.5 --max 8 \
	--first "b'GET /first HTTP/1.1\r\n${H}\r\n'" >"$tmp/slow2.out" 2>&1 &
bg="$bg $!"
$PROBE slow "$out" ratings --interval 0.5 --max 8 \
	--first "b'GET /direct HTTP/1.1\r\n${H}\r\n'" >"$tmp/slow3.out" 2>&1 &
bg="$bg $!"
$PROBE idle "$out" ratings /idle --max 6 >"$tmp/idle1.out" 2>&1 &
bg="$bg $!"
$PROBE idle "$out" ratings /direct --max 6 >"$tmp/idle2.out" 2>&1 &
bg="$bg $!"
wait $bg || true
for k in 1 2 3; do
	case $k in
	1) what="slowloris (a header line every 0.5 s): 408 or closed within the header timeout" first="" ;;
	2) what="slowloris behind a proxied request: 408 or closed within the header timeout" first=200 ;;
	3) what="slowloris behind a direct response: 408 or closed within the header timeout" first=202 ;;
	esac
	if $PY -c '
import json,sys; d=json.load(open(sys.argv[1]))
pre = [int(sys.argv[3])] if sys.argv[3] else []
ok = d["closed"] and d["elapsed"] is not None and d["elapsed"] <= float(sys.argv[2]) + 1.0 and d["statuses"] in (pre, pre + [408])
sys.exit(0 if ok else 1)' "$tmp/slow$k.out" $HT "$first"; then
		ok "$what"
	else
		not_ok "$what"
		sed 's/^/    | /' "$tmp/slow$k.out"
	fi
done
slow_alive=$(alive)
if [ -z "$slow_alive" ]; then ok "served after the slowloris"; else not_ok "served after the slowloris: $slow_alive"; fi
# the admin listener is served by the main thread (reloads, signals): a
# client trickling its request (a byte every 0.3 s, for 6 s) is cut off
# after 1 s, and /ready is answered meanwhile
$PY -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t0 = time.time()
req = b"GET /ready HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40
for b in req:
    try:
        s.send(bytes([b]))
    except OSError:
        break
    if time.time() - t0 > 6:
        break
    time.sleep(0.3)
s.settimeout(1)
try:
    got = s.recv(100)
except OSError:
    got = b""
print("%.1f %s" % (time.time() - t0, got[:12].decode("latin-1")))' "$adm" >"$tmp/adminslow.out" 2>&1 &
aslow=$!
sleep 0.5
t0=$(date +%s%N)
r1=$(curl -s --max-time 5 "http://127.0.0.1:$adm/ready" || true)
t1=$(date +%s%N)
wait $aslow || true
ms=$(((t1 - t0) / 1000000))
read -r secs first <"$tmp/adminslow.out" || true
if [ "$r1" = LIVE ] && [ "$ms" -lt 2500 ] && [ "${secs%.*}" -lt 4 ] && [ "$first" = "HTTP/1.1 400" ]; then
	ok "admin: a client trickling its request is cut off (400 after ${secs} s), /ready answered meanwhile in ${ms} ms"
else
	not_ok "admin slowloris: /ready '$r1' in ${ms} ms; the slow client: $(cat "$tmp/adminslow.out")"
fi
for k in 1 2; do
	what="idle keep-alive connection closed after the idle timeout"
	[ $k = 1 ] && what="$what (after a proxied request)" || what="$what (after a direct response)"
	if $PY -c '
import json,sys; d=json.load(open(sys.argv[1]))
ok = d["statuses"] and d["closed"] and d["idle_closed_after"] <= float(sys.argv[2]) + 1.0
sys.exit(0 if ok else 1)' "$tmp/idle$k.out" $HT; then ok "$what"; else
		not_ok "$what"
		sed 's/^/    | /' "$tmp/idle$k.out"
	fi
done

# --- pipelining: three requests in one write, answers in order, never mixed
# (the first is the slowest, the second carries a body)
pipe="b'GET /p1?delay=300 HTTP/1.1\r\n${H}\r\nPOST /p2?echo=1 HTTP/1.1\r\n${H}Content-Length: 11\r\n\r\nsecond-body'"
pipe="$pipe + b'GET /p3?delay=100 HTTP/1.1\r\n${H}Connection: close\r\n\r\n'"
$PROBE send "$out" "$pipe" --timeout 5 >"$tmp/pipe.out"
if $PY -c '
import json,sys; d=json.load(open(sys.argv[1])); r=d["responses"]
ok = (d["statuses"] == [200, 200, 200] and d["closed"]
      and "\"path\":\"/p1?delay=300\"" in r[0]["body"]
      and r[1]["body"] == "second-body"
      and "\"path\":\"/p3?delay=100\"" in r[2]["body"] and d["trailing_bytes"] == 0)
sys.exit(0 if ok else 1)' "$tmp/pipe.out"; then ok "pipelining: three answers in order with their own bodies"; else
	not_ok "pipelining: three answers in order with their own bodies"
	sed 's/^/    | /' "$tmp/pipe.out" | cut -c1-600
fi
pipe="b'GET /direct HTTP/1.1\r\n${H}\r\nGET /p2 HTTP/1.1\r\n${H}\r\nGET /direct HTTP/1.1\r\n${H}\r\n'"
pipe="$pipe + b'GET /p4?delay=50 HTTP/1.1\r\n${H}Connection: close\r\n\r\n'"
$PROBE send "$out" "$pipe" --timeout 5 >"$tmp/pipe.out"
if $PY -c '
import json,sys; d=json.load(open(sys.argv[1])); r=d["responses"]
ok = (d["statuses"] == [202, 200, 202, 200] and d["closed"] and r[0]["body"] == "direct"
      and "\"path\":\"/p2\"" in r[1]["body"] and r[2]["body"] == "direct"
      and "\"path\":\"/p4?delay=50\"" in r[3]["body"])
sys.exit(0 if ok else 1)' "$tmp/pipe.out"; then ok "pipelining: local replies and proxied answers interleaved in order"; else
	not_ok "pipelining: local replies and proxied answers interleaved in order"
	sed 's/^/    | /' "$tmp/pipe.out" | cut -c1-600
fi

# --- upstream failures and their response flags
# status_of HOST PATH -> the status curl got
status_of() { $C -o /dev/null -w '%{http_code}' -H "Host: $1" "http://127.0.0.1:$out$2" || true; }

uc0=$(flag_count UC) uf0=$(flag_count UF)
s=$(status_of resetter /reset)
uc1=$(flag_count UC) uf1=$(flag_count UF)
if [ "$s" = 503 ] && [ $((uc1 + uf1)) -gt $((uc0 + uf0)) ]; then
	ok "backend resets the connection: 503 with UC (or UF) counted"
else
	not_ok "backend resets the connection: 503 with UC (or UF) counted (got $s, UC $uc0->$uc1, UF $uf0->$uf1)"
fi
[ "$(alive)" = "" ] && ok "served after the reset" || not_ok "served after the reset"
# a POST already written upstream is not safe to send again (issue 4 point 4:
# retry only when nothing was sent, or the method is idempotent); Istio's
# default retryOn has no "reset"
n0=$(grep -c '^request POST' "$tmp/resetter.log" || true)
s=$($C -o /dev/null -w '%{http_code}' -H 'Host: resetter' -X POST -H 'Content-Length: 0' "http://127.0.0.1:$out/once" || true)
n1=$(grep -c '^request POST' "$tmp/resetter.log" || true)
if [ "$s" = 503 ] && [ $((n1 - n0)) = 1 ]; then
	ok "a POST reset after it was sent is not retried (503, backend saw it once)"
else
	not_ok "a POST reset after it was sent is not retried (got $s, backend saw it $((n1 - n0)) times)"
fi

uf0=$(flag_count UF)
s=$(status_of closed /closed)
uf1=$(flag_count UF)
if [ "$s" = 503 ] && [ "$uf1" -gt "$uf0" ]; then ok "closed upstream port: 503 with UF counted"; else
	not_ok "closed upstream port: 503 with UF counted (got $s, UF $uf0->$uf1)"
fi

ut0=$(flag_count UT)
t0=$(date +%s%N)
s=$(status_of slow '/t?delay=1000')
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
ut1=$(flag_count UT)
if [ "$s" = 504 ] && [ "$ut1" -gt "$ut0" ] && [ $ms -lt 900 ]; then
	ok "route timeout 200ms, backend 1000ms: 504 with UT counted ($ms ms)"
else
	not_ok "route timeout 200ms, backend 1000ms: 504 with UT counted (got $s after $ms ms, UT $ut0->$ut1)"
fi

# three bursts of 5 concurrent requests, 500 ms each, limit 1
uo0=$(flag_count UO)
n200s=""
n200=0 n503=0
for burst in 1 2 3; do
	cbs=""
	for k in 1 2 3 4 5; do
		$C -o /dev/null -w '%{http_code}\n' -H 'Host: breaker' "http://127.0.0.1:$out/cb?delay=500" >"$tmp/cb.$k" &
		cbs="$cbs $!"
	done
	wait $cbs || true
	b200=$(cat "$tmp"/cb.* | grep -c '^200$' || true)
	n200s="$n200s $b200"
	n200=$((n200 + b200))
	n503=$((n503 + $(cat "$tmp"/cb.* | grep -c '^503$' || true)))
done
uo1=$(flag_count UO)
if [ "$n503" -ge 1 ] && [ $((n200 + n503)) = 15 ] && [ $((uo1 - uo0)) = "$n503" ]; then
	ok "circuit breaker (http2MaxRequests 1, 5 concurrent, 3 times): $n503 of 15 answered 503 with UO"
else
	not_ok "circuit breaker (http2MaxRequests 1, 5 concurrent, 3 times): some 503 with UO (200: $n200, 503: $n503, UO $uo0->$uo1)"
fi
# Envoy's circuit breakers count per cluster, across all worker threads:
# with a limit of 1 only one of 5 concurrent requests can be in flight
if [ "$n200s" = " 1 1 1" ]; then ok "circuit breaker limit holds across workers: one 200 per burst of 5"; else
	not_ok "circuit breaker limit holds across workers: one 200 per burst of 5 (got$n200s with --concurrency 2)"
fi

# Istio's retry policy skips the hosts already tried (previous_hosts
# predicate), so with 2 retries one good endpoint of 2 (or of 3) is always
# reached; each request is checked, 20 of them
for svc in flaky flaky3; do
	r0=$(counter upstream_rq_retry)
	b0=$(cat "$tmp/bad.log" "$tmp/bad2.log" | grep -c '^request' || true)
	fails=""
	for k in $(seq 20); do
		s=$(status_of $svc "/retry$k")
		[ "$s" = 200 ] || fails="$fails $s"
	done
	r1=$(counter upstream_rq_retry)
	b1=$(cat "$tmp/bad.log" "$tmp/bad2.log" | grep -c '^request' || true)
	n=$([ $svc = flaky ] && echo "one endpoint of 2" || echo "two endpoints of 3")
	if [ -z "$fails" ] && [ $((b1 - b0)) -ge 1 ] && [ $((r1 - r0)) -ge $((b1 - b0)) ]; then
		ok "retries (attempts 2 on 5xx, $n answer 503): 20 of 20 succeed ($((b1 - b0)) retried)"
	else
		not_ok "retries (attempts 2 on 5xx, $n answer 503): failed:$fails; the 503 endpoints were hit $((b1 - b0)) times, retries $r0->$r1"
	fi
done

# --- clients and backends that go away mid-exchange: answered or cut,
# never a crash
$PROBE send "$out" "b'GET /hc?delay=200 HTTP/1.1\r\n${H}\r\n'" --shut-wr --timeout 3 >"$tmp/out"
why=$($PROBE expect "$tmp/out" --status 200 --closed 2>&1 || true)$(alive)
[ -z "$why" ] && ok "client half-closes after its request: answered 200, then closed" ||
	not_ok "client half-closes after its request: answered 200, then closed: $why"
dc0=$(flag_count DC)
$PROBE send "$out" "b'GET /gone?delay=500 HTTP/1.1\r\n${H}\r\n'" --abort-after 0.1 >/dev/null
wait_for 5 flag_above DC "$dc0" || true
dc1=$(flag_count DC)
why=$(alive)
[ -z "$why" ] && [ "$dc1" -gt "$dc0" ] && ok "client resets while the backend is slow: DC counted, proxy serves on" ||
	not_ok "client resets while the backend is slow: DC counted ($dc0->$dc1), proxy serves on $why"
$PROBE send "$out" "b'GET /big?size=8388608 HTTP/1.1\r\n${H}\r\n'" --abort-after 0.05 >/dev/null
sleep 0.3
why=$(alive)
[ -z "$why" ] && ok "client resets in the middle of an 8 MB response: proxy serves on" ||
	not_ok "client resets in the middle of an 8 MB response: proxy serves on: $why"
uc0=$(flag_count UC)
$PROBE send "$out" "b'GET /part HTTP/1.1\r\nHost: partial\r\n\r\n'" --timeout 3 >"$tmp/out"
uc1=$(flag_count UC)
why=$(alive)
if $PY -c '
import json,sys; d=json.load(open(sys.argv[1])); r=d["responses"]
sys.exit(0 if d["statuses"] == [200] and not r[0]["complete"] and d["closed"] else 1)' "$tmp/out" &&
	[ -z "$why" ] && [ "$uc1" -gt "$uc0" ]; then
	ok "backend resets in the middle of its body: the client connection is cut (UC counted)"
else
	not_ok "backend resets in the middle of its body: the client connection is cut (UC $uc0->$uc1) $why"
	sed 's/^/    | /' "$tmp/out" | cut -c1-400
fi

# a response is streamed: its head and first chunk reach the client while
# the backend is still producing the rest
$PROBE send "$out" "b'GET /stream HTTP/1.1\r\nHost: trickle\r\nConnection: close\r\n\r\n'" \
	--timeout 4 >"$tmp/out"
if $PY -c '
import json,sys; d=json.load(open(sys.argv[1])); r=d["responses"]
ok = d["statuses"] == [200] and r[0]["body"] == "first\nlast\n" and d["first_byte"] is not None and d["first_byte"] < 0.6
sys.exit(0 if ok else 1)' "$tmp/out"; then
	ok "a slow response is streamed: first bytes before the backend finishes"
else
	not_ok "a slow response is streamed: first bytes before the backend finishes (backend: head + 1st chunk at 0 s, the rest at 1 s)"
	$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print("first byte after", d["first_byte"], "s; statuses", d["statuses"], "raw", repr(d["raw"][:120]))' "$tmp/out" | sed 's/^/    | /'
fi

# --- a per-worker connection limit (a second proxy, one worker, 3 connections)
start_proxy "$tmp/proxy2.log" --config "$cfg" --concurrency 1 --max-connections 3 --drain-time 1s
out2=$out adm2=$adm
$PROBE maxconn "$out2" ratings 3 >"$tmp/maxconn.out" 2>&1 || true
if $PY -c '
import json,sys; d=json.load(open(sys.argv[1]))
sys.exit(0 if d["over_limit"] in ("eof", "ConnectionResetError") and d["held_connection"] == 200 and d["after_one_closed"] == 200 else 1)' "$tmp/maxconn.out"; then
	ok "--max-connections 3: the 4th connection is closed, the others and later ones are served"
else
	not_ok "--max-connections 3: the 4th connection is closed, the others and later ones are served"
	sed 's/^/    | /' "$tmp/maxconn.out"
fi
kill -TERM "$proxy" 2>/dev/null || true
wait "$proxy" 2>/dev/null || true
sanitizer_check "$tmp/proxy2.log"

# --- the first proxy survived everything and drains cleanly
out=$out1 adm=$adm1
[ "$(alive)" = "" ] && ok "proxy still serves at the end" || not_ok "proxy still serves at the end"
kill -TERM "$proxy1"
set +e
wait "$proxy1"
rc=$?
set -e
[ "$rc" = 0 ] && ok "proxy drained and exited 0" || { not_ok "proxy exit status $rc"; tail -5 "$tmp/proxy.log" | sed 's/^/    | /'; }
sanitizer_check "$tmp/proxy.log"

finish
