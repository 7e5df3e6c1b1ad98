/* test_route.c - compiled routing: RouteRules, VirtualServices, matching,
 * weights, actions and explanations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *seed_rules = "apiVersion: config.istio.io/v1alpha2\n"
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
				"apiVersion: config.istio.io/v1alpha2\n"
				"kind: RouteRule\n"
				"metadata:\n"
				"  name: reviews-test-v2\n"
				"spec:\n"
				"  destination:\n"
				"    name: reviews\n"
				"  precedence: 2\n"
				"  match:\n"
				"    request:\n"
				"      headers:\n"
				"        cookie:\n"
				"          regex: \"^(.*?;)?(user=jason)(;.*)?$\"\n"
				"  route:\n"
				"  - labels:\n"
				"      version: v2\n";

struct fixture {
	mesh_config *cfg;
	mesh_router *router;
	mesh_route_scratch *s;
	mesh_diag *d;
};

static void setup(struct fixture *f, const char *yaml)
{
	ck_assert_int_eq(tu_load(yaml, 0, &f->cfg, &f->d), 0);
	static const char *const labels[] = { "app", "productpage", "version", "v1", NULL };
	struct mesh_workload wl = { .struct_size = sizeof(wl),
		                    .namespace_name = "default",
		                    .labels = labels };
	ck_assert_int_eq(mesh_router_new(f->cfg, NULL, &wl, &f->router, f->d), 0);
	ck_assert_int_eq(mesh_route_scratch_new(&f->s), 0);
}

static void teardown(struct fixture *f)
{
	mesh_route_scratch_free(f->s);
	mesh_router_unref(f->router);
	mesh_config_unref(f->cfg);
	mesh_diag_free(f->d);
}

/* Route a request; returns the subset of its only destination. */
static const char *route_subset(struct fixture *f, const char *host, const char *path,
                                const char *cookie)
{
	struct mesh_header h[1] = { { "Cookie", cookie } };
	struct mesh_request req = { .struct_size = sizeof(req),
		                    .authority = host,
		                    .path = path,
		                    .headers = h,
		                    .nheaders = cookie ? 1 : 0 };
	const mesh_route *rt;
	if (mesh_router_route(f->router, &req, f->s, &rt))
		return "(none)";
	ck_assert_uint_ge(mesh_route_destination_count(rt), 1);
	const char *sub = mesh_cluster_subset(mesh_route_destination(rt, 0, NULL));
	return sub ? sub : "(all)";
}

START_TEST(seed_route_rules)
{
	struct fixture f;
	setup(&f, seed_rules);
	ck_assert_str_eq(route_subset(&f, "reviews", "/reviews/1", NULL), "version=v1");
	ck_assert_str_eq(route_subset(&f, "reviews:9080", "/reviews/1", "user=jason"),
	                 "version=v2");
	ck_assert_str_eq(route_subset(&f, "reviews", "/", "a=b;user=jason;c=d"), "version=v2");
	/* the seed regex allows no space after ";", as in Istio */
	ck_assert_str_eq(route_subset(&f, "reviews", "/", "a=b; user=jason"), "version=v1");
	ck_assert_str_eq(route_subset(&f, "reviews", "/", "user=jasonx"), "version=v1");
	ck_assert_str_eq(route_subset(&f, "reviews.default.svc.cluster.local", "/", "user=jason"),
	                 "version=v2");
	ck_assert_str_eq(route_subset(&f, "REVIEWS.default", "/", NULL), "version=v1");
	ck_assert_str_eq(route_subset(&f, "ratings", "/", NULL), "(none)");

	struct mesh_request req = { .struct_size = sizeof(req), .authority = "reviews" };
	const mesh_route *rt;
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	ck_assert_str_eq(mesh_route_rule_kind(rt), "RouteRule");
	ck_assert_str_eq(mesh_route_rule_name(rt), "reviews-default");
	ck_assert_str_eq(mesh_route_rule_file(rt), "test.yaml");
	ck_assert_uint_eq(mesh_route_rule_line(rt), 1);
	ck_assert_str_eq(mesh_cluster_name(mesh_route_destination(rt, 0, NULL)),
	                 "outbound|0|version=v1|reviews.default.svc.cluster.local");
	teardown(&f);
}
END_TEST

