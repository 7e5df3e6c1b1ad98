/*
 * schema_mesh.c - spec schema of MeshConfig (mesh.libmesh.io/v1alpha1),
 * libmesh's own mesh-wide settings, modelled on Istio's MeshConfig. The
 * fields are described in docs/reference/meshconfig.md; keep the two in step.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

/* ---- helpers ---- */

static const char *str_of(const struct mesh__node *n)
{
	return (n && n->type == MESH_NODE_SCALAR && n->scalar == MESH_SCALAR_STRING) ? n->u.str
	                                                                             : NULL;
}

/* The string of a string node; reports anything else and returns NULL. */
static const char *want_str(struct mesh__vctx *v, const struct mesh__node *n, const char *what)
{
	const char *s = str_of(n);
	if (!s)
		mesh__v_error(v, n, NULL, "expected %s as a string", what);
	return s;
}

/* A lower-case DNS-1123 label of @len bytes (Kubernetes namespace syntax). */
static bool is_dns1123_label(const char *s, size_t len)
{
	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static bool is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* ---- scalar checks ---- */

/* Dot-separated DNS-1123 labels, a trailing dot allowed (as Istio's
 * ValidateTrustDomain); it becomes the host part of spiffe:// identities. */
static void check_trust_domain(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a trust domain");
	if (!s)
		return;
	if (!*s) {
		mesh__v_error(v, n, NULL, "trust domain must not be empty");
		return;
	}
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (!dot && len == 0 && p != s)
			break; /* trailing dot */
		if (!is_dns1123_label(p, len)) {
			mesh__v_error(
				v, n, NULL,
				"invalid trust domain \"%s\"; expected dot-separated labels of lower "
				"case letters, digits and '-' such as cluster.local",
				s);
			return;
		}
		if (!dot)
			break;
		p = dot + 1;
	}
}

static void check_namespace(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a namespace");
	if (s && !is_dns1123_label(s, strlen(s)))
		mesh__v_error(
			v, n, NULL,
			"invalid namespace \"%s\"; expected lower case letters, digits and '-', "
			"at most 63 characters",
			s);
}

/* Log files are opened by the proxy, whose working directory is not the
 * user's: only absolute paths mean the same thing everywhere. */
static void check_abs_path(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a file path");
	if (s && *s && s[0] != '/')
		mesh__v_error(v, n, NULL,
		              "expected an absolute path such as /dev/stdout, got \"%s\"", s);
}

static void check_url_path(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a path");
	if (s && *s && s[0] != '/')
		mesh__v_error(v, n, NULL, "path must start with '/', got \"%s\"", s);
}

/* "host", "1.2.3.4" or "namespace/host" (the form Istio takes too). */
static void check_service(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "a service host name");
	if (!s)
		return;
	const char *slash = strchr(s, '/');
	const char *host = s;
	if (slash) {
		if (!is_dns1123_label(s, (size_t)(slash - s))) {
			mesh__v_error(v, n, NULL,
			              "invalid service \"%s\": \"%.*s\" is not a namespace name", s,
			              (int)(slash - s), s);
			return;
		}
		host = slash + 1;
	}
	if (!slash && is_ip(s))
		return;
	const char *err = mesh__check_host(host, false);
	if (err)
		mesh__v_error(v, n, NULL, "invalid service \"%s\": %s", s, err);
}

/* "host:port" or "[ipv6]:port". */
static void check_address(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "an address");
	char host[256];
	const char *port;
	if (!s)
		return;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		port = close + 2;
		if (!is_ip(host) || !strchr(host, ':'))
			goto bad;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
			goto bad;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = colon + 1;
		if (!is_ip(host) && mesh__check_host(host, false))
			goto bad;
	}
	char *end;
	long p = strtol(port, &end, 10);
	if (end == port || *end || p < 1 || p > 65535)
		goto bad;
	return;
bad:
	mesh__v_error(v, n, NULL,
	              "invalid address \"%s\"; expected host:port such as zipkin.istio-system:9411",
	              s);
}

