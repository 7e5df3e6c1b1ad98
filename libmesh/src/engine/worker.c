/*
 * worker.c - worker threads: one event loop each, with its own
 * SO_REUSEPORT listening sockets, buffer pool and snapshot view.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine_int.h"
#include "../lb/cluster.h"
#include "../route/route_int.h"
#include "dns.h"
#include "tls.h"

int mesh__listen_socket(const char *addr, unsigned port, bool reuseport, mesh_diag *diag,
                        unsigned *bound_port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		len = sizeof(*in6);
	} else {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "listen address \"%s\" is not an IP address", addr);
		return MESH_EINVAL;
	}
	int one = 1;
	int fd = -1;
	if (reuseport && bound_port && port) {
		/* SO_REUSEPORT would let us share a port another process of this
		 * user listens on: a first bind without it fails then, clearly */
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) < 0)
			goto fail;
		close(fd);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0)
		goto fail;
	if (bound_port) {
		struct sockaddr_storage got;
		socklen_t glen = sizeof(got);
		getsockname(fd, (struct sockaddr *)&got, &glen);
		*bound_port =
			ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
		                                       : ((struct sockaddr_in6 *)&got)->sin6_port);
	}
	return fd;
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL, "cannot listen on %s:%u: %s",
	               addr, port, strerror(e));
	return MESH_EIO;
}

/* ---- snapshot views ---- */

static void wsnap_free(struct mesh__wsnap *ws)
{
	mesh_balancer_free(ws->lb);
	mesh__snapshot_unref(ws->snap);
	mesh__free(ws);
}

/* Switch to the published snapshot if it is newer than ours. */
static void refresh(struct mesh__worker *w)
{
	struct mesh__snapshot *pub = atomic_load_explicit(&w->proxy->snap, memory_order_acquire);
	if (w->cur && w->cur->snap == pub)
		return;
	struct mesh__wsnap *ws = mesh__calloc(1, sizeof(*ws));
	if (!ws)
		return; /* keep the old one; try again on the next stream */
	ws->snap = mesh__proxy_snapshot_ref(w->proxy);
	if (!ws->snap || mesh_balancer_new(ws->snap->router, &ws->lb)) {
		mesh__snapshot_unref(ws->snap);
		mesh__free(ws);
		return;
	}
	mesh_balancer_seed(ws->lb, w->rng ^ ws->snap->generation);
	ws->users = 1;
	struct mesh__wsnap *old = w->cur;
	w->cur = ws;
	if (old) {
		/* idle connections of the old configuration go, so that it can
		 * be freed (a pooled connection holds its cluster) */
		mesh__upstreams_close_stale(w);
		mesh__h2ups_close_stale(w);
		mesh__wsnap_release(w, old);
	}
}

struct mesh__wsnap *mesh__wsnap_acquire(struct mesh__worker *w)
{
	refresh(w);
	if (w->cur)
		w->cur->users++;
	return w->cur;
}

void mesh__wsnap_release(struct mesh__worker *w, struct mesh__wsnap *ws)
{
	(void)w;
	if (ws && --ws->users == 0)
		wsnap_free(ws);
}

/* Does @c list the endpoint @key ("ADDRESS:PORT" then nothing or "|...")
 * names? (A DNS endpoint's key holds an address it resolved to: no.) */
static bool cluster_lists(const struct mesh_cluster *c, const char *key)
{
	for (size_t i = 0; i < c->neps; i++) {
		const struct mesh__endpoint *e = &c->eps[i];
		size_t n = strlen(e->address);
		if (strncmp(key, e->address, n) || key[n] != ':')
			continue;
		char *end;
		unsigned long port = strtoul(key + n + 1, &end, 10);
		if (port == (e->port ? e->port : c->port) && (*end == '\0' || *end == '|'))
			return true;
	}
	return false;
}

bool mesh__wsnap_carry(struct mesh__worker *w, const char *key, const struct mesh_cluster **c,
                       struct mesh__wsnap **ws)
{
	struct mesh__wsnap *cur = w->cur;
	if (!cur || !*c || !*ws || *ws == cur)
		return false;
	const struct mesh_cluster *nc = mesh__router_cluster_named(cur->snap->router, (*c)->name);
	if (!nc || !cluster_lists(nc, key) ||
	    mesh_balancer_acquire(cur->lb, nc, MESH_CB_CONNECTIONS))
		return false;
	mesh_balancer_release((*ws)->lb, *c, MESH_CB_CONNECTIONS);
	mesh__wsnap_release(w, *ws);
	cur->users++;
	*c = nc;
	*ws = cur;
	return true;
}

/* ---- the thread ---- */

/* One clock read per loop iteration (after the poll), not several per
 * request: request times, timeouts and balancer clocks are in ms. */
static void on_tick(struct ev_loop *loop, ev_check *c, int revents)
{
	struct mesh__worker *w = c->data;
	w->now_ms = mesh__now_ms();
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
	mesh__accept(io->data);
}

/* Stop listening. Connections the kernel already completed are taken and
 * served first (when draining): closing a socket with a backlog would
 * reset them. */
