/*
 * schema_legacy.c - spec schemas of the Istio 0.7 routing API
 * (config.istio.io v1alpha2, from the routing/v1alpha1 protos): RouteRule,
 * DestinationPolicy and EgressRule. The checks follow what Pilot 0.7
 * enforced (pilot/pkg/model/validation.go).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "schema.h"

/* ---- helpers ---- */

static bool has_nonempty_str(const struct mesh__node *obj, const char *key)
{
	const char *s = mesh__node_field_str(obj, key);
	return s && *s;
}

static bool is_true(const struct mesh__node *n)
{
	return n && n->type == MESH_NODE_SCALAR && n->scalar == MESH_SCALAR_BOOL &&
	       !strcasecmp(n->u.str, "true");
}

/* Istio 0.7 labels: [a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?, at most 63. */
static bool is_dns_label(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

static bool has_upper(const char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return true;
	return false;
}

/* "a.b.c.d/n" with an IPv4 address, as Pilot 0.7 accepted for egress. */
static bool is_ipv4_cidr(const char *s)
{
	const char *slash = strchr(s, '/');
	char addr[INET_ADDRSTRLEN];
	unsigned char buf[4];
	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET, addr, buf) != 1)
		return false;
	char *end;
	long bits = strtol(slash + 1, &end, 10);
	return end != slash + 1 && !*end && bits >= 0 && bits <= 32;
}

/* Egress service: a CIDR block, or a domain whose first label may be "*",
 * "*.", "*-" or "*x" (Envoy virtual host syntax). NULL when valid. */
static const char *check_egress_service(const char *s)
{
	if (strchr(s, '/'))
		return is_ipv4_cidr(s) ? NULL : "expected an IPv4 CIDR block such as 10.0.0.0/16";
	if (!*s)
		return "empty host";
	if (s[0] == '*') {
		s++;
		if (!*s)
			return NULL;
		if (*s == '.' || *s == '-')
			s++;
	}
	return mesh__check_host(s, false);
}

/* Durations in the 0.7 API: at least 1ms, whole milliseconds. */
static void check_ms_duration(struct mesh__vctx *v, const struct mesh__node *n)
{
	int64_t ns;
	if (!mesh__v_duration(v, n, NULL, &ns))
		return;
	if (ns < 1000000)
		mesh__v_error(v, n, NULL, "duration must be at least 1ms, got \"%s\"", n->u.str);
	else if (ns % 1000000)
		mesh__v_error(v, n, NULL, "duration must be whole milliseconds, got \"%s\"",
		              n->u.str);
}

static void check_header_name(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = mesh__node_str(n);
	if (!s || n->scalar != MESH_SCALAR_STRING) {
		mesh__v_error(v, n, NULL, "expected a header name");
		return;
	}
	if (!*s)
		mesh__v_error(v, n, NULL, "header name must not be empty");
	else if (has_upper(s))
		mesh__v_error(v, n, NULL, "header name \"%s\" must be lower case", s);
}

static const char *const egress_protocols[] = { "HTTP", "HTTP2", "GRPC", "HTTPS",
	                                        "TCP",  "MONGO", NULL };

static bool is_egress_protocol(const char *s)
{
	for (size_t i = 0; egress_protocols[i]; i++)
		if (!strcasecmp(s, egress_protocols[i]))
			return true;
	return false;
}

/* Pilot 0.7 parsed port protocols case-insensitively ("https" in the samples). */
static void check_egress_protocol(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = mesh__node_str(n);
	if (!s || n->scalar != MESH_SCALAR_STRING) {
		mesh__v_error(v, n, NULL, "expected a protocol name such as \"http\"");
		return;
	}
	if (!is_egress_protocol(s))
		mesh__v_error(
			v, n, NULL,
			"invalid protocol \"%s\"; expected one of HTTP, HTTP2, GRPC, HTTPS, TCP, "
			"MONGO (any case)",
			s);
}

/* ---- IstioService ---- */

static const struct mesh__field istio_service_fields[] = {
	{ .name = "name", .type = MESH_FT_STRING, .oneof = 1 },
	{ .name = "namespace", .type = MESH_FT_STRING },
	{ .name = "domain", .type = MESH_FT_STRING },
	{ .name = "service", .type = MESH_FT_STRING, .oneof = 1 },
	{ .name = "labels", .type = MESH_FT_LABELS },
};

