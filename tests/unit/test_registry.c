/* test_registry.c - the service registry: ServiceEntry / WorkloadEntry
 * loading, lookups, run-time changes, protocol names, allocation failures. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "core/core.h"

/* ---- helpers ---- */

/* Load @yaml (which must be valid) into a new registry; *diag (may be
 * NULL) receives the registry's diagnostics. */
static mesh_registry *load_reg(const char *yaml, mesh_diag **diag)
{
	mesh_config *cfg;
	mesh_diag *d;
	int rc = tu_load(yaml, 0, &cfg, &d);
	if (rc || mesh_diag_count_severity(d, MESH_SEV_ERROR))
		tu_dump(d);
	ck_assert_int_eq(rc, 0);
	mesh_diag_clear(d);
	mesh_registry *reg;
	ck_assert_int_eq(mesh_registry_new(&reg), 0);
	ck_assert_int_eq(mesh_registry_load_config(reg, cfg, d), 0);
	mesh_config_unref(cfg);
	if (diag)
		*diag = d;
	else
		mesh_diag_free(d);
	return reg;
}

static const mesh_service *must_find(const mesh_registry *reg, const char *host)
{
	const mesh_service *s = mesh_registry_find(reg, host);
	ck_assert_msg(s != NULL, "no service for %s", host);
	return s;
}

static struct mesh_endpoint_info ep_at(const mesh_service *s, size_t i)
{
	struct mesh_endpoint_info e = { .struct_size = sizeof(e) };
	ck_assert_int_eq(mesh_service_endpoint(s, i, &e), 0);
	return e;
}

/* Index of the endpoint @address serving @service_port, or -1. */
static long find_ep(const mesh_service *s, const char *address, unsigned service_port)
{
	for (size_t i = 0; i < mesh_service_endpoint_count(s); i++) {
		struct mesh_endpoint_info e = ep_at(s, i);
		if (!strcmp(e.address, address) && e.service_port == service_port)
			return (long)i;
	}
	return -1;
}

static const char *label(const struct mesh_endpoint_info *e, const char *key)
{
	for (size_t i = 0; e->labels && e->labels[i]; i += 2)
		if (!strcmp(e->labels[i], key))
			return e->labels[i + 1];
	return NULL;
}

static bool has_warning(const mesh_diag *d, const char *needle)
{
	for (size_t i = 0; i < mesh_diag_count(d); i++)
		if (mesh_diag_severity(d, i) == MESH_SEV_WARNING &&
		    strstr(mesh_diag_message(d, i), needle))
			return true;
	return false;
}

/* ---- protocols ---- */

START_TEST(protocol_names)
{
	static const struct {
		const char *name;
		int proto;
	} cases[] = {
		{ "HTTP", MESH_PROTO_HTTP },
		{ "http", MESH_PROTO_HTTP },
		{ "Http", MESH_PROTO_HTTP },
		{ "HTTP2", MESH_PROTO_HTTP2 },
		{ "http2", MESH_PROTO_HTTP2 },
		{ "GRPC", MESH_PROTO_GRPC },
		{ "GRPC-Web", MESH_PROTO_GRPC },
		{ "grpc-web", MESH_PROTO_GRPC },
		{ "HTTPS", MESH_PROTO_HTTPS },
		{ "TLS", MESH_PROTO_TLS },
		{ "TCP", MESH_PROTO_TCP },
		{ "Mongo", MESH_PROTO_MONGO },
		{ "MySQL", MESH_PROTO_MYSQL },
		{ "REDIS", MESH_PROTO_REDIS },
		{ "HTTP_PROXY", MESH_PROTO_HTTP },
		{ "UDP", MESH_PROTO_UNKNOWN },
		{ "", MESH_PROTO_UNKNOWN },
		{ "web", MESH_PROTO_UNKNOWN },
		{ "httpx", MESH_PROTO_UNKNOWN },
		{ "h2", MESH_PROTO_UNKNOWN },
		/* port names: "<protocol>[-<suffix>]" */
		{ "http-web", MESH_PROTO_HTTP },
		{ "http2-api", MESH_PROTO_HTTP2 },
		{ "grpc-api", MESH_PROTO_GRPC },
		{ "grpc-web-ui", MESH_PROTO_GRPC },
		{ "https-admin", MESH_PROTO_HTTPS },
		{ "tls-x", MESH_PROTO_TLS },
		{ "tcp-db", MESH_PROTO_TCP },
		{ "mongo-1", MESH_PROTO_MONGO },
		{ "mysql-main", MESH_PROTO_MYSQL },
		{ "redis-", MESH_PROTO_REDIS },
		{ "HTTP-Web", MESH_PROTO_HTTP },
		{ "webhttp", MESH_PROTO_UNKNOWN },
		{ "web-http", MESH_PROTO_UNKNOWN },
		{ "-http", MESH_PROTO_UNKNOWN },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(mesh_protocol_from_name(cases[i].name) == cases[i].proto,
		              "%s: got %d, want %d", cases[i].name,
		              mesh_protocol_from_name(cases[i].name), cases[i].proto);
	ck_assert_int_eq(mesh_protocol_from_name(NULL), MESH_PROTO_UNKNOWN);
}
END_TEST

/* ---- loading ---- */

static const char *const inline_yaml =
	"apiVersion: networking.istio.io/v1\n"
	"kind: ServiceEntry\n"
	"metadata: {name: payments, namespace: shop}\n"
	"spec:\n"
	"  hosts: [payments.shop.svc.cluster.local]\n"
	"  addresses: [10.96.0.10, 192.168.0.0/24]\n"
	"  location: MESH_INTERNAL\n"
	"  resolution: STATIC\n"
	"  ports:\n"
	"  - {number: 8080, name: http-api, protocol: HTTP}\n"
	"  - {number: 9090, name: grpc, protocol: GRPC, targetPort: 19090}\n"
	"  - {number: 5432, name: tcp-db}\n"
	"  endpoints:\n"
	"  - address: 10.0.0.1\n"
	"    labels: {app: payments, version: v1}\n"
	"    locality: us-east1/us-east1-b/rack7\n"
	"    weight: 3\n"
	"    network: net-a\n"
	"    serviceAccount: payments-sa\n"
	"    ports: {http-api: 18080}\n"
	"  - address: 10.0.0.2\n"
	"    labels: {app: payments, version: v2}\n";

START_TEST(load_inline_endpoints)
{
	mesh_diag *d;
	mesh_registry *reg = load_reg(inline_yaml, &d);
	ck_assert_uint_eq(mesh_diag_count(d), 0);
	ck_assert_uint_eq(mesh_registry_version(reg), 1);
	ck_assert_uint_eq(mesh_registry_service_count(reg), 1);
	const mesh_service *s = must_find(reg, "payments.shop.svc.cluster.local");
	ck_assert_ptr_eq(s, mesh_registry_service_at(reg, 0));
	ck_assert_str_eq(mesh_service_host(s), "payments.shop.svc.cluster.local");
	ck_assert_str_eq(mesh_service_namespace(s), "shop");
	ck_assert_int_eq(mesh_service_resolution(s), MESH_RESOLUTION_STATIC);
	ck_assert_int_eq(mesh_service_location(s), MESH_LOCATION_INTERNAL);
	ck_assert_uint_eq(mesh_service_address_count(s), 2);
	ck_assert_str_eq(mesh_service_address(s, 0), "10.96.0.10");
	ck_assert_str_eq(mesh_service_address(s, 1), "192.168.0.0/24");
	ck_assert_ptr_null(mesh_service_address(s, 2));

	/* ports: numbers, names, protocols (tcp-db by its name) */
	ck_assert_uint_eq(mesh_service_port_count(s), 3);
	unsigned num;
	const char *name;
	int proto;
	ck_assert_int_eq(mesh_service_port(s, 0, &num, &name, &proto), 0);
	ck_assert_uint_eq(num, 8080);
	ck_assert_str_eq(name, "http-api");
	ck_assert_int_eq(proto, MESH_PROTO_HTTP);
	ck_assert_int_eq(mesh_service_port(s, 1, &num, &name, &proto), 0);
	ck_assert_uint_eq(num, 9090);
	ck_assert_int_eq(proto, MESH_PROTO_GRPC);
	ck_assert_int_eq(mesh_service_port(s, 2, &num, &name, &proto), 0);
	ck_assert_uint_eq(num, 5432);
	ck_assert_str_eq(name, "tcp-db");
	ck_assert_int_eq(proto, MESH_PROTO_TCP);
	ck_assert_int_eq(mesh_service_port(s, 3, &num, &name, &proto), MESH_EINVAL);

	/* one endpoint per address and service port */
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 6);
	struct mesh_endpoint_info e = ep_at(s, (size_t)find_ep(s, "10.0.0.1", 8080));
	ck_assert_uint_eq(e.port, 18080); /* from the endpoint's ports map */
	ck_assert_uint_eq(e.weight, 3);
	ck_assert_str_eq(e.locality, "us-east1/us-east1-b/rack7");
	ck_assert_str_eq(e.network, "net-a");
	ck_assert_str_eq(e.service_account, "payments-sa");
	ck_assert_str_eq(label(&e, "app"), "payments");
	ck_assert_str_eq(label(&e, "version"), "v1");
	ck_assert_ptr_null(e.labels[4]);
	e = ep_at(s, (size_t)find_ep(s, "10.0.0.1", 9090));
	ck_assert_uint_eq(e.port, 19090); /* targetPort */
	e = ep_at(s, (size_t)find_ep(s, "10.0.0.1", 5432));
	ck_assert_uint_eq(e.port, 5432); /* the service port */
	e = ep_at(s, (size_t)find_ep(s, "10.0.0.2", 8080));
	ck_assert_uint_eq(e.port, 8080);
	ck_assert_uint_eq(e.weight, 1); /* default */
	ck_assert_ptr_null(e.locality);
	ck_assert_ptr_null(e.network);
	ck_assert_ptr_null(e.service_account);
	ck_assert_str_eq(label(&e, "version"), "v2");

	mesh_diag_free(d);
	mesh_registry_free(reg);
}
END_TEST

