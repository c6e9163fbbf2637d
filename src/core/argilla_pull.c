/*
 * argilla_pull.c: a dataset's records and annotations into one Parquet
 * file in the layout of the Argilla SDK's export (see argilla.h and
 * docs/argilla.md).
 *
 * Records are read a page (1,000) at a time and written as JSON lines to
 * a temp file beside the output, so memory holds one page whatever the
 * dataset's size; DuckDB then turns the lines into the Parquet file (a
 * temp file too, renamed when complete).  Both are apflow/atomicfile.h's,
 * so a killed pull leaves nothing that the sweep of temp files misses.  Paging is by offset in the server's
 * order (insertion), which annotation does not change; a record seen twice
 * is written once, and when the server's count changed between the pages
 * of a pass (a record deleted moves the later ones back one offset, so one
 * may have been skipped), the file is started again and the pages read
 * again, at most three times.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "apflow/argilla.h"
#include "apflow/atomicfile.h"
#include "apflow/db.h"
#include "apflow/log.h"
#include "apflow/util.h"
#include "argilla_impl.h"

#define PAGE 1000

/* obj's "updated_at" ("2024-07-01T10:05:00.654321": naive times are UTC,
 * as the server writes them) in microseconds since the epoch; INT64_MIN
 * when absent or unreadable. */
static int64_t updated_at(json_t *obj)
{
	int64_t us;

	return apf_parse_iso8601(json_string_value(json_object_get(obj, "updated_at")), &us) ? INT64_MIN : us;
}

struct users {
	json_t *names; /* id -> username (string) or null when unknown */
};

static const char *username_of(struct apf_argilla *a, struct users *u, const char *id)
{
	json_t *v = json_object_get(u->names, id);

	if (!v) {
		char *path = apf_xasprintf("/api/v1/users/%s", id);
		json_t *user = NULL;
		struct apf_err err;

		apf_err_clear(&err);
		if (!apf_argilla_call(a, "GET", path, NULL, 0, NULL, &user, &err) &&
		    json_is_string(json_object_get(user, "username")))
			v = json_incref(json_object_get(user, "username"));
		else
			v = json_null();
		json_object_set_new(u->names, id, v);
		json_decref(user);
		free(path);
	}
	return json_string_value(v);
}

static void load_users(struct apf_argilla *a, struct users *u)
{
	json_t *root = NULL, *it;
	struct apf_err err;
	size_t i;

	u->names = json_object();
	apf_err_clear(&err);
	if (apf_argilla_call(a, "GET", "/api/v1/users", NULL, 0, NULL, &root, &err)) {
		apf_log_debug("argilla: cannot list users (%s); asking per user", err.msg);
		return;
	}
	json_array_foreach(json_object_get(root, "items"), i, it)
	{
		const char *id = json_string_value(json_object_get(it, "id"));
		json_t *name = json_object_get(it, "username");
		if (id && json_is_string(name))
			json_object_set(u->names, id, name);
	}
	json_decref(root);
}

/* The JSON line of one record, or NULL when --since leaves it out (since:
 * INT64_MIN without --since). */
static json_t *record_line(struct apf_argilla *a, const struct apf_argilla_dataset *ds, struct users *u,
			   json_t *r, const struct apf_argilla_pull_options *opt, int64_t since,
			   struct apf_argilla_pull_stats *st)
{
	json_t *md = json_object_get(r, "metadata"), *line, *resp, *s;
	json_t *rv = json_array(), *ru = json_array(), *rs = json_array(), *rn = json_array(), *rt = json_array();
	int recent = since == INT64_MIN || updated_at(r) >= since;
	size_t i;

