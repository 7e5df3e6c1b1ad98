/*
 * config.c - mesh_config: loading inputs, the document envelope
 * (apiVersion, kind, metadata), kind dispatch, the (kind, ns, name) index
 * and the public resource accessors.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_int.h"
#include "validate.h"

MESH_API int mesh_config_new(mesh_config **out)
{
	if (!out)
		return MESH_EINVAL;
	mesh_config *cfg = mesh__calloc(1, sizeof(*cfg));
	if (!cfg)
		return MESH_ENOMEM;
	atomic_init(&cfg->refs, 1);
	for (size_t i = 0; i < MESH__CFG_CACHE_COUNT_; i++)
		atomic_init(&cfg->cache[i], NULL);
	cfg->default_ns = mesh__strdup("default");
	if (!cfg->default_ns) {
		mesh__free(cfg);
		return MESH_ENOMEM;
	}
	*out = cfg;
	return 0;
}

MESH_API mesh_config *mesh_config_ref(mesh_config *cfg)
{
	if (cfg)
		atomic_fetch_add(&cfg->refs, 1);
	return cfg;
}

/* Free a chain of caches linked by ->retired. */
static void free_caches(struct mesh__cfg_cache *c)
{
	while (c) {
		struct mesh__cfg_cache *next = c->retired;
		c->free(c);
		c = next;
	}
}

/* More is being loaded: what the caches say is out of date, but what they
 * handed out must stay valid until the config is freed. Loading is
 * single-threaded (see mesh/config.h), so plain loads and stores do. */
static void retire_caches(mesh_config *cfg)
{
	for (size_t i = 0; i < MESH__CFG_CACHE_COUNT_; i++) {
		struct mesh__cfg_cache *c = atomic_exchange(&cfg->cache[i], NULL);
		if (c) {
			c->retired = cfg->retired;
			cfg->retired = c;
		}
	}
}

MESH_API void mesh_config_unref(mesh_config *cfg)
{
	if (!cfg || atomic_fetch_sub(&cfg->refs, 1) != 1)
		return;
	retire_caches(cfg);
	free_caches(cfg->retired);
	for (size_t i = 0; i < cfg->nfiles; i++) {
		mesh__arena_fini(&cfg->files[i]->arena);
		mesh__free(cfg->files[i]->name);
		mesh__free(cfg->files[i]);
	}
	mesh__free(cfg->files);
	mesh__free(cfg->res);
	mesh__free(cfg->ext);
	mesh__free(cfg->index);
	mesh__free(cfg->default_ns);
	mesh__free(cfg);
}

MESH_API void mesh_config_set_flags(mesh_config *cfg, unsigned flags)
{
	if (cfg)
		cfg->flags = flags;
}

MESH_API int mesh_config_set_default_namespace(mesh_config *cfg, const char *ns)
{
	if (!cfg || !ns || !*ns)
		return MESH_EINVAL;
	char *copy = mesh__strdup(ns);
	if (!copy)
		return MESH_ENOMEM;
	mesh__free(cfg->default_ns);
	cfg->default_ns = copy;
	return 0;
}

/* ---- index ---- */

static uint64_t hash_key(int kind, const char *ns, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
	for (const char *p = ns; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ '/') * 1099511628211ULL;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

static struct mesh_resource **index_slot(struct mesh_resource **index, size_t cap, int kind,
                                         const char *ns, const char *name)
{
	size_t i = (size_t)hash_key(kind, ns, name) & (cap - 1);
	while (index[i]) {
		struct mesh_resource *r = index[i];
		if (r->kind == kind && !strcmp(r->ns, ns) && !strcmp(r->name, name))
			return &index[i];
		i = (i + 1) & (cap - 1);
	}
	return &index[i];
}

static int index_grow(mesh_config *cfg)
{
	size_t cap = cfg->index_cap ? cfg->index_cap * 2 : 64;
	struct mesh_resource **index = mesh__calloc(cap, sizeof(*index));
	if (!index)
		return MESH_ENOMEM;
	for (size_t i = 0; i < cfg->nres; i++) {
		struct mesh_resource *r = cfg->res[i];
		*index_slot(index, cap, r->kind, r->ns, r->name) = r;
	}
	mesh__free(cfg->index);
	cfg->index = index;
	cfg->index_cap = cap;
	return 0;
}

static int push_ptr(void ***v, size_t *n, size_t *cap, void *p)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		void **nv = mesh__realloc(*v, c * sizeof(*nv));
		if (!nv)
			return MESH_ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = p;
	return 0;
}

