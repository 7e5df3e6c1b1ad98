/* server.c - the CA server: HTTPS, POST /v1/sign turns a workload's CSR
 * into an SVID, for a one-time bootstrap token or for a client SVID that
 * asks to renew itself; GET /v1/bundle hands out the trust bundle.
 *
 * One thread, one connection at a time: enrolment is rare (once per
 * workload per half-lifetime), and the code stays small enough to audit.
 * So that one slow or hostile client cannot hold up the others, each
 * connection has a deadline for its whole request (handshake, head, body)
 * and another for taking the answer (request_timeout_ms, 10 s). */
#include "identity_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define HEAD_MAX 16384
#define BODY_MAX 65536
#define REQUEST_TIMEOUT_MS 10000
#define SERVER_ID_PATH "/ns/mesh-system/sa/mesh-ca"

struct token {
	char *token, *id;
};

struct mesh_ca_server {
	const mesh_ca *ca;
	SSL_CTX *ssl;
	int fd, wake[2];
	unsigned port;
	char *server_name, *tokens_file;
	int64_t request_timeout_ms;
	struct token *tokens;
	size_t ntokens;
	int64_t ttl;
	int64_t cert_renew_at; /* re-issue the serving certificate then */
	char *peer_id;         /* SPIFFE ID of the current client SVID, if any */
	void (*log)(void *arg, const char *line);
	void *log_arg;
};

static void slog(mesh_ca_server *s, const char *fmt, ...) MESH_PRINTF(2, 3);

static void slog(mesh_ca_server *s, const char *fmt, ...)
{
	if (!s->log)
		return;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	va_list ap;
	va_start(ap, fmt);
	mesh__sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	if (!sb.oom)
		s->log(s->log_arg, sb.buf);
	mesh__sb_fini(&sb);
}

/* ---- tokens ---- */

static int token_add(mesh_ca_server *s, const char *tok, size_t tn, const char *id, size_t idn)
{
	struct token *t = mesh__realloc(s->tokens, (s->ntokens + 1) * sizeof(*t));
	if (!t)
		return MESH_ENOMEM;
	s->tokens = t;
	t = &s->tokens[s->ntokens];
	t->token = mesh__strndup(tok, tn);
	t->id = mesh__strndup(id, idn);
	if (!t->token || !t->id) {
		mesh__free(t->token);
		mesh__free(t->id);
		return MESH_ENOMEM;
	}
	s->ntokens++;
	return 0;
}

static int check_token_id(const mesh_ca_server *s, const char *id, mesh_diag *diag,
                          const char *file, unsigned line)
{
	size_t tdn;
	if (mesh__spiffe_id_parse(id, &tdn, false, diag))
		return MESH_EINVAL;
	if (tdn != strlen(s->ca->td) || memcmp(id + 9, s->ca->td, tdn) != 0) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, file, line, 0, NULL,
		               "token for \"%s\": not in the CA's trust domain \"%s\"", id,
		               s->ca->td);
		return MESH_EINVAL;
	}
	return 0;
}

/* "TOKEN SPIFFE-ID" per line; blank lines and '#' comments are skipped. */
static int tokens_load(mesh_ca_server *s, mesh_diag *diag)
{
	char *data = NULL;
	size_t len = 0;
	int rc = mesh_identity_read_file(s->tokens_file, &data, &len, diag);
	if (rc)
		return rc;
	unsigned line = 0;
	for (char *p = data; *p && !rc;) {
		char *end = strchr(p, '\n');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		line++;
		char *l = p;
		p = end ? end + 1 : p + n;
		l[n] = '\0';
		while (*l == ' ' || *l == '\t')
			l++;
		if (!*l || *l == '#' || *l == '\r')
			continue;
		size_t tn = strcspn(l, " \t");
		char *id = l + tn;
		while (*id == ' ' || *id == '\t')
			id++;
		size_t idn = strcspn(id, " \t\r");
		if (tn < 16 || !idn) {
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, s->tokens_file, line, 1, NULL,
			               "want \"TOKEN SPIFFE-ID\" with a token of 16 characters or "
			               "more");
			rc = MESH_EINVAL;
			break;
		}
		id[idn] = '\0';
		if ((rc = check_token_id(s, id, diag, s->tokens_file, line)))
			break;
		rc = token_add(s, l, tn, id, idn);
	}
	OPENSSL_cleanse(data, len);
	mesh__free(data);
	return rc;
}

/* Rewrite the tokens file without the used ones, so that a restart cannot
 * make a used token valid again. */
