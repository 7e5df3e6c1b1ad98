/*
 * mesh/identity.h - workload identity: a certificate authority, SPIFFE
 * X.509-SVIDs, certificate signing requests, trust bundles and the SPIFFE
 * rules for validating an SVID.
 *
 * Certificates, keys and requests cross this API as PEM text or DER bytes
 * (a pointer and a length; PEM input need not be NUL-terminated), never as
 * OpenSSL types. Text handed to the caller is NUL-terminated PEM, freed with
 * mesh_free().
 *
 * Times are Unix seconds (int64_t); durations (TTLs) are seconds, and 0
 * selects the documented default.
 *
 * Every call returns with the calling thread's OpenSSL error queue empty
 * (what went wrong is in the diagnostics).
 *
 * Thread rules: a mesh_ca and a mesh_bundle are immutable once built (a
 * bundle: once no thread adds to it any more) and may then be used by any
 * number of threads at once. A mesh_cert is immutable. Free each from one
 * thread when no other uses it.
 *
 * The profile of the certificates (extensions, validity, serials) is in
 * docs/reference/identity.md.
 */
#ifndef MESH_IDENTITY_H
#define MESH_IDENTITY_H

#include <stdint.h>
#include <mesh/core.h>
#include <mesh/diag.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A certificate authority: its certificate, its private key, the chain up
 * to its root and the trust bundle it hands out. Opaque. @since 0.1 */
typedef struct mesh_ca mesh_ca;
/** A trust bundle: the root certificates of one trust domain. @since 0.1 */
typedef struct mesh_bundle mesh_bundle;
/** One parsed certificate, for its SPIFFE ID, validity and names. @since 0.1 */
typedef struct mesh_cert mesh_cert;

/** Key algorithms for new keys (and as read back from a certificate). @since 0.1 */
enum mesh_key_type {
	MESH_KEY_DEFAULT = 0,  /**< for new keys: MESH_KEY_EC_P256 */
	MESH_KEY_EC_P256 = 1,  /**< ECDSA on NIST P-256, signed with SHA-256 */
	MESH_KEY_RSA_2048 = 2, /**< RSA 2048, PKCS#1 v1.5 signatures with SHA-256 */
	MESH_KEY_RSA_3072 = 3, /**< RSA 3072 */
	MESH_KEY_OTHER = 99,   /**< read back only: any other algorithm or size */
};

/** Default lifetimes, in seconds. @since 0.1 */
#define MESH_ROOT_TTL_DEFAULT ((int64_t)10 * 365 * 24 * 3600)        /**< 10 years */
#define MESH_INTERMEDIATE_TTL_DEFAULT ((int64_t)5 * 365 * 24 * 3600) /**< 5 years */
#define MESH_SVID_TTL_DEFAULT ((int64_t)24 * 3600)                   /**< 24 hours */
/** How far notBefore is set back from the time of issue, for clock skew. */
#define MESH_CLOCK_SKEW_BACKDATE ((int64_t)5 * 60)

/**
 * Why an SVID failed validation (mesh_svid_verify()). Values are
 * append-only. @since 0.1
 */
enum mesh_svid_status {
	MESH_SVID_VALID = 0,
	MESH_SVID_EPARSE = 1,                 /**< not a certificate (bad PEM or DER) */
	MESH_SVID_ENO_URI_SAN = 2,            /**< the leaf has no URI SAN */
	MESH_SVID_EMANY_URI_SANS = 3,         /**< the leaf has more than one URI SAN */
	MESH_SVID_ENOT_SPIFFE = 4,            /**< the URI SAN's scheme is not spiffe */
	MESH_SVID_EBAD_ID = 5,                /**< the SPIFFE ID is malformed */
	MESH_SVID_ETRUST_DOMAIN = 6,          /**< the ID's trust domain is not the bundle's */
	MESH_SVID_ELEAF_CA = 7,               /**< the leaf says CA:TRUE */
	MESH_SVID_ELEAF_KEY_CERT_SIGN = 8,    /**< the leaf has keyUsage keyCertSign */
	MESH_SVID_ELEAF_CRL_SIGN = 9,         /**< the leaf has keyUsage cRLSign */
	MESH_SVID_ENO_DIGITAL_SIGNATURE = 10, /**< keyUsage absent or without digitalSignature */
	MESH_SVID_EUNTRUSTED = 11,            /**< no chain to a root of the bundle */
	MESH_SVID_ESIGNATURE = 12,            /**< a signature in the chain does not verify */
	MESH_SVID_ENOT_YET_VALID = 13,        /**< a certificate of the chain is not valid yet */
	MESH_SVID_EEXPIRED = 14,              /**< a certificate of the chain has expired */
	MESH_SVID_ECHAIN = 15,                /**< another chain error (e.g. a bad intermediate) */
};

