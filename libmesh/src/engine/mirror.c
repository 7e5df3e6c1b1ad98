/*
 * mirror.c - traffic mirroring, fire and forget: a copy of the request
 * (Host with "-shadow" appended, as Envoy does) goes to one endpoint of the
 * mirror cluster on a connection of its own; the answer is read and
 * dropped. Nothing here can delay or change the main response: a mirror
 * that falls behind (more than MIRROR_MAX_BYTES buffered) is abandoned.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"

#define MIRROR_MAX_BYTES (1024 * 1024)
#define MIRROR_DEADLINE_S 30.0

struct mesh__mirror {
	struct mesh__worker *w;
	int fd;
	ev_io rio, wio;
	ev_timer deadline;
	struct mesh__chain out;
	bool complete; /* the whole request is in out (or was written) */
	bool dead;     /* abandoned: close when the stream lets go */
	struct mesh__mirror *next;
};

static void destroy(struct mesh__mirror *m)
{
	struct mesh__worker *w = m->w;
	ev_io_stop(w->loop, &m->rio);
	ev_io_stop(w->loop, &m->wio);
	ev_timer_stop(w->loop, &m->deadline);
	close(m->fd);
	mesh__chain_clear(&m->out, &w->pool);
	mesh__free(m);
}

static void on_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mesh__mirror *m = io->data;
	char buf[4096];
	ssize_t n = read(m->fd, buf, sizeof(buf));
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return; /* the answer is dropped */
	/* EOF (the request said connection: close) or an error: done */
	m->dead = true;
	ev_io_stop(loop, io);
	if (m->complete)
		destroy(m);
}

static void flush(struct mesh__mirror *m)
{
	ssize_t n = mesh__chain_writev(&m->out, &m->w->pool, m->fd, NULL);
	if (n < 0) {
		m->dead = true;
		mesh__chain_clear(&m->out, &m->w->pool);
		ev_io_stop(m->w->loop, &m->wio);
		return;
	}
	if (m->out.bytes)
		ev_io_start(m->w->loop, &m->wio);
	else
		ev_io_stop(m->w->loop, &m->wio);
}

static void on_write(struct ev_loop *loop, ev_io *io, int revents)
{
	flush(io->data);
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mesh__mirror *m = t->data;
	m->dead = true;
	if (m->complete)
		destroy(m);
}

struct mesh__mirror *mesh__mirror_start(struct mesh__worker *w, const struct sockaddr *sa,
                                        socklen_t len, const char *head, size_t head_len)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
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
	ev_io_init(&m->rio, on_read, fd, EV_READ);
	ev_io_init(&m->wio, on_write, fd, EV_WRITE);
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
		m->dead = true;
		mesh__chain_clear(&m->out, &m->w->pool);
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
