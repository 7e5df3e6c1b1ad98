/*
 * load.c - services and endpoints from configuration: every ServiceEntry
 * gives one service per host (hosts x ports), with the endpoints it lists
 * and the WorkloadEntries of its namespace that its workloadSelector picks.
 *
 * WorkloadEntries are indexed once by (namespace, label key, label value);
 * a selector scans only the entries carrying its rarest label, so loading
 * costs O(n log n) in the number of labels, not services x workloads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "../config/config_int.h"

/* A WorkloadEntry. */
struct wl {
	const struct mesh_resource *r;
	const struct mesh__node *labels; /* a map, or NULL */
	const struct mesh__node *ports;  /* a map, or NULL */
	bool *used;    /* per key of ports: a selecting service has that port name */
	bool selected; /* by at least one ServiceEntry */
};

/* One label of one WorkloadEntry, for lookups by selector label. */
struct lbl {
	const char *ns, *k, *v;
	size_t wl;
};

/* A WorkloadEntry by namespace, for selectors without labels. */
struct by_ns {
	const char *ns;
	size_t wl;
};

/* A service port as one ServiceEntry declares it. */
struct sport {
	uint32_t number, target;
	const char *name;
	int protocol;
};

struct ld {
	mesh_registry *reg;
	mesh_diag *diag;
	struct wl *wls;
	size_t nwls;
	struct lbl *lbls;
	size_t nlbls;
	struct by_ns *byns;
	bool *used;
	const char **kv; /* scratch: label pairs of the endpoint being made */
	size_t kv_cap;
	bool changed;
};

static void warn(struct ld *ld, const struct mesh_resource *r, const struct mesh__node *at,
                 const char *path, const char *fmt, ...) MESH_PRINTF(5, 6);

static void warn(struct ld *ld, const struct mesh_resource *r, const struct mesh__node *at,
                 const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mesh__diag_vadd(ld->diag, MESH_SEV_WARNING, NULL, r->file, at ? at->line : r->line,
	                at ? at->col : 1, path, fmt, ap);
	va_end(ap);
}

static bool is_map(const struct mesh__node *n)
{
	return n && n->type == MESH_NODE_MAP;
}

static size_t list_len(const struct mesh__node *n)
{
	return (n && n->type == MESH_NODE_SEQ) ? n->count : 0;
}

/* An integer field in [lo, hi], or @dflt. */
static uint32_t get_u32(const struct mesh__node *obj, const char *key, int64_t lo, int64_t hi,
                        uint32_t dflt)
{
	int64_t v;
	if (!mesh__node_int(mesh__node_get(obj, key), &v) || v < lo || v > hi)
		return dflt;
	return (uint32_t)v;
}

/* ---- the WorkloadEntry index ---- */

static int cmp_lbl(const void *pa, const void *pb)
{
	const struct lbl *a = pa, *b = pb;
	int c = strcmp(a->ns, b->ns);
	if (!c)
		c = strcmp(a->k, b->k);
	if (!c)
		c = strcmp(a->v, b->v);
	if (!c)
		c = a->wl < b->wl ? -1 : (a->wl > b->wl);
	return c;
}

static int cmp_byns(const void *pa, const void *pb)
{
	const struct by_ns *a = pa, *b = pb;
	int c = strcmp(a->ns, b->ns);
	return c ? c : a->wl < b->wl ? -1 : (a->wl > b->wl);
}

