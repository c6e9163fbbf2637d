/*
 * argilla_push.c: argilla_records.parquet into an Argilla dataset (see
 * argilla.h, apf_argilla_push).
 *
 * Three steps, so that bad input is refused before anything is sent:
 *   1. the records already on the server are indexed (external id, server
 *      id, text_sha256, a fingerprint of metadata and suggestion);
 *   2. the file is read a chunk at a time and every record checked;
 *   3. the file is read again and the new or changed records are sent,
 *      batch_size per PUT .../records/bulk, by `concurrency` threads taking
 *      batches from a short queue (so memory holds a few batches, whatever
 *      the file's size).  An upsert matched by external_id is idempotent,
 *      so a request retried after a timeout whose first attempt did reach
 *      the server writes nothing twice.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "apflow/argilla.h"
#include "apflow/buf.h"
#include "apflow/db.h"
#include "apflow/http.h"
#include "apflow/log.h"
#include "apflow/json.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "argilla_impl.h"

#define MAX_REPORTED 10
/* The agent of the empty suggestion that replaces one a page lost. */
#define EMPTY_AGENT "apflow-none"
/* The index keeps 64-bit prefixes (16 hex digits) of the SHA-256s: enough
 * to tell text or content apart, and a third of the memory per record. */
#define FP_LEN 16
#define SHA_KEEP 17

/* ---- helpers shared with the tests ---- */

void apf_argilla_agent_name(const char *in, char *out, size_t n)
{
	size_t j = 0;
	int alnum = 0;

	if (!n)
		return;
	if (!in || !*in)
		in = "agent";
	for (const unsigned char *p = (const unsigned char *)in; *p && j + 1 < n && j < 200; p++) {
		unsigned char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		alnum |= ok;
		if (!ok && !strchr("-_:./ ", c))
			c = '-';
		/* A multi-byte character becomes one '-'. */
		if (*p >= 0x80 && (*p & 0xC0) == 0x80)
			continue;
		out[j++] = (char)c;
	}
	out[j] = '\0';
	if (!alnum) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "agent-%s", out);
		apf_strlcpy(out, tmp, n < 201 ? n : 201);
	}
}

double apf_argilla_span_f1(const struct apf_argilla_span *a, size_t na, const struct apf_argilla_span *b,
			   size_t nb)
{
	size_t tp = 0;

	if (na + nb == 0)
		return 1.0;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (a[i].start == b[j].start && a[i].end == b[j].end && a[i].label == b[j].label) {
				tp++;
				break;
			}
	return 2.0 * (double)tp / (double)(na + nb);
}

static int cmp_priority(const void *x, const void *y)
{
	const struct apf_argilla_span *a = x, *b = y;

	if (a->agents != b->agents)
		return b->agents - a->agents;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	return a->label - b->label;
}

static int cmp_start(const void *x, const void *y)
{
	const struct apf_argilla_span *a = x, *b = y;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return a->end < b->end ? -1 : a->end > b->end;
}

size_t apf_argilla_merge_spans(struct apf_argilla_span *in, size_t n, struct apf_argilla_span *out)
{
	size_t m = 0, k;

	if (n == 0)
		return 0;
	/* Identical spans of several agents become one, counted and with
	 * the best score. */
	qsort(in, n, sizeof(*in), cmp_start);
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && in[k - 1].start == in[i].start && in[k - 1].end == in[i].end &&
		    in[k - 1].label == in[i].label) {
			in[k - 1].agents += in[i].agents;
			if (in[i].score > in[k - 1].score)
				in[k - 1].score = in[i].score;
			continue;
		}
		in[k++] = in[i];
	}
	qsort(in, k, sizeof(*in), cmp_priority);
	for (size_t i = 0; i < k; i++) {
		int clash = 0;
		for (size_t j = 0; j < m && !clash; j++)
			clash = in[i].start < out[j].end && in[i].end > out[j].start;
		if (!clash)
			out[m++] = in[i];
	}
	qsort(out, m, sizeof(*out), cmp_start);
	return m;
}

/* ---- the index of records: external id -> what the server has ---- */

struct entry {
	char *key;
	char server_id[40];
	char sha[SHA_KEEP];       /* text_sha256 on the server (prefix) */
	char file_sha[SHA_KEEP];  /* and in the file */
	char fp[FP_LEN + 1];
	unsigned on_server : 1;
	unsigned in_file : 1;
	unsigned changed : 1;   /* text differs: replaced or refused */
	unsigned has_sugg : 1;  /* the server's record has a suggestion */
};

