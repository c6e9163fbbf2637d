/* cmd_load.c: apflow load --dataset NAME [--parquet PATH|s3://...] [--json] */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apflow/buf.h"
#include "apflow/db.h"
#include "apflow/jsonw.h"
#include "apflow/labelset.h"
#include "apflow/migrate.h"
#include "apflow/progress.h"
#include "apflow/sqlfile.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "cmd/cmd.h"
#include "apflow/annotated.h"

const char cmd_load_usage[] =
	"usage: apflow load --dataset NAME [--parquet PATH|s3://BUCKET/KEY] [--json]\n"
	"\n"
	"Loads an Argilla export (the SDK's records layout: what 'apflow pull'\n"
	"writes, or a file exported with the Argilla SDK or from the Hub) into\n"
	"md_annotated: one export run (annotations_exports, from the sequence\n"
	"export_run_id_seq) with the file's URI and SHA-256, one annotations_pages\n"
	"row per record and annotator, one annotations_spans row per span, and the\n"
	"suggestions the export carries (annotations_suggestions), in one\n"
	"transaction.  It runs sql/motherduck/load_annotated_parquet.sql, then\n"
	"argilla_export_loader_from_staged.sql (both compiled in).\n"
	"\n"
	"  --dataset NAME   the Argilla dataset (required)\n"
	"  --parquet FILE   the file to load: a path, or s3://BUCKET/KEY (read with\n"
	"                   the s3_* settings); default: the newest pull in the store,\n"
	"                   argilla/out/NAME/<export_ts>/records.parquet\n"
	"  --json           print the result as one JSON object\n"
	"\n"
	"Every span is checked against its text: inside it, a label of the\n"
	"labelset, the record's page present in md_raw_ocr.main.pages.  Offsets\n"
	"that only fit as UTF-16 units (Argilla's web UI on text with emoji) are\n"
	"converted to code points and flagged (offsets_converted).  A file with\n"
	"any invalid row loads nothing; each bad row is listed on standard error.\n"
	"Loading a file already loaded (same SHA-256) changes nothing and says so;\n"
	"a new export of the dataset is a new export run.  The views\n"
	"vw_annotations_latest_pages and vw_annotations_latest_spans give the latest\n"
	"export of each dataset and page.\n"
	"\n"
	"Exit status: 0 loaded or already loaded, 1 invalid file or failure, 2 usage.\n";

#define ERRORS_SHOWN 50

struct source {
	char *uri;       /* shown and recorded: the path, or the s3:// or file:// URI */
	char *path;      /* the local file DuckDB reads */
	char *tmp;       /* a downloaded copy to remove, or NULL */
	char exported_at[32]; /* ISO 8601 from <export_ts>, or "" */
};

static void source_release(struct source *s)
{
	if (s->tmp)
		unlink(s->tmp);
	free(s->tmp);
	free(s->uri);
	free(s->path);
}

/* "20260102T100000Z" gives "2026-01-02T10:00:00Z"; anything else "". */
static void export_ts_iso(const char *ts, size_t n, char out[32])
{
	out[0] = '\0';
	if (n != 16 || ts[8] != 'T' || ts[15] != 'Z')
		return;
	for (size_t i = 0; i < 15; i++)
		if (i != 8 && !(ts[i] >= '0' && ts[i] <= '9'))
			return;
	snprintf(out, 32, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", ts, ts + 4, ts + 6, ts + 9, ts + 11,
		 ts + 13);
}

/* The export_ts segment before "/records.parquet" in a path or key. */
static void exported_at_of(const char *path, char out[32])
{
	const char *end = strstr(path, "/records.parquet");
	const char *seg;

	out[0] = '\0';
	if (!end || end[16] != '\0')
		return;
	for (seg = end; seg > path && seg[-1] != '/'; seg--)
		;
	export_ts_iso(seg, (size_t)(end - seg), out);
}

struct newest {
	const char *prefix;
	char *key;
	char ts[17];
};

static int find_newest(const struct apf_store_stat *st, void *arg)
{
	struct newest *nw = arg;
	const char *rest = st->key + strlen(nw->prefix);
	char iso[32];
	size_t n = strcspn(rest, "/");

	if (strcmp(rest + n, "/records.parquet"))
		return 0;
	export_ts_iso(rest, n, iso);
	if (!iso[0] || (nw->key && memcmp(rest, nw->ts, 16) <= 0))
		return 0;
	free(nw->key);
	nw->key = apf_xstrdup(st->key);
	memcpy(nw->ts, rest, 16);
	nw->ts[16] = '\0';
	return 0;
}

