/*
 * h2conn.c - the HTTP/2 side of a client connection (h2c with prior
 * knowledge): an nghttp2 server session fed from the connection's read
 * buffer and writing its frames into the connection's output chain, so
 * that a TLS layer can later sit between these buffers and the socket.
 *
 * Each request becomes a stream of the common pipeline (stream.c); its
 * response comes back through the mesh__h2s_* functions: the head with
 * nghttp2_submit_response, the body through a per-stream block chain read
 * by a data provider (DATA frames copied once, from that chain into the
 * output chain), trailers with nghttp2_submit_trailer. Back-pressure: a
 * stream holds at most MESH_H2_STREAM_HIGH of response before its
 * upstream is paused, and request bytes are given back to the client's
 * flow-control window only while the stream's upstream backlog is low.
 *
 * Re-entrancy: nghttp2 must not be called back into from its own
 * callbacks, and a stream or connection must not be freed under a
 * callback. So stream operations only submit; the frames are written by
 * flush(), run from the event loop (a write event fed to the connection).
 *
 * Flood limits (issue 4 point 7), each answered with GOAWAY
 * ENHANCE_YOUR_CALM: premature resets (Envoy's rule: once 100 streams were
 * opened, more than half of them reset by the client within a second of
 * their start), PING and SETTINGS frames per second, consecutive empty
 * DATA / HEADERS / CONTINUATION frames, and nghttp2's own limit of queued
 * PING / SETTINGS acknowledgements. Streams beyond
 * SETTINGS_MAX_CONCURRENT_STREAMS are refused by nghttp2; a header list
 * over the head limit is answered 431.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../http/h2.h"
#include "stream.h"

#define FLOOD_WINDOW_MS 1000
#define MAX_PINGS_PER_WINDOW 200
#define MAX_SETTINGS_PER_WINDOW 100
#define MAX_EMPTY_FRAMES 1 /* consecutive, as Envoy's default */
#define PREMATURE_MIN_STREAMS 100
#define PREMATURE_LIFETIME_MS 1000
#define MAX_OUTBOUND_ACK 1000
#define LINGER_S 1.0

struct mesh__h2conn {
	struct mesh__dconn *d;
	nghttp2_session *s;
	struct mesh__stream *streams; /* every stream nghttp2 holds for us */
	unsigned nactive;             /* streams whose pipeline runs */
	/* the header block being received: CONTINUATION frames cannot
	 * interleave, so there is one at a time per connection */
	struct mesh__block *hb;
	struct mesh__hlist hl;
	int32_t hb_sid;
	size_t hb_bytes;
	unsigned hb_count;
	bool hb_overflow;
	/* flood accounting */
	int64_t win_start;
	unsigned win_pings, win_settings;
	unsigned empty_run;
	uint64_t streams_total, premature;
	bool flooded;
	/* state */
	bool in_io;      /* inside an nghttp2 call */
	bool want_close; /* close once that call returns */
	bool kicked;     /* a flush is scheduled */
	bool goaway;     /* a graceful GOAWAY went out (drain) */
	bool lingering;  /* done: reading and dropping until EOF or a timeout */
};

static void flush(struct mesh__h2conn *h2);

static void arm_timer(struct mesh__dconn *d, double s)
{
	ev_timer_stop(d->w->loop, &d->timer);
	ev_timer_set(&d->timer, s, 0);
	ev_timer_start(d->w->loop, &d->timer);
}

/* Schedule a flush from the event loop. Inside an nghttp2 call of this
 * connection nothing is needed: its caller flushes when it returns. */
static void kick(struct mesh__dconn *d)
{
	struct mesh__h2conn *h2 = d->h2;
	if (!h2 || h2->in_io || h2->kicked || h2->lingering || d->closed)
		return;
	h2->kicked = true;
	ev_feed_event(d->w->loop, &d->wio, EV_WRITE);
}

static void flood(struct mesh__h2conn *h2, enum mesh__counter c, const char *what)
{
	if (h2->flooded)
		return;
	h2->flooded = true;
	mesh__ctr_add(&h2->d->w->ctr[c], 1);
	mesh__log(MESH_LOG_INFO, "HTTP/2 client flood (%s): GOAWAY ENHANCE_YOUR_CALM", what);
	nghttp2_session_terminate_session(h2->s, NGHTTP2_ENHANCE_YOUR_CALM);
}

static void unlink_stream(struct mesh__h2conn *h2, struct mesh__stream *st)
{
	if (st->h2prev)
		st->h2prev->h2next = st->h2next;
	else if (h2->streams == st)
		h2->streams = st->h2next;
	if (st->h2next)
		st->h2next->h2prev = st->h2prev;
	st->h2prev = st->h2next = NULL;
}

