/*
 * compile.c - builds a router's tables from a config snapshot and a
 * registry: VirtualServices first (first one for a host wins, as in Istio),
 * then RouteRules by descending precedence, then a default route for every
 * registry service; clusters are shared by (host, subset, port).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mesh/registry.h>
#include <mesh/security.h>

#include "route_int.h"

#define MESH_ROUTE_JIT_MAX 512

#define DEFAULT_RETRY_ON                                                                           \
	"connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"

/* A DestinationRule or DestinationPolicy under the host it names. */
struct hostref {
	const char *host;
	const struct mesh_resource *res;
};

struct build {
	struct mesh_router *r;
	const mesh_registry *reg;
	mesh_diag *diag;
	int err;
	/* policies by host, sorted (exact hosts) or in load order (wildcards) */
	struct hostref *drs, *wild_drs, *dps;
	size_t ndrs, nwild_drs, ndps;
	/* cluster index by name */
	/* compiled regexes by (pattern, options): configs repeat patterns */
	struct rekey {
		const char *pattern;
		uint32_t opts;
		pcre2_code *re;
	} * retab;
	size_t retab_cap, nre;
};

static void cors_policy(struct build *b, struct mesh_route *rt, const struct mesh__node *n,
                        const struct mesh_resource *res);

/* ---- small helpers ---- */

static void *alloc(struct build *b, size_t n)
{
	void *p = mesh__arena_alloc(&b->r->arena, n);
	if (!p)
		b->err = MESH_ENOMEM;
	else
		memset(p, 0, n);
	return p;
}

static char *dupstr(struct build *b, const char *s)
{
	char *p = mesh__arena_strndup(&b->r->arena, s, strlen(s));
	if (!p)
		b->err = MESH_ENOMEM;
	return p;
}

static char *fmt(struct build *b, const char *f, ...) MESH_PRINTF(2, 3);
static char *fmt(struct build *b, const char *f, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, f);
	vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	return dupstr(b, buf);
}

static uint64_t strhash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool push(struct build *b, void ***v, size_t *n, size_t *cap, void *item)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		void **nv = mesh__realloc(*v, c * sizeof(*nv));
		if (!nv) {
			b->err = MESH_ENOMEM;
			return false;
		}
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = item;
	return true;
}

/* "reviews" -> "reviews.<ns>.svc.<domain>"; names with dots are FQDNs. */
static const char *fqdn(struct build *b, const char *host, const char *ns)
{
	if (!host || strchr(host, '.') || strchr(host, '*'))
		return host;
	return fmt(b, "%s.%s.svc.%s", host, ns, b->r->domain);
}

static int64_t duration_ms(const struct mesh__node *n, int64_t dflt)
{
	int64_t ns;
	const char *s = mesh__node_str(n);
	if (!s || mesh__parse_duration(s, &ns))
		return dflt;
	return ns / 1000000;
}

static double number(const struct mesh__node *n, double dflt)
{
	double d;
	return mesh__node_double(n, &d) ? d : dflt;
}

static int64_t integer(const struct mesh__node *n, int64_t dflt)
{
	int64_t v;
	if (mesh__node_int(n, &v))
		return v;
	const char *s = mesh__node_str(n);
	if (s && *s) {
		char *end;
		long long x = strtoll(s, &end, 10);
		if (!*end)
			return x;
	}
	return dflt;
}

/* A labels map as "k", "v", ..., NULL (in the router's arena). */
static const char *const *labels_of(struct build *b, const struct mesh__node *map)
{
	if (!map || map->type != MESH_NODE_MAP || map->count == 0)
		return NULL;
	const char **kv = alloc(b, (2 * map->count + 1) * sizeof(*kv));
	if (!kv)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < map->count; i++) {
		const char *v = mesh__node_str(map->u.pairs[i].value);
		kv[j++] = map->u.pairs[i].key->u.str;
		kv[j++] = v ? v : "";
	}
	kv[j] = NULL;
	return kv;
}

/* Every pair of @want is in @have. */
static bool labels_subset(const char *const *want, const char *const *have)
{
	for (size_t i = 0; want && want[i]; i += 2) {
		bool found = false;
		for (size_t j = 0; have && have[j]; j += 2)
			if (!strcmp(want[i], have[j]) && !strcmp(want[i + 1], have[j + 1])) {
				found = true;
				break;
			}
		if (!found)
			return false;
	}
	return true;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* RouteRule label sets name their implicit subset "k=v,k2=v2" (sorted). */
static const char *labels_name(struct build *b, const char *const *kv)
{
	if (!kv)
		return NULL;
	const char *pairs[64];
	size_t n = 0;
	for (size_t i = 0; kv[i] && n < 64; i += 2)
		pairs[n++] = fmt(b, "%s=%s", kv[i], kv[i + 1]);
	if (b->err)
		return NULL;
	qsort(pairs, n, sizeof(pairs[0]), cmp_cstr);
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	for (size_t i = 0; i < n; i++)
		mesh__sb_printf(&sb, "%s%s", i ? "," : "", pairs[i]);
	const char *s = dupstr(b, mesh__sb_str(&sb));
	mesh__sb_fini(&sb);
	return s;
}

/* ---- regexes and string matches ---- */

static struct rekey *reslot(struct rekey *tab, size_t cap, const char *pattern, uint32_t opts)
{
	size_t i = (size_t)(strhash(pattern) ^ opts) & (cap - 1);
	while (tab[i].pattern && (tab[i].opts != opts || strcmp(tab[i].pattern, pattern)))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static bool retab_grow(struct build *b)
{
	size_t cap = b->retab_cap ? b->retab_cap * 2 : 64;
	struct rekey *tab = mesh__calloc(cap, sizeof(*tab));
	if (!tab) {
		b->err = MESH_ENOMEM;
		return false;
	}
	for (size_t i = 0; i < b->retab_cap; i++)
		if (b->retab[i].pattern)
			*reslot(tab, cap, b->retab[i].pattern, b->retab[i].opts) = b->retab[i];
	mesh__free(b->retab);
	b->retab = tab;
	b->retab_cap = cap;
	return true;
}

/* Compiled once per distinct pattern; JIT is decided at the end. */
static pcre2_code *compile_regex(struct build *b, const struct mesh__node *n, bool icase,
                                 const struct mesh_resource *res)
{
	uint32_t opts =
		PCRE2_UTF | PCRE2_ANCHORED | PCRE2_ENDANCHORED | (icase ? PCRE2_CASELESS : 0);
	if ((b->nre + 1) * 2 > b->retab_cap && !retab_grow(b))
		return NULL;
	struct rekey *slot = reslot(b->retab, b->retab_cap, n->u.str, opts);
	if (slot->pattern)
		return slot->re;
	int errcode;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)n->u.str, n->count, opts, &errcode, &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		mesh__diag_add(b->diag, MESH_SEV_ERROR, NULL, res->file, n->line, n->col, NULL,
		               "invalid regex \"%s\": %s at offset %zu", n->u.str, (char *)msg,
		               (size_t)off);
		if (!b->err)
			b->err = MESH_ECONFIG;
		return NULL;
	}
	struct mesh_router *r = b->r;
	if (!push(b, (void ***)&r->regexes, &r->nregexes, &r->capregexes, re)) {
		pcre2_code_free(re);
		return NULL;
	}
	*slot = (struct rekey){ n->u.str, opts, re };
	b->nre++;
	return re;
}

/* StringMatch {exact|prefix|regex}; an empty map means "present". */
static void strmatch_from(struct build *b, struct strmatch *m, const struct mesh__node *n,
                          bool icase, const struct mesh_resource *res)
{
	const struct mesh__node *v;
	m->icase = icase;
	if (!n || n->type != MESH_NODE_MAP) {
		m->kind = SM_ANY;
		return;
	}
	if ((v = mesh__node_get(n, "exact")) && mesh__node_str(v)) {
		m->kind = SM_EXACT;
	} else if ((v = mesh__node_get(n, "prefix")) && mesh__node_str(v)) {
		m->kind = SM_PREFIX;
	} else if ((v = mesh__node_get(n, "regex")) && mesh__node_str(v)) {
		m->kind = SM_REGEX;
		m->re = compile_regex(b, v, icase, res);
	} else {
		m->kind = SM_PRESENT;
		return;
	}
	/* a copy beside the route, so a match touches fewer cache lines */
	m->value = mesh__arena_strndup(&b->r->arena, v->u.str, v->count);
	if (!m->value)
		b->err = MESH_ENOMEM;
	m->len = v->count;
}

