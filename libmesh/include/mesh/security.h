/*
 * mesh/security.h - mutual TLS policy: the inbound mTLS mode a workload
 * enforces, resolved from the PeerAuthentication resources of a
 * configuration with Istio's precedence (workload selector > namespace >
 * mesh-wide; UNSET inherits).
 *
 * Thread rules: the calls only read the configuration; once loading is
 * done they may run on any number of threads at once. The first call on a
 * configuration indexes its PeerAuthentications (one allocation, freed with
 * the configuration); later calls allocate nothing.
 *
 * The rules, with the outbound side (DestinationRule tls and automatic
 * mTLS), are in docs/reference/security.md.
 */
#ifndef MESH_SECURITY_H
#define MESH_SECURITY_H

#include <mesh/core.h>
#include <mesh/config.h>

#ifdef __cplusplus
extern "C" {
#endif

/** PeerAuthentication mtls.mode values (Istio's numbering). @since 0.1 */
enum mesh_mtls_mode {
	MESH_MTLS_UNSET = 0,      /**< inherit from the next level; never a result */
	MESH_MTLS_DISABLE = 1,    /**< plain text only */
	MESH_MTLS_PERMISSIVE = 2, /**< mutual TLS and plain text accepted */
	MESH_MTLS_STRICT = 3,     /**< mutual TLS required */
};

/**
 * mesh_mtls_mode - the effective inbound mTLS mode of a workload.
 * @cfg: the configuration; its PeerAuthentication resources decide.
 * @ns: the workload's namespace; NULL means the config's default namespace.
 * @labels: the workload's labels, "key", "value", ..., NULL; NULL for none
 *          (then only namespace- and mesh-wide policies can apply).
 * @port: the workload port a connection arrives on (the container / target
 *        port, not the service port) for portLevelMtls; 0 for none.
 * @source: optional; receives what decided the mode:
 *          "PeerAuthentication NS/NAME" (its mtls.mode),
 *          "PeerAuthentication NS/NAME port N" (its portLevelMtls entry N),
 *          "MeshConfig NS/NAME" (MeshConfig mtls.mode, below every
 *          PeerAuthentication) or "default" (nothing set a mode).
 *          Borrowed: valid until @cfg is freed.
 *
 * Precedence, as Istio: of the policies with a non-empty
 * selector.matchLabels in @ns that select @labels, the oldest (by
 * metadata.creationTimestamp, then by name; no timestamp counts as oldest)
 * decides; else the oldest selector-less policy in @ns; else the oldest
 * selector-less policy in the root namespace (MeshConfig rootNamespace,
 * default "istio-system"), which is mesh-wide. Selector policies in the
 * root namespace are ignored. The chosen policy of each level is chosen
 * before its mode is read: a mode of UNSET (or no mtls at all) inherits from
 * the next level, it does not fall through to an older policy of the same
 * level. portLevelMtls counts only on the chosen selector policy; an UNSET
 * port entry inherits that policy's result. When every level is UNSET, the
 * MeshConfig's mtls.mode applies, else PERMISSIVE.
 *
 * Returns MESH_MTLS_DISABLE, MESH_MTLS_PERMISSIVE or MESH_MTLS_STRICT (> 0),
 * or MESH_EINVAL (@cfg NULL) or MESH_ENOMEM (indexing the policies failed;
 * a later call tries again).
 * @since 0.1
 */
MESH_API int mesh_mtls_mode(const mesh_config *cfg, const char *ns, const char *const *labels,
                            unsigned port, const char **source);

/**
 * mesh_mtls_mode_name - "UNSET", "DISABLE", "PERMISSIVE" or "STRICT" for a
 * MESH_MTLS_* value; "unknown" for anything else. A static string.
 * @since 0.1
 */
MESH_API const char *mesh_mtls_mode_name(int mode);

#ifdef __cplusplus
}
#endif
#endif
