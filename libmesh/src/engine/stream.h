/*
 * stream.h - downstream connections, streams and upstream connections of
 * the HTTP/1 pipeline (conn.c, stream.c, upstream.c).
 */
#ifndef MESH_SRC_ENGINE_STREAM_H
#define MESH_SRC_ENGINE_STREAM_H

#include <netinet/in.h>

#include "engine_int.h"

/* bytes queued toward a peer before we stop reading from the other side */
#define MESH_HIGH_WATER (256 * 1024)
/* request bytes kept so that a retry can send them again */
#define MESH_RETRY_BUFFER (64 * 1024)

struct mesh__dconn {
	struct mesh__worker *w;
	struct mesh__listener *l;
	int fd;
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
	bool timer_is_idle; /* the timer is the idle one, not the header one */
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
	bool cb_pending, cb_request; /* circuit-breaker units held */
	struct sockaddr_storage dst;
	socklen_t dst_len;
	char dst_key[80];
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
	int status;
	unsigned flags;
	unsigned attempts;
	int64_t start_ms;
	ev_timer timeout, delay, per_try;
};

struct mesh__upstream {
	struct mesh__worker *w;
	int fd;
	ev_io rio, wio;
	ev_timer timer; /* connect timeout, per-try timeout, or idle timeout */
	struct mesh__upstream *next_idle;
	char key[80];
	struct mesh__stream *st;
	struct mesh__block *in;
	struct mesh__h1_parser parser;
	bool connected, keep_alive, in_parse, got_bytes, interim;
	int64_t idle_since;
};

/* stream.c */
int mesh__stream_on_head(struct mesh__dconn *d, const struct mesh__h1_head *h);
int mesh__stream_on_body(struct mesh__dconn *d, const char *data, size_t len);
int mesh__stream_on_end(struct mesh__dconn *d);
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

/* mirror.c */
struct mesh__mirror *mesh__mirror_start(struct mesh__worker *w, const struct sockaddr *sa,
                                        socklen_t len, const char *head, size_t head_len);
void mesh__mirror_body(struct mesh__mirror *m, const void *data, size_t len);
/* The stream is done with the mirror: @complete when the whole request was
 * given to it (otherwise the copy is abandoned). */
void mesh__mirror_end(struct mesh__mirror *m, bool complete);

/* conn.c */
/* Take the socket out of a connection (watchers stopped, counters and
 * lists updated, nothing closed); free it with mesh__dconn_free_detached
 * once the stream has let go of it. */
int mesh__dconn_detach(struct mesh__dconn *d);
void mesh__dconn_free_detached(struct mesh__dconn *d);
/* Write what is queued. Returns false when the connection is closed (and,
 * unless it is being parsed, freed): the caller must not touch it then. */
bool mesh__dconn_write(struct mesh__dconn *d);
void mesh__dconn_resume(struct mesh__dconn *d);
void mesh__dconn_close(struct mesh__dconn *d);

/* upstream.c */
/* Take the socket out of an upstream connection and free the rest. */
int mesh__upstream_detach(struct mesh__upstream *u);
int mesh__upstream_get(struct mesh__stream *st);
void mesh__upstream_write(struct mesh__upstream *u);
void mesh__upstream_release(struct mesh__upstream *u, bool reuse);

#endif
