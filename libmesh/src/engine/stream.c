/*
 * stream.c - one request/response exchange: routing, faults, local
 * replies, the upstream request (with header operations and rewrites),
 * retries, timeouts, and the books (counters, response flags, balancer
 * outcomes, circuit breakers). The same code serves HTTP/1 and HTTP/2
 * clients and upstreams: where they differ (writing the response, holding
 * the client back, the upstream's wire format) it asks the owner.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../http/h2.h"
#include "../lb/cluster.h"
#include "../route/route_int.h"
#include "gateway.h"
#include "dns.h"
#include "stream.h"
#include "tunnel.h"

static uint32_t rnd32(struct mesh__worker *w)
{
	uint64_t x = w->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rng = x;
	return (uint32_t)(x >> 32);
}

/* true with probability @percent / 100 */
static bool roll(struct mesh__worker *w, double percent)
{
	if (percent >= 100)
		return true;
	if (percent <= 0)
		return false;
	return (double)rnd32(w) / 4294967296.0 * 100.0 < percent;
}

/* A random UUID (version 4) as 36 characters plus NUL, written by hand:
 * snprintf here was the largest user-space cost of a request. */
static void request_id(struct mesh__worker *w, char out[40])
{
	static const char hex[] = "0123456789abcdef";
	uint32_t r[4] = { rnd32(w), rnd32(w), rnd32(w), rnd32(w) };
	r[1] = (r[1] & 0xffff0fffu) | 0x00004000u; /* version 4 */
	r[2] = (r[2] & 0x3fffffffu) | 0x80000000u; /* RFC 4122 variant */
	size_t o = 0;
	for (int i = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = hex[(r[i / 8] >> (28 - 4 * (i % 8))) & 0xf];
	}
	out[o] = '\0';
}

static struct mesh__stream *stream_new(struct mesh__worker *w)
{
	struct mesh__stream *st = w->free_streams;
	if (st)
		w->free_streams = *(struct mesh__stream **)st;
	else
		st = mesh__malloc(sizeof(*st));
	if (st)
		memset(st, 0, sizeof(*st));
	return st;
}

void mesh__stream_free(struct mesh__stream *st)
{
	struct mesh__worker *w = st->d->w;
	mesh__chain_clear(&st->req, &w->pool);
	mesh__chain_clear(&st->resp, &w->pool);
	mesh__block_put(&w->pool, st->resp_trailers);
	mesh__block_put(&w->pool, st->uphead);
	mesh__block_put(&w->pool, st->req_trailers);
	/* the first word links the free list */
	*(struct mesh__stream **)st = w->free_streams;
	w->free_streams = st;
}

static void mirrors_end(struct mesh__stream *st, bool complete);
static int start_attempt(struct mesh__stream *st);
static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents);
static void on_per_try(struct ev_loop *loop, ev_timer *t, int revents);
static void on_delay(struct ev_loop *loop, ev_timer *t, int revents);
static void on_idle(struct ev_loop *loop, ev_timer *t, int revents);

/* Leave the upstream (HTTP/1 connection or HTTP/2 stream), abandoning
 * whatever it was doing. */
static void drop_upstream(struct mesh__stream *st)
{
	mesh__upstream_unpend(st);
	if (st->up) {
		mesh__upstream_release(st->up, false);
		st->up = NULL;
	}
	if (st->h2u)
		mesh__h2up_detach(st, true);
}

/* The books, and the stream leaves its connection. */
static void stream_done(struct mesh__stream *st, int outcome)
{
	struct mesh__dconn *d = st->d;
	struct mesh__worker *w = d->w;
	ev_timer_stop(w->loop, &st->timeout);
	ev_timer_stop(w->loop, &st->delay);
	ev_timer_stop(w->loop, &st->per_try);
	ev_timer_stop(w->loop, &st->idle);
	mirrors_end(st, false);
	drop_upstream(st);
	if (st->cluster && st->ws) {
		if (st->ep >= 0)
			mesh_balancer_end(st->ws->lb, st->cluster, st->ep, outcome,
			                  (uint64_t)st->d->w->now_ms);
		if (st->cb_request)
			mesh_balancer_release(st->ws->lb, st->cluster, MESH_CB_REQUESTS);
		if (st->cb_retry)
			mesh_balancer_release(st->ws->lb, st->cluster, MESH_CB_RETRIES);
	}
	int cls = st->status / 100;
	if (cls >= 1 && cls <= 5)
		mesh__ctr_add(&w->ctr[C_RQ_1XX + cls - 1], 1);
	for (int i = 0; i < MESH_FLAG_COUNT; i++)
		if (st->flags & (1u << i))
			mesh__ctr_add(&w->flag_ctr[i], 1);
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_RQ_ACTIVE], -1);
	if (mesh__log_level >= MESH_LOG_DEBUG) {
		char flags[64];
		mesh__flags_format(st->flags, flags, sizeof(flags));
		/* source.principal: the client's SPIFFE ID over mutual TLS */
		mesh__log(MESH_LOG_DEBUG, "request done: %d %s %s %s %lld ms principal=%s",
		          st->status, flags, st->sid ? "h2" : "h1",
		          st->cluster ? mesh_cluster_name(st->cluster) : "-",
		          (long long)(st->d->w->now_ms - st->start_ms),
		          d->peer_id ? d->peer_id : "-");
	}
	mesh__chain_clear(&st->req, &w->pool);
	mesh__wsnap_release(w, st->ws);
	st->ws = NULL;
	st->route = NULL;
	st->cluster = NULL;
	if (st->sid) {
		mesh__h2s_done(st); /* freed when nghttp2 lets go of it too */
		return;
	}
	d->st = NULL;
	mesh__stream_free(st);
}

static int outcome_of(int status)
{
	if (status == 502 || status == 503 || status == 504)
		return MESH_OUTCOME_GATEWAY_ERROR;
	return status >= 500 ? MESH_OUTCOME_HTTP_5XX : MESH_OUTCOME_SUCCESS;
}

void mesh__stream_finish(struct mesh__stream *st)
{
	if (st->sid) {
		/* HTTP/2: the session goes on sending what the stream queued */
		stream_done(st, outcome_of(st->status));
		return;
	}
	struct mesh__dconn *d = st->d;
	bool in_parse = d->in_parse;
	if (!st->keep_alive)
		d->close_after = true;
	stream_done(st, outcome_of(st->status));
	/* d is gone when the write closed it (unless it is being parsed) */
	if (mesh__dconn_write(d) && !in_parse)
		mesh__dconn_resume(d);
}

void mesh__stream_abort(struct mesh__stream *st)
{
	stream_done(st, MESH_OUTCOME_LOCAL_FAILURE);
}

/* Part of the response went out and the rest cannot follow: cut it. An
 * HTTP/1 client sees its connection closed; an HTTP/2 client sees this
 * stream reset (RST_STREAM) and its other streams go on. */
static void cut(struct mesh__stream *st)
{
	if (st->sid) {
		mesh__h2s_reset(st, NGHTTP2_INTERNAL_ERROR);
		if (!st->finished)
			mesh__stream_abort(st);
		return;
	}
	mesh__dconn_close(st->d);
}

void mesh__stream_flush(struct mesh__stream *st)
{
	if (st->sid)
		mesh__h2s_kick(st);
	else
		mesh__dconn_write(st->d);
}

