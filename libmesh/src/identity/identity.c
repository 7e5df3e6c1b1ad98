/* identity.c - public entry points of the identity module that are not
 * tied to one object: names, SPIFFE ID syntax, certificate information and
 * the file helpers (atomic writes, 0600 keys). */
#include "identity_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

MESH_API const char *mesh_svid_status_name(int status)
{
	static const char *const names[] = {
		[MESH_SVID_VALID] = "valid",
		[MESH_SVID_EPARSE] = "parse-error",
		[MESH_SVID_ENO_URI_SAN] = "no-uri-san",
		[MESH_SVID_EMANY_URI_SANS] = "many-uri-sans",
		[MESH_SVID_ENOT_SPIFFE] = "not-spiffe",
		[MESH_SVID_EBAD_ID] = "bad-spiffe-id",
		[MESH_SVID_ETRUST_DOMAIN] = "wrong-trust-domain",
		[MESH_SVID_ELEAF_CA] = "leaf-is-ca",
		[MESH_SVID_ELEAF_KEY_CERT_SIGN] = "leaf-key-cert-sign",
		[MESH_SVID_ELEAF_CRL_SIGN] = "leaf-crl-sign",
		[MESH_SVID_ENO_DIGITAL_SIGNATURE] = "no-digital-signature",
		[MESH_SVID_EUNTRUSTED] = "untrusted",
		[MESH_SVID_ESIGNATURE] = "bad-signature",
		[MESH_SVID_ENOT_YET_VALID] = "not-yet-valid",
		[MESH_SVID_EEXPIRED] = "expired",
		[MESH_SVID_ECHAIN] = "bad-chain",
	};
	if (status < 0 || (size_t)status >= MESH_ARRAY_LEN(names) || !names[status])
		return "unknown";
	return names[status];
}

static const struct {
	const char *name;
	int type;
} key_names[] = {
	{ "ec-p256", MESH_KEY_EC_P256 },
	{ "rsa-2048", MESH_KEY_RSA_2048 },
	{ "rsa-3072", MESH_KEY_RSA_3072 },
};

MESH_API const char *mesh_key_type_name(int type)
{
	if (type == MESH_KEY_DEFAULT)
		type = MESH_KEY_EC_P256;
	for (size_t i = 0; i < MESH_ARRAY_LEN(key_names); i++)
		if (key_names[i].type == type)
			return key_names[i].name;
	return "other";
}

MESH_API int mesh_key_type_from_name(const char *name)
{
	if (!name)
		return MESH_EINVAL;
	for (size_t i = 0; i < MESH_ARRAY_LEN(key_names); i++)
		if (mesh__streq_icase(name, key_names[i].name))
			return key_names[i].type;
	return MESH_EINVAL;
}

/* ---- SPIFFE IDs (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md) ---- */

static bool td_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static bool path_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* Check the trust domain @td[0..n); NULL on success, else the reason. */
static const char *td_problem(const char *td, size_t n)
{
	if (n == 0)
		return "the trust domain is empty";
	if (n > MESH__TRUST_DOMAIN_MAX)
		return "the trust domain is longer than 255 bytes";
	for (size_t i = 0; i < n; i++) {
		char c = td[i];
		if (c >= 'A' && c <= 'Z')
			return "the trust domain must be lower case";
		if (!td_char(c))
			return "the trust domain may hold only letters a-z, digits, '-', '_' and '.' "
			       "(no port, user or percent-encoding)";
		if (c == '.' && (i == 0 || i + 1 == n || td[i + 1] == '.'))
			return "the trust domain has an empty label (a leading, trailing or double "
			       "'.')";
	}
	return NULL;
}

MESH_API int mesh_trust_domain_check(const char *td, mesh_diag *diag)
{
	if (!td) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL, "no trust domain");
		return MESH_EINVAL;
	}
	const char *why = td_problem(td, strlen(td));
	if (why) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "invalid trust domain \"%s\": %s", td, why);
		return MESH_EINVAL;
	}
	return 0;
}

