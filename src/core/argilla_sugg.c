/*
 * argilla_sugg.c: the suggestions_json column of argilla_records.parquet,
 * read and checked (see argilla.h, apf_argilla_suggestions_parse).
 *
 * A reader made for this one shape, in two steps: the text is parsed as
 * strict JSON (RFC 8259: the grammar of numbers, strings with their
 * escapes and surrogate pairs, no control characters, nothing after the
 * value) into flat arrays that are reused from one record to the next,
 * then checked element by element in the order Jansson's version did, so
 * that the messages (and which problem of several is named) are the same.
 * Jansson built a tree of objects for every record and took about 5 us a
 * record of the bench's; this takes well under 1 us and allocates nothing
 * once its arrays have grown.  Like Jansson with the flags push used: the
 * root must be an array or an object, \u0000 is refused, integers must fit
 * 64 bits, a key given twice keeps its last value.  The input must be
 * valid UTF-8 (DuckDB checks every VARCHAR); it is not checked again.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/argilla.h"
#include "apflow/util.h"

#define MAX_DEPTH 64

/* What the parse keeps of each element, before the checks. */
struct raw_span {
	int64_t start, end;
	unsigned char has_start, has_end; /* an integer was given */
	long label;                       /* offset of the label in the scratch text; -1: no string */
};

struct raw_score {
	int is_num;
	double v;
};

enum { SC_ABSENT, SC_NULL, SC_NUM, SC_LIST, SC_OTHER };

struct raw_el {
	int is_object;
	long question; /* scratch offset; -1: absent or not a string */
	long agent;    /* scratch offset; -1: absent or not a string */
	int value_is_list;
	size_t sp_first, sp_n;
	int score_kind;
	double score;
	size_t sc_first, sc_n;
};

struct apf_argilla_sugg_state {
	struct raw_span *sp;
	size_t nsp, capsp;
	struct raw_score *sc;
	size_t nsc, capsc;
	struct raw_el *el;
	size_t nel, capel;
	char *txt; /* decoded strings, each ended by '\0' */
	size_t ntxt, captxt;
};

struct jp {
	const char *p, *end, *start;
	struct apf_argilla_sugg_state *st;
	char *why;
	size_t why_n;
};

void apf_argilla_suggestions_release(struct apf_argilla_suggestions *sg)
{
	if (sg->st) {
		free(sg->st->sp);
		free(sg->st->sc);
		free(sg->st->el);
		free(sg->st->txt);
		free(sg->st);
	}
	free(sg->spans);
	free(sg->agents);
	memset(sg, 0, sizeof(*sg));
}

static int fail(struct jp *j, const char *what)
{
	snprintf(j->why, j->why_n, "suggestions_json is not a JSON list: %s at byte %zu", what, (size_t)(j->p - j->start));
	return -1;
}

static void ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static void txt_put(struct apf_argilla_sugg_state *st, const char *s, size_t n)
{
	if (st->ntxt + n + 1 > st->captxt) {
		while (st->ntxt + n + 1 > st->captxt)
			st->captxt = st->captxt ? st->captxt * 2 : 256;
		st->txt = apf_xrealloc(st->txt, st->captxt);
	}
	memcpy(st->txt + st->ntxt, s, n);
	st->ntxt += n;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int d = apf_hexval(p[i]);
		if (d < 0)
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return 0;
}

/*
 * A string at j->p (its opening quote).  keep: its decoded bytes are
 * appended to the scratch text, ended by '\0', and *off is where they
 * start; else it is only checked.
 */
