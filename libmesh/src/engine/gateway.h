/*
 * gateway.h - gateway mode (Istio's ingress gateway): the servers of the
 * Gateways that select the proxy, built once per configuration snapshot
 * with their TLS contexts (gateway.c); the choice of a server for a TLS
 * connection by its SNI, as Envoy chooses a filter chain, and for a
 * request by its Host; routing with the VirtualServices bound to the
 * server's Gateway.
 */
#ifndef MESH_SRC_ENGINE_GATEWAY_H
#define MESH_SRC_ENGINE_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include <mesh/config.h>
#include <mesh/diag.h>
#include <mesh/route.h>

#include "../core/core.h"

/* What a server speaks, from its port.protocol. */
enum mesh__gw_proto {
	MESH__GW_HTTP = 0, /* HTTP, HTTP2, GRPC, GRPC-WEB: plain text */
	MESH__GW_HTTPS,    /* TLS, then HTTP */
	MESH__GW_TLS,      /* TLS, then bytes (or passed through) */
	MESH__GW_TCP,      /* bytes: TCP, MONGO, MYSQL, REDIS */
};

/* tls.mode */
enum mesh__gw_mode {
	MESH__GW_PLAIN = 0,
	MESH__GW_SIMPLE,
	MESH__GW_MUTUAL,
	MESH__GW_OPTIONAL_MUTUAL,
	MESH__GW_ISTIO_MUTUAL,
	MESH__GW_PASSTHROUGH,
};

/* What a listener port carries: its first server decides. */
enum mesh__gw_class {
	MESH__GW_PORT_NONE = 0, /* no server: connections are closed */
	MESH__GW_PORT_HTTP,
	MESH__GW_PORT_TCP,
	MESH__GW_PORT_TLS, /* HTTPS and TLS servers, told apart by SNI */
};

/* One entry of a server's hosts: "ns/host", "*" / no namespace: any. */
struct mesh__gw_host {
	const char *ns;   /* VirtualServices of this namespace only, or NULL */
	const char *host; /* lower case: "a.example.com", "*.example.com", "*" */
};

struct mesh__gw_server {
	const char *gateway; /* "ns/name" */
	const char *key;     /* "ns/name#port-name": the same server across reloads */
	const char *file;    /* where it is written, for logs */
	unsigned line, col;
	unsigned port; /* the Gateway's port number */
	uint8_t proto; /* enum mesh__gw_proto */
	uint8_t mode;  /* enum mesh__gw_mode */
	bool https_redirect;
	bool catch_all; /* a host "*": Envoy's filter chain without server names */
	struct mesh__gw_host *hosts;
	size_t nhosts;
	SSL_CTX *ctx; /* SIMPLE / MUTUAL / OPTIONAL_MUTUAL: its certificate */
};

struct mesh__gw_port {
	unsigned port;
	uint8_t cls; /* enum mesh__gw_class */
};

/* The gateway part of a snapshot: immutable once built. */
struct mesh__gateway {
	struct mesh__arena arena;
	struct mesh__gw_server *servers; /* usable servers, in configuration order */
	size_t nservers;
	struct mesh__gw_port *ports;
	size_t nports;
	const char **files; /* certificate and key files read, for the reload poll */
	size_t nfiles;
	uint64_t files_fp; /* their sizes and times, taken before they were read */
};

/* What mesh__gateway_build() needs to know of the proxy. */
struct mesh__gw_params {
	const char *const *labels;  /* the proxy's: Gateways select by them */
	const char *credential_dir; /* credentialName -> DIR/NAME/tls.crt ..., or NULL */
	const unsigned *listen;     /* Gateway port numbers that have a listener */
	size_t nlisten;
};

/* Build the servers of the Gateways of @cfg whose selector matches
 * @prm->labels (any namespace). A server that cannot be served (a file
 * that does not load, a mode or protocol not supported, a port whose
 * protocol conflicts with an earlier server's) is a warning in @diag and
 * is left out; when @prev served the same server with a certificate, that
 * one is kept instead (as Envoy keeps a secret whose update failed).
 * Returns 0 or MESH_ENOMEM. */
int mesh__gateway_build(const mesh_config *cfg, const struct mesh__gw_params *prm,
                        const struct mesh__gateway *prev, struct mesh__gateway **out,
                        mesh_diag *diag);
void mesh__gateway_free(struct mesh__gateway *g);

/* The sizes and modification times of @g's files now: unlike @g->files_fp
 * when one was replaced since it was read. */
uint64_t mesh__gateway_files_fp(const struct mesh__gateway *g);

/* The distinct port numbers of the servers of the Gateways of @cfg that
 * select @labels, ascending: up to @max in @out; returns how many. */
size_t mesh__gateway_ports(const mesh_config *cfg, const char *const *labels, unsigned *out,
                           size_t max);

/* enum mesh__gw_class of Gateway port @port (@g may be NULL). */
int mesh__gateway_port_class(const struct mesh__gateway *g, unsigned port);

/* The HTTPS / TLS server of @port for a ClientHello with @sni (NULL:
 * none): an exact host first, then the longest wildcard, then a server
 * with host "*". NULL when none takes it (the connection is closed). */
const struct mesh__gw_server *mesh__gateway_by_sni(const struct mesh__gateway *g, unsigned port,
                                                   const char *sni);
/* The first TCP server of @port, or NULL. */
const struct mesh__gw_server *mesh__gateway_tcp_server(const struct mesh__gateway *g,
                                                       unsigned port);

/* mesh__gateway_route() answers this when the server asks for HTTPS */
#define MESH__GW_REDIRECT 1

/* Route @req (authority, path, headers ... set by the caller; its gateway,
 * port and scheme are set here) that arrived on Gateway port @port: over
 * TLS (@tls) the server is the one @sni chose, over plain text every HTTP
 * server of the port whose hosts cover the Host, most specific first. The
 * Host must be one of the server's hosts, and the route must come from a
 * VirtualService bound to its Gateway, from a namespace the host entry
 * allows. Returns 0 with *@out set, MESH__GW_REDIRECT (an httpsRedirect
 * server: 301 to https), or MESH_ENOTFOUND (404, Envoy's NR). */
int mesh__gateway_route(const struct mesh__gateway *g, const mesh_router *r, unsigned port,
                        bool tls, const char *sni, struct mesh_request *req, mesh_route_scratch *s,
                        const mesh_route **out);

#endif
