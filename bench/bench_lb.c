/*
 * bench_lb.c - nanoseconds per endpoint pick among 1,000 endpoints for
 * each load-balancing policy: median and p99 over batches, on one core.
 *
 * Usage: bench_lb [--endpoints N] [--batches B] [--batch K] [--cpu C] [--check]
 *
 * Each batch times K picks with CLOCK_MONOTONIC and records the mean ns
 * per pick; the figures are the median and 99th percentile of those batch
 * means (a single pick is too short to time on its own). With --check the
 * exit status is 1 when a figure misses its target (issue 3: round robin
 * and P2C under 100 ns, Maglev under 200 ns).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mesh/lb.h>

#include "core/core.h"
#include "lb/lb_int.h"

static unsigned n_endpoints = 1000, n_batches = 20000, batch = 100;
static volatile int sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static struct mesh_cluster *mk_cluster(int policy, bool weighted)
{
	struct mesh_cluster *c = mesh__calloc(1, sizeof(*c));
	c->port = 8080;
	mesh__lb_settings_default(&c->lb);
	c->lb.policy = (uint8_t)policy;
	c->eps = mesh__calloc(n_endpoints, sizeof(*c->eps));
	c->neps = n_endpoints;
	for (unsigned i = 0; i < n_endpoints; i++) {
		char a[32];
		snprintf(a, sizeof(a), "10.%u.%u.%u", i / 65536, i / 256 % 256, i % 256);
		c->eps[i].address = mesh__strdup(a);
		c->eps[i].weight = weighted ? 1 + i % 7 : 0;
	}
	return c;
}

enum mode { PICK, PICK_BEGIN_END, HASH_HEADER, PICK_EJECTED };

#define NKEYS 65536 /* distinct hash keys, so that table reads are not all cached */

struct result {
	const char *name;
	double median, p99, target, build_ms;
};

static struct result run(const char *name, int policy, bool weighted, enum mode mode, double target)
{
	struct result r = { name, 0, 0, target, 0 };
	struct mesh_cluster *c = mk_cluster(policy, weighted);
	const struct mesh_cluster *cl[1] = { c };
	mesh_balancer *b;
	static uint64_t keys[NKEYS];
	char vals[4096][24];
	struct mesh_header hdr[3] = { { "user-agent", "curl/8" },
		                      { "accept", "*/*" },
		                      { "x-user", NULL } };
	struct mesh_request req = { sizeof(req), .path = "/", .headers = hdr, .nheaders = 3 };
	double *per = malloc(n_batches * sizeof(*per));

	c->lb.hash_on = MESH_HASH_HEADER;
	c->lb.hash_name = "x-user";
	c->lb.outlier = mode == PICK_EJECTED;
	uint64_t t0 = now_ns();
	if (mesh__cluster_prepare(c) || mesh__balancer_new_for(cl, 1, &b) || !per) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	r.build_ms = (double)(now_ns() - t0) / 1e6;
	mesh_balancer_seed(b, 1);
	for (unsigned i = 0; i < NKEYS; i++) {
		char v[24];
		snprintf(v, sizeof(v), "user-%u", i * 7919u);
		keys[i] = mesh__hash64(v, strlen(v), 0);
		if (i < 4096)
			memcpy(vals[i], v, sizeof(v));
	}
	if (mode == PICK_EJECTED) {
		/* 10% of the endpoints out (maxEjectionPercent 10) */
		for (unsigned i = 0; i < n_endpoints; i += 10)
			for (int k = 0; k < 5; k++)
				mesh_balancer_end(b, c, (int)i, MESH_OUTCOME_HTTP_5XX, 1);
	}
	/* some requests in flight, so least request has counts to compare */
	for (unsigned i = 0; i < n_endpoints; i++)
		for (unsigned k = 0; k < (i * 2654435761u >> 7) % 4; k++)
			mesh_balancer_begin(b, c, (int)i);

