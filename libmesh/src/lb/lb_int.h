/*
 * lb_int.h - internals of the load balancer shared by its files (lb.c,
 * balancer.c, hash.c, balancer_router.c) and by the unit tests and the
 * benchmark: the precomputed per-cluster tables and the balancer's
 * internal constructor.
 */
#ifndef MESH_SRC_LB_INT_H
#define MESH_SRC_LB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

/* Limits, as Envoy's. */
#define MESH_LB_RING_MAX (8u * 1024 * 1024) /* maximum_ring_size default */
#define MESH_LB_MAGLEV_MAX 5000011u         /* largest Maglev table Envoy accepts */
#define MESH_LB_MAX_EJECTION_MS 300000      /* max_ejection_time default (300s) */

/*
 * What mesh__cluster_prepare() precomputes for a cluster. Immutable once
 * built, so it is shared by every thread's balancer.
 */
struct mesh__lb_table {
	uint32_t n;   /* endpoints the table was built for */
	bool uniform; /* every endpoint has the same weight */
	uint32_t max_weight;
	uint64_t total_weight;
	/* weighted RANDOM: Vose alias table; keep i when a 32-bit draw is
	 * below alias_prob[i] (scaled by 2^32), else take alias[i]. */
	uint64_t *alias_prob;
	uint32_t *alias;
	/* RING_HASH: sorted hashes and their endpoints, ring_len entries */
	uint64_t *ring_hash;
	uint32_t *ring_ep;
	size_t ring_len;
	/* MAGLEV: slot -> endpoint, maglev_len (a prime) entries */
	uint32_t *maglev;
	uint32_t maglev_len;
};

/* An endpoint's weight as balancing sees it (0 reads as 1). */
static inline uint32_t mesh__ep_weight(const struct mesh__endpoint *e)
{
	return e->weight ? e->weight : 1;
}

/* Table lookups; the first endpoint index for @hash. Ring: the first entry
 * at or after @hash (wrapping); *pos receives the ring position so that a
 * caller can walk on past unusable endpoints. */
uint32_t mesh__ring_lookup(const struct mesh__lb_table *t, uint64_t hash, size_t *pos);
static inline uint32_t mesh__maglev_lookup(const struct mesh__lb_table *t, uint64_t hash)
{
	return t->maglev[hash % t->maglev_len];
}

/* Smallest prime >= @n (n >= 2). */
uint32_t mesh__next_prime(uint32_t n);

/*
 * mesh__balancer_new_for - balancer state for @n clusters, as
 * mesh_balancer_new() makes for a router. Every cluster's ->index must be
 * below @n and unique (it is where pick finds the cluster's state). No
 * reference is taken: the clusters must outlive the balancer. Returns 0,
 * MESH_EINVAL or MESH_ENOMEM.
 */
int mesh__balancer_new_for(const struct mesh_cluster *const *clusters, size_t n,
                           mesh_balancer **out);

/* Attach an owner that mesh_balancer_free() releases with @drop (the router
 * in mesh_balancer_new(); kept as a function pointer so that the balancer
 * itself does not link against src/route). */
void mesh__balancer_set_owner(mesh_balancer *b, void *owner, void (*drop)(void *));

/* Books of one endpoint, for tests and admin output. */
struct mesh__ep_stats {
	uint32_t active;      /* attempts begun and not ended */
	uint32_t ejections;   /* times ejected so far */
	uint32_t backoff;     /* current ejection time multiplier */
	bool ejected;         /* flagged (may be past its time until the next pick) */
	uint64_t eject_until; /* when flagged: the time it returns */
};
int mesh__balancer_ep_stats(const mesh_balancer *b, const struct mesh_cluster *c, int ep,
                            struct mesh__ep_stats *out);
/* Units of circuit-breaker resource @resource in use. */
uint32_t mesh__balancer_cb_used(const mesh_balancer *b, const struct mesh_cluster *c, int resource);

/* The balancer's operations, called by the public wrappers in lb.c. */
int mesh__bal_pick(mesh_balancer *b, const struct mesh_cluster *c, uint64_t hash, uint64_t now_ms);
void mesh__bal_begin(mesh_balancer *b, const struct mesh_cluster *c, int ep);
void mesh__bal_end(mesh_balancer *b, const struct mesh_cluster *c, int ep, int outcome,
                   uint64_t now_ms);
int mesh__bal_is_ejected(const mesh_balancer *b, const struct mesh_cluster *c, int ep,
                         uint64_t now_ms);
int mesh__bal_acquire(mesh_balancer *b, const struct mesh_cluster *c, int resource);
void mesh__bal_release(mesh_balancer *b, const struct mesh_cluster *c, int resource);
void mesh__bal_seed(mesh_balancer *b, uint64_t seed);
void mesh__bal_free(mesh_balancer *b);

#endif