static void tokens_save(mesh_ca_server *s)
{
	if (!s->tokens_file)
		return;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_puts(&sb, "# bootstrap tokens: TOKEN SPIFFE-ID (used ones are removed)\n");
	for (size_t i = 0; i < s->ntokens; i++)
		mesh__sb_printf(&sb, "%s %s\n", s->tokens[i].token, s->tokens[i].id);
	mesh_diag *d = NULL;
	mesh_diag_new(&d);
	if (sb.oom || mesh_identity_write_file(s->tokens_file, sb.buf, sb.len, 1, d))
		slog(s, "error: cannot rewrite %s: %s", s->tokens_file,
		     d && mesh_diag_count(d) ? mesh_diag_message(d, 0) : "out of memory");
	mesh_diag_free(d);
	if (sb.buf)
		OPENSSL_cleanse(sb.buf, sb.len);
	mesh__sb_fini(&sb);
}

/* The token's index, or -1; compared in constant time. */
static long token_find(const mesh_ca_server *s, const char *tok)
{
	long found = -1;
	size_t n = strlen(tok);
	for (size_t i = 0; i < s->ntokens; i++)
		if (strlen(s->tokens[i].token) == n && !CRYPTO_memcmp(s->tokens[i].token, tok, n))
			found = (long)i;
	return found;
}

static void token_remove(mesh_ca_server *s, size_t i)
{
	OPENSSL_cleanse(s->tokens[i].token, strlen(s->tokens[i].token));
	mesh__free(s->tokens[i].token);
	mesh__free(s->tokens[i].id);
	s->tokens[i] = s->tokens[--s->ntokens];
	tokens_save(s);
}

MESH_API int mesh_ca_server_add_token(mesh_ca_server *s, const char *token, const char *spiffe_id)
{
	if (!s || !token || !spiffe_id || strlen(token) < 16 ||
	    strcspn(token, " \t\r\n") != strlen(token))
		return MESH_EINVAL;
	if (check_token_id(s, spiffe_id, NULL, NULL, 0))
		return MESH_EINVAL;
	return token_add(s, token, strlen(token), spiffe_id, strlen(spiffe_id));
}

/* ---- TLS ---- */

/* Client certificates are checked by the SPIFFE rules against the CA's
 * bundle, not by OpenSSL's defaults. */
static int verify_client(X509_STORE_CTX *xs, void *arg)
{
	mesh_ca_server *s = arg;
	int status = 0;
	char *id = NULL;
	mesh__free(s->peer_id);
	s->peer_id = NULL;
	int rc = mesh__svid_verify_x509(s->ca->bundle, X509_STORE_CTX_get0_cert(xs),
	                                X509_STORE_CTX_get0_untrusted(xs), 0, &status, &id, NULL);
	if (rc) {
		slog(s, "client certificate refused: %s", mesh_svid_status_name(status));
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	s->peer_id = id;
	return 1;
}

/* A serving certificate for the server itself, from its own CA. */
static int serving_cert(mesh_ca_server *s, mesh_diag *diag)
{
	const mesh_ca *ca = s->ca;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *chain = NULL;
	int rc = mesh__key_generate(MESH_KEY_EC_P256, &key, diag);
	if (rc)
		return rc;
	struct mesh__sb id;
	mesh__sb_init(&id);
	mesh__sb_printf(&id, "spiffe://%s" SERVER_ID_PATH, ca->td);
	const char *uris[] = { id.buf };
	int64_t now = mesh__now();
	int64_t na = now + MESH_SVID_TTL_DEFAULT;
	if (na > ca->not_after)
		na = ca->not_after;
	struct mesh__x509_spec spec = {
		.uris = uris,
		.nuris = 1,
		.dns = s->server_name,
		.san_critical = true,
		.pathlen = -1,
		.key_usage = "digitalSignature",
		.eku = true,
		.not_before = now - MESH_CLOCK_SKEW_BACKDATE,
		.not_after = na,
	};
	rc = MESH_ENOMEM;
	if (id.oom || (rc = mesh__x509_build(key, ca->cert, ca->key, &spec, &x, diag)))
		goto out;
	if (*ca->issue_pem &&
	    (rc = mesh__x509_parse_all(ca->issue_pem, strlen(ca->issue_pem), NULL, &chain, diag)))
		goto out;
	if (!SSL_CTX_use_cert_and_key(s->ssl, x, key, chain, 1)) {
		rc = mesh__ossl_fail(diag, "installing the serving certificate");
		goto out;
	}
	s->cert_renew_at = now + (na - now) / 2;
	rc = 0;
out:
	mesh__sb_fini(&id);
	sk_X509_pop_free(chain, X509_free);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

static int listen_on(mesh_ca_server *s, const char *addr, unsigned port, mesh_diag *diag)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		sl = sizeof(*a4);
	} else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*a6);
	} else {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "listen address \"%s\" is not an IPv4 or IPv6 literal", addr);
		return MESH_EINVAL;
	}
	int one = 1;
	s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(s->fd, (struct sockaddr *)&ss, sl) || listen(s->fd, 64)) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "cannot listen on %s port %u: %s", addr, port, strerror(errno));
		return MESH_EIO;
	}
	sl = sizeof(ss);
	getsockname(s->fd, (struct sockaddr *)&ss, &sl);
	s->port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
	return 0;
}

