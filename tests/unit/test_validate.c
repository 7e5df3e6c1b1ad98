/*
 * test_validate.c - the validator's diagnostics, kind by kind: small
 * documents with one mistake each (the kind Istio users make: misspelled
 * fields, wrong types, enum typos, weights that do not add up, bad
 * durations, hosts, labels and regexes, missing or conflicting fields) and
 * the one error each must give, with its exact message, line, column and
 * field path; and near misses that must be accepted.
 *
 * Every document starts with a four-line header (apiVersion, kind,
 * metadata, name), so "spec:" is always line 5.
 */
#include "testutil.h"

#define HEADER(api, kind, name)                                                                    \
	"apiVersion: " api "\n"                                                                    \
	"kind: " kind "\n"                                                                         \
	"metadata:\n"                                                                              \
	"  name: " name "\n"

#define VS HEADER("networking.istio.io/v1", "VirtualService", "reviews")
#define DR HEADER("networking.istio.io/v1", "DestinationRule", "reviews")
#define SE HEADER("networking.istio.io/v1", "ServiceEntry", "external-api")
#define WE HEADER("networking.istio.io/v1", "WorkloadEntry", "ratings-vm")
#define GW HEADER("networking.istio.io/v1", "Gateway", "bookinfo-gateway")
#define SC HEADER("networking.istio.io/v1", "Sidecar", "default")
#define PA HEADER("security.istio.io/v1", "PeerAuthentication", "default")
#define AP HEADER("security.istio.io/v1", "AuthorizationPolicy", "productpage")
#define RA HEADER("security.istio.io/v1", "RequestAuthentication", "jwt")
#define TM HEADER("telemetry.istio.io/v1", "Telemetry", "mesh-default")
#define RR HEADER("config.istio.io/v1alpha2", "RouteRule", "reviews-default")
#define DP HEADER("config.istio.io/v1alpha2", "DestinationPolicy", "reviews-cb")
#define ER HEADER("config.istio.io/v1alpha2", "EgressRule", "googleapis")
#define MC HEADER("mesh.libmesh.io/v1alpha1", "MeshConfig", "mesh")

/* ---- VirtualService ---- */

START_TEST(vs_timeout_misspelled)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "    timout: 10s\n",
	                    12, 5, "spec.http[0].timout",
	                    "unknown field \"timout\" in HTTPRoute, did you mean \"timeout\"?");
}
END_TEST

START_TEST(vs_host_instead_of_hosts)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  host: reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n",
	                    6, 3, "spec.host",
	                    "unknown field \"host\" in VirtualService, did you mean \"hosts\"?");
}
END_TEST

START_TEST(vs_weights_sum_90)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        subset: v1\n"
	                       "      weight: 80\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        subset: v2\n"
	                       "      weight: 10\n",
	                    17, 15, "spec.http[0].route[1].weight",
	                    "weights must sum to 100, got 90");
}
END_TEST

START_TEST(vs_weights_sum_110)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        subset: v1\n"
	                       "      weight: 50\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        subset: v3\n"
	                       "      weight: 60\n",
	                    17, 15, "spec.http[0].route[1].weight",
	                    "weights must sum to 100, got 110");
}
END_TEST

START_TEST(vs_weight_percent_string)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        subset: v1\n"
	                       "      weight: 80%\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        subset: v2\n"
	                       "      weight: 20\n",
	                    13, 15, "spec.http[0].route[0].weight",
	                    "expected an integer, got string \"80%\"");
}
END_TEST

START_TEST(vs_timeout_no_unit)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: ratings\n"
	                       "    timeout: 1.5\n",
	                    12, 14, "spec.http[0].timeout",
	                    "invalid duration \"1.5\": missing unit (use e.g. 1.5s, 100ms or 1h)");
}
END_TEST

START_TEST(vs_timeout_bad_unit)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: ratings\n"
	                       "    timeout: 10x\n",
	                    12, 14, "spec.http[0].timeout",
	                    "invalid duration \"10x\": unknown unit (use ns, us, ms, s, m or h)");
}
END_TEST

START_TEST(vs_timeout_negative)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: ratings\n"
	                       "    timeout: -1s\n",
	                    12, 14, "spec.http[0].timeout",
	                    "invalid duration \"-1s\": must not be negative");
}
END_TEST

START_TEST(vs_timeout_below_1ms)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: ratings\n"
	                       "    timeout: 0.5ms\n",
	                    12, 14, "spec.http[0].timeout",
	                    "duration must be at least 1ms, got \"0.5ms\"");
}
END_TEST

START_TEST(vs_per_try_timeout_integer)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: ratings\n"
	                       "    retries:\n"
	                       "      attempts: 3\n"
	                       "      perTryTimeout: 2\n",
	                    14, 22, "spec.http[0].retries.perTryTimeout",
	                    "invalid duration \"2\": missing unit (use e.g. 1.5s, 100ms or 1h)");
}
END_TEST

START_TEST(vs_uri_exact_and_prefix)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - productpage\n"
	                       "  http:\n"
	                       "  - match:\n"
	                       "    - uri:\n"
	                       "        exact: /productpage\n"
	                       "        prefix: /static\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: productpage\n",
	                    12, 9, "spec.http[0].match[0].uri.prefix",
	                    "only one of \"exact\" and \"prefix\" may be set");
}
END_TEST

START_TEST(vs_route_and_redirect)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - productpage\n"
	                       "  http:\n"
	                       "  - match:\n"
	                       "    - uri:\n"
	                       "        prefix: /old\n"
	                       "    redirect:\n"
	                       "      uri: /new\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: productpage\n",
	                    14, 5, "spec.http[0].route",
	                    "only one of \"redirect\" and \"route\" may be set");
}
END_TEST

START_TEST(vs_abort_status_999)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - fault:\n"
	                       "      abort:\n"
	                       "        percentage:\n"
	                       "          value: 100\n"
	                       "        httpStatus: 999\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: ratings\n",
	                    13, 21, "spec.http[0].fault.abort.httpStatus",
	                    "httpStatus must be between 200 and 599, got 999");
}
END_TEST

START_TEST(vs_redirect_code_200)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - productpage\n"
	                       "  http:\n"
	                       "  - redirect:\n"
	                       "      uri: /v2/productpage\n"
	                       "      redirectCode: 200\n",
	                    11, 21, "spec.http[0].redirect.redirectCode",
	                    "redirectCode must be between 300 and 399, got 200");
}
END_TEST

START_TEST(vs_delay_percentage_150)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - fault:\n"
	                       "      delay:\n"
	                       "        fixedDelay: 7s\n"
	                       "        percentage:\n"
	                       "          value: 150\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: ratings\n",
	                    13, 18, "spec.http[0].fault.delay.percentage.value",
	                    "must be between 0 and 100, got 150");
}
END_TEST

START_TEST(vs_destination_missing_host)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        subset: v1\n",
	                    11, 9, "spec.http[0].route[0].destination",
	                    "missing required field \"host\"");
}
END_TEST

START_TEST(vs_destination_host_double_dot)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews..svc.cluster.local\n",
	                    11, 15, "spec.http[0].route[0].destination.host",
	                    "invalid host \"reviews..svc.cluster.local\": empty label (two dots "
	                    "in a row, or a leading or trailing dot)");
}
END_TEST

START_TEST(vs_host_bad_wildcard)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - \"*foo.com\"\n"
	                       "  gateways:\n"
	                       "  - bookinfo-gateway\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: productpage\n",
	                    7, 5, "spec.hosts[0]",
	                    "invalid host \"*foo.com\": a wildcard must be the whole first "
	                    "label, as in *.example.com");
}
END_TEST

START_TEST(vs_destination_host_underscore)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews_v2\n",
	                    11, 15, "spec.http[0].route[0].destination.host",
	                    "invalid host \"reviews_v2\": only letters, digits, '-' and '.' are "
	                    "allowed");
}
END_TEST

START_TEST(vs_destination_port_70000)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        port:\n"
	                       "          number: 70000\n",
	                    13, 19, "spec.http[0].route[0].destination.port.number",
	                    "must be between 1 and 65535, got 70000");
}
END_TEST

START_TEST(vs_destination_port_0)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        port:\n"
	                       "          number: 0\n",
	                    13, 19, "spec.http[0].route[0].destination.port.number",
	                    "must be between 1 and 65535, got 0");
}
END_TEST

START_TEST(vs_uri_regex_unclosed)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - productpage\n"
	                       "  http:\n"
	                       "  - match:\n"
	                       "    - uri:\n"
	                       "        regex: /api/(v1|v2/.*\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: productpage\n",
	                    11, 16, "spec.http[0].match[0].uri.regex",
	                    "invalid regex \"/api/(v1|v2/.*\": missing closing parenthesis at "
	                    "offset 14");
}
END_TEST

START_TEST(vs_header_regex_bad_class)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - match:\n"
	                       "    - headers:\n"
	                       "        end-user:\n"
	                       "          regex: \"[a-z\"\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n",
	                    12, 18, "spec.http[0].match[0].headers.end-user.regex",
	                    "invalid regex \"[a-z\": missing terminating ] for character class "
	                    "at offset 4");
}
END_TEST

START_TEST(vs_header_name_space)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - match:\n"
	                       "    - headers:\n"
	                       "        end user:\n"
	                       "          exact: jason\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n",
	                    11, 9, "spec.http[0].match[0].headers.end user",
	                    "invalid header name \"end user\": only letters, digits, '-' and '_' "
	                    "are allowed");
}
END_TEST

START_TEST(vs_subset_underscore)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        subset: v1_beta\n",
	                    12, 17, "spec.http[0].route[0].destination.subset",
	                    "invalid subset name \"v1_beta\": only letters, digits and '-' are "
	                    "allowed");
}
END_TEST

START_TEST(vs_cors_method_typo)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - corsPolicy:\n"
	                       "      allowOrigins:\n"
	                       "      - exact: https://example.com\n"
	                       "      allowMethods:\n"
	                       "      - GET\n"
	                       "      - POTS\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: ratings\n",
	                    14, 9, "spec.http[0].corsPolicy.allowMethods[1]",
	                    "invalid value \"POTS\", did you mean \"POST\"?");
}
END_TEST

START_TEST(vs_retry_on_typo)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: ratings\n"
	                       "    retries:\n"
	                       "      attempts: 3\n"
	                       "      retryOn: 5xx,gateway-eror\n",
	                    14, 16, "spec.http[0].retries.retryOn",
	                    "invalid retryOn policy \"gateway-eror\"; expected an HTTP status "
	                    "code or one of 5xx, gateway-error, reset, reset-before-request, "
	                    "connect-failure, retriable-4xx, refused-stream, "
	                    "retriable-status-codes, retriable-headers, envoy-ratelimited, "
	                    "http3-post-connect-failure, cancelled, deadline-exceeded, internal, "
	                    "resource-exhausted, unavailable");
}
END_TEST

START_TEST(vs_hosts_string)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts: reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n",
	                    6, 10, "spec.hosts", "expected a list, got string \"reviews\"");
}
END_TEST

/* Not also "one of http, tcp or tls must be set". */
START_TEST(vs_http_mapping)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n",
	                    9, 5, "spec.http", "expected a list, got a mapping");
}
END_TEST

START_TEST(vs_ignore_uri_case_quoted)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - productpage\n"
	                       "  http:\n"
	                       "  - match:\n"
	                       "    - uri:\n"
	                       "        prefix: /Login\n"
	                       "      ignoreUriCase: \"true\"\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: productpage\n",
	                    12, 22, "spec.http[0].match[0].ignoreUriCase",
	                    "expected true or false, got string \"true\"");
}
END_TEST

START_TEST(vs_mirror_percentage_101)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - httpbin\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: httpbin\n"
	                       "        subset: v1\n"
	                       "    mirror:\n"
	                       "      host: httpbin\n"
	                       "      subset: v2\n"
	                       "    mirrorPercentage:\n"
	                       "      value: 101\n",
	                    17, 14, "spec.http[0].mirrorPercentage.value",
	                    "must be between 0 and 100, got 101");
}
END_TEST

START_TEST(vs_source_label_value)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - match:\n"
	                       "    - sourceLabels:\n"
	                       "        app: reviews\n"
	                       "        version: v2 beta\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: ratings\n",
	                    12, 18, "spec.http[0].match[0].sourceLabels.version",
	                    "invalid label value \"v2 beta\": only letters, digits, '-', '_' and "
	                    "'.' are allowed");
}
END_TEST

