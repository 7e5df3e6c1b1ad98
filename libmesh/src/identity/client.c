/* client.c - the identity agent's HTTPS client: one HTTP/1.1 request per
 * TLS connection to the CA server, with the server chain checked against
 * given roots and its DNS name, an optional client certificate, bounded
 * waits and a bounded response.
 *
 * The socket is non-blocking and every wait is a poll() on it and on a wake
 * descriptor, so that stopping the agent does not wait for a slow server. */
#include "identity_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* ---- URLs ---- */

void mesh__url_fini(struct mesh__url *u)
{
	mesh__free(u->url);
	mesh__free(u->host);
	mesh__free(u->port);
	mesh__free(u->prefix);
	memset(u, 0, sizeof(*u));
}

static int url_bad(mesh_diag *diag, const char *s, const char *why)
{
	mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
	               "CA server URL \"%.200s\": %s (want https://HOST[:PORT])", s, why);
	return MESH_EINVAL;
}

int mesh__url_parse(const char *s, struct mesh__url *u, mesh_diag *diag)
{
	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "https://", 8) != 0)
		return url_bad(diag, s, "not an https URL");
	const char *p = s + 8, *host, *hend;
	if (*p == '[') {
		host = p + 1;
		if (!(hend = strchr(host, ']')))
			return url_bad(diag, s, "no ']' after the IPv6 address");
		p = hend + 1;
	} else {
		host = p;
		p += strcspn(p, ":/?#");
		hend = p;
	}
	if (hend == host)
		return url_bad(diag, s, "no host");
	if (memchr(host, '@', (size_t)(hend - host)))
		return url_bad(diag, s, "user information is not supported");
	const char *port = "443";
	size_t port_len = 3;
	if (*p == ':') {
		port = ++p;
		port_len = strspn(p, "0123456789");
		p += port_len;
		long n = port_len && port_len <= 5 ? strtol(port, NULL, 10) : 0;
		if (n < 1 || n > 65535)
			return url_bad(diag, s, "bad port");
	}
	if (*p && *p != '/')
		return url_bad(diag, s, "unexpected characters after the host");
	if (strpbrk(p, "?# \t\r\n"))
		return url_bad(diag, s, "a query, fragment or white space");
	size_t plen = strlen(p), ulen = strlen(s);
	while (plen && p[plen - 1] == '/') {
		plen--;
		ulen--;
	}
	u->url = mesh__strndup(s, ulen);
	u->host = mesh__strndup(host, (size_t)(hend - host));
	u->port = mesh__strndup(port, port_len);
	u->prefix = mesh__strndup(p, plen);
	if (!u->url || !u->host || !u->port || !u->prefix) {
		mesh__url_fini(u);
		return MESH_ENOMEM;
	}
	return 0;
}

/* ---- one exchange ---- */

struct conn {
	const struct mesh__url *u;
	const struct mesh__https_request *r;
	mesh_diag *diag;
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct timespec start; /* the exchange's: its waits share one time budget */
};

static int fail(struct conn *c, int rc, const char *fmt, ...) MESH_PRINTF(3, 4);

static int fail(struct conn *c, int rc, const char *fmt, ...)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	va_list ap;
	va_start(ap, fmt);
	mesh__sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	mesh__diag_add(c->diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL, "CA server %s: %s",
	               c->u->url, sb.oom ? "(out of memory)" : sb.buf);
	mesh__sb_fini(&sb);
	ERR_clear_error();
	return rc;
}

/* Wait until the socket is ready for @events, within the exchange's time
 * budget (a server trickling its bytes cannot stretch it), or until the
 * wake descriptor says give up. */
