/*
 * validate.c - walks a parse tree against the schema tables of schema.h and
 * reports compiler-style diagnostics with field paths.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <mesh/config.h>

#include "validate.h"

void mesh__vctx_init(struct mesh__vctx *v, mesh_diag *diag, const char *file, unsigned flags)
{
	memset(v, 0, sizeof(*v));
	v->diag = diag;
	v->file = file;
	v->flags = flags;
	v->ns = "default";
	mesh__sb_init(&v->path);
}

void mesh__vctx_fini(struct mesh__vctx *v)
{
	mesh__sb_fini(&v->path);
}

/* Append ".name" to the path (no dot at the start of the path). */
static size_t push_key(struct mesh__vctx *v, const char *name)
{
	size_t mark = v->path.len;
	mesh__sb_printf(&v->path, "%s%s", mark ? "." : "", name);
	return mark;
}

static void report(struct mesh__vctx *v, int sev, const struct mesh__node *at, const char *rel,
                   const char *fmt, va_list ap) MESH_PRINTF(5, 0);

static void report(struct mesh__vctx *v, int sev, const struct mesh__node *at, const char *rel,
                   const char *fmt, va_list ap)
{
	size_t mark = v->path.len;
	if (rel)
		mesh__sb_puts(&v->path, rel);
	mesh__diag_vadd(v->diag, sev, NULL, v->file, at ? at->line : 0, at ? at->col : 0,
	                mesh__sb_str(&v->path), fmt, ap);
	mesh__sb_truncate(&v->path, mark);
	if (sev == MESH_SEV_ERROR)
		v->errors++;
}

void mesh__v_error(struct mesh__vctx *v, const struct mesh__node *at, const char *rel,
                   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(v, MESH_SEV_ERROR, at, rel, fmt, ap);
	va_end(ap);
}

void mesh__v_warn(struct mesh__vctx *v, const struct mesh__node *at, const char *rel,
                  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(v, MESH_SEV_WARNING, at, rel, fmt, ap);
	va_end(ap);
}

const char *mesh__v_path(const struct mesh__vctx *v)
{
	return mesh__sb_str(&v->path);
}

const char *mesh__v_namespace(const struct mesh__vctx *v)
{
	return v->ns;
}

/* "a mapping", "integer 3", "string \"x\"" ... for "expected X, got Y". */
static void describe(const struct mesh__node *n, char *buf, size_t size)
{
	switch (n->type) {
	case MESH_NODE_MAP: snprintf(buf, size, "a mapping"); return;
	case MESH_NODE_SEQ: snprintf(buf, size, "a list"); return;
	case MESH_NODE_NULL: snprintf(buf, size, "null"); return;
	default: break;
	}
	const char *what = "string";
	switch (n->scalar) {
	case MESH_SCALAR_INT: what = "integer"; break;
	case MESH_SCALAR_FLOAT: what = "number"; break;
	case MESH_SCALAR_BOOL: what = "boolean"; break;
	default: break;
	}
	if (n->scalar == MESH_SCALAR_STRING)
		snprintf(buf, size, "string \"%.40s%s\"", n->u.str, n->count > 40 ? "..." : "");
	else
		snprintf(buf, size, "%s %.40s", what, n->u.str);
}

static void type_error(struct mesh__vctx *v, const struct mesh__node *n, const char *expected)
{
	char got[96];
	describe(n, got, sizeof(got));
	if (n->type == MESH_NODE_SCALAR && n->scalar != MESH_SCALAR_STRING &&
	    !strcmp(expected, "a string"))
		mesh__v_error(v, n, NULL, "expected a string, got %s (quote it: \"%s\")", got,
		              n->u.str);
	else
		mesh__v_error(v, n, NULL, "expected %s, got %s", expected, got);
}

static bool want_string(struct mesh__vctx *v, const struct mesh__node *n)
{
	if (n->type == MESH_NODE_SCALAR && n->scalar == MESH_SCALAR_STRING)
		return true;
	type_error(v, n, "a string");
	return false;
}

/* ---- durations ---- */