START_TEST(vs_tcp_route_missing)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - mongo.prod.svc.cluster.local\n"
	                       "  tcp:\n"
	                       "  - match:\n"
	                       "    - port: 27017\n",
	                    9, 5, "spec.tcp[0]", "missing required field \"route\"");
}
END_TEST

START_TEST(vs_no_routes)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n",
	                    6, 3, "spec", "one of http, tcp or tls must be set");
}
END_TEST

START_TEST(vs_direct_response_700)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - directResponse:\n"
	                       "      status: 700\n"
	                       "      body:\n"
	                       "        string: unavailable\n",
	                    10, 15, "spec.http[0].directResponse.status",
	                    "status must be between 200 and 599, got 700");
}
END_TEST

START_TEST(vs_duplicate_host)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n",
	                    8, 5, "spec.hosts[1]", "duplicate host \"reviews\"");
}
END_TEST

START_TEST(vs_match_port_70000)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - match:\n"
	                       "    - port: 70000\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n",
	                    10, 13, "spec.http[0].match[0].port",
	                    "must be between 0 and 65535, got 70000");
}
END_TEST

/* One mistake, one error: not also "missing required field". */
START_TEST(vs_misspelled_destination)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destinaton:\n"
	                       "        host: reviews\n",
	                    10, 7, "spec.http[0].route[0].destinaton",
	                    "unknown field \"destinaton\" in HTTPRouteDestination, did you mean "
	                    "\"destination\"?");
}
END_TEST

START_TEST(vs_subset_number)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        subset: 2\n",
	                    12, 17, "spec.http[0].route[0].destination.subset",
	                    "expected a subset name, got 2 (quote it: \"2\")");
}
END_TEST

START_TEST(vs_star_host_bound_to_mesh)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - \"*\"\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: productpage\n",
	                    7, 5, "spec.hosts[0]",
	                    "host \"*\" is only allowed when the VirtualService is bound to "
	                    "gateways only (gateways without \"mesh\")");
}
END_TEST

START_TEST(vs_two_destinations_without_weights)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - reviews\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        subset: v1\n"
	                       "    - destination:\n"
	                       "        host: reviews\n"
	                       "        subset: v2\n",
	                    13, 7, "spec.http[0].route[1]", "weights must sum to 100, got 0");
}
END_TEST

/* Not "expected a number after the unit". */
START_TEST(vs_timeout_sec_unit)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - ratings\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: ratings\n"
	                       "    timeout: 10sec\n",
	                    12, 14, "spec.http[0].timeout",
	                    "invalid duration \"10sec\": unknown unit (use ns, us, ms, s, m or h)");
}
END_TEST

/* The offset counts characters, not bytes (\xe9 is two bytes). */
START_TEST(vs_regex_offset_in_characters)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  - productpage\n"
	                       "  http:\n"
	                       "  - match:\n"
	                       "    - uri:\n"
	                       "        regex: \"/caf\\xe9/(menu\"\n"
	                       "    route:\n"
	                       "    - destination:\n"
	                       "        host: productpage\n",
	                    11, 16, "spec.http[0].match[0].uri.regex",
	                    "invalid regex \"/caf\xc3\xa9/(menu\": missing closing parenthesis "
	                    "at offset 11");
}
END_TEST

START_TEST(vs_empty_hosts_entry)
{
	tu_assert_one_error(VS "spec:\n"
	                       "  hosts:\n"
	                       "  -\n"
	                       "  http:\n"
	                       "  - route:\n"
	                       "    - destination:\n"
	                       "        host: reviews\n",
	                    7, 4, "spec.hosts[0]", "empty list entry");
}
END_TEST

START_TEST(ok_vs_weights_80_20)
{
	tu_assert_valid(VS "spec:\n"
	                   "  hosts:\n"
	                   "  - reviews\n"
	                   "  http:\n"
	                   "  - route:\n"
	                   "    - destination:\n"
	                   "        host: reviews\n"
	                   "        subset: v1\n"
	                   "      weight: 80\n"
	                   "    - destination:\n"
	                   "        host: reviews\n"
	                   "        subset: v2\n"
	                   "      weight: 20\n");
}
END_TEST

START_TEST(ok_vs_single_destination_no_weight)
{
	tu_assert_valid(VS "spec:\n"
	                   "  hosts:\n"
	                   "  - reviews\n"
	                   "  http:\n"
	                   "  - route:\n"
	                   "    - destination:\n"
	                   "        host: reviews\n"
	                   "        subset: v1\n");
}
END_TEST

START_TEST(ok_vs_durations)
{
	tu_assert_valid(VS "spec:\n"
	                   "  hosts:\n"
	                   "  - ratings\n"
	                   "  http:\n"
	                   "  - route:\n"
	                   "    - destination:\n"
	                   "        host: ratings\n"
	                   "    timeout: 1.5s\n"
	                   "    retries:\n"
	                   "      attempts: 3\n"
	                   "      perTryTimeout: 100ms\n"
	                   "      retryOn: 5xx,gateway-error,503\n"
	                   "  - route:\n"
	                   "    - destination:\n"
	                   "        host: ratings\n"
	                   "    timeout: 1h30m\n");
}
END_TEST

START_TEST(ok_vs_uri_prefix_and_regex_in_separate_matches)
{
	tu_assert_valid(VS "spec:\n"
	                   "  hosts:\n"
	                   "  - productpage\n"
	                   "  http:\n"
	                   "  - match:\n"
	                   "    - uri:\n"
	                   "        exact: /productpage\n"
	                   "    - uri:\n"
	                   "        prefix: /static\n"
	                   "    - uri:\n"
	                   "        regex: /api/(v1|v2)/.*\n"
	                   "    route:\n"
	                   "    - destination:\n"
	                   "        host: productpage\n"
	                   "        port:\n"
	                   "          number: 9080\n");
}
END_TEST

START_TEST(ok_vs_star_host_on_gateway)
{
	tu_assert_valid(VS "spec:\n"
	                   "  hosts:\n"
	                   "  - \"*\"\n"
	                   "  gateways:\n"
	                   "  - bookinfo-gateway\n"
	                   "  http:\n"
	                   "  - route:\n"
	                   "    - destination:\n"
	                   "        host: productpage\n"
	                   "        port:\n"
	                   "          number: 9080\n");
}
END_TEST

/* ---- DestinationRule ---- */

START_TEST(dr_round_robbin)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  trafficPolicy:\n"
	                       "    loadBalancer:\n"
	                       "      simple: ROUND_ROBBIN\n",
	                    9, 15, "spec.trafficPolicy.loadBalancer.simple",
	                    "invalid value \"ROUND_ROBBIN\", did you mean \"ROUND_ROBIN\"?");
}
END_TEST

START_TEST(dr_istio_mutal)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  trafficPolicy:\n"
	                       "    tls:\n"
	                       "      mode: ISTIO_MUTAL\n",
	                    9, 13, "spec.trafficPolicy.tls.mode",
	                    "invalid value \"ISTIO_MUTAL\", did you mean \"ISTIO_MUTUAL\"?");
}
END_TEST

START_TEST(dr_missing_host)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  subsets:\n"
	                       "  - name: v1\n"
	                       "    labels:\n"
	                       "      version: v1\n",
	                    6, 3, "spec", "missing required field \"host\"");
}
END_TEST

START_TEST(dr_subset_missing_name)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  subsets:\n"
	                       "  - labels:\n"
	                       "      version: v1\n",
	                    8, 5, "spec.subsets[0]", "missing required field \"name\"");
}
END_TEST

START_TEST(dr_duplicate_subset)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  subsets:\n"
	                       "  - name: v1\n"
	                       "    labels:\n"
	                       "      version: v1\n"
	                       "  - name: v1\n"
	                       "    labels:\n"
	                       "      version: v2\n",
	                    11, 11, "spec.subsets[1].name",
	                    "duplicate subset name \"v1\" (also subsets[0])");
}
END_TEST

START_TEST(dr_label_value_trailing_dash)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  subsets:\n"
	                       "  - name: v1\n"
	                       "    labels:\n"
	                       "      version: v1-\n",
	                    10, 16, "spec.subsets[0].labels.version",
	                    "invalid label value \"v1-\": must start and end with a letter or "
	                    "digit");
}
END_TEST

START_TEST(dr_label_key_bad_prefix)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  subsets:\n"
	                       "  - name: v1\n"
	                       "    labels:\n"
	                       "      Istio.io/rev: canary\n",
	                    10, 7, "spec.subsets[0].labels.Istio.io/rev",
	                    "invalid label key \"Istio.io/rev\": prefix must be a DNS subdomain "
	                    "(lower case letters, digits, '-', '.')");
}
END_TEST

START_TEST(dr_max_ejection_150)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  trafficPolicy:\n"
	                       "    outlierDetection:\n"
	                       "      consecutive5xxErrors: 5\n"
	                       "      interval: 30s\n"
	                       "      maxEjectionPercent: 150\n",
	                    11, 27, "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
	                    "must be between 0 and 100, got 150");
}
END_TEST

START_TEST(dr_connect_timeout_half_ms)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  trafficPolicy:\n"
	                       "    connectionPool:\n"
	                       "      tcp:\n"
	                       "        connectTimeout: 0.5ms\n",
	                    10, 25, "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
	                    "duration must be at least 1ms, got \"0.5ms\"");
}
END_TEST

START_TEST(dr_pending_requests_word)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  trafficPolicy:\n"
	                       "    connectionPool:\n"
	                       "      http:\n"
	                       "        http1MaxPendingRequests: lots\n",
	                    10, 34,
	                    "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests",
	                    "expected an integer, got string \"lots\"");
}
END_TEST

START_TEST(dr_consistent_hash_two_keys)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  trafficPolicy:\n"
	                       "    loadBalancer:\n"
	                       "      consistentHash:\n"
	                       "        httpHeaderName: x-user\n"
	                       "        useSourceIp: true\n",
	                    11, 9, "spec.trafficPolicy.loadBalancer.consistentHash.useSourceIp",
	                    "only one of \"httpHeaderName\" and \"useSourceIp\" may be set");
}
END_TEST

START_TEST(dr_host_bad_wildcard)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: \"*foo.com\"\n",
	                    6, 9, "spec.host",
	                    "invalid host \"*foo.com\": a wildcard must be the whole first "
	                    "label, as in *.example.com");
}
END_TEST

START_TEST(dr_host_double_dot)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews..svc.cluster.local\n",
	                    6, 9, "spec.host",
	                    "invalid host \"reviews..svc.cluster.local\": empty label (two dots "
	                    "in a row, or a leading or trailing dot)");
}
END_TEST

START_TEST(dr_loadbalancer_case)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  trafficPolicy:\n"
	                       "    loadbalancer:\n"
	                       "      simple: RANDOM\n",
	                    8, 5, "spec.trafficPolicy.loadbalancer",
	                    "unknown field \"loadbalancer\" in TrafficPolicy, did you mean "
	                    "\"loadBalancer\"?");
}
END_TEST

START_TEST(dr_interval_no_unit)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  trafficPolicy:\n"
	                       "    outlierDetection:\n"
	                       "      consecutive5xxErrors: 7\n"
	                       "      interval: \"1.5\"\n",
	                    10, 17, "spec.trafficPolicy.outlierDetection.interval",
	                    "invalid duration \"1.5\": missing unit (use e.g. 1.5s, 100ms or 1h)");
}
END_TEST

START_TEST(dr_subsets_mapping)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  subsets:\n"
	                       "    name: v1\n"
	                       "    labels:\n"
	                       "      version: v1\n",
	                    8, 5, "spec.subsets", "expected a list, got a mapping");
}
END_TEST

START_TEST(dr_insecure_skip_verify_quoted)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  trafficPolicy:\n"
	                       "    tls:\n"
	                       "      mode: SIMPLE\n"
	                       "      insecureSkipVerify: \"yes\"\n",
	                    10, 27, "spec.trafficPolicy.tls.insecureSkipVerify",
	                    "expected true or false, got \"yes\" (write true)");
}
END_TEST

START_TEST(dr_mutual_without_key)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: api.example.com\n"
	                       "  trafficPolicy:\n"
	                       "    tls:\n"
	                       "      mode: MUTUAL\n"
	                       "      clientCertificate: /etc/certs/client.pem\n",
	                    9, 7, "spec.trafficPolicy.tls",
	                    "mode MUTUAL requires privateKey (or credentialName)");
}
END_TEST

/* Both spellings name one field. */
START_TEST(dr_camel_and_snake_twice)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  trafficPolicy:\n"
	                       "    connectionPool:\n"
	                       "      tcp:\n"
	                       "        maxConnections: 100\n"
	                       "        max_connections: 10\n",
	                    11, 9, "spec.trafficPolicy.connectionPool.tcp.maxConnections",
	                    "field \"max_connections\" is already set as \"maxConnections\" on "
	                    "line 10");
}
END_TEST

