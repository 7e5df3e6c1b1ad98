/*
 * match.c - the request path: virtual host lookup and route matching.
 * Allocates nothing; regexes run with the caller's per-thread scratch.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "route_int.h"

uint64_t mesh__host_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h ^ (h >> 32); /* the table uses the low bits */
}

static const struct vhost *lookup_exact(const struct mesh_router *r, const char *h, size_t n)
{
	if (!r->lookup_cap)
		return NULL;
	uint64_t hash = mesh__host_hash(h, n);
	size_t i = (size_t)hash & (r->lookup_cap - 1);
	for (;; i = (i + 1) & (r->lookup_cap - 1)) {
		const struct vkey *k = &r->lookup[i];
		if (!k->key)
			return NULL;
		if (k->hash == hash && k->len == n && !memcmp(k->key, h, n))
			return k->v;
	}
}

bool mesh__gateway_matches(const struct match_block *m, const char *gateway)
{
	const char *gw = gateway ? gateway : "mesh";
	if (!m->gateways)
		return !strcmp(gw, "mesh");
	/* the route's names are "ns/name" (or "mesh"); a bare "name" asked for
	 * stands for that name in any namespace */
	bool bare = !strchr(gw, '/');
	for (size_t i = 0; i < m->ngateways; i++) {
		const char *g = m->gateways[i], *slash = strchr(g, '/');
		if (!strcmp(g, gw) || (bare && slash && !strcmp(slash + 1, gw)))
			return true;
	}
	return false;
}

/* Whether @v has a route for @gateway: a sidecar's route configuration
 * holds only the virtual hosts of the sidecars, a gateway's only its own. */
static bool vhost_serves(const struct vhost *v, const char *gateway, bool tcp)
{
	bool mesh = !gateway || !strcmp(gateway, "mesh");
	struct mesh_route *const *routes = tcp ? v->tcp : v->routes;
	size_t n = tcp ? v->ntcp : v->nroutes;
	if (mesh && tcp && v->fallback)
		return true;
	for (size_t i = 0; i < n; i++) {
		const struct mesh_route *rt = routes[i];
		if (!rt->nmatches && mesh)
			return true;
		for (size_t j = 0; j < rt->nmatches; j++)
			if (mesh__gateway_matches(&rt->matches[j], gateway))
				return true;
	}
	return false;
}

