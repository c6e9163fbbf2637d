/*
 * ocrstage.h: the OCR stage, raw/<doc_id>.pdf in the store to page rows in
 * md_raw_ocr.main.pages, as a library (`apflow ocr` is a thin front-end).
 *
 * What a run does:
 *   1. Plans: reads md_raw_ocr.main.documents and picks the documents to
 *      do (see "Selection"), filtered by the caller's doc_ids and shard.
 *      With nothing to do it stops here and makes no run.
 *   2. Makes an ocr_runs row (engine, model, params JSON, status
 *      'running').
 *   3. Workers (jobs threads, each with a MuPDF context of its own that
 *      takes no locks (pdf.h), and its own Tesseract handle) open each
 *      PDF, in place when the store is file:// (else fetched from the
 *      store to a temp file under <data_dir>/tmp), and read its pages
 *      one at a time.  A worker with no new document to start helps with
 *      the unclaimed pages of one in flight, so a single large PDF keeps
 *      every worker busy too.  Each page's row goes to the document's
 *      spool, a JSON-lines temp file under <data_dir>/tmp, so memory
 *      holds one page per worker whatever the document's size.
 *      When the caller names the documents (doc_ids; not for deepseek),
 *      workers start reading them at once, while the warehouse opens and
 *      plans (1, 2): what the plan does not take is dropped unwritten,
 *      and Tesseract pages wait for the run's row.
 *   4. A document longer than ocr_commit_pages (config) is committed in
 *      chunks as its spool fills: the worker that filled it starts a new
 *      spool and commits the full one (rows only; the document counts in
 *      the run when its end commits).
 *      When a document's last page is done, a committer thread hands it
 *      to the group-commit writer (dbwriter.h): one transaction inserts
 *      its pages and ocr_failures rows (straight from the spool with
 *      read_json) and adds its counts to the run's row; the run's last
 *      document also ends the run (5) in that transaction.  Documents
 *      waiting together share one transaction, each whole.  Shortly
 *      before a document's last page the committer has the writer open
 *      the warehouse, which it closes when idle, so that the commit does
 *      not wait for it.  So the warehouse is open only around commits,
 *      another process (the server ingesting) gets its turn between
 *      them, and a killed run loses only the pages in flight since
 *      their document's last chunk: a re-run finishes the rest without
 *      duplicates.
 *   5. Sets the run's finished_at and status: 'done' when every planned
 *      document was attempted, 'failed' when the run stopped early
 *      (warehouse or store failure, cancel).  A run killed outright stays
 *      'running'; its committed documents count as done.  An error or a
 *      cancel before the run's row leaves no run and nothing written.
 *
 * Engines (per page):
 *   text       MuPDF's text layer (apf_pdf_page_text).
 *   tesseract  the page rendered at dpi (300) in gray, Tesseract in-process;
 *              confidence = mean word confidence / 100.
 *   auto       text when the layer is real text (apf_pdf_text_is_real),
 *              else tesseract; a page with nothing drawn on it
 *              (apf_pdf_page_inked) is stored as the text layer read it.
 * Every page's MuPDF work is bounded (apf_pdf_ctx_set_limits()) by the
 * config's ocr_page_max_ops and ocr_page_seconds, and stops at the cancel
 * flag; a page past them fails with the reason.
 *   deepseek   the page rendered at dpi (144) as PNG, sent to DeepSeek-OCR
 *              (deepseek.h) with `concurrency` requests in flight.
 * pages.engine names the engine that produced the row ('text',
 * 'tesseract', 'deepseek'); pages.model the library and its version, or
 * the model.
 *
 * Failures never stop the run.  A document that is missing from the
 * store, damaged, encrypted or without pages gives one ocr_failures row
 * with page_num NULL; a page that cannot be read, rendered or recognised
 * (a Tesseract error, an HTTP error after retries, a timeout, runaway
 * model output) gives a row for that page, and the document's other pages
 * are stored.  A page that MuPDF could read only as nothing while
 * reporting damage (an object missing from a truncated file) is a failed
 * page, not an empty one.  What does stop a run: the warehouse failing,
 * the store failing other than "not found", the cancel flag.
 *
 * Selection.  A document is done once some run committed it, i.e. it has
 * pages or ocr_failures rows for all of its pages (documents.pages) or a
 * row saying the whole document failed; with rows for some pages only it
 * is partial (a run killed between two chunks).  By default a run takes
 * the documents that are not done, and of a partial one only the pages
 * without rows; retry_failed adds those whose latest committed attempt
 * has failure rows; force takes every document (a new run beside the old
 * ones: vw_argilla_pages shows each page from its latest run).  A
 * document committed by another process while this run worked on it is
 * not committed twice (without force).  Empty pages: a page for which the
 * run's engine finds no text gets no pages row when its latest row has
 * another engine's text, so the view keeps that text; an ocr_failures row
 * says so (res->kept).
 *
 * Sharding.  shard K/N takes the documents whose
 * apf_ocrstage_shard_hash(doc_id) mod N is K: the first 8 bytes of the
 * SHA-256 of the doc_id's text, big-endian.  The same in SQL:
 *   ('0x' || substr(sha256(doc_id), 1, 16))::UBIGINT % N
 * so N machines share the documents without talking to each other.
 *
 * Callbacks are called from the stage's threads, one at a time, never
 * while the stage holds its locks.
 */
