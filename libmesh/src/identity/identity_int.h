/*
 * identity_int.h - library-internal identity types and helpers, on OpenSSL 3.
 * The TLS wiring of the engine uses these (X509_STORE of a bundle, SVID
 * checks on an X509 chain) so that it never re-parses PEM per handshake.
 */
#ifndef MESH_SRC_IDENTITY_INT_H
#define MESH_SRC_IDENTITY_INT_H

/* Only the OpenSSL 3 API: a deprecated call does not compile here. */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mesh/identity.h>

#include "../core/core.h"

/* Upper bounds that keep hostile input cheap. */
#define MESH__BUNDLE_MAX 64          /* roots in one bundle */
#define MESH__CHAIN_MAX 16           /* certificates in one presented chain */
#define MESH__FILE_MAX (1024 * 1024) /* bytes of one PEM file */
#define MESH__TTL_MAX ((int64_t)100 * 365 * 24 * 3600)
#define MESH__TRUST_DOMAIN_MAX 255
#define MESH__SPIFFE_ID_MAX 2048

struct mesh_bundle {
	char *td; /* NULL while unknown */
	STACK_OF(X509) * certs;
	X509_STORE *store; /* the same certificates, PARTIAL_CHAIN set */
};

struct mesh_ca {
	char *td;
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) * issuers; /* above cert, up to the root (root last); empty for a root */
	mesh_bundle *bundle;
	bool is_root;
	int64_t not_after;
	char *cert_pem;  /* cert */
	char *chain_pem; /* cert + issuers */
	char *issue_pem; /* cert + issuers minus self-signed ones: appended to SVIDs ("" for a root)
	                  */
};

struct mesh_cert {
	X509 *x;
	size_t chain_len;
	size_t uri_count;
	char *spiffe_id, *td;
	char *subject, *issuer, *serial;
	int64_t not_before, not_after;
	int key_type;
	unsigned key_bits;
	int is_ca, self_signed;
};

/* What mesh__x509_build() puts into a certificate. Everything is explicit
 * so that tests can craft certificates that break one rule at a time. */
struct mesh__x509_spec {
	const char *subject_o, *subject_cn; /* NULL both: empty subject */
	const char *const *uris;            /* URI SANs */
	size_t nuris;
	const char *dns; /* one DNS SAN, or NULL */
	bool san_critical;
	bool ca;                       /* basicConstraints CA:TRUE / CA:FALSE */
	int pathlen;                   /* < 0: none (only with ca) */
	const char *key_usage;         /* "digitalSignature,keyEncipherment"; NULL: none */
	bool eku;                      /* serverAuth, clientAuth */
	bool ski;                      /* subject key identifier */
	int64_t not_before, not_after; /* Unix seconds */
};

/* Crypto helpers (ca.c). Each returns 0 or a negative MESH_E* code and, on
 * failure, clears the OpenSSL error queue after reporting it in @diag. */
int mesh__ossl_fail(mesh_diag *diag, const char *what);
int mesh__key_generate(int key_type, EVP_PKEY **out, mesh_diag *diag);
int mesh__x509_build(EVP_PKEY *subject_key, X509 *issuer, EVP_PKEY *issuer_key,
                     const struct mesh__x509_spec *spec, X509 **out, mesh_diag *diag);
/* The SVID profile around @pub for @id, signed by @ca; @ttl as the API. */
int mesh__ca_sign_svid(const mesh_ca *ca, EVP_PKEY *pub, const char *id, int64_t ttl,
                       char **cert_pem, mesh_diag *diag);
int64_t mesh__now(void);
/* "2026-01-02T03:04:05Z" into @buf. */
const char *mesh__fmt_time(int64_t t, char buf[32]);

/* PEM/DER codecs (bundle.c). */
/* Every certificate in @data (concatenated PEM, or one DER certificate). */
int mesh__x509_parse_all(const char *data, size_t len, const char *name, STACK_OF(X509) * *out,
                         mesh_diag *diag);
int mesh__pkey_parse(const char *data, size_t len, const char *name, EVP_PKEY **out,
                     mesh_diag *diag);
