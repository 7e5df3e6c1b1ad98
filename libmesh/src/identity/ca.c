/* ca.c - key generation, certificate building, and the certificate
 * authority: root and intermediate creation, loading, writing, issuing. */
#include "identity_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

int64_t mesh__now(void)
{
	return (int64_t)time(NULL);
}

const char *mesh__fmt_time(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "%lld", (long long)t);
	return buf;
}

int mesh__ossl_fail(mesh_diag *diag, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	int rc = ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ? MESH_ENOMEM : MESH_EFATAL;
	if (rc == MESH_EFATAL && e == 0)
		rc = MESH_ENOMEM; /* OpenSSL stack/BIO helpers fail silently only on allocation */
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL, "%s failed%s%s", what,
	               e ? ": " : "", buf);
	ERR_clear_error();
	return rc;
}

int mesh__key_generate(int key_type, EVP_PKEY **out, mesh_diag *diag)
{
	EVP_PKEY *k;
	switch (key_type) {
	case MESH_KEY_DEFAULT:
	case MESH_KEY_EC_P256: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
	case MESH_KEY_RSA_2048: k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); break;
	case MESH_KEY_RSA_3072: k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072); break;
	default:
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "unsupported key type %d (use ec-p256, rsa-2048 or rsa-3072)",
		               key_type);
		return MESH_EINVAL;
	}
	if (!k)
		return mesh__ossl_fail(diag, "key generation");
	*out = k;
	return 0;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int push_name(GENERAL_NAMES *gens, int type, const char *s)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *v = ASN1_IA5STRING_new();
	if (!g || !v || !ASN1_STRING_set(v, s, (int)strlen(s))) {
		GENERAL_NAME_free(g);
		ASN1_IA5STRING_free(v);
		return -1;
	}
	GENERAL_NAME_set0_value(g, type, v);
	if (!sk_GENERAL_NAME_push(gens, g)) {
		GENERAL_NAME_free(g);
		return -1;
	}
	return 0;
}

static int set_serial(X509 *x)
{
	/* 128 random bits: unguessable, so a collision or a chosen-prefix
	 * attack on the signature needs more than knowing the issue time. */
	BIGNUM *bn = BN_new();
	int rc = -1;
	if (!bn)
		return -1;
	do {
		if (!BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY))
			goto out;
	} while (BN_is_zero(bn));
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		rc = 0;
out:
	BN_free(bn);
	return rc;
}

static int set_name(X509 *x, const char *o, const char *cn, bool subject)
{
	X509_NAME *n = X509_NAME_new();
	int rc = -1;
	if (!n)
		return -1;
	if (o &&
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)o, -1, -1, 0))
		goto out;
	if (cn && !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
	                                      -1, 0))
		goto out;
	if (subject ? X509_set_subject_name(x, n) : X509_set_issuer_name(x, n))
		rc = 0;
out:
	X509_NAME_free(n);
	return rc;
}