/* Every stream leaves: pipelines still running are aborted with @flag. */
static void streams_down(struct mesh__h2conn *h2, unsigned flag)
{
	while (h2->streams) {
		struct mesh__stream *st = h2->streams;
		unlink_stream(h2, st);
		st->h2_closed = true;
		if (h2->s)
			nghttp2_session_set_stream_user_data(h2->s, st->sid, NULL);
		if (st->finished) {
			mesh__stream_free(st);
		} else {
			st->flags |= flag;
			mesh__stream_abort(st); /* frees it: it is closed */
		}
	}
	if (h2->s) {
		nghttp2_session_del(h2->s);
		h2->s = NULL;
	}
	if (h2->hb) {
		mesh__block_put(&h2->d->w->pool, h2->hb);
		h2->hb = NULL;
	}
}

/* The session is over and its last frames are written: stop sending
 * (FIN), and read and drop what the client still sends for a moment, so
 * that our GOAWAY is not lost to a reset caused by unread bytes. */
static void begin_linger(struct mesh__h2conn *h2)
{
	struct mesh__dconn *d = h2->d;
	struct mesh__worker *w = d->w;
	h2->lingering = true;
	streams_down(h2, F_LR);
	if (d->ssl)
		SSL_shutdown(d->ssl);
	shutdown(d->fd, SHUT_WR);
	ev_io_stop(w->loop, &d->wio);
	if (d->read_paused) {
		d->read_paused = false;
		ev_io_start(w->loop, &d->rio);
		mesh__dconn_kick(d);
	}
	arm_timer(d, LINGER_S);
}

/* ---- nghttp2 callbacks: output ---- */

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
	struct mesh__h2conn *h2 = ud;
	struct mesh__dconn *d = h2->d;
	if (d->out.bytes >= MESH_H2_OUT_HIGH)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (!mesh__chain_append(&d->out, &d->w->pool, data, len))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return (ssize_t)len;
}

static nghttp2_nv *trailer_nv(const struct mesh__block *b, size_t len, nghttp2_nv *nv, size_t max,
                              size_t *n)
{
	struct mesh__hlist l = { .buf = (char *)b->data, .len = len, .cap = b->cap };
	*n = mesh__hlist_to_nv(&l, nv, max);
	return nv;
}

/* DATA for a response: what its chain holds, the end when the response
 * ended (with trailers, they follow in a HEADERS frame of their own). */
static ssize_t read_resp(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct mesh__stream *st = nghttp2_session_get_stream_user_data(s, sid);
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	size_t n = st->resp.bytes < length ? st->resp.bytes : length;
	bool end = st->resp_done && n == st->resp.bytes;
	if (!n && !end)
		return NGHTTP2_ERR_DEFERRED;
	if (n)
		*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (end) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		st->eos_sent = true;
		if (st->resp_trailers) {
			nghttp2_nv nv[64];
			size_t nn;
			trailer_nv(st->resp_trailers, st->resp_trailers_len, nv, 64, &nn);
			if (nn && !nghttp2_submit_trailer(s, sid, nv, nn))
				*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		}
	}
	return (ssize_t)n;
}

static int send_data_cb(nghttp2_session *s, nghttp2_frame *f, const uint8_t *framehd, size_t length,
                        nghttp2_data_source *src, void *ud)
{
	struct mesh__h2conn *h2 = ud;
	struct mesh__dconn *d = h2->d;
	struct mesh__pool *pool = &d->w->pool;
	if (d->out.bytes >= MESH_H2_OUT_HIGH)
		return NGHTTP2_ERR_WOULDBLOCK;
	struct mesh__stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!st || st->resp.bytes < length)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (!mesh__chain_append(&d->out, pool, framehd, 9) ||
	    !mesh__chain_copy(&d->out, pool, &st->resp, 0, length))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	mesh__chain_consume(&st->resp, pool, length);
	if (st->resp_paused && st->resp.bytes < MESH_H2_STREAM_HIGH / 2) {
		st->resp_paused = false;
		mesh__stream_resp_drained(st);
	}
	return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct mesh__h2conn *h2 = ud;
	struct mesh__worker *w = h2->d->w;
	if (f->hd.type == NGHTTP2_RST_STREAM) {
		mesh__ctr_add(&w->ctr[C_H2_TX_RESET], 1);
		if (f->rst_stream.error_code == NGHTTP2_REFUSED_STREAM)
			mesh__ctr_add(&w->ctr[C_H2_REFUSED_STREAM], 1);
		return 0;
	}
	if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		/* the response is complete while the request is not: the client
		 * may stop sending (RFC 9113 8.1) */
		struct mesh__stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
		if (st && !st->req_done)
			nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id,
			                          NGHTTP2_NO_ERROR);
	}
	return 0;
}

