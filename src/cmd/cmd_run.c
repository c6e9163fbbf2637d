/*
 * cmd_run.c: apflow run (the whole flow in one process) and apflow status
 * (where a dataset, or one document, stands in it).
 *
 * run chains the stages through the core functions the stage commands use
 * (apf_ocrstage_run, apf_export_run, apf_pa_dataset, apf_merge_run); ingest,
 * push, pull and load go through their commands' entry points, in this
 * process, with the same store and warehouse writer.  Every stage is
 * idempotent on its own (ingest skips files whose bytes are known, OCR
 * skips documents a run committed, export, preannotate and merge replace
 * their output in one write, push upserts by id), so a run killed at any
 * point and started again finishes the work without duplicates.
 *
 * After each stage the run's state goes to <data_dir>/runs/<dataset>.json
 * (written atomically), which status reads for the stages the warehouse
 * cannot tell (push, pull, load).
 */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apflow/dataset.h"
#include "apflow/jsonw.h"
#include "apflow/ocrstage.h"
#include "apflow/preannotate.h"
#include "apflow/progress.h"
#include "apflow/runstate.h"
#include "apflow/status.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

const char cmd_run_usage[] =
	"usage: apflow run --dataset NAME [--input DIR] [--until merge|push|load] [-j N]\n"
	"\n"
	"Runs the flow in one process: ingest (the PDFs of DIR, when given) ->\n"
	"ocr (engine auto: the text layer, Tesseract for scanned pages) -> export\n"
	"-> preannotate (the rules) -> merge -> push (only when Argilla is\n"
	"configured: argilla_api_key / ARGILLA_API_KEY set).  With --until load it\n"
	"goes on with pull and load (Argilla required).  Each stage does what is\n"
	"left and changes nothing that is done, so a run that was stopped or\n"
	"killed finishes its work when started again, without duplicates.\n"
	"\n"
	"  --dataset NAME  the dataset (setting dataset_pattern, default\n"
	"                  vessels_ocr_[a-z0-9_]+)\n"
	"  --input DIR     ingest the .pdf files of DIR first (files whose bytes\n"
	"                  the warehouse knows are skipped)\n"
	"  --until STAGE   stop after merge, push (the default) or load\n"
	"  -j, --jobs N    OCR worker threads (default: the number of CPUs)\n"
	"\n"
	"Progress goes to stderr; each stage prints its summary line, and the run\n"
	"ends with a table (stage, items, seconds, failures) and the line\n"
	"'run NAME: S stages in X s, F failures'.  The run's state is kept in\n"
	"<data_dir>/runs/NAME.json for 'apflow status'.\n"
	"\n"
	"Exit status: 0 done, 1 a stage failed (the run stops there, except OCR\n"
	"failures of single documents or pages), 2 usage, 130 interrupted.\n";

const char cmd_status_usage[] =
	"usage: apflow status [--dataset NAME] [--json]\n"
	"       apflow status [--dataset NAME] [--json] DOC_ID\n"
	"\n"
	"Without DOC_ID: per stage, what is done, pending and failed.  ingest and\n"
	"ocr count documents of the warehouse (ocr: done, pending, failed = with\n"
	"failures); export, preannotate (the rules' agent) and merge count the\n"
	"current pages (each page's latest OCR, with text) that the dataset's\n"
	"files in the store hold with the same text_sha256 (done) or not\n"
	"(pending); push, pull and load show the last 'apflow run' of the\n"
	"dataset.  Without --dataset only ingest and ocr, and the datasets run.\n"
	"\n"
	"With DOC_ID: that document through every stage: its upload, OCR pages,\n"
	"and, per dataset, its pages exported, pre-annotated and merged, and\n"
	"the pages annotated.\n"
	"\n"
	"Exit status: 0 shown, 1 no such document or failure, 2 usage.\n";

enum stage {
	ST_INGEST,
	ST_OCR,
	ST_EXPORT,
	ST_PREANNOTATE,
	ST_MERGE,
	ST_PUSH,
	ST_PULL,
	ST_LOAD,
	ST_COUNT
};

