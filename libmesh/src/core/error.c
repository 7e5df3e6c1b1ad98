/* error.c - error strings and the library version. */
#include "core.h"

MESH_API const char *mesh_strerror(int err)
{
	switch (err) {
	case MESH_OK: return "success";
	case MESH_EINVAL: return "invalid argument";
	case MESH_ENOMEM: return "out of memory";
	case MESH_EIO: return "input/output error";
	case MESH_ECONFIG: return "invalid configuration";
	case MESH_ENOTFOUND: return "not found";
	case MESH_ELIMIT: return "limit exceeded";
	case MESH_ETYPE: return "wrong value type";
	case MESH_EFATAL: return "fatal internal error";
	default: return "unknown error";
	}
}

MESH_API const char *mesh_version(void)
{
	return MESH_VERSION_STRING;
}
