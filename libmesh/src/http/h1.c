/* h1.c - HTTP/1 codec: character classes, error strings and statuses,
 * parser set-up and state, hop-by-hop header rules, reason phrases. */
#include <string.h>

#include "h1_int.h"

/* Generated: bit 0x01 tchar, 0x02 field value byte, 0x04 target byte,
 * 0x08 host byte, 0x10 HEXDIG, 0x20 qdtext (see h1_int.h). */
const uint8_t mesh__h1_ctype[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x22, 0x2f, 0x06, 0x23, 0x2f, 0x2f, 0x2f, 0x2f, 0x2e, 0x2e, 0x2f, 0x2f, 0x2e,
	0x2f, 0x2f, 0x26, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x26, 0x2e,
	0x26, 0x2e, 0x26, 0x26, 0x26, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x2f, 0x2f, 0x2f, 0x2f,
	0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f,
	0x2f, 0x26, 0x06, 0x26, 0x27, 0x2f, 0x27, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x2f, 0x2f,
	0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f,
	0x2f, 0x2f, 0x2f, 0x26, 0x27, 0x26, 0x2f, 0x00, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22,
};

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

struct errinfo {
	int status;
	const char *msg;
};

/* Indexed by -err. Append-only, as the codes are. */
static const struct errinfo errors[] = {
	[0] = { 0, "success" },
	[-MESH_H1_E_CALLBACK] = { 500, "parsing aborted by a callback" },
	[-MESH_H1_E_BARE_LF] = { 400, "line ends with LF without CR" },
	[-MESH_H1_E_BARE_CR] = { 400, "CR not followed by LF" },
	[-MESH_H1_E_BAD_METHOD] = { 400, "method is not a token" },
	[-MESH_H1_E_BAD_REQUEST_LINE] = { 400, "malformed request line" },
	[-MESH_H1_E_BAD_TARGET] = { 400, "invalid request-target" },
	[-MESH_H1_E_URI_TOO_LONG] = { 414, "request line too long" },
	[-MESH_H1_E_BAD_VERSION] = { 400, "malformed HTTP version" },
	[-MESH_H1_E_VERSION_NOT_SUPPORTED] = { 505, "HTTP version not supported" },
	[-MESH_H1_E_BAD_STATUS_LINE] = { 502, "malformed status line" },
	[-MESH_H1_E_BAD_STATUS] = { 502, "status code out of range" },
	[-MESH_H1_E_STATUS_LINE_TOO_LONG] = { 502, "status line too long" },
	[-MESH_H1_E_OBS_FOLD] = { 400, "obsolete line folding" },
	[-MESH_H1_E_BAD_HEADER_NAME] = { 400, "invalid header name" },
	[-MESH_H1_E_NO_COLON] = { 400, "header line without colon" },
	[-MESH_H1_E_WS_BEFORE_COLON] = { 400, "whitespace between header name and colon" },
	[-MESH_H1_E_BAD_HEADER_VALUE] = { 400, "invalid character in header value" },
	[-MESH_H1_E_HEADERS_TOO_LARGE] = { 431, "header section too large" },
	[-MESH_H1_E_TOO_MANY_HEADERS] = { 431, "too many header fields" },
	[-MESH_H1_E_MISSING_HOST] = { 400, "HTTP/1.1 request without Host" },
	[-MESH_H1_E_DUPLICATE_HOST] = { 400, "more than one Host header" },
	[-MESH_H1_E_BAD_HOST] = { 400, "invalid Host header" },
	[-MESH_H1_E_BAD_CONTENT_LENGTH] = { 400, "invalid Content-Length" },
	[-MESH_H1_E_CONTENT_LENGTH_OVERFLOW] = { 400, "Content-Length too large" },
	[-MESH_H1_E_CONTENT_LENGTH_MISMATCH] = { 400, "conflicting Content-Length values" },
	[-MESH_H1_E_CL_AND_TE] = { 400, "Content-Length and Transfer-Encoding together" },
	[-MESH_H1_E_BAD_TRANSFER_ENCODING] = { 400, "invalid Transfer-Encoding" },
	[-MESH_H1_E_UNSUPPORTED_TRANSFER_CODING] = { 501, "unsupported transfer coding" },
	[-MESH_H1_E_TE_IN_HTTP10] = { 400, "Transfer-Encoding in an HTTP/1.0 message" },
	[-MESH_H1_E_BAD_CHUNK_SIZE] = { 400, "invalid chunk size" },
	[-MESH_H1_E_CHUNK_SIZE_OVERFLOW] = { 400, "chunk size too large" },
	[-MESH_H1_E_CHUNK_LINE_TOO_LONG] = { 400, "chunk-size line too long" },
	[-MESH_H1_E_BAD_CHUNK_EXT] = { 400, "invalid chunk extension" },
	[-MESH_H1_E_CHUNK_EXT_TOO_LONG] = { 400, "chunk extensions too long" },
	[-MESH_H1_E_CHUNK_MISSING_CRLF] = { 400, "chunk data not followed by CRLF" },
	[-MESH_H1_E_CONNECT_WITH_BODY] = { 400, "CONNECT request with a body" },
	[-MESH_H1_E_BODY_NOT_ALLOWED] = { 502, "body framing in a 1xx or 204 response" },
	[-MESH_H1_E_INCOMPLETE] = { 400, "connection closed inside a message" },
};