START_TEST(explain_all)
{
	struct fixture f;
	setup(&f, seed_rules);
	struct mesh_request req = { .struct_size = sizeof(req),
		                    .authority = "reviews",
		                    .path = "/reviews/1" };
	char *s = mesh_router_explain(f.router, &req, MESH_EXPLAIN_ALL);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(s, "virtual host: reviews.default.svc.cluster.local"));
	ck_assert_ptr_nonnull(strstr(s,
	                             "route 1: RouteRule default/reviews-test-v2 (test.yaml:13): "
	                             "not matched: header \"cookie\" is absent\n"));
	ck_assert_ptr_nonnull(strstr(s, "route 2: RouteRule default/reviews-default (test.yaml:1): "
	                                "matched\n"));
	ck_assert_ptr_nonnull(strstr(s, "destination: reviews.default.svc.cluster.local subset "
	                                "version=v1"));
	mesh_free(s);
	req.authority = "nothing.example";
	s = mesh_router_explain(f.router, &req, MESH_EXPLAIN_JSON);
	ck_assert_str_eq(s,
	                 "{\"authority\":\"nothing.example\",\"virtualHost\":null,\"skipped\":[],"
	                 "\"matched\":null}");
	mesh_free(s);
	teardown(&f);
}
END_TEST

static const char *vs_yaml = "apiVersion: networking.istio.io/v1\n"
			     "kind: VirtualService\n"
			     "metadata: {name: reviews}\n"
			     "spec:\n"
			     "  hosts: [reviews]\n"
			     "  http:\n"
			     "  - name: jason\n"
			     "    match:\n"
			     "    - headers:\n"
			     "        end-user: {exact: jason}\n"
			     "    - uri: {prefix: /beta}\n"
			     "      queryParams:\n"
			     "        v: {exact: \"2\"}\n"
			     "    route:\n"
			     "    - destination: {host: reviews, subset: v2}\n"
			     "    timeout: 1.5s\n"
			     "    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: \"5xx\"}\n"
			     "  - match:\n"
			     "    - uri: {exact: /old}\n"
			     "    redirect: {uri: /new, redirectCode: 308}\n"
			     "  - match:\n"
			     "    - uri: {regex: \"/health[0-9]*\"}\n"
			     "      method: {exact: GET}\n"
			     "    directResponse: {status: 204}\n"
			     "  - route:\n"
			     "    - destination: {host: reviews, subset: v1}\n"
			     "      weight: 75\n"
			     "    - destination: {host: reviews, subset: v3}\n"
			     "      weight: 25\n"
			     "    fault:\n"
			     "      abort: {httpStatus: 503, percentage: {value: 10}}\n"
			     "    mirror: {host: reviews, subset: v9}\n"
			     "    mirrorPercentage: {value: 5}\n"
			     "    headers:\n"
			     "      request:\n"
			     "        set: {x-canary: \"yes\"}\n"
			     "      response:\n"
			     "        remove: [x-internal]\n"
			     "---\n"
			     "apiVersion: networking.istio.io/v1\n"
			     "kind: DestinationRule\n"
			     "metadata: {name: reviews}\n"
			     "spec:\n"
			     "  host: reviews\n"
			     "  subsets:\n"
			     "  - {name: v1, labels: {version: v1}}\n"
			     "  - {name: v2, labels: {version: v2}}\n"
			     "  - {name: v3, labels: {version: v3}}\n";

static const mesh_route *route_req(struct fixture *f, const char *method, const char *path,
                                   const char *hname, const char *hval)
{
	struct mesh_header h[1] = { { hname, hval } };
	struct mesh_request req = { .struct_size = sizeof(req),
		                    .authority = "reviews",
		                    .method = method,
		                    .path = path,
		                    .headers = h,
		                    .nheaders = hname ? 1 : 0 };
	const mesh_route *rt = NULL;
	if (mesh_router_route(f->router, &req, f->s, &rt))
		return NULL;
	return rt;
}

