/*
 * mesh/registry.h - the service registry: services (hosts, ports,
 * protocols) and their endpoints (address, port, labels, locality, weight),
 * from ServiceEntry and WorkloadEntry resources and from calls at run time.
 *
 * Thread rules: a mesh_registry is changed by one thread (usually the main
 * thread, fed by files or a distributed store). Routers built from it copy
 * what they need, so a change reaches traffic when a new router is built
 * (mesh_registry_version() tells whether one is due).
 */
#ifndef MESH_REGISTRY_H
#define MESH_REGISTRY_H

#include <stdint.h>
#include <mesh/core.h>
#include <mesh/config.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mesh_registry mesh_registry;
/** A service of a registry. Borrowed; valid until the registry changes. */
typedef struct mesh_service mesh_service;

/** Service protocols, from port protocol names as Istio reads them. */
enum mesh_protocol {
	MESH_PROTO_UNKNOWN = 0, /**< sniffed as HTTP/1.1 or TCP */
	MESH_PROTO_HTTP,        /**< HTTP/1.1 */
	MESH_PROTO_HTTP2,
	MESH_PROTO_GRPC,
	MESH_PROTO_HTTPS,
	MESH_PROTO_TLS,
	MESH_PROTO_TCP,
	MESH_PROTO_MONGO,
	MESH_PROTO_MYSQL,
	MESH_PROTO_REDIS, /**< handled as TCP */
};

/** How a service's endpoints are found (ServiceEntry resolution). @since 0.1 */
enum mesh_resolution {
	MESH_RESOLUTION_NONE = 0,            /**< pass through to the original destination */
	MESH_RESOLUTION_STATIC = 1,          /**< the listed endpoints' addresses */
	MESH_RESOLUTION_DNS = 2,             /**< endpoint addresses are names resolved by DNS */
	MESH_RESOLUTION_DNS_ROUND_ROBIN = 3, /**< as DNS, first address only */
};

/** Where a service runs (ServiceEntry location). @since 0.1 */
enum mesh_location {
	MESH_LOCATION_EXTERNAL = 0, /**< outside the mesh (no mTLS to it) */
	MESH_LOCATION_INTERNAL = 1, /**< a mesh member */
};

/**
 * One endpoint, as passed to mesh_registry_add_endpoint() and read back by
 * mesh_service_endpoint(). Strings are copied in; read back they are
 * borrowed (valid until the registry changes).
 * @since 0.1
 */
struct mesh_endpoint_info {
	size_t struct_size;          /**< sizeof(struct mesh_endpoint_info) */
	const char *address;         /**< IP address or host name */
	unsigned port;               /**< 0: the service port */
	const char *const *labels;   /**< "key", "value", ..., NULL; or NULL */
	const char *locality;        /**< "region/zone/subzone" or NULL */
	unsigned weight;             /**< 0 means 1 */
	const char *service_account; /**< or NULL */
	const char *network;         /**< or NULL */
	/** The service port this endpoint serves; 0: every port. Endpoints
	 * loaded from configuration carry it (one endpoint per service port,
	 * as in Istio); part of the endpoint's identity with address and port. */
	unsigned service_port;
	/** Namespace of the workload (a WorkloadEntry's, or the ServiceEntry's
	 * for its inline endpoints); NULL: the service's. With service_account
	 * it makes the workload's identity. @since 0.1 */
	const char *namespace_name;
};

/** mesh_registry_new - an empty registry. Returns 0 or MESH_ENOMEM. @since 0.1 */
MESH_API int mesh_registry_new(mesh_registry **out);
/** mesh_registry_free - free a registry; NULL is a no-op. @since 0.1 */
MESH_API void mesh_registry_free(mesh_registry *reg);