static int index_workloads(struct ld *ld, const mesh_config *cfg)
{
	size_t nwls = 0, nlbls = 0, nkeys = 0;
	for (size_t i = 0; i < cfg->nres; i++) {
		const struct mesh_resource *r = cfg->res[i];
		if (r->kind != MESH_KIND_WORKLOAD_ENTRY || !r->spec)
			continue;
		const struct mesh__node *labels = mesh__node_get(r->spec, "labels");
		const struct mesh__node *ports = mesh__node_get(r->spec, "ports");
		nwls++;
		nlbls += is_map(labels) ? labels->count : 0;
		nkeys += is_map(ports) ? ports->count : 0;
	}
	if (!nwls)
		return 0;
	ld->wls = mesh__calloc(nwls, sizeof(*ld->wls));
	ld->lbls = mesh__calloc(nlbls, sizeof(*ld->lbls));
	ld->byns = mesh__calloc(nwls, sizeof(*ld->byns));
	ld->used = mesh__calloc(nkeys, sizeof(*ld->used));
	if (!ld->wls || !ld->lbls || !ld->byns || !ld->used)
		return MESH_ENOMEM;
	bool *used = ld->used;
	for (size_t i = 0; i < cfg->nres; i++) {
		const struct mesh_resource *r = cfg->res[i];
		if (r->kind != MESH_KIND_WORKLOAD_ENTRY || !r->spec)
			continue;
		struct wl *w = &ld->wls[ld->nwls];
		w->r = r;
		w->labels = mesh__node_get(r->spec, "labels");
		w->ports = mesh__node_get(r->spec, "ports");
		if (!is_map(w->labels))
			w->labels = NULL;
		if (!is_map(w->ports))
			w->ports = NULL;
		w->used = used;
		used += w->ports ? w->ports->count : 0;
		for (size_t j = 0; w->labels && j < w->labels->count; j++) {
			const char *k = mesh__node_str(w->labels->u.pairs[j].key);
			const char *v = mesh__node_str(w->labels->u.pairs[j].value);
			if (k && v)
				ld->lbls[ld->nlbls++] = (struct lbl){ r->ns, k, v, ld->nwls };
		}
		ld->byns[ld->nwls] = (struct by_ns){ r->ns, ld->nwls };
		ld->nwls++;
	}
	qsort(ld->lbls, ld->nlbls, sizeof(*ld->lbls), cmp_lbl);
	qsort(ld->byns, ld->nwls, sizeof(*ld->byns), cmp_byns);
	return 0;
}

/* The entries of ld->lbls for (ns, k, v): first position, *n their number. */
static size_t lbl_range(const struct ld *ld, const char *ns, const char *k, const char *v,
                        size_t *n)
{
	struct lbl lo_key = { ns, k, v, 0 }, hi_key = { ns, k, v, (size_t)-1 };
	size_t lo = 0, hi = ld->nlbls;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_lbl(&ld->lbls[mid], &lo_key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t first = lo;
	hi = ld->nlbls;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_lbl(&ld->lbls[mid], &hi_key) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*n = lo - first;
	return first;
}

/* The entries of ld->byns for @ns. */
static size_t ns_range(const struct ld *ld, const char *ns, size_t *n)
{
	size_t lo = 0, hi = ld->nwls;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ld->byns[mid].ns, ns) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < ld->nwls && !strcmp(ld->byns[end].ns, ns))
		end++;
	*n = end - lo;
	return lo;
}

/* Istio's selector semantics: every label of @sel is on the workload. */
static bool labels_match(const struct mesh__node *sel, const struct mesh__node *labels)
{
	for (size_t i = 0; is_map(sel) && i < sel->count; i++) {
		const char *k = mesh__node_str(sel->u.pairs[i].key);
		const char *v = mesh__node_str(sel->u.pairs[i].value);
		bool found = false;
		for (size_t j = 0; k && v && labels && j < labels->count && !found; j++) {
			const char *lk = mesh__node_str(labels->u.pairs[j].key);
			const char *lv = mesh__node_str(labels->u.pairs[j].value);
			found = lk && lv && !strcmp(k, lk) && !strcmp(v, lv);
		}
		if (!found)
			return false;
	}
	return true;
}

/* ---- endpoints ---- */

/* An endpoint from a WorkloadEntry spec (or a ServiceEntry endpoint, which
 * has the same fields) for the service port @p. Returns 0, MESH_ENOMEM, or
 * MESH_ENOTFOUND when it has no address (Istio then reaches it through
 * its network's gateway, which libmesh does not have). */
