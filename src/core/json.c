/* json.c: the JSON string escaper (apflow/json.h). */
#include <stdint.h>
#include <string.h>

#include "apflow/json.h"
#include "apflow/banned.h" /* last: after every system header */

/* 1 in the top bit of each byte of w that JSON must escape: a control
 * character, '"' or '\\' (SWAR: eight bytes at a time). */
static uint64_t json_special(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
	uint64_t lt20 = (w - ones * 0x20) & ~w;
	uint64_t zq = (q - ones) & ~q, zb = (bs - ones) & ~bs;

	return (lt20 | zq | zb) & high;
}

/* Plain runs (nearly all of a page's text) are found eight bytes at a time
 * and copied at once.  A word flagged by json_special() is looked at byte
 * by byte (it may flag a byte after a real one that is not: borrows); one
 * it does not flag has none. */
int apf_json_str(struct apf_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;
	int bad = apf_buf_add(b, "\"", 1);

	while (i < n) {
		unsigned char c;
		char esc[7];
		size_t el = 2;

		if (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (!json_special(w)) {
				i += 8;
				continue;
			}
		}
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		bad |= apf_buf_add(b, s + run, i - run);
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			el = 6;
		}
		bad |= apf_buf_add(b, esc, el);
		run = ++i;
	}
	bad |= apf_buf_add(b, s + run, n - run);
	bad |= apf_buf_add(b, "\"", 1);
	return bad ? -1 : 0;
}
