/*
 * ocrstage_impl.h: what ocrstage.c (the scheduler, the commits, the plan
 * and the run: see there for the threads and docs/internals/ocrstage.md
 * for the run's states) shares with ocrstage_read.c (the page engines:
 * text, Tesseract, DeepSeek), internal to the core.
 */
#ifndef APFLOW_OCRSTAGE_IMPL_H
#define APFLOW_OCRSTAGE_IMPL_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "apflow/buf.h"
#include "apflow/deepseek.h"
#include "apflow/ingest.h"
#include "apflow/ocr.h"
#include "apflow/ocrstage.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"

/* The engine that produced a page (pages.engine). */
enum { PE_TEXT = 0, PE_TESSERACT, PE_DEEPSEEK, PE_COUNT };

/* A document the plan picked, or (speculative start) one of the caller's
 * doc_ids that the plan is yet to confirm. */
struct pick {
	char id[APF_DOC_ID_LEN + 1];
	int fresh;          /* no rows at all when planned */
	int64_t pages;      /* documents.pages (an estimate for progress) */
	int dropped;        /* the plan did not take it: read no more, commit nothing (st->lock) */
	int partial;        /* some of its pages are done (a killed run's chunks) */
	int *done;          /* partial: those pages' numbers, ascending (the plan's) */
	size_t ndone;
};

/* A document from claim to last release. */
struct doc {
	const struct pick *pick;
	const char *id;
	int refs;            /* under st->lock */
	int npages;          /* 0 until opened */
	int next_page;       /* the next page to claim (under st->lock) */
	int in_active;       /* on st->active (under st->lock) */
	/* Under st->lock: the plan's done pages are applied to skip (at the
	 * start, or at the first claim after the plan); a page was claimed
	 * before that (a speculative start), so the spool may hold pages the
	 * plan says are done (spool_drop_done()). */
	int skip_known, read_early;
	struct doc *next_active;
	struct doc *next_commit;
	char *pdf_path;
	int pdf_is_temp;     /* pdf_path is our copy (delete it), not the store's own file */
	int64_t started_ms;
	int64_t read_us;     /* when its pages began to be read (now_us()) */

	pthread_mutex_t lock; /* the rest */
	char *spool_path;
	FILE *spool;
	char *spool_buf;     /* its stdio buffer */
	int spool_errno;     /* a write failed: the document is recorded as failed */
	int finished;        /* pages done (stored or failed) */
	int warmed;          /* the warehouse was asked to open for its commit (warm_soon()) */
	int stored;
	int by_engine[PE_COUNT];
	int failed_pages;
	char *doc_error;     /* the whole document failed */
	int committed;
	int skipped;
	/* What the current spool holds (a chunk commit starts a new one). */
	int spool_stored, spool_failed, spool_empty;
	int rotating;        /* a worker is committing a chunk of it */
	int chunked;         /* a chunk of it is committed */
	int kept;            /* empty pages not stored over earlier text (ocrstage_db.h) */
	int kept_by_engine[PE_COUNT];
	unsigned char *skip; /* partial: per page number, done already (under st->lock) */
};

struct stage;

struct worker {
	struct stage *st;
	int index;
	pthread_t thread;
	struct apf_pdf_ctx *ctx;
	struct apf_ocr *ocr;
	struct apf_buf text;
	struct apf_buf png;
};

/* A rendered page waiting for the DeepSeek server. */
struct dsreq {
	struct doc *d;
	int page;
	struct apf_buf png;
	struct dsreq *next;
};

struct stage {
	const struct apf_config *cfg;
	struct apf_store *store;
	struct apf_dbwriter *writer;
	const struct apf_ocrstage_options *opt;
	struct apf_ocrstage_result *res;
	enum apf_ocrstage_engine engine;
	int jobs, dpi, concurrency;
	const char *lang;
	int64_t run_id;
	int64_t t0;
	char *tmpdir;
	char *model_text;
	char *model_tesseract;
	struct apf_deepseek *ds;

