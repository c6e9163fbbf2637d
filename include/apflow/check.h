/*
 * check.h: the warehouse's invariants, as `apflow check` reports them.
 *
 * apf_check_run() runs the compiled-in sql/motherduck/checks_integrity.sql
 * on the warehouse (the suggestions Parquet files of the store's
 * argilla/in/<dataset>/suggestions/ loaded into a temp table first, for
 * the suggestions_pages check) and adds the store_reconcile row: a dry
 * run of apf_ingest_reconcile(), an object in raw/ without its documents
 * row or whose bytes are not what its name says failing it.  The front
 * end only prints the rows.
 */
#ifndef APFLOW_CHECK_H
#define APFLOW_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/config.h"
#include "apflow/dbwriter.h"
#include "apflow/err.h"
#include "apflow/store.h"

/* One check.  Strings are owned by the report. */
struct apf_check_row {
	char *name;
	char *status;        /* "ok", "warn" or "fail" */
	int64_t count;       /* rows that break it */
	char *examples;      /* up to 5 ids, comma-separated ("" for none) */
	char *description;
};

struct apf_check_report {
	struct apf_check_row *rows;
	size_t n;
	size_t ok, warn, fail;
};

/*
 * Runs every check; stuck_hours is how long a document may wait for OCR
 * (the stuck_documents check).  store and writer are the command's
 * (apf_ingest_reconcile).  Fills out (release it with
 * apf_check_report_release()) or fails with the reason the checks could
 * not run.
 */
int apf_check_run(const struct apf_config *cfg, struct apf_store *store, struct apf_dbwriter *writer,
		  int64_t stuck_hours, struct apf_check_report *out, struct apf_err *err);
void apf_check_report_release(struct apf_check_report *r);

#endif
