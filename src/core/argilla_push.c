/*
 * argilla_push.c: argilla_records.parquet into an Argilla dataset (see
 * argilla.h, apf_argilla_push).
 *
 * Three steps, so that bad input is refused before anything is created
 * or sent:
 *   1. the file is read a chunk at a time and every record checked, on
 *      two threads (check_file): SHA-256 of the text, suggestions_json
 *      (argilla_sugg.c); kept per record: its id and text as two 64-bit
 *      hashes (duplicates, changed texts) and a 64-bit hash of the row's
 *      bytes.  Meanwhile another thread looks the dataset up and, when it
 *      exists, lists its records (opt->find_dataset): reading changes
 *      nothing.  A dataset that does not exist is created after the check;
 *   2. the records already on the server (hashes of external id and
 *      text_sha256, a fingerprint of metadata and suggestion): a text that
 *      changed is refused, or replaced with --replace-changed;
 *   3. the file is read again; each row must hash as it did in step 1
 *      (else the file changed under us: stop before sending it), and the
 *      new or changed records are written, as JSON straight into the
 *      request body, batch_size per PUT .../records/bulk, and sent by
 *      `concurrency` threads taking batches from a short queue: the next
 *      batches are built while those are in flight, and memory holds a
 *      few batches whatever the file's size.  An upsert matched by
 *      external_id is idempotent, so a request retried after a timeout
 *      whose first attempt did reach the server writes nothing twice.
 * --verbose logs the time of each phase (docs/argilla.md, "Speed").
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

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
#define BODY_POOL 8
/* The agent of the empty suggestion that replaces one a page lost. */
#define EMPTY_AGENT "apflow-none"

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

/* ---- what the server has, and what the file has: compact sorted arrays ---- */

/*
 * A record is known by a 64-bit hash of its external id (<doc_id>:<page_num>),
 * its text by the first 64 bits of its text_sha256, the rest of what it
 * carries (metadata and suggestion) by a 64-bit fingerprint.  40 bytes per
 * record in all (24 for the server's, 16 for the file's), in two arrays
 * sorted by key: memory that grows by 3 MB for 80,000 records, where a hash
 * table of strings took about 270 bytes a record.  Two different ids with
 * the same hash (odds about n^2 / 2^65, 2e-10 for 80,000 records) would be
 * refused as a duplicate or a changed text, never written over each other.
 */
struct srec {
	uint64_t key;
	uint64_t sha; /* 0: the server's record has no text_sha256 */
	uint64_t fp;  /* bit 0: the server's record has a suggestion */
};

struct frec {
	uint64_t key;
	uint64_t sha;
};

struct index {
	struct srec *srv;
	size_t nsrv, capsrv;
	struct frec *file;
	size_t nfile, capfile;
	uint64_t *changed; /* keys of the file's records whose text differs on the server, sorted */
	size_t nchanged;
	uint64_t *rowhash; /* row_hash() of every row of the file, in file order */
	size_t nrows, caprows;
};

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	/* murmur3's finaliser: FNV-1a alone leaves the high bits weak */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The first 16 hex digits as a number; 0 when s is not hex. */
static uint64_t hex64(const char *s)
{
	uint64_t v = 0;

	if (!s)
		return 0;
	for (int i = 0; i < 16; i++) {
		int d = apf_hexval(s[i]);
		if (d < 0)
			return 0;
		v = v << 4 | (uint64_t)d;
	}
	return v;
}

static int cmp_srec(const void *x, const void *y)
{
	const struct srec *a = x, *b = y;

	return a->key < b->key ? -1 : a->key > b->key;
}

static int cmp_frec(const void *x, const void *y)
{
	const struct frec *a = x, *b = y;

	return a->key < b->key ? -1 : a->key > b->key;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static const struct srec *srv_find(const struct index *ix, uint64_t key)
{
	struct srec k = { key, 0, 0 };

	return ix->nsrv ? bsearch(&k, ix->srv, ix->nsrv, sizeof(k), cmp_srec) : NULL;
}

static const struct frec *file_find(const struct index *ix, uint64_t key)
{
	struct frec k = { key, 0 };

	return ix->nfile ? bsearch(&k, ix->file, ix->nfile, sizeof(k), cmp_frec) : NULL;
}

static int is_changed(const struct index *ix, uint64_t key)
{
	return ix->nchanged && bsearch(&key, ix->changed, ix->nchanged, sizeof(key), cmp_u64);
}

static void index_release(struct index *ix)
{
	free(ix->srv);
	free(ix->file);
	free(ix->changed);
	free(ix->rowhash);
	memset(ix, 0, sizeof(*ix));
}

/* The fingerprint of what a record carries besides its text. */
static uint64_t fingerprint(json_t *metadata, json_t *suggestion)
{
	json_t *o = json_object();
	char hex[APF_SHA256_HEX];
	char *s;

	json_object_set(o, "m", metadata ? metadata : json_null());
	json_object_set(o, "s", suggestion ? suggestion : json_null());
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
	apf_sha256_hex(s ? s : "", s ? strlen(s) : 0, hex);
	free(s);
	json_decref(o);
	return hex64(hex) & ~(uint64_t)1;
}

/* The suggestion of a record as the fingerprint sees it. */
static json_t *suggestion_view(json_t *value, json_t *score, json_t *agent, json_t *type)
{
	return json_pack("{s:O?, s:O?, s:O?, s:O?}", "value", value, "score", score, "agent", agent, "type", type);
}

/* Calls fn for every record of the dataset, 1,000 a request. */
static int list_server(struct apf_argilla *a, const struct apf_argilla_dataset *ds,
		       void (*fn)(json_t *r, void *arg), void *arg, volatile sig_atomic_t *cancel,
		       volatile sig_atomic_t *stop, struct apf_err *err)
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
			fn(r, arg);
		json_decref(root);
		if (n == 0)
			return 0;
		offset += n;
		if ((cancel && *cancel) || (stop && *stop))
			return apf_error(err, APF_EIO, "interrupted");
	}
}

struct load_arg {
	struct index *ix;
	const char *question_id;
};

static void load_one(json_t *r, void *arg)
{
	struct load_arg *la = arg;
	struct index *ix = la->ix;
	const char *ext = json_string_value(json_object_get(r, "external_id"));
	json_t *md = json_object_get(r, "metadata"), *s, *sv = NULL;
	struct srec *e;
	size_t k;

	if (!ext)
		return;
	if (ix->nsrv == ix->capsrv) {
		ix->capsrv = ix->capsrv ? ix->capsrv * 2 : 1024;
		ix->srv = apf_xrealloc(ix->srv, ix->capsrv * sizeof(*ix->srv));
	}
	e = &ix->srv[ix->nsrv++];
	e->key = key_hash(ext);
	e->sha = hex64(json_string_value(json_object_get(md, "text_sha256")));
	json_array_foreach(json_object_get(r, "suggestions"), k, s)
	{
		const char *q = json_string_value(json_object_get(s, "question_id"));
		if (q && !strcmp(q, la->question_id) && !sv)
			sv = suggestion_view(json_object_get(s, "value"), json_object_get(s, "score"), json_object_get(s, "agent"),
					     json_object_get(s, "type"));
	}
	e->fp = fingerprint(json_is_object(md) ? md : NULL, sv) | (sv != NULL);
	json_decref(sv);
}

