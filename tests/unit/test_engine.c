/* test_engine.c - the engine's parts that need no event loop: the TLS
 * ClientHello parser (SNI) and the gateway's servers (which Gateways select
 * the proxy, which server takes an SNI and a Host, how a request routes). */
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "engine/gateway.h"
#include "engine/tls.h"
#include "testutil.h"

/* The first flight of a real TLS client (OpenSSL) naming @sni (NULL:
 * none), as it goes on the wire. Returns its length. */
static size_t client_hello(const char *sni, unsigned char *out, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(ctx);
	SSL *ssl = SSL_new(ctx);
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	SSL_set_bio(ssl, rb, wb);
	if (sni)
		SSL_set_tlsext_host_name(ssl, sni);
	static const unsigned char alpn[] = "\x02h2\x08http/1.1";
	SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1);
	SSL_set_connect_state(ssl);
	ck_assert_int_le(SSL_do_handshake(ssl), 0); /* wants the server's answer */
	int n = BIO_read(wb, out, (int)cap);
	ck_assert_int_gt(n, 0);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return (size_t)n;
}

START_TEST(hello_sni)
{
	unsigned char b[MESH__TLS_HELLO_MAX];
	char sni[256];
	size_t n = client_hello("Bookinfo.Example.COM", b, sizeof(b));
	ck_assert_int_eq(mesh__tls_hello_sni(b, n, false, sni, sizeof(sni)), 1);
	ck_assert_str_eq(sni, "bookinfo.example.com"); /* lower case */
	/* every prefix asks for more, or fails once no more can come */
	for (size_t k = 0; k < n; k++) {
		ck_assert_int_eq(mesh__tls_hello_sni(b, k, false, sni, sizeof(sni)), 0);
		ck_assert_int_eq(mesh__tls_hello_sni(b, k, true, sni, sizeof(sni)), -1);
	}
	/* bytes after the ClientHello do not matter */
	memset(b + n, 0x17, 64);
	ck_assert_int_eq(mesh__tls_hello_sni(b, n + 64, false, sni, sizeof(sni)), 1);
	/* too small a buffer for the name */
	ck_assert_int_eq(mesh__tls_hello_sni(b, n, false, sni, 8), -1);

	n = client_hello(NULL, b, sizeof(b));
	ck_assert_int_eq(mesh__tls_hello_sni(b, n, false, sni, sizeof(sni)), 1);
	ck_assert_str_eq(sni, "");
}
END_TEST

START_TEST(hello_records)
{
	unsigned char one[MESH__TLS_HELLO_MAX], two[MESH__TLS_HELLO_MAX + 5];
	char sni[256];
	size_t n = client_hello("api.example.com", one, sizeof(one));
	ck_assert_uint_eq(one[0], 0x16);
	size_t body = n - 5, cut = 40;
	/* the handshake message over two records, as a client may send it */
	memcpy(two, one, 5 + cut);
	two[3] = (unsigned char)(cut >> 8);
	two[4] = (unsigned char)cut;
	two[5 + cut] = 0x16;
	two[5 + cut + 1] = one[1];
	two[5 + cut + 2] = one[2];
	two[5 + cut + 3] = (unsigned char)((body - cut) >> 8);
	two[5 + cut + 4] = (unsigned char)(body - cut);
	memcpy(two + 10 + cut, one + 5 + cut, body - cut);
	ck_assert_int_eq(mesh__tls_hello_sni(two, n + 5, false, sni, sizeof(sni)), 1);
	ck_assert_str_eq(sni, "api.example.com");
	ck_assert_int_eq(mesh__tls_hello_sni(two, 5 + cut + 3, false, sni, sizeof(sni)), 0);
	ck_assert_int_eq(mesh__tls_hello_sni(two, n + 4, false, sni, sizeof(sni)), 0);
	/* the second record is not a handshake record */
	two[5 + cut] = 0x17;
	ck_assert_int_eq(mesh__tls_hello_sni(two, n + 5, false, sni, sizeof(sni)), -1);
}
END_TEST

