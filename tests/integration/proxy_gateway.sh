#!/bin/bash
# proxy_gateway.sh - meshproxy --gateway as Istio's ingress gateway, with real
# clients (curl over HTTP/1.1 and HTTP/2, openssl s_client, a python TLS
# client) against real backends (meshecho, openssl s_server):
#
#   client --TLS / plain--> meshproxy --gateway (Gateway servers) --> backends
#
# Gateway servers on one port told apart by SNI (files, and credentialName
# from --credential-dir), TLS passthrough by SNI to a TLS backend, MUTUAL,
# ISTIO_MUTUAL, httpsRedirect, plain HTTP and TCP servers, TLS terminated then
# relayed as TCP; VirtualServices bound to the Gateway (header match, rewrite),
# Gateways that do not select the proxy, hosts no server covers (404 over HTTP,
# the connection closed for an SNI), certificate files swapped and broken while
# running, a certificate that does not exist, ports added by a reload.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"
M=${MESHCTL:?}
if ! command -v openssl >/dev/null || ! command -v curl >/dev/null; then
	echo "openssl or curl not found: skipped"
	exit 77
fi

# ---- certificates ----
cd "$tmp"
key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }
ca() { # NAME CN
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 2 -out "$1.pem" 2>/dev/null
}
leaf() { # NAME CA SUBJECT SAN [KEYNAME]
	[ -f "${5:-$1}.key" ] || key "${5:-$1}.key"
	openssl req -new -key "${5:-$1}.key" -subj "$3" -out "$1.csr" 2>/dev/null
	printf 'subjectAltName=%s\n' "$4" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
		-extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
ca ca "test CA"
ca clientca "client CA"
ca rogue "rogue CA"
leaf bookinfo ca "/O=first/CN=bookinfo.example.com" DNS:bookinfo.example.com
leaf rotated ca "/O=rotated/CN=bookinfo.example.com" DNS:bookinfo.example.com bookinfo
leaf other ca "/CN=other.example.com" DNS:other.example.com
leaf nginx ca "/CN=nginx.example.com" DNS:nginx.example.com
leaf mutual ca "/CN=mutual.example.com" DNS:mutual.example.com
leaf tcp ca "/CN=tcp.example.com" DNS:tcp.example.com
leaf fine ca "/CN=fine.example.com" DNS:fine.example.com
leaf client clientca "/CN=client" URI:spiffe://example.com/client
leaf client2 clientca "/CN=client2" URI:spiffe://example.com/other
leaf stranger rogue "/CN=stranger" URI:spiffe://example.com/client
mkdir -p creds/other-cred
cp other.pem creds/other-cred/tls.crt
cp other.key creds/other-cred/tls.key
# an Istio identity for the ISTIO_MUTUAL server and its client
$M ca init --trust-domain cluster.local --out "$tmp/meshca" >/dev/null
$M ca issue --ca "$tmp/meshca" --namespace istio-system --service-account ingress \
	--out "$tmp/gwid" >/dev/null 2>&1
$M ca issue --ca "$tmp/meshca" --namespace default --service-account sleep \
	--out "$tmp/sleepid" >/dev/null 2>&1
cd - >/dev/null

# ---- backends ----
start_echo v1
v1=$port
start_echo v2
v2=$port
"$E" --tcp-echo --listen 127.0.0.1:0 --port-file "$tmp/tcpecho.port" >"$tmp/tcpecho.log" 2>&1 &
pids="$pids $!"
wait_file "$tmp/tcpecho.port"
tcpecho=$(cat "$tmp/tcpecho.port")
nginx=$(free_port)
openssl s_server -quiet -www -accept "127.0.0.1:$nginx" -cert "$tmp/nginx.pem" \
	-key "$tmp/nginx.key" >"$tmp/s_server.log" 2>&1 &
pids="$pids $!"
i=0
until (echo >"/dev/tcp/127.0.0.1/$nginx") 2>/dev/null || [ $i -gt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done

# ---- configuration ----
mkdir -p "$tmp/cfg"
cat >"$tmp/cfg/services.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: productpage, namespace: default}
spec:
  hosts: [productpage.default.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: $v1}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: $v2}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: nginx, namespace: default}
