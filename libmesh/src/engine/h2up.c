/*
 * h2up.c - HTTP/2 connections to endpoints (ports whose protocol is http2
 * or grpc, DestinationRule h2UpgradePolicy UPGRADE, sniffed ports behind
 * an HTTP/2 client, inbound traffic from an HTTP/2 client): one connection
 * per endpoint per worker with the streams of many requests on it. nghttp2
 * queues requests beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS and
 * sends them as streams close.
 *
 * A request goes out from what the stream kept for retries: its head
 * (st->uphead, built once by stream.c) and its body chain (st->req, read
 * by a data provider from st->req_sent on, copied once into the output
 * chain), request trailers after the body. The response head, DATA and
 * trailers go into the pipeline as from an HTTP/1 upstream; DATA are given
 * back to the server's flow-control window only as the client takes them.
 *
 * As in h2conn.c, stream operations only submit; frames are written by
 * flush() from the event loop, so no nghttp2 callback runs re-entrantly and
 * nothing is freed under one. A connection that fails takes its streams
 * with it: each fails with UF (nothing of it was sent: safe to retry) or UC.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../http/h2.h"
#include "../lb/cluster.h"
#include "stream.h"

#define IDLE_TIMEOUT_S 60.0

struct mesh__h2up {
	struct mesh__worker *w;
	int fd;
	ev_io rio, wio;
	ev_timer timer; /* connect timeout, then idle timeout */
	nghttp2_session *s;
	struct mesh__h2up *next; /* the worker's table */
	struct mesh__stream *streams;
	unsigned nstreams;
	struct mesh__block *in;
	struct mesh__chain out;
	/* the response header block being received (one at a time) */
	struct mesh__block *hb;
	struct mesh__hlist hl;
	int32_t hb_sid;
	size_t hb_bytes;
	bool hb_overflow;
	char key[80];
	SSL *ssl;                           /* NULL: plain text */
	uint8_t tls;                        /* enum mesh__up_tls */
	bool handshake;                     /* TLS handshake in progress */
	const struct mesh_cluster *cluster; /* for the server identity check ... */
	struct mesh__wsnap *ws;             /* ... kept alive until the handshake is done */
	char *peer_id;                      /* the server's SPIFFE ID */
	/* the maxConnections unit it holds, and what keeps its cluster alive */
	const struct mesh_cluster *cb_cluster;
	struct mesh__wsnap *cb_ws;
	uint64_t gen;                 /* configuration it was last checked against */
	int64_t born_ms, max_life_ms; /* DestinationRule maxConnectionDuration (0: none) */
	bool connected, listed, in_io, want_close, kicked;
	bool goaway; /* takes no new streams */
};

static void flush(struct mesh__h2up *u);

static unsigned bucket(const char *key)
{
	unsigned h = 2166136261u;
	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % MESH_H2UP_BUCKETS;
}

static void unlist(struct mesh__h2up *u)
{
	if (!u->listed)
		return;
	struct mesh__h2up **pp = &u->w->h2ups[bucket(u->key)];
	while (*pp && *pp != u)
		pp = &(*pp)->next;
	if (*pp)
		*pp = u->next;
	u->next = NULL;
	u->listed = false;
}

static void kick(struct mesh__h2up *u)
{
	if (u->in_io || u->kicked || !u->connected || u->fd < 0)
		return;
	u->kicked = true;
	ev_feed_event(u->w->loop, &u->wio, EV_WRITE);
}

static void destroy(struct mesh__h2up *u)
{
	struct mesh__worker *w = u->w;
	unlist(u);
	ev_io_stop(w->loop, &u->rio);
	ev_io_stop(w->loop, &u->wio);
	ev_timer_stop(w->loop, &u->timer);
	mesh__tls_close(u->ssl);
	u->ssl = NULL;
	mesh__free(u->peer_id);
	u->peer_id = NULL;
	if (u->ws) {
		mesh__wsnap_release(w, u->ws);
		u->ws = NULL;
	}
	close(u->fd);
	u->fd = -1;
	if (u->s)
		nghttp2_session_del(u->s);
	mesh__block_put(&w->pool, u->in);
	mesh__block_put(&w->pool, u->hb);
	mesh__chain_clear(&u->out, &w->pool);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_ACTIVE], -1);
	if (u->cb_ws) {
		mesh_balancer_release(u->cb_ws->lb, u->cb_cluster, MESH_CB_CONNECTIONS);
		mesh__wsnap_release(w, u->cb_ws);
		mesh__upstream_room_freed(w);
	}
	mesh__free(u);
}

