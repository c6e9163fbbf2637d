/*
 * sqlfile.h: runs a .sql file statement by statement.
 *
 * Parameters reach the SQL two ways: every parameter is set as a DuckDB
 * variable (SET VARIABLE name = 'value', read with getvariable('name')), and
 * `${name}` in the text is replaced by the value quoted as a SQL string
 * literal, for the places DuckDB needs a literal (a COPY target).  An
 * unknown ${name} is an error.  Statements are split on ';' outside quotes,
 * comments and dollar-quoted strings.  A failing statement is reported as
 * "FILE:LINE: DuckDB's message", LINE being the statement's first line.
 */
#ifndef APFLOW_SQLFILE_H
#define APFLOW_SQLFILE_H

#include <stddef.h>

#include "apflow/db.h"
#include "apflow/err.h"

struct apf_sql_param {
	const char *name;   /* [A-Za-z_][A-Za-z0-9_]* */
	const char *value;
};

struct apf_sql_stats {
	int statements;
	/* Result of the last statement that returned rows, when wanted. */
	struct apf_db_result *last_result;
};

/*
 * Runs file (a path) on db.  When stats is not NULL it is filled; when
 * keep_last is set, stats->last_result holds the last result (caller frees).
 */
int apf_sql_run_file(struct apf_db *db, const char *path, const struct apf_sql_param *params,
		     size_t nparams, int keep_last, struct apf_sql_stats *stats, struct apf_err *err);

/* The same for text already in memory; name is used in messages. */
int apf_sql_run_text(struct apf_db *db, const char *name, const char *text,
		     const struct apf_sql_param *params, size_t nparams, int keep_last,
		     struct apf_sql_stats *stats, struct apf_err *err);

/* Splits text into statements; for tests.  Calls fn with each statement
 * (NUL-terminated, trimmed) and the 1-based line it starts on. */
int apf_sql_split(const char *text, int (*fn)(const char *stmt, int line, void *arg), void *arg);

#endif
