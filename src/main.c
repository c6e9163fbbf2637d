/*
 * main.c: apflow's entry point and dispatch table.
 *
 * Global options (--config, --data-dir, --store, --warehouse, --log-level,
 * and -c key=value before the command) are taken out of argv first, so
 * every command accepts them in the same way; then the command named by
 * the first remaining argument runs with the rest.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apflow/db.h"
#include "apflow/jsonw.h"
#include "apflow/log.h"
#include "apflow/migrate.h"
#include "apflow/progress.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

const struct apf_cmd apf_commands[] = {
	{ "init", cmd_init, NEED_CONFIG | NEED_DB | NO_MIGRATE, "create the warehouse tables and views (idempotent)", cmd_init_usage },
	{ "sql", cmd_sql, NEED_CONFIG | NEED_DB, "run a .sql file with parameters", cmd_sql_usage },
	{ "store", cmd_store, NEED_CONFIG | NEED_STORE, "put, get, list and delete objects in the store", cmd_store_usage },
	{ "serve", cmd_serve, NEED_CONFIG | NEED_DB | NEED_STORE | DB_LOCK_LATER, "serve the upload page, POST /upload and document status", cmd_serve_usage },
	{ "ingest", cmd_ingest, NEED_CONFIG | NEED_DB | NEED_STORE, "ingest PDF files from the command line, as POST /upload does", cmd_ingest_usage },
	{ "ocr", cmd_ocr, NEED_CONFIG | NEED_DB | NEED_STORE | DB_LAZY, "read the pages of stored PDFs into md_raw_ocr.main.pages", cmd_ocr_usage },
	{ "export", cmd_export, NEED_CONFIG | NEED_DB | NEED_STORE, "write a dataset's pages as Parquet for pre-annotation and Argilla", cmd_export_usage },
	{ "preannotate", cmd_preannotate, NEED_CONFIG | NEED_DB | NEED_STORE | DB_LAZY, "suggest entity spans for a dataset's pages (rules or Ollama)", cmd_preannotate_usage },
	{ "merge", cmd_merge, NEED_CONFIG | NEED_STORE, "merge a dataset's pages and suggestions into argilla_records.parquet", cmd_merge_usage },
	{ "push", cmd_push, NEED_CONFIG, "push merged pages and suggestions into an Argilla dataset", cmd_push_usage },
	{ "pull", cmd_pull, NEED_CONFIG, "pull annotations from an Argilla dataset into Parquet (the SDK export layout)", cmd_pull_usage },
	{ "load", cmd_load, NEED_CONFIG | NEED_DB | NEED_STORE, "load an Argilla export into md_annotated (one export run)", cmd_load_usage },
	{ "check", cmd_check, NEED_CONFIG | NEED_DB | NEED_STORE, "check the warehouse's integrity (exit 1 when a check fails)", cmd_check_usage },
	{ "panels", cmd_panels, NEED_CONFIG | NEED_DB, "run the dashboard queries, or write a Grafana dashboard", cmd_panels_usage },
	{ "learn", cmd_learn, NEED_CONFIG | NEED_DB, "learn gazetteer names from SMEs' annotations the rules missed", cmd_learn_usage },
	{ "run", cmd_run, NEED_CONFIG | NEED_DB | NEED_STORE, "the whole flow in one process: ingest, ocr, export, preannotate, merge, push", cmd_run_usage },
	{ "status", cmd_status, NEED_CONFIG | NEED_DB | NEED_STORE, "what is done, pending and failed per stage, or for one document", cmd_status_usage },
	{ "eval", cmd_eval, NEED_CONFIG, "score suggested spans against gold spans (precision, recall, F1)", cmd_eval_usage },
	{ "config", cmd_config, NEED_CONFIG, "show the effective settings and where they come from", cmd_config_usage },
	{ "version", cmd_version, 0, "show versions of apflow and its libraries", cmd_version_usage },
	{ NULL, NULL, 0, NULL, NULL },
};

static const char main_usage[] =
	"usage: apflow [--config FILE] [-c key=value]... <command> [options]\n"
	"\n"
	"Turns uploaded PDFs into span-annotated training data through Argilla,\n"
	"with an analytic warehouse (DuckDB or MotherDuck) and an object store.\n"
	"\n"
	"Global options (before or after the command):\n"
	"  --config FILE        read settings from FILE (default ./apflow.conf if present)\n"
	"  -c key=value         set any setting (before the command; see 'apflow config')\n"
	"  --data-dir DIR       local warehouse directory (default ./data)\n"
	"  --store URL          object store: file://DIR or s3://BUCKET[/PREFIX]\n"
	"  --warehouse KIND     local or motherduck\n"
	"  --log-level LEVEL    error, warn, info or debug\n"
	"  -h, --help           show help\n"
	"\n"
	"Commands:\n";

const struct apf_cmd *apf_cmd_find(const char *name)
{
	for (const struct apf_cmd *c = apf_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int apf_cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "apflow %s: %s (see 'apflow %s --help')\n", cmd, msg, cmd);
	else
		fprintf(stderr, "apflow: %s (see 'apflow --help')\n", msg);
	return 2;
}

int apf_cmd_fail(const struct apf_err *err)
{
	fprintf(stderr, "apflow: error: %s\n", err->msg[0] ? err->msg : apf_err_desc(err->code));
	return apf_err_exit_code(err->code);
}

int apf_cmd_print_json(struct apf_jsonw *jw)
{
	int ok = apf_jsonw_ok(jw);

	if (ok) {
		fwrite(jw->buf.data, 1, jw->buf.len, stdout);
		fputc('\n', stdout);
	} else {
		fprintf(stderr, "apflow: error: cannot write the JSON output\n");
	}
	apf_jsonw_release(jw);
	return ok ? 0 : 1;
}

int apf_cmd_fail_progress(struct apf_progress **pb, const struct apf_err *err)
{
	apf_progress_end(*pb, NULL, NULL);
	*pb = NULL;
	return apf_cmd_fail(err);
}

static void print_main_usage(FILE *f)
{
	fputs(main_usage, f);
	for (const struct apf_cmd *c = apf_commands; c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fputs("\nRun 'apflow help <command>' or 'apflow <command> --help' for a command's options.\n", f);
}

/* Global long options that may appear anywhere; each takes a value. */
static const struct {
	const char *flag;
	const char *key; /* config key, or NULL for --config */
} global_opts[] = {
	{ "--config", NULL },
	{ "--data-dir", "data_dir" },
	{ "--store", "store" },
	{ "--warehouse", "warehouse" },
	{ "--log-level", "log_level" },
};