static const char *lower(struct build *b, const char *s)
{
	char *p = dupstr(b, s);
	for (char *q = p; q && *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return p;
}

static struct hdrmatch *hdrmatches(struct build *b, const struct mesh__node *map, size_t *n,
                                   bool absent, bool lowercase, const struct mesh_resource *res)
{
	*n = 0;
	if (!map || map->type != MESH_NODE_MAP || !map->count)
		return NULL;
	struct hdrmatch *h = alloc(b, map->count * sizeof(*h));
	if (!h)
		return NULL;
	for (size_t i = 0; i < map->count; i++) {
		const char *name = map->u.pairs[i].key->u.str;
		h[i].name = lowercase ? lower(b, name) : name;
		h[i].absent = absent;
		strmatch_from(b, &h[i].m, map->u.pairs[i].value, false, res);
	}
	*n = map->count;
	return h;
}

static const char *const *strlist(struct build *b, const struct mesh__node *seq, size_t *n)
{
	*n = 0;
	if (!seq || seq->type != MESH_NODE_SEQ || !seq->count)
		return NULL;
	const char **v = alloc(b, (seq->count + 1) * sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < seq->count; i++) {
		const char *s = mesh__node_str(seq->u.items[i]);
		if (s)
			v[(*n)++] = s;
	}
	return v;
}

/* A VirtualService's gateways as Istio resolves them (ResolveGatewayName):
 * "mesh" stays, "ns/name" stays, "./name" and a short "name" are in the
 * VirtualService's namespace, the legacy "name.ns[.svc.cluster.local]"
 * becomes "ns/name". NULL when the list is absent (the sidecars only). */
static const char *const *gateway_list(struct build *b, const struct mesh__node *seq,
                                       const struct mesh_resource *res, size_t *n)
{
	const char **v = (const char **)strlist(b, seq, n);
	for (size_t i = 0; v && i < *n; i++) {
		const char *g = v[i], *slash = strchr(g, '/'), *dot = strchr(g, '.');
		if (!strcmp(g, "mesh"))
			continue;
		if (slash && (slash - g != 1 || g[0] != '.'))
			continue;
		if (slash)
			v[i] = fmt(b, "%s/%s", res->ns, slash + 1);
		else if (!dot)
			v[i] = fmt(b, "%s/%s", res->ns, g);
		else {
			const char *end = strchr(dot + 1, '.');
			size_t nslen = end ? (size_t)(end - dot - 1) : strlen(dot + 1);
			v[i] = fmt(b, "%.*s/%.*s", (int)nslen, dot + 1, (int)(dot - g), g);
		}
		if (!v[i])
			return NULL;
	}
	return v;
}

/* ---- clusters ---- */

static struct mesh_cluster **cslot(struct mesh_cluster **tab, size_t cap, const char *name)
{
	size_t i = (size_t)strhash(name) & (cap - 1);
	while (tab[i] && strcmp(tab[i]->name, name))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static bool ctab_grow(struct build *b)
{
	size_t cap = b->r->ctab_cap ? b->r->ctab_cap * 2 : 64;
	struct mesh_cluster **tab = mesh__calloc(cap, sizeof(*tab));
	if (!tab) {
		b->err = MESH_ENOMEM;
		return false;
	}
	for (size_t i = 0; i < b->r->nclusters; i++)
		*cslot(tab, cap, b->r->clusters[i]->name) = b->r->clusters[i];
	mesh__free(b->r->ctab);
	b->r->ctab = tab;
	b->r->ctab_cap = cap;
	return true;
}

static int cmp_hostref(const void *a, const void *b)
{
	return strcmp(((const struct hostref *)a)->host, ((const struct hostref *)b)->host);
}

/* Index DestinationRules and DestinationPolicies by host once, so that
 * making a cluster does not scan every resource. */
static void index_policies(struct build *b)
{
	const mesh_config *cfg = b->r->cfg;
	size_t n = 0;
	for (size_t i = 0; i < cfg->nres; i++)
		n += cfg->res[i]->kind == MESH_KIND_DESTINATION_RULE ||
		     cfg->res[i]->kind == MESH_KIND_DESTINATION_POLICY;
	if (!n)
		return;
	b->drs = mesh__calloc(n, sizeof(*b->drs));
	b->wild_drs = mesh__calloc(n, sizeof(*b->wild_drs));
	b->dps = mesh__calloc(n, sizeof(*b->dps));
	if (!b->drs || !b->wild_drs || !b->dps) {
		b->err = MESH_ENOMEM;
		return;
	}
	for (size_t i = 0; i < cfg->nres; i++) {
		const struct mesh_resource *res = cfg->res[i];
		if (res->kind == MESH_KIND_DESTINATION_RULE) {
			const char *h =
				fqdn(b, mesh__node_str(mesh__node_get(res->spec, "host")), res->ns);
			if (!h)
				continue;
			if (h[0] == '*')
				b->wild_drs[b->nwild_drs++] = (struct hostref){ h, res };
			else
				b->drs[b->ndrs++] = (struct hostref){ h, res };
		} else if (res->kind == MESH_KIND_DESTINATION_POLICY) {
			const struct mesh__node *d = mesh__node_get(res->spec, "destination");
			const char *h = fqdn(b, mesh__node_str(mesh__node_get(d, "name")), res->ns);
			if (h)
				b->dps[b->ndps++] = (struct hostref){ h, res };
		}
	}
	qsort(b->drs, b->ndrs, sizeof(*b->drs), cmp_hostref);
	qsort(b->dps, b->ndps, sizeof(*b->dps), cmp_hostref);
}

/* First entry of @v for @host (sorted by host), or NULL. */
static const struct hostref *first_for(const struct hostref *v, size_t n, const char *host)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(v[mid].host, host) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < n && !strcmp(v[lo].host, host)) ? &v[lo] : NULL;
}

static int dr_rank(struct build *b, const struct mesh_resource *res, bool exact)
{
	const struct mesh__node *sel = mesh__node_path(res->spec, "workloadSelector.matchLabels");
	if (sel && !mesh__labels_match(sel, b->r->labels))
		return 0;
	return (exact ? 10 : 0) + (!strcmp(res->ns, b->r->ns) ? 2 : 1);
}

/* The DestinationRule for @host that this workload uses: one in the
 * workload's namespace first, then one elsewhere; an exact host before a
 * wildcard (Istio looks in the client, service and root namespaces). */
static const struct mesh_resource *find_dr(struct build *b, const char *host)
{
	const struct mesh_resource *best = NULL;
	int best_rank = 0;
	const struct hostref *e = first_for(b->drs, b->ndrs, host);
	for (; e && e < b->drs + b->ndrs && !strcmp(e->host, host); e++) {
		int rank = dr_rank(b, e->res, true);
		if (rank > best_rank) {
			best = e->res;
			best_rank = rank;
		}
	}
	size_t hl = strlen(host);
	for (size_t i = 0; i < b->nwild_drs && best_rank < 10; i++) {
		const char *h = b->wild_drs[i].host;
		size_t wl = strlen(h) - 1; /* ".suffix" or "" */
		if (!(wl == 0 || (hl > wl && !strcmp(host + hl - wl, h + 1))))
			continue;
		int rank = dr_rank(b, b->wild_drs[i].res, false);
		if (rank > best_rank) {
			best = b->wild_drs[i].res;
			best_rank = rank;
		}
	}
	return best;
}

static const struct mesh__node *find_subset(const struct mesh_resource *dr, const char *name)
{
	const struct mesh__node *subsets = dr ? mesh__node_get(dr->spec, "subsets") : NULL;
	for (size_t i = 0; subsets && subsets->type == MESH_NODE_SEQ && i < subsets->count; i++) {
		const char *n = mesh__node_str(mesh__node_get(subsets->u.items[i], "name"));
		if (n && !strcmp(n, name))
			return subsets->u.items[i];
	}
	return NULL;
}

/* A v1alpha2 DestinationPolicy for @host (and, when it names labels, the
 * same labels as @labels). */