START_TEST(load_multi_host)
{
	mesh_registry *reg =
		load_reg("apiVersion: networking.istio.io/v1\n"
	                 "kind: ServiceEntry\n"
	                 "metadata: {name: ext}\n"
	                 "spec:\n"
	                 "  hosts: [api.example.com, API.example.org]\n"
	                 "  resolution: STATIC\n"
	                 "  ports: [{number: 443, name: tls, protocol: TLS}]\n"
	                 "  endpoints: [{address: 1.2.3.4}, {address: 1.2.3.5, weight: 2}]\n",
	                 NULL);
	ck_assert_uint_eq(mesh_registry_service_count(reg), 2);
	const mesh_service *a = must_find(reg, "api.example.com");
	const mesh_service *b = must_find(reg, "api.example.org");
	ck_assert_ptr_ne(a, b);
	ck_assert_str_eq(mesh_service_host(b), "api.example.org"); /* lower case */
	ck_assert_str_eq(mesh_service_namespace(a), "default");
	ck_assert_int_eq(mesh_service_location(a), MESH_LOCATION_EXTERNAL); /* default */
	ck_assert_uint_eq(mesh_service_endpoint_count(a), 2);
	ck_assert_uint_eq(mesh_service_endpoint_count(b), 2);
	ck_assert_str_eq(ep_at(b, 1).address, "1.2.3.5");
	ck_assert_uint_eq(ep_at(b, 1).weight, 2);

	/* the hosts share endpoints, but a change to one stays with it */
	uint64_t v = mesh_registry_version(reg);
	struct mesh_endpoint_info e = { .struct_size = sizeof(e), .address = "1.2.3.6" };
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "api.example.com", &e), 0);
	a = must_find(reg, "api.example.com");
	b = must_find(reg, "api.example.org");
	ck_assert_uint_eq(mesh_service_endpoint_count(a), 3);
	ck_assert_uint_eq(mesh_service_endpoint_count(b), 2);
	ck_assert_int_eq(mesh_registry_remove_endpoint(reg, "api.example.org", "1.2.3.4", 443), 0);
	ck_assert_uint_eq(mesh_service_endpoint_count(a), 3);
	ck_assert_uint_eq(mesh_service_endpoint_count(b), 1);
	ck_assert_str_eq(ep_at(b, 0).address, "1.2.3.5");
	ck_assert_uint_eq(mesh_registry_version(reg), v + 2);
	mesh_registry_free(reg);
}
END_TEST

static const char *const selector_yaml =
	"apiVersion: networking.istio.io/v1\n"
	"kind: ServiceEntry\n"
	"metadata: {name: reviews, namespace: bookinfo}\n"
	"spec:\n"
	"  hosts: [reviews.bookinfo.svc.cluster.local]\n"
	"  location: MESH_INTERNAL\n"
	"  resolution: STATIC\n"
	"  ports:\n"
	"  - {number: 9080, name: http, protocol: HTTP}\n"
	"  - {number: 9090, name: grpc-admin}\n"
	"  workloadSelector: {labels: {app: reviews}}\n"
	"---\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: reviews-v1, namespace: bookinfo}\n"
	"spec:\n"
	"  address: 10.1.0.1\n"
	"  ports: {http: 19080, grpc-admin: 19090}\n"
	"  labels: {app: reviews, version: v1}\n"
	"  locality: eu-west1/eu-west1-a\n"
	"  weight: 5\n"
	"  serviceAccount: bookinfo-reviews\n"
	"  network: net-1\n"
	"---\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: reviews-v2, namespace: bookinfo}\n"
	"spec:\n"
	"  address: 10.1.0.2\n"
	"  ports: {http: 29080, metrics: 15020}\n"
	"  labels: {version: v2, app: reviews}\n"
	"---\n"
	"# same labels, other namespace: not selected\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: reviews-v1, namespace: other}\n"
	"spec: {address: 10.9.0.1, labels: {app: reviews, version: v1}}\n"
	"---\n"
	"# other app: not selected\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: ratings-v1, namespace: bookinfo}\n"
	"spec: {address: 10.1.0.3, labels: {app: ratings, version: v1}}\n"
	"---\n"
	"# no labels: not selected\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: bare, namespace: bookinfo}\n"
	"spec: {address: 10.1.0.4}\n";

