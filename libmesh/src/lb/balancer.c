/*
 * balancer.c - the per-thread, mutable side of load balancing: round-robin
 * positions, EDF schedules, active-request counts, outlier detection and
 * circuit-breaker counters, and the pick algorithms that read them.
 *
 * Everything on the request path (pick, begin, end, acquire, release)
 * works on memory allocated when the balancer was made: no allocation, no
 * lock, no system call. Time comes from the caller.
 */
#include <string.h>
#include <time.h>

#include "../core/core.h"
#include "lb_int.h"

/* Tries at a random usable endpoint before falling back to a scan. */
#define RANDOM_TRIES 8

struct ep_state {
	uint32_t active;  /* attempts begun, not yet ended */
	uint8_t ejected;  /* outlier detection has it out */
	uint8_t returned; /* has come back at least once (uneject_at is set) */
	uint32_t cons_5xx, cons_gw, cons_local;
	uint32_t backoff;     /* ejection time multiplier */
	uint32_t ejections;   /* total, for stats */
	uint64_t eject_until; /* when ejected: the time it returns */
	uint64_t uneject_at;  /* when returned: the time it did */
};

/*
 * Earliest-deadline-first schedule (Envoy's EdfScheduler): an endpoint of
 * weight w is due every 1/w. Deadlines are fixed point (1.0 = 2^32) and
 * live in the heap nodes themselves, so that a pick walks one array with
 * branch-free child selection; equal deadlines are served in heap order
 * rather than Envoy's queueing order, which changes no proportion.
 */
struct edf_node {
	uint64_t due;
	uint32_t ep;
};

struct edf {
	struct edf_node *heap; /* binary min-heap on due */
	uint64_t *step;        /* by endpoint: 2^32 / weight */
};

/* Renormalise deadlines before they could overflow. */
#define EDF_REBASE (UINT64_C(1) << 62)
/* Cap on the active-request factor of weighted least request. */
#define EDF_MAX_FACTOR (UINT64_C(1) << 20)

struct cstate {
	const struct mesh_cluster *c;
	struct ep_state *eps;
	uint32_t n;
	uint32_t rr;       /* next position of unweighted round robin */
	uint32_t nejected; /* endpoints flagged ejected */
	uint8_t policy;
	bool outlier;
	struct edf *edf; /* weighted ROUND_ROBIN / LEAST_REQUEST */
	/* outlier bookkeeping runs when now >= next_event */
	uint64_t next_event, next_expiry, next_tick;
	uint32_t cb_used[4];
	uint32_t cb_limit[4];
};

struct mesh_balancer {
	uint64_t rng;
	struct cstate *cs;
	size_t ncs;
	void *owner;
	void (*drop)(void *);
};

