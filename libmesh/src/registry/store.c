/*
 * store.c - the registry's data: services in insertion order with two hash
 * tables over them (exact hosts, and "*.suffix" wildcards by suffix),
 * ports, addresses, and copy-on-write endpoint sets with an identity index.
 * Every change allocates what it needs before it touches anything, so a
 * failed allocation leaves the registry as it was.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry.h"

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

uint64_t mesh__registry_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)lower(s[i])) * 1099511628211ULL;
	return h ^ (h >> 29);
}

/* ---- host tables ---- */

static bool is_wild(const struct mesh_service *s)
{
	return s->host_len > 2 && s->host[0] == '*' && s->host[1] == '.';
}

/* The key of @s in the exact table (its host) or the wildcard table (the
 * ".suffix" of "*.suffix"). */
static const char *tab_key(const struct mesh_service *s, bool wild, size_t *len)
{
	*len = wild ? s->host_len - 1 : s->host_len;
	return wild ? s->host + 1 : s->host;
}

/* The slot holding @key, or the empty slot where it belongs. */
static size_t probe(struct mesh_service *const *svcs, const size_t *tab, size_t cap, bool wild,
                    const char *key, size_t len)
{
	size_t i = (size_t)mesh__registry_hash(key, len) & (cap - 1);
	for (;; i = (i + 1) & (cap - 1)) {
		if (!tab[i])
			return i;
		size_t klen;
		const char *k = tab_key(svcs[tab[i] - 1], wild, &klen);
		if (klen == len && !strncasecmp(k, key, len))
			return i;
	}
}

struct mesh_service *mesh__registry_exact(const mesh_registry *reg, const char *host, size_t len)
{
	if (!reg->exact_cap)
		return NULL;
	size_t i = probe(reg->svcs, reg->exact, reg->exact_cap, false, host, len);
	return reg->exact[i] ? reg->svcs[reg->exact[i] - 1] : NULL;
}

struct mesh_service *mesh__registry_wildcard(const mesh_registry *reg, const char *host, size_t len)
{
	/* left to right: the first suffix found is the longest */
	for (size_t i = 1; reg->wild_cap && i + 1 < len; i++) {
		if (host[i] != '.')
			continue;
		size_t slot = probe(reg->svcs, reg->wild, reg->wild_cap, true, host + i, len - i);
		if (reg->wild[slot])
			return reg->svcs[reg->wild[slot] - 1];
	}
	return reg->star ? reg->svcs[reg->star - 1] : NULL;
}

bool mesh__registry_host_ok(const char *host)
{
	size_t len = strlen(host);
	if (!len || host[0] == '.' || strstr(host, ".."))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)host[i];
		if (c <= ' ' || c == 0x7f)
			return false;
		if (c == '*' && (i != 0 || (len > 1 && (host[1] != '.' || len < 3))))
			return false;
	}
	return true;
}

/* A table of @cap slots (a power of two) over the services of @reg that
 * belong in it; NULL when out of memory. */
static size_t *build_table(const mesh_registry *reg, size_t cap, bool wild)
{
	size_t *tab = mesh__calloc(cap, sizeof(*tab));
	if (!tab)
		return NULL;
	for (size_t i = 0; i < reg->n; i++) {
		const struct mesh_service *s = reg->svcs[i];
		if (wild && !is_wild(s))
			continue;
		size_t len;
		const char *key = tab_key(s, wild, &len);
		tab[probe(reg->svcs, tab, cap, wild, key, len)] = i + 1;
	}
	return tab;
}

static size_t table_cap(size_t cap, size_t entries)
{
	if (!cap)
		cap = 16;
	while (entries * 2 > cap)
		cap *= 2;
	return cap;
}

int mesh__registry_insert(mesh_registry *reg, struct mesh_service *s)
{
	bool wild = is_wild(s);
	if (reg->n == reg->cap) {
		size_t cap = reg->cap ? reg->cap * 2 : 16;
		struct mesh_service **v = mesh__realloc(reg->svcs, cap * sizeof(*v));
		if (!v)
			return MESH_ENOMEM;
		reg->svcs = v;
		reg->cap = cap;
	}
	size_t *exact = NULL, *wtab = NULL;
	size_t exact_cap = table_cap(reg->exact_cap, reg->n + 1);
	size_t wild_cap = wild ? table_cap(reg->wild_cap, reg->nwild + 1) : reg->wild_cap;
	if (exact_cap != reg->exact_cap && !(exact = build_table(reg, exact_cap, false)))
		return MESH_ENOMEM;
	if (wild_cap != reg->wild_cap && !(wtab = build_table(reg, wild_cap, true))) {
		mesh__free(exact);
		return MESH_ENOMEM;
	}
	/* nothing can fail from here on */
	if (exact) {
		mesh__free(reg->exact);
		reg->exact = exact;
		reg->exact_cap = exact_cap;
	}
	if (wtab) {
		mesh__free(reg->wild);
		reg->wild = wtab;
		reg->wild_cap = wild_cap;
	}
	size_t pos = reg->n;
	reg->svcs[reg->n++] = s;
	reg->exact[probe(reg->svcs, reg->exact, reg->exact_cap, false, s->host, s->host_len)] =
		pos + 1;
	if (wild) {
		reg->wild[probe(reg->svcs, reg->wild, reg->wild_cap, true, s->host + 1,
		                s->host_len - 1)] = pos + 1;
		reg->nwild++;
	}
	if (s->host_len == 1 && s->host[0] == '*')
		reg->star = pos + 1;
	return 0;
}

