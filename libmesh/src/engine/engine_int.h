/*
 * engine_int.h - the data plane's internals: snapshots, workers,
 * connections, streams, upstream pools, counters.
 *
 * Threads: the main thread owns the admin listener, reloads and signals;
 * each worker owns everything reachable from its struct mesh__worker and
 * touches nothing of another worker's. They share only the published
 * snapshot (an atomic pointer, immutable behind it) and counters written by
 * one worker and read by the admin thread (relaxed atomics).
 */
#ifndef MESH_SRC_ENGINE_INT_H
#define MESH_SRC_ENGINE_INT_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include <mesh/lb.h>
#include <mesh/proxy.h>
#include <mesh/registry.h>
#include <mesh/route.h>

#include "../core/core.h"
#include "../http/h1.h"

#define MESH_BLOCK_SIZE 16384
#define MESH_MAX_WORKERS 64
#define MESH_MAX_LISTENERS 32

/* ---- logging ---- */
void mesh__log(int level, const char *fmt, ...) MESH_PRINTF(2, 3);
extern _Atomic int mesh__log_level;

/* ---- buffers: 16 KiB blocks from a per-worker free list ---- */
struct mesh__block {
	struct mesh__block *next;
	size_t off, len; /* unread data: data[off .. off+len) */
	size_t cap;      /* MESH_BLOCK_SIZE, or more for a large request head */
	char data[];
};

struct mesh__pool {
	struct mesh__block *free;
	size_t nfree, allocated;
};

struct mesh__block *mesh__block_get(struct mesh__pool *p);
/* A block of @cap bytes (not pooled: freed by mesh__block_put). */
struct mesh__block *mesh__block_get_big(struct mesh__pool *p, size_t cap);
void mesh__block_put(struct mesh__pool *p, struct mesh__block *b);

/* A queue of blocks: bytes waiting to be written. */
struct mesh__chain {
	struct mesh__block *head, *tail;
	size_t bytes;
};
bool mesh__chain_append(struct mesh__chain *c, struct mesh__pool *p, const void *data, size_t len);
/* Copy @len bytes of @src from offset @skip to the end of @dst (the
 * caller checked that they are there). */
bool mesh__chain_copy(struct mesh__chain *dst, struct mesh__pool *p, const struct mesh__chain *src,
                      size_t skip, size_t len);
/* Drop the first @len bytes of @c. */
void mesh__chain_consume(struct mesh__chain *c, struct mesh__pool *p, size_t len);
void mesh__chain_clear(struct mesh__chain *c, struct mesh__pool *p);
/* Write as much as the socket takes. Returns bytes written, 0 when it
 * would block, -1 on a socket error (errno set). */
ssize_t mesh__chain_writev(struct mesh__chain *c, struct mesh__pool *p, int fd, SSL *ssl);

