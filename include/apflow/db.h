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
 * Several apf_db in one process (threads) share one DuckDB instance, so the
 * files are attached once per process however many connections use them;
 * the last apf_db_close() detaches them.  Every connection runs with
 * TimeZone 'UTC'.  Statements without a database name go to the in-memory
 * scratch database ("memory"), which is private to the process.
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
void apf_db_close(struct apf_db *db); /* NULL is a no-op */

enum {
	/* Attach read-only (a shared lock: writers wait, other readers do not).
	 * A warehouse file that does not exist yet is attached as an empty
	 * in-memory database of the same name, so readers see an empty
	 * warehouse and nothing is created on disk.  Ignored for MotherDuck. */
	APF_DB_READONLY = 1 << 0,
	/* The connection runs small transactions (a writer's group commits of
	 * a few rows each), so the DuckDB instance this open creates runs its
	 * queries on one thread: for statements of a few rows, handing work
	 * to a thread pool costs more than it saves (a batch of uploads takes
	 * about 30% less CPU on one thread).  Local warehouse only; an
	 * instance this process already has keeps its setting. */
	APF_DB_ONE_THREAD = 1 << 1,
};
/* apf_db_open() with flags (APF_DB_*).  Errors: APF_ECONFIG (unknown
 * warehouse, bad lock_timeout, MotherDuck without a token), APF_ELOCKED,
 * APF_EDB, APF_EIO (data_dir). */
int apf_db_open_ex(const struct apf_config *cfg, unsigned flags, struct apf_db **out,
		   struct apf_err *err);
/* A private in-memory DuckDB with empty in-memory md_raw_ocr and md_annotated
 * attached: the same names as the warehouse, nothing on disk (for tests). */
int apf_db_open_memory(struct apf_db **out, struct apf_err *err);

/*
 * Taking turns for a local warehouse (DESIGN.md, "Processes side by side").
 * A process that finds the files locked writes its pid to
 * <data_dir>/.lock-wanted at every attempt and removes it once it has
 * them.  A process that keeps the warehouse open for a stream of work
 * (dbwriter.c) asks apf_db_lock_wanted() once its hold is over; when
 * another process is waiting it closes, and apf_db_yield() waits for the
 * waiter to get in (the file gone or stale) before opening again.
 * Without it, the holder closed and reopened within a millisecond, and a
 * waiter whose backoff had reached a second almost never caught the gap:
 * an ingest waited for a whole OCR run.
 */
int apf_db_lock_wanted(const struct apf_config *cfg);
/* Waits, up to max_ms, until no other process is waiting (see above). */
void apf_db_yield(const struct apf_config *cfg, int64_t max_ms);

/* Runs one or more statements without parameters. */
int apf_db_exec(struct apf_db *db, const char *sql, struct apf_err *err);
/* Runs a query and keeps its result; the caller frees it. */
int apf_db_query(struct apf_db *db, const char *sql, struct apf_db_result **out, struct apf_err *err);
/* Runs a query and returns the first column of its first row as an integer;
 * no row or NULL is APF_ENOTFOUND. */
int apf_db_query_i64(struct apf_db *db, const char *sql, int64_t *out, struct apf_err *err);

int apf_db_begin(struct apf_db *db, struct apf_err *err);
int apf_db_commit(struct apf_db *db, struct apf_err *err);
void apf_db_rollback(struct apf_db *db); /* best effort, never fails */

/*
 * Errors of the functions above: APF_ESQL for what the statement got wrong
 * (syntax, names, types, constraints), APF_EDB for the database failing
 * (I/O, transaction conflicts, interrupts), APF_ENOMEM; the message is
 * DuckDB's ("Catalog Error: Table with name x does not exist!...").
 */

/* Prepared statements: parameters are 1-based ($1, ? ...).  A bind that
 * fails (index out of range) is reported by apf_db_stmt_exec(). */
int apf_db_prepare(struct apf_db *db, const char *sql, struct apf_db_stmt **out, struct apf_err *err);
int apf_db_bind_text(struct apf_db_stmt *st, int idx, const char *s);  /* NULL binds NULL */
int apf_db_bind_i64(struct apf_db_stmt *st, int idx, int64_t v);
int apf_db_bind_double(struct apf_db_stmt *st, int idx, double v);
int apf_db_bind_null(struct apf_db_stmt *st, int idx);
int apf_db_stmt_exec(struct apf_db_stmt *st, struct apf_db_result **out, struct apf_err *err); /* out may be NULL */
void apf_db_stmt_free(struct apf_db_stmt *st); /* NULL is a no-op */

/* Sets a DuckDB variable: SET VARIABLE name = 'value' (a VARCHAR; NULL sets
 * NULL).  DuckDB does not take prepared parameters in SET VARIABLE, so the
 * value is quoted by apf_db_quote_literal(); name must be
 * [A-Za-z_][A-Za-z0-9_]* (else APF_EUSAGE). */
