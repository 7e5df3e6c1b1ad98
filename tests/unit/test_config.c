/* test_config.c - the config model: loading, kinds, index, accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static const char *two_docs = "# the seed's rules\n"
			      "apiVersion: config.istio.io/v1alpha2\n"
			      "kind: RouteRule\n"
			      "metadata:\n"
			      "  name: reviews-default\n"
			      "spec:\n"
			      "  destination:\n"
			      "    name: reviews\n"
			      "  precedence: 1\n"
			      "  route:\n"
			      "  - labels:\n"
			      "      version: v1\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: DestinationRule\n"
			      "metadata:\n"
			      "  name: reviews\n"
			      "  namespace: shop\n"
			      "spec:\n"
			      "  host: reviews\n"
			      "  subsets:\n"
			      "  - name: v1\n"
			      "    labels: {version: v1}\n";

START_TEST(load_and_access)
{
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(tu_load(two_docs, 0, &cfg, &d), 0);
	ck_assert_uint_eq(mesh_config_resource_count(cfg), 2);
	ck_assert_uint_eq(mesh_config_file_count(cfg), 1);
	const mesh_resource *r = mesh_config_resource_at(cfg, 0);
	ck_assert_int_eq(mesh_resource_kind(r), MESH_KIND_ROUTE_RULE);
	ck_assert_str_eq(mesh_resource_name(r), "reviews-default");
	ck_assert_str_eq(mesh_resource_namespace(r), "default");
	ck_assert_str_eq(mesh_resource_api_version(r), "config.istio.io/v1alpha2");
	ck_assert_str_eq(mesh_resource_file(r), "test.yaml");
	const char *s;
	int64_t n;
	unsigned line, col;
	ck_assert_int_eq(mesh_resource_get_string(r, "spec.route[0].labels.version", &s), 0);
	ck_assert_str_eq(s, "v1");
	ck_assert_int_eq(mesh_resource_get_int(r, "spec.precedence", &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(mesh_resource_get_position(r, "spec.precedence", &line, &col), 0);
	ck_assert_uint_eq(line, 9);
	ck_assert_uint_eq(col, 15);
	ck_assert_int_eq(mesh_resource_get_type(r, "spec.route"), MESH_VALUE_LIST);
	ck_assert_int_eq(mesh_resource_get_type(r, "spec"), MESH_VALUE_MAP);
	ck_assert_int_eq(mesh_resource_get_type(r, "spec.nothing"), MESH_VALUE_NONE);
	ck_assert_uint_eq(mesh_resource_get_count(r, "spec.route"), 1);
	ck_assert_int_eq(mesh_resource_get_key(r, "spec", 1, &s), 0);
	ck_assert_str_eq(s, "precedence");
	ck_assert_int_eq(mesh_resource_get_int(r, "spec.destination.name", &n), MESH_ETYPE);
	ck_assert_int_eq(mesh_resource_get_string(r, "spec.route[3]", &s), MESH_ENOTFOUND);
	ck_assert_int_eq(mesh_resource_get_string(r, "spec.route", &s), MESH_ETYPE);

	const mesh_resource *dr =
		mesh_config_find(cfg, MESH_KIND_DESTINATION_RULE, "shop", "reviews");
	ck_assert_ptr_nonnull(dr);
	ck_assert_uint_eq(mesh_resource_line(dr), 14);
	ck_assert_ptr_null(mesh_config_find(cfg, MESH_KIND_DESTINATION_RULE, NULL, "reviews"));
	ck_assert_ptr_eq(mesh_config_find(cfg, MESH_KIND_ROUTE_RULE, NULL, "reviews-default"), r);
	ck_assert_ptr_null(mesh_config_resource_at(cfg, 2));
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

START_TEST(refcount)
{
	mesh_config *cfg;
	ck_assert_int_eq(mesh_config_new(&cfg), 0);
	ck_assert_ptr_eq(mesh_config_ref(cfg), cfg);
	mesh_config_unref(cfg);
	mesh_config_unref(cfg);
	mesh_config_unref(NULL);
}
END_TEST

START_TEST(duplicates_across_inputs)
{
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(tu_load(two_docs, 0, &cfg, &d), 0);
	int rc = mesh_config_load_buffer(cfg, "other.yaml", two_docs, strlen(two_docs), d);
	ck_assert_int_eq(rc, MESH_ECONFIG);
	ck_assert_uint_eq(mesh_diag_count(d), 2);
	char *s = mesh_diag_format(d, 0);
	ck_assert_str_eq(s, "other.yaml:5:9: error: metadata.name: duplicate RouteRule "
	                    "\"default/reviews-default\" (first defined at test.yaml:5:9)");
	mesh_free(s);
	/* the first ones stay */
	ck_assert_uint_eq(mesh_config_resource_count(cfg), 2);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