int mesh__x509_build(EVP_PKEY *subject_key, X509 *issuer, EVP_PKEY *issuer_key,
                     const struct mesh__x509_spec *s, X509 **out, mesh_diag *diag)
{
	X509 *x = X509_new();
	GENERAL_NAMES *gens = NULL;
	char buf[160];
	if (!x || !X509_set_version(x, X509_VERSION_3) || set_serial(x) ||
	    set_name(x, s->subject_o, s->subject_cn, true))
		goto fail;
	if (issuer ? !X509_set_issuer_name(x, X509_get_subject_name(issuer))
	           : set_name(x, s->subject_o, s->subject_cn, false))
		goto fail;
	if (!ASN1_TIME_set(X509_getm_notBefore(x), (time_t)s->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)s->not_after) ||
	    !X509_set_pubkey(x, subject_key))
		goto fail;

	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	if (s->ca && s->pathlen >= 0)
		snprintf(buf, sizeof(buf), "critical,CA:TRUE,pathlen:%d", s->pathlen);
	else
		snprintf(buf, sizeof(buf), "critical,CA:%s", s->ca ? "TRUE" : "FALSE");
	if (add_ext(x, &ctx, NID_basic_constraints, buf))
		goto fail;
	if (s->key_usage) {
		snprintf(buf, sizeof(buf), "critical,%s", s->key_usage);
		if (add_ext(x, &ctx, NID_key_usage, buf))
			goto fail;
	}
	if (s->eku && add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth"))
		goto fail;
	if (s->ski && add_ext(x, &ctx, NID_subject_key_identifier, "hash"))
		goto fail;
	/* An issuer without a subject key identifier (a plugged-in CA) gets
	 * no authority key identifier rather than a failure. */
	if ((!issuer || X509_get0_subject_key_id(issuer)) &&
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
		goto fail;
	if (s->nuris || s->dns) {
		if (!(gens = sk_GENERAL_NAME_new_null()))
			goto fail;
		for (size_t i = 0; i < s->nuris; i++)
			if (push_name(gens, GEN_URI, s->uris[i]))
				goto fail;
		if (s->dns && push_name(gens, GEN_DNS, s->dns))
			goto fail;
		if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, s->san_critical,
		                      X509V3_ADD_DEFAULT) != 1)
			goto fail;
		GENERAL_NAMES_free(gens);
		gens = NULL;
	}
	if (X509_sign(x, issuer_key ? issuer_key : subject_key, EVP_sha256()) <= 0)
		goto fail;
	*out = x;
	return 0;
fail:
	GENERAL_NAMES_free(gens);
	X509_free(x);
	return mesh__ossl_fail(diag, "building a certificate");
}

/* ---- The CA object ---- */

MESH_API void mesh_ca_free(mesh_ca *ca)
{
	if (!ca)
		return;
	mesh__free(ca->td);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	sk_X509_pop_free(ca->issuers, X509_free);
	mesh_bundle_free(ca->bundle);
	mesh__free(ca->cert_pem);
	mesh__free(ca->chain_pem);
	mesh__free(ca->issue_pem);
	mesh__free(ca);
}

static bool self_signed(X509 *x)
{
	/* Ignore signature here: only the shape matters for chain layout. */
	return X509_check_issued(x, x) == X509_V_OK;
}

/* Take ownership of @cert, @key, @issuers and @bundle (NULL: a bundle of
 * the top certificate), whatever happens. */
static int ca_assemble(const char *td, X509 *cert, EVP_PKEY *key, STACK_OF(X509) * issuers,
                       mesh_bundle *bundle, mesh_ca **out, mesh_diag *diag)
{
	int rc = MESH_ENOMEM;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh_ca *ca = mesh__calloc(1, sizeof(*ca));
	if (!ca) {
		X509_free(cert);
		EVP_PKEY_free(key);
		sk_X509_pop_free(issuers, X509_free);
		mesh_bundle_free(bundle);
		return MESH_ENOMEM;
	}
	ca->cert = cert;
	ca->key = key;
	ca->issuers = issuers;
	ca->bundle = bundle;
	ca->is_root = sk_X509_num(issuers) == 0 && self_signed(cert);
	ca->not_after = mesh__asn1_time_unix(X509_get0_notAfter(cert));
	if (!(ca->td = mesh__strdup(td)))
		goto fail;
	if (!ca->bundle) {
		X509 *top = sk_X509_num(issuers) ? sk_X509_value(issuers, sk_X509_num(issuers) - 1)
		                                 : cert;
		if ((rc = mesh_bundle_new(&ca->bundle, td)))
			goto fail;
		if (mesh__x509_pem_append(&sb, top) ||
		    (rc = mesh_bundle_add(ca->bundle, sb.buf, sb.len, NULL, diag)))
			goto fail;
		mesh__sb_truncate(&sb, 0);
	}
	rc = MESH_ENOMEM;
	if (mesh__x509_pem_append(&sb, cert) || !(ca->cert_pem = mesh__strdup(sb.buf)))
		goto fail;
	mesh__sb_fini(&sb);
	/* What a peer needs besides the leaf: the CA and any intermediates
	 * above it, but not the root (the peer has it in its bundle). */
	if (!ca->is_root) {
		mesh__sb_puts(&sb, ca->cert_pem);
		for (int i = 0; i < sk_X509_num(issuers); i++) {
			X509 *x = sk_X509_value(issuers, i);
			if (!self_signed(x) && mesh__x509_pem_append(&sb, x))
				goto fail;
		}
	}
	if (!(ca->issue_pem = mesh__sb_steal(&sb)))
		goto fail;
	mesh__sb_puts(&sb, ca->cert_pem);
	for (int i = 0; i < sk_X509_num(issuers); i++)
		if (mesh__x509_pem_append(&sb, sk_X509_value(issuers, i)))
			goto fail;
	if (!(ca->chain_pem = mesh__sb_steal(&sb)))
		goto fail;
	*out = ca;
	return 0;
fail:
	mesh__sb_fini(&sb);
	mesh_ca_free(ca);
	return rc;
}

