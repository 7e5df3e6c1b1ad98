/* agent.c - the identity agent: keeps a workload's SVID fresh, from a
 * certificate directory (polled) or from a CA server (enrolment with a
 * bootstrap token, then renewal at half-life authenticated by the current
 * SVID), and hands each identity, checked, to the host's callback.
 *
 * One thread at most. The fields a round works on belong to whichever
 * thread runs the agent - the caller of fetch(), or the agent's thread -
 * and never to both at once (fetch() refuses while the thread runs); only
 * the status figures are shared, under a mutex. */
#include "identity_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#define POLL_MS_DEFAULT 1000
#define POLL_MS_MAX ((int64_t)24 * 3600 * 1000)
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define SLEEP_SLICE_MS 10000 /* re-read the wall clock at least this often */
#define TOKEN_MAX 512

enum { F_CERT, F_KEY, F_BUNDLE, NFILES };
static const char *const file_names[NFILES] = { "cert.pem", "key.pem", "trust-bundle.pem" };

/* What stat() says of one file of a cert dir: a change of any field means
 * the file was replaced or rewritten. */
struct file_sig {
	int err; /* errno of stat(); 0 when the file is there */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* An identity as handed to on_update. */
struct ident {
	char *cert, *key, *bundle;
	char *id;                      /* the SVID's SPIFFE ID */
	int64_t not_before, not_after; /* Unix s */
};

struct mesh_identity_agent {
	/* Options, copied. */
	char *cert_dir, *ca_bundle_file, *token_file, *spiffe_id, *server_name;
	char *state_dir; /* with ca_url: where each identity is kept for a restart */
	char *td;        /* of spiffe_id, or NULL */
	struct mesh__url url;
	int key_type;
	int64_t poll_ms;
	int (*on_update)(void *arg, const char *cert, const char *key, const char *bundle);
	void (*log)(void *arg, int level, const char *line);
	void *arg;

	/* Owned by the thread running the agent (see the file comment). */
	struct ident cur;             /* newest valid identity held; renewals present it */
	char *token;                  /* during one exchange only */
	struct file_sig seen[NFILES]; /* cert dir: the set last handled, accepted or refused */
	bool seen_valid;
	unsigned failures; /* in a row, for the backoff */
	int expiry_said;   /* cert dir: 1 "expires soon" logged, 2 "expired" logged */
	int64_t next_ms;   /* next round, Unix ms; 0: at once */
	int wake[2];       /* stop() writes to wake[1] */

