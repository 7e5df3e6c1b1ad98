#!/bin/sh
# meshproxy with real clients: curl through the outbound listener to echo
# backends, routing by the seed's RouteRules, local replies, faults, the
# admin endpoints, hot reload (valid and invalid) and drain on SIGTERM.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"

python3 "$(dirname "$0")/ws.py" server "$tmp/ws.port" >"$tmp/ws.log" 2>&1 &
pids="$pids $!"
python3 "$(dirname "$0")/hostlog.py" "$tmp/shadow.port" "$tmp/shadow.log" >/dev/null 2>&1 &
pids="$pids $!"
start_echo reviews-v1
v1=$port
start_echo reviews-v2
v2=$port
start_echo ratings
rt=$port

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
  endpoints: [{address: 127.0.0.1, ports: {http: $rt}, labels: {app: ratings}}]
YAML
wait_file "$tmp/ws.port"
ws=$(cat "$tmp/ws.port")
wait_file "$tmp/shadow.port"
shadow=$(cat "$tmp/shadow.port")
cat >"$cfg/chat.yaml" <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: chat}
spec:
  hosts: [chat.default.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: $ws}}]
YAML
cat >"$cfg/mirror.yaml" <<YAML
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
  - route: [{destination: {host: ratings}}]
    mirror: {host: shadow}
    mirrorPercentage: {value: 100}
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
YAML
cat >"$cfg/ratings.yaml" <<'YAML'
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
YAML

"$P" --config "$cfg" --outbound 0 --admin 0 --concurrency 2 --drain-time 3s \
	>"$tmp/proxy.log" 2>&1 &