static void istio_service_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *name = mesh__node_field(obj, "name"),
				*ns = mesh__node_field(obj, "namespace");
	const struct mesh__node *domain = mesh__node_field(obj, "domain"),
				*svc = mesh__node_field(obj, "service");
	const char *s;

	if ((s = mesh__node_str(svc)) && svc->scalar == MESH_SCALAR_STRING) {
		const char *err = check_egress_service(s);
		if (err)
			mesh__v_error(v, svc, ".service", "invalid service \"%s\": %s", s, err);
		if (ns)
			mesh__v_error(v, ns, ".namespace",
			              "namespace must not be set when service is set");
		if (domain)
			mesh__v_error(v, domain, ".domain",
			              "domain must not be set when service is set");
	}
	if ((s = mesh__node_field_str(obj, "name")) && !is_dns_label(s))
		mesh__v_error(
			v, name, ".name",
			"invalid service name \"%s\": expected a DNS label (letters, digits, '-')",
			s);
	if ((s = mesh__node_field_str(obj, "namespace")) && !is_dns_label(s))
		mesh__v_error(
			v, ns, ".namespace",
			"invalid namespace \"%s\": expected a DNS label (letters, digits, '-')", s);
	if ((s = mesh__node_field_str(obj, "domain"))) {
		const char *err = mesh__check_host(s, false);
		if (err)
			mesh__v_error(v, domain, ".domain", "invalid domain \"%s\": %s", s, err);
	}
}

/* A service reference: exactly one of name and service. */
static const struct mesh__schema istio_service = { "IstioService",
	                                           MESH_FIELDS(istio_service_fields),
	                                           istio_service_check, 1u << 1 };

/* An egress rule destination uses only "service" (Pilot 0.7 refused the rest). */
static void egress_destination_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	static const char *const forbidden[] = { "name", "namespace", "domain", "labels" };
	for (size_t i = 0; i < MESH_ARRAY_LEN(forbidden); i++) {
		const struct mesh__node *n = mesh__node_field(obj, forbidden[i]);
		char rel[16];
		if (!n)
			continue;
		snprintf(rel, sizeof(rel), ".%s", forbidden[i]);
		mesh__v_error(v, n, rel,
		              "%s must not be set in an egress rule destination; use service",
		              forbidden[i]);
	}
	const struct mesh__node *svc = mesh__node_field(obj, "service");
	const char *s = mesh__node_field_str(obj, "service");
	if (!svc) {
		mesh__v_error(v, obj, NULL, "missing required field \"service\"");
	} else if (s) {
		const char *err = check_egress_service(s);
		if (err)
			mesh__v_error(v, svc, ".service", "invalid service \"%s\": %s", s, err);
	}
}

/* the same fields without the name/service one-of: name is refused outright */
static const struct mesh__field egress_destination_fields[] = {
	{ .name = "name", .type = MESH_FT_STRING },
	{ .name = "namespace", .type = MESH_FT_STRING },
	{ .name = "domain", .type = MESH_FT_STRING },
	{ .name = "service", .type = MESH_FT_STRING },
	{ .name = "labels", .type = MESH_FT_LABELS },
};

static const struct mesh__schema egress_destination = { "IstioService",
	                                                MESH_FIELDS(egress_destination_fields),
	                                                egress_destination_check, 0 };

/* ---- RouteRule ---- */

static const struct mesh__field string_match_fields[] = {
	{ .name = "exact", .type = MESH_FT_STRING, .oneof = 1 },
	{ .name = "prefix", .type = MESH_FT_STRING, .oneof = 1 },
	{ .name = "regex", .type = MESH_FT_REGEX, .oneof = 1 },
};

static const struct mesh__schema string_match = { "StringMatch", MESH_FIELDS(string_match_fields),
	                                          NULL, 1u << 1 };

static const struct mesh__field match_request_fields[] = {
	{ .name = "headers", .type = MESH_FT_MAP, .sub = &string_match },
};