/* ---- services ---- */

struct mesh_service *mesh__service_new(const char *host, const char *ns, int resolution,
                                       int location)
{
	struct mesh_service *s = mesh__calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	size_t len = strlen(host);
	if (len > 1 && host[len - 1] == '.')
		len--; /* "a.example.com." is "a.example.com" */
	s->host = mesh__strndup(host, len);
	s->ns = mesh__strdup(ns ? ns : "default");
	if (!s->host || !s->ns) {
		mesh__service_free(s);
		return NULL;
	}
	for (size_t i = 0; i < len; i++)
		s->host[i] = lower(s->host[i]);
	s->host_len = len;
	s->resolution = resolution;
	s->location = location;
	return s;
}

void mesh__service_free(struct mesh_service *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nports; i++)
		mesh__free(s->ports[i].name);
	for (size_t i = 0; i < s->naddresses; i++)
		mesh__free(s->addresses[i]);
	for (size_t i = 0; i < s->nsans; i++)
		mesh__free(s->sans[i]);
	mesh__free(s->ports);
	mesh__free(s->addresses);
	mesh__free(s->sans);
	mesh__epset_unref(s->eps);
	mesh__free(s->host);
	mesh__free(s->ns);
	mesh__free(s);
}

const struct mesh__reg_port *mesh__service_find_port(const struct mesh_service *s, uint32_t number)
{
	for (size_t i = 0; i < s->nports; i++)
		if (s->ports[i].number == number)
			return &s->ports[i];
	return NULL;
}

int mesh__service_add_port(struct mesh_service *s, uint32_t number, const char *name, int protocol,
                           uint32_t target, bool replace, bool *changed, bool *conflict)
{
	if (!name)
		name = "";
	if (changed)
		*changed = false;
	if (conflict)
		*conflict = false;
	struct mesh__reg_port *p = (struct mesh__reg_port *)mesh__service_find_port(s, number);
	if (p) {
		bool differs =
			strcmp(p->name, name) || p->protocol != protocol || p->target != target;
		if (conflict)
			*conflict = differs;
		if (!differs || !replace)
			return 0;
		char *copy = mesh__strdup(name);
		if (!copy)
			return MESH_ENOMEM;
		mesh__free(p->name);
		*p = (struct mesh__reg_port){ number, target, protocol, copy };
	} else {
		if (s->nports == s->capports) {
			size_t cap = s->capports ? s->capports * 2 : 2;
			struct mesh__reg_port *v = mesh__realloc(s->ports, cap * sizeof(*v));
			if (!v)
				return MESH_ENOMEM;
			s->ports = v;
			s->capports = cap;
		}
		char *copy = mesh__strdup(name);
		if (!copy)
			return MESH_ENOMEM;
		s->ports[s->nports++] = (struct mesh__reg_port){ number, target, protocol, copy };
	}
	if (changed)
		*changed = true;
	return 0;
}

/* Add a copy of @str to the set (*v, *n, *cap) unless present. */
static int strset_add(char ***v, size_t *n, size_t *cap, const char *str)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], str))
			return 0;
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 2;
		char **nv = mesh__realloc(*v, ncap * sizeof(*nv));
		if (!nv)
			return MESH_ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	char *copy = mesh__strdup(str);
	if (!copy)
		return MESH_ENOMEM;
	(*v)[(*n)++] = copy;
	return 0;
}

int mesh__service_add_address(struct mesh_service *s, const char *addr)
{
	return strset_add(&s->addresses, &s->naddresses, &s->capaddresses, addr);
}

int mesh__service_add_san(struct mesh_service *s, const char *san)
{
	return strset_add(&s->sans, &s->nsans, &s->capsans, san);
}

/* ---- endpoints ---- */

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copy @s to *@at and advance it; NULL stays NULL. */
static const char *put_str(char **at, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = *at;
	memcpy(d, s, n);
	*at += n;
	return d;
}

