/*
 * conn.c - downstream connections: accept, read and parse HTTP/1 requests
 * one at a time (pipelined ones wait in the buffer), write responses, and
 * the header and idle timeouts that stop slow clients. A connection whose
 * first bytes are the HTTP/2 client preface becomes an HTTP/2 connection
 * (h2c with prior knowledge): h2conn.c takes its reads, writes and timer.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include <mesh/security.h>

#include "../http/h2.h"
#include "gateway.h"
#include "stream.h"

static int cb_head(void *ud, const struct mesh__h1_head *h)
{
	return mesh__stream_on_head(ud, h);
}

static int cb_body(void *ud, const char *data, size_t len)
{
	return mesh__stream_on_body(ud, data, len);
}

static int cb_end(void *ud)
{
	return mesh__stream_on_end(ud);
}

static const struct mesh__h1_callbacks callbacks = {
	.on_head = cb_head,
	.on_body = cb_body,
	.on_end = cb_end,
};

static void on_read(struct ev_loop *loop, ev_io *io, int revents);
static void on_write(struct ev_loop *loop, ev_io *io, int revents);
static void on_timer(struct ev_loop *loop, ev_timer *t, int revents);

/* The inbound listener's mTLS mode now (PeerAuthentication, per snapshot). */
static int listener_mtls(struct mesh__worker *w, const struct mesh__listener *l)
{
	const struct mesh__listener_cfg *lc = l->cfg;
	if (lc->kind != MESH_LISTENER_INBOUND && lc->kind != MESH_LISTENER_INBOUND_TCP)
		return MESH_MTLS_DISABLE;
	struct mesh__wsnap *ws = mesh__wsnap_acquire(w);
	int mode = ws ? ws->snap->mtls[lc - w->proxy->lcfg] : MESH_MTLS_PERMISSIVE;
	if (ws)
		mesh__wsnap_release(w, ws);
	return mode;
}

static void arm_timer(struct mesh__dconn *d, int64_t ms)
{
	ev_timer_stop(d->w->loop, &d->timer);
	ev_timer_set(&d->timer, ms / 1000.0, 0);
	ev_timer_start(d->w->loop, &d->timer);
}

/* What a gateway listener's port carries now (enum mesh__gw_class). */
static int listener_gateway(struct mesh__worker *w, const struct mesh__listener *l)
{
	struct mesh__wsnap *ws = mesh__wsnap_acquire(w);
	int cls = ws ? mesh__gateway_port_class(ws->snap->gw, l->cfg->gw_port) : MESH__GW_PORT_NONE;
	if (ws)
		mesh__wsnap_release(w, ws);
	return cls;
}

/* A new downstream connection on @fd, reading (its first request head
 * within the header timeout). */
static struct mesh__dconn *dconn_new(struct mesh__listener *l, int fd)
{
	struct mesh__worker *w = l->w;
	struct mesh_proxy *p = w->proxy;
	struct mesh__dconn *d = mesh__calloc(1, sizeof(*d));
	if (!d) {
		close(fd);
		return NULL;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	d->w = w;
	d->l = l;
	d->fd = fd;
	struct mesh__h1_limits lim = { .max_head_bytes = p->opts.max_header_bytes,
		                       .max_headers = p->opts.max_headers };
	mesh__h1_parser_init(&d->parser, MESH_H1_REQUEST, &lim);
	ev_io_init(&d->rio, on_read, fd, EV_READ);
	ev_io_init(&d->wio, on_write, fd, EV_WRITE);
	/* writes last in a loop iteration: an HTTP/2 connection's flush
	 * (fed as a write event) then carries every answer that arrived in
	 * the same iteration, in one writev */
	ev_set_priority(&d->wio, EV_MINPRI);
	ev_init(&d->timer, on_timer);
	d->rio.data = d->wio.data = d->timer.data = d;
	ev_io_start(w->loop, &d->rio);
	/* the first request head must arrive within the header timeout */
	d->head_started_ms = d->w->now_ms;
	arm_timer(d, p->opts.header_timeout_ms);
	d->next = w->dconns;
	if (w->dconns)
		w->dconns->prev = d;
	w->dconns = d;
	w->nconns++;
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_TOTAL], 1);
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_ACTIVE], 1);
	return d;
}

