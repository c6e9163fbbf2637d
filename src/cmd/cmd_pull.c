/* cmd_pull.c: apflow pull, an Argilla dataset's annotations into Parquet. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apflow/argilla.h"
#include "apflow/dataset.h"
#include "apflow/log.h"
#include "apflow/progress.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "cmd/argilla_cli.h"
#include "cmd/cmd.h"

const char cmd_pull_usage[] =
	"usage: apflow pull --dataset NAME [--status submitted|draft|discarded] [--since TS]\n"
	"                   [--out PATH] [--api-url URL] [--api-key KEY] [--workspace NAME]\n"
	"                   [--timeout SECONDS] [--retries N] [--verbose]\n"
	"\n"
	"Reads every record of the Argilla dataset NAME with its responses and\n"
	"suggestion and writes them as one Parquet file in the layout of the Argilla\n"
	"SDK's export (dataset.records.to_datasets(), Dataset.to_hub): id, status,\n"
	"_server_id, text, the metadata, entities.responses (one span list per\n"
	"response), entities.responses.users, entities.responses.status,\n"
	"entities.suggestion, entities.suggestion.score, entities.suggestion.agent,\n"
	"plus entities.responses.usernames and entities.responses.updated_at.  As\n"
	"in the SDK, a discarded response without spans is left out; drafts are\n"
	"kept with status draft.\n"
	"\n"
	"  --dataset NAME    the dataset\n"
	"  --status S        keep only responses with status S (e.g. submitted)\n"
	"  --since TS        only records created, changed or annotated since TS\n"
	"                    (YYYY-MM-DD[THH:MM[:SS]][Z], UTC)\n"
	"  --out PATH        write here (a local file) instead of the store's\n"
	"                    argilla/out/NAME/<YYYYMMDDTHHMMSSZ>/records.parquet\n"
	"  --api-url, --api-key, --workspace, --timeout, --retries, --verbose\n"
	"                    as for 'apflow push'\n"
	"\n"
	"The file appears whole or not at all.  Ends with 'pull NAME: N records,\n"
	"R responses (S submitted) to WHERE in T s'.\n"
	"\n"
	"Exit status: 0 done, 1 failed (nothing written), 2 usage, 130 interrupted.\n";

int cmd_pull(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "dataset", required_argument, NULL, 'd' }, { "status", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },   { "out", required_argument, NULL, 'o' },
		ARGILLA_CLI_LONGOPTS,			     { NULL, 0, NULL, 0 },
	};
	struct argilla_cli cli = ARGILLA_CLI_INIT;
	struct apf_argilla_pull_options po = { 0 };
	struct apf_argilla_pull_stats stats;
	struct apf_argilla_dataset ds;
	struct apf_argilla *a = NULL;
	struct apf_store *st = NULL;
	struct apf_progress *pb = NULL;
	struct apf_err err;
	const char *dataset = NULL, *out = NULL;
	char *tmp = NULL, *tmpdir = NULL, *key = NULL, *where = NULL;
	int c, rc;

	apf_err_clear(&err);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dataset = optarg; break;
		case 's':
			if (strcmp(optarg, "submitted") && strcmp(optarg, "draft") && strcmp(optarg, "discarded"))
				return apf_cmd_usage_error("pull", "--status must be submitted, draft or discarded");
			po.status = optarg;
			break;
		case 'S': po.since = optarg; break;
		case 'o': out = optarg; break;
		default:
			if ((rc = argilla_cli_option(&cli, "pull", c, optarg)))
				return rc;
		}
	}
	if ((rc = argilla_cli_args_done(&cli, "pull", argc, argv, dataset)))
		return rc;

	if (out) {
		if (apf_starts_with(out, "file://"))
			out += 7;
		po.out = out;
		where = apf_xstrdup(out);
	} else {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
		key = apf_xasprintf("argilla/out/%s/%s/records.parquet", dataset, ts);
		if (!apf_store_key_valid(key)) {
			rc = apf_cmd_usage_error("pull", "dataset name '%s' cannot be a store key", dataset);
			goto out;
		}
		rc = apf_store_open(&ctx->cfg, &st, &err);
		if (rc) {
			rc = apf_cmd_fail(&err);
			goto out;
		}
		/* A private directory under <data_dir>/tmp, swept by the next
		 * run if this one is killed; the file is moved into a file://
		 * store, not copied. */
		rc = apf_dataset_tmpdir(&ctx->cfg, &tmpdir, &err);
		if (rc) {
			rc = apf_cmd_fail(&err);
			goto out;
		}
		tmp = apf_xasprintf("%s/records.parquet", tmpdir);
		po.out = tmp;
		where = apf_xasprintf("%s/%s", apf_store_url(st), key);
	}
	rc = argilla_cli_open(&cli, ctx, dataset, 0, &a, &ds, &err);
	if (rc) {
		rc = apf_cmd_fail(&err);
		goto out;
	}
	argilla_cli_signals();
	po.cancel = &argilla_cli_interrupted;
	pb = apf_progress_new("pull", "records", 0, ctx->stderr_tty);
	po.progress = apf_progress_cb;
	po.progress_arg = pb;
	rc = apf_argilla_pull(a, &ds, &po, &stats, &err);
	apf_progress_end(pb, stderr, NULL);
	pb = NULL;
	if (!rc && key)
		rc = apf_store_put_file_move(st, key, tmp, "application/vnd.apache.parquet", &err);
	if (rc) {
		rc = argilla_cli_interrupted ? (fprintf(stderr, "apflow: pull interrupted; nothing was written\n"), 130)
					     : apf_cmd_fail(&err);
		goto out;
	}
	printf("pull '%s': %" PRIu64 " records, %" PRIu64 " responses (%" PRIu64 " submitted) to %s in %.1f s\n", ds.name,
	       stats.records, stats.responses, stats.submitted, where, stats.seconds);
out:
	apf_argilla_free(a);
	apf_store_free(st);
	free(tmp);
	if (tmpdir)
		apf_dataset_rmtree(tmpdir);
	free(tmpdir);
	free(key);
	free(where);
	return rc;
}
