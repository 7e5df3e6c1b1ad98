/*
 * cluster.h - the layout of a cluster (host, subset, port, endpoints and
 * policy), shared by the route compiler (which builds clusters) and the
 * load balancer (which picks among their endpoints).
 */
#ifndef MESH_SRC_LB_CLUSTER_H
#define MESH_SRC_LB_CLUSTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <mesh/lb.h>
#include <mesh/route.h>

#include "../config/node.h"

/* What a consistent hash reads from a request. */
enum mesh__hash_on {
	MESH_HASH_NONE = 0,
	MESH_HASH_HEADER,
	MESH_HASH_COOKIE,
	MESH_HASH_SOURCE_IP,
	MESH_HASH_QUERY,
};

/* connectionPool.http.h2UpgradePolicy */
enum mesh__h2_upgrade {
	MESH_H2_UPGRADE_DEFAULT = 0,
	MESH_H2_UPGRADE_DO_NOT_UPGRADE,
	MESH_H2_UPGRADE_UPGRADE,
};

/* DestinationRule trafficPolicy, resolved for one cluster (top level,
 * overridden by the port-level settings, then by the subset's). Strings
 * point into the config's parse tree, which outlives the router. */
struct mesh__lb_settings {
	uint8_t policy;        /* enum mesh_lb_policy */
	uint8_t hash_on;       /* enum mesh__hash_on */
	const char *hash_name; /* header, cookie or query parameter name */
	uint64_t ring_size;    /* ring hash minimumRingSize (default 1024) */
	uint64_t maglev_size;  /* Maglev table size, a prime (default 65537) */
	/* connectionPool; 0 means Envoy's default (effectively 2^32-1) */
	uint32_t max_connections, max_pending, max_requests, max_retries;
	uint32_t max_requests_per_connection;
	int64_t connect_timeout_ms; /* default 10000 */
	int64_t idle_timeout_ms;    /* 0: none */
	uint8_t h2_upgrade;         /* connectionPool.http.h2UpgradePolicy: enum mesh__h2_upgrade */
	bool use_client_protocol;   /* connectionPool.http.useClientProtocol */
	int64_t max_connection_duration_ms; /* connectionPool.tcp.maxConnectionDuration; 0: none */
	/* connectionPool.tcp.tcpKeepalive: SO_KEEPALIVE on upstream sockets,
	 * with the fields set (0: the system's value) */
	bool keepalive;
	uint32_t keepalive_probes;
	int64_t keepalive_time_ms, keepalive_interval_ms;
	/* outlierDetection; enabled when any threshold is set */
	bool outlier;
	bool split_local_origin;
	uint32_t consecutive_5xx;      /* default 5 when enabled; 0 disables */
	uint32_t consecutive_gateway;  /* 0 disables */
	uint32_t consecutive_local;    /* default 5 (with split) */
	int64_t interval_ms;           /* default 10000 */
	int64_t base_ejection_ms;      /* default 30000 */
	uint32_t max_ejection_percent; /* default 10 */
	uint32_t min_health_percent;   /* default 0 */
	/* tls (ClientTLSSettings); file paths as written, NULL when unset */
	int tls_mode; /* 0 unset, 1 DISABLE, 2 SIMPLE, 3 MUTUAL, 4 ISTIO_MUTUAL */
	const char *sni;
	const char *ca_certificates, *client_certificate, *private_key;
	const char *credential_name, *ca_crl;
	const struct mesh__node *subject_alt_names; /* the list node, or NULL */
	bool insecure_skip_verify;
};

struct mesh__endpoint {
	char *address;
	uint32_t port;
	uint32_t weight;
	char **labels; /* "k", "v", ..., NULL */
	char *locality, *service_account, *network;
	/* runs a sidecar that takes Istio mTLS: the service is MESH_INTERNAL
	 * and the endpoint has a security.istio.io/tlsMode label of "istio",
	 * or no such label and a service account (Istio's rule) */
	bool mesh_workload;
	char *identity; /* "/ns/NS/sa/SA" (SPIFFE ID path) with a service account, else NULL */
};

/* Per-endpoint numbers every worker adds to (relaxed atomics), for the
 * admin page: requests, failures, and the outlier detection of each
 * worker's balancer (ejection is decided per worker, as in Envoy). */