static int check_ttl(int64_t ttl, int64_t dflt, int64_t *out, mesh_diag *diag)
{
	if (ttl < 0 || ttl > MESH__TTL_MAX) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "lifetime %lld s is out of range (0 for the default, at most 100 "
		               "years)",
		               (long long)ttl);
		return MESH_EINVAL;
	}
	*out = ttl ? ttl : dflt;
	return 0;
}

/* notAfter for a certificate issued now by @ca: cut to the CA's own. */
static int64_t clamp_to_ca(const mesh_ca *ca, int64_t now, int64_t ttl, const char *what,
                           mesh_diag *diag)
{
	int64_t na = now + ttl;
	if (na > ca->not_after) {
		char b1[32];
		mesh__diag_add(diag, MESH_SEV_WARNING, NULL, NULL, 0, 0, NULL,
		               "the %s requested lifetime (%lld%s) goes past the CA certificate's "
		               "end; it is cut to end with it at %s",
		               what, (long long)(ttl % 3600 ? ttl : ttl / 3600),
		               ttl % 3600 ? "s" : "h", mesh__fmt_time(ca->not_after, b1));
		na = ca->not_after;
	}
	return na;
}

static int ca_new_root_(mesh_ca **out, const char *td, int key_type, int64_t ttl, mesh_diag *diag)
{
	if (!out || !td)
		return MESH_EINVAL;
	*out = NULL;
	int rc;
	if ((rc = mesh_trust_domain_check(td, diag)) ||
	    (rc = check_ttl(ttl, MESH_ROOT_TTL_DEFAULT, &ttl, diag)))
		return rc;
	EVP_PKEY *key = NULL;
	if ((rc = mesh__key_generate(key_type, &key, diag)))
		return rc;
	char *uri = mesh__malloc(strlen(td) + 10);
	if (!uri) {
		EVP_PKEY_free(key);
		return MESH_ENOMEM;
	}
	strcpy(uri, "spiffe://");
	strcat(uri, td);
	const char *uris[] = { uri };
	int64_t now = mesh__now();
	struct mesh__x509_spec spec = {
		.subject_o = td,
		.subject_cn = "Root CA",
		.uris = uris,
		.nuris = 1,
		.ca = true,
		.pathlen = -1,
		.key_usage = "keyCertSign,cRLSign",
		.ski = true,
		.not_before = now - MESH_CLOCK_SKEW_BACKDATE,
		.not_after = now + ttl,
	};
	X509 *cert = NULL;
	rc = mesh__x509_build(key, NULL, NULL, &spec, &cert, diag);
	mesh__free(uri);
	if (rc) {
		EVP_PKEY_free(key);
		return rc;
	}
	STACK_OF(X509) *issuers = sk_X509_new_null();
	if (!issuers) {
		X509_free(cert);
		EVP_PKEY_free(key);
		return MESH_ENOMEM;
	}
	return ca_assemble(td, cert, key, issuers, NULL, out, diag);
}

/* Each entry point leaves the thread's OpenSSL error queue empty: what
 * failed is in the diagnostics, and a TLS caller's next SSL_get_error()
 * must not see stale identity errors. */
MESH_API int mesh_ca_new_root(mesh_ca **out, const char *td, int key_type, int64_t ttl,
                              mesh_diag *diag)
{
	int rc = ca_new_root_(out, td, key_type, ttl, diag);
	ERR_clear_error();
	return rc;
}

