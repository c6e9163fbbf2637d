/*
 * pa_jsonl.c: pre-annotation's JSON lines (apflow/preannotate.h): the page
 * objects `apflow preannotate --stdin-jsonl` reads (one Spark partition),
 * and the suggestion rows it and the dataset run write.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apflow/buf.h"
#include "apflow/jsonw.h"
#include "apflow/labelset.h"
#include "apflow/preannotate.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "apflow/banned.h" /* last: after every system header */

/* Input caps: a page object, and the whole input (a Spark partition). */
#define LINE_MAX_BYTES ((size_t)64 << 20)
#define INPUT_MAX_BYTES ((size_t)4 << 30)

/* Reads one line (without its newline) into line, at most its cap;
 * returns 1 for a line, 0 at the end, -1 when the line passes the cap. */
static int read_line(FILE *f, struct apf_buf *line)
{
	int c, any = 0;

	apf_buf_reset(line);
	while ((c = getc_unlocked(f)) != EOF) {
		any = 1;
		if (c == '\n')
			break;
		char ch = (char)c;
		if (apf_buf_add(line, &ch, 1))
			return -1;
	}
	if (apf_buf_add(line, "", 0))
		return -1;
	return any ? 1 : 0;
}

/* Reads every line of f into pages; a bad line is an error naming it. */
int apf_pa_read_jsonl(FILE *f, struct apf_pa_page **out, size_t *nout, struct apf_err *err)
{
	struct apf_pa_page *v = NULL;
	size_t n = 0, cap = 0, lineno = 0, total = 0;
	struct apf_buf line;
	int rc = 0, more;

	apf_buf_init(&line, LINE_MAX_BYTES);
	while ((more = read_line(f, &line)) != 0) {
		json_error_t jerr;
		json_t *o, *doc, *pn, *text, *sha;
		char want[APF_SHA256_HEX];
		size_t got = line.len;

		lineno++;
		if (more < 0) {
			rc = apf_error(err, APF_ETOOBIG, "line %zu: longer than %zu MiB", lineno, LINE_MAX_BYTES >> 20);
			break;
		}
		total += got + 1;
		if (total > INPUT_MAX_BYTES) {
			rc = apf_error(err, APF_ETOOBIG, "line %zu: the input passes %zu GiB: give fewer pages per run",
				       lineno, INPUT_MAX_BYTES >> 30);
			break;
		}
		o = json_loadb(line.data, got, 0, &jerr);
		if (!o) {
			rc = apf_error(err, APF_EINVAL, "line %zu: not JSON: %s", lineno, got ? jerr.text : "empty line");
			break;
		}
		doc = json_object_get(o, "doc_id");
		pn = json_object_get(o, "page_num");
		text = json_object_get(o, "text");
		sha = json_object_get(o, "text_sha256");
		if (!json_is_object(o))
			rc = apf_error(err, APF_EINVAL, "line %zu: not a JSON object", lineno);
		else if (!doc || !pn || !text || !sha)
			rc = apf_error(err, APF_EINVAL, "line %zu: missing field '%s'", lineno,
				       !doc ? "doc_id" : !pn ? "page_num" : !text ? "text" : "text_sha256");
		else if (!json_is_string(doc) || !json_string_length(doc))
			rc = apf_error(err, APF_EINVAL, "line %zu: 'doc_id' is not a non-empty string", lineno);
		else if (!json_is_integer(pn) || json_integer_value(pn) < 1 || json_integer_value(pn) > INT32_MAX)
			rc = apf_error(err, APF_EINVAL, "line %zu: 'page_num' is not a positive integer", lineno);
		else if (!json_is_string(text))
			rc = apf_error(err, APF_EINVAL, "line %zu: 'text' is not a string", lineno);
		else if (!json_is_string(sha))
			rc = apf_error(err, APF_EINVAL, "line %zu: 'text_sha256' is not a string", lineno);
		if (!rc) {
			apf_sha256_hex(json_string_value(text), json_string_length(text), want);
			if (strcmp(want, json_string_value(sha)))
				rc = apf_error(err, APF_EINVAL, "line %zu: 'text_sha256' is not the SHA-256 of 'text' (%s)",
					       lineno, want);
		}
		if (!rc && memchr(json_string_value(text), '\0', json_string_length(text)))
			rc = apf_error(err, APF_EINVAL, "line %zu: 'text' holds a NUL character", lineno);
		if (rc) {
			json_decref(o);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = apf_xrealloc(v, cap * sizeof(*v));
		}
		memset(&v[n], 0, sizeof(v[n]));
		v[n].doc_id = apf_xstrdup(json_string_value(doc));
		v[n].page_num = (int)json_integer_value(pn);
		v[n].text = apf_xstrndup(json_string_value(text), json_string_length(text));
		v[n].len = json_string_length(text);
		apf_strlcpy(v[n].text_sha256, want, sizeof(v[n].text_sha256));
		n++;
		json_decref(o);
	}
	apf_buf_release(&line);
	if (!rc && ferror(f))
		rc = apf_error(err, APF_EIO, "cannot read standard input");
	if (rc) {
		for (size_t i = 0; i < n; i++)
			apf_pa_page_release(&v[i]);
		free(v);
		return rc;
	}
	*out = v;
	*nout = n;
	return 0;
}

void apf_pa_row_write(struct apf_jsonw *jw, const struct apf_pa_page *pg, const struct apf_span *sp,
		      const char *agent, const char *created_at)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	size_t bs = 0, be = 0;

	apf_utf8_cp_to_byte(pg->text, pg->len, (size_t)sp->start, &bs);
	apf_utf8_cp_to_byte(pg->text, pg->len, (size_t)sp->end, &be);
	apf_jsonw_object_begin(jw);
	apf_jsonw_object_string(jw, "doc_id", pg->doc_id);
	apf_jsonw_object_int(jw, "page_num", pg->page_num);
	apf_jsonw_object_string(jw, "text_sha256", pg->text_sha256);
	apf_jsonw_object_string(jw, "question_name", ls->question_name);
	apf_jsonw_object_string(jw, "label", sp->label);
	apf_jsonw_object_int(jw, "start", sp->start);
	apf_jsonw_object_int(jw, "end", sp->end);
	apf_jsonw_object_stringn(jw, "span_text", pg->text + bs, be - bs);
	if (sp->score < 0)
		apf_jsonw_object_null(jw, "score");
	else
		apf_jsonw_object_double(jw, "score", sp->score);
	apf_jsonw_object_string(jw, "agent", agent);
	apf_jsonw_object_string(jw, "type", "model");
	apf_jsonw_object_string(jw, "labelset_version", ls->version);
	apf_jsonw_object_string(jw, "created_at", created_at);
	apf_jsonw_end(jw);
}
