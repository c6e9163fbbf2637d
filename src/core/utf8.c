/*
 * utf8.c: UTF-8 decoding, offset conversions and the page-text normaliser
 * (see utf8.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "apflow/utf8.h"
#include "apflow/banned.h" /* last: after every system header */

/*
 * Decodes one code point.  The ranges of the second byte follow Table 3-7
 * of the Unicode Standard, which is what rules out overlong forms (E0, F0),
 * surrogates (ED) and values above U+10FFFF (F4) without a later check.
 * On ill-formed input, *bad is set and the returned length covers the
 * maximal ill-formed subpart: the lead byte and the continuation bytes that
 * were still acceptable.
 */
static size_t decode(const unsigned char *s, size_t len, uint32_t *cp, int *bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need, i;
	uint32_t v;

	*bad = 0;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		*bad = 1;
		*cp = APF_UTF8_REPLACEMENT;
		return 1;
	}
	for (i = 1; i <= need; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*bad = 1;
			*cp = APF_UTF8_REPLACEMENT;
			return i;
		}
		lo = 0x80;
		hi = 0xBF;
		v = (v << 6) | (s[i] & 0x3F);
	}
	*cp = v;
	return need + 1;
}

size_t apf_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	int bad;

	return decode((const unsigned char *)s, len, cp, &bad);
}

size_t apf_utf8_encode(uint32_t cp, char out[4])
{
	unsigned char *o = (unsigned char *)out;

	if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		cp = APF_UTF8_REPLACEMENT;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

int apf_utf8_validate(const char *s, size_t len, size_t *bad_off)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;
	int bad;

	while (i < len) {
		if (p[i] < 0x80) { /* the common case, without a call */
			i++;
			continue;
		}
		size_t n = decode(p + i, len - i, &cp, &bad);
		if (bad) {
			if (bad_off)
				*bad_off = i;
			return -1;
		}
		i += n;
	}
	return 0;
}

size_t apf_utf8_count(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0;
	uint32_t cp;
	int bad;

	while (i < len) {
		i += p[i] < 0x80 ? 1 : decode(p + i, len - i, &cp, &bad);
		n++;
	}
	return n;
}

size_t apf_utf8_utf16_len(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0;
	uint32_t cp;
	int bad;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			n++;
			continue;
		}
		i += decode(p + i, len - i, &cp, &bad);
		n += cp > 0xFFFF ? 2 : 1;
	}
	return n;
}

int apf_utf8_cp_to_byte(const char *s, size_t len, size_t cp_off, size_t *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0;
	uint32_t cp;
	int bad;

	while (n < cp_off && i < len) {
		i += p[i] < 0x80 ? 1 : decode(p + i, len - i, &cp, &bad);
		n++;
	}
	if (n < cp_off)
		return -1;
	*out = i;
	return 0;
}

int apf_utf8_byte_to_cp(const char *s, size_t len, size_t byte_off, size_t *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0;
	uint32_t cp;
	int bad;

	if (byte_off > len)
		return -1;
	while (i < byte_off) {
		i += p[i] < 0x80 ? 1 : decode(p + i, len - i, &cp, &bad);
		n++;
	}
	if (i != byte_off)
		return -1; /* inside a multi-byte sequence */
	*out = n;
	return 0;
}

/* Walks s from its start until max_cp code points or max_u16 UTF-16
 * units have passed (or s ends): *n code points, *u units. */
static void walk_utf16(const char *s, size_t len, size_t max_cp, size_t max_u16, size_t *n, size_t *u)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;
	int bad;

	*n = *u = 0;
	while (*n < max_cp && *u < max_u16 && i < len) {
		i += decode(p + i, len - i, &cp, &bad);
		*u += cp > 0xFFFF ? 2 : 1;
		(*n)++;
	}
}

int apf_utf8_utf16_to_cp(const char *s, size_t len, size_t u16_off, size_t *out)
{
	size_t n, u;

	walk_utf16(s, len, SIZE_MAX, u16_off, &n, &u);
	if (u != u16_off)
		return -1; /* past the end, or between the halves of a pair */
	*out = n;
	return 0;
}

int apf_utf8_cp_to_utf16(const char *s, size_t len, size_t cp_off, size_t *out)
{
	size_t n, u;

	walk_utf16(s, len, cp_off, SIZE_MAX, &n, &u);
	if (n < cp_off)
		return -1;
	*out = u;
	return 0;
}

