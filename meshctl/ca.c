/* ca.c - meshctl ca: create a CA, issue X.509-SVIDs, inspect certificates. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mesh/identity.h>

#include "meshctl.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: meshctl ca COMMAND [OPTIONS]\n\n"
	        "A certificate authority for SPIFFE X.509-SVIDs, with Istio's cacerts file\n"
	        "names.\n\n"
	        "  meshctl ca init --trust-domain TD --out DIR [--key-type TYPE] [--ttl DUR]\n"
	        "                  [--intermediate [--intermediate-ttl DUR]] [--force]\n"
	        "      Create a root CA (and an intermediate that signs the SVIDs):\n"
	        "      root-cert.pem, root-key.pem (0600), [ca-cert.pem, ca-key.pem (0600),]\n"
	        "      cert-chain.pem, trust-bundle.pem. TYPE: ec-p256 (default), rsa-2048,\n"
	        "      rsa-3072. --ttl: root lifetime (default 87600h, 10 years);\n"
	        "      --intermediate-ttl: default 43800h, cut to the root's. An existing CA in\n"
	        "      DIR is kept unless --force.\n\n"
	        "  meshctl ca issue --ca DIR --namespace NS --service-account SA --out DIR\n"
	        "                   [--ttl DUR] [--key-type TYPE] [--trust-domain TD]\n"
	        "      Issue an SVID for spiffe://TD/ns/NS/sa/SA: cert.pem (SVID + chain),\n"
	        "      key.pem (0600), trust-bundle.pem. --ttl default 24h; a lifetime past\n"
	        "      the CA's end is cut to it, with a warning.\n\n"
	        "  meshctl ca inspect FILE [--bundle FILE]\n"
	        "      Show a certificate's SPIFFE ID, names, key, validity and, against the\n"
	        "      trust bundle (default: trust-bundle.pem beside FILE), its chain status.\n\n"
	        "  meshctl ca serve --ca DIR [--listen ADDR:PORT] [--tokens FILE] [--ttl DUR]\n"
	        "                   [--server-name NAME] [--port-file FILE]\n"
	        "      Sign CSRs over HTTPS (POST /v1/sign; GET /v1/bundle) for a client\n"
	        "      SVID renewing itself or a one-time bootstrap token from FILE\n"
	        "      (\"TOKEN SPIFFE-ID\" per line). --listen default 127.0.0.1:15012.\n\n"
	        "Durations: a number with a unit, combined: 90d, 24h, 1h30m, 45s.\n"
	        "Exit status: 0 success (inspect: valid), 1 invalid certificate or CA,\n"
	        "2 usage or I/O error.\n");
}

static void print_diag(const mesh_diag *d)
{
	for (size_t i = 0; i < mesh_diag_count(d); i++) {
		char *line = mesh_diag_format(d, i);
		fprintf(stderr, "meshctl ca: %s\n", line ? line : "(out of memory)");
		mesh_free(line);
	}
}

/* Exit status for a library error: I/O problems are 2, bad content 1. */
static int exit_for(int rc)
{
	return rc == MESH_EIO || rc == MESH_ENOTFOUND || rc == MESH_ENOMEM ? EXIT_USAGE
	                                                                   : EXIT_INVALID;
}

/* "90d", "24h", "1h30m", "45s" -> seconds; -1 when malformed. */
static int64_t parse_duration(const char *s)
{
	int64_t total = 0;
	if (!s || !*s)
		return -1;
	while (*s) {
		char *end;
		errno = 0;
		long long n = strtoll(s, &end, 10);
		if (end == s || n < 0 || errno)
			return -1;
		int64_t unit;
		switch (*end) {
		case 'd': unit = 86400; break;
		case 'h': unit = 3600; break;
		case 'm': unit = 60; break;
		case 's': unit = 1; break;
		default: return -1;
		}
		if (n > INT64_MAX / unit / 2 || total > INT64_MAX / 2)
			return -1;
		total += n * unit;
		s = end + 1;
	}
	return total;
}

static void fmt_duration(int64_t secs, char *buf, size_t n)
{
	int64_t d = secs / 86400, h = secs % 86400 / 3600, m = secs % 3600 / 60, s = secs % 60;
	if (d)
		snprintf(buf, n, "%" PRId64 "d%" PRId64 "h", d, h);
	else if (h)
		snprintf(buf, n, "%" PRId64 "h%" PRId64 "m", h, m);
	else if (m)
		snprintf(buf, n, "%" PRId64 "m%" PRId64 "s", m, s);
	else
		snprintf(buf, n, "%" PRId64 "s", s);
}

