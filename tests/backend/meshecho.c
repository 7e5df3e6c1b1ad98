/*
 * meshecho - the echo backend that libmesh's integration tests and benchmarks
 * put behind meshproxy. A test tool, not part of libmesh (it does not link it).
 *
 *   meshecho [--listen ADDR:PORT]... [--name NAME] [--threads N]
 *            [--h2c | --http1 | --tcp-echo] [--port-file FILE] [--verbose]
 *
 * Every port speaks HTTP/1.1 and, on the same port, HTTP/2 with prior knowledge
 * (h2c: the connection preface is detected). --h2c makes a port HTTP/2 only,
 * --http1 makes it HTTP/1.1 only, --tcp-echo makes it a raw TCP echo that
 * honours half-close. Given before any --listen, these set the mode of every
 * port; given after one, only of that port. ADDR:0 binds a free port; with
 * --port-file the bound ports are written there, one line per --listen, in
 * order (the file is written whole, then renamed into place).
 *
 * The default response is 200 with a JSON body echoing the request:
 *   {"name":..,"protocol":"HTTP/1.1"|"HTTP/2","method":..,"path":..,
 *    "authority":..,"headers":{..},"body_bytes":N}
 * Header names are lower-cased; repeated headers are joined with ", ".
 * "authority" is Host (HTTP/1.1) or :authority, else host (HTTP/2).
 * Query parameters, or request headers x-echo-<name>, control it:
 *   status=N       response status (200-599)
 *   delay=MS       respond after MS milliseconds (a timer: other requests go on)
 *   size=N         body of N bytes of 'x', generated as it is sent
 *   echo=1         the request body is the response body, streamed
 *   trailers=1     add trailers x-echo-trailer and x-echo-body-bytes
 *                  (HTTP/1.1: the response is chunked to carry them)
 *   close=1        close the connection after the response (HTTP/2: GOAWAY)
 *   header=N:V     add a response header (repeatable, up to 16)
 *   grpc-status=N  gRPC status for gRPC requests (default 0)
 * A request whose content-type is application/grpc* gets a gRPC response: the
 * request's length-prefixed messages are echoed and trailers carry
 * grpc-status (with grpc-message when it is not 0; then nothing is echoed).
 * Every response carries x-echo-name: NAME.
 *
 * With --threads N, N libev loops each accept on their own SO_REUSEPORT
 * sockets. SIGTERM and SIGINT exit 0. --verbose logs one line per request to
 * stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ev.h>
#include <nghttp2/nghttp2.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define INBUF_INIT 16384
#define INBUF_MAX (128 * 1024) /* largest request head */
#define OUT_HIGH (64 * 1024)   /* stop producing above this much unsent */
#define XCHUNK 16384
#define MAX_HDRS 128
#define MAX_EXTRA 16
#define EXTRA_BYTES 2048
#define HB_MAX (256 * 1024) /* HTTP/2 header bytes per stream */
#define ECHO_MAX (1024 * 1024)
#define LINGER_SEC 2.0
#define MAX_THREADS 64
#define MAX_LISTEN 32
#define FREE_MAX 1024
#define LOGLEN 200

enum { M_AUTO, M_H1, M_H2, M_TCP };
enum { B_NONE, B_CL, B_CHUNKED };
enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };
enum { R_JSON, R_SIZE, R_ECHO, R_DISCARD };

static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN 24

struct buf {
	char *p;
	size_t len, cap;
};

struct span {
	uint32_t off, len; /* off == UINT32_MAX: absent */
};

struct hoff {
	uint32_t n, nl, v, vl;
};

struct reqctl {
	int status, delay_ms, grpc_status;
	int64_t size; /* -1: none */
	bool echo, trailers, close, grpc;
	int nextra;
	size_t extra_len;
	struct {
		uint16_t n, nl, v, vl;
	} extra[MAX_EXTRA];
	char extrabuf[EXTRA_BYTES];
};

struct h1req {
	bool active, body_done, delay_done, resp_started, resp_done;
	bool resp_chunked, keepalive, nobody, minor0;
	int body_mode, chunk_state, rmode, ntrailers;
	uint64_t body_left, req_cl, body_bytes, gen_left, out_bytes;
	size_t head_scan;
	int loglen;
	char logbuf[LOGLEN];
	struct reqctl ctl;
};

struct worker;
struct stream;

struct conn {
	struct worker *w;
	int fd, mode;
	ev_io rio, wio;
	ev_timer tmr; /* HTTP/1 delay; lingering close */
	size_t rpos, opos;
	bool rd_eof, closing, lingering, dead, need_input, goaway;
	int nstreams;
	nghttp2_session *h2;
	struct stream *streams;
	struct conn *next; /* free list */
	struct h1req r;
	/* kept across reuse */
	struct buf in, out, json;
};

struct stream {
	struct conn *c;
	struct stream *prev, *next;
	int32_t id;
	int rmode, nh;
	struct span method, path, authority, host;
	size_t json_off, eb_off;
	uint64_t body_bytes, gen_left, out_bytes;
	bool headers_done, body_done, delay_done, responded, deferred, nobody;
	/* not cleared on reuse */
	struct reqctl ctl;
	struct hoff hdrs[MAX_HDRS];
	struct buf hb, json, eb;
	ev_timer tmr;
};

struct listener {
	ev_io io;
	ev_timer pause;
	struct worker *w;
	int mode;
};

struct worker {
	struct ev_loop *loop;
	ev_async stop;
	pthread_t th;
	struct listener ls[MAX_LISTEN];
	int nls;
	struct conn *free_conns;
	struct stream *free_streams;
	int nfree_conns, nfree_streams;
};

struct lspec {
	char host[256], port[16];
	int mode, bound;
	int fds[MAX_THREADS];
};

static struct {
	const char *name;
	int threads;
	bool verbose;
	const char *port_file;
	uint32_t max_streams; /* HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; 0: 1024 */
	struct lspec ls[MAX_LISTEN];
	int nls, default_mode;
	struct buf name_json, name_hdr;
} g;

static nghttp2_session_callbacks *g_cbs;
static nghttp2_option *g_opt;
static char g_x[XCHUNK];
static bool g_tchar[256];

/* ------------------------------------------------------------------ */
/* buffers */

static void die_oom(void)
{
	fputs("meshecho: out of memory\n", stderr);
	abort();
}

static void buf_reserve(struct buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return;
	size_t n = b->cap ? b->cap : 1024;
	while (n - b->len < extra)
		n *= 2;
	char *p = realloc(b->p, n);
	if (!p)
		die_oom();
	b->p = p;
	b->cap = n;
}

static inline void buf_add(struct buf *b, const void *d, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static inline void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static size_t fmt_u64(char *t, uint64_t v) /* t: at least 20 bytes */
{
	char tmp[24];
	int i = 24;
	do
		tmp[--i] = (char)('0' + v % 10);
	while ((v /= 10));
	memcpy(t, tmp + i, 24 - i);
	return 24 - i;
}

static size_t fmt_hex(char *t, uint64_t v)
{
	char tmp[24];
	int i = 24;
	do
		tmp[--i] = "0123456789abcdef"[v & 15];
	while ((v >>= 4));
	memcpy(t, tmp + i, 24 - i);
	return 24 - i;
}

static void buf_addu(struct buf *b, uint64_t v)
{
	char t[24];
	buf_add(b, t, fmt_u64(t, v));
}

static void buf_release(struct buf *b, size_t keep)
{
	b->len = 0;
	if (b->cap > keep) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
}

/* ------------------------------------------------------------------ */
/* JSON */

static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t l;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		l = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		l = 3;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		l = 4;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < l || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < l; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return l;
}

