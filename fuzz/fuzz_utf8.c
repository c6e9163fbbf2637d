/*
 * fuzz_utf8.c: libFuzzer target for the UTF-8 helpers, the offset
 * conversions and the page-text normaliser (src/core/utf8.c).
 *
 * Offsets are what the annotations live on, so the target checks the
 * functions against each other, not only for crashes:
 *   - decoding consumes 1..4 bytes and never more than is left, and the
 *     number of steps is apf_utf8_count(); the UTF-16 length is the sum of
 *     the code points' widths; validate fails exactly when a step is ill-formed;
 *   - encode(decode(x)) gives back x for well-formed input;
 *   - code point -> byte -> code point and code point -> UTF-16 -> code point
 *     are identities at every boundary checked, the end included; a byte
 *     offset inside a sequence and an offset past the end are refused;
 *   - the normaliser's output is well-formed UTF-8 with no control
 *     character but '\n', no leading or trailing whitespace, no double
 *     space, no run of three newlines, and stats.chars counts its code
 *     points; normalising it again changes nothing; with a small cap the
 *     output is a prefix cut on a code point boundary.
 * A failed check calls abort(), which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/buf.h"
#include "apflow/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "fuzz_utf8: check failed at line %d: %s\n", __LINE__, #cond); \
			abort();                                                     \
		}                                                                    \
	} while (0)

/* The offsets to check: all of them for short texts, else about 64. */
static int sampled(size_t i, size_t n)
{
	return n <= 64 || i % (n / 64 + 1) == 0 || i == n;
}

static void check_normalised(const char *s, size_t len, const struct apf_text_stats *st)
{
	size_t bad, spaces = 0, nls = 0;

	CHECK(apf_utf8_validate(s, len, &bad) == 0);
	CHECK(strlen(s) == len);
	if (st)
		CHECK(st->chars == apf_utf8_count(s, len));
	if (len) {
		CHECK(s[0] != ' ' && s[0] != '\n');
		CHECK(s[len - 1] != ' ' && s[len - 1] != '\n');
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		CHECK(c >= 0x20 || c == '\n');
		CHECK(c != 0x7f);
		spaces = c == ' ' ? spaces + 1 : 0;
		nls = c == '\n' ? nls + 1 : 0;
		CHECK(spaces < 2 && nls < 3);
		/* no space next to a newline */
		if (c == '\n' && i > 0)
			CHECK(s[i - 1] != ' ');
		if (c == '\n' && i + 1 < len)
			CHECK(s[i + 1] != ' ');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s;
	char *copy = malloc(size ? size : 1), enc[4];
	size_t count = 0, u16 = 0, i = 0, n, out, back, bad;
	int valid = 1;
	struct apf_buf b, b2, capped;
	struct apf_text_stats st, st2;

	memcpy(copy, data, size);
	s = copy;

	/* Decoding, counting, validating. */
	while (i < size) {
		uint32_t cp;
		n = apf_utf8_decode(s + i, size - i, &cp);
		CHECK(n >= 1 && n <= 4 && n <= size - i);
		CHECK(cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF));
		if (cp == APF_UTF8_REPLACEMENT && !(n == 3 && !memcmp(s + i, "\xEF\xBF\xBD", 3)))
			valid = 0;
		else {
			size_t m = apf_utf8_encode(cp, enc);
			CHECK(m == n && !memcmp(enc, s + i, n));
		}
		u16 += cp > 0xFFFF ? 2 : 1;
		count++;
		i += n;
	}
	CHECK(apf_utf8_count(s, size) == count);
	CHECK(apf_utf8_utf16_len(s, size) == u16);
	CHECK((apf_utf8_validate(s, size, &bad) == 0) == valid);
	if (!valid)
		CHECK(bad < size);

	/* Offsets: code point <-> byte, code point <-> UTF-16. */
	for (size_t k = 0; k <= count; k++) {
		if (!sampled(k, count))
			continue;
		CHECK(apf_utf8_cp_to_byte(s, size, k, &out) == 0);
		CHECK(out <= size);
		CHECK(apf_utf8_byte_to_cp(s, size, out, &back) == 0 && back == k);
		CHECK(apf_utf8_cp_to_utf16(s, size, k, &out) == 0);
		CHECK(out <= u16);
		CHECK(apf_utf8_utf16_to_cp(s, size, out, &back) == 0 && back == k);
	}
	CHECK(apf_utf8_cp_to_byte(s, size, count + 1, &out) == -1);
	CHECK(apf_utf8_byte_to_cp(s, size, size + 1, &out) == -1);
	CHECK(apf_utf8_utf16_to_cp(s, size, u16 + 1, &out) == -1);
	CHECK(apf_utf8_cp_to_utf16(s, size, count + 1, &out) == -1);
	/* Every byte offset either is a boundary or is refused. */
	for (size_t k = 0; k <= size; k++) {
		if (!sampled(k, size))
			continue;
		if (apf_utf8_byte_to_cp(s, size, k, &out) == 0) {
			CHECK(out <= count);
			CHECK(apf_utf8_cp_to_byte(s, size, out, &back) == 0 && back == k);
		}
	}

	/* The normaliser. */
	apf_buf_init(&b, 0);
	apf_buf_init(&b2, 0);
	CHECK(apf_text_normalize(s, size, &b, &st) == 0);
	CHECK(b.data != NULL);
	check_normalised(b.data, b.len, &st);
	CHECK(st.nonspace <= st.chars && st.garbage <= st.nonspace && st.words <= st.nonspace);
	CHECK(apf_text_normalize(b.data, b.len, &b2, &st2) == 0);
	CHECK(b2.len == b.len && !memcmp(b2.data, b.data, b.len));
	CHECK(st2.chars == st.chars && st2.nonspace == st.nonspace && st2.words == st.words &&
	      st2.garbage == st.garbage);

	/* A cap: the output is a prefix of the uncapped one, on a boundary. */
	if (b.len > 1) {
		size_t cap = (size > 0 ? data[0] : 1) % b.len + 1;
		apf_buf_init(&capped, cap);
		int rc = apf_text_normalize(s, size, &capped, NULL);
		size_t got = capped.data ? capped.len : 0;
		CHECK(got <= cap);
		CHECK(rc == 0 ? got == b.len : rc == -1);
		CHECK(!memcmp(capped.data ? capped.data : "", b.data, got));
		CHECK(apf_utf8_validate(capped.data ? capped.data : "", got, &bad) == 0);
		apf_buf_release(&capped);
	}

	apf_buf_release(&b);
	apf_buf_release(&b2);
	free(copy);
	return 0;
}
