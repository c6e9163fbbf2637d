/*
 * migrate.h: brings the warehouse schema up to date.
 *
 * The schema is the versioned DDL files sql/motherduck/V<version>__<what>.sql,
 * compiled into the binary.  Each file names the one database it changes in
 * a header comment ("-- database: md_raw_ocr"), because a DuckDB
 * transaction may write to one attached database only.  Each file is
 * applied once, in version order, in a transaction of its own that also
 * records it in <database>.main.schema_migrations (version, name, sha256,
 * applied_at, apflow_version); a file already recorded is skipped, so a
 * second run reads and changes nothing.  A recorded file whose sha256 no
 * longer matches the compiled-in one is an error (APF_EDB): applied
 * migrations never change, a change is a new file.
 */
#ifndef APFLOW_MIGRATE_H
#define APFLOW_MIGRATE_H

#include "apflow/db.h"
#include "apflow/err.h"

enum apf_migration_state {
	APF_MIGRATION_CURRENT = 0, /* applied before this run */
	APF_MIGRATION_APPLIED,     /* applied by this run */
	APF_MIGRATION_PENDING,     /* not applied (dry run) */
};

struct apf_migration {
	const char *name;      /* "V001__raw_ocr.sql" */
	int version;           /* 1 */
	char database[64];     /* "md_raw_ocr" */
	char sha256[65];       /* hex SHA-256 of the file */
	enum apf_migration_state state;
};

/*
 * Applies the compiled-in migrations that have not been applied (none when
 * dry_run), calling fn (may be NULL) once per migration, in order, with its
 * state.  Stops at the first failure, which has rolled back that file's
 * transaction; the files before it stay applied.
 */
int apf_migrate(struct apf_db *db, int dry_run,
		void (*fn)(const struct apf_migration *m, void *arg), void *arg, struct apf_err *err);

/*
 * First use migrates (DESIGN.md): opens the warehouse of cfg (waiting for
 * its lock up to lock_timeout, as apf_db_open() does), applies what is
 * pending as apf_migrate() does, and closes it.  Every command that needs
 * the warehouse runs this once at start (main.c, NEED_DB), so a corrupt or
 * unreadable warehouse is refused there, with the reason.
 */
int apf_migrate_warehouse(const struct apf_config *cfg,
			  void (*fn)(const struct apf_migration *m, void *arg), void *arg,
			  struct apf_err *err);

#endif