/* Adds @r unless its key is taken; then reports where the first one is. */
static int add_resource(mesh_config *cfg, struct mesh_resource *r, mesh_diag *diag)
{
	if ((cfg->nres + 1) * 2 > cfg->index_cap && index_grow(cfg))
		return MESH_ENOMEM;
	struct mesh_resource **slot =
		index_slot(cfg->index, cfg->index_cap, r->kind, r->ns, r->name);
	if (*slot) {
		const struct mesh_resource *first = *slot;
		const struct mesh__node *at = r->name_node;
		mesh__diag_add(
			diag, MESH_SEV_ERROR, NULL, r->file, at->line, at->col, "metadata.name",
			"duplicate %s \"%s/%s\" (first defined at %s:%u:%u)", r->kind_name, r->ns,
			r->name, first->file, first->name_node->line, first->name_node->col);
		return MESH_ECONFIG;
	}
	if (push_ptr((void ***)&cfg->res, &cfg->nres, &cfg->capres, r))
		return MESH_ENOMEM;
	*slot = r;
	return 0;
}

/* ---- documents ---- */

static const struct mesh__field meta_fields[] = {
	{ "name", MESH_FT_STRING, MESH_F_REQUIRED, 0, NULL, 0, 0 },
	{ "namespace", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "labels", MESH_FT_LABELS, 0, 0, NULL, 0, 0 },
	{ "annotations", MESH_FT_STRMAP, 0, 0, NULL, 0, 0 },
	/* written by the API server; accepted so that exported objects load */
	{ "generateName", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "uid", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "resourceVersion", MESH_FT_STRING, 0, 0, NULL, 0, 0 },
	{ "generation", MESH_FT_INT, 0, 0, NULL, 0, INT64_MAX },
	{ "creationTimestamp", MESH_FT_ANY, 0, 0, NULL, 0, 0 },
	{ "deletionTimestamp", MESH_FT_ANY, 0, 0, NULL, 0, 0 },
	{ "deletionGracePeriodSeconds", MESH_FT_ANY, 0, 0, NULL, 0, 0 },
	{ "managedFields", MESH_FT_ANY, 0, 0, NULL, 0, 0 },
	{ "finalizers", MESH_FT_ANY, 0, 0, NULL, 0, 0 },
	{ "ownerReferences", MESH_FT_ANY, 0, 0, NULL, 0, 0 },
	{ "selfLink", MESH_FT_ANY, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema meta_schema = { "ObjectMeta", MESH_FIELDS(meta_fields), NULL, 0 };

static const struct mesh__field envelope_fields[] = {
	{ "apiVersion", MESH_FT_STRING, MESH_F_REQUIRED, 0, NULL, 0, 0 },
	{ "kind", MESH_FT_STRING, MESH_F_REQUIRED, 0, NULL, 0, 0 },
	{ "metadata", MESH_FT_OBJECT, MESH_F_REQUIRED, 0, &meta_schema, 0, 0 },
	{ "spec", MESH_FT_ANY, 0, 0, NULL, 0, 0 },
	{ "status", MESH_FT_ANY, 0, 0, NULL, 0, 0 },
};
static const struct mesh__schema envelope_schema = { "resource", MESH_FIELDS(envelope_fields), NULL,
	                                             0 };

static bool group_is_istio(const char *group)
{
	size_t l = strlen(group);
	return l >= 8 && !strcmp(group + l - 8, "istio.io");
}

static bool has_version(const struct mesh__kind_def *k, const char *version)
{
	for (size_t i = 0; k->versions[i]; i++)
		if (!strcmp(k->versions[i], version))
			return true;
	return false;
}

static void list_versions(const struct mesh__kind_def *k, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; k->versions[i] && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? ", " : "",
		                        k->versions[i]);
}

static struct mesh_resource *new_resource(struct mesh__cfile *f, const struct mesh__node *root,
                                          const char *api_version, const char *kind, const char *ns,
                                          unsigned line)
{
	struct mesh_resource *r = mesh__arena_alloc(&f->arena, sizeof(*r));
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->root = root;
	r->api_version = api_version;
	r->kind_name = kind;
	r->file = f->name;
	r->line = root->line ? root->line : line;
	r->metadata = mesh__node_get(root, "metadata");
	r->spec = mesh__node_get(root, "spec");
	r->name_node = mesh__node_get(r->metadata, "name");
	r->name = mesh__node_str(r->name_node);
	if (!r->name)
		r->name = ""; /* a kept non-mesh object may have no usable name */
	if (!r->name_node) {
		r->name_node = root;
		r->name = "";
	}
	const char *rns = mesh__node_str(mesh__node_get(r->metadata, "namespace"));
	r->ns = (rns && *rns) ? rns : ns;
	return r;
}

/* Checks one document; adds it when valid. Returns the errors it had. */
static size_t load_doc(mesh_config *cfg, struct mesh__cfile *f, const struct mesh__doc *doc,
                       mesh_diag *diag, int *rc)
{
	const struct mesh__node *root = doc->root;
	if (!root || root->type == MESH_NODE_NULL)
		return 0; /* an empty document ("---" alone) */
	struct mesh__vctx v;
	mesh__vctx_init(&v, diag, f->name, cfg->flags);
	if (root->type != MESH_NODE_MAP) {
		char what[32];
		snprintf(what, sizeof(what), "%s",
		         root->type == MESH_NODE_SEQ ? "a list" : "a value");
		mesh__v_error(&v, root, NULL,
		              "a resource must be a mapping with apiVersion and kind, "
		              "got %s",
		              what);
		goto out;
	}
	const char *api = mesh__node_str(mesh__node_get(root, "apiVersion"));
	const char *kind = mesh__node_str(mesh__node_get(root, "kind"));
	if (!api || !kind || !*api || !*kind) {
		/* the envelope check names what is missing or mistyped */
		mesh__validate_object(&v, &envelope_schema, root);
		goto out;
	}
	const char *slash = strchr(api, '/');
	char group[128];
	size_t glen = slash ? (size_t)(slash - api) : 0;
	if (glen >= sizeof(group))
		glen = sizeof(group) - 1;
	memcpy(group, api, glen);
	group[glen] = '\0';
	const char *version = slash ? slash + 1 : api;
	const struct mesh__kind_def *def = mesh__kind_lookup(group, kind);
	const struct mesh__node *kind_node = mesh__node_get(root, "kind");
	const struct mesh__node *api_node = mesh__node_get(root, "apiVersion");
	if (!def) {
		int known = mesh_kind_from_name(kind);
		const struct mesh__kind_def *other = known ? mesh__kind_by_id(known) : NULL;
		if (other && group_is_istio(group)) {
			mesh__v_error(&v, api_node, "apiVersion", "%s belongs to %s, not \"%s\"",
			              kind, other->group, api);
			goto out;
		}
		const char *name = mesh__node_str(mesh__node_path(root, "metadata.name"));
		int sev = (cfg->flags & MESH_CONFIG_STRICT) ? MESH_SEV_ERROR : MESH_SEV_NOTE;
		mesh__diag_add(diag, sev, NULL, f->name, kind_node->line, kind_node->col, NULL,
		               "%s %s \"%s\" is not a kind libmesh implements; %s", api, kind,
		               name ? name : "",
		               sev == MESH_SEV_ERROR ? "refused (--strict)" : "skipped");
		if (sev == MESH_SEV_ERROR) {
			v.errors++;
			goto out;
		}
		/* keep it for analysis: Services and workloads tell what exists */
		struct mesh_resource *r =
			new_resource(f, root, api, kind, cfg->default_ns, doc->line);
		if (!r || push_ptr((void ***)&cfg->ext, &cfg->next, &cfg->capext, r))
			*rc = MESH_ENOMEM;
		goto out;
	}
	if (!has_version(def, version)) {
		char versions[64];
		list_versions(def, versions, sizeof(versions));
		mesh__v_error(&v, api_node, "apiVersion",
		              "unsupported version \"%s\" of %s; supported: %s", version, def->name,
		              versions);
		goto out;
	}
	mesh__validate_object(&v, &envelope_schema, root);
	const struct mesh__node *meta = mesh__node_get(root, "metadata");
	const struct mesh__node *name = mesh__node_get(meta, "name");
	const struct mesh__node *ns = mesh__node_get(meta, "namespace");
	const char *err;
	if (mesh__node_str(name) && name->scalar == MESH_SCALAR_STRING &&
	    (err = mesh__check_dns_subdomain(name->u.str)))
		mesh__v_error(&v, name, "metadata.name", "invalid name \"%s\": %s", name->u.str,
		              err);
	if (mesh__node_str(ns) && ns->scalar == MESH_SCALAR_STRING &&
	    (err = mesh__check_dns_label(ns->u.str)))
		mesh__v_error(&v, ns, "metadata.namespace", "invalid namespace \"%s\": %s",
		              ns->u.str, err);
	const struct mesh__node *spec = mesh__node_get(root, "spec");
	v.ns = (mesh__node_str(ns) && *ns->u.str) ? ns->u.str : cfg->default_ns;
	mesh__sb_puts(&v.path, "spec");
	if (spec && spec->type != MESH_NODE_NULL) {
		mesh__validate_object(&v, def->spec, spec);
	} else {
		/* no spec: check an empty one, so required fields are named */
		struct mesh__node empty = { .type = MESH_NODE_MAP,
			                    .line = root->line,
			                    .col = root->col };
		mesh__validate_object(&v, def->spec, &empty);
	}
	mesh__sb_truncate(&v.path, 0);
	if (v.errors)
		goto out;
	struct mesh_resource *r = new_resource(f, root, api, kind, cfg->default_ns, doc->line);
	if (!r) {
		*rc = MESH_ENOMEM;
		goto out;
	}
	r->kind = def->kind;
	r->def = def;
	int arc = add_resource(cfg, r, diag);
	if (arc == MESH_ECONFIG)
		v.errors++;
	else if (arc)
		*rc = arc;
out:;
	size_t errors = v.errors;
	mesh__vctx_fini(&v);
	return errors;
}

MESH_API int mesh_config_load_buffer(mesh_config *cfg, const char *name, const char *buf,
                                     size_t len, mesh_diag *diag)
{
	if (!cfg || !name || (!buf && len))
		return MESH_EINVAL;
	retire_caches(cfg);
	struct mesh__cfile *f = mesh__calloc(1, sizeof(*f));
	if (!f)
		return MESH_ENOMEM;
	mesh__arena_init(&f->arena);
	f->name = mesh__strdup(name);
	if (!f->name || push_ptr((void ***)&cfg->files, &cfg->nfiles, &cfg->capfiles, f)) {
		mesh__free(f->name);
		mesh__free(f);
		return MESH_ENOMEM;
	}
	struct mesh__doc *docs;
	size_t ndocs;
	size_t first_diag = mesh_diag_count(diag);
	int rc = mesh__yaml_parse(f->name, buf ? buf : "", len, &f->arena, &docs, &ndocs, diag);
	if (rc == MESH_ENOMEM) {
		mesh__free(docs);
		return rc;
	}
	size_t errors = rc ? 1 : 0;
	int lrc = 0;
	/* a syntax error stops the file: the documents before it are kept
	 * out too, so a half-read file never changes a configuration */
	for (size_t i = 0; !rc && i < ndocs && !lrc; i++)
		errors += load_doc(cfg, f, &docs[i], diag, &lrc);
	mesh__free(docs);
	/* checks run field by field; readers want them in line order */
	mesh__diag_sort_from(diag, first_diag);
	if (lrc)
		return lrc;
	if (rc)
		return rc;
	return errors ? MESH_ECONFIG : 0;
}

static int read_all(FILE *fp, const char *name, char **out, size_t *outlen, mesh_diag *diag)
{
	size_t cap = 65536, len = 0;
	char *buf = mesh__malloc(cap);
	if (!buf)
		return MESH_ENOMEM;
	for (;;) {
		if (len > MESH_YAML_MAX_BYTES) {
			/* stop at the first byte past the limit: a pipe may be endless */
			mesh__free(buf);
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
			               "input is larger than the limit of %u MiB",
			               MESH_YAML_MAX_BYTES / (1024 * 1024));
			return MESH_ELIMIT;
		}
		if (len == cap) {
			if (cap > MESH_YAML_MAX_BYTES) {
				mesh__free(buf);
				mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
				               "input is larger than the limit of %u MiB",
				               MESH_YAML_MAX_BYTES / (1024 * 1024));
				return MESH_ELIMIT;
			}
			char *nb = mesh__realloc(buf, cap * 2);
			if (!nb) {
				mesh__free(buf);
				return MESH_ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		size_t want = cap - len;
		if (want > MESH_YAML_MAX_BYTES + 1 - len)
			want = MESH_YAML_MAX_BYTES + 1 - len;
		size_t n = fread(buf + len, 1, want, fp);
		len += n;
		if (n == 0) {
			if (ferror(fp)) {
				int e = errno;
				mesh__free(buf);
				mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
				               "cannot read: %s", strerror(e));
				return MESH_EIO;
			}
			break;
		}
	}
	*out = buf;
	*outlen = len;
	return 0;
}

