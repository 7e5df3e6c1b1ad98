/* test_analyze.c - mesh_config_analyze(): each finding's code, position,
 * field path and message, and silence on configurations that are fine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"

/* What exists: reviews (a ServiceEntry selecting two WorkloadEntries) and
 * ratings (a Kubernetes Service selecting a Deployment), in "default". */
#define WORLD                                                                                      \
	"apiVersion: networking.istio.io/v1\n"                                                     \
	"kind: ServiceEntry\n"                                                                     \
	"metadata: {name: reviews}\n"                                                              \
	"spec:\n"                                                                                  \
	"  hosts: [reviews.default.svc.cluster.local]\n"                                           \
	"  location: MESH_INTERNAL\n"                                                              \
	"  ports: [{number: 9080, name: http, protocol: HTTP}]\n"                                  \
	"  resolution: STATIC\n"                                                                   \
	"  workloadSelector: {labels: {app: reviews}}\n"                                           \
	"---\n"                                                                                    \
	"apiVersion: networking.istio.io/v1\n"                                                     \
	"kind: WorkloadEntry\n"                                                                    \
	"metadata: {name: reviews-v1}\n"                                                           \
	"spec: {address: 10.0.0.1, labels: {app: reviews, version: v1}}\n"                         \
	"---\n"                                                                                    \
	"apiVersion: networking.istio.io/v1\n"                                                     \
	"kind: WorkloadEntry\n"                                                                    \
	"metadata: {name: reviews-v2}\n"                                                           \
	"spec: {address: 10.0.0.2, labels: {app: reviews, version: v2}}\n"                         \
	"---\n" RATINGS_K8S
/* ratings: a Kubernetes Service and Deployment (14 lines) */
#define RATINGS_K8S                                                                                \
	"apiVersion: v1\n"                                                                         \
	"kind: Service\n"                                                                          \
	"metadata: {name: ratings}\n"                                                              \
	"spec:\n"                                                                                  \
	"  selector: {app: ratings}\n"                                                             \
	"  ports: [{port: 9080, name: http}]\n"                                                    \
	"---\n"                                                                                    \
	"apiVersion: apps/v1\n"                                                                    \
	"kind: Deployment\n"                                                                       \
	"metadata: {name: ratings-v1}\n"                                                           \
	"spec:\n"                                                                                  \
	"  template:\n"                                                                            \
	"    metadata: {labels: {app: ratings, version: v1}}\n"                                    \
	"---\n"
/* lines of WORLD */
#define W 34

struct finding {
	const char *code;
	unsigned line, col;
	const char *path;
	const char *msg;
};

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Loads @yaml (it must have no error), analyzes it and compares the
 * findings with @want, in order. */
static void expect_(const char *file, int fline, const char *yaml, const struct finding *want,
                    size_t n)
{
	mesh_config *cfg;
	mesh_diag *d;
	int rc = tu_load(yaml, 0, &cfg, &d);
	if (rc) {
		fprintf(stderr, "%s:%d: the test input does not load cleanly (rc=%d):\n", file,
		        fline, rc);
		tu_dump(d);
		ck_abort_msg("%s:%d: bad test input", file, fline);
	}
	size_t before = mesh_diag_count(d);
	int found = mesh_config_analyze(cfg, d);
	bool ok = found == (int)n && mesh_diag_count(d) == before + n;
	for (size_t i = 0; ok && i < n; i++) {
		size_t at = before + i;
		ok = mesh_diag_severity(d, at) == MESH_SEV_WARNING &&
		     same(mesh_diag_code(d, at), want[i].code) &&
		     same(mesh_diag_file(d, at), "test.yaml") &&
		     mesh_diag_line(d, at) == want[i].line &&
		     mesh_diag_column(d, at) == want[i].col &&
		     same(mesh_diag_path(d, at), want[i].path) &&
		     same(mesh_diag_message(d, at), want[i].msg);
	}
	if (!ok) {
		fprintf(stderr, "%s:%d: expected %zu finding(s):\n", file, fline, n);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "  | test.yaml:%u:%u: %s: %s [%s]\n", want[i].line,
			        want[i].col, want[i].path ? want[i].path : "-", want[i].msg,
			        want[i].code);
		fprintf(stderr, "got %d:\n", found);
		for (size_t i = before; i < mesh_diag_count(d); i++) {
			fprintf(stderr, "  | {\"%s\", %u, %u, \"%s\",\n  |  \"%s\"},\n",
			        mesh_diag_code(d, i), mesh_diag_line(d, i), mesh_diag_column(d, i),
			        mesh_diag_path(d, i) ? mesh_diag_path(d, i) : "",
			        mesh_diag_message(d, i));
		}
	}
	mesh_config_unref(cfg);
	mesh_diag_free(d);
	ck_assert_msg(ok, "%s:%d: findings differ (see stderr)", file, fline);
}

#define EXPECT(yaml, ...)                                                                          \
	do {                                                                                       \
		static const struct finding want_[] = { __VA_ARGS__ };                             \
		expect_(__FILE__, __LINE__, yaml, want_, MESH_ARRAY_LEN(want_));                   \
	} while (0)
#define EXPECT_NONE(yaml) expect_(__FILE__, __LINE__, yaml, NULL, 0)
#ifndef MESH_ARRAY_LEN
#define MESH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* ---- a configuration with nothing to report ---- */

