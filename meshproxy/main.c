/*
 * meshproxy - the sidecar: flags and signals around libmesh's proxy.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/identity.h>
#include <mesh/mesh.h>
#include <mesh/proxy.h>

static mesh_proxy *the_proxy;

static void on_signal(int sig)
{
	/* these only write to the proxy's wake-up channel: async-signal-safe */
	if (sig == SIGHUP)
		mesh_proxy_reload(the_proxy);
	else if (sig == SIGTERM)
		mesh_proxy_drain(the_proxy);
	else
		mesh_proxy_stop(the_proxy);
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: meshproxy --config DIR [OPTIONS]\n\n"
	        "  --config DIR              mesh configuration (watched; SIGHUP reloads)\n"
	        "  --namespace NS            this workload's namespace (default)\n"
	        "  --workload NAME           this workload's name\n"
	        "  --labels k=v,...          this workload's labels\n"
	        "  --inbound PORT:APP_PORT   accept mesh traffic on PORT for the app on APP_PORT\n"
	        "  --inbound-tcp PORT:APP_PORT\n"
	        "                            the same for a TCP app port (bytes relayed)\n"
	        "  --outbound PORT           route the app's HTTP by Host on PORT\n"
	        "  --upstream HOST:PORT=LOCAL_PORT\n"
	        "                            a local port for one upstream service\n"
	        "  --admin PORT              admin endpoints on 127.0.0.1:PORT\n"
	        "  --gateway                 gateway mode: serve the servers of the Gateways whose\n"
	        "                            selector matches --labels, one listener per port\n"
	        "                            (a port a reload brings is opened then)\n"
	        "  --gateway-port NUMBER=LOCAL_PORT\n"
	        "                            serve Gateway port NUMBER on LOCAL_PORT (0: any free\n"
	        "                            port), as a Service's targetPort; also opens a port no\n"
	        "                            Gateway uses yet, for a later reload\n"
	        "  --credential-dir DIR      tls.credentialName NAME is read from DIR/NAME/\n"
	        "                            (tls.crt, tls.key, ca.crt)\n"
	        "  --bind ADDR               address of the inbound and gateway listeners\n"
	        "                            (127.0.0.1)\n"
	        "  --concurrency N           worker threads (CPU count)\n"
	        "  --drain-time DURATION     SIGTERM drains for at most this long (5s)\n"
	        "  --reload-poll DURATION    how often the config dir is checked (1s)\n"
	        "  --header-timeout DURATION a request head must arrive within it (10s)\n"
	        "  --idle-timeout DURATION   idle client connections are closed after it (60s)\n"
	        "  --stream-idle-timeout DURATION\n"
	        "                            a request with no byte moving for it: 408 (5m)\n"
	        "  --max-connections N       client connections per worker (16384)\n"
	        "  --max-header-bytes N      request head size limit (61440)\n"
	        "  --max-headers N           request header count limit (100)\n"
	        "  --max-concurrent-streams N\n"
	        "                            HTTP/2 streams per client connection (100)\n"
	        "  --log-level LEVEL         error, warning, info (default) or debug\n"
	        "\nIdentity (mutual TLS between sidecars; without one, plain text only):\n"
	        "  --cert-dir DIR            cert.pem, key.pem, trust-bundle.pem as `meshctl ca\n"
	        "                            issue` writes them; watched for replaced files.\n"
	        "                            With --ca-url: where the enrolled identity is kept\n"
	        "                            (a restart renews with it instead of a new token)\n"
	        "  --ca-url URL              enrol with `meshctl ca serve` (https://HOST:PORT),\n"
	        "                            key made here, renewed at half-life\n"
	        "  --ca-bundle FILE          roots the CA server must chain to (with --ca-url)\n"
	        "  --bootstrap-token FILE    one-time token for the first enrolment\n"
	        "  --service-account SA      identity spiffe://TD/ns/NS/sa/SA (default: default)\n"
	        "  --trust-domain TD         (cluster.local)\n"
	        "  --ca-server-name NAME     the CA server certificate's DNS name (localhost)\n"
	        "\nSIGHUP reloads, SIGTERM drains and exits 0, SIGINT stops.\n");
}