START_TEST(load_workload_selector)
{
	mesh_diag *d;
	mesh_registry *reg = load_reg(selector_yaml, &d);
	const mesh_service *s = must_find(reg, "reviews.bookinfo.svc.cluster.local");
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 4);
	/* load order: v1 then v2, each for both service ports */
	ck_assert_str_eq(ep_at(s, 0).address, "10.1.0.1");
	ck_assert_str_eq(ep_at(s, 2).address, "10.1.0.2");
	struct mesh_endpoint_info e = ep_at(s, (size_t)find_ep(s, "10.1.0.1", 9080));
	ck_assert_uint_eq(e.port, 19080);
	ck_assert_uint_eq(e.weight, 5);
	ck_assert_str_eq(e.locality, "eu-west1/eu-west1-a");
	ck_assert_str_eq(e.service_account, "bookinfo-reviews");
	ck_assert_str_eq(e.network, "net-1");
	ck_assert_str_eq(label(&e, "version"), "v1");
	ck_assert_str_eq(label(&e, "app"), "reviews");
	e = ep_at(s, (size_t)find_ep(s, "10.1.0.1", 9090));
	ck_assert_uint_eq(e.port, 19090);
	e = ep_at(s, (size_t)find_ep(s, "10.1.0.2", 9080));
	ck_assert_uint_eq(e.port, 29080);
	ck_assert_uint_eq(e.weight, 1);
	e = ep_at(s, (size_t)find_ep(s, "10.1.0.2", 9090));
	ck_assert_uint_eq(e.port, 9090); /* no "grpc-admin" in its map */
	ck_assert_int_eq(find_ep(s, "10.9.0.1", 9080), -1);
	ck_assert_int_eq(find_ep(s, "10.1.0.3", 9080), -1);
	ck_assert_int_eq(find_ep(s, "10.1.0.4", 9080), -1);
	/* reviews-v2's "metrics" names no port of the service */
	ck_assert_uint_eq(mesh_diag_count(d), 1);
	ck_assert(has_warning(d, "port name \"metrics\""));
	ck_assert_str_eq(mesh_diag_path(d, 0), "spec.ports.metrics");
	ck_assert_uint_eq(mesh_diag_line(d, 0), 30);
	mesh_diag_free(d);
	mesh_registry_free(reg);
}
END_TEST

START_TEST(load_selector_cases)
{
	mesh_diag *d;
	/* several selector labels (all must match); an empty selector takes
	 * every WorkloadEntry of the namespace; a port name used by one of
	 * two selecting services is no warning */
	mesh_registry *reg = load_reg(
		"apiVersion: networking.istio.io/v1\n"
		"kind: ServiceEntry\n"
		"metadata: {name: a}\n"
		"spec:\n"
		"  hosts: [a.local]\n"
		"  resolution: STATIC\n"
		"  ports: [{number: 80, name: http}]\n"
		"  workloadSelector: {labels: {app: x, tier: web}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: ServiceEntry\n"
		"metadata: {name: all}\n"
		"spec:\n"
		"  hosts: [all.local]\n"
		"  resolution: STATIC\n"
		"  ports: [{number: 81, name: grpc}]\n"
		"  workloadSelector: {labels: {}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: w1}\n"
		"spec: {address: 10.0.0.1, labels: {app: x, tier: web}, ports: {http: 8080, grpc: 8081}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: w2}\n"
		"spec: {address: 10.0.0.2, labels: {app: x, tier: db}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: w3}\n"
		"spec: {address: 10.0.0.3, labels: {tier: web}}\n",
		&d);
	const mesh_service *a = must_find(reg, "a.local");
	ck_assert_uint_eq(mesh_service_endpoint_count(a), 1);
	ck_assert_str_eq(ep_at(a, 0).address, "10.0.0.1");
	ck_assert_uint_eq(ep_at(a, 0).port, 8080);
	const mesh_service *all = must_find(reg, "all.local");
	ck_assert_uint_eq(mesh_service_endpoint_count(all), 3);
	ck_assert_uint_eq(ep_at(all, 0).port, 8081);
	ck_assert_uint_eq(ep_at(all, 1).port, 81);
	ck_assert_uint_eq(mesh_diag_count_severity(d, MESH_SEV_WARNING), 0);
	mesh_diag_free(d);
	mesh_registry_free(reg);
}
END_TEST

START_TEST(load_resolutions)
{
	mesh_registry *reg = load_reg(
		"apiVersion: networking.istio.io/v1\n"
		"kind: ServiceEntry\n"
		"metadata: {name: dns}\n"
		"spec:\n"
		"  hosts: [www.example.com, docs.example.com]\n"
		"  resolution: DNS\n"
		"  ports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: https, "
		"protocol: TLS, targetPort: 8443}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: ServiceEntry\n"
		"metadata: {name: dnsep}\n"
		"spec:\n"
		"  hosts: [db.example.com]\n"
		"  resolution: DNS_ROUND_ROBIN\n"
		"  ports: [{number: 5432, name: tcp}]\n"
		"  endpoints: [{address: db1.example.net}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: ServiceEntry\n"
		"metadata: {name: none}\n"
		"spec:\n"
		"  hosts: [\"*.wiki.example.com\"]\n"
		"  ports: [{number: 443, name: tls, protocol: TLS}]\n",
		NULL);
	/* DNS without endpoints: the host itself is the endpoint */
	const mesh_service *s = must_find(reg, "docs.example.com");
	ck_assert_int_eq(mesh_service_resolution(s), MESH_RESOLUTION_DNS);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 2);
	ck_assert_str_eq(ep_at(s, 0).address, "docs.example.com");
	ck_assert_uint_eq(ep_at(s, 0).port, 80);
	ck_assert_uint_eq(ep_at(s, 0).service_port, 80);
	ck_assert_uint_eq(ep_at(s, 1).port, 8443);
	ck_assert_uint_eq(ep_at(s, 1).service_port, 443);
	s = must_find(reg, "www.example.com");
	ck_assert_str_eq(ep_at(s, 0).address, "www.example.com");
	s = must_find(reg, "db.example.com");
	ck_assert_int_eq(mesh_service_resolution(s), MESH_RESOLUTION_DNS_ROUND_ROBIN);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 1);
	ck_assert_str_eq(ep_at(s, 0).address, "db1.example.net");
	/* NONE (the default): passthrough, no endpoints */
	s = must_find(reg, "en.wiki.example.com");
	ck_assert_str_eq(mesh_service_host(s), "*.wiki.example.com");
	ck_assert_int_eq(mesh_service_resolution(s), MESH_RESOLUTION_NONE);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 0);
	mesh_registry_free(reg);
}
END_TEST

