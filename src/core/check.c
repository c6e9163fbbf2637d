/* check.c: the warehouse's invariants for `apflow check` (check.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apflow/annotated.h"
#include "apflow/buf.h"
#include "apflow/check.h"
#include "apflow/db.h"
#include "apflow/ingest.h"
#include "apflow/labelset.h"
#include "apflow/util.h"

struct sugg_files {
	struct apf_store *st;
	const char *local_root; /* file:// root, or NULL */
	const char *tmp_dir;
	struct apf_buf list;    /* quoted paths, comma-separated */
	size_t n;
	struct apf_err *err;
};

static int add_sugg_file(const struct apf_store_stat *s, void *arg)
{
	struct sugg_files *sf = arg;
	char *path, *q;

	if (!strstr(s->key, "/suggestions/") || !apf_ends_with(s->key, ".parquet"))
		return 0;
	if (sf->local_root) {
		path = apf_xasprintf("%s/%s", sf->local_root, s->key);
	} else {
		path = apf_xasprintf("%s/s%zu.parquet", sf->tmp_dir, sf->n);
		if (apf_store_get_file(sf->st, s->key, path, sf->err)) {
			free(path);
			return -1;
		}
	}
	q = apf_db_quote_literal(path);
	apf_buf_addf(&sf->list, "%s%s", sf->n ? "," : "", q);
	sf->n++;
	free(q);
	free(path);
	return 0;
}

/* Fills _store_suggestions from the store's suggestions Parquet files;
 * those of a remote store are fetched into *tmp_dir first. */
static int load_store_suggestions(struct apf_db *db, struct apf_store *store,
				  const struct apf_config *cfg, char **tmp_dir, struct apf_err *err)
{
	struct sugg_files sf;
	char *sql = NULL;
	int rc;

	memset(&sf, 0, sizeof(sf));
	sf.err = err;
	apf_buf_init(&sf.list, 0);
	sf.st = store;
	if (apf_starts_with(apf_store_url(sf.st), "file://")) {
		sf.local_root = apf_store_url(sf.st) + 7;
	} else {
		*tmp_dir = apf_xasprintf("%s/.apflow-check-%ld-%016" PRIx64,
					 apf_config_get(cfg, APF_CFG_DATA_DIR), (long)getpid(), apf_rand64());
		rc = apf_mkdirs(*tmp_dir, 0700, err);
		if (rc)
			goto out;
		sf.tmp_dir = *tmp_dir;
	}
	rc = apf_store_list(sf.st, "argilla/in/", add_sugg_file, &sf, err);
	if (rc || !sf.n)
		goto out;
	apf_buf_adds(&sf.list, "");
	sql = apf_xasprintf("CREATE OR REPLACE TEMP TABLE _store_suggestions AS "
			    "SELECT CAST(doc_id AS VARCHAR) AS doc_id, CAST(page_num AS INTEGER) AS page_num, "
			    "NULL::VARCHAR AS agent FROM read_parquet([%s], union_by_name = true)",
			    sf.list.data);
	rc = apf_db_exec(db, sql, err);
	if (rc)
		apf_error_prefix(err, "cannot read the suggestions in the store");
out:
	free(sql);
	apf_buf_release(&sf.list);
	return rc;
}

static void remove_tmp_dir(char *dir)
{
	if (!dir)
		return;
	for (size_t i = 0;; i++) {
		char *p = apf_xasprintf("%s/s%zu.parquet", dir, i);
		int gone = unlink(p);
		free(p);
		if (gone)
			break;
	}
	rmdir(dir);
	free(dir);
}

/* The store_reconcile row: apf_ingest_reconcile() in a dry run. */
struct recon {
	struct apf_buf examples;
	int64_t n;
};

static void on_object(const char *key, int rc, const char *why, void *arg)
{
	struct recon *rc_ = arg;

	(void)rc;
	(void)why;
	if (rc_->n++ < 5)
		apf_buf_addf(&rc_->examples, "%s%s", rc_->n > 1 ? "," : "", key);
}