static void check_status_code(struct mesh__vctx *v, const struct mesh__node *n)
{
	const char *s = want_str(v, n, "an HTTP status code");
	char *end;
	if (!s)
		return;
	long code = strtol(s, &end, 10);
	if (end == s || *end || code < 200 || code > 599)
		mesh__v_error(
			v, n, NULL,
			"invalid status \"%s\"; expected an HTTP status code from 200 to 599 such "
			"as \"403\"",
			s);
}

/* ---- small objects ---- */

static const char *const mtls_modes[] = { "STRICT", "PERMISSIVE", "DISABLE", NULL };

static const struct mesh__field mtls_fields[] = {
	{ .name = "mode", .type = MESH_FT_ENUM, .sub = mtls_modes },
};

static const struct mesh__schema mtls = { "MeshMTLS", MESH_FIELDS(mtls_fields), NULL, 0 };

static const char *const outbound_modes[] = { "ALLOW_ANY", "REGISTRY_ONLY", NULL };

static const struct mesh__field outbound_fields[] = {
	{ .name = "mode", .type = MESH_FT_ENUM, .sub = outbound_modes },
};

static const struct mesh__schema outbound_policy = { "OutboundTrafficPolicy",
	                                             MESH_FIELDS(outbound_fields), NULL, 0 };

static const struct mesh__field zipkin_address_fields[] = {
	{ .name = "address",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_REQUIRED,
	  .sub = MESH_CUSTOM(check_address) },
};

static const struct mesh__schema zipkin_address = { "Zipkin", MESH_FIELDS(zipkin_address_fields),
	                                            NULL, 0 };

static const struct mesh__field proxy_tracing_fields[] = {
	{ .name = "sampling", .type = MESH_FT_PERCENT },
	{ .name = "maxPathTagLength", .type = MESH_FT_INT, .min = 1, .max = 65535 },
	{ .name = "zipkin", .type = MESH_FT_OBJECT, .sub = &zipkin_address },
};

static const struct mesh__schema proxy_tracing = { "Tracing", MESH_FIELDS(proxy_tracing_fields),
	                                           NULL, 0 };

static const struct mesh__field proxy_config_fields[] = {
	{ .name = "concurrency", .type = MESH_FT_INT, .min = 0, .max = 1024 },
	{ .name = "drainDuration", .type = MESH_FT_DURATION, .min = 1000, .max = 3600000 },
	{ .name = "terminationDrainDuration",
	  .type = MESH_FT_DURATION,
	  .min = 1000,
	  .max = 3600000 },
	{ .name = "tracing", .type = MESH_FT_OBJECT, .sub = &proxy_tracing },
};

static const struct mesh__schema proxy_config = { "ProxyConfig", MESH_FIELDS(proxy_config_fields),
	                                          NULL, 0 };

