/*
 * test_security.c - mTLS policy: the inbound mode of a workload from
 * PeerAuthentication resources (mesh, namespace and workload levels, UNSET
 * inheritance, portLevelMtls, the oldest policy of a level, the root
 * namespace), the MeshConfig trust domain, the index cached on the config
 * (reloads, threads, allocation failures).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "core/core.h"
#include "config/config_int.h"

#define PA_HEAD "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"

static const char *const finance[] = { "app", "finance", "version", "v1", NULL };
static const char *const other[] = { "app", "other", NULL };

static mesh_config *load(const char *yaml)
{
	mesh_config *cfg;
	mesh_diag *d;
	int rc = tu_load(yaml, 0, &cfg, &d);
	if (rc)
		tu_dump(d);
	ck_assert_int_eq(rc, 0);
	mesh_diag_free(d);
	return cfg;
}

/* The mode for (ns, labels, port); *src gets its source. */
static int mode(const mesh_config *cfg, const char *ns, const char *const *labels, unsigned port,
                const char **src)
{
	const char *s = NULL;
	int m = mesh_mtls_mode(cfg, ns, labels, port, &s);
	ck_assert_ptr_nonnull(s);
	if (src)
		*src = s;
	return m;
}

static void assert_mode(const mesh_config *cfg, const char *ns, const char *const *labels,
                        unsigned port, int want, const char *want_src)
{
	const char *src;
	int m = mode(cfg, ns, labels, port, &src);
	ck_assert_msg(m == want && !strcmp(src, want_src),
	              "%s %s port %u: got %s (%s), wanted %s (%s)", ns, labels ? labels[1] : "-",
	              port, mesh_mtls_mode_name(m), src, mesh_mtls_mode_name(want), want_src);
}

START_TEST(no_policy_is_permissive)
{
	mesh_config *cfg = load("");
	assert_mode(cfg, "foo", finance, 8080, MESH_MTLS_PERMISSIVE, "default");
	assert_mode(cfg, NULL, NULL, 0, MESH_MTLS_PERMISSIVE, "default");
	ck_assert_int_eq(mesh_mtls_mode(NULL, "foo", NULL, 0, NULL), MESH_EINVAL);
	/* no source wanted */
	ck_assert_int_eq(mesh_mtls_mode(cfg, "foo", NULL, 0, NULL), MESH_MTLS_PERMISSIVE);
	mesh_config_unref(cfg);
}
END_TEST

START_TEST(mode_names)
{
	ck_assert_str_eq(mesh_mtls_mode_name(MESH_MTLS_UNSET), "UNSET");
	ck_assert_str_eq(mesh_mtls_mode_name(MESH_MTLS_DISABLE), "DISABLE");
	ck_assert_str_eq(mesh_mtls_mode_name(MESH_MTLS_PERMISSIVE), "PERMISSIVE");
	ck_assert_str_eq(mesh_mtls_mode_name(MESH_MTLS_STRICT), "STRICT");
	ck_assert_str_eq(mesh_mtls_mode_name(4), "unknown");
	ck_assert_str_eq(mesh_mtls_mode_name(-1), "unknown");
}
END_TEST

START_TEST(mesh_wide_strict)
{
	mesh_config *cfg = load(PA_HEAD "metadata: {name: default, namespace: istio-system}\n"
	                                "spec: {mtls: {mode: STRICT}}\n");
	assert_mode(cfg, "foo", finance, 8080, MESH_MTLS_STRICT,
	            "PeerAuthentication istio-system/default");
	assert_mode(cfg, "bar", NULL, 0, MESH_MTLS_STRICT,
	            "PeerAuthentication istio-system/default");
	/* workloads of the root namespace too */
	assert_mode(cfg, "istio-system", other, 0, MESH_MTLS_STRICT,
	            "PeerAuthentication istio-system/default");
	mesh_config_unref(cfg);
}
END_TEST

