/* test_sqlfile.c: the statement splitter, ${name} substitution and the runner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "apflow/db.h"
#include "apflow/sqlfile.h"
#include "apflow/util.h"

/* ---- the splitter ---- */

struct got {
	char *stmt[16];
	int line[16];
	int n;
	int stop_at; /* return 7 from the callback at this statement (1-based), 0: never */
};

static int collect(const char *stmt, int line, void *arg)
{
	struct got *g = arg;

	assert_true(g->n < 16);
	g->stmt[g->n] = apf_xstrdup(stmt);
	g->line[g->n] = line;
	g->n++;
	return g->stop_at && g->n == g->stop_at ? 7 : 0;
}

static void got_release(struct got *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->stmt[i]);
	memset(g, 0, sizeof(*g));
}

static struct got split(const char *text)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	assert_int_equal(apf_sql_split(text, collect, &g), 0);
	return g;
}

static void test_split_basic(void **state)
{
	(void)state;
	struct got g = split("SELECT 1; SELECT 2;\nSELECT 3");
	assert_int_equal(g.n, 3);
	assert_string_equal(g.stmt[0], "SELECT 1");
	assert_string_equal(g.stmt[1], "SELECT 2");
	assert_string_equal(g.stmt[2], "SELECT 3");
	assert_int_equal(g.line[0], 1);
	assert_int_equal(g.line[1], 1);
	assert_int_equal(g.line[2], 2);
	got_release(&g);

	g = split("");
	assert_int_equal(g.n, 0);
	g = split(" ;; \n ; -- only a comment;\n/* and; another */\n");
	assert_int_equal(g.n, 0);
}

static void test_split_strings(void **state)
{
	(void)state;
	struct got g = split("SELECT 'a;b';SELECT 'it''s;' AS \"c;\"\"d\";SELECT 3");
	assert_int_equal(g.n, 3);
	assert_string_equal(g.stmt[0], "SELECT 'a;b'");
	assert_string_equal(g.stmt[1], "SELECT 'it''s;' AS \"c;\"\"d\"");
	assert_string_equal(g.stmt[2], "SELECT 3");
	got_release(&g);

	/* A backslash escapes only in E'...' strings. */
	g = split("SELECT E'a\\';b'; SELECT 'a\\'; SELECT 2");
	assert_int_equal(g.n, 3);
	assert_string_equal(g.stmt[0], "SELECT E'a\\';b'");
	assert_string_equal(g.stmt[1], "SELECT 'a\\'");
	assert_string_equal(g.stmt[2], "SELECT 2");
	got_release(&g);

	/* "me'" is no E string: the word before the quote is not E. */
	g = split("SELECT 1 AS me'x\\';y'");
	assert_int_equal(g.n, 2);
	got_release(&g);

	/* Never closed: the rest is one statement, for DuckDB to report. */
	g = split("SELECT 1;\nSELECT 'abc; SELECT 2");
	assert_int_equal(g.n, 2);
	assert_string_equal(g.stmt[1], "SELECT 'abc; SELECT 2");
	assert_int_equal(g.line[1], 2);
	got_release(&g);
}

static void test_split_comments(void **state)
{
	(void)state;
	struct got g = split("-- c1;\n/* c2; */ SELECT 1 -- tail;\n;\n"
			     "/* nested /* x; */ still; */ SELECT 2 /* in; */ + 1;");
	assert_int_equal(g.n, 2);
	assert_string_equal(g.stmt[0], "SELECT 1 -- tail;");
	assert_int_equal(g.line[0], 2);
	assert_string_equal(g.stmt[1], "SELECT 2 /* in; */ + 1");
	assert_int_equal(g.line[1], 4);
	got_release(&g);

	/* A comment that is never closed eats the rest. */
	g = split("SELECT 1; /* open; SELECT 2;");
	assert_int_equal(g.n, 1);
	got_release(&g);

	/* a-b and a/b are no comments. */
	g = split("SELECT 3-1, 4/2; SELECT 5");
	assert_int_equal(g.n, 2);
	assert_string_equal(g.stmt[0], "SELECT 3-1, 4/2");
	got_release(&g);
}

