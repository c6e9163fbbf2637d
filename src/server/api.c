/*
 * api.c: the read side of the server: document status, the list of
 * recent uploads and the health check.  The queries live in the core
 * (catalog.h); here they run as jobs of the warehouse writer (dbwriter.h),
 * on a worker thread, so the server never has the warehouse files open
 * twice, and their structs become JSON.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/catalog.h"
#include "apflow/flow.h"
#include "apflow/ingest.h"
#include "apflow/log.h"
#include "apflow/util.h"
#include "server/server_int.h"

#define LIST_DEFAULT 50
#define LIST_MAX 500

/* A member of a reply object: a string (NULL: null), a count (< 0:
 * null) or a truth value. */
struct member {
	const char *key;
	enum { M_STR, M_NUM, M_BOOL } kind;
	const char *s;
	int64_t n;
};

#define STR(k, v) { k, M_STR, v, 0 }
#define NUM(k, v) { k, M_NUM, NULL, v }

static json_t *object_of(const struct member *m, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++) {
		json_t *v = NULL;

		if (m[i].kind == M_STR)
			v = m[i].s ? json_string(m[i].s) : NULL;
		else if (m[i].kind == M_BOOL)
			v = json_boolean(m[i].n);
		else if (m[i].n >= 0)
			v = json_integer(m[i].n);
		json_object_set_new(o, m[i].key, v ? v : json_null());
	}
	return o;
}

/* ---- GET /api/documents/<doc_id> ---- */

struct doc_job {
	const char *doc_id;
	struct apf_catalog_doc doc;
	int found;
};

static int doc_query(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct doc_job *job = arg;

	apf_catalog_doc_release(&job->doc);
	job->found = 0;
	return apf_catalog_document(db, job->doc_id, &job->doc, &job->found, err);
}

static json_t *doc_json(const struct apf_catalog_doc *d)
{
	const struct member m[] = {
		STR("doc_id", d->doc_id),   STR("filename", d->filename),       NUM("pages", d->pages),
		NUM("bytes", d->bytes),     STR("sha256", d->sha256),           STR("uploaded_at", d->uploaded_at),
		STR("status", d->status),   NUM("uploads", d->uploads),
	};
	json_t *o = object_of(m, sizeof(m) / sizeof(m[0]));

	json_object_set_new(o, "ocr",
			    json_pack("{s:s, s:I, s:I}", "state", d->ocr_state, "pages_done",
				      (json_int_t)d->pages_done, "pages_failed", (json_int_t)d->pages_failed));
	json_object_set_new(o, "annotation",
			    json_pack("{s:s, s:I, s:I}", "state", d->annotation_state, "pages_submitted",
				      (json_int_t)d->pages_submitted, "annotators", (json_int_t)d->annotators));
	{
		/* serve --process: where the worker has the document (flow.h) */
		char buf[32];
		const char *stage = d->doc_id ? apf_flow_doc_stage(d->doc_id, buf, sizeof(buf)) : NULL;
		json_object_set_new(o, "stage", stage ? json_string(stage) : json_null());
	}
	return o;
}

static void document_work(struct req *rq)
{
	struct doc_job job;
	struct apf_err err;

	memset(&job, 0, sizeof(job));
	job.doc_id = rq->url + strlen("/api/documents/");
	apf_err_clear(&err);
	if (apf_dbwriter_run(server_writer(rq->srv), doc_query, &job, &err))
		req_reply_err(rq, &err);
	else if (!job.found)
		req_reply_error(rq, APF_ENOTFOUND, "no document '%s'", job.doc_id);
	else
		req_reply_json(rq, 200, doc_json(&job.doc));
	apf_catalog_doc_release(&job.doc);
}

void api_document_end(struct req *rq)
{
	const char *id = rq->url + strlen("/api/documents/");

	if (!apf_ingest_doc_id_valid(id)) {
		req_reply_error(rq, APF_EINVAL, "'%.40s' is not a doc_id (20 lowercase hex digits)", id);
		return;
	}
	rq->work = document_work;
}

/* ---- GET /api/documents?limit=&after= ---- */

struct list_job {
	int64_t limit;
	int64_t after; /* -1: from the newest */
	struct apf_catalog_uploads list; /* out */
};

