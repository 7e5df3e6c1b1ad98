#!/bin/sh
# meshproxy with HTTP/2 and gRPC (issue 4 points 2, 7 and 8), with real
# clients:
#  - curl --http2-prior-knowledge (one URL per call: Debian's curl 7.88
#    cannot reuse an h2c prior-knowledge connection), nghttp (several
#    streams on one connection, uploads), h2load (2000 requests, 4
#    connections, 10 streams each), through the outbound, upstream and
#    inbound listeners;
#  - routing and actions over HTTP/2 (RouteRule cookie -> v2, fault abort,
#    direct response, rewrite and header operations), trailers both ways,
#    1 MB bodies both ways, to HTTP/1.1 and to HTTP/2 upstreams;
#  - gRPC: a @grpc/grpc-js client and server (node; the packages are
#    installed once into the build dir with npm): unary, server streaming,
#    an error status passed through, a deadline; local replies as gRPC
#    errors; grpc-timeout enforced by the proxy;
#  - limits and floods from a raw-frame client (h2raw.py): rapid reset,
#    PING, SETTINGS, empty DATA / CONTINUATION frames (each cut off with
#    GOAWAY ENHANCE_YOUR_CALM, the proxy serving new connections after),
#    too many concurrent streams (REFUSED_STREAM; GOAWAY once the client
#    acknowledged the limit), a header list over the limit (431);
#  - a drain: GOAWAY to an HTTP/2 client, its stream in flight finishes.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"
H2RAW="$PY $(dirname "$0")/h2raw.py"
GRPC_DIR=$(cd "$(dirname "$0")/../grpc" && pwd)

start_echo reviews-v1 && v1=$port
start_echo reviews-v2 && v2=$port
start_echo ratings && rt=$port
start_echo h2app && h2app=$port
start_raw partial partial && part=$port
closed_port && closed=$port
$PY "$(dirname "$0")/hostlog.py" "$tmp/shadow.port" "$tmp/shadow.log" >/dev/null 2>&1 &
pids="$pids $!"
wait_file "$tmp/shadow.port" || { echo "hostlog did not start"; exit 1; }
shadow=$(cat "$tmp/shadow.port")

# the gRPC server in node, when node and the npm packages are there
NODE_MODULES=""
grpc_skip=""
if command -v node >/dev/null && command -v npm >/dev/null; then
	cache="${MESH_BUILD_DIR:-$tmp}/grpc-node"
	if [ ! -d "$cache/node_modules/@grpc/grpc-js" ] ||
		[ ! -d "$cache/node_modules/@grpc/proto-loader" ]; then
		mkdir -p "$cache"
		npm install --no-audit --no-fund --prefix "$cache" @grpc/grpc-js @grpc/proto-loader \
			>"$tmp/npm.log" 2>&1 || true
	fi
	if [ -d "$cache/node_modules/@grpc/grpc-js" ] && [ -d "$cache/node_modules/@grpc/proto-loader" ]; then
		NODE_MODULES="$cache/node_modules"
	else
		grpc_skip="npm could not install @grpc/grpc-js and @grpc/proto-loader (see npm's log below)"
		sed 's/^/    | /' "$tmp/npm.log" | tail -5
	fi
else
	grpc_skip="node or npm is not installed (./dev installs them: Debian packages nodejs and npm)"
fi
if [ -z "$grpc_skip" ]; then
	NODE_PATH="$NODE_MODULES" node "$GRPC_DIR/server.js" "$tmp/greeter.port" >"$tmp/greeter.log" 2>&1 &
	pids="$pids $!"
	# the same with SETTINGS_MAX_CONCURRENT_STREAMS 2
	NODE_PATH="$NODE_MODULES" node "$GRPC_DIR/server.js" "$tmp/greeter2.port" 2 >"$tmp/greeter2.log" 2>&1 &
	pids="$pids $!"
	wait_file "$tmp/greeter.port" || { echo "the node gRPC server did not start"; cat "$tmp/greeter.log"; exit 1; }
	wait_file "$tmp/greeter2.port" || { echo "the node gRPC server did not start"; cat "$tmp/greeter2.log"; exit 1; }
	greeter=$(cat "$tmp/greeter.port")
	greeter2=$(cat "$tmp/greeter2.port")
else
	greeter=$(free_port)
	greeter2=$(free_port)
fi

