/*
 * analyze.c - mesh_config_analyze(): builds what the configuration says
 * exists (services, workloads, DestinationRules, PeerAuthentications), runs
 * the checks of analyze_routes.c, analyze_match.c and analyze_policy.c, and
 * hands their findings to the caller sorted by position. The codes are
 * documented in docs/analyze-codes.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_int.h"

/* ---- maps ---- */

void mesh__an_map_add(struct an *a, struct an_map *m, const char *key, const void *val)
{
	if (!key || a->err)
		return;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct an_kv *v = mesh__realloc(m->v, cap * sizeof(*v));
		if (!v) {
			a->err = MESH_ENOMEM;
			return;
		}
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n] = (struct an_kv){ key, val, m->n };
	m->n++;
}

static int cmp_kv(const void *pa, const void *pb)
{
	const struct an_kv *x = pa, *y = pb;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

void mesh__an_map_sort(struct an_map *m)
{
	if (m->n > 1)
		qsort(m->v, m->n, sizeof(m->v[0]), cmp_kv);
}

/* First entry whose key is not below @key. */
static size_t lower_bound(const struct an_map *m, const char *key)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(m->v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct an_kv *mesh__an_map_find(const struct an_map *m, const char *key, size_t *n)
{
	size_t i = lower_bound(m, key), j = i;
	while (j < m->n && !strcmp(m->v[j].key, key))
		j++;
	*n = j - i;
	return j > i ? &m->v[i] : NULL;
}

const struct an_kv *mesh__an_map_prefix(const struct an_map *m, const char *prefix, size_t *n)
{
	size_t len = strlen(prefix);
	size_t i = lower_bound(m, prefix), j = i;
	while (j < m->n && !strncmp(m->v[j].key, prefix, len))
		j++;
	*n = j - i;
	return j > i ? &m->v[i] : NULL;
}

/* ---- small helpers ---- */

char *mesh__an_printf(struct an *a, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (len < 0)
		return NULL;
	char *s = mesh__arena_alloc(&a->arena, (size_t)len + 1);
	if (!s) {
		a->err = MESH_ENOMEM;
		return NULL;
	}
	if ((size_t)len < sizeof(small)) {
		memcpy(s, small, (size_t)len + 1);
	} else {
		va_start(ap, fmt);
		vsnprintf(s, (size_t)len + 1, fmt, ap);
		va_end(ap);
	}
	return s;
}

void mesh__an_report(struct an *a, const struct mesh_resource *r, const struct mesh__node *at,
                     const char *path, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mesh__diag_vadd(a->out, MESH_SEV_WARNING, code, r->file, at ? at->line : r->line,
	                at ? at->col : 1, path, fmt, ap);
	va_end(ap);
	a->findings++;
}

bool mesh__an_int(const struct mesh__node *n, int64_t *out)
{
	const char *s = mesh__node_str(n);
	if (!s || !*s)
		return false;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return false;
	*out = v;
	return true;
}

bool mesh__an_is(const struct mesh__node *n, const char *s)
{
	const char *v = mesh__node_str(n);
	return v && !strcmp(v, s);
}

const char *mesh__an_fqdn(struct an *a, const char *host, const char *ns)
{
	if (!host || !*host)
		return NULL;
	if (strchr(host, '.') || !strcmp(host, "*"))
		return host;
	return mesh__an_printf(a, "%s.%s.svc.cluster.local", host, ns);
}

const char *mesh__an_istio_service(struct an *a, const struct mesh__node *svc, const char *ns)
{
	const char *fq = mesh__node_str(mesh__node_get(svc, "service"));
	if (fq && *fq)
		return fq;
	const char *name = mesh__node_str(mesh__node_get(svc, "name"));
	if (!name || !*name)
		return NULL;
	if (strchr(name, '.'))
		return name;
	const char *sns = mesh__node_str(mesh__node_get(svc, "namespace"));
	const char *domain = mesh__node_str(mesh__node_get(svc, "domain"));
	return mesh__an_printf(a, "%s.%s.svc.%s", name, (sns && *sns) ? sns : ns,
	                       (domain && *domain) ? domain : "cluster.local");
}

const struct an_kv *mesh__an_lookup(const struct an_map *m, const char *host, size_t *n)
{
	const struct an_kv *kv = mesh__an_map_find(m, host, n);
	if (kv)
		return kv;
	char buf[600];
	size_t len = strlen(host);
	if (len > 300)
		return NULL;
	/* Kubernetes DNS also answers "name.ns" and "name.ns.svc" */
	const char *dot = strchr(host, '.');
	if (dot && !strchr(dot + 1, '.'))
		snprintf(buf, sizeof(buf), "%s.svc.cluster.local", host);
	else if (len > 4 && !strcmp(host + len - 4, ".svc"))
		snprintf(buf, sizeof(buf), "%s.cluster.local", host);
	else
		buf[0] = '\0';
	if (buf[0] && (kv = mesh__an_map_find(m, buf, n)))
		return kv;
	/* wildcard entries, most specific first: *.b.c, then *.c, then * */
	for (const char *p = host; (p = strchr(p, '.')); p++) {
		snprintf(buf, sizeof(buf), "*%s", p);
		if ((kv = mesh__an_map_find(m, buf, n)))
			return kv;
	}
	return mesh__an_map_find(m, "*", n);
}

bool mesh__an_has_labels(const struct mesh__node *sel)
{
	return sel && sel->type == MESH_NODE_MAP && sel->count > 0;
}

bool mesh__an_labels_match(const struct mesh__node *sel, const struct mesh__node *labels)
{
	if (!mesh__an_has_labels(sel))
		return true;
	if (!labels || labels->type != MESH_NODE_MAP)
		return false;
	for (size_t i = 0; i < sel->count; i++) {
		const char *k = mesh__node_str(sel->u.pairs[i].key);
		const char *v = mesh__node_str(sel->u.pairs[i].value);
		bool found = false;
		for (size_t j = 0; k && v && j < labels->count && !found; j++) {
			const char *lk = mesh__node_str(labels->u.pairs[j].key);
			const char *lv = mesh__node_str(labels->u.pairs[j].value);
			found = lk && lv && !strcmp(k, lk) && !strcmp(v, lv);
		}
		if (!found)
			return false;
	}
	return true;
}

const char *mesh__an_labels_str(struct an *a, const struct mesh__node *sel)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	for (size_t i = 0; mesh__an_has_labels(sel) && i < sel->count; i++) {
		const char *k = mesh__node_str(sel->u.pairs[i].key);
		const char *v = mesh__node_str(sel->u.pairs[i].value);
		mesh__sb_printf(&sb, "%s%s=%s", i ? "," : "", k ? k : "", v ? v : "");
	}
	const char *s = mesh__an_printf(a, "%s", mesh__sb_str(&sb));
	mesh__sb_fini(&sb);
	return s ? s : "";
}

const struct an_kv *mesh__an_candidates(struct an *a, const char *ns, const struct mesh__node *sel,
                                        size_t *n)
{
	if (!mesh__an_has_labels(sel)) {
		if (!*ns) {
			*n = a->wl_ns.n;
			return a->wl_ns.n ? a->wl_ns.v : NULL;
		}
		return mesh__an_map_find(&a->wl_ns, ns, n);
	}
	const char *k = mesh__node_str(sel->u.pairs[0].key);
	const char *v = mesh__node_str(sel->u.pairs[0].value);
	char buf[600];
	if (!k || !v || strlen(ns) + strlen(k) + strlen(v) + 3 > sizeof(buf)) {
		*n = 0;
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%s\037%s\037%s", ns, k, v);
	return mesh__an_map_find(&a->wl_lbl, buf, n);
}

long mesh__an_visit(struct an *a, const struct an_kv *svc, size_t nsvc,
                    const struct mesh__node *sel, mesh__an_wl_fn fn, void *ctx)
{
	bool known = false;
	long visited = 0;
	for (size_t i = 0; i < nsvc; i++) {
		const struct an_service *s = svc[i].val;
		const struct mesh__node *eps = s->endpoints;
		for (size_t j = 0; eps && eps->type == MESH_NODE_SEQ && j < eps->count; j++) {
			struct an_workload w = { s->r, s->r->ns,
				                 mesh__node_get(eps->u.items[j], "labels") };
			known = true;
			if (mesh__an_labels_match(sel, w.labels)) {
				visited++;
				if (fn && fn(a, &w, ctx))
					return visited;
			}
		}
		if (!mesh__an_has_labels(s->selector))
			continue;
		size_t nc;
		const struct an_kv *c = mesh__an_candidates(a, s->r->ns, s->selector, &nc);
		for (size_t j = 0; j < nc; j++) {
			const struct an_workload *w = c[j].val;
			if (!mesh__an_labels_match(s->selector, w->labels))
				continue;
			known = true;
			if (mesh__an_labels_match(sel, w->labels)) {
				visited++;
				if (fn && fn(a, w, ctx))
					return visited;
			}
		}
	}
	return known ? visited : -1;
}

/* ---- building the indexes ---- */

static void add_workload(struct an *a, const struct mesh_resource *r,
                         const struct mesh__node *labels)
{
	struct an_workload *w = mesh__arena_alloc(&a->arena, sizeof(*w));
	if (!w) {
		a->err = MESH_ENOMEM;
		return;
	}
	*w = (struct an_workload){ r, r->ns, labels };
	a->nworkloads++;
	mesh__an_map_add(a, &a->wl_ns, r->ns, w);
	for (size_t i = 0; labels && labels->type == MESH_NODE_MAP && i < labels->count; i++) {
		const char *k = mesh__node_str(labels->u.pairs[i].key);
		const char *v = mesh__node_str(labels->u.pairs[i].value);
		if (!k || !v)
			continue;
		/* by namespace, and mesh-wide for root-namespace policies */
		mesh__an_map_add(a, &a->wl_lbl, mesh__an_printf(a, "%s\037%s\037%s", r->ns, k, v),
		                 w);
		mesh__an_map_add(a, &a->wl_lbl, mesh__an_printf(a, "\037%s\037%s", k, v), w);
	}
}

static struct an_service *add_service(struct an *a, const struct mesh_resource *r)
{
	struct an_service *s = mesh__arena_alloc(&a->arena, sizeof(*s));
	if (!s) {
		a->err = MESH_ENOMEM;
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->r = r;
	return s;
}

static void index_service_entry(struct an *a, const struct mesh_resource *r)
{
	struct an_service *s = add_service(a, r);
	if (!s)
		return;
	s->selector = mesh__node_path(r->spec, "workloadSelector.labels");
	s->endpoints = mesh__node_get(r->spec, "endpoints");
	s->ports = mesh__node_get(r->spec, "ports");
	s->port_key = "number";
	s->mesh_internal = mesh__an_is(mesh__node_get(r->spec, "location"), "MESH_INTERNAL");
	const struct mesh__node *hosts = mesh__node_get(r->spec, "hosts");
	for (size_t i = 0; hosts && hosts->type == MESH_NODE_SEQ && i < hosts->count; i++)
		mesh__an_map_add(a, &a->hosts, mesh__node_str(hosts->u.items[i]), s);
	const struct mesh__node *eps = s->endpoints;
	for (size_t i = 0; eps && eps->type == MESH_NODE_SEQ && i < eps->count; i++)
		add_workload(a, r, mesh__node_get(eps->u.items[i], "labels"));
}

static void index_k8s(struct an *a, const struct mesh_resource *r)
{
	const struct mesh__node *labels = mesh__k8s_workload_labels(r);
	if (labels) {
		add_workload(a, r, labels);
		return;
	}
	if (strcmp(r->kind_name, "Service") || strcmp(r->api_version, "v1") || !*r->name)
		return;
	struct an_service *s = add_service(a, r);
	if (!s)
		return;
	s->selector = mesh__node_get(r->spec, "selector");
	s->ports = mesh__node_get(r->spec, "ports");
	s->port_key = "port";
	s->mesh_internal = true;
	mesh__an_map_add(a, &a->hosts,
	                 mesh__an_printf(a, "%s.%s.svc.cluster.local", r->name, r->ns), s);
}

/* Which modes policies set, so that the mTLS checks can skip the search
 * when no policy could conflict. */
static void note_mode(struct an *a, const struct mesh__node *mode)
{
	a->any_disable = a->any_disable || mesh__an_is(mode, "DISABLE");
	a->any_strict = a->any_strict || mesh__an_is(mode, "STRICT");
}

static void build(struct an *a)
{
	const mesh_config *cfg = a->cfg;
	a->root_ns = "istio-system";
	for (size_t i = 0; i < cfg->nres; i++) {
		const struct mesh_resource *r = cfg->res[i];
		switch (r->kind) {
		case MESH_KIND_SERVICE_ENTRY: index_service_entry(a, r); break;
		case MESH_KIND_WORKLOAD_ENTRY:
			add_workload(a, r, mesh__node_get(r->spec, "labels"));
			break;
		case MESH_KIND_DESTINATION_RULE: {
			const char *h = mesh__node_str(mesh__node_get(r->spec, "host"));
			mesh__an_map_add(a, &a->drs, mesh__an_fqdn(a, h, r->ns), r);
			break;
		}
		case MESH_KIND_PEER_AUTHENTICATION:
			mesh__an_map_add(a, &a->pas, r->ns, r);
			note_mode(a, mesh__node_path(r->spec, "mtls.mode"));
			break;
		case MESH_KIND_MESH_CONFIG:
			if (!a->mesh_cfg) {
				const char *root =
					mesh__node_str(mesh__node_get(r->spec, "rootNamespace"));
				if (root && *root)
					a->root_ns = root;
				a->mesh_cfg = r;
				a->mesh_mtls = mesh__node_path(r->spec, "mtls.mode");
				note_mode(a, a->mesh_mtls);
			}
			break;
		default: break;
		}
	}
	/* the same Kubernetes object may come in several files (a manifest
	 * applied twice): count it once */
	struct an_map k8s = { 0 };
	for (size_t i = 0; i < cfg->next; i++) {
		const struct mesh_resource *r = cfg->ext[i];
		mesh__an_map_add(a, &k8s,
		                 mesh__an_printf(a, "%s\037%s\037%s", r->kind_name, r->ns, r->name),
		                 r);
	}
	mesh__an_map_sort(&k8s);
	for (size_t i = 0; i < k8s.n && !a->err; i++)
		if (i == 0 || strcmp(k8s.v[i].key, k8s.v[i - 1].key))
			index_k8s(a, k8s.v[i].val);
	mesh__free(k8s.v);
	mesh__an_map_sort(&a->hosts);
	mesh__an_map_sort(&a->wl_ns);
	mesh__an_map_sort(&a->wl_lbl);
	mesh__an_map_sort(&a->drs);
	mesh__an_map_sort(&a->pas);
}

/* Appends the findings, sorted by position, after what @diag holds. */
static void hand_over(mesh_diag *from, mesh_diag *to)
{
	mesh__diag_sort(from);
	for (size_t i = 0; i < mesh_diag_count(from); i++)
		mesh__diag_add(to, mesh_diag_severity(from, i), mesh_diag_code(from, i),
		               mesh_diag_file(from, i), mesh_diag_line(from, i),
		               mesh_diag_column(from, i), mesh_diag_path(from, i), "%s",
		               mesh_diag_message(from, i));
}

MESH_API int mesh_config_analyze(const mesh_config *cfg, mesh_diag *diag)
{
	if (!cfg)
		return MESH_EINVAL;
	struct an a;
	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	if (mesh_diag_new(&a.out))
		return MESH_ENOMEM;
	mesh__arena_init(&a.arena);
	build(&a);
	if (!a.err)
		mesh__an_check_routes(&a);
	if (!a.err)
		mesh__an_check_matches(&a);
	if (!a.err)
		mesh__an_check_policy(&a);
	if (!a.err)
		hand_over(a.out, diag);
	mesh_diag_free(a.out);
	mesh__arena_fini(&a.arena);
	mesh__free(a.hosts.v);
	mesh__free(a.wl_ns.v);
	mesh__free(a.wl_lbl.v);
	mesh__free(a.drs.v);
	mesh__free(a.pas.v);
	return a.err ? a.err : a.findings;
}