	json_array_foreach(json_object_get(r, "responses"), i, resp)
	{
		json_t *val = json_object_get(json_object_get(json_object_get(resp, "values"), "entities"), "value");
		const char *status = json_string_value(json_object_get(resp, "status"));
		const char *uid = json_string_value(json_object_get(resp, "user_id"));
		const char *name;

		if (updated_at(resp) >= since)
			recent = 1;
		/* As the SDK: a response without a value for the question
		 * (a discarded one without values) is no entry at all. */
		if (!val || json_is_null(val) || !status || !uid)
			continue;
		if (opt->status && strcmp(status, opt->status))
			continue;
		{
			json_t *spans = json_array(), *sp;
			size_t k;
			json_array_foreach(val, k, sp)
			json_array_append_new(spans, json_pack("{s:O?, s:O?, s:O?}", "label", json_object_get(sp, "label"), "start",
							      json_object_get(sp, "start"), "end", json_object_get(sp, "end")));
			json_array_append_new(rv, spans);
		}
		json_array_append_new(ru, json_string(uid));
		json_array_append_new(rs, json_string(status));
		name = username_of(a, u, uid);
		json_array_append_new(rn, name ? json_string(name) : json_null());
		json_array_append(rt, json_object_get(resp, "updated_at") ? json_object_get(resp, "updated_at") : json_null());
		st->responses++;
		if (!strcmp(status, "submitted"))
			st->submitted++;
	}
	if (!recent) {
		json_decref(rv);
		json_decref(ru);
		json_decref(rs);
		json_decref(rn);
		json_decref(rt);
		return NULL;
	}
	line = json_pack("{s:O?, s:O?, s:O?, s:O?}", "id", json_object_get(r, "external_id"), "status",
			 json_object_get(r, "status"), "_server_id", json_object_get(r, "id"), "text",
			 json_object_get(json_object_get(r, "fields"), "text"));
#define X(name, title, type) json_object_set(line, name, json_object_get(md, name) ? json_object_get(md, name) : json_null());
	APF_ARGILLA_METADATA(X)
#undef X
	if (json_array_size(ru)) {
		json_object_set(line, "r", rv);
		json_object_set(line, "ru", ru);
		json_object_set(line, "rs", rs);
		json_object_set(line, "rn", rn);
		json_object_set(line, "rt", rt);
	}
	json_decref(rv);
	json_decref(ru);
	json_decref(rs);
	json_decref(rn);
	json_decref(rt);
	json_array_foreach(json_object_get(r, "suggestions"), i, s)
	{
		const char *q = json_string_value(json_object_get(s, "question_id"));
		json_t *val = json_object_get(s, "value"), *spans, *sp;
		size_t k;

		if (!q || strcmp(q, ds->question_id) || !json_is_array(val))
			continue;
		spans = json_array();
		json_array_foreach(val, k, sp)
		json_array_append_new(spans, json_pack("{s:O?, s:O?, s:O?}", "label", json_object_get(sp, "label"), "start",
						      json_object_get(sp, "start"), "end", json_object_get(sp, "end")));
		json_object_set_new(line, "s", spans);
		if (json_is_array(json_object_get(s, "score")))
			json_object_set(line, "ss", json_object_get(s, "score"));
		else if (json_is_number(json_object_get(s, "score")))
			json_object_set_new(line, "ss", json_pack("[O]", json_object_get(s, "score")));
		json_object_set(line, "sa", json_object_get(s, "agent") ? json_object_get(s, "agent") : json_null());
	}
	return line;
}

static const char convert_sql[] =
	"COPY (SELECT id, status, _server_id, text, doc_id, page_num, text_sha256, labelset_version, source, engine,\n"
	"  agreement, min_score, n_spans,\n"
	"  r AS \"entities.responses\", ru AS \"entities.responses.users\", rs AS \"entities.responses.status\",\n"
	"  s AS \"entities.suggestion\", ss AS \"entities.suggestion.score\", sa AS \"entities.suggestion.agent\",\n"
	"  rn AS \"entities.responses.usernames\",\n"
	"  list_transform(rt, x -> CAST(x AS TIMESTAMPTZ)) AS \"entities.responses.updated_at\"\n"
	" FROM read_json(%s, format = 'newline_delimited', columns = {\n"
	"  id: 'VARCHAR', status: 'VARCHAR', _server_id: 'VARCHAR', text: 'VARCHAR', doc_id: 'VARCHAR',\n"
	"  page_num: 'BIGINT', text_sha256: 'VARCHAR', labelset_version: 'VARCHAR', source: 'VARCHAR',\n"
	"  engine: 'VARCHAR', agreement: 'DOUBLE', min_score: 'DOUBLE', n_spans: 'BIGINT',\n"
	"  r: 'STRUCT(label VARCHAR, start BIGINT, \"end\" BIGINT)[][]', ru: 'VARCHAR[]', rs: 'VARCHAR[]',\n"
	"  s: 'STRUCT(label VARCHAR, start BIGINT, \"end\" BIGINT)[]', ss: 'DOUBLE[]', sa: 'VARCHAR',\n"
	"  rn: 'VARCHAR[]', rt: 'VARCHAR[]'})\n"
	" WHERE _server_id IS NOT NULL)\n"
	" TO %s (FORMAT parquet, USE_TMP_FILE false)"; /* in place: the temp file is ours */

int apf_argilla_pull(struct apf_argilla *a, const struct apf_argilla_dataset *ds,
		     const struct apf_argilla_pull_options *opt, struct apf_argilla_pull_stats *stats,
		     struct apf_err *err)
{
	struct users u = { NULL };
	json_t *seen = json_object();
	/* The JSON lines (removed at the end) and the Parquet file. */
	struct apf_atomicfile jf = { NULL, NULL, -1 }, pq = { NULL, NULL, -1 };
	int64_t t0 = apf_now_ms(), since = INT64_MIN;
	uint64_t offset = 0, total = 0;
	uint64_t pass_total = UINT64_MAX; /* the count at the first page of this pass */
	int passes = 0, moved = 0;
	struct apf_db *db = NULL;
	FILE *f = NULL;
	int rc = 0;

