/*
 * h1.h - the HTTP/1.1 codec (library-internal): an incremental, zero-copy
 * parser for requests and responses (RFC 9112) that refuses every
 * request-smuggling shape, and the serializers the engine writes with.
 *
 * No I/O, no allocation while parsing, no recursion, O(n) in the input.
 * The user-facing description (behaviour, limits, error -> status table,
 * differences from Envoy) is docs/reference/http1.md.
 *
 * Thread safety: a parser belongs to one thread (one connection). The free
 * functions (strerror, error_status, serializers, header helpers) are
 * reentrant.
 *
 * How the engine drives a parser
 * ------------------------------
 *
 *	struct mesh__h1_parser p;
 *	mesh__h1_parser_init(&p, MESH_H1_REQUEST, &limits);   // NULL: defaults
 *	...on readable:
 *	n = mesh__h1_parse(&p, buf, len, &callbacks, stream);
 *	if (n < 0) -> answer mesh__h1_error_status(n), close the connection
 *	drop the first n bytes of buf; keep the rest; then look at
 *	mesh__h1_parser_state(&p):
 *	  MESH_H1_IDLE / HEAD / BODY: read more and call again with the kept
 *	      bytes followed by the new ones (or call again now, if a callback
 *	      paused the parser);
 *	  MESH_H1_TUNNEL: the kept bytes are tunnel payload (see below);
 *	  MESH_H1_CLOSED: the last message was not keep-alive: parse no more.
 *	...on EOF:
 *	rc = mesh__h1_parse_eof(&p, &callbacks, stream);
 *
 * Bytes that are not consumed: a header block (start line + fields) or a
 * trailer section or a chunk-size line is consumed only once it is complete,
 * so the pointers handed to on_head / on_trailers point into the caller's
 * buffer. The caller must pass the unconsumed bytes again, at the start of
 * the next buffer, followed by new ones (a ring buffer must present them
 * contiguously). The parser remembers how far it has scanned, so feeding a
 * header block one byte at a time stays linear.
 *
 * Callbacks: each returns 0 to go on, > 0 to pause, < 0 to abort.
 *  - pause: mesh__h1_parse returns at once; the bytes of the event just
 *    reported are counted as consumed. Call mesh__h1_parse again (with
 *    len 0 if nothing is buffered) to go on: a message-end pending after a
 *    paused on_head / on_body / on_trailers is delivered by that call.
 *    Returning > 0 from on_end is how the engine parses one pipelined
 *    request at a time.
 *  - abort: the parser enters the error state and mesh__h1_parse returns
 *    MESH_H1_E_CALLBACK.
 *
 * Tunnels: a CONNECT request, or a request with "Upgrade" named in
 * "Connection" (HTTP/1.1 only), ends with state MESH_H1_TUNNEL pending the
 * upstream's answer: when the answer accepts (2xx to CONNECT, 101), what
 * follows on the connection is tunnel payload; when it refuses, call
 * mesh__h1_parser_resume() to go back to HTTP (it may be called from on_end,
 * for example to ignore "Upgrade: h2c"). A response with status 101, or a
 * 2xx response to CONNECT, ends HTTP framing for good.
 */
#ifndef MESH_SRC_HTTP_H1_H
#define MESH_SRC_HTTP_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/core.h"

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

/* Defaults (Envoy's where Envoy has one). */
#define MESH_H1_DEFAULT_MAX_HEAD_BYTES (60 * 1024)
#define MESH_H1_DEFAULT_MAX_HEADERS 100
#define MESH_H1_DEFAULT_MAX_START_LINE (16 * 1024)
#define MESH_H1_DEFAULT_MAX_CHUNK_LINE 4096
#define MESH_H1_DEFAULT_MAX_CHUNK_EXT (64 * 1024)

/* Hard caps: a limit above one is lowered to it. The header array is
 * MESH_H1_MAX_HEADERS_CAP entries on the stack of mesh__h1_parse (8 KiB),
 * not in the parser, so an idle connection costs sizeof(parser) (~64 bytes)
 * rather than the array: the engine's target is < 2 KB per idle keep-alive
 * connection. */
#define MESH_H1_MAX_HEADERS_CAP 256
#define MESH_H1_MAX_HEAD_BYTES_CAP (1024 * 1024)

