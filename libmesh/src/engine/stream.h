/*
 * stream.h - downstream connections, streams and upstream connections of
 * the request pipeline (conn.c, h2conn.c, stream.c, upstream.c, h2up.c).
 *
 * A stream is one request/response exchange. It belongs to a downstream
 * connection (st->d: the socket, the worker) and, within it, either to the
 * connection's HTTP/1 parser (st->sid == 0: one stream at a time, d->st) or
 * to its HTTP/2 session (st->sid > 0: many at once, d->h2). Both codecs
 * build the same routing view (struct mesh__h1_head: method, path,
 * authority, headers, body framing) and hand it to mesh__stream_start();
 * the response goes back through the owner: stream.c writes HTTP/1 bytes
 * itself, or calls the mesh__h2s_* functions of h2conn.c. Upstream, a
 * stream uses an HTTP/1.1 connection of its own (st->up, upstream.c) or a
 * stream of a shared HTTP/2 connection (st->h2u, h2up.c).
 */
#ifndef MESH_SRC_ENGINE_STREAM_H
#define MESH_SRC_ENGINE_STREAM_H

#include <netinet/in.h>

#include "engine_int.h"
#include "tls.h"

/* bytes queued toward a peer before we stop reading from the other side */
#define MESH_HIGH_WATER (256 * 1024)
/* request bytes kept so that a retry can send them again */
#define MESH_RETRY_BUFFER (64 * 1024)
/* HTTP/2: bytes buffered per stream and direction before its window is
 * held back (request) or its upstream paused (response) */
#define MESH_H2_STREAM_HIGH (64 * 1024)
/* HTTP/2 flow-control windows we advertise: per stream, per connection */
#define MESH_H2_STREAM_WINDOW (256 * 1024)
#define MESH_H2_CONN_WINDOW (1024 * 1024)
/* HTTP/2: frame bytes queued toward a socket before nghttp2 is told to wait */
#define MESH_H2_OUT_HIGH (128 * 1024)

struct mesh__h2conn;
struct mesh__h2up;

/* TLS state of a downstream connection */
enum { DTLS_NONE = 0, DTLS_SNIFF, DTLS_HANDSHAKE, DTLS_ON };

struct mesh__dconn {
	struct mesh__worker *w;
	struct mesh__listener *l;
	int fd;
	SSL *ssl;        /* NULL: plain text */
	uint8_t tls;     /* DTLS_* */
	bool tls_strict; /* plain text is refused (PeerAuthentication STRICT) */
	char *peer_id;   /* the client's SPIFFE ID (mutual TLS), or NULL */
	char *xfcc;      /* x-forwarded-client-cert for the app, or NULL */
	char *sni;       /* gateway over TLS: the ClientHello's server name, or NULL */
	ev_io rio, wio;
	ev_timer timer;
	struct mesh__dconn *prev, *next;
	struct mesh__block *in; /* read buffer; returned to the pool when empty */
	struct mesh__chain out;
	struct mesh__h1_parser parser;
	struct mesh__stream *st;
	bool close_after; /* close once out is written */
	bool read_paused;
	bool in_parse;
	bool closed;
	bool timer_is_idle;      /* the timer is the idle one, not the header one */
	struct mesh__h2conn *h2; /* set once the client spoke HTTP/2 (h2conn.c) */
	unsigned requests;
	int64_t head_started_ms; /* first byte of the current request head */
};

struct mesh__mirror;
#define MESH_MAX_MIRRORS 4