/* The stream leaves the connection's books (no nghttp2 call). */
static void unlink_stream(struct mesh__h2up *u, struct mesh__stream *st)
{
	if (st->uprev)
		st->uprev->unext = st->unext;
	else if (u->streams == st)
		u->streams = st->unext;
	if (st->unext)
		st->unext->uprev = st->uprev;
	st->uprev = st->unext = NULL;
	st->h2u = NULL;
	if (--u->nstreams == 0 && u->fd >= 0 && u->connected) {
		/* idle: closed after a while, or at once when it takes no new
		 * streams (from the loop: a caller may still hold it) */
		ev_timer_stop(u->w->loop, &u->timer);
		ev_timer_set(&u->timer, u->goaway ? 0 : IDLE_TIMEOUT_S, 0);
		ev_timer_start(u->w->loop, &u->timer);
	}
}

/* The connection failed: every stream on it fails (and may retry on
 * another connection: this one is out of the table first). */
static void close_all(struct mesh__h2up *u, unsigned flag)
{
	if (u->in_io) {
		u->want_close = true;
		return;
	}
	unlist(u);
	while (u->streams) {
		struct mesh__stream *st = u->streams;
		unlink_stream(u, st);
		st->up_sid = 0;
		st->up_pending = 0;
		mesh__stream_upstream_failed(st, (!u->connected || !st->up_sent) ? F_UF : flag);
	}
	destroy(u);
}

/* ---- nghttp2 callbacks ---- */

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
	struct mesh__h2up *u = ud;
	if (u->out.bytes >= MESH_H2_OUT_HIGH)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (!mesh__chain_append(&u->out, &u->w->pool, data, len))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return (ssize_t)len;
}

static ssize_t read_req(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length,
                        uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct mesh__stream *st = nghttp2_session_get_stream_user_data(s, sid);
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	size_t avail = st->req.bytes - st->req_sent;
	size_t n = avail < length ? avail : length;
	bool end = st->req_done && n == avail;
	if (!n && !end)
		return NGHTTP2_ERR_DEFERRED;
	if (n)
		*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (end) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (st->req_trailers) {
			nghttp2_nv nv[64];
			struct mesh__hlist l = { .buf = st->req_trailers->data,
				                 .len = st->req_trailers_len,
				                 .cap = st->req_trailers->cap };
			size_t nn = mesh__hlist_to_nv(&l, nv, 64);
			if (nn && !nghttp2_submit_trailer(s, sid, nv, nn))
				*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		}
	}
	return (ssize_t)n;
}

static int send_data_cb(nghttp2_session *s, nghttp2_frame *f, const uint8_t *framehd, size_t length,
                        nghttp2_data_source *src, void *ud)
{
	struct mesh__h2up *u = ud;
	struct mesh__pool *pool = &u->w->pool;
	if (u->out.bytes >= MESH_H2_OUT_HIGH)
		return NGHTTP2_ERR_WOULDBLOCK;
	struct mesh__stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!st || st->req.bytes - st->req_sent < length)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (!mesh__chain_append(&u->out, pool, framehd, 9) ||
	    !mesh__chain_copy(&u->out, pool, &st->req, st->req_sent, length))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	mesh__stream_req_sent(st, length);
	mesh__stream_req_progress(st);
	return 0;
}

static struct mesh__stream *find_stream(struct mesh__h2up *u, int32_t sid)
{
	for (struct mesh__stream *st = u->streams; st; st = st->unext)
		if (st->up_sid == sid)
			return st;
	return NULL;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	if (f->hd.type == NGHTTP2_HEADERS) {
		struct mesh__stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
		if (st)
			st->up_sent = true;
	}
	return 0;
}

/* A request that could not start (the server said GOAWAY meanwhile):
 * nothing of it was sent. */