static int server_new_(mesh_ca_server **out, const mesh_ca *ca,
                       const struct mesh_ca_server_options *o, mesh_diag *diag)
{
	*out = NULL;
	mesh_ca_server *s = mesh__calloc(1, sizeof(*s));
	if (!s)
		return MESH_ENOMEM;
	s->ca = ca;
	s->fd = s->wake[0] = s->wake[1] = -1;
	s->ttl = o->ttl ? o->ttl : MESH_SVID_TTL_DEFAULT;
	s->request_timeout_ms = REQUEST_TIMEOUT_MS;
	if (o->struct_size >= offsetof(struct mesh_ca_server_options, request_timeout_ms) +
	                              sizeof(o->request_timeout_ms) &&
	    o->request_timeout_ms > 0)
		s->request_timeout_ms = o->request_timeout_ms;
	s->log = o->log;
	s->log_arg = o->log_arg;
	int rc = MESH_ENOMEM;
	if (!(s->server_name = mesh__strdup(o->server_name ? o->server_name : "localhost")))
		goto fail;
	if (o->tokens_file) {
		if (!(s->tokens_file = mesh__strdup(o->tokens_file)))
			goto fail;
		if ((rc = tokens_load(s, diag)))
			goto fail;
	}
	if (!(s->ssl = SSL_CTX_new(TLS_server_method())) ||
	    !SSL_CTX_set_min_proto_version(s->ssl, TLS1_2_VERSION)) {
		rc = mesh__ossl_fail(diag, "creating the TLS context");
		goto fail;
	}
	SSL_CTX_set_verify(s->ssl, SSL_VERIFY_PEER, NULL); /* a certificate is optional */
	SSL_CTX_set_cert_verify_callback(s->ssl, verify_client, s);
	if ((rc = serving_cert(s, diag)))
		goto fail;
	if ((rc = listen_on(s, o->address ? o->address : "127.0.0.1", o->port, diag)))
		goto fail;
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK)) {
		rc = MESH_EIO;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	mesh_ca_server_free(s);
	return rc;
}

MESH_API int mesh_ca_server_new(mesh_ca_server **out, const mesh_ca *ca,
                                const struct mesh_ca_server_options *o, mesh_diag *diag)
{
	if (!out || !ca || !o ||
	    o->struct_size < offsetof(struct mesh_ca_server_options, request_timeout_ms) ||
	    o->ttl < 0 || o->ttl > MESH__TTL_MAX || o->port > 65535)
		return MESH_EINVAL;
	int rc = server_new_(out, ca, o, diag);
	ERR_clear_error();
	return rc;
}

MESH_API void mesh_ca_server_free(mesh_ca_server *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	SSL_CTX_free(s->ssl);
	for (size_t i = 0; i < s->ntokens; i++) {
		OPENSSL_cleanse(s->tokens[i].token, strlen(s->tokens[i].token));
		mesh__free(s->tokens[i].token);
		mesh__free(s->tokens[i].id);
	}
	mesh__free(s->tokens);
	mesh__free(s->tokens_file);
	mesh__free(s->server_name);
	mesh__free(s->peer_id);
	mesh__free(s);
}

MESH_API unsigned mesh_ca_server_port(const mesh_ca_server *s)
{
	return s ? s->port : 0;
}

MESH_API void mesh_ca_server_stop(mesh_ca_server *s)
{
	if (s && s->wake[1] >= 0) {
		ssize_t n = write(s->wake[1], "x", 1);
		(void)n;
	}
}

/* ---- HTTP ---- */

/* ---- one connection, under deadlines ---- */

/* The connection being served: its socket is non-blocking and every wait
 * is bounded by a deadline (and cut short by mesh_ca_server_stop()). */
struct conn {
	mesh_ca_server *s;
	SSL *ssl;
	int fd;
	int64_t deadline; /* ms, CLOCK_MONOTONIC */
};

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Wait until what OpenSSL wants (@err: SSL_ERROR_WANT_READ / _WRITE) is
 * possible. 0, or -1 past the deadline, on a stop, or for another error. */
