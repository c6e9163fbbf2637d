/* test_ingest.c: the filename sanitizer, doc_id checks, the spool, the
 * group-commit writer's queue, and the whole ingest path against a
 * file:// store and a local warehouse in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>

#include "apflow/buf.h"
#include "apflow/db.h"
#include "apflow/dbwriter.h"
#include "apflow/ingest.h"
#include "apflow/migrate.h"
#include "apflow/store.h"
#include "apflow/util.h"

static void check_name(const char *in, size_t len, const char *want)
{
	char *got = apf_ingest_sanitize_filename(in, len);

	assert_string_equal(got, want);
	free(got);
}

static void test_sanitize(void **state)
{
	(void)state;
	check_name("report.pdf", 10, "report.pdf");
	check_name("../../etc/passwd", 16, "passwd");
	check_name("C:\\Users\\x\\scan.pdf", 19, "scan.pdf");
	check_name("a\0b.pdf", 7, "ab.pdf");
	check_name("line\nbreak\r\t.pdf", 16, "linebreak.pdf");
	check_name("\x1b[31mred.pdf", 12, "[31mred.pdf");
	check_name("..", 2, "upload.pdf");
	check_name("dir/", 4, "upload.pdf");
	check_name("", 0, "upload.pdf");
	check_name(NULL, 5, "upload.pdf");
	check_name(".hidden.pdf", 11, "hidden.pdf");
	check_name("  spaced.pdf  ", 14, "spaced.pdf");
	/* UTF-8 is kept; bad bytes become U+FFFD; bidi overrides go. */
	check_name("caf\xc3\xa9.pdf", 9, "caf\xc3\xa9.pdf");
	check_name("bad\xff.pdf", 8, "bad\xef\xbf\xbd.pdf");
	check_name("over\xc0\xaflong.pdf", 14, "over\xef\xbf\xbd\xef\xbf\xbdlong.pdf");
	check_name("x\xe2\x80\xaegnp.pdf", 12, "xgnp.pdf");
	/* A cut sequence is one U+FFFD, as everywhere else (utf8.h: maximal
	 * ill-formed subpart), not one per byte. */
	check_name("cut\xe2\x82.pdf", 9, "cut\xef\xbf\xbd.pdf");

	/* The cap: at most APF_FILENAME_MAX bytes, cut between characters. */
	char longname[600];
	for (size_t i = 0; i < 300; i++) {
		longname[2 * i] = '\xc3';
		longname[2 * i + 1] = '\xa9';
	}
	char *got = apf_ingest_sanitize_filename(longname, 600);
	assert_true(strlen(got) <= APF_FILENAME_MAX);
	assert_int_equal(strlen(got) % 2, 0);
	free(got);
	/* Bad bytes to the cap: 85 U+FFFD fill all 255 bytes. */
	memset(longname, 0xff, 100);
	got = apf_ingest_sanitize_filename(longname, 100);
	assert_int_equal(strlen(got), APF_FILENAME_MAX);
	assert_memory_equal(got + 252, "\xef\xbf\xbd", 3);
	free(got);
}

static void test_doc_id(void **state)
{
	(void)state;
	assert_true(apf_ingest_doc_id_valid("0123456789abcdef0123"));
	assert_false(apf_ingest_doc_id_valid("0123456789abcdef012"));
	assert_false(apf_ingest_doc_id_valid("0123456789abcdef01234"));
	assert_false(apf_ingest_doc_id_valid("0123456789ABCDEF0123"));
	assert_false(apf_ingest_doc_id_valid("../456789abcdef01234"));
}

