/* cmd_ocr.c: apflow ocr, the OCR stage from the command line (see ocrstage.h). */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/dbwriter.h"
#include "apflow/deepseek.h"
#include "apflow/jsonw.h"
#include "apflow/ocrstage.h"
#include "apflow/progress.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

const char cmd_ocr_usage[] =
	"usage: apflow ocr [--engine auto|text|tesseract|deepseek] [-j N] [--doc ID]...\n"
	"                  [--shard K/N] [--force | --retry-failed] [--dpi N] [--lang L]\n"
	"                  [--concurrency N] [--prompt TEXT] [--parquet-out URL] [--json]\n"
	"\n"
	"Reads the text of every page of the documents in md_raw_ocr.main.documents\n"
	"(their PDFs at raw/<doc_id>.pdf in the store) into md_raw_ocr.main.pages,\n"
	"one OCR run (an ocr_runs row) per invocation.  Each document is committed\n"
	"in one transaction once all its pages are read, so a killed run loses only\n"
	"the documents in flight and running it again finishes the rest.\n"
	"\n"
	"  --engine E        per page: auto (default) the PDF's text layer when it\n"
	"                    holds real text, else Tesseract; text the text layer\n"
	"                    only; tesseract always Tesseract; deepseek DeepSeek-OCR\n"
	"                    over HTTP (deepseek_url, deepseek_api openai|ollama,\n"
	"                    deepseek_model, deepseek_api_key: see 'apflow config')\n"
	"  -j, --jobs N      worker threads (default: the number of CPUs)\n"
	"  --doc ID          only this document (repeatable)\n"
	"  --shard K/N       only documents whose shard hash mod N is K (hash: the\n"
	"                    first 8 bytes of sha256(doc_id)), so N machines can\n"
	"                    share the work without talking to each other\n"
	"  --force           do documents again that a run already did (a new run;\n"
	"                    vw_argilla_pages shows each page from its latest run)\n"
	"  --retry-failed    also do documents whose last attempt had failures\n"
	"  --dpi N           rendering resolution (default 300 for tesseract,\n"
	"                    144 for deepseek)\n"
	"  --lang L          Tesseract languages, e.g. eng or eng+deu (default eng)\n"
	"  --concurrency N   deepseek: requests in flight (default 4)\n"
	"  --prompt TEXT     deepseek: the prompt (default '<image>\\nFree OCR.');\n"
	"                    \\n in TEXT is a newline\n"
	"  --parquet-out URL also write the run's pages as Parquet under URL (file://DIR\n"
	"                    or s3://BUCKET/PREFIX), as ocr_run_id=N/doc_id=ID/*.parquet\n"
	"  --json            one JSON object per committed document on stdout, then\n"
	"                    one for the run (with read_seconds: the workers' time\n"
	"                    reading documents, without the warehouse); the summary\n"
	"                    goes to stderr\n"
	"\n"
	"A document is done once a run committed it, pages or failures.  Documents\n"
	"that cannot be read (missing, damaged, encrypted, no pages) and pages that\n"
	"fail (render, Tesseract, HTTP after retries, runaway model output) become\n"
	"md_raw_ocr.main.ocr_failures rows; the run goes on.  Progress goes to\n"
	"stderr: a bar on a terminal, a line every few seconds otherwise.  Ends with\n"
	"'ocr run N: D documents, P pages (text T, tesseract S, deepseek K), F failed\n"
	"in X s'.  A page of --engine auto with nothing drawn on it is stored as\n"
	"empty text without Tesseract.  A page whose engine finds no text, where\n"
	"the page's latest text is another engine's, keeps that text (an\n"
	"ocr_failures row says so).  Long documents are committed every\n"
	"ocr_commit_pages pages; a killed run's next run reads the rest.  A page\n"
	"that passes ocr_page_max_ops operators or ocr_page_seconds fails.\n"
	"\n"
	"Exit status: 0 nothing failed (or nothing to do), 1 some document or page\n"
	"failed, or the run stopped (warehouse, store), 2 usage, 130 interrupted.\n";

#define MAX_WARNINGS 20

struct ui {
	int tty;
	int json;
	struct apf_progress *bar; /* on a terminal */
	int warnings;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = 1;
	signal(sig, SIG_DFL); /* a second one stops at once */
}

