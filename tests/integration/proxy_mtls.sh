#!/bin/bash
# proxy_mtls.sh - mutual TLS between two real meshproxy sidecars, with SVIDs
# from `meshctl ca`, checked with real peers: curl and openssl s_client.
#
#   curl -> client sidecar C (outbound) --mTLS--> server sidecar S (inbound) -> app
#
# PeerAuthentication STRICT / PERMISSIVE / DISABLE on S (hot reloaded), the
# SPIFFE rules on client certificates (no certificate, another trust domain,
# expired, two URI SANs, CA:TRUE), x-forwarded-client-cert to the app, the
# server identity check on C (auto-mTLS from the endpoint's service account,
# DestinationRule subjectAltNames), HTTP/2 over TLS with ALPN, session
# resumption, a tshark capture that sees no plain text, certificate
# rotation and CA rotation under load with zero failed requests.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"
M=${MESHCTL:?}
if ! command -v openssl >/dev/null; then
	echo "openssl not found: skipped"
	exit 77
fi

# ---- identities ----
$M ca init --trust-domain cluster.local --out "$tmp/ca" >/dev/null
$M ca init --trust-domain example.org --out "$tmp/other" >/dev/null
issue() { # DIR SA [CA] [TTL]
	$M ca issue --ca "${3:-$tmp/ca}" --namespace default --service-account "$2" \
		--out "$1" ${4:+--ttl $4} >/dev/null 2>&1
}
issue "$tmp/c" productpage
issue "$tmp/s" reviews
issue "$tmp/peer" ratings
issue "$tmp/foreign" ratings "$tmp/other"
issue "$tmp/expired" ratings "$tmp/ca" 1s
# hand-made leaves that break one SPIFFE rule each, signed by the real CA
mkleaf() { # NAME EXTENSIONS
	openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/$1.key" 2>/dev/null
	openssl req -new -key "$tmp/$1.key" -subj "/O=test" -out "$tmp/$1.csr" 2>/dev/null
	printf '%s\n' "$2" >"$tmp/$1.ext"
	openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/ca/root-cert.pem" -CAkey "$tmp/ca/root-key.pem" \
		-CAcreateserial -days 1 -extfile "$tmp/$1.ext" -out "$tmp/$1.pem" 2>/dev/null
}
mkleaf twosans "subjectAltName=critical,URI:spiffe://cluster.local/ns/default/sa/a,URI:spiffe://cluster.local/ns/default/sa/b
keyUsage=critical,digitalSignature
basicConstraints=critical,CA:FALSE"
mkleaf caleaf "subjectAltName=critical,URI:spiffe://cluster.local/ns/default/sa/ratings
keyUsage=critical,digitalSignature,keyCertSign
basicConstraints=critical,CA:TRUE"
sleep 1.2 # the 1 s SVID is expired by now

# ---- the app and the two sidecars ----
start_echo app
app=$port
"$E" --tcp-echo --listen 127.0.0.1:0 --port-file "$tmp/tcpapp.port" >"$tmp/tcpapp.log" 2>&1 &
pids="$pids $!"
wait_file "$tmp/tcpapp.port"
tcpapp=$(cat "$tmp/tcpapp.port")
mkdir -p "$tmp/scfg" "$tmp/ccfg"
peer_auth() { # MODE -> mesh-wide PeerAuthentication on S
	printf 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec:\n  mtls: {mode: %s}\n' "$1" \
		| put "$tmp/scfg/pa.yaml"
}
peer_auth STRICT
"$P" --config "$tmp/scfg" --cert-dir "$tmp/s" --inbound 0:"$app" --inbound-tcp 0:"$tcpapp" --admin 0 \
	--reload-poll 100ms --concurrency 2 --log-level debug >"$tmp/s.log" 2>&1 &
