/*
 * preannotate.h: suggested entity spans for a dataset's pages
 * (`apflow preannotate`), by the rules engine (rules.h) or an LLM behind
 * Ollama (ollama.h), written per sql/motherduck/PREANNOTATION_SCHEMA.md.
 *
 * apf_pa_run() annotates pages in memory, on several threads.  The batch
 * mode (apf_pa_dataset()) reads a dataset's exported pages and writes
 * the agent's suggestions; the --stdin-jsonl mode (cmd_preannotate.c)
 * feeds apf_pa_run() lines of JSON and prints apf_pa_row() for each span,
 * so both give the same rows.
 *
 * Ollama's raw answers are cached in md_raw_ocr.main.preannotate_cache
 * by (text_sha256, model, prompt version) (V003__preannotate.sql): a
 * re-run, or a page that another dataset shares, costs no request.
 */
#ifndef APFLOW_PREANNOTATE_H
#define APFLOW_PREANNOTATE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "apflow/config.h"
#include "apflow/dbwriter.h"
#include "apflow/err.h"
#include "apflow/ollama.h"
#include "apflow/rules.h"
#include "apflow/store.h"

enum apf_pa_engine {
	APF_PA_RULES = 0,
	APF_PA_OLLAMA,
};

/* "rules" or "ollama"; 0 or -1. */
int apf_pa_engine_parse(const char *s, enum apf_pa_engine *out);

/* The agent name of an engine: "apflow-rules-v1" or apf_ollama_agent(model); malloc'ed. */
char *apf_pa_agent(enum apf_pa_engine engine, const char *model);

struct apf_pa_page {
	char *doc_id;
	int page_num;
	char *text;
	size_t len;
	char text_sha256[65];
	/* Filled by apf_pa_run(): */
	struct apf_spans spans;   /* score < 0: none */
	int done;
	int cached;
	char *error;              /* why the page failed (malloc'ed), or NULL */
};
void apf_pa_page_release(struct apf_pa_page *p);

struct apf_pa_progress {
	uint64_t pages_total, pages_done, failed, cache_hits, spans;
	int64_t elapsed_ms;
};

#define APF_PA_MAX_LABELS 64

struct apf_pa_stats {
	uint64_t pages, failed, spans, bytes, cache_hits;
	uint64_t label_spans[APF_PA_MAX_LABELS]; /* by index in apf_labelset_v1() */
	struct apf_ollama_stats ollama;
	int64_t ms;
};

struct apf_pa_options {
	enum apf_pa_engine engine;
	struct apf_ollama_options ollama;
	int jobs;                      /* threads (ollama: requests in flight); 0: 4 */
	const char *gazetteer_dir;     /* rules: learnt gazetteers, or NULL */
	/* Ollama's cache: jobs on this writer (NULL: no cache). */
	struct apf_dbwriter *writer;
	int no_check;                  /* skip apf_ollama_check() */
	volatile sig_atomic_t *cancel;
	void (*on_progress)(const struct apf_pa_progress *p, void *arg);
	int progress_ms;
	void *cb_arg;
};

/*
 * Annotates pages[0..n) in place (spans, done, cached, error).  A page
 * that fails (Ollama after its retries, text that is not UTF-8) gets
 * error and counts in stats->failed; the others go on.  Returns an error
 * only for what stops the run: the engine cannot start (a dead Ollama, a
 * missing model), the cache's warehouse fails, the cancel flag.
 */
int apf_pa_run(const struct apf_pa_options *opt, struct apf_pa_page *pages, size_t n, struct apf_pa_stats *stats,
	       struct apf_err *err);

/* One row of the suggestions schema for span sp of page pg, as a JSON
 * object with the schema's fields in order (score null when < 0), the
 * top-level value of jw or an element of its open array (pa_jsonl.c). */
struct apf_jsonw;
void apf_pa_row_write(struct apf_jsonw *jw, const struct apf_pa_page *pg, const struct apf_span *sp,
		      const char *agent, const char *created_at);

/*
 * Reads the page objects of f, one a line: {doc_id (a non-empty string),
 * page_num (1 .. INT32_MAX), text, text_sha256 (the SHA-256 of text)};
 * other members are ignored.  A line passes 64 MiB or the input 4 GiB:
 * APF_ETOOBIG; a bad line: APF_EINVAL "line N: why" (no page is kept).
 * On success *out (n pages, malloc'ed; apf_pa_page_release each, then
 * free) is set.
 */
int apf_pa_read_jsonl(FILE *f, struct apf_pa_page **out, size_t *nout, struct apf_err *err);

/* The current UTC time as the schema's created_at ("2026-12-03T08:01:02.123Z"). */
void apf_pa_now(char out[40]);

struct apf_pa_dataset_options {
	const char *dataset;
	int shard_k, shard_n;          /* shard_n 0: all pages */
	struct apf_pa_options pa;
};

struct apf_pa_dataset_result {
	char *agent;                   /* malloc'ed */
	char export_id[48];
	uint64_t files;
	struct apf_pa_stats stats;
};
void apf_pa_dataset_result_release(struct apf_pa_dataset_result *r);

/*
 * Batch mode: annotates the pages of the dataset's current export (the
 * shard's, when sharded) and replaces the agent's output with
 *   suggestions/<agent>/part-K-of-N.parquet          the spans
 *   suggestions/<agent>/_pages/part-K-of-N.parquet   the pages processed
 * (K/N = 0/1 without sharding), removing the agent's other files: an
 * unsharded run everything else, a sharded one the files of another N.
 * When a page failed nothing is written and the error says how many
 * (APF_ENET or the pages' error); their answers so far are cached.
 */
int apf_pa_dataset(const struct apf_config *cfg, struct apf_store *store, const struct apf_pa_dataset_options *opt,
		   struct apf_pa_dataset_result *res, struct apf_err *err);

#endif
