/* arena.c - bump allocator for parse trees: one free for a whole file. */
#include <string.h>

#include "core.h"

#define BLOCK_SIZE (64 * 1024)

struct mesh__arena_block {
	struct mesh__arena_block *next;
	size_t size, used;
	max_align_t data[];
};

void mesh__arena_init(struct mesh__arena *a)
{
	a->head = NULL;
	a->used = 0;
}

void mesh__arena_fini(struct mesh__arena *a)
{
	struct mesh__arena_block *b = a->head;
	while (b) {
		struct mesh__arena_block *next = b->next;
		mesh__free(b);
		b = next;
	}
	mesh__arena_init(a);
}

void *mesh__arena_alloc(struct mesh__arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	n = (n + align - 1) & ~(align - 1);
	struct mesh__arena_block *b = a->head;
	if (!b || b->size - b->used < n) {
		size_t size = n > BLOCK_SIZE / 4 ? n : BLOCK_SIZE;
		b = mesh__malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->size = size;
		b->used = 0;
		if (n > BLOCK_SIZE / 4 && a->head) {
			/* big one-off: keep the current block as the one to fill */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	a->used += n;
	return p;
}

char *mesh__arena_strndup(struct mesh__arena *a, const char *s, size_t n)
{
	char *d = mesh__arena_alloc(a, n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}