/**
 * mesh_registry_load_config - add the services of every ServiceEntry in
 * @cfg, with their inline endpoints and the WorkloadEntries their
 * workloadSelector picks. Problems (a WorkloadEntry port name that the
 * service lacks ...) go to @diag as warnings. A call that fails leaves
 * @reg as it was. Returns 0, MESH_EINVAL (@reg or @cfg NULL) or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_registry_load_config(mesh_registry *reg, const mesh_config *cfg, mesh_diag *diag);

/**
 * mesh_registry_add_service - add (or extend) the service @host (an FQDN)
 * with one port. @protocol is a port protocol name ("HTTP", "grpc" ...);
 * NULL or "" selects it by @port_name as Istio does ("http-web" -> HTTP).
 * @ns NULL means "default"; an existing service keeps its namespace, and a
 * port it already has takes the new name and protocol. A new service is
 * MESH_RESOLUTION_STATIC, MESH_LOCATION_INTERNAL.
 * Returns 0, MESH_EINVAL (NULL or malformed @host, @port not in 1..65535)
 * or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_registry_add_service(mesh_registry *reg, const char *host, const char *ns,
                                       unsigned port, const char *port_name, const char *protocol);

/**
 * mesh_registry_add_endpoint - add an endpoint to the service @host, or
 * replace the one with the same address, port and service_port. Returns 0,
 * MESH_ENOTFOUND (no such service), MESH_EINVAL or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_registry_add_endpoint(mesh_registry *reg, const char *host,
                                        const struct mesh_endpoint_info *ep);

/**
 * mesh_registry_remove_endpoint - remove the endpoints @address:@port of
 * @host (@port as added: 0 for "the service port"), whatever service port
 * they serve. Returns 0, MESH_ENOTFOUND, MESH_EINVAL, or MESH_ENOMEM (only
 * when @host shared its endpoints with other hosts of one ServiceEntry and
 * they had to be copied).
 * @since 0.1
 */
MESH_API int mesh_registry_remove_endpoint(mesh_registry *reg, const char *host,
                                           const char *address, unsigned port);

/** mesh_registry_version - grows with every change. @since 0.1 */
MESH_API uint64_t mesh_registry_version(const mesh_registry *reg);

/** mesh_registry_service_count / _service_at - iterate services. @since 0.1 */
MESH_API size_t mesh_registry_service_count(const mesh_registry *reg);
MESH_API const mesh_service *mesh_registry_service_at(const mesh_registry *reg, size_t i);

/**
 * mesh_registry_find - the service for an FQDN @host, by exact name or else
 * by the longest wildcard ("*.example.com") that covers it; NULL if none.
 * @since 0.1
 */
MESH_API const mesh_service *mesh_registry_find(const mesh_registry *reg, const char *host);

/** Service accessors. Strings are borrowed: valid until the registry
 * changes. Calls taking an index return 0, or MESH_EINVAL when an argument
 * is NULL or the index out of range (mesh_service_address: NULL).
 * @since 0.1 */
MESH_API const char *mesh_service_host(const mesh_service *s);
MESH_API const char *mesh_service_namespace(const mesh_service *s);
MESH_API size_t mesh_service_port_count(const mesh_service *s);
/** The @i-th port: number, name (may be ""), protocol (enum mesh_protocol). */
MESH_API int mesh_service_port(const mesh_service *s, size_t i, unsigned *number, const char **name,
                               int *protocol);
MESH_API size_t mesh_service_endpoint_count(const mesh_service *s);
/** Fill @out (whose struct_size the caller sets) with the @i-th endpoint. */
MESH_API int mesh_service_endpoint(const mesh_service *s, size_t i, struct mesh_endpoint_info *out);
/** enum mesh_resolution and enum mesh_location of a service. @since 0.1 */
MESH_API int mesh_service_resolution(const mesh_service *s);
MESH_API int mesh_service_location(const mesh_service *s);
/** ServiceEntry addresses (virtual IPs or CIDRs) of a service. @since 0.1 */
MESH_API size_t mesh_service_address_count(const mesh_service *s);
MESH_API const char *mesh_service_address(const mesh_service *s, size_t i);
/** ServiceEntry subjectAltNames of a service (the union over the entries
 * that define it): identities its servers may present, checked under
 * ISTIO_MUTUAL with the service accounts of its endpoints when no
 * DestinationRule names its own. NULL past the end. @since 0.1 */
MESH_API size_t mesh_service_san_count(const mesh_service *s);
MESH_API const char *mesh_service_san(const mesh_service *s, size_t i);

/** mesh_protocol_from_name - "http2" -> MESH_PROTO_HTTP2 (case-insensitive;
 * "http-web" style prefixes count, as in Istio port naming; "GRPC-Web" and
 * "grpc-web-*" read as MESH_PROTO_GRPC); MESH_PROTO_UNKNOWN for anything
 * else, NULL included. @since 0.1 */
MESH_API int mesh_protocol_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