/* the escaped text of s, without quotes; invalid UTF-8 becomes U+FFFD */
static void json_esc(struct buf *b, const char *s, size_t n, bool lower)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;
	buf_reserve(b, n + 2);
	while (i < n) {
		size_t j = i;
		while (j < n) {
			unsigned char ch = (unsigned char)s[j];
			if (ch < 0x20 || ch >= 0x80 || ch == '"' || ch == '\\')
				break;
			j++;
		}
		if (j > i) {
			size_t at = b->len;
			buf_add(b, s + i, j - i);
			if (lower)
				for (size_t k = at; k < b->len; k++)
					if (b->p[k] >= 'A' && b->p[k] <= 'Z')
						b->p[k] = (char)(b->p[k] + 32);
		}
		if (j >= n)
			break;
		unsigned char ch = (unsigned char)s[j];
		if (ch == '"' || ch == '\\') {
			char e[2] = { '\\', (char)ch };
			buf_add(b, e, 2);
			i = j + 1;
		} else if (ch < 0x20) {
			char e[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };
			buf_add(b, e, 6);
			i = j + 1;
		} else {
			size_t l = utf8_len((const unsigned char *)s + j, n - j);
			if (l) {
				buf_add(b, s + j, l);
				i = j + l;
			} else {
				buf_add(b, "\\ufffd", 6);
				i = j + 1;
			}
		}
	}
}

static void json_str(struct buf *b, const char *s, size_t n)
{
	buf_add(b, "\"", 1);
	json_esc(b, s, n, false);
	buf_add(b, "\"", 1);
}

static void json_span(struct buf *b, const char *base, struct span sp)
{
	if (sp.off == UINT32_MAX)
		buf_add(b, "null", 4);
	else
		json_str(b, base + sp.off, sp.len);
}

static bool name_eq(const char *base, const struct hoff *a, const struct hoff *b)
{
	return a->nl == b->nl && strncasecmp(base + a->n, base + b->n, a->nl) == 0;
}

/* everything but body_bytes, which json_finish adds */
static void json_request(struct buf *j, const char *proto, const char *base, struct span method,
                         struct span path, struct span authority, const struct hoff *h, int nh)
{
	j->len = 0;
	buf_add(j, "{\"name\":", 8);
	buf_add(j, g.name_json.p, g.name_json.len);
	buf_adds(j, ",\"protocol\":\"");
	buf_adds(j, proto);
	buf_adds(j, "\",\"method\":");
	json_span(j, base, method);
	buf_adds(j, ",\"path\":");
	json_span(j, base, path);
	buf_adds(j, ",\"authority\":");
	json_span(j, base, authority);
	buf_adds(j, ",\"headers\":{");
	bool first = true;
	for (int i = 0; i < nh; i++) {
		bool dup = false;
		for (int k = 0; k < i && !dup; k++)
			dup = name_eq(base, &h[k], &h[i]);
		if (dup)
			continue;
		if (!first)
			buf_add(j, ",", 1);
		first = false;
		buf_add(j, "\"", 1);
		json_esc(j, base + h[i].n, h[i].nl, true);
		buf_add(j, "\":\"", 3);
		json_esc(j, base + h[i].v, h[i].vl, false);
		for (int k = i + 1; k < nh; k++)
			if (name_eq(base, &h[k], &h[i])) {
				buf_add(j, ", ", 2);
				json_esc(j, base + h[k].v, h[k].vl, false);
			}
		buf_add(j, "\"", 1);
	}
	buf_add(j, "},", 2);
}

static void json_finish(struct buf *j, uint64_t body_bytes)
{
	buf_adds(j, "\"body_bytes\":");
	buf_addu(j, body_bytes);
	buf_add(j, "}\n", 2);
}

/* ------------------------------------------------------------------ */
/* request controls */

static bool key_is(const char *k, size_t kl, const char *lit)
{
	size_t l = strlen(lit);
	return kl == l && strncasecmp(k, lit, l) == 0;
}

static bool parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_bool(const char *s, size_t n)
{
	return n == 0 || key_is(s, n, "1") || key_is(s, n, "true") || key_is(s, n, "yes") ||
	       key_is(s, n, "on") || key_is(s, n, "y");
}

static void ctl_reset(struct reqctl *r)
{
	r->status = 200;
	r->delay_ms = 0;
	r->grpc_status = 0;
	r->size = -1;
	r->echo = r->trailers = r->close = r->grpc = false;
	r->nextra = 0;
	r->extra_len = 0;
}

static void ctl_add_header(struct reqctl *r, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	if (!colon || colon == s)
		return;
	size_t nl = (size_t)(colon - s);
	for (size_t i = 0; i < nl; i++)
		if (!g_tchar[(unsigned char)s[i]])
			return;
	const char *v = colon + 1;
	size_t vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	for (size_t i = 0; i < vl; i++) {
		unsigned char ch = (unsigned char)v[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return;
	}
	if (r->nextra >= MAX_EXTRA || r->extra_len + nl + vl > EXTRA_BYTES)
		return;
	char *d = r->extrabuf + r->extra_len;
	for (size_t i = 0; i < nl; i++)
		d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	memcpy(d + nl, v, vl);
	r->extra[r->nextra].n = (uint16_t)r->extra_len;
	r->extra[r->nextra].nl = (uint16_t)nl;
	r->extra[r->nextra].v = (uint16_t)(r->extra_len + nl);
	r->extra[r->nextra].vl = (uint16_t)vl;
	r->nextra++;
	r->extra_len += nl + vl;
}

static void ctl_set(struct reqctl *r, const char *k, size_t kl, const char *v, size_t vl)
{
	uint64_t u;
	if (key_is(k, kl, "status")) {
		if (parse_u64(v, vl, 599, &u) && u >= 200)
			r->status = (int)u;
	} else if (key_is(k, kl, "delay")) {
		if (parse_u64(v, vl, 3600000, &u))
			r->delay_ms = (int)u;
	} else if (key_is(k, kl, "size")) {
		if (parse_u64(v, vl, (uint64_t)1 << 50, &u))
			r->size = (int64_t)u;
	} else if (key_is(k, kl, "echo"))
		r->echo = parse_bool(v, vl);
	else if (key_is(k, kl, "trailers"))
		r->trailers = parse_bool(v, vl);
	else if (key_is(k, kl, "close"))
		r->close = parse_bool(v, vl);
	else if (key_is(k, kl, "header"))
		ctl_add_header(r, v, vl);
	else if (key_is(k, kl, "grpc-status") || key_is(k, kl, "grpc_status")) {
		if (parse_u64(v, vl, 99, &u))
			r->grpc_status = (int)u;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* percent-decode s into dst; SIZE_MAX when it does not fit */
static size_t pct_decode(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			ch = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else if (ch == '+')
			ch = ' ';
		if (o >= cap)
			return SIZE_MAX;
		dst[o++] = ch;
	}
	return o;
}

static void parse_query(struct reqctl *r, const char *t, size_t n)
{
	const char *q = memchr(t, '?', n);
	if (!q)
		return;
	const char *e = t + n;
	q++;
	while (q < e) {
		const char *amp = memchr(q, '&', (size_t)(e - q));
		if (!amp)
			amp = e;
		const char *eq = memchr(q, '=', (size_t)(amp - q));
		const char *v = eq ? eq + 1 : amp;
		char kb[32], vb[1024];
		size_t kd = pct_decode(kb, sizeof kb, q, (size_t)((eq ? eq : amp) - q));
		size_t vd = pct_decode(vb, sizeof vb, v, (size_t)(amp - v));
		if (kd != SIZE_MAX && vd != SIZE_MAX)
			ctl_set(r, kb, kd, vb, vd);
		q = amp + 1;
	}
}

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 421: return "Misdirected Request";
	case 425: return "Too Early";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
	}
}

static const char *rmode_ctype(int rmode)
{
	switch (rmode) {
	case R_JSON: return "application/json";
	case R_SIZE: return "text/plain";
	default: return "application/octet-stream";
	}
}

/* ------------------------------------------------------------------ */
/* connections */

static void conn_update_io(struct conn *c);
static void h1_process(struct conn *c);
static void h2_input(struct conn *c);
static void h2_send(struct conn *c);
static void stream_free(struct stream *s);

static inline size_t pending(const struct conn *c)
{
	return c->out.len - c->opos;
}

static void out_reserve(struct conn *c, size_t n)
{
	if (c->out.cap - c->out.len < n && c->opos) {
		size_t p = pending(c);
		memmove(c->out.p, c->out.p + c->opos, p);
		c->out.len = p;
		c->opos = 0;
	}
	buf_reserve(&c->out, n);
}

