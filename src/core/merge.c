/*
 * merge.c: a dataset's pages and suggestions into argilla_records.parquet
 * (apf_merge_run() in dataset.h; the rules are in
 * sql/motherduck/merge_suggestions_for_argilla.sql).
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apflow/buf.h"
#include "apflow/dataset.h"
#include "apflow/db.h"
#include "apflow/labelset.h"
#include "apflow/sqlfile.h"
#include "apflow/util.h"

static int matches(const char *pattern)
{
	glob_t g;
	int n;

	if (glob(pattern, 0, NULL, &g))
		return 0;
	n = g.gl_pathc > 0;
	globfree(&g);
	return n;
}

/* An empty Parquet file of the suggestions (or processed pages) schema at
 * path, so that the merge's glob matches something. */
static int write_empty(struct apf_db *db, const char *dir, const char *name, int pages, struct apf_err *err)
{
	char *path = apf_xasprintf("%s/%s", dir, name);
	char *lit = apf_db_quote_literal(path), *sql;
	int rc = apf_mkdirs(dir, 0700, err);

	if (pages)
		sql = apf_xasprintf("COPY (SELECT NULL::VARCHAR AS doc_id, NULL::INTEGER AS page_num, NULL::VARCHAR AS "
				    "text_sha256, NULL::VARCHAR AS agent, NULL::INTEGER AS spans, NULL::TIMESTAMPTZ AS "
				    "created_at WHERE false) TO %s (FORMAT parquet)",
				    lit);
	else
		sql = apf_xasprintf("COPY (SELECT NULL::VARCHAR AS doc_id, NULL::INTEGER AS page_num, NULL::VARCHAR AS "
				    "text_sha256, NULL::VARCHAR AS question_name, NULL::VARCHAR AS label, NULL::INTEGER "
				    "AS start, NULL::INTEGER AS \"end\", NULL::VARCHAR AS span_text, NULL::DOUBLE AS "
				    "score, NULL::VARCHAR AS agent, NULL::VARCHAR AS type, NULL::VARCHAR AS "
				    "labelset_version, NULL::TIMESTAMPTZ AS created_at WHERE false) TO %s (FORMAT parquet)",
				    lit);
	if (!rc)
		rc = apf_db_exec(db, sql, err);
	free(sql);
	free(lit);
	free(path);
	return rc;
}

int apf_merge_run(const struct apf_config *cfg, struct apf_store *store, const char *dataset,
		  struct apf_merge_result *res, struct apf_err *err)
{
	const struct apf_asset *a = apf_sql_asset_find("merge_suggestions_for_argilla.sql");
	const struct apf_labelset *ls = apf_labelset_v1();
	int64_t t0 = apf_now_ms();
	struct apf_dataset_files pages = { 0 }, sugg = { 0 };
	struct apf_db *db = NULL;
	struct apf_sql_stats stats = { 0 };
	struct apf_buf labels = APF_BUF_INIT;
	char *sglob = NULL, *pglob = NULL, *target = NULL, *key = NULL, *none = NULL, *none_pages = NULL;
	struct stat sb;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!a || !ls)
		return apf_error(err, APF_EINTERNAL, "merge_suggestions_for_argilla.sql or the labelset is not compiled in");
	rc = apf_dataset_name_check(cfg, dataset, err);
	if (!rc)
		rc = apf_dataset_fetch_pages(cfg, store, dataset, &pages, err);
	if (!rc)
		rc = apf_dataset_fetch_prefix(cfg, store, dataset, "suggestions/", &sugg, err);
	if (rc)
		goto out;
	apf_strlcpy(res->export_id, pages.export_id, sizeof(res->export_id));
	res->suggestion_files = sugg.n;
	sglob = apf_xasprintf("%s/suggestions/*/*.parquet", sugg.dir);
	pglob = apf_xasprintf("%s/suggestions/*/_pages/*.parquet", sugg.dir);
	none = apf_xasprintf("%s/suggestions/_none", sugg.dir);
	none_pages = apf_xasprintf("%s/suggestions/_none/_pages", sugg.dir);
	target = apf_xasprintf("%s/argilla_records.parquet", pages.dir);
	rc = apf_db_open_memory(&db, err);
	if (!rc && !matches(sglob))
		rc = write_empty(db, none, "empty.parquet", 0, err);
	if (!rc && !matches(pglob))
		rc = write_empty(db, none_pages, "empty.parquet", 1, err);
	if (rc)
		goto out;
	apf_buf_adds(&labels, "");
	for (size_t i = 0; i < ls->n; i++)
		apf_buf_addf(&labels, "%s%s", i ? "," : "", ls->labels[i].name);
	{
		const struct apf_sql_param params[] = {
			{ "suggestions_glob", sglob }, { "processed_glob", pglob }, { "labels", labels.data },
			{ "labelset_version", ls->version }, { "target", target },
		};
		/* The export's files, as a list (not a glob: the directory may
		 * hold a newer export's files too). */
		char *set = apf_xasprintf("SET VARIABLE pages_glob = %s", pages.list);
		rc = apf_db_exec(db, set, err);
		free(set);
		if (!rc)
			rc = apf_sql_run_text(db, a->name, (const char *)a->data, params,
					      sizeof(params) / sizeof(params[0]), 1, &stats, err);
	}
	if (rc) {
		apf_error_prefix(err, "cannot merge dataset '%s'", dataset);
		goto out;
	}
	{
		struct apf_db_result *r = stats.last_result;
		uint64_t *dst[] = { &res->pages, &res->pages_with_spans, &res->spans, &res->agents, &res->stale,
				    &res->not_exported, &res->invalid, &res->duplicates, &res->overlapped };
		for (uint64_t c = 0; r && c < sizeof(dst) / sizeof(dst[0]) && c < apf_db_result_cols(r); c++)
			*dst[c] = (uint64_t)apf_db_result_i64(r, c, 0);
	}
	apf_db_close(db);
	db = NULL;
	key = apf_dataset_key(dataset, "argilla_records.parquet");
	rc = apf_store_put_file(store, key, target, "application/vnd.apache.parquet", err);
	if (!rc && !stat(target, &sb))
		res->bytes = (uint64_t)sb.st_size;
out:
	res->ms = apf_now_ms() - t0;
	apf_db_result_free(stats.last_result);
	apf_db_close(db);
	apf_buf_release(&labels);
	apf_dataset_files_release(&pages);
	apf_dataset_files_release(&sugg);
	free(sglob);
	free(pglob);
	free(none);
	free(none_pages);
	free(target);
	free(key);
	return rc;
}