START_TEST(namespace_overrides_mesh)
{
	mesh_config *cfg =
		load(PA_HEAD "metadata: {name: default, namespace: istio-system}\n"
	                     "spec: {mtls: {mode: STRICT}}\n"
	                     "---\n" PA_HEAD "metadata: {name: ns-wide, namespace: foo}\n"
	                     "spec: {mtls: {mode: PERMISSIVE}}\n");
	assert_mode(cfg, "foo", finance, 0, MESH_MTLS_PERMISSIVE, "PeerAuthentication foo/ns-wide");
	assert_mode(cfg, "bar", finance, 0, MESH_MTLS_STRICT,
	            "PeerAuthentication istio-system/default");
	mesh_config_unref(cfg);
}
END_TEST

START_TEST(workload_overrides_namespace)
{
	mesh_config *cfg =
		load(PA_HEAD "metadata: {name: default, namespace: foo}\n"
	                     "spec: {mtls: {mode: STRICT}}\n"
	                     "---\n" PA_HEAD "metadata: {name: finance, namespace: foo}\n"
	                     "spec:\n"
	                     "  selector: {matchLabels: {app: finance}}\n"
	                     "  mtls: {mode: DISABLE}\n");
	assert_mode(cfg, "foo", finance, 0, MESH_MTLS_DISABLE, "PeerAuthentication foo/finance");
	assert_mode(cfg, "foo", other, 0, MESH_MTLS_STRICT, "PeerAuthentication foo/default");
	assert_mode(cfg, "foo", NULL, 0, MESH_MTLS_STRICT, "PeerAuthentication foo/default");
	/* a selector selects in its own namespace only */
	assert_mode(cfg, "bar", finance, 0, MESH_MTLS_PERMISSIVE, "default");
	mesh_config_unref(cfg);
}
END_TEST

START_TEST(port_level_on_selector_policy)
{
	mesh_config *cfg = load(PA_HEAD "metadata: {name: finance, namespace: foo}\n"
	                                "spec:\n"
	                                "  selector: {matchLabels: {app: finance}}\n"
	                                "  mtls: {mode: STRICT}\n"
	                                "  portLevelMtls:\n"
	                                "    8080: {mode: DISABLE}\n"
	                                "    \"9000\": {mode: PERMISSIVE}\n"
	                                "    9090: {mode: UNSET}\n");
	assert_mode(cfg, "foo", finance, 8080, MESH_MTLS_DISABLE,
	            "PeerAuthentication foo/finance port 8080");
	assert_mode(cfg, "foo", finance, 9000, MESH_MTLS_PERMISSIVE,
	            "PeerAuthentication foo/finance port 9000");
	/* an UNSET port inherits the policy's result */
	assert_mode(cfg, "foo", finance, 9090, MESH_MTLS_STRICT, "PeerAuthentication foo/finance");
	assert_mode(cfg, "foo", finance, 9443, MESH_MTLS_STRICT, "PeerAuthentication foo/finance");
	assert_mode(cfg, "foo", finance, 0, MESH_MTLS_STRICT, "PeerAuthentication foo/finance");
	/* not selected: no port-level settings */
	assert_mode(cfg, "foo", other, 8080, MESH_MTLS_PERMISSIVE, "default");
	mesh_config_unref(cfg);
}
END_TEST

START_TEST(port_level_on_wide_policy_ignored)
{
	/* the validator refuses it; the namespace-wide mode stays in force */
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(tu_load(PA_HEAD "metadata: {name: default, namespace: foo}\n"
	                                 "spec: {mtls: {mode: STRICT}}\n"
	                                 "---\n" PA_HEAD "metadata: {name: ports, namespace: foo}\n"
	                                 "spec:\n"
	                                 "  mtls: {mode: STRICT}\n"
	                                 "  portLevelMtls: {8080: {mode: DISABLE}}\n",
	                         0, &cfg, &d),
	                 MESH_ECONFIG);
	assert_mode(cfg, "foo", finance, 8080, MESH_MTLS_STRICT, "PeerAuthentication foo/default");
	mesh_config_unref(cfg);
	mesh_diag_free(d);

	/* and the resolver ignores it too: make a valid selector policy
	 * selector-less behind the validator's back */
	cfg = load(PA_HEAD "metadata: {name: ports, namespace: foo}\n"
	                   "spec:\n"
	                   "  selector: {matchLabels: {app: finance}}\n"
	                   "  mtls: {mode: STRICT}\n"
	                   "  portLevelMtls: {8080: {mode: DISABLE}}\n");
	const mesh_resource *r =
		mesh_config_find(cfg, MESH_KIND_PEER_AUTHENTICATION, "foo", "ports");
	ck_assert_ptr_nonnull(r);
	struct mesh__node *sel =
		(struct mesh__node *)mesh__node_path(r->spec, "selector.matchLabels");
	ck_assert_ptr_nonnull(sel);
	sel->count = 0;
	assert_mode(cfg, "foo", finance, 8080, MESH_MTLS_STRICT, "PeerAuthentication foo/ports");
	assert_mode(cfg, "foo", other, 8080, MESH_MTLS_STRICT, "PeerAuthentication foo/ports");
	mesh_config_unref(cfg);
}
END_TEST

