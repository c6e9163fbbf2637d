/*
 * ocrstage.c: the OCR stage (see ocrstage.h).
 *
 * Threads and who owns what:
 *   - workers (opt->jobs): claim documents and pages, read pages with
 *     their own MuPDF context and Tesseract handle, write page records to
 *     the document's spool;
 *   - senders (deepseek only, opt->concurrency): take rendered pages off a
 *     bounded queue and ask the DeepSeek server;
 *   - the committer: takes finished documents, in the order they finish,
 *     to the group-commit writer, once the run's row exists; and has the
 *     writer open the warehouse when a document is about to finish and
 *     the writer has closed it meanwhile (warm_soon());
 *   - the calling thread: plans and makes the run's row while the workers
 *     already read (with doc_ids: speculate()), then waits for the rest.
 * A struct doc lives from the moment a worker claims it until its last
 * reference goes: the claiming worker, each helping worker, each queued or
 * in-flight DeepSeek request, and the commit each hold one.  The last
 * release deletes its temp files.  st->lock guards scheduling (which
 * document and page comes next, the lists, the totals); d->lock guards a
 * document's spool and counts; st->cb_lock serialises the callbacks.
 * Neither lock is held while calling out (store, MuPDF, Tesseract, HTTP,
 * warehouse, callbacks).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "apflow/buf.h"
#include "apflow/deepseek.h"
#include "apflow/ingest.h"
#include "apflow/log.h"
#include "apflow/ocr.h"
#include "apflow/ocrstage.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "apflow/version.h"
#include "core/ocrstage_db.h"
#include "core/ocrstage_impl.h"

/* Temp files are apflow-ocr-<pid>-<random>.{pdf,jsonl} (see apf_remove_stale_temps). */
#define TMP_PREFIX "apflow-ocr-"
#define MAX_JOBS 64
#define MAX_CONCURRENCY 256
#define SPOOL_BUF ((size_t)1 << 16)
/* The most documents one transaction takes. */
#define COMMIT_BATCH 64
#define WARM_US 20000

static const char *const page_engine_names[PE_COUNT] = { "text", "tesseract", "deepseek" };

static const char *const engine_names[] = { "auto", "text", "tesseract", "deepseek" };

int apf_ocrstage_engine_parse(const char *s, enum apf_ocrstage_engine *out)
{
	for (size_t i = 0; s && i < sizeof(engine_names) / sizeof(engine_names[0]); i++) {
		if (!strcmp(s, engine_names[i])) {
			*out = (enum apf_ocrstage_engine)i;
			return 0;
		}
	}
	return -1;
}

const char *apf_ocrstage_engine_name(enum apf_ocrstage_engine e)
{
	return (unsigned)e < sizeof(engine_names) / sizeof(engine_names[0]) ? engine_names[e] : "?";
}

uint64_t apf_ocrstage_shard_hash(const char *doc_id)
{
	char hex[APF_SHA256_HEX];
	uint64_t v = 0;

	apf_sha256_hex(doc_id, strlen(doc_id), hex);
	for (int i = 0; i < 16; i++) {
		char c = hex[i];
		v = (v << 4) | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return v;
}

int apf_ocrstage_parse_shard(const char *s, int *k, int *n)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	char num[24];
	int64_t kk, nn;

	if (!slash || (size_t)(slash - s) >= sizeof(num) || slash == s)
		return -1;
	memcpy(num, s, (size_t)(slash - s));
	num[slash - s] = '\0';
	if (apf_parse_i64(num, &kk) || apf_parse_i64(slash + 1, &nn))
		return -1;
	if (nn < 1 || nn > 1000000 || kk < 0 || kk >= nn)
		return -1;
	*k = (int)kk;
	*n = (int)nn;
	return 0;
}



static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- temp files ---- */

static char *temp_name(const struct stage *st, const char *ext)
{
	return apf_xasprintf("%s/" TMP_PREFIX "%d-%016" PRIx64 ".%s", st->tmpdir, (int)getpid(), apf_rand64(),
			     ext);
}

/* ---- callbacks ---- */

static void snapshot(struct stage *st, struct apf_ocrstage_progress *p)
{
	pthread_mutex_lock(&st->lock);
	p->docs_total = st->nselected;
	p->docs_done = st->docs_done;
	p->pages_planned = st->pages_planned;
	p->pages_done = st->pages_done;
	pthread_mutex_unlock(&st->lock);
	p->elapsed_ms = apf_now_ms() - st->t0;
}

static void maybe_progress(struct stage *st, int force)
{
	const struct apf_ocrstage_options *opt = st->opt;
	int every = opt->progress_ms > 0 ? opt->progress_ms : 500;
	struct apf_ocrstage_progress p;
	int64_t now;

	if (!opt->on_progress)
		return;
	/* Pages read ahead of the plan may be dropped: no news before it. */
	pthread_mutex_lock(&st->lock);
	if (!st->planned || st->norun) {
		pthread_mutex_unlock(&st->lock);
		return;
	}
	pthread_mutex_unlock(&st->lock);
	pthread_mutex_lock(&st->cb_lock);
	now = apf_now_ms();
	if (force || now - st->last_progress_ms >= every) {
		st->last_progress_ms = now;
		snapshot(st, &p);
		opt->on_progress(&p, opt->cb_arg);
	}
	pthread_mutex_unlock(&st->cb_lock);
}

static void report_failure(struct stage *st, const struct doc *d, int page, const char *engine,
			   const char *error)
{
	int news;

	if (!st->opt->on_failure)
		return;
	/* A document read before the plan confirmed it (speculative start)
	 * is news only if the plan takes it: an unknown doc_id's or a done
	 * document's failures are not reported. */
	pthread_mutex_lock(&st->lock);
	while (!st->planned && !st->stopping)
		pthread_cond_wait(&st->work_cond, &st->lock);
	news = st->planned && !st->norun && !d->pick->dropped;
	pthread_mutex_unlock(&st->lock);
	if (!news)
		return;
	pthread_mutex_lock(&st->cb_lock);
	st->opt->on_failure(d->id, page, engine, error, st->opt->cb_arg);
	pthread_mutex_unlock(&st->cb_lock);
}

/* ---- stopping ---- */

/* With st->lock held: the run stops, and every waiting thread looks again. */
static void stop_locked(struct stage *st)
{
	st->stopping = 1;
	pthread_cond_broadcast(&st->work_cond);
	pthread_cond_broadcast(&st->commit_cond);
	pthread_cond_broadcast(&st->dq_cond);
}

/* With st->lock held: a cancel asked for (SIGINT, SIGTERM) stops the run. */
static void check_cancel_locked(struct stage *st)
{
	if (!st->stopping && st->opt->cancel && *st->opt->cancel) {
		st->res->cancelled = 1;
		stop_locked(st);
	}
}

void ocrs_count_blank(struct stage *st)
{
	pthread_mutex_lock(&st->lock);
	st->res->blank++;
	pthread_mutex_unlock(&st->lock);
}

int ocrs_cancelled(struct stage *st)
{
	return st->opt->cancel && *st->opt->cancel;
}

int ocrs_stopping(struct stage *st)
{
	int s;

	pthread_mutex_lock(&st->lock);
	check_cancel_locked(st);
	s = st->stopping;
	pthread_mutex_unlock(&st->lock);
	return s;
}

/* Stops the run for an error that every further document would hit too. */
static void set_fatal(struct stage *st, const struct apf_err *err)
{
	pthread_mutex_lock(&st->lock);
	if (!st->fatal) {
		st->fatal = 1;
		st->fatal_err = *err;
	}
	stop_locked(st);
	pthread_mutex_unlock(&st->lock);
}

/*
 * Stops a run that will not be made: nothing to do, or an error before
 * its row (the plan failed, an unknown doc_id, a missing Tesseract
 * language).  What speculative workers read is dropped unwritten.
 */
static void set_norun(struct stage *st)
{
	pthread_mutex_lock(&st->lock);
	st->norun = 1;
	stop_locked(st);
	pthread_mutex_unlock(&st->lock);
}

/*
 * Waits until the run's row exists: Tesseract and DeepSeek pages (too
 * costly to spend on a document the plan may drop) start only then.
 * Returns 0, or -1 when the run stopped or will not be made.
 */