/* ---- counters (one writer: the worker; readers: admin) ---- */
enum mesh__counter {
	C_DOWNSTREAM_CX_TOTAL,
	C_DOWNSTREAM_CX_ACTIVE,
	C_DOWNSTREAM_RQ_TOTAL,
	C_DOWNSTREAM_RQ_ACTIVE,
	C_RQ_1XX,
	C_RQ_2XX,
	C_RQ_3XX,
	C_RQ_4XX,
	C_RQ_5XX,
	C_UPSTREAM_CX_TOTAL,
	C_UPSTREAM_CX_ACTIVE,
	C_UPSTREAM_CX_CONNECT_FAIL,
	C_UPSTREAM_CX_CONNECT_TIMEOUT,
	C_UPSTREAM_RQ_RETRY,
	C_UPSTREAM_RQ_RETRY_OVERFLOW,
	C_UPSTREAM_RQ_TIMEOUT,
	C_UPSTREAM_RQ_PENDING_OVERFLOW,
	C_DOWNSTREAM_RQ_BAD,
	C_DOWNSTREAM_RQ_IDLE_TIMEOUT,
	C_DOWNSTREAM_CX_OVERFLOW,
	C_DOWNSTREAM_CX_HTTP2_TOTAL,
	C_UPSTREAM_CX_HTTP2_TOTAL,
	C_H2_RX_RESET,
	C_H2_TX_RESET,
	C_H2_REFUSED_STREAM,
	C_H2_HEADER_OVERFLOW,
	C_H2_RESET_FLOOD,
	C_H2_CONTROL_FLOOD,
	C_H2_EMPTY_FRAMES_FLOOD,
	C_SSL_HANDSHAKE,          /* downstream TLS handshakes completed */
	C_SSL_SESSION_REUSED,     /* ... of which resumed */
	C_SSL_FAIL_VERIFY,        /* peer certificate refused (SPIFFE rules) */
	C_SSL_CONNECTION_ERROR,   /* other handshake failures */
	C_SSL_PLAINTEXT_REFUSED,  /* plain text on a STRICT mTLS port */
	C_UPSTREAM_SSL_HANDSHAKE, /* upstream TLS handshakes completed */
	C_UPSTREAM_SSL_REUSED,    /* ... of which resumed */
	C_UPSTREAM_SSL_FAIL,      /* upstream handshake or identity check failed */
	C_NO_FILTER_CHAIN,        /* gateway: no server takes the connection (SNI) */
	C_COUNT_
};
extern const char *const mesh__counter_names[C_COUNT_];
/* Response flags, as Envoy names them. */
enum mesh__flag {
	F_UF = 1 << 0,   /* upstream connection failure */
	F_UH = 1 << 1,   /* no healthy upstream */
	F_UO = 1 << 2,   /* upstream overflow (circuit breaker) */
	F_NR = 1 << 3,   /* no route */
	F_URX = 1 << 4,  /* retry limit reached */
	F_UT = 1 << 5,   /* upstream request timeout */
	F_UC = 1 << 6,   /* upstream connection termination */
	F_DC = 1 << 7,   /* downstream connection termination */
	F_FI = 1 << 8,   /* fault injected: abort */
	F_DI = 1 << 9,   /* fault injected: delay */
	F_LR = 1 << 10,  /* local reset */
	F_DPE = 1 << 11, /* downstream protocol error */
	F_UPE = 1 << 12, /* upstream protocol error */
};
#define MESH_FLAG_COUNT 13
extern const char *const mesh__flag_names[MESH_FLAG_COUNT];
void mesh__flags_format(unsigned flags, char *buf, size_t size);

static inline void mesh__ctr_add(_Atomic uint64_t *c, int64_t d)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)d,
	                      memory_order_relaxed);
}

/* ---- snapshots ---- */
struct mesh__snapshot {
	atomic_int refs;
	uint64_t generation;
	mesh_config *cfg;
	mesh_registry *reg;
	mesh_router *router;
	/* inbound listeners: enum mesh_mtls_mode, from PeerAuthentication */
	uint8_t mtls[MESH_MAX_LISTENERS];
	/* DestinationRule SIMPLE / MUTUAL contexts by cluster index, or NULL */
	SSL_CTX **tls_ctx;
	size_t ntls_ctx;
	/* gateway mode: the servers of the Gateways that select the proxy
	 * (gateway.h); NULL without gateway listeners */
	struct mesh__gateway *gw;
};
void mesh__snapshot_unref(struct mesh__snapshot *s);

/* A worker's view of one snapshot: its own balancer (per-thread lb state)
 * and a plain count of the streams using it. */
struct mesh__wsnap {
	struct mesh__snapshot *snap;
	mesh_balancer *lb;
	unsigned users; /* streams + 1 while current */
};

/* ---- listeners ---- */
struct mesh__listener_cfg {
	int kind;
	char addr[64];
	unsigned port;
	char target[256];                  /* inbound: app "host:port"; upstream: service host */
	bool tcp;                          /* relay bytes (no HTTP) */
	unsigned gw_port;                  /* gateway: the Gateway port number it serves */
	struct sockaddr_storage target_sa; /* inbound: resolved app address */
	socklen_t target_len;
};

struct mesh__worker;
struct mesh_proxy;
struct mesh__tls_ident;
struct mesh__dns;
struct mesh__dns_table;

struct mesh__listener {
	struct mesh__worker *w;
	const struct mesh__listener_cfg *cfg;
	int fd;
	ev_io io;
};

/* ---- upstream connections ---- */
struct mesh__upstream;
struct mesh__h2up;
#define MESH_H2UP_BUCKETS 64

/* ---- streams and downstream connections ---- */
struct mesh__stream;
struct mesh__dconn;

