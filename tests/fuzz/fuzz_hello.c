/*
 * fuzz_hello.c - libFuzzer target for the TLS ClientHello parser that
 * gateway listeners use to read the SNI (engine/tls.c). The input is what
 * a client sent first. It is parsed as a whole (no more bytes to come) and
 * as bytes that may be followed by more, and the two answers must agree:
 * a whole ClientHello is found either way with the same name, and "need
 * more" only where the whole input is no ClientHello. Every prefix of a
 * ClientHello found must ask for more, and a name found is a host name in
 * lower case.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../libmesh/src/engine/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char whole[256], part[256];
	if (size > MESH__TLS_HELLO_MAX)
		size = MESH__TLS_HELLO_MAX;
	int r = mesh__tls_hello_sni(data, size, true, whole, sizeof(whole));
	int p = mesh__tls_hello_sni(data, size, false, part, sizeof(part));
	CHECK(r == 1 || r == -1);
	CHECK(p >= -1 && p <= 1);
	CHECK(r != 1 || (p == 1 && !strcmp(whole, part)));
	CHECK(p != 0 || r == -1);
	if (r == 1) {
		for (const char *c = whole; *c; c++)
			CHECK((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
			      *c == '.' || *c == '_');
		/* a shorter input cannot be a whole ClientHello too, unless
		 * bytes after the ClientHello were cut */
		char tmp[256];
		if (size > 0) {
			int q = mesh__tls_hello_sni(data, size - 1, false, tmp, sizeof(tmp));
			CHECK(q == 0 || (q == 1 && !strcmp(tmp, whole)));
		}
	}
	return 0;
}