START_TEST(unset_inherits)
{
	mesh_config *cfg =
		load(PA_HEAD "metadata: {name: default, namespace: istio-system}\n"
	                     "spec: {mtls: {mode: STRICT}}\n"
	                     "---\n" PA_HEAD "metadata: {name: default, namespace: foo}\n"
	                     "spec: {mtls: {}}\n"
	                     "---\n" PA_HEAD "metadata: {name: finance, namespace: foo}\n"
	                     "spec:\n"
	                     "  selector: {matchLabels: {app: finance}}\n"
	                     "  mtls: {mode: UNSET}\n"
	                     "  portLevelMtls: {8080: {mode: DISABLE}}\n"
	                     "---\n" PA_HEAD "metadata: {name: default, namespace: bar}\n"
	                     "spec: {mtls: {mode: DISABLE}}\n"
	                     "---\n" PA_HEAD "metadata: {name: finance, namespace: bar}\n"
	                     "spec:\n"
	                     "  selector: {matchLabels: {app: finance}}\n");
	/* workload UNSET -> namespace `mtls: {}` (UNSET too) -> mesh */
	assert_mode(cfg, "foo", finance, 0, MESH_MTLS_STRICT,
	            "PeerAuthentication istio-system/default");
	assert_mode(cfg, "foo", finance, 8080, MESH_MTLS_DISABLE,
	            "PeerAuthentication foo/finance port 8080");
	assert_mode(cfg, "foo", other, 0, MESH_MTLS_STRICT,
	            "PeerAuthentication istio-system/default");
	/* no mtls at all is UNSET as well */
	assert_mode(cfg, "bar", finance, 0, MESH_MTLS_DISABLE, "PeerAuthentication bar/default");
	mesh_config_unref(cfg);
}
END_TEST

START_TEST(oldest_policy_of_a_level_wins)
{
	mesh_config *cfg = load(
		PA_HEAD "metadata: {name: aaa, namespace: foo, "
			"creationTimestamp: \"2024-03-01T00:00:00Z\"}\n"
			"spec: {selector: {matchLabels: {app: finance}}, mtls: {mode: DISABLE}}\n"
			"---\n" PA_HEAD "metadata: {name: zzz, namespace: foo, "
			"creationTimestamp: \"2024-01-01T00:00:00Z\"}\n"
			"spec: {selector: {matchLabels: {version: v1}}, mtls: {mode: STRICT}}\n"
			/* same instant as zzz: then by name */
			"---\n" PA_HEAD "metadata: {name: zz, namespace: foo, "
			"creationTimestamp: \"2024-01-01T01:00:00+01:00\"}\n"
			"spec: {selector: {matchLabels: {version: v1}}, mtls: {mode: PERMISSIVE}}\n"
			/* namespace level: the oldest is UNSET and still chosen */
			"---\n" PA_HEAD "metadata: {name: b, namespace: bar, "
			"creationTimestamp: 2023-06-01T00:00:00.5Z}\n"
			"spec: {mtls: {mode: STRICT}}\n"
			"---\n" PA_HEAD "metadata: {name: c, namespace: bar, "
			"creationTimestamp: 2023-06-01T00:00:00.25Z}\n"
			"spec: {mtls: {mode: UNSET}}\n"
			/* without a timestamp a policy counts as the oldest */
			"---\n" PA_HEAD "metadata: {name: z, namespace: baz}\n"
			"spec: {mtls: {mode: DISABLE}}\n"
			"---\n" PA_HEAD "metadata: {name: a, namespace: baz, "
			"creationTimestamp: 2020-01-01T00:00:00Z}\n"
			"spec: {mtls: {mode: STRICT}}\n");
	assert_mode(cfg, "foo", finance, 0, MESH_MTLS_PERMISSIVE, "PeerAuthentication foo/zz");
	static const char *const v2[] = { "app", "finance", "version", "v2", NULL };
	assert_mode(cfg, "foo", v2, 0, MESH_MTLS_DISABLE, "PeerAuthentication foo/aaa");
	assert_mode(cfg, "bar", NULL, 0, MESH_MTLS_PERMISSIVE, "default");
	assert_mode(cfg, "baz", NULL, 0, MESH_MTLS_DISABLE, "PeerAuthentication baz/z");
	mesh_config_unref(cfg);
}
END_TEST