static void test_split_dollar(void **state)
{
	(void)state;
	struct got g = split("SELECT $$a;b$$; SELECT $tag$x;$$;y$tag$;\nSELECT $1, a$b$ FROM t; SELECT 4");
	assert_int_equal(g.n, 4);
	assert_string_equal(g.stmt[0], "SELECT $$a;b$$");
	assert_string_equal(g.stmt[1], "SELECT $tag$x;$$;y$tag$");
	/* $1 is a parameter and a$b$ an identifier, neither a quote. */
	assert_string_equal(g.stmt[2], "SELECT $1, a$b$ FROM t");
	assert_int_equal(g.line[2], 2);
	assert_string_equal(g.stmt[3], "SELECT 4");
	got_release(&g);
}

static void test_split_lines(void **state)
{
	(void)state;
	struct got g = split("\n\n-- header\n\n  SELECT\n1;\n\n/* a\nb */\nSELECT 2;\n"
			     "SELECT 'multi\nline';\n\n\nSELECT 4");
	assert_int_equal(g.n, 4);
	assert_int_equal(g.line[0], 5);
	assert_string_equal(g.stmt[0], "SELECT\n1");
	assert_int_equal(g.line[1], 10);
	assert_int_equal(g.line[2], 11);
	assert_int_equal(g.line[3], 15);
	got_release(&g);
}

static void test_split_stop(void **state)
{
	(void)state;
	struct got g;

	memset(&g, 0, sizeof(g));
	g.stop_at = 2;
	assert_int_equal(apf_sql_split("SELECT 1; SELECT 2; SELECT 3", collect, &g), 7);
	assert_int_equal(g.n, 2);
	got_release(&g);
}

/* ---- the runner ---- */

static int setup_db(void **state)
{
	struct apf_db *db = NULL;
	struct apf_err err;

	if (apf_db_open_memory(&db, &err))
		return -1;
	*state = db;
	return 0;
}

static int teardown_db(void **state)
{
	apf_db_close(*state);
	return 0;
}

static int64_t i64(struct apf_db *db, const char *sql)
{
	struct apf_err err;
	int64_t v = -999;

	apf_err_clear(&err);
	assert_int_equal(apf_db_query_i64(db, sql, &v, &err), 0);
	return v;
}

static void test_run_params(void **state)
{
	struct apf_db *db = *state;
	struct apf_sql_param params[] = {
		{ "who", "O'Brien'); DROP TABLE md_raw_ocr.main.t; --" },
		{ "n", "ignored" },
		{ "n", "42" }, /* the last one wins */
	};
	struct apf_sql_stats stats;
	struct apf_err err;
	char *s;

	apf_err_clear(&err);
	assert_int_equal(apf_sql_run_text(db, "t.sql",
					  "CREATE TABLE md_raw_ocr.main.t (v VARCHAR);\n"
					  "INSERT INTO md_raw_ocr.main.t VALUES (getvariable('who')), (${who});\n"
					  "SELECT count(*) AS c, min(v) AS v, ${n} AS n, getvariable('n') AS gn "
					  "FROM md_raw_ocr.main.t WHERE v = getvariable('who');\n",
					  params, 3, 1, &stats, &err),
			 0);
	assert_int_equal(stats.statements, 3);
	assert_non_null(stats.last_result);
	assert_int_equal(apf_db_result_i64(stats.last_result, 0, 0), 2);
	s = apf_db_result_text(stats.last_result, 1, 0);
	assert_string_equal(s, "O'Brien'); DROP TABLE md_raw_ocr.main.t; --");
	free(s);
	s = apf_db_result_text(stats.last_result, 2, 0);
	assert_string_equal(s, "42");
	free(s);
	assert_int_equal(apf_db_result_coltype(stats.last_result, 3), APF_DB_COL_TEXT);
	apf_db_result_free(stats.last_result);
	assert_int_equal(i64(db, "SELECT count(*) FROM md_raw_ocr.main.t"), 2);
}