/* A snake_case writer gets a snake_case hint. */
START_TEST(dr_snake_case_typo)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  traffic_policy:\n"
	                       "    load_balancr:\n"
	                       "      simple: RANDOM\n",
	                    8, 5, "spec.trafficPolicy.load_balancr",
	                    "unknown field \"load_balancr\" in TrafficPolicy, did you mean "
	                    "\"load_balancer\"?");
}
END_TEST

/* No "quote it" hint: a quoted 2 is no better. */
START_TEST(dr_tls_mode_number)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  trafficPolicy:\n"
	                       "    tls:\n"
	                       "      mode: 2\n",
	                    9, 13, "spec.trafficPolicy.tls.mode",
	                    "expected one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL, got integer 2");
}
END_TEST

START_TEST(dr_label_key_without_name)
{
	tu_assert_one_error(DR "spec:\n"
	                       "  host: reviews\n"
	                       "  subsets:\n"
	                       "  - name: v1\n"
	                       "    labels:\n"
	                       "      app.kubernetes.io/: reviews\n",
	                    10, 7, "spec.subsets[0].labels.app.kubernetes.io/",
	                    "invalid label key \"app.kubernetes.io/\": name part must not be "
	                    "empty");
}
END_TEST

START_TEST(ok_dr_snake_case)
{
	tu_assert_valid(DR "spec:\n"
	                   "  host: reviews\n"
	                   "  traffic_policy:\n"
	                   "    load_balancer:\n"
	                   "      simple: ROUND_ROBIN\n"
	                   "    connection_pool:\n"
	                   "      tcp:\n"
	                   "        max_connections: 100\n"
	                   "        connect_timeout: 30ms\n"
	                   "  subsets:\n"
	                   "  - name: v1\n"
	                   "    labels:\n"
	                   "      version: v1\n");
}
END_TEST

/* ---- ServiceEntry ---- */

START_TEST(se_missing_hosts)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  ports:\n"
	                       "  - number: 443\n"
	                       "    name: https\n"
	                       "    protocol: HTTPS\n"
	                       "  resolution: DNS\n",
	                    6, 3, "spec", "missing required field \"hosts\"");
}
END_TEST

START_TEST(se_duplicate_port)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - api.example.com\n"
	                       "  ports:\n"
	                       "  - number: 443\n"
	                       "    name: https\n"
	                       "    protocol: HTTPS\n"
	                       "  - number: 443\n"
	                       "    name: tls\n"
	                       "    protocol: TLS\n"
	                       "  resolution: DNS\n",
	                    12, 13, "spec.ports[1].number",
	                    "duplicate port number 443 (also ports[0])");
}
END_TEST

START_TEST(se_port_0)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - api.example.com\n"
	                       "  ports:\n"
	                       "  - number: 0\n"
	                       "    name: http\n"
	                       "    protocol: HTTP\n"
	                       "  resolution: DNS\n",
	                    9, 13, "spec.ports[0].number", "must be between 1 and 65535, got 0");
}
END_TEST

START_TEST(se_port_70000)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - api.example.com\n"
	                       "  ports:\n"
	                       "  - number: 70000\n"
	                       "    name: http\n"
	                       "    protocol: HTTP\n"
	                       "  resolution: DNS\n",
	                    9, 13, "spec.ports[0].number",
	                    "must be between 1 and 65535, got 70000");
}
END_TEST

START_TEST(se_resolution_typo)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - api.example.com\n"
	                       "  ports:\n"
	                       "  - number: 443\n"
	                       "    name: https\n"
	                       "    protocol: HTTPS\n"
	                       "  resolution: DSN\n",
	                    12, 15, "spec.resolution",
	                    "invalid value \"DSN\", did you mean \"DNS\"?");
}
END_TEST

START_TEST(se_location_typo)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - api.example.com\n"
	                       "  location: MESH_EXTERNEL\n"
	                       "  ports:\n"
	                       "  - number: 443\n"
	                       "    name: https\n"
	                       "    protocol: HTTPS\n"
	                       "  resolution: DNS\n",
	                    8, 13, "spec.location",
	                    "invalid value \"MESH_EXTERNEL\", did you mean \"MESH_EXTERNAL\"?");
}
END_TEST

START_TEST(se_port_missing_name)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - api.example.com\n"
	                       "  ports:\n"
	                       "  - number: 443\n"
	                       "    protocol: HTTPS\n"
	                       "  resolution: DNS\n",
	                    9, 5, "spec.ports[0]", "missing required field \"name\"");
}
END_TEST

START_TEST(se_wildcard_dns)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - \"*.example.com\"\n"
	                       "  ports:\n"
	                       "  - number: 443\n"
	                       "    name: https\n"
	                       "    protocol: HTTPS\n"
	                       "  resolution: DNS\n",
	                    7, 5, "spec.hosts[0]",
	                    "host \"*.example.com\" must be a fully qualified name when "
	                    "resolution is DNS and no endpoints are set");
}
END_TEST

START_TEST(se_hosts_string)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts: api.example.com\n"
	                       "  ports:\n"
	                       "  - number: 443\n"
	                       "    name: https\n"
	                       "    protocol: HTTPS\n"
	                       "  resolution: DNS\n",
	                    6, 10, "spec.hosts", "expected a list, got string \"api.example.com\"");
}
END_TEST

START_TEST(se_protocol_typo)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - api.example.com\n"
	                       "  ports:\n"
	                       "  - number: 80\n"
	                       "    name: http\n"
	                       "    protocol: HTPP\n"
	                       "  resolution: DNS\n",
	                    11, 15, "spec.ports[0].protocol",
	                    "unsupported protocol \"HTPP\"; expected one of HTTP, HTTPS, HTTP2, "
	                    "GRPC, GRPC-WEB, HTTP_PROXY, TCP, TLS, UDP, MONGO, MYSQL, REDIS");
}
END_TEST

START_TEST(se_address_bad_ip)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - mysql.internal\n"
	                       "  addresses:\n"
	                       "  - 10.0.0.300\n"
	                       "  ports:\n"
	                       "  - number: 3306\n"
	                       "    name: mysql\n"
	                       "    protocol: MYSQL\n"
	                       "  resolution: STATIC\n"
	                       "  endpoints:\n"
	                       "  - address: 10.0.0.30\n",
	                    9, 5, "spec.addresses[0]",
	                    "invalid IP address or CIDR block \"10.0.0.300\"");
}
END_TEST

START_TEST(se_endpoints_with_none)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - mysql.internal\n"
	                       "  ports:\n"
	                       "  - number: 3306\n"
	                       "    name: mysql\n"
	                       "    protocol: MYSQL\n"
	                       "  resolution: NONE\n"
	                       "  endpoints:\n"
	                       "  - address: 10.0.0.30\n",
	                    14, 3, "spec.endpoints",
	                    "endpoints cannot be set when resolution is NONE");
}
END_TEST

START_TEST(se_host_underscore)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - api_v2.example.com\n"
	                       "  ports:\n"
	                       "  - number: 443\n"
	                       "    name: https\n"
	                       "    protocol: HTTPS\n"
	                       "  resolution: DNS\n",
	                    7, 5, "spec.hosts[0]",
	                    "invalid host \"api_v2.example.com\": only letters, digits, '-' and "
	                    "'.' are allowed");
}
END_TEST

START_TEST(se_misspelled_endpoints)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - mysql.internal\n"
	                       "  ports:\n"
	                       "  - number: 3306\n"
	                       "    name: mysql\n"
	                       "    protocol: MYSQL\n"
	                       "  resolution: STATIC\n"
	                       "  endpoint:\n"
	                       "  - address: 10.0.0.30\n",
	                    13, 3, "spec.endpoint",
	                    "unknown field \"endpoint\" in ServiceEntry, did you mean "
	                    "\"endpoints\"?");
}
END_TEST

START_TEST(se_cidr_with_dns)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - db.internal.example.com\n"
	                       "  addresses:\n"
	                       "  - 10.0.0.0/16\n"
	                       "  ports:\n"
	                       "  - number: 5432\n"
	                       "    name: tcp-postgres\n"
	                       "    protocol: TCP\n"
	                       "  resolution: DNS\n",
	                    9, 5, "spec.addresses[0]",
	                    "CIDR address \"10.0.0.0/16\" needs resolution NONE or STATIC, not "
	                    "DNS");
}
END_TEST

/* Too large for 64 bits: out of range, not "a string". */
START_TEST(se_port_overflow)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - api.example.com\n"
	                       "  ports:\n"
	                       "  - number: 99999999999999999999\n"
	                       "    name: https\n"
	                       "    protocol: HTTPS\n"
	                       "  resolution: DNS\n",
	                    9, 13, "spec.ports[0].number",
	                    "must be between 1 and 65535, got 99999999999999999999");
}
END_TEST

/* A quoted integer is accepted ("9080"), but only digits. */
START_TEST(se_port_quoted_with_space)
{
	tu_assert_one_error(SE "spec:\n"
	                       "  hosts:\n"
	                       "  - api.example.com\n"
	                       "  ports:\n"
	                       "  - number: \" 443\"\n"
	                       "    name: https\n"
	                       "    protocol: HTTPS\n"
	                       "  resolution: DNS\n",
	                    9, 13, "spec.ports[0].number",
	                    "expected a port number, got string \" 443\"");
}
END_TEST

START_TEST(ok_se_quoted_port)
{
	tu_assert_valid(SE "spec:\n"
	                   "  hosts:\n"
	                   "  - api.example.com\n"
	                   "  ports:\n"
	                   "  - number: \"9080\"\n"
	                   "    name: http\n"
	                   "    protocol: HTTP\n"
	                   "  resolution: DNS\n");
}
END_TEST

START_TEST(ok_se_wildcard_with_resolution_none)
{
	tu_assert_valid(SE "spec:\n"
	                   "  hosts:\n"
	                   "  - \"*.example.com\"\n"
	                   "  ports:\n"
	                   "  - number: 443\n"
	                   "    name: tls\n"
	                   "    protocol: TLS\n"
	                   "  location: MESH_EXTERNAL\n"
	                   "  resolution: NONE\n");
}
END_TEST

/* ---- WorkloadEntry ---- */

START_TEST(we_bad_ip)
{
	tu_assert_one_error(WE "spec:\n"
	                       "  address: 10.0.0.300\n"
	                       "  labels:\n"
	                       "    app: ratings\n",
	                    6, 12, "spec.address",
	                    "address \"10.0.0.300\" is neither an IP address nor a valid host "
	                    "name: the last label must not be all digits");
}
END_TEST

START_TEST(we_port_70000)
{
	tu_assert_one_error(WE "spec:\n"
	                       "  address: 10.0.0.30\n"
	                       "  ports:\n"
	                       "    http: 70000\n"
	                       "  labels:\n"
	                       "    app: ratings\n",
	                    8, 11, "spec.ports.http",
	                    "port must be a number between 1 and 65535, got 70000");
}
END_TEST

START_TEST(we_label_value_space)
{
	tu_assert_one_error(WE "spec:\n"
	                       "  address: 10.0.0.30\n"
	                       "  labels:\n"
	                       "    app: ratings\n"
	                       "    version: v1 vm\n",
	                    9, 14, "spec.labels.version",
	                    "invalid label value \"v1 vm\": only letters, digits, '-', '_' and "
	                    "'.' are allowed");
}
END_TEST

START_TEST(we_weight_negative)
{
	tu_assert_one_error(WE "spec:\n"
	                       "  address: 10.0.0.30\n"
	                       "  weight: -1\n",
	                    7, 11, "spec.weight", "must be between 0 and 4294967295, got -1");
}
END_TEST

START_TEST(we_missing_address)
{
	tu_assert_one_error(WE "spec:\n"
	                       "  labels:\n"
	                       "    app: ratings\n"
	                       "  serviceAccount: bookinfo-ratings\n",
	                    6, 3, "spec",
	                    "address is required (it may be empty only when network is set)");
}
END_TEST

START_TEST(we_misspelled_service_account)
{
	tu_assert_one_error(WE "spec:\n"
	                       "  address: 10.0.0.30\n"
	                       "  labels:\n"
	                       "    app: ratings\n"
	                       "  serviceAcount: bookinfo-ratings\n",
	                    9, 3, "spec.serviceAcount",
	                    "unknown field \"serviceAcount\" in WorkloadEntry, did you mean "
	                    "\"serviceAccount\"?");
}
END_TEST