const char *mesh__parse_duration(const char *s, int64_t *ns_out)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "\xc2\xb5s", 1000 },
		{ "ms", 1000000 },
		{ "s", 1000000000 },
		{ "m", 60LL * 1000000000 },
		{ "h", 3600LL * 1000000000 },
	};
	const char *p = s;
	long double total = 0;
	if (*p == '-')
		return "must not be negative";
	if (*p == '+')
		p++;
	if (!strcmp(p, "0")) {
		*ns_out = 0;
		return NULL;
	}
	if (!*p)
		return "empty duration";
	while (*p) {
		const char *start = p;
		long double num = 0, frac = 0, scale = 1;
		bool digits = false;
		while (*p >= '0' && *p <= '9') {
			num = num * 10 + (*p++ - '0');
			digits = true;
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				scale /= 10;
				frac += (*p++ - '0') * scale;
				digits = true;
			}
		}
		if (!digits)
			return start == s
			               ? "expected a number followed by a unit such as 1.5s, 100ms or 1h"
			               : "expected a number after the unit";
		size_t best = 0;
		int64_t mult = 0;
		for (size_t i = 0; i < MESH_ARRAY_LEN(units); i++) {
			size_t l = strlen(units[i].unit);
			if (!strncmp(p, units[i].unit, l) && l > best) {
				best = l;
				mult = units[i].ns;
			}
		}
		/* a unit is followed by a number or the end: "10sec" and
		 * "5min" have an unknown unit, not a missing number */
		if (!best || (p[best] && !(p[best] >= '0' && p[best] <= '9') && p[best] != '.'))
			return *p ? "unknown unit (use ns, us, ms, s, m or h)"
			          : "missing unit (use e.g. 1.5s, 100ms or 1h)";
		p += best;
		total += (num + frac) * (long double)mult;
		if (total > 9.2e18L)
			return "duration too large";
	}
	/* nearest nanosecond: 4.2 s is 4199999999.99... in binary floating point */
	*ns_out = (int64_t)(total + 0.5L);
	return NULL;
}

static void format_ms(int64_t ms, char *buf, size_t size)
{
	if (ms % 3600000 == 0)
		snprintf(buf, size, "%lldh", (long long)(ms / 3600000));
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, size, "%lldms", (long long)ms);
}

bool mesh__v_duration(struct mesh__vctx *v, const struct mesh__node *n, const char *rel,
                      int64_t *ns_out)
{
	int64_t ns;
	const char *s = mesh__node_str(n);
	if (!s || n->scalar == MESH_SCALAR_BOOL) {
		char got[96];
		describe(n, got, sizeof(got));
		mesh__v_error(v, n, rel,
		              "expected a duration such as \"1.5s\" or \"100ms\", got %s", got);
		return false;
	}
	const char *err = mesh__parse_duration(s, &ns);
	if (err) {
		mesh__v_error(v, n, rel, "invalid duration \"%s\": %s", s, err);
		return false;
	}
	if (ns_out)
		*ns_out = ns;
	return true;
}

/* ---- hosts, labels, names ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* One DNS label of a host (upper case allowed, as Istio does). */
static const char *check_host_label(const char *s, size_t len)
{
	if (len == 0)
		return "empty label (two dots in a row, or a leading or trailing dot)";
	if (len > 63)
		return "a label is longer than 63 characters";
	if (s[0] == '-' || s[len - 1] == '-')
		return "a label must not start or end with '-'";
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return "only letters, digits, '-' and '.' are allowed";
	return NULL;
}

const char *mesh__check_host(const char *s, bool allow_wildcard)
{
	size_t len = strlen(s);
	if (len == 0)
		return "empty host";
	if (len > 255)
		return "longer than 255 characters";
	if (!strcmp(s, "*"))
		return allow_wildcard ? NULL : "wildcard hosts are not allowed here";
	if (s[0] == '*') {
		if (!allow_wildcard)
			return "wildcard hosts are not allowed here";
		if (s[1] != '.')
			return "a wildcard must be the whole first label, as in *.example.com";
		s += 2;
	}
	if (strchr(s, '*'))
		return "a wildcard is only allowed as the first label";
	const char *p = s;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		const char *err = check_host_label(p, l);
		if (err)
			return err;
		if (!dot)
			break;
		p = dot + 1;
	}
	return NULL;
}

bool mesh__v_host(struct mesh__vctx *v, const struct mesh__node *n, const char *rel,
                  bool allow_wildcard)
{
	const char *s = mesh__node_str(n);
	if (!s || n->scalar != MESH_SCALAR_STRING) {
		mesh__v_error(v, n, rel, "expected a host name");
		return false;
	}
	const char *err = mesh__check_host(s, allow_wildcard);
	if (err) {
		mesh__v_error(v, n, rel, "invalid host \"%s\": %s", s, err);
		return false;
	}
	return true;
}

