/* diag.c - the diagnostics list: compiler-style messages with positions. */
#include <stdlib.h>
#include <string.h>

#include "core.h"

struct entry {
	int sev;
	unsigned line, col;
	char *code, *file, *path, *message;
	size_t seq; /* insertion order, for a stable sort */
};

struct mesh_diag {
	struct entry *v;
	size_t n, cap;
	size_t dropped;
};

MESH_API int mesh_diag_new(mesh_diag **out)
{
	if (!out)
		return MESH_EINVAL;
	*out = mesh__calloc(1, sizeof(**out));
	return *out ? 0 : MESH_ENOMEM;
}

static void entry_fini(struct entry *e)
{
	mesh__free(e->code);
	mesh__free(e->file);
	mesh__free(e->path);
	mesh__free(e->message);
}

MESH_API void mesh_diag_clear(mesh_diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		entry_fini(&d->v[i]);
	d->n = 0;
	d->dropped = 0;
}

MESH_API void mesh_diag_free(mesh_diag *d)
{
	if (!d)
		return;
	mesh_diag_clear(d);
	mesh__free(d->v);
	mesh__free(d);
}

void mesh__diag_vadd(mesh_diag *d, int sev, const char *code, const char *file, unsigned line,
                     unsigned col, const char *path, const char *fmt, va_list ap)
{
	if (!d)
		return;
	if (d->n >= MESH_DIAG_MAX) {
		d->dropped++;
		return;
	}
	/* the last slot says that the list was cut */
	bool last = d->n == MESH_DIAG_MAX - 1;
	if (last) {
		sev = MESH_SEV_NOTE;
		code = NULL;
		path = NULL;
		line = col = 0;
		file = NULL;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct entry *v = mesh__realloc(d->v, cap * sizeof(*v));
		if (!v)
			return; /* out of memory: the message is lost, not the caller */
		d->v = v;
		d->cap = cap;
	}
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	if (last)
		mesh__sb_puts(&sb, "too many diagnostics; the rest are left out");
	else
		mesh__sb_vprintf(&sb, fmt, ap);
	if (sb.len > MESH_DIAG_MAX_MESSAGE) {
		/* a message quoting a huge value (through aliases, many times) must
		 * not cost the caller a huge amount of memory */
		size_t cut = MESH_DIAG_MAX_MESSAGE;
		while (cut > 0 && ((unsigned char)sb.buf[cut] & 0xc0) == 0x80)
			cut--; /* not inside a UTF-8 sequence */
		mesh__sb_truncate(&sb, cut);
		mesh__sb_puts(&sb, "...");
	}
	struct entry e = {
		.sev = sev,
		.line = line,
		.col = col,
		.code = code ? mesh__strdup(code) : NULL,
		.file = file ? mesh__strdup(file) : NULL,
		.path = (path && *path) ? mesh__strdup(path) : NULL,
		.message = mesh__sb_steal(&sb),
		.seq = d->n,
	};
	if (!e.message || (code && !e.code) || (file && !e.file) || (path && *path && !e.path)) {
		entry_fini(&e);
		return;
	}
	d->v[d->n++] = e;
}

void mesh__diag_add(mesh_diag *d, int sev, const char *code, const char *file, unsigned line,
                    unsigned col, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mesh__diag_vadd(d, sev, code, file, line, col, path, fmt, ap);
	va_end(ap);
}

static int cmp_entry(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return a->seq < b->seq ? -1 : (a->seq > b->seq);
}

void mesh__diag_sort(mesh_diag *d)
{
	mesh__diag_sort_from(d, 0);
}

void mesh__diag_sort_from(mesh_diag *d, size_t start)
{
	if (d && d->n > start + 1)
		qsort(d->v + start, d->n - start, sizeof(d->v[0]), cmp_entry);
}

MESH_API size_t mesh_diag_count(const mesh_diag *d)
{
	return d ? d->n : 0;
}

