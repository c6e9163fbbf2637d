/* cmd_panels.c: apflow panels [--name Q [--json|--csv]] [--grafana-dashboard FILE] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/annotated.h"
#include "apflow/db.h"
#include "apflow/jsonw.h"
#include "apflow/sqlfile.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

#define PANELS_SQL "grafana_panels.sql"
#define GRAFANA_DS "motherduck-duckdb-datasource"

const char cmd_panels_usage[] =
	"usage: apflow panels [--list]\n"
	"       apflow panels --name NAME [--json | --csv]\n"
	"       apflow panels --grafana-dashboard FILE\n"
	"\n"
	"The dashboard's queries (sql/motherduck/grafana_panels.sql, compiled in):\n"
	"documents and pages ingested per day, OCR coverage, engine mix, labels\n"
	"suggested and annotated, annotator throughput, suggestion precision and\n"
	"recall per agent and label, suggestion F1 per export run, documents per\n"
	"stage.  'apflow serve' draws the same queries at /dashboard.\n"
	"\n"
	"  --list                    name and title of each query (the default)\n"
	"  --name NAME               run one query and print its rows: an aligned\n"
	"                            table, or --json (an array of objects) or --csv\n"
	"  --grafana-dashboard FILE  write a Grafana dashboard (JSON, written\n"
	"                            atomically) with one panel per query, on the\n"
	"                            MotherDuck DuckDB data source (" GRAFANA_DS "),\n"
	"                            chosen when the dashboard is imported\n"
	"\n"
	"Exit status: 0 done, 1 failure (unknown query, SQL error), 2 usage.\n";

static const char *grafana_type(const char *chart)
{
	if (!strcmp(chart, "bar"))
		return "barchart";
	if (!strcmp(chart, "line"))
		return "trend";
	if (!strcmp(chart, "stat"))
		return "stat";
	return "table";
}

static void grafana_datasource(struct apf_jsonw *jw)
{
	apf_jsonw_object_object(jw, "datasource");
	apf_jsonw_object_string(jw, "type", GRAFANA_DS);
	apf_jsonw_object_string(jw, "uid", "${DS_MOTHERDUCK}");
	apf_jsonw_end(jw);
}

/* The dashboard as Grafana exports one for sharing (__inputs names the
 * data source chosen at import). */
static void grafana_dashboard(struct apf_jsonw *jw, const struct apf_named_queries *qs)
{
	apf_jsonw_object_begin(jw);
	apf_jsonw_object_array(jw, "__inputs");
	apf_jsonw_object_begin(jw);
	apf_jsonw_object_string(jw, "name", "DS_MOTHERDUCK");
	apf_jsonw_object_string(jw, "label", "MotherDuck");
	apf_jsonw_object_string(jw, "description",
				"the MotherDuck DuckDB data source, with md_raw_ocr and md_annotated attached");
	apf_jsonw_object_string(jw, "type", "datasource");
	apf_jsonw_object_string(jw, "pluginId", GRAFANA_DS);
	apf_jsonw_object_string(jw, "pluginName", "MotherDuck DuckDB");
	apf_jsonw_end(jw);
	apf_jsonw_end(jw);
	apf_jsonw_object_array(jw, "__requires");
	apf_jsonw_object_begin(jw);
	apf_jsonw_object_string(jw, "type", "datasource");
	apf_jsonw_object_string(jw, "id", GRAFANA_DS);
	apf_jsonw_object_string(jw, "name", "MotherDuck DuckDB");
	apf_jsonw_object_string(jw, "version", "0.2.0");
	apf_jsonw_end(jw);
	apf_jsonw_end(jw);
	apf_jsonw_object_null(jw, "id");
	apf_jsonw_object_string(jw, "uid", "apflow-annotations");
	apf_jsonw_object_string(jw, "title", "apflow: ingestion, OCR and annotation");
	apf_jsonw_object_array(jw, "tags");
	apf_jsonw_array_string(jw, "apflow");
	apf_jsonw_array_string(jw, "argilla");
	apf_jsonw_end(jw);
	apf_jsonw_object_int(jw, "schemaVersion", 39);
	apf_jsonw_object_int(jw, "version", 1);
	apf_jsonw_object_bool(jw, "editable", 1);
	apf_jsonw_object_object(jw, "time");
	apf_jsonw_object_string(jw, "from", "now-30d");
	apf_jsonw_object_string(jw, "to", "now");
	apf_jsonw_end(jw);
	apf_jsonw_object_string(jw, "refresh", "5m");
	apf_jsonw_object_array(jw, "panels");
	for (size_t i = 0; i < qs->n; i++) {
		const struct apf_named_query *q = &qs->v[i];
		apf_jsonw_object_begin(jw);
		apf_jsonw_object_int(jw, "id", (int64_t)i + 1);
		apf_jsonw_object_string(jw, "type", grafana_type(q->chart));
		apf_jsonw_object_string(jw, "title", q->title);
		apf_jsonw_object_string(jw, "description", q->name);
		apf_jsonw_object_object(jw, "gridPos");
		apf_jsonw_object_int(jw, "h", 8);
		apf_jsonw_object_int(jw, "w", 12);
		apf_jsonw_object_int(jw, "x", (int64_t)(i % 2) * 12);
		apf_jsonw_object_int(jw, "y", (int64_t)(i / 2) * 8);
		apf_jsonw_end(jw);
		grafana_datasource(jw);
		apf_jsonw_object_array(jw, "targets");
		apf_jsonw_object_begin(jw);
		apf_jsonw_object_string(jw, "refId", "A");
		grafana_datasource(jw);
		apf_jsonw_object_string(jw, "rawSql", q->sql);
		apf_jsonw_object_string(jw, "format", "table");
		apf_jsonw_object_string(jw, "editorMode", "code");
		apf_jsonw_end(jw);
		apf_jsonw_end(jw);
		apf_jsonw_object_object(jw, "options");
		if (q->x && (!strcmp(q->chart, "bar") || !strcmp(q->chart, "line")))
			apf_jsonw_object_string(jw, "xField", q->x);
		apf_jsonw_end(jw);
		apf_jsonw_object_object(jw, "fieldConfig");
		apf_jsonw_object_object(jw, "defaults");
		apf_jsonw_object_string(jw, "unit", q->unit);
		apf_jsonw_end(jw);
		apf_jsonw_end(jw);
		apf_jsonw_end(jw);
	}
	apf_jsonw_end(jw);
	apf_jsonw_end(jw);
}

