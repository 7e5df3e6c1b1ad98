/*
 * gateway.c - gateway mode: the servers of the Gateways that select the
 * proxy (by their selector against its labels, in every namespace, as
 * Istio does with PILOT_SCOPE_GATEWAY_TO_NAMESPACE off), read once per
 * configuration snapshot with their certificates; which server takes a
 * TLS connection (by SNI) and a request (by Host); and routing requests
 * with the VirtualServices bound to that server's Gateway.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/config_int.h"
#include "../route/route_int.h"
#include "gateway.h"
#include "tls.h"

static bool selects(const struct mesh_resource *r, const char *const *labels)
{
	return r->kind == MESH_KIND_GATEWAY && r->spec &&
	       mesh__labels_match(mesh__node_get(r->spec, "selector"), labels);
}

static const struct mesh__node *servers_of(const struct mesh_resource *r)
{
	const struct mesh__node *s = mesh__node_get(r->spec, "servers");
	return s && s->type == MESH_NODE_SEQ ? s : NULL;
}

static unsigned port_of(const struct mesh__node *server)
{
	int64_t v = 0;
	if (!mesh__node_int_loose(mesh__node_path(server, "port.number"), &v) || v < 1 || v > 65535)
		return 0;
	return (unsigned)v;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

size_t mesh__gateway_ports(const mesh_config *cfg, const char *const *labels, unsigned *out,
                           size_t max)
{
	unsigned seen[256];
	size_t n = 0, total = 0;
	for (size_t i = 0; cfg && i < cfg->nres; i++) {
		const struct mesh_resource *r = cfg->res[i];
		const struct mesh__node *servers = selects(r, labels) ? servers_of(r) : NULL;
		for (size_t j = 0; servers && j < servers->count; j++) {
			unsigned port = port_of(servers->u.items[j]);
			bool dup = !port;
			for (size_t k = 0; k < n && !dup; k++)
				dup = seen[k] == port;
			if (dup)
				continue;
			if (n < MESH_ARRAY_LEN(seen))
				seen[n++] = port;
			total++;
		}
	}
	qsort(seen, n, sizeof(*seen), cmp_unsigned);
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = seen[i];
	return total;
}

/* ---- building ---- */

struct build {
	struct mesh__gateway *g;
	const struct mesh__gw_params *prm;
	const struct mesh__gateway *prev;
	mesh_diag *diag;
	const struct mesh_resource *r;
	const struct mesh__node *at;
	char path[64];
	int err;
};

static void warn(struct build *b, const char *fmt, ...) MESH_PRINTF(2, 3);
static void warn(struct build *b, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mesh__diag_add(b->diag, MESH_SEV_WARNING, NULL, b->r->file, b->at ? b->at->line : 0,
	               b->at ? b->at->col : 0, b->path, "Gateway %s/%s: %s", b->r->ns, b->r->name,
	               msg);
}

static char *dup_printf(struct build *b, const char *fmt, ...) MESH_PRINTF(2, 3);
static char *dup_printf(struct build *b, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char *s = n >= 0 ? mesh__arena_strndup(&b->g->arena, buf, strlen(buf)) : NULL;
	if (!s)
		b->err = MESH_ENOMEM;
	return s;
}

static int proto_of(const char *p)
{
	static const struct {
		const char *name;
		int proto;
	} map[] = {
		{ "HTTP", MESH__GW_HTTP },   { "HTTP2", MESH__GW_HTTP },
		{ "GRPC", MESH__GW_HTTP },   { "GRPC-WEB", MESH__GW_HTTP },
		{ "HTTPS", MESH__GW_HTTPS }, { "TLS", MESH__GW_TLS },
		{ "TCP", MESH__GW_TCP },     { "MONGO", MESH__GW_TCP },
		{ "MYSQL", MESH__GW_TCP },   { "REDIS", MESH__GW_TCP },
	};
	for (size_t i = 0; p && i < MESH_ARRAY_LEN(map); i++)
		if (!strcasecmp(p, map[i].name))
			return map[i].proto;
	return -1;
}

