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

/* What a range of documents holds at most (unless one document has more):
 * pages, and suggested spans.  DuckDB's list aggregates of the merge
 * cannot spill to disk and a range of 2,048 pages of 15 spans needed some
 * 125 MB; memory_limit bounds the rest (without it the instance kept the
 * ranges' freed memory: 260 to 490 MB over 100,000 pages; with it 248 MB
 * at 25,000 pages and 266 MB at 100,000).  One thread: the merge took a
 * third less CPU with one than with two. */
#define MERGE_RANGE_PAGES 2048
#define MERGE_RANGE_SPANS 32768
#define MERGE_MEMORY_LIMIT "200MB"

/* APFLOW_MERGE_RANGE_PAGES, for the tests only, makes the ranges smaller. */
static uint64_t range_pages(void)
{
	const char *e = getenv("APFLOW_MERGE_RANGE_PAGES");
	int64_t v;

	return e && !apf_parse_i64(e, &v) && v > 0 ? (uint64_t)v : MERGE_RANGE_PAGES;
}

/* The ranges: bounds[i] is the first doc_id of range i + 1 and files[i]
 * the list literal of range i's page files (nranges = nbounds + 1); each
 * range [bounds[i - 1], bounds[i]) holds about MERGE_RANGE_PAGES pages,
 * the first also everything before bounds[0], the last everything after. */
struct ranges {
	char **bounds;
	char **files;
	size_t nbounds;
};

static void ranges_release(struct ranges *g)
{
	for (size_t i = 0; i < g->nbounds; i++)
		free(g->bounds[i]);
	for (size_t i = 0; g->files && i <= g->nbounds; i++)
		free(g->files[i]);
	free(g->bounds);
	free(g->files);
	memset(g, 0, sizeof(*g));
}

static int doc_ranges(struct apf_db *db, const char *sglob, struct ranges *g, struct apf_err *err)
{
	struct apf_db_result *r = NULL;
	struct apf_buf files = APF_BUF_INIT;
	uint64_t acc = 0, acc_spans = 0, most = range_pages(), most_spans = most * (MERGE_RANGE_SPANS / MERGE_RANGE_PAGES);
	char *lit = apf_db_quote_literal(sglob);
	char *sql = apf_xasprintf(
		"WITH p AS (SELECT doc_id, count(*) AS n, string_agg(DISTINCT '''' || replace(_file, '''', '''''') || '''', "
		"', ') AS files FROM read_parquet(getvariable('pages_glob'), hive_partitioning = true, hive_types = "
		"{'doc_id': VARCHAR}, filename = '_file') GROUP BY doc_id), s AS (SELECT doc_id, count(*) AS n FROM "
		"read_parquet(%s, union_by_name = true) GROUP BY doc_id) SELECT p.doc_id, p.n, p.files, coalesce(s.n, 0) "
		"FROM p LEFT JOIN s ON s.doc_id = p.doc_id ORDER BY p.doc_id NULLS FIRST",
		lit);
	int rc = apf_db_query(db, sql, &r, err);

	memset(g, 0, sizeof(*g));
	apf_buf_init(&files, 0);
	apf_buf_adds(&files, "");
	for (uint64_t i = 0; !rc && i < apf_db_result_rows(r); i++) {
		uint64_t pages = (uint64_t)apf_db_result_i64(r, 1, i);
		char *f = apf_db_result_text(r, 2, i);
		uint64_t spans = (uint64_t)apf_db_result_i64(r, 3, i);
		if (i > 0 && (acc + pages > most || acc_spans + spans > most_spans) && !apf_db_result_is_null(r, 0, i)) {
			g->bounds = apf_xrealloc(g->bounds, (g->nbounds + 1) * sizeof(char *));
			g->files = apf_xrealloc(g->files, (g->nbounds + 2) * sizeof(char *));
			g->bounds[g->nbounds] = apf_db_result_text(r, 0, i);
			g->files[g->nbounds++] = apf_xasprintf("[%s]", files.data);
			files.len = 0;
			files.data[0] = 0;
			acc = acc_spans = 0;
		}
		acc_spans += spans;
		apf_buf_addf(&files, "%s%s", files.len ? ", " : "", f ? f : "");
		free(f);
		acc += pages;
	}
	if (!rc) {
		g->files = apf_xrealloc(g->files, (g->nbounds + 1) * sizeof(char *));
		g->files[g->nbounds] = apf_xasprintf("[%s]", files.data);
	}
	apf_db_result_free(r);
	apf_buf_release(&files);
	free(sql);
	free(lit);
	return rc;
}

/* Adds the names of list (comma-separated) that names (",a,b,") lacks;
 * returns how many it added. */
static uint64_t add_names(struct apf_buf *names, const char *list)
{
	const char *p = list;
	uint64_t added = 0;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char *one = apf_xasprintf(",%.*s,", (int)len, p);
		if (len && (!names->len || !strstr(names->data, one))) {
			apf_buf_adds(names, names->len ? one + 1 : one);
			added++;
		}
		free(one);
		p = e ? e + 1 : NULL;
	}
	return added;
}

