/* flow.c: the worker of apflow serve --process (flow.h). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apflow/argilla.h"
#include "apflow/dataset.h"
#include "apflow/db.h"
#include "apflow/flow.h"
#include "apflow/labelset.h"
#include "apflow/log.h"
#include "apflow/ocrstage.h"
#include "apflow/preannotate.h"
#include "apflow/util.h"

struct doc_stage {
	char doc_id[24];
	const char *stage;
};

struct apf_flow {
	const struct apf_config *cfg;
	struct apf_store *store;
	struct apf_dbwriter *writer;
	char *dataset;
	int poll_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int kicked;
	volatile sig_atomic_t stop;
	/* Every document of the warehouse the worker has seen, with its
	 * stage, and an index on doc_id (open addressing: slot i holds the
	 * position in docs plus one, 0 when empty; twice as many slots as
	 * documents at least). */
	struct doc_stage *docs;
	size_t ndocs, cap;
	size_t *slots;
	size_t nslots;
	/* The scan for new documents (pending_fn): rows of the documents
	 * table up to this rowid have been seen; a full scan is due at the
	 * first round and after an OCR step failed. */
	int64_t seen_rowid;
	int full_scan_due;
	struct apf_flow_stats stats;
	int push;              /* Argilla is configured: push after merge */
	int push_due;          /* a push failed: try again */
	int64_t push_after_ms; /* not before then */
};

/* One worker per process: the API reads its stages. */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct apf_flow *current;

/* FNV-1a: doc_ids are hex digits of a SHA-256, any hash spreads them. */
static size_t hash_id(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* The slot of doc_id: its entry's, or the empty one where it would go. */
static size_t *slot_of(struct apf_flow *f, const char *doc_id)
{
	size_t mask = f->nslots - 1, i = hash_id(doc_id) & mask;

	while (f->slots[i] && strcmp(f->docs[f->slots[i] - 1].doc_id, doc_id))
		i = (i + 1) & mask;
	return &f->slots[i];
}

/* With f->lock held. */
static struct doc_stage *find(struct apf_flow *f, const char *doc_id)
{
	size_t *slot;

	if (!f->nslots)
		return NULL;
	slot = slot_of(f, doc_id);
	return *slot ? &f->docs[*slot - 1] : NULL;
}

/* With f->lock held: room for one more document in docs and the index. */
static void reserve_one(struct apf_flow *f)
{
	if (f->ndocs == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->docs = apf_xrealloc(f->docs, f->cap * sizeof(*f->docs));
	}
	if (2 * (f->ndocs + 1) > f->nslots) {
		free(f->slots);
		f->nslots = f->nslots ? 2 * f->nslots : 128;
		f->slots = apf_xcalloc(f->nslots, sizeof(*f->slots));
		for (size_t i = 0; i < f->ndocs; i++)
			*slot_of(f, f->docs[i].doc_id) = i + 1;
	}
}

static void set_stage(struct apf_flow *f, const char *doc_id, const char *stage)
{
	struct doc_stage *d;

	pthread_mutex_lock(&f->lock);
	d = find(f, doc_id);
	if (!d) {
		reserve_one(f);
		d = &f->docs[f->ndocs];
		apf_strlcpy(d->doc_id, doc_id, sizeof(d->doc_id));
		*slot_of(f, d->doc_id) = ++f->ndocs;
	}
	d->stage = stage;
	pthread_mutex_unlock(&f->lock);
}

/* Moves every document at stage from to stage to. */
static void move_all(struct apf_flow *f, const char *from, const char *to)
{
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->ndocs; i++)
		if (f->docs[i].stage == from)
			f->docs[i].stage = to;
	pthread_mutex_unlock(&f->lock);
}

const char *apf_flow_doc_stage(const char *doc_id, char *buf, size_t n)
{
	const char *r = NULL;

	pthread_mutex_lock(&current_lock);
	if (current) {
		struct doc_stage *d;
		pthread_mutex_lock(&current->lock);
		d = find(current, doc_id);
		/* not seen yet: an upload waiting for the next round */
		apf_strlcpy(buf, d ? d->stage : "uploaded", n);
		r = buf;
		pthread_mutex_unlock(&current->lock);
	}
	pthread_mutex_unlock(&current_lock);
	return r;
}