static void test_run_unknown_param(void **state)
{
	struct apf_db *db = *state;
	struct apf_sql_param params[] = { { "known", "1" } };
	struct apf_sql_stats stats;
	struct apf_err err;

	apf_err_clear(&err);
	assert_int_equal(apf_sql_run_text(db, "t.sql",
					  "CREATE TABLE md_raw_ocr.main.never (i INTEGER);\n"
					  "SELECT ${known},\n  ${nope};\n",
					  params, 1, 1, &stats, &err),
			 APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:3: unknown parameter 'nope'");
	assert_null(stats.last_result);
	assert_int_equal(stats.statements, 0);
	/* Nothing ran: the first statement would have made the table. */
	assert_int_equal(i64(db, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'never'"), 0);

	apf_err_clear(&err);
	assert_int_equal(apf_sql_run_text(db, "t.sql", "SELECT ${1x}", NULL, 0, 0, NULL, &err), APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:1: bad parameter reference '${1x}': expected ${name}");
	apf_err_clear(&err);
	assert_int_equal(apf_sql_run_text(db, "t.sql", "SELECT 1;\n${", NULL, 0, 0, NULL, &err), APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:2: bad parameter reference '${': expected ${name}");

	struct apf_sql_param bad[] = { { "bad-name", "x" } };
	apf_err_clear(&err);
	assert_int_equal(apf_sql_run_text(db, "t.sql", "SELECT 1", bad, 1, 0, NULL, &err), APF_EUSAGE);
	assert_string_equal(err.msg, "bad parameter name 'bad-name': expected [A-Za-z_][A-Za-z0-9_]*");
}

/* Found by fuzz_sqlfile: E${v} made an escape string, where the backslash
 * of a value escaped the closing quote and the rest of the value became
 * SQL; so did E'a'${v} (adjacent quotes join).  A ${name} joined to the
 * word before it, or following a string, is refused. */
static void test_expand_after_word(void **state)
{
	struct apf_sql_param params[] = { { "v", "\\'; DROP TABLE t; --" } };
	struct apf_err err;
	struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT 1;\nSELECT E${v}, 2", params, 1, collect, &g, &err),
			 APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:2: bad parameter reference 'E${v}': ${name} cannot follow a letter, "
				     "digit, '_' or '$'");
	got_release(&g);
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT x_1${v", params, 1, collect, &g, &err), APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:1: bad parameter reference 'x_1${v': ${name} cannot follow a letter, "
				     "digit, '_' or '$'");
	got_release(&g);

	/* E'a' then a literal: SQL joins them into one escape string. */
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT E'a' -- joined\n  ${v}, ${v}", params, 1, collect, &g, &err),
			 APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:2: bad parameter reference '${v}': ${name} cannot follow a string");
	got_release(&g);
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT 'a'${v}", params, 1, collect, &g, &err), APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:1: bad parameter reference '${v}': ${name} cannot follow a string");
	got_release(&g);

	/* After a space, an operator or another ${name}: the value, quoted. */
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT E ${v},(${v})||${v}", params, 1, collect, &g, &err), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.stmt[0], "SELECT E '\\''; DROP TABLE t; --',('\\''; DROP TABLE t; --')||'\\''; DROP TABLE t; --'");
	got_release(&g);
}

/* Issue 15 item 6: the substituted literal stays one token.  Before, a
 * ${name} or a string right after another ${name} joined it ('a''b' is
 * one string: the quote of the file became part of the value), and a word
 * stuck to its end. */
static void test_expand_before_word(void **state)
{
	struct apf_sql_param params[] = { { "a", "\\" }, { "b", "x'; DELETE FROM t; --" } };
	struct apf_err err;
	struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT ${a}${b}", params, 2, collect, &g, &err), APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:1: bad parameter reference '${a}${b}': ${name} cannot be followed by a "
				     "letter, digit, '_' or '$'");
	got_release(&g);
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT ${a}\n  ${b}", params, 2, collect, &g, &err), APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:2: bad parameter reference '${b}': ${name} cannot follow a string");
	got_release(&g);
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT ${a}'x'", params, 2, collect, &g, &err), APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:1: bad parameter reference '${a}': a string cannot follow ${name}");
	got_release(&g);
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT ${a} /* c */ 'x'", params, 2, collect, &g, &err),
			 APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:1: bad parameter reference '${a}': a string cannot follow ${name}");
	got_release(&g);
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT ${b}AS v", params, 2, collect, &g, &err), APF_EUSAGE);
	assert_string_equal(err.msg, "t.sql:1: bad parameter reference '${b}AS': ${name} cannot be followed by a "
				     "letter, digit, '_' or '$'");
	got_release(&g);
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT ${b}\xc3\xa9", params, 2, collect, &g, &err), APF_EUSAGE);
	got_release(&g);

	/* Separated by a token, each is its own literal. */
	apf_err_clear(&err);
	assert_int_equal(apf_sql_expand("t.sql", "SELECT ${a} || ${b} AS v, ${a};\nSELECT ${b}", params, 2, collect,
					&g, &err),
			 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.stmt[0], "SELECT '\\' || 'x''; DELETE FROM t; --' AS v, '\\'");
	assert_string_equal(g.stmt[1], "SELECT 'x''; DELETE FROM t; --'");
	got_release(&g);
}