static int bundle_copy(const mesh_bundle *src, mesh_bundle **out, mesh_diag *diag)
{
	char *pem = NULL;
	int rc = mesh_bundle_new(out, src->td);
	if (rc)
		return rc;
	if ((rc = mesh_bundle_to_pem(src, &pem)) ||
	    (rc = mesh_bundle_add(*out, pem, strlen(pem), NULL, diag))) {
		mesh_bundle_free(*out);
		*out = NULL;
	}
	mesh__free(pem);
	return rc;
}

static int ca_new_intermediate_(mesh_ca **out, const mesh_ca *parent, int key_type, int64_t ttl,
                                mesh_diag *diag)
{
	if (!out || !parent)
		return MESH_EINVAL;
	*out = NULL;
	int rc;
	if ((rc = check_ttl(ttl, MESH_INTERMEDIATE_TTL_DEFAULT, &ttl, diag)))
		return rc;
	int64_t now = mesh__now();
	if (parent->not_after <= now) {
		char b[32];
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "the parent CA certificate expired at %s",
		               mesh__fmt_time(parent->not_after, b));
		return MESH_EINVAL;
	}
	EVP_PKEY *key = NULL;
	if ((rc = mesh__key_generate(key_type, &key, diag)))
		return rc;
	char *uri = mesh__malloc(strlen(parent->td) + 10);
	STACK_OF(X509) *issuers = sk_X509_new_null();
	mesh_bundle *bundle = NULL;
	X509 *cert = NULL;
	rc = MESH_ENOMEM;
	if (!uri || !issuers)
		goto fail;
	strcpy(uri, "spiffe://");
	strcat(uri, parent->td);
	const char *uris[] = { uri };
	struct mesh__x509_spec spec = {
		.subject_o = parent->td,
		.subject_cn = "Intermediate CA",
		.uris = uris,
		.nuris = 1,
		.ca = true,
		.pathlen = 0, /* it signs workloads, not further CAs */
		.key_usage = "keyCertSign,cRLSign",
		.ski = true,
		.not_before = now - MESH_CLOCK_SKEW_BACKDATE,
		.not_after = clamp_to_ca(parent, now, ttl, "intermediate CA's", diag),
	};
	if ((rc = mesh__x509_build(key, parent->cert, parent->key, &spec, &cert, diag)))
		goto fail;
	rc = MESH_ENOMEM;
	for (int i = -1; i < sk_X509_num(parent->issuers); i++) {
		X509 *x = i < 0 ? parent->cert : sk_X509_value(parent->issuers, i);
		if (!X509_up_ref(x))
			goto fail;
		if (!sk_X509_push(issuers, x)) {
			X509_free(x); /* drop the reference just taken */
			goto fail;
		}
	}
	if ((rc = bundle_copy(parent->bundle, &bundle, diag)))
		goto fail;
	mesh__free(uri);
	return ca_assemble(parent->td, cert, key, issuers, bundle, out, diag);
fail:
	mesh__free(uri);
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(issuers, X509_free);
	return rc;
}

MESH_API int mesh_ca_new_intermediate(mesh_ca **out, const mesh_ca *parent, int key_type,
                                      int64_t ttl, mesh_diag *diag)
{
	int rc = ca_new_intermediate_(out, parent, key_type, ttl, diag);
	ERR_clear_error();
	return rc;
}

/* Does @ca->cert chain to the bundle, now? */
static int ca_verify_chain(X509 *cert, STACK_OF(X509) * issuers, const mesh_bundle *b,
                           const char *name, mesh_diag *diag)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (!ctx || !X509_STORE_CTX_init(ctx, mesh__bundle_store(b), cert, issuers)) {
		X509_STORE_CTX_free(ctx);
		return mesh__ossl_fail(diag, "chain verification setup");
	}
	int ok = X509_verify_cert(ctx);
	int err = X509_STORE_CTX_get_error(ctx);
	int depth = X509_STORE_CTX_get_error_depth(ctx);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	if (ok == 1)
		return 0;
	mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
	               "the CA certificate does not verify against the trust bundle: %s (at "
	               "depth %d of the chain)",
	               X509_verify_cert_error_string(err), depth);
	return MESH_EINVAL;
}

