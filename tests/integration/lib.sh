# lib.sh - assertions for the integration scripts (sourced).
# Each check prints "ok N - what" or "not ok N - what"; finish prints the
# plain "N passed, N failed" line and sets the exit status.
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { passed=$((passed + 1)); echo "ok $((passed + failed)) - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok $((passed + failed)) - $1"; }

# expect_status WHAT STATUS CMD...: run CMD, output in $tmp/out
expect_status() {
	what=$1 want=$2
	shift 2
	set +e
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	set -e
	if [ "$got" = "$want" ]; then ok "$what"; else
		not_ok "$what (exit $got, wanted $want)"
		sed 's/^/    | /' "$tmp/out" "$tmp/err" | head -20
	fi
}

# expect_output WHAT TEXT: $tmp/out contains TEXT (fixed string)
expect_output() {
	if grep -qF -- "$2" "$tmp/out"; then ok "$1"; else
		not_ok "$1 (no '$2' in output)"
		sed 's/^/    | /' "$tmp/out" | head -20
	fi
}

# wait_for SECONDS CMD...: until CMD succeeds (checked every 50 ms), at
# most SECONDS; the status is CMD's last one. For what happens after the
# answer (a mirror's copy, a counter), on machines of any speed
wait_for() {
	wf_n=$(($1 * 20))
	shift
	while ! "$@"; do
		[ "$wf_n" -gt 0 ] || return 1
		wf_n=$((wf_n - 1))
		sleep 0.05
	done
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