int mesh__spiffe_id_parse(const char *id, size_t *td_len, bool allow_no_path, mesh_diag *diag)
{
	const char *why = NULL;
	size_t n = strlen(id);
	if (n > MESH__SPIFFE_ID_MAX) {
		why = "longer than 2048 bytes";
		goto bad;
	}
	if (strncmp(id, "spiffe://", 9) != 0) {
		why = strncasecmp(id, "spiffe://", 9) == 0 ? "the scheme must be lower-case spiffe"
		                                           : "it does not start with spiffe://";
		goto bad;
	}
	const char *td = id + 9;
	size_t tdn = strcspn(td, "/");
	if ((why = td_problem(td, tdn)))
		goto bad;
	const char *p = td + tdn;
	if (!*p) {
		if (allow_no_path)
			goto good;
		why = "it has no path (that names a trust domain, not a workload)";
		goto bad;
	}
	while (*p == '/') {
		const char *seg = ++p;
		while (path_char(*p))
			p++;
		size_t len = (size_t)(p - seg);
		if (len == 0) {
			why = *p ? "a path segment is empty" : "the path ends with '/'";
			goto bad;
		}
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
			why = "a path segment is '.' or '..'";
			goto bad;
		}
	}
	if (*p) {
		why = *p == '?' || *p == '#'
		              ? "it has a query or fragment"
		              : "the path may hold only letters, digits, '-', '_' and '.' in "
		                "segments separated by '/' (no percent-encoding)";
		goto bad;
	}
good:
	if (td_len)
		*td_len = tdn;
	return 0;
bad:
	mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
	               "invalid SPIFFE ID \"%.200s\": %s", id, why);
	return MESH_EINVAL;
}

MESH_API int mesh_spiffe_id_check(const char *id, mesh_diag *diag)
{
	if (!id)
		return MESH_EINVAL;
	return mesh__spiffe_id_parse(id, NULL, false, diag);
}

static int segment_check(const char *what, const char *s, mesh_diag *diag)
{
	const char *p = s;
	while (path_char(*p))
		p++;
	if (*p || p == s || !strcmp(s, ".") || !strcmp(s, "..")) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, NULL, 0, 0, NULL,
		               "invalid %s \"%s\": use letters, digits, '-', '_' and '.'", what, s);
		return MESH_EINVAL;
	}
	return 0;
}

MESH_API int mesh_spiffe_id_build(char **out, const char *td, const char *ns, const char *sa,
                                  mesh_diag *diag)
{
	if (!out || !td || !ns || !sa)
		return MESH_EINVAL;
	*out = NULL;
	int rc;
	if ((rc = mesh_trust_domain_check(td, diag)) ||
	    (rc = segment_check("namespace", ns, diag)) ||
	    (rc = segment_check("service account", sa, diag)))
		return rc;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_printf(&sb, "spiffe://%s/ns/%s/sa/%s", td, ns, sa);
	if (!sb.oom && (rc = mesh__spiffe_id_parse(sb.buf, NULL, false, diag))) {
		mesh__sb_fini(&sb);
		return rc;
	}
	*out = mesh__sb_steal(&sb);
	return *out ? 0 : MESH_ENOMEM;
}

int mesh__x509_uris(X509 *x, size_t *count, char **first, size_t *first_len)
{
	*count = 0;
	if (first)
		*first = NULL;
	int loc = -1;
	while ((loc = X509_get_ext_by_NID(x, NID_subject_alt_name, loc)) >= 0) {
		GENERAL_NAMES *gens = X509V3_EXT_d2i(X509_get_ext(x, loc));
		if (!gens) {
			ERR_clear_error(); /* an undecodable SAN holds no usable URI */
			continue;
		}
		for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
			if (g->type != GEN_URI)
				continue;
			if (++*count == 1 && first) {
				const ASN1_IA5STRING *s = g->d.uniformResourceIdentifier;
				size_t n = (size_t)ASN1_STRING_length(s);
				*first = mesh__strndup((const char *)ASN1_STRING_get0_data(s), n);
				*first_len = n;
				if (!*first) {
					GENERAL_NAMES_free(gens);
					return MESH_ENOMEM;
				}
			}
		}
		GENERAL_NAMES_free(gens);
	}
	return 0;
}

/* ---- Certificate information ---- */

