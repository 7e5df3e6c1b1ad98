/*
 * node.h - the parse tree: YAML documents as maps, lists and scalars, each
 * node with its 1-based source line and column. Nodes live in the arena of
 * the file they came from; aliases share the anchored node.
 */
#ifndef MESH_SRC_CONFIG_NODE_H
#define MESH_SRC_CONFIG_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/core.h"

enum mesh__node_type {
	MESH_NODE_NULL,
	MESH_NODE_SCALAR,
	MESH_NODE_MAP,
	MESH_NODE_SEQ,
};

/* How a plain scalar resolves (YAML 1.2 core schema). Quoted scalars are
 * always strings. */
enum mesh__scalar_kind {
	MESH_SCALAR_STRING,
	MESH_SCALAR_INT,
	MESH_SCALAR_FLOAT,
	MESH_SCALAR_BOOL,
	MESH_SCALAR_NULL,
};

struct mesh__node;

struct mesh__pair {
	struct mesh__node *key;
	struct mesh__node *value;
};

struct mesh__node {
	uint8_t type;   /* enum mesh__node_type */
	uint8_t scalar; /* enum mesh__scalar_kind, for scalars */
	uint32_t line, col;
	size_t count; /* pairs or items; string length for scalars */
	union {
		const char *str;
		struct mesh__pair *pairs;
		struct mesh__node **items;
	} u;
};

/* One parsed document of a file. */
struct mesh__doc {
	struct mesh__node *root;
	uint32_t line; /* first line of the document */
};

/* Parse limits; past them a file is rejected with a clear error. */
#define MESH_YAML_MAX_BYTES (64u * 1024 * 1024)
#define MESH_YAML_MAX_DEPTH 64
/* Nodes a file may expand to when aliases are followed. */
#define MESH_YAML_MAX_NODES (4u * 1024 * 1024)
#define MESH_YAML_MAX_DOCS 100000

/*
 * Parse YAML from @buf into documents allocated in @arena. On a syntax error
 * or a limit, adds one error to @diag (file @name) and returns MESH_ECONFIG
 * (or MESH_ELIMIT); documents before the error stay in *docs.
 * *docs is an array from mesh__malloc, freed by the caller.
 */
int mesh__yaml_parse(const char *name, const char *buf, size_t len, struct mesh__arena *arena,
                     struct mesh__doc **docs, size_t *ndocs, mesh_diag *diag);

/* Map lookup by key; also finds the snake_case spelling of a camelCase
 * @key ("maxConnections" matches "max_connections"), as protobuf JSON
 * parsing does. */
const struct mesh__node *mesh__node_get(const struct mesh__node *map, const char *key);
/* The pair whose key matches, or NULL. */
const struct mesh__pair *mesh__node_pair(const struct mesh__node *map, const char *key);
/* True when the key @k (a scalar) names the camelCase field @field. */
bool mesh__key_is(const struct mesh__node *k, const char *field);
/* Scalar text, or NULL when @n is not a scalar. */
static inline const char *mesh__node_str(const struct mesh__node *n)
{
	return (n && n->type == MESH_NODE_SCALAR) ? n->u.str : NULL;
}
/* A map's field, or NULL when it is absent or null (protobuf JSON reads
 * null as "not set"). */
const struct mesh__node *mesh__node_field(const struct mesh__node *map, const char *key);
/* A field's value when it is a string scalar, else NULL. */
const char *mesh__node_field_str(const struct mesh__node *map, const char *key);
/* An integer written plain or quoted ("8080"), as protobuf JSON takes it. */
bool mesh__node_int_loose(const struct mesh__node *n, int64_t *out);
/* A scalar as an integer; false when it is not one. */
bool mesh__node_int(const struct mesh__node *n, int64_t *out);
/* A scalar as a number (int or float); false when it is not one. */
bool mesh__node_double(const struct mesh__node *n, double *out);
/* Follow a path such as "spec.http[0].route"; NULL when absent. */
const struct mesh__node *mesh__node_path(const struct mesh__node *root, const char *path);

#endif