static const char ST_UPLOADED[] = "uploaded", ST_OCR[] = "ocr", ST_EXPORT[] = "export",
		  ST_PREANNOTATE[] = "preannotate", ST_MERGE[] = "merge", ST_MERGED[] = "merged",
		  ST_PUSH[] = "push", ST_PUSHED[] = "pushed", ST_FAILED[] = "failed",
		  ST_PUSH_FAILED[] = "failed"; /* as shown; told apart to push again */

/* How long after a failed push the worker tries again. */
#define PUSH_RETRY_MS 30000

/*
 * Which documents a round has to take through the stages.
 *
 * The first round (and the one after a failed OCR step) reads the whole
 * documents table: the documents no OCR run has committed (no page, no
 * failure) are pending; the others are seeded as merged (by that round's
 * merge) or, later, carried through export and merge when the worker did
 * not know them.
 *
 * Every other round, every 500 ms, reads only the rows added since the
 * last scan: rows are appended to the table in commit order, so their
 * rowids grow, and every row up to seen_rowid has been seen.  Each new
 * row is pending (stage "uploaded"): the OCR run reads it unless a run
 * already did, and export and merge then carry it on, as for a document
 * read behind the worker's back.  A count of the table checks the premise
 * in the same transaction: when it does not equal the documents known
 * plus the new rows (rows deleted, or rowids changed), the round falls
 * back to the whole table.  So with 100,000 documents an idle round costs
 * a count and an empty range scan, and the worker's lookups are hashed.
 * Rowids can change only when rows are deleted (apflow never deletes
 * documents; a hand could): a full scan every FULL_SCAN_EVERY rounds
 * (a minute) bounds what such an edit could hide.
 */
#define FULL_SCAN_EVERY 120
struct pending_job {
	struct apf_flow *f;
	size_t pending;
	size_t unseen; /* read by a run that did not know them (an upload that came during its plan) */
	int seed;
	int full;      /* read the whole table */
};

static int scan_all(struct apf_db *db, struct pending_job *j, struct apf_err *err)
{
	struct apf_db_result *r = NULL;
	int64_t top = -1;
	int rc;

	j->pending = 0;
	j->unseen = 0;
	rc = apf_db_query(db,
			  "SELECT d.doc_id, (EXISTS (SELECT 1 FROM md_raw_ocr.main.pages p WHERE p.doc_id = d.doc_id) "
			  "OR EXISTS (SELECT 1 FROM md_raw_ocr.main.ocr_failures x WHERE x.doc_id = d.doc_id)) AS read, "
			  "d.rowid FROM md_raw_ocr.main.documents d ORDER BY d.uploaded_at",
			  &r, err);
	if (rc)
		return rc;
	for (uint64_t i = 0; i < apf_db_result_rows(r); i++) {
		char *id = apf_db_result_text(r, 0, i);
		int read = (int)apf_db_result_i64(r, 1, i);
		int64_t rowid = apf_db_result_i64(r, 2, i);

		if (rowid > top)
			top = rowid;
		if (!id)
			continue;
		if (!read) {
			j->pending++;
			pthread_mutex_lock(&j->f->lock);
			struct doc_stage *d = find(j->f, id);
			int known = d != NULL;
			pthread_mutex_unlock(&j->f->lock);
			if (!known)
				set_stage(j->f, id, ST_UPLOADED);
		} else if (j->seed) {
			set_stage(j->f, id, ST_MERGE); /* made "merged" by the first round */
		} else {
			/* An upload that arrived after this query in the last
			 * round but before that round's OCR plan was read
			 * without the worker knowing: carry it through export
			 * to merge (again: export and merge are idempotent). */
			pthread_mutex_lock(&j->f->lock);
			struct doc_stage *d = find(j->f, id);
			int unseen = !d || d->stage == ST_UPLOADED;
			pthread_mutex_unlock(&j->f->lock);
			if (unseen) {
				j->unseen++;
				set_stage(j->f, id, ST_OCR);
			}
		}
		free(id);
	}
	apf_db_result_free(r);
	j->f->seen_rowid = top;
	j->f->stats.full_scans++;
	return 0;
}

