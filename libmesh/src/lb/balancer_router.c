/*
 * balancer_router.c - mesh_balancer_new(): balancer state for every
 * cluster of a router. Kept apart from balancer.c so that the balancer can
 * be built and tested without src/route (the unit tests make clusters by
 * hand and use mesh__balancer_new_for()).
 */
#include "../core/core.h"
#include "lb_int.h"

static void drop_router(void *r)
{
	mesh_router_unref(r);
}

MESH_API int mesh_balancer_new(mesh_router *r, mesh_balancer **out)
{
	const struct mesh_cluster **cl = NULL;
	size_t n;
	int rc;

	if (!out)
		return MESH_EINVAL;
	*out = NULL;
	if (!r)
		return MESH_EINVAL;
	n = mesh_router_cluster_count(r);
	if (n && !(cl = mesh__malloc(n * sizeof(*cl))))
		return MESH_ENOMEM;
	for (size_t i = 0; i < n; i++)
		cl[i] = mesh_router_cluster_at(r, i);
	rc = mesh__balancer_new_for(cl, n, out);
	mesh__free(cl);
	if (rc)
		return rc;
	mesh__balancer_set_owner(*out, mesh_router_ref(r), drop_router);
	return 0;
}
