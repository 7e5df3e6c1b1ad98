#!/bin/sh
# meshproxy hot reload and drain under steady load (issue 4, point 5).
# Four keep-alive clients (h1probe.py load, python3 http.client) send
# requests while the route is switched 20 times between subsets v1 and v2
# (file replaced by rename; half the steps signal SIGHUP, the other half
# leave it to the config-dir poller): no request may fail, every answer is 200 from v1 or
# v2, and the last config decides the routing. Then SIGTERM under the same
# load: in-flight requests complete with 200, clients see nothing worse
# than a refused new connection, and the proxy exits 0 within --drain-time.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"

start_echo v1 && v1=$port
start_echo v2 && v2=$port

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
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
YAML
# route_to SUBSET: replace the route file in one rename (never half-written)
route_to() {
	cat >"$tmp/route.yaml.new" <<YAML
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: $1}}]}]
YAML
	mv -f "$tmp/route.yaml.new" "$cfg/route.yaml"
}
route_to v1

DRAIN=4
start_proxy "$tmp/proxy.log" --config "$cfg" --concurrency 2 --drain-time ${DRAIN}s
C="curl -s --max-time 5"

# served_by: the backend that answers a request now
served_by() {
	$C -D - -o /dev/null -H 'Host: reviews' "http://127.0.0.1:$out/who" |
		sed -n 's/^x-echo-name: *\([^[:space:]]*\).*/\1/Ip'
}
# wait_route SUBSET SECONDS: until new requests reach SUBSET
wait_route() {
	k=0
	while [ "$(served_by)" != "$1" ] && [ $k -lt $(($2 * 20)) ]; do sleep 0.05; k=$((k + 1)); done
	[ "$(served_by)" = "$1" ]
}

if wait_route v1 5; then ok "initial route: v1"; else not_ok "initial route: v1 (got '$(served_by)')"; fi

# --- 20 reloads under load
rm -f "$tmp/stop"
$PROBE load "$out" reviews /load --threads 4 --max-requests 2500 --pause 0.005 \
	--stop-file "$tmp/stop" >"$tmp/load1.json" 2>"$tmp/load1.err" &
load=$!
# and one client opening a new connection per request
$PROBE load "$out" reviews /fresh --threads 1 --max-requests 2500 --pause 0.01 --fresh \
	--stop-file "$tmp/stop" >"$tmp/load1f.json" 2>"$tmp/load1f.err" &
loadf=$!
sleep 0.3
steps_ok=0
subset=v1
for step in $(seq 20); do
	[ $subset = v1 ] && subset=v2 || subset=v1
	route_to $subset
	# steps 1, 2, 5, 6, ...: SIGHUP; 3, 4, 7, 8, ...: the poller alone
	# (each way switches to both subsets)
	if [ $(((step - 1) / 2 % 2)) = 0 ]; then
		kill -HUP "$proxy"
		how=SIGHUP
	else
		how=poller # polls every second
	fi
	if wait_route $subset 4; then steps_ok=$((steps_ok + 1)); else
		echo "    | step $step ($how): still served by $(served_by) after 4 s"
	fi
	sleep 0.2
done
touch "$tmp/stop"
wait $load $loadf || true
if [ $steps_ok = 20 ]; then ok "20 reloads applied (10 by SIGHUP, 10 by the poller alone)"; else
	not_ok "20 reloads applied: only $steps_ok"
fi
loaded=$(grep -c 'configuration [0-9]* loaded' "$tmp/proxy.log" || true)
refused=$(grep -c 'refused, keeping' "$tmp/proxy.log" || true)
if [ "$refused" = 0 ]; then ok "no reload refused ($loaded configurations loaded)"; else
	not_ok "$refused reloads refused"
	grep -A3 'refused, keeping' "$tmp/proxy.log" | head -10 | sed 's/^/    | /'
fi
# zero failed requests: all answered 200 by v1 or v2, no connection error
for f in load1 load1f; do
	[ $f = load1 ] && what="4 keep-alive clients" || what="a client with a new connection per request"
	if $PY -c '
import json,sys; d=json.load(open(sys.argv[1]))
good = d["status"].get("200", 0) == d["requests"] == d["ok"] and not d["errors"] and d["refused_new"] == 0
good = good and set(d["backend"]) <= {"v1", "v2"} and d["requests"] >= 100
sys.exit(0 if good else 1)' "$tmp/$f.json"; then
		ok "zero failed requests across the reloads, $what ($($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["requests"], "requests on", d["connections"], "connections, by backend", d["backend"])' "$tmp/$f.json"))"
	else
		not_ok "zero failed requests across the reloads, $what"
		sed 's/^/    | /' "$tmp/$f.json" "$tmp/$f.err" | cut -c1-1500
	fi
done
# the last config decides: step 20 routed to v1
n=0
for k in $(seq 10); do [ "$(served_by)" = "$subset" ] && n=$((n + 1)); done
if [ $n = 10 ]; then ok "final routing matches the last config ($subset, 10 of 10)"; else
	not_ok "final routing matches the last config ($subset): $n of 10"
fi