START_TEST(we_labels_list)
{
	tu_assert_one_error(WE "spec:\n"
	                       "  address: 10.0.0.30\n"
	                       "  labels:\n"
	                       "  - app: ratings\n",
	                    8, 3, "spec.labels", "expected a mapping of strings, got a list");
}
END_TEST

START_TEST(ok_we_vm)
{
	tu_assert_valid(WE "spec:\n"
	                   "  address: 10.0.0.30\n"
	                   "  ports:\n"
	                   "    http: 9080\n"
	                   "  labels:\n"
	                   "    app: ratings\n"
	                   "    version: v1\n"
	                   "  serviceAccount: bookinfo-ratings\n");
}
END_TEST

/* ---- Gateway ---- */

START_TEST(gw_missing_servers)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n",
	                    6, 3, "spec", "missing required field \"servers\"");
}
END_TEST

START_TEST(gw_server_missing_port)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n"
	                       "  servers:\n"
	                       "  - hosts:\n"
	                       "    - \"*\"\n",
	                    9, 5, "spec.servers[0]", "missing required field \"port\"");
}
END_TEST

START_TEST(gw_server_missing_hosts)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n"
	                       "  servers:\n"
	                       "  - port:\n"
	                       "      number: 80\n"
	                       "      name: http\n"
	                       "      protocol: HTTP\n",
	                    9, 5, "spec.servers[0]", "missing required field \"hosts\"");
}
END_TEST

START_TEST(gw_port_0)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n"
	                       "  servers:\n"
	                       "  - port:\n"
	                       "      number: 0\n"
	                       "      name: http\n"
	                       "      protocol: HTTP\n"
	                       "    hosts:\n"
	                       "    - \"*\"\n",
	                    10, 15, "spec.servers[0].port.number",
	                    "port number must be between 1 and 65535, got 0");
}
END_TEST

START_TEST(gw_https_without_tls)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n"
	                       "  servers:\n"
	                       "  - port:\n"
	                       "      number: 443\n"
	                       "      name: https\n"
	                       "      protocol: HTTPS\n"
	                       "    hosts:\n"
	                       "    - bookinfo.example.com\n",
	                    9, 5, "spec.servers[0]",
	                    "a server with protocol HTTPS needs tls settings");
}
END_TEST

START_TEST(gw_protocol_typo)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n"
	                       "  servers:\n"
	                       "  - port:\n"
	                       "      number: 80\n"
	                       "      name: http\n"
	                       "      protocol: HTTPS2\n"
	                       "    hosts:\n"
	                       "    - \"*\"\n",
	                    12, 17, "spec.servers[0].port.protocol",
	                    "unsupported protocol \"HTTPS2\"; expected one of HTTP, HTTPS, "
	                    "HTTP2, GRPC, GRPC-WEB, HTTP_PROXY, TCP, TLS, UDP, MONGO, MYSQL, "
	                    "REDIS");
}
END_TEST

START_TEST(gw_host_bad_wildcard)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n"
	                       "  servers:\n"
	                       "  - port:\n"
	                       "      number: 80\n"
	                       "      name: http\n"
	                       "      protocol: HTTP\n"
	                       "    hosts:\n"
	                       "    - \"*example.com\"\n",
	                    14, 7, "spec.servers[0].hosts[0]",
	                    "invalid host \"*example.com\": a wildcard must be the whole first "
	                    "label, as in *.example.com");
}
END_TEST

START_TEST(gw_tls_mode_typo)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n"
	                       "  servers:\n"
	                       "  - port:\n"
	                       "      number: 443\n"
	                       "      name: https\n"
	                       "      protocol: HTTPS\n"
	                       "    tls:\n"
	                       "      mode: SIMPEL\n"
	                       "      credentialName: bookinfo-cert\n"
	                       "    hosts:\n"
	                       "    - bookinfo.example.com\n",
	                    14, 13, "spec.servers[0].tls.mode",
	                    "invalid value \"SIMPEL\", did you mean \"SIMPLE\"?");
}
END_TEST

START_TEST(gw_hosts_string)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n"
	                       "  servers:\n"
	                       "  - port:\n"
	                       "      number: 80\n"
	                       "      name: http\n"
	                       "      protocol: HTTP\n"
	                       "    hosts: \"*\"\n",
	                    13, 12, "spec.servers[0].hosts", "expected a list, got string \"*\"");
}
END_TEST

START_TEST(gw_selector_value_number)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n"
	                       "    revision: 1.20\n"
	                       "  servers:\n"
	                       "  - port:\n"
	                       "      number: 80\n"
	                       "      name: http\n"
	                       "      protocol: HTTP\n"
	                       "    hosts:\n"
	                       "    - \"*\"\n",
	                    8, 15, "spec.selector.revision",
	                    "expected a string, got number 1.20 (quote it: \"1.20\")");
}
END_TEST

START_TEST(gw_short_host)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n"
	                       "  servers:\n"
	                       "  - port:\n"
	                       "      number: 80\n"
	                       "      name: http\n"
	                       "      protocol: HTTP\n"
	                       "    hosts:\n"
	                       "    - productpage\n",
	                    14, 7, "spec.servers[0].hosts[0]",
	                    "invalid host \"productpage\": short names are not allowed, use a "
	                    "fully qualified name");
}
END_TEST

START_TEST(gw_duplicate_port_name)
{
	tu_assert_one_error(GW "spec:\n"
	                       "  selector:\n"
	                       "    istio: ingressgateway\n"
	                       "  servers:\n"
	                       "  - port:\n"
	                       "      number: 80\n"
	                       "      name: http\n"
	                       "      protocol: HTTP\n"
	                       "    hosts:\n"
	                       "    - \"*\"\n"
	                       "  - port:\n"
	                       "      number: 8080\n"
	                       "      name: http\n"
	                       "      protocol: HTTP\n"
	                       "    hosts:\n"
	                       "    - \"*\"\n",
	                    17, 13, "spec.servers[1].port.name",
	                    "port name \"http\" is already used by servers[0]; port names must "
	                    "be unique");
}
END_TEST

START_TEST(ok_gw_wildcard_host)
{
	tu_assert_valid(GW "spec:\n"
	                   "  selector:\n"
	                   "    istio: ingressgateway\n"
	                   "  servers:\n"
	                   "  - port:\n"
	                   "      number: 443\n"
	                   "      name: https\n"
	                   "      protocol: HTTPS\n"
	                   "    tls:\n"
	                   "      mode: SIMPLE\n"
	                   "      credentialName: bookinfo-cert\n"
	                   "    hosts:\n"
	                   "    - \"*.example.com\"\n"
	                   "    - \"bookinfo/reviews.example.com\"\n");
}
END_TEST

START_TEST(ok_gw_http_and_https)
{
	tu_assert_valid(GW "spec:\n"
	                   "  selector:\n"
	                   "    istio: ingressgateway\n"
	                   "  servers:\n"
	                   "  - port:\n"
	                   "      number: 80\n"
	                   "      name: http\n"
	                   "      protocol: HTTP\n"
	                   "    hosts:\n"
	                   "    - \"*\"\n"
	                   "    tls:\n"
	                   "      httpsRedirect: true\n"
	                   "  - port:\n"
	                   "      number: 443\n"
	                   "      name: https\n"
	                   "      protocol: HTTPS\n"
	                   "    tls:\n"
	                   "      mode: SIMPLE\n"
	                   "      credentialName: bookinfo-cert\n"
	                   "    hosts:\n"
	                   "    - \"*\"\n");
}
END_TEST

/* ---- Sidecar ---- */

START_TEST(sc_egress_missing_hosts)
{
	tu_assert_one_error(SC "spec:\n"
	                       "  egress:\n"
	                       "  - port:\n"
	                       "      number: 9080\n"
	                       "      protocol: HTTP\n"
	                       "      name: http\n",
	                    7, 5, "spec.egress[0]", "missing required field \"hosts\"");
}
END_TEST

START_TEST(sc_egress_host_without_ns)
{
	tu_assert_one_error(SC "spec:\n"
	                       "  egress:\n"
	                       "  - hosts:\n"
	                       "    - reviews.default.svc.cluster.local\n",
	                    8, 7, "spec.egress[0].hosts[0]",
	                    "invalid host \"reviews.default.svc.cluster.local\": expected "
	                    "namespace/dnsName, such as \"./foo.example.com\" or \"*/*\"");
}
END_TEST

START_TEST(sc_ingress_port_0)
{
	tu_assert_one_error(SC "spec:\n"
	                       "  workloadSelector:\n"
	                       "    labels:\n"
	                       "      app: ratings\n"
	                       "  ingress:\n"
	                       "  - port:\n"
	                       "      number: 0\n"
	                       "      protocol: HTTP\n"
	                       "      name: http\n"
	                       "    defaultEndpoint: 127.0.0.1:9080\n",
	                    11, 15, "spec.ingress[0].port.number",
	                    "port number must be between 1 and 65535, got 0");
}
END_TEST

START_TEST(sc_default_endpoint_localhost)
{
	tu_assert_one_error(SC "spec:\n"
	                       "  workloadSelector:\n"
	                       "    labels:\n"
	                       "      app: ratings\n"
	                       "  ingress:\n"
	                       "  - port:\n"
	                       "      number: 9080\n"
	                       "      protocol: HTTP\n"
	                       "      name: http\n"
	                       "    defaultEndpoint: localhost:9080\n",
	                    14, 22, "spec.ingress[0].defaultEndpoint",
	                    "invalid defaultEndpoint \"localhost:9080\": the host must be "
	                    "127.0.0.1, 0.0.0.0, [::1] or [::] (expected 127.0.0.1:<port>, "
	                    "0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://<path>)");
}
END_TEST

START_TEST(sc_capture_mode_typo)
{
	tu_assert_one_error(SC "spec:\n"
	                       "  egress:\n"
	                       "  - captureMode: IPTABLE\n"
	                       "    hosts:\n"
	                       "    - \"./*\"\n",
	                    7, 18, "spec.egress[0].captureMode",
	                    "invalid value \"IPTABLE\", did you mean \"IPTABLES\"?");
}
END_TEST

START_TEST(sc_outbound_allow_all)
{
	tu_assert_one_error(SC "spec:\n"
	                       "  outboundTrafficPolicy:\n"
	                       "    mode: ALLOW_ALL\n",
	                    7, 11, "spec.outboundTrafficPolicy.mode",
	                    "invalid value \"ALLOW_ALL\", did you mean \"ALLOW_ANY\"?");
}
END_TEST

START_TEST(sc_empty_spec)
{
	tu_assert_one_error(SC "spec:\n"
	                       "  workloadSelector:\n"
	                       "    labels:\n"
	                       "      app: ratings\n",
	                    6, 3, "spec",
	                    "sidecar must set ingress, egress, outboundTrafficPolicy or "
	                    "inboundConnectionPool");
}
END_TEST

START_TEST(sc_selector_bad_key)
{
	tu_assert_one_error(SC "spec:\n"
	                       "  workloadSelector:\n"
	                       "    labels:\n"
	                       "      my_company.com/team: payments\n"
	                       "  egress:\n"
	                       "  - hosts:\n"
	                       "    - \"./*\"\n",
	                    8, 7, "spec.workloadSelector.labels.my_company.com/team",
	                    "invalid label key \"my_company.com/team\": prefix must be a DNS "
	                    "subdomain (lower case letters, digits, '-', '.')");
}
END_TEST

START_TEST(sc_egress_host_bad_ns)
{
	tu_assert_one_error(SC "spec:\n"
	                       "  egress:\n"
	                       "  - hosts:\n"
	                       "    - \"Istio_System/*\"\n",
	                    8, 7, "spec.egress[0].hosts[0]",
	                    "invalid host \"Istio_System/*\": namespace must be *, ., ~ or a "
	                    "namespace name");
}
END_TEST

START_TEST(ok_sc_namespace_hosts)
{
	tu_assert_valid(SC "spec:\n"
	                   "  egress:\n"
	                   "  - hosts:\n"
	                   "    - \"./*\"\n"
	                   "    - \"istio-system/*\"\n");
}
END_TEST

START_TEST(ok_sc_ingress_default_endpoints)
{
	tu_assert_valid(SC "spec:\n"
	                   "  workloadSelector:\n"
	                   "    labels:\n"
	                   "      app: ratings\n"
	                   "  ingress:\n"
	                   "  - port:\n"
	                   "      number: 9080\n"
	                   "      protocol: HTTP\n"
	                   "      name: http\n"
	                   "    defaultEndpoint: 127.0.0.1:9080\n"
	                   "  - port:\n"
	                   "      number: 9090\n"
	                   "      protocol: GRPC\n"
	                   "      name: grpc\n"
	                   "    defaultEndpoint: unix:///var/run/ratings.sock\n");
}
END_TEST

