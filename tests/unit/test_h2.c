/* test_h2.c - the HTTP/2 and gRPC helpers (src/http/h2.c): the client
 * preface, header lists in flat buffers, the fields HTTP/2 forbids, and
 * gRPC's content types, timeouts, status mapping and message encoding. */
#include <string.h>

#include "testutil.h"
#include "http/h2.h"

START_TEST(preface)
{
	const char *p = MESH_H2_PREFACE;
	ck_assert_int_eq(mesh__h2_preface_match(p, 24), 1);
	ck_assert_int_eq(mesh__h2_preface_match(p, 30), 1); /* more bytes behind it */
	ck_assert_int_eq(mesh__h2_preface_match(p, 1), 0);
	ck_assert_int_eq(mesh__h2_preface_match(p, 23), 0);
	ck_assert_int_eq(mesh__h2_preface_match("POST / HTTP/1.1\r\n", 17), -1);
	ck_assert_int_eq(mesh__h2_preface_match("PRI * HTTP/1.1\r\n", 16), -1);
	ck_assert_int_eq(mesh__h2_preface_match("P", 1), 0); /* POST or PRI: wait */
}
END_TEST

START_TEST(methods)
{
	ck_assert_int_eq(mesh__h2_method_id("GET", 3), MESH_H1_M_GET);
	ck_assert_int_eq(mesh__h2_method_id("CONNECT", 7), MESH_H1_M_CONNECT);
	ck_assert_int_eq(mesh__h2_method_id("PATCH", 5), MESH_H1_M_PATCH);
	ck_assert_int_eq(mesh__h2_method_id("get", 3), MESH_H1_M_OTHER); /* case matters */
	ck_assert_int_eq(mesh__h2_method_id("GETX", 4), MESH_H1_M_OTHER);
}
END_TEST

START_TEST(header_lists)
{
	char buf[64];
	struct mesh__hlist l;
	mesh__hlist_init(&l, buf, sizeof(buf));
	ck_assert(mesh__hlist_add(&l, "Content-Type", 12, "a/b", 3, true));
	ck_assert(mesh__hlist_add(&l, ":path", 5, "/", 1, false));
	ck_assert(mesh__hlist_add(&l, "x", 1, "", 0, false));
	ck_assert_uint_eq(l.n, 3);
	size_t used = l.len;
	/* does not fit: nothing changes */
	ck_assert(!mesh__hlist_add(&l, "long-name", 9, "0123456789012345678901234567", 28, false));
	ck_assert_uint_eq(l.len, used);
	ck_assert_uint_eq(l.n, 3);

	size_t pos = 0, nl, vl;
	const char *n, *v;
	ck_assert(mesh__hlist_next(&l, &pos, &n, &nl, &v, &vl));
	ck_assert_int_eq(nl, 12);
	ck_assert(!memcmp(n, "content-type", 12)); /* lower-cased */
	ck_assert(!memcmp(v, "a/b", 3));
	ck_assert(mesh__hlist_next(&l, &pos, &n, &nl, &v, &vl));
	ck_assert(!memcmp(n, ":path", 5));
	ck_assert(mesh__hlist_next(&l, &pos, &n, &nl, &v, &vl));
	ck_assert_int_eq(vl, 0);
	ck_assert(!mesh__hlist_next(&l, &pos, &n, &nl, &v, &vl));

	nghttp2_nv nv[4];
	ck_assert_uint_eq(mesh__hlist_to_nv(&l, nv, 4), 3);
	ck_assert_uint_eq(mesh__hlist_to_nv(&l, nv, 2), 2);
	ck_assert_int_eq(nv[1].namelen, 5);
	ck_assert(!memcmp(nv[1].value, "/", 1));
}
END_TEST

START_TEST(connection_headers)
{
	ck_assert(mesh__h2_is_connection_header("Connection", 10, "close", 5));
	ck_assert(mesh__h2_is_connection_header("keep-alive", 10, "", 0));
	ck_assert(mesh__h2_is_connection_header("Transfer-Encoding", 17, "chunked", 7));
	ck_assert(mesh__h2_is_connection_header("upgrade", 7, "websocket", 9));
	ck_assert(mesh__h2_is_connection_header("host", 4, "x", 1));
	ck_assert(mesh__h2_is_connection_header("te", 2, "gzip", 4));
	ck_assert(!mesh__h2_is_connection_header("TE", 2, "trailers", 8));
	ck_assert(!mesh__h2_is_connection_header("content-length", 14, "5", 1));
	ck_assert(!mesh__h2_is_connection_header("grpc-timeout", 12, "1S", 2));
}
END_TEST

