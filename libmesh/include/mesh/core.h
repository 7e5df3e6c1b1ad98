/*
 * mesh/core.h - error codes, memory release and the export macro shared by
 * every libmesh header.
 */
#ifndef MESH_CORE_H
#define MESH_CORE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MESH_BUILDING_LIBRARY) && defined(__GNUC__)
#define MESH_API __attribute__((visibility("default")))
#else
#define MESH_API
#endif

/*
 * Error codes. Every fallible libmesh call returns 0 on success or one of
 * these negative values. Codes are append-only: a retired code keeps its
 * number. Codes at or below MESH_EFATAL mean the object involved can only
 * be freed now.
 */
enum mesh_error {
	MESH_OK = 0,
	MESH_EINVAL = -1,    /**< an argument is invalid (NULL, out of range) */
	MESH_ENOMEM = -2,    /**< out of memory */
	MESH_EIO = -3,       /**< a file or stream could not be read or written */
	MESH_ECONFIG = -4,   /**< configuration is invalid; see the diagnostics */
	MESH_ENOTFOUND = -5, /**< the named thing does not exist */
	MESH_ELIMIT = -6,    /**< a size, depth or count limit was exceeded */
	MESH_ETYPE = -7,     /**< a value has another type than the one asked for */
	MESH_EFATAL = -100,  /**< internal state is broken; free the object */
};

/**
 * mesh_strerror - describe an error code.
 * @err: a MESH_E* code (or 0).
 *
 * Returns a static, never-NULL string. Thread-safe.
 * @since 0.1
 */
MESH_API const char *mesh_strerror(int err);

/**
 * mesh_free - release memory that a libmesh call handed to the caller
 * (documented as "free with mesh_free()"). NULL is a no-op. Thread-safe.
 * @since 0.1
 */
MESH_API void mesh_free(void *ptr);

/**
 * mesh_version - the library version as "MAJOR.MINOR.PATCH".
 *
 * Returns a static string. Thread-safe.
 * @since 0.1
 */
MESH_API const char *mesh_version(void);

#ifdef __cplusplus
}
#endif
#endif