cfg="$tmp/config"
mkdir -p "$cfg"
cat >"$cfg/services.yaml" <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1}
spec:
  address: 127.0.0.1
  ports: {http: $v1}
  labels: {app: reviews, version: v1}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v2}
spec:
  address: 127.0.0.1
  ports: {http: $v2}
  labels: {app: reviews, version: v2}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratings}
spec:
  hosts: [ratings.default.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: $rt}}]
---
# the same echo backend, as an HTTP/2 port: the proxy speaks h2c to it
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo2}
spec:
  hosts: [echo2.default.svc.cluster.local]
  ports: [{number: 9080, name: http2, protocol: HTTP2}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http2: $rt}}]
---
# one endpoint refuses connections: retried on the other
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: flaky2}
spec:
  hosts: [flaky2.default.svc.cluster.local]
  ports: [{number: 9080, name: http2, protocol: HTTP2}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http2: $closed}}, {address: 127.0.0.1, ports: {http2: $rt}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partial}
spec:
  hosts: [partial.default.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: $part}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: shadow}
spec:
  hosts: [shadow.default.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: $shadow}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mirrored}
spec:
  hosts: [mirrored.example.com]
  http:
  - route: [{destination: {host: echo2}}]
    mirror: {host: shadow}
    mirrorPercentage: {value: 100}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: greeter}
spec:
  hosts: [greeter.default.svc.cluster.local]
  ports: [{number: 50051, name: grpc, protocol: GRPC}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {grpc: $greeter}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: greeter2}
spec:
  hosts: [greeter2.default.svc.cluster.local]
  ports: [{number: 50051, name: grpc, protocol: GRPC}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {grpc: $greeter2}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: grpcecho}
spec:
  hosts: [grpcecho.default.svc.cluster.local]
  ports: [{number: 9080, name: grpc, protocol: GRPC}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {grpc: $rt}}]
YAML
cat >"$cfg/rules.yaml" <<'YAML'
apiVersion: config.istio.io/v1alpha2
kind: RouteRule
metadata: {name: reviews-default}
spec:
  destination: {name: reviews}
  precedence: 1
  route: [{labels: {version: v1}}]
---
apiVersion: config.istio.io/v1alpha2
kind: RouteRule
metadata: {name: reviews-test-v2}
spec:
  destination: {name: reviews}
  precedence: 2
  match:
    request:
      headers:
        cookie: {regex: "^(.*?;)?(user=jason)(;.*)?$"}
  route: [{labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {prefix: /abort}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: ratings}}]
  - match: [{uri: {exact: /direct}}]
    directResponse: {status: 202, body: {string: "hello from the proxy"}}
  - match: [{uri: {prefix: /v2/}}]
    rewrite: {uri: /ratings/}
    headers:
      request: {set: {x-rewritten: "yes"}}
      response: {add: {x-mesh: "ratings"}}
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: ratings}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpcecho}
spec:
  hosts: [grpcecho]
  http:
  - match: [{uri: {prefix: /meshtest.Aborted/}}]
    fault: {abort: {grpcStatus: UNAUTHENTICATED, percentage: {value: 100}}}
    route: [{destination: {host: grpcecho}}]
  - match: [{uri: {prefix: /slow/}}]
    timeout: 300ms
    route: [{destination: {host: grpcecho}}]
  - route: [{destination: {host: grpcecho}}]
YAML

start_proxy "$tmp/proxy.log" --config "$cfg" --concurrency 2 --drain-time 3s \
	--upstream ratings:9080=0 --inbound 0:$h2app
