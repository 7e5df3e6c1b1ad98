/* testutil.c - helpers shared by the unit suites. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

int tu_load(const char *yaml, unsigned flags, mesh_config **cfg, mesh_diag **diag)
{
	ck_assert_int_eq(mesh_config_new(cfg), 0);
	ck_assert_int_eq(mesh_diag_new(diag), 0);
	mesh_config_set_flags(*cfg, flags);
	return mesh_config_load_buffer(*cfg, "test.yaml", yaml, strlen(yaml), *diag);
}

void tu_dump(const mesh_diag *d)
{
	for (size_t i = 0; i < mesh_diag_count(d); i++) {
		char *s = mesh_diag_format(d, i);
		fprintf(stderr, "  | %s\n", s ? s : "(oom)");
		mesh_free(s);
	}
}

void tu_assert_one_error_(const char *file, int fline, const char *yaml, unsigned line,
                          unsigned col, const char *path, const char *msg)
{
	mesh_config *cfg;
	mesh_diag *d;
	int rc = tu_load(yaml, 0, &cfg, &d);
	size_t errors = mesh_diag_count_severity(d, MESH_SEV_ERROR);
	size_t at = 0;
	while (at < mesh_diag_count(d) && mesh_diag_severity(d, at) != MESH_SEV_ERROR)
		at++;
	bool ok = rc == MESH_ECONFIG && errors == 1 && mesh_diag_line(d, at) == line &&
	          mesh_diag_column(d, at) == col &&
	          ((!path && !mesh_diag_path(d, at)) ||
	           (path && mesh_diag_path(d, at) && !strcmp(path, mesh_diag_path(d, at)))) &&
	          !strcmp(msg, mesh_diag_message(d, at) ? mesh_diag_message(d, at) : "");
	if (!ok) {
		fprintf(stderr, "%s:%d: expected one error test.yaml:%u:%u: %s: %s\n  got rc=%d:\n",
		        file, fline, line, col, path ? path : "(no path)", msg, rc);
		tu_dump(d);
	}
	mesh_config_unref(cfg);
	mesh_diag_free(d);
	ck_assert_msg(ok, "%s:%d: diagnostic mismatch (see stderr)", file, fline);
}

void tu_assert_valid_(const char *file, int fline, const char *yaml)
{
	mesh_config *cfg;
	mesh_diag *d;
	int rc = tu_load(yaml, 0, &cfg, &d);
	size_t bad = mesh_diag_count_severity(d, MESH_SEV_ERROR) +
	             mesh_diag_count_severity(d, MESH_SEV_WARNING);
	if (rc || bad) {
		fprintf(stderr, "%s:%d: expected valid, got rc=%d:\n", file, fline, rc);
		tu_dump(d);
	}
	mesh_config_unref(cfg);
	mesh_diag_free(d);
	ck_assert_msg(rc == 0 && bad == 0, "%s:%d: not valid (see stderr)", file, fline);
}

int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