static inline void out_add(struct conn *c, const void *d, size_t n)
{
	out_reserve(c, n);
	memcpy(c->out.p + c->out.len, d, n);
	c->out.len += n;
}

static inline void out_adds(struct conn *c, const char *s)
{
	out_add(c, s, strlen(s));
}

static void conn_write(struct conn *c)
{
	while (pending(c)) {
		ssize_t n = send(c->fd, c->out.p + c->opos, pending(c), MSG_NOSIGNAL);
		if (n > 0) {
			c->opos += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		c->dead = true;
		return;
	}
	if (!pending(c))
		c->opos = c->out.len = 0;
}

/* after output: start a closing connection's shutdown, set the watchers */
static void conn_finish(struct conn *c)
{
	if (c->dead)
		return;
	if (c->closing && !c->lingering && !pending(c)) {
		shutdown(c->fd, SHUT_WR);
		if (c->mode == M_TCP || c->rd_eof) {
			c->dead = true;
			return;
		}
		/* read until the peer closes, so that unread input does not
		 * turn into a reset that destroys the response in flight */
		c->lingering = true;
		ev_timer_stop(c->w->loop, &c->tmr);
		ev_timer_set(&c->tmr, LINGER_SEC, 0.);
		ev_timer_start(c->w->loop, &c->tmr);
	}
	conn_update_io(c);
}

static void conn_update_io(struct conn *c)
{
	struct ev_loop *loop = c->w->loop;
	size_t pend = pending(c);
	bool rd, wr = pend > 0;
	if (c->lingering) {
		rd = true;
		wr = false;
	} else if (c->rd_eof || c->closing || pend >= OUT_HIGH)
		rd = false;
	else if (c->mode == M_TCP)
		rd = true;
	else {
		size_t space = c->in.cap - (c->in.len - c->rpos);
		rd = space > 0 || (c->mode != M_H2 && !c->r.active && c->in.cap < INBUF_MAX);
	}
	if (rd)
		ev_io_start(loop, &c->rio);
	else
		ev_io_stop(loop, &c->rio);
	if (wr)
		ev_io_start(loop, &c->wio);
	else
		ev_io_stop(loop, &c->wio);
}

static void conn_free(struct conn *c)
{
	struct worker *w = c->w;
	ev_io_stop(w->loop, &c->rio);
	ev_io_stop(w->loop, &c->wio);
	ev_timer_stop(w->loop, &c->tmr);
	if (c->h2) {
		nghttp2_session_del(c->h2);
		c->h2 = NULL;
	}
	while (c->streams)
		stream_free(c->streams);
	close(c->fd);
	c->fd = -1;
	if (w->nfree_conns < FREE_MAX) {
		buf_release(&c->in, INBUF_INIT);
		buf_release(&c->out, 4 * OUT_HIGH);
		buf_release(&c->json, 16384);
		c->next = w->free_conns;
		w->free_conns = c;
		w->nfree_conns++;
	} else {
		free(c->in.p);
		free(c->out.p);
		free(c->json.p);
		free(c);
	}
}

static inline void conn_check(struct conn *c)
{
	if (c->dead)
		conn_free(c);
}

/* ------------------------------------------------------------------ */
/* HTTP/1.1 */

static void h1_error(struct conn *c, int status)
{
	struct h1req *r = &c->r;
	if (!r->resp_started) {
		r->resp_started = true;
		const char *why = reason(status);
		char num[24];
		out_adds(c, "HTTP/1.1 ");
		out_add(c, num, fmt_u64(num, (uint64_t)status));
		out_adds(c, " ");
		out_adds(c, why);
		out_adds(c,
		         "\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: ");
		out_add(c, num, fmt_u64(num, strlen(why) + 1));
		out_adds(c, "\r\n\r\n");
		out_adds(c, why);
		out_adds(c, "\n");
	}
	if (g.verbose)
		fprintf(stderr, "meshecho %s: HTTP/1.1 bad request: %d %s\n", g.name, status,
		        reason(status));
	c->closing = true;
}

/* the body bytes of a response, chunk-framed if need be */
static void h1_emit_body(struct conn *c, const char *p, size_t n)
{
	struct h1req *r = &c->r;
	if (!n)
		return;
	if (r->resp_chunked) {
		char hx[24];
		size_t hl = fmt_hex(hx, n);
		out_reserve(c, n + hl + 4);
		out_add(c, hx, hl);
		out_add(c, "\r\n", 2);
		out_add(c, p, n);
		out_add(c, "\r\n", 2);
	} else
		out_add(c, p, n);
	r->out_bytes += n;
}

/* 1: a request head was parsed; 0: more input needed; -1: error sent */
static int h1_parse_head(struct conn *c)
{
	struct h1req *r = &c->r;
	while (c->rpos < c->in.len && r->head_scan == 0 &&
	       (c->in.p[c->rpos] == '\r' || c->in.p[c->rpos] == '\n'))
		c->rpos++; /* empty lines before a request line */
	char *base = c->in.p + c->rpos;
	size_t avail = c->in.len - c->rpos;
	size_t ls = r->head_scan, end = 0;
	for (;;) {
		char *nl = ls < avail ? memchr(base + ls, '\n', avail - ls) : NULL;
		if (!nl)
			break;
		size_t le = (size_t)(nl - base);
		if (le == ls || (le == ls + 1 && base[ls] == '\r')) {
			end = le + 1;
			break;
		}
		ls = le + 1;
	}
	if (!end) {
		r->head_scan = ls;
		if (avail >= INBUF_MAX) {
			h1_error(c, 431);
			return -1;
		}
		c->need_input = true;
		return 0;
	}
	r->head_scan = 0;

	/* reset the request */
	ctl_reset(&r->ctl);
	r->body_done = r->delay_done = r->resp_started = r->resp_done = false;
	r->resp_chunked = r->nobody = r->minor0 = false;
	r->body_mode = B_NONE;
	r->chunk_state = CH_SIZE;
	r->ntrailers = 0;
	r->body_left = r->req_cl = r->body_bytes = r->gen_left = r->out_bytes = 0;
	r->loglen = 0;

	/* request line */
	char *p = base, *e = base + end;
	char *eol = memchr(p, '\n', (size_t)(e - p));
	size_t ll = (size_t)(eol - p);
	if (ll && p[ll - 1] == '\r')
		ll--;
	size_t i = 0;
	while (i < ll && g_tchar[(unsigned char)p[i]])
		i++;
	if (i == 0 || i >= ll || p[i] != ' ')
		goto bad;
	struct span method = { 0, (uint32_t)i };
	size_t ts = i + 1, j = ts;
	while (j < ll && p[j] != ' ') {
		unsigned char ch = (unsigned char)p[j];
		if (ch < 0x21 || ch == 0x7f)
			goto bad;
		j++;
	}
	if (j == ts || j >= ll)
		goto bad;
	struct span target = { (uint32_t)ts, (uint32_t)(j - ts) };
	const char *ver = p + j + 1;
	size_t vl = ll - j - 1;
	if (vl == 8 && memcmp(ver, "HTTP/1.", 7) == 0 && (ver[7] == '0' || ver[7] == '1'))
		r->minor0 = ver[7] == '0';
	else if (vl >= 5 && memcmp(ver, "HTTP/", 5) == 0) {
		h1_error(c, 505);
		return -1;
	} else
		goto bad;

	/* header fields */
	struct hoff hdrs[MAX_HDRS];
	int nh = 0;
	struct span authority = { UINT32_MAX, 0 };
	bool has_cl = false, chunked = false, has_te = false, conn_close = false, conn_ka = false;
	bool expect = false;
	uint64_t cl = 0;
	p = eol + 1;
	while (p < e) {
		eol = memchr(p, '\n', (size_t)(e - p));
		ll = (size_t)(eol - p);
		if (ll && p[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			break;
		if (p[0] == ' ' || p[0] == '\t')
			goto bad; /* obs-fold */
		i = 0;
		while (i < ll && g_tchar[(unsigned char)p[i]])
			i++;
		if (i == 0 || i >= ll || p[i] != ':')
			goto bad;
		size_t vs = i + 1, ve = ll;
		while (vs < ve && (p[vs] == ' ' || p[vs] == '\t'))
			vs++;
		while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
			ve--;
		for (size_t k = vs; k < ve; k++) {
			unsigned char ch = (unsigned char)p[k];
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				goto bad;
		}
		if (nh >= MAX_HDRS) {
			h1_error(c, 431);
			return -1;
		}
		const char *name = p, *val = p + vs;
		size_t nlen = i, vlen = ve - vs;
		hdrs[nh].n = (uint32_t)(p - base);
		hdrs[nh].nl = (uint32_t)nlen;
		hdrs[nh].v = (uint32_t)(val - base);
		hdrs[nh].vl = (uint32_t)vlen;
		nh++;
		switch (nlen) {
		case 4:
			if (!strncasecmp(name, "host", 4)) {
				authority.off = (uint32_t)(val - base);
				authority.len = (uint32_t)vlen;
			}
			break;
		case 6:
			if (!strncasecmp(name, "expect", 6) && key_is(val, vlen, "100-continue"))
				expect = true;
			break;
		case 10:
			if (!strncasecmp(name, "connection", 10)) {
				const char *t = val, *te = val + vlen;
				while (t < te) {
					const char *cm = memchr(t, ',', (size_t)(te - t));
					if (!cm)
						cm = te;
					const char *a = t, *b = cm;
					while (a < b && (*a == ' ' || *a == '\t'))
						a++;
					while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
						b--;
					if (key_is(a, (size_t)(b - a), "close"))
						conn_close = true;
					else if (key_is(a, (size_t)(b - a), "keep-alive"))
						conn_ka = true;
					t = cm + 1;
				}
			}
			break;
		case 14:
			if (!strncasecmp(name, "content-length", 14)) {
				uint64_t v;
				if (!parse_u64(val, vlen, (uint64_t)1 << 62, &v) ||
				    (has_cl && v != cl))
					goto bad;
				has_cl = true;
				cl = v;
			}
			break;
		case 17:
			if (!strncasecmp(name, "transfer-encoding", 17)) {
				if (has_te || !key_is(val, vlen, "chunked"))
					goto bad;
				has_te = chunked = true;
			}
			break;
		default:
			if (nlen > 7 && !strncasecmp(name, "x-echo-", 7))
				ctl_set(&r->ctl, name + 7, nlen - 7, val, vlen);
		}
		p = eol + 1;
	}
	if (has_cl && has_te)
		goto bad;

	const char *m = base + method.off;
	bool is_head = method.len == 4 && memcmp(m, "HEAD", 4) == 0;
	parse_query(&r->ctl, base + target.off, target.len);
	r->keepalive = r->minor0 ? (conn_ka && !conn_close) : !conn_close;
	if (r->ctl.close)
		r->keepalive = false;
	r->nobody = is_head || r->ctl.status == 204 || r->ctl.status == 304;
	r->rmode = (r->ctl.echo && !r->nobody) ? R_ECHO : r->ctl.size >= 0 ? R_SIZE : R_JSON;
	if (r->rmode == R_JSON)
		json_request(&c->json, "HTTP/1.1", base, method, target, authority, hdrs, nh);
	if (g.verbose) {
		size_t n = method.len + 1 + target.len;
		if (n > LOGLEN)
			n = LOGLEN;
		memcpy(r->logbuf, m, n);
		r->loglen = (int)n;
	}
	if (chunked)
		r->body_mode = B_CHUNKED;
	else if (cl > 0) {
		r->body_mode = B_CL;
		r->body_left = r->req_cl = cl;
	} else
		r->body_done = true;
	c->rpos += end;
	r->active = true;
	if (expect && !r->body_done && !r->minor0)
		out_adds(c, "HTTP/1.1 100 Continue\r\n\r\n");
	if (r->ctl.delay_ms > 0) {
		ev_now_update(c->w->loop);
		ev_timer_stop(c->w->loop, &c->tmr);
		ev_timer_set(&c->tmr, r->ctl.delay_ms / 1000.0, 0.);
		ev_timer_start(c->w->loop, &c->tmr);
	} else
		r->delay_done = true;
	return 1;
bad:
	h1_error(c, 400);
	return -1;
}

/* consume request body: 1 progress, 0 none, -1 error */
static int h1_body(struct conn *c)
{
	struct h1req *r = &c->r;
	int progress = 0;
	for (;;) {
		char *p = c->in.p + c->rpos;
		size_t avail = c->in.len - c->rpos;
		if (r->body_mode == B_CL || r->chunk_state == CH_DATA) {
			if (!avail) {
				c->need_input = true;
				return progress;
			}
			size_t n = avail < r->body_left ? avail : (size_t)r->body_left;
			if (r->rmode == R_ECHO) {
				size_t pend = pending(c);
				if (!r->resp_started || pend >= OUT_HIGH)
					return progress;
				if (n > OUT_HIGH - pend)
					n = OUT_HIGH - pend;
				h1_emit_body(c, p, n);
			}
			c->rpos += n;
			r->body_left -= n;
			r->body_bytes += n;
			progress = 1;
			if (r->body_left == 0) {
				if (r->body_mode == B_CL) {
					r->body_done = true;
					return 1;
				}
				r->chunk_state = CH_DATA_END;
			}
			continue;
		}
		if (!avail) {
			c->need_input = true;
			return progress;
		}
		if (r->chunk_state == CH_DATA_END) {
			if (p[0] == '\n')
				c->rpos += 1;
			else if (p[0] == '\r') {
				if (avail < 2) {
					c->need_input = true;
					return progress;
				}
				if (p[1] != '\n')
					goto bad;
				c->rpos += 2;
			} else
				goto bad;
			r->chunk_state = CH_SIZE;
			progress = 1;
			continue;
		}
		char *nl = memchr(p, '\n', avail);
		if (!nl) {
			if (avail > 4096)
				goto bad;
			c->need_input = true;
			return progress;
		}
		size_t ll = (size_t)(nl - p), adv = ll + 1;
		if (ll && p[ll - 1] == '\r')
			ll--;
		c->rpos += adv;
		progress = 1;
		if (r->chunk_state == CH_SIZE) {
			size_t i = 0;
			uint64_t v = 0;
			int d;
			while (i < ll && (d = hexval(p[i])) >= 0) {
				if (v >> 56)
					goto bad;
				v = v * 16 + (uint64_t)d;
				i++;
			}
			if (i == 0)
				goto bad;
			while (i < ll && (p[i] == ' ' || p[i] == '\t'))
				i++;
			if (i < ll && p[i] != ';')
				goto bad;
			if (v == 0)
				r->chunk_state = CH_TRAILER;
			else {
				r->chunk_state = CH_DATA;
				r->body_left = v;
			}
		} else { /* CH_TRAILER */
			if (ll == 0) {
				r->body_done = true;
				return 1;
			}
			if (++r->ntrailers > MAX_HDRS)
				goto bad;
		}
	}
bad:
	h1_error(c, 400);
	return -1;
}

static void h1_resp_start(struct conn *c)
{
	struct h1req *r = &c->r;
	struct reqctl *ctl = &r->ctl;
	uint64_t clen = 0;
	bool chunked = false;
	r->resp_started = true;
	switch (r->rmode) {
	case R_JSON:
		json_finish(&c->json, r->body_bytes);
		clen = c->json.len;
		chunked = ctl->trailers;
		break;
	case R_SIZE:
		clen = (uint64_t)ctl->size;
		chunked = ctl->trailers;
		break;
	default: /* R_ECHO */
		if (ctl->trailers || r->body_mode == B_CHUNKED)
			chunked = true;
		else
			clen = r->req_cl;
	}
	if (r->nobody)
		chunked = false;
	r->resp_chunked = chunked;

	char num[24];
	out_reserve(c, 256 + g.name_hdr.len + ctl->extra_len + 4 * (size_t)ctl->nextra);
	out_add(c, "HTTP/1.1 ", 9);
	out_add(c, num, fmt_u64(num, (uint64_t)ctl->status));
	out_add(c, " ", 1);
	out_adds(c, reason(ctl->status));
	out_add(c, "\r\ncontent-type: ", 16);
	out_adds(c, rmode_ctype(r->rmode));
	out_add(c, "\r\n", 2);
	if (ctl->status != 204 && ctl->status != 304) {
		if (chunked) {
			out_adds(c, "transfer-encoding: chunked\r\n");
			if (ctl->trailers)
				out_adds(c, "trailer: x-echo-trailer, x-echo-body-bytes\r\n");
		} else {
			out_adds(c, "content-length: ");
			out_add(c, num, fmt_u64(num, clen));
			out_add(c, "\r\n", 2);
		}
	}
	out_add(c, g.name_hdr.p, g.name_hdr.len);
	if (!r->keepalive)
		out_adds(c, "connection: close\r\n");
	else if (r->minor0)
		out_adds(c, "connection: keep-alive\r\n");
	for (int i = 0; i < ctl->nextra; i++) {
		out_add(c, ctl->extrabuf + ctl->extra[i].n, ctl->extra[i].nl);
		out_add(c, ": ", 2);
		out_add(c, ctl->extrabuf + ctl->extra[i].v, ctl->extra[i].vl);
		out_add(c, "\r\n", 2);
	}
	out_add(c, "\r\n", 2);
	if (r->nobody)
		return;
	if (r->rmode == R_JSON)
		h1_emit_body(c, c->json.p, c->json.len);
	else if (r->rmode == R_SIZE)
		r->gen_left = (uint64_t)ctl->size;
}

static bool h1_resp_produce(struct conn *c)
{
	struct h1req *r = &c->r;
	bool progress = false;
	while (r->gen_left && pending(c) < OUT_HIGH) {
		size_t n = r->gen_left < XCHUNK ? (size_t)r->gen_left : XCHUNK;
		h1_emit_body(c, g_x, n);
		r->gen_left -= n;
		progress = true;
	}
	if (r->gen_left || !r->body_done)
		return progress;
	if (r->resp_chunked) {
		out_add(c, "0\r\n", 3);
		if (r->ctl.trailers) {
			char num[24];
			out_adds(c, "x-echo-trailer: done\r\nx-echo-body-bytes: ");
			out_add(c, num, fmt_u64(num, r->body_bytes));
			out_add(c, "\r\n", 2);
		}
		out_add(c, "\r\n", 2);
	}
	r->resp_done = true;
	return true;
}

static void h1_log(struct conn *c)
{
	struct h1req *r = &c->r;
	if (g.verbose)
		fprintf(stderr, "meshecho %s: HTTP/1.1 %.*s -> %d in=%llu out=%llu\n", g.name,
		        r->loglen, r->logbuf, r->ctl.status, (unsigned long long)r->body_bytes,
		        (unsigned long long)r->out_bytes);
}

static void h1_step(struct conn *c)
{
	struct h1req *r = &c->r;
	for (;;) {
		if (c->closing || c->dead)
			return;
		if (!r->active) {
			if (pending(c) >= OUT_HIGH)
				return;
			if (h1_parse_head(c) <= 0)
				return;
		}
		bool progress = false;
		if (!r->body_done) {
			int rc = h1_body(c);
			if (rc < 0)
				return;
			progress = rc > 0;
		}
		if (!r->resp_started && r->delay_done && (r->rmode == R_ECHO || r->body_done)) {
			h1_resp_start(c);
			progress = true;
		}
		if (r->resp_started && !r->resp_done)
			progress |= h1_resp_produce(c);
		if (r->resp_done) {
			h1_log(c);
			r->active = r->resp_started = false;
			if (!r->keepalive) {
				c->closing = true;
				return;
			}
			continue;
		}
		if (!progress)
			return;
	}
}

static void h1_process(struct conn *c)
{
	c->need_input = false;
	for (;;) {
		h1_step(c);
		if (c->dead)
			return;
		size_t before = pending(c);
		conn_write(c);
		if (c->dead)
			return;
		/* go on only if output was what held the request back */
		if (c->closing || pending(c) || before < OUT_HIGH)
			break;
		c->need_input = false;
	}
	if (c->rd_eof && c->need_input)
		c->closing = true; /* the peer is gone before a request was whole */
	conn_finish(c);
}

/* ------------------------------------------------------------------ */
/* HTTP/2 */

static void stream_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

static struct stream *stream_new(struct conn *c, int32_t id)
{
	struct worker *w = c->w;
	struct stream *s = w->free_streams;
	if (s) {
		w->free_streams = s->next;
		w->nfree_streams--;
	} else {
		s = calloc(1, sizeof *s);
		if (!s)
			die_oom();
		ev_init(&s->tmr, stream_timer_cb);
		s->tmr.data = s;
	}
	memset(s, 0, offsetof(struct stream, ctl));
	ctl_reset(&s->ctl);
	s->hb.len = s->json.len = s->eb.len = 0;
	s->c = c;
	s->id = id;
	s->method.off = s->path.off = s->authority.off = s->host.off = UINT32_MAX;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	c->nstreams++;
	return s;
}

static void stream_free(struct stream *s)
{
	struct conn *c = s->c;
	struct worker *w = c->w;
	ev_timer_stop(w->loop, &s->tmr);
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	c->nstreams--;
	if (w->nfree_streams < FREE_MAX) {
		buf_release(&s->hb, 16384);
		buf_release(&s->json, 16384);
		buf_release(&s->eb, 128 * 1024);
		s->next = w->free_streams;
		w->free_streams = s;
		w->nfree_streams++;
	} else {
		free(s->hb.p);
		free(s->json.p);
		free(s->eb.p);
		free(s);
	}
}

#define NV(n, v, vl)                                                                               \
	((nghttp2_nv){ (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl), NGHTTP2_NV_FLAG_NONE })

static void h2_trailers(nghttp2_session *ses, struct stream *s)
{
	nghttp2_nv nv[4];
	size_t n = 0;
	char gs[24], bb[24];
	if (s->ctl.grpc) {
		nv[n++] = NV("grpc-status", gs, fmt_u64(gs, (uint64_t)s->ctl.grpc_status));
		if (s->ctl.grpc_status)
			nv[n++] = NV("grpc-message", "meshecho", 8);
	}
	if (s->ctl.trailers) {
		nv[n++] = NV("x-echo-trailer", "done", 4);
		nv[n++] = NV("x-echo-body-bytes", bb, fmt_u64(bb, s->body_bytes));
	}
	nghttp2_submit_trailer(ses, s->id, nv, n);
}

static ssize_t h2_read_cb(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t len,
                          uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct stream *s = src->ptr;
	size_t n = 0;
	bool eof = false;
	switch (s->rmode) {
	case R_JSON:
		n = s->json.len - s->json_off;
		if (n > len)
			n = len;
		memcpy(buf, s->json.p + s->json_off, n);
		s->json_off += n;
		eof = s->json_off == s->json.len;
		break;
	case R_SIZE:
		n = s->gen_left < len ? (size_t)s->gen_left : len;
		memset(buf, 'x', n);
		s->gen_left -= n;
		eof = s->gen_left == 0;
		break;
	case R_ECHO: {
		size_t avail = s->eb.len - s->eb_off;
		if (!avail) {
			if (!s->body_done) {
				s->deferred = true;
				return NGHTTP2_ERR_DEFERRED;
			}
			eof = true;
			break;
		}
		n = avail < len ? avail : len;
		memcpy(buf, s->eb.p + s->eb_off, n);
		s->eb_off += n;
		if (s->eb_off == s->eb.len)
			s->eb_off = s->eb.len = 0;
		nghttp2_session_consume(ses, id, n);
		eof = s->eb.len == 0 && s->body_done;
		break;
	}
	default: /* R_DISCARD */ eof = true;
	}
	s->out_bytes += n;
	if (eof) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (s->ctl.trailers || s->ctl.grpc) {
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			h2_trailers(ses, s);
		}
	}
	return (ssize_t)n;
}

static void h2_respond(struct stream *s)
{
	struct conn *c = s->c;
	nghttp2_nv nv[6 + MAX_EXTRA];
	size_t n = 0;
	char st[24], cl[24];
	int status = s->ctl.grpc ? 200 : s->ctl.status;
	s->responded = true;
	nv[n++] = NV(":status", st, fmt_u64(st, (uint64_t)status));
	if (s->ctl.grpc)
		nv[n++] = NV("content-type", "application/grpc", 16);
	else {
		const char *ct = rmode_ctype(s->rmode);
		nv[n++] = NV("content-type", ct, strlen(ct));
	}
	if (status != 204 && status != 304) {
		if (s->rmode == R_JSON) {
			json_finish(&s->json, s->body_bytes);
			nv[n++] = NV("content-length", cl, fmt_u64(cl, s->json.len));
		} else if (s->rmode == R_SIZE)
			nv[n++] = NV("content-length", cl, fmt_u64(cl, (uint64_t)s->ctl.size));
	}
	nv[n++] = NV("x-echo-name", g.name, strlen(g.name));
	for (int i = 0; i < s->ctl.nextra; i++) {
		nv[n] = NV("", s->ctl.extrabuf + s->ctl.extra[i].v, s->ctl.extra[i].vl);
		nv[n].name = (uint8_t *)s->ctl.extrabuf + s->ctl.extra[i].n;
		nv[n].namelen = s->ctl.extra[i].nl;
		n++;
	}
	nghttp2_data_provider dp;
	dp.source.ptr = s;
	dp.read_callback = h2_read_cb;
	if (s->rmode == R_SIZE)
		s->gen_left = (uint64_t)s->ctl.size;
	int rv = nghttp2_submit_response(c->h2, s->id, nv, n, s->nobody ? NULL : &dp);
	if (rv && g.verbose)
		fprintf(stderr, "meshecho %s: submit_response: %s\n", g.name, nghttp2_strerror(rv));
}

static void h2_maybe_respond(struct stream *s)
{
	if (s->responded || !s->headers_done || !s->delay_done)
		return;
	if (s->rmode != R_ECHO && s->rmode != R_DISCARD && !s->body_done)
		return;
	h2_respond(s);
}

static void h2_req_begin(struct stream *s)
{
	struct conn *c = s->c;
	const char *base = s->hb.p;
	s->headers_done = true;
	if (s->path.off != UINT32_MAX)
		parse_query(&s->ctl, base + s->path.off, s->path.len);
	bool is_head = s->method.off != UINT32_MAX && s->method.len == 4 &&
	               memcmp(base + s->method.off, "HEAD", 4) == 0;
	if (s->ctl.grpc)
		s->rmode = s->ctl.grpc_status == 0 ? R_ECHO : R_DISCARD;
	else {
		s->nobody = is_head || s->ctl.status == 204 || s->ctl.status == 304;
		s->rmode = (s->ctl.echo && !s->nobody) ? R_ECHO
		           : s->ctl.size >= 0          ? R_SIZE
		                                       : R_JSON;
	}
	if (s->rmode == R_JSON)
		json_request(&s->json, "HTTP/2", base, s->method, s->path,
		             s->authority.off != UINT32_MAX ? s->authority : s->host, s->hdrs,
		             s->nh);
	if (s->ctl.delay_ms > 0) {
		ev_now_update(c->w->loop);
		ev_timer_set(&s->tmr, s->ctl.delay_ms / 1000.0, 0.);
		ev_timer_start(c->w->loop, &s->tmr);
	} else
		s->delay_done = true;
}

static void stream_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct stream *s = t->data;
	struct conn *c = s->c;
	s->delay_done = true;
	h2_maybe_respond(s);
	h2_send(c);
	conn_check(c);
}

static int h2_begin_headers(nghttp2_session *ses, const nghttp2_frame *f, void *ud)
{
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct stream *s = stream_new(ud, f->hd.stream_id);
	nghttp2_session_set_stream_user_data(ses, f->hd.stream_id, s);
	return 0;
}

static int h2_header(nghttp2_session *ses, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct stream *s = nghttp2_session_get_stream_user_data(ses, f->hd.stream_id);
	if (!s)
		return 0;
	if (s->hb.len + nl + vl > HB_MAX)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	const char *n = (const char *)name, *v = (const char *)value;
	if (nl && n[0] == ':') {
		struct span *sp = NULL;
		if (key_is(n, nl, ":method"))
			sp = &s->method;
		else if (key_is(n, nl, ":path"))
			sp = &s->path;
		else if (key_is(n, nl, ":authority"))
			sp = &s->authority;
		if (sp) {
			sp->off = (uint32_t)s->hb.len;
			sp->len = (uint32_t)vl;
			buf_add(&s->hb, v, vl);
		}
		return 0;
	}
	if (s->nh >= MAX_HDRS)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	struct hoff *h = &s->hdrs[s->nh++];
	h->n = (uint32_t)s->hb.len;
	h->nl = (uint32_t)nl;
	buf_add(&s->hb, n, nl);
	h->v = (uint32_t)s->hb.len;
	h->vl = (uint32_t)vl;
	buf_add(&s->hb, v, vl);
	if (nl > 7 && memcmp(n, "x-echo-", 7) == 0)
		ctl_set(&s->ctl, n + 7, nl - 7, v, vl);
	else if (key_is(n, nl, "content-type") && vl >= 16 &&
	         strncasecmp(v, "application/grpc", 16) == 0 &&
	         (vl == 16 || v[16] == '+' || v[16] == ';'))
		s->ctl.grpc = true;
	else if (key_is(n, nl, "host")) {
		s->host.off = h->v;
		s->host.len = h->vl;
	}
	return 0;
}

static void stream_body_done(nghttp2_session *ses, struct stream *s)
{
	s->body_done = true;
	if (s->deferred) {
		s->deferred = false;
		nghttp2_session_resume_data(ses, s->id);
	}
}

static int h2_frame_recv(nghttp2_session *ses, const nghttp2_frame *f, void *ud)
{
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	struct stream *s = nghttp2_session_get_stream_user_data(ses, f->hd.stream_id);
	if (!s)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		h2_req_begin(s);
	if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
		stream_body_done(ses, s);
	h2_maybe_respond(s);
	return 0;
}

static int h2_data_chunk(nghttp2_session *ses, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
	struct stream *s = nghttp2_session_get_stream_user_data(ses, id);
	if (s)
		s->body_bytes += len;
	if (!s || s->rmode != R_ECHO) {
		nghttp2_session_consume(ses, id, len);
		return 0;
	}
	size_t held = s->eb.len - s->eb_off;
	if (held + len > ECHO_MAX) {
		nghttp2_session_consume(ses, id, len);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if (s->eb_off && s->eb.cap - s->eb.len < len) {
		memmove(s->eb.p, s->eb.p + s->eb_off, held);
		s->eb.len = held;
		s->eb_off = 0;
	}
	buf_add(&s->eb, data, len);
	if (s->deferred) {
		s->deferred = false;
		nghttp2_session_resume_data(ses, id);
	}
	return 0;
}

static int h2_stream_close(nghttp2_session *ses, int32_t id, uint32_t err, void *ud)
{
	struct conn *c = ud;
	struct stream *s = nghttp2_session_get_stream_user_data(ses, id);
	if (!s)
		return 0;
	size_t held = s->eb.len - s->eb_off;
	if (held)
		nghttp2_session_consume_connection(ses, held);
	if (g.verbose) {
		const char *b = s->hb.p;
		fprintf(stderr, "meshecho %s: HTTP/2 %.*s %.*s -> %d in=%llu out=%llu%s\n", g.name,
		        s->method.off != UINT32_MAX ? (int)s->method.len : 1,
		        s->method.off != UINT32_MAX ? b + s->method.off : "-",
		        s->path.off != UINT32_MAX
		                ? (int)(s->path.len < LOGLEN ? s->path.len : LOGLEN)
		                : 1,
		        s->path.off != UINT32_MAX ? b + s->path.off : "-",
		        s->ctl.grpc ? 200 : s->ctl.status, (unsigned long long)s->body_bytes,
		        (unsigned long long)s->out_bytes, err ? " (reset)" : "");
	}
	if (s->ctl.close)
		c->goaway = true;
	stream_free(s);
	return 0;
}

static void h2_start(struct conn *c)
{
	if (nghttp2_session_server_new2(&c->h2, g_cbs, c, g_opt))
		die_oom();
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
		                          g.max_streams ? g.max_streams : 1024 } };
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 1);
}

