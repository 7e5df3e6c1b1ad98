/*
 * analyze_match.c - VirtualService http routes that can never be used
 * because an earlier route takes all their requests (MESH0007, Istio's
 * IST0130 VirtualServiceUnreachableRule), and match blocks that an earlier
 * route already takes (MESH0014, IST0131 VirtualServiceIneffectiveMatch).
 *
 * "Block A covers block B" means every request B matches, A matches too.
 * The test is conservative: it answers yes only when it can tell from the
 * text (an exact or prefix inside a prefix, the same regex, a subset of
 * the same labels ...), so a finding is always real.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "analyze_int.h"

/* Most earlier match blocks one block is compared with, so that a huge
 * VirtualService costs bounded time. */
#define MAX_EARLIER 512

static const struct mesh__node empty_map = { .type = MESH_NODE_MAP };

static const struct mesh__node *seq(const struct mesh__node *map, const char *key)
{
	const struct mesh__node *n = mesh__node_get(map, key);
	return (n && n->type == MESH_NODE_SEQ) ? n : NULL;
}

/* The kind (exact, prefix, regex) and value of a StringMatch; kind NULL
 * for an empty one ({}: the value is present). False when unreadable. */
static bool string_match(const struct mesh__node *sm, const char **kind, const char **val)
{
	static const char *const kinds[] = { "exact", "prefix", "regex" };
	*kind = *val = NULL;
	if (!sm || sm->type != MESH_NODE_MAP)
		return false;
	for (size_t i = 0; i < MESH_ARRAY_LEN(kinds); i++) {
		const struct mesh__node *v = mesh__node_get(sm, kinds[i]);
		if (v) {
			*kind = kinds[i];
			*val = mesh__node_str(v);
			return *val != NULL;
		}
	}
	return sm->count == 0;
}

static bool is_any_regex(const char *re)
{
	return !strcmp(re, ".*") || !strcmp(re, "^.*$") || !strcmp(re, "^.*") || !strcmp(re, ".*$");
}

/*
 * Whether StringMatch @a accepts every value @b accepts. @b NULL: no
 * condition. @always: the value is always present (uri, method ...), so a
 * match-anything @a holds even then. @ia / @ib: case is ignored.
 */
static bool covers_value(const struct mesh__node *a, const struct mesh__node *b, bool always,
                         const char *slash, bool ia, bool ib)
{
	const char *ka, *va, *kb, *vb;
	if (!string_match(a, &ka, &va))
		return false;
	bool anything = ka && ((!strcmp(ka, "prefix") && (!*va || (slash && !strcmp(va, slash)))) ||
	                       (!strcmp(ka, "regex") && is_any_regex(va)));
	if (anything && always)
		return true;
	if (!b)
		return false;
	if (!string_match(b, &kb, &vb))
		return false;
	if (!ka || anything)
		return true; /* b requires the value, a only that it is present */
	if (!kb || (ib && !ia))
		return false;
	size_t la = strlen(va);
	if (!strcmp(ka, "exact"))
		return !strcmp(kb, "exact") && (ia ? !strcasecmp(va, vb) : !strcmp(va, vb));
	if (!strcmp(ka, "prefix"))
		return strcmp(kb, "regex") &&
		       (ia ? !strncasecmp(va, vb, la) : !strncmp(va, vb, la));
	return !strcmp(kb, "regex") && !strcmp(va, vb);
}

/* The value of key @k in map @m, comparing names case-insensitively when
 * @icase (header names). */
static const struct mesh__node *lookup(const struct mesh__node *m, const char *k, bool icase)
{
	for (size_t i = 0; m && m->type == MESH_NODE_MAP && i < m->count; i++) {
		const char *key = mesh__node_str(m->u.pairs[i].key);
		if (key && (icase ? !strcasecmp(key, k) : !strcmp(key, k)))
			return m->u.pairs[i].value;
	}
	return NULL;
}