static int string(struct jp *j, int keep, long *off)
{
	struct apf_argilla_sugg_state *st = j->st;
	const char *run;

	if (keep)
		*off = (long)st->ntxt;
	j->p++;
	run = j->p;
	for (;;) {
		unsigned char c;

		if (j->p >= j->end)
			return fail(j, "unterminated string");
		c = (unsigned char)*j->p;
		if (c == '"' || c == '\\') {
			if (keep && j->p > run)
				txt_put(st, run, (size_t)(j->p - run));
			if (c == '"') {
				j->p++;
				if (keep)
					txt_put(st, "", 1);
				return 0;
			}
			if (j->p + 1 >= j->end)
				return fail(j, "unterminated string");
			c = (unsigned char)j->p[1];
			j->p += 2;
			if (c == 'u') {
				unsigned u, lo;
				char out[4];
				size_t n;

				if (j->end - j->p < 4 || hex4(j->p, &u))
					return fail(j, "bad \\u escape");
				j->p += 4;
				if (u >= 0xDC00 && u <= 0xDFFF)
					return fail(j, "lone low surrogate in \\u escape");
				if (u >= 0xD800 && u <= 0xDBFF) {
					if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || hex4(j->p + 2, &lo) ||
					    lo < 0xDC00 || lo > 0xDFFF)
						return fail(j, "high surrogate not followed by a low one in \\u escape");
					j->p += 6;
					u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
				}
				if (u == 0)
					return fail(j, "\\u0000 in a string");
				if (u < 0x80) {
					out[0] = (char)u;
					n = 1;
				} else if (u < 0x800) {
					out[0] = (char)(0xC0 | u >> 6);
					out[1] = (char)(0x80 | (u & 0x3F));
					n = 2;
				} else if (u < 0x10000) {
					out[0] = (char)(0xE0 | u >> 12);
					out[1] = (char)(0x80 | ((u >> 6) & 0x3F));
					out[2] = (char)(0x80 | (u & 0x3F));
					n = 3;
				} else {
					out[0] = (char)(0xF0 | u >> 18);
					out[1] = (char)(0x80 | ((u >> 12) & 0x3F));
					out[2] = (char)(0x80 | ((u >> 6) & 0x3F));
					out[3] = (char)(0x80 | (u & 0x3F));
					n = 4;
				}
				if (keep)
					txt_put(st, out, n);
			} else {
				const char *map = strchr("\"\"\\\\//b\bf\fn\nr\rt\t", (int)c);
				if (!c || !map || ((map - "\"\"\\\\//b\bf\fn\nr\rt\t") & 1))
					return fail(j, "bad escape in a string");
				if (keep)
					txt_put(st, map + 1, 1);
			}
			run = j->p;
			continue;
		}
		if (c < 0x20)
			return fail(j, "control character in a string");
		j->p++;
	}
}

/*
 * A number at j->p, with JSON's grammar.  *is_int: no fraction and no
 * exponent (then *iv holds it; more than 64 bits is an error, as in
 * Jansson); *dv holds it as a double either way.
 */
static int number(struct jp *j, int *is_int, int64_t *iv, double *dv)
{
	const char *s = j->p, *p = j->p;
	char tmp[128], *heap = NULL, *endp;
	size_t n;
	int integer = 1;

	if (p < j->end && *p == '-')
		p++;
	if (p >= j->end || *p < '0' || *p > '9')
		return fail(j, "bad number");
	if (*p == '0') {
		p++;
		if (p < j->end && *p >= '0' && *p <= '9')
			return fail(j, "leading zero in a number");
	} else {
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < j->end && *p == '.') {
		integer = 0;
		p++;
		if (p >= j->end || *p < '0' || *p > '9')
			return fail(j, "bad number");
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		integer = 0;
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= j->end || *p < '0' || *p > '9')
			return fail(j, "bad number");
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	n = (size_t)(p - s);
	if (n >= sizeof(tmp))
		heap = apf_xmalloc(n + 1);
	memcpy(heap ? heap : tmp, s, n);
	(heap ? heap : tmp)[n] = '\0';
	*is_int = integer;
	if (integer) {
		int64_t v = 0;
		int neg = s[0] == '-';
		for (const char *q = s + neg; q < p; q++) {
			int d = *q - '0';
			/* accumulate negatively: INT64_MIN fits */
			if (v < (INT64_MIN + d) / 10) {
				free(heap);
				return fail(j, "integer too big");
			}
			v = v * 10 - d;
		}
		if (!neg && v == INT64_MIN) {
			free(heap);
			return fail(j, "integer too big");
		}
		*iv = neg ? v : -v;
		*dv = (double)*iv;
	} else {
		*dv = strtod(heap ? heap : tmp, &endp);
		if (isinf(*dv)) {
			free(heap);
			return fail(j, "real number overflow");
		}
	}
	free(heap);
	j->p = p;
	return 0;
}

static int literal(struct jp *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
		return fail(j, "invalid token");
	j->p += n;
	return 0;
}

