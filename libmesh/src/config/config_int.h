/*
 * config_int.h - the layout of mesh_config and mesh_resource, for the
 * modules of libmesh that read configuration (analysis, routing ...).
 */
#ifndef MESH_SRC_CONFIG_INT_H
#define MESH_SRC_CONFIG_INT_H

#include <stdatomic.h>

#include <mesh/config.h>

#include "node.h"
#include "schema.h"

struct mesh_resource {
	int kind; /* MESH_KIND_*, or MESH_KIND_UNKNOWN for a kept non-mesh object */
	const struct mesh__kind_def *def; /* NULL for non-mesh objects */
	const char *api_version, *kind_name, *ns, *name, *file;
	unsigned line;
	const struct mesh__node *root;     /* the whole document */
	const struct mesh__node *spec;     /* root.spec, or NULL */
	const struct mesh__node *metadata; /* root.metadata, or NULL */
	const struct mesh__node *name_node;
};

/* One loaded input: its name and the arena holding its parse tree. */
struct mesh__cfile {
	char *name;
	struct mesh__arena arena;
};

/*
 * Data that a reading module derives from a loaded config on first use (the
 * PeerAuthentication index of src/security/). Readers share a config across
 * threads, so a cache is built by whichever thread asks first and published
 * with a compare-and-swap (mesh__config_cache_put); the config frees it with
 * @free. Loading more into the config retires the caches instead of freeing
 * them: what they handed out stays valid until the config is freed.
 */
struct mesh__cfg_cache {
	void (*free)(struct mesh__cfg_cache *c);
	struct mesh__cfg_cache *retired; /* older caches, freed with the config */
};

/* One cache slot per deriving module. */
enum mesh__cfg_cache_slot {
	MESH__CFG_CACHE_SECURITY = 0,
	MESH__CFG_CACHE_COUNT_,
};

struct mesh_config {
	atomic_int refs;
	unsigned flags;
	char *default_ns;
	struct mesh__cfile **files;
	size_t nfiles, capfiles;
	struct mesh_resource **res; /* accepted mesh resources, load order */
	size_t nres, capres;
	/* Kubernetes objects (Service, Deployment, Pod ...) kept for analysis:
	 * they define services and workload labels. */
	struct mesh_resource **ext;
	size_t next, capext;
	/* open-addressing index over res: (kind, ns, name) -> resource */
	struct mesh_resource **index;
	size_t index_cap;
	/* derived data, see struct mesh__cfg_cache */
	_Atomic(struct mesh__cfg_cache *) cache[MESH__CFG_CACHE_COUNT_];
	struct mesh__cfg_cache *retired;
};

/* The cache in @slot, or NULL when none is built yet. */
struct mesh__cfg_cache *mesh__config_cache_get(const mesh_config *cfg,
                                               enum mesh__cfg_cache_slot slot);
/* Publish @c in @slot unless another thread did first. Returns the cache in
 * place: @c, or the other thread's (then @c has been freed). */
struct mesh__cfg_cache *mesh__config_cache_put(const mesh_config *cfg,
                                               enum mesh__cfg_cache_slot slot,
                                               struct mesh__cfg_cache *c);

/* The MeshConfig that counts (the first one loaded), or NULL. */
const struct mesh_resource *mesh__config_mesh(const mesh_config *cfg);
/* The root namespace: the MeshConfig's rootNamespace, else "istio-system".
 * Borrowed from @cfg. */
const char *mesh__config_root_ns(const mesh_config *cfg);

/* True when every label of the map @sel (a matchLabels node) is among
 * @labels ("k", "v", ..., NULL; NULL = none). An absent or empty @sel
 * selects everything. Keys compare exactly (no snake_case folding). */
bool mesh__labels_match(const struct mesh__node *sel, const char *const *labels);

/* Labels of a Kubernetes workload object (pod template labels of a
 * Deployment / StatefulSet / DaemonSet / ReplicaSet / Job, or a Pod's own),
 * or NULL when @r is no workload. */
const struct mesh__node *mesh__k8s_workload_labels(const struct mesh_resource *r);

/* RFC 3339 ("2024-05-01T10:00:00Z", fractions and offsets allowed) to Unix
 * seconds and nanoseconds; false when @s is NULL or not one (config.c). */
bool mesh__time_parse_rfc3339(const char *s, int64_t *sec, int32_t *nsec);

#endif