int mesh__reg_endpoint_make(struct mesh__reg_endpoint *ep, const char *address, uint32_t port,
                            uint32_t service_port, uint32_t weight, const char *const *labels,
                            size_t nlabels, const char *locality, const char *service_account,
                            const char *network, const char *ns)
{
	size_t ptrs = nlabels ? (2 * nlabels + 1) * sizeof(char *) : 0;
	size_t size = ptrs + str_size(address) + str_size(locality) + str_size(service_account) +
	              str_size(network) + str_size(ns);
	for (size_t i = 0; i < 2 * nlabels; i++)
		size += str_size(labels[i]);
	char *mem = mesh__malloc(size);
	if (!mem)
		return MESH_ENOMEM;
	const char **lv = (const char **)(void *)mem;
	char *at = mem + ptrs;
	for (size_t i = 0; i < 2 * nlabels; i++)
		lv[i] = put_str(&at, labels[i]);
	if (nlabels)
		lv[2 * nlabels] = NULL;
	*ep = (struct mesh__reg_endpoint){
		.address = put_str(&at, address),
		.port = port,
		.service_port = service_port,
		.weight = weight ? weight : 1,
		.labels = nlabels ? lv : NULL,
		.nlabels = nlabels,
		.locality = put_str(&at, locality),
		.service_account = put_str(&at, service_account),
		.network = put_str(&at, network),
		.ns = put_str(&at, ns),
		.mem = mem,
	};
	return 0;
}

int mesh__reg_endpoint_copy(struct mesh__reg_endpoint *dst, const struct mesh__reg_endpoint *src,
                            uint32_t port, uint32_t service_port)
{
	return mesh__reg_endpoint_make(dst, src->address, port, service_port, src->weight,
	                               src->labels, src->nlabels, src->locality,
	                               src->service_account, src->network, src->ns);
}

void mesh__reg_endpoint_fini(struct mesh__reg_endpoint *ep)
{
	mesh__free(ep->mem);
	ep->mem = NULL;
}

static size_t ep_hash(const char *address, uint32_t port, uint32_t service_port)
{
	uint64_t h = mesh__registry_hash(address, strlen(address));
	h ^= ((uint64_t)port << 32 | service_port) * 0x9E3779B97F4A7C15ULL;
	return (size_t)(h ^ (h >> 31));
}

static size_t ep_probe(const struct mesh__reg_epset *set, const size_t *tab, size_t cap,
                       const char *address, uint32_t port, uint32_t service_port)
{
	size_t i = ep_hash(address, port, service_port) & (cap - 1);
	for (;; i = (i + 1) & (cap - 1)) {
		if (!tab[i])
			return i;
		const struct mesh__reg_endpoint *e = &set->v[tab[i] - 1];
		if (e->port == port && e->service_port == service_port &&
		    !strcmp(e->address, address))
			return i;
	}
}

long mesh__epset_find(const struct mesh__reg_epset *set, const char *address, uint32_t port,
                      uint32_t service_port)
{
	if (!set)
		return -1;
	if (set->index) {
		size_t i = ep_probe(set, set->index, set->index_cap, address, port, service_port);
		return set->index[i] ? (long)set->index[i] - 1 : -1;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct mesh__reg_endpoint *e = &set->v[i];
		if (e->port == port && e->service_port == service_port &&
		    !strcmp(e->address, address))
			return (long)i;
	}
	return -1;
}

int mesh__epset_put(struct mesh__reg_epset *set, struct mesh__reg_endpoint *ep)
{
	if (!set->index || (set->n + 1) * 2 > set->index_cap) {
		size_t cap = table_cap(set->index ? set->index_cap : 0, set->n + 1);
		size_t *tab = mesh__calloc(cap, sizeof(*tab));
		if (!tab)
			return MESH_ENOMEM;
		for (size_t i = 0; i < set->n; i++) {
			const struct mesh__reg_endpoint *e = &set->v[i];
			tab[ep_probe(set, tab, cap, e->address, e->port, e->service_port)] = i + 1;
		}
		mesh__free(set->index);
		set->index = tab;
		set->index_cap = cap;
	}
	size_t slot =
		ep_probe(set, set->index, set->index_cap, ep->address, ep->port, ep->service_port);
	if (set->index[slot]) {
		struct mesh__reg_endpoint *old = &set->v[set->index[slot] - 1];
		mesh__reg_endpoint_fini(old);
		*old = *ep;
		return 0;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 4;
		struct mesh__reg_endpoint *v = mesh__realloc(set->v, cap * sizeof(*v));
		if (!v)
			return MESH_ENOMEM;
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n] = *ep;
	set->index[slot] = ++set->n;
	return 0;
}