static int reconcile_row(const struct apf_config *cfg, struct apf_store *store, struct apf_dbwriter *writer,
			 struct recon *out, struct apf_err *err)
{
	struct apf_ingest *ing = NULL;
	struct apf_ingest_reconcile r;
	int rc = apf_ingest_new(cfg, store, writer, &ing, err);

	apf_buf_adds(&out->examples, "");
	out->n = 0;
	if (!rc)
		rc = apf_ingest_reconcile(ing, store, writer, 1, on_object, out, &r, err);
	apf_ingest_free(ing);
	if (!rc && (uint64_t)out->n < r.missing + r.bad)
		out->n = (int64_t)(r.missing + r.bad);
	return rc;
}

static char *labels_csv(void)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	struct apf_buf b;

	apf_buf_init(&b, 0);
	for (size_t i = 0; ls && i < ls->n; i++)
		apf_buf_addf(&b, "%s%s", i ? "," : "", ls->labels[i].name);
	apf_buf_adds(&b, "");
	return apf_buf_detach(&b, NULL);
}

static void add_row(struct apf_check_report *out, char *name, char *status, int64_t count, char *examples,
		    char *description)
{
	struct apf_check_row *row;

	out->rows = apf_xrealloc(out->rows, (out->n + 1) * sizeof(*out->rows));
	row = &out->rows[out->n++];
	row->name = name ? name : apf_xstrdup("");
	row->status = status ? status : apf_xstrdup("fail");
	row->count = count;
	row->examples = examples ? examples : apf_xstrdup("");
	row->description = description ? description : apf_xstrdup("");
	if (!strcmp(row->status, "fail"))
		out->fail++;
	else if (!strcmp(row->status, "warn"))
		out->warn++;
	else
		out->ok++;
}

int apf_check_run(const struct apf_config *cfg, struct apf_store *store, struct apf_dbwriter *writer,
		  int64_t stuck_hours, struct apf_check_report *out, struct apf_err *err)
{
	struct apf_sql_stats stats = { 0, NULL };
	struct recon recon = { APF_BUF_INIT, 0 };
	struct apf_db *db = NULL;
	char *labels = labels_csv(), *tmp_dir = NULL, stuck[24];
	struct apf_db_result *r;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(stuck, sizeof(stuck), "%" PRId64, stuck_hours);
	const struct apf_sql_param params[] = { { "labels", labels }, { "stuck_hours", stuck } };
	rc = apf_annotated_open(cfg, 0, &db, err);
	if (!rc)
		rc = load_store_suggestions(db, store, cfg, &tmp_dir, err);
	if (!rc)
		rc = apf_annotated_run_asset(db, "checks_integrity.sql", params, 2, &stats, err);
	apf_db_close(db);
	remove_tmp_dir(tmp_dir);
	free(labels);
	apf_buf_init(&recon.examples, 0);
	if (!rc)
		rc = reconcile_row(cfg, store, writer, &recon, err);
	r = stats.last_result;
	if (rc) {
		apf_buf_release(&recon.examples);
		apf_db_result_free(r);
		return rc;
	}
	for (uint64_t i = 0; r && i < apf_db_result_rows(r); i++)
		add_row(out, apf_db_result_text(r, 0, i), apf_db_result_text(r, 1, i), apf_db_result_i64(r, 2, i),
			apf_db_result_text(r, 3, i), apf_db_result_text(r, 4, i));
	apf_db_result_free(r);
	add_row(out, apf_xstrdup("store_reconcile"), apf_xstrdup(recon.n ? "fail" : "ok"), recon.n,
		apf_buf_detach(&recon.examples, NULL),
		apf_xstrdup("every PDF in the store's raw/ has its documents row and is what its name says"));
	return 0;
}

void apf_check_report_release(struct apf_check_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->rows[i].name);
		free(r->rows[i].status);
		free(r->rows[i].examples);
		free(r->rows[i].description);
	}
	free(r->rows);
	memset(r, 0, sizeof(*r));
}