START_TEST(root_namespace_from_meshconfig)
{
	mesh_config *cfg =
		load("apiVersion: mesh.libmesh.io/v1alpha1\n"
	             "kind: MeshConfig\n"
	             "metadata: {name: mesh, namespace: mesh-root}\n"
	             "spec: {rootNamespace: mesh-root, trustDomain: example.org}\n"
	             "---\n" PA_HEAD "metadata: {name: default, namespace: mesh-root}\n"
	             "spec: {mtls: {mode: STRICT}}\n"
	             /* a selector policy in the root namespace is ignored */
	             "---\n" PA_HEAD "metadata: {name: sel, namespace: mesh-root}\n"
	             "spec: {selector: {matchLabels: {app: finance}}, "
	             "mtls: {mode: DISABLE}}\n"
	             /* istio-system is an ordinary namespace now */
	             "---\n" PA_HEAD "metadata: {name: default, namespace: istio-system}\n"
	             "spec: {mtls: {mode: DISABLE}}\n");
	assert_mode(cfg, "foo", finance, 0, MESH_MTLS_STRICT,
	            "PeerAuthentication mesh-root/default");
	assert_mode(cfg, "mesh-root", finance, 0, MESH_MTLS_STRICT,
	            "PeerAuthentication mesh-root/default");
	assert_mode(cfg, "istio-system", NULL, 0, MESH_MTLS_DISABLE,
	            "PeerAuthentication istio-system/default");
	ck_assert_str_eq(mesh_config_trust_domain(cfg), "example.org");
	mesh_config_unref(cfg);

	/* without a MeshConfig: istio-system and cluster.local */
	cfg = load(PA_HEAD "metadata: {name: default, namespace: istio-system}\n"
	                   "spec: {mtls: {mode: DISABLE}}\n");
	assert_mode(cfg, "foo", NULL, 0, MESH_MTLS_DISABLE,
	            "PeerAuthentication istio-system/default");
	ck_assert_str_eq(mesh_config_trust_domain(cfg), "cluster.local");
	ck_assert_ptr_null(mesh_config_trust_domain(NULL));
	mesh_config_unref(cfg);
}
END_TEST

START_TEST(meshconfig_mode_under_every_policy)
{
	mesh_config *cfg = load("apiVersion: mesh.libmesh.io/v1alpha1\n"
	                        "kind: MeshConfig\n"
	                        "metadata: {name: mesh}\n"
	                        "spec: {mtls: {mode: STRICT}}\n"
	                        "---\n" PA_HEAD "metadata: {name: default, namespace: foo}\n"
	                        "spec: {mtls: {mode: PERMISSIVE}}\n"
	                        "---\n" PA_HEAD "metadata: {name: default, namespace: bar}\n"
	                        "spec: {mtls: {}}\n");
	assert_mode(cfg, "foo", NULL, 0, MESH_MTLS_PERMISSIVE, "PeerAuthentication foo/default");
	assert_mode(cfg, "bar", NULL, 0, MESH_MTLS_STRICT, "MeshConfig default/mesh");
	assert_mode(cfg, "baz", NULL, 0, MESH_MTLS_STRICT, "MeshConfig default/mesh");
	/* a MeshConfig without trustDomain */
	ck_assert_str_eq(mesh_config_trust_domain(cfg), "cluster.local");
	mesh_config_unref(cfg);
}
END_TEST

