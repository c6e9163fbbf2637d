/*
 * preannotate.c: suggestions for pages, by rules or Ollama, in memory and
 * for a whole dataset (see preannotate.h and PREANNOTATION_SCHEMA.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "apflow/buf.h"
#include "apflow/dataset.h"
#include "apflow/db.h"
#include "apflow/jsonw.h"
#include "apflow/labelset.h"
#include "apflow/log.h"
#include "apflow/ocrstage.h"
#include "apflow/preannotate.h"
#include "apflow/utf8.h"
#include "apflow/util.h"

#define PARQUET_TYPE "application/vnd.apache.parquet"

int apf_pa_engine_parse(const char *s, enum apf_pa_engine *out)
{
	if (s && !strcmp(s, "rules")) {
		*out = APF_PA_RULES;
		return 0;
	}
	if (s && !strcmp(s, "ollama")) {
		*out = APF_PA_OLLAMA;
		return 0;
	}
	return -1;
}

char *apf_pa_agent(enum apf_pa_engine engine, const char *model)
{
	return engine == APF_PA_OLLAMA ? apf_ollama_agent(model) : apf_xstrdup(APF_RULES_AGENT);
}

void apf_pa_page_release(struct apf_pa_page *p)
{
	free(p->doc_id);
	free(p->text);
	apf_spans_release(&p->spans);
	free(p->error);
	memset(p, 0, sizeof(*p));
}

void apf_pa_now(char out[40])
{
	int64_t us = apf_wall_us();
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%s.%03dZ", base, (int)(us / 1000 % 1000));
}

/* ---- the cache (md_raw_ocr.main.preannotate_cache) ---- */

struct cache_get {
	const char *model;
	struct apf_pa_page *pages;
	size_t n;
	json_t **answers; /* per page, filled on a hit */
	uint64_t hits;
};

static int cache_get_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct cache_get *cg = arg;
	struct apf_buf shas = APF_BUF_INIT;
	struct apf_db_stmt *st = NULL;
	struct apf_db_result *r = NULL;
	int rc;

	cg->hits = 0;
	for (size_t i = 0; i < cg->n; i++) {
		json_decref(cg->answers[i]);
		cg->answers[i] = NULL;
	}
	apf_buf_init(&shas, 0);
	apf_buf_adds(&shas, "");
	for (size_t i = 0; i < cg->n; i++)
		apf_buf_addf(&shas, "%s%s", i ? "," : "", cg->pages[i].text_sha256);
	rc = apf_db_prepare(db,
			    "SELECT text_sha256, answer FROM md_raw_ocr.main.preannotate_cache WHERE model = $1 AND "
			    "prompt_version = $2 AND text_sha256 IN (SELECT unnest(string_split($3, ',')))",
			    &st, err);
	if (!rc) {
		apf_db_bind_text(st, 1, cg->model);
		apf_db_bind_text(st, 2, APF_OLLAMA_PROMPT_VERSION);
		apf_db_bind_text(st, 3, shas.data);
		rc = apf_db_stmt_exec(st, &r, err);
	}
	for (uint64_t row = 0; !rc && row < apf_db_result_rows(r); row++) {
		char *sha = apf_db_result_text(r, 0, row), *ans = apf_db_result_text(r, 1, row);
		json_t *j = ans ? json_loads(ans, 0, NULL) : NULL;

		for (size_t i = 0; j && sha && i < cg->n; i++) {
			if (!cg->answers[i] && !strcmp(cg->pages[i].text_sha256, sha)) {
				cg->answers[i] = json_incref(j);
				cg->hits++;
			}
		}
		json_decref(j);
		free(sha);
		free(ans);
	}
	apf_db_result_free(r);
	apf_db_stmt_free(st);
	apf_buf_release(&shas);
	return rc;
}

struct cache_put {
	const char *model;
	const char *sha;
	const char *answer;
	uint64_t requests;
};