spid=$!
pids="$pids $spid"
i=0
while ! grep -qs "admin listener" "$tmp/s.log" && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
sin=$(sed -n 's/.*inbound listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/s.log")
sadm=$(sed -n 's/.*admin listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/s.log")
stcp=$(sed -n 's/.*inbound-tcp listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/s.log")
[ -n "$sin" ] && [ -n "$sadm" ] && [ -n "$stcp" ] || { echo "server sidecar did not start"; cat "$tmp/s.log"; exit 1; }
cat >"$tmp/ccfg/tcp.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp-echo}
spec:
  hosts: [tcp-echo.default.svc.cluster.local]
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {tcp: $stcp}, serviceAccount: reviews}
EOF

client_cfg() { # SERVICE-ACCOUNT-OF-ENDPOINT [SUBJECT-ALT-NAME]
	{
		printf 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: reviews}\nspec:\n'
		printf '  hosts: [reviews.default.svc.cluster.local]\n'
		[ -z "${2:-}" ] || printf '  subjectAltNames: [%s]\n' "$2"
		printf '  ports: [{number: 9080, name: http, protocol: HTTP}, {number: 9081, name: grpc, protocol: GRPC}]\n'
		printf '  location: MESH_INTERNAL\n  resolution: STATIC\n  endpoints:\n'
		printf '  - {address: 127.0.0.1, ports: {http: %s, grpc: %s}, serviceAccount: %s}\n' "$sin" "$sin" "$1"
	} | put "$tmp/ccfg/se.yaml"
}
client_cfg reviews
start_proxy "$tmp/c.log" --config "$tmp/ccfg" --cert-dir "$tmp/c" --reload-poll 100ms \
	--upstream tcp-echo:9000=0 \
	--concurrency 2 --log-level debug
cadm=$adm
cout=$out
# c_reloaded: wait (5 s at most) until C has loaded a configuration newer
# than the one seen last
cgen() { curl -s --max-time 3 "http://127.0.0.1:$cadm/stats/prometheus" | sed -n 's/^meshproxy_config_generation //p'; }
cg=$(cgen)
c_reloaded() {
	i=0
	while [ "$(cgen)" -le "$cg" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	cg=$(cgen)
}

scounter() { curl -s --max-time 3 "http://127.0.0.1:$sadm/stats/prometheus" | sed -n "s/^meshproxy_$1 //p"; }
ccounter() { curl -s --max-time 3 "http://127.0.0.1:$cadm/stats/prometheus" | sed -n "s/^meshproxy_$1 //p"; }
via_c() { curl -s --max-time 5 -H 'Host: reviews' "$@" "http://127.0.0.1:$cout/hello"; }

# ---- STRICT: sidecar to sidecar ----
via_c -o "$tmp/body" -w '%{http_code}' >"$tmp/code" || true
[ "$(cat "$tmp/code")" = 200 ] && ok "STRICT: a request through both sidecars succeeds over mTLS" ||
	{ not_ok "STRICT: request through both sidecars (got $(cat "$tmp/code"))"; tail -5 "$tmp/c.log" "$tmp/s.log"; }
xfcc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["headers"].get("x-forwarded-client-cert",""))' "$tmp/body" 2>/dev/null || true)
case "$xfcc" in
"By=spiffe://cluster.local/ns/default/sa/reviews;Hash="*";Subject=\"\";URI=spiffe://cluster.local/ns/default/sa/productpage")
	ok "the app gets x-forwarded-client-cert with both SPIFFE IDs (Istio's format)" ;;
*) not_ok "x-forwarded-client-cert to the app (got '$xfcc')" ;;
esac
grep -q "request done: 200 .* principal=spiffe://cluster.local/ns/default/sa/productpage" "$tmp/s.log" &&
	ok "the server sidecar's request log names the client principal (source.principal)" ||
	not_ok "principal in the request log"
[ "$(ccounter upstream_ssl_handshake)" -ge 1 ] && [ "$(scounter ssl_handshake)" -ge 1 ] &&
	ok "both sidecars count the handshake" || not_ok "handshake counters"
curl -s "http://127.0.0.1:$sadm/listeners" | grep -q '"mtls":"STRICT"' &&
	ok "/listeners shows the inbound port as STRICT" || not_ok "/listeners mtls mode"
curl -s "http://127.0.0.1:$sadm/certs" | grep -q '"identity":"spiffe://cluster.local/ns/default/sa/reviews"' &&
	ok "/certs shows the SVID in use" || not_ok "/certs"

