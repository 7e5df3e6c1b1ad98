/*
 * registry.c - the public entry points of the service registry: creating
 * and freeing it, loading ServiceEntries, run-time changes, lookups and
 * accessors, and the names of protocols, resolutions and locations.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "registry.h"

/* The endpoint struct as 0.1 first had it (without service_port): callers
 * built against that layout stay valid. */
#define EP_MIN_SIZE offsetof(struct mesh_endpoint_info, service_port)
#define EP_HAS(ep, field)                                                                          \
	((ep)->struct_size >= offsetof(struct mesh_endpoint_info, field) + sizeof((ep)->field))

/* ---- names ---- */

static const struct {
	const char *name;
	int protocol;
} protocols[] = {
	{ "http", MESH_PROTO_HTTP },   { "http2", MESH_PROTO_HTTP2 },
	{ "grpc", MESH_PROTO_GRPC },   { "https", MESH_PROTO_HTTPS },
	{ "tls", MESH_PROTO_TLS },     { "tcp", MESH_PROTO_TCP },
	{ "mongo", MESH_PROTO_MONGO }, { "mysql", MESH_PROTO_MYSQL },
	{ "redis", MESH_PROTO_REDIS }, { "http_proxy", MESH_PROTO_HTTP },
};

MESH_API int mesh_protocol_from_name(const char *name)
{
	if (!name)
		return MESH_PROTO_UNKNOWN;
	/* Istio checks this prefix first: it contains the '-' that otherwise
	 * ends the protocol part of a port name. gRPC-Web travels as gRPC
	 * (HTTP/2) upstream, so it counts as gRPC here. */
	if (!strncasecmp(name, "grpc-web", 8))
		return MESH_PROTO_GRPC;
	size_t len = strcspn(name, "-");
	for (size_t i = 0; i < MESH_ARRAY_LEN(protocols); i++)
		if (strlen(protocols[i].name) == len && !strncasecmp(name, protocols[i].name, len))
			return protocols[i].protocol;
	return MESH_PROTO_UNKNOWN;
}

int mesh__port_protocol(const char *protocol, const char *name, unsigned number)
{
	if (protocol && *protocol)
		return mesh_protocol_from_name(protocol);
	int p = mesh_protocol_from_name(name);
	/* Istio's well-known server-first ports are never sniffed */
	if (p == MESH_PROTO_UNKNOWN &&
	    (number == 25 || number == 53 || number == 3306 || number == 27017))
		p = MESH_PROTO_TCP;
	return p;
}

int mesh__resolution_from_name(const char *name)
{
	static const char *const names[] = { "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN" };
	for (size_t i = 0; name && i < MESH_ARRAY_LEN(names); i++)
		if (!strcasecmp(name, names[i]))
			return (int)i;
	return -1;
}

int mesh__location_from_name(const char *name)
{
	if (name && !strcasecmp(name, "MESH_EXTERNAL"))
		return MESH_LOCATION_EXTERNAL;
	if (name && !strcasecmp(name, "MESH_INTERNAL"))
		return MESH_LOCATION_INTERNAL;
	return -1;
}

/* ---- the registry ---- */

MESH_API int mesh_registry_new(mesh_registry **out)
{
	if (!out)
		return MESH_EINVAL;
	*out = mesh__calloc(1, sizeof(**out));
	return *out ? 0 : MESH_ENOMEM;
}

MESH_API void mesh_registry_free(mesh_registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n; i++)
		mesh__service_free(reg->svcs[i]);
	mesh__free(reg->svcs);
	mesh__free(reg->exact);
	mesh__free(reg->wild);
	mesh__free(reg);
}

/*
 * Loading works on a clone that replaces the registry only when everything
 * went well: a failed load (out of memory) leaves the registry as it was.
 * The clone shares endpoint sets, so it costs about one copy of the
 * service list.
 */
MESH_API int mesh_registry_load_config(mesh_registry *reg, const mesh_config *cfg, mesh_diag *diag)
{
	if (!reg || !cfg)
		return MESH_EINVAL;
	mesh_registry *work;
	int rc = mesh__registry_clone(reg, &work);
	if (rc)
		return rc;
	bool changed = false;
	rc = mesh__registry_load(work, cfg, diag, &changed);
	if (!rc && changed) {
		work->version = reg->version + 1;
		mesh__registry_swap(reg, work);
	}
	mesh_registry_free(work);
	return rc;
}

/* Length of @host without one trailing dot. */
static size_t host_len(const char *host)
{
	size_t len = strlen(host);
	return (len > 1 && host[len - 1] == '.') ? len - 1 : len;
}

MESH_API int mesh_registry_add_service(mesh_registry *reg, const char *host, const char *ns,
                                       unsigned port, const char *port_name, const char *protocol)
{
	if (!reg || !host || !mesh__registry_host_ok(host) || port == 0 || port > 65535)
		return MESH_EINVAL;
	int proto = mesh__port_protocol(protocol, port_name, port);
	struct mesh_service *s = mesh__registry_exact(reg, host, host_len(host));
	if (s) {
		/* a targetPort from configuration stays */
		const struct mesh__reg_port *old = mesh__service_find_port(s, port);
		bool changed;
		int rc = mesh__service_add_port(s, port, port_name, proto, old ? old->target : 0,
		                                true, &changed, NULL);
		if (!rc && changed)
			reg->version++;
		return rc;
	}
	s = mesh__service_new(host, ns, MESH_RESOLUTION_STATIC, MESH_LOCATION_INTERNAL);
	if (!s)
		return MESH_ENOMEM;
	if (mesh__service_add_port(s, port, port_name, proto, 0, true, NULL, NULL) ||
	    mesh__registry_insert(reg, s)) {
		mesh__service_free(s);
		return MESH_ENOMEM;
	}
	reg->version++;
	return 0;
}

