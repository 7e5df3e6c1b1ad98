/*
 * bench_config_load.c - issue 2 point 8: load and validate 10,000 generated
 * VirtualServices on one core, under 1 s and 200 MB peak RSS.
 *
 * Generates the resources (a fixed seed: the same bytes every run) into a
 * temporary directory, once as one multi-document file and once as one file
 * each, then runs every measurement in a fresh process (so that its peak RSS
 * is its own) pinned to one CPU, several times, and prints the median:
 *
 *   load-multi   mesh_config_load_path(all.yaml): read + parse + validate
 *   load-files   mesh_config_load_path(files/): the same from 10,000 files
 *   yaml-multi   read all.yaml + a bare libyaml event parse (the floor)
 *   yaml-files   the same over the 10,000 files
 *   analyze      load-multi, then mesh_config_analyze (for information)
 *   idle         a process that loads nothing (its RSS is the baseline)
 *
 * Times are wall clock (median, min, max) and the median CPU time (user +
 * system) of the measured part, which other load on the machine disturbs less.
 *
 * Usage: bench_config_load [-n COUNT] [-r REPS] [-c CPU] [-k DIR]
 *   -k DIR  write the inputs to DIR and keep them (default: a temp dir,
 *           removed at the end)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include <mesh/mesh.h>

extern char **environ;

/* snprintf into a PATH_MAX-sized buffer; a path that does not fit is fatal */
static void xpath(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xpath(char *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, 4096, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= 4096) {
		fprintf(stderr, "path too long\n");
		exit(2);
	}
}

/* ---- generation ---- */

static uint64_t rng_state = 0x62656e6368ULL; /* "bench" */
static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned)((rng_state * 2685821657736338717ULL) >> 33) % n;
}

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };
static const char *const retry_on[] = { "5xx", "gateway-error,connect-failure",
	                                "reset,refused-stream", "retriable-4xx,5xx" };

/* One VirtualService #i: 2-5 HTTP routes with header, URI (prefix, exact,
 * regex) and method matches, weighted destinations, retries, timeouts,
 * faults; some with a second host, gateways, a TCP route. */
