#!/bin/sh
# meshctl ca as an operator runs it: init, issue and inspect with their exit
# codes and file modes; the certificates as OpenSSL sees them (verify,
# x509 -text); and a real mutual TLS 1.3 handshake between openssl s_server
# and s_client with two issued SVIDs, refused for a certificate of another CA.
set -eu
. "$(dirname "$0")/lib.sh"
M=${MESHCTL:?}
if ! command -v openssl >/dev/null; then
	echo "openssl command not found: skipped"
	exit 77
fi
# a directory of our own name (lib.sh's default is swept by other clean-ups)
rm -rf "$tmp"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/meshctl-ca-test.XXXXXX")
spids=""
cleanup() {
	for p in $spids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
T=$tmp

# expect_mode WHAT FILE MODE
expect_mode() {
	got=$(stat -c %a "$2" 2>/dev/null || echo missing)
	if [ "$got" = "$3" ]; then ok "$1"; else not_ok "$1 (mode $got, wanted $3)"; fi
}

# expect_text WHAT FILE TEXT: FILE contains TEXT
expect_text() {
	if grep -qF -- "$3" "$2"; then ok "$1"; else
		not_ok "$1 (no '$3')"
		sed 's/^/    | /' "$2" | head -40
	fi
}

# ---- usage and bad input ----
expect_status "ca without a command is a usage error" 2 "$M" ca
expect_status "ca help" 0 "$M" ca --help
expect_output "help lists init" "meshctl ca init"
expect_status "init without --out" 2 "$M" ca init --trust-domain cluster.local
expect_status "bad trust domain" 2 "$M" ca init --trust-domain 'Cluster_Local:80' --out "$T/x"
expect_text "bad trust domain explained" "$T/err" "invalid trust domain"
expect_status "bad key type" 2 "$M" ca init --trust-domain cluster.local --out "$T/x" --key-type dsa
expect_status "bad duration" 2 "$M" ca init --trust-domain cluster.local --out "$T/x" --ttl 10y
[ ! -e "$T/x" ] && ok "nothing written on bad input" || not_ok "nothing written on bad input"

# ---- init ----
expect_status "init root + intermediate" 0 "$M" ca init --trust-domain cluster.local \
	--out "$T/ca" --intermediate
expect_output "init reports" "created root + intermediate CA for trust domain cluster.local"
for f in root-cert.pem root-key.pem ca-cert.pem ca-key.pem cert-chain.pem trust-bundle.pem; do
	[ -s "$T/ca/$f" ] && ok "init wrote $f" || not_ok "init wrote $f"
done
expect_mode "root key is 0600" "$T/ca/root-key.pem" 600
expect_mode "intermediate key is 0600" "$T/ca/ca-key.pem" 600
expect_mode "root cert is 0644" "$T/ca/root-cert.pem" 644
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/ca/cert-chain.pem")" = 2 ] &&
	ok "cert-chain.pem is intermediate + root" || not_ok "cert-chain.pem is intermediate + root"
openssl x509 -in "$T/ca/root-cert.pem" -noout -text >"$T/root.txt"
expect_text "root: CA:TRUE" "$T/root.txt" "CA:TRUE"
expect_text "root: basicConstraints critical" "$T/root.txt" "X509v3 Basic Constraints: critical"
expect_text "root: keyCertSign + cRLSign" "$T/root.txt" "Certificate Sign, CRL Sign"
expect_text "root: SPIFFE trust domain SAN" "$T/root.txt" "URI:spiffe://cluster.local"
expect_text "root: subject key identifier" "$T/root.txt" "X509v3 Subject Key Identifier"
expect_text "root: EC P-256" "$T/root.txt" "NIST CURVE: P-256"
expect_status "re-init is refused" 2 "$M" ca init --trust-domain cluster.local --out "$T/ca"
expect_text "re-init explained" "$T/err" "already holds a CA key"

# ---- issue ----
expect_status "issue reviews" 0 "$M" ca issue --ca "$T/ca" --namespace default \
	--service-account reviews --ttl 1h --out "$T/reviews"