/*
 * Limits of one parser. A field left 0 takes its default.
 *  max_head_bytes  start line + header fields + their CRLFs + the blank line
 *                  (431); the same limit applies to a trailer section.
 *  max_headers     header fields in a head, or in a trailer section (431).
 *  max_start_line  request line (414 URI Too Long) / status line.
 *  max_chunk_line  one chunk-size line, extensions and CRLF included (400).
 *  max_chunk_ext   chunk-extension bytes over a whole message (400): a
 *                  stream of tiny chunks with long extensions is refused.
 */
struct mesh__h1_limits {
	uint32_t max_head_bytes;
	uint32_t max_headers;
	uint32_t max_start_line;
	uint32_t max_chunk_line;
	uint32_t max_chunk_ext;
};

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * Parse errors: negative, distinct, append-only (a retired code keeps its
 * number). After one, the parser stays in MESH_H1_ERROR and returns the
 * same code; the engine answers mesh__h1_error_status() (request side) or
 * 502 (response side) and closes the connection.
 */
enum mesh__h1_error {
	MESH_H1_OK = 0,
	MESH_H1_E_CALLBACK = -1,                 /* a callback returned < 0 */
	MESH_H1_E_BARE_LF = -2,                  /* LF not preceded by CR */
	MESH_H1_E_BARE_CR = -3,                  /* CR not followed by LF */
	MESH_H1_E_BAD_METHOD = -4,               /* method is not a token */
	MESH_H1_E_BAD_REQUEST_LINE = -5,         /* not "METHOD SP target SP version" */
	MESH_H1_E_BAD_TARGET = -6,               /* bad request-target (or form/method mismatch) */
	MESH_H1_E_URI_TOO_LONG = -7,             /* request line > max_start_line */
	MESH_H1_E_BAD_VERSION = -8,              /* not "HTTP/" DIGIT "." DIGIT */
	MESH_H1_E_VERSION_NOT_SUPPORTED = -9,    /* well formed, but not 1.0 or 1.1 */
	MESH_H1_E_BAD_STATUS_LINE = -10,         /* response: not "version SP 3DIGIT [SP reason]" */
	MESH_H1_E_BAD_STATUS = -11,              /* response: status outside 100-599 */
	MESH_H1_E_STATUS_LINE_TOO_LONG = -12,    /* response: status line > max_start_line */
	MESH_H1_E_OBS_FOLD = -13,                /* a field line starts with SP or HT */
	MESH_H1_E_BAD_HEADER_NAME = -14,         /* empty or non-token field name */
	MESH_H1_E_NO_COLON = -15,                /* field line without ':' */
	MESH_H1_E_WS_BEFORE_COLON = -16,         /* "Name : value" */
	MESH_H1_E_BAD_HEADER_VALUE = -17,        /* control character (other than HT) in a value */
	MESH_H1_E_HEADERS_TOO_LARGE = -18,       /* head or trailers > max_head_bytes */
	MESH_H1_E_TOO_MANY_HEADERS = -19,        /* more than max_headers fields */
	MESH_H1_E_MISSING_HOST = -20,            /* HTTP/1.1 request without Host */
	MESH_H1_E_DUPLICATE_HOST = -21,          /* more than one Host */
	MESH_H1_E_BAD_HOST = -22,                /* Host value is not uri-host [":" port] */
	MESH_H1_E_BAD_CONTENT_LENGTH = -23,      /* not 1*DIGIT (or an empty list element) */
	MESH_H1_E_CONTENT_LENGTH_OVERFLOW = -24, /* > INT64_MAX */
	MESH_H1_E_CONTENT_LENGTH_MISMATCH = -25, /* two different Content-Length values */
	MESH_H1_E_CL_AND_TE = -26,               /* Content-Length and Transfer-Encoding */
	MESH_H1_E_BAD_TRANSFER_ENCODING = -27,   /* syntax, chunked not last, chunked twice */
	MESH_H1_E_UNSUPPORTED_TRANSFER_CODING = -28, /* a coding other than chunked */
	MESH_H1_E_TE_IN_HTTP10 = -29,                /* Transfer-Encoding in an HTTP/1.0 message */
	MESH_H1_E_BAD_CHUNK_SIZE = -30,              /* not 1*HEXDIG, or junk after it */
	MESH_H1_E_CHUNK_SIZE_OVERFLOW = -31,         /* > INT64_MAX */
	MESH_H1_E_CHUNK_LINE_TOO_LONG = -32,         /* chunk-size line > max_chunk_line */
	MESH_H1_E_BAD_CHUNK_EXT = -33,               /* malformed chunk extension */
	MESH_H1_E_CHUNK_EXT_TOO_LONG = -34,          /* extensions of a message > max_chunk_ext */
	MESH_H1_E_CHUNK_MISSING_CRLF = -35,          /* chunk data not followed by CRLF */
	MESH_H1_E_CONNECT_WITH_BODY = -36,           /* CONNECT with Transfer-Encoding or CL > 0 */
	MESH_H1_E_BODY_NOT_ALLOWED = -37,            /* response: TE or CL > 0 in 1xx / 204 */
	MESH_H1_E_INCOMPLETE = -38,                  /* EOF inside a message (mesh__h1_parse_eof) */
};

