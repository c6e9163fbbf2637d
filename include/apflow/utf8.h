/*
 * utf8.h: UTF-8 helpers and the page-text normaliser.
 *
 * apflow stores page text as UTF-8 and counts span offsets in Unicode code
 * points (start inclusive, end exclusive), the convention of Argilla and
 * Python str.  C code works in bytes; these functions convert at the
 * boundary.  Argilla's web UI sometimes reports offsets in UTF-16 code
 * units (argilla#5729), hence the UTF-16 conversions.
 *
 * Decoding is strict (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF.  Where a function decodes invalid input it reads each
 * maximal ill-formed subpart as one U+FFFD, as the Unicode Standard (§3.9)
 * and WHATWG recommend, so every function here agrees on what a "code
 * point" of a damaged string is.
 *
 * None of these functions allocates except through the caller's apf_buf.
 */
#ifndef APFLOW_UTF8_H
#define APFLOW_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/buf.h"

#define APF_UTF8_REPLACEMENT 0xFFFDu

/*
 * Decodes the code point at s[0..len) into *cp and returns the number of
 * bytes read (1..4).  Ill-formed input gives *cp = U+FFFD and consumes the
 * maximal ill-formed subpart (at least one byte).  len must be > 0.
 */
size_t apf_utf8_decode(const char *s, size_t len, uint32_t *cp);

/*
 * Encodes cp as UTF-8 into out and returns the length (1..4).  Surrogates
 * and values above U+10FFFF are encoded as U+FFFD.
 */
size_t apf_utf8_encode(uint32_t cp, char out[4]);

/* Returns 0 when s[0..len) is well-formed UTF-8; otherwise -1, and sets
 * *bad (if not NULL) to the byte offset of the first ill-formed sequence. */
int apf_utf8_validate(const char *s, size_t len, size_t *bad);

/* Number of code points in s[0..len) (ill-formed subparts count one each). */
size_t apf_utf8_count(const char *s, size_t len);

/* Number of UTF-16 code units s[0..len) takes (2 per code point above
 * U+FFFF, 1 otherwise). */
size_t apf_utf8_utf16_len(const char *s, size_t len);

/*
 * Offset conversions over the text s[0..len).  Each returns 0 and sets
 * *out, or -1 when the offset lies beyond the end of the text or does not
 * fall on a boundary (a byte offset inside a multi-byte sequence, a UTF-16
 * offset between the two halves of a surrogate pair).  The end of the text
 * is a valid offset.  Each runs in O(offset).
 */
int apf_utf8_cp_to_byte(const char *s, size_t len, size_t cp_off, size_t *out);
int apf_utf8_byte_to_cp(const char *s, size_t len, size_t byte_off, size_t *out);
int apf_utf8_utf16_to_cp(const char *s, size_t len, size_t u16_off, size_t *out);
int apf_utf8_cp_to_utf16(const char *s, size_t len, size_t cp_off, size_t *out);

/* Private-use code points (U+E000..U+F8FF, planes 15 and 16). */
int apf_utf8_is_private_use(uint32_t cp);

/*
 * Statistics of a normalised page text, used to judge whether a PDF text
 * layer is real text (see apf_pdf_text_is_real()) and stored with each page.
 */
struct apf_text_stats {
	size_t chars;    /* code points in the text, spaces and newlines included */
	size_t nonspace; /* code points other than ' ' and '\n' */
	size_t garbage;  /* U+FFFD (unmapped glyphs, ill-formed input) and private-use */
	size_t words;    /* maximal runs of non-space code points (a CJK run is one) */
};

/*
 * The page-text normaliser, shared by every OCR engine so that the same
 * page gives the same text whichever engine read it.  Feed it code points
 * (apf_textnorm_put) or UTF-8 (apf_textnorm_put_utf8); it appends to out:
 *
 *   - '\t' and Unicode space separators (U+00A0, U+2000..U+200A, U+3000...)
 *     become ' '; '\r', "\r\n" and U+2028 become '\n', U+2029 "\n\n";
 *   - NUL, the other C0 and C1 controls, DEL and U+FEFF are dropped;
 *   - surrogates, values above U+10FFFF, negative values (MuPDF's unmapped
 *     glyphs), U+FFFE and U+FFFF become U+FFFD;
 *   - runs of spaces collapse to one; spaces at the start and end of a line
 *     are dropped;
 *   - runs of newlines collapse: one newline ends a line, two or more give
 *     one blank line (a paragraph break);
 *   - the text neither starts nor ends with whitespace.
 *
 * So the result is well-formed UTF-8 with no control characters other than
 * '\n'.  Nothing is reordered or composed (no NFC): combining marks stay as
 * the source gave them.
 *
 * out keeps its own cap; once an append would pass it, the normaliser stops
 * appending (out then holds a prefix that ends on a code point boundary)
 * and apf_textnorm_finish() returns -1.
 */
struct apf_textnorm {
	struct apf_buf *out;
	struct apf_text_stats stats;
	int started;       /* something has been written */
	int pending_space; /* a space waits for the next visible code point */
	int pending_nl;    /* 0, 1 or 2 newlines wait likewise */
	int after_cr;      /* the previous code point was '\r' */
	int in_word;
	int overflow;
};

/* Starts normalising into out (appends to what out already holds); out->data
 * is a C string from here on, even if the text stays empty. */
void apf_textnorm_init(struct apf_textnorm *n, struct apf_buf *out);
/* Adds one code point; negative values stand for unmapped glyphs. */
void apf_textnorm_put(struct apf_textnorm *n, int32_t cp);
/* Adds UTF-8 text; ill-formed subparts become U+FFFD. */
void apf_textnorm_put_utf8(struct apf_textnorm *n, const char *s, size_t len);
/* Ends the text.  Returns 0, or -1 when out's cap cut the text short.
 * Sets *stats (if not NULL) either way. */
int apf_textnorm_finish(struct apf_textnorm *n, struct apf_text_stats *stats);

/* One call: resets out and fills it with s[0..len) normalised.
 * Returns 0, or -1 when out's cap was reached. */
int apf_text_normalize(const char *s, size_t len, struct apf_buf *out,
		       struct apf_text_stats *stats);

#endif