	/* Shared, under mu. */
	pthread_mutex_t mu;
	pthread_t thread;
	bool running;
	bool accepted_one;
	int64_t st_not_after, st_next;
	uint64_t st_renewals;
};

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void secret_free(char *p)
{
	if (p) {
		OPENSSL_cleanse(p, strlen(p));
		mesh__free(p);
	}
}

static void ident_clear(struct ident *id)
{
	mesh__free(id->cert);
	secret_free(id->key);
	mesh__free(id->bundle);
	mesh__free(id->id);
	memset(id, 0, sizeof(*id));
}

static void alog(const mesh_identity_agent *a, int level, const char *fmt, ...) MESH_PRINTF(3, 4);

static void alog(const mesh_identity_agent *a, int level, const char *fmt, ...)
{
	if (!a->log)
		return;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	va_list ap;
	va_start(ap, fmt);
	mesh__sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	a->log(a->arg, level, sb.oom ? "(out of memory formatting a log line)" : sb.buf);
	mesh__sb_fini(&sb);
}

/* Each entry of @d as a log line "PREFIX: [FILE: ]MESSAGE". */
static void log_diag(const mesh_identity_agent *a, int level, const char *prefix,
                     const mesh_diag *d)
{
	if (!d) {
		alog(a, level, "%s: out of memory", prefix);
		return;
	}
	for (size_t i = 0; i < mesh_diag_count(d); i++) {
		const char *f = mesh_diag_file(d, i);
		alog(a, mesh_diag_severity(d, i) < level ? mesh_diag_severity(d, i) : level,
		     "%s: %s%s%s", prefix, f ? f : "", f ? ": " : "", mesh_diag_message(d, i));
	}
}

/* Copy @from into @to, with @prefix before the messages that name no file. */
static void diag_relay(mesh_diag *to, const mesh_diag *from, const char *prefix)
{
	for (size_t i = 0; from && i < mesh_diag_count(from); i++) {
		const char *f = mesh_diag_file(from, i);
		mesh__diag_add(to, mesh_diag_severity(from, i), mesh_diag_code(from, i), f,
		               mesh_diag_line(from, i), mesh_diag_column(from, i),
		               mesh_diag_path(from, i), "%s%s", f ? "" : prefix,
		               mesh_diag_message(from, i));
	}
}

static bool stopping(const mesh_identity_agent *a)
{
	struct pollfd p = { .fd = a->wake[0], .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

static void drain(const mesh_identity_agent *a)
{
	char buf[16];
	while (read(a->wake[0], buf, sizeof(buf)) > 0)
		;
}

/* ---- checks and hand-over ---- */

/* @cert, @key and @bundle hold together: the SVID is valid by the bundle,
 * the key is its key, the ID is the one asked for. On success @out gets
 * the bundle as PEM of its certificates only, the SVID's ID and notAfter. */
static int check_identity(const mesh_identity_agent *a, const char *cert, const char *key,
                          const char *bundle, const char *bundle_name, struct ident *out,
                          mesh_diag *diag)
{
	mesh_bundle *b = NULL;
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *pk = NULL;
	char *id = NULL;
	int st = 0, rc;
	if ((rc = mesh_bundle_new(&b, a->td)) ||
	    (rc = mesh_bundle_add(b, bundle, strlen(bundle), bundle_name, diag)) ||
	    (rc = mesh__svid_load(cert, strlen(cert), key, strlen(key), &leaf, &chain, &pk,
	                          diag)) ||
	    (rc = mesh__svid_verify_x509(b, leaf, chain, 0, &st, &id, diag)))
		goto out;
	if (a->spiffe_id && strcmp(id, a->spiffe_id) != 0) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "the SVID is for %s, not for %s", id, a->spiffe_id);
		rc = MESH_EINVAL;
		goto out;
	}
	out->not_before = mesh__asn1_time_unix(X509_get0_notBefore(leaf));
	out->not_after = mesh__asn1_time_unix(X509_get0_notAfter(leaf));
	if ((rc = mesh_bundle_to_pem(b, &out->bundle)))
		goto out;
	out->id = id;
	id = NULL;
out:
	mesh__free(id);
	EVP_PKEY_free(pk);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	mesh_bundle_free(b);
	ERR_clear_error();
	return rc;
}

/* Hand @id to on_update. */
static int deliver(mesh_identity_agent *a, const struct ident *id, mesh_diag *diag)
{
	int r = a->on_update(a->arg, id->cert, id->key, id->bundle);
	if (r) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "on_update rejected the new identity (returned %d)", r);
		return MESH_EINVAL;
	}
	pthread_mutex_lock(&a->mu);
	a->st_not_after = id->not_after;
	if (a->accepted_one)
		a->st_renewals++;
	a->accepted_one = true;
	pthread_mutex_unlock(&a->mu);
	return 0;
}

/* ---- CA server ---- */

/* Roots the CA server's chain must lead to: ca_bundle_file, joined with
 * the bundle the server handed out last (a rotation may have moved the
 * server to a new root that only that bundle has yet). */
static int server_trust(mesh_identity_agent *a, char **out, mesh_diag *diag)
{
	char *file = NULL;
	mesh_diag *tmp = NULL;
	int rc = mesh_diag_new(&tmp);
	if (rc)
		return rc;
	rc = mesh_identity_read_file(a->ca_bundle_file, &file, NULL, tmp);
	if (rc && a->cur.bundle) {
		log_diag(a, MESH_SEV_WARNING, "using the last trust bundle from the CA server",
		         tmp);
		rc = 0;
	} else if (rc) {
		diag_relay(diag, tmp, "");
		goto out;
	}
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	if (file)
		mesh__sb_printf(&sb, "%s\n", file);
	if (a->cur.bundle)
		mesh__sb_puts(&sb, a->cur.bundle);
	if (!(*out = mesh__sb_steal(&sb)))
		rc = MESH_ENOMEM;
out:
	mesh__free(file);
	mesh_diag_free(tmp);
	return rc;
}

static int token_read(mesh_identity_agent *a, mesh_diag *diag)
{
	char *data = NULL;
	size_t len = 0;
	int rc = mesh_identity_read_file(a->token_file, &data, &len, diag);
	if (rc)
		return rc;
	size_t s = 0, e = len;
	while (s < e && strchr(" \t\r\n", data[s]))
		s++;
	while (e > s && strchr(" \t\r\n", data[e - 1]))
		e--;
	bool ok = e > s && e - s <= TOKEN_MAX;
	for (size_t i = s; ok && i < e; i++)
		ok = data[i] > 0x20 && data[i] < 0x7f;
	if (!ok) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, a->token_file, 0, 0, NULL,
		               "want one bootstrap token (up to %d printable characters, no white "
		               "space inside)",
		               TOKEN_MAX);
		rc = MESH_EINVAL;
	} else if (!(a->token = mesh__strndup(data + s, e - s))) {
		rc = MESH_ENOMEM;
	}
	OPENSSL_cleanse(data, len);
	mesh__free(data);
	return rc;
}

