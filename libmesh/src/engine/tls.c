/*
 * tls.c - the data plane's TLS: identity contexts (SVID + bundle, SPIFFE
 * verification in the certificate callback), non-blocking handshakes and
 * I/O, peer identity and XFCC, the client session cache.
 *
 * Peer certificates are checked once, by the SPIFFE X.509-SVID rules of
 * src/identity (mesh__svid_verify_x509 builds and verifies the chain against
 * the bundle), instead of OpenSSL's default verification followed by a
 * second pass: one chain build per full handshake.
 */
#include "../identity/identity_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "../lb/cluster.h"
#include "engine_int.h"
#include "tls.h"

#define SESSION_SLOTS 256
#define WRITE_CHUNK 16384

struct session_slot {
	char key[80];
	SSL_SESSION *s;
	/* the serial of the context it was made with: a session is resumed
	 * only under the same context, so one from before a reload (other
	 * subjectAltNames, other files) or a rotation is not taken as verified
	 * under the new settings */
	uintptr_t serial;
};

static int ex_bundle = -1; /* SSL_CTX -> mesh_bundle (owned) */
static int ex_worker = -1; /* SSL -> struct mesh__worker */
static int ex_key = -1;    /* SSL -> pool key (borrowed from the connection) */
static int ex_status = -1; /* SSL -> enum mesh_svid_status + 1 of a refused peer */
static int ex_serial = -1; /* SSL_CTX -> a number no other context of ours has */
static atomic_uintptr_t next_serial = 1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void free_bundle(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	mesh_bundle_free(ptr);
}

static void ex_init(void)
{
	ex_bundle = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_bundle);
	ex_worker = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	ex_key = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	ex_status = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	ex_serial = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void ctx_set_serial(SSL_CTX *ctx)
{
	SSL_CTX_set_ex_data(ctx, ex_serial, (void *)atomic_fetch_add(&next_serial, 1));
}

static uintptr_t ctx_serial(const SSL_CTX *ctx)
{
	return (uintptr_t)SSL_CTX_get_ex_data(ctx, ex_serial);
}

/* OpenSSL's verify step replaced by the SPIFFE rules. */
static int verify_cb(X509_STORE_CTX *x, void *arg)
{
	(void)arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	SSL_CTX *ctx = ssl ? SSL_get_SSL_CTX(ssl) : NULL;
	const mesh_bundle *b = ctx ? SSL_CTX_get_ex_data(ctx, ex_bundle) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	int status = MESH_SVID_EUNTRUSTED;
	if (b && leaf &&
	    !mesh__svid_verify_x509(b, leaf, X509_STORE_CTX_get0_untrusted(x), 0, &status, NULL,
	                            NULL))
		return 1;
	if (ssl)
		SSL_set_ex_data(ssl, ex_status, (void *)(intptr_t)(status + 1));
	int err = X509_V_ERR_APPLICATION_VERIFICATION;
	switch (status) {
	case MESH_SVID_EEXPIRED: err = X509_V_ERR_CERT_HAS_EXPIRED; break;
	case MESH_SVID_ENOT_YET_VALID: err = X509_V_ERR_CERT_NOT_YET_VALID; break;
	case MESH_SVID_EUNTRUSTED: err = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY; break;
	case MESH_SVID_ESIGNATURE: err = X509_V_ERR_CERT_SIGNATURE_FAILURE; break;
	default: break;
	}
	X509_STORE_CTX_set_error(x, err);
	return 0;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
	(void)ssl, (void)arg;
	static const unsigned char ours[] = "\x02h2\x08http/1.1";
	unsigned char *sel = NULL;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK; /* no common protocol: carry on without ALPN */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static unsigned key_hash(const char *key)
{
	unsigned h = 2166136261u;
	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}

static int new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct mesh__worker *w = SSL_get_ex_data(ssl, ex_worker);
	const char *key = SSL_get_ex_data(ssl, ex_key);
	if (!w || !key || !SSL_SESSION_is_resumable(sess))
		return 0;
	if (!w->tls_sessions &&
	    !(w->tls_sessions = mesh__calloc(SESSION_SLOTS, sizeof(struct session_slot))))
		return 0;
	struct session_slot *slot =
		(struct session_slot *)w->tls_sessions + key_hash(key) % SESSION_SLOTS;
	if (slot->s)
		SSL_SESSION_free(slot->s);
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	slot->s = sess;
	slot->serial = ctx_serial(SSL_get_SSL_CTX(ssl));
	return 1; /* ours now */
}