struct mesh__stream {
	struct mesh__dconn *d;
	struct mesh__mirror *mirrors[MESH_MAX_MIRRORS];
	unsigned nmirrors;
	struct mesh__wsnap *ws;
	const mesh_route *route;
	const mesh_cluster *cluster;
	int ep;
	bool cb_pending, cb_request, cb_retry; /* circuit-breaker units held */
	struct sockaddr_storage dst;
	socklen_t dst_len;
	char dst_key[80];
	uint8_t up_tls; /* enum mesh__up_tls for this attempt */
	bool pending;   /* waiting for a connection (maxConnections), in w's list */
	struct mesh__stream *pend_prev, *pend_next;
	struct mesh__upstream *up;
	struct mesh__chain req; /* serialized request: head, then body */
	size_t req_sent;        /* bytes of req written to the current upstream */
	size_t req_dropped;     /* bytes freed from req's front (no retry possible) */
	bool req_done;          /* the whole request is in req */
	bool req_chunked;       /* body re-framed as chunked toward upstream */
	bool retriable;         /* the request still fits the retry buffer */
	bool idempotent;        /* the method may be sent twice */
	int tried[4];           /* endpoints already tried (Istio's previous_hosts) */
	bool is_head;
	bool keep_alive;   /* downstream */
	bool resp_started; /* a response byte went downstream */
	bool resp_chunked; /* response re-framed as chunked toward downstream */
	bool resp_done;
	bool upgrade;
	bool connect;     /* an HTTP/1.1 CONNECT ... */
	bool connect_go;  /* ... routed: conn.c hands it to a TCP relay after parsing */
	bool h2c_upgrade; /* "Upgrade: h2c", ignored */
	int status;
	unsigned flags;
	unsigned attempts;
	int64_t start_ms;
	ev_timer timeout, delay, per_try;
	ev_timer idle;       /* stream idle timeout: no byte either way for that long */
	bool grpc;           /* content-type application/grpc* */
	bool mirror_chunked; /* the body goes to mirrors chunked */
	int grpc_abort;      /* gRPC status of a fault abort, -1 none */

	/* HTTP/2 downstream (h2conn.c); sid 0: the stream is HTTP/1's */
	int32_t sid;
	struct mesh__stream *h2prev, *h2next; /* the session's streams */
	struct mesh__chain resp;              /* response bytes for DATA frames */
	struct mesh__block *resp_trailers;    /* struct mesh__hlist records */
	size_t resp_trailers_len;
	uint32_t rx_pending; /* request DATA not yet given back to the window */
	bool finished;       /* the books are done; nghttp2 still holds it */
	bool h2_closed;      /* nghttp2 closed the stream */
	bool eos_sent;       /* the response's end is handed to nghttp2 */
	bool resp_paused;    /* the upstream waits for resp to drain */

	/* HTTP/2 upstream (h2up.c) */
	bool up_h2; /* the upstream speaks HTTP/2 */
	struct mesh__h2up *h2u;
	struct mesh__stream *uprev, *unext; /* the connection's streams */
	int32_t up_sid;
	uint32_t up_pending;        /* response DATA not yet given back to the window */
	bool up_sent;               /* the request's HEADERS went out */
	bool up_head_seen;          /* a final response head arrived */
	struct mesh__block *uphead; /* the request head, mesh__hlist records */
	size_t uphead_len;
	unsigned uphead_n;
	struct mesh__block *req_trailers; /* request trailers, mesh__hlist records */
	size_t req_trailers_len;
};

struct mesh__upstream {
	struct mesh__worker *w;
	int fd;
	SSL *ssl;         /* NULL: plain text */
	bool handshake;   /* TLS handshake in progress (connected is false) */
	uint8_t tls_mode; /* enum mesh__up_tls */
	ev_io rio, wio;
	ev_timer timer; /* connect timeout, per-try timeout, or idle timeout */
	struct mesh__upstream *next_idle;
	char key[80];
	struct mesh__stream *st;
	struct mesh__block *in;
	struct mesh__h1_parser parser;
	bool connected, keep_alive, in_parse, got_bytes, interim;
	bool paused; /* a response callback paused the parser: bytes may wait in in */
	int64_t born_ms, max_life_ms;    /* DestinationRule maxConnectionDuration (0: none) */
	unsigned requests, max_requests; /* DestinationRule maxRequestsPerConnection */
	/* the cluster whose maxConnections unit it holds, and the configuration
	 * view that keeps that cluster alive (NULL: inbound, no breaker) */
	const struct mesh_cluster *cb_cluster;
	struct mesh__wsnap *cb_ws;
	char *peer_id; /* the server's SPIFFE ID (TLS) */
	uint64_t gen;  /* configuration it was last checked against */
	double idle_s; /* DestinationRule idleTimeout, or 60 s */
};