START_TEST(load_istio_details)
{
	mesh_diag *d;
	mesh_registry *reg =
		load_reg("apiVersion: networking.istio.io/v1\n"
	                 "kind: ServiceEntry\n"
	                 "metadata: {name: db}\n"
	                 "spec:\n"
	                 "  hosts: [db.local]\n"
	                 "  resolution: STATIC\n"
	                 "  ports:\n"
	                 "  - {number: 3306, name: db}\n"     /* well-known: TCP, not sniffed */
	                 "  - {number: 3307, name: db2}\n"    /* sniffed */
	                 "  - {number: 27017, name: mongo}\n" /* by its name */
	                 "  workloadSelector: {labels: {app: db}}\n"
	                 "---\n"
	                 "apiVersion: networking.istio.io/v1\n"
	                 "kind: WorkloadEntry\n"
	                 "metadata: {name: db-1}\n"
	                 "spec:\n"
	                 "  address: 10.3.0.1\n"
	                 "  labels: {app: db, istio-locality: us-west1.us-west1-a.r1}\n"
	                 "---\n"
	                 "apiVersion: networking.istio.io/v1\n"
	                 "kind: WorkloadEntry\n"
	                 "metadata: {name: db-2}\n"
	                 "spec:\n"
	                 "  address: 10.3.0.2\n"
	                 "  locality: eu/eu-1\n"
	                 "  labels: {app: db, istio-locality: us-west1.us-west1-a}\n"
	                 "---\n"
	                 "apiVersion: networking.istio.io/v1\n"
	                 "kind: ServiceEntry\n"
	                 "metadata: {name: sock}\n"
	                 "spec:\n"
	                 "  hosts: [sock.local]\n"
	                 "  resolution: STATIC\n"
	                 "  ports: [{number: 80, name: http}]\n"
	                 "  endpoints: [{address: \"unix:///var/run/app.sock\"}]\n"
	                 "---\n"
	                 "apiVersion: networking.istio.io/v1\n"
	                 "kind: ServiceEntry\n"
	                 "metadata: {name: dns-selector}\n"
	                 "spec:\n"
	                 "  hosts: [dsel.example.com]\n"
	                 "  resolution: DNS\n"
	                 "  ports: [{number: 80, name: http}]\n"
	                 "  workloadSelector: {labels: {app: db}}\n",
	                 &d);
	const mesh_service *s = must_find(reg, "db.local");
	int proto;
	ck_assert_int_eq(mesh_service_port(s, 0, NULL, NULL, &proto), 0);
	ck_assert_int_eq(proto, MESH_PROTO_TCP);
	ck_assert_int_eq(mesh_service_port(s, 1, NULL, NULL, &proto), 0);
	ck_assert_int_eq(proto, MESH_PROTO_UNKNOWN);
	ck_assert_int_eq(mesh_service_port(s, 2, NULL, NULL, &proto), 0);
	ck_assert_int_eq(proto, MESH_PROTO_MONGO);
	/* locality from the istio-locality label, unless the field is set */
	ck_assert_str_eq(ep_at(s, (size_t)find_ep(s, "10.3.0.1", 3306)).locality,
	                 "us-west1/us-west1-a/r1");
	ck_assert_str_eq(ep_at(s, (size_t)find_ep(s, "10.3.0.2", 3306)).locality, "eu/eu-1");
	/* a unix socket has no port */
	s = must_find(reg, "sock.local");
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 1);
	ck_assert_str_eq(ep_at(s, 0).address, "unix:///var/run/app.sock");
	ck_assert_uint_eq(ep_at(s, 0).port, 0);
	ck_assert_uint_eq(ep_at(s, 0).service_port, 80);
	/* DNS with a selector: no host endpoint (and the selector has no
	 * effect, as the validator says) */
	s = must_find(reg, "dsel.example.com");
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 0);
	mesh_diag_free(d);
	mesh_registry_free(reg);
}
END_TEST

START_TEST(load_merges_hosts)
{
	mesh_diag *d;
	mesh_registry *reg = load_reg(
		"apiVersion: networking.istio.io/v1\n"
		"kind: ServiceEntry\n"
		"metadata: {name: one, namespace: a}\n"
		"spec:\n"
		"  hosts: [svc.example.com]\n"
		"  resolution: STATIC\n"
		"  ports: [{number: 80, name: http, protocol: HTTP}]\n"
		"  endpoints: [{address: 10.0.0.1}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: ServiceEntry\n"
		"metadata: {name: two, namespace: b}\n"
		"spec:\n"
		"  hosts: [svc.example.com]\n"
		"  resolution: STATIC\n"
		"  ports: [{number: 80, name: tcp, protocol: TCP}, {number: 81, name: http2, "
		"protocol: HTTP2}]\n"
		"  endpoints: [{address: 10.0.0.2}, {address: 10.0.0.1}]\n",
		&d);
	ck_assert_uint_eq(mesh_registry_service_count(reg), 1);
	const mesh_service *s = must_find(reg, "svc.example.com");
	ck_assert_str_eq(mesh_service_namespace(s), "a");
	ck_assert_uint_eq(mesh_service_port_count(s), 2);
	int proto;
	ck_assert_int_eq(mesh_service_port(s, 0, NULL, NULL, &proto), 0);
	ck_assert_int_eq(proto, MESH_PROTO_HTTP); /* the first definition stays */
	/* 10.0.0.1 for port 80 appears in both: replaced, not doubled */
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 4);
	ck_assert(has_warning(d, "already defined (namespace a)"));
	ck_assert(has_warning(d, "port 80 of host \"svc.example.com\" is already defined"));
	ck_assert_uint_eq(mesh_diag_count(d), 2);
	mesh_diag_free(d);
	mesh_registry_free(reg);
}
END_TEST

/* ---- lookups ---- */

