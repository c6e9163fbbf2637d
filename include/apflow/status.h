/*
 * status.h: where the flow stands, counted per stage, for `apflow run`
 * (which files are new, what the last load took) and `apflow status`.
 *
 * Every read goes through the warehouse writer (dbwriter.h), as a job, so
 * a command that also writes never has the files attached twice; a
 * doc_id is bound as a parameter, never pasted into SQL.  The front ends
 * only print what these return.
 */
#ifndef APFLOW_STATUS_H
#define APFLOW_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/catalog.h"
#include "apflow/config.h"
#include "apflow/dbwriter.h"
#include "apflow/err.h"
#include "apflow/store.h"

/* Documents (of doc_id, or all when NULL) and their OCR: done (every page
 * read, no failure), pending (not all read yet), failed (any failure). */
struct apf_status_ocr {
	int64_t documents, done, pending, failed;
};
int apf_status_ocr(struct apf_dbwriter *w, const char *doc_id, struct apf_status_ocr *out, struct apf_err *err);

/*
 * A dataset's file stages against the current page texts (of doc_id, or
 * all when NULL): the pages export wrote, the pages the rules agent
 * annotated (its _pages files), and the pages in argilla_records.parquet,
 * each done (the file holds the page with its current text) or pending,
 * and the rows the files hold.  have is 0 when the stage never wrote its
 * files (then every current page is pending).
 */
enum { APF_STATUS_EXPORT, APF_STATUS_PREANNOTATE, APF_STATUS_MERGE, APF_STATUS_NFILES };
struct apf_status_files {
	int have;
	int64_t done, pending, rows;
};
int apf_status_dataset(const struct apf_config *cfg, struct apf_store *store, struct apf_dbwriter *w,
		       const char *dataset, const char *doc_id, struct apf_status_files out[APF_STATUS_NFILES],
		       struct apf_err *err);

/* The last load of dataset into md_annotated: the pages it annotated and
 * the records of the file it read.  APF_ENOTFOUND when none was made. */
int apf_status_last_load(struct apf_dbwriter *w, const char *dataset, int64_t *pages, int64_t *records,
			 struct apf_err *err);

/* One document as the catalog reports it (catalog.h); *found is 0 when
 * the warehouse does not have it. */
int apf_status_document(struct apf_dbwriter *w, const char *doc_id, struct apf_catalog_doc *out, int *found,
			struct apf_err *err);

/*
 * The .pdf files of dir (regular files, any case of the extension, not
 * hidden) whose bytes the warehouse does not know yet (the doc_id of
 * their SHA-256 has no documents row), sorted by path, in *paths (n of
 * them; free each and the array); *known counts the others.
 */
int apf_status_new_files(struct apf_dbwriter *w, const char *dir, char ***paths, size_t *n, size_t *known,
			 struct apf_err *err);

#endif