/* ---- random numbers: xorshift64* seeded through splitmix64 ---- */

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t rng64(mesh_balancer *b)
{
	uint64_t x = b->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	b->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n) without division (Lemire's multiply-shift). */
static inline uint32_t rng_below(mesh_balancer *b, uint32_t n)
{
	return (uint32_t)(((rng64(b) >> 32) * (uint64_t)n) >> 32);
}

/* ---- EDF heap ---- */

static void edf_sift_down(struct edf_node *h, uint32_t n, uint32_t i)
{
	const struct edf_node x = h[i];
	for (;;) {
		uint32_t l = 2 * i + 1, m;
		if (l >= n)
			break;
		m = l + (l + 1 < n && h[l + 1].due < h[l].due);
		if (h[m].due >= x.due)
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = x;
}

static void edf_init(struct cstate *cs)
{
	struct edf *e = cs->edf;
	for (uint32_t i = 0; i < cs->n; i++) {
		e->step[i] = (UINT64_C(1) << 32) / mesh__ep_weight(&cs->c->eps[i]);
		e->heap[i].due = e->step[i];
		e->heap[i].ep = i;
	}
	for (uint32_t i = cs->n / 2; i-- > 0;)
		edf_sift_down(e->heap, cs->n, i);
}

/* Take the endpoint due first and queue it again @factor steps later. */
static inline uint32_t edf_next(struct cstate *cs, uint64_t factor)
{
	struct edf_node *h = cs->edf->heap;
	uint32_t i = h[0].ep;
	if (h[0].due >= EDF_REBASE) {
		const uint64_t base = h[0].due;
		for (uint32_t k = 0; k < cs->n; k++)
			h[k].due -= base;
	}
	h[0].due += cs->edf->step[i] * factor;
	edf_sift_down(h, cs->n, 0);
	return i;
}

/* ---- construction ---- */

static void cstate_fini(struct cstate *cs)
{
	mesh__free(cs->eps);
	if (cs->edf) {
		mesh__free(cs->edf->heap);
		mesh__free(cs->edf->step);
		mesh__free(cs->edf);
	}
}

static void cstate_reset(mesh_balancer *b, struct cstate *cs)
{
	/* workers start at different places, so they do not march in step
	 * (for EDF, as Envoy's createWithPicks: a random number of turns) */
	cs->rr = cs->n ? rng_below(b, cs->n) : 0;
	if (cs->edf) {
		edf_init(cs);
		for (uint32_t k = rng_below(b, cs->n); k > 0; k--)
			edf_next(cs, 1);
	}
}

static int cstate_init(struct cstate *cs, const struct mesh_cluster *c)
{
	const struct mesh__lb_settings *s = &c->lb;
	const uint32_t limits[4] = { s->max_connections, s->max_pending, s->max_requests,
		                     s->max_retries };
	bool uniform = c->table ? c->table->uniform : true;

	if (c->neps > UINT32_MAX - 1)
		return MESH_ELIMIT;
	cs->c = c;
	cs->n = (uint32_t)c->neps;
	cs->policy = s->policy;
	cs->outlier = s->outlier && cs->n;
	/* 0 means Istio's default: no limit (2^32-1) */
	for (int i = 0; i < 4; i++)
		cs->cb_limit[i] = limits[i] ? limits[i] : UINT32_MAX;
	/* 0 makes the first pick or end start the interval clock */
	cs->next_event = cs->outlier ? 0 : UINT64_MAX;
	cs->next_expiry = UINT64_MAX;
	cs->next_tick = 0;
	if (!cs->n)
		return 0;
	if (!(cs->eps = mesh__calloc(cs->n, sizeof(*cs->eps))))
		return MESH_ENOMEM;
	if (!uniform &&
	    (cs->policy == MESH_LB_ROUND_ROBIN || cs->policy == MESH_LB_LEAST_REQUEST)) {
		struct edf *e = mesh__calloc(1, sizeof(*e));
		if (!e)
			return MESH_ENOMEM;
		cs->edf = e;
		e->heap = mesh__malloc(cs->n * sizeof(*e->heap));
		e->step = mesh__malloc(cs->n * sizeof(*e->step));
		if (!e->heap || !e->step)
			return MESH_ENOMEM;
	}
	return 0;
}

int mesh__balancer_new_for(const struct mesh_cluster *const *clusters, size_t n,
                           mesh_balancer **out)
{
	mesh_balancer *b;
	int rc;
	struct timespec ts;

	*out = NULL;
	if (n && !clusters)
		return MESH_EINVAL;
	if (!(b = mesh__calloc(1, sizeof(*b))))
		return MESH_ENOMEM;
	if (n && !(b->cs = mesh__calloc(n, sizeof(*b->cs)))) {
		mesh__free(b);
		return MESH_ENOMEM;
	}
	b->ncs = n;
	/* a different sequence per balancer; tests call mesh_balancer_seed */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	b->rng = splitmix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
	                    (uint64_t)(uintptr_t)b) |
	         1;
	for (size_t i = 0; i < n; i++) {
		const struct mesh_cluster *c = clusters[i];
		if (!c || c->index >= n || b->cs[c->index].c) {
			rc = MESH_EINVAL;
			goto fail;
		}
		if ((rc = cstate_init(&b->cs[c->index], c)))
			goto fail;
		cstate_reset(b, &b->cs[c->index]);
	}
	*out = b;
	return 0;
fail:
	mesh__bal_free(b);
	return rc;
}

void mesh__balancer_set_owner(mesh_balancer *b, void *owner, void (*drop)(void *))
{
	b->owner = owner;
	b->drop = drop;
}

void mesh__bal_free(mesh_balancer *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->ncs; i++)
		cstate_fini(&b->cs[i]);
	mesh__free(b->cs);
	if (b->drop)
		b->drop(b->owner);
	mesh__free(b);
}