spec:
  hosts: [nginx.internal]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {tls: $nginx}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp-echo, namespace: default}
spec:
  hosts: [tcp-echo.internal]
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {tcp: $tcpecho}}]
EOF
gateway_yaml() { # BOOKINFO-CERT-FILE
	cat <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-bookinfo, protocol: HTTPS}
    hosts: [bookinfo.example.com]
    tls: {mode: SIMPLE, serverCertificate: $1, privateKey: $tmp/bookinfo.key}
  - port: {number: 443, name: https-other, protocol: HTTPS}
    hosts: [default/other.example.com]
    tls: {mode: SIMPLE, credentialName: other-cred}
  - port: {number: 443, name: tls-nginx, protocol: TLS}
    hosts: [nginx.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 80, name: http-redirect, protocol: HTTP}
    hosts: [bookinfo.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [web.example.com, mesh-only.example.com]
  - port: {number: 8443, name: https-mutual, protocol: HTTPS}
    hosts: [mutual.example.com]
    tls:
      mode: MUTUAL
      serverCertificate: $tmp/mutual.pem
      privateKey: $tmp/mutual.key
      caCertificates: $tmp/clientca.pem
      subjectAltNames: [spiffe://example.com/client]
  - port: {number: 9443, name: https-broken, protocol: HTTPS}
    hosts: [broken.example.com]
    tls: {mode: SIMPLE, serverCertificate: $tmp/does-not-exist.pem, privateKey: $tmp/bookinfo.key}
  - port: {number: 9443, name: https-fine, protocol: HTTPS}
    hosts: [fine.example.com]
    tls: {mode: SIMPLE, serverCertificate: $tmp/fine.pem, privateKey: $tmp/fine.key}
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
  - port: {number: 9000, name: tls-terminated, protocol: TLS}
    hosts: [tcp.example.com]
    tls: {mode: SIMPLE, serverCertificate: $tmp/tcp.pem, privateKey: $tmp/tcp.key}
  - port: {number: 10443, name: https-mesh, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: ISTIO_MUTUAL}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: egress, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [egress.example.com]
    tls: {mode: SIMPLE, serverCertificate: $tmp/other.pem, privateKey: $tmp/other.key}
EOF
}
write_gateway() { # BOOKINFO-CERT-FILE
	gateway_yaml "$1" >"$tmp/gw.yaml.new"
	mv "$tmp/gw.yaml.new" "$tmp/cfg/gateway.yaml"
}
write_gateway "$tmp/bookinfo.pem"
cat >"$tmp/cfg/routes.yaml" <<'EOF'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec:
  hosts: [bookinfo.example.com, mutual.example.com, fine.example.com]
  gateways: [istio-system/bookinfo-gateway]
  http:
  - match: [{headers: {x-version: {exact: v2}}}]
    route: [{destination: {host: reviews, port: {number: 9080}}}]
  - match: [{uri: {prefix: /api/}}]
    rewrite: {uri: /v1/}
    route: [{destination: {host: productpage, port: {number: 9080}}}]
  - route: [{destination: {host: productpage, port: {number: 9080}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: other, namespace: default}
spec:
  hosts: [other.example.com, web.example.com, egress.example.com]
  gateways: [istio-system/bookinfo-gateway, istio-system/egress]
  http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sidecars-only, namespace: default}
spec:
  hosts: [mesh-only.example.com]
  http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: nginx, namespace: default}
spec:
  hosts: [nginx.example.com]
  gateways: [istio-system/bookinfo-gateway]
  tls:
  - match: [{port: 443, sniHosts: [nginx.example.com]}]
    route: [{destination: {host: nginx.internal, port: {number: 443}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp, namespace: default}
spec:
  hosts: ["*"]
  gateways: [istio-system/bookinfo-gateway]
  tcp:
  - route: [{destination: {host: tcp-echo.internal, port: {number: 9000}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh, namespace: default}
spec:
  hosts: ["*.mesh.example.com"]
  gateways: [istio-system/bookinfo-gateway]
  http: [{route: [{destination: {host: productpage, port: {number: 9080}}}]}]
EOF

# ---- the gateway ----
start_proxy "$tmp/gw.log" --config "$tmp/cfg" --namespace istio-system --gateway \
	--labels istio=ingressgateway,app=istio-ingressgateway \
	--gateway-port 80=0 --gateway-port 443=0 --gateway-port 8443=0 --gateway-port 9443=0 \
	--gateway-port 31400=0 --gateway-port 9000=0 --gateway-port 10443=0 --gateway-port 8080=0 \
	--credential-dir "$tmp/creds" --cert-dir "$tmp/gwid" --reload-poll 100ms --concurrency 2 \
	--log-level debug
gwport() { sed -n "s/.*gateway listener on 127.0.0.1:\([0-9]*\) (Gateway port $1)/\1/p" "$tmp/gw.log"; }
P80=$(gwport 80)
P443=$(gwport 443)
P8443=$(gwport 8443)
P9443=$(gwport 9443)
P31400=$(gwport 31400)
P9000=$(gwport 9000)
P10443=$(gwport 10443)
P8080=$(gwport 8080)
[ -n "$P80" ] && [ -n "$P443" ] && [ -n "$P8443" ] && [ -n "$P9443" ] && [ -n "$P31400" ] &&
	[ -n "$P9000" ] && [ -n "$P10443" ] && [ -n "$P8080" ] &&
	ok "one listener per Gateway port (each --gateway-port mapped to a free port)" ||
	{ not_ok "gateway listeners"; cat "$tmp/gw.log"; exit 1; }

grep -q "warning: .*Gateway istio-system/bookinfo-gateway: .*does-not-exist.pem" "$tmp/gw.log" &&
	grep -q "server on port 9443 not served" "$tmp/gw.log" &&
	ok "a certificate file that does not exist: a warning with its file, and the server is left out" ||
	{ not_ok "warning for a missing certificate"; grep -i warn "$tmp/gw.log" | head; }

# https HOST PORT [curl args...]: GET https://HOST:PORT$path with the test CA
path=/productpage
https() {
	h=$1 p=$2
	shift 2
	curl -s --max-time 5 --resolve "$h:$p:127.0.0.1" --cacert "$tmp/ca.pem" "$@" "https://$h:$p$path"
}
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@" 2>/dev/null || true; }

# ---- HTTPS with SIMPLE TLS ----
code=$(https bookinfo.example.com "$P443" --http1.1 -o "$tmp/b" -w '%{http_code} %{http_version}' || true)
[ "$code" = "200 1.1" ] && [ "$(json "$tmp/b" 'd["name"]')" = v1 ] &&
	ok "HTTPS over HTTP/1.1: the VirtualService bound to the Gateway routes to the backend" ||
	{ not_ok "HTTPS over HTTP/1.1 (got '$code')"; cat "$tmp/b"; tail -5 "$tmp/gw.log"; }
[ "$(json "$tmp/b" 'd["headers"]["x-forwarded-proto"]')" = https ] &&
	[ "$(json "$tmp/b" 'd["headers"]["x-forwarded-for"]')" = 127.0.0.1 ] &&
	ok "the backend gets x-forwarded-proto: https and x-forwarded-for with the client" ||
	not_ok "x-forwarded-proto / x-forwarded-for (got $(cat "$tmp/b"))"
code=$(https bookinfo.example.com "$P443" --http2 -o "$tmp/b" -w '%{http_code} %{http_version}' || true)
[ "$code" = "200 2" ] && [ "$(json "$tmp/b" 'd["name"]')" = v1 ] &&
	ok "curl --http2 over TLS: ALPN h2, HTTP/2 end to end (http_version 2)" ||
	not_ok "HTTP/2 over TLS (got '$code')"
code=$(https bookinfo.example.com "$P443" --http2 -H 'x-version: v2' -o "$tmp/b" -w '%{http_code}' || true)
[ "$code" = 200 ] && [ "$(json "$tmp/b" 'd["name"]')" = v2 ] &&
	ok "a header match of the gateway's VirtualService picks the other destination" ||
	not_ok "header match (got $code $(cat "$tmp/b"))"
path=/api/books?id=1
code=$(https bookinfo.example.com "$P443" -o "$tmp/b" -w '%{http_code}' || true)
[ "$code" = 200 ] && [ "$(json "$tmp/b" 'd["path"]')" = "/v1/books?id=1" ] &&
	ok "a uri rewrite: /api/books?id=1 reaches the backend as /v1/books?id=1" ||
	not_ok "rewrite (got $code $(cat "$tmp/b"))"
path=/productpage
code=$(https bookinfo.example.com "$P443" -H 'Host: unknown.example.com' -o /dev/null -w '%{http_code}' || true)
[ "$code" = 404 ] && ok "a Host the server does not cover: 404 (no virtual host)" ||
	not_ok "unknown Host over TLS (got $code)"

# ---- several servers on one port: the certificate by SNI ----
subject() { # SNI PORT
	openssl s_client -connect "127.0.0.1:$2" ${1:+-servername "$1"} </dev/null 2>/dev/null |
		openssl x509 -noout -subject 2>/dev/null
}
s1=$(subject bookinfo.example.com "$P443")
s2=$(subject other.example.com "$P443")
case "$s1|$s2" in
*O\ =\ first*CN\ =\ bookinfo.example.com\|*CN\ =\ other.example.com*)
	ok "SNI picks the server's certificate among the servers of a port (openssl s_client)" ;;
*) not_ok "certificates by SNI (got '$s1' and '$s2')" ;;
esac
code=$(https other.example.com "$P443" -o "$tmp/b" -w '%{http_code}' || true)
[ "$code" = 200 ] && [ "$(json "$tmp/b" 'd["name"]')" = v2 ] &&
	ok "credentialName: the certificate from --credential-dir/NAME/tls.crt serves its host" ||
	not_ok "credentialName server (got $code)"
set +e
https unknown.example.com "$P443" -o /dev/null
rc1=$?
https egress.example.com "$P443" -o /dev/null
rc2=$?
set -e
[ $rc1 -ne 0 ] && [ $rc2 -ne 0 ] && [ "$(counter no_filter_chain_match)" -ge 2 ] &&
	ok "an SNI no server names, or only a Gateway that does not select the proxy: connection closed" ||
	not_ok "unknown SNI (curl exit $rc1, $rc2; no_filter_chain_match $(counter no_filter_chain_match))"
[ -z "$(subject '' "$P443")" ] && ok "no SNI and no server with host \"*\": no handshake" ||
	not_ok "a ClientHello without SNI"

# a ClientHello that comes in pieces (a slow client, small segments) is waited for
slow_hello() { # PORT CA
	python3 - "$@" <<'EOF'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out, server_hostname="bookinfo.example.com")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def pump(op):
    while True:
        try:
            return op()
        except ssl.SSLWantReadError:
            s.sendall(out.read())
            data = s.recv(65536)
            if not data:
                raise SystemExit("closed by the gateway")
            inc.write(data)
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
for part in (hello[:3], hello[3:70], hello[70:]):
    s.sendall(part)
    time.sleep(0.2)
pump(tls.do_handshake)
tls.write(b"GET /productpage HTTP/1.1\r\nHost: bookinfo.example.com\r\nConnection: close\r\n\r\n")
s.sendall(out.read())
print(pump(lambda: tls.read(200)).split(b"\r\n")[0].decode())
EOF
}
[ "$(slow_hello "$P443" "$tmp/ca.pem" 2>&1)" = "HTTP/1.1 200 OK" ] &&
	ok "a ClientHello sent in three pieces is waited for, then served" ||
	not_ok "ClientHello in pieces (got '$(slow_hello "$P443" "$tmp/ca.pem" 2>&1 | tail -1)')"

# ---- TLS passthrough by SNI ----
code=$(https nginx.example.com "$P443" -o "$tmp/b" -w '%{http_code}' || true)
s3=$(subject nginx.example.com "$P443")
[ "$code" = 200 ] && grep -q "s_server" "$tmp/b" && case "$s3" in *nginx.example.com*) true ;; *) false ;; esac &&
	ok "PASSTHROUGH: the TLS connection goes as it is to the backend the tls route picks by SNI" ||
	{ not_ok "passthrough (got $code, certificate '$s3')"; head -5 "$tmp/b"; }

