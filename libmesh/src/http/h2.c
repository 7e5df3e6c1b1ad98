/*
 * h2.c - HTTP/2 and gRPC helpers: the preface, header lists in flat
 * buffers, the fields HTTP/2 forbids, and gRPC's timeout, status and
 * message rules.
 */
#include <string.h>
#include <strings.h>

#include "h2.h"

int mesh__h2_preface_match(const char *buf, size_t len)
{
	size_t n = len < MESH_H2_PREFACE_LEN ? len : MESH_H2_PREFACE_LEN;
	if (memcmp(buf, MESH_H2_PREFACE, n))
		return -1;
	return len >= MESH_H2_PREFACE_LEN ? 1 : 0;
}

enum mesh__h1_method mesh__h2_method_id(const char *m, size_t n)
{
	static const struct {
		const char *name;
		enum mesh__h1_method id;
	} tab[] = {
		{ "GET", MESH_H1_M_GET },         { "HEAD", MESH_H1_M_HEAD },
		{ "POST", MESH_H1_M_POST },       { "PUT", MESH_H1_M_PUT },
		{ "DELETE", MESH_H1_M_DELETE },   { "CONNECT", MESH_H1_M_CONNECT },
		{ "OPTIONS", MESH_H1_M_OPTIONS }, { "TRACE", MESH_H1_M_TRACE },
		{ "PATCH", MESH_H1_M_PATCH },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].name) == n && !memcmp(tab[i].name, m, n))
			return tab[i].id;
	return MESH_H1_M_OTHER;
}

static void put32(char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

bool mesh__hlist_add(struct mesh__hlist *l, const char *name, size_t nlen, const char *value,
                     size_t vlen, bool lower)
{
	if (nlen > UINT32_MAX || vlen > UINT32_MAX || l->cap - l->len < 8 ||
	    l->cap - l->len - 8 < nlen || l->cap - l->len - 8 - nlen < vlen)
		return false;
	char *p = l->buf + l->len;
	put32(p, (uint32_t)nlen);
	put32(p + 4, (uint32_t)vlen);
	p += 8;
	for (size_t i = 0; i < nlen; i++) {
		unsigned char c = (unsigned char)name[i];
		p[i] = (char)(lower && c >= 'A' && c <= 'Z' ? c | 0x20 : c);
	}
	if (vlen)
		memcpy(p + nlen, value, vlen);
	l->len += 8 + nlen + vlen;
	l->n++;
	return true;
}

bool mesh__hlist_next(const struct mesh__hlist *l, size_t *pos, const char **name, size_t *nlen,
                      const char **value, size_t *vlen)
{
	if (*pos + 8 > l->len)
		return false;
	const char *p = l->buf + *pos;
	*nlen = get32(p);
	*vlen = get32(p + 4);
	*name = p + 8;
	*value = p + 8 + *nlen;
	*pos += 8 + *nlen + *vlen;
	return true;
}

size_t mesh__hlist_to_nv(const struct mesh__hlist *l, nghttp2_nv *nv, size_t max)
{
	size_t pos = 0, n = 0, nlen, vlen;
	const char *name, *value;
	while (n < max && mesh__hlist_next(l, &pos, &name, &nlen, &value, &vlen)) {
		nv[n++] = (nghttp2_nv){ (uint8_t *)name, (uint8_t *)value, nlen, vlen,
			                NGHTTP2_NV_FLAG_NONE };
	}
	return n;
}

bool mesh__h2_is_connection_header(const char *name, size_t nlen, const char *value, size_t vlen)
{
	if (mesh__h1_name_eq(name, nlen, "te"))
		return !(vlen == 8 && !strncasecmp(value, "trailers", 8));
	return mesh__h1_name_eq(name, nlen, "connection") ||
	       mesh__h1_name_eq(name, nlen, "keep-alive") ||
	       mesh__h1_name_eq(name, nlen, "proxy-connection") ||
	       mesh__h1_name_eq(name, nlen, "transfer-encoding") ||
	       mesh__h1_name_eq(name, nlen, "upgrade") || mesh__h1_name_eq(name, nlen, "host");
}

/* ---- gRPC ---- */

bool mesh__grpc_is_content_type(const char *v, size_t len)
{
	if (len < 16 || strncasecmp(v, "application/grpc", 16))
		return false;
	return len == 16 || v[16] == '+' || v[16] == ';';
}

int64_t mesh__grpc_timeout_ms(const char *v, size_t len)
{
	if (len < 2 || len > 9)
		return -1;
	int64_t n = 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	int64_t ms;
	switch (v[len - 1]) {
	case 'H': ms = n * 3600000; break;
	case 'M': ms = n * 60000; break;
	case 'S': ms = n * 1000; break;
	case 'm': ms = n; break;
	case 'u': ms = (n + 999) / 1000; break;
	case 'n': ms = (n + 999999) / 1000000; break;
	default: return -1;
	}
	return ms;
}

int mesh__grpc_status_of_http(int status)
{
	switch (status) {
	case 400: return MESH_GRPC_INTERNAL;
	case 401: return MESH_GRPC_UNAUTHENTICATED;
	case 403: return MESH_GRPC_PERMISSION_DENIED;
	case 404: return MESH_GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503: return MESH_GRPC_UNAVAILABLE;
	case 504: return MESH_GRPC_DEADLINE_EXCEEDED;
	default: return MESH_GRPC_UNKNOWN;
	}
}

size_t mesh__grpc_message_encode(const char *in, size_t len, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	while (len && (in[len - 1] == '\n' || in[len - 1] == '\r'))
		len--;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x20 && c <= 0x7e && c != '%') {
			if (o + 1 > size)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 3 > size)
				break;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	return o;
}
