/* svid.c - X.509-SVIDs: validation by the SPIFFE rules, and the enrolment
 * pair of a signing request made by the workload and signed by the CA. */
#include "identity_int.h"

#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static int reject(int *status, int st, mesh_diag *diag, const char *fmt, ...) MESH_PRINTF(4, 5);

static int reject(int *status, int st, mesh_diag *diag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mesh__diag_vadd(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL, fmt, ap);
	va_end(ap);
	if (status)
		*status = st;
	return MESH_EINVAL;
}

/* The leaf rules, before any chain work: cheap, and the most precise. */
static int check_leaf(const mesh_bundle *b, X509 *leaf, int *status, char **id_out, mesh_diag *diag)
{
	size_t n, ulen = 0;
	char *uri = NULL;
	int rc = mesh__x509_uris(leaf, &n, &uri, &ulen);
	if (rc)
		return rc;
	if (n == 0) {
		rc = reject(status, MESH_SVID_ENO_URI_SAN, diag,
		            "the certificate has no URI SAN; an X.509-SVID carries its SPIFFE ID "
		            "as exactly one URI SAN");
		goto out;
	}
	if (n > 1) {
		rc = reject(status, MESH_SVID_EMANY_URI_SANS, diag,
		            "the certificate has %zu URI SANs; an X.509-SVID has exactly one", n);
		goto out;
	}
	if (strncasecmp(uri, "spiffe:", 7) != 0) {
		rc = reject(status, MESH_SVID_ENOT_SPIFFE, diag,
		            "the URI SAN \"%.200s\" is not a SPIFFE ID (scheme spiffe://)", uri);
		goto out;
	}
	if (strlen(uri) != ulen) {
		rc = reject(status, MESH_SVID_EBAD_ID, diag,
		            "the URI SAN holds a NUL byte after \"%.200s\"", uri);
		goto out;
	}
	size_t tdn;
	if (mesh__spiffe_id_parse(uri, &tdn, false, diag)) {
		rc = reject(status, MESH_SVID_EBAD_ID, NULL, "-");
		goto out;
	}
	if (!b->td) {
		rc = reject(status, MESH_SVID_ETRUST_DOMAIN, diag,
		            "the trust bundle's trust domain is unknown (none given, and no root "
		            "has a URI SAN spiffe://TRUST-DOMAIN)");
		goto out;
	}
	if (tdn != strlen(b->td) || memcmp(uri + 9, b->td, tdn) != 0) {
		rc = reject(status, MESH_SVID_ETRUST_DOMAIN, diag,
		            "SPIFFE ID \"%.200s\" is in trust domain \"%.*s\", not \"%s\"", uri,
		            (int)tdn, uri + 9, b->td);
		goto out;
	}
	uint32_t flags = X509_get_extension_flags(leaf);
	if (flags & EXFLAG_CA) {
		rc = reject(status, MESH_SVID_ELEAF_CA, diag,
		            "the certificate is a CA (basicConstraints CA:TRUE); an X.509-SVID "
		            "leaf must not be");
		goto out;
	}
	uint32_t ku = X509_get_key_usage(leaf);
	if (!(flags & EXFLAG_KUSAGE)) {
		rc = reject(status, MESH_SVID_ENO_DIGITAL_SIGNATURE, diag,
		            "the certificate has no keyUsage extension; an X.509-SVID leaf must "
		            "have digitalSignature");
		goto out;
	}
	if (ku & KU_KEY_CERT_SIGN) {
		rc = reject(status, MESH_SVID_ELEAF_KEY_CERT_SIGN, diag,
		            "the certificate's keyUsage has keyCertSign; an X.509-SVID leaf must "
		            "not sign certificates");
		goto out;
	}
	if (ku & KU_CRL_SIGN) {
		rc = reject(status, MESH_SVID_ELEAF_CRL_SIGN, diag,
		            "the certificate's keyUsage has cRLSign; an X.509-SVID leaf must not "
		            "sign CRLs");
		goto out;
	}
	if (!(ku & KU_DIGITAL_SIGNATURE)) {
		rc = reject(status, MESH_SVID_ENO_DIGITAL_SIGNATURE, diag,
		            "the certificate's keyUsage lacks digitalSignature");
		goto out;
	}
	if (id_out) {
		*id_out = uri;
		uri = NULL;
	}
out:
	mesh__free(uri);
	return rc;
}

static const char *depth_name(int depth, int chain_len)
{
	if (depth == 0)
		return "certificate";
	return depth == chain_len - 1 ? "root" : "intermediate";
}

