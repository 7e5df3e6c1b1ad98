#!/bin/sh
# meshecho, the test backend the proxy tests put behind meshproxy, driven by
# real clients: curl (HTTP/1.1 and --http2-prior-knowledge), nghttp when it
# is installed, and a python3 socket for raw TCP echo and bad input.
set -eu
. "$(dirname "$0")/lib.sh"
E=${MESHECHO:?}

pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# one process, four ports: auto (HTTP/1.1 + h2c), TCP echo, h2c only, HTTP/1.1 only
"$E" --name be1 --threads 2 --port-file "$tmp/ports" \
	--listen 127.0.0.1:0 --listen 127.0.0.1:0 --tcp-echo \
	--listen 127.0.0.1:0 --h2c --listen 127.0.0.1:0 --http1 2>"$tmp/meshecho.log" &
pid=$!
i=0
while [ ! -s "$tmp/ports" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
if [ ! -s "$tmp/ports" ]; then
	not_ok "meshecho wrote its ports"
	cat "$tmp/meshecho.log"
	finish
	exit 1
fi
ok "meshecho wrote its ports"
P=$(sed -n 1p "$tmp/ports")
T=$(sed -n 2p "$tmp/ports")
H2=$(sed -n 3p "$tmp/ports")
H1=$(sed -n 4p "$tmp/ports")
U="http://127.0.0.1:$P"

# check WHAT: the last command's output ($tmp/out) matches a jq or grep test
has() { expect_output "$1" "$2"; }
out_is() {
	if [ "$(cat "$tmp/out")" = "$2" ]; then ok "$1"; else
		not_ok "$1 (got '$(head -c 200 "$tmp/out")', wanted '$2')"
	fi
}

# --- HTTP/1.1
expect_status "HTTP/1.1: two URLs on one keep-alive connection" 0 \
	curl -sS -v -H 'x-request-id: r-1' -H 'X-Forwarded-Client-Cert: By=spiffe://a' \
	"$U/first?x=1" "$U/second"
has "first response echoes the path" '"path":"/first?x=1"'
has "second response" '"path":"/second"'
has "protocol" '"protocol":"HTTP/1.1"'
has "name" '"name":"be1"'
has "authority is the Host it got" "\"authority\":\"127.0.0.1:$P\""
has "x-request-id echoed" '"x-request-id":"r-1"'
has "header names lower-cased, values kept" '"x-forwarded-client-cert":"By=spiffe://a"'
if grep -q 'Re-using existing connection' "$tmp/err"; then ok "connection reused"; else
	not_ok "connection reused"
	sed 's/^/    | /' "$tmp/err" | head -20
fi
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' \
		"$tmp/out" && ok "the bodies are JSON" || not_ok "the bodies are JSON"
fi

head -c 300000 /dev/urandom >"$tmp/body"
expect_status "POST echo=1" 0 curl -sS --data-binary @"$tmp/body" "$U/post?echo=1"
if cmp -s "$tmp/out" "$tmp/body"; then ok "echoed body is the request body"; else
	not_ok "echoed body is the request body"
fi
expect_status "POST counts the body" 0 curl -sS --data-binary @"$tmp/body" "$U/post"
has "body_bytes" '"body_bytes":300000'

expect_status "status=503" 0 curl -sS -o /dev/null -w '%{http_code}' "$U/?status=503"
out_is "503 returned" 503
expect_status "x-echo-status header" 0 curl -sS -o /dev/null -w '%{http_code}' \
	-H 'x-echo-status: 418' "$U/"
out_is "418 returned" 418

expect_status "delay=200" 0 curl -sS -o /dev/null -w '%{time_total}' "$U/?delay=200"
if awk -v t="$(cat "$tmp/out")" 'BEGIN { exit !(t >= 0.2) }'; then ok "delay=200 takes >= 200 ms"; else
	not_ok "delay=200 takes >= 200 ms (took $(cat "$tmp/out") s)"
fi

expect_status "size=1048576" 0 curl -sS -o /dev/null -w '%{size_download}' "$U/?size=1048576"
out_is "1 MiB body" 1048576

expect_status "chunked upload" 0 curl -sS -H 'Transfer-Encoding: chunked' \
	--data-binary @"$tmp/body" "$U/chunked"
has "chunked body counted" '"body_bytes":300000'
has "chunked request seen" '"transfer-encoding":"chunked"'
expect_status "chunked upload, echo=1" 0 curl -sS -H 'Transfer-Encoding: chunked' \
	--data-binary @"$tmp/body" "$U/chunked?echo=1"
if cmp -s "$tmp/out" "$tmp/body"; then ok "chunked echo"; else not_ok "chunked echo"; fi

expect_status "Expect: 100-continue" 0 curl -sS -v -H 'Expect: 100-continue' \
	--data-binary @"$tmp/body" "$U/continue"
if grep -q '100 Continue' "$tmp/err"; then ok "100 Continue sent"; else not_ok "100 Continue sent"; fi

expect_status "header= and trailers=1" 0 curl -sS -i --raw \
	"$U/?header=x-added:yes%20it%20is&trailers=1"
has "response header added" "x-added: yes it is"
has "chunked response" "transfer-encoding: chunked"
has "trailer sent" "x-echo-trailer: done"
has "x-echo-name" "x-echo-name: be1"

expect_status "close=1" 0 curl -sS -i "$U/?close=1"
has "connection: close" "connection: close"

expect_status "HEAD" 0 curl -sS -I "$U/?size=12345"
has "HEAD gives the length" "content-length: 12345"

# --- HTTP/2 cleartext (prior knowledge) on the same port. One URL per curl:
# Debian's curl 7.88.1 fails to reuse a prior-knowledge connection for a
# second URL (curl issue 10634); nghttp below runs many streams on one.
expect_status "h2c GET" 0 curl -sS --http2-prior-knowledge -H 'x-request-id: r-2' "$U/h2?a=b"
has "h2c protocol" '"protocol":"HTTP/2"'
has "h2c :authority" "\"authority\":\"127.0.0.1:$P\""
has "h2c headers echoed" '"x-request-id":"r-2"'
expect_status "h2c POST echo=1" 0 curl -sS --http2-prior-knowledge \
	--data-binary @"$tmp/body" "$U/post?echo=1"
if cmp -s "$tmp/out" "$tmp/body"; then ok "h2c echoed body"; else not_ok "h2c echoed body"; fi
expect_status "h2c status=503" 0 curl -sS --http2-prior-knowledge -o /dev/null \
	-w '%{http_code} %{http_version}' "$U/?status=503"
out_is "h2c 503" "503 2"
expect_status "h2c size=1048576" 0 curl -sS --http2-prior-knowledge -o /dev/null \
	-w '%{size_download}' "$U/?size=1048576"
out_is "h2c 1 MiB body" 1048576
expect_status "h2c delay=200" 0 curl -sS --http2-prior-knowledge -o /dev/null \
	-w '%{time_total}' "$U/?delay=200"
if awk -v t="$(cat "$tmp/out")" 'BEGIN { exit !(t >= 0.2) }'; then ok "h2c delay"; else
	not_ok "h2c delay (took $(cat "$tmp/out") s)"
fi
expect_status "--h2c port" 0 curl -sS --http2-prior-knowledge "http://127.0.0.1:$H2/"
has "--h2c port speaks HTTP/2" '"protocol":"HTTP/2"'
if curl -sS -m 5 "http://127.0.0.1:$H2/" >"$tmp/out" 2>&1; then
	not_ok "--h2c port refuses HTTP/1.1"
else ok "--h2c port refuses HTTP/1.1"; fi
expect_status "--http1 port" 0 curl -sS "http://127.0.0.1:$H1/"
has "--http1 port speaks HTTP/1.1" '"protocol":"HTTP/1.1"'

if command -v nghttp >/dev/null; then
	expect_status "nghttp trailers=1" 0 nghttp -v "$U/t?trailers=1&size=10"
	has "HTTP/2 trailer" "x-echo-trailer: done"
	has "trailers end the stream" "END_STREAM | END_HEADERS"
	expect_status "nghttp: many streams on one connection" 0 nghttp -v "$U/s1" "$U/s2?delay=50" \
		"$U/s3?echo=1" "$U/s4?status=503"
	has "stream 1" '"path":"/s1"'
	has "stream 2" '"path":"/s2?delay=50"'
	has "stream 4 status" ':status: 503'
	expect_status "nghttp -m 20" 0 nghttp -n -m 20 "$U/many?delay=20"
	printf '\000\000\000\000\005hello' >"$tmp/grpc"
	expect_status "gRPC echo" 0 nghttp -v -H 'content-type: application/grpc' \
		-H 'te: trailers' -d "$tmp/grpc" "$U/echo.Echo/Say"
	has "gRPC content-type" "content-type: application/grpc"
	has "gRPC status 0" "grpc-status: 0"
	has "gRPC message echoed" "hello"
	expect_status "gRPC error status" 0 nghttp -v -H 'content-type: application/grpc' \
		-H 'x-echo-grpc-status: 14' -d "$tmp/grpc" "$U/echo.Echo/Say"
	has "grpc-status from x-echo-grpc-status" "grpc-status: 14"
else
	echo "# nghttp not installed (Debian nghttp2-client): skipped its checks"
fi

# --- raw sockets: TCP echo with half-close, bad HTTP/1.1 input
if command -v python3 >/dev/null; then
	cat >"$tmp/sock.py" <<'EOF'
import socket, sys
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(5)
if mode == "echo":
    data = bytes(range(256)) * 4096  # 1 MiB
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
else:
    s.sendall(sys.argv[3].encode().decode("unicode_escape").encode("latin-1"))
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
if mode == "echo":
    print("echoed %d bytes, %s" % (len(got), "same" if got == data else "DIFFERENT"))
else:
    sys.stdout.write(got.decode("latin-1"))
EOF
	expect_status "TCP echo with half-close" 0 python3 "$tmp/sock.py" "$T" echo
	out_is "TCP echo returns every byte, then closes" "echoed 1048576 bytes, same"
	expect_status "pipelined requests" 0 python3 "$tmp/sock.py" "$P" raw \
		'GET /p1 HTTP/1.1\r\nHost: a\r\n\r\nGET /p2 HTTP/1.1\r\nHost: b\r\n\r\nGET /p3 HTTP/1.1\r\nConnection: close\r\n\r\n'
	has "pipelined first" '"path":"/p1"'
	has "pipelined third" '"path":"/p3"'
	expect_status "Content-Length with Transfer-Encoding" 0 python3 "$tmp/sock.py" "$P" raw \
		'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
	has "CL+TE is 400" "HTTP/1.1 400 Bad Request"
	expect_status "garbage request line" 0 python3 "$tmp/sock.py" "$P" raw '\x01\x02 \xff\r\n\r\n'
	has "garbage is 400" "HTTP/1.1 400 Bad Request"
fi

expect_status "still serving after bad input" 0 curl -sS "$U/alive"
has "alive" '"path":"/alive"'

kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
pid=
if [ "$rc" = 0 ]; then ok "SIGTERM exits 0"; else not_ok "SIGTERM exits 0 (exit $rc)"; fi
finish
