/*
 * yaml.c - libyaml events -> parse tree with positions, under hard limits
 * (bytes, nesting depth, alias expansion, documents) so that hostile input
 * costs bounded memory and time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "node.h"

struct anchor {
	char *name;
	struct mesh__node *node;
	size_t weight;
};

struct interned {
	const char *str;
	uint32_t len, hash;
};

/* Children of the collections still open, on one shared stack. */
struct pending {
	struct mesh__node *node;
	size_t weight; /* nodes it expands to, aliases followed */
};

struct frame {
	struct mesh__node *node;
	size_t start; /* first child on the pending stack */
	char *anchor; /* registered when the collection closes */
};

struct parser {
	const char *name;
	struct mesh__arena *arena;
	mesh_diag *diag;
	struct pending *stack;
	size_t n, cap;
	struct frame frames[MESH_YAML_MAX_DEPTH + 1];
	size_t depth;
	struct anchor *anchors;
	size_t nanchors, capanchors;
	/* open-addressing index over anchors (entry index + 1; 0 = empty):
	 * a linear search made "many anchors, many aliases" quadratic */
	size_t *atab;
	size_t atab_cap;
	/* short scalars seen in this input, so that each is stored once */
	struct interned *strs;
	size_t nstrs, strs_cap;
	size_t doc_weight;   /* nodes of this document, aliases followed */
	size_t alias_weight; /* nodes that aliases stand for, whole input */
	int err;
};

static int fail(struct parser *p, int err, unsigned line, unsigned col, const char *fmt, ...)
	MESH_PRINTF(5, 6);

static int fail(struct parser *p, int err, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mesh__diag_vadd(p->diag, MESH_SEV_ERROR, NULL, p->name, line, col, NULL, fmt, ap);
	va_end(ap);
	p->err = err;
	return err;
}

static int push(struct parser *p, struct mesh__node *node, size_t weight)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		struct pending *s = mesh__realloc(p->stack, cap * sizeof(*s));
		if (!s)
			return p->err = MESH_ENOMEM;
		p->stack = s;
		p->cap = cap;
	}
	p->stack[p->n].node = node;
	p->stack[p->n].weight = weight;
	p->n++;
	return 0;
}