static int on_frame_not_send(nghttp2_session *s, const nghttp2_frame *f, int err, void *ud)
{
	struct mesh__h2up *u = ud;
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct mesh__stream *st = find_stream(u, f->hd.stream_id);
	if (!st)
		return 0;
	nghttp2_session_set_stream_user_data(s, f->hd.stream_id, NULL);
	unlink_stream(u, st);
	st->up_sid = 0;
	mesh__stream_upstream_failed(st, F_UF);
	return 0;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct mesh__h2up *u = ud;
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (!u->hb && !(u->hb = mesh__block_get(&u->w->pool)))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	mesh__hlist_init(&u->hl, u->hb->data, u->hb->cap);
	u->hb_sid = f->hd.stream_id;
	u->hb_bytes = 0;
	u->hb_overflow = false;
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	struct mesh__h2up *u = ud;
	if (f->hd.stream_id != u->hb_sid || u->hb_overflow)
		return 0;
	u->hb_bytes += nlen + vlen + 32;
	if (u->hb_bytes > u->w->proxy->opts.max_header_bytes ||
	    !mesh__hlist_add(&u->hl, (const char *)name, nlen, (const char *)value, vlen, false))
		u->hb_overflow = true;
	return 0;
}

static bool eq(const char *a, size_t alen, const char *lit)
{
	return strlen(lit) == alen && !memcmp(a, lit, alen);
}

/* The response is complete from the server's side: the stream leaves
 * (its request is reset when it is not all sent: the server is done). */
static void detach_done(struct mesh__h2up *u, struct mesh__stream *st)
{
	mesh__h2up_detach(st, !(st->req_done && st->req_sent >= st->req.bytes));
}

static void on_headers(struct mesh__h2up *u, const nghttp2_frame *f)
{
	struct mesh__stream *st = nghttp2_session_get_stream_user_data(u->s, f->hd.stream_id);
	if (!st)
		return;
	bool eos = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
	struct mesh__h1_header hs[MESH_H1_MAX_HEADERS_CAP];
	size_t n = 0, pos = 0, nlen, vlen;
	const char *name, *value;
	int status = 0;
	int64_t cl = -1;
	while (mesh__hlist_next(&u->hl, &pos, &name, &nlen, &value, &vlen)) {
		if (nlen && name[0] == ':') {
			if (eq(name, nlen, ":status") && vlen == 3)
				status = (value[0] - '0') * 100 + (value[1] - '0') * 10 +
				         (value[2] - '0');
			continue;
		}
		if (eq(name, nlen, "content-length")) {
			cl = 0;
			for (size_t i = 0; i < vlen && cl >= 0; i++)
				cl = value[i] >= '0' && value[i] <= '9' && cl < INT64_MAX / 10
				             ? cl * 10 + (value[i] - '0')
				             : -1;
		}
		if (n < MESH_H1_MAX_HEADERS_CAP)
			hs[n++] = (struct mesh__h1_header){ name, nlen, value, vlen };
	}
	if (st->up_head_seen) {
		/* trailers: the response ends with them */
		detach_done(u, st);
		mesh__stream_response_end(st, hs, n);
		return;
	}
	if (status >= 100 && status < 200)
		return; /* interim: the proxy answered 100 itself */
	st->up_head_seen = true;
	if (u->hb_overflow || status < 200) {
		st->flags |= F_UPE;
		mesh__h2up_detach(st, true);
		if (st->resp_started)
			mesh__stream_upstream_failed(st, F_UPE);
		else
			mesh__stream_local_reply(st, 502, "upstream sent an invalid response\n");
		return;
	}
	if (!st->resp_started && status >= 500 && mesh__stream_retry_status(st, status))
		return; /* the stream left this connection and moved on */
	struct mesh__h1_head h = {
		.version_minor = 1,
		.flags = MESH_H1_F_KEEP_ALIVE | (eos ? MESH_H1_F_NO_BODY : 0),
		.status = status,
		.headers = hs,
		.n_headers = n,
		.content_length = cl,
		.body = eos       ? 0
		        : cl >= 0 ? cl
		                  : MESH_H1_BODY_CHUNKED,
	};
	if (mesh__stream_response_head(st, &h)) {
		mesh__stream_upstream_failed(st, F_UPE);
		return;
	}
	if (eos) {
		detach_done(u, st);
		mesh__stream_response_end(st, NULL, 0);
		return;
	}
	mesh__stream_flush(st);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct mesh__h2up *u = ud;
	struct mesh__stream *st;
	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		if (f->hd.stream_id == u->hb_sid)
			on_headers(u, f);
		u->hb_sid = 0;
		break;
	case NGHTTP2_DATA:
		if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
			break;
		st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
		if (st && st->up_head_seen) {
			detach_done(u, st);
			mesh__stream_response_end(st, NULL, 0);
		}
		break;
	case NGHTTP2_GOAWAY:
		/* no new streams here; the ones above last_stream_id are closed
		 * by nghttp2 as refused (and retried elsewhere) */
		u->goaway = true;
		break;
	default: break;
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                         size_t len, void *ud)
{
	struct mesh__stream *st = nghttp2_session_get_stream_user_data(s, sid);
	if (!st || !st->up_head_seen) {
		nghttp2_session_consume(s, sid, len);
		return 0;
	}
	int rc = mesh__stream_response_body(st, (const char *)data, len);
	if (rc > 0) {
		st->up_pending += (uint32_t)len; /* given back as the client drains */
		return 0;
	}
	nghttp2_session_consume(s, sid, len);
	if (rc == 0)
		mesh__stream_flush(st); /* last: an HTTP/1 client's write may end it */
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t error_code, void *ud)
{
	struct mesh__h2up *u = ud;
	struct mesh__stream *st = nghttp2_session_get_stream_user_data(s, sid);
	if (!st)
		return 0;
	/* closed before its response ended: reset by the server, or refused */
	unlink_stream(u, st);
	st->up_sid = 0;
	st->up_pending = 0;
	mesh__stream_upstream_failed(st, error_code == NGHTTP2_REFUSED_STREAM ? F_UF : F_UC);
	return 0;
}