# ---- httpsRedirect and plain HTTP ----
curl -s --max-time 5 -o /dev/null -D "$tmp/h" -H "Host: bookinfo.example.com:$P80" \
	"http://127.0.0.1:$P80/productpage?x=1" || true
grep -q "^HTTP/1.1 301" "$tmp/h" && grep -qi "^location: https://bookinfo.example.com:$P80/productpage?x=1" "$tmp/h" &&
	ok "httpsRedirect: 301 to https://, Host and path kept (as Envoy's require_tls)" ||
	{ not_ok "httpsRedirect"; cat "$tmp/h"; }
code=$(curl -s --max-time 5 -o "$tmp/b" -w '%{http_code}' -H 'Host: web.example.com' "http://127.0.0.1:$P80/" || true)
[ "$code" = 200 ] && [ "$(json "$tmp/b" 'd["name"]')" = v2 ] &&
	[ "$(json "$tmp/b" 'd["headers"]["x-forwarded-proto"]')" = http ] &&
	ok "plain HTTP server: routed, x-forwarded-proto http" || not_ok "plain HTTP (got $code)"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code} %{http_version}' --http2-prior-knowledge \
	-H 'Host: web.example.com' "http://127.0.0.1:$P80/" || true)
[ "$code" = "200 2" ] && ok "plain HTTP server over h2c" || not_ok "h2c (got $code)"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H 'Host: mesh-only.example.com' "http://127.0.0.1:$P80/" || true)
[ "$code" = 404 ] && ok "a VirtualService of the sidecars (no gateways) does not route at the gateway" ||
	not_ok "sidecar VirtualService at the gateway (got $code)"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H 'Host: a.mesh.example.com' "http://127.0.0.1:$P80/" || true)