static void test_run_params_not_in_strings(void **state)
{
	struct apf_db *db = *state;
	struct apf_sql_stats stats;
	struct apf_err err;
	char *s;

	/* ${x} inside strings and comments is text, not a parameter. */
	apf_err_clear(&err);
	assert_int_equal(apf_sql_run_text(db, "t.sql", "SELECT '${x}' AS a -- ${y}\n/* ${z} */;", NULL, 0, 1,
					  &stats, &err),
			 0);
	s = apf_db_result_text(stats.last_result, 0, 0);
	assert_string_equal(s, "${x}");
	free(s);
	apf_db_result_free(stats.last_result);
}

static void test_run_error_line(void **state)
{
	struct apf_db *db = *state;
	struct apf_sql_stats stats;
	struct apf_err err;

	apf_err_clear(&err);
	assert_int_equal(apf_sql_run_text(db, "q.sql", "SELECT 1;\n\n-- c\nSELECT *\n  FROM nope;\n", NULL, 0,
					  1, &stats, &err),
			 APF_ESQL);
	assert_true(apf_starts_with(err.msg, "q.sql:4: Catalog Error: Table with name nope does not exist!"));
	/* DuckDB's LINE n counts from the statement; it is made a file line. */
	assert_non_null(strstr(err.msg, "\nLINE 5:   FROM nope\n"));
	assert_null(stats.last_result);
	assert_int_equal(stats.statements, 1);

	apf_err_clear(&err);
	assert_int_equal(apf_sql_run_text(db, "q.sql", "SELECT 1;\n\n\n\n\n\n\n\n\nSELEC 2;", NULL, 0, 0, NULL, &err),
			 APF_ESQL);
	assert_string_equal(err.msg, "q.sql:10: Parser Error: syntax error at or near \"SELEC\"\n\n"
				     "LINE 10: SELEC 2\n"
				     "         ^");
}

static void test_run_keep_last(void **state)
{
	struct apf_db *db = *state;
	struct apf_sql_stats stats;
	struct apf_err err;

	/* The last statement that returned rows, not the INSERT after it. */
	apf_err_clear(&err);
	assert_int_equal(apf_sql_run_text(db, "t.sql",
					  "CREATE TABLE md_annotated.main.z (i INTEGER);\n"
					  "SELECT 5 AS five;\n"
					  "INSERT INTO md_annotated.main.z VALUES (1), (2);\n"
					  "SET VARIABLE q = 1;\n",
					  NULL, 0, 1, &stats, &err),
			 0);
	assert_int_equal(stats.statements, 4);
	assert_non_null(stats.last_result);
	assert_string_equal(apf_db_result_colname(stats.last_result, 0), "five");
	assert_int_equal(apf_db_result_i64(stats.last_result, 0, 0), 5);
	apf_db_result_free(stats.last_result);

	/* Without keep_last nothing is kept. */
	assert_int_equal(apf_sql_run_text(db, "t.sql", "SELECT 1", NULL, 0, 0, &stats, &err), 0);
	assert_null(stats.last_result);
}

