/*
 * analyze_policy.c - checks on DestinationRules and policies: TLS settings
 * against PeerAuthentication (MESH0005, MESH0012), unverified server
 * certificates (MESH0013), subsets selecting nothing (MESH0009), two rules
 * for one host (MESH0011), workload selectors matching nothing (MESH0006),
 * conflicting Gateways (MESH0016) and selector-less Sidecars (MESH0017).
 */
#include <stdio.h>
#include <string.h>

#include "analyze_int.h"

/* ---- mTLS: DestinationRule against PeerAuthentication ---- */

/* An effective mTLS mode and the resource that sets it (NULL: default). */
struct mtls {
	const char *mode;
	const struct mesh_resource *src;
	const struct mesh__node *at;
};

static bool pa_mode(const struct mesh_resource *pa, struct mtls *out)
{
	const struct mesh__node *m = mesh__node_path(pa->spec, "mtls.mode");
	const char *s = mesh__node_str(m);
	if (!s || !*s || !strcmp(s, "UNSET"))
		return false; /* inherits from the namespace, then the mesh */
	*out = (struct mtls){ s, pa, m };
	return true;
}

/* Istio's order among the policies of one level: the oldest first
 * (metadata.creationTimestamp; none counts as the oldest of all), then by
 * name. The same order src/security resolves modes by, for the proxy. */
static bool older(const struct mesh_resource *x, const struct mesh_resource *y)
{
	int64_t xs = 0, ys = 0;
	int32_t xn = 0, yn = 0;
	if (!mesh__time_parse_rfc3339(
		    mesh__node_str(mesh__node_path(x->metadata, "creationTimestamp")), &xs, &xn))
		xs = xn = 0;
	if (!mesh__time_parse_rfc3339(
		    mesh__node_str(mesh__node_path(y->metadata, "creationTimestamp")), &ys, &yn))
		ys = yn = 0;
	if (xs != ys)
		return xs < ys;
	if (xn != yn)
		return xn < yn;
	return strcmp(x->name, y->name) < 0;
}

/* The PeerAuthentication of one level Istio takes: the oldest of @ns's
 * policies that select @labels (@labels NULL: that have no selector). */
static const struct mesh_resource *level_policy(struct an *a, const char *ns,
                                                const struct mesh__node *labels)
{
	const struct mesh_resource *best = NULL;
	size_t n;
	const struct an_kv *pas = mesh__an_map_find(&a->pas, ns, &n);
	for (size_t i = 0; i < n; i++) {
		const struct mesh_resource *pa = pas[i].val;
		const struct mesh__node *sel = mesh__node_path(pa->spec, "selector.matchLabels");
		bool has = mesh__an_has_labels(sel);
		if ((labels ? has && mesh__an_labels_match(sel, labels) : !has) &&
		    (!best || older(pa, best)))
			best = pa;
	}
	return best;
}

/* The mode that applies to a workload with @labels in @ns (@labels NULL:
 * to the namespace as a whole), as Istio composes it: the level's policy
 * (workload selector, then namespace, then the root namespace's mesh-wide
 * one) decides when it sets a mode, an UNSET one passes to the next level;
 * then the MeshConfig default, then PERMISSIVE. Workloads of the root
 * namespace get the mesh-wide level only. */
static struct mtls effective_mtls(struct an *a, const char *ns, const struct mesh__node *labels)
{
	struct mtls m = { "PERMISSIVE", NULL, NULL };
	const struct mesh_resource *p;
	bool root = !strcmp(ns, a->root_ns);
	if (labels && !root && (p = level_policy(a, ns, labels)) && pa_mode(p, &m))
		return m;
	if (!root && (p = level_policy(a, ns, NULL)) && pa_mode(p, &m))
		return m;
	if ((p = level_policy(a, a->root_ns, NULL)) && pa_mode(p, &m))
		return m;
	const char *def = mesh__node_str(a->mesh_mtls);
	if (def && *def && strcmp(def, "UNSET"))
		m = (struct mtls){ def, a->mesh_cfg, a->mesh_mtls };
	return m;
}

