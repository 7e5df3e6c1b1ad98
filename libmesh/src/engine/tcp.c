/*
 * tcp.c - TCP listeners: each accepted connection is routed (an UPSTREAM
 * listener asks the router for the service's tcp route; an inbound one
 * goes to the app), connected to an endpoint, and relayed.
 *
 * Mutual TLS is set up before the relay starts: an inbound port under
 * PeerAuthentication STRICT or PERMISSIVE takes a TLS handshake from the
 * client (PERMISSIVE tells TLS from plain text by the first byte), and a
 * connection to a mesh workload (auto-mTLS, or DestinationRule
 * ISTIO_MUTUAL) makes one toward it and checks the server's identity. Then
 * the tunnel relays the decrypted bytes, half-closes included (close_notify
 * is TLS's half-close).
 *
 * Gateway ports that carry TLS start here too: the ClientHello is peeked
 * (not read) for its SNI, which picks the Gateway server as Envoy's TLS
 * inspector and filter chains do; a PASSTHROUGH server's connection is
 * relayed as it is to the destination of the VirtualService tls route for
 * that SNI, a TLS server's is terminated and relayed by its tcp routes,
 * and an HTTPS server's goes to conn.c for HTTP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mesh/security.h>

#include "../lb/cluster.h"
#include "gateway.h"
#include "stream.h"
#include "dns.h"
#include "tls.h"
#include "tunnel.h"

struct tcp_conn {
	struct mesh__worker *w;
	struct mesh__listener *l;
	struct mesh__wsnap *ws;
	const mesh_cluster *cluster;
	int ep;
	/* setup, before the relay: TLS on either side (tls.c) */
	int fd, up;
	SSL *dssl, *ussl;
	uint8_t dstate, ustate; /* enum below */
	bool strict;
	uint8_t tls_mode; /* enum mesh__up_tls toward the endpoint */
	bool connect;     /* an HTTP CONNECT: answer 200 once connected, 503 if not */
	char *early;      /* CONNECT: bytes the client sent after its request head */
	size_t early_len;
	char key[80];     /* the endpoint, for TLS session resumption */
	unsigned gw_port; /* gateway: the Gateway port number */
	bool lowat;       /* gateway: SO_RCVLOWAT raised while a ClientHello comes in */
	ev_io drio, dwio, urio, uwio;
	ev_timer timer;
};

/* where each side is in its setup */
enum { S_READY = 0, S_SNIFF, S_HANDSHAKE, S_CONNECTING, S_HELLO };

static void on_close(void *ud)
{
	struct tcp_conn *c = ud;
	struct mesh__worker *w = c->w;
	if (c->cluster && c->ep >= 0)
		mesh_balancer_end(c->ws->lb, c->cluster, c->ep, MESH_OUTCOME_SUCCESS,
		                  (uint64_t)mesh__now_ms());
	mesh__wsnap_release(w, c->ws);
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_ACTIVE], -1);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_ACTIVE], -1);
	w->nconns--;
	mesh__free(c);
}

static void setup_free(struct tcp_conn *c, unsigned flag)
{
	struct mesh__worker *w = c->w;
	if (c->connect && c->fd >= 0) {
		/* best effort: the socket has room for a few bytes */
		static const char no[] = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n"
					 "connection: close\r\n\r\n";
		struct iovec iov = { (void *)no, sizeof(no) - 1 };
		(void)mesh__sock_writev(c->fd, c->dssl, &iov, 1);
	}
	mesh__free(c->early);
	c->early = NULL;
	ev_io_stop(w->loop, &c->drio);
	ev_io_stop(w->loop, &c->dwio);
	ev_io_stop(w->loop, &c->urio);
	ev_io_stop(w->loop, &c->uwio);
	ev_timer_stop(w->loop, &c->timer);
	if (flag)
		mesh__ctr_add(&w->flag_ctr[__builtin_ctz(flag)], 1);
	mesh__tls_close(c->dssl);
	mesh__tls_close(c->ussl);
	if (c->fd >= 0)
		close(c->fd);
	if (c->up >= 0)
		close(c->up);
	if (c->cluster && c->ep >= 0)
		mesh_balancer_end(c->ws->lb, c->cluster, c->ep,
		                  flag == F_UF ? MESH_OUTCOME_LOCAL_FAILURE : MESH_OUTCOME_SUCCESS,
		                  (uint64_t)mesh__now_ms());
	if (c->ws)
		mesh__wsnap_release(w, c->ws);
	mesh__free(c);
}

