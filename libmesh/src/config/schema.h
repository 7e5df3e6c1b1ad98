/*
 * schema.h - declarative field tables for every resource kind, and the
 * hooks that kind-specific (cross-field) checks use.
 *
 * A schema lists an object's fields by their camelCase JSON names (the
 * snake_case spelling is accepted too, as protobuf JSON parsing does). The
 * generic walker in validate.c checks types, required fields, enums, ranges,
 * durations, regexes, hosts, label selectors, one-of groups and unknown
 * fields ("did you mean"); a schema's check() adds what a table cannot say
 * (weights summing to 100, ...).
 */
#ifndef MESH_SRC_CONFIG_SCHEMA_H
#define MESH_SRC_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include "node.h"

enum mesh__ftype {
	MESH_FT_STRING,   /* a string (plain numbers/booleans are refused: quote them) */
	MESH_FT_BOOL,     /* true / false */
	MESH_FT_INT,      /* integer in [min, max] (a quoted integer is accepted) */
	MESH_FT_DOUBLE,   /* number in [min, max] */
	MESH_FT_PERCENT,  /* number in [0, 100] */
	MESH_FT_PORT,     /* integer in [1, 65535] */
	MESH_FT_DURATION, /* "1.5s", "100ms", "1h30m"; min/max in milliseconds, max 0 = none */
	MESH_FT_ENUM,     /* one of sub: a NULL-terminated const char *const[] */
	MESH_FT_REGEX,    /* a regular expression, compiled with PCRE2 */
	MESH_FT_HOST,     /* FQDN, short name, "*.suffix" or "*" */
	MESH_FT_NSHOST,   /* "namespace/host" as in Gateway and Sidecar hosts */
	MESH_FT_OBJECT,   /* a map checked against sub: const struct mesh__schema * */
	MESH_FT_LABELS,   /* map<string,string> with Kubernetes label syntax */
	MESH_FT_STRMAP,   /* map<string,string>, any keys */
	MESH_FT_MAP,      /* map<string, object sub> */
	MESH_FT_PORTMAP,  /* map<port number, object sub> */
	MESH_FT_ANY,      /* any value, not checked (google.protobuf.Struct ...) */
	MESH_FT_IP,       /* IPv4 or IPv6 address, or CIDR when MESH_F_CIDR */
	MESH_FT_CUSTOM,   /* scalar checked by sub: mesh__scalar_check_fn */
};

enum mesh__fflag {
	MESH_F_REQUIRED = 1u << 0,    /* must be present (and non-empty) */
	MESH_F_LIST = 1u << 1,        /* the value is a list of this type */
	MESH_F_NONEMPTY = 1u << 2,    /* a list that, when present, has an entry */
	MESH_F_DEPRECATED = 1u << 3,  /* accepted with a warning */
	MESH_F_CIDR = 1u << 4,        /* MESH_FT_IP: "a.b.c.d/n" allowed */
	MESH_F_NO_WILDCARD = 1u << 5, /* MESH_FT_HOST: "*" and "*.x" refused */
};

struct mesh__vctx;
struct mesh__schema;

/* Checks one scalar field; reports through mesh__v_error(v, n, NULL, ...). */
typedef void (*mesh__scalar_check_fn)(struct mesh__vctx *v, const struct mesh__node *n);
/* Cross-field checks on one object, run after its fields were checked. */
typedef void (*mesh__object_check_fn)(struct mesh__vctx *v, const struct mesh__node *obj);

struct mesh__field {
	const char *name; /* camelCase JSON name */
	uint8_t type;     /* enum mesh__ftype */
	uint8_t flags;    /* enum mesh__fflag */
	uint8_t oneof;    /* 0, or a group 1..31: at most one field of a group is set */
	const void *sub;  /* schema, enum values or check function, by type */
	int64_t min, max; /* MESH_FT_INT / MESH_FT_DOUBLE / MESH_FT_DURATION bounds */
};

