/*
 * h1_write.c - HTTP/1.1 serializers: request and response heads with the
 * framing written from the body mode (never copied from the fields), chunks
 * and the last chunk with trailers.
 *
 * Every name and value is checked before anything is appended: a CR or LF
 * that reached a header value (from a route's header operation, say) would
 * otherwise split the message in two on the wire.
 */
#include <string.h>

#include "h1_int.h"

static bool valid_token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!h1_is((unsigned char)s[i], H1_TOKEN))
			return false;
	}
	return true;
}

static bool valid_value(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!h1_is((unsigned char)s[i], H1_VALUE))
			return false;
	}
	return true;
}

/* Framing fields are written from the body mode; copies are dropped. */
static bool is_framing(const char *name, size_t n)
{
	return (n == 14 && mesh__h1_name_eq(name, n, "content-length")) ||
	       (n == 17 && mesh__h1_name_eq(name, n, "transfer-encoding"));
}

static bool valid_fields(const struct mesh__h1_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!valid_token(h[i].name, h[i].name_len) ||
		    !valid_value(h[i].value, h[i].value_len))
			return false;
	}
	return true;
}

static void put_fields(struct mesh__sb *sb, const struct mesh__h1_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (is_framing(h[i].name, h[i].name_len))
			continue;
		mesh__sb_append(sb, h[i].name, h[i].name_len);
		mesh__sb_append(sb, ": ", 2);
		mesh__sb_append(sb, h[i].value, h[i].value_len);
		mesh__sb_append(sb, "\r\n", 2);
	}
}

/* Decimal digits of @v into the end of @buf[24]; returns the start. */
static char *u64_dec(char buf[24], uint64_t v)
{
	char *p = buf + 24;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return p;
}

static void put_tail(struct mesh__sb *sb, int64_t body, unsigned flags)
{
	char num[24];
	if (body >= 0) {
		char *d = u64_dec(num, (uint64_t)body);
		mesh__sb_append(sb, "content-length: ", 16);
		mesh__sb_append(sb, d, (size_t)(num + sizeof(num) - d));
		mesh__sb_append(sb, "\r\n", 2);
	} else if (body == MESH_H1_BODY_CHUNKED) {
		mesh__sb_append(sb, "transfer-encoding: chunked\r\n", 28);
	}
	if (body == MESH_H1_BODY_CLOSE)
		flags |= MESH_H1_W_CLOSE;
	if (flags & MESH_H1_W_UPGRADE)
		mesh__sb_append(sb, "connection: upgrade\r\n", 21);
	else if (flags & MESH_H1_W_CLOSE)
		mesh__sb_append(sb, "connection: close\r\n", 19);
	else if (flags & MESH_H1_W_KEEP_ALIVE)
		mesh__sb_append(sb, "connection: keep-alive\r\n", 24);
	mesh__sb_append(sb, "\r\n", 2);
}

static int done(struct mesh__sb *sb)
{
	return sb->oom ? MESH_ENOMEM : 0;
}

int mesh__h1_write_request_head(struct mesh__sb *sb, const char *method, size_t method_len,
                                const char *path, size_t path_len,
                                const struct mesh__h1_header *headers, size_t n, int64_t body,
                                unsigned flags)
{
	if (!valid_token(method, method_len) || path_len == 0 || body == MESH_H1_BODY_CLOSE ||
	    body < MESH_H1_BODY_CLOSE)
		return MESH_EINVAL;
	for (size_t i = 0; i < path_len; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c <= 0x20 || c >= 0x7f)
			return MESH_EINVAL;
	}
	if (!valid_fields(headers, n))
		return MESH_EINVAL;
	mesh__sb_append(sb, method, method_len);
	mesh__sb_putc(sb, ' ');
	mesh__sb_append(sb, path, path_len);
	mesh__sb_append(sb, (flags & MESH_H1_W_HTTP10) ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n", 11);
	put_fields(sb, headers, n);
	put_tail(sb, body, flags);
	return done(sb);
}

int mesh__h1_write_response_head(struct mesh__sb *sb, int status, const char *reason,
                                 size_t reason_len, const struct mesh__h1_header *headers, size_t n,
                                 int64_t body, unsigned flags)
{
	if (status < 100 || status > 999 || body < MESH_H1_BODY_CLOSE)
		return MESH_EINVAL;
	if (!reason) {
		reason = mesh__h1_reason_phrase(status);
		reason_len = strlen(reason);
	} else if (!valid_value(reason, reason_len)) {
		return MESH_EINVAL;
	}
	if (!valid_fields(headers, n))
		return MESH_EINVAL;
	char line[13];
	memcpy(line, (flags & MESH_H1_W_HTTP10) ? "HTTP/1.0 " : "HTTP/1.1 ", 9);
	line[9] = (char)('0' + status / 100);
	line[10] = (char)('0' + status / 10 % 10);
	line[11] = (char)('0' + status % 10);
	line[12] = ' ';
	mesh__sb_append(sb, line, sizeof(line));
	mesh__sb_append(sb, reason, reason_len);
	mesh__sb_append(sb, "\r\n", 2);
	put_fields(sb, headers, n);
	put_tail(sb, body, flags);
	return done(sb);
}

size_t mesh__h1_chunk_header(char out[MESH_H1_CHUNK_HEADER_MAX], uint64_t len)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0;
	do {
		tmp[n++] = hex[len & 15];
		len >>= 4;
	} while (len);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\r';
	out[n + 1] = '\n';
	return n + 2;
}

int mesh__h1_write_chunk(struct mesh__sb *sb, const char *data, size_t len)
{
	char hdr[MESH_H1_CHUNK_HEADER_MAX];
	if (len == 0)
		return done(sb);
	mesh__sb_append(sb, hdr, mesh__h1_chunk_header(hdr, len));
	mesh__sb_append(sb, data, len);
	mesh__sb_append(sb, "\r\n", 2);
	return done(sb);
}

int mesh__h1_write_last_chunk(struct mesh__sb *sb, const struct mesh__h1_header *trailers, size_t n)
{
	if (!valid_fields(trailers, n))
		return MESH_EINVAL;
	mesh__sb_append(sb, "0\r\n", 3);
	put_fields(sb, trailers, n);
	mesh__sb_append(sb, "\r\n", 2);
	return done(sb);
}