START_TEST(virtual_service_actions)
{
	struct fixture f;
	setup(&f, vs_yaml);
	const mesh_route *rt = route_req(&f, "GET", "/x", "end-user", "jason");
	ck_assert_ptr_nonnull(rt);
	ck_assert_str_eq(mesh_route_name(rt), "jason");
	ck_assert_uint_eq(mesh_route_rule_line(rt), 7);
	ck_assert_int_eq(mesh_route_timeout_ms(rt), 1500);
	struct mesh_retry_policy rp = { .struct_size = sizeof(rp) };
	ck_assert_int_eq(mesh_route_get_retry(rt, &rp), 0);
	ck_assert_uint_eq(rp.attempts, 3);
	ck_assert_int_eq(rp.per_try_timeout_ms, 500);
	ck_assert_str_eq(rp.retry_on, "5xx");
	ck_assert_str_eq(mesh_cluster_subset(mesh_route_destination(rt, 0, NULL)), "v2");

	/* second match block: prefix AND query parameter */
	ck_assert_str_eq(mesh_route_name(route_req(&f, "GET", "/beta/x?a=1&v=2", NULL, NULL)),
	                 "jason");
	ck_assert_ptr_null(mesh_route_name(route_req(&f, "GET", "/beta/x?v=3", NULL, NULL)));

	rt = route_req(&f, "GET", "/old", NULL, NULL);
	ck_assert_int_eq(mesh_route_action(rt), MESH_ACTION_REDIRECT);
	struct mesh_redirect rd = { .struct_size = sizeof(rd) };
	ck_assert_int_eq(mesh_route_get_redirect(rt, &rd), 0);
	ck_assert_str_eq(rd.uri, "/new");
	ck_assert_int_eq(rd.code, 308);

	rt = route_req(&f, "GET", "/health42", NULL, NULL);
	ck_assert_int_eq(mesh_route_action(rt), MESH_ACTION_DIRECT_RESPONSE);
	int status;
	ck_assert_int_eq(mesh_route_get_direct_response(rt, &status, NULL), 0);
	ck_assert_int_eq(status, 204);
	/* regexes match the whole path, not a part of it */
	rt = route_req(&f, "GET", "/health42/x", NULL, NULL);
	ck_assert_int_eq(mesh_route_action(rt), MESH_ACTION_FORWARD);
	rt = route_req(&f, "POST", "/health", NULL, NULL);
	ck_assert_int_eq(mesh_route_action(rt), MESH_ACTION_FORWARD);

	ck_assert_uint_eq(mesh_route_destination_count(rt), 2);
	unsigned w;
	ck_assert_str_eq(mesh_cluster_subset(mesh_route_destination(rt, 1, &w)), "v3");
	ck_assert_uint_eq(w, 25);
	struct mesh_fault fault = { .struct_size = sizeof(fault) };
	ck_assert_int_eq(mesh_route_get_fault(rt, &fault), 0);
	ck_assert_int_eq(fault.abort_http_status, 503);
	ck_assert(fabs(fault.abort_percent - 10) < 1e-9);
	double pct;
	ck_assert_uint_eq(mesh_route_mirror_count(rt), 1);
	ck_assert_str_eq(mesh_cluster_subset(mesh_route_mirror(rt, 0, &pct)), "v9");
	ck_assert(fabs(pct - 5) < 1e-9);
	ck_assert_uint_eq(mesh_route_header_op_count(rt), 2);
	int dir, op;
	const char *name, *value;
	ck_assert_int_eq(mesh_route_header_op(rt, 0, &dir, &op, &name, &value), 0);
	ck_assert_int_eq(dir, MESH_HDR_REQUEST);
	ck_assert_int_eq(op, MESH_HDR_SET);
	ck_assert_str_eq(name, "x-canary");
	ck_assert_str_eq(value, "yes");
	ck_assert_int_eq(mesh_route_header_op(rt, 1, &dir, &op, &name, &value), 0);
	ck_assert_int_eq(dir, MESH_HDR_RESPONSE);
	ck_assert_int_eq(op, MESH_HDR_REMOVE);
	teardown(&f);
}
END_TEST

/* A 75/25 split converges: chi-square over 100,000 picks. */
START_TEST(weighted_split_converges)
{
	struct fixture f;
	setup(&f, vs_yaml);
	const mesh_route *rt = route_req(&f, "GET", "/", NULL, NULL);
	ck_assert_uint_eq(mesh_route_destination_count(rt), 2);
	size_t counts[2] = { 0, 0 };
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	const int n = 100000;
	for (int i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		counts[mesh_route_pick(rt, (uint32_t)(x >> 32))]++;
	}
	double e0 = n * 0.75, e1 = n * 0.25;
	double chi2 =
		(counts[0] - e0) * (counts[0] - e0) / e0 + (counts[1] - e1) * (counts[1] - e1) / e1;
	/* 1 degree of freedom, p = 0.001 */
	ck_assert_msg(chi2 < 10.83, "chi-square %.2f (counts %zu/%zu)", chi2, counts[0], counts[1]);
	teardown(&f);
}
END_TEST