static int class_of(int proto)
{
	switch (proto) {
	case MESH__GW_HTTP: return MESH__GW_PORT_HTTP;
	case MESH__GW_TCP: return MESH__GW_PORT_TCP;
	default: return MESH__GW_PORT_TLS;
	}
}

static int tls_version(const char *v)
{
	if (!v || !strcmp(v, "TLS_AUTO"))
		return 0;
	if (!strcmp(v, "TLSV1_0"))
		return TLS1_VERSION;
	if (!strcmp(v, "TLSV1_1"))
		return TLS1_1_VERSION;
	if (!strcmp(v, "TLSV1_2"))
		return TLS1_2_VERSION;
	return TLS1_3_VERSION;
}

static uint64_t file_fp(uint64_t h, const char *path)
{
	struct stat st;
	uint64_t v[3] = { 0, 0, 0 };
	if (stat(path, &st) == 0) {
		v[0] = (uint64_t)st.st_size;
		v[1] = (uint64_t)st.st_mtim.tv_sec;
		v[2] = (uint64_t)st.st_mtim.tv_nsec ^ (uint64_t)st.st_ino << 32;
	}
	const unsigned char *p = (const unsigned char *)v;
	for (size_t i = 0; i < sizeof(v); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

uint64_t mesh__gateway_files_fp(const struct mesh__gateway *g)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; g && i < g->nfiles; i++)
		h = file_fp(h, g->files[i]);
	return h;
}

/* Remember a file the snapshot reads (before it reads it: a change after
 * this shows in the reload poll). */
static bool add_file(struct build *b, const char *path)
{
	struct mesh__gateway *g = b->g;
	for (size_t i = 0; i < g->nfiles; i++)
		if (!strcmp(g->files[i], path))
			return true;
	const char **f = mesh__realloc(g->files, (g->nfiles + 1) * sizeof(*f));
	char *copy = mesh__arena_strndup(&g->arena, path, strlen(path));
	if (f)
		g->files = f;
	if (!f || !copy) {
		b->err = MESH_ENOMEM;
		return false;
	}
	g->files[g->nfiles++] = copy;
	g->files_fp = file_fp(g->files_fp, copy);
	return true;
}

/* A file of a credential directory: the first of @names that exists. */
static const char *cred_file(struct build *b, const char *name, const char *const *names)
{
	for (const char *const *n = names; *n; n++) {
		char *path = dup_printf(b, "%s/%s", name, *n);
		if (path && access(path, F_OK) == 0)
			return path;
	}
	return NULL;
}

/* The server's certificate files: written in the Gateway, or those of its
 * credentialName under --credential-dir (a Kubernetes TLS secret's keys
 * tls.crt / tls.key / ca.crt, or a generic one's cert / key / cacert; the
 * CA may also be in a secret NAME-cacert, as Istio reads it). */
static bool server_files(struct build *b, const struct mesh__node *tls, bool mutual,
                         struct mesh__tls_server_conf *c)
{
	const char *cred = mesh__node_field_str(tls, "credentialName");
	if (mesh__node_field(tls, "credentialNames") || mesh__node_field(tls, "tlsCertificates")) {
		warn(b, "credentialNames and tlsCertificates are not supported: server not served");
		return false;
	}
	if (!cred) {
		c->cert = mesh__node_field_str(tls, "serverCertificate");
		c->key = mesh__node_field_str(tls, "privateKey");
		c->ca = mutual ? mesh__node_field_str(tls, "caCertificates") : NULL;
		c->crl = mutual ? mesh__node_field_str(tls, "caCrl") : NULL;
	} else {
		if (!b->prm->credential_dir) {
			warn(b,
			     "credentialName \"%s\" needs a credential directory (meshproxy "
			     "--credential-dir): server not served",
			     cred);
			return false;
		}
		static const char *const certs[] = { "tls.crt", "cert", NULL };
		static const char *const keys[] = { "tls.key", "key", NULL };
		static const char *const cas[] = { "ca.crt", "cacert", NULL };
		char *dir = dup_printf(b, "%s/%s", b->prm->credential_dir, cred);
		char *cadir = dup_printf(b, "%s/%s-cacert", b->prm->credential_dir, cred);
		if (!dir || !cadir)
			return false;
		c->cert = cred_file(b, dir, certs);
		c->key = cred_file(b, dir, keys);
		if (mutual && !(c->ca = cred_file(b, dir, cas)))
			c->ca = cred_file(b, cadir, cas);
		if (!c->cert || !c->key || (mutual && !c->ca)) {
			warn(b, "credential %s has no %s: server not served", dir,
			     !c->cert  ? "tls.crt (or cert)"
			     : !c->key ? "tls.key (or key)"
			               : "ca.crt (or cacert, or a credential NAME-cacert)");
			if (c->cert)
				add_file(b, c->cert);
			add_file(b, dir); /* so that the poll sees the files appear */
			return false;
		}
		/* the secret's own CRL, when it has one */
		static const char *const crls[] = { "ca.crl", NULL };
		c->crl = mutual ? cred_file(b, dir, crls) : NULL;
	}
	const char *files[] = { c->cert, c->key, c->ca, c->crl };
	for (size_t i = 0; i < MESH_ARRAY_LEN(files); i++)
		if (files[i] && !add_file(b, files[i]))
			return false;
	return true;
}

