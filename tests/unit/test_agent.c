/*
 * test_agent.c - the identity agent against a real CA server (in a thread,
 * on 127.0.0.1, a free port): enrolment with a bootstrap token, a reused
 * token, a CA server the bundle does not trust, automatic renewal at about
 * half-life with the SVID as client certificate, an identity on_update
 * rejects, certificate directories replaced whole or half, and prompt stops.
 */
#include "identity/identity_int.h"

#include <stddef.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "testutil.h"

#define TD "cluster.local"
#define ID "spiffe://cluster.local/ns/default/sa/reviews"
#define TOKEN "0123456789abcdef0123456789abcdef"

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			ck_abort_msg("line %d: %s", __LINE__, #c);                                 \
	} while (0)

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&t, NULL);
}

static char *tmpdir(void)
{
	char *t = strdup("/tmp/mesh-agent-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t));
	return t;
}

static void rm_rf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *dir, const char *name, const char *data, int secret)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	ck_assert_int_eq(mesh_identity_write_file(p, data, strlen(data), secret, NULL), 0);
}

static mesh_ca *new_root(void)
{
	mesh_ca *ca = NULL;
	ck_assert_int_eq(mesh_ca_new_root(&ca, TD, 0, 0, NULL), 0);
	return ca;
}

static char *bundle_pem(const mesh_ca *ca)
{
	char *pem = NULL;
	ck_assert_int_eq(mesh_bundle_to_pem(mesh_ca_bundle(ca), &pem), 0);
	return pem;
}

static bool diag_has(const mesh_diag *d, const char *text)
{
	for (size_t i = 0; d && i < mesh_diag_count(d); i++)
		if (strstr(mesh_diag_message(d, i), text))
			return true;
	return false;
}

static void diag_dump(const mesh_diag *d)
{
	for (size_t i = 0; d && i < mesh_diag_count(d); i++) {
		char *s = mesh_diag_format(d, i);
		fprintf(stderr, "  %s\n", s ? s : "?");
		mesh_free(s);
	}
}

/* ---- a CA server in a thread ---- */

static int64_t srv_request_timeout_ms; /* 0: the server's default */

struct srv {
	mesh_ca *ca;
	mesh_ca_server *s;
	pthread_t thread;
	char url[64];
	char *dir;
	char bundle_file[256], token_file[256];
	pthread_mutex_t mu;
	char log[16384];
};

static void srv_log(void *arg, const char *line)
{
	struct srv *v = arg;
	pthread_mutex_lock(&v->mu);
	size_t n = strlen(v->log);
	snprintf(v->log + n, sizeof(v->log) - n, "%s\n", line);
	pthread_mutex_unlock(&v->mu);
}

static int srv_count(struct srv *v, const char *text)
{
	int n = 0;
	pthread_mutex_lock(&v->mu);
	for (const char *p = v->log; (p = strstr(p, text)); p++)
		n++;
	pthread_mutex_unlock(&v->mu);
	return n;
}

static void *srv_main(void *arg)
{
	struct srv *v = arg;
	mesh_ca_server_run(v->s);
	return NULL;
}

/* A CA server for @ca (taken) on @port (0: any) issuing SVIDs of @ttl
 * seconds, with the token TOKEN for ID, and in v->dir the files a workload
 * gets: its bundle and its token. */
static void srv_start_ca(struct srv *v, mesh_ca *ca, unsigned port, int64_t ttl)
{
	memset(v, 0, sizeof(*v));
	pthread_mutex_init(&v->mu, NULL);
	v->ca = ca;
	v->dir = tmpdir();
	struct mesh_ca_server_options o = { .struct_size = sizeof(o),
		                            .port = port,
		                            .ttl = ttl,
		                            .log = srv_log,
		                            .log_arg = v,
		                            .request_timeout_ms = srv_request_timeout_ms };
	mesh_diag *d = NULL;
	mesh_diag_new(&d);
	int rc = mesh_ca_server_new(&v->s, v->ca, &o, d);
	if (rc)
		diag_dump(d);
	ck_assert_int_eq(rc, 0);
	mesh_diag_free(d);
	ck_assert_int_eq(mesh_ca_server_add_token(v->s, TOKEN, ID), 0);
	snprintf(v->url, sizeof(v->url), "https://127.0.0.1:%u", mesh_ca_server_port(v->s));
	char *pem = bundle_pem(v->ca);
	put(v->dir, "ca.pem", pem, 0);
	put(v->dir, "token", TOKEN "\n", 1);
	mesh_free(pem);
	snprintf(v->bundle_file, sizeof(v->bundle_file), "%s/ca.pem", v->dir);
	snprintf(v->token_file, sizeof(v->token_file), "%s/token", v->dir);
	ck_assert_int_eq(pthread_create(&v->thread, NULL, srv_main, v), 0);
}

static void srv_start(struct srv *v, int64_t ttl)
{
	srv_start_ca(v, new_root(), 0, ttl);
}

static void srv_stop(struct srv *v)
{
	mesh_ca_server_stop(v->s);
	pthread_join(v->thread, NULL);
	mesh_ca_server_free(v->s);
	mesh_ca_free(v->ca);
	rm_rf(v->dir);
	free(v->dir);
	pthread_mutex_destroy(&v->mu);
}

/* ---- what the agent hands over ---- */

struct rec {
	pthread_mutex_t mu;
	int n;      /* on_update calls */
	int reject; /* what on_update returns */
	char *cert, *key, *bundle;
	char *first_key;
	char log[16384];
};

