/* test_utf8.c: UTF-8 decoding, offset conversions, the text normaliser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apflow/buf.h"
#include "apflow/utf8.h"
#include "apflow/util.h"

/* A line with accents, CJK, a 4-byte emoji, a combining mark and an emoji
 * ZWJ sequence:  "Ærø 中文 😀 é 👩‍🚀"
 *   Æ r ø ␠ 中 文 ␠ 😀 ␠ e ◌́ ␠ 👩 ZWJ 🚀       15 code points
 *   2 1 2 1 3  3  1 4  1 1 2  1 4  3   4       33 bytes
 *   1 1 1 1 1  1  1 2  1 1 1  1 2  1   2       18 UTF-16 units   */
#define MIXED "\xC3\x86r\xC3\xB8 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 e\xCC\x81 " \
	      "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x9A\x80"

static void test_decode_encode(void **state)
{
	static const struct { const char *s; uint32_t cp; size_t n; } ok[] = {
		{ "A", 0x41, 1 },
		{ "\xC3\xA9", 0xE9, 2 },              /* é */
		{ "\xCC\x81", 0x301, 2 },             /* combining acute */
		{ "\xE4\xB8\xAD", 0x4E2D, 3 },        /* 中 */
		{ "\xEF\xBF\xBD", 0xFFFD, 3 },        /* a real U+FFFD decodes as such */
		{ "\xF0\x9F\x98\x80", 0x1F600, 4 },   /* 😀 */
		{ "\xF4\x8F\xBF\xBF", 0x10FFFF, 4 },
	};
	char buf[4];
	uint32_t cp;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(apf_utf8_decode(ok[i].s, strlen(ok[i].s), &cp), ok[i].n);
		assert_int_equal(cp, ok[i].cp);
		assert_int_equal(apf_utf8_encode(cp, buf), ok[i].n);
		assert_memory_equal(buf, ok[i].s, ok[i].n);
	}
	/* Surrogates and values past U+10FFFF encode as U+FFFD. */
	assert_int_equal(apf_utf8_encode(0xD800, buf), 3);
	assert_memory_equal(buf, "\xEF\xBF\xBD", 3);
	assert_int_equal(apf_utf8_encode(0x110000, buf), 3);
	assert_memory_equal(buf, "\xEF\xBF\xBD", 3);
}

static void test_decode_ill_formed(void **state)
{
	static const struct { const char *s; size_t len, n; } bad[] = {
		{ "\x80", 1, 1 },                     /* stray continuation */
		{ "\xC0\xAF", 2, 1 },                 /* overlong lead: 1, then AF alone */
		{ "\xE0\x80\xAF", 3, 1 },             /* overlong 3-byte */
		{ "\xED\xA0\x80", 3, 1 },             /* surrogate D800 */
		{ "\xF4\x90\x80\x80", 4, 1 },         /* past U+10FFFF */
		{ "\xF5\x80", 2, 1 },                 /* no such lead */
		{ "\xE4\xB8", 2, 2 },                 /* truncated: maximal subpart */
		{ "\xF0\x9F\x98" "A", 4, 3 },         /* truncated emoji then A */
		{ "\xE4\xB8\x41", 3, 2 },             /* continuation missing */
	};
	uint32_t cp;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(apf_utf8_decode(bad[i].s, bad[i].len, &cp), bad[i].n);
		assert_int_equal(cp, APF_UTF8_REPLACEMENT);
	}
	/* Each maximal subpart counts as one code point. */
	assert_int_equal(apf_utf8_count("\xF0\x9F\x98" "A", 4), 2);
	assert_int_equal(apf_utf8_count("\xC0\xAF", 2), 2);
	assert_int_equal(apf_utf8_count("a\xED\xA0\x80z", 5), 5);
}

static void test_validate(void **state)
{
	size_t bad = 0;

	(void)state;
	assert_int_equal(apf_utf8_validate(MIXED, strlen(MIXED), &bad), 0);
	assert_int_equal(apf_utf8_validate("", 0, &bad), 0);
	assert_int_equal(apf_utf8_validate("ab\xC3", 3, &bad), -1);
	assert_int_equal(bad, 2);
	assert_int_equal(apf_utf8_validate("abc\xED\xA0\x80", 6, &bad), -1);
	assert_int_equal(bad, 3);
	assert_int_equal(apf_utf8_validate("\xC3\xA9\xC0\x80", 4, &bad), -1);
	assert_int_equal(bad, 2);
	assert_int_equal(apf_utf8_validate("a\0b", 3, NULL), 0); /* NUL is well-formed */
}

