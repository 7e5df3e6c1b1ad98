/*
 * admin.c - the admin listener (main thread, localhost): readiness,
 * counters in Prometheus text format, config and cluster dumps, log level,
 * drain and quit. One request per connection, read with a deadline-free
 * blocking-free loop: the request must arrive in one read burst (it is a
 * local tool's request), bounded to 8 KiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

#include <mesh/security.h>

#include "../lb/cluster.h"
#include "engine_int.h"
#include "gateway.h"
#include "tls.h"

#define ADMIN_MAX_REQUEST 8192
#define ADMIN_READ_MS 1000  /* for the whole request head */
#define ADMIN_WRITE_MS 2000 /* for the whole answer */

static void reply(int fd, int status, const char *type, const char *body, size_t len)
{
	const char *reason = status == 200   ? "OK"
	                     : status == 404 ? "Not Found"
	                     : status == 405 ? "Method Not Allowed"
	                     : status == 503 ? "Service Unavailable"
	                                     : "Bad Request";
	char head[256];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n",
	                 status, reason, type, len);
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_append(&sb, head, (size_t)n);
	mesh__sb_append(&sb, body, len);
	/* a local client reads what it asked for: it has ADMIN_WRITE_MS for
	 * all of it (the socket is non-blocking; the main thread must not
	 * hang on a client that stopped reading) */
	int64_t deadline = mesh__now_ms() + ADMIN_WRITE_MS;
	size_t off = 0;
	while (!sb.oom && off < sb.len) {
		ssize_t w = write(fd, sb.buf + off, sb.len - off);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		int64_t left = deadline - mesh__now_ms();
		struct pollfd pfd = { fd, POLLOUT, 0 };
		if (w < 0 && errno == EAGAIN && left > 0 && poll(&pfd, 1, (int)left) == 1)
			continue;
		break;
	}
	mesh__sb_fini(&sb);
}

static uint64_t sum(struct mesh_proxy *p, int c)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < p->nworkers; i++)
		n += atomic_load_explicit(&p->workers[i].ctr[c], memory_order_relaxed);
	return n;
}

static uint64_t sum_flag(struct mesh_proxy *p, int f)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < p->nworkers; i++)
		n += atomic_load_explicit(&p->workers[i].flag_ctr[f], memory_order_relaxed);
	return n;
}

static void stats_prometheus(struct mesh_proxy *p, struct mesh__sb *sb)
{
	for (int c = 0; c < C_COUNT_; c++) {
		bool gauge = c == C_DOWNSTREAM_CX_ACTIVE || c == C_DOWNSTREAM_RQ_ACTIVE ||
		             c == C_UPSTREAM_CX_ACTIVE;
		mesh__sb_printf(sb, "# TYPE meshproxy_%s %s\nmeshproxy_%s %llu\n",
		                mesh__counter_names[c], gauge ? "gauge" : "counter",
		                mesh__counter_names[c], (unsigned long long)sum(p, c));
	}
	mesh__sb_puts(sb, "# TYPE meshproxy_response_flags_total counter\n");
	for (int f = 0; f < MESH_FLAG_COUNT; f++)
		mesh__sb_printf(sb, "meshproxy_response_flags_total{flag=\"%s\"} %llu\n",
		                mesh__flag_names[f], (unsigned long long)sum_flag(p, f));
	struct mesh__snapshot *s = mesh__proxy_snapshot_ref(p);
	mesh__sb_printf(
		sb,
		"# TYPE meshproxy_config_generation gauge\nmeshproxy_config_generation %llu\n"
		"# TYPE meshproxy_config_reloads_total counter\n"
		"meshproxy_config_reloads_total{result=\"ok\"} %llu\n"
		"meshproxy_config_reloads_total{result=\"rejected\"} %llu\n"
		"# TYPE meshproxy_workers gauge\nmeshproxy_workers %u\n",
		(unsigned long long)(s ? s->generation : 0),
		(unsigned long long)atomic_load(&p->reloads_ok),
		(unsigned long long)atomic_load(&p->reloads_failed), p->nworkers);
	mesh__snapshot_unref(s);
	pthread_mutex_lock(&p->ident_lock);
	int64_t not_after = p->ident ? p->ident->not_after : 0;
	pthread_mutex_unlock(&p->ident_lock);
	mesh__sb_printf(sb,
	                "# TYPE meshproxy_identity_cert_expiry_timestamp_seconds gauge\n"
	                "meshproxy_identity_cert_expiry_timestamp_seconds %lld\n"
	                "# TYPE meshproxy_identity_updates_total counter\n"
	                "meshproxy_identity_updates_total{result=\"ok\"} %llu\n"
	                "meshproxy_identity_updates_total{result=\"rejected\"} %llu\n",
	                (long long)not_after, (unsigned long long)atomic_load(&p->ident_updates),
	                (unsigned long long)atomic_load(&p->ident_rejected));
}

