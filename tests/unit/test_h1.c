/* test_h1.c - the HTTP/1.1 codec: parsing under every split, pipelining,
 * chunked bodies, response framing rules, tunnels, smuggling and limit
 * errors with their statuses, the hop-by-hop rules and the serializers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "core/core.h"
#include "http/h1.h"

/* ------------------------------------------------------------------ */
/* A recorder: every event as text, consecutive body bytes merged so    */
/* that any split of the input gives the same log.                      */
/* ------------------------------------------------------------------ */

struct rec {
	struct mesh__sb log;
	struct mesh__sb body;
	int pause_on_head, pause_on_end, pause_on_body, abort_on_end;
	int heads, ends;
};

static void rec_flush(struct rec *r)
{
	if (r->body.len) {
		mesh__sb_printf(&r->log, "body[%zu]:", r->body.len);
		mesh__sb_append(&r->log, r->body.buf, r->body.len);
		mesh__sb_putc(&r->log, '\n');
		mesh__sb_truncate(&r->body, 0);
	}
}

static void put_str(struct mesh__sb *sb, const char *s, size_t n)
{
	if (!s)
		mesh__sb_puts(sb, "(null)");
	else
		mesh__sb_append(sb, s, n);
}

static int r_head(void *ud, const struct mesh__h1_head *h)
{
	struct rec *r = ud;
	rec_flush(r);
	r->heads++;
	if (h->method) {
		mesh__sb_puts(&r->log, "request ");
		put_str(&r->log, h->method, h->method_len);
		mesh__sb_printf(&r->log, "(%d) ", (int)h->method_id);
		put_str(&r->log, h->target, h->target_len);
		mesh__sb_printf(&r->log, " form=%d scheme=", (int)h->target_form);
		put_str(&r->log, h->scheme, h->scheme_len);
		mesh__sb_puts(&r->log, " authority=");
		put_str(&r->log, h->authority, h->authority_len);
		mesh__sb_puts(&r->log, " path=");
		put_str(&r->log, h->path, h->path_len);
	} else {
		mesh__sb_printf(&r->log, "response %d ", h->status);
		put_str(&r->log, h->reason, h->reason_len);
	}
	mesh__sb_printf(&r->log, " 1.%d flags=%#x cl=%lld body=%lld\n", h->version_minor, h->flags,
	                (long long)h->content_length, (long long)h->body);
	for (size_t i = 0; i < h->n_headers; i++) {
		mesh__sb_puts(&r->log, "  ");
		put_str(&r->log, h->headers[i].name, h->headers[i].name_len);
		mesh__sb_putc(&r->log, '=');
		put_str(&r->log, h->headers[i].value, h->headers[i].value_len);
		mesh__sb_putc(&r->log, '\n');
	}
	return r->pause_on_head;
}

static int r_body(void *ud, const char *d, size_t n)
{
	struct rec *r = ud;
	ck_assert_uint_gt(n, 0);
	mesh__sb_append(&r->body, d, n);
	return r->pause_on_body;
}

static int r_trailers(void *ud, const struct mesh__h1_header *t, size_t n)
{
	struct rec *r = ud;
	rec_flush(r);
	mesh__sb_printf(&r->log, "trailers %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		mesh__sb_puts(&r->log, "  ");
		put_str(&r->log, t[i].name, t[i].name_len);
		mesh__sb_putc(&r->log, '=');
		put_str(&r->log, t[i].value, t[i].value_len);
		mesh__sb_putc(&r->log, '\n');
	}
	return 0;
}

static int r_end(void *ud)
{
	struct rec *r = ud;
	rec_flush(r);
	r->ends++;
	mesh__sb_puts(&r->log, "end\n");
	if (r->abort_on_end)
		return -1;
	return r->pause_on_end;
}

static const struct mesh__h1_callbacks rcb = {
	.on_head = r_head,
	.on_body = r_body,
	.on_trailers = r_trailers,
	.on_end = r_end,
};

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	mesh__sb_init(&r->log);
	mesh__sb_init(&r->body);
}

static void rec_fini(struct rec *r)
{
	mesh__sb_fini(&r->log);
	mesh__sb_fini(&r->body);
}

/* Split modes for feed(). */
enum { WHOLE = 0, BYTES = 1, RANDOM = 2 };

/* A tiny deterministic PRNG so failures reproduce. */
static uint64_t rng_state;
static uint32_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33);
}

/*
 * Drive @p as the engine does: a buffer of unconsumed bytes, fed @in in
 * pieces (whole, a byte at a time, or random sizes), each parse followed by
 * dropping what was consumed. With @eof, the
 * EOF call ends it. Returns the first error, or 0. What stays unconsumed
 * (tunnel payload, data after a close) goes to the log as "rest:".
 */
static long feed_ex(struct mesh__h1_parser *p, const char *in, size_t len, int mode, bool eof,
                    struct rec *r)
{
	char *pend = malloc(len + 1);
	size_t plen = 0, off = 0;
	long rc = 0;
	ck_assert_ptr_nonnull(pend);
	while (off < len || off == 0) {
		size_t k = len - off;
		if (mode == BYTES)
			k = k ? 1 : 0;
		else if (mode == RANDOM && k > 1)
			k = 1 + rng() % (k < 64 ? k : (rng() % 4 ? 64 : k));
		memcpy(pend + plen, in + off, k);
		plen += k;
		off += k;
		long n = mesh__h1_parse(p, pend, plen, &rcb, r);
		if (n < 0) {
			rc = n;
			goto out;
		}
		ck_assert_int_le(n, (long)plen);
		memmove(pend, pend + n, plen - (size_t)n);
		plen -= (size_t)n;
		if (len == 0)
			break;
	}
	if (eof) {
		/* what a client left unconsumed is part of the message */
		if (plen && mesh__h1_parser_state(p) != MESH_H1_TUNNEL &&
		    mesh__h1_parser_state(p) != MESH_H1_CLOSED) {
			rc = MESH_H1_E_INCOMPLETE;
			goto out;
		}
		rc = mesh__h1_parse_eof(p, &rcb, r);
	}
out:
	rec_flush(r);
	if (rc == 0 && plen) {
		mesh__sb_printf(&r->log, "rest[%zu]:", plen);
		mesh__sb_append(&r->log, pend, plen);
		mesh__sb_putc(&r->log, '\n');
	}
	mesh__sb_printf(&r->log, "rc=%ld state=%d\n", rc, mesh__h1_parser_state(p));
	free(pend);
	return rc;
}

/* Parse @in (NUL-terminated) with a fresh parser; the log goes to a
 * malloc'd string. */
static char *parse_log(int type, const char *in, int mode, const struct mesh__h1_limits *lim,
                       const char *expect_method, bool eof, long *rc)
{
	struct mesh__h1_parser p;
	struct rec r;
	rec_init(&r);
	mesh__h1_parser_init(&p, type, lim);
	if (expect_method)
		mesh__h1_parser_set_request_method(&p, expect_method, strlen(expect_method));
	long x = feed_ex(&p, in, strlen(in), mode, eof, &r);
	if (rc)
		*rc = x;
	char *s = strdup(mesh__sb_str(&r.log));
	rec_fini(&r);
	return s;
}

/* Parse @in whole, byte by byte and in 50 random splits: the logs must be
 * identical. Returns the whole-buffer log (free it). */
static char *parse_all_ways(int type, const char *in, const char *expect_method, bool eof, long *rc)
{
	char *whole = parse_log(type, in, WHOLE, NULL, expect_method, eof, rc);
	char *bytes = parse_log(type, in, BYTES, NULL, expect_method, eof, NULL);
	ck_assert_str_eq(bytes, whole);
	free(bytes);
	for (int i = 0; i < 50; i++) {
		rng_state = (uint64_t)i * 7919 + 1;
		char *rnd = parse_log(type, in, RANDOM, NULL, expect_method, eof, NULL);
		ck_assert_str_eq(rnd, whole);
		free(rnd);
	}
	return whole;
}

static void expect_log(int type, const char *in, const char *expect_method, bool eof,
                       const char *want)
{
	long rc;
	char *got = parse_all_ways(type, in, expect_method, eof, &rc);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "--- got:\n%s--- want:\n%s", got, want);
	ck_assert_str_eq(got, want);
	free(got);
}

/* ------------------------------------------------------------------ */
/* Valid requests                                                      */
/* ------------------------------------------------------------------ */

/* Capture the head's structured fields for direct assertions. */
struct cap {
	struct mesh__h1_head h;
	char method[32], path[256], authority[256], scheme[16];
	int n;
};

