/*
 * core.h - library-internal helpers shared by every module: allocation
 * (with a hook for failing-allocator tests), string buffers, arenas and
 * diagnostics.
 */
#ifndef MESH_SRC_CORE_H
#define MESH_SRC_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/core.h>
#include <mesh/diag.h>

#define MESH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define MESH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MESH_PRINTF(f, a)
#endif

/* Allocation. All library allocations go through these so that tests can
 * make the n-th allocation fail (mesh__alloc_fail_after). */
void *mesh__malloc(size_t n);
void *mesh__calloc(size_t n, size_t size);
void *mesh__realloc(void *p, size_t n);
char *mesh__strdup(const char *s);
char *mesh__strndup(const char *s, size_t n);
void mesh__free(void *p);
/* Make allocations fail after @n more succeed; -1 turns failures off. */
void mesh__alloc_fail_after(long n);

/* Growable NUL-terminated string. A failed allocation sets ->oom and turns
 * later appends into no-ops, so callers check once at the end. */
struct mesh__sb {
	char *buf;
	size_t len, cap;
	bool oom;
};
void mesh__sb_init(struct mesh__sb *sb);
void mesh__sb_fini(struct mesh__sb *sb);
void mesh__sb_append(struct mesh__sb *sb, const char *s, size_t n);
void mesh__sb_puts(struct mesh__sb *sb, const char *s);
void mesh__sb_putc(struct mesh__sb *sb, char c);
void mesh__sb_printf(struct mesh__sb *sb, const char *fmt, ...) MESH_PRINTF(2, 3);
void mesh__sb_vprintf(struct mesh__sb *sb, const char *fmt, va_list ap) MESH_PRINTF(2, 0);
void mesh__sb_truncate(struct mesh__sb *sb, size_t len);
/* Append @s as a JSON string literal (with quotes). */
void mesh__sb_json_str(struct mesh__sb *sb, const char *s);
/* Hand the buffer to the caller (never NULL unless oom); resets @sb. */
char *mesh__sb_steal(struct mesh__sb *sb);
static inline const char *mesh__sb_str(const struct mesh__sb *sb)
{
	return sb->buf ? sb->buf : "";
}

/* @v in decimal at @out (room for 21 bytes), NUL-terminated; returns the
 * digits' count. For per-request numbers, where snprintf costs more than
 * the rest of the formatting. */
static inline size_t mesh__fmt_u64(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
	return n;
}

/* Arena: many small allocations freed at once. Not thread-safe. */
struct mesh__arena_block;
struct mesh__arena {
	struct mesh__arena_block *head;
	size_t used; /* total bytes handed out, for limits */
};
void mesh__arena_init(struct mesh__arena *a);
void mesh__arena_fini(struct mesh__arena *a);
void *mesh__arena_alloc(struct mesh__arena *a, size_t n);
char *mesh__arena_strndup(struct mesh__arena *a, const char *s, size_t n);

/* Diagnostics. Every string is copied. A list holds at most
 * MESH_DIAG_MAX entries; past that one note says how many were dropped. */
#define MESH_DIAG_MAX 1000
/* Longer messages are cut (with "..."). */
#define MESH_DIAG_MAX_MESSAGE 1024
void mesh__diag_add(mesh_diag *d, int sev, const char *code, const char *file, unsigned line,
                    unsigned col, const char *path, const char *fmt, ...) MESH_PRINTF(8, 9);
void mesh__diag_vadd(mesh_diag *d, int sev, const char *code, const char *file, unsigned line,
                     unsigned col, const char *path, const char *fmt, va_list ap) MESH_PRINTF(8, 0);
/* Stable sort by (file order of first appearance, line, column). */
void mesh__diag_sort(mesh_diag *d);
/* The same for the entries from index @start on. */
void mesh__diag_sort_from(mesh_diag *d, size_t start);

/* Small string helpers. */
size_t mesh__edit_distance(const char *a, const char *b, size_t limit);
bool mesh__streq_icase(const char *a, const char *b);

#endif