/* headers / queryParams: each condition of @a is implied by @b's. */
static bool covers_map(const struct mesh__node *a, const struct mesh__node *b, bool icase)
{
	if (!a || a->type != MESH_NODE_MAP)
		return false;
	for (size_t i = 0; i < a->count; i++) {
		const char *k = mesh__node_str(a->u.pairs[i].key);
		if (!k || !covers_value(a->u.pairs[i].value, lookup(b, k, icase), false, NULL,
		                        false, false))
			return false;
	}
	return true;
}

/* withoutHeaders: @b must exclude the same values. */
static bool covers_without(const struct mesh__node *a, const struct mesh__node *b)
{
	if (!a || a->type != MESH_NODE_MAP)
		return false;
	for (size_t i = 0; i < a->count; i++) {
		const char *k = mesh__node_str(a->u.pairs[i].key);
		const char *ka, *va, *kb, *vb;
		if (!k || !string_match(a->u.pairs[i].value, &ka, &va) ||
		    !string_match(lookup(b, k, true), &kb, &vb))
			return false;
		if ((ka || kb) && (!ka || !kb || strcmp(ka, kb) || strcmp(va, vb)))
			return false;
	}
	return true;
}

static bool in_list(const struct mesh__node *list, const char *s)
{
	for (size_t i = 0; list && list->type == MESH_NODE_SEQ && i < list->count; i++)
		if (mesh__an_is(list->u.items[i], s))
			return true;
	return false;
}

/* gateways: every gateway @b applies to is one of @a's. @b NULL means the
 * VirtualService's gateways @vsgw (or "mesh"). */
static bool covers_gateways(const struct mesh__node *a, const struct mesh__node *b,
                            const struct mesh__node *vsgw)
{
	if (!b || b->type != MESH_NODE_SEQ || !b->count)
		b = vsgw;
	if (!b)
		return in_list(a, "mesh");
	for (size_t i = 0; i < b->count; i++) {
		const char *g = mesh__node_str(b->u.items[i]);
		if (!g || !in_list(a, g))
			return false;
	}
	return true;
}

static bool is_true(const struct mesh__node *n)
{
	const char *s = mesh__node_str(n);
	return s && !strcmp(s, "true");
}

/* Whether the condition @k: @v of a match block is implied by block @b. */
static bool covers_field(const struct mesh__node *k, const struct mesh__node *v,
                         const struct mesh__node *b, bool ia, bool ib,
                         const struct mesh__node *vsgw)
{
	static const char *const always[] = { "scheme", "method", "authority" };
	if (mesh__key_is(k, "name") || mesh__key_is(k, "statPrefix") ||
	    mesh__key_is(k, "ignoreUriCase"))
		return true;
	if (mesh__key_is(k, "uri"))
		return covers_value(v, mesh__node_get(b, "uri"), true, "/", ia, ib);
	for (size_t j = 0; j < MESH_ARRAY_LEN(always); j++)
		if (mesh__key_is(k, always[j]))
			return covers_value(v, mesh__node_get(b, always[j]), true, NULL, false,
			                    false);
	if (mesh__key_is(k, "headers"))
		return covers_map(v, mesh__node_get(b, "headers"), true);
	if (mesh__key_is(k, "queryParams"))
		return covers_map(v, mesh__node_get(b, "queryParams"), false);
	if (mesh__key_is(k, "withoutHeaders"))
		return covers_without(v, mesh__node_get(b, "withoutHeaders"));
	if (mesh__key_is(k, "sourceLabels"))
		return !mesh__an_has_labels(v) ||
		       mesh__an_labels_match(v, mesh__node_get(b, "sourceLabels"));
	if (mesh__key_is(k, "gateways"))
		return covers_gateways(v, seq(b, "gateways"), vsgw);
	const char *field = mesh__key_is(k, "port") ? "port" : "sourceNamespace";
	if (mesh__key_is(k, field)) {
		const char *want = mesh__node_str(v);
		const char *have = mesh__node_str(mesh__node_get(b, field));
		return want && have && !strcmp(want, have);
	}
	return false; /* a condition this test does not know */
}

