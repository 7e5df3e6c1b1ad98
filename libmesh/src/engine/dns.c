/*
 * dns.c - the resolver thread for DNS endpoints (see dns.h). getaddrinfo()
 * blocks, so it runs here and never on a worker or the main loop; a table
 * is rebuilt whole after each round and swapped in, the old one freed when
 * the last worker lets go of it.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/core.h"
#include "dns.h"
#include "engine_int.h"

struct entry {
	char *name;
	struct sockaddr_storage sa[MESH_DNS_MAX_ADDRS];
	socklen_t len[MESH_DNS_MAX_ADDRS];
	unsigned n;
};

struct mesh__dns_table {
	atomic_int refs;
	struct entry *e; /* sorted by name */
	size_t n;
};

struct mesh__dns {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, changed;
	char **want; /* under mu */
	size_t nwant;
	int64_t refresh_ms;
	struct mesh__dns_table *cur; /* under mu; the thread replaces it */
	_Atomic uint64_t gen;
	_Atomic uint64_t ok, failed;
};

void mesh__dns_table_unref(struct mesh__dns_table *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	for (size_t i = 0; i < t->n; i++)
		mesh__free(t->e[i].name);
	mesh__free(t->e);
	mesh__free(t);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static void resolve(struct mesh__dns *d, struct entry *e)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	struct addrinfo *res = NULL;
	e->n = 0;
	if (getaddrinfo(e->name, NULL, &hints, &res) != 0) {
		atomic_fetch_add(&d->failed, 1);
		return;
	}
	/* IPv4 addresses when there are any, else IPv6: Istio's V4_PREFERRED
	 * lookup family */
	for (int fam = AF_INET; fam && !e->n; fam = fam == AF_INET ? AF_INET6 : 0)
		for (struct addrinfo *ai = res; ai && e->n < MESH_DNS_MAX_ADDRS; ai = ai->ai_next) {
			if (ai->ai_family != fam)
				continue;
			memcpy(&e->sa[e->n], ai->ai_addr, ai->ai_addrlen);
			e->len[e->n] = (socklen_t)ai->ai_addrlen;
			e->n++;
		}
	freeaddrinfo(res);
	atomic_fetch_add(e->n ? &d->ok : &d->failed, 1);
}

