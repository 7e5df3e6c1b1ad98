/*
 * schema_security.c - spec schemas of security.istio.io (v1beta1, v1):
 * PeerAuthentication, AuthorizationPolicy and RequestAuthentication. The
 * checks follow Istio's pkg/config/validation and pkg/config/security.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "schema.h"

/* ---- helpers ---- */

static const char *str_of(const struct mesh__node *n)
{
	return (n && n->type == MESH_NODE_SCALAR && n->scalar == MESH_SCALAR_STRING) ? n->u.str
	                                                                             : NULL;
}

/* A list field with at least one entry. */
static bool has_items(const struct mesh__node *obj, const char *key)
{
	const struct mesh__node *n = mesh__node_field(obj, key);
	return n && n->type == MESH_NODE_SEQ && n->count > 0;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* Reports "" entries of the string list @key. */
static void check_no_empty_values(struct mesh__vctx *v, const struct mesh__node *obj,
                                  const char *key)
{
	const struct mesh__node *n = mesh__node_field(obj, key);
	for (size_t i = 0; n && n->type == MESH_NODE_SEQ && i < n->count; i++) {
		const char *s = str_of(n->u.items[i]);
		char rel[64];
		if (s && !*s) {
			snprintf(rel, sizeof(rel), ".%s[%zu]", key, i);
			mesh__v_error(v, n->u.items[i], rel, "must not be empty");
		}
	}
}

/* An address or a CIDR block, IPv4 or IPv6 (netip.ParseAddr/ParsePrefix). */
static bool is_ip_or_cidr(const char *s)
{
	char buf[64];
	unsigned char addr[16];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	int family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, buf, addr) != 1)
		return false;
	if (!slash)
		return true;
	char *end;
	long bits = strtol(slash + 1, &end, 10);
	return end != slash + 1 && !*end && bits >= 0 && bits <= (family == AF_INET ? 32 : 128);
}

/* Ports in authorization rules are strings: "0".."65535". */
static bool is_port_string(const char *s)
{
	char *end;
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	unsigned long p = strtoul(s, &end, 10);
	return p <= 65535;
}

/* "name" (in the policy's namespace) or "namespace/name", no wildcards. */
static void check_service_account(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = str_of(n);
	const char *slash;
	if (!s) {
		mesh__v_error(v, n, NULL, "expected a service account name as a string");
		return;
	}
	slash = strchr(s, '/');
	if (!*s || strchr(s, '*') || s[0] == '/' ||
	    (slash && (strchr(slash + 1, '/') || !slash[1])) || strlen(s) > 320)
		mesh__v_error(
			v, n, NULL,
			"invalid service account \"%s\"; expected <name> or <namespace>/<name> "
			"without wildcards",
			s);
}

static void check_port_string(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = str_of(n);
	if (!s) {
		mesh__v_error(v, n, NULL, "expected a port number as a string, such as \"8080\"");
		return;
	}
	if (*s && !is_port_string(s))
		mesh__v_error(v, n, NULL, "invalid port \"%s\"; expected a number from 0 to 65535",
		              s);
}

/* RFC 7230 token characters. */
static bool is_header_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", c)))
			return false;
	}
	return true;
}

/*
 * Istio accepts path templates ({*} and {**}) but not named variables,
 * "{}" or bare star segments in a path that has a template (its regex
 * "\/{\w+\=\*[*]?\}|{\w*\}|\/\*[*]?|\*[*]?\/").
 */
static bool is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool bad_path_template(const char *s)
{
	if (!strstr(s, "{*}") && !strstr(s, "{**}"))
		return false;
	for (const char *p = s; *p; p++) {
		if (p[0] == '/' && p[1] == '*')
			return true; /* a slash then a star */
		if (p[0] == '*' && (p[1] == '/' || (p[1] == '*' && p[2] == '/')))
			return true; /* a star then a slash */
		if (p[0] == '{') {
			const char *q = p + 1;
			while (is_word(*q))
				q++;
			if (*q == '}')
				return true; /* "{name}" or "{}" */
			if (q > p + 1 && p > s && p[-1] == '/' && q[0] == '=' && q[1] == '*' &&
			    (q[2] == '}' || (q[2] == '*' && q[3] == '}')))
				return true; /* "/{name=*}" or "/{name=**}" */
		}
	}
	return false;
}

