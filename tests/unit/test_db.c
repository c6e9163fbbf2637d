/* test_db.c: the DuckDB adapter (open, results, statements) and migrations. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "apflow/config.h"
#include "apflow/db.h"
#include "apflow/migrate.h"
#include "apflow/sqlfile.h"
#include "apflow/util.h"

struct fixture {
	char dir[64];          /* a private temporary directory */
	char data_dir[128];    /* dir/w/data: does not exist at first */
	struct apf_config cfg; /* data_dir set, everything else default */
};

static int setup(void **state)
{
	struct fixture *f = apf_xcalloc(1, sizeof(*f));
	struct apf_err err;
	const char *tmp = getenv("TMPDIR");

	snprintf(f->dir, sizeof(f->dir), "%s/apflow-dbtest-XXXXXX", tmp && strlen(tmp) < 30 ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->data_dir, sizeof(f->data_dir), "%s/w/data", f->dir);
	if (apf_config_set_flag(&f->cfg, "data_dir", f->data_dir, "test", &err))
		return -1;
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	apf_config_release(&f->cfg);
	free(f);
	return 0;
}

static void set(struct fixture *f, const char *key, const char *value)
{
	struct apf_err err;
	assert_int_equal(apf_config_set_flag(&f->cfg, key, value, "test", &err), 0);
}

static int64_t i64(struct apf_db *db, const char *sql)
{
	struct apf_err err;
	int64_t v = -999;

	apf_err_clear(&err);
	if (apf_db_query_i64(db, sql, &v, &err))
		fail_msg("%s: %s", sql, err.msg);
	return v;
}

static void exec_ok(struct apf_db *db, const char *sql)
{
	struct apf_err err;

	apf_err_clear(&err);
	if (apf_db_exec(db, sql, &err))
		fail_msg("%s: %s", sql, err.msg);
}