/* The previous snapshot's context for the same server, if it had one. */
static SSL_CTX *prev_ctx(struct build *b, const char *key)
{
	for (size_t i = 0; b->prev && i < b->prev->nservers; i++)
		if (!strcmp(b->prev->servers[i].key, key) && b->prev->servers[i].ctx)
			return b->prev->servers[i].ctx;
	return NULL;
}

/* TLS settings: the mode, and a context for a terminating server. Returns
 * false when the server cannot be served. */
static bool server_tls(struct build *b, struct mesh__gw_server *s, const struct mesh__node *tls)
{
	static const char *const modes[] = { "", "SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL",
		                             "ISTIO_MUTUAL" };
	const char *mode = mesh__node_field_str(tls, "mode");
	if (s->proto == MESH__GW_HTTP || s->proto == MESH__GW_TCP) {
		s->mode = MESH__GW_PLAIN;
		const char *r = mesh__node_str(mesh__node_get(tls, "httpsRedirect"));
		s->https_redirect = s->proto == MESH__GW_HTTP && r && !strcmp(r, "true");
		return true;
	}
	s->mode = MESH__GW_PASSTHROUGH; /* an unset mode is protobuf's zero value */
	for (size_t i = 1; mode && i < MESH_ARRAY_LEN(modes); i++)
		if (!strcmp(mode, modes[i]))
			s->mode = (uint8_t)i;
	if (mode && !strcmp(mode, "AUTO_PASSTHROUGH")) {
		warn(b, "tls mode AUTO_PASSTHROUGH (multi-network) is not supported: server not "
		        "served");
		return false;
	}
	if (s->mode == MESH__GW_PASSTHROUGH || s->mode == MESH__GW_ISTIO_MUTUAL)
		return true; /* nothing to load: the identity serves ISTIO_MUTUAL */
	if (mesh__node_field(tls, "verifyCertificateSpki") ||
	    mesh__node_field(tls, "verifyCertificateHash")) {
		warn(b, "verifyCertificateSpki and verifyCertificateHash are not supported: server "
		        "not served");
		return false;
	}
	bool mutual = s->mode == MESH__GW_MUTUAL || s->mode == MESH__GW_OPTIONAL_MUTUAL;
	struct mesh__tls_server_conf c = {
		.require_client = s->mode == MESH__GW_MUTUAL,
		.min_version = tls_version(mesh__node_field_str(tls, "minProtocolVersion")),
		.max_version = tls_version(mesh__node_field_str(tls, "maxProtocolVersion")),
		.alpn = s->proto == MESH__GW_HTTPS,
	};
	if (server_files(b, tls, mutual, &c)) {
		const struct mesh__node *sans = mesh__node_field(tls, "subjectAltNames");
		const struct mesh__node *ciphers = mesh__node_field(tls, "cipherSuites");
		const char *san_v[32];
		char cipher_list[1024] = "", err[512];
		for (size_t i = 0; mutual && sans && sans->type == MESH_NODE_SEQ &&
		                   i < sans->count && c.nsans < MESH_ARRAY_LEN(san_v);
		     i++)
			if (mesh__node_str(sans->u.items[i]))
				san_v[c.nsans++] = sans->u.items[i]->u.str;
		c.sans = san_v;
		for (size_t i = 0; ciphers && ciphers->type == MESH_NODE_SEQ && i < ciphers->count;
		     i++) {
			const char *cs = mesh__node_str(ciphers->u.items[i]);
			size_t len = strlen(cipher_list);
			if (cs && *cs != '[') /* "[A|B]" groups are BoringSSL's */
				snprintf(cipher_list + len, sizeof(cipher_list) - len, "%s%s",
				         len ? ":" : "", cs);
		}
		if (cipher_list[0])
			c.ciphers = cipher_list;
		if ((s->ctx = mesh__tls_server_ctx(&c, err, sizeof(err))))
			return true;
		warn(b, "tls %s: %s", modes[s->mode], err);
	}
	if ((s->ctx = prev_ctx(b, s->key))) {
		SSL_CTX_up_ref(s->ctx);
		warn(b, "keeping the certificate loaded before for port %u", s->port);
		return true;
	}
	warn(b, "server on port %u not served", s->port);
	return false;
}

