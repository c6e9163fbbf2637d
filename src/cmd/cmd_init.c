/* cmd_init.c: apflow init [--dry-run] [--json] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "apflow/db.h"
#include "apflow/migrate.h"
#include "cmd/cmd.h"
#include "apflow/banned.h" /* last: after every system header */

const char cmd_init_usage[] =
	"usage: apflow init [--dry-run] [--json]\n"
	"\n"
	"Creates the warehouse: the tables, sequences and views of md_raw_ocr and\n"
	"md_annotated (sql/motherduck/V*.sql, compiled into apflow).  Locally the\n"
	"databases are the files md_raw_ocr.duckdb and md_annotated.duckdb in the\n"
	"data directory (--data-dir, default ./data), created when missing; with\n"
	"--warehouse motherduck they are md:md_raw_ocr and md:md_annotated.\n"
	"\n"
	"Each file is applied once, in order, in a transaction of its own, and\n"
	"recorded in <database>.main.schema_migrations; running init again changes\n"
	"nothing and says \"warehouse is up to date\".  When another process holds\n"
	"the files, init waits up to lock_timeout seconds (default 60).\n"
	"\n"
	"  --dry-run   only say what would be applied (\"would apply V001__raw_ocr.sql\");\n"
	"              opens the warehouse read-only and creates no file\n"
	"  --json      print {\"dry_run\", \"applied\", \"pending\", \"current\"}, each a\n"
	"              list of file names\n"
	"\n"
	"Exit status: 0 done, 1 failed (locked, SQL error), 2 usage.\n";

struct report {
	int json;
	int changed; /* something was (or would be) applied */
	json_t *applied, *pending, *current;
};

static void on_migration(const struct apf_migration *m, void *arg)
{
	struct report *rep = arg;

	switch (m->state) {
	case APF_MIGRATION_APPLIED:
		rep->changed = 1;
		if (rep->json)
			json_array_append_new(rep->applied, json_string(m->name));
		else
			printf("applied %s\n", m->name);
		break;
	case APF_MIGRATION_PENDING:
		rep->changed = 1;
		if (rep->json)
			json_array_append_new(rep->pending, json_string(m->name));
		else
			printf("would apply %s\n", m->name);
		break;
	case APF_MIGRATION_CURRENT:
		if (rep->json)
			json_array_append_new(rep->current, json_string(m->name));
		break;
	}
	fflush(stdout);
}

int cmd_init(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct report rep = { 0, 0, NULL, NULL, NULL };
	struct apf_db *db = NULL;
	struct apf_err err;
	int dry_run = 0, c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			dry_run = 1;
		else if (c == 'j')
			rep.json = 1;
		else
			return apf_cmd_usage_error("init", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return apf_cmd_usage_error("init", "unexpected argument '%s'", argv[optind]);

	apf_err_clear(&err);
	rc = apf_db_open_ex(&ctx->cfg, dry_run ? APF_DB_READONLY : 0, &db, &err);
	if (rc)
		return apf_cmd_fail(&err);
	if (rep.json) {
		rep.applied = json_array();
		rep.pending = json_array();
		rep.current = json_array();
	}
	rc = apf_migrate(db, dry_run, on_migration, &rep, &err);
	apf_db_close(db);
	if (rc) {
		rc = apf_cmd_fail(&err);
		goto out;
	}
	if (rep.json) {
		json_t *root = json_pack("{s:b, s:O, s:O, s:O}", "dry_run", dry_run, "applied", rep.applied,
					 "pending", rep.pending, "current", rep.current);
		json_dumpf(root, stdout, JSON_PRESERVE_ORDER | JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(root);
	} else if (!rep.changed) {
		printf("warehouse is up to date\n");
	}
out:
	json_decref(rep.applied);
	json_decref(rep.pending);
	json_decref(rep.current);
	return rc;
}