static int check_chain(const mesh_bundle *b, X509 *leaf, STACK_OF(X509) * chain, int64_t now,
                       int *status, mesh_diag *diag)
{
	if (chain && sk_X509_num(chain) > MESH__CHAIN_MAX)
		return reject(status, MESH_SVID_ECHAIN, diag,
		              "the chain has %d certificates besides the leaf (at most %d)",
		              sk_X509_num(chain), MESH__CHAIN_MAX);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (!ctx || !X509_STORE_CTX_init(ctx, b->store, leaf, chain)) {
		X509_STORE_CTX_free(ctx);
		return mesh__ossl_fail(diag, "chain verification setup");
	}
	X509_STORE_CTX_set_depth(ctx, MESH__CHAIN_MAX);
	if (now)
		X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
	int ok = X509_verify_cert(ctx);
	int err = X509_STORE_CTX_get_error(ctx);
	int depth = X509_STORE_CTX_get_error_depth(ctx);
	X509 *at = X509_STORE_CTX_get_current_cert(ctx);
	STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
	int built_len = built ? sk_X509_num(built) : 0;
	int rc = 0;
	char when[32];
	char *who = NULL;
	if (ok == 1)
		goto out;
	if (err == X509_V_ERR_OUT_OF_MEM || ok < 0) {
		rc = mesh__ossl_fail(diag, "chain verification");
		goto out;
	}
	if (at && depth > 0) {
		char *line = X509_NAME_oneline(X509_get_subject_name(at), NULL, 0);
		who = line ? mesh__strdup(line) : NULL;
		OPENSSL_free(line);
	}
	const char *what = depth_name(depth, built_len);
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		rc = reject(status, MESH_SVID_EEXPIRED, diag, "the %s%s%s expired at %s", what,
		            who ? " " : "", who ? who : "",
		            mesh__fmt_time(at ? mesh__asn1_time_unix(X509_get0_notAfter(at)) : 0,
		                           when));
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		rc = reject(status, MESH_SVID_ENOT_YET_VALID, diag,
		            "the %s%s%s is not valid before %s", what, who ? " " : "",
		            who ? who : "",
		            mesh__fmt_time(at ? mesh__asn1_time_unix(X509_get0_notBefore(at)) : 0,
		                           when));
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_UNTRUSTED:
		rc = reject(status, MESH_SVID_EUNTRUSTED, diag,
		            "the certificate does not chain to a root of the trust bundle for "
		            "\"%s\" (%s)",
		            b->td ? b->td : "?", X509_verify_cert_error_string(err));
		break;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
		rc = reject(status, MESH_SVID_ESIGNATURE, diag,
		            "the signature on the %s (depth %d) does not verify", what, depth);
		break;
	default:
		rc = reject(status, MESH_SVID_ECHAIN, diag, "the chain is invalid at depth %d: %s",
		            depth, X509_verify_cert_error_string(err));
	}
out:
	mesh__free(who);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int mesh__svid_verify_x509(const mesh_bundle *b, X509 *leaf, STACK_OF(X509) * chain, int64_t now,
                           int *status, char **id_out, mesh_diag *diag)
{
	if (status)
		*status = MESH_SVID_VALID;
	if (id_out)
		*id_out = NULL;
	if (!b || !leaf)
		return MESH_EINVAL;
	char *id = NULL;
	int rc = check_leaf(b, leaf, status, &id, diag);
	if (!rc)
		rc = check_chain(b, leaf, chain, now, status, diag);
	if (!rc && id_out)
		*id_out = id;
	else
		mesh__free(id);
	ERR_clear_error(); /* extension caching may have queued one */
	return rc;
}

static int svid_verify_(const mesh_bundle *b, const char *data, size_t len, int64_t now,
                        int *status, mesh_diag *diag)
{
	if (status)
		*status = MESH_SVID_VALID;
	if (!b || !data)
		return MESH_EINVAL;
	STACK_OF(X509) * sk;
	int rc = mesh__x509_parse_all(data, len, NULL, &sk, diag);
	if (rc == MESH_ENOMEM)
		return rc;
	if (rc) {
		if (status)
			*status = MESH_SVID_EPARSE;
		return MESH_EINVAL;
	}
	X509 *leaf = sk_X509_shift(sk);
	rc = mesh__svid_verify_x509(b, leaf, sk, now, status, NULL, diag);
	X509_free(leaf);
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

/* Each entry point leaves the thread's OpenSSL error queue empty: what
 * failed is in the diagnostics, and a TLS caller's next SSL_get_error()
 * must not see stale identity errors. */
MESH_API int mesh_svid_verify(const mesh_bundle *b, const char *data, size_t len, int64_t now,
                              int *status, mesh_diag *diag)
{
	int rc = svid_verify_(b, data, len, now, status, diag);
	ERR_clear_error();
	return rc;
}

/* ---- Enrolment ---- */

static int san_ext(const char *uri, X509_EXTENSION **out)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *v = ASN1_IA5STRING_new();
	int rc = MESH_ENOMEM;
	if (!gens || !g || !v || !ASN1_STRING_set(v, uri, (int)strlen(uri)))
		goto out;
	GENERAL_NAME_set0_value(g, GEN_URI, v);
	v = NULL;
	if (!sk_GENERAL_NAME_push(gens, g))
		goto out;
	g = NULL;
	if ((*out = X509V3_EXT_i2d(NID_subject_alt_name, 1, gens)))
		rc = 0;
out:
	ASN1_IA5STRING_free(v);
	GENERAL_NAME_free(g);
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	return rc;
}