START_TEST(hello_refused)
{
	unsigned char b[MESH__TLS_HELLO_MAX];
	char sni[256];
	size_t n = client_hello("a.example.com", b, sizeof(b));
	/* plain HTTP */
	ck_assert_int_eq(mesh__tls_hello_sni((const unsigned char *)"GET / HTTP/1.1\r\n", 16, false,
	                                     sni, sizeof(sni)),
	                 -1);
	unsigned char c[MESH__TLS_HELLO_MAX];
	memcpy(c, b, n);
	c[5] = 2; /* a ServerHello, not a ClientHello */
	ck_assert_int_eq(mesh__tls_hello_sni(c, n, false, sni, sizeof(sni)), -1);
	memcpy(c, b, n);
	c[3] = 0, c[4] = 0; /* an empty record */
	ck_assert_int_eq(mesh__tls_hello_sni(c, n, false, sni, sizeof(sni)), -1);
	/* a host name with a byte no host name has */
	memcpy(c, b, n);
	unsigned char *at = memmem(c, n, "a.example.com", 13);
	ck_assert_ptr_nonnull(at);
	at[1] = '/';
	ck_assert_int_eq(mesh__tls_hello_sni(c, n, false, sni, sizeof(sni)), -1);
	/* a ClientHello longer than its record says: the lengths must agree */
	memcpy(c, b, n);
	c[8]++; /* the handshake length's low byte */
	ck_assert_int_eq(mesh__tls_hello_sni(c, n, true, sni, sizeof(sni)), -1);
}
END_TEST

/* ---- the gateway's servers ---- */

static const char *gw_yaml = "apiVersion: networking.istio.io/v1\n"
			     "kind: Gateway\n"
			     "metadata: {name: public, namespace: istio-system}\n"
			     "spec:\n"
			     "  selector: {istio: ingressgateway}\n"
			     "  servers:\n"
			     "  - port: {number: 443, name: tls-a, protocol: TLS}\n"
			     "    hosts: [a.example.com, \"*.wild.example.com\"]\n"
			     "    tls: {mode: PASSTHROUGH}\n"
			     "  - port: {number: 443, name: tls-b, protocol: TLS}\n"
			     "    hosts: [\"*.example.com\"]\n"
			     "    tls: {mode: PASSTHROUGH}\n"
			     "  - port: {number: 443, name: http-conflict, protocol: HTTP}\n"
			     "    hosts: [\"*\"]\n"
			     "  - port: {number: 80, name: http, protocol: HTTP}\n"
			     "    hosts: [\"shop/*.example.com\", \"./admin.example.com\"]\n"
			     "  - port: {number: 80, name: http-exact, protocol: HTTP}\n"
			     "    hosts: [exact.example.com]\n"
			     "    tls: {httpsRedirect: true}\n"
			     "  - port: {number: 9443, name: auto, protocol: TLS}\n"
			     "    hosts: [\"*\"]\n"
			     "    tls: {mode: AUTO_PASSTHROUGH}\n"
			     "---\n"
			     "apiVersion: networking.istio.io/v1\n"
			     "kind: Gateway\n"
			     "metadata: {name: everyone, namespace: default}\n"
			     "spec:\n"
			     "  servers:\n"
			     "  - port: {number: 31400, name: tcp, protocol: TCP}\n"
			     "    hosts: [\"*\"]\n"
			     "  - port: {number: 8443, name: tls-any, protocol: TLS}\n"
			     "    hosts: [\"*\"]\n"
			     "    tls: {mode: PASSTHROUGH}\n"
			     "---\n"
			     "apiVersion: networking.istio.io/v1\n"
			     "kind: Gateway\n"
			     "metadata: {name: egress, namespace: istio-system}\n"
			     "spec:\n"
			     "  selector: {istio: egressgateway}\n"
			     "  servers:\n"
			     "  - port: {number: 15443, name: tls, protocol: TLS}\n"
			     "    hosts: [\"*\"]\n"
			     "    tls: {mode: PASSTHROUGH}\n"
			     "---\n"
			     "apiVersion: networking.istio.io/v1\n"
			     "kind: VirtualService\n"
			     "metadata: {name: shop, namespace: shop}\n"
			     "spec:\n"
			     "  hosts: [shop.example.com]\n"
			     "  gateways: [istio-system/public]\n"
			     "  http: [{route: [{destination: {host: shop.internal}}]}]\n"
			     "---\n"
			     "apiVersion: networking.istio.io/v1\n"
			     "kind: VirtualService\n"
			     "metadata: {name: blog, namespace: blog}\n"
			     "spec:\n"
			     "  hosts: [blog.example.com, admin.example.com]\n"
			     "  gateways: [istio-system/public]\n"
			     "  http: [{route: [{destination: {host: blog.internal}}]}]\n"
			     "---\n"
			     "apiVersion: networking.istio.io/v1\n"
			     "kind: VirtualService\n"
			     "metadata: {name: admin, namespace: istio-system}\n"
			     "spec:\n"
			     "  hosts: [admin.example.com]\n"
			     "  gateways: [public]\n"
			     "  http: [{route: [{destination: {host: admin.internal}}]}]\n";

