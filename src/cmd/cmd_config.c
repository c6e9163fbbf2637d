/* cmd_config.c: apflow config [--json] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "apflow/config.h"
#include "apflow/jsonw.h"
#include "cmd/cmd.h"
#include "apflow/banned.h" /* last: after every system header */

const char cmd_config_usage[] =
	"usage: apflow config [--json]\n"
	"\n"
	"Prints every setting's effective value and where it came from: a flag\n"
	"(-c key=value, --data-dir ...), the environment, the config file\n"
	"(--config FILE, $APFLOW_CONFIG or ./apflow.conf), or the default.\n"
	"Secrets (tokens, keys) are never printed, only whether they are set.\n"
	"An empty value reads as unset and is shown \"(empty: unset)\", or\n"
	"\"(empty: invalid)\" where it is refused (upload_token).\n"
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
		struct apf_jsonw jw;
		apf_jsonw_init(&jw, 2, 0);
		apf_jsonw_object_begin(&jw);
		apf_jsonw_object_string(&jw, "file", ctx->cfg.file);
		apf_jsonw_object_object(&jw, "settings");
		for (int k = 0; k < APF_CFG_COUNT; k++) {
			apf_config_display(&ctx->cfg, k, value, sizeof(value));
			apf_config_origin(&ctx->cfg, k, origin, sizeof(origin));
			apf_jsonw_object_object(&jw, apf_config_name(k));
			apf_jsonw_object_string(&jw, "value", value);
			apf_jsonw_object_string(&jw, "source", origin);
			apf_jsonw_object_bool(&jw, "secret", apf_config_is_secret(k));
			apf_jsonw_object_string(&jw, "help", apf_config_help(k));
			apf_jsonw_end(&jw);
		}
		apf_jsonw_end(&jw);
		apf_jsonw_end(&jw);
		return apf_cmd_print_json(&jw);
	}

	printf("# config file: %s\n", ctx->cfg.file ? ctx->cfg.file : "(none)");
	for (int k = 0; k < APF_CFG_COUNT; k++) {
		apf_config_display(&ctx->cfg, k, value, sizeof(value));
		apf_config_origin(&ctx->cfg, k, origin, sizeof(origin));
		printf("%-22s = %-40s # %s\n", apf_config_name(k), value, origin);
	}
	return 0;
}