/* ---- PeerAuthentication ---- */

START_TEST(pa_strickt)
{
	tu_assert_one_error(PA "spec:\n"
	                       "  mtls:\n"
	                       "    mode: STRICKT\n",
	                    7, 11, "spec.mtls.mode",
	                    "invalid value \"STRICKT\", did you mean \"STRICT\"?");
}
END_TEST

START_TEST(pa_lower_case_mode)
{
	tu_assert_one_error(PA "spec:\n"
	                       "  mtls:\n"
	                       "    mode: strict\n",
	                    7, 11, "spec.mtls.mode",
	                    "invalid value \"strict\", did you mean \"STRICT\"?");
}
END_TEST

START_TEST(pa_port_level_without_selector)
{
	tu_assert_one_error(PA "spec:\n"
	                       "  mtls:\n"
	                       "    mode: STRICT\n"
	                       "  portLevelMtls:\n"
	                       "    8080:\n"
	                       "      mode: DISABLE\n",
	                    9, 5, "spec.portLevelMtls",
	                    "portLevelMtls needs a selector with matchLabels; mesh- and "
	                    "namespace-wide policies cannot set it");
}
END_TEST

START_TEST(pa_port_level_name_key)
{
	tu_assert_one_error(PA "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: httpbin\n"
	                       "  portLevelMtls:\n"
	                       "    http:\n"
	                       "      mode: DISABLE\n",
	                    10, 5, "spec.portLevelMtls.http",
	                    "key must be a port number between 1 and 65535, got \"http\"");
}
END_TEST

START_TEST(pa_mtls_string)
{
	tu_assert_one_error(PA "spec:\n"
	                       "  mtls: STRICT\n",
	                    6, 9, "spec.mtls",
	                    "expected a mapping (MutualTLS), got string \"STRICT\"");
}
END_TEST

START_TEST(pa_misspelled_mtls)
{
	tu_assert_one_error(PA "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: httpbin\n"
	                       "  mTLS:\n"
	                       "    mode: STRICT\n",
	                    9, 3, "spec.mTLS",
	                    "unknown field \"mTLS\" in PeerAuthentication, did you mean \"mtls\"?");
}
END_TEST

START_TEST(pa_port_level_70000)
{
	tu_assert_one_error(PA "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: httpbin\n"
	                       "  portLevelMtls:\n"
	                       "    70000:\n"
	                       "      mode: DISABLE\n",
	                    10, 5, "spec.portLevelMtls.70000",
	                    "key must be a port number between 1 and 65535, got \"70000\"");
}
END_TEST

START_TEST(ok_pa_strict)
{
	tu_assert_valid(PA "spec:\n"
	                   "  selector:\n"
	                   "    matchLabels:\n"
	                   "      app: httpbin\n"
	                   "  mtls:\n"
	                   "    mode: STRICT\n"
	                   "  portLevelMtls:\n"
	                   "    8080:\n"
	                   "      mode: DISABLE\n");
}
END_TEST

/* ---- AuthorizationPolicy ---- */

START_TEST(ap_custom_without_provider)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  action: CUSTOM\n"
	                       "  rules:\n"
	                       "  - to:\n"
	                       "    - operation:\n"
	                       "        paths: [\"/admin/*\"]\n",
	                    9, 11, "spec.action", "action CUSTOM requires provider.name");
}
END_TEST

START_TEST(ap_action_typo)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  action: ALOW\n"
	                       "  rules:\n"
	                       "  - from:\n"
	                       "    - source:\n"
	                       "        principals: [\"cluster.local/ns/default/sa/sleep\"]\n",
	                    9, 11, "spec.action",
	                    "invalid value \"ALOW\", did you mean \"ALLOW\"?");
}
END_TEST

START_TEST(ap_unknown_condition_key)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  rules:\n"
	                       "  - when:\n"
	                       "    - key: request.header[x-token]\n"
	                       "      values: [\"admin\"]\n",
	                    11, 12, "spec.rules[0].when[0].key",
	                    "unknown condition key \"request.header[x-token]\"; expected e.g. "
	                    "request.headers[<name>], source.ip, source.namespace, "
	                    "request.auth.claims[<claim>] or destination.port");
}
END_TEST

START_TEST(ap_condition_bad_cidr)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  rules:\n"
	                       "  - when:\n"
	                       "    - key: source.ip\n"
	                       "      values: [\"10.0.0.0/33\"]\n",
	                    12, 16, "spec.rules[0].when[0].values[0]",
	                    "invalid IP address or CIDR block \"10.0.0.0/33\" for source.ip");
}
END_TEST

START_TEST(ap_port_integer)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  rules:\n"
	                       "  - to:\n"
	                       "    - operation:\n"
	                       "        ports: [9080]\n",
	                    12, 17, "spec.rules[0].to[0].operation.ports[0]",
	                    "expected a port number as a string, such as \"8080\"");
}
END_TEST

/* Not also "source must set at least one field". */
START_TEST(ap_principals_string)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  rules:\n"
	                       "  - from:\n"
	                       "    - source:\n"
	                       "        principals: cluster.local/ns/default/sa/sleep\n",
	                    12, 21, "spec.rules[0].from[0].source.principals",
	                    "expected a list, got string \"cluster.local/ns/default/sa/sleep\"");
}
END_TEST

START_TEST(ap_deny_without_rules)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  action: DENY\n",
	                    9, 11, "spec.action",
	                    "action DENY needs rules; add an empty rule {} to deny every request");
}
END_TEST

START_TEST(ap_condition_without_values)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  rules:\n"
	                       "  - when:\n"
	                       "    - key: request.auth.claims[groups]\n",
	                    11, 7, "spec.rules[0].when[0]",
	                    "condition \"request.auth.claims[groups]\" must set values or "
	                    "notValues");
}
END_TEST

START_TEST(ap_provider_with_allow)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  action: ALLOW\n"
	                       "  provider:\n"
	                       "    name: ext-authz\n"
	                       "  rules:\n"
	                       "  - {}\n",
	                    11, 5, "spec.provider",
	                    "provider is only allowed with action CUSTOM, got action ALLOW");
}
END_TEST

START_TEST(ap_ip_block_bad)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  action: DENY\n"
	                       "  rules:\n"
	                       "  - from:\n"
	                       "    - source:\n"
	                       "        ipBlocks: [\"10.0.0.1/40\"]\n",
	                    13, 20, "spec.rules[0].from[0].source.ipBlocks[0]",
	                    "invalid IP address or CIDR block \"10.0.0.1/40\"");
}
END_TEST

START_TEST(ap_path_named_template)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  rules:\n"
	                       "  - to:\n"
	                       "    - operation:\n"
	                       "        paths: [\"/api/{version}/{**}\"]\n",
	                    12, 17, "spec.rules[0].to[0].operation.paths[0]",
	                    "unsupported path template \"/api/{version}/{**}\"; only {*} and "
	                    "{**} segments are allowed");
}
END_TEST

START_TEST(ap_misspelled_rules)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  rule:\n"
	                       "  - from:\n"
	                       "    - source:\n"
	                       "        namespaces: [\"default\"]\n",
	                    9, 3, "spec.rule",
	                    "unknown field \"rule\" in AuthorizationPolicy, did you mean "
	                    "\"rules\"?");
}
END_TEST

/* Not also "operation must set at least one field". */
START_TEST(ap_operation_misspelled_methods)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  rules:\n"
	                       "  - to:\n"
	                       "    - operation:\n"
	                       "        method: [\"GET\"]\n",
	                    12, 9, "spec.rules[0].to[0].operation.method",
	                    "unknown field \"method\" in Operation, did you mean \"methods\"?");
}
END_TEST

START_TEST(ap_selector_and_target_ref)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  targetRef:\n"
	                       "    kind: Gateway\n"
	                       "    group: gateway.networking.k8s.io\n"
	                       "    name: bookinfo-gateway\n"
	                       "  rules:\n"
	                       "  - {}\n",
	                    9, 3, "spec.targetRef",
	                    "only one of \"selector\" and \"targetRef\" may be set");
}
END_TEST

START_TEST(ap_empty_from)
{
	tu_assert_one_error(AP "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: productpage\n"
	                       "  rules:\n"
	                       "  - from: []\n",
	                    10, 11, "spec.rules[0].from", "must not be empty");
}
END_TEST

START_TEST(ok_ap_custom_with_provider)
{
	tu_assert_valid(AP "spec:\n"
	                   "  selector:\n"
	                   "    matchLabels:\n"
	                   "      app: productpage\n"
	                   "  action: CUSTOM\n"
	                   "  provider:\n"
	                   "    name: ext-authz\n"
	                   "  rules:\n"
	                   "  - to:\n"
	                   "    - operation:\n"
	                   "        paths: [\"/admin/*\"]\n"
	                   "        ports: [\"9080\"]\n"
	                   "    when:\n"
	                   "    - key: request.headers[x-token]\n"
	                   "      values: [\"admin\"]\n");
}
END_TEST

/* ---- RequestAuthentication ---- */

START_TEST(ra_missing_issuer)
{
	tu_assert_one_error(RA "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: httpbin\n"
	                       "  jwtRules:\n"
	                       "  - jwks: '{\"keys\": []}'\n",
	                    10, 5, "spec.jwtRules[0]", "issuer is required unless jwksUri is set");
}
END_TEST

START_TEST(ra_jwks_uri_no_scheme)
{
	tu_assert_one_error(RA "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: httpbin\n"
	                       "  jwtRules:\n"
	                       "  - issuer: testing@secure.istio.io\n"
	                       "    jwksUri: example.com/.well-known/jwks.json\n",
	                    11, 14, "spec.jwtRules[0].jwksUri",
	                    "invalid jwksUri \"example.com/.well-known/jwks.json\"; expected an "
	                    "http:// or https:// URL");
}
END_TEST

START_TEST(ra_from_headers_missing_name)
{
	tu_assert_one_error(RA "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: httpbin\n"
	                       "  jwtRules:\n"
	                       "  - issuer: testing@secure.istio.io\n"
	                       "    jwksUri: https://example.com/jwks.json\n"
	                       "    fromHeaders:\n"
	                       "    - prefix: \"Bearer \"\n",
	                    13, 7, "spec.jwtRules[0].fromHeaders[0]",
	                    "missing required field \"name\"");
}
END_TEST

START_TEST(ra_jwt_rules_mapping)
{
	tu_assert_one_error(RA "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: httpbin\n"
	                       "  jwtRules:\n"
	                       "    issuer: testing@secure.istio.io\n"
	                       "    jwksUri: https://example.com/jwks.json\n",
	                    10, 5, "spec.jwtRules", "expected a list, got a mapping");
}
END_TEST

START_TEST(ra_misspelled_jwt_rules)
{
	tu_assert_one_error(RA "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: httpbin\n"
	                       "  jwtRule:\n"
	                       "  - issuer: testing@secure.istio.io\n"
	                       "    jwksUri: https://example.com/jwks.json\n",
	                    9, 3, "spec.jwtRule",
	                    "unknown field \"jwtRule\" in RequestAuthentication, did you mean "
	                    "\"jwtRules\"?");
}
END_TEST

START_TEST(ra_claim_header_space)
{
	tu_assert_one_error(RA "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: httpbin\n"
	                       "  jwtRules:\n"
	                       "  - issuer: testing@secure.istio.io\n"
	                       "    jwksUri: https://example.com/jwks.json\n"
	                       "    outputClaimToHeaders:\n"
	                       "    - header: x jwt group\n"
	                       "      claim: group\n",
	                    13, 15, "spec.jwtRules[0].outputClaimToHeaders[0].header",
	                    "invalid header name \"x jwt group\"; expected letters, digits and "
	                    "!#$%&'*+-.^_`|~");
}
END_TEST

START_TEST(ra_forward_token_quoted)
{
	tu_assert_one_error(RA "spec:\n"
	                       "  selector:\n"
	                       "    matchLabels:\n"
	                       "      app: httpbin\n"
	                       "  jwtRules:\n"
	                       "  - issuer: testing@secure.istio.io\n"
	                       "    jwksUri: https://example.com/jwks.json\n"
	                       "    forwardOriginalToken: \"true\"\n",
	                    12, 27, "spec.jwtRules[0].forwardOriginalToken",
	                    "expected true or false, got string \"true\"");
}
END_TEST