/* A static, never-NULL description of @err ("Content-Length and
 * Transfer-Encoding together"). Unknown codes give "unknown error". */
const char *mesh__h1_strerror(int err);

/* The status a server answers to a request that failed with @err:
 * 400, 414 (URI_TOO_LONG), 431 (HEADERS_TOO_LARGE, TOO_MANY_HEADERS),
 * 501 (UNSUPPORTED_TRANSFER_CODING), 505 (VERSION_NOT_SUPPORTED), 500
 * (CALLBACK: the engine's own abort), 502 for the response-only errors;
 * 0 for 0. A proxy whose upstream response fails to parse answers 502
 * whatever the code. */
int mesh__h1_error_status(int err);

/* ------------------------------------------------------------------ */
/* Parsed messages                                                     */
/* ------------------------------------------------------------------ */

struct mesh__h1_header {
	const char *name;
	size_t name_len;
	const char *value; /* leading and trailing SP / HT removed */
	size_t value_len;
};

enum mesh__h1_method {
	MESH_H1_M_OTHER = 0, /* an extension method: read head->method */
	MESH_H1_M_GET,
	MESH_H1_M_HEAD,
	MESH_H1_M_POST,
	MESH_H1_M_PUT,
	MESH_H1_M_DELETE,
	MESH_H1_M_CONNECT,
	MESH_H1_M_OPTIONS,
	MESH_H1_M_TRACE,
	MESH_H1_M_PATCH,
};

enum mesh__h1_target_form {
	MESH_H1_T_ORIGIN = 0, /* "/path?query" */
	MESH_H1_T_ABSOLUTE,   /* "http://authority/path?query" (proxies) */
	MESH_H1_T_AUTHORITY,  /* "host:port" (CONNECT only) */
	MESH_H1_T_ASTERISK,   /* "*" (OPTIONS only) */
};

/* Body framing: the value of head->body, and the body argument of the
 * serializers. A value >= 0 is a Content-Length. */
#define MESH_H1_BODY_CHUNKED ((int64_t)-1) /* Transfer-Encoding: chunked */
#define MESH_H1_BODY_NONE ((int64_t)-2)    /* no body, no framing header */
#define MESH_H1_BODY_CLOSE ((int64_t)-3)   /* response body until the connection closes */

