/*
 * proxy.c - mesh_proxy: options, listeners, the main loop (reload, drain,
 * stop, admin), and building and publishing configuration snapshots.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mesh/security.h>

#include "../lb/cluster.h"
#include "engine_int.h"
#include "gateway.h"
#include "dns.h"
#include "tls.h"

_Atomic int mesh__log_level = MESH_LOG_INFO;

void mesh__log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	if (level > atomic_load_explicit(&mesh__log_level, memory_order_relaxed))
		return;
	char buf[1024];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(buf, sizeof(buf),
	                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                 ts.tv_nsec / 1000000, names[level & 3]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(buf))
		vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line, so lines of threads do not interleave */
	size_t len = strlen(buf);
	if (len < sizeof(buf) - 1)
		buf[len++] = '\n';
	ssize_t w = write(2, buf, len);
	(void)w;
}

int64_t mesh__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- snapshots ---- */

void mesh__snapshot_unref(struct mesh__snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (size_t i = 0; i < s->ntls_ctx; i++)
		SSL_CTX_free(s->tls_ctx[i]);
	mesh__free(s->tls_ctx);
	mesh__gateway_free(s->gw);
	mesh_router_unref(s->router);
	mesh_registry_free(s->reg);
	mesh_config_unref(s->cfg);
	mesh__free(s);
}

struct mesh__snapshot *mesh__proxy_snapshot_ref(struct mesh_proxy *p)
{
	/* under the lock that publish() swaps under: a snapshot loaded here
	 * cannot lose its last reference before this one is added. Taken once
	 * per snapshot change per worker, and by admin pages: never per request */
	pthread_mutex_lock(&p->snap_lock);
	struct mesh__snapshot *s = atomic_load(&p->snap);
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&p->snap_lock);
	return s;
}

static void log_diag(const mesh_diag *d, int min_sev)
{
	for (size_t i = 0; i < mesh_diag_count(d); i++) {
		int sev = mesh_diag_severity(d, i);
		if (sev < min_sev)
			continue;
		char *line = mesh_diag_format(d, i);
		mesh__log(sev == MESH_SEV_ERROR ? MESH_LOG_ERROR : MESH_LOG_WARNING, "%s",
		          line ? line : "(out of memory)");
		mesh_free(line);
	}
}

/* The inbound listeners' mTLS modes (PeerAuthentication), for the app
 * port each serves: portLevelMtls is keyed by the workload's port. */
static void snapshot_mtls(struct mesh_proxy *p, struct mesh__snapshot *s)
{
	for (size_t i = 0; i < p->nlcfg && i < MESH_MAX_LISTENERS; i++) {
		const struct mesh__listener_cfg *lc = &p->lcfg[i];
		if (lc->kind != MESH_LISTENER_INBOUND && lc->kind != MESH_LISTENER_INBOUND_TCP)
			continue;
		const char *colon = strrchr(lc->target, ':');
		unsigned port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
		int mode =
			mesh_mtls_mode(s->cfg, p->ns, (const char *const *)p->labels, port, NULL);
		s->mtls[i] = (uint8_t)(mode > 0 ? mode : MESH_MTLS_STRICT); /* fail closed */
	}
}

/* DestinationRule SIMPLE / MUTUAL: a client context per cluster, files
 * read now. A file that cannot be used is a warning (the cluster's
 * connections then fail with UF), not a refused configuration. */
static void snapshot_tls_origination(struct mesh__snapshot *s, mesh_diag *diag)
{
	size_t n = mesh_router_cluster_count(s->router);
	for (size_t i = 0; i < n; i++) {
		const struct mesh_cluster *c = mesh_router_cluster_at(s->router, i);
		if (c->lb.tls_mode != 2 && c->lb.tls_mode != 3)
			continue;
		if (!s->tls_ctx && !(s->tls_ctx = mesh__calloc(n, sizeof(SSL_CTX *))))
			return;
		s->ntls_ctx = n;
		char err[512];
		if (!(s->tls_ctx[c->index] = mesh__tls_origination_ctx(c, err, sizeof(err))))
			mesh__diag_add(diag, MESH_SEV_WARNING, NULL, NULL, 0, 0, NULL,
			               "cluster %s: DestinationRule tls %s: %s", c->name,
			               c->lb.tls_mode == 2 ? "SIMPLE" : "MUTUAL", err);
	}
}