START_TEST(clean_config)
{
	EXPECT_NONE(
		WORLD
		"apiVersion: networking.istio.io/v1\n"
		"kind: DestinationRule\n"
		"metadata: {name: reviews}\n"
		"spec:\n"
		"  host: reviews\n"
		"  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n"
		"  subsets:\n"
		"  - {name: v1, labels: {version: v1}}\n"
		"  - {name: v2, labels: {version: v2}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: reviews}\n"
		"spec:\n"
		"  hosts: [reviews]\n"
		"  http:\n"
		"  - match: [{headers: {end-user: {exact: jason}}}]\n"
		"    route: [{destination: {host: reviews, subset: v2, port: {number: 9080}}}]\n"
		"  - match: [{uri: {prefix: /reviews/v1}}]\n"
		"    route: [{destination: {host: reviews.default, subset: v1}}]\n"
		"  - route: [{destination: {host: reviews.default.svc.cluster.local, subset: v1}}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: Gateway\n"
		"metadata: {name: bookinfo-gateway}\n"
		"spec:\n"
		"  selector: {istio: ingressgateway}\n"
		"  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [bookinfo.example.com]}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: bookinfo}\n"
		"spec:\n"
		"  hosts: [bookinfo.example.com, reviews]\n"
		"  gateways: [bookinfo-gateway]\n"
		"  http: [{route: [{destination: {host: ratings}}]}]\n"
		"---\n"
		"apiVersion: config.istio.io/v1alpha2\n"
		"kind: RouteRule\n"
		"metadata: {name: ratings-default}\n"
		"spec:\n"
		"  destination: {name: ratings}\n"
		"  precedence: 1\n"
		"  route: [{labels: {version: v1}}]\n"
		"---\n"
		"apiVersion: config.istio.io/v1alpha2\n"
		"kind: RouteRule\n"
		"metadata: {name: ratings-test}\n"
		"spec:\n"
		"  destination: {name: ratings}\n"
		"  precedence: 2\n"
		"  route: [{labels: {version: v1}}]\n"
		"---\n"
		"apiVersion: security.istio.io/v1\n"
		"kind: PeerAuthentication\n"
		"metadata: {name: default, namespace: istio-system}\n"
		"spec: {mtls: {mode: STRICT}}\n"
		"---\n"
		"apiVersion: security.istio.io/v1\n"
		"kind: AuthorizationPolicy\n"
		"metadata: {name: ratings-viewer}\n"
		"spec:\n"
		"  selector: {matchLabels: {app: ratings}}\n"
		"  action: ALLOW\n"
		"  rules: [{to: [{operation: {methods: [GET]}}]}]\n");
}
END_TEST