struct index {
	struct entry *e;
	size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct entry *index_get(struct index *ix, const char *key, int add)
{
	size_t i;

	if (add && (ix->n + 1) * 10 >= ix->cap * 7) {
		struct index big = { NULL, ix->cap ? ix->cap * 2 : 1024, 0 };
		big.e = apf_xcalloc(big.cap, sizeof(*big.e));
		for (size_t j = 0; j < ix->cap; j++) {
			if (!ix->e[j].key)
				continue;
			i = hash_str(ix->e[j].key) & (big.cap - 1);
			while (big.e[i].key)
				i = (i + 1) & (big.cap - 1);
			big.e[i] = ix->e[j];
			big.n++;
		}
		free(ix->e);
		*ix = big;
	}
	if (!ix->cap)
		return NULL;
	i = hash_str(key) & (ix->cap - 1);
	while (ix->e[i].key) {
		if (!strcmp(ix->e[i].key, key))
			return &ix->e[i];
		i = (i + 1) & (ix->cap - 1);
	}
	if (!add)
		return NULL;
	ix->e[i].key = apf_xstrdup(key);
	ix->n++;
	return &ix->e[i];
}

static void index_release(struct index *ix)
{
	for (size_t i = 0; i < ix->cap; i++)
		free(ix->e[i].key);
	free(ix->e);
	memset(ix, 0, sizeof(*ix));
}

/* The fingerprint of what a record carries besides its text. */
static void fingerprint(json_t *metadata, json_t *suggestion, char out[FP_LEN + 1])
{
	json_t *o = json_object();
	char hex[APF_SHA256_HEX];
	char *s;

	json_object_set(o, "m", metadata ? metadata : json_null());
	json_object_set(o, "s", suggestion ? suggestion : json_null());
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
	apf_sha256_hex(s ? s : "", s ? strlen(s) : 0, hex);
	memcpy(out, hex, FP_LEN);
	out[FP_LEN] = '\0';
	free(s);
	json_decref(o);
}

/* The suggestion of a record as the fingerprint sees it. */
static json_t *suggestion_view(json_t *value, json_t *score, json_t *agent, json_t *type)
{
	return json_pack("{s:O?, s:O?, s:O?, s:O?}", "value", value, "score", score, "agent", agent, "type", type);
}

static int load_index(struct apf_argilla *a, const struct apf_argilla_dataset *ds, struct index *ix,
		      volatile sig_atomic_t *cancel, struct apf_err *err)
{
	uint64_t offset = 0;

	for (;;) {
		char *path = apf_xasprintf("/api/v1/datasets/%s/records?include=suggestions&offset=%" PRIu64
					   "&limit=1000",
					   ds->id, offset);
		json_t *root = NULL, *items, *r;
		size_t i, n;
		int rc = apf_argilla_call(a, "GET", path, NULL, 0, NULL, &root, err);

		free(path);
		if (rc)
			return rc;
		items = json_object_get(root, "items");
		n = json_array_size(items);
		json_array_foreach(items, i, r)
		{
			const char *ext = json_string_value(json_object_get(r, "external_id"));
			json_t *md = json_object_get(r, "metadata"), *s, *sv = NULL;
			struct entry *e;
			size_t k;

			if (!ext)
				continue;
			e = index_get(ix, ext, 1);
			e->on_server = 1;
			apf_strlcpy(e->server_id, json_string_value(json_object_get(r, "id")) ? json_string_value(json_object_get(r, "id")) : "",
				    sizeof(e->server_id));
			apf_strlcpy(e->sha, json_is_string(json_object_get(md, "text_sha256")) ? json_string_value(json_object_get(md, "text_sha256")) : "",
				    sizeof(e->sha));
			json_array_foreach(json_object_get(r, "suggestions"), k, s)
			{
				const char *q = json_string_value(json_object_get(s, "question_id"));
				if (q && !strcmp(q, ds->question_id) && !sv)
					sv = suggestion_view(json_object_get(s, "value"), json_object_get(s, "score"),
							     json_object_get(s, "agent"), json_object_get(s, "type"));
			}
			e->has_sugg = sv != NULL;
			fingerprint(json_is_object(md) ? md : NULL, sv, e->fp);
			json_decref(sv);
		}
		json_decref(root);
		if (n == 0)
			return 0;
		offset += n;
		if (cancel && *cancel)
			return apf_error(err, APF_EIO, "interrupted");
	}
}

/* ---- reading the file ---- */

enum col { C_ID, C_DOC, C_PAGE, C_TEXT, C_SHA, C_LSV, C_SOURCE, C_ENGINE, C_SUGG, C_NSPANS, C_MINSCORE, C_AGREE, C_COUNT };

static const struct {
	const char *name;
	const char *cast;
	int required;
} cols[C_COUNT] = {
	{ "id", "VARCHAR", 0 },           { "doc_id", "VARCHAR", 1 },     { "page_num", "BIGINT", 1 },
	{ "text", "VARCHAR", 1 },         { "text_sha256", "VARCHAR", 1 }, { "labelset_version", "VARCHAR", 0 },
	{ "source", "VARCHAR", 0 },       { "engine", "VARCHAR", 0 },     { "suggestions_json", "VARCHAR", 0 },
	{ "n_spans", "BIGINT", 0 },       { "min_score", "DOUBLE", 0 },   { "agreement", "DOUBLE", 0 },
};

struct reader {
	struct apf_db *db;
	char *select;
	const char *name; /* for messages */
};

static int reader_open(struct reader *rd, const char *path, const char *name, struct apf_err *err)
{
	struct apf_db_result *r = NULL;
	struct apf_buf sql = APF_BUF_INIT;
	int have[C_COUNT] = { 0 };
	char *qp;
	int rc;

	memset(rd, 0, sizeof(*rd));
	rd->name = name;
	rc = apf_db_open_memory(&rd->db, err);
	/* One thread reads the file: the rows are taken one chunk at a time,
	 * and more threads would only read ahead into memory. */
	if (!rc)
		rc = apf_db_exec(rd->db, "SET threads = 1", err);
	if (rc)
		return rc;
	qp = apf_db_quote_literal(path);
	{
		char *q = apf_xasprintf("SELECT * FROM read_parquet(%s) LIMIT 0", qp);
		rc = apf_db_query(rd->db, q, &r, err);
		free(q);
	}
	if (rc) {
		char msg[APF_ERR_MSG_MAX];
		apf_strlcpy(msg, err->msg, sizeof(msg));
		free(qp);
		return apf_error(err, APF_EINVAL, "cannot read '%s': %s", name, msg);
	}
	for (uint64_t c = 0; c < apf_db_result_cols(r); c++)
		for (int k = 0; k < C_COUNT; k++)
			if (!strcmp(apf_db_result_colname(r, c), cols[k].name))
				have[k] = 1;
	apf_db_result_free(r);
	for (int k = 0; k < C_COUNT; k++)
		if (cols[k].required && !have[k]) {
			free(qp);
			return apf_error(err, APF_EINVAL, "cannot push '%s': it has no column '%s' (the schema of argilla_records.parquet)",
					 name, cols[k].name);
		}
	apf_buf_init(&sql, 0);
	apf_buf_adds(&sql, "SELECT ");
	for (int k = 0; k < C_COUNT; k++) {
		char *qi = apf_db_quote_ident(cols[k].name);
		if (have[k])
			apf_buf_addf(&sql, "%sCAST(%s AS %s)", k ? ", " : "", qi, cols[k].cast);
		else
			apf_buf_addf(&sql, "%sCAST(NULL AS %s)", k ? ", " : "", cols[k].cast);
		free(qi);
	}
	apf_buf_addf(&sql, " FROM read_parquet(%s)", qp);
	free(qp);
	rd->select = apf_buf_detach(&sql, NULL);
	return 0;
}

static void reader_close(struct reader *rd)
{
	apf_db_close(rd->db);
	free(rd->select);
}

struct row {
	char *v[C_COUNT];
	int64_t page_num;
};

static void row_release(struct row *rw)
{
	for (int k = 0; k < C_COUNT; k++)
		free(rw->v[k]);
	memset(rw, 0, sizeof(*rw));
}

/* Calls fn for each row; fn returning non-zero stops with that code. */
static int reader_each(struct reader *rd, int (*fn)(struct row *rw, void *arg), void *arg,
		       volatile sig_atomic_t *cancel, struct apf_err *err)
{
	struct apf_db_stmt *st = NULL;
	struct apf_db_stream *s = NULL;
	struct apf_db_result *chunk = NULL;
	int rc = apf_db_prepare(rd->db, rd->select, &st, err);

	if (!rc)
		rc = apf_db_stream_open(st, &s, err);
	if (rc) {
		char msg[APF_ERR_MSG_MAX];
		apf_strlcpy(msg, err->msg, sizeof(msg));
		apf_db_stmt_free(st);
		return apf_error(err, APF_EINVAL, "cannot read '%s': %s", rd->name, msg);
	}
	while (!rc) {
		rc = apf_db_stream_next(s, &chunk, err);
		if (rc) {
			char msg[APF_ERR_MSG_MAX];
			apf_strlcpy(msg, err->msg, sizeof(msg));
			rc = apf_error(err, APF_EINVAL, "cannot read '%s': %s", rd->name, msg);
			break;
		}
		if (!chunk)
			break;
		for (uint64_t i = 0; i < apf_db_result_rows(chunk) && !rc; i++) {
			struct row rw;
			memset(&rw, 0, sizeof(rw));
			for (int k = 0; k < C_COUNT; k++)
				rw.v[k] = apf_db_result_text(chunk, (uint64_t)k, i);
			rw.page_num = apf_db_result_i64(chunk, C_PAGE, i);
			rc = fn(&rw, arg);
			row_release(&rw);
		}
		apf_db_result_free(chunk);
		if (!rc && cancel && *cancel)
			rc = apf_error(err, APF_EIO, "interrupted");
	}
	apf_db_stream_free(s);
	apf_db_stmt_free(st);
	return rc;
}

/* ---- one record: checks and JSON ---- */

struct record {
	char id[512];
	json_t *metadata;
	json_t *suggestion; /* for the request (with question_id), or NULL */
	char fp[FP_LEN + 1];
};

/* Reads one agent's element of suggestions_json; problems go to why. */
static int read_agent(json_t *el, size_t text_cps, const struct apf_labelset *ls,
		      struct apf_argilla_span **spans, size_t *n, size_t *alloc, struct apf_argilla_span **mine,
		      size_t *nmine, char *agent, size_t agent_n, char *why, size_t why_n)
{
	json_t *value = json_object_get(el, "value"), *score = json_object_get(el, "score"), *sp;
	const char *q = json_string_value(json_object_get(el, "question_name"));
	size_t i, first = *n;

	if (!json_is_object(el))
		return snprintf(why, why_n, "suggestions_json: an element is not an object"), -1;
	if (q && strcmp(q, ls->question_name))
		return snprintf(why, why_n, "suggestions_json: question '%s' is not '%s'", q, ls->question_name), -1;
	if (!json_is_array(value))
		return snprintf(why, why_n, "suggestions_json: 'value' is not a list"), -1;
	if (!json_is_null(score) && score && !json_is_number(score) && !json_is_array(score))
		return snprintf(why, why_n, "suggestions_json: 'score' is not a number or a list"), -1;
	if (json_is_array(score) && json_array_size(score) != json_array_size(value))
		return snprintf(why, why_n, "suggestions_json: %zu scores for %zu spans", json_array_size(score),
				json_array_size(value)),
		       -1;
	apf_argilla_agent_name(json_string_value(json_object_get(el, "agent")), agent, agent_n);
	json_array_foreach(value, i, sp)
	{
		json_t *js = json_object_get(sp, "start"), *je = json_object_get(sp, "end");
		const char *label = json_string_value(json_object_get(sp, "label"));
		json_t *sc = json_is_array(score) ? json_array_get(score, i) : score;
		struct apf_argilla_span s;

		if (!json_is_integer(js) || !json_is_integer(je) || !label)
			return snprintf(why, why_n, "span %zu: needs integer start and end and a label", i), -1;
		s.start = json_integer_value(js);
		s.end = json_integer_value(je);
		s.label = apf_labelset_find(ls, label);
		s.agents = 1;
		s.score = json_is_number(sc) ? json_number_value(sc) : 1.0;
		if (s.label < 0)
			return snprintf(why, why_n, "span %zu: label '%s' is not in labelset %s", i, label, ls->version), -1;
		if (s.start < 0 || s.end <= s.start)
			return snprintf(why, why_n, "span %zu [%" PRId64 ", %" PRId64 "): start must be >= 0 and below end", i,
					s.start, s.end),
			       -1;
		if ((uint64_t)s.end > text_cps)
			return snprintf(why, why_n,
					"span %zu [%" PRId64 ", %" PRId64 ") %s: past the end of the text (%zu code points)", i,
					s.start, s.end, label, text_cps),
			       -1;
		if (json_is_number(sc) && (s.score < 0 || s.score > 1 || isnan(s.score)))
			return snprintf(why, why_n, "span %zu: score %g is not in [0, 1]", i, s.score), -1;
		for (size_t j = first; j < *n; j++)
			if (s.start < (*spans)[j].end && s.end > (*spans)[j].start)
				return snprintf(why, why_n, "spans overlap: [%" PRId64 ", %" PRId64 ") and [%" PRId64 ", %" PRId64 ")",
						(*spans)[j].start, (*spans)[j].end, s.start, s.end),
				       -1;
		if (*n == *alloc) {
			*alloc = *alloc ? *alloc * 2 : 16;
			*spans = apf_xrealloc(*spans, *alloc * sizeof(**spans));
		}
		(*spans)[(*n)++] = s;
	}
	*mine = *spans + first; /* valid until the next realloc: the caller copies */
	*nmine = *n - first;
	return 0;
}

static json_t *meta_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

/*
 * Builds the record of a row; returns 0, or -1 with why (and the record's
 * id) filled in.
 */
static int build_record(const struct row *rw, const struct apf_labelset *ls, const char *question_id,
			int want_fp, struct record *out, char *why, size_t why_n)
{
	const char *text = rw->v[C_TEXT];
	struct apf_argilla_span *spans = NULL, *merged = NULL, *first_agent = NULL;
	size_t nspans = 0, alloc = 0, nfirst = 0, nagents = 0, nmerged = 0, text_cps;
	double agreement = 1.0, min_score = INFINITY;
	char agents[1024] = "", hex[APF_SHA256_HEX];
	json_t *sugg = NULL, *root = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!rw->v[C_DOC] || !rw->v[C_PAGE]) {
		snprintf(out->id, sizeof(out->id), "%s", rw->v[C_ID] ? rw->v[C_ID] : "?");
		snprintf(why, why_n, "doc_id or page_num is NULL");
		return -1;
	}
	snprintf(out->id, sizeof(out->id), "%s:%" PRId64, rw->v[C_DOC], rw->page_num);
	if (rw->v[C_ID] && strcmp(rw->v[C_ID], out->id)) {
		snprintf(why, why_n, "id '%s' is not <doc_id>:<page_num>", rw->v[C_ID]);
		return -1;
	}
	if (!text || !*text) {
		snprintf(why, why_n, "the text is NULL or empty");
		return -1;
	}
	apf_sha256_hex(text, strlen(text), hex);
	if (!rw->v[C_SHA] || strcmp(rw->v[C_SHA], hex)) {
		snprintf(why, why_n, "text_sha256 %.12s... is not the SHA-256 of the text (%.12s...)",
			 rw->v[C_SHA] ? rw->v[C_SHA] : "NULL", hex);
		return -1;
	}
	if (rw->v[C_LSV] && strcmp(rw->v[C_LSV], ls->version)) {
		snprintf(why, why_n, "labelset_version '%s', but the dataset uses labelset %s", rw->v[C_LSV], ls->version);
		return -1;
	}
	text_cps = apf_utf8_count(text, strlen(text));
	if (rw->v[C_SUGG] && *rw->v[C_SUGG]) {
		json_error_t jerr;
		json_t *el;
		size_t i;

		root = json_loads(rw->v[C_SUGG], 0, &jerr);
		if (!root || !json_is_array(root)) {
			snprintf(why, why_n, "suggestions_json is not a JSON list%s%s", root ? "" : ": ", root ? "" : jerr.text);
			goto out;
		}
		json_array_foreach(root, i, el)
		{
			char agent[256], w[512];
			struct apf_argilla_span *mine;
			size_t nmine;

			if (read_agent(el, text_cps, ls, &spans, &nspans, &alloc, &mine, &nmine, agent, sizeof(agent),
				       w, sizeof(w))) {
				snprintf(why, why_n, "suggestion %zu: %s", i, w);
				goto out;
			}
			if (nagents == 0) {
				nfirst = nmine;
				first_agent = apf_xmalloc((nmine ? nmine : 1) * sizeof(*first_agent));
				memcpy(first_agent, mine, nmine * sizeof(*first_agent));
			} else if (nagents == 1) {
				agreement = apf_argilla_span_f1(first_agent, nfirst, mine, nmine);
			}
			if (strlen(agents) + strlen(agent) + 2 < sizeof(agents) && !strstr(agents, agent)) {
				size_t l = strlen(agents);
				snprintf(agents + l, sizeof(agents) - l, "%s%s", l ? "/" : "", agent);
			}
			nagents++;
		}
	}
	for (size_t i = 0; i < nspans; i++)
		if (spans[i].score < min_score)
			min_score = spans[i].score;
	merged = apf_xmalloc((nspans ? nspans : 1) * sizeof(*merged));
	nmerged = apf_argilla_merge_spans(spans, nspans, merged);
	if (nagents) {
		json_t *value = json_array(), *score = nmerged ? json_array() : json_null();
		char agent[256];

		apf_argilla_agent_name(agents, agent, sizeof(agent));
		for (size_t i = 0; i < nmerged; i++) {
			json_array_append_new(value, json_pack("{s:s, s:I, s:I}", "label", ls->labels[merged[i].label].name,
							       "start", (json_int_t)merged[i].start, "end",
							       (json_int_t)merged[i].end));
			json_array_append_new(score, json_real(merged[i].score));
		}
		sugg = json_pack("{s:o, s:o, s:s, s:s}", "value", value, "score", score, "agent", agent, "type", "model");
	}
	/* The merged columns win; the values from suggestions_json stand in
	 * when a column is absent or NULL. */
	if (rw->v[C_AGREE])
		agreement = strtod(rw->v[C_AGREE], NULL);
	if (rw->v[C_MINSCORE])
		min_score = strtod(rw->v[C_MINSCORE], NULL);
	out->metadata = json_object();
	json_object_set_new(out->metadata, "doc_id", json_string(rw->v[C_DOC]));
	json_object_set_new(out->metadata, "page_num", json_integer(rw->page_num));
	json_object_set_new(out->metadata, "text_sha256", json_string(hex));
	json_object_set_new(out->metadata, "labelset_version", json_string(rw->v[C_LSV] ? rw->v[C_LSV] : ls->version));
	json_object_set_new(out->metadata, "source", meta_str(rw->v[C_SOURCE] ? rw->v[C_SOURCE] : rw->v[C_ENGINE]));
	/* engine is the OCR engine (issue 12, DESIGN.md), which the merged
	 * file has as `source`; its own `engine` column (the agents, in
	 * merge_suggestions_for_argilla.sql) is only the fallback. */
	json_object_set_new(out->metadata, "engine", meta_str(rw->v[C_SOURCE] ? rw->v[C_SOURCE] : rw->v[C_ENGINE]));
	json_object_set_new(out->metadata, "agreement", json_real(isfinite(agreement) ? agreement : 1.0));
	json_object_set_new(out->metadata, "min_score", isfinite(min_score) ? json_real(min_score) : json_null());
	json_object_set_new(out->metadata, "n_spans",
			    json_integer(rw->v[C_NSPANS] ? (json_int_t)strtoll(rw->v[C_NSPANS], NULL, 10) : (json_int_t)nmerged));
	if (want_fp)
		fingerprint(out->metadata, sugg, out->fp);
	if (sugg) {
		if (question_id)
			json_object_set_new(sugg, "question_id", json_string(question_id));
		if (json_is_null(json_object_get(sugg, "score")))
			json_object_del(sugg, "score");
		out->suggestion = sugg;
		sugg = NULL;
	}
	rc = 0;
out:
	json_decref(sugg);
	json_decref(root);
	free(spans);
	free(merged);
	free(first_agent);
	return rc;
}