static int cache_put_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct cache_put *cp = arg;
	struct apf_db_stmt *st = NULL;
	int rc = apf_db_prepare(db,
				"INSERT INTO md_raw_ocr.main.preannotate_cache (text_sha256, model, prompt_version, "
				"answer, requests) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
				&st, err);

	if (!rc) {
		apf_db_bind_text(st, 1, cp->sha);
		apf_db_bind_text(st, 2, cp->model);
		apf_db_bind_text(st, 3, APF_OLLAMA_PROMPT_VERSION);
		apf_db_bind_text(st, 4, cp->answer);
		apf_db_bind_i64(st, 5, (int64_t)cp->requests);
		rc = apf_db_stmt_exec(st, NULL, err);
	}
	apf_db_stmt_free(st);
	return rc;
}

/* ---- the workers ---- */

struct run {
	const struct apf_pa_options *opt;
	const struct apf_labelset *ls;
	struct apf_rules *rules;
	struct apf_ollama *ollama;
	struct apf_pa_page *pages;
	json_t **answers;
	size_t n;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t next;          /* the next page to take */
	size_t done;
	int running;          /* workers still running */
	int stop;             /* a fatal error: everybody stops */
	int rc;
	struct apf_err err;
	struct apf_pa_stats stats;
};

static int cancelled(const struct run *r)
{
	return r->opt->cancel && *r->opt->cancel;
}

/* One page; returns non-zero only for a fatal error (the cache). */
static int do_page(struct run *r, size_t i, struct apf_ollama_stats *ost, struct apf_err *err)
{
	struct apf_pa_page *pg = &r->pages[i];
	struct apf_err perr;
	int rc = 0;

	apf_err_clear(&perr);
	if (apf_utf8_validate(pg->text, pg->len, NULL)) {
		pg->error = apf_xstrdup("the page text is not UTF-8");
		return 0;
	}
	if (r->opt->engine == APF_PA_RULES) {
		if (apf_rules_annotate(r->rules, pg->text, pg->len, &pg->spans, &perr))
			pg->error = apf_xstrdup(perr.msg);
		return 0;
	}
	json_t *answer = r->answers[i] ? json_incref(r->answers[i]) : NULL;
	if (answer) {
		pg->cached = 1;
	} else {
		uint64_t before = ost->requests;
		if (apf_ollama_annotate(r->ollama, pg->text, pg->len, &answer, ost, &perr)) {
			pg->error = apf_xstrdup(perr.msg);
			return 0;
		}
		if (r->opt->writer) {
			char *txt = json_dumps(answer, JSON_COMPACT | JSON_PRESERVE_ORDER);
			struct cache_put cp = { apf_ollama_model(r->ollama), pg->text_sha256, txt, ost->requests - before };
			rc = apf_dbwriter_run(r->opt->writer, cache_put_fn, &cp, err);
			if (rc)
				apf_error_prefix(err, "cannot cache the answer for page %s:%d", pg->doc_id, pg->page_num);
			free(txt);
		}
	}
	if (!rc && apf_ollama_align(pg->text, pg->len, answer, r->ls, &pg->spans, ost, &perr))
		pg->error = apf_xstrdup(perr.msg);
	json_decref(answer);
	return rc;
}

