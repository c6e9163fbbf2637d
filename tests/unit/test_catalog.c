/*
 * test_catalog.c: the warehouse reads behind GET /api/documents[/<id>]
 * (catalog.h), on a warehouse filled by SQL: fields, NULLs, derived
 * states, pagination, and a doc_id that would be SQL if pasted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "apflow/catalog.h"
#include "apflow/db.h"
#include "apflow/migrate.h"
#include "apflow/util.h"

struct world {
	char dir[64];
	struct apf_config cfg;
	struct apf_db *db;
};

static const char fill[] =
	"INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes, pages, uploaded_at) VALUES "
	"  ('aaaaaaaaaaaaaaaaaaaa', repeat('a', 64), 'été.pdf', 100, 3, TIMESTAMPTZ '2025-01-31 12:34:56.5+00'), "
	"  ('bbbbbbbbbbbbbbbbbbbb', repeat('b', 64), NULL, 200, 2, TIMESTAMPTZ '2025-02-01 00:00:00+00'), "
	"  ('cccccccccccccccccccc', repeat('c', 64), 'c.pdf', 300, NULL, TIMESTAMPTZ '2025-02-02 00:00:00+00');"
	"INSERT INTO md_raw_ocr.main.uploads (doc_id, filename, bytes, sha256, duplicate) VALUES "
	"  ('aaaaaaaaaaaaaaaaaaaa', 'été.pdf', 100, repeat('a', 64), false), "
	"  ('bbbbbbbbbbbbbbbbbbbb', NULL, 200, repeat('b', 64), false), "
	"  ('aaaaaaaaaaaaaaaaaaaa', 'again.pdf', 100, repeat('a', 64), true), "
	"  ('dddddddddddddddddddd', 'orphan.pdf', 5, repeat('d', 64), false);"
	/* a: pages 1 and 2 read (page 1 twice), page 3 failed: partial. */
	"INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars) VALUES "
	"  ('aaaaaaaaaaaaaaaaaaaa', 1, 1, 'mupdf', 'x', 'h', 1), ('aaaaaaaaaaaaaaaaaaaa', 1, 2, 'mupdf', 'x', 'h', 1), "
	"  ('aaaaaaaaaaaaaaaaaaaa', 2, 1, 'mupdf', 'y', 'h', 1);"
	"INSERT INTO md_raw_ocr.main.ocr_failures (doc_id, page_num, ocr_run_id, error) VALUES "
	"  ('aaaaaaaaaaaaaaaaaaaa', 3, 1, 'boom'), ('bbbbbbbbbbbbbbbbbbbb', NULL, 1, 'damaged');"
	"INSERT INTO md_annotated.main.annotations_pages (export_run_id, doc_id, page_num, annotator, argilla_dataset, status) VALUES "
	"  (1, 'aaaaaaaaaaaaaaaaaaaa', 1, 'u1', 'ds', 'submitted'), (1, 'aaaaaaaaaaaaaaaaaaaa', 2, 'u2', 'ds', 'draft');";

