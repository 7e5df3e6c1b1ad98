/*
 * test_yaml.c - hostile input for the YAML loader (yaml.c through the
 * public load calls): malformed YAML, binary garbage, oversized inputs,
 * deep nesting, alias bombs, bad encodings, NUL bytes, duplicate keys,
 * odd document shapes, the document limit and allocation failures. Each
 * case wants one clear error (exact text and position), bounded time and
 * memory, and no crash.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/node.h"
#include "testutil.h"

/* Sanitizers (and valgrind, through MESH_TEST_TIME_FACTOR) slow everything
 * down and keep freed memory in quarantine: bounds stretch with them. The
 * bounds are there to catch blow-ups (minutes, gigabytes), not to time. */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif

static double time_factor(void)
{
	const char *s = getenv("MESH_TEST_TIME_FACTOR");
	double f = s ? atof(s) : 0;
	return f > 0 ? f : ASAN ? 10 : 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Peak resident set of this process (each test runs in its own fork). */
static long peak_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static long mem_bound_kb(long kb)
{
	return ASAN ? kb * 3 + 512 * 1024 : kb;
}

/* Start / end of a bounded section: at most @seconds (times the factor)
 * and at most @mib MiB more peak memory than before. */
struct bound {
	double t0;
	long kb0;
};

static struct bound bound_start(void)
{
	return (struct bound){ now(), peak_kb() };
}

#define bound_check(b, seconds, mib) bound_check_(__LINE__, b, seconds, mib)
static void bound_check_(int line, struct bound b, double seconds, long mib)
{
	double t = now() - b.t0;
	long kb = peak_kb() - b.kb0;
	ck_assert_msg(t <= seconds * time_factor(), "line %d: took %.2f s; the bound is %.2f s",
	              line, t, seconds * time_factor());
	ck_assert_msg(kb <= mem_bound_kb(mib * 1024),
	              "line %d: peak memory grew by %ld KiB; the bound is %ld KiB", line, kb,
	              mem_bound_kb(mib * 1024));
}

/* Load @len bytes of @buf as "test.yaml" into a fresh config. */
static int load(const char *buf, size_t len, mesh_config **cfg, mesh_diag **d)
{
	ck_assert_int_eq(mesh_config_new(cfg), 0);
	ck_assert_int_eq(mesh_diag_new(d), 0);
	return mesh_config_load_buffer(*cfg, "test.yaml", buf, len, *d);
}

/* Loading @len bytes gives @rc and exactly one diagnostic: an error at
 * @line:@col with message @msg; nothing is accepted. */
#define assert_fails(buf, len, rc, line, col, msg)                                                 \
	assert_fails_(__LINE__, buf, len, rc, line, col, msg)
static void assert_fails_(int fline, const char *buf, size_t len, int want_rc, unsigned line,
                          unsigned col, const char *msg)
{
	mesh_config *cfg;
	mesh_diag *d;
	int rc = load(buf, len, &cfg, &d);
	bool ok = rc == want_rc && mesh_diag_count(d) == 1 &&
	          mesh_diag_severity(d, 0) == MESH_SEV_ERROR && mesh_diag_line(d, 0) == line &&
	          mesh_diag_column(d, 0) == col && !strcmp(mesh_diag_message(d, 0), msg) &&
	          !strcmp(mesh_diag_file(d, 0), "test.yaml") &&
	          mesh_config_resource_count(cfg) == 0;
	if (!ok) {
		fprintf(stderr,
		        "line %d: expected rc=%d and test.yaml:%u:%u: error: %s\n  got rc=%d:\n",
		        fline, want_rc, line, col, msg, rc);
		tu_dump(d);
	}
	mesh_config_unref(cfg);
	mesh_diag_free(d);
	ck_assert_msg(ok, "line %d: diagnostic mismatch (see stderr)", fline);
}

#define assert_fails_str(yaml, rc, line, col, msg)                                                 \
	assert_fails_(__LINE__, yaml, strlen(yaml), rc, line, col, msg)

/* Loading gives rc 0, no diagnostic at all and @nres resources. */
#define assert_loads(buf, len, nres) assert_loads_(__LINE__, buf, len, nres)
static void assert_loads_(int fline, const char *buf, size_t len, size_t nres)
{
	mesh_config *cfg;
	mesh_diag *d;
	int rc = load(buf, len, &cfg, &d);
	bool ok = rc == 0 && mesh_diag_count(d) == 0 && mesh_config_resource_count(cfg) == nres;
	if (!ok) {
		fprintf(stderr,
		        "line %d: expected %zu resources and no diagnostic, got rc=%d, %zu:\n",
		        fline, nres, rc, mesh_config_resource_count(cfg));
		tu_dump(d);
	}
	mesh_config_unref(cfg);
	mesh_diag_free(d);
	ck_assert_msg(ok, "line %d: not loaded cleanly (see stderr)", fline);
}

/* Parse only (no validation), for the limits of the parse tree itself. */
static int parse(const char *buf, size_t len, struct mesh__arena *arena, struct mesh__doc **docs,
                 size_t *ndocs, mesh_diag **d)
{
	ck_assert_int_eq(mesh_diag_new(d), 0);
	mesh__arena_init(arena);
	return mesh__yaml_parse("test.yaml", buf, len, arena, docs, ndocs, *d);
}

/* Growable test buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = realloc(b->p, cap);
		ck_assert_ptr_nonnull(b->p);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void repeat(struct buf *b, const char *s, size_t times)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < times; i++)
		put(b, s, n);
}

/* xorshift64*: the same bytes on every machine */
static uint64_t rng_state;
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* A VirtualService with several routes, matches, retries and a fault. */
static const char *const vs_yaml = "apiVersion: networking.istio.io/v1\n"
				   "kind: VirtualService\n"
				   "metadata:\n"
				   "  name: reviews-route\n"
				   "  namespace: bookinfo\n"
				   "  labels:\n"
				   "    app: reviews\n"
				   "spec:\n"
				   "  hosts:\n"
				   "  - reviews.bookinfo.svc.cluster.local\n"
				   "  http:\n"
				   "  - name: jason\n"
				   "    match:\n"
				   "    - headers:\n"
				   "        end-user:\n"
				   "          exact: jason\n"
				   "      uri:\n"
				   "        prefix: /api/v1\n"
				   "    route:\n"
				   "    - destination:\n"
				   "        host: reviews\n"
				   "        subset: v2\n"
				   "    retries:\n"
				   "      attempts: 3\n"
				   "      perTryTimeout: 2s\n"
				   "      retryOn: 5xx,connect-failure\n"
				   "    timeout: 10s\n"
				   "  - match:\n"
				   "    - uri:\n"
				   "        regex: \"^/reviews/[0-9]+$\"\n"
				   "    fault:\n"
				   "      delay:\n"
				   "        percentage:\n"
				   "          value: 10\n"
				   "        fixedDelay: 5s\n"
				   "    route:\n"
				   "    - destination:\n"
				   "        host: reviews\n"
				   "        subset: v1\n"
				   "      weight: 75\n"
				   "    - destination:\n"
				   "        host: reviews\n"
				   "        subset: v3\n"
				   "      weight: 25\n"
				   "  - route:\n"
				   "    - destination:\n"
				   "        host: reviews\n"
				   "        subset: v1\n";

/* ---- malformed YAML ---- */

START_TEST(malformed_flow)
{
	assert_fails_str("a: [1, 2\n", MESH_ECONFIG, 2, 1,
	                 "YAML syntax: did not find expected ',' or ']' "
	                 "(while parsing a flow sequence at line 1 column 4)");
	assert_fails_str("a: {b: 1\n", MESH_ECONFIG, 2, 1,
	                 "YAML syntax: did not find expected ',' or '}' "
	                 "(while parsing a flow mapping at line 1 column 4)");
	assert_fails_str("{a: 1}}\n", MESH_ECONFIG, 1, 7,
	                 "YAML syntax: did not find expected <document start>");
	assert_fails_str("\"unterminated\n", MESH_ECONFIG, 2, 1,
	                 "YAML syntax: found unexpected end of stream "
	                 "(while scanning a quoted scalar at line 1 column 1)");
}
END_TEST

START_TEST(malformed_indentation)
{
	assert_fails_str("a:\n  b: 1\n c: 2\n", MESH_ECONFIG, 3, 2,
	                 "YAML syntax: did not find expected key "
	                 "(while parsing a block mapping at line 1 column 1)");
	assert_fails_str("a: b: c\n", MESH_ECONFIG, 1, 5,
	                 "YAML syntax: mapping values are not allowed in this context");
	/* tabs may not indent */
	assert_fails_str("a:\n\tb: 1\n", MESH_ECONFIG, 2, 1,
	                 "YAML syntax: found character that cannot start any token "
	                 "(while scanning for the next token at line 2 column 1)");
	assert_fails_str("a: 1\n\tb: 2\n", MESH_ECONFIG, 2, 1,
	                 "YAML syntax: found a tab character that violates indentation "
	                 "(while scanning a plain scalar at line 1 column 4)");
	/* a mapping key that is a collection */
	assert_fails_str("? [a]\n: b\n", MESH_ECONFIG, 1, 3,
	                 "a mapping key must be a plain value, not a list");
	assert_fails_str("{{a: 1}: 2}\n", MESH_ECONFIG, 1, 2,
	                 "a mapping key must be a plain value, not a mapping");
}
END_TEST

/* A tab deep inside a real resource: the position points at it. */
START_TEST(malformed_in_resource)
{
	struct buf b = { 0 };
	puts_(&b, vs_yaml);
	char *at = strstr(b.p, "      attempts: 3\n");
	ck_assert_ptr_nonnull(at);
	at[4] = '\t';
	assert_fails(b.p, b.len, MESH_ECONFIG, 24, 5,
	             "YAML syntax: found character that cannot start any token "
	             "(while scanning for the next token at line 24 column 5)");
	free(b.p);
}
END_TEST

/* A syntax error in a later document keeps the earlier, valid ones out:
 * a half-read file never changes a configuration. */
START_TEST(malformed_after_valid_documents)
{
	struct buf b = { 0 };
	puts_(&b, vs_yaml);
	puts_(&b, "---\nkind: [\n");
	assert_fails(b.p, b.len, MESH_ECONFIG, 51, 1,
	             "YAML syntax: did not find expected node content "
	             "(while parsing a flow node at line 51 column 1)");
	free(b.p);
}
END_TEST

/* ---- binary garbage ---- */

static void check_garbage(const char *buf, size_t len)
{
	mesh_config *cfg;
	mesh_diag *d;
	int rc = load(buf, len, &cfg, &d);
	/* nothing accepted; an error says why, or the text was only blanks */
	ck_assert_msg(rc == MESH_ECONFIG || rc == 0, "rc=%d", rc);
	ck_assert_uint_eq(mesh_config_resource_count(cfg), 0);
	if (rc) {
		ck_assert_uint_ge(mesh_diag_count_severity(d, MESH_SEV_ERROR), 1);
	} else {
		/* only a blank, a comment or an empty value can parse */
		ck_assert_uint_eq(mesh_diag_count_severity(d, MESH_SEV_ERROR), 0);
	}
	for (size_t i = 0; i < mesh_diag_count(d); i++) {
		ck_assert_str_eq(mesh_diag_file(d, i), "test.yaml");
		ck_assert_uint_gt(strlen(mesh_diag_message(d, i)), 0);
		char *s = mesh_diag_format(d, i);
		ck_assert_ptr_nonnull(s);
		mesh_free(s);
	}
	char *json = mesh_diag_to_json(d);
	ck_assert_ptr_nonnull(json);
	mesh_free(json);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}

START_TEST(garbage_random_bytes)
{
	struct bound b = bound_start();
	rng_state = 0x6d657368; /* "mesh" */
	char *buf = malloc(65536);
	ck_assert_ptr_nonnull(buf);
	/* the first buffer of this seed: the decoder stops at byte 1 */
	for (size_t i = 0; i < 4096; i++)
		buf[i] = (char)(rng() >> 56);
	assert_fails(buf, 4096, MESH_ECONFIG, 1, 1,
	             "not valid YAML text: invalid leading UTF-8 octet at byte 0");
	/* lots of lengths, all 256 byte values (NUL among them) */
	for (int round = 0; round < 2000; round++) {
		size_t len = 1 + (size_t)(rng() % (round < 1900 ? 64 : 65536));
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)(rng() >> 56);
		check_garbage(buf, len);
	}
	free(buf);
	bound_check(b, 10, 64);
}
END_TEST