START_TEST(ok_ra_jwks_uri_without_issuer)
{
	tu_assert_valid(RA "spec:\n"
	                   "  selector:\n"
	                   "    matchLabels:\n"
	                   "      app: httpbin\n"
	                   "  jwtRules:\n"
	                   "  - jwksUri: https://example.com/.well-known/jwks.json\n"
	                   "    forwardOriginalToken: true\n");
}
END_TEST

/* ---- Telemetry ---- */

START_TEST(tm_sampling_150)
{
	tu_assert_one_error(TM "spec:\n"
	                       "  tracing:\n"
	                       "  - providers:\n"
	                       "    - name: zipkin\n"
	                       "    randomSamplingPercentage: 150\n",
	                    9, 31, "spec.tracing[0].randomSamplingPercentage",
	                    "must be between 0 and 100, got 150");
}
END_TEST

START_TEST(tm_provider_missing_name)
{
	tu_assert_one_error(TM "spec:\n"
	                       "  accessLogging:\n"
	                       "  - providers:\n"
	                       "    - {}\n",
	                    8, 7, "spec.accessLogging[0].providers[0]",
	                    "missing required field \"name\"");
}
END_TEST

START_TEST(tm_metric_typo)
{
	tu_assert_one_error(TM "spec:\n"
	                       "  metrics:\n"
	                       "  - providers:\n"
	                       "    - name: prometheus\n"
	                       "    overrides:\n"
	                       "    - match:\n"
	                       "        metric: REQUEST_COUNTS\n"
	                       "      disabled: true\n",
	                    11, 17, "spec.metrics[0].overrides[0].match.metric",
	                    "invalid value \"REQUEST_COUNTS\", did you mean \"REQUEST_COUNT\"?");
}
END_TEST

START_TEST(tm_tag_upsert_without_value)
{
	tu_assert_one_error(TM "spec:\n"
	                       "  metrics:\n"
	                       "  - providers:\n"
	                       "    - name: prometheus\n"
	                       "    overrides:\n"
	                       "    - tagOverrides:\n"
	                       "        request_host:\n"
	                       "          operation: UPSERT\n",
	                    12, 11, "spec.metrics[0].overrides[0].tagOverrides.request_host",
	                    "value is required when operation is UPSERT (the default)");
}
END_TEST

/* Long values tolerate more edits. */
START_TEST(tm_mode_unknown)
{
	tu_assert_one_error(TM "spec:\n"
	                       "  tracing:\n"
	                       "  - match:\n"
	                       "      mode: CLIENT_SERVER\n"
	                       "    providers:\n"
	                       "    - name: zipkin\n",
	                    8, 13, "spec.tracing[0].match.mode",
	                    "invalid value \"CLIENT_SERVER\", did you mean \"CLIENT_AND_SERVER\"?");
}
END_TEST

START_TEST(tm_disabled_quoted)
{
	tu_assert_one_error(TM "spec:\n"
	                       "  accessLogging:\n"
	                       "  - providers:\n"
	                       "    - name: envoy\n"
	                       "    disabled: \"true\"\n",
	                    9, 15, "spec.accessLogging[0].disabled",
	                    "expected true or false, got string \"true\"");
}
END_TEST

START_TEST(tm_reporting_interval_bad)
{
	tu_assert_one_error(TM "spec:\n"
	                       "  metrics:\n"
	                       "  - providers:\n"
	                       "    - name: prometheus\n"
	                       "    reportingInterval: 10x\n",
	                    9, 24, "spec.metrics[0].reportingInterval",
	                    "invalid duration \"10x\": unknown unit (use ns, us, ms, s, m or h)");
}
END_TEST

START_TEST(tm_tracing_mapping)
{
	tu_assert_one_error(TM "spec:\n"
	                       "  tracing:\n"
	                       "    providers:\n"
	                       "    - name: zipkin\n"
	                       "    randomSamplingPercentage: 10\n",
	                    7, 5, "spec.tracing", "expected a list, got a mapping");
}
END_TEST

START_TEST(tm_target_ref_deployment)
{
	tu_assert_one_error(TM "spec:\n"
	                       "  targetRef:\n"
	                       "    kind: Deployment\n"
	                       "    name: productpage\n"
	                       "  tracing:\n"
	                       "  - providers:\n"
	                       "    - name: zipkin\n",
	                    7, 5, "spec.targetRef",
	                    "unsupported target core/Deployment; expected Service, ServiceEntry "
	                    "(networking.istio.io) or Gateway (gateway.networking.k8s.io)");
}
END_TEST

START_TEST(ok_tm_sampling_100)
{
	tu_assert_valid(TM "spec:\n"
	                   "  tracing:\n"
	                   "  - providers:\n"
	                   "    - name: zipkin\n"
	                   "    randomSamplingPercentage: 100\n");
}
END_TEST

START_TEST(ok_tm_metric_request_count)
{
	tu_assert_valid(TM "spec:\n"
	                   "  metrics:\n"
	                   "  - providers:\n"
	                   "    - name: prometheus\n"
	                   "    overrides:\n"
	                   "    - match:\n"
	                   "        metric: REQUEST_COUNT\n"
	                   "        mode: CLIENT_AND_SERVER\n"
	                   "      disabled: true\n");
}
END_TEST

/* ---- RouteRule ---- */

START_TEST(rr_weights_sum_90)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "  precedence: 1\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n"
	                       "    weight: 50\n"
	                       "  - labels:\n"
	                       "      version: v3\n"
	                       "    weight: 40\n",
	                    15, 13, "spec.route[1].weight", "weights must sum to 100, got 90");
}
END_TEST

START_TEST(rr_upper_case_header)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "  precedence: 2\n"
	                       "  match:\n"
	                       "    request:\n"
	                       "      headers:\n"
	                       "        Cookie:\n"
	                       "          regex: \"^(.*?;)?(user=jason)(;.*)?$\"\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v2\n",
	                    12, 9, "spec.match.request.headers.Cookie",
	                    "header name \"Cookie\" must be lower case");
}
END_TEST

START_TEST(rr_redirect_with_route)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: productpage\n"
	                       "  redirect:\n"
	                       "    uri: /v1/productpage\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n",
	                    9, 5, "spec.redirect", "route and redirect cannot both be set");
}
END_TEST

START_TEST(rr_missing_destination)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  precedence: 1\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n",
	                    6, 3, "spec", "missing required field \"destination\"");
}
END_TEST

START_TEST(rr_name_and_service)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "    service: reviews.default.svc.cluster.local\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n",
	                    8, 5, "spec.destination.service",
	                    "only one of \"name\" and \"service\" may be set");
}
END_TEST

START_TEST(rr_abort_999)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: ratings\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n"
	                       "  httpFault:\n"
	                       "    abort:\n"
	                       "      percent: 100\n"
	                       "      httpStatus: 999\n",
	                    14, 19, "spec.httpFault.abort.httpStatus",
	                    "must be between 200 and 599, got 999");
}
END_TEST

START_TEST(rr_delay_percent_150)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: ratings\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n"
	                       "  httpFault:\n"
	                       "    delay:\n"
	                       "      percent: 150\n"
	                       "      fixedDelay: 7s\n",
	                    13, 16, "spec.httpFault.delay.percent",
	                    "must be between 0 and 100, got 150");
}
END_TEST

START_TEST(rr_fixed_delay_no_unit)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: ratings\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n"
	                       "  httpFault:\n"
	                       "    delay:\n"
	                       "      percent: 100\n"
	                       "      fixedDelay: 7\n",
	                    14, 19, "spec.httpFault.delay.fixedDelay",
	                    "invalid duration \"7\": missing unit (use e.g. 1.5s, 100ms or 1h)");
}
END_TEST

START_TEST(rr_weight_120)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n"
	                       "    weight: 120\n",
	                    11, 13, "spec.route[0].weight", "must be between 0 and 100, got 120");
}
END_TEST

START_TEST(rr_timeout_half_ms)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: ratings\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n"
	                       "  httpReqTimeout:\n"
	                       "    simpleTimeout:\n"
	                       "      timeout: 0.5ms\n",
	                    13, 16, "spec.httpReqTimeout.simpleTimeout.timeout",
	                    "duration must be at least 1ms, got \"0.5ms\"");
}
END_TEST

START_TEST(rr_precedence_word)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "  precedence: high\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n",
	                    8, 15, "spec.precedence", "expected an integer, got string \"high\"");
}
END_TEST

START_TEST(rr_header_regex_bad)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "  match:\n"
	                       "    request:\n"
	                       "      headers:\n"
	                       "        cookie:\n"
	                       "          regex: \"^(.*?;)?(user=jason(;.*)?$\"\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v2\n",
	                    12, 18, "spec.match.request.headers.cookie.regex",
	                    "invalid regex \"^(.*?;)?(user=jason(;.*)?$\": missing closing "
	                    "parenthesis at offset 26");
}
END_TEST

START_TEST(rr_append_header_upper)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n"
	                       "  appendHeaders:\n"
	                       "    X-Istio-Version: v1\n",
	                    12, 5, "spec.appendHeaders.X-Istio-Version",
	                    "header name \"X-Istio-Version\" must be lower case");
}
END_TEST

START_TEST(rr_route_labels_bad)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: -v1\n",
	                    10, 16, "spec.route[0].labels.version",
	                    "invalid label value \"-v1\": must start and end with a letter or "
	                    "digit");
}
END_TEST

/* Pilot 0.7: a lone route may omit its weight, but a weight given is the total. */
START_TEST(rr_single_route_weight_50)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n"
	                       "    weight: 50\n",
	                    11, 13, "spec.route[0].weight", "weights must sum to 100, got 50");
}
END_TEST

START_TEST(rr_destination_labels)
{
	tu_assert_one_error(RR "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "    labels:\n"
	                       "      version: v1\n"
	                       "  route:\n"
	                       "  - labels:\n"
	                       "      version: v1\n",
	                    9, 7, "spec.destination.labels",
	                    "route rule destination must not have labels; put them in "
	                    "route[].labels");
}
END_TEST

START_TEST(ok_rr_single_route_without_weight)
{
	tu_assert_valid(RR "spec:\n"
	                   "  destination:\n"
	                   "    name: reviews\n"
	                   "  precedence: 2\n"
	                   "  match:\n"
	                   "    request:\n"
	                   "      headers:\n"
	                   "        cookie:\n"
	                   "          regex: \"^(.*?;)?(user=jason)(;.*)?$\"\n"
	                   "  route:\n"
	                   "  - labels:\n"
	                   "      version: v2\n");
}
END_TEST

START_TEST(ok_rr_weights_50_50)
{
	tu_assert_valid(RR "spec:\n"
	                   "  destination:\n"
	                   "    name: reviews\n"
	                   "  route:\n"
	                   "  - labels:\n"
	                   "      version: v1\n"
	                   "    weight: 50\n"
	                   "  - labels:\n"
	                   "      version: v3\n"
	                   "    weight: 50\n");
}
END_TEST

START_TEST(ok_rr_fault_and_timeout)
{
	tu_assert_valid(RR "spec:\n"
	                   "  destination:\n"
	                   "    name: ratings\n"
	                   "  precedence: 2\n"
	                   "  route:\n"
	                   "  - labels:\n"
	                   "      version: v1\n"
	                   "  httpReqTimeout:\n"
	                   "    simpleTimeout:\n"
	                   "      timeout: 1.5s\n"
	                   "  httpFault:\n"
	                   "    abort:\n"
	                   "      percent: 100\n"
	                   "      httpStatus: 503\n");
}
END_TEST

/* ---- DestinationPolicy ---- */

START_TEST(dp_round_robbin)
{
	tu_assert_one_error(DP "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "  loadBalancing:\n"
	                       "    name: ROUND_ROBBIN\n",
	                    9, 11, "spec.loadBalancing.name",
	                    "invalid value \"ROUND_ROBBIN\", did you mean \"ROUND_ROBIN\"?");
}
END_TEST

START_TEST(dp_sleep_window_no_unit)
{
	tu_assert_one_error(DP "spec:\n"
	                       "  destination:\n"
	                       "    name: httpbin\n"
	                       "  circuitBreaker:\n"
	                       "    simpleCb:\n"
	                       "      maxConnections: 1\n"
	                       "      sleepWindow: \"1.5\"\n",
	                    11, 20, "spec.circuitBreaker.simpleCb.sleepWindow",
	                    "invalid duration \"1.5\": missing unit (use e.g. 1.5s, 100ms or 1h)");
}
END_TEST

