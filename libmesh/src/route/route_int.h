/*
 * route_int.h - compiled route tables: virtual hosts, routes, matchers.
 * Built once per router (compile.c), read by any thread (match.c).
 */
#ifndef MESH_SRC_ROUTE_INT_H
#define MESH_SRC_ROUTE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <mesh/route.h>

#include "../config/config_int.h"
#include "../lb/cluster.h"

enum strmatch_kind { SM_ANY = 0, SM_EXACT, SM_PREFIX, SM_REGEX, SM_PRESENT };

struct strmatch {
	uint8_t kind;
	bool icase;
	const char *value; /* exact / prefix text, or the regex source */
	size_t len;
	pcre2_code *re;
};

struct hdrmatch {
	const char *name; /* lower case */
	struct strmatch m;
	bool absent; /* withoutHeaders: must not match */
};

struct match_block {
	struct strmatch uri, scheme, method, authority;
	struct hdrmatch *headers;
	size_t nheaders;
	struct hdrmatch *query; /* name: parameter name */
	size_t nquery;
	uint32_t port;                 /* 0: any */
	const char *const *src_labels; /* "k", "v", ..., NULL or NULL */
	const char *src_ns;            /* NULL: any */
	const char *src_name;          /* RouteRule match.source.name */
	const char *const *gateways;   /* NULL: "mesh" only */
	size_t ngateways;
	const char *const *sni; /* tls routes: sniHosts */
	size_t nsni;
	const struct mesh__node *node; /* for explain */
};

struct route_dest {
	const struct mesh_cluster *cluster;
	uint32_t weight;
	uint32_t cumulative; /* running sum, for picking */
};

struct header_op {
	uint8_t dir, op;
	const char *name, *value;
};

struct mirror {
	const struct mesh_cluster *cluster;
	double percent;
};

struct mesh_route {
	/* origin */
	const struct mesh_resource *rule;
	unsigned line;
	const char *name;
	/* when */
	struct match_block *matches; /* ORed; none = match everything */
	size_t nmatches;
	/* what */
	uint8_t action;
	struct route_dest *dests;
	size_t ndests;
	uint32_t total_weight;
	int64_t timeout_ms;
	struct mesh_retry_policy retry;
	bool has_fault;
	struct mesh_fault fault;
	struct mirror *mirrors;
	size_t nmirrors;
	struct mesh_redirect redirect;
	int direct_status;
	const char *direct_body;
	const char *rewrite_uri, *rewrite_authority;
	struct header_op *hops;
	size_t nhops;
	bool websocket;
	/* corsPolicy */
	bool has_cors;
	struct mesh_cors cors;
	struct strmatch *origins;
	size_t norigins;
};

struct vhost {
	const char *host;                   /* FQDN, or "*.suffix", or "*" */
	const struct mesh_resource *source; /* VirtualService, first RouteRule, or NULL */
	/* the VirtualService that routes this host for the sidecars ("mesh"),
	 * or NULL when only gateway ones do */
	const struct mesh_resource *mesh_source;
	struct mesh_route **routes;
	size_t nroutes, caproutes;
	struct mesh_route **tcp; /* tls routes first, then tcp routes */
	size_t ntcp, captcp;
	struct mesh_route *fallback; /* default route of a registry service */
};

struct vkey {
	uint64_t hash; /* compared before the key, to skip most strcmp */
	const char *key;
	size_t len;
	const struct vhost *v;
};

struct mesh_router {
	atomic_int refs;
	mesh_config *cfg;
	struct mesh__arena arena;
	const char *ns;
	const char *const *labels;
	const char *domain; /* "cluster.local" */
	struct vhost **vhosts;
	size_t nvhosts, capvhosts;
	struct vhost **index; /* build-time: open addressing on FQDNs */
	size_t index_cap;
	/* request-time: FQDNs and the short names a client in the router's
	 * namespace may use ("reviews", "reviews.ns", "reviews.ns.svc") */
	struct vkey *lookup;
	size_t lookup_cap;
	struct vhost **wild; /* wildcard vhosts, longest suffix first */
	size_t nwild;
	struct mesh_cluster **clusters;
	size_t nclusters, capclusters;
	struct mesh_cluster **ctab; /* the clusters by name: open addressing */
	size_t ctab_cap;
	pcre2_code **regexes; /* every compiled regex, to free */
	size_t nregexes, capregexes;
};

struct mesh_route_scratch {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
};

/* Why a match block failed, for explain. */
struct why {
	char text[320];
};

/* compile.c */
int mesh__router_compile(struct mesh_router *r, const mesh_registry *reg, mesh_diag *diag);
void mesh__router_release(struct mesh_router *r);
/* The cluster named @name ("outbound|PORT|SUBSET|HOST"), or NULL. */
const struct mesh_cluster *mesh__router_cluster_named(const struct mesh_router *r,
                                                      const char *name);
/* match.c */
uint64_t mesh__host_hash(const char *s, size_t n);
/* The virtual host for @authority, among those with routes for @gateway
 * ("ns/name", or NULL / "mesh" for the sidecars): its HTTP routes, or with
 * @tcp its tcp / tls routes (and the service's default route). */
const struct vhost *mesh__router_vhost(const struct mesh_router *r, const char *authority,
                                       const char *gateway, bool tcp);
/* mesh_router_route(), leaving out the routes @allow refuses (a gateway
 * server's hosts admit VirtualServices of some namespaces only). */
int mesh__router_route_filtered(const struct mesh_router *r, const struct mesh_request *req,
                                mesh_route_scratch *s,
                                bool (*allow)(const struct mesh_route *rt, void *arg), void *arg,
                                const mesh_route **out);
/* Whether match block @m applies to @gateway (NULL: "mesh"). */
bool mesh__gateway_matches(const struct match_block *m, const char *gateway);
bool mesh__route_matches(const struct mesh_router *r, const struct mesh_route *rt,
                         const struct mesh_request *req, mesh_route_scratch *s, struct why *why);
bool mesh__str_match(const struct strmatch *m, const char *s, size_t len, mesh_route_scratch *scr);
/* A tcp / tls route for a connection. */
bool mesh__conn_matches(const struct mesh_router *r, const struct mesh_route *rt,
                        const struct mesh_connection *c);

#endif
