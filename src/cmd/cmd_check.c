/* cmd_check.c: apflow check [--json] [--stuck-hours N] */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apflow/annotated.h"
#include "apflow/buf.h"
#include "apflow/db.h"
#include "apflow/ingest.h"
#include "apflow/jsonw.h"
#include "apflow/labelset.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

const char cmd_check_usage[] =
	"usage: apflow check [--json] [--stuck-hours N]\n"
	"\n"
	"Checks the warehouse's invariants (sql/motherduck/checks_integrity.sql,\n"
	"compiled in) and prints one row per check: name, status (ok, warn or\n"
	"fail), how many rows break it and up to 5 of their ids.\n"
	"\n"
	"  coverage            every document OCR has read has all its pages\n"
	"  page_sha256         every page's text_sha256 is the SHA-256 of its text\n"
	"  orphan_annotations  no annotation without its page, no span without its annotation\n"
	"  stale_annotations   the latest annotations were made on the current page text\n"
	"  spans_valid         spans inside their text, naming its characters, labels of the labelset\n"
	"  duplicate_spans     no span loaded twice (same run, page, annotator, offsets, label)\n"
	"  suggestions_pages   suggestions (the store's argilla/in/*/suggestions/ Parquet and\n"
	"                      those loaded exports carry) refer to pages that exist\n"
	"  empty_exports       every export run holds the pages and spans it recorded (warn: no records)\n"
	"  stuck_documents     no document waits for OCR longer than --stuck-hours (default 24)\n"
	"  store_reconcile     every PDF in the store's raw/ has its documents row and is\n"
	"                      what its name says (a dry run of what 'apflow serve' repairs)\n"
	"\n"
	"  --json           print a JSON array of {check, status, count, examples, description}\n"
	"  --stuck-hours N  how long a document may wait for OCR\n"
	"\n"
	"Run it daily from cron or CI, for instance:\n"
	"  17 6 * * *  cd /srv/apflow && apflow check >>check.log 2>&1 || mail -s 'apflow check failed' ops\n"
	"\n"
	"Exit status: 0 every check ok or warn, 1 a check failed (or the checks\n"
	"could not run), 2 usage.\n";

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