static int load_index(struct apf_argilla *a, const struct apf_argilla_dataset *ds, struct index *ix,
		      volatile sig_atomic_t *cancel, volatile sig_atomic_t *stop, struct apf_err *err)
{
	struct load_arg la = { ix, ds->question_id };
	int rc = list_server(a, ds, load_one, &la, cancel, stop, err);

	if (!rc && ix->nsrv)
		qsort(ix->srv, ix->nsrv, sizeof(*ix->srv), cmp_srec);
	return rc;
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
	 * and more threads would only read ahead into memory (with two, the
	 * check took more time and memory grew with the file). */
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

/* A row as views into the chunk DuckDB returned (valid while the chunk is):
 * text columns as bytes and lengths (NULL for NULL), numbers as numbers. */
struct row {
	const char *v[C_COUNT];
	size_t l[C_COUNT];
	int64_t page_num, n_spans;
	double min_score, agreement;
	uint64_t index; /* its place in the file, from 0 */
};

static void row_fill(struct apf_db_result *chunk, uint64_t i, uint64_t index, struct row *rw)
{
	static const int text_cols[] = { C_ID, C_DOC, C_TEXT, C_SHA, C_LSV, C_SOURCE, C_ENGINE, C_SUGG };
	static const int num_cols[] = { C_PAGE, C_NSPANS, C_MINSCORE, C_AGREE };

	memset(rw, 0, sizeof(*rw));
	for (size_t k = 0; k < sizeof(text_cols) / sizeof(text_cols[0]); k++) {
		int c = text_cols[k];
		rw->v[c] = apf_db_result_str(chunk, (uint64_t)c, i, &rw->l[c]);
	}
	/* Numbers: v[] is non-NULL when the value is not NULL ("" as a flag). */
	for (size_t k = 0; k < sizeof(num_cols) / sizeof(num_cols[0]); k++)
		if (!apf_db_result_is_null(chunk, (uint64_t)num_cols[k], i))
			rw->v[num_cols[k]] = "";
	if (rw->v[C_PAGE])
		rw->page_num = apf_db_result_i64(chunk, C_PAGE, i);
	if (rw->v[C_NSPANS])
		rw->n_spans = apf_db_result_i64(chunk, C_NSPANS, i);
	if (rw->v[C_MINSCORE])
		rw->min_score = apf_db_result_f64(chunk, C_MINSCORE, i);
	if (rw->v[C_AGREE])
		rw->agreement = apf_db_result_f64(chunk, C_AGREE, i);
	rw->index = index;
}

/* A fast 64-bit hash of bytes, "the same bytes as before": four lanes of
 * 8 bytes (independent multiplications, so they overlap), folded at the end. */
static uint64_t bytes_hash(uint64_t h, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t a = h ^ 0x9E3779B97F4A7C15ULL, b = h + 0xC2B2AE3D27D4EB4FULL, c = h ^ 0x165667B19E3779F9ULL,
		 d = h - 0x27D4EB2F165667C5ULL, w[4];
	size_t len = n;

	for (; n >= 32; p += 32, n -= 32) {
		memcpy(w, p, 32);
		a = (a ^ w[0]) * 0x9E3779B97F4A7C15ULL;
		b = (b ^ w[1]) * 0xC2B2AE3D27D4EB4FULL;
		c = (c ^ w[2]) * 0x165667B19E3779F9ULL;
		d = (d ^ w[3]) * 0x27D4EB2F165667C5ULL;
		a ^= a >> 29;
		b ^= b >> 31;
		c ^= c >> 27;
		d ^= d >> 33;
	}
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(w, p, 8);
		a = (a ^ w[0]) * 0x9E3779B97F4A7C15ULL;
		a ^= a >> 29;
	}
	w[0] = 0;
	memcpy(w, p, n);
	h = (a ^ w[0] ^ ((uint64_t)len << 32)) * 0xC2B2AE3D27D4EB4FULL;
	h = (h ^ (h >> 29) ^ b) * 0x9E3779B97F4A7C15ULL;
	h = (h ^ (h >> 32) ^ c) * 0x165667B19E3779F9ULL;
	h = (h ^ (h >> 29) ^ d) * 0x27D4EB2F165667C5ULL;
	return h ^ (h >> 32);
}

/*
 * What the row holds, as 64 bits: the second reading compares each row
 * with the first one's instead of checking it again (SHA-256 of the text,
 * the suggestions), so a file that changed between the two is caught
 * before the changed record is sent.
 */
static uint64_t row_hash(const struct row *rw)
{
	uint64_t h = 0x243F6A8885A308D3ULL;

	for (int k = 0; k < C_COUNT; k++) {
		if (!rw->v[k]) {
			h = bytes_hash(h, "\xff\xfe", 2);
			continue;
		}
		switch (k) {
		case C_PAGE: h = bytes_hash(h, (const char *)&rw->page_num, 8); break;
		case C_NSPANS: h = bytes_hash(h, (const char *)&rw->n_spans, 8); break;
		case C_MINSCORE: h = bytes_hash(h, (const char *)&rw->min_score, 8); break;
		case C_AGREE: h = bytes_hash(h, (const char *)&rw->agreement, 8); break;
		default: h = bytes_hash(h ^ rw->l[k], rw->v[k], rw->l[k]);
		}
	}
	return h;
}

struct stream {
	struct apf_db_stmt *st;
	struct apf_db_stream *s;
	uint64_t rows;
};

static int stream_open(struct reader *rd, struct stream *sm, struct apf_err *err)
{
	int rc;

	memset(sm, 0, sizeof(*sm));
	rc = apf_db_prepare(rd->db, rd->select, &sm->st, err);
	if (!rc)
		rc = apf_db_stream_open(sm->st, &sm->s, err);
	if (rc) {
		char msg[APF_ERR_MSG_MAX];
		apf_strlcpy(msg, err->msg, sizeof(msg));
		apf_db_stmt_free(sm->st);
		sm->st = NULL;
		return apf_error(err, APF_EINVAL, "cannot read '%s': %s", rd->name, msg);
	}
	return 0;
}

/* The next chunk, or *chunk NULL at the end. */
static int stream_next(struct reader *rd, struct stream *sm, struct apf_db_result **chunk, struct apf_err *err)
{
	int rc = apf_db_stream_next(sm->s, chunk, err);

	if (rc) {
		char msg[APF_ERR_MSG_MAX];
		apf_strlcpy(msg, err->msg, sizeof(msg));
		return apf_error(err, APF_EINVAL, "cannot read '%s': %s", rd->name, msg);
	}
	return 0;
}

static void stream_close(struct stream *sm)
{
	apf_db_stream_free(sm->s);
	apf_db_stmt_free(sm->st);
	memset(sm, 0, sizeof(*sm));
}

/* Calls fn for each row; fn returning non-zero stops with that code. */
static int reader_each(struct reader *rd, int (*fn)(struct row *rw, void *arg), void *arg,
		       volatile sig_atomic_t *cancel, struct apf_err *err)
{
	struct stream sm;
	struct apf_db_result *chunk = NULL;
	int rc = stream_open(rd, &sm, err);

	while (!rc) {
		rc = stream_next(rd, &sm, &chunk, err);
		if (rc || !chunk)
			break;
		for (uint64_t i = 0; i < apf_db_result_rows(chunk) && !rc; i++) {
			struct row rw;
			row_fill(chunk, i, sm.rows++, &rw);
			rc = fn(&rw, arg);
		}
		apf_db_result_free(chunk);
		if (!rc && cancel && *cancel)
			rc = apf_error(err, APF_EIO, "interrupted");
	}
	stream_close(&sm);
	return rc;
}