struct mesh__ep_counters {
	_Atomic uint64_t rq_total, rq_error, ejections;
	_Atomic uint32_t rq_active;
	_Atomic uint32_t ejected_by; /* workers whose balancer has it out now */
};

/* Immutable lookup tables a policy precomputes (ring, Maglev). */
struct mesh__lb_table;

struct mesh_cluster {
	char *name; /* outbound|port|subset|host */
	char *host;
	char *subset; /* NULL: the whole service */
	uint32_t port;
	int protocol; /* enum mesh_protocol */
	size_t index; /* position among the router's clusters */
	struct mesh__lb_settings lb;
	/* the DestinationRule whose trafficPolicy applies, or NULL */
	const struct mesh_resource *dr;
	/* why automatic mTLS is off for this cluster (MeshConfig
	 * enableAutoMtls false, or a DISABLE PeerAuthentication for the
	 * service's namespace), borrowed from the config; NULL: it is on */
	const char *no_auto_mtls;
	struct mesh__endpoint *eps;
	size_t neps;
	/* the service's ServiceEntry subjectAltNames (owned copies) */
	char **sans;
	size_t nsans;
	struct mesh__lb_table *table;
	/* circuit-breaker usage, shared by every worker's balancer (Envoy's
	 * limits hold per cluster, not per thread); the one mutable part of a
	 * cluster, hence atomic */
	_Atomic uint32_t cb_used[4];
	struct mesh__ep_counters *stats; /* neps of them (mesh__cluster_prepare) */
};

/* Defaults of every setting (Envoy's where Istio leaves them). */
void mesh__lb_settings_default(struct mesh__lb_settings *s);
/* Apply a DestinationRule TrafficPolicy node (may be NULL) for @port on top
 * of @s: top-level fields, then a matching portLevelSettings entry. */
void mesh__lb_settings_apply(struct mesh__lb_settings *s, const struct mesh__node *policy,
                             uint32_t port);
/* Apply a v1alpha2 DestinationPolicy spec (loadBalancing, circuitBreaker). */
void mesh__lb_settings_apply_legacy(struct mesh__lb_settings *s, const struct mesh__node *spec);

/* Build @c->table for its policy (after eps are set). Returns 0 or
 * MESH_ENOMEM. */
int mesh__cluster_prepare(struct mesh_cluster *c);
/* Free what mesh__cluster_prepare made and the endpoints: the eps array
 * and every endpoint string are heap allocations (mesh__malloc). */
void mesh__cluster_fini(struct mesh_cluster *c);

/* How the sidecar connects to an endpoint (mesh__cluster_up_tls). */
enum mesh__up_tls {
	MESH__UP_PLAIN = 0,
	MESH__UP_SIMPLE,
	MESH__UP_MUTUAL,
	MESH__UP_ISTIO_MUTUAL,
};

/*
 * How the sidecar connects to endpoint @ep of @c (tls.c): the
 * DestinationRule's tls mode when set (DISABLE -> PLAIN, SIMPLE, MUTUAL,
 * ISTIO_MUTUAL); when unset, automatic mTLS: ISTIO_MUTUAL when the endpoint
 * is a mesh workload and c->no_auto_mtls is NULL, else PLAIN. An @ep out of
 * range counts as no mesh workload. Returns enum mesh__up_tls.
 */
int mesh__cluster_up_tls(const mesh_cluster *c, int ep);

/*
 * For ISTIO_MUTUAL: may the server whose SPIFFE ID is @peer_id (already
 * validated against the trust bundle: "spiffe://TD/ns/X/sa/Y") serve @c?
 * With DestinationRule subjectAltNames: when @peer_id equals one of them.
 * Else when it equals one of the service's ServiceEntry subjectAltNames,
 * or its path ("/ns/X/sa/Y"; the trust domain is the bundle's business) is
 * the identity of any endpoint of @c, not only the one picked, as Istio
 * lists every service account of a service. When no endpoint has an
 * identity and the service names no subjectAltNames there is nothing to
 * check against: true. False for a NULL @c or @peer_id.
 */
bool mesh__cluster_peer_ok(const mesh_cluster *c, const char *peer_id);

/* Seeded 64-bit hash (used for consistent hashing and by tests). */
uint64_t mesh__hash64(const void *data, size_t len, uint64_t seed);

#endif