/* "ns/host" entries: "*" or no namespace means any; "." the Gateway's. */
static bool server_hosts(struct build *b, struct mesh__gw_server *s, const struct mesh__node *hosts)
{
	size_t n = hosts && hosts->type == MESH_NODE_SEQ ? hosts->count : 0;
	s->hosts = mesh__arena_alloc(&b->g->arena, (n + 1) * sizeof(*s->hosts));
	if (!s->hosts) {
		b->err = MESH_ENOMEM;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const char *h = mesh__node_str(hosts->u.items[i]);
		if (!h)
			continue;
		const char *slash = strchr(h, '/');
		const char *ns = NULL, *host = slash ? slash + 1 : h;
		if (slash && !(slash - h == 1 && h[0] == '*'))
			ns = (slash - h == 1 && h[0] == '.')
			             ? b->r->ns
			             : dup_printf(b, "%.*s", (int)(slash - h), h);
		char *lower = dup_printf(b, "%s", host);
		if (!lower || (slash && !ns))
			return false;
		for (char *p = lower; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		s->hosts[s->nhosts++] = (struct mesh__gw_host){ ns, lower };
		if (!strcmp(lower, "*"))
			s->catch_all = true;
	}
	return true;
}

static struct mesh__gw_port *find_port(struct mesh__gateway *g, unsigned port)
{
	for (size_t i = 0; i < g->nports; i++)
		if (g->ports[i].port == port)
			return &g->ports[i];
	return NULL;
}

static void add_server(struct build *b, const struct mesh__node *node, size_t index)
{
	struct mesh__gateway *g = b->g;
	struct mesh__gw_server s = { .line = node->line, .col = node->col, .file = b->r->file };
	b->at = node;
	snprintf(b->path, sizeof(b->path), "spec.servers[%zu]", index);
	s.port = port_of(node);
	const char *proto = mesh__node_str(mesh__node_path(node, "port.protocol"));
	const char *pname = mesh__node_str(mesh__node_path(node, "port.name"));
	int p = proto_of(proto);
	if (!s.port)
		return;
	if (p < 0) {
		warn(b, "port %u: protocol %s is not served by a gateway", s.port,
		     proto ? proto : "(none)");
		return;
	}
	s.proto = (uint8_t)p;
	s.gateway = dup_printf(b, "%s/%s", b->r->ns, b->r->name);
	s.key = dup_printf(b, "%s/%s#%s", b->r->ns, b->r->name, pname ? pname : "");
	if (!s.gateway || !s.key || !server_hosts(b, &s, mesh__node_get(node, "hosts")))
		return;
	if (mesh__node_field_str(node, "bind"))
		warn(b, "bind is not supported: port %u is served on the proxy's address", s.port);
	/* one listener, one kind of traffic: Envoy builds a port's filter
	 * chains from the first servers; one that does not fit is left out */
	struct mesh__gw_port *gp = find_port(g, s.port);
	if (gp && gp->cls != class_of(s.proto)) {
		warn(b,
		     "port %u already carries %s from an earlier server: this %s server is not "
		     "served",
		     s.port,
		     gp->cls == MESH__GW_PORT_HTTP  ? "plain-text HTTP"
		     : gp->cls == MESH__GW_PORT_TCP ? "TCP"
		                                    : "TLS",
		     proto);
		return;
	}
	if (!server_tls(b, &s, mesh__node_field(node, "tls")))
		return;
	if (!gp) {
		struct mesh__gw_port *np = mesh__realloc(g->ports, (g->nports + 1) * sizeof(*np));
		if (!np)
			goto oom;
		g->ports = np;
		g->ports[g->nports++] =
			(struct mesh__gw_port){ s.port, (uint8_t)class_of(s.proto) };
	}
	struct mesh__gw_server *ns = mesh__realloc(g->servers, (g->nservers + 1) * sizeof(*ns));
	if (!ns)
		goto oom;
	g->servers = ns;
	g->servers[g->nservers++] = s;
	return;
oom:
	SSL_CTX_free(s.ctx);
	b->err = MESH_ENOMEM;
}

int mesh__gateway_build(const mesh_config *cfg, const struct mesh__gw_params *prm,
                        const struct mesh__gateway *prev, struct mesh__gateway **out,
                        mesh_diag *diag)
{
	struct mesh__gateway *g = mesh__calloc(1, sizeof(*g));
	if (!g)
		return MESH_ENOMEM;
	mesh__arena_init(&g->arena);
	g->files_fp = mesh__gateway_files_fp(NULL);
	struct build b = { .g = g, .prm = prm, .prev = prev, .diag = diag };
	for (size_t i = 0; i < cfg->nres && !b.err; i++) {
		const struct mesh_resource *r = cfg->res[i];
		const struct mesh__node *servers = selects(r, prm->labels) ? servers_of(r) : NULL;
		b.r = r;
		for (size_t j = 0; servers && j < servers->count && !b.err; j++)
			add_server(&b, servers->u.items[j], j);
	}
	/* listeners are bound at start: a port that came later has none */
	for (size_t i = 0; i < g->nservers && !b.err; i++) {
		const struct mesh__gw_server *s = &g->servers[i];
		bool bound = false, told = false;
		for (size_t k = 0; k < prm->nlisten && !bound; k++)
			bound = prm->listen[k] == s->port;
		for (size_t k = 0; k < i && !told; k++)
			told = g->servers[k].port == s->port;
		if (!bound && !told)
			mesh__diag_add(
				diag, MESH_SEV_WARNING, NULL, s->file, s->line, s->col, NULL,
				"Gateway %s: port %u has no gateway listener: its servers are "
				"not served",
				s->gateway, s->port);
	}
	if (b.err) {
		mesh__gateway_free(g);
		return b.err;
	}
	*out = g;
	return 0;
}

void mesh__gateway_free(struct mesh__gateway *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nservers; i++)
		SSL_CTX_free(g->servers[i].ctx);
	mesh__free(g->servers);
	mesh__free(g->ports);
	mesh__free(g->files);
	mesh__arena_fini(&g->arena);
	mesh__free(g);
}