	pthread_mutex_t lock;
	pthread_cond_t work_cond;     /* a document was published or released, or the run's state changed */
	pthread_cond_t commit_cond;   /* the commit queue got a document, the run started, or stop */
	pthread_cond_t dq_cond;       /* the DeepSeek queue changed */
	/*
	 * The run's state, in order: picks known (speculative: the caller's
	 * doc_ids, before the plan; else the plan's), planned (the plan's
	 * verdict is in), started (the run's row exists).  Workers read pages
	 * as soon as picks are known; Tesseract and DeepSeek pages, commits
	 * and failure reports wait for what they need.  norun: no run will
	 * be made (nothing to do, or an error before it).
	 */
	int speculative, picks_known, planned, started, norun;
	int ended;                    /* the last commit also ended the run */
	int warm;                     /* a document is near its end: have the warehouse opened */
	int64_t db_us;                /* when our last warehouse job ended (now_us()) */
	int64_t linger_us;            /* the writer closes the warehouse after this long idle */
	struct pick *picks;
	size_t npicks, next_pick;
	size_t nselected;             /* picks not dropped */
	struct doc *active;           /* opened documents with pages to claim */
	int fetching;                 /* documents being fetched and opened */
	int inflight, max_inflight;   /* documents claimed and not yet released */
	struct doc *cq_head, *cq_tail;
	int committer_stop;
	struct dsreq *dq_head, *dq_tail;
	int dq_len, dq_cap, senders_stop;
	int stopping;                 /* fatal error or cancel: start nothing more */
	int fatal;
	struct apf_err fatal_err;
	uint64_t pages_done, docs_done, pages_planned;
	int64_t read_us;              /* workers' time on documents, summed */
	int64_t page_max_ops;         /* ocr_page_max_ops */
	int page_max_ms;              /* ocr_page_seconds, in ms */
	int commit_pages;             /* ocr_commit_pages */

	pthread_mutex_t cb_lock;
	int64_t last_progress_ms;
};

/* ---- ocrstage.c, for the page engines ---- */

/* Whether the run is stopping (a fatal error or a cancel, which this
 * checks for). */
int ocrs_stopping(struct stage *st);
/* Whether the caller asked the run to stop (SIGINT): a page that failed
 * because of it is not recorded. */
int ocrs_cancelled(struct stage *st);
/* Counts a blank page stored without rendering (auto). */
void ocrs_count_blank(struct stage *st);
/* Waits until the run's row exists; 0, or -1 when the run stopped or will
 * not be made (the page then stays unread, its document uncommitted). */
int ocrs_wait_started(struct stage *st);
void ocrs_doc_ref(struct stage *st, struct doc *d);
void ocrs_doc_release(struct stage *st, struct doc *d);
/* Records page page of d as stored with this text, or as failed with
 * error ("page N: " is prefixed); the document's last page queues its
 * commit. */
void ocrs_store_page(struct stage *st, struct doc *d, int page, int engine, const char *model,
		     const struct apf_buf *text, const struct apf_text_stats *stats, double confidence);
void ocrs_fail_page(struct stage *st, struct doc *d, int page, int engine, const char *error);

/* ---- ocrstage_parquet.c ---- */

/* Removes the Parquet export directories of dead processes under tmpdir
 * (apf_remove_stale_temps() removes files only). */
void ocrs_sweep_parquet_dirs(const char *tmpdir);

/* ---- ocrstage_read.c: the page engines ---- */

/* The worker's Tesseract, made on first use. */
int ocrs_ensure_ocr(struct worker *w, struct apf_err *err);
/* Reads page page of d with the run's engine, and records it. */
void ocrs_read_page(struct worker *w, struct doc *d, struct apf_pdf *pdf, int page);
/* A DeepSeek sender thread (arg: the stage). */
void *ocrs_sender_main(void *arg);

#endif