static void check_path(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = str_of(n);
	if (!s) {
		mesh__v_error(v, n, NULL, "expected a path string");
		return;
	}
	if (bad_path_template(s))
		mesh__v_error(
			v, n, NULL,
			"unsupported path template \"%s\"; only {*} and {**} segments are allowed",
			s);
}

/* ---- shared: WorkloadSelector, PolicyTargetReference ---- */

/* ---- PeerAuthentication ---- */

static const char *const mtls_modes[] = { "UNSET", "DISABLE", "PERMISSIVE", "STRICT", NULL };

static const struct mesh__field mutual_tls_fields[] = {
	{ .name = "mode", .type = MESH_FT_ENUM, .sub = mtls_modes },
};

static const struct mesh__schema mutual_tls = { "MutualTLS", MESH_FIELDS(mutual_tls_fields), NULL,
	                                        0 };

static const struct mesh__field peer_authentication_fields[] = {
	{ .name = "selector", .type = MESH_FT_OBJECT, .sub = &mesh__schema_policy_selector },
	{ .name = "mtls", .type = MESH_FT_OBJECT, .sub = &mutual_tls },
	{ .name = "portLevelMtls", .type = MESH_FT_PORTMAP, .sub = &mutual_tls },
};

static void peer_authentication_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *ports = mesh__node_field(obj, "portLevelMtls");
	const struct mesh__node *labels =
		mesh__node_field(mesh__node_field(obj, "selector"), "matchLabels");

	if (!ports || ports->type != MESH_NODE_MAP)
		return;
	if (ports->count == 0) {
		mesh__v_error(v, ports, ".portLevelMtls",
		              "portLevelMtls must not be empty when set");
		return;
	}
	/* port numbers only mean something for a known set of workloads */
	if (!labels || labels->type != MESH_NODE_MAP || labels->count == 0)
		mesh__v_error(v, ports, ".portLevelMtls",
		              "portLevelMtls needs a selector with matchLabels; mesh- and "
		              "namespace-wide policies cannot set it");
}

const struct mesh__schema mesh__schema_peer_authentication = {
	"PeerAuthentication", MESH_FIELDS(peer_authentication_fields), peer_authentication_check, 0
};

/* ---- AuthorizationPolicy ---- */

static const char *const authz_actions[] = { "ALLOW", "DENY", "AUDIT", "CUSTOM", NULL };

static const char *const source_lists[] = {
	"principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals",
	"namespaces", "notNamespaces", "serviceAccounts",   "notServiceAccounts",
	"ipBlocks",   "notIpBlocks",   "remoteIpBlocks",    "notRemoteIpBlocks",
};

static const struct mesh__field source_fields[] = {
	{ .name = "principals", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "notPrincipals", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "requestPrincipals", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "notRequestPrincipals", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "namespaces", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "notNamespaces", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "serviceAccounts",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_LIST,
	  .sub = MESH_CUSTOM(check_service_account) },
	{ .name = "notServiceAccounts",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_LIST,
	  .sub = MESH_CUSTOM(check_service_account) },
	{ .name = "ipBlocks", .type = MESH_FT_IP, .flags = MESH_F_LIST | MESH_F_CIDR },
	{ .name = "notIpBlocks", .type = MESH_FT_IP, .flags = MESH_F_LIST | MESH_F_CIDR },
	{ .name = "remoteIpBlocks", .type = MESH_FT_IP, .flags = MESH_F_LIST | MESH_F_CIDR },
	{ .name = "notRemoteIpBlocks", .type = MESH_FT_IP, .flags = MESH_F_LIST | MESH_F_CIDR },
};

