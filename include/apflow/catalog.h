/*
 * catalog.h: what the warehouse knows about documents and uploads, read
 * into plain structs.
 *
 * The server's GET /api/documents[/<doc_id>] and a future `apflow status`
 * share these queries, so both report a document the same way.  Each
 * function takes an open warehouse handle (directly, or inside a job of
 * the warehouse writer, dbwriter.h) and runs one read-only statement; the
 * doc_id is always bound as a parameter, never pasted into SQL.  Strings
 * in the structs are owned (released by the matching _release()), NULL
 * when the column is NULL; a number the warehouse does not know is -1.
 */
#ifndef APFLOW_CATALOG_H
#define APFLOW_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/db.h"
#include "apflow/err.h"

/* One document, with its OCR and annotation progress. */
struct apf_catalog_doc {
	char *doc_id;
	char *filename;       /* as first uploaded */
	int64_t pages;        /* -1: unknown */
	int64_t bytes;
	char *sha256;
	char *uploaded_at;    /* "2025-01-31T12:34:56.789012Z", the first upload */
	char *status;         /* documents.status */
	int64_t uploads;      /* upload events, duplicates included */
	int64_t pages_done;   /* distinct pages with text in md_raw_ocr.main.pages */
	int64_t pages_failed; /* distinct pages in ocr_failures without text */
	int64_t doc_failures; /* failures of the whole document (page_num NULL) */
	int64_t pages_submitted; /* distinct pages with a submitted annotation */
	int64_t annotators;
	/* Derived: "pending", "in_progress", "done", "partial" or "failed". */
	const char *ocr_state;
	/* Derived: "not_started", "in_progress" or "done". */
	const char *annotation_state;
};

/*
 * Reads one document.  Sets *found to 0 (and leaves out zeroed) when the
 * warehouse has no such doc_id.  Errors: APF_EDB, APF_ELOCKED.
 */
int apf_catalog_document(struct apf_db *db, const char *doc_id, struct apf_catalog_doc *out, int *found,
			 struct apf_err *err);
void apf_catalog_doc_release(struct apf_catalog_doc *d);

/* One upload event. */
struct apf_catalog_upload {
	int64_t upload_id;
	char *doc_id;
	char *filename;
	int64_t bytes;
	char *sha256;
	int duplicate;
	char *uploaded_at;
	int64_t pages;        /* the document's, -1 when unknown */
	char *status;         /* the document's, NULL when it has no row */
};

struct apf_catalog_uploads {
	struct apf_catalog_upload *v;
	size_t n;
};

/*
 * Recent upload events, newest first: at most limit of them, with
 * upload_id < after (after < 0: from the newest).  Keyset pagination: pass
 * the last upload_id seen as the next call's after.
 */
int apf_catalog_uploads(struct apf_db *db, int64_t limit, int64_t after, struct apf_catalog_uploads *out,
			struct apf_err *err);
void apf_catalog_uploads_release(struct apf_catalog_uploads *list);

/* The OCR state of a document from its counts (see struct apf_catalog_doc). */
const char *apf_catalog_ocr_state(int64_t pages, int64_t done, int64_t failed, int64_t doc_failures);

/* A trivial query: 0 when the warehouse answers. */
int apf_catalog_ping(struct apf_db *db, struct apf_err *err);

#endif