static int pending_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct pending_job *j = arg;
	struct apf_flow *f = j->f;
	struct apf_db_result *r = NULL;
	struct apf_db_stmt *st = NULL;
	int64_t total = 0;
	size_t known;
	uint64_t n;
	int rc;

	if (j->full)
		return scan_all(db, j, err);
	j->pending = 0;
	j->unseen = 0;
	rc = apf_db_prepare(db,
			    "SELECT d.rowid, d.doc_id FROM md_raw_ocr.main.documents d WHERE d.rowid > $1 "
			    "ORDER BY d.rowid",
			    &st, err);
	if (!rc) {
		apf_db_bind_i64(st, 1, f->seen_rowid);
		rc = apf_db_stmt_exec(st, &r, err);
	}
	apf_db_stmt_free(st);
	if (!rc)
		rc = apf_db_query_i64(db, "SELECT count(*) FROM md_raw_ocr.main.documents", &total, err);
	if (rc) {
		apf_db_result_free(r);
		return rc;
	}
	n = apf_db_result_rows(r);
	pthread_mutex_lock(&f->lock);
	known = f->ndocs;
	pthread_mutex_unlock(&f->lock);
	if (total < 0 || (uint64_t)total != known + n) {
		apf_db_result_free(r);
		return scan_all(db, j, err);
	}
	for (uint64_t i = 0; i < n; i++) {
		char *id = apf_db_result_text(r, 1, i);

		f->seen_rowid = apf_db_result_i64(r, 0, i);
		if (id) {
			set_stage(f, id, ST_UPLOADED);
			j->pending++;
		}
		free(id);
	}
	apf_db_result_free(r);
	return 0;
}

/* ---- push (when Argilla is configured) ---- */

struct push_open {
	struct apf_argilla *a;
	const char *ws_id, *ws_name, *dataset;
};

static int push_open_dataset(void *arg, struct apf_argilla_dataset *ds, struct apf_err *err)
{
	struct push_open *po = arg;
	int rc = apf_argilla_dataset_open(po->a, po->ws_id, po->ws_name, po->dataset, apf_labelset_v1(), 1, ds, err);

	if (!rc && ds->created)
		apf_log_info("process: created Argilla dataset '%s' in workspace '%s'", ds->name, ds->workspace);
	return rc;
}

/* argilla_records.parquet of the dataset into the Argilla dataset of the
 * same name, as `apflow push` does (apf_argilla_push: upserts by id, so a
 * push again sends only what changed). */
static int push_records(struct apf_flow *f, struct apf_argilla_push_stats *st, struct apf_err *err)
{
	const struct apf_config *cfg = f->cfg;
	struct apf_argilla_options ao = { 0 };
	struct apf_argilla_push_options po = { 0 };
	struct apf_argilla_dataset ds;
	struct apf_argilla_user me;
	struct apf_argilla *a = NULL;
	struct push_open op;
	const char *ws = NULL;
	char ws_id[64], ws_name[256];
	char *key = apf_dataset_key(f->dataset, "argilla_records.parquet");
	char *dir = NULL, *path = NULL;
	int rc;

	memset(st, 0, sizeof(*st));
	/* As `apflow pull`: a private directory under <data_dir>/tmp, swept
	 * by the next run if this process is killed. */
	rc = apf_dataset_tmpdir(cfg, &dir, err);
	if (rc) {
		free(key);
		return rc;
	}
	path = apf_xasprintf("%s/argilla_records.parquet", dir);
	rc = apf_store_get_file(f->store, key, path, err);
	ao.api_url = apf_config_get(cfg, APF_CFG_ARGILLA_API_URL);
	ao.api_key = apf_config_get(cfg, APF_CFG_ARGILLA_API_KEY);
	ao.max_retries = -1;
	/* The built-in workspace name is a guess: unset, the key's first. */
	if (cfg->e[APF_CFG_ARGILLA_WORKSPACE].source != APF_SRC_DEFAULT)
		ws = apf_config_get(cfg, APF_CFG_ARGILLA_WORKSPACE);
	if (!rc)
		rc = apf_argilla_new(&ao, &a, err);
	if (!rc)
		rc = apf_argilla_me(a, &me, err);
	if (!rc)
		rc = apf_argilla_workspace(a, ws, ws_id, ws_name, err);
	if (!rc) {
		memset(&ds, 0, sizeof(ds));
		apf_strlcpy(ds.name, f->dataset, sizeof(ds.name));
		op.a = a;
		op.ws_id = ws_id;
		op.ws_name = ws_name;
		op.dataset = f->dataset;
		po.parquet = path;
		po.source_name = key;
		po.cancel = &f->stop;
		po.open_dataset = push_open_dataset;
		po.open_arg = &op;
		rc = apf_argilla_push(a, &ds, apf_labelset_v1(), &po, st, err);
	}
	apf_argilla_free(a);
	apf_dataset_rmtree(dir);
	free(dir);
	free(path);
	free(key);
	return rc;
}