/* Fills _store_suggestions from the store's suggestions Parquet files. */
static int load_store_suggestions(struct apf_db *db, struct apf_store *store,
				  const struct apf_config *cfg, char **tmp_dir, struct apf_err *err)
{
	struct sugg_files sf;
	char *sql = NULL;
	int rc;

	memset(&sf, 0, sizeof(sf));
	sf.err = err;
	apf_buf_init(&sf.list, 0);
	sf.st = store; /* main opened it (NEED_STORE) */
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

/* The store_reconcile row: apf_ingest_reconcile() in a dry run, an object
 * in raw/ without its documents row or with bytes that are not what its
 * name says fails it. */
struct recon {
	struct apf_buf examples;
	int n;
};

static void on_object(const char *key, int rc, const char *why, void *arg)
{
	struct recon *rc_ = arg;

	(void)rc;
	(void)why;
	if (rc_->n++ < 5)
		apf_buf_addf(&rc_->examples, "%s%s", rc_->n > 1 ? "," : "", key);
}

static int reconcile_row(struct apf_ctx *ctx, struct recon *out, struct apf_err *err)
{
	struct apf_ingest *ing = NULL;
	struct apf_ingest_reconcile r;
	int rc = apf_ingest_new(&ctx->cfg, ctx->store, ctx->writer, &ing, err);

	apf_buf_init(&out->examples, 0);
	apf_buf_adds(&out->examples, "");
	out->n = 0;
	if (!rc)
		rc = apf_ingest_reconcile(ing, ctx->store, ctx->writer, 1, on_object, out, &r, err);
	apf_ingest_free(ing);
	if (!rc && (uint64_t)out->n < r.missing + r.bad)
		out->n = (int)(r.missing + r.bad);
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

/* One check as {check, status, count, examples, description}; examples is
 * the comma-separated list ex (NULL: none) as an array. */
static void check_json(struct apf_jsonw *jw, const char *name, const char *status, int64_t count, const char *ex,
		       const char *desc)
{
	apf_jsonw_object_begin(jw);
	apf_jsonw_object_string(jw, "check", name);
	apf_jsonw_object_string(jw, "status", status);
	apf_jsonw_object_int(jw, "count", count);
	apf_jsonw_object_array(jw, "examples");
	for (const char *p = ex; p && *p;) {
		size_t len = strcspn(p, ",");
		apf_jsonw_array_stringn(jw, p, len);
		p += len + (p[len] == ',');
	}
	apf_jsonw_end(jw);
	apf_jsonw_object_string(jw, "description", desc);
	apf_jsonw_end(jw);
}

int cmd_check(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "stuck-hours", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct apf_sql_stats stats = { 0, NULL };
	struct apf_db *db = NULL;
	struct apf_err err;
	const char *stuck = "24";
	char *labels = NULL, *tmp_dir = NULL;
	int json = 0, c, rc;
	int64_t v;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 's') {
			if (apf_parse_i64(optarg, &v) || v < 0 || v > 100000)
				return apf_cmd_usage_error("check", "bad --stuck-hours '%s': expected hours, 0-100000", optarg);
			stuck = optarg;
		} else if (optopt) {
			return apf_cmd_usage_error("check", "option '%s' needs a value", argv[optind - 1]);
		} else {
			return apf_cmd_usage_error("check", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return apf_cmd_usage_error("check", "unexpected argument '%s'", argv[optind]);

	apf_err_clear(&err);
	labels = labels_csv();
	const struct apf_sql_param params[] = { { "labels", labels }, { "stuck_hours", stuck } };
	rc = apf_annotated_open(&ctx->cfg, 0, &db, &err);
	if (!rc)
		rc = load_store_suggestions(db, ctx->store, &ctx->cfg, &tmp_dir, &err);
	if (!rc)
		rc = apf_annotated_run_asset(db, "checks_integrity.sql", params, 2, &stats, &err);
	apf_db_close(db);
	remove_tmp_dir(tmp_dir);
	free(labels);
	struct recon recon = { APF_BUF_INIT, 0 };
	if (!rc)
		rc = reconcile_row(ctx, &recon, &err);
	if (rc) {
		apf_buf_release(&recon.examples);
		apf_db_result_free(stats.last_result);
		return apf_cmd_fail(&err);
	}

	struct apf_db_result *r = stats.last_result;
	uint64_t n = r ? apf_db_result_rows(r) : 0;
	int fails = 0, warns = 0;
	struct apf_jsonw jw;
	apf_jsonw_init(&jw, 1, 0);
	apf_jsonw_array_begin(&jw);
	if (!json)
		printf("%-20s %-6s %8s  %s\n", "check", "status", "count", "examples");
	for (uint64_t i = 0; i < n; i++) {
		char *name = apf_db_result_text(r, 0, i), *status = apf_db_result_text(r, 1, i);
		char *ex = apf_db_result_text(r, 3, i), *desc = apf_db_result_text(r, 4, i);
		int64_t count = apf_db_result_i64(r, 2, i);
		fails += !strcmp(status, "fail");
		warns += !strcmp(status, "warn");
		if (json) {
			check_json(&jw, name, status, count, ex, desc);
		} else {
			printf("%-20s %-6s %8" PRId64 "%s%s\n", name, status, count, ex && *ex ? "  " : "",
			       ex ? ex : "");
		}
		free(name);
		free(status);
		free(ex);
		free(desc);
	}
	{
		const char *status = recon.n ? "fail" : "ok";
		const char *ex = recon.examples.data ? recon.examples.data : "";
		fails += recon.n > 0;
		n++;
		if (json) {
			check_json(&jw, "store_reconcile", status, recon.n, ex,
				   "every PDF in the store's raw/ has its documents row and is what its name says");
		} else {
			printf("%-20s %-6s %8d%s%s\n", "store_reconcile", status, recon.n, *ex ? "  " : "", ex);
		}
		apf_buf_release(&recon.examples);
	}
	if (json) {
		apf_jsonw_end(&jw);
		if (apf_cmd_print_json(&jw))
			fails++;
	} else {
		printf("%" PRIu64 " checks: %" PRIu64 " ok, %d warn, %d fail\n", n,
		       n - (uint64_t)fails - (uint64_t)warns, warns, fails);
	}
	apf_jsonw_release(&jw);
	apf_db_result_free(r);
	return fails ? 1 : 0;
}