static int rec_update(void *arg, const char *cert, const char *key, const char *bundle)
{
	struct rec *r = arg;
	pthread_mutex_lock(&r->mu);
	r->n++;
	free(r->cert);
	free(r->key);
	free(r->bundle);
	r->cert = strdup(cert);
	r->key = strdup(key);
	r->bundle = strdup(bundle);
	if (!r->first_key)
		r->first_key = strdup(key);
	int rc = r->reject;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

static void rec_log(void *arg, int level, const char *line)
{
	struct rec *r = arg;
	pthread_mutex_lock(&r->mu);
	size_t n = strlen(r->log);
	snprintf(r->log + n, sizeof(r->log) - n, "%s: %s\n", mesh_severity_name(level), line);
	pthread_mutex_unlock(&r->mu);
}

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
}

static void rec_fini(struct rec *r)
{
	free(r->cert);
	free(r->key);
	free(r->bundle);
	free(r->first_key);
	pthread_mutex_destroy(&r->mu);
}

static int rec_count(struct rec *r)
{
	pthread_mutex_lock(&r->mu);
	int n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static bool rec_log_has(struct rec *r, const char *text)
{
	pthread_mutex_lock(&r->mu);
	bool has = strstr(r->log, text) != NULL;
	pthread_mutex_unlock(&r->mu);
	return has;
}

/* The last identity handed over is a valid SVID for @id by its own bundle
 * and by @ca's, and the key is its key. Returns its notAfter. */
static int64_t rec_check(struct rec *r, const mesh_ca *ca, const char *id)
{
	pthread_mutex_lock(&r->mu);
	mesh_bundle *b = NULL;
	int st = -1;
	REQUIRE(r->cert && r->key && r->bundle);
	ck_assert_int_eq(mesh_bundle_new(&b, TD), 0);
	ck_assert_int_eq(mesh_bundle_add(b, r->bundle, strlen(r->bundle), NULL, NULL), 0);
	ck_assert_int_eq(mesh_svid_verify(b, r->cert, strlen(r->cert), 0, &st, NULL), 0);
	ck_assert_int_eq(
		mesh_svid_verify(mesh_ca_bundle(ca), r->cert, strlen(r->cert), 0, &st, NULL), 0);
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *pk = NULL;
	ck_assert_int_eq(mesh__svid_load(r->cert, strlen(r->cert), r->key, strlen(r->key), &leaf,
	                                 &chain, &pk, NULL),
	                 0);
	mesh_cert *c = NULL;
	ck_assert_int_eq(mesh_cert_parse(&c, r->cert, strlen(r->cert), NULL), 0);
	ck_assert_str_eq(mesh_cert_spiffe_id(c), id);
	int64_t na = mesh_cert_not_after(c);
	mesh_cert_free(c);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(pk);
	mesh_bundle_free(b);
	pthread_mutex_unlock(&r->mu);
	return na;
}

static struct mesh_identity_agent_options ca_opts(const struct srv *v, struct rec *r)
{
	struct mesh_identity_agent_options o = {
		.struct_size = sizeof(o),
		.ca_url = v->url,
		.ca_bundle_file = v->bundle_file,
		.bootstrap_token_file = v->token_file,
		.spiffe_id = ID,
		.on_update = rec_update,
		.log = rec_log,
		.arg = r,
	};
	return o;
}

static mesh_identity_agent *agent_new(const struct mesh_identity_agent_options *o)
{
	mesh_identity_agent *a = NULL;
	mesh_diag *d = NULL;
	mesh_diag_new(&d);
	int rc = mesh_identity_agent_new(o, &a, d);
	if (rc)
		diag_dump(d);
	ck_assert_int_eq(rc, 0);
	mesh_diag_free(d);
	return a;
}

/* fetch(); returns its code, the diagnostics in *dp (to free) when asked. */
static int agent_fetch(mesh_identity_agent *a, mesh_diag **dp)
{
	mesh_diag *d = NULL;
	mesh_diag_new(&d);
	int rc = mesh_identity_agent_fetch(a, d);
	if (dp)
		*dp = d;
	else {
		if (rc)
			diag_dump(d);
		mesh_diag_free(d);
	}
	return rc;
}

/* ---- options ---- */

static void expect_bad_options(int line, const struct mesh_identity_agent_options *o,
                               const char *msg)
{
	mesh_identity_agent *a = (mesh_identity_agent *)1;
	mesh_diag *d = NULL;
	mesh_diag_new(&d);
	int rc = mesh_identity_agent_new(o, &a, d);
	if (rc != MESH_EINVAL || !diag_has(d, msg)) {
		diag_dump(d);
		ck_abort_msg("line %d: want MESH_EINVAL and \"%s\", got %d", line, msg, rc);
	}
	ck_assert_ptr_null(a);
	mesh_diag_free(d);
}

START_TEST(options_refused)
{
	struct rec r;
	rec_init(&r);
	struct mesh_identity_agent_options o = {
		.struct_size = sizeof(o),
		.ca_url = "https://127.0.0.1:15012",
		.ca_bundle_file = "/nonexistent/ca.pem",
		.bootstrap_token_file = "/nonexistent/token",
		.spiffe_id = ID,
		.on_update = rec_update,
		.arg = &r,
	};
	mesh_identity_agent *a = agent_new(&o); /* reads nothing yet */
	mesh_diag *d = NULL;
	ck_assert_int_eq(agent_fetch(a, &d), MESH_EIO);
	REQUIRE(diag_has(d, "cannot open"));
	mesh_diag_free(d);
	ck_assert_int_eq(rec_count(&r), 0);
	mesh_identity_agent_free(a);

	struct mesh_identity_agent_options b = o;
	b.cert_dir = "/tmp";
	expect_bad_options(__LINE__, &b, "exactly one of cert_dir and ca_url");
	b = o;
	b.ca_url = NULL;
	expect_bad_options(__LINE__, &b, "exactly one of cert_dir and ca_url");
	b = o;
	b.on_update = NULL;
	expect_bad_options(__LINE__, &b, "on_update is required");
	b = o;
	b.ca_bundle_file = NULL;
	expect_bad_options(__LINE__, &b, "needs ca_bundle_file");
	b = o;
	b.bootstrap_token_file = NULL;
	expect_bad_options(__LINE__, &b, "needs bootstrap_token_file");
	b = o;
	b.spiffe_id = NULL;
	expect_bad_options(__LINE__, &b, "needs spiffe_id");
	b = o;
	b.spiffe_id = "spiffe://cluster.local/";
	expect_bad_options(__LINE__, &b, "");
	b = o;
	b.key_type = MESH_KEY_OTHER;
	expect_bad_options(__LINE__, &b, "key_type");
	b = o;
	b.poll_ms = -1;
	expect_bad_options(__LINE__, &b, "poll_ms");
	b = o;
	b.server_name = "a b";
	expect_bad_options(__LINE__, &b, "server_name");
	const char *urls[] = { "http://127.0.0.1:1", "https://",    "https://h:0",
		               "https://h:65536",    "https://h:x", "https://[::1",
		               "https://u@h",        "https://h/?q" };
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		b = o;
		b.ca_url = urls[i];
		expect_bad_options(__LINE__, &b, "CA server URL");
	}
	b = o;
	b.struct_size = offsetof(struct mesh_identity_agent_options, state_dir) - 1;
	expect_bad_options(__LINE__, &b, "struct_size");
	/* the layout before state_dir was added is taken, state_dir read as NULL */
	b = o;
	b.struct_size = offsetof(struct mesh_identity_agent_options, state_dir);
	b.state_dir = "/nonexistent-not-read";
	mesh_identity_agent *older = NULL;
	ck_assert_int_eq(mesh_identity_agent_new(&b, &older, NULL), 0);
	mesh_identity_agent_free(older);
	b = o;
	b.state_dir = "/tmp";
	b.ca_url = NULL;
	b.cert_dir = "/tmp";
	expect_bad_options(__LINE__, &b, "state_dir");
	ck_assert_int_eq(mesh_identity_agent_new(&o, NULL, NULL), MESH_EINVAL);

	/* Good URLs, and the NULL cases of the other entry points. */
	const char *good[] = { "https://localhost", "https://[::1]:15012/", "https://h:1/ca/" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		b = o;
		b.ca_url = good[i];
		mesh_identity_agent_free(agent_new(&b));
	}
	ck_assert_int_eq(mesh_identity_agent_fetch(NULL, NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_identity_agent_start(NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_identity_agent_status(NULL, NULL, NULL, NULL), MESH_EINVAL);
	mesh_identity_agent_stop(NULL);
	mesh_identity_agent_free(NULL);
	rec_fini(&r);
}
END_TEST

START_TEST(url_parts)
{
	struct mesh__url u;
	ck_assert_int_eq(mesh__url_parse("HTTPS://[::1]:15012/ca//", &u, NULL), 0);
	ck_assert_str_eq(u.url, "HTTPS://[::1]:15012/ca");
	ck_assert_str_eq(u.host, "::1");
	ck_assert_str_eq(u.port, "15012");
	ck_assert_str_eq(u.prefix, "/ca");
	mesh__url_fini(&u);
	ck_assert_int_eq(mesh__url_parse("https://ca.mesh-system.svc", &u, NULL), 0);
	ck_assert_str_eq(u.host, "ca.mesh-system.svc");
	ck_assert_str_eq(u.port, "443");
	ck_assert_str_eq(u.prefix, "");
	mesh__url_fini(&u);
}
END_TEST

/* ---- enrolment ---- */

/* A client that trickles its ClientHello, one byte every 100 ms (each
 * read would come in time; the request never does): cut off at the
 * request deadline, and an enrolment waiting behind it then goes through.
 * An old options struct without request_timeout_ms is still taken. */
START_TEST(slow_client_cut_off)
{
	srv_request_timeout_ms = 1000;
	struct srv v;
	struct rec r;
	srv_start(&v, 0);
	srv_request_timeout_ms = 0;
	rec_init(&r);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
		                  .sin_port = htons((uint16_t)mesh_ca_server_port(v.s)) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	static const unsigned char hello[] = { 0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00 };
	double t0 = now_s(), cut = 0;
	for (size_t i = 0; now_s() - t0 < 5; i++) {
		if (send(fd, hello + i % sizeof(hello), 1, MSG_NOSIGNAL) != 1) {
			cut = now_s() - t0;
			break;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) > 0) {
			char b[64];
			if (recv(fd, b, sizeof(b), 0) <= 0) {
				cut = now_s() - t0;
				break;
			}
		}
	}
	close(fd);
	REQUIRE(cut > 0.5 && cut < 3.0); /* the 1 s deadline, not the 5 s of trickling */
	REQUIRE(srv_count(&v, "TLS handshake not done in time: cut off") == 1);

	struct mesh_identity_agent_options o = ca_opts(&v, &r);
	mesh_identity_agent *a = agent_new(&o);
	ck_assert_int_eq(agent_fetch(a, NULL), 0);
	rec_check(&r, v.ca, ID);
	mesh_identity_agent_free(a);
	rec_fini(&r);
	srv_stop(&v);

	/* a caller built before request_timeout_ms existed */
	mesh_ca *ca = new_root();
	mesh_ca_server *s = NULL;
	struct mesh_ca_server_options old = { .struct_size = offsetof(struct mesh_ca_server_options,
		                                                      request_timeout_ms) };
	ck_assert_int_eq(mesh_ca_server_new(&s, ca, &old, NULL), 0);
	mesh_ca_server_free(s);
	old.struct_size = offsetof(struct mesh_ca_server_options, log);
	ck_assert_int_eq(mesh_ca_server_new(&s, ca, &old, NULL), MESH_EINVAL);
	mesh_ca_free(ca);
}
END_TEST

START_TEST(enrol_with_token)
{
	struct srv v;
	struct rec r;
	srv_start(&v, 0);
	rec_init(&r);
	struct mesh_identity_agent_options o = ca_opts(&v, &r);
	mesh_identity_agent *a = agent_new(&o);
	int64_t na = 0, next = -1;
	uint64_t n = 99;
	ck_assert_int_eq(mesh_identity_agent_status(a, &na, &next, &n), 0);
	REQUIRE(na == 0 && next == 0 && n == 0);

	ck_assert_int_eq(agent_fetch(a, NULL), 0);
	ck_assert_int_eq(rec_count(&r), 1);
	int64_t cert_na = rec_check(&r, v.ca, ID);
	ck_assert_int_eq(srv_count(&v, "(bootstrap token)"), 1);
	ck_assert_int_eq(mesh_identity_agent_status(a, &na, &next, &n), 0);
	ck_assert_int_eq(na, cert_na);
	REQUIRE(na > (int64_t)now_s() + 23 * 3600); /* the default 24 h */
	REQUIRE(next == 0 && n == 0);               /* not started */
	REQUIRE(rec_log_has(&r, "enrolled " ID));
	REQUIRE(strstr(r.key, "PRIVATE KEY"));

	/* A second fetch renews with the SVID: no token needed any more. */
	ck_assert_int_eq(agent_fetch(a, NULL), 0);
	ck_assert_int_eq(rec_count(&r), 2);
	rec_check(&r, v.ca, ID);
	ck_assert_int_eq(srv_count(&v, "(renewal)"), 1);
	REQUIRE(strcmp(r.key, r.first_key) != 0); /* a new key each time */
	ck_assert_int_eq(mesh_identity_agent_status(a, NULL, NULL, &n), 0);
	ck_assert_int_eq(n, 1);
	mesh_identity_agent_free(a);

	/* The same token again: refused, and said so. */
	a = agent_new(&o);
	mesh_diag *d = NULL;
	ck_assert_int_eq(agent_fetch(a, &d), MESH_EINVAL);
	char want[128];
	snprintf(want, sizeof(want), "CA server %s: 401 unknown or used bootstrap token", v.url);
	if (!diag_has(d, want)) {
		diag_dump(d);
		ck_abort_msg("want \"%s\"", want);
	}
	mesh_diag_free(d);
	ck_assert_int_eq(rec_count(&r), 2);
	mesh_identity_agent_free(a);

	/* A token file that holds no token. */
	put(v.dir, "token", "   \n", 1);
	a = agent_new(&o);
	ck_assert_int_eq(agent_fetch(a, &d), MESH_EINVAL);
	REQUIRE(diag_has(d, "want one bootstrap token"));
	mesh_diag_free(d);
	mesh_identity_agent_free(a);

	rec_fini(&r);
	srv_stop(&v);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(untrusted_server)
{
	struct srv v;
	struct rec r;
	srv_start(&v, 0);
	rec_init(&r);
	struct mesh_identity_agent_options o = ca_opts(&v, &r);
	mesh_diag *d = NULL;

	/* A bundle of another CA: the TLS check fails before the token is sent. */
	mesh_ca *other = new_root();
	char *pem = bundle_pem(other);
	put(v.dir, "other.pem", pem, 0);
	mesh_free(pem);
	char other_file[300];
	snprintf(other_file, sizeof(other_file), "%s/other.pem", v.dir);
	o.ca_bundle_file = other_file;
	mesh_identity_agent *a = agent_new(&o);
	ck_assert_int_eq(agent_fetch(a, &d), MESH_EIO);
	if (!diag_has(d, "the server certificate is refused (unable to get local issuer")) {
		diag_dump(d);
		ck_abort_msg("want a refused server certificate");
	}
	mesh_diag_free(d);
	mesh_identity_agent_free(a);

	/* The right roots, but another name than the certificate's. */
	o.ca_bundle_file = v.bundle_file;
	o.server_name = "ca.example.com";
	a = agent_new(&o);
	ck_assert_int_eq(agent_fetch(a, &d), MESH_EIO);
	if (!diag_has(d, "expected DNS name \"ca.example.com\"")) {
		diag_dump(d);
		ck_abort_msg("want a name mismatch");
	}
	mesh_diag_free(d);
	mesh_identity_agent_free(a);

	/* Nobody listening. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
		                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sl), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", ntohs(sa.sin_port));
	o.server_name = NULL;
	o.ca_url = url;
	a = agent_new(&o);
	ck_assert_int_eq(agent_fetch(a, &d), MESH_EIO);
	REQUIRE(diag_has(d, "cannot connect to 127.0.0.1 port"));
	REQUIRE(diag_has(d, "Connection refused"));
	mesh_diag_free(d);
	mesh_identity_agent_free(a);

	/* The token was never sent: it still enrols. */
	o.ca_url = v.url;
	a = agent_new(&o);
	ck_assert_int_eq(agent_fetch(a, NULL), 0);
	rec_check(&r, v.ca, ID);
	mesh_identity_agent_free(a);

	ck_assert_int_eq(rec_count(&r), 1);
	mesh_ca_free(other);
	rec_fini(&r);
	srv_stop(&v);
}
END_TEST

START_TEST(rejected_update)
{
	/* on_update says no: fetch fails, but the SVID (the token is spent)
	 * authenticates the next attempt. */
	struct srv v;
	struct rec r;
	srv_start(&v, 0);
	rec_init(&r);
	r.reject = 7;
	struct mesh_identity_agent_options o = ca_opts(&v, &r);
	mesh_identity_agent *a = agent_new(&o);
	mesh_diag *d = NULL;
	ck_assert_int_eq(agent_fetch(a, &d), MESH_EINVAL);
	REQUIRE(diag_has(d, "on_update rejected the new identity (returned 7)"));
	mesh_diag_free(d);
	int64_t na = -1;
	ck_assert_int_eq(mesh_identity_agent_status(a, &na, NULL, NULL), 0);
	ck_assert_int_eq(na, 0);
	r.reject = 0;
	ck_assert_int_eq(agent_fetch(a, NULL), 0);
	rec_check(&r, v.ca, ID);
	ck_assert_int_eq(srv_count(&v, "(renewal)"), 1);
	ck_assert_int_eq(rec_count(&r), 2);
	uint64_t n = 9;
	ck_assert_int_eq(mesh_identity_agent_status(a, &na, NULL, &n), 0);
	REQUIRE(na > 0 && n == 0); /* the first accepted one */
	mesh_identity_agent_free(a);
	rec_fini(&r);
	srv_stop(&v);
}
END_TEST

/* ---- CA rotation ---- */

static int pem_count(const char *pem)
{
	int n = 0;
	for (const char *p = pem; (p = strstr(p, "-----BEGIN CERTIFICATE-----")); p++)
		n++;
	return n;
}

/* @root's CA, handing out the bundle @bundle (both roots). */
static mesh_ca *with_bundle(const mesh_ca *root, const char *bundle)
{
	char *dir = tmpdir();
	mesh_ca *ca = NULL;
	ck_assert_int_eq(mesh_ca_write_dir(root, dir, NULL), 0);
	put(dir, "trust-bundle.pem", bundle, 0);
	ck_assert_int_eq(mesh_ca_load_dir(&ca, dir, TD, NULL), 0);
	rm_rf(dir);
	free(dir);
	return ca;
}

START_TEST(ca_rotation)
{
	/* Step 2 of a rotation: the old CA hands out old + new roots; the
	 * workload gets both with its next identity. Step 3: the new CA (same
	 * address) issues; the workload renews with its old-root SVID and
	 * trusts the new server through the bundle it got. */
	mesh_ca *old_root = new_root(), *new_root_ = new_root();
	char *p1 = bundle_pem(old_root), *p2 = bundle_pem(new_root_);
	char both[16384];
	snprintf(both, sizeof(both), "%s%s", p1, p2);
	struct srv v1, v2;
	struct rec r;
	srv_start_ca(&v1, with_bundle(old_root, both), 0, 0);
	rec_init(&r);
	struct mesh_identity_agent_options o = ca_opts(&v1, &r);
	mesh_identity_agent *a = agent_new(&o); /* ca_bundle_file: the old root only */
	ck_assert_int_eq(agent_fetch(a, NULL), 0);
	pthread_mutex_lock(&r.mu);
	ck_assert_int_eq(pem_count(r.bundle), 2);
	pthread_mutex_unlock(&r.mu);
	rec_check(&r, v1.ca, ID);

	/* (Stopping v1 removes the agent's ca_bundle_file too: the agent goes
	 * on with the bundle it got last, and says so.) */
	unsigned port = mesh_ca_server_port(v1.s);
	srv_stop(&v1);
	srv_start_ca(&v2, with_bundle(new_root_, both), port, 0);
	ck_assert_int_eq(agent_fetch(a, NULL), 0); /* renewal: no token at the new CA */
	ck_assert_int_eq(srv_count(&v2, "(renewal)"), 1);
	REQUIRE(rec_log_has(&r, "warning: using the last trust bundle from the CA server: "));
	pthread_mutex_lock(&r.mu);
	mesh_bundle *only_new = NULL;
	int st = -1;
	ck_assert_int_eq(mesh_bundle_new(&only_new, TD), 0);
	ck_assert_int_eq(mesh_bundle_add(only_new, p2, strlen(p2), NULL, NULL), 0);
	ck_assert_int_eq(mesh_svid_verify(only_new, r.cert, strlen(r.cert), 0, &st, NULL), 0);
	mesh_bundle_free(only_new);
	pthread_mutex_unlock(&r.mu);
	mesh_identity_agent_free(a);

	/* A workload that only knows the old root cannot trust the new server
	 * until its bundle file carries the new root too. */
	put(v2.dir, "old.pem", p1, 0);
	char old_file[300];
	snprintf(old_file, sizeof(old_file), "%s/old.pem", v2.dir);
	o = ca_opts(&v2, &r);
	o.ca_bundle_file = old_file;
	a = agent_new(&o);
	mesh_diag *d = NULL;
	ck_assert_int_eq(agent_fetch(a, &d), MESH_EIO);
	REQUIRE(diag_has(d, "the server certificate is refused"));
	mesh_diag_free(d);
	mesh_identity_agent_free(a);

	mesh_free(p1);
	mesh_free(p2);
	mesh_ca_free(old_root);
	mesh_ca_free(new_root_);
	rec_fini(&r);
	srv_stop(&v2);
}
END_TEST

/* ---- renewal ---- */

START_TEST(renews_at_half_life)
{
	struct srv v;
	struct rec r;
	srv_start(&v, 4); /* 4 s SVIDs: renewal after about 2 s */
	rec_init(&r);
	struct mesh_identity_agent_options o = ca_opts(&v, &r);
	mesh_identity_agent *a = agent_new(&o);
	ck_assert_int_eq(agent_fetch(a, NULL), 0);
	double t0 = now_s();
	int64_t first_na = rec_check(&r, v.ca, ID);
	ck_assert_int_eq(mesh_identity_agent_start(a), 0);
	ck_assert_int_eq(mesh_identity_agent_start(a), MESH_EINVAL);
	ck_assert_int_eq(mesh_identity_agent_fetch(a, NULL), MESH_EINVAL); /* running */
	int64_t na, next;
	uint64_t n = 0;
	ck_assert_int_eq(mesh_identity_agent_status(a, &na, &next, &n), 0);
	REQUIRE(next >= (int64_t)t0 && next <= first_na);
	double t1 = 0;
	while (now_s() - t0 < 20) {
		ck_assert_int_eq(mesh_identity_agent_status(a, NULL, NULL, &n), 0);
		if (n >= 1 && !t1)
			t1 = now_s();
		if (n >= 2)
			break;
		sleep_ms(20);
	}
	if (n < 2)
		fprintf(stderr, "agent log:\n%s\nserver log:\n%s", r.log, v.log);
	ck_assert_uint_ge(n, 2);
	/* About half-life: not at once, and before the first SVID expired. */
	REQUIRE(t1 - t0 > 0.5);
	REQUIRE(t1 < (double)first_na);
	rec_check(&r, v.ca, ID);
	pthread_mutex_lock(&r.mu);
	REQUIRE(strcmp(r.key, r.first_key) != 0);
	pthread_mutex_unlock(&r.mu);
	ck_assert_int_eq(srv_count(&v, "(bootstrap token)"), 1);
	ck_assert_int_ge(srv_count(&v, "(renewal)"), 2);
	REQUIRE(rec_log_has(&r, "renewed " ID));
	ck_assert_int_eq(mesh_identity_agent_status(a, &na, &next, NULL), 0);
	REQUIRE(na > first_na);
	REQUIRE(next > 0);
	double s = now_s();
	mesh_identity_agent_stop(a);
	REQUIRE(now_s() - s < 1.0);
	ck_assert_int_eq(mesh_identity_agent_status(a, NULL, &next, NULL), 0);
	ck_assert_int_eq(next, 0);
	mesh_identity_agent_free(a);
	rec_fini(&r);
	srv_stop(&v);
}
END_TEST

START_TEST(enrols_from_the_thread_and_retries)
{
	/* start() without fetch(): the thread enrols; while the CA server is
	 * down it backs off and tries again. */
	struct srv v;
	struct rec r;
	srv_start(&v, 0);
	rec_init(&r);
	struct mesh_identity_agent_options o = ca_opts(&v, &r);
	char bundle_file[300];
	snprintf(bundle_file, sizeof(bundle_file), "%s/later.pem", v.dir);
	o.ca_bundle_file = bundle_file; /* missing at first */
	mesh_identity_agent *a = agent_new(&o);
	ck_assert_int_eq(mesh_identity_agent_start(a), 0);
	double t0 = now_s();
	while (!rec_log_has(&r, "next attempt in 1.0 s") && now_s() - t0 < 10)
		sleep_ms(20);
	REQUIRE(rec_log_has(&r, "error: enrolment failed: "));
	REQUIRE(rec_log_has(&r, "later.pem: cannot open"));
	ck_assert_int_eq(rec_count(&r), 0);
	char *pem = bundle_pem(v.ca);
	put(v.dir, "later.pem", pem, 0);
	mesh_free(pem);
	while (rec_count(&r) < 1 && now_s() - t0 < 15)
		sleep_ms(20);
	ck_assert_int_eq(rec_count(&r), 1);
	rec_check(&r, v.ca, ID);
	mesh_identity_agent_free(a);
	rec_fini(&r);
	srv_stop(&v);
}
END_TEST

/* ---- stopping ---- */

/* A loopback listener served by @fn (given &*fd) in a thread; *url is
 * its https:// URL. Join *t, then close *fd. */
static void loopback_server(void *(*fn)(void *), int *fd, pthread_t *t, char url[64])
{
	*fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
		                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&sa, sl), 0);
	ck_assert_int_eq(listen(*fd, 4), 0);
	getsockname(*fd, (struct sockaddr *)&sa, &sl);
	ck_assert_int_eq(pthread_create(t, NULL, fn, fd), 0);
	snprintf(url, 64, "https://127.0.0.1:%u", ntohs(sa.sin_port));
}