static void test_count(void **state)
{
	(void)state;
	assert_int_equal(apf_utf8_count(MIXED, strlen(MIXED)), 15);
	assert_int_equal(strlen(MIXED), 33);
	assert_int_equal(apf_utf8_utf16_len(MIXED, strlen(MIXED)), 18);
	assert_int_equal(apf_utf8_count("S\xC3\xA3o Paulo", 10), 9);
	assert_int_equal(apf_utf8_count("", 0), 0);
	/* e + combining acute is two code points (no normalisation). */
	assert_int_equal(apf_utf8_count("e\xCC\x81", 3), 2);
}

static void test_offsets(void **state)
{
	/* code point offset -> byte offset and UTF-16 offset, for MIXED */
	static const size_t byte_at[] = { 0, 2, 3, 5, 6, 9, 12, 13, 17, 18, 19, 21, 22, 26, 29, 33 };
	static const size_t u16_at[] = { 0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 15, 16, 18 };
	const char *s = MIXED;
	size_t len = strlen(s), out;

	(void)state;
	for (size_t cp = 0; cp <= 15; cp++) {
		assert_int_equal(apf_utf8_cp_to_byte(s, len, cp, &out), 0);
		assert_int_equal(out, byte_at[cp]);
		assert_int_equal(apf_utf8_byte_to_cp(s, len, byte_at[cp], &out), 0);
		assert_int_equal(out, cp);
		assert_int_equal(apf_utf8_cp_to_utf16(s, len, cp, &out), 0);
		assert_int_equal(out, u16_at[cp]);
		assert_int_equal(apf_utf8_utf16_to_cp(s, len, u16_at[cp], &out), 0);
		assert_int_equal(out, cp);
	}
	/* Past the end. */
	assert_int_equal(apf_utf8_cp_to_byte(s, len, 16, &out), -1);
	assert_int_equal(apf_utf8_byte_to_cp(s, len, 34, &out), -1);
	assert_int_equal(apf_utf8_cp_to_utf16(s, len, 16, &out), -1);
	assert_int_equal(apf_utf8_utf16_to_cp(s, len, 19, &out), -1);
	/* Inside a sequence: the second byte of Æ, inside 中, inside 😀. */
	assert_int_equal(apf_utf8_byte_to_cp(s, len, 1, &out), -1);
	assert_int_equal(apf_utf8_byte_to_cp(s, len, 7, &out), -1);
	assert_int_equal(apf_utf8_byte_to_cp(s, len, 15, &out), -1);
	/* Between the halves of a surrogate pair (😀 is units 7-8, 👩 13-14). */
	assert_int_equal(apf_utf8_utf16_to_cp(s, len, 8, &out), -1);
	assert_int_equal(apf_utf8_utf16_to_cp(s, len, 14, &out), -1);
	/* Argilla-style: a span over "😀" given in UTF-16 units [7, 9) is code
	 * points [7, 8). */
	assert_int_equal(apf_utf8_utf16_to_cp(s, len, 7, &out), 0);
	assert_int_equal(out, 7);
	assert_int_equal(apf_utf8_utf16_to_cp(s, len, 9, &out), 0);
	assert_int_equal(out, 8);
	/* Empty text: offset 0 only. */
	assert_int_equal(apf_utf8_cp_to_byte("", 0, 0, &out), 0);
	assert_int_equal(out, 0);
	assert_int_equal(apf_utf8_utf16_to_cp("", 0, 1, &out), -1);
}

static void test_private_use(void **state)
{
	(void)state;
	assert_true(apf_utf8_is_private_use(0xE000));
	assert_true(apf_utf8_is_private_use(0xF8FF));
	assert_true(apf_utf8_is_private_use(0xF0000));
	assert_true(apf_utf8_is_private_use(0x10FFFD));
	assert_false(apf_utf8_is_private_use(0xF900));
	assert_false(apf_utf8_is_private_use(0x1F600));
	assert_false(apf_utf8_is_private_use(0xFFFD));
}

/* Normalises s and compares with want. */
static void norm_eq(const char *s, size_t len, const char *want, struct apf_text_stats *st)
{
	struct apf_buf b;

	apf_buf_init(&b, 0);
	assert_int_equal(apf_text_normalize(s, len, &b, st), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, want);
	assert_int_equal(b.len, strlen(want));
	assert_int_equal(apf_utf8_validate(b.data, b.len, NULL), 0);
	if (st)
		assert_int_equal(st->chars, apf_utf8_count(b.data, b.len));
	apf_buf_release(&b);
}