struct mesh__worker {
	struct mesh_proxy *proxy;
	unsigned id;
	pthread_t thread;
	struct ev_loop *loop;
	ev_async wake;  /* snapshot changed, drain, stop */
	ev_check tick;  /* after each poll: now_ms */
	int64_t now_ms; /* mesh__now_ms() as of this loop iteration */
	struct mesh__listener listeners[MESH_MAX_LISTENERS];
	size_t nlisteners;
	size_t lcfg_done; /* proxy listener configs looked at (nlcfg_live grows) */
	struct mesh__pool pool;
	struct mesh__wsnap *cur; /* current snapshot view */
	mesh_route_scratch *scratch;
	uint64_t rng;
	/* live connections, for drain and stop */
	struct mesh__dconn *dconns;
	struct mesh__upstream *idle[256]; /* idle keep-alive upstreams, by endpoint hash */
	size_t nidle;
	struct mesh__h2up *h2ups[MESH_H2UP_BUCKETS]; /* HTTP/2 upstreams, by endpoint hash */
	struct mesh__stream *free_streams;           /* recycled stream objects */
	struct mesh__sb sb;                          /* serialization scratch, reused */
	char *hbuf;                                  /* NUL-terminated copies of a request head */
	size_t hbuf_cap;
	unsigned nconns;
	bool draining, stopping;
	struct mesh__tls_ident *ident; /* this worker's reference to the identity */
	uint64_t ident_gen;
	void *tls_sessions;                /* client TLS sessions by pool key (tls.c) */
	struct mesh__dns_table *dns_table; /* this worker's reference (dns.c) */
	/* requests waiting for an HTTP/1.1 connection: their cluster is at its
	 * maxConnections (upstream.c); served from pend_timer, FIFO */
	struct mesh__stream *pend_head, *pend_tail;
	ev_timer pend_timer;
	uint64_t dns_gen;
	_Atomic uint64_t ctr[C_COUNT_];
	_Atomic uint64_t flag_ctr[MESH_FLAG_COUNT];
};

struct mesh_proxy {
	struct mesh_proxy_options opts;
	char *config_dir, *ns, *workload, *credential_dir;
	char **labels;
	struct ev_loop *loop; /* main */
	ev_async wake;
	ev_timer poll, settle, drain_timer;
	ev_io admin_io;
	int admin_fd;
	_Atomic(struct mesh__snapshot *) snap;
	pthread_mutex_t snap_lock; /* swapping snap vs. taking a reference to it */
	uint64_t generation;
	uint64_t fingerprint;
	uint64_t files_seen; /* gateway certificate files: the last change reloaded for */
	uint64_t settle_fp, settle_files; /* a change seen, loaded once it holds still */
	unsigned settle_rounds;
	_Atomic uint64_t reloads_ok, reloads_failed;
	struct mesh__listener_cfg lcfg[MESH_MAX_LISTENERS];
	size_t nlcfg;
	unsigned ngateway;                 /* gateway listeners */
	char *gateway_bind;                /* where a reload opens new gateway ports, or NULL */
	_Atomic size_t nlcfg_live;         /* lcfg entries the workers listen on */
	int admin_index;                   /* -1: none */
	int bound_fds[MESH_MAX_LISTENERS]; /* first worker's sockets, for ports */
	unsigned bound_ports[MESH_MAX_LISTENERS];
	struct mesh__worker *workers;
	unsigned nworkers;
	atomic_int want_reload, want_drain, want_stop;
	atomic_bool draining;
	int64_t started_ms;
	bool running;
	/* the identity: replaced whole by mesh_proxy_set_identity(); workers
	 * take a reference when ident_gen moves (once per rotation, not per
	 * connection) */
	struct mesh__dns *dns; /* resolver of DNS endpoints (dns.c) */
	pthread_mutex_t ident_lock;
	struct mesh__tls_ident *ident;
	_Atomic uint64_t ident_gen;
	_Atomic uint64_t ident_updates, ident_rejected;
};

int64_t mesh__now_ms(void);

/* proxy.c */
struct mesh__snapshot *mesh__proxy_snapshot_ref(struct mesh_proxy *p);