static void accept_some(struct mesh__listener *l, int max, bool refuse_when_draining)
{
	struct mesh__worker *w = l->w;
	struct mesh_proxy *p = w->proxy;
	for (int k = 0; k < max; k++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (w->nconns >= p->opts.max_connections || (refuse_when_draining && w->draining)) {
			mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_OVERFLOW], 1);
			close(fd);
			continue;
		}
		if (l->cfg->tcp) {
			mesh__tcp_accept(l, fd);
			continue;
		}
		if (l->cfg->kind == MESH_LISTENER_GATEWAY) {
			int cls = listener_gateway(w, l);
			if (cls == MESH__GW_PORT_TLS || cls == MESH__GW_PORT_TCP) {
				mesh__tcp_gateway(l, fd, cls == MESH__GW_PORT_TLS);
			} else if (cls == MESH__GW_PORT_HTTP) {
				dconn_new(l, fd);
			} else {
				/* no server on this port now: as a port Envoy does not listen on */
				mesh__ctr_add(&w->ctr[C_NO_FILTER_CHAIN], 1);
				close(fd);
			}
			continue;
		}
		int mtls = listener_mtls(w, l);
		bool tls = mtls != MESH_MTLS_DISABLE && mesh__worker_ident(w);
		if (mtls == MESH_MTLS_STRICT && !tls) {
			/* STRICT without an identity to serve it with: nobody gets in */
			mesh__ctr_add(&w->ctr[C_SSL_PLAINTEXT_REFUSED], 1);
			mesh__log(MESH_LOG_DEBUG, "STRICT mTLS port without an identity: refused");
			close(fd);
			continue;
		}
		struct mesh__dconn *d = dconn_new(l, fd);
		if (d && tls) {
			/* first bytes decide: a TLS record, or (PERMISSIVE) plain text */
			d->tls = DTLS_SNIFF;
			d->tls_strict = mtls == MESH_MTLS_STRICT;
		}
	}
}

void mesh__dconn_start_tls(struct mesh__listener *l, int fd, SSL *ssl, const char *sni)
{
	struct mesh__worker *w = l->w;
	char *name = sni ? mesh__strdup(sni) : NULL;
	bool full = w->nconns >= w->proxy->opts.max_connections;
	if (!ssl || (sni && !name) || full) {
		if (full)
			mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_OVERFLOW], 1);
		mesh__free(name);
		mesh__tls_close(ssl);
		close(fd);
		return;
	}
	struct mesh__dconn *d = dconn_new(l, fd); /* closes @fd when it fails */
	if (!d) {
		mesh__free(name);
		mesh__tls_close(ssl);
		return;
	}
	d->ssl = ssl;
	d->sni = name;
	d->tls = DTLS_HANDSHAKE;
	/* the ClientHello waits in the socket: the read watcher fires for it */
}

void mesh__accept(struct mesh__listener *l)
{
	accept_some(l, 64, true);
}

void mesh__accept_all(struct mesh__listener *l)
{
	accept_some(l, 1 << 20, false);
}

void mesh__dconn_close(struct mesh__dconn *d)
{
	struct mesh__worker *w = d->w;
	if (d->closed)
		return;
	if (d->h2 && mesh__h2conn_close_deferred(d))
		return; /* inside nghttp2: closed as soon as it returns */
	d->closed = true;
	if (d->h2)
		mesh__h2conn_free(d);
	if (d->st) {
		d->st->flags |= F_DC;
		mesh__stream_abort(d->st);
	}
	ev_io_stop(w->loop, &d->rio);
	ev_io_stop(w->loop, &d->wio);
	ev_timer_stop(w->loop, &d->timer);
	mesh__tls_close(d->ssl);
	d->ssl = NULL;
	mesh__free(d->peer_id);
	mesh__free(d->xfcc);
	mesh__free(d->sni);
	d->peer_id = d->xfcc = d->sni = NULL;
	close(d->fd);
	mesh__chain_clear(&d->out, &w->pool);
	if (d->in)
		mesh__block_put(&w->pool, d->in);
	if (d->prev)
		d->prev->next = d->next;
	else
		w->dconns = d->next;
	if (d->next)
		d->next->prev = d->prev;
	w->nconns--;
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_ACTIVE], -1);
	if (d->in_parse)
		return; /* freed by the parse loop once it unwinds */
	mesh__free(d);
}