/* ---- choosing a server ---- */

int mesh__gateway_port_class(const struct mesh__gateway *g, unsigned port)
{
	for (size_t i = 0; g && i < g->nports; i++)
		if (g->ports[i].port == port)
			return g->ports[i].cls;
	return MESH__GW_PORT_NONE;
}

/* How specifically @pattern covers @host: -1 not at all, 0 for "*", the
 * suffix length for a wildcard, more than any suffix for an exact name. */
static int cover_score(const char *pattern, const char *host)
{
	if (!strcmp(pattern, "*"))
		return 0;
	if (pattern[0] == '*') {
		size_t pl = strlen(pattern) - 1, hl = strlen(host);
		return hl > pl && !strcmp(host + hl - pl, pattern + 1) ? (int)pl : -1;
	}
	return !strcmp(pattern, host) ? 1 << 20 : -1;
}

static int server_score(const struct mesh__gw_server *s, const char *host)
{
	int best = -1;
	for (size_t i = 0; i < s->nhosts; i++) {
		int sc = cover_score(s->hosts[i].host, host);
		if (sc > best)
			best = sc;
	}
	return best;
}

const struct mesh__gw_server *mesh__gateway_by_sni(const struct mesh__gateway *g, unsigned port,
                                                   const char *sni)
{
	const struct mesh__gw_server *best = NULL;
	int best_score = -1;
	for (size_t i = 0; g && i < g->nservers; i++) {
		const struct mesh__gw_server *s = &g->servers[i];
		if (s->port != port || (s->proto != MESH__GW_HTTPS && s->proto != MESH__GW_TLS))
			continue;
		/* Istio gives a server with host "*" no server names: it takes any
		 * SNI (and none), after every server that names it */
		int sc = s->catch_all ? 0 : sni ? server_score(s, sni) : -1;
		if (sc > best_score) {
			best = s;
			best_score = sc;
		}
	}
	return best;
}