MESH_API void mesh_cert_free(mesh_cert *c)
{
	if (!c)
		return;
	X509_free(c->x);
	mesh__free(c->spiffe_id);
	mesh__free(c->td);
	mesh__free(c->subject);
	mesh__free(c->issuer);
	mesh__free(c->serial);
	mesh__free(c);
}

static char *name_line(const X509_NAME *n)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return NULL;
	unsigned long flags = XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN |
	                      (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	char *s = NULL;
	if (X509_NAME_print_ex(bio, n, 0, flags) >= 0) {
		char *p;
		long len = BIO_get_mem_data(bio, &p);
		s = mesh__strndup(len > 0 ? p : "", len > 0 ? (size_t)len : 0);
	}
	BIO_free(bio);
	return s;
}

static char *serial_hex(X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	char *s = hex ? mesh__strdup(hex) : NULL;
	for (char *p = s; p && *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	OPENSSL_free(hex);
	BN_free(bn);
	return s;
}

static void key_info(X509 *x, int *type, unsigned *bits)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	*type = MESH_KEY_OTHER;
	*bits = k ? (unsigned)EVP_PKEY_get_bits(k) : 0;
	if (!k)
		return;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
		char group[64];
		size_t n = 0;
		if (EVP_PKEY_get_group_name(k, group, sizeof(group), &n) &&
		    (!strcmp(group, "prime256v1") || !strcmp(group, "P-256")))
			*type = MESH_KEY_EC_P256;
	} else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
		if (*bits == 2048)
			*type = MESH_KEY_RSA_2048;
		else if (*bits == 3072)
			*type = MESH_KEY_RSA_3072;
	}
}

static int cert_parse_(mesh_cert **out, const char *data, size_t len, mesh_diag *diag)
{
	if (!out || !data)
		return MESH_EINVAL;
	*out = NULL;
	STACK_OF(X509) * sk;
	int rc = mesh__x509_parse_all(data, len, NULL, &sk, diag);
	if (rc)
		return rc == MESH_ELIMIT ? MESH_EINVAL : rc;
	mesh_cert *c = mesh__calloc(1, sizeof(*c));
	if (!c) {
		sk_X509_pop_free(sk, X509_free);
		return MESH_ENOMEM;
	}
	c->chain_len = (size_t)sk_X509_num(sk);
	c->x = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	char *uri = NULL;
	size_t ulen = 0;
	rc = MESH_ENOMEM;
	if (mesh__x509_uris(c->x, &c->uri_count, &uri, &ulen))
		goto fail;
	if (c->uri_count == 1 && ulen == strlen(uri) && !strncmp(uri, "spiffe://", 9)) {
		c->spiffe_id = uri;
		uri = NULL;
		if (!(c->td = mesh__strndup(c->spiffe_id + 9, strcspn(c->spiffe_id + 9, "/"))))
			goto fail;
	}
	if (!(c->subject = name_line(X509_get_subject_name(c->x))) ||
	    !(c->issuer = name_line(X509_get_issuer_name(c->x))) || !(c->serial = serial_hex(c->x)))
		goto fail;
	c->not_before = mesh__asn1_time_unix(X509_get0_notBefore(c->x));
	c->not_after = mesh__asn1_time_unix(X509_get0_notAfter(c->x));
	key_info(c->x, &c->key_type, &c->key_bits);
	c->is_ca = (X509_get_extension_flags(c->x) & EXFLAG_CA) != 0;
	c->self_signed = X509_check_issued(c->x, c->x) == X509_V_OK &&
	                 X509_verify(c->x, X509_get0_pubkey(c->x)) == 1;
	ERR_clear_error();
	mesh__free(uri);
	*out = c;
	return 0;
fail:
	ERR_clear_error();
	mesh__free(uri);
	mesh_cert_free(c);
	return rc;
}

/* Each entry point leaves the thread's OpenSSL error queue empty: what
 * failed is in the diagnostics, and a TLS caller's next SSL_get_error()
 * must not see stale identity errors. */
MESH_API int mesh_cert_parse(mesh_cert **out, const char *data, size_t len, mesh_diag *diag)
{
	int rc = cert_parse_(out, data, len, diag);
	ERR_clear_error();
	return rc;
}

MESH_API const char *mesh_cert_spiffe_id(const mesh_cert *c)
{
	return c ? c->spiffe_id : NULL;
}

