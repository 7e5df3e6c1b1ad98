/*
 * lb.c - the public entry points of mesh/lb.h (except mesh_balancer_new,
 * which needs a router: balancer_router.c), and the request hash keys of
 * consistent hashing.
 */
#include <string.h>
#include <strings.h>

#include "../core/core.h"
#include "lb_int.h"

MESH_API void mesh_balancer_free(mesh_balancer *b)
{
	mesh__bal_free(b);
}

MESH_API void mesh_balancer_seed(mesh_balancer *b, uint64_t seed)
{
	if (b)
		mesh__bal_seed(b, seed);
}

MESH_API int mesh_balancer_pick(mesh_balancer *b, const mesh_cluster *c, uint64_t hash,
                                uint64_t now_ms)
{
	return mesh__bal_pick(b, c, hash, now_ms);
}

MESH_API void mesh_balancer_begin(mesh_balancer *b, const mesh_cluster *c, int ep)
{
	mesh__bal_begin(b, c, ep);
}

MESH_API void mesh_balancer_end(mesh_balancer *b, const mesh_cluster *c, int ep, int outcome,
                                uint64_t now_ms)
{
	mesh__bal_end(b, c, ep, outcome, now_ms);
}

MESH_API int mesh_balancer_is_ejected(const mesh_balancer *b, const mesh_cluster *c, int ep,
                                      uint64_t now_ms)
{
	return mesh__bal_is_ejected(b, c, ep, now_ms);
}

MESH_API int mesh_balancer_acquire(mesh_balancer *b, const mesh_cluster *c, int resource)
{
	return mesh__bal_acquire(b, c, resource);
}

MESH_API void mesh_balancer_release(mesh_balancer *b, const mesh_cluster *c, int resource)
{
	mesh__bal_release(b, c, resource);
}

MESH_API int mesh_cluster_lb_policy(const mesh_cluster *c)
{
	return c ? c->lb.policy : MESH_EINVAL;
}

/* ---- hash keys ---- */

/* Keys are hashed with xxHash64, seed 0, as Envoy hashes them. A real hash
 * of 0 is moved to 1: 0 means "no key" to mesh_balancer_pick(). */
static uint64_t key_hash(const char *s, size_t len)
{
	uint64_t h = mesh__hash64(s, len, 0);
	return h ? h : 1;
}

static const char *header(const struct mesh_request *req, const char *name, size_t from, size_t *at)
{
	for (size_t i = from; req->headers && i < req->nheaders; i++) {
		const struct mesh_header *h = &req->headers[i];
		if (h->name && h->value && !strcasecmp(h->name, name)) {
			*at = i;
			return h->value;
		}
	}
	return NULL;
}

/* The value of cookie @name in a Cookie header ("a=1; b=2"). */
static bool cookie_value(const char *hdr, const char *name, const char **val, size_t *len)
{
	size_t nlen = strlen(name);
	const char *p = hdr;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
			*val = p + nlen + 1;
			*len = (size_t)(end - *val);
			while (*len && ((*val)[*len - 1] == ' ' || (*val)[*len - 1] == '\t'))
				(*len)--;
			return true;
		}
		p = end;
	}
	return false;
}

/* The raw (not percent-decoded) value of query parameter @name. */
static bool query_value(const char *path, const char *name, const char **val, size_t *len)
{
	const char *q = path ? strchr(path, '?') : NULL;
	size_t nlen = strlen(name);
	if (!q)
		return false;
	for (const char *p = q + 1; *p;) {
		const char *end = p + strcspn(p, "&#");
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *kend = eq ? eq : end;
		if ((size_t)(kend - p) == nlen && !strncmp(p, name, nlen)) {
			*val = eq ? eq + 1 : end;
			*len = (size_t)(end - *val);
			return true;
		}
		if (*end != '&')
			break;
		p = end + 1;
	}
	return false;
}

MESH_API uint64_t mesh_balancer_hash_request(const mesh_cluster *c, const struct mesh_request *req,
                                             const char *source_ip)
{
	const char *name, *v;
	size_t len, at;

	if (!c || (c->lb.policy != MESH_LB_RING_HASH && c->lb.policy != MESH_LB_MAGLEV))
		return 0;
	name = c->lb.hash_name;
	switch (c->lb.hash_on) {
	case MESH_HASH_SOURCE_IP:
		return source_ip && *source_ip ? key_hash(source_ip, strlen(source_ip)) : 0;
	case MESH_HASH_HEADER:
		if (!req || !name || !(v = header(req, name, 0, &at)))
			return 0;
		return key_hash(v, strlen(v));
	case MESH_HASH_COOKIE:
		if (!req || !name)
			return 0;
		for (size_t from = 0; (v = header(req, "cookie", from, &at)); from = at + 1) {
			const char *cv;
			if (cookie_value(v, name, &cv, &len))
				return key_hash(cv, len);
		}
		return 0;
	case MESH_HASH_QUERY:
		if (!req || !name || !query_value(req->path, name, &v, &len))
			return 0;
		return key_hash(v, len);
	default: return 0;
	}
}
