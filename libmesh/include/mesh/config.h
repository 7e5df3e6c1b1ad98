/*
 * mesh/config.h - the configuration model: YAML files, directories and
 * buffers become typed, validated resources keyed by (kind, namespace, name),
 * each value with its source position.
 *
 * Thread rules: a mesh_config is filled by one thread (the load calls); once
 * loading is done it is not changed again and may be read by any number of
 * threads at once. Share it with mesh_config_ref()/mesh_config_unref().
 */
#ifndef MESH_CONFIG_H
#define MESH_CONFIG_H

#include <stdint.h>
#include <mesh/core.h>
#include <mesh/diag.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A set of resources (a snapshot once loaded). Opaque, reference-counted. */
typedef struct mesh_config mesh_config;
/** One resource of a mesh_config. Borrowed from its config. */
typedef struct mesh_resource mesh_resource;

/** Resource kinds that libmesh understands. Append-only. */
enum mesh_kind {
	MESH_KIND_UNKNOWN = 0,
	MESH_KIND_ROUTE_RULE = 1,         /**< config.istio.io/v1alpha2 */
	MESH_KIND_DESTINATION_POLICY = 2, /**< config.istio.io/v1alpha2 */
	MESH_KIND_EGRESS_RULE = 3,        /**< config.istio.io/v1alpha2 */
	MESH_KIND_VIRTUAL_SERVICE = 4,    /**< networking.istio.io */
	MESH_KIND_DESTINATION_RULE = 5,
	MESH_KIND_SERVICE_ENTRY = 6,
	MESH_KIND_WORKLOAD_ENTRY = 7,
	MESH_KIND_GATEWAY = 8,
	MESH_KIND_SIDECAR = 9,
	MESH_KIND_PEER_AUTHENTICATION = 10, /**< security.istio.io */
	MESH_KIND_AUTHORIZATION_POLICY = 11,
	MESH_KIND_REQUEST_AUTHENTICATION = 12,
	MESH_KIND_TELEMETRY = 13,   /**< telemetry.istio.io */
	MESH_KIND_MESH_CONFIG = 14, /**< mesh.libmesh.io/v1alpha1 */
	MESH_KIND_COUNT_ = 15       /**< not a kind; grows with new kinds */
};

/** Load options, set with mesh_config_set_flags(). */
enum mesh_config_flag {
	/** Unknown and non-mesh kinds are errors instead of notes. */
	MESH_CONFIG_STRICT = 1u << 0,
	/** Unknown fields are warnings instead of errors. */
	MESH_CONFIG_ALLOW_UNKNOWN_FIELDS = 1u << 1,
};

/**
 * mesh_config_new - create an empty configuration (reference count 1).
 * @out: receives the config; release it with mesh_config_unref().
 *
 * Returns 0 or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_config_new(mesh_config **out);

/** mesh_config_ref - take one more reference; returns @cfg. @since 0.1 */
MESH_API mesh_config *mesh_config_ref(mesh_config *cfg);

/**
 * mesh_config_unref - drop one reference; the last one frees the config and
 * all its resources. NULL is a no-op. Thread-safe (atomic count).
 * @since 0.1
 */
MESH_API void mesh_config_unref(mesh_config *cfg);

/** mesh_config_set_flags - OR of enum mesh_config_flag. @since 0.1 */
MESH_API void mesh_config_set_flags(mesh_config *cfg, unsigned flags);

/**
 * mesh_config_set_default_namespace - namespace for resources that name
 * none ("default" unless set). The string is copied.
 * Returns 0 or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_config_set_default_namespace(mesh_config *cfg, const char *ns);

/**
 * mesh_config_load_buffer - parse and validate YAML (one or more documents)
 * from memory and add its valid resources.
 * @name: the name diagnostics use for this input (e.g. a file name or "-").
 * @diag: optional; receives notes, warnings and errors.
 *
 * Resources with errors are not added; the others are. A (kind, namespace,
 * name) that is already present is an error. Returns 0 when the input had
 * no error, MESH_ECONFIG when it had (see @diag), MESH_ELIMIT when it is too
 * large, MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_config_load_buffer(mesh_config *cfg, const char *name, const char *buf,
                                     size_t len, mesh_diag *diag);

/**
 * mesh_config_load_file - as mesh_config_load_buffer() for a file; "-" reads
 * standard input. Returns MESH_EIO when the file cannot be read.
 * @since 0.1
 */
MESH_API int mesh_config_load_file(mesh_config *cfg, const char *path, mesh_diag *diag);

/**
 * mesh_config_load_path - load a file, or every *.yaml / *.yml / *.json file
 * below a directory (recursively, in name order; hidden entries skipped).
 * Returns as mesh_config_load_file(); MESH_EIO if any file could not be read.
 * @since 0.1
 */
MESH_API int mesh_config_load_path(mesh_config *cfg, const char *path, mesh_diag *diag);