/* stream.c */
/* HTTP/1 parser callbacks of a downstream connection */
int mesh__stream_on_head(struct mesh__dconn *d, const struct mesh__h1_head *h);
int mesh__stream_on_body(struct mesh__dconn *d, const char *data, size_t len);
int mesh__stream_on_end(struct mesh__dconn *d);
/* The codec-neutral request side: a new stream of @d (HTTP/2: @sid > 0),
 * its head (valid during the call), body bytes (> 0: hold the client back
 * until mesh__stream_req_progress says so), and its end with optional
 * trailers. */
struct mesh__stream *mesh__stream_new(struct mesh__dconn *d, int32_t sid);
void mesh__stream_start(struct mesh__stream *st, const struct mesh__h1_head *h);
/* A request refused before routing (HTTP/2 header list too large). */
void mesh__stream_reject(struct mesh__stream *st, int status, const char *why);
int mesh__stream_body(struct mesh__stream *st, const char *data, size_t len);
int mesh__stream_end(struct mesh__stream *st, const struct mesh__h1_header *trailers, size_t n);
/* Give a stream object back to the worker's free list. */
void mesh__stream_free(struct mesh__stream *st);
/* Request bytes moved upstream: free what no retry needs, and let the
 * client send more when the backlog is low. */
void mesh__stream_req_sent(struct mesh__stream *st, size_t n);
void mesh__stream_req_progress(struct mesh__stream *st);
/* The client took response bytes: a paused upstream may go on. */
void mesh__stream_resp_drained(struct mesh__stream *st);
/* Push what the response side has queued toward the client. */
void mesh__stream_flush(struct mesh__stream *st);
void mesh__stream_local_reply(struct mesh__stream *st, int status, const char *body);
void mesh__stream_bad_request(struct mesh__stream *st, int status, const char *why);
void mesh__stream_finish(struct mesh__stream *st);
void mesh__stream_abort(struct mesh__stream *st);
void mesh__stream_upstream_failed(struct mesh__stream *st, unsigned flag);
void mesh__stream_send(struct mesh__stream *st);
int mesh__stream_pick(struct mesh__stream *st);
bool mesh__stream_retry_status(struct mesh__stream *st, int status);
int mesh__stream_response_head(struct mesh__stream *st, const struct mesh__h1_head *h);
int mesh__stream_response_body(struct mesh__stream *st, const char *data, size_t len);
void mesh__stream_response_end(struct mesh__stream *st, const struct mesh__h1_header *trailers,
                               size_t n);

void mesh__stream_upgrade(struct mesh__stream *st, struct mesh__upstream *u, const char *early,
                          size_t early_len);

/* The CONNECT of @st is routed: detach the client connection and relay it
 * to the chosen endpoint (tcp.c). Called by conn.c once out of the parser. */
void mesh__stream_connect(struct mesh__stream *st);

/* A stream that waited for a connection may try again (upstream.c). */
void mesh__stream_pending_go(struct mesh__stream *st);

/* mirror.c */
/* A copy of a request to endpoint @ep of mirror cluster @c (of snapshot view
 * @ws), starting with the request head @head; NULL when no connection could
 * be started. */
struct mesh__mirror *mesh__mirror_start(struct mesh__worker *w, struct mesh__wsnap *ws,
                                        const struct mesh_cluster *c, int ep, const char *head,
                                        size_t head_len);
void mesh__mirror_body(struct mesh__mirror *m, const void *data, size_t len);
/* The stream is done with the mirror: @complete when the whole request was
 * given to it (otherwise the copy is abandoned). */
void mesh__mirror_end(struct mesh__mirror *m, bool complete);

/* conn.c */
/* Take the socket out of a connection (watchers stopped, counters and
 * lists updated, nothing closed); free it with mesh__dconn_free_detached
 * once the stream has let go of it. */