int ocrs_wait_started(struct stage *st)
{
	int ok;

	pthread_mutex_lock(&st->lock);
	while (!st->started && !st->stopping)
		pthread_cond_wait(&st->work_cond, &st->lock);
	ok = st->started && !st->stopping;
	pthread_mutex_unlock(&st->lock);
	return ok ? 0 : -1;
}

/* ---- documents ---- */

static void doc_free(struct doc *d)
{
	if (d->spool)
		fclose(d->spool);
	free(d->spool_buf);
	if (d->spool_path) {
		unlink(d->spool_path);
		free(d->spool_path);
	}
	if (d->pdf_path) {
		if (d->pdf_is_temp)
			unlink(d->pdf_path);
		free(d->pdf_path);
	}
	free(d->doc_error);
	free(d->skip);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static void active_remove(struct stage *st, struct doc *d)
{
	if (!d->in_active)
		return;
	for (struct doc **pp = &st->active; *pp; pp = &(*pp)->next_active) {
		if (*pp == d) {
			*pp = d->next_active;
			break;
		}
	}
	d->in_active = 0;
}

void ocrs_doc_ref(struct stage *st, struct doc *d)
{
	pthread_mutex_lock(&st->lock);
	d->refs++;
	pthread_mutex_unlock(&st->lock);
}

void ocrs_doc_release(struct stage *st, struct doc *d)
{
	int left;

	pthread_mutex_lock(&st->lock);
	left = --d->refs;
	if (!left) {
		active_remove(st, d);
		st->inflight--;
		pthread_cond_broadcast(&st->work_cond);
	}
	pthread_mutex_unlock(&st->lock);
	if (!left)
		doc_free(d);
}

/* Hands a finished document to the committer, which takes a reference. */
static void queue_commit(struct stage *st, struct doc *d)
{
	pthread_mutex_lock(&st->lock);
	d->refs++;
	d->next_commit = NULL;
	if (st->cq_tail)
		st->cq_tail->next_commit = d;
	else
		st->cq_head = d;
	st->cq_tail = d;
	pthread_cond_signal(&st->commit_cond);
	pthread_mutex_unlock(&st->lock);
}

/*
 * When d's last pages are near (under d->lock): at the pace of its pages
 * so far, the rest take about as long as opening the warehouse.  Returns
 * their time in microseconds, or -1.  The writer closes the warehouse
 * when it has had nothing to do for its linger (st->linger_us; `apflow
 * ocr` sets 250 ms), which is the case while a document of OCR'd pages is
 * read, and opening it again would cost 15-25 ms after the last page; so
 * the committer then has the writer open it (ocrdb_warm()) and the commit
 * finds it open.  Too early, the warehouse is only held open for nothing:
 * at most the linger more than the commit needs.
 */
static int64_t warm_soon(const struct doc *d, int64_t now)
{
	int64_t left = d->npages - d->finished, rest;

	if (d->finished < 2)
		return -1;
	rest = (now - d->read_us) / d->finished * left;
	return rest <= (int64_t)WARM_US ? rest : -1;
}

/* A stored page's record for the spool. */
struct page_rec {
	const char *model;
	const char *text;
	size_t len;
	const char *sha;
	size_t chars;
	double confidence; /* < 0: none */
};

/* Writes s[0..len) as a JSON string: s is well-formed UTF-8 (the
 * normaliser's text, or checked), so only '"', '\\' and control
 * characters are escaped, in runs between them written as they are. */
static void spool_string(FILE *f, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	putc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		size_t n = 6;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		fwrite(run, 1, (size_t)(s + i - run), f);
		run = s + i + 1;
		if (c == '"' || c == '\\' || c == '\n') {
			esc[1] = c == '\n' ? 'n' : (char)c;
			n = 2;
		}
		fwrite(esc, 1, n, f);
	}
	fwrite(run, 1, (size_t)(s + len - run), f);
	putc('"', f);
}

/*
 * Writes a page record as one JSON line, with the keys that
 * ocrdb_commit_doc() reads.  Written by hand rather than through a jansson
 * object: that would copy each page's text, escape it and copy it again,
 * which cost as much as a tenth of reading the page.
 */
static void spool_page(FILE *f, int page_num, int engine, const struct page_rec *pr)
{
	fprintf(f, "{\"k\":\"p\",\"page_num\":%d,\"engine\":\"%s\",\"model\":", page_num,
		page_engine_names[engine]);
	if (pr->model)
		spool_string(f, pr->model, strlen(pr->model));
	else
		fputs("null", f);
	fputs(",\"text\":", f);
	spool_string(f, pr->text, pr->len);
	fprintf(f, ",\"text_sha256\":\"%s\",\"chars\":%zu,\"confidence\":", pr->sha, pr->chars);
	if (pr->confidence >= 0)
		fprintf(f, "%.17g}\n", pr->confidence);
	else
		fputs("null}\n", f);
}

/*
 * With d->lock held, the spool at path closed: drops the records of the
 * pages the plan says are done (a partial document read ahead of the plan,
 * d->read_early: a killed run committed them, and they must not be stored
 * twice), and takes them off the counts.  Returns 0, or an errno (the
 * spool is then as it was).
 */
static int spool_drop_done(struct doc *d, const char *path)
{
	unsigned char *done;
	char *tmp, *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *in, *out = NULL;
	int rc = 0, dropped = 0;

	if (!d->pick->ndone)
		return 0;
	done = apf_xcalloc((size_t)d->npages + 1, 1);
	for (size_t i = 0; i < d->pick->ndone; i++)
		if (d->pick->done[i] >= 1 && d->pick->done[i] <= d->npages)
			done[d->pick->done[i]] = 1;
	tmp = apf_xasprintf("%s.drop", path);
	errno = 0;
	in = fopen(path, "r");
	if (in)
		out = fopen(tmp, "w");
	if (!in || !out)
		rc = errno ? errno : EIO;
	while (!rc && (n = getline(&line, &cap, in)) > 0) {
		json_t *rec = json_loadb(line, (size_t)n, 0, NULL);
		const char *k = json_string_value(json_object_get(rec, "k"));
		json_int_t pn = json_integer_value(json_object_get(rec, "page_num"));

		if (k && pn >= 1 && pn <= d->npages && done[pn]) {
			if (!strcmp(k, "p")) {
				const char *eng = json_string_value(json_object_get(rec, "engine"));

				d->stored--;
				d->spool_stored--;
				for (int e = 0; eng && e < PE_COUNT; e++)
					d->by_engine[e] -= !strcmp(eng, page_engine_names[e]);
				d->spool_empty -= json_string_length(json_object_get(rec, "text")) == 0;
			} else {
				d->failed_pages--;
				d->spool_failed--;
			}
			dropped++;
		} else if (fwrite(line, 1, (size_t)n, out) != (size_t)n) {
			rc = errno ? errno : EIO;
		}
		json_decref(rec);
	}
	free(line);
	if (!rc && ferror(in))
		rc = EIO;
	if (in)
		fclose(in);
	if (out && fclose(out) && !rc)
		rc = errno ? errno : EIO;
	if (!rc && dropped && rename(tmp, path))
		rc = errno ? errno : EIO;
	if (rc || !dropped)
		unlink(tmp);
	if (dropped)
		apf_log_debug("ocr: %s: %d page%s read ahead of the plan had rows already", d->id, dropped,
			      dropped == 1 ? "" : "s");
	free(tmp);
	free(done);
	return rc;
}

/*
 * A long document is committed in chunks of ocr_commit_pages pages, so
 * that a run killed in its middle loses only the pages since the last
 * chunk, and the next run reads only the pages without rows (the plan's
 * partial documents).  The worker whose page filled the spool closes it,
 * opens the next one for the document's later pages, and commits the
 * full one itself (the other workers go on meanwhile): its rows, without
 * counting the document as done in the run's row.  Not before the run's
 * row exists, nor for a document the plan dropped: the spool then grows
 * on.  The first chunk of a fresh document checks, as a whole document
 * does, that no other process committed it meanwhile; if one did, the
 * document is read no further and nothing of it is written.
 */