/* Gateway mode: gateway listeners, or new ones opened on reloads. */
static bool gateway_mode(const struct mesh_proxy *p)
{
	return p->ngateway || p->gateway_bind;
}

/* A running gateway with gateway_bind: a listener for each port of the
 * Gateways of @cfg that has none, bound to the port number itself. The
 * workers start listening when they next wake (after the snapshot that
 * serves the port is published). A port that cannot be bound is a
 * warning; its servers are left out. */
static void open_gateway_ports(struct mesh_proxy *p, const mesh_config *cfg, mesh_diag *diag)
{
	if (!p->running || !p->gateway_bind || atomic_load(&p->draining))
		return;
	unsigned ports[MESH_MAX_LISTENERS];
	size_t n =
		mesh__gateway_ports(cfg, (const char *const *)p->labels, ports, MESH_MAX_LISTENERS);
	if (n > MESH_MAX_LISTENERS)
		n = MESH_MAX_LISTENERS;
	for (size_t i = 0; i < n; i++) {
		bool have = false;
		for (size_t k = 0; k < p->nlcfg && !have; k++)
			have = p->lcfg[k].kind == MESH_LISTENER_GATEWAY &&
			       p->lcfg[k].gw_port == ports[i];
		if (have)
			continue;
		if (p->nlcfg == MESH_MAX_LISTENERS) {
			mesh__diag_add(diag, MESH_SEV_WARNING, NULL, NULL, 0, 0, NULL,
			               "Gateway port %u: no room for another listener (%d at most)",
			               ports[i], MESH_MAX_LISTENERS);
			continue;
		}
		mesh_diag *bd = NULL;
		unsigned bound = 0;
		int fd = mesh_diag_new(&bd)
		                 ? MESH_ENOMEM
		                 : mesh__listen_socket(p->gateway_bind, ports[i], true, bd, &bound);
		if (fd < 0) {
			mesh__diag_add(diag, MESH_SEV_WARNING, NULL, NULL, 0, 0, NULL,
			               "Gateway port %u: %s", ports[i],
			               bd && mesh_diag_count(bd) ? mesh_diag_message(bd, 0)
			                                         : mesh_strerror(fd));
			mesh_diag_free(bd);
			continue;
		}
		mesh_diag_free(bd);
		struct mesh__listener_cfg *l = &p->lcfg[p->nlcfg];
		memset(l, 0, sizeof(*l));
		l->kind = MESH_LISTENER_GATEWAY;
		snprintf(l->addr, sizeof(l->addr), "%s", p->gateway_bind);
		snprintf(l->target, sizeof(l->target), "%u", ports[i]);
		l->gw_port = ports[i];
		l->port = bound;
		p->bound_fds[p->nlcfg] = fd;
		p->bound_ports[p->nlcfg] = bound;
		p->nlcfg++;
		p->ngateway++;
		mesh__log(MESH_LOG_INFO,
		          "gateway listener on %s:%u (Gateway port %u): opened for a new server",
		          p->gateway_bind, bound, ports[i]);
	}
}

/* Gateway mode: the servers of the Gateways that select the proxy, with
 * their certificates read now (@prev: the snapshot in use, whose
 * certificates are kept for a server whose files do not load). */
static int snapshot_gateway(struct mesh_proxy *p, struct mesh__snapshot *s,
                            const struct mesh__snapshot *prev, mesh_diag *diag)
{
	unsigned listen[MESH_MAX_LISTENERS];
	size_t n = 0;
	for (size_t i = 0; i < p->nlcfg; i++)
		if (p->lcfg[i].kind == MESH_LISTENER_GATEWAY)
			listen[n++] = p->lcfg[i].gw_port;
	struct mesh__gw_params prm = { .labels = (const char *const *)p->labels,
		                       .credential_dir = p->credential_dir,
		                       .listen = listen,
		                       .nlisten = n };
	return mesh__gateway_build(s->cfg, &prm, prev ? prev->gw : NULL, &s->gw, diag);
}

/* Load the config dir into a new snapshot. Errors keep it from being
 * built; they are in @diag. */