/* ---- nghttp2 callbacks: input ---- */

static void window_tick(struct mesh__h2conn *h2)
{
	int64_t now = h2->d->w->now_ms;
	if (now - h2->win_start >= FLOOD_WINDOW_MS) {
		h2->win_start = now;
		h2->win_pings = h2->win_settings = 0;
	}
}

static int on_begin_frame(nghttp2_session *s, const nghttp2_frame_hd *hd, void *ud)
{
	struct mesh__h2conn *h2 = ud;
	switch (hd->type) {
	case NGHTTP2_DATA:
	case NGHTTP2_HEADERS:
	case NGHTTP2_CONTINUATION:
		if (hd->length == 0 && !(hd->flags & NGHTTP2_FLAG_END_STREAM)) {
			if (++h2->empty_run > MAX_EMPTY_FRAMES)
				flood(h2, C_H2_EMPTY_FRAMES_FLOOD, "empty frames");
		} else {
			h2->empty_run = 0;
		}
		break;
	case NGHTTP2_PING:
		if (!(hd->flags & NGHTTP2_FLAG_ACK)) {
			window_tick(h2);
			if (++h2->win_pings > MAX_PINGS_PER_WINDOW)
				flood(h2, C_H2_CONTROL_FLOOD, "PING");
		}
		break;
	case NGHTTP2_SETTINGS:
		if (!(hd->flags & NGHTTP2_FLAG_ACK)) {
			window_tick(h2);
			if (++h2->win_settings > MAX_SETTINGS_PER_WINDOW)
				flood(h2, C_H2_CONTROL_FLOOD, "SETTINGS");
		}
		break;
	default: break;
	}
	return 0;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct mesh__h2conn *h2 = ud;
	struct mesh__worker *w = h2->d->w;
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (!h2->hb && !(h2->hb = mesh__block_get(&w->pool)))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	mesh__hlist_init(&h2->hl, h2->hb->data, h2->hb->cap);
	h2->hb_sid = f->hd.stream_id;
	h2->hb_bytes = 0;
	h2->hb_count = 0;
	h2->hb_overflow = false;
	if (f->headers.cat == NGHTTP2_HCAT_REQUEST)
		h2->streams_total++;
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	struct mesh__h2conn *h2 = ud;
	struct mesh__worker *w = h2->d->w;
	const struct mesh_proxy_options *o = &w->proxy->opts;
	if (f->hd.stream_id != h2->hb_sid || !h2->hb || h2->hb_overflow)
		return 0;
	/* as SETTINGS_MAX_HEADER_LIST_SIZE counts: name + value + 32 */
	h2->hb_bytes += nlen + vlen + 32;
	if (nlen && name[0] != ':')
		h2->hb_count++;
	if (h2->hb_bytes > o->max_header_bytes || h2->hb_count > o->max_headers) {
		h2->hb_overflow = true;
		return 0;
	}
	if (mesh__hlist_add(&h2->hl, (const char *)name, nlen, (const char *)value, vlen, false))
		return 0;
	/* a large header list: one larger buffer, up to the limit */
	size_t cap = o->max_header_bytes + 1024;
	struct mesh__block *big = h2->hb->cap < cap ? mesh__block_get_big(&w->pool, cap) : NULL;
	if (!big) {
		h2->hb_overflow = true;
		return 0;
	}
	memcpy(big->data, h2->hl.buf, h2->hl.len);
	struct mesh__hlist l = {
		.buf = big->data, .len = h2->hl.len, .cap = big->cap, .n = h2->hl.n
	};
	mesh__block_put(&w->pool, h2->hb);
	h2->hb = big;
	h2->hl = l;
	if (!mesh__hlist_add(&h2->hl, (const char *)name, nlen, (const char *)value, vlen, false))
		h2->hb_overflow = true;
	return 0;
}

static void release_hb(struct mesh__h2conn *h2)
{
	/* a large buffer goes back to malloc; a pooled one is kept while the
	 * connection is busy (the next request's headers) */
	if (h2->hb && (h2->hb->cap != MESH_BLOCK_SIZE || !h2->nactive)) {
		mesh__block_put(&h2->d->w->pool, h2->hb);
		h2->hb = NULL;
	}
	h2->hb_sid = 0;
}