static void source_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	static const char *const sa_lists[] = { "serviceAccounts", "notServiceAccounts" };
	static const char *const identity_lists[] = { "principals", "notPrincipals", "namespaces",
		                                      "notNamespaces" };
	bool any = false;
	for (size_t i = 0; i < MESH_ARRAY_LEN(source_lists); i++) {
		any |= has_items(obj, source_lists[i]);
		/* the IP and service account lists report "" themselves */
		if (!strstr(source_lists[i], "IpBlocks") && strcmp(source_lists[i], "ipBlocks") &&
		    !strstr(source_lists[i], "erviceAccounts"))
			check_no_empty_values(v, obj, source_lists[i]);
	}
	if (!any)
		mesh__v_error(v, obj, NULL, "source must set at least one field");
	/* a service account already names a namespace and an identity */
	for (size_t i = 0; i < MESH_ARRAY_LEN(sa_lists); i++) {
		const struct mesh__node *sa = mesh__node_field(obj, sa_lists[i]);
		char rel[32];
		if (!has_items(obj, sa_lists[i]))
			continue;
		snprintf(rel, sizeof(rel), ".%s", sa_lists[i]);
		if (sa->count > 16)
			mesh__v_error(v, sa, rel,
			              "at most 16 service accounts are allowed, got %zu",
			              sa->count);
		for (size_t k = 0; k < MESH_ARRAY_LEN(identity_lists); k++) {
			if (has_items(obj, identity_lists[k])) {
				mesh__v_error(v, sa, rel, "%s cannot be combined with %s",
				              sa_lists[i], identity_lists[k]);
				break;
			}
		}
	}
}

static const struct mesh__schema source = { "Source", MESH_FIELDS(source_fields), source_check, 0 };

static const struct mesh__field from_fields[] = {
	{ .name = "source", .type = MESH_FT_OBJECT, .flags = MESH_F_REQUIRED, .sub = &source },
};

static const struct mesh__schema rule_from = { "From", MESH_FIELDS(from_fields), NULL, 0 };

static const char *const operation_lists[] = { "hosts",   "notHosts",   "ports", "notPorts",
	                                       "methods", "notMethods", "paths", "notPaths" };

static const struct mesh__field operation_fields[] = {
	{ .name = "hosts", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "notHosts", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "ports",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_LIST,
	  .sub = MESH_CUSTOM(check_port_string) },
	{ .name = "notPorts",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_LIST,
	  .sub = MESH_CUSTOM(check_port_string) },
	{ .name = "methods", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "notMethods", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "paths",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_LIST,
	  .sub = MESH_CUSTOM(check_path) },
	{ .name = "notPaths",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_LIST,
	  .sub = MESH_CUSTOM(check_path) },
};

static void operation_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	bool any = false;
	for (size_t i = 0; i < MESH_ARRAY_LEN(operation_lists); i++) {
		any |= has_items(obj, operation_lists[i]);
		check_no_empty_values(v, obj, operation_lists[i]);
	}
	if (!any)
		mesh__v_error(v, obj, NULL, "operation must set at least one field");
}

static const struct mesh__schema operation = { "Operation", MESH_FIELDS(operation_fields),
	                                       operation_check, 0 };

static const struct mesh__field to_fields[] = {
	{ .name = "operation",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_REQUIRED,
	  .sub = &operation },
};

static const struct mesh__schema rule_to = { "To", MESH_FIELDS(to_fields), NULL, 0 };

/* Condition keys with a bracketed name, as in request.headers[User-Agent]. */
static bool is_map_key(const char *key)
{
	const char *open = strchr(key, '[');
	size_t len = strlen(key);
	return len > 0 && key[len - 1] == ']' && open && open > key &&
	       (size_t)(open - key) < len - 2;
}

/* Condition values are checked by key, as security.ValidateAttribute does. */
enum value_kind { VALUES_ANY, VALUES_IP, VALUES_PORT };

static void check_condition_values(struct mesh__vctx *v, const struct mesh__node *obj,
                                   const char *field, const char *key, enum value_kind kind)
{
	const struct mesh__node *n = mesh__node_field(obj, field);
	for (size_t i = 0; n && n->type == MESH_NODE_SEQ && i < n->count; i++) {
		const char *s = str_of(n->u.items[i]);
		char rel[48];
		if (!s)
			continue;
		snprintf(rel, sizeof(rel), ".%s[%zu]", field, i);
		if (!*s)
			mesh__v_error(v, n->u.items[i], rel, "must not be empty");
		else if (kind == VALUES_IP && !is_ip_or_cidr(s))
			mesh__v_error(v, n->u.items[i], rel,
			              "invalid IP address or CIDR block \"%s\" for %s", s, key);
		else if (kind == VALUES_PORT && !is_port_string(s))
			mesh__v_error(
				v, n->u.items[i], rel,
				"invalid port \"%s\" for %s; expected a number from 0 to 65535", s,
				key);
	}
}

