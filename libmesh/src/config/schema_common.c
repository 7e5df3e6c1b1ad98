/*
 * schema_common.c - object schemas more than one kind uses: the workload
 * selector and target references of security and telemetry policies.
 */
#include <stdio.h>
#include <string.h>

#include "schema.h"

static const char *str_of(const struct mesh__node *n)
{
	return (n && n->type == MESH_NODE_SCALAR && n->scalar == MESH_SCALAR_STRING) ? n->u.str
	                                                                             : NULL;
}

static const struct mesh__field selector_fields[] = {
	{ .name = "matchLabels", .type = MESH_FT_LABELS },
};

static void selector_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const struct mesh__node *m = mesh__node_field(obj, "matchLabels");
	if (!m || (m->type == MESH_NODE_MAP && m->count == 0))
		mesh__v_warn(v, obj, NULL,
		             "selector has no matchLabels; the policy applies to every workload in "
		             "the namespace");
}

const struct mesh__schema mesh__schema_policy_selector = { "WorkloadSelector",
	                                                   MESH_FIELDS(selector_fields),
	                                                   selector_check, 0 };

static const struct mesh__field target_ref_fields[] = {
	{ .name = "group", .type = MESH_FT_STRING },
	{ .name = "kind", .type = MESH_FT_STRING, .flags = MESH_F_REQUIRED },
	{ .name = "name", .type = MESH_FT_STRING, .flags = MESH_F_REQUIRED },
	{ .name = "namespace", .type = MESH_FT_STRING },
};

static void target_ref_check(struct mesh__vctx *v, const struct mesh__node *obj)
{
	const char *group = mesh__node_field_str(obj, "group"),
		   *kind = mesh__node_field_str(obj, "kind");
	const char *name = mesh__node_field_str(obj, "name");
	const struct mesh__node *ns = mesh__node_field(obj, "namespace");

	if (name && !*name)
		mesh__v_error(v, mesh__node_field(obj, "name"), ".name", "name must not be empty");
	if (ns && (!str_of(ns) || *str_of(ns)))
		mesh__v_error(
			v, ns, ".namespace",
			"namespace must not be set; cross-namespace references are not supported");
	if (!kind)
		return;
	if (!group || !*group)
		group = "core";
	if ((!strcmp(kind, "Service") && !strcmp(group, "core")) ||
	    (!strcmp(kind, "ServiceEntry") && !strcmp(group, "networking.istio.io")) ||
	    (!strcmp(kind, "Gateway") && !strcmp(group, "gateway.networking.k8s.io")))
		return;
	mesh__v_error(v, obj, NULL,
	              "unsupported target %s/%s; expected Service, ServiceEntry "
	              "(networking.istio.io) or Gateway (gateway.networking.k8s.io)",
	              group, kind);
}

const struct mesh__schema mesh__schema_target_ref = { "PolicyTargetReference",
	                                              MESH_FIELDS(target_ref_fields),
	                                              target_ref_check, 0 };