START_TEST(grpc_content_type)
{
	ck_assert(mesh__grpc_is_content_type("application/grpc", 16));
	ck_assert(mesh__grpc_is_content_type("application/grpc+proto", 22));
	ck_assert(mesh__grpc_is_content_type("Application/GRPC;charset=x", 26));
	ck_assert(!mesh__grpc_is_content_type("application/grpc-web", 20));
	ck_assert(!mesh__grpc_is_content_type("application/json", 16));
	ck_assert(!mesh__grpc_is_content_type("application/grp", 15));
}
END_TEST

START_TEST(grpc_timeout)
{
	ck_assert_int_eq(mesh__grpc_timeout_ms("1S", 2), 1000);
	ck_assert_int_eq(mesh__grpc_timeout_ms("250m", 4), 250);
	ck_assert_int_eq(mesh__grpc_timeout_ms("2M", 2), 120000);
	ck_assert_int_eq(mesh__grpc_timeout_ms("1H", 2), 3600000);
	ck_assert_int_eq(mesh__grpc_timeout_ms("1500u", 5), 2); /* rounded up */
	ck_assert_int_eq(mesh__grpc_timeout_ms("1n", 2), 1);    /* at least 1 ms */
	ck_assert_int_eq(mesh__grpc_timeout_ms("0m", 2), 0);    /* already expired */
	ck_assert_int_eq(mesh__grpc_timeout_ms("99999999S", 9), 99999999000LL);
	ck_assert_int_eq(mesh__grpc_timeout_ms("123456789S", 10), -1); /* 9 digits */
	ck_assert_int_eq(mesh__grpc_timeout_ms("S", 1), -1);
	ck_assert_int_eq(mesh__grpc_timeout_ms("10", 2), -1);
	ck_assert_int_eq(mesh__grpc_timeout_ms("1x", 2), -1);
	ck_assert_int_eq(mesh__grpc_timeout_ms("-1S", 3), -1);
	ck_assert_int_eq(mesh__grpc_timeout_ms(" 1S", 3), -1);
}
END_TEST

START_TEST(grpc_status_of_http)
{
	ck_assert_int_eq(mesh__grpc_status_of_http(400), MESH_GRPC_INTERNAL);
	ck_assert_int_eq(mesh__grpc_status_of_http(401), MESH_GRPC_UNAUTHENTICATED);
	ck_assert_int_eq(mesh__grpc_status_of_http(403), MESH_GRPC_PERMISSION_DENIED);
	ck_assert_int_eq(mesh__grpc_status_of_http(404), MESH_GRPC_UNIMPLEMENTED);
	ck_assert_int_eq(mesh__grpc_status_of_http(429), MESH_GRPC_UNAVAILABLE);
	ck_assert_int_eq(mesh__grpc_status_of_http(502), MESH_GRPC_UNAVAILABLE);
	ck_assert_int_eq(mesh__grpc_status_of_http(503), MESH_GRPC_UNAVAILABLE);
	ck_assert_int_eq(mesh__grpc_status_of_http(504), MESH_GRPC_DEADLINE_EXCEEDED);
	ck_assert_int_eq(mesh__grpc_status_of_http(200), MESH_GRPC_UNKNOWN);
	ck_assert_int_eq(mesh__grpc_status_of_http(418), MESH_GRPC_UNKNOWN);
}
END_TEST

START_TEST(grpc_message)
{
	char out[32];
	size_t n = mesh__grpc_message_encode("no route\n", 9, out, sizeof(out));
	ck_assert_uint_eq(n, 8);
	ck_assert(!memcmp(out, "no route", 8));
	n = mesh__grpc_message_encode("50% \xc3\xa9", 6, out, sizeof(out));
	ck_assert_uint_eq(n, 12);
	ck_assert(!memcmp(out, "50%25 %C3%A9", 12));
	/* never a cut escape */
	n = mesh__grpc_message_encode("%%%%", 4, out, 7);
	ck_assert_uint_eq(n, 6);
	ck_assert(!memcmp(out, "%25%25", 6));
}
END_TEST

static Suite *h2_suite(void)
{
	Suite *s = suite_create("h2");
	TCase *tc = tcase_create("h2");
	tcase_add_test(tc, preface);
	tcase_add_test(tc, methods);
	tcase_add_test(tc, header_lists);
	tcase_add_test(tc, connection_headers);
	suite_add_tcase(s, tc);
	tc = tcase_create("grpc");
	tcase_add_test(tc, grpc_content_type);
	tcase_add_test(tc, grpc_timeout);
	tcase_add_test(tc, grpc_status_of_http);
	tcase_add_test(tc, grpc_message);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(h2_suite());
}