MESH_API const char *mesh_cert_trust_domain(const mesh_cert *c)
{
	return c ? c->td : NULL;
}

MESH_API size_t mesh_cert_uri_san_count(const mesh_cert *c)
{
	return c ? c->uri_count : 0;
}

MESH_API const char *mesh_cert_subject(const mesh_cert *c)
{
	return c ? c->subject : NULL;
}

MESH_API const char *mesh_cert_issuer(const mesh_cert *c)
{
	return c ? c->issuer : NULL;
}

MESH_API const char *mesh_cert_serial(const mesh_cert *c)
{
	return c ? c->serial : NULL;
}

MESH_API int64_t mesh_cert_not_before(const mesh_cert *c)
{
	return c ? c->not_before : 0;
}

MESH_API int64_t mesh_cert_not_after(const mesh_cert *c)
{
	return c ? c->not_after : 0;
}

MESH_API int mesh_cert_key_type(const mesh_cert *c)
{
	return c ? c->key_type : 0;
}

MESH_API unsigned mesh_cert_key_bits(const mesh_cert *c)
{
	return c ? c->key_bits : 0;
}

MESH_API int mesh_cert_is_ca(const mesh_cert *c)
{
	return c ? c->is_ca : 0;
}

MESH_API int mesh_cert_is_self_signed(const mesh_cert *c)
{
	return c ? c->self_signed : 0;
}

MESH_API size_t mesh_cert_chain_length(const mesh_cert *c)
{
	return c ? c->chain_len : 0;
}

/* ---- Files ---- */

MESH_API int mesh_identity_read_file(const char *path, char **out, size_t *len, mesh_diag *diag)
{
	if (!path || !out)
		return MESH_EINVAL;
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, path, 0, 0, NULL, "cannot open: %s",
		               strerror(errno));
		return MESH_EIO;
	}
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	char buf[8192];
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, path, 0, 0, NULL,
			               "cannot read: %s", strerror(errno));
			rc = MESH_EIO;
			break;
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > MESH__FILE_MAX) {
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, path, 0, 0, NULL,
			               "file larger than %d bytes", MESH__FILE_MAX);
			rc = MESH_ELIMIT;
			break;
		}
		mesh__sb_append(&sb, buf, (size_t)n);
	}
	close(fd);
	OPENSSL_cleanse(buf, sizeof(buf)); /* it may have held a private key */
	size_t total = sb.len;
	if (!rc && !(*out = mesh__sb_steal(&sb)))
		rc = MESH_ENOMEM;
	if (rc) {
		if (sb.buf)
			OPENSSL_cleanse(sb.buf, sb.len);
		mesh__sb_fini(&sb);
		return rc;
	}
	if (len)
		*len = total;
	return 0;
}

MESH_API int mesh_identity_write_file(const char *path, const char *data, size_t len, int secret,
                                      mesh_diag *diag)
{
	if (!path || (!data && len))
		return MESH_EINVAL;
	struct mesh__sb tmp;
	mesh__sb_init(&tmp);
	mesh__sb_printf(&tmp, "%s.tmp.XXXXXX", path);
	if (tmp.oom)
		return MESH_ENOMEM;
	/* mkstemp creates 0600: a key is never readable by others, not even
	 * for a moment. */
	int fd = mkostemp(tmp.buf, O_CLOEXEC);
	bool created = fd >= 0;
	const char *step = "cannot create a temporary file";
	if (fd < 0)
		goto fail;
	step = "cannot set the file mode";
	if (!secret && fchmod(fd, 0644) != 0)
		goto fail;
	step = "cannot write";
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto fail;
	step = "cannot close";
	int fd2 = fd;
	fd = -1;
	if (close(fd2) != 0)
		goto fail;
	step = "cannot rename the temporary file into place";
	if (rename(tmp.buf, path) != 0)
		goto fail;
	mesh__sb_fini(&tmp);
	return 0;
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp.buf);
	mesh__diag_add(diag, MESH_SEV_ERROR, NULL, path, 0, 0, NULL, "%s: %s", step, strerror(e));
	mesh__sb_fini(&tmp);
	return MESH_EIO;
}