/* ---- one record: checks, then its JSON written straight into the request ---- */

/* What one thread reuses from record to record: the suggestions reader,
 * the merged spans, a SHA-256 context. */
struct recctx {
	struct apf_argilla_suggestions sg;
	struct apf_argilla_span *merged;
	size_t cap_merged;
	EVP_MD_CTX *md;
	EVP_MD *sha256;
};

static void recctx_init(struct recctx *cx)
{
	memset(cx, 0, sizeof(*cx));
	cx->md = EVP_MD_CTX_new();
	cx->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void recctx_release(struct recctx *cx)
{
	apf_argilla_suggestions_release(&cx->sg);
	free(cx->merged);
	EVP_MD_CTX_free(cx->md);
	EVP_MD_free(cx->sha256);
	memset(cx, 0, sizeof(*cx));
}

static void sha256_hex(struct recctx *cx, const char *s, size_t n, char out[APF_SHA256_HEX])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;

	if (!cx->md || !cx->sha256) {
		apf_sha256_hex(s, n, out);
		return;
	}
	if (EVP_DigestInit_ex(cx->md, cx->sha256, NULL) != 1 || EVP_DigestUpdate(cx->md, s, n) != 1 ||
	    EVP_DigestFinal_ex(cx->md, d, &dl) != 1 || dl != 32) {
		/* cannot happen with the default provider; never matches a hex text */
		memset(out, '?', 64);
		out[64] = '\0';
		return;
	}
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hexd[d[i] >> 4];
		out[2 * i + 1] = hexd[d[i] & 15];
	}
	out[64] = '\0';
}

/* A row checked and turned into what the record carries.  Pointers are into
 * the row (text and lengths) or the recctx (merged). */
struct record {
	char id[512];
	const char *text;
	size_t text_len;
	char sha[APF_SHA256_HEX];
	int64_t page_num;
	const char *doc, *lsv, *source; /* source NULL: JSON null */
	size_t doc_len, lsv_len, source_len;
	const struct apf_argilla_span *merged;
	size_t nmerged;
	int has_sugg;                   /* some agent made a suggestion (even an empty one) */
	char agent[256];
	double agreement, min_score;    /* min_score not finite: JSON null */
	int64_t n_spans;
};

/* Code points of valid UTF-8 (DuckDB checks VARCHAR values): the bytes
 * that do not continue a character, 8 at a time. */
static size_t cp_count(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w, cont;
		memcpy(&w, p + i, 8);
		/* a continuation byte is 10xxxxxx: bit 7 set and bit 6 clear */
		cont = (w & ~(w << 1) & 0x8080808080808080ULL) >> 7;
		/* the sum of the eight 0/1 bytes, in the top byte */
		n += 8 - (size_t)((cont * 0x0101010101010101ULL) >> 56);
	}
	for (; i < len; i++)
		n += (p[i] & 0xC0) != 0x80;
	return n;
}

static int same(const char *a, size_t na, const char *b)
{
	return na == strlen(b) && !memcmp(a, b, na);
}

/*
 * Checks the row and fills out, or returns -1 with why (and the record's
 * id) filled in.  check (the first reading): the text's SHA-256 is checked
 * and nothing more is made once the row is known to be valid.  Else (the
 * second reading, of a row whose bytes are those the first one checked)
 * the SHA-256 is taken from the file, and the suggestions are merged.
 */
static int build_record(const struct row *rw, const struct apf_labelset *ls, struct recctx *cx, int check,
			struct record *out, char *why, size_t why_n)
{
	const char *text = rw->v[C_TEXT];
	struct apf_argilla_suggestions *sg = &cx->sg;
	size_t text_cps;
	double agreement = 1.0, min_score = INFINITY;
	char agents[1024] = "";

	memset(out, 0, sizeof(*out));
	sg->nspans = sg->nagents = 0;
	if (!rw->v[C_DOC] || !rw->v[C_PAGE]) {
		snprintf(out->id, sizeof(out->id), "%.*s", rw->v[C_ID] ? (int)rw->l[C_ID] : 1, rw->v[C_ID] ? rw->v[C_ID] : "?");
		snprintf(why, why_n, "doc_id or page_num is NULL");
		return -1;
	}
	snprintf(out->id, sizeof(out->id), "%.*s:%" PRId64, (int)rw->l[C_DOC], rw->v[C_DOC], rw->page_num);
	if (rw->v[C_ID] && !same(rw->v[C_ID], rw->l[C_ID], out->id)) {
		snprintf(why, why_n, "id '%.*s' is not <doc_id>:<page_num>", (int)rw->l[C_ID], rw->v[C_ID]);
		return -1;
	}
	if (!text || !rw->l[C_TEXT]) {
		snprintf(why, why_n, "the text is NULL or empty");
		return -1;
	}
	out->text = text;
	out->text_len = rw->l[C_TEXT];
	if (check) {
		sha256_hex(cx, text, out->text_len, out->sha);
		if (!rw->v[C_SHA] || rw->l[C_SHA] != 64 || memcmp(rw->v[C_SHA], out->sha, 64)) {
			snprintf(why, why_n, "text_sha256 %.12s... is not the SHA-256 of the text (%.12s...)",
				 rw->v[C_SHA] ? rw->v[C_SHA] : "NULL", out->sha);
			return -1;
		}
	} else {
		if (!rw->v[C_SHA] || rw->l[C_SHA] != 64) {
			snprintf(why, why_n, "text_sha256 changed");
			return -1;
		}
		memcpy(out->sha, rw->v[C_SHA], 64);
		out->sha[64] = '\0';
	}
	if (rw->v[C_LSV] && !same(rw->v[C_LSV], rw->l[C_LSV], ls->version)) {
		snprintf(why, why_n, "labelset_version '%.*s', but the dataset uses labelset %s", (int)rw->l[C_LSV],
			 rw->v[C_LSV], ls->version);
		return -1;
	}
	text_cps = cp_count(text, out->text_len);
	if (rw->v[C_SUGG] && rw->l[C_SUGG] &&
	    apf_argilla_suggestions_parse(sg, rw->v[C_SUGG], rw->l[C_SUGG], text_cps, ls, why, why_n))
		return -1;
	if (check)
		return 0;
	for (size_t i = 0; i < sg->nagents; i++) {
		const char *agent = sg->agents[i].name;
		if (i == 1)
			agreement = apf_argilla_span_f1(sg->spans + sg->agents[0].first, sg->agents[0].n,
							sg->spans + sg->agents[1].first, sg->agents[1].n);
		if (strlen(agents) + strlen(agent) + 2 < sizeof(agents) && !strstr(agents, agent)) {
			size_t l = strlen(agents);
			snprintf(agents + l, sizeof(agents) - l, "%s%s", l ? "/" : "", agent);
		}
	}
	for (size_t i = 0; i < sg->nspans; i++)
		if (sg->spans[i].score < min_score)
			min_score = sg->spans[i].score;
	if (sg->nspans > cx->cap_merged) {
		cx->cap_merged = sg->nspans * 2;
		cx->merged = apf_xrealloc(cx->merged, cx->cap_merged * sizeof(*cx->merged));
	}
	out->nmerged = sg->nspans ? apf_argilla_merge_spans(sg->spans, sg->nspans, cx->merged) : 0;
	out->merged = cx->merged;
	out->has_sugg = sg->nagents > 0;
	if (sg->nagents)
		apf_argilla_agent_name(agents, out->agent, sizeof(out->agent));
	/* The merged columns win; the values from suggestions_json stand in
	 * when a column is absent or NULL. */
	if (rw->v[C_AGREE])
		agreement = rw->agreement;
	if (rw->v[C_MINSCORE])
		min_score = rw->min_score;
	out->agreement = isfinite(agreement) ? agreement : 1.0;
	out->min_score = min_score;
	out->n_spans = rw->v[C_NSPANS] ? rw->n_spans : (int64_t)out->nmerged;
	out->page_num = rw->page_num;
	out->doc = rw->v[C_DOC];
	out->doc_len = rw->l[C_DOC];
	if (rw->v[C_LSV]) {
		out->lsv = rw->v[C_LSV];
		out->lsv_len = rw->l[C_LSV];
	} else {
		out->lsv = ls->version;
		out->lsv_len = strlen(ls->version);
	}
	/* engine is the OCR engine (issue 12, DESIGN.md), which the merged
	 * file has as `source`; its own `engine` column (the agents, in
	 * merge_suggestions_for_argilla.sql) is only the fallback. */
	if (rw->v[C_SOURCE]) {
		out->source = rw->v[C_SOURCE];
		out->source_len = rw->l[C_SOURCE];
	} else if (rw->v[C_ENGINE]) {
		out->source = rw->v[C_ENGINE];
		out->source_len = rw->l[C_ENGINE];
	}
	return 0;
}

