/*
 * mtls.c - mesh_mtls_mode(): the inbound mTLS mode of a workload from the
 * PeerAuthentication resources of a config, as Istio's
 * ComposePeerAuthentication decides it.
 *
 * The first call on a config sorts its PeerAuthentications by (namespace,
 * age, name) into an index cached on the config (struct mesh__cfg_cache),
 * with every "source" string the calls hand out; a call is then two binary
 * searches and a scan of one namespace's policies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mesh/security.h>

#include "../config/config_int.h"

/* One portLevelMtls entry of a selector policy. */
struct pa_port {
	uint32_t port;
	int mode; /* enum mesh_mtls_mode */
	const char *src;
};

/* One PeerAuthentication. */
struct pa {
	const char *ns, *name;
	const struct mesh__node *sel; /* selector.matchLabels with labels, or NULL */
	int64_t sec;                  /* metadata.creationTimestamp; 0 when absent */
	int32_t nsec;
	int mode; /* mtls.mode; MESH_MTLS_UNSET when absent */
	const char *src;
	struct pa_port *ports; /* selector policies only */
	size_t nports;
};

struct sec_index {
	struct mesh__cfg_cache hdr; /* first: the config holds a pointer to it */
	struct mesh__arena arena;
	const char *root_ns;
	int mesh_mode; /* MeshConfig mtls.mode */
	const char *mesh_src;
	struct pa *pas; /* by namespace, then oldest first, then name */
	size_t npas;
};

static const char *const mode_names[] = { "UNSET", "DISABLE", "PERMISSIVE", "STRICT" };

MESH_API const char *mesh_mtls_mode_name(int mode)
{
	return (mode >= 0 && (size_t)mode < MESH_ARRAY_LEN(mode_names)) ? mode_names[mode]
	                                                                : "unknown";
}

/* A MutualTLS object's mode; UNSET when absent (Istio reads `mtls: {}` and
 * no mtls at all as UNSET: inherit). */
static int mode_of(const struct mesh__node *mtls)
{
	const char *s = mesh__node_str(mesh__node_field(mtls, "mode"));
	for (size_t i = 1; s && i < MESH_ARRAY_LEN(mode_names); i++)
		if (!strcmp(s, mode_names[i]))
			return (int)i;
	return MESH_MTLS_UNSET;
}

static int cmp_pa(const void *a, const void *b)
{
	const struct pa *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);
	if (c)
		return c;
	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	if (x->nsec != y->nsec)
		return x->nsec < y->nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