static const char *const gw_labels[] = { "istio", "ingressgateway", "app", "gw", NULL };

START_TEST(gateway_servers)
{
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(tu_load(gw_yaml, 0, &cfg, &d), 0);
	unsigned ports[8];
	ck_assert_uint_eq(mesh__gateway_ports(cfg, gw_labels, ports, 8), 5);
	ck_assert_uint_eq(ports[0], 80);
	ck_assert_uint_eq(ports[1], 443);
	ck_assert_uint_eq(ports[2], 8443);
	ck_assert_uint_eq(ports[3], 9443);
	ck_assert_uint_eq(ports[4], 31400); /* egress's 15443 is not ours */
	ck_assert_uint_eq(mesh__gateway_ports(cfg, gw_labels, ports, 1), 5);

	static const unsigned listen[] = { 80, 443, 31400 };
	struct mesh__gw_params prm = { .labels = gw_labels, .listen = listen, .nlisten = 3 };
	struct mesh__gateway *g;
	mesh_diag_clear(d);
	ck_assert_int_eq(mesh__gateway_build(cfg, &prm, NULL, &g, d), 0);
	/* the HTTP server on the TLS port, AUTO_PASSTHROUGH: left out, said;
	 * and port 8443 has no listener */
	ck_assert_uint_eq(g->nservers, 6);
	ck_assert_uint_eq(mesh_diag_count_severity(d, MESH_SEV_WARNING), 3);
	ck_assert_ptr_nonnull(strstr(mesh_diag_message(d, 0), "port 443 already carries TLS"));
	ck_assert_ptr_nonnull(strstr(mesh_diag_message(d, 1), "AUTO_PASSTHROUGH"));
	ck_assert_ptr_nonnull(strstr(mesh_diag_message(d, 2), "port 8443 has no gateway listener"));
	ck_assert_int_eq(mesh__gateway_port_class(g, 443), MESH__GW_PORT_TLS);
	ck_assert_int_eq(mesh__gateway_port_class(g, 80), MESH__GW_PORT_HTTP);
	ck_assert_int_eq(mesh__gateway_port_class(g, 31400), MESH__GW_PORT_TCP);
	ck_assert_int_eq(mesh__gateway_port_class(g, 9443), MESH__GW_PORT_NONE);
	ck_assert_int_eq(mesh__gateway_port_class(NULL, 443), MESH__GW_PORT_NONE);

	/* SNI: exact, then the longest wildcard, then "*" */
	const struct mesh__gw_server *s = mesh__gateway_by_sni(g, 443, "a.example.com");
	ck_assert_str_eq(s->key, "istio-system/public#tls-a");
	s = mesh__gateway_by_sni(g, 443, "x.wild.example.com");
	ck_assert_str_eq(s->key, "istio-system/public#tls-a");
	s = mesh__gateway_by_sni(g, 443, "x.y.example.com");
	ck_assert_str_eq(s->key, "istio-system/public#tls-b");
	ck_assert_ptr_null(mesh__gateway_by_sni(g, 443, "example.org"));
	ck_assert_ptr_null(mesh__gateway_by_sni(g, 443, NULL));
	s = mesh__gateway_by_sni(g, 8443, NULL); /* host "*": even without SNI */
	ck_assert_str_eq(s->gateway, "default/everyone");
	ck_assert_str_eq(mesh__gateway_tcp_server(g, 31400)->gateway, "default/everyone");
	ck_assert_ptr_null(mesh__gateway_tcp_server(g, 443));

	/* requests: the Host picks the server; its host entry's namespace
	 * limits the VirtualServices */
	mesh_router *r;
	mesh_route_scratch *scr;
	struct mesh_workload wl = { .struct_size = sizeof(wl), .namespace_name = "istio-system" };
	ck_assert_int_eq(mesh_router_new(cfg, NULL, &wl, &r, d), 0);
	ck_assert_int_eq(mesh_route_scratch_new(&scr), 0);
	const mesh_route *rt;
	struct mesh_request req = { .struct_size = sizeof(req),
		                    .authority = "Shop.Example.com:8080" };
	ck_assert_int_eq(mesh__gateway_route(g, r, 80, false, NULL, &req, scr, &rt), 0);
	ck_assert_str_eq(mesh_route_rule_name(rt), "shop");
	ck_assert_str_eq(req.gateway, "istio-system/public");
	ck_assert_uint_eq(req.port, 80);
	ck_assert_str_eq(req.scheme, "http");
	req.authority = "blog.example.com"; /* only namespace shop may use *.example.com */
	ck_assert_int_eq(mesh__gateway_route(g, r, 80, false, NULL, &req, scr, &rt),
	                 MESH_ENOTFOUND);
	/* "./": the Gateway's own namespace: blog's VirtualService, merged
	 * first on the host, is left out */
	req.authority = "admin.example.com";
	ck_assert_int_eq(mesh__gateway_route(g, r, 80, false, NULL, &req, scr, &rt), 0);
	ck_assert_str_eq(mesh_route_rule_name(rt), "admin");
	req.authority = "exact.example.com";
	ck_assert_int_eq(mesh__gateway_route(g, r, 80, false, NULL, &req, scr, &rt),
	                 MESH__GW_REDIRECT);
	req.authority = "other.org";
	ck_assert_int_eq(mesh__gateway_route(g, r, 80, false, NULL, &req, scr, &rt),
	                 MESH_ENOTFOUND);
	req.authority = "shop.example.com"; /* a passthrough server routes no request */
	ck_assert_int_eq(mesh__gateway_route(g, r, 443, true, "a.example.com", &req, scr, &rt),
	                 MESH_ENOTFOUND);
	ck_assert_int_eq(mesh__gateway_route(NULL, r, 80, false, NULL, &req, scr, &rt),
	                 MESH_ENOTFOUND);
	mesh_route_scratch_free(scr);
	mesh_router_unref(r);
	mesh__gateway_free(g);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

/* A certificate that does not load: the server is left out, unless the
 * snapshot before had one for it. */
START_TEST(gateway_certificates)
{
	static const char *yaml =
		"apiVersion: networking.istio.io/v1\n"
		"kind: Gateway\n"
		"metadata: {name: gw}\n"
		"spec:\n"
		"  servers:\n"
		"  - port: {number: 443, name: https, protocol: HTTPS}\n"
		"    hosts: [a.example.com]\n"
		"    tls: {mode: SIMPLE, serverCertificate: /nonexistent/a.pem, privateKey: /nonexistent/a.key}\n"
		"  - port: {number: 443, name: https-cred, protocol: HTTPS}\n"
		"    hosts: [b.example.com]\n"
		"    tls: {mode: SIMPLE, credentialName: b-cred}\n";
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(tu_load(yaml, 0, &cfg, &d), 0);
	struct mesh__gw_params prm = { .labels = gw_labels };
	struct mesh__gateway *g;
	ck_assert_int_eq(mesh__gateway_build(cfg, &prm, NULL, &g, d), 0);
	ck_assert_uint_eq(g->nservers, 0);
	bool missing = false, no_dir = false;
	for (size_t i = 0; i < mesh_diag_count(d); i++) {
		missing |=
			strstr(mesh_diag_message(d, i), "/nonexistent/a.pem: No such file") != NULL;
		no_dir |= strstr(mesh_diag_message(d, i), "needs a credential directory") != NULL;
	}
	ck_assert(missing && no_dir);
	ck_assert_int_eq(mesh__gateway_port_class(g, 443), MESH__GW_PORT_NONE);
	/* the files are watched (the poll reloads when they appear) */
	ck_assert_uint_eq(g->nfiles, 2);
	ck_assert_uint_eq(mesh__gateway_files_fp(g), g->files_fp);
	mesh__gateway_free(g);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("engine");
	tcase_add_test(tc, hello_sni);
	tcase_add_test(tc, hello_records);
	tcase_add_test(tc, hello_refused);
	tcase_add_test(tc, gateway_servers);
	tcase_add_test(tc, gateway_certificates);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