static int build_snapshot(struct mesh_proxy *p, struct mesh__snapshot **out, mesh_diag *diag)
{
	struct mesh__snapshot *s = mesh__calloc(1, sizeof(*s));
	if (!s)
		return MESH_ENOMEM;
	atomic_init(&s->refs, 1);
	int rc = mesh_config_new(&s->cfg);
	if (!rc && p->ns)
		rc = mesh_config_set_default_namespace(s->cfg, p->ns);
	if (!rc) {
		rc = mesh_config_load_path(s->cfg, p->config_dir, diag);
		if (!rc && mesh_diag_count_severity(diag, MESH_SEV_ERROR))
			rc = MESH_ECONFIG;
	}
	if (!rc)
		rc = mesh_registry_new(&s->reg);
	if (!rc)
		rc = mesh_registry_load_config(s->reg, s->cfg, diag);
	if (!rc) {
		struct mesh_workload wl = { .struct_size = sizeof(wl),
			                    .namespace_name = p->ns,
			                    .name = p->workload,
			                    .labels = (const char *const *)p->labels };
		rc = mesh_router_new(s->cfg, s->reg, &wl, &s->router, diag);
	}
	if (rc) {
		mesh__snapshot_unref(s);
		return rc;
	}
	snapshot_mtls(p, s);
	snapshot_tls_origination(s, diag);
	/* (the first snapshot comes before the listeners: mesh_proxy_run()
	 * builds its gateway part) */
	bool gw = p->ngateway || (p->running && p->gateway_bind);
	if (gw)
		open_gateway_ports(p, s->cfg, diag);
	if (gw && (rc = snapshot_gateway(p, s, atomic_load(&p->snap), diag))) {
		mesh__snapshot_unref(s);
		return rc;
	}
	s->generation = ++p->generation;
	*out = s;
	return 0;
}

/* A cheap fingerprint of the config dir (names, sizes, mtimes), so that a
 * poll only reloads when something changed. */
static uint64_t fp_mix(uint64_t h, const void *data, size_t len)
{
	const unsigned char *b = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static uint64_t fingerprint_dir(const char *path, uint64_t h, int depth)
{
	struct stat st;
	if (depth > 16 || stat(path, &st) != 0)
		return fp_mix(h, "?", 1);
	h = fp_mix(h, path, strlen(path));
	h = fp_mix(h, &st.st_size, sizeof(st.st_size));
	h = fp_mix(h, &st.st_mtim, sizeof(st.st_mtim));
	if (!S_ISDIR(st.st_mode))
		return h;
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			char child[4096];
			snprintf(child, sizeof(child), "%s/%s", path, names[i]->d_name);
			h = fingerprint_dir(child, h, depth + 1);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	return h;
}

/* The config dir, and in gateway mode the credential directory. Taken
 * before a load, so that a change while loading is seen by the next poll. */
static uint64_t fingerprint(struct mesh_proxy *p)
{
	uint64_t h = fingerprint_dir(p->config_dir, 1469598103934665603ULL, 0);
	if (gateway_mode(p) && p->credential_dir)
		h = fingerprint_dir(p->credential_dir, h, 0);
	return h;
}

/* DNS endpoints of the new configuration: resolved by a thread of their
 * own, started the first time a configuration has any. */
static void dns_update(struct mesh_proxy *p, const struct mesh__snapshot *s)
{
	if (!p->dns && (!mesh__router_has_dns(s->router) || mesh__dns_new(&p->dns, 0)))
		return;
	mesh__dns_want_router(p->dns, s->router);
}

static void publish(struct mesh_proxy *p, struct mesh__snapshot *s)
{
	pthread_mutex_lock(&p->snap_lock);
	struct mesh__snapshot *old = atomic_exchange(&p->snap, s);
	pthread_mutex_unlock(&p->snap_lock);
	/* listeners opened for it (gateway ports): the workers take them up */
	atomic_store_explicit(&p->nlcfg_live, p->nlcfg, memory_order_release);
	for (unsigned i = 0; i < p->nworkers; i++)
		mesh__worker_wake(&p->workers[i]);
	mesh__snapshot_unref(old);
}

static void reload(struct mesh_proxy *p, const char *why)
{
	mesh_diag *diag = NULL;
	struct mesh__snapshot *s = NULL;
	if (mesh_diag_new(&diag))
		return;
	int rc = build_snapshot(p, &s, diag);
	if (rc) {
		mesh__ctr_add(&p->reloads_failed, 1);
		mesh__log(MESH_LOG_ERROR, "reload (%s) refused, keeping configuration %llu: %s",
		          why, (unsigned long long)p->generation, mesh_strerror(rc));
		log_diag(diag, MESH_SEV_ERROR);
	} else {
		mesh__ctr_add(&p->reloads_ok, 1);
		log_diag(diag, MESH_SEV_WARNING);
		mesh__log(MESH_LOG_INFO, "configuration %llu loaded (%s): %zu resources",
		          (unsigned long long)s->generation, why,
		          mesh_config_resource_count(s->cfg));
		dns_update(p, s);
		publish(p, s);
	}
	mesh_diag_free(diag);
}

/* ---- main loop ---- */

static void stop_workers(struct mesh_proxy *p)
{
	for (unsigned i = 0; i < p->nworkers; i++)
		mesh__worker_wake(&p->workers[i]);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i].thread, NULL);
	ev_break(p->loop, EVBREAK_ALL);
}