static bool is_digits(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

static bool is_float(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF"))
		return true;
	bool digits = false;
	while (*s >= '0' && *s <= '9') {
		s++;
		digits = true;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!is_digits(s, "0123456789"))
			return false;
		return true;
	}
	return *s == '\0';
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static int resolve_plain(const char *s)
{
	/* most scalars are words ("destination", "v1"): only these first
	 * characters can start a null, a boolean or a number */
	unsigned char c0 = (unsigned char)*s;
	if (c0 && !(c0 >= '0' && c0 <= '9') && !strchr("~nNtTfF+-.", c0))
		return MESH_SCALAR_STRING;
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL"))
		return MESH_SCALAR_NULL;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "false") ||
	    !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return MESH_SCALAR_BOOL;
	const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
	if (is_digits(d, "0123456789"))
		return MESH_SCALAR_INT;
	if (!strncmp(s, "0x", 2) && is_digits(s + 2, "0123456789abcdefABCDEF"))
		return MESH_SCALAR_INT;
	if (!strncmp(s, "0o", 2) && is_digits(s + 2, "01234567"))
		return MESH_SCALAR_INT;
	if (is_float(s) || !strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
		return MESH_SCALAR_FLOAT;
	return MESH_SCALAR_STRING;
}

/* Keys and many values repeat ("destination", "host", "v1"): scalars of up
 * to STR_SHARE_MAX bytes are stored once per input. The table stops growing
 * at STR_TABLE_MAX slots; common strings come early and later ones are then
 * simply copied, so that inputs of distinct values pay no more than before. */
#define STR_SHARE_MAX 64
#define STR_TABLE_MAX (1u << 16)

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static const char *store_str(struct parser *p, const char *s, size_t len)
{
	if (len > STR_SHARE_MAX)
		return mesh__arena_strndup(p->arena, s, len);
	if ((p->nstrs + 1) * 2 > p->strs_cap) {
		if (p->strs_cap >= STR_TABLE_MAX)
			return mesh__arena_strndup(p->arena, s, len);
		size_t cap = p->strs_cap ? p->strs_cap * 2 : 256;
		struct interned *t = mesh__calloc(cap, sizeof(*t));
		if (!t)
			return NULL;
		for (size_t i = 0; i < p->strs_cap; i++) {
			if (!p->strs[i].str)
				continue;
			size_t j = p->strs[i].hash & (cap - 1);
			while (t[j].str)
				j = (j + 1) & (cap - 1);
			t[j] = p->strs[i];
		}
		mesh__free(p->strs);
		p->strs = t;
		p->strs_cap = cap;
	}
	uint32_t h = hash_bytes(s, len);
	size_t i = h & (p->strs_cap - 1);
	for (; p->strs[i].str; i = (i + 1) & (p->strs_cap - 1))
		if (p->strs[i].hash == h && p->strs[i].len == len &&
		    !memcmp(p->strs[i].str, s, len))
			return p->strs[i].str;
	char *copy = mesh__arena_strndup(p->arena, s, len);
	if (!copy)
		return NULL;
	p->strs[i] = (struct interned){ copy, (uint32_t)len, h };
	p->nstrs++;
	return copy;
}

static struct mesh__node *new_node(struct parser *p, int type, const yaml_mark_t *m)
{
	struct mesh__node *n = mesh__arena_alloc(p->arena, sizeof(*n));
	if (!n) {
		p->err = MESH_ENOMEM;
		return NULL;
	}
	memset(n, 0, sizeof(*n));
	n->type = (uint8_t)type;
	n->line = (uint32_t)m->line + 1;
	n->col = (uint32_t)m->column + 1;
	return n;
}

static size_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

/* The slot holding @name, or the empty slot where it belongs. */
static size_t *anchor_slot(const struct parser *p, size_t *tab, size_t cap, const char *name)
{
	size_t i = hash_name(name) & (cap - 1);
	while (tab[i] && strcmp(p->anchors[tab[i] - 1].name, name))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static struct anchor *find_anchor(struct parser *p, const char *name)
{
	if (!p->atab_cap)
		return NULL;
	size_t *slot = anchor_slot(p, p->atab, p->atab_cap, name);
	return *slot ? &p->anchors[*slot - 1] : NULL;
}

static int add_anchor(struct parser *p, const char *name, struct mesh__node *node, size_t weight)
{
	if (p->nanchors == p->capanchors) {
		size_t cap = p->capanchors ? p->capanchors * 2 : 8;
		struct anchor *a = mesh__realloc(p->anchors, cap * sizeof(*a));
		if (!a)
			return p->err = MESH_ENOMEM;
		p->anchors = a;
		p->capanchors = cap;
	}
	if ((p->nanchors + 1) * 2 > p->atab_cap) {
		size_t cap = p->atab_cap ? p->atab_cap * 2 : 16;
		size_t *tab = mesh__calloc(cap, sizeof(*tab));
		if (!tab)
			return p->err = MESH_ENOMEM;
		/* in definition order, so that the latest of a name wins */
		for (size_t i = 0; i < p->nanchors; i++)
			*anchor_slot(p, tab, cap, p->anchors[i].name) = i + 1;
		mesh__free(p->atab);
		p->atab = tab;
		p->atab_cap = cap;
	}
	char *copy = mesh__strdup(name);
	if (!copy)
		return p->err = MESH_ENOMEM;
	p->anchors[p->nanchors] = (struct anchor){ copy, node, weight };
	/* later anchors of the same name override earlier ones */
	*anchor_slot(p, p->atab, p->atab_cap, copy) = ++p->nanchors;
	return 0;
}

/* Anchors are per document. The table is dropped rather than wiped, so
 * that one document with many anchors does not make every later one pay
 * for clearing a large table. */
static void clear_anchors(struct parser *p)
{
	for (size_t i = 0; i < p->nanchors; i++)
		mesh__free(p->anchors[i].name);
	p->nanchors = 0;
	mesh__free(p->atab);
	p->atab = NULL;
	p->atab_cap = 0;
}

static size_t add_weight(size_t a, size_t b)
{
	return (a > SIZE_MAX - b) ? SIZE_MAX : a + b;
}

/* A node is complete: attach it to the open collection (or make it the
 * document root), count what it adds to the document, register its anchor.
 * @weight is the number of nodes the value stands for (its subtree, aliases
 * followed); @adds the number not counted yet: 1 for a new node (its
 * children were counted as they came), the whole weight for an alias.
 * @line/@col locate the value in the text (an alias, not its anchor). */
static int emit(struct parser *p, struct mesh__node *node, size_t weight, size_t adds,
                unsigned line, unsigned col, const char *anchor)
{
	p->doc_weight = add_weight(p->doc_weight, adds);
	if (p->doc_weight > MESH_YAML_MAX_NODES)
		return fail(
			p, MESH_ELIMIT, line, col,
			"document expands to more than %u nodes (through aliases?); refusing it",
			MESH_YAML_MAX_NODES);
	if (anchor && add_anchor(p, anchor, node, weight))
		return p->err;
	return push(p, node, weight);
}

static bool before(const struct mesh__node *a, const struct mesh__node *b)
{
	return a->line < b->line || (a->line == b->line && a->col < b->col);
}

/* By key, then by position: each run of equal keys starts with the first
 * occurrence and goes on in text order. */
static int cmp_keys(const void *a, const void *b)
{
	const struct mesh__pair *x = a, *y = b;
	int c = strcmp(x->key->u.str, y->key->u.str);
	if (c)
		return c;
	return before(x->key, y->key) ? -1 : before(y->key, x->key);
}

static int check_duplicate_keys(struct parser *p, struct mesh__node *map)
{
	size_t n = map->count;
	if (n < 2)
		return 0;
	/* Reported: the repeat that comes first in the text, and the first
	 * occurrence of its key - the same for small and large maps. */
	const struct mesh__node *dup = NULL, *first = NULL;
	if (n <= 16) {
		for (size_t i = 1; i < n && !dup; i++)
			for (size_t j = 0; j < i; j++)
				if (!strcmp(map->u.pairs[i].key->u.str,
				            map->u.pairs[j].key->u.str)) {
					dup = map->u.pairs[i].key;
					first = map->u.pairs[j].key;
					break;
				}
	} else {
		/* large maps: sort a copy so hostile input stays n log n */
		struct mesh__pair *copy = mesh__malloc(n * sizeof(*copy));
		if (!copy)
			return p->err = MESH_ENOMEM;
		memcpy(copy, map->u.pairs, n * sizeof(*copy));
		qsort(copy, n, sizeof(*copy), cmp_keys);
		for (size_t i = 1; i < n; i++) {
			if (strcmp(copy[i].key->u.str, copy[i - 1].key->u.str))
				continue;
			/* copy[i] is the second occurrence of its key */
			size_t start = i - 1;
			if (!dup || before(copy[i].key, dup)) {
				dup = copy[i].key;
				first = copy[start].key;
			}
			while (i + 1 < n && !strcmp(copy[i + 1].key->u.str, copy[start].key->u.str))
				i++;
		}
		mesh__free(copy);
	}
	if (dup)
		return fail(p, MESH_ECONFIG, dup->line, dup->col,
		            "duplicate key '%s' (first at line %u)", dup->u.str, first->line);
	return 0;
}

static int close_frame(struct parser *p)
{
	struct frame *f = &p->frames[--p->depth];
	struct mesh__node *node = f->node;
	size_t nchild = p->n - f->start;
	size_t weight = 1;
	for (size_t i = f->start; i < p->n; i++)
		weight = add_weight(weight, p->stack[i].weight);
	if (node->type == MESH_NODE_MAP) {
		node->count = nchild / 2;
		/* (an empty map still gets a valid pointer, at no extra cost) */
		node->u.pairs = mesh__arena_alloc(p->arena, (node->count ? node->count : 1) *
		                                                    sizeof(struct mesh__pair));
		if (!node->u.pairs)
			return p->err = MESH_ENOMEM;
		for (size_t i = 0; i < node->count; i++) {
			node->u.pairs[i].key = p->stack[f->start + 2 * i].node;
			node->u.pairs[i].value = p->stack[f->start + 2 * i + 1].node;
		}
	} else {
		node->count = nchild;
		node->u.items = mesh__arena_alloc(p->arena, (nchild ? nchild : 1) *
		                                                    sizeof(struct mesh__node *));
		if (!node->u.items)
			return p->err = MESH_ENOMEM;
		for (size_t i = 0; i < nchild; i++)
			node->u.items[i] = p->stack[f->start + i].node;
	}
	p->n = f->start;
	int rc = 0;
	if (node->type == MESH_NODE_MAP)
		rc = check_duplicate_keys(p, node);
	if (!rc)
		rc = emit(p, node, weight, 1, node->line, node->col, f->anchor);
	mesh__free(f->anchor);
	f->anchor = NULL;
	return rc;
}

/* The open collection is a map expecting a key: keys must be scalars. */
static bool expecting_key(const struct parser *p)
{
	if (!p->depth)
		return false;
	const struct frame *f = &p->frames[p->depth - 1];
	return f->node->type == MESH_NODE_MAP && ((p->n - f->start) % 2) == 0;
}

static int open_frame(struct parser *p, int type, const yaml_mark_t *m, const yaml_char_t *anchor)
{
	if (expecting_key(p))
		return fail(p, MESH_ECONFIG, (unsigned)m->line + 1, (unsigned)m->column + 1,
		            "a mapping key must be a plain value, not a %s",
		            type == MESH_NODE_MAP ? "mapping" : "list");
	if (p->depth >= MESH_YAML_MAX_DEPTH)
		return fail(p, MESH_ELIMIT, (unsigned)m->line + 1, (unsigned)m->column + 1,
		            "nesting deeper than %d levels", MESH_YAML_MAX_DEPTH);
	struct mesh__node *n = new_node(p, type, m);
	if (!n)
		return p->err;
	struct frame *f = &p->frames[p->depth++];
	f->node = n;
	f->start = p->n;
	f->anchor = NULL;
	if (anchor && !(f->anchor = mesh__strdup((const char *)anchor)))
		return p->err = MESH_ENOMEM;
	return 0;
}

static int on_scalar(struct parser *p, const yaml_event_t *ev)
{
	struct mesh__node *n = new_node(p, MESH_NODE_SCALAR, &ev->start_mark);
	if (!n)
		return p->err;
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	if (memchr(v, '\0', len))
		return fail(p, MESH_ECONFIG, n->line, n->col, "NUL character in a value");
	n->u.str = store_str(p, v, len);
	if (!n->u.str)
		return p->err = MESH_ENOMEM;
	n->count = len;
	const char *tag = (const char *)ev->data.scalar.tag;
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || (tag && !strcmp(tag, YAML_STR_TAG)))
		n->scalar = MESH_SCALAR_STRING;
	else
		n->scalar = (uint8_t)resolve_plain(n->u.str);
	if (n->scalar == MESH_SCALAR_NULL && !expecting_key(p))
		n->type = MESH_NODE_NULL;
	return emit(p, n, 1, 1, n->line, n->col, (const char *)ev->data.scalar.anchor);
}

static int on_alias(struct parser *p, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct anchor *a = find_anchor(p, name);
	unsigned line = (unsigned)ev->start_mark.line + 1,
		 col = (unsigned)ev->start_mark.column + 1;
	if (!a)
		return fail(p, MESH_ECONFIG, line, col,
		            "alias '*%s' names no anchor defined before it", name);
	if (expecting_key(p) && a->node->type != MESH_NODE_SCALAR)
		return fail(p, MESH_ECONFIG, line, col, "a mapping key must be a plain value");
	if (emit(p, a->node, a->weight, a->weight, line, col, NULL))
		return p->err;
	/* The document limit alone would let every document of a file use
	 * its full allowance: what aliases add is limited per input too, so
	 * that a small file cannot make validation walk billions of nodes. */
	p->alias_weight = add_weight(p->alias_weight, a->weight);
	if (p->alias_weight > MESH_YAML_MAX_NODES)
		return fail(p, MESH_ELIMIT, line, col,
		            "aliases in this input expand to more than %u nodes; refusing it",
		            MESH_YAML_MAX_NODES);
	return 0;
}

/* One code point of @enc at @buf[*i] (advancing *i), or -1 at the end. */
static long next_char(const unsigned char *buf, size_t len, size_t *i, yaml_encoding_t enc)
{
	if (*i >= len)
		return -1;
	if (enc == YAML_UTF16LE_ENCODING || enc == YAML_UTF16BE_ENCODING) {
		if (*i + 1 >= len) {
			*i = len;
			return -1;
		}
		bool le = enc == YAML_UTF16LE_ENCODING;
		long u = le ? (buf[*i] | buf[*i + 1] << 8) : (buf[*i] << 8 | buf[*i + 1]);
		*i += 2;
		if (u >= 0xD800 && u < 0xDC00 && *i + 1 < len)
			*i += 2; /* the low surrogate: one character with its pair */
		return u;
	}
	unsigned char c = buf[(*i)++];
	if (c < 0x80)
		return c;
	size_t w = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
	long u = c & (0x3F >> w);
	for (; w && *i < len; w--)
		u = (u << 6) | (buf[(*i)++] & 0x3F);
	return u;
}

/* Line and column (1-based, in characters, as libyaml counts them) of the
 * byte at @offset: reader errors carry only the offset, and "byte 40123"
 * alone is hard to find in an editor. The text before @offset was decoded
 * successfully, so it is well-formed. */
static void offset_position(const char *text, size_t len, size_t offset, yaml_encoding_t enc,
                            unsigned *line, unsigned *col)
{
	const unsigned char *buf = (const unsigned char *)text;
	size_t i = 0;
	unsigned l = 1, c = 1;
	if (offset > len)
		offset = len;
	/* a byte-order mark is no character */
	if (enc == YAML_UTF8_ENCODING && len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
		i = 3;
	else if ((enc == YAML_UTF16LE_ENCODING || enc == YAML_UTF16BE_ENCODING) && len >= 2 &&
	         (!memcmp(buf, "\xFF\xFE", 2) || !memcmp(buf, "\xFE\xFF", 2)))
		i = 2;
	while (i < offset) {
		/* a bad trailing byte is reported at its own offset: the
		 * position is that of the character it belongs to */
		size_t j = i;
		long u = next_char(buf, len, &j, enc);
		if (j > offset)
			break;
		i = j;
		if (u == '\r') {
			if (next_char(buf, len, &j, enc) == '\n' && j <= offset)
				i = j;
		}
		if (u == '\r' || u == '\n' || u == 0x85 || u == 0x2028 || u == 0x2029) {
			l++;
			c = 1;
		} else if (u >= 0) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static void yaml_error(struct parser *p, const yaml_parser_t *yp, const char *buf, size_t len)
{
	unsigned line = (unsigned)yp->problem_mark.line + 1;
	unsigned col = (unsigned)yp->problem_mark.column + 1;
	const char *problem = yp->problem ? yp->problem : "syntax error";
	if (yp->error == YAML_READER_ERROR) {
		/* reader errors carry a byte offset only: add the position */
		offset_position(buf, len, yp->problem_offset, yp->encoding, &line, &col);
		fail(p, MESH_ECONFIG, line, col, "not valid YAML text: %s at byte %zu", problem,
		     yp->problem_offset);
		return;
	}
	if (yp->context)
		fail(p, MESH_ECONFIG, line, col, "YAML syntax: %s (%s at line %u column %u)",
		     problem, yp->context, (unsigned)yp->context_mark.line + 1,
		     (unsigned)yp->context_mark.column + 1);
	else
		fail(p, MESH_ECONFIG, line, col, "YAML syntax: %s", problem);
}

int mesh__yaml_parse(const char *name, const char *buf, size_t len, struct mesh__arena *arena,
                     struct mesh__doc **docs, size_t *ndocs, mesh_diag *diag)
{
	struct parser p = { .name = name, .arena = arena, .diag = diag };
	yaml_parser_t yp;
	size_t capdocs = 0;
	*docs = NULL;
	*ndocs = 0;
	if (len > MESH_YAML_MAX_BYTES) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
		               "input is %zu bytes; the limit is %u MiB", len,
		               MESH_YAML_MAX_BYTES / (1024 * 1024));
		return MESH_ELIMIT;
	}
	if (!yaml_parser_initialize(&yp))
		return MESH_ENOMEM;
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	uint32_t doc_line = 1;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&yp, &ev)) {
			if (yp.error == YAML_MEMORY_ERROR)
				p.err = MESH_ENOMEM;
			else
				yaml_error(&p, &yp, buf, len);
			break;
		}
		int type = ev.type;
		switch (type) {
		case YAML_DOCUMENT_START_EVENT:
			doc_line = (uint32_t)ev.start_mark.line + 1;
			p.doc_weight = 0;
			clear_anchors(&p);
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (p.n == 1) {
				if (*ndocs >= MESH_YAML_MAX_DOCS) {
					fail(&p, MESH_ELIMIT, doc_line, 1, "more than %u documents",
					     MESH_YAML_MAX_DOCS);
					break;
				}
				if (*ndocs == capdocs) {
					size_t cap = capdocs ? capdocs * 2 : 8;
					struct mesh__doc *d =
						mesh__realloc(*docs, cap * sizeof(*d));
					if (!d) {
						p.err = MESH_ENOMEM;
						break;
					}
					*docs = d;
					capdocs = cap;
				}
				(*docs)[*ndocs].root = p.stack[0].node;
				(*docs)[*ndocs].line = doc_line;
				(*ndocs)++;
			}
			p.n = 0;
			break;
		case YAML_MAPPING_START_EVENT:
			open_frame(&p, MESH_NODE_MAP, &ev.start_mark, ev.data.mapping_start.anchor);
			break;
		case YAML_SEQUENCE_START_EVENT:
			open_frame(&p, MESH_NODE_SEQ, &ev.start_mark,
			           ev.data.sequence_start.anchor);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT: close_frame(&p); break;
		case YAML_SCALAR_EVENT: on_scalar(&p, &ev); break;
		case YAML_ALIAS_EVENT: on_alias(&p, &ev); break;
		default: break;
		}
		yaml_event_delete(&ev);
		if (p.err || type == YAML_STREAM_END_EVENT)
			break;
	}
	while (p.depth > 0) {
		p.depth--;
		mesh__free(p.frames[p.depth].anchor);
	}
	clear_anchors(&p);
	mesh__free(p.anchors);
	mesh__free(p.atab);
	mesh__free(p.strs);
	mesh__free(p.stack);
	yaml_parser_delete(&yp);
	return p.err;
}