START_TEST(dp_ejection_150)
{
	tu_assert_one_error(DP "spec:\n"
	                       "  destination:\n"
	                       "    name: httpbin\n"
	                       "  circuitBreaker:\n"
	                       "    simpleCb:\n"
	                       "      httpConsecutiveErrors: 1\n"
	                       "      httpMaxEjectionPercent: 150\n",
	                    11, 31, "spec.circuitBreaker.simpleCb.httpMaxEjectionPercent",
	                    "must be between 0 and 100, got 150");
}
END_TEST

START_TEST(dp_missing_destination)
{
	tu_assert_one_error(DP "spec:\n"
	                       "  circuitBreaker:\n"
	                       "    simpleCb:\n"
	                       "      maxConnections: 1\n",
	                    6, 3, "spec", "missing required field \"destination\"");
}
END_TEST

START_TEST(dp_max_connections_word)
{
	tu_assert_one_error(DP "spec:\n"
	                       "  destination:\n"
	                       "    name: httpbin\n"
	                       "  circuitBreaker:\n"
	                       "    simpleCb:\n"
	                       "      maxConnections: one\n",
	                    10, 23, "spec.circuitBreaker.simpleCb.maxConnections",
	                    "expected an integer, got string \"one\"");
}
END_TEST

START_TEST(dp_load_balancing_empty)
{
	tu_assert_one_error(DP "spec:\n"
	                       "  destination:\n"
	                       "    name: reviews\n"
	                       "  loadBalancing: {}\n",
	                    8, 18, "spec.loadBalancing",
	                    "one of \"name\", \"ringHash\", \"custom\" is required");
}
END_TEST

START_TEST(dp_misspelled_circuit_breaker)
{
	tu_assert_one_error(DP "spec:\n"
	                       "  destination:\n"
	                       "    name: httpbin\n"
	                       "  circuitBreakers:\n"
	                       "    simpleCb:\n"
	                       "      maxConnections: 1\n",
	                    8, 3, "spec.circuitBreakers",
	                    "unknown field \"circuitBreakers\" in DestinationPolicy, did you "
	                    "mean \"circuitBreaker\"?");
}
END_TEST

START_TEST(ok_dp_round_robin)
{
	tu_assert_valid(DP "spec:\n"
	                   "  destination:\n"
	                   "    name: reviews\n"
	                   "    labels:\n"
	                   "      version: v1\n"
	                   "  loadBalancing:\n"
	                   "    name: ROUND_ROBIN\n");
}
END_TEST

/* ---- EgressRule ---- */

START_TEST(er_port_missing_protocol)
{
	tu_assert_one_error(ER "spec:\n"
	                       "  destination:\n"
	                       "    service: \"*.googleapis.com\"\n"
	                       "  ports:\n"
	                       "  - port: 443\n",
	                    9, 5, "spec.ports[0]", "missing required field \"protocol\"");
}
END_TEST

START_TEST(er_port_70000)
{
	tu_assert_one_error(ER "spec:\n"
	                       "  destination:\n"
	                       "    service: \"*.googleapis.com\"\n"
	                       "  ports:\n"
	                       "  - port: 70000\n"
	                       "    protocol: https\n",
	                    9, 11, "spec.ports[0].port", "must be between 1 and 65535, got 70000");
}
END_TEST

START_TEST(er_protocol_ftp)
{
	tu_assert_one_error(ER "spec:\n"
	                       "  destination:\n"
	                       "    service: ftp.example.com\n"
	                       "  ports:\n"
	                       "  - port: 21\n"
	                       "    protocol: ftp\n",
	                    10, 15, "spec.ports[0].protocol",
	                    "invalid protocol \"ftp\"; expected one of HTTP, HTTP2, GRPC, HTTPS, "
	                    "TCP, MONGO (any case)");
}
END_TEST

START_TEST(er_duplicate_port)
{
	tu_assert_one_error(ER "spec:\n"
	                       "  destination:\n"
	                       "    service: \"*.googleapis.com\"\n"
	                       "  ports:\n"
	                       "  - port: 443\n"
	                       "    protocol: https\n"
	                       "  - port: 443\n"
	                       "    protocol: http2\n",
	                    11, 11, "spec.ports[1].port", "duplicate port 443");
}
END_TEST

START_TEST(er_service_double_dot)
{
	tu_assert_one_error(ER "spec:\n"
	                       "  destination:\n"
	                       "    service: www..google.com\n"
	                       "  ports:\n"
	                       "  - port: 80\n"
	                       "    protocol: http\n",
	                    7, 14, "spec.destination.service",
	                    "invalid service \"www..google.com\": empty label (two dots in a "
	                    "row, or a leading or trailing dot)");
}
END_TEST

START_TEST(er_destination_name)
{
	tu_assert_one_error(ER "spec:\n"
	                       "  destination:\n"
	                       "    name: google\n"
	                       "    service: www.google.com\n"
	                       "  ports:\n"
	                       "  - port: 80\n"
	                       "    protocol: http\n",
	                    7, 11, "spec.destination.name",
	                    "name must not be set in an egress rule destination; use service");
}
END_TEST

START_TEST(er_cidr_http)
{
	tu_assert_one_error(ER "spec:\n"
	                       "  destination:\n"
	                       "    service: 192.168.3.0/24\n"
	                       "  ports:\n"
	                       "  - port: 80\n"
	                       "    protocol: http\n",
	                    10, 15, "spec.ports[0].protocol",
	                    "protocol \"http\" is not allowed with a CIDR destination; use TCP "
	                    "or MONGO");
}
END_TEST

START_TEST(er_missing_ports)
{
	tu_assert_one_error(ER "spec:\n"
	                       "  destination:\n"
	                       "    service: \"*.googleapis.com\"\n",
	                    6, 3, "spec", "missing required field \"ports\"");
}
END_TEST

START_TEST(ok_er_wildcard_service)
{
	tu_assert_valid(ER "spec:\n"
	                   "  destination:\n"
	                   "    service: \"*.googleapis.com\"\n"
	                   "  ports:\n"
	                   "  - port: 443\n"
	                   "    protocol: https\n");
}
END_TEST

START_TEST(ok_er_cidr_tcp)
{
	tu_assert_valid(ER "spec:\n"
	                   "  destination:\n"
	                   "    service: 192.168.3.0/24\n"
	                   "  ports:\n"
	                   "  - port: 3306\n"
	                   "    protocol: tcp\n");
}
END_TEST

/* ---- MeshConfig ---- */

START_TEST(mc_trust_domain_upper)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  trustDomain: Cluster.Local\n",
	                    6, 16, "spec.trustDomain",
	                    "invalid trust domain \"Cluster.Local\"; expected dot-separated "
	                    "labels of lower case letters, digits and '-' such as cluster.local");
}
END_TEST

START_TEST(mc_trust_domain_underscore)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  trustDomain: my_company.local\n",
	                    6, 16, "spec.trustDomain",
	                    "invalid trust domain \"my_company.local\"; expected dot-separated "
	                    "labels of lower case letters, digits and '-' such as cluster.local");
}
END_TEST

START_TEST(mc_mtls_strickt)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  mtls:\n"
	                       "    mode: STRICKT\n",
	                    7, 11, "spec.mtls.mode",
	                    "invalid value \"STRICKT\", did you mean \"STRICT\"?");
}
END_TEST

/* A value cut short is recognised. */
START_TEST(mc_outbound_registry)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  outboundTrafficPolicy:\n"
	                       "    mode: REGISTRY\n",
	                    7, 11, "spec.outboundTrafficPolicy.mode",
	                    "invalid value \"REGISTRY\", did you mean \"REGISTRY_ONLY\"?");
}
END_TEST

START_TEST(mc_connect_timeout_45s)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  connectTimeout: 45s\n",
	                    6, 19, "spec.connectTimeout",
	                    "duration must be at most 30s, got \"45s\"");
}
END_TEST

START_TEST(mc_access_log_relative)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  accessLogFile: stdout\n",
	                    6, 18, "spec.accessLogFile",
	                    "expected an absolute path such as /dev/stdout, got \"stdout\"");
}
END_TEST

START_TEST(mc_unknown_default_provider)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  defaultProviders:\n"
	                       "    tracing: [jaeger]\n",
	                    7, 15, "spec.defaultProviders.tracing[0]",
	                    "unknown provider \"jaeger\"; define it in extensionProviders");
}
END_TEST

START_TEST(mc_zipkin_port_0)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  extensionProviders:\n"
	                       "  - name: zipkin\n"
	                       "    zipkin:\n"
	                       "      service: zipkin.istio-system.svc.cluster.local\n"
	                       "      port: 0\n",
	                    10, 13, "spec.extensionProviders[0].zipkin.port",
	                    "must be between 1 and 65535, got 0");
}
END_TEST

START_TEST(mc_sampling_150)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  defaultConfig:\n"
	                       "    tracing:\n"
	                       "      sampling: 150\n",
	                    8, 17, "spec.defaultConfig.tracing.sampling",
	                    "must be between 0 and 100, got 150");
}
END_TEST

START_TEST(mc_root_namespace_upper)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  rootNamespace: Istio-System\n",
	                    6, 18, "spec.rootNamespace",
	                    "invalid namespace \"Istio-System\"; expected lower case letters, "
	                    "digits and '-', at most 63 characters");
}
END_TEST

START_TEST(mc_misspelled_trust_domain)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  trustDomian: cluster.local\n",
	                    6, 3, "spec.trustDomian",
	                    "unknown field \"trustDomian\" in MeshConfig, did you mean "
	                    "\"trustDomain\"?");
}
END_TEST

START_TEST(mc_provider_two_kinds)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  extensionProviders:\n"
	                       "  - name: tracer\n"
	                       "    zipkin:\n"
	                       "      service: zipkin.istio-system.svc.cluster.local\n"
	                       "      port: 9411\n"
	                       "    opentelemetry:\n"
	                       "      service: otel.istio-system.svc.cluster.local\n"
	                       "      port: 4317\n",
	                    11, 5, "spec.extensionProviders[0].opentelemetry",
	                    "only one of \"zipkin\" and \"opentelemetry\" may be set");
}
END_TEST

START_TEST(mc_encoding_lower_case)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  accessLogEncoding: json\n",
	                    6, 22, "spec.accessLogEncoding",
	                    "invalid value \"json\", did you mean \"JSON\"?");
}
END_TEST

START_TEST(mc_trust_domain_spiffe_uri)
{
	tu_assert_one_error(MC "spec:\n"
	                       "  trustDomain: spiffe://cluster.local\n",
	                    6, 16, "spec.trustDomain",
	                    "invalid trust domain \"spiffe://cluster.local\"; expected "
	                    "dot-separated labels of lower case letters, digits and '-' such as "
	                    "cluster.local");
}
END_TEST