START_TEST(gateways_and_sources)
{
	static const char *yaml =
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: bookinfo, namespace: default}\n"
		"spec:\n"
		"  hosts: [\"*\"]\n"
		"  gateways: [bookinfo-gateway]\n"
		"  http:\n"
		"  - match: [{uri: {exact: /productpage}}]\n"
		"    route: [{destination: {host: productpage, port: {number: 9080}}}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: ratings}\n"
		"spec:\n"
		"  hosts: [ratings]\n"
		"  http:\n"
		"  - match: [{sourceLabels: {app: reviews, version: v2}}]\n"
		"    fault: {delay: {fixedDelay: 7s, percentage: {value: 100}}}\n"
		"    route: [{destination: {host: ratings}}]\n"
		"  - route: [{destination: {host: ratings}}]\n";
	struct fixture f;
	setup(&f, yaml);
	struct mesh_request req = { .struct_size = sizeof(req),
		                    .authority = "bookinfo.example.com",
		                    .path = "/productpage" };
	const mesh_route *rt;
	/* the sidecar does not use a gateway's VirtualService */
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), MESH_ENOTFOUND);
	req.gateway = "default/bookinfo-gateway";
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	ck_assert_uint_eq(mesh_cluster_port(mesh_route_destination(rt, 0, NULL)), 9080);

	static const char *const v2[] = { "app", "reviews", "version", "v2", NULL };
	struct mesh_workload src = { .struct_size = sizeof(src), .labels = v2 };
	struct mesh_request r2 = { .struct_size = sizeof(r2),
		                   .authority = "ratings",
		                   .source = &src };
	ck_assert_int_eq(mesh_router_route(f.router, &r2, f.s, &rt), 0);
	struct mesh_fault fault = { .struct_size = sizeof(fault) };
	ck_assert_int_eq(mesh_route_get_fault(rt, &fault), 0);
	ck_assert_int_eq(fault.delay_ms, 7000);
	r2.source = NULL; /* the router's own workload: productpage */
	ck_assert_int_eq(mesh_router_route(f.router, &r2, f.s, &rt), 0);
	ck_assert_int_eq(mesh_route_get_fault(rt, &fault), MESH_ENOTFOUND);
	teardown(&f);
}
END_TEST

/* A hostile regex cannot stall routing: the match limit ends it. */
START_TEST(regex_match_limit)
{
	static const char *yaml = "apiVersion: networking.istio.io/v1\n"
				  "kind: VirtualService\n"
				  "metadata: {name: slow}\n"
				  "spec:\n"
				  "  hosts: [slow]\n"
				  "  http:\n"
				  "  - match: [{headers: {x: {regex: \"(a+)+b\"}}}]\n"
				  "    directResponse: {status: 500}\n"
				  "  - directResponse: {status: 200}\n";
	struct fixture f;
	setup(&f, yaml);
	char val[64];
	memset(val, 'a', 40);
	val[40] = '\0';
	struct mesh_header h = { "x", val };
	struct mesh_request req = {
		.struct_size = sizeof(req), .authority = "slow", .headers = &h, .nheaders = 1
	};
	const mesh_route *rt;
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	int status;
	mesh_route_get_direct_response(rt, &status, NULL);
	ck_assert_int_eq(status, 200);
	teardown(&f);
}
END_TEST

