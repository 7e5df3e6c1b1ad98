/* mtls.c - meshctl mtls: the inbound mTLS mode a workload enforces, and the
 * policy that sets it. */
#include <stdlib.h>
#include <string.h>

#include "meshctl.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: meshctl mtls CONFIG... [-n NS] [--labels k=v,...] [--port N] [OPTIONS]\n\n"
	        "Show the mutual TLS mode (STRICT, PERMISSIVE or DISABLE) that a workload's\n"
	        "sidecar enforces on inbound connections, and the PeerAuthentication (or\n"
	        "MeshConfig) that sets it.\n\n"
	        "  -n, --namespace NS      namespace of the workload, and of resources that\n"
	        "                          name none (default)\n"
	        "  --labels k=v,...        labels of the workload\n"
	        "  --port N                the workload port a connection arrives on\n"
	        "                          (portLevelMtls)\n"
	        "  -o, --output FORMAT     text (default) or json\n\n"
	        "Exit status: 0 shown, 1 invalid config, 2 usage or I/O error.\n");
}

static void print_json(const char *ns, const char *const *labels, unsigned port, int mode,
                       const char *source)
{
	printf("{\"namespace\":");
	print_json_str(stdout, ns);
	printf(",\"labels\":{");
	for (size_t i = 0; labels[i]; i += 2) {
		if (i)
			putchar(',');
		print_json_str(stdout, labels[i]);
		putchar(':');
		print_json_str(stdout, labels[i + 1]);
	}
	printf("},\"port\":%u,\"mode\":\"%s\",\"source\":", port, mesh_mtls_mode_name(mode));
	print_json_str(stdout, source);
	printf("}\n");
}

int cmd_mtls(int argc, char **argv)
{
	struct load_opts o = { 0 };
	const char *labels[2 * MAX_LABELS + 1] = { NULL };
	char **paths = argv + 1;
	int npaths = 0;
	unsigned port = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_VALID;
		} else if (!strcmp(a, "--labels") || !strcmp(a, "--port")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "meshctl mtls: %s needs a value\n", a);
				return EXIT_USAGE;
			}
			char *val = argv[++i];
			if (!strcmp(a, "--labels")) {
				if (parse_labels(val, labels, 2 * MAX_LABELS + 1)) {
					fprintf(stderr, "meshctl mtls: --labels wants k=v,k2=v2\n");
					return EXIT_USAGE;
				}
			} else {
				char *end;
				unsigned long p = strtoul(val, &end, 10);
				if (!*val || *end || p == 0 || p > 65535) {
					fprintf(stderr,
					        "meshctl mtls: --port wants a number from 1 to "
					        "65535\n");
					return EXIT_USAGE;
				}
				port = (unsigned)p;
			}
		} else if (a[0] == '-' && a[1]) {
			int r = parse_load_opt(argc, argv, &i, &o);
			if (r < 0)
				return EXIT_USAGE;
			if (r == 0) {
				fprintf(stderr, "meshctl mtls: unknown option '%s'\n", a);
				usage(stderr);
				return EXIT_USAGE;
			}
		} else {
			paths[npaths++] = argv[i];
		}
	}
	if (npaths == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}

	mesh_config *cfg = NULL;
	mesh_diag *diag = NULL;
	int status = EXIT_USAGE;
	if (mesh_diag_new(&diag))
		goto oom;
	int rc = load_paths(&o, paths, npaths, &cfg, diag);
	if (rc == MESH_ENOMEM)
		goto oom;
	if (rc || mesh_diag_count_severity(diag, MESH_SEV_ERROR)) {
		o.quiet = true;
		print_report(&o, cfg, diag, "mtls");
		status = rc == MESH_EIO ? EXIT_USAGE : EXIT_INVALID;
		goto out;
	}
	const char *ns = o.ns ? o.ns : "default";
	const char *source = NULL;
	int mode = mesh_mtls_mode(cfg, ns, labels, port, &source);
	if (mode < 0) {
		if (mode == MESH_ENOMEM)
			goto oom;
		fprintf(stderr, "meshctl mtls: %s\n", mesh_strerror(mode));
		goto out;
	}
	if (o.output == OUTPUT_JSON) {
		print_json(ns, labels, port, mode, source);
	} else {
		printf("workload: namespace %s", ns);
		for (size_t i = 0; labels[i]; i += 2)
			printf("%s%s=%s", i ? "," : ", labels ", labels[i], labels[i + 1]);
		if (port)
			printf(", port %u", port);
		printf("\nmtls mode: %s\nsource: %s\n", mesh_mtls_mode_name(mode), source);
	}
	status = EXIT_VALID;
	goto out;
oom:
	fprintf(stderr, "meshctl: out of memory\n");
	status = EXIT_USAGE;
out:
	mesh_config_unref(cfg);
	mesh_diag_free(diag);
	return status;
}