const char *mesh__check_dns_label(const char *s)
{
	size_t len = strlen(s);
	if (len == 0)
		return "must not be empty";
	if (len > 63)
		return "must be at most 63 characters";
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return "must consist of lower case letters, digits and '-'";
	}
	if (s[0] == '-' || s[len - 1] == '-')
		return "must start and end with a letter or digit";
	return NULL;
}

const char *mesh__check_dns_subdomain(const char *s)
{
	size_t len = strlen(s);
	if (len == 0)
		return "must not be empty";
	if (len > 253)
		return "must be at most 253 characters";
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return "must consist of lower case letters, digits, '-' and '.'";
	}
	if (!is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return "must start and end with a letter or digit";
	return NULL;
}

/* Kubernetes "qualified name": [prefix/]name */
static const char *check_label_name(const char *s, size_t len)
{
	if (len == 0)
		return "name part must not be empty";
	if (len > 63)
		return "name part must be at most 63 characters";
	if (!is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return "must start and end with a letter or digit";
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return "only letters, digits, '-', '_' and '.' are allowed";
	return NULL;
}

const char *mesh__check_label_key(const char *s)
{
	const char *slash = strchr(s, '/');
	if (slash) {
		size_t plen = (size_t)(slash - s);
		char prefix[254];
		if (plen == 0 || plen > 253)
			return "prefix must be a DNS subdomain of at most 253 characters";
		memcpy(prefix, s, plen);
		prefix[plen] = '\0';
		if (mesh__check_dns_subdomain(prefix))
			return "prefix must be a DNS subdomain (lower case letters, digits, '-', '.')";
		s = slash + 1;
	}
	return check_label_name(s, strlen(s));
}

const char *mesh__check_label_value(const char *s)
{
	size_t len = strlen(s);
	if (len == 0)
		return NULL;
	if (len > 63)
		return "must be at most 63 characters";
	return check_label_name(s, len);
}

/* Character offset of byte @off in UTF-8 text @s. */
static size_t char_offset(const char *s, size_t off)
{
	size_t chars = 0;
	for (size_t i = 0; i < off && s[i]; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			chars++;
	return chars;
}

/*
 * PCRE2 accepts constructs that RE2 (Envoy's safe_regex, Go's regexp in
 * istiod) refuses; a config that only works here would break elsewhere.
 * Returns the construct's name and sets *at, or NULL when there is none.
 */
static const char *non_re2(const char *s, size_t *at)
{
	static const struct {
		const char *text, *what;
	} groups[] = {
		{ "(?=", "lookahead (?=" },    { "(?!", "negative lookahead (?!" },
		{ "(?<=", "lookbehind (?<=" }, { "(?<!", "negative lookbehind (?<!" },
		{ "(?>", "atomic group (?>" }, { "(?R", "recursion (?R)" },
		{ "(?C", "callout (?C" },      { "(?|", "branch reset (?|" },
		{ "(*", "verb (*" },
	};
	bool in_class = false;
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '\\') {
			char c = s[i + 1];
			if (!in_class && ((c >= '1' && c <= '9') || c == 'g' || c == 'k')) {
				*at = i;
				return "backreference";
			}
			if (c)
				i++;
			continue;
		}
		if (in_class) {
			in_class = s[i] != ']';
			continue;
		}
		if (s[i] == '[') {
			in_class = true;
			if (s[i + 1] == '^')
				i++;
			if (s[i + 1] == ']')
				i++; /* a leading ']' is a literal */
			continue;
		}
		for (size_t g = 0; g < MESH_ARRAY_LEN(groups); g++)
			if (!strncmp(s + i, groups[g].text, strlen(groups[g].text))) {
				*at = i;
				return groups[g].what;
			}
		if ((s[i] == '*' || s[i] == '+' || s[i] == '?' || s[i] == '}') && s[i + 1] == '+' &&
		    i > 0) {
			*at = i + 1;
			return "possessive quantifier";
		}
	}
	return NULL;
}