START_TEST(tcp_tls_and_cors)
{
	static const char *yaml =
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: tcp-echo}\n"
		"spec:\n"
		"  hosts: [tcp-echo]\n"
		"  tcp:\n"
		"  - match: [{port: 9000, sourceLabels: {app: sleep}}]\n"
		"    route: [{destination: {host: tcp-echo, subset: v2, port: {number: 9000}}}]\n"
		"  - match: [{port: 9000}]\n"
		"    route:\n"
		"    - {destination: {host: tcp-echo, subset: v1}, weight: 80}\n"
		"    - {destination: {host: tcp-echo, subset: v2}, weight: 20}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: web}\n"
		"spec:\n"
		"  hosts: [\"*.example.com\"]\n"
		"  tls:\n"
		"  - match: [{port: 443, sniHosts: [api.example.com]}]\n"
		"    route: [{destination: {host: api.internal}}]\n"
		"  http:\n"
		"  - corsPolicy:\n"
		"      allowOrigins: [{exact: \"https://a.example.com\"}, {regex: \"https://.*\\\\.b\\\\.com\"}]\n"
		"      allowMethods: [GET, POST]\n"
		"      maxAge: 24h\n"
		"      allowCredentials: true\n"
		"    route: [{destination: {host: web.internal}}]\n";
	struct fixture f;
	setup(&f, yaml);
	static const char *const sleep_labels[] = { "app", "sleep", NULL };
	struct mesh_workload sleep = { .struct_size = sizeof(sleep), .labels = sleep_labels };
	struct mesh_connection c = { .struct_size = sizeof(c), .host = "tcp-echo", .port = 9000 };
	const mesh_route *rt;
	ck_assert_int_eq(mesh_router_route_connection(f.router, &c, &rt), 0);
	ck_assert_uint_eq(mesh_route_destination_count(rt), 2);
	c.source = &sleep;
	ck_assert_int_eq(mesh_router_route_connection(f.router, &c, &rt), 0);
	ck_assert_str_eq(mesh_cluster_name(mesh_route_destination(rt, 0, NULL)),
	                 "outbound|9000|v2|tcp-echo.default.svc.cluster.local");
	c.port = 9001;
	ck_assert_int_eq(mesh_router_route_connection(f.router, &c, &rt), MESH_ENOTFOUND);

	struct mesh_connection t = { .struct_size = sizeof(t),
		                     .sni = "api.example.com",
		                     .port = 443 };
	ck_assert_int_eq(mesh_router_route_connection(f.router, &t, &rt), 0);
	ck_assert_str_eq(mesh_cluster_host(mesh_route_destination(rt, 0, NULL)), "api.internal");
	t.sni = "other.example.com";
	ck_assert_int_eq(mesh_router_route_connection(f.router, &t, &rt), MESH_ENOTFOUND);

	struct mesh_request req = { .struct_size = sizeof(req), .authority = "www.example.com" };
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	struct mesh_cors cors = { .struct_size = sizeof(cors) };
	ck_assert_int_eq(mesh_route_get_cors(rt, &cors), 0);
	ck_assert_str_eq(cors.allow_methods, "GET,POST");
	ck_assert_int_eq(cors.max_age_s, 86400);
	ck_assert_int_eq(cors.allow_credentials, 1);
	ck_assert_int_eq(mesh_route_cors_origin_allowed(rt, "https://a.example.com", f.s), 1);
	ck_assert_int_eq(mesh_route_cors_origin_allowed(rt, "https://x.b.com", f.s), 1);
	ck_assert_int_eq(mesh_route_cors_origin_allowed(rt, "https://x.c.com", f.s), 0);
	teardown(&f);
}
END_TEST

/* Gateway names resolve as Istio's ResolveGatewayName does; gateway-only
 * VirtualServices neither shadow a service for the sidecars nor conflict
 * with a sidecar one, and merge per host; a gateway's TCP server is routed
 * without a host. */