MESH_API size_t mesh_diag_count_severity(const mesh_diag *d, int sev)
{
	size_t n = 0;
	if (!d)
		return 0;
	for (size_t i = 0; i < d->n; i++)
		n += d->v[i].sev == sev;
	return n;
}

static const struct entry *at(const mesh_diag *d, size_t i)
{
	return (d && i < d->n) ? &d->v[i] : NULL;
}

MESH_API int mesh_diag_severity(const mesh_diag *d, size_t i)
{
	const struct entry *e = at(d, i);
	return e ? e->sev : MESH_EINVAL;
}

MESH_API const char *mesh_diag_file(const mesh_diag *d, size_t i)
{
	const struct entry *e = at(d, i);
	return e ? e->file : NULL;
}

MESH_API unsigned mesh_diag_line(const mesh_diag *d, size_t i)
{
	const struct entry *e = at(d, i);
	return e ? e->line : 0;
}

MESH_API unsigned mesh_diag_column(const mesh_diag *d, size_t i)
{
	const struct entry *e = at(d, i);
	return e ? e->col : 0;
}

MESH_API const char *mesh_diag_path(const mesh_diag *d, size_t i)
{
	const struct entry *e = at(d, i);
	return e ? e->path : NULL;
}

MESH_API const char *mesh_diag_message(const mesh_diag *d, size_t i)
{
	const struct entry *e = at(d, i);
	return e ? e->message : NULL;
}

MESH_API const char *mesh_diag_code(const mesh_diag *d, size_t i)
{
	const struct entry *e = at(d, i);
	return e ? e->code : NULL;
}

MESH_API const char *mesh_severity_name(int sev)
{
	switch (sev) {
	case MESH_SEV_NOTE: return "note";
	case MESH_SEV_WARNING: return "warning";
	case MESH_SEV_ERROR: return "error";
	default: return "unknown";
	}
}

MESH_API char *mesh_diag_format(const mesh_diag *d, size_t i)
{
	const struct entry *e = at(d, i);
	if (!e)
		return NULL;
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	if (e->file) {
		mesh__sb_puts(&sb, e->file);
		if (e->line)
			mesh__sb_printf(&sb, ":%u:%u", e->line, e->col);
		mesh__sb_puts(&sb, ": ");
	}
	mesh__sb_printf(&sb, "%s: ", mesh_severity_name(e->sev));
	if (e->path)
		mesh__sb_printf(&sb, "%s: ", e->path);
	mesh__sb_puts(&sb, e->message);
	if (e->code)
		mesh__sb_printf(&sb, " [%s]", e->code);
	return mesh__sb_steal(&sb);
}

MESH_API char *mesh_diag_to_json(const mesh_diag *d)
{
	struct mesh__sb sb;
	mesh__sb_init(&sb);
	mesh__sb_putc(&sb, '[');
	for (size_t i = 0; d && i < d->n; i++) {
		const struct entry *e = &d->v[i];
		if (i)
			mesh__sb_putc(&sb, ',');
		mesh__sb_puts(&sb, "{\"severity\":");
		mesh__sb_json_str(&sb, mesh_severity_name(e->sev));
		mesh__sb_puts(&sb, ",\"code\":");
		if (e->code)
			mesh__sb_json_str(&sb, e->code);
		else
			mesh__sb_puts(&sb, "null");
		mesh__sb_puts(&sb, ",\"file\":");
		if (e->file)
			mesh__sb_json_str(&sb, e->file);
		else
			mesh__sb_puts(&sb, "null");
		mesh__sb_printf(&sb, ",\"line\":%u,\"column\":%u,\"path\":", e->line, e->col);
		if (e->path)
			mesh__sb_json_str(&sb, e->path);
		else
			mesh__sb_puts(&sb, "null");
		mesh__sb_puts(&sb, ",\"message\":");
		mesh__sb_json_str(&sb, e->message);
		mesh__sb_putc(&sb, '}');
	}
	mesh__sb_putc(&sb, ']');
	return mesh__sb_steal(&sb);
}