static void stop_listeners(struct mesh__worker *w, bool take_backlog)
{
	struct mesh_proxy *p = w->proxy;
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct mesh__listener *l = &w->listeners[i];
		if (l->fd < 0)
			continue;
		ev_io_stop(w->loop, &l->io);
		if (take_backlog)
			mesh__accept_all(l);
		close(l->fd);
		if (w->id == 0) /* the socket the proxy bound: it must not close it again */
			p->bound_fds[l->cfg - p->lcfg] = -1;
		l->fd = -1;
	}
}

/* Listen on the proxy's listener configs up to @n (those added since the
 * last call): the first worker on the socket the proxy bound, the others
 * on sockets of their own (SO_REUSEPORT). Returns 0, or -1 when a socket
 * could not be bound (the others are open). */
static int open_listeners(struct mesh__worker *w, size_t n)
{
	struct mesh_proxy *p = w->proxy;
	int rc = 0;
	for (; w->lcfg_done < n; w->lcfg_done++) {
		size_t i = w->lcfg_done;
		const struct mesh__listener_cfg *c = &p->lcfg[i];
		if (c->kind == MESH_LISTENER_ADMIN)
			continue;
		int fd = p->bound_fds[i];
		if (w->id != 0 &&
		    (fd = mesh__listen_socket(c->addr, c->port, true, NULL, NULL)) < 0) {
			mesh__log(MESH_LOG_WARNING, "worker %u: cannot listen on %s:%u too: %s",
			          w->id, c->addr, c->port, strerror(errno));
			rc = -1;
			continue;
		}
		struct mesh__listener *l = &w->listeners[w->nlisteners++];
		l->w = w;
		l->cfg = c;
		l->fd = fd;
		ev_io_init(&l->io, on_accept, fd, EV_READ);
		l->io.data = l;
		ev_io_start(w->loop, &l->io);
	}
	return rc;
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
	struct mesh__worker *w = a->data;
	struct mesh_proxy *p = w->proxy;
	if (atomic_load(&p->want_stop)) {
		w->stopping = true;
		stop_listeners(w, false);
		mesh__dconns_close_all(w);
		mesh__upstreams_close_idle(w);
		mesh__h2ups_close_all(w);
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (atomic_load(&p->draining) && !w->draining) {
		w->draining = true;
		stop_listeners(w, true);
		mesh__dconns_drain(w);
		mesh__upstreams_close_idle(w);
		mesh__h2ups_close_idle(w);
	}
	refresh(w);
	/* listeners a reload opened (gateway ports), once their snapshot is ours */
	size_t n = atomic_load_explicit(&p->nlcfg_live, memory_order_acquire);
	if (n > w->lcfg_done && !w->draining)
		open_listeners(w, n);
}

static void *worker_main(void *arg)
{
	struct mesh__worker *w = arg;
	ev_run(w->loop, 0);
	if (w->cur) {
		mesh__wsnap_release(w, w->cur);
		w->cur = NULL;
	}
	mesh_route_scratch_free(w->scratch);
	mesh__tls_sessions_free(w);
	mesh__dns_table_unref(w->dns_table);
	w->dns_table = NULL;
	mesh__tls_ident_unref(w->ident);
	w->ident = NULL;
	mesh__free(w->hbuf);
	mesh__sb_fini(&w->sb);
	while (w->free_streams) {
		struct mesh__stream *st = w->free_streams;
		w->free_streams = *(struct mesh__stream **)st;
		mesh__free(st);
	}
	struct mesh__block *b = w->pool.free;
	while (b) {
		struct mesh__block *next = b->next;
		mesh__free(b);
		b = next;
	}
	w->pool.free = NULL;
	ev_loop_destroy(w->loop);
	return NULL;
}

int mesh__worker_start(struct mesh__worker *w)
{
	struct mesh_proxy *p = w->proxy;
	w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!w->loop)
		return MESH_ENOMEM;
	if (mesh_route_scratch_new(&w->scratch))
		return MESH_ENOMEM;
	/* NUL-terminated copies of a whole request head: its bytes plus one
	 * terminator per field part */
	w->hbuf_cap = p->opts.max_header_bytes + 2 * (p->opts.max_headers + 4) + 64;
	w->hbuf = mesh__malloc(w->hbuf_cap);
	if (!w->hbuf)
		return MESH_ENOMEM;
	mesh__sb_init(&w->sb);
	w->rng = 0x9e3779b97f4a7c15ULL * (w->id + 1);
	ev_async_init(&w->wake, on_wake);
	w->wake.data = w;
	ev_async_start(w->loop, &w->wake);
	w->now_ms = mesh__now_ms();
	ev_check_init(&w->tick, on_tick);
	ev_set_priority(&w->tick, EV_MAXPRI); /* before the iteration's other callbacks */
	w->tick.data = w;
	ev_check_start(w->loop, &w->tick);
	ev_unref(w->loop); /* the clock keeps no loop alive */
	mesh__upstream_pending_init(w);
	refresh(w);
	if (!w->cur)
		return MESH_ENOMEM;
	if (open_listeners(w, p->nlcfg))
		return MESH_EIO;
	if (pthread_create(&w->thread, NULL, worker_main, w))
		return MESH_ENOMEM;
	return 0;
}

void mesh__worker_wake(struct mesh__worker *w)
{
	if (w->loop)
		ev_async_send(w->loop, &w->wake);
}