/* mesh_ca_load() with names (file names, or labels) for the diagnostics. */
static int ca_load(mesh_ca **out, const char *chain, size_t chain_len, const char *chain_name,
                   const char *key, size_t key_len, const char *key_name, const char *bundle,
                   size_t bundle_len, const char *bundle_name, const char *td, mesh_diag *diag)
{
	*out = NULL;
	STACK_OF(X509) *sk = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	mesh_bundle *b = NULL;
	char *learned = NULL;
	int rc;
	if ((rc = mesh__x509_parse_all(chain, chain_len, chain_name, &sk, diag)) ||
	    (rc = mesh__pkey_parse(key, key_len, key_name, &pkey, diag)))
		goto out;
	cert = sk_X509_shift(sk);
	rc = MESH_EINVAL;
	if (X509_check_ca(cert) < 1) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, chain_name, 0, 0, NULL,
		               "the CA certificate is not a CA (basicConstraints CA:TRUE missing)");
		goto out;
	}
	uint32_t ku = X509_get_key_usage(cert);
	if (ku != UINT32_MAX && !(ku & KU_KEY_CERT_SIGN)) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, chain_name, 0, 0, NULL,
		               "the CA certificate may not sign certificates (keyUsage lacks "
		               "keyCertSign)");
		goto out;
	}
	if (X509_check_private_key(cert, pkey) != 1) {
		ERR_clear_error();
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, key_name, 0, 0, NULL,
		               "the private key does not belong to the CA certificate");
		goto out;
	}
	if (X509_check_issued(cert, cert) != X509_V_OK && sk_X509_num(sk) == 0) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, chain_name, 0, 0, NULL,
		               "the CA certificate is not self-signed and no issuer follows it in "
		               "the chain (cert-chain.pem must hold it and its issuers up to the "
		               "root)");
		rc = MESH_EINVAL;
		goto out;
	}
	if (td) {
		if ((rc = mesh_trust_domain_check(td, diag)))
			goto out;
	} else {
		learned = mesh__ca_cert_trust_domain(cert);
		if (!learned && sk_X509_num(sk))
			learned =
				mesh__ca_cert_trust_domain(sk_X509_value(sk, sk_X509_num(sk) - 1));
		if (!learned) {
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, chain_name, 0, 0, NULL,
			               "cannot tell the trust domain: neither the CA certificate "
			               "nor its root has a URI SAN spiffe://TRUST-DOMAIN; give it "
			               "explicitly");
			goto out;
		}
		td = learned;
	}
	if ((rc = mesh_bundle_new(&b, td)))
		goto out;
	if (bundle) {
		rc = mesh_bundle_add(b, bundle, bundle_len, bundle_name, diag);
	} else {
		struct mesh__sb t;
		mesh__sb_init(&t);
		rc = mesh__x509_pem_append(
			&t, sk_X509_num(sk) ? sk_X509_value(sk, sk_X509_num(sk) - 1) : cert);
		if (!rc)
			rc = mesh_bundle_add(b, t.buf, t.len, chain_name, diag);
		mesh__sb_fini(&t);
	}
	if (rc || (rc = ca_verify_chain(cert, sk, b, chain_name, diag)))
		goto out;
	rc = ca_assemble(td, cert, pkey, sk, b, out, diag);
	cert = NULL;
	pkey = NULL;
	sk = NULL;
	b = NULL;
out:
	mesh__free(learned);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	sk_X509_pop_free(sk, X509_free);
	mesh_bundle_free(b);
	return rc;
}

static int ca_load_(mesh_ca **out, const char *chain, size_t chain_len, const char *key,
                    size_t key_len, const char *bundle, size_t bundle_len, const char *td,
                    mesh_diag *diag)
{
	if (!out || !chain || !key)
		return MESH_EINVAL;
	return ca_load(out, chain, chain_len, "CA certificate chain", key, key_len,
	               "CA private key", bundle, bundle_len, "trust bundle", td, diag);
}

MESH_API int mesh_ca_load(mesh_ca **out, const char *chain, size_t chain_len, const char *key,
                          size_t key_len, const char *bundle, size_t bundle_len, const char *td,
                          mesh_diag *diag)
{
	int rc = ca_load_(out, chain, chain_len, key, key_len, bundle, bundle_len, td, diag);
	ERR_clear_error();
	return rc;
}