# a client that spoofs the header over plain text to its own sidecar: dropped
via_c -H 'x-forwarded-client-cert: By=evil;URI=spiffe://cluster.local/ns/default/sa/admin' >"$tmp/body2" || true
grep -q 'sa/admin' "$tmp/body2" && not_ok "a spoofed x-forwarded-client-cert is dropped" ||
	ok "a spoofed x-forwarded-client-cert from the app is dropped"

# ---- STRICT: what is refused ----
r0=$(scounter ssl_plaintext_refused)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$sin/" || true)
[ "$code" = 000 ] && [ "$(scounter ssl_plaintext_refused)" -gt "$r0" ] &&
	ok "STRICT: plain text to the inbound port is refused" || not_ok "plain text under STRICT (got $code)"

# s_client: GET over TLS; prints the HTTP status line it got, if any
s_get() { # CERT KEY [extra s_client args]
	cert=$1 key=$2
	shift 2
	printf 'GET /x HTTP/1.1\r\nHost: reviews\r\nConnection: close\r\n\r\n' |
		timeout 5 openssl s_client -quiet -connect "127.0.0.1:$sin" -CAfile "$tmp/ca/root-cert.pem" \
			${cert:+-cert "$cert"} ${key:+-key "$key"} "$@" 2>"$tmp/sc.err" | head -c 4000 >"$tmp/sc.out" || true
	head -1 "$tmp/sc.out" | tr -d '\r'
}
[ "$(s_get "$tmp/peer/cert.pem" "$tmp/peer/key.pem")" = "HTTP/1.1 200 OK" ] &&
	ok "openssl s_client with a valid SVID gets 200" || { not_ok "s_client with a valid SVID"; cat "$tmp/sc.err" | head -5; }
grep -q 'URI=spiffe://cluster.local/ns/default/sa/ratings' "$tmp/sc.out" &&
	ok "... and the app sees that client's SPIFFE ID" || not_ok "peer ID of s_client in XFCC"
refused() { # WHAT CERT KEY
	v0=$(($(scounter ssl_fail_verify) + $(scounter ssl_connection_error)))
	got=$(s_get "$2" "$3")
	v1=$(($(scounter ssl_fail_verify) + $(scounter ssl_connection_error)))
	if [ -z "$got" ] && [ "$v1" -gt "$v0" ]; then ok "STRICT refuses $1"; else not_ok "STRICT refuses $1 (got '$got')"; fi
}
refused "a client without a certificate" "" ""
refused "a certificate of another trust domain" "$tmp/foreign/cert.pem" "$tmp/foreign/key.pem"
refused "an expired SVID" "$tmp/expired/cert.pem" "$tmp/expired/key.pem"
refused "a leaf with two URI SANs" "$tmp/twosans.pem" "$tmp/twosans.key"
refused "a leaf with CA:TRUE" "$tmp/caleaf.pem" "$tmp/caleaf.key"
grep -q "inbound TLS handshake failed: expired" "$tmp/s.log" &&
	ok "the log says why (expired)" || not_ok "handshake failure reason in the log"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$sadm/ready")" = 200 ] &&
	kill -0 $spid && ok "the server sidecar is still up after the refusals" || not_ok "server sidecar alive"

