/*
 * mesh/route.h - compiled routing: where a request goes, and how.
 *
 * A mesh_router holds the route tables of one workload (namespace +
 * labels), compiled from a config snapshot and a registry: virtual hosts
 * looked up by hash, ordered routes with precompiled matchers (PCRE2 JIT),
 * and the clusters (host, subset, port) routes point at.
 *
 * Thread rules: a router is immutable once built and may be used by any
 * number of threads at once; share it with mesh_router_ref(). Each thread
 * that routes needs its own mesh_route_scratch (regex match data), so that
 * routing allocates nothing and takes no lock.
 */
#ifndef MESH_ROUTE_H
#define MESH_ROUTE_H

#include <stdint.h>
#include <mesh/core.h>
#include <mesh/config.h>
#include <mesh/registry.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mesh_router mesh_router;
/** One compiled route (rule + action). Borrowed from its router. */
typedef struct mesh_route mesh_route;
/** One upstream cluster (host, subset, port, policy). Borrowed from its router. */
typedef struct mesh_cluster mesh_cluster;
/** Per-thread scratch space for routing. */
typedef struct mesh_route_scratch mesh_route_scratch;

/**
 * A workload: who is routing (the router's owner) or who sent a request.
 * @since 0.1
 */
struct mesh_workload {
	size_t struct_size;         /**< sizeof(struct mesh_workload) */
	const char *namespace_name; /**< NULL: "default" */
	const char *name;           /**< may be NULL */
	const char *const *labels;  /**< "key", "value", ..., NULL; or NULL */
};

/** One request header. Names are matched case-insensitively. @since 0.1 */
struct mesh_header {
	const char *name;
	const char *value;
};

/**
 * The parts of a request that routing reads. All strings NUL-terminated and
 * borrowed for the call only. @since 0.1
 */
struct mesh_request {
	size_t struct_size;    /**< sizeof(struct mesh_request) */
	const char *method;    /**< "GET"; NULL reads as "GET" */
	const char *scheme;    /**< "http"; NULL reads as "http" */
	const char *authority; /**< Host / :authority, port allowed ("reviews:9080") */
	const char *path;      /**< path with query ("/a?b=c"); NULL reads as "/" */
	const struct mesh_header *headers;
	size_t nheaders;
	unsigned port;       /**< destination port, 0 when unknown */
	const char *gateway; /**< gateway "ns/name" the request came through; NULL: sidecar */
	const struct mesh_workload *source; /**< NULL: the router's own workload */
};

/** What a route does. */
enum mesh_route_action {
	MESH_ACTION_FORWARD = 0, /**< to weighted destinations */
	MESH_ACTION_REDIRECT = 1,
	MESH_ACTION_DIRECT_RESPONSE = 2,
};

/**
 * mesh_router_new - compile the route tables that @wl sees.
 * @cfg: the config snapshot (a reference is taken).
 * @reg: services and endpoints; may be NULL (clusters then have none).
 * @wl: the workload; NULL means namespace "default" without labels.
 * @diag: optional; conflicts (two VirtualServices for one host ...) are
 *        reported as warnings.
 * Returns 0, MESH_ENOMEM, or MESH_ECONFIG when a rule cannot be compiled.
 * @since 0.1
 */
MESH_API int mesh_router_new(mesh_config *cfg, const mesh_registry *reg,
                             const struct mesh_workload *wl, mesh_router **out, mesh_diag *diag);
/** mesh_router_ref / _unref - share a router; the last unref frees it. @since 0.1 */
MESH_API mesh_router *mesh_router_ref(mesh_router *r);
MESH_API void mesh_router_unref(mesh_router *r);

/** mesh_route_scratch_new / _free - per-thread routing scratch. @since 0.1 */
MESH_API int mesh_route_scratch_new(mesh_route_scratch **out);
MESH_API void mesh_route_scratch_free(mesh_route_scratch *s);

/**
 * mesh_router_route - the route for @req: the first route that matches, of
 * the virtual host that serves req->authority. Allocates nothing.
 * Returns 0 with *out set, or MESH_ENOTFOUND (no host or no route: Envoy's
 * NR, a 404 at the proxy).
 * @since 0.1
 */
