#!/bin/bash
# bench/tls.sh - issue 5 point 7, reproducibly: what mutual TLS costs in
# meshproxy, against HAProxy configured alike, on loopback, pinned with taskset
# (servers and sidecars on one CPU, clients and the origin on another).
#
#  1. server CPU per full mTLS 1.3 handshake (client certificates, ECDSA P-256
#     SVIDs from `meshctl ca`): meshproxy's inbound port under PeerAuthentication
#     STRICT vs HAProxy (`ssl ... verify required`, TLS 1.3 only), driven by
#     parallel `openssl s_time -new -www /`;
#  2. the same for resumed handshakes (TLS 1.3 tickets, `s_time -reuse`), and
#     for a plain-text connection with the same request, which the two rows
#     above are compared with to get the handshake alone;
#  3. keep-alive throughput and CPU per request, wrk -> client sidecar -> mTLS
#     -> server sidecar -> origin, against the same two sidecars in plain text;
#  4. memory per idle connection: RSS growth over N idle connections, mTLS and
#     plain text, meshproxy and HAProxy.
# Also `openssl speed` of the primitives on the server CPU, for context.
#
# Usage: bench/tls.sh [-d SECS] [-r ROUNDS] [-p PROCS] [-c CONNS] [-n IDLE_CONNS]
#                     [-s BYTES] [-w SECS] [--perf] [--no-install] [-k]
#   -d SECS        seconds per measured run (6; plain-text connection runs: at most 3)
#   -r ROUNDS      runs per target and kind, medians printed (3)
#   -p PROCS       parallel s_time (and plain-text client) processes (4)
#   -c CONNS       wrk connections for the keep-alive part (32)
#   -n IDLE_CONNS  idle connections for the memory part (2000)
#   -s BYTES       response body size for the keep-alive part (1024)
#   -w SECS        on a shared machine: before each measured run, wait until both CPUs
#                  are at most 10% busy, up to SECS in all (0: do not wait)
#   --perf         afterwards: system calls per request of the sidecars (perf stat)
#                  and perf profiles of meshproxy during handshakes and keep-alive
#                  mTLS (perf.data kept in the work directory; implies -k)
#   --no-install   do not apt-get install missing tools
#   -k             keep the work directory (configs, certificates, logs, raw outputs)
# CPUs: PROXY_CPU (0) for meshproxy and HAProxy, CLIENT_CPU (1) for the clients
# and the origin. MESHPROXY, MESHCTL, MESHECHO override the binaries built here;
# BUILD is the release build directory (build-bench/, as bench/proxy.sh).
# Defaults take about 3-4 minutes (more with -w).
set -euo pipefail

dur=6 rounds=3 par=4 conns=32 idle_n=2000 body=1024 do_install=1 do_perf=0 keep=0 wait_quiet=0 quiet_max=10
PROXY_CPU=${PROXY_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1}
usage() { sed -n '19,37p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
	case $1 in
	-d) dur=$2; shift ;;
	-r) rounds=$2; shift ;;
	-p) par=$2; shift ;;
	-c) conns=$2; shift ;;
	-n) idle_n=$2; shift ;;
	-s) body=$2; shift ;;
	-w) wait_quiet=$2; shift ;;
	--perf) do_perf=1 keep=1 ;;
	--no-install) do_install=0 ;;
	-k) keep=1 ;;
	-h | --help) usage 0 ;;
	*) echo "tls.sh: unknown option $1" >&2; usage ;;
	esac
	shift
done

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$src/build-bench}
client_py=$src/bench/tls_client.py
tck=$(getconf CLK_TCK)
host=reviews.default.svc.cluster.local
kpath="/bench?size=$body"

