/* migrate.c: applies the compiled-in versioned DDL (see migrate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/db.h"
#include "apflow/migrate.h"
#include "apflow/sqlfile.h"
#include "apflow/version.h"
#include "apflow/util.h"

struct migration {
	struct apf_migration m;
	const struct apf_asset *asset;
};

/* "V001__raw_ocr.sql" gives 1; anything else is no migration (-1). */
static int version_of(const char *name)
{
	const char *p = name + 1;
	long v = 0;

	if (name[0] != 'V' || !(*p >= '0' && *p <= '9') || !apf_ends_with(name, ".sql"))
		return -1;
	while (*p >= '0' && *p <= '9' && v < 1000000)
		v = v * 10 + (*p++ - '0');
	if (p[0] != '_' || p[1] != '_' || v >= 1000000)
		return -1;
	return (int)v;
}

/* Finds "-- database: NAME" among the comment lines that open the file. */
static int database_of(const char *text, char *out, size_t size)
{
	const char *p = text;

	while (*p) {
		const char *eol = p + strcspn(p, "\n"), *v;
		size_t n;

		if (p[0] != '-' || p[1] != '-') {
			if (strspn(p, " \t\r") != (size_t)(eol - p))
				break; /* the first SQL line ends the header */
		} else {
			v = p + 2 + strspn(p + 2, " \t");
			if (!strncmp(v, "database:", 9)) {
				v += 9 + strspn(v + 9, " \t");
				n = strcspn(v, " \t\r\n");
				if (n == 0 || n >= size)
					return -1;
				memcpy(out, v, n);
				out[n] = '\0';
				return apf_db_name_valid(out) ? 0 : -1;
			}
		}
		p = *eol ? eol + 1 : eol;
	}
	return -1;
}

static int cmp_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;
	return (x->m.version > y->m.version) - (x->m.version < y->m.version);
}

/* What the warehouse records as applied, read once per database for all
 * migrations: a query per migration cost 10 statements at the start of
 * every command that writes, and duckdb_tables() alone 15-50 ms on a
 * loaded 2-CPU machine, so it is asked only when the direct read fails
 * (the table does not exist yet, or some other reason, then reported). */
struct recorded {
	char database[64];
	int version;
	char sha[80];
};

static int read_recorded_db(struct apf_db *db, const char *name, struct recorded **list, size_t *n,
			    struct apf_err *err)
{
	struct apf_db_result *r = NULL;
	char *ident = apf_db_quote_ident(name);
	char *sql = apf_xasprintf("SELECT version, sha256 FROM %s.main.schema_migrations", ident);
	int rc = apf_db_query(db, sql, &r, err);

	if (rc) {
		struct apf_db_stmt *st = NULL;
		struct apf_err err2;

		apf_err_clear(&err2);
		if (!apf_db_prepare(db,
				    "SELECT count(*) FROM duckdb_tables() WHERE database_name = $1 "
				    "AND schema_name = 'main' AND table_name = 'schema_migrations'",
				    &st, &err2)) {
			apf_db_bind_text(st, 1, name);
			if (!apf_db_stmt_exec(st, &r, &err2) && apf_db_result_i64(r, 0, 0) == 0) {
				apf_err_clear(err);
				rc = 0; /* none applied */
			}
			apf_db_result_free(r);
			r = NULL;
		}
		apf_db_stmt_free(st);
	}
	for (uint64_t j = 0; !rc && j < apf_db_result_rows(r); j++) {
		char *sha = apf_db_result_text(r, 1, j);

		*list = apf_xrealloc(*list, (*n + 1) * sizeof(**list));
		apf_strlcpy((*list)[*n].database, name, sizeof((*list)[*n].database));
		(*list)[*n].version = (int)apf_db_result_i64(r, 0, j);
		apf_strlcpy((*list)[*n].sha, sha ? sha : "?", sizeof((*list)[*n].sha));
		(*n)++;
		free(sha);
	}
	apf_db_result_free(r);
	free(sql);
	free(ident);
	return rc;
}

/* The sha256 recorded for m, or "" when it is not applied. */
static void recorded_sha(const struct recorded *rec, size_t n, const struct apf_migration *m, char *out,
			 size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (rec[i].version == m->version && !strcmp(rec[i].database, m->database))
			apf_strlcpy(out, rec[i].sha, size);
}