static void on_migration(const struct apf_migration *m, void *arg)
{
	(void)arg;
	if (m->state == APF_MIGRATION_APPLIED)
		apf_log_info("applied %s to the warehouse", m->name);
}

/* For a warehouse that was held at start: migrates at the writer's first
 * open. */
static int migrate_job(struct apf_db *db, void *arg, struct apf_err *err)
{
	(void)arg;
	return apf_migrate(db, 0, on_migration, NULL, err);
}

/* Opens what the command's flags ask for into ctx (released by
 * unprovision() whatever happened). */
static int provision(const struct apf_cmd *cmd, struct apf_ctx *ctx, struct apf_err *err)
{
	int rc;

	if ((cmd->flags & NEED_DB) && !(cmd->flags & NO_MIGRATE)) {
		int later = !!(cmd->flags & DB_LAZY);

		rc = later ? 0 : apf_migrate_warehouse(&ctx->cfg, on_migration, NULL, err);
		if (rc == APF_ELOCKED && (cmd->flags & DB_LOCK_LATER)) {
			apf_log_warn("%s; the warehouse will be brought up to date when it is free", err->msg);
			apf_err_clear(err);
			later = 1;
		} else if (rc) {
			return rc;
		}
		rc = apf_dbwriter_new_ex(&ctx->cfg, 0, APF_DB_ONE_THREAD, &ctx->writer, err);
		if (rc)
			return rc;
		if (later)
			apf_dbwriter_set_prepare(ctx->writer, migrate_job, NULL);
	}
	if (cmd->flags & NEED_STORE) {
		rc = apf_store_open(&ctx->cfg, &ctx->store, err);
		if (rc)
			return rc;
	}
	return 0;
}

static void unprovision(struct apf_ctx *ctx)
{
	/* The writer first: it finishes what is queued. */
	apf_dbwriter_free(ctx->writer);
	ctx->writer = NULL;
	apf_store_free(ctx->store);
	ctx->store = NULL;
}

struct pending_flag {
	const char *key;
	const char *value;
	const char *origin;
};