const struct mesh__gw_server *mesh__gateway_tcp_server(const struct mesh__gateway *g, unsigned port)
{
	for (size_t i = 0; g && i < g->nservers; i++)
		if (g->servers[i].port == port && g->servers[i].proto == MESH__GW_TCP)
			return &g->servers[i];
	return NULL;
}

/* ---- routing ---- */

/* The host of an authority: lower case, without the port. */
static void authority_host(const char *authority, char *host, size_t size)
{
	size_t n = 0;
	for (const char *p = authority; p && *p && n + 1 < size; p++) {
		if (*p == ':' && authority[0] != '[')
			break;
		host[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
		if (*p == ']')
			break;
	}
	host[n] = '\0';
}

struct ns_filter {
	const struct mesh__gw_server *server;
	const char *host;
};

/* Whether the VirtualService of route @rt may serve the host on the
 * server: a host entry "ns/host" that covers it admits namespace ns only. */
static bool namespace_allowed(const struct mesh_route *rt, void *arg)
{
	const struct ns_filter *f = arg;
	const char *ns = mesh_route_rule_namespace(rt);
	for (size_t i = 0; i < f->server->nhosts; i++) {
		const struct mesh__gw_host *h = &f->server->hosts[i];
		if (cover_score(h->host, f->host) >= 0 && (!h->ns || (ns && !strcmp(h->ns, ns))))
			return true;
	}
	return false;
}

int mesh__gateway_route(const struct mesh__gateway *g, const mesh_router *r, unsigned port,
                        bool tls, const char *sni, struct mesh_request *req, mesh_route_scratch *s,
                        const mesh_route **out)
{
	char host[300];
	authority_host(req->authority, host, sizeof(host));
	/* the servers whose hosts cover the Host, most specific first */
	const struct mesh__gw_server *cand[16];
	int score[16];
	size_t n = 0;
	if (tls) {
		const struct mesh__gw_server *srv = mesh__gateway_by_sni(g, port, sni);
		if (srv && srv->proto == MESH__GW_HTTPS && srv->mode != MESH__GW_PASSTHROUGH &&
		    (score[0] = server_score(srv, host)) >= 0)
			cand[n++] = srv;
	} else {
		for (size_t i = 0; g && i < g->nservers && n < MESH_ARRAY_LEN(cand); i++) {
			const struct mesh__gw_server *srv = &g->servers[i];
			int sc = srv->port == port && srv->proto == MESH__GW_HTTP
			                 ? server_score(srv, host)
			                 : -1;
			if (sc < 0)
				continue;
			size_t at = n++;
			while (at > 0 && score[at - 1] < sc) {
				cand[at] = cand[at - 1];
				score[at] = score[at - 1];
				at--;
			}
			cand[at] = srv;
			score[at] = sc;
		}
	}
	req->port = port;
	req->scheme = tls ? "https" : "http";
	for (size_t i = 0; i < n; i++) {
		if (cand[i]->https_redirect)
			return MESH__GW_REDIRECT;
		req->gateway = cand[i]->gateway;
		struct ns_filter f = { cand[i], host };
		if (!mesh__router_route_filtered(r, req, s, namespace_allowed, &f, out))
			return 0;
	}
	return MESH_ENOTFOUND;
}
