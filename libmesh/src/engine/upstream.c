/*
 * upstream.c - HTTP/1.1 connections to endpoints: a keep-alive pool per
 * worker, non-blocking connects with a timeout, writing the request chain
 * (kept for retries while small) and parsing the response into the stream.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../lb/cluster.h"
#include "stream.h"

#define MAX_IDLE 1024
#define IDLE_TIMEOUT_S 60.0

static void on_read(struct ev_loop *loop, ev_io *io, int revents);
static void on_write(struct ev_loop *loop, ev_io *io, int revents);
static void on_timer(struct ev_loop *loop, ev_timer *t, int revents);

static unsigned bucket(const char *key)
{
	unsigned h = 2166136261u;
	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h & 255;
}

static void idle_remove(struct mesh__upstream *u)
{
	struct mesh__worker *w = u->w;
	struct mesh__upstream **pp = &w->idle[bucket(u->key)];
	while (*pp && *pp != u)
		pp = &(*pp)->next_idle;
	if (*pp) {
		*pp = u->next_idle;
		w->nidle--;
	}
	u->next_idle = NULL;
}

/* ---- maxConnections: a unit per connection, and requests waiting ---- */

static void pend_wake(struct mesh__worker *w)
{
	if (w->pend_head && !ev_is_active(&w->pend_timer)) {
		ev_timer_set(&w->pend_timer, 0, 0);
		ev_timer_start(w->loop, &w->pend_timer);
	}
}

/* The connection's breaker unit and configuration go: a waiting request
 * may take the room. */
static void cb_let_go(struct mesh__upstream *u)
{
	if (!u->cb_ws)
		return;
	mesh_balancer_release(u->cb_ws->lb, u->cb_cluster, MESH_CB_CONNECTIONS);
	mesh__wsnap_release(u->w, u->cb_ws);
	u->cb_ws = NULL;
	u->cb_cluster = NULL;
	pend_wake(u->w);
}

void mesh__upstream_unpend(struct mesh__stream *st)
{
	struct mesh__worker *w = st->d->w;
	if (!st->pending)
		return;
	if (st->pend_prev)
		st->pend_prev->pend_next = st->pend_next;
	else
		w->pend_head = st->pend_next;
	if (st->pend_next)
		st->pend_next->pend_prev = st->pend_prev;
	else
		w->pend_tail = st->pend_prev;
	st->pend_prev = st->pend_next = NULL;
	st->pending = false;
	mesh_balancer_release(st->ws->lb, st->cluster, MESH_CB_PENDING);
}

static void on_pend_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh__worker *w = t->data;
	/* one pass over who waits now (a request that must wait again goes to
	 * the back, and is not looked at twice in the pass) */
	struct mesh__stream *last = w->pend_tail;
	while (w->pend_head) {
		struct mesh__stream *st = w->pend_head;
		mesh__upstream_unpend(st);
		mesh__stream_pending_go(st);
		if (st == last)
			break;
	}
}

void mesh__upstream_room_freed(struct mesh__worker *w)
{
	pend_wake(w);
}

void mesh__upstream_pending_init(struct mesh__worker *w)
{
	ev_init(&w->pend_timer, on_pend_timer);
	w->pend_timer.data = w;
}

static void destroy(struct mesh__upstream *u);

/* An idle connection of @c to another endpoint, closed to make room. */
static bool close_idle_of(struct mesh__worker *w, const struct mesh_cluster *c)
{
	for (unsigned b = 0; b < 256; b++)
		for (struct mesh__upstream **pp = &w->idle[b]; *pp; pp = &(*pp)->next_idle)
			if ((*pp)->cb_cluster == c) {
				struct mesh__upstream *u = *pp;
				*pp = u->next_idle;
				w->nidle--;
				destroy(u);
				return true;
			}
	return false;
}

/* Take a maxConnections unit of the stream's cluster for a new connection.
 * 0: taken (or no breaker: inbound); 1: the stream waits (in the pending
 * list); -1: answered 503 (pending overflow). */
