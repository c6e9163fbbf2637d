/* jsonw.c: the streaming JSON writer (apflow/jsonw.h). */
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/json.h"
#include "apflow/jsonw.h"
#include "apflow/utf8.h"
#include "apflow/banned.h" /* last: after every system header */

void apf_jsonw_init(struct apf_jsonw *jw, int indent, size_t cap)
{
	memset(jw, 0, sizeof(*jw));
	apf_buf_init(&jw->buf, cap);
	jw->indent = indent > 0 ? indent : 0;
}

void apf_jsonw_release(struct apf_jsonw *jw)
{
	apf_buf_release(&jw->buf);
	jw->depth = 0;
}

int apf_jsonw_ok(const struct apf_jsonw *jw)
{
	return !jw->bad && jw->depth == 0 && jw->buf.len > 0;
}

static void add(struct apf_jsonw *jw, const char *s, size_t n)
{
	if (!jw->bad && apf_buf_add(&jw->buf, s, n))
		jw->bad = 1;
}

/* A line break and the indent of level depth (jansson's dump_indent). */
static void newline(struct apf_jsonw *jw, int depth)
{
	static const char spaces[] = "                                ";

	if (!jw->indent)
		return;
	add(jw, "\n", 1);
	for (long n = (long)depth * jw->indent; n > 0; n -= (long)sizeof(spaces) - 1)
		add(jw, spaces, n < (long)sizeof(spaces) - 1 ? (size_t)n : sizeof(spaces) - 1);
}

/* What goes before a value: the separator from the previous one, and the
 * key when the open container is an object (kind says which it must be:
 * '{' for a member, '[' for an element, 0 for the top level). */
static void before(struct apf_jsonw *jw, char kind, const char *key)
{
	if (kind == 0) {
		if (jw->depth || jw->buf.len)
			jw->bad = 1; /* a second top-level value */
		return;
	}
	if (!jw->depth || jw->open[jw->depth - 1] != kind) {
		jw->bad = 1;
		return;
	}
	if (!jw->empty[jw->depth - 1])
		add(jw, ",", 1);
	jw->empty[jw->depth - 1] = 0;
	newline(jw, jw->depth);
	if (kind == '{') {
		if (!jw->bad && apf_json_str(&jw->buf, key, strlen(key)))
			jw->bad = 1;
		add(jw, jw->indent ? ": " : ":", jw->indent ? 2 : 1);
	}
}

static void open_container(struct apf_jsonw *jw, char kind, const char *key, char c)
{
	before(jw, kind, key);
	if (jw->depth >= APF_JSONW_MAX_DEPTH) {
		jw->bad = 1;
		return;
	}
	add(jw, c == '{' ? "{" : "[", 1);
	jw->open[jw->depth] = c;
	jw->empty[jw->depth] = 1;
	jw->depth++;
}

void apf_jsonw_object_begin(struct apf_jsonw *jw)
{
	open_container(jw, jw->depth ? '[' : 0, NULL, '{');
}

void apf_jsonw_array_begin(struct apf_jsonw *jw)
{
	open_container(jw, jw->depth ? '[' : 0, NULL, '[');
}

void apf_jsonw_end(struct apf_jsonw *jw)
{
	char c;

	if (!jw->depth) {
		jw->bad = 1;
		return;
	}
	jw->depth--;
	c = jw->open[jw->depth];
	if (!jw->empty[jw->depth])
		newline(jw, jw->depth);
	add(jw, c == '{' ? "}" : "]", 1);
}

char *apf_jsonw_fmt_double(char out[32], double value)
{
	char *e;
	int n;

	if (!isfinite(value)) {
		memcpy(out, "null", 5);
		return out;
	}
	/* The shortest of 15, 16 or 17 significant digits that reads back as
	 * the same double (17 always does): 0.3, not 0.29999999999999999. */
	for (int digits = 15; digits <= 17; digits++) {
		n = snprintf(out, 32, "%.*g", digits, value);
		if (n < 0 || n >= 28) {
			n = 0;
			break;
		}
		if (digits == 17 || strtod(out, NULL) == value)
			break;
	}
	out[n] = '\0';
	if (!strchr(out, '.') && !strchr(out, 'e')) {
		memcpy(out + n, ".0", 3);
		return out;
	}
	e = strchr(out, 'e');
	if (e) {
		char *from = e + 1, *to = e + 1;
		if (*from == '-')
			to = ++from;
		else if (*from == '+')
			from++;
		while (*from == '0' && from[1])
			from++;
		memmove(to, from, strlen(from) + 1);
	}
	return out;
}