static int make_endpoint(struct ld *ld, const char *ns, const struct mesh__node *spec,
                         const struct sport *p, const struct mesh__node *ports, bool *used,
                         struct mesh__reg_endpoint *out)
{
	const char *address = mesh__node_str(mesh__node_get(spec, "address"));
	if (!address || !*address)
		return MESH_ENOTFOUND;
	uint32_t port = p->target ? p->target : p->number;
	bool unix_socket = !strncmp(address, "unix://", 7);
	if (unix_socket)
		port = 0; /* a socket path has no port */
	for (size_t i = 0; ports && !unix_socket && i < ports->count; i++) {
		const char *name = mesh__node_str(ports->u.pairs[i].key);
		int64_t v;
		if (!name || strcmp(name, p->name))
			continue;
		if (used)
			used[i] = true;
		if (mesh__node_int(ports->u.pairs[i].value, &v) && v > 0 && v <= 65535)
			port = (uint32_t)v;
	}
	const struct mesh__node *labels = mesh__node_get(spec, "labels");
	const char *locality = mesh__node_str(mesh__node_get(spec, "locality"));
	char dotted[256];
	size_t nlabels = 0;
	for (size_t i = 0; is_map(labels) && i < labels->count; i++) {
		const char *k = mesh__node_str(labels->u.pairs[i].key);
		const char *v = mesh__node_str(labels->u.pairs[i].value);
		if (!k || !v)
			continue;
		if (2 * nlabels + 2 > ld->kv_cap) {
			size_t cap = ld->kv_cap ? ld->kv_cap * 2 : 16;
			const char **kv = mesh__realloc(ld->kv, cap * sizeof(*kv));
			if (!kv)
				return MESH_ENOMEM;
			ld->kv = kv;
			ld->kv_cap = cap;
		}
		ld->kv[2 * nlabels] = k;
		ld->kv[2 * nlabels + 1] = v;
		nlabels++;
		/* as Istio: without a locality field, the istio-locality label
		 * ("region.zone.subzone") gives it */
		if ((!locality || !*locality) && !strcmp(k, "istio-locality") &&
		    strlen(v) < sizeof(dotted)) {
			size_t j = 0;
			for (; v[j]; j++)
				dotted[j] = v[j] == '.' ? '/' : v[j];
			dotted[j] = '\0';
			locality = dotted;
		}
	}
	return mesh__reg_endpoint_make(out, address, port, p->number,
	                               get_u32(spec, "weight", 0, UINT32_MAX, 1), ld->kv, nlabels,
	                               locality && *locality ? locality : NULL,
	                               mesh__node_str(mesh__node_get(spec, "serviceAccount")),
	                               mesh__node_str(mesh__node_get(spec, "network")), ns);
}

/* Put the endpoints of @spec, one per service port, into @set. */
static int add_endpoints(struct ld *ld, struct mesh__reg_epset *set, const struct sport *ports,
                         size_t nports, const char *ns, const struct mesh__node *spec,
                         const struct mesh__node *ep_ports, bool *used)
{
	for (size_t i = 0; i < nports; i++) {
		struct mesh__reg_endpoint e;
		int rc = make_endpoint(ld, ns, spec, &ports[i], ep_ports, used, &e);
		if (rc == MESH_ENOTFOUND)
			return 0;
		if (rc)
			return rc;
		if (mesh__epset_put(set, &e)) {
			mesh__reg_endpoint_fini(&e);
			return MESH_ENOMEM;
		}
	}
	return 0;
}

/* The WorkloadEntries of namespace @ns that @sel (a WorkloadSelector's
 * labels) picks, in load order, into @set. */
static int add_selected(struct ld *ld, struct mesh__reg_epset *set, const struct sport *ports,
                        size_t nports, const char *ns, const struct mesh__node *sel)
{
	size_t first = 0, n = 0;
	bool by_label = is_map(sel) && sel->count > 0;
	if (by_label) {
		/* scan the entries of the rarest label of the selector */
		n = (size_t)-1;
		for (size_t i = 0; i < sel->count && n; i++) {
			const char *k = mesh__node_str(sel->u.pairs[i].key);
			const char *v = mesh__node_str(sel->u.pairs[i].value);
			size_t c = 0, f = k && v ? lbl_range(ld, ns, k, v, &c) : 0;
			if (c < n) {
				n = c;
				first = f;
			}
		}
	} else {
		first = ns_range(ld, ns, &n);
	}
	for (size_t i = first; i < first + n; i++) {
		struct wl *w = &ld->wls[by_label ? ld->lbls[i].wl : ld->byns[i].wl];
		if (by_label && !labels_match(sel, w->labels))
			continue;
		w->selected = true;
		int rc = add_endpoints(ld, set, ports, nports, w->r->ns, w->r->spec, w->ports,
		                       w->used);
		if (rc)
			return rc;
	}
	return 0;
}

/* Give @s the endpoints of @set: shared when it has none yet, else copied
 * into its own set (replacing those of the same identity). */
static int attach(struct mesh_service *s, struct mesh__reg_epset *set)
{
	if (!set || !set->n || s->eps == set)
		return 0;
	if (!s->eps || !s->eps->n) {
		mesh__epset_unref(s->eps);
		s->eps = set;
		set->refs++;
		return 0;
	}
	int rc = mesh__service_own_endpoints(s);
	for (size_t i = 0; !rc && i < set->n; i++) {
		struct mesh__reg_endpoint e;
		const struct mesh__reg_endpoint *from = &set->v[i];
		rc = mesh__reg_endpoint_copy(&e, from, from->port, from->service_port);
		if (!rc && (rc = mesh__epset_put(s->eps, &e)))
			mesh__reg_endpoint_fini(&e);
	}
	return rc;
}