static int cb_take(struct mesh__stream *st)
{
	struct mesh__worker *w = st->d->w;
	const struct mesh_cluster *c = st->cluster;
	if (!c)
		return 0;
	if (!mesh_balancer_acquire(st->ws->lb, c, MESH_CB_CONNECTIONS) ||
	    (close_idle_of(w, c) && !mesh_balancer_acquire(st->ws->lb, c, MESH_CB_CONNECTIONS)))
		return 0;
	return mesh__upstream_wait(st);
}

int mesh__upstream_wait(struct mesh__stream *st)
{
	struct mesh__worker *w = st->d->w;
	const struct mesh_cluster *c = st->cluster;
	if (mesh_balancer_acquire(st->ws->lb, c, MESH_CB_PENDING)) {
		/* http1MaxPendingRequests: Envoy's pending overflow */
		mesh__ctr_add(&w->ctr[C_UPSTREAM_RQ_PENDING_OVERFLOW], 1);
		st->flags |= F_UO;
		mesh__stream_local_reply(st, 503,
		                         "upstream connect error or disconnect/reset before "
		                         "headers. reset reason: overflow\n");
		return -1;
	}
	st->pending = true;
	st->pend_prev = w->pend_tail;
	st->pend_next = NULL;
	if (w->pend_tail)
		w->pend_tail->pend_next = st;
	else
		w->pend_head = st;
	w->pend_tail = st;
	return 1;
}

static void destroy(struct mesh__upstream *u)
{
	struct mesh__worker *w = u->w;
	ev_io_stop(w->loop, &u->rio);
	ev_io_stop(w->loop, &u->wio);
	ev_timer_stop(w->loop, &u->timer);
	mesh__tls_close(u->ssl);
	u->ssl = NULL;
	mesh__free(u->peer_id);
	u->peer_id = NULL;
	close(u->fd);
	if (u->in)
		mesh__block_put(&w->pool, u->in);
	u->in = NULL;
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_ACTIVE], -1);
	u->fd = -1;
	cb_let_go(u);
	if (!u->in_parse)
		mesh__free(u);
}

int mesh__upstream_detach(struct mesh__upstream *u, SSL **ssl)
{
	struct mesh__worker *w = u->w;
	int fd = u->fd;
	*ssl = u->ssl;
	u->ssl = NULL;
	mesh__tls_unbind(*ssl);
	mesh__free(u->peer_id);
	u->peer_id = NULL;
	cb_let_go(u); /* (a tunnel is no pooled connection) */
	ev_io_stop(w->loop, &u->rio);
	ev_io_stop(w->loop, &u->wio);
	ev_timer_stop(w->loop, &u->timer);
	if (u->in)
		mesh__block_put(&w->pool, u->in);
	u->in = NULL;
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_ACTIVE], -1);
	u->st = NULL;
	u->fd = -1;
	if (!u->in_parse)
		mesh__free(u);
	return fd;
}

void mesh__upstream_release(struct mesh__upstream *u, bool reuse)
{
	struct mesh__worker *w = u->w;
	if (u->st) {
		u->st->up = NULL;
		u->st = NULL;
	}
	if (!reuse || !u->keep_alive || w->draining || w->stopping || w->nidle >= MAX_IDLE ||
	    (u->in && u->in->len) || (u->max_requests && u->requests >= u->max_requests) ||
	    (u->max_life_ms && w->now_ms - u->born_ms >= u->max_life_ms)) {
		destroy(u);
		return;
	}
	/* to the pool: keep watching for the server closing it */
	ev_io_stop(w->loop, &u->wio);
	ev_io_start(w->loop, &u->rio);
	ev_timer_stop(w->loop, &u->timer);
	double idle = u->idle_s;
	if (u->max_life_ms) { /* maxConnectionDuration: closed at its end, idle or not */
		double left = (double)(u->born_ms + u->max_life_ms - w->now_ms) / 1000.0;
		if (left < idle)
			idle = left > 0 ? left : 0;
	}
	ev_timer_set(&u->timer, idle, 0);
	ev_timer_start(w->loop, &u->timer);
	if (u->in) {
		mesh__block_put(&w->pool, u->in);
		u->in = NULL;
	}
	mesh__h1_parser_reset(&u->parser);
	unsigned b = bucket(u->key);
	u->next_idle = w->idle[b];
	w->idle[b] = u;
	w->nidle++;
	pend_wake(w); /* a request waiting for room may take this one, or its place */
}

