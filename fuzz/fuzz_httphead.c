/*
 * fuzz_httphead.c: libFuzzer target for the check of a request's head
 * (src/server/httphead.c), which the server's gate runs on the first bytes
 * of every connection before libmicrohttpd sees them.
 *
 * The input is what a client sends.  Besides "no crash, no leak, no read
 * past the end" (the bytes are in a buffer of exactly their size), the
 * target checks what the gate relies on, since it peeks at a head that
 * may arrive in pieces:
 *   - an accepted head has 0 < len <= the bytes given, a method of tchars,
 *     content_length -1 or >= 0, never both a length and chunked;
 *   - parsing exactly its len bytes gives the same head; bytes after it
 *     (the body) change nothing;
 *   - no prefix of an accepted head is refused: each says HTTPHEAD_MORE;
 *   - a refusal is APF_EINVAL or APF_EHDRTOOBIG with a message, and a
 *     longer input that starts with the refused bytes is refused too;
 *   - HTTPHEAD_MORE only while under HTTPHEAD_MAX bytes.
 * After an accepted chunked head, the rest is its body for the chunked
 * framing check (chunkparse_feed(), which the gate's relay runs as the
 * body streams): fed whole or a byte at a time, the verdict and where the
 * body ends are the same, and an end is within the bytes given.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/err.h"
#include "server/httphead.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "fuzz_httphead: check failed at line %d: %s\n", __LINE__, #cond); \
			abort();                                                         \
		}                                                                        \
	} while (0)

static int parse(const uint8_t *data, size_t n, struct httphead *h, struct apf_err *err)
{
	char *copy = malloc(n ? n : 1);
	int rc;

	memcpy(copy, data, n);
	memset(h, 0xAA, sizeof(*h));
	apf_err_clear(err);
	rc = httphead_parse(copy, n, h, err);
	free(copy);
	return rc;
}

static int same(const struct httphead *a, const struct httphead *b)
{
	return a->len == b->len && !strcmp(a->method, b->method) && a->http11 == b->http11 &&
	       a->content_length == b->content_length && a->chunked == b->chunked;
}

/* Feeds body[0..n) in pieces of step; returns the verdict, *end where
 * the body ended (verdict 1). */
static int chunk_feed(const uint8_t *body, size_t n, size_t step, size_t *end)
{
	struct chunkparse cp;
	struct apf_err err;
	size_t off = 0, used;
	int rc = 0;

	chunkparse_init(&cp);
	apf_err_clear(&err);
	*end = 0;
	while (off < n) {
		size_t k = n - off < step ? n - off : step;
		char *copy = malloc(k); /* exactly the piece: reads past it are caught */

		memcpy(copy, body + off, k);
		rc = chunkparse_feed(&cp, copy, k, &used, &err);
		free(copy);
		CHECK(rc == 0 || rc == 1 || rc == APF_EINVAL);
		if (rc == 1) {
			CHECK(used <= k);
			*end = off + used;
			return 1;
		}
		if (rc) {
			CHECK(err.code == APF_EINVAL && err.msg[0]);
			return rc;
		}
		CHECK(used == k);
		off += k;
	}
	return rc;
}

static void check_chunked(const uint8_t *body, size_t n)
{
	size_t end1, end2;
	int rc1 = chunk_feed(body, n, n ? n : 1, &end1);
	int rc2 = chunk_feed(body, n < 4096 ? n : 4096, 1, &end2);

	if (n >= 4096)
		return; /* byte by byte only for short bodies */
	CHECK(rc1 == rc2);
	if (rc1 == 1)
		CHECK(end1 == end2 && end1 > 0 && end1 <= n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httphead h, h2;
	struct apf_err err, err2;
	int rc = parse(data, size, &h, &err);

	if (rc == HTTPHEAD_MORE) {
		CHECK(size < HTTPHEAD_MAX);
		return 0;
	}
	if (rc) {
		CHECK(rc == APF_EINVAL || rc == APF_EHDRTOOBIG);
		CHECK(err.code == rc && err.msg[0]);
		/* More bytes after refused ones are refused too. */
		if (size > 0 && size < 4096) {
			uint8_t *longer = malloc(size + 4);
			memcpy(longer, data, size);
			memcpy(longer + size, "\r\n\r\n", 4);
			CHECK(parse(longer, size + 4, &h2, &err2) > 0);
			free(longer);
		}
		return 0;
	}
	CHECK(h.len > 0 && h.len <= size);
	CHECK(h.method[0] && strlen(h.method) < sizeof(h.method));
	CHECK(h.http11 == 0 || h.http11 == 1);
	CHECK(h.content_length >= -1);
	CHECK(!(h.chunked && h.content_length >= 0));
	CHECK(!(h.chunked && !h.http11));
	CHECK(parse(data, h.len, &h2, &err2) == 0 && same(&h, &h2));
	if (h.chunked)
		check_chunked(data + h.len, size - h.len);
	/* Every prefix (about 64 of them for a long head) waits for more. */
	for (size_t n = 0; n < h.len; n += h.len > 64 ? h.len / 64 : 1) {
		rc = parse(data, n, &h2, &err2);
		if (rc != HTTPHEAD_MORE)
			fprintf(stderr, "fuzz_httphead: the first %zu of %zu bytes of an accepted head give %d: %s\n", n,
				h.len, rc, err2.msg);
		CHECK(rc == HTTPHEAD_MORE);
	}
	return 0;
}