int apf_merge_run(const struct apf_config *cfg, struct apf_store *store, const char *dataset,
		  struct apf_merge_result *res, struct apf_err *err)
{
	const struct apf_asset *a = apf_sql_asset_find("merge_suggestions_for_argilla.sql");
	const struct apf_labelset *ls = apf_labelset_v1();
	int64_t t0 = apf_now_ms();
	struct apf_dataset_files pages = { 0 }, sugg = { 0 };
	struct apf_db *db = NULL;
	struct apf_buf labels = APF_BUF_INIT, parts = APF_BUF_INIT, agents = APF_BUF_INIT;
	char *sglob = NULL, *pglob = NULL, *target = NULL, *key = NULL, *none = NULL, *none_pages = NULL;
	char *tmpdir = NULL;
	struct ranges g = { 0 };
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
	tmpdir = apf_xasprintf("%s/merge-tmp", pages.dir);
	rc = apf_db_open_memory(&db, err);
	if (!rc)
		rc = apf_mkdirs(tmpdir, 0700, err);
	if (!rc) {
		/* Spills (sorts, joins) go to the temp directory rather than
		 * growing with the range. */
		char *lit = apf_db_quote_literal(tmpdir);
		char *set = apf_xasprintf("SET temp_directory = %s; SET memory_limit = '%s'; SET threads = 1", lit,
					  MERGE_MEMORY_LIMIT);
		rc = apf_db_exec(db, set, err);
		free(set);
		free(lit);
	}
	if (!rc && !matches(sglob))
		rc = write_empty(db, none, "empty.parquet", 0, err);
	if (!rc && !matches(pglob))
		rc = write_empty(db, none_pages, "empty.parquet", 1, err);
	if (rc)
		goto out;
	apf_buf_adds(&labels, "");
	apf_buf_adds(&parts, "");
	apf_buf_adds(&agents, "");
	for (size_t i = 0; i < ls->n; i++)
		apf_buf_addf(&labels, "%s%s", i ? "," : "", ls->labels[i].name);
	{
		/* The export's files, as a list (not a glob: the directory may
		 * hold a newer export's files too). */
		char *set = apf_xasprintf("SET VARIABLE pages_glob = %s", pages.list);
		rc = apf_db_exec(db, set, err);
		free(set);
	}
	if (!rc)
		rc = doc_ranges(db, sglob, &g, err);
	for (size_t i = 0; !rc && i <= g.nbounds; i++) {
		/* One range; a single range writes the target itself. */
		char *part = g.nbounds ? apf_xasprintf("%s/part-%06zu.parquet", tmpdir, i) : apf_xstrdup(target);
		const struct apf_sql_param params[] = {
			{ "suggestions_glob", sglob }, { "processed_glob", pglob }, { "labels", labels.data },
			{ "labelset_version", ls->version }, { "target", part },
		};
		struct apf_sql_stats stats = { 0 };

		rc = apf_db_set_variable(db, "doc_from", i ? g.bounds[i - 1] : NULL, err);
		if (!rc)
			rc = apf_db_set_variable(db, "doc_to", i < g.nbounds ? g.bounds[i] : NULL, err);
		if (!rc && g.nbounds) {
			/* the range's own page files: no other file is opened */
			char *set = apf_xasprintf("SET VARIABLE pages_glob = %s", g.files[i]);
			rc = apf_db_exec(db, set, err);
			free(set);
		}
		if (!rc)
			rc = apf_sql_run_text(db, a->name, (const char *)a->data, params,
					      sizeof(params) / sizeof(params[0]), 1, &stats, err);
		if (!rc) {
			struct apf_db_result *r = stats.last_result;
			uint64_t *dst[] = { &res->pages, &res->pages_with_spans, &res->spans, NULL, &res->stale,
					    &res->not_exported, &res->invalid, &res->duplicates, &res->overlapped };
			for (uint64_t c = 0; r && c < sizeof(dst) / sizeof(dst[0]) && c < apf_db_result_cols(r); c++)
				if (dst[c])
					*dst[c] += (uint64_t)apf_db_result_i64(r, c, 0);
			if (r && apf_db_result_cols(r) > 9 && !apf_db_result_is_null(r, 9, 0)) {
				char *names = apf_db_result_text(r, 9, 0);
				res->agents += add_names(&agents, names);
				free(names);
			}
			if (g.nbounds) {
				char *lit = apf_db_quote_literal(part);
				apf_buf_addf(&parts, "%s%s", i ? ", " : "", lit);
				free(lit);
			}
		}
		apf_db_result_free(stats.last_result);
		free(part);
	}
	if (!rc && g.nbounds) {
		/* The ranges' files in doc_id order are the dataset's rows in
		 * order; smaller row groups keep the writer's buffer small. */
		char *lit = apf_db_quote_literal(target);
		char *sql = apf_xasprintf("SET preserve_insertion_order = true; COPY (SELECT * FROM read_parquet([%s])) "
					  "TO %s (FORMAT parquet, ROW_GROUP_SIZE %d)",
					  parts.data, lit, (int)MERGE_RANGE_PAGES * 2);
		rc = apf_db_exec(db, sql, err);
		free(sql);
		free(lit);
	}
	if (rc) {
		apf_error_prefix(err, "cannot merge dataset '%s'", dataset);
		goto out;
	}
	apf_db_close(db);
	db = NULL;
	key = apf_dataset_key(dataset, "argilla_records.parquet");
	rc = apf_store_put_file(store, key, target, "application/vnd.apache.parquet", err);
	if (!rc && !stat(target, &sb))
		res->bytes = (uint64_t)sb.st_size;
out:
	res->ms = apf_now_ms() - t0;
	apf_db_close(db);
	if (tmpdir)
		apf_rmtree(tmpdir);
	ranges_release(&g);
	apf_buf_release(&labels);
	apf_buf_release(&parts);
	apf_buf_release(&agents);
	apf_dataset_files_release(&pages);
	apf_dataset_files_release(&sugg);
	free(sglob);
	free(pglob);
	free(none);
	free(none_pages);
	free(target);
	free(tmpdir);
	free(key);
	return rc;
}
