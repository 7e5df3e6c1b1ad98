/*
 * bookinfo - Istio's bookinfo sample as one small C program, for the libmesh
 * demo. One process plays one role (productpage, details, reviews or
 * ratings) in one version. It speaks plain HTTP/1.1 to its sidecar and knows
 * nothing of the mesh: no TLS, no service discovery. The addresses of the
 * services it calls are its sidecar's local ports, given by flags. It does
 * not link libmesh.
 *
 *   productpage  GET /productpage: calls details (/details/0) and reviews
 *                (/reviews/0) and answers JSON holding both answers (HTML
 *                when the client accepts text/html)
 *   details      GET /details/ID: the book's details
 *   reviews      GET /reviews/ID: two reviews; v1 without stars, v2 and v3
 *                call ratings (/ratings/ID) and show black (v2) or red (v3)
 *                stars
 *   ratings      GET /ratings/ID: the stars of each reviewer
 *
 * Every role answers GET /health, and every JSON answer carries "peer": the
 * caller's SPIFFE ID taken from the x-forwarded-client-cert header that the
 * inbound sidecar adds under mutual TLS (null in plain text), and "xfcc", the
 * header itself. productpage forwards the cookie, x-request-id and trace
 * headers (b3, x-b3-*, traceparent) to the services it calls, and reviews
 * forwards them to ratings, as Istio's sample does: the route for jason
 * needs the cookie, and tracing needs the ids.
 *
 * One thread per client connection (at most MAX_CONNS; HTTP/1.1 keep-alive),
 * and one connection per call to a sidecar, closed after the answer: the
 * sidecar keeps the pooled connections, which is its job, not the app's.
 * Requests are bounded (head 16 KiB, 100 fields, body 64 KiB) and anything
 * malformed is answered 400 and the connection closed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 16384       /* request or response head */
#define FIELDS_MAX 100       /* header fields per request */
#define BODY_MAX 65536       /* request body (discarded) or response body */
#define MAX_CONNS 256        /* client connections served at once */
#define IDLE_MS 30000        /* keep-alive connection without a request */
#define HEAD_MS 10000        /* a started request head must be complete by then */
#define CALL_MS_DEFAULT 5000 /* a call to another service, connect to last byte */
#define OUT_MAX (256 * 1024) /* largest answer we build */

enum role { R_PRODUCTPAGE, R_DETAILS, R_REVIEWS, R_RATINGS };
static const char *const role_names[] = { "productpage", "details", "reviews", "ratings" };

/* A service we call: where its sidecar listens for us, and the Host we send
 * (the service's name, so that a sidecar's --outbound port routes it too). */
struct upstream {
	bool set;
	char host[256]; /* connect address, from the URL */
	char port[8];
	char authority[64];
};

static struct {
	enum role role;
	int version; /* 1, 2 or 3 */
	const char *listen;
	const char *port_file;
	struct upstream details, reviews, ratings;
	int call_ms;
	bool quiet;
} opt = {
	.role = R_PRODUCTPAGE, .version = 1, .listen = "127.0.0.1:9080", .call_ms = CALL_MS_DEFAULT
};

static atomic_int nconns;

/* ---- growable output buffer, bounded by OUT_MAX ---- */

struct buf {
	char *p;
	size_t len, cap;
	bool failed; /* allocation failed or OUT_MAX passed: the answer is 500 */
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = cap <= OUT_MAX ? realloc(b->p, cap) : NULL;
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		b->failed = true;
	else
		buf_add(b, tmp, (size_t)n);
}

/* A JSON string, or null for NULL. */
static void buf_json_str(struct buf *b, const char *s, size_t n)
{
	if (!s) {
		buf_puts(b, "null");
		return;
	}
	buf_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			buf_add(b, e, 2);
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(b, "\\u%04x", c);
		} else {
			buf_add(b, (const char *)&s[i], 1);
		}
	}
	buf_add(b, "\"", 1);
}

static void buf_json_cstr(struct buf *b, const char *s)
{
	buf_json_str(b, s, s ? strlen(s) : 0);
}

/* Text for an HTML page: & < > " escaped. */
static void buf_html(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': buf_puts(b, "&amp;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		default: buf_add(b, s, 1);
		}
	}
}

/* ---- a JSON syntax check: the answers of other services are embedded in
 * ours as they are, and only when they are one well-formed JSON value ---- */

struct jp {
	const char *s, *end;
};

static void jp_ws(struct jp *j)
{
	while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r'))
		j->s++;
}

static bool jp_lit(struct jp *j, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(j->end - j->s) < n || memcmp(j->s, lit, n))
		return false;
	j->s += n;
	return true;
}

static bool jp_string(struct jp *j)
{
	if (j->s >= j->end || *j->s != '"')
		return false;
	for (j->s++; j->s < j->end; j->s++) {
		unsigned char c = (unsigned char)*j->s;
		if (c == '"') {
			j->s++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (++j->s >= j->end)
				return false;
			if (*j->s == 'u') {
				for (int k = 0; k < 4; k++)
					if (++j->s >= j->end ||
					    !strchr("0123456789abcdefABCDEF", *j->s))
						return false;
			} else if (!strchr("\"\\/bfnrt", *j->s)) {
				return false;
			}
		}
	}
	return false;
}

