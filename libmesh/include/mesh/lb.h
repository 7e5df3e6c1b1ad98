/*
 * mesh/lb.h - picking an endpoint of a cluster, and keeping the books that
 * outlier detection and circuit breakers need.
 *
 * A cluster's policy (ROUND_ROBIN, LEAST_REQUEST, RANDOM, consistent hash
 * by ring or Maglev, connection pool limits, outlier detection) comes from
 * DestinationRules when the router is built. The mutable state — counters,
 * ejections, round-robin positions — lives in a mesh_balancer, which belongs
 * to one thread (one event loop): no locks, no allocation when picking.
 * Time is passed in by the caller (milliseconds of a monotonic clock), so
 * tests can drive it.
 */
#ifndef MESH_LB_H
#define MESH_LB_H

#include <stdint.h>
#include <mesh/core.h>
#include <mesh/route.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mesh_balancer mesh_balancer;

/** Load-balancing policies (DestinationRule loadBalancer). */
enum mesh_lb_policy {
	MESH_LB_ROUND_ROBIN = 0,
	MESH_LB_LEAST_REQUEST = 1, /**< power of two choices */
	MESH_LB_RANDOM = 2,
	MESH_LB_PASSTHROUGH = 3, /**< the original destination */
	MESH_LB_RING_HASH = 4,
	MESH_LB_MAGLEV = 5,
};

/** Outcome of one attempt, for outlier detection. */
enum mesh_outcome {
	MESH_OUTCOME_SUCCESS = 0,
	MESH_OUTCOME_HTTP_5XX = 1,      /**< 500..599 other than the gateway errors */
	MESH_OUTCOME_GATEWAY_ERROR = 2, /**< 502, 503, 504 */
	MESH_OUTCOME_LOCAL_FAILURE = 3, /**< connect failure, reset, timeout */
};

/** Circuit-breaker resources (connectionPool limits). */
enum mesh_cb_resource {
	MESH_CB_CONNECTIONS = 0, /**< tcp.maxConnections */
	MESH_CB_PENDING = 1,     /**< http.http1MaxPendingRequests */
	MESH_CB_REQUESTS = 2,    /**< http.http2MaxRequests */
	MESH_CB_RETRIES = 3,     /**< http.maxRetries */
};

/**
 * mesh_balancer_new - per-thread state for every cluster of @r (a
 * reference to @r is taken). Outlier ejections, active-request counts and
 * circuit-breaker counts are this balancer's own: with N workers, a limit
 * applies per worker. Returns 0, MESH_EINVAL or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_balancer_new(mesh_router *r, mesh_balancer **out);
/** mesh_balancer_free - NULL is a no-op. @since 0.1 */
MESH_API void mesh_balancer_free(mesh_balancer *b);

/** mesh_balancer_seed - seed the balancer's random numbers (tests). @since 0.1 */
MESH_API void mesh_balancer_seed(mesh_balancer *b, uint64_t seed);

/**
 * mesh_balancer_pick - choose a healthy, not ejected endpoint of @c.
 * @hash: for consistent-hash policies, the request's hash key (see
 *        mesh_balancer_hash_request()); 0 means no key: a random endpoint,
 *        as Envoy does. Ignored by the other policies.
 * @now_ms: the caller's monotonic clock.
 * Returns the endpoint index (>= 0), or MESH_ENOTFOUND when the cluster has
 * no usable endpoint (Envoy's UH, a 503), or MESH_EINVAL when @c is not a
 * cluster of @b's router. A MESH_LB_PASSTHROUGH cluster always gives
 * MESH_ENOTFOUND: forward to the request's original destination instead.
 * Allocates nothing, takes no lock, makes no system call.
 * @since 0.1
 */
MESH_API int mesh_balancer_pick(mesh_balancer *b, const mesh_cluster *c, uint64_t hash,
                                uint64_t now_ms);

/**
 * mesh_balancer_hash_request - the hash key of @req under @c's
 * consistentHash policy (header, cookie, query parameter or source IP given
 * as @source_ip); 0 when the policy names nothing present.
 * @since 0.1
 */
MESH_API uint64_t mesh_balancer_hash_request(const mesh_cluster *c, const struct mesh_request *req,
                                             const char *source_ip);

/** mesh_balancer_begin / _end - an attempt to endpoint @ep started / ended
 * (least-request counts). @since 0.1 */
MESH_API void mesh_balancer_begin(mesh_balancer *b, const mesh_cluster *c, int ep);
MESH_API void mesh_balancer_end(mesh_balancer *b, const mesh_cluster *c, int ep, int outcome,
                                uint64_t now_ms);

/** mesh_balancer_is_ejected - whether outlier detection has @ep out now. @since 0.1 */
MESH_API int mesh_balancer_is_ejected(const mesh_balancer *b, const mesh_cluster *c, int ep,
                                      uint64_t now_ms);

/**
 * mesh_balancer_acquire - take one unit of a circuit-breaker resource of
 * @c. Returns 0, or MESH_ELIMIT when the limit is reached (Envoy's UO
 * overflow: answer 503 without trying), or MESH_EINVAL for an unknown
 * cluster or resource. Pair each success with _release.
 * @since 0.1
 */
MESH_API int mesh_balancer_acquire(mesh_balancer *b, const mesh_cluster *c, int resource);
MESH_API void mesh_balancer_release(mesh_balancer *b, const mesh_cluster *c, int resource);

/** mesh_cluster_lb_policy - enum mesh_lb_policy of a cluster. @since 0.1 */
MESH_API int mesh_cluster_lb_policy(const mesh_cluster *c);

#ifdef __cplusplus
}
#endif
#endif