static void test_spool(void **state)
{
	char dir[] = "/tmp/apflow-test-ingest.XXXXXX";
	struct apf_config cfg;
	struct apf_err err;
	struct apf_ingest *ing = NULL;
	struct apf_ingest_spool sp;
	char want[APF_SHA256_HEX];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(apf_config_load(&cfg, NULL, &err), 0);
	assert_int_equal(apf_config_set_flag(&cfg, "data_dir", dir, "test", &err), 0);
	assert_int_equal(apf_ingest_new(&cfg, NULL, NULL, &ing, &err), 0);

	assert_int_equal(apf_ingest_spool_open(ing, 10, &sp, &err), 0);
	assert_int_equal(apf_ingest_spool_write(&sp, "%PDF-", 5, &err), 0);
	assert_int_equal(apf_ingest_spool_write(&sp, "12345", 5, &err), 0);
	/* One byte past the bound is refused. */
	assert_int_equal(apf_ingest_spool_write(&sp, "x", 1, &err), APF_ETOOBIG);
	assert_int_equal(apf_ingest_spool_finish(&sp, &err), 0);
	apf_sha256_hex("%PDF-12345", 10, want);
	assert_string_equal(sp.sha256, want);
	assert_int_equal(sp.bytes, 10);
	assert_int_equal(access(sp.path, F_OK), 0);
	char *path = apf_xstrdup(sp.path);
	apf_ingest_spool_discard(&sp);
	apf_ingest_spool_discard(&sp); /* twice is fine */
	assert_int_not_equal(access(path, F_OK), 0);
	free(path);

	apf_ingest_free(ing);
	apf_config_release(&cfg);
	char *tmp = apf_xasprintf("%s/tmp", dir);
	rmdir(tmp);
	free(tmp);
	rmdir(dir);
}

/* ---- the writer: many threads, one queue, bad jobs fail alone ---- */

struct thread_arg {
	struct apf_dbwriter *w;
	int id;
	int ok, failed;
};

static int good_job(struct apf_db *db, void *arg, struct apf_err *err)
{
	(void)arg;
	return apf_db_exec(db, "SELECT 42", err);
}

static int bad_job(struct apf_db *db, void *arg, struct apf_err *err)
{
	(void)arg;
	return apf_db_exec(db, "SELECT * FROM no_such_table_here", err);
}

static void *writer_client(void *p)
{
	struct thread_arg *a = p;

	for (int i = 0; i < 20; i++) {
		struct apf_err err;
		int bad = (a->id + i) % 5 == 0;
		apf_err_clear(&err);
		if (apf_dbwriter_run(a->w, bad ? bad_job : good_job, NULL, &err) == 0)
			a->ok++;
		else if (bad && err.code == APF_ESQL && strstr(err.msg, "no_such_table_here"))
			a->failed++;
	}
	return NULL;
}

/* A writer over a fresh warehouse in dir (a mkdtemp() template). */
static struct apf_dbwriter *writer_in(char *dir, struct apf_config *cfg)
{
	struct apf_dbwriter *w = NULL;
	struct apf_err err;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(apf_config_load(cfg, NULL, &err), 0);
	assert_int_equal(apf_config_set_flag(cfg, "data_dir", dir, "test", &err), 0);
	assert_int_equal(apf_dbwriter_new(cfg, 0, &w, &err), 0);
	return w;
}