void mesh__upstreams_close_stale(struct mesh__worker *w)
{
	for (unsigned b = 0; b < 256; b++)
		for (struct mesh__upstream **pp = &w->idle[b]; *pp;) {
			struct mesh__upstream *u = *pp;
			/* plain text and ISTIO_MUTUAL ones stay when their
			 * cluster does (the server identity is checked again on
			 * reuse); SIMPLE / MUTUAL ones were checked against
			 * settings that may have changed */
			bool keep = (!u->ssl || u->tls_mode == MESH__UP_ISTIO_MUTUAL) &&
			            mesh__wsnap_carry(w, u->key, &u->cb_cluster, &u->cb_ws);
			if (u->cb_ws && u->cb_ws != w->cur && !keep) {
				*pp = u->next_idle;
				w->nidle--;
				destroy(u);
			} else {
				pp = &u->next_idle;
			}
		}
}

void mesh__upstreams_close_idle(struct mesh__worker *w)
{
	for (unsigned b = 0; b < 256; b++)
		while (w->idle[b]) {
			struct mesh__upstream *u = w->idle[b];
			w->idle[b] = u->next_idle;
			w->nidle--;
			destroy(u);
		}
}

void mesh__upstream_sockopts(int fd, const struct mesh_cluster *c)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!c || !c->lb.keepalive)
		return;
	/* as Envoy's upstream tcp_keepalive: unset fields keep the system's */
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	int v;
	if (c->lb.keepalive_probes) {
		v = c->lb.keepalive_probes > 1000 ? 1000 : (int)c->lb.keepalive_probes;
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v));
	}
	if (c->lb.keepalive_time_ms > 0) {
		int64_t s = (c->lb.keepalive_time_ms + 999) / 1000;
		v = s > 32767 ? 32767 : (int)s;
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
	}
	if (c->lb.keepalive_interval_ms > 0) {
		int64_t s = (c->lb.keepalive_interval_ms + 999) / 1000;
		v = s > 32767 ? 32767 : (int)s;
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v));
	}
}

static int64_t connect_timeout_ms(const struct mesh__stream *st)
{
	const struct mesh_cluster *c = st->cluster;
	return (c && c->lb.connect_timeout_ms > 0) ? c->lb.connect_timeout_ms : 10000;
}

static void set_pool_limits(struct mesh__upstream *u, const struct mesh__stream *st)
{
	const struct mesh_cluster *c = st->cluster;
	u->max_requests = c ? c->lb.max_requests_per_connection : 0;
	u->max_life_ms = c ? c->lb.max_connection_duration_ms : 0;
	u->idle_s =
		c && c->lb.idle_timeout_ms > 0 ? c->lb.idle_timeout_ms / 1000.0 : IDLE_TIMEOUT_S;
	u->gen = st->ws->snap->generation;
}