/* For DNS resolution without endpoints, Istio (Envoy's STRICT_DNS) resolves
 * the host itself: one endpoint per port with the host as its address. */
static int dns_endpoints(const char *host, const struct sport *ports, size_t nports,
                         struct mesh__reg_epset **out)
{
	struct mesh__reg_epset *set = mesh__calloc(1, sizeof(*set));
	if (!set)
		return MESH_ENOMEM;
	set->refs = 1;
	for (size_t i = 0; i < nports; i++) {
		struct mesh__reg_endpoint e;
		uint32_t port = ports[i].target ? ports[i].target : ports[i].number;
		if (mesh__reg_endpoint_make(&e, host, port, ports[i].number, 1, NULL, 0, NULL, NULL,
		                            NULL, NULL))
			goto fail;
		if (mesh__epset_put(set, &e)) {
			mesh__reg_endpoint_fini(&e);
			goto fail;
		}
	}
	*out = set;
	return 0;
fail:
	mesh__epset_unref(set);
	return MESH_ENOMEM;
}

/* ---- ServiceEntry ---- */

static const char *proto_name(int p)
{
	static const char *const names[] = { "unknown", "HTTP", "HTTP2", "GRPC",  "HTTPS",
		                             "TLS",     "TCP",  "Mongo", "MySQL", "Redis" };
	return (p >= 0 && (size_t)p < MESH_ARRAY_LEN(names)) ? names[p] : "unknown";
}

/* Add one host of the ServiceEntry @r: create or extend its service. */
static int load_host(struct ld *ld, const struct mesh_resource *r, size_t hi,
                     const struct sport *ports, size_t nports, int res, int loc,
                     struct mesh__reg_epset *set, bool dns_fallback, uint64_t mark)
{
	const struct mesh__node *hn = mesh__node_get(r->spec, "hosts")->u.items[hi];
	const char *host = mesh__node_str(hn);
	const struct mesh__node *addrs = mesh__node_get(r->spec, "addresses");
	char path[48];
	snprintf(path, sizeof(path), "spec.hosts[%zu]", hi);
	if (!host || !mesh__registry_host_ok(host)) {
		warn(ld, r, hn, path, "host \"%s\" is not a valid host name; skipped",
		     host ? host : "");
		return 0;
	}
	size_t len = strlen(host);
	if (len > 1 && host[len - 1] == '.')
		len--;
	struct mesh_service *s = mesh__registry_exact(ld->reg, host, len);
	if (!s) {
		s = mesh__service_new(host, r->ns, res, loc);
		if (!s)
			return MESH_ENOMEM;
		if (mesh__registry_insert(ld->reg, s)) {
			mesh__service_free(s);
			return MESH_ENOMEM;
		}
	} else if (s->mark != mark) {
		warn(ld, r, hn, path,
		     "host \"%s\" is already defined (namespace %s); the ports and endpoints of "
		     "this ServiceEntry are added to it, its other settings are kept",
		     s->host, s->ns);
	}
	s->mark = mark;
	ld->changed = true;
	for (size_t i = 0; i < nports; i++) {
		bool conflict;
		const struct sport *p = &ports[i];
		if (mesh__service_add_port(s, p->number, p->name, p->protocol, p->target, false,
		                           NULL, &conflict))
			return MESH_ENOMEM;
		if (conflict) {
			const struct mesh__reg_port *old = mesh__service_find_port(s, p->number);
			warn(ld, r, hn, path,
			     "port %u of host \"%s\" is already defined as \"%s\" (%s); this "
			     "definition of it is ignored",
			     (unsigned)p->number, s->host, old->name, proto_name(old->protocol));
		}
	}
	for (size_t i = 0; i < list_len(addrs); i++) {
		const char *a = mesh__node_str(addrs->u.items[i]);
		if (a && mesh__service_add_address(s, a))
			return MESH_ENOMEM;
	}
	const struct mesh__node *sans = mesh__node_get(r->spec, "subjectAltNames");
	for (size_t i = 0; i < list_len(sans); i++) {
		const char *san = mesh__node_str(sans->u.items[i]);
		if (san && *san && mesh__service_add_san(s, san))
			return MESH_ENOMEM;
	}
	if (dns_fallback && s->host[0] != '*') {
		struct mesh__reg_epset *own;
		if (dns_endpoints(s->host, ports, nports, &own))
			return MESH_ENOMEM;
		int rc = attach(s, own);
		mesh__epset_unref(own);
		return rc;
	}
	return attach(s, set);
}

