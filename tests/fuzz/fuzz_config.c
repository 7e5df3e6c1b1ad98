/*
 * fuzz_config.c - libFuzzer target for the configuration loader: any bytes
 * go through mesh_config_load_buffer(); what loads is then read back through
 * every accessor, analysed, and its diagnostics formatted, so that a parse
 * tree the validator let through cannot crash a later reader either; then
 * the registry and the router are built from it as a proxy's reload does,
 * and a few requests and connections routed, with every cluster's
 * endpoints, settings and balancer picks read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/mesh.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Paths worth asking every resource for: a mix of the kinds' fields, list
 * indexes in and out of range, and malformed paths. */
static const char *const paths[] = {
	"apiVersion",
	"kind",
	"metadata",
	"metadata.name",
	"metadata.namespace",
	"metadata.labels",
	"spec",
	"spec.hosts",
	"spec.hosts[0]",
	"spec.hosts[99]",
	"spec.host",
	"spec.http",
	"spec.http[0]",
	"spec.http[0].match[0].uri.regex",
	"spec.http[0].route",
	"spec.http[0].route[0].destination.host",
	"spec.http[0].route[1].weight",
	"spec.http[0].timeout",
	"spec.http[0].retries.attempts",
	"spec.tcp[0].route[0].destination.port.number",
	"spec.subsets[0].labels",
	"spec.trafficPolicy.tls.mode",
	"spec.servers[0].port.number",
	"spec.ports[0].port",
	"spec.selector.matchLabels",
	"spec.rules[0].from[0].source.principals[0]",
	"spec.mtls.mode",
	"spec.precedence",
	"spec.route[0].labels.version",
	"spec.destination.name",
	"spec.egress[0].hosts",
	"spec.trustDomain",
	"",
	".",
	"[",
	"[0]",
	"spec[",
	"spec[x]",
	"spec..hosts",
	"spec.hosts[-1]",
	"spec.hosts[18446744073709551616]",
	"spec.http[0]]",
};

static void read_value(const mesh_resource *r, const char *path)
{
	const char *s = NULL;
	int64_t n = 0;
	unsigned line = 0, col = 0;
	int type = mesh_resource_get_type(r, path);
	size_t count = mesh_resource_get_count(r, path);
	if (mesh_resource_get_string(r, path, &s) == 0 && strlen(s) == (size_t)-1)
		abort();
	(void)mesh_resource_get_int(r, path, &n);
	if (mesh_resource_get_position(r, path, &line, &col) == 0 && type == MESH_VALUE_NONE)
		abort(); /* a position for a value that does not exist */
	if (type == MESH_VALUE_MAP) {
		for (size_t i = 0; i <= count && i < 64; i++) {
			const char *k = NULL;
			int rc = mesh_resource_get_key(r, path, i, &k);
			if ((rc == 0) != (i < count))
				abort();
		}
	}
}

static void read_resource(const mesh_config *cfg, const mesh_resource *r)
{
	int kind = mesh_resource_kind(r);
	const char *name = mesh_resource_name(r), *ns = mesh_resource_namespace(r);
	if (!name || !ns || !mesh_resource_api_version(r) || !mesh_resource_file(r))
		abort();
	if (strcmp(mesh_kind_name(kind), "Unknown") == 0)
		abort(); /* accepted resources have a known kind */
	if (mesh_kind_from_name(mesh_kind_name(kind)) != kind)
		abort();
	if (mesh_config_find(cfg, kind, ns, name) != r)
		abort(); /* the index finds what was accepted */
	(void)mesh_resource_line(r);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		read_value(r, paths[i]);
	/* every key of spec and metadata, one level down */
	static const char *const roots[] = { "spec", "metadata" };
	for (size_t j = 0; j < 2; j++) {
		size_t n = mesh_resource_get_count(r, roots[j]);
		for (size_t i = 0; i < n && i < 32; i++) {
			const char *k;
			char path[300];
			if (mesh_resource_get_key(r, roots[j], i, &k) != 0)
				continue;
			snprintf(path, sizeof(path), "%s.%s", roots[j], k);
			read_value(r, path);
		}
	}
}

static void format_all(const mesh_diag *d)
{
	size_t n = mesh_diag_count(d);
	size_t per_sev = 0;
	for (int sev = MESH_SEV_NOTE; sev <= MESH_SEV_ERROR; sev++)
		per_sev += mesh_diag_count_severity(d, sev);
	if (per_sev != n)
		abort();
	for (size_t i = 0; i < n; i++) {
		char *s = mesh_diag_format(d, i);
		if (!s || !mesh_diag_message(d, i))
			abort();
		(void)mesh_severity_name(mesh_diag_severity(d, i));
		(void)mesh_diag_file(d, i);
		(void)mesh_diag_path(d, i);
		(void)mesh_diag_code(d, i);
		(void)mesh_diag_line(d, i);
		(void)mesh_diag_column(d, i);
		mesh_free(s);
	}
	char *json = mesh_diag_to_json(d);
	if (!json)
		abort();
	mesh_free(json);
}

