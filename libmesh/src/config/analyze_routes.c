/*
 * analyze_routes.c - checks on what routes refer to: destination hosts
 * (MESH0003), subsets (MESH0001), ports (MESH0015) and labels (MESH0002),
 * gateways (MESH0010), RouteRule precedence ties (MESH0004) and hosts that
 * two VirtualServices claim for the mesh gateway (MESH0008).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "analyze_int.h"

/* A resource and the node a finding about it points at. */
struct ref {
	const struct mesh_resource *r;
	const struct mesh__node *at;
	const char *path; /* NULL: spec.hosts[idx] */
	size_t idx;
	const char *host;
};

struct routes {
	struct an *a;
	struct an_map prec;  /* "fqdn\037precedence" -> struct ref (RouteRules) */
	struct an_map mhost; /* fqdn -> struct ref (VirtualServices bound to the mesh) */
};

static void add_ref(struct an *a, struct an_map *m, const char *key, const struct mesh_resource *r,
                    const struct mesh__node *at, const char *path, size_t idx, const char *host)
{
	struct ref *x = mesh__arena_alloc(&a->arena, sizeof(*x));
	if (!x) {
		a->err = MESH_ENOMEM;
		return;
	}
	*x = (struct ref){ r, at, path, idx, host };
	mesh__an_map_add(a, m, key, x);
}

/* The services providing a host as written (@raw) and expanded (@host);
 * a ServiceEntry may list a short name literally. */
static const struct an_kv *services(struct an *a, const char *raw, const char *host, size_t *n)
{
	const struct an_kv *s = mesh__an_lookup(&a->hosts, host, n);
	if (!s && raw && strcmp(raw, host))
		s = mesh__an_map_find(&a->hosts, raw, n);
	return s;
}

static void no_host(struct an *a, const struct mesh_resource *r, const struct mesh__node *at,
                    const char *path, const char *raw, const char *host)
{
	if (!strcmp(raw, host))
		mesh__an_report(a, r, at, path, "MESH0003",
		                "host \"%s\" matches no ServiceEntry or Kubernetes Service", host);
	else
		mesh__an_report(a, r, at, path, "MESH0003",
		                "host \"%s\" (%s) matches no ServiceEntry or Kubernetes Service",
		                raw, host);
}

/* MESH0003 for a host node; returns the services (NULL: none, reported). */
static const struct an_kv *check_host(struct an *a, const struct mesh_resource *r,
                                      const struct mesh__node *hn, const char *host,
                                      const char *path, size_t *n)
{
	const char *raw = mesh__node_str(hn);
	*n = 0;
	if (!raw || !host || strchr(raw, '*'))
		return NULL; /* wildcards name no single service */
	const struct an_kv *s = services(a, raw, host, n);
	if (!s)
		no_host(a, r, hn, path, raw, host);
	return s;
}

/* MESH0001: the subset must be defined by a DestinationRule of the host. */
static void check_subset(struct an *a, const struct mesh_resource *r, const struct mesh__node *sn,
                         const char *host, const char *path)
{
	const char *subset = mesh__node_str(sn);
	if (!subset || !*subset)
		return;
	size_t n;
	const struct an_kv *drs = mesh__an_lookup(&a->drs, host, &n);
	for (size_t i = 0; i < n; i++) {
		const struct mesh_resource *dr = drs[i].val;
		const struct mesh__node *subsets = mesh__node_get(dr->spec, "subsets");
		for (size_t j = 0; subsets && subsets->type == MESH_NODE_SEQ && j < subsets->count;
		     j++)
			if (mesh__an_is(mesh__node_get(subsets->u.items[j], "name"), subset))
				return;
	}
	if (!drs) {
		mesh__an_report(a, r, sn, path, "MESH0001",
		                "subset \"%s\" is not defined: no DestinationRule for host %s",
		                subset, host);
		return;
	}
	const struct mesh_resource *dr = drs[0].val;
	mesh__an_report(a, r, sn, path, "MESH0001",
	                "subset \"%s\" is not defined by DestinationRule %s/%s (%s:%u) for host %s",
	                subset, dr->ns, dr->name, dr->file, dr->name_node->line, host);
}