/* Any value, checked and skipped. */
static int skip(struct jp *j, int depth)
{
	int is_int;
	int64_t iv;
	double dv;

	ws(j);
	if (j->p >= j->end)
		return fail(j, "a value expected");
	switch (*j->p) {
	case '"':
		return string(j, 0, NULL);
	case 't':
		return literal(j, "true");
	case 'f':
		return literal(j, "false");
	case 'n':
		return literal(j, "null");
	case '[':
	case '{': {
		char close = *j->p == '[' ? ']' : '}';
		int obj = close == '}';
		if (depth >= MAX_DEPTH)
			return fail(j, "nested too deeply");
		j->p++;
		ws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		for (;;) {
			if (obj) {
				ws(j);
				if (j->p >= j->end || *j->p != '"')
					return fail(j, "a string (a key) expected");
				if (string(j, 0, NULL))
					return -1;
				ws(j);
				if (j->p >= j->end || *j->p != ':')
					return fail(j, "':' expected");
				j->p++;
			}
			if (skip(j, depth + 1))
				return -1;
			ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == close) {
				j->p++;
				return 0;
			}
			return fail(j, obj ? "',' or '}' expected" : "',' or ']' expected");
		}
	}
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
			return number(j, &is_int, &iv, &dv);
		return fail(j, "a value expected");
	}
}

/* A key of an object (at its quote) into key (truncated keys match nothing). */
static int key(struct jp *j, char *out, size_t n)
{
	struct apf_argilla_sugg_state *st = j->st;
	size_t mark = st->ntxt;
	long off;

	if (j->p >= j->end || *j->p != '"')
		return fail(j, "a string (a key) expected");
	if (string(j, 1, &off))
		return -1;
	if (st->ntxt - (size_t)off - 1 < n)
		memcpy(out, st->txt + off, st->ntxt - (size_t)off);
	else
		memcpy(out, "\1", 2); /* no name we look for */
	st->ntxt = mark;
	ws(j);
	if (j->p >= j->end || *j->p != ':')
		return fail(j, "':' expected");
	j->p++;
	ws(j);
	return 0;
}

/* Iterates over the members of an object or the items of a list: *first
 * is set before the first call; returns 1 for a member, 0 at the end. */
static int next_item(struct jp *j, char close, int *first)
{
	ws(j);
	if (*first) {
		*first = 0;
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		return 1;
	}
	if (j->p < j->end && *j->p == ',') {
		j->p++;
		ws(j);
		return 1;
	}
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	fail(j, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
	return -1;
}

/* A string value kept in the scratch text, or another value skipped (-1). */
static int string_or_skip(struct jp *j, long *off)
{
	*off = -1;
	if (j->p < j->end && *j->p == '"')
		return string(j, 1, off);
	return skip(j, 2);
}

static int span(struct jp *j)
{
	struct apf_argilla_sugg_state *st = j->st;
	struct raw_span *s;
	int first = 1, r;

	if (st->nsp == st->capsp) {
		st->capsp = st->capsp ? st->capsp * 2 : 32;
		st->sp = apf_xrealloc(st->sp, st->capsp * sizeof(*st->sp));
	}
	s = &st->sp[st->nsp++];
	memset(s, 0, sizeof(*s));
	s->label = -1;
	if (j->p >= j->end || *j->p != '{')
		return skip(j, 3);
	j->p++;
	while ((r = next_item(j, '}', &first)) == 1) {
		char k[8];
		if (key(j, k, sizeof(k)))
			return -1;
		if (!strcmp(k, "start") || !strcmp(k, "end")) {
			int is_int = 0;
			int64_t iv = 0;
			double dv;
			int is_start = k[0] == 's';
			if (j->p < j->end && (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))) {
				if (number(j, &is_int, &iv, &dv))
					return -1;
			} else if (skip(j, 4)) {
				return -1;
			}
			if (is_start) {
				s->has_start = (unsigned char)is_int;
				s->start = iv;
			} else {
				s->has_end = (unsigned char)is_int;
				s->end = iv;
			}
		} else if (!strcmp(k, "label")) {
			if (string_or_skip(j, &s->label))
				return -1;
		} else if (skip(j, 4)) {
			return -1;
		}
	}
	return r;
}

