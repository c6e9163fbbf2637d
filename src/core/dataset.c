/*
 * dataset.c: a dataset's files in the store: name checks, the pages
 * export with its manifest, and local copies for DuckDB to read (see
 * dataset.h).
 *
 * DuckDB reads and writes Parquet only on local files here (its S3
 * support is an extension that would be downloaded at run time), so every
 * file passes through a private temp directory and the store, which makes
 * each object appear whole or not at all on file:// and s3:// alike.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>

#include "apflow/buf.h"
#include "apflow/dataset.h"
#include "apflow/db.h"
#include "apflow/log.h"
#include "apflow/sqlfile.h"
#include "apflow/util.h"

#define MANIFEST "pages/_manifest.json"
#define MANIFEST_MAX ((size_t)64 << 20)
#define PARQUET_TYPE "application/vnd.apache.parquet"

int apf_dataset_name_check(const struct apf_config *cfg, const char *name, struct apf_err *err)
{
	const char *pat = apf_config_get(cfg, APF_CFG_DATASET_PATTERN);
	pcre2_code *re;
	pcre2_match_data *md;
	int errcode, rc = 0;
	PCRE2_SIZE erroff;
	char *probe;

	if (!pat || !*pat)
		pat = "vessels_ocr_[a-z0-9_]+";
	if (!name || !*name)
		return apf_error(err, APF_EUSAGE, "no dataset name: give --dataset NAME");
	if (strlen(name) > 200 || strchr(name, '/') || name[0] == '.')
		return apf_error(err, APF_EUSAGE, "bad dataset name '%s': not a store key segment", name);
	probe = apf_dataset_key(name, "x");
	if (!apf_store_key_valid(probe))
		rc = apf_error(err, APF_EUSAGE, "bad dataset name '%s': not a store key segment", name);
	free(probe);
	if (rc)
		return rc;
	re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_ANCHORED | PCRE2_ENDANCHORED,
			   &errcode, &erroff, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		return apf_error(err, APF_ECONFIG, "bad dataset_pattern '%s': %s at offset %zu", pat, (char *)msg,
				 (size_t)erroff);
	}
	md = pcre2_match_data_create_from_pattern(re, NULL);
	if (pcre2_match(re, (PCRE2_SPTR)name, strlen(name), 0, 0, md, NULL) < 0)
		rc = apf_error(err, APF_EUSAGE, "bad dataset name '%s': does not match dataset_pattern '%s'", name, pat);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc;
}

char *apf_dataset_key(const char *dataset, const char *rest)
{
	return apf_xasprintf("argilla/in/%s/%s", dataset, rest ? rest : "");
}

/* A private directory apflow-ds-<pid>-<random> in parent (made). */
static int make_private_dir(const char *parent, char **out, struct apf_err *err)
{
	char *dir;
	int rc;

	/* Those of apflow processes that are gone (a kill, a crash). */
	apf_remove_stale_temps(parent, "apflow-ds-");
	dir = apf_xasprintf("%s/apflow-ds-%d-%016" PRIx64, parent, (int)getpid(), apf_rand64());
	if (mkdir(dir, 0700)) {
		rc = apf_error(err, APF_EIO, "cannot make directory '%s': %s", dir, strerror(errno));
		free(dir);
		return rc;
	}
	*out = dir;
	return 0;
}

int apf_dataset_tmpdir(const struct apf_config *cfg, char **out, struct apf_err *err)
{
	const char *data_dir = apf_config_get(cfg, APF_CFG_DATA_DIR);
	char *tmp;
	int rc;

	if (!data_dir || !*data_dir)
		return apf_error(err, APF_ECONFIG, "data_dir is not set");
	tmp = apf_xasprintf("%s/tmp", data_dir);
	rc = apf_mkdirs(tmp, 0700, err);
	if (!rc)
		rc = make_private_dir(tmp, out, err);
	free(tmp);
	return rc;
}

void apf_dataset_rmtree(const char *dir)
{
	apf_rmtree(dir);
}


/* ---- export ---- */

static void make_export_id(char out[48])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 48, "%04d%02d%02dT%02d%02d%02dZ-%06" PRIx64, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, apf_rand64() & 0xffffff);
}

static void iso_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct export_job {
	const struct apf_export_options *opt;
	const char *dir;
	struct apf_export_result *res;
};

/* Pages a range of documents holds at most in one COPY of the export
 * (unless one document has more): the sort and the partitioned writer
 * then hold one range, whatever the dataset's size. */
#define EXPORT_RANGE_PAGES 8192

