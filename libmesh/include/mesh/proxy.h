/*
 * mesh/proxy.h - the data plane: listeners, workers, the request pipeline.
 *
 * A mesh_proxy owns a main event loop (admin listener, config reload,
 * signals) and N worker threads, each with its own event loop and its own
 * SO_REUSEPORT listeners. Configuration is an immutable snapshot (config +
 * registry + router) swapped in whole on reload; a request keeps the
 * snapshot it started with.
 *
 * Thread rules: create, configure and run a proxy from one thread.
 * mesh_proxy_reload(), mesh_proxy_drain() and mesh_proxy_stop() may be
 * called from any thread (and from a signal handler: they only write to a
 * pipe).
 */
#ifndef MESH_PROXY_H
#define MESH_PROXY_H

#include <stdint.h>
#include <mesh/core.h>
#include <mesh/diag.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mesh_proxy mesh_proxy;

/** What a listener does with the connections it accepts. */
enum mesh_listener_kind {
	/** Traffic from other sidecars to the local app: forwarded to a fixed
	 * local address (the app port). */
	MESH_LISTENER_INBOUND = 0,
	/** The app's outbound traffic: plain HTTP routed by Host/:authority. */
	MESH_LISTENER_OUTBOUND = 1,
	/** A local port for one upstream service (Consul-style): requests are
	 * routed as if their Host were that service. */
	MESH_LISTENER_UPSTREAM = 2,
	/** Admin endpoints (/ready, /stats/prometheus ...). Main thread only. */
	MESH_LISTENER_ADMIN = 3,
	/** As INBOUND, for a TCP app port: bytes are relayed, half-closes kept. */
	MESH_LISTENER_INBOUND_TCP = 4,
	/** Gateway mode (Istio's ingress gateway): serves the servers of one
	 * port number of the Gateways whose selector matches the proxy's
	 * labels (HTTP, HTTPS with certificates from files, TLS passthrough,
	 * TCP), and routes with the VirtualServices bound to those Gateways.
	 * See mesh_proxy_gateway_ports(). @since 0.1 */
	MESH_LISTENER_GATEWAY = 5,
};

/** Proxy options. Strings are copied. @since 0.1 */
struct mesh_proxy_options {
	size_t struct_size;         /**< sizeof(struct mesh_proxy_options) */
	const char *config_dir;     /**< watched for changes; required */
	const char *namespace_name; /**< the workload's namespace; NULL: "default" */
	const char *workload;       /**< the workload's name; may be NULL */
	const char *const *labels;  /**< "k", "v", ..., NULL */
	unsigned concurrency;       /**< worker threads; 0: number of CPUs */
	int64_t drain_ms;           /**< drain time on mesh_proxy_drain(); 0: 5000 */
	int64_t reload_poll_ms;     /**< config dir poll interval; 0: 1000 */
	unsigned max_connections;   /**< per worker; 0: 16384 */
	unsigned max_header_bytes;  /**< 0: 60 KiB, as Envoy */
	unsigned max_headers;       /**< 0: 100 */
	int64_t header_timeout_ms;  /**< whole request head must arrive in it; 0: 10000 */
	int64_t idle_timeout_ms;    /**< idle downstream connection; 0: 60000 */
	/** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS of client connections; 0:
	 * 100. A client opening more gets RST_STREAM(REFUSED_STREAM) (or, once
	 * it acknowledged the setting, GOAWAY). @since 0.1 */
	unsigned max_concurrent_streams;
	/** Gateway mode: where a Gateway server's tls.credentialName is found,
	 * as DIR/NAME/tls.crt, tls.key and ca.crt (a Kubernetes TLS secret's
	 * keys; cert, key and cacert are read too, and a CA from DIR/NAME-cacert/).
	 * NULL: credentialName cannot be used. @since 0.1 */
	const char *credential_dir;
	/** Envoy's stream_idle_timeout: a request with no byte moving either
	 * way for this long gets 408 (or, once its answer has begun, is cut).
	 * 0: 300000 (5 minutes, Envoy's default); < 0: none. @since 0.1 */
	int64_t stream_idle_timeout_ms;
	/** Gateway mode: the address (IPv4 or IPv6 literal) on which a reload
	 * opens a listener for a Gateway port that has none yet, bound to the
	 * port number itself, as Envoy opens the listeners a new configuration
	 * brings. Set, it also puts the proxy in gateway mode without any
	 * gateway listener added. NULL: only the listeners added before
	 * mesh_proxy_run(). @since 0.1 */
	const char *gateway_bind;
};

/** Log levels for mesh_proxy_set_log_level() and the admin /logging page. */
enum mesh_log_level {
	MESH_LOG_ERROR = 0,
	MESH_LOG_WARNING = 1,
	MESH_LOG_INFO = 2,
	MESH_LOG_DEBUG = 3,
};