expect_output "issue reports the ID" "issued spiffe://cluster.local/ns/default/sa/reviews"
expect_mode "workload key is 0600" "$T/reviews/key.pem" 600
expect_mode "workload cert is 0644" "$T/reviews/cert.pem" 644
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/reviews/cert.pem")" = 2 ] &&
	ok "cert.pem is leaf + intermediate" || not_ok "cert.pem is leaf + intermediate"
cmp -s "$T/reviews/trust-bundle.pem" "$T/ca/trust-bundle.pem" &&
	ok "trust bundle handed out" || not_ok "trust bundle handed out"
expect_status "issue ratings" 0 "$M" ca issue --ca "$T/ca" -n default \
	--service-account ratings --out "$T/ratings"

expect_status "openssl verify accepts the SVID" 0 openssl verify \
	-CAfile "$T/reviews/trust-bundle.pem" -untrusted "$T/reviews/cert.pem" "$T/reviews/cert.pem"
expect_status "... as a TLS server" 0 openssl verify -purpose sslserver \
	-CAfile "$T/reviews/trust-bundle.pem" -untrusted "$T/reviews/cert.pem" "$T/reviews/cert.pem"
expect_status "... and as a TLS client" 0 openssl verify -purpose sslclient \
	-CAfile "$T/reviews/trust-bundle.pem" -untrusted "$T/reviews/cert.pem" "$T/reviews/cert.pem"
openssl x509 -in "$T/reviews/cert.pem" -noout -text >"$T/leaf.txt"
expect_text "leaf: SPIFFE ID as URI SAN" "$T/leaf.txt" \
	"URI:spiffe://cluster.local/ns/default/sa/reviews"
expect_text "leaf: SAN critical (empty subject)" "$T/leaf.txt" \
	"X509v3 Subject Alternative Name: critical"
expect_text "leaf: CA:FALSE" "$T/leaf.txt" "CA:FALSE"
expect_text "leaf: keyUsage critical" "$T/leaf.txt" "X509v3 Key Usage: critical"
expect_text "leaf: digitalSignature" "$T/leaf.txt" "Digital Signature"
expect_text "leaf: serverAuth + clientAuth" "$T/leaf.txt" \
	"TLS Web Server Authentication, TLS Web Client Authentication"
if grep -qE 'DNS:|Certificate Sign|CRL Sign' "$T/leaf.txt"; then
	not_ok "leaf: no DNS SAN, no signing usages"
else ok "leaf: no DNS SAN, no signing usages"; fi
[ "$(grep -c 'URI:' "$T/leaf.txt")" = 1 ] && ok "leaf: one URI SAN" || not_ok "leaf: one URI SAN"
openssl pkey -in "$T/reviews/key.pem" -pubout >"$T/k.pub"
openssl x509 -in "$T/reviews/cert.pem" -pubkey -noout >"$T/c.pub"
cmp -s "$T/k.pub" "$T/c.pub" && ok "key.pem belongs to cert.pem" || not_ok "key.pem belongs to cert.pem"

# ---- issue: errors ----
expect_status "issue from a missing CA dir" 2 "$M" ca issue --ca "$T/nope" -n default \
	--service-account a --out "$T/w"
expect_text "missing CA dir explained" "$T/err" "not a CA directory"
mkdir "$T/empty"
expect_status "issue from an empty dir" 2 "$M" ca issue --ca "$T/empty" -n default \
	--service-account a --out "$T/w"
expect_text "empty dir explained" "$T/err" "neither ca-key.pem nor root-key.pem"
cp -r "$T/ca" "$T/corrupt"
echo garbage >"$T/corrupt/ca-key.pem"
expect_status "issue from a corrupt CA" 1 "$M" ca issue --ca "$T/corrupt" -n default \
	--service-account a --out "$T/w"
expect_text "corrupt key named" "$T/err" "corrupt/ca-key.pem: error: not a private key"
chmod 000 "$T/corrupt/ca-key.pem"
if [ "$(id -u)" != 0 ]; then
	expect_status "unreadable CA key" 2 "$M" ca issue --ca "$T/corrupt" -n default \
		--service-account a --out "$T/w"
	expect_text "unreadable key explained" "$T/err" "Permission denied"
