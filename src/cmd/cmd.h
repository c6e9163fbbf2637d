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
#include "apflow/err.h"

struct apf_ctx {
	struct apf_config cfg;
	int stderr_tty;    /* progress bars only on a terminal */
};

enum {
	NEED_CONFIG = 1 << 0, /* load the configuration before running */
	NEED_DB = 1 << 1,     /* uses the warehouse */
	NEED_STORE = 1 << 2,  /* uses the object store */
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
APF_CMD_DECLARE(eval);

struct apf_db_result;
/* Prints r as 'apflow sql' does: an aligned table, or CSV, or JSON. */
void apf_cmd_print_result(struct apf_db_result *r, int csv, int json);

const struct apf_cmd *apf_cmd_find(const char *name);
extern const struct apf_cmd apf_commands[];

#endif