static void commit_chunk(struct stage *st, struct doc *d)
{
	struct ocrdb_commit cj;
	struct apf_err err;
	char *path = NULL;
	int ok, rc, early, dropped = 0;

	pthread_mutex_lock(&st->lock);
	ok = st->started && !st->stopping && !d->pick->dropped;
	early = d->read_early;
	pthread_mutex_unlock(&st->lock);
	memset(&cj, 0, sizeof(cj));
	pthread_mutex_lock(&d->lock);
	if (ok && !d->spool_errno && fflush(d->spool) == 0 && !ferror(d->spool)) {
		FILE *next;
		char *next_path = temp_name(st, "jsonl");

		next = fopen(next_path, "w");
		if (!next) {
			free(next_path);
		} else {
			fclose(d->spool); /* flushed above: no error left to report */
			/* Pages read ahead of the plan that were done: a
			 * failure leaves the chunk uncommitted and the
			 * document failed (its spool error). */
			if (early && (rc = spool_drop_done(d, d->spool_path)) != 0) {
				d->spool_errno = rc;
				dropped = 1;
			}
			setvbuf(next, d->spool_buf, _IOFBF, SPOOL_BUF);
			path = d->spool_path;
			d->spool_path = next_path;
			d->spool = next;
			cj.pages = d->spool_stored;
			cj.failures = d->spool_failed;
			cj.may_keep = d->spool_empty && !d->pick->fresh;
			cj.check_others = d->pick->fresh && !st->opt->force && !d->chunked;
			d->spool_stored = d->spool_failed = d->spool_empty = 0;
		}
	}
	if (!path || dropped)
		d->rotating = 0;
	pthread_mutex_unlock(&d->lock);
	if (path && dropped) {
		unlink(path);
		free(path);
		return;
	}
	if (!path)
		return;

	cj.run_id = st->run_id;
	cj.doc_id = d->id;
	cj.spool_path = path;
	cj.partial = 1;
	apf_err_clear(&err);
	rc = ocrdb_commit_doc(st->writer, &cj, &err);
	unlink(path);
	free(path);
	pthread_mutex_lock(&st->lock);
	st->db_us = now_us();
	if (!rc && cj.skipped) {
		((struct pick *)d->pick)->dropped = 1;
		st->res->skipped++;
	}
	pthread_mutex_unlock(&st->lock);
	if (rc) {
		apf_error_prefix(&err, "cannot commit pages of '%s'", d->id);
		set_fatal(st, &err);
	}
	pthread_mutex_lock(&d->lock);
	if (!rc && !cj.skipped) {
		d->chunked = 1;
		for (int e = 0; e < PE_COUNT; e++) {
			d->kept += (int)cj.kept[e];
			d->kept_by_engine[e] += (int)cj.kept[e];
		}
	}
	d->rotating = 0;
	pthread_mutex_unlock(&d->lock);
	apf_log_debug("ocr: committed a chunk of %s: %lld pages, %lld failed", d->id, (long long)cj.pages,
		      (long long)cj.failures);
}

/*
 * Writes one record to the document's spool, a page's (pr) or a
 * failure's (rec, taken: decref), and counts it; when it was the
 * document's last page, queues the commit.  page_num 0 with error marks
 * the whole document failed.
 */
static void finish_page(struct stage *st, struct doc *d, const struct page_rec *pr, json_t *rec, int engine,
			int page_num, const char *error)
{
	int complete, chunk = 0;
	int64_t now = 0, warm = -1;

	pthread_mutex_lock(&d->lock);
	if (!d->spool_errno) {
		errno = 0;
		if (pr)
			spool_page(d->spool, page_num, engine, pr);
		else if (json_dumpf(rec, d->spool, JSON_COMPACT) == 0)
			fputc('\n', d->spool);
		else
			d->spool_errno = errno ? errno : EIO;
		if (!d->spool_errno && ferror(d->spool))
			d->spool_errno = errno ? errno : EIO;
	}
	if (page_num == 0) {
		free(d->doc_error);
		d->doc_error = apf_xstrdup(error);
		complete = 1;
	} else {
		if (error) {
			d->failed_pages++;
			d->spool_failed++;
		} else {
			d->stored++;
			d->by_engine[engine]++;
			d->spool_stored++;
			d->spool_empty += pr && pr->len == 0;
		}
		complete = ++d->finished == d->npages;
		if (!complete && !d->warmed) {
			now = now_us();
			warm = warm_soon(d, now);
			d->warmed = warm >= 0;
		}
		if (!complete && !d->rotating && !d->spool_errno && st->commit_pages > 0 &&
		    d->spool_stored + d->spool_failed >= st->commit_pages)
			chunk = d->rotating = 1;
	}
	pthread_mutex_unlock(&d->lock);
	if (rec)
		json_decref(rec);

	if (page_num) {
		pthread_mutex_lock(&st->lock);
		st->pages_done++;
		/* Only if the writer will have closed by the commit: not
		 * when the last warehouse job was a moment ago. */
		if (warm >= 0 && st->started && !st->stopping && now + warm - st->db_us > st->linger_us) {
			st->warm = 1;
			pthread_cond_signal(&st->commit_cond);
		}
		pthread_mutex_unlock(&st->lock);
	}
	if (error)
		report_failure(st, d, page_num, engine >= 0 ? page_engine_names[engine] : NULL, error);
	if (complete)
		queue_commit(st, d);
	if (chunk)
		commit_chunk(st, d);
	maybe_progress(st, 0);
}

static json_t *failure_record(int page_num, int engine, const char *error)
{
	json_t *o = json_object();

	json_object_set_new(o, "k", json_string("f"));
	json_object_set_new(o, "page_num", page_num ? json_integer(page_num) : json_null());
	json_object_set_new(o, "engine", engine >= 0 ? json_string(page_engine_names[engine]) : json_null());
	/* Messages quote file contents at times: keep them valid UTF-8. */
	json_t *e = json_string(error);
	if (!e) {
		struct apf_buf clean = APF_BUF_INIT;
		apf_buf_init(&clean, 0);
		apf_text_normalize(error, strlen(error), &clean, NULL);
		e = json_string(clean.data ? clean.data : "");
		apf_buf_release(&clean);
	}
	json_object_set_new(o, "error", e);
	return o;
}

static void fail_doc(struct stage *st, struct doc *d, int engine, const char *error)
{
	finish_page(st, d, NULL, failure_record(0, engine, error), engine, 0, error);
}

void ocrs_fail_page(struct stage *st, struct doc *d, int page, int engine, const char *error)
{
	char msg[APF_ERR_MSG_MAX + 32];

	snprintf(msg, sizeof(msg), "page %d: %s", page, error);
	finish_page(st, d, NULL, failure_record(page, engine, msg), engine, page, msg);
}

void ocrs_store_page(struct stage *st, struct doc *d, int page, int engine, const char *model,
		       const struct apf_buf *text, const struct apf_text_stats *stats, double confidence)
{
	char sha[APF_SHA256_HEX];
	/* The normaliser guarantees well-formed UTF-8 without NUL; a model
	 * name (configuration) that is not UTF-8 is left out, as jansson
	 * would have. */
	struct page_rec pr = { model && !apf_utf8_validate(model, strlen(model), NULL) ? model : NULL,
			       text->data ? text->data : "", text->len, sha, stats->chars, confidence };

	apf_sha256_hex(pr.text, pr.len, sha);
	finish_page(st, d, &pr, NULL, engine, page, NULL);
}

/*
 * With st->lock held: marks in d->skip the pages the plan says are done
 * (a partial document's) that are not claimed yet; returns how many.
 */
static int skip_done_pages(struct doc *d)
{
	int k = 0;

	for (size_t i = 0; i < d->pick->ndone; i++) {
		int n = d->pick->done[i];

		if (n < d->next_page || n > d->npages)
			continue;
		if (!d->skip)
			d->skip = apf_xcalloc((size_t)d->npages + 1, 1);
		if (!d->skip[n])
			d->skip[n] = 1, k++;
	}
	return k;
}

