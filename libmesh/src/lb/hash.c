/*
 * hash.c - the immutable tables a cluster's policy precomputes: xxHash64,
 * the ring of Envoy's ring-hash balancer, the Maglev lookup table and the
 * alias table of weighted RANDOM; mesh__cluster_prepare() / _fini().
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lb_int.h"

/* ---- xxHash64 (the hash Envoy uses for ring hash and Maglev) ---- */

#define XXP1 11400714785074694791ULL
#define XXP2 14029467366897019727ULL
#define XXP3 1609587929392839161ULL
#define XXP4 9650029242287828579ULL
#define XXP5 2870177450012600261ULL

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* Little-endian loads, whatever the host order (compilers turn these into
 * single loads on little-endian machines). */
static inline uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t xx_round(uint64_t acc, uint64_t in)
{
	acc += in * XXP2;
	acc = rotl64(acc, 31);
	return acc * XXP1;
}

static inline uint64_t xx_merge(uint64_t acc, uint64_t v)
{
	acc ^= xx_round(0, v);
	return acc * XXP1 + XXP4;
}

uint64_t mesh__hash64(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data, *end = p + len;
	uint64_t h;

	if (len >= 32) {
		const uint8_t *limit = end - 32;
		uint64_t v1 = seed + XXP1 + XXP2, v2 = seed + XXP2, v3 = seed, v4 = seed - XXP1;
		do {
			v1 = xx_round(v1, rd64(p));
			v2 = xx_round(v2, rd64(p + 8));
			v3 = xx_round(v3, rd64(p + 16));
			v4 = xx_round(v4, rd64(p + 24));
			p += 32;
		} while (p <= limit);
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
		h = xx_merge(h, v1);
		h = xx_merge(h, v2);
		h = xx_merge(h, v3);
		h = xx_merge(h, v4);
	} else {
		h = seed + XXP5;
	}
	h += (uint64_t)len;
	while (p + 8 <= end) {
		h ^= xx_round(0, rd64(p));
		h = rotl64(h, 27) * XXP1 + XXP4;
		p += 8;
	}
	if (p + 4 <= end) {
		h ^= (uint64_t)rd32(p) * XXP1;
		h = rotl64(h, 23) * XXP2 + XXP3;
		p += 4;
	}
	while (p < end) {
		h ^= (uint64_t)*p * XXP5;
		h = rotl64(h, 11) * XXP1;
		p++;
	}
	h ^= h >> 33;
	h *= XXP2;
	h ^= h >> 29;
	h *= XXP3;
	h ^= h >> 32;
	return h;
}

/* ---- helpers ---- */

static bool is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; (uint64_t)d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

uint32_t mesh__next_prime(uint32_t n)
{
	if (n <= 2)
		return 2;
	while (!is_prime(n))
		n++;
	return n;
}

/* The string an endpoint is hashed by, as Envoy's address->asString():
 * "10.0.0.1:9080", "[fd00::1]:9080". Returns its length (truncated to the
 * buffer, which is plenty for any address). */