/**
 * mesh_svid_status_name - a short name for an enum mesh_svid_status value
 * ("valid", "expired", "untrusted", ...), for logs and metrics labels.
 *
 * Returns a static, never-NULL string ("unknown" for other values).
 * Thread-safe.
 * @since 0.1
 */
MESH_API const char *mesh_svid_status_name(int status);

/**
 * mesh_key_type_name - "ec-p256", "rsa-2048", "rsa-3072" or "other"
 * (MESH_KEY_DEFAULT reads as "ec-p256"). Static string; thread-safe.
 * @since 0.1
 */
MESH_API const char *mesh_key_type_name(int type);

/**
 * mesh_key_type_from_name - the enum mesh_key_type for "ec-p256",
 * "rsa-2048" or "rsa-3072" (case-insensitive).
 *
 * Returns the type (> 0) or MESH_EINVAL for another name or NULL.
 * Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_key_type_from_name(const char *name);

/* ---- SPIFFE IDs -------------------------------------------------------- */

/**
 * mesh_trust_domain_check - check that @td is a valid trust domain: a
 * DNS-like name of lower-case letters, digits, '-', '.' and '_', at most
 * 255 bytes, not starting or ending with '.' ("cluster.local").
 * @diag: optional; receives the reason as an error.
 *
 * Returns 0 or MESH_EINVAL. Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_trust_domain_check(const char *td, mesh_diag *diag);

/**
 * mesh_spiffe_id_check - check that @id is a SPIFFE ID of a workload:
 * "spiffe://" + a valid trust domain + a non-empty path of segments of
 * letters, digits, '-', '.' and '_' (no empty, "." or ".." segment, no
 * trailing '/', no query or fragment), at most 2048 bytes.
 * @diag: optional; receives the reason as an error.
 *
 * Returns 0 or MESH_EINVAL. Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_spiffe_id_check(const char *id, mesh_diag *diag);

/**
 * mesh_spiffe_id_build - the Istio-style workload ID
 * "spiffe://@td/ns/@ns/sa/@sa".
 * @out: receives the ID; free it with mesh_free().
 * @diag: optional; receives the reason when a part is invalid.
 *
 * Returns 0, MESH_EINVAL (a NULL argument, an invalid trust domain, a
 * namespace or service account that is empty or holds other characters
 * than a SPIFFE path segment allows) or MESH_ENOMEM. Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_spiffe_id_build(char **out, const char *td, const char *ns, const char *sa,
                                  mesh_diag *diag);

/* ---- Trust bundles ----------------------------------------------------- */

/**
 * mesh_bundle_new - an empty trust bundle for the trust domain @td.
 * @out: receives the bundle; free it with mesh_bundle_free().
 * @td: the trust domain whose SVIDs the bundle validates (copied). NULL:
 *      learned from the first root added whose URI SAN is "spiffe://TD",
 *      as on the roots mesh_ca_new_root() makes. A bundle whose trust
 *      domain is still unknown validates no SVID.
 *
 * Returns 0, MESH_EINVAL (invalid @td, NULL @out) or MESH_ENOMEM.
 * Not thread-safe while it is being filled; see the file comment.
 * @since 0.1
 */
MESH_API int mesh_bundle_new(mesh_bundle **out, const char *td);

/** mesh_bundle_free - free a bundle; NULL is a no-op. @since 0.1 */
MESH_API void mesh_bundle_free(mesh_bundle *b);

/**
 * mesh_bundle_add - add the root (or intermediate) CA certificates in
 * @data: one or more concatenated PEM certificates, or one DER
 * certificate. Several roots let a trust domain rotate its CA: SVIDs from
 * the old and the new root both validate. A certificate already in the
 * bundle is skipped.
 * @name: a file name for the diagnostics, or NULL.
 * @diag: optional; receives what is wrong.
 *
 * Every certificate must be a CA (basicConstraints CA:TRUE); on any error
 * nothing is added. Returns 0, MESH_EINVAL (no certificate, a bad one or
 * one that is not a CA), MESH_ELIMIT (more than 64 roots) or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_bundle_add(mesh_bundle *b, const char *data, size_t len, const char *name,
                             mesh_diag *diag);

/**
 * mesh_bundle_load_file - mesh_bundle_add() with the contents of @path.
 * Returns as mesh_bundle_add(), or MESH_EIO when the file cannot be read
 * (the reason is in @diag).
 * @since 0.1
 */
MESH_API int mesh_bundle_load_file(mesh_bundle *b, const char *path, mesh_diag *diag);

