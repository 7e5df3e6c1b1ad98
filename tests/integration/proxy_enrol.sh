#!/bin/bash
# proxy_enrol.sh - a sidecar that gets its identity from the CA server:
# `meshctl ca serve` with a one-time bootstrap token, `meshproxy --ca-url`
# (the key is made inside the proxy), automatic renewal at half-life while
# openssl s_client keeps making mTLS requests, a used token refused, and a
# CA server the proxy must not trust.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_lib.sh"
M=${MESHCTL:?}
command -v openssl >/dev/null || { echo "openssl not found: skipped"; exit 77; }

$M ca init --trust-domain cluster.local --out "$tmp/ca" >/dev/null
$M ca init --trust-domain cluster.local --out "$tmp/other" >/dev/null
$M ca issue --ca "$tmp/ca" --namespace default --service-account productpage --out "$tmp/cli" >/dev/null
token=bootstrap-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
echo "$token spiffe://cluster.local/ns/default/sa/reviews" >"$tmp/tokens"
echo "$token" >"$tmp/token"
chmod 600 "$tmp/tokens" "$tmp/token"
# SVIDs of 8 s: the proxy renews about every 4 s
$M ca serve --ca "$tmp/ca" --listen 127.0.0.1:0 --tokens "$tmp/tokens" --ttl 8s \
	--port-file "$tmp/ca.port" >"$tmp/serve.log" 2>&1 &
pids="$pids $!"
wait_file "$tmp/ca.port" || { echo "CA server did not start"; cat "$tmp/serve.log"; exit 1; }
caport=$(cat "$tmp/ca.port")

start_echo app
app=$port
mkdir -p "$tmp/cfg"
printf 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec:\n  mtls: {mode: STRICT}\n' >"$tmp/cfg/pa.yaml"

mkdir -p "$tmp/state"
"$P" --config "$tmp/cfg" --inbound 0:"$app" --admin 0 --concurrency 1 \
	--ca-url "https://127.0.0.1:$caport" --ca-bundle "$tmp/ca/trust-bundle.pem" \
	--bootstrap-token "$tmp/token" --service-account reviews --cert-dir "$tmp/state" \
	>"$tmp/p.log" 2>&1 &