/* A non-200 answer: its code and the first line of its text. */
static int http_error(const mesh_identity_agent *a, int status, const char *body, mesh_diag *diag)
{
	char text[201];
	size_t n = strcspn(body, "\r\n");
	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	for (size_t i = 0; i < n; i++)
		text[i] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : '?';
	text[n] = '\0';
	mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL, "CA server %s: %d %s",
	               a->url.url, status, n ? text : "(no reason given)");
	return status >= 500 ? MESH_EIO : MESH_EINVAL;
}

static double jitter(void)
{
	uint32_t u;
	if (RAND_bytes((unsigned char *)&u, sizeof(u)) != 1) {
		ERR_clear_error();
		return 0;
	}
	return ((double)u / 4294967295.0 - 0.5) * 0.2; /* -0.1 .. +0.1 */
}

/* One exchange with the CA server: a new key and CSR, POST /v1/sign with
 * the current SVID (or the bootstrap token), GET /v1/bundle, the checks,
 * then on_update. The identity becomes the current one once it passed the
 * checks, even if on_update rejects it: the token it cost is gone, and it
 * authenticates the next attempt. */
static void state_save(mesh_identity_agent *a);

static int enrol(mesh_identity_agent *a, mesh_diag *diag)
{
	char *trust = NULL, *csr = NULL, *cert = NULL, *bundle = NULL;
	struct ident next = { 0 };
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *pk = NULL;
	mesh_diag *tmp = NULL;
	bool renewal = a->cur.cert && a->cur.not_after > mesh__now();
	int status = 0, rc;
	char when[32];
	if ((rc = server_trust(a, &trust, diag)))
		goto out;
	if (renewal) {
		if ((rc = mesh__svid_load(a->cur.cert, strlen(a->cur.cert), a->cur.key,
		                          strlen(a->cur.key), &leaf, &chain, &pk, diag)))
			goto out;
	} else {
		if (a->cur.cert)
			alog(a, MESH_SEV_WARNING,
			     "the SVID expired at %s before it could be renewed; "
			     "enrolling again with the bootstrap token in %s",
			     mesh__fmt_time(a->cur.not_after, when), a->token_file);
		if ((rc = token_read(a, diag)))
			goto out;
	}
	if ((rc = mesh_csr_new(a->spiffe_id, a->key_type, &csr, &next.key, diag)))
		goto out;
	struct mesh__https_request sign = {
		.method = "POST",
		.path = "/v1/sign",
		.server_name = a->server_name,
		.trust_pem = trust,
		.bearer = renewal ? NULL : a->token,
		.content_type = "application/pkcs10",
		.body = csr,
		.body_len = strlen(csr),
		.cert = leaf,
		.chain = chain,
		.key = pk,
		.wake_fd = a->wake[0],
	};
	rc = mesh__https_request(&a->url, &sign, &status, &cert, NULL, diag);
	secret_free(a->token); /* used, or refused; read again if ever needed */
	a->token = NULL;
	if (rc)
		goto out;
	if (status != 200) {
		rc = http_error(a, status, cert, diag);
		goto out;
	}
	struct mesh__https_request get = {
		.method = "GET",
		.path = "/v1/bundle",
		.server_name = a->server_name,
		.trust_pem = trust,
		.wake_fd = a->wake[0],
	};
	if ((rc = mesh__https_request(&a->url, &get, &status, &bundle, NULL, diag)))
		goto out;
	if (status != 200) {
		rc = http_error(a, status, bundle, diag);
		goto out;
	}
	if ((rc = mesh_diag_new(&tmp)))
		goto out;
	next.cert = cert;
	cert = NULL;
	if ((rc = check_identity(a, next.cert, next.key, bundle, "GET /v1/bundle", &next, tmp))) {
		struct mesh__sb p;
		mesh__sb_init(&p);
		mesh__sb_printf(&p,
		                "CA server %s: the identity it issued is refused: ", a->url.url);
		diag_relay(diag, tmp, mesh__sb_str(&p));
		mesh__sb_fini(&p);
		goto out;
	}
	ident_clear(&a->cur);
	a->cur = next;
	memset(&next, 0, sizeof(next));
	int64_t now = now_ms(), left = a->cur.not_after * 1000 - now;
	a->next_ms = now + (int64_t)((double)left * 0.5 * (1.0 + jitter()));
	state_save(a);
	rc = deliver(a, &a->cur, diag);
out:
	secret_free(a->token);
	a->token = NULL;
	ident_clear(&next);
	mesh__free(trust);
	mesh__free(csr);
	mesh__free(cert);
	mesh__free(bundle);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(pk);
	mesh_diag_free(tmp);
	ERR_clear_error();
	return rc;
}