/* head->flags */
enum {
	MESH_H1_F_CHUNKED = 1u << 0,          /* the body is chunked */
	MESH_H1_F_CONTENT_LENGTH = 1u << 1,   /* a Content-Length header was present */
	MESH_H1_F_KEEP_ALIVE = 1u << 2,       /* the connection persists after this message */
	MESH_H1_F_CONN_CLOSE = 1u << 3,       /* "Connection: close" */
	MESH_H1_F_CONN_KEEP_ALIVE = 1u << 4,  /* "Connection: keep-alive" */
	MESH_H1_F_CONN_UPGRADE = 1u << 5,     /* "Connection: upgrade" */
	MESH_H1_F_UPGRADE = 1u << 6,          /* request: upgrade asked (1.1, Upgrade + Connection:
	                                         upgrade); response: status 101 */
	MESH_H1_F_EXPECT_CONTINUE = 1u << 7,  /* request: "Expect: 100-continue" (HTTP/1.1) */
	MESH_H1_F_CONNECT = 1u << 8,          /* CONNECT request, or a response to one */
	MESH_H1_F_TUNNEL = 1u << 9,           /* after this message the connection is (request:
	                                         may become) a tunnel */
	MESH_H1_F_NO_BODY = 1u << 10,         /* on_end follows on_head: no body */
	MESH_H1_F_CLOSE_DELIMITED = 1u << 11, /* response body ends at EOF */
	MESH_H1_F_TE_TRAILERS = 1u << 12,     /* request: TE is exactly "trailers" (gRPC) */
	MESH_H1_F_INTERIM = 1u << 13,         /* response: 1xx other than 101; the final
	                                         response follows */
	MESH_H1_F_HEAD_RESPONSE = 1u << 14,   /* response: to a HEAD request */
	MESH_H1_F_HAS_HOST = 1u << 15,        /* request: a Host header was present */
};

/*
 * A message head, built on mesh__h1_parse's stack: it and every pointer in
 * it (into the caller's buffer, or static strings) are valid during
 * on_head only; copy what must outlive it.
 */
struct mesh__h1_head {
	int version_minor; /* 0 or 1 (HTTP/1.0, HTTP/1.1) */
	unsigned flags;    /* MESH_H1_F_* */

	/* request */
	enum mesh__h1_method method_id;
	const char *method; /* as received, case-sensitive */
	size_t method_len;
	const char *target; /* the request-target as received */
	size_t target_len;
	enum mesh__h1_target_form target_form;
	const char *scheme; /* absolute-form: "http" as received; else NULL */
	size_t scheme_len;
	const char *authority; /* absolute-/authority-form: from the target;
	                          origin-form: the Host value; NULL if none */
	size_t authority_len;
	const char *path; /* path and query ("/" for an empty absolute-form
	                     path, "*" for asterisk-form, NULL for CONNECT) */
	size_t path_len;

	/* response */
	int status;
	const char *reason;
	size_t reason_len;

	/* both */
	const struct mesh__h1_header *headers; /* in received order */
	size_t n_headers;
	int64_t content_length; /* the Content-Length value, -1 if absent (or
	                           ignored: 2xx to CONNECT) */
	int64_t body;           /* what follows: N >= 0 bytes, MESH_H1_BODY_CHUNKED,
	                           MESH_H1_BODY_NONE or MESH_H1_BODY_CLOSE */
};

/*
 * Callbacks; NULL members are skipped. Return 0 to go on, > 0 to pause,
 * < 0 to abort (see the top of this file).
 *  on_head      the head is complete and valid.
 *  on_body      body bytes, chunk framing removed; @data points into the
 *               caller's buffer. Never called with len 0.
 *  on_trailers  the trailer section of a chunked message, only when it has
 *               at least one field; valid during the call.
 *  on_end       the message is complete (also for a 1xx interim response).
 */
struct mesh__h1_callbacks {
	int (*on_head)(void *ud, const struct mesh__h1_head *head);
	int (*on_body)(void *ud, const char *data, size_t len);
	int (*on_trailers)(void *ud, const struct mesh__h1_header *trailers, size_t n);
	int (*on_end)(void *ud);
};

/* ------------------------------------------------------------------ */
/* The parser                                                          */
/* ------------------------------------------------------------------ */

#define MESH_H1_REQUEST 1
#define MESH_H1_RESPONSE 2

/* mesh__h1_parser_state() */
enum mesh__h1_state {
	MESH_H1_IDLE = 0, /* between messages (a clean point to close) */
	MESH_H1_HEAD,     /* inside a head (the header timeout applies) */
	MESH_H1_BODY,     /* after on_head, before on_end */
	MESH_H1_TUNNEL,   /* HTTP framing ended: unconsumed bytes are tunnel payload */
	MESH_H1_CLOSED,   /* the last message was not keep-alive: nothing more is parsed */
	MESH_H1_ERROR,
};

/* Opaque in spirit: the engine reads it only through the functions here.
 * Laid out in the header so that a connection can embed it. */