static void config_dump(struct mesh_proxy *p, struct mesh__sb *sb)
{
	struct mesh__snapshot *s = mesh__proxy_snapshot_ref(p);
	mesh__sb_printf(sb, "{\"generation\":%llu,\"namespace\":",
	                (unsigned long long)(s ? s->generation : 0));
	mesh__sb_json_str(sb, p->ns);
	mesh__sb_puts(sb, ",\"configDir\":");
	mesh__sb_json_str(sb, p->config_dir);
	mesh__sb_puts(sb, ",\"resources\":[");
	for (size_t i = 0; s && i < mesh_config_resource_count(s->cfg); i++) {
		const mesh_resource *r = mesh_config_resource_at(s->cfg, i);
		mesh__sb_puts(sb, i ? ",{\"kind\":" : "{\"kind\":");
		mesh__sb_json_str(sb, mesh_kind_name(mesh_resource_kind(r)));
		mesh__sb_puts(sb, ",\"namespace\":");
		mesh__sb_json_str(sb, mesh_resource_namespace(r));
		mesh__sb_puts(sb, ",\"name\":");
		mesh__sb_json_str(sb, mesh_resource_name(r));
		mesh__sb_puts(sb, ",\"file\":");
		mesh__sb_json_str(sb, mesh_resource_file(r));
		mesh__sb_printf(sb, ",\"line\":%u}", mesh_resource_line(r));
	}
	mesh__sb_puts(sb, "],\"clusters\":[");
	for (size_t i = 0; s && i < mesh_router_cluster_count(s->router); i++) {
		const mesh_cluster *c = mesh_router_cluster_at(s->router, i);
		if (i)
			mesh__sb_putc(sb, ',');
		mesh__sb_json_str(sb, mesh_cluster_name(c));
	}
	mesh__sb_puts(sb, "]}\n");
	mesh__snapshot_unref(s);
}

static void clusters(struct mesh_proxy *p, struct mesh__sb *sb)
{
	struct mesh__snapshot *s = mesh__proxy_snapshot_ref(p);
	for (size_t i = 0; s && i < mesh_router_cluster_count(s->router); i++) {
		const mesh_cluster *c = mesh_router_cluster_at(s->router, i);
		const char *name = mesh_cluster_name(c);
		mesh__sb_printf(sb, "%s::lb_policy::%d\n", name, mesh_cluster_lb_policy(c));
		for (size_t e = 0; e < mesh_cluster_endpoint_count(c); e++) {
			struct mesh_endpoint_info ep = { .struct_size = sizeof(ep) };
			if (mesh_cluster_endpoint(c, e, &ep))
				continue;
			mesh__sb_printf(sb, "%s::%s:%u::weight::%u\n", name, ep.address, ep.port,
			                ep.weight);
			const struct mesh__ep_counters *st = c->stats ? &c->stats[e] : NULL;
			if (st) {
				/* Envoy's /clusters names: rq_*, health_flags */
				uint32_t out =
					atomic_load_explicit(&st->ejected_by, memory_order_relaxed);
				mesh__sb_printf(
					sb,
					"%s::%s:%u::rq_active::%u\n%s::%s:%u::rq_total::%llu\n"
					"%s::%s:%u::rq_error::%llu\n"
					"%s::%s:%u::outlier_ejections::%llu\n"
					"%s::%s:%u::health_flags::%s\n",
					name, ep.address, ep.port,
					(unsigned)atomic_load_explicit(&st->rq_active,
				                                       memory_order_relaxed),
					name, ep.address, ep.port,
					(unsigned long long)atomic_load_explicit(
						&st->rq_total, memory_order_relaxed),
					name, ep.address, ep.port,
					(unsigned long long)atomic_load_explicit(
						&st->rq_error, memory_order_relaxed),
					name, ep.address, ep.port,
					(unsigned long long)atomic_load_explicit(
						&st->ejections, memory_order_relaxed),
					name, ep.address, ep.port,
					out ? "/failed_outlier_check" : "healthy");
				if (out)
					mesh__sb_printf(
						sb, "%s::%s:%u::ejected_by_workers::%u/%u\n", name,
						ep.address, ep.port, out, p->nworkers);
			}
			if (ep.locality)
				mesh__sb_printf(sb, "%s::%s:%u::locality::%s\n", name, ep.address,
				                ep.port, ep.locality);
		}
	}
	mesh__snapshot_unref(s);
}