fi
expect_status "bad service account" 2 "$M" ca issue --ca "$T/ca" -n default \
	--service-account 'a/b' --out "$T/w"
expect_text "bad service account explained" "$T/err" "invalid service account"

# A lifetime beyond the CA's is cut to it, with a warning.
expect_status "short-lived CA" 0 "$M" ca init --trust-domain short.test --out "$T/short" --ttl 2h
expect_status "issue past the CA's end" 0 "$M" ca issue --ca "$T/short" -n default \
	--service-account a --ttl 48h --out "$T/cut"
expect_text "warning says it is cut" "$T/err" "cut to end with it"
ca_end=$(openssl x509 -in "$T/short/root-cert.pem" -noout -enddate)
leaf_end=$(openssl x509 -in "$T/cut/cert.pem" -noout -enddate)
[ "$ca_end" = "$leaf_end" ] && ok "leaf ends with the CA" || not_ok "leaf ends with the CA ($ca_end / $leaf_end)"

# RSA keys: keyEncipherment as well.
expect_status "RSA CA" 0 "$M" ca init --trust-domain rsa.test --out "$T/rsa" --key-type rsa-2048
expect_status "RSA SVID" 0 "$M" ca issue --ca "$T/rsa" -n ns1 --service-account sa1 \
	--key-type rsa-3072 --out "$T/rsaw"
openssl x509 -in "$T/rsaw/cert.pem" -noout -text >"$T/rsa.txt"
expect_text "RSA leaf: keyEncipherment" "$T/rsa.txt" "Digital Signature, Key Encipherment"
expect_text "RSA leaf: 3072 bits" "$T/rsa.txt" "Public-Key: (3072 bit)"

# ---- inspect ----
expect_status "inspect a valid SVID" 0 "$M" ca inspect "$T/reviews/cert.pem"
expect_output "inspect: SPIFFE ID" "SPIFFE ID:   spiffe://cluster.local/ns/default/sa/reviews"
expect_output "inspect: issuer" "Issuer:      O=cluster.local, CN=Intermediate CA"
expect_output "inspect: key" "Key:         ec-p256 (256 bits)"
expect_output "inspect: time to expiry" "Expires in:  "
expect_output "inspect: chain status from the bundle beside it" "Chain:       valid X.509-SVID"
expect_status "inspect the root" 0 "$M" ca inspect "$T/ca/root-cert.pem"
expect_output "inspect: root is self-signed" "yes (self-signed root)"
expect_status "inspect against a foreign bundle" 1 "$M" ca inspect "$T/reviews/cert.pem" \
	--bundle "$T/rsa/trust-bundle.pem"
expect_output "inspect: wrong trust domain" "INVALID against"
expect_output "inspect: why" "wrong-trust-domain"
echo "not a certificate" >"$T/junk.pem"
expect_status "inspect junk" 1 "$M" ca inspect "$T/junk.pem"
expect_text "junk explained" "$T/err" "no certificate in the file"
expect_status "inspect a missing file" 2 "$M" ca inspect "$T/missing.pem"
expect_text "missing file named" "$T/err" "missing.pem: error: cannot open"
expect_status "issue a 1 s SVID" 0 "$M" ca issue --ca "$T/ca" -n default \
	--service-account brief --ttl 1s --out "$T/brief"
sleep 2
expect_status "inspect an expired SVID" 1 "$M" ca inspect "$T/brief/cert.pem"
expect_output "expired explained" "expired: the certificate expired at"

# ---- CA rotation: two roots in one bundle ----
expect_status "a second root for the same trust domain" 0 "$M" ca init \
	--trust-domain cluster.local --out "$T/ca2"
expect_status "issue from the new root" 0 "$M" ca issue --ca "$T/ca2" -n default \
	--service-account details --out "$T/details"
cat "$T/ca/root-cert.pem" "$T/ca2/root-cert.pem" >"$T/both.pem"
expect_status "old SVID valid with both roots" 0 "$M" ca inspect "$T/reviews/cert.pem" \
	--bundle "$T/both.pem"
expect_output "two roots counted" "2 roots"
expect_status "new SVID valid with both roots" 0 "$M" ca inspect "$T/details/cert.pem" \
	--bundle "$T/both.pem"