/* The next page of d to read, or 0. */
static int claim_page(struct stage *st, struct doc *d)
{
	int p = 0, all_done = 0;

	if (ocrs_stopping(st))
		return 0;
	pthread_mutex_lock(&st->lock);
	if (d->pick->dropped) {
		d->next_page = d->npages + 1;
		active_remove(st, d);
	} else {
		if (!d->skip_known && st->planned) {
			/* Read ahead of the plan (start_doc()): its done
			 * pages count as finished now, and if that was the
			 * last of them, nobody else is reading one and the
			 * commit is ours to queue (as finish_page() would). */
			int k = skip_done_pages(d);

			d->skip_known = 1;
			if (k) {
				pthread_mutex_lock(&d->lock);
				d->finished += k;
				all_done = d->finished == d->npages;
				pthread_mutex_unlock(&d->lock);
			}
		}
		while (d->skip && d->next_page <= d->npages && d->skip[d->next_page])
			d->next_page++;
		if (d->next_page <= d->npages) {
			p = d->next_page++;
			d->read_early |= !d->skip_known;
		}
		if (d->next_page > d->npages)
			active_remove(st, d);
	}
	pthread_mutex_unlock(&st->lock);
	if (all_done)
		queue_commit(st, d);
	return p;
}

static void read_pages(struct worker *w, struct doc *d, struct apf_pdf *pdf)
{
	int p;

	while ((p = claim_page(w->st, d)) > 0)
		ocrs_read_page(w, d, pdf, p);
}

/*
 * The next thing for a worker: a new document (*is_new), or one in flight
 * with pages left (a reference taken), or NULL when there is no more.
 * New documents come first, so that workers read different files and open
 * each once; a worker helps with another's pages when none is left, or
 * while the documents in flight are at their bound.
 */
static struct doc *next_work(struct stage *st, int *is_new)
{
	struct doc *d = NULL;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		check_cancel_locked(st);
		if (st->stopping)
			break;
		if (!st->picks_known) {
			pthread_cond_wait(&st->work_cond, &st->lock);
			continue;
		}
		while (st->next_pick < st->npicks && st->picks[st->next_pick].dropped)
			st->next_pick++;
		if (st->next_pick < st->npicks && st->inflight < st->max_inflight) {
			const struct pick *pk = &st->picks[st->next_pick++];
			d = apf_xcalloc(1, sizeof(*d));
			pthread_mutex_init(&d->lock, NULL);
			d->pick = pk;
			d->id = pk->id;
			d->refs = 1;
			d->started_ms = apf_now_ms();
			st->inflight++;
			st->fetching++;
			*is_new = 1;
			break;
		}
		for (d = st->active; d && (d->next_page > d->npages || d->pick->dropped); d = d->next_active)
			;
		if (d) {
			d->refs++;
			*is_new = 0;
			break;
		}
		if (!st->fetching && st->next_pick >= st->npicks)
			break;
		pthread_cond_wait(&st->work_cond, &st->lock);
	}
	pthread_mutex_unlock(&st->lock);
	return d;
}

/*
 * The store's own file for key when the store is file:// and the object is
 * a regular file there, so that it is read in place: no copy, no fsync of
 * a copy.  Safe because objects are written whole by rename and a key's
 * bytes never change (raw/<doc_id>.pdf is named by their hash); MuPDF
 * keeps its descriptor, so a delete meanwhile does not disturb the read.
 * NULL otherwise (s3://, or no such file: apf_store_get_file() then says
 * why, in the store's words).
 */
static char *local_object(struct apf_store *store, const char *key)
{
	const char *url = apf_store_url(store);
	struct stat sb;
	char *path;

	if (!url || !apf_starts_with(url, "file:///"))
		return NULL;
	path = apf_xasprintf("%s%s%s", url + 7, strcmp(url + 7, "/") ? "/" : "", key);
	if (stat(path, &sb) || !S_ISREG(sb.st_mode)) {
		free(path);
		return NULL;
	}
	return path;
}

/* Store errors that will not go away for the next document stop the run. */
static int store_error_is_fatal(int code)
{
	return code != APF_ENOTFOUND && code != APF_EINVAL;
}

static void start_doc(struct worker *w, struct doc *d)
{
	struct stage *st = w->st;
	struct apf_pdf *pdf = NULL;
	struct apf_err err;
	char key[64];
	int rc, fatal = 0, all_done;

	apf_err_clear(&err);
	d->spool_path = temp_name(st, "jsonl");
	d->spool = fopen(d->spool_path, "w");
	if (!d->spool) {
		apf_error(&err, APF_EIO, "cannot create '%s': %s", d->spool_path, strerror(errno));
		fatal = 1;
		goto failed;
	}
	/* Page records are a few KB each: write them in large blocks (glibc
	 * takes a size only with a buffer). */
	d->spool_buf = apf_xmalloc(SPOOL_BUF);
	setvbuf(d->spool, d->spool_buf, _IOFBF, SPOOL_BUF);
	snprintf(key, sizeof(key), "raw/%s.pdf", d->id);
	d->pdf_path = local_object(st->store, key);
	if (!d->pdf_path) {
		d->pdf_path = temp_name(st, "pdf");
		d->pdf_is_temp = 1;
		rc = apf_store_get_file(st->store, key, d->pdf_path, &err);
		if (rc) {
			fatal = store_error_is_fatal(rc);
			goto failed;
		}
	}
	rc = apf_pdf_open(w->ctx, d->pdf_path, &pdf, &err);
	if (rc) {
		/* Only an unreadable file (our copy on a full disk, or the
		 * store's own) is not about this document. */
		fatal = rc == APF_EIO;
		goto failed;
	}
	d->read_us = now_us();
	pthread_mutex_lock(&st->lock);
	d->npages = apf_pdf_page_count(pdf);
	d->next_page = 1;
	/* A partial document: its pages with rows are done already.  A
	 * speculative start knows which only from the plan: until then its
	 * pages are read (the warehouse opens meanwhile), the first claim
	 * after the plan skips the done pages not yet claimed, and the
	 * commit drops those read before (claim_page(), spool_drop_done()). */
	if (!st->speculative || st->planned) {
		d->finished += skip_done_pages(d);
		d->skip_known = 1;
	}
	/* Decided before the document is shared: once it is in the active
	 * list, other workers may finish its pages and queue its commit
	 * themselves (page_done), and a second look here would queue it
	 * twice (a duplicate-key commit, then a use after free). */
	all_done = d->finished == d->npages;
	if (all_done) {
		/* Every page was done: only the document's end to commit. */
		d->next_page = d->npages + 1;
	} else {
		d->next_active = st->active;
		st->active = d;
		d->in_active = 1;
	}
	st->fetching--;
	pthread_cond_broadcast(&st->work_cond);
	pthread_mutex_unlock(&st->lock);
	apf_log_debug("ocr: %s: %d page%s", d->id, d->npages, d->npages == 1 ? "" : "s");
	if (all_done)
		queue_commit(st, d);
	read_pages(w, d, pdf);
	apf_pdf_close(pdf);
	ocrs_doc_release(st, d);
	return;

failed:
	pthread_mutex_lock(&st->lock);
	st->fetching--;
	pthread_cond_broadcast(&st->work_cond);
	pthread_mutex_unlock(&st->lock);
	if (fatal)
		set_fatal(st, &err);
	else
		fail_doc(st, d, -1, err.msg);
	ocrs_doc_release(st, d);
}

static void help_doc(struct worker *w, struct doc *d)
{
	struct apf_pdf *pdf = NULL;
	struct apf_err err;

	apf_err_clear(&err);
	/* Our own handle on the same temp file: a document is used by one
	 * thread at a time, and each context opens its own. */
	if (apf_pdf_open(w->ctx, d->pdf_path, &pdf, &err)) {
		apf_log_warn("ocr: %s: cannot open a second handle (%s); its first worker goes on alone",
			     d->id, err.msg);
	} else {
		read_pages(w, d, pdf);
		apf_pdf_close(pdf);
	}
	ocrs_doc_release(w->st, d);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct doc *d;
	int64_t spent = 0;
	int is_new;

	while ((d = next_work(w->st, &is_new))) {
		int64_t t0 = now_us();

		if (is_new)
			start_doc(w, d);
		else
			help_doc(w, d);
		spent += now_us() - t0;
	}
	pthread_mutex_lock(&w->st->lock);
	w->st->read_us += spent;
	pthread_mutex_unlock(&w->st->lock);
	return NULL;
}

/* ---- committing ---- */

/* A document on its way into the warehouse. */
struct pending {
	struct doc *d;
	struct ocrdb_commit cj;
	int spool_errno;
	char spool_msg[128];
};