static const char *const stage_names[ST_COUNT] = { "ingest", "ocr",  "export", "preannotate",
						   "merge",  "push", "pull",   "load" };

struct stage_row {
	const char *state; /* "done", "failed", "skipped", "not run" */
	uint64_t items;
	uint64_t failures;
	double seconds;
	char note[160];
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
	signal(sig, SIG_DFL);
}

/* --- ingest ------------------------------------------------------------ */

struct strlist {
	char **v;
	size_t n;
};

static void strlist_add(struct strlist *l, char *s)
{
	l->v = apf_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = s;
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs a command's entry point in this process with argv. */
static int run_cmd(int (*fn)(int, char **, struct apf_ctx *), struct apf_ctx *ctx, struct strlist *args)
{
	char **argv = apf_xcalloc(args->n + 1, sizeof(*argv));
	int rc;

	memcpy(argv, args->v, args->n * sizeof(*argv));
	optind = 0;
	fflush(stdout);
	rc = fn((int)args->n, argv, ctx);
	fflush(stdout);
	free(argv);
	optind = 0;
	return rc;
}

/* --- progress ---------------------------------------------------------- */

static void ocr_progress(const struct apf_ocrstage_progress *p, void *arg)
{
	struct apf_progress *bar = arg;

	apf_progress_set_total(bar, p->pages_planned);
	apf_progress_update(bar, p->pages_done, "%" PRIu64 "/%" PRIu64 " documents", p->docs_done, p->docs_total);
}

static void ocr_failure(const char *doc_id, int page_num, const char *engine, const char *error, void *arg)
{
	struct apf_progress *bar = arg;

	apf_progress_clear(bar);
	if (page_num > 0)
		fprintf(stderr, "apflow: ocr: '%s' page %d (%s): %s\n", doc_id, page_num, engine, error);
	else
		fprintf(stderr, "apflow: ocr: '%s': %s\n", doc_id, error);
}

static void pa_progress(const struct apf_pa_progress *p, void *arg)
{
	struct apf_progress *bar = arg;

	apf_progress_set_total(bar, p->pages_total);
	apf_progress_update(bar, p->pages_done, "%" PRIu64 " spans", p->spans);
}

/* --- run state ---------------------------------------------------------- */

static char *state_path(const struct apf_config *cfg, const char *dataset)
{
	return apf_xasprintf("%s/runs/%s.json", apf_config_get(cfg, APF_CFG_DATA_DIR), dataset);
}

static void now_utc(char out[32])
{
	char buf[40];

	apf_pa_now(buf);
	apf_strlcpy(out, buf, 32);
}

static int save_state(const struct apf_config *cfg, const char *dataset, const char *started, const char *finished,
		      const struct stage_row *rows, struct apf_err *err)
{
	struct apf_run_state *st = apf_xcalloc(1, sizeof(*st));
	char *dir = apf_xasprintf("%s/runs", apf_config_get(cfg, APF_CFG_DATA_DIR));
	char *path = state_path(cfg, dataset);
	int rc;

	apf_strlcpy(st->dataset, dataset, sizeof(st->dataset));
	apf_strlcpy(st->started_at, started, sizeof(st->started_at));
	apf_strlcpy(st->finished_at, finished ? finished : "", sizeof(st->finished_at));
	st->n = ST_COUNT;
	for (int s = 0; s < ST_COUNT; s++) {
		struct apf_run_stage *r = &st->stages[s];
		apf_strlcpy(r->stage, stage_names[s], sizeof(r->stage));
		apf_strlcpy(r->state, rows[s].state, sizeof(r->state));
		r->items = (int64_t)rows[s].items;
		r->failures = (int64_t)rows[s].failures;
		r->seconds = rows[s].seconds;
		apf_strlcpy(r->note, rows[s].note, sizeof(r->note));
	}
	rc = apf_mkdirs(dir, 0755, err);
	if (!rc)
		rc = apf_run_state_save(path, st, err);
	free(path);
	free(dir);
	free(st);
	return rc;
}

/* --- run ------------------------------------------------------------------ */

static int stage_ocr(struct apf_ctx *ctx, int jobs, struct stage_row *row, struct apf_err *err)
{
	struct apf_progress *bar = apf_progress_new("ocr", "pages", 0, ctx->stderr_tty);
	const struct apf_ocrstage_options opt = { .engine = APF_OCRSTAGE_AUTO, .jobs = jobs,
						  .on_progress = ocr_progress, .on_failure = ocr_failure,
						  .cb_arg = bar, .cancel = &interrupted };
	struct apf_ocrstage_result res;
	int rc = apf_ocrstage_run(&ctx->cfg, ctx->store, ctx->writer, &opt, &res, err);

	row->items = res.pages;
	row->failures = res.failed;
	if (!rc && !res.run_id)
		apf_progress_end(bar, stdout, "ocr: nothing to do (%" PRIu64 " documents done before)",
				 res.already_done);
	else
		apf_progress_end(bar, stdout,
				 "ocr run %" PRId64 ": %" PRIu64 " documents, %" PRIu64 " pages (text %" PRIu64
				 ", tesseract %" PRIu64 ", deepseek %" PRIu64 "), %" PRIu64 " failed",
				 res.run_id, res.docs, res.pages, res.pages_text, res.pages_tesseract, res.pages_deepseek,
				 res.failed);
	snprintf(row->note, sizeof(row->note), "%" PRIu64 " documents", res.docs);
	if (!rc && res.cancelled)
		rc = apf_error(err, APF_EIO, "interrupted");
	return rc;
}

static int stage_export(struct apf_ctx *ctx, const char *dataset, struct stage_row *row, struct apf_err *err)
{
	struct apf_export_options opt = { dataset, NULL, 0, NULL };
	struct apf_export_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = apf_export_run(&ctx->cfg, ctx->store, ctx->writer, &opt, &res, err);
	if (rc)
		return rc;
	row->items = res.pages;
	snprintf(row->note, sizeof(row->note), "%" PRIu64 " documents, %" PRIu64 " files", res.docs, res.files);
	printf("export %s: %" PRIu64 " pages of %" PRIu64 " documents, %" PRIu64 " files\n", dataset, res.pages,
	       res.docs, res.files);
	return 0;
}

static int stage_preannotate(struct apf_ctx *ctx, const char *dataset, struct stage_row *row, struct apf_err *err)
{
	struct apf_pa_dataset_options opt;
	struct apf_pa_dataset_result res;
	struct apf_progress *bar = apf_progress_new("preannotate", "pages", 0, ctx->stderr_tty);
	char *gaz = apf_xasprintf("%s/gazetteers", apf_config_get(&ctx->cfg, APF_CFG_DATA_DIR));
	int rc;

	memset(&opt, 0, sizeof(opt));
	memset(&res, 0, sizeof(res));
	opt.dataset = dataset;
	opt.pa.engine = APF_PA_RULES;
	opt.pa.gazetteer_dir = gaz;
	opt.pa.cancel = &interrupted;
	opt.pa.on_progress = pa_progress;
	opt.pa.cb_arg = bar;
	opt.pa.progress_ms = 200;
	rc = apf_pa_dataset(&ctx->cfg, ctx->store, &opt, &res, err);
	if (!rc) {
		row->items = res.stats.pages;
		row->failures = res.stats.failed;
		snprintf(row->note, sizeof(row->note), "%" PRIu64 " spans", res.stats.spans);
		apf_progress_end(bar, stdout, "preannotate %s: %s: %" PRIu64 " pages, %" PRIu64 " spans", dataset,
				 res.agent, res.stats.pages, res.stats.spans);
	} else {
		apf_progress_end(bar, NULL, NULL);
	}
	apf_pa_dataset_result_release(&res);
	free(gaz);
	return rc;
}

static int stage_merge(struct apf_ctx *ctx, const char *dataset, struct stage_row *row, struct apf_err *err)
{
	struct apf_merge_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = apf_merge_run(&ctx->cfg, ctx->store, dataset, &res, err);
	if (rc)
		return rc;
	row->items = res.pages;
	snprintf(row->note, sizeof(row->note), "%" PRIu64 " spans, %" PRIu64 " records with spans", res.spans,
		 res.pages_with_spans);
	printf("merge %s: %" PRIu64 " records, %" PRIu64 " spans from %" PRIu64 " agents\n", dataset, res.pages,
	       res.spans, res.agents);
	return 0;
}

static void print_table(FILE *f, const struct stage_row *rows)
{
	fprintf(f, "\n%-12s %-8s %8s %8s %8s  %s\n", "stage", "state", "items", "seconds", "failures", "note");
	for (int s = 0; s < ST_COUNT; s++) {
		const struct stage_row *r = &rows[s];
		if (!strcmp(r->state, "not run"))
			continue;
		fprintf(f, "%-12s %-8s %8" PRIu64 " %8.1f %8" PRIu64 "  %s\n", stage_names[s], r->state, r->items,
			r->seconds, r->failures, r->note);
	}
}

int cmd_run(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, 'd' },
		{ "input", required_argument, NULL, 'i' },
		{ "until", required_argument, NULL, 'u' },
		{ "jobs", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dataset = NULL, *input = NULL;
	enum stage until = ST_PUSH;
	struct stage_row rows[ST_COUNT];
	struct sigaction sa, old_int, old_term;
	struct apf_err err;
	char started[32], finished[32];
	int jobs = 0, c, rc = 0, argilla;
	int64_t t_run = apf_now_ms();
	uint64_t failures = 0;
	int nstages = 0;

	apf_err_clear(&err);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dataset = optarg;
			break;
		case 'i':
			input = optarg;
			break;
		case 'u':
			if (!strcmp(optarg, "merge"))
				until = ST_MERGE;
			else if (!strcmp(optarg, "push"))
				until = ST_PUSH;
			else if (!strcmp(optarg, "load"))
				until = ST_LOAD;
			else
				return apf_cmd_usage_error("run", "bad --until '%s': merge, push or load", optarg);
			break;
		case 'j':
			if (apf_parse_int_in(optarg, 1, 256, &jobs))
				return apf_cmd_usage_error("run", "bad --jobs '%s': 1 to 256", optarg);
			break;
		default:
			return apf_cmd_usage_error("run", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return apf_cmd_usage_error("run", "unexpected argument '%s'", argv[optind]);
	if (!dataset)
		return apf_cmd_usage_error("run", "--dataset NAME is required");
	if (apf_dataset_name_check(&ctx->cfg, dataset, &err))
		return err.code == APF_EUSAGE ? apf_cmd_usage_error("run", "%s", err.msg) : apf_cmd_fail(&err);
	argilla = apf_config_get(&ctx->cfg, APF_CFG_ARGILLA_API_KEY) != NULL;
	if (until == ST_LOAD && !argilla)
		return apf_cmd_usage_error("run", "--until load needs Argilla: set ARGILLA_API_URL and ARGILLA_API_KEY");

	for (int s = 0; s < ST_COUNT; s++) {
		memset(&rows[s], 0, sizeof(rows[s]));
		rows[s].state = "not run";
	}
	now_utc(started);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	for (int s = ST_INGEST; s <= (int)until && !interrupted; s++) {
		struct stage_row *row = &rows[s];
		int64_t t0 = apf_now_ms();
		int srs = 0; /* the stage's own exit status, for commands */

		apf_err_clear(&err);
		if (s == ST_INGEST && !input) {
			row->state = "skipped";
			apf_strlcpy(row->note, "no --input", sizeof(row->note));
			continue;
		}
		if (s >= ST_PUSH && !argilla) {
			row->state = "skipped";
			apf_strlcpy(row->note, "Argilla not configured (ARGILLA_API_KEY)", sizeof(row->note));
			continue;
		}
		printf("== %s\n", stage_names[s]);
		fflush(stdout);
		switch (s) {
		case ST_INGEST: {
			struct strlist files = { NULL, 0 }, args = { NULL, 0 };
			size_t known = 0;
			rc = apf_status_new_files(ctx->writer, input, &files.v, &files.n, &known, &err);
			if (!rc && files.n) {
				strlist_add(&args, apf_xstrdup("ingest"));
				for (size_t i = 0; i < files.n; i++)
					strlist_add(&args, apf_xstrdup(files.v[i]));
				srs = run_cmd(cmd_ingest, ctx, &args);
			} else if (!rc) {
				printf("ingest: nothing new in '%s' (%zu files known)\n", input, known);
			}
			row->items = files.n;
			snprintf(row->note, sizeof(row->note), "%zu files known before", known);
			strlist_free(&files);
			strlist_free(&args);
			break;
		}
		case ST_OCR:
			rc = stage_ocr(ctx, jobs, row, &err);
			break;
		case ST_EXPORT:
			rc = stage_export(ctx, dataset, row, &err);
			break;
		case ST_PREANNOTATE:
			rc = stage_preannotate(ctx, dataset, row, &err);
			break;
		case ST_MERGE:
			rc = stage_merge(ctx, dataset, row, &err);
			break;
		case ST_PUSH:
		case ST_PULL:
		case ST_LOAD: {
			struct strlist args = { NULL, 0 };
			int64_t pages = 0, records = 0;
			strlist_add(&args, apf_xstrdup(stage_names[s]));
			strlist_add(&args, apf_xstrdup("--dataset"));
			strlist_add(&args, apf_xstrdup(dataset));
			srs = run_cmd(s == ST_PUSH ? cmd_push : s == ST_PULL ? cmd_pull : cmd_load, ctx, &args);
			strlist_free(&args);
			if (s == ST_PUSH && !srs)
				row->items = rows[ST_MERGE].items;
			if (s == ST_LOAD && !srs && !apf_status_last_load(ctx->writer, dataset, &pages, &records, &err)) {
				/* load: the pages annotated; pull: the records of the file it loaded */
				row->items = (uint64_t)pages;
				rows[ST_PULL].items = (uint64_t)records;
			}
			apf_err_clear(&err);
			break;
		}
		}
		row->seconds = (double)(apf_now_ms() - t0) / 1000.0;
		nstages++;
		if (rc || srs) {
			row->state = "failed";
			if (!row->failures)
				row->failures = 1;
			if (rc) {
				fprintf(stderr, "apflow: error: %s: %s\n", stage_names[s], err.msg);
				apf_strlcpy(row->note, err.msg, sizeof(row->note));
			}
		} else {
			row->state = row->failures ? "partial" : "done";
		}
		failures += row->failures;
		if (save_state(&ctx->cfg, dataset, started, NULL, rows, &err))
			fprintf(stderr, "apflow: warning: %s\n", err.msg);
		if (rc || srs == 130 || (srs && s != ST_OCR))
			break;
		rc = 0;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

	print_table(stdout, rows);
	now_utc(finished);
	apf_err_clear(&err);
	if (save_state(&ctx->cfg, dataset, started, finished, rows, &err))
		fprintf(stderr, "apflow: warning: %s\n", err.msg);
	printf("run %s: %d stages in %.1f s, %" PRIu64 " failures\n", dataset, nstages,
	       (double)(apf_now_ms() - t_run) / 1000.0, failures);
	if (interrupted) {
		fprintf(stderr, "apflow: interrupted: run it again to finish\n");
		return 130;
	}
	for (int s = 0; s < ST_COUNT; s++)
		if (!strcmp(rows[s].state, "failed") || !strcmp(rows[s].state, "partial"))
			return 1;
	return 0;
}

/* --- status --------------------------------------------------------------- */

/* The run state of dataset; st->n is 0 when there is none (or it is
 * unreadable: status then says no run was made). */
static void load_state(const struct apf_config *cfg, const char *dataset, struct apf_run_state *st)
{
	char *path = state_path(cfg, dataset);
	struct apf_err err;

	if (apf_run_state_load(path, st, &err))
		st->n = 0;
	free(path);
}

/* The datasets with a run state, sorted. */
static void run_datasets(const struct apf_config *cfg, struct strlist *out)
{
	char *dir = apf_xasprintf("%s/runs", apf_config_get(cfg, APF_CFG_DATA_DIR));
	DIR *d = opendir(dir);
	struct dirent *e;

	free(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] != '.' && n > 5 && !strcmp(e->d_name + n - 5, ".json"))
			strlist_add(out, apf_xstrndup(e->d_name, n - 5));
	}
	closedir(d);
	qsort(out->v, out->n, sizeof(*out->v), cmp_str);
}

/* A count, or null when it is not known (< 0). */
static void json_count(struct apf_jsonw *jw, const char *key, int64_t n)
{
	if (n < 0)
		apf_jsonw_object_null(jw, key);
	else
		apf_jsonw_object_int(jw, key, n);
}

/* One row of the table, or one object of the JSON array arr (json). */
static void print_line(struct apf_jsonw *arr, int json, const char *stage, const char *unit, int64_t done,
		       int64_t pending, int64_t failed, const char *note)
{
	if (json) {
		apf_jsonw_object_begin(arr);
		apf_jsonw_object_string(arr, "stage", stage);
		apf_jsonw_object_string(arr, "unit", unit);
		json_count(arr, "done", done);
		json_count(arr, "pending", pending);
		json_count(arr, "failed", failed);
		apf_jsonw_object_string(arr, "note", note ? note : "");
		apf_jsonw_end(arr);
		return;
	}
	char d[24] = "-", p[24] = "-", f[24] = "-";
	if (done >= 0)
		snprintf(d, sizeof(d), "%" PRId64, done);
	if (pending >= 0)
		snprintf(p, sizeof(p), "%" PRId64, pending);
	if (failed >= 0)
		snprintf(f, sizeof(f), "%" PRId64, failed);
	printf("%-12s %-10s %8s %8s %8s  %s\n", stage, unit, d, p, f, note ? note : "");
}

static int status_dataset(struct apf_ctx *ctx, const char *dataset, const char *doc, struct apf_jsonw *arr,
			  int json, struct apf_err *err)
{
	static const char *const names[3] = { "export", "preannotate", "merge" };
	struct apf_status_files dc[APF_STATUS_NFILES];
	struct apf_run_state *st;
	int rc = apf_status_dataset(&ctx->cfg, ctx->store, ctx->writer, dataset, doc, dc, err);

	if (rc)
		return rc;
	if (!json)
		printf("dataset %s\n", dataset);
	for (int k = 0; k < 3; k++) {
		char note[96];
		if (!dc[k].have)
			snprintf(note, sizeof(note), "%s", k == 0 ? "never exported" : k == 1 ? "no rules suggestions" : "never merged");
		else
			snprintf(note, sizeof(note), "%" PRId64 " rows in the files", dc[k].rows);
		print_line(arr, json, names[k], "pages", dc[k].done, dc[k].pending, -1, note);
	}
	st = apf_xcalloc(1, sizeof(*st));
	load_state(&ctx->cfg, dataset, st);
	for (int s = ST_PUSH; s <= ST_LOAD; s++) {
		const struct apf_run_stage *row = (size_t)s < st->n ? &st->stages[s] : NULL;
		char note[200];
		if (!row || !row->state[0]) {
			print_line(arr, json, stage_names[s], "last run", -1, -1, -1, "no 'apflow run' of the dataset yet");
			continue;
		}
		snprintf(note, sizeof(note), "last run %s: %s%s%s", st->started_at, row->state, row->note[0] ? ", " : "",
			 row->note);
		print_line(arr, json, stage_names[s], "records", !strcmp(row->state, "done") ? row->items : -1, -1,
			   row->failures, note);
	}
	free(st);
	return 0;
}

int cmd_status(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dataset = NULL, *doc = NULL;
	struct strlist dsl = { NULL, 0 };
	struct apf_err err;
	struct apf_jsonw arr;
	struct apf_status_ocr ocr;
	int json = 0, c, rc = 0;

	apf_err_clear(&err);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			dataset = optarg;
		else if (c == 'J')
			json = 1;
		else
			return apf_cmd_usage_error("status", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		doc = argv[optind++];
	if (optind < argc)
		return apf_cmd_usage_error("status", "unexpected argument '%s'", argv[optind]);
	if (dataset && apf_dataset_name_check(&ctx->cfg, dataset, &err))
		return err.code == APF_EUSAGE ? apf_cmd_usage_error("status", "%s", err.msg) : apf_cmd_fail(&err);
	apf_jsonw_init(&arr, 2, 0);
	apf_jsonw_array_begin(&arr);

	if (doc) {
		struct apf_catalog_doc d;
		int found = 0;
		memset(&d, 0, sizeof(d));
		if ((rc = apf_status_document(ctx->writer, doc, &d, &found, &err)))
			goto fail;
		if (!found) {
			apf_error(&err, APF_ENOTFOUND, "no document '%s' in the warehouse", doc);
			goto fail;
		}
		if (!json)
			printf("document %s  %s  %" PRId64 " pages  %" PRId64 " bytes\n%-12s %-10s %8s %8s %8s  %s\n",
			       d.doc_id, d.filename ? d.filename : "", d.pages, d.bytes, "stage", "unit", "done",
			       "pending", "failed", "note");
		char note[160];
		snprintf(note, sizeof(note), "first uploaded %s, %" PRId64 " upload%s", d.uploaded_at ? d.uploaded_at : "?",
			 d.uploads, d.uploads == 1 ? "" : "s");
		print_line(&arr, json, "ingest", "document", 1, 0, 0, note);
		snprintf(note, sizeof(note), "%s", d.ocr_state);
		print_line(&arr, json, "ocr", "pages", d.pages_done,
			   d.pages >= 0 ? (d.pages - d.pages_done - d.pages_failed > 0 ? d.pages - d.pages_done - d.pages_failed : 0) : -1,
			   d.pages_failed + d.doc_failures, note);
		if (dataset)
			strlist_add(&dsl, apf_xstrdup(dataset));
		else
			run_datasets(&ctx->cfg, &dsl);
		for (size_t i = 0; i < dsl.n && !rc; i++)
			rc = status_dataset(ctx, dsl.v[i], doc, &arr, json, &err);
		if (!rc) {
			snprintf(note, sizeof(note), "%s, %" PRId64 " annotator%s", d.annotation_state, d.annotators,
				 d.annotators == 1 ? "" : "s");
			print_line(&arr, json, "annotated", "pages", d.pages_submitted, -1, -1, note);
		}
		apf_catalog_doc_release(&d);
		if (rc)
			goto fail;
		goto out;
	}

	if ((rc = apf_status_ocr(ctx->writer, NULL, &ocr, &err)))
		goto fail;
	if (!json)
		printf("%-12s %-10s %8s %8s %8s  %s\n", "stage", "unit", "done", "pending", "failed", "note");
	print_line(&arr, json, "ingest", "documents", ocr.documents, -1, -1, "in md_raw_ocr.main.documents");
	print_line(&arr, json, "ocr", "documents", ocr.done, ocr.pending, ocr.failed, "failed: with an ocr_failures row");
	if (dataset) {
		rc = status_dataset(ctx, dataset, NULL, &arr, json, &err);
		if (rc)
			goto fail;
	} else {
		run_datasets(&ctx->cfg, &dsl);
		if (!json)
			for (size_t i = 0; i < dsl.n; i++)
				printf("dataset %s: see 'apflow status --dataset %s'\n", dsl.v[i], dsl.v[i]);
	}
out:
	if (json) {
		apf_jsonw_end(&arr);
		rc = apf_cmd_print_json(&arr);
	}
	apf_jsonw_release(&arr);
	strlist_free(&dsl);
	return rc;
fail:
	apf_jsonw_release(&arr);
	strlist_free(&dsl);
	return apf_cmd_fail(&err);
}