static void test_normalize_whitespace(void **state)
{
	static const char in[] = "  \n\n Hello \t  world  \n\n\n\n  Next   para  \r\nline\rthree  \n\n";
	struct apf_text_stats st;

	(void)state;
	norm_eq(in, sizeof(in) - 1, "Hello world\n\nNext para\nline\nthree", &st);
	assert_int_equal(st.words, 6);
	assert_int_equal(st.nonspace, strlen("Helloworld") + strlen("Nextparalinethree"));
	assert_int_equal(st.garbage, 0);
	norm_eq("", 0, "", &st);
	assert_int_equal(st.chars, 0);
	assert_int_equal(st.words, 0);
	norm_eq(" \n\t \r\n ", 7, "", NULL);
	/* One newline is a line break, two or more one blank line. */
	norm_eq("a\nb\n\nc\n \n \nd", 12, "a\nb\n\nc\n\nd", NULL);
	/* Unicode spaces: NBSP, thin space, ideographic space; U+2028/9. */
	norm_eq("a\xC2\xA0\xC2\xA0" "b\xE2\x80\x89" "c\xE3\x80\x80" "d", 14, "a b c d", NULL);
	norm_eq("a\xE2\x80\xA8" "b\xE2\x80\xA9" "c", 9, "a\nb\n\nc", NULL);
}

static void test_normalize_controls(void **state)
{
	/* NUL, BEL, ESC, DEL, C1 (U+0085, U+009B) and a BOM disappear. */
	static const char in[] = "\xEF\xBB\xBFVes\0sel\a \x1B[0mIMO\x7F 9321483\xC2\x85\xC2\x9B!";
	struct apf_text_stats st;

	(void)state;
	norm_eq(in, sizeof(in) - 1, "Vessel [0mIMO 9321483!", &st);
	assert_int_equal(st.garbage, 0);
}

static void test_normalize_unicode(void **state)
{
	struct apf_text_stats st;

	(void)state;
	/* Accents, CJK, emoji, combining marks and ZWJ sequences pass as they are. */
	norm_eq(MIXED, strlen(MIXED), MIXED, &st);
	assert_int_equal(st.chars, 15);
	assert_int_equal(st.words, 5);
	assert_int_equal(st.nonspace, 11);
	assert_int_equal(st.garbage, 0);
	/* Ill-formed input becomes U+FFFD, counted as garbage, as is private use. */
	norm_eq("ab\xC3 \xED\xA0\x80 \xEE\x80\x81", 11,
		"ab\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xEE\x80\x81", &st);
	assert_int_equal(st.garbage, 5);
	assert_int_equal(st.words, 3);
}

static void test_normalize_code_points(void **state)
{
	struct apf_buf b;
	struct apf_textnorm n;
	struct apf_text_stats st;

	(void)state;
	apf_buf_init(&b, 0);
	apf_textnorm_init(&n, &b);
	apf_textnorm_put(&n, 'G');
	apf_textnorm_put(&n, -1);      /* MuPDF: no Unicode for this glyph */
	apf_textnorm_put(&n, 0xD800);  /* lone surrogate */
	apf_textnorm_put(&n, 0x110000);
	apf_textnorm_put(&n, 0xFFFF);
	apf_textnorm_put(&n, ' ');
	apf_textnorm_put(&n, 0x1F6A2); /* 🚢 */
	apf_textnorm_put(&n, '\n');
	assert_int_equal(apf_textnorm_finish(&n, &st), 0);
	assert_string_equal(b.data, "G\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xF0\x9F\x9A\xA2");
	assert_int_equal(st.garbage, 4);
	assert_int_equal(st.chars, 7);
	assert_int_equal(st.words, 2);
	apf_buf_release(&b);
}

static void test_normalize_cap(void **state)
{
	/* "αβγδεζηθ ικ": 2 bytes a letter; a cap of 11 bytes holds 5 letters. */
	static const char in[] = "\xCE\xB1\xCE\xB2\xCE\xB3\xCE\xB4\xCE\xB5\xCE\xB6\xCE\xB7\xCE\xB8 \xCE\xB9\xCE\xBA";
	struct apf_buf b;
	struct apf_text_stats st;

	(void)state;
	apf_buf_init(&b, 11);
	assert_int_equal(apf_text_normalize(in, sizeof(in) - 1, &b, &st), -1);
	assert_int_equal(b.len, 10);
	assert_int_equal(apf_utf8_validate(b.data, b.len, NULL), 0);
	assert_int_equal(st.chars, 5);
	apf_buf_release(&b);

	/* The cut never leaves whitespace at the end. */
	apf_buf_init(&b, 17);
	assert_int_equal(apf_text_normalize(in, sizeof(in) - 1, &b, NULL), -1);
	assert_int_equal(b.len, 16);
	assert_int_not_equal(b.data[b.len - 1], ' ');
	apf_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_encode),
		cmocka_unit_test(test_decode_ill_formed),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_private_use),
		cmocka_unit_test(test_normalize_whitespace),
		cmocka_unit_test(test_normalize_controls),
		cmocka_unit_test(test_normalize_unicode),
		cmocka_unit_test(test_normalize_code_points),
		cmocka_unit_test(test_normalize_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