/* ---- the state dir: an enrolled identity outlives a restart ---- */

/* Write the identity in use (key 0600, each file replaced whole); a failure
 * is a warning: the identity is in use either way. */
static void state_save(mesh_identity_agent *a)
{
	if (!a->state_dir)
		return;
	const char *data[NFILES] = { a->cur.cert, a->cur.key, a->cur.bundle };
	mesh_diag *d = NULL;
	mesh_diag_new(&d);
	/* the key last: a reader of the dir sees the new certificate with the
	 * old key only for a moment, and refuses that pair */
	static const int order[NFILES] = { F_BUNDLE, F_CERT, F_KEY };
	for (int k = 0; k < NFILES; k++) {
		int i = order[k];
		struct mesh__sb p;
		mesh__sb_init(&p);
		mesh__sb_printf(&p, "%s/%s", a->state_dir, file_names[i]);
		int rc = p.oom ? MESH_ENOMEM
		               : mesh_identity_write_file(p.buf, data[i], strlen(data[i]),
		                                          i == F_KEY, d);
		mesh__sb_fini(&p);
		if (rc) {
			log_diag(a, MESH_SEV_WARNING, "cannot keep the identity in the state dir",
			         d);
			break;
		}
	}
	mesh_diag_free(d);
}

/* At start: an identity kept by an earlier run, still valid and for our ID,
 * is taken instead of spending a token. Returns 0 when one was taken. */
static int state_load(mesh_identity_agent *a)
{
	char *data[NFILES] = { NULL };
	struct ident id = { 0 };
	mesh_diag *d = NULL;
	int rc = mesh_diag_new(&d);
	for (int i = 0; i < NFILES && !rc; i++) {
		struct mesh__sb p;
		mesh__sb_init(&p);
		mesh__sb_printf(&p, "%s/%s", a->state_dir, file_names[i]);
		rc = p.oom ? MESH_ENOMEM : mesh_identity_read_file(p.buf, &data[i], NULL, d);
		mesh__sb_fini(&p);
	}
	if (rc) /* nothing kept yet: the normal case of a first start */
		goto out;
	rc = check_identity(a, data[F_CERT], data[F_KEY], data[F_BUNDLE], "trust-bundle.pem", &id,
	                    d);
	if (!rc && id.not_after <= mesh__now())
		rc = MESH_EINVAL;
	if (rc) {
		log_diag(a, MESH_SEV_WARNING, "the identity in the state dir is not usable", d);
		goto out;
	}
	id.cert = data[F_CERT];
	id.key = data[F_KEY];
	data[F_CERT] = data[F_KEY] = NULL;
	ident_clear(&a->cur);
	a->cur = id;
	memset(&id, 0, sizeof(id));
	int64_t now = now_ms(), left = a->cur.not_after * 1000 - now;
	a->next_ms = now + (int64_t)((double)left * 0.5 * (1.0 + jitter()));
out:
	ident_clear(&id);
	mesh__free(data[F_CERT]);
	secret_free(data[F_KEY]);
	mesh__free(data[F_BUNDLE]);
	mesh_diag_free(d);
	return rc;
}

/* After a failed round: 1, 2, 4 ... 60 s, and at most half the time the
 * SVID has left, so that several attempts fit before it expires. */
static int64_t backoff(mesh_identity_agent *a, int64_t now)
{
	unsigned f = a->failures < 7 ? a->failures : 7;
	a->failures++;
	int64_t d = (int64_t)BACKOFF_MIN_MS << f;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	int64_t left = a->cur.cert ? a->cur.not_after * 1000 - now : 0;
	if (left > 0 && d > left / 2)
		d = left / 2 > BACKOFF_MIN_MS ? left / 2 : BACKOFF_MIN_MS;
	return d;
}

