/*
 * schema_networking.c - spec schemas of networking.istio.io (v1alpha3,
 * v1beta1, v1): VirtualService, DestinationRule, ServiceEntry, WorkloadEntry,
 * Gateway and Sidecar. Field lists follow istio/api; the check() functions
 * enforce the cross-field rules of Istio's own validation
 * (pkg/config/validation), so that config Istio accepts is accepted here.
 * Two rules are stricter on purpose: split weights must sum to 100 (Istio
 * today only refuses a total of 0) and status codes stop at 599 (Istio lets
 * 600 through).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "schema.h"

/* A scalar check function as a field's sub pointer (type-checked). */

#define I32_MAX 2147483647LL
#define U32_MAX 4294967295LL

/* ---- reading the parse tree ---- */

static bool is_string(const struct mesh__node *n)
{
	return n && n->type == MESH_NODE_SCALAR && n->scalar == MESH_SCALAR_STRING;
}

static bool is_map(const struct mesh__node *n)
{
	return n && n->type == MESH_NODE_MAP;
}

/* A non-empty string field (protobuf treats "" as unset). */
static bool has_str(const struct mesh__node *obj, const char *key)
{
	const char *s = mesh__node_field_str(obj, key);
	return s && *s;
}

static size_t list_len(const struct mesh__node *n)
{
	return (n && n->type == MESH_NODE_SEQ) ? n->count : 0;
}

/* Set as protobuf sees it: a non-empty list or string, or any other value. */
static bool is_set(const struct mesh__node *obj, const char *key)
{
	const struct mesh__node *n = mesh__node_field(obj, key);
	if (!n)
		return false;
	if (n->type == MESH_NODE_SEQ || is_string(n))
		return n->count > 0;
	return true;
}

static bool get_int(const struct mesh__node *obj, const char *key, int64_t *out)
{
	return mesh__node_int_loose(mesh__node_field(obj, key), out);
}

static bool get_bool(const struct mesh__node *obj, const char *key)
{
	const struct mesh__node *n = mesh__node_field(obj, key);
	return n && n->type == MESH_NODE_SCALAR && n->scalar == MESH_SCALAR_BOOL &&
	       (n->u.str[0] == 't' || n->u.str[0] == 'T');
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* The text of a scalar check's value, or NULL after reporting a type error. */
static const char *want_str(struct mesh__vctx *v, const struct mesh__node *n, const char *what)
{
	if (is_string(n))
		return n->u.str;
	if (n->type == MESH_NODE_SCALAR)
		mesh__v_error(v, n, NULL, "expected %s, got %s (quote it: \"%s\")", what, n->u.str,
		              n->u.str);
	else
		mesh__v_error(v, n, NULL, "expected %s, got %s", what,
		              n->type == MESH_NODE_MAP ? "a mapping" : "a list");
	return NULL;
}

/* ---- names, hosts and addresses, as Istio checks them ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* labels.IsDNS1123Label: Istio allows upper case letters. */
static const char *dns_label_error(const char *s)
{
	size_t len = strlen(s);
	if (len == 0)
		return "must not be empty";
	if (len > 63)
		return "must be at most 63 characters";
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return "only letters, digits and '-' are allowed";
	if (s[0] == '-' || s[len - 1] == '-')
		return "must start and end with a letter or digit";
	return NULL;
}

/* ValidateWildcardDomain: a host, "*" or "*.suffix"; a dotted name must not
 * end in an all-digit label. */
static const char *host_error(const char *s, bool allow_wildcard)
{
	const char *err = mesh__check_host(s, allow_wildcard);
	if (err)
		return err;
	const char *dot = strrchr(s, '.');
	if (dot && all_digits(dot + 1))
		return "the last label must not be all digits";
	return NULL;
}

/* ValidateFQDN: no wildcard, and the last label is not all digits. */
static const char *fqdn_error(const char *s)
{
	const char *err = mesh__check_host(s, false);
	if (err)
		return err;
	const char *dot = strrchr(s, '.');
	if (all_digits(dot ? dot + 1 : s))
		return "the last label must not be all digits";
	return NULL;
}

static bool is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* ValidateUnixAddress, for the part after "unix://". */
static const char *unix_path_error(const char *path)
{
	size_t len = strlen(path);
	if (len == 0)
		return "the socket path must not be empty";
	if (path[0] == '@')
		return NULL; /* Linux abstract socket */
	if (path[0] != '/' || path[len - 1] == '/')
		return "the socket path must be an absolute file path";
	return NULL;
}

/* host.Name.Matches: do two (possibly wildcard) hosts overlap? */
static bool host_matches(const char *a, const char *b)
{
	if (a[0] == '*' && b[0] == '*')
		return strlen(a) < strlen(b) ? ends_with(b + 1, a + 1) : ends_with(a + 1, b + 1);
	if (a[0] == '*')
		return ends_with(b, a + 1);
	if (b[0] == '*')
		return ends_with(a, b + 1);
	return !strcmp(a, b);
}

/* host.Name.SubsetOf: is every host @a names also named by @b? */
static bool host_subset_of(const char *a, const char *b)
{
	if (a[0] == '*')
		return b[0] == '*' && ends_with(a + 1, b + 1);
	if (b[0] == '*')
		return ends_with(a, b + 1);
	return !strcmp(a, b);
}

/* protocol.Parse: port protocols, case-insensitive. */
enum protocol {
	PROTO_UNSUPPORTED,
	PROTO_HTTP,
	PROTO_HTTP2,
	PROTO_HTTP_PROXY,
	PROTO_GRPC,
	PROTO_GRPC_WEB,
	PROTO_HTTPS,
	PROTO_TLS,
	PROTO_TCP,
	PROTO_UDP,
	PROTO_MONGO,
	PROTO_REDIS,
	PROTO_MYSQL,
};

static int parse_protocol(const char *s)
{
	static const struct {
		const char *name;
		int proto;
	} protos[] = {
		{ "HTTP", PROTO_HTTP },
		{ "HTTP2", PROTO_HTTP2 },
		{ "HTTP_PROXY", PROTO_HTTP_PROXY },
		{ "GRPC", PROTO_GRPC },
		{ "GRPC-WEB", PROTO_GRPC_WEB },
		{ "HTTPS", PROTO_HTTPS },
		{ "TLS", PROTO_TLS },
		{ "TCP", PROTO_TCP },
		{ "UDP", PROTO_UDP },
		{ "MONGO", PROTO_MONGO },
		{ "REDIS", PROTO_REDIS },
		{ "MYSQL", PROTO_MYSQL },
	};
	for (size_t i = 0; s && i < MESH_ARRAY_LEN(protos); i++)
		if (!strcasecmp(s, protos[i].name))
			return protos[i].proto;
	return PROTO_UNSUPPORTED;
}

static bool proto_is_http(int p)
{
	return p == PROTO_HTTP || p == PROTO_HTTP2 || p == PROTO_HTTP_PROXY || p == PROTO_GRPC ||
	       p == PROTO_GRPC_WEB;
}

static bool proto_is_tls(int p)
{
	return p == PROTO_HTTPS || p == PROTO_TLS;
}

/* ---- scalar checks ---- */

/* agent.ValidateDuration: at least 1ms, in whole milliseconds. */
static void check_ms_duration(struct mesh__vctx *v, const struct mesh__node *n)
{
	int64_t ns;
	if (!mesh__v_duration(v, n, NULL, &ns))
		return;
	if (ns < 1000000)
		mesh__v_error(v, n, NULL, "duration must be at least 1ms, got \"%s\"", n->u.str);
	else if (ns % 1000000)
		mesh__v_error(v, n, NULL,
		              "duration must be a whole number of milliseconds, got \"%s\"",
		              n->u.str);
}

/* CorsPolicy.maxAge: a duration in whole seconds. */
static void check_max_age(struct mesh__vctx *v, const struct mesh__node *n)
{
	int64_t ns;
	if (!mesh__v_duration(v, n, NULL, &ns))
		return;
	if (ns < 1000000)
		mesh__v_error(v, n, NULL, "duration must be at least 1ms, got \"%s\"", n->u.str);
	else if (ns % 1000000000)
		mesh__v_error(v, n, NULL, "maxAge must be a whole number of seconds, got \"%s\"",
		              n->u.str);
}

static void check_port_name(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a port name");
	const char *err = s ? dns_label_error(s) : NULL;
	if (err)
		mesh__v_error(v, n, NULL, "invalid port name \"%s\": %s", s, err);
}

static void check_subset_name(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a subset name");
	const char *err = s ? dns_label_error(s) : NULL;
	if (err)
		mesh__v_error(v, n, NULL, "invalid subset name \"%s\": %s", s, err);
}

static void check_source_namespace(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a namespace name");
	const char *err = s ? dns_label_error(s) : NULL;
	if (err)
		mesh__v_error(v, n, NULL, "invalid sourceNamespace \"%s\": %s", s, err);
}

/* ValidateProtocol: "" means protocol sniffing. */
static void check_protocol(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a protocol name");
	if (s && *s && parse_protocol(s) == PROTO_UNSUPPORTED)
		mesh__v_error(
			v, n, NULL,
			"unsupported protocol \"%s\"; expected one of HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, HTTP_PROXY, TCP, TLS, UDP, MONGO, MYSQL, REDIS",
			s);
}

/* A Gateway port's protocol may not be left to sniffing. */
static void check_server_protocol(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a protocol name");
	if (s && !*s)
		mesh__v_error(
			v, n, NULL,
			"protocol must not be empty; expected one of HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, MYSQL, REDIS");
	else if (s)
		check_protocol(v, n);
}

/* Destination.host: any host but "*". */
static void check_destination_host(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a host name");
	if (!s)
		return;
	if (!strcmp(s, "*")) {
		mesh__v_error(v, n, NULL, "destination host must not be \"*\"; name a service");
		return;
	}
	const char *err = host_error(s, true);
	if (err)
		mesh__v_error(v, n, NULL, "invalid host \"%s\": %s", s, err);
}

/* DestinationRule.host: a host, "*" and "*.suffix" allowed. */
static void check_wildcard_host(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a host name");
	const char *err = s ? host_error(s, true) : NULL;
	if (err)
		mesh__v_error(v, n, NULL, "invalid host \"%s\": %s", s, err);
}

/* TunnelSettings.targetHost: an FQDN or an IP address. */
static void check_fqdn_or_ip(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a host name or IP address");
	if (!s || is_ip(s))
		return;
	const char *err = fqdn_error(s);
	if (err)
		mesh__v_error(v, n, NULL,
		              "invalid host \"%s\": expected an FQDN or IP address (%s)", s, err);
}

/* validateGatewayNames: "mesh", "name", "namespace/name" or the legacy
 * "name.namespace[.svc.cluster.local]". */
static void check_gateway_name(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a gateway name");
	if (!s)
		return;
	const char *slash = strchr(s, '/');
	if (!slash) {
		const char *err = fqdn_error(s);
		if (err) {
			mesh__v_error(v, n, NULL, "invalid gateway \"%s\": %s", s, err);
			return;
		}
		const char *dot = strchr(s, '.');
		if (dot) {
			const char *ns = dot + 1;
			const char *end = strchr(ns, '.');
			int nslen = end ? (int)(end - ns) : (int)strlen(ns);
			mesh__v_warn(
				v, n, NULL,
				"gateway \"%s\" uses the legacy name.namespace form; prefer \"%.*s/%.*s\"",
				s, nslen, ns, (int)(dot - s), s);
		}
		return;
	}
	char ns[64];
	size_t nslen = (size_t)(slash - s);
	const char *name = slash + 1;
	if (nslen == 0 || !*name) {
		mesh__v_error(v, n, NULL,
		              "invalid gateway \"%s\": namespace and name must not be empty", s);
		return;
	}
	if (nslen >= sizeof(ns)) {
		mesh__v_error(v, n, NULL,
		              "invalid gateway \"%s\": namespace must be at most 63 characters", s);
		return;
	}
	memcpy(ns, s, nslen);
	ns[nslen] = '\0';
	const char *err = dns_label_error(ns);
	if (err) {
		mesh__v_error(v, n, NULL, "invalid gateway \"%s\": namespace \"%s\" %s", s, ns,
		              err);
		return;
	}
	err = dns_label_error(name);
	if (err)
		mesh__v_error(v, n, NULL, "invalid gateway \"%s\": name \"%s\" %s", s, name, err);
}

/* The dnsName part of a Gateway or Sidecar host. */
static void check_ns_host_name(struct mesh__vctx *v, const struct mesh__node *n, const char *full,
                               const char *host, bool gateway)
{
	if (strcmp(host, "*") && !strchr(host, '.')) {
		mesh__v_error(
			v, n, NULL,
			"invalid host \"%s\": short names are not allowed, use a fully qualified name",
			full);
		return;
	}
	const char *err = host_error(host, true);
	if (err && !(gateway && is_ip(host)))
		mesh__v_error(v, n, NULL, "invalid host \"%s\": %s", full, err);
}

/* ValidateNamespaceSlashWildcardHostname. */
static void check_ns_host(struct mesh__vctx *v, const struct mesh__node *n, bool gateway)
{
	const char *s = want_str(v, n, "a host such as \"ns/foo.example.com\"");
	if (!s)
		return;
	const char *slash = strchr(s, '/');
	if (!slash) {
		if (gateway)
			check_ns_host_name(v, n, s, s, true);
		else
			mesh__v_error(
				v, n, NULL,
				"invalid host \"%s\": expected namespace/dnsName, such as \"./foo.example.com\" or \"*/*\"",
				s);
		return;
	}
	size_t nslen = (size_t)(slash - s);
	if (nslen == 0 || !slash[1]) {
		mesh__v_error(v, n, NULL,
		              "invalid host \"%s\": namespace and dnsName must not be empty", s);
		return;
	}
	char ns[64];
	if (nslen >= sizeof(ns)) {
		mesh__v_error(v, n, NULL,
		              "invalid host \"%s\": namespace must be at most 63 characters", s);
		return;
	}
	memcpy(ns, s, nslen);
	ns[nslen] = '\0';
	if (strcmp(ns, "*") && strcmp(ns, ".") && (gateway || strcmp(ns, "~")) &&
	    dns_label_error(ns)) {
		if (gateway)
			mesh__v_error(
				v, n, NULL,
				"invalid host \"%s\": namespace must be *, . or a namespace name",
				s);
		else
			mesh__v_error(
				v, n, NULL,
				"invalid host \"%s\": namespace must be *, ., ~ or a namespace name",
				s);
		return;
	}
	check_ns_host_name(v, n, s, slash + 1, gateway);
}

static void check_gateway_host(struct mesh__vctx *v, const struct mesh__node *n)
{
	check_ns_host(v, n, true);
}

static void check_sidecar_host(struct mesh__vctx *v, const struct mesh__node *n)
{
	check_ns_host(v, n, false);
}

/* Header names in matches: letters, digits, '-' and '_', or a JWT claim
 * ("@request.auth.claims.sub", "@request.auth.claims[a][b]"). */
static bool is_jwt_claim(const char *s)
{
	static const char prefix[] = "@request.auth.claims";
	if (strncasecmp(s, prefix, sizeof(prefix) - 1))
		return false;
	const char *rest = s + sizeof(prefix) - 1;
	size_t len = strlen(rest);
	if (rest[0] == '.')
		return len > 1;
	return rest[0] == '[' && rest[len - 1] == ']' && len > 2;
}

static bool is_header_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

/* CorsPolicy allowHeaders / exposeHeaders. */
static void check_cors_header(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a header name");
	if (s && strcmp(s, "*") && !is_header_token(s))
		mesh__v_error(
			v, n, NULL,
			"invalid header name \"%s\": only letters, digits, '-' and '_' are allowed",
			s);
}

/* A regex, or "*" (withoutHeaders: "*" means "header present"). */
static void check_regex_or_star(struct mesh__vctx *v, const struct mesh__node *n)
{
	if (is_string(n) && !strcmp(n->u.str, "*"))
		return;
	mesh__v_regex(v, n, NULL);
}

/* Status codes Go's http.StatusText knows: Istio's test for retryOn codes. */
static bool is_http_status(long c)
{
	static const short codes[] = {
		100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301,
		302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409,
		410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428,
		429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
	};
	for (size_t i = 0; i < MESH_ARRAY_LEN(codes); i++)
		if (codes[i] == c)
			return true;
	return false;
}

/* HTTPRetry.retryOn: a comma list of Envoy retry policies and status codes. */
static void check_retry_on(struct mesh__vctx *v, const struct mesh__node *n)
{
	static const char *const policies[] = {
		"5xx",
		"gateway-error",
		"reset",
		"reset-before-request",
		"connect-failure",
		"retriable-4xx",
		"refused-stream",
		"retriable-status-codes",
		"retriable-headers",
		"envoy-ratelimited",
		"http3-post-connect-failure",
		"cancelled",
		"deadline-exceeded",
		"internal",
		"resource-exhausted",
		"unavailable",
	};
	const char *s = want_str(v, n, "a comma-separated list of retry policies");
	if (!s || !*s)
		return;
	for (const char *p = s;;) {
		size_t len = strcspn(p, ",");
		bool ok = false;
		for (size_t i = 0; i < MESH_ARRAY_LEN(policies) && !ok; i++)
			ok = strlen(policies[i]) == len && !strncmp(policies[i], p, len);
		if (!ok && len > 0 && len < 8 && strspn(p, "0123456789") == len)
			ok = is_http_status(strtol(p, NULL, 10));
		if (!ok)
			mesh__v_error(
				v, n, NULL,
				"invalid retryOn policy \"%.*s\"; expected an HTTP status code or one of 5xx, gateway-error, reset, reset-before-request, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, retriable-headers, envoy-ratelimited, http3-post-connect-failure, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable",
				(int)len, p);
		if (!p[len])
			break;
		p += len + 1;
	}
}

/* Envoy's header value format (Istio's port of header_parser.cc): a '%'
 * is "%%" or starts a %VARIABLE% or %VARIABLE(args)%. */
static const char *header_value_error(const char *s)
{
	enum { LIT, VAR, ARRAY, STR_START, STR, DELIM, ARGS_END, VAR_END } st = LIT;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return "control characters are not allowed";
		switch (st) {
		case LIT:
			if (c != '%')
				break;
			if (!p[1])
				return "a '%' must be written as \"%%\" or start a %VARIABLE%";
			if (p[1] == '%')
				p++;
			else
				st = VAR;
			break;
		case VAR:
			if (c == '%')
				st = LIT;
			else if (c == '(')
				st = ARRAY;
			break;
		case ARRAY:
			if (c == '[')
				st = STR_START;
			else if (c != ' ')
				st = STR;
			break;
		case DELIM:
			if (c == ',')
				st = STR_START;
			else if (c == ']')
				st = ARGS_END;
			else if (c != ' ')
				return "expected ',' or ']' in the variable's arguments";
			break;
		case STR_START:
			if (c == '"')
				st = STR;
			else if (c != ' ')
				return "expected '\"' in the variable's arguments";
			break;
		case STR:
			if (c == '\\') {
				if (!p[1])
					return "unterminated backslash in the variable's arguments";
				p++;
			} else if (c == ')') {
				st = VAR_END;
			} else if (c == '"') {
				st = DELIM;
			}
			break;
		case ARGS_END:
			if (c == ')')
				st = VAR_END;
			else if (c != ' ')
				return "expected ')' after the variable's arguments";
			break;
		case VAR_END:
			if (c == '%')
				st = LIT;
			else if (c != ' ')
				return "expected '%' to close the variable";
			break;
		}
	}
	return st == LIT ? NULL : "unterminated %VARIABLE% expression";
}