/* tls.c / proxy.c: the identity a worker uses now (NULL: none) */
struct mesh__tls_ident *mesh__worker_ident(struct mesh__worker *w);
void mesh__tls_ident_unref(struct mesh__tls_ident *t);

/* worker.c */
int mesh__worker_start(struct mesh__worker *w);
void mesh__worker_wake(struct mesh__worker *w);
/* The worker's current snapshot view for a new stream (switches to a newly
 * published snapshot first). Release with mesh__wsnap_release(). */
struct mesh__wsnap *mesh__wsnap_acquire(struct mesh__worker *w);
void mesh__wsnap_release(struct mesh__worker *w, struct mesh__wsnap *ws);
/*
 * An idle pooled connection to @key ("ADDRESS:PORT[|tlsN]") holds a
 * maxConnections unit of *@c under *@ws, an older configuration: move the
 * unit to the cluster of the same name in the worker's current one, if that
 * cluster still lists the endpoint and has room (as Envoy keeps the pools
 * of clusters a new configuration still has). True: moved (*@c and *@ws
 * updated); false: nothing changed, the connection should close.
 */
bool mesh__wsnap_carry(struct mesh__worker *w, const char *key, const struct mesh_cluster **c,
                       struct mesh__wsnap **ws);
int mesh__listen_socket(const char *addr, unsigned port, bool reuseport, mesh_diag *diag,
                        unsigned *bound_port);

/* conn.c (downstream HTTP/1, HTTP/2 detection, TCP) */
void mesh__accept(struct mesh__listener *l);
/* Serve HTTP on @fd of gateway listener @l after a TLS handshake on @ssl
 * (server side, not started yet), for a ClientHello that named @sni. The
 * connection owns @ssl now; NULL @ssl: the socket is closed. */
void mesh__dconn_start_tls(struct mesh__listener *l, int fd, SSL *ssl, const char *sni);
/* Take every connection waiting in the listen backlog, draining or not. */
void mesh__accept_all(struct mesh__listener *l);
void mesh__dconns_drain(struct mesh__worker *w);
void mesh__dconns_close_all(struct mesh__worker *w);

/* tcp.c */
void mesh__tcp_accept(struct mesh__listener *l, int fd);
/* A connection to a gateway port that carries TCP or TLS: a TLS one's
 * ClientHello picks the server (SNI), which passes it through, terminates
 * it and relays bytes, or hands it to HTTP (mesh__dconn_start_tls). */
void mesh__tcp_gateway(struct mesh__listener *l, int fd, bool tls);
struct mesh__wsnap;
/* An HTTP/1.1 CONNECT routed to @sa: connect (TLS toward the endpoint as
 * @up_tls, enum mesh__up_tls, with @cluster's settings), answer the client
 * (already detached from HTTP, on @l) 200 and relay, or 503 and close.
 * Takes @fd, @ssl and the reference @ws; @early: bytes the client sent
 * after its request head. */
void mesh__tcp_connect(struct mesh__listener *l, int fd, SSL *ssl, struct mesh__wsnap *ws,
                       const struct mesh_cluster *cluster, const struct sockaddr_storage *sa,
                       socklen_t len, int up_tls, const char *early, size_t early_len);

/* upstream.c */
/* Socket options of a new upstream connection: TCP_NODELAY, and the
 * cluster's connectionPool.tcp.tcpKeepalive (@c may be NULL). */
void mesh__upstream_sockopts(int fd, const struct mesh_cluster *c);
void mesh__upstreams_close_idle(struct mesh__worker *w);
/* The worker moved to a new configuration: idle connections made under an
 * older one move to their cluster in the new one (mesh__wsnap_carry), or
 * are closed (they hold that configuration's clusters). */
void mesh__upstreams_close_stale(struct mesh__worker *w);
void mesh__upstream_pending_init(struct mesh__worker *w);

/* h2up.c: close the HTTP/2 upstream connections without streams, or all */
void mesh__h2ups_close_idle(struct mesh__worker *w);
/* Idle HTTP/2 upstream connections made under an older configuration move
 * to the new one as HTTP/1.1 ones do, or go. */
void mesh__h2ups_close_stale(struct mesh__worker *w);
void mesh__h2ups_close_all(struct mesh__worker *w);

/* admin.c */
void mesh__admin_accept(struct mesh_proxy *p);

#endif