int mesh__dconn_detach(struct mesh__dconn *d, SSL **ssl)
{
	struct mesh__worker *w = d->w;
	int fd = d->fd;
	*ssl = d->ssl;
	d->ssl = NULL;
	ev_io_stop(w->loop, &d->rio);
	ev_io_stop(w->loop, &d->wio);
	ev_timer_stop(w->loop, &d->timer);
	mesh__chain_clear(&d->out, &w->pool);
	if (d->in)
		mesh__block_put(&w->pool, d->in);
	d->in = NULL;
	if (d->prev)
		d->prev->next = d->next;
	else
		w->dconns = d->next;
	if (d->next)
		d->next->prev = d->prev;
	w->nconns--;
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_ACTIVE], -1);
	d->closed = true;
	d->fd = -1;
	return fd;
}

void mesh__dconn_free_detached(struct mesh__dconn *d)
{
	mesh__free(d->peer_id);
	mesh__free(d->xfcc);
	mesh__free(d->sni);
	mesh__free(d);
}

/* Answer a request that failed to parse, then close. */
static void protocol_error(struct mesh__dconn *d, int err)
{
	struct mesh__worker *w = d->w;
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_RQ_BAD], 1);
	if (d->st) {
		/* the body of a request in flight was malformed: answer 400 unless
		 * the response has begun, then close (nothing more can follow in
		 * order) */
		struct mesh__stream *st = d->st;
		st->flags |= F_DPE;
		if (st->resp_started) {
			mesh__dconn_close(d);
			return;
		}
		ev_io_stop(w->loop, &d->rio);
		mesh__stream_bad_request(st, mesh__h1_error_status(err), mesh__h1_strerror(err));
		return;
	}
	mesh__ctr_add(&w->flag_ctr[11], 1); /* DPE (a stream counts its own) */
	int status = mesh__h1_error_status(err);
	mesh__log(MESH_LOG_DEBUG, "bad request: %s", mesh__h1_strerror(err));
	struct mesh__sb *sb = &w->sb;
	mesh__sb_truncate(sb, 0);
	const char *msg = mesh__h1_strerror(err);
	mesh__h1_write_response_head(sb, status ? status : 400, NULL, 0, NULL, 0,
	                             (int64_t)strlen(msg) + 1, MESH_H1_W_CLOSE);
	mesh__sb_puts(sb, msg);
	mesh__sb_putc(sb, '\n');
	mesh__chain_append(&d->out, &w->pool, sb->buf, sb->len);
	d->close_after = true;
	ev_io_stop(w->loop, &d->rio);
	mesh__dconn_write(d);
}

/* Parse what is buffered. Stops at the end of each request (the stream
 * pauses the parser) until that request's response is done. */