static void ca_round(mesh_identity_agent *a)
{
	mesh_diag *d = NULL;
	mesh_diag_new(&d);
	bool renewal = a->cur.cert && a->cur.not_after > mesh__now();
	int rc = d ? enrol(a, d) : MESH_ENOMEM;
	char t1[32], t2[32];
	if (rc == 0) {
		a->failures = 0;
		alog(a, MESH_SEV_NOTE, "%s %s (expires %s; next renewal at %s)",
		     renewal ? "renewed" : "enrolled", a->spiffe_id,
		     mesh__fmt_time(a->cur.not_after, t1), mesh__fmt_time(a->next_ms / 1000, t2));
	} else if (!stopping(a)) {
		int64_t now = now_ms(), delay = backoff(a, now);
		a->next_ms = now + delay;
		log_diag(a, MESH_SEV_ERROR, renewal ? "renewal failed" : "enrolment failed", d);
		alog(a, MESH_SEV_NOTE, "next attempt in %lld.%lld s", (long long)(delay / 1000),
		     (long long)(delay % 1000 / 100));
	}
	mesh_diag_free(d);
}

/* ---- certificate directory ---- */

static void sig_read(const mesh_identity_agent *a, struct file_sig sig[NFILES])
{
	for (int i = 0; i < NFILES; i++) {
		struct mesh__sb p;
		struct stat st;
		mesh__sb_init(&p);
		mesh__sb_printf(&p, "%s/%s", a->cert_dir, file_names[i]);
		memset(&sig[i], 0, sizeof(sig[i]));
		if (p.oom)
			sig[i].err = ENOMEM;
		else if (stat(p.buf, &st) != 0)
			sig[i].err = errno ? errno : EIO;
		else {
			sig[i].dev = st.st_dev;
			sig[i].ino = st.st_ino;
			sig[i].size = st.st_size;
			sig[i].mtime = st.st_mtim;
		}
		mesh__sb_fini(&p);
	}
}

static bool sig_eq(const struct file_sig *x, const struct file_sig *y)
{
	for (int i = 0; i < NFILES; i++)
		if (x[i].err != y[i].err || x[i].dev != y[i].dev || x[i].ino != y[i].ino ||
		    x[i].size != y[i].size || x[i].mtime.tv_sec != y[i].mtime.tv_sec ||
		    x[i].mtime.tv_nsec != y[i].mtime.tv_nsec)
			return false;
	return true;
}

/* Read and check the three files, whose signatures (taken just before) are
 * @sig. Returns 0, 1 when a file changed while being read (try again), or
 * a negative code with the reasons in @diag. */
static int dir_read(mesh_identity_agent *a, const struct file_sig sig[NFILES], struct ident *out,
                    mesh_diag *diag)
{
	char *data[NFILES] = { NULL };
	struct file_sig after[NFILES];
	struct mesh__sb path;
	mesh_diag *tmp = NULL;
	mesh__sb_init(&path);
	int rc = mesh_diag_new(&tmp);
	for (int i = 0; i < NFILES && !rc; i++) {
		mesh__sb_truncate(&path, 0);
		mesh__sb_printf(&path, "%s/%s", a->cert_dir, file_names[i]);
		rc = path.oom ? MESH_ENOMEM
		              : mesh_identity_read_file(path.buf, &data[i], NULL, tmp);
	}
	if (rc)
		goto out;
	sig_read(a, after);
	if (!sig_eq(sig, after)) {
		rc = 1;
		goto out;
	}
	rc = check_identity(a, data[F_CERT], data[F_KEY], data[F_BUNDLE], path.buf, out, tmp);
	if (rc == 0) {
		out->cert = data[F_CERT];
		out->key = data[F_KEY];
		data[F_CERT] = data[F_KEY] = NULL;
	}
out:
	if (rc < 0) {
		mesh__sb_truncate(&path, 0);
		mesh__sb_printf(&path, "cert dir %s: ", a->cert_dir);
		diag_relay(diag, tmp, mesh__sb_str(&path));
	}
	mesh__free(data[F_CERT]);
	secret_free(data[F_KEY]);
	mesh__free(data[F_BUNDLE]);
	mesh__sb_fini(&path);
	mesh_diag_free(tmp);
	return rc;
}

static bool ident_same(const struct ident *x, const struct ident *y)
{
	return x->cert && y->cert && !strcmp(x->cert, y->cert) && !strcmp(x->key, y->key) &&
	       !strcmp(x->bundle, y->bundle);
}

/* Take @id (checked) as the current identity, unless it is the current one
 * already (a file touched, or rewritten with the same contents). */