void mesh__bal_seed(mesh_balancer *b, uint64_t seed)
{
	b->rng = splitmix64(seed) | 1;
	for (size_t i = 0; i < b->ncs; i++)
		if (b->cs[i].c)
			cstate_reset(b, &b->cs[i]);
}

/* The state of @c, or NULL when @c is not one of this balancer's. */
static inline struct cstate *state_of(const mesh_balancer *b, const struct mesh_cluster *c)
{
	if (!b || !c || c->index >= b->ncs || b->cs[c->index].c != c)
		return NULL;
	return &b->cs[c->index];
}

/* ---- outlier detection ---- */

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void reset_counters(struct ep_state *e)
{
	e->cons_5xx = e->cons_gw = e->cons_local = 0;
}

/*
 * Due work: return endpoints whose ejection time is over, and on each
 * interval tick shrink the ejection multiplier of endpoints that have
 * stayed healthy for a whole interval (Envoy's max_ejection_time backoff).
 * O(endpoints), at most once per interval plus once per return.
 */
static void maintain(struct cstate *cs, uint64_t now)
{
	const struct mesh__lb_settings *s = &cs->c->lb;
	const uint64_t interval = (uint64_t)s->interval_ms;

	if (now >= cs->next_expiry) {
		uint64_t next = UINT64_MAX;
		for (uint32_t i = 0; i < cs->n; i++) {
			struct ep_state *e = &cs->eps[i];
			if (!e->ejected)
				continue;
			if (e->eject_until <= now) {
				e->ejected = 0;
				if (cs->c->stats)
					atomic_fetch_sub_explicit(&cs->c->stats[i].ejected_by, 1,
					                          memory_order_relaxed);
				e->returned = 1;
				e->uneject_at = e->eject_until;
				reset_counters(e);
				cs->nejected--;
			} else {
				next = min_u64(next, e->eject_until);
			}
		}
		cs->next_expiry = next;
	}
	if (now >= cs->next_tick) {
		if (!cs->next_tick) {
			cs->next_tick = now + interval; /* the clock starts now */
		} else {
			/* Ticks fall on first, first + interval, ...; several may
			 * have passed unseen. At each, an endpoint back for a whole
			 * interval loses one step of its multiplier. */
			const uint64_t first = cs->next_tick;
			const uint64_t ticks = (now - first) / interval + 1;
			for (uint32_t i = 0; i < cs->n; i++) {
				struct ep_state *e = &cs->eps[i];
				if (e->ejected || !e->backoff || !e->returned)
					continue;
				uint64_t from = e->uneject_at + interval, j = 0;
				if (from > first)
					j = (from - first + interval - 1) / interval;
				if (j < ticks)
					e->backoff -= (uint32_t)min_u64(e->backoff, ticks - j);
			}
			cs->next_tick = first + ticks * interval;
		}
	}
	cs->next_event = min_u64(cs->next_expiry, cs->next_tick);
}

static void eject(struct cstate *cs, uint32_t ep, uint64_t now)
{
	const struct mesh__lb_settings *s = &cs->c->lb;
	struct ep_state *e = &cs->eps[ep];
	const uint64_t base = (uint64_t)s->base_ejection_ms;
	const uint64_t max = base > MESH_LB_MAX_EJECTION_MS ? base : MESH_LB_MAX_EJECTION_MS;

	if (e->ejected)
		return;
	/* Envoy: eject while the share already out is below the cap, so one
	 * endpoint of a small cluster can go even when 1/n exceeds it. */
	if ((uint64_t)cs->nejected * 100 >= (uint64_t)s->max_ejection_percent * cs->n)
		return;
	if (base * e->backoff < max)
		e->backoff++;
	e->ejected = 1;
	e->ejections++;
	if (cs->c->stats) {
		atomic_fetch_add_explicit(&cs->c->stats[ep].ejected_by, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&cs->c->stats[ep].ejections, 1, memory_order_relaxed);
	}
	e->eject_until = now + min_u64(base * e->backoff, max);
	cs->nejected++;
	cs->next_expiry = min_u64(cs->next_expiry, e->eject_until);
	cs->next_event = min_u64(cs->next_event, cs->next_expiry);
}