static int step_failed(struct apf_flow *f, const char *step, const char *stage, struct apf_err *err)
{
	if (stage == ST_OCR)
		f->full_scan_due = 1; /* the documents it did not read are pending again */
	apf_log_warn("process: %s of dataset '%s' failed: %s", step, f->dataset, err->msg);
	move_all(f, stage, ST_FAILED);
	f->stats.failures++;
	return -1;
}

/* The push after a merge, or again after a failed one: the documents at
 * "push" become "pushed", or "failed" until a later push succeeds. */
static void push_step(struct apf_flow *f)
{
	struct apf_argilla_push_stats st;
	struct apf_err err;

	apf_err_clear(&err);
	move_all(f, ST_PUSH_FAILED, ST_PUSH);
	if (push_records(f, &st, &err)) {
		if (f->stop)
			return;
		apf_log_warn("process: push of dataset '%s' failed (again in %d s): %s", f->dataset,
			     PUSH_RETRY_MS / 1000, err.msg);
		move_all(f, ST_PUSH, ST_PUSH_FAILED);
		f->stats.failures++;
		f->push_due = 1;
		f->push_after_ms = apf_now_ms() + PUSH_RETRY_MS;
		return;
	}
	f->push_due = 0;
	move_all(f, ST_PUSH, ST_PUSHED);
	apf_log_info("process: push '%s': %" PRIu64 " records: %" PRIu64 " created, %" PRIu64 " updated, %" PRIu64
		     " unchanged, %" PRIu64 " failed in %.1f s",
		     f->dataset, st.total, st.created, st.updated, st.unchanged, st.failed, st.seconds);
}

/* One round: OCR of the pending documents, then export, preannotate and
 * merge of the dataset when anything new was read (or at the first
 * round). */
static void round_once(struct apf_flow *f, int first)
{
	struct pending_job pj = { f, 0, 0, first,
				  first || f->full_scan_due || f->stats.rounds % FULL_SCAN_EVERY == 0 };
	struct apf_ocrstage_options oo;
	struct apf_ocrstage_result orr;
	struct apf_export_options eo = { f->dataset, NULL, 0, NULL };
	struct apf_export_result er;
	struct apf_pa_dataset_options po;
	struct apf_pa_dataset_result pr;
	struct apf_merge_result mr;
	struct apf_err err;
	char *gaz;
	int rc;

	apf_err_clear(&err);
	f->stats.rounds++;
	if (apf_dbwriter_run(f->writer, pending_fn, &pj, &err)) {
		if (err.code != APF_ELOCKED)
			apf_log_warn("process: cannot read the documents: %s", err.msg);
		if (first)
			f->full_scan_due = 1; /* its seeding is still to do */
		return;
	}
	if (pj.full)
		f->full_scan_due = 0;
	if (!pj.pending && !pj.unseen && !first) {
		if (f->push_due && apf_now_ms() >= f->push_after_ms)
			push_step(f);
		return;
	}
	f->stats.cycles++;
	move_all(f, ST_UPLOADED, ST_OCR);
	if (pj.pending) {
		memset(&oo, 0, sizeof(oo));
		oo.engine = APF_OCRSTAGE_AUTO;
		oo.jobs = 1; /* the server's threads keep the other core */
		oo.cancel = &f->stop;
		rc = apf_ocrstage_run(f->cfg, f->store, f->writer, &oo, &orr, &err);
		f->stats.docs += orr.docs;
		f->stats.pages += orr.pages;
		if (rc) {
			step_failed(f, "ocr", ST_OCR, &err);
			return;
		}
		if (f->stop)
			return;
		apf_log_info("process: ocr run %" PRId64 ": %" PRIu64 " documents, %" PRIu64 " pages, %" PRIu64
			     " failed", orr.run_id, orr.docs, orr.pages, orr.failed);
	}
	move_all(f, ST_OCR, ST_EXPORT);
	memset(&er, 0, sizeof(er));
	rc = apf_export_run(f->cfg, f->store, f->writer, &eo, &er, &err);
	if (rc == APF_ENOTFOUND) { /* nothing with text yet */
		move_all(f, ST_EXPORT, ST_MERGED);
		move_all(f, ST_MERGE, ST_MERGED);
		return;
	}
	if (rc) {
		step_failed(f, "export", ST_EXPORT, &err);
		return;
	}
	move_all(f, ST_EXPORT, ST_PREANNOTATE);
	memset(&po, 0, sizeof(po));
	memset(&pr, 0, sizeof(pr));
	gaz = apf_xasprintf("%s/gazetteers", apf_config_get(f->cfg, APF_CFG_DATA_DIR));
	po.dataset = f->dataset;
	po.pa.engine = APF_PA_RULES;
	po.pa.jobs = 1;
	po.pa.gazetteer_dir = gaz;
	po.pa.cancel = &f->stop;
	rc = apf_pa_dataset(f->cfg, f->store, &po, &pr, &err);
	apf_pa_dataset_result_release(&pr);
	free(gaz);
	if (rc) {
		step_failed(f, "preannotate", ST_PREANNOTATE, &err);
		return;
	}
	move_all(f, ST_PREANNOTATE, ST_MERGE);
	memset(&mr, 0, sizeof(mr));
	rc = apf_merge_run(f->cfg, f->store, f->dataset, &mr, &err);
	if (rc) {
		step_failed(f, "merge", ST_MERGE, &err);
		return;
	}
	apf_log_info("process: dataset '%s': %" PRIu64 " records in argilla_records.parquet", f->dataset, mr.pages);
	if (!f->push) {
		move_all(f, ST_MERGE, ST_MERGED);
		return;
	}
	move_all(f, ST_MERGE, ST_PUSH);
	push_step(f);
}