MESH_API int mesh_config_load_file(mesh_config *cfg, const char *path, mesh_diag *diag)
{
	if (!cfg || !path)
		return MESH_EINVAL;
	FILE *fp;
	bool is_stdin = !strcmp(path, "-");
	const char *name = is_stdin ? "<stdin>" : path;
	if (is_stdin) {
		fp = stdin;
	} else {
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size > MESH_YAML_MAX_BYTES) {
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
			               "file is %lld bytes; the limit is %u MiB",
			               (long long)st.st_size, MESH_YAML_MAX_BYTES / (1024 * 1024));
			return MESH_ELIMIT;
		}
		fp = fopen(path, "rb");
		if (!fp) {
			mesh__diag_add(diag, MESH_SEV_ERROR, NULL, name, 0, 0, NULL,
			               "cannot open: %s", strerror(errno));
			return MESH_EIO;
		}
	}
	char *buf;
	size_t len;
	int rc = read_all(fp, name, &buf, &len, diag);
	if (!is_stdin)
		fclose(fp);
	if (rc)
		return rc;
	rc = mesh_config_load_buffer(cfg, name, buf, len, diag);
	mesh__free(buf);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool config_name(const char *n)
{
	size_t l = strlen(n);
	return (l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml")) ||
	       (l > 5 && !strcmp(n + l - 5, ".json"));
}

static int load_dir(mesh_config *cfg, const char *path, mesh_diag *diag, int depth)
{
	if (depth > 16) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, path, 0, 0, NULL,
		               "directories nested deeper than 16 levels (a symlink loop?)");
		return MESH_ELIMIT;
	}
	DIR *d = opendir(path);
	if (!d) {
		mesh__diag_add(diag, MESH_SEV_ERROR, NULL, path, 0, 0, NULL, "cannot open: %s",
		               strerror(errno));
		return MESH_EIO;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *full = mesh__malloc(strlen(path) + strlen(e->d_name) + 2);
		if (!full || push_ptr((void ***)&names, &n, &cap, full)) {
			mesh__free(full);
			rc = MESH_ENOMEM;
			break;
		}
		sprintf(full, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", e->d_name);
	}
	closedir(d);
	if (!rc)
		qsort(names, n, sizeof(*names), cmp_str);
	int worst = rc;
	for (size_t i = 0; !rc && i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) != 0)
			continue; /* a dangling link */
		int r = 0;
		if (S_ISDIR(st.st_mode))
			r = load_dir(cfg, names[i], diag, depth + 1);
		else if (S_ISREG(st.st_mode) && config_name(names[i]))
			r = mesh_config_load_file(cfg, names[i], diag);
		if (r == MESH_ENOMEM)
			rc = r;
		/* MESH_EIO outranks MESH_ECONFIG so that callers can tell */
		if (r && (worst == 0 || r == MESH_EIO || r == MESH_ENOMEM))
			worst = r;
	}
	for (size_t i = 0; i < n; i++)
		mesh__free(names[i]);
	mesh__free(names);
	return worst;
}