int mesh__upstream_get(struct mesh__stream *st)
{
	struct mesh__worker *w = st->d->w;
	struct mesh__upstream **pp = &w->idle[bucket(st->dst_key)];
	while (*pp && strcmp((*pp)->key, st->dst_key))
		pp = &(*pp)->next_idle;
	struct mesh__upstream *u = *pp;
	if (u) {
		*pp = u->next_idle;
		u->next_idle = NULL;
		w->nidle--;
	}
	if (u && u->gen != st->ws->snap->generation) {
		/* the configuration changed since this connection was checked:
		 * the server must still be one the destination may have, and the
		 * pool settings are the cluster's new ones (as Envoy, whose
		 * changed clusters get new pools) */
		if (u->ssl && (u->tls_mode != MESH__UP_ISTIO_MUTUAL ||
		               !mesh__cluster_peer_ok(st->cluster, u->peer_id))) {
			/* (SIMPLE / MUTUAL: the host check was the handshake's, under
			 * settings that may have changed: connect again) */
			destroy(u);
			u = NULL;
		} else {
			set_pool_limits(u, st);
		}
	}
	if (u) {
		ev_timer_stop(w->loop, &u->timer);
		u->st = st;
		u->paused = false;
		u->requests++;
		st->up = u;
		mesh__h1_parser_set_request_method(&u->parser, st->is_head ? "HEAD" : "GET",
		                                   st->is_head ? 4 : 3);
		mesh__upstream_write(u);
		return 0;
	}
	int cb = cb_take(st);
	if (cb)
		return 0; /* waiting in the pending list, or answered */
	int fd = socket(st->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	mesh__upstream_sockopts(fd, st->cluster);
	if (connect(fd, (struct sockaddr *)&st->dst, st->dst_len) < 0 && errno != EINPROGRESS) {
		close(fd);
		mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_CONNECT_FAIL], 1);
		goto fail;
	}
	u = mesh__calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		goto fail;
	}
	if (st->cluster) {
		u->cb_cluster = st->cluster;
		u->cb_ws = st->ws;
		st->ws->users++; /* the cluster lives as long as its unit is held */
	}
	u->w = w;
	u->fd = fd;
	snprintf(u->key, sizeof(u->key), "%s", st->dst_key);
	u->requests = 1;
	u->born_ms = w->now_ms;
	set_pool_limits(u, st);
	mesh__h1_parser_init(&u->parser, MESH_H1_RESPONSE, NULL);
	if (st->is_head)
		mesh__h1_parser_expect_head(&u->parser);
	ev_io_init(&u->rio, on_read, fd, EV_READ);
	ev_io_init(&u->wio, on_write, fd, EV_WRITE);
	ev_init(&u->timer, on_timer);
	u->rio.data = u->wio.data = u->timer.data = u;
	ev_timer_set(&u->timer, connect_timeout_ms(st) / 1000.0, 0);
	ev_timer_start(w->loop, &u->timer);
	ev_io_start(w->loop, &u->wio);
	u->st = st;
	st->up = u;
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_TOTAL], 1);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_ACTIVE], 1);
	return 0;
fail:
	if (st->cluster) { /* the unit taken for it */
		mesh_balancer_release(st->ws->lb, st->cluster, MESH_CB_CONNECTIONS);
		pend_wake(w);
	}
	return -1;
}

void mesh__upstream_write(struct mesh__upstream *u)
{
	struct mesh__worker *w = u->w;
	struct mesh__stream *st = u->st;
	if (!st || !u->connected)
		return;
	while (st->req_sent < st->req.bytes) {
		struct iovec iov[16];
		int n = 0;
		size_t skip = st->req_sent;
		for (struct mesh__block *b = st->req.head; b && n < 16; b = b->next) {
			if (skip >= b->len) {
				skip -= b->len;
				continue;
			}
			iov[n++] = (struct iovec){ b->data + b->off + skip, b->len - skip };
			skip = 0;
		}
		ssize_t r = mesh__sock_writev(u->fd, u->ssl, iov, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ev_io_start(w->loop, &u->wio);
				return;
			}
			mesh__stream_upstream_failed(st, F_UC);
			return;
		}
		mesh__stream_req_sent(st, (size_t)r);
	}
	ev_io_stop(w->loop, &u->wio);
	if (!u->paused) {
		ev_io_start(w->loop, &u->rio);
		if (mesh__tls_has_pending(u->ssl))
			ev_feed_event(w->loop, &u->rio, EV_READ);
	}
	/* the client may have been paused for us */
	mesh__stream_req_progress(st);
}

void mesh__upstream_resume(struct mesh__upstream *u)
{
	if (u->fd < 0)
		return;
	ev_io_start(u->w->loop, &u->rio);
	/* bytes (or a message end) may wait behind the pause: parse them
	 * from the loop, not from inside the client's write path */
	if (u->paused || mesh__tls_has_pending(u->ssl))
		ev_feed_event(u->w->loop, &u->rio, EV_READ);
}

/* ---- response parsing ---- */

static int cb_head(void *ud, const struct mesh__h1_head *h)
{
	struct mesh__upstream *u = ud;
	struct mesh__stream *st = u->st;
	if (!st)
		return -1;
	if (h->flags & MESH_H1_F_INTERIM) {
		u->interim = true; /* its on_end is not the response's end */
		return 0;          /* 100 Continue and friends: the proxy already answered */
	}
	if (!st->resp_started && h->status >= 500 && mesh__stream_retry_status(st, h->status))
		return -1; /* this connection is done; the stream moved on */
	u->got_bytes = true;
	return mesh__stream_response_head(st, h);
}