/* A gateway listener's servers, as the snapshot in use has them. */
static void gateway_servers(struct mesh__sb *sb, const struct mesh__gateway *g, unsigned port)
{
	static const char *const protos[] = { "HTTP", "HTTPS", "TLS", "TCP" };
	static const char *const modes[] = {
		"", "SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL", "ISTIO_MUTUAL", "PASSTHROUGH"
	};
	mesh__sb_puts(sb, ",\"servers\":[");
	bool first = true;
	for (size_t k = 0; g && k < g->nservers; k++) {
		const struct mesh__gw_server *srv = &g->servers[k];
		if (srv->port != port)
			continue;
		mesh__sb_puts(sb, first ? "{\"gateway\":" : ",{\"gateway\":");
		first = false;
		mesh__sb_json_str(sb, srv->gateway);
		mesh__sb_printf(
			sb, ",\"protocol\":\"%s\",\"tls\":\"%s\",\"httpsRedirect\":%s,\"hosts\":[",
			protos[srv->proto], modes[srv->mode],
			srv->https_redirect ? "true" : "false");
		for (size_t h = 0; h < srv->nhosts; h++) {
			char host[600];
			const struct mesh__gw_host *e = &srv->hosts[h];
			snprintf(host, sizeof(host), "%s%s%s", e->ns ? e->ns : "", e->ns ? "/" : "",
			         e->host);
			if (h)
				mesh__sb_putc(sb, ',');
			mesh__sb_json_str(sb, host);
		}
		mesh__sb_puts(sb, "]}");
	}
	mesh__sb_putc(sb, ']');
}

static void listeners(struct mesh_proxy *p, struct mesh__sb *sb)
{
	static const char *const kinds[] = { "inbound", "outbound",    "upstream",
		                             "admin",   "inbound-tcp", "gateway" };
	struct mesh__snapshot *s = mesh__proxy_snapshot_ref(p);
	mesh__sb_putc(sb, '[');
	for (size_t i = 0; i < p->nlcfg; i++) {
		const struct mesh__listener_cfg *l = &p->lcfg[i];
		mesh__sb_printf(sb, "%s{\"kind\":\"%s\",\"address\":", i ? "," : "",
		                kinds[l->kind]);
		mesh__sb_json_str(sb, l->addr);
		mesh__sb_printf(sb, ",\"port\":%u,\"target\":", l->port);
		mesh__sb_json_str(sb, l->target);
		if (s && (l->kind == MESH_LISTENER_INBOUND || l->kind == MESH_LISTENER_INBOUND_TCP))
			mesh__sb_printf(sb, ",\"mtls\":\"%s\"", mesh_mtls_mode_name(s->mtls[i]));
		if (s && l->kind == MESH_LISTENER_GATEWAY)
			gateway_servers(sb, s->gw, l->gw_port);
		mesh__sb_putc(sb, '}');
	}
	mesh__sb_puts(sb, "]\n");
	mesh__snapshot_unref(s);
}

/* As Envoy's /certs: the identity in use. */
static void certs(struct mesh_proxy *p, struct mesh__sb *sb)
{
	pthread_mutex_lock(&p->ident_lock);
	struct mesh__tls_ident *t = p->ident;
	mesh__sb_puts(sb, "{\"identity\":");
	mesh__sb_json_str(sb, t ? t->id : NULL);
	mesh__sb_puts(sb, ",\"trustDomain\":");
	mesh__sb_json_str(sb, t ? t->td : NULL);
	mesh__sb_printf(sb,
	                ",\"notAfter\":%lld,\"secondsToExpiry\":%lld,\"generation\":%llu,"
	                "\"updates\":%llu,\"rejected\":%llu}\n",
	                (long long)(t ? t->not_after : 0),
	                (long long)(t ? t->not_after - (int64_t)time(NULL) : 0),
	                (unsigned long long)(t ? t->gen : 0),
	                (unsigned long long)atomic_load(&p->ident_updates),
	                (unsigned long long)atomic_load(&p->ident_rejected));
	pthread_mutex_unlock(&p->ident_lock);
}