static int list_query(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct list_job *job = arg;

	apf_catalog_uploads_release(&job->list);
	return apf_catalog_uploads(db, job->limit, job->after, &job->list, err);
}

static json_t *upload_json(const struct apf_catalog_upload *u)
{
	const struct member m[] = {
		NUM("upload_id", u->upload_id), STR("doc_id", u->doc_id),   STR("filename", u->filename),
		NUM("bytes", u->bytes),         STR("sha256", u->sha256),   { "duplicate", M_BOOL, NULL, u->duplicate },
		STR("uploaded_at", u->uploaded_at), NUM("pages", u->pages), STR("status", u->status),
	};

	return object_of(m, sizeof(m) / sizeof(m[0]));
}

static void documents_work(struct req *rq)
{
	struct list_job *job = rq->h;
	struct apf_err err;
	json_t *items, *next = json_null();

	apf_err_clear(&err);
	if (apf_dbwriter_run(server_writer(rq->srv), list_query, job, &err)) {
		req_reply_err(rq, &err);
		goto out;
	}
	items = json_array();
	for (size_t i = 0; i < job->list.n; i++)
		json_array_append_new(items, upload_json(&job->list.v[i]));
	if (job->list.n && (int64_t)job->list.n == job->limit)
		next = json_integer(job->list.v[job->list.n - 1].upload_id);
	req_reply_json(rq, 200, json_pack("{s:o, s:o}", "uploads", items, "next", next));
out:
	apf_catalog_uploads_release(&job->list);
}

void api_documents_cleanup(struct req *rq)
{
	struct list_job *job = rq->h;

	if (job)
		apf_catalog_uploads_release(&job->list);
	free(job);
	rq->h = NULL;
}

void api_documents_end(struct req *rq)
{
	const char *limit = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "limit");
	const char *after = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "after");
	struct list_job *job = apf_xcalloc(1, sizeof(*job));

	job->limit = LIST_DEFAULT;
	job->after = -1;
	if ((limit && (apf_parse_i64(limit, &job->limit) || job->limit < 1 || job->limit > LIST_MAX)) ||
	    (after && (apf_parse_i64(after, &job->after) || job->after < 0))) {
		free(job);
		req_reply_error(rq, APF_EINVAL, "bad query: limit is 1..%d, after an upload_id", LIST_MAX);
		return;
	}
	rq->h = job;
	rq->work = documents_work;
}

/* ---- GET /healthz ---- */

/*
 * Open to anyone, so it says only whether the server can do its work:
 * never a path, a lock holder or a message.  The reason goes to the log,
 * once per change of state, not once per probe.
 */

#define LIST_STOP 1000 /* any value that is not an APF_E* code */

static int stop_at_first(const struct apf_store_stat *st, void *arg)
{
	(void)st;
	(void)arg;
	return LIST_STOP;
}

static int ping(struct apf_db *db, void *arg, struct apf_err *err)
{
	(void)arg;
	return apf_catalog_ping(db, err);
}

static void healthz_work(struct req *rq)
{
	static atomic_int last_bad;
	struct apf_err serr, derr;
	int src, drc, bad;

	apf_err_clear(&serr);
	apf_err_clear(&derr);
	src = apf_store_list(server_store(rq->srv), "raw/", stop_at_first, NULL, &serr);
	if (src == LIST_STOP)
		src = 0;
	drc = apf_dbwriter_run(server_writer(rq->srv), ping, NULL, &derr);
	bad = (src != 0) | (drc != 0) << 1;
	if (atomic_exchange(&last_bad, bad) != bad) {
		if (src)
			apf_log_warn("healthz: store: %s", serr.msg);
		if (drc)
			apf_log_warn("healthz: warehouse: %s", derr.msg);
		if (!bad)
			apf_log_info("healthz: healthy again");
	}
	if (bad) {
		req_reply_error(rq, APF_EUNAVAIL, "%s unavailable",
				bad == 3 ? "the store and the warehouse are" : src ? "the store is" : "the warehouse is");
		return;
	}
	req_reply_json(rq, 200, json_pack("{s:s}", "status", "ok"));
}

void api_healthz_end(struct req *rq)
{
	rq->work = healthz_work;
}