/* A response of the proxy's own. The request body, if any is still to
 * come, is read and dropped. A gRPC client gets what Envoy gives it: 200
 * with grpc-status (from the HTTP status, or the fault's gRPC status) and
 * grpc-message in a trailers-only response. */
static void reply(struct mesh__stream *st, int status, const struct mesh__h1_header *extra,
                  size_t nextra, const char *body)
{
	struct mesh__dconn *d = st->d;
	struct mesh__worker *w = d->w;
	struct mesh__sb *sb = &w->sb;
	size_t blen = body ? strlen(body) : 0;
	struct mesh__h1_header hv[10];
	size_t nh = 0;
	char gs[16], gm[512];
	for (size_t i = 0; i < nextra && nh < 5; i++)
		hv[nh++] = extra[i];
	st->status = status;
	if (st->grpc) {
		int code = st->grpc_abort >= 0 ? st->grpc_abort : mesh__grpc_status_of_http(status);
		size_t gl = mesh__grpc_message_encode(body ? body : "", blen, gm, sizeof(gm));
		snprintf(gs, sizeof(gs), "%d", code);
		nh = 0; /* content-type is gRPC's now */
		for (size_t i = 0; i < nextra && nh < 5; i++)
			if (!mesh__h1_name_eq(extra[i].name, extra[i].name_len, "content-type"))
				hv[nh++] = extra[i];
		hv[nh++] = (struct mesh__h1_header){ "content-type", 12, "application/grpc", 16 };
		hv[nh++] = (struct mesh__h1_header){ "grpc-status", 11, gs, strlen(gs) };
		if (gl)
			hv[nh++] = (struct mesh__h1_header){ "grpc-message", 12, gm, gl };
		status = 200;
		blen = 0;
	}
	st->resp_started = st->resp_done = true;
	if (st->sid) {
		bool eos = st->is_head || blen == 0;
		char cl[24];
		if (!eos) {
			snprintf(cl, sizeof(cl), "%zu", blen);
			hv[nh++] = (struct mesh__h1_header){ "content-length", 14, cl, strlen(cl) };
		}
		if (mesh__h2s_head(st, status, hv, nh, eos) == 0 && !eos &&
		    mesh__h2s_body(st, body, blen) >= 0)
			mesh__h2s_end(st, NULL, 0);
		mesh__stream_finish(st);
		return;
	}
	mesh__sb_truncate(sb, 0);
	unsigned wflags = (st->keep_alive && !w->draining) ? 0 : MESH_H1_W_CLOSE;
	if (wflags)
		st->keep_alive = false;
	mesh__h1_write_response_head(sb, status, NULL, 0, hv, nh,
	                             st->is_head ? MESH_H1_BODY_NONE : (int64_t)blen, wflags);
	if (!st->is_head && blen)
		mesh__sb_append(sb, body, blen);
	mesh__chain_append(&d->out, &w->pool, sb->buf, sb->len);
	if (st->req_done)
		mesh__stream_finish(st);
	else
		mesh__dconn_write(d);
}

void mesh__stream_local_reply(struct mesh__stream *st, int status, const char *body)
{
	static const struct mesh__h1_header type = { "content-type", 12, "text/plain", 10 };
	reply(st, status, &type, 1, body);
}

/* ---- the request head ---- */

/* NUL-terminated copies of the parts routing reads, in the worker's
 * scratch buffer (large enough for the largest head the parser takes). */
static char *scratch_copy(struct mesh__worker *w, size_t *off, const char *s, size_t len)
{
	if (*off + len + 1 > w->hbuf_cap)
		return NULL;
	char *p = w->hbuf + *off;
	memcpy(p, s, len);
	p[len] = '\0';
	*off += len + 1;
	return p;
}

/* Apply a route's uri rewrite: a prefix match has its prefix replaced,
 * any other match the whole path (as Envoy's prefix_rewrite / path). */
static void rewrite_path(const struct mesh_route *rt, const char *path, char *out, size_t size)
{
	const char *prefix = NULL;
	size_t plen = 0;
	for (size_t i = 0; i < rt->nmatches; i++) {
		const struct strmatch *u = &rt->matches[i].uri;
		if (u->kind == SM_PREFIX && !strncmp(path, u->value, u->len)) {
			prefix = u->value;
			plen = u->len;
			break;
		}
	}
	if (prefix)
		snprintf(out, size, "%s%s", rt->rewrite_uri, path + plen);
	else {
		const char *q = strchr(path, '?');
		snprintf(out, size, "%s%s", rt->rewrite_uri, q ? q : "");
	}
}

static bool op_removes(const struct mesh_route *rt, const char *name, size_t len)
{
	for (size_t i = 0; rt && i < rt->nhops; i++) {
		const struct header_op *h = &rt->hops[i];
		if (h->dir == MESH_HDR_REQUEST &&
		    (h->op == MESH_HDR_REMOVE || h->op == MESH_HDR_SET) &&
		    mesh__h1_name_eq(name, len, h->name))
			return true;
	}
	return false;
}

static bool resp_op_removes(const struct mesh_route *rt, const char *name, size_t len)
{
	for (size_t i = 0; rt && i < rt->nhops; i++) {
		const struct header_op *h = &rt->hops[i];
		if (h->dir == MESH_HDR_RESPONSE &&
		    (h->op == MESH_HDR_REMOVE || h->op == MESH_HDR_SET) &&
		    mesh__h1_name_eq(name, len, h->name))
			return true;
	}
	return false;
}

static bool is_idempotent(const struct mesh__h1_head *h)
{
	switch (h->method_id) {
	case MESH_H1_M_GET:
	case MESH_H1_M_HEAD:
	case MESH_H1_M_OPTIONS:
	case MESH_H1_M_PUT:
	case MESH_H1_M_DELETE:
	case MESH_H1_M_TRACE: return true;
	default: return false;
	}
}

/* The client's address, as text. */
static bool peer_address(int fd, char *buf, size_t size)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	if (getpeername(fd, (struct sockaddr *)&sa, &len) < 0)
		return false;
	const void *a = sa.ss_family == AF_INET
	                        ? (const void *)&((struct sockaddr_in *)&sa)->sin_addr
	                        : (const void *)&((struct sockaddr_in6 *)&sa)->sin6_addr;
	return inet_ntop(sa.ss_family, a, buf, (socklen_t)size) != NULL;
}

static int endpoint_addr(struct mesh__stream *st, const mesh_cluster *c, int ep)
{
	return mesh__endpoint_sockaddr(st->d->w, c, ep, &st->dst, &st->dst_len, st->dst_key,
	                               sizeof(st->dst_key));
}

/* Start the mirrors of @rt (each by its percentage) with the request head
 * @out (Host first), sent to them with "-shadow" on the Host. Mirrors
 * speak HTTP/1.1 whatever the client and the main upstream speak. */
