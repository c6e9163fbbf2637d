/*
 * ocrstage_db.h: the OCR stage's warehouse statements, internal to
 * ocrstage.c.  Each function is one job of the group-commit writer
 * (dbwriter.h): it runs in a transaction of its own or of a batch, and may
 * run twice, so it starts from scratch each time.  Values travel as bound
 * parameters, except spool paths in read_json() and the doc_id lists of
 * ocrdb_commit_docs(), which are quoted by apf_db_quote_literal().
 */
#ifndef APFLOW_OCRSTAGE_DB_H
#define APFLOW_OCRSTAGE_DB_H

#include <stdint.h>

#include "apflow/dbwriter.h"
#include "apflow/err.h"

/* A document as the plan sees it. */
struct ocrdb_doc {
	const char *doc_id;
	int64_t pages;      /* documents.pages, 0 when unknown */
	int fresh;          /* no run committed it (no pages, no ocr_failures rows) */
	int last_failed;    /* its latest committed attempt has ocr_failures rows */
	int partial;        /* some pages have rows, not all (a run killed between
			     * two chunks of it, ocrstage.c) and no row says the
			     * whole document failed */
};

/* Calls fn for every document, in upload order; fn returning non-zero
 * stops the walk and that value is returned.  With force, fresh and
 * last_failed are left 0 (a forced run takes every document, and looking
 * at the pages would cost a scan of them).  Errors: APF_ESQL when the
 * tables are missing (no 'apflow init'), APF_EDB, APF_ELOCKED. */
int ocrdb_plan(struct apf_dbwriter *w, int force, int (*fn)(const struct ocrdb_doc *doc, void *arg),
	       void *arg, struct apf_err *err);

/* Sets *nums (malloc'd, ascending, caller frees) and *n to the page
 * numbers of doc_id that have a pages or ocr_failures row of any run. */
int ocrdb_done_pages(struct apf_dbwriter *w, const char *doc_id, int **nums, size_t *n, struct apf_err *err);

/* Makes the ocr_runs row (status 'running') and sets *run_id.  In the
 * same transaction, runs of this host (params host and pid) whose process
 * is gone become 'killed'. */
int ocrdb_start_run(struct apf_dbwriter *w, const char *engine, const char *model, const char *params,
		    int64_t *run_id, struct apf_err *err);

/*
 * One document's rows, in one transaction: the spool's page records (k =
 * 'p') into pages, its failure records (k = 'f') into ocr_failures, and
 * the counts added to the run's row.  The spool is JSON lines with the
 * keys k, page_num, engine, model, text, text_sha256, chars, confidence,
 * error; a record without a key gives NULL.
 */
struct ocrdb_commit {
	int64_t run_id;
	const char *doc_id;
	const char *spool_path;
	int64_t pages;           /* page records in the spool (checked) */
	int64_t failures;        /* failure records in the spool */
	const char *spool_error; /* the spool is incomplete: this becomes the document's only row */
	int check_others;        /* skip it when another run committed the document meanwhile */
	const char *end_status;  /* not NULL: the last document; also end the run with this status,
				  * as ocrdb_end_run() would (skipped or not) */
	int partial;             /* a chunk of the document's pages, not its end: the run's
				  * docs count is not increased */
	int may_keep;            /* check the spool's empty pages against earlier text (below) */
	int skipped;             /* out: skipped, nothing written */
	/* out: empty pages not stored because the page's latest row (another
	 * engine's) has text: each becomes an ocr_failures row saying so, and
	 * vw_argilla_pages keeps the text.  Per engine: text, tesseract, deepseek. */
	int64_t kept[3];
};
int ocrdb_commit_doc(struct apf_dbwriter *w, struct ocrdb_commit *c, struct apf_err *err);

/* The same for cs[0..n) in one transaction: all of them or none (after
 * a failure, commit each alone).  All have the same run_id; at most one
 * has an end_status. */
int ocrdb_commit_docs(struct apf_dbwriter *w, struct ocrdb_commit *const *cs, size_t n, struct apf_err *err);

/* Has the writer open the warehouse (a job without statements), so that
 * a commit due in a few milliseconds finds it open; never fails. */
void ocrdb_warm(struct apf_dbwriter *w);

/* Sets the run's finished_at and status. */
int ocrdb_end_run(struct apf_dbwriter *w, int64_t run_id, const char *status, struct apf_err *err);

#endif