MESH_API int mesh_config_load_path(mesh_config *cfg, const char *path, mesh_diag *diag)
{
	if (!cfg || !path)
		return MESH_EINVAL;
	struct stat st;
	if (strcmp(path, "-") && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return load_dir(cfg, path, diag, 0);
	return mesh_config_load_file(cfg, path, diag);
}

MESH_API size_t mesh_config_file_count(const mesh_config *cfg)
{
	return cfg ? cfg->nfiles : 0;
}

MESH_API size_t mesh_config_resource_count(const mesh_config *cfg)
{
	return cfg ? cfg->nres : 0;
}

MESH_API const mesh_resource *mesh_config_resource_at(const mesh_config *cfg, size_t i)
{
	return (cfg && i < cfg->nres) ? cfg->res[i] : NULL;
}

MESH_API const mesh_resource *mesh_config_find(const mesh_config *cfg, int kind, const char *ns,
                                               const char *name)
{
	if (!cfg || !name || !cfg->index_cap)
		return NULL;
	return *index_slot(cfg->index, cfg->index_cap, kind, ns ? ns : cfg->default_ns, name);
}

/* ---- resource accessors ---- */

MESH_API int mesh_resource_kind(const mesh_resource *r)
{
	return r ? r->kind : MESH_KIND_UNKNOWN;
}

MESH_API const char *mesh_resource_api_version(const mesh_resource *r)
{
	return r ? r->api_version : NULL;
}

MESH_API const char *mesh_resource_namespace(const mesh_resource *r)
{
	return r ? r->ns : NULL;
}

MESH_API const char *mesh_resource_name(const mesh_resource *r)
{
	return r ? r->name : NULL;
}

MESH_API const char *mesh_resource_file(const mesh_resource *r)
{
	return r ? r->file : NULL;
}

MESH_API unsigned mesh_resource_line(const mesh_resource *r)
{
	return r ? r->line : 0;
}

static const struct mesh__node *at_path(const mesh_resource *r, const char *path)
{
	if (!r || !path)
		return NULL;
	return mesh__node_path(r->root, path);
}

MESH_API int mesh_resource_get_type(const mesh_resource *r, const char *path)
{
	const struct mesh__node *n = at_path(r, path);
	if (!n)
		return MESH_VALUE_NONE;
	switch (n->type) {
	case MESH_NODE_NULL: return MESH_VALUE_NULL;
	case MESH_NODE_MAP: return MESH_VALUE_MAP;
	case MESH_NODE_SEQ: return MESH_VALUE_LIST;
	default: return MESH_VALUE_STRING;
	}
}

MESH_API size_t mesh_resource_get_count(const mesh_resource *r, const char *path)
{
	const struct mesh__node *n = at_path(r, path);
	return (n && (n->type == MESH_NODE_MAP || n->type == MESH_NODE_SEQ)) ? n->count : 0;
}

MESH_API int mesh_resource_get_string(const mesh_resource *r, const char *path, const char **out)
{
	const struct mesh__node *n = at_path(r, path);
	if (!out)
		return MESH_EINVAL;
	if (!n)
		return MESH_ENOTFOUND;
	if (n->type != MESH_NODE_SCALAR)
		return MESH_ETYPE;
	*out = n->u.str;
	return 0;
}

MESH_API int mesh_resource_get_int(const mesh_resource *r, const char *path, int64_t *out)
{
	const struct mesh__node *n = at_path(r, path);
	if (!out)
		return MESH_EINVAL;
	if (!n)
		return MESH_ENOTFOUND;
	return mesh__node_int(n, out) ? 0 : MESH_ETYPE;
}

MESH_API int mesh_resource_get_position(const mesh_resource *r, const char *path, unsigned *line,
                                        unsigned *column)
{
	const struct mesh__node *n = at_path(r, path);
	if (!n)
		return MESH_ENOTFOUND;
	if (line)
		*line = n->line;
	if (column)
		*column = n->col;
	return 0;
}

MESH_API int mesh_resource_get_key(const mesh_resource *r, const char *path, size_t i,
                                   const char **out)
{
	const struct mesh__node *n = at_path(r, path);
	if (!out)
		return MESH_EINVAL;
	if (!n)
		return MESH_ENOTFOUND;
	if (n->type != MESH_NODE_MAP)
		return MESH_ETYPE;
	if (i >= n->count)
		return MESH_ENOTFOUND;
	*out = n->u.pairs[i].key->u.str;
	return 0;
}

const struct mesh__node *mesh__k8s_workload_labels(const struct mesh_resource *r)
{
	static const char *const templated[] = { "Deployment", "StatefulSet", "DaemonSet",
		                                 "ReplicaSet", "Job",         NULL };
	if (!r || r->def)
		return NULL;
	if (!strcmp(r->kind_name, "Pod"))
		return mesh__node_path(r->root, "metadata.labels");
	for (size_t i = 0; templated[i]; i++)
		if (!strcmp(r->kind_name, templated[i]))
			return mesh__node_path(r->root, "spec.template.metadata.labels");
	return NULL;
}

struct mesh__cfg_cache *mesh__config_cache_get(const mesh_config *cfg,
                                               enum mesh__cfg_cache_slot slot)
{
	/* the one mutable part of a loaded config, hence the cast */
	return atomic_load(&((mesh_config *)cfg)->cache[slot]);
}

struct mesh__cfg_cache *mesh__config_cache_put(const mesh_config *cfg,
                                               enum mesh__cfg_cache_slot slot,
                                               struct mesh__cfg_cache *c)
{
	struct mesh__cfg_cache *expected = NULL;
	if (atomic_compare_exchange_strong(&((mesh_config *)cfg)->cache[slot], &expected, c))
		return c;
	c->free(c); /* another thread was first; theirs is as good */
	return expected;
}

const struct mesh_resource *mesh__config_mesh(const mesh_config *cfg)
{
	for (size_t i = 0; cfg && i < cfg->nres; i++)
		if (cfg->res[i]->kind == MESH_KIND_MESH_CONFIG)
			return cfg->res[i];
	return NULL;
}

const char *mesh__config_root_ns(const mesh_config *cfg)
{
	const struct mesh_resource *mc = mesh__config_mesh(cfg);
	const char *root = mc ? mesh__node_str(mesh__node_field(mc->spec, "rootNamespace")) : NULL;
	return (root && *root) ? root : "istio-system";
}

MESH_API const char *mesh_config_trust_domain(const mesh_config *cfg)
{
	if (!cfg)
		return NULL;
	const struct mesh_resource *mc = mesh__config_mesh(cfg);
	const char *td = mc ? mesh__node_str(mesh__node_field(mc->spec, "trustDomain")) : NULL;
	return (td && *td) ? td : "cluster.local";
}

bool mesh__labels_match(const struct mesh__node *sel, const char *const *labels)
{
	if (!sel || sel->type != MESH_NODE_MAP)
		return true;
	for (size_t i = 0; i < sel->count; i++) {
		const char *k = mesh__node_str(sel->u.pairs[i].key);
		const char *v = mesh__node_str(sel->u.pairs[i].value);
		bool found = false;
		for (size_t j = 0; k && v && labels && labels[j] && labels[j + 1] && !found; j += 2)
			found = !strcmp(k, labels[j]) && !strcmp(v, labels[j + 1]);
		if (!found)
			return false;
	}
	return true;
}

/* ---- timestamps (metadata.creationTimestamp) ---- */

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

bool mesh__time_parse_rfc3339(const char *s, int64_t *sec, int32_t *nsec)
{
	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return false;
	int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    se < 0 || se > 60)
		return false;
	const char *p = s + 19;
	int32_t ns = 0;
	if (*p == '.') {
		int32_t scale = 100000000;
		if (!(*++p >= '0' && *p <= '9'))
			return false;
		for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ns += (int32_t)(*p - '0') * scale;
	}
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && p[3] == ':') {
		int oh = digits(p + 1, 2), om = digits(p + 4, 2);
		if (oh < 0 || om < 0 || oh > 23 || om > 59)
			return false;
		off = (*p == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
		p += 6;
	} else {
		return false;
	}
	if (*p)
		return false;
	struct tm tm = { .tm_year = y - 1900,
		         .tm_mon = mo - 1,
		         .tm_mday = d,
		         .tm_hour = h,
		         .tm_min = mi,
		         .tm_sec = se };
	*sec = (int64_t)timegm(&tm) - off;
	*nsec = ns;
	return true;
}
