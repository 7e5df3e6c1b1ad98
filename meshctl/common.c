/* common.c - option parsing, loading and report printing shared by the
 * subcommands that read configuration. */
#include <stdlib.h>
#include <string.h>

#include "meshctl.h"

int parse_load_opt(int argc, char **argv, int *i, struct load_opts *o)
{
	const char *a = argv[*i];
	if (!strcmp(a, "--strict")) {
		o->flags |= MESH_CONFIG_STRICT;
		return 1;
	}
	if (!strcmp(a, "--allow-unknown-fields")) {
		o->flags |= MESH_CONFIG_ALLOW_UNKNOWN_FIELDS;
		return 1;
	}
	if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
		o->quiet = true;
		return 1;
	}
	const char *val = NULL;
	bool is_o = !strcmp(a, "-o") || !strcmp(a, "--output");
	bool is_ns = !strcmp(a, "-n") || !strcmp(a, "--namespace");
	if (!strncmp(a, "--output=", 9)) {
		val = a + 9;
		is_o = true;
	} else if (!strncmp(a, "--namespace=", 12)) {
		val = a + 12;
		is_ns = true;
	} else if (is_o || is_ns) {
		if (*i + 1 >= argc) {
			fprintf(stderr, "meshctl: %s needs a value\n", a);
			return -1;
		}
		val = argv[++*i];
	}
	if (is_o) {
		if (!strcmp(val, "json")) {
			o->output = OUTPUT_JSON;
		} else if (!strcmp(val, "text")) {
			o->output = OUTPUT_TEXT;
		} else {
			fprintf(stderr, "meshctl: unknown output format '%s' (use text or json)\n",
			        val);
			return -1;
		}
		return 1;
	}
	if (is_ns) {
		o->ns = val;
		return 1;
	}
	return 0;
}

int load_paths(struct load_opts *o, char **paths, int npaths, mesh_config **cfg, mesh_diag *diag)
{
	int rc = mesh_config_new(cfg);
	if (rc)
		return rc;
	mesh_config_set_flags(*cfg, o->flags);
	if (o->ns && (rc = mesh_config_set_default_namespace(*cfg, o->ns)))
		return rc;
	int worst = 0;
	for (int i = 0; i < npaths; i++) {
		rc = mesh_config_load_path(*cfg, paths[i], diag);
		if (rc == MESH_ENOMEM)
			return rc;
		if (rc && (worst == 0 || rc == MESH_EIO))
			worst = rc;
	}
	return worst;
}

void print_report(const struct load_opts *o, const mesh_config *cfg, const mesh_diag *diag,
                  const char *command)
{
	size_t errors = mesh_diag_count_severity(diag, MESH_SEV_ERROR);
	size_t warnings = mesh_diag_count_severity(diag, MESH_SEV_WARNING);
	size_t notes = mesh_diag_count_severity(diag, MESH_SEV_NOTE);
	size_t files = mesh_config_file_count(cfg);
	size_t resources = mesh_config_resource_count(cfg);
	if (o->output == OUTPUT_JSON) {
		char *list = mesh_diag_to_json(diag);
		printf("{\"command\":\"%s\",\"files\":%zu,\"resources\":%zu,\"errors\":%zu,"
		       "\"warnings\":%zu,\"notes\":%zu,\"valid\":%s,\"diagnostics\":%s}\n",
		       command, files, resources, errors, warnings, notes,
		       errors ? "false" : "true", list ? list : "[]");
		mesh_free(list);
		return;
	}
	for (size_t i = 0; i < mesh_diag_count(diag); i++) {
		if (o->quiet && mesh_diag_severity(diag, i) == MESH_SEV_NOTE)
			continue;
		char *line = mesh_diag_format(diag, i);
		if (line)
			printf("%s\n", line);
		mesh_free(line);
	}
	printf("%zu file%s, %zu resource%s accepted: %zu error%s, %zu warning%s\n", files,
	       files == 1 ? "" : "s", resources, resources == 1 ? "" : "s", errors,
	       errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
}

int parse_labels(char *spec, const char **kv, size_t max)
{
	size_t n = 0;
	for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
		char *eq = strchr(tok, '=');
		if (!eq || eq == tok || n + 2 >= max)
			return -1;
		*eq = '\0';
		kv[n++] = tok;
		kv[n++] = eq + 1;
	}
	kv[n] = NULL;
	return 0;
}

void print_json_str(FILE *out, const char *s)
{
	putc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			putc(c, out);
	}
	putc('"', out);
}
