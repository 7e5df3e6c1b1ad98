/*
 * tcp.c - TCP listeners: each accepted connection is routed (an UPSTREAM
 * listener asks the router for the service's tcp route; an inbound one
 * goes to the app), connected to an endpoint, and relayed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tunnel.h"

struct tcp_conn {
	struct mesh__worker *w;
	struct mesh__wsnap *ws;
	const mesh_cluster *cluster;
	int ep;
};

static void on_close(void *ud)
{
	struct tcp_conn *c = ud;
	struct mesh__worker *w = c->w;
	if (c->cluster && c->ep >= 0)
		mesh_balancer_end(c->ws->lb, c->cluster, c->ep, MESH_OUTCOME_SUCCESS,
		                  (uint64_t)mesh__now_ms());
	mesh__wsnap_release(w, c->ws);
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_ACTIVE], -1);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_ACTIVE], -1);
	w->nconns--;
	mesh__free(c);
}

static int endpoint_sa(const mesh_cluster *cl, int ep, struct sockaddr_storage *sa, socklen_t *len)
{
	struct mesh_endpoint_info info = { .struct_size = sizeof(info) };
	if (mesh_cluster_endpoint(cl, (size_t)ep, &info) || !info.address)
		return -1;
	unsigned port = info.port ? info.port : mesh_cluster_port(cl);
	memset(sa, 0, sizeof(*sa));
	struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
	if (inet_pton(AF_INET, info.address, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, info.address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

void mesh__tcp_accept(struct mesh__listener *l, int fd)
{
	struct mesh__worker *w = l->w;
	const struct mesh__listener_cfg *lc = l->cfg;
	struct tcp_conn *c = mesh__calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->w = w;
	c->ep = -1;
	c->ws = mesh__wsnap_acquire(w);
	struct sockaddr_storage sa;
	socklen_t len = 0;
	unsigned flag = 0;
	if (lc->kind == MESH_LISTENER_INBOUND) {
		memcpy(&sa, &lc->target_sa, lc->target_len);
		len = lc->target_len;
	} else if (c->ws) {
		struct mesh_connection conn = { .struct_size = sizeof(conn), .host = lc->target };
		const mesh_route *rt;
		if (mesh_router_route_connection(c->ws->snap->router, &conn, &rt)) {
			flag = F_NR;
		} else {
			size_t idx = mesh_route_pick(rt, (uint32_t)(w->rng >> 32));
			w->rng = w->rng * 6364136223846793005ULL + 1442695040888963407ULL;
			c->cluster = mesh_route_destination(rt, idx, NULL);
			c->ep = c->cluster ? mesh_balancer_pick(c->ws->lb, c->cluster, 0,
			                                        (uint64_t)mesh__now_ms())
			                   : -1;
			if (c->ep < 0 || endpoint_sa(c->cluster, c->ep, &sa, &len))
				flag = F_UH;
			else
				mesh_balancer_begin(c->ws->lb, c->cluster, c->ep);
		}
	} else {
		flag = F_NR;
	}
	int up = -1;
	if (!flag) {
		up = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (up < 0 ||
		    (connect(up, (struct sockaddr *)&sa, len) < 0 && errno != EINPROGRESS))
			flag = F_UF;
	}
	if (flag) {
		/* no route, no endpoint or no connection: close the client at once */
		mesh__ctr_add(&w->flag_ctr[__builtin_ctz(flag)], 1);
		if (up >= 0)
			close(up);
		close(fd);
		if (c->cluster && c->ep >= 0)
			mesh_balancer_end(c->ws->lb, c->cluster, c->ep, MESH_OUTCOME_LOCAL_FAILURE,
			                  (uint64_t)mesh__now_ms());
		mesh__wsnap_release(w, c->ws);
		mesh__free(c);
		return;
	}
	int one = 1;
	setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	w->nconns++;
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_TOTAL], 1);
	mesh__ctr_add(&w->ctr[C_DOWNSTREAM_CX_ACTIVE], 1);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_TOTAL], 1);
	mesh__ctr_add(&w->ctr[C_UPSTREAM_CX_ACTIVE], 1);
	/* the tunnel reports a refused or reset connect by closing the client */
	mesh__tunnel_start(w, fd, NULL, up, NULL, NULL, 0, NULL, 0,
	                   w->proxy->opts.idle_timeout_ms * 60, on_close, c);
}