struct mesh__h1_parser {
	uint8_t type;        /* MESH_H1_REQUEST or MESH_H1_RESPONSE */
	uint8_t state;       /* internal state (not enum mesh__h1_state) */
	uint8_t expect;      /* response: what the request was (HEAD, CONNECT) */
	uint8_t msg_version; /* minor version of the current message */
	int err;             /* sticky error, 0 if none */
	unsigned msg_flags;  /* MESH_H1_F_* of the current message */
	uint32_t scan;       /* bytes of the pending block already scanned */
	uint32_t line_start; /* start of the pending block's current line */
	uint32_t lines;      /* complete lines in the pending block */
	uint32_t ext_total;  /* chunk-extension bytes in this message */
	uint64_t remaining;  /* body bytes left in the message / chunk */
	struct mesh__h1_limits lim;
};

/* Set up @p for requests (MESH_H1_REQUEST) or responses (MESH_H1_RESPONSE).
 * @lim may be NULL (defaults); it is copied. Allocates nothing. */
void mesh__h1_parser_init(struct mesh__h1_parser *p, int type, const struct mesh__h1_limits *lim);

/*
 * Parse @len bytes at @buf. Returns the number of bytes consumed (0..len),
 * or a negative MESH_H1_E_* code. See the top of this file for what the
 * caller does with the rest. @cb must not be NULL (its members may be);
 * @ud is passed to every callback.
 */
long mesh__h1_parse(struct mesh__h1_parser *p, const char *buf, size_t len,
                    const struct mesh__h1_callbacks *cb, void *ud);

/*
 * The peer closed its side. A close-delimited response body ends here
 * (on_end is called, the state becomes MESH_H1_CLOSED). Returns 0 when
 * that was a clean place to stop (idle, closed, tunnel, or a close-delimited
 * body), MESH_H1_E_INCOMPLETE inside a head or a framed body (the pending
 * bytes count: call it with no unconsumed bytes left), the sticky error in
 * the error state, or MESH_H1_E_CALLBACK.
 */
int mesh__h1_parse_eof(struct mesh__h1_parser *p, const struct mesh__h1_callbacks *cb, void *ud);

/* Where the parser stands (enum mesh__h1_state). */
int mesh__h1_parser_state(const struct mesh__h1_parser *p);

/* The sticky error (0 if none). */
static inline int mesh__h1_parser_error(const struct mesh__h1_parser *p)
{
	return p->err;
}

/*
 * Response parsers: the method of the request whose response comes next.
 * HEAD: the response has no body whatever its headers say. CONNECT: a 2xx
 * answer opens a tunnel. Anything else (or never calling it): the usual
 * rules. The setting lasts until the final (non-1xx) response has ended,
 * and is reset before that response's on_end, so on_end may set the next
 * one. No effect on request parsers.
 */
void mesh__h1_parser_set_request_method(struct mesh__h1_parser *p, const char *method, size_t len);
static inline void mesh__h1_parser_expect_head(struct mesh__h1_parser *p)
{
	mesh__h1_parser_set_request_method(p, "HEAD", 4);
}

/* Leave MESH_H1_TUNNEL after a request whose CONNECT or Upgrade was refused
 * (or is ignored): the next bytes are parsed as the next request. Returns 0,
 * or MESH_EINVAL if @p is not a request parser in the tunnel state. */
int mesh__h1_parser_resume(struct mesh__h1_parser *p);

/* Make @p ready for a new connection (keeps type and limits). */
void mesh__h1_parser_reset(struct mesh__h1_parser *p);

/* ------------------------------------------------------------------ */
/* Header helpers                                                      */
/* ------------------------------------------------------------------ */

/* Case-insensitive (ASCII) comparison of @a (@alen bytes) with the
 * lower-case NUL-terminated @lower. */
bool mesh__h1_name_eq(const char *a, size_t alen, const char *lower);

/*
 * Whether a proxy drops header @name when copying @head's fields to the
 * other side: Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding,
 * TE (unless MESH_H1_F_TE_TRAILERS), Upgrade (unless MESH_H1_F_UPGRADE, the
 * tunnel case), and every field that a Connection header names, except Host
 * and the TE / Upgrade kept above (naming Host in Connection would otherwise
 * strip the routing key). @head may be NULL (the fixed names only); it must
 * be the head being copied (valid during on_head). Content-Length is not
 * hop-by-hop: the serializers drop it, and Transfer-Encoding, from the
 * fields they are given and write the framing from their body argument.
 */