/* Both sides are ready: relay. */
static void relay(struct tcp_conn *c)
{
	struct mesh__worker *w = c->w;
	ev_io_stop(w->loop, &c->drio);
	ev_io_stop(w->loop, &c->dwio);
	ev_io_stop(w->loop, &c->urio);
	ev_io_stop(w->loop, &c->uwio);
	ev_timer_stop(w->loop, &c->timer);
	int one = 1;
	setsockopt(c->up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	w->nconns++;
	if (!c->connect) /* (a CONNECT's client connection was counted at accept) */
		mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_TOTAL], 1);
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_ACTIVE], 1);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_TOTAL], 1);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_ACTIVE], 1);
	int fd = c->fd, up = c->up;
	SSL *dssl = c->dssl, *ussl = c->ussl;
	c->fd = c->up = -1;
	c->dssl = c->ussl = NULL;
	mesh__tls_unbind(ussl);
	/* the tunnel reports a refused or reset connect by closing the client */
	static const char yes[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	char *early = c->early;
	size_t early_len = c->early_len;
	c->early = NULL;
	mesh__tunnel_start(w, fd, dssl, up, ussl, early, early_len, c->connect ? yes : NULL,
	                   c->connect ? sizeof(yes) - 1 : 0, w->proxy->opts.idle_timeout_ms * 60,
	                   on_close, c);
	mesh__free(early); /* (the tunnel copied it) */
}

static void step(struct tcp_conn *c, bool up_event);

static void on_setup_io(struct ev_loop *loop, ev_io *io, int revents)
{
	(void)loop, (void)revents;
	struct tcp_conn *c = io->data;
	step(c, io == &c->urio || io == &c->uwio);
}

static void on_setup_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop, (void)revents;
	struct tcp_conn *c = t->data;
	mesh__log(MESH_LOG_DEBUG, "TCP connection setup timed out");
	if (c->ustate == S_CONNECTING)
		mesh__ctr_add(&c->w->ctr[C_UPSTREAM_CX_CONNECT_TIMEOUT], 1);
	setup_free(c, c->ustate != S_READY ? F_UF : 0);
}

/* Wait for @want (EV_READ / EV_WRITE) on one side's watchers. */
static void wait_on(struct tcp_conn *c, ev_io *r, ev_io *wr, int want)
{
	struct ev_loop *loop = c->w->loop;
	if (want == EV_READ) {
		ev_io_stop(loop, wr);
		ev_io_start(loop, r);
	} else {
		ev_io_stop(loop, r);
		ev_io_start(loop, wr);
	}
}

static int step_hello(struct tcp_conn *c);

/* Advance the client side: the ClientHello (gateway), sniff, then
 * handshake. Returns -1 when the connection was given up (freed, or handed
 * to HTTP), 0 when waiting, 1 when ready. */