# ---- tools: install what is missing (Debian, as root), else say what ----
policy_made=0
install_missing() {
	local need=()
	command -v openssl >/dev/null || need+=(openssl)
	command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
	command -v wrk >/dev/null || need+=(wrk)
	command -v python3 >/dev/null || need+=(python3)
	command -v taskset >/dev/null || need+=(util-linux)
	command -v ss >/dev/null || need+=(iproute2)
	command -v curl >/dev/null || need+=(curl)
	command -v cc >/dev/null || need+=(gcc)
	[ -e /usr/include/ev.h ] || need+=(libev-dev)
	[ -e /usr/include/nghttp2/nghttp2.h ] || need+=(libnghttp2-dev)
	[ "$do_perf" = 0 ] || command -v perf >/dev/null || need+=(linux-perf)
	[ ${#need[@]} -eq 0 ] && return 0
	if [ "$do_install" = 0 ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "tls.sh: missing: ${need[*]}" >&2
		echo "  install them (Debian: apt-get install --no-install-recommends ${need[*]}), or run as root" >&2
		echo "  without --no-install (bench/proxy.sh installs haproxy and wrk the same way; ./dev does not)" >&2
		exit 2
	fi
	echo "installing: ${need[*]}"
	if [ ! -e /usr/sbin/policy-rc.d ]; then # keep haproxy's service from starting
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		policy_made=1
	fi
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/tmp/tls-bench-apt.log 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get update >>/tmp/tls-bench-apt.log 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >>/tmp/tls-bench-apt.log 2>&1 ||
			{ echo "tls.sh: apt-get install failed (see /tmp/tls-bench-apt.log)" >&2; exit 2; }
	fi
	if [ "$policy_made" = 1 ]; then rm -f /usr/sbin/policy-rc.d; policy_made=0; fi
}

# ---- processes we start, and their cleanup ----
pids=()
tmp=""
cleanup() {
	local p
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "$policy_made" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
	if [ -n "$tmp" ]; then
		if [ "$keep" = 1 ]; then echo "work directory kept: $tmp"; else rm -rf "$tmp"; fi
	fi
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM
forget() { # PID: no longer ours to kill
	local p keep_pids=()
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep_pids+=("$p"); done
	pids=("${keep_pids[@]}")
}
stop() { # PID [SIGNAL]: stop one process we started, and wait for it
	kill "-${2:-TERM}" "$1" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget "$1"
}

install_missing
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
python3 -c 'import ssl; ssl.TLSVersion.TLSv1_3' 2>/dev/null ||
	{ echo "tls.sh: python3 has no ssl module with TLS 1.3" >&2; exit 2; }
# file descriptors: N idle connections on one side, and HAProxy's maxconn
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((idle_n * 2 + 1024)) ]; then
	echo "tls.sh: open files limit $(ulimit -n) is too low for -n $idle_n (need $((idle_n * 2 + 1024)); raise ulimit -Hn or lower -n)" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tls-bench.XXXXXX")

# ---- build: meshproxy and meshctl (release, as bench/proxy.sh), the origin ----
if [ -z "${MESHPROXY:-}" ] || [ -z "${MESHCTL:-}" ]; then
	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build" "$src" --buildtype=release -Dtests=false >"$tmp/setup.log" 2>&1 ||
			{ echo "tls.sh: meson setup failed:" >&2; tail -n 30 "$tmp/setup.log" >&2; exit 2; }
	fi
	ninja -C "$build" meshproxy/meshproxy meshctl/meshctl >"$tmp/build.log" 2>&1 ||
		{ echo "tls.sh: building meshproxy/meshctl failed:" >&2; tail -n 30 "$tmp/build.log" >&2; exit 2; }
	MESHPROXY=${MESHPROXY:-$build/meshproxy/meshproxy} MESHCTL=${MESHCTL:-$build/meshctl/meshctl}
fi
if [ -z "${MESHECHO:-}" ]; then
	cc -std=c11 -O2 -D_GNU_SOURCE -pthread -o "$tmp/meshecho" "$src/tests/backend/meshecho.c" -lev -lnghttp2 ||
		{ echo "tls.sh: building meshecho failed" >&2; exit 2; }
	MESHECHO=$tmp/meshecho
fi

# ---- helpers ----
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_listen() { # PORT
	for _ in $(seq 100); do
		[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] && return 0
		sleep 0.05
	done
	return 1
}
# CPU time of a process, all its threads, in ns: the kernel's sum_exec_runtime
# (what utime + stime are scaled from), exact where /proc/PID/stat has 10 ms ticks
cpu_ns() {
	local f s=0 v
	for f in /proc/"$1"/task/*/schedstat; do
		read -r v _ <"$f" 2>/dev/null || continue
		s=$((s + v))
	done
	if [ "$s" = 0 ]; then s=$(awk -v h="$tck" '{ printf "%.0f", ($14 + $15) / h * 1e9 }' "/proc/$1/stat"); fi
	echo "$s"
}
# busy time of each CPU: "uptime_ticks idle0 idle1 ..." (idle + iowait)
cpus_busy() {
	echo "$(awk -v h="$tck" '{ printf "%d", $1 * h }' /proc/uptime) $(awk '/^cpu[0-9]/ { printf "%d ", $5 + $6 } END { print "" }' /proc/stat)"
}
busy_ns() { # "BEFORE" "AFTER" CPU -> busy ns in between
	awk -v a="$1" -v b="$2" -v c="$3" -v h="$tck" 'BEGIN { split(a, x, " "); split(b, y, " "); v = (y[1] - x[1]) - (y[c + 2] - x[c + 2]); printf "%.0f", (v < 0 ? 0 : v) / h * 1e9 }'
}
# children_ns: the CPU so far of this shell's children that have been waited
# for (the second line of `times`; run here, not in a $(...) subshell, which
# would count its own children only)
children_ns() {
	times >"$tmp/times"
	awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); printf "%.0f", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1e9 }' "$tmp/times"
}
elapsed() { # "BEFORE" "AFTER" -> seconds in between (10 ms resolution)
	awk -v a="$1" -v b="$2" -v h="$tck" 'BEGIN { split(a, x, " "); split(b, y, " "); v = (y[1] - x[1]) / h; if (v <= 0) v = 0.01; printf "%.2f", v }'
}
# others_pct BUSY0 BUSY1 CPU OURS_NS: share of CPU taken by processes not ours
others_pct() {
	awk -v b="$(busy_ns "$1" "$2" "$3")" -v o="$4" -v d="$(elapsed "$1" "$2")" 'BEGIN { v = (b - o) / (d * 1e9) * 100; printf "%.0f", v < 0 ? 0 : v }'
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
alive() { kill -0 "$1" 2>/dev/null; }
# quiet_wait: with -w, wait (1 s samples) until both CPUs are at most
# quiet_max% busy (between runs, our own processes are idle), within the budget
waited=0
quiet_wait() {
	local b0 b1 c u busy said=0
	[ "$wait_quiet" -gt 0 ] || return 0
	while :; do
		b0=$(cpus_busy); sleep 1; b1=$(cpus_busy)
		busy=""
		for c in "$PROXY_CPU" "$CLIENT_CPU"; do
			u=$(awk -v b="$(busy_ns "$b0" "$b1" "$c")" -v d="$(elapsed "$b0" "$b1")" 'BEGIN { printf "%.0f", b / (d * 1e9) * 100 }')
			[ "$u" -gt "$quiet_max" ] && busy="$busy CPU$c $u%"
		done
		[ -z "$busy" ] && return 0
		[ "$waited" -ge "$wait_quiet" ] && return 1
		[ "$said" = 0 ] && echo "  (waiting for a quiet machine:$busy; $((wait_quiet - waited)) s of -w left)"
		said=1 waited=$((waited + 1))
	done
}

# ---- identities: one CA, the server's and the client's SVIDs ----
"$MESHCTL" ca init --trust-domain cluster.local --out "$tmp/ca" >"$tmp/ca.log" 2>&1 &&
	"$MESHCTL" ca issue --ca "$tmp/ca" --namespace default --service-account reviews --out "$tmp/s" >>"$tmp/ca.log" 2>&1 &&
	"$MESHCTL" ca issue --ca "$tmp/ca" --namespace default --service-account productpage --out "$tmp/c" >>"$tmp/ca.log" 2>&1 ||
	{ echo "tls.sh: meshctl ca failed:" >&2; cat "$tmp/ca.log" >&2; exit 2; }
cat "$tmp/s/cert.pem" "$tmp/s/key.pem" >"$tmp/s/haproxy.pem" # HAProxy: certificate and key in one file
ccert=$tmp/c/cert.pem ckey=$tmp/c/key.pem cafile=$tmp/ca/root-cert.pem

# ---- the origin: meshecho, one thread, on the client CPU ----
taskset -c "$CLIENT_CPU" "$MESHECHO" --listen 127.0.0.1:0 --threads 1 --name origin \
	--port-file "$tmp/origin.port" >"$tmp/origin.log" 2>&1 &
origin_pid=$!
pids+=("$origin_pid")
for _ in $(seq 100); do [ -s "$tmp/origin.port" ] && break; sleep 0.05; done
[ -s "$tmp/origin.port" ] || { echo "meshecho did not start"; cat "$tmp/origin.log"; exit 1; }
oport=$(cat "$tmp/origin.port")

# ---- configurations ----
# server sidecar: PeerAuthentication STRICT (mesh-wide) for the mTLS one, nothing for plain text
mkdir -p "$tmp/scfg" "$tmp/spcfg" "$tmp/ccfg" "$tmp/cpcfg"
printf 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec:\n  mtls: {mode: STRICT}\n' \
	>"$tmp/scfg/pa.yaml"
client_cfg() { # DIR SERVER_INBOUND_PORT: the server sidecar as an endpoint with its service account (auto-mTLS)
	cat >"$1/se.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [$host]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: $2}, serviceAccount: reviews}
EOF
}

# start_mesh NAME ARGS...: meshproxy on PROXY_CPU, one worker; sets mp_pid,
# mp_in (inbound port), mp_out (outbound port), mp_adm (admin port)
start_mesh() {
	local name=$1 log=$tmp/$1.log
	shift
	taskset -c "$PROXY_CPU" "$MESHPROXY" "$@" --admin 0 --concurrency 1 --drain-time 1s \
		--log-level info >"$log" 2>&1 &
	mp_pid=$!
	pids+=("$mp_pid")
	for _ in $(seq 200); do grep -qs "running with" "$log" && break; alive "$mp_pid" || break; sleep 0.05; done
	mp_in=$(sed -n 's/.*inbound listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -n 1)
	mp_out=$(sed -n 's/.*outbound listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -n 1)
	mp_adm=$(sed -n 's/.*admin listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -n 1)
	if ! alive "$mp_pid" || [ -z "$mp_adm" ] || ! grep -qs "running with" "$log"; then
		echo "meshproxy ($name) did not start:"
		cat "$log"
		exit 1
	fi
	sleep 0.2
}
counter() { # ADMIN_PORT NAME
	curl -s --max-time 3 "http://127.0.0.1:$1/stats/prometheus" | awk -v n="meshproxy_$2" '$1 == n { print $2 + 0; f = 1 } END { if (!f) print 0 }'
}

# start_haproxy NAME: HAProxy on PROXY_CPU, one thread; a TLS front (mTLS,
# TLS 1.3 only, client certificate required) and a plain-text one to the
# origin; sets hp_pid, hp_tls, hp_plain, hp_sock
start_haproxy() {
	hp_tls=$(free_port) hp_plain=$(free_port) hp_sock=$tmp/$1.sock
	cat >"$tmp/$1.cfg" <<EOF
global
    nbthread 1
    maxconn $((idle_n * 2 + 2000))
    stats socket $hp_sock level admin
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
frontend tls
    bind 127.0.0.1:$hp_tls ssl crt $tmp/s/haproxy.pem ca-file $cafile verify required ssl-min-ver TLSv1.3
    default_backend origin
frontend plain
    bind 127.0.0.1:$hp_plain
    default_backend origin
backend origin
    server origin 127.0.0.1:$oport
EOF
	taskset -c "$PROXY_CPU" "$HAPROXY" -db -f "$tmp/$1.cfg" >"$tmp/$1.log" 2>&1 &
	hp_pid=$!
	pids+=("$hp_pid")
	if ! wait_listen "$hp_tls" || ! wait_listen "$hp_plain"; then
		echo "haproxy did not start:"
		cat "$tmp/$1.log"
		exit 1
	fi
	sleep 0.2
}
hap_stat() { # SOCK -> "ssl_sess ssl_reused_sess ssl_failed_handshake" of the tls front
	python3 "$client_py" haproxy-stat "$1" tls
}

# ---- run ----
hv=$("$HAPROXY" -v 2>/dev/null | awk 'NR == 1 { print $3 }' || true)
echo "meshproxy $(git -C "$src" describe --always --dirty 2>/dev/null || echo "?") ($MESHPROXY), HAProxy $hv, $(openssl version | awk '{ print $1, $2 }') (meshproxy links $(ldd "$MESHPROXY" 2>/dev/null | awk '/libssl/ { print $3 }' | xargs -r readlink -f | sed 's/.*\///')), $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }'), $(python3 -c 'import ssl, sys; print("python", sys.version.split()[0], ssl.OPENSSL_VERSION)')"
echo "$(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "servers and sidecars on CPU $PROXY_CPU; clients (s_time, python, wrk) and the origin (meshecho, 1 thread) on CPU $CLIENT_CPU"
echo "certificates: ECDSA P-256 SVIDs from meshctl ca (spiffe://cluster.local/ns/default/sa/reviews and .../productpage), one root"

start_mesh s --config "$tmp/scfg" --cert-dir "$tmp/s" --inbound "0:$oport"
s_pid=$mp_pid s_in=$mp_in s_adm=$mp_adm
start_mesh sp --config "$tmp/spcfg" --inbound "0:$oport"
sp_pid=$mp_pid sp_in=$mp_in
start_haproxy hap
h_pid=$hp_pid h_tls=$hp_tls h_plain=$hp_plain h_sock=$hp_sock

# what each server negotiates with s_time's settings
for t in meshproxy haproxy; do
	if [ "$t" = meshproxy ]; then port=$s_in; else port=$h_tls; fi
	timeout 5 openssl s_client -connect "127.0.0.1:$port" -tls1_3 -cert "$ccert" -key "$ckey" \
		-CAfile "$cafile" </dev/null >"$tmp/neg.$t" 2>&1 || true
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$port" -tls1_3 -cert "$ccert" -key "$ckey" \
		-CAfile "$cafile" >"$tmp/get.$t" 2>&1 || true
	echo "  $t: $(grep -m1 -E '^(New|Reused), TLS' "$tmp/neg.$t" | sed 's/, Cipher is / /'), $(grep -m1 'Server Temp Key' "$tmp/neg.$t" | sed 's/Server Temp Key: //; s/,.*//') key exchange, $(grep -m1 'Peer signature type' "$tmp/neg.$t" | sed 's/.*: //') server signature, answer: $(grep -m1 '^HTTP/' "$tmp/get.$t" | tr -d '\r' || echo none)"
	grep -q '^HTTP/1.[01] 200' "$tmp/get.$t" || { echo "tls.sh: $t does not answer over mTLS:"; tail -n 20 "$tmp/get.$t"; exit 1; }
done
# a client without a certificate must be refused by both
for t in meshproxy haproxy; do
	if [ "$t" = meshproxy ]; then port=$s_in; else port=$h_tls; fi
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$port" -tls1_3 -CAfile "$cafile" \
		>"$tmp/nocert.$t" 2>&1 || true
	if grep -q '^HTTP/' "$tmp/nocert.$t"; then echo "tls.sh: $t answers a client without a certificate: not mTLS" >&2; exit 1; fi
done

# ---- primitives ----
echo
echo "openssl speed on CPU $PROXY_CPU (1 s each):"
taskset -c "$PROXY_CPU" openssl speed -seconds 1 ecdsap256 ecdhp256 ecdhx25519 >"$tmp/speed.out" 2>/dev/null || true
read -r sign_us verify_us ecdh_us x25519_us < <(awk '
	/ecdsa \(nistp256\)/ { s = 1e6 / $(NF - 1); v = 1e6 / $NF }
	/ecdh \(nistp256\)/ { e = 1e6 / $NF }
	/ecdh \(X25519\)/ { x = 1e6 / $NF }
	END { printf "%.1f %.1f %.1f %.1f\n", s, v, e, x }' "$tmp/speed.out")
prim_us=$(awk -v s="$sign_us" -v v="$verify_us" -v x="$x25519_us" 'BEGIN { printf "%.0f", s + 2 * v + 2 * x }')
echo "  ECDSA P-256 sign $sign_us us, verify $verify_us us; ECDH P-256 $ecdh_us us, X25519 $x25519_us us per operation"
echo "  a server's full mTLS 1.3 handshake needs 1 sign + 2 verifies (client CertificateVerify, client certificate) + X25519 keygen and derive: about $prim_us us"

# ---- 1-2: CPU per connection: full and resumed handshakes, plain text ----
# stime_round TARGET KIND(full|resumed): PROCS parallel s_time for dur seconds
declare -A R # R[target.kind] = lines "conns cpu_us_per_conn rate server_pct others0 others1 chk"
stime_round() {
	local t=$1 kind=$2 port pid mode c0 c1 b0 b1 k0 k1 o0 o1 n err i hs0 rs0 hs1 rs1 fl0 fl1 chk cpu pct oth0 oth1 line el
	if [ "$t" = meshproxy ]; then port=$s_in pid=$s_pid; else port=$h_tls pid=$h_pid; fi
	if [ "$kind" = full ]; then mode=-new; else mode=-reuse; fi
	quiet_wait || true
	if [ "$t" = meshproxy ]; then
		hs0=$(counter "$s_adm" ssl_handshake) rs0=$(counter "$s_adm" ssl_session_reused)
		fl0=$(($(counter "$s_adm" ssl_connection_error) + $(counter "$s_adm" ssl_fail_verify)))
	else read -r hs0 rs0 fl0 < <(hap_stat "$h_sock"); fi
	c0=$(cpu_ns "$pid") o0=$(cpu_ns "$origin_pid") b0=$(cpus_busy); children_ns >"$tmp/k0"; k0=$(cat "$tmp/k0")
	for i in $(seq "$par"); do
		taskset -c "$CLIENT_CPU" openssl s_time -connect "127.0.0.1:$port" "$mode" -tls1_3 -cert "$ccert" -key "$ckey" \
			-CAfile "$cafile" -www / -time "$dur" >"$tmp/stime.$t.$kind.$i" 2>&1 &
		cl_pids+=($!) pids+=($!)
	done
	run_clients
	c1=$(cpu_ns "$pid") o1=$(cpu_ns "$origin_pid") b1=$(cpus_busy); children_ns >"$tmp/k1"; k1=$(cat "$tmp/k1")
	n=0 err=0
	for i in $(seq "$par"); do
		line=$(grep -m1 -E '^[0-9]+ connections in [0-9.]+s;' "$tmp/stime.$t.$kind.$i" || true)
		if [ -z "$line" ]; then err=$((err + 1)); else n=$((n + ${line%% *})); fi
		err=$((err + $(grep -ci 'error' "$tmp/stime.$t.$kind.$i" || true)))
	done
	if [ "$t" = meshproxy ]; then
		hs1=$(counter "$s_adm" ssl_handshake) rs1=$(counter "$s_adm" ssl_session_reused)
		fl1=$(($(counter "$s_adm" ssl_connection_error) + $(counter "$s_adm" ssl_fail_verify)))
		# every counted handshake done; resumed: all but each process's first
		chk="counters: $((hs1 - hs0)) handshakes, $((rs1 - rs0)) resumed, $((fl1 - fl0)) failed"
	else
		read -r hs1 rs1 fl1 < <(hap_stat "$h_sock")
		chk="stats: $((hs1 - hs0)) full, $((rs1 - rs0)) resumed, $((fl1 - fl0)) failed"
	fi
	if [ "$n" -le 0 ]; then
		echo "  $t $kind round: no connections completed ($err errors):"
		tail -n 5 "$tmp/stime.$t.$kind.1"
		return 1
	fi
	el=$(elapsed "$b0" "$b1")
	cpu=$(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN { printf "%.1f", c / n / 1e3 }')
	pct=$(awk -v c=$((c1 - c0)) -v d="$el" 'BEGIN { printf "%.0f", c / (d * 1e9) * 100 }')
	oth0=$(others_pct "$b0" "$b1" "$PROXY_CPU" $((c1 - c0)))
	oth1=$(others_pct "$b0" "$b1" "$CLIENT_CPU" $((o1 - o0 + k1 - k0)))
	R[$t.$kind]+="$n $cpu $(awk -v n="$n" -v d="$el" 'BEGIN { printf "%.0f", n / d }') $pct $oth0 $oth1 $((fl1 - fl0 + err))"$'\n'
	printf '  %-9s %-7s %6d conns (%5.0f/s)  %7s us CPU/conn  server %3s%% CPU  %s%s  others: CPU%s %s%%, CPU%s %s%%\n' \
		"$t" "$kind" "$n" "$(awk -v n="$n" -v d="$el" 'BEGIN { print n / d }')" "$cpu" "$pct" "$chk" \
		"$([ "$err" -gt 0 ] && echo ", $err s_time errors")" "$PROXY_CPU" "$oth0" "$CLIENT_CPU" "$oth1"
}
run_clients() { # started client processes: pids in cl_pids; wait for them all
	local p
	for p in "${cl_pids[@]}"; do wait "$p" 2>/dev/null || true; forget "$p"; done
	cl_pids=()
}
cl_pids=()
# plain_round TARGET: the same request on new plain-text connections (python)
plain_round() {
	local t=$1 port pid c0 c1 b0 b1 k0 k1 o0 o1 n=0 err=0 i d line cpu pct oth0 oth1 el
	if [ "$t" = meshproxy ]; then port=$sp_in pid=$sp_pid; else port=$h_plain pid=$h_pid; fi
	d=$dur
	[ "$d" -gt 3 ] && d=3 # bounded: each closed connection leaves a TIME_WAIT socket behind
	quiet_wait || true
	c0=$(cpu_ns "$pid") o0=$(cpu_ns "$origin_pid") b0=$(cpus_busy); children_ns >"$tmp/k0"; k0=$(cat "$tmp/k0")
	for i in $(seq "$par"); do
		taskset -c "$CLIENT_CPU" python3 "$client_py" conn "$port" "$d" 20000 >"$tmp/plain.$t.$i" 2>&1 &
		cl_pids+=($!) pids+=($!)
	done
	run_clients
	c1=$(cpu_ns "$pid") o1=$(cpu_ns "$origin_pid") b1=$(cpus_busy); children_ns >"$tmp/k1"; k1=$(cat "$tmp/k1")
	for i in $(seq "$par"); do
		line=$(grep -m1 '^connections' "$tmp/plain.$t.$i" || true)
		if [ -z "$line" ]; then err=$((err + 1)); continue; fi
		n=$((n + $(echo "$line" | awk '{ print $2 }'))) err=$((err + $(echo "$line" | awk '{ print $4 }')))
	done
	[ "$n" -gt 0 ] || { echo "  $t plain: no connections completed"; cat "$tmp/plain.$t.1"; return 1; }
	el=$(elapsed "$b0" "$b1")
	cpu=$(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN { printf "%.1f", c / n / 1e3 }')
	pct=$(awk -v c=$((c1 - c0)) -v d="$el" 'BEGIN { printf "%.0f", c / (d * 1e9) * 100 }')
	oth0=$(others_pct "$b0" "$b1" "$PROXY_CPU" $((c1 - c0)))
	oth1=$(others_pct "$b0" "$b1" "$CLIENT_CPU" $((o1 - o0 + k1 - k0)))
	R[$t.plain]+="$n $cpu $(awk -v n="$n" -v d="$el" 'BEGIN { printf "%.0f", n / d }') $pct $oth0 $oth1 $err"$'\n'
	printf '  %-9s %-7s %6d conns (%5.0f/s)  %7s us CPU/conn  server %3s%% CPU  %s errors  others: CPU%s %s%%, CPU%s %s%%\n' \
		"$t" plain "$n" "$(awk -v n="$n" -v d="$el" 'BEGIN { print n / d }')" "$cpu" "$pct" "$err" "$PROXY_CPU" "$oth0" "$CLIENT_CPU" "$oth1"
}

echo
echo "1-2. server CPU per connection: $par x openssl s_time -tls1_3 -cert -key -CAfile -www / -time $dur (-new: full handshakes; -reuse: resumed),"
echo "     then $par x python, plain text, the same request (GET / HTTP/1.0; the server closes), targets taking turns:"
for kind in full resumed plain; do
	for _ in $(seq "$rounds"); do
		for t in meshproxy haproxy; do
			if [ "$kind" = plain ]; then plain_round "$t" || true; else stime_round "$t" "$kind" || true; fi
		done
	done
done

# ---- 3: keep-alive mTLS between two sidecars vs plain text ----
client_cfg "$tmp/ccfg" "$s_in"
client_cfg "$tmp/cpcfg" "$sp_in"
start_mesh c --config "$tmp/ccfg" --cert-dir "$tmp/c" --outbound 0
c_pid=$mp_pid c_out=$mp_out c_adm=$mp_adm
start_mesh cp --config "$tmp/cpcfg" --outbound 0
cp_pid=$mp_pid cp_out=$mp_out
for p in "$c_out" "$cp_out"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: $host" "http://127.0.0.1:$p$kpath" || true)
	[ "$code" = 200 ] || { echo "tls.sh: request through the sidecars on port $p: HTTP $code"; tail -n 5 "$tmp/c.log" "$tmp/s.log"; exit 1; }
done
parse_wrk() { # FILE -> "requests rps p99us errors"
	awk '
	function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
	/requests in/ { req = $1 }
	/^Requests\/sec:/ { rps = $2 }
	$1 == "99%" { p99 = us($2) }
	/Non-2xx/ { err += $NF }
	/Socket errors/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	END { printf "%d %.0f %.0f %d\n", req, rps, p99, err }' "$1"
}
declare -A K
ka_round() { # MODE(mtls|plain)
	local m=$1 port sp cp c0 c1 b0 b1 k0 k1 o0 o1 req rps p99 err cpu pct oth0 oth1 h0 h1 out el
	if [ "$m" = mtls ]; then port=$c_out sp=$s_pid cp=$c_pid; else port=$cp_out sp=$sp_pid cp=$cp_pid; fi
	quiet_wait || true
	[ "$m" = mtls ] && h0=$(counter "$c_adm" upstream_ssl_handshake)
	out=$tmp/wrk.$m.$(date +%s%N)
	c0=$(($(cpu_ns "$sp") + $(cpu_ns "$cp"))) o0=$(cpu_ns "$origin_pid") b0=$(cpus_busy); children_ns >"$tmp/k0"; k0=$(cat "$tmp/k0")
	taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"$dur"s --latency -H "Host: $host" "http://127.0.0.1:$port$kpath" >"$out" 2>&1 || true
	c1=$(($(cpu_ns "$sp") + $(cpu_ns "$cp"))) o1=$(cpu_ns "$origin_pid") b1=$(cpus_busy); children_ns >"$tmp/k1"; k1=$(cat "$tmp/k1")
	read -r req rps p99 err < <(parse_wrk "$out")
	[ "${req:-0}" -gt 0 ] || { echo "  $m: no requests completed:"; tail -n 5 "$out"; return 1; }
	[ "$m" = mtls ] && h1=$(counter "$c_adm" upstream_ssl_handshake)
	el=$(elapsed "$b0" "$b1")
	cpu=$(awk -v c=$((c1 - c0)) -v n="$req" 'BEGIN { printf "%.2f", c / n / 1e3 }')
	pct=$(awk -v c=$((c1 - c0)) -v d="$el" 'BEGIN { printf "%.0f", c / (d * 1e9) * 100 }')
	oth0=$(others_pct "$b0" "$b1" "$PROXY_CPU" $((c1 - c0)))
	oth1=$(others_pct "$b0" "$b1" "$CLIENT_CPU" $((o1 - o0 + k1 - k0)))
	K[$m]+="$rps $cpu $p99 $pct $oth0 $oth1 $err"$'\n'
	printf '  %-5s %8s req/s  %7s us CPU/req (both sidecars, %3s%% of CPU %s)  p99 %6s us%s  others: CPU%s %s%%, CPU%s %s%%%s\n' \
		"$m" "$rps" "$cpu" "$pct" "$PROXY_CPU" "$p99" "$([ "$m" = mtls ] && echo ", $((h1 - h0)) new upstream handshakes")" \
		"$PROXY_CPU" "$oth0" "$CLIENT_CPU" "$oth1" "$([ "$err" -gt 0 ] && echo "  $err ERRORS")"
}
echo
echo "3. keep-alive: wrk -t1 -c$conns -d${dur}s GET $kpath -> client sidecar (outbound) -> server sidecar (inbound) -> origin;"
echo "   mtls: --cert-dir on both, STRICT on the server, auto-mTLS from the endpoint's serviceAccount; plain: no identity."
echo "   Both sidecars on CPU $PROXY_CPU (2 CPUs here: the second is the client's and the origin's); CPU = both sidecars' together"
for m in mtls plain; do
	if [ "$m" = mtls ]; then p=$c_out; else p=$cp_out; fi
	taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d1s -H "Host: $host" "http://127.0.0.1:$p$kpath" >"$tmp/wrk.$m.warm" 2>&1 || true
done
for _ in $(seq "$rounds"); do
	for m in mtls plain; do ka_round "$m" || true; done
done

# ---- 4: memory per idle connection ----
declare -A M
idle_measure() { # NAME(meshproxy-mtls|meshproxy-plain|haproxy-mtls|haproxy-plain)
	local t=$1 pid port tls=() r0 r1 ip line est
	case $t in
	meshproxy-mtls) start_mesh mem-mtls --config "$tmp/scfg" --cert-dir "$tmp/s" --inbound "0:$oport"; pid=$mp_pid port=$mp_in ;;
	meshproxy-plain) start_mesh mem-plain --config "$tmp/spcfg" --inbound "0:$oport"; pid=$mp_pid port=$mp_in ;;
	haproxy-*) start_haproxy "mem-$t"; pid=$hp_pid; if [ "$t" = haproxy-mtls ]; then port=$hp_tls; else port=$hp_plain; fi ;;
	esac
	case $t in *-mtls) tls=("$ccert" "$ckey" "$cafile") ;; esac
	# warm-up: a few connections first, so that first-use allocations are not counted
	taskset -c "$CLIENT_CPU" python3 "$client_py" idle "$port" 5 "$host" /bench?size=64 "${tls[@]}" >"$tmp/idle.$t.warm" 2>&1 &
	ip=$!
	pids+=("$ip")
	for _ in $(seq 200); do grep -qs '^open' "$tmp/idle.$t.warm" && break; alive "$ip" || break; sleep 0.05; done
	stop "$ip"
	sleep 0.3
	r0=$(rss_kb "$pid")
	taskset -c "$CLIENT_CPU" python3 "$client_py" idle "$port" "$idle_n" "$host" /bench?size=64 "${tls[@]}" >"$tmp/idle.$t.out" 2>&1 &
	ip=$!
	pids+=("$ip")
	for _ in $(seq 1200); do grep -qs '^open' "$tmp/idle.$t.out" && break; alive "$ip" || break; sleep 0.05; done
	line=$(grep '^open' "$tmp/idle.$t.out" || true)
	if [ -z "$line" ]; then
		echo "  $t: idle connections failed: $(tail -n 3 "$tmp/idle.$t.out")"
		stop "$ip"; stop "$pid"; return 1
	fi
	sleep 0.5
	r1=$(rss_kb "$pid")
	est=$(ss -Htn state established "( dport = :$port )" | wc -l)
	M[$t]="$r0 $r1 $(awk -v a="$r0" -v b="$r1" -v n="$idle_n" 'BEGIN { printf "%.1f", (b - a) / n }') $est"
	printf '  %-16s RSS %6s KB -> %6s KB with %s open (%s established): %s KB per connection%s\n' "$t" "$r0" "$r1" \
		"${line#open }" "$est" "$(awk -v a="$r0" -v b="$r1" -v n="$idle_n" 'BEGIN { printf "%.1f", (b - a) / n }')" \
		"$(case $line in *" bad 0") ;; *) echo "  (FAILED connections)" ;; esac)"
	stop "$ip" # resets its connections (SO_LINGER 0)
	sleep 0.2
	stop "$pid" INT
}
echo
echo "4. memory: fresh server, 5 warm-up connections, then $idle_n idle keep-alive connections (one GET each, python3 ssl;"
echo "   mTLS: full handshakes with the client SVID); per connection = RSS growth / $idle_n"
for t in meshproxy-mtls meshproxy-plain haproxy-mtls haproxy-plain; do idle_measure "$t" || true; done

# ---- errors in meshproxy's logs ----
echo
loglines=$(cat "$tmp"/s.log "$tmp"/sp.log "$tmp"/c.log "$tmp"/cp.log "$tmp"/mem-*.log 2>/dev/null |
	grep -viE ' info: |listener on|identity: loaded|running with|draining|stopp|exiting|shut' || true)
if [ -n "$loglines" ]; then
	echo "meshproxy logged (info level, startup lines left out):"
	echo "$loglines" | sort | uniq -c | sort -rn | head -n 15
else
	echo "meshproxy logs: nothing but startup lines"
fi
for p in "$s_pid" "$sp_pid" "$c_pid" "$cp_pid" "$h_pid"; do alive "$p" || echo "tls.sh: a server (pid $p) died during the run"; done

# ---- report ----
quiet_rows() { # rows "... others0 others1 ..." (fields 5, 6) on stdin: the quiet ones if any, else all
	awk -v q="$quiet_max" 'NF { all[++n] = $0; if ($5 <= q && $6 <= q) good[++g] = $0 }
		END { if (g) for (i = 1; i <= g; i++) print good[i]; else for (i = 1; i <= n; i++) print all[i] }'
}
col() { # KEY FIELD -> median of that field over the (quiet) rounds
	printf '%s' "${R[$1]:-}" | quiet_rows | awk -v k="$2" 'NF { print $k }' | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
diff_() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else printf "%.1f", a - b }'; }
echo
echo "=== tls results: medians of the $rounds runs of each row, or of those during which other processes"
echo "    took at most $quiet_max% of either CPU when there are any ==="
echo "primitives on CPU $PROXY_CPU: ECDSA P-256 sign $sign_us us, verify $verify_us us; X25519 $x25519_us us, ECDH P-256 $ecdh_us us;"
echo "  1 sign + 2 verify + 2 X25519 = $prim_us us: the floor of a server's full mTLS 1.3 handshake"
echo
f() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "nan" || v == "") print "-"; else printf "%.*f", d, v }'; }
noquiet() { # KEY -> "*" when none of its runs was quiet (its median is of disturbed runs)
	printf '%s' "${R[$1]:-}" | awk -v q="$quiet_max" 'NF { n++; if ($5 <= q && $6 <= q) g++ } END { if (n && !g) printf "*" }'
}
printf '%-44s %10s %10s %10s\n' "server CPU us per connection" meshproxy haproxy "hap/mesh"
for row in "full:full mTLS handshake + GET (s_time -new)" "resumed:resumed handshake + GET (s_time -reuse)" "plain:plain-text connection + GET"; do
	k=${row%%:*}
	a=$(col "meshproxy.$k" 2) b=$(col "haproxy.$k" 2)
	printf '%-44s %10s %10s %10s\n' "${row#*:}" "$(f "$a" 1)$(noquiet "meshproxy.$k")" "$(f "$b" 1)$(noquiet "haproxy.$k")" "$(ratio "$b" "$a")"
done
for k in full resumed; do
	a=$(diff_ "$(col "meshproxy.$k" 2)" "$(col meshproxy.plain 2)") b=$(diff_ "$(col "haproxy.$k" 2)" "$(col haproxy.plain 2)")
	printf '%-44s %10s %10s %10s\n' "=> $k handshake alone (difference)" "$(f "$a" 1)" "$(f "$b" 1)" "$(ratio "$b" "$a")"
done
for k in full resumed plain; do
	printf '%-44s %10s %10s\n' "connections/s, $k (server CPU %)" "$(f "$(col "meshproxy.$k" 3)" 0) ($(f "$(col "meshproxy.$k" 4)" 0)%)" \
		"$(f "$(col "haproxy.$k" 3)" 0) ($(f "$(col "haproxy.$k" 4)" 0)%)"
done
e=$(printf '%s' "${R[meshproxy.full]:-}${R[meshproxy.resumed]:-}${R[meshproxy.plain]:-}${R[haproxy.full]:-}${R[haproxy.resumed]:-}${R[haproxy.plain]:-}" | awk 'NF { s += $7 } END { print s + 0 }')
echo "failed handshakes and client errors, all runs: $e"
dist=$(printf '%s' "${R[meshproxy.full]:-}${R[meshproxy.resumed]:-}${R[meshproxy.plain]:-}${R[haproxy.full]:-}${R[haproxy.resumed]:-}${R[haproxy.plain]:-}" |
	awk -v q="$quiet_max" 'NF { n++; if ($5 > q || $6 > q) d++ } END { printf "%d of %d", d, n }')
echo "runs during which other processes took more than $quiet_max% of a CPU (left out of the medians where quiet runs exist): $dist"
echo "(*: every run of that row was disturbed: the median of all of them)"
echo "(reference from the issue: HAProxy about 930 us per full TLS 1.3 handshake with client certificates)"
echo
ka() { printf '%s' "${K[$1]:-}" | quiet_rows | awk -v k="$2" 'NF { print $k }' | median; }
printf '%-28s %9s %12s %9s\n' "keep-alive, $body B bodies" "req/s" "CPU us/req" "p99 us"
for m in mtls plain; do printf '%-28s %9s %12s %9s\n' "$m" "$(f "$(ka "$m" 1)" 0)" "$(f "$(ka "$m" 2)" 2)" "$(f "$(ka "$m" 3)" 0)"; done
kr=$(ratio "$(ka mtls 2)" "$(ka plain 2)")
printf '%-28s %9s %12s\n' "mtls / plain" "$(ratio "$(ka mtls 1)" "$(ka plain 1)")" "$kr"
echo "runs during which other processes took more than $quiet_max% of a CPU (left out of the medians where quiet runs exist): $(printf '%s' "${K[mtls]:-}${K[plain]:-}" |
	awk -v q="$quiet_max" 'NF { n++; if ($5 > q || $6 > q) d++ } END { printf "%d of %d", d, n }')"