/* What a proxy does with a configuration that loaded: registry, router,
 * balancer, routing. Any failure must be a clean error code. */
static void build_and_route(mesh_config *cfg, mesh_diag *d)
{
	mesh_registry *reg = NULL;
	mesh_router *r = NULL;
	mesh_balancer *b = NULL;
	mesh_route_scratch *sc = NULL;
	if (mesh_registry_new(&reg))
		abort();
	int rc = mesh_registry_load_config(reg, cfg, d);
	if (rc != 0 && rc != MESH_ECONFIG && rc != MESH_ELIMIT)
		abort();
	static const char *const labels[] = { "app", "reviews", "version", "v1", NULL };
	struct mesh_workload wl = { .struct_size = sizeof(wl),
		                    .namespace_name = "default",
		                    .name = "fuzz",
		                    .labels = labels };
	rc = mesh_router_new(cfg, reg, &wl, &r, d);
	if (rc != 0) {
		if (rc != MESH_ECONFIG && rc != MESH_ELIMIT)
			abort();
		mesh_registry_free(reg);
		return;
	}
	if (mesh_balancer_new(r, &b) || mesh_route_scratch_new(&sc))
		abort();
	for (size_t i = 0; i < mesh_router_cluster_count(r); i++) {
		const mesh_cluster *c = mesh_router_cluster_at(r, i);
		if (!mesh_cluster_name(c))
			abort();
		(void)mesh_cluster_lb_policy(c);
		for (size_t k = 0; k < mesh_cluster_endpoint_count(c); k++) {
			struct mesh_endpoint_info ep = { .struct_size = sizeof(ep) };
			if (mesh_cluster_endpoint(c, k, &ep) != 0)
				abort();
		}
		int ep = mesh_balancer_pick(b, c, 12345, 1000);
		if (ep >= 0) {
			mesh_balancer_begin(b, c, ep);
			mesh_balancer_end(b, c, ep, MESH_OUTCOME_SUCCESS, 1001);
		}
	}
	static const char *const hosts[] = { "reviews", "reviews.default.svc.cluster.local:9080",
		                             "a.example.com", "*", "" };
	struct mesh_header hv[] = { { "cookie", "user=jason" }, { "x-user", "a" } };
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		struct mesh_request req = { .struct_size = sizeof(req),
			                    .authority = hosts[i],
			                    .path = "/a/b?c=d",
			                    .headers = hv,
			                    .nheaders = 2 };
		const mesh_route *rt = NULL;
		rc = mesh_router_route(r, &req, sc, &rt);
		if (rc == 0 && !rt)
			abort();
		struct mesh_connection conn = {
			.struct_size = sizeof(conn), .host = hosts[i], .sni = hosts[i], .port = 9080
		};
		(void)mesh_router_route_connection(r, &conn, &rt);
	}
	mesh_route_scratch_free(sc);
	mesh_balancer_free(b);
	mesh_router_unref(r);
	mesh_registry_free(reg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mesh_config *cfg;
	mesh_diag *d;
	if (mesh_config_new(&cfg) || mesh_diag_new(&d))
		abort();
	/* the length picks the load flags (strict, unknown fields allowed), so
	 * every mode runs without spending input bytes on it */
	unsigned flags = (unsigned)(size & 3u);
	mesh_config_set_flags(cfg, flags);
	int rc = mesh_config_load_buffer(cfg, "fuzz.yaml", (const char *)data, size, d);
	if (rc != 0 && rc != MESH_ECONFIG && rc != MESH_ELIMIT)
		abort(); /* no ENOMEM / EINVAL / EFATAL for a byte string */
	if (rc != 0 && mesh_diag_count_severity(d, MESH_SEV_ERROR) == 0)
		abort(); /* a failure always says why */
	if (rc == 0 && mesh_diag_count_severity(d, MESH_SEV_ERROR) != 0)
		abort();
	size_t n = mesh_config_resource_count(cfg);
	for (size_t i = 0; i < n; i++)
		read_resource(cfg, mesh_config_resource_at(cfg, i));
	if (mesh_config_resource_at(cfg, n) != NULL)
		abort();
	if (n) {
		int arc = mesh_config_analyze(cfg, d);
		if (arc < 0)
			abort();
	}
	if (rc == 0 && n)
		build_and_route(cfg, d);
	format_all(d);
	mesh_diag_free(d);
	mesh_config_unref(cfg);
	return 0;
}