static void gen_vs(FILE *f, unsigned i)
{
	unsigned ns = i % 50, routes = 2 + rnd(4);
	fprintf(f,
	        "apiVersion: networking.istio.io/v1\n"
	        "kind: VirtualService\n"
	        "metadata:\n"
	        "  name: svc-%u\n"
	        "  namespace: ns-%u\n"
	        "  labels:\n"
	        "    app: svc-%u\n"
	        "    team: team-%u\n"
	        "spec:\n"
	        "  hosts:\n"
	        "  - svc-%u.ns-%u.svc.cluster.local\n",
	        i, ns, i, i % 7, i, ns);
	if (rnd(3) == 0)
		fprintf(f, "  - svc-%u.example.com\n  gateways:\n  - mesh\n  - ns-%u/edge\n", i,
		        ns);
	fprintf(f, "  http:\n");
	for (unsigned r = 0; r + 1 < routes; r++) {
		fprintf(f, "  - name: route-%u\n    match:\n", r);
		switch (rnd(4)) {
		case 0:
			fprintf(f,
			        "    - headers:\n"
			        "        x-canary:\n"
			        "          exact: \"true\"\n"
			        "      uri:\n"
			        "        prefix: /api/v%u/\n",
			        1 + rnd(3));
			break;
		case 1:
			fprintf(f,
			        "    - uri:\n"
			        "        regex: \"^/items/[0-9]{1,%u}(/reviews)?$\"\n"
			        "      method:\n"
			        "        exact: %s\n",
			        2 + rnd(8), methods[rnd(4)]);
			break;
		case 2:
			fprintf(f,
			        "    - headers:\n"
			        "        cookie:\n"
			        "          regex: \"^(.*?;)?(user=u%u)(;.*)?$\"\n"
			        "    - headers:\n"
			        "        end-user:\n"
			        "          exact: tester-%u\n",
			        i, r);
			break;
		default:
			fprintf(f,
			        "    - uri:\n"
			        "        exact: /healthz/%u\n"
			        "      queryParams:\n"
			        "        debug:\n"
			        "          regex: \"^(1|true|yes)$\"\n",
			        r);
		}
		unsigned w = 5 + rnd(90);
		fprintf(f,
		        "    route:\n"
		        "    - destination:\n"
		        "        host: svc-%u.ns-%u.svc.cluster.local\n"
		        "        subset: v%u\n"
		        "        port:\n"
		        "          number: %u\n"
		        "      weight: %u\n"
		        "    - destination:\n"
		        "        host: svc-%u.ns-%u.svc.cluster.local\n"
		        "        subset: v1\n"
		        "        port:\n"
		        "          number: %u\n"
		        "      weight: %u\n",
		        i, ns, 2 + r, 8080 + rnd(20), w, i, ns, 8080, 100 - w);
		if (rnd(2))
			fprintf(f,
			        "    retries:\n"
			        "      attempts: %u\n"
			        "      perTryTimeout: %ums\n"
			        "      retryOn: %s\n",
			        1 + rnd(5), 100 * (1 + rnd(20)), retry_on[rnd(4)]);
		if (rnd(2))
			fprintf(f, "    timeout: %us\n", 1 + rnd(30));
		else
			fprintf(f, "    timeout: %u.5s\n", rnd(10));
		if (rnd(3) == 0)
			fprintf(f,
			        "    fault:\n"
			        "      delay:\n"
			        "        percentage:\n"
			        "          value: %u.5\n"
			        "        fixedDelay: %ums\n"
			        "      abort:\n"
			        "        percentage:\n"
			        "          value: %u\n"
			        "        httpStatus: %u\n",
			        rnd(10), 50 * (1 + rnd(40)), rnd(5), 500 + rnd(4));
	}
	fprintf(f,
	        "  - route:\n"
	        "    - destination:\n"
	        "        host: svc-%u.ns-%u.svc.cluster.local\n"
	        "        subset: v1\n",
	        i, ns);
	if (rnd(10) == 0)
		fprintf(f,
		        "  tcp:\n"
		        "  - match:\n"
		        "    - port: %u\n"
		        "    route:\n"
		        "    - destination:\n"
		        "        host: svc-%u.ns-%u.svc.cluster.local\n"
		        "        port:\n"
		        "          number: %u\n",
		        9000 + rnd(100), i, ns, 9000 + rnd(100));
}

static void generate(const char *dir, unsigned count, size_t *bytes)
{
	char path[4096];
	xpath(path, "%s/files", dir);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(2);
	}
	xpath(path, "%s/all.yaml", dir);
	FILE *all = fopen(path, "w");
	if (!all) {
		perror(path);
		exit(2);
	}
	for (unsigned i = 0; i < count; i++) {
		/* one resource, written twice: the same bytes in both layouts */
		char *text = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&text, &len);
		gen_vs(m, i);
		fclose(m);
		fprintf(all, "%s%s", i ? "---\n" : "", text);
		xpath(path, "%s/files/vs-%05u.yaml", dir, i);
		FILE *one = fopen(path, "w");
		if (!one) {
			perror(path);
			exit(2);
		}
		fwrite(text, 1, len, one);
		fclose(one);
		free(text);
	}
	*bytes = (size_t)ftell(all);
	fclose(all);
}

/* ---- measurements (in the child) ---- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read a file and run libyaml's event parser over it; returns events. */
static long yaml_events(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *buf = malloc((size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	yaml_parser_t p;
	yaml_event_t ev;
	long n = 0;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, buf, (size_t)size);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			n = -1;
			break;
		}
		int done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		n++;
		if (done)
			break;
	}
	yaml_parser_delete(&p);
	free(buf);
	return n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The same file walk as mesh_config_load_path, for the libyaml floor. */
