#!/bin/bash
# bench/proxy.sh - issue 4 point 9, reproducibly: meshproxy against the origin
# alone, HAProxy and nginx, configured alike, on loopback, pinned with taskset
# (the proxy on one CPU, the client and the origin on another).
#
# For each target it prints requests/s, p50 and p99 latency and the proxy's
# CPU time per request (utime + stime from /proc/PID/stat over the run, divided
# by the requests completed), with ratios to meshproxy; then the fresh idle RSS
# of each proxy and its memory per idle keep-alive connection. HTTP/1.1 with
# wrk, then h2c (prior knowledge) in front with h2load where the proxy speaks
# it: a proxy whose front does not answer h2c is skipped with a line saying so
# (meshproxy before ad57d23), and measured automatically once it does.
#
# Usage: bench/proxy.sh [-d SECS] [-r ROUNDS] [-c CONNS] [-m STREAMS]
#                       [-n IDLE_CONNS] [-s BODY_BYTES] [-t TARGETS]
#                       [-w SECS] [-q PCT] [-x EXTRA] [--no-h2] [--no-install] [--perf] [-k]
#   -d SECS        seconds per measured run (10)
#   -r ROUNDS      measured runs per target and protocol; medians are printed (3)
#   -c CONNS       client connections (32)
#   -m STREAMS     h2load concurrent streams per connection (1)
#   -n IDLE_CONNS  idle keep-alive connections for the memory test (1000)
#   -s BYTES       response body size (64)
#   -t LIST        targets, comma-separated, from origin,meshproxy,haproxy,nginx (all)
#   -w SECS        on a shared machine: before the run and each round, wait for both
#                  CPUs to be at most PCT% busy, up to SECS in all (0: do not wait)
#   -q PCT         a round during which processes not ours took more than PCT% of
#                  either CPU is disturbed: printed, not counted, and re-run (10)
#   -x EXTRA       at most EXTRA such re-runs per target and protocol (2)
#   --no-h2        skip the h2load part
#   --no-install   do not apt-get install missing tools
#   --perf         afterwards, perf record -g on meshproxy during one more wrk run
#                  and print the top symbols (perf.data kept in the work dir; implies -k)
#   -k             keep the work directory (configs, logs, raw outputs)
# CPUs: PROXY_CPU (0) for the proxy, CLIENT_CPU (1) for the client and origin.
# Binaries: MESHPROXY and MESHECHO override the ones built here; BUILD is the
# release build directory (build-bench/ beside the sources, as config-load.sh).
# Defaults take about 4-5 minutes (3 x 10 s per target and protocol), more with
# re-runs of disturbed rounds and -w.
set -euo pipefail

dur=10 rounds=3 conns=32 streams=1 idle_n=1000 body=64 targets="origin,meshproxy,haproxy,nginx"
do_h2=1 do_install=1 do_perf=0 keep=0 wait_quiet=0 quiet_max=10 extra=2
PROXY_CPU=${PROXY_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1}
usage() { sed -n '14,38p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
	case $1 in
	-d) dur=$2; shift ;;
	-r) rounds=$2; shift ;;
	-c) conns=$2; shift ;;
	-m) streams=$2; shift ;;
	-n) idle_n=$2; shift ;;
	-s) body=$2; shift ;;
	-t) targets=$2; shift ;;
	--no-h2) do_h2=0 ;;
	--no-install) do_install=0 ;;
	--perf) do_perf=1 keep=1 ;;
	-w) wait_quiet=$2; shift ;;
	-q) quiet_max=$2; shift ;;
	-x) extra=$2; shift ;;
	-k) keep=1 ;;
	-h | --help) usage 0 ;;
	*) echo "proxy.sh: unknown option $1" >&2; usage ;;
	esac
	shift
done

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$src/build-bench}
host=echo.bench
path="/bench?size=$body"
tck=$(getconf CLK_TCK)

