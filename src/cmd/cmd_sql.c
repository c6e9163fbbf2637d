/* cmd_sql.c: apflow sql FILE [--set name=value]... [--csv | --json] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/db.h"
#include "apflow/json.h"
#include "apflow/sqlfile.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

#define SQL_FILE_MAX ((size_t)16 << 20)

const char cmd_sql_usage[] =
	"usage: apflow sql FILE [--set name=value]... [--csv | --json]\n"
	"\n"
	"Runs the statements of FILE (- reads standard input) on the warehouse,\n"
	"with md_raw_ocr and md_annotated attached as in every stage, and prints\n"
	"the result of the last statement that returns rows.  Statements that\n"
	"return none (DDL, INSERT, COPY, SET) print nothing.  Names without a\n"
	"database (CREATE TEMP TABLE x, CREATE TABLE x) go to a scratch in-memory\n"
	"database that is gone when apflow exits.\n"
	"\n"
	"  --set name=value   a parameter: the SQL reads it as getvariable('name')\n"
	"                     (a VARCHAR), and ${name} in the SQL text becomes the\n"
	"                     value as a quoted string literal, for places that need\n"
	"                     a literal, such as COPY ... TO ${out}.  name is\n"
	"                     [A-Za-z_][A-Za-z0-9_]*; repeat for more parameters\n"
	"  --csv              print CSV with a header line (quotes as RFC 4180); NULL\n"
	"                     is an empty field\n"
	"  --json             print a JSON array of objects, one per row\n"
	"\n"
	"By default the result is an aligned table followed by \"(N rows)\".\n"
	"Statements are split on ';' outside strings, identifiers, comments and\n"
	"$$ strings, and run one by one; the first that fails stops the run with\n"
	"\"FILE:LINE: message\", LINE being where that statement starts.  An unknown\n"
	"${name} is reported before anything runs.\n"
	"\n"
	"Exit status: 0 done, 1 failed (SQL error, locked warehouse), 2 usage\n"
	"(bad option, bad --set, unknown ${name}).\n";

enum format { FMT_TABLE, FMT_CSV, FMT_JSON };

/* Display width: code points, not bytes. */
static size_t width_of(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* A table cell: control characters are shown escaped so rows stay lines. */
static char *table_cell(const char *s)
{
	size_t n = 0, i = 0;
	char *out;

	if (!s)
		return apf_xstrdup("NULL");
	for (const char *p = s; *p; p++)
		n += (unsigned char)*p < 0x20 ? 4 : 1;
	out = apf_xmalloc(n + 1);
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\n' || c == '\r' || c == '\t') {
			out[i++] = '\\';
			out[i++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20) {
			snprintf(out + i, 5, "\\x%02x", c);
			i += 4;
		} else {
			out[i++] = (char)c;
		}
	}
	out[i] = '\0';
	return out;
}

static void pad(size_t n)
{
	while (n--)
		putchar(' ');
}

static void print_table(struct apf_db_result *r)
{
	uint64_t rows = apf_db_result_rows(r), cols = apf_db_result_cols(r);
	char **cells = apf_xcalloc((size_t)(rows * cols) + 1, sizeof(*cells));
	size_t *w = apf_xcalloc((size_t)cols + 1, sizeof(*w));
	int *right = apf_xcalloc((size_t)cols + 1, sizeof(*right));

	for (uint64_t c = 0; c < cols; c++) {
		enum apf_db_coltype t = apf_db_result_coltype(r, c);
		right[c] = t == APF_DB_COL_INT || t == APF_DB_COL_REAL;
		w[c] = width_of(apf_db_result_colname(r, c));
	}
	for (uint64_t i = 0; i < rows; i++) {
		for (uint64_t c = 0; c < cols; c++) {
			char *text = apf_db_result_text(r, c, i);
			char *cell = table_cell(text);
			size_t cw = width_of(cell);
			free(text);
			cells[i * cols + c] = cell;
			if (cw > w[c])
				w[c] = cw;
		}
	}
	/* A left-aligned last column is not padded: no trailing blanks. */
	for (uint64_t c = 0; c < cols; c++) {
		const char *name = apf_db_result_colname(r, c);
		size_t gap = w[c] - width_of(name);
		if (c)
			fputs(" | ", stdout);
		if (right[c])
			pad(gap);
		fputs(name, stdout);
		if (!right[c] && c + 1 < cols)
			pad(gap);
	}
	putchar('\n');
	for (uint64_t c = 0; c < cols; c++) {
		if (c)
			fputs("-+-", stdout);
		for (size_t k = 0; k < w[c]; k++)
			putchar('-');
	}
	putchar('\n');
	for (uint64_t i = 0; i < rows; i++) {
		for (uint64_t c = 0; c < cols; c++) {
			const char *cell = cells[i * cols + c];
			size_t gap = w[c] - width_of(cell);
			if (c)
				fputs(" | ", stdout);
			if (right[c])
				pad(gap);
			fputs(cell, stdout);
			if (!right[c] && c + 1 < cols)
				pad(gap);
		}
		putchar('\n');
	}
	printf("(%llu row%s)\n", (unsigned long long)rows, rows == 1 ? "" : "s");
	for (uint64_t i = 0; i < rows * cols; i++)
		free(cells[i]);
	free(cells);
	free(w);
	free(right);
}