/* Random text built from YAML's own indicators: gets past the decoder
 * into the scanner, parser and tree builder. */
START_TEST(garbage_yaml_tokens)
{
	static const char *const tok[] = { "{",
		                           "}",
		                           "[",
		                           "]",
		                           ":",
		                           ": ",
		                           ",",
		                           "- ",
		                           "? ",
		                           "&a ",
		                           "*a",
		                           "&b ",
		                           "*b",
		                           "!",
		                           "!!str ",
		                           "|",
		                           ">",
		                           "'",
		                           "\"",
		                           "#",
		                           "%",
		                           "@",
		                           "`",
		                           "\n",
		                           "\n  ",
		                           "\t",
		                           " ",
		                           "---\n",
		                           "...\n",
		                           "key",
		                           "1",
		                           "~",
		                           "\\0",
		                           "\r\n",
		                           "kind: VirtualService\n",
		                           "apiVersion: v1\n" };
	struct bound bd = bound_start();
	rng_state = 42;
	for (int round = 0; round < 3000; round++) {
		struct buf b = { 0 };
		size_t n = 1 + rng() % 80;
		for (size_t i = 0; i < n; i++)
			puts_(&b, tok[rng() % MESH_ARRAY_LEN(tok)]);
		check_garbage(b.p, b.len);
		free(b.p);
	}
	bound_check(bd, 20, 64);
}
END_TEST