/* Closes d's spool and fills p; returns 0 when d is to be written: not
 * after a warehouse failure (trying again would only wait again), nor a
 * document the plan dropped or read for a run that was never made.  After
 * a cancel, documents already read are still worth keeping. */
static int commit_prepare(struct stage *st, struct doc *d, struct pending *p)
{
	int skip, early, rc;

	memset(p, 0, sizeof(*p));
	p->d = d;
	pthread_mutex_lock(&d->lock);
	if (d->spool && (fflush(d->spool) || ferror(d->spool)) && !d->spool_errno)
		d->spool_errno = errno ? errno : EIO;
	if (d->spool) {
		if (fclose(d->spool) && !d->spool_errno)
			d->spool_errno = errno ? errno : EIO;
		d->spool = NULL;
	}
	p->spool_errno = d->spool_errno;
	pthread_mutex_unlock(&d->lock);

	pthread_mutex_lock(&st->lock);
	skip = st->fatal || !st->started || d->pick->dropped;
	early = d->read_early;
	pthread_mutex_unlock(&st->lock);
	if (skip)
		return -1;
	if (early && !p->spool_errno) {
		pthread_mutex_lock(&d->lock);
		if ((rc = spool_drop_done(d, d->spool_path)) != 0 && !d->spool_errno)
			d->spool_errno = rc;
		p->spool_errno = d->spool_errno;
		pthread_mutex_unlock(&d->lock);
	}
	if (p->spool_errno)
		snprintf(p->spool_msg, sizeof(p->spool_msg), "cannot write the page spool: %s",
			 strerror(p->spool_errno));
	p->cj.run_id = st->run_id;
	p->cj.doc_id = d->id;
	p->cj.spool_path = d->spool_path;
	pthread_mutex_lock(&d->lock);
	p->cj.pages = d->spool_stored;
	p->cj.failures = d->spool_failed + (d->doc_error ? 1 : 0);
	p->cj.may_keep = d->spool_empty && !d->pick->fresh;
	pthread_mutex_unlock(&d->lock);
	p->cj.spool_error = p->spool_errno ? p->spool_msg : NULL;
	/* Rows of this run (its chunks of d) are not another's. */
	p->cj.check_others = d->pick->fresh && !st->opt->force;
	return 0;
}

/* Counts and reports a document whose rows are committed. */
static void commit_done(struct stage *st, struct pending *pd)
{
	struct doc *d = pd->d;
	struct apf_ocrstage_doc rep;
	struct apf_ocrstage_progress p;

	pthread_mutex_lock(&st->lock);
	st->db_us = now_us();
	st->ended = st->ended || pd->cj.end_status != NULL;
	st->docs_done++;
	if (pd->cj.skipped) {
		st->res->skipped++;
	} else if (pd->spool_errno) {
		st->res->docs++;
		st->res->failed++;
		st->res->failed_docs++;
	} else {
		for (int e = 0; e < PE_COUNT; e++) {
			d->kept += (int)pd->cj.kept[e];
			d->kept_by_engine[e] += (int)pd->cj.kept[e];
		}
		st->res->docs++;
		st->res->pages += (uint64_t)(d->stored - d->kept);
		st->res->pages_text += (uint64_t)(d->by_engine[PE_TEXT] - d->kept_by_engine[PE_TEXT]);
		st->res->pages_tesseract +=
			(uint64_t)(d->by_engine[PE_TESSERACT] - d->kept_by_engine[PE_TESSERACT]);
		st->res->pages_deepseek += (uint64_t)(d->by_engine[PE_DEEPSEEK] - d->kept_by_engine[PE_DEEPSEEK]);
		st->res->failed += (uint64_t)(d->failed_pages + d->kept) + (d->doc_error ? 1 : 0);
		st->res->failed_pages += (uint64_t)(d->failed_pages + d->kept);
		st->res->failed_docs += d->doc_error ? 1 : 0;
		st->res->kept += (uint64_t)d->kept;
	}
	pthread_mutex_unlock(&st->lock);

	apf_log_debug("ocr: committed %s: %d stored, %d failed%s", d->id, d->stored,
		      d->failed_pages + (d->doc_error ? 1 : 0), pd->cj.skipped ? " (skipped: done meanwhile)" : "");
	if (st->opt->on_doc) {
		memset(&rep, 0, sizeof(rep));
		rep.doc_id = d->id;
		rep.pages = d->npages;
		rep.skipped = pd->cj.skipped;
		rep.ms = apf_now_ms() - d->started_ms;
		if (pd->spool_errno) {
			rep.error = pd->spool_msg;
			rep.failed = 1;
		} else if (!pd->cj.skipped) {
			rep.stored = d->stored - d->kept;
			rep.text = d->by_engine[PE_TEXT] - d->kept_by_engine[PE_TEXT];
			rep.tesseract = d->by_engine[PE_TESSERACT] - d->kept_by_engine[PE_TESSERACT];
			rep.deepseek = d->by_engine[PE_DEEPSEEK] - d->kept_by_engine[PE_DEEPSEEK];
			rep.failed = d->failed_pages + d->kept + (d->doc_error ? 1 : 0);
			rep.kept = d->kept;
			rep.error = d->doc_error;
		}
		snapshot(st, &p);
		pthread_mutex_lock(&st->cb_lock);
		st->opt->on_doc(&rep, &p, st->opt->cb_arg);
		pthread_mutex_unlock(&st->cb_lock);
	}
	maybe_progress(st, 0);
}

/*
 * Commits the documents batch[0..n) (taken off the queue together): each
 * document's rows go in whole or not at all, and several documents share
 * a transaction when several are waiting, as uploads do (a transaction
 * costs a few milliseconds whatever it holds, a page row microseconds).
 * A killed run loses the documents not yet committed, as before; a batch
 * whose statements fail is committed again one document at a time, so one
 * bad document sinks nobody else.  The run's last document also ends the
 * run, in the same transaction.
 */
static void commit_batch(struct stage *st, struct doc **batch, size_t n)
{
	struct pending *p = apf_xcalloc(n, sizeof(*p));
	struct ocrdb_commit **cs = apf_xcalloc(n, sizeof(*cs));
	struct apf_err err;
	size_t k = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		if (!commit_prepare(st, batch[i], &p[k]))
			cs[k] = &p[k].cj, k++;
	if (k) {
		pthread_mutex_lock(&st->lock);
		if (!st->stopping && st->next_pick >= st->npicks && st->inflight == (int)n && !st->cq_head)
			p[k - 1].cj.end_status = "done";
		pthread_mutex_unlock(&st->lock);
	}
	apf_err_clear(&err);
	if (k > 1 && ocrdb_commit_docs(st->writer, cs, k, &err)) {
		apf_log_debug("ocr: a commit of %zu documents failed (%s); committing them one by one", k, err.msg);
		for (size_t i = 0; !rc && i < k; i++) {
			apf_err_clear(&err);
			rc = ocrdb_commit_doc(st->writer, cs[i], &err);
			if (rc)
				apf_error_prefix(&err, "cannot commit the pages of '%s'", cs[i]->doc_id);
			else
				commit_done(st, &p[i]);
		}
	} else if (k == 1 && (rc = ocrdb_commit_doc(st->writer, cs[0], &err))) {
		apf_error_prefix(&err, "cannot commit the pages of '%s'", cs[0]->doc_id);
	} else {
		for (size_t i = 0; i < k; i++)
			commit_done(st, &p[i]);
	}
	if (rc)
		set_fatal(st, &err);
	free(cs);
	free(p);
}