	memset(stats, 0, sizeof(*stats));
	if (opt->since) {
		if (apf_parse_iso8601(opt->since, &since)) {
			rc = apf_error(err, APF_EUSAGE, "bad --since '%s': use YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM]",
				       opt->since);
			goto out;
		}
	}
	rc = apf_atomicfile_open(&jf, opt->out, err);
	if (rc)
		goto out;
	f = fdopen(jf.fd, "w");
	if (!f) {
		rc = apf_error(err, APF_EIO, "cannot write '%s': %s", jf.tmp, strerror(errno));
		goto out;
	}
	jf.fd = -1; /* f's now */
	/* An empty line object first: read_json cannot type an empty file;
	 * the query drops it (no _server_id). */
	fputs("{}\n", f);
	load_users(a, &u);
	for (;;) {
		char *path = apf_xasprintf("/api/v1/datasets/%s/records?include=responses,suggestions&offset=%" PRIu64
					   "&limit=%d",
					   ds->id, offset, PAGE);
		json_t *root = NULL, *items, *r;
		size_t i, n;

		rc = apf_argilla_call(a, "GET", path, NULL, 0, NULL, &root, err);
		free(path);
		if (rc)
			goto out;
		items = json_object_get(root, "items");
		n = json_array_size(items);
		if (json_is_integer(json_object_get(root, "total")))
			total = (uint64_t)json_integer_value(json_object_get(root, "total"));
		if (pass_total == UINT64_MAX)
			pass_total = total;
		else if (total != pass_total)
			moved = 1;
		json_array_foreach(items, i, r)
		{
			const char *id = json_string_value(json_object_get(r, "id"));
			json_t *line;
			if (!id || json_object_get(seen, id))
				continue;
			json_object_set_new(seen, id, json_true());
			line = record_line(a, ds, &u, r, opt, since, stats);
			if (!line)
				continue;
			if (json_dumpf(line, f, JSON_COMPACT | JSON_REAL_PRECISION(17)) || fputc('\n', f) == EOF) {
				json_decref(line);
				json_decref(root);
				rc = apf_error(err, APF_EIO, "cannot write '%s': %s", jf.tmp, strerror(errno));
				goto out;
			}
			json_decref(line);
			stats->records++;
		}
		json_decref(root);
		offset += n;
		if (opt->progress)
			opt->progress(opt->progress_arg, offset, total > offset ? total : offset);
		if (n == 0) {
			/* A record deleted while we read moves the later ones back
			 * one offset, so one of them may have been skipped: when
			 * the server counts more records than were seen, read
			 * again from the start (what was seen is not written twice). */
			if (moved && ++passes < 3) {
				/* Start over, so that the file is one pass: what the
				 * dataset holds now, each record once. */
				apf_log_debug("pull: the dataset changed size while it was read; reading it again");
				if (fflush(f) || ftruncate(fileno(f), 0) || fseek(f, 0, SEEK_SET) || fputs("{}\n", f) == EOF) {
					rc = apf_error(err, APF_EIO, "cannot write '%s': %s", jf.tmp, strerror(errno));
					goto out;
				}
				json_object_clear(seen);
				stats->records = stats->responses = stats->submitted = 0;
				offset = 0;
				pass_total = UINT64_MAX;
				moved = 0;
				continue;
			}
			break;
		}
		if (opt->cancel && *opt->cancel) {
			rc = apf_error(err, APF_EIO, "interrupted; nothing was written");
			goto out;
		}
	}
	if (fclose(f)) {
		f = NULL;
		rc = apf_error(err, APF_EIO, "cannot write '%s': %s", jf.tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	rc = apf_atomicfile_open(&pq, opt->out, err);
	if (!rc)
		rc = apf_db_open_memory(&db, err);
	if (!rc) {
		char *qj = apf_db_quote_literal(jf.tmp), *qp = apf_db_quote_literal(pq.tmp);
		char *sql;
		sql = apf_xasprintf(convert_sql, qj, qp);
		rc = apf_db_exec(db, sql, err);
		if (rc)
			apf_error_prefix(err, "cannot write '%s'", opt->out);
		free(sql);
		free(qj);
		free(qp);
	}
	if (!rc)
		rc = apf_atomicfile_commit(&pq, err);
out:
	if (f)
		fclose(f);
	apf_db_close(db);
	apf_atomicfile_rollback(&jf);
	apf_atomicfile_rollback(&pq);
	json_decref(seen);
	json_decref(u.names);
	stats->seconds = (double)(apf_now_ms() - t0) / 1000.0;
	return rc;
}
