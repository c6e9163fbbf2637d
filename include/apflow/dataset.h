/*
 * dataset.h: a dataset's files in the object store, under
 * argilla/in/<dataset>/ (DESIGN.md, "Object store layout"):
 *
 *   pages/_manifest.json                     the current export (see below)
 *   pages/doc_id=<doc_id>/<export_id>-<n>.parquet
 *   suggestions/<agent>/NAME.parquet         one row per span (PREANNOTATION_SCHEMA.md)
 *   suggestions/<agent>/_pages/NAME.parquet  the pages each writer processed
 *   argilla_records.parquet                  the merge
 *
 * Replacing an export atomically.  An object store has no rename, so a
 * new export never overwrites the old one's files: it writes files whose
 * names carry its export_id, then flips the pointer, pages/_manifest.json
 * (one PUT: atomic on file:// and s3:// alike), then deletes the files no
 * manifest names any more.  Readers go through the manifest and so see
 * the old export or the new one, never a mix; a reader that loses a file
 * to the clean-up reads the manifest again (apf_dataset_fetch_pages()
 * does).  A plain glob over pages/ sees both exports for the moment
 * between the flip and the clean-up.
 */
#ifndef APFLOW_DATASET_H
#define APFLOW_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/config.h"
#include "apflow/dbwriter.h"
#include "apflow/err.h"
#include "apflow/store.h"

/* Checks name against the setting dataset_pattern (a PCRE2 that must match
 * the whole name; default vessels_ocr_[a-z0-9_]+) and against what a store
 * key segment may hold.  APF_EUSAGE "bad dataset name 'x': ..." otherwise. */
int apf_dataset_name_check(const struct apf_config *cfg, const char *name, struct apf_err *err);

/* "argilla/in/<dataset>/<rest>", malloc'ed. */
char *apf_dataset_key(const char *dataset, const char *rest);

/* A private temp directory <data_dir>/tmp/apflow-ds-<pid>-<random>, made
 * (mode 0700); *out malloc'ed.  apf_dataset_rmtree() removes it. */
int apf_dataset_tmpdir(const struct apf_config *cfg, char **out, struct apf_err *err);
void apf_dataset_rmtree(const char *dir);

struct apf_export_options {
	const char *dataset;
	const char *const *doc_ids; /* only these documents (NULL: all) */
	size_t ndoc_ids;
	const char *since;          /* only pages created at or after this time (NULL: all) */
	/* Called after each file put into the store (may be NULL). */
	void (*on_file)(uint64_t done, uint64_t total, void *arg);
	void *cb_arg;
};

struct apf_export_result {
	char export_id[48];  /* "20261203T080102Z-1a2b3c" */
	uint64_t pages, docs, files, bytes, removed;
	int64_t ms;
};

/*
 * Writes the pages of md_raw_ocr.main.vw_argilla_pages that opt selects
 * (sql/motherduck/export_for_argilla.sql, one job on writer) to the dataset's pages/ as
 * Parquet partitioned by doc_id, replacing the previous export as
 * described above.  No page selected is APF_ENOTFOUND and changes
 * nothing.
 */
int apf_export_run(const struct apf_config *cfg, struct apf_store *store, struct apf_dbwriter *writer,
		   const struct apf_export_options *opt, struct apf_export_result *res, struct apf_err *err);

/* Local copies of a dataset's files, in a private temp directory. */
struct apf_dataset_files {
	char *dir;            /* the temp directory (removed by release) */
	char *glob;           /* a glob matching every file fetched (<dir>/pages/ then doc_id=X/NAME.parquet) */
	/* Pages: the export's files as a DuckDB list literal (['/a.parquet',
	 * ...]): in place in a file:// store (nothing copied; in_place set),
	 * else the copies in dir.  A reader that finds an in-place file gone
	 * (a newer export removed it) fetches again. */
	char *list;
	int in_place;
	char export_id[48];   /* pages: the export read */
	size_t n;             /* files fetched */
	uint64_t bytes;
};

/* Fetches the current export's pages (through its manifest) to
 * files->dir/pages/doc_id=<id>/..., or on file:// only lists them where
 * they are (files->list); a dataset never exported is
 * APF_ENOTFOUND "dataset 'x' has no exported pages: run 'apflow export
 * --dataset x' first". */
int apf_dataset_fetch_pages(const struct apf_config *cfg, struct apf_store *store, const char *dataset,
			    struct apf_dataset_files *files, struct apf_err *err);

/* Fetches every key under the dataset's prefix rest ("suggestions/")
 * whose name ends in .parquet to files->dir/<rest>...; n may be 0. */
int apf_dataset_fetch_prefix(const struct apf_config *cfg, struct apf_store *store, const char *dataset,
			     const char *rest, struct apf_dataset_files *files, struct apf_err *err);

void apf_dataset_files_release(struct apf_dataset_files *files);

struct apf_merge_result {
	char export_id[48];
	uint64_t pages, pages_with_spans, spans, agents;
	uint64_t stale, not_exported, invalid, duplicates, overlapped;
	uint64_t suggestion_files, bytes;
	int64_t ms;
};

/*
 * Merges the dataset's current export with every agent's suggestions
 * (sql/motherduck/merge_suggestions_for_argilla.sql) into
 * argilla/in/<dataset>/argilla_records.parquet, one row per page, written
 * in one PUT (atomic).  Suggestions that do not fit their page are left
 * out and counted (stale, not_exported, invalid), as are duplicates and
 * spans that overlap a better span of the same agent.
 */
int apf_merge_run(const struct apf_config *cfg, struct apf_store *store, const char *dataset,
		  struct apf_merge_result *res, struct apf_err *err);

#endif