static void parse_buffered(struct mesh__dconn *d)
{
	struct mesh__worker *w = d->w;
	d->in_parse = true;
	while (!d->closed && !d->st && d->in && d->in->len) {
		long n = mesh__h1_parse(&d->parser, d->in->data + d->in->off, d->in->len,
		                        &callbacks, d);
		if (n < 0) {
			if (!d->closed)
				protocol_error(d, (int)n);
			break;
		}
		d->in->off += (size_t)n;
		d->in->len -= (size_t)n;
		int state = mesh__h1_parser_state(&d->parser);
		if (state == MESH_H1_CLOSED)
			d->close_after = true;
		if (state == MESH_H1_TUNNEL) {
			/* an Upgrade or a CONNECT: no more HTTP on this connection;
			 * what follows the head is the tunnel's */
			if (d->st && !d->st->connect)
				d->st->upgrade = true;
			break;
		}
		if (n == 0)
			break; /* needs more bytes */
	}
	/* a stream in its body phase consumes as bytes arrive */
	if (!d->closed && d->st && !d->st->req_done && d->in && d->in->len) {
		long n = mesh__h1_parse(&d->parser, d->in->data + d->in->off, d->in->len,
		                        &callbacks, d);
		if (n < 0) {
			if (!d->closed)
				protocol_error(d, (int)n);
		} else {
			d->in->off += (size_t)n;
			d->in->len -= (size_t)n;
		}
	}
	d->in_parse = false;
	if (d->closed) {
		mesh__free(d);
		return;
	}
	if (!d->st && !d->close_after) {
		/* between requests (after answers given while parsing): a partial
		 * head runs on the header timeout, an empty buffer on the idle one */
		if (d->in && d->in->len) {
			if (!ev_is_active(&d->timer) || d->timer_is_idle) {
				d->head_started_ms = d->w->now_ms;
				d->timer_is_idle = false;
				arm_timer(d, w->proxy->opts.header_timeout_ms);
			}
		} else if (!ev_is_active(&d->timer) || !d->timer_is_idle) {
			d->timer_is_idle = true;
			arm_timer(d, w->proxy->opts.idle_timeout_ms);
		}
	}
	if (d->in && d->in->len == 0) {
		/* nothing buffered: give the block back, so idle costs little */
		mesh__block_put(&w->pool, d->in);
		d->in = NULL;
	} else if (d->in && d->in->off) {
		memmove(d->in->data, d->in->data + d->in->off, d->in->len);
		d->in->off = 0;
	}
	if (d->st && d->st->connect_go)
		mesh__stream_connect(d->st); /* d is gone after this */
}

void mesh__dconn_resume(struct mesh__dconn *d)
{
	struct mesh__worker *w = d->w;
	if (d->closed)
		return;
	if (d->close_after || w->stopping) {
		ev_io_stop(w->loop, &d->rio);
		mesh__dconn_write(d);
		return;
	}
	if (d->read_paused) {
		d->read_paused = false;
		ev_io_start(w->loop, &d->rio);
		mesh__dconn_kick(d);
	}
	d->head_started_ms = d->w->now_ms;
	d->timer_is_idle = true;
	arm_timer(d, w->proxy->opts.idle_timeout_ms);
	if (d->in && d->in->len) {
		d->timer_is_idle = false;
		arm_timer(d, w->proxy->opts.header_timeout_ms);
		parse_buffered(d);
	}
}

/* TLS on a new inbound connection: tell TLS from plain text, then drive
 * the handshake from the loop (reads and writes), then hand the connection
 * to HTTP/1 or, when ALPN chose it, HTTP/2. */
