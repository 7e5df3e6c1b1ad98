/*
 * explain.c - mesh_router_explain(): why a request goes where it goes, for
 * meshctl route and admin pages. Clarity over speed.
 */
#include <stdio.h>
#include <string.h>

#include "route_int.h"

struct out {
	struct mesh__sb sb;
	bool json;
};

/* Appends one condition, comma-separated from what follows @start. */
static void describe_strmatch(struct mesh__sb *sb, size_t start, const char *what,
                              const struct strmatch *m)
{
	static const char *const kinds[] = { "any", "exact", "prefix", "regex", "present" };
	if (m->kind == SM_ANY)
		return;
	if (sb->len > start)
		mesh__sb_puts(sb, ", ");
	if (m->kind == SM_PRESENT)
		mesh__sb_printf(sb, "%s present", what);
	else
		mesh__sb_printf(sb, "%s %s \"%s\"%s", what, kinds[m->kind], m->value,
		                m->icase ? " (ignoring case)" : "");
}

/* One line per match block: "uri prefix \"/a\", header cookie regex ..." */
static void describe_block(struct mesh__sb *sb, const struct match_block *m)
{
	size_t start = sb->len;
	describe_strmatch(sb, start, "uri", &m->uri);
	describe_strmatch(sb, start, "scheme", &m->scheme);
	describe_strmatch(sb, start, "method", &m->method);
	describe_strmatch(sb, start, "authority", &m->authority);
	char what[300];
	for (size_t i = 0; i < m->nheaders; i++) {
		snprintf(what, sizeof(what), "%sheader %s", m->headers[i].absent ? "without " : "",
		         m->headers[i].name);
		if (m->headers[i].m.kind == SM_PRESENT || m->headers[i].m.kind == SM_ANY) {
			if (sb->len > start)
				mesh__sb_puts(sb, ", ");
			mesh__sb_printf(sb, "%s present", what);
		} else {
			describe_strmatch(sb, start, what, &m->headers[i].m);
		}
	}
	for (size_t i = 0; i < m->nquery; i++) {
		snprintf(what, sizeof(what), "query %s", m->query[i].name);
		describe_strmatch(sb, start, what, &m->query[i].m);
	}
	if (m->port)
		mesh__sb_printf(sb, "%sport %u", sb->len > start ? ", " : "", m->port);
	for (size_t i = 0; m->src_labels && m->src_labels[i]; i += 2)
		mesh__sb_printf(sb, "%ssource label %s=%s", sb->len > start ? ", " : "",
		                m->src_labels[i], m->src_labels[i + 1]);
	if (m->src_name)
		mesh__sb_printf(sb, "%ssource service %s", sb->len > start ? ", " : "",
		                m->src_name);
	if (m->src_ns)
		mesh__sb_printf(sb, "%ssource namespace %s", sb->len > start ? ", " : "",
		                m->src_ns);
	for (size_t i = 0; m->gateways && i < m->ngateways; i++)
		mesh__sb_printf(sb, "%sgateway %s", sb->len > start ? ", " : "", m->gateways[i]);
	if (sb->len == start)
		mesh__sb_puts(sb, "everything");
}

static void origin(struct mesh__sb *sb, const struct mesh_route *rt)
{
	if (!rt->rule) {
		mesh__sb_puts(sb, "default route of the service");
		return;
	}
	mesh__sb_printf(sb, "%s %s/%s", rt->rule->kind_name, rt->rule->ns, rt->rule->name);
	if (rt->name)
		mesh__sb_printf(sb, " route \"%s\"", rt->name);
	mesh__sb_printf(sb, " (%s:%u)", rt->rule->file, rt->line);
}

static void text_cluster(struct mesh__sb *sb, const struct mesh_cluster *c)
{
	mesh__sb_printf(sb, "%s", c->host);
	if (c->subset)
		mesh__sb_printf(sb, " subset %s", c->subset);
	if (c->port)
		mesh__sb_printf(sb, " port %u", c->port);
	mesh__sb_printf(sb, " [cluster %s, %zu endpoint%s]", c->name, c->neps,
	                c->neps == 1 ? "" : "s");
}

/* How the sidecar secures connections to @c: a DestinationRule's tls mode,
 * else automatic mTLS endpoint by endpoint (mesh__cluster_up_tls). */
struct tls_view {
	const char *mode;  /* DISABLE, SIMPLE, MUTUAL or ISTIO_MUTUAL */
	const char *src;   /* "DestinationRule NS/NAME" or "auto" */
	bool from_dr;      /* a DestinationRule sets the mode */
	const char *off;   /* auto: why it is off, or NULL */
	size_t mtls, neps; /* auto: endpoints reached with ISTIO_MUTUAL, of neps */
	char buf[512];
};

