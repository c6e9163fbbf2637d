/*
 * ollama.h: entity suggestions from an LLM behind Ollama's chat API
 * (POST /api/chat), the engine of `apflow preannotate --engine ollama`.
 *
 * Each request asks for the labelset's entities in one chunk of a page,
 * with `format` set to a JSON schema ({"entities":[{"text","label"}]}),
 * `stream` false, and options temperature 0, a fixed seed and an explicit
 * num_ctx (Ollama's default context silently truncates a page).  Pages
 * longer than a chunk are split at whitespace with an overlap, so an
 * entity cut by one boundary is whole in the next chunk.
 *
 * The model answers with texts, not offsets; apf_ollama_align() finds each
 * text in its chunk of the page (every occurrence, exact bytes, else with
 * any run of whitespace matching any other) and turns it into code-point
 * spans.  A label outside the labelset or a text that is not in the chunk
 * (hallucinated, or rewritten by the model) is dropped and counted.
 *
 * The raw answer of a page (apf_ollama_annotate()) is a JSON object,
 *   {"chunks":[{"start":CP,"end":CP,"entities":[{"text":..,"label":..}]}]}
 * which the caller may cache by (text_sha256, model, prompt version):
 * aligning it again gives the same spans without a request.
 *
 * Retries: 408, 429, 5xx, connection failures and timeouts are retried
 * with exponential backoff and full jitter, at most `retries` times and
 * never past `deadline_s` after the request began; `timeout_s` bounds one
 * attempt (no byte of answer for that long).  apf_ollama_check() asks
 * /api/version with a short connect timeout and no retry, so a dead server
 * fails at once with a clear error, then /api/tags for the model.
 *
 * A client may be used by several threads at once.
 */
#ifndef APFLOW_OLLAMA_H
#define APFLOW_OLLAMA_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct json_t; /* jansson's; the callers that use these functions include <jansson.h> */

#include "apflow/err.h"
#include "apflow/labelset.h"
#include "apflow/rules.h"

/* Part of the cache key: a change of prompt, schema or chunking that can
 * change answers must change it. */
#define APF_OLLAMA_PROMPT_VERSION "apflow-ner-p1"

struct apf_ollama_options {
	const char *url;       /* server base URL ("http://localhost:11434") */
	const char *model;     /* "llama3.3:70b" */
	int timeout_s;         /* one attempt without an answer; 0: 300 */
	int deadline_s;        /* one request with its retries; 0: 900 */
	int retries;           /* < 0: 4 */
	long backoff_base_ms;  /* 0: 500 */
	int num_ctx;           /* 0: 8192 */
	int seed;              /* options.seed */
	int chunk_chars;       /* code points per chunk; 0: from num_ctx */
	int overlap_chars;     /* code points shared by neighbouring chunks; 0: 200 */
};

struct apf_ollama;

int apf_ollama_new(const struct apf_ollama_options *opt, const struct apf_labelset *ls, struct apf_ollama **out,
		   struct apf_err *err);
void apf_ollama_free(struct apf_ollama *ol);
/* Once *cancel is non-zero (SIGINT), a request in flight stops within
 * 0.1 s and is not retried (http.h); NULL: never. */
void apf_ollama_set_cancel(struct apf_ollama *ol, const volatile sig_atomic_t *cancel);

/* The endpoint as shown (no user:password@). */
const char *apf_ollama_url(const struct apf_ollama *ol);
const char *apf_ollama_model(const struct apf_ollama *ol);
int apf_ollama_chunk_chars(const struct apf_ollama *ol);

/* GET /api/version (fails fast: APF_ENET "cannot reach Ollama at 'URL':
 * ...") then GET /api/tags: a model the server does not have is
 * APF_ENOTFOUND "model 'M' is not available at 'URL': run 'ollama pull M'". */
int apf_ollama_check(struct apf_ollama *ol, struct apf_err *err);

/* Counters, added to by the calls below (thread-safe when each thread
 * passes its own struct). */
struct apf_ollama_stats {
	uint64_t requests;        /* HTTP requests sent, retries included */
	uint64_t retries;
	uint64_t chunks;
	uint64_t dropped_label;   /* entities with a label outside the labelset */
	uint64_t dropped_text;    /* entities whose text is not in their chunk */
	uint64_t dropped_bad;     /* entities that are not {"text","label"} strings */
};

/* Asks the model for the entities of text (UTF-8, len bytes); *answer is
 * the raw answer described above (the caller decrefs it). */
int apf_ollama_annotate(struct apf_ollama *ol, const char *text, size_t len, struct json_t **answer,
			struct apf_ollama_stats *st, struct apf_err *err);

/* Turns a raw answer for text into spans appended to out: sorted by start,
 * end, label; duplicates removed; score -1 (none).  An answer that does
 * not fit the text (a chunk beyond its end) is APF_EINVAL. */
int apf_ollama_align(const char *text, size_t len, const struct json_t *answer, const struct apf_labelset *ls,
		     struct apf_spans *out, struct apf_ollama_stats *st, struct apf_err *err);

/* Splits text into chunks of at most chunk_cp code points sharing about
 * overlap_cp with their neighbours, cut after whitespace where there is
 * some in the chunk's second half.  starts/ends are code-point offsets
 * (malloc'ed arrays of *n entries; at least one chunk, [0, 0) for ""). */
void apf_ollama_split(const char *text, size_t len, size_t chunk_cp, size_t overlap_cp, size_t **starts,
		      size_t **ends, size_t *n);

/* "ollama-" + model, every character outside [a-z0-9._-] (after
 * lower-casing A-Z) mapped to '-': "llama3.3:70b" -> "ollama-llama3.3-70b". */
char *apf_ollama_agent(const char *model);

#endif