/* "maxConnections" == "max_connections" */
static bool camel_eq_snake(const char *camel, const char *snake)
{
	for (;;) {
		char c = *camel, s = *snake;
		if (!c || !s)
			return c == s;
		if (s == '_' && c >= '0' && c <= '9' && snake[1] == c) {
			/* "consecutive_5xx_errors" spells "consecutive5xxErrors" */
			snake++;
			continue;
		}
		if (c >= 'A' && c <= 'Z') {
			if (s != '_' || snake[1] != c - 'A' + 'a')
				return false;
			snake += 2;
			camel++;
			continue;
		}
		if (c != s)
			return false;
		camel++;
		snake++;
	}
}

bool mesh__key_is(const struct mesh__node *k, const char *field)
{
	const char *s = mesh__node_str(k);
	if (!s)
		return false;
	return !strcmp(s, field) || (strchr(s, '_') && camel_eq_snake(field, s));
}

const struct mesh__pair *mesh__node_pair(const struct mesh__node *map, const char *key)
{
	if (!map || map->type != MESH_NODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->count; i++)
		if (mesh__key_is(map->u.pairs[i].key, key))
			return &map->u.pairs[i];
	return NULL;
}

const struct mesh__node *mesh__node_get(const struct mesh__node *map, const char *key)
{
	const struct mesh__pair *p = mesh__node_pair(map, key);
	return p ? p->value : NULL;
}