static const char *fmt_time(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, 32, "%" PRId64, t);
	return buf;
}

/* Option with a value at argv[*i]: returns the value, or NULL (message). */
static const char *value(int argc, char **argv, int *i, const char *cmd)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "meshctl ca %s: %s needs a value\n", cmd, argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

static int key_type_opt(const char *v, const char *cmd)
{
	int t = mesh_key_type_from_name(v);
	if (t < 0)
		fprintf(stderr,
		        "meshctl ca %s: unknown key type '%s' (ec-p256, rsa-2048, rsa-3072)\n", cmd,
		        v);
	return t;
}

static int64_t ttl_opt(const char *v, const char *cmd)
{
	int64_t t = parse_duration(v);
	if (t <= 0)
		fprintf(stderr, "meshctl ca %s: bad duration '%s' (e.g. 24h, 90d, 1h30m)\n", cmd,
		        v);
	return t;
}

static bool exists_in(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

static int ca_init(int argc, char **argv)
{
	const char *td = NULL, *out = NULL;
	int key_type = MESH_KEY_EC_P256;
	int64_t ttl = 0, ittl = 0;
	bool intermediate = false, force = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_VALID;
		} else if (!strcmp(a, "--intermediate")) {
			intermediate = true;
		} else if (!strcmp(a, "--force")) {
			force = true;
		} else if (!strcmp(a, "--trust-domain") || !strcmp(a, "--out") ||
		           !strcmp(a, "--key-type") || !strcmp(a, "--ttl") ||
		           !strcmp(a, "--intermediate-ttl")) {
			if (!(v = value(argc, argv, &i, "init")))
				return EXIT_USAGE;
			if (!strcmp(a, "--trust-domain"))
				td = v;
			else if (!strcmp(a, "--out"))
				out = v;
			else if (!strcmp(a, "--key-type") &&
			         (key_type = key_type_opt(v, "init")) < 0)
				return EXIT_USAGE;
			else if (!strcmp(a, "--ttl") && (ttl = ttl_opt(v, "init")) <= 0)
				return EXIT_USAGE;
			else if (!strcmp(a, "--intermediate-ttl") &&
			         (ittl = ttl_opt(v, "init")) <= 0)
				return EXIT_USAGE;
		} else {
			fprintf(stderr, "meshctl ca init: unknown argument '%s'\n", a);
			return EXIT_USAGE;
		}
	}
	if (!td || !out) {
		fprintf(stderr, "meshctl ca init: --trust-domain and --out are required\n");
		return EXIT_USAGE;
	}
	mesh_diag *d = NULL;
	if (mesh_diag_new(&d))
		return EXIT_USAGE;
	int status = EXIT_VALID;
	mesh_ca *root = NULL, *inter = NULL;
	if (mesh_trust_domain_check(td, d)) {
		status = EXIT_USAGE;
		goto out;
	}
	if (!force && (exists_in(out, "root-key.pem") || exists_in(out, "ca-key.pem"))) {
		fprintf(stderr,
		        "meshctl ca init: %s already holds a CA key; refusing to replace it "
		        "(--force replaces it, and every SVID it issued stops validating)\n",
		        out);
		status = EXIT_USAGE;
		goto out;
	}
	int rc = mesh_ca_new_root(&root, td, key_type, ttl, d);
	if (!rc && intermediate)
		rc = mesh_ca_new_intermediate(&inter, root, key_type, ittl, d);
	if (!rc)
		rc = mesh_ca_write_dir(root, out, d);
	if (!rc && inter)
		rc = mesh_ca_write_dir(inter, out, d);
	if (rc) {
		status = exit_for(rc);
		goto out;
	}
	char t[32];
	print_diag(d); /* warnings (a cut intermediate lifetime) */
	mesh_diag_clear(d);
	printf("created %s CA for trust domain %s in %s (%s, valid until %s)\n",
	       inter ? "root + intermediate" : "root", td, out, mesh_key_type_name(key_type),
	       fmt_time(mesh_ca_not_after(root), t));
	printf("  root-cert.pem root-key.pem%s cert-chain.pem trust-bundle.pem\n",
	       inter ? " ca-cert.pem ca-key.pem" : "");
out:
	print_diag(d);
	mesh_ca_free(inter);
	mesh_ca_free(root);
	mesh_diag_free(d);
	return status;
}

static int write_in(const char *dir, const char *name, const char *data, bool secret, mesh_diag *d)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return mesh_identity_write_file(path, data, strlen(data), secret, d);
}