static void *hang_main(void *arg)
{
	int fd = *(int *)arg, c = accept(fd, NULL, NULL);
	sleep_ms(3000); /* say nothing */
	if (c >= 0)
		close(c);
	return NULL;
}

/* A "server" that answers a byte every 100 ms (a TLS record header,
 * then a body that never ends): every single wait would be short, the
 * exchange is not. */
static void *trickle_main(void *arg)
{
	int fd = *(int *)arg, c = accept(fd, NULL, NULL);
	static const unsigned char rec[] = { 0x16, 0x03, 0x03, 0x40, 0x00 };
	for (int i = 0; c >= 0 && i < 40; i++) {
		unsigned char b = i < 5 ? rec[i] : 0x02;
		if (send(c, &b, 1, MSG_NOSIGNAL) != 1)
			break;
		sleep_ms(100);
	}
	if (c >= 0)
		close(c);
	return NULL;
}

START_TEST(exchange_deadline)
{
	int fd;
	pthread_t t;
	char url[64];
	loopback_server(trickle_main, &fd, &t, url);
	struct mesh__url u;
	ck_assert_int_eq(mesh__url_parse(url, &u, NULL), 0);
	mesh_ca *ca = new_root();
	char *roots = bundle_pem(ca);
	struct mesh__https_request r = { .method = "GET",
		                         .path = "/v1/bundle",
		                         .server_name = "localhost",
		                         .trust_pem = roots,
		                         .wake_fd = -1,
		                         .timeout_ms = 1000 };
	int status = 0;
	char *body = NULL;
	mesh_diag *d = NULL;
	mesh_diag_new(&d);
	double t0 = now_s();
	size_t blen = 0;
	int rc = mesh__https_request(&u, &r, &status, &body, &blen, d);
	double took = now_s() - t0;
	ck_assert_int_eq(rc, MESH_EIO);
	REQUIRE(took > 0.8 && took < 2.5); /* the 1 s budget, not 4 s of trickle */
	REQUIRE(diag_has(d, "timed out during the TLS handshake (the whole exchange has 1.0 s)"));
	mesh_diag_free(d);
	mesh__free(body);
	mesh_free(roots);
	mesh_ca_free(ca);
	mesh__url_fini(&u);
	pthread_join(t, NULL);
	close(fd);
}
END_TEST