static void match_request_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *h = mesh__node_field(obj, "headers");
	if (!h || h->type != MESH_NODE_MAP)
		return;
	for (size_t i = 0; i < h->count; i++) {
		const struct mesh__node *k = h->u.pairs[i].key, *m = h->u.pairs[i].value;
		char rel[300];
		snprintf(rel, sizeof(rel), ".headers.%s", k->u.str);
		if (!*k->u.str)
			mesh__v_error(v, k, rel, "header name must not be empty");
		else if (has_upper(k->u.str))
			mesh__v_error(v, k, rel, "header name \"%s\" must be lower case", k->u.str);
		/* an empty request path never matches (RFC 7230 absolute-path) */
		if (strcmp(k->u.str, "uri") || m->type != MESH_NODE_MAP)
			continue;
		for (size_t j = 0; j < m->count; j++) {
			const char *val = mesh__node_str(m->u.pairs[j].value);
			if (val && !*val && m->u.pairs[j].value->scalar == MESH_SCALAR_STRING) {
				snprintf(rel, sizeof(rel), ".headers.uri.%s",
				         m->u.pairs[j].key->u.str);
				mesh__v_error(v, m->u.pairs[j].value, rel,
				              "uri match must not be empty");
			}
		}
	}
}

static const struct mesh__schema match_request = { "MatchRequest",
	                                           MESH_FIELDS(match_request_fields),
	                                           match_request_check, 0 };

static const struct mesh__field l4_match_fields[] = {
	{ .name = "sourceSubnet", .type = MESH_FT_IP, .flags = MESH_F_LIST | MESH_F_CIDR },
	{ .name = "destinationSubnet", .type = MESH_FT_IP, .flags = MESH_F_LIST | MESH_F_CIDR },
};

static const struct mesh__schema l4_match = { "L4MatchAttributes", MESH_FIELDS(l4_match_fields),
	                                      NULL, 0 };

static const struct mesh__field match_condition_fields[] = {
	{ .name = "source", .type = MESH_FT_OBJECT, .sub = &istio_service },
	{ .name = "tcp", .type = MESH_FT_OBJECT, .sub = &l4_match },
	{ .name = "udp", .type = MESH_FT_OBJECT, .sub = &l4_match },
	{ .name = "request", .type = MESH_FT_OBJECT, .sub = &match_request },
};

static void match_condition_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *udp = mesh__node_field(obj, "udp");
	if (udp)
		mesh__v_error(v, udp, ".udp", "udp matching is not supported");
}

static const struct mesh__schema match_condition = { "MatchCondition",
	                                             MESH_FIELDS(match_condition_fields),
	                                             match_condition_check, 0 };

static const struct mesh__field destination_weight_fields[] = {
	{ .name = "destination", .type = MESH_FT_OBJECT, .sub = &istio_service },
	{ .name = "labels", .type = MESH_FT_LABELS },
	{ .name = "weight", .type = MESH_FT_INT, .min = 0, .max = 100 },
};

static const struct mesh__schema destination_weight = { "DestinationWeight",
	                                                MESH_FIELDS(destination_weight_fields),
	                                                NULL, 0 };

static const struct mesh__field uri_authority_fields[] = {
	{ .name = "uri", .type = MESH_FT_STRING },
	{ .name = "authority", .type = MESH_FT_STRING },
};

static void redirect_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	if (!has_nonempty_str(obj, "uri") && !has_nonempty_str(obj, "authority"))
		mesh__v_error(v, obj, NULL, "redirect must set uri, authority or both");
}

static void rewrite_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	if (!has_nonempty_str(obj, "uri") && !has_nonempty_str(obj, "authority"))
		mesh__v_error(v, obj, NULL, "rewrite must set uri, authority or both");
}

static const struct mesh__schema http_redirect = { "HTTPRedirect",
	                                           MESH_FIELDS(uri_authority_fields),
	                                           redirect_check, 0 };

static const struct mesh__schema http_rewrite = { "HTTPRewrite", MESH_FIELDS(uri_authority_fields),
	                                          rewrite_check, 0 };

static const struct mesh__field simple_timeout_fields[] = {
	{ .name = "timeout",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_REQUIRED,
	  .sub = MESH_CUSTOM(check_ms_duration) },
	{ .name = "overrideHeaderName", .type = MESH_FT_STRING },
};

static const struct mesh__schema simple_timeout = { "SimpleTimeoutPolicy",
	                                            MESH_FIELDS(simple_timeout_fields), NULL, 0 };

static const struct mesh__field http_timeout_fields[] = {
	{ .name = "simpleTimeout", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &simple_timeout },
	{ .name = "custom", .type = MESH_FT_ANY, .oneof = 1 },
};

static const struct mesh__schema http_timeout = { "HTTPTimeout", MESH_FIELDS(http_timeout_fields),
	                                          NULL, 0 };

