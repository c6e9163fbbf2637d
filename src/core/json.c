/* json.c: the JSON string escaper (apflow/json.h). */
#include <string.h>

#include "apflow/json.h"
#include "apflow/banned.h" /* last: after every system header */

int apf_json_str(struct apf_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;
	int bad = apf_buf_add(b, "\"", 1);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		size_t el = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		bad |= apf_buf_add(b, s + run, i - run);
		run = i + 1;
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
	}
	bad |= apf_buf_add(b, s + run, n - run);
	bad |= apf_buf_add(b, "\"", 1);
	return bad ? -1 : 0;
}
