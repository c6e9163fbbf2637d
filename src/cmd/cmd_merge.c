/* cmd_merge.c: apflow merge, a dataset's pages and suggestions into Argilla records (see dataset.h). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "apflow/dataset.h"
#include "cmd/cmd.h"
#include "apflow/banned.h" /* last: after every system header */

const char cmd_merge_usage[] =
	"usage: apflow merge --dataset NAME\n"
	"\n"
	"Joins the dataset's current export (argilla/in/NAME/pages/) with every\n"
	"agent's suggestions (argilla/in/NAME/suggestions/<agent>/) into\n"
	"argilla/in/NAME/argilla_records.parquet, one record per page, as\n"
	"sql/motherduck/merge_suggestions_for_argilla.sql says: id, doc_id,\n"
	"page_num, text, text_sha256, filename, labelset_version, source, engine,\n"
	"suggestions_json (one element per agent, spans sorted, no overlaps\n"
	"within an agent), n_spans, min_score, agreement.  The file is replaced\n"
	"in one write.\n"
	"\n"
	"Suggestions whose text_sha256 is not the page's (the text changed since\n"
	"pre-annotation) are left out and counted as stale; so are suggestions\n"
	"for pages not in the export, spans that do not fit their text or the\n"
	"labelset, duplicates, and spans overlapping a better one of the same\n"
	"agent.\n"
	"\n"
	"Ends with 'merge NAME: R records, S spans from A agents (W records with\n"
	"spans); left out: ... ; X s'.\n"
	"\n"
	"Exit status: 0 done, 1 failed, 2 usage.\n";

int cmd_merge(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct apf_merge_result res;
	struct apf_err err;
	const char *dataset = NULL;
	int c, rc = 0;

	apf_err_clear(&err);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'd') {
			rc = apf_cmd_usage_error("merge", "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
		dataset = optarg;
	}
	if (optind < argc) {
		rc = apf_cmd_usage_error("merge", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!dataset) {
		rc = apf_cmd_usage_error("merge", "--dataset NAME is required");
		goto out;
	}
	if (apf_dataset_name_check(&ctx->cfg, dataset, &err)) {
		rc = err.code == APF_EUSAGE ? apf_cmd_usage_error("merge", "%s", err.msg) : apf_cmd_fail(&err);
		goto out;
	}
	if ((rc = apf_merge_run(&ctx->cfg, ctx->store, dataset, &res, &err))) {
		rc = apf_cmd_fail(&err);
		goto out;
	}
	printf("merge %s: %" PRIu64 " record%s, %" PRIu64 " span%s from %" PRIu64 " agent%s (%" PRIu64
	       " record%s with spans); left out: %" PRIu64 " stale, %" PRIu64 " not exported, %" PRIu64 " invalid, %" PRIu64
	       " duplicate%s, %" PRIu64 " overlapped; %.1f s\n",
	       dataset, res.pages, res.pages == 1 ? "" : "s", res.spans, res.spans == 1 ? "" : "s", res.agents,
	       res.agents == 1 ? "" : "s", res.pages_with_spans, res.pages_with_spans == 1 ? "" : "s", res.stale,
	       res.not_exported, res.invalid, res.duplicates, res.duplicates == 1 ? "" : "s", res.overlapped,
	       res.ms / 1000.0);
out:
	return rc;
}