[ "$code" = 404 ] && ok "a host no server of the port covers: 404, even with a VirtualService for it" ||
	not_ok "host outside the servers (got $code)"

# ---- MUTUAL ----
set +e
https mutual.example.com "$P8443" -o /dev/null
rc_none=$?
https mutual.example.com "$P8443" --cert "$tmp/stranger.pem" --key "$tmp/stranger.key" -o /dev/null
rc_rogue=$?
https mutual.example.com "$P8443" --cert "$tmp/client2.pem" --key "$tmp/client2.key" -o /dev/null
rc_san=$?
set -e
code=$(https mutual.example.com "$P8443" --cert "$tmp/client.pem" --key "$tmp/client.key" -o "$tmp/b" -w '%{http_code} %{http_version}' || true)
[ $rc_none -ne 0 ] && ok "MUTUAL: without a client certificate the connection is refused" ||
	not_ok "MUTUAL without a certificate (curl exit $rc_none)"
[ $rc_rogue -ne 0 ] && ok "MUTUAL: a certificate from another CA is refused" ||
	not_ok "MUTUAL with a foreign certificate (curl exit $rc_rogue)"
[ $rc_san -ne 0 ] && ok "MUTUAL: a certificate without one of the subjectAltNames is refused" ||
	not_ok "MUTUAL subjectAltNames (curl exit $rc_san)"