static void *worker(void *arg)
{
	struct run *r = arg;
	struct apf_ollama_stats ost = { 0 };
	struct apf_err err;

	apf_err_clear(&err);
	for (;;) {
		size_t i;

		pthread_mutex_lock(&r->mu);
		if (r->stop || r->next >= r->n || cancelled(r)) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		i = r->next++;
		pthread_mutex_unlock(&r->mu);

		int rc = do_page(r, i, &ost, &err);
		struct apf_pa_page *pg = &r->pages[i];

		pthread_mutex_lock(&r->mu);
		pg->done = !rc;
		r->done++;
		if (rc && !r->rc) {
			r->rc = rc;
			r->err = err;
			r->stop = 1;
		}
		if (pg->error)
			r->stats.failed++;
		else if (!rc) {
			r->stats.pages++;
			r->stats.bytes += pg->len;
			r->stats.cache_hits += (uint64_t)pg->cached;
			r->stats.spans += pg->spans.n;
			for (size_t s = 0; s < pg->spans.n; s++) {
				int k = apf_labelset_find(r->ls, pg->spans.v[s].label);
				if (k >= 0 && k < APF_PA_MAX_LABELS)
					r->stats.label_spans[k]++;
			}
		}
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
	pthread_mutex_lock(&r->mu);
	r->stats.ollama.requests += ost.requests;
	r->stats.ollama.retries += ost.retries;
	r->stats.ollama.chunks += ost.chunks;
	r->stats.ollama.dropped_label += ost.dropped_label;
	r->stats.ollama.dropped_text += ost.dropped_text;
	r->stats.ollama.dropped_bad += ost.dropped_bad;
	r->running--;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static void report(struct run *r, int64_t t0)
{
	struct apf_pa_progress p;

	if (!r->opt->on_progress)
		return;
	p.pages_total = r->n;
	p.pages_done = r->done;
	p.failed = r->stats.failed;
	p.cache_hits = r->stats.cache_hits;
	p.spans = r->stats.spans;
	p.elapsed_ms = apf_now_ms() - t0;
	pthread_mutex_unlock(&r->mu);
	r->opt->on_progress(&p, r->opt->cb_arg);
	pthread_mutex_lock(&r->mu);
}

static int start_engine(struct run *r, struct apf_err *err)
{
	const struct apf_pa_options *opt = r->opt;
	int rc;

	if (opt->engine == APF_PA_RULES) {
		struct apf_rules_opts ro = { opt->gazetteer_dir };
		return apf_rules_new(&r->rules, &ro, err);
	}
	struct cache_get cg = { NULL, r->pages, r->n, r->answers, 0 };

	rc = apf_ollama_new(&opt->ollama, r->ls, &r->ollama, err);
	if (!rc)
		apf_ollama_set_cancel(r->ollama, opt->cancel);
	if (!rc && opt->writer && r->n) {
		cg.model = apf_ollama_model(r->ollama);
		rc = apf_dbwriter_run(opt->writer, cache_get_fn, &cg, err);
		if (rc)
			apf_error_prefix(err, "cannot read the pre-annotation cache");
	}
	/* A run the cache answers whole needs no server. */
	if (!rc && !opt->no_check && cg.hits < r->n)
		rc = apf_ollama_check(r->ollama, err);
	return rc;
}

int apf_pa_run(const struct apf_pa_options *opt, struct apf_pa_page *pages, size_t n, struct apf_pa_stats *stats,
	       struct apf_err *err)
{
	int64_t t0 = apf_now_ms();
	int jobs = opt->jobs > 0 ? opt->jobs : 4;
	pthread_t *th;
	struct run r;
	int rc, started = 0;

	memset(stats, 0, sizeof(*stats));
	memset(&r, 0, sizeof(r));
	r.opt = opt;
	r.ls = apf_labelset_v1();
	if (!r.ls)
		return apf_error(err, APF_EINTERNAL, "the compiled-in labelset is broken");
	r.pages = pages;
	r.n = n;
	r.answers = apf_xcalloc(n ? n : 1, sizeof(*r.answers));
	apf_err_clear(&r.err);
	rc = start_engine(&r, err);
	if (rc)
		goto out;
	if ((size_t)jobs > n)
		jobs = n ? (int)n : 1;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	th = apf_xcalloc((size_t)jobs, sizeof(*th));
	pthread_mutex_lock(&r.mu);
	for (int j = 0; j < jobs; j++) {
		if (pthread_create(&th[j], NULL, worker, &r))
			break;
		started++;
		r.running++;
	}
	while (r.running > 0) {
		struct timespec ts;
		int64_t ms = opt->progress_ms > 0 ? opt->progress_ms : 1000;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&r.cv, &r.mu, &ts) == ETIMEDOUT)
			report(&r, t0);
	}
	report(&r, t0);
	pthread_mutex_unlock(&r.mu);
	for (int j = 0; j < started; j++)
		pthread_join(th[j], NULL);
	free(th);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	if (!started) {
		rc = apf_error(err, APF_EINTERNAL, "cannot start a thread");
	} else if (r.rc) {
		rc = r.rc;
		*err = r.err;
	} else if (cancelled(&r)) {
		rc = apf_error(err, APF_EINTERNAL, "interrupted");
	}
	*stats = r.stats;
out:
	stats->ms = apf_now_ms() - t0;
	for (size_t i = 0; i < n; i++)
		json_decref(r.answers[i]);
	free(r.answers);
	apf_ollama_free(r.ollama);
	if (r.rules)
		apf_rules_free(r.rules);
	return rc;
}