static size_t ep_key(const struct mesh_cluster *c, const struct mesh__endpoint *e, char *buf,
                     size_t cap)
{
	unsigned port = e->port ? e->port : c->port;
	const char *a = e->address ? e->address : "";
	int n = strchr(a, ':') ? snprintf(buf, cap, "[%s]:%u", a, port)
	                       : snprintf(buf, cap, "%s:%u", a, port);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

#define KEY_CAP 320

/* Endpoint indexes ordered by their hash key, so that a table does not
 * depend on the order in which the registry listed the endpoints. */
struct keyed {
	uint32_t ep;
	char key[KEY_CAP];
	size_t len;
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int r = strcmp(x->key, y->key);
	if (r)
		return r;
	return x->ep < y->ep ? -1 : x->ep > y->ep;
}

static struct keyed *sorted_keys(const struct mesh_cluster *c)
{
	struct keyed *k = mesh__calloc(c->neps, sizeof(*k));
	if (!k)
		return NULL;
	for (size_t i = 0; i < c->neps; i++) {
		k[i].ep = (uint32_t)i;
		k[i].len = ep_key(c, &c->eps[i], k[i].key, KEY_CAP);
	}
	qsort(k, c->neps, sizeof(*k), cmp_keyed);
	return k;
}

/* ---- ring hash (Envoy's RingHashLoadBalancer) ---- */

struct ring_entry {
	uint64_t hash;
	uint32_t ep;
};

static int cmp_ring(const void *a, const void *b)
{
	const struct ring_entry *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->ep < y->ep ? -1 : x->ep > y->ep;
}

static int build_ring(const struct mesh_cluster *c, struct mesh__lb_table *t)
{
	uint64_t min_ring = c->lb.ring_size ? c->lb.ring_size : 1024;
	struct keyed *k = NULL;
	struct ring_entry *ring = NULL;
	int rc = MESH_ENOMEM;

	if (min_ring > MESH_LB_RING_MAX)
		min_ring = MESH_LB_RING_MAX;
	/* Scale so that the least-weighted endpoint gets a whole number of
	 * hashes and the ring has at least min_ring entries (Envoy). */
	double min_norm = 1.0;
	for (size_t i = 0; i < c->neps; i++) {
		double w = (double)mesh__ep_weight(&c->eps[i]) / (double)t->total_weight;
		if (w < min_norm)
			min_norm = w;
	}
	double scale = ceil(min_norm * (double)min_ring) / min_norm;
	if (scale > MESH_LB_RING_MAX)
		scale = MESH_LB_RING_MAX;
	size_t cap = (size_t)ceil(scale) + c->neps;

	if (!(k = sorted_keys(c)))
		goto out;
	if (!(ring = mesh__malloc(cap * sizeof(*ring))))
		goto out;
	/* Running sums spread fractional hash counts over the endpoints. */
	double current = 0.0, target = 0.0;
	size_t len = 0;
	for (size_t j = 0; j < c->neps; j++) {
		const struct mesh__endpoint *e = &c->eps[k[j].ep];
		char buf[KEY_CAP + 24];
		memcpy(buf, k[j].key, k[j].len);
		buf[k[j].len] = '_';
		target += scale * (double)mesh__ep_weight(e) / (double)t->total_weight;
		for (uint64_t i = 0; current < target && len < cap; i++) {
			int n = snprintf(buf + k[j].len + 1, 24, "%llu", (unsigned long long)i);
			ring[len].hash = mesh__hash64(buf, k[j].len + 1 + (size_t)n, 0);
			ring[len].ep = k[j].ep;
			len++;
			current += 1.0;
		}
	}
	qsort(ring, len, sizeof(*ring), cmp_ring);
	t->ring_hash = mesh__malloc((len ? len : 1) * sizeof(uint64_t));
	t->ring_ep = mesh__malloc((len ? len : 1) * sizeof(uint32_t));
	if (!t->ring_hash || !t->ring_ep)
		goto out;
	for (size_t i = 0; i < len; i++) {
		t->ring_hash[i] = ring[i].hash;
		t->ring_ep[i] = ring[i].ep;
	}
	t->ring_len = len;
	rc = 0;
out:
	mesh__free(k);
	mesh__free(ring);
	return rc;
}

uint32_t mesh__ring_lookup(const struct mesh__lb_table *t, uint64_t hash, size_t *pos)
{
	/* First entry whose hash is >= @hash; past the end wraps to 0. A
	 * branch-free lower bound: keys are random, so the branches of the
	 * textbook search would mispredict half the time. */
	const uint64_t *h = t->ring_hash, *base = h;
	size_t len = t->ring_len;
	while (len > 1) {
		size_t half = len / 2;
		base += (size_t)(base[half - 1] < hash) * half;
		len -= half;
	}
	size_t lo = (size_t)(base - h) + (*base < hash);
	if (lo == t->ring_len)
		lo = 0;
	*pos = lo;
	return t->ring_ep[lo];
}

/* ---- Maglev (Eisenbud et al., NSDI 2016; Envoy's weighted variant) ---- */

struct maglev_entry {
	uint32_t ep;
	uint64_t offset, skip, weight, target, next;
};

static int build_maglev(const struct mesh_cluster *c, struct mesh__lb_table *t)
{
	uint64_t m = c->lb.maglev_size ? c->lb.maglev_size : 65537;
	struct keyed *k = NULL;
	struct maglev_entry *me = NULL;
	int rc = MESH_ENOMEM;

	if (m > MESH_LB_MAGLEV_MAX)
		m = MESH_LB_MAGLEV_MAX;
	m = mesh__next_prime((uint32_t)(m < 3 ? 3 : m));
	if (!(k = sorted_keys(c)) || !(me = mesh__calloc(c->neps, sizeof(*me))) ||
	    !(t->maglev = mesh__malloc(m * sizeof(uint32_t))))
		goto out;
	for (size_t j = 0; j < c->neps; j++) {
		me[j].ep = k[j].ep;
		me[j].offset = mesh__hash64(k[j].key, k[j].len, 0) % m;
		me[j].skip = mesh__hash64(k[j].key, k[j].len, 1) % (m - 1) + 1;
		me[j].weight = mesh__ep_weight(&c->eps[k[j].ep]);
	}
	for (uint64_t i = 0; i < m; i++)
		t->maglev[i] = UINT32_MAX;
	/*
	 * Endpoints take turns claiming their next preferred free slot. An
	 * endpoint of weight w takes a turn in iteration it only when
	 * it * w >= its target, and each turn raises the target by the
	 * largest weight: the heaviest endpoint claims every iteration, one of
	 * a third of its weight every third (Envoy's MaglevTable).
	 */
	uint64_t filled = 0;
	for (uint64_t it = 0; filled < m; it++) {
		for (size_t j = 0; j < c->neps && filled < m; j++) {
			struct maglev_entry *e = &me[j];
			if (it * e->weight < e->target)
				continue;
			e->target += t->max_weight;
			uint64_t slot = (e->offset + e->skip * e->next) % m;
			while (t->maglev[slot] != UINT32_MAX) {
				e->next++;
				slot = (e->offset + e->skip * e->next) % m;
			}
			t->maglev[slot] = e->ep;
			e->next++;
			filled++;
		}
	}
	t->maglev_len = (uint32_t)m;
	rc = 0;
out:
	mesh__free(k);
	mesh__free(me);
	return rc;
}

/* ---- weighted random: Vose's alias method ---- */

static int build_alias(const struct mesh_cluster *c, struct mesh__lb_table *t)
{
	size_t n = c->neps;
	uint64_t *p = mesh__malloc(n * sizeof(*p));
	uint32_t *small = mesh__malloc(n * sizeof(*small));
	uint32_t *large = mesh__malloc(n * sizeof(*large));
	size_t ns = 0, nl = 0;
	int rc = MESH_ENOMEM;
	const uint64_t total = t->total_weight;

	t->alias_prob = mesh__malloc(n * sizeof(*t->alias_prob));
	t->alias = mesh__malloc(n * sizeof(*t->alias));
	if (!p || !small || !large || !t->alias_prob || !t->alias)
		goto out;
	/* Work in units of total/n so that the average column is exactly
	 * `total`: integer arithmetic, no rounding drift. */
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint64_t)mesh__ep_weight(&c->eps[i]) * n;
		if (p[i] < total)
			small[ns++] = (uint32_t)i;
		else
			large[nl++] = (uint32_t)i;
	}
	while (ns && nl) {
		uint32_t s = small[--ns], l = large[nl - 1];
		t->alias_prob[s] = (uint64_t)((double)p[s] / (double)total * 4294967296.0);
		t->alias[s] = l;
		p[l] -= total - p[s];
		if (p[l] < total) {
			nl--;
			small[ns++] = l;
		}
	}
	while (nl) {
		uint32_t l = large[--nl];
		t->alias_prob[l] = UINT64_C(1) << 32;
		t->alias[l] = l;
	}
	while (ns) {
		uint32_t s = small[--ns];
		t->alias_prob[s] = UINT64_C(1) << 32;
		t->alias[s] = s;
	}
	rc = 0;