static const struct mesh__field condition_fields[] = {
	{ .name = "key", .type = MESH_FT_STRING, .flags = MESH_F_REQUIRED },
	{ .name = "values", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "notValues", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
};

static void condition_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *kn = mesh__node_field(obj, "key");
	const char *key = str_of(kn);
	enum value_kind kind = VALUES_ANY;

	if (!key)
		return;
	if (!*key) {
		mesh__v_error(v, kn, ".key", "key must not be empty");
		return;
	}
	if (!has_items(obj, "values") && !has_items(obj, "notValues")) {
		mesh__v_error(v, obj, NULL, "condition \"%s\" must set values or notValues", key);
		return;
	}
	if (starts_with(key, "request.headers") || starts_with(key, "request.auth.claims") ||
	    starts_with(key, "experimental.envoy.filters.")) {
		if (!is_map_key(key)) {
			const char *want = starts_with(key, "request.headers")
			                           ? "request.headers[<name>]"
			                   : starts_with(key, "request.auth.claims")
			                           ? "request.auth.claims[<claim>]"
			                           : "experimental.envoy.filters.<filter>[<field>]";
			mesh__v_error(v, kn, ".key", "invalid key \"%s\"; expected %s", key, want);
			return;
		}
	} else if (!strcmp(key, "source.ip") || !strcmp(key, "remote.ip") ||
	           !strcmp(key, "destination.ip")) {
		kind = VALUES_IP;
	} else if (!strcmp(key, "destination.port")) {
		kind = VALUES_PORT;
	} else if (!strcmp(key, "source.namespace") || !strcmp(key, "source.principal") ||
	           !strcmp(key, "request.auth.principal") ||
	           !strcmp(key, "request.auth.audiences") ||
	           !strcmp(key, "request.auth.presenter") || !strcmp(key, "connection.sni")) {
		/* free-form values */
	} else if (!strcmp(key, "destination.namespace")) {
		mesh__v_error(v, kn, ".key",
		              "condition key \"%s\" is not supported; the policy's own namespace "
		              "applies",
		              key);
		return;
	} else if (starts_with(key, "destination.labels")) {
		mesh__v_error(v, kn, ".key",
		              "condition key \"%s\" is not supported; use the selector instead",
		              key);
		return;
	} else if (!strcmp(key, "destination.name") || !strcmp(key, "destination.user")) {
		mesh__v_error(v, kn, ".key",
		              "condition key \"%s\" is not supported (v1alpha1 RBAC only)", key);
		return;
	} else {
		mesh__v_error(
			v, kn, ".key",
			"unknown condition key \"%s\"; expected e.g. request.headers[<name>], "
			"source.ip, source.namespace, request.auth.claims[<claim>] or "
			"destination.port",
			key);
		return;
	}
	check_condition_values(v, obj, "values", key, kind);
	check_condition_values(v, obj, "notValues", key, kind);
}

static const struct mesh__schema condition = { "Condition", MESH_FIELDS(condition_fields),
	                                       condition_check, 0 };

static const struct mesh__field rule_fields[] = {
	{ .name = "from",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_LIST | MESH_F_NONEMPTY,
	  .sub = &rule_from },
	{ .name = "to",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_LIST | MESH_F_NONEMPTY,
	  .sub = &rule_to },
	{ .name = "when", .type = MESH_FT_OBJECT, .flags = MESH_F_LIST, .sub = &condition },
};

static const struct mesh__schema rule = { "Rule", MESH_FIELDS(rule_fields), NULL, 0 };

static const struct mesh__field provider_fields[] = {
	{ .name = "name", .type = MESH_FT_STRING, .flags = MESH_F_REQUIRED },
};

static const struct mesh__schema extension_provider = { "ExtensionProvider",
	                                                MESH_FIELDS(provider_fields), NULL, 0 };