/* Like /dev/urandom: NUL and every other byte, a megabyte of it after a
 * valid start. The decoder stops at the first bad byte and says where. */
START_TEST(garbage_after_valid_text)
{
	struct buf b = { 0 };
	puts_(&b, "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
	          "  name: x\n  annotations:\n    junk: ");
	size_t start = b.len;
	rng_state = 7;
	for (size_t i = 0; i < 1024 * 1024; i++) {
		char c = (char)(rng() >> 56);
		put(&b, &c, 1);
	}
	/* make the first random byte a NUL */
	b.p[start] = '\0';
	struct bound bd = bound_start();
	char msg[128];
	snprintf(msg, sizeof(msg),
	         "not valid YAML text: control characters are not allowed at byte %zu", start);
	assert_fails(b.p, b.len, MESH_ECONFIG, 6, 11, msg);
	bound_check(bd, 1, 32);
	free(b.p);
}
END_TEST

/* ---- oversized input ---- */

static char *temp_path(const char *name)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/test_yaml.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char *path = malloc(strlen(dir) + strlen(name) + 2);
	ck_assert_ptr_nonnull(path);
	sprintf(path, "%s/%s", dir, name);
	return path;
}

static void remove_temp(char *path)
{
	unlink(path);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	rmdir(path);
	free(path);
}

/* A 100 MB (sparse) file is refused from its size, before it is read. */
START_TEST(huge_file)
{
	char *path = temp_path("big.yaml");
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 100 * 1000 * 1000), 0);
	ck_assert_int_eq(pwrite(fd, "a: 1\n", 5, 0), 5);
	close(fd);
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';

	for (int how = 0; how < 3; how++) {
		struct bound b = bound_start();
		mesh_config *cfg;
		mesh_diag *d;
		ck_assert_int_eq(mesh_config_new(&cfg), 0);
		ck_assert_int_eq(mesh_diag_new(&d), 0);
		int rc = how == 0   ? mesh_config_load_file(cfg, path, d)
		         : how == 1 ? mesh_config_load_path(cfg, path, d)
		                    : mesh_config_load_path(cfg, dir, d);
		if (rc != MESH_ELIMIT || mesh_diag_count(d) != 1)
			tu_dump(d);
		ck_assert_int_eq(rc, MESH_ELIMIT);
		ck_assert_uint_eq(mesh_diag_count(d), 1);
		ck_assert_int_eq(mesh_diag_severity(d, 0), MESH_SEV_ERROR);
		ck_assert_str_eq(mesh_diag_file(d, 0), path);
		ck_assert_uint_eq(mesh_diag_line(d, 0), 0);
		ck_assert_str_eq(mesh_diag_message(d, 0),
		                 "file is 100000000 bytes; the limit is 64 MiB");
		ck_assert_uint_eq(mesh_config_resource_count(cfg), 0);
		mesh_config_unref(cfg);
		mesh_diag_free(d);
		/* not read: no time, no memory */
		bound_check(b, 0.5, 8);
	}
	remove_temp(path);
}
END_TEST

/* A stream without a size (a device, a pipe, stdin) is cut off once it
 * passes the limit. */
START_TEST(huge_stream)
{
	struct bound b = bound_start();
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(mesh_config_new(&cfg), 0);
	ck_assert_int_eq(mesh_diag_new(&d), 0);
	ck_assert_int_eq(mesh_config_load_file(cfg, "/dev/zero", d), MESH_ELIMIT);
	ck_assert_uint_eq(mesh_diag_count(d), 1);
	ck_assert_str_eq(mesh_diag_file(d, 0), "/dev/zero");
	ck_assert_str_eq(mesh_diag_message(d, 0), "input is larger than the limit of 64 MiB");
	mesh_config_unref(cfg);
	mesh_diag_free(d);
	/* the reader holds at most twice the limit */
	bound_check(b, 5, 160);
}
END_TEST

/* A buffer over the limit is refused without one byte of it being read:
 * the memory behind it is not even readable. */