bool mesh__v_regex(struct mesh__vctx *v, const struct mesh__node *n, const char *rel)
{
	const char *s = mesh__node_str(n);
	if (!s || n->scalar != MESH_SCALAR_STRING) {
		mesh__v_error(v, n, rel, "expected a regular expression string");
		return false;
	}
	if (n->count > 4096) {
		mesh__v_error(v, n, rel, "regex is %zu bytes long; the limit is 4096", n->count);
		return false;
	}
	size_t slot = ((uintptr_t)n >> 4) & (MESH_ARRAY_LEN(v->re_ok) - 1);
	if (v->re_ok[slot] == n)
		return true;
	int errcode;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)s, n->count, PCRE2_UTF, &errcode, &off, NULL);
	if (re) {
		pcre2_code_free(re);
		size_t at;
		const char *what = non_re2(s, &at);
		if (!what) {
			v->re_ok[slot] = n;
			return true;
		}
		mesh__v_error(v, n, rel,
		              "invalid regex \"%s\": %s is not supported (Istio and Envoy use RE2 "
		              "syntax) at offset %zu",
		              s, what, char_offset(s, at));
		return false;
	}
	PCRE2_UCHAR msg[160];
	if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
		snprintf((char *)msg, sizeof(msg), "error %d", errcode);
	/* PCRE2 counts bytes; a reader counts characters */
	mesh__v_error(v, n, rel, "invalid regex \"%s\": %s at offset %zu", s, (const char *)msg,
	              char_offset(s, off));
	return false;
}

/* ---- the walker ---- */

static void check_object(struct mesh__vctx *v, const struct mesh__schema *s,
                         const struct mesh__node *n);

static void check_int(struct mesh__vctx *v, const struct mesh__field *f, const struct mesh__node *n,
                      int64_t min, int64_t max, const char *what)
{
	int64_t x;
	if (n->type != MESH_NODE_SCALAR || n->scalar == MESH_SCALAR_BOOL ||
	    n->scalar == MESH_SCALAR_NULL) {
		type_error(v, n, what);
		return;
	}
	if (!mesh__node_int(n, &x)) {
		/* protobuf JSON also takes integers as strings: "8080"; an
		 * integer too large for 64 bits is out of range, not a string */
		const char *s = n->u.str;
		const char *d = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
		char *end;
		errno = 0;
		long long y = strtoll(s, &end, 10);
		if ((n->scalar != MESH_SCALAR_STRING && n->scalar != MESH_SCALAR_INT) || *d < '0' ||
		    *d > '9' || *end) {
			type_error(v, n, what);
			return;
		}
		if (errno == ERANGE) {
			mesh__v_error(v, n, NULL, "must be between %lld and %lld, got %s",
			              (long long)min, (long long)max, s);
			return;
		}
		x = y;
	}
	if (x < min || x > max)
		mesh__v_error(v, n, NULL, "must be between %lld and %lld, got %lld", (long long)min,
		              (long long)max, (long long)x);
	(void)f;
}

static void check_double(struct mesh__vctx *v, const struct mesh__node *n, double min, double max)
{
	double x;
	if (!mesh__node_double(n, &x)) {
		type_error(v, n, "a number");
		return;
	}
	if (!(x >= min && x <= max))
		mesh__v_error(v, n, NULL, "must be between %g and %g, got %s", min, max, n->u.str);
}

/* "A, B, C" for messages. */
static void list_values(const char *const *vals, struct mesh__sb *sb)
{
	for (size_t i = 0; vals[i]; i++)
		mesh__sb_printf(sb, "%s%s", i ? ", " : "", vals[i]);
}

static void check_enum(struct mesh__vctx *v, const struct mesh__field *f,
                       const struct mesh__node *n)
{
	const char *const *vals = f->sub;
	struct mesh__sb sb;
	if (n->type != MESH_NODE_SCALAR || n->scalar != MESH_SCALAR_STRING) {
		/* not "quote it": a quoted 2 is no better than a plain one */
		char got[96];
		describe(n, got, sizeof(got));
		mesh__sb_init(&sb);
		list_values(vals, &sb);
		mesh__v_error(v, n, NULL, "expected one of %s, got %s", mesh__sb_str(&sb), got);
		mesh__sb_fini(&sb);
		return;
	}
	const char *s = n->u.str;
	const char *close = NULL;
	/* two edits, more for long names ("CLIENT_SERVER") */
	size_t len = strlen(s), limit = len / 3 < 2 ? 2 : len / 3 > 4 ? 4 : len / 3;
	size_t best = limit + 1, prefixed = 0;
	const char *prefix_of = NULL;
	for (size_t i = 0; vals[i]; i++) {
		if (!strcmp(vals[i], s))
			return;
		size_t d =
			mesh__streq_icase(vals[i], s) ? 0 : mesh__edit_distance(vals[i], s, limit);
		if (d < best) {
			best = d;
			close = vals[i];
		}
		/* a value cut short: "REGISTRY" for REGISTRY_ONLY */
		if (len >= 3 && !strncasecmp(vals[i], s, len)) {
			prefixed++;
			prefix_of = vals[i];
		}
	}
	if (!close && prefixed == 1)
		close = prefix_of;
	if (close) {
		mesh__v_error(v, n, NULL, "invalid value \"%s\", did you mean \"%s\"?", s, close);
		return;
	}
	mesh__sb_init(&sb);
	list_values(vals, &sb);
	mesh__v_error(v, n, NULL, "invalid value \"%s\"; expected one of %s", s, mesh__sb_str(&sb));
	mesh__sb_fini(&sb);
}

