/*
 * settings.c - DestinationRule trafficPolicy and v1alpha2 DestinationPolicy
 * -> struct mesh__lb_settings, with Istio's and Envoy's defaults.
 *
 * Merging follows Istio (MergeTrafficPolicy): each of loadBalancer,
 * connectionPool, outlierDetection and tls is replaced as a whole by a
 * more specific policy that sets it (a matching portLevelSettings entry
 * over the top level, a subset's policy over both), not merged field by
 * field. So applying a section first resets that section to its defaults.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../config/schema.h"
#include "lb_int.h"

#define MS_PER_NS 1000000

static void lb_defaults(struct mesh__lb_settings *s)
{
	/* Istio picks LEAST_REQUEST when the policy is unset (since 1.14). */
	s->policy = MESH_LB_LEAST_REQUEST;
	s->hash_on = MESH_HASH_NONE;
	s->hash_name = NULL;
	s->ring_size = 1024;
	s->maglev_size = 65537;
}

static void pool_defaults(struct mesh__lb_settings *s)
{
	s->max_connections = s->max_pending = s->max_requests = s->max_retries = 0;
	s->max_requests_per_connection = 0;
	s->connect_timeout_ms = 10000;
	s->idle_timeout_ms = 0;
	s->h2_upgrade = MESH_H2_UPGRADE_DEFAULT;
	s->use_client_protocol = false;
	s->max_connection_duration_ms = 0;
	s->keepalive = false;
	s->keepalive_probes = 0;
	s->keepalive_time_ms = s->keepalive_interval_ms = 0;
}

static void outlier_defaults(struct mesh__lb_settings *s)
{
	s->outlier = false;
	s->split_local_origin = false;
	s->consecutive_5xx = 5;
	s->consecutive_gateway = 0;
	s->consecutive_local = 5;
	s->interval_ms = 10000;
	s->base_ejection_ms = 30000;
	s->max_ejection_percent = 10;
	s->min_health_percent = 0;
}

static void tls_defaults(struct mesh__lb_settings *s)
{
	s->tls_mode = 0;
	s->sni = NULL;
	s->ca_certificates = s->client_certificate = s->private_key = NULL;
	s->credential_name = s->ca_crl = NULL;
	s->subject_alt_names = NULL;
	s->insecure_skip_verify = false;
}

void mesh__lb_settings_default(struct mesh__lb_settings *s)
{
	memset(s, 0, sizeof(*s));
	lb_defaults(s);
	pool_defaults(s);
	outlier_defaults(s);
	tls_defaults(s);
}

/* ---- scalar readers: absent or malformed values leave *out alone (the
 * validator has already reported them) ---- */

static bool get_i64(const struct mesh__node *map, const char *key, int64_t *out)
{
	const struct mesh__node *n = mesh__node_get(map, key);
	const char *s = mesh__node_str(n);
	if (!s)
		return false;
	if (mesh__node_int(n, out))
		return true;
	/* the schema accepts a quoted integer ("100") as protobuf JSON does */
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end)
		return false;
	*out = v;
	return true;
}

static bool get_u32(const struct mesh__node *map, const char *key, uint32_t *out)
{
	int64_t v;
	if (!get_i64(map, key, &v))
		return false;
	*out = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	return true;
}

static bool get_u64(const struct mesh__node *map, const char *key, uint64_t *out)
{
	int64_t v;
	if (!get_i64(map, key, &v))
		return false;
	*out = v < 0 ? 0 : (uint64_t)v;
	return true;
}

static bool get_ms(const struct mesh__node *map, const char *key, int64_t *out)
{
	const char *s = mesh__node_str(mesh__node_get(map, key));
	int64_t ns;
	if (!s || mesh__parse_duration(s, &ns))
		return false;
	/* round up: a sub-millisecond duration must not become "none" */
	*out = ns / MS_PER_NS + (ns % MS_PER_NS > 0);
	return true;
}