START_TEST(huge_buffer)
{
	size_t len = MESH_YAML_MAX_BYTES + 1;
	char *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	struct bound b = bound_start();
	assert_fails(p, len, MESH_ELIMIT, 0, 0, "input is 67108865 bytes; the limit is 64 MiB");
	bound_check(b, 0.5, 8);
	munmap(p, len);
}
END_TEST

/* ---- deep nesting ---- */

START_TEST(deep_flow)
{
	struct bound bd = bound_start();
	struct buf b = { 0 };
	repeat(&b, "[", 100000);
	assert_fails(b.p, b.len, MESH_ELIMIT, 1, 65, "nesting deeper than 64 levels");
	b.len = 0;
	repeat(&b, "{a: ", 100000);
	assert_fails(b.p, b.len, MESH_ELIMIT, 1, 64 * 4 + 1, "nesting deeper than 64 levels");
	/* closed, too: the limit is on depth, not on unclosed brackets */
	b.len = 0;
	repeat(&b, "[", 100000);
	repeat(&b, "]", 100000);
	assert_fails(b.p, b.len, MESH_ELIMIT, 1, 65, "nesting deeper than 64 levels");
	free(b.p);
	bound_check(bd, 1, 32);
}
END_TEST

START_TEST(deep_block)
{
	struct bound bd = bound_start();
	struct buf b = { 0 };
	for (int i = 0; i < 100; i++) {
		repeat(&b, "  ", (size_t)i);
		puts_(&b, "a:\n");
	}
	assert_fails(b.p, b.len, MESH_ELIMIT, 65, 129, "nesting deeper than 64 levels");
	b.len = 0;
	repeat(&b, "- ", 100000);
	puts_(&b, "x\n");
	assert_fails(b.p, b.len, MESH_ELIMIT, 1, 129, "nesting deeper than 64 levels");
	free(b.p);
	bound_check(bd, 1, 32);
}
END_TEST

/* 64 levels are allowed, 65 are not. */
START_TEST(depth_limit_exact)
{
	for (int depth = 63; depth <= 65; depth++) {
		struct buf b = { 0 };
		repeat(&b, "[", (size_t)depth);
		repeat(&b, "]", (size_t)depth);
		struct mesh__arena arena;
		struct mesh__doc *docs;
		size_t ndocs;
		mesh_diag *d;
		int rc = parse(b.p, b.len, &arena, &docs, &ndocs, &d);
		ck_assert_int_eq(rc, depth <= MESH_YAML_MAX_DEPTH ? 0 : MESH_ELIMIT);
		ck_assert_uint_eq(ndocs, depth <= MESH_YAML_MAX_DEPTH ? 1 : 0);
		mesh__free(docs);
		mesh__arena_fini(&arena);
		mesh_diag_free(d);
		free(b.p);
	}
}
END_TEST

/* ---- aliases ---- */

/* "Billion laughs": 9 levels of 10 aliases stand for 10^9 nodes. Refused
 * at the alias that crosses the limit, fast and small. */
START_TEST(alias_billion_laughs)
{
	struct buf b = { 0 };
	puts_(&b, "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\","
	          "\"lol\"]\n");
	for (char c = 'b'; c <= 'i'; c++) {
		char line[128];
		int n = snprintf(line, sizeof(line), "%c: &%c [", c, c);
		for (int i = 0; i < 10; i++)
			n += snprintf(line + n, sizeof(line) - (size_t)n, "%s*%c", i ? "," : "",
			              c - 1);
		snprintf(line + n, sizeof(line) - (size_t)n, "]\n");
		puts_(&b, line);
	}
	struct bound bd = bound_start();
	/* a..f hold 1234566 nodes; the third *f in g passes 4 Mi */
	assert_fails(b.p, b.len, MESH_ELIMIT, 7, 14,
	             "document expands to more than 4194304 nodes (through aliases?); refusing it");
	bound_check(bd, 0.5, 16);
	free(b.p);
}
END_TEST

/* One big anchored list used many times: quadratic rather than
 * exponential, refused the same way. */
START_TEST(alias_wide)
{
	struct buf b = { 0 };
	puts_(&b, "a: &a [");
	repeat(&b, "x,", 99999);
	puts_(&b, "x]\nb: [");
	repeat(&b, "*a, ", 1000);
	puts_(&b, "*a]\n");
	struct bound bd = bound_start();
	/* 100003 nodes before b's list; each *a adds 100001; the 41st
	 * passes 4 Mi */
	assert_fails(b.p, b.len, MESH_ELIMIT, 2, 5 + 40 * 4,
	             "document expands to more than 4194304 nodes (through aliases?); refusing it");
	bound_check(bd, 1, 64);
	free(b.p);
}
END_TEST

/* Each document has its own node limit, but what aliases add is limited
 * for the whole input: five documents of a million alias nodes each. */
START_TEST(alias_per_input)
{
	struct buf b = { 0 };
	for (int doc = 0; doc < 5; doc++) {
		puts_(&b, "---\na: &a [");
		repeat(&b, "x,", 999);
		puts_(&b, "x]\nb: [");
		repeat(&b, "*a, ", 999);
		puts_(&b, "*a]\n");
	}
	struct bound bd = bound_start();
	/* 4 * 1001000 alias nodes before; the 191st *a of the fifth passes */
	assert_fails(b.p, b.len, MESH_ELIMIT, 15, 5 + 190 * 4,
	             "aliases in this input expand to more than 4194304 nodes; refusing it");
	bound_check(bd, 1, 64);
	free(b.p);
}
END_TEST

/* Many anchors and many aliases: anchors are looked up in a hash table,
 * not searched one by one (which took 30 s for this input). */