static char *arena_printf(struct mesh__arena *a, const char *fmt, ...) MESH_PRINTF(2, 3);
static char *arena_printf(struct mesh__arena *a, const char *fmt, ...)
{
	char buf[640];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	return mesh__arena_strndup(a, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Fill @p from @r; false when out of memory. */
static bool add_policy(struct sec_index *idx, struct pa *p, const struct mesh_resource *r)
{
	const struct mesh__node *sel = mesh__node_path(r->spec, "selector.matchLabels");
	*p = (struct pa){ .ns = r->ns, .name = r->name };
	p->sel = (sel && sel->type == MESH_NODE_MAP && sel->count) ? sel : NULL;
	if (!mesh__time_parse_rfc3339(
		    mesh__node_str(mesh__node_path(r->metadata, "creationTimestamp")), &p->sec,
		    &p->nsec))
		p->sec = p->nsec = 0; /* no time: older than any (Go's zero time) */
	p->mode = mode_of(mesh__node_field(r->spec, "mtls"));
	if (!(p->src = arena_printf(&idx->arena, "PeerAuthentication %s/%s", r->ns, r->name)))
		return false;
	/* Istio reads portLevelMtls on selector policies only (the validator
	 * rejects it elsewhere; a config built around it is ignored here) */
	const struct mesh__node *ports = mesh__node_field(r->spec, "portLevelMtls");
	if (!p->sel || !ports || ports->type != MESH_NODE_MAP || !ports->count)
		return true;
	p->ports = mesh__arena_alloc(&idx->arena, ports->count * sizeof(*p->ports));
	if (!p->ports)
		return false;
	for (size_t i = 0; i < ports->count; i++) {
		const char *key = mesh__node_str(ports->u.pairs[i].key);
		char *end;
		unsigned long port = key ? strtoul(key, &end, 10) : 0;
		if (!key || !*key || *end || port == 0 || port > 65535)
			continue;
		struct pa_port *pp = &p->ports[p->nports];
		pp->port = (uint32_t)port;
		pp->mode = mode_of(ports->u.pairs[i].value);
		pp->src = arena_printf(&idx->arena, "PeerAuthentication %s/%s port %lu", r->ns,
		                       r->name, port);
		if (!pp->src)
			return false;
		p->nports++;
	}
	return true;
}

static void index_free(struct mesh__cfg_cache *c)
{
	struct sec_index *idx = (struct sec_index *)c;
	mesh__arena_fini(&idx->arena);
	mesh__free(idx);
}

static struct sec_index *index_build(const mesh_config *cfg)
{
	struct sec_index *idx = mesh__calloc(1, sizeof(*idx));
	if (!idx)
		return NULL;
	idx->hdr.free = index_free;
	mesh__arena_init(&idx->arena);
	idx->root_ns = mesh__config_root_ns(cfg);
	idx->mesh_src = "default";
	const struct mesh_resource *mc = mesh__config_mesh(cfg);
	if (mc && (idx->mesh_mode = mode_of(mesh__node_field(mc->spec, "mtls"))) &&
	    !(idx->mesh_src = arena_printf(&idx->arena, "MeshConfig %s/%s", mc->ns, mc->name)))
		goto oom;
	size_t n = 0;
	for (size_t i = 0; i < cfg->nres; i++)
		n += cfg->res[i]->kind == MESH_KIND_PEER_AUTHENTICATION;
	if (n && !(idx->pas = mesh__arena_alloc(&idx->arena, n * sizeof(*idx->pas))))
		goto oom;
	for (size_t i = 0; i < cfg->nres; i++) {
		const struct mesh_resource *r = cfg->res[i];
		if (r->kind != MESH_KIND_PEER_AUTHENTICATION)
			continue;
		if (!add_policy(idx, &idx->pas[idx->npas++], r))
			goto oom;
	}
	if (idx->npas)
		qsort(idx->pas, idx->npas, sizeof(*idx->pas), cmp_pa);
	return idx;
oom:
	index_free(&idx->hdr);
	return NULL;
}

/* The policies of namespace @ns, oldest first; *n of them. */
static const struct pa *in_namespace(const struct sec_index *idx, const char *ns, size_t *n)
{
	*n = 0;
	if (!idx->npas)
		return NULL; /* (no policy at all: pas may be NULL) */
	size_t lo = 0, hi = idx->npas;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(idx->pas[mid].ns, ns) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < idx->npas && !strcmp(idx->pas[end].ns, ns))
		end++;
	*n = end - lo;
	return idx->pas + lo;
}

/* The oldest selector-less policy of @ns, or NULL. */
static const struct pa *wide_policy(const struct sec_index *idx, const char *ns)
{
	size_t n;
	const struct pa *p = in_namespace(idx, ns, &n);
	for (size_t i = 0; i < n; i++)
		if (!p[i].sel)
			return &p[i];
	return NULL;
}

/* The oldest policy of @ns whose selector picks @labels, or NULL. */
static const struct pa *workload_policy(const struct sec_index *idx, const char *ns,
                                        const char *const *labels)
{
	size_t n;
	const struct pa *p = in_namespace(idx, ns, &n);
	for (size_t i = 0; labels && i < n; i++)
		if (p[i].sel && mesh__labels_match(p[i].sel, labels))
			return &p[i];
	return NULL;
}

static const struct sec_index *get_index(const mesh_config *cfg)
{
	struct mesh__cfg_cache *c = mesh__config_cache_get(cfg, MESH__CFG_CACHE_SECURITY);
	if (c)
		return (const struct sec_index *)c;
	struct sec_index *idx = index_build(cfg);
	if (!idx)
		return NULL;
	return (const struct sec_index *)mesh__config_cache_put(cfg, MESH__CFG_CACHE_SECURITY,
	                                                        &idx->hdr);
}

MESH_API int mesh_mtls_mode(const mesh_config *cfg, const char *ns, const char *const *labels,
                            unsigned port, const char **source)
{
	if (!cfg)
		return MESH_EINVAL;
	const struct sec_index *idx = get_index(cfg);
	if (!idx)
		return MESH_ENOMEM;
	if (!ns)
		ns = cfg->default_ns;
	int mode = MESH_MTLS_PERMISSIVE;
	const char *src = "default";
	if (idx->mesh_mode) {
		mode = idx->mesh_mode;
		src = idx->mesh_src;
	}
	/* mesh, then namespace, then workload: each set mode overrides */
	const struct pa *levels[3] = { wide_policy(idx, idx->root_ns), NULL, NULL };
	if (strcmp(ns, idx->root_ns)) {
		levels[1] = wide_policy(idx, ns);
		levels[2] = workload_policy(idx, ns, labels);
	}
	for (size_t i = 0; i < 3; i++) {
		if (levels[i] && levels[i]->mode) {
			mode = levels[i]->mode;
			src = levels[i]->src;
		}
	}
	const struct pa *w = levels[2];
	for (size_t i = 0; w && port && i < w->nports; i++) {
		if (w->ports[i].port == port && w->ports[i].mode) {
			mode = w->ports[i].mode;
			src = w->ports[i].src;
			break;
		}
	}
	if (source)
		*source = src;
	return mode;
}