static const struct mesh_resource *find_policy(struct build *b, const char *host,
                                               const char *const *labels)
{
	const struct hostref *e = first_for(b->dps, b->ndps, host);
	for (; e && e < b->dps + b->ndps && !strcmp(e->host, host); e++) {
		const struct mesh__node *d = mesh__node_get(e->res->spec, "destination");
		const char *const *want = labels_of(b, mesh__node_get(d, "labels"));
		if (want && !(labels && labels_subset(want, labels) && labels_subset(labels, want)))
			continue;
		return e->res;
	}
	return NULL;
}

/* The value of label @key in @kv ("k", "v", ..., NULL), or NULL. */
static const char *label_value(const char *const *kv, const char *key)
{
	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
		if (!strcmp(kv[i], key))
			return kv[i + 1];
	return NULL;
}

/*
 * Whether a sidecar that auto-detects mTLS would use it toward @ep, as
 * Istio decides: only for a mesh-internal service; the endpoint's
 * security.istio.io/tlsMode label when it has one ("istio": a sidecar takes
 * Istio mTLS), else whether it has a service account (how Istio reads a
 * WorkloadEntry without that label).
 */
static bool is_mesh_workload(const mesh_service *svc, const struct mesh_endpoint_info *ep)
{
	if (mesh_service_location(svc) != MESH_LOCATION_INTERNAL)
		return false;
	const char *mode = label_value(ep->labels, "security.istio.io/tlsMode");
	if (mode)
		return !strcmp(mode, "istio");
	return ep->service_account && *ep->service_account;
}

/* "/ns/NS/sa/SA", the path of the endpoint's SPIFFE ID, or NULL when it
 * has no service account (*oom set when the copy fails). */
static char *identity_of(const mesh_service *svc, const struct mesh_endpoint_info *ep, bool *oom)
{
	if (!ep->service_account || !*ep->service_account)
		return NULL;
	const char *ns = ep->namespace_name ? ep->namespace_name : mesh_service_namespace(svc);
	if (!ns)
		ns = "default";
	size_t len = strlen(ns) + strlen(ep->service_account) + sizeof("/ns//sa/");
	char *id = mesh__malloc(len);
	if (!id)
		*oom = true;
	else
		snprintf(id, len, "/ns/%s/sa/%s", ns, ep->service_account);
	return id;
}

static void add_endpoints(struct build *b, struct mesh_cluster *c, const char *const *sel)
{
	const mesh_service *svc = b->reg ? mesh_registry_find(b->reg, c->host) : NULL;
	if (!svc)
		return;
	size_t nsans = mesh_service_san_count(svc);
	if (nsans) {
		if (!(c->sans = mesh__calloc(nsans, sizeof(*c->sans)))) {
			b->err = MESH_ENOMEM;
			return;
		}
		for (; c->nsans < nsans; c->nsans++)
			if (!(c->sans[c->nsans] = mesh__strdup(mesh_service_san(svc, c->nsans)))) {
				b->err = MESH_ENOMEM;
				return;
			}
	}
	size_t n = mesh_service_endpoint_count(svc);
	if (!n)
		return;
	c->eps = mesh__calloc(n, sizeof(*c->eps));
	if (!c->eps) {
		b->err = MESH_ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct mesh_endpoint_info ep = { .struct_size = sizeof(ep) };
		if (mesh_service_endpoint(svc, i, &ep) || !labels_subset(sel, ep.labels))
			continue;
		/* a multi-port service lists an endpoint once per service port */
		if (ep.service_port && c->port && ep.service_port != c->port)
			continue;
		/* endpoints are heap strings: mesh__cluster_fini frees them */
		struct mesh__endpoint *e = &c->eps[c->neps];
		size_t nl = 0;
		while (ep.labels && ep.labels[nl])
			nl++;
		e->address = mesh__strdup(ep.address ? ep.address : "");
		e->port = ep.port ? ep.port : c->port;
		e->weight = ep.weight ? ep.weight : 1;
		e->locality = ep.locality ? mesh__strdup(ep.locality) : NULL;
		e->service_account = ep.service_account ? mesh__strdup(ep.service_account) : NULL;
		e->network = ep.network ? mesh__strdup(ep.network) : NULL;
		e->labels = mesh__calloc(nl + 1, sizeof(char *));
		bool oom = !e->address || !e->labels || (ep.locality && !e->locality) ||
		           (ep.service_account && !e->service_account) ||
		           (ep.network && !e->network);
		for (size_t j = 0; e->labels && j < nl; j++)
			oom |= !(e->labels[j] = mesh__strdup(ep.labels[j]));
		e->mesh_workload = is_mesh_workload(svc, &ep);
		e->identity = identity_of(svc, &ep, &oom);
		c->neps++; /* counted even when partial, so that fini frees it */
		if (oom) {
			b->err = MESH_ENOMEM;
			return;
		}
	}
}

/*
 * Why automatic mTLS is off toward @host, or NULL when it is on: MeshConfig
 * enableAutoMtls false, or mTLS mode DISABLE for the service's namespace as
 * a whole (its or the mesh-wide PeerAuthentication, or the MeshConfig),
 * which is what Istio infers for a service (BestEffortInferServiceMTLSMode).
 */
static const char *auto_mtls_off(struct build *b, const char *host)
{
	const mesh_config *cfg = b->r->cfg;
	const struct mesh_resource *mc = mesh__config_mesh(cfg);
	const char *on = mc ? mesh__node_str(mesh__node_field(mc->spec, "enableAutoMtls")) : NULL;
	if (on && !strcasecmp(on, "false"))
		return fmt(b, "MeshConfig %s/%s sets enableAutoMtls false", mc->ns, mc->name);
	const mesh_service *svc = b->reg ? mesh_registry_find(b->reg, host) : NULL;
	const char *ns = svc ? mesh_service_namespace(svc) : NULL;
	if (!ns)
		return NULL;
	const char *src;
	int mode = mesh_mtls_mode(cfg, ns, NULL, 0, &src);
	if (mode < 0) {
		b->err = mode;
		return NULL;
	}
	if (mode != MESH_MTLS_DISABLE)
		return NULL;
	return fmt(b, "%s sets mTLS mode DISABLE for namespace %s", src, ns);
}

/* Service port when the route names none: the only port, or the first;
 * *protocol is the protocol of @port when the service has it, else of that
 * default port. */
static uint32_t default_port(struct build *b, const char *host, uint32_t port, int *protocol)
{
	const mesh_service *svc = b->reg ? mesh_registry_find(b->reg, host) : NULL;
	unsigned num = 0, n;
	const char *name;
	int proto;
	*protocol = MESH_PROTO_UNKNOWN;
	if (svc && mesh_service_port_count(svc))
		mesh_service_port(svc, 0, &num, &name, protocol);
	for (size_t i = 0; svc && port && i < mesh_service_port_count(svc); i++)
		if (!mesh_service_port(svc, i, &n, &name, &proto) && n == port)
			*protocol = proto;
	return num;
}

/*
 * The cluster for (host, subset, port), made on first use. A subset is
 * either a DestinationRule subset name (@subset) or, for RouteRules, a
 * label set (@labels).
 */
static const struct mesh_cluster *cluster_for(struct build *b, const char *host, const char *subset,
                                              const char *const *labels, uint32_t port)
{
	int protocol = MESH_PROTO_UNKNOWN;
	uint32_t dport = default_port(b, host, port, &protocol);
	if (!port)
		port = dport;
	if (labels && !subset)
		subset = labels_name(b, labels);
	const char *name = fmt(b, "outbound|%u|%s|%s", port, subset ? subset : "", host);
	if (b->err)
		return NULL;
	if ((b->r->nclusters + 1) * 2 > b->r->ctab_cap && !ctab_grow(b))
		return NULL;
	struct mesh_cluster **slot = cslot(b->r->ctab, b->r->ctab_cap, name);
	if (*slot)
		return *slot;
	struct mesh_cluster *c = mesh__calloc(1, sizeof(*c));
	if (!c) {
		b->err = MESH_ENOMEM;
		return NULL;
	}
	c->name = (char *)name;
	c->host = (char *)host;
	c->subset = subset ? (char *)subset : NULL;
	c->port = port;
	c->protocol = protocol;
	c->index = b->r->nclusters;
	if (!push(b, (void ***)&b->r->clusters, &b->r->nclusters, &b->r->capclusters, c)) {
		mesh__free(c);
		return NULL;
	}
	*slot = c;
	mesh__lb_settings_default(&c->lb);
	const char *const *sel = labels;
	const struct mesh_resource *dr = find_dr(b, host);
	c->dr = dr;
	c->no_auto_mtls = auto_mtls_off(b, host);
	if (dr) {
		mesh__lb_settings_apply(&c->lb, mesh__node_get(dr->spec, "trafficPolicy"), port);
		const struct mesh__node *ss = (subset && !labels) ? find_subset(dr, subset) : NULL;
		if (ss) {
			mesh__lb_settings_apply(&c->lb, mesh__node_get(ss, "trafficPolicy"), port);
			sel = labels_of(b, mesh__node_get(ss, "labels"));
		}
	}
	const struct mesh_resource *dp = find_policy(b, host, labels);
	if (dp)
		mesh__lb_settings_apply_legacy(&c->lb, dp->spec);
	if (subset && !labels && !sel) {
		/* a subset nothing defines has no endpoints: Envoy answers 503
		 * (meshctl analyze reports it as MESH0001) */
	} else {
		add_endpoints(b, c, sel);
	}
	if (!b->err) {
		int rc = mesh__cluster_prepare(c);
		if (rc)
			b->err = rc;
	}
	return c;
}