START_TEST(alias_many_anchors)
{
	struct buf b = { 0 };
	char line[64];
	for (int i = 0; i < 100000; i++) {
		snprintf(line, sizeof(line), "- &a%d x\n", i);
		puts_(&b, line);
	}
	repeat(&b, "- *a0\n", 100000);
	struct bound bd = bound_start();
	struct mesh__arena arena;
	struct mesh__doc *docs;
	size_t ndocs;
	mesh_diag *d;
	ck_assert_int_eq(parse(b.p, b.len, &arena, &docs, &ndocs, &d), 0);
	ck_assert_uint_eq(ndocs, 1);
	const struct mesh__node *root = docs[0].root;
	ck_assert_uint_eq(root->count, 200000);
	ck_assert_ptr_eq(root->u.items[199999], root->u.items[0]);
	mesh__free(docs);
	mesh__arena_fini(&arena);
	mesh_diag_free(d);
	bound_check(bd, 2, 128);
	free(b.p);
}
END_TEST

/* The expansion limit counts nodes, not nodes times depth: a big but
 * honest document is not mistaken for a bomb. */
START_TEST(alias_limit_counts_nodes)
{
	struct buf b = { 0 };
	puts_(&b, "a: {b: {c: [");
	repeat(&b, "0,", 1999999);
	puts_(&b, "0]}}\n");
	struct bound bd = bound_start();
	struct mesh__arena arena;
	struct mesh__doc *docs;
	size_t ndocs;
	mesh_diag *d;
	ck_assert_int_eq(parse(b.p, b.len, &arena, &docs, &ndocs, &d), 0);
	ck_assert_uint_eq(ndocs, 1);
	const struct mesh__node *list = mesh__node_path(docs[0].root, "a.b.c");
	ck_assert_ptr_nonnull(list);
	ck_assert_uint_eq(list->count, 2000000);
	mesh__free(docs);
	mesh__arena_fini(&arena);
	mesh_diag_free(d);
	free(b.p);
	bound_check(bd, 3, 400);
}
END_TEST

START_TEST(alias_unknown)
{
	assert_fails_str("a: *nope\n", MESH_ECONFIG, 1, 4,
	                 "alias '*nope' names no anchor defined before it");
	/* a collection cannot contain itself */
	assert_fails_str("a: &x [1, *x]\n", MESH_ECONFIG, 1, 11,
	                 "alias '*x' names no anchor defined before it");
	/* anchors end with their document */
	assert_fails_str("---\na: &x 1\n---\nb: *x\n", MESH_ECONFIG, 4, 4,
	                 "alias '*x' names no anchor defined before it");
	/* an alias of a collection cannot be a key */
	assert_fails_str("a: &x [1]\n*x : 2\n", MESH_ECONFIG, 2, 1,
	                 "a mapping key must be a plain value");
}
END_TEST

/* A repeated anchor name refers to the latest definition. */
START_TEST(alias_redefined)
{
	const char *y = "a: &x one\nb: &x two\nc: *x\nd: &x three\ne: *x\n";
	struct mesh__arena arena;
	struct mesh__doc *docs;
	size_t ndocs;
	mesh_diag *d;
	ck_assert_int_eq(parse(y, strlen(y), &arena, &docs, &ndocs, &d), 0);
	ck_assert_str_eq(mesh__node_str(mesh__node_get(docs[0].root, "c")), "two");
	ck_assert_str_eq(mesh__node_str(mesh__node_get(docs[0].root, "e")), "three");
	mesh__free(docs);
	mesh__arena_fini(&arena);
	mesh_diag_free(d);
}
END_TEST

/* ---- encodings ---- */

START_TEST(encoding_not_utf8)
{
	/* latin-1 "é" in a value, in the middle of a resource */
	const char *latin1 = "apiVersion: networking.istio.io/v1\n"
			     "kind: VirtualService\n"
			     "metadata:\n"
			     "  name: cafe\n"
			     "  annotations:\n"
			     "    owner: Ren\xe9 Dupont\n"
			     "spec:\n"
			     "  hosts: [cafe]\n";
	assert_fails_str(latin1, MESH_ECONFIG, 6, 15,
	                 "not valid YAML text: invalid trailing UTF-8 octet at byte 109");
	/* at the very end the sequence is cut short */
	assert_fails_str("name: caf\xe9", MESH_ECONFIG, 1, 10,
	                 "not valid YAML text: incomplete UTF-8 octet sequence at byte 9");
	/* overlong encodings of '/' */
	assert_fails_str("a: \xc0\xaf\n", MESH_ECONFIG, 1, 4,
	                 "not valid YAML text: invalid length of a UTF-8 sequence at byte 3");
	assert_fails_str("a: \xe0\x80\xaf\n", MESH_ECONFIG, 1, 4,
	                 "not valid YAML text: invalid length of a UTF-8 sequence at byte 3");
	/* a UTF-16 surrogate written as UTF-8 */
	assert_fails_str("a: \xed\xa0\x80\n", MESH_ECONFIG, 1, 4,
	                 "not valid YAML text: invalid Unicode character at byte 3");
	assert_fails_str("a: 1\nb: \xff\n", MESH_ECONFIG, 2, 4,
	                 "not valid YAML text: invalid leading UTF-8 octet at byte 8");
	/* columns count characters: two "é" before the bad byte */
	assert_fails_str("a: 1\nb: \xc3\xa9\xc3\xa9 \xc0\xaf\n", MESH_ECONFIG, 2, 7,
	                 "not valid YAML text: invalid length of a UTF-8 sequence at byte 13");
}
END_TEST

/* Multi-byte UTF-8 (and a UTF-8 byte-order mark) is fine. */
START_TEST(encoding_utf8_ok)
{
	const char *y = "\xef\xbb\xbf"
			"apiVersion: networking.istio.io/v1\n"
			"kind: VirtualService\n"
			"metadata:\n"
			"  name: cafe\n"
			"  annotations:\n"
			"    owner: \"Ren\xc3\xa9 \xe2\x98\x95 \xf0\x9d\x84\x9e\"\n"
			"spec:\n"
			"  hosts: [cafe]\n"
			"  http: [{route: [{destination: {host: cafe}}]}]\n";
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(load(y, strlen(y), &cfg, &d), 0);
	ck_assert_uint_eq(mesh_diag_count(d), 0);
	const mesh_resource *r = mesh_config_resource_at(cfg, 0);
	const char *s;
	unsigned line, col;
	ck_assert_int_eq(mesh_resource_get_string(r, "metadata.annotations.owner", &s), 0);
	ck_assert_str_eq(s, "Ren\xc3\xa9 \xe2\x98\x95 \xf0\x9d\x84\x9e");
	ck_assert_int_eq(mesh_resource_get_position(r, "spec.hosts[0]", &line, &col), 0);
	ck_assert_uint_eq(line, 8);
	ck_assert_uint_eq(col, 11);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
}
END_TEST