static void check_labels(struct mesh__vctx *v, const struct mesh__node *n, bool k8s_syntax)
{
	if (n->type != MESH_NODE_MAP) {
		type_error(v, n, "a mapping of strings");
		return;
	}
	for (size_t i = 0; i < n->count; i++) {
		const struct mesh__node *k = n->u.pairs[i].key, *val = n->u.pairs[i].value;
		size_t mark = push_key(v, k->u.str);
		if (k8s_syntax) {
			const char *err = mesh__check_label_key(k->u.str);
			if (err)
				mesh__v_error(v, k, NULL, "invalid label key \"%s\": %s", k->u.str,
				              err);
		}
		if (val->type == MESH_NODE_NULL && !k8s_syntax) {
			/* an empty value reads as null: allowed */
		} else if (val->type == MESH_NODE_SCALAR && val->scalar == MESH_SCALAR_STRING) {
			const char *err = k8s_syntax ? mesh__check_label_value(val->u.str) : NULL;
			if (err)
				mesh__v_error(v, val, NULL, "invalid label value \"%s\": %s",
				              val->u.str, err);
		} else if (val->type == MESH_NODE_NULL) {
			/* label value "" written as nothing */
		} else {
			type_error(v, val, "a string");
		}
		mesh__sb_truncate(&v->path, mark);
	}
}

static void check_ip(struct mesh__vctx *v, const struct mesh__field *f, const struct mesh__node *n)
{
	if (!want_string(v, n))
		return;
	char buf[64];
	unsigned char addr[16];
	const char *s = n->u.str;
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen >= sizeof(buf))
		goto bad;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	int family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, buf, addr) != 1)
		goto bad;
	if (slash) {
		char *end;
		long bits = strtol(slash + 1, &end, 10);
		if (!(f->flags & MESH_F_CIDR) || *end || end == slash + 1 || bits < 0 ||
		    bits > (family == AF_INET ? 32 : 128))
			goto bad;
	}
	return;
bad:
	mesh__v_error(v, n, NULL, "invalid %s \"%s\"",
	              (f->flags & MESH_F_CIDR) ? "IP address or CIDR block" : "IP address", s);
}

static void check_nshost(struct mesh__vctx *v, const struct mesh__node *n)
{
	if (!want_string(v, n))
		return;
	const char *s = n->u.str;
	const char *slash = strchr(s, '/');
	const char *host = s;
	if (slash) {
		size_t nlen = (size_t)(slash - s);
		char ns[64];
		if (nlen == 0 || nlen >= sizeof(ns)) {
			mesh__v_error(v, n, NULL,
			              "invalid host \"%s\": namespace must be 1-63 characters", s);
			return;
		}
		memcpy(ns, s, nlen);
		ns[nlen] = '\0';
		if (strcmp(ns, "*") && strcmp(ns, ".") && strcmp(ns, "~") &&
		    mesh__check_dns_label(ns)) {
			mesh__v_error(
				v, n, NULL,
				"invalid host \"%s\": namespace must be *, ., ~ or a namespace name",
				s);
			return;
		}
		host = slash + 1;
	}
	const char *err = mesh__check_host(host, true);
	if (err)
		mesh__v_error(v, n, NULL, "invalid host \"%s\": %s", s, err);
}