/* The first doc_id of each range after the first (bounds, malloc'ed). */
static int export_ranges(struct apf_db *db, char ***bounds, size_t *n, struct apf_err *err)
{
	struct apf_db_result *r = NULL;
	uint64_t acc = 0;
	int rc = apf_db_query(db,
			      "SELECT doc_id, count(*) FROM md_raw_ocr.main.vw_argilla_pages WHERE text <> '' AND "
			      "doc_id IS NOT NULL GROUP BY doc_id ORDER BY doc_id",
			      &r, err);

	*bounds = NULL;
	*n = 0;
	for (uint64_t i = 0; !rc && i < apf_db_result_rows(r); i++) {
		uint64_t pages = (uint64_t)apf_db_result_i64(r, 1, i);
		if (acc && acc + pages > EXPORT_RANGE_PAGES) {
			*bounds = apf_xrealloc(*bounds, (*n + 1) * sizeof(char *));
			(*bounds)[(*n)++] = apf_db_result_text(r, 0, i);
			acc = 0;
		}
		acc += pages;
	}
	apf_db_result_free(r);
	return rc;
}

/* Runs the export SQL into dir, a range of documents at a time, and
 * counts what it wrote (a writer job: may run twice, so it starts from
 * scratch). */
static int export_job_fn(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct export_job *j = arg;
	const struct apf_asset *a = apf_sql_asset_find("export_for_argilla.sql");
	struct apf_buf docs = APF_BUF_INIT;
	struct apf_sql_param params[3];
	char *pattern, **bounds = NULL;
	size_t nbounds = 0;
	glob_t g;
	int rc, any;

	if (!a)
		return apf_error(err, APF_EINTERNAL, "export_for_argilla.sql is not compiled in");
	apf_dataset_rmtree(j->dir);
	j->res->pages = j->res->docs = 0;
	apf_buf_adds(&docs, "");
	for (size_t i = 0; i < j->opt->ndoc_ids; i++)
		apf_buf_addf(&docs, "%s%s", i ? "," : "", j->opt->doc_ids[i]);
	params[0] = (struct apf_sql_param){ "docs", docs.data };
	params[1] = (struct apf_sql_param){ "since", j->opt->since ? j->opt->since : "" };
	params[2] = (struct apf_sql_param){ "target", j->dir };
	rc = export_ranges(db, &bounds, &nbounds, err);
	for (size_t i = 0; !rc && i <= nbounds; i++) {
		rc = apf_db_set_variable(db, "doc_from", i ? bounds[i - 1] : NULL, err);
		if (!rc)
			rc = apf_db_set_variable(db, "doc_to", i < nbounds ? bounds[i] : NULL, err);
		if (!rc)
			rc = apf_sql_run_text(db, a->name, (const char *)a->data, params, 3, 0, NULL, err);
	}
	/* The variables live on in the warehouse's connection. */
	if (nbounds && !rc)
		rc = apf_db_exec(db, "RESET VARIABLE doc_from; RESET VARIABLE doc_to", err);
	for (size_t i = 0; i < nbounds; i++)
		free(bounds[i]);
	free(bounds);
	apf_buf_release(&docs);
	if (rc)
		return rc;
	pattern = apf_xasprintf("%s/*/*.parquet", j->dir);
	/* No row selected: DuckDB writes no file. */
	any = !glob(pattern, 0, NULL, &g) && g.gl_pathc > 0;
	globfree(&g);
	if (any) {
		char *lit = apf_db_quote_literal(pattern);
		char *sql = apf_xasprintf("SELECT count(*), count(DISTINCT doc_id) FROM read_parquet(%s, "
					  "hive_partitioning = true, hive_types = {'doc_id': VARCHAR})",
					  lit);
		struct apf_db_result *r = NULL;

		rc = apf_db_query(db, sql, &r, err);
		if (!rc) {
			j->res->pages = (uint64_t)apf_db_result_i64(r, 0, 0);
			j->res->docs = (uint64_t)apf_db_result_i64(r, 1, 0);
		}
		apf_db_result_free(r);
		free(sql);
		free(lit);
	}
	free(pattern);
	return rc;
}

struct keyset {
	char **v;
	size_t n;
};

static int in_keyset(const struct keyset *ks, const char *key)
{
	for (size_t i = 0; i < ks->n; i++)
		if (!strcmp(ks->v[i], key))
			return 1;
	return 0;
}

struct stale_walk {
	const struct keyset *keep;
	struct keyset drop;
};