static bool jp_number(struct jp *j)
{
	const char *start = j->s;
	if (j->s < j->end && *j->s == '-')
		j->s++;
	size_t digits = 0;
	while (j->s < j->end && *j->s >= '0' && *j->s <= '9')
		j->s++, digits++;
	if (!digits)
		return false;
	if (j->s < j->end && *j->s == '.') {
		j->s++;
		for (digits = 0; j->s < j->end && *j->s >= '0' && *j->s <= '9'; digits++)
			j->s++;
		if (!digits)
			return false;
	}
	if (j->s < j->end && (*j->s == 'e' || *j->s == 'E')) {
		j->s++;
		if (j->s < j->end && (*j->s == '+' || *j->s == '-'))
			j->s++;
		for (digits = 0; j->s < j->end && *j->s >= '0' && *j->s <= '9'; digits++)
			j->s++;
		if (!digits)
			return false;
	}
	return j->s > start;
}

static bool jp_value(struct jp *j, int depth)
{
	if (depth > 32)
		return false;
	jp_ws(j);
	if (j->s >= j->end)
		return false;
	char c = *j->s;
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		j->s++;
		jp_ws(j);
		if (j->s < j->end && *j->s == close) {
			j->s++;
			return true;
		}
		for (;;) {
			if (c == '{') {
				jp_ws(j);
				if (!jp_string(j))
					return false;
				jp_ws(j);
				if (j->s >= j->end || *j->s != ':')
					return false;
				j->s++;
			}
			if (!jp_value(j, depth + 1))
				return false;
			jp_ws(j);
			if (j->s < j->end && *j->s == ',') {
				j->s++;
				continue;
			}
			if (j->s < j->end && *j->s == close) {
				j->s++;
				return true;
			}
			return false;
		}
	}
	if (c == '"')
		return jp_string(j);
	if (c == 't')
		return jp_lit(j, "true");
	if (c == 'f')
		return jp_lit(j, "false");
	if (c == 'n')
		return jp_lit(j, "null");
	return jp_number(j);
}

static bool json_valid(const char *s, size_t n)
{
	struct jp j = { s, s + n };
	if (!jp_value(&j, 0))
		return false;
	jp_ws(&j);
	return j.s == j.end;
}

/* The integer after "KEY": in a JSON text we checked (the ratings answer). */
static int json_int_after(const char *s, const char *key, int dflt)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(s, pat);
	if (!p)
		return dflt;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	char *end;
	long v = strtol(p, &end, 10);
	return end == p || v < 0 || v > 100 ? dflt : (int)v;
}

/* ---- HTTP/1.1 request parsing ---- */

struct field {
	const char *name, *value;
	size_t nlen, vlen;
};

struct request {
	const char *method, *target;
	size_t mlen, tlen;
	int minor; /* HTTP/1.<minor> */
	struct field f[FIELDS_MAX];
	int nf;
	size_t content_length;
	bool keepalive;
};

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The value of header NAME (first one), NULL if absent; *len its length. */
static const char *req_header(const struct request *r, const char *name, size_t *len)
{
	size_t n = strlen(name);
	for (int i = 0; i < r->nf; i++)
		if (r->f[i].nlen == n && !strncasecmp(r->f[i].name, name, n)) {
			if (len)
				*len = r->f[i].vlen;
			return r->f[i].value;
		}
	return NULL;
}

/* Whether a comma-separated header value lists TOKEN (case-insensitive). */
static bool has_token(const char *v, size_t len, const char *token)
{
	size_t n = strlen(token);
	for (size_t i = 0; i < len;) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < len && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == n && !strncasecmp(v + s, token, n))
			return true;
	}
	return false;
}

/* Parse a request head of @len bytes (up to and including the blank line).
 * The head is NUL-terminated in place after each name and value. Returns 0,
 * or the status to answer (400, 413, 431, 501, 505). */
static int parse_request(char *head, size_t len, struct request *r)
{
	char *p = head, *end = head + len;
	memset(r, 0, sizeof(*r));
	/* request line: METHOD SP TARGET SP HTTP/1.x CRLF */
	char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	if (!eol)
		return 400;
	r->method = p;
	while (p < eol && is_tchar((unsigned char)*p))
		p++;
	r->mlen = (size_t)(p - r->method);
	if (!r->mlen || p >= eol || *p != ' ')
		return 400;
	*p++ = '\0';
	r->target = p;
	while (p<eol && * p> ' ' && *p < 0x7f)
		p++;
	r->tlen = (size_t)(p - r->target);
	if (!r->tlen || r->target[0] != '/' || p >= eol || *p != ' ')
		return 400;
	*p++ = '\0';
	if (eol - p != 8 || memcmp(p, "HTTP/1.", 7))
		return eol - p == 8 && !memcmp(p, "HTTP/", 5) ? 505 : 400;
	if (p[7] != '0' && p[7] != '1')
		return 505;
	r->minor = p[7] - '0';
	p = eol + 2;
	/* fields: NAME ":" OWS VALUE OWS CRLF, until the empty line */
	bool have_cl = false;
	while (p < end) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			return 400;
		if (eol == p)
			break;
		if (r->nf == FIELDS_MAX)
			return 431;
		struct field *f = &r->f[r->nf++];
		f->name = p;
		while (p < eol && is_tchar((unsigned char)*p))
			p++;
		f->nlen = (size_t)(p - f->name);
		if (!f->nlen || p >= eol || *p != ':')
			return 400;
		*p++ = '\0';
		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		char *ve = eol;
		while (ve > p && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		for (char *q = p; q < ve; q++)
			if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
				return 400; /* CTLs, bare CR or LF: no obs-fold either */
		f->value = p;
		f->vlen = (size_t)(ve - p);
		*ve = '\0';
		p = eol + 2;
		if (!strcasecmp(f->name, "content-length")) {
			if (have_cl || !f->vlen || f->vlen > 9 ||
			    strspn(f->value, "0123456789") != f->vlen)
				return 400;
			have_cl = true;
			r->content_length = strtoul(f->value, NULL, 10);
			if (r->content_length > BODY_MAX)
				return 413;
		} else if (!strcasecmp(f->name, "transfer-encoding")) {
			return 501; /* no request of ours has a body to stream */
		}
	}
	if (r->minor == 1 && !req_header(r, "host", NULL))
		return 400;
	size_t cl;
	const char *conn = req_header(r, "connection", &cl);
	r->keepalive = r->minor == 1 ? !(conn && has_token(conn, cl, "close"))
	                             : (conn && has_token(conn, cl, "keep-alive"));
	return 0;
}