/* ---- a dataset ---- */

void apf_pa_dataset_result_release(struct apf_pa_dataset_result *r)
{
	free(r->agent);
	memset(r, 0, sizeof(*r));
}

/* The exported pages (of the shard) into pages[]. */
static int read_pages(struct apf_db *db, const char *list, const struct apf_pa_dataset_options *opt,
		      struct apf_pa_page **out, size_t *nout, struct apf_err *err)
{
	char *sql = apf_xasprintf("SELECT doc_id, page_num, text, text_sha256 FROM read_parquet(%s, hive_partitioning = "
				  "true, hive_types = {'doc_id': VARCHAR}) ORDER BY doc_id, page_num",
				  list);
	struct apf_db_result *r = NULL;
	struct apf_pa_page *v = NULL;
	size_t k = 0;
	int rc = apf_db_query(db, sql, &r, err);

	if (!rc) {
		uint64_t rows = apf_db_result_rows(r);
		v = apf_xcalloc(rows ? rows : 1, sizeof(*v));
		for (uint64_t row = 0; row < rows; row++) {
			char *doc = apf_db_result_text(r, 0, row), *sha = apf_db_result_text(r, 3, row);
			if (!doc || (opt->shard_n > 0 &&
				     apf_ocrstage_shard_hash(doc) % (uint64_t)opt->shard_n != (uint64_t)opt->shard_k)) {
				free(doc);
				free(sha);
				continue;
			}
			struct apf_pa_page *pg = &v[k++];
			pg->doc_id = doc;
			pg->page_num = (int)apf_db_result_i64(r, 1, row);
			pg->text = apf_db_result_text(r, 2, row);
			if (!pg->text)
				pg->text = apf_xstrdup("");
			pg->len = strlen(pg->text);
			apf_strlcpy(pg->text_sha256, sha ? sha : "", sizeof(pg->text_sha256));
			free(sha);
		}
	}
	apf_db_result_free(r);
	free(sql);
	*out = v;
	*nout = k;
	return rc;
}

/* Appends the rows of every page's spans, and the pages, as JSON lines. */
static void write_jsonl(FILE *fs, FILE *fp, const struct apf_pa_page *pages, size_t n, const char *agent,
			const char *created_at)
{
	for (size_t i = 0; i < n; i++) {
		const struct apf_pa_page *pg = &pages[i];
		json_t *p = json_object();

		for (size_t s = 0; s < pg->spans.n; s++) {
			struct apf_jsonw jw;
			apf_jsonw_init(&jw, 0, 0);
			apf_pa_row_write(&jw, pg, &pg->spans.v[s], agent, created_at);
			fwrite(jw.buf.data, 1, jw.buf.len, fs);
			fputc('\n', fs);
			apf_jsonw_release(&jw);
		}
		json_object_set_new(p, "doc_id", json_string(pg->doc_id));
		json_object_set_new(p, "page_num", json_integer(pg->page_num));
		json_object_set_new(p, "text_sha256", json_string(pg->text_sha256));
		json_object_set_new(p, "agent", json_string(agent));
		json_object_set_new(p, "spans", json_integer((json_int_t)pg->spans.n));
		json_object_set_new(p, "created_at", json_string(created_at));
		json_dumpf(p, fp, JSON_COMPACT | JSON_PRESERVE_ORDER);
		fputc('\n', fp);
		json_decref(p);
	}
}

/* Pages a chunk holds at most (unless one document has more): a dataset
 * is read, annotated and written a chunk at a time, so that memory does
 * not grow with its size. */
#define PA_CHUNK_PAGES 4096

/* APFLOW_PA_CHUNK_PAGES, for the tests only, makes the chunks smaller. */
static uint64_t chunk_pages(void)
{
	const char *e = getenv("APFLOW_PA_CHUNK_PAGES");
	int64_t v;

	return e && !apf_parse_i64(e, &v) && v > 0 ? (uint64_t)v : PA_CHUNK_PAGES;
}

