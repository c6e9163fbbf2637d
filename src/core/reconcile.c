/*
 * reconcile.c: a row for every stored PDF (apflow/ingest.h,
 * apf_ingest_reconcile()).
 *
 * An upload is stored first and recorded second, so a process killed
 * between the two, or a warehouse that refused the rows (locked, full,
 * corrupt), leaves an object in raw/ without its documents row.  This
 * walks raw/, finds the objects the warehouse does not know, reads each
 * back, and records it through the ingest path (apf_ingest_file: the same
 * checks and rows as an upload, source 'reconcile') when its bytes are
 * what its name says and a PDF; otherwise it names the object.
 */
#include <stdlib.h>
#include <string.h>

#include "apflow/db.h"
#include "apflow/ingest.h"
#include "apflow/util.h"

struct ids {
	char **v;
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ids_release(struct ids *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* A writer job: the doc_ids of md_raw_ocr.main.documents. */
static int known_ids(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct ids *s = arg;
	struct apf_db_result *r = NULL;
	int rc;

	ids_release(s); /* a job may run twice (dbwriter.h) */
	rc = apf_db_query(db, "SELECT doc_id FROM md_raw_ocr.main.documents", &r, err);
	if (rc)
		return rc;
	s->n = apf_db_result_rows(r);
	s->v = apf_xcalloc(s->n ? s->n : 1, sizeof(*s->v));
	for (uint64_t i = 0; i < s->n; i++) {
		char *t = apf_db_result_text(r, 0, i);
		s->v[i] = t ? t : apf_xstrdup("");
	}
	apf_db_result_free(r);
	qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	return 0;
}

static int list_key(const struct apf_store_stat *st, void *arg)
{
	struct ids *keys = arg;

	keys->v = apf_xrealloc(keys->v, (keys->n + 1) * sizeof(*keys->v));
	keys->v[keys->n++] = apf_xstrdup(st->key);
	return 0;
}

/* The doc_id of "raw/<doc_id>.pdf" into id, or -1. */
static int key_doc_id(const char *key, char id[APF_DOC_ID_LEN + 1])
{
	if (strlen(key) != 4 + APF_DOC_ID_LEN + 4 || strncmp(key, "raw/", 4) ||
	    strcmp(key + 4 + APF_DOC_ID_LEN, ".pdf"))
		return -1;
	memcpy(id, key + 4, APF_DOC_ID_LEN);
	id[APF_DOC_ID_LEN] = '\0';
	return apf_ingest_doc_id_valid(id) ? 0 : -1;
}

/* Reads key back and records it; returns 0 (recorded), or an error whose
 * message says why the object cannot be (APF_EPDF for bad bytes). */
static int record_object(struct apf_ingest *ing, struct apf_store *store, const char *key, const char *id,
			 struct apf_err *err)
{
	struct apf_ingest_spool sp;
	struct apf_ingest_result res;
	char hex[APF_SHA256_HEX];
	uint64_t size = 0;
	char *name = apf_xasprintf("%s.pdf", id);
	int rc;

	rc = apf_ingest_spool_open(ing, 0, &sp, err);
	if (!rc)
		rc = apf_store_get_fd(store, key, sp.fd, err);
	if (!rc)
		rc = apf_ingest_spool_finish(&sp, err);
	if (!rc)
		rc = apf_sha256_file(sp.path, hex, &size, err);
	if (!rc && strncmp(hex, id, APF_DOC_ID_LEN))
		rc = apf_error(err, APF_EPDF, "its bytes have sha256 %.20s..., not the %s its name says", hex, id);
	if (!rc) {
		/* The spool holds what the store holds (read back above). */
		memcpy(sp.sha256, hex, sizeof(sp.sha256));
		sp.bytes = size;
		rc = apf_ingest_file(ing, &sp, name, strlen(name), "reconcile", NULL, &res, err);
		if (!rc)
			apf_ingest_result_release(&res);
	}
	apf_ingest_spool_discard(&sp);
	free(name);
	return rc;
}

int apf_ingest_reconcile(struct apf_ingest *ing, struct apf_store *store, struct apf_dbwriter *writer, int dry_run,
			 void (*on_object)(const char *key, int rc, const char *why, void *arg), void *arg,
			 struct apf_ingest_reconcile *out, struct apf_err *err)
{
	struct ids known = { NULL, 0 }, keys = { NULL, 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = apf_dbwriter_run(writer, known_ids, &known, err);
	if (!rc)
		rc = apf_store_list(store, "raw/", list_key, &keys, err);
	for (size_t i = 0; !rc && i < keys.n; i++) {
		char id[APF_DOC_ID_LEN + 1];
		const char *k = id;
		struct apf_err one;

		out->objects++;
		if (key_doc_id(keys.v[i], id)) {
			out->bad++;
			if (on_object)
				on_object(keys.v[i], APF_EPDF, "not named raw/<doc_id>.pdf", arg);
			continue;
		}
		if (bsearch(&k, known.v, known.n, sizeof(*known.v), cmp_str))
			continue;
		out->missing++;
		if (dry_run) {
			if (on_object)
				on_object(keys.v[i], 0, "has no row in md_raw_ocr.main.documents", arg);
			continue;
		}
		apf_err_clear(&one);
		rc = record_object(ing, store, keys.v[i], id, &one);
		if (!rc) {
			out->recorded++;
			if (on_object)
				on_object(keys.v[i], 0, "recorded", arg);
		} else if (rc == APF_EPDF || rc == APF_EEXISTS) {
			/* The object is at fault: named, and the walk goes on. */
			out->bad++;
			if (on_object)
				on_object(keys.v[i], rc, one.msg, arg);
			rc = 0;
		} else {
			/* The store or the warehouse is: stop. */
			if (err)
				*err = one;
			apf_error_prefix(err, "cannot reconcile '%s'", keys.v[i]);
		}
	}
	ids_release(&known);
	ids_release(&keys);
	return rc;
}