/* The caller's SPIFFE ID in an x-forwarded-client-cert value: the URI of
 * its last element (the one our sidecar added). Elements are separated by
 * ',' and pairs by ';'; a value may be in double quotes. Returns a malloc'ed
 * string or NULL. */
static char *xfcc_peer(const char *v, size_t len)
{
	if (!v)
		return NULL;
	size_t start = 0;
	bool q = false;
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '"')
			q = !q;
		else if (v[i] == '\\' && q && i + 1 < len)
			i++;
		else if (v[i] == ',' && !q)
			start = i + 1;
	}
	char *uri = NULL;
	for (size_t i = start; i < len;) {
		while (i < len && (v[i] == ' ' || v[i] == ';'))
			i++;
		size_t k = i;
		while (i < len && v[i] != '=' && v[i] != ';')
			i++;
		size_t klen = i - k;
		if (i >= len || v[i] != '=')
			continue;
		i++;
		size_t vs = i, ve;
		if (i < len && v[i] == '"') {
			vs = ++i;
			while (i < len && v[i] != '"')
				i += v[i] == '\\' ? 2 : 1;
			ve = i < len ? i : len;
			i++;
		} else {
			while (i < len && v[i] != ';')
				i++;
			ve = i;
		}
		if (klen == 3 && !strncasecmp(v + k, "URI", 3) && ve > vs) {
			free(uri);
			uri = strndup(v + vs, ve - vs);
		}
	}
	return uri;
}

/* ---- calls to other services, through the sidecar ---- */

struct reply {
	int status; /* 0: no answer, see err */
	char err[256];
	char *body;
	size_t blen;
	bool json;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events on @fd until @deadline (ms, monotonic): 1 ready, 0 timed out. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return 1; /* let the read or write report it */
	}
}