int main(int argc, char **argv)
{
	struct pending_flag flags[64];
	size_t nflags = 0;
	const char *config_file = NULL;
	const struct apf_cmd *cmd;
	struct apf_ctx ctx;
	struct apf_err err;
	char **args = apf_xcalloc((size_t)argc + 1, sizeof(*args));
	int nargs = 0, rc, after_dashdash = 0, seen_cmd = 0;

	memset(&ctx, 0, sizeof(ctx));
	apf_err_clear(&err);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t g;

		if (after_dashdash || (a[0] != '-')) {
			if (a[0] != '-')
				seen_cmd = 1;
			args[nargs++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			after_dashdash = 1;
			args[nargs++] = argv[i];
			continue;
		}
		if (!seen_cmd && !strcmp(a, "-c")) {
			char *eq;
			if (i + 1 >= argc || !(eq = strchr(argv[i + 1], '='))) {
				free(args);
				return apf_cmd_usage_error(NULL, "-c needs key=value");
			}
			*eq = '\0';
			if (nflags == sizeof(flags) / sizeof(flags[0])) {
				free(args);
				return apf_cmd_usage_error(NULL, "too many -c options");
			}
			flags[nflags++] = (struct pending_flag){ argv[i + 1], eq + 1, "-c" };
			i++;
			continue;
		}
		for (g = 0; g < sizeof(global_opts) / sizeof(global_opts[0]); g++) {
			size_t fl = strlen(global_opts[g].flag);
			if (!strncmp(a, global_opts[g].flag, fl) && (a[fl] == '\0' || a[fl] == '='))
				break;
		}
		if (g == sizeof(global_opts) / sizeof(global_opts[0])) {
			args[nargs++] = argv[i];
			continue;
		}
		const char *value;
		size_t fl = strlen(global_opts[g].flag);
		if (a[fl] == '=') {
			value = a + fl + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			free(args);
			return apf_cmd_usage_error(NULL, "%s needs a value", global_opts[g].flag);
		}
		if (!global_opts[g].key)
			config_file = value;
		else if (nflags < sizeof(flags) / sizeof(flags[0]))
			flags[nflags++] = (struct pending_flag){ global_opts[g].key, value, global_opts[g].flag };
	}

	if (nargs == 0) {
		print_main_usage(stderr);
		free(args);
		return 2;
	}
	if (!strcmp(args[0], "--help") || !strcmp(args[0], "-h") || !strcmp(args[0], "help")) {
		if (nargs > 1 && strcmp(args[0], "help") == 0) {
			cmd = apf_cmd_find(args[1]);
			if (!cmd) {
				rc = apf_cmd_usage_error(NULL, "no such command '%s'", args[1]);
				free(args);
				return rc;
			}
			fputs(cmd->usage, stdout);
		} else {
			print_main_usage(stdout);
		}
		free(args);
		return 0;
	}
	if (!strcmp(args[0], "--version")) {
		args[0] = "version";
	}
	if (args[0][0] == '-') {
		rc = apf_cmd_usage_error(NULL, "unknown option '%s'", args[0]);
		free(args);
		return rc;
	}
	cmd = apf_cmd_find(args[0]);
	if (!cmd) {
		rc = apf_cmd_usage_error(NULL, "'%s' is not an apflow command", args[0]);
		free(args);
		return rc;
	}
	for (int i = 1; i < nargs && strcmp(args[i], "--"); i++) {
		if (!strcmp(args[i], "--help") || !strcmp(args[i], "-h")) {
			fputs(cmd->usage, stdout);
			free(args);
			return 0;
		}
	}

	/* DuckDB loads on another thread while the command starts (options,
	 * config, the PDFs ocr reads before it opens the warehouse). */
	if (cmd->flags & NEED_DB)
		apf_duckdb_preload();
	ctx.stderr_tty = isatty(STDERR_FILENO);
	if (cmd->flags & (NEED_CONFIG | NEED_DB | NEED_STORE)) {
		rc = apf_config_load(&ctx.cfg, config_file, &err);
		for (size_t f = 0; !rc && f < nflags; f++)
			rc = apf_config_set_flag(&ctx.cfg, flags[f].key, flags[f].value, flags[f].origin, &err);
		if (rc) {
			rc = apf_cmd_fail(&err);
			goto out;
		}
		const char *lvl = apf_config_get(&ctx.cfg, APF_CFG_LOG_LEVEL);
		enum apf_log_level level;
		if (lvl) {
			if (apf_log_parse_level(lvl, &level)) {
				rc = apf_cmd_usage_error(NULL, "bad log level '%s'", lvl);
				goto out;
			}
			apf_log_set_level(level);
		}
	}
	if (provision(cmd, &ctx, &err)) {
		rc = apf_cmd_fail(&err);
		goto out;
	}
	optind = 0; /* commands use getopt_long from a fresh start */
	rc = cmd->fn(nargs, args, &ctx);
out:
	unprovision(&ctx);
	/* Joins the loading thread, if the command never did: exit() must not
	 * run while libduckdb's constructors are running. */
	if (cmd->flags & NEED_DB)
		apf_duckdb_need(NULL);
	apf_config_release(&ctx.cfg);
	free(args);
	return rc;
}