/* UTF-16 with a byte-order mark is YAML (1.2, section 5.2) and libyaml
 * decodes it: we accept it, with positions in characters. Without a mark
 * the text is taken as UTF-8, and its NUL bytes are refused. */
static size_t to_utf16(const char *s, char *out, bool le, bool bom)
{
	size_t n = 0;
	if (bom) {
		out[n++] = le ? '\xff' : '\xfe';
		out[n++] = le ? '\xfe' : '\xff';
	}
	for (; *s; s++) {
		out[n++] = le ? *s : '\0';
		out[n++] = le ? '\0' : *s;
	}
	return n;
}

START_TEST(encoding_utf16)
{
	const char *y = "apiVersion: networking.istio.io/v1\n"
			"kind: VirtualService\n"
			"metadata:\n"
			"  name: wide\n"
			"spec:\n"
			"  hosts:\n"
			"  - wide.example.com\n"
			"  http: [{route: [{destination: {host: wide.example.com}}]}]\n";
	char *buf = malloc(2 * strlen(y) + 2);
	ck_assert_ptr_nonnull(buf);
	for (int le = 0; le <= 1; le++) {
		size_t n = to_utf16(y, buf, le, true);
		mesh_config *cfg;
		mesh_diag *d;
		ck_assert_int_eq(load(buf, n, &cfg, &d), 0);
		ck_assert_uint_eq(mesh_diag_count(d), 0);
		ck_assert_uint_eq(mesh_config_resource_count(cfg), 1);
		const mesh_resource *r = mesh_config_resource_at(cfg, 0);
		ck_assert_str_eq(mesh_resource_name(r), "wide");
		const char *s;
		unsigned line, col;
		ck_assert_int_eq(mesh_resource_get_string(r, "spec.hosts[0]", &s), 0);
		ck_assert_str_eq(s, "wide.example.com");
		ck_assert_int_eq(mesh_resource_get_position(r, "spec.hosts[0]", &line, &col), 0);
		ck_assert_uint_eq(line, 7);
		ck_assert_uint_eq(col, 5);
		mesh_config_unref(cfg);
		mesh_diag_free(d);
	}
	size_t n = to_utf16(y, buf, true, false);
	assert_fails(buf, n, MESH_ECONFIG, 1, 2,
	             "not valid YAML text: control characters are not allowed at byte 1");
	/* a lone low surrogate in UTF-16: position in characters */
	n = to_utf16("a: 1\nb: x", buf, true, true);
	buf[n++] = '\x00';
	buf[n++] = '\xdc';
	assert_fails(buf, n, MESH_ECONFIG, 2, 5,
	             "not valid YAML text: unexpected low surrogate area at byte 20");
	free(buf);
}
END_TEST

/* ---- NUL bytes ---- */

START_TEST(nul_bytes)
{
	static const char raw[] = "apiVersion: v1\nkind: x\0y\n";
	assert_fails(raw, sizeof(raw) - 1, MESH_ECONFIG, 2, 8,
	             "not valid YAML text: control characters are not allowed at byte 22");
	/* a C string passed with its terminator */
	static const char term[] = "a: 1\n";
	assert_fails(term, sizeof(term), MESH_ECONFIG, 2, 1,
	             "not valid YAML text: control characters are not allowed at byte 5");
	/* escapes: in a value and in a key */
	assert_fails_str("a: \"x\\0y\"\n", MESH_ECONFIG, 1, 4, "NUL character in a value");
	assert_fails_str("a: \"x\\x00y\"\n", MESH_ECONFIG, 1, 4, "NUL character in a value");
	assert_fails_str("a:\n  \"k\\u0000\": 1\n", MESH_ECONFIG, 2, 3, "NUL character in a value");
}
END_TEST

/* ---- duplicate keys ---- */

START_TEST(duplicate_keys)
{
	assert_fails_str("a: 1\nb: 2\na: 3\n", MESH_ECONFIG, 3, 1,
	                 "duplicate key 'a' (first at line 1)");
	assert_fails_str("{x: 1, y: 2, x: 3}\n", MESH_ECONFIG, 1, 14,
	                 "duplicate key 'x' (first at line 1)");
	/* inside a resource */
	const char *y = "apiVersion: networking.istio.io/v1\n"
			"kind: VirtualService\n"
			"metadata:\n"
			"  name: one\n"
			"  name: two\n"
			"spec:\n"
			"  hosts: [a]\n";
	assert_fails_str(y, MESH_ECONFIG, 5, 3, "duplicate key 'name' (first at line 4)");
	/* quoted and plain spellings are the same key */
	assert_fails_str("a: 1\n\"a\": 2\n", MESH_ECONFIG, 2, 1,
	                 "duplicate key 'a' (first at line 1)");
}
END_TEST

/* Large maps take another path (sorting); it reports the same thing: the
 * first repeat in the text, against the first occurrence. */
START_TEST(duplicate_keys_large_map)
{
	struct buf b = { 0 };
	char line[64];
	for (int i = 0; i < 40; i++) {
		snprintf(line, sizeof(line), "k%d: %d\n", i, i);
		puts_(&b, line);
	}
	puts_(&b, "k7: again\nk3: again\nk7: and again\n");
	assert_fails(b.p, b.len, MESH_ECONFIG, 41, 1, "duplicate key 'k7' (first at line 8)");
	/* many keys, one repeat at the end: n log n, not n^2 */
	b.len = 0;
	for (int i = 0; i < 200000; i++) {
		snprintf(line, sizeof(line), "key%d: %d\n", i, i);
		puts_(&b, line);
	}
	puts_(&b, "key123456: x\n");
	struct bound bd = bound_start();
	assert_fails(b.p, b.len, MESH_ECONFIG, 200001, 1,
	             "duplicate key 'key123456' (first at line 123457)");
	bound_check(bd, 2, 128);
	free(b.p);
}
END_TEST

