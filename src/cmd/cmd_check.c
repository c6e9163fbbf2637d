/* cmd_check.c: apflow check [--json] [--stuck-hours N] */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/check.h"
#include "apflow/jsonw.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

const char cmd_check_usage[] =
	"usage: apflow check [--json] [--stuck-hours N]\n"
	"\n"
	"Checks the warehouse's invariants (sql/motherduck/checks_integrity.sql,\n"
	"compiled in) and prints one row per check: name, status (ok, warn or\n"
	"fail), how many rows break it and up to 5 of their ids.\n"
	"\n"
	"  coverage            every document OCR has read has all its pages\n"
	"  page_sha256         every page's text_sha256 is the SHA-256 of its text\n"
	"  orphan_annotations  no annotation without its page, no span without its annotation\n"
	"  stale_annotations   the latest annotations were made on the current page text\n"
	"  spans_valid         spans inside their text, naming its characters, labels of the labelset\n"
	"  duplicate_spans     no span loaded twice (same run, page, annotator, offsets, label)\n"
	"  suggestions_pages   suggestions (the store's argilla/in/*/suggestions/ Parquet and\n"
	"                      those loaded exports carry) refer to pages that exist\n"
	"  empty_exports       every export run holds the pages and spans it recorded (warn: no records)\n"
	"  stuck_documents     no document waits for OCR longer than --stuck-hours (default 24)\n"
	"  store_reconcile     every PDF in the store's raw/ has its documents row and is\n"
	"                      what its name says (a dry run of what 'apflow serve' repairs)\n"
	"\n"
	"  --json           print a JSON array of {check, status, count, examples, description}\n"
	"  --stuck-hours N  how long a document may wait for OCR\n"
	"\n"
	"Run it daily from cron or CI, for instance:\n"
	"  17 6 * * *  cd /srv/apflow && apflow check >>check.log 2>&1 || mail -s 'apflow check failed' ops\n"
	"\n"
	"Exit status: 0 every check ok or warn, 1 a check failed (or the checks\n"
	"could not run), 2 usage.\n";

/* One check as {check, status, count, examples, description}; examples is
 * the comma-separated list ex (NULL: none) as an array. */
static void check_json(struct apf_jsonw *jw, const char *name, const char *status, int64_t count, const char *ex,
		       const char *desc)
{
	apf_jsonw_object_begin(jw);
	apf_jsonw_object_string(jw, "check", name);
	apf_jsonw_object_string(jw, "status", status);
	apf_jsonw_object_int(jw, "count", count);
	apf_jsonw_object_array(jw, "examples");
	for (const char *p = ex; p && *p;) {
		size_t len = strcspn(p, ",");
		apf_jsonw_array_stringn(jw, p, len);
		p += len + (p[len] == ',');
	}
	apf_jsonw_end(jw);
	apf_jsonw_object_string(jw, "description", desc);
	apf_jsonw_end(jw);
}

int cmd_check(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "stuck-hours", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct apf_check_report rep;
	struct apf_err err;
	struct apf_jsonw jw;
	int64_t stuck = 24;
	int json = 0, c, fails;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 's') {
			if (apf_parse_i64(optarg, &stuck) || stuck < 0 || stuck > 100000)
				return apf_cmd_usage_error("check", "bad --stuck-hours '%s': expected hours, 0-100000", optarg);
		} else if (optopt) {
			return apf_cmd_usage_error("check", "option '%s' needs a value", argv[optind - 1]);
		} else {
			return apf_cmd_usage_error("check", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return apf_cmd_usage_error("check", "unexpected argument '%s'", argv[optind]);

	apf_err_clear(&err);
	if (apf_check_run(&ctx->cfg, ctx->store, ctx->writer, stuck, &rep, &err))
		return apf_cmd_fail(&err);
	fails = (int)rep.fail;
	apf_jsonw_init(&jw, 1, 0);
	apf_jsonw_array_begin(&jw);
	if (!json)
		printf("%-20s %-6s %8s  %s\n", "check", "status", "count", "examples");
	for (size_t i = 0; i < rep.n; i++) {
		const struct apf_check_row *row = &rep.rows[i];
		if (json)
			check_json(&jw, row->name, row->status, row->count, row->examples, row->description);
		else
			printf("%-20s %-6s %8" PRId64 "%s%s\n", row->name, row->status, row->count,
			       *row->examples ? "  " : "", row->examples);
	}
	if (json) {
		apf_jsonw_end(&jw);
		if (apf_cmd_print_json(&jw))
			fails++;
	} else {
		printf("%zu checks: %zu ok, %zu warn, %zu fail\n", rep.n, rep.ok, rep.warn, rep.fail);
	}
	apf_jsonw_release(&jw);
	apf_check_report_release(&rep);
	return fails ? 1 : 0;
}