const struct vhost *mesh__router_vhost(const struct mesh_router *r, const char *authority,
                                       const char *gateway, bool tcp)
{
	char host[300];
	size_t n = 0;
	if (!authority)
		return NULL;
	/* lower case, without the port ("[::1]:80" keeps its brackets) */
	for (const char *p = authority; *p && n < sizeof(host) - 64; p++) {
		if (*p == ':' && authority[0] != '[')
			break;
		if (*p == ']' && authority[0] == '[') {
			host[n++] = *p;
			break;
		}
		host[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
	}
	host[n] = '\0';
	const struct vhost *v = lookup_exact(r, host, n);
	if (v && vhost_serves(v, gateway, tcp))
		return v;
	/* short names as a client in the router's namespace writes them */
	size_t dots = 0;
	for (size_t i = 0; i < n; i++)
		dots += host[i] == '.';
	char full[600];
	int len = -1;
	if (dots == 0)
		len = snprintf(full, sizeof(full), "%s.%s.svc.%s", host, r->ns, r->domain);
	else if (dots == 1)
		len = snprintf(full, sizeof(full), "%s.svc.%s", host, r->domain);
	else if (n > 4 && !strcmp(host + n - 4, ".svc"))
		len = snprintf(full, sizeof(full), "%s.%s", host, r->domain);
	if (len > 0 && (size_t)len < sizeof(full) && (v = lookup_exact(r, full, (size_t)len)) &&
	    vhost_serves(v, gateway, tcp))
		return v;
	const char *name = (len > 0 && (size_t)len < sizeof(full)) ? full : host;
	size_t nlen = strlen(name);
	for (size_t i = 0; i < r->nwild; i++) {
		const char *w = r->wild[i]->host + 1; /* ".example.com" or "" for "*" */
		size_t wl = strlen(w);
		if ((wl == 0 || (nlen > wl && !strcmp(name + nlen - wl, w)) ||
		     (n > wl && !strcmp(host + n - wl, w))) &&
		    vhost_serves(r->wild[i], gateway, tcp))
			return r->wild[i];
	}
	return NULL;
}

bool mesh__str_match(const struct strmatch *m, const char *s, size_t len, mesh_route_scratch *scr)
{
	switch (m->kind) {
	case SM_ANY:
	case SM_PRESENT: return true;
	case SM_EXACT:
		return len == m->len &&
		       (m->icase ? !strncasecmp(s, m->value, len) : !memcmp(s, m->value, len));
	case SM_PREFIX:
		return len >= m->len && (m->icase ? !strncasecmp(s, m->value, m->len)
		                                  : !memcmp(s, m->value, m->len));
	case SM_REGEX: {
		if (!m->re)
			return false;
		int rc = pcre2_match(m->re, (PCRE2_SPTR)s, len, 0, 0, scr->md, scr->mctx);
		/* 0: matched, ovector too small for the groups (we need none) */
		return rc >= 0;
	}
	default: return false;
	}
}

static const char *header(const struct mesh_request *req, const char *name)
{
	/* @name is lower case; check the first letter before the whole name */
	for (size_t i = 0; i < req->nheaders; i++)
		if (req->headers[i].name && (req->headers[i].name[0] | 0x20) == (name[0] | 0x20) &&
		    !strcasecmp(req->headers[i].name, name))
			return req->headers[i].value ? req->headers[i].value : "";
	return NULL;
}

/* Value of query parameter @name in @path, length in *len; NULL if none. */
static const char *query_param(const char *path, const char *name, size_t *len)
{
	const char *q = strchr(path, '?');
	size_t nl = strlen(name);
	while (q) {
		q++;
		const char *end = strchr(q, '&');
		size_t plen = end ? (size_t)(end - q) : strlen(q);
		if (plen >= nl && !strncmp(q, name, nl) && (plen == nl || q[nl] == '=')) {
			const char *v = plen == nl ? q + nl : q + nl + 1;
			*len = plen == nl ? 0 : plen - nl - 1;
			return v;
		}
		q = end;
	}
	return NULL;
}

static const char *kind_name(const struct strmatch *m)
{
	switch (m->kind) {
	case SM_EXACT: return "exact";
	case SM_PREFIX: return "prefix";
	case SM_REGEX: return "regex";
	default: return "present";
	}
}

#define WHY(...)                                                                                   \
	do {                                                                                       \
		if (why)                                                                           \
			snprintf(why->text, sizeof(why->text), __VA_ARGS__);                       \
	} while (0)

static bool label_in(const char *const *labels, const char *k, const char *v)
{
	for (size_t j = 0; labels && labels[j]; j += 2)
		if (!strcmp(labels[j], k) && !strcmp(labels[j + 1], v))
			return true;
	return false;
}

static const char *label_get(const char *const *labels, const char *k)
{
	for (size_t j = 0; labels && labels[j]; j += 2)
		if (!strcmp(labels[j], k))
			return labels[j + 1];
	return NULL;
}

static bool block_matches(const struct mesh_router *r, const struct match_block *m,
                          const struct mesh_request *req, mesh_route_scratch *s, struct why *why)
{
	const char *path = req->path ? req->path : "/";
	const char *q = strchr(path, '?');
	size_t plen = q ? (size_t)(q - path) : strlen(path);
	/* prefix matches see the whole :path, exact and regex the path alone
	 * (as Envoy's prefix / path / safe_regex) */
	size_t ulen = m->uri.kind == SM_PREFIX ? strlen(path) : plen;
	if (!mesh__str_match(&m->uri, path, ulen, s)) {
		WHY("uri %s \"%s\" does not match \"%.*s\"", kind_name(&m->uri), m->uri.value,
		    (int)ulen, path);
		return false;
	}
	const char *scheme = req->scheme ? req->scheme : "http";
	if (!mesh__str_match(&m->scheme, scheme, strlen(scheme), s)) {
		WHY("scheme %s \"%s\" does not match \"%s\"", kind_name(&m->scheme),
		    m->scheme.value, scheme);
		return false;
	}
	const char *method = req->method ? req->method : "GET";
	if (!mesh__str_match(&m->method, method, strlen(method), s)) {
		WHY("method %s \"%s\" does not match \"%s\"", kind_name(&m->method),
		    m->method.value, method);
		return false;
	}
	const char *auth = req->authority ? req->authority : "";
	if (!mesh__str_match(&m->authority, auth, strlen(auth), s)) {
		WHY("authority %s \"%s\" does not match \"%s\"", kind_name(&m->authority),
		    m->authority.value, auth);
		return false;
	}
	for (size_t i = 0; i < m->nheaders; i++) {
		const struct hdrmatch *h = &m->headers[i];
		const char *v = header(req, h->name);
		bool hit = v && mesh__str_match(&h->m, v, strlen(v), s);
		if (h->absent && hit) {
			WHY("header \"%s\" is present and matches, but withoutHeaders excludes it",
			    h->name);
			return false;
		}
		if (!h->absent && !v) {
			WHY("header \"%s\" is absent", h->name);
			return false;
		}
		if (!h->absent && !hit) {
			WHY("header \"%s\" %s \"%s\" does not match \"%s\"", h->name,
			    kind_name(&h->m), h->m.value, v);
			return false;
		}
	}
	for (size_t i = 0; i < m->nquery; i++) {
		const struct hdrmatch *h = &m->query[i];
		size_t vlen;
		const char *v = query_param(path, h->name, &vlen);
		if (!v || !mesh__str_match(&h->m, v, vlen, s)) {
			WHY("query parameter \"%s\" %s", h->name,
			    v ? "does not match" : "is absent");
			return false;
		}
	}
	if (m->port && req->port && m->port != req->port) {
		WHY("port %u is not %u", req->port, m->port);
		return false;
	}
	const struct mesh_workload *src = req->source;
	const char *src_ns = src && src->namespace_name ? src->namespace_name : r->ns;
	const char *const *src_labels = src ? src->labels : r->labels;
	if (m->src_ns && strcmp(m->src_ns, src_ns)) {
		WHY("source namespace \"%s\" is not \"%s\"", src_ns, m->src_ns);
		return false;
	}
	for (size_t i = 0; m->src_labels && m->src_labels[i]; i += 2)
		if (!label_in(src_labels, m->src_labels[i], m->src_labels[i + 1])) {
			WHY("source label %s=%s is missing", m->src_labels[i],
			    m->src_labels[i + 1]);
			return false;
		}
	if (m->src_name) {
		/* a v1alpha2 source is a service: match the workload's name or app label */
		const char *app = label_get(src_labels, "app");
		const char *name = src ? src->name : NULL;
		if (!((name && !strcmp(name, m->src_name)) || (app && !strcmp(app, m->src_name)))) {
			WHY("source is not service \"%s\"", m->src_name);
			return false;
		}
	}
	const char *gw = req->gateway ? req->gateway : "mesh";
	if (!mesh__gateway_matches(m, gw)) {
		if (!m->gateways)
			WHY("route applies to sidecars (mesh), not gateway \"%s\"", gw);
		else
			WHY("gateway \"%s\" is not among the route's gateways", gw);
		return false;
	}
	return true;
}

bool mesh__route_matches(const struct mesh_router *r, const struct mesh_route *rt,
                         const struct mesh_request *req, mesh_route_scratch *s, struct why *why)
{
	if (rt->nmatches == 0) {
		if (req->gateway && strcmp(req->gateway, "mesh")) {
			WHY("route applies to sidecars (mesh), not gateway \"%s\"", req->gateway);
			return false;
		}
		return true;
	}
	for (size_t i = 0; i < rt->nmatches; i++)
		if (block_matches(r, &rt->matches[i], req, s, i == 0 ? why : NULL))
			return true;
	if (why && rt->nmatches > 1) {
		char first[sizeof(why->text)];
		memcpy(first, why->text, sizeof(first));
		snprintf(why->text, sizeof(why->text), "%.200s (and %zu more match blocks failed)",
		         first, rt->nmatches - 1);
	}
	return false;
}

/* "*.example.com" covers "a.example.com"; "*" covers everything. */
static bool host_covers(const char *pattern, const char *host)
{
	if (!strcmp(pattern, "*"))
		return true;
	if (pattern[0] == '*') {
		size_t pl = strlen(pattern) - 1, hl = strlen(host);
		return hl > pl && !strcasecmp(host + hl - pl, pattern + 1);
	}
	return !strcasecmp(pattern, host);
}

bool mesh__conn_matches(const struct mesh_router *r, const struct mesh_route *rt,
                        const struct mesh_connection *c)
{
	const struct mesh_workload *src = c->source;
	const char *src_ns = src && src->namespace_name ? src->namespace_name : r->ns;
	const char *const *src_labels = src ? src->labels : r->labels;
	const char *gw = c->gateway ? c->gateway : "mesh";
	for (size_t i = 0; i < rt->nmatches; i++) {
		const struct match_block *m = &rt->matches[i];
		if (m->port && c->port && m->port != c->port)
			continue;
		if (m->src_ns && strcmp(m->src_ns, src_ns))
			continue;
		bool ok = true;
		for (size_t j = 0; ok && m->src_labels && m->src_labels[j]; j += 2)
			ok = label_in(src_labels, m->src_labels[j], m->src_labels[j + 1]);
		if (!ok)
			continue;
		if (!mesh__gateway_matches(m, gw))
			continue;
		if (m->sni) {
			bool hit = false;
			for (size_t j = 0; c->sni && j < m->nsni && !hit; j++)
				hit = host_covers(m->sni[j], c->sni);
			if (!hit)
				continue;
		}
		return true;
	}
	return false;
}