static int dial(const struct upstream *u, int64_t deadline, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	int rc = getaddrinfo(u->host, u->port, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "%.64s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc < 0 && errno == EINPROGRESS) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (!wait_fd(fd, POLLOUT, deadline)) {
			errno = ETIMEDOUT;
		} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0) {
			errno = soerr;
			rc = soerr ? -1 : 0;
		}
	}
	if (rc < 0) {
		snprintf(err, errlen, "connect to %.64s:%s: %s", u->host, u->port, strerror(errno));
		close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Walk a chunked body of @len bytes: the length of the whole encoding (last
 * chunk and trailers included) once it is all there, 0 while more is to
 * come, -1 when it is malformed. With @out, the data is also moved to the
 * front of @b and *out is its length. */
static ssize_t chunks(char *b, size_t len, size_t *out)
{
	size_t in = 0, o = 0;
	for (;;) {
		char *eol = memmem(b + in, len - in, "\r\n", 2);
		if (!eol)
			return len - in > 32 ? -1 : 0;
		char *end;
		unsigned long n = strtoul(b + in, &end, 16);
		if (end == b + in || n > BODY_MAX || (*end != '\r' && *end != ';'))
			return -1;
		in = (size_t)(eol - b) + 2;
		if (n == 0) {
			/* trailers, dropped: field lines until an empty one */
			for (;;) {
				eol = memmem(b + in, len - in, "\r\n", 2);
				if (!eol)
					return 0;
				bool last = eol == b + in;
				in = (size_t)(eol - b) + 2;
				if (last)
					break;
			}
			if (out)
				*out = o;
			return (ssize_t)in;
		}
		if (len - in < n + 2)
			return 0;
		if (memcmp(b + in + n, "\r\n", 2))
			return -1;
		if (out)
			memmove(b + o, b + in, n);
		o += n;
		in += n + 2;
	}
}

/* GET @path from @u, with the headers in @fwd (already "name: value\r\n"
 * lines). The answer is read whole (head and body bounded). */
static void call(const struct upstream *u, const char *path, const char *fwd, struct reply *r)
{
	char req[HEAD_MAX], *b = NULL;
	memset(r, 0, sizeof(*r));
	int64_t deadline = now_ms() + opt.call_ms;
	int fd = dial(u, deadline, r->err, sizeof(r->err));
	if (fd < 0)
		return;
	int n = snprintf(req, sizeof(req),
	                 "GET %s HTTP/1.1\r\nhost: %s\r\nuser-agent: bookinfo-%s/v%d\r\n"
	                 "accept: application/json\r\nconnection: close\r\n%s\r\n",
	                 path, u->authority, role_names[opt.role], opt.version, fwd);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		snprintf(r->err, sizeof(r->err), "request head too large");
		goto fail;
	}
	for (size_t off = 0; off < (size_t)n;) {
		ssize_t w = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_fd(fd, POLLOUT, deadline)) {
				snprintf(r->err, sizeof(r->err), "timed out sending");
				goto fail;
			}
			continue;
		}
		if (w <= 0) {
			snprintf(r->err, sizeof(r->err), "send: %s", strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	size_t cap = HEAD_MAX + BODY_MAX, len = 0;
	b = malloc(cap + 1);
	if (!b) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		goto fail;
	}
	/* head length, and the message length once known (SIZE_MAX: chunked
	 * or until the connection closes) */
	size_t head_len = 0, want = SIZE_MAX;
	bool chunked = false;
	for (;;) {
		if (head_len && len >= want)
			break;
		if (chunked) {
			ssize_t c = chunks(b + head_len, len - head_len, NULL);
			if (c < 0) {
				snprintf(r->err, sizeof(r->err), "bad chunked body");
				goto fail;
			}
			if (c > 0) {
				want = head_len + (size_t)c;
				break;
			}
		}
		if (len == cap) {
			snprintf(r->err, sizeof(r->err), "answer larger than %zu bytes", cap);
			goto fail;
		}
		if (!wait_fd(fd, POLLIN, deadline)) {
			snprintf(r->err, sizeof(r->err), "no answer within %d ms", opt.call_ms);
			goto fail;
		}
		ssize_t got = recv(fd, b + len, cap - len, 0);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got < 0) {
			snprintf(r->err, sizeof(r->err), "recv: %s", strerror(errno));
			goto fail;
		}
		if (got == 0) {
			if (head_len && want == SIZE_MAX && !chunked) {
				want = len; /* a close-delimited body */
				break;
			}
			snprintf(r->err, sizeof(r->err), "connection closed %s",
			         head_len ? "in the body" : "before an answer");
			goto fail;
		}
		len += (size_t)got;
		if (head_len)
			continue;
		char *eoh = memmem(b, len, "\r\n\r\n", 4);
		if (!eoh) {
			if (len >= HEAD_MAX) {
				snprintf(r->err, sizeof(r->err), "answer head too large");
				goto fail;
			}
			continue;
		}
		head_len = (size_t)(eoh - b) + 4;
		b[head_len - 1] = '\0'; /* the head as a string, for sscanf() and strcasestr() */
		int minor, status;
		if (sscanf(b, "HTTP/1.%d %3d", &minor, &status) != 2 || status < 100 ||
		    status > 599) {
			snprintf(r->err, sizeof(r->err), "not an HTTP/1.1 answer");
			goto fail;
		}
		r->status = status;
		/* the few fields we need, matched at the start of each line */
		for (char *l = strstr(b, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
			char *name = l + 2;
			char *next = strstr(name, "\r\n");
			if (next)
				*next = '\0';
			if (!strncasecmp(name, "content-length:", 15)) {
				char *end;
				unsigned long cl = strtoul(name + 15, &end, 10);
				if (cl > BODY_MAX) {
					snprintf(r->err, sizeof(r->err), "answer body too large");
					goto fail;
				}
				want = head_len + cl;
			} else if (!strncasecmp(name, "transfer-encoding:", 18)) {
				chunked = strcasestr(name, "chunked") != NULL;
			} else if (!strncasecmp(name, "content-type:", 13)) {
				r->json = strcasestr(name, "json") != NULL;
			}
			if (!next)
				break;
			*next = '\r';
		}
		if (chunked)
			want = SIZE_MAX;
		if (status == 204 || status == 304 || status < 200)
			want = head_len;
	}
	r->blen = want - head_len;
	memmove(b, b + head_len, r->blen);
	if (chunked && chunks(b, r->blen, &r->blen) < 0) {
		snprintf(r->err, sizeof(r->err), "bad chunked body");
		goto fail;
	}
	b[r->blen] = '\0';
	r->body = b;
	r->json = r->json && json_valid(b, r->blen);
	close(fd);
	return;
fail:
	free(b);
	r->status = 0;
	close(fd);
}

/* {"status":N,"body":<the JSON answer>} or {"status":N,"error":"..."} */
static void buf_reply(struct buf *o, const struct reply *r)
{
	buf_printf(o, "{\"status\":%d,", r->status);
	if (r->status == 200 && r->json) {
		buf_puts(o, "\"body\":");
		buf_add(o, r->body, r->blen);
	} else if (r->status) {
		buf_puts(o, "\"error\":");
		size_t n = r->blen > 200 ? 200 : r->blen;
		buf_json_str(o, r->body ? r->body : "", r->body ? n : 0);
	} else {
		buf_puts(o, "\"error\":");
		buf_json_cstr(o, r->err);
	}
	buf_puts(o, "}");
}

