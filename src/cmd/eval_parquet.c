/*
 * eval_parquet.c: apflow eval's suggestions from Parquet (a file, a
 * directory, or a dataset in the store), read through DuckDB.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apflow/db.h"
#include "apflow/labelset.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "cmd/eval_impl.h"

int ev_read_parquet(struct ev_state *st, struct apf_ctx *ctx, const char *path, int is_dir,
		    const char *agent, struct apf_err *err)
{
	struct apf_db *db = NULL;
	struct apf_db_stmt *stmt = NULL;
	struct apf_db_result *res = NULL;
	char *glob = is_dir ? apf_xasprintf("%s/**/*.parquet", path) : apf_xstrdup(path);
	char *lit = apf_db_quote_literal(glob), *sql;
	int rc;

	(void)ctx;
	/* The path is quoted by the one literal helper: DuckDB takes no
	 * parameter in a table function's arguments here. */
	/* A directory's _pages/ lists (PREANNOTATION_SCHEMA.md) are not spans. */
	sql = apf_xasprintf("SELECT doc_id, page_num, label, \"start\", \"end\", agent "
			    "FROM read_parquet(%s, union_by_name => true, filename => true) "
			    "WHERE ($1::VARCHAR IS NULL OR agent = $1) AND NOT regexp_matches(filename, '/_[^/]*/')",
			    lit);
	rc = apf_db_open_memory(&db, err);
	if (!rc)
		rc = apf_db_prepare(db, sql, &stmt, err);
	if (!rc) {
		apf_db_bind_text(stmt, 1, agent);
		rc = apf_db_stmt_exec(stmt, &res, err);
	}
	if (rc) {
		apf_error_prefix(err, "cannot read suggestions '%s'", path);
		goto out;
	}
	for (uint64_t i = 0; i < apf_db_result_rows(res); i++) {
		char *doc = apf_db_result_text(res, 0, i), *label = apf_db_result_text(res, 2, i);
		char *ag = apf_db_result_text(res, 5, i);
		struct ev_page *p = doc ? ev_find_page(st, doc, (long)apf_db_result_i64(res, 1, i)) : NULL;
		int li = label ? apf_labelset_find(apf_labelset_v1(), label) : -1;

		if (p && ag) {
			if (li >= 0)
				ev_add_pred(st, ag, p, apf_db_result_i64(res, 3, i), apf_db_result_i64(res, 4, i), li);
			else
				st->unknown_labels++;
		}
		free(doc);
		free(label);
		free(ag);
	}
out:
	apf_db_result_free(res);
	apf_db_stmt_free(stmt);
	apf_db_close(db);
	free(sql);
	free(lit);
	free(glob);
	return rc;
}

struct list_arg {
	struct apf_store *store;
	const char *dir;
	int n;
	struct apf_err *err;
};

static int fetch_one(const struct apf_store_stat *s, void *arg)
{
	struct list_arg *a = arg;
	char *path;
	int rc;

	if (!apf_ends_with(s->key, ".parquet") || strstr(s->key, "/_"))
		return 0; /* _pages/ lists the pages processed, not spans */
	path = apf_xasprintf("%s/%d.parquet", a->dir, a->n++);
	rc = apf_store_get_file(a->store, s->key, path, a->err);
	free(path);
	return rc;
}

int ev_read_dataset(struct ev_state *st, struct apf_ctx *ctx, const char *dataset, const char *agent,
		    struct apf_err *err)
{
	struct apf_store *store = NULL;
	char tmpl[] = "/tmp/apflow-eval-XXXXXX";
	char *prefix = NULL, *dir = NULL;
	struct list_arg la = { 0 };
	int rc;

	if (!apf_db_name_valid(dataset))
		return apf_error(err, APF_EUSAGE, "invalid dataset name '%s'", dataset);
	rc = apf_store_open(&ctx->cfg, &store, err);
	if (rc)
		return rc;
	dir = mkdtemp(tmpl);
	if (!dir) {
		rc = apf_error(err, APF_EIO, "cannot create a temporary directory: %s", strerror(errno));
		goto out;
	}
	prefix = apf_xasprintf("argilla/in/%s/suggestions/", dataset);
	la.store = store;
	la.dir = dir;
	la.err = err;
	rc = apf_store_list(store, prefix, fetch_one, &la, err);
	if (!rc && !la.n)
		rc = apf_error(err, APF_ENOTFOUND, "no suggestions under '%s' in the store", prefix);
	if (!rc)
		rc = ev_read_parquet(st, ctx, dir, 1, agent, err);
out:
	if (dir) {
		for (int i = 0; i < la.n; i++) {
			char *p = apf_xasprintf("%s/%d.parquet", dir, i);

			unlink(p);
			free(p);
		}
		rmdir(dir);
	}
	free(prefix);
	apf_store_free(store);
	return rc;
}