static void start_mirrors(struct mesh__stream *st, const struct mesh_route *rt,
                          const struct mesh__h1_head *h, struct mesh__h1_header *out, size_t no,
                          const char *path, int64_t body)
{
	struct mesh__worker *w = st->d->w;
	for (size_t i = 0; i < rt->nmirrors && st->nmirrors < MESH_MAX_MIRRORS; i++) {
		const mesh_cluster *c = rt->mirrors[i].cluster;
		if (!c || !roll(w, rt->mirrors[i].percent))
			continue;
		int ep = mesh_balancer_pick(st->ws->lb, c, 0, (uint64_t)st->d->w->now_ms);
		if (ep < 0)
			continue;
		char host[300];
		snprintf(host, sizeof(host), "%.*s-shadow", (int)out[0].value_len, out[0].value);
		struct mesh__h1_header saved = out[0];
		out[0].value = host;
		out[0].value_len = strlen(host);
		struct mesh__sb *sb = &w->sb;
		mesh__sb_truncate(sb, 0);
		int rc = mesh__h1_write_request_head(sb, h->method, h->method_len, path,
		                                     strlen(path), out, no, body, MESH_H1_W_CLOSE);
		out[0] = saved;
		if (rc)
			continue;
		struct mesh__mirror *m = mesh__mirror_start(w, st->ws, c, ep, sb->buf, sb->len);
		if (m)
			st->mirrors[st->nmirrors++] = m;
	}
}

static void mirrors_body(struct mesh__stream *st, const void *data, size_t len)
{
	for (unsigned i = 0; i < st->nmirrors; i++)
		mesh__mirror_body(st->mirrors[i], data, len);
}

static void mirrors_end(struct mesh__stream *st, bool complete)
{
	for (unsigned i = 0; i < st->nmirrors; i++)
		mesh__mirror_end(st->mirrors[i], complete);
	st->nmirrors = 0;
}

/* Choose an endpoint of st->cluster. Returns 0, or answers 503 itself. */
int mesh__stream_pick(struct mesh__stream *st)
{
	int ep = mesh_balancer_pick(st->ws->lb, st->cluster, 0, (uint64_t)st->d->w->now_ms);
	/* a retry prefers an endpoint not tried yet: up to 5 more picks, as
	 * Istio's previous_hosts predicate with host_selection_retry_max_attempts */
	for (int k = 0; k < 5 && ep >= 0 && st->attempts; k++) {
		bool seen = false;
		for (unsigned i = 0; i < st->attempts && i < 4; i++)
			seen |= st->tried[i] == ep;
		if (!seen)
			break;
		ep = mesh_balancer_pick(st->ws->lb, st->cluster, 0, (uint64_t)st->d->w->now_ms);
	}
	if (ep < 0 || endpoint_addr(st, st->cluster, ep)) {
		st->ep = -1;
		st->flags |= F_UH;
		mesh__stream_local_reply(st, 503, "no healthy upstream\n");
		return -1;
	}
	st->ep = ep;
	st->up_tls = (uint8_t)mesh__tls_up_mode(st->d->w, st->cluster, ep);
	mesh__tls_key_mode(st->dst_key, sizeof(st->dst_key), st->up_tls);
	if (st->attempts < 4)
		st->tried[st->attempts] = ep;
	mesh_balancer_begin(st->ws->lb, st->cluster, ep);
	return 0;
}

/* Whether the upstream request goes out as HTTP/2, as Istio decides it:
 * the port's protocol (http2, grpc, or h2UpgradePolicy UPGRADE), the
 * client's protocol when the port's is unknown (sniffed) and for inbound
 * traffic (the app port's protocol is not declared to the proxy). */
static bool upstream_is_h2(const struct mesh__stream *st, const struct mesh__listener_cfg *lc)
{
	if (st->upgrade)
		return false;
	if (lc->kind == MESH_LISTENER_INBOUND || !st->cluster)
		return st->sid != 0;
	const struct mesh_cluster *c = st->cluster;
	if (c->protocol == MESH_PROTO_HTTP2 || c->protocol == MESH_PROTO_GRPC)
		return true;
	if (c->lb.use_client_protocol) /* as the client spoke */
		return st->sid != 0;
	if (c->lb.h2_upgrade == MESH_H2_UPGRADE_UPGRADE)
		return true;
	return c->protocol == MESH_PROTO_UNKNOWN && st->sid != 0;
}

struct mesh__stream *mesh__stream_new(struct mesh__dconn *d, int32_t sid)
{
	struct mesh__stream *st = stream_new(d->w);
	if (!st)
		return NULL;
	st->d = d;
	st->sid = sid;
	st->ep = -1;
	st->grpc_abort = -1;
	return st;
}

int mesh__stream_on_head(struct mesh__dconn *d, const struct mesh__h1_head *h)
{
	struct mesh__stream *st = mesh__stream_new(d, 0);
	if (!st)
		return -1;
	d->st = st;
	ev_timer_stop(d->w->loop, &d->timer);
	mesh__stream_start(st, h);
	return 0;
}

/* What every request does first: timers, counters, its snapshot. */
static void stream_begin(struct mesh__stream *st, const struct mesh__h1_head *h)
{
	struct mesh__dconn *d = st->d;
	struct mesh__worker *w = d->w;
	st->start_ms = st->d->w->now_ms;
	st->ws = mesh__wsnap_acquire(w);
	st->is_head = h->method_id == MESH_H1_M_HEAD;
	st->keep_alive = st->sid || ((h->flags & MESH_H1_F_KEEP_ALIVE) && !w->draining);
	st->req_done = (h->flags & MESH_H1_F_NO_BODY) != 0;
	ev_init(&st->timeout, on_timeout);
	ev_init(&st->delay, on_delay);
	ev_init(&st->per_try, on_per_try);
	ev_init(&st->idle, on_idle);
	st->timeout.data = st->delay.data = st->per_try.data = st->idle.data = st;
	if (w->proxy->opts.stream_idle_timeout_ms > 0) {
		st->idle.repeat = (double)w->proxy->opts.stream_idle_timeout_ms / 1000.0;
		ev_timer_again(w->loop, &st->idle);
	}
	d->requests++;
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_RQ_TOTAL], 1);
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_RQ_ACTIVE], 1);
}

void mesh__stream_reject(struct mesh__stream *st, int status, const char *why)
{
	struct mesh__h1_head h = { .method = "GET", .method_len = 3, .method_id = MESH_H1_M_GET };
	stream_begin(st, &h);
	st->req_done = true;
	mesh__stream_local_reply(st, status, why);
}

/* The request head for an HTTP/2 upstream, kept in st->uphead for
 * retries: pseudo-header fields, then the fields of @out (Host first: it
 * becomes :authority) that HTTP/2 allows, names lower-cased. */
static int build_h2_head(struct mesh__stream *st, const struct mesh__h1_head *h, const char *path,
                         const struct mesh__h1_header *out, size_t no)
{
	struct mesh__worker *w = st->d->w;
	size_t need = 128 + h->method_len + strlen(path);
	for (size_t i = 0; i < no; i++)
		need += 8 + out[i].name_len + out[i].value_len;
	struct mesh__block *b = need <= MESH_BLOCK_SIZE ? mesh__block_get(&w->pool)
	                                                : mesh__block_get_big(&w->pool, need);
	if (!b)
		return -1;
	struct mesh__hlist l;
	mesh__hlist_init(&l, b->data, b->cap);
	bool ok = mesh__hlist_add(&l, ":method", 7, h->method, h->method_len, false) &&
	          mesh__hlist_add(&l, ":scheme", 7, "http", 4, false) &&
	          mesh__hlist_add(&l, ":authority", 10, out[0].value, out[0].value_len, false) &&
	          mesh__hlist_add(&l, ":path", 5, path, strlen(path), false);
	for (size_t i = 1; ok && i < no; i++) {
		if (mesh__h2_is_connection_header(out[i].name, out[i].name_len, out[i].value,
		                                  out[i].value_len))
			continue;
		ok = mesh__hlist_add(&l, out[i].name, out[i].name_len, out[i].value,
		                     out[i].value_len, true);
	}
	if (!ok) {
		mesh__block_put(&w->pool, b);
		return -1;
	}
	mesh__block_put(&w->pool, st->uphead);
	st->uphead = b;
	st->uphead_len = l.len;
	st->uphead_n = l.n;
	return 0;
}

