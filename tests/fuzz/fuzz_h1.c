/*
 * fuzz_h1.c - libFuzzer target for the HTTP/1.1 codec. Each input is
 * parsed three ways - whole, in pseudo-random pieces with callbacks that
 * pause at random, and one byte at a time - the way the engine drives the
 * parser (unconsumed bytes passed again), and the three runs must report
 * the same events and the same result. Every head is checked (pointers
 * inside the input, names are tokens, values clean, flags consistent) and
 * re-serialized with the writers; what they write must parse back to the
 * same head.
 *
 * Input starting with "HTTP/" goes to a response parser, anything else to
 * a request parser. The input's length picks the request method a
 * response answers (none, HEAD, CONNECT) and default or small limits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../libmesh/src/http/h1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static const struct mesh__h1_limits small_limits = {
	.max_head_bytes = 512,
	.max_headers = 8,
	.max_start_line = 128,
	.max_chunk_line = 64,
	.max_chunk_ext = 128,
};

struct run {
	int type;
	int expect; /* 0, 1 HEAD, 2 CONNECT */
	const struct mesh__h1_limits *lim;
	uint64_t hash;
	bool in_body;
	uint32_t rng;
	bool random_pause;
	bool roundtrip;
	const char *lo, *hi; /* the buffer being parsed */
	unsigned events;
	uint64_t body_bytes;
};

static void hash(struct run *r, const void *p, size_t n)
{
	const unsigned char *u = p;
	for (size_t i = 0; i < n; i++) {
		r->hash ^= u[i];
		r->hash *= 0x100000001b3ULL;
	}
}

static void hash_u(struct run *r, uint64_t v)
{
	hash(r, &v, sizeof(v));
}

static void mark(struct run *r, char c)
{
	r->in_body = false;
	hash(r, &c, 1);
}

static uint32_t next_rng(struct run *r)
{
	r->rng = r->rng * 1103515245u + 12345u;
	return r->rng >> 16;
}

static int maybe_pause(struct run *r)
{
	return r->random_pause && (next_rng(r) & 3) == 0;
}

static bool inside(const struct run *r, const char *p, size_t n)
{
	return p >= r->lo && p + n <= r->hi;
}

static bool is_token(const char *s, size_t n)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		          (c && strchr(extra, c));
		if (!ok)
			return false;
	}
	return true;
}

static void check_fields(const struct run *r, const struct mesh__h1_header *h, size_t n)
{
	CHECK(n <= r->lim->max_headers || (r->lim->max_headers == 0 && n <= 100));
	for (size_t i = 0; i < n; i++) {
		CHECK(inside(r, h[i].name, h[i].name_len));
		CHECK(is_token(h[i].name, h[i].name_len));
		CHECK(h[i].value_len == 0 || inside(r, h[i].value, h[i].value_len));
		for (size_t k = 0; k < h[i].value_len; k++) {
			unsigned char c = (unsigned char)h[i].value[k];
			CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
		}
		if (h[i].value_len) {
			char a = h[i].value[0], z = h[i].value[h[i].value_len - 1];
			CHECK(a != ' ' && a != '\t' && z != ' ' && z != '\t');
		}
	}
}

/* Hash what a head says, so that runs can be compared. */
static void hash_head(struct run *r, const struct mesh__h1_head *h)
{
	mark(r, 'H');
	hash_u(r, (uint64_t)h->version_minor);
	hash_u(r, h->flags);
	hash_u(r, (uint64_t)h->method_id);
	hash(r, h->method ? h->method : "", h->method_len);
	hash(r, h->target ? h->target : "", h->target_len);
	hash_u(r, (uint64_t)h->target_form);
	hash(r, h->authority ? h->authority : "-", h->authority ? h->authority_len : 1);
	hash(r, h->path ? h->path : "-", h->path ? h->path_len : 1);
	hash_u(r, (uint64_t)h->status);
	hash(r, h->reason ? h->reason : "", h->reason_len);
	hash_u(r, (uint64_t)h->content_length);
	hash_u(r, (uint64_t)h->body);
	hash_u(r, h->n_headers);
	for (size_t i = 0; i < h->n_headers; i++) {
		hash(r, h->headers[i].name, h->headers[i].name_len);
		hash(r, ":", 1);
		hash(r, h->headers[i].value, h->headers[i].value_len);
	}
}