static int dir_adopt(mesh_identity_agent *a, struct ident *id, const struct file_sig sig[NFILES],
                     mesh_diag *diag)
{
	int rc = ident_same(id, &a->cur) ? 0 : deliver(a, id, diag);
	if (rc)
		return rc;
	bool changed = !ident_same(id, &a->cur);
	if (changed)
		a->expiry_said = 0;
	ident_clear(&a->cur);
	a->cur = *id;
	memset(id, 0, sizeof(*id));
	memcpy(a->seen, sig, sizeof(a->seen));
	a->seen_valid = true;
	return changed ? 0 : 1;
}

static int dir_fetch(mesh_identity_agent *a, mesh_diag *diag)
{
	struct file_sig sig[NFILES];
	struct ident id = { 0 };
	int rc = 1;
	for (int tries = 0; rc == 1 && tries < 20; tries++) {
		if (tries)
			poll(NULL, 0, 50); /* a writer is replacing the files */
		sig_read(a, sig);
		rc = dir_read(a, sig, &id, diag);
	}
	if (rc == 1) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "cert dir %s: the files keep changing while being read",
		               a->cert_dir);
		rc = MESH_EIO;
	}
	if (rc == 0 && (rc = dir_adopt(a, &id, sig, diag)) == 1)
		rc = 0;
	ident_clear(&id);
	return rc;
}

/* A cert dir is someone else's to renew: say once when the SVID held has
 * a quarter of its lifetime left and nothing replaced it, and once when it
 * has expired (peers refuse it from then on). */
static void dir_expiry(mesh_identity_agent *a, int64_t now)
{
	if (!a->cur.cert)
		return;
	char t[32];
	int64_t left = a->cur.not_after * 1000 - now;
	int64_t life = (a->cur.not_after - a->cur.not_before) * 1000;
	if (left <= 0 && a->expiry_said < 2) {
		a->expiry_said = 2;
		alog(a, MESH_SEV_ERROR,
		     "the SVID %s from %s expired at %s: peers refuse it until the files are "
		     "replaced",
		     a->cur.id, a->cert_dir, mesh__fmt_time(a->cur.not_after, t));
	} else if (left > 0 && left <= life / 4 && a->expiry_said < 1) {
		a->expiry_said = 1;
		alog(a, MESH_SEV_WARNING,
		     "the SVID %s from %s expires at %s (in %lld s) and has not been replaced",
		     a->cur.id, a->cert_dir, mesh__fmt_time(a->cur.not_after, t),
		     (long long)((left + 999) / 1000));
	}
}

static void dir_round(mesh_identity_agent *a, int64_t now)
{
	struct file_sig sig[NFILES];
	struct ident id = { 0 };
	mesh_diag *d = NULL;
	a->next_ms = now + a->poll_ms;
	dir_expiry(a, now);
	sig_read(a, sig);
	if (a->seen_valid && sig_eq(sig, a->seen))
		return;
	mesh_diag_new(&d);
	int rc = d ? dir_read(a, sig, &id, d) : MESH_ENOMEM;
	if (rc == 1)
		goto out; /* being replaced: look again at the next poll */
	if (rc < 0) {
		/* Refused: say so once, and wait for the next change. */
		memcpy(a->seen, sig, sizeof(a->seen));
		a->seen_valid = true;
		log_diag(a, MESH_SEV_WARNING, "new files refused, the current identity stays", d);
		goto out;
	}
	rc = dir_adopt(a, &id, sig, d);
	if (rc < 0) {
		int64_t delay = backoff(a, now);
		a->next_ms = now + (delay > a->poll_ms ? delay : a->poll_ms);
		log_diag(a, MESH_SEV_ERROR, "reload failed", d);
	} else if (rc == 0) {
		char t[32];
		a->failures = 0;
		alog(a, MESH_SEV_NOTE, "reloaded %s from %s (expires %s)", a->cur.id, a->cert_dir,
		     mesh__fmt_time(a->cur.not_after, t));
	}
out:
	ident_clear(&id);
	mesh_diag_free(d);
}

/* ---- the thread ---- */

static void publish_next(mesh_identity_agent *a, bool running)
{
	pthread_mutex_lock(&a->mu);
	a->st_next = running && !a->cert_dir ? (a->next_ms + 999) / 1000 : 0;
	pthread_mutex_unlock(&a->mu);
}