/* @dir/@name, in @sb. */
static const char *path_in(struct mesh__sb *sb, const char *dir, const char *name)
{
	mesh__sb_truncate(sb, 0);
	mesh__sb_printf(sb, "%s/%s", dir, name);
	return sb->oom ? NULL : sb->buf;
}

/* Read @path into *out; a missing file is MESH_ENOTFOUND without a
 * diagnostic when @optional. */
static int read_opt(const char *path, bool optional, char **out, size_t *len, mesh_diag *diag)
{
	struct stat st;
	if (!path)
		return MESH_ENOMEM;
	if (optional && stat(path, &st) != 0 && errno == ENOENT)
		return MESH_ENOTFOUND;
	return mesh_identity_read_file(path, out, len, diag);
}

struct dir_files {
	struct mesh__sb chain_path, key_path, bundle_path, tmp;
	char *chain, *key, *bundle, *cacert;
	size_t chain_len, key_len, bundle_len, cacert_len;
};

static void dir_files_fini(struct dir_files *f)
{
	if (f->key)
		OPENSSL_cleanse(f->key, f->key_len);
	mesh__free(f->key);
	mesh__free(f->chain);
	mesh__free(f->bundle);
	mesh__free(f->cacert);
	mesh__sb_fini(&f->chain_path);
	mesh__sb_fini(&f->key_path);
	mesh__sb_fini(&f->bundle_path);
	mesh__sb_fini(&f->tmp);
}

/* The intermediate layout: ca-cert.pem, ca-key.pem, cert-chain.pem (or
 * else ca-cert.pem followed by root-cert.pem). */
static int read_intermediate(struct dir_files *f, const char *dir, mesh_diag *diag)
{
	int rc = read_opt(path_in(&f->tmp, dir, "ca-cert.pem"), false, &f->cacert, &f->cacert_len,
	                  diag);
	if (rc)
		return rc;
	rc = read_opt(path_in(&f->chain_path, dir, "cert-chain.pem"), true, &f->chain,
	              &f->chain_len, diag);
	if (rc != MESH_ENOTFOUND)
		return rc;
	char *root = NULL;
	size_t root_len = 0;
	if ((rc = read_opt(path_in(&f->tmp, dir, "root-cert.pem"), false, &root, &root_len, diag)))
		return rc;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_append(&sb, f->cacert, f->cacert_len);
	mesh__sb_putc(&sb, '\n');
	mesh__sb_append(&sb, root, root_len);
	mesh__free(root);
	f->chain_len = sb.len;
	if (!(f->chain = mesh__sb_steal(&sb)))
		return MESH_ENOMEM;
	path_in(&f->chain_path, dir, "ca-cert.pem + root-cert.pem");
	return 0;
}