MESH_API int mesh_router_route(const mesh_router *r, const struct mesh_request *req,
                               mesh_route_scratch *s, const mesh_route **out);

/**
 * A TCP or TLS connection to route (VirtualService tcp / tls routes,
 * RouteRule-free). @since 0.1
 */
struct mesh_connection {
	size_t struct_size;                 /**< sizeof(struct mesh_connection) */
	const char *host;                   /**< the service it is for; NULL: use @sni */
	const char *sni;                    /**< TLS server name, NULL for plain TCP */
	unsigned port;                      /**< destination port, 0 when unknown */
	const char *gateway;                /**< as in struct mesh_request */
	const struct mesh_workload *source; /**< NULL: the router's own workload */
};

/**
 * mesh_router_route_connection - the route for a connection: with an SNI,
 * the first tls route whose sniHosts cover it; then the first tcp route
 * that matches; then the service's default route. Allocates nothing.
 * Returns 0 with *out set, or MESH_ENOTFOUND.
 * @since 0.1
 */
MESH_API int mesh_router_route_connection(const mesh_router *r, const struct mesh_connection *c,
                                          const mesh_route **out);

/** Flags for mesh_router_explain(). */
enum mesh_explain_flag {
	MESH_EXPLAIN_ALL = 1u << 0,  /**< also say why each earlier route did not match */
	MESH_EXPLAIN_JSON = 1u << 1, /**< JSON instead of text */
};

/**
 * mesh_router_explain - a readable account of routing @req: the virtual
 * host, the route that matched (kind/namespace/name and file:line), its
 * destinations with weights, and its whole action. Not for the hot path.
 * Returns a string to free with mesh_free(), or NULL when out of memory.
 * @since 0.1
 */
MESH_API char *mesh_router_explain(const mesh_router *r, const struct mesh_request *req,
                                   unsigned flags);

/* ---- route accessors (borrowed strings live as long as the router) ---- */

/** The rule this route came from: kind name, namespace, name, file, line. @since 0.1 */
MESH_API const char *mesh_route_rule_kind(const mesh_route *rt);
MESH_API const char *mesh_route_rule_namespace(const mesh_route *rt);
MESH_API const char *mesh_route_rule_name(const mesh_route *rt);
MESH_API const char *mesh_route_rule_file(const mesh_route *rt);
MESH_API unsigned mesh_route_rule_line(const mesh_route *rt);
/** Route name (HTTPRoute.name) or NULL. @since 0.1 */
MESH_API const char *mesh_route_name(const mesh_route *rt);
/** enum mesh_route_action. @since 0.1 */
MESH_API int mesh_route_action(const mesh_route *rt);

/** Weighted destinations of a MESH_ACTION_FORWARD route. @since 0.1 */
MESH_API size_t mesh_route_destination_count(const mesh_route *rt);
MESH_API const mesh_cluster *mesh_route_destination(const mesh_route *rt, size_t i,
                                                    unsigned *weight);
/**
 * mesh_route_pick - choose a destination by weight from a uniform random
 * 32-bit value @rnd. Returns its index (0 when there is one).
 * @since 0.1
 */
MESH_API size_t mesh_route_pick(const mesh_route *rt, uint32_t rnd);

/** Request timeout in milliseconds; 0 when none (Istio's default). @since 0.1 */
MESH_API int64_t mesh_route_timeout_ms(const mesh_route *rt);

/** Retry policy of a route. @since 0.1 */
struct mesh_retry_policy {
	size_t struct_size;
	unsigned attempts;          /**< retries after the first try; 0: none */
	int64_t per_try_timeout_ms; /**< 0: the route timeout */
	const char *retry_on;       /**< Envoy retry-on list, e.g. "connect-failure,5xx" */
};
/** mesh_route_get_retry - fill @out; returns 0. @since 0.1 */
MESH_API int mesh_route_get_retry(const mesh_route *rt, struct mesh_retry_policy *out);