static bool get_bool(const struct mesh__node *map, const char *key, bool *out)
{
	const char *s = mesh__node_str(mesh__node_get(map, key));
	if (!s)
		return false;
	if (!strcasecmp(s, "true"))
		*out = true;
	else if (!strcasecmp(s, "false"))
		*out = false;
	else
		return false;
	return true;
}

static const char *get_str(const struct mesh__node *map, const char *key)
{
	return mesh__node_str(mesh__node_get(map, key));
}

static bool is_map(const struct mesh__node *n)
{
	return n && n->type == MESH_NODE_MAP;
}

/* ---- sections ---- */

static void apply_consistent_hash(struct mesh__lb_settings *s, const struct mesh__node *ch)
{
	const char *str;
	const struct mesh__node *n;
	bool b;

	s->policy = MESH_LB_RING_HASH;
	if ((str = get_str(ch, "httpHeaderName"))) {
		s->hash_on = MESH_HASH_HEADER;
		s->hash_name = str;
	} else if (is_map(n = mesh__node_get(ch, "httpCookie")) && (str = get_str(n, "name"))) {
		s->hash_on = MESH_HASH_COOKIE;
		s->hash_name = str;
	} else if (get_bool(ch, "useSourceIp", &b) && b) {
		s->hash_on = MESH_HASH_SOURCE_IP;
	} else if ((str = get_str(ch, "httpQueryParameterName"))) {
		s->hash_on = MESH_HASH_QUERY;
		s->hash_name = str;
	}
	get_u64(ch, "minimumRingSize", &s->ring_size); /* deprecated spelling */
	if (is_map(n = mesh__node_get(ch, "ringHash")))
		get_u64(n, "minimumRingSize", &s->ring_size);
	if ((n = mesh__node_get(ch, "maglev"))) {
		s->policy = MESH_LB_MAGLEV;
		if (is_map(n))
			get_u64(n, "tableSize", &s->maglev_size);
	}
	if (!s->ring_size)
		s->ring_size = 1024;
	if (!s->maglev_size)
		s->maglev_size = 65537;
}

static void apply_load_balancer(struct mesh__lb_settings *s, const struct mesh__node *lb)
{
	const char *simple = get_str(lb, "simple");
	const struct mesh__node *ch = mesh__node_get(lb, "consistentHash");

	lb_defaults(s);
	if (simple) {
		if (!strcmp(simple, "ROUND_ROBIN"))
			s->policy = MESH_LB_ROUND_ROBIN;
		else if (!strcmp(simple, "LEAST_REQUEST") || !strcmp(simple, "LEAST_CONN"))
			s->policy = MESH_LB_LEAST_REQUEST;
		else if (!strcmp(simple, "RANDOM"))
			s->policy = MESH_LB_RANDOM;
		else if (!strcmp(simple, "PASSTHROUGH"))
			s->policy = MESH_LB_PASSTHROUGH;
		/* UNSPECIFIED: keep the default */
	} else if (is_map(ch)) {
		apply_consistent_hash(s, ch);
	}
}