/* Framing and flags that must agree with each other. */
static void check_head(const struct run *r, const struct mesh__h1_head *h)
{
	unsigned f = h->flags;
	CHECK(h->version_minor == 0 || h->version_minor == 1);
	check_fields(r, h->headers, h->n_headers);
	CHECK(h->body >= MESH_H1_BODY_CLOSE);
	CHECK(!!(f & MESH_H1_F_NO_BODY) == (h->body == MESH_H1_BODY_NONE || h->body == 0));
	CHECK(!!(f & MESH_H1_F_CLOSE_DELIMITED) == (h->body == MESH_H1_BODY_CLOSE));
	if (h->body == MESH_H1_BODY_CHUNKED)
		CHECK(f & MESH_H1_F_CHUNKED);
	if (h->body >= 0)
		CHECK(h->body == h->content_length);
	if (f & MESH_H1_F_CONTENT_LENGTH)
		CHECK(h->content_length >= 0);
	else
		CHECK(h->content_length == -1);
	CHECK(!((f & MESH_H1_F_CHUNKED) && (f & MESH_H1_F_CONTENT_LENGTH)));
	if ((f & MESH_H1_F_TUNNEL) && !(f & MESH_H1_F_UPGRADE && r->type == MESH_H1_REQUEST))
		CHECK(f & MESH_H1_F_NO_BODY); /* an upgrade request may have a body first */
	if (r->type == MESH_H1_REQUEST) {
		CHECK(h->method && inside(r, h->method, h->method_len));
		CHECK(is_token(h->method, h->method_len));
		CHECK(inside(r, h->target, h->target_len) && h->target_len > 0);
		CHECK(h->body != MESH_H1_BODY_CLOSE);
		if (h->version_minor == 1)
			CHECK(f & MESH_H1_F_HAS_HOST);
		if (h->method_id == MESH_H1_M_CONNECT)
			CHECK(h->target_form == MESH_H1_T_AUTHORITY && (f & MESH_H1_F_TUNNEL));
		else
			CHECK(h->path && h->path_len > 0);
		if (h->path && h->path_len > 1)
			CHECK(inside(r, h->path, h->path_len));
		if (h->authority && h->authority_len)
			CHECK(inside(r, h->authority, h->authority_len));
		for (size_t i = 0; i < h->target_len; i++) {
			unsigned char c = (unsigned char)h->target[i];
			CHECK(c > 0x20 && c < 0x7f && c != '#');
		}
	} else {
		CHECK(h->status >= 100 && h->status <= 599);
		CHECK(h->method == NULL);
		if (h->status < 200 || h->status == 204 || h->status == 304 ||
		    (f & MESH_H1_F_HEAD_RESPONSE))
			CHECK(h->body == MESH_H1_BODY_NONE);
		if (f & MESH_H1_F_INTERIM)
			CHECK(h->status < 200 && h->status != 101);
	}
}

/* The writers' output for @h parses back to the same head. */
struct rt {
	const struct mesh__h1_head *orig;
	int seen;
};

static size_t nonframing(const struct mesh__h1_head *h, struct mesh__h1_header *out)
{
	size_t n = 0;
	for (size_t i = 0; i < h->n_headers; i++) {
		const struct mesh__h1_header *x = &h->headers[i];
		if (mesh__h1_name_eq(x->name, x->name_len, "content-length") ||
		    mesh__h1_name_eq(x->name, x->name_len, "transfer-encoding"))
			continue;
		out[n++] = *x;
	}
	return n;
}