static int wait_for(struct conn *c, short events, const char *what)
{
	struct pollfd p[2] = { { .fd = c->fd, .events = events },
		               { .fd = c->r->wake_fd, .events = POLLIN } };
	nfds_t n = c->r->wake_fd >= 0 ? 2 : 1;
	struct timespec now;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t spent = (int64_t)(now.tv_sec - c->start.tv_sec) * 1000 +
		                (now.tv_nsec - c->start.tv_nsec) / 1000000;
		int budget = c->r->timeout_ms > 0 ? c->r->timeout_ms : MESH__HTTPS_EXCHANGE_MS;
		int left = spent >= budget ? 0 : (int)(budget - spent);
		int k = left ? poll(p, n, left) : 0;
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return fail(c, MESH_EIO, "poll: %s", strerror(errno));
		if (k == 0)
			return fail(c, MESH_EIO, "timed out %s (the whole exchange has %.1f s)",
			            what, budget / 1000.0);
		if (n == 2 && p[1].revents)
			return fail(c, MESH_EIO, "given up %s: the agent is stopping", what);
		return 0;
	}
}

static int connect_to(struct conn *c)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
		                  .ai_socktype = SOCK_STREAM,
		                  .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int e = getaddrinfo(c->u->host, c->u->port, &hints, &res);
	if (e)
		return fail(c, MESH_EIO, "cannot resolve \"%s\": %s", c->u->host,
		            e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
	int err = 0, rc = MESH_EIO;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		               ai->ai_protocol);
		if (c->fd < 0) {
			err = errno;
			continue;
		}
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			rc = 0;
			break;
		}
		err = errno;
		if (err == EINPROGRESS) {
			mesh_diag *quiet = c->diag;
			c->diag = NULL; /* a time-out on one address is not the last word */
			int w = wait_for(c, POLLOUT, "connecting");
			c->diag = quiet;
			socklen_t sl = sizeof(err);
			if (w == 0 && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 &&
			    err == 0) {
				rc = 0;
				break;
			}
			if (w)
				err = ETIMEDOUT;
		}
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (rc)
		return fail(c, MESH_EIO, "cannot connect to %s port %s: %s", c->u->host, c->u->port,
		            strerror(err));
	return 0;
}

static X509_STORE *trust_store(struct conn *c, int *rc)
{
	STACK_OF(X509) *certs = NULL;
	X509_STORE *st = NULL;
	*rc = mesh__x509_parse_all(c->r->trust_pem, strlen(c->r->trust_pem), "ca_bundle_file",
	                           &certs, c->diag);
	if (*rc)
		return NULL;
	if (!(st = X509_STORE_new())) {
		*rc = MESH_ENOMEM;
		goto out;
	}
	/* An intermediate in the bundle may anchor the chain, as for SVIDs. */
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (!X509_STORE_add_cert(st, sk_X509_value(certs, i))) {
			*rc = mesh__ossl_fail(c->diag, "building the trust store");
			X509_STORE_free(st);
			st = NULL;
			goto out;
		}
out:
	sk_X509_pop_free(certs, X509_free);
	return st;
}

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int tls_setup(struct conn *c)
{
	const struct mesh__https_request *r = c->r;
	int rc = 0;
	if (!(c->ctx = SSL_CTX_new(TLS_client_method())) ||
	    !SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION))
		return mesh__ossl_fail(c->diag, "creating the TLS context");
	X509_STORE *st = trust_store(c, &rc);
	if (!st)
		return rc;
	SSL_CTX_set_cert_store(c->ctx, st); /* takes it */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	/* The response length is checked, so a missing close_notify after it is
	 * no truncation. */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (!(c->ssl = SSL_new(c->ctx)) || !SSL_set_fd(c->ssl, c->fd) ||
	    !SSL_set1_host(c->ssl, r->server_name))
		return mesh__ossl_fail(c->diag, "setting up the TLS connection");
	if (!is_ip_literal(r->server_name) && !SSL_set_tlsext_host_name(c->ssl, r->server_name))
		return mesh__ossl_fail(c->diag, "setting the TLS server name");
	if (r->cert && !SSL_use_cert_and_key(c->ssl, r->cert, r->key, r->chain, 1))
		return mesh__ossl_fail(c->diag, "installing the client certificate");
	return 0;
}