static bool eq(const char *a, size_t alen, const char *lit)
{
	return strlen(lit) == alen && !memcmp(a, lit, alen);
}

/* A request head: the routing view (as the HTTP/1 parser builds it) from
 * the received header list, then the pipeline. */
static void begin_stream(struct mesh__h2conn *h2, const nghttp2_frame *f)
{
	struct mesh__dconn *d = h2->d;
	struct mesh__worker *w = d->w;
	int32_t sid = f->hd.stream_id;
	struct mesh__stream *st = mesh__stream_new(d, sid);
	if (!st) {
		nghttp2_submit_rst_stream(h2->s, NGHTTP2_FLAG_NONE, sid, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	st->h2next = h2->streams;
	if (h2->streams)
		h2->streams->h2prev = st;
	h2->streams = st;
	nghttp2_session_set_stream_user_data(h2->s, sid, st);
	if (h2->nactive++ == 0)
		ev_timer_stop(w->loop, &d->timer);
	if (h2->hb_overflow) {
		mesh__ctr_add(&w->ctr[C_H2_HEADER_OVERFLOW], 1);
		mesh__stream_reject(st, 431, "request header list too large\n");
		return;
	}
	bool eos = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
	struct mesh__h1_head h = { .version_minor = 1, .content_length = -1 };
	struct mesh__h1_header hs[MESH_H1_MAX_HEADERS_CAP];
	size_t n = 0, pos = 0, nlen, vlen, ncookies = 0;
	const char *name, *value;
	while (mesh__hlist_next(&h2->hl, &pos, &name, &nlen, &value, &vlen))
		if (eq(name, nlen, "cookie"))
			ncookies++;
	if (ncookies > 1) {
		/* one cookie field for HTTP/1 upstreams and routing (RFC 9113
		 * 8.2.3), added at the end of the list */
		struct mesh__sb *sb = &w->sb;
		mesh__sb_truncate(sb, 0);
		pos = 0;
		while (mesh__hlist_next(&h2->hl, &pos, &name, &nlen, &value, &vlen)) {
			if (!eq(name, nlen, "cookie"))
				continue;
			if (sb->len)
				mesh__sb_append(sb, "; ", 2);
			mesh__sb_append(sb, value, vlen);
		}
		if (sb->oom || !mesh__hlist_add(&h2->hl, "cookie", 6, sb->buf, sb->len, false)) {
			mesh__stream_reject(st, 431, "request header list too large\n");
			return;
		}
	}
	size_t seen_cookies = 0;
	pos = 0;
	while (mesh__hlist_next(&h2->hl, &pos, &name, &nlen, &value, &vlen)) {
		if (nlen && name[0] == ':') {
			if (eq(name, nlen, ":method")) {
				h.method = value;
				h.method_len = vlen;
			} else if (eq(name, nlen, ":path")) {
				h.path = value;
				h.path_len = vlen;
			} else if (eq(name, nlen, ":authority")) {
				h.authority = value;
				h.authority_len = vlen;
			}
			continue;
		}
		if (eq(name, nlen, "cookie") && ncookies > 1 && ++seen_cookies <= ncookies)
			continue; /* the joined one comes last */
		if (eq(name, nlen, "host")) {
			h.flags |= MESH_H1_F_HAS_HOST;
			if (!h.authority) {
				h.authority = value;
				h.authority_len = vlen;
			}
		} else if (eq(name, nlen, "content-length")) {
			int64_t cl = 0;
			for (size_t i = 0; i < vlen && cl >= 0; i++)
				cl = (value[i] >= '0' && value[i] <= '9' && cl < INT64_MAX / 10)
				             ? cl * 10 + (value[i] - '0')
				             : -1;
			h.content_length = vlen ? cl : -1;
			h.flags |= MESH_H1_F_CONTENT_LENGTH;
		} else if (eq(name, nlen, "te")) {
			h.flags |= MESH_H1_F_TE_TRAILERS; /* nghttp2 lets only "trailers" in */
		} else if (eq(name, nlen, "expect")) {
			if (vlen == 12 && !strncasecmp(value, "100-continue", 12) && !eos)
				h.flags |= MESH_H1_F_EXPECT_CONTINUE;
			continue; /* the proxy answers it */
		}
		if (n < MESH_H1_MAX_HEADERS_CAP)
			hs[n++] = (struct mesh__h1_header){ name, nlen, value, vlen };
	}
	if (!h.method) {
		mesh__stream_reject(st, 400, "no :method\n");
		return;
	}
	h.method_id = mesh__h2_method_id(h.method, h.method_len);
	if (h.method_id == MESH_H1_M_CONNECT)
		h.flags |= MESH_H1_F_CONNECT;
	h.target = h.path;
	h.target_len = h.path_len;
	h.headers = hs;
	h.n_headers = n;
	h.flags |= MESH_H1_F_KEEP_ALIVE;
	if (eos) {
		h.flags |= MESH_H1_F_NO_BODY;
		h.body = MESH_H1_BODY_NONE;
	} else {
		h.body = h.content_length >= 0 ? h.content_length : MESH_H1_BODY_CHUNKED;
	}
	mesh__stream_start(st, &h);
}

/* Request trailers: the request ends with them. */
static void end_with_trailers(struct mesh__h2conn *h2, const nghttp2_frame *f)
{
	struct mesh__stream *st = nghttp2_session_get_stream_user_data(h2->s, f->hd.stream_id);
	if (!st || st->finished)
		return;
	struct mesh__h1_header t[64];
	size_t n = 0, pos = 0, nlen, vlen;
	const char *name, *value;
	while (n < 64 && mesh__hlist_next(&h2->hl, &pos, &name, &nlen, &value, &vlen))
		if (!(nlen && name[0] == ':'))
			t[n++] = (struct mesh__h1_header){ name, nlen, value, vlen };
	mesh__stream_end(st, t, n);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct mesh__h2conn *h2 = ud;
	struct mesh__worker *w = h2->d->w;
	struct mesh__stream *st;
	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		if (f->hd.stream_id != h2->hb_sid)
			break;
		if (f->headers.cat == NGHTTP2_HCAT_REQUEST)
			begin_stream(h2, f);
		else if (f->headers.cat == NGHTTP2_HCAT_HEADERS)
			end_with_trailers(h2, f);
		release_hb(h2);
		break;
	case NGHTTP2_DATA:
		if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
			break;
		st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
		if (st && !st->finished)
			mesh__stream_end(st, NULL, 0);
		break;
	case NGHTTP2_RST_STREAM:
		mesh__ctr_add(&w->ctr[C_H2_RX_RESET], 1);
		st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
		if (st && !st->finished && w->now_ms - st->start_ms < PREMATURE_LIFETIME_MS)
			h2->premature++;
		if (h2->streams_total >= PREMATURE_MIN_STREAMS &&
		    h2->premature * 2 > h2->streams_total)
			flood(h2, C_H2_RESET_FLOOD, "streams reset early");
		break;
	default: break;
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                         size_t len, void *ud)
{
	struct mesh__stream *st = nghttp2_session_get_stream_user_data(s, sid);
	if (!st || st->finished) {
		nghttp2_session_consume(s, sid, len);
		return 0;
	}
	int rc = mesh__stream_body(st, (const char *)data, len);
	if (rc > 0 && !st->finished)
		st->rx_pending += (uint32_t)len; /* given back as the backlog drains */
	else
		nghttp2_session_consume(s, sid, len);
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t error_code, void *ud)
{
	struct mesh__h2conn *h2 = ud;
	struct mesh__stream *st = nghttp2_session_get_stream_user_data(s, sid);
	if (!st)
		return 0;
	unlink_stream(h2, st);
	st->h2_closed = true;
	if (st->rx_pending) {
		nghttp2_session_consume_connection(s, st->rx_pending);
		st->rx_pending = 0;
	}
	if (st->finished) {
		mesh__stream_free(st);
		return 0;
	}
	if (st->eos_sent && error_code == NGHTTP2_NO_ERROR)
		return 0; /* the pipeline ends it in a moment, and frees it */
	/* the client reset the stream */
	st->flags |= F_DC;
	mesh__stream_abort(st);
	return 0;
}

static int on_error(nghttp2_session *s, int code, const char *msg, size_t len, void *ud)
{
	mesh__log(MESH_LOG_DEBUG, "HTTP/2 client: %.*s", (int)len, msg);
	return 0;
}

/* ---- the connection ---- */

/* Write what nghttp2 has, as far as the socket takes it; then decide on
 * reading (back-pressure) and on the end of the connection. */
static void flush(struct mesh__h2conn *h2)
{
	struct mesh__dconn *d = h2->d;
	struct mesh__worker *w = d->w;
	if (h2->lingering || d->closed)
		return;
	bool more = false;
	for (int k = 0; k < 64; k++) {
		h2->in_io = true;
		int rv = nghttp2_session_send(h2->s);
		h2->in_io = false;
		if (h2->want_close || rv) {
			mesh__dconn_close(d);
			return;
		}
		if (mesh__chain_writev(&d->out, &w->pool, d->fd, d->ssl) < 0) {
			mesh__dconn_close(d);
			return;
		}
		more = !d->out.bytes && nghttp2_session_want_write(h2->s);
		if (!more)
			break;
	}
	h2->kicked = false;
	if (d->out.bytes)
		ev_io_start(w->loop, &d->wio);
	else
		ev_io_stop(w->loop, &d->wio); /* (also drops a pending kick) */
	if (more)
		kick(d); /* the rest after the other connections had a turn */
	/* a client that does not read stops being read */
	if (d->out.bytes >= MESH_H2_OUT_HIGH) {
		if (!d->read_paused) {
			d->read_paused = true;
			ev_io_stop(w->loop, &d->rio);
		}
	} else if (d->read_paused) {
		d->read_paused = false;
		ev_io_start(w->loop, &d->rio);
		mesh__dconn_kick(d);
	}
	/* done: nghttp2 says so (a GOAWAY that ends the session went out), or
	 * a drain's GOAWAY went out and every stream is over (a finished one
	 * may still wait for the client's window to send its last DATA) */
	if (!d->out.bytes && !nghttp2_session_want_write(h2->s) &&
	    (!nghttp2_session_want_read(h2->s) || (h2->goaway && !h2->streams)))
		begin_linger(h2);
}

static void input(struct mesh__h2conn *h2)
{
	struct mesh__dconn *d = h2->d;
	struct mesh__worker *w = d->w;
	struct mesh__block *b = d->in;
	h2->in_io = true;
	ssize_t rv = nghttp2_session_mem_recv(h2->s, (const uint8_t *)b->data + b->off, b->len);
	h2->in_io = false;
	if (h2->want_close) {
		mesh__dconn_close(d);
		return;
	}
	/* nghttp2 takes all it is given */
	mesh__block_put(&w->pool, d->in);
	d->in = NULL;
	if (rv < 0) {
		mesh__log(MESH_LOG_DEBUG, "HTTP/2 client: %s", nghttp2_strerror((int)rv));
		if (rv == NGHTTP2_ERR_FLOODED) {
			mesh__ctr_add(&w->ctr[C_H2_CONTROL_FLOOD], 1);
			h2->flooded = true;
		}
		nghttp2_session_terminate_session(h2->s, rv == NGHTTP2_ERR_FLOODED
		                                                 ? NGHTTP2_ENHANCE_YOUR_CALM
		                                                 : NGHTTP2_PROTOCOL_ERROR);
	}
	flush(h2);
}

void mesh__h2conn_on_read(struct mesh__dconn *d)
{
	struct mesh__h2conn *h2 = d->h2;
	struct mesh__worker *w = d->w;
	if (h2->lingering) {
		char junk[4096];
		for (;;) {
			ssize_t r = mesh__sock_read(d->fd, d->ssl, junk, sizeof(junk));
			if (r > 0)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			mesh__dconn_close(d);
			return;
		}
	}
	if (!d->in && !(d->in = mesh__block_get(&w->pool))) {
		mesh__dconn_close(d);
		return;
	}
	struct mesh__block *b = d->in;
	ssize_t r =
		mesh__sock_read(d->fd, d->ssl, b->data + b->off + b->len, b->cap - b->off - b->len);
	if (r > 0)
		mesh__dconn_kick(d);
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		mesh__dconn_close(d);
		return;
	}
	if (r == 0) {
		mesh__dconn_close(d); /* streams still running: DC */
		return;
	}
	b->len += (size_t)r;
	input(h2);
}

void mesh__h2conn_on_write(struct mesh__dconn *d)
{
	flush(d->h2);
}

void mesh__h2conn_on_timer(struct mesh__dconn *d)
{
	struct mesh__h2conn *h2 = d->h2;
	if (h2->lingering) {
		mesh__dconn_close(d);
		return;
	}
	if (h2->nactive)
		return; /* re-armed when the last stream finishes */
	if (h2->streams) {
		/* finished streams still sending: idle once they are done */
		arm_timer(d, d->w->proxy->opts.idle_timeout_ms / 1000.0);
		return;
	}
	/* idle: GOAWAY, then close */
	nghttp2_session_terminate_session(h2->s, NGHTTP2_NO_ERROR);
	flush(h2);
}

void mesh__h2conn_drain(struct mesh__dconn *d)
{
	struct mesh__h2conn *h2 = d->h2;
	if (h2->lingering || h2->goaway)
		return;
	h2->goaway = true;
	nghttp2_submit_goaway(h2->s, NGHTTP2_FLAG_NONE,
	                      nghttp2_session_get_last_proc_stream_id(h2->s), NGHTTP2_NO_ERROR,
	                      NULL, 0);
	kick(d);
}

/* mesh__dconn_close: inside an nghttp2 call the close waits for it to
 * return (input() and flush() look); otherwise the session goes. */
bool mesh__h2conn_close_deferred(struct mesh__dconn *d)
{
	struct mesh__h2conn *h2 = d->h2;
	if (!h2->in_io)
		return false;
	h2->want_close = true;
	return true;
}

void mesh__h2conn_free(struct mesh__dconn *d)
{
	struct mesh__h2conn *h2 = d->h2;
	h2->lingering = true; /* nothing more is sent */
	streams_down(h2, F_DC);
	d->h2 = NULL;
	mesh__free(h2);
}

void mesh__h2conn_start(struct mesh__dconn *d)
{
	struct mesh__worker *w = d->w;
	const struct mesh_proxy_options *o = &w->proxy->opts;
	struct mesh__h2conn *h2 = mesh__calloc(1, sizeof(*h2));
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	if (!h2 || nghttp2_session_callbacks_new(&cb) || nghttp2_option_new(&opt))
		goto fail;
	h2->d = d;
	h2->win_start = h2->d->w->now_ms;
	nghttp2_session_callbacks_set_send_callback(cb, send_cb);
	nghttp2_session_callbacks_set_send_data_callback(cb, send_data_cb);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_error_callback2(cb, on_error);
	/* flow control by hand: the window opens as the upstream takes bytes */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_max_outbound_ack(opt, MAX_OUTBOUND_ACK);
	nghttp2_option_set_no_closed_streams(opt, 1);
	if (nghttp2_session_server_new2(&h2->s, cb, h2, opt))
		goto fail;
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	cb = NULL;
	opt = NULL;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, o->max_concurrent_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, MESH_H2_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, o->max_header_bytes },
		{ NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1 },
	};
	if (nghttp2_submit_settings(h2->s, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) ||
	    nghttp2_session_set_local_window_size(h2->s, NGHTTP2_FLAG_NONE, 0, MESH_H2_CONN_WINDOW))
		goto fail;
	d->h2 = h2;
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_HTTP2_TOTAL], 1);
	arm_timer(d, o->idle_timeout_ms / 1000.0);
	input(h2);
	return;