proxy=$!
pids="$pids $proxy"
i=0
while ! grep -q "admin listener" "$tmp/proxy.log" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
out=$(sed -n 's/.*outbound listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/proxy.log")
adm=$(sed -n 's/.*admin listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/proxy.log")
[ -n "$out" ] && [ -n "$adm" ] || { echo "meshproxy did not start"; cat "$tmp/proxy.log"; exit 1; }
i=0
until curl -sf "http://127.0.0.1:$adm/ready" >/dev/null || [ $i -gt 100 ]; do sleep 0.05; i=$((i + 1)); done

C="curl -s --max-time 5"
expect_status "anonymous request reaches reviews v1" 0 sh -c "$C -H 'Host: reviews:9080' http://127.0.0.1:$out/reviews/1"
expect_output "served by v1" '"name":"reviews-v1"'
if grep -Eq '"x-request-id":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"' "$tmp/out"; then
	ok "the proxy adds an x-request-id (a version 4 UUID)"
else
	not_ok "the proxy adds an x-request-id (a version 4 UUID)"; head -c 600 "$tmp/out"
fi
expect_status "jason reaches reviews v2" 0 sh -c "$C -H 'Host: reviews' -H 'Cookie: user=jason' http://127.0.0.1:$out/reviews/1"
expect_output "served by v2" '"name":"reviews-v2"'
expect_status "20 keep-alive requests in one connection" 0 sh -c \
	"$C -H 'Host: reviews' $(for k in $(seq 20); do printf ' http://127.0.0.1:%s/r%s' "$out" "$k"; done) | grep -c reviews-v1"
expect_output "all twenty answered" "20"
expect_status "POST body goes through" 0 sh -c "$C -H 'Host: ratings' --data-binary 'hello body' 'http://127.0.0.1:$out/post?echo=1'"
expect_output "body echoed" "hello body"
head -c 300000 /dev/urandom >"$tmp/big"
expect_status "300 KB chunked upload" 0 sh -c "$C -H 'Host: ratings' -H 'Transfer-Encoding: chunked' --data-binary @$tmp/big 'http://127.0.0.1:$out/up?echo=1' | cmp - $tmp/big && echo same"
expect_output "upload echoed intact" "same"
expect_status "1 MB response" 0 sh -c "$C -H 'Host: ratings' 'http://127.0.0.1:$out/big?size=1048576' | wc -c"
expect_output "all bytes" "1048576"
expect_status "unknown host is 404 NR" 0 sh -c "$C -o /dev/null -w '%{http_code}' -H 'Host: nothing.example' http://127.0.0.1:$out/"
expect_output "404" "404"
expect_status "fault abort" 0 sh -c "$C -o /dev/null -w '%{http_code}' -H 'Host: ratings' http://127.0.0.1:$out/abort"
expect_output "418" "418"
expect_status "direct response" 0 sh -c "$C -w ' %{http_code}' -H 'Host: ratings' http://127.0.0.1:$out/direct"
expect_output "202 with body" "hello from the proxy 202"
expect_status "rewrite and header operations" 0 sh -c "$C -i -H 'Host: ratings' http://127.0.0.1:$out/v2/7"
expect_output "path rewritten" '"path":"/ratings/7"'
expect_output "request header set" '"x-rewritten":"yes"'
expect_output "response header added" "x-mesh: ratings"
expect_status "upstream status passes through" 0 sh -c "$C -o /dev/null -w '%{http_code}' -H 'Host: ratings' 'http://127.0.0.1:$out/s?status=503'"
expect_output "503" "503"

expect_status "WebSocket upgrade through the proxy" 0 python3 "$(dirname "$0")/ws.py" client "$out" chat "hello over websocket"
expect_output "text frame echoed, 200 KB binary frame intact" "echo: hello over websocket; binary intact"

expect_status "mirrored request answered by the main route" 0 sh -c "$C -H 'Host: mirrored.example.com' --data-binary 'copy me' 'http://127.0.0.1:$out/m?echo=1'"
expect_output "main answer" "copy me"
if wait_for 5 grep -q "POST mirrored.example.com-shadow /m?echo=1 7" "$tmp/shadow.log" 2>/dev/null; then
	ok "the mirror got a copy with the -shadow host and the body"
else
	not_ok "the mirror got a copy with the -shadow host and the body"; cat "$tmp/shadow.log" 2>/dev/null
fi

big40=$(head -c 40000 /dev/zero | tr '\0' a)
expect_status "a 40 KB header passes (head limit 60 KiB, as Envoy)" 0 sh -c "$C -o /dev/null -w '%{http_code}' -H 'Host: ratings' -H 'x-big: $big40' http://127.0.0.1:$out/"
expect_output "200" "200"
big70=$(head -c 70000 /dev/zero | tr '\0' a)
expect_status "a 70 KB header is refused" 0 sh -c "$C -o /dev/null -w '%{http_code}' -H 'Host: ratings' -H 'x-big: $big70' http://127.0.0.1:$out/"
expect_output "431" "431"

# smuggling shape: refused with 400 and the connection closed
expect_status "CL + TE refused" 0 sh -c "printf 'POST / HTTP/1.1\r\nHost: ratings\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' | $C --max-time 3 telnet://127.0.0.1:$out 2>/dev/null | head -1"
expect_output "400" "400"

# admin
expect_status "admin ready" 0 $C "http://127.0.0.1:$adm/ready"
expect_output "LIVE" "LIVE"
expect_status "admin stats" 0 $C "http://127.0.0.1:$adm/stats/prometheus"
expect_output "request counter" "meshproxy_downstream_rq_total"
expect_output "NR flag counted" 'meshproxy_response_flags_total{flag="NR"} 1'
expect_status "config dump" 0 $C "http://127.0.0.1:$adm/config_dump"
expect_output "resources listed" '"name":"reviews-test-v2"'

# hot reload: send everyone to v2
r0=$(reloads)
sed -i 's/version: v1}/version: v2}/' "$cfg/rules.yaml"
kill -HUP "$proxy"
wait_reload "$r0"
expect_status "after reload anonymous reaches v2" 0 sh -c "$C -H 'Host: reviews' http://127.0.0.1:$out/"
expect_output "served by v2" '"name":"reviews-v2"'
# an invalid file keeps the last good configuration
printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bad}\nspec: {hosts: [x], http: [{route: [{destination: {host: x}, weight: 50}, {destination: {host: y}, weight: 40}]}]}\n' | put "$cfg/bad.yaml"
r0=$(reloads)
kill -HUP "$proxy"
wait_reload "$r0"
expect_status "invalid config is refused, traffic unchanged" 0 sh -c "$C -H 'Host: reviews' http://127.0.0.1:$out/"
expect_output "still v2" '"name":"reviews-v2"'
if grep -q "refused, keeping configuration" "$tmp/proxy.log"; then ok "refusal logged"; else not_ok "refusal logged"; fi

# drain: SIGTERM, a slow request in flight still completes, exit 0
$C -H 'Host: ratings' "http://127.0.0.1:$out/slow?delay=500" >"$tmp/slow.out" &
slow=$!
sleep 0.1
kill -TERM "$proxy"
wait $slow || true
if grep -q '"name":"ratings"' "$tmp/slow.out"; then ok "in-flight request finished during drain"; else not_ok "in-flight request finished during drain"; cat "$tmp/slow.out"; fi
set +e
wait "$proxy"
rc=$?
set -e
if [ "$rc" = 0 ]; then ok "drained and exited 0"; else not_ok "drain exit status $rc"; tail -5 "$tmp/proxy.log"; fi

finish