	unsigned ki = 0;
	int acc = 0;
	for (unsigned w = 0; w < 200000; w++) /* warm up */
		acc ^= mesh_balancer_pick(b, c, keys[w % NKEYS], 1);
	for (unsigned j = 0; j < n_batches; j++) {
		uint64_t s = now_ns();
		switch (mode) {
		case PICK:
		case PICK_EJECTED:
			for (unsigned i = 0; i < batch; i++)
				acc ^= mesh_balancer_pick(b, c, keys[ki++ % NKEYS], 1);
			break;
		case PICK_BEGIN_END:
			for (unsigned i = 0; i < batch; i++) {
				int ep = mesh_balancer_pick(b, c, 0, 1);
				mesh_balancer_begin(b, c, ep);
				mesh_balancer_end(b, c, ep, MESH_OUTCOME_SUCCESS, 1);
				acc ^= ep;
			}
			break;
		case HASH_HEADER:
			for (unsigned i = 0; i < batch; i++) {
				hdr[2].value = vals[ki++ & 4095];
				uint64_t h = mesh_balancer_hash_request(c, &req, NULL);
				acc ^= mesh_balancer_pick(b, c, h, 1);
			}
			break;
		}
		per[j] = (double)(now_ns() - s) / batch;
	}
	sink = acc;
	qsort(per, n_batches, sizeof(*per), cmp_double);
	r.median = per[n_batches / 2];
	r.p99 = per[(size_t)((double)n_batches * 0.99)];
	free(per);
	mesh_balancer_free(b);
	mesh__cluster_fini(c);
	mesh__free(c);
	return r;
}

int main(int argc, char **argv)
{
	int cpu = -1;
	bool check = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--endpoints") && i + 1 < argc)
			n_endpoints = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--batches") && i + 1 < argc)
			n_batches = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--cpu") && i + 1 < argc)
			cpu = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--check"))
			check = true;
		else {
			fprintf(stderr,
			        "usage: %s [--endpoints N] [--batches B] [--batch K] "
			        "[--cpu C] [--check]\n",
			        argv[0]);
			return 2;
		}
	}
	if (!n_endpoints || !n_batches || !batch)
		return 2;

	/* one core, so that the figures are one core's */
	cpu_set_t set;
	if (cpu < 0)
		cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(cpu >= 0 ? cpu : 0, &set);
	bool pinned = sched_setaffinity(0, sizeof(set), &set) == 0;

	struct result rs[] = {
		run("round robin", MESH_LB_ROUND_ROBIN, false, PICK, 100),
		run("round robin, weighted (EDF)", MESH_LB_ROUND_ROBIN, true, PICK, 0),
		run("least request (P2C)", MESH_LB_LEAST_REQUEST, false, PICK, 100),
		run("least request, weighted (EDF)", MESH_LB_LEAST_REQUEST, true, PICK, 0),
		run("P2C pick+begin+end", MESH_LB_LEAST_REQUEST, false, PICK_BEGIN_END, 0),
		run("random", MESH_LB_RANDOM, false, PICK, 0),
		run("random, weighted (alias)", MESH_LB_RANDOM, true, PICK, 0),
		run("ring hash", MESH_LB_RING_HASH, false, PICK, 0),
		run("maglev", MESH_LB_MAGLEV, false, PICK, 200),
		run("maglev, weighted", MESH_LB_MAGLEV, true, PICK, 200),
		run("maglev + header hash", MESH_LB_MAGLEV, false, HASH_HEADER, 0),
		run("round robin, 10% ejected", MESH_LB_ROUND_ROBIN, false, PICK_EJECTED, 0),
		run("least request (P2C), 10% ejected", MESH_LB_LEAST_REQUEST, false, PICK_EJECTED,
		    0),
		run("maglev, 10% ejected", MESH_LB_MAGLEV, false, PICK_EJECTED, 0),
	};
	int missed = 0;
	printf("endpoint pick among %u endpoints, %u batches of %u picks, %s cpu %d\n", n_endpoints,
	       n_batches, batch, pinned ? "pinned to" : "NOT pinned, on", cpu);
	printf("%-32s %10s %10s %8s %10s\n", "policy", "median ns", "p99 ns", "target", "build ms");
	for (size_t i = 0; i < MESH_ARRAY_LEN(rs); i++) {
		const struct result *r = &rs[i];
		char target[16] = "-";
		if (r->target > 0) {
			bool ok = r->median < r->target;
			snprintf(target, sizeof(target), "%s%.0f", ok ? "<" : "MISS ", r->target);
			missed += !ok;
		}
		printf("%-32s %10.1f %10.1f %8s %10.2f\n", r->name, r->median, r->p99, target,
		       r->build_ms);
	}
	return check && missed ? 1 : 0;
}