/** mesh_bundle_count - number of certificates in the bundle. @since 0.1 */
MESH_API size_t mesh_bundle_count(const mesh_bundle *b);

/**
 * mesh_bundle_trust_domain - the bundle's trust domain, or NULL while it
 * is unknown. Borrowed: valid until the bundle is freed.
 * @since 0.1
 */
MESH_API const char *mesh_bundle_trust_domain(const mesh_bundle *b);

/**
 * mesh_bundle_to_pem - every certificate of the bundle as concatenated PEM
 * (the trust-bundle.pem file), in the order they were added.
 * @out: receives the text; free it with mesh_free().
 *
 * Returns 0, MESH_EINVAL or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_bundle_to_pem(const mesh_bundle *b, char **out);

/* ---- SVID validation --------------------------------------------------- */

/**
 * mesh_svid_verify - validate an X.509-SVID by the SPIFFE rules.
 * @b: the trust bundle of the expected trust domain.
 * @data: the leaf followed by its intermediates (concatenated PEM, as in
 *        cert.pem; a root at the end is allowed and only trusted if it is
 *        in @b), or one DER certificate.
 * @now: the time to check validity at; 0: the current time.
 * @status: optional; receives an enum mesh_svid_status: MESH_SVID_VALID,
 *          or the first rule the SVID breaks. Nonzero exactly when the
 *          certificate was examined and rejected.
 * @diag: optional; receives one error saying precisely what is wrong.
 *
 * Rules, in this order: the leaf has exactly one URI SAN, with the spiffe
 * scheme, holding a valid SPIFFE ID of the bundle's trust domain; it is
 * not a CA; its keyUsage is present, has digitalSignature and has neither
 * keyCertSign nor cRLSign; then the chain leads to a certificate of @b
 * with valid signatures, every certificate within its validity at @now,
 * every issuer a CA.
 *
 * Returns 0 when the SVID is valid, MESH_EINVAL when it is not (or an
 * argument is NULL; then *@status is 0), or MESH_ENOMEM. Thread-safe for
 * a bundle no thread adds to.
 * @since 0.1
 */
MESH_API int mesh_svid_verify(const mesh_bundle *b, const char *data, size_t len, int64_t now,
                              int *status, mesh_diag *diag);

/* ---- Certificate information ------------------------------------------- */

/**
 * mesh_cert_parse - parse the first certificate of @data (PEM, or DER).
 * @out: receives the certificate; free it with mesh_cert_free().
 * @diag: optional; receives the reason it could not be parsed.
 *
 * Returns 0, MESH_EINVAL (NULL argument, no certificate in @data) or
 * MESH_ENOMEM. Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_cert_parse(mesh_cert **out, const char *data, size_t len, mesh_diag *diag);

/** mesh_cert_free - free a certificate; NULL is a no-op. @since 0.1 */
MESH_API void mesh_cert_free(mesh_cert *c);

/**
 * Certificate accessors. Strings are borrowed: valid until the certificate
 * is freed. A NULL @c reads as NULL or 0. Thread-safe.
 * @since 0.1
 */
/** The SPIFFE ID when the certificate has exactly one URI SAN and it starts
 * with "spiffe://" (not checked further: see mesh_svid_verify()), else NULL. */
MESH_API const char *mesh_cert_spiffe_id(const mesh_cert *c);
/** The trust domain part of that SPIFFE ID, or NULL. */
MESH_API const char *mesh_cert_trust_domain(const mesh_cert *c);
/** Number of URI SANs. */
MESH_API size_t mesh_cert_uri_san_count(const mesh_cert *c);
/** Subject and issuer names, one line ("O=cluster.local, CN=Root CA"); the
 * empty string for an empty name (as on Istio-style SVIDs). */
MESH_API const char *mesh_cert_subject(const mesh_cert *c);
MESH_API const char *mesh_cert_issuer(const mesh_cert *c);
/** The serial number in lower-case hex. */
MESH_API const char *mesh_cert_serial(const mesh_cert *c);
/** Validity bounds, Unix seconds. */
MESH_API int64_t mesh_cert_not_before(const mesh_cert *c);
MESH_API int64_t mesh_cert_not_after(const mesh_cert *c);
/** enum mesh_key_type of the public key, and its size in bits. */
MESH_API int mesh_cert_key_type(const mesh_cert *c);
MESH_API unsigned mesh_cert_key_bits(const mesh_cert *c);
/** 1 when basicConstraints says CA:TRUE, else 0. */
MESH_API int mesh_cert_is_ca(const mesh_cert *c);
/** 1 when subject and issuer are equal and the certificate's own key
 * verifies its signature, else 0. */