static int element(struct jp *j)
{
	struct apf_argilla_sugg_state *st = j->st;
	struct raw_el *e;
	int first = 1, r;

	if (st->nel == st->capel) {
		st->capel = st->capel ? st->capel * 2 : 4;
		st->el = apf_xrealloc(st->el, st->capel * sizeof(*st->el));
	}
	e = &st->el[st->nel++];
	memset(e, 0, sizeof(*e));
	e->question = e->agent = -1;
	if (j->p >= j->end || *j->p != '{')
		return skip(j, 1);
	e->is_object = 1;
	j->p++;
	while ((r = next_item(j, '}', &first)) == 1) {
		char k[16];
		if (key(j, k, sizeof(k)))
			return -1;
		/* e may move when the lists grow: always through the index */
		e = &st->el[st->nel - 1];
		if (!strcmp(k, "question_name")) {
			if (string_or_skip(j, &e->question))
				return -1;
		} else if (!strcmp(k, "agent")) {
			if (string_or_skip(j, &e->agent))
				return -1;
		} else if (!strcmp(k, "value")) {
			int f = 1, r2;
			size_t from = st->nsp;
			e->value_is_list = 0;
			e->sp_n = 0;
			if (j->p >= j->end || *j->p != '[') {
				if (skip(j, 2))
					return -1;
				continue;
			}
			j->p++;
			while ((r2 = next_item(j, ']', &f)) == 1)
				if (span(j))
					return -1;
			if (r2 < 0)
				return -1;
			e = &st->el[st->nel - 1];
			e->value_is_list = 1;
			e->sp_first = from;
			e->sp_n = st->nsp - from;
		} else if (!strcmp(k, "score")) {
			if (j->p < j->end && *j->p == '[') {
				int f = 1, r2;
				size_t from = st->nsc;
				j->p++;
				while ((r2 = next_item(j, ']', &f)) == 1) {
					struct raw_score *sc;
					if (st->nsc == st->capsc) {
						st->capsc = st->capsc ? st->capsc * 2 : 32;
						st->sc = apf_xrealloc(st->sc, st->capsc * sizeof(*st->sc));
					}
					sc = &st->sc[st->nsc++];
					sc->is_num = 0;
					sc->v = 0;
					if (j->p < j->end && (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))) {
						int is_int;
						int64_t iv;
						if (number(j, &is_int, &iv, &sc->v))
							return -1;
						sc->is_num = 1;
					} else if (skip(j, 3)) {
						return -1;
					}
				}
				if (r2 < 0)
					return -1;
				e = &st->el[st->nel - 1];
				e->score_kind = SC_LIST;
				e->sc_first = from;
				e->sc_n = st->nsc - from;
			} else if (j->p < j->end && (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))) {
				int is_int;
				int64_t iv;
				if (number(j, &is_int, &iv, &e->score))
					return -1;
				e->score_kind = SC_NUM;
			} else if (j->p < j->end && *j->p == 'n') {
				if (literal(j, "null"))
					return -1;
				e->score_kind = SC_NULL;
			} else {
				if (skip(j, 2))
					return -1;
				e->score_kind = SC_OTHER;
			}
		} else if (skip(j, 2)) {
			return -1;
		}
	}
	return r;
}

int apf_argilla_suggestions_add_span(struct apf_argilla_suggestions *sg, size_t first, size_t i, int64_t start,
				     int64_t end, const char *label, int has_score, double score, size_t text_cps,
				     const struct apf_labelset *ls, char *why, size_t why_n)
{
	struct apf_argilla_span s;

	s.start = start;
	s.end = end;
	s.label = apf_labelset_find(ls, label);
	s.agents = 1;
	s.score = has_score ? score : 1.0;
	if (s.label < 0)
		return snprintf(why, why_n, "span %zu: label '%s' is not in labelset %s", i, label, ls->version), -1;
	if (s.start < 0 || s.end <= s.start)
		return snprintf(why, why_n, "span %zu [%" PRId64 ", %" PRId64 "): start must be >= 0 and below end", i, s.start,
				s.end),
		       -1;
	if ((uint64_t)s.end > text_cps)
		return snprintf(why, why_n, "span %zu [%" PRId64 ", %" PRId64 ") %s: past the end of the text (%zu code points)", i,
				s.start, s.end, label, text_cps),
		       -1;
	if (has_score && (s.score < 0 || s.score > 1 || isnan(s.score)))
		return snprintf(why, why_n, "span %zu: score %g is not in [0, 1]", i, s.score), -1;
	for (size_t k = first; k < sg->nspans; k++)
		if (s.start < sg->spans[k].end && s.end > sg->spans[k].start)
			return snprintf(why, why_n, "spans overlap: [%" PRId64 ", %" PRId64 ") and [%" PRId64 ", %" PRId64 ")",
					sg->spans[k].start, sg->spans[k].end, s.start, s.end),
			       -1;
	if (sg->nspans == sg->cap_spans) {
		sg->cap_spans = sg->cap_spans ? sg->cap_spans * 2 : 32;
		sg->spans = apf_xrealloc(sg->spans, sg->cap_spans * sizeof(*sg->spans));
	}
	sg->spans[sg->nspans++] = s;
	return 0;
}