/* ---- document shapes ---- */

START_TEST(document_not_a_map)
{
	assert_fails_str("- a\n- b\n", MESH_ECONFIG, 1, 1,
	                 "a resource must be a mapping with apiVersion and kind, got a list");
	assert_fails_str("hello\n", MESH_ECONFIG, 1, 1,
	                 "a resource must be a mapping with apiVersion and kind, got a value");
	assert_fails_str("--- 42\n", MESH_ECONFIG, 1, 5,
	                 "a resource must be a mapping with apiVersion and kind, got a value");
	/* one bad document does not stop the others */
	struct buf b = { 0 };
	puts_(&b, vs_yaml);
	puts_(&b, "---\n- not a resource\n---\n");
	puts_(&b, vs_yaml);
	char *second = strstr(b.p + strlen(vs_yaml), "reviews-route");
	ck_assert_ptr_nonnull(second);
	memcpy(second, "reviews-other", 13);
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(load(b.p, b.len, &cfg, &d), MESH_ECONFIG);
	ck_assert_uint_eq(mesh_config_resource_count(cfg), 2);
	ck_assert_uint_eq(mesh_diag_count(d), 1);
	ck_assert_uint_eq(mesh_diag_line(d, 0), 50);
	ck_assert_uint_eq(mesh_diag_column(d, 0), 1);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
	free(b.p);
}
END_TEST

/* Nothing to load is no error. */
START_TEST(document_empty)
{
	static const char *const empty[] = {
		"",
		"\n\n   \n",
		"# only\n# comments\n",
		"---\n",
		"---\n---\n...\n",
		"--- # a comment\n...\n",
		"\xef\xbb\xbf",
		"%YAML 1.1\n---\n",
	};
	for (size_t i = 0; i < MESH_ARRAY_LEN(empty); i++)
		assert_loads(empty[i], strlen(empty[i]), 0);
	/* no buffer at all */
	assert_loads(NULL, 0, 0);
}
END_TEST

/* Windows and old-Mac line ends: valid, values without '\r', positions
 * as in the editor. */
START_TEST(line_endings)
{
	static const char *const eol[] = { "\r\n", "\r" };
	for (size_t e = 0; e < MESH_ARRAY_LEN(eol); e++) {
		struct buf b = { 0 };
		for (const char *p = vs_yaml; *p; p++) {
			if (*p == '\n')
				puts_(&b, eol[e]);
			else
				put(&b, p, 1);
		}
		mesh_config *cfg;
		mesh_diag *d;
		ck_assert_int_eq(load(b.p, b.len, &cfg, &d), 0);
		ck_assert_uint_eq(mesh_diag_count(d), 0);
		const mesh_resource *r = mesh_config_resource_at(cfg, 0);
		const char *s;
		unsigned line, col;
		ck_assert_int_eq(
			mesh_resource_get_string(r, "spec.http[1].route[1].destination.subset", &s),
			0);
		ck_assert_str_eq(s, "v3");
		ck_assert_int_eq(
			mesh_resource_get_position(r, "spec.http[1].route[1].weight", &line, &col),
			0);
		ck_assert_uint_eq(line, 44);
		ck_assert_uint_eq(col, 15);
		mesh_config_unref(cfg);
		mesh_diag_free(d);
		free(b.p);
	}
}
END_TEST

/* ---- size ---- */

/* A 10 MB value on one line: loads, in bounded time and memory. */
START_TEST(long_scalar)
{
	struct buf b = { 0 };
	puts_(&b, "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
	          "  name: long\n  annotations:\n    blob: x");
	repeat(&b, "0123456789", 1000000);
	puts_(&b, "\nspec:\n  hosts: [long]\n  http: [{route: [{destination: {host: long}}]}]\n");
	struct bound bd = bound_start();
	mesh_config *cfg;
	mesh_diag *d;
	ck_assert_int_eq(load(b.p, b.len, &cfg, &d), 0);
	const char *s;
	ck_assert_int_eq(mesh_resource_get_string(mesh_config_resource_at(cfg, 0),
	                                          "metadata.annotations.blob", &s),
	                 0);
	ck_assert_uint_eq(strlen(s), 10000001);
	mesh_config_unref(cfg);
	mesh_diag_free(d);
	bound_check(bd, 2, 100);
	/* the same in a key: YAML allows implicit keys of up to 1024
	 * characters (libyaml then reports the ':'), longer ones take '?' */
	b.len = 0;
	puts_(&b, "a:\n  ");
	repeat(&b, "k", 10000000);
	puts_(&b, ": 1\n");
	bd = bound_start();
	assert_fails(b.p, b.len, MESH_ECONFIG, 2, 10000003,
	             "YAML syntax: mapping values are not allowed in this context");
	b.len = 0;
	puts_(&b, "a:\n  ? ");
	repeat(&b, "k", 10000000);
	puts_(&b, "\n  : 1\n");
	struct mesh__arena arena;
	struct mesh__doc *docs;
	size_t ndocs;
	ck_assert_int_eq(parse(b.p, b.len, &arena, &docs, &ndocs, &d), 0);
	ck_assert_uint_eq(mesh__node_get(docs[0].root, "a")->u.pairs[0].key->count, 10000000);
	mesh__free(docs);
	mesh__arena_fini(&arena);
	mesh_diag_free(d);
	bound_check(bd, 2, 100);
	free(b.p);
}
END_TEST