static const struct mesh__field authorization_policy_fields[] = {
	{ .name = "selector",
	  .type = MESH_FT_OBJECT,
	  .oneof = 1,
	  .sub = &mesh__schema_policy_selector },
	{ .name = "targetRef",
	  .type = MESH_FT_OBJECT,
	  .oneof = 1,
	  .sub = &mesh__schema_target_ref },
	{ .name = "targetRefs",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_LIST,
	  .oneof = 1,
	  .sub = &mesh__schema_target_ref },
	{ .name = "action", .type = MESH_FT_ENUM, .sub = authz_actions },
	{ .name = "provider", .type = MESH_FT_OBJECT, .sub = &extension_provider },
	{ .name = "rules", .type = MESH_FT_OBJECT, .flags = MESH_F_LIST, .sub = &rule },
};

/* CUSTOM (ext_authz) runs before authentication results exist, so rules
 * cannot use peer or request identities. */
static void check_custom_rule(struct mesh__vctx *v, const struct mesh__node *r, size_t i)
{
	static const char *const identity_lists[] = {
		"namespaces", "notNamespaces", "serviceAccounts",   "notServiceAccounts",
		"principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals",
	};
	const struct mesh__node *from = mesh__node_field(r, "from"),
				*when = mesh__node_field(r, "when");
	char rel[96];

	for (size_t j = 0; from && from->type == MESH_NODE_SEQ && j < from->count; j++) {
		const struct mesh__node *src = mesh__node_field(from->u.items[j], "source");
		for (size_t k = 0; k < MESH_ARRAY_LEN(identity_lists); k++) {
			const struct mesh__node *n = mesh__node_field(src, identity_lists[k]);
			if (!n || (n->type == MESH_NODE_SEQ && n->count == 0))
				continue;
			snprintf(rel, sizeof(rel), ".rules[%zu].from[%zu].source.%s", i, j,
			         identity_lists[k]);
			mesh__v_error(v, n, rel, "%s is not supported with action CUSTOM",
			              identity_lists[k]);
		}
	}
	for (size_t j = 0; when && when->type == MESH_NODE_SEQ && j < when->count; j++) {
		const struct mesh__node *kn = mesh__node_field(when->u.items[j], "key");
		const char *key = str_of(kn);
		if (!key || (strcmp(key, "source.namespace") && strcmp(key, "source.principal") &&
		             !starts_with(key, "request.auth.")))
			continue;
		snprintf(rel, sizeof(rel), ".rules[%zu].when[%zu].key", i, j);
		mesh__v_error(v, kn, rel,
		              "condition key \"%s\" is not supported with action CUSTOM", key);
	}
}

/* Source fields that also apply to TCP traffic. */
static bool source_has_tcp_fields(const struct mesh__node *src)
{
	static const char *const tcp_lists[] = {
		"principals",      "notPrincipals",      "namespaces", "notNamespaces",
		"serviceAccounts", "notServiceAccounts", "ipBlocks",   "notIpBlocks",
		"remoteIpBlocks",  "notRemoteIpBlocks",
	};
	for (size_t k = 0; k < MESH_ARRAY_LEN(tcp_lists); k++)
		if (mesh__node_field(src, tcp_lists[k]))
			return true;
	return false;
}

/* A DENY rule of HTTP-only attributes cannot be evaluated on a TCP port,
 * where it then denies everything (Istio warns the same). */
static void warn_http_only_deny(struct mesh__vctx *v, const struct mesh__node *r, size_t i)
{
	const struct mesh__node *from = mesh__node_field(r, "from"),
				*to = mesh__node_field(r, "to");
	bool from_exist = false, to_exist = false, tcp_from = false, tcp_to = false;
	char rel[32];

	for (size_t j = 0; from && from->type == MESH_NODE_SEQ && j < from->count; j++) {
		const struct mesh__node *src = mesh__node_field(from->u.items[j], "source");
		if (src && src->type == MESH_NODE_MAP) {
			from_exist = true;
			tcp_from |= source_has_tcp_fields(src);
		}
	}
	for (size_t j = 0; to && to->type == MESH_NODE_SEQ && j < to->count; j++) {
		const struct mesh__node *op = mesh__node_field(to->u.items[j], "operation");
		if (op && op->type == MESH_NODE_MAP) {
			to_exist = true;
			tcp_to |= mesh__node_field(op, "ports") || mesh__node_field(op, "notPorts");
		}
	}
	if ((from_exist && !to_exist && !tcp_from) || (to_exist && !tcp_to)) {
		snprintf(rel, sizeof(rel), ".rules[%zu]", i);
		mesh__v_warn(
			v, r, rel,
			"this DENY rule uses only HTTP attributes, so it denies all traffic to "
			"TCP ports; set to.operation.ports to limit it");
	}
}

