/* argilla_cli.c: the connection and progress code of apflow push and pull. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/labelset.h"
#include "apflow/log.h"
#include "apflow/progress.h"
#include "apflow/util.h"
#include "cmd/argilla_cli.h"

volatile sig_atomic_t argilla_cli_interrupted;

static void on_signal(int sig)
{
	argilla_cli_interrupted = 1;
	signal(sig, SIG_DFL); /* a second one stops at once */
}

void argilla_cli_signals(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

int argilla_cli_connect(struct argilla_cli *cli, struct apf_ctx *ctx, struct apf_argilla **out, struct apf_err *err)
{
	struct apf_argilla_options o = { 0 };
	struct apf_argilla_user me;
	struct apf_argilla *a = NULL;
	const char *ws = cli->workspace;
	int rc;

	o.api_url = cli->api_url ? cli->api_url : apf_config_get(&ctx->cfg, APF_CFG_ARGILLA_API_URL);
	o.api_key = cli->api_key ? cli->api_key : apf_config_get(&ctx->cfg, APF_CFG_ARGILLA_API_KEY);
	o.timeout_s = cli->timeout_s;
	o.max_retries = cli->retries;
	/* The built-in default workspace name is a guess: without one set,
	 * the key's first workspace is used. */
	if (!ws && ctx->cfg.e[APF_CFG_ARGILLA_WORKSPACE].source != APF_SRC_DEFAULT)
		ws = apf_config_get(&ctx->cfg, APF_CFG_ARGILLA_WORKSPACE);
	rc = apf_argilla_new(&o, &a, err);
	if (rc)
		return rc;
	rc = apf_argilla_me(a, &me, err);
	if (!rc) {
		apf_log_debug("argilla: signed in as '%s' (%s)", me.username, me.role);
		rc = apf_argilla_workspace(a, ws, cli->ws_id, cli->ws_name, err);
	}
	if (rc) {
		apf_argilla_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

int argilla_cli_dataset(struct argilla_cli *cli, struct apf_argilla *a, const char *dataset, int create,
			struct apf_argilla_dataset *ds, struct apf_err *err)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	int rc;

	if (!ls)
		return apf_error(err, APF_EINTERNAL, "the bundled labelset v1 is broken");
	rc = apf_argilla_dataset_open(a, cli->ws_id, cli->ws_name, dataset, ls, create, ds, err);
	if (!rc && ds->created)
		apf_log_info("created Argilla dataset '%s' in workspace '%s' (labelset %s)", ds->name, ds->workspace,
			     ls->version);
	return rc;
}

int argilla_cli_open(struct argilla_cli *cli, struct apf_ctx *ctx, const char *dataset, int create,
		     struct apf_argilla **out, struct apf_argilla_dataset *ds, struct apf_err *err)
{
	int rc = argilla_cli_connect(cli, ctx, out, err);

	if (rc)
		return rc;
	rc = argilla_cli_dataset(cli, *out, dataset, create, ds, err);
	if (rc) {
		apf_argilla_free(*out);
		*out = NULL;
	}
	return rc;
}

int argilla_cli_option(struct argilla_cli *cli, const char *cmd, int c, const char *arg)
{
	int64_t v;

	switch (c) {
	case 'u': cli->api_url = arg; return 0;
	case 'k': cli->api_key = arg; return 0;
	case 'w': cli->workspace = arg; return 0;
	case 'v': cli->verbose = 1; return 0;
	case 't':
		if (apf_parse_i64(arg, &v) || v < 1 || v > 3600)
			return apf_cmd_usage_error(cmd, "--timeout must be 1 to 3600 seconds");
		cli->timeout_s = (long)v;
		return 0;
	case 'r':
		if (apf_parse_i64(arg, &v) || v < 0 || v > 100)
			return apf_cmd_usage_error(cmd, "--retries must be 0 to 100");
		cli->retries = (int)v;
		return 0;
	default:
		return apf_cmd_usage_error(cmd, "unknown option");
	}
}

int argilla_cli_args_done(struct argilla_cli *cli, const char *cmd, int argc, char **argv, const char *dataset)
{
	if (optind < argc)
		return apf_cmd_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (!dataset || !*dataset)
		return apf_cmd_usage_error(cmd, "--dataset is required");
	if (cli->verbose)
		apf_log_set_level(APF_LOG_DEBUG);
	return 0;
}