echo "target: mTLS at most 1.15x the CPU per request of plain text: $(awk -v r="$kr" 'BEGIN { if (r == "-") print "not measured"; else if (r <= 1.15) print "met"; else print "MISSED" }')"
echo
printf '%-18s %10s %12s %10s\n' "idle connections" "RSS KB" "with $idle_n" "KB/conn"
for t in meshproxy-mtls meshproxy-plain haproxy-mtls haproxy-plain; do
	[ -n "${M[$t]:-}" ] || continue
	read -r r0 r1 pc _ <<<"${M[$t]}"
	printf '%-18s %10s %12s %10s\n' "$t" "$r0" "$r1" "$pc"
done
if [ -n "${M[meshproxy-mtls]:-}" ]; then
	read -r _ _ pc _ <<<"${M[meshproxy-mtls]}"
	echo "target: under 20 KB per idle mTLS connection (HAProxy about 26 KB): $(awk -v p="$pc" 'BEGIN { print (p < 20) ? "met" : "MISSED" }')"
fi

# ---- perf: where meshproxy's time goes ----
if [ "$do_perf" = 1 ]; then
	if ! command -v perf >/dev/null; then
		echo "perf: not installed (Debian: linux-perf); skipped"
		exit 0
	fi
	sysc() { # PID OUT: perf stat of read/write system calls, in the background
		perf stat -x, -e 'syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_readv,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait' \
			-p "$1" -o "$2" >/dev/null 2>&1 &
		perf_pids+=($!)
		pids+=($!)
	}
	perf_stop() {
		local p
		for p in "${perf_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
		for p in "${perf_pids[@]}"; do wait "$p" 2>/dev/null || true; forget "$p"; done
		perf_pids=()
	}
	perf_pids=()
	echo
	echo "perf: system calls per request, each sidecar, during one more ${dur}s wrk run:"
	for m in mtls plain; do
		if [ "$m" = mtls ]; then sysc "$s_pid" "$tmp/sysc.$m.s"; sysc "$c_pid" "$tmp/sysc.$m.c"; p=$c_out
		else sysc "$sp_pid" "$tmp/sysc.$m.s"; sysc "$cp_pid" "$tmp/sysc.$m.c"; p=$cp_out; fi
		sleep 0.5
		taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"$dur"s -H "Host: $host" "http://127.0.0.1:$p$kpath" >"$tmp/perf.wrk.$m" 2>&1 || true
		perf_stop
		req=$(parse_wrk "$tmp/perf.wrk.$m" | awk '{ print $1 }')
		for side in s c; do
			awk -F, -v n="$req" -v m="$m" -v side="$side" '$1 + 0 > 0 { sub(/syscalls:sys_enter_/, "", $3); line = line sprintf(" %s %.2f", $3, $1 / n) }
				END { printf "  %-5s %s sidecar:%s\n", m, side == "s" ? "server" : "client", line }' "$tmp/sysc.$m.$side"
		done
	done
	echo
	# libcrypto has no frame pointers: DWARF call chains, so that the time of
	# the functions below includes what they call
	echo "perf record --call-graph dwarf on the server sidecar during 3 s of s_time (full, then resumed handshakes);"
	echo "CPU us per connection in (and under) some functions, from the share of samples times the CPU per connection:"
	fns='mesh__tls_handshake|OSSL_DECODER_CTX_new_for_pkey|ASN1_item_d2i_ex|d2i_SSL_SESSION|i2d_SSL_SESSION|mesh__svid_verify_x509|EVP_DigestVerifyFinal|EVP_DigestSignFinal|EVP_PKEY_generate|EVP_PKEY_derive|EC_GROUP_new_by_curve_name_ex'
	for kind in full resumed; do
		if [ "$kind" = full ]; then mode=-new; else mode=-reuse; fi
		perf record -F 1999 --call-graph dwarf,16384 -o "$tmp/perf.hs.$kind" -p "$s_pid" >/dev/null 2>&1 &
		perf_pids+=($!) pids+=($!)
		sleep 0.5
		c0=$(cpu_ns "$s_pid")
		for i in $(seq "$par"); do
			taskset -c "$CLIENT_CPU" openssl s_time -connect "127.0.0.1:$s_in" "$mode" -tls1_3 -cert "$ccert" -key "$ckey" \
				-CAfile "$cafile" -www / -time 3 >"$tmp/perf.stime.$kind.$i" 2>&1 &
			cl_pids+=($!) pids+=($!)
		done
		run_clients
		c1=$(cpu_ns "$s_pid")
		perf_stop
		n=$(cat "$tmp"/perf.stime."$kind".* | awk '/^[0-9]+ connections in [0-9.]+s;/ { s += $1 } END { print s + 0 }')
		[ "$n" -gt 0 ] || continue
		per=$(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN { printf "%.0f", c / n / 1e3 }')
		echo "  $kind: $per us per connection (under perf), of which:"
		perf report -i "$tmp/perf.hs.$kind" --children --sort symbol --stdio -g none 2>/dev/null |
			grep -E '^ +[0-9.]+%' | grep -E " ($fns)( |$)" |
			awk -v per="$per" '{ c = $1; sub(/%/, "", c); printf "    %7.0f us  %s\n", c / 100 * per, $4 }' | sort -rn | awk '!seen[$3]++'
	done
	echo
	echo "perf record -g on both sidecars during ${dur}s of keep-alive mTLS, then plain text: by object"
	for m in mtls plain; do
		if [ "$m" = mtls ]; then pp="$s_pid,$c_pid" p=$c_out; else pp="$sp_pid,$cp_pid" p=$cp_out; fi
		perf record -g -o "$tmp/perf.ka.$m" -p "$pp" >/dev/null 2>&1 &
		perf_pids+=($!) pids+=($!)
		sleep 0.5
		taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"$dur"s -H "Host: $host" "http://127.0.0.1:$p$kpath" >"$tmp/perf.wrk2.$m" 2>&1 || true
		perf_stop
		req=$(parse_wrk "$tmp/perf.wrk2.$m" | awk '{ print $1 }')
		# cpu-clock periods (ns) per object -> us per request
		perf report -i "$tmp/perf.ka.$m" -F period,dso --sort dso --stdio -g none 2>/dev/null | grep -E '^ +[0-9]+ ' |
			awk -v n="$req" -v m="$m" '$1 > 0 { v = $1 / n / 1e3; t += v; if (v >= 0.05) line = line sprintf(" %s %.1f", $2, v) }
				END { printf "  %-5s us/req (%d requests): total %.1f:%s\n", m, n, t, line }'
	done
	echo "  (perf data in $tmp: perf report -i $tmp/perf.hs.full --children for call chains)"
fi
