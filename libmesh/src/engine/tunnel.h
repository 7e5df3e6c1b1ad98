/* tunnel.h - byte relays between two sockets (tunnel.c). */
#ifndef MESH_SRC_ENGINE_TUNNEL_H
#define MESH_SRC_ENGINE_TUNNEL_H

#include "engine_int.h"

/*
 * Relay bytes between sockets @a and @b (each with its TLS session
 * @ssl_a / @ssl_b, handshake done, or NULL) until both directions have ended
 * (half-closes are passed on) or @idle_ms passes without traffic. The
 * tunnel owns both sockets (and TLS sessions) from now on and closes them. @to_b / @to_a are
 * bytes already read that go first (at most one block each). @on_close,
 * if set, is called once at the end with @ud. Returns 0, MESH_ENOMEM or
 * MESH_ELIMIT (and then both sockets are closed already).
 */
int mesh__tunnel_start(struct mesh__worker *w, int a, SSL *ssl_a, int b, SSL *ssl_b,
                       const void *to_b, size_t to_b_len, const void *to_a, size_t to_a_len,
                       int64_t idle_ms, void (*on_close)(void *ud), void *ud);

#endif
