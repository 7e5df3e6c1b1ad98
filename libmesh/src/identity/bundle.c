/* bundle.c - PEM/DER codecs for certificates and keys, and trust bundles. */
#include "identity_int.h"

#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static bool looks_like_pem(const char *data, size_t len)
{
	/* PEM may be preceded by text (openssl x509 -text output); DER starts
	 * with a SEQUENCE tag. */
	return len > 0 && (unsigned char)data[0] != 0x30;
}

int mesh__x509_parse_all(const char *data, size_t len, const char *name, STACK_OF(X509) * *out,
                         mesh_diag *diag)
{
	const char *pre = name ? "" : "certificate: ";
	*out = NULL;
	if (len > MESH__FILE_MAX) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
		               "input too large (%zu bytes, at most %d)", len, MESH__FILE_MAX);
		return MESH_ELIMIT;
	}
	STACK_OF(X509) *sk = sk_X509_new_null();
	if (!sk)
		return mesh__ossl_fail(diag, "allocating a certificate list");
	int rc = 0;
	if (!looks_like_pem(data, len)) {
		const unsigned char *p = (const unsigned char *)data;
		X509 *x = d2i_X509(NULL, &p, (long)len);
		if (!x) {
			ERR_clear_error();
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
			               "%snot a DER certificate", pre);
			rc = MESH_EINVAL;
			goto out;
		}
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			rc = mesh__ossl_fail(diag, "allocating a certificate list");
			goto out;
		}
		goto out;
	}
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	if (!bio) {
		rc = mesh__ossl_fail(diag, "allocating a buffer");
		goto out;
	}
	for (;;) {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (!x) {
			unsigned long e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				ERR_clear_error(); /* the end */
				break;
			}
			if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE) {
				rc = mesh__ossl_fail(diag, "parsing certificates");
				break;
			}
			ERR_clear_error();
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
			               "%scertificate %d is corrupt (bad PEM or DER)", pre,
			               sk_X509_num(sk) + 1);
			rc = MESH_EINVAL;
			break;
		}
		if (sk_X509_num(sk) >= MESH__CHAIN_MAX * 4) {
			X509_free(x);
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
			               "%stoo many certificates", pre);
			rc = MESH_ELIMIT;
			break;
		}
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			rc = mesh__ossl_fail(diag, "allocating a certificate list");
			break;
		}
	}
	BIO_free(bio);
	if (!rc && sk_X509_num(sk) == 0) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
		               "%sno PEM certificate found", pre);
		rc = MESH_EINVAL;
	}
out:
	if (rc)
		sk_X509_pop_free(sk, X509_free);
	else
		*out = sk;
	return rc;
}

/* Encrypted keys are refused rather than prompting on the terminal. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

int mesh__pkey_parse(const char *data, size_t len, const char *name, EVP_PKEY **out,
                     mesh_diag *diag)
{
	const char *pre = name ? "" : "private key: ";
	*out = NULL;
	if (len > MESH__FILE_MAX) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL, "%stoo large", pre);
		return MESH_ELIMIT;
	}
	EVP_PKEY *k = NULL;
	if (looks_like_pem(data, len)) {
		BIO *bio = BIO_new_mem_buf(data, (int)len);
		if (!bio)
			return mesh__ossl_fail(diag, "allocating a buffer");
		k = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
		BIO_free(bio);
	} else {
		const unsigned char *p = (const unsigned char *)data;
		k = d2i_AutoPrivateKey(NULL, &p, (long)len);
	}
	if (!k) {
		unsigned long e = ERR_peek_last_error();
		if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
			return mesh__ossl_fail(diag, "parsing a private key");
		ERR_clear_error();
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
		               "%snot a private key (bad PEM or DER, or encrypted)", pre);
		return MESH_EINVAL;
	}
	*out = k;
	return 0;
}

static int bio_take(BIO *bio, char **out, bool secret)
{
	char *p;
	long n = BIO_get_mem_data(bio, &p);
	char *s = n >= 0 ? mesh__strndup(p, (size_t)n) : NULL;
	(void)secret; /* a secmem BIO clears itself when freed */
	if (!s)
		return MESH_ENOMEM;
	*out = s;
	return 0;
}

int mesh__x509_pem_append(struct mesh__sb *sb, X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio || !PEM_write_bio_X509(bio, x)) {
		BIO_free(bio);
		ERR_clear_error();
		return MESH_ENOMEM;
	}
	char *p;
	long n = BIO_get_mem_data(bio, &p);
	mesh__sb_append(sb, p, (size_t)n);
	BIO_free(bio);
	return sb->oom ? MESH_ENOMEM : 0;
}

int mesh__pkey_to_pem(EVP_PKEY *key, char **out)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(bio);
		ERR_clear_error();
		return MESH_ENOMEM;
	}
	int rc = bio_take(bio, out, true);
	BIO_free(bio);
	return rc;
}

int64_t mesh__asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm)) {
		ERR_clear_error();
		return 0;
	}
	return (int64_t)timegm(&tm);
}

char *mesh__ca_cert_trust_domain(X509 *x)
{
	char *uri = NULL;
	size_t count = 0, n = 0;
	char *td = NULL;
	if (mesh__x509_uris(x, &count, &uri, &n) == 0 && count == 1 && n == strlen(uri) &&
	    !strncmp(uri, "spiffe://", 9) && mesh_trust_domain_check(uri + 9, NULL) == 0)
		td = mesh__strdup(uri + 9);
	mesh__free(uri);
	return td;
}

