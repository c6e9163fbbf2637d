/*
 * dashboard.c: the data of /dashboard.  GET /api/panels lists the named
 * queries of grafana_panels.sql; GET /api/panels/<name> runs one and
 * answers its rows as JSON (apf_named_query_json).  The queries run as
 * jobs of the warehouse writer, on a worker thread, like api.c's reads.
 */
#include <stdlib.h>
#include <string.h>

#include "apflow/annotated.h"
#include "apflow/util.h"
#include "server/server_int.h"

#define PANELS_SQL "grafana_panels.sql"

void api_panels_end(struct req *rq)
{
	struct apf_named_queries qs = { NULL, 0 };
	struct apf_err err;
	json_t *list;

	apf_err_clear(&err);
	if (apf_named_queries_load(PANELS_SQL, &qs, &err)) {
		req_reply_err(rq, &err);
		return;
	}
	list = json_array();
	for (size_t i = 0; i < qs.n; i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", qs.v[i].name, "title",
						      qs.v[i].title, "chart", qs.v[i].chart));
	apf_named_queries_release(&qs);
	req_reply_json(rq, 200, json_pack("{s:o}", "panels", list));
}

struct panel_job {
	struct apf_named_queries qs;
	const struct apf_named_query *q;
	char *out; /* the JSON text */
};

static int panel_query(struct apf_db *db, void *arg, struct apf_err *err)
{
	struct panel_job *job = arg;

	free(job->out);
	job->out = NULL;
	return apf_named_query_json(db, job->q, &job->out, err);
}

static void panel_work(struct req *rq)
{
	struct panel_job *job = rq->h;
	struct apf_err err;

	apf_err_clear(&err);
	if (apf_dbwriter_run(server_writer(rq->srv), panel_query, job, &err)) {
		req_reply_err(rq, &err);
		return;
	}
	req_reply_json_text(rq, 200, job->out);
	job->out = NULL;
}

void api_panel_cleanup(struct req *rq)
{
	struct panel_job *job = rq->h;

	if (!job)
		return;
	free(job->out);
	apf_named_queries_release(&job->qs);
	free(job);
	rq->h = NULL;
}

void api_panel_end(struct req *rq)
{
	const char *name = rq->url + strlen("/api/panels/");
	struct panel_job *job = apf_xcalloc(1, sizeof(*job));
	struct apf_err err;

	apf_err_clear(&err);
	rq->h = job;
	if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name)) {
		req_reply_error(rq, APF_EINVAL, "'%.64s' is not a panel name ([a-z0-9_]+)", name);
		return;
	}
	if (apf_named_queries_load(PANELS_SQL, &job->qs, &err)) {
		req_reply_err(rq, &err);
		return;
	}
	job->q = apf_named_queries_find(&job->qs, name);
	if (!job->q) {
		req_reply_error(rq, APF_ENOTFOUND, "no panel '%.64s'", name);
		return;
	}
	rq->work = panel_work;
}
