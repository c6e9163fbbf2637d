/*
 * runstate.h: the state file of `apflow run`, <data_dir>/runs/<dataset>.json,
 * which `apflow status` reads for the stages the warehouse cannot tell
 * (push, pull, load).  Written atomically after each stage:
 *
 *   {"dataset": .., "started_at": .., "finished_at": .. | null,
 *    "stages": [{"stage", "state", "items", "failures", "seconds", "note"}, ..]}
 *
 * two spaces a level, the stages in the run's order.
 */
#ifndef APFLOW_RUNSTATE_H
#define APFLOW_RUNSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/err.h"

#define APF_RUN_STAGE_MAX 16

struct apf_run_stage {
	char stage[32];
	char state[16];  /* "done", "failed", "skipped", "not run" */
	int64_t items;
	int64_t failures;
	double seconds;
	char note[256];
};

struct apf_run_state {
	char dataset[256];
	char started_at[40];
	char finished_at[40]; /* "" while the run goes on (null in the file) */
	size_t n;             /* stages */
	struct apf_run_stage stages[APF_RUN_STAGE_MAX];
};

/* Writes st to path (temp + rename); the directory must exist. */
int apf_run_state_save(const char *path, const struct apf_run_state *st, struct apf_err *err);

/* Reads path into st.  APF_ENOTFOUND when there is no file, APF_EINVAL
 * (naming the file) when it is not a state file; st is then untouched.
 * Strings longer than st's fields are cut. */
int apf_run_state_load(const char *path, struct apf_run_state *st, struct apf_err *err);

#endif
