/*
 * catalog.c: read-only warehouse queries on documents and uploads (see
 * catalog.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/catalog.h"
#include "apflow/util.h"

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

static const char uploads_sql[] =
	"SELECT u.upload_id, u.doc_id, u.filename, u.bytes, u.sha256, u.duplicate, "
	"  strftime(u.uploaded_at::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.%fZ'), d.pages, d.status "
	"FROM md_raw_ocr.main.uploads u "
	"LEFT JOIN md_raw_ocr.main.documents d ON d.doc_id = u.doc_id "
	"WHERE u.upload_id < $1 ORDER BY u.upload_id DESC LIMIT $2";

static int64_t i64_or(struct apf_db_result *r, uint64_t c, uint64_t row, int64_t dflt)
{
	return apf_db_result_is_null(r, c, row) ? dflt : apf_db_result_i64(r, c, row);
}

const char *apf_catalog_ocr_state(int64_t pages, int64_t done, int64_t failed, int64_t doc_failures)
{
	if (done == 0 && doc_failures)
		return "failed"; /* the whole document failed, no page done */
	if (done == 0 && failed == 0)
		return "pending";
	if (done + failed < pages)
		return "in_progress";
	if (failed == 0)
		return "done";
	return done ? "partial" : "failed";
}

static const char *annotation_state(int64_t pages, int64_t submitted, int64_t annotators)
{
	if (submitted == 0)
		return annotators ? "in_progress" : "not_started";
	return submitted >= pages ? "done" : "in_progress";
}

void apf_catalog_doc_release(struct apf_catalog_doc *d)
{
	if (!d)
		return;
	free(d->doc_id);
	free(d->filename);
	free(d->sha256);
	free(d->uploaded_at);
	free(d->status);
	memset(d, 0, sizeof(*d));
}

int apf_catalog_document(struct apf_db *db, const char *doc_id, struct apf_catalog_doc *out, int *found,
			 struct apf_err *err)
{
	struct apf_db_stmt *st = NULL;
	struct apf_db_result *r = NULL;
	struct apf_catalog_doc d;
	int rc;

	memset(&d, 0, sizeof(d));
	rc = apf_db_prepare(db, doc_sql, &st, err);
	if (rc)
		goto out;
	apf_db_bind_text(st, 1, doc_id);
	rc = apf_db_stmt_exec(st, &r, err);
	if (rc)
		goto out;
	if (apf_db_result_rows(r) == 0) {
		memset(out, 0, sizeof(*out));
		*found = 0;
		goto out;
	}
	d.doc_id = apf_db_result_text(r, 0, 0);
	d.filename = apf_db_result_text(r, 1, 0);
	d.pages = i64_or(r, 2, 0, -1);
	d.bytes = i64_or(r, 3, 0, -1);
	d.sha256 = apf_db_result_text(r, 4, 0);
	d.uploaded_at = apf_db_result_text(r, 5, 0);
	d.status = apf_db_result_text(r, 6, 0);
	d.pages_done = i64_or(r, 7, 0, 0);
	d.pages_failed = i64_or(r, 8, 0, 0);
	d.uploads = i64_or(r, 9, 0, 0);
	d.pages_submitted = i64_or(r, 10, 0, 0);
	d.annotators = i64_or(r, 11, 0, 0);
	d.doc_failures = i64_or(r, 12, 0, 0);
	d.ocr_state = apf_catalog_ocr_state(d.pages, d.pages_done, d.pages_failed, d.doc_failures);
	d.annotation_state = annotation_state(d.pages, d.pages_submitted, d.annotators);
	*out = d;
	*found = 1;
out:
	apf_db_result_free(r);
	apf_db_stmt_free(st);
	return rc;
}

void apf_catalog_uploads_release(struct apf_catalog_uploads *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++) {
		struct apf_catalog_upload *u = &list->v[i];

		free(u->doc_id);
		free(u->filename);
		free(u->sha256);
		free(u->uploaded_at);
		free(u->status);
	}
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

int apf_catalog_uploads(struct apf_db *db, int64_t limit, int64_t after, struct apf_catalog_uploads *out,
			struct apf_err *err)
{
	struct apf_db_stmt *st = NULL;
	struct apf_db_result *r = NULL;
	struct apf_catalog_uploads list = { NULL, 0 };
	uint64_t rows;
	int rc;

	rc = apf_db_prepare(db, uploads_sql, &st, err);
	if (rc)
		goto out;
	apf_db_bind_i64(st, 1, after < 0 ? INT64_MAX : after);
	apf_db_bind_i64(st, 2, limit);
	rc = apf_db_stmt_exec(st, &r, err);
	if (rc)
		goto out;
	rows = apf_db_result_rows(r);
	if (rows)
		list.v = apf_xcalloc(rows, sizeof(*list.v));
	for (uint64_t i = 0; i < rows; i++) {
		struct apf_catalog_upload *u = &list.v[list.n++];
		char *dup = apf_db_result_text(r, 5, i);

		u->upload_id = i64_or(r, 0, i, -1);
		u->doc_id = apf_db_result_text(r, 1, i);
		u->filename = apf_db_result_text(r, 2, i);
		u->bytes = i64_or(r, 3, i, -1);
		u->sha256 = apf_db_result_text(r, 4, i);
		u->duplicate = dup && (!strcmp(dup, "true") || !strcmp(dup, "1"));
		u->uploaded_at = apf_db_result_text(r, 6, i);
		u->pages = i64_or(r, 7, i, -1);
		u->status = apf_db_result_text(r, 8, i);
		free(dup);
	}
	*out = list;
	list.v = NULL;
	list.n = 0;
out:
	apf_catalog_uploads_release(&list);
	apf_db_result_free(r);
	apf_db_stmt_free(st);
	return rc;
}

int apf_catalog_ping(struct apf_db *db, struct apf_err *err)
{
	return apf_db_exec(db, "SELECT 1", err);
}