static int ca_issue(int argc, char **argv)
{
	const char *cadir = NULL, *ns = NULL, *sa = NULL, *out = NULL, *td = NULL;
	int key_type = MESH_KEY_EC_P256;
	int64_t ttl = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_VALID;
		} else if (!strcmp(a, "--ca") || !strcmp(a, "--namespace") || !strcmp(a, "-n") ||
		           !strcmp(a, "--service-account") || !strcmp(a, "--out") ||
		           !strcmp(a, "--ttl") || !strcmp(a, "--key-type") ||
		           !strcmp(a, "--trust-domain")) {
			if (!(v = value(argc, argv, &i, "issue")))
				return EXIT_USAGE;
			if (!strcmp(a, "--ca"))
				cadir = v;
			else if (!strcmp(a, "--namespace") || !strcmp(a, "-n"))
				ns = v;
			else if (!strcmp(a, "--service-account"))
				sa = v;
			else if (!strcmp(a, "--out"))
				out = v;
			else if (!strcmp(a, "--trust-domain"))
				td = v;
			else if (!strcmp(a, "--key-type") &&
			         (key_type = key_type_opt(v, "issue")) < 0)
				return EXIT_USAGE;
			else if (!strcmp(a, "--ttl") && (ttl = ttl_opt(v, "issue")) <= 0)
				return EXIT_USAGE;
		} else {
			fprintf(stderr, "meshctl ca issue: unknown argument '%s'\n", a);
			return EXIT_USAGE;
		}
	}
	if (!cadir || !ns || !sa || !out) {
		fprintf(stderr, "meshctl ca issue: --ca, --namespace, --service-account and --out "
		                "are required\n");
		return EXIT_USAGE;
	}
	mesh_diag *d = NULL;
	if (mesh_diag_new(&d))
		return EXIT_USAGE;
	mesh_ca *ca = NULL;
	char *id = NULL, *cert = NULL, *key = NULL, *bundle = NULL;
	int status = EXIT_VALID;
	int rc = mesh_ca_load_dir(&ca, cadir, td, d);
	if (rc) {
		status = exit_for(rc);
		goto out;
	}
	if ((rc = mesh_spiffe_id_build(&id, mesh_ca_trust_domain(ca), ns, sa, d))) {
		status = EXIT_USAGE;
		goto out;
	}
	if ((rc = mesh_ca_issue(ca, id, key_type, ttl, &cert, &key, d)) ||
	    (rc = mesh_bundle_to_pem(mesh_ca_bundle(ca), &bundle))) {
		status = exit_for(rc);
		goto out;
	}
	if (mkdir(out, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "meshctl ca issue: cannot create %s: %s\n", out, strerror(errno));
		status = EXIT_USAGE;
		goto out;
	}
	if ((rc = write_in(out, "key.pem", key, true, d)) ||
	    (rc = write_in(out, "cert.pem", cert, false, d)) ||
	    (rc = write_in(out, "trust-bundle.pem", bundle, false, d))) {
		status = exit_for(rc);
		goto out;
	}
	mesh_cert *c = NULL;
	if (mesh_cert_parse(&c, cert, strlen(cert), NULL) == 0) {
		char t[32];
		printf("issued %s in %s (cert.pem key.pem trust-bundle.pem), valid until %s\n", id,
		       out, fmt_time(mesh_cert_not_after(c), t));
		mesh_cert_free(c);
	}
out:
	print_diag(d);
	if (key)
		memset(key, 0, strlen(key));
	mesh_free(key);
	mesh_free(cert);
	mesh_free(bundle);
	mesh_free(id);
	mesh_ca_free(ca);
	mesh_diag_free(d);
	return status;
}

