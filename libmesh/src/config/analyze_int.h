/*
 * analyze_int.h - shared state of the cross-resource checks (analyze*.c):
 * what the loaded configuration says exists (services by host, workloads
 * by label, DestinationRules by host, PeerAuthentications by namespace),
 * built once, and the helpers the checks share.
 */
#ifndef MESH_SRC_CONFIG_ANALYZE_INT_H
#define MESH_SRC_CONFIG_ANALYZE_INT_H

#include "config_int.h"

/* A multimap from string keys to pointers: entries are appended, sorted
 * once (by key, then insertion order), then looked up by binary search.
 * Grouping by sorting keeps every check O(n log n). */
struct an_kv {
	const char *key;
	const void *val;
	size_t seq;
};
struct an_map {
	struct an_kv *v;
	size_t n, cap;
};

/* A service: a ServiceEntry or a Kubernetes Service. */
struct an_service {
	const struct mesh_resource *r;
	const struct mesh__node *selector;  /* label map choosing its workloads, or NULL */
	const struct mesh__node *endpoints; /* ServiceEntry endpoints (a list), or NULL */
	const struct mesh__node *ports;     /* list of port objects, or NULL */
	const char *port_key;               /* "number" (ServiceEntry) or "port" (Service) */
	bool mesh_internal;                 /* a Kubernetes Service or MESH_INTERNAL entry */
};

/* A workload: a WorkloadEntry, a ServiceEntry endpoint or a Kubernetes
 * workload object (Deployment, Pod ...). */
struct an_workload {
	const struct mesh_resource *r;
	const char *ns;
	const struct mesh__node *labels; /* a map, or NULL */
};

struct an {
	const mesh_config *cfg;
	mesh_diag *out; /* findings, sorted into the caller's list at the end */
	struct mesh__arena arena;
	int findings;
	int err; /* MESH_ENOMEM once an allocation failed */
	const char *root_ns;
	const struct mesh_resource *mesh_cfg; /* the MeshConfig, or NULL */
	const struct mesh__node *mesh_mtls;   /* its default mTLS mode, or NULL */
	bool any_disable, any_strict;         /* some policy sets mTLS DISABLE / STRICT */
	size_t nworkloads;
	struct an_map hosts;  /* FQDN or "*.suffix" -> struct an_service */
	struct an_map wl_ns;  /* namespace -> struct an_workload */
	struct an_map wl_lbl; /* "ns\037key\037value" and "\037key\037value" -> workload */
	struct an_map drs;    /* FQDN host -> DestinationRule */
	struct an_map pas;    /* namespace -> PeerAuthentication */
};

/* Maps. Keys must outlive the map (arena or parse tree strings). */
void mesh__an_map_add(struct an *a, struct an_map *m, const char *key, const void *val);
void mesh__an_map_sort(struct an_map *m);
/* Entries with key @key (exact) or starting with @key (prefix): the first
 * one, *n set to their number (0: none, and NULL is returned). */
const struct an_kv *mesh__an_map_find(const struct an_map *m, const char *key, size_t *n);
const struct an_kv *mesh__an_map_prefix(const struct an_map *m, const char *prefix, size_t *n);

/* A copy of @fmt in the analysis arena; NULL (and a->err set) when out of
 * memory. */
char *mesh__an_printf(struct an *a, const char *fmt, ...) MESH_PRINTF(2, 3);

/* Adds one finding (a warning with @code) at @at of @r. */
void mesh__an_report(struct an *a, const struct mesh_resource *r, const struct mesh__node *at,
                     const char *path, const char *code, const char *fmt, ...) MESH_PRINTF(6, 7);

/* The FQDN of a host as written in a resource of namespace @ns: short
 * names ("reviews") become "reviews.<ns>.svc.cluster.local". */
const char *mesh__an_fqdn(struct an *a, const char *host, const char *ns);
/* The FQDN named by an IstioService (RouteRule / DestinationPolicy: name,
 * namespace, domain, service), or NULL when it names none. */
const char *mesh__an_istio_service(struct an *a, const struct mesh__node *svc, const char *ns);

/* The entries of @m (a->hosts or a->drs) for @host, an FQDN: exact, as a
 * Kubernetes short form "name.ns" / "name.ns.svc", or the most specific
 * "*.suffix" entry covering it; NULL when none. */
const struct an_kv *mesh__an_lookup(const struct an_map *m, const char *host, size_t *n);

/* True when every label of the map @sel is in the map @labels (an empty or
 * absent @sel selects everything). */
bool mesh__an_labels_match(const struct mesh__node *sel, const struct mesh__node *labels);
/* True when @sel is a map with at least one label. */
bool mesh__an_has_labels(const struct mesh__node *sel);
/* "k=v,k2=v2" in the arena (or "" when out of memory). */
const char *mesh__an_labels_str(struct an *a, const struct mesh__node *sel);

/* Workloads in namespace @ns ("" = any namespace) that may carry @sel: a
 * range of a->wl_lbl or a->wl_ns; the caller still matches each one. */
const struct an_kv *mesh__an_candidates(struct an *a, const char *ns, const struct mesh__node *sel,
                                        size_t *n);

/* Calls @fn (when not NULL) for each known workload of the services
 * @svc[0..@nsvc) whose labels include @sel, until it returns true.
 * Returns the number visited, or -1 when no workload of those services is
 * known at all (then nothing can be said about them). */
typedef bool (*mesh__an_wl_fn)(struct an *a, const struct an_workload *w, void *ctx);
long mesh__an_visit(struct an *a, const struct an_kv *svc, size_t nsvc,
                    const struct mesh__node *sel, mesh__an_wl_fn fn, void *ctx);

/* Scalar helpers. */
bool mesh__an_int(const struct mesh__node *n, int64_t *out);
bool mesh__an_is(const struct mesh__node *n, const char *s);
/* Position text of a node for messages: "file:line". */
#define AN_AT(r, n) (r)->file, (n) ? (unsigned)(n)->line : (r)->line

/* The checks, by area. */
void mesh__an_check_routes(struct an *a);  /* analyze_routes.c */
void mesh__an_check_matches(struct an *a); /* analyze_match.c */
void mesh__an_check_policy(struct an *a);  /* analyze_policy.c */

#endif