static int load_entry(struct ld *ld, const struct mesh_resource *r)
{
	const struct mesh__node *spec = r->spec;
	const struct mesh__node *hosts = mesh__node_get(spec, "hosts");
	const struct mesh__node *pnodes = mesh__node_get(spec, "ports");
	const struct mesh__node *eps = mesh__node_get(spec, "endpoints");
	const struct mesh__node *selector = mesh__node_get(spec, "workloadSelector");
	int res = mesh__resolution_from_name(mesh__node_str(mesh__node_get(spec, "resolution")));
	int loc = mesh__location_from_name(mesh__node_str(mesh__node_get(spec, "location")));
	if (res < 0)
		res = MESH_RESOLUTION_NONE;
	if (loc < 0)
		loc = MESH_LOCATION_EXTERNAL;
	if (!list_len(hosts))
		return 0;

	int rc = MESH_ENOMEM;
	size_t nports = 0;
	struct sport *ports = mesh__calloc(list_len(pnodes), sizeof(*ports));
	struct mesh__reg_epset *set = mesh__calloc(1, sizeof(*set));
	if (!ports || !set)
		goto out;
	set->refs = 1;
	for (size_t i = 0; i < list_len(pnodes); i++) {
		const struct mesh__node *p = pnodes->u.items[i];
		const char *name = mesh__node_str(mesh__node_get(p, "name"));
		const char *proto = mesh__node_str(mesh__node_get(p, "protocol"));
		uint32_t number = get_u32(p, "number", 1, 65535, 0);
		if (!number)
			continue;
		ports[nports++] = (struct sport){ number, get_u32(p, "targetPort", 1, 65535, 0),
			                          name ? name : "",
			                          mesh__port_protocol(proto, name, number) };
	}

	/* Resolution NONE passes traffic through: no endpoints. A selector
	 * works with STATIC only (the validator warns about the others). */
	if (res != MESH_RESOLUTION_NONE) {
		for (size_t i = 0; i < list_len(eps); i++) {
			const struct mesh__node *ep = eps->u.items[i];
			rc = add_endpoints(ld, set, ports, nports, r->ns, ep,
			                   mesh__node_get(ep, "ports"), NULL);
			if (rc)
				goto out;
		}
	}
	if (res == MESH_RESOLUTION_STATIC && selector) {
		rc = add_selected(ld, set, ports, nports, r->ns,
		                  mesh__node_get(selector, "labels"));
		if (rc)
			goto out;
	}
	bool dns = res == MESH_RESOLUTION_DNS || res == MESH_RESOLUTION_DNS_ROUND_ROBIN;
	bool dns_fallback = dns && !list_len(eps) && !selector;
	uint64_t mark = ++ld->reg->marks;
	rc = 0;
	for (size_t i = 0; !rc && i < hosts->count; i++)
		rc = load_host(ld, r, i, ports, nports, res, loc, set, dns_fallback, mark);
out:
	mesh__epset_unref(set);
	mesh__free(ports);
	return rc;
}

/* Port names of selected WorkloadEntries that no selecting service has. */
static void warn_unused_ports(struct ld *ld)
{
	for (size_t i = 0; i < ld->nwls; i++) {
		const struct wl *w = &ld->wls[i];
		for (size_t j = 0; w->selected && w->ports && j < w->ports->count; j++) {
			const struct mesh__node *key = w->ports->u.pairs[j].key;
			const char *name = mesh__node_str(key);
			char path[320];
			if (w->used[j] || !name)
				continue;
			snprintf(path, sizeof(path), "spec.ports.%s", name);
			warn(ld, w->r, key, path,
			     "port name \"%s\" matches no port of the ServiceEntries that select "
			     "WorkloadEntry %s/%s",
			     name, w->r->ns, w->r->name);
		}
	}
}

int mesh__registry_load(mesh_registry *reg, const mesh_config *cfg, mesh_diag *diag, bool *changed)
{
	struct ld ld = { .reg = reg, .diag = diag };
	size_t first_diag = diag ? mesh_diag_count(diag) : 0;
	int rc = index_workloads(&ld, cfg);
	for (size_t i = 0; !rc && i < cfg->nres; i++) {
		const struct mesh_resource *r = cfg->res[i];
		if (r->kind == MESH_KIND_SERVICE_ENTRY && r->spec)
			rc = load_entry(&ld, r);
	}
	if (!rc)
		warn_unused_ports(&ld);
	if (diag)
		mesh__diag_sort_from(diag, first_diag);
	*changed = ld.changed;
	mesh__free(ld.wls);
	mesh__free(ld.lbls);
	mesh__free(ld.byns);
	mesh__free(ld.used);
	mesh__free(ld.kv);
	return rc;
}
