/*
 * api.c: the read side of the server: the upload page, document status,
 * the list of recent uploads and the health check.  Warehouse reads run
 * as jobs of the warehouse writer (dbwriter.h), on a worker thread, so the
 * server never has the warehouse files open twice.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include "server/mhd_dl.h"

#include "apflow/db.h"
#include "apflow/ingest.h"
#include "apflow/util.h"
#include "apflow/web.h"
#include "server/server.h"

#define LIST_DEFAULT 50
#define LIST_MAX 500

void api_page_begin(struct req *rq)
{
	const struct apf_web_asset *a = apf_web_find("upload.html");

	if (!a) {
		req_reply_error(rq, 404, "ENOTFOUND", "the upload page is not built into this binary");
		return;
	}
	rq->asset = a;
	rq->status = 200;
}

/* Column c of row 0 as a JSON string, or null. */
static json_t *text_or_null(struct apf_db_result *r, uint64_t c, uint64_t row)
{
	char *s = apf_db_result_text(r, c, row);
	json_t *j = s ? json_string(s) : json_null();

	free(s);
	return j ? j : json_null();
}

static json_t *int_or_null(struct apf_db_result *r, uint64_t c, uint64_t row)
{
	if (apf_db_result_is_null(r, c, row))
		return json_null();
	return json_integer(apf_db_result_i64(r, c, row));
}

/* ---- GET /api/documents/<doc_id> ---- */

struct doc_job {
	const char *doc_id;
	json_t *doc; /* out: NULL when not found */
};

static const char doc_sql[] =
	"SELECT d.doc_id, d.filename, d.pages, d.bytes, d.sha256, "
	"  strftime(d.uploaded_at::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.%fZ'), d.status, "
	"  (SELECT count(DISTINCT p.page_num) FROM md_raw_ocr.main.pages p WHERE p.doc_id = d.doc_id), "
	"  (SELECT count(DISTINCT f.page_num) FROM md_raw_ocr.main.ocr_failures f "
	"     WHERE f.doc_id = d.doc_id AND f.page_num NOT IN "
	"       (SELECT p.page_num FROM md_raw_ocr.main.pages p WHERE p.doc_id = d.doc_id)), "
	"  (SELECT count(*) FROM md_raw_ocr.main.uploads u WHERE u.doc_id = d.doc_id), "
	"  (SELECT count(DISTINCT a.page_num) FROM md_annotated.main.annotations_pages a "
	"     WHERE a.doc_id = d.doc_id AND a.status = 'submitted'), "
	"  (SELECT count(DISTINCT a.annotator) FROM md_annotated.main.annotations_pages a "
	"     WHERE a.doc_id = d.doc_id), "
	"  (SELECT count(*) FROM md_raw_ocr.main.ocr_failures f "
	"     WHERE f.doc_id = d.doc_id AND f.page_num IS NULL) "
	"FROM md_raw_ocr.main.documents d WHERE d.doc_id = $1";

static const char *ocr_state(int64_t pages, int64_t done, int64_t failed, int64_t doc_failed)
{
	if (done == 0 && doc_failed)
		return "failed"; /* the whole document failed, no page done */
	if (done == 0 && failed == 0)
		return "pending";
	if (done + failed < pages)
		return "in_progress";
	if (failed == 0)
		return "done";
	return done ? "partial" : "failed";
}

static int doc_query(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct doc_job *job = arg;
	struct apf_db_stmt *st = NULL;
	struct apf_db_result *r = NULL;
	int rc;

	json_decref(job->doc);
	job->doc = NULL;
	rc = apf_db_prepare(db, doc_sql, &st, err);
	if (rc)
		goto out;
	apf_db_bind_text(st, 1, job->doc_id);
	rc = apf_db_stmt_exec(st, &r, err);
	if (rc || apf_db_result_rows(r) == 0)
		goto out;

	int64_t pages = apf_db_result_i64(r, 2, 0);
	int64_t done = apf_db_result_i64(r, 7, 0), failed = apf_db_result_i64(r, 8, 0);
	int64_t submitted = apf_db_result_i64(r, 10, 0), annotators = apf_db_result_i64(r, 11, 0);
	int64_t doc_failed = apf_db_result_i64(r, 12, 0);
	const char *ann = submitted == 0 ? (annotators ? "in_progress" : "not_started")
					 : submitted >= pages ? "done" : "in_progress";

	job->doc = json_object();
	json_object_set_new(job->doc, "doc_id", text_or_null(r, 0, 0));
	json_object_set_new(job->doc, "filename", text_or_null(r, 1, 0));
	json_object_set_new(job->doc, "pages", int_or_null(r, 2, 0));
	json_object_set_new(job->doc, "bytes", int_or_null(r, 3, 0));
	json_object_set_new(job->doc, "sha256", text_or_null(r, 4, 0));
	json_object_set_new(job->doc, "uploaded_at", text_or_null(r, 5, 0));
	json_object_set_new(job->doc, "status", text_or_null(r, 6, 0));
	json_object_set_new(job->doc, "uploads", int_or_null(r, 9, 0));
	json_object_set_new(job->doc, "ocr",
			    json_pack("{s:s, s:I, s:I}", "state", ocr_state(pages, done, failed, doc_failed),
				      "pages_done", (json_int_t)done, "pages_failed", (json_int_t)failed));
	json_object_set_new(job->doc, "annotation",
			    json_pack("{s:s, s:I, s:I}", "state", ann, "pages_submitted",
				      (json_int_t)submitted, "annotators", (json_int_t)annotators));
out:
	apf_db_result_free(r);
	apf_db_stmt_free(st);
	return rc;
}