static void check_map_of(struct mesh__vctx *v, const struct mesh__field *f,
                         const struct mesh__node *n, bool port_keys)
{
	if (n->type != MESH_NODE_MAP) {
		type_error(v, n, "a mapping");
		return;
	}
	for (size_t i = 0; i < n->count; i++) {
		const struct mesh__node *k = n->u.pairs[i].key, *val = n->u.pairs[i].value;
		size_t mark = push_key(v, k->u.str);
		if (port_keys) {
			int64_t port;
			char *end;
			long long p = strtoll(k->u.str, &end, 10);
			port = (*k->u.str && !*end) ? p : -1;
			if (port < 1 || port > 65535)
				mesh__v_error(v, k, NULL,
				              "key must be a port number between 1 and 65535, got "
				              "\"%s\"",
				              k->u.str);
		}
		if (val->type != MESH_NODE_NULL)
			check_object(v, f->sub, val);
		mesh__sb_truncate(&v->path, mark);
	}
}

static void check_value(struct mesh__vctx *v, const struct mesh__field *f,
                        const struct mesh__node *n)
{
	switch (f->type) {
	case MESH_FT_STRING: want_string(v, n); break;
	case MESH_FT_BOOL:
		if (n->type == MESH_NODE_SCALAR && n->scalar == MESH_SCALAR_STRING &&
		    (mesh__streq_icase(n->u.str, "yes") || mesh__streq_icase(n->u.str, "no") ||
		     mesh__streq_icase(n->u.str, "on") || mesh__streq_icase(n->u.str, "off")))
			/* YAML 1.1 read these as booleans; YAML 1.2 and libmesh do not */
			mesh__v_error(v, n, NULL, "expected true or false, got \"%s\" (write %s)",
			              n->u.str,
			              (mesh__streq_icase(n->u.str, "yes") ||
			               mesh__streq_icase(n->u.str, "on"))
			                      ? "true"
			                      : "false");
		else if (n->type != MESH_NODE_SCALAR || n->scalar != MESH_SCALAR_BOOL)
			type_error(v, n, "true or false");
		break;
	case MESH_FT_INT: check_int(v, f, n, f->min, f->max, "an integer"); break;
	case MESH_FT_PORT: check_int(v, f, n, 1, 65535, "a port number"); break;
	case MESH_FT_DOUBLE: check_double(v, n, (double)f->min, (double)f->max); break;
	case MESH_FT_PERCENT: check_double(v, n, 0, 100); break;
	case MESH_FT_DURATION: {
		int64_t ns;
		if (!mesh__v_duration(v, n, NULL, &ns))
			break;
		char buf[32];
		if (f->min > 0 && ns < f->min * 1000000) {
			format_ms(f->min, buf, sizeof(buf));
			mesh__v_error(v, n, NULL, "duration must be at least %s, got \"%s\"", buf,
			              n->u.str);
		} else if (f->max > 0 && ns > f->max * 1000000) {
			format_ms(f->max, buf, sizeof(buf));
			mesh__v_error(v, n, NULL, "duration must be at most %s, got \"%s\"", buf,
			              n->u.str);
		}
		break;
	}
	case MESH_FT_ENUM: check_enum(v, f, n); break;
	case MESH_FT_REGEX: mesh__v_regex(v, n, NULL); break;
	case MESH_FT_HOST:
		if (want_string(v, n))
			mesh__v_host(v, n, NULL, !(f->flags & MESH_F_NO_WILDCARD));
		break;
	case MESH_FT_NSHOST: check_nshost(v, n); break;
	case MESH_FT_OBJECT: check_object(v, f->sub, n); break;
	case MESH_FT_LABELS: check_labels(v, n, true); break;
	case MESH_FT_STRMAP: check_labels(v, n, false); break;
	case MESH_FT_MAP: check_map_of(v, f, n, false); break;
	case MESH_FT_PORTMAP: check_map_of(v, f, n, true); break;
	case MESH_FT_IP: check_ip(v, f, n); break;
	case MESH_FT_CUSTOM: ((mesh__scalar_check_fn)(uintptr_t)f->sub)(v, n); break;
	case MESH_FT_ANY:
	default: break;
	}
}