out:
	mesh__free(p);
	mesh__free(small);
	mesh__free(large);
	return rc;
}

/* ---- prepare / fini ---- */

static void table_free(struct mesh__lb_table *t)
{
	if (!t)
		return;
	mesh__free(t->alias_prob);
	mesh__free(t->alias);
	mesh__free(t->ring_hash);
	mesh__free(t->ring_ep);
	mesh__free(t->maglev);
	mesh__free(t);
}

int mesh__cluster_prepare(struct mesh_cluster *c)
{
	struct mesh__lb_table *t;
	int rc = 0;

	table_free(c->table);
	c->table = NULL;
	if (c->neps > UINT32_MAX - 1)
		return MESH_ELIMIT;
	mesh__free(c->stats);
	if (!(c->stats = mesh__calloc(c->neps ? c->neps : 1, sizeof(*c->stats))))
		return MESH_ENOMEM;
	if (!(t = mesh__calloc(1, sizeof(*t))))
		return MESH_ENOMEM;
	t->n = (uint32_t)c->neps;
	t->uniform = true;
	for (size_t i = 0; i < c->neps; i++) {
		uint32_t w = mesh__ep_weight(&c->eps[i]);
		t->total_weight += w;
		if (w > t->max_weight)
			t->max_weight = w;
		if (w != mesh__ep_weight(&c->eps[0]))
			t->uniform = false;
	}
	if (c->neps) {
		switch (c->lb.policy) {
		case MESH_LB_RANDOM:
			if (!t->uniform)
				rc = build_alias(c, t);
			break;
		case MESH_LB_RING_HASH: rc = build_ring(c, t); break;
		case MESH_LB_MAGLEV: rc = build_maglev(c, t); break;
		default: break;
		}
	}
	if (rc) {
		table_free(t);
		return rc;
	}
	c->table = t;
	return 0;
}

void mesh__cluster_fini(struct mesh_cluster *c)
{
	if (!c)
		return;
	table_free(c->table);
	c->table = NULL;
	for (size_t i = 0; i < c->neps; i++) {
		struct mesh__endpoint *e = &c->eps[i];
		mesh__free(e->address);
		for (char **l = e->labels; l && *l; l++)
			mesh__free(*l);
		mesh__free(e->labels);
		mesh__free(e->locality);
		mesh__free(e->service_account);
		mesh__free(e->network);
		mesh__free(e->identity);
	}
	mesh__free(c->eps);
	c->eps = NULL;
	c->neps = 0;
	for (size_t i = 0; i < c->nsans; i++)
		mesh__free(c->sans[i]);
	mesh__free(c->sans);
	c->sans = NULL;
	c->nsans = 0;
	mesh__free(c->stats);
	c->stats = NULL;
}