/* Client connections still open: the drain ends early when none is left
 * (idle keep-alive ones are kept until then, as Envoy keeps them). */
static unsigned active_conns(struct mesh_proxy *p)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < p->nworkers; i++)
		n += atomic_load_explicit(&p->workers[i].ctr[C_DOWNSTREAM_CX_ACTIVE],
		                          memory_order_relaxed);
	return (unsigned)n;
}

static void on_drain_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh_proxy *p = t->data;
	int64_t left = p->opts.drain_ms - (mesh__now_ms() - p->started_ms);
	if (active_conns(p) == 0 || left <= 0) {
		mesh__log(MESH_LOG_INFO, "drained%s; stopping",
		          left <= 0 ? " (drain time over)" : "");
		atomic_store(&p->want_stop, 1);
		ev_timer_stop(loop, t);
		stop_workers(p);
	}
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
	struct mesh_proxy *p = a->data;
	if (atomic_exchange(&p->want_stop, 0)) {
		atomic_store(&p->want_stop, 1); /* workers read it */
		mesh__log(MESH_LOG_INFO, "stopping");
		stop_workers(p);
		return;
	}
	if (atomic_exchange(&p->want_reload, 0))
		reload(p, "signal");
	if (atomic_exchange(&p->want_drain, 0) && !atomic_load(&p->draining)) {
		atomic_store(&p->draining, true);
		mesh__log(MESH_LOG_INFO, "draining for up to %lld ms", (long long)p->opts.drain_ms);
		for (unsigned i = 0; i < p->nworkers; i++)
			mesh__worker_wake(&p->workers[i]);
		p->started_ms = mesh__now_ms();
		ev_timer_init(&p->drain_timer, on_drain_timer, 0.05, 0.05);
		p->drain_timer.data = p;
		ev_timer_start(loop, &p->drain_timer);
	}
}

/* A gateway's certificate files, wherever they are (Envoy watches the
 * files of its certificates too). 0 without a gateway. */
static uint64_t cert_files(struct mesh_proxy *p)
{
	const struct mesh__snapshot *s = atomic_load(&p->snap);
	return s && s->gw ? mesh__gateway_files_fp(s->gw) : 0;
}

/* Changed since the snapshot read them, and not already reloaded for (a
 * reload that failed). */
static bool cert_files_changed(struct mesh_proxy *p, uint64_t files)
{
	const struct mesh__snapshot *s = atomic_load(&p->snap);
	return s && s->gw && files != s->gw->files_fp && files != p->files_seen;
}

/* A change is loaded once it has held still for SETTLE_S: a file written
 * in place (truncated, then written) is not read half-way, when its
 * writer is only slow. Writers that rename a finished file into place
 * (as Kubernetes and most tools do) lose nothing but the wait. A dir that
 * keeps changing is loaded after SETTLE_MAX_ROUNDS checks anyway. */
#define SETTLE_S 0.05
#define SETTLE_MAX_ROUNDS 20