static void tls_view(const struct mesh_cluster *c, struct tls_view *v)
{
	static const char *const modes[] = { "DISABLE", "DISABLE", "SIMPLE", "MUTUAL",
		                             "ISTIO_MUTUAL" };
	*v = (struct tls_view){ .mode = "DISABLE", .src = "auto", .neps = c->neps };
	if (c->lb.tls_mode > 0 && c->lb.tls_mode < (int)MESH_ARRAY_LEN(modes)) {
		v->mode = modes[c->lb.tls_mode];
		snprintf(v->buf, sizeof(v->buf), "DestinationRule %s/%s", c->dr ? c->dr->ns : "?",
		         c->dr ? c->dr->name : "?");
		v->src = v->buf;
		v->from_dr = true;
		return;
	}
	v->off = c->no_auto_mtls;
	for (size_t i = 0; i < c->neps; i++)
		v->mtls += mesh__cluster_up_tls(c, (int)i) == MESH__UP_ISTIO_MUTUAL;
	if (v->mtls)
		v->mode = "ISTIO_MUTUAL";
}

static void text_tls(struct mesh__sb *sb, const struct mesh_cluster *c)
{
	struct tls_view v;
	tls_view(c, &v);
	if (v.from_dr)
		mesh__sb_printf(sb, "    tls: %s (%s)\n", v.mode, v.src);
	else if (v.off)
		mesh__sb_printf(sb, "    tls: DISABLE (auto-mTLS off: %s)\n", v.off);
	else if (!v.neps)
		mesh__sb_puts(sb, "    tls: auto (no endpoints)\n");
	else if (v.mtls == v.neps)
		mesh__sb_puts(sb, "    tls: ISTIO_MUTUAL (auto)\n");
	else if (!v.mtls)
		mesh__sb_puts(sb, "    tls: DISABLE (auto: no endpoint is a mesh workload)\n");
	else
		mesh__sb_printf(sb,
		                "    tls: ISTIO_MUTUAL to %zu of %zu endpoints, DISABLE to the "
		                "others (auto)\n",
		                v.mtls, v.neps);
}

static void text_action(struct mesh__sb *sb, const struct mesh_route *rt)
{
	switch (rt->action) {
	case MESH_ACTION_REDIRECT:
		mesh__sb_printf(sb, "  redirect: %d", rt->redirect.code);
		if (rt->redirect.scheme)
			mesh__sb_printf(sb, " scheme %s", rt->redirect.scheme);
		if (rt->redirect.authority)
			mesh__sb_printf(sb, " authority %s", rt->redirect.authority);
		if (rt->redirect.port)
			mesh__sb_printf(sb, " port %u", rt->redirect.port);
		if (rt->redirect.uri)
			mesh__sb_printf(sb, " uri %s", rt->redirect.uri);
		mesh__sb_putc(sb, '\n');
		break;
	case MESH_ACTION_DIRECT_RESPONSE:
		mesh__sb_printf(sb, "  direct response: %d%s%s\n", rt->direct_status,
		                rt->direct_body ? " body " : "",
		                rt->direct_body ? rt->direct_body : "");
		break;
	default:
		for (size_t i = 0; i < rt->ndests; i++) {
			mesh__sb_printf(sb, "  destination: ");
			text_cluster(sb, rt->dests[i].cluster);
			mesh__sb_printf(sb, " weight %u\n", rt->dests[i].weight);
			text_tls(sb, rt->dests[i].cluster);
		}
		break;
	}
	if (rt->rewrite_uri || rt->rewrite_authority)
		mesh__sb_printf(sb, "  rewrite:%s%s%s%s\n", rt->rewrite_uri ? " uri " : "",
		                rt->rewrite_uri ? rt->rewrite_uri : "",
		                rt->rewrite_authority ? " authority " : "",
		                rt->rewrite_authority ? rt->rewrite_authority : "");
	if (rt->timeout_ms)
		mesh__sb_printf(sb, "  timeout: %lldms\n", (long long)rt->timeout_ms);
	else
		mesh__sb_puts(sb, "  timeout: none\n");
	if (rt->retry.attempts)
		mesh__sb_printf(sb, "  retries: %u attempts%s on %s\n", rt->retry.attempts,
		                rt->retry.per_try_timeout_ms ? ", per try timeout set" : "",
		                rt->retry.retry_on ? rt->retry.retry_on : "");
	else
		mesh__sb_puts(sb, "  retries: none\n");
	if (rt->has_fault) {
		if (rt->fault.delay_ms)
			mesh__sb_printf(sb, "  fault: delay %lldms for %g%% of requests\n",
			                (long long)rt->fault.delay_ms, rt->fault.delay_percent);
		if (rt->fault.abort_http_status)
			mesh__sb_printf(sb, "  fault: abort with HTTP %d for %g%% of requests\n",
			                rt->fault.abort_http_status, rt->fault.abort_percent);
		if (rt->fault.abort_grpc_status >= 0)
			mesh__sb_printf(sb,
			                "  fault: abort with gRPC status %d for %g%% of requests\n",
			                rt->fault.abort_grpc_status, rt->fault.abort_percent);
	}
	for (size_t i = 0; i < rt->nmirrors; i++) {
		if (!rt->mirrors[i].cluster)
			continue;
		mesh__sb_puts(sb, "  mirror: ");
		text_cluster(sb, rt->mirrors[i].cluster);
		mesh__sb_printf(sb, " (%g%%)\n", rt->mirrors[i].percent);
	}
	static const char *const dirs[] = { "request", "response" };
	static const char *const ops[] = { "set", "add", "remove" };
	for (size_t i = 0; i < rt->nhops; i++) {
		const struct header_op *h = &rt->hops[i];
		mesh__sb_printf(sb, "  %s header %s %s%s%s\n", dirs[h->dir], ops[h->op], h->name,
		                h->value ? ": " : "", h->value ? h->value : "");
	}
	if (rt->websocket)
		mesh__sb_puts(sb, "  websocket upgrade: allowed\n");
}