fail:
	if (cb)
		nghttp2_session_callbacks_del(cb);
	if (opt)
		nghttp2_option_del(opt);
	if (h2 && h2->s)
		nghttp2_session_del(h2->s);
	mesh__free(h2);
	mesh__dconn_close(d);
}

/* ---- stream operations ---- */

int mesh__h2s_head(struct mesh__stream *st, int status, const struct mesh__h1_header *h, size_t n,
                   bool eos)
{
	struct mesh__dconn *d = st->d;
	struct mesh__h2conn *h2 = d->h2;
	if (!h2 || !h2->s || st->h2_closed)
		return -1;
	/* names lower-cased into the worker's scratch buffer (nghttp2 copies
	 * the fields when the response is submitted) */
	struct mesh__sb *sb = &d->w->sb;
	size_t offs[MESH_H1_MAX_HEADERS_CAP + 16];
	const struct mesh__h1_header *keep[MESH_H1_MAX_HEADERS_CAP + 16];
	size_t nk = 0;
	char code[24];
	mesh__fmt_u64(code, (uint64_t)(status > 0 ? status : 0));
	mesh__sb_truncate(sb, 0);
	for (size_t i = 0; i < n && nk < MESH_H1_MAX_HEADERS_CAP + 15; i++) {
		if (!h[i].name_len || h[i].name[0] == ':' ||
		    mesh__h2_is_connection_header(h[i].name, h[i].name_len, h[i].value,
		                                  h[i].value_len))
			continue;
		offs[nk] = sb->len;
		for (size_t k = 0; k < h[i].name_len; k++) {
			char c = h[i].name[k];
			mesh__sb_putc(sb, (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c));
		}
		keep[nk++] = &h[i];
	}
	if (sb->oom)
		return -1;
	nghttp2_nv nv[MESH_H1_MAX_HEADERS_CAP + 17];
	size_t nn = 0;
	nv[nn++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)code, 7, strlen(code),
		                 NGHTTP2_NV_FLAG_NONE };
	for (size_t i = 0; i < nk; i++)
		nv[nn++] =
			(nghttp2_nv){ (uint8_t *)sb->buf + offs[i], (uint8_t *)keep[i]->value,
			              keep[i]->name_len, keep[i]->value_len, NGHTTP2_NV_FLAG_NONE };
	nghttp2_data_provider prd = { .source.ptr = NULL, .read_callback = read_resp };
	if (nghttp2_submit_response(h2->s, st->sid, nv, nn, eos ? NULL : &prd))
		return -1;
	if (eos)
		st->eos_sent = true;
	kick(d);
	return 0;
}