static void handle(struct mesh_proxy *p, int fd, const char *req)
{
	char method[16], target[1024];
	if (sscanf(req, "%15s %1023s HTTP/1.", method, target) != 2) {
		reply(fd, 400, "text/plain", "bad request\n", 12);
		return;
	}
	char *q = strchr(target, '?');
	const char *query = q ? q + 1 : "";
	if (q)
		*q = '\0';
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	bool post = !strcmp(method, "POST");
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	int status = 200;
	const char *type = "text/plain";
	if (!strcmp(target, "/ready") && get) {
		if (atomic_load(&p->draining)) {
			status = 503;
			mesh__sb_puts(&sb, "DRAINING\n");
		} else {
			mesh__sb_puts(&sb, "LIVE\n");
		}
	} else if (!strcmp(target, "/stats/prometheus") && get) {
		type = "text/plain; version=0.0.4";
		stats_prometheus(p, &sb);
	} else if (!strcmp(target, "/config_dump") && get) {
		type = "application/json";
		config_dump(p, &sb);
	} else if (!strcmp(target, "/clusters") && get) {
		clusters(p, &sb);
	} else if (!strcmp(target, "/certs") && get) {
		type = "application/json";
		certs(p, &sb);
	} else if (!strcmp(target, "/listeners") && get) {
		type = "application/json";
		listeners(p, &sb);
	} else if (!strcmp(target, "/logging") && (get || post)) {
		static const char *const names[] = { "error", "warning", "info", "debug" };
		const char *lv = strstr(query, "level=");
		if (lv) {
			lv += 6;
			int level = -1;
			for (int i = 0; i < 4; i++)
				if (!strncmp(lv, names[i], strlen(names[i])) &&
				    (lv[strlen(names[i])] == '\0' || lv[strlen(names[i])] == '&'))
					level = i;
			if (level < 0) {
				status = 400;
				mesh__sb_puts(&sb,
				              "unknown level; use error, warning, info or debug\n");
			} else {
				mesh_proxy_set_log_level(p, level);
			}
		}
		if (status == 200)
			mesh__sb_printf(&sb, "active loggers:\n  meshproxy: %s\n",
			                names[atomic_load(&mesh__log_level) & 3]);
	} else if (!strcmp(target, "/quitquitquit") && post) {
		mesh__sb_puts(&sb, "OK\n");
		reply(fd, 200, type, sb.buf, sb.len);
		mesh__sb_fini(&sb);
		mesh_proxy_stop(p);
		return;
	} else if (!strcmp(target, "/drain_listeners") && post) {
		mesh__sb_puts(&sb, "OK\n");
		mesh_proxy_drain(p);
	} else if (!strcmp(target, "/quitquitquit") || !strcmp(target, "/drain_listeners")) {
		status = 405;
		mesh__sb_puts(&sb, "use POST\n");
	} else {
		status = 404;
		mesh__sb_puts(&sb,
		              "admin endpoints: /ready /stats/prometheus /config_dump /clusters "
		              "/listeners /logging?level= /drain_listeners /quitquitquit\n");
	}
	if (sb.oom)
		reply(fd, 503, "text/plain", "out of memory\n", 14);
	else
		reply(fd, status, type, !strcmp(method, "HEAD") ? "" : mesh__sb_str(&sb),
		      !strcmp(method, "HEAD") ? 0 : sb.len);
	mesh__sb_fini(&sb);
}

void mesh__admin_accept(struct mesh_proxy *p)
{
	/* a batch at most ADMIN_READ_MS long: more waiting connections are
	 * taken at the next turn of the loop, after the main thread's other
	 * work (the listener stays readable) */
	int64_t start = mesh__now_ms();
	for (int k = 0; k < 16 && mesh__now_ms() - start < ADMIN_READ_MS; k++) {
		int fd = accept4(p->admin_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		char buf[ADMIN_MAX_REQUEST + 1];
		size_t len = 0;
		buf[0] = '\0';
		/* the whole request head within ADMIN_READ_MS, however it
		 * trickles in: a local tool sends it at once, and the main thread
		 * (reloads, signals, drains) must not wait on a slow client */
		int64_t deadline = mesh__now_ms() + ADMIN_READ_MS;
		while (len < ADMIN_MAX_REQUEST) {
			ssize_t r = read(fd, buf + len, ADMIN_MAX_REQUEST - len);
			if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
				int64_t left = deadline - mesh__now_ms();
				struct pollfd pfd = { fd, POLLIN, 0 };
				if (left <= 0 || poll(&pfd, 1, (int)left) < 0)
					break;
				continue;
			}
			if (r <= 0)
				break;
			len += (size_t)r;
			buf[len] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			handle(p, fd, buf);
		else
			reply(fd, 400, "text/plain", "bad request\n", 12);
		close(fd);
	}
}