static void check_field(struct mesh__vctx *v, const struct mesh__field *f,
                        const struct mesh__node *n)
{
	if (f->flags & MESH_F_DEPRECATED)
		mesh__v_warn(v, n, NULL, "field '%s' is deprecated", f->name);
	if (!(f->flags & MESH_F_LIST)) {
		check_value(v, f, n);
		return;
	}
	if (n->type != MESH_NODE_SEQ) {
		type_error(v, n, "a list");
		return;
	}
	if (n->count == 0 && (f->flags & (MESH_F_NONEMPTY | MESH_F_REQUIRED)))
		mesh__v_error(v, n, NULL, "must not be empty");
	for (size_t i = 0; i < n->count; i++) {
		size_t mark = v->path.len;
		mesh__sb_printf(&v->path, "[%zu]", i);
		if (n->u.items[i]->type == MESH_NODE_NULL)
			mesh__v_error(v, n->u.items[i], NULL, "empty list entry");
		else
			check_value(v, f, n->u.items[i]);
		mesh__sb_truncate(&v->path, mark);
	}
}

static const struct mesh__field *find_field(const struct mesh__schema *s,
                                            const struct mesh__node *key)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (mesh__key_is(key, s->fields[i].name))
			return &s->fields[i];
	return NULL;
}