static void copy(char *dst, size_t cap, const char *s, size_t n)
{
	if (!s) {
		strcpy(dst, "(null)");
		return;
	}
	ck_assert_uint_lt(n, cap);
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static int cap_head(void *ud, const struct mesh__h1_head *h)
{
	struct cap *c = ud;
	c->h = *h;
	c->h.headers = NULL;
	c->n++;
	copy(c->method, sizeof(c->method), h->method, h->method_len);
	copy(c->path, sizeof(c->path), h->path, h->path_len);
	copy(c->authority, sizeof(c->authority), h->authority, h->authority_len);
	copy(c->scheme, sizeof(c->scheme), h->scheme, h->scheme_len);
	return 0;
}

static const struct mesh__h1_callbacks capcb = { .on_head = cap_head };

/* Parse one complete message @in; it must be consumed whole. */
static void capture(int type, const char *in, struct cap *c)
{
	struct mesh__h1_parser p;
	memset(c, 0, sizeof(*c));
	mesh__h1_parser_init(&p, type, NULL);
	long n = mesh__h1_parse(&p, in, strlen(in), &capcb, c);
	ck_assert_int_eq(n, (long)strlen(in));
	ck_assert_int_eq(c->n, 1);
}

START_TEST(request_simple)
{
	expect_log(MESH_H1_REQUEST,
	           "GET /index.html?q=1 HTTP/1.1\r\n"
	           "Host: example.com\r\n"
	           "User-Agent:  curl/8.0 \t\r\n"
	           "Accept:*/*\r\n"
	           "X-Empty:\r\n"
	           "X-Obs: caf\xc3\xa9 \t x\r\n"
	           "\r\n",
	           NULL, false,
	           "request GET(1) /index.html?q=1 form=0 scheme=(null) authority=example.com "
	           "path=/index.html?q=1 1.1 flags=0x8404 cl=-1 body=-2\n"
	           "  Host=example.com\n"
	           "  User-Agent=curl/8.0\n"
	           "  Accept=*/*\n"
	           "  X-Empty=\n"
	           "  X-Obs=caf\xc3\xa9 \t x\n"
	           "end\n"
	           "rc=0 state=0\n");
	struct cap c;
	capture(MESH_H1_REQUEST, "PATCH /x HTTP/1.1\r\nHost: a:8080\r\n\r\n", &c);
	ck_assert_int_eq(c.h.method_id, MESH_H1_M_PATCH);
	ck_assert_str_eq(c.authority, "a:8080");
	ck_assert_int_eq(c.h.flags & MESH_H1_F_KEEP_ALIVE, MESH_H1_F_KEEP_ALIVE);
	capture(MESH_H1_REQUEST, "PURGE /x HTTP/1.0\r\n\r\n", &c);
	ck_assert_int_eq(c.h.method_id, MESH_H1_M_OTHER);
	ck_assert_str_eq(c.method, "PURGE");
	ck_assert_str_eq(c.authority, "(null)");
	ck_assert_int_eq(c.h.flags & MESH_H1_F_KEEP_ALIVE, 0);
}
END_TEST

START_TEST(request_methods)
{
	static const struct {
		const char *m;
		int id;
	} ms[] = {
		{ "GET", MESH_H1_M_GET },        { "HEAD", MESH_H1_M_HEAD },
		{ "POST", MESH_H1_M_POST },      { "PUT", MESH_H1_M_PUT },
		{ "DELETE", MESH_H1_M_DELETE },  { "OPTIONS", MESH_H1_M_OPTIONS },
		{ "TRACE", MESH_H1_M_TRACE },    { "PATCH", MESH_H1_M_PATCH },
		{ "get", MESH_H1_M_OTHER },      { "M-SEARCH", MESH_H1_M_OTHER },
		{ "PROPFIND", MESH_H1_M_OTHER },
	};
	for (size_t i = 0; i < MESH_ARRAY_LEN(ms); i++) {
		char in[128];
		struct cap c;
		snprintf(in, sizeof(in), "%s /x HTTP/1.1\r\nHost: h\r\n\r\n", ms[i].m);
		capture(MESH_H1_REQUEST, in, &c);
		ck_assert_int_eq(c.h.method_id, ms[i].id);
		ck_assert_str_eq(c.method, ms[i].m);
	}
}
END_TEST

START_TEST(request_body_content_length)
{
	expect_log(MESH_H1_REQUEST,
	           "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
	           NULL, false,
	           "request POST(3) /upload form=0 scheme=(null) authority=h path=/upload 1.1 "
	           "flags=0x8006 cl=11 body=11\n"
	           "  Host=h\n"
	           "  Content-Length=11\n"
	           "body[11]:hello world\n"
	           "end\n"
	           "rc=0 state=0\n");
	/* identical duplicates merge, as a list or as repeated fields */
	expect_log(MESH_H1_REQUEST,
	           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\ncontent-length: 003\r\n"
	           "\r\nabc",
	           NULL, false,
	           "request POST(3) / form=0 scheme=(null) authority=h path=/ 1.1 flags=0x8006 "
	           "cl=3 body=3\n"
	           "  Host=h\n"
	           "  Content-Length=3, 3\n"
	           "  content-length=003\n"
	           "body[3]:abc\n"
	           "end\n"
	           "rc=0 state=0\n");
	/* Content-Length: 0 is a body of none */
	expect_log(MESH_H1_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", NULL,
	           false,
	           "request POST(3) / form=0 scheme=(null) authority=h path=/ 1.1 flags=0x8406 "
	           "cl=0 body=0\n"
	           "  Host=h\n"
	           "  Content-Length=0\n"
	           "end\n"
	           "rc=0 state=0\n");
}
END_TEST

START_TEST(request_chunked_ext_trailers)
{
	expect_log(MESH_H1_REQUEST,
	           "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	           "5;name=value;quoted=\"a \\\"b\\\" c\"\r\nhello\r\n"
	           "1 ; x\r\n \r\n"
	           "00000000000000000006;y=1\r\nworld!\r\n"
	           "A\r\n0123456789\r\n"
	           "0;last\r\n"
	           "Grpc-Status: 0\r\n"
	           "Grpc-Message:  ok \r\n"
	           "\r\n",
	           NULL, false,
	           "request POST(3) /c form=0 scheme=(null) authority=h path=/c 1.1 flags=0x8005 "
	           "cl=-1 body=-1\n"
	           "  Host=h\n"
	           "  Transfer-Encoding=chunked\n"
	           "body[22]:hello world!0123456789\n"
	           "trailers 2\n"
	           "  Grpc-Status=0\n"
	           "  Grpc-Message=ok\n"
	           "end\n"
	           "rc=0 state=0\n");
	/* no trailers: on_trailers is not called; "Chunked" is case-insensitive */
	expect_log(MESH_H1_REQUEST,
	           "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:  Chunked \r\n\r\n"
	           "3\r\nabc\r\n0\r\n\r\n",
	           NULL, false,
	           "request PUT(4) / form=0 scheme=(null) authority=h path=/ 1.1 flags=0x8005 "
	           "cl=-1 body=-1\n"
	           "  Host=h\n"
	           "  Transfer-Encoding=Chunked\n"
	           "body[3]:abc\n"
	           "end\n"
	           "rc=0 state=0\n");
	/* an empty chunked body */
	expect_log(MESH_H1_REQUEST,
	           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	           NULL, false,
	           "request POST(3) / form=0 scheme=(null) authority=h path=/ 1.1 flags=0x8005 "
	           "cl=-1 body=-1\n"
	           "  Host=h\n"
	           "  Transfer-Encoding=chunked\n"
	           "end\n"
	           "rc=0 state=0\n");
}
END_TEST

START_TEST(request_pipelining)
{
	expect_log(MESH_H1_REQUEST,
	           "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
	           "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
	           "\r\n" /* a stray CRLF between messages is skipped (RFC 9112 2.2) */
	           "POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	           "2\r\nhi\r\n0\r\n\r\n",
	           NULL, false,
	           "request GET(1) /1 form=0 scheme=(null) authority=h path=/1 1.1 flags=0x8404 "
	           "cl=-1 body=-2\n"
	           "  Host=h\n"
	           "end\n"
	           "request POST(3) /2 form=0 scheme=(null) authority=h path=/2 1.1 flags=0x8006 "
	           "cl=4 body=4\n"
	           "  Host=h\n"
	           "  Content-Length=4\n"
	           "body[4]:body\n"
	           "end\n"
	           "request POST(3) /3 form=0 scheme=(null) authority=h path=/3 1.1 flags=0x8005 "
	           "cl=-1 body=-1\n"
	           "  Host=h\n"
	           "  Transfer-Encoding=chunked\n"
	           "body[2]:hi\n"
	           "end\n"
	           "rc=0 state=0\n");
}
END_TEST

/* Returning > 0 from on_end parses one pipelined request per call. */
START_TEST(pause_one_request_at_a_time)
{
	const char *in = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
			 "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
			 "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
	const long one = (long)strlen(in) / 3;
	struct mesh__h1_parser p;
	struct rec r;
	rec_init(&r);
	r.pause_on_end = 1;
	mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
	size_t off = 0, len = strlen(in);
	long n = mesh__h1_parse(&p, in, len, &rcb, &r);
	ck_assert_int_eq(n, one);
	ck_assert_int_eq(r.ends, 1);
	off += (size_t)n;
	n = mesh__h1_parse(&p, in + off, len - off, &rcb, &r);
	ck_assert_int_eq(n, one);
	ck_assert_int_eq(r.ends, 2);
	off += (size_t)n;
	n = mesh__h1_parse(&p, in + off, len - off, &rcb, &r);
	ck_assert_int_eq(n, one);
	ck_assert_int_eq(r.ends, 3);
	ck_assert_int_eq(mesh__h1_parser_state(&p), MESH_H1_IDLE);

	/* a pause in on_head: the head is consumed, on_end comes with the
	 * next call even with no bytes */
	rec_fini(&r);
	rec_init(&r);
	r.pause_on_head = 1;
	mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
	n = mesh__h1_parse(&p, in, len, &rcb, &r);
	ck_assert_int_eq(n, one);
	ck_assert_int_eq(r.heads, 1);
	ck_assert_int_eq(r.ends, 0);
	ck_assert_int_eq(mesh__h1_parser_state(&p), MESH_H1_BODY);
	n = mesh__h1_parse(&p, "", 0, &rcb, &r);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(r.ends, 1);
	ck_assert_int_eq(mesh__h1_parser_state(&p), MESH_H1_IDLE);

	/* a pause in on_body: the delivered bytes count as consumed */
	rec_fini(&r);
	rec_init(&r);
	r.pause_on_body = 1;
	mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
	const char *post = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde";
	n = mesh__h1_parse(&p, post, strlen(post), &rcb, &r);
	ck_assert_int_eq(n, (long)strlen(post));
	ck_assert_int_eq(r.ends, 0);
	n = mesh__h1_parse(&p, "", 0, &rcb, &r);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(r.ends, 1);
	rec_fini(&r);
}
END_TEST

START_TEST(callback_abort_is_sticky)
{
	struct mesh__h1_parser p;
	struct rec r;
	rec_init(&r);
	r.abort_on_end = 1;
	mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
	const char *in = "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
	ck_assert_int_eq(mesh__h1_parse(&p, in, strlen(in), &rcb, &r), MESH_H1_E_CALLBACK);
	ck_assert_int_eq(mesh__h1_parser_state(&p), MESH_H1_ERROR);
	ck_assert_int_eq(mesh__h1_parser_error(&p), MESH_H1_E_CALLBACK);
	ck_assert_int_eq(mesh__h1_parse(&p, in, strlen(in), &rcb, &r), MESH_H1_E_CALLBACK);
	ck_assert_int_eq(mesh__h1_parse_eof(&p, &rcb, &r), MESH_H1_E_CALLBACK);
	ck_assert_int_eq(r.ends, 1);
	ck_assert_int_eq(mesh__h1_error_status(MESH_H1_E_CALLBACK), 500);
	/* reset makes it usable again */
	mesh__h1_parser_reset(&p);
	r.abort_on_end = 0;
	ck_assert_int_eq(mesh__h1_parse(&p, in, strlen(in), &rcb, &r), (long)strlen(in));
	rec_fini(&r);
}
END_TEST

START_TEST(request_target_forms)
{
	struct cap c;
	/* absolute-form: the authority comes from the target, not Host */
	capture(MESH_H1_REQUEST,
	        "GET http://Example.COM:8080/a/b?c=d HTTP/1.1\r\nHost: other\r\n\r\n", &c);
	ck_assert_int_eq(c.h.target_form, MESH_H1_T_ABSOLUTE);
	ck_assert_str_eq(c.scheme, "http");
	ck_assert_str_eq(c.authority, "Example.COM:8080");
	ck_assert_str_eq(c.path, "/a/b?c=d");
	capture(MESH_H1_REQUEST, "GET https://[::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n", &c);
	ck_assert_str_eq(c.scheme, "https");
	ck_assert_str_eq(c.authority, "[::1]:443");
	ck_assert_str_eq(c.path, "/");
	/* authority-form for CONNECT */
	capture(MESH_H1_REQUEST,
	        "CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n", &c);
	ck_assert_int_eq(c.h.target_form, MESH_H1_T_AUTHORITY);
	ck_assert_str_eq(c.authority, "db.internal:5432");
	ck_assert_str_eq(c.path, "(null)");
	ck_assert_uint_eq(c.h.flags & (MESH_H1_F_CONNECT | MESH_H1_F_TUNNEL | MESH_H1_F_NO_BODY),
	                  MESH_H1_F_CONNECT | MESH_H1_F_TUNNEL | MESH_H1_F_NO_BODY);
	/* asterisk-form for OPTIONS */
	capture(MESH_H1_REQUEST, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &c);
	ck_assert_int_eq(c.h.target_form, MESH_H1_T_ASTERISK);
	ck_assert_str_eq(c.path, "*");
	ck_assert_str_eq(c.authority, "h");
	/* unusual but valid bytes in a path */
	capture(MESH_H1_REQUEST, "GET /a|b{c}%20\"<>^`~!$&'()*+,;=:@ HTTP/1.1\r\nHost: h\r\n\r\n",
	        &c);
	ck_assert_str_eq(c.path, "/a|b{c}%20\"<>^`~!$&'()*+,;=:@");
}
END_TEST

START_TEST(connect_and_upgrade_tunnels)
{
	/* CONNECT: the bytes after the head are tunnel payload */
	expect_log(MESH_H1_REQUEST,
	           "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n\x16\x03\x01 tls bytes", NULL,
	           false,
	           "request CONNECT(6) h:443 form=2 scheme=(null) authority=h:443 path=(null) 1.1 "
	           "flags=0x8704 cl=-1 body=-2\n"
	           "  Host=h:443\n"
	           "end\n"
	           "rest[13]:\x16\x03\x01 tls bytes\n"
	           "rc=0 state=3\n");
	/* WebSocket upgrade (Upgrade + Connection: upgrade, HTTP/1.1) */
	expect_log(MESH_H1_REQUEST,
	           "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
	           "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: x\r\n\r\nframes",
	           NULL, false,
	           "request GET(1) /chat form=0 scheme=(null) authority=h path=/chat 1.1 "
	           "flags=0x8674 cl=-1 body=-2\n"
	           "  Host=h\n"
	           "  Upgrade=websocket\n"
	           "  Connection=keep-alive, Upgrade\n"
	           "  Sec-WebSocket-Key=x\n"
	           "end\n"
	           "rest[6]:frames\n"
	           "rc=0 state=3\n");
	/* Upgrade without the Connection option is not an upgrade */
	struct cap c;
	capture(MESH_H1_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", &c);
	ck_assert_uint_eq(c.h.flags & (MESH_H1_F_UPGRADE | MESH_H1_F_TUNNEL), 0);
	/* nor in HTTP/1.0 */
	capture(MESH_H1_REQUEST, "GET / HTTP/1.0\r\nUpgrade: ws\r\nConnection: upgrade\r\n\r\n",
	        &c);
	ck_assert_uint_eq(c.h.flags & (MESH_H1_F_UPGRADE | MESH_H1_F_TUNNEL), 0);

	/* a refused upgrade: resume parses the next request */
	struct mesh__h1_parser p;
	struct rec r;
	rec_init(&r);
	mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
	const char *in = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
			 "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
	long n = mesh__h1_parse(&p, in, strlen(in), &rcb, &r);
	ck_assert_int_eq(n, (long)strlen(in) - 28);
	ck_assert_int_eq(mesh__h1_parser_state(&p), MESH_H1_TUNNEL);
	ck_assert_int_eq(mesh__h1_parse(&p, in + n, strlen(in) - n, &rcb, &r), 0);
	ck_assert_int_eq(mesh__h1_parser_resume(&p), 0);
	ck_assert_int_eq(mesh__h1_parser_resume(&p), MESH_EINVAL);
	ck_assert_int_eq(mesh__h1_parse(&p, in + n, strlen(in) - n, &rcb, &r), 28);
	ck_assert_int_eq(r.ends, 2);
	ck_assert_int_eq(mesh__h1_parser_state(&p), MESH_H1_IDLE);
	ck_assert_int_eq(mesh__h1_parse_eof(&p, &rcb, &r), 0);
	rec_fini(&r);

	/* a refused CONNECT with Connection: close resumes to closed */
	mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
	in = "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nConnection: close\r\n\r\n";
	ck_assert_int_eq(mesh__h1_parse(&p, in, strlen(in), &capcb, &c), (long)strlen(in));
	ck_assert_int_eq(mesh__h1_parser_resume(&p), 0);
	ck_assert_int_eq(mesh__h1_parser_state(&p), MESH_H1_CLOSED);
	/* resume is for request parsers only */
	mesh__h1_parser_init(&p, MESH_H1_RESPONSE, NULL);
	ck_assert_int_eq(mesh__h1_parser_resume(&p), MESH_EINVAL);
}
END_TEST

START_TEST(keep_alive_rules)
{
	static const struct {
		const char *in;
		bool keep;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, CLOSE\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: x\r\nConnection: keep-alive\r\n\r\n", true },
	};
	for (size_t i = 0; i < MESH_ARRAY_LEN(cases); i++) {
		struct mesh__h1_parser p;
		struct rec r;
		rec_init(&r);
		mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
		/* a second request behind it is parsed only when keep-alive */
		char in[256];
		snprintf(in, sizeof(in), "%sGET /next HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].in);
		long n = mesh__h1_parse(&p, in, strlen(in), &rcb, &r);
		ck_assert_msg(n > 0, "case %zu: %ld", i, n);
		ck_assert_msg(r.ends == (cases[i].keep ? 2 : 1), "case %zu: %d ends", i, r.ends);
		ck_assert_int_eq(mesh__h1_parser_state(&p),
		                 cases[i].keep ? MESH_H1_IDLE : MESH_H1_CLOSED);
		if (!cases[i].keep)
			ck_assert_uint_eq((size_t)n, strlen(cases[i].in));
		rec_fini(&r);
	}
	/* Expect: 100-continue counts in HTTP/1.1 only */
	struct cap c;
	capture(MESH_H1_REQUEST, "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n", &c);
	ck_assert_uint_eq(c.h.flags & MESH_H1_F_EXPECT_CONTINUE, MESH_H1_F_EXPECT_CONTINUE);
	capture(MESH_H1_REQUEST, "PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &c);
	ck_assert_uint_eq(c.h.flags & MESH_H1_F_EXPECT_CONTINUE, 0);
	/* TE: trailers (gRPC) */
	capture(MESH_H1_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nTE: trailers\r\n\r\n", &c);
	ck_assert_uint_eq(c.h.flags & MESH_H1_F_TE_TRAILERS, MESH_H1_F_TE_TRAILERS);
	capture(MESH_H1_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nTE: trailers, deflate\r\n\r\n", &c);
	ck_assert_uint_eq(c.h.flags & MESH_H1_F_TE_TRAILERS, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

START_TEST(response_basic)
{
	expect_log(
		MESH_H1_RESPONSE,
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello"
		"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		"HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n"
		"HTTP/1.1 500 \r\nContent-Length: 1\r\n\r\nx",
		NULL, false,
		"response 200 OK 1.1 flags=0x6 cl=5 body=5\n"
		"  Content-Length=5\n"
		"  Server=x\n"
		"body[5]:hello\n"
		"end\n"
		"response 404 Not Found 1.1 flags=0x5 cl=-1 body=-1\n"
		"  Transfer-Encoding=chunked\n"
		"body[3]:abc\n"
		"end\n"
		"response 201  1.1 flags=0x406 cl=0 body=0\n"
		"  Content-Length=0\n"
		"end\n"
		"response 500  1.1 flags=0x6 cl=1 body=1\n"
		"  Content-Length=1\n"
		"body[1]:x\n"
		"end\n"
		"rc=0 state=0\n");
}
END_TEST

START_TEST(response_close_delimited)
{
	expect_log(MESH_H1_RESPONSE,
	           "HTTP/1.1 200 OK\r\nServer: old\r\n\r\nall of this\r\n\r\nis body", NULL, true,
	           "response 200 OK 1.1 flags=0x800 cl=-1 body=-3\n"
	           "  Server=old\n"
	           "body[22]:all of this\r\n\r\nis body\n"
	           "end\n"
	           "rc=0 state=4\n");
	/* HTTP/1.0 with a length and keep-alive persists */
	expect_log(MESH_H1_RESPONSE,
	           "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok", NULL,
	           true,
	           "response 200 OK 1.0 flags=0x16 cl=2 body=2\n"
	           "  Content-Length=2\n"
	           "  Connection=keep-alive\n"
	           "body[2]:ok\n"
	           "end\n"
	           "rc=0 state=0\n");
	/* HTTP/1.0 with a length and no keep-alive: closed after it */
	expect_log(MESH_H1_RESPONSE, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE", NULL,
	           false,
	           "response 200 OK 1.0 flags=0x2 cl=2 body=2\n"
	           "  Content-Length=2\n"
	           "body[2]:ok\n"
	           "end\n"
	           "rest[7]:GARBAGE\n"
	           "rc=0 state=4\n");
}
END_TEST

START_TEST(response_no_body_cases)
{
	/* HEAD: Content-Length and chunked are not followed by a body; the
	 * expectation ends with the response */
	expect_log(MESH_H1_RESPONSE,
	           "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
	           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
	           "HEAD", false,
	           "response 200 OK 1.1 flags=0x4406 cl=1234 body=-2\n"
	           "  Content-Length=1234\n"
	           "end\n"
	           "response 200 OK 1.1 flags=0x6 cl=2 body=2\n"
	           "  Content-Length=2\n"
	           "body[2]:hi\n"
	           "end\n"
	           "rc=0 state=0\n");
	expect_log(
		MESH_H1_RESPONSE,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HEAD", false,
		"response 200 OK 1.1 flags=0x4404 cl=-1 body=-2\n"
		"  Transfer-Encoding=chunked\n"
		"end\n"
		"response 204 No Content 1.1 flags=0x404 cl=-1 body=-2\n"
		"end\n"
		"rc=0 state=0\n");
	/* 304 with a Content-Length: no body */
	expect_log(MESH_H1_RESPONSE,
	           "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: \"x\"\r\n\r\n", NULL,
	           false,
	           "response 304 Not Modified 1.1 flags=0x406 cl=99 body=-2\n"
	           "  Content-Length=99\n"
	           "  ETag=\"x\"\n"
	           "end\n"
	           "rc=0 state=0\n");
	/* 204 with Content-Length: 0 is tolerated */
	expect_log(MESH_H1_RESPONSE, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", NULL,
	           false,
	           "response 204 No Content 1.1 flags=0x406 cl=0 body=-2\n"
	           "  Content-Length=0\n"
	           "end\n"
	           "rc=0 state=0\n");
	/* 1xx interim responses, then the final one; HEAD still applies */
	expect_log(MESH_H1_RESPONSE,
	           "HTTP/1.1 100 Continue\r\n\r\n"
	           "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
	           "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
	           "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
	           "HEAD", false,
	           "response 100 Continue 1.1 flags=0x6404 cl=-1 body=-2\n"
	           "end\n"
	           "response 103 Early Hints 1.1 flags=0x6404 cl=-1 body=-2\n"
	           "  Link=</s.css>; rel=preload\n"
	           "end\n"
	           "response 200 OK 1.1 flags=0x4406 cl=3 body=-2\n"
	           "  Content-Length=3\n"
	           "end\n"
	           "response 200 OK 1.1 flags=0x6 cl=3 body=3\n"
	           "  Content-Length=3\n"
	           "body[3]:abc\n"
	           "end\n"
	           "rc=0 state=0\n");
}
END_TEST

START_TEST(response_tunnels)
{
	/* 101: HTTP ends, the rest is the new protocol */
	expect_log(
		MESH_H1_RESPONSE,
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"\r\n\x81\x05hello",
		NULL, false,
		"response 101 Switching Protocols 1.1 flags=0x664 cl=-1 body=-2\n"
		"  Upgrade=websocket\n"
		"  Connection=Upgrade\n"
		"end\n"
		"rest[7]:\x81\x05hello\n"
		"rc=0 state=3\n");
	/* 2xx to CONNECT: framing fields are ignored (RFC 9110 9.3.6) */
	expect_log(MESH_H1_RESPONSE,
	           "HTTP/1.1 200 Connection Established\r\nContent-Length: 5\r\n"
	           "Transfer-Encoding: chunked\r\n\r\nraw bytes",
	           "CONNECT", false,
	           "response 200 Connection Established 1.1 flags=0x704 cl=-1 body=-2\n"
	           "  Content-Length=5\n"
	           "  Transfer-Encoding=chunked\n"
	           "end\n"
	           "rest[9]:raw bytes\n"
	           "rc=0 state=3\n");
	/* a refused CONNECT has an ordinary body and keeps HTTP */
	expect_log(
		MESH_H1_RESPONSE,
		"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nnoHTTP/1.1 "
		"200 OK\r\nContent-Length: 0\r\n\r\n",
		"CONNECT", false,
		"response 407 Proxy Authentication Required 1.1 flags=0x106 cl=2 body=2\n"
		"  Content-Length=2\n"
		"body[2]:no\n"
		"end\n"
		"response 200 OK 1.1 flags=0x406 cl=0 body=0\n"
		"  Content-Length=0\n"
		"end\n"
		"rc=0 state=0\n");
}
END_TEST

START_TEST(response_expectation_set_in_on_end)
{
	/* two pipelined responses: the first to HEAD, the second to GET; the
	 * expectation is reset before on_end */
	struct mesh__h1_parser p;
	struct rec r;
	rec_init(&r);
	mesh__h1_parser_init(&p, MESH_H1_RESPONSE, NULL);
	mesh__h1_parser_expect_head(&p);
	const char *in = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
			 "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
	ck_assert_int_eq(mesh__h1_parse(&p, in, strlen(in), &rcb, &r), (long)strlen(in));
	ck_assert_int_eq(r.ends, 2);
	ck_assert_ptr_nonnull(strstr(mesh__sb_str(&r.log), "body[3]:abc"));
	/* the setting does nothing to a request parser */
	mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
	mesh__h1_parser_expect_head(&p);
	const char *req = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx";
	ck_assert_int_eq(mesh__h1_parse(&p, req, strlen(req), &rcb, &r), (long)strlen(req));
	ck_assert_int_eq(r.ends, 3);
	rec_fini(&r);
}
END_TEST

START_TEST(eof_handling)
{
	long rc;
	char *log;
	/* EOF at a clean point */
	log = parse_log(MESH_H1_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", WHOLE, NULL, NULL,
	                true, &rc);
	ck_assert_int_eq(rc, 0);
	free(log);
	/* EOF inside a head, a length body, a chunked body */
	static const char *const truncated[] = {
		"GET / HTTP/1.1\r\nHost: h\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
	};
	for (size_t i = 0; i < MESH_ARRAY_LEN(truncated); i++) {
		for (int mode = WHOLE; mode <= BYTES; mode++) {
			log = parse_log(MESH_H1_REQUEST, truncated[i], mode, NULL, NULL, true, &rc);
			ck_assert_msg(rc == MESH_H1_E_INCOMPLETE, "case %zu: %ld", i, rc);
			free(log);
		}
	}
	/* the parser itself reports a truncated body */
	struct mesh__h1_parser p;
	mesh__h1_parser_init(&p, MESH_H1_RESPONSE, NULL);
	const char *in = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
	struct rec r;
	rec_init(&r);
	ck_assert_int_eq(mesh__h1_parse(&p, in, strlen(in), &rcb, &r), (long)strlen(in));
	ck_assert_int_eq(mesh__h1_parse_eof(&p, &rcb, &r), MESH_H1_E_INCOMPLETE);
	ck_assert_int_eq(mesh__h1_parser_state(&p), MESH_H1_ERROR);
	/* EOF after a paused head delivers on_end */
	mesh__h1_parser_init(&p, MESH_H1_RESPONSE, NULL);
	r.pause_on_head = 1;
	r.ends = 0;
	in = "HTTP/1.1 204 No Content\r\n\r\n";
	ck_assert_int_eq(mesh__h1_parse(&p, in, strlen(in), &rcb, &r), (long)strlen(in));
	ck_assert_int_eq(r.ends, 0);
	ck_assert_int_eq(mesh__h1_parse_eof(&p, &rcb, &r), 0);
	ck_assert_int_eq(r.ends, 1);
	ck_assert_int_eq(mesh__h1_parser_state(&p), MESH_H1_CLOSED);
	rec_fini(&r);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Errors: every smuggling shape and limit, with its exact code and    */
/* status, identical however the bytes are split                       */
/* ------------------------------------------------------------------ */

struct errcase {
	int type;
	const char *in;
	int err;
	int status;
};

#define RQ MESH_H1_REQUEST
#define RS MESH_H1_RESPONSE
#define H "Host: h\r\n"

static const struct errcase errcases[] = {
	/* line endings */
	{ RQ, "GET / HTTP/1.1\n" H "\r\n", MESH_H1_E_BARE_LF, 400 },
	{ RQ, "GET / HTTP/1.1\r\nHost: h\n\r\n", MESH_H1_E_BARE_LF, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "\n", MESH_H1_E_BARE_LF, 400 },
	{ RQ, "\nGET / HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BARE_LF, 400 },
	{ RQ, "\rGET / HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BARE_CR, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n", MESH_H1_E_BARE_CR, 400 },
	{ RQ, "GET /\r HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BARE_CR, 400 },
	{ RS, "HTTP/1.1 200 OK\n\r\n", MESH_H1_E_BARE_LF, 400 },
	/* request line */
	{ RQ, "GET  / HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_REQUEST_LINE, 400 },
	{ RQ, "GET /  HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_REQUEST_LINE, 400 },
	{ RQ, "GET / HTTP/1.1 \r\n" H "\r\n", MESH_H1_E_BAD_REQUEST_LINE, 400 },
	{ RQ, " GET / HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_REQUEST_LINE, 400 },
	{ RQ, "GET /a b HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_REQUEST_LINE, 400 },
	{ RQ, "GET /\r\n\r\n", MESH_H1_E_BAD_REQUEST_LINE, 400 },
	{ RQ, "GET\r\n\r\n", MESH_H1_E_BAD_REQUEST_LINE, 400 },
	{ RQ, "GET / \r\n\r\n", MESH_H1_E_BAD_REQUEST_LINE, 400 },
	{ RQ, "G(T / HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_METHOD, 400 },
	{ RQ, "GET\t/ HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_METHOD, 400 },
	{ RQ, "G\x80T / HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_METHOD, 400 },
	{ RQ, "GET / http/1.1\r\n" H "\r\n", MESH_H1_E_BAD_VERSION, 400 },
	{ RQ, "GET / HTTP/1.10\r\n" H "\r\n", MESH_H1_E_BAD_VERSION, 400 },
	{ RQ, "GET / HTTP/1\r\n" H "\r\n", MESH_H1_E_BAD_VERSION, 400 },
	{ RQ, "GET / HTTP/2.0\r\n" H "\r\n", MESH_H1_E_VERSION_NOT_SUPPORTED, 505 },
	{ RQ, "GET / HTTP/1.2\r\n" H "\r\n", MESH_H1_E_VERSION_NOT_SUPPORTED, 505 },
	{ RQ, "GET / HTTP/0.9\r\n" H "\r\n", MESH_H1_E_VERSION_NOT_SUPPORTED, 505 },
	{ RQ, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", MESH_H1_E_VERSION_NOT_SUPPORTED, 505 },
	/* request-target */
	{ RQ, "GET /a#frag HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "GET /a\x01 HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "GET /\xc3\xa9 HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "GET /\x7f HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "GET a/b HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "GET * HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "GET http:/x HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "GET http:///x HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "GET http://u@h/x HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "GET http://h:99999/ HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "CONNECT /x HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "CONNECT h HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "CONNECT h: HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "CONNECT http://h:1 HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	{ RQ, "CONNECT [::1 HTTP/1.1\r\n" H "\r\n", MESH_H1_E_BAD_TARGET, 400 },
	/* field lines */
	{ RQ, "GET / HTTP/1.1\r\n" H "X: a\r\n  folded\r\n\r\n", MESH_H1_E_OBS_FOLD, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "X: a\r\n\tfolded\r\n\r\n", MESH_H1_E_OBS_FOLD, 400 },
	{ RQ, "GET / HTTP/1.1\r\n " H "\r\n", MESH_H1_E_OBS_FOLD, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "X-Foo : a\r\n\r\n", MESH_H1_E_WS_BEFORE_COLON, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "X-Foo\t: a\r\n\r\n", MESH_H1_E_WS_BEFORE_COLON, 400 },
	{ RQ, "GET / HTTP/1.1\r\nHost : h\r\n\r\n", MESH_H1_E_WS_BEFORE_COLON, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H ": a\r\n\r\n", MESH_H1_E_BAD_HEADER_NAME, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "X(y): a\r\n\r\n", MESH_H1_E_BAD_HEADER_NAME, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "X y: a\r\n\r\n", MESH_H1_E_BAD_HEADER_NAME, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "X\x80: a\r\n\r\n", MESH_H1_E_BAD_HEADER_NAME, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "NoColon\r\n\r\n", MESH_H1_E_NO_COLON, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "No Colon \r\n\r\n", MESH_H1_E_BAD_HEADER_NAME, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "X: a\x01 b\r\n\r\n", MESH_H1_E_BAD_HEADER_VALUE, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n", MESH_H1_E_BAD_HEADER_VALUE, 400 },
	{ RQ, "GET / HTTP/1.1\r\n" H "X: a\x0b\r\n\r\n", MESH_H1_E_BAD_HEADER_VALUE, 400 },
	/* Host */
	{ RQ, "GET / HTTP/1.1\r\n\r\n", MESH_H1_E_MISSING_HOST, 400 },
	{ RQ, "GET / HTTP/1.1\r\nX: y\r\n\r\n", MESH_H1_E_MISSING_HOST, 400 },
	{ RQ, "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", MESH_H1_E_DUPLICATE_HOST, 400 },
	{ RQ, "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", MESH_H1_E_DUPLICATE_HOST, 400 },
	{ RQ, "GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n", MESH_H1_E_DUPLICATE_HOST, 400 },
	{ RQ, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", MESH_H1_E_BAD_HOST, 400 },
	{ RQ, "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", MESH_H1_E_BAD_HOST, 400 },
	{ RQ, "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", MESH_H1_E_BAD_HOST, 400 },
	{ RQ, "GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", MESH_H1_E_BAD_HOST, 400 },
	{ RQ, "GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", MESH_H1_E_BAD_HOST, 400 },
	/* Content-Length */
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: abc\r\n\r\n", MESH_H1_E_BAD_CONTENT_LENGTH,
	  400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n", MESH_H1_E_BAD_CONTENT_LENGTH,
	  400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", MESH_H1_E_BAD_CONTENT_LENGTH,
	  400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: 0x10\r\n\r\n", MESH_H1_E_BAD_CONTENT_LENGTH,
	  400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: 1 2\r\n\r\n", MESH_H1_E_BAD_CONTENT_LENGTH,
	  400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", MESH_H1_E_BAD_CONTENT_LENGTH,
	  400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: 5,\r\n\r\n", MESH_H1_E_BAD_CONTENT_LENGTH,
	  400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: 1.0\r\n\r\n", MESH_H1_E_BAD_CONTENT_LENGTH,
	  400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: 9223372036854775808\r\n\r\n",
	  MESH_H1_E_CONTENT_LENGTH_OVERFLOW, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999999\r\n\r\n",
	  MESH_H1_E_CONTENT_LENGTH_OVERFLOW, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
	  MESH_H1_E_CONTENT_LENGTH_MISMATCH, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: 5, 6\r\n\r\n",
	  MESH_H1_E_CONTENT_LENGTH_MISMATCH, 400 },
	/* Transfer-Encoding */
	{ RQ, "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	  MESH_H1_E_CL_AND_TE, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
	  MESH_H1_E_CL_AND_TE, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n",
	  MESH_H1_E_CL_AND_TE, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n",
	  MESH_H1_E_BAD_TRANSFER_ENCODING, 400 },
	{ RQ,
	  "POST / HTTP/1.1\r\n" H
	  "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	  MESH_H1_E_BAD_TRANSFER_ENCODING, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n",
	  MESH_H1_E_BAD_TRANSFER_ENCODING, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n", MESH_H1_E_BAD_TRANSFER_ENCODING,
	  400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked,\r\n\r\n",
	  MESH_H1_E_BAD_TRANSFER_ENCODING, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: \"chunked\"\r\n\r\n",
	  MESH_H1_E_BAD_TRANSFER_ENCODING, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked;q=1\r\n\r\n",
	  MESH_H1_E_BAD_TRANSFER_ENCODING, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chu nked\r\n\r\n",
	  MESH_H1_E_BAD_TRANSFER_ENCODING, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n",
	  MESH_H1_E_UNSUPPORTED_TRANSFER_CODING, 501 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\n",
	  MESH_H1_E_UNSUPPORTED_TRANSFER_CODING, 501 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: xchunked\r\n\r\n",
	  MESH_H1_E_UNSUPPORTED_TRANSFER_CODING, 501 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunk\r\n\r\n",
	  MESH_H1_E_UNSUPPORTED_TRANSFER_CODING, 501 },
	{ RQ, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", MESH_H1_E_TE_IN_HTTP10,
	  400 },
	{ RQ, "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 5\r\n\r\n",
	  MESH_H1_E_CONNECT_WITH_BODY, 400 },
	{ RQ, "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nTransfer-Encoding: chunked\r\n\r\n",
	  MESH_H1_E_CONNECT_WITH_BODY, 400 },
	/* chunks */
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\nx\r\n",
	  MESH_H1_E_BAD_CHUNK_SIZE, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n\r\n",
	  MESH_H1_E_BAD_CHUNK_SIZE, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0x5\r\n",
	  MESH_H1_E_BAD_CHUNK_SIZE, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n-5\r\n",
	  MESH_H1_E_BAD_CHUNK_SIZE, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n 5\r\n",
	  MESH_H1_E_BAD_CHUNK_SIZE, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5 \r\n",
	  MESH_H1_E_BAD_CHUNK_SIZE, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5\n", MESH_H1_E_BARE_LF,
	  400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n8000000000000000\r\n",
	  MESH_H1_E_CHUNK_SIZE_OVERFLOW, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
	  MESH_H1_E_CHUNK_SIZE_OVERFLOW, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5;\r\n",
	  MESH_H1_E_BAD_CHUNK_EXT, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5;a=\r\n",
	  MESH_H1_E_BAD_CHUNK_EXT, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5;a=\"x\r\n",
	  MESH_H1_E_BAD_CHUNK_EXT, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5;a b\r\n",
	  MESH_H1_E_BAD_CHUNK_EXT, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5;a=\x01\r\n",
	  MESH_H1_E_BAD_CHUNK_EXT, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5;a=\"\x01\"\r\n",
	  MESH_H1_E_BAD_CHUNK_EXT, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n",
	  MESH_H1_E_CHUNK_MISSING_CRLF, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\rX\n",
	  MESH_H1_E_CHUNK_MISSING_CRLF, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n",
	  MESH_H1_E_BARE_LF, 400 },
	{ RQ,
	  "POST / HTTP/1.1\r\n" H
	  "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX y: z\r\n\r\n",
	  MESH_H1_E_BAD_HEADER_NAME, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n",
	  MESH_H1_E_OBS_FOLD, 400 },
	{ RQ, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\n\r\n",
	  MESH_H1_E_BARE_LF, 400 },
	/* responses */
	{ RS, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	  MESH_H1_E_CL_AND_TE, 400 },
	{ RS, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	  MESH_H1_E_CONTENT_LENGTH_MISMATCH, 400 },
	{ RS, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	  MESH_H1_E_UNSUPPORTED_TRANSFER_CODING, 501 },
	{ RS, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", MESH_H1_E_TE_IN_HTTP10,
	  400 },
	{ RS, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", MESH_H1_E_BODY_NOT_ALLOWED,
	  502 },
	{ RS, "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
	  MESH_H1_E_BODY_NOT_ALLOWED, 502 },
	{ RS, "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n", MESH_H1_E_BODY_NOT_ALLOWED,
	  502 },
	{ RS, "HTTP/1.1 101 Switching Protocols\r\nTransfer-Encoding: chunked\r\n\r\n",
	  MESH_H1_E_BODY_NOT_ALLOWED, 502 },
	{ RS, "HTTP/1.1 2000 OK\r\n\r\n", MESH_H1_E_BAD_STATUS_LINE, 502 },
	{ RS, "HTTP/1.1 20 OK\r\n\r\n", MESH_H1_E_BAD_STATUS_LINE, 502 },
	{ RS, "HTTP/1.1  200 OK\r\n\r\n", MESH_H1_E_BAD_STATUS_LINE, 502 },
	{ RS, "HTTP/1.1 2x0 OK\r\n\r\n", MESH_H1_E_BAD_STATUS_LINE, 502 },
	{ RS, "HTTP/1.1 200 O\x01K\r\n\r\n", MESH_H1_E_BAD_STATUS_LINE, 502 },
	{ RS, "HTTP/1.1 099 Low\r\n\r\n", MESH_H1_E_BAD_STATUS, 502 },
	{ RS, "HTTP/1.1 600 High\r\n\r\n", MESH_H1_E_BAD_STATUS, 502 },
	{ RS, "HTTP/1.1 200 O\rK\r\n\r\n", MESH_H1_E_BARE_CR, 400 },
	{ RS, "HTTP/2 200\r\n\r\n", MESH_H1_E_BAD_VERSION, 400 },
	{ RS, "HTTP/3.0 200 OK\r\n\r\n", MESH_H1_E_VERSION_NOT_SUPPORTED, 505 },
	{ RS, "ICY 200 OK\r\n\r\n", MESH_H1_E_BAD_VERSION, 400 },
	{ RS, "HTTP/1.1 200 OK\r\nX : y\r\n\r\n", MESH_H1_E_WS_BEFORE_COLON, 400 },
	{ RS, "HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", MESH_H1_E_OBS_FOLD, 400 },
	{ RS, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	  MESH_H1_E_BAD_CHUNK_SIZE, 400 },
};

START_TEST(error_cases)
{
	for (size_t i = 0; i < MESH_ARRAY_LEN(errcases); i++) {
		const struct errcase *c = &errcases[i];
		for (int mode = WHOLE; mode <= RANDOM; mode++) {
			long rc;
			rng_state = i + 1;
			char *log = parse_log(c->type, c->in, mode, NULL, NULL, false, &rc);
			if (rc != c->err)
				fprintf(stderr,
				        "case %zu mode %d: got %ld (%s), want %d (%s)\n%s\n", i,
				        mode, rc, mesh__h1_strerror((int)rc), c->err,
				        mesh__h1_strerror(c->err), log);
			ck_assert_msg(rc == c->err, "case %zu (mode %d): %ld != %d", i, mode, rc,
			              c->err);
			/* no head reached the engine for a head error */
			free(log);
		}
		ck_assert_int_eq(mesh__h1_error_status(c->err), c->status);
	}
}
END_TEST

/* An error in a head never calls on_head; what came before is intact. */
START_TEST(error_after_good_request)
{
	struct mesh__h1_parser p;
	struct rec r;
	rec_init(&r);
	mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
	const char *in = "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"
			 "POST /smuggle HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	ck_assert_int_eq(mesh__h1_parse(&p, in, strlen(in), &rcb, &r), MESH_H1_E_CL_AND_TE);
	ck_assert_int_eq(r.heads, 1);
	ck_assert_int_eq(r.ends, 1);
	rec_fini(&r);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

static char *many_headers(int n, size_t value_len)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_puts(&sb, "GET / HTTP/1.1\r\nHost: h\r\n");
	char *v = malloc(value_len + 1);
	memset(v, 'v', value_len);
	v[value_len] = '\0';
	for (int i = 1; i < n; i++)
		mesh__sb_printf(&sb, "X-H%d: %s\r\n", i, v);
	mesh__sb_puts(&sb, "\r\n");
	free(v);
	return mesh__sb_steal(&sb);
}

static long parse_with(const char *in, const struct mesh__h1_limits *lim, int mode)
{
	long rc;
	char *log = parse_log(MESH_H1_REQUEST, in, mode, lim, NULL, false, &rc);
	free(log);
	return rc;
}

START_TEST(limit_header_count)
{
	char *ok = many_headers(100, 3); /* Host + 99 */
	char *bad = many_headers(101, 3);
	for (int mode = WHOLE; mode <= BYTES; mode++) {
		ck_assert_int_eq(parse_with(ok, NULL, mode), 0);
		ck_assert_int_eq(parse_with(bad, NULL, mode), MESH_H1_E_TOO_MANY_HEADERS);
	}
	ck_assert_int_eq(mesh__h1_error_status(MESH_H1_E_TOO_MANY_HEADERS), 431);
	/* a custom limit, and the cap */
	struct mesh__h1_limits lim = { .max_headers = 5 };
	char *six = many_headers(6, 3);
	char *five = many_headers(5, 3);
	ck_assert_int_eq(parse_with(six, &lim, WHOLE), MESH_H1_E_TOO_MANY_HEADERS);
	ck_assert_int_eq(parse_with(five, &lim, WHOLE), 0);
	lim.max_headers = 100000;
	char *cap = many_headers(MESH_H1_MAX_HEADERS_CAP, 1);
	char *over = many_headers(MESH_H1_MAX_HEADERS_CAP + 1, 1);
	ck_assert_int_eq(parse_with(cap, &lim, WHOLE), 0);
	ck_assert_int_eq(parse_with(over, &lim, WHOLE), MESH_H1_E_TOO_MANY_HEADERS);
	/* trailers have the same limit */
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_puts(&sb, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
	for (int i = 0; i < 101; i++)
		mesh__sb_printf(&sb, "T%d: x\r\n", i);
	mesh__sb_puts(&sb, "\r\n");
	ck_assert_int_eq(parse_with(mesh__sb_str(&sb), NULL, WHOLE), MESH_H1_E_TOO_MANY_HEADERS);
	mesh__sb_fini(&sb);
	free(ok);
	free(bad);
	free(six);
	free(five);
	free(cap);
	free(over);
}
END_TEST

START_TEST(limit_head_bytes)
{
	/* 60 KiB including the request line and the blank line */
	char *in = many_headers(2, 1);
	size_t base = strlen(in) - 1; /* one 'v' */
	free(in);
	size_t fill = MESH_H1_DEFAULT_MAX_HEAD_BYTES - base;
	char *exact = many_headers(2, fill);
	ck_assert_uint_eq(strlen(exact), MESH_H1_DEFAULT_MAX_HEAD_BYTES);
	char *over = many_headers(2, fill + 1);
	for (int mode = WHOLE; mode <= BYTES; mode++) {
		ck_assert_int_eq(parse_with(exact, NULL, mode), 0);
		ck_assert_int_eq(parse_with(over, NULL, mode), MESH_H1_E_HEADERS_TOO_LARGE);
	}
	ck_assert_int_eq(mesh__h1_error_status(MESH_H1_E_HEADERS_TOO_LARGE), 431);
	/* an endless header line is refused once past the limit, without the
	 * parser consuming anything */
	struct mesh__h1_parser p;
	struct rec r;
	rec_init(&r);
	mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
	size_t big = MESH_H1_DEFAULT_MAX_HEAD_BYTES + 10;
	char *buf = malloc(big);
	memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
	memset(buf + 19, 'a', big - 19);
	ck_assert_int_eq(mesh__h1_parse(&p, buf, MESH_H1_DEFAULT_MAX_HEAD_BYTES, &rcb, &r), 0);
	ck_assert_int_eq(mesh__h1_parse(&p, buf, big, &rcb, &r), MESH_H1_E_HEADERS_TOO_LARGE);
	free(buf);
	rec_fini(&r);
	/* custom limit */
	struct mesh__h1_limits lim = { .max_head_bytes = 100 };
	ck_assert_int_eq(parse_with(exact, &lim, WHOLE), MESH_H1_E_HEADERS_TOO_LARGE);
	free(exact);
	free(over);
}
END_TEST

START_TEST(limit_uri)
{
	size_t n = MESH_H1_DEFAULT_MAX_START_LINE;
	char *in = malloc(n + 64);
	/* request line of exactly the limit passes */
	size_t plen = n - strlen("GET  HTTP/1.1");
	memcpy(in, "GET /", 5);
	memset(in + 5, 'a', plen - 1);
	strcpy(in + 4 + plen, " HTTP/1.1\r\nHost: h\r\n\r\n");
	for (int mode = WHOLE; mode <= BYTES; mode++)
		ck_assert_int_eq(parse_with(in, NULL, mode), 0);
	/* one more byte: 414 */
	memset(in + 5, 'a', plen);
	strcpy(in + 5 + plen, " HTTP/1.1\r\nHost: h\r\n\r\n");
	for (int mode = WHOLE; mode <= BYTES; mode++)
		ck_assert_int_eq(parse_with(in, NULL, mode), MESH_H1_E_URI_TOO_LONG);
	ck_assert_int_eq(mesh__h1_error_status(MESH_H1_E_URI_TOO_LONG), 414);
	/* custom limit */
	struct mesh__h1_limits lim = { .max_start_line = 20 };
	ck_assert_int_eq(parse_with("GET /0123456789 HTTP/1.1\r\nHost: h\r\n\r\n", &lim, WHOLE),
	                 MESH_H1_E_URI_TOO_LONG);
	ck_assert_int_eq(parse_with("GET /01234 HTTP/1.1\r\nHost: h\r\n\r\n", &lim, WHOLE), 0);
	/* status line */
	lim.max_start_line = 16;
	long rc;
	char *log = parse_log(MESH_H1_RESPONSE, "HTTP/1.1 200 OK then some\r\n\r\n", BYTES, &lim,
	                      NULL, false, &rc);
	ck_assert_int_eq(rc, MESH_H1_E_STATUS_LINE_TOO_LONG);
	free(log);
	free(in);
}
END_TEST

START_TEST(limit_chunk_line_and_ext)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_puts(&sb, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;e=");
	for (int i = 0; i < MESH_H1_DEFAULT_MAX_CHUNK_LINE; i++)
		mesh__sb_putc(&sb, 'x');
	mesh__sb_puts(&sb, "\r\na\r\n0\r\n\r\n");
	for (int mode = WHOLE; mode <= BYTES; mode++)
		ck_assert_int_eq(parse_with(mesh__sb_str(&sb), NULL, mode),
		                 MESH_H1_E_CHUNK_LINE_TOO_LONG);
	/* many chunks whose extensions add up past max_chunk_ext */
	struct mesh__h1_limits lim = { .max_chunk_ext = 1000 };
	mesh__sb_truncate(&sb, 0);
	mesh__sb_puts(&sb, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 100; i++)
		mesh__sb_puts(&sb, "1;ext=0123456789\r\na\r\n");
	mesh__sb_puts(&sb, "0\r\n\r\n");
	ck_assert_int_eq(parse_with(mesh__sb_str(&sb), &lim, WHOLE), MESH_H1_E_CHUNK_EXT_TOO_LONG);
	lim.max_chunk_ext = 1500;
	ck_assert_int_eq(parse_with(mesh__sb_str(&sb), &lim, WHOLE), 0);
	/* the budget is per message: pipelined messages each get it */
	lim.max_chunk_ext = 20;
	const char *two = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "1;ext=0123456789\r\na\r\n0\r\n\r\n"
			  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "1;ext=0123456789\r\na\r\n0\r\n\r\n";
	ck_assert_int_eq(parse_with(two, &lim, WHOLE), 0);
	mesh__sb_fini(&sb);
}
END_TEST

/* A limit that a partial line already breaks wins over errors that need
 * the line's end, so the error does not depend on how bytes arrive. */
START_TEST(limit_errors_do_not_depend_on_splits)
{
	struct mesh__h1_limits lim = { .max_start_line = 20,
		                       .max_head_bytes = 60,
		                       .max_chunk_line = 16 };
	static const struct {
		const char *in;
		long err;
	} cases[] = {
		{ "GET /0123456789012345678 HTTP/1.1\n\n", MESH_H1_E_URI_TOO_LONG },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: 0123456789012345678901234567890123456789\n\n",
		  MESH_H1_E_HEADERS_TOO_LARGE },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: 0123456789012345678901234567890123456789\r\n\r\n",
		  MESH_H1_E_HEADERS_TOO_LARGE },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "1;a=0123456789012\n",
		  MESH_H1_E_CHUNK_LINE_TOO_LONG },
	};
	for (size_t i = 0; i < MESH_ARRAY_LEN(cases); i++) {
		struct mesh__h1_limits l = lim;
		if (i == 3)
			l.max_head_bytes = 0; /* default: the head passes */
		for (int mode = WHOLE; mode <= RANDOM; mode++) {
			rng_state = i + 7;
			long rc = parse_with(cases[i].in, &l, mode);
			ck_assert_msg(rc == cases[i].err, "case %zu mode %d: %ld", i, mode, rc);
		}
	}
}
END_TEST

/* Feeding a large head one byte at a time must stay linear: the scan
 * resumes where it stopped. 60 KiB byte by byte with a rescan per byte
 * would take billions of steps; this finishes in milliseconds. */
START_TEST(byte_at_a_time_is_linear)
{
	char *in = many_headers(2, MESH_H1_DEFAULT_MAX_HEAD_BYTES - 100);
	for (int k = 0; k < 5; k++)
		ck_assert_int_eq(parse_with(in, NULL, BYTES), 0);
	free(in);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Hop-by-hop headers                                                  */
/* ------------------------------------------------------------------ */

static int hop_head(void *ud, const struct mesh__h1_head *h)
{
	struct mesh__sb *kept = ud;
	for (size_t i = 0; i < h->n_headers; i++) {
		if (!mesh__h1_is_hop_header(h->headers[i].name, h->headers[i].name_len, h)) {
			mesh__sb_append(kept, h->headers[i].name, h->headers[i].name_len);
			mesh__sb_putc(kept, ' ');
		}
	}
	return 0;
}

static const struct mesh__h1_callbacks hopcb = { .on_head = hop_head };

static void expect_kept(const char *in, const char *want)
{
	struct mesh__h1_parser p;
	struct mesh__sb kept;
	mesh__sb_init(&kept);
	mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
	ck_assert_int_eq(mesh__h1_parse(&p, in, strlen(in), &hopcb, &kept), (long)strlen(in));
	ck_assert_str_eq(mesh__sb_str(&kept), want);
	mesh__sb_fini(&kept);
}

START_TEST(hop_by_hop)
{
	expect_kept("GET / HTTP/1.1\r\nHost: h\r\nConnection: close, X-Secret\r\nKeep-Alive: 5\r\n"
	            "Proxy-Connection: x\r\nX-Secret: 1\r\nx-secret: 2\r\nTE: gzip\r\n"
	            "Upgrade: foo\r\nAccept: */*\r\n\r\n",
	            "Host Accept ");
	/* TE: trailers is kept; Upgrade is kept when it is an upgrade */
	expect_kept("POST / HTTP/1.1\r\nHost: h\r\nTE: trailers\r\nConnection: TE\r\n"
	            "Content-Length: 0\r\n\r\n",
	            "Host TE Content-Length ");
	expect_kept(
		"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
		"Host Upgrade ");
	/* Connection naming Host does not strip the routing key */
	expect_kept(
		"GET / HTTP/1.1\r\nHost: h\r\nConnection: host, x-a\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
		"Host X-B ");
	/* without a head, only the fixed names */
	ck_assert(mesh__h1_is_hop_header("Transfer-Encoding", 17, NULL));
	ck_assert(mesh__h1_is_hop_header("keep-alive", 10, NULL));
	ck_assert(mesh__h1_is_hop_header("TE", 2, NULL));
	ck_assert(mesh__h1_is_hop_header("upgrade", 7, NULL));
	ck_assert(!mesh__h1_is_hop_header("content-length", 14, NULL));
	ck_assert(!mesh__h1_is_hop_header("x-connection", 12, NULL));
	ck_assert(mesh__h1_is_forbidden_trailer("Content-Length", 14));
	ck_assert(mesh__h1_is_forbidden_trailer("host", 4));
	ck_assert(!mesh__h1_is_forbidden_trailer("grpc-status", 11));
	ck_assert(mesh__h1_name_eq("Content-LENGTH", 14, "content-length"));
	ck_assert(!mesh__h1_name_eq("Content-LENGT", 13, "content-length"));
	ck_assert(!mesh__h1_name_eq("Content-LENGTHS", 15, "content-length"));
}
END_TEST

/* ------------------------------------------------------------------ */
/* Serializers                                                         */
/* ------------------------------------------------------------------ */

START_TEST(write_heads)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	const struct mesh__h1_header hs[] = {
		{ "Host", 4, "up.svc:8080", 11 },
		{ "Content-Length", 14, "999", 3 }, /* dropped: framing comes from body */
		{ "X-A", 3, "a b", 3 },
		{ "transfer-encoding", 17, "chunked", 7 },
		{ "X-Empty", 7, "", 0 },
	};
	ck_assert_int_eq(mesh__h1_write_request_head(&sb, "POST", 4, "/p?q=1", 6, hs, 5, 12, 0), 0);
	ck_assert_str_eq(mesh__sb_str(&sb),
	                 "POST /p?q=1 HTTP/1.1\r\nHost: up.svc:8080\r\nX-A: a b\r\n"
	                 "X-Empty: \r\ncontent-length: 12\r\n\r\n");
	mesh__sb_truncate(&sb, 0);
	ck_assert_int_eq(mesh__h1_write_request_head(&sb, "GET", 3, "/", 1, hs, 1,
	                                             MESH_H1_BODY_NONE, MESH_H1_W_CLOSE),
	                 0);
	ck_assert_str_eq(mesh__sb_str(&sb),
	                 "GET / HTTP/1.1\r\nHost: up.svc:8080\r\nconnection: close\r\n\r\n");
	mesh__sb_truncate(&sb, 0);
	ck_assert_int_eq(mesh__h1_write_request_head(&sb, "PUT", 3, "/", 1, NULL, 0,
	                                             MESH_H1_BODY_CHUNKED, MESH_H1_W_UPGRADE),
	                 0);
	ck_assert_str_eq(mesh__sb_str(&sb), "PUT / HTTP/1.1\r\ntransfer-encoding: chunked\r\n"
	                                    "connection: upgrade\r\n\r\n");
	mesh__sb_truncate(&sb, 0);
	ck_assert_int_eq(mesh__h1_write_response_head(&sb, 200, NULL, 0, hs + 2, 1, 0, 0), 0);
	ck_assert_str_eq(mesh__sb_str(&sb),
	                 "HTTP/1.1 200 OK\r\nX-A: a b\r\ncontent-length: 0\r\n\r\n");
	mesh__sb_truncate(&sb, 0);
	ck_assert_int_eq(mesh__h1_write_response_head(&sb, 299, "Custom Thing", 12, NULL, 0,
	                                              MESH_H1_BODY_CLOSE, MESH_H1_W_HTTP10),
	                 0);
	ck_assert_str_eq(mesh__sb_str(&sb),
	                 "HTTP/1.0 299 Custom Thing\r\nconnection: close\r\n\r\n");
	mesh__sb_truncate(&sb, 0);
	ck_assert_int_eq(mesh__h1_write_response_head(&sb, 404, NULL, 0, NULL, 0,
	                                              MESH_H1_BODY_CHUNKED, MESH_H1_W_KEEP_ALIVE),
	                 0);
	ck_assert_str_eq(mesh__sb_str(&sb),
	                 "HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n"
	                 "connection: keep-alive\r\n\r\n");
	mesh__sb_truncate(&sb, 0);
	ck_assert_int_eq(mesh__h1_write_response_head(&sb, 101, NULL, 0, NULL, 0, MESH_H1_BODY_NONE,
	                                              MESH_H1_W_UPGRADE),
	                 0);
	ck_assert_str_eq(mesh__sb_str(&sb),
	                 "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\n\r\n");
	mesh__sb_truncate(&sb, 0);
	ck_assert_int_eq(
		mesh__h1_write_response_head(&sb, 200, NULL, 0, NULL, 0, 9223372036854775807LL, 0),
		0);
	ck_assert_str_eq(mesh__sb_str(&sb),
	                 "HTTP/1.1 200 OK\r\ncontent-length: 9223372036854775807\r\n\r\n");
	mesh__sb_fini(&sb);
}
END_TEST

START_TEST(write_rejects_injection)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	const struct mesh__h1_header crlf[] = { { "X", 1, "a\r\nSet-Cookie: x", 16 } };
	const struct mesh__h1_header lf[] = { { "X", 1, "a\nb", 3 } };
	const struct mesh__h1_header nul[] = { { "X", 1, "a\0b", 3 } };
	const struct mesh__h1_header badname[] = { { "X Y", 3, "v", 1 } };
	const struct mesh__h1_header emptyname[] = { { "", 0, "v", 1 } };
	const struct mesh__h1_header *bad[] = { crlf, lf, nul, badname, emptyname };
	for (size_t i = 0; i < MESH_ARRAY_LEN(bad); i++) {
		ck_assert_int_eq(mesh__h1_write_request_head(&sb, "GET", 3, "/", 1, bad[i], 1,
		                                             MESH_H1_BODY_NONE, 0),
		                 MESH_EINVAL);
		ck_assert_int_eq(mesh__h1_write_response_head(&sb, 200, NULL, 0, bad[i], 1, 0, 0),
		                 MESH_EINVAL);
		ck_assert_int_eq(mesh__h1_write_last_chunk(&sb, bad[i], 1), MESH_EINVAL);
	}
	ck_assert_int_eq(mesh__h1_write_request_head(&sb, "G T", 3, "/", 1, NULL, 0, 0, 0),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh__h1_write_request_head(&sb, "GET", 3, "/a b", 4, NULL, 0, 0, 0),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh__h1_write_request_head(&sb, "GET", 3, "/a\r\n", 4, NULL, 0, 0, 0),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh__h1_write_request_head(&sb, "GET", 3, "", 0, NULL, 0, 0, 0),
	                 MESH_EINVAL);
	ck_assert_int_eq(
		mesh__h1_write_request_head(&sb, "GET", 3, "/", 1, NULL, 0, MESH_H1_BODY_CLOSE, 0),
		MESH_EINVAL);
	ck_assert_int_eq(mesh__h1_write_request_head(&sb, "GET", 3, "/", 1, NULL, 0, -4, 0),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh__h1_write_response_head(&sb, 99, NULL, 0, NULL, 0, 0, 0),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh__h1_write_response_head(&sb, 1000, NULL, 0, NULL, 0, 0, 0),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh__h1_write_response_head(&sb, 200, "O\r\nK", 4, NULL, 0, 0, 0),
	                 MESH_EINVAL);
	ck_assert_uint_eq(sb.len, 0); /* nothing was appended */
	mesh__sb_fini(&sb);
}
END_TEST

START_TEST(write_chunks)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	ck_assert_int_eq(mesh__h1_write_chunk(&sb, "hello", 5), 0);
	ck_assert_int_eq(mesh__h1_write_chunk(&sb, "", 0), 0);
	char big[300];
	memset(big, 'z', sizeof(big));
	ck_assert_int_eq(mesh__h1_write_chunk(&sb, big, sizeof(big)), 0);
	const struct mesh__h1_header tr[] = { { "grpc-status", 11, "0", 1 },
		                              { "Content-Length", 14, "5", 1 } };
	ck_assert_int_eq(mesh__h1_write_last_chunk(&sb, tr, 2), 0);
	const char *s = mesh__sb_str(&sb);
	ck_assert_int_eq(strncmp(s, "5\r\nhello\r\n12c\r\nzzz", 18), 0);
	ck_assert_str_eq(s + 10 + 5 + 300 + 2, "0\r\ngrpc-status: 0\r\n\r\n");
	mesh__sb_truncate(&sb, 0);
	ck_assert_int_eq(mesh__h1_write_last_chunk(&sb, NULL, 0), 0);
	ck_assert_str_eq(mesh__sb_str(&sb), "0\r\n\r\n");
	mesh__sb_fini(&sb);

	char hdr[MESH_H1_CHUNK_HEADER_MAX];
	ck_assert_uint_eq(mesh__h1_chunk_header(hdr, 1), 3);
	ck_assert_int_eq(memcmp(hdr, "1\r\n", 3), 0);
	ck_assert_uint_eq(mesh__h1_chunk_header(hdr, 0xabcdef), 8);
	ck_assert_int_eq(memcmp(hdr, "abcdef\r\n", 8), 0);
	ck_assert_uint_eq(mesh__h1_chunk_header(hdr, UINT64_MAX), 18);
	ck_assert_int_eq(memcmp(hdr, "ffffffffffffffff\r\n", 18), 0);
}
END_TEST

/* What the serializers write, the parser reads back to the same thing. */
START_TEST(write_then_parse)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	const struct mesh__h1_header hs[] = { { "Host", 4, "h", 1 }, { "X-A", 3, "1", 1 } };
	ck_assert_int_eq(mesh__h1_write_request_head(&sb, "POST", 4, "/x", 2, hs, 2,
	                                             MESH_H1_BODY_CHUNKED, 0),
	                 0);
	ck_assert_int_eq(mesh__h1_write_chunk(&sb, "abc", 3), 0);
	ck_assert_int_eq(mesh__h1_write_chunk(&sb, "defg", 4), 0);
	const struct mesh__h1_header tr[] = { { "x-t", 3, "v", 1 } };
	ck_assert_int_eq(mesh__h1_write_last_chunk(&sb, tr, 1), 0);
	ck_assert_int_eq(mesh__h1_write_request_head(&sb, "GET", 3, "/y", 2, hs, 1, 0, 0), 0);
	expect_log(MESH_H1_REQUEST, mesh__sb_str(&sb), NULL, false,
	           "request POST(3) /x form=0 scheme=(null) authority=h path=/x 1.1 "
	           "flags=0x8005 cl=-1 body=-1\n"
	           "  Host=h\n"
	           "  X-A=1\n"
	           "  transfer-encoding=chunked\n"
	           "body[7]:abcdefg\n"
	           "trailers 1\n"
	           "  x-t=v\n"
	           "end\n"
	           "request GET(1) /y form=0 scheme=(null) authority=h path=/y 1.1 "
	           "flags=0x8406 cl=0 body=0\n"
	           "  Host=h\n"
	           "  content-length=0\n"
	           "end\n"
	           "rc=0 state=0\n");
	mesh__sb_fini(&sb);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Allocation, strings                                                 */
/* ------------------------------------------------------------------ */

static int count_head(void *ud, const struct mesh__h1_head *h)
{
	(*(int *)ud)++;
	return 0;
}

static const struct mesh__h1_callbacks countcb = { .on_head = count_head };

START_TEST(no_allocation_when_parsing)
{
	static const char *const ins[] = {
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"),
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
		"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	};
	mesh__alloc_fail_after(0);
	int heads = 0;
	for (size_t i = 0; i < MESH_ARRAY_LEN(ins); i++) {
		struct mesh__h1_parser p;
		mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
		size_t len = strlen(ins[i]);
		/* whole, then byte by byte */
		long n = mesh__h1_parse(&p, ins[i], len, &countcb, &heads);
		ck_assert(n == (long)len || n == MESH_H1_E_CONTENT_LENGTH_MISMATCH);
		mesh__h1_parser_init(&p, MESH_H1_REQUEST, NULL);
		size_t off = 0, end = 1;
		while (end <= len) {
			n = mesh__h1_parse(&p, ins[i] + off, end - off, &countcb, &heads);
			if (n < 0)
				break;
			off += (size_t)n;
			end++;
		}
		(void)mesh__h1_parse_eof(&p, &countcb, &heads);
	}
	mesh__alloc_fail_after(-1);
	ck_assert_int_eq(heads, 6);

	/* the serializers report ENOMEM through the string buffer */
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__alloc_fail_after(0);
	ck_assert_int_eq(mesh__h1_write_request_head(&sb, "GET", 3, "/", 1, NULL, 0, 0, 0),
	                 MESH_ENOMEM);
	ck_assert_int_eq(mesh__h1_write_chunk(&sb, "x", 1), MESH_ENOMEM);
	ck_assert_int_eq(mesh__h1_write_last_chunk(&sb, NULL, 0), MESH_ENOMEM);
	mesh__alloc_fail_after(-1);
	mesh__sb_fini(&sb);
	for (long k = 0; k < 8; k++) {
		mesh__sb_init(&sb);
		mesh__alloc_fail_after(k);
		const struct mesh__h1_header hs[] = { { "Host", 4, "h", 1 } };
		int rc = mesh__h1_write_response_head(&sb, 200, NULL, 0, hs, 1, 5, 0);
		mesh__alloc_fail_after(-1);
		ck_assert(rc == 0 || rc == MESH_ENOMEM);
		if (rc == 0)
			ck_assert_str_eq(mesh__sb_str(&sb),
			                 "HTTP/1.1 200 OK\r\nHost: h\r\ncontent-length: 5\r\n\r\n");
		mesh__sb_fini(&sb);
	}
}
END_TEST

START_TEST(strings_and_statuses)
{
	for (int e = MESH_H1_E_CALLBACK; e >= MESH_H1_E_INCOMPLETE; e--) {
		ck_assert_str_ne(mesh__h1_strerror(e), "unknown error");
		int st = mesh__h1_error_status(e);
		ck_assert(st == 400 || st == 414 || st == 431 || st == 500 || st == 501 ||
		          st == 502 || st == 505);
	}
	ck_assert_str_eq(mesh__h1_strerror(0), "success");
	ck_assert_int_eq(mesh__h1_error_status(0), 0);
	ck_assert_str_eq(mesh__h1_strerror(-1000), "unknown error");
	ck_assert_str_eq(mesh__h1_strerror(5), "unknown error");
	ck_assert_str_eq(mesh__h1_strerror(MESH_H1_E_CL_AND_TE),
	                 "Content-Length and Transfer-Encoding together");
	ck_assert_str_eq(mesh__h1_reason_phrase(431), "Request Header Fields Too Large");
	ck_assert_str_eq(mesh__h1_reason_phrase(799), "Unknown");
	/* the parser is small enough to embed in every connection */
	ck_assert_uint_le(sizeof(struct mesh__h1_parser), 64);
}
END_TEST

static Suite *h1_suite(void)
{
	Suite *s = suite_create("h1");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, request_simple);
	tcase_add_test(tc, request_methods);
	tcase_add_test(tc, request_body_content_length);
	tcase_add_test(tc, request_chunked_ext_trailers);
	tcase_add_test(tc, request_pipelining);
	tcase_add_test(tc, pause_one_request_at_a_time);
	tcase_add_test(tc, callback_abort_is_sticky);
	tcase_add_test(tc, request_target_forms);
	tcase_add_test(tc, connect_and_upgrade_tunnels);
	tcase_add_test(tc, keep_alive_rules);
	tcase_add_test(tc, response_basic);
	tcase_add_test(tc, response_close_delimited);
	tcase_add_test(tc, response_no_body_cases);
	tcase_add_test(tc, response_tunnels);
	tcase_add_test(tc, response_expectation_set_in_on_end);
	tcase_add_test(tc, eof_handling);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, error_cases);
	tcase_add_test(tc, error_after_good_request);
	tcase_add_test(tc, limit_header_count);
	tcase_add_test(tc, limit_head_bytes);
	tcase_add_test(tc, limit_uri);
	tcase_add_test(tc, limit_chunk_line_and_ext);
	tcase_add_test(tc, limit_errors_do_not_depend_on_splits);
	tcase_add_test(tc, byte_at_a_time_is_linear);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_test(tc, hop_by_hop);
	tcase_add_test(tc, write_heads);
	tcase_add_test(tc, write_rejects_injection);
	tcase_add_test(tc, write_chunks);
	tcase_add_test(tc, write_then_parse);
	tcase_add_test(tc, no_allocation_when_parsing);
	tcase_add_test(tc, strings_and_statuses);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(h1_suite());
}
