/*
 * dbwriter.c: one thread that group-commits the warehouse work of many
 * (see dbwriter.h).
 *
 * Jobs wait in a FIFO.  The writer takes everything queued (up to
 * max_batch), opens the warehouse, runs the jobs in one transaction and
 * closes it again; each thread that queued one sleeps on
 * its job's condition variable until the job is marked done.  While a batch runs, new jobs
 * pile up, so the next batch is as large as the load makes it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apflow/dbwriter.h"
#include "apflow/log.h"
#include "apflow/util.h"

struct job {
	apf_dbwriter_fn fn;           /* one of fn and bfn is set */
	apf_dbwriter_batch_fn bfn;
	void *arg;
	int rc;
	int done;
	pthread_cond_t cond;          /* signalled when done is set */
	struct apf_err err;
	struct job *next;
};

struct apf_dbwriter {
	const struct apf_config *cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;   /* signalled when a job is queued or stop is asked */
	struct job *head, *tail;
	size_t queued;         /* jobs in head..tail */
	size_t expected;       /* jobs announced by apf_dbwriter_expect() */
	size_t max_batch;
	/* Settings a stage changes while the writer runs: words of their
	 * own, not under lock. */
	atomic_long gather_us; /* the longest wait for announced jobs */
	atomic_long linger_ms; /* how long the warehouse stays open idle */
	unsigned db_flags;     /* for apf_db_open_ex() */
	apf_dbwriter_fn prepare; /* apf_dbwriter_set_prepare() */
	void *prepare_arg;
	int prepared;          /* prepare succeeded once */
	int stopping;
	struct apf_dbwriter_stats stats;
};

/* Runs one job in a transaction of its own. */
static void run_alone(struct apf_db *db, struct job *j)
{
	apf_err_clear(&j->err);
	j->rc = apf_db_begin(db, &j->err);
	if (j->rc)
		return;
	j->rc = j->fn ? j->fn(db, j->arg, &j->err) : j->bfn(db, &j->arg, 1, &j->err);
	if (j->rc) {
		apf_db_rollback(db);
		return;
	}
	j->rc = apf_db_commit(db, &j->err);
	if (j->rc)
		apf_db_rollback(db);
}

/* Runs a batch on db; returns 0 when all went as planned, -1 when some
 * job or the transaction failed (the connection is then best closed). */
static int run_batch(struct apf_db *db, struct job *batch, size_t n)
{
	struct apf_err err;
	struct job *j;
	int rc, failed = 0;

	apf_err_clear(&err);
	rc = apf_db_begin(db, &err);
	for (j = batch; !rc && j;) {
		struct job *end = j->next;

		apf_err_clear(&j->err);
		if (j->fn) {
			j->rc = j->fn(db, j->arg, &j->err);
		} else {
			/* Consecutive jobs of one batch function: one call. */
			size_t k = 1;
			while (end && end->bfn == j->bfn) {
				end = end->next;
				k++;
			}
			void **args = apf_xmalloc(k * sizeof(*args));
			k = 0;
			for (struct job *x = j; x != end; x = x->next)
				args[k++] = x->arg;
			j->rc = j->bfn(db, (void *const *)args, k, &j->err);
			free(args);
		}
		if (j->rc) {
			failed = 1;
			break;
		}
		j = end;
	}
	if (!rc && !failed)
		rc = apf_db_commit(db, &err);
	if (!rc && !failed)
		return 0;
	apf_db_rollback(db);
	if (n > 1 || rc) {
		/* One bad job must not sink the others, nor a failed
		 * BEGIN/COMMIT the whole batch: each job gets a transaction
		 * of its own and its own answer. */
		for (j = batch; j; j = j->next)
			run_alone(db, j);
	}
	return -1;
}

static void fail_batch(struct job *batch, int rc, const struct apf_err *err)
{
	for (struct job *j = batch; j; j = j->next) {
		j->rc = rc;
		j->err = *err;
	}
}

/*
 * The writer keeps the warehouse open only while work keeps coming: after
 * a batch it waits up to LINGER_MS for the next one.  Under a steady
 * stream it keeps the files, and once HOLD_MS have passed since it opened
 * them it asks whether another process (a CLI stage, the server) is
 * waiting for them; if so it closes and waits for that process to get in
 * before opening again (apf_db_lock_wanted(), apf_db_yield()).  Opening and closing cost 10-30 ms each, a commit a few: the
 * linger is what lets a loaded server commit far more often than it opens.
 */