static int on_error(nghttp2_session *s, int code, const char *msg, size_t len, void *ud)
{
	mesh__log(MESH_LOG_DEBUG, "HTTP/2 upstream: %.*s", (int)len, msg);
	return 0;
}

/* ---- the connection ---- */

static void flush(struct mesh__h2up *u)
{
	struct mesh__worker *w = u->w;
	if (!u->connected)
		return;
	bool more = false;
	for (int k = 0; k < 64; k++) {
		u->in_io = true;
		int rv = nghttp2_session_send(u->s);
		u->in_io = false;
		if (u->want_close || rv) {
			close_all(u, F_UC);
			return;
		}
		if (mesh__chain_writev(&u->out, &w->pool, u->fd, u->ssl) < 0) {
			close_all(u, F_UC);
			return;
		}
		more = !u->out.bytes && nghttp2_session_want_write(u->s);
		if (!more)
			break;
	}
	u->kicked = false;
	if (u->out.bytes)
		ev_io_start(w->loop, &u->wio);
	else
		ev_io_stop(w->loop, &u->wio); /* (also drops a pending kick) */
	if (more)
		kick(u);
	if (!u->out.bytes && !nghttp2_session_want_write(u->s) && !nghttp2_session_want_read(u->s))
		close_all(u, F_UC); /* GOAWAY both ways, nothing left */
}

static void up_connected(struct mesh__h2up *u)
{
	struct mesh__worker *w = u->w;
	u->connected = true;
	ev_timer_stop(w->loop, &u->timer);
	ev_io_start(w->loop, &u->rio);
	if (!u->nstreams) {
		ev_timer_set(&u->timer, IDLE_TIMEOUT_S, 0);
		ev_timer_start(w->loop, &u->timer);
	}
	if (u->ws) {
		mesh__wsnap_release(w, u->ws);
		u->ws = NULL;
		u->cluster = NULL;
	}
}

/* The TLS handshake toward the endpoint, then the server identity check
 * (as upstream.c's). */
