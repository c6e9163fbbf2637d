/* cmd_push.c: apflow push, argilla_records.parquet into an Argilla dataset. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apflow/argilla.h"
#include "apflow/db.h"
#include "apflow/labelset.h"
#include "apflow/log.h"
#include "apflow/progress.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "cmd/argilla_cli.h"
#include "cmd/cmd.h"

const char cmd_push_usage[] =
	"usage: apflow push --dataset NAME [--parquet PATH|s3://BUCKET/KEY] [--api-url URL]\n"
	"                   [--api-key KEY] [--workspace NAME] [--batch-size N] [--concurrency N]\n"
	"                   [--replace-changed] [--timeout SECONDS] [--retries N] [--verbose]\n"
	"\n"
	"Pushes the merged pages and suggestions (argilla_records.parquet, one row\n"
	"per page) into the Argilla span dataset NAME, creating it when it does not\n"
	"exist: text field 'text', span question 'entities' with the labels of\n"
	"labelset v1, metadata doc_id, page_num, text_sha256, labelset_version,\n"
	"source, engine, agreement, min_score and n_spans.  Sort the dataset by\n"
	"agreement (ascending) in Argilla to annotate the most doubtful pages first.\n"
	"\n"
	"  --dataset NAME      the Argilla dataset; without --parquet the file is\n"
	"                      argilla/in/NAME/argilla_records.parquet in the store\n"
	"  --parquet P         a local file, or s3://BUCKET/KEY (read with the\n"
	"                      store's S3 settings)\n"
	"  --api-url URL       Argilla's URL (default: argilla_api_url, ARGILLA_API_URL)\n"
	"  --api-key KEY       its API key (default: argilla_api_key, ARGILLA_API_KEY);\n"
	"                      never printed\n"
	"  --workspace NAME    the workspace (default: argilla_workspace when set, else\n"
	"                      the key's first workspace)\n"
	"  --batch-size N      records per request, 1 to 500 (default 200; 100 to 500\n"
	"                      is what Argilla handles well)\n"
	"  --concurrency N     requests in flight, 1 to 16 (default 2)\n"
	"  --replace-changed   a record whose text changed since it was pushed is\n"
	"                      deleted and created again, which DROPS ITS ANNOTATIONS;\n"
	"                      without it such records stop the push\n"
	"  --timeout SECONDS   a request without an answer for this long is retried\n"
	"                      (default 60)\n"
	"  --retries N         retries of a request on 408, 429, 5xx, timeouts and\n"
	"                      resets, with exponential backoff, jitter and\n"
	"                      Retry-After (default 8)\n"
	"  --verbose           log each step (never the API key)\n"
	"\n"
	"Every record is checked before anything is sent: id <doc_id>:<page_num>,\n"
	"text_sha256, spans inside the text (code points), labels, overlaps and\n"
	"scores; any bad record stops the push with its id and the reason.  Records\n"
	"are upserted by id, so a push run again (after an interruption, or with\n"
	"the same file) sends only what is new or changed.  Ends with 'push NAME:\n"
	"N records: C created, U updated, S unchanged, F failed in T s'.\n"
	"\n"
	"Exit status: 0 done, 1 failed (nothing sent when the input is bad), 2 usage,\n"
	"130 interrupted (run it again to finish).\n";

/* Fetches s3://BUCKET/KEY or the store's key into a temp file. */
static int fetch_to_temp(struct apf_ctx *ctx, const char *url, const char *key, char **tmp, struct apf_err *err)
{
	struct apf_store *st = NULL;
	const char *dir = getenv("TMPDIR");
	char *path;
	int rc, fd;

	path = apf_xasprintf("%s/apflow-push-%ld-XXXXXX", dir && *dir ? dir : "/tmp", (long)getpid());
	fd = mkstemp(path);
	if (fd < 0) {
		rc = apf_error(err, APF_EIO, "cannot create a temp file in '%s': %s", dir ? dir : "/tmp", strerror(errno));
		free(path);
		return rc;
	}
	close(fd);
	rc = url ? apf_store_open_url(url, &ctx->cfg, &st, err) : apf_store_open(&ctx->cfg, &st, err);
	if (!rc)
		rc = apf_store_get_file(st, key, path, err);
	apf_store_free(st);
	if (rc) {
		unlink(path);
		free(path);
		return rc;
	}
	*tmp = path;
	return 0;
}

struct open_arg {
	struct argilla_cli *cli;
	struct apf_argilla *a;
	const char *dataset;
};

/* Called only after find_dataset found none: created without looking again. */
static int open_dataset(void *arg, struct apf_argilla_dataset *ds, struct apf_err *err)
{
	struct open_arg *oa = arg;

	return argilla_cli_dataset(oa->cli, oa->a, oa->dataset, APF_ARGILLA_CREATE_FIRST, ds, err);
}

/* While the file is checked: the dataset if it is there (nothing created). */
static int find_dataset(void *arg, struct apf_argilla_dataset *ds, struct apf_err *err)
{
	struct open_arg *oa = arg;
	const struct apf_labelset *ls = apf_labelset_v1();

	if (!ls)
		return apf_error(err, APF_EINTERNAL, "the bundled labelset v1 is broken");
	return apf_argilla_dataset_lookup(oa->a, oa->cli->ws_id, oa->cli->ws_name, oa->dataset, ls, ds, err);
}