static const struct mesh__field simple_retry_fields[] = {
	{ .name = "attempts", .type = MESH_FT_INT, .min = 0, .max = INT32_MAX },
	{ .name = "perTryTimeout", .type = MESH_FT_CUSTOM, .sub = MESH_CUSTOM(check_ms_duration) },
	{ .name = "overrideHeaderName", .type = MESH_FT_STRING },
};

static const struct mesh__schema simple_retry = { "SimpleRetryPolicy",
	                                          MESH_FIELDS(simple_retry_fields), NULL, 0 };

static const struct mesh__field http_retry_fields[] = {
	{ .name = "simpleRetry", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &simple_retry },
	{ .name = "custom", .type = MESH_FT_ANY, .oneof = 1 },
};

static const struct mesh__schema http_retry = { "HTTPRetry", MESH_FIELDS(http_retry_fields), NULL,
	                                        0 };

static const struct mesh__field delay_fields[] = {
	{ .name = "percent", .type = MESH_FT_PERCENT },
	{ .name = "fixedDelay",
	  .type = MESH_FT_CUSTOM,
	  .oneof = 1,
	  .sub = MESH_CUSTOM(check_ms_duration) },
	{ .name = "exponentialDelay",
	  .type = MESH_FT_CUSTOM,
	  .oneof = 1,
	  .sub = MESH_CUSTOM(check_ms_duration) },
	{ .name = "overrideHeaderName", .type = MESH_FT_STRING },
};

static void delay_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *n = mesh__node_field(obj, "exponentialDelay");
	if (n)
		mesh__v_error(v, n, ".exponentialDelay",
		              "exponentialDelay is not supported; use fixedDelay");
}

static const struct mesh__schema fault_delay = { "Delay", MESH_FIELDS(delay_fields), delay_check,
	                                         1u << 1 };

static const struct mesh__field abort_fields[] = {
	{ .name = "percent", .type = MESH_FT_PERCENT },
	{ .name = "grpcStatus", .type = MESH_FT_STRING, .oneof = 1 },
	{ .name = "http2Error", .type = MESH_FT_STRING, .oneof = 1 },
	{ .name = "httpStatus", .type = MESH_FT_INT, .oneof = 1, .min = 200, .max = 599 },
	{ .name = "overrideHeaderName", .type = MESH_FT_STRING },
};

static void abort_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *n = mesh__node_field(obj, "grpcStatus");
	if (n)
		mesh__v_error(v, n, ".grpcStatus", "grpcStatus is not supported; use httpStatus");
}

static const struct mesh__schema fault_abort = { "Abort", MESH_FIELDS(abort_fields), abort_check,
	                                         0 };

static const struct mesh__field http_fault_fields[] = {
	{ .name = "delay", .type = MESH_FT_OBJECT, .sub = &fault_delay },
	{ .name = "abort", .type = MESH_FT_OBJECT, .sub = &fault_abort },
};

static const struct mesh__schema http_fault = { "HTTPFaultInjection",
	                                        MESH_FIELDS(http_fault_fields), NULL, 0 };

static const struct mesh__field throttle_fields[] = {
	{ .name = "percent", .type = MESH_FT_PERCENT },
	{ .name = "downstreamLimitBps", .type = MESH_FT_INT, .min = 0, .max = INT64_MAX },
	{ .name = "upstreamLimitBps", .type = MESH_FT_INT, .min = 0, .max = INT64_MAX },
	{ .name = "throttleAfterPeriod",
	  .type = MESH_FT_CUSTOM,
	  .oneof = 1,
	  .sub = MESH_CUSTOM(check_ms_duration) },
	{ .name = "throttleAfterBytes",
	  .type = MESH_FT_DOUBLE,
	  .oneof = 1,
	  .min = 0,
	  .max = INT64_MAX },
	{ .name = "throttleForPeriod",
	  .type = MESH_FT_CUSTOM,
	  .sub = MESH_CUSTOM(check_ms_duration) },
};

static const struct mesh__schema l4_throttle = { "Throttle", MESH_FIELDS(throttle_fields), NULL,
	                                         0 };

static const struct mesh__field terminate_fields[] = {
	{ .name = "percent", .type = MESH_FT_PERCENT },
	{ .name = "terminateAfterPeriod",
	  .type = MESH_FT_CUSTOM,
	  .sub = MESH_CUSTOM(check_ms_duration) },
};

static const struct mesh__schema l4_terminate = { "Terminate", MESH_FIELDS(terminate_fields), NULL,
	                                          0 };