static int rt_head(void *ud, const struct mesh__h1_head *h)
{
	struct rt *t = ud;
	const struct mesh__h1_head *o = t->orig;
	struct mesh__h1_header a[MESH_H1_MAX_HEADERS_CAP], b[MESH_H1_MAX_HEADERS_CAP];
	size_t na = nonframing(o, a), nb = nonframing(h, b);
	unsigned mask = ~(unsigned)MESH_H1_F_CONTENT_LENGTH;
	t->seen++;
	if (o->body == MESH_H1_BODY_CLOSE) {
		/* the writer adds "connection: close" to a close-delimited body */
		CHECK(nb == na + 1);
		CHECK(mesh__h1_name_eq(b[na].name, b[na].name_len, "connection"));
		nb--;
		mask &= ~(unsigned)MESH_H1_F_CONN_CLOSE;
	}
	CHECK(na == nb);
	for (size_t i = 0; i < na; i++) {
		CHECK(a[i].name_len == b[i].name_len && a[i].value_len == b[i].value_len);
		CHECK(memcmp(a[i].name, b[i].name, a[i].name_len) == 0);
		CHECK(memcmp(a[i].value, b[i].value, a[i].value_len) == 0);
	}
	CHECK((h->flags & mask) == (o->flags & mask));
	CHECK(h->body == o->body);
	CHECK(h->version_minor == o->version_minor);
	CHECK(h->status == o->status);
	CHECK(h->method_len == o->method_len && h->target_len == o->target_len);
	if (o->method) {
		CHECK(memcmp(h->method, o->method, o->method_len) == 0);
		CHECK(memcmp(h->target, o->target, o->target_len) == 0);
	}
	if (o->reason_len)
		CHECK(h->reason_len == o->reason_len &&
		      memcmp(h->reason, o->reason, o->reason_len) == 0);
	return 1;
}

static void roundtrip(const struct run *r, const struct mesh__h1_head *h)
{
	static const struct mesh__h1_callbacks cb = { .on_head = rt_head };
	struct mesh__h1_header hs[MESH_H1_MAX_HEADERS_CAP];
	size_t n = nonframing(h, hs);
	unsigned wf = h->version_minor == 0 ? MESH_H1_W_HTTP10 : 0;
	int64_t body = h->body;
	struct mesh__sb sb;
	int rc;
	mesh__sb_init(&sb);
	if (r->type == MESH_H1_REQUEST)
		rc = mesh__h1_write_request_head(&sb, h->method, h->method_len, h->target,
		                                 h->target_len, hs, n, body, wf);
	else
		rc = mesh__h1_write_response_head(&sb, h->status, h->reason ? h->reason : "",
		                                  h->reason_len, hs, n, body, wf);
	CHECK(rc == 0);
	/* the framing field the writer adds may push a head that was at the
	 * limit past it: parse back with room to spare */
	struct mesh__h1_limits lim = *r->lim;
	lim.max_head_bytes = MESH_H1_MAX_HEAD_BYTES_CAP;
	lim.max_start_line = MESH_H1_MAX_HEAD_BYTES_CAP;
	/* and "connection: close" may add one field */
	lim.max_headers = (lim.max_headers ? lim.max_headers : MESH_H1_DEFAULT_MAX_HEADERS) + 1;
	struct mesh__h1_parser p;
	mesh__h1_parser_init(&p, r->type, &lim);
	/* the expectation in effect for this response (it ends with a final
	 * response) */
	if (h->flags & MESH_H1_F_HEAD_RESPONSE)
		mesh__h1_parser_expect_head(&p);
	else if (r->type == MESH_H1_RESPONSE && (h->flags & MESH_H1_F_CONNECT))
		mesh__h1_parser_set_request_method(&p, "CONNECT", 7);
	struct rt t = { .orig = h };
	long got = mesh__h1_parse(&p, sb.buf, sb.len, &cb, &t);
	if (got < 0)
		fprintf(stderr, "round trip: %s\n%.*s\n", mesh__h1_strerror((int)got), (int)sb.len,
		        sb.buf);
	CHECK(got > 0 && t.seen == 1);
	mesh__sb_fini(&sb);
}

static int on_head(void *ud, const struct mesh__h1_head *h)
{
	struct run *r = ud;
	r->events++;
	check_head(r, h);
	hash_head(r, h);
	if (r->roundtrip)
		roundtrip(r, h);
	return maybe_pause(r);
}

static int on_body(void *ud, const char *d, size_t n)
{
	struct run *r = ud;
	r->events++;
	CHECK(n > 0 && inside(r, d, n));
	if (!r->in_body) {
		mark(r, 'B');
		r->in_body = true;
	}
	hash(r, d, n);
	r->body_bytes += n;
	return maybe_pause(r);
}

static int on_trailers(void *ud, const struct mesh__h1_header *t, size_t n)
{
	struct run *r = ud;
	r->events++;
	CHECK(n > 0);
	check_fields(r, t, n);
	mark(r, 'T');
	for (size_t i = 0; i < n; i++) {
		hash(r, t[i].name, t[i].name_len);
		hash(r, t[i].value, t[i].value_len);
	}
	return maybe_pause(r);
}