#ifndef APFLOW_OCRSTAGE_H
#define APFLOW_OCRSTAGE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "apflow/config.h"
#include "apflow/dbwriter.h"
#include "apflow/deepseek.h"
#include "apflow/err.h"
#include "apflow/store.h"

enum apf_ocrstage_engine {
	APF_OCRSTAGE_AUTO = 0,
	APF_OCRSTAGE_TEXT,
	APF_OCRSTAGE_TESSERACT,
	APF_OCRSTAGE_DEEPSEEK,
};

/* "auto", "text", "tesseract", "deepseek"; returns 0 or -1. */
int apf_ocrstage_engine_parse(const char *s, enum apf_ocrstage_engine *out);
const char *apf_ocrstage_engine_name(enum apf_ocrstage_engine e);

#define APF_OCRSTAGE_DPI 300           /* tesseract's rendering */
#define APF_OCRSTAGE_CONCURRENCY 4     /* deepseek requests in flight */
#define APF_OCRSTAGE_PAGE_TEXT_MAX ((size_t)4 << 20)
/* MuPDF's resource stores, all workers together (split between them, at
 * least 16 MB each): fonts and images stay cached across pages up to this
 * much (MuPDF's default of 256 MB would hold some 30 decoded 300 dpi page
 * images of a scan, which are never reused). */
#define APF_OCRSTAGE_PDF_STORE ((size_t)64 << 20)

/* Where a run stands, for progress displays. */
struct apf_ocrstage_progress {
	uint64_t docs_total;    /* documents selected */
	uint64_t docs_done;     /* committed (stored or failed) */
	uint64_t pages_planned; /* sum of documents.pages of those documents */
	uint64_t pages_done;    /* pages read (stored or failed), committed or not */
	int64_t elapsed_ms;
};

/* One committed document. */
struct apf_ocrstage_doc {
	const char *doc_id;
	int pages;              /* pages in the PDF; 0 when it could not be opened */
	int stored;             /* pages rows */
	int text, tesseract, deepseek; /* stored, by engine */
	int failed;             /* ocr_failures rows */
	int kept;               /* of those, empty pages that kept earlier text (below) */
	const char *error;      /* why the whole document failed, or NULL */
	int skipped;            /* another process committed it meanwhile: nothing written */
	int64_t ms;             /* from fetch to commit */
};

struct apf_ocrstage_options {
	enum apf_ocrstage_engine engine;
	int jobs;                     /* worker threads; 0: the online CPUs (at most 16) */
	const char *const *doc_ids;   /* only these documents (all must exist) */
	size_t ndoc_ids;
	int shard_k, shard_n;         /* shard_n 0: no sharding */
	int force;
	int retry_failed;
	int dpi;                      /* 0: APF_OCRSTAGE_DPI, or APF_DEEPSEEK_DPI for deepseek */
	const char *lang;             /* Tesseract languages; NULL: "eng" */
	const char *tessdata;         /* NULL: Tesseract's default / TESSDATA_PREFIX */
	int page_timeout_ms;          /* Tesseract's limit per page; 0: 120 s */
	int concurrency;              /* deepseek: requests in flight; 0: APF_OCRSTAGE_CONCURRENCY */
	struct apf_deepseek_options deepseek; /* url, api, model, key, prompt ... */