static const struct mesh__field l4_fault_fields[] = {
	{ .name = "throttle", .type = MESH_FT_OBJECT, .sub = &l4_throttle },
	{ .name = "terminate", .type = MESH_FT_OBJECT, .sub = &l4_terminate },
};

static const struct mesh__schema l4_fault = { "L4FaultInjection", MESH_FIELDS(l4_fault_fields),
	                                      NULL, 0 };

static const char *const http_methods[] = { "GET",    "HEAD",    "POST",    "PUT",   "PATCH",
	                                    "DELETE", "CONNECT", "OPTIONS", "TRACE", NULL };

static const struct mesh__field cors_fields[] = {
	{ .name = "allowOrigin", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "allowMethods", .type = MESH_FT_ENUM, .flags = MESH_F_LIST, .sub = http_methods },
	{ .name = "allowHeaders",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_LIST,
	  .sub = MESH_CUSTOM(check_header_name) },
	{ .name = "exposeHeaders",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_LIST,
	  .sub = MESH_CUSTOM(check_header_name) },
	{ .name = "maxAge", .type = MESH_FT_CUSTOM, .sub = MESH_CUSTOM(check_ms_duration) },
	{ .name = "allowCredentials", .type = MESH_FT_BOOL },
};

static void cors_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *n = mesh__node_field(obj, "maxAge");
	const char *s = mesh__node_field_str(obj, "maxAge");
	int64_t ns;
	/* Access-Control-Max-Age is in seconds */
	if (s && !mesh__parse_duration(s, &ns) && ns % 1000000000)
		mesh__v_error(v, n, ".maxAge", "maxAge must be whole seconds, got \"%s\"", s);
}

static const struct mesh__schema cors_policy = { "CorsPolicy", MESH_FIELDS(cors_fields), cors_check,
	                                         0 };

static const struct mesh__field route_rule_fields[] = {
	{ .name = "destination",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_REQUIRED,
	  .sub = &istio_service },
	{ .name = "precedence", .type = MESH_FT_INT, .min = INT32_MIN, .max = INT32_MAX },
	{ .name = "match", .type = MESH_FT_OBJECT, .sub = &match_condition },
	{ .name = "route",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_LIST,
	  .sub = &destination_weight },
	{ .name = "redirect", .type = MESH_FT_OBJECT, .sub = &http_redirect },
	{ .name = "rewrite", .type = MESH_FT_OBJECT, .sub = &http_rewrite },
	{ .name = "websocketUpgrade", .type = MESH_FT_BOOL },
	{ .name = "httpReqTimeout", .type = MESH_FT_OBJECT, .sub = &http_timeout },
	{ .name = "httpReqRetries", .type = MESH_FT_OBJECT, .sub = &http_retry },
	{ .name = "httpFault", .type = MESH_FT_OBJECT, .sub = &http_fault },
	{ .name = "l4Fault", .type = MESH_FT_OBJECT, .sub = &l4_fault },
	{ .name = "mirror", .type = MESH_FT_OBJECT, .sub = &istio_service },
	{ .name = "corsPolicy", .type = MESH_FT_OBJECT, .sub = &cors_policy },
	{ .name = "appendHeaders", .type = MESH_FT_STRMAP },
};

/* Pilot 0.7: weights total 100, except a single route without a weight
 * (which gets all the traffic). */
static void check_weights(struct mesh__vctx *v, const struct mesh__node *route)
{
	const struct mesh__node *last = NULL;
	size_t last_i = 0;
	int64_t sum = 0;
	char rel[48];

	if (route->type != MESH_NODE_SEQ || route->count == 0)
		return;
	for (size_t i = 0; i < route->count; i++) {
		const struct mesh__node *w = mesh__node_field(route->u.items[i], "weight");
		int64_t x;
		if (!w)
			continue;
		if (!mesh__node_int_loose(w, &x))
			return; /* not a number: already reported */
		if (x < 0 || x > 100)
			return; /* out of range: already reported */
		sum += x;
		last = w;
		last_i = i;
	}
	if (route->count == 1 && sum == 0)
		return;
	if (sum == 100)
		return;
	if (last) {
		snprintf(rel, sizeof(rel), ".route[%zu].weight", last_i);
		mesh__v_error(v, last, rel, "weights must sum to 100, got %lld", (long long)sum);
	} else {
		mesh__v_error(v, route, ".route", "weights must sum to 100, got %lld",
		              (long long)sum);
	}
}

