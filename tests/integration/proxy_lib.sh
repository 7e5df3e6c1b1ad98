# proxy_lib.sh - starting backends and meshproxy for the proxy integration
# scripts (sourced after lib.sh). Everything binds 127.0.0.1 port 0 and
# reports the port it got, so scripts run in parallel without clashing.
P=${MESHPROXY:?}
E=${MESHECHO:?}
PY=${PYTHON:-python3}
PROBE="$PY $(dirname "$0")/h1probe.py"
# a directory of our own name: lib.sh's mktemp default (/tmp/tmp.XXXX) is a
# name that other tools' clean-ups sweep
rm -rf "$tmp"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/meshproxy-test.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# wait_file FILE: until it exists and is not empty (5 s at most)
wait_file() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$1" ]
}

# start_echo NAME: a meshecho answering as NAME; sets port (not in a
# subshell, so that the pid is remembered for the clean-up)
start_echo() {
	rm -f "$tmp/$1.port" # (a name used before: not its old port)
	"$E" --listen 127.0.0.1:0 --name "$1" --port-file "$tmp/$1.port" >"$tmp/$1.log" 2>&1 &
	pids="$pids $!"
	wait_file "$tmp/$1.port" || { echo "meshecho $1 did not start" >&2; cat "$tmp/$1.log" >&2; exit 1; }
	port=$(cat "$tmp/$1.port")
}

# start_raw NAME MODE: an h1probe backend (reset, status:N); sets port; it
# logs each connection and request head to $tmp/NAME.log
start_raw() {
	rm -f "$tmp/$1.port"
	: >"$tmp/$1.log"
	$PROBE backend "$2" --name "$1" --port-file "$tmp/$1.port" --log "$tmp/$1.log" \
		>"$tmp/$1.err" 2>&1 &
	pids="$pids $!"
	wait_file "$tmp/$1.port" || { echo "backend $1 did not start" >&2; cat "$tmp/$1.err" >&2; exit 1; }
	port=$(cat "$tmp/$1.port")
}

# closed_port: sets port to one that refuses connections for the whole
# test: a socket holds it bound without listening (and without
# SO_REUSEADDR), so no other listener, nor a client's automatic port, can
# take it meanwhile (tests run in parallel)
closed_port() {
	n=$(ls "$tmp" | grep -c '^closed' || true)
	$PY -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
time.sleep(3600)' "$tmp/closed$n.port" >/dev/null 2>&1 &
	pids="$pids $!"
	wait_file "$tmp/closed$n.port" || { echo "closed_port: no port" >&2; exit 1; }
	port=$(cat "$tmp/closed$n.port")
}

# put FILE: stdin written next to FILE under a dot name (which the proxy
# ignores), then renamed into place, so a watching proxy never reads it
# half-written
put() {
	cat >"$(dirname "$1")/.$(basename "$1").tmp" && mv "$(dirname "$1")/.$(basename "$1").tmp" "$1"
}

# free_port -> a port nothing listens on (bound, then released; another
# process may take it afterwards: for a port that must stay closed, see
# closed_port)
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# service_entry NAME PORT... -> a STATIC ServiceEntry NAME with those endpoints
service_entry() {
	name=$1
	shift
	printf -- '---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: %s}\n' "$name"
	printf 'spec:\n  hosts: [%s.default.svc.cluster.local]\n' "$name"
	printf '  ports: [{number: 9080, name: http, protocol: HTTP}]\n'
	printf '  location: MESH_INTERNAL\n  resolution: STATIC\n  endpoints:\n'
	for port in "$@"; do printf '  - {address: 127.0.0.1, ports: {http: %s}}\n' "$port"; done
}

# start_proxy LOG ARGS... : meshproxy with an outbound and an admin listener;
# sets proxy (pid), out and adm (ports)
start_proxy() {
	log=$1
	shift
	# emptied here, not by the redirection below: that one runs in the
	# background child, and until it does an old log of the same name
	# would show an old proxy's "admin listener" line and ports
	: >"$log"
	"$P" --outbound 0 --admin 0 "$@" >"$log" 2>&1 &
	proxy=$!
	pids="$pids $proxy"
	i=0
	while ! grep -qs "admin listener" "$log" && [ $i -lt 200 ] && kill -0 $proxy 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	out=$(sed -n 's/.*outbound listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")
	adm=$(sed -n 's/.*admin listener on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")
	[ -n "$out" ] && [ -n "$adm" ] || { echo "meshproxy did not start"; cat "$log"; exit 1; }
	i=0
	until curl -sf "http://127.0.0.1:$adm/ready" >/dev/null || [ $i -gt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

# flag_count FLAG -> meshproxy_response_flags_total{flag="FLAG"} now
flag_count() {
	curl -s --max-time 3 "http://127.0.0.1:$adm/stats/prometheus" |
		sed -n "s/^meshproxy_response_flags_total{flag=\"$1\"} //p"
}

# flag_above FLAG N: more than N requests have had FLAG
flag_above() { [ "$(flag_count "$1")" -gt "$2" ]; }

# reloads -> configuration loads tried so far (taken and refused)
reloads() {
	curl -s --max-time 3 "http://127.0.0.1:$adm/stats/prometheus" |
		awk '/^meshproxy_config_reloads_total/ { n += $2 } END { print n + 0 }'
}

# wait_reload N: until more than N loads were tried (10 s at most)
reloads_above() { [ "$(reloads)" -gt "$1" ]; }
wait_reload() { wait_for 10 reloads_above "$1"; }

# counter NAME -> meshproxy_NAME now
counter() {
	curl -s --max-time 3 "http://127.0.0.1:$adm/stats/prometheus" | sed -n "s/^meshproxy_$1 //p"
}

# sanitizer_check LOG: no AddressSanitizer / UBSan / LeakSanitizer report
sanitizer_check() {
	if grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|ThreadSanitizer' "$1"; then
		not_ok "no sanitizer report in the proxy's stderr"
		grep -E -A30 'ERROR: |runtime error:' "$1" | head -80 | sed 's/^/    | /'
	else
		ok "no sanitizer report in the proxy's stderr"
	fi
}