# --- pooled upstream connections across reloads: those of a cluster the
# new configuration still has stay (as Envoy keeps unchanged clusters'
# pools); those of a cluster it no longer has are closed
# conns_to PORT -> established connections to 127.0.0.1:PORT now
conns_to() { ss -Htn state established "( dport = :$1 )" dst 127.0.0.1 | wc -l; }
conns_to_zero() { [ "$(conns_to "$1")" = 0 ]; }
route_to v1
if wait_route v1 5; then
	for k in $(seq 20); do served_by >/dev/null; done # both workers pool one
	cx0=$(counter upstream_cx_total)
	same=0
	for k in 1 2 3 4 5; do
		r0=$(reloads)
		printf 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: extra}\nspec:\n  hosts: [extra%s.example.com]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n' "$k" |
			put "$cfg/extra.yaml"
		wait_reload "$r0" || true
		[ "$(served_by)" = v1 ] && same=$((same + 1))
	done
	cx1=$(counter upstream_cx_total)
	[ "$same" = 5 ] && [ "$cx1" = "$cx0" ] &&
		ok "5 reloads that leave the cluster alone: its pooled connections are used on, none opened ($cx0 in all)" ||
		not_ok "pooled connections across reloads: $same of 5 answered by v1, connections opened $cx0 -> $cx1"
	[ "$(conns_to "$v1")" -ge 1 ] || not_ok "a pooled connection to v1 is open"
	route_to v2
	wait_route v2 5 || true
	if wait_for 5 conns_to_zero "$v1"; then
		ok "a reload without the cluster (route moved to v2): its idle connections are closed"
	else
		not_ok "connections to v1 after its cluster went: $(conns_to "$v1")"
	fi
	# the v2 cluster stays, but its endpoint moves to v1's port
	[ "$(conns_to "$v2")" -ge 1 ] || not_ok "a pooled connection to v2 is open"
	r0=$(reloads)
	sed "s/ports: {http: $v2}/ports: {http: $v1}/" "$cfg/services.yaml" | put "$cfg/services.yaml"
	wait_reload "$r0" || true
	served_by >/dev/null
	if wait_for 5 conns_to_zero "$v2"; then
		ok "a reload that drops an endpoint from a cluster: idle connections to it are closed"
	else
		not_ok "connections to the dropped endpoint: $(conns_to "$v2")"
	fi
else
	not_ok "route back to v1 for the pool check"
fi

# --- drain under load: SIGTERM while requests flow
rm -f "$tmp/stop"
$PROBE load "$out" reviews /drain --threads 4 --max-requests 250 --pause 0.005 \
	--stop-file "$tmp/stop" --stop-on-refused >"$tmp/load2.json" 2>"$tmp/load2.err" &
load=$!
# and two slow requests in flight when the signal comes
for k in 1 2; do
	$C -o /dev/null -w '%{http_code}\n' -H 'Host: reviews' "http://127.0.0.1:$out/slow$k?delay=1500" \
		>"$tmp/slow.$k" 2>&1 &
	eval "slow$k=\$!"
done
# and a keep-alive connection, idle when the signal comes, used again 0.5 s
# after it (Envoy answers it, with "connection: close")
$PROBE send "$out" "b'GET /ka1 HTTP/1.1\r\nHost: reviews\r\n\r\n'" --timeout 4 \
	--then "b'GET /ka2 HTTP/1.1\r\nHost: reviews\r\n\r\n'" --gap 1.5 >"$tmp/ka.json" 2>&1 &
ka=$!
# long enough for every client to be connected, also in the slow sanitizer build
sleep 1
t0=$(date +%s%N)
kill -TERM "$proxy"
# a new connection after the listeners stopped: refused at once, or served
sleep 0.3
newconn=$($C --max-time 3 -o /dev/null -w '%{http_code} %{time_total}s exit=%{exitcode}' \
	-H 'Host: reviews' "http://127.0.0.1:$out/new" 2>&1 || true)
set +e
wait "$proxy"
rc=$?
set -e
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
touch "$tmp/stop"
wait $load $slow1 $slow2 $ka || true
if [ "$(cat "$tmp/slow.1" "$tmp/slow.2")" = "200
200" ]; then ok "in-flight slow requests completed with 200 during the drain"; else
	not_ok "in-flight slow requests completed with 200 during the drain (got $(cat "$tmp/slow.1" "$tmp/slow.2" | tr '\n' ' '))"
fi
if [ "$rc" = 0 ] && [ $ms -le $((DRAIN * 1000 + 1000)) ]; then
	ok "drained and exited 0 in $ms ms (--drain-time ${DRAIN}s)"
else
	not_ok "drain: exit status $rc after $ms ms (--drain-time ${DRAIN}s)"
	tail -5 "$tmp/proxy.log" | sed 's/^/    | /'
fi
if $PY -c '
import json,sys; d=json.load(open(sys.argv[1]))
good = d["requests"] == d["ok"] + d["refused_new"] and not d["errors"] and d["ok"] > 0
good = good and set(d["status"]) <= {"200"}
sys.exit(0 if good else 1)' "$tmp/load2.json"; then
	ok "drain under load: every request 200 or a refused new connection ($($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"], "ok,", d["refused_new"], "refused")' "$tmp/load2.json"))"
else
	not_ok "drain under load: every request 200 or a refused new connection"
	sed 's/^/    | /' "$tmp/load2.json" "$tmp/load2.err" | cut -c1-1500
fi
if $PY -c '
import json,sys; d=json.load(open(sys.argv[1])); r=d["responses"]
sys.exit(0 if d["statuses"] == [200, 200] and r[1]["headers"].get("connection") == "close" else 1)' "$tmp/ka.json"; then
	ok "a keep-alive connection idle at SIGTERM: its next request answered 200 with connection: close"
else
	not_ok "a keep-alive connection idle at SIGTERM: its next request answered 200 with connection: close"
	$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print("statuses", d["statuses"], "closed", d["closed"], "reset", d["reset"], "write_error", d["write_error"])' "$tmp/ka.json" 2>&1 | sed 's/^/    | /'
fi
# curl exit 7: the connection was refused
case "$newconn" in
*exit=7) ok "a new connection during the drain is refused ($newconn)" ;;
200*) ok "a new connection during the drain is served ($newconn)" ;;
*) not_ok "a new connection during the drain is refused or served (curl: $newconn)" ;;
esac
sanitizer_check "$tmp/proxy.log"

finish