/* The exported files of the shard's documents, in doc_id order, cut into
 * chunks of about PA_CHUNK_PAGES pages: chunks[i] is a DuckDB list
 * literal.  *total counts the pages. */
static int pa_chunks(struct apf_db *db, const char *list, const struct apf_pa_dataset_options *opt, char ***chunks,
		     size_t *nchunks, uint64_t *total, struct apf_err *err)
{
	char *sql = apf_xasprintf("SELECT doc_id, count(*), string_agg(DISTINCT '''' || replace(_file, '''', '''''') || "
				  "'''', ', ') FROM read_parquet(%s, hive_partitioning = true, hive_types = {'doc_id': "
				  "VARCHAR}, filename = '_file') WHERE doc_id IS NOT NULL GROUP BY doc_id ORDER BY doc_id",
				  list);
	struct apf_db_result *r = NULL;
	struct apf_buf files = APF_BUF_INIT;
	uint64_t acc = 0, most = chunk_pages();
	int rc = apf_db_query(db, sql, &r, err);

	*chunks = NULL;
	*nchunks = 0;
	*total = 0;
	apf_buf_init(&files, 0);
	apf_buf_adds(&files, "");
	for (uint64_t row = 0; !rc && row < apf_db_result_rows(r); row++) {
		char *doc = apf_db_result_text(r, 0, row), *f = apf_db_result_text(r, 2, row);
		uint64_t pages = (uint64_t)apf_db_result_i64(r, 1, row);

		if (doc && f &&
		    (opt->shard_n <= 0 ||
		     apf_ocrstage_shard_hash(doc) % (uint64_t)opt->shard_n == (uint64_t)opt->shard_k)) {
			if (acc && acc + pages > most) {
				*chunks = apf_xrealloc(*chunks, (*nchunks + 1) * sizeof(char *));
				(*chunks)[(*nchunks)++] = apf_xasprintf("[%s]", files.data);
				files.len = 0;
				files.data[0] = 0;
				acc = 0;
			}
			apf_buf_addf(&files, "%s%s", files.len ? ", " : "", f);
			acc += pages;
			*total += pages;
		}
		free(doc);
		free(f);
	}
	if (!rc && acc) {
		*chunks = apf_xrealloc(*chunks, (*nchunks + 1) * sizeof(char *));
		(*chunks)[(*nchunks)++] = apf_xasprintf("[%s]", files.data);
	}
	apf_db_result_free(r);
	apf_buf_release(&files);
	free(sql);
	return rc;
}

/* The progress of one chunk's run as that of the whole dataset. */
struct pa_prog {
	const struct apf_pa_options *pa;
	uint64_t total, done, failed, cache_hits, spans;
	int64_t t0;
};

static void chunk_progress(const struct apf_pa_progress *p, void *arg)
{
	struct pa_prog *w = arg;
	struct apf_pa_progress q = *p;

	q.pages_total = w->total;
	q.pages_done += w->done;
	q.failed += w->failed;
	q.cache_hits += w->cache_hits;
	q.spans += w->spans;
	q.elapsed_ms = apf_now_ms() - w->t0;
	w->pa->on_progress(&q, w->pa->cb_arg);
}

static void add_stats(struct apf_pa_stats *d, const struct apf_pa_stats *s)
{
	d->pages += s->pages;
	d->failed += s->failed;
	d->spans += s->spans;
	d->bytes += s->bytes;
	d->cache_hits += s->cache_hits;
	for (size_t i = 0; i < APF_PA_MAX_LABELS; i++)
		d->label_spans[i] += s->label_spans[i];
	d->ollama.requests += s->ollama.requests;
	d->ollama.retries += s->ollama.retries;
	d->ollama.chunks += s->ollama.chunks;
	d->ollama.dropped_label += s->ollama.dropped_label;
	d->ollama.dropped_text += s->ollama.dropped_text;
	d->ollama.dropped_bad += s->ollama.dropped_bad;
}

/* The first page that failed, for the message. */
struct pa_fail {
	char *doc_id, *error;
	int page_num;
};

/*
 * Every chunk: read, annotate, append to fs/fp.  *read_failed is set when
 * reading the pages failed (an in-place file a newer export removed).
 */
