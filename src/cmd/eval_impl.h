/*
 * eval_impl.h: what cmd_eval.c and eval_parquet.c share.
 */
#ifndef APFLOW_EVAL_IMPL_H
#define APFLOW_EVAL_IMPL_H

#include <stddef.h>

#include "apflow/err.h"
#include "cmd/cmd.h"

struct ev_span {
	long long start, end;
	int label; /* index in labelset v1 */
};

struct ev_page {
	char *doc_id;
	long page_num;
	struct ev_span *gold; /* sorted */
	size_t ngold;
};

struct ev_pred {
	size_t page; /* index in ev_state.pages */
	struct ev_span s;
};

struct ev_agent {
	char *name;
	struct ev_pred *pred;
	size_t npred, apred;
	long unknown; /* suggestions with a label outside the labelset */
	double micro_f1;
};

struct ev_state {
	struct ev_page *pages; /* the gold pages, sorted by doc_id, page_num */
	size_t npages;
	long gold_n[64];
	struct ev_agent *agents;
	size_t nagents;
	long unknown_labels;
	long rules_pages, rules_spans;
	double rules_secs, rules_bytes;
};

struct ev_page *ev_find_page(struct ev_state *st, const char *doc_id, long page_num);
void ev_add_pred(struct ev_state *st, const char *agent, struct ev_page *p, long long start,
		 long long end, int label);
void ev_state_release(struct ev_state *st);

/* Suggestion rows from a Parquet file, or every *.parquet under a directory
 * (recursively), through DuckDB. */
int ev_read_parquet(struct ev_state *st, struct apf_ctx *ctx, const char *path, int is_dir,
		    const char *agent, struct apf_err *err);
/* The suggestions of a dataset in the store (argilla/in/<dataset>/suggestions/). */
int ev_read_dataset(struct ev_state *st, struct apf_ctx *ctx, const char *dataset, const char *agent,
		    struct apf_err *err);

#endif
