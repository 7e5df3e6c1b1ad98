/*
 * mesh/diag.h - diagnostics: the messages (with file, line, column and
 * field path) that configuration loading, validation and analysis produce.
 */
#ifndef MESH_DIAG_H
#define MESH_DIAG_H

#include <mesh/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An ordered list of diagnostics. Opaque; one owner; not thread-safe. */
typedef struct mesh_diag mesh_diag;

/** Severity of one diagnostic. */
enum mesh_severity {
	MESH_SEV_NOTE = 0,    /**< information, e.g. a skipped non-mesh kind */
	MESH_SEV_WARNING = 1, /**< suspicious but accepted (analysis findings) */
	MESH_SEV_ERROR = 2,   /**< invalid; the resource is not accepted */
};

/**
 * mesh_diag_new - create an empty diagnostics list.
 * @out: receives the new list; free it with mesh_diag_free().
 *
 * Returns 0 or MESH_ENOMEM.
 * @since 0.1
 */
MESH_API int mesh_diag_new(mesh_diag **out);

/**
 * mesh_diag_free - free a list and every string it holds. NULL is a no-op.
 * @since 0.1
 */
MESH_API void mesh_diag_free(mesh_diag *d);

/**
 * mesh_diag_clear - remove every entry, keeping the list for reuse.
 * @since 0.1
 */
MESH_API void mesh_diag_clear(mesh_diag *d);

/** mesh_diag_count - number of entries. @since 0.1 */
MESH_API size_t mesh_diag_count(const mesh_diag *d);

/**
 * mesh_diag_count_severity - number of entries of severity @sev.
 * @since 0.1
 */
MESH_API size_t mesh_diag_count_severity(const mesh_diag *d, int sev);

/**
 * Entry accessors. @i must be below mesh_diag_count(). Strings are borrowed:
 * valid until the list is cleared or freed. Absent values read as NULL
 * (strings) or 0 (line, column).
 * @since 0.1
 */
MESH_API int mesh_diag_severity(const mesh_diag *d, size_t i);
MESH_API const char *mesh_diag_file(const mesh_diag *d, size_t i);
MESH_API unsigned mesh_diag_line(const mesh_diag *d, size_t i);
MESH_API unsigned mesh_diag_column(const mesh_diag *d, size_t i);
/** Field path such as "spec.http[0].route[1].weight", or NULL. */
MESH_API const char *mesh_diag_path(const mesh_diag *d, size_t i);
/** The message text, without position or path. */
MESH_API const char *mesh_diag_message(const mesh_diag *d, size_t i);
/** Analysis code such as "MESH0001", or NULL. */
MESH_API const char *mesh_diag_code(const mesh_diag *d, size_t i);

/**
 * mesh_diag_format - one entry as a compiler-style line, without newline:
 * "file:line:col: error: path: message" (parts that are absent are left out,
 * a code is appended as " [MESH0001]").
 *
 * Returns a string to free with mesh_free(), or NULL when out of memory.
 * @since 0.1
 */
MESH_API char *mesh_diag_format(const mesh_diag *d, size_t i);

/**
 * mesh_diag_to_json - the whole list as a JSON array of objects with keys
 * severity, code, file, line, column, path, message.
 *
 * Returns a string to free with mesh_free(), or NULL when out of memory.
 * @since 0.1
 */
MESH_API char *mesh_diag_to_json(const mesh_diag *d);

/** mesh_severity_name - "note", "warning" or "error". @since 0.1 */
MESH_API const char *mesh_severity_name(int sev);

#ifdef __cplusplus
}
#endif
#endif
