/*
 * eval.h: scores suggested entity spans against gold spans (apflow eval):
 * precision, recall and F1 per agent and label, a span counting only when
 * start, end and label all match (offsets in code points, end exclusive).
 *
 * Read the gold first (apf_eval_read_gold): only its pages are scored.
 * Then add suggestions from the rules engine run on a pages JSONL
 * (apf_eval_rules), from suggestion rows (JSONL or Parquet, a file or a
 * directory: apf_eval_read_suggestions) or from a dataset in the store
 * (apf_eval_read_dataset); then score each agent (apf_eval_score_agent).
 * Every read error names the file and line.
 */
#ifndef APFLOW_EVAL_H
#define APFLOW_EVAL_H

#include <stddef.h>

#include "apflow/config.h"
#include "apflow/err.h"

#define APF_EVAL_MAX_LABELS 64

struct apf_eval_span {
	long long start, end;
	int label; /* index in labelset v1 */
};

struct apf_eval_page {
	char *doc_id;
	long page_num;
	struct apf_eval_span *gold; /* sorted */
	size_t ngold;
};

struct apf_eval_pred {
	size_t page; /* index in apf_eval.pages */
	struct apf_eval_span s;
};

struct apf_eval_agent {
	char *name;
	struct apf_eval_pred *pred;
	size_t npred, apred;
	long unknown;    /* suggestions with a label outside the labelset */
	double micro_f1; /* for the caller's report */
};

/* Zero it to set it up ({ 0 }); apf_eval_release() frees what it holds. */
struct apf_eval {
	struct apf_eval_page *pages; /* the gold pages, sorted by doc_id, page_num */
	size_t npages;
	long gold_n[APF_EVAL_MAX_LABELS]; /* gold spans per label */
	struct apf_eval_agent *agents;    /* in the order first seen */
	size_t nagents;
	long unknown_labels;
};

void apf_eval_release(struct apf_eval *ev);

/* The gold JSONL: {"doc_id", "page_num", "spans": [{"start", "end",
 * "label"}]} a page; a page listed twice is an error. */
int apf_eval_read_gold(struct apf_eval *ev, const char *path, struct apf_err *err);

struct apf_eval_rules_stats {
	long pages, spans;
	long scored;       /* pages of the gold among them */
	double secs, cpu;  /* wall and thread CPU time in the engine */
	double bytes;      /* of page text */
};

/*
 * Runs the rules engine (agent APF_RULES_AGENT) on the pages JSONL
 * ({"doc_id", "page_num", "text"}) and adds its spans, checking each
 * span's code points are a slice of the text; with dump, writes them as
 * JSONL {doc_id, page_num, start, end, label, span_text, score} there.
 * bench: times the engine only (nothing checked nor scored).
 */
int apf_eval_rules(struct apf_eval *ev, const char *pages, const char *dump, int bench,
		   struct apf_eval_rules_stats *stats, struct apf_err *err);

/* Suggestion rows (PREANNOTATION_SCHEMA.md) of agent (NULL: all) from a
 * .jsonl file, a .parquet file, or a directory of either. */
int apf_eval_read_suggestions(struct apf_eval *ev, const char *path, const char *agent, struct apf_err *err);

/* The suggestions of a dataset in the store (argilla/in/<dataset>/suggestions/). */
int apf_eval_read_dataset(struct apf_eval *ev, const struct apf_config *cfg, const char *dataset,
			  const char *agent, struct apf_err *err);

/* The exact matches (tp) and suggestions (pred) of agent a, per label
 * index (arrays of APF_EVAL_MAX_LABELS, added to); a span an agent gave
 * twice counts once. */
void apf_eval_score_agent(struct apf_eval *ev, struct apf_eval_agent *a, long tp[], long pred[]);

#endif
