/*
 * tls.c - how a sidecar secures a connection to one endpoint of a cluster:
 * the DestinationRule's tls mode or automatic mTLS, and which server
 * identities an ISTIO_MUTUAL connection accepts.
 */
#include <string.h>

#include "cluster.h"

int mesh__cluster_up_tls(const mesh_cluster *c, int ep)
{
	if (!c)
		return MESH__UP_PLAIN;
	switch (c->lb.tls_mode) {
	case 1: return MESH__UP_PLAIN;
	case 2: return MESH__UP_SIMPLE;
	case 3: return MESH__UP_MUTUAL;
	case 4: return MESH__UP_ISTIO_MUTUAL;
	default: break;
	}
	if (c->no_auto_mtls || ep < 0 || (size_t)ep >= c->neps)
		return MESH__UP_PLAIN;
	return c->eps[ep].mesh_workload ? MESH__UP_ISTIO_MUTUAL : MESH__UP_PLAIN;
}

bool mesh__cluster_peer_ok(const mesh_cluster *c, const char *peer_id)
{
	if (!c || !peer_id)
		return false;
	const struct mesh__node *sans = c->lb.subject_alt_names;
	if (sans) {
		for (size_t i = 0; i < sans->count; i++) {
			const char *s = mesh__node_str(sans->u.items[i]);
			if (s && !strcmp(s, peer_id))
				return true;
		}
		return false;
	}
	/* "spiffe://TD/ns/X/sa/Y" -> "/ns/X/sa/Y" */
	const char *path = NULL;
	if (!strncmp(peer_id, "spiffe://", 9))
		path = strchr(peer_id + 9, '/');
	/* Istio adds a ServiceEntry's subjectAltNames to the accounts of its
	 * endpoints */
	for (size_t i = 0; i < c->nsans; i++)
		if (!strcmp(c->sans[i], peer_id))
			return true;
	bool any = c->nsans > 0;
	for (size_t i = 0; i < c->neps; i++) {
		const char *id = c->eps[i].identity;
		if (!id)
			continue;
		any = true;
		if (path && !strcmp(id, path))
			return true;
	}
	return !any;
}