static int on_end(void *ud)
{
	struct run *r = ud;
	r->events++;
	mark(r, 'E');
	return maybe_pause(r);
}

static const struct mesh__h1_callbacks callbacks = {
	.on_head = on_head,
	.on_body = on_body,
	.on_trailers = on_trailers,
	.on_end = on_end,
};

enum { WHOLE, PIECES, BYTES };

static uint64_t run(const uint8_t *data, size_t size, int mode, int type, int expect,
                    const struct mesh__h1_limits *lim, char *pend)
{
	struct run r = { .type = type, .expect = expect, .lim = lim };
	struct mesh__h1_parser p;
	size_t plen = 0, off = 0;
	long rc = 0;
	r.hash = 0xcbf29ce484222325ULL;
	r.rng = (uint32_t)size * 2654435761u;
	r.random_pause = mode == PIECES;
	r.roundtrip = mode == WHOLE;
	mesh__h1_parser_init(&p, type, lim);
	if (expect == 1)
		mesh__h1_parser_expect_head(&p);
	else if (expect == 2)
		mesh__h1_parser_set_request_method(&p, "CONNECT", 7);

	for (;;) {
		size_t k = size - off;
		if (mode == BYTES && k > 1)
			k = 1;
		else if (mode == PIECES && k > 1)
			k = 1 + next_rng(&r) % (k < 97 ? k : 97);
		memcpy(pend + plen, data + off, k);
		plen += k;
		off += k;
		unsigned before = r.events;
		r.lo = pend;
		r.hi = pend + plen;
		long n = mesh__h1_parse(&p, pend, plen, &callbacks, &r);
		if (n < 0) {
			CHECK(mesh__h1_parser_state(&p) == MESH_H1_ERROR);
			CHECK(mesh__h1_parser_error(&p) == n);
			CHECK(mesh__h1_parse(&p, pend, plen, &callbacks, &r) == n); /* sticky */
			int st = mesh__h1_error_status((int)n);
			CHECK(st >= 400 && st <= 505);
			CHECK(strcmp(mesh__h1_strerror((int)n), "unknown error") != 0);
			rc = n;
			break;
		}
		CHECK((size_t)n <= plen);
		memmove(pend, pend + n, plen - (size_t)n);
		plen -= (size_t)n;
		int st = mesh__h1_parser_state(&p);
		if (st == MESH_H1_TUNNEL && type == MESH_H1_REQUEST) {
			mark(&r, 'U');
			CHECK(mesh__h1_parser_resume(&p) == 0);
			continue;
		}
		if (st == MESH_H1_TUNNEL || st == MESH_H1_CLOSED) {
			/* nothing more is parsed: the rest stays unconsumed */
			CHECK(mesh__h1_parse(&p, pend, plen, &callbacks, &r) == 0);
			plen += size - off;
			break;
		}
		if (off == size && n == 0 && r.events == before)
			break; /* no progress and nothing more to give */
	}
	if (rc == 0)
		rc = mesh__h1_parse_eof(&p, &callbacks, &r);
	mark(&r, 'R');
	hash_u(&r, (uint64_t)rc);
	hash_u(&r, (uint64_t)mesh__h1_parser_state(&p));
	if (rc == 0) /* at an error, how much had arrived depends on the split */
		hash_u(&r, plen);
	hash_u(&r, r.body_bytes);
	return r.hash;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256 * 1024)
		return 0;
	int type = size >= 5 && memcmp(data, "HTTP/", 5) == 0 ? MESH_H1_RESPONSE : MESH_H1_REQUEST;
	int expect = (int)(size % 3);
	static const struct mesh__h1_limits defaults = { 0 };
	const struct mesh__h1_limits *lim = (size / 3) % 2 ? &small_limits : &defaults;
	char *pend = malloc(size + 1);
	if (!pend)
		return 0;
	uint64_t a = run(data, size, WHOLE, type, expect, lim, pend);
	uint64_t b = run(data, size, PIECES, type, expect, lim, pend);
	CHECK(a == b);
	if (size <= 8192) {
		uint64_t c = run(data, size, BYTES, type, expect, lim, pend);
		CHECK(a == c);
	}
	free(pend);

	/* the helpers take any bytes */
	(void)mesh__h1_is_hop_header((const char *)data, size < 64 ? size : 64, NULL);
	(void)mesh__h1_is_forbidden_trailer((const char *)data, size < 64 ? size : 64);
	return 0;
}
