/*
 * tunnel.c - byte relays between two sockets: TCP listeners, WebSocket
 * upgrades and CONNECT. Each direction has one block of buffer and
 * back-pressure (a direction stops reading while its block is full), and a
 * half-close is passed on: when one side shuts down its writing, the other
 * side's writing is shut down once the buffered bytes are delivered, and
 * the relay ends when both directions are done.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls.h"
#include "tunnel.h"

struct dir {
	int from, to;
	SSL *from_ssl, *to_ssl;
	ev_io rio, wio;
	struct mesh__block *buf;
	bool eof;  /* read side saw EOF */
	bool done; /* EOF passed on (shutdown sent) */
};

struct mesh__tunnel {
	struct mesh__worker *w;
	struct dir d[2]; /* 0: a -> b, 1: b -> a */
	ev_timer idle;
	int64_t idle_ms;
	void (*on_close)(void *ud);
	void *ud;
};

static void finish(struct mesh__tunnel *t)
{
	struct mesh__worker *w = t->w;
	for (int i = 0; i < 2; i++) {
		ev_io_stop(w->loop, &t->d[i].rio);
		ev_io_stop(w->loop, &t->d[i].wio);
		if (t->d[i].buf)
			mesh__block_put(&w->pool, t->d[i].buf);
	}
	ev_timer_stop(w->loop, &t->idle);
	mesh__tls_close(t->d[0].from_ssl);
	mesh__tls_close(t->d[0].to_ssl);
	close(t->d[0].from);
	close(t->d[0].to);
	if (t->on_close)
		t->on_close(t->ud);
	mesh__free(t);
}

/* Write what d holds; pass EOF on when it is empty. Returns false when the
 * tunnel ended. */
static bool flush(struct mesh__tunnel *t, struct dir *d)
{
	struct mesh__worker *w = t->w;
	while (d->buf && d->buf->len) {
		struct iovec iov = { d->buf->data + d->buf->off, d->buf->len };
		ssize_t n = mesh__sock_writev(d->to, d->to_ssl, &iov, 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ev_io_start(w->loop, &d->wio);
				return true;
			}
			finish(t); /* the peer is gone: reset both */
			return false;
		}
		d->buf->off += (size_t)n;
		d->buf->len -= (size_t)n;
	}
	ev_io_stop(w->loop, &d->wio);
	if (d->buf) {
		mesh__block_put(&w->pool, d->buf);
		d->buf = NULL;
	}
	if (d->eof && !d->done) {
		if (d->to_ssl)
			SSL_shutdown(d->to_ssl); /* close_notify: TLS's half-close */
		shutdown(d->to, SHUT_WR);
		d->done = true;
		if (t->d[0].done && t->d[1].done) {
			finish(t);
			return false;
		}
	}
	if (!d->eof) {
		ev_io_start(w->loop, &d->rio);
		if (mesh__tls_has_pending(d->from_ssl))
			ev_feed_event(w->loop, &d->rio, EV_READ);
	}
	return true;
}

static void on_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mesh__tunnel *t = io->data;
	struct dir *d = &t->d[io == &t->d[0].rio ? 0 : 1];
	if (!d->buf && !(d->buf = mesh__block_get(&t->w->pool))) {
		finish(t);
		return;
	}
	if (d->buf->len) {
		ev_io_stop(loop, io); /* still writing the last read: back-pressure */
		return;
	}
	d->buf->off = 0;
	ssize_t n = mesh__sock_read(d->from, d->from_ssl, d->buf->data, d->buf->cap);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		finish(t);
		return;
	}
	ev_timer_again(loop, &t->idle);
	if (n == 0) {
		d->eof = true;
		ev_io_stop(loop, io);
	}
	d->buf->len = (size_t)n;
	if (n > 0)
		ev_io_stop(loop, io);
	flush(t, d);
}

static void on_write(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mesh__tunnel *t = io->data;
	struct dir *d = &t->d[io == &t->d[0].wio ? 0 : 1];
	flush(t, d);
}

static void on_idle(struct ev_loop *loop, ev_timer *timer, int revents)
{
	finish(timer->data);
}

int mesh__tunnel_start(struct mesh__worker *w, int a, SSL *ssl_a, int b, SSL *ssl_b,
                       const void *to_b, size_t to_b_len, const void *to_a, size_t to_a_len,
                       int64_t idle_ms, void (*on_close)(void *ud), void *ud)
{
	struct mesh__tunnel *t = mesh__calloc(1, sizeof(*t));
	if (!t) {
		mesh__tls_close(ssl_a);
		mesh__tls_close(ssl_b);
		close(a);
		close(b);
		if (on_close)
			on_close(ud);
		return MESH_ENOMEM;
	}
	t->w = w;
	t->on_close = on_close;
	t->ud = ud;
	t->d[0].from = a;
	t->d[0].to = b;
	t->d[1].from = b;
	t->d[1].to = a;
	t->d[0].from_ssl = t->d[1].to_ssl = ssl_a;
	t->d[0].to_ssl = t->d[1].from_ssl = ssl_b;
	for (int i = 0; i < 2; i++) {
		ev_io_init(&t->d[i].rio, on_read, t->d[i].from, EV_READ);
		ev_io_init(&t->d[i].wio, on_write, t->d[i].to, EV_WRITE);
		t->d[i].rio.data = t->d[i].wio.data = t;
	}
	ev_init(&t->idle, on_idle);
	t->idle.repeat = (idle_ms > 0 ? idle_ms : 3600000) / 1000.0;
	t->idle.data = t;
	ev_timer_again(w->loop, &t->idle);
	/* bytes that arrived with the handshake go first */
	const void *early[2] = { to_b, to_a };
	size_t early_len[2] = { to_b_len, to_a_len };
	for (int i = 0; i < 2; i++) {
		if (early_len[i] > MESH_BLOCK_SIZE) {
			finish(t);
			return MESH_ELIMIT;
		}
		if (early_len[i]) {
			t->d[i].buf = mesh__block_get(&w->pool);
			if (!t->d[i].buf) {
				finish(t);
				return MESH_ENOMEM;
			}
			memcpy(t->d[i].buf->data, early[i], early_len[i]);
			t->d[i].buf->len = early_len[i];
		}
	}
	for (int i = 0; i < 2; i++)
		if (!flush(t, &t->d[i]))
			return 0;
	return 0;
}
