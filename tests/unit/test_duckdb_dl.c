/*
 * test_duckdb_dl.c: loading libduckdb (duckdb_dl.c).  A binary of its own,
 * so that the library is not loaded yet when the first test starts: the
 * tests run in order, and a process loads it once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "apflow/db.h"
#include "core/duckdb_dl.h"

/* In a child, before this process has loaded anything: a library that
 * is not there is an error that says so, every time, and no crash. */
static void test_missing_library(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	assert_null(apf_dl_duckdb_open_ext);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct apf_err err;
		const char *want = "cannot load DuckDB (/nonexistent/libduckdb.so): /nonexistent/libduckdb.so: ";
		int ok;

		setenv("APFLOW_DUCKDB_LIB", "/nonexistent/libduckdb.so", 1);
		apf_duckdb_preload();
		ok = apf_duckdb_need(&err) == APF_EDB && !strncmp(err.msg, want, strlen(want)) &&
		     strstr(err.msg, "; run scripts/install-deps.sh") &&
		     apf_duckdb_need(&err) == APF_EDB && !apf_dl_duckdb_open_ext &&
		     !strcmp(apf_db_library_version(), "unavailable");
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

#define NTHREADS 8

static pthread_barrier_t start;

static void *need_thread(void *arg)
{
	struct apf_err err;
	int *rc = arg;

	pthread_barrier_wait(&start);
	*rc = apf_duckdb_need(&err);
	return NULL;
}

/* Threads ask at once, one of them while the preloading thread runs. */
static void test_need_concurrent(void **state)
{
	pthread_t t[NTHREADS];
	int rc[NTHREADS];

	(void)state;
	assert_null(apf_dl_duckdb_open_ext);
	assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS + 1), 0);
	for (int i = 0; i < NTHREADS; i++) {
		rc[i] = -1;
		assert_int_equal(pthread_create(&t[i], NULL, need_thread, &rc[i]), 0);
	}
	apf_duckdb_preload();
	pthread_barrier_wait(&start);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(rc[i], 0);
	}
	pthread_barrier_destroy(&start);
#define X(f) assert_non_null(apf_dl_##f);
	APF_DUCKDB_FUNCS(X)
#undef X
}

/* Loaded once: later calls answer at once, a late preload starts nothing,
 * and the functions work. */
static void test_loaded(void **state)
{
	struct apf_db *db = NULL;
	struct apf_err err;
	int64_t v = 0;

	(void)state;
	apf_duckdb_preload();
	assert_int_equal(apf_duckdb_need(&err), 0);
	assert_int_equal(apf_duckdb_need(NULL), 0);
	assert_string_equal(apf_db_library_version(), duckdb_library_version());
	assert_int_equal(strncmp(apf_db_library_version(), "v1.", 3), 0);
	assert_int_equal(apf_db_open_memory(&db, &err), 0);
	assert_int_equal(apf_db_query_i64(db, "SELECT 6 * 7", &v, &err), 0);
	assert_int_equal(v, 42);
	apf_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_need_concurrent),
		cmocka_unit_test(test_loaded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