const struct mesh__node *mesh__node_field(const struct mesh__node *map, const char *key)
{
	const struct mesh__node *n = mesh__node_get(map, key);
	return (n && n->type != MESH_NODE_NULL) ? n : NULL;
}

const char *mesh__node_field_str(const struct mesh__node *map, const char *key)
{
	const struct mesh__node *n = mesh__node_field(map, key);
	return (n && n->type == MESH_NODE_SCALAR && n->scalar == MESH_SCALAR_STRING) ? n->u.str
	                                                                             : NULL;
}

bool mesh__node_int_loose(const struct mesh__node *n, int64_t *out)
{
	if (mesh__node_int(n, out))
		return true;
	if (!n || n->type != MESH_NODE_SCALAR || n->scalar != MESH_SCALAR_STRING || !*n->u.str)
		return false;
	char *end;
	errno = 0;
	long long x = strtoll(n->u.str, &end, 10);
	if (*end || errno)
		return false;
	*out = x;
	return true;
}

bool mesh__node_int(const struct mesh__node *n, int64_t *out)
{
	if (!n || n->type != MESH_NODE_SCALAR || n->scalar != MESH_SCALAR_INT)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(n->u.str, &end, 0);
	if (!strncmp(n->u.str, "0o", 2))
		v = strtoll(n->u.str + 2, &end, 8);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

bool mesh__node_double(const struct mesh__node *n, double *out)
{
	if (!n || n->type != MESH_NODE_SCALAR)
		return false;
	if (n->scalar == MESH_SCALAR_INT) {
		int64_t v;
		if (!mesh__node_int(n, &v))
			return false;
		*out = (double)v;
		return true;
	}
	if (n->scalar != MESH_SCALAR_FLOAT)
		return false;
	char *end;
	*out = strtod(n->u.str, &end);
	return *end == '\0';
}

const struct mesh__node *mesh__node_path(const struct mesh__node *n, const char *path)
{
	const char *s = path;
	while (n && *s) {
		if (*s == '.') {
			s++;
			continue;
		}
		if (*s == '[') {
			char *end;
			unsigned long i = strtoul(s + 1, &end, 10);
			if (*end != ']' || n->type != MESH_NODE_SEQ || i >= n->count)
				return NULL;
			n = n->u.items[i];
			s = end + 1;
			continue;
		}
		size_t len = strcspn(s, ".[");
		char key[256];
		if (len >= sizeof(key))
			return NULL;
		memcpy(key, s, len);
		key[len] = '\0';
		n = mesh__node_get(n, key);
		s += len;
	}
	return n;
}