static void test_run_file(void **state)
{
	struct apf_db *db = *state;
	struct apf_sql_param params[] = { { "label", "x;y" } };
	struct apf_sql_stats stats;
	struct apf_err err;
	const char *tmp = getenv("TMPDIR");
	const char *text = "-- a file\nSELECT ${label} AS l;\n";
	char path[256];
	char *s;
	int fd;

	snprintf(path, sizeof(path), "%s/apflow-test-sql-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	apf_err_clear(&err);
	assert_int_equal(apf_sql_run_file(db, path, params, 1, 1, &stats, &err), 0);
	s = apf_db_result_text(stats.last_result, 0, 0);
	assert_string_equal(s, "x;y");
	free(s);
	apf_db_result_free(stats.last_result);
	unlink(path);
	assert_int_equal(apf_sql_run_file(db, path, NULL, 0, 0, NULL, &err), APF_ENOTFOUND);
}

static void test_quote(void **state)
{
	char *s;

	(void)state;
	s = apf_db_quote_literal("O'Brien");
	assert_string_equal(s, "'O''Brien'");
	free(s);
	s = apf_db_quote_literal("");
	assert_string_equal(s, "''");
	free(s);
	s = apf_db_quote_literal(NULL);
	assert_string_equal(s, "NULL");
	free(s);
	s = apf_db_quote_literal("a\\b'';--");
	assert_string_equal(s, "'a\\b'''';--'");
	free(s);
	s = apf_db_quote_ident("a\"b");
	assert_string_equal(s, "\"a\"\"b\"");
	free(s);
	assert_true(apf_db_name_valid("_a1"));
	assert_false(apf_db_name_valid("1a"));
	assert_false(apf_db_name_valid("a-b"));
	assert_false(apf_db_name_valid(""));
}

static void test_embedded(void **state)
{
	(void)state;
	const struct apf_asset *a = apf_sql_asset_find("V001__raw_ocr.sql");
	assert_non_null(a);
	assert_true(a->size > 0);
	assert_int_equal(a->data[a->size], 0);
	assert_non_null(strstr((const char *)a->data, "-- database: md_raw_ocr"));
	assert_null(apf_sql_asset_find("nope.sql"));
	/* One table for every embedded file, found by its path. */
	const struct apf_asset *c = apf_asset_find("config/labelset_v1.json");
	assert_non_null(c);
	assert_string_equal(c->name, "labelset_v1.json");
	assert_string_equal(c->content_type, "application/json");
	assert_ptr_equal(apf_asset_in("config/", "labelset_v1.json"), c);
	assert_non_null(apf_asset_find("web/upload.html"));
	assert_non_null(apf_asset_find("sql/motherduck/V001__raw_ocr.sql"));
	assert_null(apf_asset_find("V001__raw_ocr.sql"));
	assert_null(apf_asset_in("web/", "V001__raw_ocr.sql"));
	int nsql = 0, nv = 0;
	for (const struct apf_asset *x = apf_asset_next(APF_SQL_DIR, NULL); x; x = apf_asset_next(APF_SQL_DIR, x)) {
		assert_int_equal(strncmp(x->path, "sql/motherduck/", 15), 0);
		assert_string_equal(x->name, x->path + 15);
		nsql++;
		nv += x->name[0] == 'V';
	}
	assert_true(nv >= 4);
	assert_true(nsql >= nv + 5); /* and the seed's files */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_basic),
		cmocka_unit_test(test_split_strings),
		cmocka_unit_test(test_split_comments),
		cmocka_unit_test(test_split_dollar),
		cmocka_unit_test(test_split_lines),
		cmocka_unit_test(test_split_stop),
		cmocka_unit_test_setup_teardown(test_run_params, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_run_unknown_param, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_run_params_not_in_strings, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_run_error_line, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_run_keep_last, setup_db, teardown_db),
		cmocka_unit_test_setup_teardown(test_run_file, setup_db, teardown_db),
		cmocka_unit_test(test_expand_after_word),
		cmocka_unit_test(test_expand_before_word),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_embedded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