static void on_progress(const struct apf_ocrstage_progress *p, void *arg)
{
	struct ui *ui = arg;
	double secs = p->elapsed_ms / 1000.0;
	double rate = secs > 0 ? p->pages_done / secs : 0;
	uint64_t planned = p->pages_planned > p->pages_done ? p->pages_planned : p->pages_done;
	char eta[32] = "?";

	if (ui->bar) {
		apf_progress_set_total(ui->bar, planned);
		apf_progress_update(ui->bar, p->pages_done, "%" PRIu64 "/%" PRIu64 " docs", p->docs_done,
				    p->docs_total);
		return;
	}
	if (rate > 0 && planned)
		apf_progress_format_eta(eta, sizeof(eta), (double)(planned - p->pages_done) / rate);
	fprintf(stderr, "ocr: %" PRIu64 "/%" PRIu64 " documents, %" PRIu64 "/%" PRIu64 " pages, %.1f pages/s, ETA %s\n",
		p->docs_done, p->docs_total, p->pages_done, planned, rate, eta);
}

static void on_doc(const struct apf_ocrstage_doc *d, const struct apf_ocrstage_progress *p, void *arg)
{
	struct ui *ui = arg;
	struct apf_jsonw jw;

	(void)p;
	if (!ui->json)
		return;
	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_object_begin(&jw);
	apf_jsonw_object_string(&jw, "doc_id", d->doc_id);
	apf_jsonw_object_int(&jw, "pages", d->pages);
	apf_jsonw_object_int(&jw, "stored", d->stored);
	apf_jsonw_object_int(&jw, "text", d->text);
	apf_jsonw_object_int(&jw, "tesseract", d->tesseract);
	apf_jsonw_object_int(&jw, "deepseek", d->deepseek);
	apf_jsonw_object_int(&jw, "failed", d->failed);
	if (d->error)
		apf_jsonw_object_string(&jw, "error", d->error);
	if (d->skipped)
		apf_jsonw_object_bool(&jw, "skipped", 1);
	apf_jsonw_object_int(&jw, "ms", d->ms);
	apf_jsonw_end(&jw);
	apf_cmd_print_json(&jw);
	fflush(stdout);
}

static void on_failure(const char *doc_id, int page_num, const char *engine, const char *error, void *arg)
{
	struct ui *ui = arg;

	(void)page_num;
	(void)engine;
	apf_progress_clear(ui->bar);
	if (ui->warnings < MAX_WARNINGS)
		fprintf(stderr, "apflow: warning: %s: %s\n", doc_id, error);
	else if (ui->warnings == MAX_WARNINGS)
		fprintf(stderr, "apflow: warning: more failures; see md_raw_ocr.main.ocr_failures\n");
	ui->warnings++;
}