bool mesh__h1_is_hop_header(const char *name, size_t len, const struct mesh__h1_head *head);

/* Fields that must not be taken from a trailer section (RFC 9110 6.5.1):
 * framing, routing and connection fields, plus the hop-by-hop ones. The
 * engine drops them when forwarding trailers. */
bool mesh__h1_is_forbidden_trailer(const char *name, size_t len);

/* ------------------------------------------------------------------ */
/* Serializers                                                         */
/* ------------------------------------------------------------------ */

/* Connection options for the head writers (the @flags argument). */
enum {
	MESH_H1_W_CLOSE = 1u << 0,      /* "connection: close" */
	MESH_H1_W_KEEP_ALIVE = 1u << 1, /* "connection: keep-alive" (to an HTTP/1.0 peer) */
	MESH_H1_W_UPGRADE = 1u << 2,    /* "connection: upgrade" (copy Upgrade as a field) */
	MESH_H1_W_HTTP10 = 1u << 3,     /* write "HTTP/1.0" in the start line */
};

/*
 * Append a request head: "METHOD SP path SP HTTP/1.1", the fields of
 * @headers except Content-Length and Transfer-Encoding, the framing of
 * @body (>= 0: "content-length: N"; MESH_H1_BODY_CHUNKED: "transfer-encoding:
 * chunked"; MESH_H1_BODY_NONE: nothing), the connection options of @flags,
 * and the blank line. MESH_H1_BODY_CLOSE is invalid for a request.
 * Returns 0, MESH_EINVAL (method not a token, path empty or with SP / CTL,
 * a field name not a token, a value with CR, LF, NUL or another CTL but HT:
 * nothing is appended then), or MESH_ENOMEM (@sb->oom).
 */
int mesh__h1_write_request_head(struct mesh__sb *sb, const char *method, size_t method_len,
                                const char *path, size_t path_len,
                                const struct mesh__h1_header *headers, size_t n, int64_t body,
                                unsigned flags);

/*
 * Append a response head: "HTTP/1.1 SP status SP reason" (@reason NULL: the
 * standard phrase), the fields as above, the framing of @body (>= 0,
 * CHUNKED, NONE as above; MESH_H1_BODY_CLOSE writes no framing and adds
 * "connection: close"), the options of @flags, and the blank line. For a
 * HEAD or 304 response pass the length the body would have (or NONE); for
 * 1xx and 204, NONE. Status must be 100-999. Returns 0, MESH_EINVAL or
 * MESH_ENOMEM, as above.
 */
int mesh__h1_write_response_head(struct mesh__sb *sb, int status, const char *reason,
                                 size_t reason_len, const struct mesh__h1_header *headers, size_t n,
                                 int64_t body, unsigned flags);

/* One chunk: "HEX CRLF data CRLF". @len 0 appends nothing (a zero-size
 * chunk would end the body: use mesh__h1_write_last_chunk). Returns 0 or
 * MESH_ENOMEM. */
int mesh__h1_write_chunk(struct mesh__sb *sb, const char *data, size_t len);

/* The last chunk "0 CRLF", the trailer fields (validated as header fields;
 * Content-Length and Transfer-Encoding dropped), and the final CRLF.
 * Returns 0, MESH_EINVAL or MESH_ENOMEM. */
int mesh__h1_write_last_chunk(struct mesh__sb *sb, const struct mesh__h1_header *trailers,
                              size_t n);

/* Zero-copy chunks (writev): the chunk header "HEX CRLF" for @len bytes
 * into @out, returning its length (@len > 0); the data follows, then the
 * two bytes MESH_H1_CRLF. */
#define MESH_H1_CHUNK_HEADER_MAX 18 /* 16 hex digits + CRLF */
#define MESH_H1_CRLF "\r\n"
size_t mesh__h1_chunk_header(char out[MESH_H1_CHUNK_HEADER_MAX], uint64_t len);

/* The standard reason phrase of @status ("Not Found"), or "Unknown". */
const char *mesh__h1_reason_phrase(int status);

#endif
