/* cmd_preannotate.c: apflow preannotate, suggested spans for a dataset (see preannotate.h). */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/buf.h"
#include "apflow/dataset.h"
#include "apflow/dbwriter.h"
#include "apflow/jsonw.h"
#include "apflow/labelset.h"
#include "apflow/ocrstage.h"
#include "apflow/preannotate.h"
#include "apflow/progress.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

const char cmd_preannotate_usage[] =
	"usage: apflow preannotate --dataset NAME [--engine rules|ollama] [--model M]\n"
	"                          [--ollama-url URL] [--concurrency N] [--shard K/N]\n"
	"                          [--chunk-chars N] [--no-cache]\n"
	"       apflow preannotate --stdin-jsonl [--engine rules|ollama] [options]\n"
	"\n"
	"Suggests entity spans (labelset v1) for the pages of a dataset's current\n"
	"export (argilla/in/NAME/pages/, see 'apflow export') and writes them to\n"
	"argilla/in/NAME/suggestions/<agent>/ as Parquet, one row per span\n"
	"(sql/motherduck/PREANNOTATION_SCHEMA.md).  A run replaces the agent's\n"
	"earlier output and never adds to it; if any page fails nothing is\n"
	"written.\n"
	"\n"
	"  --engine rules    (default) maritime rules and gazetteers, offline;\n"
	"                    agent apflow-rules-v1\n"
	"  --engine ollama   an LLM behind Ollama's /api/chat (structured output);\n"
	"                    agent ollama-<model> (llama3.3:70b: ollama-llama3.3-70b).\n"
	"                    Answers are cached in md_raw_ocr.main.preannotate_cache\n"
	"                    by (text_sha256, model, prompt version): a re-run sends\n"
	"                    no request.  Settings ollama_timeout, ollama_deadline,\n"
	"                    ollama_retries, ollama_num_ctx (see 'apflow config')\n"
	"  --model M         the Ollama model (default: setting ollama_model)\n"
	"  --ollama-url URL  the Ollama server (default: setting ollama_url)\n"
	"  --concurrency N   pages annotated at once: threads for rules, requests\n"
	"                    in flight for ollama (default 4)\n"
	"  --shard K/N       only documents whose shard hash mod N is K (as 'apflow\n"
	"                    ocr --shard'); writes part-K-of-N.parquet, so N runs\n"
	"                    together give the agent's whole output\n"
	"  --chunk-chars N   ollama: code points per request (default from num_ctx);\n"
	"                    longer pages are split with an overlap of 200\n"
	"  --no-cache        ollama: neither read nor write the cache\n"
	"  --stdin-jsonl     read page objects {doc_id, page_num, text, text_sha256},\n"
	"                    one per line, from standard input and write one JSON\n"
	"                    object per span (the schema's fields) per line to\n"
	"                    standard output, in input order (for Spark's RDD.pipe;\n"
	"                    docs/spark.md).  A bad line stops the run before any\n"
	"                    output, naming its number\n"
	"\n"
	"Progress goes to stderr: a bar on a terminal.  Ends with 'preannotate NAME:\n"
	"AGENT: P pages, S spans (LABEL n, ...), X s, Y MB/s' (on stderr with\n"
	"--stdin-jsonl).\n"
	"\n"
	"Exit status: 0 done, 1 failed (nothing written), 2 usage, 130 interrupted.\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = 1;
	signal(sig, SIG_DFL);
}

static void on_progress(const struct apf_pa_progress *p, void *arg)
{
	struct apf_progress *bar = arg;

	apf_progress_set_total(bar, p->pages_total);
	apf_progress_update(bar, p->pages_done, "%" PRIu64 " spans  %" PRIu64 " cached  %" PRIu64 " failed", p->spans,
			    p->cache_hits, p->failed);
}

static void print_summary(FILE *f, const char *what, const char *agent, const struct apf_pa_stats *st, int ollama)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	double secs = st->ms / 1000.0;
	int first = 1;

	fprintf(f, "preannotate %s: %s: %" PRIu64 " page%s, %" PRIu64 " span%s (", what, agent, st->pages,
		st->pages == 1 ? "" : "s", st->spans, st->spans == 1 ? "" : "s");
	for (size_t i = 0; ls && i < ls->n && i < APF_PA_MAX_LABELS; i++) {
		if (!st->label_spans[i])
			continue;
		fprintf(f, "%s%s %" PRIu64, first ? "" : ", ", ls->labels[i].name, st->label_spans[i]);
		first = 0;
	}
	fprintf(f, "%s), %.2f s, %.2f MB/s", first ? "none" : "", secs, secs > 0 ? st->bytes / 1e6 / secs : 0.0);
	if (ollama)
		fprintf(f,
			"; ollama: %" PRIu64 " request%s, %" PRIu64 " retr%s, %" PRIu64 " cached page%s, dropped %" PRIu64
			" unknown label%s, %" PRIu64 " not in page, %" PRIu64 " malformed",
			st->ollama.requests, st->ollama.requests == 1 ? "" : "s", st->ollama.retries,
			st->ollama.retries == 1 ? "y" : "ies", st->cache_hits, st->cache_hits == 1 ? "" : "s",
			st->ollama.dropped_label, st->ollama.dropped_label == 1 ? "" : "s", st->ollama.dropped_text,
			st->ollama.dropped_bad);
	fputc('\n', f);
}