expect_status "new SVID not valid with the old root alone" 1 "$M" ca inspect \
	"$T/details/cert.pem" --bundle "$T/ca/trust-bundle.pem"
expect_output "untrusted explained" "untrusted"
cp "$T/both.pem" "$T/ca2/trust-bundle.pem"
expect_status "a CA dir with a two-root bundle issues" 0 "$M" ca issue --ca "$T/ca2" \
	-n default --service-account rotated --out "$T/rotated"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/rotated/trust-bundle.pem")" = 2 ] &&
	ok "workloads get both roots" || not_ok "workloads get both roots"

# ---- mutual TLS 1.3 with openssl s_server / s_client ----
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# chain_of DIR: the intermediates of DIR/cert.pem (all but the first
# certificate) in DIR/chain.pem; sets chain_opt to the -cert_chain option,
# or nothing for an SVID issued by the root itself
chain_of() {
	awk '/BEGIN CERTIFICATE/ { n++ } n > 1' "$1/cert.pem" >"$1/chain.pem"
	chain_opt=
	[ -s "$1/chain.pem" ] && chain_opt="-cert_chain $1/chain.pem"
	return 0
}

# start_server DIR: s_server with DIR's SVID, requiring a client certificate
# from the bundle; answers one request (-www) then exits. Sets sport, slog.
start_server() {
	sport=$(free_port)
	chain_of "$1"
	nserver=$((${nserver:-0} + 1))
	slog=$T/server.$nserver.log # a fresh file: an old ACCEPT must not count
	openssl s_server -accept "127.0.0.1:$sport" -naccept 1 -www -tls1_3 \
		-cert "$1/cert.pem" $chain_opt -key "$1/key.pem" \
		-CAfile "$1/trust-bundle.pem" -Verify 1 -verify_return_error \
		>"$slog" 2>&1 &
	spids="$spids $!"
	i=0
	while ! grep -q ACCEPT "$slog" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

# wait_server: until the one-shot server has exited (5 s at most)
wait_server() {
	last=${spids##* }
	i=0
	while kill -0 "$last" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill "$last" 2>/dev/null || true
}

# client DIR [BUNDLE]: s_client with DIR's SVID (none if DIR is "-")
client() {
	dir=$1
	bundle=${2:-$1/trust-bundle.pem}
	set -- -connect "127.0.0.1:$sport" -tls1_3 -CAfile "$bundle" -verify_return_error -ign_eof
	if [ "$dir" != - ]; then
		chain_of "$dir"
		set -- "$@" -cert "$dir/cert.pem" $chain_opt -key "$dir/key.pem"
	fi
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client "$@" >"$T/client.log" 2>&1 || true
}

start_server "$T/reviews"
client "$T/ratings"
expect_text "mTLS 1.3 handshake succeeds" "$T/client.log" "TLSv1.3"
expect_text "server accepted the client SVID" "$T/client.log" "HTTP/1.0 200 ok"
expect_text "client verified the server SVID" "$T/client.log" "Verify return code: 0 (ok)"
wait_server

start_server "$T/reviews"
client "$T/details" "$T/reviews/trust-bundle.pem" # SVID of another CA (same trust domain)
if grep -qF "HTTP/1.0 200 ok" "$T/client.log"; then
	not_ok "a client SVID from another CA is refused"
	sed 's/^/    | /' "$T/client.log" "$slog" | head -30
else ok "a client SVID from another CA is refused"; fi
wait_server
expect_text "server names the failure" "$slog" "unable to get local issuer certificate"

start_server "$T/reviews"
client - "$T/reviews/trust-bundle.pem"
if grep -qF "HTTP/1.0 200 ok" "$T/client.log"; then
	not_ok "a client without a certificate is refused"
else ok "a client without a certificate is refused"; fi
wait_server

start_server "$T/details" # server SVID from the other CA
client "$T/ratings"
expect_text "client refuses a server SVID from another CA" "$T/client.log" \
	"certificate verify failed"
wait_server

# ---- the CA server: enrolment with a bootstrap token, renewal by SVID ----
if command -v curl >/dev/null; then
	tok=$(openssl rand -hex 16)
	printf '# test tokens\n%s spiffe://cluster.local/ns/default/sa/enrolled\n' "$tok" >"$T/tokens"
	printf 'short spiffe://cluster.local/ns/a/sa/b\n' >"$T/badtokens"
	expect_status "serve refuses a bad tokens file" 1 "$M" ca serve --ca "$T/ca" \
		--listen 127.0.0.1:0 --tokens "$T/badtokens"
	expect_text "bad token line named" "$T/err" "badtokens:1:1: error"
	expect_status "serve refuses a bad --listen" 2 "$M" ca serve --ca "$T/ca" --listen nowhere
	"$M" ca serve --ca "$T/ca" --listen 127.0.0.1:0 --tokens "$T/tokens" --ttl 2h \
		--port-file "$T/ca.port" 2>"$T/serve.log" &
	spids="$spids $!"
	i=0
	while [ ! -s "$T/ca.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	url=https://localhost:$(cat "$T/ca.port")
	# the workload makes its key and CSR; the key never leaves it
	mkdir "$T/enrol"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=ignored \
		-keyout "$T/enrol/key.pem" -out "$T/enrol/csr.pem" \
		-addext "subjectAltName=URI:spiffe://cluster.local/ns/default/sa/enrolled" 2>/dev/null
	post() { # post WHAT WANT-CODE OUT CURL-ARGS...: POST the CSR, check the status
		what=$1 want=$2 out=$3
		shift 3
		code=$(curl -sS -o "$out" -w '%{http_code}' --cacert "$T/ca/trust-bundle.pem" \
			--data-binary @"$T/enrol/csr.pem" "$@" "$url/v1/sign" 2>"$T/curl.err" || true)
		if [ "$code" = "$want" ]; then ok "$what"; else
			not_ok "$what (HTTP $code, wanted $want)"
			sed 's/^/    | /' "$out" "$T/curl.err" 2>/dev/null | head -10
		fi
	}
	post "no credentials: 401" 401 "$T/enrol/resp" 
	post "a wrong token: 401" 401 "$T/enrol/resp" -H "Authorization: Bearer wrong-token-0123456789"
	post "enrolment with the bootstrap token" 200 "$T/enrol/cert.pem" -H "Authorization: Bearer $tok"
	expect_status "the enrolled SVID is valid" 0 "$M" ca inspect "$T/enrol/cert.pem" \
		--bundle "$T/ca/trust-bundle.pem"
	expect_output "for the token's identity" "spiffe://cluster.local/ns/default/sa/enrolled"
	post "the token is single-use" 401 "$T/enrol/resp" -H "Authorization: Bearer $tok"
	if grep -qF "$tok" "$T/tokens"; then not_ok "used token removed from the file"; else
		ok "used token removed from the file"; fi
	expect_mode "tokens file stays 0600" "$T/tokens" 600
	post "renewal with the current SVID" 200 "$T/enrol/renewed.pem" \
		--cert "$T/enrol/cert.pem" --key "$T/enrol/key.pem"
	expect_status "the renewed SVID is valid" 0 "$M" ca inspect "$T/enrol/renewed.pem" \
		--bundle "$T/ca/trust-bundle.pem"
	post "an SVID cannot get another identity" 403 "$T/enrol/resp" \
		--cert "$T/reviews/cert.pem" --key "$T/reviews/key.pem"
	expect_text "403 explained" "$T/enrol/resp" "the requester is"
	post "an SVID of another CA fails the handshake" 000 "$T/enrol/resp" \
		--cert "$T/details/cert.pem" --key "$T/details/key.pem"
	code=$(curl -sS -o "$T/bundle.pem" -w '%{http_code}' --cacert "$T/ca/trust-bundle.pem" \
		"$url/v1/bundle" || true)
	[ "$code" = 200 ] && cmp -s "$T/bundle.pem" "$T/ca/trust-bundle.pem" &&
		ok "GET /v1/bundle" || not_ok "GET /v1/bundle (HTTP $code)"
	expect_text "server log names the renewal" "$T/serve.log" "(renewal)"
else
	echo "# curl not found: CA server checks skipped"
fi

finish