/* "\n" in a --prompt means a newline. */
static char *unescape_prompt(const char *s)
{
	char *out = apf_xmalloc(strlen(s) + 1), *o = out;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			*o++ = '\n';
			s++;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

static void print_summary(FILE *f, const struct apf_ocrstage_result *r)
{
	fprintf(f, "ocr run %" PRId64 ": %" PRIu64 " document%s, %" PRIu64 " page%s (text %" PRIu64
		   ", tesseract %" PRIu64 ", deepseek %" PRIu64 "), %" PRIu64 " failed in %.1f s\n",
		r->run_id, r->docs, r->docs == 1 ? "" : "s", r->pages, r->pages == 1 ? "" : "s", r->pages_text,
		r->pages_tesseract, r->pages_deepseek, r->failed, r->ms / 1000.0);
}

static void print_json_summary(const struct apf_ocrstage_result *r, const char *status)
{
	struct apf_jsonw jw;

	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_object_begin(&jw);
	if (r->run_id)
		apf_jsonw_object_int(&jw, "ocr_run_id", r->run_id);
	else
		apf_jsonw_object_null(&jw, "ocr_run_id");
	apf_jsonw_object_string(&jw, "status", status);
	apf_jsonw_object_int(&jw, "documents", (int64_t)r->docs);
	apf_jsonw_object_int(&jw, "pages", (int64_t)r->pages);
	apf_jsonw_object_int(&jw, "text", (int64_t)r->pages_text);
	apf_jsonw_object_int(&jw, "tesseract", (int64_t)r->pages_tesseract);
	apf_jsonw_object_int(&jw, "deepseek", (int64_t)r->pages_deepseek);
	apf_jsonw_object_int(&jw, "failed", (int64_t)r->failed);
	apf_jsonw_object_int(&jw, "failed_documents", (int64_t)r->failed_docs);
	apf_jsonw_object_int(&jw, "failed_pages", (int64_t)r->failed_pages);
	apf_jsonw_object_int(&jw, "already_done", (int64_t)r->already_done);
	apf_jsonw_object_int(&jw, "skipped", (int64_t)r->skipped);
	apf_jsonw_object_int(&jw, "kept", (int64_t)r->kept);
	apf_jsonw_object_int(&jw, "blank", (int64_t)r->blank);
	apf_jsonw_object_double(&jw, "seconds", r->ms / 1000.0);
	apf_jsonw_object_double(&jw, "read_seconds", r->read_ms / 1000.0);
	apf_jsonw_end(&jw);
	apf_cmd_print_json(&jw);
}

/* The deepseek_* settings into opt->deepseek; returns 0 or a usage error. */
static int deepseek_settings(const struct apf_config *cfg, struct apf_deepseek_options *ds)
{
	const char *api = apf_config_get(cfg, APF_CFG_DEEPSEEK_API);
	int64_t v;

	if (api && apf_deepseek_parse_api(api, &ds->api))
		return apf_cmd_usage_error("ocr", "bad deepseek_api '%s': openai or ollama", api);
	ds->url = apf_config_get(cfg, APF_CFG_DEEPSEEK_URL);
	ds->model = apf_config_get(cfg, APF_CFG_DEEPSEEK_MODEL);
	ds->api_key = apf_config_get(cfg, APF_CFG_DEEPSEEK_API_KEY);
	v = apf_config_get_i64(cfg, APF_CFG_DEEPSEEK_TIMEOUT, APF_DEEPSEEK_TIMEOUT_S);
	if (v < 1 || v > 86400)
		return apf_cmd_usage_error("ocr", "bad deepseek_timeout: 1 to 86400 seconds");
	ds->timeout_s = (int)v;
	v = apf_config_get_i64(cfg, APF_CFG_DEEPSEEK_RETRIES, 4);
	if (v < 0 || v > 100)
		return apf_cmd_usage_error("ocr", "bad deepseek_retries: 0 to 100");
	ds->retries = (int)v;
	return 0;
}

int cmd_ocr(int argc, char **argv, struct apf_ctx *ctx)
{
	enum { O_ENGINE = 256, O_DOC, O_SHARD, O_FORCE, O_RETRY, O_DPI, O_LANG, O_CONC, O_PROMPT, O_JSON, O_PARQUET };
	static const struct option opts[] = {
		{ "engine", required_argument, NULL, O_ENGINE },
		{ "jobs", required_argument, NULL, 'j' },
		{ "doc", required_argument, NULL, O_DOC },
		{ "shard", required_argument, NULL, O_SHARD },
		{ "force", no_argument, NULL, O_FORCE },
		{ "retry-failed", no_argument, NULL, O_RETRY },
		{ "dpi", required_argument, NULL, O_DPI },
		{ "lang", required_argument, NULL, O_LANG },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "prompt", required_argument, NULL, O_PROMPT },
		{ "json", no_argument, NULL, O_JSON },
		{ "parquet-out", required_argument, NULL, O_PARQUET },
		{ NULL, 0, NULL, 0 },
	};
	struct apf_ocrstage_options opt;
	struct apf_ocrstage_result res;
	struct apf_store *store = ctx->store;
	struct apf_dbwriter *writer = ctx->writer;
	struct apf_err err;
	struct ui ui = { 0 };
	const char **docs = NULL;
	size_t ndocs = 0;
	char *prompt = NULL;
	const char *parquet_out = NULL;
	struct sigaction sa, old_int, old_term;
	int c, rc;

	memset(&opt, 0, sizeof(opt));
	apf_err_clear(&err);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:", opts, NULL)) != -1) {
		switch (c) {
		case O_ENGINE:
			if (apf_ocrstage_engine_parse(optarg, &opt.engine)) {
				rc = apf_cmd_usage_error("ocr", "unknown engine '%s': auto, text, tesseract or deepseek",
							 optarg);
				goto out;
			}
			break;
		case 'j':
			if (apf_parse_int_in(optarg, 1, 64, &opt.jobs)) {
				rc = apf_cmd_usage_error("ocr", "bad -j '%s': 1 to 64", optarg);
				goto out;
			}
			break;
		case O_DOC:
			docs = apf_xrealloc(docs, (ndocs + 1) * sizeof(*docs));
			docs[ndocs++] = optarg;
			break;
		case O_SHARD:
			if (apf_ocrstage_parse_shard(optarg, &opt.shard_k, &opt.shard_n)) {
				rc = apf_cmd_usage_error("ocr", "bad --shard '%s': K/N with 0 <= K < N", optarg);
				goto out;
			}
			break;
		case O_FORCE:
			opt.force = 1;
			break;
		case O_RETRY:
			opt.retry_failed = 1;
			break;
		case O_DPI:
			if (apf_parse_int_in(optarg, 36, 1200, &opt.dpi)) {
				rc = apf_cmd_usage_error("ocr", "bad --dpi '%s': 36 to 1200", optarg);
				goto out;
			}
			break;
		case O_LANG:
			opt.lang = optarg;
			break;
		case O_CONC:
			if (apf_parse_int_in(optarg, 1, 256, &opt.concurrency)) {
				rc = apf_cmd_usage_error("ocr", "bad --concurrency '%s': 1 to 256", optarg);
				goto out;
			}
			break;
		case O_PROMPT:
			free(prompt);
			prompt = unescape_prompt(optarg);
			break;
		case O_JSON:
			ui.json = 1;
			break;
		case O_PARQUET:
			if (!apf_starts_with(optarg, "file://") && !apf_starts_with(optarg, "s3://")) {
				rc = apf_cmd_usage_error("ocr", "bad --parquet-out '%s': file://DIR or s3://BUCKET[/PREFIX]",
							 optarg);
				goto out;
			}
			parquet_out = optarg;
			break;
		default:
			rc = apf_cmd_usage_error("ocr", "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		rc = apf_cmd_usage_error("ocr", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (opt.force && opt.retry_failed) {
		rc = apf_cmd_usage_error("ocr", "--force already redoes failed documents; give one of them");
		goto out;
	}
	if (opt.engine == APF_OCRSTAGE_DEEPSEEK && (rc = deepseek_settings(&ctx->cfg, &opt.deepseek)))
		goto out;
	opt.deepseek.prompt = prompt;
	opt.doc_ids = docs;
	opt.ndoc_ids = ndocs;
	ui.tty = ctx->stderr_tty;
	opt.on_progress = on_progress;
	opt.on_doc = on_doc;
	opt.on_failure = on_failure;
	opt.cb_arg = &ui;
	opt.progress_ms = ui.tty ? 200 : 5000;
	opt.cancel = &interrupted;

	/* Commits come a document apart: keep the warehouse open between
	 * them rather than checkpoint, close and reopen (dbwriter.h), for
	 * as long as a text document of a thousand pages takes to read.
	 * Between slower documents (OCR'd pages: seconds each) the file is
	 * free for the server and other stages. */
	apf_dbwriter_set_linger(writer, 250);
	if (ui.tty)
		ui.bar = apf_progress_new("ocr", "pages", 0, 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = apf_ocrstage_run(&ctx->cfg, store, writer, &opt, &res, &err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	apf_progress_end(ui.bar, NULL, NULL);
	ui.bar = NULL;

	if (!res.run_id && !rc && res.cancelled) {
		fprintf(stderr, "apflow: interrupted before the run started: nothing was written\n");
		rc = 130;
		goto out;
	}
	if (!res.run_id && !rc) {
		if (ui.json)
			print_json_summary(&res, "nothing to do");
		fprintf(ui.json ? stderr : stdout,
			"ocr: nothing to do (%" PRIu64 " document%s already done; --force redoes them, "
			"--retry-failed those that failed)\n",
			res.already_done, res.already_done == 1 ? "" : "s");
		goto out;
	}
	if (res.run_id && !rc && parquet_out) {
		int files = 0;
		rc = apf_ocrstage_export_parquet(&ctx->cfg, writer, res.run_id, parquet_out, &files, &err);
		if (!rc)
			fprintf(stderr, "ocr run %" PRId64 ": %d Parquet file%s under %s\n", res.run_id, files,
				files == 1 ? "" : "s", parquet_out);
	}
	if (res.run_id) {
		if (ui.json)
			print_json_summary(&res, rc || res.cancelled ? "failed" : "done");
		print_summary(ui.json ? stderr : stdout, &res);
		fflush(stdout);
		if (res.kept)
			fprintf(stderr,
				"apflow: %" PRIu64 " page%s found no text where an earlier run of another engine "
				"had some: kept that text (vw_argilla_pages), each recorded in ocr_failures\n",
				res.kept, res.kept == 1 ? "" : "s");
	}
	if (rc) {
		rc = apf_cmd_fail(&err);
		goto out;
	}
	if (res.cancelled) {
		fprintf(stderr, "apflow: interrupted: documents in flight were dropped; run again to finish\n");
		rc = 130;
	} else if (res.failed) {
		fprintf(stderr,
			"apflow: %" PRIu64 " failed (%" PRIu64 " document%s, %" PRIu64 " page%s): see "
			"md_raw_ocr.main.ocr_failures where ocr_run_id = %" PRId64 "\n",
			res.failed, res.failed_docs, res.failed_docs == 1 ? "" : "s", res.failed_pages,
			res.failed_pages == 1 ? "" : "s", res.run_id);
		rc = 1;
	}
out:
	apf_progress_end(ui.bar, NULL, NULL);
	free(docs);
	free(prompt);
	return rc;
}
