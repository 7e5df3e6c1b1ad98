/* buffer.c - 16 KiB blocks from a per-worker free list, and chains of
 * them written with writev: no allocation per request once warm. */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "engine_int.h"
#include "tls.h"

/* blocks kept for reuse per worker; more are returned to malloc */
#define POOL_KEEP 1024

struct mesh__block *mesh__block_get(struct mesh__pool *p)
{
	struct mesh__block *b = p->free;
	if (b) {
		p->free = b->next;
		p->nfree--;
	} else {
		b = mesh__malloc(sizeof(*b) + MESH_BLOCK_SIZE);
		if (!b)
			return NULL;
		p->allocated++;
	}
	b->next = NULL;
	b->off = b->len = 0;
	b->cap = MESH_BLOCK_SIZE;
	return b;
}

struct mesh__block *mesh__block_get_big(struct mesh__pool *p, size_t cap)
{
	struct mesh__block *b = mesh__malloc(sizeof(*b) + cap);
	if (!b)
		return NULL;
	p->allocated++;
	b->next = NULL;
	b->off = b->len = 0;
	b->cap = cap;
	return b;
}

void mesh__block_put(struct mesh__pool *p, struct mesh__block *b)
{
	if (!b)
		return;
	if (p->nfree >= POOL_KEEP || b->cap != MESH_BLOCK_SIZE) {
		mesh__free(b);
		p->allocated--;
		return;
	}
	b->next = p->free;
	p->free = b;
	p->nfree++;
}

bool mesh__chain_append(struct mesh__chain *c, struct mesh__pool *p, const void *data, size_t len)
{
	const char *src = data;
	while (len) {
		struct mesh__block *t = c->tail;
		if (!t || t->off + t->len == t->cap) {
			t = mesh__block_get(p);
			if (!t)
				return false;
			if (c->tail)
				c->tail->next = t;
			else
				c->head = t;
			c->tail = t;
		}
		size_t room = t->cap - (t->off + t->len);
		size_t n = len < room ? len : room;
		memcpy(t->data + t->off + t->len, src, n);
		t->len += n;
		c->bytes += n;
		src += n;
		len -= n;
	}
	return true;
}

bool mesh__chain_copy(struct mesh__chain *dst, struct mesh__pool *p, const struct mesh__chain *src,
                      size_t skip, size_t len)
{
	for (const struct mesh__block *b = src->head; b && len; b = b->next) {
		if (skip >= b->len) {
			skip -= b->len;
			continue;
		}
		size_t n = b->len - skip < len ? b->len - skip : len;
		if (!mesh__chain_append(dst, p, b->data + b->off + skip, n))
			return false;
		len -= n;
		skip = 0;
	}
	return len == 0;
}

void mesh__chain_consume(struct mesh__chain *c, struct mesh__pool *p, size_t len)
{
	while (len && c->head) {
		struct mesh__block *b = c->head;
		if (len < b->len) {
			b->off += len;
			b->len -= len;
			c->bytes -= len;
			return;
		}
		len -= b->len;
		c->bytes -= b->len;
		c->head = b->next;
		mesh__block_put(p, b);
	}
	if (!c->head)
		c->tail = NULL;
}

void mesh__chain_clear(struct mesh__chain *c, struct mesh__pool *p)
{
	struct mesh__block *b = c->head;
	while (b) {
		struct mesh__block *next = b->next;
		mesh__block_put(p, b);
		b = next;
	}
	c->head = c->tail = NULL;
	c->bytes = 0;
}

ssize_t mesh__chain_writev(struct mesh__chain *c, struct mesh__pool *p, int fd, SSL *ssl)
{
	ssize_t total = 0;
	while (c->head) {
		struct iovec iov[16];
		int n = 0;
		for (struct mesh__block *b = c->head; b && n < 16; b = b->next)
			if (b->len)
				iov[n++] = (struct iovec){ b->data + b->off, b->len };
		if (!n) {
			mesh__chain_clear(c, p);
			break;
		}
		ssize_t w = mesh__sock_writev(fd, ssl, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return total;
			return -1;
		}
		total += w;
		c->bytes -= (size_t)w;
		size_t left = (size_t)w;
		while (c->head && left >= c->head->len) {
			left -= c->head->len;
			struct mesh__block *b = c->head;
			c->head = b->next;
			mesh__block_put(p, b);
		}
		if (!c->head)
			c->tail = NULL;
		else if (left) {
			c->head->off += left;
			c->head->len -= left;
		}
		if ((size_t)w < MESH_BLOCK_SIZE && c->head)
			return total; /* the socket buffer is full */
	}
	return total;
}