static void h2_send(struct conn *c)
{
	for (;;) {
		if (c->goaway) {
			c->goaway = false;
			nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
		}
		bool more = true;
		while (pending(c) < OUT_HIGH) {
			const uint8_t *d;
			ssize_t n = nghttp2_session_mem_send(c->h2, &d);
			if (n < 0) {
				c->dead = true;
				return;
			}
			if (n == 0) {
				more = false;
				break;
			}
			out_add(c, d, (size_t)n);
		}
		conn_write(c);
		if (c->dead)
			return;
		if ((!more && !c->goaway) || pending(c))
			break;
	}
	bool ww = nghttp2_session_want_write(c->h2);
	if (!ww && !nghttp2_session_want_read(c->h2))
		c->closing = true;
	if (c->rd_eof && !ww && !pending(c)) {
		/* the peer sent all it will: close when nothing can complete */
		bool waiting = false;
		for (struct stream *s = c->streams; s && !waiting; s = s->next)
			waiting = s->body_done && !s->responded;
		if (!waiting)
			c->closing = true;
	}
	conn_finish(c);
}

static void h2_input(struct conn *c)
{
	size_t avail = c->in.len - c->rpos;
	if (avail) {
		ssize_t rv =
			nghttp2_session_mem_recv(c->h2, (const uint8_t *)c->in.p + c->rpos, avail);
		if (rv < 0) {
			if (g.verbose)
				fprintf(stderr, "meshecho %s: HTTP/2: %s\n", g.name,
				        nghttp2_strerror((int)rv));
			c->dead = true;
			return;
		}
		c->rpos = c->in.len = 0;
	}
	h2_send(c);
}