/* The record's metadata and suggestion as Jansson values, for the
 * fingerprint (only for records the server has).  empty: the empty
 * suggestion that replaces one the page lost. */
static uint64_t record_fingerprint(const struct record *r, const struct apf_labelset *ls, int empty)
{
	json_t *md = json_object(), *sugg = NULL;
	uint64_t fp;

	json_object_set_new(md, "doc_id", json_stringn(r->doc, r->doc_len));
	json_object_set_new(md, "page_num", json_integer(r->page_num));
	json_object_set_new(md, "text_sha256", json_string(r->sha));
	json_object_set_new(md, "labelset_version", json_stringn(r->lsv, r->lsv_len));
	json_object_set_new(md, "source", r->source ? json_stringn(r->source, r->source_len) : json_null());
	json_object_set_new(md, "engine", r->source ? json_stringn(r->source, r->source_len) : json_null());
	json_object_set_new(md, "agreement", json_real(r->agreement));
	json_object_set_new(md, "min_score", isfinite(r->min_score) ? json_real(r->min_score) : json_null());
	json_object_set_new(md, "n_spans", json_integer(r->n_spans));
	if (r->has_sugg) {
		json_t *value = json_array(), *score = r->nmerged ? json_array() : json_null();
		for (size_t i = 0; i < r->nmerged; i++) {
			json_array_append_new(value, json_pack("{s:s, s:I, s:I}", "label", ls->labels[r->merged[i].label].name,
							       "start", (json_int_t)r->merged[i].start, "end",
							       (json_int_t)r->merged[i].end));
			json_array_append_new(score, json_real(r->merged[i].score));
		}
		sugg = json_pack("{s:o, s:o, s:s, s:s}", "value", value, "score", score, "agent", r->agent, "type", "model");
	} else if (empty) {
		sugg = json_pack("{s:[], s:n, s:s, s:s}", "value", "score", "agent", EMPTY_AGENT, "type", "model");
	}
	fp = fingerprint(md, sugg);
	json_decref(md);
	json_decref(sugg);
	return fp;
}

/* A double as Jansson writes one with JSON_REAL_PRECISION(17): %.17g, and
 * ".0" when that looks like an integer (Argilla checks float metadata with
 * isinstance(v, float)). */
