/*
 * tls.h - TLS for the data plane: the proxy's identity (its SVID and trust
 * bundle as two OpenSSL contexts, swapped whole on rotation), handshakes
 * driven by the event loop, reads and writes that go through OpenSSL when a
 * connection has an SSL object, peer SPIFFE IDs and the
 * x-forwarded-client-cert value, and the per-worker client session cache
 * that makes reconnects between sidecars resume.
 */
#ifndef MESH_SRC_ENGINE_TLS_H
#define MESH_SRC_ENGINE_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <openssl/ssl.h>

#include <mesh/diag.h>

struct mesh__worker;
struct mesh_cluster;
struct mesh__snapshot;

/* One identity: the SVID and key in both contexts, the trust bundle in
 * their verify callbacks. Each SSL_CTX owns its own copy of the bundle (ex
 * data freed with the context), so a connection keeps what it handshakes
 * with alive by the SSL_CTX reference OpenSSL takes, and nothing else
 * needs counting. */
struct mesh__tls_ident {
	atomic_int refs;
	SSL_CTX *server; /* inbound mutual TLS: a client SVID is required */
	SSL_CTX *client; /* outbound ISTIO_MUTUAL */
	char *id;        /* our SPIFFE ID */
	char *td;        /* the bundle's trust domain */
	int64_t not_after;
	uint64_t gen;
};

/* Build an identity from PEM text (cert chain, key, bundle); checks that
 * the SVID is valid under the bundle and that the key matches. */
int mesh__tls_ident_new(const char *cert, const char *key, const char *bundle, uint64_t gen,
                        struct mesh__tls_ident **out, mesh_diag *diag);
/* (mesh__tls_ident_unref, in engine_int.h, drops a reference.) */
/* Whether the handshake failed because the peer's certificate was refused. */
bool mesh__tls_peer_refused(SSL *ssl);

/* Handshake steps. */
enum { MESH__HS_FAIL = -1, MESH__HS_WANT_READ = 0, MESH__HS_DONE = 1, MESH__HS_WANT_WRITE = 2 };
/* One step of SSL_do_handshake. On MESH__HS_FAIL, @why (optional)
 * receives a static description for the log. */
int mesh__tls_handshake(SSL *ssl, const char **why);

/* Read up to @len bytes: > 0, 0 at the end of the stream, -1 with errno
 * (EAGAIN when TLS needs more bytes). @ssl NULL: plain read(). */
ssize_t mesh__sock_read(int fd, SSL *ssl, void *buf, size_t len);
/* Write from @iov: bytes written, -1 with errno (EAGAIN: would block).
 * With @ssl, up to 16 KiB per call as one record (partial writes on). */
ssize_t mesh__sock_writev(int fd, SSL *ssl, const struct iovec *iov, int n);
/* TLS holds bytes already read from the socket: a level-triggered watcher
 * will not fire for them. */
static inline bool mesh__tls_has_pending(SSL *ssl)
{
	return ssl && SSL_has_pending(ssl);
}
/* Best-effort close_notify, then free. NULL is a no-op. */
void mesh__tls_close(SSL *ssl);

/* A new server-side SSL on @fd (mutual TLS, ALPN h2 / http/1.1). */
SSL *mesh__tls_accept_new(const struct mesh__tls_ident *t, int fd);
/* A new server-side SSL on @fd with context @ctx. */
SSL *mesh__tls_accept_ctx(SSL_CTX *ctx, int fd);

/* A Gateway server's TLS settings (files are PEM). */
struct mesh__tls_server_conf {
	const char *cert;        /* certificate chain, leaf first */
	const char *key;         /* its private key */
	const char *ca;          /* client certificates are verified against it, or NULL */
	const char *crl;         /* revoked client certificates, or NULL */
	bool require_client;     /* MUTUAL: no client certificate, no handshake */
	const char *const *sans; /* the client certificate must carry one of these */
	size_t nsans;
	int min_version, max_version; /* TLS1_2_VERSION ...; 0: TLS 1.2 / TLS 1.3 */
	const char *ciphers;          /* TLS 1.2 cipher list, or NULL: Istio's defaults */
	bool alpn;                    /* HTTP: offer h2 and http/1.1 */
};
/* The x-forwarded-client-cert value an Istio gateway sets (Envoy's
 * SANITIZE_SET with Istio's details): By=<our certificate's URI SAN, if
 * any>;Hash=<SHA-256>;Cert="<PEM, URL-encoded>";Subject="<RFC 2253>";
 * URI=<first URI SAN>;DNS=<each DNS SAN>. NULL when the client presented
 * no certificate; mesh__free() it. */