int cmd_panels(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "list", no_argument, NULL, 'l' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'c' },
		{ "grafana-dashboard", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	struct apf_named_queries qs = { NULL, 0 };
	struct apf_sql_stats stats = { 0, NULL };
	struct apf_db *db = NULL;
	struct apf_err err;
	const char *name = NULL, *grafana = NULL;
	int json = 0, csv = 0, c, rc = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': break;
		case 'n': name = optarg; break;
		case 'j': json = 1; break;
		case 'c': csv = 1; break;
		case 'g': grafana = optarg; break;
		default:
			if (optopt)
				return apf_cmd_usage_error("panels", "option '%s' needs a value", argv[optind - 1]);
			return apf_cmd_usage_error("panels", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return apf_cmd_usage_error("panels", "unexpected argument '%s'", argv[optind]);
	if (json && csv)
		return apf_cmd_usage_error("panels", "--json and --csv exclude each other");
	if (name && grafana)
		return apf_cmd_usage_error("panels", "--name and --grafana-dashboard exclude each other");
	if ((json || csv) && !name)
		return apf_cmd_usage_error("panels", "--json and --csv go with --name");

	apf_err_clear(&err);
	rc = apf_named_queries_load(PANELS_SQL, &qs, &err);
	if (rc)
		return apf_cmd_fail(&err);
	if (grafana) {
		struct apf_jsonw jw;
		apf_jsonw_init(&jw, 2, 0);
		grafana_dashboard(&jw, &qs);
		if (!apf_jsonw_ok(&jw))
			rc = apf_error(&err, APF_EINTERNAL, "cannot write '%s': the dashboard is too large", grafana);
		else
			rc = apf_write_file_atomic(grafana, jw.buf.data, jw.buf.len, &err);
		if (!rc)
			printf("wrote '%s': a Grafana dashboard with %zu panels\n", grafana, qs.n);
		apf_jsonw_release(&jw);
		if (rc)
			rc = apf_cmd_fail(&err);
		goto out;
	}
	if (!name) {
		for (size_t i = 0; i < qs.n; i++)
			printf("%-24s %s\n", qs.v[i].name, qs.v[i].title);
		goto out;
	}
	const struct apf_named_query *q = apf_named_queries_find(&qs, name);
	if (!q) {
		rc = apf_error(&err, APF_ENOTFOUND, "no panel query '%s' (see 'apflow panels --list')", name);
		rc = apf_cmd_fail(&err);
		goto out;
	}
	rc = apf_annotated_open(&ctx->cfg, 0, &db, &err);
	if (!rc)
		rc = apf_sql_run_text(db, q->name, q->sql, NULL, 0, 1, &stats, &err);
	if (rc) {
		rc = apf_cmd_fail(&err);
		goto out;
	}
	if (stats.last_result)
		apf_cmd_print_result(stats.last_result, csv, json);
out:
	apf_db_result_free(stats.last_result);
	apf_db_close(db);
	apf_named_queries_release(&qs);
	return rc;
}