/* ---- vhosts ---- */

static struct vhost **vslot(struct vhost **tab, size_t cap, const char *host)
{
	size_t i = (size_t)strhash(host) & (cap - 1);
	while (tab[i] && strcmp(tab[i]->host, host))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static bool vindex_grow(struct build *b)
{
	struct mesh_router *r = b->r;
	size_t cap = r->index_cap ? r->index_cap * 2 : 64;
	struct vhost **tab = mesh__calloc(cap, sizeof(*tab));
	if (!tab) {
		b->err = MESH_ENOMEM;
		return false;
	}
	for (size_t i = 0; i < r->nvhosts; i++)
		*vslot(tab, cap, r->vhosts[i]->host) = r->vhosts[i];
	mesh__free(r->index);
	r->index = tab;
	r->index_cap = cap;
	return true;
}

static struct vhost *find_vhost(struct build *b, const char *host)
{
	if (!b->r->index_cap)
		return NULL;
	return *vslot(b->r->index, b->r->index_cap, host);
}

static struct vhost *add_vhost(struct build *b, const char *host,
                               const struct mesh_resource *source)
{
	struct mesh_router *r = b->r;
	if ((r->nvhosts + 1) * 2 > r->index_cap && !vindex_grow(b))
		return NULL;
	struct vhost *v = alloc(b, sizeof(*v));
	if (!v)
		return NULL;
	v->host = host;
	v->source = source;
	if (!push(b, (void ***)&r->vhosts, &r->nvhosts, &r->capvhosts, v))
		return NULL;
	*vslot(r->index, r->index_cap, host) = v;
	return v;
}

static void add_route(struct build *b, struct vhost *v, struct mesh_route *rt)
{
	push(b, (void ***)&v->routes, &v->nroutes, &v->caproutes, rt);
}

static void finish_weights(struct mesh_route *rt)
{
	uint32_t total = 0;
	for (size_t i = 0; i < rt->ndests; i++)
		total += rt->dests[i].weight;
	if (total == 0) /* no weights given: an equal split */
		for (size_t i = 0; i < rt->ndests; i++)
			rt->dests[i].weight = 1, total++;
	uint32_t run = 0;
	for (size_t i = 0; i < rt->ndests; i++) {
		run += rt->dests[i].weight;
		rt->dests[i].cumulative = run;
	}
	rt->total_weight = total;
}

static void default_retry(struct mesh_route *rt)
{
	rt->retry.struct_size = sizeof(rt->retry);
	rt->retry.attempts = 2;
	rt->retry.per_try_timeout_ms = 0;
	rt->retry.retry_on = DEFAULT_RETRY_ON;
}

/* ---- VirtualService ---- */

static void header_ops(struct build *b, struct mesh_route *rt, const struct mesh__node *headers)
{
	static const char *const dirs[] = { "request", "response" };
	size_t n = 0;
	for (int d = 0; d < 2; d++) {
		const struct mesh__node *h = mesh__node_get(headers, dirs[d]);
		static const char *const ops[] = { "set", "add", "remove" };
		for (int o = 0; o < 3; o++) {
			const struct mesh__node *x = mesh__node_get(h, ops[o]);
			if (x && (x->type == MESH_NODE_MAP || x->type == MESH_NODE_SEQ))
				n += x->count;
		}
	}
	if (!n)
		return;
	struct header_op *all = alloc(b, (rt->nhops + n) * sizeof(*all));
	if (!all)
		return;
	if (rt->nhops)
		memcpy(all, rt->hops, rt->nhops * sizeof(*all));
	for (int d = 0; d < 2; d++) {
		const struct mesh__node *h = mesh__node_get(headers, dirs[d]);
		static const char *const ops[] = { "set", "add", "remove" };
		for (int o = 0; o < 3; o++) {
			const struct mesh__node *x = mesh__node_get(h, ops[o]);
			for (size_t i = 0; x && x->type == MESH_NODE_MAP && i < x->count; i++)
				all[rt->nhops++] =
					(struct header_op){ (uint8_t)d, (uint8_t)o,
					                    x->u.pairs[i].key->u.str,
					                    mesh__node_str(x->u.pairs[i].value)
					                            ? x->u.pairs[i].value->u.str
					                            : "" };
			for (size_t i = 0; x && x->type == MESH_NODE_SEQ && i < x->count; i++)
				if (mesh__node_str(x->u.items[i]))
					all[rt->nhops++] =
						(struct header_op){ (uint8_t)d, (uint8_t)o,
						                    x->u.items[i]->u.str, NULL };
		}
	}
	rt->hops = all;
}

static void vs_match(struct build *b, struct match_block *m, const struct mesh__node *n,
                     const struct mesh_resource *res, const char *const *vs_gateways,
                     size_t nvs_gateways)
{
	bool icase = mesh__node_get(n, "ignoreUriCase") &&
	             !strcmp(mesh__node_str(mesh__node_get(n, "ignoreUriCase")) ?: "", "true");
	m->node = n;
	strmatch_from(b, &m->uri, mesh__node_get(n, "uri"), icase, res);
	strmatch_from(b, &m->scheme, mesh__node_get(n, "scheme"), false, res);
	strmatch_from(b, &m->method, mesh__node_get(n, "method"), false, res);
	strmatch_from(b, &m->authority, mesh__node_get(n, "authority"), false, res);
	size_t nh, nw, nq;
	struct hdrmatch *h = hdrmatches(b, mesh__node_get(n, "headers"), &nh, false, true, res);
	struct hdrmatch *w =
		hdrmatches(b, mesh__node_get(n, "withoutHeaders"), &nw, true, true, res);
	m->headers = alloc(b, (nh + nw + 1) * sizeof(*m->headers));
	if (m->headers) {
		if (nh)
			memcpy(m->headers, h, nh * sizeof(*h));
		if (nw)
			memcpy(m->headers + nh, w, nw * sizeof(*w));
		m->nheaders = nh + nw;
	}
	m->query = hdrmatches(b, mesh__node_get(n, "queryParams"), &nq, false, false, res);
	m->nquery = nq;
	m->port = (uint32_t)integer(mesh__node_get(n, "port"), 0);
	m->src_labels = labels_of(b, mesh__node_get(n, "sourceLabels"));
	m->src_ns = mesh__node_str(mesh__node_get(n, "sourceNamespace"));
	size_t ng;
	m->gateways = gateway_list(b, mesh__node_get(n, "gateways"), res, &ng);
	m->ngateways = ng;
	if (!m->gateways) {
		m->gateways = vs_gateways;
		m->ngateways = nvs_gateways;
	}
}

static const struct mesh_cluster *vs_dest(struct build *b, const struct mesh__node *d,
                                          const struct mesh_resource *res)
{
	const char *host = fqdn(b, mesh__node_str(mesh__node_get(d, "host")), res->ns);
	if (!host)
		return NULL;
	const char *subset = mesh__node_str(mesh__node_get(d, "subset"));
	uint32_t port = (uint32_t)integer(mesh__node_path(d, "port.number"), 0);
	return cluster_for(b, host, subset, NULL, port);
}

/* A gRPC status name as Istio writes it ("UNAVAILABLE"), or its number. */
static int grpc_status_code(const char *name)
{
	static const char *const names[] = {
		"OK",
		"CANCELLED",
		"UNKNOWN",
		"INVALID_ARGUMENT",
		"DEADLINE_EXCEEDED",
		"NOT_FOUND",
		"ALREADY_EXISTS",
		"PERMISSION_DENIED",
		"RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION",
		"ABORTED",
		"OUT_OF_RANGE",
		"UNIMPLEMENTED",
		"INTERNAL",
		"UNAVAILABLE",
		"DATA_LOSS",
		"UNAUTHENTICATED",
	};
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (!strcmp(name, names[i]))
			return i;
	char *end;
	long v = strtol(name, &end, 10);
	return (*name && !*end && v >= 0 && v <= 16) ? (int)v : 2;
}

static struct mesh_route *vs_route(struct build *b, const struct mesh__node *h,
                                   const struct mesh_resource *res, const char *const *gws,
                                   size_t ngws)
{
	struct mesh_route *rt = alloc(b, sizeof(*rt));
	if (!rt)
		return NULL;
	rt->rule = res;
	rt->line = h->line;
	rt->name = mesh__node_str(mesh__node_get(h, "name"));
	const struct mesh__node *match = mesh__node_get(h, "match");
	if (match && match->type == MESH_NODE_SEQ && match->count) {
		rt->matches = alloc(b, match->count * sizeof(*rt->matches));
		for (size_t i = 0; rt->matches && i < match->count; i++)
			vs_match(b, &rt->matches[rt->nmatches++], match->u.items[i], res, gws,
			         ngws);
	} else if (gws) {
		/* no match blocks, but gateways other than "mesh" still apply */
		rt->matches = alloc(b, sizeof(*rt->matches));
		if (rt->matches) {
			rt->matches[0].gateways = gws;
			rt->matches[0].ngateways = ngws;
			rt->matches[0].node = h;
			rt->nmatches = 1;
		}
	}
	const struct mesh__node *route = mesh__node_get(h, "route");
	const struct mesh__node *redirect = mesh__node_get(h, "redirect");
	const struct mesh__node *direct = mesh__node_get(h, "directResponse");
	if (redirect && redirect->type == MESH_NODE_MAP) {
		rt->action = MESH_ACTION_REDIRECT;
		rt->redirect.struct_size = sizeof(rt->redirect);
		rt->redirect.uri = mesh__node_str(mesh__node_get(redirect, "uri"));
		rt->redirect.authority = mesh__node_str(mesh__node_get(redirect, "authority"));
		rt->redirect.scheme = mesh__node_str(mesh__node_get(redirect, "scheme"));
		rt->redirect.port = (unsigned)integer(mesh__node_get(redirect, "port"), 0);
		rt->redirect.code = (int)integer(mesh__node_get(redirect, "redirectCode"), 301);
	} else if (direct && direct->type == MESH_NODE_MAP) {
		rt->action = MESH_ACTION_DIRECT_RESPONSE;
		rt->direct_status = (int)integer(mesh__node_get(direct, "status"), 200);
		rt->direct_body = mesh__node_str(mesh__node_path(direct, "body.string"));
		if (!rt->direct_body)
			rt->direct_body = mesh__node_str(mesh__node_path(direct, "body.bytes"));
	} else if (route && route->type == MESH_NODE_SEQ) {
		rt->action = MESH_ACTION_FORWARD;
		rt->dests = alloc(b, (route->count + 1) * sizeof(*rt->dests));
		for (size_t i = 0; rt->dests && i < route->count; i++) {
			const struct mesh__node *rd = route->u.items[i];
			const struct mesh_cluster *c =
				vs_dest(b, mesh__node_get(rd, "destination"), res);
			if (!c)
				continue;
			int64_t w =
				integer(mesh__node_get(rd, "weight"), route->count == 1 ? 100 : 0);
			rt->dests[rt->ndests].cluster = c;
			rt->dests[rt->ndests].weight = (uint32_t)(w < 0 ? 0 : w);
			rt->ndests++;
			header_ops(b, rt, mesh__node_get(rd, "headers"));
		}
		finish_weights(rt);
	}
	rt->timeout_ms = duration_ms(mesh__node_get(h, "timeout"), 0);
	const struct mesh__node *retries = mesh__node_get(h, "retries");
	if (retries && retries->type == MESH_NODE_MAP) {
		rt->retry.struct_size = sizeof(rt->retry);
		rt->retry.attempts = (unsigned)integer(mesh__node_get(retries, "attempts"), 0);
		rt->retry.per_try_timeout_ms =
			duration_ms(mesh__node_get(retries, "perTryTimeout"), 0);
		rt->retry.retry_on = mesh__node_str(mesh__node_get(retries, "retryOn"));
		if (!rt->retry.retry_on)
			rt->retry.retry_on = DEFAULT_RETRY_ON;
	} else {
		default_retry(rt);
	}
	const struct mesh__node *fault = mesh__node_get(h, "fault");
	if (fault && fault->type == MESH_NODE_MAP) {
		const struct mesh__node *delay = mesh__node_get(fault, "delay");
		const struct mesh__node *abort_ = mesh__node_get(fault, "abort");
		rt->has_fault = true;
		rt->fault.struct_size = sizeof(rt->fault);
		rt->fault.abort_grpc_status = -1;
		if (delay) {
			const struct mesh__node *pct = mesh__node_path(delay, "percentage.value");
			rt->fault.delay_percent =
				pct ? number(pct, 0)
				    : number(mesh__node_get(delay, "percent"), 100);
			rt->fault.delay_ms = duration_ms(mesh__node_get(delay, "fixedDelay"), 0);
		}
		if (abort_) {
			const struct mesh__node *pct = mesh__node_path(abort_, "percentage.value");
			rt->fault.abort_percent =
				pct ? number(pct, 0)
				    : number(mesh__node_get(abort_, "percent"), 100);
			rt->fault.abort_http_status =
				(int)integer(mesh__node_get(abort_, "httpStatus"), 0);
			const char *g = mesh__node_str(mesh__node_get(abort_, "grpcStatus"));
			if (g)
				rt->fault.abort_grpc_status = grpc_status_code(g);
		}
	}
	const struct mesh__node *mirror = mesh__node_get(h, "mirror");
	const struct mesh__node *mirrors = mesh__node_get(h, "mirrors");
	size_t nm =
		(mirror ? 1 : 0) + (mirrors && mirrors->type == MESH_NODE_SEQ ? mirrors->count : 0);
	if (nm) {
		rt->mirrors = alloc(b, nm * sizeof(*rt->mirrors));
		if (mirror && rt->mirrors) {
			const struct mesh__node *pct = mesh__node_path(h, "mirrorPercentage.value");
			double p = pct ? number(pct, 100)
			               : number(mesh__node_get(h, "mirrorPercent"), 100);
			rt->mirrors[rt->nmirrors].cluster = vs_dest(b, mirror, res);
			rt->mirrors[rt->nmirrors++].percent = p;
		}
		for (size_t i = 0;
		     rt->mirrors && mirrors && mirrors->type == MESH_NODE_SEQ && i < mirrors->count;
		     i++) {
			const struct mesh__node *m = mirrors->u.items[i];
			rt->mirrors[rt->nmirrors].cluster =
				vs_dest(b, mesh__node_get(m, "destination"), res);
			rt->mirrors[rt->nmirrors++].percent =
				number(mesh__node_path(m, "percentage.value"), 100);
		}
	}
	const struct mesh__node *rewrite = mesh__node_get(h, "rewrite");
	rt->rewrite_uri = mesh__node_str(mesh__node_get(rewrite, "uri"));
	rt->rewrite_authority = mesh__node_str(mesh__node_get(rewrite, "authority"));
	header_ops(b, rt, mesh__node_get(h, "headers"));
	cors_policy(b, rt, mesh__node_get(h, "corsPolicy"), res);
	return rt;
}

static const char *joined(struct build *b, const struct mesh__node *seq)
{
	if (!seq || seq->type != MESH_NODE_SEQ || !seq->count)
		return NULL;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	for (size_t i = 0; i < seq->count; i++)
		if (mesh__node_str(seq->u.items[i]))
			mesh__sb_printf(&sb, "%s%s", sb.len ? "," : "", seq->u.items[i]->u.str);
	const char *out = dupstr(b, mesh__sb_str(&sb));
	mesh__sb_fini(&sb);
	return out;
}

/* corsPolicy of a VirtualService route or a RouteRule (allowOrigin is the
 * old list of exact origins, "*" for any). */
static void cors_policy(struct build *b, struct mesh_route *rt, const struct mesh__node *n,
                        const struct mesh_resource *res)
{
	if (!n || n->type != MESH_NODE_MAP)
		return;
	rt->has_cors = true;
	rt->cors.struct_size = sizeof(rt->cors);
	rt->cors.allow_methods = joined(b, mesh__node_get(n, "allowMethods"));
	rt->cors.allow_headers = joined(b, mesh__node_get(n, "allowHeaders"));
	rt->cors.expose_headers = joined(b, mesh__node_get(n, "exposeHeaders"));
	const struct mesh__node *age = mesh__node_get(n, "maxAge");
	rt->cors.max_age_s = age ? duration_ms(age, -1000) / 1000 : -1;
	const char *cred = mesh__node_str(mesh__node_get(n, "allowCredentials"));
	rt->cors.allow_credentials = !cred ? -1 : !strcmp(cred, "true");
	const struct mesh__node *origins = mesh__node_get(n, "allowOrigins");
	const struct mesh__node *legacy = mesh__node_get(n, "allowOrigin");
	size_t no = (origins && origins->type == MESH_NODE_SEQ ? origins->count : 0) +
	            (legacy && legacy->type == MESH_NODE_SEQ ? legacy->count : 0);
	if (!no)
		return;
	rt->origins = alloc(b, no * sizeof(*rt->origins));
	for (size_t i = 0;
	     rt->origins && origins && origins->type == MESH_NODE_SEQ && i < origins->count; i++)
		strmatch_from(b, &rt->origins[rt->norigins++], origins->u.items[i], false, res);
	for (size_t i = 0;
	     rt->origins && legacy && legacy->type == MESH_NODE_SEQ && i < legacy->count; i++) {
		const struct mesh__node *o = legacy->u.items[i];
		struct strmatch *m = &rt->origins[rt->norigins++];
		if (!mesh__node_str(o) || !strcmp(o->u.str, "*")) {
			m->kind = SM_PRESENT;
			continue;
		}
		m->kind = SM_EXACT;
		m->value = o->u.str;
		m->len = o->count;
	}
}

/* A tcp or tls route of a VirtualService. */
static struct mesh_route *vs_l4_route(struct build *b, const struct mesh__node *n,
                                      const struct mesh_resource *res, const char *const *gws,
                                      size_t ngws, bool tls)
{
	struct mesh_route *rt = alloc(b, sizeof(*rt));
	if (!rt)
		return NULL;
	rt->rule = res;
	rt->line = n->line;
	const struct mesh__node *match = mesh__node_get(n, "match");
	size_t nm = (match && match->type == MESH_NODE_SEQ) ? match->count : 0;
	rt->matches = alloc(b, (nm ? nm : 1) * sizeof(*rt->matches));
	if (!rt->matches)
		return NULL;
	for (size_t i = 0; i < nm; i++) {
		const struct mesh__node *m = match->u.items[i];
		struct match_block *blk = &rt->matches[rt->nmatches++];
		blk->node = m;
		blk->port = (uint32_t)integer(mesh__node_get(m, "port"), 0);
		blk->src_labels = labels_of(b, mesh__node_get(m, "sourceLabels"));
		blk->src_ns = mesh__node_str(mesh__node_get(m, "sourceNamespace"));
		size_t ng;
		blk->gateways = gateway_list(b, mesh__node_get(m, "gateways"), res, &ng);
		blk->ngateways = ng;
		if (!blk->gateways) {
			blk->gateways = gws;
			blk->ngateways = ngws;
		}
		if (tls) {
			size_t ns;
			blk->sni = strlist(b, mesh__node_get(m, "sniHosts"), &ns);
			blk->nsni = ns;
		}
	}
	if (!nm) {
		rt->matches[0].gateways = gws;
		rt->matches[0].ngateways = ngws;
		rt->matches[0].node = n;
		rt->nmatches = 1;
	}
	rt->action = MESH_ACTION_FORWARD;
	const struct mesh__node *route = mesh__node_get(n, "route");
	size_t nr = (route && route->type == MESH_NODE_SEQ) ? route->count : 0;
	rt->dests = alloc(b, (nr + 1) * sizeof(*rt->dests));
	for (size_t i = 0; rt->dests && i < nr; i++) {
		const struct mesh__node *rd = route->u.items[i];
		const struct mesh_cluster *c = vs_dest(b, mesh__node_get(rd, "destination"), res);
		if (!c)
			continue;
		int64_t w = integer(mesh__node_get(rd, "weight"), nr == 1 ? 100 : 0);
		rt->dests[rt->ndests].cluster = c;
		rt->dests[rt->ndests++].weight = (uint32_t)(w < 0 ? 0 : w);
	}
	finish_weights(rt);
	return rt;
}

/* A VirtualService's routes, under each of its hosts. Its gateways list
 * (absent: "mesh") says which proxies use it: for the sidecars, the first
 * VirtualService of a host owns it (Istio reports a second one, IST0109);
 * for gateways, the VirtualServices of a host are merged in load order, as
 * Istio merges them per gateway. A sidecar one and gateway ones share a host
 * without conflict: each route's match blocks carry their gateways. */
static void compile_vs(struct build *b, const struct mesh_resource *res)
{
	size_t ngws;
	const char *const *gws = gateway_list(b, mesh__node_get(res->spec, "gateways"), res, &ngws);
	bool to_mesh = !gws;
	for (size_t i = 0; i < ngws; i++)
		to_mesh |= !strcmp(gws[i], "mesh");
	const struct mesh__node *hosts = mesh__node_get(res->spec, "hosts");
	const struct mesh__node *http = mesh__node_get(res->spec, "http");
	for (size_t i = 0; hosts && hosts->type == MESH_NODE_SEQ && i < hosts->count; i++) {
		const char *host = fqdn(b, mesh__node_str(hosts->u.items[i]), res->ns);
		if (!host)
			continue;
		struct vhost *v = find_vhost(b, host);
		if (v && to_mesh && v->mesh_source) {
			const struct mesh_resource *o = v->mesh_source;
			mesh__diag_add(b->diag, MESH_SEV_WARNING, "MESH0008", res->file,
			               hosts->u.items[i]->line, hosts->u.items[i]->col, NULL,
			               "host %s is already routed by VirtualService %s/%s (%s:%u); "
			               "this one is ignored for it",
			               host, o->ns, o->name, o->file, o->line);
			continue;
		}
		if (!v && !(v = add_vhost(b, host, res)))
			return;
		if (to_mesh)
			v->mesh_source = res;
		for (size_t j = 0; http && http->type == MESH_NODE_SEQ && j < http->count; j++) {
			struct mesh_route *rt = vs_route(b, http->u.items[j], res, gws, ngws);
			if (rt)
				add_route(b, v, rt);
		}
		static const char *const l4[] = { "tls", "tcp" };
		for (int k = 0; k < 2; k++) {
			const struct mesh__node *list = mesh__node_get(res->spec, l4[k]);
			for (size_t j = 0; list && list->type == MESH_NODE_SEQ && j < list->count;
			     j++) {
				struct mesh_route *rt =
					vs_l4_route(b, list->u.items[j], res, gws, ngws, k == 0);
				if (rt)
					push(b, (void ***)&v->tcp, &v->ntcp, &v->captcp, rt);
			}
		}
	}
}

/* ---- RouteRule (v1alpha2) ---- */

static int cmp_rules(const void *pa, const void *pb)
{
	const struct mesh_resource *a = *(const struct mesh_resource *const *)pa;
	const struct mesh_resource *b = *(const struct mesh_resource *const *)pb;
	int64_t x = integer(mesh__node_get(a->spec, "precedence"), 0);
	int64_t y = integer(mesh__node_get(b->spec, "precedence"), 0);
	if (x != y)
		return x > y ? -1 : 1;
	/* equal precedence: Istio leaves the order open; we use names so it
	 * is at least stable (meshctl analyze warns, MESH0004) */
	int c = strcmp(a->ns, b->ns);
	return c ? c : strcmp(a->name, b->name);
}

static const char *legacy_host(struct build *b, const struct mesh__node *svc,
                               const struct mesh_resource *res)
{
	const char *name = mesh__node_str(mesh__node_get(svc, "name"));
	const char *service = mesh__node_str(mesh__node_get(svc, "service"));
	const char *ns = mesh__node_str(mesh__node_get(svc, "namespace"));
	const char *domain = mesh__node_str(mesh__node_get(svc, "domain"));
	if (service)
		return service;
	if (!name)
		return NULL;
	if (strchr(name, '.'))
		return name;
	return fmt(b, "%s.%s.svc.%s", name, ns ? ns : res->ns, domain ? domain : b->r->domain);
}

static struct mesh_route *rr_route(struct build *b, const struct mesh_resource *res,
                                   const char *host)
{
	const struct mesh__node *spec = res->spec;
	struct mesh_route *rt = alloc(b, sizeof(*rt));
	if (!rt)
		return NULL;
	rt->rule = res;
	rt->line = res->line;
	const struct mesh__node *match = mesh__node_get(spec, "match");
	if (match && match->type == MESH_NODE_MAP) {
		struct match_block *m = rt->matches = alloc(b, sizeof(*m));
		if (!m)
			return NULL;
		rt->nmatches = 1;
		m->node = match;
		const struct mesh__node *hdrs = mesh__node_path(match, "request.headers");
		/* v1alpha2 matched uri, scheme, method and authority as headers */
		size_t n = (hdrs && hdrs->type == MESH_NODE_MAP) ? hdrs->count : 0;
		m->headers = alloc(b, (n + 1) * sizeof(*m->headers));
		for (size_t i = 0; m->headers && i < n; i++) {
			const char *name = hdrs->u.pairs[i].key->u.str;
			const struct mesh__node *v = hdrs->u.pairs[i].value;
			if (!strcmp(name, "uri"))
				strmatch_from(b, &m->uri, v, false, res);
			else if (!strcmp(name, "scheme"))
				strmatch_from(b, &m->scheme, v, false, res);
			else if (!strcmp(name, "method"))
				strmatch_from(b, &m->method, v, false, res);
			else if (!strcmp(name, "authority"))
				strmatch_from(b, &m->authority, v, false, res);
			else {
				struct hdrmatch *h = &m->headers[m->nheaders++];
				h->name = lower(b, name);
				strmatch_from(b, &h->m, v, false, res);
			}
		}
		const struct mesh__node *src = mesh__node_get(match, "source");
		m->src_labels = labels_of(b, mesh__node_get(src, "labels"));
		m->src_name = mesh__node_str(mesh__node_get(src, "name"));
		m->src_ns = mesh__node_str(mesh__node_get(src, "namespace"));
	}
	const struct mesh__node *redirect = mesh__node_get(spec, "redirect");
	const struct mesh__node *route = mesh__node_get(spec, "route");
	if (redirect && redirect->type == MESH_NODE_MAP) {
		rt->action = MESH_ACTION_REDIRECT;
		rt->redirect.struct_size = sizeof(rt->redirect);
		rt->redirect.uri = mesh__node_str(mesh__node_get(redirect, "uri"));
		rt->redirect.authority = mesh__node_str(mesh__node_get(redirect, "authority"));
		rt->redirect.code = 301;
	} else {
		rt->action = MESH_ACTION_FORWARD;
		size_t n = (route && route->type == MESH_NODE_SEQ) ? route->count : 0;
		rt->dests = alloc(b, (n + 1) * sizeof(*rt->dests));
		if (!rt->dests)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			const struct mesh__node *rd = route->u.items[i];
			const struct mesh__node *d = mesh__node_get(rd, "destination");
			const char *h = d ? legacy_host(b, d, res) : host;
			const struct mesh_cluster *c =
				cluster_for(b, h ? h : host, NULL,
			                    labels_of(b, mesh__node_get(rd, "labels")), 0);
			if (!c)
				continue;
			int64_t w = integer(mesh__node_get(rd, "weight"), n == 1 ? 100 : 0);
			rt->dests[rt->ndests].cluster = c;
			rt->dests[rt->ndests++].weight = (uint32_t)(w < 0 ? 0 : w);
		}
		if (n == 0) {
			/* no route: the whole service */
			const struct mesh_cluster *c = cluster_for(b, host, NULL, NULL, 0);
			if (c) {
				rt->dests[0].cluster = c;
				rt->dests[0].weight = 100;
				rt->ndests = 1;
			}
		}
		finish_weights(rt);
	}
	rt->timeout_ms =
		duration_ms(mesh__node_path(spec, "httpReqTimeout.simpleTimeout.timeout"), 0);
	const struct mesh__node *retry = mesh__node_path(spec, "httpReqRetries.simpleRetry");
	if (retry) {
		rt->retry.struct_size = sizeof(rt->retry);
		rt->retry.attempts = (unsigned)integer(mesh__node_get(retry, "attempts"), 0);
		rt->retry.per_try_timeout_ms =
			duration_ms(mesh__node_get(retry, "perTryTimeout"), 0);
		rt->retry.retry_on = "5xx,connect-failure,refused-stream";
	} else {
		default_retry(rt);
	}
	const struct mesh__node *fault = mesh__node_get(spec, "httpFault");
	if (fault && fault->type == MESH_NODE_MAP) {
		const struct mesh__node *delay = mesh__node_get(fault, "delay");
		const struct mesh__node *abort_ = mesh__node_get(fault, "abort");
		rt->has_fault = true;
		rt->fault.struct_size = sizeof(rt->fault);
		rt->fault.abort_grpc_status = -1;
		if (delay) {
			rt->fault.delay_percent = number(mesh__node_get(delay, "percent"), 100);
			rt->fault.delay_ms = duration_ms(mesh__node_get(delay, "fixedDelay"), 0);
		}
		if (abort_) {
			rt->fault.abort_percent = number(mesh__node_get(abort_, "percent"), 100);
			rt->fault.abort_http_status =
				(int)integer(mesh__node_get(abort_, "httpStatus"), 0);
		}
	}
	const struct mesh__node *mirror = mesh__node_get(spec, "mirror");
	if (mirror && mirror->type == MESH_NODE_MAP) {
		rt->mirrors = alloc(b, sizeof(*rt->mirrors));
		const char *mh = legacy_host(b, mirror, res);
		if (rt->mirrors && mh) {
			rt->mirrors[0].cluster = cluster_for(
				b, mh, NULL, labels_of(b, mesh__node_get(mirror, "labels")), 0);
			rt->mirrors[0].percent = 100;
			rt->nmirrors = 1;
		}
	}
	const struct mesh__node *rewrite = mesh__node_get(spec, "rewrite");
	rt->rewrite_uri = mesh__node_str(mesh__node_get(rewrite, "uri"));
	rt->rewrite_authority = mesh__node_str(mesh__node_get(rewrite, "authority"));
	const struct mesh__node *append = mesh__node_get(spec, "appendHeaders");
	if (append && append->type == MESH_NODE_MAP && append->count) {
		rt->hops = alloc(b, append->count * sizeof(*rt->hops));
		for (size_t i = 0; rt->hops && i < append->count; i++)
			rt->hops[rt->nhops++] = (struct header_op){
				MESH_HDR_REQUEST, MESH_HDR_ADD, append->u.pairs[i].key->u.str,
				mesh__node_str(append->u.pairs[i].value) ?: ""
			};
	}
	cors_policy(b, rt, mesh__node_get(spec, "corsPolicy"), res);
	const char *ws = mesh__node_str(mesh__node_get(spec, "websocketUpgrade"));
	rt->websocket = ws && !strcmp(ws, "true");
	return rt;
}