/* Makes key of store st a local file: the file itself on file://, else a
 * download into the data directory. */
static int local_copy(struct apf_store *st, const char *key, const struct apf_config *cfg,
		      struct source *src, struct apf_err *err)
{
	const char *url = apf_store_url(st);
	int rc;

	src->uri = apf_xasprintf("%s/%s", url, key);
	exported_at_of(key, src->exported_at);
	if (apf_starts_with(url, "file://")) {
		src->path = apf_xasprintf("%s/%s", url + 7, key);
		return 0;
	}
	rc = apf_mkdirs(apf_config_get(cfg, APF_CFG_DATA_DIR), 0755, err);
	if (rc)
		return rc;
	src->tmp = apf_xasprintf("%s/.apflow-load-%ld-%016" PRIx64 ".parquet",
				 apf_config_get(cfg, APF_CFG_DATA_DIR), (long)getpid(), apf_rand64());
	rc = apf_store_get_file(st, key, src->tmp, err);
	if (rc) {
		free(src->tmp);
		src->tmp = NULL;
		return rc;
	}
	src->path = apf_xstrdup(src->tmp);
	return 0;
}

static int resolve_source(const char *dataset, const char *parquet, struct apf_store *store,
			  const struct apf_config *cfg, struct source *src, struct apf_err *err)
{
	struct apf_store *st = NULL;
	int rc;

	if (parquet && apf_starts_with(parquet, "s3://")) {
		const char *bucket = parquet + 5, *slash = strchr(bucket, '/');
		char *root;
		if (!slash || !slash[1] || slash == bucket)
			return apf_error(err, APF_EUSAGE, "bad --parquet '%s': expected s3://BUCKET/KEY",
					 parquet);
		root = apf_xasprintf("s3://%.*s", (int)(slash - bucket), bucket);
		rc = apf_store_open_url(root, cfg, &st, err);
		free(root);
		if (!rc)
			rc = local_copy(st, slash + 1, cfg, src, err);
		apf_store_free(st);
		return rc;
	}
	if (parquet) {
		if (access(parquet, R_OK))
			return apf_error(err, APF_ENOTFOUND, "cannot read '%s': no such file", parquet);
		src->uri = apf_xstrdup(parquet);
		src->path = apf_xstrdup(parquet);
		exported_at_of(parquet, src->exported_at);
		return 0;
	}
	struct newest nw = { NULL, NULL, "" };
	char *prefix = apf_xasprintf("argilla/out/%s/", dataset);
	nw.prefix = prefix;
	/* The configured store, which main opened (NEED_STORE). */
	st = store;
	rc = apf_store_list(st, prefix, find_newest, &nw, err);
	if (!rc && !nw.key)
		rc = apf_error(err, APF_ENOTFOUND,
			       "no export of dataset '%s' in the store: nothing under '%s<export_ts>/records.parquet' (run 'apflow pull' first)",
			       dataset, prefix);
	if (!rc)
		rc = local_copy(st, nw.key, cfg, src, err);
	free(nw.key);
	free(prefix);
	return rc;
}

static char *labels_csv(void)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	struct apf_buf b;

	apf_buf_init(&b, 0);
	for (size_t i = 0; ls && i < ls->n; i++) {
		if (i)
			apf_buf_adds(&b, ",");
		apf_buf_adds(&b, ls->labels[i].name);
	}
	apf_buf_adds(&b, "");
	return apf_buf_detach(&b, NULL);
}

/* The columns no Argilla export lacks: the record's id and its text. */
static int check_columns(struct apf_db *db, const struct source *src, struct apf_err *err)
{
	static const char *const need[] = { "id", "text" };
	struct apf_db_result *r = NULL;
	int rc = apf_db_set_variable(db, "parquet", src->path, err);

	if (!rc)
		rc = apf_db_query(db,
				  "SELECT count(*) FILTER (WHERE name = 'id'), count(*) FILTER (WHERE name = 'text') "
				  "FROM parquet_schema(getvariable('parquet'))",
				  &r, err);
	if (rc)
		return apf_error_prefix(err, "cannot read '%s'", src->uri);
	for (size_t i = 0; i < 2 && !rc; i++)
		if (apf_db_result_i64(r, i, 0) == 0)
			rc = apf_error(err, APF_EINVAL,
				       "cannot load '%s': not an Argilla export: no column '%s'", src->uri, need[i]);
	apf_db_result_free(r);
	return rc;
}

