/* validate.c - meshctl validate: schema checks of configuration files. */
#include <string.h>

#include "meshctl.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: meshctl validate [OPTIONS] FILE|DIR|- ...\n\n"
	        "Check mesh configuration files against the resource schemas.\n\n"
	        "  --strict                non-mesh and unknown kinds are errors, not notes\n"
	        "  --allow-unknown-fields  unknown fields are warnings, not errors\n"
	        "  -n, --namespace NS      namespace of resources that name none (default)\n"
	        "  -o, --output FORMAT     text (default) or json\n"
	        "  -q, --quiet             hide notes\n\n"
	        "Exit status: 0 valid, 1 invalid, 2 usage or I/O error.\n");
}

int cmd_validate(int argc, char **argv)
{
	struct load_opts o = { 0 };
	char **paths = argv + 1;
	int npaths = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_VALID;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			int r = parse_load_opt(argc, argv, &i, &o);
			if (r < 0)
				return EXIT_USAGE;
			if (r == 0) {
				fprintf(stderr, "meshctl validate: unknown option '%s'\n", argv[i]);
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
	int rc = load_paths(&o, paths, npaths, &cfg, diag);
	int status;
	if (rc == MESH_ENOMEM) {
		fprintf(stderr, "meshctl: out of memory\n");
		status = EXIT_USAGE;
	} else {
		print_report(&o, cfg, diag, "validate");
		if (rc == MESH_EIO)
			status = EXIT_USAGE;
		else
			status = mesh_diag_count_severity(diag, MESH_SEV_ERROR) ? EXIT_INVALID
			                                                         : EXIT_VALID;
	}
	mesh_config_unref(cfg);
	mesh_diag_free(diag);
	return status;
}