static void record_release(struct record *r)
{
	json_decref(r->metadata);
	json_decref(r->suggestion);
	memset(r, 0, sizeof(*r));
}

/* ---- step 2: checking ---- */

struct check {
	const struct apf_labelset *ls;
	const char *question_id;
	struct index *ix;
	int replace;
	uint64_t rows, bad, changed;
	struct apf_buf report;
};

static void report(struct check *ck, const char *id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(struct check *ck, const char *id, const char *fmt, ...)
{
	va_list ap;

	ck->bad++;
	if (ck->bad > MAX_REPORTED)
		return;
	apf_buf_addf(&ck->report, "\n  record '%s': ", id);
	va_start(ap, fmt);
	apf_buf_vaddf(&ck->report, fmt, ap);
	va_end(ap);
}

static int check_row(struct row *rw, void *arg)
{
	struct check *ck = arg;
	struct record rec;
	struct entry *e;
	char why[1024];

	ck->rows++;
	if (build_record(rw, ck->ls, ck->question_id, 0, &rec, why, sizeof(why))) {
		report(ck, rec.id, "%s", why);
		record_release(&rec);
		return 0;
	}
	e = index_get(ck->ix, rec.id, 1);
	if (e->in_file)
		report(ck, rec.id, "appears more than once in the file");
	e->in_file = 1;
	apf_strlcpy(e->file_sha, json_string_value(json_object_get(rec.metadata, "text_sha256")), sizeof(e->file_sha));
	record_release(&rec);
	return 0;
}

/* ---- step 3: sending ---- */

struct batch {
	struct batch *next;
	char *body;
	size_t len;
	char **ids;
	size_t n;
	size_t n_new;
};

struct sender {
	struct apf_argilla *a;
	const struct apf_argilla_dataset *ds;
	const struct apf_labelset *ls;
	struct index *ix;
	size_t batch_size;

	pthread_mutex_t mu;
	pthread_cond_t cv_work;  /* a batch is queued, or closing */
	pthread_cond_t cv_room;  /* the queue has room, or a batch finished */
	struct batch *head, *tail;
	size_t queued, max_queued;
	int closing;
	int failed;               /* a request failed for good: stop */
	struct apf_err err;       /* its error */
	uint64_t done, created, updated, failed_records, requests;
	int inflight;
	int stop;                 /* the file no longer reads as it did in step 2 */
	volatile sig_atomic_t *cancel;
	apf_argilla_progress_fn progress;
	void *progress_arg;
	uint64_t total;
	int64_t last_progress;

	/* the batch being built (main thread) */
	struct apf_buf body;
	char **ids;
	size_t n, n_new;
	uint64_t unchanged, replaced;
	uint64_t rows;
};

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->ids[i]);
	free(b->ids);
	free(b->body);
	free(b);
}