static int run_stdin(struct apf_pa_options *pa, struct apf_progress *bar)
{
	struct apf_pa_page *pages = NULL;
	struct apf_pa_stats st;
	struct apf_err err;
	size_t n = 0;
	char created[40];
	char *agent = apf_pa_agent(pa->engine, pa->ollama.model);
	int rc;

	apf_err_clear(&err);
	rc = apf_pa_read_jsonl(stdin, &pages, &n, &err);
	if (!rc)
		rc = apf_pa_run(pa, pages, n, &st, &err);
	apf_progress_end(bar, NULL, NULL);
	if (!rc && st.failed) {
		size_t first = 0;
		while (first < n && !pages[first].error)
			first++;
		rc = apf_error(&err, APF_ENET, "%" PRIu64 " of %zu page%s failed, so nothing was written: first %s:%d: %s",
			       st.failed, n, n == 1 ? "" : "s", pages[first].doc_id, pages[first].page_num,
			       pages[first].error);
	}
	if (rc && interrupted) {
		fprintf(stderr, "apflow: interrupted: nothing was written\n");
		rc = 130;
		goto out;
	}
	if (rc) {
		if (!strncmp(err.msg, "line ", 5))
			apf_error_prefix(&err, "standard input");
		rc = apf_cmd_fail(&err);
		goto out;
	}
	apf_pa_now(created);
	for (size_t i = 0; i < n; i++) {
		for (size_t s = 0; s < pages[i].spans.n; s++) {
			struct apf_jsonw jw;
			apf_jsonw_init(&jw, 0, 0);
			apf_pa_row_write(&jw, &pages[i], &pages[i].spans.v[s], agent, created);
			apf_cmd_print_json(&jw);
		}
	}
	if (fflush(stdout) || ferror(stdout)) {
		rc = 1;
		fprintf(stderr, "apflow: error: cannot write standard output\n");
		goto out;
	}
	print_summary(stderr, "stdin", agent, &st, pa->engine == APF_PA_OLLAMA);
out:
	for (size_t i = 0; i < n; i++)
		apf_pa_page_release(&pages[i]);
	free(pages);
	free(agent);
	return rc;
}

/* The ollama_* settings; returns 0 or a usage error. */
static int ollama_settings(const struct apf_config *cfg, struct apf_ollama_options *o)
{
	static const struct {
		enum apf_config_key key;
		int lo, hi;
		const char *what;
	} keys[] = {
		{ APF_CFG_OLLAMA_TIMEOUT, 1, 86400, "ollama_timeout: 1 to 86400 seconds" },
		{ APF_CFG_OLLAMA_DEADLINE, 1, 86400, "ollama_deadline: 1 to 86400 seconds" },
		{ APF_CFG_OLLAMA_RETRIES, 0, 100, "ollama_retries: 0 to 100" },
		{ APF_CFG_OLLAMA_NUM_CTX, 4096, 1048576, "ollama_num_ctx: 4096 to 1048576" },
	};
	int *dst[] = { &o->timeout_s, &o->deadline_s, &o->retries, &o->num_ctx };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = apf_config_get(cfg, keys[i].key);
		if (v && apf_parse_int_in(v, keys[i].lo, keys[i].hi, dst[i]))
			return apf_cmd_usage_error("preannotate", "bad %s", keys[i].what);
	}
	return 0;
}