static int step_down(struct tcp_conn *c)
{
	struct mesh__worker *w = c->w;
	if (c->dstate == S_HELLO) {
		int r = step_hello(c);
		if (r <= 0)
			return r;
	}
	if (c->dstate == S_SNIFF) {
		unsigned char b;
		ssize_t r = recv(c->fd, &b, 1, MSG_PEEK);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			wait_on(c, &c->drio, &c->dwio, EV_READ);
			return 0;
		}
		if (r <= 0) {
			setup_free(c, 0);
			return -1;
		}
		if (b != 0x16) {
			if (c->strict) {
				mesh__ctr_add(&w->ctr[C_SSL_PLAINTEXT_REFUSED], 1);
				mesh__log(
					MESH_LOG_DEBUG,
					"plain text on a STRICT mTLS TCP port: connection refused");
				setup_free(c, 0);
				return -1;
			}
			c->dstate = S_READY;
			return 1;
		}
		struct mesh__tls_ident *t = mesh__worker_ident(w);
		if (!t || !(c->dssl = mesh__tls_accept_new(t, c->fd))) {
			setup_free(c, 0);
			return -1;
		}
		c->dstate = S_HANDSHAKE;
	}
	if (c->dstate == S_HANDSHAKE) {
		const char *why = NULL;
		switch (mesh__tls_handshake(c->dssl, &why)) {
		case MESH__HS_WANT_READ: wait_on(c, &c->drio, &c->dwio, EV_READ); return 0;
		case MESH__HS_WANT_WRITE: wait_on(c, &c->drio, &c->dwio, EV_WRITE); return 0;
		case MESH__HS_FAIL:
			mesh__ctr_add(
				&w->ctr[mesh__tls_peer_refused(c->dssl) ? C_SSL_FAIL_VERIFY
			                                                : C_SSL_CONNECTION_ERROR],
				1);
			mesh__log(MESH_LOG_DEBUG, "inbound TLS handshake failed: %s", why);
			setup_free(c, 0);
			return -1;
		default: break;
		}
		mesh__ctr_add(&w->ctr[C_SSL_HANDSHAKE], 1);
		if (SSL_session_reused(c->dssl))
			mesh__ctr_add(&w->ctr[C_SSL_SESSION_REUSED], 1);
		c->dstate = S_READY;
	}
	ev_io_stop(w->loop, &c->drio);
	ev_io_stop(w->loop, &c->dwio);
	return 1;
}

/* Advance the endpoint side: connect, then (mTLS) handshake and identity. */
static int step_up(struct tcp_conn *c)
{
	struct mesh__worker *w = c->w;
	if (c->ustate == S_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(c->up, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_CONNECT_FAIL], 1);
			setup_free(c, F_UF);
			return -1;
		}
		if (c->tls_mode == MESH__UP_PLAIN) { /* a CONNECT waits for the connect */
			c->ustate = S_READY;
			ev_io_stop(w->loop, &c->urio);
			ev_io_stop(w->loop, &c->uwio);
			return 1;
		}
		const char *why = NULL;
		if (!(c->ussl = mesh__tls_originate(w, c->ws->snap, c->cluster, c->tls_mode, c->up,
		                                    c->key, NULL, &why))) {
			mesh__ctr_add(&w->ctr[C_UPSTREAM_SSL_FAIL], 1);
			mesh__log(MESH_LOG_WARNING, "TCP upstream: %s", why);
			setup_free(c, F_UF);
			return -1;
		}
		c->ustate = S_HANDSHAKE;
	}
	if (c->ustate == S_HANDSHAKE) {
		char *peer = NULL;
		switch (mesh__tls_client_step(w, c->ussl, c->cluster, c->tls_mode, c->key, &peer)) {
		case MESH__HS_WANT_READ: wait_on(c, &c->urio, &c->uwio, EV_READ); return 0;
		case MESH__HS_WANT_WRITE: wait_on(c, &c->urio, &c->uwio, EV_WRITE); return 0;
		case MESH__HS_FAIL: setup_free(c, F_UF); return -1;
		default: break;
		}
		mesh__free(peer);
		c->ustate = S_READY;
	}
	ev_io_stop(w->loop, &c->urio);
	ev_io_stop(w->loop, &c->uwio);
	return 1;
}

static void step(struct tcp_conn *c, bool up_event)
{
	int d = c->dstate == S_READY ? 1 : step_down(c);
	if (d < 0)
		return;
	int u = 1;
	if (c->ustate == S_CONNECTING && !up_event) {
		/* the connect completes when the socket turns writable */
		if (!ev_is_active(&c->uwio))
			wait_on(c, &c->urio, &c->uwio, EV_WRITE);
		u = 0;
	} else if (c->ustate != S_READY) {
		u = step_up(c);
	}
	if (u < 0)
		return;
	if (d && u)
		relay(c);
}

/* The setup's time limit: the cluster's connectTimeout while connecting,
 * else the header timeout (a TLS handshake from the client). */