START_TEST(wildcard_find)
{
	mesh_registry *reg;
	ck_assert_int_eq(mesh_registry_new(&reg), 0);
	ck_assert_ptr_null(mesh_registry_find(reg, "a.example.com"));
	ck_assert_int_eq(mesh_registry_add_service(reg, "*.example.com", NULL, 80, "http", NULL),
	                 0);
	ck_assert_int_eq(mesh_registry_add_service(reg, "*.b.example.com", NULL, 80, "http", NULL),
	                 0);
	ck_assert_int_eq(mesh_registry_add_service(reg, "x.b.example.com", NULL, 80, "http", NULL),
	                 0);
	ck_assert_str_eq(mesh_service_host(must_find(reg, "a.example.com")), "*.example.com");
	ck_assert_str_eq(mesh_service_host(must_find(reg, "A.Example.COM.")), "*.example.com");
	ck_assert_str_eq(mesh_service_host(must_find(reg, "a.c.example.com")), "*.example.com");
	ck_assert_str_eq(mesh_service_host(must_find(reg, "y.b.example.com")), "*.b.example.com");
	ck_assert_str_eq(mesh_service_host(must_find(reg, "z.y.b.example.com")), "*.b.example.com");
	ck_assert_str_eq(mesh_service_host(must_find(reg, "b.example.com")), "*.example.com");
	ck_assert_str_eq(mesh_service_host(must_find(reg, "x.b.example.com")), "x.b.example.com");
	ck_assert_str_eq(mesh_service_host(must_find(reg, "*.b.example.com")), "*.b.example.com");
	ck_assert_str_eq(mesh_service_host(must_find(reg, "*.c.example.com")), "*.example.com");
	ck_assert_ptr_null(mesh_registry_find(reg, "example.com"));
	ck_assert_ptr_null(mesh_registry_find(reg, "a.example.org"));
	ck_assert_ptr_null(mesh_registry_find(reg, "aexample.com"));
	ck_assert_ptr_null(mesh_registry_find(reg, ""));
	ck_assert_ptr_null(mesh_registry_find(reg, NULL));
	ck_assert_ptr_null(mesh_registry_find(NULL, "a.example.com"));
	/* "*" covers everything else */
	ck_assert_int_eq(mesh_registry_add_service(reg, "*", NULL, 443, "tls", NULL), 0);
	ck_assert_str_eq(mesh_service_host(must_find(reg, "example.com")), "*");
	ck_assert_ptr_null(mesh_registry_find(reg, ""));
	ck_assert_str_eq(mesh_service_host(must_find(reg, "a.example.com")), "*.example.com");
	/* malformed wildcards */
	ck_assert_int_eq(mesh_registry_add_service(reg, "*example.com", NULL, 80, NULL, NULL),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_add_service(reg, "a.*.com", NULL, 80, NULL, NULL),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_add_service(reg, "*.", NULL, 80, NULL, NULL), MESH_EINVAL);
	ck_assert_uint_eq(mesh_registry_service_count(reg), 4);
	mesh_registry_free(reg);
}
END_TEST

START_TEST(many_services)
{
	/* grows the tables: every host stays findable, lookups by hash */
	mesh_registry *reg;
	char host[64];
	ck_assert_int_eq(mesh_registry_new(&reg), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(host, sizeof(host), "%ssvc%d.ns%d.svc.cluster.local", i % 10 ? "" : "*.",
		         i, i % 7);
		ck_assert_int_eq(mesh_registry_add_service(reg, host, NULL, 80, "http", NULL), 0);
	}
	ck_assert_uint_eq(mesh_registry_service_count(reg), 5000);
	ck_assert_uint_eq(mesh_registry_version(reg), 5000);
	for (int i = 0; i < 5000; i++) {
		if (i % 10) {
			snprintf(host, sizeof(host), "svc%d.ns%d.svc.cluster.local", i, i % 7);
			ck_assert_str_eq(mesh_service_host(must_find(reg, host)), host);
		} else {
			snprintf(host, sizeof(host), "a.svc%d.ns%d.svc.cluster.local", i, i % 7);
			const char *got = mesh_service_host(must_find(reg, host));
			ck_assert_str_eq(got + 1, host + 1); /* "*.svc..." for "a.svc..." */
		}
		ck_assert_ptr_eq(mesh_registry_service_at(reg, (size_t)i),
		                 mesh_registry_find(reg, mesh_service_host(mesh_registry_service_at(
								 reg, (size_t)i))));
	}
	mesh_registry_free(reg);
}
END_TEST

/* ---- run-time changes ---- */