static int put_real(struct apf_buf *b, double v)
{
	/* The same few values (scores, agreement) come back record after
	 * record: their text is kept, by bit pattern, instead of printing
	 * each again (%.17g is the slowest step of writing a record). */
	static _Thread_local struct {
		uint64_t bits;
		unsigned char n; /* 0: empty */
		char s[39];
	} cache[64];
	uint64_t bits;
	size_t slot;
	char s[40];
	int n;

	memcpy(&bits, &v, 8);
	slot = (size_t)((bits * 0x9E3779B97F4A7C15ULL) >> 58);
	if (cache[slot].n && cache[slot].bits == bits)
		return apf_buf_add(b, cache[slot].s, cache[slot].n);
	n = snprintf(s, sizeof(s), "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof(s) - 2)
		return -1;
	if (!strpbrk(s, ".eE")) {
		s[n++] = '.';
		s[n++] = '0';
		s[n] = '\0';
	}
	if ((size_t)n < sizeof(cache[slot].s)) {
		cache[slot].bits = bits;
		cache[slot].n = (unsigned char)n;
		memcpy(cache[slot].s, s, (size_t)n);
	}
	return apf_buf_add(b, s, (size_t)n);
}

static int put_strn(struct apf_buf *b, const char *key, const char *s, size_t n)
{
	int bad = apf_buf_adds(b, key);
	return bad | (s ? apf_json_str(b, s, n) : apf_buf_adds(b, "null"));
}

static int put_str(struct apf_buf *b, const char *key, const char *s)
{
	return put_strn(b, key, s, s ? strlen(s) : 0);
}


/* Appends the record as an item of PUT .../records/bulk, written directly
 * (the text is most of the bytes, escaped here in one pass). */
static int write_record(struct apf_buf *b, const struct record *r, const struct apf_labelset *ls,
			const char *question_id, int empty)
{
	char num[32];
	int bad = 0;

	bad |= put_str(b, "{\"external_id\":", r->id);
	bad |= apf_buf_adds(b, ",\"fields\":{\"text\":");
	bad |= apf_json_str(b, r->text, r->text_len);
	bad |= put_strn(b, "},\"metadata\":{\"doc_id\":", r->doc, r->doc_len);
	snprintf(num, sizeof(num), ",\"page_num\":%" PRId64, r->page_num);
	bad |= apf_buf_adds(b, num);
	bad |= put_str(b, ",\"text_sha256\":", r->sha);
	bad |= put_strn(b, ",\"labelset_version\":", r->lsv, r->lsv_len);
	bad |= put_strn(b, ",\"source\":", r->source, r->source_len);
	bad |= put_strn(b, ",\"engine\":", r->source, r->source_len);
	bad |= apf_buf_adds(b, ",\"agreement\":");
	bad |= put_real(b, r->agreement);
	bad |= apf_buf_adds(b, ",\"min_score\":");
	bad |= isfinite(r->min_score) ? put_real(b, r->min_score) : apf_buf_adds(b, "null");
	snprintf(num, sizeof(num), ",\"n_spans\":%" PRId64 "}", r->n_spans);
	bad |= apf_buf_adds(b, num);
	if (r->has_sugg || empty) {
		bad |= apf_buf_adds(b, ",\"suggestions\":[{\"value\":[");
		for (size_t i = 0; r->has_sugg && i < r->nmerged; i++) {
			bad |= put_str(b, i ? ",{\"label\":" : "{\"label\":", ls->labels[r->merged[i].label].name);
			snprintf(num, sizeof(num), ",\"start\":%" PRId64, r->merged[i].start);
			bad |= apf_buf_adds(b, num);
			snprintf(num, sizeof(num), ",\"end\":%" PRId64 "}", r->merged[i].end);
			bad |= apf_buf_adds(b, num);
		}
		bad |= apf_buf_adds(b, "]");
		if (r->has_sugg && r->nmerged) {
			bad |= apf_buf_adds(b, ",\"score\":[");
			for (size_t i = 0; i < r->nmerged; i++) {
				if (i)
					bad |= apf_buf_adds(b, ",");
				bad |= put_real(b, r->merged[i].score);
			}
			bad |= apf_buf_adds(b, "]");
		}
		bad |= put_str(b, ",\"agent\":", r->has_sugg ? r->agent : EMPTY_AGENT);
		bad |= put_str(b, ",\"type\":\"model\",\"question_id\":", question_id);
		bad |= apf_buf_adds(b, "}]");
	}
	bad |= apf_buf_adds(b, "}");
	return bad ? -1 : 0;
}

/* ---- step 2: checking ---- */

struct check {
	const struct apf_labelset *ls;
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

/*
 * The first reading, on CHECK_THREADS threads: the main thread takes the
 * chunks from DuckDB (2,048 rows each) and hands them out in turn through
 * CHECK_SLOTS slots; a thread checks every row of its chunk (SHA-256 of the
 * text, the suggestions) and keeps, for each valid row, its key and text
 * hash, and for every row the hash of its bytes (row_hash).  The results
 * are taken back slot by slot in file order, so the records named in a
 * report are the first ones of the file, as with one thread.  DuckDB's
 * decoding on the main thread is the slowest part (about 6 us a record of
 * the bench's, the checks of a row about 2.5): two slots keep it busy, and
 * each slot holds a chunk (about 4 MB of 2 KB pages), so not more.
 */
#define CHECK_THREADS 2
#define CHECK_SLOTS 2

struct cjob {
	struct apf_db_result *chunk;
	uint64_t row0;
	size_t n;
	struct frec *keys;
	size_t nkeys;
	uint64_t *hash;
	size_t cap;
	uint64_t bad;
	char *msg[MAX_REPORTED];
	size_t nmsg;
	int done;
};

struct checker {
	const struct apf_labelset *ls;
	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_done;
	struct cjob slot[CHECK_SLOTS];
	uint64_t filled, taken;
	int closing;
};

static void check_chunk(const struct apf_labelset *ls, struct recctx *cx, struct cjob *j)
{
	struct record rec;
	char why[1024];

	j->nkeys = 0;
	j->bad = 0;
	j->nmsg = 0;
	if (j->n > j->cap) {
		j->cap = j->n;
		j->keys = apf_xrealloc(j->keys, j->cap * sizeof(*j->keys));
		j->hash = apf_xrealloc(j->hash, j->cap * sizeof(*j->hash));
	}
	for (size_t i = 0; i < j->n; i++) {
		struct row rw;
		row_fill(j->chunk, i, j->row0 + i, &rw);
		j->hash[i] = row_hash(&rw);
		if (build_record(&rw, ls, cx, 1, &rec, why, sizeof(why))) {
			j->bad++;
			if (j->nmsg < MAX_REPORTED) {
				/* the id, '\0', why */
				size_t a = strlen(rec.id) + 1, b = strlen(why) + 1;
				char *m = apf_xmalloc(a + b);
				memcpy(m, rec.id, a);
				memcpy(m + a, why, b);
				j->msg[j->nmsg++] = m;
			}
			continue;
		}
		j->keys[j->nkeys].key = key_hash(rec.id);
		j->keys[j->nkeys].sha = hex64(rec.sha);
		j->nkeys++;
	}
}

static void *check_worker(void *arg)
{
	struct checker *c = arg;
	struct recctx cx;

	recctx_init(&cx);
	for (;;) {
		struct cjob *j;

		pthread_mutex_lock(&c->mu);
		while (c->taken == c->filled && !c->closing)
			pthread_cond_wait(&c->cv_job, &c->mu);
		if (c->taken == c->filled) {
			pthread_mutex_unlock(&c->mu);
			break;
		}
		j = &c->slot[c->taken++ % CHECK_SLOTS];
		pthread_mutex_unlock(&c->mu);
		check_chunk(c->ls, &cx, j);
		pthread_mutex_lock(&c->mu);
		j->done = 1;
		pthread_cond_broadcast(&c->cv_done);
		pthread_mutex_unlock(&c->mu);
	}
	recctx_release(&cx);
	return NULL;
}

/* Takes a checked chunk's results into the index and the report. */
static void collect(struct check *ck, struct cjob *j)
{
	struct index *ix = ck->ix;

	for (size_t k = 0; k < j->nmsg; k++) {
		report(ck, j->msg[k], "%s", j->msg[k] + strlen(j->msg[k]) + 1);
		free(j->msg[k]);
	}
	ck->bad += j->bad - j->nmsg;
	j->nmsg = 0;
	if (ix->nfile + j->nkeys > ix->capfile) {
		while (ix->nfile + j->nkeys > ix->capfile)
			ix->capfile = ix->capfile ? ix->capfile * 2 : 4096;
		ix->file = apf_xrealloc(ix->file, ix->capfile * sizeof(*ix->file));
	}
	if (j->nkeys)
		memcpy(ix->file + ix->nfile, j->keys, j->nkeys * sizeof(*j->keys));
	ix->nfile += j->nkeys;
	if (ix->nrows + j->n > ix->caprows) {
		while (ix->nrows + j->n > ix->caprows)
			ix->caprows = ix->caprows ? ix->caprows * 2 : 4096;
		ix->rowhash = apf_xrealloc(ix->rowhash, ix->caprows * sizeof(*ix->rowhash));
	}
	memcpy(ix->rowhash + ix->nrows, j->hash, j->n * sizeof(*j->hash));
	ix->nrows += j->n;
	ck->rows += j->n;
	apf_db_result_free(j->chunk);
	j->chunk = NULL;
}

/* Waits for the oldest chunk in the slots to be checked and collects it. */
static void collect_next(struct checker *c, struct check *ck, uint64_t *collected)
{
	struct cjob *j = &c->slot[*collected % CHECK_SLOTS];

	pthread_mutex_lock(&c->mu);
	while (!j->done)
		pthread_cond_wait(&c->cv_done, &c->mu);
	pthread_mutex_unlock(&c->mu);
	collect(ck, j);
	(*collected)++;
}

static int check_file(struct reader *rd, struct check *ck, volatile sig_atomic_t *cancel, struct apf_err *err)
{
	struct checker c;
	struct stream sm;
	struct recctx inline_cx;
	pthread_t th[CHECK_THREADS];
	uint64_t seq = 0, collected = 0;
	int nth = 0, rc;

	memset(&c, 0, sizeof(c));
	c.ls = ck->ls;
	rc = stream_open(rd, &sm, err);
	if (rc)
		return rc;
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv_job, NULL);
	pthread_cond_init(&c.cv_done, NULL);
	recctx_init(&inline_cx);
	for (nth = 0; nth < CHECK_THREADS; nth++)
		if (pthread_create(&th[nth], NULL, check_worker, &c))
			break;
	for (;;) {
		struct apf_db_result *chunk = NULL;
		struct cjob *j;

		if (cancel && *cancel) {
			rc = apf_error(err, APF_EIO, "interrupted");
			break;
		}
		rc = stream_next(rd, &sm, &chunk, err);
		if (rc || !chunk)
			break;
		j = &c.slot[seq % CHECK_SLOTS];
		if (seq - collected == CHECK_SLOTS)
			collect_next(&c, ck, &collected);
		j->chunk = chunk;
		j->row0 = sm.rows;
		j->n = apf_db_result_rows(chunk);
		j->done = 0;
		sm.rows += j->n;
		if (!nth) {
			/* no thread could be started: here */
			check_chunk(c.ls, &inline_cx, j);
			j->done = 1;
			seq++;
			continue;
		}
		pthread_mutex_lock(&c.mu);
		c.filled = ++seq;
		pthread_cond_signal(&c.cv_job);
		pthread_mutex_unlock(&c.mu);
	}
	/* the chunks in the slots are checked and taken back even after an
	 * error: they belong to the stream */
	while (collected < seq)
		collect_next(&c, ck, &collected);
	pthread_mutex_lock(&c.mu);
	c.closing = 1;
	pthread_cond_broadcast(&c.cv_job);
	pthread_mutex_unlock(&c.mu);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < CHECK_SLOTS; i++) {
		free(c.slot[i].keys);
		free(c.slot[i].hash);
	}
	recctx_release(&inline_cx);
	pthread_mutex_destroy(&c.mu);
	pthread_cond_destroy(&c.cv_job);
	pthread_cond_destroy(&c.cv_done);
	stream_close(&sm);
	return rc;
}