/* ------------------------------------------------------------------ */
/* I/O callbacks */

static void conn_input(struct conn *c)
{
	if (c->mode == M_AUTO) {
		size_t avail = c->in.len - c->rpos;
		size_t n = avail < PREFACE_LEN ? avail : PREFACE_LEN;
		if (memcmp(c->in.p + c->rpos, PREFACE, n) != 0)
			c->mode = M_H1;
		else if (n < PREFACE_LEN) {
			if (c->rd_eof)
				c->dead = true;
			return;
		} else {
			c->mode = M_H2;
			h2_start(c);
		}
	}
	if (c->mode == M_H1)
		h1_process(c);
	else
		h2_input(c);
}

static void tcp_read(struct conn *c)
{
	if (pending(c) < OUT_HIGH) {
		out_reserve(c, 16384);
		ssize_t n = read(c->fd, c->out.p + c->out.len, c->out.cap - c->out.len);
		if (n > 0)
			c->out.len += (size_t)n;
		else if (n == 0)
			c->rd_eof = c->closing = true;
		else if (errno != EAGAIN && errno != EINTR) {
			c->dead = true;
			return;
		}
		conn_write(c);
		if (c->dead)
			return;
	}
	conn_finish(c);
}

static void conn_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct conn *c = io->data;
	if (c->mode == M_TCP) {
		tcp_read(c);
		conn_check(c);
		return;
	}
	if (c->lingering) {
		char tmp[16384];
		ssize_t n = read(c->fd, tmp, sizeof tmp);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			c->dead = true;
		conn_check(c);
		return;
	}
	size_t used = c->in.len - c->rpos;
	if (!used)
		c->rpos = c->in.len = 0;
	else if (c->rpos && c->in.len == c->in.cap) {
		memmove(c->in.p, c->in.p + c->rpos, used);
		c->in.len = used;
		c->rpos = 0;
	}
	if (c->in.len == c->in.cap) {
		if (c->mode != M_H2 && !c->r.active && c->in.cap < INBUF_MAX)
			buf_reserve(&c->in, c->in.cap);
		else {
			ev_io_stop(loop, &c->rio);
			return;
		}
	}
	ssize_t n = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
	if (n > 0)
		c->in.len += (size_t)n;
	else if (n == 0)
		c->rd_eof = true;
	else if (errno == EAGAIN || errno == EINTR)
		return;
	else
		c->dead = true;
	if (!c->dead)
		conn_input(c);
	conn_check(c);
}