/** Fault injection of a route. @since 0.1 */
struct mesh_fault {
	size_t struct_size;
	double delay_percent; /**< 0..100 */
	int64_t delay_ms;
	double abort_percent;  /**< 0..100 */
	int abort_http_status; /**< 0 when no HTTP abort */
	int abort_grpc_status; /**< -1 when no gRPC abort */
};
/** mesh_route_get_fault - fill @out; returns 0, or MESH_ENOTFOUND with no fault. @since 0.1 */
MESH_API int mesh_route_get_fault(const mesh_route *rt, struct mesh_fault *out);

/** Mirrors: cluster and percentage (0..100). @since 0.1 */
MESH_API size_t mesh_route_mirror_count(const mesh_route *rt);
MESH_API const mesh_cluster *mesh_route_mirror(const mesh_route *rt, size_t i, double *percent);

/** Redirect of a MESH_ACTION_REDIRECT route (NULL parts are kept). @since 0.1 */
struct mesh_redirect {
	size_t struct_size;
	const char *uri, *authority, *scheme;
	unsigned port; /**< 0: keep */
	int code;      /**< 301 default */
};
MESH_API int mesh_route_get_redirect(const mesh_route *rt, struct mesh_redirect *out);

/** Direct response: status and body (NULL for none). @since 0.1 */
MESH_API int mesh_route_get_direct_response(const mesh_route *rt, int *status, const char **body);

/** Rewrite: new path prefix and authority (NULL: keep). @since 0.1 */
MESH_API int mesh_route_get_rewrite(const mesh_route *rt, const char **uri, const char **authority);

/** Header operations, in order. @since 0.1 */
enum mesh_header_op { MESH_HDR_SET = 0, MESH_HDR_ADD = 1, MESH_HDR_REMOVE = 2 };
enum mesh_header_dir { MESH_HDR_REQUEST = 0, MESH_HDR_RESPONSE = 1 };
MESH_API size_t mesh_route_header_op_count(const mesh_route *rt);
MESH_API int mesh_route_header_op(const mesh_route *rt, size_t i, int *dir, int *op,
                                  const char **name, const char **value);

/** CORS policy of a route (corsPolicy). Lists are comma-joined. @since 0.1 */
struct mesh_cors {
	size_t struct_size;
	const char *allow_methods;  /**< or NULL */
	const char *allow_headers;  /**< or NULL */
	const char *expose_headers; /**< or NULL */
	int64_t max_age_s;          /**< -1: not set */
	int allow_credentials;      /**< -1 unset, 0 false, 1 true */
};
/** mesh_route_get_cors - fill @out; MESH_ENOTFOUND when the route has no CORS policy. @since 0.1 */
MESH_API int mesh_route_get_cors(const mesh_route *rt, struct mesh_cors *out);
/**
 * mesh_route_cors_origin_allowed - whether @origin is allowed by the route's
 * allowOrigins (exact / prefix / regex) or legacy allowOrigin list ("*"
 * allows all). Returns 1 or 0. @s as for mesh_router_route().
 * @since 0.1
 */
MESH_API int mesh_route_cors_origin_allowed(const mesh_route *rt, const char *origin,
                                            mesh_route_scratch *s);

/* ---- clusters ---- */

/** Envoy-style name "outbound|9080|v1|reviews.default.svc.cluster.local". @since 0.1 */
MESH_API const char *mesh_cluster_name(const mesh_cluster *c);
MESH_API const char *mesh_cluster_host(const mesh_cluster *c);
/** Subset name, or NULL. For RouteRule label routes, "version=v1" style. */
MESH_API const char *mesh_cluster_subset(const mesh_cluster *c);
MESH_API unsigned mesh_cluster_port(const mesh_cluster *c);
MESH_API size_t mesh_cluster_endpoint_count(const mesh_cluster *c);
MESH_API int mesh_cluster_endpoint(const mesh_cluster *c, size_t i, struct mesh_endpoint_info *out);

/** Number of clusters and the @i-th one (for admin output). @since 0.1 */
MESH_API size_t mesh_router_cluster_count(const mesh_router *r);
MESH_API const mesh_cluster *mesh_router_cluster_at(const mesh_router *r, size_t i);

#ifdef __cplusplus
}
#endif
#endif