# ---- TCP over mTLS: C's upstream port -> S's inbound TCP port -> a TCP echo ----
ctcp=$(sed -n 's/.*upstream listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/c.log")
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
h0=$(scounter ssl_handshake)
expect_status "TCP through both sidecars over mTLS (1 MB, half-close)" 0 python3 "$tmp/halfclose.py" "$ctcp" 1048576
expect_output "... arrives intact" "intact"
[ "$(scounter ssl_handshake)" -gt "$h0" ] && ok "... and the inbound TCP port did a TLS handshake" ||
	not_ok "TCP inbound handshake counter"
r0=$(scounter ssl_plaintext_refused)
python3 "$tmp/halfclose.py" "$stcp" 10 >"$tmp/out" 2>&1 || true
grep -q intact "$tmp/out" && not_ok "plain TCP to the STRICT inbound TCP port is refused" ||
	{ [ "$(scounter ssl_plaintext_refused)" -gt "$r0" ] && ok "plain TCP to the STRICT inbound TCP port is refused" ||
		not_ok "plain TCP refused counter"; }

# ---- HTTP/2 over TLS with ALPN, straight to the inbound port ----
if curl -V | grep -q HTTP2; then
	code=$(curl -sk --http2 --cert "$tmp/peer/cert.pem" --key "$tmp/peer/key.pem" -o "$tmp/h2.out" \
		-w '%{http_version} %{http_code}' --max-time 5 "https://127.0.0.1:$sin/h2" || true)
	[ "$code" = "2 200" ] && ok "curl --http2 over mTLS: ALPN h2, 200" || not_ok "curl --http2 over TLS (got '$code')"
fi
# gRPC-style h2 between the sidecars: the GRPC port makes C speak HTTP/2 upstream (ALPN h2)
code=$(curl -s --http2-prior-knowledge -H 'Host: reviews:9081' -o /dev/null -w '%{http_version} %{http_code}' \
	--max-time 5 "http://127.0.0.1:$cout/h2" || true)
[ "$code" = "2 200" ] && ok "h2c to C, HTTP/2 over mTLS between the sidecars" || not_ok "h2 between sidecars (got '$code')"

# ---- resumption ----
rm -f "$tmp/sess"
s_get "$tmp/peer/cert.pem" "$tmp/peer/key.pem" -sess_out "$tmp/sess" >/dev/null
r0=$(scounter ssl_session_reused)
printf 'GET /x HTTP/1.1\r\nHost: reviews\r\nConnection: close\r\n\r\n' |
	timeout 5 openssl s_client -connect "127.0.0.1:$sin" -CAfile "$tmp/ca/root-cert.pem" \
		-cert "$tmp/peer/cert.pem" -key "$tmp/peer/key.pem" -sess_in "$tmp/sess" >"$tmp/res.out" 2>&1 || true
grep -q '^Reused, TLSv1.3' "$tmp/res.out" && [ "$(scounter ssl_session_reused)" -gt "$r0" ] &&
	ok "a TLS 1.3 session is resumed (server side)" || not_ok "server-side resumption"
# client side: one request per upstream connection, so each request reconnects
printf 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews.default.svc.cluster.local\n  trafficPolicy:\n    connectionPool: {http: {maxRequestsPerConnection: 1}}\n' | put "$tmp/ccfg/dr.yaml"
c_reloaded
for k in 1 2 3 4 5 6; do via_c -o /dev/null; done
[ "$(ccounter upstream_ssl_session_reused)" -ge 2 ] &&
	ok "sidecar to sidecar reconnects resume their sessions ($(ccounter upstream_ssl_session_reused) resumed)" ||
	not_ok "client-side resumption ($(ccounter upstream_ssl_session_reused) of $(ccounter upstream_ssl_handshake) handshakes, $(ccounter upstream_cx_total) connections)"
rm -f "$tmp/ccfg/dr.yaml"
c_reloaded

# ---- the server identity check on the client side ----
client_cfg ratings # the endpoint should be ratings, but S is reviews
c_reloaded
f0=$(ccounter upstream_ssl_fail)
code=$(via_c -o /dev/null -w '%{http_code}' -H 'connection: close' || true)
[ "$code" = 503 ] && [ "$(ccounter upstream_ssl_fail)" -gt "$f0" ] &&
	ok "C refuses a server whose SPIFFE ID is not the destination's (503)" || not_ok "server SAN check (got $code)"
grep -q "server identity spiffe://cluster.local/ns/default/sa/reviews is not one" "$tmp/c.log" &&
	ok "... and logs which identity it got" || not_ok "SAN mismatch log line"
put "$tmp/ccfg/dr.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL, subjectAltNames: [spiffe://cluster.local/ns/default/sa/reviews]}
EOF
c_reloaded
code=$(via_c -o /dev/null -w '%{http_code}' || true)
[ "$code" = 200 ] && ok "DestinationRule subjectAltNames overrides the endpoints' accounts" || not_ok "DR subjectAltNames (got $code)"
put "$tmp/ccfg/dr.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy:
    tls: {mode: DISABLE}
EOF
c_reloaded
code=$(via_c -o /dev/null -w '%{http_code}' || true)
[ "$code" = 503 ] && ok "DestinationRule tls DISABLE sends plain text, which STRICT refuses" || not_ok "DR DISABLE (got $code)"
rm -f "$tmp/ccfg/dr.yaml"
client_cfg ratings spiffe://cluster.local/ns/default/sa/reviews
c_reloaded
code=$(via_c -o /dev/null -w '%{http_code}' || true)
[ "$code" = 200 ] && ok "ServiceEntry subjectAltNames name an identity the server may have" ||
	not_ok "ServiceEntry subjectAltNames (got $code)"
client_cfg reviews
c_reloaded

# ---- a mirror toward a mesh workload goes over mTLS too (S is STRICT) ----
put "$tmp/ccfg/vs.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    mirror: {host: reviews}
EOF
c_reloaded
s0=$(scounter downstream_rq_total)
code=$(via_c -o /dev/null -w '%{http_code}' || true)
mirrored() { [ "$(scounter downstream_rq_total)" -ge $((s0 + 2)) ]; }
if [ "$code" = 200 ] && wait_for 5 mirrored; then
	ok "a mirrored copy reaches the STRICT server sidecar over mTLS (S served the request and its copy)"
else
	not_ok "mirror over mTLS (code $code, S's requests $s0 -> $(scounter downstream_rq_total))"
fi
rm -f "$tmp/ccfg/vs.yaml"
c_reloaded

# ---- DestinationRule SIMPLE and MUTUAL toward a server outside the mesh ----
o() { openssl "$@" >/dev/null 2>&1; }
o req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/extca.key" \
	-out "$tmp/extca.pem" -subj /CN=ext-ca -days 1
for n in srv cli; do
	o req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/ext$n.key" \
		-out "$tmp/ext$n.csr" -subj "/CN=ext-$n"
	echo "subjectAltName=DNS:ext.example.com" >"$tmp/ext$n.ext"
	o x509 -req -in "$tmp/ext$n.csr" -CA "$tmp/extca.pem" -CAkey "$tmp/extca.key" -CAcreateserial \
		-days 1 -extfile "$tmp/ext$n.ext" -out "$tmp/ext$n.pem"
done
extport=$(free_port)
openssl s_server -quiet -www -accept "127.0.0.1:$extport" -cert "$tmp/extsrv.pem" -key "$tmp/extsrv.key" \
	-CAfile "$tmp/extca.pem" -Verify 1 -verify_return_error >"$tmp/s_server.log" 2>&1 &
pids="$pids $!"
ext_cfg() { # MODE EXTRA-TLS-YAML
	put "$tmp/ccfg/ext.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [ext.example.com]
  ports: [{number: 443, name: http, protocol: HTTP}]
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: $extport}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ext}
spec:
  host: ext.example.com
  trafficPolicy:
    tls: {mode: $1, sni: ext.example.com, caCertificates: $tmp/extca.pem$2}
