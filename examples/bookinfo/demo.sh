#!/usr/bin/env bash
# demo.sh - the bookinfo mesh on one machine, step by step (run by ./dev demo).
#
#   demo.sh [--keep] [--api rules|networking] [--mtls auto|on|off] [--dir DIR]
#           [--summary]
#   demo.sh --stop DIR
#
# Starts six bookinfo services (productpage, details, reviews v1/v2/v3,
# ratings), each with a meshproxy sidecar, and an ingress sidecar in front of
# productpage, all on free loopback ports; identities come from a CA made
# with `meshctl ca`, and sidecars talk STRICT mutual TLS. Then: 20 requests
# as an anonymous user and 20 as jason, with the reviews version each
# reached; an 80/20 canary between v1 and v3 written into the watched config
# dir (hot reload) and 100 requests; a plain-text request to a sidecar's
# inbound port, refused; the SPIFFE ID each hop saw. Every process started
# is stopped at the end, on failure and on Ctrl-C.
#
#   --keep        leave the mesh running; print its URLs and how to stop it
#   --api API     rules: the seed's RouteRules (default); networking: the same
#                 routing as a VirtualService and a DestinationRule
#   --mtls MODE   on: --cert-dir and a STRICT PeerAuthentication; off: plain
#                 text between sidecars; auto (default): on when meshproxy has
#                 --cert-dir (DEMO_MTLS sets the default)
#   --dir DIR     keep the state (config, certificates, logs) in DIR, which
#                 must be empty or absent (default: a new temporary directory,
#                 removed at the end unless the demo failed or --keep)
#   --summary     also print machine-readable "DEMO_SUMMARY key=value ..." lines
#   --stop DIR    stop a mesh left running by --keep
#
# Binaries: MESHPROXY, MESHCTL and BOOKINFO, or MESH_BUILD_DIR (default
# build/ of this checkout). Needs curl, jq and python3 (to pick free ports).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${MESH_BUILD_DIR:-$ROOT/build}
MESHPROXY=${MESHPROXY:-$BUILD/meshproxy/meshproxy}
MESHCTL=${MESHCTL:-$BUILD/meshctl/meshctl}
BOOKINFO=${BOOKINFO:-$BUILD/examples/bookinfo/bookinfo}
TD=cluster.local # trust domain
REQUESTS=20
CANARY_REQUESTS=100
CURL=(curl -sS --max-time 5)

keep=false api=rules mtls=${DEMO_MTLS:-auto} dir='' summary=false stop_dir=

usage() { sed -n '2,33s/^# \{0,1\}//p' "$0"; }

while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=true ;;
	--summary) summary=true ;;
	--api | --mtls | --dir | --stop)
		[ $# -ge 2 ] || {
			echo "demo: $1 needs a value" >&2
			exit 2
		}
		case $1 in
		--api) api=$2 ;;
		--mtls) mtls=$2 ;;
		--dir) dir=$2 ;;
		--stop) stop_dir=$2 ;;
		esac
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "demo: unknown option '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done
case $api in rules | networking) ;; *)
	echo "demo: --api wants rules or networking" >&2
	exit 2
	;;
esac
case $mtls in auto | on | off) ;; *)
	echo "demo: --mtls wants auto, on or off" >&2
	exit 2
	;;
esac