static void authorization_policy_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *an = mesh__node_field(obj, "action"),
				*provider = mesh__node_field(obj, "provider");
	const struct mesh__node *rules = mesh__node_field(obj, "rules");
	const char *action = str_of(an) ? str_of(an) : "ALLOW";
	static const char *const actions[] = { "ALLOW", "DENY", "AUDIT", "CUSTOM" };
	bool known = false;
	for (size_t i = 0; i < MESH_ARRAY_LEN(actions); i++)
		known |= !strcmp(action, actions[i]);
	if (!known)
		return; /* the enum check has said what is wrong */
	bool has_rules = rules && rules->type == MESH_NODE_SEQ && rules->count > 0;
	const struct mesh__node *at = an ? an : obj;
	const char *rel = an ? ".action" : NULL;

	if (!strcmp(action, "CUSTOM")) {
		const char *pname = mesh__node_field_str(provider, "name");
		if (!has_rules)
			mesh__v_error(
				v, at, rel,
				"action CUSTOM needs rules; add an empty rule {} to apply it to "
				"every request");
		else if (!provider)
			mesh__v_error(v, at, rel, "action CUSTOM requires provider.name");
		else if (pname && !*pname)
			mesh__v_error(v, mesh__node_field(provider, "name"), ".provider.name",
			              "provider.name must not be empty");
	} else if (provider) {
		mesh__v_error(v, provider, ".provider",
		              "provider is only allowed with action CUSTOM, got action %s", action);
	}
	if (!strcmp(action, "DENY") && !has_rules)
		mesh__v_error(
			v, at, rel,
			"action DENY needs rules; add an empty rule {} to deny every request");

	for (size_t i = 0; has_rules && i < rules->count; i++) {
		const struct mesh__node *r = rules->u.items[i];
		if (r->type != MESH_NODE_MAP)
			continue;
		if (!strcmp(action, "CUSTOM"))
			check_custom_rule(v, r, i);
		if (!strcmp(action, "DENY"))
			warn_http_only_deny(v, r, i);
	}
}

const struct mesh__schema mesh__schema_authorization_policy = {
	"AuthorizationPolicy", MESH_FIELDS(authorization_policy_fields), authorization_policy_check,
	0
};

/* ---- RequestAuthentication ---- */

static const struct mesh__field jwt_header_fields[] = {
	{ .name = "name", .type = MESH_FT_STRING, .flags = MESH_F_REQUIRED },
	{ .name = "prefix", .type = MESH_FT_STRING },
};

static void jwt_header_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const char *name = mesh__node_field_str(obj, "name");
	if (name && !*name)
		mesh__v_error(v, mesh__node_field(obj, "name"), ".name",
		              "header name must not be empty");
}

static const struct mesh__schema jwt_header = { "JWTHeader", MESH_FIELDS(jwt_header_fields),
	                                        jwt_header_check, 0 };

static const struct mesh__field claim_to_header_fields[] = {
	{ .name = "header", .type = MESH_FT_STRING, .flags = MESH_F_REQUIRED },
	{ .name = "claim", .type = MESH_FT_STRING, .flags = MESH_F_REQUIRED },
};

static void claim_to_header_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const char *header = mesh__node_field_str(obj, "header"),
		   *claim = mesh__node_field_str(obj, "claim");
	if (header && !is_header_token(header))
		mesh__v_error(v, mesh__node_field(obj, "header"), ".header",
		              "invalid header name \"%s\"; expected letters, digits and "
		              "!#$%%&'*+-.^_`|~",
		              header);
	if (claim && !*claim)
		mesh__v_error(v, mesh__node_field(obj, "claim"), ".claim",
		              "claim must not be empty");
}

static const struct mesh__schema claim_to_header = { "ClaimToHeader",
	                                             MESH_FIELDS(claim_to_header_fields),
	                                             claim_to_header_check, 0 };