static const struct errinfo *errinfo(int err)
{
	if (err > 0 || (size_t) - (long)err >= MESH_ARRAY_LEN(errors) || !errors[-err].msg)
		return NULL;
	return &errors[-err];
}

const char *mesh__h1_strerror(int err)
{
	const struct errinfo *e = errinfo(err);
	return e ? e->msg : "unknown error";
}

int mesh__h1_error_status(int err)
{
	const struct errinfo *e = errinfo(err);
	return e ? e->status : 400;
}

/* ------------------------------------------------------------------ */
/* Parser set-up and state                                             */
/* ------------------------------------------------------------------ */

static uint32_t limit(uint32_t v, uint32_t def, uint32_t cap)
{
	if (v == 0)
		v = def;
	return v > cap ? cap : v;
}

void mesh__h1_parser_init(struct mesh__h1_parser *p, int type, const struct mesh__h1_limits *lim)
{
	struct mesh__h1_limits l = { 0 };
	if (lim)
		l = *lim;
	memset(p, 0, sizeof(*p));
	p->type = type == MESH_H1_RESPONSE ? MESH_H1_RESPONSE : MESH_H1_REQUEST;
	p->lim.max_head_bytes =
		limit(l.max_head_bytes, MESH_H1_DEFAULT_MAX_HEAD_BYTES, MESH_H1_MAX_HEAD_BYTES_CAP);
	p->lim.max_headers =
		limit(l.max_headers, MESH_H1_DEFAULT_MAX_HEADERS, MESH_H1_MAX_HEADERS_CAP);
	/* a start line never exceeds the head it is part of */
	p->lim.max_start_line =
		limit(l.max_start_line, MESH_H1_DEFAULT_MAX_START_LINE, p->lim.max_head_bytes);
	p->lim.max_chunk_line =
		limit(l.max_chunk_line, MESH_H1_DEFAULT_MAX_CHUNK_LINE, MESH_H1_MAX_HEAD_BYTES_CAP);
	p->lim.max_chunk_ext = limit(l.max_chunk_ext, MESH_H1_DEFAULT_MAX_CHUNK_EXT, UINT32_MAX);
	p->state = H1_S_START;
}

void mesh__h1_parser_reset(struct mesh__h1_parser *p)
{
	struct mesh__h1_limits l = p->lim;
	mesh__h1_parser_init(p, p->type, &l);
}

int mesh__h1_parser_state(const struct mesh__h1_parser *p)
{
	switch (p->state) {
	case H1_S_START:
	case H1_S_START_LF: return MESH_H1_IDLE;
	case H1_S_HEAD: return MESH_H1_HEAD;
	case H1_S_TUNNEL: return MESH_H1_TUNNEL;
	case H1_S_CLOSED: return MESH_H1_CLOSED;
	case H1_S_ERROR: return MESH_H1_ERROR;
	default: return MESH_H1_BODY;
	}
}