MESH_API int mesh_cert_is_self_signed(const mesh_cert *c);
/** How many certificates @data held (PEM: the chain length). */
MESH_API size_t mesh_cert_chain_length(const mesh_cert *c);

/* ---- Workload side: keys and signing requests -------------------------- */

/**
 * mesh_csr_new - generate a private key and a certificate signing request
 * for @spiffe_id, as a workload does to enrol: the key stays with the
 * caller, only the request goes to the CA.
 * @spiffe_id: the requested SPIFFE ID (checked with mesh_spiffe_id_check()),
 *             carried as the request's one URI SAN.
 * @key_type: enum mesh_key_type (MESH_KEY_DEFAULT: EC P-256).
 * @csr_pem: receives the PEM request ("CERTIFICATE REQUEST"); mesh_free().
 * @key_pem: receives the PEM PKCS#8 private key; mesh_free() it (after
 *           writing it with mesh_identity_write_file(), which makes it 0600).
 * @diag: optional.
 *
 * Returns 0, MESH_EINVAL (bad ID or key type, NULL argument), MESH_ENOMEM
 * or MESH_EFATAL (the crypto library failed; see @diag). Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_csr_new(const char *spiffe_id, int key_type, char **csr_pem, char **key_pem,
                          mesh_diag *diag);

/* ---- Certificate authorities ------------------------------------------- */

/**
 * mesh_ca_new_root - create a self-signed root CA for the trust domain @td:
 * a new key, subject "O=@td, CN=Root CA", basicConstraints CA:TRUE
 * (critical), keyUsage keyCertSign + cRLSign (critical), subject and
 * authority key identifiers, and the URI SAN "spiffe://@td" as Istio's
 * self-signed root has. Its trust bundle holds the root alone.
 * @out: receives the CA; free it with mesh_ca_free().
 * @key_type: enum mesh_key_type (MESH_KEY_DEFAULT: EC P-256).
 * @ttl: lifetime in seconds; 0: MESH_ROOT_TTL_DEFAULT (10 years).
 * @diag: optional.
 *
 * Returns 0, MESH_EINVAL (invalid trust domain, key type or negative TTL;
 * the reason is in @diag), MESH_ENOMEM or MESH_EFATAL. Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_ca_new_root(mesh_ca **out, const char *td, int key_type, int64_t ttl,
                              mesh_diag *diag);

/**
 * mesh_ca_new_intermediate - create an intermediate CA signed by @parent,
 * in @parent's trust domain, with @parent's trust bundle: subject
 * "O=TD, CN=Intermediate CA", basicConstraints CA:TRUE (critical),
 * keyUsage keyCertSign + cRLSign, key identifiers, URI SAN "spiffe://TD".
 * @ttl: seconds; 0: MESH_INTERMEDIATE_TTL_DEFAULT. A lifetime that would
 *       end after @parent's is cut to end with it, and a warning says so.
 *
 * Returns as mesh_ca_new_root(). Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_ca_new_intermediate(mesh_ca **out, const mesh_ca *parent, int key_type,
                                      int64_t ttl, mesh_diag *diag);

/**
 * mesh_ca_load - a CA from its certificate chain and private key.
 * @chain: PEM: the CA's certificate first, then its issuers up to and
 *         including the root (Istio's cert-chain.pem); a root CA's chain
 *         is the root alone.
 * @key: the CA's PEM private key (PKCS#8 or traditional).
 * @bundle: PEM trust bundle to hand out with the SVIDs (may hold several
 *          roots, for a rotation); NULL: the last certificate of @chain.
 * @td: the trust domain; NULL: from the URI SAN "spiffe://TD" of the CA
 *      certificate or its root.
 * @diag: optional; receives what is wrong.
 *
 * Checks that the CA certificate is a CA with keyCertSign, that the key
 * matches it, and that the chain verifies up to a root of the bundle.
 * Returns 0, MESH_EINVAL (any of these fails), MESH_ENOMEM or MESH_EFATAL.
 * Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_ca_load(mesh_ca **out, const char *chain, size_t chain_len, const char *key,
                          size_t key_len, const char *bundle, size_t bundle_len, const char *td,
                          mesh_diag *diag);

/**
 * mesh_ca_load_dir - mesh_ca_load() from a directory in the layout that
 * mesh_ca_write_dir() (and Istio's cacerts) use: ca-cert.pem + ca-key.pem
 * + cert-chain.pem when ca-key.pem exists (an intermediate), else
 * root-cert.pem + root-key.pem; the trust bundle from trust-bundle.pem, or
 * else root-cert.pem.
 * @td: as for mesh_ca_load().
 *
 * Returns as mesh_ca_load(), or MESH_ENOTFOUND (no CA key and certificate
 * in @dir) or MESH_EIO (a file cannot be read); the file is named in @diag.
 * @since 0.1
 */