static int collect_stale(const struct apf_store_stat *st, void *arg)
{
	struct stale_walk *w = arg;

	if (apf_ends_with(st->key, ".parquet") && !in_keyset(w->keep, st->key)) {
		w->drop.v = apf_xrealloc(w->drop.v, (w->drop.n + 1) * sizeof(char *));
		w->drop.v[w->drop.n++] = apf_xstrdup(st->key);
	}
	return 0;
}

/* Puts dir/doc_id=X/F as pages/doc_id=X/<export_id>-<n>.parquet; records
 * the keys (full) in keys and the relative names in files. */
static int upload_pages(struct apf_store *store, const struct apf_export_options *opt, const char *dir,
			const char *export_id, struct keyset *keys, json_t *files, struct apf_export_result *res,
			struct apf_err *err)
{
	char **parts = NULL;
	size_t nparts = 0;
	int rc = apf_list_dir(dir, 1, &parts, &nparts, err);

	for (size_t i = 0; !rc && i < nparts; i++) {
		char *sub = apf_xasprintf("%s/%s", dir, parts[i]);
		char **names = NULL;
		size_t nnames = 0;

		if (apf_starts_with(parts[i], "doc_id="))
			rc = apf_list_dir(sub, 1, &names, &nnames, err);
		for (size_t j = 0; !rc && j < nnames; j++) {
			char *path = apf_xasprintf("%s/%s", sub, names[j]);
			char *rel = apf_xasprintf("%s/%s-%zu.parquet", parts[i], export_id, j);
			char *tail = apf_xasprintf("pages/%s", rel);
			char *key = apf_dataset_key(opt->dataset, tail);
			struct stat sb;

			uint64_t size = !stat(path, &sb) ? (uint64_t)sb.st_size : 0;

			/* No fsync per file: one sync before the manifest names them. */
			rc = apf_store_put_file_move_ex(store, key, path, PARQUET_TYPE, APF_STORE_NO_SYNC, err);
			if (!rc) {
				res->files++;
				res->bytes += size;
				if (opt->on_file)
					opt->on_file(res->files, nparts, opt->cb_arg);
				json_array_append_new(files, json_string(rel));
				keys->v = apf_xrealloc(keys->v, (keys->n + 1) * sizeof(char *));
				keys->v[keys->n++] = key;
				key = NULL;
			}
			free(key);
			free(tail);
			free(rel);
			free(path);
		}
		apf_list_free(names, nnames);
		free(sub);
	}
	apf_list_free(parts, nparts);
	return rc;
}