/* The checks of one element, in the order (and with the words) of the
 * Jansson reader before; spans go to sg->spans. */
static int check_element(struct apf_argilla_suggestions *sg, const struct raw_el *e, size_t text_cps,
			 const struct apf_labelset *ls, char *agent, size_t agent_n, char *why, size_t why_n)
{
	struct apf_argilla_sugg_state *st = sg->st;
	const char *q = e->question >= 0 ? st->txt + e->question : NULL;
	size_t first = sg->nspans;

	if (!e->is_object)
		return snprintf(why, why_n, "suggestions_json: an element is not an object"), -1;
	if (q && strcmp(q, ls->question_name))
		return snprintf(why, why_n, "suggestions_json: question '%s' is not '%s'", q, ls->question_name), -1;
	if (!e->value_is_list)
		return snprintf(why, why_n, "suggestions_json: 'value' is not a list"), -1;
	if (e->score_kind == SC_OTHER)
		return snprintf(why, why_n, "suggestions_json: 'score' is not a number or a list"), -1;
	if (e->score_kind == SC_LIST && e->sc_n != e->sp_n)
		return snprintf(why, why_n, "suggestions_json: %zu scores for %zu spans", e->sc_n, e->sp_n), -1;
	apf_argilla_agent_name(e->agent >= 0 ? st->txt + e->agent : NULL, agent, agent_n);
	for (size_t i = 0; i < e->sp_n; i++) {
		const struct raw_span *r = &st->sp[e->sp_first + i];
		const char *label = r->label >= 0 ? st->txt + r->label : NULL;
		int sc_num = e->score_kind == SC_NUM || (e->score_kind == SC_LIST && st->sc[e->sc_first + i].is_num);

		if (!r->has_start || !r->has_end || !label)
			return snprintf(why, why_n, "span %zu: needs integer start and end and a label", i), -1;
		if (apf_argilla_suggestions_add_span(sg, first, i, r->start, r->end, label, sc_num,
						     e->score_kind == SC_NUM ? e->score : sc_num ? st->sc[e->sc_first + i].v : 1.0,
						     text_cps, ls, why, why_n))
			return -1;
	}
	return 0;
}

int apf_argilla_suggestions_parse(struct apf_argilla_suggestions *sg, const char *json, size_t len, size_t text_cps,
				  const struct apf_labelset *ls, char *why, size_t why_n)
{
	struct apf_argilla_sugg_state *st;
	struct jp j;
	int first = 1, r;

	if (!sg->st)
		sg->st = apf_xcalloc(1, sizeof(*sg->st));
	st = sg->st;
	st->nsp = st->nsc = st->nel = st->ntxt = 0;
	sg->nspans = sg->nagents = 0;
	j.p = j.start = json;
	j.end = json + len;
	j.st = st;
	j.why = why;
	j.why_n = why_n;
	ws(&j);
	if (j.p >= j.end)
		return fail(&j, "empty text");
	if (*j.p == '{') {
		/* valid JSON, but not a list */
		if (skip(&j, 0))
			return -1;
		ws(&j);
		if (j.p < j.end)
			return fail(&j, "end of text expected");
		return snprintf(why, why_n, "suggestions_json is not a JSON list"), -1;
	}
	if (*j.p != '[')
		return fail(&j, "'[' or '{' expected");
	j.p++;
	while ((r = next_item(&j, ']', &first)) == 1)
		if (element(&j))
			return -1;
	if (r < 0)
		return -1;
	ws(&j);
	if (j.p < j.end)
		return fail(&j, "end of text expected");

	for (size_t i = 0; i < st->nel; i++) {
		struct apf_argilla_sugg_agent *ag;
		size_t first_span = sg->nspans;
		char w[512];

		if (sg->nagents == sg->cap_agents) {
			sg->cap_agents = sg->cap_agents ? sg->cap_agents * 2 : 4;
			sg->agents = apf_xrealloc(sg->agents, sg->cap_agents * sizeof(*sg->agents));
		}
		ag = &sg->agents[sg->nagents];
		if (check_element(sg, &st->el[i], text_cps, ls, ag->name, sizeof(ag->name), w, sizeof(w))) {
			snprintf(why, why_n, "suggestion %zu: %s", i, w);
			return -1;
		}
		ag->first = first_span;
		ag->n = sg->nspans - first_span;
		sg->nagents++;
	}
	return 0;
}
