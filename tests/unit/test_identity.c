/*
 * test_identity.c - workload identity: SPIFFE ID syntax, the root,
 * intermediate and SVID certificate profiles (read back with OpenSSL),
 * SVID validation rule by rule with hostile certificates crafted here,
 * enrolment (CSR made by the workload, signed by the CA), trust bundles
 * with two roots, CA directories and file modes, and allocation failures
 * both in libmesh and inside OpenSSL.
 */
#include "identity/identity_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "testutil.h"

#define TD "cluster.local"
#define ID "spiffe://cluster.local/ns/default/sa/reviews"

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			ck_abort_msg("line %d: %s", __LINE__, #c);                                 \
	} while (0)

/* ---- OpenSSL allocation hook: fail the n-th allocation ---- */

static long ossl_fail_after = -1;

static void *t_malloc(size_t n, const char *file, int line)
{
	(void)file, (void)line;
	if (ossl_fail_after == 0)
		return NULL;
	if (ossl_fail_after > 0)
		ossl_fail_after--;
	return malloc(n);
}

static void *t_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file, (void)line;
	if (ossl_fail_after == 0)
		return NULL;
	if (ossl_fail_after > 0)
		ossl_fail_after--;
	return realloc(p, n);
}

static void t_free(void *p, const char *file, int line)
{
	(void)file, (void)line;
	free(p);
}

/* ---- helpers ---- */

static mesh_ca *new_root(int key_type)
{
	mesh_ca *ca = NULL;
	mesh_diag *d = NULL;
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	int rc = mesh_ca_new_root(&ca, TD, key_type, 0, d);
	if (rc)
		tu_dump(d);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(mesh_diag_count(d), 0);
	mesh_diag_free(d);
	return ca;
}

static mesh_ca *new_intermediate(mesh_ca *root)
{
	mesh_ca *ca = NULL;
	ck_assert_int_eq(mesh_ca_new_intermediate(&ca, root, 0, 0, NULL), 0);
	return ca;
}

static X509 *pem_x509(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ck_assert_ptr_nonnull(x);
	return x;
}

static int pem_count(const char *pem)
{
	int n = 0;
	for (const char *p = pem; (p = strstr(p, "-----BEGIN CERTIFICATE-----")); p++)
		n++;
	return n;
}

/* The extension @nid of @x: present?, critical? */
static bool ext_crit(X509 *x, int nid, bool *critical)
{
	int loc = X509_get_ext_by_NID(x, nid, -1);
	if (loc < 0)
		return false;
	*critical = X509_EXTENSION_get_critical(X509_get_ext(x, loc));
	return true;
}

static int64_t x_not_before(X509 *x)
{
	return mesh__asn1_time_unix(X509_get0_notBefore(x));
}

static int64_t x_not_after(X509 *x)
{
	return mesh__asn1_time_unix(X509_get0_notAfter(x));
}

static mesh_bundle *bundle_of(const mesh_ca *ca)
{
	mesh_bundle *b = NULL;
	char *pem = NULL;
	ck_assert_int_eq(mesh_bundle_to_pem(mesh_ca_bundle(ca), &pem), 0);
	ck_assert_int_eq(mesh_bundle_new(&b, TD), 0);
	ck_assert_int_eq(mesh_bundle_add(b, pem, strlen(pem), "bundle", NULL), 0);
	mesh_free(pem);
	return b;
}

/* A well-formed SVID spec for @id, valid now, which tests then break. */
static struct mesh__x509_spec good_spec(const char *const *uris)
{
	int64_t now = mesh__now();
	struct mesh__x509_spec s = {
		.uris = uris,
		.nuris = 1,
		.san_critical = true,
		.pathlen = -1,
		.key_usage = "digitalSignature",
		.eku = true,
		.not_before = now - 300,
		.not_after = now + 3600,
	};
	return s;
}

/* Sign @spec with @ca's key (as a hostile or buggy CA would) and return
 * leaf + the CA's chain as PEM (free with mesh_free()). */
static char *craft(const mesh_ca *ca, const struct mesh__x509_spec *spec)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	ck_assert_int_eq(mesh__key_generate(MESH_KEY_EC_P256, &k, NULL), 0);
	mesh_diag *d = NULL;
	mesh_diag_new(&d);
	int rc = mesh__x509_build(k, ca->cert, ca->key, spec, &x, d);
	if (rc)
		tu_dump(d);
	ck_assert_int_eq(rc, 0);
	mesh_diag_free(d);
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	ck_assert_int_eq(mesh__x509_pem_append(&sb, x), 0);
	mesh__sb_puts(&sb, ca->issue_pem);
	X509_free(x);
	EVP_PKEY_free(k);
	return mesh__sb_steal(&sb);
}

/* Verify @pem against @b at @now; expect @want (an enum mesh_svid_status)
 * and, for a failure, a message containing @msg. */
static void expect_status_(int line, const mesh_bundle *b, const char *pem, int64_t now, int want,
                           const char *msg)
{
	mesh_diag *d = NULL;
	int st = -1;
	mesh_diag_new(&d);
	int rc = mesh_svid_verify(b, pem, strlen(pem), now, &st, d);
	bool ok = st == want && (want ? rc == MESH_EINVAL : rc == 0);
	if (ok && want)
		ok = mesh_diag_count_severity(d, MESH_SEV_ERROR) == 1 &&
		     (!msg || strstr(mesh_diag_message(d, 0), msg));
	if (!ok) {
		fprintf(stderr, "line %d: wanted %s, got rc=%d status %s\n", line,
		        mesh_svid_status_name(want), rc, mesh_svid_status_name(st));
		tu_dump(d);
	}
	mesh_diag_free(d);
	ck_assert_msg(ok, "line %d: status mismatch (see stderr)", line);
}
#define expect_status(b, pem, now, want, msg) expect_status_(__LINE__, b, pem, now, want, msg)

/* ---- SPIFFE IDs ---- */

START_TEST(trust_domain_syntax)
{
	const char *good[] = { "cluster.local", "example.org", "a", "td-1_x.b", "0.example" };
	const char *bad[] = { "",       "Cluster.local", "a..b", ".a",  "a.",
		              "a:8080", "user@a",        "a/b",  "%41", "exa mple" };
	for (size_t i = 0; i < MESH_ARRAY_LEN(good); i++)
		ck_assert_msg(mesh_trust_domain_check(good[i], NULL) == 0, "%s", good[i]);
	for (size_t i = 0; i < MESH_ARRAY_LEN(bad); i++)
		ck_assert_msg(mesh_trust_domain_check(bad[i], NULL) == MESH_EINVAL, "%s", bad[i]);
	ck_assert_int_eq(mesh_trust_domain_check(NULL, NULL), MESH_EINVAL);
	char longtd[300];
	memset(longtd, 'a', sizeof(longtd) - 1);
	longtd[sizeof(longtd) - 1] = '\0';
	ck_assert_int_eq(mesh_trust_domain_check(longtd, NULL), MESH_EINVAL);
	mesh_diag *d;
	mesh_diag_new(&d);
	mesh_trust_domain_check("Bad", d);
	ck_assert_str_eq(mesh_diag_message(d, 0),
	                 "invalid trust domain \"Bad\": the trust domain must be lower case");
	mesh_diag_free(d);
}
END_TEST