[ "$code" = "200 2" ] && ok "MUTUAL: with the client certificate, accepted (HTTP/2)" ||
	not_ok "MUTUAL with the certificate (got '$code')"
xfcc=$(json "$tmp/b" 'd["headers"].get("x-forwarded-client-cert","")')
hash=$(openssl x509 -in "$tmp/client.pem" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
case "$xfcc" in
"Hash=$hash;Cert=\"-----BEGIN%20CERTIFICATE-----%0A"*"\";Subject=\"CN=client\";URI=spiffe://example.com/client")
	ok "MUTUAL: the backend gets x-forwarded-client-cert with the client certificate (Istio's SANITIZE_SET)" ;;
*) not_ok "x-forwarded-client-cert at the gateway (got '$xfcc')" ;;
esac
code=$(https bookinfo.example.com "$P443" -H 'x-forwarded-client-cert: By=forged' -o "$tmp/b" -w '%{http_code}' || true)
[ "$code" = 200 ] && [ -z "$(json "$tmp/b" 'd["headers"].get("x-forwarded-client-cert","")')" ] &&
	ok "a client's own x-forwarded-client-cert is removed" || not_ok "forged XFCC (got $code)"
[ "$(counter ssl_fail_verify)" -ge 2 ] && ok "refused client certificates are counted (ssl_fail_verify)" ||
	not_ok "ssl_fail_verify ($(counter ssl_fail_verify))"