static long yaml_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			names = realloc(names, cap * sizeof(*names));
		}
		names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
		sprintf(names[n++], "%s/%s", dir, e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	long events = 0;
	for (size_t i = 0; i < n; i++) {
		long k = yaml_events(names[i]);
		events = (k < 0 || events < 0) ? -1 : events + k;
		free(names[i]);
	}
	free(names);
	return events;
}

/* CPU time (user + system) this process used so far. */
static double cpu_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Child: one measurement; prints "wall_s cpu_s maxrss_kb count errors". */
static int run(const char *mode, const char *path)
{
	double t0 = now(), c0 = cpu_now(), t1;
	long count = 0, errors = 0;
	if (!strcmp(mode, "yaml-multi") || !strcmp(mode, "yaml-files")) {
		count = !strcmp(mode, "yaml-multi") ? yaml_events(path) : yaml_dir(path);
		errors = count < 0;
		t1 = now();
	} else if (!strcmp(mode, "idle")) {
		t1 = now();
	} else {
		mesh_config *cfg;
		mesh_diag *d;
		if (mesh_config_new(&cfg) || mesh_diag_new(&d))
			return 1;
		int rc = mesh_config_load_path(cfg, path, d);
		if (!strcmp(mode, "analyze")) {
			t0 = now(); /* the analysis alone */
			c0 = cpu_now();
			mesh_config_analyze(cfg, d);
		}
		t1 = now();
		count = (long)mesh_config_resource_count(cfg);
		errors = (long)mesh_diag_count_severity(d, MESH_SEV_ERROR);
		if (rc && rc != MESH_ECONFIG)
			errors = -rc;
		if (errors && getenv("BENCH_VERBOSE")) {
			for (size_t i = 0; i < mesh_diag_count(d) && i < 20; i++) {
				char *s = mesh_diag_format(d, i);
				fprintf(stderr, "%s\n", s);
				mesh_free(s);
			}
		}
		/* freeing is part of a config's life, but not of "load" */
		mesh_diag_free(d);
		mesh_config_unref(cfg);
	}
	double c1 = cpu_now();
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%.6f %.6f %ld %ld %ld\n", t1 - t0, c1 - c0, ru.ru_maxrss, count, errors);
	return 0;
}

/* ---- the driver ---- */

struct result {
	double sec, cpu;
	long rss_kb, count, errors;
};