START_TEST(spiffe_id_syntax)
{
	const char *good[] = { ID, "spiffe://td/a", "spiffe://td/A-b_c.d/e", "spiffe://td/..a" };
	const char *bad[] = {
		"spiffe://td",      "spiffe://td/",      "spiffe://td//a",    "spiffe://td/a/",
		"spiffe://td/./a",  "spiffe://td/a/..",  "spiffe://td/a?x=1", "spiffe://td/a#f",
		"SPIFFE://td/a",    "https://td/a",      "spiffe://TD/a",     "spiffe:///a",
		"spiffe://td:80/a", "spiffe://td/a%20b", "spiffe://td/a b",   ""
	};
	for (size_t i = 0; i < MESH_ARRAY_LEN(good); i++)
		ck_assert_msg(mesh_spiffe_id_check(good[i], NULL) == 0, "%s", good[i]);
	for (size_t i = 0; i < MESH_ARRAY_LEN(bad); i++)
		ck_assert_msg(mesh_spiffe_id_check(bad[i], NULL) == MESH_EINVAL, "%s", bad[i]);

	char *id = NULL;
	ck_assert_int_eq(mesh_spiffe_id_build(&id, TD, "default", "reviews", NULL), 0);
	ck_assert_str_eq(id, ID);
	mesh_free(id);
	ck_assert_int_eq(mesh_spiffe_id_build(&id, TD, "a/b", "x", NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_spiffe_id_build(&id, TD, "", "x", NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_spiffe_id_build(&id, TD, "ns", "..", NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_spiffe_id_build(&id, "Bad TD", "ns", "sa", NULL), MESH_EINVAL);
	ck_assert_ptr_null(id);
}
END_TEST

START_TEST(names)
{
	ck_assert_str_eq(mesh_key_type_name(MESH_KEY_DEFAULT), "ec-p256");
	ck_assert_str_eq(mesh_key_type_name(MESH_KEY_RSA_3072), "rsa-3072");
	ck_assert_str_eq(mesh_key_type_name(42), "other");
	ck_assert_int_eq(mesh_key_type_from_name("RSA-2048"), MESH_KEY_RSA_2048);
	ck_assert_int_eq(mesh_key_type_from_name("ec-p384"), MESH_EINVAL);
	ck_assert_int_eq(mesh_key_type_from_name(NULL), MESH_EINVAL);
	ck_assert_str_eq(mesh_svid_status_name(MESH_SVID_EEXPIRED), "expired");
	ck_assert_str_eq(mesh_svid_status_name(MESH_SVID_VALID), "valid");
	ck_assert_str_eq(mesh_svid_status_name(-1), "unknown");
	ck_assert_str_eq(mesh_svid_status_name(1000), "unknown");
}
END_TEST

/* ---- certificate profiles ---- */

static void check_root_profile(int key_type)
{
	int64_t t0 = mesh__now();
	mesh_ca *ca = new_root(key_type);
	ck_assert(mesh_ca_is_root(ca));
	ck_assert_str_eq(mesh_ca_trust_domain(ca), TD);
	ck_assert_str_eq(mesh_ca_cert_pem(ca), mesh_ca_chain_pem(ca));
	X509 *x = pem_x509(mesh_ca_cert_pem(ca));
	bool crit = false;
	ck_assert(ext_crit(x, NID_basic_constraints, &crit) && crit);
	ck_assert(X509_get_extension_flags(x) & EXFLAG_CA);
	ck_assert_int_eq(X509_get_pathlen(x), -1);
	ck_assert(ext_crit(x, NID_key_usage, &crit) && crit);
	ck_assert_uint_eq(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(x));
	ck_assert_ptr_nonnull(X509_get0_authority_key_id(x));
	ck_assert_int_eq(
		ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(x), X509_get0_authority_key_id(x)),
		0);
	ck_assert_int_eq(X509_check_issued(x, x), X509_V_OK);
	ck_assert_int_eq(X509_verify(x, X509_get0_pubkey(x)), 1);
	size_t n = 0, ulen = 0;
	char *uri = NULL;
	ck_assert_int_eq(mesh__x509_uris(x, &n, &uri, &ulen), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(uri, "spiffe://" TD);
	mesh__free(uri);
	int64_t nb = x_not_before(x), na = x_not_after(x);
	ck_assert_int_le(nb, t0 - MESH_CLOCK_SKEW_BACKDATE + 1);
	ck_assert_int_ge(na - t0, MESH_ROOT_TTL_DEFAULT - 5);
	ck_assert_int_le(na - t0, MESH_ROOT_TTL_DEFAULT + 5);
	ck_assert_int_eq(mesh_ca_not_after(ca), na);

	mesh_cert *c = NULL;
	ck_assert_int_eq(
		mesh_cert_parse(&c, mesh_ca_cert_pem(ca), strlen(mesh_ca_cert_pem(ca)), NULL), 0);
	ck_assert_int_eq(mesh_cert_key_type(c), key_type ? key_type : MESH_KEY_EC_P256);
	ck_assert_str_eq(mesh_cert_subject(c), "O=" TD ", CN=Root CA");
	ck_assert_str_eq(mesh_cert_issuer(c), "O=" TD ", CN=Root CA");
	ck_assert(mesh_cert_is_ca(c) && mesh_cert_is_self_signed(c));
	ck_assert_str_eq(mesh_cert_trust_domain(c), TD);
	mesh_cert_free(c);
	X509_free(x);
	mesh_ca_free(ca);
}

START_TEST(root_profile_ec)
{
	check_root_profile(MESH_KEY_DEFAULT);
}
END_TEST

START_TEST(root_profile_rsa)
{
	check_root_profile(MESH_KEY_RSA_2048);
}
END_TEST

START_TEST(root_rejects_bad_input)
{
	mesh_ca *ca = NULL;
	mesh_diag *d;
	mesh_diag_new(&d);
	ck_assert_int_eq(mesh_ca_new_root(&ca, "Not A Domain", 0, 0, d), MESH_EINVAL);
	ck_assert_int_eq(mesh_ca_new_root(&ca, TD, 7, 0, d), MESH_EINVAL);
	ck_assert_int_eq(mesh_ca_new_root(&ca, TD, 0, -1, d), MESH_EINVAL);
	ck_assert_int_eq(mesh_ca_new_root(&ca, NULL, 0, 0, d), MESH_EINVAL);
	ck_assert_int_eq(mesh_ca_new_root(NULL, TD, 0, 0, d), MESH_EINVAL);
	ck_assert_ptr_null(ca);
	ck_assert_uint_eq(mesh_diag_count_severity(d, MESH_SEV_ERROR), 3);
	mesh_diag_free(d);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(intermediate_profile)
{
	mesh_ca *root = NULL, *inter = NULL;
	mesh_diag *d;
	mesh_diag_new(&d);
	/* A one-day root: the 5-year default intermediate is cut to it. */
	ck_assert_int_eq(mesh_ca_new_root(&root, TD, 0, 86400, d), 0);
	ck_assert_int_eq(mesh_ca_new_intermediate(&inter, root, MESH_KEY_EC_P256, 0, d), 0);
	ck_assert_uint_eq(mesh_diag_count_severity(d, MESH_SEV_WARNING), 1);
	ck_assert_ptr_nonnull(strstr(mesh_diag_message(d, 0), "cut to end with it"));
	ck_assert(!mesh_ca_is_root(inter));
	ck_assert_int_eq(mesh_ca_not_after(inter), mesh_ca_not_after(root));
	X509 *x = pem_x509(mesh_ca_cert_pem(inter));
	X509 *r = pem_x509(mesh_ca_cert_pem(root));
	ck_assert_int_eq(X509_check_issued(r, x), X509_V_OK);
	ck_assert_int_eq(X509_verify(x, X509_get0_pubkey(r)), 1);
	ck_assert(X509_get_extension_flags(x) & EXFLAG_CA);
	ck_assert_int_eq(X509_get_pathlen(x), 0);
	ck_assert_uint_eq(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ck_assert_int_eq(
		ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x), X509_get0_subject_key_id(r)),
		0);
	/* chain = intermediate + root; bundle = root only */
	ck_assert_int_eq(pem_count(mesh_ca_chain_pem(inter)), 2);
	ck_assert_uint_eq(mesh_bundle_count(mesh_ca_bundle(inter)), 1);
	ck_assert_str_eq(mesh_bundle_trust_domain(mesh_ca_bundle(inter)), TD);
	X509_free(x);
	X509_free(r);
	mesh_ca_free(inter);
	mesh_ca_free(root);
	mesh_diag_free(d);
}
END_TEST

static void check_svid_profile(int key_type)
{
	mesh_ca *root = new_root(0), *ca = new_intermediate(root);
	char *cert = NULL, *key = NULL;
	int64_t t0 = mesh__now();
	mesh_diag *d;
	mesh_diag_new(&d);
	ck_assert_int_eq(mesh_ca_issue(ca, ID, key_type, 0, &cert, &key, d), 0);
	ck_assert_uint_eq(mesh_diag_count(d), 0);
	/* leaf + intermediate, no root */
	ck_assert_int_eq(pem_count(cert), 2);
	ck_assert_ptr_nonnull(strstr(key, "-----BEGIN PRIVATE KEY-----"));
	X509 *x = pem_x509(cert);
	bool crit = false;
	ck_assert_int_eq(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	ck_assert(ext_crit(x, NID_subject_alt_name, &crit) && crit);
	size_t n = 0, ulen = 0;
	char *uri = NULL;
	ck_assert_int_eq(mesh__x509_uris(x, &n, &uri, &ulen), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(uri, ID);
	mesh__free(uri);
	ck_assert(ext_crit(x, NID_basic_constraints, &crit) && crit);
	ck_assert(!(X509_get_extension_flags(x) & EXFLAG_CA));
	ck_assert(ext_crit(x, NID_key_usage, &crit) && crit);
	uint32_t want_ku = KU_DIGITAL_SIGNATURE |
	                   (key_type == MESH_KEY_RSA_2048 || key_type == MESH_KEY_RSA_3072
	                            ? KU_KEY_ENCIPHERMENT
	                            : 0);
	ck_assert_uint_eq(X509_get_key_usage(x), want_ku);
	ck_assert(ext_crit(x, NID_ext_key_usage, &crit) && !crit);
	ck_assert_uint_eq(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	ck_assert_ptr_nonnull(X509_get0_authority_key_id(x));
	/* a random serial of up to 128 bits, positive */
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	ck_assert(!BN_is_negative(bn) && !BN_is_zero(bn) && BN_num_bits(bn) <= 128);
	ck_assert_int_gt(BN_num_bits(bn), 64); /* fails with chance 2^-64 */
	BN_free(bn);
	/* backdated for clock skew; 24 h by default */
	ck_assert_int_le(x_not_before(x), t0 - MESH_CLOCK_SKEW_BACKDATE + 1);
	ck_assert_int_ge(x_not_before(x), t0 - MESH_CLOCK_SKEW_BACKDATE - 5);
	ck_assert_int_ge(x_not_after(x) - t0, MESH_SVID_TTL_DEFAULT - 5);
	ck_assert_int_le(x_not_after(x) - t0, MESH_SVID_TTL_DEFAULT + 5);
	/* the key belongs to the certificate */
	BIO *bio = BIO_new_mem_buf(key, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ck_assert_int_eq(X509_check_private_key(x, k), 1);
	EVP_PKEY_free(k);
	X509_free(x);

	mesh_bundle *b = bundle_of(ca);
	expect_status(b, cert, 0, MESH_SVID_VALID, NULL);
	mesh_bundle_free(b);

	/* Two SVIDs have different serials. */
	char *cert2 = NULL, *key2 = NULL;
	ck_assert_int_eq(mesh_ca_issue(ca, ID, key_type, 60, &cert2, &key2, d), 0);
	mesh_cert *c1, *c2;
	ck_assert_int_eq(mesh_cert_parse(&c1, cert, strlen(cert), NULL), 0);
	ck_assert_int_eq(mesh_cert_parse(&c2, cert2, strlen(cert2), NULL), 0);
	ck_assert_str_ne(mesh_cert_serial(c1), mesh_cert_serial(c2));
	ck_assert_str_eq(mesh_cert_spiffe_id(c1), ID);
	ck_assert_str_eq(mesh_cert_trust_domain(c1), TD);
	ck_assert_str_eq(mesh_cert_subject(c1), "");
	ck_assert_str_eq(mesh_cert_issuer(c1), "O=" TD ", CN=Intermediate CA");
	ck_assert_uint_eq(mesh_cert_chain_length(c1), 2);
	ck_assert_int_eq(mesh_cert_key_type(c1), key_type ? key_type : MESH_KEY_EC_P256);
	ck_assert(!mesh_cert_is_ca(c1) && !mesh_cert_is_self_signed(c1));
	ck_assert_int_le(mesh_cert_not_after(c2) - mesh_cert_not_before(c2),
	                 60 + MESH_CLOCK_SKEW_BACKDATE + 1);
	mesh_cert_free(c1);
	mesh_cert_free(c2);
	mesh_free(cert2);
	mesh_free(key2);
	mesh_free(cert);
	mesh_free(key);
	mesh_diag_free(d);
	mesh_ca_free(ca);
	mesh_ca_free(root);
}

START_TEST(svid_profile_ec)
{
	check_svid_profile(MESH_KEY_DEFAULT);
}
END_TEST

START_TEST(svid_profile_rsa)
{
	check_svid_profile(MESH_KEY_RSA_2048);
}
END_TEST

START_TEST(svid_profile_rsa3072_from_root)
{
	/* Issued by the root directly: the chain is the leaf alone. */
	mesh_ca *root = new_root(MESH_KEY_RSA_3072);
	char *cert = NULL, *key = NULL;
	ck_assert_int_eq(mesh_ca_issue(root, ID, MESH_KEY_EC_P256, 0, &cert, &key, NULL), 0);
	ck_assert_int_eq(pem_count(cert), 1);
	mesh_bundle *b = bundle_of(root);
	expect_status(b, cert, 0, MESH_SVID_VALID, NULL);
	mesh_bundle_free(b);
	mesh_free(cert);
	mesh_free(key);
	mesh_ca_free(root);
}
END_TEST

START_TEST(issue_refuses)
{
	mesh_ca *ca = new_root(0);
	char *cert = NULL, *key = NULL;
	mesh_diag *d;
	mesh_diag_new(&d);
	ck_assert_int_eq(mesh_ca_issue(ca, "spiffe://other.td/ns/a/sa/b", 0, 0, &cert, &key, d),
	                 MESH_EINVAL);
	ck_assert_str_eq(
		mesh_diag_message(d, 0),
		"SPIFFE ID \"spiffe://other.td/ns/a/sa/b\" is not in the CA's trust domain "
		"\"cluster.local\"");
	ck_assert_int_eq(mesh_ca_issue(ca, "spiffe://cluster.local", 0, 0, &cert, &key, d),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh_ca_issue(ca, ID, 99, 0, &cert, &key, d), MESH_EINVAL);
	ck_assert_int_eq(mesh_ca_issue(ca, ID, 0, -5, &cert, &key, d), MESH_EINVAL);
	ck_assert_ptr_null(cert);
	ck_assert_ptr_null(key);
	/* A lifetime past the CA's end is cut, with a warning. */
	mesh_diag_clear(d);
	ck_assert_int_eq(mesh_ca_issue(ca, ID, 0, MESH_ROOT_TTL_DEFAULT * 2, &cert, &key, d), 0);
	ck_assert_uint_eq(mesh_diag_count_severity(d, MESH_SEV_WARNING), 1);
	mesh_cert *c;
	ck_assert_int_eq(mesh_cert_parse(&c, cert, strlen(cert), NULL), 0);
	ck_assert_int_eq(mesh_cert_not_after(c), mesh_ca_not_after(ca));
	mesh_cert_free(c);
	mesh_free(cert);
	mesh_free(key);
	mesh_diag_free(d);
	mesh_ca_free(ca);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

/* ---- validation, rule by rule ---- */

START_TEST(verify_rules)
{
	mesh_ca *root = new_root(0), *ca = new_intermediate(root);
	mesh_bundle *b = bundle_of(ca);
	int64_t now = mesh__now();
	const char *one[] = { ID };
	const char *two[] = { ID, "spiffe://cluster.local/ns/default/sa/ratings" };
	const char *https[] = { "https://cluster.local/ns/default/sa/reviews" };
	const char *dots[] = { "spiffe://cluster.local/ns/../sa/reviews" };
	const char *foreign[] = { "spiffe://evil.example/ns/default/sa/reviews" };
	const char *upper[] = { "SPIFFE://cluster.local/ns/default/sa/reviews" };
	struct {
		int line;
		struct mesh__x509_spec spec;
		int want;
		const char *msg;
	} cases[16];
	size_t n = 0;
#define CASE(w, m) (cases[n].line = __LINE__, cases[n].want = (w), cases[n].msg = (m), n++)
	cases[n].spec = good_spec(one);
	CASE(MESH_SVID_VALID, NULL);
	cases[n].spec = good_spec(two);
	cases[n].spec.nuris = 2;
	CASE(MESH_SVID_EMANY_URI_SANS, "has 2 URI SANs");
	cases[n].spec = good_spec(one);
	cases[n].spec.nuris = 0;
	cases[n].spec.dns = "reviews.default.svc";
	CASE(MESH_SVID_ENO_URI_SAN, "no URI SAN");
	cases[n].spec = good_spec(https);
	CASE(MESH_SVID_ENOT_SPIFFE, "is not a SPIFFE ID");
	cases[n].spec = good_spec(dots);
	CASE(MESH_SVID_EBAD_ID, "'.' or '..'");
	cases[n].spec = good_spec(upper);
	CASE(MESH_SVID_EBAD_ID, "lower-case");
	cases[n].spec = good_spec(foreign);
	CASE(MESH_SVID_ETRUST_DOMAIN, "is in trust domain \"evil.example\", not \"cluster.local\"");
	cases[n].spec = good_spec(one);
	cases[n].spec.ca = true;
	CASE(MESH_SVID_ELEAF_CA, "CA:TRUE");
	cases[n].spec = good_spec(one);
	cases[n].spec.key_usage = "digitalSignature,keyCertSign";
	CASE(MESH_SVID_ELEAF_KEY_CERT_SIGN, "keyCertSign");
	cases[n].spec = good_spec(one);
	cases[n].spec.key_usage = "digitalSignature,cRLSign";
	CASE(MESH_SVID_ELEAF_CRL_SIGN, "cRLSign");
	cases[n].spec = good_spec(one);
	cases[n].spec.key_usage = "keyEncipherment";
	CASE(MESH_SVID_ENO_DIGITAL_SIGNATURE, "lacks digitalSignature");
	cases[n].spec = good_spec(one);
	cases[n].spec.key_usage = NULL;
	CASE(MESH_SVID_ENO_DIGITAL_SIGNATURE, "no keyUsage");
	cases[n].spec = good_spec(one);
	cases[n].spec.not_before = now - 7200;
	cases[n].spec.not_after = now - 3600;
	CASE(MESH_SVID_EEXPIRED, "the certificate expired at");
	cases[n].spec = good_spec(one);
	cases[n].spec.not_before = now + 3600;
	cases[n].spec.not_after = now + 7200;
	CASE(MESH_SVID_ENOT_YET_VALID, "not valid before");
#undef CASE
	for (size_t i = 0; i < n; i++) {
		char *pem = craft(ca, &cases[i].spec);
		expect_status_(cases[i].line, b, pem, 0, cases[i].want, cases[i].msg);
		mesh_free(pem);
	}

	/* The same good SVID, checked at other times. */
	char *cert = NULL, *key = NULL;
	ck_assert_int_eq(mesh_ca_issue(ca, ID, 0, 3600, &cert, &key, NULL), 0);
	expect_status(b, cert, now + 1800, MESH_SVID_VALID, NULL);
	expect_status(b, cert, now + 7200, MESH_SVID_EEXPIRED, "the certificate expired");
	expect_status(b, cert, now - 3600, MESH_SVID_ENOT_YET_VALID, "not valid before");
	/* ... and past the intermediate's and root's end: the leaf expires first */
	expect_status(b, cert, now + MESH_ROOT_TTL_DEFAULT * 2, MESH_SVID_EEXPIRED, NULL);

	/* Without its intermediate the leaf does not chain to the root. */
	char *leaf_only = strdup(cert);
	strstr(leaf_only, "-----END CERTIFICATE-----")[26] = '\0';
	ck_assert_int_eq(pem_count(leaf_only), 1);
	expect_status(b, leaf_only, 0, MESH_SVID_EUNTRUSTED, "does not chain");

	/* A tampered signature. */
	X509 *x = pem_x509(cert);
	const ASN1_BIT_STRING *sig;
	X509_get0_signature(&sig, NULL, x);
	((ASN1_BIT_STRING *)sig)->data[10] ^= 0x01;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__x509_pem_append(&sb, x);
	mesh__sb_puts(&sb, ca->issue_pem);
	expect_status(b, sb.buf, 0, MESH_SVID_ESIGNATURE, "does not verify");
	mesh__sb_fini(&sb);
	X509_free(x);

	/* Not a certificate at all. */
	expect_status(b, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0,
	              MESH_SVID_EPARSE, NULL);
	expect_status(b, "hello", 0, MESH_SVID_EPARSE, "no PEM certificate");

	/* A CA certificate is not an SVID. */
	expect_status(b, mesh_ca_cert_pem(ca), 0, MESH_SVID_EBAD_ID, "no path");

	/* DER input. */
	x = pem_x509(cert);
	unsigned char *der = NULL;
	int dlen = i2d_X509(x, &der);
	int st = -1;
	/* leaf alone in DER: no intermediate, untrusted */
	ck_assert_int_eq(mesh_svid_verify(b, (char *)der, (size_t)dlen, 0, &st, NULL), MESH_EINVAL);
	ck_assert_int_eq(st, MESH_SVID_EUNTRUSTED);
	mesh_bundle *rb = NULL; /* the intermediate as anchor (partial chain) */
	ck_assert_int_eq(mesh_bundle_new(&rb, TD), 0);
	ck_assert_int_eq(
		mesh_bundle_add(rb, mesh_ca_cert_pem(ca), strlen(mesh_ca_cert_pem(ca)), NULL, NULL),
		0);
	ck_assert_int_eq(mesh_svid_verify(rb, (char *)der, (size_t)dlen, 0, &st, NULL), 0);
	ck_assert_int_eq(st, MESH_SVID_VALID);
	mesh_bundle_free(rb);
	OPENSSL_free(der);
	X509_free(x);

	/* NULL arguments: EINVAL with status 0 */
	st = -1;
	ck_assert_int_eq(mesh_svid_verify(NULL, cert, strlen(cert), 0, &st, NULL), MESH_EINVAL);
	ck_assert_int_eq(st, 0);

	free(leaf_only);
	mesh_free(cert);
	mesh_free(key);
	mesh_bundle_free(b);
	mesh_ca_free(ca);
	mesh_ca_free(root);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(verify_foreign_ca_and_expired_root)
{
	mesh_ca *ours = new_root(0), *theirs = new_root(0); /* same trust domain! */
	mesh_bundle *b = bundle_of(ours);
	char *cert = NULL, *key = NULL;
	ck_assert_int_eq(mesh_ca_issue(theirs, ID, 0, 0, &cert, &key, NULL), 0);
	expect_status(b, cert, 0, MESH_SVID_EUNTRUSTED, "does not chain to a root");
	/* the foreign chain with its own root appended is still untrusted */
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_puts(&sb, cert);
	mesh__sb_puts(&sb, mesh_ca_cert_pem(theirs));
	expect_status(b, sb.buf, 0, MESH_SVID_EUNTRUSTED, NULL);
	mesh__sb_fini(&sb);
	mesh_free(cert);
	mesh_free(key);

	/* A root that has expired: its leaves fail as expired (depth 1). */
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	int64_t now = mesh__now();
	const char *uris[] = { "spiffe://" TD };
	struct mesh__x509_spec rs = {
		.subject_o = TD,
		.subject_cn = "Old Root",
		.uris = uris,
		.nuris = 1,
		.ca = true,
		.pathlen = -1,
		.key_usage = "keyCertSign,cRLSign",
		.ski = true,
		.not_before = now - 86400 * 10,
		.not_after = now - 86400,
	};
	ck_assert_int_eq(mesh__key_generate(0, &k, NULL), 0);
	ck_assert_int_eq(mesh__x509_build(k, NULL, NULL, &rs, &x, NULL), 0);
	mesh__sb_init(&sb);
	mesh__x509_pem_append(&sb, x);
	char *keypem = NULL;
	ck_assert_int_eq(mesh__pkey_to_pem(k, &keypem), 0);
	mesh_ca *old = NULL;
	mesh_diag *d;
	mesh_diag_new(&d);
	/* loading an expired CA fails: it could only issue dead SVIDs */
	ck_assert_int_eq(
		mesh_ca_load(&old, sb.buf, sb.len, keypem, strlen(keypem), NULL, 0, NULL, d),
		MESH_EINVAL);
	ck_assert_ptr_nonnull(strstr(mesh_diag_message(d, 0), "expired"));
	mesh_diag_free(d);
	/* craft a leaf under it by hand */
	const char *one[] = { ID };
	struct mesh__x509_spec ls = good_spec(one);
	EVP_PKEY *lk = NULL;
	X509 *leaf = NULL;
	ck_assert_int_eq(mesh__key_generate(0, &lk, NULL), 0);
	ck_assert_int_eq(mesh__x509_build(lk, x, k, &ls, &leaf, NULL), 0);
	mesh_bundle *ob = NULL;
	ck_assert_int_eq(mesh_bundle_new(&ob, NULL), 0);
	ck_assert_int_eq(mesh_bundle_add(ob, sb.buf, sb.len, NULL, NULL), 0);
	ck_assert_str_eq(mesh_bundle_trust_domain(ob), TD); /* learned from the root */
	struct mesh__sb lp;
	mesh__sb_init(&lp);
	mesh__x509_pem_append(&lp, leaf);
	expect_status(ob, lp.buf, 0, MESH_SVID_EEXPIRED, "the root");
	mesh__sb_fini(&lp);
	mesh_bundle_free(ob);
	X509_free(leaf);
	EVP_PKEY_free(lk);
	mesh_free(keypem);
	mesh__sb_fini(&sb);
	X509_free(x);
	EVP_PKEY_free(k);
	mesh_bundle_free(b);
	mesh_ca_free(ours);
	mesh_ca_free(theirs);
}
END_TEST

START_TEST(bundle_with_two_roots)
{
	/* CA rotation: the old and the new root side by side. */
	mesh_ca *old_root = new_root(0), *new_root_ = new_root(MESH_KEY_RSA_2048);
	mesh_ca *old_ca = new_intermediate(old_root), *new_ca = new_intermediate(new_root_);
	char *both = NULL;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_puts(&sb, mesh_ca_cert_pem(old_root));
	mesh__sb_puts(&sb, mesh_ca_cert_pem(new_root_));
	both = mesh__sb_steal(&sb);

	mesh_bundle *b = NULL;
	ck_assert_int_eq(mesh_bundle_new(&b, NULL), 0);
	ck_assert_ptr_null(mesh_bundle_trust_domain(b));
	ck_assert_int_eq(mesh_bundle_add(b, both, strlen(both), "both.pem", NULL), 0);
	ck_assert_uint_eq(mesh_bundle_count(b), 2);
	ck_assert_str_eq(mesh_bundle_trust_domain(b), TD);
	/* adding the same roots again changes nothing */
	ck_assert_int_eq(mesh_bundle_add(b, both, strlen(both), "both.pem", NULL), 0);
	ck_assert_uint_eq(mesh_bundle_count(b), 2);
	char *pem = NULL;
	ck_assert_int_eq(mesh_bundle_to_pem(b, &pem), 0);
	ck_assert_str_eq(pem, both);
	mesh_free(pem);

	const mesh_ca *cas[] = { old_root, new_root_, old_ca, new_ca };
	for (size_t i = 0; i < MESH_ARRAY_LEN(cas); i++) {
		char *cert = NULL, *key = NULL;
		ck_assert_int_eq(mesh_ca_issue(cas[i], ID, 0, 0, &cert, &key, NULL), 0);
		expect_status(b, cert, 0, MESH_SVID_VALID, NULL);
		mesh_free(cert);
		mesh_free(key);
	}
	/* A bundle of the new root alone no longer trusts the old CA. */
	mesh_bundle *nb = bundle_of(new_ca);
	char *cert = NULL, *key = NULL;
	ck_assert_int_eq(mesh_ca_issue(old_ca, ID, 0, 0, &cert, &key, NULL), 0);
	expect_status(nb, cert, 0, MESH_SVID_EUNTRUSTED, NULL);
	mesh_free(cert);
	mesh_free(key);
	mesh_bundle_free(nb);

	/* A CA loaded with the two-root bundle hands it out. */
	char *ckey = NULL;
	ck_assert_int_eq(mesh__pkey_to_pem(new_ca->key, &ckey), 0);
	mesh_ca *loaded = NULL;
	mesh_diag *d;
	mesh_diag_new(&d);
	int rc = mesh_ca_load(&loaded, mesh_ca_chain_pem(new_ca), strlen(mesh_ca_chain_pem(new_ca)),
	                      ckey, strlen(ckey), both, strlen(both), NULL, d);
	if (rc)
		tu_dump(d);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(mesh_bundle_count(mesh_ca_bundle(loaded)), 2);
	ck_assert_str_eq(mesh_ca_trust_domain(loaded), TD);
	mesh_ca_free(loaded);
	/* ... but not a bundle without its root */
	rc = mesh_ca_load(&loaded, mesh_ca_chain_pem(new_ca), strlen(mesh_ca_chain_pem(new_ca)),
	                  ckey, strlen(ckey), mesh_ca_cert_pem(old_root),
	                  strlen(mesh_ca_cert_pem(old_root)), NULL, d);
	ck_assert_int_eq(rc, MESH_EINVAL);
	ck_assert_ptr_null(loaded);
	mesh_diag_free(d);
	mesh_free(ckey);
	mesh_free(both);
	mesh_bundle_free(b);
	mesh_ca_free(old_ca);
	mesh_ca_free(new_ca);
	mesh_ca_free(old_root);
	mesh_ca_free(new_root_);
}
END_TEST

START_TEST(bundle_refuses)
{
	mesh_ca *ca = new_root(0);
	char *cert = NULL, *key = NULL;
	ck_assert_int_eq(mesh_ca_issue(ca, ID, 0, 0, &cert, &key, NULL), 0);
	mesh_bundle *b = NULL;
	mesh_diag *d;
	mesh_diag_new(&d);
	ck_assert_int_eq(mesh_bundle_new(&b, "Bad"), MESH_EINVAL);
	ck_assert_int_eq(mesh_bundle_new(&b, TD), 0);
	/* a leaf is not a root; and nothing of a failed add is kept */
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_puts(&sb, mesh_ca_cert_pem(ca));
	mesh__sb_puts(&sb, cert);
	ck_assert_int_eq(mesh_bundle_add(b, sb.buf, sb.len, "mixed.pem", d), MESH_EINVAL);
	ck_assert_uint_eq(mesh_bundle_count(b), 0);
	ck_assert_str_eq(mesh_diag_file(d, 0), "mixed.pem");
	ck_assert_ptr_nonnull(strstr(mesh_diag_message(d, 0), "certificate 2 is not a CA"));
	/* corrupt second certificate */
	mesh__sb_truncate(&sb, 0);
	mesh__sb_puts(&sb, mesh_ca_cert_pem(ca));
	mesh__sb_puts(&sb, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
	ck_assert_int_eq(mesh_bundle_add(b, sb.buf, sb.len, NULL, d), MESH_EINVAL);
	ck_assert_uint_eq(mesh_bundle_count(b), 0);
	ck_assert_int_eq(mesh_bundle_add(b, "", 0, NULL, d), MESH_EINVAL);
	ck_assert_int_eq(mesh_bundle_load_file(b, "/nonexistent/bundle.pem", d), MESH_EIO);
	mesh__sb_fini(&sb);
	/* a bundle of another trust domain validates nothing of ours */
	mesh_bundle *other = NULL;
	ck_assert_int_eq(mesh_bundle_new(&other, "other.td"), 0);
	ck_assert_int_eq(mesh_bundle_add(other, mesh_ca_cert_pem(ca), strlen(mesh_ca_cert_pem(ca)),
	                                 NULL, NULL),
	                 0);
	ck_assert_str_eq(mesh_bundle_trust_domain(other), "other.td");
	expect_status(other, cert, 0, MESH_SVID_ETRUST_DOMAIN, NULL);
	mesh_bundle_free(other);
	/* a bundle whose roots say no trust domain validates nothing */
	mesh_bundle *anon = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	struct mesh__x509_spec rs = { .subject_cn = "anon",
		                      .ca = true,
		                      .pathlen = -1,
		                      .key_usage = "keyCertSign",
		                      .ski = true,
		                      .not_before = mesh__now() - 10,
		                      .not_after = mesh__now() + 3600 };
	ck_assert_int_eq(mesh__key_generate(0, &k, NULL), 0);
	ck_assert_int_eq(mesh__x509_build(k, NULL, NULL, &rs, &x, NULL), 0);
	mesh__sb_init(&sb);
	mesh__x509_pem_append(&sb, x);
	ck_assert_int_eq(mesh_bundle_new(&anon, NULL), 0);
	ck_assert_int_eq(mesh_bundle_add(anon, sb.buf, sb.len, NULL, NULL), 0);
	ck_assert_ptr_null(mesh_bundle_trust_domain(anon));
	expect_status(anon, cert, 0, MESH_SVID_ETRUST_DOMAIN, "unknown");
	mesh_bundle_free(anon);
	mesh__sb_fini(&sb);
	X509_free(x);
	EVP_PKEY_free(k);
	mesh_bundle_free(b);
	mesh_diag_free(d);
	mesh_free(cert);
	mesh_free(key);
	mesh_ca_free(ca);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

/* ---- enrolment ---- */

START_TEST(csr_roundtrip)
{
	mesh_ca *root = new_root(0), *ca = new_intermediate(root);
	const int types[] = { MESH_KEY_EC_P256, MESH_KEY_RSA_2048 };
	for (size_t i = 0; i < MESH_ARRAY_LEN(types); i++) {
		char *csr = NULL, *key = NULL, *cert = NULL;
		ck_assert_int_eq(mesh_csr_new(ID, types[i], &csr, &key, NULL), 0);
		ck_assert_ptr_nonnull(strstr(csr, "-----BEGIN CERTIFICATE REQUEST-----"));
		ck_assert_ptr_null(strstr(csr, "PRIVATE KEY"));
		mesh_diag *d;
		mesh_diag_new(&d);
		int rc = mesh_ca_sign_csr(ca, csr, strlen(csr), NULL, 3600, &cert, d);
		if (rc)
			tu_dump(d);
		ck_assert_int_eq(rc, 0);
		mesh_diag_free(d);
		/* the certificate is for the workload's own key */
		X509 *x = pem_x509(cert);
		BIO *bio = BIO_new_mem_buf(key, -1);
		EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
		ck_assert_int_eq(X509_check_private_key(x, k), 1);
		EVP_PKEY_free(k);
		X509_free(x);
		mesh_bundle *b = bundle_of(ca);
		expect_status(b, cert, 0, MESH_SVID_VALID, NULL);
		mesh_bundle_free(b);
		/* renewal bound to the current identity */
		char *cert2 = NULL;
		ck_assert_int_eq(mesh_ca_sign_csr(ca, csr, strlen(csr), ID, 0, &cert2, NULL), 0);
		mesh_free(cert2);
		ck_assert_int_eq(mesh_ca_sign_csr(ca, csr, strlen(csr),
		                                  "spiffe://cluster.local/ns/default/sa/other", 0,
		                                  &cert2, NULL),
		                 MESH_EINVAL);
		ck_assert_ptr_null(cert2);
		mesh_free(csr);
		mesh_free(key);
		mesh_free(cert);
	}
	mesh_ca_free(ca);
	mesh_ca_free(root);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

/* A CSR crafted with raw OpenSSL: @uris as URI SANs, plus a requested
 * basicConstraints CA:TRUE and a DNS SAN that the CA must ignore. */
static char *raw_csr(const char *const *uris, size_t nuris, int rsa_bits, bool tamper)
{
	EVP_PKEY *k = rsa_bits ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)rsa_bits)
	                       : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(k);
	X509_REQ *req = X509_REQ_new();
	X509_REQ_set_version(req, 0);
	X509_REQ_set_pubkey(req, k);
	X509_NAME *n = X509_REQ_get_subject_name(req);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"admin", -1, -1,
	                           0);
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	for (size_t i = 0; i < nuris; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		ASN1_STRING_set(s, uris[i], -1);
		GENERAL_NAME_set0_value(g, GEN_URI, s);
		sk_GENERAL_NAME_push(gens, g);
	}
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	ASN1_STRING_set(s, "evil.example.com", -1);
	GENERAL_NAME_set0_value(g, GEN_DNS, s);
	sk_GENERAL_NAME_push(gens, g);
	sk_X509_EXTENSION_push(exts, X509V3_EXT_i2d(NID_subject_alt_name, 0, gens));
	GENERAL_NAMES_free(gens);
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, NULL, NULL, req, NULL, 0);
	sk_X509_EXTENSION_push(
		exts, X509V3_EXT_nconf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
	sk_X509_EXTENSION_push(
		exts, X509V3_EXT_nconf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign"));
	X509_REQ_add_extensions(req, exts);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ck_assert_int_gt(X509_REQ_sign(req, k, EVP_sha256()), 0);
	if (tamper) {
		const ASN1_BIT_STRING *sig;
		X509_REQ_get0_signature(req, &sig, NULL);
		((ASN1_BIT_STRING *)sig)->data[8] ^= 0x10;
	}
	BIO *bio = BIO_new(BIO_s_mem());
	PEM_write_bio_X509_REQ(bio, req);
	char *p;
	long len = BIO_get_mem_data(bio, &p);
	char *out = mesh__strndup(p, (size_t)len);
	BIO_free(bio);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	return out;
}

static void expect_csr_refused_(int line, const mesh_ca *ca, const char *csr, const char *msg)
{
	char *cert = NULL;
	mesh_diag *d;
	mesh_diag_new(&d);
	int rc = mesh_ca_sign_csr(ca, csr, strlen(csr), NULL, 0, &cert, d);
	bool ok = rc == MESH_EINVAL && !cert && mesh_diag_count(d) >= 1 &&
	          strstr(mesh_diag_message(d, 0), msg);
	if (!ok) {
		fprintf(stderr, "line %d: wanted refusal with \"%s\", got rc=%d\n", line, msg, rc);
		tu_dump(d);
	}
	mesh_diag_free(d);
	mesh_free(cert);
	ck_assert_msg(ok, "line %d: CSR not refused as expected", line);
}
#define expect_csr_refused(ca, csr, msg) expect_csr_refused_(__LINE__, ca, csr, msg)

START_TEST(csr_signing_rules)
{
	mesh_ca *ca = new_root(0);
	const char *one[] = { ID };
	const char *two[] = { ID, "spiffe://cluster.local/ns/default/sa/b" };
	const char *foreign[] = { "spiffe://evil.example/ns/default/sa/reviews" };
	const char *notid[] = { "https://cluster.local/x" };
	char *csr;

	/* Only the key and the ID are taken: CA:TRUE, keyCertSign, the DNS
	 * SAN and the subject asked for are not. */
	csr = raw_csr(one, 1, 0, false);
	char *cert = NULL;
	ck_assert_int_eq(mesh_ca_sign_csr(ca, csr, strlen(csr), NULL, 0, &cert, NULL), 0);
	X509 *x = pem_x509(cert);
	ck_assert(!(X509_get_extension_flags(x) & EXFLAG_CA));
	ck_assert_uint_eq(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	ck_assert_int_eq(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 1);
	ck_assert_int_eq(sk_GENERAL_NAME_value(gens, 0)->type, GEN_URI);
	GENERAL_NAMES_free(gens);
	X509_free(x);
	mesh_bundle *b = bundle_of(ca);
	expect_status(b, cert, 0, MESH_SVID_VALID, NULL);
	mesh_bundle_free(b);
	mesh_free(cert);
	mesh_free(csr);

	csr = raw_csr(foreign, 1, 0, false);
	expect_csr_refused(ca, csr, "is not in the CA's trust domain");
	mesh_free(csr);
	csr = raw_csr(two, 2, 0, false);
	expect_csr_refused(ca, csr, "asks for 2 URI SANs");
	mesh_free(csr);
	csr = raw_csr(one, 0, 0, false);
	expect_csr_refused(ca, csr, "asks for no SPIFFE ID");
	mesh_free(csr);
	csr = raw_csr(notid, 1, 0, false);
	expect_csr_refused(ca, csr, "does not start with spiffe://");
	mesh_free(csr);
	csr = raw_csr(one, 1, 0, true);
	expect_csr_refused(ca, csr, "signature does not verify");
	mesh_free(csr);
	csr = raw_csr(one, 1, 1024, false);
	expect_csr_refused(ca, csr, "RSA key has 1024 bits");
	mesh_free(csr);
	expect_csr_refused(ca, "not a csr", "not a certificate signing request");
	/* A workload cannot ask mesh_csr_new for a foreign-looking bad ID either. */
	char *k = NULL;
	ck_assert_int_eq(mesh_csr_new("spiffe://td", 0, &csr, &k, NULL), MESH_EINVAL);
	ck_assert_int_eq(mesh_csr_new(ID, 42, &csr, &k, NULL), MESH_EINVAL);
	ck_assert_ptr_null(csr);
	ck_assert_ptr_null(k);
	mesh_ca_free(ca);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

/* ---- CA directories and files ---- */

static char *tmpdir(void)
{
	char *t = strdup("/tmp/mesh-identity-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t));
	return t;
}

static void rm_rf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static unsigned mode_of(const char *dir, const char *name)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (stat(p, &st) != 0)
		return 0;
	return st.st_mode & 07777;
}

static void put(const char *dir, const char *name, const char *data)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(data, f);
	fclose(f);
}

START_TEST(ca_dir_roundtrip)
{
	char *dir = tmpdir();
	mesh_ca *root = new_root(0), *inter = new_intermediate(root);
	mesh_diag *d;
	mesh_diag_new(&d);
	ck_assert_int_eq(mesh_ca_write_dir(root, dir, d), 0);
	ck_assert_uint_eq(mode_of(dir, "root-key.pem"), 0600);
	ck_assert_uint_eq(mode_of(dir, "root-cert.pem"), 0644);
	ck_assert_uint_eq(mode_of(dir, "cert-chain.pem"), 0644);
	ck_assert_uint_eq(mode_of(dir, "trust-bundle.pem"), 0644);
	ck_assert_uint_eq(mode_of(dir, "ca-key.pem"), 0);

	/* root only: load, issue */
	mesh_ca *loaded = NULL;
	int rc = mesh_ca_load_dir(&loaded, dir, NULL, d);
	if (rc)
		tu_dump(d);
	ck_assert_int_eq(rc, 0);
	ck_assert(mesh_ca_is_root(loaded));
	ck_assert_str_eq(mesh_ca_cert_pem(loaded), mesh_ca_cert_pem(root));
	mesh_ca_free(loaded);

	/* with the intermediate: it is the one that issues */
	ck_assert_int_eq(mesh_ca_write_dir(inter, dir, d), 0);
	ck_assert_uint_eq(mode_of(dir, "ca-key.pem"), 0600);
	ck_assert_uint_eq(mode_of(dir, "ca-cert.pem"), 0644);
	ck_assert_int_eq(mesh_ca_load_dir(&loaded, dir, NULL, d), 0);
	ck_assert(!mesh_ca_is_root(loaded));
	ck_assert_str_eq(mesh_ca_cert_pem(loaded), mesh_ca_cert_pem(inter));
	ck_assert_str_eq(mesh_ca_chain_pem(loaded), mesh_ca_chain_pem(inter));
	char *cert = NULL, *key = NULL;
	ck_assert_int_eq(mesh_ca_issue(loaded, ID, 0, 0, &cert, &key, d), 0);
	mesh_bundle *b = NULL;
	char p[512];
	snprintf(p, sizeof(p), "%s/trust-bundle.pem", dir);
	ck_assert_int_eq(mesh_bundle_new(&b, NULL), 0);
	ck_assert_int_eq(mesh_bundle_load_file(b, p, d), 0);
	expect_status(b, cert, 0, MESH_SVID_VALID, NULL);
	mesh_bundle_free(b);
	mesh_free(cert);
	mesh_free(key);
	mesh_ca_free(loaded);

	/* without cert-chain.pem: ca-cert.pem + root-cert.pem */
	snprintf(p, sizeof(p), "%s/cert-chain.pem", dir);
	unlink(p);
	ck_assert_int_eq(mesh_ca_load_dir(&loaded, dir, TD, d), 0);
	mesh_ca_free(loaded);

	/* trust domain given explicitly but unlike the certificates' */
	mesh_diag_clear(d);
	ck_assert_int_eq(mesh_ca_load_dir(&loaded, dir, "other.td", d), 0);
	ck_assert_str_eq(mesh_ca_trust_domain(loaded), "other.td");
	mesh_ca_free(loaded);

	/* a chain that starts with another CA than ca-cert.pem */
	put(dir, "cert-chain.pem", mesh_ca_chain_pem(root));
	rc = mesh_ca_load_dir(&loaded, dir, NULL, d);
	ck_assert_int_ne(rc, 0);
	ck_assert_ptr_null(loaded);

	/* a corrupt key */
	mesh_diag_clear(d);
	put(dir, "cert-chain.pem", mesh_ca_chain_pem(inter));
	put(dir, "ca-key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	ck_assert_int_eq(mesh_ca_load_dir(&loaded, dir, NULL, d), MESH_EINVAL);
	snprintf(p, sizeof(p), "%s/ca-key.pem", dir);
	ck_assert_str_eq(mesh_diag_file(d, 0), p);
	ck_assert_str_eq(mesh_diag_message(d, 0),
	                 "not a private key (bad PEM or DER, or encrypted)");

	/* the wrong key */
	mesh_diag_clear(d);
	char *rk = NULL;
	ck_assert_int_eq(mesh__pkey_to_pem(root->key, &rk), 0);
	put(dir, "ca-key.pem", rk);
	mesh_free(rk);
	ck_assert_int_eq(mesh_ca_load_dir(&loaded, dir, NULL, d), MESH_EINVAL);
	ck_assert_str_eq(mesh_diag_message(d, 0),
	                 "the private key does not belong to the CA certificate");

	/* a missing certificate */
	mesh_diag_clear(d);
	snprintf(p, sizeof(p), "%s/ca-cert.pem", dir);
	unlink(p);
	ck_assert_int_eq(mesh_ca_load_dir(&loaded, dir, NULL, d), MESH_EIO);
	ck_assert_str_eq(mesh_diag_file(d, 0), p);

	/* not a CA directory */
	mesh_diag_clear(d);
	ck_assert_int_eq(mesh_ca_load_dir(&loaded, "/nonexistent/ca", NULL, d), MESH_ENOTFOUND);
	ck_assert_str_eq(mesh_diag_message(d, 0), "not a CA directory: No such file or directory");
	mesh_diag_clear(d);
	char *empty = tmpdir();
	ck_assert_int_eq(mesh_ca_load_dir(&loaded, empty, NULL, d), MESH_ENOTFOUND);
	ck_assert_ptr_nonnull(
		strstr(mesh_diag_message(d, 0), "neither ca-key.pem nor root-key.pem"));
	rm_rf(empty);
	free(empty);

	mesh_diag_free(d);
	mesh_ca_free(inter);
	mesh_ca_free(root);
	rm_rf(dir);
	free(dir);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(files)
{
	char *dir = tmpdir();
	char p[512];
	snprintf(p, sizeof(p), "%s/key.pem", dir);
	/* a key replaced in place stays 0600 and is swapped whole */
	ck_assert_int_eq(mesh_identity_write_file(p, "one", 3, 1, NULL), 0);
	ck_assert_uint_eq(mode_of(dir, "key.pem"), 0600);
	ck_assert_int_eq(mesh_identity_write_file(p, "two!", 4, 1, NULL), 0);
	char *data = NULL;
	size_t len = 0;
	ck_assert_int_eq(mesh_identity_read_file(p, &data, &len, NULL), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_str_eq(data, "two!");
	mesh_free(data);
	snprintf(p, sizeof(p), "%s/cert.pem", dir);
	ck_assert_int_eq(mesh_identity_write_file(p, "", 0, 0, NULL), 0);
	ck_assert_uint_eq(mode_of(dir, "cert.pem"), 0644);
	ck_assert_int_eq(mesh_identity_read_file(p, &data, &len, NULL), 0);
	ck_assert_uint_eq(len, 0);
	mesh_free(data);
	/* no temporary files left behind */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 2", dir);
	ck_assert_int_eq(system(cmd), 0);

	mesh_diag *d;
	mesh_diag_new(&d);
	ck_assert_int_eq(mesh_identity_write_file("/nonexistent/dir/x.pem", "x", 1, 0, d),
	                 MESH_EIO);
	ck_assert_str_eq(mesh_diag_file(d, 0), "/nonexistent/dir/x.pem");
	ck_assert_int_eq(mesh_identity_read_file("/nonexistent/x.pem", &data, &len, d), MESH_EIO);
	/* too large */
	snprintf(p, sizeof(p), "%s/big", dir);
	snprintf(cmd, sizeof(cmd), "head -c 2000000 /dev/zero > '%s'", p);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(mesh_identity_read_file(p, &data, &len, d), MESH_ELIMIT);
	ck_assert_ptr_null(data);
	mesh_diag_free(d);
	rm_rf(dir);
	free(dir);
}
END_TEST

/* ---- CA server (set-up; the HTTPS exchanges are in meshctl_ca.sh) ---- */

START_TEST(ca_server_setup)
{
	mesh_ca *ca = new_root(0);
	char *dir = tmpdir();
	char tokens[512];
	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	mesh_diag *d;
	mesh_diag_new(&d);
	struct mesh_ca_server_options o = { .struct_size = sizeof(o), .tokens_file = tokens };
	mesh_ca_server *s = NULL;
	/* a token for another trust domain, on line 3 */
	put(dir, "tokens", "# c\n\n0123456789abcdef0 spiffe://other.td/ns/a/sa/b\n");
	ck_assert_int_eq(mesh_ca_server_new(&s, ca, &o, d), MESH_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(mesh_diag_line(d, 0), 3);
	put(dir, "tokens", "0123456789abcdef0 spiffe://cluster.local/ns/a/sa/b\n");
	o.tokens_file = "/nonexistent/tokens";
	ck_assert_int_eq(mesh_ca_server_new(&s, ca, &o, d), MESH_EIO);
	o.tokens_file = tokens;
	o.address = "not-an-address";
	ck_assert_int_eq(mesh_ca_server_new(&s, ca, &o, d), MESH_EINVAL);
	o.address = "::1";
	o.struct_size = 8;
	ck_assert_int_eq(mesh_ca_server_new(&s, ca, &o, d), MESH_EINVAL);
	o.struct_size = sizeof(o);
	if (mesh_ca_server_new(&s, ca, &o, d) != 0) { /* no IPv6 here */
		o.address = NULL;
		ck_assert_int_eq(mesh_ca_server_new(&s, ca, &o, d), 0);
	}
	ck_assert_uint_gt(mesh_ca_server_port(s), 0);
	ck_assert_int_eq(mesh_ca_server_add_token(s, "short", ID), MESH_EINVAL);
	ck_assert_int_eq(mesh_ca_server_add_token(s, "0123456789abcdef xx", ID), MESH_EINVAL);
	ck_assert_int_eq(mesh_ca_server_add_token(s, "0123456789abcdefgh", "spiffe://x/y"),
	                 MESH_EINVAL);
	ck_assert_int_eq(mesh_ca_server_add_token(s, "0123456789abcdefgh", ID), 0);
	/* a stop that comes first makes run return at once */
	mesh_ca_server_stop(s);
	ck_assert_int_eq(mesh_ca_server_run(s), 0);
	mesh_ca_server_free(s);
	mesh_ca_server_free(NULL);
	mesh_ca_server_stop(NULL);
	mesh_diag_free(d);
	rm_rf(dir);
	free(dir);
	mesh_ca_free(ca);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

/* ---- allocation failures ---- */

/* The whole flow, as a workload and a CA run it. Returns 0 or the first
 * error; never crashes or leaks whatever fails. */
static int flow(const mesh_ca *ca, const mesh_bundle *b)
{
	char *csr = NULL, *key = NULL, *cert = NULL, *c2 = NULL, *k2 = NULL, *pem = NULL;
	mesh_cert *c = NULL;
	mesh_ca *inter = NULL;
	mesh_bundle *nb = NULL;
	mesh_diag *d = NULL;
	int st = 0, rc;
	if ((rc = mesh_diag_new(&d)) || (rc = mesh_csr_new(ID, 0, &csr, &key, d)) ||
	    (rc = mesh_ca_sign_csr(ca, csr, strlen(csr), ID, 0, &cert, d)) ||
	    (rc = mesh_svid_verify(b, cert, strlen(cert), 0, &st, d)) ||
	    (rc = mesh_cert_parse(&c, cert, strlen(cert), d)) ||
	    (rc = mesh_ca_issue(ca, ID, 0, 60, &c2, &k2, d)) ||
	    (rc = mesh_ca_new_intermediate(&inter, ca, 0, 3600, d)) ||
	    (rc = mesh_bundle_to_pem(b, &pem)) || (rc = mesh_bundle_new(&nb, NULL)) ||
	    (rc = mesh_bundle_add(nb, pem, strlen(pem), NULL, d)))
		goto out;
	REQUIRE(st == MESH_SVID_VALID);
	REQUIRE(!strcmp(mesh_cert_spiffe_id(c), ID));
out:
	mesh_free(csr);
	mesh_free(key);
	mesh_free(cert);
	mesh_free(c2);
	mesh_free(k2);
	mesh_free(pem);
	mesh_cert_free(c);
	mesh_ca_free(inter);
	mesh_bundle_free(nb);
	mesh_diag_free(d);
	return rc;
}

START_TEST(survives_libmesh_allocation_failures)
{
	mesh_ca *ca = new_root(0);
	mesh_bundle *b = bundle_of(ca);
	for (long n = 0;; n++) {
		mesh__alloc_fail_after(n);
		int rc = flow(ca, b);
		mesh__alloc_fail_after(-1);
		if (rc == 0)
			break;
		REQUIRE(rc == MESH_ENOMEM);
		REQUIRE(ERR_peek_error() == 0);
		REQUIRE(n < 100000);
	}
	mesh_bundle_free(b);
	mesh_ca_free(ca);
}
END_TEST

START_TEST(survives_openssl_allocation_failures)
{
	/* Allocations inside OpenSSL fail one after another: each call fails
	 * cleanly with a MESH_E* code and leaves no error on the queue. */
	mesh_ca *ca = new_root(0);
	mesh_bundle *b = bundle_of(ca);
	long n;
	for (n = 0;; n++) {
		ossl_fail_after = n;
		int rc = flow(ca, b);
		ossl_fail_after = -1;
		if (rc == 0)
			break;
		/* OpenSSL sometimes reports a failed allocation as another error,
		 * or as a verification failure (the chain could not be built). */
		REQUIRE(rc == MESH_ENOMEM || rc == MESH_EFATAL || rc == MESH_EINVAL);
		if (ERR_peek_error()) {
			fprintf(stderr, "n=%ld rc=%d\n", n, rc);
			ERR_print_errors_fp(stderr);
		}
		REQUIRE(ERR_peek_error() == 0);
		REQUIRE(n < 200000);
	}
	ck_assert_int_gt(n, 100);
	mesh_bundle_free(b);
	mesh_ca_free(ca);
}
END_TEST

static Suite *identity_suite(void)
{
	Suite *s = suite_create("identity");
	TCase *t = tcase_create("identity");
	tcase_set_timeout(t, 300);
	tcase_add_test(t, trust_domain_syntax);
	tcase_add_test(t, spiffe_id_syntax);
	tcase_add_test(t, names);
	tcase_add_test(t, root_profile_ec);
	tcase_add_test(t, root_profile_rsa);
	tcase_add_test(t, root_rejects_bad_input);
	tcase_add_test(t, intermediate_profile);
	tcase_add_test(t, svid_profile_ec);
	tcase_add_test(t, svid_profile_rsa);
	tcase_add_test(t, svid_profile_rsa3072_from_root);
	tcase_add_test(t, issue_refuses);
	tcase_add_test(t, verify_rules);
	tcase_add_test(t, verify_foreign_ca_and_expired_root);
	tcase_add_test(t, bundle_with_two_roots);
	tcase_add_test(t, bundle_refuses);
	tcase_add_test(t, csr_roundtrip);
	tcase_add_test(t, csr_signing_rules);
	tcase_add_test(t, ca_dir_roundtrip);
	tcase_add_test(t, files);
	tcase_add_test(t, ca_server_setup);
	tcase_add_test(t, survives_libmesh_allocation_failures);
	tcase_add_test(t, survives_openssl_allocation_failures);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	/* Before OpenSSL allocates anything, so that every allocation of
	 * OpenSSL goes through the failing hook. */
	if (!CRYPTO_set_mem_functions(t_malloc, t_realloc, t_free)) {
		fprintf(stderr, "CRYPTO_set_mem_functions failed\n");
		return 1;
	}
	return tu_run(identity_suite());
}
