/*
 * h1_parse.c - the HTTP/1.1 message parser: start lines, header fields,
 * framing (Content-Length, chunked, close-delimited, tunnels) and the
 * smuggling checks, as a resumable state machine over the caller's bytes.
 *
 * A head (and a trailer section, and a chunk-size line) is handled in two
 * steps: a cheap resumable scan that finds where it ends and enforces the
 * size, count, bare-LF and obs-fold rules as bytes arrive, then, once it is
 * complete, one parse of the whole block into a header array on this
 * file's stack. Nothing is consumed before the block is complete, so the
 * header pointers point into the caller's buffer and nothing is copied.
 */
#include <limits.h>
#include <string.h>

#include "h1_int.h"

static long fail(struct mesh__h1_parser *p, int err)
{
	p->state = H1_S_ERROR;
	p->err = err;
	return err;
}

static void scan_reset(struct mesh__h1_parser *p)
{
	p->scan = 0;
	p->line_start = 0;
	p->lines = 0;
}

/* ------------------------------------------------------------------ */
/* Block scan                                                          */
/* ------------------------------------------------------------------ */

/*
 * Find the end of a head (@start_line) or trailer section in @b[0..avail).
 * Returns its length (through the blank line), 0 if it is not complete
 * yet, or an error. Resumes where the last call stopped (p->scan), so the
 * total work is linear however the bytes are split.
 */
static long scan_block(struct mesh__h1_parser *p, const char *b, size_t avail, bool start_line)
{
	const uint32_t max = p->lim.max_head_bytes;
	const uint32_t max_line = p->lim.max_start_line;

	/*
	 * The checks run in the order that makes the error independent of how
	 * the bytes were split: a limit that a partial line would already
	 * break comes before the checks that need the line's end.
	 */
	if (p->scan > avail) /* the caller broke the contract: start over */
		scan_reset(p);
	for (;;) {
		bool first = start_line && p->lines == 0;
		const char *nl = memchr(b + p->scan, '\n', avail - p->scan);
		if (!nl) {
			p->scan = (uint32_t)(avail > UINT32_MAX ? UINT32_MAX : avail);
			/* the start line may end in a CR not yet followed by LF */
			if (first && avail > (size_t)max_line + 1)
				goto start_line_too_long;
			if (avail > max)
				return MESH_H1_E_HEADERS_TOO_LARGE;
			return 0;
		}
		size_t e = (size_t)(nl - b);
		if (first && e > (size_t)max_line + 1)
			goto start_line_too_long;
		if (e + 1 > max)
			return MESH_H1_E_HEADERS_TOO_LARGE;
		if (e == p->line_start || b[e - 1] != '\r')
			return MESH_H1_E_BARE_LF;
		size_t llen = e + 1 - p->line_start; /* with CRLF */
		if (first) {
			if (llen == 2) /* S_START skips empty lines: cannot happen */
				return p->type == MESH_H1_REQUEST ? MESH_H1_E_BAD_REQUEST_LINE
				                                  : MESH_H1_E_BAD_STATUS_LINE;
		} else if (llen == 2) {
			return (long)(e + 1);
		} else {
			unsigned char c0 = (unsigned char)b[p->line_start];
			if (c0 == ' ' || c0 == '\t')
				return MESH_H1_E_OBS_FOLD;
			if (p->lines + 1 - (start_line ? 1u : 0u) > p->lim.max_headers)
				return MESH_H1_E_TOO_MANY_HEADERS;
		}
		p->lines++;
		p->line_start = (uint32_t)(e + 1);
		p->scan = (uint32_t)(e + 1);
	}
start_line_too_long:
	return p->type == MESH_H1_REQUEST ? MESH_H1_E_URI_TOO_LONG : MESH_H1_E_STATUS_LINE_TOO_LONG;
}

/* ------------------------------------------------------------------ */
/* Field lines                                                         */
/* ------------------------------------------------------------------ */

/*
 * Parse the field lines of @b[pos..end), where @end is the start of the
 * blank line that ends the block (scan_block checked the line ends, folds,
 * count and size). Fills @h (capacity @cap) and *@n.
 */