void mesh__stream_start(struct mesh__stream *st, const struct mesh__h1_head *h)
{
	struct mesh__dconn *d = st->d;
	struct mesh__worker *w = d->w;
	stream_begin(st, h);
	int64_t grpc_timeout = -1;
	for (size_t i = 0; i < h->n_headers; i++) {
		const struct mesh__h1_header *x = &h->headers[i];
		if (mesh__h1_name_eq(x->name, x->name_len, "content-type"))
			st->grpc = mesh__grpc_is_content_type(x->value, x->value_len);
		else if (mesh__h1_name_eq(x->name, x->name_len, "grpc-timeout"))
			grpc_timeout = mesh__grpc_timeout_ms(x->value, x->value_len);
	}
	if (!st->grpc)
		grpc_timeout = -1;
	if (!st->ws) {
		mesh__stream_local_reply(st, 503, "no configuration\n");
		return;
	}
	if (h->flags & MESH_H1_F_CONNECT) {
		st->keep_alive = false;
		if (st->sid) { /* (HTTP/2 CONNECT, RFC 8441 too: not proxied) */
			mesh__stream_local_reply(st, 501, "CONNECT over HTTP/2 is not supported\n");
			return;
		}
		st->connect = true; /* routed by its authority, host:port, then relayed */
	}
	/* WebSocket and other upgrades: the head goes on with its Upgrade; a
	 * 101 answer turns both connections into a byte tunnel. An upgrade to
	 * h2c is ignored, as Envoy does: the request goes on as HTTP/1.1. */
	st->upgrade = (h->flags & MESH_H1_F_UPGRADE) != 0;
	for (size_t i = 0; st->upgrade && i < h->n_headers; i++)
		if (mesh__h1_name_eq(h->headers[i].name, h->headers[i].name_len, "upgrade") &&
		    h->headers[i].value_len == 3 && !strncasecmp(h->headers[i].value, "h2c", 3)) {
			st->upgrade = false;
			st->h2c_upgrade = true;
		}

	/* the parts routing reads, NUL-terminated */
	size_t off = 0;
	struct mesh_header hv[MESH_H1_MAX_HEADERS_CAP];
	const char *method = scratch_copy(w, &off, h->method, h->method_len);
	const char *path = h->path ? scratch_copy(w, &off, h->path, h->path_len) : "/";
	const char *authority =
		h->authority ? scratch_copy(w, &off, h->authority, h->authority_len) : "";
	size_t nh = 0;
	for (size_t i = 0; i < h->n_headers && i < MESH_H1_MAX_HEADERS_CAP; i++) {
		hv[nh].name = scratch_copy(w, &off, h->headers[i].name, h->headers[i].name_len);
		hv[nh].value = scratch_copy(w, &off, h->headers[i].value, h->headers[i].value_len);
		if (hv[nh].name && hv[nh].value)
			nh++;
	}
	if (!method || !path || !authority) {
		mesh__stream_local_reply(st, 431, "request head too large\n");
		return;
	}
	const struct mesh__listener_cfg *lc = d->l->cfg;
	const struct mesh_route *rt = NULL;
	const char *up_authority = authority;
	char newpath[2048];
	const char *up_path = path;
	bool gateway = lc->kind == MESH_LISTENER_GATEWAY;
	const char *scheme = gateway && d->ssl ? "https" : "http";
	if (lc->kind == MESH_LISTENER_INBOUND) {
		/* to the local app, as is */
		memcpy(&st->dst, &lc->target_sa, lc->target_len);
		st->dst_len = lc->target_len;
		snprintf(st->dst_key, sizeof(st->dst_key), "inbound:%.70s", lc->target);
	} else {
		if (lc->kind == MESH_LISTENER_UPSTREAM)
			authority = lc->target;
		struct mesh_request req = {
			.struct_size = sizeof(req),
			.method = method,
			.scheme = "http",
			.authority = authority,
			.path = path,
			.headers = hv,
			.nheaders = nh,
		};
		int rc = gateway ? mesh__gateway_route(st->ws->snap->gw, st->ws->snap->router,
		                                       lc->gw_port, d->ssl != NULL, d->sni, &req,
		                                       w->scratch, &rt)
		                 : mesh_router_route(st->ws->snap->router, &req, w->scratch, &rt);
		if (rc == MESH__GW_REDIRECT) {
			/* httpsRedirect: Envoy's require_tls answer, Host and path kept */
			char loc[2048];
			snprintf(loc, sizeof(loc), "https://%s%s", authority, path);
			struct mesh__h1_header location = { "location", 8, loc, strlen(loc) };
			reply(st, 301, &location, 1, "");
			return;
		}
		if (rc) {
			st->flags |= F_NR;
			mesh__stream_local_reply(st, 404, "no route\n");
			return;
		}
		st->route = rt;
		if (st->upgrade && rt->rule && rt->rule->kind == MESH_KIND_ROUTE_RULE &&
		    !rt->websocket) {
			/* v1alpha2 rules allowed upgrades only with websocketUpgrade */
			st->keep_alive = false;
			mesh__stream_local_reply(st, 403, "upgrade not allowed by the route\n");
			return;
		}
		if (rt->has_fault && rt->fault.abort_percent > 0 &&
		    (rt->fault.abort_http_status || rt->fault.abort_grpc_status >= 0) &&
		    roll(w, rt->fault.abort_percent)) {
			st->flags |= F_FI;
			int status =
				rt->fault.abort_http_status ? rt->fault.abort_http_status : 200;
			st->grpc_abort = rt->fault.abort_grpc_status;
			mesh__stream_local_reply(st, status, "fault filter abort\n");
			return;
		}
		if (rt->action == MESH_ACTION_DIRECT_RESPONSE) {
			reply(st, rt->direct_status, NULL, 0,
			      rt->direct_body ? rt->direct_body : "");
			return;
		}
		if (rt->action == MESH_ACTION_REDIRECT) {
			char loc[2048];
			const char *rq = strchr(path, '?');
			snprintf(loc, sizeof(loc), "%s://%s%s%s",
			         rt->redirect.scheme ? rt->redirect.scheme : scheme,
			         rt->redirect.authority ? rt->redirect.authority : authority,
			         rt->redirect.uri ? rt->redirect.uri : path,
			         rt->redirect.uri && rq ? rq : "");
			struct mesh__h1_header location = { "location", 8, loc, strlen(loc) };
			reply(st, rt->redirect.code ? rt->redirect.code : 301, &location, 1, "");
			return;
		}
		size_t idx = mesh_route_pick(rt, rnd32(w));
		st->cluster = mesh_route_destination(rt, idx, NULL);
		if (!st->cluster) {
			st->flags |= F_NR;
			mesh__stream_local_reply(st, 503, "route has no destination\n");
			return;
		}
		if (mesh_balancer_acquire(st->ws->lb, st->cluster, MESH_CB_REQUESTS)) {
			st->flags |= F_UO;
			mesh__ctr_add(&w->ctr[C_UPSTREAM_RQ_PENDING_OVERFLOW], 1);
			mesh__stream_local_reply(st, 503,
			                         "upstream connect error or disconnect/reset "
			                         "before headers. reset reason: overflow\n");
			return;
		}
		st->cb_request = true;
		if (mesh__stream_pick(st))
			return;
		if (rt->rewrite_authority)
			up_authority = rt->rewrite_authority;
		if (rt->rewrite_uri) {
			rewrite_path(rt, path, newpath, sizeof(newpath));
			up_path = newpath;
		}
	}
	if (st->connect) {
		st->connect_go = true; /* relayed once the parser is done (conn.c) */
		return;
	}
	st->up_h2 = upstream_is_h2(st, lc);

	/* the upstream request head */
	/* host, the copies, header ops (6 at most), then x-request-id,
	 * x-forwarded-proto, x-forwarded-for and x-forwarded-client-cert */
	struct mesh__h1_header out[MESH_H1_MAX_HEADERS_CAP + 10];
	size_t no = 0;
	bool has_request_id = false;
	out[no++] = (struct mesh__h1_header){ "host", 4, up_authority, strlen(up_authority) };
	for (size_t i = 0; i < h->n_headers && no < MESH_H1_MAX_HEADERS_CAP; i++) {
		const struct mesh__h1_header *x = &h->headers[i];
		if (mesh__h1_is_hop_header(x->name, x->name_len, h) ||
		    mesh__h1_name_eq(x->name, x->name_len, "host") ||
		    op_removes(rt, x->name, x->name_len) ||
		    (st->h2c_upgrade && (mesh__h1_name_eq(x->name, x->name_len, "upgrade") ||
		                         mesh__h1_name_eq(x->name, x->name_len, "http2-settings"))))
			continue;
		if (mesh__h1_name_eq(x->name, x->name_len, "x-request-id"))
			has_request_id = true;
		/* as Envoy's APPEND_FORWARD on a sidecar's inbound side,
		 * SANITIZE_SET on a gateway and SANITIZE elsewhere: client
		 * certificate details pass only over mutual TLS, so an app
		 * cannot claim another's identity */
		if (mesh__h1_name_eq(x->name, x->name_len, "x-forwarded-client-cert") &&
		    !(lc->kind == MESH_LISTENER_INBOUND && d->xfcc))
			continue;
		/* an edge proxy (Istio's gateways set use_remote_address) says
		 * itself how the client came */
		if (gateway && mesh__h1_name_eq(x->name, x->name_len, "x-forwarded-proto"))
			continue;
		out[no++] = *x;
	}
	for (size_t i = 0; rt && i < rt->nhops && no < MESH_H1_MAX_HEADERS_CAP + 6; i++) {
		const struct header_op *op = &rt->hops[i];
		if (op->dir == MESH_HDR_REQUEST && op->op != MESH_HDR_REMOVE && op->value)
			out[no++] = (struct mesh__h1_header){ op->name, strlen(op->name), op->value,
				                              strlen(op->value) };
	}
	char rid[40];
	if (!has_request_id) {
		request_id(w, rid);
		out[no++] = (struct mesh__h1_header){ "x-request-id", 12, rid, 36 };
	}
	out[no++] = (struct mesh__h1_header){ "x-forwarded-proto", 17, scheme, strlen(scheme) };
	char xff[INET6_ADDRSTRLEN];
	if (gateway && peer_address(d->fd, xff, sizeof(xff)))
		/* a second field, which means the list with the client appended */
		out[no++] = (struct mesh__h1_header){ "x-forwarded-for", 15, xff, strlen(xff) };
	if ((lc->kind == MESH_LISTENER_INBOUND || gateway) && d->xfcc)
		out[no++] = (struct mesh__h1_header){ "x-forwarded-client-cert", 23, d->xfcc,
			                              strlen(d->xfcc) };
	int64_t body = h->body == MESH_H1_BODY_CLOSE ? MESH_H1_BODY_NONE : h->body;
	st->mirror_chunked = body == MESH_H1_BODY_CHUNKED;
	if (st->up_h2) {
		/* the body goes as DATA frames, unframed in st->req */
		if (build_h2_head(st, h, up_path, out, no)) {
			mesh__stream_local_reply(st, 431, "request head too large\n");
			return;
		}
	} else {
		st->req_chunked = body == MESH_H1_BODY_CHUNKED;
		struct mesh__sb *sb = &w->sb;
		mesh__sb_truncate(sb, 0);
		if (mesh__h1_write_request_head(sb, h->method, h->method_len, up_path,
		                                strlen(up_path), out, no, body,
		                                st->upgrade ? MESH_H1_W_UPGRADE : 0) ||
		    !mesh__chain_append(&st->req, &w->pool, sb->buf, sb->len)) {
			mesh__stream_local_reply(st, 400, "request head cannot be forwarded\n");
			return;
		}
	}
	if (rt && rt->nmirrors && !st->upgrade) {
		start_mirrors(st, rt, h, out, no, up_path, body);
		if (st->req_done)
			mirrors_end(st, true);
	}
	st->retriable = true; /* until the body outgrows the retry buffer */
	st->idempotent = is_idempotent(h);
	if (h->flags & MESH_H1_F_EXPECT_CONTINUE) {
		/* as Envoy: the proxy answers 100 itself and sends the body on */
		if (st->sid) {
			mesh__h2s_continue(st);
		} else {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			mesh__chain_append(&d->out, &w->pool, cont, sizeof(cont) - 1);
			mesh__dconn_write(d);
		}
	}
	/* grpc-timeout shortens the route's timeout (Istio sets Envoy's
	 * max_grpc_timeout to the route timeout, 0 meaning no cap) */
	int64_t timeout = rt ? rt->timeout_ms : 0;
	if (grpc_timeout >= 0 && (timeout <= 0 || grpc_timeout < timeout))
		timeout = grpc_timeout > 0 ? grpc_timeout : 1;
	if (timeout > 0) {
		ev_timer_set(&st->timeout, timeout / 1000.0, 0);
		ev_timer_start(w->loop, &st->timeout);
	}
	if (rt && rt->has_fault && rt->fault.delay_ms > 0 && roll(w, rt->fault.delay_percent)) {
		st->flags |= F_DI;
		ev_timer_set(&st->delay, rt->fault.delay_ms / 1000.0, 0);
		ev_timer_start(w->loop, &st->delay);
		return;
	}
	if (start_attempt(st))
		mesh__stream_upstream_failed(st, F_UF);
}