static int annotate_chunks(struct apf_db *mem, const char *list, const struct apf_pa_dataset_options *opt,
			   FILE *fs, FILE *fp, const char *agent, const char *created, struct apf_pa_stats *stats,
			   uint64_t *npages, struct pa_fail *fail, int *read_failed, struct apf_err *err)
{
	struct apf_pa_options pa = opt->pa;
	struct pa_prog w = { &opt->pa, 0, 0, 0, 0, 0, apf_now_ms() };
	char **chunks = NULL;
	size_t nchunks = 0;
	int rc;

	*read_failed = 0;
	rc = pa_chunks(mem, list, opt, &chunks, &nchunks, npages, err);
	if (rc)
		*read_failed = 1;
	w.total = *npages;
	if (pa.on_progress) {
		pa.on_progress = chunk_progress;
		pa.cb_arg = &w;
	}
	for (size_t c = 0; !rc && c < nchunks; c++) {
		struct apf_pa_page *pages = NULL;
		struct apf_pa_stats st;
		size_t n = 0;

		rc = read_pages(mem, chunks[c], opt, &pages, &n, err);
		if (rc)
			*read_failed = 1;
		if (!rc)
			rc = apf_pa_run(&pa, pages, n, &st, err);
		if (!rc) {
			add_stats(stats, &st);
			w.done += st.pages + st.failed;
			w.failed += st.failed;
			w.cache_hits += st.cache_hits;
			w.spans += st.spans;
			for (size_t i = 0; i < n && !fail->error; i++) {
				if (pages[i].error) {
					fail->doc_id = apf_xstrdup(pages[i].doc_id);
					fail->page_num = pages[i].page_num;
					fail->error = apf_xstrdup(pages[i].error);
				}
			}
			/* Once a page failed nothing is written; the others go on
			 * to fill the cache. */
			if (!fail->error)
				write_jsonl(fs, fp, pages, n, agent, created);
		}
		for (size_t i = 0; i < n; i++)
			apf_pa_page_release(&pages[i]);
		free(pages);
	}
	for (size_t c = 0; c < nchunks; c++)
		free(chunks[c]);
	free(chunks);
	return rc;
}

/* JSON lines to Parquet with the schema's types. */
static int jsonl_to_parquet(struct apf_db *db, const char *src, const char *dst, int pages, struct apf_err *err)
{
	char *s = apf_db_quote_literal(src), *d = apf_db_quote_literal(dst), *sql;
	int rc;

	if (!pages)
		sql = apf_xasprintf(
			"COPY (SELECT doc_id, page_num, text_sha256, question_name, label, start, \"end\", span_text, "
			"score, agent, type, labelset_version, created_at FROM read_json(%s, format = 'newline_delimited', "
			"columns = {doc_id: 'VARCHAR', page_num: 'INTEGER', text_sha256: 'VARCHAR', question_name: "
			"'VARCHAR', label: 'VARCHAR', start: 'INTEGER', \"end\": 'INTEGER', span_text: 'VARCHAR', score: "
			"'DOUBLE', agent: 'VARCHAR', type: 'VARCHAR', labelset_version: 'VARCHAR', created_at: "
			"'TIMESTAMPTZ'})) TO %s (FORMAT parquet)",
			s, d);
	else
		sql = apf_xasprintf("COPY (SELECT doc_id, page_num, text_sha256, agent, spans, created_at FROM "
				    "read_json(%s, format = 'newline_delimited', columns = {doc_id: 'VARCHAR', page_num: "
				    "'INTEGER', text_sha256: 'VARCHAR', agent: 'VARCHAR', spans: 'INTEGER', created_at: "
				    "'TIMESTAMPTZ'})) TO %s (FORMAT parquet)",
				    s, d);
	rc = apf_db_exec(db, sql, err);
	free(sql);
	free(s);
	free(d);
	return rc;
}

struct own_walk {
	const char *keep1, *keep2;
	size_t base;          /* length of "argilla/in/<ds>/suggestions/<agent>/" */
	int shard_n;
	char **drop;
	size_t ndrop;
};

/* Whether name (under the agent's prefix) is another run's output that
 * this run replaces. */