START_TEST(gateway_binding)
{
	static const char *yaml =
		"apiVersion: networking.istio.io/v1\n"
		"kind: ServiceEntry\n"
		"metadata: {name: reviews}\n"
		"spec:\n"
		"  hosts: [reviews.default.svc.cluster.local]\n"
		"  ports: [{number: 9080, name: http, protocol: HTTP}]\n"
		"  resolution: STATIC\n"
		"  endpoints: [{address: 10.0.0.1}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: gw-reviews}\n"
		"spec:\n"
		"  hosts: [reviews]\n"
		"  gateways: [ingress]\n"
		"  http: [{route: [{destination: {host: reviews}}]}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: legacy}\n"
		"spec:\n"
		"  hosts: [\"*.example.com\"]\n"
		"  gateways: [ingress.istio-system.svc.cluster.local]\n"
		"  http: [{route: [{destination: {host: reviews}}]}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: shop-a}\n"
		"spec:\n"
		"  hosts: [shop.example.com]\n"
		"  gateways: [istio-system/public]\n"
		"  http: [{match: [{uri: {prefix: /a}}], route: [{destination: {host: a.internal}}]}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: shop-b, namespace: shop}\n"
		"spec:\n"
		"  hosts: [shop.example.com]\n"
		"  gateways: [public, istio-system/public]\n"
		"  http: [{match: [{uri: {prefix: /b}}], route: [{destination: {host: b.internal}}]}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: shop-mesh}\n"
		"spec:\n"
		"  hosts: [shop.example.com]\n"
		"  http: [{route: [{destination: {host: mesh.internal}}]}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: tcp-gw, namespace: istio-system}\n"
		"spec:\n"
		"  hosts: [\"*\"]\n"
		"  gateways: [tcpgw]\n"
		"  tcp: [{match: [{port: 31400}], route: [{destination: {host: tcp.internal}}]}]\n";
	struct fixture f;
	ck_assert_int_eq(tu_load(yaml, 0, &f.cfg, &f.d), 0);
	mesh_registry *reg;
	ck_assert_int_eq(mesh_registry_new(&reg), 0);
	ck_assert_int_eq(mesh_registry_load_config(reg, f.cfg, f.d), 0);
	struct mesh_workload wl = { .struct_size = sizeof(wl), .namespace_name = "default" };
	ck_assert_int_eq(mesh_router_new(f.cfg, reg, &wl, &f.router, f.d), 0);
	ck_assert_int_eq(mesh_route_scratch_new(&f.s), 0);
	for (size_t i = 0; i < mesh_diag_count(f.d); i++)
		ck_assert_ptr_null(mesh_diag_code(f.d, i)); /* no MESH0008: nothing conflicts */

	const mesh_route *rt;
	struct mesh_request req = { .struct_size = sizeof(req), .authority = "reviews" };
	/* the sidecars still reach the service itself */
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	ck_assert_str_eq(mesh_route_rule_kind(rt), "default");
	req.gateway = "default/ingress";
	req.authority = "reviews.default.svc.cluster.local";
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	ck_assert_str_eq(mesh_route_rule_name(rt), "gw-reviews");
	req.gateway = "ingress"; /* a bare name: any namespace */
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	req.gateway = "other/ingress";
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), MESH_ENOTFOUND);

	req.authority = "www.example.com";
	req.gateway = "istio-system/ingress"; /* the legacy name.namespace form */
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	ck_assert_str_eq(mesh_route_rule_name(rt), "legacy");
	req.gateway = "default/ingress";
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), MESH_ENOTFOUND);

	/* two gateway VirtualServices for one host merge; the sidecar one is apart */
	req.authority = "shop.example.com";
	req.gateway = "istio-system/public";
	req.path = "/a";
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	ck_assert_str_eq(mesh_route_rule_name(rt), "shop-a");
	req.path = "/b";
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	ck_assert_str_eq(mesh_route_rule_name(rt), "shop-b");
	req.gateway = "shop/public"; /* "public" of namespace shop */
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	ck_assert_str_eq(mesh_route_rule_name(rt), "shop-b");
	req.gateway = NULL;
	ck_assert_int_eq(mesh_router_route(f.router, &req, f.s, &rt), 0);
	ck_assert_str_eq(mesh_route_rule_name(rt), "shop-mesh");

	struct mesh_connection c = { .struct_size = sizeof(c),
		                     .port = 31400,
		                     .gateway = "istio-system/tcpgw" };
	ck_assert_int_eq(mesh_router_route_connection(f.router, &c, &rt), 0);
	ck_assert_str_eq(mesh_cluster_host(mesh_route_destination(rt, 0, NULL)), "tcp.internal");
	c.port = 31401;
	ck_assert_int_eq(mesh_router_route_connection(f.router, &c, &rt), MESH_ENOTFOUND);
	c.port = 31400;
	c.gateway = NULL; /* the sidecars do not get the gateway's tcp route */
	ck_assert_int_eq(mesh_router_route_connection(f.router, &c, &rt), MESH_ENOTFOUND);
	/* and a service's default route is not the gateway's */
	c.host = "reviews";
	ck_assert_int_eq(mesh_router_route_connection(f.router, &c, &rt), 0);
	c.gateway = "default/ingress";
	ck_assert_int_eq(mesh_router_route_connection(f.router, &c, &rt), MESH_ENOTFOUND);
	teardown(&f);
	mesh_registry_free(reg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("route");
	tcase_add_test(tc, seed_route_rules);
	tcase_add_test(tc, explain_all);
	tcase_add_test(tc, virtual_service_actions);
	tcase_add_test(tc, weighted_split_converges);
	tcase_add_test(tc, gateways_and_sources);
	tcase_add_test(tc, regex_match_limit);
	tcase_add_test(tc, tcp_tls_and_cors);
	tcase_add_test(tc, gateway_binding);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