static void *committer_main(void *arg)
{
	struct stage *st = arg;
	struct doc *batch[COMMIT_BATCH];

	for (;;) {
		size_t n = 0;

		/* Documents read before the run's row exists wait for it
		 * (or for the verdict that there will be none). */
		pthread_mutex_lock(&st->lock);
		while (!st->committer_stop && !(st->cq_head && (st->started || st->stopping)) &&
		       !(st->warm && !st->stopping))
			pthread_cond_wait(&st->commit_cond, &st->lock);
		if (!st->cq_head && st->warm && !st->stopping) {
			st->warm = 0;
			pthread_mutex_unlock(&st->lock);
			ocrdb_warm(st->writer);
			pthread_mutex_lock(&st->lock);
			st->db_us = now_us();
			pthread_mutex_unlock(&st->lock);
			continue;
		}
		while (st->cq_head && n < COMMIT_BATCH) {
			batch[n++] = st->cq_head;
			st->cq_head = st->cq_head->next_commit;
		}
		if (!st->cq_head)
			st->cq_tail = NULL;
		pthread_mutex_unlock(&st->lock);
		if (!n)
			break;
		commit_batch(st, batch, n);
		for (size_t i = 0; i < n; i++)
			ocrs_doc_release(st, batch[i]);
	}
	return NULL;
}

/* ---- planning ---- */

#define NO_PICK SIZE_MAX

/*
 * A speculative start: when the caller names the documents, workers need
 * not wait for the warehouse to open and plan (some 40 ms, as long as
 * reading a hundred pages) to know what to read.  The picks are the
 * doc_ids (once each, in the caller's order, without those of other
 * shards); the plan then confirms or drops each.  Not for deepseek, whose
 * pages cost a server's time; Tesseract pages wait for the run's row in
 * any case (ocrs_wait_started()).
 */
static void speculate(struct stage *st, size_t *pick_of)
{
	const struct apf_ocrstage_options *opt = st->opt;

	st->picks = apf_xcalloc(opt->ndoc_ids, sizeof(*st->picks));
	for (size_t i = 0; i < opt->ndoc_ids; i++) {
		const char *id = opt->doc_ids[i];
		size_t j;

		pick_of[i] = NO_PICK;
		if (opt->shard_n > 0 &&
		    apf_ocrstage_shard_hash(id) % (uint64_t)opt->shard_n != (uint64_t)opt->shard_k)
			continue;
		for (j = 0; j < i && strcmp(opt->doc_ids[j], id); j++)
			;
		if (j < i) {
			pick_of[i] = pick_of[j];
			continue;
		}
		pick_of[i] = st->npicks;
		apf_strlcpy(st->picks[st->npicks++].id, id, sizeof(st->picks[0].id));
	}
	st->nselected = st->npicks;
	st->speculative = 1;
	st->picks_known = 1;
}

struct plan_walk {
	struct stage *st;
	char *found;         /* per opt->doc_ids: seen in documents */
	const size_t *pick_of; /* speculative: per opt->doc_ids, its pick or NO_PICK */
	struct pick *picks;  /* the plan's picks; speculative: st->picks' verdicts */
	size_t npicks, cap;
	uint64_t already_done, pages_planned;
};

static int plan_doc(const struct ocrdb_doc *doc, void *arg)
{
	struct plan_walk *pw = arg;
	struct stage *st = pw->st;
	const struct apf_ocrstage_options *opt = st->opt;
	struct pick *pk;
	size_t i = 0;

	if (strlen(doc->doc_id) > APF_DOC_ID_LEN)
		return 0;
	if (opt->ndoc_ids) {
		for (i = 0; i < opt->ndoc_ids && strcmp(opt->doc_ids[i], doc->doc_id); i++)
			;
		if (i == opt->ndoc_ids)
			return 0;
		pw->found[i] = 1;
	}
	if (opt->shard_n > 0 &&
	    apf_ocrstage_shard_hash(doc->doc_id) % (uint64_t)opt->shard_n != (uint64_t)opt->shard_k)
		return 0;
	if (!opt->force && !doc->fresh && !doc->partial && !(opt->retry_failed && doc->last_failed)) {
		pw->already_done++;
		return 0;
	}
	if (pw->pick_of) {
		pk = &pw->picks[pw->pick_of[i]];
		pk->dropped = 0;
	} else {
		if (pw->npicks == pw->cap) {
			pw->cap = pw->cap ? pw->cap * 2 : 64;
			pw->picks = apf_xrealloc(pw->picks, pw->cap * sizeof(*pw->picks));
		}
		pk = &pw->picks[pw->npicks++];
		memset(pk, 0, sizeof(*pk));
		apf_strlcpy(pk->id, doc->doc_id, sizeof(pk->id));
	}
	pk->fresh = doc->fresh;
	pk->partial = doc->partial && !opt->force && !(opt->retry_failed && doc->last_failed);
	pk->pages = doc->pages;
	pw->pages_planned += doc->pages > 0 ? (uint64_t)doc->pages : 0;
	return 0;
}

/*
 * Reads the plan and publishes it: the picks (or, speculative, which of
 * them stay), and planned.  On an error nothing is published.
 */