/* The catch-all route to a whole service. */
static struct mesh_route *default_route(struct build *b, const char *host)
{
	struct mesh_route *rt = alloc(b, sizeof(*rt));
	if (!rt)
		return NULL;
	rt->action = MESH_ACTION_FORWARD;
	rt->dests = alloc(b, sizeof(*rt->dests));
	const struct mesh_cluster *c = rt->dests ? cluster_for(b, host, NULL, NULL, 0) : NULL;
	if (!c)
		return NULL;
	rt->dests[0].cluster = c;
	rt->dests[0].weight = 100;
	rt->ndests = 1;
	finish_weights(rt);
	default_retry(rt);
	return rt;
}

static void compile_route_rules(struct build *b)
{
	const mesh_config *cfg = b->r->cfg;
	const struct mesh_resource **rules = mesh__malloc((cfg->nres + 1) * sizeof(*rules));
	size_t n = 0;
	if (!rules) {
		b->err = MESH_ENOMEM;
		return;
	}
	for (size_t i = 0; i < cfg->nres; i++)
		if (cfg->res[i]->kind == MESH_KIND_ROUTE_RULE)
			rules[n++] = cfg->res[i];
	qsort(rules, n, sizeof(*rules), cmp_rules);
	for (size_t i = 0; i < n && !b->err; i++) {
		const struct mesh_resource *res = rules[i];
		const char *host = legacy_host(b, mesh__node_get(res->spec, "destination"), res);
		if (!host)
			continue;
		struct vhost *v = find_vhost(b, host);
		if (v && v->source && v->source->kind == MESH_KIND_VIRTUAL_SERVICE) {
			mesh__diag_add(b->diag, MESH_SEV_WARNING, NULL, res->file, res->line, 1,
			               NULL,
			               "RouteRule %s/%s is ignored: VirtualService %s/%s routes %s",
			               res->ns, res->name, v->source->ns, v->source->name, host);
			continue;
		}
		if (!v && !(v = add_vhost(b, host, res)))
			break;
		struct mesh_route *rt = rr_route(b, res, host);
		if (rt)
			add_route(b, v, rt);
	}
	/* requests that no rule takes go to the whole service */
	for (size_t i = 0; i < b->r->nvhosts && !b->err; i++) {
		struct vhost *v = b->r->vhosts[i];
		if (v->source && v->source->kind == MESH_KIND_ROUTE_RULE) {
			struct mesh_route *rt = default_route(b, v->host);
			if (rt)
				add_route(b, v, rt);
			v->fallback = rt;
		}
	}
	mesh__free(rules);
}