static const struct mesh__field default_providers_fields[] = {
	{ .name = "metrics", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "tracing", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "accessLogging", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
};

static const struct mesh__schema default_providers = { "DefaultProviders",
	                                               MESH_FIELDS(default_providers_fields), NULL,
	                                               0 };

/* ---- extension providers ---- */

static const struct mesh__field request_body_fields[] = {
	{ .name = "maxRequestBytes", .type = MESH_FT_INT, .min = 0, .max = UINT32_MAX },
	{ .name = "allowPartialMessage", .type = MESH_FT_BOOL },
	{ .name = "packAsBytes", .type = MESH_FT_BOOL },
};

static const struct mesh__schema request_body = { "BufferSettings",
	                                          MESH_FIELDS(request_body_fields), NULL, 0 };

static const struct mesh__field ext_authz_http_fields[] = {
	{ .name = "service",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_REQUIRED,
	  .sub = MESH_CUSTOM(check_service) },
	{ .name = "port", .type = MESH_FT_PORT, .flags = MESH_F_REQUIRED },
	{ .name = "timeout", .type = MESH_FT_DURATION, .min = 1 },
	{ .name = "pathPrefix", .type = MESH_FT_CUSTOM, .sub = MESH_CUSTOM(check_url_path) },
	{ .name = "failOpen", .type = MESH_FT_BOOL },
	{ .name = "clearRouteCache", .type = MESH_FT_BOOL },
	{ .name = "statusOnError", .type = MESH_FT_CUSTOM, .sub = MESH_CUSTOM(check_status_code) },
	{ .name = "includeRequestHeadersInCheck", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "includeAdditionalHeadersInCheck", .type = MESH_FT_STRMAP },
	{ .name = "includeRequestBodyInCheck", .type = MESH_FT_OBJECT, .sub = &request_body },
	{ .name = "headersToUpstreamOnAllow", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "headersToDownstreamOnAllow", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
	{ .name = "headersToDownstreamOnDeny", .type = MESH_FT_STRING, .flags = MESH_F_LIST },
};

static const struct mesh__schema ext_authz_http = { "EnvoyExternalAuthorizationHttpProvider",
	                                            MESH_FIELDS(ext_authz_http_fields), NULL, 0 };

static const struct mesh__field ext_authz_grpc_fields[] = {
	{ .name = "service",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_REQUIRED,
	  .sub = MESH_CUSTOM(check_service) },
	{ .name = "port", .type = MESH_FT_PORT, .flags = MESH_F_REQUIRED },
	{ .name = "timeout", .type = MESH_FT_DURATION, .min = 1 },
	{ .name = "failOpen", .type = MESH_FT_BOOL },
	{ .name = "clearRouteCache", .type = MESH_FT_BOOL },
	{ .name = "statusOnError", .type = MESH_FT_CUSTOM, .sub = MESH_CUSTOM(check_status_code) },
	{ .name = "includeRequestBodyInCheck", .type = MESH_FT_OBJECT, .sub = &request_body },
};

static const struct mesh__schema ext_authz_grpc = { "EnvoyExternalAuthorizationGrpcProvider",
	                                            MESH_FIELDS(ext_authz_grpc_fields), NULL, 0 };

static const struct mesh__field zipkin_provider_fields[] = {
	{ .name = "service",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_REQUIRED,
	  .sub = MESH_CUSTOM(check_service) },
	{ .name = "port", .type = MESH_FT_PORT, .flags = MESH_F_REQUIRED },
	{ .name = "path", .type = MESH_FT_CUSTOM, .sub = MESH_CUSTOM(check_url_path) },
	{ .name = "maxTagLength", .type = MESH_FT_INT, .min = 0, .max = UINT32_MAX },
	{ .name = "enable64bitTraceId", .type = MESH_FT_BOOL },
};

static const struct mesh__schema zipkin_provider = { "ZipkinTracingProvider",
	                                             MESH_FIELDS(zipkin_provider_fields), NULL, 0 };

static const struct mesh__field otel_provider_fields[] = {
	{ .name = "service",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_REQUIRED,
	  .sub = MESH_CUSTOM(check_service) },
	{ .name = "port", .type = MESH_FT_PORT, .flags = MESH_F_REQUIRED },
	{ .name = "maxTagLength", .type = MESH_FT_INT, .min = 0, .max = UINT32_MAX },
	/* exporter transport settings, not checked here */
	{ .name = "http", .type = MESH_FT_ANY, .oneof = 1 },
	{ .name = "grpc", .type = MESH_FT_ANY, .oneof = 1 },
};

static const struct mesh__schema otel_provider = { "OpenTelemetryTracingProvider",
	                                           MESH_FIELDS(otel_provider_fields), NULL, 0 };

static const struct mesh__schema prometheus_provider = { "PrometheusMetricsProvider", NULL, 0, NULL,
	                                                 0 };

static const struct mesh__field log_format_fields[] = {
	{ .name = "text", .type = MESH_FT_STRING, .oneof = 1 },
	{ .name = "labels", .type = MESH_FT_ANY, .oneof = 1 },
};

static const struct mesh__schema log_format = { "LogFormat", MESH_FIELDS(log_format_fields), NULL,
	                                        0 };

static const struct mesh__field file_log_provider_fields[] = {
	{ .name = "path", .type = MESH_FT_CUSTOM, .sub = MESH_CUSTOM(check_abs_path) },
	{ .name = "logFormat", .type = MESH_FT_OBJECT, .sub = &log_format },
};

static const struct mesh__schema file_log_provider = { "EnvoyFileAccessLogProvider",
	                                               MESH_FIELDS(file_log_provider_fields), NULL,
	                                               0 };

/* The one-of members of ExtensionProvider, and what each can be used for. */
enum provider_use { USE_AUTHZ, USE_TRACING, USE_METRICS, USE_ACCESS_LOGGING };

static const struct {
	const char *field;
	enum provider_use use;
} provider_kinds[] = {
	{ "envoyExtAuthzHttp", USE_AUTHZ }, { "envoyExtAuthzGrpc", USE_AUTHZ },
	{ "zipkin", USE_TRACING },          { "opentelemetry", USE_TRACING },
	{ "prometheus", USE_METRICS },      { "envoyFileAccessLog", USE_ACCESS_LOGGING },
};

static const struct mesh__field extension_provider_fields[] = {
	{ .name = "name", .type = MESH_FT_STRING, .flags = MESH_F_REQUIRED },
	{ .name = "envoyExtAuthzHttp", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &ext_authz_http },
	{ .name = "envoyExtAuthzGrpc", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &ext_authz_grpc },
	{ .name = "zipkin", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &zipkin_provider },
	{ .name = "opentelemetry", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &otel_provider },
	{ .name = "prometheus", .type = MESH_FT_OBJECT, .oneof = 1, .sub = &prometheus_provider },
	{ .name = "envoyFileAccessLog",
	  .type = MESH_FT_OBJECT,
	  .oneof = 1,
	  .sub = &file_log_provider },
};

static void extension_provider_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *n = mesh__node_field(obj, "name");
	const char *s = str_of(n);
	if (s && !*s)
		mesh__v_error(v, n, ".name", "name must not be empty");
}

static const struct mesh__schema extension_provider = { "ExtensionProvider",
	                                                MESH_FIELDS(extension_provider_fields),
	                                                extension_provider_check, 1u << 1 };

/* ---- MeshConfig ---- */

static const char *const log_encodings[] = { "TEXT", "JSON", NULL };

static const struct mesh__field mesh_config_fields[] = {
	{ .name = "trustDomain", .type = MESH_FT_CUSTOM, .sub = MESH_CUSTOM(check_trust_domain) },
	{ .name = "trustDomainAliases",
	  .type = MESH_FT_CUSTOM,
	  .flags = MESH_F_LIST,
	  .sub = MESH_CUSTOM(check_trust_domain) },
	{ .name = "rootNamespace", .type = MESH_FT_CUSTOM, .sub = MESH_CUSTOM(check_namespace) },
	{ .name = "mtls", .type = MESH_FT_OBJECT, .sub = &mtls },
	{ .name = "enableAutoMtls", .type = MESH_FT_BOOL },
	{ .name = "outboundTrafficPolicy", .type = MESH_FT_OBJECT, .sub = &outbound_policy },
	{ .name = "connectTimeout", .type = MESH_FT_DURATION, .min = 1, .max = 30000 },
	{ .name = "accessLogFile", .type = MESH_FT_CUSTOM, .sub = MESH_CUSTOM(check_abs_path) },
	{ .name = "accessLogEncoding", .type = MESH_FT_ENUM, .sub = log_encodings },
	{ .name = "accessLogFormat", .type = MESH_FT_STRING },
	{ .name = "enableTracing", .type = MESH_FT_BOOL },
	{ .name = "defaultConfig", .type = MESH_FT_OBJECT, .sub = &proxy_config },
	{ .name = "defaultProviders", .type = MESH_FT_OBJECT, .sub = &default_providers },
	{ .name = "extensionProviders",
	  .type = MESH_FT_OBJECT,
	  .flags = MESH_F_LIST,
	  .sub = &extension_provider },
};

/* The use of extension provider @name, or -1 when it is not defined. Two
 * providers exist without a definition: "prometheus" and "envoy" (the
 * access log on /dev/stdout), as in Istio's default MeshConfig. */
static int provider_use(const struct mesh__node *providers, const char *name, const char **kind)
{
	for (size_t i = 0; providers && providers->type == MESH_NODE_SEQ && i < providers->count;
	     i++) {
		const struct mesh__node *p = providers->u.items[i];
		const char *pname = str_of(mesh__node_field(p, "name"));
		if (!pname || strcmp(pname, name))
			continue;
		for (size_t k = 0; k < MESH_ARRAY_LEN(provider_kinds); k++) {
			if (mesh__node_field(p, provider_kinds[k].field)) {
				*kind = provider_kinds[k].field;
				return (int)provider_kinds[k].use;
			}
		}
		return -2; /* defined without a kind: already reported */
	}
	if (!strcmp(name, "prometheus")) {
		*kind = "prometheus";
		return USE_METRICS;
	}
	if (!strcmp(name, "envoy")) {
		*kind = "envoyFileAccessLog";
		return USE_ACCESS_LOGGING;
	}
	return -1;
}

static void check_default_providers(struct mesh__vctx *v, const struct mesh__node *obj)
{
	static const struct {
		const char *field;
		enum provider_use use;
	} uses[] = {
		{ "metrics", USE_METRICS },
		{ "tracing", USE_TRACING },
		{ "accessLogging", USE_ACCESS_LOGGING },
	};
	const struct mesh__node *defaults = mesh__node_field(obj, "defaultProviders");
	const struct mesh__node *providers = mesh__node_field(obj, "extensionProviders");

	for (size_t u = 0; u < MESH_ARRAY_LEN(uses); u++) {
		const struct mesh__node *list = mesh__node_field(defaults, uses[u].field);
		for (size_t i = 0; list && list->type == MESH_NODE_SEQ && i < list->count; i++) {
			const char *name = str_of(list->u.items[i]), *kind = NULL;
			char rel[64];
			if (!name)
				continue;
			snprintf(rel, sizeof(rel), ".defaultProviders.%s[%zu]", uses[u].field, i);
			int use = provider_use(providers, name, &kind);
			if (use == -1)
				mesh__v_error(
					v, list->u.items[i], rel,
					"unknown provider \"%s\"; define it in extensionProviders",
					name);
			else if (use >= 0 && use != (int)uses[u].use)
				mesh__v_error(v, list->u.items[i], rel,
				              "provider \"%s\" (%s) cannot be used for %s", name,
				              kind, uses[u].field);
		}
	}
}

static void mesh_config_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *providers = mesh__node_field(obj, "extensionProviders");
	const struct mesh__node *fmt = mesh__node_field(obj, "accessLogFormat");
	const char *enc = str_of(mesh__node_field(obj, "accessLogEncoding"));
	const char *s;

	for (size_t i = 0; providers && providers->type == MESH_NODE_SEQ && i < providers->count;
	     i++) {
		const struct mesh__node *n = mesh__node_field(providers->u.items[i], "name");
		const char *name = str_of(n);
		if (!name || !*name)
			continue;
		for (size_t j = 0; j < i; j++) {
			const char *prev = str_of(mesh__node_field(providers->u.items[j], "name"));
			char rel[64];
			if (prev && !strcmp(prev, name)) {
				snprintf(rel, sizeof(rel), ".extensionProviders[%zu].name", i);
				mesh__v_error(v, n, rel, "duplicate extension provider name \"%s\"",
				              name);
				break;
			}
		}
	}
	check_default_providers(v, obj);

	/* with JSON encoding the format maps log keys to %COMMAND% operators */
	if (enc && !strcmp(enc, "JSON") && (s = str_of(fmt)) && *s) {
		const char *b = s + strspn(s, " \t\r\n");
		size_t len = strlen(b);
		while (len && strchr(" \t\r\n", b[len - 1]))
			len--;
		if (!len || b[0] != '{' || b[len - 1] != '}')
			mesh__v_error(
				v, fmt, ".accessLogFormat",
				"accessLogFormat must be a JSON object when accessLogEncoding is "
				"JSON");
	}
}

const struct mesh__schema mesh__schema_mesh_config = { "MeshConfig",
	                                               MESH_FIELDS(mesh_config_fields),
	                                               mesh_config_check, 0 };