static struct result spawn_run(const char *self, const char *mode, const char *path)
{
	int fds[2];
	if (pipe(fds)) {
		perror("pipe");
		exit(2);
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	char *argv[] = { (char *)self, "--run", (char *)mode, (char *)path, NULL };
	pid_t pid;
	if (posix_spawn(&pid, self, &fa, NULL, argv, environ)) {
		perror("posix_spawn");
		exit(2);
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	char line[256] = "";
	FILE *f = fdopen(fds[0], "r");
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	int status;
	waitpid(pid, &status, 0);
	struct result r = { -1, -1, -1, -1, -1 };
	if (!WIFEXITED(status) || WEXITSTATUS(status) ||
	    sscanf(line, "%lf %lf %ld %ld %ld", &r.sec, &r.cpu, &r.rss_kb, &r.count, &r.errors) !=
	            5) {
		fprintf(stderr, "%s %s failed\n", mode, path);
		exit(2);
	}
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct stats {
	double med, min, max, cpu_med;
	long rss_kb;
};

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct stats measure(const char *self, const char *mode, const char *path, int reps,
                            long want_count)
{
	double *t = calloc((size_t)reps, sizeof(*t));
	double *c = calloc((size_t)reps, sizeof(*c));
	struct stats s = { 0, 0, 0, 0, 0 };
	for (int i = 0; i < reps; i++) {
		struct result r = spawn_run(self, mode, path);
		if (r.errors || (want_count >= 0 && r.count != want_count)) {
			fprintf(stderr,
			        "%s: %ld results, %ld errors (expected %ld, 0); "
			        "BENCH_VERBOSE=1 shows them\n",
			        mode, r.count, r.errors, want_count);
			exit(1);
		}
		t[i] = r.sec;
		c[i] = r.cpu;
		if (r.rss_kb > s.rss_kb)
			s.rss_kb = r.rss_kb;
	}
	s.med = median(t, reps);
	s.min = t[0];
	s.max = t[reps - 1];
	s.cpu_med = median(c, reps);
	free(t);
	free(c);
	return s;
}

static void print_row(const char *what, struct stats s)
{
	printf("%-12s %9.3f %9.3f %9.3f %9.3f %10.1f\n", what, s.med, s.min, s.max, s.cpu_med,
	       (double)s.rss_kb * 1024 / 1e6);
}

static void remove_tree(const char *dir)
{
	char path[4096];
	xpath(path, "%s/files", dir);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		xpath(path, "%s/files/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	xpath(path, "%s/files", dir);
	rmdir(path);
	xpath(path, "%s/all.yaml", dir);
	unlink(path);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--run"))
		return run(argv[2], argv[3]);
	unsigned count = 10000;
	int reps = 7, cpu = 0, opt;
	const char *keep = NULL;
	while ((opt = getopt(argc, argv, "n:r:c:k:")) != -1) {
		switch (opt) {
		case 'n': count = (unsigned)atoi(optarg); break;
		case 'r': reps = atoi(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 'k': keep = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-n COUNT] [-r REPS] [-c CPU|-1] [-k DIR]\n",
			        argv[0]);
			return 2;
		}
	}
	if (reps < 1 || count < 1) {
		fprintf(stderr, "need at least one repetition and one resource\n");
		return 2;
	}
	char self[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0) {
		perror("/proc/self/exe");
		return 2;
	}
	self[sl] = '\0';
	/* one core: the children inherit the mask */
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			perror("sched_setaffinity (running unpinned)");
	}
	char dir[4096];
	if (keep) {
		snprintf(dir, sizeof(dir), "%s", keep);
		if (mkdir(dir, 0755) && errno != EEXIST) {
			perror(dir);
			return 2;
		}
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/bench-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir)) {
			perror(dir);
			return 2;
		}
	}
	size_t bytes;
	generate(dir, count, &bytes);
	char all[4096], files[4096];
	xpath(all, "%s/all.yaml", dir);
	xpath(files, "%s/files", dir);

	printf("libmesh %s, libyaml %s; %u VirtualServices, %.1f MB of YAML; %d runs each, "
	       "%s\n",
	       mesh_version(), yaml_get_version_string(), count, (double)bytes / 1e6, reps,
	       cpu >= 0 ? "pinned to one CPU" : "not pinned");
	/* warm the page cache before anything is timed */
	spawn_run(self, "yaml-multi", all);
	spawn_run(self, "yaml-files", files);

	printf("%-12s %9s %9s %9s %9s %10s\n", "", "median s", "min s", "max s", "cpu s",
	       "peak MB");
	struct stats idle = measure(self, "idle", all, 1, -1);
	struct stats lm = measure(self, "load-multi", all, reps, count);
	struct stats lf = measure(self, "load-files", files, reps, count);
	struct stats ym = measure(self, "yaml-multi", all, reps, -1);
	struct stats yf = measure(self, "yaml-files", files, reps, -1);
	struct stats an = measure(self, "analyze", all, reps, count);
	print_row("load-multi", lm);
	print_row("load-files", lf);
	print_row("yaml-multi", ym);
	print_row("yaml-files", yf);
	print_row("analyze", an);
	print_row("idle", idle);
	printf("load / libyaml floor: %.2fx (one file), %.2fx (%u files)\n", lm.med / ym.med,
	       lf.med / yf.med, count);
	/* 200 MB = 200e6 bytes; ru_maxrss is in KiB */
	long limit_kb = 200000000L / 1024;
	int ok = lm.med < 1.0 && lf.med < 1.0 && lm.rss_kb < limit_kb && lf.rss_kb < limit_kb;
	printf("target (< 1 s, < 200 MB peak RSS): %s\n", ok ? "met" : "MISSED");
	if (!keep)
		remove_tree(dir);
	else
		printf("inputs kept in %s\n", dir);
	return ok ? 0 : 1;
}