/* The record a 422's "position i" names, or NULL. */
static const char *record_at(const struct batch *b, const char *detail)
{
	const char *p = strstr(detail, "position ");
	char *end;
	unsigned long i;

	if (!p)
		return NULL;
	i = strtoul(p + 9, &end, 10);
	return end != p + 9 && i < b->n ? b->ids[i] : NULL;
}

static void send_batch(struct sender *sd, struct batch *b)
{
	struct apf_http_response resp;
	struct apf_err err;
	char *path = apf_xasprintf("/api/v1/datasets/%s/records/bulk", sd->ds->id);
	int rc;

	apf_err_clear(&err);
	apf_http_response_init(&resp);
	rc = argilla_request(sd->a, "PUT", path, b->body, b->len, &resp, &err);
	if (!rc && (resp.status < 200 || resp.status > 299)) {
		char *detail = apf_argilla_detail(resp.body.data, resp.body.len);
		const char *rid = record_at(b, detail);
		if (resp.status == 422 && rid)
			rc = apf_error(&err, APF_EINVAL, "record '%s' refused by Argilla (HTTP 422): %s", rid, detail);
		else if (resp.status == 422)
			rc = apf_error(&err, APF_EINVAL, "a batch of %zu records from '%s' to '%s' refused by Argilla (HTTP 422): %s",
				       b->n, b->ids[0], b->ids[b->n - 1], detail);
		else
			rc = apf_error(&err, argilla_status_code(resp.status), "PUT %s: HTTP %ld%s%s (after %d attempts)", path,
				       resp.status, *detail ? ": " : "", detail, resp.attempts);
		free(detail);
	} else if (rc) {
		apf_error_prefix(&err, "records '%s' to '%s'", b->ids[0], b->ids[b->n - 1]);
	}
	apf_http_response_release(&resp);
	free(path);
	pthread_mutex_lock(&sd->mu);
	sd->inflight--;
	if (rc) {
		sd->failed_records += b->n;
		if (!sd->failed) {
			sd->failed = 1;
			sd->err = err;
		}
	} else {
		sd->done += b->n;
		sd->requests++;
		sd->created += b->n_new;
		sd->updated += b->n - b->n_new;
	}
	pthread_cond_broadcast(&sd->cv_room);
	pthread_mutex_unlock(&sd->mu);
}