# ---- tools: install what is missing (Debian, as root) ----
policy_made=0
install_missing() {
	local need=() pkgs=()
	command -v wrk >/dev/null || need+=(wrk)
	command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
	command -v h2load >/dev/null || need+=(nghttp2-client)
	command -v python3 >/dev/null || need+=(python3)
	command -v taskset >/dev/null || need+=(util-linux)
	command -v ss >/dev/null || need+=(iproute2)
	command -v curl >/dev/null || need+=(curl)
	command -v cc >/dev/null || need+=(gcc)
	[ -e /usr/include/ev.h ] || need+=(libev-dev)
	[ -e /usr/include/nghttp2/nghttp2.h ] || need+=(libnghttp2-dev)
	[ ${#need[@]} -eq 0 ] && return 0
	if [ "$do_install" = 0 ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "proxy.sh: missing: ${need[*]} (install them, or run as root on Debian)" >&2
		exit 2
	fi
	echo "installing: ${need[*]}"
	# Packages such as nginx and haproxy start their service when installed:
	# keep them from doing so (and from taking port 80) while we install.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		policy_made=1
	fi
	pkgs=("${need[@]}")
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >/tmp/proxy-bench-apt.log 2>&1; then
		# the package lists may be missing or stale: update once, try again;
		# nginx-light is gone from newer Debian releases: fall back to nginx
		DEBIAN_FRONTEND=noninteractive apt-get update >>/tmp/proxy-bench-apt.log 2>&1 || true
		if ! apt-cache show nginx-light >/dev/null 2>&1; then
			pkgs=("${pkgs[@]/nginx-light/nginx}")
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >>/tmp/proxy-bench-apt.log 2>&1 ||
			{ echo "proxy.sh: apt-get install failed (see /tmp/proxy-bench-apt.log)" >&2; exit 2; }
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
forget() { # PID: no longer ours to kill (it has exited)
	local p keep_pids=()
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep_pids+=("$p"); done
	pids=("${keep_pids[@]}")
}
stop() { # PID: stop one process we started, and wait for it
	kill "$1" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget "$1"
}

install_missing
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/proxy-bench.XXXXXX")

# ---- build: meshproxy (release, as config-load.sh) and the echo origin ----
if [ -z "${MESHPROXY:-}" ]; then
	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build" "$src" --buildtype=release -Dtests=false >"$tmp/setup.log" 2>&1 ||
			{ echo "proxy.sh: meson setup failed:" >&2; tail -n 30 "$tmp/setup.log" >&2; exit 2; }
	fi
	ninja -C "$build" meshproxy/meshproxy >"$tmp/build.log" 2>&1 ||
		{ echo "proxy.sh: building meshproxy failed:" >&2; tail -n 30 "$tmp/build.log" >&2; exit 2; }
	MESHPROXY=$build/meshproxy/meshproxy
fi
if [ -z "${MESHECHO:-}" ]; then
	# meshecho is a test tool (built only with -Dtests=true); compile it alone
	cc -std=c11 -O2 -D_GNU_SOURCE -pthread -o "$tmp/meshecho" "$src/tests/backend/meshecho.c" -lev -lnghttp2 ||
		{ echo "proxy.sh: building meshecho failed" >&2; exit 2; }
	MESHECHO=$tmp/meshecho
fi

# ---- helpers ----
wait_listen() { # PORT: until something listens there (5 s at most)
	for _ in $(seq 100); do
		[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] && return 0
		sleep 0.05
	done
	return 1
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# idle ticks of each CPU (idle + iowait), "cpu0 cpu1 ..." in CPU order: with a
# tickless kernel these are exact, where the busy fields are sampled at ticks
cpus_idle() { awk '/^cpu[0-9]/ { printf "%d ", $5 + $6 } END { print "" }' /proc/stat; }
now_ticks() { awk -v h="$tck" '{ printf "%d\n", $1 * h }' /proc/uptime; }
cpus_busy() { echo "$(now_ticks) $(cpus_idle)"; }
busy_of() { # "BEFORE" "AFTER" CPU -> busy ticks in between (elapsed - idle)
	awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN { split(a, x, " "); split(b, y, " "); v = (y[1] - x[1]) - (y[c + 2] - x[c + 2]); print v < 0 ? 0 : v }'
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# private memory (not shared with other processes: heap, stacks, written data)
priv_kb() { awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo "-"; }
ms() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# origin: meshecho, one thread, on the client CPU; HTTP/1.1 and h2c on one port
taskset -c "$CLIENT_CPU" "$MESHECHO" --listen 127.0.0.1:0 --threads 1 --name origin \
	--port-file "$tmp/origin.port" >"$tmp/origin.log" 2>&1 &
origin_pid=$!
pids+=("$origin_pid")
for _ in $(seq 100); do [ -s "$tmp/origin.port" ] && break; sleep 0.05; done
[ -s "$tmp/origin.port" ] || { echo "meshecho did not start"; cat "$tmp/origin.log"; exit 1; }
oport=$(cat "$tmp/origin.port")

# ---- configurations: one route, Host echo.bench -> the origin ----
mkdir -p "$tmp/mesh" "$tmp/nginx/logs" "$tmp/nginx/tmp"
cat >"$tmp/mesh/bench.yaml" <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo}
spec:
  hosts: [$host]
  ports: [{number: 80, name: http, protocol: HTTP}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: $oport}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [$host]
  http:
  - match: [{uri: {prefix: /}}]
    route: [{destination: {host: $host, port: {number: 80}}}]
YAML

write_haproxy_cfg() { # H1PORT H2PORT
	cat >"$tmp/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8192
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
frontend front
    bind 127.0.0.1:$1
    bind 127.0.0.1:$2 proto h2
    use_backend origin if { hdr(host) -i $host }
    http-request return status 404 unless { hdr(host) -i $host }
backend origin
    server origin 127.0.0.1:$oport
EOF
}

write_nginx_cfg() { # H1PORT H2PORT
	local d=$tmp/nginx loc
	loc="location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
	cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
user root;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_timeout 60s;
    keepalive_requests 100000000;
    upstream origin {
        server 127.0.0.1:$oport;
        keepalive 64;
        keepalive_requests 100000000;
    }
    server { listen 127.0.0.1:$1 default_server; return 404; }
    server { listen 127.0.0.1:$2 http2 default_server; return 404; }
    server { listen 127.0.0.1:$1; server_name $host; $loc }
    server { listen 127.0.0.1:$2 http2; server_name $host; $loc }
}
EOF
}

# start_target NAME: starts it fresh on PROXY_CPU; sets tpid (the process that
# serves: nginx's worker), spid (the one to stop), h1port, h2port
start_target() {
	tpid="" spid="" h1port="" h2port=""
	case $1 in
	origin)
		tpid=$origin_pid h1port=$oport h2port=$oport
		;;
	meshproxy)
		rm -f "$tmp/meshproxy.log"
		taskset -c "$PROXY_CPU" "$MESHPROXY" --config "$tmp/mesh" --outbound 0 --admin 0 \
			--concurrency 1 --drain-time 1s --log-level warning >"$tmp/meshproxy.log" 2>&1 &
		spid=$! tpid=$spid
		pids+=("$spid")
		for _ in $(seq 100); do grep -qs "admin listener" "$tmp/meshproxy.log" && break; sleep 0.05; done
		h1port=$(sed -n 's/.*outbound listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/meshproxy.log")
		h2port=$h1port
		;;
	haproxy)
		h1port=$(free_port) h2port=$(free_port)
		write_haproxy_cfg "$h1port" "$h2port"
		taskset -c "$PROXY_CPU" "$HAPROXY" -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
		spid=$! tpid=$spid
		pids+=("$spid")
		;;
	nginx)
		h1port=$(free_port) h2port=$(free_port)
		write_nginx_cfg "$h1port" "$h2port"
		taskset -c "$PROXY_CPU" "$NGINX" -p "$tmp/nginx" -e "$tmp/nginx/logs/error.log" \
			-c "$tmp/nginx/nginx.conf" >"$tmp/nginx.log" 2>&1 &
		spid=$!
		pids+=("$spid")
		for _ in $(seq 100); do
			tpid=$(pgrep -P "$spid" | head -n 1 || true)
			[ -n "$tpid" ] && break
			sleep 0.05
		done
		;;
	esac
	if [ -z "$h1port" ] || [ -z "$tpid" ] || ! wait_listen "$h1port"; then
		echo "$1 did not start:"
		cat "$tmp/$1.log" 2>/dev/null || true
		[ "$1" = nginx ] && cat "$tmp/nginx/logs/error.log"
		return 1
	fi
	sleep 0.3
}
stop_target() { [ -n "$spid" ] && stop "$spid"; spid=""; }
alive() { kill -0 "$1" 2>/dev/null; }
check_route() { # PORT: one request must come back 200 from the origin
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: $host" "http://127.0.0.1:$1$path" || true)
	[ "$code" = 200 ] || { echo "  route check failed on port $1: HTTP $code"; return 1; }
}

cat >"$tmp/idle.py" <<'PY'
# idle.py PORT N HOST PATH: N keep-alive connections, one request each (read
# whole), then kept open and idle until SIGTERM. Prints "open N bad B".
import resource, signal, socket, sys
port, n, host, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
req = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode()
socks, bad = [], 0
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        if not c:
            break
        buf += c
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    ok = len(lines[0].split()) > 1 and lines[0].split()[1] == b"200"
    cl = 0
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length":
            cl = int(v)
    while len(rest) < cl:
        c = s.recv(65536)
        if not c:
            ok = False
            break
        rest += c
    bad += not ok
    socks.append(s)
print("open %d bad %d" % (len(socks), bad), flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    signal.pause()
PY

# ---- memory: fresh idle RSS, then N idle keep-alive connections ----
declare -A idle_rss idle_priv warm_rss conn_rss per_conn up_conns down_conns master_rss
measure_memory() { # NAME
	local t=$1 ip r0 r1 line
	start_target "$t" || return 1
	idle_rss[$t]=$(rss_kb "$tpid")
	idle_priv[$t]=$(priv_kb "$tpid")
	[ "$t" = nginx ] && master_rss[$t]=$(rss_kb "$spid")
	# warm up: a few requests so that first-use allocations are not counted below
	for _ in 1 2 3 4 5; do check_route "$h1port" || { stop_target; return 1; }; done
	sleep 0.2
	r0=$(rss_kb "$tpid")
	warm_rss[$t]=$r0
	taskset -c "$CLIENT_CPU" python3 "$tmp/idle.py" "$h1port" "$idle_n" "$host" "$path" >"$tmp/idle.$t.out" 2>&1 &
	ip=$!
	pids+=("$ip")
	for _ in $(seq 600); do grep -qs '^open' "$tmp/idle.$t.out" && break; alive "$ip" || break; sleep 0.05; done
	line=$(grep '^open' "$tmp/idle.$t.out" || true)
	if [ -z "$line" ]; then
		echo "  $t: idle connections failed: $(tail -n 3 "$tmp/idle.$t.out")"
		stop "$ip"; stop_target; return 1
	fi
	sleep 0.5
	r1=$(rss_kb "$tpid")
	conn_rss[$t]=$r1
	down_conns[$t]=$(ss -Htn state established "( dport = :$h1port )" | wc -l)
	if [ "$t" = origin ]; then up_conns[$t]="-"
	else up_conns[$t]=$(ss -Htnp state established "( dport = :$oport )" | grep -c "pid=$tpid," || true); fi
	per_conn[$t]=$(awk -v a="$r0" -v b="$r1" -v n="$idle_n" 'BEGIN { printf "%.2f", (b - a) / n }')
	case $line in *" bad 0") ;; *) echo "  $t: idle connections: $line (non-200 answers)" ;; esac
	stop "$ip"
	[ "$t" = origin ] || stop_target
}

