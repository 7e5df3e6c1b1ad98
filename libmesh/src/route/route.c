/*
 * route.c - public entry points of the router: build, share, route, and
 * read back a route's rule and action.
 */
#include <stdlib.h>
#include <string.h>

#include "route_int.h"

static char *const *copy_labels(struct mesh__arena *a, const char *const *labels)
{
	size_t n = 0;
	while (labels && labels[n] && labels[n + 1])
		n += 2;
	char **kv = mesh__arena_alloc(a, (n + 1) * sizeof(*kv));
	if (!kv)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(kv[i] = mesh__arena_strndup(a, labels[i], strlen(labels[i]))))
			return NULL;
	kv[n] = NULL;
	return kv;
}

MESH_API int mesh_router_new(mesh_config *cfg, const mesh_registry *reg,
                             const struct mesh_workload *wl, mesh_router **out, mesh_diag *diag)
{
	if (!cfg || !out)
		return MESH_EINVAL;
	struct mesh_workload w = { 0 };
	if (wl)
		memcpy(&w, wl, wl->struct_size < sizeof(w) ? wl->struct_size : sizeof(w));
	struct mesh_router *r = mesh__calloc(1, sizeof(*r));
	if (!r)
		return MESH_ENOMEM;
	atomic_init(&r->refs, 1);
	mesh__arena_init(&r->arena);
	r->cfg = mesh_config_ref(cfg);
	r->domain = "cluster.local";
	const char *ns = w.namespace_name ? w.namespace_name : "default";
	r->ns = mesh__arena_strndup(&r->arena, ns, strlen(ns));
	r->labels = (const char *const *)copy_labels(&r->arena, w.labels);
	int rc = (r->ns && r->labels) ? mesh__router_compile(r, reg, diag) : MESH_ENOMEM;
	if (rc) {
		mesh_router_unref(r);
		return rc;
	}
	*out = r;
	return 0;
}

MESH_API mesh_router *mesh_router_ref(mesh_router *r)
{
	if (r)
		atomic_fetch_add(&r->refs, 1);
	return r;
}

MESH_API void mesh_router_unref(mesh_router *r)
{
	if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	mesh__router_release(r);
	mesh_config_unref(r->cfg);
	mesh__free(r);
}