static void json_cluster(struct mesh__sb *sb, const struct mesh_cluster *c, unsigned weight)
{
	mesh__sb_puts(sb, "{\"cluster\":");
	mesh__sb_json_str(sb, c->name);
	mesh__sb_puts(sb, ",\"host\":");
	mesh__sb_json_str(sb, c->host);
	mesh__sb_puts(sb, ",\"subset\":");
	if (c->subset)
		mesh__sb_json_str(sb, c->subset);
	else
		mesh__sb_puts(sb, "null");
	mesh__sb_printf(sb, ",\"port\":%u,\"endpoints\":%zu,\"weight\":%u", c->port, c->neps,
	                weight);
	struct tls_view v;
	tls_view(c, &v);
	mesh__sb_printf(sb, ",\"tls\":{\"mode\":\"%s\",\"source\":", v.mode);
	mesh__sb_json_str(sb, v.src);
	if (v.off) {
		mesh__sb_puts(sb, ",\"autoOff\":");
		mesh__sb_json_str(sb, v.off);
	}
	mesh__sb_printf(sb, ",\"mtlsEndpoints\":%zu}}", v.mtls);
}

static void json_route(struct mesh__sb *sb, const struct mesh_route *rt, const char *why)
{
	mesh__sb_puts(sb, "{\"kind\":");
	mesh__sb_json_str(sb, rt->rule ? rt->rule->kind_name : "default");
	mesh__sb_puts(sb, ",\"namespace\":");
	if (rt->rule)
		mesh__sb_json_str(sb, rt->rule->ns);
	else
		mesh__sb_puts(sb, "null");
	mesh__sb_puts(sb, ",\"name\":");
	if (rt->rule)
		mesh__sb_json_str(sb, rt->rule->name);
	else
		mesh__sb_puts(sb, "null");
	mesh__sb_puts(sb, ",\"file\":");
	if (rt->rule)
		mesh__sb_json_str(sb, rt->rule->file);
	else
		mesh__sb_puts(sb, "null");
	mesh__sb_printf(sb, ",\"line\":%u", rt->line);
	if (why) {
		mesh__sb_puts(sb, ",\"reason\":");
		mesh__sb_json_str(sb, why);
		mesh__sb_putc(sb, '}');
		return;
	}
	static const char *const actions[] = { "forward", "redirect", "directResponse" };
	mesh__sb_printf(sb, ",\"action\":\"%s\",\"destinations\":[", actions[rt->action]);
	for (size_t i = 0; i < rt->ndests; i++) {
		if (i)
			mesh__sb_putc(sb, ',');
		json_cluster(sb, rt->dests[i].cluster, rt->dests[i].weight);
	}
	mesh__sb_printf(sb, "],\"timeoutMs\":%lld,\"retries\":{\"attempts\":%u,\"retryOn\":",
	                (long long)rt->timeout_ms, rt->retry.attempts);
	mesh__sb_json_str(sb, rt->retry.retry_on ? rt->retry.retry_on : "");
	mesh__sb_printf(sb, ",\"perTryTimeoutMs\":%lld}", (long long)rt->retry.per_try_timeout_ms);
	if (rt->has_fault)
		mesh__sb_printf(sb,
		                ",\"fault\":{\"delayMs\":%lld,\"delayPercent\":%g,"
		                "\"abortHttpStatus\":%d,\"abortPercent\":%g}",
		                (long long)rt->fault.delay_ms, rt->fault.delay_percent,
		                rt->fault.abort_http_status, rt->fault.abort_percent);
	if (rt->action == MESH_ACTION_REDIRECT)
		mesh__sb_printf(sb, ",\"redirectCode\":%d", rt->redirect.code);
	if (rt->action == MESH_ACTION_DIRECT_RESPONSE)
		mesh__sb_printf(sb, ",\"status\":%d", rt->direct_status);
	mesh__sb_putc(sb, '}');
}