MESH_API int mesh_ca_load_dir(mesh_ca **out, const char *dir, const char *td, mesh_diag *diag);

/**
 * mesh_ca_write_dir - write the CA's files into @dir (created 0755 when
 * missing): a root writes root-cert.pem, root-key.pem, cert-chain.pem and
 * trust-bundle.pem; an intermediate writes ca-cert.pem, ca-key.pem,
 * cert-chain.pem (its certificate and its issuers up to the root),
 * root-cert.pem and trust-bundle.pem. Keys are written 0600, certificates
 * 0644, each through a temporary file renamed into place.
 * @diag: optional; names the file that failed.
 *
 * Returns 0, MESH_EINVAL, MESH_EIO or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_ca_write_dir(const mesh_ca *ca, const char *dir, mesh_diag *diag);

/** mesh_ca_free - free a CA (its key memory is cleared); NULL is a no-op. @since 0.1 */
MESH_API void mesh_ca_free(mesh_ca *ca);

/**
 * CA accessors. Borrowed; valid until the CA is freed. Thread-safe.
 * @since 0.1
 */
/** The trust domain. */
MESH_API const char *mesh_ca_trust_domain(const mesh_ca *ca);
/** The CA's certificate as PEM. */
MESH_API const char *mesh_ca_cert_pem(const mesh_ca *ca);
/** The CA's certificate and its issuers up to the root, as PEM. */
MESH_API const char *mesh_ca_chain_pem(const mesh_ca *ca);
/** The trust bundle the CA hands out. */
MESH_API const mesh_bundle *mesh_ca_bundle(const mesh_ca *ca);
/** 1 for a self-signed root, 0 for an intermediate. */
MESH_API int mesh_ca_is_root(const mesh_ca *ca);
/** The CA certificate's notAfter (Unix seconds). */
MESH_API int64_t mesh_ca_not_after(const mesh_ca *ca);

/**
 * mesh_ca_issue - issue an X.509-SVID for @spiffe_id with a new key made
 * here (for static setups; workloads that enrol use mesh_csr_new() and
 * mesh_ca_sign_csr() so that their key never leaves them).
 * @spiffe_id: a SPIFFE ID in the CA's trust domain.
 * @key_type: enum mesh_key_type (MESH_KEY_DEFAULT: EC P-256).
 * @ttl: seconds; 0: MESH_SVID_TTL_DEFAULT (24 h). A lifetime that would
 *       end after the CA's is cut to end with it, and a warning says so.
 * @cert_pem: receives the SVID followed by the CA's chain without the root
 *            (what a TLS peer presents; cert.pem); mesh_free().
 * @key_pem: receives the PKCS#8 private key; mesh_free().
 * @diag: optional.
 *
 * The SVID: empty subject; exactly one URI SAN @spiffe_id (critical, as the
 * subject is empty); basicConstraints CA:FALSE (critical); keyUsage
 * digitalSignature, plus keyEncipherment for RSA (critical);
 * extendedKeyUsage serverAuth + clientAuth; authority key identifier; a
 * random 128-bit serial; notBefore MESH_CLOCK_SKEW_BACKDATE before now.
 *
 * Returns 0, MESH_EINVAL (bad ID, foreign trust domain, bad key type or
 * TTL), MESH_ENOMEM or MESH_EFATAL. Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_ca_issue(const mesh_ca *ca, const char *spiffe_id, int key_type, int64_t ttl,
                           char **cert_pem, char **key_pem, mesh_diag *diag);

/**
 * mesh_ca_sign_csr - sign a workload's certificate signing request. Only
 * the request's public key and its requested SPIFFE ID (its one URI SAN)
 * are used; its subject and every other requested extension are ignored,
 * and the SVID gets the profile of mesh_ca_issue().
 * @csr: PEM or DER request; its signature must verify (proof that the
 *       requester holds the key).
 * @required_id: NULL, or the only ID the requester may have (for a renewal
 *               authenticated by the current SVID).
 * @ttl: as for mesh_ca_issue().
 * @cert_pem: receives the SVID and the CA's chain without the root.
 *
 * Refuses (MESH_EINVAL, the reason in @diag) a request that does not parse
 * or verify, that asks for no SPIFFE ID or several URI SANs, for a
 * malformed ID, an ID outside the CA's trust domain or another than
 * @required_id, or that carries a weak key (RSA below 2048 bits, an
 * unsupported curve). Also MESH_ENOMEM or MESH_EFATAL. Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_ca_sign_csr(const mesh_ca *ca, const char *csr, size_t csr_len,
                              const char *required_id, int64_t ttl, char **cert_pem,
                              mesh_diag *diag);

/* ---- CA server --------------------------------------------------------- */

