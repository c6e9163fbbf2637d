/* ocrstage_db.c: the OCR stage's warehouse statements (see ocrstage_db.h). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apflow/buf.h"
#include "apflow/db.h"
#include "apflow/log.h"
#include "apflow/util.h"
#include "core/ocrstage_db.h"

static int exec_stmt(struct apf_db_stmt *st, struct apf_db_result **res, struct apf_err *err)
{
	int rc = apf_db_stmt_exec(st, res, err);
	apf_db_stmt_free(st);
	return rc;
}

/* ---- the plan ---- */

struct plan_job {
	int force;
	struct apf_db_result *rows; /* out */
};

static int plan_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct plan_job *pj = arg;

	apf_db_result_free(pj->rows);
	pj->rows = NULL;
	/* --force takes every document whatever was done: no need to look
	 * at the pages, whose scan grows with the warehouse. */
	if (pj->force)
		return apf_db_query(db,
				    "SELECT doc_id, coalesce(pages, 0) AS pages, false AS fresh, false AS failed, false AS partial\n"
				    "FROM md_raw_ocr.main.documents ORDER BY uploaded_at, doc_id",
				    &pj->rows, err);
	/*
	 * An attempt is a run that committed rows for the document; pages
	 * and failures of one document always commit together, so its latest
	 * attempt had failures exactly when its latest failure row is of a
	 * run no older than its latest page row.  One pass over each table.
	 */
	/*
	 * A document is partial when some of its pages have rows and not
	 * all of documents.pages do, and no row says the whole document
	 * failed: a run committed chunks of it and was killed.
	 */
	return apf_db_query(db,
			    "WITH p AS (SELECT doc_id, max(ocr_run_id) AS run FROM md_raw_ocr.main.pages GROUP BY doc_id),\n"
			    "f AS (SELECT doc_id, max(ocr_run_id) AS run, bool_or(page_num IS NULL) AS whole\n"
			    "      FROM md_raw_ocr.main.ocr_failures GROUP BY doc_id),\n"
			    "n AS (SELECT doc_id, count(DISTINCT page_num) AS pages FROM (\n"
			    "      SELECT doc_id, page_num FROM md_raw_ocr.main.pages UNION ALL\n"
			    "      SELECT doc_id, page_num FROM md_raw_ocr.main.ocr_failures WHERE page_num IS NOT NULL)\n"
			    "      GROUP BY doc_id)\n"
			    "SELECT d.doc_id, coalesce(d.pages, 0) AS pages,\n"
			    "       p.run IS NULL AND f.run IS NULL AS fresh,\n"
			    "       coalesce(f.run >= coalesce(p.run, f.run), false) AS failed,\n"
			    "       (p.run IS NOT NULL OR f.run IS NOT NULL) AND NOT coalesce(f.whole, false)\n"
			    "       AND coalesce(d.pages, 0) > coalesce(n.pages, 0) AS partial\n"
			    "FROM md_raw_ocr.main.documents AS d\n"
			    "LEFT JOIN p ON p.doc_id = d.doc_id\n"
			    "LEFT JOIN f ON f.doc_id = d.doc_id\n"
			    "LEFT JOIN n ON n.doc_id = d.doc_id\n"
			    "ORDER BY d.uploaded_at, d.doc_id",
			    &pj->rows, err);
}

int ocrdb_plan(struct apf_dbwriter *w, int force, int (*fn)(const struct ocrdb_doc *doc, void *arg), void *arg,
	       struct apf_err *err)
{
	struct plan_job pj = { force, NULL };
	uint64_t n;
	int rc;