START_TEST(loading_more_refreshes_the_index)
{
	mesh_config *cfg = load(PA_HEAD "metadata: {name: default, namespace: foo}\n"
	                                "spec: {mtls: {mode: STRICT}}\n");
	const char *first;
	ck_assert_int_eq(mode(cfg, "foo", finance, 0, &first), MESH_MTLS_STRICT);
	const char *y = PA_HEAD "metadata: {name: finance, namespace: foo}\n"
				"spec: {selector: {matchLabels: {app: finance}}, "
				"mtls: {mode: DISABLE}}\n";
	ck_assert_int_eq(mesh_config_load_buffer(cfg, "more.yaml", y, strlen(y), NULL), 0);
	assert_mode(cfg, "foo", finance, 0, MESH_MTLS_DISABLE, "PeerAuthentication foo/finance");
	/* what the first index handed out lives as long as the config */
	ck_assert_str_eq(first, "PeerAuthentication foo/default");
	mesh_config_unref(cfg);
}
END_TEST

struct race {
	const mesh_config *cfg;
	int fails;
};

static void *racer(void *arg)
{
	struct race *r = arg;
	for (int i = 0; i < 200; i++) {
		const char *src = NULL;
		if (mesh_mtls_mode(r->cfg, "foo", finance, 8080, &src) != MESH_MTLS_DISABLE ||
		    !src || strcmp(src, "PeerAuthentication foo/finance port 8080"))
			r->fails++;
	}
	return NULL;
}

START_TEST(threads_share_one_index)
{
	mesh_config *cfg = load(PA_HEAD "metadata: {name: finance, namespace: foo}\n"
	                                "spec:\n"
	                                "  selector: {matchLabels: {app: finance}}\n"
	                                "  portLevelMtls: {8080: {mode: DISABLE}}\n");
	pthread_t t[4];
	struct race r[4];
	for (int i = 0; i < 4; i++) {
		r[i] = (struct race){ cfg, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, racer, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(r[i].fails, 0);
	}
	mesh_config_unref(cfg);
}
END_TEST

START_TEST(allocation_failures)
{
	mesh_config *cfg = load("apiVersion: mesh.libmesh.io/v1alpha1\n"
	                        "kind: MeshConfig\n"
	                        "metadata: {name: mesh}\n"
	                        "spec: {mtls: {mode: STRICT}}\n"
	                        "---\n" PA_HEAD "metadata: {name: finance, namespace: foo}\n"
	                        "spec:\n"
	                        "  selector: {matchLabels: {app: finance}}\n"
	                        "  portLevelMtls: {8080: {mode: DISABLE}, 8443: {mode: STRICT}}\n");
	bool ok = false;
	for (long n = 0; n < 100 && !ok; n++) {
		mesh__alloc_fail_after(n);
		const char *src = NULL;
		int m = mesh_mtls_mode(cfg, "foo", finance, 8080, &src);
		mesh__alloc_fail_after(-1);
		ck_assert(m == MESH_ENOMEM || m == MESH_MTLS_DISABLE);
		ok = m == MESH_MTLS_DISABLE;
	}
	ck_assert(ok);
	mesh_config_unref(cfg);
}
END_TEST

static Suite *security_suite(void)
{
	Suite *s = suite_create("security");
	TCase *t = tcase_create("mtls");
	tcase_add_test(t, no_policy_is_permissive);
	tcase_add_test(t, mode_names);
	tcase_add_test(t, mesh_wide_strict);
	tcase_add_test(t, namespace_overrides_mesh);
	tcase_add_test(t, workload_overrides_namespace);
	tcase_add_test(t, port_level_on_selector_policy);
	tcase_add_test(t, port_level_on_wide_policy_ignored);
	tcase_add_test(t, unset_inherits);
	tcase_add_test(t, oldest_policy_of_a_level_wins);
	tcase_add_test(t, root_namespace_from_meshconfig);
	tcase_add_test(t, meshconfig_mode_under_every_policy);
	tcase_add_test(t, loading_more_refreshes_the_index);
	tcase_add_test(t, threads_share_one_index);
	tcase_add_test(t, allocation_failures);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(security_suite());
}