int mesh__stream_on_body(struct mesh__dconn *d, const char *data, size_t len)
{
	struct mesh__stream *st = d->st;
	if (!st)
		return 0;
	return mesh__stream_body(st, data, len);
}

int mesh__stream_body(struct mesh__stream *st, const char *data, size_t len)
{
	if (st->resp_done || st->finished)
		return 0; /* a local reply was sent: the body is dropped */
	struct mesh__dconn *d = st->d;
	struct mesh__worker *w = d->w;
	if (ev_is_active(&st->idle))
		ev_timer_again(w->loop, &st->idle);
	bool ok;
	if (st->req_chunked) {
		char hdr[MESH_H1_CHUNK_HEADER_MAX];
		size_t n = mesh__h1_chunk_header(hdr, len);
		ok = mesh__chain_append(&st->req, &w->pool, hdr, n) &&
		     mesh__chain_append(&st->req, &w->pool, data, len) &&
		     mesh__chain_append(&st->req, &w->pool, MESH_H1_CRLF, 2);
	} else {
		ok = mesh__chain_append(&st->req, &w->pool, data, len);
	}
	if (!ok)
		return -1;
	if (st->nmirrors) {
		if (st->mirror_chunked) {
			char hdr[MESH_H1_CHUNK_HEADER_MAX];
			size_t n = mesh__h1_chunk_header(hdr, len);
			mirrors_body(st, hdr, n);
			mirrors_body(st, data, len);
			mirrors_body(st, MESH_H1_CRLF, 2);
		} else {
			mirrors_body(st, data, len);
		}
	}
	if (st->req.bytes + st->req_dropped > MESH_RETRY_BUFFER)
		st->retriable = false;
	mesh__stream_send(st);
	if (st->sid) {
		/* HTTP/2: the window is given back as the backlog goes down */
		if (st->finished || st->resp_done)
			return 0;
		return st->req.bytes - st->req_sent > MESH_H2_STREAM_HIGH ? 1 : 0;
	}
	if (d->st == st && st->req.bytes > st->req_sent + MESH_HIGH_WATER) {
		/* the upstream is slower than the client: stop reading it */
		ev_io_stop(w->loop, &d->rio);
		d->read_paused = true;
		return 1;
	}
	return 0;
}

