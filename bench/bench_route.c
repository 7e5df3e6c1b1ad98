/*
 * bench_route.c - route decisions over a table of 10,000 VirtualServices
 * (3 routes each: exact, prefix and regex header matches), and the time to
 * build that table. Baseline in the same run: the bare host hash lookup
 * that any router pays (a request for a host with one catch-all route).
 *
 *   build/bench/bench_route [N_VS] [ROUNDS]
 */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mesh/mesh.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static char *generate(int n, size_t *len)
{
	size_t cap = (size_t)n * 1200 + 1024;
	char *buf = malloc(cap);
	size_t off = 0;
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(
			buf + off, cap - off,
			"---\n"
			"apiVersion: networking.istio.io/v1\n"
			"kind: VirtualService\n"
			"metadata: {name: svc-%d}\n"
			"spec:\n"
			"  hosts: [svc-%d]\n"
			"  http:\n"
			"  - match: [{headers: {x-user: {exact: user-%d}}}]\n"
			"    route: [{destination: {host: svc-%d, subset: v2}}]\n"
			"  - match: [{uri: {prefix: /api/v%d/}, headers: {x-tenant: {prefix: t%d-}}}]\n"
			"    route:\n"
			"    - {destination: {host: svc-%d, subset: v1}, weight: 90}\n"
			"    - {destination: {host: svc-%d, subset: v3}, weight: 10}\n"
			"  - match: [{headers: {cookie: {regex: \"^(.*?;)?(user=u%d)(;.*)?$\"}}}]\n"
			"    route: [{destination: {host: svc-%d, subset: v3}}]\n"
			"    timeout: 2s\n",
			i, i, i, i, i % 7, i % 13, i, i, i, i);
	off += (size_t)snprintf(buf + off, cap - off,
	                        "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
	                        "metadata: {name: plain}\nspec:\n  hosts: [plain]\n  http:\n"
	                        "  - route: [{destination: {host: plain}}]\n");
	*len = off;
	return buf;
}

struct stats {
	double median, p99;
};

/* ns per decision: ROUNDS batches of BATCH requests; median and p99 of
 * the batch means, and p99 of single decisions from a timed sample. */
static struct stats run(const mesh_router *r, mesh_route_scratch *s, struct mesh_request *reqs,
                        size_t nreq, int rounds, size_t *hits)
{
	const size_t batch = 1000;
	double *means = malloc(sizeof(double) * (size_t)rounds);
	double *single = malloc(sizeof(double) * (size_t)rounds * 64);
	size_t ns = 0, idx = 0;
	*hits = 0;
	for (int k = 0; k < rounds; k++) {
		double t0 = now_ns();
		for (size_t i = 0; i < batch; i++) {
			const mesh_route *rt;
			*hits += mesh_router_route(r, &reqs[idx], s, &rt) == 0;
			idx = (idx + 1) % nreq;
		}
		means[k] = (now_ns() - t0) / batch;
		for (int j = 0; j < 64; j++) {
			const mesh_route *rt;
			double t1 = now_ns();
			mesh_router_route(r, &reqs[idx], s, &rt);
			single[ns++] = now_ns() - t1;
			idx = (idx + 1) % nreq;
		}
	}
	qsort(means, (size_t)rounds, sizeof(double), cmp_double);
	qsort(single, ns, sizeof(double), cmp_double);
	struct stats st = { means[rounds / 2], single[(size_t)(ns * 0.99)] };
	free(means);
	free(single);
	return st;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	int rounds = argc > 2 ? atoi(argv[2]) : 2000;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);

	size_t len;
	char *yaml = generate(n, &len);
	mesh_config *cfg;
	mesh_diag *d;
	mesh_config_new(&cfg);
	mesh_diag_new(&d);
	if (mesh_config_load_buffer(cfg, "bench.yaml", yaml, len, d)) {
		fprintf(stderr, "config did not load: %s\n", mesh_diag_message(d, 0));
		return 1;
	}
	/* build time: median of 5 */
	double builds[5];
	mesh_router *r = NULL;
	for (int i = 0; i < 5; i++) {
		mesh_router_unref(r);
		double t0 = now_ns();
		if (mesh_router_new(cfg, NULL, NULL, &r, NULL)) {
			fprintf(stderr, "router build failed\n");
			return 1;
		}
		builds[i] = (now_ns() - t0) / 1e6;
	}
	qsort(builds, 5, sizeof(double), cmp_double);

	/* a request mix: each kind of route, misses, and the baseline host */
	enum { NREQ = 4096 };
	static struct mesh_request reqs[NREQ], base[NREQ];
	static struct mesh_header hdrs[NREQ][2];
	static char hosts[NREQ][32], vals[NREQ][64], paths[NREQ][32];
	srand(42);
	for (int i = 0; i < NREQ; i++) {
		int v = rand() % n;
		snprintf(hosts[i], sizeof(hosts[i]), "svc-%d", v);
		int kind = i % 4;
		struct mesh_request *q = &reqs[i];
		memset(q, 0, sizeof(*q));
		q->struct_size = sizeof(*q);
		q->authority = hosts[i];
		q->headers = hdrs[i];
		q->path = "/";
		if (kind == 0) {
			snprintf(vals[i], sizeof(vals[i]), "user-%d", v);
			hdrs[i][0] = (struct mesh_header){ "x-user", vals[i] };
			q->nheaders = 1;
		} else if (kind == 1) {
			snprintf(paths[i], sizeof(paths[i]), "/api/v%d/items", v % 7);
			snprintf(vals[i], sizeof(vals[i]), "t%d-acme", v % 13);
			q->path = paths[i];
			hdrs[i][0] = (struct mesh_header){ "x-tenant", vals[i] };
			q->nheaders = 1;
		} else if (kind == 2) {
			snprintf(vals[i], sizeof(vals[i]), "session=abc;user=u%d;theme=dark", v);
			hdrs[i][0] = (struct mesh_header){ "accept", "*/*" };
			hdrs[i][1] = (struct mesh_header){ "cookie", vals[i] };
			q->nheaders = 2;
		} else {
			snprintf(vals[i], sizeof(vals[i]), "session=abc;user=nobody");
			hdrs[i][0] = (struct mesh_header){ "cookie", vals[i] };
			q->nheaders = 1; /* no route matches: all three are tried */
		}
		base[i] = (struct mesh_request){ .struct_size = sizeof(base[i]),
			                         .authority = "plain",
			                         .path = "/" };
	}
	mesh_route_scratch *s;
	mesh_route_scratch_new(&s);
	size_t hits, bhits;
	run(r, s, reqs, NREQ, 200, &hits); /* warm up */
	struct stats st = run(r, s, reqs, NREQ, rounds, &hits);
	struct stats bt = run(r, s, base, NREQ, rounds, &bhits);
	printf("virtual services: %d (3 routes each; exact, prefix+prefix, regex header matches)\n",
	       n);
	printf("table build: median %.1f ms of 5 (target < 500 ms)\n", builds[2]);
	printf("route decision: median %.0f ns, p99 %.0f ns (targets < 300 ns, < 2000 ns); "
	       "%.0f%% of requests matched a route\n",
	       st.median, st.p99, 100.0 * hits / ((double)rounds * 1000));
	printf("baseline (host lookup + catch-all route): median %.0f ns, p99 %.0f ns; "
	       "ratio %.2f\n",
	       bt.median, bt.p99, st.median / bt.median);
	mesh_route_scratch_free(s);
	mesh_router_unref(r);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
	free(yaml);
	return 0;
}