static void on_settle(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh_proxy *p = t->data;
	uint64_t fp = fingerprint(p), files = cert_files(p);
	if ((fp != p->settle_fp || files != p->settle_files) &&
	    ++p->settle_rounds < SETTLE_MAX_ROUNDS) {
		p->settle_fp = fp;
		p->settle_files = files;
		ev_timer_set(t, SETTLE_S, 0);
		ev_timer_start(loop, t);
		return;
	}
	bool dir = fp != p->fingerprint, files_changed = cert_files_changed(p, files);
	if (!dir && !files_changed)
		return; /* changed back */
	p->fingerprint = fp;
	p->files_seen = files;
	reload(p, dir ? "config dir changed" : "certificate files changed");
}

static void on_poll(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh_proxy *p = t->data;
	if (ev_is_active(&p->settle))
		return;
	uint64_t fp = fingerprint(p), files = cert_files(p);
	if (fp == p->fingerprint && !cert_files_changed(p, files))
		return;
	p->settle_fp = fp;
	p->settle_files = files;
	p->settle_rounds = 0;
	ev_timer_set(&p->settle, SETTLE_S, 0);
	ev_timer_start(loop, &p->settle);
}

static void on_admin(struct ev_loop *loop, ev_io *io, int revents)
{
	mesh__admin_accept(io->data);
}

/* ---- public API ---- */

static char *dup_or_null(const char *s)
{
	return s ? mesh__strdup(s) : NULL;
}

MESH_API int mesh_proxy_new(const struct mesh_proxy_options *opts, mesh_proxy **out,
                            mesh_diag *diag)
{
	if (!opts || !out || !opts->config_dir)
		return MESH_EINVAL;
	struct mesh_proxy *p = mesh__calloc(1, sizeof(*p));
	if (!p)
		return MESH_ENOMEM;
	size_t n = opts->struct_size < sizeof(p->opts) ? opts->struct_size : sizeof(p->opts);
	memcpy(&p->opts, opts, n);
	p->opts.struct_size = sizeof(p->opts);
	if (!p->opts.drain_ms)
		p->opts.drain_ms = 5000;
	if (!p->opts.reload_poll_ms)
		p->opts.reload_poll_ms = 1000;
	if (!p->opts.max_connections)
		p->opts.max_connections = 16384;
	if (!p->opts.max_header_bytes)
		p->opts.max_header_bytes = 60 * 1024;
	if (!p->opts.max_headers)
		p->opts.max_headers = 100;
	if (!p->opts.header_timeout_ms)
		p->opts.header_timeout_ms = 10000;
	if (!p->opts.idle_timeout_ms)
		p->opts.idle_timeout_ms = 60000;
	if (!p->opts.stream_idle_timeout_ms)
		p->opts.stream_idle_timeout_ms = 300000;
	if (!p->opts.max_concurrent_streams)
		p->opts.max_concurrent_streams = 100;
	if (!p->opts.concurrency) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		p->opts.concurrency = cpus > 0 ? (unsigned)cpus : 1;
	}
	if (p->opts.concurrency > MESH_MAX_WORKERS)
		p->opts.concurrency = MESH_MAX_WORKERS;
	p->admin_index = -1;
	p->admin_fd = -1;
	pthread_mutex_init(&p->ident_lock, NULL);
	pthread_mutex_init(&p->snap_lock, NULL);
	p->config_dir = mesh__strdup(opts->config_dir);
	p->ns = mesh__strdup(opts->namespace_name ? opts->namespace_name : "default");
	p->workload = dup_or_null(opts->workload);
	/* p->opts holds what the caller's struct has, zeros beyond */
	p->credential_dir = dup_or_null(p->opts.credential_dir);
	p->gateway_bind = dup_or_null(p->opts.gateway_bind);
	size_t nl = 0;
	while (opts->labels && opts->labels[nl])
		nl++;
	p->labels = mesh__calloc(nl + 1, sizeof(char *));
	bool oom = !p->config_dir || !p->ns || (opts->workload && !p->workload) || !p->labels ||
	           (p->opts.credential_dir && !p->credential_dir) ||
	           (p->opts.gateway_bind && !p->gateway_bind);
	for (size_t i = 0; !oom && i < nl; i++)
		oom = !(p->labels[i] = mesh__strdup(opts->labels[i]));
	p->opts.config_dir = p->config_dir;
	p->opts.namespace_name = p->ns;
	p->opts.workload = p->workload;
	p->opts.credential_dir = p->credential_dir;
	p->opts.gateway_bind = p->gateway_bind;
	p->opts.labels = (const char *const *)p->labels;
	if (oom) {
		mesh_proxy_free(p);
		return MESH_ENOMEM;
	}
	struct mesh__snapshot *s;
	int rc = build_snapshot(p, &s, diag);
	if (rc) {
		mesh_proxy_free(p);
		return rc;
	}
	atomic_init(&p->snap, s);
	dns_update(p, s);
	p->fingerprint = fingerprint(p);
	*out = p;
	return 0;
}

