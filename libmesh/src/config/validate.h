/*
 * validate.h - the generic schema walker (validate.c), used by config.c.
 */
#ifndef MESH_SRC_CONFIG_VALIDATE_H
#define MESH_SRC_CONFIG_VALIDATE_H

#include "schema.h"

struct mesh__vctx {
	mesh_diag *diag;
	const char *file;
	const char *ns;
	struct mesh__sb path;
	unsigned flags; /* MESH_CONFIG_* */
	size_t errors;  /* errors reported through this context */
	/* regex nodes already compiled fine: aliases share nodes, and a node
	 * aliased a thousand times must be compiled once */
	const struct mesh__node *re_ok[256];
};

void mesh__vctx_init(struct mesh__vctx *v, mesh_diag *diag, const char *file, unsigned flags);
void mesh__vctx_fini(struct mesh__vctx *v);
/* Check @obj (a map) against @s; the path must already name @obj. */
void mesh__validate_object(struct mesh__vctx *v, const struct mesh__schema *s,
                           const struct mesh__node *obj);
/* Name syntax of metadata.name / namespace: NULL when valid. */
const char *mesh__check_dns_subdomain(const char *s);
const char *mesh__check_dns_label(const char *s);

#endif
