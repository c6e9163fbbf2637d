/*
 * httphead.h: the server's check of a request's head (request line and
 * header fields) before libmicrohttpd sees it.
 *
 * The gate (gate.c) peeks at each new connection's first bytes and runs
 * them through httphead_parse(): a head that is malformed, ambiguous
 * about where its body ends, or too large is refused there with a JSON
 * error, so libmicrohttpd never answers with its own HTML page or guesses
 * a body length.  Refused:
 *   - a request line that is not METHOD SP TARGET SP HTTP/1.0|HTTP/1.1,
 *     a NUL, a bare CR or LF, a control character in a field, a folded
 *     field (obs-fold), a field name that is not a token;
 *   - a %00 in the path (libmicrohttpd would cut the path there);
 *   - a Content-Length that is not 1 to 18 digits (no sign, no list, no
 *     trailing space), two Content-Lengths that differ;
 *   - a Transfer-Encoding other than exactly "chunked" (so "gzip,
 *     chunked", "chunked ", "identity" and two Transfer-Encoding fields
 *     are refused),
 *     a Transfer-Encoding in HTTP/1.0, a Transfer-Encoding together with
 *     a Content-Length;
 *   - an HTTP/1.1 request without exactly one Host;
 *   - a head over HTTPHEAD_MAX bytes or HTTPHEAD_MAX_FIELDS fields
 *     (APF_EHDRTOOBIG, 431).
 * Pure: no I/O, no allocation, so it can be fuzzed on its own.
 */
#ifndef APFLOW_SERVER_HTTPHEAD_H
#define APFLOW_SERVER_HTTPHEAD_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/err.h"

#define HTTPHEAD_MAX 16384      /* bytes of request line + fields + blank line */
#define HTTPHEAD_MAX_FIELDS 100
#define HTTPHEAD_MORE (-1)      /* httphead_parse(): the head is not complete yet */

struct httphead {
	size_t len;              /* bytes of the head, through its blank line */
	char method[16];
	int http11;              /* 1: HTTP/1.1, 0: HTTP/1.0 */
	int64_t content_length;  /* -1: none */
	int chunked;             /* Transfer-Encoding: chunked */
};

/*
 * Checks the first len bytes a client sent.  Returns 0 and fills *h when
 * they start with a complete, acceptable head; HTTPHEAD_MORE when the
 * head is not complete yet and nothing seen so far is wrong; else an
 * APF_E* code (APF_EINVAL for a malformed or ambiguous head,
 * APF_EHDRTOOBIG) with the reason in err.  Bytes after the head (the
 * body) are not looked at.
 */
int httphead_parse(const char *buf, size_t len, struct httphead *h, struct apf_err *err);

/*
 * A chunked request body's framing (RFC 9112 7.1), checked as the bytes
 * stream past (the gate relays a chunked request to libmicrohttpd, which
 * would answer a framing error with its own HTML page): each chunk is 1
 * to 15 hex digits, an optional extension (';' and visible characters, at
 * most CHUNK_EXT_MAX bytes), CRLF, the data, CRLF; the last is "0", then
 * trailer fields (at most CHUNK_TRAILER_MAX bytes) and CRLF.  At least as
 * strict as libmicrohttpd 0.9.75, so that what passes here passes there.
 */
#define CHUNK_EXT_MAX 1024
#define CHUNK_TRAILER_MAX 8192

struct chunkparse {
	int state;
	int digits;
	uint64_t left;   /* data bytes of the current chunk still to come */
	size_t len;      /* bytes of the current extension or trailer */
	int last;        /* the current chunk is the last ("0") */
};

/* Starts (zeros) cp. */
void chunkparse_init(struct chunkparse *cp);
/* Feeds the next n bytes of the body.  Returns 0 when more is to come
 * (*used = n), 1 when the body ended (*used: its last bytes in buf; the
 * rest is not the body's), or APF_EINVAL with the reason in err. */
int chunkparse_feed(struct chunkparse *cp, const char *buf, size_t n, size_t *used, struct apf_err *err);

#endif