	rc = apf_dbwriter_run(w, plan_fn, &pj, err);
	if (rc) {
		apf_db_result_free(pj.rows);
		if (rc == APF_ESQL)
			apf_error_prefix(err, "cannot read the documents (has 'apflow init' run?)");
		return rc;
	}
	n = apf_db_result_rows(pj.rows);
	for (uint64_t r = 0; !rc && r < n; r++) {
		char *id = apf_db_result_text(pj.rows, 0, r);
		struct ocrdb_doc d = {
			id,
			apf_db_result_i64(pj.rows, 1, r),
			(int)apf_db_result_i64(pj.rows, 2, r),
			(int)apf_db_result_i64(pj.rows, 3, r),
			(int)apf_db_result_i64(pj.rows, 4, r),
		};
		if (id)
			rc = fn(&d, arg);
		free(id);
	}
	apf_db_result_free(pj.rows);
	return rc;
}

/* ---- pages already done ---- */

struct done_job {
	const char *doc_id;
	struct apf_db_result *rows; /* out */
};

static int done_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct done_job *dj = arg;
	struct apf_db_stmt *s = NULL;
	int rc;

	apf_db_result_free(dj->rows);
	dj->rows = NULL;
	rc = apf_db_prepare(db,
			    "SELECT DISTINCT page_num FROM (SELECT page_num FROM md_raw_ocr.main.pages WHERE doc_id = $1 "
			    "UNION ALL SELECT page_num FROM md_raw_ocr.main.ocr_failures WHERE doc_id = $1 AND "
			    "page_num IS NOT NULL) ORDER BY 1",
			    &s, err);
	if (rc)
		return rc;
	apf_db_bind_text(s, 1, dj->doc_id);
	return exec_stmt(s, &dj->rows, err);
}

int ocrdb_done_pages(struct apf_dbwriter *w, const char *doc_id, int **nums, size_t *n, struct apf_err *err)
{
	struct done_job dj = { doc_id, NULL };
	uint64_t rows;
	int rc;

	*nums = NULL;
	*n = 0;
	rc = apf_dbwriter_run(w, done_fn, &dj, err);
	if (!rc) {
		rows = apf_db_result_rows(dj.rows);
		*nums = apf_xcalloc(rows + 1, sizeof(**nums));
		for (uint64_t r = 0; r < rows; r++)
			(*nums)[(*n)++] = (int)apf_db_result_i64(dj.rows, 0, r);
	}
	apf_db_result_free(dj.rows);
	return rc;
}

/* ---- the run's row ---- */

struct run_job {
	const char *engine, *model, *params, *host;
	int64_t run_id; /* out */
	int64_t killed; /* out: runs found dead */
};

/*
 * Runs left 'running' by a process of this host that is gone (kill -9, a
 * crash, the machine rebooted) become 'killed', finished now: their rows
 * stay, the documents they did not commit are still to do.  A run tells
 * its host and pid in params; one of another host, or from before the pid
 * was recorded, is left alone (it may be working).
 */
static int mark_dead_runs(struct apf_db *db, const char *host, int64_t *killed, struct apf_err *err)
{
	struct apf_db_stmt *s = NULL;
	struct apf_db_result *r = NULL;
	int rc;

	*killed = 0;
	if (!host || !*host)
		return 0;
	rc = apf_db_prepare(db,
			    "SELECT ocr_run_id, TRY_CAST(json_extract_string(params, '$.pid') AS BIGINT) "
			    "FROM md_raw_ocr.main.ocr_runs WHERE status = 'running' AND "
			    "json_extract_string(params, '$.host') = $1",
			    &s, err);
	if (rc)
		return rc;
	apf_db_bind_text(s, 1, host);
	rc = exec_stmt(s, &r, err);
	for (uint64_t row = 0; !rc && row < apf_db_result_rows(r); row++) {
		int64_t id = apf_db_result_i64(r, 0, row), pid = apf_db_result_i64(r, 1, row);

		if (pid <= 0 || pid > INT32_MAX || pid == (int64_t)getpid() || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		rc = apf_db_prepare(db,
				    "UPDATE md_raw_ocr.main.ocr_runs SET status = 'killed', "
				    "finished_at = current_timestamp WHERE ocr_run_id = $1 AND status = 'running'",
				    &s, err);
		if (rc)
			break;
		apf_db_bind_i64(s, 1, id);
		rc = exec_stmt(s, NULL, err);
		if (!rc)
			(*killed)++;
	}
	apf_db_result_free(r);
	return rc;
}

static int start_run_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct run_job *rj = arg;
	struct apf_db_stmt *s = NULL;
	struct apf_db_result *r = NULL;
	int rc;

	rj->run_id = 0;
	rc = mark_dead_runs(db, rj->host, &rj->killed, err);
	if (rc)
		return rc;
	rc = apf_db_prepare(db,
			    "INSERT INTO md_raw_ocr.main.ocr_runs (engine, model, params) VALUES ($1, $2, $3) "
			    "RETURNING ocr_run_id",
			    &s, err);
	if (rc)
		return rc;
	apf_db_bind_text(s, 1, rj->engine);
	apf_db_bind_text(s, 2, rj->model);
	apf_db_bind_text(s, 3, rj->params);
	rc = exec_stmt(s, &r, err);
	if (!rc && apf_db_result_rows(r) == 1)
		rj->run_id = apf_db_result_i64(r, 0, 0);
	else if (!rc)
		rc = apf_error(err, APF_EINTERNAL, "the new ocr_runs row has no id");
	apf_db_result_free(r);
	return rc;
}