static void tls_progress(struct mesh__dconn *d)
{
	struct mesh__worker *w = d->w;
	if (d->tls == DTLS_SNIFF) {
		unsigned char c;
		ssize_t r = recv(d->fd, &c, 1, MSG_PEEK);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			mesh__dconn_close(d);
			return;
		}
		if (c != 0x16) { /* not a TLS handshake record */
			if (d->tls_strict) {
				mesh__ctr_add(&w->ctr[C_SSL_PLAINTEXT_REFUSED], 1);
				mesh__log(MESH_LOG_DEBUG,
				          "plain text on a STRICT mTLS port: connection refused");
				mesh__dconn_close(d);
				return;
			}
			d->tls = DTLS_NONE;
			ev_feed_event(w->loop, &d->rio, EV_READ);
			return;
		}
		struct mesh__tls_ident *t = mesh__worker_ident(w);
		if (!t || !(d->ssl = mesh__tls_accept_new(t, d->fd))) {
			mesh__dconn_close(d);
			return;
		}
		d->tls = DTLS_HANDSHAKE;
	}
	const char *why = NULL;
	switch (mesh__tls_handshake(d->ssl, &why)) {
	case MESH__HS_WANT_READ: ev_io_stop(w->loop, &d->wio); return;
	case MESH__HS_WANT_WRITE: ev_io_start(w->loop, &d->wio); return;
	case MESH__HS_FAIL:
		mesh__ctr_add(&w->ctr[mesh__tls_peer_refused(d->ssl) ? C_SSL_FAIL_VERIFY
		                                                     : C_SSL_CONNECTION_ERROR],
		              1);
		mesh__log(MESH_LOG_DEBUG, "inbound TLS handshake failed: %s", why);
		mesh__dconn_close(d);
		return;
	default: break;
	}
	ev_io_stop(w->loop, &d->wio);
	d->tls = DTLS_ON;
	mesh__ctr_add(&w->ctr[C_SSL_HANDSHAKE], 1);
	if (SSL_session_reused(d->ssl))
		mesh__ctr_add(&w->ctr[C_SSL_SESSION_REUSED], 1);
	if (d->l->cfg->kind != MESH_LISTENER_GATEWAY) {
		/* between sidecars: the client's SPIFFE ID, for the app */
		struct mesh__tls_ident *t = mesh__worker_ident(w);
		d->peer_id = mesh__tls_peer_id(d->ssl);
		d->xfcc = mesh__tls_xfcc(d->ssl, t ? t->id : NULL, d->peer_id);
	} else {
		d->xfcc = mesh__tls_xfcc_gateway(d->ssl); /* a client certificate's details */
	}
	if (mesh__tls_alpn_h2(d->ssl)) {
		if (!d->in && !(d->in = mesh__block_get(&w->pool))) {
			mesh__dconn_close(d);
			return;
		}
		/* the client's first frames may wait in OpenSSL already (fed
		 * first: a close in h2conn_start stops the watcher, dropping it) */
		if (mesh__tls_has_pending(d->ssl))
			ev_feed_event(w->loop, &d->rio, EV_READ);
		mesh__h2conn_start(d);
		return;
	}
	if (mesh__tls_has_pending(d->ssl))
		ev_feed_event(w->loop, &d->rio, EV_READ);
}

void mesh__dconn_kick(struct mesh__dconn *d)
{
	if (mesh__tls_has_pending(d->ssl) && ev_is_active(&d->rio))
		ev_feed_event(d->w->loop, &d->rio, EV_READ);
}

static void on_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mesh__dconn *d = io->data;
	struct mesh__worker *w = d->w;
	if (d->tls == DTLS_SNIFF || d->tls == DTLS_HANDSHAKE) {
		tls_progress(d);
		return;
	}
	if (d->h2) {
		mesh__h2conn_on_read(d);
		return;
	}
	if (!d->in && !(d->in = mesh__block_get(&w->pool))) {
		mesh__dconn_close(d);
		return;
	}
	struct mesh__block *b = d->in;
	size_t room = b->cap - b->off - b->len;
	if (room == 0) {
		if (b->off) {
			memmove(b->data, b->data + b->off, b->len);
			b->off = 0;
			room = b->cap - b->len;
		} else if (d->st) {
			/* pipelined requests behind the current one: wait for it */
			ev_io_stop(loop, io);
			d->read_paused = true;
			return;
		} else {
			/* a request head longer than a block: a larger buffer, up to
			 * what the head limit needs (the parser enforces the limit) */
			size_t want = w->proxy->opts.max_header_bytes + 4096;
			struct mesh__block *big =
				b->cap < want ? mesh__block_get_big(&w->pool, want) : NULL;
			if (!big) {
				protocol_error(d, MESH_H1_E_HEADERS_TOO_LARGE);
				return;
			}
			memcpy(big->data, b->data, b->len);
			big->len = b->len;
			mesh__block_put(&w->pool, b);
			d->in = b = big;
			room = b->cap - b->len;
		}
	}
	ssize_t r = mesh__sock_read(d->fd, d->ssl, b->data + b->off + b->len, room);
	if (r > 0)
		mesh__dconn_kick(d); /* TLS may hold more than fit */
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		mesh__dconn_close(d);
		return;
	}
	if (r == 0) {
		/* the client closed: an unfinished request is a DC */
		if (d->st && !d->st->req_done)
			mesh__dconn_close(d);
		else if (d->st) {
			/* half-close after a full request: answer, then close */
			ev_io_stop(loop, io);
			d->close_after = true;
		} else
			mesh__dconn_close(d);
		return;
	}
	bool was_idle = !d->st && b->len == 0 && mesh__h1_parser_state(&d->parser) == MESH_H1_IDLE;
	b->len += (size_t)r;
	if (was_idle) {
		d->head_started_ms = d->w->now_ms;
		d->timer_is_idle = false;
		arm_timer(d, w->proxy->opts.header_timeout_ms);
	}
	if (!d->requests && !d->st && mesh__h1_parser_state(&d->parser) == MESH_H1_IDLE) {
		/* the first bytes of the connection: HTTP/2 with prior knowledge? */
		int m = mesh__h2_preface_match(b->data + b->off, b->len);
		if (m > 0) {
			mesh__h2conn_start(d);
			return;
		}
		if (m == 0)
			return; /* a prefix of the preface so far */
	}
	if (d->st && d->st->req_done) {
		/* pipelined bytes wait until the current response is done */
		return;
	}
	parse_buffered(d);
}