#define STOP_READING (-1)

/* A second reading that names the records behind the keys of a problem
 * (their ids are not kept): duplicates, or texts that changed. */
struct naming {
	struct check *ck;
	const uint64_t *keys; /* sorted */
	size_t n;
	unsigned char *seen;  /* duplicates: per key, its first occurrence was read */
	int dups;
	uint64_t named;
};

static int name_row(struct row *rw, void *arg)
{
	struct naming *nm = arg;
	const struct index *ix = nm->ck->ix;
	char id[512];
	const uint64_t *k;
	uint64_t key;

	if (!rw->v[C_DOC] || !rw->v[C_PAGE])
		return 0;
	snprintf(id, sizeof(id), "%.*s:%" PRId64, (int)rw->l[C_DOC], rw->v[C_DOC], rw->page_num);
	key = key_hash(id);
	k = bsearch(&key, nm->keys, nm->n, sizeof(key), cmp_u64);
	if (!k)
		return 0;
	if (nm->dups) {
		if (!nm->seen[k - nm->keys]) {
			nm->seen[k - nm->keys] = 1;
			return 0;
		}
		report(nm->ck, id, "appears more than once in the file");
	} else {
		const struct srec *s = srv_find(ix, key);
		const struct frec *f = file_find(ix, key);
		report(nm->ck, id,
		       "its text changed since it was pushed (text_sha256 %012" PRIx64 "... in Argilla, %012" PRIx64 "... in the file); "
		       "--replace-changed deletes and recreates it, dropping its annotations",
		       s ? s->sha >> 16 : 0, f ? f->sha >> 16 : 0);
	}
	return ++nm->named >= MAX_REPORTED ? STOP_READING : 0;
}

/* Sorts the file's keys; duplicates are bad records, named by a second reading. */
static int find_duplicates(struct reader *rd, struct check *ck, volatile sig_atomic_t *cancel, struct apf_err *err)
{
	struct index *ix = ck->ix;
	uint64_t *dups = NULL;
	size_t ndups = 0, extra = 0;
	int rc = 0;

	if (!ix->nfile)
		return 0;
	qsort(ix->file, ix->nfile, sizeof(*ix->file), cmp_frec);
	for (size_t i = 1; i < ix->nfile; i++) {
		if (ix->file[i].key != ix->file[i - 1].key)
			continue;
		extra++;
		if (!ndups || dups[ndups - 1] != ix->file[i].key) {
			dups = apf_xrealloc(dups, (ndups + 1) * sizeof(*dups));
			dups[ndups++] = ix->file[i].key;
		}
	}
	if (extra) {
		struct naming nm = { ck, dups, ndups, apf_xcalloc(ndups, 1), 1, 0 };
		uint64_t bad0 = ck->bad;

		rc = reader_each(rd, name_row, &nm, cancel, err);
		if (rc == STOP_READING)
			rc = 0;
		/* every extra occurrence is a bad record, named or not */
		ck->bad = bad0 + extra;
		free(nm.seen);
	}
	free(dups);
	return rc;
}

/* The file's records whose text differs on the server: refused (named by a
 * second reading) unless replace. */
static int find_changed(struct reader *rd, struct check *ck, volatile sig_atomic_t *cancel, struct apf_err *err)
{
	struct index *ix = ck->ix;
	size_t i = 0, j = 0;
	int rc = 0;

	while (i < ix->nfile && j < ix->nsrv) {
		if (ix->file[i].key < ix->srv[j].key) {
			i++;
		} else if (ix->file[i].key > ix->srv[j].key) {
			j++;
		} else {
			if (ix->srv[j].sha && ix->srv[j].sha != ix->file[i].sha) {
				ix->changed = apf_xrealloc(ix->changed, (ix->nchanged + 1) * sizeof(*ix->changed));
				ix->changed[ix->nchanged++] = ix->file[i].key;
			}
			i++;
			j++;
		}
	}
	ck->changed = ix->nchanged;
	if (ix->nchanged && !ck->replace) {
		struct naming nm = { ck, ix->changed, ix->nchanged, NULL, 0, 0 };
		uint64_t bad0 = ck->bad;

		rc = reader_each(rd, name_row, &nm, cancel, err);
		if (rc == STOP_READING)
			rc = 0;
		ck->bad = bad0 + ix->nchanged;
	}
	return rc;
}

struct deleting {
	const struct index *ix;
	struct apf_buf ids; /* server ids, ',' between */
	size_t n;
};

static void collect_changed(json_t *r, void *arg)
{
	struct deleting *dl = arg;
	const char *ext = json_string_value(json_object_get(r, "external_id"));
	const char *id = json_string_value(json_object_get(r, "id"));

	if (!ext || !id || !is_changed(dl->ix, key_hash(ext)))
		return;
	if (++dl->n <= MAX_REPORTED)
		apf_log_warn("record '%s': text changed; deleting it to create it again (its annotations are dropped)", ext);
	apf_buf_addf(&dl->ids, "%s%s", dl->ids.len ? "," : "", id);
}

static int delete_changed(struct apf_argilla *a, const struct apf_argilla_dataset *ds, const struct index *ix,
			  volatile sig_atomic_t *cancel, struct apf_err *err)
{
	struct deleting dl = { ix, APF_BUF_INIT, 0 };
	const char *p;
	int rc;

	apf_buf_init(&dl.ids, 0);
	/* All ids first: deleting while listing by offset would skip records. */
	rc = list_server(a, ds, collect_changed, &dl, cancel, NULL, err);
	if (dl.n > MAX_REPORTED)
		apf_log_warn("... and %zu more records whose text changed", dl.n - MAX_REPORTED);
	p = dl.ids.data;
	while (!rc && p && *p) {
		/* 100 ids a request, 36 characters and a comma each */
		size_t len = strlen(p), take = len > 100 * 37 ? 100 * 37 - 1 : len;
		char *chunk = apf_xstrndup(p, take);
		char *path = apf_xasprintf("/api/v1/datasets/%s/records?ids=%s", ds->id, chunk);
		rc = apf_argilla_call(a, "DELETE", path, NULL, 0, NULL, NULL, err);
		free(path);
		free(chunk);
		p += take;
		if (*p == ',')
			p++;
	}
	apf_buf_release(&dl.ids);
	return rc;
}