static int cb_body(void *ud, const char *data, size_t len)
{
	struct mesh__upstream *u = ud;
	if (!u->st)
		return -1;
	int rc = mesh__stream_response_body(u->st, data, len);
	if (rc > 0) {
		ev_io_stop(u->w->loop, &u->rio); /* resumed when the client drains */
		u->paused = true;
		return 1;
	}
	return rc;
}

static int cb_trailers(void *ud, const struct mesh__h1_header *t, size_t n)
{
	struct mesh__upstream *u = ud;
	struct mesh__stream *st = u->st;
	if (!st)
		return -1;
	/* trailers are valid only now: end the response with them */
	struct mesh__h1_header keep[64];
	size_t nk = 0;
	for (size_t i = 0; i < n && nk < 64; i++)
		if (!mesh__h1_is_forbidden_trailer(t[i].name, t[i].name_len))
			keep[nk++] = t[i];
	u->st = NULL;
	st->up = NULL;
	u->keep_alive = false; /* decided at on_end; be safe if it never comes */
	mesh__stream_response_end(st, keep, nk);
	u->keep_alive = true;
	return 0;
}

static int cb_end(void *ud)
{
	struct mesh__upstream *u = ud;
	struct mesh__stream *st = u->st;
	if (u->interim) {
		u->interim = false;
		return 0;
	}
	if (st && st->upgrade && st->status == 101)
		return 1; /* the tunnel starts once the parse returns */
	u->keep_alive = mesh__h1_parser_state(&u->parser) != MESH_H1_CLOSED;
	if (st) {
		bool reuse = st->req_done && st->req_sent >= st->req.bytes;
		u->st = NULL;
		st->up = NULL;
		if (!reuse)
			u->keep_alive = false;
		mesh__stream_response_end(st, NULL, 0);
	}
	return 1;
}

static const struct mesh__h1_callbacks callbacks = {
	.on_head = cb_head,
	.on_body = cb_body,
	.on_trailers = cb_trailers,
	.on_end = cb_end,
};

static void failed(struct mesh__upstream *u, unsigned flag)
{
	struct mesh__stream *st = u->st;
	if (st)
		mesh__stream_upstream_failed(st, flag); /* releases u */
	else
		mesh__upstream_release(u, false);
}

/* Parse what u->in holds (after a pause, possibly nothing: a message end
 * may be due) and act on the outcome. */
static void parse_in(struct mesh__upstream *u)
{
	struct mesh__block *b = u->in;
	u->paused = false;
	u->in_parse = true;
	long n = mesh__h1_parse(&u->parser, b ? b->data + b->off : "", b ? b->len : 0, &callbacks,
	                        u);
	u->in_parse = false;
	if (u->fd < 0) {
		mesh__free(u); /* released during the callbacks */
		return;
	}
	if (n < 0) {
		if (u->st) {
			u->st->flags |= F_UPE;
			if (!u->st->resp_started) {
				struct mesh__stream *st = u->st;
				mesh__upstream_release(u, false);
				mesh__stream_local_reply(st, 502,
				                         "upstream sent an invalid response\n");
				return;
			}
			failed(u, F_UPE);
		} else {
			destroy(u);
		}
		return;
	}
	if (b) {
		b->off += (size_t)n;
		b->len -= (size_t)n;
	}
	if (u->st && u->st->upgrade && u->st->status == 101) {
		struct mesh__stream *st = u->st;
		char early[MESH_BLOCK_SIZE];
		size_t n_early = b ? b->len : 0;
		if (n_early)
			memcpy(early, b->data + b->off, n_early);
		mesh__stream_upgrade(st, u, early, n_early);
		return;
	}
	if (!u->st) {
		/* the response ended: back to the pool or closed */
		mesh__upstream_release(u, true);
		return;
	}
	if (b && b->len == 0)
		b->off = 0;
	/* stream what arrived: a head or a chunk must not wait for the next
	 * read (time to first byte, server-sent events, gRPC streams) */
	mesh__stream_flush(u->st);
}