upstream=$(sed -n 's/.*upstream listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/proxy.log")
inbound=$(sed -n 's/.*inbound listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/proxy.log")
C="curl -s --max-time 10 --http2-prior-knowledge"
U="http://127.0.0.1:$out"

# alive: a new HTTP/2 connection is served -> "" when answered 200
alive() {
	code=$($C -o /dev/null -w '%{http_code}' -H 'Host: ratings' "$U/alive" || true)
	[ "$code" = 200 ] || echo "a new HTTP/2 connection afterwards got '$code'"
}

# --- curl, one URL per call
expect_status "h2c: anonymous request reaches reviews v1" 0 sh -c "$C -w 'version=%{http_version}' -H 'Host: reviews:9080' $U/reviews/1"
expect_output "served by v1" '"name":"reviews-v1"'
expect_output "over HTTP/2" 'version=2'
expect_status "h2c: jason's cookie reaches reviews v2 (RouteRule)" 0 sh -c "$C -H 'Host: reviews' -H 'Cookie: user=jason' $U/reviews/1"
expect_output "served by v2" '"name":"reviews-v2"'
expect_status "h2c: two cookie fields are joined for the match" 0 sh -c "nghttp -H ':authority: reviews' -H 'cookie: a=1' -H 'cookie: user=jason' $U/reviews/2"
expect_output "served by v2, one cookie upstream" '"cookie":"a=1; user=jason"'
expect_status "h2c: fault abort" 0 sh -c "$C -o /dev/null -w '%{http_code}' -H 'Host: ratings' $U/abort"
expect_output "418" "418"
expect_status "h2c: direct response" 0 sh -c "$C -w ' %{http_code}' -H 'Host: ratings' $U/direct"
expect_output "202 with body" "hello from the proxy 202"
expect_status "h2c: rewrite and header operations" 0 sh -c "$C -i -H 'Host: ratings' $U/v2/7"
expect_output "path rewritten" '"path":"/ratings/7"'
expect_output "request header set" '"x-rewritten":"yes"'
expect_output "response header added" "x-mesh: ratings"
expect_status "h2c: unknown host is 404" 0 sh -c "$C -o /dev/null -w '%{http_code}' -H 'Host: nothing.example' $U/"
expect_output "404" "404"
expect_status "h2c: upstream status passes through" 0 sh -c "$C -o /dev/null -w '%{http_code}' -H 'Host: ratings' '$U/s?status=503'"
expect_output "503" "503"
expect_status "HTTP/1.1 with Upgrade: h2c (curl --http2): ignored, answered over HTTP/1.1" 0 sh -c "curl -s --max-time 5 --http2 -w 'version=%{http_version}' -H 'Host: reviews' $U/u1 $U/u2"
expect_output "served (RouteRule routes allow no upgrade)" '"name":"reviews-v1"'
expect_output "HTTP/1.1, the connection kept for the second URL" '"path":"/u2"'
expect_status "h2c: HEAD" 0 sh -c "$C -I -H 'Host: ratings' $U/head"
expect_output "200, no body" "HTTP/2 200"

head -c 1048576 /dev/urandom >"$tmp/big"
for svc in ratings echo2; do
	kind=$([ $svc = ratings ] && echo "HTTP/1.1 upstream" || echo "HTTP/2 upstream")
	expect_status "h2c, $kind: 1 MB response" 0 sh -c "$C -H 'Host: $svc' '$U/big?size=1048576' | wc -c"
	expect_output "all bytes" "1048576"
	expect_status "h2c, $kind: 1 MB upload echoed" 0 sh -c "$C -H 'Host: $svc' --data-binary @$tmp/big '$U/up?echo=1' | cmp - $tmp/big && echo same"
	expect_output "intact" "same"
	expect_status "h2c, $kind: response trailers" 0 sh -c "nghttp -v -H ':authority: $svc' '$U/t?trailers=1'"
	expect_output "trailer field forwarded" "x-echo-trailer: done"
done
expect_status "h2c -> HTTP/2 upstream: the backend saw HTTP/2" 0 sh -c "$C -H 'Host: echo2' $U/proto"
expect_output "HTTP/2 upstream" '"protocol":"HTTP/2"'
printf '\000\000\000\000\005hello' >"$tmp/grpcmsg"
expect_status "HTTP/1.1 gRPC client -> HTTP/2 upstream: chunked response" 0 sh -c "curl -s --max-time 5 --raw -H 'Host: grpcecho' -H 'content-type: application/grpc' --data-binary @$tmp/grpcmsg '$U/meshtest.Echo/Say' | od -c"
expect_output "grpc-status in the trailers of the last chunk" "0  \\r  \\n   g   r   p   c   -   s   t   a   t   u   s"

# --- failures
r0=$(counter upstream_rq_retry)
fails=""
for k in $(seq 10); do
	code=$($C -o /dev/null -w '%{http_code}' -H 'Host: flaky2' "$U/retry$k" || true)
	[ "$code" = 200 ] || fails="$fails $code"
done
r1=$(counter upstream_rq_retry)
[ -z "$fails" ] && [ "$r1" -gt "$r0" ] && ok "HTTP/2 upstream, one endpoint refusing connections: 10 of 10 served ($((r1 - r0)) retried)" ||
	not_ok "HTTP/2 upstream, one endpoint refusing connections: 10 of 10 served (failed:$fails; retries $r0->$r1)"
uc0=$(flag_count UC)
nghttp -v -H ':authority: partial' "$U/part" -H ':authority: partial' "$U/part" >"$tmp/out" 2>&1 || true
uc1=$(flag_count UC)
if grep -q 'recv RST_STREAM' "$tmp/out" && [ "$uc1" -gt "$uc0" ] && [ -z "$(alive)" ]; then
	ok "backend resets in the middle of its body: the client's stream is reset (UC), the connection and proxy go on"
else
	not_ok "backend resets in the middle of its body: the client's stream is reset (UC $uc0->$uc1)"
	grep -aE 'RST|GOAWAY|:status' "$tmp/out" | head | sed 's/^/    | /'
fi
expect_status "h2c: mirrored request answered by the main route" 0 sh -c "$C -H 'Host: mirrored.example.com' --data-binary 'copy me' '$U/m?echo=1'"
expect_output "main answer" "copy me"
if wait_for 5 grep -q "POST mirrored.example.com-shadow /m?echo=1 7" "$tmp/shadow.log" 2>/dev/null; then
	ok "the mirror got an HTTP/1.1 copy with the -shadow host and the body"
else
	not_ok "the mirror got an HTTP/1.1 copy with the -shadow host and the body"; cat "$tmp/shadow.log" 2>/dev/null
fi

# --- nghttp: several streams on one connection, uploads
expect_status "nghttp: three streams on one connection" 0 sh -c "nghttp -n -v -H ':authority: ratings' $U/a '$U/b?delay=100' $U/c"
n=$(grep -c 'recv HEADERS frame' "$tmp/out" || true)
if [ "$n" = 3 ] && [ "$(grep -c 'send HEADERS frame' "$tmp/out")" = 3 ] && grep -q 'stream_id=17' "$tmp/out"; then
	ok "three request and three response HEADERS on streams 13, 15, 17"
else
	not_ok "three request and three response HEADERS on streams 13, 15, 17 (got $n responses)"
	grep -E 'frame|:status' "$tmp/out" | head -20 | sed 's/^/    | /'
fi
expect_output "status 200" ":status: 200"
expect_status "nghttp: upload with -d" 0 sh -c "nghttp -d $tmp/big -H ':authority: ratings' $U/upload"
expect_output "1 MB arrived upstream" '"body_bytes":1048576'
head -c 200000 /dev/urandom >"$tmp/req"
expect_status "nghttp: request trailers reach an HTTP/2 upstream" 0 sh -c "nghttp -v --trailer 'x-req-trailer: yes' -d $tmp/req -H ':authority: echo2' '$U/rt?echo=1' | grep -c 'send HEADERS frame'"
expect_output "HEADERS sent twice (head, trailers)" "2"

# --- h2load: all succeed, in bounded time
for svc in ratings echo2; do
	expect_status "h2load -n 2000 -c 4 -m 10 ($svc)" 0 timeout 60 h2load -n 2000 -c 4 -m 10 -H ":authority: $svc" "$U/load"
	expect_output "2000 succeeded" "2000 succeeded, 0 failed, 0 errored"
done

# --- the other listeners
expect_status "h2c on an --upstream listener" 0 sh -c "$C http://127.0.0.1:$upstream/u"
expect_output "routed to ratings" '"name":"ratings"'
expect_status "h2c on an --inbound listener: the app gets HTTP/2 (the client's protocol)" 0 sh -c "$C http://127.0.0.1:$inbound/in"
expect_output "app saw HTTP/2" '"protocol":"HTTP/2"'
expect_status "HTTP/1.1 on the same inbound port: the app gets HTTP/1.1" 0 sh -c "curl -s --max-time 5 http://127.0.0.1:$inbound/in"
expect_output "app saw HTTP/1.1" '"protocol":"HTTP/1.1"'

# --- gRPC: local replies and deadlines as the proxy answers them
grpc_call() { # AUTHORITY PATH [extra nghttp args]
	a=$1 p=$2
	shift 2
	nghttp -v -d "$tmp/grpcmsg" -H ":authority: $a" -H 'content-type: application/grpc' \
		-H 'te: trailers' "$@" "$U$p" 2>&1 | grep -a -E 'recv \(stream|:status|grpc-' || true
}
grpc_call nothing.example /meshtest.Echo/Say >"$tmp/out"
expect_output "gRPC, no route: 200 with grpc-status 12 UNIMPLEMENTED" "grpc-status: 12"
grpc_call grpcecho /meshtest.Aborted/Say >"$tmp/out"
expect_output "gRPC fault abort with grpcStatus UNAUTHENTICATED: grpc-status 16" "grpc-status: 16"
grpc_call grpcecho '/meshtest.Echo/Say' -H 'x-echo-grpc-status: 9' >"$tmp/out"
expect_output "gRPC status from the upstream's trailers passes through" "grpc-status: 9"
ut0=$(flag_count UT)
t0=$(date +%s%N)
grpc_call grpcecho '/meshtest.Echo/Say?delay=2000' -H 'grpc-timeout: 200m' >"$tmp/out"
ms=$((($(date +%s%N) - t0) / 1000000))
ut1=$(flag_count UT)
if grep -q "grpc-status: 4" "$tmp/out" && [ $ms -lt 1500 ] && [ "$ut1" -gt "$ut0" ]; then
	ok "grpc-timeout 200m, backend 2 s: the proxy answers DEADLINE_EXCEEDED ($ms ms, UT counted)"
else
	not_ok "grpc-timeout 200m, backend 2 s: the proxy answers DEADLINE_EXCEEDED (got after $ms ms, UT $ut0->$ut1)"
	sed 's/^/    | /' "$tmp/out"
fi
t0=$(date +%s%N)
grpc_call grpcecho '/slow/Say?delay=2000' -H 'grpc-timeout: 5S' >"$tmp/out"
ms=$((($(date +%s%N) - t0) / 1000000))
if grep -q "grpc-status: 4" "$tmp/out" && [ $ms -lt 1500 ]; then
	ok "route timeout 300 ms shorter than grpc-timeout 5 s: the route's wins ($ms ms)"
else
	not_ok "route timeout 300 ms shorter than grpc-timeout 5 s: the route's wins (after $ms ms)"
	sed 's/^/    | /' "$tmp/out"
fi

# --- gRPC with a real client and server (@grpc/grpc-js)
if [ -n "$grpc_skip" ]; then
	echo "# SKIP gRPC client/server cases: $grpc_skip"
else
	G="env NODE_PATH=$NODE_MODULES node $GRPC_DIR/client.js 127.0.0.1:$out greeter"
	expect_status "gRPC unary call through the proxy" 0 $G say hello
	expect_output "answered, trailing metadata passed" '{"code":0,"message":"echo: hello","served_by":"node"}'
	expect_status "gRPC server streaming through the proxy" 0 $G count 5 20
	expect_output "five messages in order" '"seqs":[0,1,2,3,4]'
	expect_status "gRPC error status passed through" 0 $G say bad 7
	expect_output "PERMISSION_DENIED with its message" '{"code":7,"details":"failed as asked: bad","served_by":"node"}'
	expect_status "gRPC deadline (300 ms, server takes 2 s)" 0 $G say slow 0 2000 300
	expect_output "DEADLINE_EXCEEDED" '"code":4'
	# the server allows 2 streams at a time: as Envoy, the proxy opens more
	# connections to it rather than queueing the calls
	c0=$(counter upstream_cx_http2_total)
	expect_status "gRPC: 10 calls at once to a server that takes 2 streams at a time" 0 \
		env NODE_PATH="$NODE_MODULES" node "$GRPC_DIR/client.js" "127.0.0.1:$out" greeter2 many 10 200
	c1=$(counter upstream_cx_http2_total)
	if $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["codes"] == {"0": 10} else 1)' "$tmp/out" &&
		[ $((c1 - c0)) -ge 3 ]; then
		ok "all 10 answered, over $((c1 - c0)) connections (2 streams each) ($(cat "$tmp/out"))"
	else
		not_ok "all 10 answered over further connections: $(cat "$tmp/out"), $((c1 - c0)) new connections"
	fi
	expect_status "gRPC to an unknown service: UNIMPLEMENTED from the proxy" 0 \
		env NODE_PATH="$NODE_MODULES" node "$GRPC_DIR/client.js" "127.0.0.1:$out" nothing.example say x
	expect_output "code 12" '"code":12'
fi

# --- floods: GOAWAY ENHANCE_YOUR_CALM (error code 11), then a new
# connection is served
flood() { # WHAT COUNTER MODE ARGS...
	what=$1 ctr=$2
	shift 2
	c0=$(counter "$ctr")
	$H2RAW "$@" "$out" --authority ratings >"$tmp/flood.out" 2>&1 || true
	c1=$(counter "$ctr")
	why=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); g=d["goaway"]
print("" if g and g[0] == 11 else "no GOAWAY ENHANCE_YOUR_CALM: %s" % d)' "$tmp/flood.out" 2>&1)
	why="$why$(alive)"
	[ "$c1" -gt "$c0" ] || why="$why (counter $ctr $c0->$c1)"
	if [ -z "$why" ]; then ok "$what: GOAWAY, counted, proxy serves on"; else not_ok "$what: $why"; fi
}
flood "rapid reset (300 requests each reset at once)" http2_reset_flood rapid-reset --path '/r?delay=2000' --count 300
flood "PING flood (1000 frames)" http2_control_flood ping --count 1000
flood "SETTINGS flood (500 frames)" http2_control_flood settings --count 500
flood "empty DATA frames" http2_empty_frames_flood empty-data --path /e --count 10
flood "empty HEADERS and CONTINUATION frames" http2_empty_frames_flood empty-headers --count 10

