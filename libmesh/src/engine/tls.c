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

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../lb/cluster.h"
#include "engine_int.h"
#include "tls.h"

#define SESSION_SLOTS 256
#define SESSIONS_PER_KEY 4 /* tickets kept per endpoint: a burst of reconnects resumes */
#define SERVER_SESSION_CACHE 2048
#define WRITE_CHUNK 16384

/* One endpoint's sessions, newest last. A slot is taken by the endpoint
 * that last stored a session in it (no probing: two endpoints that share a
 * slot evict each other's sessions, costing full handshakes, not errors). */
struct session_slot {
	char key[80];
	SSL_SESSION *s[SESSIONS_PER_KEY];
	unsigned n;
	/* the serial of the context they were made with: a session is resumed
	 * only under the same context, so one from before a reload (other
	 * subjectAltNames, other files) or a rotation is not taken as verified
	 * under the new settings */
	uintptr_t serial;
};

static void slot_clear(struct session_slot *slot)
{
	for (unsigned i = 0; i < slot->n; i++)
		SSL_SESSION_free(slot->s[i]);
	slot->n = 0;
}

static int ex_bundle = -1; /* SSL_CTX -> mesh_bundle (owned) */
static int ex_worker = -1; /* SSL -> struct mesh__worker */
static int ex_key = -1;    /* SSL -> pool key (borrowed from the connection) */
static int ex_status = -1; /* SSL -> enum mesh_svid_status + 1 of a refused peer */
static int ex_sans = -1;   /* SSL_CTX -> subjectAltNames a client must carry (owned) */
static int ex_serial = -1; /* SSL_CTX -> a number no other context of ours has */
static atomic_uintptr_t next_serial = 1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void free_bundle(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	mesh_bundle_free(ptr);
}

static void free_sans(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	mesh__free(ptr);
}

static void ex_init(void)
{
	ex_sans = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_sans);
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
	uintptr_t serial = ctx_serial(SSL_get_SSL_CTX(ssl));
	if (strcmp(slot->key, key) || slot->serial != serial) {
		slot_clear(slot);
		snprintf(slot->key, sizeof(slot->key), "%s", key);
		slot->serial = serial;
	}
	if (slot->n == SESSIONS_PER_KEY) { /* the oldest goes */
		SSL_SESSION_free(slot->s[0]);
		memmove(slot->s, slot->s + 1, (SESSIONS_PER_KEY - 1) * sizeof(slot->s[0]));
		slot->n--;
	}
	slot->s[slot->n++] = sess;
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
	/* whole records in one read() (the 5-byte header and the body were
	 * two); what it reads beyond a record waits in OpenSSL, which the
	 * engine checks with SSL_has_pending() wherever it resumes reading */
	SSL_CTX_set_read_ahead(ctx, 1);
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
		/* stateful TLS 1.3 tickets (a bounded cache shared by the workers):
		 * resuming then skips decoding the session, client certificate
		 * included, from the ticket (about half the cost of a resumption
		 * with OpenSSL 3.0); two tickets per handshake, so a client's
		 * burst of reconnects finds sessions */
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_sess_set_cache_size(ctx, SERVER_SESSION_CACHE);
		SSL_CTX_set_num_tickets(ctx, 2);
		SSL_CTX_set_timeout(ctx, 3600);
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
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
	return ssl &&
	       (SSL_get_ex_data(ssl, ex_status) != NULL || SSL_get_verify_result(ssl) != X509_V_OK);
}