static void apply_connection_pool(struct mesh__lb_settings *s, const struct mesh__node *cp)
{
	const struct mesh__node *tcp = mesh__node_get(cp, "tcp");
	const struct mesh__node *http = mesh__node_get(cp, "http");

	pool_defaults(s);
	if (is_map(tcp)) {
		get_u32(tcp, "maxConnections", &s->max_connections);
		get_ms(tcp, "connectTimeout", &s->connect_timeout_ms);
		get_ms(tcp, "idleTimeout", &s->idle_timeout_ms);
		get_ms(tcp, "maxConnectionDuration", &s->max_connection_duration_ms);
		const struct mesh__node *ka = mesh__node_get(tcp, "tcpKeepalive");
		if (is_map(ka)) {
			s->keepalive = true;
			get_u32(ka, "probes", &s->keepalive_probes);
			get_ms(ka, "time", &s->keepalive_time_ms);
			get_ms(ka, "interval", &s->keepalive_interval_ms);
		}
	}
	if (is_map(http)) {
		get_u32(http, "http1MaxPendingRequests", &s->max_pending);
		get_u32(http, "http2MaxRequests", &s->max_requests);
		get_u32(http, "maxRequestsPerConnection", &s->max_requests_per_connection);
		get_u32(http, "maxRetries", &s->max_retries);
		/* the HTTP idle timeout is the one that closes pooled streams */
		get_ms(http, "idleTimeout", &s->idle_timeout_ms);
		get_bool(http, "useClientProtocol", &s->use_client_protocol);
		const char *up = get_str(http, "h2UpgradePolicy");
		if (up && !strcmp(up, "UPGRADE"))
			s->h2_upgrade = MESH_H2_UPGRADE_UPGRADE;
		else if (up && !strcmp(up, "DO_NOT_UPGRADE"))
			s->h2_upgrade = MESH_H2_UPGRADE_DO_NOT_UPGRADE;
	}
}

static void apply_outlier(struct mesh__lb_settings *s, const struct mesh__node *od)
{
	uint32_t v;

	outlier_defaults(s);
	s->outlier = true;
	get_bool(od, "splitExternalLocalOriginErrors", &s->split_local_origin);
	get_u32(od, "consecutiveLocalOriginFailures", &s->consecutive_local);
	/* Deprecated consecutiveErrors counts gateway errors only (istio/api#617). */
	if (get_u32(od, "consecutiveErrors", &v) && v > 0) {
		s->consecutive_gateway = v;
		s->consecutive_5xx = 0;
	}
	get_u32(od, "consecutive5xxErrors", &s->consecutive_5xx);
	get_u32(od, "consecutiveGatewayErrors", &s->consecutive_gateway);
	get_ms(od, "interval", &s->interval_ms);
	get_ms(od, "baseEjectionTime", &s->base_ejection_ms);
	if (get_u32(od, "maxEjectionPercent", &s->max_ejection_percent) &&
	    s->max_ejection_percent > 100)
		s->max_ejection_percent = 100;
	if (get_u32(od, "minHealthPercent", &s->min_health_percent) && s->min_health_percent > 100)
		s->min_health_percent = 100;
	if (s->interval_ms <= 0)
		s->interval_ms = 10000;
	if (s->base_ejection_ms <= 0)
		s->base_ejection_ms = 30000;
}

static void apply_tls(struct mesh__lb_settings *s, const struct mesh__node *tls)
{
	static const char *const modes[] = { "DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL" };
	const char *mode = get_str(tls, "mode");
	const struct mesh__node *sans = mesh__node_get(tls, "subjectAltNames");

	tls_defaults(s);
	/* a tls block without a mode is DISABLE, protobuf's zero value: it
	 * turns automatic mTLS off as in Istio */
	s->tls_mode = 1;
	for (size_t i = 0; mode && i < MESH_ARRAY_LEN(modes); i++)
		if (!strcmp(mode, modes[i]))
			s->tls_mode = (int)i + 1;
	s->sni = get_str(tls, "sni");
	s->ca_certificates = get_str(tls, "caCertificates");
	s->client_certificate = get_str(tls, "clientCertificate");
	s->private_key = get_str(tls, "privateKey");
	s->credential_name = get_str(tls, "credentialName");
	s->ca_crl = get_str(tls, "caCrl");
	if (sans && sans->type == MESH_NODE_SEQ && sans->count)
		s->subject_alt_names = sans;
	get_bool(tls, "insecureSkipVerify", &s->insecure_skip_verify);
}

/* The sections of one TrafficPolicy or PortTrafficPolicy. */
static void apply_sections(struct mesh__lb_settings *s, const struct mesh__node *p)
{
	const struct mesh__node *n;

	if (is_map(n = mesh__node_get(p, "loadBalancer")))
		apply_load_balancer(s, n);
	if (is_map(n = mesh__node_get(p, "connectionPool")))
		apply_connection_pool(s, n);
	if (is_map(n = mesh__node_get(p, "outlierDetection")))
		apply_outlier(s, n);
	if (is_map(n = mesh__node_get(p, "tls")))
		apply_tls(s, n);
}