# ---- ISTIO_MUTUAL: the proxy's own identity ----
set +e
curl -s --max-time 5 -k -o /dev/null "https://127.0.0.1:$P10443/"
rc=$?
set -e
code=$(curl -s --max-time 5 -k --cert "$tmp/sleepid/cert.pem" --key "$tmp/sleepid/key.pem" \
	-H 'Host: bookinfo.example.com' -o "$tmp/b" -w '%{http_code}' "https://127.0.0.1:$P10443/" || true)
[ $rc -ne 0 ] && [ "$code" = 200 ] && [ "$(json "$tmp/b" 'd["name"]')" = v1 ] &&
	json "$tmp/b" 'd["headers"]["x-forwarded-client-cert"]' |
	grep -q "^By=spiffe://cluster.local/ns/istio-system/sa/ingress;Hash=.*;URI=spiffe://cluster.local/ns/default/sa/sleep$" &&
	ok "ISTIO_MUTUAL: served with the gateway's SVID, a mesh client certificate required" ||
	not_ok "ISTIO_MUTUAL (no certificate: exit $rc; with one: $code)"

# ---- a bad server does not take the others down ----
set +e
https broken.example.com "$P9443" -o /dev/null
rc=$?
set -e
code=$(https fine.example.com "$P9443" -o /dev/null -w '%{http_code}' || true)
[ $rc -ne 0 ] && [ "$code" = 200 ] &&
	ok "the server whose certificate is missing is not served; the other server of its port is" ||
	not_ok "missing certificate (broken: exit $rc, fine: $code)"

# ---- TCP and TLS-terminated TCP ----
tcp_roundtrip() { # PORT [SNI]: send a line, print what comes back
	python3 - "$@" <<'EOF'
import socket, ssl, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
if len(sys.argv) > 2:
    ctx = ssl.create_default_context(cafile=sys.argv[3])
    s = ctx.wrap_socket(s, server_hostname=sys.argv[2])
s.sendall(b"hello gateway\n")
print(s.recv(100).decode().strip())
EOF
}
[ "$(tcp_roundtrip "$P31400" 2>/dev/null)" = "hello gateway" ] &&
	ok "TCP server: bytes relayed by the Gateway's tcp route" || not_ok "TCP server"
[ "$(tcp_roundtrip "$P9000" tcp.example.com "$tmp/ca.pem" 2>/dev/null)" = "hello gateway" ] &&
	ok "TLS server (SIMPLE): TLS ends at the gateway, bytes relayed by the tcp route" ||
	not_ok "TLS-terminated TCP"

# ---- reloads: the certificate file swapped, then broken ----
gen=$(counter config_generation)
cp "$tmp/rotated.pem" "$tmp/bookinfo.pem.new"
mv "$tmp/bookinfo.pem.new" "$tmp/bookinfo.pem"
i=0
until subject bookinfo.example.com "$P443" | grep -q "O = rotated" || [ $i -gt 60 ]; do
	sleep 0.1
	i=$((i + 1))
done
subject bookinfo.example.com "$P443" | grep -q "O = rotated" &&
	[ "$(https bookinfo.example.com "$P443" -o /dev/null -w '%{http_code}')" = 200 ] &&
	ok "the certificate file replaced (config unchanged): new handshakes get the new certificate" ||
	not_ok "certificate swap (generation $gen -> $(counter config_generation))"
kept() { grep -c "keeping the certificate loaded before for port 443" "$tmp/gw.log" || true; }
n0=$(kept)
echo "not a certificate" >"$tmp/bookinfo.pem.new"
mv "$tmp/bookinfo.pem.new" "$tmp/bookinfo.pem"
i=0
until [ "$(kept)" -gt "$n0" ] || [ $i -gt 60 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ "$(kept)" -gt "$n0" ] &&
	subject bookinfo.example.com "$P443" | grep -q "O = rotated" &&
	[ "$(https bookinfo.example.com "$P443" -o /dev/null -w '%{http_code}')" = 200 ] &&
	ok "a broken certificate file: a warning, and the last good certificate keeps serving" ||
	not_ok "broken certificate on reload"