START_TEST(runtime_changes)
{
	mesh_registry *reg;
	ck_assert_int_eq(mesh_registry_new(&reg), 0);
	ck_assert_uint_eq(mesh_registry_version(reg), 0);
	ck_assert_int_eq(mesh_registry_add_service(reg, "cart.shop.svc.cluster.local", "shop", 8080,
	                                           "http-web", NULL),
	                 0);
	ck_assert_uint_eq(mesh_registry_version(reg), 1);
	const mesh_service *s = must_find(reg, "cart.shop.svc.cluster.local");
	ck_assert_str_eq(mesh_service_namespace(s), "shop");
	ck_assert_int_eq(mesh_service_resolution(s), MESH_RESOLUTION_STATIC);
	ck_assert_int_eq(mesh_service_location(s), MESH_LOCATION_INTERNAL);
	int proto;
	const char *name;
	ck_assert_int_eq(mesh_service_port(s, 0, NULL, &name, &proto), 0);
	ck_assert_str_eq(name, "http-web");
	ck_assert_int_eq(proto, MESH_PROTO_HTTP);
	/* the same port again: no change */
	ck_assert_int_eq(mesh_registry_add_service(reg, "cart.shop.svc.cluster.local", "other",
	                                           8080, "http-web", ""),
	                 0);
	ck_assert_uint_eq(mesh_registry_version(reg), 1);
	ck_assert_str_eq(mesh_service_namespace(s), "shop");
	/* a second port; then the first one with another protocol */
	ck_assert_int_eq(mesh_registry_add_service(reg, "cart.shop.svc.cluster.local", NULL, 9090,
	                                           NULL, "grpc"),
	                 0);
	ck_assert_int_eq(mesh_registry_add_service(reg, "cart.shop.svc.cluster.local", NULL, 8080,
	                                           "web", "HTTP2"),
	                 0);
	ck_assert_uint_eq(mesh_registry_version(reg), 3);
	ck_assert_uint_eq(mesh_service_port_count(s), 2);
	ck_assert_int_eq(mesh_service_port(s, 0, NULL, &name, &proto), 0);
	ck_assert_str_eq(name, "web");
	ck_assert_int_eq(proto, MESH_PROTO_HTTP2);
	ck_assert_int_eq(mesh_service_port(s, 1, NULL, &name, &proto), 0);
	ck_assert_str_eq(name, "");
	ck_assert_int_eq(proto, MESH_PROTO_GRPC);

	/* endpoints */
	const char *labels[] = { "app", "cart", "version", "v1", NULL };
	struct mesh_endpoint_info ep = { .struct_size = sizeof(ep),
		                         .address = "10.2.0.1",
		                         .port = 18080,
		                         .labels = labels,
		                         .locality = "r/z",
		                         .weight = 0,
		                         .service_account = "cart",
		                         .network = "n1" };
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "cart.shop.svc.cluster.local", &ep), 0);
	labels[3] = "changed"; /* copied in */
	ep.address = "10.2.0.2";
	ep.labels = NULL;
	ep.locality = ep.service_account = ep.network = NULL;
	ep.weight = 7;
	ep.port = 0;
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "CART.shop.svc.cluster.local.", &ep), 0);
	ck_assert_uint_eq(mesh_registry_version(reg), 5);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 2);
	struct mesh_endpoint_info e = ep_at(s, 0);
	ck_assert_str_eq(e.address, "10.2.0.1");
	ck_assert_uint_eq(e.port, 18080);
	ck_assert_uint_eq(e.weight, 1);
	ck_assert_str_eq(label(&e, "version"), "v1");
	ck_assert_str_eq(e.locality, "r/z");
	ck_assert_str_eq(e.service_account, "cart");
	ck_assert_str_eq(e.network, "n1");
	ck_assert_uint_eq(e.service_port, 0);
	e = ep_at(s, 1);
	ck_assert_uint_eq(e.port, 0);
	ck_assert_uint_eq(e.weight, 7);
	ck_assert_ptr_null(e.labels);

	/* same address and port: replaced in place */
	const char *labels2[] = { "version", "v2", NULL };
	ep.address = "10.2.0.1";
	ep.port = 18080;
	ep.labels = labels2;
	ep.weight = 9;
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "cart.shop.svc.cluster.local", &ep), 0);
	ck_assert_uint_eq(mesh_registry_version(reg), 6);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 2);
	e = ep_at(s, 0);
	ck_assert_uint_eq(e.weight, 9);
	ck_assert_str_eq(label(&e, "version"), "v2");
	ck_assert_ptr_null(label(&e, "app"));
	/* same address, other port or service port: a new endpoint */
	ep.port = 18081;
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "cart.shop.svc.cluster.local", &ep), 0);
	ep.service_port = 9090;
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "cart.shop.svc.cluster.local", &ep), 0);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 4);
	ck_assert_uint_eq(ep_at(s, 3).service_port, 9090);
	ck_assert_uint_eq(mesh_registry_version(reg), 8);

	/* remove: by address and port, whatever service port; order kept */
	ck_assert_int_eq(mesh_registry_remove_endpoint(reg, "cart.shop.svc.cluster.local",
	                                               "10.2.0.1", 18081),
	                 0);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 2);
	ck_assert_str_eq(ep_at(s, 0).address, "10.2.0.1");
	ck_assert_str_eq(ep_at(s, 1).address, "10.2.0.2");
	ck_assert_uint_eq(mesh_registry_version(reg), 9);
	ck_assert_int_eq(mesh_registry_remove_endpoint(reg, "cart.shop.svc.cluster.local",
	                                               "10.2.0.1", 18081),
	                 MESH_ENOTFOUND);
	ck_assert_int_eq(
		mesh_registry_remove_endpoint(reg, "cart.shop.svc.cluster.local", "10.2.0.9", 0),
		MESH_ENOTFOUND);
	ck_assert_uint_eq(mesh_registry_version(reg), 9);
	/* after a removal the index is rebuilt: replacing still works */
	ep.address = "10.2.0.2";
	ep.port = 0;
	ep.service_port = 0;
	ep.weight = 4;
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "cart.shop.svc.cluster.local", &ep), 0);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 2);
	ck_assert_uint_eq(ep_at(s, 1).weight, 4);
	ck_assert_int_eq(mesh_registry_remove_endpoint(reg, "cart.shop.svc.cluster.local",
	                                               "10.2.0.1", 18080),
	                 0);
	ck_assert_int_eq(
		mesh_registry_remove_endpoint(reg, "cart.shop.svc.cluster.local", "10.2.0.2", 0),
		0);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 0);
	ck_assert_uint_eq(mesh_registry_version(reg), 12);
	mesh_registry_free(reg);
}
END_TEST

START_TEST(runtime_on_loaded)
{
	/* a run-time endpoint next to loaded ones; then replacing a loaded
	 * one needs its service port */
	mesh_registry *reg = load_reg(selector_yaml, NULL);
	const char *host = "reviews.bookinfo.svc.cluster.local";
	const mesh_service *s = must_find(reg, host);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 4);
	struct mesh_endpoint_info ep = { .struct_size = sizeof(ep),
		                         .address = "10.1.0.1",
		                         .port = 19080,
		                         .service_port = 9080,
		                         .weight = 2 };
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, host, &ep), 0);
	s = must_find(reg, host);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 4);
	ck_assert_uint_eq(ep_at(s, 0).weight, 2);
	ck_assert_ptr_null(ep_at(s, 0).labels);
	ck_assert_int_eq(mesh_registry_remove_endpoint(reg, host, "10.1.0.2", 29080), 0);
	ck_assert_uint_eq(mesh_service_endpoint_count(s), 3);
	/* loading more config keeps run-time changes */
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(tu_load("apiVersion: networking.istio.io/v1\n"
	                         "kind: ServiceEntry\n"
	                         "metadata: {name: extra}\n"
	                         "spec:\n"
	                         "  hosts: [extra.local]\n"
	                         "  ports: [{number: 1, name: tcp}]\n",
	                         0, &cfg, &d),
	                 0);
	uint64_t v = mesh_registry_version(reg);
	ck_assert_int_eq(mesh_registry_load_config(reg, cfg, d), 0);
	ck_assert_uint_eq(mesh_registry_version(reg), v + 1);
	ck_assert_uint_eq(mesh_registry_service_count(reg), 2);
	ck_assert_uint_eq(mesh_service_endpoint_count(must_find(reg, host)), 3);
	/* a config without ServiceEntries changes nothing */
	mesh_config_unref(cfg);
	ck_assert_int_eq(mesh_config_new(&cfg), 0);
	ck_assert_int_eq(mesh_registry_load_config(reg, cfg, d), 0);
	ck_assert_uint_eq(mesh_registry_version(reg), v + 1);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
	mesh_registry_free(reg);
}
END_TEST

/* The endpoint struct without its last field (callers built against the
 * first layout). */
struct old_endpoint_info {
	size_t struct_size;
	const char *address;
	unsigned port;
	const char *const *labels;
	const char *locality;
	unsigned weight;
	const char *service_account;
	const char *network;
};