/* Why the last TLS call failed, in words. */
static int tls_fail(struct conn *c, int ret, const char *what)
{
	int e = SSL_get_error(c->ssl, ret);
	long vr = SSL_get_verify_result(c->ssl);
	if (vr != X509_V_OK)
		return fail(c, MESH_EIO,
		            "the server certificate is refused (%s; expected DNS name \"%s\", "
		            "roots from the CA bundle)",
		            X509_verify_cert_error_string(vr), c->r->server_name);
	unsigned long oe = ERR_peek_last_error();
	if (e == SSL_ERROR_SSL && oe) {
		char buf[256];
		ERR_error_string_n(oe, buf, sizeof(buf));
		const char *reason = ERR_reason_error_string(oe);
		return fail(c, MESH_EIO, "TLS failure %s: %s", what, reason ? reason : buf);
	}
	if (e == SSL_ERROR_SYSCALL && errno)
		return fail(c, MESH_EIO, "%s: %s", what, strerror(errno));
	return fail(c, MESH_EIO, "the server closed the connection %s", what);
}

/* After a TLS call returned @ret <= 0: wait for what it wants and return 1
 * to call it again, 0 when it failed for good, or a negative code when the
 * wait failed (time-out, stop). */
static int tls_again(struct conn *c, int ret, const char *what)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ: return wait_for(c, POLLIN, what) ? -1 : 1;
	case SSL_ERROR_WANT_WRITE: return wait_for(c, POLLOUT, what) ? -1 : 1;
	default: return 0;
	}
}

static int handshake(struct conn *c)
{
	const char *what = "during the TLS handshake";
	for (;;) {
		ERR_clear_error();
		int ret = SSL_connect(c->ssl), w;
		if (ret == 1)
			return 0;
		if ((w = tls_again(c, ret, what)) < 0)
			return MESH_EIO;
		if (!w)
			return tls_fail(c, ret, what);
	}
}

static int send_all(struct conn *c, const char *p, size_t n)
{
	const char *what = "sending the request";
	while (n) {
		ERR_clear_error();
		int ret = SSL_write(c->ssl, p, n > 16384 ? 16384 : (int)n), w;
		if (ret > 0) {
			p += ret;
			n -= (size_t)ret;
			continue;
		}
		if ((w = tls_again(c, ret, what)) < 0)
			return MESH_EIO;
		if (!w)
			return tls_fail(c, ret, what);
	}
	return 0;
}

/* The value of header @name in the head @h (lines after the first), or NULL. */
static const char *header_value(const char *h, const char *name)
{
	size_t n = strlen(name);
	for (const char *l = strstr(h, "\r\n"); l && l[2] != '\r' && l[2];
	     l = strstr(l + 2, "\r\n")) {
		const char *v = l + 2;
		if (!strncasecmp(v, name, n) && v[n] == ':') {
			v += n + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
	}
	return NULL;
}

/* Read until the head and Content-Length bytes of body are in. */
static int receive(struct conn *c, int *status, char **body, size_t *body_len)
{
	char *buf = mesh__malloc(MESH__HTTPS_RESPONSE_MAX + 1);
	if (!buf)
		return MESH_ENOMEM;
	size_t len = 0, want = 0;
	char *end = NULL;
	int rc = 0;
	for (;;) {
		if (end && len >= want)
			break;
		if (len >= MESH__HTTPS_RESPONSE_MAX) {
			rc = fail(c, MESH_ELIMIT, "response larger than %d bytes",
			          MESH__HTTPS_RESPONSE_MAX);
			goto out;
		}
		const char *what = "waiting for the response";
		ERR_clear_error();
		int ret = SSL_read(c->ssl, buf + len, (int)(MESH__HTTPS_RESPONSE_MAX - len)), w;
		if (ret <= 0 && (w = tls_again(c, ret, what)) != 0) {
			if (w < 0) {
				rc = MESH_EIO;
				goto out;
			}
			continue;
		}
		if (ret <= 0) {
			/* With SSL_OP_IGNORE_UNEXPECTED_EOF a bare close reads as the end too. */
			if (SSL_get_error(c->ssl, ret) == SSL_ERROR_ZERO_RETURN)
				rc = fail(c, MESH_EIO, "the response ended early (after %zu bytes)",
				          len);
			else
				rc = tls_fail(c, ret, "reading the response");
			goto out;
		}
		len += (size_t)ret;
		buf[len] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = header_value(buf, "Content-Length");
			char *e = NULL;
			unsigned long long n = cl ? strtoull(cl, &e, 10) : 0;
			if (!cl || e == cl || (*e != '\r' && *e != ' ')) {
				rc = fail(c, MESH_EIO, "response without a valid Content-Length");
				goto out;
			}
			if (n > MESH__HTTPS_RESPONSE_MAX) {
				rc = fail(c, MESH_ELIMIT, "response larger than %d bytes",
				          MESH__HTTPS_RESPONSE_MAX);
				goto out;
			}
			want = (size_t)(end + 4 - buf) + (size_t)n;
		}
	}
	int code = 0;
	if (strncmp(buf, "HTTP/1.", 7) || !buf[7] || buf[8] != ' ' ||
	    sscanf(buf + 9, "%3d", &code) != 1 || code < 100 || code > 599) {
		rc = fail(c, MESH_EIO, "not an HTTP/1.x response");
		goto out;
	}
	size_t off = (size_t)(end + 4 - buf), n = want - off;
	if (!(*body = mesh__malloc(n + 1))) {
		rc = MESH_ENOMEM;
		goto out;
	}
	memcpy(*body, buf + off, n);
	(*body)[n] = '\0';
	if (body_len)
		*body_len = n;
	*status = code;
out:
	mesh__free(buf);
	return rc;
}