/* Whether match block @a takes every request block @b matches. */
static bool covers(const struct mesh__node *a, const struct mesh__node *b,
                   const struct mesh__node *vsgw)
{
	if (!a || a->type != MESH_NODE_MAP)
		return false;
	bool ia = is_true(mesh__node_get(a, "ignoreUriCase"));
	bool ib = is_true(mesh__node_get(b, "ignoreUriCase"));
	for (size_t i = 0; i < a->count; i++)
		if (!covers_field(a->u.pairs[i].key, a->u.pairs[i].value, b, ia, ib, vsgw))
			return false;
	return true;
}

/* An earlier block (of routes 0..@i-1) covering @b: its route and index. */
static const struct mesh__node *find_cover(const struct mesh__node *http, size_t i,
                                           const struct mesh__node *b,
                                           const struct mesh__node *vsgw, size_t *route,
                                           size_t *block)
{
	size_t budget = MAX_EARLIER;
	for (size_t j = 0; j < i && budget; j++) {
		const struct mesh__node *match = seq(http->u.items[j], "match");
		for (size_t m = 0; match && m < match->count && budget; m++, budget--) {
			if (covers(match->u.items[m], b, vsgw)) {
				*route = j;
				*block = m;
				return match->u.items[m];
			}
		}
	}
	return NULL;
}

static bool catches_all(const struct mesh__node *rule, const struct mesh__node *vsgw)
{
	const struct mesh__node *match = seq(rule, "match");
	if (!match || !match->count)
		return true;
	for (size_t m = 0; m < match->count; m++)
		if (covers(match->u.items[m], &empty_map, vsgw))
			return true;
	return false;
}

static void check_vs(struct an *a, const struct mesh_resource *r)
{
	const struct mesh__node *http = seq(r->spec, "http");
	const struct mesh__node *vsgw = seq(r->spec, "gateways");
	if (vsgw && !vsgw->count)
		vsgw = NULL;
	size_t all = SIZE_MAX; /* the first route that takes every request */
	char p[96];
	for (size_t i = 0; http && i < http->count; i++) {
		const struct mesh__node *rule = http->u.items[i];
		snprintf(p, sizeof(p), "spec.http[%zu]", i);
		if (all != SIZE_MAX) {
			mesh__an_report(
				a, r, rule, p, "MESH0007",
				"this route is never used: spec.http[%zu] (line %u) before it "
				"takes every request",
				all, http->u.items[all]->line);
			continue;
		}
		const struct mesh__node *match = seq(rule, "match");
		size_t j, m, n = match ? match->count : 0, covered = 0;
		for (size_t k = 0; k < n; k++)
			covered += find_cover(http, i, match->u.items[k], vsgw, &j, &m) != NULL;
		if (n && covered == n) {
			const struct mesh__node *c =
				find_cover(http, i, match->u.items[0], vsgw, &j, &m);
			mesh__an_report(
				a, r, rule, p, "MESH0007",
				"this route is never used: spec.http[%zu].match[%zu] (line %u) "
				"before it takes every request it matches",
				j, m, c->line);
		} else {
			for (size_t k = 0; covered && k < n; k++) {
				const struct mesh__node *c =
					find_cover(http, i, match->u.items[k], vsgw, &j, &m);
				if (!c)
					continue;
				snprintf(p, sizeof(p), "spec.http[%zu].match[%zu]", i, k);
				mesh__an_report(
					a, r, match->u.items[k], p, "MESH0014",
					"this match is never used: spec.http[%zu].match[%zu] "
					"(line %u) before it takes every request it matches",
					j, m, c->line);
			}
		}
		if (catches_all(rule, vsgw))
			all = i;
	}
}

void mesh__an_check_matches(struct an *a)
{
	for (size_t i = 0; i < a->cfg->nres; i++)
		if (a->cfg->res[i]->kind == MESH_KIND_VIRTUAL_SERVICE)
			check_vs(a, a->cfg->res[i]);
}