int mesh__dconn_detach(struct mesh__dconn *d, SSL **ssl);
void mesh__dconn_free_detached(struct mesh__dconn *d);
/* Write what is queued. Returns false when the connection is closed (and,
 * unless it is being parsed, freed): the caller must not touch it then. */
bool mesh__dconn_write(struct mesh__dconn *d);
void mesh__dconn_resume(struct mesh__dconn *d);
/* Reading resumed: TLS may hold bytes the socket will not signal. */
void mesh__dconn_kick(struct mesh__dconn *d);
void mesh__dconn_close(struct mesh__dconn *d);

/* upstream.c */
/* Take the socket out of an upstream connection and free the rest. */
int mesh__upstream_detach(struct mesh__upstream *u, SSL **ssl);
int mesh__upstream_get(struct mesh__stream *st);
void mesh__upstream_write(struct mesh__upstream *u);
void mesh__upstream_release(struct mesh__upstream *u, bool reuse);
/* The client drained: read (and parse what waits) again. */
void mesh__upstream_resume(struct mesh__upstream *u);
/* The stream stops waiting for a connection (it is done or moves on). */
void mesh__upstream_unpend(struct mesh__stream *st);
/* The stream's cluster is at maxConnections: wait for room (1), or, past
 * http1MaxPendingRequests, answer 503 UO (-1). */
int mesh__upstream_wait(struct mesh__stream *st);
/* A connection unit was given back: waiting streams may go (HTTP/2 side). */
void mesh__upstream_room_freed(struct mesh__worker *w);

/* h2conn.c: the HTTP/2 side of a downstream connection */
/* d->in starts with the client preface: the connection is HTTP/2 now. */
void mesh__h2conn_start(struct mesh__dconn *d);
void mesh__h2conn_on_read(struct mesh__dconn *d);
void mesh__h2conn_on_write(struct mesh__dconn *d);
void mesh__h2conn_on_timer(struct mesh__dconn *d);
/* mesh__dconn_close asks first: true when the close must wait for an
 * nghttp2 call in progress to return. */
bool mesh__h2conn_close_deferred(struct mesh__dconn *d);
/* Tear the session down (streams aborted); mesh__dconn_close does the rest. */
void mesh__h2conn_free(struct mesh__dconn *d);
/* Drain: GOAWAY, in-flight streams finish, then the connection closes. */
void mesh__h2conn_drain(struct mesh__dconn *d);
/* Stream operations, for stream.c. Nothing here writes to the socket at
 * once: output is flushed from the event loop (so no callback ever sees a
 * stream or a connection freed under it). */
int mesh__h2s_head(struct mesh__stream *st, int status, const struct mesh__h1_header *h, size_t n,
                   bool eos);
int mesh__h2s_body(struct mesh__stream *st, const char *data, size_t len);
void mesh__h2s_end(struct mesh__stream *st, const struct mesh__h1_header *trailers, size_t n);
void mesh__h2s_reset(struct mesh__stream *st, uint32_t error_code);
void mesh__h2s_continue(struct mesh__stream *st);
/* The pipeline is done with @st (books kept): freed once nghttp2 is too. */
void mesh__h2s_done(struct mesh__stream *st);
/* The request backlog went down: give flow-control window back. */
void mesh__h2s_req_progress(struct mesh__stream *st);
void mesh__h2s_kick(struct mesh__stream *st);

/* h2up.c: HTTP/2 upstream connections, one per endpoint per worker,
 * streams multiplexed (nghttp2 queues beyond the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS) */
int mesh__h2up_attach(struct mesh__stream *st);
/* The stream leaves its upstream stream; @cancel: reset it (RST_STREAM). */
void mesh__h2up_detach(struct mesh__stream *st, bool cancel);
/* More request bytes (or their end) are in st->req. */
void mesh__h2up_send(struct mesh__stream *st);
/* The client drained: give the upstream its window back. */
void mesh__h2up_resume(struct mesh__stream *st);

#endif