/* Prints the rows of _load_errors; returns how many there are. */
static int64_t report_errors(struct apf_db *db, const char *uri, struct apf_err *err)
{
	struct apf_db_result *r = NULL;
	int64_t n = 0;

	if (apf_db_query(db,
			 "SELECT row_no, record_id, annotator, span_no, reason FROM _load_errors "
			 "ORDER BY row_no, annotator NULLS FIRST, span_no NULLS FIRST, reason",
			 &r, err))
		return -1;
	n = (int64_t)apf_db_result_rows(r);
	if (n)
		fprintf(stderr, "apflow: error: cannot load '%s': %" PRId64 " invalid row%s, nothing loaded\n",
			uri, n, n == 1 ? "" : "s");
	for (uint64_t i = 0; i < (uint64_t)n && i < ERRORS_SHOWN; i++) {
		char *rec = apf_db_result_text(r, 1, i), *who = apf_db_result_text(r, 2, i);
		char *why = apf_db_result_text(r, 4, i);
		fprintf(stderr, "  row %" PRId64 ", record '%s'", apf_db_result_i64(r, 0, i),
			rec ? rec : "(none)");
		if (who)
			fprintf(stderr, ", annotator '%s'", who);
		if (!apf_db_result_is_null(r, 3, i))
			fprintf(stderr, ", span %" PRId64, apf_db_result_i64(r, 3, i));
		fprintf(stderr, ": %s\n", why ? why : "");
		free(rec);
		free(who);
		free(why);
	}
	if (n > ERRORS_SHOWN)
		fprintf(stderr, "  ... and %" PRId64 " more\n", n - ERRORS_SHOWN);
	apf_db_result_free(r);
	return n;
}