void mesh__h1_parser_set_request_method(struct mesh__h1_parser *p, const char *method, size_t len)
{
	if (len == 4 && memcmp(method, "HEAD", 4) == 0)
		p->expect = H1_EXPECT_HEAD;
	else if (len == 7 && memcmp(method, "CONNECT", 7) == 0)
		p->expect = H1_EXPECT_CONNECT;
	else
		p->expect = H1_EXPECT_NONE;
}

int mesh__h1_parser_resume(struct mesh__h1_parser *p)
{
	if (p->type != MESH_H1_REQUEST || p->state != H1_S_TUNNEL)
		return MESH_EINVAL;
	p->state = (p->msg_flags & MESH_H1_F_KEEP_ALIVE) ? H1_S_START : H1_S_CLOSED;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Header helpers                                                      */
/* ------------------------------------------------------------------ */

bool mesh__h1_name_eq(const char *a, size_t alen, const char *lower)
{
	size_t i;
	for (i = 0; i < alen; i++) {
		if (lower[i] == '\0' || h1_lower((unsigned char)a[i]) != (unsigned char)lower[i])
			return false;
	}
	return lower[i] == '\0';
}

/* Whether the comma-separated list @v contains the token @name (case
 * insensitive), elements trimmed of OWS. */
static bool list_has(const char *v, size_t vlen, const char *name, size_t nlen)
{
	size_t i = 0;
	while (i < vlen) {
		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < vlen && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == nlen) {
			size_t k;
			for (k = 0; k < nlen; k++) {
				if (h1_lower((unsigned char)v[s + k]) !=
				    h1_lower((unsigned char)name[k]))
					break;
			}
			if (k == nlen)
				return true;
		}
	}
	return false;
}

bool mesh__h1_is_hop_header(const char *name, size_t len, const struct mesh__h1_head *head)
{
	unsigned flags = head ? head->flags : 0;
	switch (len) {
	case 2:
		if (mesh__h1_name_eq(name, len, "te"))
			return !(flags & MESH_H1_F_TE_TRAILERS);
		break;
	case 4:
		if (mesh__h1_name_eq(name, len, "host"))
			return false;
		break;
	case 7:
		if (mesh__h1_name_eq(name, len, "upgrade"))
			return !(flags & MESH_H1_F_UPGRADE);
		break;
	case 10:
		if (mesh__h1_name_eq(name, len, "connection") ||
		    mesh__h1_name_eq(name, len, "keep-alive"))
			return true;
		break;
	case 16:
		if (mesh__h1_name_eq(name, len, "proxy-connection"))
			return true;
		break;
	case 17:
		if (mesh__h1_name_eq(name, len, "transfer-encoding"))
			return true;
		break;
	}
	if (!head)
		return false;
	for (size_t i = 0; i < head->n_headers; i++) {
		const struct mesh__h1_header *h = &head->headers[i];
		if (mesh__h1_name_eq(h->name, h->name_len, "connection") &&
		    list_has(h->value, h->value_len, name, len))
			return true;
	}
	return false;
}

bool mesh__h1_is_forbidden_trailer(const char *name, size_t len)
{
	static const char *const names[] = {
		"content-length",
		"transfer-encoding",
		"host",
		"content-type",
		"content-encoding",
		"content-range",
		"trailer",
		"authorization",
		"set-cookie",
		"cookie",
		"expect",
		"max-forwards",
		"cache-control",
		"te",
		"upgrade",
		"connection",
		"keep-alive",
		"proxy-connection",
		"proxy-authorization",
		"proxy-authenticate",
		"www-authenticate",
	};
	for (size_t i = 0; i < MESH_ARRAY_LEN(names); i++) {
		if (mesh__h1_name_eq(name, len, names[i]))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Reason phrases                                                      */
/* ------------------------------------------------------------------ */

const char *mesh__h1_reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 208: return "Already Reported";
	case 226: return "IM Used";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 506: return "Variant Also Negotiates";
	case 507: return "Insufficient Storage";
	case 508: return "Loop Detected";
	case 510: return "Not Extended";
	case 511: return "Network Authentication Required";
	default: return "Unknown";
	}
}