static void *agent_main(void *arg)
{
	mesh_identity_agent *a = arg;
	for (;;) {
		int64_t now = now_ms();
		if (now >= a->next_ms) {
			if (a->cert_dir)
				dir_round(a, now);
			else
				ca_round(a);
			ERR_clear_error();
			if (stopping(a))
				break;
			publish_next(a, true);
			continue;
		}
		int64_t wait = a->next_ms - now;
		struct pollfd p = { .fd = a->wake[0], .events = POLLIN };
		if (poll(&p, 1, (int)(wait < SLEEP_SLICE_MS ? wait : SLEEP_SLICE_MS)) > 0)
			break;
	}
	OPENSSL_thread_stop();
	return NULL;
}

/* ---- entry points ---- */

static int bad(mesh_diag *diag, const char *what)
{
	mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL, "identity agent: %s", what);
	return MESH_EINVAL;
}

static int check_options(const struct mesh_identity_agent_options *o, mesh_diag *diag)
{
	if (!o->cert_dir == !o->ca_url)
		return bad(diag, "set exactly one of cert_dir and ca_url");
	if (!o->on_update)
		return bad(diag, "on_update is required");
	if (o->key_type < MESH_KEY_DEFAULT || o->key_type > MESH_KEY_RSA_3072)
		return bad(diag, "key_type is not an enum mesh_key_type for new keys");
	if (o->poll_ms < 0 || o->poll_ms > POLL_MS_MAX)
		return bad(diag, "poll_ms is negative or above a day");
	if (o->ca_url && !o->ca_bundle_file)
		return bad(diag, "ca_url needs ca_bundle_file (the roots to trust the CA server)");
	if (o->ca_url && !o->bootstrap_token_file)
		return bad(diag, "ca_url needs bootstrap_token_file (to enrol)");
	if (o->ca_url && !o->spiffe_id)
		return bad(diag, "ca_url needs spiffe_id (the ID to request)");
	if (o->state_dir && !o->ca_url)
		return bad(diag, "state_dir goes with ca_url");
	if (o->spiffe_id && mesh_spiffe_id_check(o->spiffe_id, diag))
		return MESH_EINVAL;
	if (o->server_name && (!*o->server_name || strpbrk(o->server_name, " \t\r\n/")))
		return bad(diag, "server_name is not a DNS name or IP address");
	return 0;
}

static int dup_opt(char **dst, const char *src)
{
	return !src || (*dst = mesh__strdup(src)) ? 0 : MESH_ENOMEM;
}

MESH_API int mesh_identity_agent_new(const struct mesh_identity_agent_options *o,
                                     mesh_identity_agent **out, mesh_diag *diag)
{
	if (!out)
		return MESH_EINVAL;
	*out = NULL;
	if (!o || o->struct_size < offsetof(struct mesh_identity_agent_options, state_dir))
		return bad(diag, "NULL options or a struct_size too small");
	/* options of an older, smaller layout: the fields it lacks are 0 */
	struct mesh_identity_agent_options oo = { 0 };
	memcpy(&oo, o, o->struct_size < sizeof(oo) ? o->struct_size : sizeof(oo));
	o = &oo;
	int rc = check_options(o, diag);
	if (rc)
		return rc;
	mesh_identity_agent *a = mesh__calloc(1, sizeof(*a));
	if (!a)
		return MESH_ENOMEM;
	a->wake[0] = a->wake[1] = -1;
	pthread_mutex_init(&a->mu, NULL);
	a->key_type = o->key_type;
	a->poll_ms = o->poll_ms ? o->poll_ms : POLL_MS_DEFAULT;
	a->on_update = o->on_update;
	a->log = o->log;
	a->arg = o->arg;
	if ((rc = dup_opt(&a->cert_dir, o->cert_dir)) ||
	    (rc = dup_opt(&a->ca_bundle_file, o->ca_bundle_file)) ||
	    (rc = dup_opt(&a->token_file, o->bootstrap_token_file)) ||
	    (rc = dup_opt(&a->spiffe_id, o->spiffe_id)) ||
	    (rc = dup_opt(&a->state_dir, o->state_dir)) ||
	    (rc = dup_opt(&a->server_name, o->server_name ? o->server_name : "localhost")))
		goto fail;
	if (a->spiffe_id) {
		size_t tdn = 0;
		mesh__spiffe_id_parse(a->spiffe_id, &tdn, false, NULL);
		if (!(a->td = mesh__strndup(a->spiffe_id + 9, tdn))) {
			rc = MESH_ENOMEM;
			goto fail;
		}
	}
	if (o->ca_url && (rc = mesh__url_parse(o->ca_url, &a->url, diag)))
		goto fail;
	if (pipe2(a->wake, O_CLOEXEC | O_NONBLOCK)) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "identity agent: cannot make a pipe: %s", strerror(errno));
		rc = MESH_EIO;
		goto fail;
	}
	*out = a;
	return 0;