static void record(struct cstate *cs, uint32_t ep, int outcome, uint64_t now)
{
	const struct mesh__lb_settings *s = &cs->c->lb;
	struct ep_state *e = &cs->eps[ep];

	if (outcome == MESH_OUTCOME_LOCAL_FAILURE) {
		if (s->split_local_origin) {
			e->cons_local++;
			if (s->consecutive_local && e->cons_local >= s->consecutive_local)
				eject(cs, ep, now);
			return;
		}
		/* unsplit, Envoy counts a connect failure as a 503 */
		outcome = MESH_OUTCOME_GATEWAY_ERROR;
	}
	e->cons_local = 0; /* a response came back: the connection worked */
	if (outcome != MESH_OUTCOME_GATEWAY_ERROR && outcome != MESH_OUTCOME_HTTP_5XX) {
		e->cons_gw = e->cons_5xx = 0;
		return;
	}
	e->cons_5xx++;
	if (outcome == MESH_OUTCOME_GATEWAY_ERROR)
		e->cons_gw++;
	else
		e->cons_gw = 0;
	/* >= rather than Envoy's ==: when the ejection cap refused one,
	 * the next error tries again */
	if ((s->consecutive_gateway && e->cons_gw >= s->consecutive_gateway) ||
	    (s->consecutive_5xx && e->cons_5xx >= s->consecutive_5xx))
		eject(cs, ep, now);
}

/* ---- picking ---- */

/* Panic (Envoy's healthy_panic_threshold = Istio's minHealthPercent):
 * with fewer healthy endpoints than the threshold, ejections are ignored. */
static inline bool ignore_ejections(const struct cstate *cs)
{
	if (!cs->nejected)
		return true;
	uint32_t mhp = cs->c->lb.min_health_percent;
	return mhp && (uint64_t)(cs->n - cs->nejected) * 100 < (uint64_t)mhp * cs->n;
}

#define USABLE(cs, all, i) ((all) || !(cs)->eps[i].ejected)

/* Some usable endpoint, uniformly at random; NOTFOUND-free because the
 * caller made sure one exists. */
static uint32_t random_usable(mesh_balancer *b, struct cstate *cs, bool all)
{
	uint32_t i;
	for (int t = 0; t < RANDOM_TRIES; t++) {
		i = rng_below(b, cs->n);
		if (USABLE(cs, all, i))
			return i;
	}
	/* mostly ejected: walk from a random place */
	i = rng_below(b, cs->n);
	while (!USABLE(cs, all, i))
		i = i + 1 < cs->n ? i + 1 : 0;
	return i;
}

static int pick_round_robin(mesh_balancer *b, struct cstate *cs, bool all)
{
	(void)b;
	if (cs->edf) {
		for (uint32_t k = 0; k < cs->n; k++) {
			uint32_t i = edf_next(cs, 1);
			if (USABLE(cs, all, i))
				return (int)i;
		}
		return MESH_ENOTFOUND;
	}
	for (uint32_t k = 0; k < cs->n; k++) {
		uint32_t i = cs->rr;
		cs->rr = i + 1 < cs->n ? i + 1 : 0;
		if (USABLE(cs, all, i))
			return (int)i;
	}
	return MESH_ENOTFOUND;
}

static int pick_least_request(mesh_balancer *b, struct cstate *cs, bool all)
{
	if (cs->edf) {
		/* unequal weights: EDF with weight / (active + 1), Envoy's
		 * active_request_bias of 1.0, so the next turn comes
		 * (active + 1) steps later */
		for (uint32_t k = 0; k < cs->n; k++) {
			uint32_t i = cs->edf->heap[0].ep;
			uint64_t f = (uint64_t)cs->eps[i].active + 1;
			edf_next(cs, f < EDF_MAX_FACTOR ? f : EDF_MAX_FACTOR);
			if (USABLE(cs, all, i))
				return (int)i;
		}
		return MESH_ENOTFOUND;
	}
	/* power of two choices: the second sample wins only when strictly
	 * less busy, as in Envoy */
	uint32_t a, c;
	if (all) {
		a = rng_below(b, cs->n);
		c = rng_below(b, cs->n);
	} else {
		a = random_usable(b, cs, all);
		c = random_usable(b, cs, all);
	}
	return (int)(cs->eps[c].active < cs->eps[a].active ? c : a);
}

