#!/bin/sh
# meshctl route as a user debugging routing runs it: the seed's RouteRules,
# the VirtualService equivalents, --all explanations, JSON, exit codes.
set -eu
. "$(dirname "$0")/lib.sh"
M=${MESHCTL:?}
src=${MESH_SOURCE_DIR:?}
rules="$src/examples/bookinfo"
vs="$src/examples/bookinfo-networking"

expect_status "usage without --host" 2 "$M" route "$rules"
expect_status "anonymous request routes" 0 "$M" route "$rules" --host reviews --path /reviews/1
expect_output "anonymous reaches v1 by reviews-default" "RouteRule default/reviews-default"
expect_output "v1 subset" "subset version=v1"

expect_status "jason routes" 0 "$M" route "$rules" --host reviews:9080 --path /reviews/1 \
	--header 'cookie: user=jason'
expect_output "jason reaches v2" "subset version=v2"
expect_output "rule file and line" "route-rule-reviews-test-v2.yaml:1): matched"

expect_status "--all explains" 0 "$M" route "$rules" --host reviews --all
expect_output "why the jason rule did not match" "not matched: header \"cookie\" is absent"

expect_status "json output" 0 "$M" route "$rules" --host reviews -o json --header 'cookie: user=jason'
if command -v jq >/dev/null; then
	if jq -e '.matched.name == "reviews-test-v2" and .matched.destinations[0].subset == "version=v2"' \
		"$tmp/out" >/dev/null; then ok "json fields"; else not_ok "json fields"; cat "$tmp/out"; fi
fi

expect_status "unknown host is 404 NR" 1 "$M" route "$rules" --host nothing.example
expect_output "NR explained" "no virtual host serves \"nothing.example\""

if [ -d "$vs" ]; then
	expect_status "VirtualService equivalent" 0 "$M" route "$vs" "$rules/services" --host reviews \
		--header 'cookie: user=jason'
	expect_output "VirtualService jason route" "VirtualService default/"
	expect_output "v2 subset" "subset v2"
fi

printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [x]\n  http:\n  - route: [{destination: {host: x}, weight: 50}, {destination: {host: y}, weight: 40}]\n' >"$tmp/bad.yaml"
expect_status "invalid config is refused" 1 "$M" route "$tmp/bad.yaml" --host x
expect_output "with the diagnostic" "weights must sum to 100, got 90"

finish
