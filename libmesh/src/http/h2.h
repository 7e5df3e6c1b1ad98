/*
 * h2.h - HTTP/2 and gRPC helpers (library-internal): the thin glue the
 * engine's HTTP/2 connections (engine/h2conn.c downstream, engine/h2up.c
 * upstream) put over nghttp2, and the gRPC rules a proxy applies (status
 * mapping of local replies, grpc-timeout, grpc-message encoding).
 *
 * nghttp2 does the framing, HPACK, flow-control bookkeeping and the
 * protocol checks of RFC 9113 (pseudo-headers, connection-specific
 * fields, content-length against DATA); what is here is what nghttp2 leaves
 * to its user. No I/O: a session reads from and writes to byte buffers, so
 * that a TLS layer can sit under it.
 *
 * Thread safety: every function is reentrant; a header list belongs to one
 * thread.
 */
#ifndef MESH_SRC_HTTP_H2_H
#define MESH_SRC_HTTP_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "h1.h"

/* The client connection preface (RFC 9113 3.4). */
#define MESH_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define MESH_H2_PREFACE_LEN 24

/* 1: @buf starts with the whole preface; 0: @buf is a proper prefix of it
 * (read more); -1: not HTTP/2 with prior knowledge. */
int mesh__h2_preface_match(const char *buf, size_t len);

/* The method id of an HTTP/2 :method (same table as HTTP/1). */
enum mesh__h1_method mesh__h2_method_id(const char *m, size_t len);

/*
 * Header lists kept in caller-provided memory (an engine buffer block):
 * records of (uint32 name length, uint32 value length, name, value), names
 * lower-cased when added with @lower. Nothing is allocated: an add that
 * does not fit returns false and leaves the list as it was.
 */
struct mesh__hlist {
	char *buf;
	size_t len, cap;
	unsigned n;
};

static inline void mesh__hlist_init(struct mesh__hlist *l, char *buf, size_t cap)
{
	l->buf = buf;
	l->cap = cap;
	l->len = 0;
	l->n = 0;
}

bool mesh__hlist_add(struct mesh__hlist *l, const char *name, size_t nlen, const char *value,
                     size_t vlen, bool lower);

/* Walk a list: start with *@pos = 0; returns false at the end. The pointers
 * point into the list's memory. */
bool mesh__hlist_next(const struct mesh__hlist *l, size_t *pos, const char **name, size_t *nlen,
                      const char **value, size_t *vlen);

/* The list as nghttp2 name/value pairs (no copy: they point into @l), at
 * most @max of them. Returns the count. */
size_t mesh__hlist_to_nv(const struct mesh__hlist *l, nghttp2_nv *nv, size_t max);

/* Whether a field must not be sent on an HTTP/2 connection (RFC 9113
 * 8.2.2): connection, keep-alive, proxy-connection, transfer-encoding,
 * upgrade, host (it becomes :authority), and te other than "trailers".
 * @name is compared case-insensitively. */
bool mesh__h2_is_connection_header(const char *name, size_t nlen, const char *value, size_t vlen);

/* ---- gRPC ---- */

/* gRPC status codes used by the proxy. */
enum {
	MESH_GRPC_OK = 0,
	MESH_GRPC_CANCELLED = 1,
	MESH_GRPC_UNKNOWN = 2,
	MESH_GRPC_DEADLINE_EXCEEDED = 4,
	MESH_GRPC_PERMISSION_DENIED = 7,
	MESH_GRPC_RESOURCE_EXHAUSTED = 8,
	MESH_GRPC_UNIMPLEMENTED = 12,
	MESH_GRPC_INTERNAL = 13,
	MESH_GRPC_UNAVAILABLE = 14,
	MESH_GRPC_UNAUTHENTICATED = 16,
};

/* Whether a content-type value makes the request gRPC: "application/grpc",
 * or it followed by '+' or ';' (Envoy's rule; grpc-web is not gRPC here). */
bool mesh__grpc_is_content_type(const char *v, size_t len);

/* The grpc-timeout value ("1-8 digits" then H, M, S, m, u or n) in
 * milliseconds, rounded up (at least 1 for a positive value); -1 when
 * malformed. */
int64_t mesh__grpc_timeout_ms(const char *v, size_t len);

/* The gRPC status a local reply with HTTP @status becomes: gRPC's table
 * (400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404
 * UNIMPLEMENTED, 429 / 502 / 503 UNAVAILABLE, other UNKNOWN), except 504,
 * which the proxy only answers when a deadline passed: DEADLINE_EXCEEDED. */
int mesh__grpc_status_of_http(int status);

/* Percent-encode @in as a grpc-message value (bytes outside 0x20..0x7e,
 * and '%', become %XX; a trailing newline is dropped) into @out. Returns the
 * length written (truncated to fit @size, never splitting an escape). */
size_t mesh__grpc_message_encode(const char *in, size_t len, char *out, size_t size);

#endif