# too many concurrent streams: 101 open streams against the limit of 100
r0=$(counter http2_refused_stream)
$H2RAW streams "$out" --authority ratings --path /open --count 101 --timeout 2 >"$tmp/out" 2>&1 || true
r1=$(counter http2_refused_stream)
why=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1]))
print("" if d["max_concurrent_streams"] == 100 and d["rst"].get("7") == 1 and not d["goaway"] else "got %s" % d)' "$tmp/out" 2>&1)$(alive)
[ "$r1" -gt "$r0" ] || why="$why (http2_refused_stream $r0->$r1)"
[ -z "$why" ] && ok "101 streams, limit 100 (SETTINGS not yet acknowledged): the 101st gets REFUSED_STREAM" ||
	not_ok "101 streams, limit 100: the 101st gets REFUSED_STREAM: $why"
$H2RAW streams "$out" --authority ratings --path /open --count 101 --ack --timeout 2 >"$tmp/out" 2>&1 || true
why=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1]))
print("" if d["goaway"] and d["goaway"][0] == 1 else "got %s" % d)' "$tmp/out" 2>&1)$(alive)
[ -z "$why" ] && ok "101 streams after acknowledging the limit: GOAWAY PROTOCOL_ERROR" ||
	not_ok "101 streams after acknowledging the limit: GOAWAY PROTOCOL_ERROR: $why"