static void agent_log(void *arg, int level, const char *line)
{
	(void)arg;
	fprintf(stderr, "meshproxy: identity: %s%s\n", level == MESH_SEV_ERROR ? "error: " : "",
	        line);
}

static int agent_update(void *arg, const char *cert, const char *key, const char *bundle)
{
	mesh_diag *d = NULL;
	mesh_diag_new(&d);
	int rc = mesh_proxy_set_identity(arg, cert, key, bundle, d);
	if (rc && d && mesh_diag_count(d))
		fprintf(stderr, "meshproxy: identity refused: %s\n", mesh_diag_message(d, 0));
	mesh_diag_free(d);
	return rc;
}

static int parse_duration_ms(const char *s, int64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	if (!strcmp(end, "ms"))
		*out = (int64_t)v;
	else if (!strcmp(end, "s") || !*end)
		*out = (int64_t)(v * 1000);
	else if (!strcmp(end, "m"))
		*out = (int64_t)(v * 60000);
	else
		return -1;
	return 0;
}

#define MAX_LABELS 32
#define MAX_LISTEN 16
#define MAX_GATEWAY_PORTS 16

struct listen_arg {
	int kind;
	unsigned port;
	char target[300];
};

/* Gateway mode: a listener for each port of the Gateways that select us,
 * and for each --gateway-port. */