static int ca_load_dir_(mesh_ca **out, const char *dir, const char *td, mesh_diag *diag)
{
	if (!out || !dir)
		return MESH_EINVAL;
	*out = NULL;
	struct stat st;
	int e = stat(dir, &st) != 0 ? errno : 0;
	if (e || !S_ISDIR(st.st_mode)) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, dir, 0, 0, NULL,
		               "not a CA directory: %s", e ? strerror(e) : "not a directory");
		return MESH_ENOTFOUND;
	}
	struct dir_files f;
	memset(&f, 0, sizeof(f));
	int rc = read_opt(path_in(&f.key_path, dir, "ca-key.pem"), true, &f.key, &f.key_len, diag);
	if (rc == 0) { /* an intermediate, as in Istio's cacerts */
		rc = read_intermediate(&f, dir, diag);
	} else if (rc == MESH_ENOTFOUND) {
		rc = read_opt(path_in(&f.key_path, dir, "root-key.pem"), true, &f.key, &f.key_len,
		              diag);
		if (rc == MESH_ENOTFOUND)
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, dir, 0, 0, NULL,
			               "not a CA directory: neither ca-key.pem nor root-key.pem is "
			               "there (create one with 'meshctl ca init')");
		else if (!rc)
			rc = read_opt(path_in(&f.chain_path, dir, "root-cert.pem"), false, &f.chain,
			              &f.chain_len, diag);
	}
	if (rc)
		goto out;
	rc = read_opt(path_in(&f.bundle_path, dir, "trust-bundle.pem"), true, &f.bundle,
	              &f.bundle_len, diag);
	if (rc && rc != MESH_ENOTFOUND)
		goto out;
	if ((rc = ca_load(out, f.chain, f.chain_len, f.chain_path.buf, f.key, f.key_len,
	                  f.key_path.buf, f.bundle, f.bundle_len, f.bundle_path.buf, td, diag)))
		goto out;
	if (f.cacert) {
		/* cert-chain.pem must start with ca-cert.pem: one CA, not two. */
		STACK_OF(X509) *sk = NULL;
		path_in(&f.tmp, dir, "ca-cert.pem");
		rc = mesh__x509_parse_all(f.cacert, f.cacert_len, f.tmp.buf, &sk, diag);
		if (!rc && X509_cmp(sk_X509_value(sk, 0), (*out)->cert) != 0) {
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, f.chain_path.buf, 0, 0, NULL,
			               "cert-chain.pem does not start with the certificate in "
			               "ca-cert.pem");
			rc = MESH_EINVAL;
		}
		sk_X509_pop_free(sk, X509_free);
		if (rc) {
			mesh_ca_free(*out);
			*out = NULL;
		}
	}
out:
	dir_files_fini(&f);
	return rc;
}

MESH_API int mesh_ca_load_dir(mesh_ca **out, const char *dir, const char *td, mesh_diag *diag)
{
	int rc = ca_load_dir_(out, dir, td, diag);
	ERR_clear_error();
	return rc;
}

static int write_in(const char *dir, const char *name, const char *data, bool secret,
                    mesh_diag *diag)
{
	struct mesh__sb p;
	mesh__sb_init(&p);
	mesh__sb_printf(&p, "%s/%s", dir, name);
	if (p.oom)
		return MESH_ENOMEM;
	int rc = mesh_identity_write_file(p.buf, data, strlen(data), secret, diag);
	mesh__sb_fini(&p);
	return rc;
}

static int ca_write_dir_(const mesh_ca *ca, const char *dir, mesh_diag *diag)
{
	if (!ca || !dir)
		return MESH_EINVAL;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, dir, 0, 0, NULL,
		               "cannot create the directory: %s", strerror(errno));
		return MESH_EIO;
	}
	char *key = NULL, *bundle = NULL, *root = NULL;
	int rc;
	if ((rc = mesh__pkey_to_pem(ca->key, &key)) ||
	    (rc = mesh_bundle_to_pem(ca->bundle, &bundle)))
		goto out;
	if (ca->is_root) {
		if ((rc = write_in(dir, "root-key.pem", key, true, diag)) ||
		    (rc = write_in(dir, "root-cert.pem", ca->cert_pem, false, diag)))
			goto out;
	} else {
		struct mesh__sb sb;
		mesh__sb_init(&sb);
		int n = sk_X509_num(ca->issuers);
		if (n && mesh__x509_pem_append(&sb, sk_X509_value(ca->issuers, n - 1)))
			sb.oom = true;
		if (!(root = mesh__sb_steal(&sb))) {
			rc = MESH_ENOMEM;
			goto out;
		}
		if ((rc = write_in(dir, "ca-key.pem", key, true, diag)) ||
		    (rc = write_in(dir, "ca-cert.pem", ca->cert_pem, false, diag)) ||
		    (rc = write_in(dir, "root-cert.pem", root, false, diag)))
			goto out;
	}
	if ((rc = write_in(dir, "cert-chain.pem", ca->chain_pem, false, diag)) ||
	    (rc = write_in(dir, "trust-bundle.pem", bundle, false, diag)))
		goto out;
out:
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	mesh__free(key);
	mesh__free(bundle);
	mesh__free(root);
	return rc;
}

MESH_API int mesh_ca_write_dir(const mesh_ca *ca, const char *dir, mesh_diag *diag)
{
	int rc = ca_write_dir_(ca, dir, diag);
	ERR_clear_error();
	return rc;
}

