/* status.c: the per-stage counts of `apflow run` and `apflow status` (status.h). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "apflow/dataset.h"
#include "apflow/db.h"
#include "apflow/status.h"
#include "apflow/util.h"

/* One row of up to four integers from sql, $1 (when there) bound to bind. */
struct count_job {
	const char *sql;
	const char *bind;
	int64_t v[4];
	int rows;
};

static int count_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct count_job *j = arg;
	struct apf_db_stmt *st = NULL;
	struct apf_db_result *r = NULL;
	int rc;

	memset(j->v, 0, sizeof(j->v));
	j->rows = 0;
	if ((rc = apf_db_prepare(db, j->sql, &st, err)))
		return rc;
	if (strstr(j->sql, "$1"))
		apf_db_bind_text(st, 1, j->bind);
	rc = apf_db_stmt_exec(st, &r, err);
	if (!rc && apf_db_result_rows(r) > 0) {
		int ncols = (int)apf_db_result_cols(r);
		j->rows = 1;
		for (int c = 0; c < ncols && c < 4; c++)
			j->v[c] = apf_db_result_is_null(r, (uint64_t)c, 0) ? 0 : apf_db_result_i64(r, (uint64_t)c, 0);
	}
	apf_db_result_free(r);
	apf_db_stmt_free(st);
	return rc;
}

static int count(struct apf_dbwriter *w, const char *sql, const char *bind, struct count_job *j,
		 struct apf_err *err)
{
	memset(j, 0, sizeof(*j));
	j->sql = sql;
	j->bind = bind;
	return apf_dbwriter_run(w, count_fn, j, err);
}

int apf_status_ocr(struct apf_dbwriter *w, const char *doc_id, struct apf_status_ocr *out, struct apf_err *err)
{
	static const char sql[] =
		"WITH d AS (SELECT doc_id, pages FROM md_raw_ocr.main.documents WHERE $1 IS NULL OR doc_id = $1), "
		"p AS (SELECT doc_id, count(DISTINCT page_num) AS n FROM md_raw_ocr.main.pages GROUP BY doc_id), "
		"f AS (SELECT DISTINCT doc_id FROM md_raw_ocr.main.ocr_failures) "
		"SELECT count(*), "
		"  count(*) FILTER (WHERE f.doc_id IS NULL AND coalesce(p.n, 0) > 0 AND p.n >= coalesce(d.pages, 0)), "
		"  count(*) FILTER (WHERE f.doc_id IS NULL AND (p.n IS NULL OR p.n < coalesce(d.pages, 0))), "
		"  count(*) FILTER (WHERE f.doc_id IS NOT NULL) "
		"FROM d LEFT JOIN p USING (doc_id) LEFT JOIN f USING (doc_id)";
	struct count_job j;
	int rc = count(w, sql, doc_id, &j, err);

	out->documents = j.v[0];
	out->done = j.v[1];
	out->pending = j.v[2];
	out->failed = j.v[3];
	return rc;
}

int apf_status_last_load(struct apf_dbwriter *w, const char *dataset, int64_t *pages, int64_t *records,
			 struct apf_err *err)
{
	struct count_job j;
	int rc = count(w,
		       "SELECT pages, records FROM md_annotated.main.annotations_exports "
		       "WHERE argilla_dataset = $1 ORDER BY export_run_id DESC LIMIT 1",
		       dataset, &j, err);

	if (!rc && !j.rows)
		rc = apf_error(err, APF_ENOTFOUND, "no load of dataset '%s'", dataset);
	*pages = j.v[0];
	*records = j.v[1];
	return rc;
}

/* done/pending of the current pages against the Parquet files of glob. */
struct files_job {
	const char *glob;  /* NULL: no files */
	const char *list;  /* or a DuckDB list literal of files (dataset.h) */
	const char *doc;   /* NULL: every document */
	int hive;
	int64_t done, pending, rows;
};