bool mesh__dconn_write(struct mesh__dconn *d)
{
	struct mesh__worker *w = d->w;
	if (d->closed)
		return false;
	ssize_t n = mesh__chain_writev(&d->out, &w->pool, d->fd, d->ssl);
	if (n < 0) {
		bool parsing = d->in_parse;
		mesh__dconn_close(d);
		(void)parsing;
		return false;
	}
	if (d->out.bytes) {
		ev_io_start(w->loop, &d->wio);
		return true;
	}
	ev_io_stop(w->loop, &d->wio);
	if (d->close_after && !d->st) {
		/* let the client read the answer before the FIN */
		if (d->ssl)
			SSL_shutdown(d->ssl);
		shutdown(d->fd, SHUT_WR);
		mesh__dconn_close(d);
		return false;
	}
	/* the upstream may have paused for us */
	if (d->st && (d->st->up || d->st->h2u) && d->out.bytes < MESH_HIGH_WATER / 2) {
		mesh__stream_resp_drained(d->st);
		mesh__stream_send(d->st);
	}
	return true;
}

static void on_write(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mesh__dconn *d = io->data;
	if (d->tls == DTLS_HANDSHAKE)
		tls_progress(d);
	else if (d->h2)
		mesh__h2conn_on_write(d);
	else
		mesh__dconn_write(d);
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh__dconn *d = t->data;
	struct mesh__worker *w = d->w;
	if (d->h2) {
		mesh__h2conn_on_timer(d);
		return;
	}
	if (d->st)
		return; /* the stream's own timeout applies */
	int state = mesh__h1_parser_state(&d->parser);
	if ((d->in && d->in->len) || state == MESH_H1_HEAD) {
		/* slowloris: the head did not complete in time */
		mesh__log(MESH_LOG_DEBUG, "request head timeout");
		struct mesh__sb *sb = &w->sb;
		mesh__sb_truncate(sb, 0);
		mesh__h1_write_response_head(sb, 408, NULL, 0, NULL, 0, 0, MESH_H1_W_CLOSE);
		mesh__chain_append(&d->out, &w->pool, sb->buf, sb->len);
		d->close_after = true;
		ev_io_stop(loop, &d->rio);
		mesh__dconn_write(d);
		return;
	}
	mesh__dconn_close(d); /* idle keep-alive connection */
}

/* As Envoy: connections stay open during the drain; each HTTP/1 one's next
 * answer carries "connection: close" (w->draining makes streams say so),
 * each HTTP/2 one gets a GOAWAY at once (its streams in flight finish), and
 * what is still idle when the drain time ends is closed then. */
void mesh__dconns_drain(struct mesh__worker *w)
{
	for (struct mesh__dconn *d = w->dconns, *next; d; d = next) {
		next = d->next;
		if (d->h2)
			mesh__h2conn_drain(d);
	}
}

void mesh__dconns_close_all(struct mesh__worker *w)
{
	while (w->dconns)
		mesh__dconn_close(w->dconns);
}
