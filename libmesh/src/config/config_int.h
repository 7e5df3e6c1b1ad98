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
};

/* Labels of a Kubernetes workload object (pod template labels of a
 * Deployment / StatefulSet / DaemonSet / ReplicaSet / Job, or a Pod's own),
 * or NULL when @r is no workload. */
const struct mesh__node *mesh__k8s_workload_labels(const struct mesh_resource *r);

#endif