static void arm_setup_timer(struct tcp_conn *c)
{
	struct mesh__worker *w = c->w;
	int64_t ms = c->cluster && c->cluster->lb.connect_timeout_ms > 0
	                     ? c->cluster->lb.connect_timeout_ms
	                     : w->proxy->opts.header_timeout_ms;
	ev_timer_stop(w->loop, &c->timer);
	ev_timer_set(&c->timer, ms / 1000.0, 0);
	ev_timer_start(w->loop, &c->timer);
}

/* Start connecting to @sa; with @up_tls (enum mesh__up_tls) other than
 * plain, a TLS handshake follows once connected. Returns 0 or F_UF. */
static unsigned connect_to(struct tcp_conn *c, const struct sockaddr_storage *sa, socklen_t len,
                           uint8_t up_tls)
{
	c->up = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->up >= 0)
		mesh__upstream_sockopts(c->up, c->cluster);
	if (c->up < 0 ||
	    (connect(c->up, (const struct sockaddr *)sa, len) < 0 && errno != EINPROGRESS))
		return F_UF;
	ev_io_init(&c->urio, on_setup_io, c->up, EV_READ);
	ev_io_init(&c->uwio, on_setup_io, c->up, EV_WRITE);
	c->urio.data = c->uwio.data = c;
	if (up_tls == MESH__UP_PLAIN)
		return 0; /* the tunnel reports a refused connect by closing the client */
	c->ustate = S_CONNECTING;
	c->tls_mode = up_tls;
	char host[64] = "?";
	unsigned port = 0;
	if (sa->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	} else {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
		          sizeof(host));
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	}
	snprintf(c->key, sizeof(c->key), "tcp|%s:%u", host, port);
	return 0;
}

/* Route @conn, pick an endpoint of its destination and start connecting.
 * Returns 0, or the response flag that ends the connection: NR (no
 * route), UH (no endpoint), UF (no connection). */
static unsigned start_upstream(struct tcp_conn *c, const struct mesh_connection *conn)
{
	struct mesh__worker *w = c->w;
	const mesh_route *rt;
	if (!c->ws || mesh_router_route_connection(c->ws->snap->router, conn, &rt))
		return F_NR;
	size_t idx = mesh_route_pick(rt, (uint32_t)(w->rng >> 32));
	w->rng = w->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	c->cluster = mesh_route_destination(rt, idx, NULL);
	c->ep = c->cluster ? mesh_balancer_pick(c->ws->lb, c->cluster, 0, (uint64_t)mesh__now_ms())
	                   : -1;
	struct sockaddr_storage sa;
	socklen_t len = 0;
	if (c->ep < 0 || mesh__endpoint_sockaddr(w, c->cluster, c->ep, &sa, &len, NULL, 0)) {
		c->ep = -1;
		return F_UH;
	}
	mesh_balancer_begin(c->ws->lb, c->cluster, c->ep);
	return connect_to(c, &sa, len, (uint8_t)mesh__tls_up_mode(w, c->cluster, c->ep));
}

static struct tcp_conn *conn_new(struct mesh__listener *l, int fd)
{
	struct mesh__worker *w = l->w;
	struct tcp_conn *c = mesh__calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->w = w;
	c->l = l;
	c->ep = -1;
	c->fd = fd;
	c->up = -1;
	c->ws = mesh__wsnap_acquire(w);
	ev_io_init(&c->drio, on_setup_io, c->fd, EV_READ);
	ev_io_init(&c->dwio, on_setup_io, c->fd, EV_WRITE);
	c->drio.data = c->dwio.data = c;
	ev_init(&c->timer, on_setup_timer);
	c->timer.data = c;
	return c;
}

/* Go: give up with @flag, relay at once when neither side has anything to
 * set up, else step through the setup. */
static void start(struct tcp_conn *c, unsigned flag)
{
	if (flag) {
		setup_free(c, flag); /* no route, no endpoint or no connection: close */
		return;
	}
	if (c->dstate == S_READY && c->ustate == S_READY) {
		relay(c); /* plain both ways: the tunnel at once */
		return;
	}
	arm_setup_timer(c);
	step(c, false);
}