START_TEST(struct_size)
{
	mesh_registry *reg;
	ck_assert_int_eq(mesh_registry_new(&reg), 0);
	ck_assert_int_eq(mesh_registry_add_service(reg, "a.local", NULL, 80, "http", NULL), 0);
	struct old_endpoint_info old = { .struct_size = sizeof(old), .address = "10.0.0.1" };
	ck_assert_int_eq(
		mesh_registry_add_endpoint(reg, "a.local", (const struct mesh_endpoint_info *)&old),
		0);
	struct old_endpoint_info out = { .struct_size = sizeof(out) };
	ck_assert_int_eq(mesh_service_endpoint(must_find(reg, "a.local"), 0,
	                                       (struct mesh_endpoint_info *)&out),
	                 0);
	ck_assert_str_eq(out.address, "10.0.0.1");
	old.struct_size = sizeof(size_t);
	ck_assert_int_eq(
		mesh_registry_add_endpoint(reg, "a.local", (const struct mesh_endpoint_info *)&old),
		MESH_EINVAL);
	out.struct_size = 0;
	ck_assert_int_eq(mesh_service_endpoint(must_find(reg, "a.local"), 0,
	                                       (struct mesh_endpoint_info *)&out),
	                 MESH_EINVAL);
	mesh_registry_free(reg);
}
END_TEST