int cmd_preannotate(int argc, char **argv, struct apf_ctx *ctx)
{
	enum { O_DATASET = 256, O_ENGINE, O_MODEL, O_URL, O_CONC, O_SHARD, O_STDIN, O_CHUNK, O_NOCACHE };
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, O_DATASET },
		{ "engine", required_argument, NULL, O_ENGINE },
		{ "model", required_argument, NULL, O_MODEL },
		{ "ollama-url", required_argument, NULL, O_URL },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "jobs", required_argument, NULL, 'j' },
		{ "shard", required_argument, NULL, O_SHARD },
		{ "stdin-jsonl", no_argument, NULL, O_STDIN },
		{ "chunk-chars", required_argument, NULL, O_CHUNK },
		{ "no-cache", no_argument, NULL, O_NOCACHE },
		{ NULL, 0, NULL, 0 },
	};
	struct apf_pa_dataset_options dopt;
	struct apf_pa_dataset_result res = { 0 };
	struct apf_progress *bar = NULL;
	struct apf_err err;
	struct sigaction sa, old_int, old_term;
	int c, rc = 0, use_stdin = 0, no_cache = 0, have_signals = 0;
	char *gaz = NULL;

	memset(&dopt, 0, sizeof(dopt));
	apf_err_clear(&err);
	dopt.pa.ollama.retries = -1;
	dopt.pa.ollama.seed = 42;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:", opts, NULL)) != -1) {
		switch (c) {
		case O_DATASET:
			dopt.dataset = optarg;
			break;
		case O_ENGINE:
			if (apf_pa_engine_parse(optarg, &dopt.pa.engine)) {
				rc = apf_cmd_usage_error("preannotate", "unknown engine '%s': rules or ollama", optarg);
				goto out;
			}
			break;
		case O_MODEL:
			dopt.pa.ollama.model = optarg;
			break;
		case O_URL:
			dopt.pa.ollama.url = optarg;
			break;
		case O_CONC:
		case 'j':
			if (apf_parse_int_in(optarg, 1, 256, &dopt.pa.jobs)) {
				rc = apf_cmd_usage_error("preannotate", "bad --concurrency '%s': 1 to 256", optarg);
				goto out;
			}
			break;
		case O_SHARD:
			if (apf_ocrstage_parse_shard(optarg, &dopt.shard_k, &dopt.shard_n)) {
				rc = apf_cmd_usage_error("preannotate", "bad --shard '%s': K/N with 0 <= K < N", optarg);
				goto out;
			}
			break;
		case O_STDIN:
			use_stdin = 1;
			break;
		case O_CHUNK:
			if (apf_parse_int_in(optarg, 200, 10000000, &dopt.pa.ollama.chunk_chars)) {
				rc = apf_cmd_usage_error("preannotate", "bad --chunk-chars '%s': 200 to 10000000", optarg);
				goto out;
			}
			break;
		case O_NOCACHE:
			no_cache = 1;
			break;
		default:
			rc = apf_cmd_usage_error("preannotate", "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		rc = apf_cmd_usage_error("preannotate", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (use_stdin && (dopt.dataset || dopt.shard_n)) {
		rc = apf_cmd_usage_error("preannotate", "--stdin-jsonl takes its pages from standard input: no --dataset "
							"or --shard");
		goto out;
	}
	if (!use_stdin && !dopt.dataset) {
		rc = apf_cmd_usage_error("preannotate", "--dataset NAME or --stdin-jsonl is required");
		goto out;
	}
	if (dopt.dataset && apf_dataset_name_check(&ctx->cfg, dopt.dataset, &err)) {
		rc = err.code == APF_EUSAGE ? apf_cmd_usage_error("preannotate", "%s", err.msg) : apf_cmd_fail(&err);
		goto out;
	}
	if (dopt.pa.engine == APF_PA_OLLAMA) {
		if ((rc = ollama_settings(&ctx->cfg, &dopt.pa.ollama)))
			goto out;
		if (!dopt.pa.ollama.model)
			dopt.pa.ollama.model = apf_config_get(&ctx->cfg, APF_CFG_OLLAMA_MODEL);
		if (!dopt.pa.ollama.url)
			dopt.pa.ollama.url = apf_config_get(&ctx->cfg, APF_CFG_OLLAMA_URL);
		dopt.pa.writer = no_cache ? NULL : ctx->writer;
	} else if (dopt.pa.ollama.model || dopt.pa.ollama.url || dopt.pa.ollama.chunk_chars || no_cache) {
		rc = apf_cmd_usage_error("preannotate", "--model, --ollama-url, --chunk-chars and --no-cache are for "
							"--engine ollama");
		goto out;
	}
	gaz = apf_xasprintf("%s/gazetteers", apf_config_get(&ctx->cfg, APF_CFG_DATA_DIR));
	dopt.pa.gazetteer_dir = gaz;
	bar = apf_progress_new("preannotate", "pages", 0, ctx->stderr_tty);
	dopt.pa.on_progress = on_progress;
	dopt.pa.cb_arg = bar;
	dopt.pa.progress_ms = 200;
	dopt.pa.cancel = &interrupted;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	have_signals = 1;

	if (use_stdin) {
		rc = run_stdin(&dopt.pa, bar);
		bar = NULL;
		goto out;
	}
	rc = apf_pa_dataset(&ctx->cfg, ctx->store, &dopt, &res, &err);
	apf_progress_end(bar, NULL, NULL);
	bar = NULL;
	if (rc) {
		rc = interrupted ? (fprintf(stderr, "apflow: interrupted: nothing was written\n"), 130) : apf_cmd_fail(&err);
		goto out;
	}
	print_summary(stdout, dopt.dataset, res.agent, &res.stats, dopt.pa.engine == APF_PA_OLLAMA);
out:
	if (have_signals) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	apf_progress_end(bar, NULL, NULL);
	apf_pa_dataset_result_release(&res);
	free(gaz);
	return rc;
}