static void conn_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct conn *c = io->data;
	conn_write(c);
	if (!c->dead) {
		if (c->mode == M_H1 && !c->closing)
			h1_process(c);
		else if (c->mode == M_H2 && !c->closing)
			h2_send(c);
		else
			conn_finish(c);
	}
	conn_check(c);
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct conn *c = t->data;
	if (c->lingering)
		c->dead = true;
	else if (c->mode == M_H1 && c->r.active) {
		c->r.delay_done = true;
		h1_process(c);
	}
	conn_check(c);
}

static void conn_new(struct worker *w, int fd, int mode)
{
	struct conn *c = w->free_conns;
	if (c) {
		w->free_conns = c->next;
		w->nfree_conns--;
	} else {
		c = calloc(1, sizeof *c);
		if (!c)
			die_oom();
	}
	struct buf in = c->in, out = c->out, json = c->json;
	memset(c, 0, offsetof(struct conn, r));
	memset(&c->r, 0, offsetof(struct h1req, loglen));
	c->in = in;
	c->out = out;
	c->json = json;
	c->in.len = c->out.len = c->json.len = 0;
	if (mode != M_TCP && c->in.cap < INBUF_INIT)
		buf_reserve(&c->in, INBUF_INIT);
	c->w = w;
	c->fd = fd;
	c->mode = mode;
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	ev_init(&c->tmr, conn_timer_cb);
	c->rio.data = c->wio.data = c->tmr.data = c;
	ev_io_start(w->loop, &c->rio);
	if (mode == M_H2) {
		h2_start(c);
		h2_send(c);
		conn_check(c);
	}
}