/* ---- the four roles ---- */

/* Headers a bookinfo service passes on to the services it calls. */
static const char *const propagated[] = {
	"cookie",       "x-request-id", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid",
	"x-b3-sampled", "x-b3-flags",   "b3",           "traceparent", "tracestate",
	"end-user",
};

static void build_forward(const struct request *rq, struct buf *fwd)
{
	for (size_t i = 0; i < sizeof(propagated) / sizeof(propagated[0]); i++) {
		size_t n;
		const char *v = req_header(rq, propagated[i], &n);
		if (!v)
			continue;
		buf_puts(fwd, propagated[i]);
		buf_puts(fwd, ": ");
		buf_add(fwd, v, n);
		buf_puts(fwd, "\r\n");
	}
	if (!fwd->p)
		buf_add(fwd, "", 0); /* "" rather than NULL for call()'s %s */
}

/* The user=NAME cookie, if any (at most 63 bytes). */
static bool cookie_user(const struct request *rq, char *out, size_t outlen)
{
	size_t n;
	const char *c = req_header(rq, "cookie", &n);
	for (size_t i = 0; c && i < n;) {
		while (i < n && (c[i] == ' ' || c[i] == ';'))
			i++;
		if (n - i > 5 && !strncmp(c + i, "user=", 5)) {
			size_t s = i + 5, e = s;
			while (e < n && c[e] != ';' && e - s < outlen - 1)
				e++;
			memcpy(out, c + s, e - s);
			out[e - s] = '\0';
			return e > s;
		}
		while (i < n && c[i] != ';')
			i++;
	}
	return false;
}

/* The common fields of every JSON answer: service, version, peer, xfcc. */
static void buf_who(struct buf *o, const struct request *rq)
{
	size_t n = 0;
	const char *xfcc = req_header(rq, "x-forwarded-client-cert", &n);
	char *peer = xfcc_peer(xfcc, n);
	buf_printf(o, "\"service\":\"%s\",\"version\":\"v%d\",\"peer\":", role_names[opt.role],
	           opt.version);
	buf_json_cstr(o, peer);
	buf_puts(o, ",\"xfcc\":");
	buf_json_str(o, xfcc, n);
	free(peer);
}

/* /PREFIX/ID with ID a number below 10^9: the number, or -1. */
static long path_id(const char *target, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(target, prefix, n))
		return -1;
	const char *id = target + n;
	size_t digits = strspn(id, "0123456789");
	if (!digits || digits > 9 || (id[digits] && id[digits] != '?'))
		return -1;
	return strtol(id, NULL, 10);
}

static void details(const struct request *rq, long id, struct buf *o)
{
	buf_puts(o, "{");
	buf_who(o, rq);
	buf_printf(o,
	           ",\"id\":%ld,\"author\":\"William Shakespeare\",\"year\":1595,"
	           "\"type\":\"paperback\",\"pages\":200,\"publisher\":\"PublisherA\","
	           "\"language\":\"English\",\"ISBN-10\":\"1234567890\","
	           "\"ISBN-13\":\"123-1234567890\"}",
	           id);
}

static void ratings(const struct request *rq, long id, struct buf *o)
{
	buf_puts(o, "{");
	buf_who(o, rq);
	buf_printf(o, ",\"id\":%ld,\"ratings\":{\"Reviewer1\":5,\"Reviewer2\":4}}", id);
}

static void reviews(const struct request *rq, long id, struct buf *o)
{
	static const char *const text[2] = {
		"An extremely entertaining play by Shakespeare. The slapstick humour is "
		"refreshing!",
		"Absolutely fun and entertaining. The play lacks thematic depth when compared "
		"to other plays by Shakespeare.",
	};
	struct reply rr = { 0 };
	bool stars = opt.version > 1;
	if (stars) {
		struct buf fwd = { 0 };
		char path[64];
		build_forward(rq, &fwd);
		snprintf(path, sizeof(path), "/ratings/%ld", id);
		if (!opt.ratings.set)
			snprintf(rr.err, sizeof(rr.err), "no --ratings address");
		else if (fwd.failed)
			snprintf(rr.err, sizeof(rr.err), "forwarded headers too large");
		else
			call(&opt.ratings, path, fwd.p, &rr);
		free(fwd.p);
	}
	buf_puts(o, "{");
	buf_who(o, rq);
	buf_printf(o, ",\"id\":%ld,\"reviews\":[", id);
	for (int i = 0; i < 2; i++) {
		buf_printf(o, "%s{\"reviewer\":\"Reviewer%d\",\"text\":\"%s\"", i ? "," : "", i + 1,
		           text[i]);
		if (stars && rr.status == 200 && rr.json) {
			char who[16];
			snprintf(who, sizeof(who), "Reviewer%d", i + 1);
			buf_printf(o, ",\"rating\":{\"stars\":%d,\"color\":\"%s\"}",
			           json_int_after(rr.body, who, 0),
			           opt.version == 2 ? "black" : "red");
		} else if (stars) {
			buf_puts(o, ",\"rating\":{\"error\":\"Ratings service is currently "
			            "unavailable\"}");
		}
		buf_puts(o, "}");
	}
	buf_puts(o, "]");
	if (stars) {
		buf_puts(o, ",\"ratings\":");
		buf_reply(o, &rr);
	}
	buf_puts(o, "}");
	free(rr.body);
}