START_TEST(ok_mc_trust_domain)
{
	tu_assert_valid(MC "spec:\n"
	                   "  trustDomain: cluster.local\n"
	                   "  trustDomainAliases:\n"
	                   "  - old-td.example.com.\n"
	                   "  mtls:\n"
	                   "    mode: STRICT\n"
	                   "  connectTimeout: 10s\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("validate");
	TCase *tc;

	tc = tcase_create("VirtualService");
	tcase_add_test(tc, vs_timeout_misspelled);
	tcase_add_test(tc, vs_host_instead_of_hosts);
	tcase_add_test(tc, vs_weights_sum_90);
	tcase_add_test(tc, vs_weights_sum_110);
	tcase_add_test(tc, vs_weight_percent_string);
	tcase_add_test(tc, vs_timeout_no_unit);
	tcase_add_test(tc, vs_timeout_bad_unit);
	tcase_add_test(tc, vs_timeout_negative);
	tcase_add_test(tc, vs_timeout_below_1ms);
	tcase_add_test(tc, vs_per_try_timeout_integer);
	tcase_add_test(tc, vs_uri_exact_and_prefix);
	tcase_add_test(tc, vs_route_and_redirect);
	tcase_add_test(tc, vs_abort_status_999);
	tcase_add_test(tc, vs_redirect_code_200);
	tcase_add_test(tc, vs_delay_percentage_150);
	tcase_add_test(tc, vs_destination_missing_host);
	tcase_add_test(tc, vs_destination_host_double_dot);
	tcase_add_test(tc, vs_host_bad_wildcard);
	tcase_add_test(tc, vs_destination_host_underscore);
	tcase_add_test(tc, vs_destination_port_70000);
	tcase_add_test(tc, vs_destination_port_0);
	tcase_add_test(tc, vs_uri_regex_unclosed);
	tcase_add_test(tc, vs_header_regex_bad_class);
	tcase_add_test(tc, vs_header_name_space);
	tcase_add_test(tc, vs_subset_underscore);
	tcase_add_test(tc, vs_cors_method_typo);
	tcase_add_test(tc, vs_retry_on_typo);
	tcase_add_test(tc, vs_hosts_string);
	tcase_add_test(tc, vs_http_mapping);
	tcase_add_test(tc, vs_ignore_uri_case_quoted);
	tcase_add_test(tc, vs_mirror_percentage_101);
	tcase_add_test(tc, vs_source_label_value);
	tcase_add_test(tc, vs_tcp_route_missing);
	tcase_add_test(tc, vs_no_routes);
	tcase_add_test(tc, vs_direct_response_700);
	tcase_add_test(tc, vs_duplicate_host);
	tcase_add_test(tc, vs_match_port_70000);
	tcase_add_test(tc, vs_misspelled_destination);
	tcase_add_test(tc, vs_subset_number);
	tcase_add_test(tc, vs_star_host_bound_to_mesh);
	tcase_add_test(tc, vs_two_destinations_without_weights);
	tcase_add_test(tc, vs_timeout_sec_unit);
	tcase_add_test(tc, vs_regex_offset_in_characters);
	tcase_add_test(tc, vs_empty_hosts_entry);
	tcase_add_test(tc, ok_vs_weights_80_20);
	tcase_add_test(tc, ok_vs_single_destination_no_weight);
	tcase_add_test(tc, ok_vs_durations);
	tcase_add_test(tc, ok_vs_uri_prefix_and_regex_in_separate_matches);
	tcase_add_test(tc, ok_vs_star_host_on_gateway);
	suite_add_tcase(s, tc);

	tc = tcase_create("DestinationRule");
	tcase_add_test(tc, dr_round_robbin);
	tcase_add_test(tc, dr_istio_mutal);
	tcase_add_test(tc, dr_missing_host);
	tcase_add_test(tc, dr_subset_missing_name);
	tcase_add_test(tc, dr_duplicate_subset);
	tcase_add_test(tc, dr_label_value_trailing_dash);
	tcase_add_test(tc, dr_label_key_bad_prefix);
	tcase_add_test(tc, dr_max_ejection_150);
	tcase_add_test(tc, dr_connect_timeout_half_ms);
	tcase_add_test(tc, dr_pending_requests_word);
	tcase_add_test(tc, dr_consistent_hash_two_keys);
	tcase_add_test(tc, dr_host_bad_wildcard);
	tcase_add_test(tc, dr_host_double_dot);
	tcase_add_test(tc, dr_loadbalancer_case);
	tcase_add_test(tc, dr_interval_no_unit);
	tcase_add_test(tc, dr_subsets_mapping);
	tcase_add_test(tc, dr_insecure_skip_verify_quoted);
	tcase_add_test(tc, dr_mutual_without_key);
	tcase_add_test(tc, dr_camel_and_snake_twice);
	tcase_add_test(tc, dr_snake_case_typo);
	tcase_add_test(tc, dr_tls_mode_number);
	tcase_add_test(tc, dr_label_key_without_name);
	tcase_add_test(tc, ok_dr_snake_case);
	suite_add_tcase(s, tc);

	tc = tcase_create("ServiceEntry");
	tcase_add_test(tc, se_missing_hosts);
	tcase_add_test(tc, se_duplicate_port);
	tcase_add_test(tc, se_port_0);
	tcase_add_test(tc, se_port_70000);
	tcase_add_test(tc, se_resolution_typo);
	tcase_add_test(tc, se_location_typo);
	tcase_add_test(tc, se_port_missing_name);
	tcase_add_test(tc, se_wildcard_dns);
	tcase_add_test(tc, se_hosts_string);
	tcase_add_test(tc, se_protocol_typo);
	tcase_add_test(tc, se_address_bad_ip);
	tcase_add_test(tc, se_endpoints_with_none);
	tcase_add_test(tc, se_host_underscore);
	tcase_add_test(tc, se_misspelled_endpoints);
	tcase_add_test(tc, se_cidr_with_dns);
	tcase_add_test(tc, se_port_overflow);
	tcase_add_test(tc, se_port_quoted_with_space);
	tcase_add_test(tc, ok_se_quoted_port);
	tcase_add_test(tc, ok_se_wildcard_with_resolution_none);
	suite_add_tcase(s, tc);

	tc = tcase_create("WorkloadEntry");
	tcase_add_test(tc, we_bad_ip);
	tcase_add_test(tc, we_port_70000);
	tcase_add_test(tc, we_label_value_space);
	tcase_add_test(tc, we_weight_negative);
	tcase_add_test(tc, we_missing_address);
	tcase_add_test(tc, we_misspelled_service_account);
	tcase_add_test(tc, we_labels_list);
	tcase_add_test(tc, ok_we_vm);
	suite_add_tcase(s, tc);

	tc = tcase_create("Gateway");
	tcase_add_test(tc, gw_missing_servers);
	tcase_add_test(tc, gw_server_missing_port);
	tcase_add_test(tc, gw_server_missing_hosts);
	tcase_add_test(tc, gw_port_0);
	tcase_add_test(tc, gw_https_without_tls);
	tcase_add_test(tc, gw_protocol_typo);
	tcase_add_test(tc, gw_host_bad_wildcard);
	tcase_add_test(tc, gw_tls_mode_typo);
	tcase_add_test(tc, gw_hosts_string);
	tcase_add_test(tc, gw_selector_value_number);
	tcase_add_test(tc, gw_short_host);
	tcase_add_test(tc, gw_duplicate_port_name);
	tcase_add_test(tc, ok_gw_wildcard_host);
	tcase_add_test(tc, ok_gw_http_and_https);
	suite_add_tcase(s, tc);

	tc = tcase_create("Sidecar");
	tcase_add_test(tc, sc_egress_missing_hosts);
	tcase_add_test(tc, sc_egress_host_without_ns);
	tcase_add_test(tc, sc_ingress_port_0);
	tcase_add_test(tc, sc_default_endpoint_localhost);
	tcase_add_test(tc, sc_capture_mode_typo);
	tcase_add_test(tc, sc_outbound_allow_all);
	tcase_add_test(tc, sc_empty_spec);
	tcase_add_test(tc, sc_selector_bad_key);
	tcase_add_test(tc, sc_egress_host_bad_ns);
	tcase_add_test(tc, ok_sc_namespace_hosts);
	tcase_add_test(tc, ok_sc_ingress_default_endpoints);
	suite_add_tcase(s, tc);

	tc = tcase_create("PeerAuthentication");
	tcase_add_test(tc, pa_strickt);
	tcase_add_test(tc, pa_lower_case_mode);
	tcase_add_test(tc, pa_port_level_without_selector);
	tcase_add_test(tc, pa_port_level_name_key);
	tcase_add_test(tc, pa_mtls_string);
	tcase_add_test(tc, pa_misspelled_mtls);
	tcase_add_test(tc, pa_port_level_70000);
	tcase_add_test(tc, ok_pa_strict);
	suite_add_tcase(s, tc);

	tc = tcase_create("AuthorizationPolicy");
	tcase_add_test(tc, ap_custom_without_provider);
	tcase_add_test(tc, ap_action_typo);
	tcase_add_test(tc, ap_unknown_condition_key);
	tcase_add_test(tc, ap_condition_bad_cidr);
	tcase_add_test(tc, ap_port_integer);
	tcase_add_test(tc, ap_principals_string);
	tcase_add_test(tc, ap_deny_without_rules);
	tcase_add_test(tc, ap_condition_without_values);
	tcase_add_test(tc, ap_provider_with_allow);
	tcase_add_test(tc, ap_ip_block_bad);
	tcase_add_test(tc, ap_path_named_template);
	tcase_add_test(tc, ap_misspelled_rules);
	tcase_add_test(tc, ap_operation_misspelled_methods);
	tcase_add_test(tc, ap_selector_and_target_ref);
	tcase_add_test(tc, ap_empty_from);
	tcase_add_test(tc, ok_ap_custom_with_provider);
	suite_add_tcase(s, tc);

	tc = tcase_create("RequestAuthentication");
	tcase_add_test(tc, ra_missing_issuer);
	tcase_add_test(tc, ra_jwks_uri_no_scheme);
	tcase_add_test(tc, ra_from_headers_missing_name);
	tcase_add_test(tc, ra_jwt_rules_mapping);
	tcase_add_test(tc, ra_misspelled_jwt_rules);
	tcase_add_test(tc, ra_claim_header_space);
	tcase_add_test(tc, ra_forward_token_quoted);
	tcase_add_test(tc, ok_ra_jwks_uri_without_issuer);
	suite_add_tcase(s, tc);

	tc = tcase_create("Telemetry");
	tcase_add_test(tc, tm_sampling_150);
	tcase_add_test(tc, tm_provider_missing_name);
	tcase_add_test(tc, tm_metric_typo);
	tcase_add_test(tc, tm_tag_upsert_without_value);
	tcase_add_test(tc, tm_mode_unknown);
	tcase_add_test(tc, tm_disabled_quoted);
	tcase_add_test(tc, tm_reporting_interval_bad);
	tcase_add_test(tc, tm_tracing_mapping);
	tcase_add_test(tc, tm_target_ref_deployment);
	tcase_add_test(tc, ok_tm_sampling_100);
	tcase_add_test(tc, ok_tm_metric_request_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("RouteRule");
	tcase_add_test(tc, rr_weights_sum_90);
	tcase_add_test(tc, rr_upper_case_header);
	tcase_add_test(tc, rr_redirect_with_route);
	tcase_add_test(tc, rr_missing_destination);
	tcase_add_test(tc, rr_name_and_service);
	tcase_add_test(tc, rr_abort_999);
	tcase_add_test(tc, rr_delay_percent_150);
	tcase_add_test(tc, rr_fixed_delay_no_unit);
	tcase_add_test(tc, rr_weight_120);
	tcase_add_test(tc, rr_timeout_half_ms);
	tcase_add_test(tc, rr_precedence_word);
	tcase_add_test(tc, rr_header_regex_bad);
	tcase_add_test(tc, rr_append_header_upper);
	tcase_add_test(tc, rr_route_labels_bad);
	tcase_add_test(tc, rr_single_route_weight_50);
	tcase_add_test(tc, rr_destination_labels);
	tcase_add_test(tc, ok_rr_single_route_without_weight);
	tcase_add_test(tc, ok_rr_weights_50_50);
	tcase_add_test(tc, ok_rr_fault_and_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("DestinationPolicy");
	tcase_add_test(tc, dp_round_robbin);
	tcase_add_test(tc, dp_sleep_window_no_unit);
	tcase_add_test(tc, dp_ejection_150);
	tcase_add_test(tc, dp_missing_destination);
	tcase_add_test(tc, dp_max_connections_word);
	tcase_add_test(tc, dp_load_balancing_empty);
	tcase_add_test(tc, dp_misspelled_circuit_breaker);
	tcase_add_test(tc, ok_dp_round_robin);
	suite_add_tcase(s, tc);

	tc = tcase_create("EgressRule");
	tcase_add_test(tc, er_port_missing_protocol);
	tcase_add_test(tc, er_port_70000);
	tcase_add_test(tc, er_protocol_ftp);
	tcase_add_test(tc, er_duplicate_port);
	tcase_add_test(tc, er_service_double_dot);
	tcase_add_test(tc, er_destination_name);
	tcase_add_test(tc, er_cidr_http);
	tcase_add_test(tc, er_missing_ports);
	tcase_add_test(tc, ok_er_wildcard_service);
	tcase_add_test(tc, ok_er_cidr_tcp);
	suite_add_tcase(s, tc);

	tc = tcase_create("MeshConfig");
	tcase_add_test(tc, mc_trust_domain_upper);
	tcase_add_test(tc, mc_trust_domain_underscore);
	tcase_add_test(tc, mc_mtls_strickt);
	tcase_add_test(tc, mc_outbound_registry);
	tcase_add_test(tc, mc_connect_timeout_45s);
	tcase_add_test(tc, mc_access_log_relative);
	tcase_add_test(tc, mc_unknown_default_provider);
	tcase_add_test(tc, mc_zipkin_port_0);
	tcase_add_test(tc, mc_sampling_150);
	tcase_add_test(tc, mc_root_namespace_upper);
	tcase_add_test(tc, mc_misspelled_trust_domain);
	tcase_add_test(tc, mc_provider_two_kinds);
	tcase_add_test(tc, mc_encoding_lower_case);
	tcase_add_test(tc, mc_trust_domain_spiffe_uri);
	tcase_add_test(tc, ok_mc_trust_domain);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