proxy=$!
pids="$pids $proxy"
i=0
while ! grep -qs "admin listener" "$tmp/p.log" && [ $i -lt 200 ] && kill -0 $proxy 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
inb=$(sed -n 's/.*inbound listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/p.log")
adm=$(sed -n 's/.*admin listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/p.log")
[ -n "$inb" ] && [ -n "$adm" ] || { echo "meshproxy did not start"; cat "$tmp/p.log"; exit 1; }
i=0
until curl -s "http://127.0.0.1:$adm/certs" | grep -q '"identity":"spiffe' || [ $i -gt 100 ]; do sleep 0.05; i=$((i + 1)); done

curl -s "http://127.0.0.1:$adm/certs" >"$tmp/out"
expect_output "the proxy enrolled with the bootstrap token" '"identity":"spiffe://cluster.local/ns/default/sa/reviews"'
grep -q "$token" "$tmp/tokens" && not_ok "the CA server struck the used token from its file" ||
	ok "the CA server struck the used token from its file"
grep -q "issued spiffe://cluster.local/ns/default/sa/reviews (bootstrap token)" "$tmp/serve.log" &&
	ok "the CA server logged the enrolment" || not_ok "CA server enrolment log"

s_get() {
	printf 'GET /x HTTP/1.1\r\nHost: reviews\r\nConnection: close\r\n\r\n' |
		timeout 5 openssl s_client -quiet -connect "127.0.0.1:$inb" -CAfile "$tmp/ca/root-cert.pem" \
			-cert "$tmp/cli/cert.pem" -key "$tmp/cli/key.pem" 2>/dev/null | head -1 | tr -d '\r'
}
[ "$(s_get)" = "HTTP/1.1 200 OK" ] && ok "mTLS with the enrolled SVID: 200" || not_ok "mTLS with the enrolled SVID"
# the server certificate the client sees is the enrolled one
echo | timeout 5 openssl s_client -connect "127.0.0.1:$inb" -CAfile "$tmp/ca/root-cert.pem" \
	-cert "$tmp/cli/cert.pem" -key "$tmp/cli/key.pem" 2>/dev/null | openssl x509 -noout -ext subjectAltName >"$tmp/out" 2>&1 || true
expect_output "the proxy presents the SVID the CA issued" "URI:spiffe://cluster.local/ns/default/sa/reviews"

# renewal at half-life under steady requests
g0=$(curl -s "http://127.0.0.1:$adm/certs" | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
okn=0 bad=0
end=$(($(date +%s) + 10))
while [ "$(date +%s)" -lt "$end" ]; do
	if [ "$(s_get)" = "HTTP/1.1 200 OK" ]; then okn=$((okn + 1)); else bad=$((bad + 1)); fi
done
g1=$(curl -s "http://127.0.0.1:$adm/certs" | sed -n 's/.*"generation":\([0-9]*\).*/\1/p')
[ "$g1" -ge $((g0 + 2)) ] && ok "the SVID was renewed $((g1 - g0)) times in 10 s (8 s lifetime, renewal at half-life)" ||
	not_ok "automatic renewal (generations $g0 -> $g1)"
[ "$bad" = 0 ] && [ "$okn" -gt 5 ] && ok "$okn mTLS requests across the renewals, 0 failed" ||
	not_ok "requests across renewals ($okn ok, $bad failed)"
grep -q "issued spiffe://cluster.local/ns/default/sa/reviews (renewal)" "$tmp/serve.log" &&
	ok "renewals authenticate with the current SVID, not the token" || not_ok "renewal log"
left=$(curl -s "http://127.0.0.1:$adm/certs" | sed -n 's/.*"secondsToExpiry":\([-0-9]*\).*/\1/p')
[ "$left" -gt 0 ] && ok "the SVID in use has not expired ($left s left)" || not_ok "SVID expiry ($left)"

# a second proxy with the used token cannot start, and says why
expect_status "a used bootstrap token: the proxy refuses to start (exit 1)" 1 timeout 20 "$P" --config "$tmp/cfg" \
	--inbound 0:"$app" --ca-url "https://127.0.0.1:$caport" --ca-bundle "$tmp/ca/trust-bundle.pem" \
	--bootstrap-token "$tmp/token" --service-account reviews
grep -q "401 unknown or used bootstrap token" "$tmp/err" && ok "... with the CA server's reason" ||
	{ not_ok "used-token message"; sed 's/^/    | /' "$tmp/err" | head -5; }
# a CA server whose certificate does not chain to --ca-bundle
echo "another-token-0123456789" >"$tmp/token2"
expect_status "an untrusted CA server: the proxy refuses to start" 1 timeout 20 "$P" --config "$tmp/cfg" \
	--inbound 0:"$app" --ca-url "https://127.0.0.1:$caport" --ca-bundle "$tmp/other/trust-bundle.pem" \
	--bootstrap-token "$tmp/token2" --service-account reviews
grep -qi "certificate" "$tmp/err" && ok "... naming the certificate problem" ||
	{ not_ok "untrusted CA message"; sed 's/^/    | /' "$tmp/err" | head -5; }

# the identity is kept in --cert-dir: a restart renews with it, no token needed
[ "$(stat -c %a "$tmp/state/key.pem")" = 600 ] && ok "the kept private key is mode 0600" ||
	not_ok "state dir key mode"
kill -TERM $proxy
wait $proxy 2>/dev/null || true
sanitizer_check "$tmp/p.log"
rm -f "$tmp/token" # gone: the restart must not need it
echo "never-used-token-0123456789" >"$tmp/token"
"$P" --config "$tmp/cfg" --inbound 0:"$app" --admin 0 --concurrency 1 \
	--ca-url "https://127.0.0.1:$caport" --ca-bundle "$tmp/ca/trust-bundle.pem" \
	--bootstrap-token "$tmp/token" --service-account reviews --cert-dir "$tmp/state" \
	>"$tmp/p2.log" 2>&1 &
proxy=$!
pids="$pids $proxy"
i=0
while ! grep -qs "admin listener" "$tmp/p2.log" && [ $i -lt 200 ] && kill -0 $proxy 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
inb=$(sed -n 's/.*inbound listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/p2.log")
adm=$(sed -n 's/.*admin listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/p2.log")
# (the identity comes right after the listeners are set up)
i=0
until grep -q "from the state dir" "$tmp/p2.log" || [ $i -gt 100 ]; do sleep 0.05; i=$((i + 1)); done
grep -q "from the state dir" "$tmp/p2.log" && ok "restarted: the identity kept in --cert-dir is taken at once" ||
	{ not_ok "restart from the state dir"; tail -5 "$tmp/p2.log" | sed 's/^/    | /'; }
[ "$(s_get)" = "HTTP/1.1 200 OK" ] && ok "... and serves mTLS" || not_ok "mTLS after restart"
i=0
until grep -q "renewed spiffe://cluster.local/ns/default/sa/reviews" "$tmp/p2.log" || [ $i -gt 160 ]; do sleep 0.05; i=$((i + 1)); done
grep -q "renewed spiffe://cluster.local/ns/default/sa/reviews" "$tmp/p2.log" &&
	ok "... and renews with its SVID (the new token was never used)" || not_ok "renewal after restart"
n=$(grep -c "unknown or used bootstrap token\|(bootstrap token)" "$tmp/serve.log" || true)
# one enrolment by token in the whole test, and the two refusals of the used token earlier
[ "$(grep -c "(bootstrap token)" "$tmp/serve.log")" = 1 ] &&
	ok "the restart made no request with a token (one enrolment by token in all)" ||
	not_ok "token requests after the restart ($n)"
kill -TERM $proxy
sanitizer_check "$tmp/p2.log"
finish
