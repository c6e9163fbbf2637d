/* cmd_panels.c: apflow panels [--name Q [--json|--csv]] [--grafana-dashboard FILE] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apflow/annotated.h"
#include "apflow/db.h"
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

static json_t *grafana_dashboard(const struct apf_named_queries *qs)
{
	json_t *panels = json_array();
	json_t *ds = json_pack("{s:s, s:s}", "type", GRAFANA_DS, "uid", "${DS_MOTHERDUCK}");

	for (size_t i = 0; i < qs->n; i++) {
		const struct apf_named_query *q = &qs->v[i];
		json_t *target = json_pack("{s:s, s:O, s:s, s:s, s:s}", "refId", "A", "datasource", ds,
					   "rawSql", q->sql, "format", "table", "editorMode", "code");
		json_t *options = json_object();
		if (q->x && !strcmp(q->chart, "bar"))
			json_object_set_new(options, "xField", json_string(q->x));
		if (q->x && !strcmp(q->chart, "line"))
			json_object_set_new(options, "xField", json_string(q->x));
		json_array_append_new(
			panels,
			json_pack("{s:I, s:s, s:s, s:s, s:{s:i, s:i, s:i, s:i}, s:O, s:[o], s:o, s:{s:{s:s?}}}",
				  "id", (json_int_t)(i + 1), "type", grafana_type(q->chart), "title", q->title,
				  "description", q->name, "gridPos", "h", 8, "w", 12, "x", (int)(i % 2) * 12, "y",
				  (int)(i / 2) * 8, "datasource", ds, "targets", target, "options", options,
				  "fieldConfig", "defaults", "unit", q->unit));
	}
	json_t *d = json_pack(
		"{s:[{s:s, s:s, s:s, s:s, s:s, s:s}], s:[{s:s, s:s, s:s, s:s}], s:n, s:s, s:s, s:[s, s], "
		"s:i, s:i, s:b, s:{s:s, s:s}, s:s, s:o}",
		"__inputs", "name", "DS_MOTHERDUCK", "label", "MotherDuck", "description",
		"the MotherDuck DuckDB data source, with md_raw_ocr and md_annotated attached", "type",
		"datasource", "pluginId", GRAFANA_DS, "pluginName", "MotherDuck DuckDB", "__requires", "type",
		"datasource", "id", GRAFANA_DS, "name", "MotherDuck DuckDB", "version", "0.2.0", "id", "uid",
		"apflow-annotations", "title", "apflow: ingestion, OCR and annotation", "tags", "apflow",
		"argilla", "schemaVersion", 39, "version", 1, "editable", 1, "time", "from", "now-30d", "to",
		"now", "refresh", "5m", "panels", panels);
	json_decref(ds);
	return d;
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
		json_t *d = grafana_dashboard(&qs);
		char *text = json_dumps(d, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(d);
		rc = apf_write_file_atomic(grafana, text, strlen(text), &err);
		if (!rc)
			printf("wrote '%s': a Grafana dashboard with %zu panels\n", grafana, qs.n);
		free(text);
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