static int csr_new_(const char *spiffe_id, int key_type, char **csr_pem, char **key_pem,
                    mesh_diag *diag)
{
	if (!spiffe_id || !csr_pem || !key_pem)
		return MESH_EINVAL;
	*csr_pem = *key_pem = NULL;
	int rc;
	if ((rc = mesh__spiffe_id_parse(spiffe_id, NULL, false, diag)))
		return rc;
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	BIO *bio = NULL;
	if ((rc = mesh__key_generate(key_type, &key, diag)))
		return rc;
	rc = MESH_ENOMEM;
	if (!(req = X509_REQ_new()) || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_pubkey(req, key) || !(exts = sk_X509_EXTENSION_new_null()))
		goto fail;
	if (san_ext(spiffe_id, &ext) || !sk_X509_EXTENSION_push(exts, ext))
		goto fail;
	ext = NULL;
	if (!X509_REQ_add_extensions(req, exts) || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
		goto fail;
	if (!(bio = BIO_new(BIO_s_mem())) || !PEM_write_bio_X509_REQ(bio, req))
		goto fail;
	char *p;
	long n = BIO_get_mem_data(bio, &p);
	if (!(*csr_pem = mesh__strndup(p, (size_t)n)))
		goto fail;
	if ((rc = mesh__pkey_to_pem(key, key_pem))) {
		mesh__free(*csr_pem);
		*csr_pem = NULL;
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	if (rc == MESH_ENOMEM && ERR_peek_last_error())
		rc = mesh__ossl_fail(diag, "building the signing request");
out:
	ERR_clear_error();
	BIO_free(bio);
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return rc;
}

MESH_API int mesh_csr_new(const char *spiffe_id, int key_type, char **csr_pem, char **key_pem,
                          mesh_diag *diag)
{
	int rc = csr_new_(spiffe_id, key_type, csr_pem, key_pem, diag);
	ERR_clear_error();
	return rc;
}

static int parse_csr(const char *data, size_t len, X509_REQ **out, mesh_diag *diag)
{
	X509_REQ *req = NULL;
	if (len > MESH__FILE_MAX)
		return reject(NULL, 0, diag, "the signing request is too large");
	if (len > 0 && (unsigned char)data[0] == 0x30) {
		const unsigned char *p = (const unsigned char *)data;
		req = d2i_X509_REQ(NULL, &p, (long)len);
	} else {
		BIO *bio = BIO_new_mem_buf(data, (int)len);
		if (!bio)
			return mesh__ossl_fail(diag, "allocating a buffer");
		req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (!req) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == ERR_R_MALLOC_FAILURE)
			return mesh__ossl_fail(diag, "parsing the signing request");
		ERR_clear_error();
		return reject(NULL, 0, diag, "not a certificate signing request (bad PEM or DER)");
	}
	*out = req;
	return 0;
}

/* Keys a CA signs for: what Istio and Envoy accept, nothing weak. */
static int check_key(EVP_PKEY *k, mesh_diag *diag)
{
	int bits = EVP_PKEY_get_bits(k);
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
		if (bits < 2048 || bits > 8192)
			return reject(NULL, 0, diag,
			              "the request's RSA key has %d bits (2048 to 8192 accepted)",
			              bits);
		return 0;
	case EVP_PKEY_EC: {
		char group[64] = "";
		size_t n = 0;
		if (!EVP_PKEY_get_group_name(k, group, sizeof(group), &n))
			ERR_clear_error();
		if (!strcmp(group, "prime256v1") || !strcmp(group, "secp384r1"))
			return 0;
		return reject(NULL, 0, diag,
		              "the request's EC key is on curve \"%s\" (P-256 or P-384 accepted)",
		              group);
	}
	default:
		return reject(NULL, 0, diag,
		              "the request's key type is not supported (ECDSA P-256/P-384 or RSA)");
	}
}

