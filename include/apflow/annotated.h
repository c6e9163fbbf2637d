/*
 * annotated.h: what load, check, panels, learn and the dashboard share:
 * opening the warehouse with its schema up to date, running the SQL files
 * compiled into the binary, and the named queries of grafana_panels.sql.
 */
#ifndef APFLOW_ANNOTATED_H
#define APFLOW_ANNOTATED_H

#include <stddef.h>

#include "apflow/config.h"
#include "apflow/db.h"
#include "apflow/err.h"
#include "apflow/sqlfile.h"

/* apf_db_open_ex(cfg, flags) and then the pending migrations (the first
 * use of a warehouse creates it, as 'apflow init' would). */
int apf_annotated_open(const struct apf_config *cfg, unsigned flags, struct apf_db **out,
		       struct apf_err *err);

/* Runs the compiled-in sql/motherduck/<name> (apf_sql_run_text); a name
 * that is not compiled in is APF_EINTERNAL. */
int apf_annotated_run_asset(struct apf_db *db, const char *name, const struct apf_sql_param *params,
			    size_t nparams, struct apf_sql_stats *stats, struct apf_err *err);

/* 1 when name may be an Argilla dataset and a store key segment:
 * [A-Za-z0-9_.-]{1,128}, not starting with '.'. */
int apf_dataset_name_valid(const char *name);

/*
 * Named queries: a file of statements each preceded by a comment line
 * "-- name: NAME" (grafana_panels.sql, checks_integrity.sql).  Other
 * comment lines between the name and the statement are its description:
 * "-- title: ...", "-- chart: bar|line|table|stat", "-- x: COLUMN",
 * "-- y: COLUMN[,COLUMN]", "-- unit: ...".
 */
struct apf_named_query {
	char *name;
	char *title;  /* or the name */
	char *chart;  /* "table" unless given */
	char *x, *y, *unit; /* may be NULL */
	char *sql;    /* the statement, without the final ';' */
};
struct apf_named_queries {
	struct apf_named_query *v;
	size_t n;
};
/* Parses the compiled-in file called asset.  APF_EINTERNAL when it is not
 * compiled in or a name is duplicated. */
int apf_named_queries_load(const char *asset, struct apf_named_queries *out, struct apf_err *err);
void apf_named_queries_release(struct apf_named_queries *q);
const struct apf_named_query *apf_named_queries_find(const struct apf_named_queries *q,
						     const char *name);

/* Runs the named query q on db and gives its result as compact JSON text
 * in *out (free it): {"name", "title", "chart", "x", "y", "unit",
 * "columns": [{"name", "type"}], "rows": [[...]]}, numbers as numbers
 * (doubles in their shortest round-trip form: 66.7, not
 * 66.700000000000003), NULL as null. */
int apf_named_query_json(struct apf_db *db, const struct apf_named_query *q, char **out,
			 struct apf_err *err);

#endif