/* The HTML page: the book, the reviews with their stars, who saw whom. */
static void productpage_html(const char *user, const struct reply *d, const struct reply *rv,
                             struct buf *o)
{
	buf_puts(o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	            "<title>Simple Bookstore App</title></head><body>\n"
	            "<h1>The Comedy of Errors</h1>\n");
	if (user) {
		buf_puts(o, "<p>Signed in as <b>");
		buf_html(o, user);
		buf_puts(o, "</b></p>\n");
	}
	buf_puts(o, "<h2>Book Details</h2>\n");
	if (d->status == 200 && d->json)
		buf_puts(o, "<p>Type: paperback, Pages: 200, Publisher: PublisherA, Language: "
		            "English</p>\n");
	else
		buf_puts(o, "<p>Sorry, product details are currently unavailable.</p>\n");
	buf_puts(o, "<h2>Book Reviews</h2>\n");
	if (rv->status == 200 && rv->json) {
		const char *v = strstr(rv->body, "\"version\":\"v");
		int ver = v ? v[12] - '0' : 0;
		buf_printf(o, "<p>Answered by reviews v%d</p>\n", ver);
		for (int i = 1; i <= 2; i++) {
			char who[16];
			snprintf(who, sizeof(who), "Reviewer%d", i);
			buf_printf(o, "<blockquote><p>%s</p>", who);
			const char *p = strstr(rv->body, who);
			const char *stars = p ? strstr(p, "\"stars\":") : NULL;
			if (ver > 1 && stars) {
				int n = atoi(stars + 8);
				buf_printf(o, "<p style=\"color:%s\">", ver == 2 ? "black" : "red");
				for (int k = 0; k < 5; k++)
					buf_puts(o, k < n ? "&#9733;" : "&#9734;");
				buf_puts(o, "</p>");
			}
			buf_puts(o, "</blockquote>\n");
		}
	} else {
		buf_puts(o, "<p>Sorry, product reviews are currently unavailable for this "
		            "book.</p>\n");
	}
	buf_puts(o, "</body></html>\n");
}

/* Returns true when the answer is HTML. */
static bool productpage(const struct request *rq, struct buf *o)
{
	struct buf fwd = { 0 };
	struct reply d = { 0 }, rv = { 0 };
	build_forward(rq, &fwd);
	if (fwd.failed) {
		snprintf(d.err, sizeof(d.err), "forwarded headers too large");
		snprintf(rv.err, sizeof(rv.err), "forwarded headers too large");
	} else {
		if (opt.details.set)
			call(&opt.details, "/details/0", fwd.p, &d);
		else
			snprintf(d.err, sizeof(d.err), "no --details address");
		if (opt.reviews.set)
			call(&opt.reviews, "/reviews/0", fwd.p, &rv);
		else
			snprintf(rv.err, sizeof(rv.err), "no --reviews address");
	}
	free(fwd.p);
	char user[64];
	bool has_user = cookie_user(rq, user, sizeof(user));
	size_t an;
	const char *accept = req_header(rq, "accept", &an);
	bool html = accept && memmem(accept, an, "text/html", 9);
	if (html) {
		productpage_html(has_user ? user : NULL, &d, &rv, o);
	} else {
		size_t n = 0;
		const char *rid = req_header(rq, "x-request-id", &n);
		buf_puts(o, "{");
		buf_who(o, rq);
		buf_puts(o, ",\"user\":");
		buf_json_cstr(o, has_user ? user : NULL);
		buf_puts(o, ",\"request_id\":");
		buf_json_str(o, rid, n);
		buf_puts(o, ",\"details\":");
		buf_reply(o, &d);
		buf_puts(o, ",\"reviews\":");
		buf_reply(o, &rv);
		buf_puts(o, "}");
	}
	free(d.body);
	free(rv.body);
	return html;
}

/* ---- serving a connection ---- */

static bool send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static bool respond(int fd, int status, const char *ctype, const struct buf *body, bool head_only,
                    bool keepalive)
{
	char h[512];
	size_t blen = body->p ? body->len : 0;
	int n = snprintf(h, sizeof(h),
	                 "HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\n"
	                 "x-bookinfo: %s-v%d\r\n%s\r\n",
	                 status, reason(status), ctype, blen, role_names[opt.role], opt.version,
	                 keepalive ? "" : "connection: close\r\n");
	if (!send_all(fd, h, (size_t)n))
		return false;
	return head_only || !blen || send_all(fd, body->p, blen);
}

static bool error_reply(int fd, int status, bool keepalive)
{
	struct buf b = { 0 };
	buf_printf(&b, "{\"error\":\"%s\",\"status\":%d}\n", reason(status), status);
	bool ok = respond(fd, status, "application/json", &b, false, keepalive);
	free(b.p);
	return ok;
}