/* Runs m and records it, in one transaction. */
static int apply(struct apf_db *db, const struct migration *mg, struct apf_err *err)
{
	const struct apf_migration *m = &mg->m;
	struct apf_db_stmt *st = NULL;
	char *ident = apf_db_quote_ident(m->database), *sql = NULL;
	int rc;

	rc = apf_db_begin(db, err);
	if (rc)
		goto out;
	rc = apf_sql_run_text(db, m->name, (const char *)mg->asset->data, NULL, 0, 0, NULL, err);
	if (rc)
		goto fail;
	sql = apf_xasprintf("CREATE TABLE IF NOT EXISTS %s.main.schema_migrations (\n"
			    "    version        INTEGER     PRIMARY KEY,\n"
			    "    name           VARCHAR     NOT NULL,\n"
			    "    sha256         VARCHAR     NOT NULL,\n"
			    "    applied_at     TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,\n"
			    "    apflow_version VARCHAR\n"
			    ")", ident);
	rc = apf_db_exec(db, sql, err);
	free(sql);
	if (rc)
		goto fail;
	sql = apf_xasprintf("INSERT INTO %s.main.schema_migrations (version, name, sha256, apflow_version) "
			    "VALUES ($1, $2, $3, $4)", ident);
	rc = apf_db_prepare(db, sql, &st, err);
	free(sql);
	sql = NULL;
	if (rc)
		goto fail;
	apf_db_bind_i64(st, 1, m->version);
	apf_db_bind_text(st, 2, m->name);
	apf_db_bind_text(st, 3, m->sha256);
	apf_db_bind_text(st, 4, APFLOW_VERSION);
	rc = apf_db_stmt_exec(st, NULL, err);
	if (rc)
		goto fail;
	rc = apf_db_commit(db, err);
	if (rc)
		goto fail;
	goto out;
fail:
	apf_db_rollback(db);
	apf_error_prefix(err, "cannot migrate %s", m->database);
out:
	apf_db_stmt_free(st);
	free(ident);
	return rc;
}

int apf_migrate(struct apf_db *db, int dry_run,
		void (*fn)(const struct apf_migration *m, void *arg), void *arg, struct apf_err *err)
{
	struct migration *list = NULL;
	struct recorded *rec = NULL;
	size_t n = 0, alloc = 0, nrec = 0;
	int rc = 0;

	for (const struct apf_asset *a = apf_asset_next(APF_SQL_DIR, NULL); a; a = apf_asset_next(APF_SQL_DIR, a)) {
		struct migration *mg;
		int v = version_of(a->name);

		if (v < 0)
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 8;
			list = apf_xrealloc(list, alloc * sizeof(*list));
		}
		mg = &list[n++];
		memset(mg, 0, sizeof(*mg));
		mg->asset = a;
		mg->m.name = a->name;
		mg->m.version = v;
		if (database_of((const char *)a->data, mg->m.database, sizeof(mg->m.database))) {
			rc = apf_error(err, APF_EINTERNAL,
				       "migration '%s' does not name its database: its header needs "
				       "'-- database: NAME'", a->name);
			goto out;
		}
		apf_sha256_hex(a->data, a->size, mg->m.sha256);
	}
	qsort(list, n, sizeof(*list), cmp_version);
	for (size_t i = 1; i < n; i++) {
		if (list[i].m.version == list[i - 1].m.version) {
			rc = apf_error(err, APF_EINTERNAL, "migrations '%s' and '%s' have the same version",
				       list[i - 1].m.name, list[i].m.name);
			goto out;
		}
	}

	/* Applying a migration records only its own version: what was read
	 * here stays true for the others. */
	for (size_t i = 0; !rc && i < n; i++) {
		size_t j = 0;

		while (j < i && strcmp(list[j].m.database, list[i].m.database))
			j++;
		if (j == i) /* the first migration of its database */
			rc = read_recorded_db(db, list[i].m.database, &rec, &nrec, err);
	}
	if (rc)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct apf_migration *m = &list[i].m;
		char sha[80];

		recorded_sha(rec, nrec, m, sha, sizeof(sha));
		if (sha[0] && strcmp(sha, m->sha256)) {
			rc = apf_error(err, APF_EDB,
				       "migration '%s' was applied to %s with sha256 %.12s but this apflow has "
				       "%.12s: an applied migration must not change, add a new V### file",
				       m->name, m->database, sha, m->sha256);
			goto out;
		}
		if (sha[0]) {
			m->state = APF_MIGRATION_CURRENT;
		} else if (dry_run) {
			m->state = APF_MIGRATION_PENDING;
		} else {
			rc = apply(db, &list[i], err);
			if (rc)
				goto out;
			m->state = APF_MIGRATION_APPLIED;
		}
		if (fn)
			fn(m, arg);
	}
out:
	free(rec);
	free(list);
	return rc;
}

int apf_migrate_warehouse(const struct apf_config *cfg,
			  void (*fn)(const struct apf_migration *m, void *arg), void *arg,
			  struct apf_err *err)
{
	struct apf_db *db = NULL;
	int rc = apf_db_open_ex(cfg, 0, &db, err);

	if (!rc)
		rc = apf_migrate(db, 0, fn, arg, err);
	apf_db_close(db);
	return rc;
}