int mesh__stream_on_end(struct mesh__dconn *d)
{
	struct mesh__stream *st = d->st;
	if (!st)
		return 0;
	if (st->h2c_upgrade)
		mesh__h1_parser_resume(&d->parser); /* no tunnel: HTTP/1.1 goes on */
	return mesh__stream_end(st, NULL, 0);
}

/* Keep request trailers for an HTTP/2 upstream (they go after the body). */
static void keep_req_trailers(struct mesh__stream *st, const struct mesh__h1_header *t, size_t n)
{
	struct mesh__worker *w = st->d->w;
	struct mesh__block *b = mesh__block_get(&w->pool);
	if (!b)
		return;
	struct mesh__hlist l;
	mesh__hlist_init(&l, b->data, b->cap);
	for (size_t i = 0; i < n; i++)
		if (!mesh__h1_is_forbidden_trailer(t[i].name, t[i].name_len))
			mesh__hlist_add(&l, t[i].name, t[i].name_len, t[i].value, t[i].value_len,
			                true);
	if (!l.n) {
		mesh__block_put(&w->pool, b);
		return;
	}
	st->req_trailers = b;
	st->req_trailers_len = l.len;
}

int mesh__stream_end(struct mesh__stream *st, const struct mesh__h1_header *trailers, size_t n)
{
	if (st->finished)
		return 0;
	struct mesh__worker *w = st->d->w;
	st->req_done = true;
	if (st->resp_done) {
		mesh__stream_finish(st);
		return 0; /* the next pipelined request may follow at once */
	}
	if (st->req_chunked) {
		struct mesh__sb *sb = &w->sb;
		mesh__sb_truncate(sb, 0);
		struct mesh__h1_header keep[64];
		size_t nk = 0;
		for (size_t i = 0; i < n && nk < 64; i++)
			if (!mesh__h1_is_forbidden_trailer(trailers[i].name, trailers[i].name_len))
				keep[nk++] = trailers[i];
		if (mesh__h1_write_last_chunk(sb, keep, nk))
			mesh__h1_write_last_chunk(sb, NULL, 0);
		mesh__chain_append(&st->req, &w->pool, sb->buf, sb->len);
	} else if (st->up_h2 && n) {
		keep_req_trailers(st, trailers, n);
	}
	if (st->mirror_chunked)
		mirrors_body(st, "0\r\n\r\n", 5);
	mirrors_end(st, true);
	mesh__stream_send(st);
	return 1; /* one request at a time: wait for this response */
}

/* Free request blocks already sent when no retry can need them. */
static void drop_sent(struct mesh__stream *st, struct mesh__pool *pool)
{
	while (!st->retriable && st->req.head && st->req_sent >= st->req.head->len &&
	       st->req.head != st->req.tail) {
		struct mesh__block *b = st->req.head;
		st->req_sent -= b->len;
		st->req_dropped += b->len;
		st->req.bytes -= b->len;
		st->req.head = b->next;
		mesh__block_put(pool, b);
	}
}

void mesh__stream_req_sent(struct mesh__stream *st, size_t n)
{
	st->req_sent += n;
	drop_sent(st, &st->d->w->pool);
}

void mesh__stream_req_progress(struct mesh__stream *st)
{
	if (st->sid) {
		mesh__h2s_req_progress(st);
		return;
	}
	struct mesh__dconn *d = st->d;
	if (d->read_paused && !d->closed && st->req.bytes - st->req_sent < MESH_HIGH_WATER / 2) {
		d->read_paused = false;
		ev_io_start(d->w->loop, &d->rio);
		mesh__dconn_kick(d);
	}
}

void mesh__stream_resp_drained(struct mesh__stream *st)
{
	if (st->up)
		mesh__upstream_resume(st->up);
	else if (st->h2u)
		mesh__h2up_resume(st);
}

/* ---- upstream outcomes ---- */

/* One attempt: an upstream connection (or HTTP/2 stream) for the chosen
 * endpoint, and the route's per-try timeout. Returns 0, or -1 when no
 * connection could be started. */
static int start_attempt(struct mesh__stream *st)
{
	struct mesh__worker *w = st->d->w;
	const struct mesh_route *rt = st->route;
	if (rt && rt->retry.per_try_timeout_ms > 0) {
		ev_timer_stop(w->loop, &st->per_try);
		ev_timer_set(&st->per_try, rt->retry.per_try_timeout_ms / 1000.0, 0);
		ev_timer_start(w->loop, &st->per_try);
	}
	st->up_sent = st->up_head_seen = false;
	return st->up_h2 ? mesh__h2up_attach(st) : mesh__upstream_get(st);
}

void mesh__stream_pending_go(struct mesh__stream *st)
{
	if (start_attempt(st))
		mesh__stream_upstream_failed(st, F_UF);
}