static int pick_random(mesh_balancer *b, struct cstate *cs, bool all)
{
	const struct mesh__lb_table *t = cs->c->table;
	if (!t || t->uniform || !t->alias)
		return (int)random_usable(b, cs, all);
	for (int k = 0; k < RANDOM_TRIES; k++) {
		uint64_t r = rng64(b);
		uint32_t i = (uint32_t)(((r >> 32) * (uint64_t)cs->n) >> 32);
		if ((r & 0xffffffffu) >= t->alias_prob[i])
			i = t->alias[i];
		if (USABLE(cs, all, i))
			return (int)i;
	}
	/* mostly ejected: weighted draw over the usable endpoints */
	uint64_t total = 0;
	for (uint32_t i = 0; i < cs->n; i++)
		if (USABLE(cs, all, i))
			total += mesh__ep_weight(&cs->c->eps[i]);
	uint64_t r = rng64(b) % total;
	for (uint32_t i = 0; i < cs->n; i++) {
		if (!USABLE(cs, all, i))
			continue;
		uint32_t w = mesh__ep_weight(&cs->c->eps[i]);
		if (r < w)
			return (int)i;
		r -= w;
	}
	return MESH_ENOTFOUND; /* not reached */
}

static int pick_ring(mesh_balancer *b, struct cstate *cs, uint64_t hash, bool all)
{
	const struct mesh__lb_table *t = cs->c->table;
	size_t pos;
	if (!t || !t->ring_len)
		return (int)random_usable(b, cs, all);
	uint32_t i = mesh__ring_lookup(t, hash, &pos);
	if (USABLE(cs, all, i))
		return (int)i;
	/* An ejected endpoint's keys go to the next usable endpoint on the
	 * ring: what a ring rebuilt without it would answer. */
	for (size_t k = 1; k < t->ring_len; k++) {
		pos = pos + 1 < t->ring_len ? pos + 1 : 0;
		i = t->ring_ep[pos];
		if (USABLE(cs, all, i))
			return (int)i;
	}
	return MESH_ENOTFOUND;
}

static int pick_maglev(mesh_balancer *b, struct cstate *cs, uint64_t hash, bool all)
{
	const struct mesh__lb_table *t = cs->c->table;
	if (!t || !t->maglev_len)
		return (int)random_usable(b, cs, all);
	uint32_t i = mesh__maglev_lookup(t, hash);
	if (USABLE(cs, all, i))
		return (int)i;
	/* Ejected: probe further slots chosen by the key, so that one key
	 * still lands on one endpoint while the ejection lasts. */
	uint64_t h = hash;
	for (int k = 0; k < RANDOM_TRIES; k++) {
		h = splitmix64(h);
		i = mesh__maglev_lookup(t, h);
		if (USABLE(cs, all, i))
			return (int)i;
	}
	uint64_t slot = h % t->maglev_len;
	for (uint32_t k = 0; k < t->maglev_len; k++) {
		i = t->maglev[slot];
		if (USABLE(cs, all, i))
			return (int)i;
		slot = slot + 1 < t->maglev_len ? slot + 1 : 0;
	}
	return MESH_ENOTFOUND;
}

int mesh__bal_pick(mesh_balancer *b, const struct mesh_cluster *c, uint64_t hash, uint64_t now_ms)
{
	struct cstate *cs = state_of(b, c);
	bool all;

	if (!cs)
		return MESH_EINVAL;
	if (!cs->n || cs->policy == MESH_LB_PASSTHROUGH)
		return MESH_ENOTFOUND;
	if (now_ms >= cs->next_event)
		maintain(cs, now_ms);
	all = ignore_ejections(cs);
	if (!all && cs->nejected >= cs->n)
		return MESH_ENOTFOUND;
	switch (cs->policy) {
	case MESH_LB_ROUND_ROBIN: return pick_round_robin(b, cs, all);
	case MESH_LB_RANDOM: return pick_random(b, cs, all);
	case MESH_LB_RING_HASH: return pick_ring(b, cs, hash ? hash : rng64(b), all);
	case MESH_LB_MAGLEV: return pick_maglev(b, cs, hash ? hash : rng64(b), all);
	case MESH_LB_LEAST_REQUEST:
	default: return pick_least_request(b, cs, all);
	}
}

