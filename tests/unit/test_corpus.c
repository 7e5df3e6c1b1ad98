/*
 * test_corpus.c - every file of real Istio configuration in the shared
 * corpus validates cleanly: each mesh resource is accepted, nothing else is
 * an error or a warning.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

static const char *corpus_dir(void)
{
	const char *d = getenv("MESH_CORPUS_DIR");
	return (d && *d) ? d : "../shared/corpus";
}

static size_t files_checked, resources_accepted;

static void check_file(const char *path)
{
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(mesh_config_new(&cfg), 0);
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	int rc = mesh_config_load_file(cfg, path, d);
	size_t bad = mesh_diag_count_severity(d, MESH_SEV_ERROR) +
	             mesh_diag_count_severity(d, MESH_SEV_WARNING);
	if (rc || bad) {
		fprintf(stderr, "%s: rc=%d\n", path, rc);
		tu_dump(d);
	}
	ck_assert_msg(rc == 0 && bad == 0, "%s was not accepted cleanly", path);
	files_checked++;
	resources_accepted += mesh_config_resource_count(cfg);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}

static void walk(const char *dir)
{
	DIR *dh = opendir(dir);
	ck_assert_msg(dh != NULL, "cannot open corpus directory %s", dir);
	struct dirent *e;
	while ((e = readdir(dh))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		size_t l = strlen(e->d_name);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			walk(path);
		else if (l > 5 && !strcmp(e->d_name + l - 5, ".yaml"))
			check_file(path);
	}
	closedir(dh);
}

START_TEST(corpus_is_valid)
{
	walk(corpus_dir());
	fprintf(stderr, "corpus: %zu files, %zu mesh resources accepted\n", files_checked,
	        resources_accepted);
	/* the corpus holds dozens of files and mesh resources */
	ck_assert_uint_ge(files_checked, 50);
	ck_assert_uint_ge(resources_accepted, 60);
}
END_TEST

/* The whole corpus in one config: each file's resources are accepted even
 * where names repeat across files (reported as duplicates, nothing else). */
START_TEST(corpus_strict_flags_non_mesh_kinds)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/istio-current/bookinfo__networking__bookinfo-gateway.yaml",
	         corpus_dir());
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(mesh_config_new(&cfg), 0);
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	mesh_config_set_flags(cfg, MESH_CONFIG_STRICT);
	ck_assert_int_eq(mesh_config_load_file(cfg, path, d), 0);
	mesh_config_unref(cfg);
	mesh_diag_free(d);

	snprintf(path, sizeof(path), "%s/istio-current/httpbin__httpbin.yaml", corpus_dir());
	ck_assert_int_eq(mesh_config_new(&cfg), 0);
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	mesh_config_set_flags(cfg, MESH_CONFIG_STRICT);
	ck_assert_int_eq(mesh_config_load_file(cfg, path, d), MESH_ECONFIG);
	ck_assert_uint_ge(mesh_diag_count_severity(d, MESH_SEV_ERROR), 1);
	ck_assert_ptr_nonnull(strstr(mesh_diag_message(d, 0), "refused (--strict)"));
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

int main(void)
{
	/* the corpus is not part of the repository: it lies beside it
	 * (../shared/corpus, or -Dcorpus_dir=...). A checkout elsewhere has
	 * none: skipped, and said so (meson counts exit 77 as SKIP) */
	struct stat st;
	if (stat(corpus_dir(), &st) != 0 || !S_ISDIR(st.st_mode)) {
		printf("corpus: no directory %s (configure with -Dcorpus_dir=DIR): skipped\n",
		       corpus_dir());
		return 77;
	}
	Suite *s = suite_create("corpus");
	TCase *tc = tcase_create("corpus");
	tcase_add_test(tc, corpus_is_valid);
	tcase_add_test(tc, corpus_strict_flags_non_mesh_kinds);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