static int add_gateway_listeners(mesh_proxy *p, const char *bind, unsigned (*map)[2], size_t nmap,
                                 mesh_diag *diag)
{
	unsigned ports[MAX_GATEWAY_PORTS * 2];
	size_t n = mesh_proxy_gateway_ports(p, ports, MAX_GATEWAY_PORTS);
	if (n > MAX_GATEWAY_PORTS) {
		fprintf(stderr, "meshproxy: the Gateways use %zu ports; serving the first %d\n", n,
		        MAX_GATEWAY_PORTS);
		n = MAX_GATEWAY_PORTS;
	}
	if (!n && !nmap)
		fprintf(stderr, "meshproxy: no Gateway selects this proxy (--labels): no gateway "
		                "listener\n");
	for (size_t i = 0; i < nmap; i++) {
		bool seen = false;
		for (size_t k = 0; k < n && !seen; k++)
			seen = ports[k] == map[i][0];
		if (!seen)
			ports[n++] = map[i][0];
	}
	for (size_t i = 0; i < n; i++) {
		unsigned local = ports[i];
		for (size_t k = 0; k < nmap; k++)
			if (map[k][0] == ports[i])
				local = map[k][1];
		char number[16];
		snprintf(number, sizeof(number), "%u", ports[i]);
		mesh_diag_clear(diag);
		int idx = mesh_proxy_add_listener(p, MESH_LISTENER_GATEWAY, bind, local, number,
		                                  diag);
		if (idx < 0) {
			fprintf(stderr, "meshproxy: gateway port %u: %s\n", ports[i],
			        mesh_diag_count(diag) ? mesh_diag_message(diag, 0)
			                              : mesh_strerror(idx));
			return -1;
		}
		fprintf(stderr, "meshproxy: gateway listener on %s:%u (Gateway port %u)\n", bind,
		        mesh_proxy_listener_port(p, idx), ports[i]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct mesh_proxy_options o = { .struct_size = sizeof(o) };
	static char label_buf[4096];
	const char *labels[2 * MAX_LABELS + 1] = { NULL };
	struct listen_arg ls[MAX_LISTEN];
	size_t nls = 0;
	const char *bind = "127.0.0.1";
	int log_level = MESH_LOG_INFO;
	const char *cert_dir = NULL, *ca_url = NULL, *ca_bundle = NULL, *token = NULL;
	const char *sa_name = "default", *td = "cluster.local", *ca_name = NULL;
	bool gateway = false;
	unsigned gw_map[MAX_GATEWAY_PORTS][2]; /* Gateway port number, local port */
	size_t ngw_map = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--gateway")) {
			gateway = true;
			continue;
		}
		if (!strcmp(a, "--version")) {
			printf("meshproxy (libmesh) %s\n", mesh_version());
			return 0;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "meshproxy: %s needs a value (or is unknown)\n", a);
			return 2;
		}
		const char *v = argv[++i];
		char *end;
		if (!strcmp(a, "--config")) {
			o.config_dir = v;
		} else if (!strcmp(a, "--namespace")) {
			o.namespace_name = v;
		} else if (!strcmp(a, "--workload")) {
			o.workload = v;
		} else if (!strcmp(a, "--labels")) {
			snprintf(label_buf, sizeof(label_buf), "%s", v);
			size_t n = 0;
			for (char *tok = strtok(label_buf, ","); tok; tok = strtok(NULL, ",")) {
				char *eq = strchr(tok, '=');
				if (!eq || eq == tok || n + 2 >= 2 * MAX_LABELS) {
					fprintf(stderr, "meshproxy: --labels wants k=v,k2=v2\n");
					return 2;
				}
				*eq = '\0';
				labels[n++] = tok;
				labels[n++] = eq + 1;
			}
			o.labels = labels;
		} else if (!strcmp(a, "--inbound") || !strcmp(a, "--inbound-tcp") ||
		           !strcmp(a, "--outbound") || !strcmp(a, "--upstream") ||
		           !strcmp(a, "--admin")) {
			if (nls == MAX_LISTEN) {
				fprintf(stderr, "meshproxy: too many listeners\n");
				return 2;
			}
			struct listen_arg *l = &ls[nls++];
			memset(l, 0, sizeof(*l));
			if (!strncmp(a, "--inbound", 9)) {
				unsigned lp, ap;
				if (sscanf(v, "%u:%u", &lp, &ap) != 2 || lp > 65535 || !ap ||
				    ap > 65535) {
					fprintf(stderr, "meshproxy: %s wants PORT:APP_PORT\n", a);
					return 2;
				}
				l->kind = !strcmp(a, "--inbound") ? MESH_LISTENER_INBOUND
				                                  : MESH_LISTENER_INBOUND_TCP;
				l->port = lp;
				snprintf(l->target, sizeof(l->target), "127.0.0.1:%u", ap);
			} else if (!strcmp(a, "--upstream")) {
				const char *eq = strrchr(v, '=');
				unsigned long lp = eq ? strtoul(eq + 1, &end, 10) : 0;
				if (!eq || eq == v || *end || lp > 65535) {
					fprintf(stderr,
					        "meshproxy: --upstream wants HOST:PORT=LOCAL_PORT\n");
					return 2;
				}
				l->kind = MESH_LISTENER_UPSTREAM;
				l->port = (unsigned)lp;
				snprintf(l->target, sizeof(l->target), "%.*s", (int)(eq - v), v);
			} else {
				unsigned long port = strtoul(v, &end, 10);
				if (*end || port > 65535) {
					fprintf(stderr, "meshproxy: %s wants a port\n", a);
					return 2;
				}
				l->kind = !strcmp(a, "--admin") ? MESH_LISTENER_ADMIN
				                                : MESH_LISTENER_OUTBOUND;
				l->port = (unsigned)port;
			}
		} else if (!strcmp(a, "--gateway-port")) {
			unsigned num, local;
			char extra;
			if (sscanf(v, "%u=%u%c", &num, &local, &extra) != 2 || !num ||
			    num > 65535 || local > 65535 || ngw_map == MAX_GATEWAY_PORTS) {
				fprintf(stderr,
				        "meshproxy: --gateway-port wants NUMBER=LOCAL_PORT\n");
				return 2;
			}
			gw_map[ngw_map][0] = num;
			gw_map[ngw_map++][1] = local;
		} else if (!strcmp(a, "--credential-dir")) {
			o.credential_dir = v;
		} else if (!strcmp(a, "--cert-dir")) {
			cert_dir = v;
		} else if (!strcmp(a, "--ca-url")) {
			ca_url = v;
		} else if (!strcmp(a, "--ca-bundle")) {
			ca_bundle = v;
		} else if (!strcmp(a, "--bootstrap-token")) {
			token = v;
		} else if (!strcmp(a, "--service-account")) {
			sa_name = v;
		} else if (!strcmp(a, "--trust-domain")) {
			td = v;
		} else if (!strcmp(a, "--ca-server-name")) {
			ca_name = v;
		} else if (!strcmp(a, "--bind")) {
			bind = v;
		} else if (!strcmp(a, "--concurrency")) {
			unsigned long n = strtoul(v, &end, 10);
			if (*end || n > 64) {
				fprintf(stderr, "meshproxy: --concurrency wants 0..64\n");
				return 2;
			}
			o.concurrency = (unsigned)n;
		} else if (!strcmp(a, "--drain-time")) {
			if (parse_duration_ms(v, &o.drain_ms)) {
				fprintf(stderr,
				        "meshproxy: --drain-time wants a duration such as 5s\n");
				return 2;
			}
		} else if (!strcmp(a, "--header-timeout") || !strcmp(a, "--idle-timeout") ||
		           !strcmp(a, "--reload-poll") || !strcmp(a, "--stream-idle-timeout")) {
			int64_t *dst = !strcmp(a, "--header-timeout") ? &o.header_timeout_ms
			               : !strcmp(a, "--idle-timeout") ? &o.idle_timeout_ms
			               : !strcmp(a, "--stream-idle-timeout")
			                       ? &o.stream_idle_timeout_ms
			                       : &o.reload_poll_ms;
			if (parse_duration_ms(v, dst) || *dst <= 0) {
				fprintf(stderr, "meshproxy: %s wants a duration such as 10s\n", a);
				return 2;
			}
		} else if (!strcmp(a, "--max-connections") || !strcmp(a, "--max-header-bytes") ||
		           !strcmp(a, "--max-headers") || !strcmp(a, "--max-concurrent-streams")) {
			unsigned long n = strtoul(v, &end, 10);
			if (*end || n == 0 || n > 1048576) {
				fprintf(stderr, "meshproxy: %s wants a number from 1 to 1048576\n",
				        a);
				return 2;
			}
			if (!strcmp(a, "--max-connections"))
				o.max_connections = (unsigned)n;
			else if (!strcmp(a, "--max-header-bytes"))
				o.max_header_bytes = (unsigned)n;
			else if (!strcmp(a, "--max-concurrent-streams"))
				o.max_concurrent_streams = (unsigned)n;
			else
				o.max_headers = (unsigned)n;
		} else if (!strcmp(a, "--log-level")) {
			static const char *const names[] = { "error", "warning", "info", "debug" };
			log_level = -1;
			for (int k = 0; k < 4; k++)
				if (!strcmp(v, names[k]))
					log_level = k;
			if (log_level < 0) {
				fprintf(stderr, "meshproxy: unknown log level '%s'\n", v);
				return 2;
			}
		} else {
			fprintf(stderr, "meshproxy: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (!o.config_dir || (!nls && !gateway)) {
		usage(stderr);
		return 2;
	}
	if (ngw_map && !gateway) {
		fprintf(stderr, "meshproxy: --gateway-port needs --gateway\n");
		return 2;
	}
	if (ca_url && (!ca_bundle || !token)) {
		fprintf(stderr, "meshproxy: --ca-url needs --ca-bundle and --bootstrap-token\n");
		return 2;
	}
	mesh_diag *diag;
	if (mesh_diag_new(&diag))
		return 1;
	if (gateway)
		o.gateway_bind = bind; /* a port a reload brings is opened then */
	mesh_proxy *p;
	int rc = mesh_proxy_new(&o, &p, diag);
	for (size_t i = 0; i < mesh_diag_count(diag); i++) {
		if (rc == 0 && mesh_diag_severity(diag, i) == MESH_SEV_NOTE)
			continue;
		char *line = mesh_diag_format(diag, i);
		fprintf(stderr, "%s\n", line ? line : "");
		mesh_free(line);
	}
	if (rc) {
		fprintf(stderr, "meshproxy: cannot start: %s\n", mesh_strerror(rc));
		mesh_diag_free(diag);
		return 1;
	}
	mesh_proxy_set_log_level(p, log_level);
	/* before the others: "admin listener" is the last line at start */
	if (gateway && add_gateway_listeners(p, bind, gw_map, ngw_map, diag)) {
		mesh_proxy_free(p);
		mesh_diag_free(diag);
		return 1;
	}
	for (size_t i = 0; i < nls; i++) {
		mesh_diag_clear(diag);
		const char *addr = (ls[i].kind == MESH_LISTENER_INBOUND ||
		                    ls[i].kind == MESH_LISTENER_INBOUND_TCP)
		                           ? bind
		                           : "127.0.0.1";
		int idx = mesh_proxy_add_listener(p, ls[i].kind, addr, ls[i].port,
		                                  ls[i].target[0] ? ls[i].target : NULL, diag);
		if (idx < 0) {
			const char *msg = mesh_diag_count(diag) ? mesh_diag_message(diag, 0)
			                                        : mesh_strerror(idx);
			fprintf(stderr, "meshproxy: %s\n", msg);
			mesh_proxy_free(p);
			mesh_diag_free(diag);
			return 1;
		}
		static const char *const kinds[] = { "inbound", "outbound", "upstream", "admin",
			                             "inbound-tcp" };
		fprintf(stderr, "meshproxy: %s listener on %s:%u%s%s\n", kinds[ls[i].kind], addr,
		        mesh_proxy_listener_port(p, idx), ls[i].target[0] ? " -> " : "",
		        ls[i].target);
	}
	mesh_identity_agent *agent = NULL;
	char *spiffe_id = NULL;
	if (cert_dir || ca_url) {
		mesh_diag_clear(diag);
		if (ca_url && mesh_spiffe_id_build(&spiffe_id, td,
		                                   o.namespace_name ? o.namespace_name : "default",
		                                   sa_name, diag)) {
			fprintf(stderr, "meshproxy: %s\n", mesh_diag_message(diag, 0));
			mesh_proxy_free(p);
			mesh_diag_free(diag);
			return 2;
		}
		struct mesh_identity_agent_options ao = {
			.struct_size = sizeof(ao),
			/* with --ca-url, --cert-dir is where the enrolled identity
			 * is kept, so that a restart renews instead of enrolling */
			.cert_dir = ca_url ? NULL : cert_dir,
			.state_dir = ca_url ? cert_dir : NULL,
			.ca_url = ca_url,
			.ca_bundle_file = ca_bundle,
			.bootstrap_token_file = token,
			.spiffe_id = spiffe_id,
			.server_name = ca_name,
			.poll_ms = o.reload_poll_ms,
			.on_update = agent_update,
			.log = agent_log,
			.arg = p,
		};
		rc = mesh_identity_agent_new(&ao, &agent, diag);
		if (!rc)
			rc = mesh_identity_agent_fetch(agent, diag);
		if (!rc)
			rc = mesh_identity_agent_start(agent);
		if (rc) {
			for (size_t i = 0; i < mesh_diag_count(diag); i++)
				fprintf(stderr, "meshproxy: %s\n", mesh_diag_message(diag, i));
			fprintf(stderr, "meshproxy: cannot get an identity: %s\n",
			        mesh_strerror(rc));
			mesh_identity_agent_free(agent);
			mesh_proxy_free(p);
			mesh_diag_free(diag);
			mesh_free(spiffe_id);
			return 1;
		}
	}
	mesh_diag_free(diag);
	the_proxy = p;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = mesh_proxy_run(p);
	mesh_identity_agent_free(agent); /* stops its thread before the proxy goes */
	mesh_free(spiffe_id);
	mesh_proxy_free(p);
	return rc ? 1 : 0;
}
