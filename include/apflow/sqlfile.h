/*
 * sqlfile.h: runs a .sql file statement by statement.
 *
 * Parameters reach the SQL two ways: every parameter is set as a DuckDB
 * variable (SET VARIABLE name = 'value', read with getvariable('name')), and
 * `${name}` in the text is replaced by the value quoted as a SQL string
 * literal, for the places DuckDB needs a literal (a COPY target).  An
 * unknown ${name} is an error, and so is one that the text around it could
 * join to another token (so that no neighbouring text changes how the
 * literal reads): glued to a word before it (E${x} would make an escape
 * string) or after it, right after a string or another ${name}, or
 * followed by a string ('a''b' is one string).  Statements are split on ';' outside quotes,
 * comments and dollar-quoted strings.  A failing statement is reported as
 * "FILE:LINE: DuckDB's message", LINE being the statement's first line.
 */
#ifndef APFLOW_SQLFILE_H
#define APFLOW_SQLFILE_H

#include <stddef.h>

#include "apflow/asset.h"
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
 *
 * Before any statement runs, every parameter name is checked
 * ([A-Za-z_][A-Za-z0-9_]*, else APF_EUSAGE) and every ${name} is resolved
 * (an unknown one is APF_EUSAGE "FILE:LINE: unknown parameter 'name'"), so a
 * file with a mistake in it changes nothing.  Then each parameter is set as
 * a VARCHAR variable and the statements run in order, each on its own (in
 * autocommit unless the file or the caller opened a transaction); the
 * first that fails stops the run with APF_ESQL "FILE:LINE: DuckDB's
 * message", where LINE is the file line the statement starts on (and
 * DuckDB's own "LINE n:" is turned into a file line too).  On failure
 * stats->last_result is NULL.
 */
int apf_sql_run_file(struct apf_db *db, const char *path, const struct apf_sql_param *params,
		     size_t nparams, int keep_last, struct apf_sql_stats *stats, struct apf_err *err);

/* The same for text already in memory; name is used in messages. */
int apf_sql_run_text(struct apf_db *db, const char *name, const char *text,
		     const struct apf_sql_param *params, size_t nparams, int keep_last,
		     struct apf_sql_stats *stats, struct apf_err *err);

/* Splits text into statements; for tests.  Calls fn with each statement
 * (NUL-terminated, trimmed) and the 1-based line it starts on.  Returns 0,
 * or the first non-zero value fn returned (which stops the split).
 *
 * The rules, shared by the runner:
 *  - ';' ends a statement except inside '...' strings ('' is a quote, and
 *    E'...' strings take backslash escapes), "..." identifiers, -- and
 *    (nested) block comments, and $$...$$ or $tag$...$tag$ strings;
 *  - comments and blank lines before a statement are dropped, and its
 *    line is that of its first token; a piece holding only comments is no
 *    statement;
 *  - text that is never closed (a quote, a comment) runs to the end and is
 *    left for DuckDB to report.
 * ${name} is left alone here; the runner replaces it (only in SQL text,
 * never inside strings or comments).
 */
int apf_sql_split(const char *text, int (*fn)(const char *stmt, int line, void *arg), void *arg);

/*
 * The runner's first pass without a database: splits text as
 * apf_sql_split() does and replaces each ${name} in SQL text by its value
 * quoted as a string literal, calling fn with each statement as the runner
 * would run it.  Errors as apf_sql_run_text() reports them ("NAME:LINE:
 * ..."), or the first non-zero value fn returned.  For tests and fuzzing.
 */
int apf_sql_expand(const char *name, const char *text, const struct apf_sql_param *params,
		   size_t nparams, int (*fn)(const char *stmt, int line, void *arg), void *arg,
		   struct apf_err *err);

/*
 * SQL files compiled into the binary (every .sql file in sql/motherduck/,
 * by scripts/embed.sh into build/gen/assets.c, apflow/asset.h), so that `apflow init` and the stages find them
 * wherever the binary runs.  The table ends with an entry whose name is NULL.
 */
#define APF_SQL_DIR "sql/motherduck/"
const struct apf_asset *apf_sql_asset_find(const char *name);

#endif