static void document_work(struct req *rq)
{
	struct doc_job job = { rq->url + strlen("/api/documents/"), NULL };
	struct apf_err err;

	apf_err_clear(&err);
	if (apf_dbwriter_run(server_writer(rq->srv), doc_query, &job, &err)) {
		json_decref(job.doc);
		req_reply_err(rq, &err);
	} else if (!job.doc) {
		req_reply_error(rq, 404, "ENOTFOUND", "no document '%s'", job.doc_id);
	} else {
		req_reply_json(rq, 200, job.doc);
	}
}

void api_document_end(struct req *rq)
{
	const char *id = rq->url + strlen("/api/documents/");

	if (!apf_ingest_doc_id_valid(id)) {
		req_reply_error(rq, 400, "EINVAL", "'%.40s' is not a doc_id (20 lowercase hex digits)", id);
		return;
	}
	rq->work = document_work;
}

/* ---- GET /api/documents?limit=&after= ---- */

struct list_job {
	int64_t limit;
	int64_t after; /* -1: from the newest */
	json_t *items; /* out */
};

static int list_query(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct list_job *job = arg;
	struct apf_db_stmt *st = NULL;
	struct apf_db_result *r = NULL;
	int rc;

	json_decref(job->items);
	job->items = json_array();
	rc = apf_db_prepare(db,
			    "SELECT u.upload_id, u.doc_id, u.filename, u.bytes, u.sha256, u.duplicate, "
			    "  strftime(u.uploaded_at::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.%fZ'), d.pages, d.status "
			    "FROM md_raw_ocr.main.uploads u "
			    "LEFT JOIN md_raw_ocr.main.documents d ON d.doc_id = u.doc_id "
			    "WHERE u.upload_id < $1 ORDER BY u.upload_id DESC LIMIT $2",
			    &st, err);
	if (rc)
		goto out;
	apf_db_bind_i64(st, 1, job->after < 0 ? INT64_MAX : job->after);
	apf_db_bind_i64(st, 2, job->limit);
	rc = apf_db_stmt_exec(st, &r, err);
	if (rc)
		goto out;
	for (uint64_t i = 0; i < apf_db_result_rows(r); i++) {
		json_t *o = json_object();
		char *dup = apf_db_result_text(r, 5, i);

		json_object_set_new(o, "upload_id", int_or_null(r, 0, i));
		json_object_set_new(o, "doc_id", text_or_null(r, 1, i));
		json_object_set_new(o, "filename", text_or_null(r, 2, i));
		json_object_set_new(o, "bytes", int_or_null(r, 3, i));
		json_object_set_new(o, "sha256", text_or_null(r, 4, i));
		json_object_set_new(o, "duplicate", json_boolean(dup && (!strcmp(dup, "true") || !strcmp(dup, "1"))));
		json_object_set_new(o, "uploaded_at", text_or_null(r, 6, i));
		json_object_set_new(o, "pages", int_or_null(r, 7, i));
		json_object_set_new(o, "status", text_or_null(r, 8, i));
		free(dup);
		json_array_append_new(job->items, o);
	}
out:
	apf_db_result_free(r);
	apf_db_stmt_free(st);
	return rc;
}

static void documents_work(struct req *rq)
{
	struct list_job *job = rq->h;
	struct apf_err err;
	size_t n;
	json_t *next = json_null();

	apf_err_clear(&err);
	if (apf_dbwriter_run(server_writer(rq->srv), list_query, job, &err)) {
		req_reply_err(rq, &err);
		goto out;
	}
	n = json_array_size(job->items);
	if ((int64_t)n == job->limit)
		next = json_incref(json_object_get(json_array_get(job->items, n - 1), "upload_id"));
	req_reply_json(rq, 200, json_pack("{s:O, s:o}", "uploads", job->items, "next", next));
out:
	json_decref(job->items);
	job->items = NULL;
}

void api_documents_cleanup(struct req *rq)
{
	struct list_job *job = rq->h;

	if (job)
		json_decref(job->items);
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
		req_reply_error(rq, 400, "EUSAGE", "bad query: limit is 1..%d, after an upload_id", LIST_MAX);
		return;
	}
	rq->h = job;
	rq->work = documents_work;
}

/* ---- GET /healthz ---- */

#define LIST_STOP 1000 /* any value that is not an APF_E* code */

static int stop_at_first(const struct apf_store_stat *st, void *arg)
{
	(void)st;
	(void)arg;
	return LIST_STOP;
}

static int select_one(struct apf_db *db, void *arg, struct apf_err *err)
{
	(void)arg;
	return apf_db_exec(db, "SELECT 1", err);
}

static void healthz_work(struct req *rq)
{
	struct apf_err serr, derr;
	int src, drc;

	apf_err_clear(&serr);
	apf_err_clear(&derr);
	src = apf_store_list(server_store(rq->srv), "raw/", stop_at_first, NULL, &serr);
	if (src == LIST_STOP)
		src = 0;
	drc = apf_dbwriter_run(server_writer(rq->srv), select_one, NULL, &derr);
	req_reply_json(rq, src || drc ? 503 : 200,
		       json_pack("{s:b, s:s, s:s}", "ok", !src && !drc, "store", src ? serr.msg : "ok",
				 "warehouse", drc ? derr.msg : "ok"));
}

void api_healthz_end(struct req *rq)
{
	rq->work = healthz_work;
}