/* ---- attempts ---- */

void mesh__bal_begin(mesh_balancer *b, const struct mesh_cluster *c, int ep)
{
	struct cstate *cs = state_of(b, c);
	if (cs && ep >= 0 && (uint32_t)ep < cs->n) {
		cs->eps[ep].active++;
		if (c->stats)
			atomic_fetch_add_explicit(&c->stats[ep].rq_active, 1, memory_order_relaxed);
	}
}

void mesh__bal_end(mesh_balancer *b, const struct mesh_cluster *c, int ep, int outcome,
                   uint64_t now_ms)
{
	struct cstate *cs = state_of(b, c);
	if (!cs || ep < 0 || (uint32_t)ep >= cs->n)
		return;
	if (cs->eps[ep].active) {
		cs->eps[ep].active--;
		if (c->stats)
			atomic_fetch_sub_explicit(&c->stats[ep].rq_active, 1, memory_order_relaxed);
	}
	if (c->stats) {
		atomic_fetch_add_explicit(&c->stats[ep].rq_total, 1, memory_order_relaxed);
		if (outcome != MESH_OUTCOME_SUCCESS)
			atomic_fetch_add_explicit(&c->stats[ep].rq_error, 1, memory_order_relaxed);
	}
	if (!cs->outlier)
		return;
	if (now_ms >= cs->next_event)
		maintain(cs, now_ms);
	record(cs, (uint32_t)ep, outcome, now_ms);
}

int mesh__bal_is_ejected(const mesh_balancer *b, const struct mesh_cluster *c, int ep,
                         uint64_t now_ms)
{
	const struct cstate *cs = state_of(b, c);
	if (!cs || ep < 0 || (uint32_t)ep >= cs->n)
		return 0;
	const struct ep_state *e = &cs->eps[ep];
	return e->ejected && now_ms < e->eject_until;
}

/* ---- circuit breakers ---- */

int mesh__bal_acquire(mesh_balancer *b, const struct mesh_cluster *c, int resource)
{
	struct cstate *cs = state_of(b, c);
	if (!cs || resource < 0 || resource > MESH_CB_RETRIES)
		return MESH_EINVAL;
	_Atomic uint32_t *used = &((struct mesh_cluster *)c)->cb_used[resource];
	uint32_t cur = atomic_load_explicit(used, memory_order_relaxed);
	do {
		if (cur >= cs->cb_limit[resource])
			return MESH_ELIMIT;
	} while (!atomic_compare_exchange_weak_explicit(used, &cur, cur + 1, memory_order_relaxed,
	                                                memory_order_relaxed));
	cs->cb_used[resource]++; /* this worker's share, for introspection */
	return 0;
}

void mesh__bal_release(mesh_balancer *b, const struct mesh_cluster *c, int resource)
{
	struct cstate *cs = state_of(b, c);
	if (cs && resource >= 0 && resource <= MESH_CB_RETRIES && cs->cb_used[resource]) {
		cs->cb_used[resource]--;
		atomic_fetch_sub_explicit(&((struct mesh_cluster *)c)->cb_used[resource], 1,
		                          memory_order_relaxed);
	}
}

/* ---- introspection ---- */

int mesh__balancer_ep_stats(const mesh_balancer *b, const struct mesh_cluster *c, int ep,
                            struct mesh__ep_stats *out)
{
	const struct cstate *cs = state_of(b, c);
	if (!cs || ep < 0 || (uint32_t)ep >= cs->n)
		return MESH_EINVAL;
	const struct ep_state *e = &cs->eps[ep];
	out->active = e->active;
	out->ejections = e->ejections;
	out->backoff = e->backoff;
	out->ejected = e->ejected;
	out->eject_until = e->ejected ? e->eject_until : 0;
	return 0;
}

uint32_t mesh__balancer_cb_used(const mesh_balancer *b, const struct mesh_cluster *c, int resource)
{
	const struct cstate *cs = state_of(b, c);
	if (!cs || resource < 0 || resource > MESH_CB_RETRIES)
		return 0;
	return cs->cb_used[resource];
}