static void *thread_main(void *arg)
{
	struct mesh__dns *d = arg;
	pthread_mutex_lock(&d->mu);
	while (!d->stop) {
		/* a round over a copy of the wanted names, lock released */
		size_t n = d->nwant;
		struct entry *e = n ? mesh__calloc(n, sizeof(*e)) : NULL;
		for (size_t i = 0; e && i < n; i++)
			e[i].name = mesh__strdup(d->want[i]);
		d->changed = false;
		pthread_mutex_unlock(&d->mu);
		struct mesh__dns_table *t = mesh__calloc(1, sizeof(*t));
		for (size_t i = 0; e && i < n; i++)
			if (e[i].name)
				resolve(d, &e[i]);
		if (t) {
			atomic_init(&t->refs, 1);
			t->e = e;
			t->n = e ? n : 0;
			if (t->n)
				qsort(t->e, t->n, sizeof(*t->e), cmp_entry);
		} else if (e) {
			for (size_t i = 0; i < n; i++)
				mesh__free(e[i].name);
			mesh__free(e);
		}
		pthread_mutex_lock(&d->mu);
		if (t) {
			struct mesh__dns_table *old = d->cur;
			d->cur = t;
			atomic_fetch_add(&d->gen, 1);
			mesh__dns_table_unref(old);
		}
		if (d->stop || d->changed)
			continue;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += d->refresh_ms / 1000;
		until.tv_nsec += (d->refresh_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (!d->stop && !d->changed &&
		       pthread_cond_timedwait(&d->cv, &d->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

int mesh__dns_new(struct mesh__dns **out, int64_t refresh_ms)
{
	struct mesh__dns *d = mesh__calloc(1, sizeof(*d));
	if (!d)
		return MESH_ENOMEM;
	d->refresh_ms = refresh_ms > 0 ? refresh_ms : 5000;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (pthread_create(&d->thread, NULL, thread_main, d)) {
		pthread_mutex_destroy(&d->mu);
		pthread_cond_destroy(&d->cv);
		mesh__free(d);
		return MESH_EIO;
	}
	*out = d;
	return 0;
}

void mesh__dns_free(struct mesh__dns *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	for (size_t i = 0; i < d->nwant; i++)
		mesh__free(d->want[i]);
	mesh__free(d->want);
	mesh__dns_table_unref(d->cur);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	mesh__free(d);
}

void mesh__dns_want(struct mesh__dns *d, const char *const *names, size_t n)
{
	char **copy = n ? mesh__calloc(n, sizeof(char *)) : NULL;
	size_t k = 0;
	for (size_t i = 0; copy && i < n; i++)
		if ((copy[k] = mesh__strdup(names[i])))
			k++;
	if (k < n) { /* out of memory: keep resolving the names it has */
		for (size_t i = 0; i < k; i++)
			mesh__free(copy[i]);
		mesh__free(copy);
		return;
	}
	pthread_mutex_lock(&d->mu);
	bool same = k == d->nwant;
	for (size_t i = 0; same && i < k; i++)
		same = !strcmp(copy[i], d->want[i]);
	if (same) {
		pthread_mutex_unlock(&d->mu);
		for (size_t i = 0; i < k; i++)
			mesh__free(copy[i]);
		mesh__free(copy);
		return;
	}
	char **old = d->want;
	size_t nold = d->nwant;
	d->want = copy;
	d->nwant = k;
	d->changed = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	for (size_t i = 0; i < nold; i++)
		mesh__free(old[i]);
	mesh__free(old);
}

const struct mesh__dns_table *mesh__dns_current(struct mesh__dns *d, uint64_t *gen,
                                                struct mesh__dns_table **t)
{
	uint64_t g = atomic_load_explicit(&d->gen, memory_order_acquire);
	if (g != *gen || !*t) {
		pthread_mutex_lock(&d->mu);
		struct mesh__dns_table *n = d->cur;
		if (n)
			atomic_fetch_add(&n->refs, 1);
		g = atomic_load(&d->gen);
		pthread_mutex_unlock(&d->mu);
		mesh__dns_table_unref(*t);
		*t = n;
		*gen = g;
	}
	return *t;
}

int mesh__dns_lookup(const struct mesh__dns_table *t, const char *name, unsigned port,
                     uint32_t pick, struct sockaddr_storage *sa, socklen_t *len)
{
	if (!t || !t->n)
		return -1;
	struct entry key = { .name = (char *)name };
	const struct entry *e = bsearch(&key, t->e, t->n, sizeof(*t->e), cmp_entry);
	if (!e || !e->n)
		return -1;
	unsigned i = pick % e->n;
	memcpy(sa, &e->sa[i], e->len[i]);
	*len = e->len[i];
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
	return 0;
}

void mesh__dns_counts(struct mesh__dns *d, uint64_t *ok, uint64_t *failed)
{
	*ok = d ? atomic_load(&d->ok) : 0;
	*failed = d ? atomic_load(&d->failed) : 0;
}

int mesh__endpoint_sockaddr(struct mesh__worker *w, const mesh_cluster *c, int ep,
                            struct sockaddr_storage *sa, socklen_t *len, char *key, size_t key_size)
{
	struct mesh_endpoint_info info = { .struct_size = sizeof(info) };
	if (mesh_cluster_endpoint(c, (size_t)ep, &info) || !info.address)
		return -1;
	memset(sa, 0, sizeof(*sa));
	struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
	unsigned port = info.port ? info.port : mesh_cluster_port(c);
	if (inet_pton(AF_INET, info.address, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, info.address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
	} else {
		/* a DNS name: the resolver thread's latest answer */
		struct mesh_proxy *p = w->proxy;
		const struct mesh__dns_table *t =
			p->dns ? mesh__dns_current(p->dns, &w->dns_gen, &w->dns_table) : NULL;
		w->rng = w->rng * 6364136223846793005ULL + 1442695040888963407ULL;
		if (mesh__dns_lookup(t, info.address, port, (uint32_t)(w->rng >> 33), sa, len)) {
			mesh__log(MESH_LOG_DEBUG, "endpoint %s: no address (DNS)", info.address);
			return -1;
		}
		if (key) {
			char ip[INET6_ADDRSTRLEN] = "?";
			const void *a = sa->ss_family == AF_INET ? (const void *)&in4->sin_addr
			                                         : (const void *)&in6->sin6_addr;
			inet_ntop(sa->ss_family, a, ip, sizeof(ip));
			snprintf(key, key_size, "%s:%u", ip, port);
		}
		return 0;
	}
	if (key) {
		size_t n = strlen(info.address);
		if (n + 22 <= key_size) { /* per request: no snprintf */
			memcpy(key, info.address, n);
			key[n] = ':';
			mesh__fmt_u64(key + n + 1, port);
		} else {
			snprintf(key, key_size, "%s:%u", info.address, port);
		}
	}
	return 0;
}

static bool is_ip(const char *a)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, a, buf) == 1 || inet_pton(AF_INET6, a, buf) == 1;
}

bool mesh__router_has_dns(const mesh_router *r)
{
	for (size_t i = 0; i < mesh_router_cluster_count(r); i++) {
		const mesh_cluster *c = mesh_router_cluster_at(r, i);
		for (size_t e = 0; e < mesh_cluster_endpoint_count(c); e++) {
			struct mesh_endpoint_info info = { .struct_size = sizeof(info) };
			if (!mesh_cluster_endpoint(c, e, &info) && info.address &&
			    !is_ip(info.address))
				return true;
		}
	}
	return false;
}

/* Every DNS name among the endpoints of @r's clusters, sorted, once each. */
void mesh__dns_want_router(struct mesh__dns *d, const mesh_router *r)
{
	size_t cap = 0, n = 0;
	const char **names = NULL;
	for (size_t i = 0; i < mesh_router_cluster_count(r); i++) {
		const mesh_cluster *c = mesh_router_cluster_at(r, i);
		for (size_t e = 0; e < mesh_cluster_endpoint_count(c); e++) {
			struct mesh_endpoint_info info = { .struct_size = sizeof(info) };
			if (mesh_cluster_endpoint(c, e, &info) || !info.address ||
			    is_ip(info.address))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				const char **g = mesh__realloc(names, nc * sizeof(*names));
				if (!g)
					goto out;
				names = g;
				cap = nc;
			}
			names[n++] = info.address;
		}
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!k || strcmp(names[k - 1], names[i]))
			names[k++] = names[i];
	mesh__dns_want(d, names, k);
out:
	mesh__free(names);
}