/** mesh_config_file_count - number of inputs loaded so far. @since 0.1 */
MESH_API size_t mesh_config_file_count(const mesh_config *cfg);

/** mesh_config_resource_count - number of accepted resources. @since 0.1 */
MESH_API size_t mesh_config_resource_count(const mesh_config *cfg);

/**
 * mesh_config_resource_at - the @i-th accepted resource, in load order, or
 * NULL when @i is out of range. Borrowed: valid while @cfg is.
 * @since 0.1
 */
MESH_API const mesh_resource *mesh_config_resource_at(const mesh_config *cfg, size_t i);

/**
 * mesh_config_find - the resource with this kind, namespace and name, or
 * NULL. @ns NULL means the default namespace. Borrowed: valid while @cfg is.
 * @since 0.1
 */
MESH_API const mesh_resource *mesh_config_find(const mesh_config *cfg, int kind, const char *ns,
                                               const char *name);

/**
 * mesh_config_analyze - cross-resource checks (routes to undefined subsets,
 * unknown hosts, precedence ties, mTLS conflicts, selectors matching no
 * workload ...). Each finding is a warning with a code "MESHnnnn" added to
 * @diag. Returns the number of findings (>= 0) or a negative MESH_E* code.
 * @since 0.1
 */
MESH_API int mesh_config_analyze(const mesh_config *cfg, mesh_diag *diag);

/**
 * mesh_config_trust_domain - the trust domain of the mesh's workload
 * identities (spiffe://TRUST_DOMAIN/ns/NS/sa/SA): the trustDomain of the
 * MeshConfig that counts (the first one loaded), as written, else
 * "cluster.local". NULL only when @cfg is NULL.
 *
 * Borrowed: valid while @cfg is (a static string for the default).
 * Thread-safe once loading is done.
 * @since 0.1
 */
MESH_API const char *mesh_config_trust_domain(const mesh_config *cfg);

/** mesh_kind_name - "VirtualService" etc., or "Unknown". @since 0.1 */
MESH_API const char *mesh_kind_name(int kind);

/** mesh_kind_from_name - MESH_KIND_* for "VirtualService" etc., or 0. @since 0.1 */
MESH_API int mesh_kind_from_name(const char *name);

/*
 * Resource accessors. Returned strings are borrowed and live as long as the
 * config holding the resource.
 */

/** mesh_resource_kind - MESH_KIND_*. @since 0.1 */
MESH_API int mesh_resource_kind(const mesh_resource *r);
/** mesh_resource_api_version - e.g. "networking.istio.io/v1". @since 0.1 */
MESH_API const char *mesh_resource_api_version(const mesh_resource *r);
/** mesh_resource_namespace - metadata.namespace or the default. @since 0.1 */
MESH_API const char *mesh_resource_namespace(const mesh_resource *r);
/** mesh_resource_name - metadata.name. @since 0.1 */
MESH_API const char *mesh_resource_name(const mesh_resource *r);
/** mesh_resource_file - the input it came from. @since 0.1 */
MESH_API const char *mesh_resource_file(const mesh_resource *r);
/** mesh_resource_line - 1-based line where the resource starts (its first key). @since 0.1 */
MESH_API unsigned mesh_resource_line(const mesh_resource *r);

/** Value types reported by mesh_resource_get_type(). */
enum mesh_value_type {
	MESH_VALUE_NONE = 0, /**< no such path */
	MESH_VALUE_NULL,
	MESH_VALUE_STRING, /**< any scalar; also readable as int/double/bool */
	MESH_VALUE_MAP,
	MESH_VALUE_LIST,
};

/**
 * Path queries. @path is a field path as in diagnostics:
 * "spec.http[0].route[1].weight"; keys may contain no '.' or '['.
 *
 * mesh_resource_get_type - MESH_VALUE_* of the value at @path.
 * mesh_resource_get_count - entries of a list or map (0 otherwise).
 * mesh_resource_get_string - a scalar's text; MESH_ENOTFOUND, MESH_ETYPE.
 * mesh_resource_get_int - a scalar as a 64-bit integer; MESH_ETYPE if not one.
 * mesh_resource_get_position - 1-based line and column of the value.
 * mesh_resource_get_key - the @i-th key of the map at @path.
 * @since 0.1
 */
MESH_API int mesh_resource_get_type(const mesh_resource *r, const char *path);
MESH_API size_t mesh_resource_get_count(const mesh_resource *r, const char *path);
MESH_API int mesh_resource_get_string(const mesh_resource *r, const char *path, const char **out);
MESH_API int mesh_resource_get_int(const mesh_resource *r, const char *path, int64_t *out);
MESH_API int mesh_resource_get_position(const mesh_resource *r, const char *path, unsigned *line,
                                        unsigned *column);
MESH_API int mesh_resource_get_key(const mesh_resource *r, const char *path, size_t i,
                                   const char **out);

#ifdef __cplusplus
}
#endif
#endif