/* MESH0015: a destination port must be one of the service's ports. */
static void check_port(struct an *a, const struct mesh_resource *r, const struct mesh__node *pn,
                       const struct an_kv *svc, size_t nsvc, const char *host, const char *path)
{
	int64_t port;
	if (!mesh__an_int(pn, &port))
		return;
	struct mesh__sb list;
	mesh__sb_init(&list);
	for (size_t i = 0; i < nsvc; i++) {
		const struct an_service *s = svc[i].val;
		const struct mesh__node *ports = s->ports;
		for (size_t j = 0; ports && ports->type == MESH_NODE_SEQ && j < ports->count; j++) {
			int64_t num;
			if (!mesh__an_int(mesh__node_get(ports->u.items[j], s->port_key), &num))
				continue;
			if (num == port)
				goto out;
			mesh__sb_printf(&list, "%s%" PRId64, list.len ? ", " : "", num);
		}
	}
	if (list.len)
		mesh__an_report(a, r, pn, path, "MESH0015",
		                "port %" PRId64 " is not a port of %s (its ports: %s)", port, host,
		                mesh__sb_str(&list));
out:
	mesh__sb_fini(&list);
}

/* MESH0002: labels that must select some workload of the host. */
static void check_labels(struct an *a, const struct mesh_resource *r,
                         const struct mesh__node *labels, const struct an_kv *svc, size_t nsvc,
                         const char *host, const char *path)
{
	if (!svc || !mesh__an_has_labels(labels))
		return;
	long known = mesh__an_visit(a, svc, nsvc, NULL, NULL, NULL);
	if (known <= 0 || mesh__an_visit(a, svc, nsvc, labels, NULL, NULL) > 0)
		return;
	mesh__an_report(a, r, labels, path, "MESH0002",
	                "labels %s select none of the %ld known workload%s of %s",
	                mesh__an_labels_str(a, labels), known, known == 1 ? "" : "s", host);
}

/* A VirtualService destination: host, subset, port. */
static void check_destination(struct an *a, const struct mesh_resource *r,
                              const struct mesh__node *dest, const char *path)
{
	const struct mesh__node *hn = mesh__node_get(dest, "host");
	const char *host = mesh__an_fqdn(a, mesh__node_str(hn), r->ns);
	if (!host)
		return;
	char p[320];
	size_t nsvc;
	snprintf(p, sizeof(p), "%s.host", path);
	const struct an_kv *svc = check_host(a, r, hn, host, p, &nsvc);
	snprintf(p, sizeof(p), "%s.port.number", path);
	if (svc)
		check_port(a, r, mesh__node_path(dest, "port.number"), svc, nsvc, host, p);
	snprintf(p, sizeof(p), "%s.subset", path);
	check_subset(a, r, mesh__node_get(dest, "subset"), host, p);
}

/* MESH0010: "name", "ns/name" or "name.ns.svc.cluster.local" must be a
 * Gateway of the configuration ("mesh" is the sidecars). */
static void check_gateway(struct an *a, const struct mesh_resource *r, const struct mesh__node *gn,
                          const char *path)
{
	const char *g = mesh__node_str(gn);
	if (!g || !*g || !strcmp(g, "mesh") || strlen(g) > 300)
		return;
	char ns[320], name[320];
	const char *slash = strchr(g, '/'), *dot = strchr(g, '.');
	if (slash) {
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - g), g);
		snprintf(name, sizeof(name), "%s", slash + 1);
		if (!strcmp(ns, "."))
			snprintf(ns, sizeof(ns), "%s", r->ns);
	} else if (dot) {
		snprintf(name, sizeof(name), "%.*s", (int)(dot - g), g);
		snprintf(ns, sizeof(ns), "%.*s", (int)strcspn(dot + 1, "."), dot + 1);
	} else {
		snprintf(ns, sizeof(ns), "%s", r->ns);
		snprintf(name, sizeof(name), "%s", g);
	}
	if (!mesh_config_find(a->cfg, MESH_KIND_GATEWAY, ns, name))
		mesh__an_report(a, r, gn, path, "MESH0010", "Gateway %s/%s is not defined", ns,
		                name);
}

static const struct mesh__node *seq(const struct mesh__node *map, const char *key)
{
	const struct mesh__node *n = mesh__node_get(map, key);
	return (n && n->type == MESH_NODE_SEQ) ? n : NULL;
}