static int plan(struct stage *st, const size_t *pick_of, struct apf_err *err)
{
	const struct apf_ocrstage_options *opt = st->opt;
	struct plan_walk pw;
	size_t selected = 0;
	int rc;

	memset(&pw, 0, sizeof(pw));
	pw.st = st;
	pw.found = apf_xcalloc(opt->ndoc_ids + 1, 1);
	if (st->speculative) {
		pw.pick_of = pick_of;
		pw.picks = apf_xcalloc(st->npicks + 1, sizeof(*pw.picks));
		for (size_t i = 0; i < st->npicks; i++)
			pw.picks[i].dropped = 1;
		pw.npicks = st->npicks;
	}
	rc = ocrdb_plan(st->writer, opt->force, plan_doc, &pw, err);
	for (size_t i = 0; !rc && i < opt->ndoc_ids; i++)
		if (!pw.found[i])
			rc = apf_error(err, APF_ENOTFOUND, "no document '%s' in md_raw_ocr.main.documents",
				       opt->doc_ids[i]);
	free(pw.found);
	/* Partial documents: which of their pages are done. */
	for (size_t i = 0; !rc && i < pw.npicks; i++)
		if (!pw.picks[i].dropped && pw.picks[i].partial)
			rc = ocrdb_done_pages(st->writer, st->speculative ? st->picks[i].id : pw.picks[i].id,
					      &pw.picks[i].done, &pw.picks[i].ndone, err);
	if (rc) {
		for (size_t i = 0; i < pw.npicks; i++)
			free(pw.picks[i].done);
		free(pw.picks);
		return rc;
	}

	for (size_t i = 0; i < pw.npicks; i++)
		selected += !pw.picks[i].dropped;
	pthread_mutex_lock(&st->lock);
	if (st->speculative) {
		for (size_t i = 0; i < st->npicks; i++) {
			st->picks[i].fresh = pw.picks[i].fresh;
			st->picks[i].pages = pw.picks[i].pages;
			st->picks[i].dropped = pw.picks[i].dropped;
			st->picks[i].partial = pw.picks[i].partial;
			st->picks[i].done = pw.picks[i].done;
			st->picks[i].ndone = pw.picks[i].ndone;
		}
		free(pw.picks);
	} else {
		st->picks = pw.picks;
		st->npicks = pw.npicks;
		st->picks_known = 1;
	}
	st->nselected = selected;
	st->pages_planned = pw.pages_planned;
	st->planned = 1;
	if (!selected) {
		/* Nothing to do: no run, and not a word about what was
		 * read ahead (set_norun(), in the same breath). */
		st->norun = 1;
		st->stopping = 1;
	}
	st->res->already_done = pw.already_done;
	st->res->selected = selected;
	pthread_cond_broadcast(&st->work_cond);
	pthread_cond_broadcast(&st->commit_cond);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

/* ---- the run row ---- */

static char *params_json(struct stage *st)
{
	const struct apf_ocrstage_options *opt = st->opt;
	json_t *o = json_object();
	char host[256] = "", *s;

	json_object_set_new(o, "engine", json_string(apf_ocrstage_engine_name(st->engine)));
	json_object_set_new(o, "jobs", json_integer(st->jobs));
	if (st->engine != APF_OCRSTAGE_TEXT)
		json_object_set_new(o, "dpi", json_integer(st->dpi));
	if (st->engine == APF_OCRSTAGE_AUTO || st->engine == APF_OCRSTAGE_TESSERACT)
		json_object_set_new(o, "lang", json_string(st->lang));
	json_object_set_new(o, "force", json_boolean(opt->force));
	json_object_set_new(o, "retry_failed", json_boolean(opt->retry_failed));
	if (opt->shard_n > 0) {
		char shard[48];
		snprintf(shard, sizeof(shard), "%d/%d", opt->shard_k, opt->shard_n);
		json_object_set_new(o, "shard", json_string(shard));
	}
	if (opt->ndoc_ids) {
		json_t *a = json_array();
		for (size_t i = 0; i < opt->ndoc_ids && i < 100; i++)
			json_array_append_new(a, json_string(opt->doc_ids[i]));
		json_object_set_new(o, "doc_ids", a);
	}
	json_object_set_new(o, "selected", json_integer((json_int_t)st->nselected));
	json_object_set_new(o, "mupdf", json_string(apf_pdf_library_version()));
	if (st->engine == APF_OCRSTAGE_AUTO || st->engine == APF_OCRSTAGE_TESSERACT)
		json_object_set_new(o, "tesseract", json_string(apf_ocr_library_version()));
	if (st->ds) {
		json_t *d = json_object();
		json_object_set_new(d, "api", json_string(apf_deepseek_api_name(opt->deepseek.api)));
		json_object_set_new(d, "endpoint", json_string(apf_deepseek_endpoint(st->ds)));
		json_object_set_new(d, "model", json_string(apf_deepseek_model(st->ds)));
		json_object_set_new(d, "prompt", json_string(opt->deepseek.prompt ? opt->deepseek.prompt
										  : APF_DEEPSEEK_PROMPT));
		json_object_set_new(d, "max_tokens", json_integer(opt->deepseek.max_tokens > 0
									  ? opt->deepseek.max_tokens
									  : APF_DEEPSEEK_MAX_TOKENS));
		json_object_set_new(d, "concurrency", json_integer(st->concurrency));
		json_object_set_new(o, "deepseek", d);
	}
	if (!gethostname(host, sizeof(host) - 1) && host[0])
		json_object_set_new(o, "host", json_string(host));
	/* With the host, how the next run tells a run that died. */
	json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
	json_object_set_new(o, "apflow", json_string(APFLOW_VERSION));
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s ? s : apf_xstrdup("{}");
}

/* ---- the run ---- */

static size_t store_share(int jobs)
{
	size_t share = APF_OCRSTAGE_PDF_STORE / (size_t)jobs;
	return share < ((size_t)16 << 20) ? (size_t)16 << 20 : share;
}

static int online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

/* A whole number setting in lo..hi into *out. */
static int config_int(const struct apf_config *cfg, enum apf_config_key key, const char *name, int64_t lo,
		      int64_t hi, int64_t *out, struct apf_err *err)
{
	const char *s = apf_config_get(cfg, key);

	if (!s || apf_parse_i64(s, out) || *out < lo || *out > hi)
		return apf_error(err, APF_ECONFIG, "bad %s '%s': %lld to %lld", name, s ? s : "",
				 (long long)lo, (long long)hi);
	return 0;
}

static int setup(struct stage *st, struct apf_err *err)
{
	const struct apf_ocrstage_options *opt = st->opt;
	const char *data_dir = apf_config_get(st->cfg, APF_CFG_DATA_DIR);
	int64_t v;
	int rc;

	st->engine = opt->engine;
	if ((unsigned)st->engine > APF_OCRSTAGE_DEEPSEEK)
		return apf_error(err, APF_EUSAGE, "unknown OCR engine %d", (int)st->engine);
	st->jobs = opt->jobs > 0 ? opt->jobs : online_cpus();
	if (st->jobs > MAX_JOBS)
		return apf_error(err, APF_EUSAGE, "-j %d: at most %d workers", st->jobs, MAX_JOBS);
	st->concurrency = opt->concurrency > 0 ? opt->concurrency : APF_OCRSTAGE_CONCURRENCY;
	if (st->concurrency > MAX_CONCURRENCY)
		return apf_error(err, APF_EUSAGE, "--concurrency %d: at most %d", st->concurrency,
				 MAX_CONCURRENCY);
	st->dpi = opt->dpi > 0 ? opt->dpi
			       : st->engine == APF_OCRSTAGE_DEEPSEEK ? APF_DEEPSEEK_DPI : APF_OCRSTAGE_DPI;
	if (st->dpi < APF_PDF_MIN_DPI || st->dpi > APF_PDF_MAX_DPI)
		return apf_error(err, APF_EUSAGE, "--dpi %d: %d to %d only", st->dpi, APF_PDF_MIN_DPI,
				 APF_PDF_MAX_DPI);
	if (opt->shard_n < 0 || (opt->shard_n > 0 && (opt->shard_k < 0 || opt->shard_k >= opt->shard_n)))
		return apf_error(err, APF_EUSAGE, "bad shard %d/%d", opt->shard_k, opt->shard_n);
	for (size_t i = 0; i < opt->ndoc_ids; i++)
		if (!apf_ingest_doc_id_valid(opt->doc_ids[i]))
			return apf_error(err, APF_EUSAGE, "bad doc_id '%s': 20 lowercase hex digits expected",
					 opt->doc_ids[i]);
	st->lang = opt->lang && *opt->lang ? opt->lang : "eng";
	if (!data_dir || !*data_dir)
		return apf_error(err, APF_ECONFIG, "data_dir is not set");
	/* DuckDB's read_json() takes its path as a glob pattern. */
	if (strpbrk(data_dir, "*?[]{}"))
		return apf_error(err, APF_ECONFIG,
				 "data_dir '%s' has glob characters (*?[]{}), which the warehouse would expand "
				 "in the page spool's path",
				 data_dir);
	rc = config_int(st->cfg, APF_CFG_OCR_PAGE_MAX_OPS, "ocr_page_max_ops", 1000, INT64_C(1) << 40,
			&st->page_max_ops, err);
	if (!rc)
		rc = config_int(st->cfg, APF_CFG_OCR_PAGE_SECONDS, "ocr_page_seconds", 1, 86400, &v, err);
	if (!rc) {
		st->page_max_ms = (int)v * 1000;
		rc = config_int(st->cfg, APF_CFG_OCR_COMMIT_PAGES, "ocr_commit_pages", 1, 1000000, &v, err);
	}
	if (rc)
		return rc;
	st->commit_pages = (int)v;
	st->tmpdir = apf_xasprintf("%s/tmp", data_dir);
	rc = apf_mkdirs(st->tmpdir, 0700, err);
	if (rc)
		return rc;
	apf_remove_stale_temps(st->tmpdir, TMP_PREFIX);
	ocrs_sweep_parquet_dirs(st->tmpdir);

	st->model_text = apf_xasprintf("mupdf %s", apf_pdf_library_version());
	if (st->engine == APF_OCRSTAGE_DEEPSEEK) {
		rc = apf_deepseek_new(&opt->deepseek, &st->ds, err);
		if (rc)
			return rc;
		apf_deepseek_set_cancel(st->ds, opt->cancel);
	}
	return 0;
}

static char *run_model(struct stage *st)
{
	switch (st->engine) {
	case APF_OCRSTAGE_TEXT:
		return apf_xstrdup(st->model_text);
	case APF_OCRSTAGE_TESSERACT:
		return apf_xstrdup(st->model_tesseract);
	case APF_OCRSTAGE_DEEPSEEK:
		return apf_xstrdup(apf_deepseek_model(st->ds));
	default:
		return apf_xasprintf("%s + %s", st->model_text, st->model_tesseract);
	}
}

static void *load_tesseract(void *arg)
{
	(void)arg;
	apf_ocr_library_version();
	return NULL;
}

int apf_ocrstage_run(const struct apf_config *cfg, struct apf_store *store, struct apf_dbwriter *writer,
		     const struct apf_ocrstage_options *opt, struct apf_ocrstage_result *res,
		     struct apf_err *err)
{
	struct stage st;
	struct worker *workers = NULL;
	pthread_t *senders = NULL, committer, tess_loader;
	int nworkers = 0, nsenders = 0, committer_started = 0, tess_loader_started = 0, rc;
	char *model = NULL, *params = NULL;
	size_t *pick_of = NULL;

	memset(res, 0, sizeof(*res));
	memset(&st, 0, sizeof(st));
	st.cfg = cfg;
	st.store = store;
	st.writer = writer;
	st.opt = opt;
	st.res = res;
	st.t0 = apf_now_ms();
	st.linger_us = apf_dbwriter_linger(writer) * 1000;
	pthread_mutex_init(&st.lock, NULL);
	pthread_mutex_init(&st.cb_lock, NULL);
	pthread_cond_init(&st.work_cond, NULL);
	pthread_cond_init(&st.commit_cond, NULL);
	pthread_cond_init(&st.dq_cond, NULL);

	rc = setup(&st, err);
	if (rc)
		goto out;

	workers = apf_xcalloc((size_t)st.jobs, sizeof(*workers));
	for (int i = 0; i < st.jobs; i++) {
		struct worker *w = &workers[i];
		w->st = &st;
		w->index = i;
		apf_buf_init(&w->text, APF_OCRSTAGE_PAGE_TEXT_MAX);
		apf_buf_init(&w->png, 0);
		/* A context of its own per worker (pdf.h); the store's
		 * budget is split between them. */
		rc = apf_pdf_ctx_new_single(store_share(st.jobs), &w->ctx, err);
		if (rc)
			goto out;
		apf_pdf_ctx_set_limits(w->ctx, &(struct apf_pdf_limits){ st.page_max_ops, st.page_max_ops / 5,
									   st.page_max_ms, opt->cancel });
	}
	if (opt->ndoc_ids && st.engine != APF_OCRSTAGE_DEEPSEEK) {
		pick_of = apf_xcalloc(opt->ndoc_ids, sizeof(*pick_of));
		speculate(&st, pick_of);
	}

	/* Everything runs from here on, and every way out joins the
	 * threads; nothing is written before the run's row exists. */
	st.max_inflight = st.jobs * 2 + 2;
	/*
	 * Read ahead further when pages are cheap and the PDFs are read in
	 * place: a document waiting for its commit then holds only its spool
	 * (its text, on disk), and workers that stop at jobs * 2 + 2 sit idle
	 * while the warehouse opens (15-25 ms, in which a worker reads dozens
	 * of text pages) and while a commit runs.  From an s3:// store each
	 * document waiting would hold a local copy of its PDF too.
	 */
	if (st.engine == APF_OCRSTAGE_TEXT && apf_starts_with(apf_store_url(st.store), "file:///"))
		st.max_inflight += COMMIT_BATCH / 2;
	st.dq_cap = st.concurrency;
	if (pthread_create(&committer, NULL, committer_main, &st)) {
		rc = apf_error(err, APF_EINTERNAL, "cannot start the committer thread");
		goto finish;
	}
	committer_started = 1;
	if (st.ds) {
		senders = apf_xcalloc((size_t)st.concurrency, sizeof(*senders));
		for (; nsenders < st.concurrency; nsenders++) {
			if (pthread_create(&senders[nsenders], NULL, ocrs_sender_main, &st)) {
				rc = apf_error(err, APF_EINTERNAL, "cannot start a DeepSeek sender thread");
				goto finish;
			}
		}
	}
	for (; nworkers < st.jobs; nworkers++) {
		if (pthread_create(&workers[nworkers].thread, NULL, worker_main, &workers[nworkers])) {
			rc = apf_error(err, APF_EINTERNAL, "cannot start a worker thread");
			goto finish;
		}
	}

	/* Tesseract's libraries load beside the planning (some 15 ms). */
	if ((st.engine == APF_OCRSTAGE_AUTO || st.engine == APF_OCRSTAGE_TESSERACT) &&
	    !pthread_create(&tess_loader, NULL, load_tesseract, NULL))
		tess_loader_started = 1;
	rc = plan(&st, pick_of, err);
	if (rc || !st.nselected)
		goto finish;
	/*
	 * One Tesseract up front: a missing language fails before any run
	 * is made.  Worker 0 takes it; its Tesseract pages wait for the
	 * run's row (ocrs_wait_started()), so it is not using it meanwhile.  The
	 * others load when their worker first needs one.  The auto engine
	 * may need none (born-digital documents), so when the languages'
	 * files are where Tesseract looks, it loads on the first page that
	 * needs it rather than hold the run's start (some 40 ms).  The
	 * library itself (its version names the model) was loading on a
	 * thread of its own meanwhile.
	 */
	if (tess_loader_started) {
		pthread_join(tess_loader, NULL);
		tess_loader_started = 0;
	}
	if (st.engine == APF_OCRSTAGE_AUTO || st.engine == APF_OCRSTAGE_TESSERACT) {
		st.model_tesseract = apf_xasprintf("tesseract %s %s", apf_ocr_library_version(), st.lang);
		if (st.engine == APF_OCRSTAGE_TESSERACT || !apf_ocr_lang_installed(st.lang, opt->tessdata)) {
			rc = ocrs_ensure_ocr(&workers[0], err);
			if (rc)
				goto finish;
		}
	}
	/* A failure while reading ahead of the plan (a store that fails for
	 * every document) or a cancel: no run. */
	if (ocrs_stopping(&st)) {
		if (st.fatal)
			rc = apf_error(err, st.fatal_err.code ? st.fatal_err.code : APF_EINTERNAL, "%s",
				       st.fatal_err.msg);
		goto finish;
	}

	model = run_model(&st);
	params = params_json(&st);
	rc = ocrdb_start_run(writer, apf_ocrstage_engine_name(st.engine), model, params, &st.run_id, err);
	if (rc)
		goto finish;
	res->run_id = st.run_id;
	apf_log_info("ocr run %" PRId64 ": %zu document%s, engine %s, %d worker%s", st.run_id, st.nselected,
		     st.nselected == 1 ? "" : "s", apf_ocrstage_engine_name(st.engine), st.jobs,
		     st.jobs == 1 ? "" : "s");
	pthread_mutex_lock(&st.lock);
	st.db_us = now_us();
	st.started = 1;
	pthread_cond_broadcast(&st.work_cond);
	pthread_cond_broadcast(&st.commit_cond);
	pthread_mutex_unlock(&st.lock);

finish:
	if (tess_loader_started)
		pthread_join(tess_loader, NULL);
	if (!st.started) {
		/* Nothing to do, or an error before the run: stop, drop
		 * what was read ahead. */
		set_norun(&st);
	} else if (rc) {
		struct apf_err e = *err;
		set_fatal(&st, &e);
	}
	for (int i = 0; i < nworkers; i++)
		pthread_join(workers[i].thread, NULL);
	pthread_mutex_lock(&st.lock);
	st.senders_stop = 1;
	pthread_cond_broadcast(&st.dq_cond);
	pthread_mutex_unlock(&st.lock);
	for (int i = 0; i < nsenders; i++)
		pthread_join(senders[i], NULL);
	if (committer_started) {
		pthread_mutex_lock(&st.lock);
		st.committer_stop = 1;
		pthread_cond_broadcast(&st.commit_cond);
		pthread_mutex_unlock(&st.lock);
		pthread_join(committer, NULL);
	}
	if (st.started) {
		maybe_progress(&st, 1);
		if (!st.ended) {
			struct apf_err e;
			apf_err_clear(&e);
			if (ocrdb_end_run(writer, st.run_id, st.stopping ? "failed" : "done", &e))
				apf_log_warn("ocr run %" PRId64 ": cannot record its end: %s", st.run_id, e.msg);
		}
		if (!rc && st.fatal) {
			*err = st.fatal_err;
			rc = err->code ? err->code : APF_EINTERNAL;
		}
	}
out:
	res->ms = apf_now_ms() - st.t0;
	res->read_ms = st.read_us / 1000;
	if (workers) {
		for (int i = 0; i < st.jobs; i++) {
			apf_ocr_free(workers[i].ocr);
			apf_pdf_ctx_free(workers[i].ctx);
			apf_buf_release(&workers[i].text);
			apf_buf_release(&workers[i].png);
		}
		free(workers);
	}
	free(pick_of);
	free(senders);
	apf_deepseek_free(st.ds);
	for (size_t i = 0; i < st.npicks; i++)
		free(st.picks[i].done);
	free(st.picks);
	free(st.tmpdir);
	free(st.model_text);
	free(st.model_tesseract);
	free(model);
	free(params);
	pthread_cond_destroy(&st.dq_cond);
	pthread_cond_destroy(&st.commit_cond);
	pthread_cond_destroy(&st.work_cond);
	pthread_mutex_destroy(&st.cb_lock);
	pthread_mutex_destroy(&st.lock);
	return rc;
}