static void csv_field(const char *s)
{
	size_t n;

	if (!s)
		return;
	n = strlen(s);
	if (!s[strcspn(s, ",\"\r\n")] && !(n && (s[0] == ' ' || s[n - 1] == ' '))) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void print_csv(struct apf_db_result *r)
{
	uint64_t rows = apf_db_result_rows(r), cols = apf_db_result_cols(r);

	for (uint64_t c = 0; c < cols; c++) {
		if (c)
			putchar(',');
		csv_field(apf_db_result_colname(r, c));
	}
	fputs("\n", stdout);
	for (uint64_t i = 0; i < rows; i++) {
		for (uint64_t c = 0; c < cols; c++) {
			char *text = apf_db_result_text(r, c, i);
			if (c)
				putchar(',');
			csv_field(text);
			free(text);
		}
		fputs("\n", stdout);
	}
}

static void json_string_out(const char *s)
{
	struct apf_buf b = APF_BUF_INIT;

	apf_buf_init(&b, 0);
	apf_json_str(&b, s, strlen(s));
	fwrite(b.data, 1, b.len, stdout);
	apf_buf_release(&b);
}

/* A number DuckDB printed, as JSON allows it (inf and nan are not). */
static int json_number_ok(const char *s)
{
	if (*s == '-')
		s++;
	if (!(*s >= '0' && *s <= '9'))
		return 0;
	return s[strspn(s, "0123456789.eE+-")] == '\0';
}

static void print_json(struct apf_db_result *r)
{
	uint64_t rows = apf_db_result_rows(r), cols = apf_db_result_cols(r);

	putchar('[');
	for (uint64_t i = 0; i < rows; i++) {
		fputs(i ? ",\n " : "\n ", stdout);
		putchar('{');
		for (uint64_t c = 0; c < cols; c++) {
			enum apf_db_coltype t = apf_db_result_coltype(r, c);
			char *text = apf_db_result_text(r, c, i);
			if (c)
				putchar(',');
			json_string_out(apf_db_result_colname(r, c));
			putchar(':');
			if (!text)
				fputs("null", stdout);
			else if (t == APF_DB_COL_BOOL || ((t == APF_DB_COL_INT || t == APF_DB_COL_REAL) &&
							  json_number_ok(text)))
				fputs(text, stdout);
			else
				json_string_out(text);
			free(text);
		}
		putchar('}');
	}
	fputs(rows ? "\n]\n" : "]\n", stdout);
}

int cmd_sql(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "set", required_argument, NULL, 's' },
		{ "csv", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct apf_sql_param *params = apf_xcalloc((size_t)argc + 1, sizeof(*params));
	struct apf_sql_stats stats = { 0, NULL };
	struct apf_db *db = NULL;
	struct apf_err err;
	enum format fmt = FMT_TABLE;
	const char *file, *name;
	char *text = NULL;
	size_t nparams = 0;
	int c, rc = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's') {
			char *eq = strchr(optarg, '=');
			if (!eq) {
				rc = apf_cmd_usage_error("sql", "bad --set '%s': expected name=value", optarg);
				goto out;
			}
			*eq = '\0';
			if (!apf_db_name_valid(optarg)) {
				rc = apf_cmd_usage_error("sql", "bad --set name '%s': expected [A-Za-z_][A-Za-z0-9_]*",
							 optarg);
				goto out;
			}
			params[nparams].name = optarg;
			params[nparams].value = eq + 1;
			nparams++;
		} else if (c == 'c') {
			fmt = FMT_CSV;
		} else if (c == 'j') {
			fmt = FMT_JSON;
		} else if (optopt == 's') {
			rc = apf_cmd_usage_error("sql", "--set needs name=value");
			goto out;
		} else {
			rc = apf_cmd_usage_error("sql", "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	/* getopt_long moved the operands to the end; "-" is one. */
	if (optind + 1 < argc) {
		rc = apf_cmd_usage_error("sql", "unexpected argument '%s'", argv[optind + 1]);
		goto out;
	}
	file = optind < argc ? argv[optind] : NULL;
	if (!file) {
		rc = apf_cmd_usage_error("sql", "no FILE given");
		goto out;
	}

	apf_err_clear(&err);
	name = !strcmp(file, "-") ? "<stdin>" : file;
	rc = apf_read_file(!strcmp(file, "-") ? "/dev/stdin" : file, SQL_FILE_MAX, &text, NULL, &err);
	if (!rc)
		rc = apf_db_open(&ctx->cfg, &db, &err);
	if (!rc)
		rc = apf_sql_run_text(db, name, text, params, nparams, 1, &stats, &err);
	if (rc) {
		rc = apf_cmd_fail(&err);
		goto out;
	}
	if (stats.last_result) {
		if (fmt == FMT_CSV)
			print_csv(stats.last_result);
		else if (fmt == FMT_JSON)
			print_json(stats.last_result);
		else
			print_table(stats.last_result);
	}
	if (fflush(stdout)) {
		fprintf(stderr, "apflow: error: cannot write the result: standard output failed\n");
		rc = 1;
	}
out:
	apf_db_result_free(stats.last_result);
	apf_db_close(db);
	free(text);
	free(params);
	return rc;
}

/* For other commands that print a result as 'apflow sql' does (cmd.h). */
void apf_cmd_print_result(struct apf_db_result *r, int csv, int json)
{
	if (csv)
		print_csv(r);
	else if (json)
		print_json(r);
	else
		print_table(r);
}