static bool retry_allowed(struct mesh__stream *st, int status, unsigned flag)
{
	const struct mesh_route *rt = st->route;
	if (!rt || !st->retriable || st->resp_started || st->attempts >= rt->retry.attempts)
		return false;
	const char *on = rt->retry.retry_on ? rt->retry.retry_on : "";
	if (flag == F_UF) /* no connection: nothing was sent, any method is safe */
		return strstr(on, "connect-failure") || strstr(on, "reset") || strstr(on, "5xx") ||
		       strstr(on, "gateway-error") || strstr(on, "refused-stream");
	/* the request went out: sending it again is safe for idempotent
	 * methods only (the rule; Envoy itself does not check) */
	if (!st->idempotent)
		return false;
	if (flag)
		return strstr(on, "reset") || strstr(on, "5xx");
	if (strstr(on, "5xx") && status >= 500)
		return true;
	if (strstr(on, "gateway-error") && (status == 502 || status == 503 || status == 504))
		return true;
	if ((strstr(on, "retriable-status-codes") || strstr(on, "unavailable")) && status == 503)
		return true;
	return false;
}

/* Try again after a back-off (Envoy's: 25 ms base, doubling, at most
 * 250 ms, full jitter) on another pick of the balancer. Returns true: the
 * stream is taken care of. */
/* The cluster's maxRetries: retries outstanding at once (Envoy's retry
 * circuit breaker). False past it: the failure is answered as it is. */
static bool retry_budget(struct mesh__stream *st)
{
	if (st->cb_retry)
		return true;
	if (mesh_balancer_acquire(st->ws->lb, st->cluster, MESH_CB_RETRIES)) {
		mesh__ctr_add(&st->d->w->ctr[C_UPSTREAM_RQ_RETRY_OVERFLOW], 1);
		return false;
	}
	st->cb_retry = true;
	return true;
}

static bool retry(struct mesh__stream *st, int outcome)
{
	struct mesh__worker *w = st->d->w;
	if (!retry_budget(st))
		return false;
	if (st->ep >= 0)
		mesh_balancer_end(st->ws->lb, st->cluster, st->ep, outcome,
		                  (uint64_t)st->d->w->now_ms);
	st->ep = -1;
	st->attempts++;
	mesh__ctr_add(&w->ctr[C_UPSTREAM_RQ_RETRY], 1);
	st->req_sent = 0;
	ev_timer_stop(w->loop, &st->per_try);
	unsigned cap = 25u << (st->attempts < 4 ? st->attempts - 1 : 3);
	if (cap > 250)
		cap = 250;
	double ms = (double)(rnd32(w) % (cap + 1));
	ev_timer_stop(w->loop, &st->delay);
	ev_timer_set(&st->delay, ms / 1000.0, 0);
	ev_timer_start(w->loop, &st->delay);
	return true;
}

void mesh__stream_upstream_failed(struct mesh__stream *st, unsigned flag)
{
	drop_upstream(st);
	if (retry_allowed(st, 0, flag) && retry(st, MESH_OUTCOME_LOCAL_FAILURE))
		return;
	if (st->attempts && st->route && st->attempts >= st->route->retry.attempts)
		st->flags |= F_URX;
	st->flags |= flag;
	if (st->resp_started) {
		/* part of the response went out: all we can do is cut it */
		cut(st);
		return;
	}
	mesh__stream_local_reply(st, 503,
	                         "upstream connect error or disconnect/reset before "
	                         "headers\n");
}

/* The upstream answered with @status before anything went downstream:
 * true when the stream retried instead of passing it on. */
bool mesh__stream_retry_status(struct mesh__stream *st, int status)
{
	if (!retry_allowed(st, status, 0) || !retry_budget(st))
		return false;
	drop_upstream(st);
	return retry(st, outcome_of(status));
}

/* Ask the upstream to move bytes (after a pause on either side). */
void mesh__stream_send(struct mesh__stream *st)
{
	if (st->up)
		mesh__upstream_write(st->up);
	else if (st->h2u)
		mesh__h2up_send(st);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh__stream *st = t->data;
	struct mesh__worker *w = st->d->w;
	mesh__ctr_add(&w->ctr[C_UPSTREAM_RQ_TIMEOUT], 1);
	st->flags |= F_UT;
	drop_upstream(st);
	if (st->resp_started) {
		cut(st);
		return;
	}
	mesh__stream_local_reply(st, 504, "upstream request timeout\n");
}

/* Envoy's stream_idle_timeout: nothing moved either way for that long. A
 * 408 when no answer has begun (a client trickling its body, or stalled),
 * else the stream is cut. */
static void on_idle(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh__stream *st = t->data;
	struct mesh__worker *w = st->d->w;
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_RQ_IDLE_TIMEOUT], 1);
	mesh__log(MESH_LOG_DEBUG, "stream idle timeout");
	drop_upstream(st);
	if (st->resp_started) {
		cut(st);
		return;
	}
	st->keep_alive = false;
	st->req_done = true; /* nothing more is read */
	mesh__stream_local_reply(st, 408, "stream timeout\n");
}

/* A fault delay, or a retry's back-off, is over. */
static void on_delay(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh__stream *st = t->data;
	if (st->ep < 0 && st->cluster && mesh__stream_pick(st))
		return; /* answered 503 */
	if (start_attempt(st))
		mesh__stream_upstream_failed(st, F_UF);
}

/* The attempt took longer than the route's perTryTimeout: as a 504 from
 * upstream, retried when the policy allows, else answered 504 (UT). */
static void on_per_try(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh__stream *st = t->data;
	if (st->resp_started)
		return; /* the answer is flowing: only the route timeout applies */
	drop_upstream(st);
	if (retry_allowed(st, 504, 0) && retry(st, MESH_OUTCOME_GATEWAY_ERROR))
		return;
	st->flags |= F_UT;
	mesh__ctr_add(&st->d->w->ctr[C_UPSTREAM_RQ_TIMEOUT], 1);
	mesh__stream_local_reply(st, 504, "upstream request timeout\n");
}

/* Response header operations and the response head toward downstream. */
int mesh__stream_response_head(struct mesh__stream *st, const struct mesh__h1_head *h)
{
	struct mesh__dconn *d = st->d;
	struct mesh__worker *w = d->w;
	if (ev_is_active(&st->idle))
		ev_timer_again(w->loop, &st->idle);
	const struct mesh_route *rt = st->route;
	struct mesh__h1_header out[MESH_H1_MAX_HEADERS_CAP + 8];
	size_t no = 0;
	for (size_t i = 0; i < h->n_headers && no < MESH_H1_MAX_HEADERS_CAP; i++) {
		const struct mesh__h1_header *x = &h->headers[i];
		if (mesh__h1_is_hop_header(x->name, x->name_len, h) ||
		    resp_op_removes(rt, x->name, x->name_len))
			continue;
		out[no++] = *x;
	}
	for (size_t i = 0; rt && i < rt->nhops && no < MESH_H1_MAX_HEADERS_CAP + 6; i++) {
		const struct header_op *op = &rt->hops[i];
		if (op->dir == MESH_HDR_RESPONSE && op->op != MESH_HDR_REMOVE && op->value)
			out[no++] = (struct mesh__h1_header){ op->name, strlen(op->name), op->value,
				                              strlen(op->value) };
	}
	if (st->sid) {
		/* HTTP/2: no connection fields; the end of stream rides on the
		 * HEADERS frame when no body (and no trailers) can follow */
		bool eos = st->is_head || h->status == 204 || h->status == 304 ||
		           (h->flags & MESH_H1_F_NO_BODY);
		if (mesh__h2s_head(st, h->status, out, no, eos))
			return -1;
		st->status = h->status;
		st->resp_started = true;
		if (st->attempts && h->status >= 500)
			st->flags |= F_URX;
		return 0;
	}
	int64_t body = h->body;
	unsigned wflags = 0;
	if (h->status == 101 && st->upgrade) {
		body = MESH_H1_BODY_NONE;
		wflags = MESH_H1_W_UPGRADE;
	} else if (st->is_head || h->status == 204 || h->status == 304)
		body = h->content_length >= 0 ? h->content_length : MESH_H1_BODY_NONE;
	else if (body == MESH_H1_BODY_CLOSE) {
		/* re-frame a close-delimited body so the client connection survives */
		body = MESH_H1_BODY_CHUNKED;
	}
	st->resp_chunked = body == MESH_H1_BODY_CHUNKED && !st->is_head;
	if (w->draining || d->close_after)
		st->keep_alive = false;
	struct mesh__sb *sb = &w->sb;
	mesh__sb_truncate(sb, 0);
	if (st->upgrade && h->status != 101)
		st->keep_alive = false; /* the client's parser waits in tunnel mode: close */
	if (!st->keep_alive && !wflags)
		wflags = MESH_H1_W_CLOSE;
	if (mesh__h1_write_response_head(sb, h->status, h->reason, h->reason_len, out, no, body,
	                                 wflags) ||
	    !mesh__chain_append(&d->out, &w->pool, sb->buf, sb->len))
		return -1;
	st->status = h->status;
	st->resp_started = true;
	if (st->attempts && h->status >= 500)
		st->flags |= F_URX; /* retried, and still an error */
	return 0;
}