/**
 * A CA server: HTTPS (TLS 1.2 or 1.3) with a serving certificate from its
 * own CA (SPIFFE ID spiffe://TD/ns/mesh-system/sa/mesh-ca, DNS SAN
 * @server_name), re-issued at half its 24 h lifetime.
 *
 * - POST /v1/sign, body a PEM CSR (mesh_csr_new()): 200 with the SVID and
 *   its intermediates as PEM. The requester authenticates with its current
 *   SVID as TLS client certificate (checked with mesh_svid_verify() against
 *   the CA's bundle; it may only renew its own ID), or with
 *   "Authorization: Bearer TOKEN", a one-time bootstrap token bound to one
 *   SPIFFE ID. 401 without either, 403 when the CSR is refused.
 * - GET /v1/bundle: the CA's trust bundle as PEM.
 *
 * One connection at a time, 5 s I/O timeouts. Opaque. @since 0.1
 */
typedef struct mesh_ca_server mesh_ca_server;

/** CA server options. Strings are copied. @since 0.1 */
struct mesh_ca_server_options {
	size_t struct_size;      /**< sizeof(struct mesh_ca_server_options) */
	const char *address;     /**< IPv4 or IPv6 literal; NULL: "127.0.0.1" */
	unsigned port;           /**< 0: a free port, see mesh_ca_server_port() */
	const char *server_name; /**< DNS SAN of the serving certificate; NULL: "localhost" */
	/** Bootstrap tokens, one "TOKEN SPIFFE-ID" per line (tokens of 16
	 * characters or more; '#' comments). A used token is removed from
	 * the file (rewritten 0600), so a restart cannot revive it. NULL: none. */
	const char *tokens_file;
	int64_t ttl; /**< SVID lifetime in seconds; 0: MESH_SVID_TTL_DEFAULT */
	/** Called with one line per request and event (no newline); NULL: quiet. */
	void (*log)(void *arg, const char *line);
	void *log_arg;
	/** A client has this long for its whole request (TLS handshake, head,
	 * body), and as long again to take the answer; then it is cut off.
	 * The server handles one connection at a time, so this bounds how long
	 * a slow or hostile client can hold up the others. 0: 10000. @since 0.1 */
	int64_t request_timeout_ms;
};

/**
 * mesh_ca_server_new - listen, issue the serving certificate and read the
 * tokens file. @ca is borrowed: it must outlive the server.
 * @out: receives the server; free it with mesh_ca_server_free().
 *
 * Returns 0, MESH_EINVAL (bad options, a bad token line: see @diag),
 * MESH_EIO (cannot listen, or read the tokens file), MESH_ENOMEM or
 * MESH_EFATAL.
 * @since 0.1
 */
MESH_API int mesh_ca_server_new(mesh_ca_server **out, const mesh_ca *ca,
                                const struct mesh_ca_server_options *opts, mesh_diag *diag);

/**
 * mesh_ca_server_add_token - accept @token (16 characters or more, no
 * white space) once, for @spiffe_id (in the CA's trust domain). Call before
 * mesh_ca_server_run(). Returns 0, MESH_EINVAL or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_ca_server_add_token(mesh_ca_server *s, const char *token, const char *spiffe_id);

/** mesh_ca_server_port - the port listened on. @since 0.1 */
MESH_API unsigned mesh_ca_server_port(const mesh_ca_server *s);

/**
 * mesh_ca_server_run - serve until mesh_ca_server_stop(). Returns 0 after
 * a stop, or MESH_EIO when polling fails.
 * @since 0.1
 */
MESH_API int mesh_ca_server_run(mesh_ca_server *s);

/**
 * mesh_ca_server_stop - make mesh_ca_server_run() return within a moment.
 * Safe from any thread and from a signal handler (it writes to a pipe).
 * @since 0.1
 */
MESH_API void mesh_ca_server_stop(mesh_ca_server *s);

/** mesh_ca_server_free - free a server that is not running; NULL is a no-op. @since 0.1 */
MESH_API void mesh_ca_server_free(mesh_ca_server *s);

/* ---- Identity agent ---------------------------------------------------- */