static void writer_done(struct apf_dbwriter *w, struct apf_config *cfg, const char *dir)
{
	char *cmd = apf_xasprintf("rm -rf '%s'", dir);

	apf_dbwriter_free(w);
	apf_config_release(cfg);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_writer(void **state)
{
	char dir[] = "/tmp/apflow-test-writer.XXXXXX";
	struct apf_config cfg;
	struct apf_dbwriter *w = writer_in(dir, &cfg);
	struct apf_dbwriter_stats st;
	pthread_t t[8];
	struct thread_arg args[8];
	int ok = 0, failed = 0;

	(void)state;
	for (int i = 0; i < 8; i++) {
		args[i] = (struct thread_arg){ w, i, 0, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, writer_client, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ok += args[i].ok;
		failed += args[i].failed;
	}
	apf_dbwriter_stats(w, &st);
	assert_int_equal(ok, 128);    /* 4 of 5 jobs are good */
	assert_int_equal(failed, 32); /* each bad one failed alone, with its own message */
	assert_int_equal(st.jobs, 128);
	assert_int_equal(st.failures, 32);
	assert_true(st.batches <= 160);
	writer_done(w, &cfg, dir);
}

/* ---- announced jobs: the writer waits for them, within its limit ---- */

static int count_job(struct apf_db *db, void *const *args, size_t n, struct apf_err *err)
{
	for (size_t i = 0; i < n; i++)
		*(size_t *)args[i] = n; /* the size of the call it was part of */
	return apf_db_exec(db, "SELECT 1", err);
}

struct gather_arg {
	struct apf_dbwriter *w;
	size_t seen;
	int rc;
};

static void *unannounced_client(void *p)
{
	struct gather_arg *a = p;

	a->rc = apf_dbwriter_run_batch(a->w, count_job, &a->seen, NULL);
	return NULL;
}

static void test_writer_gather(void **state)
{
	char dir[] = "/tmp/apflow-test-gather.XXXXXX";
	struct apf_config cfg;
	struct apf_err err;
	struct apf_dbwriter *w = writer_in(dir, &cfg);
	struct apf_dbwriter_stats st;
	struct gather_arg a;
	size_t seen = 0;
	pthread_t t;
	int64_t t0, waited;

	(void)state;

	/* One job announced and queued 50 ms after another: one batch. */
	apf_dbwriter_set_gather(w, 2000000);
	apf_dbwriter_expect(w, +1);
	a = (struct gather_arg){ w, 0, -1 };
	assert_int_equal(pthread_create(&t, NULL, unannounced_client, &a), 0);
	usleep(50000);
	assert_int_equal(apf_dbwriter_run_batch_ex(w, count_job, &seen, APF_DBWRITER_ANNOUNCED, &err), 0);
	pthread_join(t, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.seen, 2);
	assert_int_equal(seen, 2);
	apf_dbwriter_stats(w, &st);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.jobs, 2);

	/* A job announced that never comes delays the batch by the limit only. */
	apf_dbwriter_set_gather(w, 60000);
	apf_dbwriter_expect(w, +1);
	t0 = apf_now_ms();
	assert_int_equal(apf_dbwriter_run_batch(w, count_job, &seen, &err), 0);
	waited = apf_now_ms() - t0;
	assert_true(waited >= 55);
	assert_int_equal(seen, 1);

	/* Taken back, it delays nothing: nothing waits 2 s. */
	apf_dbwriter_set_gather(w, 2000000);
	apf_dbwriter_expect(w, -1);
	t0 = apf_now_ms();
	assert_int_equal(apf_dbwriter_run_batch(w, count_job, &seen, &err), 0);
	assert_true(apf_now_ms() - t0 < 1500);
	apf_dbwriter_stats(w, &st);
	assert_int_equal(st.batches, 3);
	assert_int_equal(st.jobs, 4);
	writer_done(w, &cfg, dir);
}

/* ---- the whole path: spool, check, move into the store, record ---- */

/* A one-page PDF whose page says text, followed by tail_len bytes of tail
 * (junk, or the start of a revision); cut to keep bytes when keep > 0. */
static void write_pdf(const char *path, const char *text, const char *tail, size_t tail_len, size_t keep)
{
	struct apf_buf b;
	struct apf_err err;
	size_t off[6], xref;
	char stream[256];

	apf_buf_init(&b, 1 << 20);
	apf_buf_adds(&b, "%PDF-1.4\n");
	off[1] = b.len;
	apf_buf_adds(&b, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
	off[2] = b.len;
	apf_buf_adds(&b, "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
	off[3] = b.len;
	apf_buf_adds(&b, "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
			 "/Resources << /Font << /F1 5 0 R >> >> >>\nendobj\n");
	off[4] = b.len;
	snprintf(stream, sizeof(stream), "BT /F1 12 Tf 72 770 Td (%s) Tj ET", text);
	apf_buf_addf(&b, "4 0 obj\n<< /Length %zu >>\nstream\n%s\nendstream\nendobj\n", strlen(stream), stream);
	off[5] = b.len;
	apf_buf_adds(&b, "5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n");
	xref = b.len;
	apf_buf_adds(&b, "xref\n0 6\n0000000000 65535 f \n");
	for (int i = 1; i <= 5; i++)
		apf_buf_addf(&b, "%010zu 00000 n \n", off[i]);
	apf_buf_addf(&b, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
	if (tail_len)
		apf_buf_add(&b, tail, tail_len);
	assert_non_null(b.data);
	assert_int_equal(apf_write_file_atomic(path, b.data, keep ? keep : b.len, &err), 0);
	apf_buf_release(&b);
}

struct world {
	char dir[64];
	struct apf_config cfg;
	struct apf_store *store;
	struct apf_dbwriter *writer;
	struct apf_ingest *ing;
};

static int world_setup(void **state)
{
	struct world *w = apf_xcalloc(1, sizeof(*w));
	struct apf_err err;
	struct apf_db *db = NULL;
	char *url;

	snprintf(w->dir, sizeof(w->dir), "/tmp/apflow-test-ingest-path.XXXXXX");
	if (!mkdtemp(w->dir) || apf_config_load(&w->cfg, NULL, &err) ||
	    apf_config_set_flag(&w->cfg, "data_dir", w->dir, "test", &err))
		return -1;
	url = apf_xasprintf("file://%s/lake", w->dir);
	if (apf_config_set_flag(&w->cfg, "store", url, "test", &err) || apf_db_open(&w->cfg, &db, &err) ||
	    apf_migrate(db, 0, NULL, NULL, &err))
		return -1;
	free(url);
	apf_db_close(db);
	if (apf_store_open(&w->cfg, &w->store, &err) ||
	    apf_dbwriter_new_ex(&w->cfg, 0, APF_DB_ONE_THREAD, &w->writer, &err) ||
	    apf_ingest_new(&w->cfg, w->store, w->writer, &w->ing, &err))
		return -1;
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;
	char *cmd = apf_xasprintf("rm -rf '%s'", w->dir);

	apf_ingest_free(w->ing);
	apf_dbwriter_free(w->writer);
	apf_store_free(w->store);
	apf_config_release(&w->cfg);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", w->dir);
	free(cmd);
	free(w);
	return 0;
}

/* Spools the file at path and ingests it; returns the ingest's code. */
static int ingest_path(struct world *w, const char *path, struct apf_ingest_result *res, struct apf_err *err)
{
	struct apf_ingest_spool sp;
	char *data = NULL, *spooled;
	size_t len = 0;
	int rc;

	assert_int_equal(apf_read_file(path, 64 << 20, &data, &len, err), 0);
	assert_int_equal(apf_ingest_spool_open(w->ing, 0, &sp, err), 0);
	assert_int_equal(apf_ingest_spool_write(&sp, data, len, err), 0);
	assert_int_equal(apf_ingest_spool_finish(&sp, err), 0);
	spooled = apf_xstrdup(sp.path);
	rc = apf_ingest_file(w->ing, &sp, "t.pdf", 5, "test", NULL, res, err);
	apf_ingest_spool_discard(&sp);
	/* Whatever happened, the spool is gone (moved or deleted). */
	assert_int_not_equal(access(spooled, F_OK), 0);
	free(spooled);
	free(data);
	return rc;
}

static int64_t count_rows(struct world *w, const char *sql)
{
	struct apf_db *db = NULL;
	struct apf_err err;
	int64_t n = -1;

	/* The writer has the warehouse open while busy; it is idle here, but
	 * may still linger for a moment: apf_db_open() shares its instance. */
	assert_int_equal(apf_db_open(&w->cfg, &db, &err), 0);
	assert_int_equal(apf_db_query_i64(db, sql, &n, &err), 0);
	apf_db_close(db);
	return n;
}

static void test_ingest_path(void **state)
{
	struct world *w = *state;
	struct apf_ingest_result res, res2;
	struct apf_store_stat st;
	struct apf_err err;
	char *a = apf_xasprintf("%s/a.pdf", w->dir), key[64];

	write_pdf(a, "alpha", NULL, 0, 0);
	assert_int_equal(ingest_path(w, a, &res, &err), 0);
	assert_int_equal(res.pages, 1);
	assert_false(res.duplicate);
	assert_true(res.upload_id > 0);
	snprintf(key, sizeof(key), "raw/%s.pdf", res.doc_id);
	assert_int_equal(apf_store_head(w->store, key, &st, &err), 0);
	assert_int_equal(st.size, res.bytes);

	/* Known bytes: a duplicate, with an upload id of its own. */
	assert_int_equal(ingest_path(w, a, &res2, &err), 0);
	assert_true(res2.duplicate);
	assert_true(res2.upload_id > res.upload_id);
	apf_ingest_result_release(&res2);

	/* The object gone from the store but the row still there: presumed
	 * new, the documents insert conflicts, and the upload is recorded as
	 * the duplicate it is after all (and the object is back). */
	assert_int_equal(apf_store_delete(w->store, key, &err), 0);
	assert_int_equal(ingest_path(w, a, &res2, &err), 0);
	assert_true(res2.duplicate);
	assert_int_equal(apf_store_head(w->store, key, &st, &err), 0);
	apf_ingest_result_release(&res2);
	apf_ingest_result_release(&res);

	assert_int_equal(count_rows(w, "SELECT count(*) FROM md_raw_ocr.main.documents"), 1);
	assert_int_equal(count_rows(w, "SELECT count(*) FROM md_raw_ocr.main.uploads"), 3);
	free(a);
}

/* Completeness: junk after %%EOF is fine, a cut file or a cut revision is not. */
static void test_ingest_truncation(void **state)
{
	struct world *w = *state;
	char junk[2048], rev[3000], *p = apf_xasprintf("%s/t.pdf", w->dir);
	struct apf_ingest_result res;
	struct apf_err err;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = i < 1024 ? '\0' : (char)('a' + i % 26);
	write_pdf(p, "junk after the end", junk, sizeof(junk), 0);
	assert_int_equal(ingest_path(w, p, &res, &err), 0);
	assert_int_equal(res.pages, 1);
	apf_ingest_result_release(&res);

	write_pdf(p, "cut short", NULL, 0, 300);
	assert_int_equal(ingest_path(w, p, &res, &err), APF_EPDF);
	assert_non_null(strstr(err.msg, "truncated"));

	snprintf(rev, sizeof(rev), "6 0 obj\n<< /Length 5000 >>\nstream\n");
	memset(rev + strlen(rev), 'q', sizeof(rev) - strlen(rev));
	write_pdf(p, "cut revision", rev, sizeof(rev), 0);
	assert_int_equal(ingest_path(w, p, &res, &err), APF_EPDF);
	assert_non_null(strstr(err.msg, "truncated"));
	free(p);
}

struct ingester {
	struct world *w;
	char path[128];
	int rc;
	struct apf_ingest_result res;
};

static void *ingest_thread(void *arg)
{
	struct ingester *g = arg;
	struct apf_err err;

	g->rc = ingest_path(g->w, g->path, &g->res, &err);
	return NULL;
}

/* Many at once: batches share transactions, every upload gets its own id,
 * and of two uploads of one new file exactly one is new. */
static void test_ingest_concurrent(void **state)
{
	struct world *w = *state;
	struct ingester g[12];
	pthread_t t[12];
	int fresh_c = 0;

	for (int i = 0; i < 12; i++) {
		char text[32];
		g[i].w = w;
		snprintf(g[i].path, sizeof(g[i].path), "%s/c%d.pdf", w->dir, i);
		snprintf(text, sizeof(text), "file %d", i < 10 ? i : 99);
		write_pdf(g[i].path, text, NULL, 0, 0);
	}
	for (int i = 0; i < 12; i++)
		assert_int_equal(pthread_create(&t[i], NULL, ingest_thread, &g[i]), 0);
	for (int i = 0; i < 12; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(g[i].rc, 0);
		assert_true(g[i].res.upload_id > 0);
		for (int k = 0; k < i; k++)
			assert_true(g[k].res.upload_id != g[i].res.upload_id);
		if (i < 10)
			assert_false(g[i].res.duplicate);
		else if (!g[i].res.duplicate)
			fresh_c++;
	}
	assert_int_equal(fresh_c, 1);
	for (int i = 0; i < 12; i++)
		apf_ingest_result_release(&g[i].res);
	assert_int_equal(count_rows(w, "SELECT count(*) FROM md_raw_ocr.main.documents"), 11);
	assert_int_equal(count_rows(w, "SELECT count(DISTINCT upload_id) FROM md_raw_ocr.main.uploads"), 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_doc_id),
		cmocka_unit_test(test_spool),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_writer_gather),
		cmocka_unit_test_setup_teardown(test_ingest_path, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_ingest_truncation, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_ingest_concurrent, world_setup, world_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