static int request(struct conn *c, int *status, char **body, size_t *body_len)
{
	const struct mesh__https_request *r = c->r;
	int rc;
	if ((rc = connect_to(c)) || (rc = tls_setup(c)) || (rc = handshake(c)))
		return rc;
	struct mesh__sb head;
	mesh__sb_init(&head);
	mesh__sb_printf(&head, "%s %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\n", r->method, c->u->prefix,
	                r->path, strchr(c->u->host, ':') ? "[" : "", c->u->host,
	                strchr(c->u->host, ':') ? "]" : "", c->u->port);
	if (r->bearer)
		mesh__sb_printf(&head, "Authorization: Bearer %s\r\n", r->bearer);
	if (r->content_type)
		mesh__sb_printf(&head, "Content-Type: %s\r\n", r->content_type);
	mesh__sb_printf(&head, "Content-Length: %zu\r\nConnection: close\r\n\r\n", r->body_len);
	rc = head.oom ? MESH_ENOMEM : send_all(c, head.buf, head.len);
	if (head.buf) /* it may hold the bootstrap token */
		OPENSSL_cleanse(head.buf, head.cap);
	mesh__sb_fini(&head);
	if (!rc && r->body_len)
		rc = send_all(c, r->body, r->body_len);
	if (!rc)
		rc = receive(c, status, body, body_len);
	return rc;
}

int mesh__https_request(const struct mesh__url *u, const struct mesh__https_request *r, int *status,
                        char **body, size_t *body_len, mesh_diag *diag)
{
	struct conn c = { .u = u, .r = r, .diag = diag, .fd = -1 };
	clock_gettime(CLOCK_MONOTONIC, &c.start);
	*status = 0;
	*body = NULL;
	/* OpenSSL writes with write(): a peer that hangs up must not raise
	 * SIGPIPE in a host program that did not ignore it. Block it for this
	 * thread, and take back one that was raised here (as libpq does). */
	sigset_t pipe_set, old, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
	int rc = request(&c, status, body, body_len);
	if (c.ssl && rc == 0)
		SSL_shutdown(c.ssl); /* best effort: the close_notify */
	SSL_free(c.ssl);
	SSL_CTX_free(c.ctx);
	if (c.fd >= 0)
		close(c.fd);
	if (!was_pending) {
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	ERR_clear_error();
	return rc;
}