START_TEST(errors)
{
	mesh_registry *reg;
	struct mesh_endpoint_info ep = { .struct_size = sizeof(ep), .address = "10.0.0.1" };
	ck_assert_int_eq(mesh_registry_new(NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_new(&reg), 0);
	mesh_registry_free(NULL);

	ck_assert_int_eq(mesh_registry_add_service(NULL, "a.local", NULL, 80, NULL, NULL),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_add_service(reg, NULL, NULL, 80, NULL, NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_add_service(reg, "", NULL, 80, NULL, NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_add_service(reg, "a b", NULL, 80, NULL, NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_add_service(reg, ".a", NULL, 80, NULL, NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_add_service(reg, "a..b", NULL, 80, NULL, NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_add_service(reg, "a.local", NULL, 0, NULL, NULL),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_add_service(reg, "a.local", NULL, 65536, NULL, NULL),
	                 MESH_EINVAL);
	ck_assert_uint_eq(mesh_registry_service_count(reg), 0);

	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "a.local", &ep), MESH_ENOTFOUND);
	ck_assert_int_eq(mesh_registry_remove_endpoint(reg, "a.local", "10.0.0.1", 0),
	                 MESH_ENOTFOUND);
	ck_assert_int_eq(mesh_registry_add_service(reg, "a.local", NULL, 80, NULL, NULL), 0);
	ck_assert_int_eq(mesh_registry_remove_endpoint(reg, "a.local", "10.0.0.1", 0),
	                 MESH_ENOTFOUND);
	/* a wildcard service is found by mesh_registry_find(), but endpoints
	 * are added to a service by its exact host */
	ck_assert_int_eq(mesh_registry_add_service(reg, "*.w.local", NULL, 80, NULL, NULL), 0);
	ck_assert_ptr_nonnull(mesh_registry_find(reg, "x.w.local"));
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "x.w.local", &ep), MESH_ENOTFOUND);
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "*.w.local", &ep), 0);

	ck_assert_int_eq(mesh_registry_add_endpoint(NULL, "a.local", &ep), MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, NULL, &ep), MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "a.local", NULL), MESH_EINVAL);
	ep.address = NULL;
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "a.local", &ep), MESH_EINVAL);
	ep.address = "";
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "a.local", &ep), MESH_EINVAL);
	ep.address = "10.0.0.1";
	ep.port = 70000;
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "a.local", &ep), MESH_EINVAL);
	ep.port = 0;
	ep.service_port = 70000;
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "a.local", &ep), MESH_EINVAL);
	ep.service_port = 0;
	const char *odd[] = { "app", NULL, NULL };
	ep.labels = odd;
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "a.local", &ep), MESH_EINVAL);
	ep.labels = NULL;
	ep.struct_size = 0;
	ck_assert_int_eq(mesh_registry_add_endpoint(reg, "a.local", &ep), MESH_EINVAL);

	ck_assert_int_eq(mesh_registry_remove_endpoint(NULL, "a.local", "10.0.0.1", 0),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_remove_endpoint(reg, NULL, "10.0.0.1", 0), MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_remove_endpoint(reg, "a.local", NULL, 0), MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_load_config(reg, NULL, NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_registry_load_config(NULL, NULL, NULL), MESH_EINVAL);

	/* accessors tolerate NULL and bad indexes */
	struct mesh_endpoint_info out = { .struct_size = sizeof(out) };
	const mesh_service *s = must_find(reg, "a.local");
	ck_assert_uint_eq(mesh_registry_version(NULL), 0);
	ck_assert_uint_eq(mesh_registry_service_count(NULL), 0);
	ck_assert_ptr_null(mesh_registry_service_at(NULL, 0));
	ck_assert_ptr_null(mesh_registry_service_at(reg, 2));
	ck_assert_ptr_null(mesh_service_host(NULL));
	ck_assert_ptr_null(mesh_service_namespace(NULL));
	ck_assert_uint_eq(mesh_service_port_count(NULL), 0);
	ck_assert_uint_eq(mesh_service_endpoint_count(NULL), 0);
	ck_assert_uint_eq(mesh_service_address_count(NULL), 0);
	ck_assert_ptr_null(mesh_service_address(NULL, 0));
	ck_assert_int_eq(mesh_service_port(NULL, 0, NULL, NULL, NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_service_endpoint(NULL, 0, &out), MESH_EINVAL);
	ck_assert_int_eq(mesh_service_endpoint(s, 0, NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_service_endpoint(s, 0, &out), MESH_EINVAL); /* none */
	ck_assert_int_eq(mesh_service_resolution(NULL), MESH_RESOLUTION_NONE);
	ck_assert_int_eq(mesh_service_location(NULL), MESH_LOCATION_EXTERNAL);
	ck_assert_uint_eq(mesh_registry_version(reg), 3);
	mesh_registry_free(reg);
}
END_TEST

/* ---- allocation failures ---- */

/* Everything the registry does, once; returns the first error. */
static int scenario(const mesh_config *cfg)
{
	mesh_registry *reg = NULL;
	int rc = mesh_registry_new(&reg);
	if (rc)
		return rc;
	const char *host = "reviews.bookinfo.svc.cluster.local";
	const char *labels[] = { "version", "v9", NULL };
	struct mesh_endpoint_info ep = { .struct_size = sizeof(ep),
		                         .address = "10.5.0.1",
		                         .labels = labels,
		                         .locality = "r/z/s" };
	uint64_t v = 0;
	size_t n = 0;
	if ((rc = mesh_registry_load_config(reg, cfg, NULL)))
		goto out;
	v = mesh_registry_version(reg);
	n = mesh_registry_service_count(reg);
	/* a failed load leaves the registry as it was */
	rc = mesh_registry_load_config(reg, cfg, NULL);
	ck_assert_uint_eq(mesh_registry_service_count(reg), n);
	ck_assert_uint_eq(mesh_registry_version(reg), rc ? v : v + 1);
	if (rc)
		goto out;
	v = mesh_registry_version(reg);
	size_t neps = mesh_service_endpoint_count(mesh_registry_find(reg, host));
	/* failed run-time changes change nothing either */
	rc = mesh_registry_add_endpoint(reg, host, &ep);
	ck_assert_uint_eq(mesh_service_endpoint_count(mesh_registry_find(reg, host)),
	                  rc ? neps : neps + 1);
	if (rc)
		goto out;
	rc = mesh_registry_add_endpoint(reg, "api.example.org", &ep);
	if (rc)
		goto out;
	rc = mesh_registry_remove_endpoint(reg, "api.example.com", "1.2.3.4", 443);
	if (rc)
		goto out;
	rc = mesh_registry_add_service(reg, "new.local", "ns", 80, "http", NULL);
	ck_assert_int_eq(mesh_registry_find(reg, "new.local") != NULL, rc == 0);
	if (rc)
		goto out;
	rc = mesh_registry_add_service(reg, "*.wild.local", "ns", 81, "grpc-x", NULL);
	if (rc)
		goto out;
	rc = mesh_registry_add_service(reg, "new.local", "ns", 80, "tcp", "TCP");
	if (rc)
		goto out;
	ck_assert_uint_eq(mesh_registry_version(reg), v + 6);
out:
	mesh_registry_free(reg);
	return rc;
}

START_TEST(alloc_failures)
{
	mesh_config *cfg;
	mesh_diag *d;
	char *yaml = NULL;
	size_t len = strlen(selector_yaml) + 400;
	yaml = malloc(len);
	ck_assert_ptr_nonnull(yaml);
	snprintf(yaml, len,
	         "%s---\n"
	         "apiVersion: networking.istio.io/v1\n"
	         "kind: ServiceEntry\n"
	         "metadata: {name: ext}\n"
	         "spec:\n"
	         "  hosts: [api.example.com, api.example.org, \"*.example.net\"]\n"
	         "  addresses: [10.0.0.0/8]\n"
	         "  resolution: STATIC\n"
	         "  ports: [{number: 443, name: tls, protocol: TLS}]\n"
	         "  endpoints: [{address: 1.2.3.4, labels: {a: b}}, {address: 1.2.3.5}]\n",
	         selector_yaml);
	ck_assert_int_eq(tu_load(yaml, 0, &cfg, &d), 0);
	free(yaml);
	int rc = MESH_ENOMEM;
	long n;
	for (n = 0; rc; n++) {
		mesh__alloc_fail_after(n);
		rc = scenario(cfg);
		mesh__alloc_fail_after(-1);
		ck_assert_msg(rc == 0 || rc == MESH_ENOMEM, "n=%ld: rc=%d", n, rc);
	}
	ck_assert_int_gt(n, 20);
	/* and with no failure the same scenario works */
	ck_assert_int_eq(scenario(cfg), 0);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

/* ---- examples/bookinfo ---- */

START_TEST(bookinfo_services)
{
	const char *src = getenv("MESH_SOURCE_DIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/examples/bookinfo/services", src ? src : ".");
	FILE *f = NULL;
	char probe[4200];
	snprintf(probe, sizeof(probe), "%s/reviews.yaml", path);
	if (!(f = fopen(probe, "r"))) {
		fprintf(stderr, "bookinfo_services: %s not found; skipped\n", probe);
		return;
	}
	fclose(f);
	mesh_config *cfg;
	mesh_diag *d;
	mesh_registry *reg;
	ck_assert_int_eq(mesh_config_new(&cfg), 0);
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	int rc = mesh_config_load_path(cfg, path, d);
	if (rc)
		tu_dump(d);
	ck_assert_int_eq(rc, 0);
	mesh_diag_clear(d);
	ck_assert_int_eq(mesh_registry_new(&reg), 0);
	ck_assert_int_eq(mesh_registry_load_config(reg, cfg, d), 0);
	if (mesh_diag_count(d))
		tu_dump(d);
	ck_assert_uint_eq(mesh_diag_count(d), 0);
	ck_assert_uint_eq(mesh_registry_service_count(reg), 4);

	static const struct {
		const char *app;
		const char *addrs[3];
		unsigned ports[3];
	} want[] = {
		{ "productpage", { "127.0.0.1" }, { 9101 } },
		{ "details", { "127.0.0.1" }, { 9111 } },
		{ "reviews", { "127.0.0.1", "127.0.0.1", "127.0.0.1" }, { 9121, 9122, 9123 } },
		{ "ratings", { "127.0.0.1" }, { 9131 } },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char host[128], sa[64];
		snprintf(host, sizeof(host), "%s.default.svc.cluster.local", want[i].app);
		snprintf(sa, sizeof(sa), "bookinfo-%s", want[i].app);
		const mesh_service *s = must_find(reg, host);
		ck_assert_str_eq(mesh_service_namespace(s), "default");
		ck_assert_int_eq(mesh_service_resolution(s), MESH_RESOLUTION_STATIC);
		ck_assert_int_eq(mesh_service_location(s), MESH_LOCATION_INTERNAL);
		unsigned num;
		const char *name;
		int proto;
		ck_assert_uint_eq(mesh_service_port_count(s), 1);
		ck_assert_int_eq(mesh_service_port(s, 0, &num, &name, &proto), 0);
		ck_assert_uint_eq(num, 9080);
		ck_assert_str_eq(name, "http");
		ck_assert_int_eq(proto, MESH_PROTO_HTTP);
		size_t n = 0;
		while (n < 3 && want[i].addrs[n])
			n++;
		ck_assert_uint_eq(mesh_service_endpoint_count(s), n);
		for (size_t j = 0; j < n; j++) {
			struct mesh_endpoint_info e = ep_at(s, j);
			char version[8];
			snprintf(version, sizeof(version), "v%zu", j + 1);
			ck_assert_str_eq(e.address, want[i].addrs[j]);
			ck_assert_uint_eq(e.port, want[i].ports[j]);
			ck_assert_uint_eq(e.service_port, 9080);
			ck_assert_uint_eq(e.weight, 1);
			ck_assert_str_eq(e.service_account, sa);
			ck_assert_str_eq(label(&e, "app"), want[i].app);
			ck_assert_str_eq(label(&e, "version"), version);
		}
	}
	mesh_registry_free(reg);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("registry");
	tcase_add_test(tc, protocol_names);
	tcase_add_test(tc, load_inline_endpoints);
	tcase_add_test(tc, load_multi_host);
	tcase_add_test(tc, load_workload_selector);
	tcase_add_test(tc, load_selector_cases);
	tcase_add_test(tc, load_resolutions);
	tcase_add_test(tc, load_istio_details);
	tcase_add_test(tc, load_merges_hosts);
	tcase_add_test(tc, wildcard_find);
	tcase_add_test(tc, many_services);
	tcase_add_test(tc, runtime_changes);
	tcase_add_test(tc, runtime_on_loaded);
	tcase_add_test(tc, struct_size);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, alloc_failures);
	tcase_add_test(tc, bookinfo_services);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