static void *worker(void *arg)
{
	struct sender *sd = arg;

	for (;;) {
		struct batch *b;

		pthread_mutex_lock(&sd->mu);
		while (!sd->head && !sd->closing)
			pthread_cond_wait(&sd->cv_work, &sd->mu);
		b = sd->head;
		if (b) {
			sd->inflight++;
			sd->head = b->next;
			if (!sd->head)
				sd->tail = NULL;
			sd->queued--;
			pthread_cond_broadcast(&sd->cv_room);
		}
		/* After a failure or an interruption the rest is dropped, not sent. */
		if (b && (sd->failed || (sd->cancel && *sd->cancel))) {
			if (sd->failed)
				sd->failed_records += b->n;
			sd->inflight--;
			pthread_cond_broadcast(&sd->cv_room);
			pthread_mutex_unlock(&sd->mu);
			batch_free(b);
			continue;
		}
		pthread_mutex_unlock(&sd->mu);
		if (!b)
			return NULL;
		send_batch(sd, b);
		batch_free(b);
	}
}

/* Queues the batch being built; waits while the queue is full. */
static int flush_batch(struct sender *sd)
{
	struct batch *b;

	if (!sd->n)
		return 0;
	apf_buf_adds(&sd->body, "]}");
	b = apf_xcalloc(1, sizeof(*b));
	b->len = sd->body.len;
	b->body = apf_buf_detach(&sd->body, NULL);
	b->ids = sd->ids;
	b->n = sd->n;
	b->n_new = sd->n_new;
	sd->ids = NULL;
	sd->n = sd->n_new = 0;
	pthread_mutex_lock(&sd->mu);
	while (sd->queued >= sd->max_queued && !sd->failed && !(sd->cancel && *sd->cancel)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sd->cv_room, &sd->mu, &ts);
	}
	if (sd->failed || (sd->cancel && *sd->cancel)) {
		if (sd->failed)
			sd->failed_records += b->n;
		pthread_mutex_unlock(&sd->mu);
		batch_free(b);
		return -1;
	}
	if (sd->tail)
		sd->tail->next = b;
	else
		sd->head = b;
	sd->tail = b;
	sd->queued++;
	pthread_cond_signal(&sd->cv_work);
	pthread_mutex_unlock(&sd->mu);
	return 0;
}