START_TEST(stops_promptly)
{
	struct srv v;
	struct rec r;
	srv_start(&v, 0);
	rec_init(&r);
	struct mesh_identity_agent_options o = ca_opts(&v, &r);

	/* Asleep until a renewal 12 h away. */
	mesh_identity_agent *a = agent_new(&o);
	ck_assert_int_eq(agent_fetch(a, NULL), 0);
	ck_assert_int_eq(mesh_identity_agent_start(a), 0);
	sleep_ms(100);
	double s = now_s();
	mesh_identity_agent_stop(a);
	REQUIRE(now_s() - s < 1.0);
	mesh_identity_agent_stop(a); /* again: no-op */
	/* A stopped agent starts again. */
	ck_assert_int_eq(mesh_identity_agent_start(a), 0);
	s = now_s();
	mesh_identity_agent_free(a);
	REQUIRE(now_s() - s < 1.0);

	/* In the middle of a TLS handshake with a server that never answers. */
	int fd;
	pthread_t t;
	char url[64];
	loopback_server(hang_main, &fd, &t, url);
	o.ca_url = url;
	a = agent_new(&o);
	ck_assert_int_eq(mesh_identity_agent_start(a), 0);
	sleep_ms(300);
	s = now_s();
	mesh_identity_agent_stop(a);
	REQUIRE(now_s() - s < 1.0);
	REQUIRE(!rec_log_has(&r, "failed")); /* a stop is no failure */
	mesh_identity_agent_free(a);
	pthread_join(t, NULL);
	close(fd);

	rec_fini(&r);
	srv_stop(&v);
}
END_TEST