static SSL_CTX *ctx_new(bool server, X509 *leaf, STACK_OF(X509) * chain, EVP_PKEY *pkey,
                        const char *bundle_pem, mesh_diag *diag)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	mesh_bundle *b = NULL;
	if (!ctx)
		goto fail;
	ctx_set_serial(ctx);
	if (mesh_bundle_new(&b, NULL) ||
	    mesh_bundle_add(b, bundle_pem, strlen(bundle_pem), "trust bundle", diag))
		goto fail;
	if (!SSL_CTX_set_ex_data(ctx, ex_bundle, b))
		goto fail;
	b = NULL; /* the context's now */
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                              SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_cert_and_key(ctx, leaf, pkey, chain, 1) != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
	                   NULL);
	SSL_CTX_set_cert_verify_callback(ctx, verify_cb, NULL);
	if (server) {
		/* resumption with client certificates needs a session id context */
		static const unsigned char sid_ctx[] = "libmesh-mtls";
		SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
		SSL_CTX_set_num_tickets(ctx, 1);
		SSL_CTX_set_timeout(ctx, 3600);
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* tickets only */
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		                                            SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, new_session);
	}
	return ctx;
fail:
	mesh__ossl_fail(diag, server ? "TLS server context" : "TLS client context");
	mesh_bundle_free(b);
	SSL_CTX_free(ctx);
	return NULL;
}

int mesh__tls_ident_new(const char *cert, const char *key, const char *bundle, uint64_t gen,
                        struct mesh__tls_ident **out, mesh_diag *diag)
{
	pthread_once(&ex_once, ex_init);
	*out = NULL;
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *pkey = NULL;
	mesh_bundle *b = NULL;
	struct mesh__tls_ident *t = NULL;
	int rc = mesh__svid_load(cert, strlen(cert), key, strlen(key), &leaf, &chain, &pkey, diag);
	if (rc)
		goto out;
	if ((rc = mesh_bundle_new(&b, NULL)) ||
	    (rc = mesh_bundle_add(b, bundle, strlen(bundle), "trust bundle", diag)))
		goto out;
	char *id = NULL;
	int status = 0;
	if ((rc = mesh__svid_verify_x509(b, leaf, chain, 0, &status, &id, diag)))
		goto out;
	rc = MESH_ENOMEM;
	if (!(t = mesh__calloc(1, sizeof(*t))))
		goto out_id;
	atomic_init(&t->refs, 1);
	t->id = id;
	id = NULL;
	t->td = mesh__strdup(mesh_bundle_trust_domain(b));
	t->not_after = mesh__asn1_time_unix(X509_get0_notAfter(leaf));
	t->gen = gen;
	rc = MESH_EFATAL;
	if (!t->td || !(t->server = ctx_new(true, leaf, chain, pkey, bundle, diag)) ||
	    !(t->client = ctx_new(false, leaf, chain, pkey, bundle, diag)))
		goto out_id;
	*out = t;
	t = NULL;
	rc = 0;
out_id:
	mesh__free(id);
out:
	mesh__tls_ident_unref(t);
	mesh_bundle_free(b);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return rc;
}

void mesh__tls_ident_unref(struct mesh__tls_ident *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	SSL_CTX_free(t->server);
	SSL_CTX_free(t->client);
	mesh__free(t->id);
	mesh__free(t->td);
	mesh__free(t);
}

int mesh__tls_handshake(SSL *ssl, const char **why)
{
	ERR_clear_error();
	int r = SSL_do_handshake(ssl);
	if (r == 1)
		return MESH__HS_DONE;
	int e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return MESH__HS_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return MESH__HS_WANT_WRITE;
	if (why) {
		intptr_t st = (intptr_t)SSL_get_ex_data(ssl, ex_status);
		unsigned long err = ERR_peek_error();
		if (st > 0)
			*why = mesh_svid_status_name((int)st - 1);
		else if (err)
			*why = ERR_reason_error_string(err);
		else
			*why = e == SSL_ERROR_SYSCALL ? "connection closed during the handshake"
			                              : "handshake failed";
		if (!*why)
			*why = "handshake failed";
	}
	ERR_clear_error();
	return MESH__HS_FAIL;
}

bool mesh__tls_peer_refused(SSL *ssl)
{
	return ssl && SSL_get_ex_data(ssl, ex_status) != NULL;
}

ssize_t mesh__sock_read(int fd, SSL *ssl, void *buf, size_t len)
{
	if (!ssl)
		return read(fd, buf, len);
	size_t n = 0;
	ERR_clear_error();
	if (SSL_read_ex(ssl, buf, len, &n) == 1)
		return (ssize_t)n;
	switch (SSL_get_error(ssl, 0)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE: errno = EAGAIN; return -1;
	case SSL_ERROR_ZERO_RETURN: return 0;
	case SSL_ERROR_SYSCALL:
		if (!errno)
			return 0;
		return -1;
	default: ERR_clear_error(); errno = EPROTO;
	}
	return -1;
}