/* TLS toward the endpoint, once TCP is connected: the handshake runs from
 * the loop under the connect timeout; then the server's SPIFFE ID must be
 * one the destination may have (DestinationRule subjectAltNames, or the
 * service accounts of its endpoints). */
static void tls_step(struct mesh__upstream *u)
{
	struct mesh__worker *w = u->w;
	char *peer = NULL;
	switch (mesh__tls_client_step(w, u->ssl, u->st ? u->st->cluster : NULL, u->tls_mode, u->key,
	                              &peer)) {
	case MESH__HS_WANT_READ:
		ev_io_stop(w->loop, &u->wio);
		ev_io_start(w->loop, &u->rio);
		return;
	case MESH__HS_WANT_WRITE:
		ev_io_stop(w->loop, &u->rio);
		ev_io_start(w->loop, &u->wio);
		return;
	case MESH__HS_FAIL: failed(u, F_UF); return;
	default: break;
	}
	if (!u->st) { /* the stream went away during the handshake */
		mesh__free(peer);
		failed(u, F_UF);
		return;
	}
	u->peer_id = peer;
	u->handshake = false;
	u->connected = true;
	ev_timer_stop(w->loop, &u->timer);
	ev_io_stop(w->loop, &u->rio);
	mesh__upstream_write(u);
}

static void on_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mesh__upstream *u = io->data;
	struct mesh__worker *w = u->w;
	if (u->handshake) {
		tls_step(u);
		return;
	}
	if (!u->st) {
		/* an idle pooled connection became readable: closed (or junk) */
		idle_remove(u);
		destroy(u);
		return;
	}
	if (u->paused) {
		/* resumed after a pause: what waits in the buffer goes first */
		parse_in(u);
		return;
	}
	if (!u->in && !(u->in = mesh__block_get(&w->pool))) {
		failed(u, F_UC);
		return;
	}
	struct mesh__block *b = u->in;
	if (b->off + b->len == b->cap) {
		if (!b->off) {
			u->st->flags |= F_UPE;
			failed(u, F_UPE); /* a response head over 16 KiB */
			return;
		}
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	ssize_t r =
		mesh__sock_read(u->fd, u->ssl, b->data + b->off + b->len, b->cap - b->off - b->len);
	if (r > 0 && mesh__tls_has_pending(u->ssl))
		ev_feed_event(loop, &u->rio, EV_READ);
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		failed(u, F_UC);
		return;
	}
	if (r == 0) {
		u->in_parse = true;
		mesh__h1_parse_eof(&u->parser, &callbacks, u);
		u->in_parse = false;
		if (u->fd < 0) {
			mesh__free(u);
			return;
		}
		if (u->st)
			failed(u, F_UC);
		else
			destroy(u);
		return;
	}
	b->len += (size_t)r;
	parse_in(u);
}

static void on_write(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mesh__upstream *u = io->data;
	struct mesh__worker *w = u->w;
	if (u->handshake) {
		tls_step(u);
		return;
	}
	if (!u->connected) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_CONNECT_FAIL], 1);
			failed(u, F_UF);
			return;
		}
		if (u->st && u->st->up_tls != MESH__UP_PLAIN) {
			const char *why = NULL;
			struct mesh__stream *st = u->st;
			if (!(u->ssl = mesh__tls_originate(w, st->ws->snap, st->cluster, st->up_tls,
			                                   u->fd, u->key, "http/1.1", &why))) {
				mesh__ctr_add(&w->ctr[C_UPSTREAM_SSL_FAIL], 1);
				mesh__log(MESH_LOG_WARNING, "upstream %s: %s", u->key, why);
				failed(u, F_UF);
				return;
			}
			u->tls_mode = st->up_tls;
			u->handshake = true;
			tls_step(u);
			return;
		}
		u->connected = true;
		ev_timer_stop(loop, &u->timer);
	}
	mesh__upstream_write(u);
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh__upstream *u = t->data;
	if (!u->st) {
		idle_remove(u); /* idle too long */
		destroy(u);
		return;
	}
	if (!u->connected) {
		mesh__ctr_add(&u->w->ctr[C_UPSTREAM_CX_CONNECT_TIMEOUT], 1);
		failed(u, F_UF);
	}
}