static const struct mesh__field jwt_rule_fields[] = {
	{ .name = "issuer", .type = MESH_FT_STRING },
	{ .name = "audiences", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "jwksUri", .type = MESH_FT_STRING, .oneof = 1 },
	{ .name = "jwks", .type = MESH_FT_STRING, .oneof = 1 },
	{ .name = "fromHeaders", .type = MESH_FT_OBJECT, .flags = MESH_F_LIST, .sub = &jwt_header },
	{ .name = "fromParams", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "fromCookies", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "outputPayloadToHeader", .type = MESH_FT_STRING },
	{ .name = "forwardOriginalToken", .type = MESH_FT_BOOL },
	{ .name = "outputClaimToHeaders",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_LIST,
	  .sub = &claim_to_header },
	{ .name = "timeout", .type = MESH_FT_DURATION, .min = 1 },
	{ .name = "spaceDelimitedClaims", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
};

/* "http://host[:port]/..." or "https://..." (security.ParseJwksURI). */
static bool is_jwks_uri(const char *s)
{
	const char *rest;
	if (!strncasecmp(s, "https://", 8))
		rest = s + 8;
	else if (!strncasecmp(s, "http://", 7))
		rest = s + 7;
	else
		return false;
	size_t hostlen = strcspn(rest, "/?#");
	const char *colon = memchr(rest, ':', hostlen);
	if (hostlen == 0 || colon == rest)
		return false;
	if (colon && rest[0] != '[') {
		size_t plen = hostlen - (size_t)(colon + 1 - rest);
		if (plen == 0 || plen > 5 || strspn(colon + 1, "0123456789") < plen)
			return false;
	}
	return true;
}

static void jwt_rule_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *issuer = mesh__node_field(obj, "issuer"),
				*uri = mesh__node_field(obj, "jwksUri");
	const struct mesh__node *jwks = mesh__node_field(obj, "jwks");
	const char *s;

	/* Istio 1.27+: the issuer may be left out when jwksUri names the keys */
	if ((!issuer || (str_of(issuer) && !*str_of(issuer))) && !uri)
		mesh__v_error(v, issuer ? issuer : obj, issuer ? ".issuer" : NULL,
		              "issuer is required unless jwksUri is set");
	if ((s = str_of(uri)) && !is_jwks_uri(s))
		mesh__v_error(v, uri, ".jwksUri",
		              "invalid jwksUri \"%s\"; expected an http:// or https:// URL", s);
	if ((s = str_of(jwks))) {
		const char *b = s + strspn(s, " \t\r\n");
		size_t len = strlen(b);
		while (len && strchr(" \t\r\n", b[len - 1]))
			len--;
		if (!len || b[0] != '{' || b[len - 1] != '}' || !strstr(b, "\"keys\""))
			mesh__v_error(
				v, jwks, ".jwks",
				"jwks must be a JSON Web Key Set, a JSON object with \"keys\"");
	}
	check_no_empty_values(v, obj, "audiences");
	check_no_empty_values(v, obj, "fromParams");
	check_no_empty_values(v, obj, "fromCookies");
	check_no_empty_values(v, obj, "spaceDelimitedClaims");
	if ((s = mesh__node_field_str(obj, "outputPayloadToHeader")) && *s && !is_header_token(s))
		mesh__v_error(v, mesh__node_field(obj, "outputPayloadToHeader"),
		              ".outputPayloadToHeader",
		              "invalid header name \"%s\"; expected letters, digits and "
		              "!#$%%&'*+-.^_`|~",
		              s);
}

static const struct mesh__schema jwt_rule = { "JWTRule", MESH_FIELDS(jwt_rule_fields),
	                                      jwt_rule_check, 0 };

static const struct mesh__field request_authentication_fields[] = {
	{ .name = "selector",
	  .type = MESH_FT_OBJECT,
	  .oneof = 1,
	  .sub = &mesh__schema_policy_selector },
	{ .name = "targetRef",
	  .type = MESH_FT_OBJECT,
	  .oneof = 1,
	  .sub = &mesh__schema_target_ref },
	{ .name = "targetRefs",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_LIST,
	  .oneof = 1,
	  .sub = &mesh__schema_target_ref },
	{ .name = "jwtRules", .type = MESH_FT_OBJECT, .flags = MESH_F_LIST, .sub = &jwt_rule },
};

const struct mesh__schema mesh__schema_request_authentication = {
	"RequestAuthentication", MESH_FIELDS(request_authentication_fields), NULL, 0
};