int cmd_load(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, 'd' },
		{ "parquet", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dataset = NULL, *parquet = NULL;
	struct source src = { NULL, NULL, NULL, "" };
	struct apf_db *db = NULL;
	struct apf_db_result *res = NULL;
	struct apf_sql_stats stats = { 0, NULL };
	struct apf_err err;
	struct apf_progress *pb = NULL;
	char sha[APF_SHA256_HEX], *labels = NULL;
	int64_t before = 0, t0 = apf_now_ms();
	int json = 0, c, rc = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			dataset = optarg;
		else if (c == 'p')
			parquet = optarg;
		else if (c == 'j')
			json = 1;
		else if (optopt)
			return apf_cmd_usage_error("load", "option '%s' needs a value", argv[optind - 1]);
		else
			return apf_cmd_usage_error("load", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return apf_cmd_usage_error("load", "unexpected argument '%s'", argv[optind]);
	if (!dataset)
		return apf_cmd_usage_error("load", "--dataset is required");
	if (!apf_dataset_name_valid(dataset))
		return apf_cmd_usage_error("load", "bad dataset name '%s': expected [A-Za-z0-9_.-]+", dataset);

	apf_err_clear(&err);
	/* Three steps: hash the file, read and check it, write it. */
	pb = apf_progress_new("load", "steps", 3, ctx->stderr_tty);
	apf_progress_update(pb, 0, "sha256");
	rc = resolve_source(dataset, parquet, ctx->store, &ctx->cfg, &src, &err);
	if (!rc)
		rc = apf_sha256_file(src.path, sha, NULL, &err);
	if (!rc)
		/* One thread: the load is a chain of set-based statements that
		 * DuckDB's pool mostly cannot split, and its idle worker spins:
		 * 40% less CPU for a 1,000,000-span export (bench/load.sh). */
		rc = apf_annotated_open(&ctx->cfg, APF_DB_ONE_THREAD, &db, &err);
	if (rc)
		goto fail;

	/* The same bytes again: say so before reading anything. */
	struct apf_db_stmt *st = NULL;
	rc = apf_db_prepare(db, "SELECT export_run_id FROM md_annotated.main.annotations_exports "
				"WHERE source_sha256 = $1", &st, &err);
	if (!rc) {
		apf_db_bind_text(st, 1, sha);
		rc = apf_db_stmt_exec(st, &res, &err);
	}
	apf_db_stmt_free(st);
	if (rc)
		goto fail;
	if (apf_db_result_rows(res)) {
		apf_progress_end(pb, NULL, NULL);
		pb = NULL;
		before = apf_db_result_i64(res, 0, 0);
		if (json)
			printf("{\"export_run_id\":%" PRId64 ",\"already_loaded\":true,\"source_sha256\":\"%s\"}\n",
			       before, sha);
		else
			printf("'%s' is already loaded as export run %" PRId64 " (sha256 %.12s); nothing to do\n",
			       src.uri, before, sha);
		goto out;
	}
	apf_db_result_free(res);
	res = NULL;

	apf_progress_update(pb, 1, "reading and checking");
	rc = check_columns(db, &src, &err);
	if (rc)
		goto fail;
	labels = labels_csv();
	const struct apf_sql_param params[] = {
		{ "parquet", src.path },
		{ "dataset", dataset },
		{ "labels", labels },
		{ "source_uri", src.uri },
		{ "source_sha256", sha },
		{ "exported_at", src.exported_at[0] ? src.exported_at : NULL },
	};
	size_t nparams = sizeof(params) / sizeof(params[0]) - (src.exported_at[0] ? 0 : 1);
	rc = apf_annotated_run_asset(db, "load_annotated_parquet.sql", params, nparams, NULL, &err);
	if (rc) {
		apf_error_prefix(&err, "cannot read '%s'", src.uri);
		goto fail;
	}
	apf_progress_clear(pb); /* the bad rows, if any, come next */
	int64_t nbad = report_errors(db, src.uri, &err);
	if (nbad < 0) {
		rc = err.code;
		goto fail;
	}
	if (nbad > 0) {
		rc = 1;
		goto out;
	}
	apf_progress_update(pb, 2, "writing");
	rc = apf_annotated_run_asset(db, "argilla_export_loader_from_staged.sql", params, nparams,
				     &stats, &err);
	apf_progress_end(pb, NULL, NULL);
	pb = NULL;
	if (rc) {
		apf_db_rollback(db);
		apf_error_prefix(&err, "cannot load '%s'", src.uri);
		goto fail;
	}
	res = stats.last_result;
	stats.last_result = NULL;
	if (!res || apf_db_result_rows(res) != 1) {
		rc = apf_error(&err, APF_EINTERNAL, "cannot load '%s': the loader returned no run", src.uri);
		goto fail;
	}
	{
		int64_t run = apf_db_result_i64(res, 0, 0), pages = apf_db_result_i64(res, 2, 0);
		int64_t spans = apf_db_result_i64(res, 3, 0), records = apf_db_result_i64(res, 4, 0);
		int64_t conv = apf_db_result_i64(res, 5, 0), sugg = apf_db_result_i64(res, 6, 0);
		char *already = apf_db_result_text(res, 1, 0);
		int was = already && !strcmp(already, "true");
		free(already);
		if (json) {
			struct apf_jsonw jw;
			apf_jsonw_init(&jw, 0, 0);
			apf_jsonw_object_begin(&jw);
			apf_jsonw_object_int(&jw, "export_run_id", run);
			apf_jsonw_object_bool(&jw, "already_loaded", was);
			apf_jsonw_object_string(&jw, "dataset", dataset);
			apf_jsonw_object_string(&jw, "source_uri", src.uri);
			apf_jsonw_object_string(&jw, "source_sha256", sha);
			apf_jsonw_object_int(&jw, "records", records);
			apf_jsonw_object_int(&jw, "pages", pages);
			apf_jsonw_object_int(&jw, "spans", spans);
			apf_jsonw_object_int(&jw, "converted_spans", conv);
			apf_jsonw_object_int(&jw, "suggestions", sugg);
			apf_jsonw_object_int(&jw, "ms", apf_now_ms() - t0);
			apf_jsonw_end(&jw);
			rc = apf_cmd_print_json(&jw);
		} else if (was) {
			printf("'%s' is already loaded as export run %" PRId64 "; nothing to do\n", src.uri, run);
		} else {
			printf("loaded '%s' as export run %" PRId64 ": %" PRId64 " records, %" PRId64
			       " annotated pages, %" PRId64 " spans (%" PRId64
			       " converted from UTF-16 offsets), %" PRId64 " suggestions in %.1f s\n",
			       src.uri, run, records, pages, spans, conv, sugg,
			       (double)(apf_now_ms() - t0) / 1000.0);
		}
	}
	goto out;
fail:
	rc = apf_cmd_fail_progress(&pb, &err);
out:
	apf_progress_end(pb, NULL, NULL);
	apf_db_result_free(res);
	apf_db_result_free(stats.last_result);
	apf_db_close(db);
	source_release(&src);
	free(labels);
	return rc;
}