/**
 * mesh_proxy_new - create a proxy and load its first configuration.
 * @diag: receives the load diagnostics.
 * Returns 0, MESH_EINVAL, MESH_ENOMEM, or MESH_ECONFIG when the first
 * configuration is invalid (there is no last good one to keep).
 * @since 0.1
 */
MESH_API int mesh_proxy_new(const struct mesh_proxy_options *opts, mesh_proxy **out,
                            mesh_diag *diag);

/**
 * mesh_proxy_add_listener - listen on @addr:@port (IPv4 or IPv6 literal;
 * port 0 picks a free one, see mesh_proxy_listener_port()).
 * @target: INBOUND, INBOUND_TCP: the app's "host:port"; UPSTREAM: the
 *          service host ("reviews" or "reviews:9080"); GATEWAY: the
 *          Gateway server port number it serves ("443"; NULL: @port, which
 *          must then not be 0); otherwise NULL. An UPSTREAM listener for a
 *          service port whose protocol is TCP (as the registry says, from
 *          the port's protocol or name) relays bytes instead of parsing
 *          HTTP.
 * Returns the listener's index (>= 0), or MESH_EINVAL, MESH_EIO (cannot
 * bind: the message is in @diag), MESH_ENOMEM. Call before mesh_proxy_run().
 * @since 0.1
 */
MESH_API int mesh_proxy_add_listener(mesh_proxy *p, int kind, const char *addr, unsigned port,
                                     const char *target, mesh_diag *diag);

/** mesh_proxy_listener_port - the bound port of listener @index. @since 0.1 */
MESH_API unsigned mesh_proxy_listener_port(const mesh_proxy *p, int index);

/**
 * mesh_proxy_gateway_ports - the port numbers of the servers of the
 * Gateways (in any namespace) whose selector matches the proxy's labels,
 * in the configuration loaded now: the MESH_LISTENER_GATEWAY listeners a
 * gateway proxy opens. A Gateway without selector selects every gateway.
 * @ports: receives up to @max numbers, ascending, without duplicates.
 * Returns how many there are (more than @max: the rest were left out).
 * Call it from the thread that configures the proxy, before
 * mesh_proxy_run(), to open the listeners.
 * @since 0.1
 */
MESH_API size_t mesh_proxy_gateway_ports(const mesh_proxy *p, unsigned *ports, size_t max);

/**
 * mesh_proxy_run - start the workers and run until stopped or drained.
 * Returns 0 after a clean stop or drain, or a negative MESH_E* code.
 * @since 0.1
 */
MESH_API int mesh_proxy_run(mesh_proxy *p);

/** mesh_proxy_reload - reload the config dir now (as SIGHUP). @since 0.1 */
MESH_API void mesh_proxy_reload(mesh_proxy *p);
/** mesh_proxy_drain - stop accepting, finish in-flight requests up to the
 * drain time, then stop (as SIGTERM). @since 0.1 */
MESH_API void mesh_proxy_drain(mesh_proxy *p);
/** mesh_proxy_stop - stop now (as /quitquitquit). @since 0.1 */
MESH_API void mesh_proxy_stop(mesh_proxy *p);

/**
 * mesh_proxy_set_identity - give the proxy its workload identity, or a new
 * one (rotation): the X.509-SVID with its chain (@cert_pem, leaf first),
 * its private key (@key_pem) and the trust bundle (@bundle_pem: one or
 * more root certificates; several during a CA rotation). PEM text,
 * NUL-terminated, copied.
 *
 * The SVID must be valid under the bundle (SPIFFE rules, see
 * mesh_svid_verify()) and match the key; otherwise the identity in use is
 * kept and MESH_EINVAL returned, with the reason in @diag. New handshakes
 * use the new identity; open connections carry on with theirs.
 *
 * With an identity, inbound listeners serve mutual TLS as PeerAuthentication
 * says (STRICT, PERMISSIVE, DISABLE) and upstream connections use
 * ISTIO_MUTUAL toward mesh workloads (auto-mTLS) or as a DestinationRule
 * says. Without one, everything is plain text and a STRICT port refuses
 * every connection.
 *
 * Returns 0, MESH_EINVAL, MESH_ENOMEM or MESH_EFATAL. Thread-safe: may be
 * called from any thread while the proxy runs (an identity agent's thread).
 * @since 0.1
 */
MESH_API int mesh_proxy_set_identity(mesh_proxy *p, const char *cert_pem, const char *key_pem,
                                     const char *bundle_pem, mesh_diag *diag);

/** mesh_proxy_set_log_level - enum mesh_log_level; logs go to stderr. @since 0.1 */
MESH_API void mesh_proxy_set_log_level(mesh_proxy *p, int level);

/** mesh_proxy_free - free a proxy that is not running. NULL is a no-op. @since 0.1 */
MESH_API void mesh_proxy_free(mesh_proxy *p);

#ifdef __cplusplus
}
#endif
#endif