static int resolve_target(struct mesh__listener_cfg *l, mesh_diag *diag)
{
	/* "host:port" or "[v6]:port"; names other than localhost must be IPs */
	char host[256];
	const char *t = l->target, *colon;
	if (t[0] == '[') {
		const char *end = strchr(t, ']');
		if (!end || end[1] != ':')
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(end - t - 1), t + 1);
		colon = end + 1;
	} else {
		colon = strrchr(t, ':');
		if (!colon)
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - t), t);
	}
	char *endp;
	long port = strtol(colon + 1, &endp, 10);
	if (*endp || port < 1 || port > 65535)
		goto bad;
	if (!strcmp(host, "localhost") || !*host)
		snprintf(host, sizeof(host), "127.0.0.1");
	struct sockaddr_in *in4 = (struct sockaddr_in *)&l->target_sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&l->target_sa;
	memset(&l->target_sa, 0, sizeof(l->target_sa));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		l->target_len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		l->target_len = sizeof(*in6);
		return 0;
	}
bad:
	mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
	               "inbound target \"%s\" must be IP:PORT (or localhost:PORT)", l->target);
	return MESH_EINVAL;
}

/* Whether the service port an UPSTREAM listener stands for speaks TCP. */
static bool upstream_is_tcp(struct mesh_proxy *p, const char *target)
{
	char host[256];
	unsigned port = 0;
	snprintf(host, sizeof(host), "%s", target);
	char *colon = strrchr(host, ':');
	if (colon) {
		port = (unsigned)strtoul(colon + 1, NULL, 10);
		*colon = '\0';
	}
	char fqdn[512];
	if (!strchr(host, '.'))
		snprintf(fqdn, sizeof(fqdn), "%s.%s.svc.cluster.local", host, p->ns);
	else
		snprintf(fqdn, sizeof(fqdn), "%s", host);
	struct mesh__snapshot *s = atomic_load(&p->snap);
	const mesh_service *svc = s ? mesh_registry_find(s->reg, fqdn) : NULL;
	for (size_t i = 0; svc && i < mesh_service_port_count(svc); i++) {
		unsigned num;
		const char *name;
		int proto;
		if (mesh_service_port(svc, i, &num, &name, &proto) || (port && num != port))
			continue;
		return proto == MESH_PROTO_TCP || proto == MESH_PROTO_TLS ||
		       proto == MESH_PROTO_MONGO || proto == MESH_PROTO_MYSQL ||
		       proto == MESH_PROTO_REDIS;
	}
	return false;
}

