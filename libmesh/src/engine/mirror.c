/*
 * mirror.c - traffic mirroring, fire and forget: a copy of the request
 * (Host with "-shadow" appended, as Envoy does) goes to one endpoint of the
 * mirror cluster on a connection of its own, with the TLS the cluster
 * calls for (auto-mTLS toward mesh workloads, DestinationRule tls) as a
 * main request would; the answer is read and dropped. Nothing here can
 * delay or change the main response: a mirror that falls behind (more than
 * MIRROR_MAX_BYTES buffered) is abandoned, and so is one whose connection
 * or handshake fails.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lb/cluster.h"
#include "dns.h"
#include "stream.h"
#include "tls.h"

#define MIRROR_MAX_BYTES (1024 * 1024)
#define MIRROR_DEADLINE_S 30.0

struct mesh__mirror {
	struct mesh__worker *w;
	int fd;
	ev_io rio, wio;
	ev_timer deadline;
	struct mesh__chain out;
	bool complete;  /* the whole request is in out (or was written) */
	bool dead;      /* abandoned: close when the stream lets go */
	bool connected; /* the TCP connect finished */
	bool handshake; /* TLS handshake in progress (nothing is written meanwhile) */
	uint8_t mode;   /* enum mesh__up_tls */
	SSL *ssl;
	/* until the handshake is done: the cluster (for the server identity
	 * check) and what keeps it alive */
	const struct mesh_cluster *cluster;
	struct mesh__wsnap *ws;
	char key[96]; /* the endpoint, for the TLS session cache and logs */
};

static void let_go_cluster(struct mesh__mirror *m)
{
	if (m->ws)
		mesh__wsnap_release(m->w, m->ws);
	m->ws = NULL;
	m->cluster = NULL;
}

static void destroy(struct mesh__mirror *m)
{
	struct mesh__worker *w = m->w;
	ev_io_stop(w->loop, &m->rio);
	ev_io_stop(w->loop, &m->wio);
	ev_timer_stop(w->loop, &m->deadline);
	mesh__tls_close(m->ssl);
	close(m->fd);
	mesh__chain_clear(&m->out, &w->pool);
	let_go_cluster(m);
	mesh__free(m);
}

/* Give up on the copy; freed now if the stream has let go of it. Returns
 * true when @m is gone. */
static bool give_up(struct mesh__mirror *m)
{
	m->dead = true;
	ev_io_stop(m->w->loop, &m->rio);
	ev_io_stop(m->w->loop, &m->wio);
	mesh__chain_clear(&m->out, &m->w->pool);
	if (m->complete) {
		destroy(m);
		return true;
	}
	return false;
}

static void flush(struct mesh__mirror *m)
{
	if (m->dead || m->handshake || (m->mode != MESH__UP_PLAIN && !m->ssl)) {
		if (!m->dead && !m->connected)
			ev_io_start(m->w->loop, &m->wio); /* the connect's end */
		return;
	}
	ssize_t n = mesh__chain_writev(&m->out, &m->w->pool, m->fd, m->ssl);
	if (n < 0) {
		give_up(m);
		return;
	}
	if (m->out.bytes)
		ev_io_start(m->w->loop, &m->wio);
	else
		ev_io_stop(m->w->loop, &m->wio);
}

/* Drive the TLS handshake; once done, the request goes out. */
static void handshake_step(struct mesh__mirror *m)
{
	char *peer = NULL;
	int r = mesh__tls_client_step(m->w, m->ssl, m->cluster, m->mode, m->key, &peer);
	mesh__free(peer);
	switch (r) {
	case MESH__HS_WANT_READ: ev_io_stop(m->w->loop, &m->wio); return;
	case MESH__HS_WANT_WRITE: ev_io_start(m->w->loop, &m->wio); return;
	case MESH__HS_FAIL: give_up(m); return;
	default: break;
	}
	m->handshake = false;
	let_go_cluster(m);
	flush(m);
}

static void on_connected(struct mesh__mirror *m)
{
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		give_up(m);
		return;
	}
	m->connected = true;
	if (m->mode == MESH__UP_PLAIN) {
		flush(m);
		return;
	}
	const char *why = NULL;
	m->ssl = mesh__tls_originate(m->w, m->ws->snap, m->cluster, m->mode, m->fd, m->key,
	                             "http/1.1", &why);
	if (!m->ssl) {
		mesh__log(MESH_LOG_DEBUG, "mirror %s: %s", m->key, why ? why : "no TLS");
		give_up(m);
		return;
	}
	m->handshake = true;
	handshake_step(m);
}

static void on_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mesh__mirror *m = io->data;
	if (m->handshake) {
		handshake_step(m);
		return;
	}
	char buf[4096];
	for (int k = 0; k < 16; k++) {
		ssize_t n = mesh__sock_read(m->fd, m->ssl, buf, sizeof(buf));
		if (n > 0 && mesh__tls_has_pending(m->ssl))
			continue; /* the answer is dropped */
		if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
			return;
		break;
	}
	/* EOF (the request said connection: close) or an error: done */
	m->dead = true;
	ev_io_stop(loop, io);
	if (m->complete)
		destroy(m);
}

static void on_write(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mesh__mirror *m = io->data;
	if (!m->connected)
		on_connected(m);
	else if (m->handshake)
		handshake_step(m);
	else
		flush(m);
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh__mirror *m = t->data;
	m->dead = true;
	if (m->complete)
		destroy(m);
}

struct mesh__mirror *mesh__mirror_start(struct mesh__worker *w, struct mesh__wsnap *ws,
                                        const struct mesh_cluster *c, int ep, const char *head,
                                        size_t head_len)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	char key[96];
	if (mesh__endpoint_sockaddr(w, c, ep, &sa, &salen, key, sizeof(key)))
		return NULL;
	int mode = mesh__tls_up_mode(w, c, ep);
	mesh__tls_key_mode(key, sizeof(key), mode);
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0 && errno != EINPROGRESS) {
		close(fd);
		return NULL;
	}
	struct mesh__mirror *m = mesh__calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		return NULL;
	}
	m->w = w;
	m->fd = fd;
	m->mode = (uint8_t)mode;
	memcpy(m->key, key, sizeof(m->key));
	if (mode != MESH__UP_PLAIN) {
		m->cluster = c;
		m->ws = ws;
		ws->users++; /* the cluster must outlive the handshake */
	}
	ev_io_init(&m->rio, on_read, fd, EV_READ);
	ev_io_init(&m->wio, on_write, fd, EV_WRITE);
	ev_set_priority(&m->wio, EV_MINPRI);
	ev_timer_init(&m->deadline, on_deadline, MIRROR_DEADLINE_S, 0);
	m->rio.data = m->wio.data = m->deadline.data = m;
	ev_io_start(w->loop, &m->rio);
	ev_timer_start(w->loop, &m->deadline);
	if (!mesh__chain_append(&m->out, &w->pool, head, head_len))
		m->dead = true;
	else
		ev_io_start(w->loop, &m->wio); /* written once connected */
	return m;
}

void mesh__mirror_body(struct mesh__mirror *m, const void *data, size_t len)
{
	if (m->dead)
		return;
	if (m->out.bytes + len > MIRROR_MAX_BYTES ||
	    !mesh__chain_append(&m->out, &m->w->pool, data, len)) {
		/* falling behind: give up on this copy, never on the request */
		give_up(m);
		return;
	}
	flush(m);
}

void mesh__mirror_end(struct mesh__mirror *m, bool complete)
{
	m->complete = true;
	if (!complete || m->dead) {
		destroy(m);
		return;
	}
	flush(m);
}