say() { printf '\n==> %s\n' "$*"; }
# show CMD...: print a command as a user would type it (paths shortened)
show() {
	local a out=
	for a; do
		[ "$a" = "$MESHCTL" ] && a=meshctl
		a=${a//"$dir"\//}
		[[ $a == *[[:space:]\'\|\;]* ]] && a="'$a'"
		out+=" $a"
	done
	echo "\$${out}"
}
summary() { if $summary; then echo "DEMO_SUMMARY $*"; fi; }

# ---- processes: every one we start is in these arrays, and only those are
# ever signalled

PIDS=()
NAMES=()
LOGS=()

# proc_alive PID: running (not gone, not a zombie waiting to be reaped)
proc_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# stop_pids PID...: SIGTERM, up to 5 s to exit (sidecars drain for 1 s), then
# SIGKILL; children of this shell are reaped
stop_pids() {
	local p i left
	for p; do kill -TERM "$p" 2>/dev/null || true; done
	for i in $(seq 50); do
		left=0
		for p; do proc_alive "$p" && left=$((left + 1)); done
		[ $left -eq 0 ] && break
		sleep 0.1
	done
	for p; do
		if proc_alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
	done
	for p; do wait "$p" 2>/dev/null || true; done
}

stop_all() {
	[ ${#PIDS[@]} -eq 0 ] && return 0
	stop_pids "${PIDS[@]}"
	PIDS=()
}

created_dir=false
finished=false
on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	if ! $finished; then
		stop_all
		if [ -n "$dir" ] && [ -d "$dir/logs" ]; then
			echo "demo: logs kept in $dir/logs" >&2
		fi
	fi
	exit $rc
}
on_signal() {
	echo >&2
	echo "demo: interrupted; stopping the ${#PIDS[@]} processes it started" >&2
	trap - INT TERM
	stop_all
	finished=true
	$created_dir && rm -rf "$dir"
	exit 130
}

# die MESSAGE [LOG]: say what failed, with the end of LOG, and exit 1 (the
# EXIT trap stops everything)
die() {
	echo "demo: $1" >&2
	if [ -n "${2:-}" ] && [ -f "$2" ]; then
		echo "demo: last lines of $2:" >&2
		tail -n 15 "$2" | sed 's/^/    | /' >&2
	fi
	exit 1
}

# start NAME CMD...: run CMD in the background, its output in logs/NAME.log
start() {
	local name=$1 log=$dir/logs/$1.log
	shift
	"$@" </dev/null >"$log" 2>&1 &
	PIDS+=($!)
	NAMES+=("$name")
	LOGS+=("$log")
	echo "$! $name" >>"$dir/pids"
}

# --stop DIR: stop what a --keep run left behind. A pid is signalled only
# while its command line still names DIR (so never a process that reused
# the number).
if [ -n "$stop_dir" ]; then
	if [ ! -f "$stop_dir/pids" ] || [ ! -f "$stop_dir/.bookinfo-demo" ]; then
		echo "demo: $stop_dir is not the directory of a demo" >&2
		exit 1
	fi
	stop_dir=$(cd "$stop_dir" && pwd)
	ours=()
	while read -r pid name; do
		if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$stop_dir/"; then
			ours+=("$pid")
			echo "stopping $name (pid $pid)"
		fi
	done <"$stop_dir/pids"
	[ ${#ours[@]} -gt 0 ] && stop_pids "${ours[@]}"
	for pid in "${ours[@]}"; do
		proc_alive "$pid" && {
			echo "demo: pid $pid did not stop" >&2
			exit 1
		}
	done
	rm -rf "$stop_dir"
	echo "stopped ${#ours[@]} processes, removed $stop_dir"
	exit 0
fi

trap on_exit EXIT
trap on_signal INT TERM

# ---- preflight

for c in curl jq python3; do
	command -v $c >/dev/null || die "$c not found (Debian: apt-get install $c)"
done
for b in "$MESHPROXY" "$MESHCTL" "$BOOKINFO"; do
	[ -x "$b" ] || die "$b not found: build first (meson compile -C build, or ./dev build)"
done
has_cert_dir=false
"$MESHPROXY" --help 2>&1 | grep -q -- --cert-dir && has_cert_dir=true
if [ "$mtls" = auto ]; then
	$has_cert_dir && mtls=on || mtls=off
elif [ "$mtls" = on ] && ! $has_cert_dir; then
	die "--mtls on, but this meshproxy has no --cert-dir"
fi
if [ -z "$dir" ]; then
	dir=$(mktemp -d "${TMPDIR:-/tmp}/bookinfo-demo.XXXXXX")
	created_dir=true
else
	mkdir -p "$dir"
	[ -z "$(ls -A "$dir")" ] || die "--dir $dir is not empty"
	dir=$(cd "$dir" && pwd)
fi
mkdir -p "$dir/logs" "$dir/run" "$dir/certs"
: >"$dir/.bookinfo-demo"
: >"$dir/pids"
summary "start mtls=$mtls api=$api dir=$dir"

# ---- the mesh: workloads, their ports and service accounts

# name app version; the port in examples/bookinfo/services/ (the template)
WORKLOADS=(productpage-v1 details-v1 reviews-v1 reviews-v2 reviews-v3 ratings-v1)
declare -A TEMPLATE_PORT=([productpage-v1]=9101 [details-v1]=9111 [reviews-v1]=9121
	[reviews-v2]=9122 [reviews-v3]=9123 [ratings-v1]=9131)
declare -A APP_PORT IN_PORT ADMIN UP_DETAILS UP_REVIEWS UP_RATINGS
INGRESS_SA=istio-ingressgateway
INGRESS_NS=istio-system
ING_PORT='' ING_ADMIN=

app_of() { echo "${1%-v*}"; }
version_of() { echo "${1##*-}"; }
sa_of() { echo "bookinfo-$(app_of "$1")"; }

# free_ports N: N distinct ports that were free a moment ago (all bound at
# once, then released)
free_ports() {
	python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

pick_ports() {
	local -a p
	read -r -a p <<<"$(free_ports 18)"
	local i=0 w
	for w in "${WORKLOADS[@]}"; do
		APP_PORT[$w]=${p[i]}
		IN_PORT[$w]=${p[i + 1]}
		i=$((i + 2))
	done
	UP_DETAILS[productpage-v1]=${p[i]}
	UP_REVIEWS[productpage-v1]=${p[i + 1]}
	UP_RATINGS[reviews-v2]=${p[i + 2]}
	UP_RATINGS[reviews-v3]=${p[i + 3]}
	ING_PORT=${p[i + 4]}
	# reviews-v1 calls nobody, as in Istio's sample
}

# the resources of FILE with namespace default written out (so that every
# sidecar, the ingress in istio-system too, reads them alike)
with_namespace() {
	sed 's/^metadata:$/metadata:\n  namespace: default/' "$1"
}

write_config() {
	local c=$dir/config f w
	rm -rf "$c"
	mkdir -p "$c/services" "$c/routing"
	for f in "$ROOT"/examples/bookinfo/services/*.yaml; do
		with_namespace "$f" >"$c/services/$(basename "$f")"
	done
	for w in "${WORKLOADS[@]}"; do
		sed -i "s/^    http: ${TEMPLATE_PORT[$w]}\$/    http: ${IN_PORT[$w]}/" \
			"$c/services/$(app_of "$w").yaml"
	done
	grep -q '^    http: 91[0-9][0-9]$' "$c"/services/*.yaml &&
		die "a workload port of examples/bookinfo/services/ is not in the demo's table"
	if [ "$api" = rules ]; then
		for f in "$ROOT"/examples/bookinfo/rules/*.yaml; do
			with_namespace "$f" >"$c/routing/$(basename "$f")"
		done
	else
		for f in "$ROOT"/examples/bookinfo-networking/*.yaml; do
			with_namespace "$f" >"$c/routing/$(basename "$f")"
		done
	fi
	if [ "$mtls" = on ]; then
		cat >"$c/peer-authentication.yaml" <<'YAML'
# Mesh-wide (the root namespace, istio-system): sidecars accept mutual TLS only.
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
YAML
	fi
}

# ---- waiting, bounded

# wait_http URL SECONDS PID LOG WHAT: until URL answers 200, while PID lives
wait_http() {
	local i
	for i in $(seq $(($2 * 10))); do
		curl -sf --max-time 1 -o /dev/null "$1" && return 0
		proc_alive "$3" || die "$5 exited during start-up" "$4"
		sleep 0.1
	done
	die "$5 did not answer $1 within $2 s" "$4"
}

# wait_admin PID LOG WHAT: the admin port from the sidecar's log (into
# ADMIN_PORT), then until /ready answers
wait_admin() {
	local i port=
	for i in $(seq 100); do
		port=$(sed -n 's/.*admin listener on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$2")
		[ -n "$port" ] && break
		proc_alive "$1" || die "$3 exited during start-up" "$2"
		sleep 0.1
	done
	[ -n "$port" ] || die "$3 printed no admin port within 10 s" "$2"
	wait_http "http://127.0.0.1:$port/ready" 10 "$1" "$2" "$3"
	ADMIN_PORT=$port
}

# sidecar WORKLOAD: the meshproxy of one bookinfo workload
sidecar_args() {
	local w=$1 app version
	app=$(app_of "$w")
	version=$(version_of "$w")
	SIDECAR=("$MESHPROXY" --config "$dir/config" --namespace default --workload "$w"
		--labels "app=$app,version=$version" --inbound "${IN_PORT[$w]}:${APP_PORT[$w]}"
		--admin 0 --concurrency 2 --drain-time 1s --reload-poll 250ms)
	[ -n "${UP_DETAILS[$w]:-}" ] &&
		SIDECAR+=(--upstream "details.default.svc.cluster.local:9080=${UP_DETAILS[$w]}")
	[ -n "${UP_REVIEWS[$w]:-}" ] &&
		SIDECAR+=(--upstream "reviews.default.svc.cluster.local:9080=${UP_REVIEWS[$w]}")
	[ -n "${UP_RATINGS[$w]:-}" ] &&
		SIDECAR+=(--upstream "ratings.default.svc.cluster.local:9080=${UP_RATINGS[$w]}")
	[ "$mtls" = on ] && SIDECAR+=(--cert-dir "$dir/certs/$(sa_of "$w")")
	return 0
}

app_args() {
	local w=$1
	APP=("$BOOKINFO" --role "$(app_of "$w")" --version "$(version_of "$w")"
		--listen "127.0.0.1:${APP_PORT[$w]}" --port-file "$dir/run/$w.port")
	[ -n "${UP_DETAILS[$w]:-}" ] && APP+=(--details "http://127.0.0.1:${UP_DETAILS[$w]}")
	[ -n "${UP_REVIEWS[$w]:-}" ] && APP+=(--reviews "http://127.0.0.1:${UP_REVIEWS[$w]}")
	[ -n "${UP_RATINGS[$w]:-}" ] && APP+=(--ratings "http://127.0.0.1:${UP_RATINGS[$w]}")
	return 0
}

# start_mesh: leaves first (ratings, details, reviews, productpage, ingress),
# each app and then its sidecar; returns 1 when a port was taken meanwhile
# (the caller picks new ones), dies on any other failure
start_mesh() {
	local w i=0 log
	for w in ratings-v1 details-v1 reviews-v1 reviews-v2 reviews-v3 productpage-v1; do
		app_args "$w"
		start "$w" "${APP[@]}"
		sidecar_args "$w"
		start "$w-sidecar" "${SIDECAR[@]}"
	done
	SIDECAR=("$MESHPROXY" --config "$dir/config" --namespace "$INGRESS_NS"
		--workload "$INGRESS_SA" --labels "app=$INGRESS_SA"
		--upstream "productpage.default.svc.cluster.local:9080=$ING_PORT"
		--admin 0 --concurrency 2 --drain-time 1s --reload-poll 250ms)
	[ "$mtls" = on ] && SIDECAR+=(--cert-dir "$dir/certs/$INGRESS_SA")
	start ingress "${SIDECAR[@]}"
	sleep 0.2
	for i in "${!PIDS[@]}"; do
		log=${LOGS[i]}
		if ! proc_alive "${PIDS[i]}" && grep -qi 'address already in use' "$log"; then
			return 1
		fi
	done
	for i in "${!PIDS[@]}"; do
		w=${NAMES[i]}
		log=${LOGS[i]}
		# (no command substitution here: die must exit this shell)
		case $w in
		*-sidecar)
			wait_admin "${PIDS[i]}" "$log" "the sidecar of ${w%-sidecar}"
			ADMIN[${w%-sidecar}]=$ADMIN_PORT
			;;
		ingress)
			wait_admin "${PIDS[i]}" "$log" "the ingress sidecar"
			ING_ADMIN=$ADMIN_PORT
			;;
		*) wait_http "http://127.0.0.1:${APP_PORT[$w]}/health" 5 "${PIDS[i]}" "$log" \
			"bookinfo $w" ;;
		esac
	done
}

# ---- requests

URL=
# request FILE [curl options]: GET /productpage through the ingress; the
# answer in FILE; prints the HTTP status (000: none)
request() {
	local out=$1
	shift
	"${CURL[@]}" -o "$out" -w '%{http_code}' "$@" "$URL" 2>"$out.err" || true
}

declare -A COUNT
# tally KEY LABEL N [curl options]: N requests, counted by the reviews
# version that answered (and the stars shown); prints a table row (and a
# summary line named KEY)
tally() {
	local key=$1 label=$2 n=$3 v color colors=
	shift 3
	COUNT=([v1]=0 [v2]=0 [v3]=0 [error]=0)
	for _ in $(seq "$n"); do
		v=error color=''
		if [ "$(request "$dir/run/answer" "$@")" = 200 ]; then
			read -r v color < <(jq -r '[.reviews.body.version // "error",
				.reviews.body.reviews[0].rating.color // "none"] | @tsv' \
				"$dir/run/answer" 2>/dev/null || echo error)
		fi
		case $v in v1 | v2 | v3) ;; *) v=error color='' ;; esac
		COUNT[$v]=$((COUNT[$v] + 1))
		[ -n "$color" ] && [[ " $colors " != *" $v:$color "* ]] && colors+=" $v:$color"
	done
	printf '  %-22s %8s %5s %5s %5s %7s   %s\n' "$label" "$n" "${COUNT[v1]}" "${COUNT[v2]}" \
		"${COUNT[v3]}" "${COUNT[error]}" "${colors# }"
	summary "$key total=$n v1=${COUNT[v1]} v2=${COUNT[v2]} v3=${COUNT[v3]} error=${COUNT[error]}"
}
table_head() {
	printf '  %-22s %8s %5s %5s %5s %7s   %s\n' user requests v1 v2 v3 errors \
		'stars (v1: none, v2: black, v3: red)'
}

problems=0
expect() {
	if ! eval "$1"; then
		echo "demo: expected $2" >&2
		problems=$((problems + 1))
	fi
}

# ---- 1. configuration

say "1. Configuration: the seed's routing ($api), services on free loopback ports"
attempt=1
pick_ports
write_config
echo "State in $dir (commands below run there)."
echo "Config dir config/, watched by every sidecar (polled every 250 ms):"
(cd "$dir/config" && find . -name '*.yaml' | sort | sed 's|^\./|  |')
echo
printf '  %-16s %-22s %8s %15s\n' workload 'service account' 'app port' 'sidecar inbound'
for w in "${WORKLOADS[@]}"; do
	printf '  %-16s %-22s %8s %15s\n' "$w" "$(sa_of "$w")" "${APP_PORT[$w]}" "${IN_PORT[$w]}"
done
echo "Each WorkloadEntry's address is its sidecar's inbound port: routing picks a"
echo "workload, and that sidecar hands the request to its app."
echo
show "$MESHCTL" validate "$dir/config/"
"$MESHCTL" validate "$dir/config/" || die "the generated config does not validate"
show "$MESHCTL" analyze "$dir/config/"
"$MESHCTL" analyze "$dir/config/" || die "the generated config does not analyze"
route_check() {
	local want=$1 out
	shift
	show "$MESHCTL" route "$dir/config/" --host reviews --path /reviews/0 "$@"
	out=$("$MESHCTL" route "$dir/config/" --host reviews --path /reviews/0 "$@") ||
		die "meshctl route failed"
	grep -E '^route [0-9]+:|destination:|tls:' <<<"$out" | sed 's/^/  /' || echo "$out"
	grep -Eq "destination: .*subset (version=)?$want " <<<"$out" ||
		die "meshctl route: expected reviews $want"
}
echo "Where the sidecars will send requests for reviews:"
route_check v1
route_check v2 --header 'cookie: user=jason'

# ---- 2. identities

say "2. Identities: a CA for trust domain $TD, one X.509-SVID per service account"
show "$MESHCTL" ca init --trust-domain $TD --out "$dir/ca"
"$MESHCTL" ca init --trust-domain $TD --out "$dir/ca" >"$dir/logs/ca.log" 2>&1 ||
	die "meshctl ca init failed" "$dir/logs/ca.log"
issue() {
	show "$MESHCTL" ca issue --ca "$dir/ca" --namespace "$1" --service-account "$2" \
		--out "$dir/certs/$2"
	"$MESHCTL" ca issue --ca "$dir/ca" --namespace "$1" --service-account "$2" \
		--out "$dir/certs/$2" >>"$dir/logs/ca.log" 2>&1 ||
		die "meshctl ca issue $2 failed" "$dir/logs/ca.log"
}
for sa in bookinfo-productpage bookinfo-details bookinfo-reviews bookinfo-ratings; do
	issue default $sa
done
issue $INGRESS_NS $INGRESS_SA
show "$MESHCTL" ca inspect "$dir/certs/bookinfo-reviews/cert.pem"
"$MESHCTL" ca inspect "$dir/certs/bookinfo-reviews/cert.pem" |
	grep -E '^(SPIFFE ID|Not after|Chain):' | sed 's/^/  /'
if [ "$mtls" = on ]; then
	echo "Each sidecar gets --cert-dir certs/<service account>; the PeerAuthentication"
	echo "in istio-system makes mutual TLS mandatory mesh-wide (STRICT)."
else
	echo "NOTE: this meshproxy has no --cert-dir (or --mtls off was given): the"
	echo "sidecars talk plain text, and the mTLS step below is skipped."
fi

# ---- 3. start

say "3. Start 6 bookinfo services, a sidecar for each, and an ingress sidecar"
while ! start_mesh; do
	stop_all
	: >"$dir/pids"
	[ $attempt -lt 3 ] || die "ports were taken by other programs three times; giving up"
	attempt=$((attempt + 1))
	echo "A port was taken meanwhile; picking new ones (attempt $attempt)"
	pick_ports
	write_config
done
URL="http://127.0.0.1:$ING_PORT/productpage"
printf '  %-22s %7s %s\n' process pid listens
for i in "${!PIDS[@]}"; do
	w=${NAMES[i]}
	case $w in
	*-sidecar) what="inbound ${IN_PORT[${w%-sidecar}]} -> app ${APP_PORT[${w%-sidecar}]}, admin ${ADMIN[${w%-sidecar}]}" ;;
	ingress) what="productpage on $ING_PORT (plain HTTP for you), admin $ING_ADMIN" ;;
	*) what="app ${APP_PORT[$w]} (plain HTTP, loopback)" ;;
	esac
	printf '  %-22s %7s %s\n' "$w" "${PIDS[i]}" "$what"
done
# end to end: productpage reaches details and reviews, and jason's reviews
# (v2) reaches ratings
ready=false
for i in $(seq 100); do
	if [ "$(request "$dir/run/answer" -H 'cookie: user=jason')" = 200 ] &&
		jq -e '.details.status == 200 and .reviews.status == 200 and
			.reviews.body.ratings.status == 200' "$dir/run/answer" >/dev/null 2>&1; then
		ready=true
		break
	fi
	sleep 0.1
done
$ready || die "the mesh did not serve $URL within 10 s: $(head -c 400 "$dir/run/answer" \
	"$dir/run/answer.err" 2>/dev/null | tr '\n' ' ')" "$dir/logs/productpage-v1-sidecar.log"
echo "Every sidecar is /ready, and $URL answers."
summary "ready ingress=$ING_PORT pids=$(
	IFS=,
	echo "${PIDS[*]}"
)"

# ---- 4. routing by user

say "4. $REQUESTS requests as an anonymous user, $REQUESTS as jason (cookie user=jason)"
show curl "$URL"
show curl -H 'cookie: user=jason' "$URL"
table_head
tally anonymous anonymous $REQUESTS
expect '[ ${COUNT[v1]} -eq $REQUESTS ]' "every anonymous request to reach reviews v1"
tally jason jason $REQUESTS -H 'cookie: user=jason'
expect '[ ${COUNT[v2]} -eq $REQUESTS ]' "every request of jason to reach reviews v2"

# ---- 5. canary

say "5. Canary: 80% of reviews to v1, 20% to v3, by a new rule in the watched config dir"
if [ "$api" = rules ]; then
	canary=$dir/config/routing/route-rule-reviews-default.yaml
	cat >"$dir/run/canary.yaml" <<'YAML'
apiVersion: config.istio.io/v1alpha2
kind: RouteRule
metadata:
  name: reviews-default
  namespace: default
spec:
  destination:
    name: reviews
  precedence: 1
  route:
  - labels:
      version: v1
    weight: 80
  - labels:
      version: v3
    weight: 20
YAML
	echo "reviews-default is replaced (same name and precedence, now with weights);"
	echo "reviews-test-v2 (precedence 2) still sends jason to v2."
else
	canary=$dir/config/routing/virtual-service-reviews.yaml
	cat >"$dir/run/canary.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts:
  - reviews
  http:
  - name: reviews-test-v2
    match:
    - headers:
        cookie:
          regex: "^(.*?;)?(user=jason)(;.*)?$"
    route:
    - destination:
        host: reviews
        subset: v2
  - name: reviews-canary
    route:
    - destination:
        host: reviews
        subset: v1
      weight: 80
    - destination:
        host: reviews
        subset: v3
      weight: 20
YAML
	echo "The VirtualService reviews is replaced: jason's route first, as before, then"
	echo "a weighted default route."
fi
echo "--- ${canary#"$dir"/}"
cat "$dir/run/canary.yaml"
gen_of() {
	"${CURL[@]}" "http://127.0.0.1:${ADMIN[productpage-v1]}/config_dump" 2>/dev/null |
		jq -r .generation 2>/dev/null || echo 0
}
gen0=$(gen_of)
# meshctl apply checks the rule with the rest of the directory, then
# renames it in whole: a sidecar never reads half a file, nor a bad one
staged="$dir/run/${canary##*/}"
cp "$dir/run/canary.yaml" "$staged"
show "$MESHCTL" apply --dir "${canary%/*}" "$staged"
"$MESHCTL" apply --dir "${canary%/*}" "$staged" || die "meshctl apply refused the canary rule"
t0=$(date +%s%N)
gen=$gen0
for i in $(seq 100); do
	gen=$(gen_of)
	[ "$gen" != "$gen0" ] && break
	sleep 0.1
done
[ "$gen" != "$gen0" ] ||
	die "productpage's sidecar did not reload within 10 s" "$dir/logs/productpage-v1-sidecar.log"
# and until new requests see it: the first one answered by v3 (a reload that
# began just before the rename would count a generation with the old rule)
seen=false
for i in $(seq 200); do
	if [ "$(request "$dir/run/answer")" = 200 ] &&
		[ "$(jq -r '.reviews.body.version' "$dir/run/answer" 2>/dev/null)" = v3 ]; then
		seen=true
		break
	fi
done
$seen || die "no request reached reviews v3 after the reload" \
	"$dir/logs/productpage-v1-sidecar.log"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "productpage's sidecar reloaded (configuration $gen0 -> $gen) without a restart;"
echo "the first request reached v3 ${ms} ms after the rename."
table_head
tally canary anonymous $CANARY_REQUESTS
expect '[ $((COUNT[v1] + COUNT[v3])) -eq $CANARY_REQUESTS ] && [ ${COUNT[v1]} -gt 0 ] &&
	[ ${COUNT[v3]} -gt 0 ]' "the canary to split anonymous requests between v1 and v3 only"
tally canary-jason jason $REQUESTS -H 'cookie: user=jason'
expect '[ ${COUNT[v2]} -eq $REQUESTS ]' "jason to stay on reviews v2 during the canary"

# ---- 6. mTLS and identities

say "6. STRICT mutual TLS: plain text refused; the identity each hop saw"
target="http://127.0.0.1:${IN_PORT[details-v1]}/details/0"
echo "A plain-text request straight to the inbound port of details' sidecar:"
show curl "$target"
code=$("${CURL[@]}" -o "$dir/run/plain" -w '%{http_code}' --max-time 3 "$target" \
	2>"$dir/run/plain.err") || true
if [ "$code" = 200 ]; then
	echo "  answered 200: the sidecar accepted plain text"
	plain=accepted
else
	what=$(head -n 1 "$dir/run/plain.err")
	[ "$code" != 000 ] && what+=" (HTTP status $code)"
	echo "  refused: $what"
	plain=refused
fi
if [ "$mtls" = on ]; then
	expect '[ $plain = refused ]' "a plain-text request to an inbound port to be refused"
	summary "plaintext result=$plain"
else
	echo "  (mTLS is off in this run: accepted, as expected)"
	summary "plaintext result=$plain skipped=mtls-off"
fi
echo
echo "One request as jason through the mesh; each service reports the caller's SPIFFE"
echo "ID from the x-forwarded-client-cert header its sidecar added:"
code=$(request "$dir/run/answer" -H 'cookie: user=jason')
[ "$code" = 200 ] || die "the identity request failed (HTTP status $code)"
peer() { jq -r "$1 // \"none\"" "$dir/run/answer"; }
p_pp=$(peer .peer)
p_de=$(peer .details.body.peer)
p_rv=$(peer .reviews.body.peer)
p_ra=$(peer .reviews.body.ratings.body.peer)
rv=$(jq -r '.reviews.body.version' "$dir/run/answer")
printf '  %-14s <- %s\n' productpage "$p_pp" details "$p_de" "reviews $rv" "$p_rv" ratings "$p_ra" |
	sed 's/<- none$/<- none (plain text: no client certificate)/'
xfcc=$(jq -r '.reviews.body.ratings.body.xfcc // empty' "$dir/run/answer")
[ -n "$xfcc" ] && echo "  (ratings received x-forwarded-client-cert: $xfcc)"
summary "peers productpage=$p_pp details=$p_de reviews=$p_rv ratings=$p_ra"
if [ "$mtls" = on ]; then
	expect '[ "$p_pp" = spiffe://$TD/ns/$INGRESS_NS/sa/$INGRESS_SA ]' \
		"productpage to see the ingress's identity"
	expect '[ "$p_de" = spiffe://$TD/ns/default/sa/bookinfo-productpage ] &&
		[ "$p_rv" = spiffe://$TD/ns/default/sa/bookinfo-productpage ]' \
		"details and reviews to see productpage's identity"
	expect '[ "$p_ra" = spiffe://$TD/ns/default/sa/bookinfo-reviews ]' \
		"ratings to see reviews' identity"
fi

# ---- 7. the end

if $keep; then
	finished=true
	say "The mesh keeps running (its state: $dir)"
	echo "  productpage  http://127.0.0.1:$ING_PORT/productpage (the ingress sidecar; JSON, HTML to a browser)"
	echo "               curl -H 'cookie: user=jason' http://127.0.0.1:$ING_PORT/productpage"
	echo "  admin ports  (/ready /config_dump /clusters /listeners /stats/prometheus)"
	printf '    %-16s http://127.0.0.1:%s/\n' ingress "$ING_ADMIN"
	for w in "${WORKLOADS[@]}"; do
		printf '    %-16s http://127.0.0.1:%s/\n' "$w" "${ADMIN[$w]}"
	done
	echo "  config dir   $dir/config (edit it: the sidecars reload it)"
	echo "  logs         $dir/logs/"
	echo "Stop it with"
	echo "  ./dev demo --stop $dir"
	echo "(or examples/bookinfo/demo.sh --stop DIR; it stops pids ${PIDS[*]})"
	summary "kept dir=$dir"
	[ $problems -eq 0 ] || exit 1
	exit 0
fi

say "7. Stop every process the demo started"
n=${#PIDS[@]}
stop_all
echo "Stopped $n processes."
summary "stopped n=$n"
finished=true
if [ $problems -ne 0 ]; then
	echo "demo: $problems expectations failed; logs in $dir/logs" >&2
	exit 1
fi
$created_dir && rm -rf "$dir"
say "Demo done"
