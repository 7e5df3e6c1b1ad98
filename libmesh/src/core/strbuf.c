/* strbuf.c - growable strings and small string helpers. */
#include <stdio.h>
#include <string.h>

#include "core.h"

void mesh__sb_init(struct mesh__sb *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void mesh__sb_fini(struct mesh__sb *sb)
{
	mesh__free(sb->buf);
	mesh__sb_init(sb);
}

static bool grow(struct mesh__sb *sb, size_t extra)
{
	if (sb->oom)
		return false;
	if (sb->len + extra + 1 <= sb->cap)
		return true;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *p = mesh__realloc(sb->buf, cap);
	if (!p) {
		sb->oom = true;
		return false;
	}
	sb->buf = p;
	sb->cap = cap;
	return true;
}

void mesh__sb_append(struct mesh__sb *sb, const char *s, size_t n)
{
	if (!grow(sb, n))
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void mesh__sb_puts(struct mesh__sb *sb, const char *s)
{
	mesh__sb_append(sb, s, strlen(s));
}

void mesh__sb_putc(struct mesh__sb *sb, char c)
{
	mesh__sb_append(sb, &c, 1);
}

void mesh__sb_vprintf(struct mesh__sb *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || !grow(sb, (size_t)n))
		return;
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void mesh__sb_printf(struct mesh__sb *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mesh__sb_vprintf(sb, fmt, ap);
	va_end(ap);
}

void mesh__sb_truncate(struct mesh__sb *sb, size_t len)
{
	if (len < sb->len) {
		sb->len = len;
		sb->buf[len] = '\0';
	}
}

void mesh__sb_json_str(struct mesh__sb *sb, const char *s)
{
	mesh__sb_putc(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': mesh__sb_puts(sb, "\\\""); break;
		case '\\': mesh__sb_puts(sb, "\\\\"); break;
		case '\n': mesh__sb_puts(sb, "\\n"); break;
		case '\r': mesh__sb_puts(sb, "\\r"); break;
		case '\t': mesh__sb_puts(sb, "\\t"); break;
		default:
			if (*p < 0x20)
				mesh__sb_printf(sb, "\\u%04x", *p);
			else
				mesh__sb_putc(sb, (char)*p);
		}
	}
	mesh__sb_putc(sb, '"');
}

char *mesh__sb_steal(struct mesh__sb *sb)
{
	if (sb->oom) {
		mesh__sb_fini(sb);
		return NULL;
	}
	if (!sb->buf && !grow(sb, 0))
		return NULL;
	if (sb->len == 0)
		sb->buf[0] = '\0';
	char *p = sb->buf;
	mesh__sb_init(sb);
	return p;
}

/* Levenshtein distance, giving up (returning limit + 1) past @limit. */
size_t mesh__edit_distance(const char *a, const char *b, size_t limit)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return limit + 1;
	if ((la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0], best;
		row[0] = i;
		best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = (a[i - 1] == b[j - 1]) ? 0 : 1;
			size_t v = prev + cost;
			if (row[j] + 1 < v)
				v = row[j] + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			prev = cur;
			if (v < best)
				best = v;
		}
		if (best > limit)
			return limit + 1;
	}
	return row[lb];
}

bool mesh__streq_icase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a, y = *b;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return *a == *b;
}