MESH_API int mesh_registry_add_endpoint(mesh_registry *reg, const char *host,
                                        const struct mesh_endpoint_info *ep)
{
	if (!reg || !host || !ep || ep->struct_size < EP_MIN_SIZE || !ep->address ||
	    !*ep->address || ep->port > 65535)
		return MESH_EINVAL;
	unsigned service_port = EP_HAS(ep, service_port) ? ep->service_port : 0;
	if (service_port > 65535)
		return MESH_EINVAL;
	size_t nlabels = 0;
	for (; ep->labels && ep->labels[2 * nlabels]; nlabels++)
		if (!ep->labels[2 * nlabels + 1])
			return MESH_EINVAL; /* a key without a value */
	struct mesh_service *s = mesh__registry_exact(reg, host, host_len(host));
	if (!s)
		return MESH_ENOTFOUND;
	const char *ns = EP_HAS(ep, namespace_name) ? ep->namespace_name : NULL;
	struct mesh__reg_endpoint e;
	if (mesh__reg_endpoint_make(&e, ep->address, ep->port, service_port, ep->weight, ep->labels,
	                            nlabels, ep->locality, ep->service_account, ep->network,
	                            ns && *ns ? ns : NULL))
		return MESH_ENOMEM;
	if (mesh__service_own_endpoints(s) || mesh__epset_put(s->eps, &e)) {
		mesh__reg_endpoint_fini(&e);
		return MESH_ENOMEM;
	}
	reg->version++;
	return 0;
}

MESH_API int mesh_registry_remove_endpoint(mesh_registry *reg, const char *host,
                                           const char *address, unsigned port)
{
	if (!reg || !host || !address)
		return MESH_EINVAL;
	struct mesh_service *s = mesh__registry_exact(reg, host, host_len(host));
	if (!s || !s->eps)
		return MESH_ENOTFOUND;
	/* look before copying a shared set */
	bool found = false;
	for (size_t i = 0; i < s->eps->n && !found; i++)
		found = s->eps->v[i].port == port && !strcmp(s->eps->v[i].address, address);
	if (!found)
		return MESH_ENOTFOUND;
	if (mesh__service_own_endpoints(s))
		return MESH_ENOMEM;
	mesh__epset_remove(s->eps, address, port);
	reg->version++;
	return 0;
}

MESH_API uint64_t mesh_registry_version(const mesh_registry *reg)
{
	return reg ? reg->version : 0;
}

MESH_API size_t mesh_registry_service_count(const mesh_registry *reg)
{
	return reg ? reg->n : 0;
}

MESH_API const mesh_service *mesh_registry_service_at(const mesh_registry *reg, size_t i)
{
	return (reg && i < reg->n) ? reg->svcs[i] : NULL;
}

MESH_API const mesh_service *mesh_registry_find(const mesh_registry *reg, const char *host)
{
	if (!reg || !host)
		return NULL;
	size_t len = host_len(host);
	if (!len)
		return NULL;
	const struct mesh_service *s = mesh__registry_exact(reg, host, len);
	return s ? s : mesh__registry_wildcard(reg, host, len);
}

/* ---- services ---- */

MESH_API const char *mesh_service_host(const mesh_service *s)
{
	return s ? s->host : NULL;
}

MESH_API const char *mesh_service_namespace(const mesh_service *s)
{
	return s ? s->ns : NULL;
}

MESH_API int mesh_service_resolution(const mesh_service *s)
{
	return s ? s->resolution : MESH_RESOLUTION_NONE;
}

MESH_API int mesh_service_location(const mesh_service *s)
{
	return s ? s->location : MESH_LOCATION_EXTERNAL;
}

MESH_API size_t mesh_service_address_count(const mesh_service *s)
{
	return s ? s->naddresses : 0;
}

MESH_API const char *mesh_service_address(const mesh_service *s, size_t i)
{
	return (s && i < s->naddresses) ? s->addresses[i] : NULL;
}

MESH_API size_t mesh_service_san_count(const mesh_service *s)
{
	return s ? s->nsans : 0;
}

MESH_API const char *mesh_service_san(const mesh_service *s, size_t i)
{
	return (s && i < s->nsans) ? s->sans[i] : NULL;
}

MESH_API size_t mesh_service_port_count(const mesh_service *s)
{
	return s ? s->nports : 0;
}

MESH_API int mesh_service_port(const mesh_service *s, size_t i, unsigned *number, const char **name,
                               int *protocol)
{
	if (!s || i >= s->nports)
		return MESH_EINVAL;
	const struct mesh__reg_port *p = &s->ports[i];
	if (number)
		*number = p->number;
	if (name)
		*name = p->name;
	if (protocol)
		*protocol = p->protocol;
	return 0;
}

MESH_API size_t mesh_service_endpoint_count(const mesh_service *s)
{
	return (s && s->eps) ? s->eps->n : 0;
}

MESH_API int mesh_service_endpoint(const mesh_service *s, size_t i, struct mesh_endpoint_info *out)
{
	if (!s || !out || out->struct_size < EP_MIN_SIZE || i >= mesh_service_endpoint_count(s))
		return MESH_EINVAL;
	const struct mesh__reg_endpoint *e = &s->eps->v[i];
	out->address = e->address;
	out->port = e->port;
	out->labels = e->labels;
	out->locality = e->locality;
	out->weight = e->weight;
	out->service_account = e->service_account;
	out->network = e->network;
	if (EP_HAS(out, service_port))
		out->service_port = e->service_port;
	if (EP_HAS(out, namespace_name))
		out->namespace_name = e->ns;
	return 0;
}