static int send_row(struct row *rw, void *arg)
{
	struct sender *sd = arg;
	struct record rec;
	struct entry *e;
	char why[1024];

	if (sd->cancel && *sd->cancel)
		return 1;
	sd->rows++;
	if (sd->progress && apf_now_ms() - sd->last_progress >= 100) {
		uint64_t done;
		pthread_mutex_lock(&sd->mu);
		done = sd->done;
		pthread_mutex_unlock(&sd->mu);
		sd->progress(sd->progress_arg, done, sd->total);
		sd->last_progress = apf_now_ms();
	}
	if (rw->v[C_DOC]) {
		char id[512];
		snprintf(id, sizeof(id), "%s:%" PRId64, rw->v[C_DOC], rw->page_num);
		e = index_get(sd->ix, id, 0);
	} else {
		e = NULL;
	}
	if (build_record(rw, sd->ls, sd->ds->question_id, e && e->on_server && !e->changed, &rec, why, sizeof(why))) {
		/* Checked in step 2: the file changed under us. */
		sd->stop = 1;
		record_release(&rec);
		return 1;
	}
	/* A page that has no suggestion any more: an empty one replaces the
	 * server's (a request without suggestions would leave it there). */
	if (!rec.suggestion && e && e->on_server && !e->changed && e->has_sugg) {
		json_t *empty = json_array();
		json_t *view = suggestion_view(empty, NULL, NULL, NULL);
		json_object_set_new(view, "agent", json_string(EMPTY_AGENT));
		json_object_set_new(view, "type", json_string("model"));
		fingerprint(rec.metadata, view, rec.fp);
		json_object_set_new(view, "question_id", json_string(sd->ds->question_id));
		json_object_del(view, "score");
		rec.suggestion = view;
		json_decref(empty);
	}
	if (e && e->on_server && !e->changed && !strcmp(e->fp, rec.fp)) {
		sd->unchanged++;
		pthread_mutex_lock(&sd->mu);
		sd->done++;
		pthread_mutex_unlock(&sd->mu);
		record_release(&rec);
		return 0;
	}
	if (!sd->n) {
		apf_buf_init(&sd->body, 0);
		apf_buf_adds(&sd->body, "{\"items\":[");
		sd->ids = apf_xcalloc(sd->batch_size, sizeof(*sd->ids));
	} else {
		apf_buf_adds(&sd->body, ",");
	}
	/* The text is most of the bytes: escaped here in one pass rather
	 * than through a Jansson tree. */
	{
		char *md = json_dumps(rec.metadata, JSON_COMPACT | JSON_REAL_PRECISION(17));
		char *sg = rec.suggestion ? json_dumps(rec.suggestion, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
		int bad = !md || (rec.suggestion && !sg);

		bad |= apf_buf_adds(&sd->body, "{\"external_id\":");
		bad |= apf_json_str(&sd->body, rec.id, strlen(rec.id));
		bad |= apf_buf_adds(&sd->body, ",\"fields\":{\"text\":");
		bad |= apf_json_str(&sd->body, rw->v[C_TEXT], strlen(rw->v[C_TEXT]));
		bad |= apf_buf_adds(&sd->body, "},\"metadata\":");
		bad |= md ? apf_buf_adds(&sd->body, md) : -1;
		if (sg) {
			bad |= apf_buf_adds(&sd->body, ",\"suggestions\":[");
			bad |= apf_buf_adds(&sd->body, sg);
			bad |= apf_buf_adds(&sd->body, "]");
		}
		bad |= apf_buf_adds(&sd->body, "}");
		free(md);
		free(sg);
		if (bad) {
			sd->stop = 1;
			record_release(&rec);
			return 1;
		}
	}
	sd->ids[sd->n++] = apf_xstrdup(rec.id);
	if (!e || !e->on_server || e->changed)
		sd->n_new++;
	if (e && e->changed)
		sd->replaced++;
	record_release(&rec);
	if (sd->n >= sd->batch_size)
		return flush_batch(sd) ? 1 : 0;
	return 0;
}

/* Marks the records of the file whose text differs on the server. */
static void find_changed(struct check *ck)
{
	struct index *ix = ck->ix;

	for (size_t i = 0; i < ix->cap; i++) {
		struct entry *e = &ix->e[i];
		if (!e->key || !e->in_file || !e->on_server || !e->sha[0] || !strcmp(e->sha, e->file_sha))
			continue;
		e->changed = 1;
		ck->changed++;
		if (!ck->replace)
			report(ck, e->key,
			       "its text changed since it was pushed (text_sha256 %.12s... in Argilla, %.12s... in the file); "
			       "--replace-changed deletes and recreates it, dropping its annotations",
			       e->sha, e->file_sha);
	}
}

static int delete_changed(struct apf_argilla *a, const struct apf_argilla_dataset *ds, struct index *ix,
			  struct apf_err *err)
{
	struct apf_buf ids = APF_BUF_INIT;
	size_t n = 0, total = 0;
	int rc = 0;

	apf_buf_init(&ids, 0);
	for (size_t i = 0; i <= ix->cap && !rc; i++) {
		int last = i == ix->cap;
		if (!last && !(ix->e[i].key && ix->e[i].changed && ix->e[i].in_file && ix->e[i].server_id[0]))
			continue;
		if (!last) {
			apf_buf_addf(&ids, "%s%s", n ? "," : "", ix->e[i].server_id);
			n++;
			total++;
			if (total <= MAX_REPORTED)
				apf_log_warn("record '%s': text changed; deleting it to create it again (its annotations are dropped)",
					     ix->e[i].key);
		}
		if (n && (n == 100 || last)) {
			char *path = apf_xasprintf("/api/v1/datasets/%s/records?ids=%s", ds->id, ids.data);
			rc = apf_argilla_call(a, "DELETE", path, NULL, 0, NULL, NULL, err);
			free(path);
			apf_buf_reset(&ids);
			n = 0;
		}
	}
	if (total > MAX_REPORTED)
		apf_log_warn("... and %zu more records whose text changed", total - MAX_REPORTED);
	apf_buf_release(&ids);
	return rc;
}

int apf_argilla_push(struct apf_argilla *a, struct apf_argilla_dataset *ds, const struct apf_labelset *ls,
		     const struct apf_argilla_push_options *opt, struct apf_argilla_push_stats *stats,
		     struct apf_err *err)
{
	const char *name = opt->source_name ? opt->source_name : opt->parquet;
	struct index ix = { NULL, 0, 0 };
	struct reader rd;
	struct check ck;
	struct sender sd;
	pthread_t th[64];
	int nth = 0, rc, conc = opt->concurrency > 0 ? opt->concurrency : 2;
	int64_t t0 = apf_now_ms();

	memset(stats, 0, sizeof(*stats));
	if (conc > 64)
		conc = 64;
	rc = reader_open(&rd, opt->parquet, name, err);
	if (rc)
		goto out_reader;

	/* The file alone first: bad input stops here, before any request. */
	memset(&ck, 0, sizeof(ck));
	ck.ls = ls;
	ck.ix = &ix;
	ck.replace = opt->replace_changed;
	apf_buf_init(&ck.report, 0);
	rc = reader_each(&rd, check_row, &ck, opt->cancel, err);
	stats->total = ck.rows;
	apf_log_debug("push: %" PRIu64 " records checked in %" PRId64 " ms", ck.rows, apf_now_ms() - t0);
	if (!rc && opt->open_dataset)
		rc = ck.bad ? 0 : opt->open_dataset(opt->open_arg, ds, err);
	/* Then what is on the server: changed text is bad input too. */
	if (!rc && !ck.bad) {
		int64_t t1 = apf_now_ms();
		rc = load_index(a, ds, &ix, opt->cancel, err);
		apf_log_debug("push: the server's records listed in %" PRId64 " ms", apf_now_ms() - t1);
	}
	if (!rc && !ck.bad)
		find_changed(&ck);
	if (!rc && ck.bad) {
		rc = apf_error(err, APF_EINVAL, "cannot push '%s': %" PRIu64 " of %" PRIu64 " records are not valid; nothing was sent:%s%s",
			       name, ck.bad, ck.rows, ck.report.data,
			       ck.bad > MAX_REPORTED ? "\n  ..." : "");
	}
	apf_buf_release(&ck.report);
	if (rc)
		goto out_reader;
	if (ck.changed && opt->replace_changed) {
		rc = delete_changed(a, ds, &ix, err);
		if (rc)
			goto out_reader;
	}

	memset(&sd, 0, sizeof(sd));
	sd.a = a;
	sd.ds = ds;
	sd.ls = ls;
	sd.ix = &ix;
	sd.batch_size = opt->batch_size > 0 ? (size_t)opt->batch_size : 200;
	if (sd.batch_size > 500)
		sd.batch_size = 500;
	sd.max_queued = (size_t)conc;
	sd.progress = opt->progress;
	sd.cancel = opt->cancel;
	sd.progress_arg = opt->progress_arg;
	sd.total = ck.rows;
	apf_err_clear(&sd.err);
	pthread_mutex_init(&sd.mu, NULL);
	pthread_cond_init(&sd.cv_work, NULL);
	pthread_cond_init(&sd.cv_room, NULL);
	for (nth = 0; nth < conc; nth++)
		if (pthread_create(&th[nth], NULL, worker, &sd))
			break;
	if (nth == 0) {
		rc = apf_error(err, APF_EINTERNAL, "cannot start a thread");
	} else {
		struct apf_err rerr;
		int64_t last = 0;

		apf_err_clear(&rerr);
		rc = reader_each(&rd, send_row, &sd, opt->cancel, &rerr);
		if (!rc)
			flush_batch(&sd);
		pthread_mutex_lock(&sd.mu);
		sd.closing = 1;
		pthread_cond_broadcast(&sd.cv_work);
		while (sd.head || sd.inflight) {
			struct timespec ts;
			uint64_t done = sd.done;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (opt->progress && apf_now_ms() - last >= 100) {
				pthread_mutex_unlock(&sd.mu);
				opt->progress(opt->progress_arg, done, ck.rows);
				last = apf_now_ms();
				pthread_mutex_lock(&sd.mu);
				continue;
			}
			pthread_cond_timedwait(&sd.cv_room, &sd.mu, &ts);
		}
		pthread_mutex_unlock(&sd.mu);
		for (int i = 0; i < nth; i++)
			pthread_join(th[i], NULL);
		if (opt->progress)
			opt->progress(opt->progress_arg, sd.done, ck.rows);
		if (sd.failed) {
			*err = sd.err;
			rc = sd.err.code ? sd.err.code : APF_ENET;
		} else if (opt->cancel && *opt->cancel) {
			rc = apf_error(err, APF_EIO, "push interrupted");
		} else if (sd.stop) {
			rc = apf_error(err, APF_EINVAL, "'%s' changed while it was pushed: run the push again", name);
		} else if (rc) {
			*err = rerr;
		}
	}
	for (size_t i = 0; i < sd.n; i++)
		free(sd.ids[i]);
	free(sd.ids);
	apf_buf_release(&sd.body);
	stats->created = sd.created;
	stats->updated = sd.updated;
	stats->unchanged = sd.unchanged;
	stats->replaced = sd.failed ? 0 : sd.replaced;
	stats->failed = sd.failed_records;
	stats->requests = sd.requests;
	pthread_mutex_destroy(&sd.mu);
	pthread_cond_destroy(&sd.cv_work);
	pthread_cond_destroy(&sd.cv_room);
out_reader:
	reader_close(&rd);
	index_release(&ix);
	stats->seconds = (double)(apf_now_ms() - t0) / 1000.0;
	return rc;
}
