/*
 * registry.h - the layout of the service registry, for the modules that
 * read it (the route compiler builds clusters from it), and the internal
 * helpers shared by the files of src/registry/.
 *
 *   registry.c  public entry points (mesh_registry_*, mesh_service_*,
 *               mesh_protocol_from_name) and the ServiceEntry enum names
 *   store.c     services, the host tables, endpoint sets, cloning
 *   load.c      ServiceEntry / WorkloadEntry -> services and endpoints
 */
#ifndef MESH_SRC_REGISTRY_H
#define MESH_SRC_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include <mesh/registry.h>

#include "../core/core.h"

/*
 * One endpoint. All its strings live in one allocation (@mem), so that an
 * endpoint is made, copied and freed with one call each.
 * Identity (for replacement) is (address, port, service_port).
 */
struct mesh__reg_endpoint {
	const char *address;
	uint32_t port;             /* 0: the service port (its targetPort when set) */
	uint32_t service_port;     /* the service port it serves; 0: every port */
	uint32_t weight;           /* >= 1 */
	const char *const *labels; /* "k", "v", ..., NULL; NULL when none */
	size_t nlabels;            /* pairs */
	const char *locality, *service_account, *network; /* or NULL */
	const char *ns; /* the workload's namespace, or NULL: the service's */
	void *mem;
};

/*
 * The endpoints of one or more services. The hosts of one ServiceEntry
 * share one set (refs > 1); any change goes to a private copy first
 * (mesh__service_own_endpoints), so a change to one host never shows in
 * another, and a clone of the registry costs no endpoint copies.
 */
struct mesh__reg_epset {
	size_t refs;
	struct mesh__reg_endpoint *v;
	size_t n, cap;
	/* open addressing over v by identity: position + 1, 0 = empty; built
	 * lazily (NULL after a removal), load factor at most 1/2 */
	size_t *index;
	size_t index_cap;
};

struct mesh__reg_port {
	uint32_t number;
	uint32_t target; /* ServiceEntry targetPort; 0: none */
	int protocol;    /* enum mesh_protocol */
	char *name;      /* never NULL; "" when unnamed */
};

struct mesh_service {
	char *host; /* lower case; "*.suffix" or "*" for wildcards */
	size_t host_len;
	char *ns;
	int resolution; /* enum mesh_resolution */
	int location;   /* enum mesh_location */
	struct mesh__reg_port *ports;
	size_t nports, capports;
	char **addresses;
	size_t naddresses, capaddresses;
	char **sans; /* ServiceEntry subjectAltNames: identities its servers may have */
	size_t nsans, capsans;
	struct mesh__reg_epset *eps; /* NULL: no endpoints */
	uint64_t mark;               /* scratch for load.c: the last ServiceEntry that touched it */
};

struct mesh_registry {
	uint64_t version;
	struct mesh_service **svcs; /* insertion order */
	size_t n, cap;
	/* open addressing, position in svcs + 1 (0 = empty), load <= 1/2:
	 * exact by host; wild by the ".suffix" of "*.suffix" hosts */
	size_t *exact, *wild;
	size_t exact_cap, wild_cap;
	size_t nwild;   /* entries of wild */
	size_t star;    /* position + 1 of the service "*", or 0 */
	uint64_t marks; /* last mark handed out by load.c */
};

/* ---- store.c ---- */

/* Hash of @len bytes of @s, case-insensitive (hosts are DNS names). */
uint64_t mesh__registry_hash(const char *s, size_t len);

/* The service with exactly this host (case-insensitive, @len bytes, no
 * trailing dot), or NULL. */
struct mesh_service *mesh__registry_exact(const mesh_registry *reg, const char *host, size_t len);
/* The service of the longest "*.suffix" (or "*") covering @host, or NULL. */
struct mesh_service *mesh__registry_wildcard(const mesh_registry *reg, const char *host,
                                             size_t len);

/* True when @host is a name the registry accepts: not empty, no blanks or
 * control characters, and '*' only as "*" or a leading "*." label. */
bool mesh__registry_host_ok(const char *host);

/* A new service (not yet in a registry) with a lower-cased copy of @host.
 * Returns NULL when out of memory. */
struct mesh_service *mesh__service_new(const char *host, const char *ns, int resolution,
                                       int location);
void mesh__service_free(struct mesh_service *s);

/* Add @s (from mesh__service_new, host not present yet) to @reg. On
 * failure (MESH_ENOMEM) @reg is unchanged and @s still the caller's. */
int mesh__registry_insert(mesh_registry *reg, struct mesh_service *s);