static void check_vs(struct routes *x, const struct mesh_resource *r)
{
	static const char *const kinds[] = { "http", "tcp", "tls" };
	struct an *a = x->a;
	char p[320];
	const struct mesh__node *gws = seq(r->spec, "gateways");
	bool mesh = !gws || gws->count == 0;
	for (size_t i = 0; gws && i < gws->count; i++) {
		snprintf(p, sizeof(p), "spec.gateways[%zu]", i);
		check_gateway(a, r, gws->u.items[i], p);
		mesh = mesh || mesh__an_is(gws->u.items[i], "mesh");
	}
	const struct mesh__node *hosts = seq(r->spec, "hosts");
	for (size_t i = 0; mesh && hosts && i < hosts->count; i++) {
		const char *h = mesh__an_fqdn(a, mesh__node_str(hosts->u.items[i]), r->ns);
		add_ref(a, &x->mhost, h, r, hosts->u.items[i], NULL, i, h);
	}
	for (size_t k = 0; k < MESH_ARRAY_LEN(kinds); k++) {
		const struct mesh__node *rules = seq(r->spec, kinds[k]);
		for (size_t i = 0; rules && i < rules->count; i++) {
			const struct mesh__node *rule = rules->u.items[i];
			const struct mesh__node *match = seq(rule, "match");
			for (size_t m = 0; match && m < match->count; m++) {
				const struct mesh__node *mg = seq(match->u.items[m], "gateways");
				for (size_t g = 0; mg && g < mg->count; g++) {
					snprintf(p, sizeof(p),
					         "spec.%s[%zu].match[%zu].gateways[%zu]", kinds[k],
					         i, m, g);
					check_gateway(a, r, mg->u.items[g], p);
				}
			}
			const struct mesh__node *route = seq(rule, "route");
			for (size_t j = 0; route && j < route->count; j++) {
				snprintf(p, sizeof(p), "spec.%s[%zu].route[%zu].destination",
				         kinds[k], i, j);
				check_destination(
					a, r, mesh__node_get(route->u.items[j], "destination"), p);
			}
			if (k != 0)
				continue;
			snprintf(p, sizeof(p), "spec.http[%zu].mirror", i);
			check_destination(a, r, mesh__node_get(rule, "mirror"), p);
			const struct mesh__node *mirrors = seq(rule, "mirrors");
			for (size_t j = 0; mirrors && j < mirrors->count; j++) {
				snprintf(p, sizeof(p), "spec.http[%zu].mirrors[%zu].destination", i,
				         j);
				check_destination(
					a, r, mesh__node_get(mirrors->u.items[j], "destination"),
					p);
			}
		}
	}
}

/* An IstioService (RouteRule, DestinationPolicy): MESH0003 on its name,
 * MESH0002 on its labels when @labels_too. Returns its FQDN. */
static const char *check_istio_service(struct an *a, const struct mesh_resource *r,
                                       const struct mesh__node *svc, const char *path,
                                       bool labels_too, const struct an_kv **found, size_t *nfound)
{
	*found = NULL;
	*nfound = 0;
	const char *host = mesh__an_istio_service(a, svc, r->ns);
	if (!host)
		return NULL;
	const struct mesh__node *hn = mesh__node_get(svc, "service");
	const char *field = "service";
	if (!mesh__node_str(hn) || !*hn->u.str) {
		hn = mesh__node_get(svc, "name");
		field = "name";
	}
	char p[320];
	snprintf(p, sizeof(p), "%s.%s", path, field);
	*found = check_host(a, r, hn, host, p, nfound);
	if (labels_too) {
		snprintf(p, sizeof(p), "%s.labels", path);
		check_labels(a, r, mesh__node_get(svc, "labels"), *found, *nfound, host, p);
	}
	return host;
}

static void check_route_rule(struct routes *x, const struct mesh_resource *r)
{
	struct an *a = x->a;
	const struct an_kv *svc, *rsvc;
	size_t nsvc, nrsvc;
	const struct mesh__node *dest = mesh__node_get(r->spec, "destination");
	const char *host = check_istio_service(a, r, dest, "spec.destination", false, &svc, &nsvc);
	const struct mesh__node *route = seq(r->spec, "route");
	char p[320];
	for (size_t i = 0; route && i < route->count; i++) {
		const struct mesh__node *rt = route->u.items[i];
		const struct mesh__node *rd = mesh__node_get(rt, "destination");
		const char *rhost = host;
		rsvc = svc;
		nrsvc = nsvc;
		if (rd) {
			snprintf(p, sizeof(p), "spec.route[%zu].destination", i);
			rhost = check_istio_service(a, r, rd, p, false, &rsvc, &nrsvc);
		}
		snprintf(p, sizeof(p), "spec.route[%zu].labels", i);
		check_labels(a, r, mesh__node_get(rt, "labels"), rsvc, nrsvc, rhost, p);
	}
	const struct mesh__node *mirror = mesh__node_get(r->spec, "mirror");
	if (mirror)
		check_istio_service(a, r, mirror, "spec.mirror", true, &rsvc, &nrsvc);
	if (!host)
		return;
	/* MESH0004 groups the rules of one destination by precedence */
	const struct mesh__node *pn = mesh__node_get(r->spec, "precedence");
	int64_t prec = 0;
	if (!mesh__an_int(pn, &prec))
		pn = NULL;
	const char *key =
		mesh__an_printf(a, "%s\037%020" PRIu64, host, (uint64_t)prec ^ ((uint64_t)1 << 63));
	if (pn)
		add_ref(a, &x->prec, key, r, pn, "spec.precedence", 0, host);
	else
		add_ref(a, &x->prec, key, r, mesh__node_get(dest, "name"), "spec.destination.name",
		        0, host);
}