static void tls_step(struct mesh__h2up *u)
{
	struct mesh__worker *w = u->w;
	char *peer = NULL;
	switch (mesh__tls_client_step(w, u->ssl, u->cluster, u->tls, u->key, &peer)) {
	case MESH__HS_WANT_READ:
		ev_io_stop(w->loop, &u->wio);
		ev_io_start(w->loop, &u->rio);
		return;
	case MESH__HS_WANT_WRITE:
		ev_io_stop(w->loop, &u->rio);
		ev_io_start(w->loop, &u->wio);
		return;
	case MESH__HS_FAIL: close_all(u, F_UF); return;
	default: break;
	}
	u->peer_id = peer;
	u->handshake = false;
	up_connected(u);
	flush(u);
	if (u->fd >= 0 && mesh__tls_has_pending(u->ssl))
		ev_feed_event(w->loop, &u->rio, EV_READ);
}

static void on_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mesh__h2up *u = io->data;
	struct mesh__worker *w = u->w;
	if (u->handshake) {
		tls_step(u);
		return;
	}
	if (!u->in && !(u->in = mesh__block_get(&w->pool))) {
		close_all(u, F_UC);
		return;
	}
	ssize_t r = mesh__sock_read(u->fd, u->ssl, u->in->data, u->in->cap);
	if (r <= 0) {
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close_all(u, F_UC);
		return;
	}
	u->in_io = true;
	ssize_t rv = nghttp2_session_mem_recv(u->s, (const uint8_t *)u->in->data, (size_t)r);
	u->in_io = false;
	mesh__block_put(&w->pool, u->in);
	u->in = NULL;
	if (u->want_close || rv < 0) {
		if (rv < 0)
			mesh__log(MESH_LOG_DEBUG, "HTTP/2 upstream: %s", nghttp2_strerror((int)rv));
		close_all(u, rv < 0 ? F_UPE : F_UC);
		return;
	}
	flush(u);
	if (u->fd >= 0 && mesh__tls_has_pending(u->ssl) && ev_is_active(&u->rio))
		ev_feed_event(w->loop, &u->rio, EV_READ);
}

static void on_write(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mesh__h2up *u = io->data;
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
			close_all(u, F_UF);
			return;
		}
		if (u->tls != MESH__UP_PLAIN) {
			const char *why = NULL;
			if (!(u->ssl = mesh__tls_originate(w, u->ws->snap, u->cluster, u->tls,
			                                   u->fd, u->key, "h2", &why))) {
				mesh__ctr_add(&w->ctr[C_UPSTREAM_SSL_FAIL], 1);
				mesh__log(MESH_LOG_WARNING, "upstream %s: %s", u->key, why);
				close_all(u, F_UF);
				return;
			}
			u->handshake = true;
			tls_step(u);
			return;
		}
		up_connected(u);
	}
	flush(u);
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh__h2up *u = t->data;
	if (!u->connected) {
		mesh__ctr_add(&u->w->ctr[C_UPSTREAM_CX_CONNECT_TIMEOUT], 1);
		close_all(u, F_UF);
		return;
	}
	if (!u->nstreams)
		destroy(u); /* idle too long, or done after a GOAWAY */
}