ssize_t mesh__sock_read(int fd, SSL *ssl, void *buf, size_t len)
{
	if (!ssl)
		return read(fd, buf, len);
	size_t n = 0;
	/* SSL_get_error() needs an empty queue before the call; the error
	 * paths below empty it, so it is nearly always empty already, and a
	 * peek costs less than OpenSSL 3's clear (per record, both ways) */
	if (ERR_peek_error())
		ERR_clear_error();
	if (SSL_read_ex(ssl, buf, len, &n) == 1)
		return (ssize_t)n;
	switch (SSL_get_error(ssl, 0)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE: errno = EAGAIN; return -1;
	case SSL_ERROR_ZERO_RETURN: return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
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
	if (ERR_peek_error()) /* (as in mesh__sock_read) */
		ERR_clear_error();
	if (SSL_write_ex(ssl, data, len, &done) == 1)
		return (ssize_t)done;
	switch (SSL_get_error(ssl, 0)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE: errno = EAGAIN; return -1;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
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
	return mesh__tls_accept_ctx(t->server, fd);
}

SSL *mesh__tls_accept_ctx(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);
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
		if (slot->n && !strcmp(slot->key, key)) {
			/* the newest; a TLS 1.3 ticket is for one use */
			SSL_SESSION *sess = slot->s[--slot->n];
			if (slot->serial == ctx_serial(ctx))
				SSL_set_session(ssl, sess);
			SSL_SESSION_free(sess);
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
	if (!strcmp(slot->key, key))
		slot_clear(slot);
}

void mesh__tls_sessions_free(struct mesh__worker *w)
{
	if (!w->tls_sessions)
		return;
	struct session_slot *slots = w->tls_sessions;
	for (size_t i = 0; i < SESSION_SLOTS; i++)
		slot_clear(&slots[i]);
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
	/* whole records in one read() (the 5-byte header and the body were
	 * two); what it reads beyond a record waits in OpenSSL, which the
	 * engine checks with SSL_has_pending() wherever it resumes reading */
	SSL_CTX_set_read_ahead(ctx, 1);
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

/* ---- Gateway servers ---- */

/* subjectAltNames, as one allocation: the pointers, then the strings */
struct san_list {
	size_t n;
	const char *names[];
};

static bool san_listed(const struct san_list *l, const char *s, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->names[i]) == len && !memcmp(l->names[i], s, len))
			return true;
	return false;
}

/* Whether the leaf carries one of the names (DNS, URI, e-mail or IP SAN,
 * compared exactly, as Istio's exact SAN matchers do). */
static bool leaf_has_san(X509 *leaf, const struct san_list *l)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	bool hit = false;
	for (int i = 0; names && !hit && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const ASN1_STRING *str = NULL;
		if (g->type == GEN_DNS || g->type == GEN_URI || g->type == GEN_EMAIL)
			str = g->d.ia5;
		if (str) {
			hit = san_listed(l, (const char *)ASN1_STRING_get0_data(str),
			                 (size_t)ASN1_STRING_length(str));
		} else if (g->type == GEN_IPADD) {
			char ip[64];
			int len = ASN1_STRING_length(g->d.ip);
			const unsigned char *b = ASN1_STRING_get0_data(g->d.ip);
			if ((len == 4 && inet_ntop(AF_INET, b, ip, sizeof(ip))) ||
			    (len == 16 && inet_ntop(AF_INET6, b, ip, sizeof(ip))))
				hit = san_listed(l, ip, strlen(ip));
		}
	}
	GENERAL_NAMES_free(names);
	return hit;
}

/* OpenSSL's chain verification, then the subjectAltNames on the leaf. */
static int server_verify_cb(int ok, X509_STORE_CTX *x)
{
	if (!ok || X509_STORE_CTX_get_error_depth(x) != 0)
		return ok;
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	const struct san_list *l = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_sans) : NULL;
	if (!l || leaf_has_san(X509_STORE_CTX_get_current_cert(x), l))
		return 1;
	X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

/* A file OpenSSL is about to read: its own message for a missing one is
 * "system lib". */
static bool readable(const char *path, char *err, size_t errlen)
{
	if (access(path, R_OK) == 0)
		return true;
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return false;
}

static int tls_version(int v, int dflt)
{
	return v ? v : dflt;
}

/* "KEY=<SAN>" for the first SAN of @type of @x, or with @all for each,
 * after a ';' unless @sb is empty. */
static void xfcc_sans(struct mesh__sb *sb, X509 *x, const char *key, int type, bool all)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type != type)
			continue;
		mesh__sb_printf(sb, "%s%s=%.*s", sb->len ? ";" : "", key,
		                ASN1_STRING_length(g->d.ia5),
		                (const char *)ASN1_STRING_get0_data(g->d.ia5));
		if (!all)
			break;
	}
	GENERAL_NAMES_free(names);
}

char *mesh__tls_xfcc_gateway(SSL *ssl)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!peer || !X509_digest(peer, EVP_sha256(), md, &mdlen)) {
		ERR_clear_error();
		return NULL;
	}
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	X509 *ours = SSL_get_certificate(ssl);
	if (ours)
		xfcc_sans(&sb, ours, "By", GEN_URI, false);
	mesh__sb_puts(&sb, sb.len ? ";Hash=" : "Hash=");
	for (unsigned i = 0; i < mdlen; i++)
		mesh__sb_printf(&sb, "%02x", md[i]);
	/* the certificate, URL-encoded: everything but RFC 3986's unreserved */
	BIO *mem = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long len = mem && PEM_write_bio_X509(mem, peer) ? BIO_get_mem_data(mem, &pem) : 0;
	mesh__sb_puts(&sb, ";Cert=\"");
	for (long i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pem[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			mesh__sb_putc(&sb, (char)c);
		else
			mesh__sb_printf(&sb, "%%%02X", c);
	}
	mesh__sb_puts(&sb, "\";Subject=\"");
	BIO_reset(mem);
	len = mem && X509_NAME_print_ex(mem, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) >= 0
	              ? BIO_get_mem_data(mem, &pem)
	              : 0;
	for (long i = 0; i < len; i++) {
		if (pem[i] == '"' || pem[i] == '\\')
			mesh__sb_putc(&sb, '\\');
		mesh__sb_putc(&sb, pem[i]);
	}
	mesh__sb_putc(&sb, '"');
	BIO_free(mem);
	xfcc_sans(&sb, peer, "URI", GEN_URI, false);
	xfcc_sans(&sb, peer, "DNS", GEN_DNS, true);
	ERR_clear_error();
	return mesh__sb_steal(&sb); /* NULL when out of memory */
}