static void lookup_put(struct mesh_router *r, const char *key, size_t len, const struct vhost *v)
{
	uint64_t hash = mesh__host_hash(key, len);
	size_t i = (size_t)hash & (r->lookup_cap - 1);
	for (;; i = (i + 1) & (r->lookup_cap - 1)) {
		struct vkey *k = &r->lookup[i];
		if (!k->key) {
			*k = (struct vkey){ hash, key, len, v };
			return;
		}
		if (k->hash == hash && k->len == len && !memcmp(k->key, key, len))
			return; /* taken: a full name wins over an alias */
	}
}

/* The request-time host table: every FQDN, then the short names that
 * mean it to a client in the router's namespace, as Istio lists them as
 * domains of a virtual host. */
static void build_lookup(struct build *b)
{
	struct mesh_router *r = b->r;
	size_t want = r->nvhosts * 4 + 1, cap = 64;
	while (cap < want * 2)
		cap *= 2;
	r->lookup = mesh__calloc(cap, sizeof(*r->lookup));
	if (!r->lookup) {
		b->err = MESH_ENOMEM;
		return;
	}
	r->lookup_cap = cap;
	for (size_t i = 0; i < r->nvhosts; i++)
		if (r->vhosts[i]->host[0] != '*')
			lookup_put(r, r->vhosts[i]->host, strlen(r->vhosts[i]->host), r->vhosts[i]);
	char suffix[300];
	int sl = snprintf(suffix, sizeof(suffix), ".svc.%s", r->domain);
	for (size_t i = 0; i < r->nvhosts; i++) {
		const char *h = r->vhosts[i]->host;
		size_t hl = strlen(h);
		if (sl <= 0 || hl <= (size_t)sl || strcmp(h + hl - (size_t)sl, suffix))
			continue;
		/* h = name.ns.svc.domain */
		size_t base = hl - (size_t)sl; /* "name.ns" */
		const char *dot = memchr(h, '.', base);
		if (!dot)
			continue;
		lookup_put(r, h, base + 4, r->vhosts[i]); /* name.ns.svc */
		lookup_put(r, h, base, r->vhosts[i]);     /* name.ns */
		size_t nl = (size_t)(dot - h);
		if (base - nl - 1 == strlen(r->ns) && !memcmp(dot + 1, r->ns, base - nl - 1))
			lookup_put(r, h, nl, r->vhosts[i]); /* name */
	}
}