ssize_t mesh__sock_writev(int fd, SSL *ssl, const struct iovec *iov, int n)
{
	if (!ssl)
		return writev(fd, iov, n);
	/* one record from up to 16 KiB of the queue; a retry after WANT_WRITE
	 * gathers the same bytes again (the queue only grows at its tail) */
	static _Thread_local char chunk[WRITE_CHUNK];
	const void *data;
	size_t len = 0;
	if (n == 1 || iov[0].iov_len >= WRITE_CHUNK) {
		data = iov[0].iov_base;
		len = iov[0].iov_len < WRITE_CHUNK ? iov[0].iov_len : WRITE_CHUNK;
	} else {
		for (int i = 0; i < n && len < WRITE_CHUNK; i++) {
			size_t take = iov[i].iov_len;
			if (take > WRITE_CHUNK - len)
				take = WRITE_CHUNK - len;
			memcpy(chunk + len, iov[i].iov_base, take);
			len += take;
		}
		data = chunk;
	}
	size_t done = 0;
	ERR_clear_error();
	if (SSL_write_ex(ssl, data, len, &done) == 1)
		return (ssize_t)done;
	switch (SSL_get_error(ssl, 0)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE: errno = EAGAIN; return -1;
	case SSL_ERROR_SYSCALL:
		if (!errno)
			errno = EPIPE;
		return -1;
	default: ERR_clear_error(); errno = EPROTO;
	}
	return -1;
}