static int replaced(const struct own_walk *w, const char *name)
{
	const char *of;

	if (!w->shard_n)
		return 1;
	if (apf_starts_with(name, "_pages/"))
		name += strlen("_pages/");
	of = strstr(name, "-of-");
	if (!apf_starts_with(name, "part-") || !of)
		return 1; /* another writer's files (Spark): an apflow run replaces them */
	char want[32];
	snprintf(want, sizeof(want), "-of-%d.parquet", w->shard_n);
	return strcmp(of, want) != 0;
}

static int collect_own(const struct apf_store_stat *st, void *arg)
{
	struct own_walk *w = arg;

	if (!apf_ends_with(st->key, ".parquet") || !strcmp(st->key, w->keep1) || !strcmp(st->key, w->keep2))
		return 0;
	if (replaced(w, st->key + w->base)) {
		w->drop = apf_xrealloc(w->drop, (w->ndrop + 1) * sizeof(char *));
		w->drop[w->ndrop++] = apf_xstrdup(st->key);
	}
	return 0;
}

int apf_pa_dataset(const struct apf_config *cfg, struct apf_store *store, const struct apf_pa_dataset_options *opt,
		   struct apf_pa_dataset_result *res, struct apf_err *err)
{
	struct apf_dataset_files files = { 0 };
	struct apf_db *mem = NULL;
	struct pa_fail fail = { NULL, NULL, 0 };
	uint64_t npages = 0;
	char created[40];
	char *spans_json = NULL, *pages_json = NULL, *spans_pq = NULL, *pages_pq = NULL;
	char *tail = NULL, *key_spans = NULL, *key_pages = NULL, *prefix = NULL;
	FILE *fs = NULL, *fp = NULL;
	struct own_walk walk = { 0 };
	int rc, read_failed = 0, k = opt->shard_n ? opt->shard_k : 0, nn = opt->shard_n ? opt->shard_n : 1;
	int64_t t0 = apf_now_ms();

