/*
 * ingest.h: the one path by which a PDF enters apflow, shared by
 * POST /upload and `apflow ingest`.
 *
 * The caller spools the bytes to a temp file while hashing them (struct
 * apf_ingest_spool), so the bytes checked, hashed and stored are the same
 * bytes, and no request is ever held in memory.  The spool lies in the
 * store's temp area when it has one (file://: apf_store_tmp_dir()), so that
 * storing it is a rename, else under <data_dir>/tmp.  Then
 * apf_ingest_file():
 *   1. probes the file with apf_pdf_probe() (%PDF- signature, MuPDF opens
 *      it, not encrypted, at least one page); a file MuPDF had to repair
 *      is refused as truncated unless it ends with "%%EOF" and, at most,
 *      junk that holds no PDF structure,
 *   2. doc_id = the first 20 hex digits of its SHA-256,
 *   3. moves it to raw/<doc_id>.pdf (apf_store_put_file_move()) unless a
 *      head shows it is already there,
 *   4. in one warehouse transaction (group-committed with other uploads,
 *      see dbwriter.h) inserts the md_raw_ocr.main.documents row if the
 *      doc_id is new and always an uploads row.
 * It answers only after the object is durable and the rows are committed.
 * "duplicate" means the documents row existed before this upload.
 *
 * A filename is metadata only: it never chooses a path or a key.
 */
#ifndef APFLOW_INGEST_H
#define APFLOW_INGEST_H

#include <stddef.h>
#include <stdint.h>

struct json_t; /* jansson's; the callers that use these functions include <jansson.h> */

#include "apflow/config.h"
#include "apflow/dbwriter.h"
#include "apflow/err.h"
#include "apflow/store.h"
#include "apflow/util.h"

#define APF_DOC_ID_LEN 20
#define APF_FILENAME_MAX 255 /* bytes, after sanitizing */

struct apf_ingest;

/* What one ingested file became.  filename is owned (apf_ingest_result_release). */
struct apf_ingest_result {
	char doc_id[APF_DOC_ID_LEN + 1];
	char sha256[APF_SHA256_HEX];
	char *filename;      /* sanitized */
	uint64_t bytes;
	int pages;
	int duplicate;
	int64_t upload_id;   /* the uploads row, or -1 when the warehouse did not say */
	char uploaded_at[40]; /* "2025-01-31T12:34:56.789012Z" */
};

void apf_ingest_result_release(struct apf_ingest_result *res);

/* A temp file being written while hashed.  Fields are read-only to callers. */
struct apf_ingest_spool {
	char *path;
	int fd;
	struct apf_sha256 *hash;
	uint64_t bytes;
	uint64_t max;        /* writing more is APF_ETOOBIG; 0: no limit */
	char sha256[APF_SHA256_HEX]; /* set by apf_ingest_spool_finish() */
};

/*
 * Sets up the shared path.  store and writer are borrowed (they must
 * outlive ing).  Makes the spool directory (see above) and removes the
 * temp files a killed process left there (apflow-upload-<pid>-*).
 */
int apf_ingest_new(const struct apf_config *cfg, struct apf_store *store,
		   struct apf_dbwriter *writer, struct apf_ingest **out, struct apf_err *err);
void apf_ingest_free(struct apf_ingest *ing);

/* Opens a new temp file; max bounds what may be written (0: no bound). */
int apf_ingest_spool_open(struct apf_ingest *ing, uint64_t max, struct apf_ingest_spool *sp,
			  struct apf_err *err);
int apf_ingest_spool_write(struct apf_ingest_spool *sp, const void *data, size_t n,
			   struct apf_err *err);
/* Closes the file and sets sp->sha256; the file stays until discarded. */
int apf_ingest_spool_finish(struct apf_ingest_spool *sp, struct apf_err *err);
/* Closes and deletes the temp file, frees what sp holds.  Safe to call twice. */
void apf_ingest_spool_discard(struct apf_ingest_spool *sp);

/*
 * Ingests the finished spool (see above); the spool's file may be gone
 * afterwards (moved into the store), apf_ingest_spool_discard() still
 * applies.  filename is the name the client
 * gave (any bytes, may be NULL), source says who called ("http", "cli"),
 * client who it was (remote address, user; may be NULL).  Fills res on
 * success.  Errors: APF_EPDF (not a PDF, damaged, empty), APF_ESTORE /
 * APF_EDB / APF_ELOCKED (store or warehouse down), APF_EIO.
 */
int apf_ingest_file(struct apf_ingest *ing, const struct apf_ingest_spool *sp, const char *filename,
		    size_t filename_len, const char *source, const char *client,
		    struct apf_ingest_result *res, struct apf_err *err);

/*
 * A filename safe to keep as metadata: only the last path component (after
 * any '/' or '\'), NUL and control characters dropped, invalid UTF-8
 * replaced by U+FFFD, leading dots and spaces trimmed, at most
 * APF_FILENAME_MAX bytes (cut on a character boundary).  An empty result
 * becomes "upload.pdf".  Returns a malloc'ed string.
 */
char *apf_ingest_sanitize_filename(const char *name, size_t len);

/* The JSON the API and `apflow ingest --json` print for a result:
 * {doc_id, filename, pages, bytes, sha256, duplicate, uploaded_at[, upload_id]}. */
struct json_t *apf_ingest_result_json(const struct apf_ingest_result *res);
/* For a failure: {filename (sanitized), error, code, status}. */
struct json_t *apf_ingest_error_json(const char *filename, size_t filename_len, const struct apf_err *err);
/* The same members, written into the open object of jw (apflow/jsonw.h):
 * the one definition of both objects, which the two above parse. */
struct apf_jsonw;
void apf_ingest_result_members(struct apf_jsonw *jw, const struct apf_ingest_result *res);
void apf_ingest_error_members(struct apf_jsonw *jw, const char *filename, size_t filename_len,
			      const struct apf_err *err);

/*
 * Store and warehouse agree: a documents row for every object in raw/
 * whose bytes are valid (a PDF, hashing to the doc_id of its name), or
 * the object named.  An upload is stored before it is recorded, so a kill
 * or a warehouse failure between the two leaves an object without a row;
 * `apflow serve` runs this at start, `apflow check` may too.  Each object
 * without a row is read back and recorded as an upload would be (source
 * 'reconcile', filename "<doc_id>.pdf"); with dry_run only reported.
 * on_object (may be NULL) hears of each object that had no row or is bad:
 * rc 0 and "recorded" (or, dry run, "has no row ..."), or APF_EPDF /
 * APF_EEXISTS and why it cannot be recorded.  Returns 0 unless the store
 * or the warehouse failed (then err says which object it was at).
 */
struct apf_ingest_reconcile {
	uint64_t objects;   /* in raw/ */
	uint64_t missing;   /* without a documents row */
	uint64_t recorded;  /* given their row now */
	uint64_t bad;       /* named to on_object: bytes not valid, or a key not raw/<doc_id>.pdf */
};
int apf_ingest_reconcile(struct apf_ingest *ing, struct apf_store *store, struct apf_dbwriter *writer, int dry_run,
			 void (*on_object)(const char *key, int rc, const char *why, void *arg), void *arg,
			 struct apf_ingest_reconcile *out, struct apf_err *err);

/* 1 when s is exactly 20 lowercase hex digits. */
int apf_ingest_doc_id_valid(const char *s);

#endif
