/* cmd_export.c: apflow export, a dataset's pages as Parquet (see dataset.h). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/dataset.h"
#include "apflow/progress.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

const char cmd_export_usage[] =
	"usage: apflow export --dataset NAME [--doc ID]... [--since TS]\n"
	"\n"
	"Writes the pages of md_raw_ocr.main.vw_argilla_pages (each page from its\n"
	"latest OCR run) to argilla/in/NAME/pages/ in the store, as Parquet\n"
	"partitioned by doc_id (sql/motherduck/export_for_argilla.sql): columns\n"
	"doc_id (in the path), page_num, text, text_sha256, filename, chars, engine.\n"
	"Pages with empty text are left out.\n"
	"\n"
	"  --dataset NAME  the dataset; must match the setting dataset_pattern\n"
	"                  (default vessels_ocr_[a-z0-9_]+)\n"
	"  --doc ID        only this document (repeatable)\n"
	"  --since TS      only pages read at or after TS (e.g. 2026-12-01 or\n"
	"                  2026-12-01T08:00:00Z)\n"
	"\n"
	"A new export replaces the dataset's pages atomically: its files get\n"
	"names of their own, pages/_manifest.json is switched to them in one\n"
	"write, and the files of the earlier export are removed.  Readers that go\n"
	"through the manifest (preannotate, merge) never see half of either.\n"
	"Ends with 'export NAME: P pages of D documents, F files, B MB in S s'.\n"
	"\n"
	"Exit status: 0 done, 1 failed or nothing to export, 2 usage.\n";

static void on_file(uint64_t done, uint64_t total, void *arg)
{
	apf_progress_set_total(arg, total);
	apf_progress_update(arg, done, NULL);
}

static int is_doc_id(const char *s)
{
	if (strlen(s) != 20)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

int cmd_export(int argc, char **argv, struct apf_ctx *ctx)
{
	enum { O_DATASET = 256, O_DOC, O_SINCE };
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, O_DATASET },
		{ "doc", required_argument, NULL, O_DOC },
		{ "since", required_argument, NULL, O_SINCE },
		{ NULL, 0, NULL, 0 },
	};
	struct apf_export_options opt;
	struct apf_export_result res;
	struct apf_progress *bar = NULL;
	struct apf_err err;
	const char **docs = NULL;
	int c, rc = 0;

	memset(&opt, 0, sizeof(opt));
	apf_err_clear(&err);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_DATASET:
			opt.dataset = optarg;
			break;
		case O_DOC:
			if (!is_doc_id(optarg)) {
				rc = apf_cmd_usage_error("export", "bad --doc '%s': 20 lower-case hex digits", optarg);
				goto out;
			}
			docs = apf_xrealloc(docs, (opt.ndoc_ids + 1) * sizeof(*docs));
			docs[opt.ndoc_ids++] = optarg;
			break;
		case O_SINCE:
			opt.since = optarg;
			break;
		default:
			rc = apf_cmd_usage_error("export", "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		rc = apf_cmd_usage_error("export", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!opt.dataset) {
		rc = apf_cmd_usage_error("export", "--dataset NAME is required");
		goto out;
	}
	opt.doc_ids = docs;
	if ((rc = apf_dataset_name_check(&ctx->cfg, opt.dataset, &err))) {
		rc = err.code == APF_EUSAGE ? apf_cmd_usage_error("export", "%s", err.msg) : apf_cmd_fail(&err);
		goto out;
	}
	bar = apf_progress_new("export", "files", 0, ctx->stderr_tty);
	opt.on_file = on_file;
	opt.cb_arg = bar;
	if ((rc = apf_export_run(&ctx->cfg, ctx->store, ctx->writer, &opt, &res, &err))) {
		apf_progress_clear(bar);
		rc = apf_cmd_fail(&err);
		goto out;
	}
	apf_progress_end(bar, stdout, "export %s: %" PRIu64 " page%s of %" PRIu64 " document%s, %" PRIu64 " file%s, %.2f MB in %.1f s "
	       "(export %s)",
	       opt.dataset, res.pages, res.pages == 1 ? "" : "s", res.docs, res.docs == 1 ? "" : "s", res.files,
	       res.files == 1 ? "" : "s", res.bytes / 1e6, res.ms / 1000.0, res.export_id);
	bar = NULL;
out:
	apf_progress_end(bar, NULL, NULL);
	free(docs);
	return rc;
}