MESH_API int mesh_route_scratch_new(mesh_route_scratch **out)
{
	if (!out)
		return MESH_EINVAL;
	mesh_route_scratch *s = mesh__calloc(1, sizeof(*s));
	if (!s)
		return MESH_ENOMEM;
	s->md = pcre2_match_data_create(1, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	s->jit = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
	if (!s->md || !s->mctx || !s->jit) {
		mesh_route_scratch_free(s);
		return MESH_ENOMEM;
	}
	/* a pathological regex in config must not stall a worker */
	pcre2_set_match_limit(s->mctx, 100000);
	pcre2_set_depth_limit(s->mctx, 1000);
	pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
	*out = s;
	return 0;
}

MESH_API void mesh_route_scratch_free(mesh_route_scratch *s)
{
	if (!s)
		return;
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	pcre2_jit_stack_free(s->jit);
	mesh__free(s);
}

/* Callers compiled against an older, smaller struct mesh_request. */
static const struct mesh_request *full_request(const struct mesh_request *req,
                                               struct mesh_request *copy)
{
	if (req->struct_size >= sizeof(*req))
		return req;
	memset(copy, 0, sizeof(*copy));
	memcpy(copy, req, req->struct_size);
	return copy;
}

int mesh__router_route_filtered(const struct mesh_router *r, const struct mesh_request *req,
                                mesh_route_scratch *s,
                                bool (*allow)(const struct mesh_route *rt, void *arg), void *arg,
                                const mesh_route **out)
{
	if (!r || !req || !s || !out)
		return MESH_EINVAL;
	struct mesh_request copy;
	req = full_request(req, &copy);
	const struct vhost *v = mesh__router_vhost(r, req->authority, req->gateway, false);
	if (!v)
		return MESH_ENOTFOUND;
	for (size_t i = 0; i < v->nroutes; i++)
		if ((!allow || allow(v->routes[i], arg)) &&
		    mesh__route_matches(r, v->routes[i], req, s, NULL)) {
			*out = v->routes[i];
			return 0;
		}
	return MESH_ENOTFOUND;
}

MESH_API int mesh_router_route(const mesh_router *r, const struct mesh_request *req,
                               mesh_route_scratch *s, const mesh_route **out)
{
	return mesh__router_route_filtered(r, req, s, NULL, NULL, out);
}

/* The first tcp / tls route of @v for connection @c. */
static const mesh_route *conn_route(const mesh_router *r, const struct vhost *v,
                                    const struct mesh_connection *c)
{
	for (size_t i = 0; i < v->ntcp; i++) {
		const struct mesh_route *rt = v->tcp[i];
		/* tls routes need an SNI; tcp routes take any connection */
		bool is_tls = rt->nmatches && rt->matches[0].sni;
		if ((!is_tls || c->sni) && mesh__conn_matches(r, rt, c))
			return rt;
	}
	return NULL;
}

MESH_API int mesh_router_route_connection(const mesh_router *r, const struct mesh_connection *c,
                                          const mesh_route **out)
{
	if (!r || !c || !out)
		return MESH_EINVAL;
	struct mesh_connection copy;
	if (c->struct_size < sizeof(*c)) {
		memset(&copy, 0, sizeof(copy));
		memcpy(&copy, c, c->struct_size);
		c = &copy;
	}
	bool mesh = !c->gateway || !strcmp(c->gateway, "mesh");
	const char *name = c->host ? c->host : c->sni;
	const struct vhost *v = mesh__router_vhost(r, name, c->gateway, true);
	const mesh_route *rt = v ? conn_route(r, v, c) : NULL;
	/* a gateway's TCP server has no host to go by: the first tcp route
	 * bound to the gateway that matches, in VirtualService order, as
	 * Istio builds the gateway's tcp_proxy */
	for (size_t i = 0; !rt && !v && !mesh && !c->host && i < r->nvhosts; i++)
		rt = conn_route(r, r->vhosts[i], c);
	if (!rt && v && mesh)
		rt = v->fallback;
	if (!rt)
		return MESH_ENOTFOUND;
	*out = rt;
	return 0;
}

/* ---- accessors ---- */

/* Copy a value struct into the caller's, which may be an older, smaller
 * version of it: only the first out->struct_size bytes are written. */
#define FILL(out, src)                                                                             \
	do {                                                                                       \
		size_t size_ =                                                                     \
			(out)->struct_size < sizeof(*(out)) ? (out)->struct_size : sizeof(*(out)); \
		memcpy((out), &(src), size_);                                                      \
		(out)->struct_size = size_;                                                        \
	} while (0)

MESH_API const char *mesh_route_rule_kind(const mesh_route *rt)
{
	return rt && rt->rule ? rt->rule->kind_name : "default";
}

MESH_API const char *mesh_route_rule_namespace(const mesh_route *rt)
{
	return rt && rt->rule ? rt->rule->ns : NULL;
}

MESH_API const char *mesh_route_rule_name(const mesh_route *rt)
{
	return rt && rt->rule ? rt->rule->name : NULL;
}

MESH_API const char *mesh_route_rule_file(const mesh_route *rt)
{
	return rt && rt->rule ? rt->rule->file : NULL;
}

MESH_API unsigned mesh_route_rule_line(const mesh_route *rt)
{
	return rt ? rt->line : 0;
}

MESH_API const char *mesh_route_name(const mesh_route *rt)
{
	return rt ? rt->name : NULL;
}

MESH_API int mesh_route_action(const mesh_route *rt)
{
	return rt ? rt->action : MESH_EINVAL;
}

MESH_API size_t mesh_route_destination_count(const mesh_route *rt)
{
	return rt ? rt->ndests : 0;
}

MESH_API const mesh_cluster *mesh_route_destination(const mesh_route *rt, size_t i,
                                                    unsigned *weight)
{
	if (!rt || i >= rt->ndests)
		return NULL;
	if (weight)
		*weight = rt->dests[i].weight;
	return rt->dests[i].cluster;
}

MESH_API size_t mesh_route_pick(const mesh_route *rt, uint32_t rnd)
{
	if (!rt || rt->ndests < 2)
		return 0;
	/* scale into [0, total) without modulo bias worth noticing */
	uint32_t x = (uint32_t)(((uint64_t)rnd * rt->total_weight) >> 32);
	size_t lo = 0, hi = rt->ndests - 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (x < rt->dests[mid].cumulative)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

MESH_API int64_t mesh_route_timeout_ms(const mesh_route *rt)
{
	return rt ? rt->timeout_ms : 0;
}

MESH_API int mesh_route_get_retry(const mesh_route *rt, struct mesh_retry_policy *out)
{
	if (!rt || !out || out->struct_size < sizeof(size_t))
		return MESH_EINVAL;
	FILL(out, rt->retry);
	return 0;
}

MESH_API int mesh_route_get_fault(const mesh_route *rt, struct mesh_fault *out)
{
	if (!rt || !out || out->struct_size < sizeof(size_t))
		return MESH_EINVAL;
	if (!rt->has_fault)
		return MESH_ENOTFOUND;
	FILL(out, rt->fault);
	return 0;
}

MESH_API size_t mesh_route_mirror_count(const mesh_route *rt)
{
	return rt ? rt->nmirrors : 0;
}

MESH_API const mesh_cluster *mesh_route_mirror(const mesh_route *rt, size_t i, double *percent)
{
	if (!rt || i >= rt->nmirrors)
		return NULL;
	if (percent)
		*percent = rt->mirrors[i].percent;
	return rt->mirrors[i].cluster;
}

MESH_API int mesh_route_get_redirect(const mesh_route *rt, struct mesh_redirect *out)
{
	if (!rt || !out || out->struct_size < sizeof(size_t))
		return MESH_EINVAL;
	if (rt->action != MESH_ACTION_REDIRECT)
		return MESH_ENOTFOUND;
	FILL(out, rt->redirect);
	return 0;
}

MESH_API int mesh_route_get_direct_response(const mesh_route *rt, int *status, const char **body)
{
	if (!rt)
		return MESH_EINVAL;
	if (rt->action != MESH_ACTION_DIRECT_RESPONSE)
		return MESH_ENOTFOUND;
	if (status)
		*status = rt->direct_status;
	if (body)
		*body = rt->direct_body;
	return 0;
}

MESH_API int mesh_route_get_rewrite(const mesh_route *rt, const char **uri, const char **authority)
{
	if (!rt)
		return MESH_EINVAL;
	if (uri)
		*uri = rt->rewrite_uri;
	if (authority)
		*authority = rt->rewrite_authority;
	return (rt->rewrite_uri || rt->rewrite_authority) ? 0 : MESH_ENOTFOUND;
}

MESH_API size_t mesh_route_header_op_count(const mesh_route *rt)
{
	return rt ? rt->nhops : 0;
}

MESH_API int mesh_route_header_op(const mesh_route *rt, size_t i, int *dir, int *op,
                                  const char **name, const char **value)
{
	if (!rt || i >= rt->nhops)
		return MESH_EINVAL;
	const struct header_op *h = &rt->hops[i];
	if (dir)
		*dir = h->dir;
	if (op)
		*op = h->op;
	if (name)
		*name = h->name;
	if (value)
		*value = h->value;
	return 0;
}

MESH_API const char *mesh_cluster_name(const mesh_cluster *c)
{
	return c ? c->name : NULL;
}

MESH_API const char *mesh_cluster_host(const mesh_cluster *c)
{
	return c ? c->host : NULL;
}

MESH_API const char *mesh_cluster_subset(const mesh_cluster *c)
{
	return c ? c->subset : NULL;
}

MESH_API unsigned mesh_cluster_port(const mesh_cluster *c)
{
	return c ? c->port : 0;
}

MESH_API size_t mesh_cluster_endpoint_count(const mesh_cluster *c)
{
	return c ? c->neps : 0;
}

MESH_API int mesh_cluster_endpoint(const mesh_cluster *c, size_t i, struct mesh_endpoint_info *out)
{
	if (!c || !out || i >= c->neps || out->struct_size < sizeof(size_t))
		return MESH_EINVAL;
	const struct mesh__endpoint *e = &c->eps[i];
	struct mesh_endpoint_info info = {
		.struct_size = sizeof(info),
		.address = e->address,
		.port = e->port,
		.labels = (const char *const *)e->labels,
		.locality = e->locality,
		.weight = e->weight,
		.service_account = e->service_account,
		.network = e->network,
	};
	FILL(out, info);
	return 0;
}

MESH_API size_t mesh_router_cluster_count(const mesh_router *r)
{
	return r ? r->nclusters : 0;
}

MESH_API const mesh_cluster *mesh_router_cluster_at(const mesh_router *r, size_t i)
{
	return (r && i < r->nclusters) ? r->clusters[i] : NULL;
}

MESH_API int mesh_route_get_cors(const mesh_route *rt, struct mesh_cors *out)
{
	if (!rt || !out || out->struct_size < sizeof(size_t))
		return MESH_EINVAL;
	if (!rt->has_cors)
		return MESH_ENOTFOUND;
	FILL(out, rt->cors);
	return 0;
}

MESH_API int mesh_route_cors_origin_allowed(const mesh_route *rt, const char *origin,
                                            mesh_route_scratch *s)
{
	if (!rt || !origin || !s)
		return 0;
	for (size_t i = 0; i < rt->norigins; i++)
		if (mesh__str_match(&rt->origins[i], origin, strlen(origin), s))
			return 1;
	return 0;
}