/* Handle one parsed request; returns whether the connection may go on. */
static bool handle(int fd, const struct request *rq)
{
	bool head_only = !strcmp(rq->method, "HEAD");
	if (strcmp(rq->method, "GET") && !head_only)
		return error_reply(fd, 405, rq->keepalive) && rq->keepalive;
	struct buf o = { 0 };
	int status = 200;
	bool html = false;
	long id;
	const char *t = rq->target;
	if (!strcmp(t, "/health") || !strncmp(t, "/health?", 8)) {
		buf_printf(&o, "{\"status\":\"Healthy\",\"service\":\"%s\",\"version\":\"v%d\"}",
		           role_names[opt.role], opt.version);
	} else if (opt.role == R_PRODUCTPAGE &&
	           (!strcmp(t, "/productpage") || !strncmp(t, "/productpage?", 13))) {
		html = productpage(rq, &o);
	} else if (opt.role == R_DETAILS && (id = path_id(t, "/details/")) >= 0) {
		details(rq, id, &o);
	} else if (opt.role == R_REVIEWS && (id = path_id(t, "/reviews/")) >= 0) {
		reviews(rq, id, &o);
	} else if (opt.role == R_RATINGS && (id = path_id(t, "/ratings/")) >= 0) {
		ratings(rq, id, &o);
	} else {
		status = 404;
		buf_printf(&o, "{\"error\":\"Not Found\",\"status\":404}");
	}
	if (o.failed) {
		free(o.p);
		error_reply(fd, 500, false);
		return false;
	}
	if (!html)
		buf_puts(&o, "\n");
	if (!opt.quiet) {
		size_t n = 0;
		const char *xfcc = req_header(rq, "x-forwarded-client-cert", &n);
		char *peer = xfcc_peer(xfcc, n);
		fprintf(stderr, "bookinfo %s v%d: %s %s -> %d (peer %s)\n", role_names[opt.role],
		        opt.version, rq->method, t, status, peer ? peer : "none: plain text");
		free(peer);
	}
	bool ok = respond(fd, status, html ? "text/html; charset=utf-8" : "application/json", &o,
	                  head_only, rq->keepalive);
	free(o.p);
	return ok && rq->keepalive;
}

/* Close after reading what the client still sends (1 s, 256 KiB at most):
 * closing with unread bytes would reset the connection, and the client could
 * lose the answer (a 400 or 431) we just wrote. */
static void linger_close(int fd)
{
	char sink[4096];
	size_t total = 0;
	int64_t deadline = now_ms() + 1000;
	shutdown(fd, SHUT_WR);
	while (total < 256 * 1024 && wait_fd(fd, POLLIN, deadline)) {
		ssize_t got = recv(fd, sink, sizeof(sink), 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		total += (size_t)got;
	}
	close(fd);
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *b = malloc(HEAD_MAX + 1);
	size_t len = 0;
	if (!b)
		goto out;
	for (;;) {
		/* read a head: IDLE_MS for its first byte, HEAD_MS for the rest */
		char *eoh;
		int64_t deadline = now_ms() + (len ? HEAD_MS : IDLE_MS);
		while (!(eoh = len ? memmem(b, len, "\r\n\r\n", 4) : NULL)) {
			if (len == HEAD_MAX) {
				error_reply(fd, 431, false);
				goto out;
			}
			if (!wait_fd(fd, POLLIN, deadline))
				goto out;
			ssize_t got = recv(fd, b + len, HEAD_MAX - len, 0);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				goto out;
			if (!len)
				deadline = now_ms() + HEAD_MS;
			len += (size_t)got;
		}
		size_t head_len = (size_t)(eoh - b) + 4;
		struct request rq;
		int bad = parse_request(b, head_len, &rq);
		if (bad) {
			error_reply(fd, bad, false);
			goto out;
		}
		/* the body, if any, is read and dropped */
		size_t body = rq.content_length;
		size_t have = len - head_len < body ? len - head_len : body;
		size_t used = head_len + have;
		body -= have;
		while (body) {
			char sink[4096];
			if (!wait_fd(fd, POLLIN, now_ms() + HEAD_MS))
				goto out;
			ssize_t got = recv(fd, sink, body < sizeof(sink) ? body : sizeof(sink), 0);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				goto out;
			body -= (size_t)got;
		}
		if (!handle(fd, &rq))
			goto out;
		/* a pipelined request may already be in the buffer */
		memmove(b, b + used, len - used);
		len -= used;
	}
out:
	free(b);
	linger_close(fd);
	atomic_fetch_sub(&nconns, 1);
	return NULL;
}

/* ---- flags, listening, main ---- */

static void on_signal(int sig)
{
	(void)sig;
	_exit(0);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bookinfo --role ROLE [--version v1|v2|v3] [OPTIONS]\n"
	           "\n"
	           "Istio's bookinfo sample, one service per process, plain HTTP/1.1.\n"
	           "\n"
	           "  --role ROLE         productpage, details, reviews or ratings\n"
	           "  --version VERSION   v1 (default), v2 or v3; reviews v1 shows no stars,\n"
	           "                      v2 black and v3 red stars (both call ratings)\n"
	           "  --listen ADDR:PORT  where to serve (127.0.0.1:9080; port 0: a free one)\n"
	           "  --port-file FILE    write the bound port there once listening\n"
	           "  --details URL       productpage: details, e.g. http://127.0.0.1:15001\n"
	           "  --reviews URL       productpage: reviews\n"
	           "  --ratings URL       reviews v2 and v3: ratings\n"
	           "  --timeout MS        a call to another service, in milliseconds (5000)\n"
	           "  --quiet             no log line per request on stderr\n"
	           "\n"
	           "Each URL is http://HOST:PORT, normally the local port of this service's\n"
	           "sidecar for that service; the request's Host is the service name\n"
	           "(details:9080 ...). Paths: /productpage, /details/ID, /reviews/ID,\n"
	           "/ratings/ID, and /health for every role. SIGTERM and SIGINT exit 0.\n");
}