static int exists(const char *dir, const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* ---- opening ---- */

static void test_open_local(void **state)
{
	struct fixture *f = *state;
	struct apf_db *db = NULL;
	struct apf_err err;

	apf_err_clear(&err);
	assert_int_equal(apf_db_open(&f->cfg, &db, &err), 0);
	assert_true(exists(f->data_dir, "md_raw_ocr.duckdb"));
	assert_true(exists(f->data_dir, "md_annotated.duckdb"));
	exec_ok(db, "CREATE TABLE md_raw_ocr.main.t (i INTEGER); INSERT INTO md_raw_ocr.main.t VALUES (7)");
	exec_ok(db, "CREATE TABLE scratch (i INTEGER)"); /* the in-memory default database */
	assert_int_equal(i64(db, "SELECT count(*) FROM duckdb_databases() WHERE database_name IN "
				 "('md_raw_ocr', 'md_annotated')"),
			 2);
	assert_int_equal(i64(db, "SELECT count(*) FROM duckdb_settings() WHERE name = 'TimeZone' AND value = 'UTC'"), 1);
	apf_db_close(db);

	assert_int_equal(apf_db_open(&f->cfg, &db, &err), 0);
	assert_int_equal(i64(db, "SELECT i FROM md_raw_ocr.main.t"), 7);
	assert_int_equal(i64(db, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'scratch'"), 0);
	apf_db_close(db);
	apf_db_close(NULL);
}

static void test_open_shared(void **state)
{
	struct fixture *f = *state;
	struct apf_db *a = NULL, *b = NULL;
	struct apf_err err;

	/* Two connections in one process share the attached files. */
	assert_int_equal(apf_db_open(&f->cfg, &a, &err), 0);
	assert_int_equal(apf_db_open(&f->cfg, &b, &err), 0);
	exec_ok(a, "CREATE TABLE md_annotated.main.s (i INTEGER); INSERT INTO md_annotated.main.s VALUES (1)");
	assert_int_equal(i64(b, "SELECT count(*) FROM md_annotated.main.s"), 1);
	/* Variables belong to the connection. */
	assert_int_equal(apf_db_set_variable(a, "v", "x", &err), 0);
	assert_int_equal(i64(b, "SELECT count(*) FROM duckdb_variables() WHERE name = 'v'"), 0);
	apf_db_close(a);
	assert_int_equal(i64(b, "SELECT count(*) FROM md_annotated.main.s"), 1);
	apf_db_close(b);
}

static void test_open_readonly(void **state)
{
	struct fixture *f = *state;
	struct apf_db *ro = NULL, *rw = NULL;
	struct apf_err err;
	struct stat st;

	/* Nothing there yet: an empty warehouse, and nothing created. */
	apf_err_clear(&err);
	assert_int_equal(apf_db_open_ex(&f->cfg, APF_DB_READONLY, &ro, &err), 0);
	assert_int_equal(i64(ro, "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'md_raw_ocr'"), 0);
	apf_db_close(ro);
	assert_int_equal(stat(f->data_dir, &st), -1);

	assert_int_equal(apf_db_open(&f->cfg, &rw, &err), 0);
	exec_ok(rw, "CREATE TABLE md_raw_ocr.main.t (i INTEGER)");
	apf_db_close(rw);

	assert_int_equal(apf_db_open_ex(&f->cfg, APF_DB_READONLY, &ro, &err), 0);
	assert_int_equal(i64(ro, "SELECT count(*) FROM md_raw_ocr.main.t"), 0);
	assert_int_equal(apf_db_exec(ro, "INSERT INTO md_raw_ocr.main.t VALUES (1)", &err), APF_ESQL);
	/* A writer in the same process waits for the reader, then gives up. */
	set(f, "lock_timeout", "0.2");
	int64_t t0 = apf_now_ms();
	assert_int_equal(apf_db_open(&f->cfg, &rw, &err), APF_ELOCKED);
	assert_true(apf_now_ms() - t0 >= 200);
	assert_non_null(strstr(err.msg, "still locked after"));
	assert_non_null(strstr(err.msg, "the warehouse is open read-only in this process"));
	apf_db_close(ro);
	assert_int_equal(apf_db_open(&f->cfg, &rw, &err), 0);
	apf_db_close(rw);
}

static void test_open_config_errors(void **state)
{
	struct fixture *f = *state;
	struct apf_db *db = NULL;
	struct apf_err err;

	set(f, "warehouse", "postgres");
	assert_int_equal(apf_db_open(&f->cfg, &db, &err), APF_ECONFIG);
	assert_string_equal(err.msg, "unknown warehouse 'postgres': expected local or motherduck");
	set(f, "warehouse", "motherduck");
	assert_int_equal(apf_db_open(&f->cfg, &db, &err), APF_ECONFIG);
	assert_string_equal(err.msg, "warehouse 'motherduck' needs a token: set motherduck_token");
	set(f, "warehouse", "local");
	set(f, "lock_timeout", "soon");
	assert_int_equal(apf_db_open(&f->cfg, &db, &err), APF_ECONFIG);
	assert_string_equal(err.msg, "bad lock_timeout 'soon': expected a number of seconds");
	set(f, "lock_timeout", "-1");
	assert_int_equal(apf_db_open(&f->cfg, &db, &err), APF_ECONFIG);
	assert_null(db);
}

/* ---- results ---- */

static void expect_text(struct apf_db *db, const char *expr, const char *want)
{
	struct apf_db_result *r = NULL;
	struct apf_err err;
	char *sql = apf_xasprintf("SELECT %s", expr), *got;

	apf_err_clear(&err);
	if (apf_db_query(db, sql, &r, &err))
		fail_msg("%s: %s", sql, err.msg);
	got = apf_db_result_text(r, 0, 0);
	if (!want ? got != NULL : !got || strcmp(got, want))
		fail_msg("%s: got '%s', want '%s'", expr, got ? got : "(null)", want ? want : "(null)");
	free(got);
	apf_db_result_free(r);
	free(sql);
}

static void test_result_types(void **state)
{
	struct apf_db *db = NULL;
	struct apf_err err;

	(void)state;
	assert_int_equal(apf_db_open_memory(&db, &err), 0);
	expect_text(db, "42::TINYINT", "42");
	expect_text(db, "-300::SMALLINT", "-300");
	expect_text(db, "1099511627776::BIGINT", "1099511627776");
	expect_text(db, "200::UTINYINT", "200");
	expect_text(db, "18446744073709551615::UBIGINT", "18446744073709551615");
	expect_text(db, "170141183460469231731687303715884105727::HUGEINT",
		    "170141183460469231731687303715884105727");
	expect_text(db, "1.5::FLOAT", "1.5");
	expect_text(db, "0.1::DOUBLE", "0.1");
	expect_text(db, "'inf'::DOUBLE", "inf");
	expect_text(db, "1.25::DECIMAL(10,2)", "1.25");
	expect_text(db, "-12345678901234567890.5::DECIMAL(38,1)", "-12345678901234567890.5");
	expect_text(db, "-1.5::DECIMAL(4,1)", "-1.5");
	expect_text(db, "true", "true");
	expect_text(db, "'héllo'", "héllo");
	expect_text(db, "NULL", NULL);
	expect_text(db, "DATE '2024-01-02'", "2024-01-02");
	expect_text(db, "TIME '03:04:05'", "03:04:05");
	expect_text(db, "TIMESTAMP '2024-01-02 03:04:05.5'", "2024-01-02 03:04:05.5");
	expect_text(db, "TIMESTAMPTZ '2024-01-02 03:04:05+02'", "2024-01-02 01:04:05+00");
	expect_text(db, "INTERVAL 3 DAY", "3 days");
	expect_text(db, "'00000000-0000-0002-0000-000000000001'::UUID", "00000000-0000-0002-0000-000000000001");
	expect_text(db, "'f0000000-0000-0000-0000-00000000000a'::UUID", "f0000000-0000-0000-0000-00000000000a");
	expect_text(db, "'\\xAA'::BLOB", "\\xAA");
	expect_text(db, "'y'::ENUM('x', 'y')", "y");
	expect_text(db, "'101'::BIT", "101");
	expect_text(db, "-123456789012345678901234567890::BIGNUM", "-123456789012345678901234567890");
	expect_text(db, "255::BIGNUM", "255");
	expect_text(db, "0::BIGNUM", "0");
	expect_text(db, "[1, NULL, 3]", "[1, NULL, 3]");
	expect_text(db, "[]::INTEGER[]", "[]");
	expect_text(db, "['a', 'b']", "[a, b]");
	expect_text(db, "{'a': 1, 'b': [2, 3], 'c': NULL::VARCHAR}", "{'a': 1, 'b': [2, 3], 'c': NULL}");
	expect_text(db, "MAP {'k': 1, 'l': 2}", "{k=1, l=2}");
	expect_text(db, "[1, 2]::INTEGER[2]", "[1, 2]");
	expect_text(db, "union_value(num := 2)::UNION(num INTEGER, str VARCHAR)", "2");
	expect_text(db, "[{'start': 0, 'end': 4, 'label': 'PORT'}]", "[{'start': 0, 'end': 4, 'label': PORT}]");
	apf_db_close(db);
}

static void test_result_rows(void **state)
{
	struct apf_db *db = NULL;
	struct apf_db_result *r = NULL;
	struct apf_err err;
	char *s;

	(void)state;
	assert_int_equal(apf_db_open_memory(&db, &err), 0);
	/* Several chunks (DuckDB's are 2048 rows). */
	assert_int_equal(apf_db_query(db, "SELECT i, i::VARCHAR AS s, NULL AS n FROM range(5000) t(i) ORDER BY i",
				      &r, &err),
			 0);
	assert_int_equal(apf_db_result_rows(r), 5000);
	assert_int_equal(apf_db_result_cols(r), 3);
	assert_true(apf_db_result_is_query(r));
	assert_string_equal(apf_db_result_colname(r, 1), "s");
	assert_null(apf_db_result_colname(r, 3));
	assert_int_equal(apf_db_result_coltype(r, 0), APF_DB_COL_INT);
	assert_int_equal(apf_db_result_coltype(r, 1), APF_DB_COL_TEXT);
	assert_int_equal(apf_db_result_i64(r, 0, 4999), 4999);
	assert_int_equal(apf_db_result_i64(r, 1, 2048), 2048);
	s = apf_db_result_text(r, 1, 2047);
	assert_string_equal(s, "2047");
	free(s);
	assert_true(apf_db_result_is_null(r, 2, 3000));
	assert_false(apf_db_result_is_null(r, 0, 3000));
	/* Out of range reads as NULL, never crashes. */
	assert_true(apf_db_result_is_null(r, 0, 5000));
	assert_null(apf_db_result_text(r, 9, 0));
	assert_int_equal(apf_db_result_i64(r, 0, 5000), 0);
	apf_db_result_free(r);

	exec_ok(db, "CREATE TABLE md_raw_ocr.main.t (i INTEGER)");
	assert_int_equal(apf_db_query(db, "INSERT INTO md_raw_ocr.main.t SELECT * FROM range(3)", &r, &err), 0);
	assert_false(apf_db_result_is_query(r));
	assert_int_equal(apf_db_result_changes(r), 3);
	apf_db_result_free(r);
	assert_int_equal(apf_db_query(db, "SELECT * FROM md_raw_ocr.main.t WHERE i > 5", &r, &err), 0);
	assert_true(apf_db_result_is_query(r));
	assert_int_equal(apf_db_result_rows(r), 0);
	apf_db_result_free(r);

	apf_err_clear(&err);
	assert_int_equal(apf_db_query_i64(db, "SELECT 1 WHERE false", NULL, &err), APF_ENOTFOUND);
	assert_int_equal(apf_db_query(db, "SELECT * FROM nope", &r, &err), APF_ESQL);
	assert_true(apf_starts_with(err.msg, "Catalog Error: Table with name nope does not exist!"));
	apf_db_close(db);
}

static void test_stream(void **state)
{
	struct apf_db *db = NULL;
	struct apf_db_stmt *st = NULL;
	struct apf_db_stream *sm = NULL;
	struct apf_db_result *r = NULL;
	struct apf_err err;
	uint64_t rows = 0, chunks = 0;
	int64_t sum = 0;
	char *s;

	(void)state;
	assert_int_equal(apf_db_open_memory(&db, &err), 0);
	/* Chunk by chunk, each read with the result functions, rows 0-based. */
	assert_int_equal(apf_db_prepare(db, "SELECT i, i::VARCHAR AS s FROM range(?) t(i) ORDER BY i", &st, &err), 0);
	assert_int_equal(apf_db_bind_i64(st, 1, 5000), 0);
	assert_int_equal(apf_db_stream_open(st, &sm, &err), 0);
	for (;;) {
		assert_int_equal(apf_db_stream_next(sm, &r, &err), 0);
		if (!r)
			break;
		assert_true(apf_db_result_rows(r) >= 1 && apf_db_result_rows(r) <= 2048);
		assert_int_equal(apf_db_result_cols(r), 2);
		assert_string_equal(apf_db_result_colname(r, 1), "s");
		assert_int_equal(apf_db_result_i64(r, 0, 0), (int64_t)rows);
		s = apf_db_result_text(r, 1, apf_db_result_rows(r) - 1);
		assert_int_equal(strtoll(s, NULL, 10), (long long)(rows + apf_db_result_rows(r) - 1));
		free(s);
		for (uint64_t i = 0; i < apf_db_result_rows(r); i++)
			sum += apf_db_result_i64(r, 0, i);
		rows += apf_db_result_rows(r);
		chunks++;
		apf_db_result_free(r);
	}
	assert_int_equal(rows, 5000);
	assert_true(chunks >= 3);
	assert_int_equal(sum, 4999 * 5000 / 2);
	/* At the end it stays at the end. */
	assert_int_equal(apf_db_stream_next(sm, &r, &err), 0);
	assert_null(r);
	apf_db_stream_free(sm);
	apf_db_stmt_free(st);

	/* An error while the rows are produced is returned by next(). */
	assert_int_equal(apf_db_prepare(db, "SELECT CAST(CASE WHEN i < 3000 THEN '1' ELSE 'x' END AS INTEGER) FROM range(5000) t(i)",
					&st, &err),
			 0);
	if (!apf_db_stream_open(st, &sm, &err)) {
		int rc = 0;
		while (!(rc = apf_db_stream_next(sm, &r, &err)) && r)
			apf_db_result_free(r);
		assert_int_equal(rc, APF_ESQL);
		assert_non_null(strstr(err.msg, "Could not convert string 'x'"));
		apf_db_stream_free(sm);
	} else {
		assert_non_null(strstr(err.msg, "Could not convert string 'x'"));
	}
	apf_db_stmt_free(st);
	apf_db_stream_free(NULL);
	apf_db_close(db);
}

static void test_prepared(void **state)
{
	struct apf_db *db = NULL;
	struct apf_db_stmt *st = NULL;
	struct apf_db_result *r = NULL;
	struct apf_err err;
	char *s;

	(void)state;
	assert_int_equal(apf_db_open_memory(&db, &err), 0);
	assert_int_equal(apf_db_prepare(db, "SELECT $1::VARCHAR, $2 + 1, $3 * 2, $4 IS NULL", &st, &err), 0);
	assert_int_equal(apf_db_bind_text(st, 1, "it's; DROP TABLE x"), 0);
	assert_int_equal(apf_db_bind_i64(st, 2, INT64_C(9007199254740993)), 0);
	assert_int_equal(apf_db_bind_double(st, 3, 0.25), 0);
	assert_int_equal(apf_db_bind_text(st, 4, NULL), 0);
	assert_int_equal(apf_db_stmt_exec(st, &r, &err), 0);
	s = apf_db_result_text(r, 0, 0);
	assert_string_equal(s, "it's; DROP TABLE x");
	free(s);
	assert_int_equal(apf_db_result_i64(r, 1, 0), INT64_C(9007199254740994));
	s = apf_db_result_text(r, 2, 0);
	assert_string_equal(s, "0.5");
	free(s);
	s = apf_db_result_text(r, 3, 0);
	assert_string_equal(s, "true");
	free(s);
	apf_db_result_free(r);
	/* Run again with other values. */
	apf_db_bind_i64(st, 2, 1);
	assert_int_equal(apf_db_stmt_exec(st, NULL, &err), 0);
	/* A bind out of range is reported when the statement runs. */
	assert_int_equal(apf_db_bind_i64(st, 5, 1), APF_ESQL);
	assert_int_equal(apf_db_stmt_exec(st, &r, &err), APF_ESQL);
	assert_string_equal(err.msg, "cannot bind parameter 5: the statement has 4");
	apf_db_stmt_free(st);
	apf_db_stmt_free(NULL);

	assert_int_equal(apf_db_prepare(db, "SELEC 1", &st, &err), APF_ESQL);
	assert_true(apf_starts_with(err.msg, "Parser Error: syntax error"));

	/* Variables: the value is quoted, never pasted. */
	assert_int_equal(apf_db_set_variable(db, "who", "O'Brien'; DROP TABLE x; --", &err), 0);
	expect_text(db, "getvariable('who')", "O'Brien'; DROP TABLE x; --");
	assert_int_equal(apf_db_set_variable(db, "who", NULL, &err), 0);
	expect_text(db, "getvariable('who')", NULL);
	assert_int_equal(apf_db_set_variable(db, "x; DROP", "1", &err), APF_EUSAGE);
	apf_db_close(db);
}

static void test_transactions(void **state)
{
	struct apf_db *db = NULL;
	struct apf_err err;

	(void)state;
	assert_int_equal(apf_db_open_memory(&db, &err), 0);
	exec_ok(db, "CREATE TABLE md_raw_ocr.main.t (i INTEGER PRIMARY KEY)");
	assert_int_equal(apf_db_begin(db, &err), 0);
	exec_ok(db, "INSERT INTO md_raw_ocr.main.t VALUES (1)");
	apf_db_rollback(db);
	assert_int_equal(i64(db, "SELECT count(*) FROM md_raw_ocr.main.t"), 0);
	assert_int_equal(apf_db_begin(db, &err), 0);
	exec_ok(db, "INSERT INTO md_raw_ocr.main.t VALUES (1)");
	assert_int_equal(apf_db_commit(db, &err), 0);
	assert_int_equal(i64(db, "SELECT count(*) FROM md_raw_ocr.main.t"), 1);
	assert_int_equal(apf_db_exec(db, "INSERT INTO md_raw_ocr.main.t VALUES (1)", &err), APF_ESQL);
	assert_true(apf_starts_with(err.msg, "Constraint Error: Duplicate key"));
	apf_db_rollback(db); /* with no transaction open: harmless */
	apf_db_close(db);
}

/* ---- migrations ---- */

struct seen {
	char names[8][64];
	enum apf_migration_state states[8];
	int n;
};

static void on_migration(const struct apf_migration *m, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	apf_strlcpy(s->names[s->n], m->name, sizeof(s->names[0]));
	s->states[s->n] = m->state;
	s->n++;
}

/* The V###__ files compiled into the binary. */
static int count_migrations(void)
{
	int n = 0;

	for (const struct apf_asset *a = apf_asset_next(APF_SQL_DIR, NULL); a; a = apf_asset_next(APF_SQL_DIR, a))
		if (a->name[0] == 'V' && strstr(a->name, "__"))
			n++;
	return n;
}

static void test_migrate(void **state)
{
	struct fixture *f = *state;
	struct apf_db *db = NULL;
	struct apf_err err;
	struct seen s;

	assert_int_equal(apf_db_open(&f->cfg, &db, &err), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(apf_migrate(db, 1, on_migration, &s, &err), 0);
	assert_int_equal(s.n, count_migrations());
	assert_true(s.n >= 2);
	assert_string_equal(s.names[0], "V001__raw_ocr.sql");
	assert_string_equal(s.names[1], "V002__annotated.sql");
	assert_int_equal(s.states[0], APF_MIGRATION_PENDING);
	assert_int_equal(i64(db, "SELECT count(*) FROM duckdb_tables() WHERE database_name LIKE 'md_%'"), 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(apf_migrate(db, 0, on_migration, &s, &err), 0);
	for (int i = 0; i < s.n; i++)
		assert_int_equal(s.states[i], APF_MIGRATION_APPLIED);
	/* V001's and V002's tables; later files' are tested with their stages. */
	assert_int_equal(i64(db, "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'md_raw_ocr' AND table_name IN "
				 "('documents', 'uploads', 'ocr_runs', 'pages', 'ocr_failures', 'schema_migrations')"),
			 6);
	assert_int_equal(i64(db, "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'md_annotated' AND table_name IN "
				 "('annotations_exports', 'annotations_pages', 'annotations_spans', 'schema_migrations')"),
			 4);
	assert_int_equal(i64(db, "SELECT count(*) FROM duckdb_views() WHERE database_name = 'md_raw_ocr' "
				 "AND view_name = 'vw_argilla_pages'"),
			 1);
	assert_int_equal(i64(db, "SELECT count(*) FROM md_annotated.main.schema_migrations WHERE version = 2 "
				 "AND name = 'V002__annotated.sql' AND length(sha256) = 64"),
			 1);

	memset(&s, 0, sizeof(s));
	assert_int_equal(apf_migrate(db, 0, on_migration, &s, &err), 0);
	for (int i = 0; i < s.n; i++)
		assert_int_equal(s.states[i], APF_MIGRATION_CURRENT);

	/* The tables take what the stages write. */
	exec_ok(db, "INSERT INTO md_raw_ocr.main.ocr_runs (engine) VALUES ('auto')");
	exec_ok(db, "INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars) "
		    "VALUES ('0123456789abcdef0123', 1, 1, 'mupdf', 'old', 'h1', 3), "
		    "('0123456789abcdef0123', 1, 2, 'tesseract', 'new', 'h2', 3)");
	assert_int_equal(i64(db, "SELECT ocr_run_id FROM md_raw_ocr.main.vw_argilla_pages"), 2);
	assert_int_equal(i64(db, "INSERT INTO md_raw_ocr.main.uploads (doc_id, bytes, sha256) "
				 "VALUES ('0123456789abcdef0123', 1, 'x') RETURNING upload_id"),
			 1);
	assert_int_equal(apf_db_exec(db, "INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, bytes) "
				     "VALUES ('not-a-doc-id', 'x', 1)", &err),
			 APF_ESQL);

	/* An applied migration that changed is refused. */
	exec_ok(db, "UPDATE md_raw_ocr.main.schema_migrations SET sha256 = 'abcdef0123456789' WHERE version = 1");
	assert_int_equal(apf_migrate(db, 0, NULL, NULL, &err), APF_EDB);
	assert_true(apf_starts_with(err.msg, "migration 'V001__raw_ocr.sql' was applied to md_raw_ocr with sha256 "
					     "abcdef012345 but this apflow has "));
	apf_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_config_errors, setup, teardown),
		cmocka_unit_test(test_result_types),
		cmocka_unit_test(test_result_rows),
		cmocka_unit_test(test_prepared),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_transactions),
		cmocka_unit_test_setup_teardown(test_migrate, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