void mesh__lb_settings_apply(struct mesh__lb_settings *s, const struct mesh__node *policy,
                             uint32_t port)
{
	const struct mesh__node *pls;

	if (!is_map(policy))
		return;
	apply_sections(s, policy);
	pls = mesh__node_get(policy, "portLevelSettings");
	for (size_t i = 0; port && pls && pls->type == MESH_NODE_SEQ && i < pls->count; i++) {
		const struct mesh__node *e = pls->u.items[i];
		uint32_t num;
		if (is_map(e) && get_u32(mesh__node_get(e, "port"), "number", &num) &&
		    num == port) {
			apply_sections(s, e);
			break; /* the first match wins, as in Istio */
		}
	}
}

/*
 * v1alpha2 DestinationPolicy (Istio 0.x). circuitBreaker.simpleCb sets
 * Envoy's circuit breakers and, as pilot 0.x did, always turns outlier
 * detection on; unset limits take the values the v1alpha2 reference gave
 * (Envoy's defaults of the time: 1024 connections, pending and requests,
 * 3 retries).
 */
void mesh__lb_settings_apply_legacy(struct mesh__lb_settings *s, const struct mesh__node *spec)
{
	const struct mesh__node *lb, *cb, *scb, *rh;
	const char *name;

	if (!is_map(spec))
		return;
	if (is_map(lb = mesh__node_get(spec, "loadBalancing"))) {
		lb_defaults(s);
		s->policy = MESH_LB_ROUND_ROBIN;
		if ((name = get_str(lb, "name"))) {
			if (!strcmp(name, "LEAST_CONN"))
				s->policy = MESH_LB_LEAST_REQUEST;
			else if (!strcmp(name, "RANDOM"))
				s->policy = MESH_LB_RANDOM;
		} else if (is_map(rh = mesh__node_get(lb, "ringHash"))) {
			s->policy = MESH_LB_RING_HASH;
			get_u64(rh, "ringSize", &s->ring_size);
			if (!s->ring_size)
				s->ring_size = 1024;
		}
	}
	cb = mesh__node_get(spec, "circuitBreaker");
	if (!is_map(cb) || !is_map(scb = mesh__node_get(cb, "simpleCb")))
		return;
	pool_defaults(s);
	outlier_defaults(s);
	s->max_connections = s->max_pending = s->max_requests = 1024;
	s->max_retries = 3;
	get_u32(scb, "maxConnections", &s->max_connections);
	get_u32(scb, "httpMaxPendingRequests", &s->max_pending);
	get_u32(scb, "httpMaxRequests", &s->max_requests);
	get_u32(scb, "httpMaxRetries", &s->max_retries);
	get_u32(scb, "httpMaxRequestsPerConnection", &s->max_requests_per_connection);
	s->outlier = true;
	get_u32(scb, "httpConsecutiveErrors", &s->consecutive_5xx);
	if (!s->consecutive_5xx)
		s->consecutive_5xx = 5; /* 0 meant "Envoy's default" in v1alpha2 */
	get_ms(scb, "sleepWindow", &s->base_ejection_ms);
	get_ms(scb, "httpDetectionInterval", &s->interval_ms);
	get_u32(scb, "httpMaxEjectionPercent", &s->max_ejection_percent);
	if (!s->max_ejection_percent)
		s->max_ejection_percent = 10; /* 0 meant the default, 10% */
	else if (s->max_ejection_percent > 100)
		s->max_ejection_percent = 100;
	if (s->interval_ms <= 0)
		s->interval_ms = 10000;
	if (s->base_ejection_ms <= 0)
		s->base_ejection_ms = 30000;
}