/* ---- certificate directory ---- */

struct set {
	char *cert, *key;
};

static struct set issue(const mesh_ca *ca, const char *id)
{
	struct set s = { NULL, NULL };
	ck_assert_int_eq(mesh_ca_issue(ca, id, 0, 3600, &s.cert, &s.key, NULL), 0);
	return s;
}

static void set_free(struct set *s)
{
	mesh_free(s->cert);
	mesh_free(s->key);
}

static bool rec_cert_is(struct rec *r, const char *cert)
{
	pthread_mutex_lock(&r->mu);
	bool same = r->cert && !strcmp(r->cert, cert);
	pthread_mutex_unlock(&r->mu);
	return same;
}

/* A cert dir's SVID nobody replaces: one warning when a quarter of its
 * lifetime is left, one error when it has expired; a new set quiets it. */
START_TEST(cert_dir_expiry)
{
	mesh_ca *ca = new_root();
	char *dir = tmpdir(), *bundle = bundle_pem(ca);
	struct set s1 = { NULL, NULL };
	ck_assert_int_eq(mesh_ca_issue(ca, ID, 0, 2, &s1.cert, &s1.key, NULL), 0);
	struct set s2 = issue(ca, ID);
	struct rec r;
	rec_init(&r);
	struct mesh_identity_agent_options o = {
		.struct_size = sizeof(o),
		.cert_dir = dir,
		.poll_ms = 20,
		.on_update = rec_update,
		.log = rec_log,
		.arg = &r,
	};
	put(dir, "cert.pem", s1.cert, 0);
	put(dir, "key.pem", s1.key, 1);
	put(dir, "trust-bundle.pem", bundle, 0);
	mesh_identity_agent *a = agent_new(&o);
	ck_assert_int_eq(agent_fetch(a, NULL), 0);
	ck_assert_int_eq(mesh_identity_agent_start(a), 0);
	/* issued backdated for clock skew: a quarter of its life is left at once */
	double t0 = now_s();
	while (!rec_log_has(&r, "has not been replaced") && now_s() - t0 < 10)
		sleep_ms(10);
	REQUIRE(rec_log_has(&r, "warning: the SVID " ID " from "));
	REQUIRE(rec_log_has(&r, "has not been replaced"));
	while (!rec_log_has(&r, "expired at") && now_s() - t0 < 10)
		sleep_ms(10);
	REQUIRE(rec_log_has(&r, "error: the SVID " ID " from "));
	REQUIRE(rec_log_has(&r, "peers refuse it until the files are replaced"));
	sleep_ms(200); /* several polls: said once each */
	pthread_mutex_lock(&r.mu);
	const char *p = strstr(r.log, "has not been replaced");
	const char *q = strstr(r.log, "expired at");
	REQUIRE(p && !strstr(p + 1, "has not been replaced"));
	REQUIRE(q && !strstr(q + 1, "expired at"));
	r.log[0] = '\0';
	pthread_mutex_unlock(&r.mu);

	/* replaced: taken, and nothing more to say about it */
	put(dir, "cert.pem", s2.cert, 0);
	put(dir, "key.pem", s2.key, 1);
	t0 = now_s();
	while (!rec_cert_is(&r, s2.cert) && now_s() - t0 < 10)
		sleep_ms(10);
	REQUIRE(rec_cert_is(&r, s2.cert));
	sleep_ms(200);
	REQUIRE(!rec_log_has(&r, "has not been replaced") && !rec_log_has(&r, "expired at"));
	mesh_identity_agent_stop(a);
	mesh_identity_agent_free(a);
	set_free(&s1);
	set_free(&s2);
	mesh_free(bundle);
	mesh_ca_free(ca);
	rec_fini(&r);
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(cert_dir)
{
	mesh_ca *ca = new_root();
	char *dir = tmpdir(), *bundle = bundle_pem(ca);
	struct set s1 = issue(ca, ID), s2 = issue(ca, ID), s3 = issue(ca, ID);
	struct rec r;
	rec_init(&r);
	struct mesh_identity_agent_options o = {
		.struct_size = sizeof(o),
		.cert_dir = dir,
		.poll_ms = 20,
		.on_update = rec_update,
		.log = rec_log,
		.arg = &r,
	};
	mesh_identity_agent *a = agent_new(&o);

	/* Nothing there yet. */
	mesh_diag *d = NULL;
	ck_assert_int_eq(agent_fetch(a, &d), MESH_EIO);
	REQUIRE(diag_has(d, "cannot open"));
	mesh_diag_free(d);

	put(dir, "cert.pem", s1.cert, 0);
	put(dir, "key.pem", s1.key, 1);
	put(dir, "trust-bundle.pem", bundle, 0);
	ck_assert_int_eq(agent_fetch(a, NULL), 0);
	ck_assert_int_eq(rec_count(&r), 1);
	REQUIRE(rec_cert_is(&r, s1.cert));
	int64_t na1 = rec_check(&r, ca, ID), na, next;
	ck_assert_int_eq(mesh_identity_agent_start(a), 0);

	/* Replaced whole: picked up. */
	put(dir, "cert.pem", s2.cert, 0);
	put(dir, "key.pem", s2.key, 1);
	double t0 = now_s();
	while (!rec_cert_is(&r, s2.cert) && now_s() - t0 < 10)
		sleep_ms(10);
	REQUIRE(rec_cert_is(&r, s2.cert));
	rec_check(&r, ca, ID);
	int n = rec_count(&r);
	ck_assert_int_eq(n, 2); /* the half-replaced set in between is refused, not taken */
	pthread_mutex_lock(&r.mu);
	r.log[0] = '\0';
	pthread_mutex_unlock(&r.mu);

	/* A certificate without its key: refused, the last good one stays. */
	put(dir, "cert.pem", s3.cert, 0);
	t0 = now_s();
	while (!rec_log_has(&r, "does not belong to the certificate") && now_s() - t0 < 10)
		sleep_ms(10);
	REQUIRE(rec_log_has(&r,
	                    "warning: new files refused, the current identity stays: cert dir"));
	REQUIRE(rec_log_has(&r, "the private key does not belong to the certificate"));
	sleep_ms(200); /* several polls: refused once, not again and again */
	ck_assert_int_eq(rec_count(&r), n);
	REQUIRE(rec_cert_is(&r, s2.cert));
	ck_assert_int_eq(mesh_identity_agent_status(a, &na, &next, NULL), 0);
	REQUIRE(na >= na1 && next == 0);
	pthread_mutex_lock(&r.mu);
	const char *p = strstr(r.log, "does not belong");
	REQUIRE(p && !strstr(p + 1, "does not belong"));
	pthread_mutex_unlock(&r.mu);

	/* Its key arrives: taken. */
	put(dir, "key.pem", s3.key, 1);
	t0 = now_s();
	while (!rec_cert_is(&r, s3.cert) && now_s() - t0 < 10)
		sleep_ms(10);
	REQUIRE(rec_cert_is(&r, s3.cert));
	ck_assert_int_eq(rec_count(&r), n + 1);

	/* Touched or rewritten with the same contents: no update. */
	put(dir, "cert.pem", s3.cert, 0);
	sleep_ms(200);
	ck_assert_int_eq(rec_count(&r), n + 1);

	/* An SVID of another trust domain's CA: refused. */
	mesh_ca *other = NULL;
	ck_assert_int_eq(mesh_ca_new_root(&other, "other.example", 0, 0, NULL), 0);
	struct set s4 = issue(other, "spiffe://other.example/ns/x/sa/y");
	put(dir, "cert.pem", s4.cert, 0);
	put(dir, "key.pem", s4.key, 1);
	t0 = now_s();
	while (!rec_log_has(&r, "does not chain") && !rec_log_has(&r, "trust domain") &&
	       now_s() - t0 < 10)
		sleep_ms(10);
	REQUIRE(rec_log_has(&r, "does not chain") || rec_log_has(&r, "trust domain"));
	REQUIRE(rec_cert_is(&r, s3.cert));

	uint64_t renewals = 0;
	ck_assert_int_eq(mesh_identity_agent_status(a, NULL, NULL, &renewals), 0);
	ck_assert_uint_eq(renewals, (uint64_t)rec_count(&r) - 1);
	double s = now_s();
	mesh_identity_agent_stop(a);
	REQUIRE(now_s() - s < 1.0);
	mesh_identity_agent_free(a);

	/* With spiffe_id: only that ID. */
	put(dir, "cert.pem", s1.cert, 0);
	put(dir, "key.pem", s1.key, 1);
	o.spiffe_id = "spiffe://cluster.local/ns/default/sa/ratings";
	a = agent_new(&o);
	ck_assert_int_eq(agent_fetch(a, &d), MESH_EINVAL);
	REQUIRE(diag_has(d, "the SVID is for " ID ", not for spiffe://"));
	mesh_diag_free(d);
	mesh_identity_agent_free(a);

	set_free(&s1);
	set_free(&s2);
	set_free(&s3);
	set_free(&s4);
	mesh_ca_free(other);
	mesh_free(bundle);
	mesh_ca_free(ca);
	rec_fini(&r);
	rm_rf(dir);
	free(dir);
}
END_TEST

static Suite *agent_suite(void)
{
	Suite *s = suite_create("agent");
	TCase *t = tcase_create("agent");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, options_refused);
	tcase_add_test(t, url_parts);
	tcase_add_test(t, enrol_with_token);
	tcase_add_test(t, slow_client_cut_off);
	tcase_add_test(t, untrusted_server);
	tcase_add_test(t, rejected_update);
	tcase_add_test(t, ca_rotation);
	tcase_add_test(t, renews_at_half_life);
	tcase_add_test(t, enrols_from_the_thread_and_retries);
	tcase_add_test(t, stops_promptly);
	tcase_add_test(t, exchange_deadline);
	tcase_add_test(t, cert_dir);
	tcase_add_test(t, cert_dir_expiry);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(agent_suite());
}
