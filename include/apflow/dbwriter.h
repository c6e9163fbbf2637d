/*
 * dbwriter.h: group commit to the warehouse.
 *
 * A local DuckDB file takes one writing process at a time, so no process
 * keeps the warehouse open between units of work.  Opening costs 10-30 ms,
 * which would cap a server at a few dozen uploads a second if every request
 * opened it.  Instead, threads hand their work to one writer thread: it
 * opens the warehouse, runs every job queued so far in one transaction,
 * commits and wakes the waiting threads.  It keeps the warehouse open only
 * while work keeps coming (up to 30 ms between batches), then closes it;
 * after 1 s open, it gives the files up to another process that is
 * waiting for them (apf_db_lock_wanted()).  Under load the batches grow by
 * themselves; when idle nothing is open and other processes (a CLI stage)
 * can take the file.
 *
 * Invariants:
 *  - apf_dbwriter_run() returns only after its job's transaction committed
 *    (0) or failed (the error of that job, or of opening/committing).
 *  - A job that fails does not sink the others: the batch is rolled back and
 *    each of its jobs is run again in a transaction of its own.  So a job
 *    may run more than once and must start from scratch each time (reset
 *    whatever it reports before writing it).
 *  - Reads may be jobs too; in a server every warehouse access goes through
 *    the one writer thread, so the process never has the files attached
 *    twice.
 *  - apf_dbwriter_free() runs what is queued, then stops the thread.
 */
#ifndef APFLOW_DBWRITER_H
#define APFLOW_DBWRITER_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/config.h"
#include "apflow/db.h"
#include "apflow/err.h"

struct apf_dbwriter;

/* A job: runs inside an open transaction on db; returns 0 or an APF_E* code. */
typedef int (*apf_dbwriter_fn)(struct apf_db *db, void *arg, struct apf_err *err);

struct apf_dbwriter_stats {
	uint64_t batches;   /* transactions committed */
	uint64_t jobs;      /* jobs committed */
	uint64_t max_batch; /* largest batch so far */
	uint64_t failures;  /* jobs that returned an error */
};

/* Starts the writer thread; the warehouse is opened only when work arrives.
 * cfg must outlive the writer.  max_batch caps the jobs per transaction
 * (0: 256). */
int apf_dbwriter_new(const struct apf_config *cfg, size_t max_batch, struct apf_dbwriter **out,
		     struct apf_err *err);
/* The same, opening the warehouse with apf_db_open_ex(db_flags) (e.g.
 * APF_DB_ONE_THREAD for a server whose jobs are all small). */
int apf_dbwriter_new_ex(const struct apf_config *cfg, size_t max_batch, unsigned db_flags,
			struct apf_dbwriter **out, struct apf_err *err);

/* Queues fn(db, arg) and waits for its transaction.  Thread-safe.  After
 * apf_dbwriter_free() has begun, new jobs fail with APF_EDB. */
int apf_dbwriter_run(struct apf_dbwriter *w, apf_dbwriter_fn fn, void *arg, struct apf_err *err);

/*
 * A job that can share one call with its neighbours: consecutive queued
 * jobs of the same fn are handed over together (args[0..n-1], in queue
 * order), so a batch of 16 uploads costs a few statements, not 48.  fn
 * returns an error only when the statements failed, which fails every job
 * of the call (they are then run again one by one, n = 1); a verdict about
 * one job (a doc_id collision) goes into that job's own arg.
 */
typedef int (*apf_dbwriter_batch_fn)(struct apf_db *db, void *const *args, size_t n,
				     struct apf_err *err);
int apf_dbwriter_run_batch(struct apf_dbwriter *w, apf_dbwriter_batch_fn fn, void *arg,
			   struct apf_err *err);

/*
 * Announcing work makes batches larger: apf_dbwriter_expect(w, +1) says a
 * job will be queued soon (an upload whose body has arrived and is being
 * checked and stored), and the writer, about to commit a batch, waits a
 * few milliseconds for the jobs announced so far.  Each announcement is
 * taken back once: by queuing the job with APF_DBWRITER_ANNOUNCED, or by
 * apf_dbwriter_expect(w, -1) when it will not come.  A wrong count costs
 * latency (at most the wait), never a job.
 */
#define APF_DBWRITER_ANNOUNCED 1u
void apf_dbwriter_expect(struct apf_dbwriter *w, int delta);
/* The longest wait for announced jobs, in microseconds (default 4000). */
void apf_dbwriter_set_gather(struct apf_dbwriter *w, long us);
/*
 * How long the warehouse stays open without work, in milliseconds
 * (default 30, at most 1000).
 * A stage whose jobs come tens of milliseconds apart (an OCR run: a commit
 * per document read) sets it higher, so that it does not checkpoint,
 * close and reopen between documents; other processes then wait for the
 * file up to that long.
 */
void apf_dbwriter_set_linger(struct apf_dbwriter *w, long ms);
long apf_dbwriter_linger(struct apf_dbwriter *w);
int apf_dbwriter_run_batch_ex(struct apf_dbwriter *w, apf_dbwriter_batch_fn fn, void *arg, unsigned flags,
			      struct apf_err *err);

/*
 * fn(db, arg) runs on the writer thread right after it opens the
 * warehouse, outside any transaction, until it has succeeded once; while
 * it fails, the jobs of that batch fail with its error.  main.c uses it to
 * migrate a warehouse that another process held at start.  Set it before
 * queuing jobs.
 */
void apf_dbwriter_set_prepare(struct apf_dbwriter *w, apf_dbwriter_fn fn, void *arg);

void apf_dbwriter_stats(struct apf_dbwriter *w, struct apf_dbwriter_stats *out);

/* Finishes the queued jobs, stops the thread and frees w.  NULL is a no-op. */
void apf_dbwriter_free(struct apf_dbwriter *w);

#endif
