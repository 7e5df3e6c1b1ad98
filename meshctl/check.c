/* check.c - meshctl validate and meshctl analyze: load configuration,
 * check it (per resource, or also across resources), report. */
#include <string.h>

#include "meshctl.h"

static void usage_validate(FILE *out)
{
	fprintf(out, "usage: meshctl validate [OPTIONS] FILE|DIR|- ...\n\n"
	             "Check mesh configuration files against the resource schemas.\n\n"
	             "  --strict                non-mesh and unknown kinds are errors, not notes\n"
	             "  --allow-unknown-fields  unknown fields are warnings, not errors\n"
	             "  -n, --namespace NS      namespace of resources that name none (default)\n"
	             "  -o, --output FORMAT     text (default) or json\n"
	             "  -q, --quiet             hide notes\n\n"
	             "Exit status: 0 valid, 1 invalid, 2 usage or I/O error.\n");
}

static void usage_analyze(FILE *out)
{
	fprintf(out, "usage: meshctl analyze [OPTIONS] FILE|DIR|- ...\n\n"
	             "Validate the configuration, then check it as a whole: routes to subsets or\n"
	             "hosts that nothing defines, precedence ties, mTLS conflicts, selectors that\n"
	             "match no workload ... Each finding has a code (MESH0001 ...) explained in\n"
	             "docs/analyze-codes.md.\n\n"
	             "  --fail-on-warnings      exit 1 when there is any finding\n"
	             "  --strict                non-mesh and unknown kinds are errors, not notes\n"
	             "  --allow-unknown-fields  unknown fields are warnings, not errors\n"
	             "  -n, --namespace NS      namespace of resources that name none (default)\n"
	             "  -o, --output FORMAT     text (default) or json\n"
	             "  -q, --quiet             hide notes\n\n"
	             "Exit status: 0 no errors (findings are warnings), 1 invalid configuration\n"
	             "(or findings with --fail-on-warnings), 2 usage or I/O error.\n");
}

static int run(int argc, char **argv, bool analyze)
{
	const char *cmd = analyze ? "analyze" : "validate";
	void (*usage)(FILE *) = analyze ? usage_analyze : usage_validate;
	struct load_opts o = { 0 };
	bool fail_on_warnings = false;
	char **paths = argv + 1;
	int npaths = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_VALID;
		}
		if (analyze && !strcmp(argv[i], "--fail-on-warnings")) {
			fail_on_warnings = true;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			int r = parse_load_opt(argc, argv, &i, &o);
			if (r < 0)
				return EXIT_USAGE;
			if (r == 0) {
				fprintf(stderr, "meshctl %s: unknown option '%s'\n", cmd, argv[i]);
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
	if (analyze && rc != MESH_ENOMEM) {
		int findings = mesh_config_analyze(cfg, diag);
		if (findings < 0)
			rc = findings;
	}
	if (rc == MESH_ENOMEM) {
		fprintf(stderr, "meshctl: out of memory\n");
		status = EXIT_USAGE;
	} else {
		print_report(&o, cfg, diag, cmd);
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

int cmd_validate(int argc, char **argv)
{
	return run(argc, argv, false);
}

int cmd_analyze(int argc, char **argv)
{
	return run(argc, argv, true);
}