struct tls_find {
	const char *bad; /* the mode that conflicts */
	struct mtls found;
	const struct an_workload *w;
};

static bool find_mode(struct an *a, const struct an_workload *w, void *ctx)
{
	struct tls_find *t = ctx;
	struct mtls m = effective_mtls(a, w->ns, w->labels);
	if (!m.src || strcmp(m.mode, t->bad))
		return false;
	t->found = m;
	t->w = w;
	return true;
}

/* "name.ns.svc.cluster.local" -> "ns" in @buf, else NULL. */
static const char *fqdn_namespace(const char *host, char *buf, size_t size)
{
	const char *dot = strchr(host, '.');
	const char *svc = dot ? strstr(dot + 1, ".svc.cluster.local") : NULL;
	if (!svc || svc[18] || (size_t)(svc - dot) >= size || svc == dot + 1)
		return NULL;
	snprintf(buf, size, "%.*s", (int)(svc - dot - 1), dot + 1);
	return buf;
}

/* One tls block of a DestinationRule; @sel: the subset's labels or NULL. */
static void check_tls(struct an *a, const struct mesh_resource *dr, const char *host,
                      const struct an_kv *svc, size_t nsvc, const struct mesh__node *tls,
                      const char *path, const struct mesh__node *sel)
{
	const struct mesh__node *mn = mesh__node_get(tls, "mode");
	const char *mode = mesh__node_str(mn);
	if (!mode)
		return;
	char p[320];
	bool mutual = !strcmp(mode, "MUTUAL");
	if ((mutual || !strcmp(mode, "SIMPLE")) &&
	    !mesh__node_str(mesh__node_get(tls, "caCertificates")) &&
	    !mesh__node_str(mesh__node_get(tls, "credentialName")) &&
	    !mesh__an_is(mesh__node_get(tls, "insecureSkipVerify"), "true"))
		mesh__an_report(a, dr, tls, path, "MESH0013",
		                "tls mode %s without caCertificates or credentialName: the "
		                "certificate of %s is not verified",
		                mode, host);
	bool mesh_svc = false;
	for (size_t i = 0; i < nsvc; i++)
		mesh_svc = mesh_svc || ((const struct an_service *)svc[i].val)->mesh_internal;
	struct tls_find t = { NULL, { NULL, NULL, NULL }, NULL };
	const char *code = "MESH0005", *effect = "its sidecars do not accept mTLS connections";
	if ((!strcmp(mode, "ISTIO_MUTUAL") || (mutual && mesh_svc)) && a->any_disable) {
		t.bad = "DISABLE";
	} else if (!strcmp(mode, "DISABLE") && a->any_strict) {
		t.bad = "STRICT";
		code = "MESH0012";
		effect = "its sidecars refuse plain-text connections";
	} else {
		return;
	}
	char where[512], nsbuf[256];
	if ((svc ? mesh__an_visit(a, svc, nsvc, sel, find_mode, &t) : -1) < 0) {
		/* no workload known: what applies to its namespace */
		const char *ns = svc ? ((const struct an_service *)svc[0].val)->r->ns
		                     : fqdn_namespace(host, nsbuf, sizeof(nsbuf));
		struct mtls m = effective_mtls(a, ns ? ns : a->root_ns, NULL);
		if (!m.src || strcmp(m.mode, t.bad))
			return;
		t.found = m;
		snprintf(where, sizeof(where), "%s%s", ns ? "namespace " : "the mesh",
		         ns ? ns : "");
	} else if (t.w) {
		snprintf(where, sizeof(where), "%s %s/%s", t.w->r->kind_name, t.w->r->ns,
		         t.w->r->name);
	} else {
		return;
	}
	snprintf(p, sizeof(p), "%s.mode", path);
	const struct mtls *f = &t.found;
	mesh__an_report(a, dr, mn, p, code,
	                "tls mode %s, but %s %s/%s (%s:%u) sets mTLS mode %s for %s (%s): %s", mode,
	                f->src->kind_name, f->src->ns, f->src->name, AN_AT(f->src, f->at), f->mode,
	                host, where, effect);
}