/**
 * An identity agent keeps a workload's (a proxy's) SVID fresh, as Istio's
 * pilot-agent does for Envoy through SDS. It gets the identity from one of
 * two sources and hands every new one to a callback:
 *
 * - a certificate directory (cert.pem, key.pem, trust-bundle.pem as
 *   mesh_ca_issue() and `meshctl ca issue` write them, or as a secret
 *   volume holds them), polled and reloaded when a file changes; or
 * - a CA server (mesh_ca_server_run(), `meshctl ca serve`): the agent
 *   makes a new key and a CSR (mesh_csr_new()) for every certificate, so
 *   the key never leaves the process; enrols with a one-time bootstrap
 *   token, then renews at half the SVID's lifetime authenticated by the
 *   current SVID, and fetches the trust bundle with every renewal.
 *
 * Every identity is checked before it is handed over: the SVID by the rules
 * of mesh_svid_verify() against the trust bundle that comes with it, the
 * private key against the certificate, and the SPIFFE ID against the one
 * asked for.
 *
 * The agent runs at most one thread of its own (mesh_identity_agent_start()).
 * mesh_identity_agent_new(), _fetch(), _start(), _stop() and _free() are
 * called from one controlling thread (or serialised by the caller);
 * mesh_identity_agent_status() from any thread. The agent raises no
 * SIGPIPE. Opaque. @since 0.1
 */
typedef struct mesh_identity_agent mesh_identity_agent;

/**
 * Identity agent options. Set exactly one of @cert_dir and @ca_url.
 * Strings are copied by mesh_identity_agent_new(). @since 0.1
 */
struct mesh_identity_agent_options {
	size_t struct_size; /**< sizeof(struct mesh_identity_agent_options) */
	/** Source A: a directory with cert.pem (the SVID and its intermediates),
	 * key.pem and trust-bundle.pem. Polled every @poll_ms (device, inode,
	 * size and modification time of the three files) and reloaded when one
	 * changes. A set that does not hold together (a file missing or half
	 * replaced, a key that does not match the certificate, an SVID the
	 * bundle does not validate) is refused with a log line, once per
	 * change, and the last good identity stays. */
	const char *cert_dir;
	/** Source B: the CA server, "https://HOST[:PORT]" (port 443 when
	 * absent), e.g. "https://127.0.0.1:15012". */
	const char *ca_url;
	/** With @ca_url: PEM roots the CA server's certificate must chain to;
	 * also the first trust bundle. Read for every exchange (and joined with
	 * the last bundle the server handed out). Required. */
	const char *ca_bundle_file;
	/** With @ca_url: a file holding one bootstrap token (white space around
	 * it is ignored). Read only when the agent needs a token - to enrol, or
	 * when its SVID expired before it could renew - and wiped from memory as
	 * soon as the CA server has answered for it. Required. */
	const char *bootstrap_token_file;
	/** The SPIFFE ID to request (required with @ca_url). With @cert_dir:
	 * NULL, or the only ID accepted from the directory. */
	const char *spiffe_id;
	/** With @ca_url: the DNS name (or IP address) the CA server's
	 * certificate must carry; also sent as SNI. NULL: "localhost", the
	 * default of mesh_ca_server_options.server_name. */
	const char *server_name;
	/** enum mesh_key_type of the keys made for CSRs; MESH_KEY_DEFAULT: EC P-256. */
	int key_type;
	/** With @cert_dir: the polling interval in milliseconds; 0: 1000. */
	int64_t poll_ms;
	/**
	 * Called with each new identity, from the thread that called
	 * mesh_identity_agent_fetch() or from the agent's thread, never two at
	 * once: the certificate chain (leaf first), its private key (PKCS#8)
	 * and the trust bundle, as NUL-terminated PEM borrowed for the call
	 * (copy what you keep; the key is wiped after the call). Return 0 to
	 * accept the identity; nonzero rejects it, and the agent logs that and
	 * tries again later (with backoff). Must not call
	 * mesh_identity_agent_stop() or _free(). Required.
	 */
	int (*on_update)(void *arg, const char *cert_pem, const char *key_pem,
	                 const char *bundle_pem);
	/** Called with one line per event (no newline) and its enum
	 * mesh_severity, from the same threads as @on_update. NULL: quiet. */
	void (*log)(void *arg, int level, const char *line);
	void *arg; /**< passed to @on_update and @log */
	/** With @ca_url: a directory where each identity obtained is written
	 * (cert.pem, key.pem mode 0600, trust-bundle.pem, each replaced whole),
	 * and from which mesh_identity_agent_fetch() starts when it holds a
	 * valid SVID for @spiffe_id: a restarted workload renews with that SVID
	 * instead of needing a new bootstrap token. NULL: memory only.
	 * @since 0.1 */
	const char *state_dir;
};