int ocrdb_start_run(struct apf_dbwriter *w, const char *engine, const char *model, const char *params,
		    int64_t *run_id, struct apf_err *err)
{
	char host[256] = "";
	struct run_job rj = { engine, model, params, host, 0, 0 };
	int rc;

	if (gethostname(host, sizeof(host) - 1))
		host[0] = '\0';
	rc = apf_dbwriter_run(w, start_run_fn, &rj, err);
	if (rc)
		return apf_error_prefix(err, "cannot start an OCR run");
	if (rj.killed)
		apf_log_info("ocr: %lld earlier run%s of this machine ended without finishing: marked 'killed'",
			     (long long)rj.killed, rj.killed == 1 ? "" : "s");
	*run_id = rj.run_id;
	return 0;
}

struct end_job {
	int64_t run_id;
	const char *status;
};

static int end_run_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct end_job *ej = arg;
	struct apf_db_stmt *s = NULL;
	int rc;

	rc = apf_db_prepare(db,
			    "UPDATE md_raw_ocr.main.ocr_runs SET finished_at = current_timestamp, status = $1 "
			    "WHERE ocr_run_id = $2",
			    &s, err);
	if (rc)
		return rc;
	apf_db_bind_text(s, 1, ej->status);
	apf_db_bind_i64(s, 2, ej->run_id);
	return exec_stmt(s, NULL, err);
}

int ocrdb_end_run(struct apf_dbwriter *w, int64_t run_id, const char *status, struct apf_err *err)
{
	struct end_job ej = { run_id, status };

	return apf_dbwriter_run(w, end_run_fn, &ej, err);
}

/* ---- opening ahead of a commit ---- */

static int warm_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	(void)db, (void)arg, (void)err;
	return 0;
}

void ocrdb_warm(struct apf_dbwriter *w)
{
	struct apf_err err;

	apf_err_clear(&err);
	/* An error here is the commit's to report, if it has it too. */
	if (apf_dbwriter_run(w, warm_fn, NULL, &err))
		apf_log_debug("ocr: cannot open the warehouse ahead of a commit: %s", err.msg);
}

/* ---- documents' rows ---- */

struct commit_many {
	struct ocrdb_commit *const *cs;
	size_t n;
};

static void add_literal(struct apf_buf *b, const char *s)
{
	char *q = apf_db_quote_literal(s);

	apf_buf_adds(b, q);
	free(q);
}

/* Appends "'a', 'b' ..." : the doc_ids (or the spool paths) of the
 * documents that pass keep, quoted. */