MESH_API int mesh_proxy_add_listener(mesh_proxy *p, int kind, const char *addr, unsigned port,
                                     const char *target, mesh_diag *diag)
{
	if (!p || !addr || port > 65535 || kind < MESH_LISTENER_INBOUND ||
	    kind > MESH_LISTENER_GATEWAY || p->running)
		return MESH_EINVAL;
	unsigned gw_port = port;
	if (kind == MESH_LISTENER_GATEWAY && target && *target) {
		char *end;
		unsigned long n = strtoul(target, &end, 10);
		if (*end || n < 1 || n > 65535)
			return MESH_EINVAL;
		gw_port = (unsigned)n;
	}
	if (kind == MESH_LISTENER_GATEWAY && !gw_port)
		return MESH_EINVAL;
	if (p->nlcfg == MESH_MAX_LISTENERS || (kind == MESH_LISTENER_ADMIN && p->admin_index >= 0))
		return MESH_ELIMIT;
	if ((kind == MESH_LISTENER_INBOUND || kind == MESH_LISTENER_UPSTREAM ||
	     kind == MESH_LISTENER_INBOUND_TCP) &&
	    (!target || !*target))
		return MESH_EINVAL;
	struct mesh__listener_cfg *l = &p->lcfg[p->nlcfg];
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	snprintf(l->target, sizeof(l->target), "%s", target ? target : "");
	if ((kind == MESH_LISTENER_INBOUND || kind == MESH_LISTENER_INBOUND_TCP) &&
	    resolve_target(l, diag))
		return MESH_EINVAL;
	if (kind == MESH_LISTENER_INBOUND_TCP) {
		l->kind = MESH_LISTENER_INBOUND;
		l->tcp = true;
	}
	if (kind == MESH_LISTENER_UPSTREAM)
		l->tcp = upstream_is_tcp(p, l->target);
	if (kind == MESH_LISTENER_GATEWAY) {
		l->gw_port = gw_port;
		snprintf(l->target, sizeof(l->target), "%u", gw_port);
	}
	/* bind once now, so that port 0 becomes a real port every worker then
	 * shares through SO_REUSEPORT, and errors surface before running */
	unsigned bound;
	int fd = mesh__listen_socket(addr, port, kind != MESH_LISTENER_ADMIN, diag, &bound);
	if (fd < 0)
		return fd;
	l->port = bound;
	p->bound_fds[p->nlcfg] = fd;
	p->bound_ports[p->nlcfg] = bound;
	if (kind == MESH_LISTENER_ADMIN) {
		p->admin_index = (int)p->nlcfg;
		p->admin_fd = fd;
	}
	p->nlcfg++;
	p->ngateway += kind == MESH_LISTENER_GATEWAY;
	/* not running yet: the first snapshot is still the proxy's alone */
	snapshot_mtls(p, atomic_load(&p->snap));
	return (int)p->nlcfg - 1;
}

MESH_API unsigned mesh_proxy_listener_port(const mesh_proxy *p, int index)
{
	return (p && index >= 0 && (size_t)index < p->nlcfg) ? p->lcfg[index].port : 0;
}

MESH_API size_t mesh_proxy_gateway_ports(const mesh_proxy *p, unsigned *ports, size_t max)
{
	const struct mesh__snapshot *s = p ? atomic_load(&p->snap) : NULL;
	if (!s || (!ports && max))
		return 0;
	return mesh__gateway_ports(s->cfg, (const char *const *)p->labels, ports, max);
}

MESH_API int mesh_proxy_run(mesh_proxy *p)
{
	if (!p || p->running)
		return MESH_EINVAL;
	struct mesh__snapshot *first = atomic_load(&p->snap);
	if (gateway_mode(p) && !first->gw) {
		p->fingerprint = fingerprint(p); /* with the credential directory now */
		/* the first snapshot came before the listeners: its gateway part
		 * now (the snapshot is still the proxy's alone) */
		mesh_diag *diag = NULL;
		int rc = mesh_diag_new(&diag);
		if (!rc)
			rc = snapshot_gateway(p, first, NULL, diag);
		log_diag(diag, MESH_SEV_WARNING);
		mesh_diag_free(diag);
		if (rc)
			return rc;
		for (size_t i = 0; i < p->nlcfg; i++)
			if (p->lcfg[i].kind == MESH_LISTENER_GATEWAY &&
			    !mesh__gateway_port_class(first->gw, p->lcfg[i].gw_port))
				mesh__log(
					MESH_LOG_WARNING,
					"gateway listener on port %u: no Gateway server uses port %u "
					"now; its connections are closed",
					p->lcfg[i].port, p->lcfg[i].gw_port);
	}
	p->running = true;
	atomic_store(&p->nlcfg_live, p->nlcfg);
	p->loop = ev_loop_new(EVFLAG_AUTO);
	if (!p->loop)
		return MESH_ENOMEM;
	ev_async_init(&p->wake, on_wake);
	p->wake.data = p;
	ev_async_start(p->loop, &p->wake);
	ev_timer_init(&p->poll, on_poll, p->opts.reload_poll_ms / 1000.0,
	              p->opts.reload_poll_ms / 1000.0);
	p->poll.data = p;
	ev_timer_start(p->loop, &p->poll);
	ev_init(&p->settle, on_settle);
	p->settle.data = p;
	if (p->admin_fd >= 0) {
		ev_io_init(&p->admin_io, on_admin, p->admin_fd, EV_READ);
		p->admin_io.data = p;
		ev_io_start(p->loop, &p->admin_io);
	}
	p->nworkers = p->opts.concurrency;
	p->workers = mesh__calloc(p->nworkers, sizeof(*p->workers));
	if (!p->workers)
		return MESH_ENOMEM;
	int rc = 0;
	unsigned started = 0;
	for (unsigned i = 0; i < p->nworkers && !rc; i++) {
		p->workers[i].proxy = p;
		p->workers[i].id = i;
		rc = mesh__worker_start(&p->workers[i]);
		if (!rc)
			started++;
	}
	if (rc) {
		atomic_store(&p->want_stop, 1);
		p->nworkers = started;
		stop_workers(p);
		return rc;
	}
	mesh__log(MESH_LOG_INFO, "running with %u workers, configuration %llu", p->nworkers,
	          (unsigned long long)p->generation);
	ev_run(p->loop, 0);
	return 0;
}