static const char *precedence_text(const struct ref *f)
{
	const char *s = mesh__node_str(mesh__node_get(f->r->spec, "precedence"));
	return s ? s : "0 (unset)";
}

/* Namespace @ns is in the exportTo list of @r (absent: every namespace). */
static bool exported_to(const struct mesh_resource *r, const char *ns)
{
	const struct mesh__node *to = mesh__node_get(r->spec, "exportTo");
	if (!to || to->type != MESH_NODE_SEQ || !to->count)
		return true;
	for (size_t i = 0; i < to->count; i++) {
		const char *e = mesh__node_str(to->u.items[i]);
		if (e &&
		    (!strcmp(e, "*") || !strcmp(e, ns) || (!strcmp(e, ".") && !strcmp(r->ns, ns))))
			return true;
	}
	return false;
}

/* Two VirtualServices conflict where both are visible: in the namespace of
 * either when the other is exported there, or anywhere both go ("*"). */
static bool visible_together(const struct mesh_resource *x, const struct mesh_resource *y)
{
	if (!strcmp(x->ns, y->ns) || exported_to(x, y->ns) || exported_to(y, x->ns))
		return true;
	const struct mesh__node *to = mesh__node_get(x->spec, "exportTo");
	for (size_t i = 0; to && to->type == MESH_NODE_SEQ && i < to->count; i++) {
		const char *e = mesh__node_str(to->u.items[i]);
		if (e && strcmp(e, ".") && strcmp(e, "~") && exported_to(y, e))
			return true;
	}
	return false;
}

/* Reports each later entry of a group of equal keys against the first. */
static void report_groups(struct an *a, const struct an_map *m, bool precedence)
{
	for (size_t i = 0, g = 0; i < m->n; i++) {
		if (strcmp(m->v[i].key, m->v[g].key))
			g = i;
		const struct ref *first = m->v[g].val, *f = m->v[i].val;
		if (f->r == first->r || (!precedence && !visible_together(f->r, first->r)))
			continue;
		char p[64];
		snprintf(p, sizeof(p), "spec.hosts[%zu]", f->idx);
		if (precedence)
			mesh__an_report(
				a, f->r, f->at, f->path, "MESH0004",
				"RouteRule %s/%s has precedence %s, as has RouteRule %s/%s "
				"(%s:%u) for destination %s: which applies first is undefined",
				f->r->ns, f->r->name, precedence_text(f), first->r->ns,
				first->r->name, AN_AT(first->r, first->at), f->host);
		else
			mesh__an_report(
				a, f->r, f->at, p, "MESH0008",
				"host %s is also claimed for the mesh gateway by VirtualService "
				"%s/%s (%s:%u); only one of them takes effect",
				f->host, first->r->ns, first->r->name, AN_AT(first->r, first->at));
	}
}

void mesh__an_check_routes(struct an *a)
{
	struct routes x = { .a = a };
	const mesh_config *cfg = a->cfg;
	for (size_t i = 0; i < cfg->nres && !a->err; i++) {
		const struct mesh_resource *r = cfg->res[i];
		const struct an_kv *svc;
		size_t nsvc;
		switch (r->kind) {
		case MESH_KIND_VIRTUAL_SERVICE: check_vs(&x, r); break;
		case MESH_KIND_ROUTE_RULE: check_route_rule(&x, r); break;
		case MESH_KIND_DESTINATION_POLICY:
			check_istio_service(a, r, mesh__node_get(r->spec, "destination"),
			                    "spec.destination", true, &svc, &nsvc);
			break;
		case MESH_KIND_DESTINATION_RULE: {
			const struct mesh__node *hn = mesh__node_get(r->spec, "host");
			check_host(a, r, hn, mesh__an_fqdn(a, mesh__node_str(hn), r->ns),
			           "spec.host", &nsvc);
			break;
		}
		default: break;
		}
	}
	mesh__an_map_sort(&x.prec);
	mesh__an_map_sort(&x.mhost);
	if (!a->err) {
		report_groups(a, &x.prec, true);
		report_groups(a, &x.mhost, false);
	}
	mesh__free(x.prec.v);
	mesh__free(x.mhost.v);
}