/* trust-bundle.pem in the directory of @file, if there is one. */
static char *bundle_beside(const char *file)
{
	const char *slash = strrchr(file, '/');
	size_t n = slash ? (size_t)(slash - file) + 1 : 0;
	char *p = malloc(n + sizeof("trust-bundle.pem"));
	if (!p)
		return NULL;
	memcpy(p, file, n);
	strcpy(p + n, "trust-bundle.pem");
	struct stat st;
	if (stat(p, &st) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

static int ca_inspect(int argc, char **argv)
{
	const char *file = NULL, *bundle_file = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_VALID;
		} else if (!strcmp(a, "--bundle")) {
			if (!(bundle_file = value(argc, argv, &i, "inspect")))
				return EXIT_USAGE;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "meshctl ca inspect: unknown option '%s'\n", a);
			return EXIT_USAGE;
		} else if (file) {
			fprintf(stderr, "meshctl ca inspect: one FILE only\n");
			return EXIT_USAGE;
		} else {
			file = a;
		}
	}
	if (!file) {
		fprintf(stderr, "usage: meshctl ca inspect FILE [--bundle FILE]\n");
		return EXIT_USAGE;
	}
	mesh_diag *d = NULL;
	if (mesh_diag_new(&d))
		return EXIT_USAGE;
	char *data = NULL, *beside = NULL;
	size_t len = 0;
	mesh_cert *c = NULL;
	mesh_bundle *b = NULL;
	int status = EXIT_VALID;
	int rc = mesh_identity_read_file(file, &data, &len, d);
	if (rc) {
		status = EXIT_USAGE;
		goto out;
	}
	if ((rc = mesh_cert_parse(&c, data, len, d))) {
		mesh_diag_clear(d);
		fprintf(stderr, "meshctl ca inspect: %s: %s\n", file,
		        rc == MESH_ENOMEM ? mesh_strerror(rc)
		                          : "no certificate in the file (neither PEM nor DER)");
		status = rc == MESH_ENOMEM ? EXIT_USAGE : EXIT_INVALID;
		goto out;
	}
	int64_t now = (int64_t)time(NULL);
	char t1[32], t2[32], dur[48];
	const char *id = mesh_cert_spiffe_id(c);
	printf("File:        %s (%zu certificate%s)\n", file, mesh_cert_chain_length(c),
	       mesh_cert_chain_length(c) == 1 ? "" : "s");
	if (id)
		printf("SPIFFE ID:   %s\n", id);
	else
		printf("SPIFFE ID:   (none: %zu URI SANs)\n", mesh_cert_uri_san_count(c));
	printf("Subject:     %s\n", *mesh_cert_subject(c) ? mesh_cert_subject(c) : "(empty)");
	printf("Issuer:      %s\n", *mesh_cert_issuer(c) ? mesh_cert_issuer(c) : "(empty)");
	printf("Serial:      %s\n", mesh_cert_serial(c));
	printf("Key:         %s (%u bits)\n", mesh_key_type_name(mesh_cert_key_type(c)),
	       mesh_cert_key_bits(c));
	printf("CA:          %s\n",
	       mesh_cert_is_ca(c) ? (mesh_cert_is_self_signed(c) ? "yes (self-signed root)"
	                                                         : "yes (intermediate)")
	                          : "no");
	printf("Not before:  %s\n", fmt_time(mesh_cert_not_before(c), t1));
	printf("Not after:   %s\n", fmt_time(mesh_cert_not_after(c), t2));
	int64_t left = mesh_cert_not_after(c) - now;
	if (left > 0) {
		fmt_duration(left, dur, sizeof(dur));
		printf("Expires in:  %s\n", dur);
	} else {
		fmt_duration(-left, dur, sizeof(dur));
		printf("Expires in:  expired %s ago\n", dur);
	}
	if (mesh_cert_is_ca(c)) {
		/* Not an SVID: only its own validity can be judged here. */
		bool ok = left > 0 && mesh_cert_not_before(c) <= now;
		printf("Status:      %s\n", ok ? "CA certificate within its validity"
		                               : "CA certificate outside its validity");
		status = ok ? EXIT_VALID : EXIT_INVALID;
		goto out;
	}
	if (!bundle_file)
		bundle_file = beside = bundle_beside(file);
	if (!bundle_file) {
		printf("Chain:       not checked (no trust-bundle.pem beside the file; use "
		       "--bundle)\n");
		goto out;
	}
	if ((rc = mesh_bundle_new(&b, NULL)) || (rc = mesh_bundle_load_file(b, bundle_file, d))) {
		status = rc == MESH_EIO ? EXIT_USAGE : EXIT_INVALID;
		goto out;
	}
	int why = 0;
	mesh_diag_clear(d);
	rc = mesh_svid_verify(b, data, len, 0, &why, d);
	if (rc == 0) {
		printf("Chain:       valid X.509-SVID against %s (trust domain %s, %zu root%s)\n",
		       bundle_file, mesh_bundle_trust_domain(b), mesh_bundle_count(b),
		       mesh_bundle_count(b) == 1 ? "" : "s");
	} else {
		printf("Chain:       INVALID against %s: %s: %s\n", bundle_file,
		       mesh_svid_status_name(why),
		       mesh_diag_count(d) ? mesh_diag_message(d, mesh_diag_count(d) - 1)
		                          : mesh_strerror(rc));
		mesh_diag_clear(d);
		status = rc == MESH_ENOMEM ? EXIT_USAGE : EXIT_INVALID;
	}