int mesh__h2s_body(struct mesh__stream *st, const char *data, size_t len)
{
	struct mesh__dconn *d = st->d;
	struct mesh__h2conn *h2 = d->h2;
	if (!h2 || !h2->s || st->h2_closed || st->eos_sent)
		return 0; /* nobody to send it to: dropped */
	if (!mesh__chain_append(&st->resp, &d->w->pool, data, len))
		return -1;
	nghttp2_session_resume_data(h2->s, st->sid);
	kick(d);
	if (st->resp.bytes > MESH_H2_STREAM_HIGH) {
		st->resp_paused = true;
		return 1;
	}
	return 0;
}

void mesh__h2s_end(struct mesh__stream *st, const struct mesh__h1_header *t, size_t n)
{
	struct mesh__dconn *d = st->d;
	struct mesh__h2conn *h2 = d->h2;
	if (!h2 || !h2->s || st->h2_closed || st->eos_sent)
		return;
	if (n && !st->resp_trailers && (st->resp_trailers = mesh__block_get(&d->w->pool))) {
		struct mesh__hlist l;
		mesh__hlist_init(&l, st->resp_trailers->data, st->resp_trailers->cap);
		for (size_t i = 0; i < n; i++)
			if (t[i].name_len && t[i].name[0] != ':' &&
			    !mesh__h1_is_forbidden_trailer(t[i].name, t[i].name_len))
				mesh__hlist_add(&l, t[i].name, t[i].name_len, t[i].value,
				                t[i].value_len, true);
		st->resp_trailers_len = l.len;
		if (!l.n) {
			mesh__block_put(&d->w->pool, st->resp_trailers);
			st->resp_trailers = NULL;
		}
	}
	nghttp2_session_resume_data(h2->s, st->sid);
	kick(d);
}

