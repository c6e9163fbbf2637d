/* test_ingest.c: the filename sanitizer, doc_id checks, the spool and the
 * group-commit writer's queue (against the in-memory warehouse). */
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

#include "apflow/db.h"
#include "apflow/dbwriter.h"
#include "apflow/ingest.h"
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

static void test_writer(void **state)
{
	char dir[] = "/tmp/apflow-test-writer.XXXXXX";
	struct apf_config cfg;
	struct apf_err err;
	struct apf_dbwriter *w = NULL;
	struct apf_dbwriter_stats st;
	pthread_t t[8];
	struct thread_arg args[8];
	int ok = 0, failed = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(apf_config_load(&cfg, NULL, &err), 0);
	assert_int_equal(apf_config_set_flag(&cfg, "data_dir", dir, "test", &err), 0);
	assert_int_equal(apf_dbwriter_new(&cfg, 0, &w, &err), 0);
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
	apf_dbwriter_free(w);
	apf_config_release(&cfg);
	char *cmd = apf_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_doc_id),
		cmocka_unit_test(test_spool),
		cmocka_unit_test(test_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
