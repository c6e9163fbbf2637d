/* annotated.c: shared by load, check, panels, learn and the dashboard (see annotated.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/annotated.h"
#include "apflow/jsonw.h"
#include "apflow/migrate.h"
#include "apflow/util.h"

int apf_annotated_open(const struct apf_config *cfg, unsigned flags, struct apf_db **out,
		       struct apf_err *err)
{
	struct apf_db *db = NULL;
	int rc = apf_db_open_ex(cfg, flags, &db, err);

	if (!rc && !(flags & APF_DB_READONLY))
		rc = apf_migrate(db, 0, NULL, NULL, err);
	if (rc) {
		apf_db_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

int apf_annotated_run_asset(struct apf_db *db, const char *name, const struct apf_sql_param *params,
			    size_t nparams, struct apf_sql_stats *stats, struct apf_err *err)
{
	const struct apf_asset *a = apf_sql_asset_find(name);

	if (!a)
		return apf_error(err, APF_EINTERNAL, "'%s' is not compiled into apflow", name);
	return apf_sql_run_text(db, name, (const char *)a->data, params, nparams, stats != NULL,
				stats, err);
}

int apf_dataset_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 128 || name[0] == '.')
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static char *trimmed(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return apf_xstrndup(s, n);
}

static void query_release(struct apf_named_query *q)
{
	free(q->name);
	free(q->title);
	free(q->chart);
	free(q->x);
	free(q->y);
	free(q->unit);
	free(q->sql);
}

/* Ends the query being read: its SQL is the text since its header, less
 * blank space and the final ';'. */
static void finish_query(struct apf_named_query *q, const char *from, const char *to)
{
	while (from < to && strchr(" \t\r\n", *from))
		from++;
	while (to > from && strchr(" \t\r\n;", to[-1]))
		to--;
	q->sql = apf_xstrndup(from, (size_t)(to - from));
	if (!q->title)
		q->title = apf_xstrdup(q->name);
	if (!q->chart)
		q->chart = apf_xstrdup("table");
}

int apf_named_queries_load(const char *asset, struct apf_named_queries *out, struct apf_err *err)
{
	const struct apf_asset *a = apf_sql_asset_find(asset);
	struct apf_named_queries qs = { NULL, 0 };
	struct apf_named_query *cur = NULL;
	const char *p, *body = NULL;

	if (!a)
		return apf_error(err, APF_EINTERNAL, "'%s' is not compiled into apflow", asset);
	for (p = (const char *)a->data; *p;) {
		const char *eol = p + strcspn(p, "\n");
		const char *v = p + 2 + strspn(p + 2, " \t");
		int is_comment = p[0] == '-' && p[1] == '-';

		if (is_comment && !strncmp(v, "name:", 5)) {
			if (cur)
				finish_query(cur, body, p);
			qs.v = apf_xrealloc(qs.v, (qs.n + 1) * sizeof(*qs.v));
			cur = &qs.v[qs.n++];
			memset(cur, 0, sizeof(*cur));
			cur->name = trimmed(v + 5, (size_t)(eol - v - 5));
			for (size_t i = 0; i + 1 < qs.n; i++) {
				if (!strcmp(qs.v[i].name, cur->name)) {
					finish_query(cur, p, p);
					apf_named_queries_release(&qs);
					return apf_error(err, APF_EINTERNAL, "'%s': query '%.*s' is named twice",
							 asset, (int)(eol - v - 5), v + 5);
				}
			}
			body = *eol ? eol + 1 : eol;
		} else if (cur && is_comment && body == p) {
			static const char *const keys[] = { "title:", "chart:", "x:", "y:", "unit:" };
			char **slots[] = { &cur->title, &cur->chart, &cur->x, &cur->y, &cur->unit };
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
				size_t kl = strlen(keys[k]);
				if (!strncmp(v, keys[k], kl) && !*slots[k]) {
					*slots[k] = trimmed(v + kl, (size_t)(eol - v - kl));
					break;
				}
			}
			body = *eol ? eol + 1 : eol; /* the header goes on */
		}
		p = *eol ? eol + 1 : eol;
	}
	if (cur)
		finish_query(cur, body, p);
	*out = qs;
	return 0;
}

