/*
 * ocrstage_parquet.c: a run's pages as Parquet, partitioned by doc_id
 * (apf_ocrstage_export_parquet() in ocrstage.h).
 *
 * DuckDB writes the partitions (COPY ... PARTITION_BY) into a temp
 * directory under <data_dir>/tmp; each file then goes through the store,
 * which makes every object appear whole or not at all, on file:// and
 * s3:// alike.  The temp directory goes whatever happens.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apflow/db.h"
#include "apflow/log.h"
#include "apflow/ocrstage.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "core/ocrstage_impl.h"

/* Its temp directories: apflow-ocr-<pid>-<random>.parquet under <data_dir>/tmp. */
#define PARQUET_PREFIX "apflow-ocr-"

struct copy_job {
	int64_t run_id;
	const char *dir;
};

static int copy_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct copy_job *cj = arg;
	char *target = apf_db_quote_literal(cj->dir);
	/* run_id is ours (an integer), the target the one quoted literal:
	 * COPY takes no parameters for either. */
	char *sql = apf_xasprintf(
		"COPY (SELECT doc_id, page_num, ocr_run_id, engine, model, text, text_sha256, chars, confidence, "
		"created_at FROM md_raw_ocr.main.pages WHERE ocr_run_id = %" PRId64 " ORDER BY doc_id, page_num) "
		"TO %s (FORMAT parquet, PARTITION_BY (doc_id), WRITE_PARTITION_COLUMNS true, OVERWRITE_OR_IGNORE true)",
		cj->run_id, target);
	int rc = apf_db_exec(db, sql, err);

	free(sql);
	free(target);
	return rc;
}

void ocrs_sweep_parquet_dirs(const char *tmpdir)
{
	/* apflow-ocr-<pid>-<random>.parquet of processes that are gone. */
	apf_remove_stale_temps(tmpdir, PARQUET_PREFIX);
}


/* Puts every DIR/doc_id=X/F as ocr_run_id=N/doc_id=X/F. */
static int upload(struct apf_store *store, const char *dir, int64_t run_id, int *files, struct apf_err *err)
{
	char **parts = NULL;
	size_t nparts = 0;
	int rc = apf_list_dir(dir, 0, &parts, &nparts, err);

	for (size_t i = 0; !rc && i < nparts; i++) {
		char *sub = apf_xasprintf("%s/%s", dir, parts[i]);
		char **names = NULL;
		size_t nnames = 0;

		if (apf_starts_with(parts[i], "doc_id="))
			rc = apf_list_dir(sub, 0, &names, &nnames, err);
		for (size_t j = 0; !rc && j < nnames; j++) {
			char *path = apf_xasprintf("%s/%s", sub, names[j]);
			char *key = apf_xasprintf("ocr_run_id=%" PRId64 "/%s/%s", run_id, parts[i], names[j]);
			rc = apf_store_put_file(store, key, path, "application/vnd.apache.parquet", err);
			if (!rc)
				(*files)++;
			free(key);
			free(path);
		}
		apf_list_free(names, nnames);
		free(sub);
	}
	apf_list_free(parts, nparts);
	return rc;
}

int apf_ocrstage_export_parquet(const struct apf_config *cfg, struct apf_dbwriter *writer, int64_t run_id,
				const char *url, int *files, struct apf_err *err)
{
	const char *data_dir = apf_config_get(cfg, APF_CFG_DATA_DIR);
	struct apf_store *store = NULL;
	struct copy_job cj;
	char *tmpdir, *dir;
	int rc;

	*files = 0;
	if (!data_dir || !*data_dir)
		return apf_error(err, APF_ECONFIG, "data_dir is not set");
	rc = apf_store_open_url(url, cfg, &store, err);
	if (rc)
		return rc;
	tmpdir = apf_xasprintf("%s/tmp", data_dir);
	rc = apf_mkdirs(tmpdir, 0700, err);
	/* A killed export left its directory: the stage's setup and this
	 * sweep remove those of dead processes. */
	ocrs_sweep_parquet_dirs(tmpdir);
	dir = apf_xasprintf("%s/" PARQUET_PREFIX "%d-%016" PRIx64 ".parquet", tmpdir, (int)getpid(), apf_rand64());
	if (!rc) {
		cj.run_id = run_id;
		cj.dir = dir;
		rc = apf_dbwriter_run(writer, copy_fn, &cj, err);
		if (rc)
			apf_error_prefix(err, "cannot write the pages of run %" PRId64 " as Parquet", run_id);
	}
	if (!rc && access(dir, F_OK) == 0)
		rc = upload(store, dir, run_id, files, err);
	apf_rmtree(dir);
	if (!rc)
		apf_log_debug("ocr run %" PRId64 ": %d Parquet file%s under %s", run_id, *files,
			      *files == 1 ? "" : "s", apf_store_url(store));
	free(dir);
	free(tmpdir);
	apf_store_free(store);
	return rc;
}