static void add_quoted(struct apf_buf *b, const struct commit_many *m, int (*keep)(const struct ocrdb_commit *),
		       int spool_paths)
{
	size_t k = 0;

	for (size_t i = 0; i < m->n; i++)
		if (keep(m->cs[i])) {
			apf_buf_adds(b, k++ ? ", " : "");
			add_literal(b, spool_paths ? m->cs[i]->spool_path : m->cs[i]->doc_id);
		}
}

static int wants_check(const struct ocrdb_commit *c)
{
	return c->check_others;
}

static int reads_spool(const struct ocrdb_commit *c)
{
	return !c->skipped && !c->spool_error && (c->pages || c->failures);
}

/*
 * The spools of the documents that have one to read, as one table with
 * each row's doc_id: read_json() over the list of files, joined on the
 * file name to a VALUES list of (file, doc_id).
 */
static void add_spools(struct apf_buf *b, const struct commit_many *m)
{
	size_t k = 0;

	apf_buf_adds(b, "read_json([");
	add_quoted(b, m, reads_spool, 1);
	apf_buf_adds(b, "], format = 'newline_delimited', filename = true, "
			"columns = {k: 'VARCHAR', page_num: 'INTEGER', engine: 'VARCHAR', model: 'VARCHAR', "
			"text: 'VARCHAR', text_sha256: 'VARCHAR', chars: 'INTEGER', confidence: 'DOUBLE', "
			"error: 'VARCHAR'}) AS s JOIN (VALUES ");
	for (size_t i = 0; i < m->n; i++)
		if (reads_spool(m->cs[i])) {
			apf_buf_adds(b, k++ ? ", (" : "(");
			add_literal(b, m->cs[i]->spool_path);
			apf_buf_adds(b, ", ");
			add_literal(b, m->cs[i]->doc_id);
			apf_buf_adds(b, ")");
		}
	apf_buf_adds(b, ") AS d(f, doc_id) ON s.filename = d.f");
}

/* Runs "head <the spools> mid WHERE s.k = 'k' tail" with run_id bound
 * as $1, checking that it inserted want rows. */
static int insert_many(struct apf_db *db, const struct commit_many *m, const char *head, const char *mid, char k,
		       const char *tail, int64_t want, const char *what, struct apf_err *err)
{
	struct apf_buf sql = APF_BUF_INIT;
	struct apf_db_stmt *s = NULL;
	struct apf_db_result *r = NULL;
	uint64_t changes;
	int rc;

	apf_buf_init(&sql, 0);
	apf_buf_adds(&sql, head);
	add_spools(&sql, m);
	apf_buf_addf(&sql, "%s WHERE s.k = '%c'%s", mid, k, tail);
	rc = sql.data ? apf_db_prepare(db, sql.data, &s, err) : apf_error(err, APF_ENOMEM, "statement too large");
	apf_buf_release(&sql);
	if (rc)
		return rc;
	apf_db_bind_i64(s, 1, m->cs[0]->run_id);
	rc = exec_stmt(s, &r, err);
	if (rc)
		return rc;
	changes = apf_db_result_changes(r);
	apf_db_result_free(r);
	if ((int64_t)changes != want)
		return apf_error(err, APF_EINTERNAL, "the spools gave %" PRIu64 " %s rows, not %" PRId64, changes,
				 what, want);
	return 0;
}

/*
 * Empty pages that would hide text: a page's latest row (what
 * vw_argilla_pages shows) has text from another engine, and this run's
 * engine found none (`ocr --force --engine text` over pages Tesseract
 * read).  Such a page gets no pages row, so the view keeps the text, and
 * an ocr_failures row says so.
 */
#define KEPT_JOIN " JOIN md_raw_ocr.main.vw_argilla_pages AS v ON v.doc_id = d.doc_id AND v.page_num = s.page_num"
#define KEPT_WHERE " AND s.chars = 0 AND v.chars > 0 AND v.engine <> s.engine"
#define NOT_KEPT                                                                                           \
	" AND NOT (s.chars = 0 AND EXISTS (SELECT 1 FROM md_raw_ocr.main.vw_argilla_pages AS v WHERE v.doc_id = " \
	"d.doc_id AND v.page_num = s.page_num AND v.chars > 0 AND v.engine <> s.engine))"

