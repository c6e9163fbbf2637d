/* ocrstage_db.c: the OCR stage's warehouse statements (see ocrstage_db.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
				    "SELECT doc_id, coalesce(pages, 0) AS pages, false AS fresh, false AS failed\n"
				    "FROM md_raw_ocr.main.documents ORDER BY uploaded_at, doc_id",
				    &pj->rows, err);
	/*
	 * An attempt is a run that committed rows for the document; pages
	 * and failures of one document always commit together, so its latest
	 * attempt had failures exactly when its latest failure row is of a
	 * run no older than its latest page row.  One pass over each table.
	 */
	return apf_db_query(db,
			    "WITH p AS (SELECT doc_id, max(ocr_run_id) AS run FROM md_raw_ocr.main.pages GROUP BY doc_id),\n"
			    "f AS (SELECT doc_id, max(ocr_run_id) AS run FROM md_raw_ocr.main.ocr_failures GROUP BY doc_id)\n"
			    "SELECT d.doc_id, coalesce(d.pages, 0) AS pages,\n"
			    "       p.run IS NULL AND f.run IS NULL AS fresh,\n"
			    "       coalesce(f.run >= coalesce(p.run, f.run), false) AS failed\n"
			    "FROM md_raw_ocr.main.documents AS d\n"
			    "LEFT JOIN p ON p.doc_id = d.doc_id\n"
			    "LEFT JOIN f ON f.doc_id = d.doc_id\n"
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
		};
		if (id)
			rc = fn(&d, arg);
		free(id);
	}
	apf_db_result_free(pj.rows);
	return rc;
}

/* ---- the run's row ---- */

struct run_job {
	const char *engine, *model, *params;
	int64_t run_id; /* out */
};

static int start_run_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct run_job *rj = arg;
	struct apf_db_stmt *s = NULL;
	struct apf_db_result *r = NULL;
	int rc;

	rj->run_id = 0;
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
	struct run_job rj = { engine, model, params, 0 };
	int rc = apf_dbwriter_run(w, start_run_fn, &rj, err);

	if (rc)
		return apf_error_prefix(err, "cannot start an OCR run");
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

/* ---- a document's rows ---- */

/* The spool as a table, for INSERT ... SELECT. */
static char *spool_source(const char *path)
{
	char *lit = apf_db_quote_literal(path);
	char *s = apf_xasprintf(
		"read_json(%s, format = 'newline_delimited', "
		"columns = {k: 'VARCHAR', page_num: 'INTEGER', engine: 'VARCHAR', model: 'VARCHAR', "
		"text: 'VARCHAR', text_sha256: 'VARCHAR', chars: 'INTEGER', confidence: 'DOUBLE', "
		"error: 'VARCHAR'})",
		lit);
	free(lit);
	return s;
}

/* Runs INSERT ... SELECT $1, ..., $2 ... FROM spool with doc_id and run_id
 * bound; sets *changes. */
static int insert_from_spool(struct apf_db *db, const char *fmt, const char *src, const struct ocrdb_commit *c,
			     uint64_t *changes, struct apf_err *err)
{
	struct apf_db_stmt *s = NULL;
	struct apf_db_result *r = NULL;
	char *sql = apf_xasprintf(fmt, src);
	int rc = apf_db_prepare(db, sql, &s, err);

	free(sql);
	if (rc)
		return rc;
	apf_db_bind_text(s, 1, c->doc_id);
	apf_db_bind_i64(s, 2, c->run_id);
	rc = exec_stmt(s, &r, err);
	if (!rc)
		*changes = apf_db_result_changes(r);
	apf_db_result_free(r);
	return rc;
}

static int commit_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct ocrdb_commit *c = arg;
	struct apf_db_stmt *s = NULL;
	struct apf_db_result *r = NULL;
	int64_t pages = c->pages, failures = c->failures;
	uint64_t changes = 0;
	char *src = NULL;
	int rc = 0;

	c->skipped = 0;
	if (c->check_others) {
		rc = apf_db_prepare(db,
				    "SELECT (SELECT count(*) FROM md_raw_ocr.main.pages WHERE doc_id = $1) + "
				    "(SELECT count(*) FROM md_raw_ocr.main.ocr_failures WHERE doc_id = $1)",
				    &s, err);
		if (rc)
			return rc;
		apf_db_bind_text(s, 1, c->doc_id);
		rc = exec_stmt(s, &r, err);
		if (rc)
			return rc;
		c->skipped = apf_db_result_rows(r) && apf_db_result_i64(r, 0, 0) > 0;
		apf_db_result_free(r);
		if (c->skipped)
			return c->end_status ? end_run_fn(db, &(struct end_job){ c->run_id, c->end_status }, err) : 0;
	}

	if (c->spool_error) {
		pages = 0;
		failures = 1;
		rc = apf_db_prepare(db,
				    "INSERT INTO md_raw_ocr.main.ocr_failures (doc_id, page_num, ocr_run_id, engine, error) "
				    "VALUES ($1, NULL, $2, NULL, $3)",
				    &s, err);
		if (rc)
			return rc;
		apf_db_bind_text(s, 1, c->doc_id);
		apf_db_bind_i64(s, 2, c->run_id);
		apf_db_bind_text(s, 3, c->spool_error);
		rc = exec_stmt(s, NULL, err);
	} else {
		src = spool_source(c->spool_path);
		if (pages) {
			rc = insert_from_spool(db,
					       "INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, "
					       "model, text, text_sha256, chars, confidence) "
					       "SELECT $1, page_num, $2, engine, model, text, text_sha256, chars, confidence "
					       "FROM %s WHERE k = 'p'",
					       src, c, &changes, err);
			if (!rc && (int64_t)changes != pages)
				rc = apf_error(err, APF_EINTERNAL,
					       "the spool of '%s' gave %" PRIu64 " page rows, not %" PRId64, c->doc_id,
					       changes, pages);
		}
		if (!rc && failures)
			rc = insert_from_spool(db,
					       "INSERT INTO md_raw_ocr.main.ocr_failures (doc_id, page_num, ocr_run_id, "
					       "engine, error) SELECT $1, page_num, $2, engine, error FROM %s WHERE k = 'f'",
					       src, c, &changes, err);
		free(src);
	}
	if (rc)
		return rc;
	/* One statement either way: the counts, and the end when this is the
	 * run's last document (saves the run a transaction of its own). */
	rc = apf_db_prepare(db,
			    "UPDATE md_raw_ocr.main.ocr_runs SET docs = docs + 1, pages = pages + $1, "
			    "failed = failed + $2, "
			    "finished_at = CASE WHEN $4 IS NULL THEN finished_at ELSE current_timestamp END, "
			    "status = coalesce($4, status) WHERE ocr_run_id = $3",
			    &s, err);
	if (rc)
		return rc;
	apf_db_bind_i64(s, 1, pages);
	apf_db_bind_i64(s, 2, failures);
	apf_db_bind_i64(s, 3, c->run_id);
	apf_db_bind_text(s, 4, c->end_status);
	return exec_stmt(s, NULL, err);
}

int ocrdb_commit_doc(struct apf_dbwriter *w, struct ocrdb_commit *c, struct apf_err *err)
{
	return apf_dbwriter_run(w, commit_fn, c, err);
}