/* A traffic policy: its tls and those of its port-level settings. */
static void check_policy(struct an *a, const struct mesh_resource *dr, const char *host,
                         const struct an_kv *svc, size_t nsvc, const struct mesh__node *tp,
                         const char *path, const struct mesh__node *sel)
{
	char p[320];
	snprintf(p, sizeof(p), "%s.tls", path);
	check_tls(a, dr, host, svc, nsvc, mesh__node_get(tp, "tls"), p, sel);
	const struct mesh__node *pls = mesh__node_get(tp, "portLevelSettings");
	for (size_t i = 0; pls && pls->type == MESH_NODE_SEQ && i < pls->count; i++) {
		snprintf(p, sizeof(p), "%s.portLevelSettings[%zu].tls", path, i);
		check_tls(a, dr, host, svc, nsvc, mesh__node_get(pls->u.items[i], "tls"), p, sel);
	}
}

static void check_dr(struct an *a, const struct mesh_resource *dr, struct an_map *same)
{
	const char *raw = mesh__node_str(mesh__node_get(dr->spec, "host"));
	const char *host = mesh__an_fqdn(a, raw, dr->ns);
	if (!host)
		return;
	size_t nsvc = 0;
	const struct an_kv *svc =
		strchr(host, '*') ? NULL : mesh__an_lookup(&a->hosts, host, &nsvc);
	if (!mesh__node_get(dr->spec, "workloadSelector"))
		mesh__an_map_add(a, same, mesh__an_printf(a, "%s\037%s", host, dr->ns), dr);
	check_policy(a, dr, host, svc, nsvc, mesh__node_get(dr->spec, "trafficPolicy"),
	             "spec.trafficPolicy", NULL);
	const struct mesh__node *subsets = mesh__node_get(dr->spec, "subsets");
	long known = svc ? mesh__an_visit(a, svc, nsvc, NULL, NULL, NULL) : -1;
	char p[320];
	for (size_t k = 0; subsets && subsets->type == MESH_NODE_SEQ && k < subsets->count; k++) {
		const struct mesh__node *s = subsets->u.items[k];
		const struct mesh__node *labels = mesh__node_get(s, "labels");
		snprintf(p, sizeof(p), "spec.subsets[%zu].trafficPolicy", k);
		check_policy(a, dr, host, svc, nsvc, mesh__node_get(s, "trafficPolicy"), p, labels);
		if (known <= 0 || !mesh__an_has_labels(labels) ||
		    mesh__an_visit(a, svc, nsvc, labels, NULL, NULL) > 0)
			continue;
		const char *name = mesh__node_str(mesh__node_get(s, "name"));
		snprintf(p, sizeof(p), "spec.subsets[%zu].labels", k);
		mesh__an_report(a, dr, labels, p, "MESH0009",
		                "subset \"%s\": labels %s select none of the %ld known workload%s "
		                "of %s",
		                name ? name : "", mesh__an_labels_str(a, labels), known,
		                known == 1 ? "" : "s", host);
	}
}

/* MESH0011: DestinationRules without workloadSelector for one host in one
 * namespace (grouped by "host\037ns"). */
static void report_same_host(struct an *a, const struct an_map *same)
{
	for (size_t i = 1, g = 0; i < same->n; i++) {
		if (strcmp(same->v[i].key, same->v[g].key)) {
			g = i;
			continue;
		}
		const struct mesh_resource *first = same->v[g].val, *r = same->v[i].val;
		const struct mesh__node *hn = mesh__node_get(r->spec, "host");
		mesh__an_report(
			a, r, hn, "spec.host", "MESH0011",
			"DestinationRule %s/%s (%s:%u) is also for host %s in namespace %s: "
			"only one traffic policy and set of subsets takes effect",
			first->ns, first->name, first->file, first->name_node->line,
			mesh__an_fqdn(a, mesh__node_str(hn), r->ns), r->ns);
	}
}

/* ---- workload selectors ---- */