void mesh__tcp_accept(struct mesh__listener *l, int fd)
{
	struct mesh__worker *w = l->w;
	const struct mesh__listener_cfg *lc = l->cfg;
	struct tcp_conn *c = conn_new(l, fd);
	if (!c)
		return;
	unsigned flag = 0;
	if (lc->kind == MESH_LISTENER_INBOUND) {
		int mode = c->ws ? c->ws->snap->mtls[lc - w->proxy->lcfg] : MESH_MTLS_PERMISSIVE;
		bool have = mesh__worker_ident(w) != NULL;
		if (mode == MESH_MTLS_STRICT && !have) {
			mesh__ctr_add(&w->ctr[C_SSL_PLAINTEXT_REFUSED], 1);
			setup_free(c, 0);
			return;
		}
		if (mode != MESH_MTLS_DISABLE && have) {
			c->dstate = S_SNIFF;
			c->strict = mode == MESH_MTLS_STRICT;
		}
		flag = connect_to(c, &lc->target_sa, lc->target_len, MESH__UP_PLAIN);
	} else {
		struct mesh_connection conn = { .struct_size = sizeof(conn), .host = lc->target };
		flag = start_upstream(c, &conn);
	}
	start(c, flag);
}

/* ---- gateway ---- */

/* The ClientHello named @sni (NULL: no name): the server for it takes the
 * connection. Returns -1 when the connection is gone (closed, or handed to
 * HTTP), 1 when the client side goes on (relay, or the handshake). */
static int gateway_hello(struct tcp_conn *c, const char *sni)
{
	struct mesh__worker *w = c->w;
	const struct mesh__gw_server *srv =
		c->ws ? mesh__gateway_by_sni(c->ws->snap->gw, c->gw_port, sni) : NULL;
	if (!srv) {
		/* Envoy: no filter chain matches, the connection is closed */
		mesh__ctr_add(&w->ctr[C_NO_FILTER_CHAIN], 1);
		mesh__log(MESH_LOG_DEBUG, "gateway port %u: no server for SNI \"%s\": closed",
		          c->gw_port, sni ? sni : "");
		setup_free(c, 0);
		return -1;
	}
	if (srv->mode == MESH__GW_PASSTHROUGH) {
		/* the bytes go as they are: the tls route for the SNI */
		struct mesh_connection conn = { .struct_size = sizeof(conn),
			                        .sni = sni,
			                        .port = c->gw_port,
			                        .gateway = srv->gateway };
		unsigned flag = sni ? start_upstream(c, &conn) : F_NR;
		if (flag) {
			mesh__log(MESH_LOG_DEBUG, "gateway port %u: passthrough for \"%s\": %s",
			          c->gw_port, sni ? sni : "",
			          flag == F_NR ? "no route" : "no upstream");
			setup_free(c, flag);
			return -1;
		}
		c->dstate = S_READY;
		arm_setup_timer(c);
		return 1;
	}
	SSL_CTX *ctx = srv->ctx;
	if (srv->mode == MESH__GW_ISTIO_MUTUAL) {
		struct mesh__tls_ident *t = mesh__worker_ident(w);
		ctx = t ? t->server : NULL;
	}
	SSL *ssl = ctx ? mesh__tls_accept_ctx(ctx, c->fd) : NULL;
	if (!ssl) {
		mesh__log(MESH_LOG_DEBUG, "gateway port %u: %s", c->gw_port,
		          ctx ? "out of memory" : "ISTIO_MUTUAL server without an identity");
		setup_free(c, 0);
		return -1;
	}
	if (srv->proto == MESH__GW_HTTPS) {
		struct mesh__listener *l = c->l;
		int fd = c->fd;
		c->fd = -1;
		setup_free(c, 0);
		mesh__dconn_start_tls(l, fd, ssl, sni);
		return -1;
	}
	/* TLS ends here; the bytes go by the Gateway's tcp routes */
	c->dssl = ssl;
	c->dstate = S_HANDSHAKE;
	struct mesh_connection conn = { .struct_size = sizeof(conn),
		                        .port = c->gw_port,
		                        .gateway = srv->gateway };
	unsigned flag = start_upstream(c, &conn);
	if (flag) {
		setup_free(c, flag);
		return -1;
	}
	arm_setup_timer(c);
	return 1;
}

