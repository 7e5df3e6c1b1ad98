#!/bin/sh
# meshproxy relaying TCP: an UPSTREAM listener for a TCP service (routed by
# a VirtualService tcp route to a subset) and an inbound TCP listener; half-
# closes are passed on, large transfers arrive intact.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"

"$E" --tcp-echo --listen 127.0.0.1:0 --port-file "$tmp/echo.port" >"$tmp/echo.log" 2>&1 &
pids="$pids $!"
wait_file "$tmp/echo.port"
echo_port=$(cat "$tmp/echo.port")
# a port nobody listens on: the v1 subset must not be chosen
closed_port && closed=$port

mkdir -p "$tmp/cfg"
cat >"$tmp/cfg/tcp.yaml" <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp-echo}
spec:
  hosts: [tcp-echo.default.svc.cluster.local]
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {tcp: $closed}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {tcp: $echo_port}, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcp-echo}
spec:
  host: tcp-echo
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp-echo}
spec:
  hosts: [tcp-echo]
  tcp:
  - match: [{port: 9000}]
    route: [{destination: {host: tcp-echo, subset: v2, port: {number: 9000}}}]
YAML

"$P" --config "$tmp/cfg" --upstream tcp-echo:9000=0 --inbound-tcp "0:$echo_port" \
	--admin 0 --concurrency 1 >"$tmp/proxy.log" 2>&1 &
pids="$pids $!"
i=0
while ! grep -q "admin listener" "$tmp/proxy.log" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
up=$(sed -n 's/.*upstream listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/proxy.log")
inb=$(sed -n 's/.*inbound-tcp listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/proxy.log")
[ -n "$up" ] && [ -n "$inb" ] || { echo "meshproxy did not start"; cat "$tmp/proxy.log"; exit 1; }

cat >"$tmp/halfclose.py" <<'PY'
import socket, sys
port, size = int(sys.argv[1]), int(sys.argv[2])
data = bytes((i * 7 + 3) % 251 for i in range(size))
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(data)
s.shutdown(socket.SHUT_WR)   # half-close: the echo must still answer
got = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
print("intact" if got == data else "MISMATCH %d of %d bytes" % (len(got), len(data)))
PY
expect_status "upstream TCP listener relays (route to subset v2)" 0 python3 "$tmp/halfclose.py" "$up" 5
expect_output "small transfer intact after half-close" "intact"
expect_status "2 MB through the upstream listener" 0 python3 "$tmp/halfclose.py" "$up" 2097152
expect_output "large transfer intact" "intact"
expect_status "inbound TCP listener relays" 0 python3 "$tmp/halfclose.py" "$inb" 100000
expect_output "inbound transfer intact" "intact"
finish