#define LINGER_MS 30
#define HOLD_MS 1000
/* How long a writer that gave the files up waits for the waiter to get
 * them: more than the longest lock backoff of a waiter (db.c). */
#define YIELD_MS 2500
/*
 * Group commit: a batch costs about 2 ms of DuckDB work whatever its size
 * (each transaction sets up its own storage and index for every table it
 * writes), a row a few microseconds.  So when jobs are announced
 * (apf_dbwriter_expect()), the writer waits for those it knew of when the
 * batch started, up to GATHER_US, rather than commit a small batch now
 * and another one just after.  Jobs announced during the wait may join
 * the batch, but do not extend the wait.
 */
#define GATHER_US 4000L

static void deadline_in(struct timespec *t, long us)
{
	clock_gettime(CLOCK_REALTIME, t);
	t->tv_nsec += us * 1000L;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/* With w->lock held and a job queued: waits for the announced ones. */
static void gather(struct apf_dbwriter *w)
{
	size_t want = w->queued + w->expected;
	struct timespec until;

	if (!w->expected || w->queued >= w->max_batch)
		return;
	if (want > w->max_batch)
		want = w->max_batch;
	deadline_in(&until, atomic_load(&w->gather_us));
	while (w->queued < want && w->expected && !w->stopping) {
		if (pthread_cond_timedwait(&w->work, &w->lock, &until) == ETIMEDOUT)
			break;
		/* Jobs announced meanwhile join the batch too, within the
		 * same deadline: else a steady load splits into two halves
		 * that take turns, each committing half as many jobs. */
		want = w->queued + w->expected;
		if (want > w->max_batch)
			want = w->max_batch;
	}
}

static void *writer_main(void *arg)
{
	struct apf_dbwriter *w = arg;
	struct apf_db *db = NULL;
	int64_t opened_at = 0;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct job *batch, *last;
		size_t n = 1;

		while (!w->head && !w->stopping) {
			if (!db) {
				pthread_cond_wait(&w->work, &w->lock);
				continue;
			}
			struct timespec until;
			deadline_in(&until, atomic_load(&w->linger_ms) * 1000L);
			if (pthread_cond_timedwait(&w->work, &w->lock, &until) == ETIMEDOUT && !w->head)
				break;
		}
		if (!w->head) {
			if (db) {
				/* Idle: give the file back. */
				pthread_mutex_unlock(&w->lock);
				apf_db_close(db);
				db = NULL;
				pthread_mutex_lock(&w->lock);
				continue;
			}
			break; /* stopping, nothing queued, nothing open */
		}
		gather(w);
		batch = last = w->head;
		while (last->next && n < w->max_batch) {
			last = last->next;
			n++;
		}
		w->head = last->next;
		w->queued -= n;
		if (!w->head)
			w->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&w->lock);

		/* Held long enough and another process is waiting for the
		 * files: give them up until it has had them (apflow/db.h). */
		if (db && apf_now_ms() - opened_at > HOLD_MS && apf_db_lock_wanted(w->cfg)) {
			apf_db_close(db);
			db = NULL;
			apf_db_yield(w->cfg, YIELD_MS);
		}
		if (!db) {
			struct apf_err err;
			int rc;

			apf_err_clear(&err);
			rc = apf_db_open_ex(w->cfg, w->db_flags, &db, &err);
			if (rc) {
				db = NULL;
				fail_batch(batch, rc, &err);
			} else if (w->prepare && !w->prepared) {
				rc = w->prepare(db, w->prepare_arg, &err);
				if (rc) {
					apf_db_close(db);
					db = NULL;
					fail_batch(batch, rc, &err);
				} else {
					w->prepared = 1;
				}
			}
			opened_at = apf_now_ms();
		}
		if (db && run_batch(db, batch, n)) {
			/* Start the next batch on a fresh connection. */
			apf_db_close(db);
			db = NULL;
		}

		pthread_mutex_lock(&w->lock);
		w->stats.batches++;
		if (n > w->stats.max_batch)
			w->stats.max_batch = n;
		for (struct job *j = batch, *next; j; j = next) {
			next = j->next;
			if (j->rc)
				w->stats.failures++;
			else
				w->stats.jobs++;
			j->done = 1;
			pthread_cond_signal(&j->cond); /* j belongs to its waiter from here on */
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int apf_dbwriter_new(const struct apf_config *cfg, size_t max_batch, struct apf_dbwriter **out,
		     struct apf_err *err)
{
	return apf_dbwriter_new_ex(cfg, max_batch, 0, out, err);
}

int apf_dbwriter_new_ex(const struct apf_config *cfg, size_t max_batch, unsigned db_flags,
			struct apf_dbwriter **out, struct apf_err *err)
{
	struct apf_dbwriter *w = apf_xcalloc(1, sizeof(*w));
	sigset_t all, old;
	int e;

	w->cfg = cfg;
	w->max_batch = max_batch ? max_batch : 256;
	atomic_init(&w->gather_us, GATHER_US);
	atomic_init(&w->linger_ms, LINGER_MS);
	w->db_flags = db_flags;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	/* The thread takes no signals: the writer may be started before a
	 * command blocks SIGINT for its own sigwait() (apflow serve), and a
	 * signal must reach the thread that waits for it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		pthread_cond_destroy(&w->work);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return apf_error(err, APF_EINTERNAL, "cannot start the warehouse writer: %s", strerror(e));
	}
	*out = w;
	return 0;
}

void apf_dbwriter_set_prepare(struct apf_dbwriter *w, apf_dbwriter_fn fn, void *arg)
{
	pthread_mutex_lock(&w->lock);
	w->prepare = fn;
	w->prepare_arg = arg;
	w->prepared = 0;
	pthread_mutex_unlock(&w->lock);
}

static void unannounce(struct apf_dbwriter *w)
{
	if (w->expected)
		w->expected--;
}

static int enqueue_and_wait(struct apf_dbwriter *w, apf_dbwriter_fn fn, apf_dbwriter_batch_fn bfn,
			    void *arg, unsigned flags, struct apf_err *err)
{
	struct job j;

	memset(&j, 0, sizeof(j));
	j.fn = fn;
	j.bfn = bfn;
	j.arg = arg;
	pthread_mutex_lock(&w->lock);
	if (flags & APF_DBWRITER_ANNOUNCED)
		unannounce(w);
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return apf_error(err, APF_EDB, "cannot write to the warehouse: shutting down");
	}
	pthread_cond_init(&j.cond, NULL);
	if (w->tail)
		w->tail->next = &j;
	else
		w->head = &j;
	w->tail = &j;
	w->queued++;
	pthread_cond_signal(&w->work);
	while (!j.done)
		pthread_cond_wait(&j.cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	pthread_cond_destroy(&j.cond);
	if (j.rc) {
		if (err)
			*err = j.err;
		return j.rc;
	}
	return 0;
}

int apf_dbwriter_run(struct apf_dbwriter *w, apf_dbwriter_fn fn, void *arg, struct apf_err *err)
{
	return enqueue_and_wait(w, fn, NULL, arg, 0, err);
}

int apf_dbwriter_run_batch(struct apf_dbwriter *w, apf_dbwriter_batch_fn fn, void *arg,
			   struct apf_err *err)
{
	return enqueue_and_wait(w, NULL, fn, arg, 0, err);
}

int apf_dbwriter_run_batch_ex(struct apf_dbwriter *w, apf_dbwriter_batch_fn fn, void *arg, unsigned flags,
			      struct apf_err *err)
{
	return enqueue_and_wait(w, NULL, fn, arg, flags, err);
}

void apf_dbwriter_set_gather(struct apf_dbwriter *w, long us)
{
	atomic_store(&w->gather_us, us);
}

void apf_dbwriter_set_linger(struct apf_dbwriter *w, long ms)
{
	atomic_store(&w->linger_ms, ms < 0 ? 0 : ms > HOLD_MS ? HOLD_MS : ms);
}

long apf_dbwriter_linger(struct apf_dbwriter *w)
{
	return atomic_load(&w->linger_ms);
}

void apf_dbwriter_expect(struct apf_dbwriter *w, int delta)
{
	pthread_mutex_lock(&w->lock);
	if (delta > 0) {
		w->expected += (size_t)delta;
	} else {
		for (; delta < 0; delta++)
			unannounce(w);
		pthread_cond_signal(&w->work);
	}
	pthread_mutex_unlock(&w->lock);
}

void apf_dbwriter_stats(struct apf_dbwriter *w, struct apf_dbwriter_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}

void apf_dbwriter_free(struct apf_dbwriter *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	apf_log_debug("warehouse writer: %llu jobs in %llu transactions, largest %llu",
		      (unsigned long long)w->stats.jobs, (unsigned long long)w->stats.batches,
		      (unsigned long long)w->stats.max_batch);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
