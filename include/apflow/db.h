/*
 * db.h: the warehouse, over DuckDB's C API.
 *
 * apf_db_open() opens an in-memory DuckDB and attaches the two warehouse
 * databases under the names the SQL uses, md_raw_ocr and md_annotated:
 * local files <data_dir>/md_raw_ocr.duckdb and <data_dir>/md_annotated.duckdb,
 * or md:md_raw_ocr and md:md_annotated when the warehouse is MotherDuck.
 *
 * A local DuckDB file takes one writing process at a time, so no process
 * keeps the warehouse open between units of work: open, do the work in one
 * transaction, close.  When another process holds the file, opening retries
 * with backoff and jitter for lock_timeout seconds, then fails with
 * APF_ELOCKED and DuckDB's message (which names the other process).
 *
 * One struct apf_db is one connection; it is not shared between threads.
 */
#ifndef APFLOW_DB_H
#define APFLOW_DB_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/config.h"
#include "apflow/err.h"

struct apf_db;
struct apf_db_stmt;
struct apf_db_result;

int apf_db_open(const struct apf_config *cfg, struct apf_db **out, struct apf_err *err);
void apf_db_close(struct apf_db *db);

/* Runs one or more statements without parameters. */
int apf_db_exec(struct apf_db *db, const char *sql, struct apf_err *err);
/* Runs a query and keeps its result; the caller frees it. */
int apf_db_query(struct apf_db *db, const char *sql, struct apf_db_result **out, struct apf_err *err);

int apf_db_begin(struct apf_db *db, struct apf_err *err);
int apf_db_commit(struct apf_db *db, struct apf_err *err);
void apf_db_rollback(struct apf_db *db); /* best effort, never fails */

/* Prepared statements: parameters are 1-based ($1, ? ...). */
int apf_db_prepare(struct apf_db *db, const char *sql, struct apf_db_stmt **out, struct apf_err *err);
int apf_db_bind_text(struct apf_db_stmt *st, int idx, const char *s);  /* NULL binds NULL */
int apf_db_bind_i64(struct apf_db_stmt *st, int idx, int64_t v);
int apf_db_bind_double(struct apf_db_stmt *st, int idx, double v);
int apf_db_bind_null(struct apf_db_stmt *st, int idx);
int apf_db_stmt_exec(struct apf_db_stmt *st, struct apf_db_result **out, struct apf_err *err); /* out may be NULL */
void apf_db_stmt_free(struct apf_db_stmt *st);

/* Sets a DuckDB variable: SET VARIABLE name = value (value bound, never pasted). */
int apf_db_set_variable(struct apf_db *db, const char *name, const char *value, struct apf_err *err);

/* Results. */
uint64_t apf_db_result_rows(const struct apf_db_result *r);
uint64_t apf_db_result_cols(const struct apf_db_result *r);
const char *apf_db_result_colname(const struct apf_db_result *r, uint64_t col);
int apf_db_result_is_null(struct apf_db_result *r, uint64_t col, uint64_t row);
/* A malloc'ed text rendering of the value, or NULL for NULL. */
char *apf_db_result_text(struct apf_db_result *r, uint64_t col, uint64_t row);
int64_t apf_db_result_i64(struct apf_db_result *r, uint64_t col, uint64_t row);
uint64_t apf_db_result_changes(struct apf_db_result *r); /* rows changed by DML */
void apf_db_result_free(struct apf_db_result *r);

/* Quotes s as a SQL string literal ('it''s'); the one place literals are made. */
char *apf_db_quote_literal(const char *s);
/* Quotes s as an identifier ("a""b"). */
char *apf_db_quote_ident(const char *s);

/* "v1.4.4" */
const char *apf_db_library_version(void);

#endif