	memset(res, 0, sizeof(*res));
	res->agent = apf_pa_agent(opt->pa.engine, opt->pa.ollama.model);
	rc = apf_dataset_name_check(cfg, opt->dataset, err);
	if (!rc)
		rc = apf_dataset_fetch_pages(cfg, store, opt->dataset, &files, err);
	if (rc)
		goto out;
	apf_strlcpy(res->export_id, files.export_id, sizeof(res->export_id));
	apf_pa_now(created);
	spans_json = apf_xasprintf("%s/spans.jsonl", files.dir);
	pages_json = apf_xasprintf("%s/pages.jsonl", files.dir);
	spans_pq = apf_xasprintf("%s/spans.parquet", files.dir);
	pages_pq = apf_xasprintf("%s/processed.parquet", files.dir);
	for (int attempt = 0;; attempt++) {
		fs = fopen(spans_json, "w");
		fp = fopen(pages_json, "w");
		if (!fs || !fp) {
			rc = apf_error(err, APF_EIO, "cannot write '%s': %s", !fs ? spans_json : pages_json,
				       strerror(errno));
			goto out;
		}
		rc = apf_db_open_memory(&mem, err);
		if (!rc)
			rc = annotate_chunks(mem, files.list, opt, fs, fp, res->agent, created, &res->stats, &npages,
					     &fail, &read_failed, err);
		apf_db_close(mem);
		mem = NULL;
		if (!(rc && read_failed && rc != APF_ENOMEM && files.in_place && attempt == 0))
			break;
		/* A newer export may have removed a file read in place: once
		 * more with its files. */
		fclose(fs);
		fclose(fp);
		fs = fp = NULL;
		memset(&res->stats, 0, sizeof(res->stats));
		free(fail.doc_id);
		free(fail.error);
		memset(&fail, 0, sizeof(fail));
		free(spans_json);
		free(pages_json);
		free(spans_pq);
		free(pages_pq);
		spans_json = pages_json = spans_pq = pages_pq = NULL;
		apf_dataset_files_release(&files);
		apf_err_clear(err);
		rc = apf_dataset_fetch_pages(cfg, store, opt->dataset, &files, err);
		if (rc)
			goto out;
		spans_json = apf_xasprintf("%s/spans.jsonl", files.dir);
		pages_json = apf_xasprintf("%s/pages.jsonl", files.dir);
		spans_pq = apf_xasprintf("%s/spans.parquet", files.dir);
		pages_pq = apf_xasprintf("%s/processed.parquet", files.dir);
	}
	res->stats.ms = apf_now_ms() - t0;
	if (rc) {
		if (read_failed)
			apf_error_prefix(err, "cannot read the pages of dataset '%s'", opt->dataset);
		goto out;
	}
	if (opt->pa.cancel && *opt->pa.cancel) {
		rc = apf_error(err, APF_EINTERNAL, "interrupted");
		goto out;
	}
	if (res->stats.failed) {
		rc = apf_error(err, APF_ENET,
			       "%" PRIu64 " of %" PRIu64 " page%s failed, so nothing was written (the others' answers "
			       "are cached; run again): first %s:%d: %s",
			       res->stats.failed, npages, npages == 1 ? "" : "s", fail.doc_id ? fail.doc_id : "?",
			       fail.page_num, fail.error ? fail.error : "?");
		goto out;
	}
	if (ferror(fs) || ferror(fp))
		rc = apf_error(err, APF_EIO, "cannot write '%s': %s", spans_json, strerror(errno));
	if (fclose(fs) && !rc)
		rc = apf_error(err, APF_EIO, "cannot write '%s': %s", spans_json, strerror(errno));
	if (fclose(fp) && !rc)
		rc = apf_error(err, APF_EIO, "cannot write '%s': %s", pages_json, strerror(errno));
	fs = fp = NULL;
	if (!rc)
		rc = apf_db_open_memory(&mem, err);
	/* One thread: the JSON reader's buffers per thread grew with the
	 * rows (355 MB at 1.5 million spans with two, 187 MB with one). */
	if (!rc)
		rc = apf_db_exec(mem, "SET threads = 1", err);
	if (!rc)
		rc = jsonl_to_parquet(mem, spans_json, spans_pq, 0, err);
	if (!rc)
		rc = jsonl_to_parquet(mem, pages_json, pages_pq, 1, err);
	apf_db_close(mem);
	mem = NULL;
	if (rc) {
		apf_error_prefix(err, "cannot write the suggestions as Parquet");
		goto out;
	}
	tail = apf_xasprintf("suggestions/%s/", res->agent);
	prefix = apf_dataset_key(opt->dataset, tail);
	key_spans = apf_xasprintf("%spart-%d-of-%d.parquet", prefix, k, nn);
	key_pages = apf_xasprintf("%s_pages/part-%d-of-%d.parquet", prefix, k, nn);
	/* The pages first: a reader between the two sees the new page list
	 * with the old spans, both valid for their own text_sha256. */
	rc = apf_store_put_file(store, key_pages, pages_pq, PARQUET_TYPE, err);
	if (!rc)
		rc = apf_store_put_file(store, key_spans, spans_pq, PARQUET_TYPE, err);
	if (rc)
		goto out;
	res->files = 2;
	walk.keep1 = key_spans;
	walk.keep2 = key_pages;
	walk.base = strlen(prefix);
	walk.shard_n = opt->shard_n;
	if (apf_store_list(store, prefix, collect_own, &walk, err)) {
		apf_log_warn("cannot list the earlier output of '%s': %s", res->agent, err->msg);
		apf_err_clear(err);
	}
	for (size_t i = 0; i < walk.ndrop; i++) {
		struct apf_err derr;
		if (apf_store_delete(store, walk.drop[i], &derr))
			apf_log_warn("cannot remove '%s': %s", walk.drop[i], derr.msg);
	}
out:
	if (fs)
		fclose(fs);
	if (fp)
		fclose(fp);
	free(fail.doc_id);
	free(fail.error);
	for (size_t i = 0; i < walk.ndrop; i++)
		free(walk.drop[i]);
	free(walk.drop);
	free(spans_json);
	free(pages_json);
	free(spans_pq);
	free(pages_pq);
	free(tail);
	free(prefix);
	free(key_spans);
	free(key_pages);
	apf_dataset_files_release(&files);
	return rc;
}
