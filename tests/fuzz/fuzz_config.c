/*
 * fuzz_config.c - libFuzzer target for the configuration loader: any bytes
 * go through mesh_config_load_buffer(); what loads is then read back through
 * every accessor, analysed, and its diagnostics formatted, so that a parse
 * tree the validator let through cannot crash a later reader either.
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
	format_all(d);
	mesh_diag_free(d);
	mesh_config_unref(cfg);
	return 0;
}
