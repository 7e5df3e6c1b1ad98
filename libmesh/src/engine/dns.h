/*
 * dns.h - names of DNS endpoints (ServiceEntry resolution DNS /
 * DNS_ROUND_ROBIN), resolved off the request path: a resolver thread looks
 * every wanted name up at once and then every refresh interval (Istio's
 * default 5 s), and publishes an immutable table that workers read without
 * a lock (they take a reference when its generation moves, as with the
 * identity). A name not resolved yet, or that failed, has no address: the
 * request gets 503 UH, as Envoy answers for a cluster without hosts.
 */
#ifndef MESH_SRC_ENGINE_DNS_H
#define MESH_SRC_ENGINE_DNS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <mesh/route.h>

#define MESH_DNS_MAX_ADDRS 8

struct mesh__dns;
struct mesh__dns_table;

/* Start the resolver thread; @refresh_ms 0: 5000. */
int mesh__dns_new(struct mesh__dns **out, int64_t refresh_ms);
/* Stop the thread (a lookup in progress finishes first) and free all. */
void mesh__dns_free(struct mesh__dns *d);
/* The names to keep resolved from now on (copied); new ones are looked up
 * at once. */
void mesh__dns_want(struct mesh__dns *d, const char *const *names, size_t n);

/* The current table for a worker: *@gen caches the generation it holds,
 * *@t the reference (released and re-taken when the generation moves). */
const struct mesh__dns_table *mesh__dns_current(struct mesh__dns *d, uint64_t *gen,
                                                struct mesh__dns_table **t);
void mesh__dns_table_unref(struct mesh__dns_table *t);

/* An address of @name from @t with @port set; @pick rotates among several.
 * Returns 0, or -1 when the name has no address (yet). */
int mesh__dns_lookup(const struct mesh__dns_table *t, const char *name, unsigned port,
                     uint32_t pick, struct sockaddr_storage *sa, socklen_t *len);

struct mesh__worker;
/* The address of endpoint @ep of @c (an IP literal, or a DNS name from the
 * resolver's table), its port set; @key (optional) receives "IP:port", the
 * upstream pool key. Returns 0 or -1 (no address). */
int mesh__endpoint_sockaddr(struct mesh__worker *w, const mesh_cluster *c, int ep,
                            struct sockaddr_storage *sa, socklen_t *len, char *key,
                            size_t key_size);
/* Whether any endpoint of @r is a DNS name. */
bool mesh__router_has_dns(const mesh_router *r);
/* Keep the DNS names among @r's endpoints resolved. */
void mesh__dns_want_router(struct mesh__dns *d, const mesh_router *r);

/* Resolution counters, for /stats: lookups done, lookups failed. */
void mesh__dns_counts(struct mesh__dns *d, uint64_t *ok, uint64_t *failed);

#endif