/* ---- step 3: sending ---- */

struct batch {
	struct batch *next;
	char *body;
	size_t len, body_cap;
	char *ids;      /* the records' ids, each ended by '\0' */
	size_t *id_off; /* where each starts in ids */
	size_t n;
	size_t n_new;
};

struct sender {
	struct apf_argilla *a;
	const struct apf_argilla_dataset *ds;
	const struct apf_labelset *ls;
	const struct index *ix;
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
	uint64_t starved;         /* times a sender found no batch ready (after the first) */
	int64_t starved_ms;
	int inflight;
	int stop;                 /* the file no longer reads as it did in step 2 */
	volatile sig_atomic_t *cancel;
	apf_argilla_progress_fn progress;
	void *progress_arg;
	uint64_t total;
	int64_t last_progress;

	char *pool[BODY_POOL];     /* bodies of batches sent, for the next ones (mu) */
	size_t pool_cap[BODY_POOL];
	int npool;

	/* the batch being built (main thread) */
	struct recctx *cx;
	size_t last_len;          /* the last full batch's body */
	struct apf_buf body;
	struct apf_buf ids;
	size_t *id_off;
	size_t n, n_new;
	uint64_t unchanged, replaced;
	uint64_t rows;
};

/* Frees the batch; its body goes back to the pool (taking sd->mu), so the
 * next batches are written into memory already mapped, not fresh pages. */
static void batch_free(struct sender *sd, struct batch *b)
{
	free(b->ids);
	free(b->id_off);
	pthread_mutex_lock(&sd->mu);
	if (b->body && sd->npool < BODY_POOL) {
		sd->pool[sd->npool] = b->body;
		sd->pool_cap[sd->npool++] = b->body_cap;
		b->body = NULL;
	}
	pthread_mutex_unlock(&sd->mu);
	free(b->body);
	free(b);
}

static const char *batch_id(const struct batch *b, size_t i)
{
	return b->ids + b->id_off[i];
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
	return end != p + 9 && i < b->n ? batch_id(b, i) : NULL;
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
				       b->n, batch_id(b, 0), batch_id(b, b->n - 1), detail);
		else
			rc = apf_error(&err, argilla_status_code(resp.status), "PUT %s: HTTP %ld%s%s (after %d attempts)", path,
				       resp.status, *detail ? ": " : "", detail, resp.attempts);
		free(detail);
	} else if (rc) {
		apf_error_prefix(&err, "records '%s' to '%s'", batch_id(b, 0), batch_id(b, b->n - 1));
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
		if (!sd->head && !sd->closing && sd->requests + sd->inflight > 0) {
			/* a request finished and no body is ready: a gap in flight */
			int64_t t = apf_now_ms();
			while (!sd->head && !sd->closing)
				pthread_cond_wait(&sd->cv_work, &sd->mu);
			sd->starved++;
			sd->starved_ms += apf_now_ms() - t;
		}
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
			batch_free(sd, b);
			continue;
		}
		pthread_mutex_unlock(&sd->mu);
		if (!b)
			return NULL;
		send_batch(sd, b);
		batch_free(sd, b);
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
	b->body_cap = sd->body.alloc;
	b->body = apf_buf_detach(&sd->body, NULL);
	b->ids = apf_buf_detach(&sd->ids, NULL);
	b->id_off = sd->id_off;
	b->n = sd->n;
	b->n_new = sd->n_new;
	sd->id_off = NULL;
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
		batch_free(sd, b);
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
	const struct srec *s = NULL;
	int existing, empty;
	char why[1024];

	if (sd->cancel && *sd->cancel)
		return 1;
	sd->rows++;
	if (sd->progress && (sd->rows & 255) == 0 && apf_now_ms() - sd->last_progress >= 100) {
		uint64_t done;
		pthread_mutex_lock(&sd->mu);
		done = sd->done;
		pthread_mutex_unlock(&sd->mu);
		sd->progress(sd->progress_arg, done, sd->total);
		sd->last_progress = apf_now_ms();
	}
	/* The row must be the one the first reading checked, byte for byte. */
	if (rw->index >= sd->ix->nrows || row_hash(rw) != sd->ix->rowhash[rw->index] ||
	    build_record(rw, sd->ls, sd->cx, 0, &rec, why, sizeof(why))) {
		sd->stop = 1;
		return 1;
	}
	s = sd->ix->nsrv ? srv_find(sd->ix, key_hash(rec.id)) : NULL;
	/* on the server with the same text (a changed one was deleted) */
	existing = s && !(s->sha && s->sha != hex64(rec.sha));
	/* A page that has no suggestion any more: an empty one replaces the
	 * server's (a request without suggestions would leave it there). */
	empty = existing && !rec.has_sugg && (s->fp & 1);
	if (existing && record_fingerprint(&rec, sd->ls, empty) == (s->fp & ~(uint64_t)1)) {
		sd->unchanged++;
		pthread_mutex_lock(&sd->mu);
		sd->done++;
		pthread_mutex_unlock(&sd->mu);
		return 0;
	}
	if (!sd->n) {
		/* room for a batch like the last one, so the body is not grown
		 * (and copied) a dozen times */
		apf_buf_init(&sd->body, 0);
		pthread_mutex_lock(&sd->mu);
		if (sd->npool) {
			sd->npool--;
			sd->body.data = sd->pool[sd->npool];
			sd->body.alloc = sd->pool_cap[sd->npool];
		}
		pthread_mutex_unlock(&sd->mu);
		if (!sd->body.data && sd->last_len) {
			size_t want = sd->last_len + sd->last_len / 8 + 1;
			char *d = malloc(want);
			if (d) {
				sd->body.data = d;
				sd->body.alloc = want;
			}
		}
		apf_buf_add(&sd->body, "{\"items\":[", 10);
		apf_buf_init(&sd->ids, 0);
		sd->id_off = apf_xcalloc(sd->batch_size, sizeof(*sd->id_off));
	} else {
		apf_buf_add(&sd->body, ",", 1);
	}
	if (write_record(&sd->body, &rec, sd->ls, sd->ds->question_id, empty)) {
		sd->stop = 1;
		return 1;
	}
	sd->id_off[sd->n++] = sd->ids.len;
	apf_buf_add(&sd->ids, rec.id, strlen(rec.id) + 1);
	if (!existing)
		sd->n_new++;
	if (s && !existing)
		sd->replaced++;
	if (sd->n >= sd->batch_size) {
		sd->last_len = sd->body.len;
		return flush_batch(sd) ? 1 : 0;
	}
	return 0;
}

/* The CPU time of the whole process so far (every thread), in microseconds. */
static int64_t cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static double per(int64_t us, uint64_t n)
{
	return n ? (double)us / (double)n : 0.0;
}

/* ---- the dataset, looked up while the file is checked ---- */

struct lookup {
	struct apf_argilla *a;
	const struct apf_argilla_push_options *opt;
	struct apf_argilla_dataset *ds;
	struct index *ix;
	int rc;             /* of find_dataset, or of the listing */
	int found;
	struct apf_err err;
	int64_t list_ms;    /* the listing's own time */
	int64_t t_found;    /* when find_dataset returned */
	volatile sig_atomic_t stop; /* the check failed or was interrupted: stop listing */
};