static int parse_fields(const char *b, size_t pos, size_t end, struct mesh__h1_header *h,
                        size_t cap, size_t *n)
{
	const unsigned char *u = (const unsigned char *)b;
	size_t k = 0;
	while (pos < end) {
		size_t i = pos;
		while (h1_is(u[i], H1_TOKEN))
			i++;
		if (u[i] != ':') {
			if (i == pos)
				return u[i] == '\r' ? MESH_H1_E_NO_COLON
				                    : MESH_H1_E_BAD_HEADER_NAME;
			if (u[i] == ' ' || u[i] == '\t') {
				size_t j = i;
				while (u[j] == ' ' || u[j] == '\t')
					j++;
				return u[j] == ':' ? MESH_H1_E_WS_BEFORE_COLON
				                   : (u[j] == '\r' ? MESH_H1_E_NO_COLON
				                                   : MESH_H1_E_BAD_HEADER_NAME);
			}
			return u[i] == '\r' ? MESH_H1_E_NO_COLON : MESH_H1_E_BAD_HEADER_NAME;
		}
		if (i == pos)
			return MESH_H1_E_BAD_HEADER_NAME;
		size_t name_end = i++;
		while (u[i] == ' ' || u[i] == '\t')
			i++;
		size_t vs = i;
		while (h1_is(u[i], H1_VALUE))
			i++;
		if (u[i] != '\r')
			return MESH_H1_E_BAD_HEADER_VALUE;
		if (u[i + 1] != '\n')
			return MESH_H1_E_BARE_CR;
		size_t ve = i;
		while (ve > vs && (u[ve - 1] == ' ' || u[ve - 1] == '\t'))
			ve--;
		if (k == cap) /* scan_block enforces max_headers <= cap */
			return MESH_H1_E_TOO_MANY_HEADERS;
		h[k].name = b + pos;
		h[k].name_len = name_end - pos;
		h[k].value = b + vs;
		h[k].value_len = ve - vs;
		k++;
		pos = i + 2;
	}
	*n = k;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Start lines                                                         */
/* ------------------------------------------------------------------ */

/* "HTTP/" DIGIT "." DIGIT at @v (@len bytes exactly): 0 or 1 into *minor. */
static int parse_version(const char *v, size_t len, int *minor)
{
	if (len != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
	    v[7] < '0' || v[7] > '9')
		return MESH_H1_E_BAD_VERSION;
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return MESH_H1_E_VERSION_NOT_SUPPORTED;
	*minor = v[7] - '0';
	return 0;
}

static enum mesh__h1_method method_id(const char *m, size_t n)
{
#define M(s, id)                                                                                   \
	if (n == sizeof(s) - 1 && memcmp(m, s, sizeof(s) - 1) == 0)                                \
		return id;
	switch (n) {
	case 3:
		M("GET", MESH_H1_M_GET);
		M("PUT", MESH_H1_M_PUT);
		break;
	case 4:
		M("HEAD", MESH_H1_M_HEAD);
		M("POST", MESH_H1_M_POST);
		break;
	case 5:
		M("TRACE", MESH_H1_M_TRACE);
		M("PATCH", MESH_H1_M_PATCH);
		break;
	case 6: M("DELETE", MESH_H1_M_DELETE); break;
	case 7:
		M("CONNECT", MESH_H1_M_CONNECT);
		M("OPTIONS", MESH_H1_M_OPTIONS);
		break;
	}
#undef M
	return MESH_H1_M_OTHER;
}

/*
 * uri-host [":" port] in @a (@n bytes). IP-literals in brackets hold hex
 * digits, ':' and '.' (IPv6, IPv4-mapped; IPvFuture is refused). @need_port:
 * the port is mandatory (CONNECT); @allow_empty: an empty value passes (a
 * Host header may be empty). A port is 1-5 digits up to 65535.
 */
static bool valid_authority(const char *a, size_t n, bool need_port, bool allow_empty)
{
	const unsigned char *u = (const unsigned char *)a;
	size_t i = 0;
	if (n == 0)
		return allow_empty && !need_port;
	if (u[0] == '[') {
		for (i = 1; i < n && u[i] != ']'; i++) {
			if (!h1_is(u[i], H1_HEX) && u[i] != ':' && u[i] != '.')
				return false;
		}
		if (i == n || i == 1)
			return false;
		i++; /* ']' */
	} else {
		while (i < n && h1_is(u[i], H1_HOST))
			i++;
		if (i == 0)
			return false;
	}
	if (i == n)
		return !need_port;
	if (u[i] != ':')
		return false;
	i++;
	size_t ps = i;
	unsigned port = 0;
	while (i < n && u[i] >= '0' && u[i] <= '9' && i - ps < 5)
		port = port * 10 + (u[i++] - '0');
	return i == n && i > ps && port <= 65535;
}

/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static size_t scheme_len(const char *t, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)t[i];
		bool alpha = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
		if (!(alpha ||
		      (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
			break;
		i++;
	}
	return i;
}

static int parse_target(struct mesh__h1_head *h)
{
	const char *t = h->target;
	size_t n = h->target_len;
	if (h->method_id == MESH_H1_M_CONNECT) {
		/* authority-form only: "host:port" */
		if (!valid_authority(t, n, true, false))
			return MESH_H1_E_BAD_TARGET;
		h->target_form = MESH_H1_T_AUTHORITY;
		h->authority = t;
		h->authority_len = n;
		return 0;
	}
	if (t[0] == '/') {
		h->target_form = MESH_H1_T_ORIGIN;
		h->path = t;
		h->path_len = n;
		return 0;
	}
	if (n == 1 && t[0] == '*') {
		if (h->method_id != MESH_H1_M_OPTIONS)
			return MESH_H1_E_BAD_TARGET;
		h->target_form = MESH_H1_T_ASTERISK;
		h->path = t;
		h->path_len = 1;
		return 0;
	}
	/* absolute-form: scheme "://" authority path-abempty [ "?" query ] */
	size_t s = scheme_len(t, n);
	if (s == 0 || n - s < 3 || memcmp(t + s, "://", 3) != 0)
		return MESH_H1_E_BAD_TARGET;
	size_t a = s + 3, e = a;
	while (e < n && t[e] != '/' && t[e] != '?')
		e++;
	if (!valid_authority(t + a, e - a, false, false))
		return MESH_H1_E_BAD_TARGET;
	h->target_form = MESH_H1_T_ABSOLUTE;
	h->scheme = t;
	h->scheme_len = s;
	h->authority = t + a;
	h->authority_len = e - a;
	if (e == n) {
		h->path = "/";
		h->path_len = 1;
	} else {
		h->path = t + e;
		h->path_len = n - e;
	}
	return 0;
}

/* METHOD SP request-target SP HTTP-version, @l (@n bytes, no CRLF). */
static int parse_request_line(const char *l, size_t n, struct mesh__h1_head *h)
{
	const unsigned char *u = (const unsigned char *)l;
	size_t i = 0;
	if (memchr(l, '\r', n))
		return MESH_H1_E_BARE_CR;
	while (i < n && h1_is(u[i], H1_TOKEN))
		i++;
	if (i == n || (i == 0 && u[0] == ' '))
		return MESH_H1_E_BAD_REQUEST_LINE;
	if (u[i] != ' ')
		return MESH_H1_E_BAD_METHOD;
	h->method = l;
	h->method_len = i;
	h->method_id = method_id(l, i);

	size_t ts = ++i;
	while (i < n && h1_is(u[i], H1_TARGET))
		i++;
	if (i < n && u[i] != ' ')
		return MESH_H1_E_BAD_TARGET; /* HT, CTL, DEL, '#', non-ASCII */
	if (i == ts || i == n)
		return MESH_H1_E_BAD_REQUEST_LINE; /* two spaces, or no version */
	h->target = l + ts;
	h->target_len = i - ts;

	size_t vs = ++i;
	if (memchr(l + vs, ' ', n - vs) || vs == n)
		return MESH_H1_E_BAD_REQUEST_LINE;
	int rc = parse_version(l + vs, n - vs, &h->version_minor);
	if (rc)
		return rc;
	return parse_target(h);
}

/* HTTP-version SP 3DIGIT [ SP reason-phrase ], @l (@n bytes, no CRLF).
 * "HTTP/1.1 200" without the SP is accepted, as most clients do. */
static int parse_status_line(const char *l, size_t n, struct mesh__h1_head *h)
{
	const unsigned char *u = (const unsigned char *)l;
	if (memchr(l, '\r', n))
		return MESH_H1_E_BARE_CR;
	const char *sp = memchr(l, ' ', n);
	size_t vlen = sp ? (size_t)(sp - l) : n;
	int rc = parse_version(l, vlen, &h->version_minor);
	if (rc)
		return rc;
	if (n < 12 || u[8] != ' ')
		return MESH_H1_E_BAD_STATUS_LINE;
	int status = 0;
	for (size_t i = 9; i < 12; i++) {
		if (u[i] < '0' || u[i] > '9')
			return MESH_H1_E_BAD_STATUS_LINE;
		status = status * 10 + (u[i] - '0');
	}
	if (status < 100 || status > 599)
		return MESH_H1_E_BAD_STATUS;
	h->status = status;
	if (n == 12) {
		h->reason = l + n;
		return 0;
	}
	if (u[12] != ' ')
		return MESH_H1_E_BAD_STATUS_LINE;
	for (size_t i = 13; i < n; i++) {
		if (!h1_is(u[i], H1_VALUE))
			return MESH_H1_E_BAD_STATUS_LINE;
	}
	h->reason = l + 13;
	h->reason_len = n - 13;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Semantics of the fields                                             */
/* ------------------------------------------------------------------ */

/* What the framing and connection fields said. */
struct fieldinfo {
	int64_t cl; /* -1: none */
	bool te;    /* a Transfer-Encoding field */
	bool te_chunked;
	bool te_other; /* a coding other than chunked (before it) */
	bool te_trailers_only, te_seen;
	bool upgrade;
	unsigned hosts;
	const char *host;
	size_t host_len;
	unsigned flags;
};

/* Next element of a comma-separated list in @v[*i..n): its bounds with OWS
 * trimmed. Returns false at the end. Empty elements come back as empty. */
static bool next_elem(const char *v, size_t n, size_t *i, size_t *s, size_t *e)
{
	if (*i > n)
		return false;
	size_t a = *i, b;
	const char *c = memchr(v + a, ',', n - a);
	b = c ? (size_t)(c - v) : n;
	*i = b + 1;
	while (a < b && (v[a] == ' ' || v[a] == '\t'))
		a++;
	while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
		b--;
	*s = a;
	*e = b;
	return true;
}

static bool elem_is(const char *v, size_t s, size_t e, const char *lower)
{
	return mesh__h1_name_eq(v + s, e - s, lower);
}

/* Content-Length: 1#DIGIT list; identical values merge (RFC 9110 8.6). */
static int field_content_length(struct fieldinfo *fi, const char *v, size_t n)
{
	size_t i = 0, s, e;
	while (next_elem(v, n, &i, &s, &e)) {
		if (s == e)
			return MESH_H1_E_BAD_CONTENT_LENGTH;
		int64_t x = 0;
		for (size_t k = s; k < e; k++) {
			if (v[k] < '0' || v[k] > '9')
				return MESH_H1_E_BAD_CONTENT_LENGTH;
			int d = v[k] - '0';
			if (x > (INT64_MAX - d) / 10)
				return MESH_H1_E_CONTENT_LENGTH_OVERFLOW;
			x = x * 10 + d;
		}
		if (fi->cl >= 0 && fi->cl != x)
			return MESH_H1_E_CONTENT_LENGTH_MISMATCH;
		fi->cl = x;
	}
	return 0;
}

/* Transfer-Encoding: only "chunked", once, last. Codings are tokens. */
static int field_transfer_encoding(struct fieldinfo *fi, const char *v, size_t n)
{
	size_t i = 0, s, e;
	fi->te = true;
	while (next_elem(v, n, &i, &s, &e)) {
		if (s == e)
			return MESH_H1_E_BAD_TRANSFER_ENCODING;
		for (size_t k = s; k < e; k++) {
			if (!h1_is((unsigned char)v[k], H1_TOKEN))
				return MESH_H1_E_BAD_TRANSFER_ENCODING;
		}
		if (fi->te_chunked) /* chunked twice, or not last */
			return MESH_H1_E_BAD_TRANSFER_ENCODING;
		if (elem_is(v, s, e, "chunked"))
			fi->te_chunked = true;
		else
			fi->te_other = true;
	}
	return 0;
}

static void field_connection(struct fieldinfo *fi, const char *v, size_t n)
{
	size_t i = 0, s, e;
	while (next_elem(v, n, &i, &s, &e)) {
		if (elem_is(v, s, e, "close"))
			fi->flags |= MESH_H1_F_CONN_CLOSE;
		else if (elem_is(v, s, e, "keep-alive"))
			fi->flags |= MESH_H1_F_CONN_KEEP_ALIVE;
		else if (elem_is(v, s, e, "upgrade"))
			fi->flags |= MESH_H1_F_CONN_UPGRADE;
	}
}

static void field_te(struct fieldinfo *fi, const char *v, size_t n)
{
	size_t i = 0, s, e;
	if (!fi->te_seen)
		fi->te_trailers_only = true;
	fi->te_seen = true;
	bool any = false;
	while (next_elem(v, n, &i, &s, &e)) {
		if (s == e)
			continue;
		any = true;
		if (!elem_is(v, s, e, "trailers"))
			fi->te_trailers_only = false;
	}
	if (!any)
		fi->te_trailers_only = false;
}

/*
 * One pass over the fields for what framing and routing depend on.
 * @framing false: Content-Length and Transfer-Encoding are ignored (a 2xx
 * answer to CONNECT, RFC 9110 9.3.6).
 */
static int scan_fields(struct fieldinfo *fi, const struct mesh__h1_header *h, size_t n,
                       bool framing)
{
	for (size_t i = 0; i < n; i++) {
		const char *nm = h[i].name, *v = h[i].value;
		size_t nl = h[i].name_len, vl = h[i].value_len;
		int rc = 0;
		switch (nl) {
		case 2:
			if (mesh__h1_name_eq(nm, nl, "te"))
				field_te(fi, v, vl);
			break;
		case 4:
			if (mesh__h1_name_eq(nm, nl, "host")) {
				fi->hosts++;
				fi->host = v;
				fi->host_len = vl;
			}
			break;
		case 6:
			if (mesh__h1_name_eq(nm, nl, "expect") &&
			    mesh__h1_name_eq(v, vl, "100-continue"))
				fi->flags |= MESH_H1_F_EXPECT_CONTINUE;
			break;
		case 7:
			if (mesh__h1_name_eq(nm, nl, "upgrade") && vl > 0)
				fi->upgrade = true;
			break;
		case 10:
			if (mesh__h1_name_eq(nm, nl, "connection"))
				field_connection(fi, v, vl);
			break;
		case 14:
			if (framing && mesh__h1_name_eq(nm, nl, "content-length"))
				rc = field_content_length(fi, v, vl);
			break;
		case 17:
			if (framing && mesh__h1_name_eq(nm, nl, "transfer-encoding"))
				rc = field_transfer_encoding(fi, v, vl);
			break;
		}
		if (rc)
			return rc;
	}
	if (fi->cl >= 0 && fi->te)
		return MESH_H1_E_CL_AND_TE;
	return 0;
}

/* TE checks that come after the CL+TE one. */
static int check_te(const struct fieldinfo *fi, int version_minor)
{
	if (!fi->te)
		return 0;
	if (version_minor == 0)
		return MESH_H1_E_TE_IN_HTTP10;
	if (fi->te_other)
		return MESH_H1_E_UNSUPPORTED_TRANSFER_CODING;
	return 0;
}

static bool keep_alive(unsigned flags, int version_minor)
{
	if (flags & MESH_H1_F_CONN_CLOSE)
		return false;
	return version_minor >= 1 || (flags & MESH_H1_F_CONN_KEEP_ALIVE);
}

static int request_semantics(struct mesh__h1_head *h, struct fieldinfo *fi)
{
	int rc = scan_fields(fi, h->headers, h->n_headers, true);
	if (!rc)
		rc = check_te(fi, h->version_minor);
	if (rc)
		return rc;
	if (fi->hosts > 1)
		return MESH_H1_E_DUPLICATE_HOST;
	if (fi->hosts == 0 && h->version_minor == 1)
		return MESH_H1_E_MISSING_HOST;
	if (fi->hosts == 1) {
		if (!valid_authority(fi->host, fi->host_len, false, true))
			return MESH_H1_E_BAD_HOST;
		fi->flags |= MESH_H1_F_HAS_HOST;
		if (h->target_form == MESH_H1_T_ORIGIN || h->target_form == MESH_H1_T_ASTERISK) {
			h->authority = fi->host;
			h->authority_len = fi->host_len;
		}
	}

	unsigned f = fi->flags;
	h->content_length = fi->cl;
	if (fi->cl >= 0)
		f |= MESH_H1_F_CONTENT_LENGTH;
	if (fi->te) {
		f |= MESH_H1_F_CHUNKED;
		h->body = MESH_H1_BODY_CHUNKED;
	} else {
		h->body = fi->cl >= 0 ? fi->cl : MESH_H1_BODY_NONE;
	}
	if (h->method_id == MESH_H1_M_CONNECT) {
		if (fi->te || fi->cl > 0)
			return MESH_H1_E_CONNECT_WITH_BODY;
		h->body = MESH_H1_BODY_NONE;
		f |= MESH_H1_F_CONNECT | MESH_H1_F_TUNNEL;
	} else if (h->version_minor == 1 && fi->upgrade && (f & MESH_H1_F_CONN_UPGRADE)) {
		f |= MESH_H1_F_UPGRADE | MESH_H1_F_TUNNEL;
	}
	if (h->version_minor == 0)
		f &= ~(unsigned)MESH_H1_F_EXPECT_CONTINUE;
	if (fi->te_seen && fi->te_trailers_only)
		f |= MESH_H1_F_TE_TRAILERS;
	if (keep_alive(f, h->version_minor))
		f |= MESH_H1_F_KEEP_ALIVE;
	if (h->body == MESH_H1_BODY_NONE || h->body == 0)
		f |= MESH_H1_F_NO_BODY;
	h->flags = f;
	return 0;
}

static int response_semantics(struct mesh__h1_parser *p, struct mesh__h1_head *h,
                              struct fieldinfo *fi)
{
	int st = h->status;
	bool connect_ok = p->expect == H1_EXPECT_CONNECT && st >= 200 && st < 300;
	int rc = scan_fields(fi, h->headers, h->n_headers, !connect_ok);
	if (!rc)
		rc = check_te(fi, h->version_minor);
	if (rc)
		return rc;

	unsigned f = fi->flags &
	             (MESH_H1_F_CONN_CLOSE | MESH_H1_F_CONN_KEEP_ALIVE | MESH_H1_F_CONN_UPGRADE);
	h->content_length = fi->cl;
	if (fi->cl >= 0)
		f |= MESH_H1_F_CONTENT_LENGTH;
	if (p->expect == H1_EXPECT_CONNECT)
		f |= MESH_H1_F_CONNECT;
	if (p->expect == H1_EXPECT_HEAD)
		f |= MESH_H1_F_HEAD_RESPONSE;
	if (fi->te)
		f |= MESH_H1_F_CHUNKED;

	if (st < 200 || st == 204) {
		/* RFC 9110 15.2, 15.3.5: no content, and no framing for one */
		if (fi->te || fi->cl > 0)
			return MESH_H1_E_BODY_NOT_ALLOWED;
		f &= ~(unsigned)MESH_H1_F_CHUNKED;
		h->body = MESH_H1_BODY_NONE;
		if (st == 101)
			f |= MESH_H1_F_UPGRADE | MESH_H1_F_TUNNEL;
		else if (st < 200)
			f |= MESH_H1_F_INTERIM;
	} else if (connect_ok) {
		h->body = MESH_H1_BODY_NONE;
		f |= MESH_H1_F_TUNNEL;
	} else if (st == 304 || p->expect == H1_EXPECT_HEAD) {
		h->body = MESH_H1_BODY_NONE;
		f &= ~(unsigned)MESH_H1_F_CHUNKED;
	} else if (fi->te) {
		h->body = MESH_H1_BODY_CHUNKED;
	} else if (fi->cl >= 0) {
		h->body = fi->cl;
	} else {
		h->body = MESH_H1_BODY_CLOSE;
		f |= MESH_H1_F_CLOSE_DELIMITED;
	}
	if (keep_alive(f, h->version_minor) && !(f & MESH_H1_F_CLOSE_DELIMITED))
		f |= MESH_H1_F_KEEP_ALIVE;
	if (h->body == MESH_H1_BODY_NONE || h->body == 0)
		f |= MESH_H1_F_NO_BODY;
	h->flags = f;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

/* A callback's answer: 0 go on, > 0 pause (1 here), < 0 abort. */
static int cbret(struct mesh__h1_parser *p, int r)
{
	if (r < 0)
		return (int)fail(p, MESH_H1_E_CALLBACK);
	return r > 0;
}

/* The complete head @b[0..hl): parse, check, report, and pick what comes
 * next. Returns 0, 1 (paused) or a negative error. */
static int on_head_block(struct mesh__h1_parser *p, const char *b, size_t hl,
                         const struct mesh__h1_callbacks *cb, void *ud)
{
	struct mesh__h1_header hdrs[MESH_H1_MAX_HEADERS_CAP];
	struct mesh__h1_head h;
	struct fieldinfo fi;
	memset(&h, 0, sizeof(h));
	memset(&fi, 0, sizeof(fi));
	fi.cl = -1;

	const char *nl = memchr(b, '\n', hl); /* scan_block found it */
	size_t ll = (size_t)(nl - b) - 1;
	int rc = p->type == MESH_H1_REQUEST ? parse_request_line(b, ll, &h)
	                                    : parse_status_line(b, ll, &h);
	if (rc)
		return rc;
	rc = parse_fields(b, ll + 2, hl - 2, hdrs, p->lim.max_headers, &h.n_headers);
	if (rc)
		return rc;
	h.headers = hdrs;
	rc = p->type == MESH_H1_REQUEST ? request_semantics(&h, &fi)
	                                : response_semantics(p, &h, &fi);
	if (rc)
		return rc;

	p->msg_flags = h.flags;
	p->msg_version = (uint8_t)h.version_minor;
	p->ext_total = 0;
	if (h.flags & MESH_H1_F_NO_BODY) {
		p->state = H1_S_MSG_END;
	} else if (h.body == MESH_H1_BODY_CHUNKED) {
		p->state = H1_S_CHUNK_LINE;
	} else if (h.body == MESH_H1_BODY_CLOSE) {
		p->state = H1_S_BODY_CLOSE;
	} else {
		p->state = H1_S_BODY_LENGTH;
		p->remaining = (uint64_t)h.body;
	}
	scan_reset(p);
	return cb->on_head ? cbret(p, cb->on_head(ud, &h)) : 0;
}

/* A complete trailer section @b[0..tl): parse and report it. Returns 0,
 * 1 (paused) or a negative error. */
static int on_trailer_block(struct mesh__h1_parser *p, const char *b, size_t tl,
                            const struct mesh__h1_callbacks *cb, void *ud)
{
	struct mesh__h1_header tr[MESH_H1_MAX_HEADERS_CAP];
	size_t n = 0;
	int rc = parse_fields(b, 0, tl - 2, tr, p->lim.max_headers, &n);
	if (rc)
		return rc;
	scan_reset(p);
	p->state = H1_S_MSG_END;
	if (n == 0 || !cb->on_trailers)
		return 0;
	return cbret(p, cb->on_trailers(ud, tr, n));
}

/* on_end, after choosing the state that follows the message. */
static int message_end(struct mesh__h1_parser *p, const struct mesh__h1_callbacks *cb, void *ud)
{
	unsigned f = p->msg_flags;
	if (f & MESH_H1_F_TUNNEL)
		p->state = H1_S_TUNNEL;
	else if (!(f & MESH_H1_F_INTERIM) && !(f & MESH_H1_F_KEEP_ALIVE))
		p->state = H1_S_CLOSED;
	else
		p->state = H1_S_START;
	if (p->type == MESH_H1_RESPONSE && !(f & MESH_H1_F_INTERIM))
		p->expect = H1_EXPECT_NONE;
	return cb->on_end ? cbret(p, cb->on_end(ud)) : 0;
}

/* A chunk-size line @l (@n bytes, no CRLF): size and extensions. */
static int parse_chunk_line(struct mesh__h1_parser *p, const char *l, size_t n, uint64_t *size)
{
	const unsigned char *u = (const unsigned char *)l;
	size_t i = 0;
	uint64_t v = 0;
	while (i < n && h1_is(u[i], H1_HEX)) {
		unsigned d = u[i] <= '9' ? u[i] - '0' : (u[i] | 0x20) - 'a' + 10;
		if (v > ((uint64_t)INT64_MAX - d) / 16)
			return MESH_H1_E_CHUNK_SIZE_OVERFLOW;
		v = v * 16 + d;
		i++;
	}
	if (i == 0)
		return MESH_H1_E_BAD_CHUNK_SIZE;
	*size = v;
	size_t es = i;
	while (i < n && (u[i] == ' ' || u[i] == '\t'))
		i++;
	if (i == n)
		return i == es ? 0 : MESH_H1_E_BAD_CHUNK_SIZE;
	if (u[i] != ';')
		return MESH_H1_E_BAD_CHUNK_SIZE;
	/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) */
	while (i < n) {
		if (u[i] != ';')
			return MESH_H1_E_BAD_CHUNK_EXT;
		i++;
		while (i < n && (u[i] == ' ' || u[i] == '\t'))
			i++;
		size_t ns = i;
		while (i < n && h1_is(u[i], H1_TOKEN))
			i++;
		if (i == ns)
			return MESH_H1_E_BAD_CHUNK_EXT;
		while (i < n && (u[i] == ' ' || u[i] == '\t'))
			i++;
		if (i < n && u[i] == '=') {
			i++;
			while (i < n && (u[i] == ' ' || u[i] == '\t'))
				i++;
			if (i < n && u[i] == '"') {
				i++;
				for (;;) {
					if (i == n)
						return MESH_H1_E_BAD_CHUNK_EXT;
					if (u[i] == '"')
						break;
					if (u[i] == '\\') {
						if (i + 1 == n || !h1_is(u[i + 1], H1_VALUE))
							return MESH_H1_E_BAD_CHUNK_EXT;
						i += 2;
					} else if (h1_is(u[i], H1_QDTEXT)) {
						i++;
					} else {
						return MESH_H1_E_BAD_CHUNK_EXT;
					}
				}
				i++;
			} else {
				size_t vs = i;
				while (i < n && h1_is(u[i], H1_TOKEN))
					i++;
				if (i == vs)
					return MESH_H1_E_BAD_CHUNK_EXT;
			}
			while (i < n && (u[i] == ' ' || u[i] == '\t'))
				i++;
		}
	}
	uint64_t total = (uint64_t)p->ext_total + (n - es);
	if (total > p->lim.max_chunk_ext)
		return MESH_H1_E_CHUNK_EXT_TOO_LONG;
	p->ext_total = (uint32_t)total;
	return 0;
}

/* Find a chunk-size line's end: its length with CRLF, 0 for more, or an
 * error. Resumable through p->scan like scan_block. */
static long scan_chunk_line(struct mesh__h1_parser *p, const char *b, size_t avail)
{
	const uint32_t max = p->lim.max_chunk_line;
	if (p->scan > avail)
		p->scan = 0;
	const char *nl = memchr(b + p->scan, '\n', avail - p->scan);
	if (!nl) {
		p->scan = (uint32_t)(avail > UINT32_MAX ? UINT32_MAX : avail);
		return avail > max ? MESH_H1_E_CHUNK_LINE_TOO_LONG : 0;
	}
	size_t e = (size_t)(nl - b);
	if (e + 1 > max) /* first, as a split input would see it first */
		return MESH_H1_E_CHUNK_LINE_TOO_LONG;
	if (e == 0 || b[e - 1] != '\r')
		return MESH_H1_E_BARE_LF;
	return (long)(e + 1);
}

/* ------------------------------------------------------------------ */
/* The state machine                                                   */
/* ------------------------------------------------------------------ */

long mesh__h1_parse(struct mesh__h1_parser *p, const char *buf, size_t len,
                    const struct mesh__h1_callbacks *cb, void *ud)
{
	size_t pos = 0;
	int r;
	if (len > (size_t)LONG_MAX)
		len = (size_t)LONG_MAX;
	for (;;) {
		switch (p->state) {
		case H1_S_START:
			if (pos == len)
				return (long)pos;
			if (buf[pos] == '\r') {
				pos++;
				p->state = H1_S_START_LF;
			} else if (buf[pos] == '\n') {
				return fail(p, MESH_H1_E_BARE_LF);
			} else {
				p->state = H1_S_HEAD;
				scan_reset(p);
			}
			break;

		case H1_S_START_LF:
			if (pos == len)
				return (long)pos;
			if (buf[pos] != '\n')
				return fail(p, MESH_H1_E_BARE_CR);
			pos++;
			p->state = H1_S_START;
			break;

		case H1_S_HEAD: {
			if (pos == len)
				return (long)pos;
			long hl = scan_block(p, buf + pos, len - pos, true);
			if (hl < 0)
				return fail(p, (int)hl);
			if (hl == 0)
				return (long)pos;
			r = on_head_block(p, buf + pos, (size_t)hl, cb, ud);
			if (r < 0)
				return fail(p, r);
			pos += (size_t)hl;
			if (r > 0)
				return (long)pos;
			break;
		}

		case H1_S_BODY_LENGTH:
		case H1_S_CHUNK_DATA: {
			if (pos == len)
				return (long)pos;
			size_t n = len - pos;
			if (n > p->remaining)
				n = (size_t)p->remaining;
			p->remaining -= n;
			if (p->remaining == 0)
				p->state =
					p->state == H1_S_BODY_LENGTH ? H1_S_MSG_END : H1_S_CHUNK_CR;
			r = cb->on_body ? cbret(p, cb->on_body(ud, buf + pos, n)) : 0;
			if (r < 0)
				return p->err;
			pos += n;
			if (r > 0)
				return (long)pos;
			break;
		}

		case H1_S_BODY_CLOSE:
			if (pos == len)
				return (long)pos;
			r = cb->on_body ? cbret(p, cb->on_body(ud, buf + pos, len - pos)) : 0;
			if (r < 0)
				return p->err;
			pos = len;
			if (r > 0)
				return (long)pos;
			break;

		case H1_S_CHUNK_LINE: {
			if (pos == len)
				return (long)pos;
			long ll = scan_chunk_line(p, buf + pos, len - pos);
			if (ll < 0)
				return fail(p, (int)ll);
			if (ll == 0)
				return (long)pos;
			uint64_t size = 0;
			int rc = parse_chunk_line(p, buf + pos, (size_t)ll - 2, &size);
			if (rc)
				return fail(p, rc);
			pos += (size_t)ll;
			scan_reset(p);
			if (size == 0) {
				p->state = H1_S_TRAILERS;
			} else {
				p->state = H1_S_CHUNK_DATA;
				p->remaining = size;
			}
			break;
		}

		case H1_S_CHUNK_CR:
			if (pos == len)
				return (long)pos;
			if (buf[pos] != '\r')
				return fail(p, buf[pos] == '\n' ? MESH_H1_E_BARE_LF
				                                : MESH_H1_E_CHUNK_MISSING_CRLF);
			pos++;
			p->state = H1_S_CHUNK_LF;
			break;

		case H1_S_CHUNK_LF:
			if (pos == len)
				return (long)pos;
			if (buf[pos] != '\n')
				return fail(p, MESH_H1_E_CHUNK_MISSING_CRLF);
			pos++;
			p->state = H1_S_CHUNK_LINE;
			scan_reset(p);
			break;

		case H1_S_TRAILERS: {
			if (pos == len)
				return (long)pos;
			long tl = scan_block(p, buf + pos, len - pos, false);
			if (tl < 0)
				return fail(p, (int)tl);
			if (tl == 0)
				return (long)pos;
			r = on_trailer_block(p, buf + pos, (size_t)tl, cb, ud);
			if (r < 0)
				return fail(p, r);
			pos += (size_t)tl;
			if (r > 0)
				return (long)pos;
			break;
		}

		case H1_S_MSG_END:
			r = message_end(p, cb, ud);
			if (r < 0)
				return p->err;
			if (r > 0)
				return (long)pos;
			break;

		case H1_S_TUNNEL:
		case H1_S_CLOSED: return (long)pos;

		case H1_S_ERROR:
		default: return p->err ? p->err : fail(p, MESH_H1_E_CALLBACK);
		}
	}
}

int mesh__h1_parse_eof(struct mesh__h1_parser *p, const struct mesh__h1_callbacks *cb, void *ud)
{
	switch (p->state) {
	case H1_S_START:
	case H1_S_START_LF:
	case H1_S_TUNNEL:
	case H1_S_CLOSED: return 0;
	case H1_S_BODY_CLOSE:
		p->msg_flags &= ~(unsigned)MESH_H1_F_KEEP_ALIVE;
		/* fall through */
	case H1_S_MSG_END:
		if (message_end(p, cb, ud) < 0)
			return p->err;
		if (p->state == H1_S_START)
			p->state = H1_S_CLOSED;
		return 0;
	case H1_S_ERROR: return p->err;
	default: return (int)fail(p, MESH_H1_E_INCOMPLETE);
	}
}