static void accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct listener *l = io->data;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				fprintf(stderr, "meshecho %s: accept: %s; pausing\n", g.name,
				        strerror(errno));
				ev_io_stop(loop, &l->io);
				ev_timer_start(loop, &l->pause);
			}
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		conn_new(l->w, fd, l->mode);
	}
}

static void pause_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct listener *l = t->data;
	ev_io_start(loop, &l->io);
}

static void stop_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	ev_run(w->loop, 0);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* setup */

static void usage(FILE *f)
{
	fputs("usage: meshecho [--listen ADDR:PORT]... [--name NAME] [--threads N]\n"
	      "                [--h2c | --http1 | --tcp-echo] [--port-file FILE] [--verbose]\n"
	      "\n"
	      "  --listen ADDR:PORT  listen there (repeatable; default 127.0.0.1:8080;\n"
	      "                      port 0 picks a free port; [::1]:PORT for IPv6)\n"
	      "  --name NAME         name in responses (x-echo-name, JSON \"name\")\n"
	      "  --threads N         N event loops on SO_REUSEPORT sockets (default 1)\n"
	      "  --h2c               HTTP/2 (prior knowledge) only\n"
	      "  --http1             HTTP/1.1 only\n"
	      "  --tcp-echo          raw TCP echo, honouring half-close\n"
	      "                      (the three modes apply to the --listen before them,\n"
	      "                      or to all ports when given before any --listen;\n"
	      "                      by default a port takes HTTP/1.1 and h2c)\n"
	      "  --port-file FILE    write the bound ports there, one line per --listen\n"
	      "  --max-streams N     HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (1024)\n"
	      "  --verbose           one line per request on stderr\n"
	      "\n"
	      "Query parameters or x-echo-<name> request headers: status=N delay=MS size=N\n"
	      "echo=1 trailers=1 close=1 header=NAME:VALUE grpc-status=N\n",
	      f);
}

static int set_mode(int m)
{
	if (g.nls == 0)
		g.default_mode = m;
	else
		g.ls[g.nls - 1].mode = m;
	return 0;
}