/* Peek at the ClientHello (the bytes stay in the socket: a passthrough
 * relays them, and OpenSSL reads them for a handshake). */
static int step_hello(struct tcp_conn *c)
{
	struct mesh__worker *w = c->w;
	unsigned char buf[MESH__TLS_HELLO_MAX];
	ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_PEEK);
	if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
		wait_on(c, &c->drio, &c->dwio, EV_READ);
		return 0;
	}
	if (r <= 0) {
		setup_free(c, 0);
		return -1;
	}
	char sni[256];
	int h = mesh__tls_hello_sni(buf, (size_t)r, (size_t)r == sizeof(buf), sni, sizeof(sni));
	if (h == 0) {
		/* the rest is on its way; the bytes we have stay in the socket,
		 * which would stay readable: wake when there is more than now
		 * (the setup timer bounds the wait) */
		int more = (int)r + 1;
		c->lowat = setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &more, sizeof(more)) == 0;
		if (!c->lowat) {
			setup_free(c, 0);
			return -1;
		}
		wait_on(c, &c->drio, &c->dwio, EV_READ);
		return 0;
	}
	ev_io_stop(w->loop, &c->drio);
	if (c->lowat) { /* back to every byte, for OpenSSL and the relay */
		int one = 1;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
		c->lowat = false;
	}
	if (h < 0) {
		mesh__ctr_add(&w->ctr[C_SSL_CONNECTION_ERROR], 1);
		mesh__log(MESH_LOG_DEBUG, "gateway port %u: not a TLS ClientHello: closed",
		          c->gw_port);
		setup_free(c, 0);
		return -1;
	}
	return gateway_hello(c, sni[0] ? sni : NULL);
}

void mesh__tcp_gateway(struct mesh__listener *l, int fd, bool tls)
{
	struct tcp_conn *c = conn_new(l, fd);
	if (!c)
		return;
	c->gw_port = l->cfg->gw_port;
	if (tls) {
		c->dstate = S_HELLO;
		arm_setup_timer(c); /* the header timeout: no cluster yet */
		step(c, false);
		return;
	}
	const struct mesh__gw_server *srv =
		c->ws ? mesh__gateway_tcp_server(c->ws->snap->gw, c->gw_port) : NULL;
	struct mesh_connection conn = { .struct_size = sizeof(conn),
		                        .port = c->gw_port,
		                        .gateway = srv ? srv->gateway : NULL };
	start(c, srv ? start_upstream(c, &conn) : F_NR);
}

void mesh__tcp_connect(struct mesh__listener *l, int fd, SSL *ssl, struct mesh__wsnap *ws,
                       const mesh_cluster *cluster, const struct sockaddr_storage *sa,
                       socklen_t len, int up_tls, const char *early, size_t early_len)
{
	struct mesh__worker *w = l->w;
	struct tcp_conn *c = mesh__calloc(1, sizeof(*c));
	if (!c) {
		mesh__tls_close(ssl);
		close(fd);
		mesh__wsnap_release(w, ws);
		return;
	}
	c->w = w;
	c->l = l;
	c->ws = ws;           /* the stream's reference, handed over */
	c->cluster = cluster; /* for its TLS settings; the stream kept the balancer's books */
	c->ep = -1;
	c->fd = fd;
	c->dssl = ssl;
	c->up = -1;
	c->connect = true;
	ev_io_init(&c->drio, on_setup_io, c->fd, EV_READ);
	ev_io_init(&c->dwio, on_setup_io, c->fd, EV_WRITE);
	c->drio.data = c->dwio.data = c;
	ev_init(&c->timer, on_setup_timer);
	c->timer.data = c;
	if (early_len) {
		if (!(c->early = mesh__malloc(early_len))) {
			setup_free(c, 0);
			return;
		}
		memcpy(c->early, early, early_len);
		c->early_len = early_len;
	}
	unsigned flag = connect_to(c, sa, len, (uint8_t)up_tls);
	if (flag)
		mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_CONNECT_FAIL], 1);
	else if (c->ustate == S_READY)
		c->ustate = S_CONNECTING; /* the 200 waits for the connect */
	start(c, flag);
}
