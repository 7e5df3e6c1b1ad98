/* kinds.c - the table of resource kinds libmesh understands. */
#include <string.h>

#include <mesh/config.h>

#include "schema.h"

static const char *const legacy_versions[] = { "v1alpha2", "v1alpha1", "v1beta1", NULL };
static const char *const networking_versions[] = { "v1alpha3", "v1beta1", "v1", NULL };
static const char *const security_versions[] = { "v1beta1", "v1", NULL };
static const char *const telemetry_versions[] = { "v1alpha1", "v1", NULL };
static const char *const mesh_versions[] = { "v1alpha1", NULL };

static const struct mesh__kind_def kinds[] = {
	{ MESH_KIND_ROUTE_RULE, "RouteRule", "config.istio.io", legacy_versions,
	  &mesh__schema_route_rule },
	{ MESH_KIND_DESTINATION_POLICY, "DestinationPolicy", "config.istio.io", legacy_versions,
	  &mesh__schema_destination_policy },
	{ MESH_KIND_EGRESS_RULE, "EgressRule", "config.istio.io", legacy_versions,
	  &mesh__schema_egress_rule },
	{ MESH_KIND_VIRTUAL_SERVICE, "VirtualService", "networking.istio.io", networking_versions,
	  &mesh__schema_virtual_service },
	{ MESH_KIND_DESTINATION_RULE, "DestinationRule", "networking.istio.io", networking_versions,
	  &mesh__schema_destination_rule },
	{ MESH_KIND_SERVICE_ENTRY, "ServiceEntry", "networking.istio.io", networking_versions,
	  &mesh__schema_service_entry },
	{ MESH_KIND_WORKLOAD_ENTRY, "WorkloadEntry", "networking.istio.io", networking_versions,
	  &mesh__schema_workload_entry },
	{ MESH_KIND_GATEWAY, "Gateway", "networking.istio.io", networking_versions,
	  &mesh__schema_gateway },
	{ MESH_KIND_SIDECAR, "Sidecar", "networking.istio.io", networking_versions,
	  &mesh__schema_sidecar },
	{ MESH_KIND_PEER_AUTHENTICATION, "PeerAuthentication", "security.istio.io",
	  security_versions, &mesh__schema_peer_authentication },
	{ MESH_KIND_AUTHORIZATION_POLICY, "AuthorizationPolicy", "security.istio.io",
	  security_versions, &mesh__schema_authorization_policy },
	{ MESH_KIND_REQUEST_AUTHENTICATION, "RequestAuthentication", "security.istio.io",
	  security_versions, &mesh__schema_request_authentication },
	{ MESH_KIND_TELEMETRY, "Telemetry", "telemetry.istio.io", telemetry_versions,
	  &mesh__schema_telemetry },
	{ MESH_KIND_MESH_CONFIG, "MeshConfig", "mesh.libmesh.io", mesh_versions,
	  &mesh__schema_mesh_config },
};

const struct mesh__kind_def *mesh__kind_lookup(const char *group, const char *kind)
{
	for (size_t i = 0; i < MESH_ARRAY_LEN(kinds); i++)
		if (!strcmp(kinds[i].group, group) && !strcmp(kinds[i].name, kind))
			return &kinds[i];
	return NULL;
}

const struct mesh__kind_def *mesh__kind_by_id(int kind)
{
	for (size_t i = 0; i < MESH_ARRAY_LEN(kinds); i++)
		if (kinds[i].kind == kind)
			return &kinds[i];
	return NULL;
}

MESH_API const char *mesh_kind_name(int kind)
{
	const struct mesh__kind_def *k = mesh__kind_by_id(kind);
	return k ? k->name : "Unknown";
}

MESH_API int mesh_kind_from_name(const char *name)
{
	for (size_t i = 0; name && i < MESH_ARRAY_LEN(kinds); i++)
		if (!strcmp(kinds[i].name, name))
			return kinds[i].kind;
	return MESH_KIND_UNKNOWN;
}