/* ---- Bundles ---- */

MESH_API int mesh_bundle_new(mesh_bundle **out, const char *td)
{
	if (!out)
		return MESH_EINVAL;
	*out = NULL;
	if (td && mesh_trust_domain_check(td, NULL) != 0)
		return MESH_EINVAL;
	mesh_bundle *b = mesh__calloc(1, sizeof(*b));
	if (!b)
		return MESH_ENOMEM;
	if (td && !(b->td = mesh__strdup(td)))
		goto oom;
	b->certs = sk_X509_new_null();
	b->store = X509_STORE_new();
	if (!b->certs || !b->store)
		goto oom;
	/* A bundle may hold an intermediate as its anchor (SPIFFE "X.509
	 * authorities" need not be self-signed). */
	if (!X509_STORE_set_flags(b->store, X509_V_FLAG_PARTIAL_CHAIN))
		goto oom;
	*out = b;
	return 0;
oom:
	ERR_clear_error();
	mesh_bundle_free(b);
	return MESH_ENOMEM;
}

MESH_API void mesh_bundle_free(mesh_bundle *b)
{
	if (!b)
		return;
	mesh__free(b->td);
	sk_X509_pop_free(b->certs, X509_free);
	X509_STORE_free(b->store);
	mesh__free(b);
}

static bool bundle_has(const mesh_bundle *b, X509 *x)
{
	for (int i = 0; i < sk_X509_num(b->certs); i++)
		if (X509_cmp(sk_X509_value(b->certs, i), x) == 0)
			return true;
	return false;
}

static int bundle_add_(mesh_bundle *b, const char *data, size_t len, const char *name,
                       mesh_diag *diag)
{
	if (!b || !data)
		return MESH_EINVAL;
	STACK_OF(X509) * sk;
	int rc = mesh__x509_parse_all(data, len, name, &sk, diag);
	if (rc)
		return rc;
	const char *pre = name ? "" : "trust bundle: ";
	int fresh = 0;
	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		if (X509_check_ca(x) < 1) {
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
			               "%scertificate %d is not a CA (basicConstraints CA:TRUE "
			               "missing); a trust bundle holds root certificates",
			               pre, i + 1);
			rc = MESH_EINVAL;
			goto out;
		}
		if (!bundle_has(b, x))
			fresh++;
	}
	if (sk_X509_num(b->certs) + fresh > MESH__BUNDLE_MAX) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
		               "%smore than %d roots in one bundle", pre, MESH__BUNDLE_MAX);
		rc = MESH_ELIMIT;
		goto out;
	}
	/* Reserve first so that a failed push cannot leave half a bundle. */
	if (!sk_X509_reserve(b->certs, sk_X509_num(b->certs) + fresh)) {
		rc = mesh__ossl_fail(diag, "growing the bundle");
		goto out;
	}
	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		if (bundle_has(b, x))
			continue;
		if (!X509_STORE_add_cert(b->store, x)) {
			rc = mesh__ossl_fail(diag, "adding a root to the bundle");
			goto out;
		}
		if (!X509_up_ref(x)) {
			rc = mesh__ossl_fail(diag, "adding a root to the bundle");
			goto out;
		}
		if (!sk_X509_push(b->certs, x)) {
			X509_free(x);
			rc = mesh__ossl_fail(diag, "adding a root to the bundle");
			goto out;
		}
		if (!b->td)
			b->td = mesh__ca_cert_trust_domain(x);
	}
out:
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

/* Each entry point leaves the thread's OpenSSL error queue empty: what
 * failed is in the diagnostics, and a TLS caller's next SSL_get_error()
 * must not see stale identity errors. */
MESH_API int mesh_bundle_add(mesh_bundle *b, const char *data, size_t len, const char *name,
                             mesh_diag *diag)
{
	int rc = bundle_add_(b, data, len, name, diag);
	ERR_clear_error();
	return rc;
}

MESH_API int mesh_bundle_load_file(mesh_bundle *b, const char *path, mesh_diag *diag)
{
	if (!b || !path)
		return MESH_EINVAL;
	char *data;
	size_t len;
	int rc = mesh_identity_read_file(path, &data, &len, diag);
	if (rc)
		return rc;
	rc = mesh_bundle_add(b, data, len, path, diag);
	mesh__free(data);
	return rc;
}

MESH_API size_t mesh_bundle_count(const mesh_bundle *b)
{
	return b ? (size_t)sk_X509_num(b->certs) : 0;
}

MESH_API const char *mesh_bundle_trust_domain(const mesh_bundle *b)
{
	return b ? b->td : NULL;
}

static int bundle_to_pem_(const mesh_bundle *b, char **out)
{
	if (!b || !out)
		return MESH_EINVAL;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	for (int i = 0; i < sk_X509_num(b->certs); i++)
		mesh__x509_pem_append(&sb, sk_X509_value(b->certs, i));
	if (sb.oom) {
		mesh__sb_fini(&sb);
		return MESH_ENOMEM;
	}
	*out = mesh__sb_steal(&sb);
	return *out ? 0 : MESH_ENOMEM;
}

MESH_API int mesh_bundle_to_pem(const mesh_bundle *b, char **out)
{
	int rc = bundle_to_pem_(b, out);
	ERR_clear_error();
	return rc;
}

X509_STORE *mesh__bundle_store(const mesh_bundle *b)
{
	return b ? b->store : NULL;
}