/* Counts the kept pages per document and engine into cs[]->kept; sets
 * *total. */
static int count_kept(struct apf_db *db, const struct commit_many *m, int64_t *total, struct apf_err *err)
{
	static const char *const engines[] = { "text", "tesseract", "deepseek" };
	struct apf_buf sql = APF_BUF_INIT;
	struct apf_db_result *r = NULL;
	int rc;

	*total = 0;
	apf_buf_init(&sql, 0);
	apf_buf_adds(&sql, "SELECT d.doc_id, s.engine, count(*) FROM ");
	add_spools(&sql, m);
	apf_buf_adds(&sql, KEPT_JOIN " WHERE s.k = 'p'" KEPT_WHERE " GROUP BY ALL");
	rc = sql.data ? apf_db_query(db, sql.data, &r, err) : apf_error(err, APF_ENOMEM, "statement too large");
	apf_buf_release(&sql);
	if (rc)
		return rc;
	for (uint64_t row = 0; row < apf_db_result_rows(r); row++) {
		char *id = apf_db_result_text(r, 0, row), *engine = apf_db_result_text(r, 1, row);
		int64_t k = apf_db_result_i64(r, 2, row);

		for (size_t i = 0; id && engine && i < m->n; i++) {
			if (strcmp(id, m->cs[i]->doc_id))
				continue;
			for (int e = 0; e < 3; e++)
				if (!strcmp(engine, engines[e]))
					m->cs[i]->kept[e] += k;
		}
		*total += k;
		free(id);
		free(engine);
	}
	apf_db_result_free(r);
	return 0;
}