EOF
	c_reloaded
}
ext_get() { curl -s -o "$tmp/ext.out" -w '%{http_code}' --max-time 5 -H 'Host: ext.example.com:443' \
	"http://127.0.0.1:$cout/" || true; }
i=0
until (echo >/dev/tcp/127.0.0.1/$extport) 2>/dev/null || [ $i -gt 50 ]; do sleep 0.1; i=$((i + 1)); done
ext_cfg MUTUAL ", clientCertificate: $tmp/extcli.pem, privateKey: $tmp/extcli.key"
code=$(ext_get)
[ "$code" = 200 ] && grep -q "Ciphers" "$tmp/ext.out" &&
	ok "DestinationRule MUTUAL: TLS origination with the rule's client certificate (openssl s_server -Verify)" ||
	{ not_ok "DR MUTUAL (got $code)"; tail -3 "$tmp/s_server.log" "$tmp/c.log"; }
ext_cfg SIMPLE ""
code=$(ext_get)
[ "$code" = 503 ] && ok "DestinationRule SIMPLE: a server that requires a client certificate refuses us (503)" ||
	not_ok "DR SIMPLE against a client-auth server (got $code)"
ext_cfg MUTUAL ", clientCertificate: $tmp/extcli.pem, privateKey: $tmp/extcli.key, subjectAltNames: [other.example.com]"
code=$(ext_get)
[ "$code" = 503 ] && ok "DestinationRule subjectAltNames: a server certificate without that name is refused" ||
	not_ok "DR SANs for SIMPLE/MUTUAL (got $code)"