/* The one requested URI SAN of @req, copied to *id. */
static int requested_id(X509_REQ *req, char **id, mesh_diag *diag)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	size_t count = 0, sans = 0;
	int rc = 0;
	*id = NULL;
	for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) != NID_subject_alt_name)
			continue; /* every other requested extension is ignored */
		sans++;
		GENERAL_NAMES *gens = X509V3_EXT_d2i(e);
		if (!gens) {
			ERR_clear_error();
			rc = reject(NULL, 0, diag, "the request's subjectAltName does not decode");
			goto out;
		}
		for (int j = 0; j < sk_GENERAL_NAME_num(gens); j++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, j);
			if (g->type != GEN_URI || count++)
				continue;
			const ASN1_IA5STRING *s = g->d.uniformResourceIdentifier;
			size_t n = (size_t)ASN1_STRING_length(s);
			*id = mesh__strndup((const char *)ASN1_STRING_get0_data(s), n);
			if (!*id) {
				rc = MESH_ENOMEM;
			} else if (strlen(*id) != n) {
				rc = reject(NULL, 0, diag,
				            "the requested URI SAN holds a NUL byte");
			}
		}
		GENERAL_NAMES_free(gens);
		if (rc)
			goto out;
	}
	if (sans > 1)
		rc = reject(NULL, 0, diag, "the request has %zu subjectAltName extensions", sans);
	else if (count == 0)
		rc = reject(NULL, 0, diag, "the request asks for no SPIFFE ID (it has no URI SAN)");
	else if (count > 1)
		rc = reject(NULL, 0, diag,
		            "the request asks for %zu URI SANs; an X.509-SVID has exactly one",
		            count);
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	if (rc) {
		mesh__free(*id);
		*id = NULL;
	}
	return rc;
}

static int ca_sign_csr_(const mesh_ca *ca, const char *csr, size_t csr_len, const char *required_id,
                        int64_t ttl, char **cert_pem, mesh_diag *diag)
{
	if (!ca || !csr || !cert_pem)
		return MESH_EINVAL;
	*cert_pem = NULL;
	X509_REQ *req = NULL;
	char *id = NULL;
	int rc;
	if ((rc = parse_csr(csr, csr_len, &req, diag)))
		return rc;
	EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
	if (!pub) {
		ERR_clear_error();
		rc = reject(NULL, 0, diag, "the request's public key does not decode");
		goto out;
	}
	/* Proof of possession: the requester signed with the key it asks a
	 * certificate for. */
	if (X509_REQ_verify(req, pub) != 1) {
		ERR_clear_error();
		rc = reject(NULL, 0, diag, "the request's signature does not verify");
		goto out;
	}
	if ((rc = check_key(pub, diag)) || (rc = requested_id(req, &id, diag)))
		goto out;
	if (required_id && strcmp(id, required_id) != 0) {
		rc = reject(NULL, 0, diag,
		            "the request asks for \"%.200s\" but the requester is \"%.200s\"", id,
		            required_id);
		goto out;
	}
	rc = mesh__ca_sign_svid(ca, pub, id, ttl, cert_pem, diag);
out:
	mesh__free(id);
	X509_REQ_free(req);
	ERR_clear_error();
	return rc;
}

MESH_API int mesh_ca_sign_csr(const mesh_ca *ca, const char *csr, size_t csr_len,
                              const char *required_id, int64_t ttl, char **cert_pem,
                              mesh_diag *diag)
{
	int rc = ca_sign_csr_(ca, csr, csr_len, required_id, ttl, cert_pem, diag);
	ERR_clear_error();
	return rc;
}

int mesh__svid_load(const char *cert, size_t cert_len, const char *key, size_t key_len, X509 **leaf,
                    STACK_OF(X509) * *chain, EVP_PKEY **pkey, mesh_diag *diag)
{
	STACK_OF(X509) *sk = NULL;
	EVP_PKEY *k = NULL;
	int rc;
	*leaf = NULL;
	*chain = NULL;
	*pkey = NULL;
	if ((rc = mesh__x509_parse_all(cert, cert_len, NULL, &sk, diag)) ||
	    (rc = mesh__pkey_parse(key, key_len, NULL, &k, diag)))
		goto fail;
	if (X509_check_private_key(sk_X509_value(sk, 0), k) != 1) {
		rc = reject(NULL, 0, diag, "the private key does not belong to the certificate");
		goto fail;
	}
	*leaf = sk_X509_shift(sk);
	*chain = sk;
	*pkey = k;
	ERR_clear_error();
	return 0;
fail:
	sk_X509_pop_free(sk, X509_free);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return rc;
}
