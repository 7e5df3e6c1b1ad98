/*
 * h1_int.h - what the HTTP/1 codec's own files share: the character
 * classes and the parser's internal states. Not for other modules.
 */
#ifndef MESH_SRC_HTTP_H1_INT_H
#define MESH_SRC_HTTP_H1_INT_H

#include "h1.h"

/* Character classes (mesh__h1_ctype bits). */
#define H1_TOKEN 0x01  /* tchar (RFC 9110 5.6.2) */
#define H1_VALUE 0x02  /* field-vchar, SP, HT, obs-text */
#define H1_TARGET 0x04 /* request-target byte: VCHAR but '#' */
#define H1_HOST 0x08   /* reg-name / IPv4 byte: unreserved, sub-delims, '%' */
#define H1_HEX 0x10    /* HEXDIG */
#define H1_QDTEXT 0x20 /* qdtext of a quoted-string */

extern const uint8_t mesh__h1_ctype[256];

static inline bool h1_is(unsigned char c, unsigned cls)
{
	return (mesh__h1_ctype[c] & cls) != 0;
}

static inline unsigned char h1_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* Parser states (struct mesh__h1_parser.state). */
enum {
	H1_S_START = 0,   /* before a message: skipping empty lines */
	H1_S_START_LF,    /* an empty line's CR was seen */
	H1_S_HEAD,        /* a head is arriving (not consumed until complete) */
	H1_S_BODY_LENGTH, /* Content-Length body */
	H1_S_BODY_CLOSE,  /* response body until EOF */
	H1_S_CHUNK_LINE,  /* a chunk-size line (not consumed until complete) */
	H1_S_CHUNK_DATA,
	H1_S_CHUNK_CR, /* CRLF after chunk data */
	H1_S_CHUNK_LF,
	H1_S_TRAILERS, /* trailer section (not consumed until complete) */
	H1_S_MSG_END,  /* on_end is due */
	H1_S_TUNNEL,
	H1_S_CLOSED,
	H1_S_ERROR,
};

/* struct mesh__h1_parser.expect */
enum { H1_EXPECT_NONE = 0, H1_EXPECT_HEAD, H1_EXPECT_CONNECT };

#endif