static int cmp_wild(const void *pa, const void *pb)
{
	const struct vhost *a = *(const struct vhost *const *)pa;
	const struct vhost *b = *(const struct vhost *const *)pb;
	size_t la = strlen(a->host), lb = strlen(b->host);
	return la == lb ? strcmp(a->host, b->host) : (la > lb ? -1 : 1);
}

int mesh__router_compile(struct mesh_router *r, const mesh_registry *reg, mesh_diag *diag)
{
	struct build b = { .r = r, .reg = reg, .diag = diag };
	const mesh_config *cfg = r->cfg;
	index_policies(&b);
	for (size_t i = 0; i < cfg->nres && !b.err; i++)
		if (cfg->res[i]->kind == MESH_KIND_VIRTUAL_SERVICE)
			compile_vs(&b, cfg->res[i]);
	if (!b.err)
		compile_route_rules(&b);
	/* every known service is reachable by its name */
	size_t nsvc = reg ? mesh_registry_service_count(reg) : 0;
	for (size_t i = 0; i < nsvc && !b.err; i++) {
		const char *host = mesh_service_host(mesh_registry_service_at(reg, i));
		struct vhost *v = find_vhost(&b, host);
		/* a host that only gateway VirtualServices route is still the
		 * service's own for the sidecars */
		bool gateway_only = v && v->source &&
		                    v->source->kind == MESH_KIND_VIRTUAL_SERVICE && !v->mesh_source;
		if (v && !gateway_only)
			continue;
		if (!v) {
			host = dupstr(&b, host);
			v = host ? add_vhost(&b, host, NULL) : NULL;
		}
		struct mesh_route *rt = v ? default_route(&b, v->host) : NULL;
		if (rt)
			add_route(&b, v, rt);
		if (v)
			v->fallback = rt;
	}
	size_t nwild = 0;
	for (size_t i = 0; i < r->nvhosts; i++)
		nwild += r->vhosts[i]->host[0] == '*';
	if (nwild && !b.err) {
		r->wild = mesh__malloc(nwild * sizeof(*r->wild));
		if (!r->wild) {
			b.err = MESH_ENOMEM;
		} else {
			for (size_t i = 0; i < r->nvhosts; i++)
				if (r->vhosts[i]->host[0] == '*')
					r->wild[r->nwild++] = r->vhosts[i];
			qsort(r->wild, r->nwild, sizeof(*r->wild), cmp_wild);
		}
	}
	if (!b.err)
		build_lookup(&b);
	/* JIT code is faster per match, but thousands of separate JIT blobs
	 * thrash the instruction cache and cost more than the interpreter
	 * (bench/README.md); past this many patterns we interpret */
	if (!b.err && r->nregexes <= MESH_ROUTE_JIT_MAX && !getenv("MESH_NO_JIT"))
		for (size_t i = 0; i < r->nregexes; i++)
			(void)pcre2_jit_compile(r->regexes[i], PCRE2_JIT_COMPLETE);
	mesh__free(b.retab);
	mesh__free(b.drs);
	mesh__free(b.wild_drs);
	mesh__free(b.dps);
	return b.err;
}

const struct mesh_cluster *mesh__router_cluster_named(const struct mesh_router *r, const char *name)
{
	if (!r || !r->ctab_cap || !name)
		return NULL;
	return *cslot(r->ctab, r->ctab_cap, name);
}

void mesh__router_release(struct mesh_router *r)
{
	mesh__free(r->ctab);
	for (size_t i = 0; i < r->nclusters; i++) {
		mesh__cluster_fini(r->clusters[i]);
		mesh__free(r->clusters[i]);
	}
	mesh__free(r->clusters);
	for (size_t i = 0; i < r->nvhosts; i++) {
		mesh__free(r->vhosts[i]->routes);
		mesh__free(r->vhosts[i]->tcp);
	}
	mesh__free(r->vhosts);
	mesh__free(r->index);
	mesh__free(r->lookup);
	mesh__free(r->wild);
	for (size_t i = 0; i < r->nregexes; i++)
		pcre2_code_free(r->regexes[i]);
	mesh__free(r->regexes);
	mesh__arena_fini(&r->arena);
}
