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
	for (struct addrinfo *ai = res; ai && e->n < MESH_DNS_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
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