ext_cfg MUTUAL ", clientCertificate: $tmp/missing.pem, privateKey: $tmp/extcli.key"
grep -q "DestinationRule tls MUTUAL: .*missing.pem" "$tmp/c.log" &&
	ok "an unreadable clientCertificate is reported at reload" || not_ok "bad clientCertificate warning"
rm -f "$tmp/ccfg/ext.yaml"
c_reloaded

# ---- PERMISSIVE and DISABLE (hot reloaded) ----
peer_auth PERMISSIVE
i=0
until curl -s "http://127.0.0.1:$sadm/listeners" | grep -q '"mtls":"PERMISSIVE"' || [ $i -gt 60 ]; do sleep 0.1; i=$((i + 1)); done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$sin/" || true)
[ "$code" = 200 ] && ok "PERMISSIVE: plain text on the inbound port is served" || not_ok "PERMISSIVE plain (got $code)"
[ "$(s_get "$tmp/peer/cert.pem" "$tmp/peer/key.pem")" = "HTTP/1.1 200 OK" ] &&
	ok "PERMISSIVE: mTLS on the same port too" || not_ok "PERMISSIVE TLS"
peer_auth DISABLE
i=0
until curl -s "http://127.0.0.1:$sadm/listeners" | grep -q '"mtls":"DISABLE"' || [ $i -gt 60 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(s_get "$tmp/peer/cert.pem" "$tmp/peer/key.pem")" ] && ok "DISABLE: no TLS on the port" || not_ok "DISABLE refuses TLS"
peer_auth STRICT
i=0
until curl -s "http://127.0.0.1:$sadm/listeners" | grep -q '"mtls":"STRICT"' || [ $i -gt 60 ]; do sleep 0.1; i=$((i + 1)); done

# from here on, C reconnects every 2 requests: the capture sees handshakes,
# and during rotation new handshakes meet the new certificates
printf 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews.default.svc.cluster.local\n  trafficPolicy:\n    connectionPool: {http: {maxRequestsPerConnection: 2}}\n' | put "$tmp/ccfg/dr.yaml"
c_reloaded

# ---- no plain text on the wire ----
if command -v tshark >/dev/null && [ "$(id -u)" = 0 ]; then
	tshark -q -i lo -f "tcp port $sin" -w "$tmp/cap.pcap" >"$tmp/tshark.log" 2>&1 &
	tpid=$!
	i=0
	until grep -q "Capturing on" "$tmp/tshark.log" || [ $i -gt 100 ]; do sleep 0.1; i=$((i + 1)); done
	sleep 0.3
	for k in 1 2 3; do
		via_c -H 'x-secret: PLAINTEXT-MARKER-4711' -H 'connection: close' -o "$tmp/cap.body" || true
	done
	curl -s "http://127.0.0.1:$app/" -H 'x-secret: PLAINTEXT-MARKER-4711' -o /dev/null # control: not on $sin
	sleep 0.5
	kill -INT $tpid 2>/dev/null
	wait $tpid 2>/dev/null || true
	grep -q PLAINTEXT-MARKER-4711 "$tmp/cap.body" && ok "the marked request went through" || not_ok "marked request"
	pkts=$(tshark -r "$tmp/cap.pcap" 2>/dev/null | wc -l)
	if [ "$pkts" -gt 5 ] && ! tshark -r "$tmp/cap.pcap" -x 2>/dev/null | tr -d ' \n' | grep -q "PLAINTEXT"; then
		if tshark -r "$tmp/cap.pcap" -d "tcp.port==$sin,tls" -Y tls 2>/dev/null | grep -q 'Application Data'; then
			ok "tshark on the mTLS port: $pkts packets, TLS application data, no plain-text payload"
		else
			not_ok "tshark sees TLS records"
		fi
	else
		not_ok "tshark capture shows no plain text ($pkts packets)"
	fi
	strings "$tmp/cap.pcap" | grep -q PLAINTEXT-MARKER && not_ok "marker found in raw capture" ||
		ok "the raw capture holds no trace of the marker"
else
	ok "# SKIP tshark not available (or not root): capture check skipped"
fi

# ---- rotation under load ----
load() { # SECONDS -> prints "ok fail"
	end=$(($(date +%s) + $1))
	okn=0 bad=0
	while [ "$(date +%s)" -lt "$end" ]; do
		for k in 1 2 3 4 5 6 7 8 9 10; do
			c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Host: reviews' \
				"http://127.0.0.1:$cout/load" -H 'connection: close' || true)
			if [ "$c" = 200 ]; then okn=$((okn + 1)); else bad=$((bad + 1)); fi
		done
	done
	echo "$okn $bad"
}
g0=$(curl -s "http://127.0.0.1:$sadm/certs" | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
load 6 >"$tmp/load1" &
lp=$!
for k in 1 2 3 4 5; do
	issue "$tmp/s" reviews "$tmp/ca" 1h
	issue "$tmp/c" productpage "$tmp/ca" 1h
	sleep 1
done
wait $lp
read -r okn bad <"$tmp/load1"
g1=$(curl -s "http://127.0.0.1:$sadm/certs" | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
[ "$bad" = 0 ] && [ "$okn" -gt 20 ] && [ "$g1" -ge $((g0 + 3)) ] &&
	ok "certificate rotation every second under load: $okn requests, 0 failed, $((g1 - g0)) new identities" ||
	not_ok "rotation under load ($okn ok, $bad failed, generations $g0 -> $g1)"

# ---- CA rotation: a second root, both in the bundle ----
$M ca init --trust-domain cluster.local --out "$tmp/ca2" >/dev/null
# swap_in DIR SA: an SVID from the new CA, staged aside and moved in file by
# file, the bundle keeping both roots (a half-moved set is refused by the
# proxy, which keeps its last good identity until the set is whole)
swap_in() {
	issue "$tmp/$1.new" "$2" "$tmp/ca2" 1h
	cp "$tmp/both.pem" "$tmp/$1.new/trust-bundle.pem"
	for f in key.pem cert.pem trust-bundle.pem; do mv "$tmp/$1.new/$f" "$tmp/$1/$f"; done
}
cert_gen() { curl -s --max-time 3 "http://127.0.0.1:$1/certs" | sed -n 's/.*"generation":\([0-9]*\).*/\1/p'; }
cert_gen_above() { [ "$(cert_gen "$1")" -gt "$2" ]; }
cat "$tmp/ca/root-cert.pem" "$tmp/ca2/root-cert.pem" >"$tmp/both.pem"
load 6 >"$tmp/load2" &
lp=$!
# 1: both sidecars learn the new root (certificates still from the old CA)
sg=$(cert_gen "$sadm") cg2=$(cert_gen "$cadm")
for d in s c; do cp "$tmp/both.pem" "$tmp/$d/trust-bundle.pem.new" && mv "$tmp/$d/trust-bundle.pem.new" "$tmp/$d/trust-bundle.pem"; done
wait_for 10 cert_gen_above "$sadm" "$sg" && wait_for 10 cert_gen_above "$cadm" "$cg2" ||
	not_ok "the sidecars took the two-root bundle"
sleep 1
# 2: the server moves to the new CA, the client still has an old one
sg=$(cert_gen "$sadm")
swap_in s reviews
wait_for 10 cert_gen_above "$sadm" "$sg" || not_ok "the server took its new-CA certificate"
sleep 1
# 3: the client moves too
swap_in c productpage
wait $lp
read -r okn bad <"$tmp/load2"
issuer=$(curl -s "http://127.0.0.1:$sadm/certs")
[ "$bad" = 0 ] && [ "$okn" -gt 20 ] &&
	ok "CA rotation with two roots in the bundle: $okn requests, 0 failed" ||
	not_ok "CA rotation ($okn ok, $bad failed)"
rm -f "$tmp/ccfg/dr.yaml"

kill -TERM $spid
sanitizer_check "$tmp/s.log"
sanitizer_check "$tmp/c.log"
finish