fail:
	mesh_identity_agent_free(a);
	return rc;
}

MESH_API int mesh_identity_agent_fetch(mesh_identity_agent *a, mesh_diag *diag)
{
	if (!a)
		return MESH_EINVAL;
	pthread_mutex_lock(&a->mu);
	bool running = a->running;
	pthread_mutex_unlock(&a->mu);
	if (running)
		return bad(diag, "fetch while the agent's thread runs");
	int rc;
	if (a->cert_dir) {
		rc = dir_fetch(a, diag);
		char t[32];
		if (rc == 0)
			alog(a, MESH_SEV_NOTE, "loaded %s from %s (expires %s)", a->cur.id,
			     a->cert_dir, mesh__fmt_time(a->cur.not_after, t));
	} else if (!a->cur.cert && a->state_dir && state_load(a) == 0) {
		char t1[32], t2[32];
		rc = deliver(a, &a->cur, diag);
		if (rc == 0)
			alog(a, MESH_SEV_NOTE,
			     "%s from the state dir %s (expires %s; next renewal at %s)", a->cur.id,
			     a->state_dir, mesh__fmt_time(a->cur.not_after, t1),
			     mesh__fmt_time(a->next_ms / 1000, t2));
	} else {
		bool renewal = a->cur.cert && a->cur.not_after > mesh__now();
		rc = enrol(a, diag);
		if (rc == 0) {
			char t1[32], t2[32];
			a->failures = 0;
			alog(a, MESH_SEV_NOTE, "%s %s (expires %s; next renewal at %s)",
			     renewal ? "renewed" : "enrolled", a->spiffe_id,
			     mesh__fmt_time(a->cur.not_after, t1),
			     mesh__fmt_time(a->next_ms / 1000, t2));
		}
	}
	ERR_clear_error();
	return rc;
}

MESH_API int mesh_identity_agent_start(mesh_identity_agent *a)
{
	if (!a)
		return MESH_EINVAL;
	pthread_mutex_lock(&a->mu);
	int rc = 0;
	if (a->running) {
		rc = MESH_EINVAL;
		goto out;
	}
	drain(a);
	int64_t next = a->cert_dir ? 0 : (a->next_ms + 999) / 1000;
	/* The host's signal handlers run on the host's threads. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&a->thread, NULL, agent_main, a) != 0)
		rc = MESH_EIO;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!rc) {
		a->running = true;
		a->st_next = next;
	}
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

MESH_API void mesh_identity_agent_stop(mesh_identity_agent *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	bool running = a->running;
	pthread_t t = a->thread;
	pthread_mutex_unlock(&a->mu);
	if (!running)
		return;
	ssize_t n = write(a->wake[1], "x", 1);
	(void)n;
	if (pthread_equal(t, pthread_self()))
		return; /* from a callback, against the rules: the thread ends, and
		           a later stop() or free() joins it */
	pthread_join(t, NULL);
	pthread_mutex_lock(&a->mu);
	a->running = false;
	a->st_next = 0;
	pthread_mutex_unlock(&a->mu);
	drain(a);
}

MESH_API void mesh_identity_agent_free(mesh_identity_agent *a)
{
	if (!a)
		return;
	mesh_identity_agent_stop(a);
	ident_clear(&a->cur);
	secret_free(a->token);
	mesh__url_fini(&a->url);
	mesh__free(a->cert_dir);
	mesh__free(a->state_dir);
	mesh__free(a->ca_bundle_file);
	mesh__free(a->token_file);
	mesh__free(a->spiffe_id);
	mesh__free(a->server_name);
	mesh__free(a->td);
	if (a->wake[0] >= 0)
		close(a->wake[0]);
	if (a->wake[1] >= 0)
		close(a->wake[1]);
	pthread_mutex_destroy(&a->mu);
	mesh__free(a);
}

MESH_API int mesh_identity_agent_status(const mesh_identity_agent *ca, int64_t *not_after,
                                        int64_t *next_renew, uint64_t *renewals)
{
	if (!ca)
		return MESH_EINVAL;
	mesh_identity_agent *a = (mesh_identity_agent *)ca; /* for the mutex */
	pthread_mutex_lock(&a->mu);
	if (not_after)
		*not_after = a->st_not_after;
	if (next_renew)
		*next_renew = a->st_next;
	if (renewals)
		*renewals = a->st_renewals;
	pthread_mutex_unlock(&a->mu);
	return 0;
}