static struct mesh__h2up *connect_new(struct mesh__worker *w, struct mesh__stream *st)
{
	int fd = socket(st->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	mesh__upstream_sockopts(fd, st->cluster);
	if (connect(fd, (struct sockaddr *)&st->dst, st->dst_len) < 0 && errno != EINPROGRESS) {
		close(fd);
		mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_CONNECT_FAIL], 1);
		return NULL;
	}
	struct mesh__h2up *u = mesh__calloc(1, sizeof(*u));
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	if (!u || nghttp2_session_callbacks_new(&cb) || nghttp2_option_new(&opt))
		goto fail;
	nghttp2_session_callbacks_set_send_callback(cb, send_cb);
	nghttp2_session_callbacks_set_send_data_callback(cb, send_data_cb);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	nghttp2_session_callbacks_set_on_frame_not_send_callback(cb, on_frame_not_send);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_error_callback2(cb, on_error);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_no_closed_streams(opt, 1);
	if (nghttp2_session_client_new2(&u->s, cb, u, opt))
		goto fail;
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	cb = NULL;
	opt = NULL;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, MESH_H2_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, w->proxy->opts.max_header_bytes },
	};
	if (nghttp2_submit_settings(u->s, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) ||
	    nghttp2_session_set_local_window_size(u->s, NGHTTP2_FLAG_NONE, 0, MESH_H2_CONN_WINDOW))
		goto fail;
	u->w = w;
	u->fd = fd;
	snprintf(u->key, sizeof(u->key), "%s", st->dst_key);
	u->tls = st->up_tls;
	u->gen = st->ws->snap->generation;
	u->born_ms = w->now_ms;
	u->max_life_ms = st->cluster ? st->cluster->lb.max_connection_duration_ms : 0;
	if (u->tls != MESH__UP_PLAIN) {
		u->cluster = st->cluster;
		u->ws = st->ws;
		u->ws->users++; /* the cluster must outlive the handshake */
	}
	ev_io_init(&u->rio, on_read, fd, EV_READ);
	ev_io_init(&u->wio, on_write, fd, EV_WRITE);
	ev_set_priority(&u->wio, EV_MINPRI); /* requests of one iteration in one write */
	ev_init(&u->timer, on_timer);
	u->rio.data = u->wio.data = u->timer.data = u;
	const struct mesh_cluster *c = st->cluster;
	int64_t ct = (c && c->lb.connect_timeout_ms > 0) ? c->lb.connect_timeout_ms : 10000;
	ev_timer_set(&u->timer, ct / 1000.0, 0);
	ev_timer_start(w->loop, &u->timer);
	ev_io_start(w->loop, &u->wio);
	unsigned b = bucket(u->key);
	u->next = w->h2ups[b];
	w->h2ups[b] = u;
	u->listed = true;
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_TOTAL], 1);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_ACTIVE], 1);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_HTTP2_TOTAL], 1);
	return u;
fail:
	if (cb)
		nghttp2_session_callbacks_del(cb);
	if (opt)
		nghttp2_option_del(opt);
	if (u && u->s)
		nghttp2_session_del(u->s);
	mesh__free(u);
	close(fd);
	return NULL;
}

/* As Envoy: a connection with as many streams as the server allows takes
 * no more; the next stream opens another connection to the endpoint (the
 * cluster's maxConnections circuit breaker is what bounds them). */