/* Append @x as PEM to @sb. */
int mesh__x509_pem_append(struct mesh__sb *sb, X509 *x);
int mesh__pkey_to_pem(EVP_PKEY *key, char **out);
int64_t mesh__asn1_time_unix(const ASN1_TIME *t);
/* The X509_STORE of a bundle, for SSL_CTX_set1_verify_cert_store(). */
X509_STORE *mesh__bundle_store(const mesh_bundle *b);
/* Learn/compare the trust domain: "spiffe://TD" URI SAN of a CA, or NULL. */
char *mesh__ca_cert_trust_domain(X509 *x);

/* SPIFFE (identity.c, svid.c). */
/* Check @id; on success *td_len is the length of its trust domain. */
int mesh__spiffe_id_parse(const char *id, size_t *td_len, bool allow_no_path, mesh_diag *diag);
/* The URI SANs of @x, across every subjectAltName extension: *count, and
 * (optional) a copy of the first in *first (mesh__free()) with its ASN.1
 * length in *first_len (longer than strlen() when it holds a NUL). */
int mesh__x509_uris(X509 *x, size_t *count, char **first, size_t *first_len);
/* An SVID's certificate chain (leaf first) and its private key, checked to
 * belong together: for SSL_CTX_use_cert_and_key(). The caller owns the three. */
int mesh__svid_load(const char *cert, size_t cert_len, const char *key, size_t key_len, X509 **leaf,
                    STACK_OF(X509) * *chain, EVP_PKEY **pkey, mesh_diag *diag);
/*
 * The SVID rules on an already parsed leaf and chain (the engine calls this
 * from its verify callback with the peer's chain). @chain may be NULL.
 * *id_out (optional) receives the SPIFFE ID when valid (mesh__free()).
 */
int mesh__svid_verify_x509(const mesh_bundle *b, X509 *leaf, STACK_OF(X509) * chain, int64_t now,
                           int *status, char **id_out, mesh_diag *diag);

/* HTTPS client of the identity agent (client.c). */
#define MESH__HTTPS_EXCHANGE_MS 15000  /* a whole exchange: connect, handshake, write, read */
#define MESH__HTTPS_RESPONSE_MAX 65536 /* head and body */

/* "https://HOST[:PORT][/PREFIX]" taken apart (mesh__url_parse()). */
struct mesh__url {
	char *url;    /* as given, without a trailing '/': for messages */
	char *host;   /* without IPv6 brackets */
	char *port;   /* decimal; "443" when absent */
	char *prefix; /* path before "/v1/...": "" or "/x/y" */
};
int mesh__url_parse(const char *s, struct mesh__url *out, mesh_diag *diag);
void mesh__url_fini(struct mesh__url *u);

struct mesh__https_request {
	const char *method, *path; /* path after the URL's prefix: "/v1/sign" */
	const char *server_name;   /* checked against the server certificate; also SNI */
	const char *trust_pem;     /* roots (and anchors) that the server chain must lead to */
	const char *bearer;        /* NULL, or "Authorization: Bearer" value */
	const char *content_type;
	const char *body;
	size_t body_len;
	/* Client certificate: the leaf, its chain and key (NULL: none). */
	X509 *cert;
	STACK_OF(X509) * chain;
	EVP_PKEY *key;
	int wake_fd;    /* >= 0: readable means give up now */
	int timeout_ms; /* for the whole exchange; 0: MESH__HTTPS_EXCHANGE_MS */
};

/* One request on its own connection. Returns 0 when a response arrived
 * (*status its code; *body its NUL-terminated body, mesh__free()), or
 * MESH_EIO (cannot connect, TLS or I/O failure, time-out, a malformed
 * response, given up through wake_fd), MESH_ELIMIT (response too large),
 * MESH_ENOMEM; the reason in @diag, prefixed "CA server URL: ". Raises no
 * SIGPIPE. */
int mesh__https_request(const struct mesh__url *u, const struct mesh__https_request *r, int *status,
                        char **body, size_t *body_len, mesh_diag *diag);

#endif