char *mesh__tls_xfcc_gateway(SSL *ssl);
/* A server context from @c, files read now; NULL with a message in @err
 * when one cannot be used. */
SSL_CTX *mesh__tls_server_ctx(const struct mesh__tls_server_conf *c, char *err, size_t errlen);

/* The bytes mesh__tls_hello_sni() may need: a ClientHello of up to 16 KiB
 * in records of at most 16 KiB each. */
#define MESH__TLS_HELLO_MAX (16384 + 2 * 5)
/* The server name of the TLS ClientHello that @b starts with (@n bytes
 * peeked from a socket; @full: no more will come). Returns 1 when the
 * ClientHello is whole (@sni, lower case, "" when it names no server), 0
 * when more bytes are needed, -1 when the bytes are not a ClientHello, a
 * malformed one, one larger than MESH__TLS_HELLO_MAX, or its server name is
 * not a host name. */
int mesh__tls_hello_sni(const unsigned char *b, size_t n, bool full, char *sni, size_t size);
/* A new client-side SSL on @fd toward @key (the pool key, for session
 * resumption), offering @alpn ("h2" or "http/1.1"; NULL: none). */
SSL *mesh__tls_connect_new(struct mesh__worker *w, SSL_CTX *ctx, int fd, const char *key,
                           const char *alpn);
/* One step of a client handshake toward an endpoint of cluster @c (HTTP/1,
 * HTTP/2 and TCP upstreams share it): MESH__HS_WANT_READ / _WANT_WRITE (wait
 * for that), MESH__HS_FAIL (counted, logged with the reason and @key, the
 * session kept for @key forgotten: the caller fails the attempt with UF),
 * or MESH__HS_DONE, the server identity checked for ISTIO_MUTUAL @mode
 * (enum mesh__up_tls), with *@peer its SPIFFE ID (mesh__free(); may be NULL). */
int mesh__tls_client_step(struct mesh__worker *w, SSL *ssl, const struct mesh_cluster *c, int mode,
                          const char *key, char **peer);
/* The connection's pool key is going away (the socket moves to a tunnel):
 * a late session ticket is not cached then. */
void mesh__tls_unbind(SSL *ssl);
/* How this worker connects to endpoint @ep of @c (enum mesh__up_tls):
 * mesh__cluster_up_tls(), except that automatic mTLS without an identity
 * to present is plain text. */
int mesh__tls_up_mode(struct mesh__worker *w, const struct mesh_cluster *c, int ep);
/* Append "|tlsN" to the pool key @key (of @size bytes) for a TLS @mode, so
 * that TLS connections are not pooled with plain ones to one address. */
void mesh__tls_key_mode(char *key, size_t size, int mode);
/* A client SSL toward endpoint @fd of cluster @c for enum mesh__up_tls
 * @mode: ISTIO_MUTUAL with the proxy's identity, SIMPLE / MUTUAL with the
 * DestinationRule's context of snapshot @s (SNI and host name check set).
 * NULL with *@why set when it cannot be made. */
SSL *mesh__tls_originate(struct mesh__worker *w, const struct mesh__snapshot *s,
                         const struct mesh_cluster *c, int mode, int fd, const char *key,
                         const char *alpn, const char **why);
/* The DestinationRule SIMPLE / MUTUAL context of a cluster (files read
 * now); NULL with a message in @err when a file is unusable. */
SSL_CTX *mesh__tls_origination_ctx(const struct mesh_cluster *c, char *err, size_t errlen);
/* After a failed client handshake: forget the session kept for @key. */
void mesh__tls_session_forget(struct mesh__worker *w, const char *key);
void mesh__tls_sessions_free(struct mesh__worker *w);

/* The peer's SPIFFE ID (its certificate's one URI SAN), NULL if none;
 * free with mesh__free(). */
char *mesh__tls_peer_id(SSL *ssl);
/* Whether ALPN chose h2. */
bool mesh__tls_alpn_h2(SSL *ssl);
/* The x-forwarded-client-cert value Istio's inbound sidecar sets:
 * By=<our ID>;Hash=<SHA-256 of the peer certificate>;Subject="";URI=<peer ID>.
 * NULL when the peer presented no certificate; mesh__free() it. */
char *mesh__tls_xfcc(SSL *ssl, const char *our_id, const char *peer_id);

#endif