static bool full(const struct mesh__h2up *u)
{
	return u->connected &&
	       u->nstreams >= nghttp2_session_get_remote_settings(
				      u->s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

/* Past its maxConnectionDuration: no new streams; closed once it has none
 * (from the loop: the caller may hold it). */
static bool aged_out(struct mesh__h2up *u)
{
	if (u->goaway || !u->max_life_ms || u->w->now_ms - u->born_ms < u->max_life_ms)
		return u->goaway;
	u->goaway = true;
	if (!u->nstreams && u->connected) {
		ev_timer_stop(u->w->loop, &u->timer);
		ev_timer_set(&u->timer, 0, 0);
		ev_timer_start(u->w->loop, &u->timer);
	}
	return true;
}

int mesh__h2up_attach(struct mesh__stream *st)
{
	struct mesh__worker *w = st->d->w;
	struct mesh__h2up *u = w->h2ups[bucket(st->dst_key)];
	while (u && (strcmp(u->key, st->dst_key) || aged_out(u) || full(u)))
		u = u->next;
	if (u && u->gen != st->ws->snap->generation && u->connected) {
		/* new configuration: is the server still one the destination may
		 * have? If not, no new streams on it */
		if (u->ssl && (u->tls != MESH__UP_ISTIO_MUTUAL ||
		               !mesh__cluster_peer_ok(st->cluster, u->peer_id))) {
			u->goaway = true;
			u = NULL;
		} else {
			u->gen = st->ws->snap->generation;
		}
	}
	if (!u && st->cluster &&
	    mesh_balancer_acquire(st->ws->lb, st->cluster, MESH_CB_CONNECTIONS)) {
		/* at maxConnections: a full connection to the endpoint queues the
		 * stream (nghttp2 holds it until one of its streams ends); with
		 * none, the stream waits for room as HTTP/1.1 requests do (or is
		 * answered 503 past http1MaxPendingRequests) */
		for (u = w->h2ups[bucket(st->dst_key)]; u; u = u->next)
			if (!u->goaway && !strcmp(u->key, st->dst_key))
				break;
		if (!u) {
			mesh__upstream_wait(st);
			return 0;
		}
	} else if (!u) {
		if (!(u = connect_new(w, st))) {
			if (st->cluster) {
				mesh_balancer_release(st->ws->lb, st->cluster, MESH_CB_CONNECTIONS);
				mesh__upstream_room_freed(w);
			}
			return -1;
		}
		if (st->cluster) { /* the unit is the connection's */
			u->cb_cluster = st->cluster;
			u->cb_ws = st->ws;
			st->ws->users++;
		}
	}
	if (!st->uphead)
		return -1;
	nghttp2_nv nv[MESH_H1_MAX_HEADERS_CAP + 16];
	struct mesh__hlist l = { .buf = st->uphead->data,
		                 .len = st->uphead_len,
		                 .cap = st->uphead->cap,
		                 .n = st->uphead_n };
	size_t nn = mesh__hlist_to_nv(&l, nv, sizeof(nv) / sizeof(nv[0]));
	bool body = !(st->req_done && st->req.bytes == 0 && !st->req_trailers);
	nghttp2_data_provider prd = { .source.ptr = NULL, .read_callback = read_req };
	int32_t sid = nghttp2_submit_request(u->s, NULL, nv, nn, body ? &prd : NULL, st);
	if (sid < 0) {
		/* stream ids used up, or out of memory: no new streams here */
		u->goaway = true;
		if (!u->nstreams)
			destroy(u);
		return -1;
	}
	st->h2u = u;
	st->up_sid = sid;
	st->up_pending = 0;
	st->uprev = NULL;
	st->unext = u->streams;
	if (u->streams)
		u->streams->uprev = st;
	u->streams = st;
	if (u->nstreams++ == 0 && u->connected)
		ev_timer_stop(w->loop, &u->timer);
	kick(u);
	return 0;
}

void mesh__h2up_detach(struct mesh__stream *st, bool cancel)
{
	struct mesh__h2up *u = st->h2u;
	if (!u)
		return;
	int32_t sid = st->up_sid;
	if (u->s && sid > 0) {
		nghttp2_session_set_stream_user_data(u->s, sid, NULL);
		if (cancel)
			nghttp2_submit_rst_stream(u->s, NGHTTP2_FLAG_NONE, sid, NGHTTP2_CANCEL);
		if (st->up_pending)
			nghttp2_session_consume(u->s, sid, st->up_pending);
	}
	st->up_pending = 0;
	st->up_sid = 0;
	unlink_stream(u, st);
	kick(u);
}

void mesh__h2up_send(struct mesh__stream *st)
{
	struct mesh__h2up *u = st->h2u;
	if (!u || !u->s || st->up_sid <= 0)
		return;
	nghttp2_session_resume_data(u->s, st->up_sid);
	kick(u);
}

void mesh__h2up_resume(struct mesh__stream *st)
{
	struct mesh__h2up *u = st->h2u;
	if (!u || !u->s || st->up_sid <= 0 || !st->up_pending)
		return;
	nghttp2_session_consume(u->s, st->up_sid, st->up_pending);
	st->up_pending = 0;
	kick(u);
}

void mesh__h2ups_close_idle(struct mesh__worker *w)
{
	for (unsigned b = 0; b < MESH_H2UP_BUCKETS; b++) {
		struct mesh__h2up *u = w->h2ups[b];
		while (u) {
			struct mesh__h2up *next = u->next;
			if (!u->nstreams)
				destroy(u);
			u = next;
		}
	}
}

void mesh__h2ups_close_stale(struct mesh__worker *w)
{
	for (unsigned b = 0; b < MESH_H2UP_BUCKETS; b++) {
		struct mesh__h2up *u = w->h2ups[b];
		while (u) {
			struct mesh__h2up *next = u->next;
			if (!u->nstreams && u->cb_ws && u->cb_ws != w->cur &&
			    !(u->connected && !u->ws && !u->goaway &&
			      (!u->ssl || u->tls == MESH__UP_ISTIO_MUTUAL) &&
			      mesh__wsnap_carry(w, u->key, &u->cb_cluster, &u->cb_ws)))
				destroy(u);
			u = next;
		}
	}
}

void mesh__h2ups_close_all(struct mesh__worker *w)
{
	for (unsigned b = 0; b < MESH_H2UP_BUCKETS; b++)
		while (w->h2ups[b])
			close_all(w->h2ups[b], F_UC);
}