MESH_API const char *mesh_ca_trust_domain(const mesh_ca *ca)
{
	return ca ? ca->td : NULL;
}

MESH_API const char *mesh_ca_cert_pem(const mesh_ca *ca)
{
	return ca ? ca->cert_pem : NULL;
}

MESH_API const char *mesh_ca_chain_pem(const mesh_ca *ca)
{
	return ca ? ca->chain_pem : NULL;
}

MESH_API const mesh_bundle *mesh_ca_bundle(const mesh_ca *ca)
{
	return ca ? ca->bundle : NULL;
}

MESH_API int mesh_ca_is_root(const mesh_ca *ca)
{
	return ca && ca->is_root;
}

MESH_API int64_t mesh_ca_not_after(const mesh_ca *ca)
{
	return ca ? ca->not_after : 0;
}

int mesh__ca_sign_svid(const mesh_ca *ca, EVP_PKEY *pub, const char *id, int64_t ttl,
                       char **cert_pem, mesh_diag *diag)
{
	size_t tdlen;
	int rc;
	if ((rc = mesh__spiffe_id_parse(id, &tdlen, false, diag)))
		return rc;
	if (tdlen != strlen(ca->td) || memcmp(id + 9, ca->td, tdlen) != 0) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "SPIFFE ID \"%s\" is not in the CA's trust domain \"%s\"", id,
		               ca->td);
		return MESH_EINVAL;
	}
	if ((rc = check_ttl(ttl, MESH_SVID_TTL_DEFAULT, &ttl, diag)))
		return rc;
	int64_t now = mesh__now();
	if (ca->not_after <= now) {
		char b[32];
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "the CA certificate expired at %s",
		               mesh__fmt_time(ca->not_after, b));
		return MESH_EINVAL;
	}
	const char *uris[] = { id };
	struct mesh__x509_spec spec = {
		.uris = uris,
		.nuris = 1,
		.san_critical = true, /* the subject is empty (RFC 5280 4.2.1.6) */
		.ca = false,
		.pathlen = -1,
		.key_usage = EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA
		                     ? "digitalSignature,keyEncipherment"
		                     : "digitalSignature",
		.eku = true,
		.not_before = now - MESH_CLOCK_SKEW_BACKDATE,
		.not_after = clamp_to_ca(ca, now, ttl, "SVID's", diag),
	};
	X509 *x = NULL;
	if ((rc = mesh__x509_build(pub, ca->cert, ca->key, &spec, &x, diag)))
		return rc;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__x509_pem_append(&sb, x);
	mesh__sb_puts(&sb, ca->issue_pem);
	X509_free(x);
	*cert_pem = mesh__sb_steal(&sb);
	return *cert_pem ? 0 : MESH_ENOMEM;
}

static int ca_issue_(const mesh_ca *ca, const char *spiffe_id, int key_type, int64_t ttl,
                     char **cert_pem, char **key_pem, mesh_diag *diag)
{
	if (!ca || !spiffe_id || !cert_pem || !key_pem)
		return MESH_EINVAL;
	*cert_pem = *key_pem = NULL;
	EVP_PKEY *key = NULL;
	int rc;
	/* Check the request before spending time on an RSA key. */
	size_t tdlen;
	if ((rc = mesh__spiffe_id_parse(spiffe_id, &tdlen, false, diag)))
		return rc;
	if ((rc = mesh__key_generate(key_type, &key, diag)))
		return rc;
	if ((rc = mesh__ca_sign_svid(ca, key, spiffe_id, ttl, cert_pem, diag)))
		goto out;
	if ((rc = mesh__pkey_to_pem(key, key_pem))) {
		mesh__free(*cert_pem);
		*cert_pem = NULL;
	}
out:
	EVP_PKEY_free(key);
	return rc;
}

MESH_API int mesh_ca_issue(const mesh_ca *ca, const char *spiffe_id, int key_type, int64_t ttl,
                           char **cert_pem, char **key_pem, mesh_diag *diag)
{
	int rc = ca_issue_(ca, spiffe_id, key_type, ttl, cert_pem, key_pem, diag);
	ERR_clear_error();
	return rc;
}