static int commit_many_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct commit_many *m = arg;
	struct apf_buf sql = APF_BUF_INIT;
	struct apf_db_stmt *s = NULL;
	struct apf_db_result *r = NULL;
	int64_t run_id = m->cs[0]->run_id, docs = 0, pages = 0, failures = 0, spool_pages = 0, spool_failures = 0;
	int64_t kept = 0;
	const char *end_status = NULL;
	int rc = 0, check = 0, keep = 0;

	apf_buf_init(&sql, 0);
	for (size_t i = 0; i < m->n; i++) {
		m->cs[i]->skipped = 0;
		memset(m->cs[i]->kept, 0, sizeof(m->cs[i]->kept));
		check |= m->cs[i]->check_others;
		if (m->cs[i]->end_status)
			end_status = m->cs[i]->end_status;
	}
	/* 1. Documents another run committed meanwhile are skipped. */
	if (check) {
		/* This run's own rows (a chunk of the document) do not count. */
		apf_buf_addf(&sql, "SELECT DISTINCT doc_id FROM (SELECT doc_id FROM md_raw_ocr.main.pages WHERE "
				   "ocr_run_id <> %" PRId64 " AND doc_id IN (", run_id);
		add_quoted(&sql, m, wants_check, 0);
		apf_buf_addf(&sql, ") UNION ALL SELECT doc_id FROM md_raw_ocr.main.ocr_failures WHERE ocr_run_id <> %"
				   PRId64 " AND doc_id IN (", run_id);
		add_quoted(&sql, m, wants_check, 0);
		apf_buf_adds(&sql, "))");
		rc = sql.data ? apf_db_query(db, sql.data, &r, err) : apf_error(err, APF_ENOMEM, "statement too large");
		if (rc)
			goto out;
		for (uint64_t row = 0; row < apf_db_result_rows(r); row++) {
			char *id = apf_db_result_text(r, 0, row);
			for (size_t i = 0; id && i < m->n; i++)
				if (m->cs[i]->check_others && !strcmp(id, m->cs[i]->doc_id))
					m->cs[i]->skipped = 1;
			free(id);
		}
		apf_db_result_free(r);
		r = NULL;
	}
	/* 2. A document whose spool is incomplete gets one failure row. */
	for (size_t i = 0; i < m->n; i++) {
		struct ocrdb_commit *c = m->cs[i];
		if (c->skipped)
			continue;
		docs += !c->partial;
		if (!c->spool_error) {
			keep |= c->may_keep && c->pages;
			pages += c->pages;
			failures += c->failures;
			spool_pages += c->pages;
			spool_failures += c->failures;
			continue;
		}
		failures++;
		rc = apf_db_prepare(db,
				    "INSERT INTO md_raw_ocr.main.ocr_failures (doc_id, page_num, ocr_run_id, engine, error) "
				    "VALUES ($1, NULL, $2, NULL, $3)",
				    &s, err);
		if (rc)
			goto out;
		apf_db_bind_text(s, 1, c->doc_id);
		apf_db_bind_i64(s, 2, c->run_id);
		apf_db_bind_text(s, 3, c->spool_error);
		rc = exec_stmt(s, NULL, err);
		if (rc)
			goto out;
	}
	/* 3. Every spool's page records, then its failure records. */
	if (keep && (rc = count_kept(db, m, &kept, err)))
		goto out;
	if (spool_pages - kept) {
		rc = insert_many(db, m,
				 "INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, model, text, "
				 "text_sha256, chars, confidence) SELECT d.doc_id, s.page_num, $1, s.engine, s.model, "
				 "s.text, s.text_sha256, s.chars, s.confidence FROM ",
				 "", 'p', kept ? NOT_KEPT : "", spool_pages - kept, "page", err);
		if (rc)
			goto out;
	}
	if (kept) {
		rc = insert_many(db, m,
				 "INSERT INTO md_raw_ocr.main.ocr_failures (doc_id, page_num, ocr_run_id, engine, error) "
				 "SELECT d.doc_id, s.page_num, $1, s.engine, 'page ' || s.page_num || ': the ' || "
				 "s.engine || ' engine found no text; the page keeps its text of run ' || v.ocr_run_id || "
				 "' (' || v.engine || ')' FROM ",
				 KEPT_JOIN, 'p', KEPT_WHERE, kept, "kept page", err);
		if (rc)
			goto out;
		pages -= kept;
		failures += kept;
	}
	if (spool_failures) {
		rc = insert_many(db, m,
				 "INSERT INTO md_raw_ocr.main.ocr_failures (doc_id, page_num, ocr_run_id, engine, error) "
				 "SELECT d.doc_id, s.page_num, $1, s.engine, s.error FROM ",
				 "", 'f', "", spool_failures, "failure", err);
		if (rc)
			goto out;
	}
	/* 4. The run's counts, and its end when the last document is here. */
	rc = apf_db_prepare(db,
			    "UPDATE md_raw_ocr.main.ocr_runs SET docs = docs + $1, pages = pages + $2, "
			    "failed = failed + $3, "
			    "finished_at = CASE WHEN $5 IS NULL THEN finished_at ELSE current_timestamp END, "
			    "status = coalesce($5, status) WHERE ocr_run_id = $4",
			    &s, err);
	if (rc)
		goto out;
	apf_db_bind_i64(s, 1, docs);
	apf_db_bind_i64(s, 2, pages);
	apf_db_bind_i64(s, 3, failures);
	apf_db_bind_i64(s, 4, run_id);
	apf_db_bind_text(s, 5, end_status);
	rc = exec_stmt(s, NULL, err);
out:
	apf_buf_release(&sql);
	return rc;
}

int ocrdb_commit_docs(struct apf_dbwriter *w, struct ocrdb_commit *const *cs, size_t n, struct apf_err *err)
{
	struct commit_many m = { cs, n };

	if (!n)
		return 0;
	return apf_dbwriter_run(w, commit_many_fn, &m, err);
}

int ocrdb_commit_doc(struct apf_dbwriter *w, struct ocrdb_commit *c, struct apf_err *err)
{
	return ocrdb_commit_docs(w, &c, 1, err);
}