START_TEST(empty_and_null)
{
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(mesh_config_analyze(NULL, NULL), MESH_EINVAL);
	ck_assert_int_eq(tu_load("", 0, &cfg, &d), 0);
	ck_assert_int_eq(mesh_config_analyze(cfg, d), 0);
	ck_assert_uint_eq(mesh_diag_count(d), 0);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

START_TEST(no_diag_still_counts)
{
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(tu_load("apiVersion: networking.istio.io/v1\n"
	                         "kind: DestinationRule\n"
	                         "metadata: {name: x}\n"
	                         "spec: {host: nowhere}\n",
	                         0, &cfg, &d),
	                 0);
	ck_assert_int_eq(mesh_config_analyze(cfg, NULL), 1);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

/* ---- MESH0001: subsets ---- */

START_TEST(subset_undefined)
{
	EXPECT(WORLD "apiVersion: networking.istio.io/v1\n"
	             "kind: DestinationRule\n"
	             "metadata: {name: reviews}\n"
	             "spec:\n"
	             "  host: reviews\n"
	             "  subsets: [{name: v1, labels: {version: v1}}]\n"
	             "---\n"
	             "apiVersion: networking.istio.io/v1\n"
	             "kind: VirtualService\n"
	             "metadata: {name: reviews}\n"
	             "spec:\n"
	             "  hosts: [reviews]\n"
	             "  http:\n"
	             "  - route:\n"
	             "    - destination: {host: reviews, subset: v1}\n"
	             "      weight: 50\n"
	             "    - destination: {host: reviews, subset: v3}\n"
	             "      weight: 50\n"
	             "    mirror: {host: ratings, subset: v1}\n"
	             "  tcp:\n"
	             "  - route: [{destination: {host: reviews, subset: v9}}]\n",
	       { "MESH0001", W + 17, 44, "spec.http[0].route[1].destination.subset",
	         "subset \"v3\" is not defined by DestinationRule default/reviews (test.yaml:37) "
	         "for host reviews.default.svc.cluster.local" },
	       { "MESH0001", W + 19, 37, "spec.http[0].mirror.subset",
	         "subset \"v1\" is not defined: no DestinationRule for host "
	         "ratings.default.svc.cluster.local" },
	       { "MESH0001", W + 21, 51, "spec.tcp[0].route[0].destination.subset",
	         "subset \"v9\" is not defined by DestinationRule default/reviews (test.yaml:37) "
	         "for host reviews.default.svc.cluster.local" });
}
END_TEST

/* ---- MESH0002: RouteRule / DestinationPolicy labels ---- */

START_TEST(labels_select_nothing)
{
	EXPECT(WORLD "apiVersion: config.istio.io/v1alpha2\n"
	             "kind: RouteRule\n"
	             "metadata: {name: reviews-split}\n"
	             "spec:\n"
	             "  destination: {name: reviews}\n"
	             "  route:\n"
	             "  - labels: {version: v1}\n"
	             "    weight: 50\n"
	             "  - labels: {version: v4}\n"
	             "    weight: 50\n"
	             "  mirror: {name: ratings, labels: {version: v2}}\n"
	             "---\n"
	             "apiVersion: config.istio.io/v1alpha2\n"
	             "kind: DestinationPolicy\n"
	             "metadata: {name: ratings-cb}\n"
	             "spec:\n"
	             "  destination: {name: ratings, labels: {version: v9}}\n"
	             "  loadBalancing: {name: RANDOM}\n",
	       { "MESH0002", W + 9, 13, "spec.route[1].labels",
	         "labels version=v4 select none of the 2 known workloads of "
	         "reviews.default.svc.cluster.local" },
	       { "MESH0002", W + 11, 35, "spec.mirror.labels",
	         "labels version=v2 select none of the 1 known workload of "
	         "ratings.default.svc.cluster.local" },
	       { "MESH0002", W + 17, 40, "spec.destination.labels",
	         "labels version=v9 select none of the 1 known workload of "
	         "ratings.default.svc.cluster.local" });
}
END_TEST

START_TEST(labels_unknown_workloads)
{
	/* a service whose workloads the configuration does not hold: nothing
	 * can be said about its labels */
	EXPECT_NONE("apiVersion: v1\n"
	            "kind: Service\n"
	            "metadata: {name: details}\n"
	            "spec: {selector: {app: details}, ports: [{port: 9080}]}\n"
	            "---\n"
	            "apiVersion: config.istio.io/v1alpha2\n"
	            "kind: RouteRule\n"
	            "metadata: {name: details-v2}\n"
	            "spec:\n"
	            "  destination: {name: details}\n"
	            "  route: [{labels: {version: v2}}]\n"
	            "---\n"
	            "apiVersion: networking.istio.io/v1\n"
	            "kind: DestinationRule\n"
	            "metadata: {name: details}\n"
	            "spec: {host: details, subsets: [{name: v2, labels: {version: v2}}]}\n");
}
END_TEST

/* ---- MESH0003: hosts ---- */

START_TEST(host_not_found)
{
	EXPECT(WORLD "apiVersion: networking.istio.io/v1\n"
	             "kind: VirtualService\n"
	             "metadata: {name: shop, namespace: shop}\n"
	             "spec:\n"
	             "  hosts: [cart]\n"
	             "  http:\n"
	             "  - match: [{uri: {prefix: /cart}}]\n"
	             "    route: [{destination: {host: cart}}]\n"
	             "  - match: [{uri: {prefix: /reviews}}]\n"
	             "    route: [{destination: {host: reviews.default}}]\n"
	             "  - match: [{uri: {prefix: /ratings}}]\n"
	             "    route: [{destination: {host: ratings.default.svc}}]\n"
	             "  - match: [{uri: {prefix: /api}}]\n"
	             "    route: [{destination: {host: api.example.com}}]\n"
	             "  - route: [{destination: {host: www.googleapis.com}}]\n"
	             "---\n"
	             "apiVersion: networking.istio.io/v1\n"
	             "kind: ServiceEntry\n"
	             "metadata: {name: google, namespace: shop}\n"
	             "spec:\n"
	             "  hosts: ['*.googleapis.com']\n"
	             "  ports: [{number: 443, name: https, protocol: HTTPS}]\n"
	             "  resolution: NONE\n"
	             "---\n"
	             "apiVersion: networking.istio.io/v1\n"
	             "kind: DestinationRule\n"
	             "metadata: {name: cart, namespace: shop}\n"
	             "spec: {host: cart.shop.svc.cluster.local}\n"
	             "---\n"
	             "apiVersion: config.istio.io/v1alpha2\n"
	             "kind: RouteRule\n"
	             "metadata: {name: payments}\n"
	             "spec:\n"
	             "  destination: {name: payments, namespace: shop}\n"
	             "  route: [{labels: {version: v1}}]\n",
	       { "MESH0003", W + 8, 34, "spec.http[0].route[0].destination.host",
	         "host \"cart\" (cart.shop.svc.cluster.local) matches no ServiceEntry or "
	         "Kubernetes Service" },
	       { "MESH0003", W + 14, 34, "spec.http[3].route[0].destination.host",
	         "host \"api.example.com\" matches no ServiceEntry or Kubernetes Service" },
	       { "MESH0003", W + 28, 14, "spec.host",
	         "host \"cart.shop.svc.cluster.local\" matches no ServiceEntry or Kubernetes "
	         "Service" },
	       { "MESH0003", W + 34, 23, "spec.destination.name",
	         "host \"payments\" (payments.shop.svc.cluster.local) matches no ServiceEntry or "
	         "Kubernetes Service" });
}
END_TEST

/* ---- MESH0004: RouteRule precedence ---- */

START_TEST(precedence_tie)
{
	EXPECT(WORLD
	       "apiVersion: config.istio.io/v1alpha2\n"
	       "kind: RouteRule\n"
	       "metadata: {name: reviews-default}\n"
	       "spec:\n"
	       "  destination: {name: reviews}\n"
	       "  precedence: 1\n"
	       "  route: [{labels: {version: v1}}]\n"
	       "---\n"
	       "apiVersion: config.istio.io/v1alpha2\n"
	       "kind: RouteRule\n"
	       "metadata: {name: reviews-jason}\n"
	       "spec:\n"
	       "  destination: {name: reviews, namespace: default}\n"
	       "  precedence: 1\n"
	       "  match: {request: {headers: {cookie: {regex: '^(.*?;)?(user=jason)(;.*)?$'}}}}\n"
	       "  route: [{labels: {version: v2}}]\n"
	       "---\n"
	       "apiVersion: config.istio.io/v1alpha2\n"
	       "kind: RouteRule\n"
	       "metadata: {name: ratings-a}\n"
	       "spec:\n"
	       "  destination: {name: ratings}\n"
	       "---\n"
	       "apiVersion: config.istio.io/v1alpha2\n"
	       "kind: RouteRule\n"
	       "metadata: {name: ratings-b}\n"
	       "spec:\n"
	       "  destination: {name: ratings}\n",
	       { "MESH0004", W + 14, 15, "spec.precedence",
	         "RouteRule default/reviews-jason has precedence 1, as has RouteRule "
	         "default/reviews-default (test.yaml:40) for destination "
	         "reviews.default.svc.cluster.local: which applies first is undefined" },
	       { "MESH0004", W + 28, 23, "spec.destination.name",
	         "RouteRule default/ratings-b has precedence 0 (unset), as has RouteRule "
	         "default/ratings-a (test.yaml:56) for destination "
	         "ratings.default.svc.cluster.local: which applies first is undefined" });
}
END_TEST

/* ---- MESH0005 / MESH0012: TLS against PeerAuthentication ---- */

START_TEST(mtls_conflicts)
{
	EXPECT(WORLD "apiVersion: security.istio.io/v1\n"
	             "kind: PeerAuthentication\n"
	             "metadata: {name: default, namespace: istio-system}\n"
	             "spec: {mtls: {mode: DISABLE}}\n"
	             "---\n"
	             "apiVersion: security.istio.io/v1\n"
	             "kind: PeerAuthentication\n"
	             "metadata: {name: reviews-v2-strict}\n"
	             "spec:\n"
	             "  selector: {matchLabels: {app: reviews, version: v2}}\n"
	             "  mtls: {mode: STRICT}\n"
	             "---\n"
	             "apiVersion: networking.istio.io/v1\n"
	             "kind: DestinationRule\n"
	             "metadata: {name: reviews}\n"
	             "spec:\n"
	             "  host: reviews\n"
	             "  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n"
	             "  subsets:\n"
	             "  - name: v2\n"
	             "    labels: {version: v2}\n"
	             "    trafficPolicy: {tls: {mode: DISABLE}}\n"
	             "---\n"
	             "apiVersion: networking.istio.io/v1\n"
	             "kind: DestinationRule\n"
	             "metadata: {name: ratings}\n"
	             "spec:\n"
	             "  host: ratings\n"
	             "  trafficPolicy:\n"
	             "    portLevelSettings:\n"
	             "    - port: {number: 9080}\n"
	             "      tls: {mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem, "
	             "caCertificates: /ca.pem}\n",
	       { "MESH0005", W + 18, 31, "spec.trafficPolicy.tls.mode",
	         "tls mode ISTIO_MUTUAL, but PeerAuthentication istio-system/default "
	         "(test.yaml:38) sets mTLS mode DISABLE for reviews.default.svc.cluster.local "
	         "(WorkloadEntry default/reviews-v1): its sidecars do not accept mTLS connections" },
	       { "MESH0012", W + 22, 33, "spec.subsets[0].trafficPolicy.tls.mode",
	         "tls mode DISABLE, but PeerAuthentication default/reviews-v2-strict "
	         "(test.yaml:45) sets mTLS mode STRICT for reviews.default.svc.cluster.local "
	         "(WorkloadEntry default/reviews-v2): its sidecars refuse plain-text connections" },
	       { "MESH0005", W + 32, 19, "spec.trafficPolicy.portLevelSettings[0].tls.mode",
	         "tls mode MUTUAL, but PeerAuthentication istio-system/default (test.yaml:38) "
	         "sets mTLS mode DISABLE for ratings.default.svc.cluster.local (Deployment "
	         "default/ratings-v1): its sidecars do not accept mTLS connections" });
}
END_TEST

START_TEST(mtls_namespace_and_root)
{
	/* no workloads known: the namespace's policy decides; the MeshConfig
	 * names another root namespace, so istio-system is an ordinary one */
	EXPECT("apiVersion: mesh.libmesh.io/v1alpha1\n"
	       "kind: MeshConfig\n"
	       "metadata: {name: mesh}\n"
	       "spec: {rootNamespace: mesh-root}\n"
	       "---\n"
	       "apiVersion: security.istio.io/v1\n"
	       "kind: PeerAuthentication\n"
	       "metadata: {name: default, namespace: istio-system}\n"
	       "spec: {mtls: {mode: DISABLE}}\n"
	       "---\n"
	       "apiVersion: security.istio.io/v1\n"
	       "kind: PeerAuthentication\n"
	       "metadata: {name: default, namespace: legacy}\n"
	       "spec: {mtls: {mode: DISABLE}}\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: DestinationRule\n"
	       "metadata: {name: db, namespace: legacy}\n"
	       "spec: {host: db, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: DestinationRule\n"
	       "metadata: {name: web, namespace: web}\n"
	       "spec: {host: web, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}\n",
	       { "MESH0003", 19, 14, "spec.host",
	         "host \"db\" (db.legacy.svc.cluster.local) matches no ServiceEntry or Kubernetes "
	         "Service" },
	       { "MESH0005", 19, 46, "spec.trafficPolicy.tls.mode",
	         "tls mode ISTIO_MUTUAL, but PeerAuthentication legacy/default (test.yaml:14) "
	         "sets mTLS mode DISABLE for db.legacy.svc.cluster.local (namespace legacy): its "
	         "sidecars do not accept mTLS connections" },
	       { "MESH0003", 24, 14, "spec.host",
	         "host \"web\" (web.web.svc.cluster.local) matches no ServiceEntry or Kubernetes "
	         "Service" });
}
END_TEST

/* Two namespace-wide policies: the oldest decides, as Istio (and
 * mesh_mtls_mode) take it, not the one loaded first; an UNSET oldest one
 * passes to the next level instead of letting a newer one of its level in. */
START_TEST(mtls_oldest_policy_decides)
{
	static const char head[] = "apiVersion: security.istio.io/v1\n"
				   "kind: PeerAuthentication\n"
				   "metadata: {name: b-new, namespace: legacy, "
				   "creationTimestamp: \"2024-01-01T00:00:00Z\"}\n"
				   "spec: {mtls: {mode: STRICT}}\n"
				   "---\n"
				   "apiVersion: security.istio.io/v1\n"
				   "kind: PeerAuthentication\n"
				   "metadata: {name: a-old, namespace: legacy, "
				   "creationTimestamp: \"2020-01-01T00:00:00Z\"}\n";
	static const char tail[] = "---\n"
				   "apiVersion: networking.istio.io/v1\n"
				   "kind: DestinationRule\n"
				   "metadata: {name: db, namespace: legacy}\n"
				   "spec: {host: db, trafficPolicy: {tls: {mode: DISABLE}}}\n";
	char yaml[2048];
	/* the older policy (loaded second) says PERMISSIVE: DISABLE toward it is
	 * fine, whatever the newer STRICT one says */
	snprintf(yaml, sizeof(yaml), "%sspec: {mtls: {mode: PERMISSIVE}}\n%s", head, tail);
	EXPECT(yaml, { "MESH0003", 14, 14, "spec.host",
	               "host \"db\" (db.legacy.svc.cluster.local) matches no ServiceEntry or "
	               "Kubernetes Service" });
	/* the older one sets nothing: the namespace level passes to the mesh
	 * level (PERMISSIVE by default), not to the newer STRICT one */
	snprintf(yaml, sizeof(yaml), "%sspec: {}\n%s", head, tail);
	EXPECT(yaml, { "MESH0003", 14, 14, "spec.host",
	               "host \"db\" (db.legacy.svc.cluster.local) matches no ServiceEntry or "
	               "Kubernetes Service" });
	/* the older one is STRICT: plain text toward it is refused */
	snprintf(yaml, sizeof(yaml), "%sspec: {mtls: {mode: STRICT}}\n%s", head, tail);
	EXPECT(yaml,
	       { "MESH0003", 14, 14, "spec.host",
	         "host \"db\" (db.legacy.svc.cluster.local) matches no ServiceEntry or "
	         "Kubernetes Service" },
	       { "MESH0012", 14, 46, "spec.trafficPolicy.tls.mode",
	         "tls mode DISABLE, but PeerAuthentication legacy/a-old (test.yaml:9) sets mTLS "
	         "mode STRICT for db.legacy.svc.cluster.local (namespace legacy): its sidecars "
	         "refuse plain-text connections" });
}
END_TEST

/* ---- MESH0006: workload selectors ---- */

START_TEST(selector_matches_nothing)
{
	EXPECT(WORLD "apiVersion: security.istio.io/v1\n"
	             "kind: AuthorizationPolicy\n"
	             "metadata: {name: deny-ratings}\n"
	             "spec:\n"
	             "  selector: {matchLabels: {app: ratings, version: v2}}\n"
	             "  action: DENY\n"
	             "  rules: [{from: [{source: {namespaces: [evil]}}]}]\n"
	             "---\n"
	             "apiVersion: security.istio.io/v1\n"
	             "kind: AuthorizationPolicy\n"
	             "metadata: {name: mesh-wide, namespace: istio-system}\n"
	             "spec:\n"
	             "  selector: {matchLabels: {app: reviews}}\n"
	             "  action: ALLOW\n"
	             "  rules: [{}]\n"
	             "---\n"
	             "apiVersion: security.istio.io/v1\n"
	             "kind: PeerAuthentication\n"
	             "metadata: {name: reviews, namespace: other}\n"
	             "spec: {selector: {matchLabels: {app: reviews}}, mtls: {mode: STRICT}}\n"
	             "---\n"
	             "apiVersion: networking.istio.io/v1\n"
	             "kind: Sidecar\n"
	             "metadata: {name: ratings}\n"
	             "spec:\n"
	             "  workloadSelector: {labels: {app: rating}}\n"
	             "  egress: [{hosts: ['./*']}]\n",
	       { "MESH0006", W + 5, 27, "spec.selector.matchLabels",
	         "selector app=ratings,version=v2 matches no known workload in namespace default" },
	       { "MESH0006", W + 20, 32, "spec.selector.matchLabels",
	         "selector app=reviews matches no known workload in namespace other" },
	       { "MESH0006", W + 26, 30, "spec.workloadSelector.labels",
	         "selector app=rating matches no known workload in namespace default" });
}
END_TEST

START_TEST(selector_without_workloads)
{
	/* no workload in the configuration at all: nothing to compare with */
	EXPECT_NONE("apiVersion: security.istio.io/v1\n"
	            "kind: AuthorizationPolicy\n"
	            "metadata: {name: deny-ratings}\n"
	            "spec:\n"
	            "  selector: {matchLabels: {app: ratings}}\n"
	            "  action: DENY\n"
	            "  rules: [{}]\n");
}
END_TEST

/* ---- MESH0007 / MESH0014: unreachable routes and matches ---- */

START_TEST(unreachable_routes)
{
	EXPECT(WORLD "apiVersion: networking.istio.io/v1\n"
	             "kind: VirtualService\n"
	             "metadata: {name: reviews}\n"
	             "spec:\n"
	             "  hosts: [reviews]\n"
	             "  http:\n"
	             "  - match: [{uri: {prefix: /api}}, {headers: {x-canary: {exact: 'on'}}}]\n"
	             "    route: [{destination: {host: reviews}}]\n"
	             "  - match: [{uri: {prefix: /api/v1}, method: {exact: GET}}]\n"
	             "    route: [{destination: {host: reviews}}]\n"
	             "  - match:\n"
	             "    - uri: {exact: /api}\n"
	             "    - uri: {exact: /health}\n"
	             "    route: [{destination: {host: reviews}}]\n"
	             "  - match: [{uri: {regex: '/v[0-9]+'}, ignoreUriCase: true}]\n"
	             "    route: [{destination: {host: reviews}}]\n"
	             "  - match: [{uri: {regex: '/v[0-9]+'}}]\n"
	             "    route: [{destination: {host: reviews}}]\n"
	             "  - route: [{destination: {host: reviews}}]\n"
	             "  - match: [{uri: {prefix: /}}]\n"
	             "    route: [{destination: {host: ratings}}]\n",
	       { "MESH0007", W + 9, 5, "spec.http[1]",
	         "this route is never used: spec.http[0].match[0] (line 41) before it takes "
	         "every request it matches" },
	       { "MESH0014", W + 12, 7, "spec.http[2].match[0]",
	         "this match is never used: spec.http[0].match[0] (line 41) before it takes every "
	         "request it matches" },
	       { "MESH0007", W + 17, 5, "spec.http[4]",
	         "this route is never used: spec.http[3].match[0] (line 49) before it takes "
	         "every request it matches" },
	       { "MESH0007", W + 20, 5, "spec.http[6]",
	         "this route is never used: spec.http[5] (line 53) before it takes every "
	         "request" });
}
END_TEST

START_TEST(reachable_routes)
{
	/* narrower conditions first, then wider ones: all reachable */
	EXPECT_NONE(WORLD
	            "apiVersion: networking.istio.io/v1\n"
	            "kind: VirtualService\n"
	            "metadata: {name: reviews}\n"
	            "spec:\n"
	            "  hosts: [reviews]\n"
	            "  http:\n"
	            "  - match: [{uri: {prefix: /api/v1}, method: {exact: GET}}]\n"
	            "    route: [{destination: {host: reviews}}]\n"
	            "  - match: [{uri: {prefix: /api}, sourceLabels: {app: web}}]\n"
	            "    route: [{destination: {host: reviews}}]\n"
	            "  - match: [{uri: {prefix: /API}, ignoreUriCase: true}]\n"
	            "    route: [{destination: {host: reviews}}]\n"
	            "  - match: [{uri: {exact: /health}}, {queryParams: {debug: {exact: '1'}}}]\n"
	            "    route: [{destination: {host: reviews}}]\n"
	            "  - match: [{withoutHeaders: {x-test: {}}}]\n"
	            "    route: [{destination: {host: reviews}}]\n"
	            "  - route: [{destination: {host: reviews}}]\n");
}
END_TEST

/* ---- MESH0008: one host, two VirtualServices on the mesh gateway ---- */

START_TEST(conflicting_mesh_hosts)
{
	EXPECT(WORLD
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: VirtualService\n"
	       "metadata: {name: reviews}\n"
	       "spec:\n"
	       "  hosts: [reviews]\n"
	       "  http: [{route: [{destination: {host: reviews}}]}]\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: VirtualService\n"
	       "metadata: {name: reviews-canary, namespace: team-2}\n"
	       "spec:\n"
	       "  hosts: [ratings.default.svc.cluster.local, reviews.default.svc.cluster.local]\n"
	       "  gateways: [mesh]\n"
	       "  http: [{route: [{destination: {host: reviews.default.svc.cluster.local}}]}]\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: Gateway\n"
	       "metadata: {name: gw}\n"
	       "spec:\n"
	       "  selector: {istio: ingressgateway}\n"
	       "  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: VirtualService\n"
	       "metadata: {name: reviews-edge}\n"
	       "spec:\n"
	       "  hosts: [reviews]\n"
	       "  gateways: [gw]\n"
	       "  http: [{route: [{destination: {host: reviews}}]}]\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: VirtualService\n"
	       "metadata: {name: details-a, namespace: team-a}\n"
	       "spec:\n"
	       "  hosts: [details.default.svc.cluster.local]\n"
	       "  exportTo: [.]\n"
	       "  http: [{route: [{destination: {host: ratings.default.svc.cluster.local}}]}]\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: VirtualService\n"
	       "metadata: {name: details-b, namespace: team-b}\n"
	       "spec:\n"
	       "  hosts: [details.default.svc.cluster.local]\n"
	       "  exportTo: [., team-c]\n"
	       "  http: [{route: [{destination: {host: ratings.default.svc.cluster.local}}]}]\n",
	       { "MESH0008", W + 12, 46, "spec.hosts[1]",
	         "host reviews.default.svc.cluster.local is also claimed for the mesh gateway by "
	         "VirtualService default/reviews (test.yaml:39); only one of them takes effect" });
}
END_TEST

/* ---- MESH0009: subsets selecting nothing ---- */

START_TEST(subset_selects_nothing)
{
	EXPECT(WORLD "apiVersion: networking.istio.io/v1\n"
	             "kind: DestinationRule\n"
	             "metadata: {name: reviews}\n"
	             "spec:\n"
	             "  host: reviews\n"
	             "  subsets:\n"
	             "  - name: v1\n"
	             "    labels: {version: v1}\n"
	             "  - name: v3\n"
	             "    labels: {version: v3}\n"
	             "---\n"
	             "apiVersion: networking.istio.io/v1\n"
	             "kind: DestinationRule\n"
	             "metadata: {name: ratings}\n"
	             "spec:\n"
	             "  host: ratings\n"
	             "  subsets: [{name: v2, labels: {version: v2, app: ratings}}]\n",
	       { "MESH0009", W + 10, 13, "spec.subsets[1].labels",
	         "subset \"v3\": labels version=v3 select none of the 2 known workloads of "
	         "reviews.default.svc.cluster.local" },
	       { "MESH0009", W + 17, 32, "spec.subsets[0].labels",
	         "subset \"v2\": labels version=v2,app=ratings select none of the 1 known "
	         "workload of ratings.default.svc.cluster.local" });
}
END_TEST

/* ---- MESH0010: gateways ---- */

START_TEST(gateway_not_found)
{
	EXPECT(WORLD
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: Gateway\n"
	       "metadata: {name: ingress, namespace: istio-system}\n"
	       "spec:\n"
	       "  selector: {istio: ingressgateway}\n"
	       "  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*/*']}]\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: VirtualService\n"
	       "metadata: {name: edge}\n"
	       "spec:\n"
	       "  hosts: [bookinfo.example.com]\n"
	       "  gateways: [istio-system/ingress, ingress.istio-system.svc.cluster.local, mesh, "
	       "bookinfo-gateway]\n"
	       "  http:\n"
	       "  - match: [{gateways: [istio-system/egress]}]\n"
	       "    route: [{destination: {host: ratings}}]\n"
	       "  - route: [{destination: {host: ratings}}]\n",
	       { "MESH0010", W + 13, 82, "spec.gateways[3]",
	         "Gateway default/bookinfo-gateway is not defined" },
	       { "MESH0010", W + 15, 25, "spec.http[0].match[0].gateways[0]",
	         "Gateway istio-system/egress is not defined" });
}
END_TEST

/* ---- MESH0011: two DestinationRules for one host ---- */

START_TEST(duplicate_destination_rules)
{
	EXPECT(WORLD "apiVersion: networking.istio.io/v1\n"
	             "kind: DestinationRule\n"
	             "metadata: {name: reviews}\n"
	             "spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}\n"
	             "---\n"
	             "apiVersion: networking.istio.io/v1\n"
	             "kind: DestinationRule\n"
	             "metadata: {name: reviews-lb}\n"
	             "spec:\n"
	             "  host: reviews.default.svc.cluster.local\n"
	             "  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"
	             "---\n"
	             "apiVersion: networking.istio.io/v1\n"
	             "kind: DestinationRule\n"
	             "metadata: {name: reviews, namespace: clients}\n"
	             "spec: {host: reviews.default.svc.cluster.local}\n"
	             "---\n"
	             "apiVersion: networking.istio.io/v1\n"
	             "kind: DestinationRule\n"
	             "metadata: {name: reviews-for-v1}\n"
	             "spec:\n"
	             "  host: reviews\n"
	             "  workloadSelector: {matchLabels: {version: v1}}\n"
	             "  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}\n",
	       { "MESH0011", W + 10, 9, "spec.host",
	         "DestinationRule default/reviews (test.yaml:37) is also for host "
	         "reviews.default.svc.cluster.local in namespace default: only one traffic policy "
	         "and set of subsets takes effect" });
}
END_TEST

/* ---- MESH0013: server certificates not verified ---- */

START_TEST(tls_without_ca)
{
	EXPECT("apiVersion: networking.istio.io/v1\n"
	       "kind: ServiceEntry\n"
	       "metadata: {name: google}\n"
	       "spec:\n"
	       "  hosts: [www.googleapis.com]\n"
	       "  ports: [{number: 443, name: https, protocol: HTTPS}]\n"
	       "  resolution: DNS\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: DestinationRule\n"
	       "metadata: {name: google}\n"
	       "spec:\n"
	       "  host: www.googleapis.com\n"
	       "  trafficPolicy:\n"
	       "    tls: {mode: SIMPLE}\n"
	       "    portLevelSettings:\n"
	       "    - port: {number: 443}\n"
	       "      tls: {mode: SIMPLE, caCertificates: /etc/ssl/certs/ca.pem}\n"
	       "    - port: {number: 8443}\n"
	       "      tls: {mode: SIMPLE, insecureSkipVerify: true}\n",
	       { "MESH0013", 15, 10, "spec.trafficPolicy.tls",
	         "tls mode SIMPLE without caCertificates or credentialName: the certificate of "
	         "www.googleapis.com is not verified" });
}
END_TEST

/* ---- MESH0015: destination ports ---- */

START_TEST(port_not_on_service)
{
	EXPECT(WORLD "apiVersion: networking.istio.io/v1\n"
	             "kind: VirtualService\n"
	             "metadata: {name: reviews}\n"
	             "spec:\n"
	             "  hosts: [reviews]\n"
	             "  http:\n"
	             "  - route:\n"
	             "    - destination: {host: reviews, port: {number: 9090}}\n"
	             "      weight: 50\n"
	             "    - destination: {host: ratings, port: {number: 9080}}\n"
	             "      weight: 50\n",
	       { "MESH0015", W + 8, 51, "spec.http[0].route[0].destination.port.number",
	         "port 9090 is not a port of reviews.default.svc.cluster.local (its ports: 9080)" });
}
END_TEST

/* ---- MESH0016: Gateways ---- */

START_TEST(conflicting_gateways)
{
	EXPECT("apiVersion: networking.istio.io/v1\n"
	       "kind: Gateway\n"
	       "metadata: {name: shop}\n"
	       "spec:\n"
	       "  selector: {istio: ingressgateway, zone: a}\n"
	       "  servers:\n"
	       "  - port: {number: 443, name: https, protocol: HTTPS}\n"
	       "    hosts: [shop.example.com, api.example.com]\n"
	       "    tls: {mode: SIMPLE, credentialName: shop-cert}\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: Gateway\n"
	       "metadata: {name: wildcard, namespace: edge}\n"
	       "spec:\n"
	       "  selector: {zone: a, istio: ingressgateway}\n"
	       "  servers:\n"
	       "  - port: {number: 443, name: https, protocol: HTTPS}\n"
	       "    hosts: ['*.example.com']\n"
	       "    tls: {mode: SIMPLE, credentialName: wildcard-cert}\n"
	       "  - port: {number: 80, name: http, protocol: HTTP}\n"
	       "    hosts: [shop.example.com]\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: Gateway\n"
	       "metadata: {name: api}\n"
	       "spec:\n"
	       "  selector: {istio: ingressgateway, zone: a}\n"
	       "  servers:\n"
	       "  - port: {number: 443, name: https, protocol: HTTPS}\n"
	       "    hosts: [default/api.example.com]\n"
	       "    tls: {mode: SIMPLE, credentialName: api-cert}\n",
	       { "MESH0016", 18, 13, "spec.servers[0].hosts[0]",
	         "host \"*.example.com\" on port 443 of the workloads istio=ingressgateway,zone=a "
	         "is also served by Gateway default/shop (test.yaml:8, host \"api.example.com\"): "
	         "the two Gateways conflict" },
	       { "MESH0016", 30, 13, "spec.servers[0].hosts[0]",
	         "host \"api.example.com\" on port 443 of the workloads istio=ingressgateway,zone=a "
	         "is also served by Gateway default/shop (test.yaml:8, host \"api.example.com\"): "
	         "the two Gateways conflict" });
}
END_TEST

/* ---- MESH0017: Sidecars ---- */

START_TEST(sidecars_without_selector)
{
	EXPECT("apiVersion: networking.istio.io/v1\n"
	       "kind: Sidecar\n"
	       "metadata: {name: default}\n"
	       "spec: {egress: [{hosts: ['./*']}]}\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: Sidecar\n"
	       "metadata: {name: restricted}\n"
	       "spec: {egress: [{hosts: ['istio-system/*']}]}\n"
	       "---\n"
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: Sidecar\n"
	       "metadata: {name: default, namespace: other}\n"
	       "spec: {egress: [{hosts: ['./*']}]}\n",
	       { "MESH0017", 8, 18, "metadata.name",
	         "namespace default already has a Sidecar without workloadSelector, default "
	         "(test.yaml:3): which one applies is undefined" });
}
END_TEST

/* ---- order, Kubernetes objects, size ---- */

START_TEST(findings_sorted_by_position)
{
	/* found by different checks, reported in file order */
	EXPECT(WORLD "apiVersion: networking.istio.io/v1\n"
	             "kind: VirtualService\n"
	             "metadata: {name: reviews}\n"
	             "spec:\n"
	             "  hosts: [reviews]\n"
	             "  gateways: [nowhere]\n"
	             "  http:\n"
	             "  - route: [{destination: {host: reviews, subset: v1}}]\n"
	             "  - route: [{destination: {host: nothing}}]\n",
	       { "MESH0010", W + 6, 14, "spec.gateways[0]",
	         "Gateway default/nowhere is not defined" },
	       { "MESH0001", W + 8, 51, "spec.http[0].route[0].destination.subset",
	         "subset \"v1\" is not defined: no DestinationRule for host "
	         "reviews.default.svc.cluster.local" },
	       { "MESH0007", W + 9, 5, "spec.http[1]",
	         "this route is never used: spec.http[0] (line 42) before it takes every "
	         "request" },
	       { "MESH0003", W + 9, 34, "spec.http[1].route[0].destination.host",
	         "host \"nothing\" (nothing.default.svc.cluster.local) matches no ServiceEntry or "
	         "Kubernetes Service" });
}
END_TEST

START_TEST(kubernetes_duplicates_count_once)
{
	/* the same manifest applied twice is one workload, one service */
	EXPECT(WORLD RATINGS_K8S
	       "apiVersion: networking.istio.io/v1\n"
	       "kind: DestinationRule\n"
	       "metadata: {name: ratings}\n"
	       "spec: {host: ratings, subsets: [{name: v2, labels: {version: v2}}]}\n",
	       { "MESH0009", W + 14 + 4, 52, "spec.subsets[0].labels",
	         "subset \"v2\": labels version=v2 select none of the 1 known workload of "
	         "ratings.default.svc.cluster.local" });
}
END_TEST

START_TEST(large_config)
{
	/* 5,000 VirtualServices and DestinationRules; half the subsets are
	 * missing and every 100th host is claimed twice */
	size_t n = 5000, len = 0, cap = n * 700;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(
			buf + len, cap - len,
			"apiVersion: networking.istio.io/v1\n"
			"kind: ServiceEntry\n"
			"metadata: {name: s%zu}\n"
			"spec: {hosts: [s%zu.default.svc.cluster.local], location: MESH_INTERNAL, "
			"ports: [{number: 80, name: http, protocol: HTTP}], resolution: STATIC, "
			"endpoints: [{address: 10.0.0.1, labels: {version: v1}}]}\n"
			"---\n"
			"apiVersion: networking.istio.io/v1\n"
			"kind: DestinationRule\n"
			"metadata: {name: s%zu}\n"
			"spec: {host: s%zu, subsets: [{name: v1, labels: {version: v1}}]}\n"
			"---\n"
			"apiVersion: networking.istio.io/v1\n"
			"kind: VirtualService\n"
			"metadata: {name: s%zu}\n"
			"spec: {hosts: [s%zu], http: [{route: [{destination: {host: s%zu, subset: "
			"v%d}}]}]}\n"
			"---\n",
			i, i, i, i, i, i % 100 ? i : i + 1, i, (int)(i % 2) + 1);
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(mesh_config_new(&cfg), 0);
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	ck_assert_int_eq(mesh_config_load_buffer(cfg, "big.yaml", buf, len, d), 0);
	ck_assert_uint_eq(mesh_config_resource_count(cfg), 3 * n);
	/* 2,500 missing subsets and 50 hosts claimed twice */
	ck_assert_int_eq(mesh_config_analyze(cfg, d), 2550);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
	free(buf);
}
END_TEST

START_TEST(allocation_failures)
{
	/* every allocation analysis makes may fail: it then returns
	 * MESH_ENOMEM, leaks nothing and adds no half-built finding */
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(
		tu_load(WORLD "apiVersion: networking.istio.io/v1\n"
	                      "kind: DestinationRule\n"
	                      "metadata: {name: reviews}\n"
	                      "spec:\n"
	                      "  host: reviews\n"
	                      "  subsets: [{name: v3, labels: {version: v3}}]\n"
	                      "---\n"
	                      "apiVersion: networking.istio.io/v1\n"
	                      "kind: VirtualService\n"
	                      "metadata: {name: reviews}\n"
	                      "spec:\n"
	                      "  hosts: [reviews]\n"
	                      "  http: [{route: [{destination: {host: reviews, subset: v1}}]}]\n",
	                0, &cfg, &d),
		0);
	int rc = MESH_ENOMEM;
	long n;
	for (n = 0; rc == MESH_ENOMEM && n < 100000; n++) {
		mesh_diag_clear(d);
		mesh__alloc_fail_after(n);
		rc = mesh_config_analyze(cfg, d);
		mesh__alloc_fail_after(-1);
		ck_assert(rc == MESH_ENOMEM || rc == 2);
		if (rc == MESH_ENOMEM)
			ck_assert_uint_eq(mesh_diag_count(d), 0);
	}
	ck_assert_int_eq(rc, 2);
	ck_assert_int_gt(n, 5);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

/* Every section of docs/analyze-codes.md: its example YAML gives exactly the
 * finding the section shows (other codes aside: examples leave services out). */
START_TEST(documented_examples)
{
	const char *src = getenv("MESH_SOURCE_DIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/docs/analyze-codes.md", src ? src : "..");
	FILE *fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "cannot open %s", path);
	static char doc[256 * 1024];
	size_t len = fread(doc, 1, sizeof(doc) - 1, fp);
	fclose(fp);
	doc[len] = '\0';
	size_t sections = 0;
	for (char *p = strstr(doc, "\n## MESH"); p; p = strstr(p + 1, "\n## MESH")) {
		char code[9];
		memcpy(code, p + 4, 8);
		code[8] = '\0';
		char *y = strstr(p, "```yaml\n"), *ye = y ? strstr(y + 8, "```") : NULL;
		char *w = ye ? strstr(ye + 3, "```\n") : NULL,
		     *we = w ? strstr(w + 4, "\n```") : NULL;
		ck_assert_msg(we != NULL, "%s: no example and finding", code);
		y += 8;
		w += 4;
		mesh_config *cfg;
		mesh_diag *d;
		ck_assert_int_eq(mesh_config_new(&cfg), 0);
		ck_assert_int_eq(mesh_diag_new(&d), 0);
		ck_assert_int_eq(
			mesh_config_load_buffer(cfg, "example.yaml", y, (size_t)(ye - y), d), 0);
		ck_assert_int_ge(mesh_config_analyze(cfg, d), 1);
		size_t mine = 0;
		for (size_t i = 0; i < mesh_diag_count(d); i++) {
			if (!same(mesh_diag_code(d, i), code))
				continue;
			char *f = mesh_diag_format(d, i);
			const char *msg = strstr(f, " warning: ");
			bool ok = msg && strlen(msg + 1) == (size_t)(we - w) &&
			          !strncmp(msg + 1, w, (size_t)(we - w));
			if (!ok)
				fprintf(stderr, "%s: documented:\n  %.*s\ngot:\n  %s\n", code,
				        (int)(we - w), w, f);
			mesh_free(f);
			ck_assert_msg(ok, "%s: the documented finding differs (see stderr)", code);
			mine++;
		}
		ck_assert_msg(mine == 1, "%s: %zu findings with this code", code, mine);
		mesh_config_unref(cfg);
		mesh_diag_free(d);
		sections++;
	}
	ck_assert_uint_ge(sections, 17);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("analyze");
	TCase *tc = tcase_create("analyze");
	tcase_add_test(tc, clean_config);
	tcase_add_test(tc, empty_and_null);
	tcase_add_test(tc, no_diag_still_counts);
	tcase_add_test(tc, subset_undefined);
	tcase_add_test(tc, labels_select_nothing);
	tcase_add_test(tc, labels_unknown_workloads);
	tcase_add_test(tc, host_not_found);
	tcase_add_test(tc, precedence_tie);
	tcase_add_test(tc, mtls_conflicts);
	tcase_add_test(tc, mtls_namespace_and_root);
	tcase_add_test(tc, mtls_oldest_policy_decides);
	tcase_add_test(tc, selector_matches_nothing);
	tcase_add_test(tc, selector_without_workloads);
	tcase_add_test(tc, unreachable_routes);
	tcase_add_test(tc, reachable_routes);
	tcase_add_test(tc, conflicting_mesh_hosts);
	tcase_add_test(tc, subset_selects_nothing);
	tcase_add_test(tc, gateway_not_found);
	tcase_add_test(tc, duplicate_destination_rules);
	tcase_add_test(tc, tls_without_ca);
	tcase_add_test(tc, port_not_on_service);
	tcase_add_test(tc, conflicting_gateways);
	tcase_add_test(tc, sidecars_without_selector);
	tcase_add_test(tc, findings_sorted_by_position);
	tcase_add_test(tc, kubernetes_duplicates_count_once);
	tcase_add_test(tc, large_config);
	tcase_add_test(tc, allocation_failures);
	tcase_add_test(tc, documented_examples);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