int apf_export_run(const struct apf_config *cfg, struct apf_store *store, struct apf_dbwriter *writer,
		   const struct apf_export_options *opt, struct apf_export_result *res, struct apf_err *err)
{
	int64_t t0 = apf_now_ms();
	char *tmp = NULL, *out = NULL, *mkey = NULL, *mtext = NULL, *prefix = NULL, *spool = NULL;
	struct keyset keys = { 0 };
	struct stale_walk walk = { &keys, { 0 } };
	json_t *manifest = NULL, *files = json_array();
	char created[32];
	int rc;

	memset(res, 0, sizeof(*res));
	rc = apf_dataset_name_check(cfg, opt->dataset, err);
	if (rc)
		goto done;
	make_export_id(res->export_id);
	/* DuckDB writes where the store can rename from (file://: its spool
	 * on the same file system), so that thousands of files are moved in,
	 * not copied. */
	rc = apf_store_tmp_dir(store, &spool, err);
	if (!rc)
		rc = spool ? make_private_dir(spool, &tmp, err) : apf_dataset_tmpdir(cfg, &tmp, err);
	if (rc)
		goto done;
	out = apf_xasprintf("%s/pages", tmp);
	{
		struct export_job job = { opt, out, res };
		rc = apf_dbwriter_run(writer, export_job_fn, &job, err);
	}
	if (rc) {
		apf_error_prefix(err, "cannot export dataset '%s'", opt->dataset);
		goto done;
	}
	if (!res->pages) {
		rc = apf_error(err, APF_ENOTFOUND,
			       "nothing to export to '%s': no page of md_raw_ocr.main.vw_argilla_pages matches "
			       "(run 'apflow ingest' and 'apflow ocr' first, or check --doc and --since)",
			       opt->dataset);
		goto done;
	}
	rc = upload_pages(store, opt, out, res->export_id, &keys, files, res, err);
	if (rc)
		goto done;
	rc = apf_store_sync(store, err);
	if (rc)
		goto done;
	/* The flip: one PUT makes the new export the current one. */
	iso_now(created);
	manifest = json_pack("{s:s, s:s, s:s, s:I, s:I, s:O}", "dataset", opt->dataset, "export_id", res->export_id,
			     "created_at", created, "pages", (json_int_t)res->pages, "documents",
			     (json_int_t)res->docs, "files", files);
	mtext = json_dumps(manifest, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	mkey = apf_dataset_key(opt->dataset, MANIFEST);
	rc = apf_store_put_buf(store, mkey, mtext, strlen(mtext), "application/json", err);
	if (rc)
		goto done;
	/* The clean-up: files of earlier exports (and of documents no longer
	 * exported).  A failure here leaves garbage, never a wrong export. */
	prefix = apf_dataset_key(opt->dataset, "pages/");
	if (!apf_store_list(store, prefix, collect_stale, &walk, err)) {
		for (size_t i = 0; i < walk.drop.n; i++) {
			struct apf_err derr;
			if (apf_store_delete_ex(store, walk.drop.v[i], APF_STORE_NO_SYNC, &derr))
				apf_log_warn("cannot remove '%s' of an earlier export: %s", walk.drop.v[i], derr.msg);
			else
				res->removed++;
		}
	} else {
		apf_log_warn("cannot list the earlier exports of '%s': %s", opt->dataset, err->msg);
		apf_err_clear(err);
	}
done:
	res->ms = apf_now_ms() - t0;
	if (tmp)
		apf_dataset_rmtree(tmp);
	for (size_t i = 0; i < keys.n; i++)
		free(keys.v[i]);
	free(keys.v);
	apf_list_free(walk.drop.v, walk.drop.n);
	json_decref(files);
	json_decref(manifest);
	free(mtext);
	free(mkey);
	free(prefix);
	free(out);
	free(tmp);
	free(spool);
	return rc;
}

/* ---- local copies ---- */

void apf_dataset_files_release(struct apf_dataset_files *f)
{
	if (f->dir)
		apf_dataset_rmtree(f->dir);
	free(f->dir);
	free(f->glob);
	free(f->list);
	memset(f, 0, sizeof(*f));
}

/* Gets key into path, making the directories on the way. */
static int fetch_one(struct apf_store *store, const char *key, const char *path, uint64_t *bytes,
		     struct apf_err *err)
{
	char *parent = apf_xstrdup(path);
	char *slash = strrchr(parent, '/');
	struct stat sb;
	int rc = 0;

	if (slash) {
		*slash = '\0';
		rc = apf_mkdirs(parent, 0700, err);
	}
	free(parent);
	if (!rc) {
		/* A private temporary copy: no temp name, no fsync. */
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return apf_error(err, APF_EIO, "cannot write '%s': %s", path, strerror(errno));
		rc = apf_store_get_fd(store, key, fd, err);
		if (close(fd) && !rc)
			rc = apf_error(err, APF_EIO, "cannot write '%s': %s", path, strerror(errno));
	}
	if (!rc && !stat(path, &sb))
		*bytes += (uint64_t)sb.st_size;
	return rc;
}

/* A manifest's file name: doc_id=<something>/<name>.parquet, nothing else. */
static int rel_ok(const char *rel)
{
	const char *slash = strchr(rel, '/');

	return apf_starts_with(rel, "doc_id=") && slash && !strchr(slash + 1, '/') && apf_ends_with(rel, ".parquet") &&
	       !strstr(rel, "..");
}

static int fetch_pages_once(struct apf_store *store, const char *dataset, struct apf_dataset_files *f,
			    struct apf_buf *list, struct apf_err *err)
{
	const char *local = apf_store_local_root(store);

	char *mkey = apf_dataset_key(dataset, MANIFEST), *data = NULL;
	size_t len = 0;
	json_t *root = NULL, *files;
	json_error_t jerr;
	int rc;

	rc = apf_store_get_buf(store, mkey, MANIFEST_MAX, &data, &len, err);
	if (rc == APF_ENOTFOUND) {
		rc = apf_error(err, APF_ENOTFOUND,
			       "dataset '%s' has no exported pages: run 'apflow export --dataset %s' first", dataset,
			       dataset);
		goto out;
	}
	if (rc)
		goto out;
	root = json_loadb(data, len, 0, &jerr);
	files = json_object_get(root, "files");
	if (!json_is_array(files) || !json_is_string(json_object_get(root, "export_id"))) {
		rc = apf_error(err, APF_EINVAL, "bad manifest '%s': no export_id or files", mkey);
		goto out;
	}
	apf_strlcpy(f->export_id, json_string_value(json_object_get(root, "export_id")), sizeof(f->export_id));
	for (size_t i = 0; !rc && i < json_array_size(files); i++) {
		const char *rel = json_string_value(json_array_get(files, i));
		char *tail, *key, *path;

		if (!rel || !rel_ok(rel)) {
			rc = apf_error(err, APF_EINVAL, "bad manifest '%s': file %zu is not doc_id=ID/NAME.parquet",
				       mkey, i);
			break;
		}
		tail = apf_xasprintf("pages/%s", rel);
		key = apf_dataset_key(dataset, tail);
		if (local) {
			/* In place: thousands of small files are not copied. */
			struct stat sb;
			path = apf_xasprintf("%s/%s", local, key);
			if (stat(path, &sb))
				rc = apf_error(err, APF_ENOTFOUND, "cannot read '%s': %s", path, strerror(errno));
			else
				f->bytes += (uint64_t)sb.st_size;
		} else {
			path = apf_xasprintf("%s/pages/%s", f->dir, rel);
			rc = fetch_one(store, key, path, &f->bytes, err);
		}
		if (!rc) {
			char *lit = apf_db_quote_literal(path);
			apf_buf_addf(list, "%s%s", f->n ? ", " : "[", lit);
			free(lit);
			f->n++;
		}
		free(path);
		free(key);
		free(tail);
	}
out:
	json_decref(root);
	free(data);
	free(mkey);
	return rc;
}

int apf_dataset_fetch_pages(const struct apf_config *cfg, struct apf_store *store, const char *dataset,
			    struct apf_dataset_files *files, struct apf_err *err)
{
	struct apf_buf list;
	int rc;

	apf_buf_init(&list, 0);
	memset(files, 0, sizeof(*files));
	rc = apf_dataset_tmpdir(cfg, &files->dir, err);
	/* A file gone under us: a new export flipped the manifest and
	 * removed the old files.  Read the new manifest. */
	for (int attempt = 0; !rc; attempt++) {
		char *sub = apf_xasprintf("%s/pages", files->dir);
		apf_dataset_rmtree(sub);
		free(sub);
		files->n = 0;
		files->bytes = 0;
		apf_buf_reset(&list);
		rc = fetch_pages_once(store, dataset, files, &list, err);
		if (rc != APF_ENOTFOUND || attempt == 2 || strstr(err->msg, "has no exported pages"))
			break;
		apf_err_clear(err);
		rc = 0;
	}
	if (!rc) {
		files->glob = apf_xasprintf("%s/pages/*/*.parquet", files->dir);
		files->in_place = apf_store_local_root(store) != NULL;
		apf_buf_adds(&list, files->n ? "]" : "[]");
		files->list = apf_buf_detach(&list, NULL);
	} else {
		apf_dataset_files_release(files);
	}
	apf_buf_release(&list);
	return rc;
}

struct prefix_walk {
	struct keyset keys;
};

static int collect_parquet(const struct apf_store_stat *st, void *arg)
{
	struct prefix_walk *w = arg;

	if (apf_ends_with(st->key, ".parquet")) {
		w->keys.v = apf_xrealloc(w->keys.v, (w->keys.n + 1) * sizeof(char *));
		w->keys.v[w->keys.n++] = apf_xstrdup(st->key);
	}
	return 0;
}

int apf_dataset_fetch_prefix(const struct apf_config *cfg, struct apf_store *store, const char *dataset,
			     const char *rest, struct apf_dataset_files *files, struct apf_err *err)
{
	char *prefix = apf_dataset_key(dataset, rest);
	size_t base = strlen(prefix) - strlen(rest);
	struct prefix_walk w = { { 0 } };
	int rc;

	memset(files, 0, sizeof(*files));
	rc = apf_dataset_tmpdir(cfg, &files->dir, err);
	if (!rc)
		rc = apf_store_list(store, prefix, collect_parquet, &w, err);
	for (size_t i = 0; !rc && i < w.keys.n; i++) {
		char *path = apf_xasprintf("%s/%s", files->dir, w.keys.v[i] + base);
		rc = fetch_one(store, w.keys.v[i], path, &files->bytes, err);
		/* A writer replacing its output removed this file meanwhile. */
		if (rc == APF_ENOTFOUND) {
			apf_err_clear(err);
			rc = 0;
		} else if (!rc) {
			files->n++;
		}
		free(path);
	}
	if (rc)
		apf_dataset_files_release(files);
	apf_list_free(w.keys.v, w.keys.n);
	free(prefix);
	return rc;
}