static void route_rule_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *dest = mesh__node_field(obj, "destination"),
				*route = mesh__node_field(obj, "route");
	const struct mesh__node *redirect = mesh__node_field(obj, "redirect"),
				*rewrite = mesh__node_field(obj, "rewrite");
	const struct mesh__node *n;

	if (dest && dest->type == MESH_NODE_MAP && (n = mesh__node_field(dest, "labels")) &&
	    n->type == MESH_NODE_MAP && n->count)
		mesh__v_error(
			v, n, ".destination.labels",
			"route rule destination must not have labels; put them in route[].labels");
	if (redirect) {
		if (route && route->type == MESH_NODE_SEQ && route->count)
			mesh__v_error(v, redirect, ".redirect",
			              "route and redirect cannot both be set");
		if (mesh__node_field(obj, "httpFault"))
			mesh__v_error(v, redirect, ".redirect",
			              "httpFault and redirect cannot both be set");
		if (rewrite)
			mesh__v_error(v, redirect, ".redirect",
			              "rewrite and redirect cannot both be set");
		n = mesh__node_field(obj, "websocketUpgrade");
		if (is_true(n))
			mesh__v_error(v, n, ".websocketUpgrade",
			              "websocketUpgrade is not allowed with redirect");
	}
	if (route)
		check_weights(v, route);
	if ((n = mesh__node_field(obj, "l4Fault")))
		mesh__v_error(v, n, ".l4Fault", "l4Fault is not supported");
	n = mesh__node_field(obj, "appendHeaders");
	for (size_t i = 0; n && n->type == MESH_NODE_MAP && i < n->count; i++) {
		const struct mesh__node *k = n->u.pairs[i].key, *val = n->u.pairs[i].value;
		char rel[300];
		snprintf(rel, sizeof(rel), ".appendHeaders.%s", k->u.str);
		if (!*k->u.str)
			mesh__v_error(v, k, rel, "header name must not be empty");
		else if (has_upper(k->u.str))
			mesh__v_error(v, k, rel, "header name \"%s\" must be lower case", k->u.str);
		if (val->type == MESH_NODE_NULL || (val->type == MESH_NODE_SCALAR && !*val->u.str))
			mesh__v_error(v, val->type == MESH_NODE_NULL ? k : val, rel,
			              "appended header \"%s\" must have a non-empty value",
			              k->u.str);
	}
}

const struct mesh__schema mesh__schema_route_rule = { "RouteRule", MESH_FIELDS(route_rule_fields),
	                                              route_rule_check, 0 };

/* ---- DestinationPolicy ---- */

static const char *const lb_names[] = { "ROUND_ROBIN", "LEAST_CONN", "RANDOM", NULL };

static const struct mesh__field ring_hash_fields[] = {
	{ .name = "ringSize", .type = MESH_FT_INT, .min = 0, .max = UINT32_MAX },
	{ .name = "stdHash", .type = MESH_FT_BOOL },
};

static const struct mesh__schema ring_hash = { "RingHash", MESH_FIELDS(ring_hash_fields), NULL, 0 };

static const struct mesh__field load_balancing_fields[] = {
	{ .name = "name", .type = MESH_FT_ENUM, .oneof = 1, .sub = lb_names },
	{ .name = "ringHash", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &ring_hash },
	{ .name = "custom", .type = MESH_FT_ANY, .oneof = 1 },
};

static const struct mesh__schema load_balancing = { "LoadBalancing",
	                                            MESH_FIELDS(load_balancing_fields), NULL,
	                                            1u << 1 };

static const struct mesh__field simple_cb_fields[] = {
	{ .name = "maxConnections", .type = MESH_FT_INT, .min = 0, .max = INT32_MAX },
	{ .name = "httpMaxPendingRequests", .type = MESH_FT_INT, .min = 0, .max = INT32_MAX },
	{ .name = "httpMaxRequests", .type = MESH_FT_INT, .min = 0, .max = INT32_MAX },
	{ .name = "sleepWindow", .type = MESH_FT_CUSTOM, .sub = MESH_CUSTOM(check_ms_duration) },
	{ .name = "httpConsecutiveErrors", .type = MESH_FT_INT, .min = 0, .max = INT32_MAX },
	{ .name = "httpDetectionInterval",
	  .type = MESH_FT_CUSTOM,
	  .sub = MESH_CUSTOM(check_ms_duration) },
	{ .name = "httpMaxRequestsPerConnection", .type = MESH_FT_INT, .min = 0, .max = INT32_MAX },
	{ .name = "httpMaxEjectionPercent", .type = MESH_FT_INT, .min = 0, .max = 100 },
	{ .name = "httpMaxRetries", .type = MESH_FT_INT, .min = 0, .max = INT32_MAX },
};