static int files_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct files_job *j = arg;
	struct apf_db_stmt *st = NULL;
	struct apf_db_result *r = NULL;
	char *lit = j->list ? apf_xstrdup(j->list) : j->glob ? apf_db_quote_literal(j->glob) : NULL;
	char *sql, *src;
	int rc;

	j->done = j->pending = j->rows = 0;
	src = lit ? apf_xasprintf("SELECT CAST(doc_id AS VARCHAR) AS doc_id, CAST(page_num AS INTEGER) AS page_num, "
				  "text_sha256 FROM read_parquet(%s, hive_partitioning = %s, union_by_name = true)",
				  lit, j->hive ? "true" : "false")
		   : apf_xstrdup("SELECT NULL::VARCHAR AS doc_id, NULL::INTEGER AS page_num, NULL::VARCHAR AS "
				 "text_sha256 WHERE false");
	sql = apf_xasprintf("WITH cur AS (SELECT doc_id, page_num, text_sha256 FROM md_raw_ocr.main.vw_argilla_pages "
			    "  WHERE text <> '' AND ($1 IS NULL OR doc_id = $1)), "
			    "f AS (%s), "
			    "m AS (SELECT DISTINCT cur.doc_id, cur.page_num FROM cur JOIN f ON f.doc_id = cur.doc_id "
			    "  AND f.page_num = cur.page_num AND f.text_sha256 = cur.text_sha256) "
			    "SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM cur) - (SELECT count(*) FROM m), "
			    "  (SELECT count(*) FROM f WHERE $1 IS NULL OR doc_id = $1)",
			    src);
	free(src);
	rc = apf_db_prepare(db, sql, &st, err);
	if (!rc) {
		apf_db_bind_text(st, 1, j->doc);
		rc = apf_db_stmt_exec(st, &r, err);
	}
	if (!rc && apf_db_result_rows(r)) {
		j->done = apf_db_result_i64(r, 0, 0);
		j->pending = apf_db_result_i64(r, 1, 0);
		j->rows = apf_db_result_i64(r, 2, 0);
	}
	apf_db_result_free(r);
	apf_db_stmt_free(st);
	free(sql);
	free(lit);
	return rc;
}

int apf_status_dataset(const struct apf_config *cfg, struct apf_store *store, struct apf_dbwriter *w,
		       const char *dataset, const char *doc, struct apf_status_files out[APF_STATUS_NFILES],
		       struct apf_err *err)
{
	struct apf_dataset_files pages, sugg;
	char *tmp = NULL, *merged = NULL, *key = NULL, *pglob = NULL;
	int rc = 0;

	memset(out, 0, APF_STATUS_NFILES * sizeof(*out));
	memset(&pages, 0, sizeof(pages));
	memset(&sugg, 0, sizeof(sugg));
	for (int k = 0; k < APF_STATUS_NFILES; k++) {
		struct files_job j = { NULL, NULL, doc, 0, 0, 0, 0 };
		rc = 0;
		if (k == APF_STATUS_EXPORT) {
			rc = apf_dataset_fetch_pages(cfg, store, dataset, &pages, err);
			if (rc == APF_ENOTFOUND) {
				apf_err_clear(err);
				rc = 0;
			} else if (!rc && pages.n) {
				j.glob = pages.glob;
				j.list = pages.list;
				j.hive = 1;
			}
		} else if (k == APF_STATUS_PREANNOTATE) {
			rc = apf_dataset_fetch_prefix(cfg, store, dataset, "suggestions/apflow-rules-v1/_pages/", &sugg,
						      err);
			if (!rc && sugg.n) {
				pglob = apf_xasprintf("%s/suggestions/apflow-rules-v1/_pages/*.parquet", sugg.dir);
				j.glob = pglob;
			}
		} else {
			rc = apf_dataset_tmpdir(cfg, &tmp, err);
			if (!rc) {
				merged = apf_xasprintf("%s/argilla_records.parquet", tmp);
				key = apf_dataset_key(dataset, "argilla_records.parquet");
				rc = apf_store_get_file(store, key, merged, err);
				if (rc == APF_ENOTFOUND) {
					apf_err_clear(err);
					rc = 0;
				} else if (!rc) {
					j.glob = merged;
				}
			}
		}
		if (!rc && j.glob)
			rc = apf_dbwriter_run(w, files_fn, &j, err);
		if (!rc && !j.glob) {
			struct count_job c;
			rc = count(w,
				   "SELECT count(*) FROM md_raw_ocr.main.vw_argilla_pages WHERE text <> '' AND "
				   "($1 IS NULL OR doc_id = $1)",
				   doc, &c, err);
			j.pending = c.v[0];
		}
		if (rc)
			break;
		out[k].have = j.glob != NULL;
		out[k].done = j.done;
		out[k].pending = j.pending;
		out[k].rows = j.rows;
	}
	apf_dataset_files_release(&pages);
	apf_dataset_files_release(&sugg);
	if (tmp)
		apf_dataset_rmtree(tmp);
	free(tmp);
	free(merged);
	free(key);
	free(pglob);
	return rc;
}