int apf_utf8_is_private_use(uint32_t cp)
{
	return (cp >= 0xE000 && cp <= 0xF8FF) || (cp >= 0xF0000 && cp <= 0x10FFFD);
}

/* Unicode general category Zs, other than U+0020 itself. */
static int is_space_separator(uint32_t cp)
{
	return cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
	       cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

void apf_textnorm_init(struct apf_textnorm *n, struct apf_buf *out)
{
	n->out = out;
	n->stats.chars = 0;
	n->stats.nonspace = 0;
	n->stats.garbage = 0;
	n->stats.words = 0;
	n->started = 0;
	n->pending_space = 0;
	n->pending_nl = 0;
	n->after_cr = 0;
	n->in_word = 0;
	/* Even an empty text is a C string: allocate the terminating NUL. */
	n->overflow = apf_buf_add(out, "", 0) ? 1 : 0;
}

static void add_newlines(struct apf_textnorm *n, int k)
{
	n->pending_space = 0; /* trailing spaces go */
	if (!n->started)
		return;       /* leading newlines go */
	n->pending_nl += k;
	if (n->pending_nl > 2)
		n->pending_nl = 2;
}

/* Writes the pending whitespace and cp in one append, so that a full
 * buffer never ends with whitespace left over from a cut. */
static void emit(struct apf_textnorm *n, uint32_t cp)
{
	char tmp[2 + 4];
	size_t k = 0, white = 0;

	if (n->overflow)
		return;
	if (n->pending_nl) {
		for (int i = 0; i < n->pending_nl; i++)
			tmp[k++] = '\n';
		white = (size_t)n->pending_nl;
	} else if (n->pending_space) {
		tmp[k++] = ' ';
		white = 1;
	}
	k += apf_utf8_encode(cp, tmp + k);
	if (apf_buf_add(n->out, tmp, k)) {
		n->overflow = 1;
		return;
	}
	n->pending_nl = 0;
	n->pending_space = 0;
	n->started = 1;
	if (white)
		n->in_word = 0;
	n->stats.chars += white + 1;
	n->stats.nonspace++;
	if (!n->in_word)
		n->stats.words++;
	n->in_word = 1;
	if (cp == APF_UTF8_REPLACEMENT || apf_utf8_is_private_use(cp))
		n->stats.garbage++;
}

void apf_textnorm_put(struct apf_textnorm *n, int32_t scp)
{
	uint32_t cp;

	if (scp < 0 || scp > 0x10FFFF || (scp >= 0xD800 && scp <= 0xDFFF) ||
	    scp == 0xFFFE || scp == 0xFFFF)
		cp = APF_UTF8_REPLACEMENT;
	else
		cp = (uint32_t)scp;
	if (n->after_cr) {
		n->after_cr = 0;
		if (cp == '\n')
			return; /* the '\n' of a "\r\n" pair */
	}
	if (cp == '\r') {
		n->after_cr = 1;
		add_newlines(n, 1);
	} else if (cp == '\n' || cp == 0x2028) {
		add_newlines(n, 1);
	} else if (cp == 0x2029) {
		add_newlines(n, 2);
	} else if (cp == ' ' || cp == '\t' || is_space_separator(cp)) {
		if (n->started && !n->pending_nl)
			n->pending_space = 1;
	} else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFEFF) {
		/* NUL, controls, DEL and the byte order mark carry no text. */
	} else {
		emit(n, cp);
	}
}

void apf_textnorm_put_utf8(struct apf_textnorm *n, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;
	int bad;

	while (i < len && !n->overflow) {
		if (p[i] < 0x80) {
			cp = p[i++];
		} else {
			i += decode(p + i, len - i, &cp, &bad);
		}
		apf_textnorm_put(n, (int32_t)cp);
	}
}

int apf_textnorm_finish(struct apf_textnorm *n, struct apf_text_stats *stats)
{
	/* Trailing whitespace is simply never written. */
	n->pending_space = 0;
	n->pending_nl = 0;
	if (stats)
		*stats = n->stats;
	return n->overflow ? -1 : 0;
}

int apf_text_normalize(const char *s, size_t len, struct apf_buf *out,
		       struct apf_text_stats *stats)
{
	struct apf_textnorm n;

	apf_buf_reset(out);
	apf_textnorm_init(&n, out);
	apf_textnorm_put_utf8(&n, s, len);
	return apf_textnorm_finish(&n, stats);
}