static void *lookup_run(void *arg)
{
	struct lookup *lk = arg;

	lk->rc = lk->opt->find_dataset(lk->opt->open_arg, lk->ds, &lk->err);
	lk->t_found = apf_now_ms();
	if (!lk->rc) {
		int64_t t = apf_now_ms();
		lk->found = 1;
		lk->rc = load_index(lk->a, lk->ds, lk->ix, lk->opt->cancel, &lk->stop, &lk->err);
		lk->list_ms = apf_now_ms() - t;
	}
	return NULL;
}

int apf_argilla_push(struct apf_argilla *a, struct apf_argilla_dataset *ds, const struct apf_labelset *ls,
		     const struct apf_argilla_push_options *opt, struct apf_argilla_push_stats *stats,
		     struct apf_err *err)
{
	const char *name = opt->source_name ? opt->source_name : opt->parquet;
	struct index ix;
	struct reader rd;
	struct check ck;
	struct sender sd;
	struct recctx cx;
	struct lookup lk;
	pthread_t th[64], lk_th;
	int nth = 0, rc, conc = opt->concurrency > 0 ? opt->concurrency : 2, lk_started = 0;
	int64_t t0, t_check, t_ready, t_listed, t_send, c0, c1;
	struct apf_err lib_err;

	/* Loading DuckDB is set-up, not reading: the clock starts after it
	 * (an error is reported by reader_open()). */
	apf_err_clear(&lib_err);
	apf_duckdb_need(&lib_err);
	t0 = apf_now_ms();
	c0 = cpu_us();
	memset(stats, 0, sizeof(*stats));
	memset(&ix, 0, sizeof(ix));
	memset(&sd, 0, sizeof(sd));
	memset(&lk, 0, sizeof(lk));
	recctx_init(&cx);
	if (conc > 64)
		conc = 64;
	rc = reader_open(&rd, opt->parquet, name, err);
	if (rc)
		goto out_reader;

	/* Looking the dataset up (and listing its records) changes nothing,
	 * so it goes on beside the check; creating one waits for it. */
	if (opt->find_dataset) {
		lk.a = a;
		lk.opt = opt;
		lk.ds = ds;
		lk.ix = &ix;
		apf_err_clear(&lk.err);
		lk_started = !pthread_create(&lk_th, NULL, lookup_run, &lk);
	}

	/* The file alone first: bad input stops here, before anything is
	 * created or sent. */
	memset(&ck, 0, sizeof(ck));
	ck.ls = ls;
	ck.ix = &ix;
	ck.replace = opt->replace_changed;
	apf_buf_init(&ck.report, 0);
	rc = check_file(&rd, &ck, opt->cancel, err);
	if (!rc)
		rc = find_duplicates(&rd, &ck, opt->cancel, err);
	stats->total = ck.rows;
	t_check = apf_now_ms();
	c1 = cpu_us();
	apf_log_debug("push: %" PRIu64 " records checked in %" PRId64 " ms (%.1f us of CPU a record)", ck.rows,
		      t_check - t0, per(c1 - c0, ck.rows));
	if (lk_started) {
		/* a listing that is no longer needed stops at its next page */
		if (rc || ck.bad || (opt->cancel && *opt->cancel))
			lk.stop = 1;
		pthread_join(lk_th, NULL);
		lk_started = 0;
	} else if (opt->find_dataset && !rc && !ck.bad) {
		lookup_run(&lk);
	}
	/* what the push waited for after the check: the dataset found (the
	 * lookup thread), then its listing */
	t_ready = t_check;
	if (!rc && !ck.bad) {
		if (opt->find_dataset && (lk.found || lk.rc != APF_ENOTFOUND)) {
			rc = lk.rc;
			if (rc)
				*err = lk.err;
			if (lk.t_found > t_ready)
				t_ready = lk.t_found;
		} else if (opt->open_dataset) {
			rc = opt->open_dataset(opt->open_arg, ds, err);
			t_ready = apf_now_ms();
		}
	}
	if (!rc && !ck.bad)
		apf_log_debug("push: dataset ready in %" PRId64 " ms (%s)", t_ready - t_check,
			      lk.found ? "found while the file was checked" : ds->created ? "created" : "opened");
	/* Then what is on the server: changed text is bad input too.  A
	 * dataset this push created is empty: nothing to list. */
	if (!rc && !ck.bad && !lk.found && !ds->created) {
		rc = load_index(a, ds, &ix, opt->cancel, NULL, err);
		lk.list_ms = apf_now_ms() - t_ready;
	}
	t_listed = apf_now_ms();
	if (!rc && !ck.bad)
		apf_log_debug("push: the server's %zu records listed in %" PRId64 " ms (%" PRId64 " ms of it after the check)",
			      ix.nsrv, lk.list_ms, t_listed - t_ready);
	if (!rc && !ck.bad)
		rc = find_changed(&rd, &ck, opt->cancel, err);
	if (!rc && ck.bad) {
		rc = apf_error(err, APF_EINVAL, "cannot push '%s': %" PRIu64 " of %" PRIu64 " records are not valid; nothing was sent:%s%s",
			       name, ck.bad, ck.rows, ck.report.data,
			       ck.bad > MAX_REPORTED ? "\n  ..." : "");
	}
	apf_buf_release(&ck.report);
	if (rc)
		goto out_reader;
	/* The file's keys were needed for the checks only. */
	free(ix.file);
	ix.file = NULL;
	ix.nfile = ix.capfile = 0;
	if (ck.changed && opt->replace_changed) {
		rc = delete_changed(a, ds, &ix, opt->cancel, err);
		if (rc)
			goto out_reader;
	}

	t_send = apf_now_ms();
	c0 = cpu_us();
	sd.a = a;
	sd.ds = ds;
	sd.ls = ls;
	sd.ix = &ix;
	sd.cx = &cx;
	sd.batch_size = opt->batch_size > 0 ? (size_t)opt->batch_size : 200;
	if (sd.batch_size > 500)
		sd.batch_size = 500;
	/* bodies ready for the next requests while these are in flight */
	sd.max_queued = (size_t)conc + 1;
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
		/* fewer rows than the first reading: the file changed too */
		if (!rc && !sd.stop && sd.rows != ix.nrows)
			sd.stop = 1;
		if (!rc && !sd.stop)
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
		{
			int64_t ms = apf_now_ms() - t_send;
			apf_log_debug("push: sent %" PRIu64 " records in %" PRId64 " ms (%.0f records/s, %" PRIu64
				      " requests, %.1f us of CPU a record read)",
				      sd.created + sd.updated, ms,
				      ms > 0 ? (double)(sd.created + sd.updated) * 1000.0 / (double)ms : 0.0, sd.requests,
				      per(cpu_us() - c0, sd.rows));
		}
		apf_log_debug("push: the senders found no batch ready %" PRIu64 " times (%" PRId64 " ms in all)", sd.starved,
			      sd.starved_ms);
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
	while (sd.npool)
		free(sd.pool[--sd.npool]);
	free(sd.id_off);
	apf_buf_release(&sd.ids);
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
	if (lk_started) {
		lk.stop = 1;
		pthread_join(lk_th, NULL);
	}
	reader_close(&rd);
	index_release(&ix);
	recctx_release(&cx);
	stats->seconds = (double)(apf_now_ms() - t0) / 1000.0;
	return rc;
}