struct doc_job {
	const char *doc_id;
	struct apf_catalog_doc *out;
	int *found;
};

static int doc_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct doc_job *j = arg;

	return apf_catalog_document(db, j->doc_id, j->out, j->found, err);
}

int apf_status_document(struct apf_dbwriter *w, const char *doc_id, struct apf_catalog_doc *out, int *found,
			struct apf_err *err)
{
	struct doc_job j = { doc_id, out, found };

	*found = 0;
	return apf_dbwriter_run(w, doc_fn, &j, err);
}

/* ---- new files ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Every doc_id of the warehouse, sorted (one query, not one per file). */
struct known_job {
	char **ids;
	size_t n;
};

static int known_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct known_job *j = arg;
	struct apf_db_result *r = NULL;
	int rc;

	free_strv(j->ids, j->n);
	j->ids = NULL;
	j->n = 0;
	rc = apf_db_query(db, "SELECT doc_id FROM md_raw_ocr.main.documents WHERE doc_id IS NOT NULL ORDER BY doc_id",
			  &r, err);
	if (!rc && apf_db_result_rows(r)) {
		j->ids = apf_xcalloc((size_t)apf_db_result_rows(r), sizeof(*j->ids));
		for (uint64_t i = 0; i < apf_db_result_rows(r); i++)
			j->ids[j->n++] = apf_db_result_text(r, 0, i);
	}
	apf_db_result_free(r);
	return rc;
}

int apf_status_new_files(struct apf_dbwriter *w, const char *dir, char ***paths, size_t *n, size_t *known,
			 struct apf_err *err)
{
	struct known_job kj = { NULL, 0 };
	char **all = NULL;
	size_t nall = 0, cap = 0, nout = 0;
	struct dirent *e;
	DIR *d = opendir(dir);
	int rc;

	*paths = NULL;
	*n = 0;
	*known = 0;
	if (!d)
		return apf_error(err, APF_EIO, "cannot read directory '%s': %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		struct stat sb;
		char *path;

		if (e->d_name[0] == '.' || len < 4 || strcasecmp(e->d_name + len - 4, ".pdf"))
			continue;
		path = apf_xasprintf("%s/%s", dir, e->d_name);
		if (stat(path, &sb) || !S_ISREG(sb.st_mode)) {
			free(path);
			continue;
		}
		if (nall == cap) {
			cap = cap ? 2 * cap : 64;
			all = apf_xrealloc(all, cap * sizeof(*all));
		}
		all[nall++] = path;
	}
	closedir(d);
	if (nall)
		qsort(all, nall, sizeof(*all), cmp_str);
	rc = apf_dbwriter_run(w, known_fn, &kj, err);
	/* The new files move to the front of all, in order; the known ones
	 * are freed. */
	for (size_t i = 0; i < nall && !rc; i++) {
		char hex[APF_SHA256_HEX], *path;
		const char *key = hex;
		uint64_t size;

		if ((rc = apf_sha256_file(all[i], hex, &size, err)))
			break;
		hex[20] = '\0'; /* doc_id: the first 20 hex digits */
		path = all[i];
		all[i] = NULL;
		if (kj.n && bsearch(&key, kj.ids, kj.n, sizeof(*kj.ids), cmp_str)) {
			(*known)++;
			free(path);
		} else {
			all[nout++] = path;
		}
	}
	free_strv(kj.ids, kj.n);
	if (rc) {
		free_strv(all, nall);
		*known = 0;
		return rc;
	}
	if (!nout) {
		free(all);
		all = NULL;
	}
	*paths = all;
	*n = nout;
	return 0;
}