/* MESH0006: a selector of a policy that matches no known workload. In the
 * root namespace, AuthorizationPolicy, RequestAuthentication and Telemetry
 * select workloads of every namespace. */
static void check_selector(struct an *a, const struct mesh_resource *r)
{
	const char *path = NULL;
	bool meshwide = false;
	switch (r->kind) {
	case MESH_KIND_AUTHORIZATION_POLICY:
	case MESH_KIND_REQUEST_AUTHENTICATION:
	case MESH_KIND_TELEMETRY: meshwide = !strcmp(r->ns, a->root_ns); /* fall through */
	case MESH_KIND_PEER_AUTHENTICATION: path = "spec.selector.matchLabels"; break;
	case MESH_KIND_SIDECAR:
	case MESH_KIND_SERVICE_ENTRY: path = "spec.workloadSelector.labels"; break;
	default: return;
	}
	const struct mesh__node *sel = mesh__node_path(r->root, path);
	if (!mesh__an_has_labels(sel))
		return;
	size_t n;
	const struct an_kv *c = mesh__an_candidates(a, meshwide ? "" : r->ns, sel, &n);
	for (size_t i = 0; i < n; i++)
		if (mesh__an_labels_match(sel, ((const struct an_workload *)c[i].val)->labels))
			return;
	mesh__an_report(a, r, sel, path, "MESH0006", "selector %s matches no known workload %s%s",
	                mesh__an_labels_str(a, sel), meshwide ? "in the mesh" : "in namespace ",
	                meshwide ? "" : r->ns);
}

/* ---- Gateways and Sidecars ---- */

/* The labels of @sel sorted by key, "k=v,k2=v2", so that equal selectors
 * compare equal whatever their order. */
static const char *canonical_selector(struct an *a, const struct mesh__node *sel)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	const char *last = NULL;
	for (size_t round = 0; mesh__an_has_labels(sel) && round < sel->count; round++) {
		const struct mesh__pair *best = NULL;
		for (size_t i = 0; i < sel->count; i++) {
			const char *k = mesh__node_str(sel->u.pairs[i].key);
			if (k && (!last || strcmp(k, last) > 0) &&
			    (!best || strcmp(k, best->key->u.str) < 0))
				best = &sel->u.pairs[i];
		}
		if (!best)
			break;
		last = best->key->u.str;
		const char *v = mesh__node_str(best->value);
		mesh__sb_printf(&sb, "%s%s=%s", round ? "," : "", last, v ? v : "");
	}
	const char *s = mesh__an_printf(a, "%s", mesh__sb_str(&sb));
	mesh__sb_fini(&sb);
	return s;
}

struct gw_host {
	const struct mesh_resource *r;
	const struct mesh__node *at;
	size_t server, idx;
	const char *host, *selector, *port;
	bool reported; /* one finding per host entry */
};

static void add_gateway(struct an *a, const struct mesh_resource *r, struct an_map *m)
{
	const char *sel = canonical_selector(a, mesh__node_get(r->spec, "selector"));
	const struct mesh__node *servers = mesh__node_get(r->spec, "servers");
	for (size_t i = 0; sel && servers && servers->type == MESH_NODE_SEQ && i < servers->count;
	     i++) {
		const char *port =
			mesh__node_str(mesh__node_path(servers->u.items[i], "port.number"));
		const struct mesh__node *hosts = mesh__node_get(servers->u.items[i], "hosts");
		for (size_t j = 0;
		     port && hosts && hosts->type == MESH_NODE_SEQ && j < hosts->count; j++) {
			const char *h = mesh__node_str(hosts->u.items[j]);
			if (!h)
				continue;
			const char *slash = strchr(h, '/');
			struct gw_host *g = mesh__arena_alloc(&a->arena, sizeof(*g));
			if (!g) {
				a->err = MESH_ENOMEM;
				return;
			}
			*g = (struct gw_host){
				r, hosts->u.items[j], i, j, slash ? slash + 1 : h, sel, port, false
			};
			mesh__an_map_add(
				a, m, mesh__an_printf(a, "%s\037%s\037%s", sel, port, g->host), g);
		}
	}
}