/* ---- shared objects ---- */

/* Percent: a double in [0, 100]. */
static const struct mesh__field percent_fields[] = {
	{ "value", MESH_FT_PERCENT, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema percent_schema = { "Percent", MESH_FIELDS(percent_fields), NULL,
	                                            0 };

/* PortSelector of a destination: the number must be a valid port. */
static const struct mesh__field port_selector_fields[] = {
	{ "number", MESH_FT_PORT, MESH_F_REQUIRED, 0, NULL, 0, 0 },
};
static const struct mesh__schema port_selector = { "PortSelector",
	                                           MESH_FIELDS(port_selector_fields), NULL, 0 };

/* PortSelector of a port-level traffic policy: Istio leaves it unchecked. */
static const struct mesh__field policy_port_fields[] = {
	{ "number", MESH_FT_INT, 0, 0, NULL, 0, U32_MAX },
};
static const struct mesh__schema policy_port_selector = { "PortSelector",
	                                                  MESH_FIELDS(policy_port_fields), NULL,
	                                                  0 };

static const struct mesh__field destination_fields[] = {
	{ "host", MESH_FT_CUSTOM, MESH_F_REQUIRED, 0, MESH_CUSTOM(check_destination_host), 0, 0 },
	{ "subset", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_subset_name), 0, 0 },
	{ "port", MESH_FT_OBJECT, 0, 0, &port_selector, 0, 0 },
};
static const struct mesh__schema destination = { "Destination", MESH_FIELDS(destination_fields),
	                                         NULL, 0 };

/* Headers: request and response header operations. */
static const struct mesh__field header_ops_fields[] = {
	{ "set", MESH_FT_STRMAP, 0, 0, NULL, 0, 0 },
	{ "add", MESH_FT_STRMAP, 0, 0, NULL, 0, 0 },
	{ "remove", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
};
static const struct mesh__schema header_ops = { "HeaderOperations", MESH_FIELDS(header_ops_fields),
	                                        NULL, 0 };

static bool is_authority_header(const char *name)
{
	return !strcasecmp(name, ":authority") || !strcasecmp(name, "host");
}

/* ValidateHTTPHeaderWithAuthorityOperationName (request set/add) and
 * ValidateHTTPHeaderOperationName (remove, and every response operation). */
static void check_header_op_name(struct mesh__vctx *v, const struct mesh__node *at, const char *rel,
                                 const char *name, bool may_set_authority)
{
	if (!*name) {
		mesh__v_error(v, at, rel, "header name must not be empty");
		return;
	}
	if (may_set_authority && is_authority_header(name))
		return;
	if (!strcasecmp(name, "host"))
		mesh__v_error(v, at, rel,
		              "invalid header \"%s\": Host can only be set or added on requests",
		              name);
	else if (name[0] == ':')
		mesh__v_error(v, at, rel,
		              "invalid header \"%s\": names starting with ':' cannot be changed",
		              name);
}

static void check_header_ops(struct mesh__vctx *v, const struct mesh__node *headers,
                             const char *which)
{
	static const char *const ops[] = { "set", "add" };
	bool request = !strcmp(which, "request");
	const struct mesh__node *o = mesh__node_field(headers, which);
	char rel[320];
	if (!is_map(o))
		return;
	for (size_t k = 0; k < MESH_ARRAY_LEN(ops); k++) {
		const struct mesh__node *m = mesh__node_field(o, ops[k]);
		for (size_t i = 0; is_map(m) && i < m->count; i++) {
			const struct mesh__node *key = m->u.pairs[i].key,
						*val = m->u.pairs[i].value;
			snprintf(rel, sizeof(rel), ".%s.%s.%s", which, ops[k], key->u.str);
			check_header_op_name(v, key, rel, key->u.str, request);
			const char *err = is_string(val) ? header_value_error(val->u.str) : NULL;
			if (err)
				mesh__v_error(v, val, rel, "invalid header value \"%s\": %s",
				              val->u.str, err);
		}
	}
	const struct mesh__node *rm = mesh__node_field(o, "remove");
	for (size_t i = 0; i < list_len(rm); i++) {
		const struct mesh__node *item = rm->u.items[i];
		if (!is_string(item))
			continue;
		snprintf(rel, sizeof(rel), ".%s.remove[%zu]", which, i);
		check_header_op_name(v, item, rel, item->u.str, false);
	}
}

static void check_headers(struct mesh__vctx *v, const struct mesh__node *obj)
{
	check_header_ops(v, obj, "request");
	check_header_ops(v, obj, "response");
}

static const struct mesh__field headers_fields[] = {
	{ "request", MESH_FT_OBJECT, 0, 0, &header_ops, 0, 0 },
	{ "response", MESH_FT_OBJECT, 0, 0, &header_ops, 0, 0 },
};
static const struct mesh__schema headers_schema = { "Headers", MESH_FIELDS(headers_fields),
	                                            check_headers, 0 };

/*
 * StringMatch {exact | prefix | regex}. Istio's rules differ by use: a uri
 * may match an empty prefix, headers and the like may not, withoutHeaders
 * takes regex "*" for "present", and CORS origins need a non-empty value.
 */
static const struct mesh__field string_match_fields[] = {
	{ "exact", MESH_FT_STRING, 0, 1, NULL, 0, 0 },
	{ "prefix", MESH_FT_STRING, 0, 1, NULL, 0, 0 },
	{ "regex", MESH_FT_REGEX, 0, 1, NULL, 0, 0 },
};

static const struct mesh__field without_match_fields[] = {
	{ "exact", MESH_FT_STRING, 0, 1, NULL, 0, 0 },
	{ "prefix", MESH_FT_STRING, 0, 1, NULL, 0, 0 },
	{ "regex", MESH_FT_CUSTOM, 0, 1, MESH_CUSTOM(check_regex_or_star), 0, 0 },
};

/* validateStringRegexp: Envoy's program-size limit, approximated by length. */
static void check_match_regex(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *re = mesh__node_field(obj, "regex");
	if (!is_string(re))
		return;
	if (re->count == 0)
		mesh__v_error(v, re, ".regex", "regex must not be empty");
	else if (re->count > 1024)
		mesh__v_error(v, re, ".regex", "regex must be at most 1024 characters, got %zu",
		              re->count);
}

static void check_uri_match(struct mesh__vctx *v, const struct mesh__node *obj)
{
	check_match_regex(v, obj);
}

static void check_string_match(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *prefix = mesh__node_field(obj, "prefix");
	if (is_string(prefix) && prefix->count == 0)
		mesh__v_error(v, prefix, ".prefix", "prefix must not be empty");
	check_match_regex(v, obj);
}

static void check_origin_match(struct mesh__vctx *v, const struct mesh__node *obj)
{
	if (!has_str(obj, "exact") && !has_str(obj, "prefix") && !has_str(obj, "regex")) {
		mesh__v_error(v, obj, NULL,
		              "an allowOrigins entry must set a non-empty exact, prefix or regex");
		return;
	}
	check_match_regex(v, obj);
}

static const struct mesh__schema uri_match = { "StringMatch", MESH_FIELDS(string_match_fields),
	                                       check_uri_match, 0 };
static const struct mesh__schema string_match = { "StringMatch", MESH_FIELDS(string_match_fields),
	                                          check_string_match, 0 };
static const struct mesh__schema without_match = { "StringMatch", MESH_FIELDS(without_match_fields),
	                                           check_string_match, 0 };
static const struct mesh__schema origin_match = { "StringMatch", MESH_FIELDS(string_match_fields),
	                                          check_origin_match, 0 };

/* RegexRewrite: used by HTTPRewrite and ConsistentHashLB. */
static void check_regex_rewrite(struct mesh__vctx *v, const struct mesh__node *obj)
{
	if (!has_str(obj, "match"))
		mesh__v_error(v, obj, ".match",
		              "uriRegexRewrite needs both match and rewrite; match is missing");
	if (!has_str(obj, "rewrite"))
		mesh__v_error(v, obj, ".rewrite",
		              "uriRegexRewrite needs both match and rewrite; rewrite is missing");
	const struct mesh__node *re = mesh__node_field(obj, "match");
	if (is_string(re) && re->count > 1024)
		mesh__v_error(v, re, ".match", "regex must be at most 1024 characters, got %zu",
		              re->count);
}

static const struct mesh__field regex_rewrite_fields[] = {
	{ "match", MESH_FT_REGEX, 0, 0, NULL, 0, 0 },
	{ "rewrite", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema regex_rewrite = { "RegexRewrite",
	                                           MESH_FIELDS(regex_rewrite_fields),
	                                           check_regex_rewrite, 0 };

/* Workload selectors: networking's {labels} and type.v1beta1's {matchLabels}. */
static void warn_empty_selector(struct mesh__vctx *v, const struct mesh__node *obj, const char *key)
{
	const struct mesh__node *labels = mesh__node_field(obj, key);
	if (!is_map(labels) || labels->count == 0)
		mesh__v_warn(
			v, obj, NULL,
			"workload selector has no labels; it selects every workload in the namespace");
}

static void check_workload_selector(struct mesh__vctx *v, const struct mesh__node *obj)
{
	warn_empty_selector(v, obj, "labels");
}

static void check_policy_selector(struct mesh__vctx *v, const struct mesh__node *obj)
{
	warn_empty_selector(v, obj, "matchLabels");
}

static const struct mesh__field workload_selector_fields[] = {
	{ "labels", MESH_FT_LABELS, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema workload_selector = { "WorkloadSelector",
	                                               MESH_FIELDS(workload_selector_fields),
	                                               check_workload_selector, 0 };

static const struct mesh__field policy_selector_fields[] = {
	{ "matchLabels", MESH_FT_LABELS, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema policy_selector = { "WorkloadSelector",
	                                             MESH_FIELDS(policy_selector_fields),
	                                             check_policy_selector, 0 };

/* validateExportTo: ".", "*", namespace names, and "~" for ServiceEntry. */
static void check_export_to(struct mesh__vctx *v, const struct mesh__node *obj, bool service_entry,
                            bool dr_with_selector)
{
	const struct mesh__node *list = mesh__node_field(obj, "exportTo");
	size_t n = list_len(list);
	const char *ns = mesh__v_namespace(v);
	bool has_public = false, has_none = false, has_own = false;
	size_t valid = 0;
	char rel[48];
	for (size_t i = 0; i < n; i++) {
		const struct mesh__node *item = list->u.items[i];
		if (!is_string(item))
			continue;
		const char *s = item->u.str;
		const char *key = strcmp(s, ".") ? s : ns;
		snprintf(rel, sizeof(rel), ".exportTo[%zu]", i);
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++) {
			const struct mesh__node *prev = list->u.items[j];
			if (is_string(prev))
				dup = str_eq(strcmp(prev->u.str, ".") ? prev->u.str : ns, key);
		}
		if (dup) {
			if (key != s || !strcmp(s, ns))
				mesh__v_error(
					v, item, rel,
					"duplicate exportTo entry \"%s\": \".\" and the namespace \"%s\" are the same",
					s, ns);
			else
				mesh__v_error(v, item, rel, "duplicate exportTo entry \"%s\"", s);
			continue;
		}
		if (!strcmp(s, "~")) {
			if (!service_entry) {
				mesh__v_error(v, item, rel,
				              "exportTo \"~\" is only allowed in a ServiceEntry");
				continue;
			}
			has_none = true;
		} else if (!strcmp(s, "*")) {
			has_public = true;
		} else if (strcmp(s, ".") && dns_label_error(s)) {
			mesh__v_error(
				v, item, rel,
				"invalid exportTo entry \"%s\": expected \".\", \"*\" or a namespace name",
				s);
			continue;
		}
		valid++;
		if (!strcmp(key, ns))
			has_own = true;
	}
	if (dr_with_selector && valid > 0 && (!has_own || valid > 1))
		mesh__v_error(
			v, list, ".exportTo",
			"a DestinationRule with a workloadSelector can only be exported to its own namespace");
	if (has_public && n > 1)
		mesh__v_error(v, list, ".exportTo",
		              "exportTo \"*\" cannot be combined with other entries");
	if (has_none && n > 1)
		mesh__v_error(v, list, ".exportTo",
		              "exportTo \"~\" cannot be combined with other entries");
}

/*
 * Traffic split: with more than one destination the weights must sum to 100.
 * Reported at the last destination that has a weight (or the last one).
 */
static void check_weights(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *route = mesh__node_field(obj, "route");
	size_t n = list_len(route);
	if (n < 2)
		return;
	int64_t sum = 0;
	const struct mesh__node *last = NULL;
	size_t last_i = 0, unweighted = n;
	for (size_t i = 0; i < n; i++) {
		const struct mesh__node *w = mesh__node_field(route->u.items[i], "weight");
		int64_t x;
		if (!w) {
			if (unweighted == n)
				unweighted = i;
			continue;
		}
		if (!mesh__node_int_loose(w, &x))
			return; /* already reported as a type error */
		sum += x;
		last = w;
		last_i = i;
	}
	if (sum == 100)
		return;
	char rel[48];
	if (last && unweighted < n) {
		/* the mistake is most likely the destination that has no weight */
		snprintf(rel, sizeof(rel), ".route[%zu]", unweighted);
		mesh__v_error(v, route->u.items[unweighted], rel,
		              "route[%zu] has no weight; weights must sum to 100, got %lld",
		              unweighted, (long long)sum);
		return;
	}
	if (last) {
		snprintf(rel, sizeof(rel), ".route[%zu].weight", last_i);
	} else {
		last = route->u.items[n - 1];
		snprintf(rel, sizeof(rel), ".route[%zu]", n - 1);
	}
	mesh__v_error(v, last, rel, "weights must sum to 100, got %lld", (long long)sum);
}

/* ---- VirtualService ---- */

static void check_http_match(struct mesh__vctx *v, const struct mesh__node *obj)
{
	static const char *const maps[] = { "headers", "withoutHeaders" };
	char rel[320];
	for (size_t k = 0; k < MESH_ARRAY_LEN(maps); k++) {
		const struct mesh__node *m = mesh__node_field(obj, maps[k]);
		for (size_t i = 0; is_map(m) && i < m->count; i++) {
			const struct mesh__node *key = m->u.pairs[i].key,
						*val = m->u.pairs[i].value;
			const char *name = key->u.str;
			snprintf(rel, sizeof(rel), ".%s.%s", maps[k], name);
			if (!*name)
				mesh__v_error(v, key, rel, "header name must not be empty");
			else if (!is_jwt_claim(name) && !is_header_token(name))
				mesh__v_error(
					v, key, rel,
					"invalid header name \"%s\": only letters, digits, '-' and '_' are allowed",
					name);
			if (k == 0 && val->type == MESH_NODE_NULL)
				mesh__v_error(
					v, key, rel,
					"header match \"%s\" must not be null; use {} to match on presence",
					name);
		}
	}
}

static const struct mesh__field http_match_fields[] = {
	{ "name", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "uri", MESH_FT_OBJECT, 0, 0, &uri_match, 0, 0 },
	{ "scheme", MESH_FT_OBJECT, 0, 0, &string_match, 0, 0 },
	{ "method", MESH_FT_OBJECT, 0, 0, &string_match, 0, 0 },
	{ "authority", MESH_FT_OBJECT, 0, 0, &string_match, 0, 0 },
	{ "headers", MESH_FT_MAP, 0, 0, &string_match, 0, 0 },
	{ "port", MESH_FT_INT, 0, 0, NULL, 0, 65535 },
	{ "sourceLabels", MESH_FT_LABELS, 0, 0, NULL, 0, 0 },
	{ "gateways", MESH_FT_CUSTOM, MESH_F_LIST, 0, MESH_CUSTOM(check_gateway_name), 0, 0 },
	{ "queryParams", MESH_FT_MAP, 0, 0, &string_match, 0, 0 },
	{ "ignoreUriCase", MESH_FT_BOOL, 0, 0, NULL, 0, 0 },
	{ "withoutHeaders", MESH_FT_MAP, 0, 0, &without_match, 0, 0 },
	{ "sourceNamespace", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_source_namespace), 0, 0 },
	{ "statPrefix", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema http_match = { "HTTPMatchRequest", MESH_FIELDS(http_match_fields),
	                                        check_http_match, 0 };

static const struct mesh__field http_route_dest_fields[] = {
	{ "destination", MESH_FT_OBJECT, MESH_F_REQUIRED, 0, &destination, 0, 0 },
	{ "weight", MESH_FT_INT, 0, 0, NULL, 0, I32_MAX },
	{ "headers", MESH_FT_OBJECT, 0, 0, &headers_schema, 0, 0 },
};
static const struct mesh__schema http_route_dest = { "HTTPRouteDestination",
	                                             MESH_FIELDS(http_route_dest_fields), NULL, 0 };

static void check_redirect(struct mesh__vctx *v, const struct mesh__node *obj)
{
	if (!has_str(obj, "uri") && !has_str(obj, "authority") && !has_str(obj, "scheme") &&
	    !mesh__node_field(obj, "port") && !mesh__node_field(obj, "derivePort"))
		mesh__v_error(v, obj, NULL,
		              "redirect must set uri, authority, scheme, port or derivePort");
	const struct mesh__node *code = mesh__node_field(obj, "redirectCode");
	int64_t c;
	if (mesh__node_int_loose(code, &c) && c != 0 && (c < 300 || c > 399))
		mesh__v_error(v, code, ".redirectCode",
		              "redirectCode must be between 300 and 399, got %lld", (long long)c);
}

static const char *const redirect_schemes[] = { "http", "https", NULL };
static const char *const derive_ports[] = { "FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT", NULL };

static const struct mesh__field redirect_fields[] = {
	{ "uri", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "authority", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "port", MESH_FT_PORT, 0, 1, NULL, 0, 0 },
	{ "derivePort", MESH_FT_ENUM, 0, 1, derive_ports, 0, 0 },
	{ "scheme", MESH_FT_ENUM, 0, 0, redirect_schemes, 0, 0 },
	{ "redirectCode", MESH_FT_INT, 0, 0, NULL, 0, U32_MAX },
};
static const struct mesh__schema redirect = { "HTTPRedirect", MESH_FIELDS(redirect_fields),
	                                      check_redirect, 0 };

/* HTTPBody.bytes: base64, standard or URL-safe, padding optional. */
static void check_body(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *b = mesh__node_field(obj, "bytes");
	if (!is_string(b))
		return;
	size_t len = strspn(b->u.str,
	                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_");
	size_t pad = strspn(b->u.str + len, "=");
	if (b->u.str[len + pad] || pad > 2)
		mesh__v_error(v, b, ".bytes", "bytes must be base64-encoded");
}

static const struct mesh__field body_fields[] = {
	{ "string", MESH_FT_STRING, 0, 1, NULL, 0, 0 },
	{ "bytes", MESH_FT_STRING, 0, 1, NULL, 0, 0 },
};
static const struct mesh__schema http_body = { "HTTPBody", MESH_FIELDS(body_fields), check_body,
	                                       0 };

static void check_direct_response(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *status = mesh__node_field(obj, "status");
	int64_t s;
	if (mesh__node_int_loose(status, &s) && (s < 200 || s > 599))
		mesh__v_error(v, status, ".status", "status must be between 200 and 599, got %lld",
		              (long long)s);
	const struct mesh__node *body = mesh__node_field(obj, "body");
	const struct mesh__node *text = mesh__node_field(body, "string"),
				*bytes = mesh__node_field(body, "bytes");
	size_t size = 0;
	if (is_string(text))
		size = text->count;
	else if (is_string(bytes))
		size = bytes->count / 4 * 3;
	if (size > 1024 * 1024)
		mesh__v_error(v, body, ".body", "body must be at most 1MB, got %zu bytes", size);
	else if (size > 100 * 1024)
		mesh__v_warn(
			v, body, ".body",
			"a body of %zu bytes may slow the control plane down; keep it under 100KB",
			size);
}

static const struct mesh__field direct_response_fields[] = {
	{ "status", MESH_FT_INT, MESH_F_REQUIRED, 0, NULL, 0, U32_MAX },
	{ "body", MESH_FT_OBJECT, 0, 0, &http_body, 0, 0 },
};
static const struct mesh__schema direct_response = { "HTTPDirectResponse",
	                                             MESH_FIELDS(direct_response_fields),
	                                             check_direct_response, 0 };

static const struct mesh__field delegate_fields[] = {
	{ "name", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "namespace", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema delegate = { "Delegate", MESH_FIELDS(delegate_fields), NULL, 0 };

static void check_rewrite(struct mesh__vctx *v, const struct mesh__node *obj)
{
	if (!has_str(obj, "uri") && !mesh__node_field(obj, "uriRegexRewrite") &&
	    !has_str(obj, "authority"))
		mesh__v_error(v, obj, NULL, "rewrite must set uri, uriRegexRewrite or authority");
}

static const struct mesh__field rewrite_fields[] = {
	{ "uri", MESH_FT_STRING, 0, 1, NULL, 0, 0 },
	{ "authority", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "uriRegexRewrite", MESH_FT_OBJECT, 0, 1, &regex_rewrite, 0, 0 },
};
static const struct mesh__schema rewrite = { "HTTPRewrite", MESH_FIELDS(rewrite_fields),
	                                     check_rewrite, 0 };

/* validateHTTPRetry: with attempts 0 (the default) retries are off, and
 * Istio refuses the settings that would then be ignored. */
static void check_retry(struct mesh__vctx *v, const struct mesh__node *obj)
{
	int64_t attempts = 0;
	const struct mesh__node *a = mesh__node_field(obj, "attempts");
	if (a && !mesh__node_int_loose(a, &attempts))
		return;
	if (attempts == 0 && (mesh__node_field(obj, "perTryTimeout") || has_str(obj, "retryOn") ||
	                      mesh__node_field(obj, "retryRemoteLocalities")))
		mesh__v_error(
			v, a ? a : obj, a ? ".attempts" : NULL,
			"perTryTimeout, retryOn and retryRemoteLocalities need attempts above 0 (attempts 0 disables retries)");
}

static const struct mesh__field retry_fields[] = {
	{ "attempts", MESH_FT_INT, 0, 0, NULL, 0, I32_MAX },
	{ "perTryTimeout", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "retryOn", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_retry_on), 0, 0 },
	{ "retryRemoteLocalities", MESH_FT_BOOL, 0, 0, NULL, 0, 0 },
	{ "retryIgnorePreviousHosts", MESH_FT_BOOL, 0, 0, NULL, 0, 0 },
	{ "backoff", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
};
static const struct mesh__schema retry = { "HTTPRetry", MESH_FIELDS(retry_fields), check_retry, 0 };

/* validatePercentage: 0, or at least 0.0001 (Envoy's precision). */
static void check_fault_percentage(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *val =
		mesh__node_field(mesh__node_field(obj, "percentage"), "value");
	double d;
	if (mesh__node_double(val, &d) && d > 0 && d < 0.0001)
		mesh__v_error(v, val, ".percentage.value",
		              "percentage must be 0 or at least 0.0001, got %s", val->u.str);
}

static void check_delay(struct mesh__vctx *v, const struct mesh__node *obj)
{
	check_fault_percentage(v, obj);
	const struct mesh__node *exp = mesh__node_field(obj, "exponentialDelay");
	if (exp)
		mesh__v_error(v, exp, ".exponentialDelay",
		              "exponentialDelay is not supported; use fixedDelay");
}

static const struct mesh__field delay_fields[] = {
	{ "percent", MESH_FT_INT, MESH_F_DEPRECATED, 0, NULL, 0, 100 },
	{ "fixedDelay", MESH_FT_CUSTOM, 0, 1, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "exponentialDelay", MESH_FT_CUSTOM, 0, 1, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "percentage", MESH_FT_OBJECT, 0, 0, &percent_schema, 0, 0 },
};
static const struct mesh__schema delay = { "Delay", MESH_FIELDS(delay_fields), check_delay, 0 };

static void check_abort(struct mesh__vctx *v, const struct mesh__node *obj)
{
	check_fault_percentage(v, obj);
	const struct mesh__node *status = mesh__node_field(obj, "httpStatus");
	int64_t s;
	if (mesh__node_int_loose(status, &s) && (s < 200 || s > 599))
		mesh__v_error(v, status, ".httpStatus",
		              "httpStatus must be between 200 and 599, got %lld", (long long)s);
	const struct mesh__node *h2 = mesh__node_field(obj, "http2Error");
	if (h2)
		mesh__v_error(v, h2, ".http2Error",
		              "http2Error aborts are not supported; use httpStatus or grpcStatus");
	if (!status && !h2 && !mesh__node_field(obj, "grpcStatus"))
		mesh__v_warn(v, obj, NULL,
		             "abort sets no httpStatus or grpcStatus; it has no effect");
}

static const char *const grpc_statuses[] = {
	"OK",
	"CANCELLED",
	"UNKNOWN",
	"INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED",
	"NOT_FOUND",
	"ALREADY_EXISTS",
	"PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION",
	"ABORTED",
	"OUT_OF_RANGE",
	"UNIMPLEMENTED",
	"INTERNAL",
	"UNAVAILABLE",
	"DATA_LOSS",
	"UNAUTHENTICATED",
	NULL,
};

static const struct mesh__field abort_fields[] = {
	{ "httpStatus", MESH_FT_INT, 0, 1, NULL, -I32_MAX - 1, I32_MAX },
	{ "grpcStatus", MESH_FT_ENUM, 0, 1, grpc_statuses, 0, 0 },
	{ "http2Error", MESH_FT_STRING, 0, 1, NULL, 0, 0 },
	{ "percentage", MESH_FT_OBJECT, 0, 0, &percent_schema, 0, 0 },
};
static const struct mesh__schema abort_schema = { "Abort", MESH_FIELDS(abort_fields), check_abort,
	                                          0 };

static void check_fault(struct mesh__vctx *v, const struct mesh__node *obj)
{
	if (!mesh__node_field(obj, "delay") && !mesh__node_field(obj, "abort"))
		mesh__v_error(v, obj, NULL, "fault must set delay, abort or both");
}

static const struct mesh__field fault_fields[] = {
	{ "delay", MESH_FT_OBJECT, 0, 0, &delay, 0, 0 },
	{ "abort", MESH_FT_OBJECT, 0, 0, &abort_schema, 0, 0 },
};
static const struct mesh__schema fault = { "HTTPFaultInjection", MESH_FIELDS(fault_fields),
	                                   check_fault, 0 };

static const struct mesh__field mirror_policy_fields[] = {
	{ "destination", MESH_FT_OBJECT, MESH_F_REQUIRED, 0, &destination, 0, 0 },
	{ "percentage", MESH_FT_OBJECT, 0, 0, &percent_schema, 0, 0 },
};
static const struct mesh__schema mirror_policy = { "HTTPMirrorPolicy",
	                                           MESH_FIELDS(mirror_policy_fields), NULL, 0 };

static const char *const http_methods[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", NULL,
};
static const char *const unmatched_preflights[] = { "UNSPECIFIED", "FORWARD", "IGNORE", NULL };

static const struct mesh__field cors_fields[] = {
	{ "allowOrigin", MESH_FT_STRING, MESH_F_LIST | MESH_F_DEPRECATED, 0, NULL, 0, 0 },
	{ "allowOrigins", MESH_FT_OBJECT, MESH_F_LIST, 0, &origin_match, 0, 0 },
	{ "allowMethods", MESH_FT_ENUM, MESH_F_LIST, 0, http_methods, 0, 0 },
	{ "allowHeaders", MESH_FT_CUSTOM, MESH_F_LIST, 0, MESH_CUSTOM(check_cors_header), 0, 0 },
	{ "exposeHeaders", MESH_FT_CUSTOM, MESH_F_LIST, 0, MESH_CUSTOM(check_cors_header), 0, 0 },
	{ "maxAge", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_max_age), 0, 0 },
	{ "allowCredentials", MESH_FT_BOOL, 0, 0, NULL, 0, 0 },
	{ "unmatchedPreflights", MESH_FT_ENUM, 0, 0, unmatched_preflights, 0, 0 },
};
static const struct mesh__schema cors = { "CorsPolicy", MESH_FIELDS(cors_fields), NULL, 0 };

/* validateAuthorityRewrite: the authority may be rewritten in one place only. */
static void check_authority_once(struct mesh__vctx *v, const struct mesh__node *obj)
{
	static const char *const ops[] = { "set", "add" };
	const char *current = mesh__node_field_str(mesh__node_field(obj, "rewrite"), "authority");
	const char *where = "rewrite.authority";
	char rel[320];
	for (size_t k = 0; k < MESH_ARRAY_LEN(ops); k++) {
		const struct mesh__node *m = mesh__node_field(
			mesh__node_field(mesh__node_field(obj, "headers"), "request"), ops[k]);
		for (size_t i = 0; is_map(m) && i < m->count; i++) {
			const struct mesh__node *key = m->u.pairs[i].key,
						*val = m->u.pairs[i].value;
			if (!is_authority_header(key->u.str))
				continue;
			if (current && *current) {
				snprintf(rel, sizeof(rel), ".headers.request.%s.%s", ops[k],
				         key->u.str);
				mesh__v_error(
					v, key, rel,
					"the authority is already set by %s; set it in one place only",
					where);
				return;
			}
			current = is_string(val) ? val->u.str : NULL;
			where = k ? "headers.request.add" : "headers.request.set";
		}
	}
}

/* validateHTTPRouteConflict (route/redirect/directResponse are one-of group 1). */
static void check_http_route(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *redir = mesh__node_field(obj, "redirect"),
				*direct = mesh__node_field(obj, "directResponse");
	bool route = is_set(obj, "route");
	if (mesh__node_field(obj, "delegate")) {
		if (redir)
			mesh__v_error(v, redir, ".redirect",
			              "redirect cannot be used with delegate");
		if (route)
			mesh__v_error(v, mesh__node_field(obj, "route"), ".route",
			              "route cannot be used with delegate");
	} else if (redir || direct) {
		const char *what = redir ? "redirect" : "directResponse";
		const struct mesh__node *f = mesh__node_field(obj, "fault"),
					*rw = mesh__node_field(obj, "rewrite");
		if (f)
			mesh__v_error(v, f, ".fault", "fault cannot be used with %s", what);
		if (rw)
			mesh__v_error(v, rw, ".rewrite", "rewrite cannot be used with %s", what);
	} else if (!route) {
		mesh__v_error(v, obj, NULL,
		              "one of route, redirect, directResponse or delegate is required");
	}
	check_weights(v, obj);
	check_authority_once(v, obj);
}

static const struct mesh__field http_route_fields[] = {
	{ "name", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "match", MESH_FT_OBJECT, MESH_F_LIST, 0, &http_match, 0, 0 },
	{ "route", MESH_FT_OBJECT, MESH_F_LIST, 1, &http_route_dest, 0, 0 },
	{ "redirect", MESH_FT_OBJECT, 0, 1, &redirect, 0, 0 },
	{ "directResponse", MESH_FT_OBJECT, 0, 1, &direct_response, 0, 0 },
	{ "delegate", MESH_FT_OBJECT, 0, 0, &delegate, 0, 0 },
	{ "rewrite", MESH_FT_OBJECT, 0, 0, &rewrite, 0, 0 },
	{ "timeout", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "retries", MESH_FT_OBJECT, 0, 0, &retry, 0, 0 },
	{ "fault", MESH_FT_OBJECT, 0, 0, &fault, 0, 0 },
	{ "mirror", MESH_FT_OBJECT, 0, 2, &destination, 0, 0 },
	{ "mirrors", MESH_FT_OBJECT, MESH_F_LIST, 2, &mirror_policy, 0, 0 },
	{ "mirrorPercent", MESH_FT_INT, MESH_F_DEPRECATED, 0, NULL, 0, 100 },
	{ "mirrorPercentage", MESH_FT_OBJECT, 0, 0, &percent_schema, 0, 0 },
	{ "corsPolicy", MESH_FT_OBJECT, 0, 0, &cors, 0, 0 },
	{ "headers", MESH_FT_OBJECT, 0, 0, &headers_schema, 0, 0 },
};
static const struct mesh__schema http_route = { "HTTPRoute", MESH_FIELDS(http_route_fields),
	                                        check_http_route, 0 };

static const struct mesh__field route_dest_fields[] = {
	{ "destination", MESH_FT_OBJECT, MESH_F_REQUIRED, 0, &destination, 0, 0 },
	{ "weight", MESH_FT_INT, 0, 0, NULL, 0, I32_MAX },
};
static const struct mesh__schema route_dest = { "RouteDestination", MESH_FIELDS(route_dest_fields),
	                                        NULL, 0 };

static const struct mesh__field tls_match_fields[] = {
	{ "sniHosts", MESH_FT_STRING, MESH_F_LIST | MESH_F_REQUIRED, 0, NULL, 0, 0 },
	{ "destinationSubnets", MESH_FT_IP, MESH_F_LIST | MESH_F_CIDR, 0, NULL, 0, 0 },
	{ "port", MESH_FT_INT, 0, 0, NULL, 0, 65535 },
	{ "sourceLabels", MESH_FT_LABELS, 0, 0, NULL, 0, 0 },
	{ "gateways", MESH_FT_CUSTOM, MESH_F_LIST, 0, MESH_CUSTOM(check_gateway_name), 0, 0 },
	{ "sourceNamespace", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema tls_match = { "TLSMatchAttributes", MESH_FIELDS(tls_match_fields),
	                                       NULL, 0 };

static const struct mesh__field tls_route_fields[] = {
	{ "match", MESH_FT_OBJECT, MESH_F_LIST | MESH_F_REQUIRED, 0, &tls_match, 0, 0 },
	{ "route", MESH_FT_OBJECT, MESH_F_LIST | MESH_F_REQUIRED, 0, &route_dest, 0, 0 },
};
static const struct mesh__schema tls_route = { "TLSRoute", MESH_FIELDS(tls_route_fields),
	                                       check_weights, 0 };

static const struct mesh__field l4_match_fields[] = {
	{ "destinationSubnets", MESH_FT_IP, MESH_F_LIST | MESH_F_CIDR, 0, NULL, 0, 0 },
	{ "port", MESH_FT_INT, 0, 0, NULL, 0, 65535 },
	{ "sourceSubnet", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "sourceLabels", MESH_FT_LABELS, 0, 0, NULL, 0, 0 },
	{ "gateways", MESH_FT_CUSTOM, MESH_F_LIST, 0, MESH_CUSTOM(check_gateway_name), 0, 0 },
	{ "sourceNamespace", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema l4_match = { "L4MatchAttributes", MESH_FIELDS(l4_match_fields),
	                                      NULL, 0 };

static const struct mesh__field tcp_route_fields[] = {
	{ "match", MESH_FT_OBJECT, MESH_F_LIST, 0, &l4_match, 0, 0 },
	{ "route", MESH_FT_OBJECT, MESH_F_LIST | MESH_F_REQUIRED, 0, &route_dest, 0, 0 },
};
static const struct mesh__schema tcp_route = { "TCPRoute", MESH_FIELDS(tcp_route_fields),
	                                       check_weights, 0 };

static void check_virtual_service(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *hosts = mesh__node_field(obj, "hosts"),
				*gateways = mesh__node_field(obj, "gateways");
	const struct mesh__node *http = mesh__node_field(obj, "http"),
				*tls = mesh__node_field(obj, "tls");
	const struct mesh__node *tcp = mesh__node_field(obj, "tcp");
	size_t nhosts = list_len(hosts), ngw = list_len(gateways);
	char rel[320];

	if (nhosts == 0 && (!hosts || hosts->type == MESH_NODE_SEQ)) {
		/* a delegate VirtualService, used through HTTPRoute.delegate */
		if (ngw)
			mesh__v_error(v, gateways, ".gateways",
			              "a delegate VirtualService (no hosts) must not set gateways");
		if (list_len(tls))
			mesh__v_error(
				v, tls, ".tls",
				"a delegate VirtualService (no hosts) cannot have tls routes");
		if (list_len(tcp))
			mesh__v_error(
				v, tcp, ".tcp",
				"a delegate VirtualService (no hosts) cannot have tcp routes");
		for (size_t i = 0; i < list_len(http); i++) {
			const struct mesh__node *d = mesh__node_field(http->u.items[i], "delegate");
			snprintf(rel, sizeof(rel), ".http[%zu].delegate", i);
			if (d)
				mesh__v_error(
					v, d, rel,
					"a delegate VirtualService (no hosts) cannot delegate again");
		}
	}

	/* bound to gateways only, or (also) to the sidecars of the mesh */
	bool to_gateway = ngw > 0;
	for (size_t i = 0; i < ngw; i++)
		if (is_string(gateways->u.items[i]) && !strcmp(gateways->u.items[i]->u.str, "mesh"))
			to_gateway = false;
	bool sni = false;
	for (size_t i = 0; i < list_len(tls); i++) {
		const struct mesh__node *m = mesh__node_field(tls->u.items[i], "match");
		for (size_t j = 0; j < list_len(m); j++)
			sni = sni || list_len(mesh__node_field(m->u.items[j], "sniHosts"));
	}

	bool hosts_ok = true;
	for (size_t i = 0; i < nhosts; i++) {
		const struct mesh__node *h = hosts->u.items[i];
		if (!is_string(h)) {
			hosts_ok = false;
			continue;
		}
		const char *s = h->u.str;
		/* auto-generated SNI names such as outbound_.80_._.foo.mesh */
		const char *err = (to_gateway && sni && starts_with(s, "outbound_."))
		                          ? NULL
		                          : host_error(s, true);
		snprintf(rel, sizeof(rel), ".hosts[%zu]", i);
		if (err && !is_ip(s)) {
			mesh__v_error(v, h, rel, "invalid host \"%s\": %s", s, err);
			hosts_ok = false;
		} else if (!err && !to_gateway && !strcmp(s, "*")) {
			mesh__v_error(
				v, h, rel,
				"host \"*\" is only allowed when the VirtualService is bound to gateways only (gateways without \"mesh\")");
			hosts_ok = false;
		}
	}
	for (size_t i = 0; hosts_ok && i < nhosts; i++) {
		for (size_t j = i + 1; j < nhosts; j++) {
			const char *a = hosts->u.items[i]->u.str, *b = hosts->u.items[j]->u.str;
			if (!host_matches(a, b))
				continue;
			snprintf(rel, sizeof(rel), ".hosts[%zu]", j);
			if (!strcmp(a, b))
				mesh__v_error(v, hosts->u.items[j], rel, "duplicate host \"%s\"",
				              b);
			else
				mesh__v_error(v, hosts->u.items[j], rel,
				              "host \"%s\" overlaps host \"%s\"", b, a);
		}
	}

	if (!list_len(http) && !list_len(tcp) && !list_len(tls))
		mesh__v_error(v, obj, NULL, "one of http, tcp or tls must be set");

	/* JWT claim routing is a gateway feature */
	for (size_t i = 0; !to_gateway && i < list_len(http); i++) {
		const struct mesh__node *m = mesh__node_field(http->u.items[i], "match");
		for (size_t j = 0; j < list_len(m); j++) {
			static const char *const maps[] = { "headers", "withoutHeaders" };
			for (size_t k = 0; k < MESH_ARRAY_LEN(maps); k++) {
				const struct mesh__node *hm =
					mesh__node_field(m->u.items[j], maps[k]);
				for (size_t p = 0; is_map(hm) && p < hm->count; p++) {
					const struct mesh__node *key = hm->u.pairs[p].key;
					if (!is_jwt_claim(key->u.str))
						continue;
					snprintf(rel, sizeof(rel), ".http[%zu].match[%zu].%s.%s", i,
					         j, maps[k], key->u.str);
					mesh__v_error(
						v, key, rel,
						"JWT claim routing (\"%s\") only works on a VirtualService bound to gateways only",
						key->u.str);
				}
			}
		}
	}

	/* SNI hosts must fall within the VirtualService's hosts */
	for (size_t i = 0; i < list_len(tls); i++) {
		const struct mesh__node *m = mesh__node_field(tls->u.items[i], "match");
		for (size_t j = 0; j < list_len(m); j++) {
			const struct mesh__node *sh = mesh__node_field(m->u.items[j], "sniHosts");
			for (size_t k = 0; k < list_len(sh); k++) {
				const struct mesh__node *h = sh->u.items[k];
				if (!is_string(h))
					continue;
				const char *s = h->u.str;
				const char *err = (to_gateway && starts_with(s, "outbound_."))
				                          ? NULL
				                          : host_error(s, true);
				snprintf(rel, sizeof(rel), ".tls[%zu].match[%zu].sniHosts[%zu]", i,
				         j, k);
				if (err && is_ip(s)) {
					mesh__v_warn(
						v, h, rel,
						"sniHost \"%s\" is an IP address; SNI carries host names and most clients do not send IPs",
						s);
					continue;
				}
				if (err) {
					mesh__v_error(v, h, rel, "invalid sniHost \"%s\": %s", s,
					              err);
					continue;
				}
				bool covered = false;
				for (size_t x = 0; x < nhosts && !covered; x++)
					covered = is_string(hosts->u.items[x]) &&
					          host_subset_of(s, hosts->u.items[x]->u.str);
				if (!covered)
					mesh__v_error(
						v, h, rel,
						"sniHost \"%s\" is not within any host of the VirtualService",
						s);
			}
		}
	}

	check_export_to(v, obj, false, false);
	/* unreachable rules and shadowed matches are analysis findings
	 * (analyze_match.c), not validation errors */
}

static const struct mesh__field virtual_service_fields[] = {
	{ "hosts", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
	{ "gateways", MESH_FT_CUSTOM, MESH_F_LIST, 0, MESH_CUSTOM(check_gateway_name), 0, 0 },
	{ "http", MESH_FT_OBJECT, MESH_F_LIST, 0, &http_route, 0, 0 },
	{ "tls", MESH_FT_OBJECT, MESH_F_LIST, 0, &tls_route, 0, 0 },
	{ "tcp", MESH_FT_OBJECT, MESH_F_LIST, 0, &tcp_route, 0, 0 },
	{ "exportTo", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
};
const struct mesh__schema mesh__schema_virtual_service = { "VirtualService",
	                                                   MESH_FIELDS(virtual_service_fields),
	                                                   check_virtual_service, 0 };

/* ---- DestinationRule ---- */

/* The region/zone/subzone of a locality, '*' allowed once at the end. */
static const char *locality_error(const char *s)
{
	const char *star = strchr(s, '*');
	if (star && star[1])
		return "a wildcard '*' may appear only once, at the end";
	const char *p = s;
	for (int part = 0; part < 3; part++) {
		const char *slash = part < 2 ? strchr(p, '/') : NULL;
		if (slash == p || !*p)
			return "region, zone and subzone must not be empty";
		if (!slash)
			break;
		p = slash + 1;
	}
	return NULL;
}

static void check_distribute(struct mesh__vctx *v, const struct mesh__node *obj)
{
	char rel[320];
	const char *from = mesh__node_field_str(obj, "from");
	const char *err = from ? locality_error(from) : NULL;
	if (err)
		mesh__v_error(v, mesh__node_field(obj, "from"), ".from",
		              "invalid locality \"%s\": %s", from, err);
	const struct mesh__node *to = mesh__node_field(obj, "to");
	if (!to)
		return;
	if (!is_map(to)) {
		mesh__v_error(v, to, ".to", "expected a mapping of locality to weight");
		return;
	}
	int64_t total = 0;
	for (size_t i = 0; i < to->count; i++) {
		const struct mesh__node *key = to->u.pairs[i].key, *val = to->u.pairs[i].value;
		int64_t w;
		snprintf(rel, sizeof(rel), ".to.%s", key->u.str);
		err = locality_error(key->u.str);
		if (err)
			mesh__v_error(v, key, rel, "invalid locality \"%s\": %s", key->u.str, err);
		if (!mesh__node_int_loose(val, &w) || w < 1 || w > 100) {
			mesh__v_error(v, val, rel,
			              "locality weight must be between 1 and 100, got %s",
			              val->type == MESH_NODE_SCALAR ? val->u.str : "a non-number");
			return;
		}
		total += w;
	}
	if (total != 100)
		mesh__v_error(v, to, ".to", "locality weights must sum to 100, got %lld",
		              (long long)total);
}

static const struct mesh__field distribute_fields[] = {
	{ "from", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "to", MESH_FT_ANY, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema distribute = { "Distribute", MESH_FIELDS(distribute_fields),
	                                        check_distribute, 0 };

static void check_failover(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const char *from = mesh__node_field_str(obj, "from"), *to = mesh__node_field_str(obj, "to");
	if (str_eq(from, to))
		mesh__v_error(v, obj, NULL,
		              "failover from and to must be different regions, both are \"%s\"",
		              from);
	if ((from && strchr(from, '/')) || (to && strchr(to, '/')))
		mesh__v_error(v, obj, NULL, "failover from and to must be regions, without '/'");
	if ((from && strchr(from, '*')) || (to && strchr(to, '*')))
		mesh__v_error(v, obj, NULL, "failover regions must not contain '*'");
}

static const struct mesh__field failover_fields[] = {
	{ "from", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "to", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema failover = { "Failover", MESH_FIELDS(failover_fields),
	                                      check_failover, 0 };

static void check_locality_lb(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *prio = mesh__node_field(obj, "failoverPriority");
	char rel[48];
	if (!list_len(mesh__node_field(obj, "failover")))
		return;
	for (size_t i = 0; i < list_len(prio); i++) {
		const char *s = is_string(prio->u.items[i]) ? prio->u.items[i]->u.str : "";
		if (!strcmp(s, "topology.kubernetes.io/region") ||
		    !strcmp(s, "topology.kubernetes.io/zone") ||
		    !strcmp(s, "topology.istio.io/subzone")) {
			snprintf(rel, sizeof(rel), ".failoverPriority[%zu]", i);
			mesh__v_error(
				v, prio->u.items[i], rel,
				"failoverPriority cannot use the topology label \"%s\" when failover is set",
				s);
		}
	}
}

static const struct mesh__field locality_lb_fields[] = {
	{ "distribute", MESH_FT_OBJECT, MESH_F_LIST, 1, &distribute, 0, 0 },
	{ "failover", MESH_FT_OBJECT, MESH_F_LIST, 1, &failover, 0, 0 },
	{ "failoverPriority", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
	{ "enabled", MESH_FT_BOOL, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema locality_lb = { "LocalityLoadBalancerSetting",
	                                         MESH_FIELDS(locality_lb_fields), check_locality_lb,
	                                         0 };

static const struct mesh__field cookie_attribute_fields[] = {
	{ "name", MESH_FT_STRING, MESH_F_REQUIRED, 0, NULL, 0, 0 },
	{ "value", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema cookie_attribute = { "Attribute",
	                                              MESH_FIELDS(cookie_attribute_fields), NULL,
	                                              0 };

static void check_http_cookie(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *name = mesh__node_field(obj, "name");
	if (is_string(name) && name->count == 0)
		mesh__v_error(v, name, ".name", "cookie name must not be empty");
}

static const struct mesh__field http_cookie_fields[] = {
	{ "name", MESH_FT_STRING, MESH_F_REQUIRED, 0, NULL, 0, 0 },
	{ "path", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "ttl", MESH_FT_DURATION, 0, 0, NULL, 0, 0 },
	{ "attributes", MESH_FT_OBJECT, MESH_F_LIST, 0, &cookie_attribute, 0, 0 },
};
static const struct mesh__schema http_cookie = { "HTTPCookie", MESH_FIELDS(http_cookie_fields),
	                                         check_http_cookie, 0 };

static const struct mesh__field ring_hash_fields[] = {
	{ "minimumRingSize", MESH_FT_INT, 0, 0, NULL, 0, INT64_MAX },
};
static const struct mesh__schema ring_hash = { "RingHash", MESH_FIELDS(ring_hash_fields), NULL, 0 };

/* Envoy's isPrime, which Istio copies to match Envoy exactly. */
static bool is_prime(uint64_t x)
{
	if (x != 0 && x < 4)
		return true;
	if ((x & 1) == 0)
		return false;
	for (uint64_t f = 3; f * f <= x; f += 2)
		if (x % f == 0)
			return false;
	return true;
}

static void check_maglev(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *ts = mesh__node_field(obj, "tableSize");
	int64_t size = 0;
	if (ts && !mesh__node_int_loose(ts, &size))
		return;
	if (size == 0) {
		mesh__v_error(v, ts ? ts : obj, ts ? ".tableSize" : NULL,
		              "maglev tableSize must be set");
		return;
	}
	if (size >= 5000011)
		mesh__v_error(v, ts, ".tableSize", "tableSize must be less than 5000011, got %lld",
		              (long long)size);
	if (size > 0 && !is_prime((uint64_t)size))
		mesh__v_error(v, ts, ".tableSize", "tableSize must be a prime number, got %lld",
		              (long long)size);
}

static const struct mesh__field maglev_fields[] = {
	{ "tableSize", MESH_FT_INT, 0, 0, NULL, 0, INT64_MAX },
};
static const struct mesh__schema maglev = { "MagLev", MESH_FIELDS(maglev_fields), check_maglev, 0 };

/* one-of 1: the hash key; one-of 2: the algorithm (minimumRingSize is the
 * deprecated spelling of ringHash). */
static const struct mesh__field consistent_hash_fields[] = {
	{ "httpHeaderName", MESH_FT_STRING, 0, 1, NULL, 0, 0 },
	{ "httpCookie", MESH_FT_OBJECT, 0, 1, &http_cookie, 0, 0 },
	{ "useSourceIp", MESH_FT_BOOL, 0, 1, NULL, 0, 0 },
	{ "httpQueryParameterName", MESH_FT_STRING, 0, 1, NULL, 0, 0 },
	{ "ringHash", MESH_FT_OBJECT, 0, 2, &ring_hash, 0, 0 },
	{ "maglev", MESH_FT_OBJECT, 0, 2, &maglev, 0, 0 },
	{ "minimumRingSize", MESH_FT_INT, MESH_F_DEPRECATED, 2, NULL, 0, INT64_MAX },
	{ "httpHeaderRegexRewrite", MESH_FT_OBJECT, 0, 0, &regex_rewrite, 0, 0 },
};
static const struct mesh__schema consistent_hash = { "ConsistentHashLB",
	                                             MESH_FIELDS(consistent_hash_fields), NULL, 0 };

/* WarmupConfiguration.aggression: 1 is linear; Istio takes no less. */
static void check_aggression(struct mesh__vctx *v, const struct mesh__node *n)
{
	double d;
	if (!mesh__node_double(n, &d))
		mesh__v_error(v, n, NULL, "expected a number, got %s",
		              n->type == MESH_NODE_SCALAR ? n->u.str : "a mapping or list");
	else if (d < 1)
		mesh__v_error(v, n, NULL, "aggression must be at least 1, got %s", n->u.str);
}

static const struct mesh__field warmup_fields[] = {
	{ "duration", MESH_FT_CUSTOM, MESH_F_REQUIRED, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "minimumPercent", MESH_FT_PERCENT, 0, 0, NULL, 0, 0 },
	{ "aggression", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_aggression), 0, 0 },
};
static const struct mesh__schema warmup = { "WarmupConfiguration", MESH_FIELDS(warmup_fields), NULL,
	                                    0 };

static const char *const simple_lbs[] = {
	"UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST", NULL,
};

static const struct mesh__field load_balancer_fields[] = {
	{ "simple", MESH_FT_ENUM, 0, 1, simple_lbs, 0, 0 },
	{ "consistentHash", MESH_FT_OBJECT, 0, 1, &consistent_hash, 0, 0 },
	{ "localityLbSetting", MESH_FT_OBJECT, 0, 0, &locality_lb, 0, 0 },
	{ "warmupDurationSecs", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "warmup", MESH_FT_OBJECT, 0, 0, &warmup, 0, 0 },
};
static const struct mesh__schema load_balancer = { "LoadBalancerSettings",
	                                           MESH_FIELDS(load_balancer_fields), NULL, 0 };

static const struct mesh__field tcp_keepalive_fields[] = {
	{ "probes", MESH_FT_INT, 0, 0, NULL, 0, U32_MAX },
	{ "time", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "interval", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
};
static const struct mesh__schema tcp_keepalive = { "TcpKeepalive",
	                                           MESH_FIELDS(tcp_keepalive_fields), NULL, 0 };

static const struct mesh__field tcp_settings_fields[] = {
	{ "maxConnections", MESH_FT_INT, 0, 0, NULL, 0, I32_MAX },
	{ "connectTimeout", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "tcpKeepalive", MESH_FT_OBJECT, 0, 0, &tcp_keepalive, 0, 0 },
	{ "maxConnectionDuration", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "idleTimeout", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
};
static const struct mesh__schema tcp_settings = { "TCPSettings", MESH_FIELDS(tcp_settings_fields),
	                                          NULL, 0 };

static void check_http_settings(struct mesh__vctx *v, const struct mesh__node *obj)
{
	if (str_eq(mesh__node_field_str(obj, "h2UpgradePolicy"), "UPGRADE") &&
	    get_bool(obj, "useClientProtocol"))
		mesh__v_error(v, mesh__node_field(obj, "useClientProtocol"), ".useClientProtocol",
		              "useClientProtocol cannot be true when h2UpgradePolicy is UPGRADE");
}

static const char *const h2_upgrade_policies[] = { "DEFAULT", "DO_NOT_UPGRADE", "UPGRADE", NULL };

static const struct mesh__field http_settings_fields[] = {
	{ "http1MaxPendingRequests", MESH_FT_INT, 0, 0, NULL, 0, I32_MAX },
	{ "http2MaxRequests", MESH_FT_INT, 0, 0, NULL, 0, I32_MAX },
	{ "maxRequestsPerConnection", MESH_FT_INT, 0, 0, NULL, 0, I32_MAX },
	{ "maxRetries", MESH_FT_INT, 0, 0, NULL, 0, I32_MAX },
	{ "idleTimeout", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "h2UpgradePolicy", MESH_FT_ENUM, 0, 0, h2_upgrade_policies, 0, 0 },
	{ "useClientProtocol", MESH_FT_BOOL, 0, 0, NULL, 0, 0 },
	{ "maxConcurrentStreams", MESH_FT_INT, 0, 0, NULL, 0, I32_MAX },
};
static const struct mesh__schema http_settings = { "HTTPSettings",
	                                           MESH_FIELDS(http_settings_fields),
	                                           check_http_settings, 0 };

static void check_connection_pool(struct mesh__vctx *v, const struct mesh__node *obj)
{
	if (!mesh__node_field(obj, "tcp") && !mesh__node_field(obj, "http"))
		mesh__v_error(v, obj, NULL, "connectionPool must set tcp or http");
}

static const struct mesh__field connection_pool_fields[] = {
	{ "tcp", MESH_FT_OBJECT, 0, 0, &tcp_settings, 0, 0 },
	{ "http", MESH_FT_OBJECT, 0, 0, &http_settings, 0, 0 },
};
static const struct mesh__schema connection_pool = { "ConnectionPoolSettings",
	                                             MESH_FIELDS(connection_pool_fields),
	                                             check_connection_pool, 0 };

static void check_outlier(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *lof = mesh__node_field(obj, "consecutiveLocalOriginFailures");
	int64_t n;
	if (mesh__node_int_loose(lof, &n) && n > 0 &&
	    !get_bool(obj, "splitExternalLocalOriginErrors"))
		mesh__v_error(
			v, lof, ".consecutiveLocalOriginFailures",
			"consecutiveLocalOriginFailures needs splitExternalLocalOriginErrors: true");
}

static const struct mesh__field outlier_fields[] = {
	{ "consecutiveErrors", MESH_FT_INT, MESH_F_DEPRECATED, 0, NULL, 0, I32_MAX },
	{ "splitExternalLocalOriginErrors", MESH_FT_BOOL, 0, 0, NULL, 0, 0 },
	{ "consecutiveLocalOriginFailures", MESH_FT_INT, 0, 0, NULL, 0, U32_MAX },
	{ "consecutiveGatewayErrors", MESH_FT_INT, 0, 0, NULL, 0, U32_MAX },
	{ "consecutive5xxErrors", MESH_FT_INT, 0, 0, NULL, 0, U32_MAX },
	{ "interval", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "baseEjectionTime", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_ms_duration), 0, 0 },
	{ "maxEjectionPercent", MESH_FT_INT, 0, 0, NULL, 0, 100 },
	{ "minHealthPercent", MESH_FT_INT, 0, 0, NULL, 0, 100 },
};
static const struct mesh__schema outlier_detection = { "OutlierDetection",
	                                               MESH_FIELDS(outlier_fields), check_outlier,
	                                               0 };

/* agent.ValidateTLS */
static void check_client_tls(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const char *mode = mesh__node_field_str(obj, "mode");
	bool simple = str_eq(mode, "SIMPLE"), mutual = str_eq(mode, "MUTUAL");
	if (get_bool(obj, "insecureSkipVerify")) {
		if (simple && (has_str(obj, "caCertificates") || has_str(obj, "credentialName") ||
		               mesh__node_field(obj, "subjectAltNames")))
			mesh__v_error(
				v, obj, NULL,
				"caCertificates, credentialName and subjectAltNames cannot be set when insecureSkipVerify is true");
		if (mutual &&
		    (has_str(obj, "caCertificates") || mesh__node_field(obj, "subjectAltNames")))
			mesh__v_error(
				v, obj, NULL,
				"caCertificates and subjectAltNames cannot be set when insecureSkipVerify is true");
	}
	if ((simple || mutual) && has_str(obj, "credentialName")) {
		if (has_str(obj, "clientCertificate") || has_str(obj, "privateKey") ||
		    has_str(obj, "caCertificates") || has_str(obj, "caCrl"))
			mesh__v_error(
				v, obj, NULL,
				"clientCertificate, privateKey, caCertificates and caCrl cannot be set together with credentialName");
		return;
	}
	if (mutual) {
		if (!has_str(obj, "clientCertificate"))
			mesh__v_error(v, obj, NULL,
			              "mode MUTUAL requires clientCertificate (or credentialName)");
		if (!has_str(obj, "privateKey"))
			mesh__v_error(v, obj, NULL,
			              "mode MUTUAL requires privateKey (or credentialName)");
	}
}

static const char *const client_tls_modes[] = { "DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL",
	                                        NULL };

static const struct mesh__field client_tls_fields[] = {
	{ "mode", MESH_FT_ENUM, 0, 0, client_tls_modes, 0, 0 },
	{ "clientCertificate", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "privateKey", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "caCertificates", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "credentialName", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "subjectAltNames", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
	{ "sni", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "insecureSkipVerify", MESH_FT_BOOL, 0, 0, NULL, 0, 0 },
	{ "caCrl", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema client_tls = { "ClientTLSSettings", MESH_FIELDS(client_tls_fields),
	                                        check_client_tls, 0 };

static const char *const tunnel_protocols[] = { "CONNECT", "POST", NULL };

static const struct mesh__field tunnel_fields[] = {
	{ "protocol", MESH_FT_ENUM, 0, 0, tunnel_protocols, 0, 0 },
	{ "targetHost", MESH_FT_CUSTOM, MESH_F_REQUIRED, 0, MESH_CUSTOM(check_fqdn_or_ip), 0, 0 },
	{ "targetPort", MESH_FT_PORT, MESH_F_REQUIRED, 0, NULL, 0, 0 },
};
static const struct mesh__schema tunnel = { "TunnelSettings", MESH_FIELDS(tunnel_fields), NULL, 0 };

static const char *const proxy_protocol_versions[] = { "V1", "V2", NULL };

static const struct mesh__field proxy_protocol_fields[] = {
	{ "version", MESH_FT_ENUM, 0, 0, proxy_protocol_versions, 0, 0 },
};
static const struct mesh__schema proxy_protocol = { "ProxyProtocol",
	                                            MESH_FIELDS(proxy_protocol_fields), NULL, 0 };

static const struct mesh__field retry_budget_fields[] = {
	{ "percent", MESH_FT_PERCENT, 0, 0, NULL, 0, 0 },
	{ "minRetryConcurrency", MESH_FT_INT, 0, 0, NULL, 0, U32_MAX },
};
static const struct mesh__schema retry_budget = { "RetryBudget", MESH_FIELDS(retry_budget_fields),
	                                          NULL, 0 };

/* Locality failover only works with outlier detection (a warning in Istio). */
static void warn_failover_without_outlier(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *lb =
		mesh__node_field(mesh__node_field(obj, "loadBalancer"), "localityLbSetting");
	if (lb && !mesh__node_field(obj, "outlierDetection") &&
	    (list_len(mesh__node_field(lb, "failover")) ||
	     list_len(mesh__node_field(lb, "failoverPriority"))))
		mesh__v_warn(v, lb, ".loadBalancer.localityLbSetting",
		             "locality failover has no effect without outlierDetection");
}

static void check_port_traffic_policy(struct mesh__vctx *v, const struct mesh__node *obj)
{
	if (!mesh__node_field(obj, "loadBalancer") && !mesh__node_field(obj, "connectionPool") &&
	    !mesh__node_field(obj, "outlierDetection") && !mesh__node_field(obj, "tls"))
		mesh__v_error(
			v, obj, NULL,
			"port traffic policy must set loadBalancer, connectionPool, outlierDetection or tls");
	warn_failover_without_outlier(v, obj);
}

static const struct mesh__field port_traffic_policy_fields[] = {
	{ "port", MESH_FT_OBJECT, MESH_F_REQUIRED, 0, &policy_port_selector, 0, 0 },
	{ "loadBalancer", MESH_FT_OBJECT, 0, 0, &load_balancer, 0, 0 },
	{ "connectionPool", MESH_FT_OBJECT, 0, 0, &connection_pool, 0, 0 },
	{ "outlierDetection", MESH_FT_OBJECT, 0, 0, &outlier_detection, 0, 0 },
	{ "tls", MESH_FT_OBJECT, 0, 0, &client_tls, 0, 0 },
};
static const struct mesh__schema port_traffic_policy = { "PortTrafficPolicy",
	                                                 MESH_FIELDS(port_traffic_policy_fields),
	                                                 check_port_traffic_policy, 0 };

static void check_traffic_policy(struct mesh__vctx *v, const struct mesh__node *obj)
{
	bool any = false;
	for (size_t i = 0; i < obj->count && !any; i++)
		any = obj->u.pairs[i].value->type != MESH_NODE_NULL;
	if (!any)
		mesh__v_error(v, obj, NULL, "trafficPolicy must set at least one field");
	warn_failover_without_outlier(v, obj);
}

static const struct mesh__field traffic_policy_fields[] = {
	{ "loadBalancer", MESH_FT_OBJECT, 0, 0, &load_balancer, 0, 0 },
	{ "connectionPool", MESH_FT_OBJECT, 0, 0, &connection_pool, 0, 0 },
	{ "outlierDetection", MESH_FT_OBJECT, 0, 0, &outlier_detection, 0, 0 },
	{ "tls", MESH_FT_OBJECT, 0, 0, &client_tls, 0, 0 },
	{ "portLevelSettings", MESH_FT_OBJECT, MESH_F_LIST, 0, &port_traffic_policy, 0, 0 },
	{ "tunnel", MESH_FT_OBJECT, 0, 1, &tunnel, 0, 0 },
	{ "proxyProtocol", MESH_FT_OBJECT, 0, 1, &proxy_protocol, 0, 0 },
	{ "retryBudget", MESH_FT_OBJECT, 0, 0, &retry_budget, 0, 0 },
};
static const struct mesh__schema traffic_policy = { "TrafficPolicy",
	                                            MESH_FIELDS(traffic_policy_fields),
	                                            check_traffic_policy, 0 };

static const struct mesh__field subset_fields[] = {
	{ "name", MESH_FT_CUSTOM, MESH_F_REQUIRED, 0, MESH_CUSTOM(check_subset_name), 0, 0 },
	{ "labels", MESH_FT_LABELS, 0, 0, NULL, 0, 0 },
	{ "trafficPolicy", MESH_FT_OBJECT, 0, 0, &traffic_policy, 0, 0 },
};
static const struct mesh__schema subset = { "Subset", MESH_FIELDS(subset_fields), NULL, 0 };

static void check_destination_rule(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *subsets = mesh__node_field(obj, "subsets");
	char rel[48];
	for (size_t i = 0; i < list_len(subsets); i++) {
		const struct mesh__node *name = mesh__node_field(subsets->u.items[i], "name");
		if (!is_string(name))
			continue;
		for (size_t j = 0; j < i; j++) {
			if (!str_eq(mesh__node_field_str(subsets->u.items[j], "name"), name->u.str))
				continue;
			snprintf(rel, sizeof(rel), ".subsets[%zu].name", i);
			mesh__v_error(v, name, rel,
			              "duplicate subset name \"%s\" (also subsets[%zu])",
			              name->u.str, j);
			break;
		}
	}
	check_export_to(v, obj, false, mesh__node_field(obj, "workloadSelector") != NULL);
}

static const struct mesh__field destination_rule_fields[] = {
	{ "host", MESH_FT_CUSTOM, MESH_F_REQUIRED, 0, MESH_CUSTOM(check_wildcard_host), 0, 0 },
	{ "trafficPolicy", MESH_FT_OBJECT, 0, 0, &traffic_policy, 0, 0 },
	{ "subsets", MESH_FT_OBJECT, MESH_F_LIST, 0, &subset, 0, 0 },
	{ "exportTo", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
	{ "workloadSelector", MESH_FT_OBJECT, 0, 0, &policy_selector, 0, 0 },
};
const struct mesh__schema mesh__schema_destination_rule = { "DestinationRule",
	                                                    MESH_FIELDS(destination_rule_fields),
	                                                    check_destination_rule, 0 };

/* ---- WorkloadEntry and ServiceEntry ---- */

/* validateWorkloadEntry, with FQDN addresses allowed (they are for DNS
 * resolution); ServiceEntry adds its resolution-specific rules. */
static void check_workload_entry(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *addr = mesh__node_field(obj, "address"),
				*ports = mesh__node_field(obj, "ports");
	const char *a = is_string(addr) ? addr->u.str : NULL;
	char rel[320];
	if (!a || !*a) {
		if (!has_str(obj, "network")) {
			if (!addr || is_string(addr))
				mesh__v_error(
					v, obj, NULL,
					"address is required (it may be empty only when network is set)");
			return;
		}
		mesh__v_warn(v, obj, NULL, "address is empty; network \"%s\" must supply it",
		             mesh__node_field_str(obj, "network"));
	} else if (starts_with(a, "unix://")) {
		const char *err = unix_path_error(a + 7);
		if (err)
			mesh__v_error(v, addr, ".address", "invalid unix address \"%s\": %s", a,
			              err);
		if (is_map(ports) && ports->count)
			mesh__v_error(v, ports, ".ports", "a unix:// endpoint must not have ports");
	} else if (!is_ip(a)) {
		const char *err = fqdn_error(a);
		if (err)
			mesh__v_error(
				v, addr, ".address",
				"address \"%s\" is neither an IP address nor a valid host name: %s",
				a, err);
	}
	if (!ports)
		return;
	if (!is_map(ports)) {
		mesh__v_error(v, ports, ".ports", "expected a mapping of port name to port number");
		return;
	}
	for (size_t i = 0; i < ports->count; i++) {
		const struct mesh__node *key = ports->u.pairs[i].key,
					*val = ports->u.pairs[i].value;
		int64_t p;
		snprintf(rel, sizeof(rel), ".ports.%s", key->u.str);
		const char *err = dns_label_error(key->u.str);
		if (err)
			mesh__v_error(v, key, rel, "invalid port name \"%s\": %s", key->u.str, err);
		if (!mesh__node_int_loose(val, &p) || p < 1 || p > 65535)
			mesh__v_error(v, val, rel,
			              "port must be a number between 1 and 65535, got %s",
			              val->type == MESH_NODE_SCALAR ? val->u.str : "a non-number");
	}
}

static const struct mesh__field workload_entry_fields[] = {
	{ "address", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "ports", MESH_FT_ANY, 0, 0, NULL, 0, 0 },
	{ "labels", MESH_FT_LABELS, 0, 0, NULL, 0, 0 },
	{ "network", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "locality", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "weight", MESH_FT_INT, 0, 0, NULL, 0, U32_MAX },
	{ "serviceAccount", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
};
const struct mesh__schema mesh__schema_workload_entry = { "WorkloadEntry",
	                                                  MESH_FIELDS(workload_entry_fields),
	                                                  check_workload_entry, 0 };

static const struct mesh__field service_port_fields[] = {
	{ "number", MESH_FT_PORT, MESH_F_REQUIRED, 0, NULL, 0, 0 },
	{ "protocol", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_protocol), 0, 0 },
	{ "name", MESH_FT_CUSTOM, MESH_F_REQUIRED, 0, MESH_CUSTOM(check_port_name), 0, 0 },
	{ "targetPort", MESH_FT_INT, 0, 0, NULL, 0, 65535 },
};
static const struct mesh__schema service_port = { "ServicePort", MESH_FIELDS(service_port_fields),
	                                          NULL, 0 };

/* Is @name the name of one of the ServiceEntry's ports? */
static bool has_port_name(const struct mesh__node *ports, const char *name)
{
	for (size_t i = 0; i < list_len(ports); i++)
		if (str_eq(mesh__node_field_str(ports->u.items[i], "name"), name))
			return true;
	return false;
}

static void check_endpoint_ports(struct mesh__vctx *v, const struct mesh__node *ports,
                                 const struct mesh__node *ep, size_t i)
{
	const struct mesh__node *ep_ports = mesh__node_field(ep, "ports");
	char rel[320];
	for (size_t k = 0; is_map(ep_ports) && k < ep_ports->count; k++) {
		const struct mesh__node *key = ep_ports->u.pairs[k].key;
		if (has_port_name(ports, key->u.str))
			continue;
		snprintf(rel, sizeof(rel), ".endpoints[%zu].ports.%s", i, key->u.str);
		mesh__v_error(v, key, rel, "port \"%s\" is not a port name of this ServiceEntry",
		              key->u.str);
	}
}

static void check_service_entry(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *hosts = mesh__node_field(obj, "hosts"),
				*addrs = mesh__node_field(obj, "addresses");
	const struct mesh__node *ports = mesh__node_field(obj, "ports"),
				*eps = mesh__node_field(obj, "endpoints");
	const struct mesh__node *selector = mesh__node_field(obj, "workloadSelector");
	const char *res = mesh__node_field_str(obj, "resolution");
	size_t nhosts = list_len(hosts), nports = list_len(ports), neps = list_len(eps);
	char rel[320];
	if (!res)
		res = "NONE";
	bool dns = !strcmp(res, "DNS") || !strcmp(res, "DNS_ROUND_ROBIN");

	for (size_t i = 0; i < nhosts; i++) {
		const struct mesh__node *h = hosts->u.items[i];
		if (!is_string(h))
			continue;
		snprintf(rel, sizeof(rel), ".hosts[%zu]", i);
		if (!strcmp(h->u.str, "*")) {
			mesh__v_error(v, h, rel, "host \"*\" is not allowed in a ServiceEntry");
			continue;
		}
		const char *err = host_error(h->u.str, true);
		if (err)
			mesh__v_error(v, h, rel, "invalid host \"%s\": %s", h->u.str, err);
		else if (dns && !neps && (err = fqdn_error(h->u.str)))
			mesh__v_error(
				v, h, rel,
				"host \"%s\" must be a fully qualified name when resolution is %s and no endpoints are set",
				h->u.str, res);
	}

	for (size_t i = 0; i < list_len(addrs); i++) {
		const struct mesh__node *a = addrs->u.items[i];
		if (!is_string(a) || !strchr(a->u.str, '/') || !strcmp(res, "NONE") ||
		    !strcmp(res, "STATIC"))
			continue;
		snprintf(rel, sizeof(rel), ".addresses[%zu]", i);
		mesh__v_error(v, a, rel,
		              "CIDR address \"%s\" needs resolution NONE or STATIC, not %s",
		              a->u.str, res);
		break;
	}

	for (size_t i = 0; i < nports; i++) {
		const struct mesh__node *p = ports->u.items[i];
		const struct mesh__node *name = mesh__node_field(p, "name"),
					*num = mesh__node_field(p, "number");
		int64_t n, m;
		for (size_t j = 0; j < i; j++) {
			const struct mesh__node *q = ports->u.items[j];
			if (is_string(name) &&
			    str_eq(mesh__node_field_str(q, "name"), name->u.str)) {
				snprintf(rel, sizeof(rel), ".ports[%zu].name", i);
				mesh__v_error(v, name, rel,
				              "duplicate port name \"%s\" (also ports[%zu])",
				              name->u.str, j);
			}
			if (mesh__node_int_loose(num, &n) && get_int(q, "number", &m) && n == m) {
				snprintf(rel, sizeof(rel), ".ports[%zu].number", i);
				mesh__v_error(v, num, rel,
				              "duplicate port number %lld (also ports[%zu])",
				              (long long)n, j);
			}
		}
	}

	if (!strcmp(res, "NONE")) {
		if (neps)
			mesh__v_error(v, eps, ".endpoints",
			              "endpoints cannot be set when resolution is NONE");
		if (selector)
			mesh__v_warn(v, selector, ".workloadSelector",
			             "workloadSelector has no effect when resolution is NONE");
	} else if (!strcmp(res, "STATIC")) {
		for (size_t i = 0; i < neps; i++) {
			const struct mesh__node *ep = eps->u.items[i];
			const char *a = mesh__node_field_str(ep, "address");
			if (!is_map(ep))
				continue;
			snprintf(rel, sizeof(rel), ".endpoints[%zu].address", i);
			if (a && *a && !starts_with(a, "unix://") && !is_ip(a) && !fqdn_error(a))
				mesh__v_error(
					v, mesh__node_field(ep, "address"), rel,
					"address \"%s\" must be an IP address when resolution is STATIC",
					a);
			if (a && starts_with(a, "unix://") && nports != 1) {
				snprintf(rel, sizeof(rel), ".endpoints[%zu]", i);
				mesh__v_error(
					v, ep, rel,
					"a unix:// endpoint needs exactly one service port, got %zu",
					nports);
			}
			check_endpoint_ports(v, ports, ep, i);
		}
	} else if (dns) {
		if (!strcmp(res, "DNS_ROUND_ROBIN") && neps > 1)
			mesh__v_error(
				v, eps, ".endpoints",
				"resolution DNS_ROUND_ROBIN allows at most one endpoint, got %zu",
				neps);
		for (size_t i = 0; i < neps; i++)
			check_endpoint_ports(v, ports, eps->u.items[i], i);
		if (selector)
			mesh__v_warn(v, selector, ".workloadSelector",
			             "workloadSelector has no effect when resolution is %s", res);
	}

	/* with several hosts only HTTP (Host header) and TLS (SNI) can tell
	 * them apart, unless the proxy does not resolve at all */
	if (strcmp(res, "NONE") && nhosts > 1) {
		for (size_t i = 0; i < nports; i++) {
			const char *proto = mesh__node_field_str(ports->u.items[i], "protocol");
			int p = parse_protocol(proto);
			if (proto_is_http(p) || proto_is_tls(p))
				continue;
			snprintf(rel, sizeof(rel), ".ports[%zu]", i);
			mesh__v_error(
				v, ports->u.items[i], rel,
				"with more than one host and resolution %s every port must be HTTP or TLS, got \"%s\"",
				res, proto ? proto : "");
			break;
		}
	}
	check_export_to(v, obj, true, false);
}

static const char *const se_locations[] = { "MESH_EXTERNAL", "MESH_INTERNAL", NULL };
static const char *const se_resolutions[] = { "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", NULL };

static const struct mesh__field service_entry_fields[] = {
	{ "hosts", MESH_FT_STRING, MESH_F_LIST | MESH_F_REQUIRED, 0, NULL, 0, 0 },
	{ "addresses", MESH_FT_IP, MESH_F_LIST | MESH_F_CIDR, 0, NULL, 0, 0 },
	{ "ports", MESH_FT_OBJECT, MESH_F_LIST, 0, &service_port, 0, 0 },
	{ "location", MESH_FT_ENUM, 0, 0, se_locations, 0, 0 },
	{ "resolution", MESH_FT_ENUM, 0, 0, se_resolutions, 0, 0 },
	{ "endpoints", MESH_FT_OBJECT, MESH_F_LIST, 1, &mesh__schema_workload_entry, 0, 0 },
	{ "workloadSelector", MESH_FT_OBJECT, 0, 1, &workload_selector, 0, 0 },
	{ "exportTo", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
	{ "subjectAltNames", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
};
const struct mesh__schema mesh__schema_service_entry = { "ServiceEntry",
	                                                 MESH_FIELDS(service_entry_fields),
	                                                 check_service_entry, 0 };

/* ---- Gateway ---- */

static bool is_cipher_suite(const char *s)
{
	static const char *const suites[] = {
		"ECDHE-ECDSA-AES128-GCM-SHA256",
		"ECDHE-RSA-AES128-GCM-SHA256",
		"ECDHE-ECDSA-AES256-GCM-SHA384",
		"ECDHE-RSA-AES256-GCM-SHA384",
		"ECDHE-ECDSA-CHACHA20-POLY1305",
		"ECDHE-RSA-CHACHA20-POLY1305",
		"ECDHE-ECDSA-AES128-SHA",
		"ECDHE-RSA-AES128-SHA",
		"ECDHE-ECDSA-AES256-SHA",
		"ECDHE-RSA-AES256-SHA",
		"AES128-GCM-SHA256",
		"AES256-GCM-SHA384",
		"AES128-SHA",
		"AES256-SHA",
		"DES-CBC3-SHA",
	};
	if (s[0] == '[')
		return true; /* an equal-preference group, "[A|B]" */
	for (size_t i = 0; i < MESH_ARRAY_LEN(suites); i++)
		if (!strcmp(suites[i], s))
			return true;
	return false;
}

/* validateTLSOptions (Gateway servers and Sidecar ingress listeners). */
static void check_server_tls(struct mesh__vctx *v, const struct mesh__node *obj)
{
	static const char *const cert_fields[] = { "serverCertificate", "privateKey",
		                                   "caCertificates", "credentialName" };
	const char *mode = mesh__node_field_str(obj, "mode");
	const char *min = mesh__node_field_str(obj, "minProtocolVersion");
	const struct mesh__node *ciphers = mesh__node_field(obj, "cipherSuites");
	char rel[48];
	if (!mode)
		mode = "PASSTHROUGH";

	if ((str_eq(min, "TLSV1_0") || str_eq(min, "TLSV1_1")) && !list_len(ciphers))
		mesh__v_warn(
			v, obj, ".minProtocolVersion",
			"minProtocolVersion %s needs cipherSuites: the default ciphers no longer include ones it can use",
			min);
	for (size_t i = 0; i < list_len(ciphers); i++) {
		const struct mesh__node *c = ciphers->u.items[i];
		if (!is_string(c))
			continue;
		snprintf(rel, sizeof(rel), ".cipherSuites[%zu]", i);
		if (!is_cipher_suite(c->u.str)) {
			mesh__v_warn(v, c, rel, "unknown cipher suite \"%s\" is ignored", c->u.str);
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (is_string(ciphers->u.items[j]) &&
			    !strcmp(ciphers->u.items[j]->u.str, c->u.str)) {
				mesh__v_warn(v, c, rel, "duplicate cipher suite \"%s\" is ignored",
				             c->u.str);
				break;
			}
	}
	if (list_len(mesh__node_field(obj, "credentialNames")) > 2)
		mesh__v_error(
			v, mesh__node_field(obj, "credentialNames"), ".credentialNames",
			"credentialNames can have at most 2 entries (an RSA and an ECDSA certificate)");
	if (list_len(mesh__node_field(obj, "tlsCertificates")) > 2)
		mesh__v_error(
			v, mesh__node_field(obj, "tlsCertificates"), ".tlsCertificates",
			"tlsCertificates can have at most 2 entries (an RSA and an ECDSA certificate)");

	if (!strcmp(mode, "ISTIO_MUTUAL")) {
		for (size_t i = 0; i < MESH_ARRAY_LEN(cert_fields); i++) {
			if (!has_str(obj, cert_fields[i]))
				continue;
			snprintf(rel, sizeof(rel), ".%s", cert_fields[i]);
			mesh__v_error(
				v, mesh__node_field(obj, cert_fields[i]), rel,
				"mode ISTIO_MUTUAL uses Istio's certificates; %s must not be set",
				cert_fields[i]);
		}
		return;
	}
	if (!strcmp(mode, "PASSTHROUGH") || !strcmp(mode, "AUTO_PASSTHROUGH")) {
		if (has_str(obj, "caCrl") || has_str(obj, "serverCertificate") ||
		    has_str(obj, "privateKey") || has_str(obj, "caCertificates") ||
		    has_str(obj, "credentialName"))
			mesh__v_warn(v, obj, NULL,
			             "mode %s does not use certificates; they are ignored", mode);
	}
	bool mutual = !strcmp(mode, "MUTUAL") || !strcmp(mode, "OPTIONAL_MUTUAL");
	if ((!strcmp(mode, "SIMPLE") || mutual) &&
	    (has_str(obj, "credentialName") || list_len(mesh__node_field(obj, "credentialNames")) ||
	     list_len(mesh__node_field(obj, "tlsCertificates"))))
		return; /* certificates come from the credential */
	if (!strcmp(mode, "SIMPLE") || mutual) {
		if (!has_str(obj, "serverCertificate"))
			mesh__v_error(v, obj, NULL,
			              "mode %s requires serverCertificate (or credentialName)",
			              mode);
		if (!has_str(obj, "privateKey"))
			mesh__v_error(v, obj, NULL,
			              "mode %s requires privateKey (or credentialName)", mode);
		if (mutual && !has_str(obj, "caCertificates"))
			mesh__v_error(v, obj, NULL,
			              "mode %s requires caCertificates (or credentialName)", mode);
	}
	if (has_str(obj, "caCrl")) {
		if (has_str(obj, "credentialName"))
			mesh__v_error(
				v, mesh__node_field(obj, "caCrl"), ".caCrl",
				"caCrl cannot be used with credentialName; put the CRL in the credential");
		if (!strcmp(mode, "SIMPLE"))
			mesh__v_error(v, mesh__node_field(obj, "caCrl"), ".caCrl",
			              "caCrl is not supported with mode SIMPLE");
	}
}

static const char *const server_tls_modes[] = {
	"PASSTHROUGH",  "SIMPLE",          "MUTUAL", "AUTO_PASSTHROUGH",
	"ISTIO_MUTUAL", "OPTIONAL_MUTUAL", NULL,
};
static const char *const tls_versions[] = { "TLS_AUTO", "TLSV1_0", "TLSV1_1",
	                                    "TLSV1_2",  "TLSV1_3", NULL };

static const struct mesh__field tls_certificate_fields[] = {
	{ "serverCertificate", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "privateKey", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "caCertificates", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema tls_certificate = { "TLSCertificate",
	                                             MESH_FIELDS(tls_certificate_fields), NULL, 0 };

/* one-of 1: a credential or several; one-of 2: a certificate file or several. */
static const struct mesh__field server_tls_fields[] = {
	{ "httpsRedirect", MESH_FT_BOOL, 0, 0, NULL, 0, 0 },
	{ "mode", MESH_FT_ENUM, 0, 0, server_tls_modes, 0, 0 },
	{ "serverCertificate", MESH_FT_STRING, 0, 2, NULL, 0, 0 },
	{ "privateKey", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "caCertificates", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "caCrl", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "credentialName", MESH_FT_STRING, 0, 1, NULL, 0, 0 },
	{ "credentialNames", MESH_FT_STRING, MESH_F_LIST, 1, NULL, 0, 0 },
	{ "tlsCertificates", MESH_FT_OBJECT, MESH_F_LIST, 2, &tls_certificate, 0, 0 },
	{ "subjectAltNames", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
	{ "verifyCertificateSpki", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
	{ "verifyCertificateHash", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
	{ "minProtocolVersion", MESH_FT_ENUM, 0, 0, tls_versions, 0, 0 },
	{ "maxProtocolVersion", MESH_FT_ENUM, 0, 0, tls_versions, 0, 0 },
	{ "cipherSuites", MESH_FT_STRING, MESH_F_LIST, 0, NULL, 0, 0 },
};
static const struct mesh__schema server_tls = { "ServerTLSSettings", MESH_FIELDS(server_tls_fields),
	                                        check_server_tls, 0 };

static void check_gateway_port(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *name = mesh__node_field(obj, "name"),
				*tp = mesh__node_field(obj, "targetPort");
	int64_t t;
	if (is_string(name) && name->count == 0)
		mesh__v_error(v, name, ".name", "port name must not be empty");
	if (mesh__node_int_loose(tp, &t) && t > 0)
		mesh__v_error(v, tp, ".targetPort",
		              "targetPort has no effect on a Gateway; remove it");
}

static const struct mesh__field gateway_port_fields[] = {
	{ "number", MESH_FT_INT, 0, 0, NULL, 0, 65535 },
	{ "protocol", MESH_FT_CUSTOM, MESH_F_REQUIRED, 0, MESH_CUSTOM(check_server_protocol), 0,
	  0 },
	{ "name", MESH_FT_STRING, MESH_F_REQUIRED, 0, NULL, 0, 0 },
	{ "targetPort", MESH_FT_INT, 0, 0, NULL, 0, U32_MAX },
};
static const struct mesh__schema gateway_port = { "Port", MESH_FIELDS(gateway_port_fields),
	                                          check_gateway_port, 0 };

/* validateServer: port and bind together, and TLS settings by protocol. */
static void check_server(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *port = mesh__node_field(obj, "port"),
				*tls = mesh__node_field(obj, "tls");
	const struct mesh__node *bind_node = mesh__node_field(obj, "bind"),
				*num_node = mesh__node_field(port, "number");
	const char *bind = mesh__node_field_str(obj, "bind");
	int64_t num = 0;
	if (!is_map(port) || (num_node && !mesh__node_int_loose(num_node, &num)))
		return;
	bool uds = bind && starts_with(bind, "unix://");
	bool port_ok = true;
	/* the field table already refuses numbers past 65535 */
	if ((num > 0 || !uds) && num < 1) {
		mesh__v_error(v, num_node ? num_node : port, num_node ? ".port.number" : ".port",
		              "port number must be between 1 and 65535, got %lld", (long long)num);
		port_ok = false;
	}
	if (uds) {
		const char *err = unix_path_error(bind + 7);
		if (err)
			mesh__v_error(v, bind_node, ".bind", "invalid unix address \"%s\": %s",
			              bind, err);
		if (num != 0)
			mesh__v_error(
				v, num_node, ".port.number",
				"port number must be 0 when bind is a unix domain socket, got %lld",
				(long long)num);
	} else if (bind && *bind && !is_ip(bind)) {
		mesh__v_error(
			v, bind_node, ".bind",
			"invalid bind address \"%s\": expected an IP address or unix://<path>",
			bind);
	}

	const char *proto_name = mesh__node_field_str(port, "protocol");
	int proto = parse_protocol(proto_name);
	if (!port_ok || proto == PROTO_UNSUPPORTED || !has_str(port, "name"))
		return;
	if (proto_is_tls(proto) && !tls) {
		mesh__v_error(v, obj, NULL, "a server with protocol %s needs tls settings",
		              proto_name);
	} else if (!proto_is_tls(proto) && tls) {
		const char *mode = mesh__node_field_str(tls, "mode");
		bool passthrough =
			!mode || !strcmp(mode, "PASSTHROUGH") || !strcmp(mode, "AUTO_PASSTHROUGH");
		if (!proto_is_http(proto))
			mesh__v_error(
				v, tls, ".tls",
				"tls settings are not allowed on a %s server; use HTTPS or TLS",
				proto_name);
		else if (!passthrough || has_str(tls, "caCertificates") ||
		         has_str(tls, "privateKey") || has_str(tls, "serverCertificate"))
			mesh__v_error(v, tls, ".tls",
			              "tls on a plain-text %s server may only set httpsRedirect",
			              proto_name);
	}
}

static const struct mesh__field server_fields[] = {
	{ "port", MESH_FT_OBJECT, MESH_F_REQUIRED, 0, &gateway_port, 0, 0 },
	{ "bind", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "hosts", MESH_FT_CUSTOM, MESH_F_LIST | MESH_F_REQUIRED, 0,
	  MESH_CUSTOM(check_gateway_host), 0, 0 },
	{ "tls", MESH_FT_OBJECT, 0, 0, &server_tls, 0, 0 },
	{ "defaultEndpoint", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "name", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema server = { "Server", MESH_FIELDS(server_fields), check_server, 0 };

static void check_gateway(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *servers = mesh__node_field(obj, "servers");
	char rel[64];
	for (size_t i = 0; i < list_len(servers); i++) {
		const struct mesh__node *port = mesh__node_field(servers->u.items[i], "port");
		const struct mesh__node *name = mesh__node_field(port, "name");
		const struct mesh__node *tls = mesh__node_field(servers->u.items[i], "tls");
		if (!is_string(name))
			continue;
		for (size_t j = 0; j < i; j++) {
			if (!str_eq(mesh__node_field_str(
					    mesh__node_field(servers->u.items[j], "port"), "name"),
			            name->u.str))
				continue;
			snprintf(rel, sizeof(rel), ".servers[%zu].port.name", i);
			mesh__v_error(
				v, name, rel,
				"port name \"%s\" is already used by servers[%zu]; port names must be unique",
				name->u.str, j);
			break;
		}
		if (get_bool(tls, "httpsRedirect") &&
		    !proto_is_http(parse_protocol(mesh__node_field_str(port, "protocol")))) {
			snprintf(rel, sizeof(rel), ".servers[%zu].tls.httpsRedirect", i);
			mesh__v_warn(v, mesh__node_field(tls, "httpsRedirect"), rel,
			             "httpsRedirect only has an effect on HTTP servers");
		}
	}
}

static const struct mesh__field gateway_fields[] = {
	{ "servers", MESH_FT_OBJECT, MESH_F_LIST | MESH_F_REQUIRED, 0, &server, 0, 0 },
	{ "selector", MESH_FT_LABELS, 0, 0, NULL, 0, 0 },
};
const struct mesh__schema mesh__schema_gateway = { "Gateway", MESH_FIELDS(gateway_fields),
	                                           check_gateway, 0 };

/* ---- Sidecar ---- */

static const struct mesh__field sidecar_port_fields[] = {
	{ "number", MESH_FT_INT, 0, 0, NULL, 0, 65535 },
	{ "protocol", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_protocol), 0, 0 },
	{ "name", MESH_FT_CUSTOM, 0, 0, MESH_CUSTOM(check_port_name), 0, 0 },
	{ "targetPort", MESH_FT_INT, 0, 0, NULL, 0, U32_MAX },
};
static const struct mesh__schema sidecar_port = { "SidecarPort", MESH_FIELDS(sidecar_port_fields),
	                                          NULL, 0 };

static const char *const capture_modes[] = { "DEFAULT", "IPTABLES", "NONE", NULL };

static void check_sidecar_target_port(struct mesh__vctx *v, const struct mesh__node *port)
{
	const struct mesh__node *tp = mesh__node_field(port, "targetPort");
	int64_t t;
	if (mesh__node_int_loose(tp, &t) && t > 0)
		mesh__v_error(v, tp, ".port.targetPort",
		              "targetPort has no effect on a Sidecar; remove it");
}

/* Sidecar ingress defaultEndpoint: a loopback or wildcard IP with a port, or
 * a unix domain socket. */
static const char *default_endpoint_error(const char *s)
{
	if (starts_with(s, "unix://"))
		return unix_path_error(s + 7);
	char host[64];
	const char *port;
	size_t hlen;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return "expected host:port";
		hlen = (size_t)(close - s - 1);
		if (hlen >= sizeof(host))
			return "expected host:port";
		memcpy(host, s + 1, hlen);
		port = close + 2;
	} else {
		const char *colon = strchr(s, ':');
		if (!colon || strchr(colon + 1, ':'))
			return "expected host:port";
		hlen = (size_t)(colon - s);
		if (hlen >= sizeof(host))
			return "expected host:port";
		memcpy(host, s, hlen);
		port = colon + 1;
	}
	host[hlen] = '\0';
	if (*host && strcmp(host, "127.0.0.1") && strcmp(host, "0.0.0.0") && strcmp(host, "::1") &&
	    strcmp(host, "::"))
		return "the host must be 127.0.0.1, 0.0.0.0, [::1] or [::]";
	long p = all_digits(port) && strlen(port) < 6 ? strtol(port, NULL, 10) : -1;
	if (p < 1 || p > 65535)
		return "the port must be a number between 1 and 65535";
	return NULL;
}

static void check_ingress_listener(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *port = mesh__node_field(obj, "port"),
				*tls = mesh__node_field(obj, "tls");
	const char *bind = mesh__node_field_str(obj, "bind"),
		   *de = mesh__node_field_str(obj, "defaultEndpoint");
	const struct mesh__node *num = mesh__node_field(port, "number");
	int64_t n = 0;
	if (is_map(port)) {
		check_sidecar_target_port(v, port);
		/* numbers past 65535 are refused by the field table */
		if ((!num || mesh__node_int_loose(num, &n)) && n < 1)
			mesh__v_error(v, num ? num : port, num ? ".port.number" : ".port",
			              "port number must be between 1 and 65535, got %lld",
			              (long long)n);
	}
	if (bind && *bind && !is_ip(bind))
		mesh__v_error(v, mesh__node_field(obj, "bind"), ".bind",
		              "invalid bind address \"%s\": expected an IP address", bind);
	const char *err = de && *de ? default_endpoint_error(de) : NULL;
	if (err)
		mesh__v_error(
			v, mesh__node_field(obj, "defaultEndpoint"), ".defaultEndpoint",
			"invalid defaultEndpoint \"%s\": %s (expected 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://<path>)",
			de, err);
	if (tls) {
		const char *mode = mesh__node_field_str(tls, "mode");
		if (mesh__node_field(tls, "subjectAltNames"))
			mesh__v_error(v, mesh__node_field(tls, "subjectAltNames"),
			              ".tls.subjectAltNames",
			              "subjectAltNames is not supported in sidecar ingress tls");
		if (get_bool(tls, "httpsRedirect"))
			mesh__v_error(v, mesh__node_field(tls, "httpsRedirect"),
			              ".tls.httpsRedirect",
			              "httpsRedirect is not supported in sidecar ingress tls");
		if (has_str(tls, "credentialName"))
			mesh__v_error(v, mesh__node_field(tls, "credentialName"),
			              ".tls.credentialName",
			              "credentialName is not supported in sidecar ingress tls");
		if (str_eq(mode, "ISTIO_MUTUAL") || str_eq(mode, "AUTO_PASSTHROUGH"))
			mesh__v_error(v, mesh__node_field(tls, "mode"), ".tls.mode",
			              "mode %s is not allowed in sidecar ingress tls", mode);
	}
	const struct mesh__node *http =
		mesh__node_field(mesh__node_field(obj, "connectionPool"), "http");
	const char *proto = mesh__node_field_str(port, "protocol");
	if (http && !proto_is_http(parse_protocol(proto)))
		mesh__v_warn(
			v, http, ".connectionPool.http",
			"http connection pool settings have no effect on a port with protocol \"%s\"; only tcp settings apply",
			proto ? proto : "");
}

static const struct mesh__field ingress_listener_fields[] = {
	{ "port", MESH_FT_OBJECT, MESH_F_REQUIRED, 0, &sidecar_port, 0, 0 },
	{ "bind", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "captureMode", MESH_FT_ENUM, 0, 0, capture_modes, 0, 0 },
	{ "defaultEndpoint", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "tls", MESH_FT_OBJECT, 0, 0, &server_tls, 0, 0 },
	{ "connectionPool", MESH_FT_OBJECT, 0, 0, &connection_pool, 0, 0 },
};
static const struct mesh__schema ingress_listener = { "IstioIngressListener",
	                                              MESH_FIELDS(ingress_listener_fields),
	                                              check_ingress_listener, 0 };

/* The namespace part of "ns/host" (with "." as the resource's namespace). */
static size_t host_ns(struct mesh__vctx *v, const char *s, const char **ns)
{
	const char *slash = strchr(s, '/');
	if (!slash)
		return (size_t)-1;
	if (slash - s == 1 && s[0] == '.') {
		*ns = mesh__v_namespace(v);
		return strlen(*ns);
	}
	*ns = s;
	return (size_t)(slash - s);
}

/* Duplicate egress hosts are warnings in Istio. */
static void warn_egress_hosts(struct mesh__vctx *v, const struct mesh__node *hosts)
{
	char rel[48];
	bool all = false, other_ns = false;
	for (size_t i = 0; i < list_len(hosts); i++) {
		const struct mesh__node *h = hosts->u.items[i];
		const char *ns, *pns;
		size_t nl;
		if (!is_string(h) || (nl = host_ns(v, h->u.str, &ns)) == (size_t)-1)
			continue;
		const char *svc = strchr(h->u.str, '/') + 1;
		if (!strcmp(h->u.str, "*/*"))
			all = true;
		else if (nl != 1 || ns[0] != '*')
			other_ns = true;
		for (size_t j = 0; j < i; j++) {
			const struct mesh__node *p = hosts->u.items[j];
			size_t pl;
			if (!is_string(p) || (pl = host_ns(v, p->u.str, &pns)) == (size_t)-1)
				continue;
			const char *psvc = strchr(p->u.str, '/') + 1;
			if (pl != nl || strncmp(ns, pns, nl))
				continue;
			if (!strcmp(svc, "*") || !strcmp(psvc, "*") || !strcmp(svc, psvc)) {
				snprintf(rel, sizeof(rel), ".hosts[%zu]", i);
				mesh__v_warn(v, h, rel,
				             "egress host \"%s\" is already covered by \"%s\"",
				             h->u.str, p->u.str);
				break;
			}
		}
	}
	if (all && other_ns)
		mesh__v_warn(v, hosts, ".hosts",
		             "\"*/*\" selects every host; the other hosts add nothing");
}

static void check_egress_listener(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *port = mesh__node_field(obj, "port");
	const char *bind = mesh__node_field_str(obj, "bind"),
		   *capture = mesh__node_field_str(obj, "captureMode");
	warn_egress_hosts(v, mesh__node_field(obj, "hosts"));
	if (!is_map(port))
		return;
	check_sidecar_target_port(v, port);
	int64_t n = 0;
	if (mesh__node_field(port, "number") && !get_int(port, "number", &n))
		return;
	if (n == 0) {
		if (!bind || !starts_with(bind, "unix://")) {
			mesh__v_error(v, bind ? mesh__node_field(obj, "bind") : obj,
			              bind ? ".bind" : NULL,
			              "a listener with port number 0 needs a unix:// bind address");
		} else {
			const char *err = unix_path_error(bind + 7);
			if (err)
				mesh__v_error(v, mesh__node_field(obj, "bind"), ".bind",
				              "invalid unix address \"%s\": %s", bind, err);
		}
		if (capture && strcmp(capture, "DEFAULT") && strcmp(capture, "NONE"))
			mesh__v_error(
				v, mesh__node_field(obj, "captureMode"), ".captureMode",
				"captureMode must be DEFAULT or NONE for a unix domain socket listener");
	} else if (bind && *bind && !is_ip(bind)) {
		mesh__v_error(v, mesh__node_field(obj, "bind"), ".bind",
		              "invalid bind address \"%s\": expected an IP address", bind);
	}
}

static const struct mesh__field egress_listener_fields[] = {
	{ "port", MESH_FT_OBJECT, 0, 0, &sidecar_port, 0, 0 },
	{ "bind", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "captureMode", MESH_FT_ENUM, 0, 0, capture_modes, 0, 0 },
	{ "hosts", MESH_FT_CUSTOM, MESH_F_LIST | MESH_F_REQUIRED, 0,
	  MESH_CUSTOM(check_sidecar_host), 0, 0 },
};
static const struct mesh__schema egress_listener = { "IstioEgressListener",
	                                             MESH_FIELDS(egress_listener_fields),
	                                             check_egress_listener, 0 };

static void check_outbound_policy(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *proxy = mesh__node_field(obj, "egressProxy");
	if (!proxy)
		return;
	if (!str_eq(mesh__node_field_str(obj, "mode"), "ALLOW_ANY")) {
		mesh__v_error(v, proxy, ".egressProxy", "egressProxy needs mode ALLOW_ANY");
		return;
	}
	const char *host = mesh__node_field_str(proxy, "host");
	const char *err = host ? fqdn_error(host) : NULL;
	if (err)
		mesh__v_error(v, mesh__node_field(proxy, "host"), ".egressProxy.host",
		              "egressProxy host \"%s\" must be a fully qualified name: %s", host,
		              err);
	if (!mesh__node_field(proxy, "port"))
		mesh__v_error(v, proxy, ".egressProxy", "egressProxy must set port");
}

static const char *const outbound_modes[] = { "REGISTRY_ONLY", "ALLOW_ANY", NULL };

static const struct mesh__field outbound_policy_fields[] = {
	{ "mode", MESH_FT_ENUM, 0, 0, outbound_modes, 0, 0 },
	{ "egressProxy", MESH_FT_OBJECT, 0, 0, &destination, 0, 0 },
};
static const struct mesh__schema outbound_policy = { "OutboundTrafficPolicy",
	                                             MESH_FIELDS(outbound_policy_fields),
	                                             check_outbound_policy, 0 };

static void check_sidecar(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *ingress = mesh__node_field(obj, "ingress"),
				*egress = mesh__node_field(obj, "egress");
	char rel[64];
	if (!list_len(ingress) && !list_len(egress) &&
	    !mesh__node_field(obj, "outboundTrafficPolicy") &&
	    !mesh__node_field(obj, "inboundConnectionPool"))
		mesh__v_error(
			v, obj, NULL,
			"sidecar must set ingress, egress, outboundTrafficPolicy or inboundConnectionPool");

	for (size_t i = 0; i < list_len(ingress); i++) {
		const struct mesh__node *num =
			mesh__node_field(mesh__node_field(ingress->u.items[i], "port"), "number");
		int64_t n, m;
		if (!mesh__node_int_loose(num, &n))
			continue;
		for (size_t j = 0; j < i; j++) {
			if (!get_int(mesh__node_field(ingress->u.items[j], "port"), "number", &m) ||
			    m != n)
				continue;
			snprintf(rel, sizeof(rel), ".ingress[%zu].port.number", i);
			mesh__v_error(v, num, rel, "port %lld is already used by ingress[%zu]",
			              (long long)n, j);
			break;
		}
	}

	size_t n_egress = list_len(egress);
	bool catch_all = false;
	for (size_t i = 0; i < n_egress; i++) {
		const struct mesh__node *e = egress->u.items[i],
					*port = mesh__node_field(e, "port");
		if (!is_map(e))
			continue;
		snprintf(rel, sizeof(rel), ".egress[%zu]", i);
		if (!port) {
			if (catch_all)
				mesh__v_error(v, e, rel, "only one egress listener may omit port");
			else if (i != n_egress - 1)
				mesh__v_error(
					v, e, rel,
					"the egress listener without port must be the last one");
			catch_all = true;
			continue;
		}
		int64_t n, m;
		if (!get_int(port, "number", &n))
			n = 0;
		const char *bind = mesh__node_field_str(e, "bind");
		for (size_t j = 0; j < i; j++) {
			const struct mesh__node *pe = egress->u.items[j],
						*pp = mesh__node_field(pe, "port");
			if (!pp)
				continue;
			if (!get_int(pp, "number", &m))
				m = 0;
			if (n != 0 && m == n) {
				snprintf(rel, sizeof(rel), ".egress[%zu].port.number", i);
				mesh__v_error(v, mesh__node_field(port, "number"), rel,
				              "port %lld is already used by egress[%zu]",
				              (long long)n, j);
				break;
			}
			if (n == 0 && m == 0 && bind &&
			    str_eq(mesh__node_field_str(pe, "bind"), bind)) {
				snprintf(rel, sizeof(rel), ".egress[%zu].bind", i);
				mesh__v_error(
					v, mesh__node_field(e, "bind"), rel,
					"unix domain socket \"%s\" is already used by egress[%zu]",
					bind, j);
				break;
			}
		}
	}
}

static const struct mesh__field sidecar_fields[] = {
	{ "workloadSelector", MESH_FT_OBJECT, 0, 0, &workload_selector, 0, 0 },
	{ "ingress", MESH_FT_OBJECT, MESH_F_LIST, 0, &ingress_listener, 0, 0 },
	{ "egress", MESH_FT_OBJECT, MESH_F_LIST, 0, &egress_listener, 0, 0 },
	{ "outboundTrafficPolicy", MESH_FT_OBJECT, 0, 0, &outbound_policy, 0, 0 },
	{ "inboundConnectionPool", MESH_FT_OBJECT, 0, 0, &connection_pool, 0, 0 },
};
const struct mesh__schema mesh__schema_sidecar = { "Sidecar", MESH_FIELDS(sidecar_fields),
	                                           check_sidecar, 0 };
