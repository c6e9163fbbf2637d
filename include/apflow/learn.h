/*
 * learn.h: apflow learn's work: names the SMEs marked and the rules
 * engine missed become gazetteer files the rules read next time,
 * <gazetteer_dir>/<LABEL>.v<N>.txt (one name a line, '#' comments), a new
 * version N holding the names of the one before and the new ones.
 *
 * Only submitted responses of the latest export of each page count, and
 * only spans on text that is still the page's text in md_raw_ocr; a name
 * the SMEs gave two labels is not learnt.  The rules are scored against
 * the SMEs' spans (exact start, end and label; every label) before and,
 * when a file was written, after.
 */
#ifndef APFLOW_LEARN_H
#define APFLOW_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/config.h"
#include "apflow/err.h"

#define APF_LEARN_MAX_LABELS 16

struct apf_learn_options {
	const char *dataset;                 /* the Argilla dataset whose loaded annotations to read */
	const char *labels[APF_LEARN_MAX_LABELS]; /* labelset names (static) */
	size_t nlabels;
	int dry_run;                         /* say what would be learnt; write nothing */
	/* Called after each page the rules read (total: the pages of both
	 * passes), or NULL. */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *progress_arg;
};

struct apf_learn_score {
	int64_t tp, fp, fn;
};

double apf_learn_f1(const struct apf_learn_score *s);
double apf_learn_precision(const struct apf_learn_score *s);
double apf_learn_recall(const struct apf_learn_score *s);

struct apf_learn_label {
	const char *label;   /* static (labelset) */
	long version;        /* written, or would be */
	size_t total;        /* names in that version */
	char *file;          /* its file name in the gazetteer directory */
	char **names;        /* the new ones, sorted */
	size_t nnames;
};

struct apf_learn_result {
	size_t pages;        /* pages with a submitted response */
	size_t spans;        /* their submitted spans */
	struct apf_learn_score before, after; /* after == before when nothing was written */
	struct apf_learn_label learnt[APF_LEARN_MAX_LABELS]; /* labels with new names */
	size_t nlearnt;
};

void apf_learn_result_release(struct apf_learn_result *res);

/* Learns from the dataset's annotations (the warehouse of cfg) into
 * <data_dir>/gazetteers; each file is written atomically.  On error
 * nothing of res is to be used. */
int apf_learn_run(const struct apf_config *cfg, const struct apf_learn_options *opt, struct apf_learn_result *res,
		  struct apf_err *err);

#endif