struct mesh__schema {
	const char *name; /* type name for messages, e.g. "HTTPRoute" */
	const struct mesh__field *fields;
	size_t nfields;
	mesh__object_check_fn check; /* optional */
	/* Bit g set: exactly one field of one-of group g must be present
	 * (otherwise at most one may be). */
	uint32_t oneof_required;
};

#define MESH_FIELDS(arr) (arr), MESH_ARRAY_LEN(arr)
/* The sub pointer of a MESH_FT_CUSTOM field. */
#define MESH_CUSTOM(fn) ((const void *)(uintptr_t)(mesh__scalar_check_fn)(fn))

/* One resource kind: its group, versions and spec schema. */
struct mesh__kind_def {
	int kind;                    /* MESH_KIND_* */
	const char *name;            /* "VirtualService" */
	const char *group;           /* "networking.istio.io" */
	const char *const *versions; /* NULL-terminated: "v1alpha3", "v1beta1", "v1" */
	const struct mesh__schema *spec;
};

/* The kind table (kinds.c). */
const struct mesh__kind_def *mesh__kind_lookup(const char *group, const char *kind);
const struct mesh__kind_def *mesh__kind_by_id(int kind);

/* Object schemas shared by several kinds (schema_common.c). */
extern const struct mesh__schema mesh__schema_policy_selector; /* selector: matchLabels */
extern const struct mesh__schema mesh__schema_target_ref;      /* targetRef(s) */

/* Spec schemas, one per kind (schema_*.c). */
extern const struct mesh__schema mesh__schema_route_rule;
extern const struct mesh__schema mesh__schema_destination_policy;
extern const struct mesh__schema mesh__schema_egress_rule;
extern const struct mesh__schema mesh__schema_virtual_service;
extern const struct mesh__schema mesh__schema_destination_rule;
extern const struct mesh__schema mesh__schema_service_entry;
extern const struct mesh__schema mesh__schema_workload_entry;
extern const struct mesh__schema mesh__schema_gateway;
extern const struct mesh__schema mesh__schema_sidecar;
extern const struct mesh__schema mesh__schema_peer_authentication;
extern const struct mesh__schema mesh__schema_authorization_policy;
extern const struct mesh__schema mesh__schema_request_authentication;
extern const struct mesh__schema mesh__schema_telemetry;
extern const struct mesh__schema mesh__schema_mesh_config;

/*
 * Hooks for object checks. Positions come from @at (a node of the object
 * being checked); @rel is appended to the object's field path (".weight",
 * "[1].weight") or NULL for the object itself.
 */
void mesh__v_error(struct mesh__vctx *v, const struct mesh__node *at, const char *rel,
                   const char *fmt, ...) MESH_PRINTF(4, 5);
void mesh__v_warn(struct mesh__vctx *v, const struct mesh__node *at, const char *rel,
                  const char *fmt, ...) MESH_PRINTF(4, 5);
/* Field path of the object being checked, e.g. "spec.http[0]". */
const char *mesh__v_path(const struct mesh__vctx *v);
/* The resource's namespace (for short-name expansion in checks). */
const char *mesh__v_namespace(const struct mesh__vctx *v);

/* Shared scalar checks, usable from object checks: each returns true when
 * the value is valid and otherwise reports one error at @n. */
bool mesh__v_duration(struct mesh__vctx *v, const struct mesh__node *n, const char *rel,
                      int64_t *ns_out);
bool mesh__v_host(struct mesh__vctx *v, const struct mesh__node *n, const char *rel,
                  bool allow_wildcard);
bool mesh__v_regex(struct mesh__vctx *v, const struct mesh__node *n, const char *rel);

/* Parse a duration ("1.5s", "100ms", "1h30m", "500us", "0s") into
 * nanoseconds. Returns NULL on success or a static message. */
const char *mesh__parse_duration(const char *s, int64_t *ns_out);
/* Host syntax: NULL when valid, else a static message. */
const char *mesh__check_host(const char *s, bool allow_wildcard);
/* Kubernetes label key / value syntax: NULL when valid, else a message. */
const char *mesh__check_label_key(const char *s);
const char *mesh__check_label_value(const char *s);

#endif