# ---- throughput ----
# run_load NAME PROTO PORT OUTPREFIX -> appends "rps p50us p99us cpu_us_per_req cpu_pct errors" per round
parse_wrk() { # FILE -> "requests rps p50us p99us errors"
	awk '
	function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
	/requests in/ { req = $1 }
	/^Requests\/sec:/ { rps = $2 }
	/^ +50%/ { p50 = us($2) }
	/^ +99%/ { p99 = us($2) }
	/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	/Non-2xx or 3xx/ { err += $5 }
	END { printf "%d %.0f %.0f %.0f %d\n", req, rps, p50, p99, err }' "$1"
}
parse_h2load() { # OUT LOG -> "requests rps p50us p99us errors"
	local req rps err p
	req=$(awk '/^requests:/ { print $8 + 0 }' "$1")
	rps=$(awk '/^finished in/ { gsub(/,/, ""); print $4 + 0 }' "$1")
	err=$(awk '/^requests:/ { gsub(/,/, ""); print $10 + $12 + $14 }' "$1")
	# per-request log: start, status, microseconds; non-200 count as errors
	p=$(awk -F'\t' '$2 != 200 { bad++ } { print $3 } END { print bad + 0 > "/dev/stderr" }' "$2" 2>"$2.bad" |
		sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.0f %.0f", v[int(NR * 0.5) + (NR * 0.5 > int(NR * 0.5))], v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))]; else printf "nan nan" }')
	echo "${req:-0} ${rps:-0} $p $((${err:-0} + $(cat "$2.bad")))"
}
client() { # PROTO PORT SECS OUT [LOG]
	if [ "$1" = h1 ]; then
		taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"$3"s --latency -H "Host: $host" \
			"http://127.0.0.1:$2$path" >"$4" 2>&1
	else
		taskset -c "$CLIENT_CPU" h2load -t1 -c"$conns" -m"$streams" -D "$3" -H ":authority: $host" \
			${5:+--log-file="$5"} "http://127.0.0.1:$2$path" >"$4" 2>&1
	fi
}
declare -A res
# load_round NAME PROTO: one measured round against a running target; counts
# it in good[] unless processes not ours disturbed it
declare -A TP SP H1 H2 good tries dead
load_round() {
	local t=$1 pr=$2 port tp i dist c0 c1 o0 o1 b0 b1 out log vals req rps p50 p99 err cpu pct diag cl f0 f1
	tp=${TP[$t]}
	if [ "$pr" = h1 ]; then port=${H1[$t]}; else port=${H2[$t]}; fi
	i=$((${tries[$t.$pr]:-0} + 1))
	tries[$t.$pr]=$i
	if [ "$t" = origin ]; then quiet_wait "$CLIENT_CPU" || true; else quiet_wait "$PROXY_CPU $CLIENT_CPU" || true; fi
	out=$tmp/$t.$pr.$i.out log=$tmp/$t.$pr.$i.log
	c0=$(cpu_ticks "$tp") o0=$(cpu_ticks "$origin_pid") b0=$(cpus_busy)
	times >"$tmp/times0" # the client's CPU: our children's times around it
	client "$pr" "$port" "$dur" "$out" "$log" || true
	times >"$tmp/times1"
	if ! alive "$tp"; then
		echo "  $t died during $pr round $i:"
		tail -n 20 "$tmp/$t.log" 2>/dev/null || true
		dead[$t]=1
		return 1
	fi
	c1=$(cpu_ticks "$tp") o1=$(cpu_ticks "$origin_pid") b1=$(cpus_busy)
	if [ "$pr" = h1 ]; then vals=$(parse_wrk "$out"); else vals=$(parse_h2load "$out" "$log"); rm -f "$log"; fi
	read -r req rps p50 p99 err <<<"$vals"
	if [ "${req:-0}" -le 0 ]; then echo "  $t $pr round $i: no requests completed:"; tail -n 5 "$out"; return 1; fi
	cpu=$(awk -v c=$((c1 - c0)) -v h="$tck" -v n="$req" 'BEGIN { printf "%.2f", c / h / n * 1e6 }')
	pct=$(awk -v c=$((c1 - c0)) -v h="$tck" -v d="$dur" 'BEGIN { printf "%.0f", c / h / d * 100 }')
	# where else the CPU went: the origin and the client per request, and the
	# share of each pinned CPU that went to processes not ours (disturbance)
	cl=$(cat "$tmp/times0" "$tmp/times1" | awk '
		function sec(v) { split(v, a, "m"); return a[1] * 60 + a[2] }
		NR == 2 { t0 = sec($1) + sec($2) } NR == 4 { t1 = sec($1) + sec($2) } END { print t1 - t0 }')
	diag=$(awk -v o=$((o1 - o0)) -v pr=$((c1 - c0)) -v cl="$cl" -v h="$tck" -v n="$req" -v d="$dur" \
		-v b0="$(busy_of "$b0" "$b1" "$PROXY_CPU")" -v b1="$(busy_of "$b0" "$b1" "$CLIENT_CPU")" \
		-v self="$([ "$t" = origin ] && echo 1 || echo 0)" '
		BEGIN {
			if (self) pr = 0 # the origin row: the "proxy" is the origin, on the client CPU
			f0 = (b0 - pr) / h / d * 100; f1 = (b1 - o - cl * h) / h / d * 100
			printf "%.2f %.2f %.0f %.0f", o / h / n * 1e6, cl / n * 1e6, f0 < 0 ? 0 : f0, f1 < 0 ? 0 : f1
		}')
	read -r _ _ f0 f1 <<<"$diag"
	# the origin row does not use the proxy's CPU: only the client's counts
	if { [ "$t" != origin ] && [ "$f0" -gt "$quiet_max" ]; } || [ "$f1" -gt "$quiet_max" ]; then
		echo "$rps $p50 $p99 $cpu $pct $err $diag" >>"$tmp/$t.$pr.disturbed"
		dist="  disturbed: not counted"
	else
		echo "$rps $p50 $p99 $cpu $pct $err $diag" >>"$tmp/$t.$pr.rounds"
		good[$t.$pr]=$((${good[$t.$pr]:-0} + 1)) dist=""
	fi
	printf '  %-9s %s round %d: %8s req/s  p50 %6s us  p99 %6s us  %6s us CPU/req  (%s%% CPU)  others: CPU%s %s%%, CPU%s %s%%%s%s\n' \
		"$t" "$pr" "$i" "$rps" "$p50" "$p99" "$cpu" "$pct" "$PROXY_CPU" "$f0" "$CLIENT_CPU" "$f1" \
		"$([ "$err" -gt 0 ] && echo "  $err ERRORS")" "$dist"
}
# load_finish NAME PROTO: medians of the counted rounds into res[]
load_finish() {
	local t=$1 pr=$2 k
	[ -s "$tmp/$t.$pr.rounds" ] || [ -s "$tmp/$t.$pr.disturbed" ] || return 0
	res[$t.$pr.n]=${good[$t.$pr]:-0}
	if [ "${good[$t.$pr]:-0}" = 0 ]; then
		# every round was disturbed: report them all the same, marked
		cp "$tmp/$t.$pr.disturbed" "$tmp/$t.$pr.rounds"
		res[$t.$pr.n]="0 of ${tries[$t.$pr]} quiet"
	fi
	for k in 1 2 3 4 5 7 8 9 10; do
		res[$t.$pr.$k]=$(awk -v k=$k '{ print $k }' "$tmp/$t.$pr.rounds" | median)
	done
	res[$t.$pr.6]=$(awk '{ s += $6 } END { print s + 0 }' "$tmp/$t.$pr.rounds")
}
h2_supported() { # PORT: does the front answer h2c with prior knowledge?
	timeout 10 h2load -n 2 -c 1 -H ":authority: $host" "http://127.0.0.1:$1$path" >"$tmp/h2check.out" 2>&1 &&
		grep -q '2 succeeded' "$tmp/h2check.out"
}

# quiet_wait "CPUS": while some of the -w budget is left, wait (1 s samples)
# until none of CPUS is more than quiet_max% busy; false if it never was
waited=0
quiet_wait() {
	local b0 b1 c u said=0 busy
	[ "$wait_quiet" -gt 0 ] || return 0
	while :; do
		b0=$(cpus_busy); sleep 1; b1=$(cpus_busy)
		busy=""
		for c in $1; do
			u=$(awk -v t="$(busy_of "$b0" "$b1" "$c")" -v h="$tck" 'BEGIN { printf "%.0f", t / h * 100 }')
			[ "$u" -gt "$quiet_max" ] && busy="$busy CPU$c $u%"
		done
		[ -z "$busy" ] && return 0
		[ "$waited" -ge "$wait_quiet" ] && return 1
		[ "$said" = 0 ] && echo "  waiting for a quiet machine (busy:$busy; $((wait_quiet - waited)) s of -w left)"
		said=1 waited=$((waited + 1))
	done
}

# ---- run ----
IFS=, read -r -a tlist <<<"$targets"
for t in "${tlist[@]}"; do
	case $t in origin | meshproxy | haproxy | nginx) ;; *) echo "unknown target $t"; exit 2 ;; esac
done
hv=$("$HAPROXY" -v 2>/dev/null | awk 'NR == 1 { print $3 }' || true)
nv=$("$NGINX" -v 2>&1 | sed 's/.*nginx\///' || true)
echo "meshproxy $(git -C "$src" describe --always --dirty 2>/dev/null || echo "?") ($MESHPROXY), HAProxy $hv, nginx $nv, $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }'), h2load $(h2load --version 2>/dev/null | awk '{ print $NF }')"
echo "$(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"
quiet_wait "$PROXY_CPU $CLIENT_CPU" || true
b0=$(cpus_busy); sleep 1; b1=$(cpus_busy)
busy0=$(awk -v t="$(busy_of "$b0" "$b1" "$PROXY_CPU")" -v h="$tck" 'BEGIN { printf "%.0f", t / h * 100 }')
busy1=$(awk -v t="$(busy_of "$b0" "$b1" "$CLIENT_CPU")" -v h="$tck" 'BEGIN { printf "%.0f", t / h * 100 }')
echo "before the run, others kept CPU $PROXY_CPU ${busy0}% and CPU $CLIENT_CPU ${busy1}% busy$([ "$busy0" -gt 10 ] || [ "$busy1" -gt 10 ] && echo ": WARNING, the machine is not quiet; figures will be disturbed")"
echo "proxy on CPU $PROXY_CPU; client and origin (meshecho, 1 thread) on CPU $CLIENT_CPU; GET $path (body $body bytes), Host $host"
echo "HTTP/1.1: wrk -t1 -c$conns -d${dur}s --latency; h2c: h2load -t1 -c$conns -m$streams -D $dur; $rounds rounds each, medians"
echo

echo "memory: fresh idle RSS, then $idle_n idle keep-alive connections (one request each)"
for t in "${tlist[@]}"; do measure_memory "$t" || true; done

echo
echo "load (per round; the targets take turns, so that a slow drift of the machine touches them alike):"
h2_skip=()
live=()
for t in "${tlist[@]}"; do
	start_target "$t" || continue
	TP[$t]=$tpid SP[$t]=$spid H1[$t]=$h1port H2[$t]=$h2port
	check_route "$h1port" || { stop_target; continue; }
	live+=("$t")
	: >"$tmp/$t.h1.rounds"; : >"$tmp/$t.h1.disturbed"; : >"$tmp/$t.h2.rounds"; : >"$tmp/$t.h2.disturbed"
done
protos=(h1)
[ "$do_h2" = 1 ] && protos+=(h2)
for pr in "${protos[@]}"; do
	these=()
	for t in "${live[@]}"; do
		[ -z "${dead[$t]:-}" ] || continue
		if [ "$pr" = h2 ] && ! h2_supported "${H2[$t]}"; then
			h2_skip+=("$t")
			echo "  $t h2: h2c (prior knowledge) not yet supported on its front; skipped ($(grep -E '^requests:' "$tmp/h2check.out" || tail -n 1 "$tmp/h2check.out"))"
			continue
		fi
		if [ "$pr" = h1 ]; then client h1 "${H1[$t]}" 1 "$tmp/$t.h1.warm" || true # warm-up, not counted
		else client h2 "${H2[$t]}" 1 "$tmp/$t.h2.warm" || true; fi
		these+=("$t")
	done
	for pass in $(seq $((rounds + extra))); do
		more=0
		for t in "${these[@]}"; do
			[ -z "${dead[$t]:-}" ] && [ "${good[$t.$pr]:-0}" -lt "$rounds" ] || continue
			[ "$pass" -gt "$rounds" ] && [ "${tries[$t.$pr]:-0}" -ge $((rounds + extra)) ] && continue
			load_round "$t" "$pr" || true
			more=1
		done
		[ "$more" = 1 ] || break
	done
	for t in "${these[@]}"; do load_finish "$t" "$pr"; done
done
for t in "${live[@]}"; do
	if [ "$t" != origin ] && [ -z "${dead[$t]:-}" ] && ! alive "${TP[$t]}"; then
		echo "  $t is no longer running:"
		tail -n 20 "$tmp/$t.log"
	fi
	[ -n "${SP[$t]}" ] && stop "${SP[$t]}"
done

# ---- report ----
ratio() { # VALUE BASE
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b == "nan" || a == "" || a == "nan" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}
table() { # PROTO TITLE
	local pr=$1 t m
	echo
	echo "$2"
	printf '%-10s %9s %8s %8s %8s %6s %9s | %7s %7s %7s\n' target "req/s" "p50 us" "p99 us" "CPU us" "CPU%" "1/CPU" "req/s" "p99" "CPU"
	printf '%-10s %9s %8s %8s %8s %6s %9s | %7s %7s %7s\n' "" "" "" "" "per req" "" "req/s" "/mesh" "/mesh" "/mesh"
	for t in "${tlist[@]}"; do
		[ -n "${res[$t.$pr.1]:-}" ] || continue
		m=meshproxy
		printf '%-10s %9.0f %8.0f %8.0f %8.2f %6.0f %9.0f | %7s %7s %7s%s\n' "$t" "${res[$t.$pr.1]}" "${res[$t.$pr.2]}" \
			"${res[$t.$pr.3]}" "${res[$t.$pr.4]}" "${res[$t.$pr.5]}" \
			"$(awk -v c="${res[$t.$pr.4]}" 'BEGIN { print (c > 0) ? 1e6 / c : 0 }')" \
			"$(ratio "${res[$t.$pr.1]}" "${res[$m.$pr.1]:-}")" "$(ratio "${res[$t.$pr.3]}" "${res[$m.$pr.3]:-}")" \
			"$(ratio "${res[$t.$pr.4]}" "${res[$m.$pr.4]:-}")" \
			"$([ "${res[$t.$pr.6]}" -gt 0 ] && echo "  (${res[$t.$pr.6]} errors)")$(case ${res[$t.$pr.n]} in 0*) echo "  (all rounds disturbed)" ;; "$rounds") ;; *) echo "  (${res[$t.$pr.n]} quiet rounds)" ;; esac)"
	done
	echo "  elsewhere (medians): origin and client CPU us/req (both on CPU $CLIENT_CPU); CPU taken by processes not ours"
	printf '  %-10s %8s %8s %9s %9s\n' "" origin client "others" "others"
	printf '  %-10s %8s %8s %9s %9s\n' "" "us/req" "us/req" "CPU$PROXY_CPU %" "CPU$CLIENT_CPU %"
	for t in "${tlist[@]}"; do
		[ -n "${res[$t.$pr.1]:-}" ] || continue
		printf '  %-10s %8.2f %8.2f %9.0f %9.0f\n' "$t" "${res[$t.$pr.7]}" "${res[$t.$pr.8]}" "${res[$t.$pr.9]}" "${res[$t.$pr.10]}"
	done
}
echo
echo "=== results (medians of $rounds x ${dur}s; rounds where others took > $quiet_max% of a CPU re-run, up to $extra more) ==="
echo "CPU us/req: the proxy process's utime+stime per completed request (origin row: meshecho's own);"
echo "CPU%: that process's share of its CPU during the run; 1/CPU: req/s it could do at 100% of one CPU"
table h1 "HTTP/1.1 keep-alive (wrk -t1 -c$conns)"
if [ "$do_h2" = 1 ]; then
	table h2 "h2c front, HTTP/1.1 to the origin (h2load -t1 -c$conns -m$streams)"
	for t in "${h2_skip[@]}"; do echo "$t: h2c downstream not yet supported (skipped)"; done
fi
echo
echo "memory ($idle_n idle keep-alive connections; RSS in KB; per conn = (with conns - after warm-up) / $idle_n)"
printf '%-10s %9s %9s %9s %10s %9s %7s %8s\n' target "idle RSS" "(private)" "warm RSS" "with conns" "per conn" "client" "upstream"
printf '%-10s %9s %9s %9s %10s %9s %7s %8s\n' "" "KB" "KB" "KB" "KB" "KB" "conns" "conns"
for t in "${tlist[@]}"; do
	[ -n "${idle_rss[$t]:-}" ] || continue
	printf '%-10s %9s %9s %9s %10s %9s %7s %8s\n' "$t" "${idle_rss[$t]}" "${idle_priv[$t]}" "${warm_rss[$t]}" "${conn_rss[$t]:--}" \
		"${per_conn[$t]:--}" "${down_conns[$t]:--}" "${up_conns[$t]:--}"
done
[ -n "${master_rss[nginx]:-}" ] && echo "(nginx: the worker's RSS; its master holds another ${master_rss[nginx]} KB)"
echo "(RSS counts the shared libraries' resident pages; private = Private_Clean + Private_Dirty from smaps_rollup)"
echo "targets: meshproxy CPU/req <= haproxy's, req/s >= haproxy's and nginx's, p99 no worse; idle RSS < 8 MB; < 2 KB per idle connection"

# ---- perf: where meshproxy's time goes ----
# perf_attach PID OUTFILE ARGS...: perf attached to PID in the background; sets perf_pid
perf_attach() {
	local pid=$1 out=$2
	shift 2
	perf "$@" -o "$out" -p "$pid" >"$out.log" 2>&1 &
	perf_pid=$!
	pids+=("$perf_pid")
	sleep 0.5
}
perf_detach() {
	kill -INT "$perf_pid" 2>/dev/null || true
	wait "$perf_pid" 2>/dev/null || true
	forget "$perf_pid"
}
if [ "$do_perf" = 1 ]; then
	if ! command -v perf >/dev/null; then
		echo "perf: not installed (Debian: linux-perf); skipped"
	else
		echo
		echo "system calls per request (perf stat -e 'syscalls:sys_enter_*' on the proxy during one wrk run of ${dur}s):"
		for t in "${tlist[@]}"; do
			[ "$t" = origin ] && continue
			start_target "$t" || continue
			client h1 "$h1port" 1 "$tmp/perf.warm" || true
			perf_attach "$tpid" "$tmp/$t.sysc" stat -x, -e 'syscalls:sys_enter_*'
			client h1 "$h1port" "$dur" "$tmp/$t.sysc.wrk" || true
			perf_detach
			stop_target
			req=$(parse_wrk "$tmp/$t.sysc.wrk" | awk '{ print $1 }')
			awk -F, '$3 ~ /^syscalls:sys_enter_/ && $1 + 0 > 0 { sub(/syscalls:sys_enter_/, "", $3); print $1, $3 }' \
				"$tmp/$t.sysc" | sort -rn | awk -v n="$req" -v t="$t" '
				{ c[NR] = $1; name[NR] = $2; all += $1 }
				END {
					if (!n || !all) { printf "  %-10s (no count)\n", t; exit }
					line = sprintf("  %-10s %5.2f per request:", t, all / n)
					for (k = 1; k <= NR && k <= 8; k++) if (c[k] / n >= 0.01) line = line sprintf(" %s %.2f", name[k], c[k] / n)
					print line
				}'
		done
		echo
		echo "perf record -g on meshproxy during one more wrk run (${dur}s); self time by symbol:"
		if start_target meshproxy; then
			client h1 "$h1port" 1 "$tmp/perf.warm" || true
			perf_attach "$tpid" "$tmp/perf.data" record -g
			client h1 "$h1port" "$dur" "$tmp/perf.wrk" || true
			perf_detach
			echo "  wrk under perf: $(parse_wrk "$tmp/perf.wrk" | awk '{ print $2 }') req/s"
			perf report -i "$tmp/perf.data" --no-children --sort dso --stdio -g none >"$tmp/perf.dso" 2>&1 || true
			perf report -i "$tmp/perf.data" --no-children --sort dso,symbol --stdio -g none >"$tmp/perf.sym" 2>&1 || true
			if grep -qE '^ +[0-9.]+%' "$tmp/perf.sym"; then
				echo "  by object: $(grep -E '^ +[0-9.]+%' "$tmp/perf.dso" | awk '$1 + 0 >= 0.5 { printf "%s%s %s", n++ ? ", " : "", $2, $1 }')"
				echo "  user-space symbols (share of all samples):"
				grep -E '^ +[0-9.]+%' "$tmp/perf.sym" | grep -v '\[k\]' | sed -n '1,25s/^ *\(.*[^ -]\)[ -]*$/    \1/p' || true
				echo "  kernel symbols:"
				grep -E '^ +[0-9.]+%' "$tmp/perf.sym" | grep '\[k\]' | sed -n '1,15s/^ *\(.*[^ -]\)[ -]*$/    \1/p' || true
			else
				echo "  (perf report failed: $(tail -n 2 "$tmp/perf.sym"))"
			fi
			echo "  (perf.data in $tmp: perf report -i $tmp/perf.data --children for call chains)"
			stop_target
		fi
	fi
fi