/* 100000 documents are allowed in one input, one more is not. */
START_TEST(document_limit)
{
	struct buf b = { 0 };
	repeat(&b, "---\n", MESH_YAML_MAX_DOCS);
	struct bound bd = bound_start();
	assert_loads(b.p, b.len, 0);
	puts_(&b, "---\n");
	assert_fails(b.p, b.len, MESH_ELIMIT, MESH_YAML_MAX_DOCS + 1, 1,
	             "more than 100000 documents");
	/* tiny documents that would each be an error are cut off first */
	b.len = 0;
	repeat(&b, "--- {a: 1}\n", MESH_YAML_MAX_DOCS + 1);
	assert_fails(b.p, b.len, MESH_ELIMIT, MESH_YAML_MAX_DOCS + 1, 1,
	             "more than 100000 documents");
	bound_check(bd, 3, 200);
	free(b.p);
}
END_TEST

/* ---- allocation failures ---- */

/* For n = 0, 1, ...: the n-th allocation fails. The load returns
 * MESH_ENOMEM (or succeeds when the failure hit something optional),
 * never crashes, and leaks nothing (checked by the sanitizer build).
 * Returns the number of runs until one needed no failure. */
static long alloc_fail_loop(const char *yaml, int ok_rc, size_t nres)
{
	for (long n = 0;; n++) {
		mesh__alloc_fail_after(n);
		mesh_config *cfg = NULL;
		mesh_diag *d = NULL;
		int rc = mesh_config_new(&cfg);
		if (!rc)
			rc = mesh_diag_new(&d);
		if (!rc)
			rc = mesh_config_load_buffer(cfg, "test.yaml", yaml, strlen(yaml), d);
		int arc = rc == ok_rc ? mesh_config_analyze(cfg, d) : 0;
		char *json = d ? mesh_diag_to_json(d) : NULL;
		/* the budget left over says whether a failure was injected */
		void *probe = mesh__malloc(1);
		mesh__alloc_fail_after(-1);
		bool done = probe != NULL;
		mesh__free(probe);
		ck_assert_msg(rc == ok_rc || rc == MESH_ENOMEM, "n=%ld: rc=%d", n, rc);
		ck_assert_msg(arc >= 0 || arc == MESH_ENOMEM, "n=%ld: analyze rc=%d", n, arc);
		if (rc == ok_rc)
			ck_assert_msg(mesh_config_resource_count(cfg) == nres,
			              "n=%ld: rc=%d with %zu resources", n, rc,
			              mesh_config_resource_count(cfg));
		mesh_free(json);
		mesh_diag_free(d);
		mesh_config_unref(cfg);
		if (done) {
			ck_assert_int_eq(rc, ok_rc);
			return n;
		}
		ck_assert_msg(n < 1000000, "no end to allocations");
	}
}

START_TEST(alloc_failures_valid)
{
	long n = alloc_fail_loop(vs_yaml, 0, 1);
	ck_assert_int_gt(n, 50);
}
END_TEST

START_TEST(alloc_failures_invalid)
{
	/* errors (diagnostics allocate), anchors, aliases, several documents */
	const char *y = "apiVersion: networking.istio.io/v1\n"
			"kind: VirtualService\n"
			"metadata: {name: a, labels: &l {app: a}}\n"
			"spec:\n"
			"  hosts: [a, b]\n"
			"  http:\n"
			"  - route: &r\n"
			"    - destination: {host: a}\n"
			"      weight: 90\n"
			"  - route: *r\n"
			"    timeot: 1s\n"
			"---\n"
			"apiVersion: networking.istio.io/v1\n"
			"kind: DestinationRule\n"
			"metadata: {name: a}\n"
			"spec: {host: a, subsets: [{name: v1, labels: {version: v1}}]}\n"
			"---\n"
			"- a list\n";
	long n = alloc_fail_loop(y, MESH_ECONFIG, 1);
	ck_assert_int_gt(n, 20);
}
END_TEST

START_TEST(alloc_failures_syntax)
{
	alloc_fail_loop("a: &x [1, 2]\nb: [*x, *x, *x]\nc: {d: [\n", MESH_ECONFIG, 0);
	alloc_fail_loop("a: 1\nb: 2\na: 3\n", MESH_ECONFIG, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("yaml");
	TCase *tc = tcase_create("malformed");
	tcase_add_test(tc, malformed_flow);
	tcase_add_test(tc, malformed_indentation);
	tcase_add_test(tc, malformed_in_resource);
	tcase_add_test(tc, malformed_after_valid_documents);
	suite_add_tcase(s, tc);

	tc = tcase_create("garbage");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, garbage_random_bytes);
	tcase_add_test(tc, garbage_yaml_tokens);
	tcase_add_test(tc, garbage_after_valid_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, huge_file);
	tcase_add_test(tc, huge_stream);
	tcase_add_test(tc, huge_buffer);
	tcase_add_test(tc, deep_flow);
	tcase_add_test(tc, deep_block);
	tcase_add_test(tc, depth_limit_exact);
	tcase_add_test(tc, long_scalar);
	tcase_add_test(tc, document_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("aliases");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, alias_billion_laughs);
	tcase_add_test(tc, alias_wide);
	tcase_add_test(tc, alias_per_input);
	tcase_add_test(tc, alias_many_anchors);
	tcase_add_test(tc, alias_limit_counts_nodes);
	tcase_add_test(tc, alias_unknown);
	tcase_add_test(tc, alias_redefined);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_test(tc, encoding_not_utf8);
	tcase_add_test(tc, encoding_utf8_ok);
	tcase_add_test(tc, encoding_utf16);
	tcase_add_test(tc, nul_bytes);
	tcase_add_test(tc, duplicate_keys);
	tcase_add_test(tc, duplicate_keys_large_map);
	tcase_add_test(tc, document_not_a_map);
	tcase_add_test(tc, document_empty);
	tcase_add_test(tc, line_endings);
	suite_add_tcase(s, tc);

	tc = tcase_create("alloc");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, alloc_failures_valid);
	tcase_add_test(tc, alloc_failures_invalid);
	tcase_add_test(tc, alloc_failures_syntax);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