out:
	print_diag(d);
	free(beside);
	mesh_bundle_free(b);
	mesh_cert_free(c);
	mesh_free(data);
	mesh_diag_free(d);
	return status;
}

static mesh_ca_server *serving;

static void on_signal(int sig)
{
	(void)sig;
	mesh_ca_server_stop(serving); /* async-signal-safe: writes to a pipe */
}

static void log_line(void *arg, const char *line)
{
	(void)arg;
	char t[32];
	fprintf(stderr, "%s meshctl ca serve: %s\n", fmt_time((int64_t)time(NULL), t), line);
}

/* "ADDR:PORT", "[V6]:PORT" or ":PORT" into @addr (NULL: default) and @port. */
static int parse_listen(char *spec, const char **addr, unsigned *port)
{
	char *colon = strrchr(spec, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	char *end;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p > 65535)
		return -1;
	*port = (unsigned)p;
	if (spec[0] == '[') {
		size_t n = strlen(spec);
		if (n < 2 || spec[n - 1] != ']')
			return -1;
		spec[n - 1] = '\0';
		spec++;
	}
	*addr = *spec ? spec : NULL;
	return 0;
}

static int ca_serve(int argc, char **argv)
{
	const char *cadir = NULL, *port_file = NULL, *td = NULL;
	char listen_buf[256] = "127.0.0.1:15012";
	struct mesh_ca_server_options o = { .struct_size = sizeof(o), .log = log_line };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_VALID;
		} else if (!strcmp(a, "--ca") || !strcmp(a, "--listen") || !strcmp(a, "--tokens") ||
		           !strcmp(a, "--ttl") || !strcmp(a, "--server-name") ||
		           !strcmp(a, "--port-file") || !strcmp(a, "--trust-domain")) {
			if (!(v = value(argc, argv, &i, "serve")))
				return EXIT_USAGE;
			if (!strcmp(a, "--ca"))
				cadir = v;
			else if (!strcmp(a, "--listen"))
				snprintf(listen_buf, sizeof(listen_buf), "%s", v);
			else if (!strcmp(a, "--tokens"))
				o.tokens_file = v;
			else if (!strcmp(a, "--server-name"))
				o.server_name = v;
			else if (!strcmp(a, "--port-file"))
				port_file = v;
			else if (!strcmp(a, "--trust-domain"))
				td = v;
			else if ((o.ttl = ttl_opt(v, "serve")) <= 0)
				return EXIT_USAGE;
		} else {
			fprintf(stderr, "meshctl ca serve: unknown argument '%s'\n", a);
			return EXIT_USAGE;
		}
	}
	if (!cadir) {
		fprintf(stderr, "meshctl ca serve: --ca is required\n");
		return EXIT_USAGE;
	}
	if (parse_listen(listen_buf, &o.address, &o.port)) {
		fprintf(stderr, "meshctl ca serve: --listen wants ADDR:PORT, [V6]:PORT or :PORT\n");
		return EXIT_USAGE;
	}
	mesh_diag *d = NULL;
	if (mesh_diag_new(&d))
		return EXIT_USAGE;
	mesh_ca *ca = NULL;
	int status = EXIT_VALID;
	int rc = mesh_ca_load_dir(&ca, cadir, td, d);
	if (!rc)
		rc = mesh_ca_server_new(&serving, ca, &o, d);
	if (rc) {
		status = exit_for(rc);
		goto out;
	}
	print_diag(d);
	mesh_diag_clear(d);
	if (port_file) {
		char p[16];
		snprintf(p, sizeof(p), "%u\n", mesh_ca_server_port(serving));
		if (mesh_identity_write_file(port_file, p, strlen(p), 0, d)) {
			status = EXIT_USAGE;
			goto out;
		}
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (mesh_ca_server_run(serving))
		status = EXIT_USAGE;
out:
	print_diag(d);
	mesh_ca_server_free(serving);
	serving = NULL;
	mesh_ca_free(ca);
	mesh_diag_free(d);
	return status;
}

int cmd_ca(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_VALID;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "init"))
		return ca_init(argc - 1, argv + 1);
	if (!strcmp(sub, "issue"))
		return ca_issue(argc - 1, argv + 1);
	if (!strcmp(sub, "inspect"))
		return ca_inspect(argc - 1, argv + 1);
	if (!strcmp(sub, "serve"))
		return ca_serve(argc - 1, argv + 1);
	fprintf(stderr, "meshctl ca: unknown command '%s' (init, issue, inspect, serve)\n", sub);
	return EXIT_USAGE;
}