/* "maxConnections" -> "max_connections"; false when it does not fit. */
static bool to_snake(const char *camel, char *buf, size_t size)
{
	size_t o = 0;
	for (const char *p = camel; *p; p++) {
		if (o + 3 > size)
			return false;
		if (*p >= 'A' && *p <= 'Z') {
			buf[o++] = '_';
			buf[o++] = (char)(*p - 'A' + 'a');
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
	return true;
}

/*
 * Reports an unknown field, with the closest field name as a hint (in
 * snake_case when the user writes snake_case). Returns the field hinted
 * at, or NULL.
 */
static const struct mesh__field *unknown_field(struct mesh__vctx *v, const struct mesh__schema *s,
                                               const struct mesh__node *key)
{
	const char *name = key->u.str;
	const struct mesh__field *close = NULL;
	bool snake = strchr(name, '_') != NULL;
	char alt[128], hint[128];
	size_t limit = strlen(name) / 3 + 1;
	if (limit > 3)
		limit = 3;
	size_t best = limit + 1;
	for (size_t i = 0; i < s->nfields; i++) {
		const char *cand = s->fields[i].name;
		size_t d =
			mesh__streq_icase(cand, name) ? 0 : mesh__edit_distance(cand, name, limit);
		if (snake && to_snake(cand, alt, sizeof(alt))) {
			size_t d2 = mesh__streq_icase(alt, name)
			                    ? 0
			                    : mesh__edit_distance(alt, name, limit);
			if (d2 < d)
				d = d2;
		}
		if (d < best) {
			best = d;
			close = &s->fields[i];
		}
	}
	void (*emit)(struct mesh__vctx *, const struct mesh__node *, const char *, const char *,
	             ...) =
		(v->flags & MESH_CONFIG_ALLOW_UNKNOWN_FIELDS) ? mesh__v_warn : mesh__v_error;
	size_t mark = push_key(v, name);
	if (close) {
		if (!snake || !to_snake(close->name, hint, sizeof(hint)))
			snprintf(hint, sizeof(hint), "%s", close->name);
		emit(v, key, NULL, "unknown field \"%s\" in %s, did you mean \"%s\"?", name,
		     s->name, hint);
	} else {
		emit(v, key, NULL, "unknown field \"%s\" in %s", name, s->name);
	}
	mesh__sb_truncate(&v->path, mark);
	return close;
}

/* Does @n have the node type @f takes (a list, a mapping or a scalar)? */
static bool shape_ok(const struct mesh__field *f, const struct mesh__node *n)
{
	if (f->flags & MESH_F_LIST)
		return n->type == MESH_NODE_SEQ;
	switch (f->type) {
	case MESH_FT_ANY: return true;
	case MESH_FT_OBJECT:
	case MESH_FT_LABELS:
	case MESH_FT_STRMAP:
	case MESH_FT_MAP:
	case MESH_FT_PORTMAP: return n->type == MESH_NODE_MAP;
	default: return n->type == MESH_NODE_SCALAR;
	}
}

static void check_object(struct mesh__vctx *v, const struct mesh__schema *s,
                         const struct mesh__node *n)
{
	if (n->type != MESH_NODE_MAP) {
		char what[64];
		snprintf(what, sizeof(what), "a mapping (%s)", s->name);
		type_error(v, n, what);
		return;
	}
	/* at most 32 one-of groups; the first member seen of each */
	const struct mesh__pair *seen[33] = { 0 };
	const struct mesh__field *seen_field[33] = { 0 };
	/* fields an unknown key was taken for ("destinaton"): not reported
	 * missing as well. Past the first few, they are just not remembered. */
	const struct mesh__field *meant[8];
	size_t nmeant = 0;
	/*
	 * A misspelled field, or a list where a mapping belongs, leaves the
	 * object without what its writer meant; its cross-field check would
	 * then report consequences ("must set at least one field") of the one
	 * mistake already reported.
	 */
	bool skip_check = false;
	/* "maxConnections" and "max_connections" name one field: the same
	 * field twice needs a snake_case key (YAML refuses equal keys) */
	bool any_snake = false;
	for (size_t i = 0; i < n->count && !any_snake; i++)
		any_snake = n->u.pairs[i].key->type == MESH_NODE_SCALAR &&
		            strchr(n->u.pairs[i].key->u.str, '_');
	for (size_t i = 0; i < n->count; i++) {
		const struct mesh__node *key = n->u.pairs[i].key, *val = n->u.pairs[i].value;
		if (key->type != MESH_NODE_SCALAR) {
			mesh__v_error(v, key, NULL, "a field name must be a plain value");
			continue;
		}
		const struct mesh__field *f = find_field(s, key);
		if (!f) {
			const struct mesh__field *hint = unknown_field(v, s, key);
			if (hint && !(v->flags & MESH_CONFIG_ALLOW_UNKNOWN_FIELDS)) {
				skip_check = true;
				if (nmeant < MESH_ARRAY_LEN(meant))
					meant[nmeant++] = hint;
			}
			continue;
		}
		const struct mesh__node *first = NULL;
		for (size_t j = 0; any_snake && j < i && !first; j++)
			if (n->u.pairs[j].key->type == MESH_NODE_SCALAR &&
			    mesh__key_is(n->u.pairs[j].key, f->name))
				first = n->u.pairs[j].key;
		if (first) {
			size_t mark = push_key(v, f->name);
			mesh__v_error(v, key, NULL,
			              "field \"%s\" is already set as \"%s\" on line %u",
			              key->u.str, first->u.str, first->line);
			mesh__sb_truncate(&v->path, mark);
			continue;
		}
		if (val->type == MESH_NODE_NULL)
			continue; /* null reads as "not set", as in protobuf JSON */
		size_t mark = push_key(v, f->name);
		if (f->oneof && f->oneof <= 31) {
			if (seen[f->oneof]) {
				mesh__v_error(v, key, NULL,
				              "only one of \"%s\" and \"%s\" may be set",
				              seen_field[f->oneof]->name, f->name);
			} else {
				seen[f->oneof] = &n->u.pairs[i];
				seen_field[f->oneof] = f;
			}
		}
		size_t errors = v->errors;
		check_field(v, f, val);
		if (v->errors > errors && !shape_ok(f, val))
			skip_check = true;
		mesh__sb_truncate(&v->path, mark);
	}
	for (size_t i = 0; i < s->nfields; i++) {
		const struct mesh__field *f = &s->fields[i];
		if (!(f->flags & MESH_F_REQUIRED))
			continue;
		bool misspelled = false;
		for (size_t k = 0; k < nmeant; k++)
			misspelled = misspelled || meant[k] == f;
		const struct mesh__node *val = mesh__node_get(n, f->name);
		if (!misspelled && (!val || val->type == MESH_NODE_NULL))
			mesh__v_error(v, n, NULL, "missing required field \"%s\"", f->name);
	}
	for (unsigned g = 1; g <= 31; g++) {
		if (!(s->oneof_required & (1u << g)) || seen[g])
			continue;
		bool misspelled = false;
		for (size_t k = 0; k < nmeant; k++)
			misspelled = misspelled || meant[k]->oneof == g;
		if (misspelled)
			continue;
		struct mesh__sb names;
		mesh__sb_init(&names);
		size_t count = 0;
		for (size_t i = 0; i < s->nfields; i++)
			if (s->fields[i].oneof == g)
				mesh__sb_printf(&names, "%s\"%s\"", count++ ? ", " : "",
				                s->fields[i].name);
		mesh__v_error(v, n, NULL, "one of %s is required", mesh__sb_str(&names));
		mesh__sb_fini(&names);
	}
	if (s->check && !skip_check)
		s->check(v, n);
}

void mesh__validate_object(struct mesh__vctx *v, const struct mesh__schema *s,
                           const struct mesh__node *obj)
{
	check_object(v, s, obj);
}