MESH_API char *mesh_router_explain(const mesh_router *r, const struct mesh_request *req,
                                   unsigned flags)
{
	if (!r || !req)
		return NULL;
	struct mesh_request copy;
	if (req->struct_size < sizeof(*req)) {
		memset(&copy, 0, sizeof(copy));
		memcpy(&copy, req, req->struct_size);
		req = &copy;
	}
	mesh_route_scratch *s;
	if (mesh_route_scratch_new(&s))
		return NULL;
	bool json = flags & MESH_EXPLAIN_JSON;
	bool all = flags & MESH_EXPLAIN_ALL;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	const struct vhost *v = mesh__router_vhost(r, req->authority, req->gateway, false);
	const char *auth = req->authority ? req->authority : "";
	if (json) {
		mesh__sb_puts(&sb, "{\"authority\":");
		mesh__sb_json_str(&sb, auth);
		mesh__sb_puts(&sb, ",\"virtualHost\":");
		if (v)
			mesh__sb_json_str(&sb, v->host);
		else
			mesh__sb_puts(&sb, "null");
	} else {
		mesh__sb_printf(&sb, "request: %s %s://%s%s\n", req->method ? req->method : "GET",
		                req->scheme ? req->scheme : "http", auth,
		                req->path ? req->path : "/");
		if (!v) {
			mesh__sb_printf(
				&sb, "no virtual host serves \"%s\": the proxy answers 404 (NR)\n",
				auth);
			goto done;
		}
		mesh__sb_printf(&sb, "virtual host: %s", v->host);
		if (v->source)
			mesh__sb_printf(&sb, " (from %s %s/%s)", v->source->kind_name,
			                v->source->ns, v->source->name);
		mesh__sb_printf(&sb, ", %zu route%s\n", v->nroutes, v->nroutes == 1 ? "" : "s");
	}
	const struct mesh_route *hit = NULL;
	size_t hit_index = 0;
	if (json)
		mesh__sb_puts(&sb, ",\"skipped\":[");
	size_t nskipped = 0;
	for (size_t i = 0; v && i < v->nroutes && !hit; i++) {
		const struct mesh_route *rt = v->routes[i];
		struct why why = { "" };
		if (mesh__route_matches(r, rt, req, s, &why)) {
			hit = rt;
			hit_index = i;
			break;
		}
		if (!all)
			continue;
		if (json) {
			if (nskipped)
				mesh__sb_putc(&sb, ',');
			json_route(&sb, rt, why.text);
		} else {
			mesh__sb_printf(&sb, "route %zu: ", i + 1);
			origin(&sb, rt);
			mesh__sb_printf(&sb, ": not matched: %s\n", why.text);
		}
		nskipped++;
	}
	if (json) {
		mesh__sb_puts(&sb, "],\"matched\":");
		if (hit)
			json_route(&sb, hit, NULL);
		else
			mesh__sb_puts(&sb, "null");
		mesh__sb_putc(&sb, '}');
		goto done;
	}
	if (!hit) {
		mesh__sb_puts(&sb, "no route matched: the proxy answers 404 (NR)\n");
		goto done;
	}
	mesh__sb_printf(&sb, "route %zu: ", hit_index + 1);
	origin(&sb, hit);
	mesh__sb_puts(&sb, ": matched\n");
	for (size_t i = 0; i < hit->nmatches; i++) {
		mesh__sb_printf(&sb, "  match%s: ", hit->nmatches > 1 ? " (any of)" : "");
		describe_block(&sb, &hit->matches[i]);
		mesh__sb_putc(&sb, '\n');
	}
	text_action(&sb, hit);
done:
	mesh_route_scratch_free(s);
	return mesh__sb_steal(&sb);
}