cp "$tmp/rotated.pem" "$tmp/bookinfo.pem"

# ---- reloads: ports ----
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H 'Host: web.example.com' "http://127.0.0.1:$P8080/" || true)
# two port numbers no Gateway used at start (free now: the reload binds
# them as they are, as a gateway pod's Envoy does)
late_tls=$(free_port)
late_http=$(free_port)
cat >"$tmp/late.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: late, namespace: default}
spec:
  selector: {app: istio-ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: $late_tls, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, serverCertificate: /no/such.pem, privateKey: /no/such.key}
  - port: {number: $late_http, name: http-new, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: late, namespace: default}
spec:
  hosts: ["*"]
  gateways: [late]
  http: [{route: [{destination: {host: productpage, port: {number: 9080}}}]}]
EOF
mv "$tmp/late.yaml" "$tmp/cfg/late.yaml"
late_open() { grep -q "(Gateway port $late_http): opened for a new server" "$tmp/gw.log"; }
wait_for 10 late_open || true
# (the line is logged while the configuration is built; the workers take
# it up a moment later)
pre_served() {
	[ "$(curl -s --max-time 5 -o "$tmp/b" -w '%{http_code}' -H 'Host: any.example.com' "http://127.0.0.1:$P8080/" || true)" = 200 ]
}
wait_for 5 pre_served || true
code2=$(curl -s --max-time 5 -o "$tmp/b" -w '%{http_code}' -H 'Host: any.example.com' "http://127.0.0.1:$P8080/" || true)
[ "$code" = 000 ] && [ "$code2" = 200 ] && [ "$(json "$tmp/b" 'd["name"]')" = v1 ] &&
	ok "a --gateway-port opened before any server used it serves the Gateway a reload added" ||
	not_ok "pre-opened port (before: $code, after: $code2)"
late_served() {
	[ "$(curl -s --max-time 5 -o "$tmp/b" -w '%{http_code}' -H 'Host: any.example.com' "http://127.0.0.1:$late_http/" || true)" = 200 ]
}
# every worker takes the new socket up when it next wakes: several tries,
# each on a new connection
if late_open && wait_for 5 late_served && [ "$(json "$tmp/b" 'd["name"]')" = v1 ] &&
	late_served && late_served && late_served; then
	ok "a port that only a reload brought gets a listener and serves its Gateway"
else
	not_ok "late port $late_http: $(grep -c 'opened for a new server' "$tmp/gw.log") opened; $(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$late_http/" || true)"
	grep -i "gateway" "$tmp/gw.log" | tail -5 | sed 's/^/    | /'
fi
grep -q "has no gateway listener" "$tmp/gw.log" &&
	not_ok "a port reported without a listener: $(grep 'has no gateway listener' "$tmp/gw.log" | head -2)" ||
	ok "every Gateway port had its listener: no 'has no gateway listener' warning, at start or after"
grep -q "(Gateway port $late_tls): opened for a new server" "$tmp/gw.log" &&
	[ "$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$late_tls/" || true)" = 000 ] &&
	ok "... and one whose server has no usable certificate: opened, connections closed" ||
	not_ok "late TLS port without a certificate"
curl -s "http://127.0.0.1:$adm/listeners" >"$tmp/listeners"
python3 - "$tmp/listeners" <<'EOF' && ok "/listeners shows each gateway port's servers" || not_ok "/listeners"
import json, sys
ls = {l["target"]: l for l in json.load(open(sys.argv[1])) if l["kind"] == "gateway"}
s443 = ls["443"]["servers"]
assert [s["protocol"] for s in s443] == ["HTTPS", "HTTPS", "TLS"], s443
assert s443[1]["hosts"] == ["default/other.example.com"], s443
assert s443[2]["tls"] == "PASSTHROUGH", s443
assert ls["80"]["servers"][0]["httpsRedirect"] is True
assert ls["8080"]["servers"][0]["gateway"] == "default/late"
EOF

kill -TERM "$proxy"
wait "$proxy" 2>/dev/null && ok "the gateway drains and exits 0 on SIGTERM" || not_ok "exit status on SIGTERM"
sanitizer_check "$tmp/gw.log"
finish