static void *worker(void *arg)
{
	struct apf_flow *f = arg;
	int first = 1;

	while (!f->stop) {
		struct timespec until;

		round_once(f, first);
		first = 0;
		pthread_mutex_lock(&f->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += f->poll_ms / 1000;
		until.tv_nsec += (long)(f->poll_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!f->kicked && !f->stop)
			if (pthread_cond_timedwait(&f->wake, &f->lock, &until) == ETIMEDOUT)
				break;
		f->kicked = 0;
		pthread_mutex_unlock(&f->lock);
	}
	apf_log_info("process: %lu rounds, %lu of them reading the whole documents table (%zu documents)",
		     f->stats.rounds, f->stats.full_scans, f->ndocs);
	return NULL;
}

int apf_flow_start(const struct apf_config *cfg, struct apf_store *store, struct apf_dbwriter *writer,
		   const char *dataset, int poll_ms, struct apf_flow **out, struct apf_err *err)
{
	struct apf_flow *f = apf_xcalloc(1, sizeof(*f));

	*out = NULL;
	f->cfg = cfg;
	f->store = store;
	f->writer = writer;
	f->dataset = apf_xstrdup(dataset);
	f->poll_ms = poll_ms > 0 ? poll_ms : 500;
	f->push = apf_config_get(cfg, APF_CFG_ARGILLA_API_KEY) != NULL;
	/* A round every poll_ms: the writer keeps the warehouse open from
	 * one to the next rather than open it (some 30 ms of CPU, most of an
	 * idle round) each time.  Another process that wants the files gets
	 * them at the next round (dbwriter.h). */
	if (apf_dbwriter_linger(writer) < f->poll_ms + 100)
		apf_dbwriter_set_linger(writer, f->poll_ms + 100);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	pthread_mutex_lock(&current_lock);
	if (current) {
		pthread_mutex_unlock(&current_lock);
		free(f->dataset);
		free(f);
		return apf_error(err, APF_EINVAL, "a flow worker already runs in this process");
	}
	current = f;
	pthread_mutex_unlock(&current_lock);
	if (pthread_create(&f->thread, NULL, worker, f)) {
		pthread_mutex_lock(&current_lock);
		current = NULL;
		pthread_mutex_unlock(&current_lock);
		free(f->dataset);
		free(f);
		return apf_error(err, APF_EIO, "cannot start the flow worker");
	}
	*out = f;
	return 0;
}

void apf_flow_kick(struct apf_flow *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->kicked = 1;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

void apf_flow_stop(struct apf_flow *f, struct apf_flow_stats *stats)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = 1;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_mutex_lock(&current_lock);
	current = NULL;
	pthread_mutex_unlock(&current_lock);
	if (stats)
		*stats = f->stats;
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->wake);
	free(f->docs);
	free(f->slots);
	free(f->dataset);
	free(f);
}