size_t mesh__epset_remove(struct mesh__reg_epset *set, const char *address, uint32_t port)
{
	size_t kept = 0;
	for (size_t i = 0; i < set->n; i++) {
		struct mesh__reg_endpoint *e = &set->v[i];
		if (e->port == port && !strcmp(e->address, address))
			mesh__reg_endpoint_fini(e);
		else
			set->v[kept++] = *e;
	}
	size_t removed = set->n - kept;
	set->n = kept;
	if (removed) {
		/* positions moved; the index is rebuilt by the next put */
		mesh__free(set->index);
		set->index = NULL;
		set->index_cap = 0;
	}
	return removed;
}

static void epset_free(struct mesh__reg_epset *set)
{
	for (size_t i = 0; i < set->n; i++)
		mesh__reg_endpoint_fini(&set->v[i]);
	mesh__free(set->v);
	mesh__free(set->index);
	mesh__free(set);
}

void mesh__epset_unref(struct mesh__reg_epset *set)
{
	if (set && --set->refs == 0)
		epset_free(set);
}

int mesh__service_own_endpoints(struct mesh_service *s)
{
	if (s->eps && s->eps->refs == 1)
		return 0;
	struct mesh__reg_epset *copy = mesh__calloc(1, sizeof(*copy));
	if (!copy)
		return MESH_ENOMEM;
	copy->refs = 1;
	const struct mesh__reg_epset *from = s->eps;
	if (from && from->n) {
		copy->v = mesh__malloc(from->n * sizeof(*copy->v));
		if (!copy->v)
			goto fail;
		copy->cap = from->n;
		for (; copy->n < from->n; copy->n++) {
			const struct mesh__reg_endpoint *e = &from->v[copy->n];
			if (mesh__reg_endpoint_copy(&copy->v[copy->n], e, e->port, e->service_port))
				goto fail;
		}
	}
	mesh__epset_unref(s->eps);
	s->eps = copy;
	return 0;
fail:
	epset_free(copy);
	return MESH_ENOMEM;
}

/* ---- whole registries ---- */

static struct mesh_service *service_clone(const struct mesh_service *src)
{
	struct mesh_service *s =
		mesh__service_new(src->host, src->ns, src->resolution, src->location);
	if (!s)
		return NULL;
	if (src->nports) {
		s->ports = mesh__calloc(src->nports, sizeof(*s->ports));
		if (!s->ports)
			goto fail;
		s->capports = src->nports;
		for (; s->nports < src->nports; s->nports++) {
			s->ports[s->nports] = src->ports[s->nports];
			s->ports[s->nports].name = mesh__strdup(src->ports[s->nports].name);
			if (!s->ports[s->nports].name)
				goto fail;
		}
	}
	for (size_t i = 0; i < src->naddresses; i++)
		if (mesh__service_add_address(s, src->addresses[i]))
			goto fail;
	for (size_t i = 0; i < src->nsans; i++)
		if (mesh__service_add_san(s, src->sans[i]))
			goto fail;
	s->mark = src->mark;
	s->eps = src->eps;
	if (s->eps)
		s->eps->refs++;
	return s;
fail:
	mesh__service_free(s);
	return NULL;
}

static size_t *table_dup(const size_t *tab, size_t cap)
{
	size_t *d = mesh__malloc(cap * sizeof(*d));
	if (d)
		memcpy(d, tab, cap * sizeof(*d));
	return d;
}

int mesh__registry_clone(const mesh_registry *src, mesh_registry **out)
{
	mesh_registry *reg;
	int rc = mesh_registry_new(&reg);
	if (rc)
		return rc;
	reg->version = src->version;
	reg->nwild = src->nwild;
	reg->star = src->star;
	reg->marks = src->marks;
	if (src->n) {
		reg->svcs = mesh__calloc(src->n, sizeof(*reg->svcs));
		if (!reg->svcs)
			goto fail;
		reg->cap = src->n;
		for (; reg->n < src->n; reg->n++)
			if (!(reg->svcs[reg->n] = service_clone(src->svcs[reg->n])))
				goto fail;
	}
	if (src->exact_cap) {
		if (!(reg->exact = table_dup(src->exact, src->exact_cap)))
			goto fail;
		reg->exact_cap = src->exact_cap;
	}
	if (src->wild_cap) {
		if (!(reg->wild = table_dup(src->wild, src->wild_cap)))
			goto fail;
		reg->wild_cap = src->wild_cap;
	}
	*out = reg;
	return 0;
fail:
	mesh_registry_free(reg);
	return MESH_ENOMEM;
}

void mesh__registry_swap(mesh_registry *a, mesh_registry *b)
{
	mesh_registry t = *a;
	*a = *b;
	*b = t;
}