int apf_db_set_variable(struct apf_db *db, const char *name, const char *value, struct apf_err *err);

/* Results.  The whole result is held in memory; rows and columns are
 * 0-based. */
enum apf_db_coltype {
	APF_DB_COL_OTHER = 0, /* dates, times, blobs, nested types ... */
	APF_DB_COL_TEXT,      /* VARCHAR */
	APF_DB_COL_INT,       /* all integer types */
	APF_DB_COL_REAL,      /* FLOAT, DOUBLE, DECIMAL */
	APF_DB_COL_BOOL,
};
uint64_t apf_db_result_rows(const struct apf_db_result *r);
uint64_t apf_db_result_cols(const struct apf_db_result *r);
const char *apf_db_result_colname(const struct apf_db_result *r, uint64_t col);
enum apf_db_coltype apf_db_result_coltype(const struct apf_db_result *r, uint64_t col);
/* 1 when the statement produced a result set (SELECT, SHOW, RETURNING ...),
 * 0 for a change count (INSERT, COPY) or nothing (DDL, SET). */
int apf_db_result_is_query(const struct apf_db_result *r);
int apf_db_result_is_null(struct apf_db_result *r, uint64_t col, uint64_t row);
/* A malloc'ed text rendering of the value as DuckDB casts it to VARCHAR
 * ([1, 2], {'a': 1}, 2024-01-02 10:00:00+00), or NULL for NULL. */
char *apf_db_result_text(struct apf_db_result *r, uint64_t col, uint64_t row);
/* The value as an integer (0 for NULL or text that is not a number). */
int64_t apf_db_result_i64(struct apf_db_result *r, uint64_t col, uint64_t row);
uint64_t apf_db_result_changes(struct apf_db_result *r); /* rows changed by DML */
/* A VARCHAR cell's bytes without a copy (not NUL-terminated; valid until
 * the result is freed), *len its length; NULL for NULL or another type. */
const char *apf_db_result_str(struct apf_db_result *r, uint64_t col, uint64_t row, size_t *len);
/* A DOUBLE, FLOAT or integer cell as a double; NAN for NULL or another type. */
double apf_db_result_f64(struct apf_db_result *r, uint64_t col, uint64_t row);
void apf_db_result_free(struct apf_db_result *r); /* NULL is a no-op */

/*
 * Streams: the rows of a prepared query a chunk (up to 2048 rows) at a
 * time, so that reading a large Parquet file keeps memory flat.  Each
 * chunk is a result read with the functions above (rows 0-based within the
 * chunk) and freed with apf_db_result_free() before the stream is.  *out
 * is NULL at the end.  Column names and types are the same in every chunk.
 * The statement must outlive the stream.
 */
struct apf_db_stream;
int apf_db_stream_open(struct apf_db_stmt *st, struct apf_db_stream **out, struct apf_err *err);
int apf_db_stream_next(struct apf_db_stream *s, struct apf_db_result **out, struct apf_err *err);
void apf_db_stream_free(struct apf_db_stream *s); /* NULL is a no-op */

/* Quotes s as a SQL string literal ('it''s'); the one place literals are
 * made.  malloc'ed; NULL gives "NULL". */
char *apf_db_quote_literal(const char *s);
/* Quotes s as an identifier ("a""b"); malloc'ed. */
char *apf_db_quote_ident(const char *s);
/* 1 when s is a plain name: [A-Za-z_][A-Za-z0-9_]* */
int apf_db_name_valid(const char *s);

/* "v1.4.4", or "unavailable" when DuckDB cannot be loaded. */
const char *apf_db_library_version(void);

/*
 * Loading DuckDB.  libduckdb is not linked but loaded (dlopen) when first
 * needed, so commands that never touch the warehouse do not pay the ~14 ms
 * of CPU its relocation takes; see src/core/duckdb_dl.h for where it is
 * looked for and APFLOW_DUCKDB_LIB, which names another file.
 *
 * apf_duckdb_preload() starts loading it on a thread of its own (which
 * takes no signals), so that a command which will open the warehouse
 * loads it beside its own start: reading options and config, or PDFs.
 * apf_duckdb_need() waits for that thread and joins it, or loads DuckDB
 * here when nothing was preloaded; it returns 0, or APF_EDB "cannot load
 * DuckDB (libduckdb.so): <why>; run scripts/install-deps.sh" (each call
 * gives the same answer: the library is loaded once per process and never
 * unloaded).  Both are thread-safe.  apf_db_open*() call apf_duckdb_need()
 * themselves; a process that preloads calls it before it exits, so that
 * exit() never runs while libduckdb's constructors do.
 */
void apf_duckdb_preload(void);
int apf_duckdb_need(struct apf_err *err);

#endif