/* Add the port @number or, when present, update it if @replace (else keep
 * it). *changed (may be NULL) tells whether anything changed; *conflict
 * (may be NULL) whether the existing port differs in name or protocol.
 * Returns 0 or MESH_ENOMEM (then @s is unchanged). */
int mesh__service_add_port(struct mesh_service *s, uint32_t number, const char *name, int protocol,
                           uint32_t target, bool replace, bool *changed, bool *conflict);
/* The port @number of @s, or NULL. */
const struct mesh__reg_port *mesh__service_find_port(const struct mesh_service *s, uint32_t number);
/* Add an address unless present. Returns 0 or MESH_ENOMEM. */
int mesh__service_add_address(struct mesh_service *s, const char *addr);
/* Add a subjectAltName unless present. Returns 0 or MESH_ENOMEM. */
int mesh__service_add_san(struct mesh_service *s, const char *san);

/* Make @s the only owner of its endpoint set (copying it when shared, or
 * creating an empty one). Returns 0 or MESH_ENOMEM (then @s is unchanged). */
int mesh__service_own_endpoints(struct mesh_service *s);

/* Build an endpoint: every string is copied into one block. @labels holds
 * @nlabels pairs (key, value, key, value ...). Returns 0 or MESH_ENOMEM. */
int mesh__reg_endpoint_make(struct mesh__reg_endpoint *ep, const char *address, uint32_t port,
                            uint32_t service_port, uint32_t weight, const char *const *labels,
                            size_t nlabels, const char *locality, const char *service_account,
                            const char *network, const char *ns);
/* A copy of @src with other ports. Returns 0 or MESH_ENOMEM. */
int mesh__reg_endpoint_copy(struct mesh__reg_endpoint *dst, const struct mesh__reg_endpoint *src,
                            uint32_t port, uint32_t service_port);
void mesh__reg_endpoint_fini(struct mesh__reg_endpoint *ep);

/* Put @ep into @set (which the caller owns alone: refs <= 1), replacing the
 * endpoint of the same identity. On success the set owns @ep's memory; on
 * MESH_ENOMEM nothing changed and @ep is still the caller's. */
int mesh__epset_put(struct mesh__reg_epset *set, struct mesh__reg_endpoint *ep);
/* Remove every endpoint @address:@port (any service port) from @set (owned
 * alone by the caller), keeping the order of the others. Returns how many
 * were removed. */
size_t mesh__epset_remove(struct mesh__reg_epset *set, const char *address, uint32_t port);
/* Position of the endpoint with this identity, or -1. */
long mesh__epset_find(const struct mesh__reg_epset *set, const char *address, uint32_t port,
                      uint32_t service_port);
/* Drop one reference; the last frees the set. NULL is a no-op. */
void mesh__epset_unref(struct mesh__reg_epset *set);

/* A deep copy of @src's services (endpoint sets are shared, see above).
 * Returns 0 or MESH_ENOMEM. */
int mesh__registry_clone(const mesh_registry *src, mesh_registry **out);
/* Exchange the contents of two registries. */
void mesh__registry_swap(mesh_registry *a, mesh_registry *b);

/* ---- helpers for readers (the route compiler) ---- */

/* True when @ep serves the service port @port. */
static inline bool mesh__reg_endpoint_serves(const struct mesh__reg_endpoint *ep, uint32_t port)
{
	return ep->service_port == 0 || ep->service_port == port;
}

/* The port to connect to when @ep serves the service port @p: its own port,
 * else the port's targetPort, else the service port. */
static inline uint32_t mesh__reg_endpoint_port(const struct mesh__reg_endpoint *ep,
                                               const struct mesh__reg_port *p)
{
	return ep->port ? ep->port : p->target ? p->target : p->number;
}

/* ---- load.c ---- */

/* Add the services of every ServiceEntry of @cfg to @reg (a private clone:
 * on failure the caller drops it). *changed tells whether anything was
 * added. Returns 0 or MESH_ENOMEM. */
int mesh__registry_load(mesh_registry *reg, const mesh_config *cfg, mesh_diag *diag, bool *changed);

/* ---- registry.c ---- */

/* The protocol of a service port: @protocol when set, else by @name as
 * Istio selects it by port name ("http-web"); with neither, TCP for the
 * well-known server-first ports (25, 53, 3306, 27017), which Istio never
 * sniffs. */
int mesh__port_protocol(const char *protocol, const char *name, unsigned number);

/* ServiceEntry resolution and location names (case-insensitive); -1 when
 * unknown. */
int mesh__resolution_from_name(const char *name);
int mesh__location_from_name(const char *name);

#endif