# the limit is --max-concurrent-streams (a second proxy, limit 5)
main_proxy=$proxy main_out=$out main_adm=$adm
start_proxy "$tmp/proxy2.log" --config "$cfg" --concurrency 1 --max-concurrent-streams 5 --drain-time 1s
$H2RAW streams "$out" --authority ratings --path /open --count 6 --timeout 2 >"$tmp/out" 2>&1 || true
if $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["max_concurrent_streams"] == 5 and d["rst"].get("7") == 1 else 1)' "$tmp/out"; then
	ok "--max-concurrent-streams 5: advertised, the 6th stream refused"
else
	not_ok "--max-concurrent-streams 5: advertised, the 6th stream refused: $(cat "$tmp/out")"
fi
kill -TERM "$proxy" 2>/dev/null || true
wait "$proxy" 2>/dev/null || true
sanitizer_check "$tmp/proxy2.log"
proxy=$main_proxy out=$main_out adm=$main_adm

# a header list over the 60 KiB head limit: 431 (and counted); 62 fields
# of 1000 bytes (one 70 KB field would exceed HPACK's own field limit)
o0=$(counter http2_header_overflow)
$PY -c 'for i in range(62): print("x-h%d: %s" % (i, "a" * 1000))' >"$tmp/hdrs"
expect_status "h2c: a 62 KB header list is refused" 0 sh -c "$C -o /dev/null -w '%{http_code}' -H 'Host: ratings' -H @$tmp/hdrs $U/"
expect_output "431" "431"
o1=$(counter http2_header_overflow)
[ "$o1" -gt "$o0" ] && ok "header overflow counted" || not_ok "header overflow counted ($o0->$o1)"
big40=$(head -c 40000 /dev/zero | tr '\0' a)
expect_status "h2c: a 40 KB header passes" 0 sh -c "$C -o /dev/null -w '%{http_code}' -H 'Host: ratings' -H 'x-big: $big40' $U/"
expect_output "200" "200"