static void value_str(struct apf_jsonw *jw, const char *s, size_t n)
{
	struct apf_buf fixed = APF_BUF_INIT;

	if (!s) {
		add(jw, "null", 4);
		return;
	}
	if (apf_utf8_validate(s, n, NULL)) {
		/* Not UTF-8 (a file name from a foreign disk, say): each
		 * ill-formed sequence becomes U+FFFD, so the text stays JSON. */
		apf_buf_init(&fixed, 0);
		for (size_t i = 0; i < n;) {
			char enc[4];
			uint32_t cp;
			i += apf_utf8_decode(s + i, n - i, &cp);
			if (apf_buf_add(&fixed, enc, apf_utf8_encode(cp, enc)))
				jw->bad = 1;
		}
		s = fixed.data ? fixed.data : "";
		n = fixed.len;
	}
	if (!jw->bad && apf_json_str(&jw->buf, s, n))
		jw->bad = 1;
	apf_buf_release(&fixed);
}

static void value_int(struct apf_jsonw *jw, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

	add(jw, tmp, (size_t)n);
}

static void value_double(struct apf_jsonw *jw, double v)
{
	char tmp[32];

	apf_jsonw_fmt_double(tmp, v);
	add(jw, tmp, strlen(tmp));
}

void apf_jsonw_object_string(struct apf_jsonw *jw, const char *key, const char *value)
{
	before(jw, '{', key);
	value_str(jw, value, value ? strlen(value) : 0);
}

void apf_jsonw_object_stringn(struct apf_jsonw *jw, const char *key, const char *value, size_t n)
{
	before(jw, '{', key);
	value_str(jw, value, n);
}

void apf_jsonw_object_int(struct apf_jsonw *jw, const char *key, int64_t value)
{
	before(jw, '{', key);
	value_int(jw, value);
}

void apf_jsonw_object_double(struct apf_jsonw *jw, const char *key, double value)
{
	before(jw, '{', key);
	value_double(jw, value);
}

void apf_jsonw_object_bool(struct apf_jsonw *jw, const char *key, int value)
{
	before(jw, '{', key);
	add(jw, value ? "true" : "false", value ? 4 : 5);
}

void apf_jsonw_object_null(struct apf_jsonw *jw, const char *key)
{
	before(jw, '{', key);
	add(jw, "null", 4);
}

void apf_jsonw_object_object(struct apf_jsonw *jw, const char *key)
{
	open_container(jw, '{', key, '{');
}

void apf_jsonw_object_array(struct apf_jsonw *jw, const char *key)
{
	open_container(jw, '{', key, '[');
}

void apf_jsonw_array_string(struct apf_jsonw *jw, const char *value)
{
	before(jw, '[', NULL);
	value_str(jw, value, value ? strlen(value) : 0);
}

void apf_jsonw_array_stringn(struct apf_jsonw *jw, const char *value, size_t n)
{
	before(jw, '[', NULL);
	value_str(jw, value, n);
}

void apf_jsonw_array_int(struct apf_jsonw *jw, int64_t value)
{
	before(jw, '[', NULL);
	value_int(jw, value);
}

void apf_jsonw_array_double(struct apf_jsonw *jw, double value)
{
	before(jw, '[', NULL);
	value_double(jw, value);
}

void apf_jsonw_array_bool(struct apf_jsonw *jw, int value)
{
	before(jw, '[', NULL);
	add(jw, value ? "true" : "false", value ? 4 : 5);
}

void apf_jsonw_array_null(struct apf_jsonw *jw)
{
	before(jw, '[', NULL);
	add(jw, "null", 4);
}

static void value_sub(struct apf_jsonw *jw, const struct apf_jsonw *sub)
{
	const char *p, *nl, *end;

	if (!apf_jsonw_ok(sub) || sub->indent != jw->indent) {
		jw->bad = 1;
		return;
	}
	p = sub->buf.data;
	end = p + sub->buf.len;
	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		add(jw, p, (size_t)(nl - p));
		newline(jw, jw->depth);
		p = nl + 1;
	}
	add(jw, p, (size_t)(end - p));
}

void apf_jsonw_object_sub(struct apf_jsonw *jw, const char *key, const struct apf_jsonw *value)
{
	before(jw, '{', key);
	value_sub(jw, value);
}

void apf_jsonw_array_sub(struct apf_jsonw *jw, const struct apf_jsonw *value)
{
	before(jw, '[', NULL);
	value_sub(jw, value);
}