static int conn_wait(const struct conn *c, int err)
{
	if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
		return -1;
	for (;;) {
		int64_t left = c->deadline - mono_ms();
		if (left <= 0)
			return -1;
		struct pollfd p[2] = {
			{ .fd = c->fd, .events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT },
			{ .fd = c->s->wake[0], .events = POLLIN },
		};
		int n = poll(p, 2, (int)(left < 1000 ? left : 1000));
		if (n < 0 && errno != EINTR)
			return -1;
		if (p[1].revents)
			return -1; /* stopping: mesh_ca_server_run() sees it too */
		if (n > 0 && p[0].revents)
			return 0;
	}
}

static int conn_accept(struct conn *c)
{
	for (;;) {
		int r = SSL_accept(c->ssl);
		if (r == 1)
			return 0;
		if (conn_wait(c, SSL_get_error(c->ssl, r)))
			return -1;
	}
}

/* Up to @n bytes: > 0, or -1 (closed, error, deadline). */
static int conn_read(struct conn *c, char *buf, int n)
{
	for (;;) {
		int r = SSL_read(c->ssl, buf, n);
		if (r > 0)
			return r;
		if (conn_wait(c, SSL_get_error(c->ssl, r)))
			return -1;
	}
}

static int conn_write(struct conn *c, const char *buf, int n)
{
	for (;;) {
		int r = SSL_write(c->ssl, buf, n); /* whole (no partial writes) */
		if (r > 0)
			return 0;
		if (conn_wait(c, SSL_get_error(c->ssl, r)))
			return -1;
	}
}

static void respond(struct conn *c, int code, const char *reason, const char *type,
                    const char *body)
{
	char head[256];
	size_t n = strlen(body);
	int hn = snprintf(head, sizeof(head),
	                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                  "Connection: close\r\n\r\n",
	                  code, reason, type, n);
	/* the answer gets a deadline of its own: a client that does not read
	 * it is dropped as one that does not write */
	c->deadline = mono_ms() + c->s->request_timeout_ms;
	if (conn_write(c, head, hn) == 0 && n)
		conn_write(c, body, (int)n);
}

static void respond_text(struct conn *c, int code, const char *reason, const char *msg)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_printf(&sb, "%s\n", msg);
	respond(c, code, reason, "text/plain", sb.oom ? "" : sb.buf);
	mesh__sb_fini(&sb);
}

/* The value of header @name in @head (NUL-terminated lines), or NULL. */
static const char *header(const char *head, const char *name)
{
	size_t n = strlen(name);
	for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
		const char *h = l + 2;
		if (!strncasecmp(h, name, n) && h[n] == ':') {
			h += n + 1;
			while (*h == ' ' || *h == '\t')
				h++;
			return h;
		}
	}
	return NULL;
}

static void sign(struct conn *c, const char *head, const char *body, size_t len)
{
	mesh_ca_server *s = c->s;
	const char *id = s->peer_id;
	long tok = -1;
	const char *auth = header(head, "Authorization");
	if (!id && auth && !strncasecmp(auth, "Bearer ", 7)) {
		char t[512];
		size_t n = strcspn(auth + 7, "\r");
		if (n < sizeof(t)) {
			memcpy(t, auth + 7, n);
			t[n] = '\0';
			tok = token_find(s, t);
			OPENSSL_cleanse(t, sizeof(t));
		}
		if (tok < 0) {
			slog(s, "sign: refused: unknown or used bootstrap token");
			respond_text(c, 401, "Unauthorized", "unknown or used bootstrap token");
			return;
		}
		id = s->tokens[tok].id;
	}
	if (!id) {
		slog(s, "sign: refused: no client SVID and no bootstrap token");
		respond_text(c, 401, "Unauthorized",
		             "authenticate with a valid SVID or a bootstrap token");
		return;
	}
	mesh_diag *d = NULL;
	char *cert = NULL;
	mesh_diag_new(&d);
	int rc = mesh_ca_sign_csr(s->ca, body, len, id, s->ttl, &cert, d);
	if (rc) {
		const char *why =
			d && mesh_diag_count(d) ? mesh_diag_message(d, 0) : mesh_strerror(rc);
		slog(s, "sign: refused for %s: %s", id, why);
		respond_text(c, rc == MESH_EINVAL ? 403 : 500,
		             rc == MESH_EINVAL ? "Forbidden" : "Internal Server Error", why);
	} else {
		slog(s, "sign: issued %s (%s)", id, tok >= 0 ? "bootstrap token" : "renewal");
		respond(c, 200, "OK", "application/x-pem-file", cert);
		if (tok >= 0)
			token_remove(s, (size_t)tok);
	}
	mesh_free(cert);
	mesh_diag_free(d);
}