void mesh__tls_close(SSL *ssl)
{
	if (!ssl)
		return;
	if (SSL_is_init_finished(ssl) && !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		SSL_shutdown(ssl); /* one try: non-blocking, no waiting for the peer's */
	ERR_clear_error();
	SSL_free(ssl);
}

struct mesh__tls_ident *mesh__worker_ident(struct mesh__worker *w)
{
	struct mesh_proxy *p = w->proxy;
	uint64_t g = atomic_load_explicit(&p->ident_gen, memory_order_acquire);
	if (g != w->ident_gen) {
		pthread_mutex_lock(&p->ident_lock);
		struct mesh__tls_ident *t = p->ident;
		if (t)
			atomic_fetch_add(&t->refs, 1);
		g = atomic_load_explicit(&p->ident_gen, memory_order_relaxed);
		pthread_mutex_unlock(&p->ident_lock);
		mesh__tls_ident_unref(w->ident);
		w->ident = t;
		w->ident_gen = g;
	}
	return w->ident;
}

SSL *mesh__tls_accept_new(const struct mesh__tls_ident *t, int fd)
{
	SSL *ssl = SSL_new(t->server);
	if (!ssl)
		return NULL;
	if (!SSL_set_fd(ssl, fd)) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

SSL *mesh__tls_connect_new(struct mesh__worker *w, SSL_CTX *ctx, int fd, const char *key,
                           const char *alpn)
{
	pthread_once(&ex_once, ex_init);
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return NULL;
	if (!SSL_set_fd(ssl, fd))
		goto fail;
	SSL_set_ex_data(ssl, ex_worker, w);
	SSL_set_ex_data(ssl, ex_key, (void *)key);
	if (alpn) {
		unsigned char wire[32];
		size_t n = strlen(alpn);
		if (n >= sizeof(wire))
			goto fail;
		wire[0] = (unsigned char)n;
		memcpy(wire + 1, alpn, n);
		if (SSL_set_alpn_protos(ssl, wire, (unsigned)n + 1))
			goto fail;
	}
	if (w->tls_sessions) {
		struct session_slot *slot =
			(struct session_slot *)w->tls_sessions + key_hash(key) % SESSION_SLOTS;
		if (slot->s && !strcmp(slot->key, key)) {
			if (slot->serial == ctx_serial(ctx))
				SSL_set_session(ssl, slot->s);
			/* a TLS 1.3 ticket is for one use */
			SSL_SESSION_free(slot->s);
			slot->s = NULL;
		}
	}
	SSL_set_connect_state(ssl);
	return ssl;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

void mesh__tls_unbind(SSL *ssl)
{
	if (ssl) {
		SSL_set_ex_data(ssl, ex_worker, NULL);
		SSL_set_ex_data(ssl, ex_key, NULL);
	}
}

void mesh__tls_session_forget(struct mesh__worker *w, const char *key)
{
	if (!w->tls_sessions)
		return;
	struct session_slot *slot =
		(struct session_slot *)w->tls_sessions + key_hash(key) % SESSION_SLOTS;
	if (slot->s && !strcmp(slot->key, key)) {
		SSL_SESSION_free(slot->s);
		slot->s = NULL;
	}
}

void mesh__tls_sessions_free(struct mesh__worker *w)
{
	if (!w->tls_sessions)
		return;
	struct session_slot *slots = w->tls_sessions;
	for (size_t i = 0; i < SESSION_SLOTS; i++)
		SSL_SESSION_free(slots[i].s);
	mesh__free(slots);
	w->tls_sessions = NULL;
}

char *mesh__tls_peer_id(SSL *ssl)
{
	X509 *x = SSL_get0_peer_certificate(ssl);
	size_t count = 0, len = 0;
	char *first = NULL;
	if (!x || mesh__x509_uris(x, &count, &first, &len) || count != 1 || !first ||
	    len != strlen(first) || strncmp(first, "spiffe://", 9)) {
		mesh__free(first);
		ERR_clear_error();
		return NULL;
	}
	return first;
}

bool mesh__tls_alpn_h2(SSL *ssl)
{
	const unsigned char *p = NULL;
	unsigned n = 0;
	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == 2 && p[0] == 'h' && p[1] == '2';
}

char *mesh__tls_xfcc(SSL *ssl, const char *our_id, const char *peer_id)
{
	X509 *x = SSL_get0_peer_certificate(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!x || !X509_digest(x, EVP_sha256(), md, &mdlen)) {
		ERR_clear_error();
		return NULL;
	}
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_printf(&sb, "By=%s;Hash=%s;Subject=\"\";URI=%s", our_id ? our_id : "", hex,
	                peer_id ? peer_id : "");
	return mesh__sb_steal(&sb); /* NULL when out of memory */
}

SSL_CTX *mesh__tls_origination_ctx(const struct mesh_cluster *c, char *err, size_t errlen)
{
	pthread_once(&ex_once, ex_init);
	const struct mesh__lb_settings *lb = &c->lb;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	const char *what = "TLS context";
	if (!ctx)
		goto fail;
	ctx_set_serial(ctx);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                              SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(ctx,
	                               SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session);
	if (!lb->insecure_skip_verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		what = lb->ca_certificates ? lb->ca_certificates : "the system's CA certificates";
		if (lb->ca_certificates
		            ? SSL_CTX_load_verify_locations(ctx, lb->ca_certificates, NULL) != 1
		            : SSL_CTX_set_default_verify_paths(ctx) != 1)
			goto fail;
	}
	if (lb->tls_mode == 3) { /* MUTUAL: our certificate from files */
		what = lb->client_certificate ? lb->client_certificate
		                              : "clientCertificate (unset)";
		if (!lb->client_certificate ||
		    SSL_CTX_use_certificate_chain_file(ctx, lb->client_certificate) != 1)
			goto fail;
		what = lb->private_key ? lb->private_key : "privateKey (unset)";
		if (!lb->private_key ||
		    SSL_CTX_use_PrivateKey_file(ctx, lb->private_key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			goto fail;
	}
	return ctx;
fail : {
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(err, errlen, "%s: %s", what, r ? r : "cannot be used");
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}
}

SSL *mesh__tls_originate(struct mesh__worker *w, const struct mesh__snapshot *s,
                         const struct mesh_cluster *c, int mode, int fd, const char *key,
                         const char *alpn, const char **why)
{
	if (mode == MESH__UP_ISTIO_MUTUAL) {
		struct mesh__tls_ident *t = mesh__worker_ident(w);
		if (!t) {
			*why = "mTLS required but the proxy has no identity";
			return NULL;
		}
		SSL *ssl = mesh__tls_connect_new(w, t->client, fd, key, alpn);
		if (!ssl)
			*why = "out of memory";
		return ssl;
	}
	SSL_CTX *ctx = s && c && s->tls_ctx ? s->tls_ctx[c->index] : NULL;
	if (!ctx) {
		*why = "the DestinationRule's TLS settings could not be loaded (see the reload log)";
		return NULL;
	}
	SSL *ssl = mesh__tls_connect_new(w, ctx, fd, key, alpn);
	if (!ssl) {
		*why = "out of memory";
		return NULL;
	}
	/* SNI: the DestinationRule's, else the service host; the server
	 * certificate must name subjectAltNames when given, else that host */
	const char *sni = c->lb.sni ? c->lb.sni : c->host;
	SSL_set_tlsext_host_name(ssl, sni);
	if (!c->lb.insecure_skip_verify) {
		const struct mesh__node *sans = c->lb.subject_alt_names;
		bool any = false;
		for (size_t i = 0; sans && i < sans->count; i++) {
			const char *n = mesh__node_str(sans->u.items[i]);
			if (n && (any ? SSL_add1_host(ssl, n) : SSL_set1_host(ssl, n)))
				any = true;
		}
		if (!any)
			SSL_set1_host(ssl, sni);
	}
	ERR_clear_error();
	return ssl;
}
