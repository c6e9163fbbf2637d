/*
 * flow.h: the upload flow inside apflow serve --process.
 *
 * A worker thread takes each new upload through ocr -> export ->
 * preannotate (rules) -> merge for one dataset while uploads go on, then,
 * when Argilla is configured (argilla_api_key), pushes argilla_records.parquet
 * into the Argilla dataset of the same name (apf_argilla_push, as `apflow
 * push`: upserts by id).  It uses the server's store and warehouse writer,
 * so the warehouse is opened by one thread of one process, held while work
 * keeps coming and handed over when another apflow process asks for it
 * (dbwriter.h); the cost of loading DuckDB is paid once.  Every step is the
 * stage's core function (apf_ocrstage_run, apf_export_run, apf_pa_dataset,
 * apf_merge_run, apf_argilla_push), idempotent, so a server stopped in the
 * middle picks up where it was at its next start.
 *
 * Each document's stage is kept in memory for GET /api/documents/<id>:
 * "uploaded" (waiting), "ocr", "export", "preannotate", "merge", "merged"
 * (in argilla_records.parquet; the last stage without Argilla), "push",
 * "pushed" (records in Argilla), or "failed" (the step that failed is in
 * the log; a failed push is tried again 30 s later, or at the next upload).
 */
#ifndef APFLOW_FLOW_H
#define APFLOW_FLOW_H

#include <stddef.h>

#include "apflow/config.h"
#include "apflow/dbwriter.h"
#include "apflow/err.h"
#include "apflow/store.h"

struct apf_flow;

struct apf_flow_stats {
	unsigned long cycles;    /* rounds that found new documents */
	unsigned long docs;      /* documents taken through OCR */
	unsigned long pages;     /* pages read */
	unsigned long failures;  /* rounds with a failed step */
	unsigned long rounds;    /* looks for new documents (every poll_ms) */
	unsigned long full_scans; /* of them, reads of the whole documents table */
};

/* Starts the worker on dataset (checked by the caller); store, writer and
 * cfg are borrowed until apf_flow_stop().  poll_ms: how often it looks
 * for new documents (0: 500). */
int apf_flow_start(const struct apf_config *cfg, struct apf_store *store, struct apf_dbwriter *writer,
		   const char *dataset, int poll_ms, struct apf_flow **out, struct apf_err *err);
/* Wakes the worker now (an upload was recorded).  NULL is a no-op. */
void apf_flow_kick(struct apf_flow *f);
/* Stops the worker (an OCR run in flight commits the documents it read
 * whole and drops the rest) and frees f.  NULL is a no-op. */
void apf_flow_stop(struct apf_flow *f, struct apf_flow_stats *stats);

/* The stage of doc_id in the running worker, copied into buf; NULL when
 * no worker runs; "uploaded" for a document it has not seen yet (the
 * caller knows the document exists). */
const char *apf_flow_doc_stage(const char *doc_id, char *buf, size_t n);

#endif