SSL_CTX *mesh__tls_server_ctx(const struct mesh__tls_server_conf *c, char *err, size_t errlen)
{
	pthread_once(&ex_once, ex_init);
	/* Envoy's default TLS 1.2 suites on an Istio gateway */
	static const char istio_ciphers[] =
		"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
		"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
		"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *what = "TLS context";
	if (!ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, tls_version(c->min_version, TLS1_2_VERSION));
	SSL_CTX_set_max_proto_version(ctx, tls_version(c->max_version, TLS1_3_VERSION));
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                              SSL_MODE_RELEASE_BUFFERS);
	/* whole records in one read() (the 5-byte header and the body were
	 * two); what it reads beyond a record waits in OpenSSL, which the
	 * engine checks with SSL_has_pending() wherever it resumes reading */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
	                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
	what = "cipherSuites";
	if (SSL_CTX_set_cipher_list(ctx, c->ciphers ? c->ciphers : istio_ciphers) != 1)
		goto fail;
	const char *files[] = { c->cert, c->key, c->ca, c->crl };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (files[i] && !readable(files[i], err, errlen)) {
			SSL_CTX_free(ctx);
			return NULL;
		}
	what = c->cert ? c->cert : "serverCertificate (unset)";
	if (!c->cert || SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1)
		goto fail;
	what = c->key ? c->key : "privateKey (unset)";
	if (!c->key || SSL_CTX_use_PrivateKey_file(ctx, c->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	if (c->ca) {
		what = c->ca;
		if (SSL_CTX_load_verify_locations(ctx, c->ca, NULL) != 1)
			goto fail;
		if (c->crl) {
			what = c->crl;
			X509_STORE *store = SSL_CTX_get_cert_store(ctx);
			if (X509_load_crl_file(X509_STORE_add_lookup(store, X509_LOOKUP_file()),
			                       c->crl, X509_FILETYPE_PEM) <= 0)
				goto fail;
			X509_STORE_set_flags(store,
			                     X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
		}
		if (c->nsans) {
			size_t size = sizeof(struct san_list) + c->nsans * sizeof(char *);
			for (size_t i = 0; i < c->nsans; i++)
				size += strlen(c->sans[i]) + 1;
			struct san_list *l = mesh__malloc(size);
			what = "out of memory";
			if (!l)
				goto fail;
			char *at = (char *)&l->names[c->nsans];
			l->n = c->nsans;
			for (size_t i = 0; i < c->nsans; i++) {
				size_t len = strlen(c->sans[i]) + 1;
				l->names[i] = memcpy(at, c->sans[i], len);
				at += len;
			}
			if (!SSL_CTX_set_ex_data(ctx, ex_sans, l)) {
				mesh__free(l);
				goto fail;
			}
		}
		SSL_CTX_set_verify(
			ctx,
			SSL_VERIFY_PEER | (c->require_client ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
			server_verify_cb);
		/* resumption with client certificates needs a session id context */
		static const unsigned char sid_ctx[] = "libmesh-gateway";
		SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* tickets only */
	SSL_CTX_set_num_tickets(ctx, 1);
	if (c->alpn)
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	ERR_clear_error();
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

/* ---- ClientHello ---- */

static unsigned be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The server_name extension's host_name (RFC 6066 section 3). */
static int hello_server_name(const unsigned char *p, size_t len, char *sni, size_t size)
{
	if (len < 2 || 2 + be16(p) > len)
		return -1;
	const unsigned char *end = p + 2 + be16(p);
	for (p += 2; p + 3 <= end;) {
		unsigned type = p[0], n = be16(p + 1);
		p += 3;
		if (p + n > end)
			return -1;
		if (type == 0) { /* host_name */
			if (n == 0 || n >= size || n > 255)
				return -1;
			for (unsigned i = 0; i < n; i++) {
				unsigned char c = p[i];
				if (c >= 'A' && c <= 'Z')
					c = (unsigned char)(c - 'A' + 'a');
				else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
				           c == '-' || c == '.' || c == '_'))
					return -1;
				sni[i] = (char)c;
			}
			if (sni[n - 1] == '.') /* an absolute name: the same host */
				n--;
			sni[n] = '\0';
			return 1;
		}
		p += n;
	}
	return 1;
}

/* The ClientHello body (RFC 8446 section 4.1.2; TLS 1.2 has the same
 * layout): the server name from its extensions, if any. */
static int hello_body(const unsigned char *p, size_t len, char *sni, size_t size)
{
	size_t i = 2 + 32; /* legacy_version, random */
	if (i + 1 > len || p[i] > 32 || i + 1 + p[i] > len)
		return -1;
	i += 1 + p[i]; /* legacy_session_id */
	if (i + 2 > len || be16(p + i) < 2 || (be16(p + i) & 1) || i + 2 + be16(p + i) > len)
		return -1;
	i += 2 + be16(p + i); /* cipher_suites */
	if (i + 1 > len || p[i] < 1 || i + 1 + p[i] > len)
		return -1;
	i += 1 + p[i]; /* legacy_compression_methods */
	if (i == len)
		return 1; /* no extensions */
	if (i + 2 > len || i + 2 + be16(p + i) > len)
		return -1;
	size_t end = i + 2 + be16(p + i);
	for (i += 2; i + 4 <= end;) {
		unsigned type = be16(p + i), n = be16(p + i + 2);
		i += 4;
		if (i + n > end)
			return -1;
		if (type == 0) /* server_name */
			return hello_server_name(p + i, n, sni, size);
		i += n;
	}
	return i == end ? 1 : -1;
}

int mesh__tls_hello_sni(const unsigned char *b, size_t n, bool full, char *sni, size_t size)
{
	/* the handshake message, put together from its records */
	unsigned char hs[MESH__TLS_HELLO_MAX];
	size_t have = 0, need = 0, pos = 0;
	if (!size)
		return -1;
	sni[0] = '\0';
	for (;;) {
		if (pos + 5 > n)
			return full ? -1 : 0;
		if (b[pos] != 0x16 || b[pos + 1] != 3) /* handshake records, TLS 1.x */
			return -1;
		size_t rlen = be16(b + pos + 3), avail = n - pos - 5;
		if (rlen == 0 || rlen > 16384 + 2048)
			return -1;
		if (avail > rlen)
			avail = rlen;
		if (have + avail > sizeof(hs))
			return -1;
		memcpy(hs + have, b + pos + 5, avail);
		have += avail;
		if (!need && have >= 4) {
			if (hs[0] != 1) /* client_hello */
				return -1;
			need = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]);
			if (need > sizeof(hs) || need < 4 + 2 + 32 + 1)
				return -1;
		}
		if (need && have >= need)
			return hello_body(hs + 4, need - 4, sni, size);
		if (avail < rlen)
			return full ? -1 : 0;
		pos += 5 + rlen;
	}
}

int mesh__tls_up_mode(struct mesh__worker *w, const struct mesh_cluster *c, int ep)
{
	int mode = mesh__cluster_up_tls(c, ep);
	if (mode == MESH__UP_ISTIO_MUTUAL && !c->lb.tls_mode && !mesh__worker_ident(w))
		mode = MESH__UP_PLAIN; /* auto-mTLS needs an identity to present */
	return mode;
}

void mesh__tls_key_mode(char *key, size_t size, int mode)
{
	if (mode == MESH__UP_PLAIN)
		return;
	size_t n = strlen(key);
	snprintf(key + n, size - n, "|tls%d", mode);
}

int mesh__tls_client_step(struct mesh__worker *w, SSL *ssl, const struct mesh_cluster *c, int mode,
                          const char *key, char **peer)
{
	*peer = NULL;
	const char *why = NULL;
	int r = mesh__tls_handshake(ssl, &why);
	if (r == MESH__HS_WANT_READ || r == MESH__HS_WANT_WRITE)
		return r;
	if (r == MESH__HS_FAIL) {
		mesh__ctr_add(&w->ctr[C_UPSTREAM_SSL_FAIL], 1);
		mesh__tls_session_forget(w, key);
		mesh__log(MESH_LOG_WARNING, "upstream %s: TLS handshake failed: %s", key, why);
		return MESH__HS_FAIL;
	}
	char *id = mesh__tls_peer_id(ssl);
	if (mode == MESH__UP_ISTIO_MUTUAL && (!c || !mesh__cluster_peer_ok(c, id))) {
		mesh__ctr_add(&w->ctr[C_UPSTREAM_SSL_FAIL], 1);
		mesh__log(MESH_LOG_WARNING,
		          "upstream %s: server identity %s is not one the destination may have",
		          key, id ? id : "(none)");
		mesh__free(id);
		return MESH__HS_FAIL;
	}
	mesh__ctr_add(&w->ctr[C_UPSTREAM_SSL_HANDSHAKE], 1);
	if (SSL_session_reused(ssl))
		mesh__ctr_add(&w->ctr[C_UPSTREAM_SSL_REUSED], 1);
	*peer = id;
	return MESH__HS_DONE;
}