int cmd_push(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "dataset", required_argument, NULL, 'd' },     { "parquet", required_argument, NULL, 'p' },
		{ "batch-size", required_argument, NULL, 'b' },  { "concurrency", required_argument, NULL, 'c' },
		{ "replace-changed", no_argument, NULL, 'R' },   ARGILLA_CLI_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct argilla_cli cli = ARGILLA_CLI_INIT;
	struct apf_argilla_push_options po = { 0 };
	struct apf_argilla_push_stats stats;
	struct apf_argilla_dataset ds;
	struct apf_argilla *a = NULL;
	struct open_arg oa;
	struct apf_progress *pb = NULL;
	struct apf_err err;
	const char *dataset = NULL, *parquet = NULL;
	char *tmp = NULL, *shown = NULL;
	int64_t v;
	int c, rc;

	apf_err_clear(&err);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dataset = optarg; break;
		case 'p': parquet = optarg; break;
		case 'R': po.replace_changed = 1; break;
		case 'b':
			if (apf_parse_i64(optarg, &v) || v < 1 || v > 500)
				return apf_cmd_usage_error("push", "--batch-size must be 1 to 500");
			po.batch_size = (int)v;
			break;
		case 'c':
			if (apf_parse_i64(optarg, &v) || v < 1 || v > 16)
				return apf_cmd_usage_error("push", "--concurrency must be 1 to 16");
			po.concurrency = (int)v;
			break;
		default:
			if ((rc = argilla_cli_option(&cli, "push", c, optarg)))
				return rc;
		}
	}
	if ((rc = argilla_cli_args_done(&cli, "push", argc, argv, dataset)))
		return rc;
	/* DuckDB (which reads the file) loads beside the sign-in requests. */
	apf_duckdb_preload();

	/* The input first: a missing file fails before any request. */
	if (!parquet) {
		char *key = apf_xasprintf("argilla/in/%s/argilla_records.parquet", dataset);
		rc = fetch_to_temp(ctx, NULL, key, &tmp, &err);
		shown = apf_xasprintf("%s (in the store)", key);
		free(key);
		if (rc) {
			rc = apf_cmd_fail(&err);
			goto out;
		}
	} else if (apf_starts_with(parquet, "s3://")) {
		const char *slash = strchr(parquet + 5, '/');
		char *bucket;
		if (!slash || !slash[1]) {
			rc = apf_cmd_usage_error("push", "--parquet '%s' names no key", parquet);
			goto out;
		}
		bucket = apf_xstrndup(parquet, (size_t)(slash - parquet));
		rc = fetch_to_temp(ctx, bucket, slash + 1, &tmp, &err);
		free(bucket);
		shown = apf_xstrdup(parquet);
		if (rc) {
			rc = apf_cmd_fail(&err);
			goto out;
		}
	} else {
		const char *p = apf_starts_with(parquet, "file://") ? parquet + 7 : parquet;
		if (access(p, R_OK)) {
			apf_error(&err, APF_EINVAL, "cannot read '%s': %s", parquet, strerror(errno));
			rc = apf_cmd_fail(&err);
			goto out;
		}
		shown = apf_xstrdup(p);
	}

	rc = argilla_cli_connect(&cli, ctx, &a, &err);
	if (rc) {
		rc = apf_cmd_fail(&err);
		goto out;
	}
	memset(&ds, 0, sizeof(ds));
	apf_strlcpy(ds.name, dataset, sizeof(ds.name));
	oa.cli = &cli;
	oa.a = a;
	oa.dataset = dataset;
	po.open_dataset = open_dataset;
	po.find_dataset = find_dataset;
	po.open_arg = &oa;
	argilla_cli_signals();
	po.parquet = tmp ? tmp : shown;
	po.source_name = shown;
	po.cancel = &argilla_cli_interrupted;
	pb = apf_progress_new("push", "records", 0, ctx->stderr_tty);
	po.progress = apf_progress_cb;
	po.progress_arg = pb;
	rc = apf_argilla_push(a, &ds, apf_labelset_v1(), &po, &stats, &err);
	apf_progress_end(pb, stderr, NULL);
	pb = NULL;
	{
		FILE *f = rc ? stderr : stdout;
		fprintf(f, "push '%s': %" PRIu64 " records: %" PRIu64 " created, %" PRIu64 " updated, %" PRIu64
			   " unchanged, %" PRIu64 " failed in %.1f s (%.0f records/s, %" PRIu64 " requests)\n",
			ds.name, stats.total, stats.created, stats.updated, stats.unchanged, stats.failed, stats.seconds,
			stats.seconds > 0 ? (double)(stats.created + stats.updated) / stats.seconds : 0.0, stats.requests);
		if (!rc && stats.replaced)
			fprintf(f, "push '%s': %" PRIu64 " records whose text changed were deleted and created again; "
				   "their annotations are gone\n",
				ds.name, stats.replaced);
	}
	if (rc) {
		if (argilla_cli_interrupted) {
			fprintf(stderr, "apflow: push interrupted; run it again to finish (records sent are not sent twice)\n");
			rc = 130;
		} else {
			rc = apf_cmd_fail(&err);
		}
	}
out:
	{
		/* a preloading process waits for the load before it exits */
		struct apf_err lerr;
		apf_err_clear(&lerr);
		apf_duckdb_need(&lerr);
	}
	apf_argilla_free(a);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(shown);
	return rc;
}
