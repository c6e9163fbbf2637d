/* cmd_init.c: apflow init [--dry-run] [--json] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "apflow/db.h"
#include "apflow/jsonw.h"
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
	struct apf_jsonw applied, pending, current; /* arrays of names (json) */
};

static void on_migration(const struct apf_migration *m, void *arg)
{
	struct report *rep = arg;

	switch (m->state) {
	case APF_MIGRATION_APPLIED:
		rep->changed = 1;
		if (rep->json)
			apf_jsonw_array_string(&rep->applied, m->name);
		else
			printf("applied %s\n", m->name);
		break;
	case APF_MIGRATION_PENDING:
		rep->changed = 1;
		if (rep->json)
			apf_jsonw_array_string(&rep->pending, m->name);
		else
			printf("would apply %s\n", m->name);
		break;
	case APF_MIGRATION_CURRENT:
		if (rep->json)
			apf_jsonw_array_string(&rep->current, m->name);
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
	struct report rep = { 0 };
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
		struct apf_jsonw *lists[3] = { &rep.applied, &rep.pending, &rep.current };
		for (int i = 0; i < 3; i++) {
			apf_jsonw_init(lists[i], 0, 0);
			apf_jsonw_array_begin(lists[i]);
		}
	}
	rc = apf_migrate(db, dry_run, on_migration, &rep, &err);
	apf_db_close(db);
	if (rc) {
		rc = apf_cmd_fail(&err);
		goto out;
	}
	if (rep.json) {
		struct apf_jsonw jw;
		apf_jsonw_init(&jw, 0, 0);
		apf_jsonw_object_begin(&jw);
		apf_jsonw_object_bool(&jw, "dry_run", dry_run);
		apf_jsonw_end(&rep.applied);
		apf_jsonw_end(&rep.pending);
		apf_jsonw_end(&rep.current);
		apf_jsonw_object_sub(&jw, "applied", &rep.applied);
		apf_jsonw_object_sub(&jw, "pending", &rep.pending);
		apf_jsonw_object_sub(&jw, "current", &rep.current);
		apf_jsonw_end(&jw);
		rc = apf_cmd_print_json(&jw);
	} else if (!rep.changed) {
		printf("warehouse is up to date\n");
	}
out:
	apf_jsonw_release(&rep.applied);
	apf_jsonw_release(&rep.pending);
	apf_jsonw_release(&rep.current);
	return rc;
}
