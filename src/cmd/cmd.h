/*
 * cmd.h: what the subcommands share.  Each subcommand lives in its own
 * src/cmd/cmd_<name>.c, exports its entry point and its usage text, and is
 * listed once in the table in src/main.c.
 *
 * A command returns its exit status: 0 success, 1 runtime failure, 2 usage.
 * It prints results on stdout and diagnostics on stderr.
 */
#ifndef APFLOW_CMD_H
#define APFLOW_CMD_H

#include <stdio.h>

#include "apflow/config.h"
#include "apflow/dbwriter.h"
#include "apflow/err.h"
#include "apflow/store.h"

/*
 * What main hands a command, provisioned from its flags in the table
 * (as git's run_builtin() does): the command borrows store and writer,
 * main opens them before it runs and closes them after it returns.
 */
struct apf_ctx {
	struct apf_config cfg;
	int stderr_tty;    /* progress bars only on a terminal */
	/* NEED_STORE: the object store of the configuration. */
	struct apf_store *store;
	/* NEED_DB: the warehouse writer (dbwriter.h; APF_DB_ONE_THREAD, opens
	 * the files only when work comes), on a warehouse already migrated. */
	struct apf_dbwriter *writer;
};

enum {
	NEED_CONFIG = 1 << 0, /* load the configuration before running */
	/* Uses the warehouse: main applies the pending migrations first (first
	 * use migrates; a warehouse that cannot be opened fails the command
	 * with the reason) and provides ctx->writer.  Implies NEED_CONFIG. */
	NEED_DB = 1 << 1,
	NEED_STORE = 1 << 2,  /* ctx->store is open (implies NEED_CONFIG) */
	/* With NEED_DB: only load DuckDB early; no migration and no writer
	 * (apflow init migrates itself, and has --dry-run). */
	NO_MIGRATE = 1 << 3,
	/* With NEED_DB: when another process holds the warehouse at start,
	 * warn and migrate at the writer's first open instead of failing
	 * (apflow serve starts beside a long stage). */
	DB_LOCK_LATER = 1 << 4,
	/* With NEED_DB: migrate at the writer's first open, not at start; a
	 * run that never writes (preannotate --stdin-jsonl with rules, on a
	 * Spark executor) leaves no warehouse behind. */
	DB_LAZY = 1 << 5,
};

struct apf_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct apf_ctx *ctx);
	unsigned flags;
	const char *summary;
	const char *usage; /* full --help text */
};

/* Prints "apflow CMD: message" and the hint to run --help; returns 2. */
int apf_cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "apflow: error: message" for err and returns its exit code. */
int apf_cmd_fail(const struct apf_err *err);
struct apf_progress;
/* The same, after ending the progress bar *pb (its line is cleared, *pb
 * is NULL after), so the message does not land in the bar's line. */
int apf_cmd_fail_progress(struct apf_progress **pb, const struct apf_err *err);

#define APF_CMD_DECLARE(n)                                             \
	int cmd_##n(int argc, char **argv, struct apf_ctx *ctx);       \
	extern const char cmd_##n##_usage[]

APF_CMD_DECLARE(version);
APF_CMD_DECLARE(config);
APF_CMD_DECLARE(init);
APF_CMD_DECLARE(sql);
APF_CMD_DECLARE(store);
APF_CMD_DECLARE(serve);
APF_CMD_DECLARE(ingest);
APF_CMD_DECLARE(ocr);
APF_CMD_DECLARE(export);
APF_CMD_DECLARE(preannotate);
APF_CMD_DECLARE(merge);
APF_CMD_DECLARE(push);
APF_CMD_DECLARE(pull);
APF_CMD_DECLARE(load);
APF_CMD_DECLARE(check);
APF_CMD_DECLARE(panels);
APF_CMD_DECLARE(learn);
APF_CMD_DECLARE(run);
APF_CMD_DECLARE(status);
APF_CMD_DECLARE(eval);

struct apf_db_result;
/* Prints r as 'apflow sql' does: an aligned table, or CSV, or JSON. */
void apf_cmd_print_result(struct apf_db_result *r, int csv, int json);

struct apf_jsonw;
/* Prints jw's text (apflow/jsonw.h) and a newline on stdout, and releases
 * jw.  A writer that is not apf_jsonw_ok() prints nothing and fails (an
 * internal error, said on stderr): returns 0 or 1. */
int apf_cmd_print_json(struct apf_jsonw *jw);

const struct apf_cmd *apf_cmd_find(const char *name);
extern const struct apf_cmd apf_commands[];

#endif
