/* analyze.c - meshctl analyze: cross-resource checks with coded findings. */
#include <string.h>

#include "meshctl.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: meshctl analyze [OPTIONS] FILE|DIR|- ...\n\n"
	        "Validate the configuration, then check it as a whole: routes to subsets or\n"
	        "hosts that nothing defines, precedence ties, mTLS conflicts, selectors that\n"
	        "match no workload ... Each finding has a code (MESH0001 ...) explained in\n"
	        "docs/analyze-codes.md.\n\n"
	        "  --fail-on-warnings      exit 1 when there is any finding\n"
	        "  --strict                non-mesh and unknown kinds are errors, not notes\n"
	        "  -n, --namespace NS      namespace of resources that name none (default)\n"
	        "  -o, --output FORMAT     text (default) or json\n"
	        "  -q, --quiet             hide notes\n\n"
	        "Exit status: 0 no errors (findings are warnings), 1 invalid configuration\n"
	        "(or findings with --fail-on-warnings), 2 usage or I/O error.\n");
}

int cmd_analyze(int argc, char **argv)
{
	struct load_opts o = { 0 };
	bool fail_on_warnings = false;
	char **paths = argv + 1;
	int npaths = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_VALID;
		}
		if (!strcmp(argv[i], "--fail-on-warnings")) {
			fail_on_warnings = true;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			int r = parse_load_opt(argc, argv, &i, &o);
			if (r < 0)
				return EXIT_USAGE;
			if (r == 0) {
				fprintf(stderr, "meshctl analyze: unknown option '%s'\n", argv[i]);
				usage(stderr);
				return EXIT_USAGE;
			}
			continue;
		}
		paths[npaths++] = argv[i];
	}
	if (npaths == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	mesh_config *cfg = NULL;
	mesh_diag *diag = NULL;
	if (mesh_diag_new(&diag)) {
		fprintf(stderr, "meshctl: out of memory\n");
		return EXIT_USAGE;
	}
	int status = EXIT_VALID;
	int rc = load_paths(&o, paths, npaths, &cfg, diag);
	if (rc != MESH_ENOMEM) {
		int findings = mesh_config_analyze(cfg, diag);
		if (findings < 0)
			rc = findings;
	}
	if (rc == MESH_ENOMEM) {
		fprintf(stderr, "meshctl: out of memory\n");
		status = EXIT_USAGE;
	} else {
		print_report(&o, cfg, diag, "analyze");
		if (rc == MESH_EIO)
			status = EXIT_USAGE;
		else if (mesh_diag_count_severity(diag, MESH_SEV_ERROR) ||
		         (fail_on_warnings && mesh_diag_count_severity(diag, MESH_SEV_WARNING)))
			status = EXIT_INVALID;
	}
	mesh_config_unref(cfg);
	mesh_diag_free(diag);
	return status;
}