START_TEST(default_namespace)
{
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(mesh_config_new(&cfg), 0);
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	ck_assert_int_eq(mesh_config_set_default_namespace(cfg, "bookinfo"), 0);
	ck_assert_int_eq(mesh_config_set_default_namespace(cfg, ""), MESH_EINVAL);
	ck_assert_int_eq(mesh_config_load_buffer(cfg, "x", two_docs, strlen(two_docs), d), 0);
	ck_assert_str_eq(mesh_resource_namespace(mesh_config_resource_at(cfg, 0)), "bookinfo");
	ck_assert_str_eq(mesh_resource_namespace(mesh_config_resource_at(cfg, 1)), "shop");
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

START_TEST(non_mesh_kinds)
{
	static const char *yaml = "apiVersion: apps/v1\n"
				  "kind: Deployment\n"
				  "metadata: {name: details-v1}\n"
				  "---\n"
				  "apiVersion: config.istio.io/v1alpha2\n"
				  "kind: denier\n"
				  "metadata: {name: x}\n";
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(tu_load(yaml, 0, &cfg, &d), 0);
	ck_assert_uint_eq(mesh_diag_count(d), 2);
	ck_assert_int_eq(mesh_diag_severity(d, 0), MESH_SEV_NOTE);
	ck_assert_str_eq(
		mesh_diag_message(d, 0),
		"apps/v1 Deployment \"details-v1\" is not a kind libmesh implements; skipped");
	ck_assert_uint_eq(mesh_diag_line(d, 1), 6);
	ck_assert_uint_eq(mesh_config_resource_count(cfg), 0);
	mesh_config_unref(cfg);
	mesh_diag_free(d);

	ck_assert_int_eq(tu_load(yaml, MESH_CONFIG_STRICT, &cfg, &d), MESH_ECONFIG);
	ck_assert_uint_eq(mesh_diag_count_severity(d, MESH_SEV_ERROR), 2);
	ck_assert_str_eq(mesh_diag_message(d, 0), "apps/v1 Deployment \"details-v1\" is not a kind "
	                                          "libmesh implements; refused (--strict)");
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

START_TEST(envelope_errors)
{
	tu_assert_one_error("kind: VirtualService\nmetadata: {name: a}\n", 1, 1, NULL,
	                    "missing required field \"apiVersion\"");
	tu_assert_one_error("apiVersion: networking.istio.io/v1\nmetadata: {name: a}\n", 1, 1, NULL,
	                    "missing required field \"kind\"");
	tu_assert_one_error("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
	                    "spec: {host: a}\n",
	                    1, 1, NULL, "missing required field \"metadata\"");
	tu_assert_one_error("apiVersion: networking.istio.io/v2\nkind: DestinationRule\n"
	                    "metadata: {name: a}\nspec: {host: a}\n",
	                    1, 13, "apiVersion",
	                    "unsupported version \"v2\" of DestinationRule; supported: v1alpha3, "
	                    "v1beta1, v1");
	tu_assert_one_error("apiVersion: security.istio.io/v1\nkind: DestinationRule\n"
	                    "metadata: {name: a}\nspec: {host: a}\n",
	                    1, 13, "apiVersion",
	                    "DestinationRule belongs to networking.istio.io, not "
	                    "\"security.istio.io/v1\"");
	tu_assert_one_error("- a\n- b\n", 1, 1, NULL,
	                    "a resource must be a mapping with apiVersion and kind, got a list");
	tu_assert_one_error("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
	                    "metadata: {name: Reviews}\nspec: {host: a}\n",
	                    3, 18, "metadata.name",
	                    "invalid name \"Reviews\": must consist of lower case letters, digits, "
	                    "'-' and '.'");
	tu_assert_one_error("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
	                    "metadata: {name: r, namespace: a.b}\nspec: {host: a}\n",
	                    3, 32, "metadata.namespace",
	                    "invalid namespace \"a.b\": must consist of lower case letters, digits "
	                    "and '-'");
	tu_assert_one_error(
		"apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		"metadata: {name: r, nmespace: a}\nspec: {host: a}\n",
		3, 21, "metadata.nmespace",
		"unknown field \"nmespace\" in ObjectMeta, did you mean \"namespace\"?");
	tu_assert_one_error("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
	                    "metadata: {name: r}\nspec: {host: a}\nsepc: {}\n",
	                    5, 1, "sepc",
	                    "unknown field \"sepc\" in resource, did you mean \"spec\"?");
}
END_TEST

START_TEST(load_directory)
{
	char dir[] = "/tmp/mesh-test-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/b.yaml", dir);
	FILE *f = fopen(path, "w");
	fputs(two_docs, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/sub/a.yml", dir);
	f = fopen(path, "w");
	fputs("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\n"
	      "spec:\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n"
	      "    hosts: ['*']\n",
	      f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	f = fopen(path, "w");
	fputs("not: [yaml", f);
	fclose(f);

	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(mesh_config_new(&cfg), 0);
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	int rc = mesh_config_load_path(cfg, dir, d);
	if (rc)
		tu_dump(d);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(mesh_config_file_count(cfg), 2);
	ck_assert_uint_eq(mesh_config_resource_count(cfg), 3);
	/* name order: b.yaml before sub/ */
	ck_assert_int_eq(mesh_resource_kind(mesh_config_resource_at(cfg, 2)), MESH_KIND_GATEWAY);
	mesh_config_unref(cfg);
	mesh_diag_free(d);

	ck_assert_int_eq(mesh_config_new(&cfg), 0);
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	ck_assert_int_eq(mesh_config_load_path(cfg, path, d), MESH_EIO);
	ck_assert_str_eq(mesh_diag_message(d, 0), "cannot open: No such file or directory");
	mesh_config_unref(cfg);
	mesh_diag_free(d);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(kind_names)
{
	ck_assert_str_eq(mesh_kind_name(MESH_KIND_VIRTUAL_SERVICE), "VirtualService");
	ck_assert_str_eq(mesh_kind_name(MESH_KIND_MESH_CONFIG), "MeshConfig");
	ck_assert_str_eq(mesh_kind_name(999), "Unknown");
	ck_assert_int_eq(mesh_kind_from_name("PeerAuthentication"), MESH_KIND_PEER_AUTHENTICATION);
	ck_assert_int_eq(mesh_kind_from_name("Deployment"), MESH_KIND_UNKNOWN);
	for (int k = 1; k < MESH_KIND_COUNT_; k++)
		ck_assert_int_eq(mesh_kind_from_name(mesh_kind_name(k)), k);
}
END_TEST

START_TEST(snake_case_fields)
{
	tu_assert_valid("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
	                "metadata: {name: r}\nspec:\n  host: a\n  traffic_policy:\n"
	                "    connection_pool:\n      tcp: {max_connections: 10}\n"
	                "    outlier_detection: {consecutive_5xx_errors: 3}\n");
}
END_TEST

/* Found by fuzzing: a kept non-mesh object without a usable name. */
START_TEST(nameless_kubernetes_object)
{
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(
		tu_load("apiVersion: v1\nkind: Service\nmetadata:\n  name:\n", 0, &cfg, &d), 0);
	ck_assert_int_ge(mesh_config_analyze(cfg, d), 0);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, load_and_access);
	tcase_add_test(tc, refcount);
	tcase_add_test(tc, duplicates_across_inputs);
	tcase_add_test(tc, default_namespace);
	tcase_add_test(tc, non_mesh_kinds);
	tcase_add_test(tc, envelope_errors);
	tcase_add_test(tc, load_directory);
	tcase_add_test(tc, kind_names);
	tcase_add_test(tc, snake_case_fields);
	tcase_add_test(tc, nameless_kubernetes_object);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