int mesh__stream_response_body(struct mesh__stream *st, const char *data, size_t len)
{
	if (ev_is_active(&st->idle))
		ev_timer_again(st->d->w->loop, &st->idle);
	if (st->sid)
		return mesh__h2s_body(st, data, len);
	struct mesh__dconn *d = st->d;
	struct mesh__worker *w = d->w;
	bool ok;
	if (st->resp_chunked) {
		char hdr[MESH_H1_CHUNK_HEADER_MAX];
		size_t n = mesh__h1_chunk_header(hdr, len);
		ok = mesh__chain_append(&d->out, &w->pool, hdr, n) &&
		     mesh__chain_append(&d->out, &w->pool, data, len) &&
		     mesh__chain_append(&d->out, &w->pool, MESH_H1_CRLF, 2);
	} else {
		ok = mesh__chain_append(&d->out, &w->pool, data, len);
	}
	if (!ok)
		return -1;
	if (d->out.bytes > MESH_HIGH_WATER) {
		if (!mesh__dconn_write(d))
			return -1; /* the client went away; the stream is gone */
		return d->out.bytes > MESH_HIGH_WATER ? 1 : 0; /* pause the upstream */
	}
	return 0;
}

void mesh__stream_response_end(struct mesh__stream *st, const struct mesh__h1_header *trailers,
                               size_t n)
{
	struct mesh__dconn *d = st->d;
	if (st->sid) {
		st->resp_done = true;
		mesh__h2s_end(st, trailers, n);
		mesh__stream_finish(st);
		return;
	}
	if (st->resp_chunked) {
		struct mesh__sb *sb = &d->w->sb;
		mesh__sb_truncate(sb, 0);
		if (mesh__h1_write_last_chunk(sb, trailers, n)) {
			mesh__sb_truncate(sb, 0);
			mesh__h1_write_last_chunk(sb, NULL, 0);
		}
		mesh__chain_append(&d->out, &d->w->pool, sb->buf, sb->len);
	}
	st->resp_done = true;
	if (st->req_done)
		mesh__stream_finish(st);
	else
		mesh__dconn_write(d);
}

static void tunnel_closed(void *ud)
{
	struct mesh__worker *w = ud;
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_ACTIVE], -1);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_ACTIVE], -1);
	w->nconns--;
}

/* The upstream answered 101: the 101 head is queued for the client. Both
 * connections become one tunnel; @early are bytes the upstream sent after
 * its head. */
void mesh__stream_connect(struct mesh__stream *st)
{
	struct mesh__dconn *d = st->d;
	char early[MESH_BLOCK_SIZE];
	size_t n = 0;
	if (d->in && d->in->len) {
		if (d->in->len > sizeof(early)) {
			mesh__dconn_close(d);
			return;
		}
		memcpy(early, d->in->data + d->in->off, d->in->len);
		n = d->in->len;
	}
	struct mesh__listener *l = d->l;
	struct mesh__wsnap *ws = st->ws;
	ws->users++; /* the relay's reference: the cluster's TLS settings */
	const mesh_cluster *c = st->cluster;
	int up_tls = st->up_tls;
	struct sockaddr_storage sa = st->dst;
	socklen_t len = st->dst_len;
	SSL *ssl = NULL;
	int fd = mesh__dconn_detach(d, &ssl);
	st->status = 200;
	stream_done(st, MESH_OUTCOME_SUCCESS);
	mesh__dconn_free_detached(d);
	mesh__tcp_connect(l, fd, ssl, ws, c, &sa, len, up_tls, early, n);
}

void mesh__stream_upgrade(struct mesh__stream *st, struct mesh__upstream *u, const char *early,
                          size_t early_len)
{
	struct mesh__dconn *d = st->d;
	struct mesh__worker *w = d->w;
	char to_client[MESH_BLOCK_SIZE], to_server[MESH_BLOCK_SIZE];
	size_t nc = 0, ns = 0;
	bool fits = d->out.bytes + early_len <= sizeof(to_client) &&
	            (!d->in || d->in->len <= sizeof(to_server));
	if (!fits) {
		mesh__dconn_close(d);
		return;
	}
	for (struct mesh__block *b = d->out.head; b; b = b->next) {
		memcpy(to_client + nc, b->data + b->off, b->len);
		nc += b->len;
	}
	memcpy(to_client + nc, early, early_len);
	nc += early_len;
	if (d->in && d->in->len) {
		memcpy(to_server, d->in->data + d->in->off, d->in->len);
		ns = d->in->len;
	}
	SSL *cssl = NULL, *ussl = NULL;
	int cfd = mesh__dconn_detach(d, &cssl);
	int ufd = mesh__upstream_detach(u, &ussl);
	st->status = 101;
	st->up = NULL;
	stream_done(st, MESH_OUTCOME_SUCCESS);
	mesh__dconn_free_detached(d);
	w->nconns++; /* the tunnel holds the connection now */
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_ACTIVE], 1);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_ACTIVE], 1);
	mesh__tunnel_start(w, cfd, cssl, ufd, ussl, to_server, ns, to_client, nc,
	                   w->proxy->opts.idle_timeout_ms * 60, tunnel_closed, w);
}

/* The request's body was malformed before any answer went out: drop the
 * upstream attempt and answer @status, closing the connection after. */
void mesh__stream_bad_request(struct mesh__stream *st, int status, const char *why)
{
	drop_upstream(st);
	ev_timer_stop(st->d->w->loop, &st->delay);
	ev_timer_stop(st->d->w->loop, &st->per_try);
	st->req_done = true; /* nothing more will be read */
	st->keep_alive = false;
	char body[160];
	snprintf(body, sizeof(body), "%s\n", why);
	mesh__stream_local_reply(st, status ? status : 400, body);
}