/**
 * mesh_identity_agent_new - check the options and make an agent. Reads no
 * file and opens no connection yet.
 * @out: receives the agent; free it with mesh_identity_agent_free().
 * @diag: optional; receives what is wrong with the options.
 *
 * Returns 0, MESH_EINVAL (bad options: both or neither source, a missing
 * required option, a malformed URL or SPIFFE ID, a bad key type or
 * interval), MESH_EIO (no pipe could be made) or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_identity_agent_new(const struct mesh_identity_agent_options *o,
                                     mesh_identity_agent **out, mesh_diag *diag);

/**
 * mesh_identity_agent_fetch - get an identity now, in the calling thread:
 * read the certificate directory, or exchange with the CA server (enrol
 * with the bootstrap token, or renew when the agent already holds a valid
 * SVID), and call on_update once. Lets a proxy start with a certificate or
 * fail with a clear message. Not while the agent's thread runs.
 * @diag: optional; receives why it failed, e.g. "CA server
 *        https://127.0.0.1:15012: 401 unknown or used bootstrap token".
 *
 * Blocks for the exchange: each connect, handshake, write and read waits at
 * most 5 s. Returns 0, MESH_EINVAL (the agent is running; the identity is
 * refused: by the CA server (4xx), by the checks, or by on_update), MESH_EIO
 * (a file cannot be read; cannot connect; TLS failure, e.g. a CA server
 * certificate that does not chain to ca_bundle_file or lacks server_name;
 * time-out; a CA server error 5xx), MESH_ELIMIT (a response over 64 KiB)
 * or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_identity_agent_fetch(mesh_identity_agent *a, mesh_diag *diag);

/**
 * mesh_identity_agent_start - start the agent's thread.
 *
 * With a CA server it renews at half of the remaining lifetime the SVID had
 * when it arrived, +-10% (Istio's SECRET_GRACE_PERIOD_RATIO 0.5), with a new
 * key and with the current SVID as TLS client certificate, and fetches the
 * trust bundle (GET /v1/bundle) each time, so that a root added during a CA
 * rotation reaches the workload. A failure (or an identity on_update
 * rejects) is retried after 1, 2, 4 ... 60 s, and never later than half the
 * time left before the SVID expires. Without a prior successful
 * mesh_identity_agent_fetch() it enrols at once. With a certificate
 * directory it polls every poll_ms.
 *
 * Returns 0, MESH_EINVAL (NULL, or already running) or MESH_EIO (no thread
 * could be made).
 * @since 0.1
 */
MESH_API int mesh_identity_agent_start(mesh_identity_agent *a);

/**
 * mesh_identity_agent_stop - stop the agent's thread and wait for it: it
 * returns promptly, also from the middle of an exchange with the CA server.
 * A stopped agent keeps its identity and may be started again. Not from
 * on_update or log (that would wait for itself). No-op when not running
 * or for NULL.
 * @since 0.1
 */
MESH_API void mesh_identity_agent_stop(mesh_identity_agent *a);

/**
 * mesh_identity_agent_free - stop the agent (as mesh_identity_agent_stop())
 * and free it; the private key it held is wiped. NULL is a no-op.
 * @since 0.1
 */
MESH_API void mesh_identity_agent_free(mesh_identity_agent *a);

/**
 * mesh_identity_agent_status - for an admin page: the notAfter of the
 * identity last accepted by on_update (0: none yet), the time of the next
 * renewal attempt (0: none planned, e.g. not started, or certificate
 * directory mode), both Unix seconds, and how many identities on_update
 * accepted after the first. Each pointer may be NULL.
 *
 * Returns 0 or MESH_EINVAL (@a is NULL). Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_identity_agent_status(const mesh_identity_agent *a, int64_t *not_after,
                                        int64_t *next_renew, uint64_t *renewals);

/* ---- Files ------------------------------------------------------------- */

/**
 * mesh_identity_read_file - read a whole file (at most 1 MiB, plenty for
 * PEM) into a NUL-terminated buffer.
 * @out: receives the contents; free with mesh_free().
 * @len: optional; receives the length without the NUL.
 * @diag: optional; receives the reason a read failed, with the file name.
 *
 * Returns 0, MESH_EINVAL, MESH_EIO, MESH_ELIMIT (too large) or MESH_ENOMEM.
 * Thread-safe.
 * @since 0.1
 */
MESH_API int mesh_identity_read_file(const char *path, char **out, size_t *len, mesh_diag *diag);

/**
 * mesh_identity_write_file - write @len bytes to @path through a temporary
 * file in the same directory, synced and renamed into place, so that a
 * reader (a proxy watching a cert dir) sees the old or the new file whole.
 * @secret: nonzero for a private key: mode 0600 from creation on; else 0644.
 *
 * Returns 0, MESH_EINVAL or MESH_EIO (reason and file in @diag).
 * Thread-safe (for distinct paths).
 * @since 0.1
 */
MESH_API int mesh_identity_write_file(const char *path, const char *data, size_t len, int secret,
                                      mesh_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