static const struct mesh__schema simple_cb = { "SimpleCircuitBreakerPolicy",
	                                       MESH_FIELDS(simple_cb_fields), NULL, 0 };

static const struct mesh__field circuit_breaker_fields[] = {
	{ .name = "simpleCb", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &simple_cb },
	{ .name = "custom", .type = MESH_FT_ANY, .oneof = 1 },
};

static const struct mesh__schema circuit_breaker = { "CircuitBreaker",
	                                             MESH_FIELDS(circuit_breaker_fields), NULL, 0 };

static const struct mesh__field destination_policy_fields[] = {
	{ .name = "destination",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_REQUIRED,
	  .sub = &istio_service },
	{ .name = "source", .type = MESH_FT_OBJECT, .sub = &istio_service },
	{ .name = "loadBalancing", .type = MESH_FT_OBJECT, .sub = &load_balancing },
	{ .name = "circuitBreaker", .type = MESH_FT_OBJECT, .sub = &circuit_breaker },
	{ .name = "custom", .type = MESH_FT_ANY },
};

const struct mesh__schema mesh__schema_destination_policy = {
	"DestinationPolicy", MESH_FIELDS(destination_policy_fields), NULL, 0
};

/* ---- EgressRule ---- */

static const struct mesh__field egress_port_fields[] = {
	{ .name = "port", .type = MESH_FT_PORT, .flags = MESH_F_REQUIRED },
	{ .name = "protocol",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_REQUIRED,
	  .sub = MESH_CUSTOM(check_egress_protocol) },
};

static const struct mesh__schema egress_port = { "Port", MESH_FIELDS(egress_port_fields), NULL, 0 };

static const struct mesh__field egress_rule_fields[] = {
	{ .name = "destination",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_REQUIRED,
	  .sub = &egress_destination },
	{ .name = "ports",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_LIST | MESH_F_REQUIRED,
	  .sub = &egress_port },
	{ .name = "useEgressProxy", .type = MESH_FT_BOOL },
};

static void egress_rule_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *dest = mesh__node_field(obj, "destination"),
				*ports = mesh__node_field(obj, "ports");
	const struct mesh__node *n;
	const char *svc =
		dest && dest->type == MESH_NODE_MAP ? mesh__node_field_str(dest, "service") : NULL;
	bool cidr = svc && strchr(svc, '/');
	char rel[48];

	for (size_t i = 0; ports && ports->type == MESH_NODE_SEQ && i < ports->count; i++) {
		const struct mesh__node *p = ports->u.items[i];
		const struct mesh__node *num = mesh__node_field(p, "port");
		const char *proto = mesh__node_field_str(p, "protocol");
		int64_t x, y;
		if (mesh__node_int_loose(num, &x)) {
			for (size_t j = 0; j < i; j++) {
				const struct mesh__node *prev =
					mesh__node_field(ports->u.items[j], "port");
				if (mesh__node_int_loose(prev, &y) && x == y) {
					snprintf(rel, sizeof(rel), ".ports[%zu].port", i);
					mesh__v_error(v, num, rel, "duplicate port %lld",
					              (long long)x);
					break;
				}
			}
		}
		/* a CIDR destination has no host name to route on: TCP only */
		if (cidr && proto && is_egress_protocol(proto) && strcasecmp(proto, "TCP") &&
		    strcasecmp(proto, "MONGO")) {
			snprintf(rel, sizeof(rel), ".ports[%zu].protocol", i);
			mesh__v_error(
				v, mesh__node_field(p, "protocol"), rel,
				"protocol \"%s\" is not allowed with a CIDR destination; use TCP or "
				"MONGO",
				proto);
		}
	}
	n = mesh__node_field(obj, "useEgressProxy");
	if (is_true(n))
		mesh__v_error(v, n, ".useEgressProxy", "useEgressProxy is not supported");
}

const struct mesh__schema mesh__schema_egress_rule = { "EgressRule",
	                                               MESH_FIELDS(egress_rule_fields),
	                                               egress_rule_check, 0 };
