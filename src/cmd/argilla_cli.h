/* argilla_cli.h: what apflow push and apflow pull share (connection flags,
 * the progress line, signals). */
#ifndef APFLOW_ARGILLA_CLI_H
#define APFLOW_ARGILLA_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdint.h>

#include "apflow/argilla.h"
#include "cmd/cmd.h"

struct argilla_cli {
	const char *api_url;    /* NULL: argilla_api_url */
	const char *api_key;    /* NULL: argilla_api_key */
	const char *workspace;  /* NULL: argilla_workspace if set, else the key's first */
	long timeout_s;
	int retries;            /* < 0: default */
	int verbose;
	char ws_id[64];         /* set by argilla_cli_connect() */
	char ws_name[256];
};

#define ARGILLA_CLI_INIT { .retries = -1 }

/* Connects, checks the key (GET /api/v1/me) and finds the workspace. */
int argilla_cli_connect(struct argilla_cli *cli, struct apf_ctx *ctx, struct apf_argilla **out, struct apf_err *err);
/* Finds the dataset in the workspace (creating it when create is set). */
int argilla_cli_dataset(struct argilla_cli *cli, struct apf_argilla *a, const char *dataset, int create,
			struct apf_argilla_dataset *ds, struct apf_err *err);

/* Connects, checks the key, finds the workspace and the dataset (creating
 * it when create is set).  Prints nothing; errors in err. */
int argilla_cli_open(struct argilla_cli *cli, struct apf_ctx *ctx, const char *dataset, int create,
		     struct apf_argilla **out, struct apf_argilla_dataset *ds, struct apf_err *err);

/* The long options of those flags, for a command's option table. */
#define ARGILLA_CLI_LONGOPTS                                                                              \
	{ "api-url", required_argument, NULL, 'u' }, { "api-key", required_argument, NULL, 'k' },        \
	{ "workspace", required_argument, NULL, 'w' }, { "timeout", required_argument, NULL, 't' },      \
	{ "retries", required_argument, NULL, 'r' }, { "verbose", no_argument, NULL, 'v' }

/*
 * The connection flags push and pull share (-u, -k, -w, -v, -t, -r):
 * returns 0 when c was one of them, and 2 (a usage error, printed) when
 * its value is out of range or c is no option of cmd.
 */
int argilla_cli_option(struct argilla_cli *cli, const char *cmd, int c, const char *arg);

/* After the options: refuses arguments left in argv from optind and a
 * missing or empty dataset (2, a usage error, printed), and turns on debug
 * logging for --verbose; returns 0 when all is well. */
int argilla_cli_args_done(struct argilla_cli *cli, const char *cmd, int argc, char **argv, const char *dataset);

extern volatile sig_atomic_t argilla_cli_interrupted;
void argilla_cli_signals(void);

#endif