MESH_API void mesh_proxy_reload(mesh_proxy *p)
{
	if (!p || !p->loop)
		return;
	atomic_store(&p->want_reload, 1);
	ev_async_send(p->loop, &p->wake);
}

MESH_API void mesh_proxy_drain(mesh_proxy *p)
{
	if (!p || !p->loop)
		return;
	atomic_store(&p->want_drain, 1);
	ev_async_send(p->loop, &p->wake);
}

MESH_API void mesh_proxy_stop(mesh_proxy *p)
{
	if (!p || !p->loop)
		return;
	atomic_store(&p->want_stop, 1);
	ev_async_send(p->loop, &p->wake);
}

MESH_API int mesh_proxy_set_identity(mesh_proxy *p, const char *cert_pem, const char *key_pem,
                                     const char *bundle_pem, mesh_diag *diag)
{
	if (!p || !cert_pem || !key_pem || !bundle_pem)
		return MESH_EINVAL;
	struct mesh__tls_ident *t = NULL;
	uint64_t gen = atomic_load(&p->ident_gen) + 1;
	int rc = mesh__tls_ident_new(cert_pem, key_pem, bundle_pem, gen, &t, diag);
	if (rc) {
		mesh__ctr_add(&p->ident_rejected, 1);
		return rc;
	}
	pthread_mutex_lock(&p->ident_lock);
	struct mesh__tls_ident *old = p->ident;
	t->gen = atomic_load(&p->ident_gen) + 1;
	p->ident = t;
	atomic_store_explicit(&p->ident_gen, t->gen, memory_order_release);
	pthread_mutex_unlock(&p->ident_lock);
	mesh__tls_ident_unref(old); /* workers still using it hold their own references */
	mesh__ctr_add(&p->ident_updates, 1);
	mesh__log(MESH_LOG_INFO, "identity %s loaded (generation %llu)", t->id,
	          (unsigned long long)t->gen);
	return 0;
}

MESH_API void mesh_proxy_set_log_level(mesh_proxy *p, int level)
{
	(void)p;
	if (level >= MESH_LOG_ERROR && level <= MESH_LOG_DEBUG)
		atomic_store(&mesh__log_level, level);
}

MESH_API void mesh_proxy_free(mesh_proxy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nlcfg; i++)
		if (p->bound_fds[i] >= 0 && (int)i != p->admin_index)
			close(p->bound_fds[i]);
	if (p->admin_fd >= 0)
		close(p->admin_fd);
	mesh__free(p->workers);
	mesh__snapshot_unref(atomic_load(&p->snap));
	mesh__tls_ident_unref(p->ident);
	mesh__dns_free(p->dns);
	pthread_mutex_destroy(&p->ident_lock);
	pthread_mutex_destroy(&p->snap_lock);
	if (p->loop)
		ev_loop_destroy(p->loop);
	for (size_t i = 0; p->labels && p->labels[i]; i++)
		mesh__free(p->labels[i]);
	mesh__free(p->labels);
	mesh__free(p->config_dir);
	mesh__free(p->ns);
	mesh__free(p->workload);
	mesh__free(p->credential_dir);
	mesh__free(p->gateway_bind);
	mesh__free(p);
}