	void (*on_progress)(const struct apf_ocrstage_progress *p, void *arg);
	void (*on_doc)(const struct apf_ocrstage_doc *d, const struct apf_ocrstage_progress *p, void *arg);
	/* A failure row about to be written: page_num 0 for the whole document. */
	void (*on_failure)(const char *doc_id, int page_num, const char *engine, const char *error,
			   void *arg);
	void *cb_arg;
	int progress_ms;              /* least time between on_progress calls; 0: 500 */
	/* Checked between pages; when it becomes non-zero the run starts no
	 * more pages, commits the documents already read whole, drops those
	 * with pages left (nothing of them is written) and ends as 'failed'. */
	volatile sig_atomic_t *cancel;
};

struct apf_ocrstage_result {
	int64_t run_id;         /* the ocr_runs row; 0 when nothing was to do */
	uint64_t selected;      /* documents the run set out to do */
	uint64_t already_done;  /* documents matching the filters left alone as done */
	uint64_t docs;          /* documents committed */
	uint64_t pages;         /* pages rows written */
	uint64_t pages_text, pages_tesseract, pages_deepseek;
	uint64_t failed;        /* ocr_failures rows written */
	uint64_t failed_docs;   /* ... about whole documents */
	uint64_t failed_pages;  /* ... about pages */
	uint64_t skipped;       /* committed meanwhile by another process */
	uint64_t kept;          /* empty pages not stored because the page has text from
				 * another engine (a failure row each; see "Empty pages") */
	uint64_t blank;         /* auto: pages with nothing drawn, stored empty unrendered */
	int cancelled;
	int64_t ms;
	/* The workers' time on documents (fetching, opening, reading pages
	 * and writing their records), summed over the workers: what the run
	 * spent reading, without starting, planning and committing. */
	int64_t read_ms;
};

/*
 * Runs the stage.  store and writer are borrowed; cfg gives data_dir.
 * Fills *res (zeroed first) as far as the run got, whatever the outcome.
 * Returns 0 when the run went through, failed pages and documents
 * included (res says how many); an error when it could not start (no
 * such doc_id: APF_ENOTFOUND; bad options: APF_EUSAGE; Tesseract language
 * missing: APF_EOCR; DeepSeek settings: APF_ECONFIG) or stopped early
 * (APF_EDB, APF_ELOCKED, APF_ESTORE ...: the run is then marked 'failed';
 * before its row was made, there is no run: res->run_id 0).  A cancelled
 * run returns 0 with res->cancelled set (and res->run_id 0 when it was
 * cancelled before its row was made: nothing was written).
 */
int apf_ocrstage_run(const struct apf_config *cfg, struct apf_store *store, struct apf_dbwriter *writer,
		     const struct apf_ocrstage_options *opt, struct apf_ocrstage_result *res,
		     struct apf_err *err);

/*
 * Writes the pages rows of run run_id as Parquet under url (file://DIR or
 * s3://BUCKET[/PREFIX], with cfg's credentials), partitioned by doc_id:
 *   ocr_run_id=<run_id>/doc_id=<doc_id>/data_0.parquet
 * with the columns doc_id, page_num, ocr_run_id, engine, model, text,
 * text_sha256, chars, confidence, created_at (doc_id is in the file too,
 * not only in the path).  DuckDB writes them to a temp directory under
 * <data_dir>/tmp, then each goes through the store, so an object is whole
 * or absent.  Sets *files.  Errors of the store (APF_ESTORE, APF_EAUTH,
 * APF_EINVAL for a bad URL) or the warehouse.
 */
int apf_ocrstage_export_parquet(const struct apf_config *cfg, struct apf_dbwriter *writer, int64_t run_id,
				const char *url, int *files, struct apf_err *err);

/* The shard hash: the first 8 bytes of SHA-256(doc_id), big-endian. */
uint64_t apf_ocrstage_shard_hash(const char *doc_id);
/* Parses "K/N" (0 <= K < N <= 1000000); returns 0 or -1. */
int apf_ocrstage_parse_shard(const char *s, int *k, int *n);

#endif
