/* testutil.h - helpers shared by the unit suites. */
#ifndef MESH_TESTUTIL_H
#define MESH_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

#include <mesh/mesh.h>

/* Load @yaml (named "test.yaml") into a fresh config with @flags; returns
 * the load result; *cfg and *diag are set (free them with the caller). */
int tu_load(const char *yaml, unsigned flags, mesh_config **cfg, mesh_diag **diag);

/* Assert that loading @yaml gives exactly one error, at @line:@col, with
 * field path @path (NULL: none) and message @msg. */
#define tu_assert_one_error(yaml, line, col, path, msg)                                            \
	tu_assert_one_error_(__FILE__, __LINE__, yaml, line, col, path, msg)
void tu_assert_one_error_(const char *file, int fline, const char *yaml, unsigned line,
                          unsigned col, const char *path, const char *msg);

/* Assert that @yaml loads with no error and no warning. */
#define tu_assert_valid(yaml) tu_assert_valid_(__FILE__, __LINE__, yaml)
void tu_assert_valid_(const char *file, int fline, const char *yaml);

/* Print every diagnostic to stderr (for failing tests). */
void tu_dump(const mesh_diag *d);

/* Run one suite; returns the process exit status. */
int tu_run(Suite *s);

#endif