static int add_listen(const char *spec)
{
	if (g.nls >= MAX_LISTEN) {
		fprintf(stderr, "meshecho: too many --listen\n");
		return -1;
	}
	struct lspec *l = &g.ls[g.nls];
	const char *colon = strrchr(spec, ':');
	const char *host = spec, *port;
	size_t hl;
	if (!colon) { /* just a port */
		host = "127.0.0.1";
		hl = strlen(host);
		port = spec;
	} else {
		hl = (size_t)(colon - spec);
		port = colon + 1;
		if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
			host = spec + 1;
			hl -= 2;
		}
		if (hl == 0 || (hl == 1 && host[0] == '*')) {
			host = "0.0.0.0";
			hl = 7;
		}
	}
	uint64_t pv;
	if (hl >= sizeof l->host || !parse_u64(port, strlen(port), 65535, &pv)) {
		fprintf(stderr, "meshecho: bad --listen '%s' (want ADDR:PORT)\n", spec);
		return -1;
	}
	memcpy(l->host, host, hl);
	l->host[hl] = 0;
	snprintf(l->port, sizeof l->port, "%u", (unsigned)pv);
	l->mode = g.default_mode;
	g.nls++;
	return 0;
}

static int bind_one(const struct lspec *l, const char *port, bool reuseport)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int rv = getaddrinfo(l->host, port, &hints, &res);
	if (rv) {
		fprintf(stderr, "meshecho: %s: %s\n", l->host, gai_strerror(rv));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
		goto fail;
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0)
		goto fail;
	freeaddrinfo(res);
	return fd;
fail:
	fprintf(stderr, "meshecho: listen %s:%s: %s\n", l->host, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int write_port_file(void)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", g.port_file) >= (int)sizeof tmp)
		return -1;
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "meshecho: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	for (int i = 0; i < g.nls; i++)
		fprintf(f, "%d\n", g.ls[i].bound);
	if (fclose(f) != 0 || rename(tmp, g.port_file) != 0) {
		fprintf(stderr, "meshecho: %s: %s\n", g.port_file, strerror(errno));
		return -1;
	}
	return 0;
}

static void init_tables(void)
{
	for (int ch = 0; ch < 256; ch++)
		g_tchar[ch] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		              (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
	memset(g_x, 'x', sizeof g_x);
}

static void init_nghttp2(void)
{
	if (nghttp2_session_callbacks_new(&g_cbs) || nghttp2_option_new(&g_opt))
		die_oom();
	nghttp2_session_callbacks_set_on_begin_headers_callback(g_cbs, h2_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(g_cbs, h2_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(g_cbs, h2_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g_cbs, h2_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(g_cbs, h2_stream_close);
	nghttp2_option_set_no_auto_window_update(g_opt, 1);
}

int main(int argc, char **argv)
{
	static struct worker workers[MAX_THREADS];
	init_tables();
	g.name = "meshecho";
	g.threads = 1;
	g.default_mode = M_AUTO;

	for (int i = 1; i < argc; i++) {
		char opt[64];
		const char *a = argv[i], *val = NULL;
		const char *eq = strchr(a, '=');
		if (strncmp(a, "--", 2) == 0 && eq && (size_t)(eq - a) < sizeof opt) {
			memcpy(opt, a, (size_t)(eq - a));
			opt[eq - a] = 0;
			val = eq + 1;
		} else
			snprintf(opt, sizeof opt, "%s", a);
		bool takes = !strcmp(opt, "--listen") || !strcmp(opt, "--name") ||
		             !strcmp(opt, "--threads") || !strcmp(opt, "--port-file") ||
		             !strcmp(opt, "--max-streams");
		if (takes && !val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "meshecho: %s needs a value\n", opt);
				return 2;
			}
			val = argv[++i];
		} else if (!takes && val) {
			fprintf(stderr, "meshecho: %s takes no value\n", opt);
			return 2;
		}
		if (!strcmp(opt, "--listen")) {
			if (add_listen(val))
				return 2;
		} else if (!strcmp(opt, "--name"))
			g.name = val;
		else if (!strcmp(opt, "--threads")) {
			uint64_t n;
			if (!parse_u64(val, strlen(val), MAX_THREADS, &n) || n == 0) {
				fprintf(stderr, "meshecho: --threads wants 1..%d\n", MAX_THREADS);
				return 2;
			}
			g.threads = (int)n;
		} else if (!strcmp(opt, "--max-streams")) {
			uint64_t n;
			if (!parse_u64(val, strlen(val), 1u << 30, &n) || n == 0) {
				fprintf(stderr, "meshecho: --max-streams wants 1..2^30\n");
				return 2;
			}
			g.max_streams = (uint32_t)n;
		} else if (!strcmp(opt, "--port-file"))
			g.port_file = val;
		else if (!strcmp(opt, "--h2c"))
			set_mode(M_H2);
		else if (!strcmp(opt, "--http1"))
			set_mode(M_H1);
		else if (!strcmp(opt, "--tcp-echo"))
			set_mode(M_TCP);
		else if (!strcmp(opt, "--verbose") || !strcmp(opt, "-v"))
			g.verbose = true;
		else if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "meshecho: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	for (const char *p = g.name; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
			fprintf(stderr, "meshecho: --name must be printable ASCII\n");
			return 2;
		}
	if (g.nls == 0 && add_listen("127.0.0.1:8080"))
		return 2;
	json_str(&g.name_json, g.name, strlen(g.name));
	buf_adds(&g.name_hdr, "x-echo-name: ");
	buf_adds(&g.name_hdr, g.name);
	buf_adds(&g.name_hdr, "\r\n");
	init_nghttp2();

	/* bind every port in every thread; a port 0 is chosen by the first */
	for (int i = 0; i < g.nls; i++) {
		struct lspec *l = &g.ls[i];
		const char *port = l->port;
		char pbuf[16];
		for (int t = 0; t < g.threads; t++) {
			l->fds[t] = bind_one(l, port, g.threads > 1);
			if (l->fds[t] < 0)
				return 1;
			if (t == 0) {
				l->bound = bound_port(l->fds[0]);
				snprintf(pbuf, sizeof pbuf, "%d", l->bound);
				port = pbuf;
			}
		}
		if (g.verbose)
			fprintf(stderr, "meshecho %s: listening on %s port %d (%s)\n", g.name,
			        l->host, l->bound,
			        l->mode == M_TCP  ? "tcp echo"
			        : l->mode == M_H2 ? "h2c"
			        : l->mode == M_H1 ? "http/1.1"
			                          : "http/1.1 + h2c");
	}

	signal(SIGPIPE, SIG_IGN);
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);

	for (int t = 0; t < g.threads; t++) {
		struct worker *w = &workers[t];
		w->loop = ev_loop_new(EVFLAG_AUTO);
		if (!w->loop) {
			fprintf(stderr, "meshecho: cannot create an event loop\n");
			return 1;
		}
		ev_async_init(&w->stop, stop_cb);
		ev_async_start(w->loop, &w->stop);
		w->nls = g.nls;
		for (int i = 0; i < g.nls; i++) {
			struct listener *l = &w->ls[i];
			l->w = w;
			l->mode = g.ls[i].mode;
			ev_io_init(&l->io, accept_cb, g.ls[i].fds[t], EV_READ);
			l->io.data = l;
			ev_timer_init(&l->pause, pause_cb, 0.1, 0.);
			l->pause.data = l;
			ev_io_start(w->loop, &l->io);
		}
	}
	if (g.port_file && write_port_file())
		return 1;
	for (int t = 0; t < g.threads; t++)
		if (pthread_create(&workers[t].th, NULL, worker_main, &workers[t])) {
			fprintf(stderr, "meshecho: cannot start a thread\n");
			return 1;
		}

	int sig = 0;
	sigwait(&ss, &sig);
	if (g.verbose)
		fprintf(stderr, "meshecho %s: signal %d, exiting\n", g.name, sig);
	for (int t = 0; t < g.threads; t++)
		ev_async_send(workers[t].loop, &workers[t].stop);
	for (int t = 0; t < g.threads; t++)
		pthread_join(workers[t].th, NULL);
	for (int i = 0; i < g.nls; i++)
		for (int t = 0; t < g.threads; t++)
			close(g.ls[i].fds[t]);
	return 0;
}