static void handle(mesh_ca_server *s, int fd)
{
	mesh__free(s->peer_id);
	s->peer_id = NULL;
	struct conn c = { .s = s, .fd = fd, .deadline = mono_ms() + s->request_timeout_ms };
	c.ssl = SSL_new(s->ssl);
	char *buf = mesh__malloc(HEAD_MAX + BODY_MAX + 1);
	if (!c.ssl || !buf || !SSL_set_fd(c.ssl, fd))
		goto out;
	buf[0] = '\0';
	if (conn_accept(&c)) {
		slog(s, mono_ms() >= c.deadline ? "TLS handshake not done in time: cut off"
		                                : "TLS handshake failed");
		goto out;
	}
	size_t len = 0;
	char *end = NULL;
	while (!(end = strstr(buf, "\r\n\r\n"))) {
		if (len >= HEAD_MAX) {
			respond_text(&c, 431, "Request Header Fields Too Large",
			             "request head too large");
			goto out;
		}
		int n = conn_read(&c, buf + len, (int)(HEAD_MAX - len));
		if (n <= 0) {
			if (mono_ms() >= c.deadline)
				slog(s, "request not received in time: cut off");
			goto out;
		}
		len += (size_t)n;
		buf[len] = '\0';
	}
	end[2] = '\0'; /* the head, with its last CRLF */
	char *body = end + 4;
	size_t have = len - (size_t)(body - buf);
	const char *cl = header(buf, "Content-Length");
	size_t want = cl ? strtoul(cl, NULL, 10) : 0;
	if (want > BODY_MAX) {
		respond_text(&c, 413, "Payload Too Large", "request body too large");
		goto out;
	}
	while (have < want) {
		int n = conn_read(&c, body + have, (int)(want - have));
		if (n <= 0) {
			if (mono_ms() >= c.deadline)
				slog(s, "request body not received in time: cut off");
			goto out;
		}
		have += (size_t)n;
	}
	body[want] = '\0';
	if (!strncmp(buf, "POST /v1/sign ", 14)) {
		sign(&c, buf, body, want);
	} else if (!strncmp(buf, "GET /v1/bundle ", 15)) {
		char *pem = NULL;
		if (mesh_bundle_to_pem(s->ca->bundle, &pem) == 0)
			respond(&c, 200, "OK", "application/x-pem-file", pem);
		mesh_free(pem);
	} else if (!strncmp(buf, "GET /v1/sign ", 13) || !strncmp(buf, "POST /v1/bundle ", 16)) {
		respond_text(&c, 405, "Method Not Allowed", "method not allowed");
	} else {
		respond_text(&c, 404, "Not Found", "POST /v1/sign or GET /v1/bundle");
	}
	SSL_shutdown(c.ssl); /* one try: non-blocking */
out:
	if (buf)
		OPENSSL_cleanse(buf, HEAD_MAX + BODY_MAX + 1);
	mesh__free(buf);
	SSL_free(c.ssl);
	close(fd);
	ERR_clear_error();
}

MESH_API int mesh_ca_server_run(mesh_ca_server *s)
{
	if (!s)
		return MESH_EINVAL;
	slog(s, "serving %s on port %u (%zu bootstrap token%s)", s->ca->td, s->port, s->ntokens,
	     s->ntokens == 1 ? "" : "s");
	for (;;) {
		struct pollfd p[2] = { { .fd = s->fd, .events = POLLIN },
			               { .fd = s->wake[0], .events = POLLIN } };
		int n = poll(p, 2, 1000);
		if (n < 0 && errno != EINTR)
			return MESH_EIO;
		if (p[1].revents)
			break;
		if (mesh__now() >= s->cert_renew_at) {
			mesh_diag *d = NULL;
			mesh_diag_new(&d);
			if (serving_cert(s, d)) {
				slog(s, "error: cannot renew the serving certificate: %s",
				     d && mesh_diag_count(d) ? mesh_diag_message(d, 0)
				                             : "out of memory");
				s->cert_renew_at = mesh__now() + 60; /* retry, not every second */
			}
			mesh_diag_free(d);
			ERR_clear_error();
		}
		if (n > 0 && (p[0].revents & POLLIN)) {
			int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd >= 0)
				handle(s, fd);
		}
	}
	char c;
	while (read(s->wake[0], &c, 1) == 1)
		;
	slog(s, "stopped");
	return 0;
}
