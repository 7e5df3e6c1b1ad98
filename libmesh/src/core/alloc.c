/* alloc.c - allocation wrappers, the failing-allocator hook, mesh_free(). */
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* -1: never fail. Otherwise the number of allocations still allowed.
 * Only tests change it, from one thread. */
static long fail_after = -1;

void mesh__alloc_fail_after(long n)
{
	fail_after = n;
}

static bool should_fail(void)
{
	if (fail_after < 0)
		return false;
	if (fail_after == 0)
		return true;
	fail_after--;
	return false;
}

void *mesh__malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *mesh__calloc(size_t n, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *mesh__realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *mesh__strndup(const char *s, size_t n)
{
	char *d = mesh__malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *mesh__strdup(const char *s)
{
	return s ? mesh__strndup(s, strlen(s)) : NULL;
}

void mesh__free(void *p)
{
	free(p);
}

MESH_API void mesh_free(void *ptr)
{
	free(ptr);
}