# --- counters
n=$(counter downstream_cx_http2_total)
[ "${n:-0}" -gt 10 ] && ok "downstream_cx_http2_total counts HTTP/2 clients ($n)" || not_ok "downstream_cx_http2_total ($n)"
n=$(counter upstream_cx_http2_total)
[ "${n:-0}" -ge 1 ] && ok "upstream_cx_http2_total counts HTTP/2 upstream connections ($n)" || not_ok "upstream_cx_http2_total ($n)"

# --- drain: the HTTP/2 client gets GOAWAY, its stream in flight finishes
nghttp -v -H ':authority: ratings' "$U/slow?delay=700" >"$tmp/slow.out" 2>&1 &
slow=$!
sleep 0.2
kill -TERM "$proxy"
wait $slow || true
if grep -q '"name":"ratings"' "$tmp/slow.out" && grep -q 'recv GOAWAY' "$tmp/slow.out"; then
	ok "drain: GOAWAY to the HTTP/2 client, the stream in flight finished"
else
	not_ok "drain: GOAWAY to the HTTP/2 client, the stream in flight finished"
	grep -aE 'GOAWAY|:status|name' "$tmp/slow.out" | head | sed 's/^/    | /'
fi
set +e
wait "$proxy"
rc=$?
set -e
[ "$rc" = 0 ] && ok "drained and exited 0" || { not_ok "drain exit status $rc"; tail -5 "$tmp/proxy.log" | sed 's/^/    | /'; }
sanitizer_check "$tmp/proxy.log"

