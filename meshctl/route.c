/* route.c - meshctl route: which rule a request matches, and what it does. */
#include <stdlib.h>
#include <string.h>

#include "meshctl.h"

#define MAX_HEADERS 64

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: meshctl route CONFIG... --host HOST [OPTIONS]\n\n"
	        "Show the rule a request matches (kind/namespace/name and file:line), its\n"
	        "destinations and its whole action, as the source workload's sidecar sees it.\n\n"
	        "  --host HOST             Host / :authority of the request (required)\n"
	        "  --path PATH             path with query (default /)\n"
	        "  --method METHOD         default GET\n"
	        "  --scheme SCHEME         default http\n"
	        "  --header 'NAME: VALUE'  a request header (repeatable)\n"
	        "  --port N                destination port\n"
	        "  --source k=v,...        labels of the source workload\n"
	        "  --source-name NAME      name of the source workload\n"
	        "  -n, --namespace NS      namespace of the source workload (default)\n"
	        "  --gateway NS/NAME       route as this gateway instead of a sidecar\n"
	        "  --all                   also say why each earlier route did not match\n"
	        "  -o, --output FORMAT     text (default) or json\n\n"
	        "Exit status: 0 a route matched, 1 no route (404 NR) or invalid config,\n"
	        "2 usage or I/O error.\n");
}

int cmd_route(int argc, char **argv)
{
	struct load_opts o = { 0 };
	struct mesh_header headers[MAX_HEADERS];
	const char *labels[2 * MAX_LABELS + 1] = { NULL };
	struct mesh_request req = { .struct_size = sizeof(req), .headers = headers };
	struct mesh_workload wl = { .struct_size = sizeof(wl), .labels = labels };
	unsigned flags = 0;
	char **paths = argv + 1;
	int npaths = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_VALID;
		} else if (!strcmp(a, "--all")) {
			flags |= MESH_EXPLAIN_ALL;
		} else if (!strcmp(a, "--host") || !strcmp(a, "--path") || !strcmp(a, "--method") ||
		           !strcmp(a, "--scheme") || !strcmp(a, "--header") ||
		           !strcmp(a, "--port") || !strcmp(a, "--source") ||
		           !strcmp(a, "--source-name") || !strcmp(a, "--gateway")) {
			if (!val) {
				fprintf(stderr, "meshctl route: %s needs a value\n", a);
				return EXIT_USAGE;
			}
			i++;
			if (!strcmp(a, "--host")) {
				req.authority = val;
			} else if (!strcmp(a, "--path")) {
				req.path = val;
			} else if (!strcmp(a, "--method")) {
				req.method = val;
			} else if (!strcmp(a, "--scheme")) {
				req.scheme = val;
			} else if (!strcmp(a, "--port")) {
				req.port = (unsigned)strtoul(val, NULL, 10);
			} else if (!strcmp(a, "--source-name")) {
				wl.name = val;
			} else if (!strcmp(a, "--gateway")) {
				req.gateway = val;
			} else if (!strcmp(a, "--source")) {
				if (parse_labels(argv[i], labels, 2 * MAX_LABELS + 1)) {
					fprintf(stderr,
					        "meshctl route: --source wants k=v,k2=v2\n");
					return EXIT_USAGE;
				}
			} else { /* --header */
				char *colon = strchr(argv[i], ':');
				if (!colon || colon == argv[i] || req.nheaders == MAX_HEADERS) {
					fprintf(stderr,
					        "meshctl route: --header wants 'name: value'\n");
					return EXIT_USAGE;
				}
				*colon = '\0';
				char *v = colon + 1;
				while (*v == ' ' || *v == '\t')
					v++;
				headers[req.nheaders].name = argv[i];
				headers[req.nheaders++].value = v;
			}
		} else if (a[0] == '-' && a[1]) {
			int r = parse_load_opt(argc, argv, &i, &o);
			if (r < 0)
				return EXIT_USAGE;
			if (r == 0) {
				fprintf(stderr, "meshctl route: unknown option '%s'\n", a);
				usage(stderr);
				return EXIT_USAGE;
			}
		} else {
			paths[npaths++] = argv[i];
		}
	}
	if (npaths == 0 || !req.authority) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.output == OUTPUT_JSON)
		flags |= MESH_EXPLAIN_JSON;
	wl.namespace_name = o.ns;

	mesh_config *cfg = NULL;
	mesh_registry *reg = NULL;
	mesh_router *router = NULL;
	mesh_diag *diag = NULL;
	int status = EXIT_USAGE;
	if (mesh_diag_new(&diag) || mesh_registry_new(&reg))
		goto oom;
	int rc = load_paths(&o, paths, npaths, &cfg, diag);
	if (rc == MESH_ENOMEM)
		goto oom;
	if (rc || mesh_diag_count_severity(diag, MESH_SEV_ERROR)) {
		o.quiet = true;
		print_report(&o, cfg, diag, "route");
		status = rc == MESH_EIO ? EXIT_USAGE : EXIT_INVALID;
		goto out;
	}
	mesh_diag_clear(diag);
	if (mesh_registry_load_config(reg, cfg, diag) == MESH_ENOMEM)
		goto oom;
	rc = mesh_router_new(cfg, reg, &wl, &router, diag);
	if (rc) {
		fprintf(stderr, "meshctl route: cannot build routes: %s\n", mesh_strerror(rc));
		print_report(&o, cfg, diag, "route");
		status = EXIT_INVALID;
		goto out;
	}
	char *text = mesh_router_explain(router, &req, flags);
	if (!text)
		goto oom;
	fputs(text, stdout);
	if (flags & MESH_EXPLAIN_JSON)
		putchar('\n');
	mesh_free(text);
	mesh_route_scratch *s;
	const mesh_route *hit = NULL;
	if (mesh_route_scratch_new(&s))
		goto oom;
	status = mesh_router_route(router, &req, s, &hit) == 0 ? EXIT_VALID : EXIT_INVALID;
	mesh_route_scratch_free(s);
	goto out;
oom:
	fprintf(stderr, "meshctl: out of memory\n");
	status = EXIT_USAGE;
out:
	mesh_router_unref(router);
	mesh_registry_free(reg);
	mesh_config_unref(cfg);
	mesh_diag_free(diag);
	return status;
}
