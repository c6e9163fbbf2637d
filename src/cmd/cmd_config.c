/* cmd_config.c: apflow config [--json] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "apflow/config.h"
#include "cmd/cmd.h"
#include "apflow/banned.h" /* last: after every system header */

const char cmd_config_usage[] =
	"usage: apflow config [--json]\n"
	"\n"
	"Prints every setting's effective value and where it came from: a flag\n"
	"(-c key=value, --data-dir ...), the environment, the config file\n"
	"(--config FILE, $APFLOW_CONFIG or ./apflow.conf), or the default.\n"
	"Secrets (tokens, keys) are never printed, only whether they are set.\n"
	"\n"
	"  --json    one JSON object: {\"file\": ..., \"settings\": {key: {value, source, help}}}\n";

int cmd_config(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, c;
	char value[4096], origin[600];

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else
			return apf_cmd_usage_error("config", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return apf_cmd_usage_error("config", "unexpected argument '%s'", argv[optind]);

	if (json) {
		json_t *root = json_object(), *settings = json_object();
		json_object_set_new(root, "file", ctx->cfg.file ? json_string(ctx->cfg.file) : json_null());
		for (int k = 0; k < APF_CFG_COUNT; k++) {
			apf_config_display(&ctx->cfg, k, value, sizeof(value));
			apf_config_origin(&ctx->cfg, k, origin, sizeof(origin));
			json_object_set_new(settings, apf_config_name(k),
					    json_pack("{s:s, s:s, s:b, s:s}", "value", value, "source", origin,
						      "secret", apf_config_is_secret(k), "help", apf_config_help(k)));
		}
		json_object_set_new(root, "settings", settings);
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(root);
		return 0;
	}

	printf("# config file: %s\n", ctx->cfg.file ? ctx->cfg.file : "(none)");
	for (int k = 0; k < APF_CFG_COUNT; k++) {
		apf_config_display(&ctx->cfg, k, value, sizeof(value));
		apf_config_origin(&ctx->cfg, k, origin, sizeof(origin));
		printf("%-22s = %-40s # %s\n", apf_config_name(k), value, origin);
	}
	return 0;
}