# --- a server that takes 4 streams per connection: more connections open
"$E" --h2c --max-streams 4 --listen 127.0.0.1:0 --name narrow --port-file "$tmp/narrow.port" \
	>"$tmp/narrow.log" 2>&1 &
pids="$pids $!"
wait_file "$tmp/narrow.port"
mkdir -p "$tmp/ncfg"
printf 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: narrow}\nspec:\n  hosts: [narrow.default.svc.cluster.local]\n  ports: [{number: 80, name: http2, protocol: HTTP2}]\n  location: MESH_INTERNAL\n  resolution: STATIC\n  endpoints: [{address: 127.0.0.1, ports: {http2: %s}}]\n' \
	"$(cat "$tmp/narrow.port")" >"$tmp/ncfg/se.yaml"
start_proxy "$tmp/proxy2.log" --config "$tmp/ncfg" --concurrency 1
expect_status "h2load -m 20 to a server allowing 4 streams per connection" 0 timeout 60 \
	h2load -n 400 -c 1 -m 20 -H ":authority: narrow" "http://127.0.0.1:$out/narrow?delay=20"
expect_output "400 succeeded" "400 succeeded, 0 failed, 0 errored"
n=$(counter upstream_cx_http2_total)
[ "${n:-0}" -ge 4 ] && ok "the proxy opened more HTTP/2 connections to that endpoint ($n), as Envoy does" ||
	not_ok "further HTTP/2 connections at the server's stream limit ($n)"
sanitizer_check "$tmp/proxy2.log"

# --- the same server with maxConnections 2: two connections, the other
# streams queued on them (nghttp2 holds them until a stream ends)
mkdir -p "$tmp/ncfg3"
cp "$tmp/ncfg/se.yaml" "$tmp/ncfg3/"
printf 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: narrow}\nspec:\n  host: narrow.default.svc.cluster.local\n  trafficPolicy: {connectionPool: {tcp: {maxConnections: 2}}}\n' \
	>"$tmp/ncfg3/dr.yaml"
kill "$proxy"
start_proxy "$tmp/proxy3.log" --config "$tmp/ncfg3" --concurrency 1
expect_status "h2load -m 20 with maxConnections 2 (4 streams each)" 0 timeout 60 \
	h2load -n 200 -c 1 -m 20 -H ":authority: narrow" "http://127.0.0.1:$out/narrow?delay=20"
expect_output "200 succeeded" "200 succeeded, 0 failed, 0 errored"
n=$(counter upstream_cx_http2_total)
[ "${n:-0}" = 2 ] && ok "maxConnections holds HTTP/2 upstream connections to 2" ||
	not_ok "HTTP/2 connections under maxConnections 2 ($n)"
sanitizer_check "$tmp/proxy3.log"

finish