static void gateway_conflict(struct an *a, struct gw_host *g, const struct gw_host *o)
{
	char p[96];
	if (g->reported)
		return;
	g->reported = true;
	snprintf(p, sizeof(p), "spec.servers[%zu].hosts[%zu]", g->server, g->idx);
	mesh__an_report(a, g->r, g->at, p, "MESH0016",
	                "host \"%s\" on port %s of the workloads %s is also served by Gateway "
	                "%s/%s (%s:%u, host \"%s\"): the two Gateways conflict",
	                g->host, g->port, *g->selector ? g->selector : "(all)", o->r->ns,
	                o->r->name, AN_AT(o->r, o->at), o->host);
}

/* MESH0016: each host of a Gateway server against earlier Gateways with
 * the same selector and port: the same host, or a wildcard covering it. */
static void report_gateways(struct an *a, const struct an_map *m)
{
	char key[700];
	for (size_t i = 0, g = 0; i < m->n; i++) {
		if (strcmp(m->v[i].key, m->v[g].key))
			g = i;
		struct gw_host *h = (struct gw_host *)m->v[i].val;
		const struct gw_host *first = m->v[g].val;
		if (first->r != h->r) {
			gateway_conflict(a, h, first);
			continue;
		}
		if (!strcmp(h->host, "*") || strlen(h->host) > 300 || strlen(h->selector) > 300)
			continue;
		const char *rest = h->host[0] == '*' ? h->host + 1 : h->host;
		const char *p = strchr(rest + (*rest == '.'), '.');
		for (bool last = false; !last; p = p ? strchr(p + 1, '.') : NULL) {
			last = !p;
			snprintf(key, sizeof(key), "%s\037%s\037*%s", h->selector, h->port,
			         p ? p : "");
			size_t n;
			const struct an_kv *c = mesh__an_map_find(m, key, &n);
			for (size_t k = 0; k < n; k++) {
				struct gw_host *o = (struct gw_host *)c[k].val;
				if (o->r == h->r)
					continue;
				/* report on whichever came later */
				if (c[k].seq < m->v[i].seq)
					gateway_conflict(a, h, o);
				else
					gateway_conflict(a, o, h);
				last = true;
				break;
			}
		}
	}
}

/* MESH0017: namespaces with more than one Sidecar without workloadSelector. */
static void report_sidecars(struct an *a, const struct an_map *m)
{
	for (size_t i = 1, g = 0; i < m->n; i++) {
		if (strcmp(m->v[i].key, m->v[g].key)) {
			g = i;
			continue;
		}
		const struct mesh_resource *first = m->v[g].val, *r = m->v[i].val;
		mesh__an_report(a, r, r->name_node, "metadata.name", "MESH0017",
		                "namespace %s already has a Sidecar without workloadSelector, %s "
		                "(%s:%u): which one applies is undefined",
		                r->ns, first->name, first->file, first->name_node->line);
	}
}

void mesh__an_check_policy(struct an *a)
{
	struct an_map same = { 0 }, gws = { 0 }, sidecars = { 0 };
	const mesh_config *cfg = a->cfg;
	for (size_t i = 0; i < cfg->nres && !a->err; i++) {
		const struct mesh_resource *r = cfg->res[i];
		if (r->kind == MESH_KIND_DESTINATION_RULE)
			check_dr(a, r, &same);
		else if (r->kind == MESH_KIND_GATEWAY)
			add_gateway(a, r, &gws);
		else if (r->kind == MESH_KIND_SIDECAR &&
		         !mesh__node_get(r->spec, "workloadSelector"))
			mesh__an_map_add(a, &sidecars, r->ns, r);
		if (a->nworkloads)
			check_selector(a, r);
	}
	mesh__an_map_sort(&same);
	mesh__an_map_sort(&gws);
	mesh__an_map_sort(&sidecars);
	if (!a->err) {
		report_same_host(a, &same);
		report_gateways(a, &gws);
		report_sidecars(a, &sidecars);
	}
	mesh__free(same.v);
	mesh__free(gws.v);
	mesh__free(sidecars.v);
}