static int parse_url(const char *url, const char *svc, struct upstream *u)
{
	if (strncmp(url, "http://", 7))
		return -1;
	const char *h = url + 7, *colon = strrchr(h, ':');
	size_t hl = colon ? (size_t)(colon - h) : 0;
	const char *port = colon ? colon + 1 : "";
	size_t pl = strspn(port, "0123456789");
	if (!hl || hl >= sizeof(u->host) || !pl || pl > 5 || (port[pl] && strcmp(port + pl, "/")))
		return -1;
	memcpy(u->host, h, hl);
	u->host[hl] = '\0';
	memcpy(u->port, port, pl);
	u->port[pl] = '\0';
	snprintf(u->authority, sizeof(u->authority), "%s:9080", svc);
	u->set = true;
	return 0;
}

static int listen_on(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || (size_t)(colon - spec) >= sizeof(host) || !colon[1]) {
		fprintf(stderr, "bookinfo: --listen wants ADDR:PORT\n");
		return -1;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
		                  .ai_socktype = SOCK_STREAM,
		                  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai;
	int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
	if (rc) {
		fprintf(stderr, "bookinfo: --listen %s: %s\n", spec, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0), one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128)) {
		fprintf(stderr, "bookinfo: cannot listen on %s: %s\n", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Written whole, then renamed into place: a reader never sees half of it. */
static int write_port_file(const char *path, int port)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) || rename(tmp, path))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *details_url = NULL, *reviews_url = NULL, *ratings_url = NULL;
	bool have_role = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--quiet")) {
			opt.quiet = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "bookinfo: %s needs a value (or is unknown)\n", a);
			usage(stderr);
			return 2;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--role")) {
			int r = -1;
			for (int k = 0; k < 4; k++)
				if (!strcmp(v, role_names[k]))
					r = k;
			if (r < 0) {
				fprintf(stderr, "bookinfo: unknown role '%s'\n", v);
				return 2;
			}
			opt.role = (enum role)r;
			have_role = true;
		} else if (!strcmp(a, "--version")) {
			if (strlen(v) != 2 || v[0] != 'v' || v[1] < '1' || v[1] > '3') {
				fprintf(stderr, "bookinfo: --version wants v1, v2 or v3\n");
				return 2;
			}
			opt.version = v[1] - '0';
		} else if (!strcmp(a, "--listen")) {
			opt.listen = v;
		} else if (!strcmp(a, "--port-file")) {
			opt.port_file = v;
		} else if (!strcmp(a, "--details")) {
			details_url = v;
		} else if (!strcmp(a, "--reviews")) {
			reviews_url = v;
		} else if (!strcmp(a, "--ratings")) {
			ratings_url = v;
		} else if (!strcmp(a, "--timeout")) {
			char *end;
			long ms = strtol(v, &end, 10);
			if (*end || ms < 1 || ms > 600000) {
				fprintf(stderr,
				        "bookinfo: --timeout wants milliseconds, 1-600000\n");
				return 2;
			}
			opt.call_ms = (int)ms;
		} else {
			fprintf(stderr, "bookinfo: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (!have_role) {
		usage(stderr);
		return 2;
	}
	struct {
		const char *url, *svc;
		struct upstream *u;
	} ups[] = { { details_url, "details", &opt.details },
		    { reviews_url, "reviews", &opt.reviews },
		    { ratings_url, "ratings", &opt.ratings } };
	for (size_t k = 0; k < 3; k++)
		if (ups[k].url && parse_url(ups[k].url, ups[k].svc, ups[k].u)) {
			fprintf(stderr, "bookinfo: --%s wants http://HOST:PORT, got '%s'\n",
			        ups[k].svc, ups[k].url);
			return 2;
		}
	if (opt.role == R_PRODUCTPAGE && (!opt.details.set || !opt.reviews.set))
		fprintf(stderr, "bookinfo: productpage without --details or --reviews: those "
		                "parts of the page will be missing\n");
	if (opt.role == R_REVIEWS && opt.version > 1 && !opt.ratings.set)
		fprintf(stderr, "bookinfo: reviews v%d without --ratings: no stars\n", opt.version);

	int lfd = listen_on(opt.listen);
	if (lfd < 0)
		return 1;
	int port = bound_port(lfd);
	if (opt.port_file && write_port_file(opt.port_file, port)) {
		fprintf(stderr, "bookinfo: cannot write %s: %s\n", opt.port_file, strerror(errno));
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!opt.quiet)
		fprintf(stderr, "bookinfo %s v%d: listening on port %d\n", role_names[opt.role],
		        opt.version, port);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				usleep(100000); /* out of descriptors: let connections end */
				continue;
			}
			fprintf(stderr, "bookinfo: accept: %s\n", strerror(errno));
			return 1;
		}
		if (atomic_fetch_add(&nconns, 1) >= MAX_CONNS) {
			atomic_fetch_sub(&nconns, 1);
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_t t;
		if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd)) {
			atomic_fetch_sub(&nconns, 1);
			close(fd);
		}
	}
}