void apf_named_queries_release(struct apf_named_queries *q)
{
	for (size_t i = 0; i < q->n; i++)
		query_release(&q->v[i]);
	free(q->v);
	q->v = NULL;
	q->n = 0;
}

const struct apf_named_query *apf_named_queries_find(const struct apf_named_queries *q,
						     const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (!strcmp(q->v[i].name, name))
			return &q->v[i];
	return NULL;
}

/* The comma-separated names in s as elements of the open array. */
static void csv_list(struct apf_jsonw *jw, const char *s)
{
	for (const char *p = s; p && *p;) {
		size_t n = strcspn(p, ",");
		apf_jsonw_array_stringn(jw, p, n);
		p += n + (p[n] == ',');
	}
}

/* A number as DuckDB prints it, as a JSON number when JSON can hold it
 * (doubles in their shortest round-trip form, apf_jsonw_fmt_double), else
 * as the string DuckDB gave (inf, nan, an integer past 64 bits). */
static void number_json(struct apf_jsonw *jw, const char *text, int integer)
{
	char *end;

	if (integer) {
		long long v = strtoll(text, &end, 10);
		if (!*end && end != text) {
			apf_jsonw_array_int(jw, v);
			return;
		}
	} else {
		double d = strtod(text, &end);
		if (!*end && end != text && isfinite(d)) {
			apf_jsonw_array_double(jw, d);
			return;
		}
	}
	apf_jsonw_array_string(jw, text);
}

int apf_named_query_json(struct apf_db *db, const struct apf_named_query *q, char **out,
			 struct apf_err *err)
{
	static const char *const types[] = { "other", "text", "int", "real", "bool" };
	struct apf_sql_stats stats = { 0, NULL };
	struct apf_db_result *r;
	struct apf_jsonw jw;
	int rc = apf_sql_run_text(db, q->name, q->sql, NULL, 0, 1, &stats, err);

	if (rc)
		return rc;
	r = stats.last_result;
	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_object_begin(&jw);
	apf_jsonw_object_string(&jw, "name", q->name);
	apf_jsonw_object_string(&jw, "title", q->title);
	apf_jsonw_object_string(&jw, "chart", q->chart);
	apf_jsonw_object_string(&jw, "x", q->x);
	apf_jsonw_object_array(&jw, "y");
	csv_list(&jw, q->y);
	apf_jsonw_end(&jw);
	apf_jsonw_object_string(&jw, "unit", q->unit);
	apf_jsonw_object_array(&jw, "columns");
	for (uint64_t c = 0; r && c < apf_db_result_cols(r); c++) {
		apf_jsonw_object_begin(&jw);
		apf_jsonw_object_string(&jw, "name", apf_db_result_colname(r, c));
		apf_jsonw_object_string(&jw, "type", types[apf_db_result_coltype(r, c)]);
		apf_jsonw_end(&jw);
	}
	apf_jsonw_end(&jw);
	apf_jsonw_object_array(&jw, "rows");
	for (uint64_t i = 0; r && i < apf_db_result_rows(r); i++) {
		apf_jsonw_array_begin(&jw);
		for (uint64_t c = 0; c < apf_db_result_cols(r); c++) {
			enum apf_db_coltype t = apf_db_result_coltype(r, c);
			char *text = apf_db_result_text(r, c, i);
			if (!text)
				apf_jsonw_array_null(&jw);
			else if (t == APF_DB_COL_INT || t == APF_DB_COL_REAL)
				number_json(&jw, text, t == APF_DB_COL_INT);
			else if (t == APF_DB_COL_BOOL)
				apf_jsonw_array_bool(&jw, !strcmp(text, "true"));
			else
				apf_jsonw_array_string(&jw, text);
			free(text);
		}
		apf_jsonw_end(&jw);
	}
	apf_jsonw_end(&jw);
	apf_jsonw_end(&jw);
	apf_db_result_free(r);
	if (!apf_jsonw_ok(&jw)) {
		apf_jsonw_release(&jw);
		return apf_error(err, APF_ENOMEM, "query '%s': its result is too large for JSON", q->name);
	}
	*out = apf_buf_detach(&jw.buf, NULL);
	return 0;
}