static int world_setup(void **state)
{
	struct world *w = apf_xcalloc(1, sizeof(*w));
	struct apf_err err;

	snprintf(w->dir, sizeof(w->dir), "/tmp/apflow-test-catalog.XXXXXX");
	if (!mkdtemp(w->dir) || apf_config_load(&w->cfg, NULL, &err) ||
	    apf_config_set_flag(&w->cfg, "data_dir", w->dir, "test", &err) || apf_db_open(&w->cfg, &w->db, &err) ||
	    apf_migrate(w->db, 0, NULL, NULL, &err) || apf_db_exec(w->db, fill, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;
	char *cmd = apf_xasprintf("rm -rf '%s'", w->dir);

	apf_db_close(w->db);
	apf_config_release(&w->cfg);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", w->dir);
	free(cmd);
	free(w);
	return 0;
}

static void test_document(void **state)
{
	struct world *w = *state;
	struct apf_catalog_doc d;
	struct apf_err err;
	int found = -1;

	assert_int_equal(apf_catalog_document(w->db, "aaaaaaaaaaaaaaaaaaaa", &d, &found, &err), 0);
	assert_int_equal(found, 1);
	assert_string_equal(d.doc_id, "aaaaaaaaaaaaaaaaaaaa");
	assert_string_equal(d.filename, "été.pdf");
	assert_int_equal(d.pages, 3);
	assert_int_equal(d.bytes, 100);
	assert_string_equal(d.uploaded_at, "2025-01-31T12:34:56.500000Z");
	assert_string_equal(d.status, "uploaded");
	assert_int_equal(d.uploads, 2);
	assert_int_equal(d.pages_done, 2);
	assert_int_equal(d.pages_failed, 1);
	assert_string_equal(d.ocr_state, "partial");
	assert_int_equal(d.pages_submitted, 1);
	assert_int_equal(d.annotators, 2);
	assert_string_equal(d.annotation_state, "in_progress");
	apf_catalog_doc_release(&d);

	assert_int_equal(apf_catalog_document(w->db, "bbbbbbbbbbbbbbbbbbbb", &d, &found, &err), 0);
	assert_null(d.filename);
	assert_int_equal(d.doc_failures, 1);
	assert_string_equal(d.ocr_state, "failed");
	assert_string_equal(d.annotation_state, "not_started");
	apf_catalog_doc_release(&d);

	assert_int_equal(apf_catalog_document(w->db, "cccccccccccccccccccc", &d, &found, &err), 0);
	assert_int_equal(d.pages, -1);
	assert_string_equal(d.ocr_state, "pending");
	apf_catalog_doc_release(&d);

	/* Bound, never pasted: this is just an unknown id. */
	assert_int_equal(apf_catalog_document(w->db, "x' OR '1'='1", &d, &found, &err), 0);
	assert_int_equal(found, 0);
	assert_null(d.doc_id);
}

static void test_uploads(void **state)
{
	struct world *w = *state;
	struct apf_catalog_uploads l = { NULL, 0 };
	struct apf_err err;
	int64_t last;

	assert_int_equal(apf_catalog_uploads(w->db, 3, -1, &l, &err), 0);
	assert_int_equal(l.n, 3);
	assert_true(l.v[0].upload_id > l.v[1].upload_id && l.v[1].upload_id > l.v[2].upload_id);
	assert_string_equal(l.v[0].doc_id, "dddddddddddddddddddd");
	assert_int_equal(l.v[0].pages, -1);     /* no documents row */
	assert_null(l.v[0].status);
	assert_string_equal(l.v[1].filename, "again.pdf");
	assert_int_equal(l.v[1].duplicate, 1);
	assert_null(l.v[2].filename);
	assert_int_equal(l.v[2].pages, 2);
	last = l.v[2].upload_id;
	apf_catalog_uploads_release(&l);
	assert_int_equal(apf_catalog_uploads(w->db, 3, last, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].filename, "été.pdf");
	assert_int_equal(l.v[0].duplicate, 0);
	apf_catalog_uploads_release(&l);
	assert_int_equal(apf_catalog_ping(w->db, &err), 0);
}

static void test_ocr_state(void **state)
{
	(void)state;
	assert_string_equal(apf_catalog_ocr_state(3, 0, 0, 0), "pending");
	assert_string_equal(apf_catalog_ocr_state(3, 1, 0, 0), "in_progress");
	assert_string_equal(apf_catalog_ocr_state(3, 3, 0, 0), "done");
	assert_string_equal(apf_catalog_ocr_state(3, 2, 1, 0), "partial");
	assert_string_equal(apf_catalog_ocr_state(3, 0, 3, 0), "failed");
	assert_string_equal(apf_catalog_ocr_state(3, 0, 0, 1), "failed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_document, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_uploads, world_setup, world_teardown),
		cmocka_unit_test(test_ocr_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