void mesh__h2s_reset(struct mesh__stream *st, uint32_t error_code)
{
	struct mesh__dconn *d = st->d;
	struct mesh__h2conn *h2 = d->h2;
	if (!h2 || !h2->s || st->h2_closed)
		return;
	nghttp2_submit_rst_stream(h2->s, NGHTTP2_FLAG_NONE, st->sid, error_code);
	kick(d);
}

void mesh__h2s_continue(struct mesh__stream *st)
{
	struct mesh__dconn *d = st->d;
	struct mesh__h2conn *h2 = d->h2;
	if (!h2 || !h2->s || st->h2_closed)
		return;
	nghttp2_nv nv = { (uint8_t *)":status", (uint8_t *)"100", 7, 3, NGHTTP2_NV_FLAG_NONE };
	nghttp2_submit_headers(h2->s, NGHTTP2_FLAG_NONE, st->sid, NULL, &nv, 1, NULL);
	kick(d);
}

void mesh__h2s_req_progress(struct mesh__stream *st)
{
	struct mesh__dconn *d = st->d;
	struct mesh__h2conn *h2 = d->h2;
	if (!st->rx_pending || !h2 || !h2->s || st->h2_closed ||
	    st->req.bytes - st->req_sent > MESH_H2_STREAM_HIGH / 2)
		return;
	nghttp2_session_consume(h2->s, st->sid, st->rx_pending);
	st->rx_pending = 0;
	kick(d);
}

void mesh__h2s_kick(struct mesh__stream *st)
{
	kick(st->d);
}

void mesh__h2s_done(struct mesh__stream *st)
{
	struct mesh__dconn *d = st->d;
	struct mesh__h2conn *h2 = d->h2;
	st->finished = true;
	if (h2 && h2->s && st->rx_pending && !st->h2_closed) {
		/* the rest of the request is not wanted: its bytes still count
		 * against the connection's window */
		nghttp2_session_consume(h2->s, st->sid, st->rx_pending);
		st->rx_pending = 0;
	}
	if (h2)
		h2->nactive--;
	if (st->h2_closed)
		mesh__stream_free(st);
	if (!h2 || h2->lingering || d->closed)
		return;
	if (d->w->draining)
		mesh__h2conn_drain(d);
	if (!h2->nactive)
		arm_timer(d, d->w->proxy->opts.idle_timeout_ms / 1000.0);
	kick(d);
}
