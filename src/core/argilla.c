/* argilla.c: the Argilla REST client and the dataset set-up (see argilla.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apflow/argilla.h"
#include "apflow/http.h"
#include "apflow/log.h"
#include "apflow/util.h"
#include "argilla_impl.h"

#define RESP_MAX ((size_t)256 << 20)

int apf_argilla_new(const struct apf_argilla_options *opt, struct apf_argilla **out, struct apf_err *err)
{
	struct apf_http_options ho = { 0 };
	struct apf_argilla *a;
	size_t n;
	int rc;

	if (!opt->api_url || !*opt->api_url)
		return apf_error(err, APF_ECONFIG, "no Argilla API URL: use --api-url or ARGILLA_API_URL");
	if (!opt->api_key || !*opt->api_key)
		return apf_error(err, APF_ECONFIG, "no Argilla API key: use --api-key or ARGILLA_API_KEY");
	if (strncmp(opt->api_url, "http://", 7) && strncmp(opt->api_url, "https://", 8))
		return apf_error(err, APF_ECONFIG, "bad Argilla API URL '%s': not http:// or https://", opt->api_url);
	{
		/* The URL is shown in messages: no user or password in it. */
		const char *host = strstr(opt->api_url, "://") + 3;
		size_t hl = strcspn(host, "/?#");
		if (memchr(host, '@', hl))
			return apf_error(err, APF_ECONFIG, "bad Argilla API URL: it holds a user name or password; "
							   "give the API key with --api-key or ARGILLA_API_KEY");
	}
	if (strpbrk(opt->api_key, "\r\n"))
		return apf_error(err, APF_ECONFIG, "bad Argilla API key: it holds a line break");
	ho.low_speed_time_s = opt->timeout_s > 0 ? opt->timeout_s : 60;
	ho.connect_timeout_ms = ho.low_speed_time_s * 1000 < 10000 ? ho.low_speed_time_s * 1000 : 10000;
	ho.max_retries = opt->max_retries >= 0 ? opt->max_retries : 8;
	ho.backoff_base_ms = opt->backoff_base_ms > 0 ? opt->backoff_base_ms : 250;
	ho.backoff_max_ms = opt->backoff_max_ms > 0 ? opt->backoff_max_ms : 8000;
	ho.retry_after_max_ms = 30000;
	a = apf_xcalloc(1, sizeof(*a));
	rc = apf_http_new(&ho, &a->http, err);
	if (rc) {
		free(a);
		return rc;
	}
	a->url = apf_xstrdup(opt->api_url);
	n = strlen(a->url);
	while (n > 0 && a->url[n - 1] == '/')
		a->url[--n] = '\0';
	a->key_header = apf_xasprintf("X-Argilla-Api-Key: %s", opt->api_key);
	*out = a;
	return 0;
}

void apf_argilla_free(struct apf_argilla *a)
{
	if (!a)
		return;
	apf_http_free(a->http);
	if (a->key_header) {
		/* The key does not outlive the client in freed memory. */
		volatile char *p = a->key_header;
		while (*p)
			*p++ = '\0';
		free(a->key_header);
	}
	free(a->url);
	free(a);
}

char *apf_argilla_detail(const char *body, size_t len)
{
	json_t *root, *d;
	char *out = NULL;

	if (!body || !len)
		return apf_xstrdup("");
	root = json_loadb(body, len, 0, NULL);
	d = json_object_get(root, "detail");
	if (json_is_string(d)) {
		out = apf_xstrdup(json_string_value(d));
	} else if (json_is_object(d) && json_is_string(json_object_get(json_object_get(d, "params"), "detail"))) {
		out = apf_xstrdup(json_string_value(json_object_get(json_object_get(d, "params"), "detail")));
	} else if (d) {
		out = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
	} else if (!root) {
		/* Not JSON (a proxy's page): the first line, at most 200 bytes. */
		size_t n = 0;
		while (n < len && n < 200 && body[n] != '\n' && body[n] != '\r')
			n++;
		out = apf_xstrndup(body, n);
	} else {
		out = json_dumps(root, JSON_COMPACT);
	}
	json_decref(root);
	if (!out)
		out = apf_xstrdup("");
	/* One line: a detail with newlines (the label list) is joined. */
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return out;
}

int argilla_status_code(long status)
{
	switch (status) {
	case 401:
	case 403:
		return APF_EAUTH;
	case 404:
		return APF_ENOTFOUND;
	case 409:
		return APF_EEXISTS;
	case 400:
	case 413:
	case 422:
		return APF_EINVAL;
	default:
		return APF_ENET;
	}
}

int argilla_request(struct apf_argilla *a, const char *method, const char *path, const char *body,
		    size_t body_len, struct apf_http_response *resp, struct apf_err *err)
{
	const char *headers[5];
	struct apf_http_request req;
	char *url = apf_xasprintf("%s%s", a->url, path);
	char *what = apf_xasprintf("%s%s", a->url, path);
	int rc, nh = 0;

	headers[nh++] = a->key_header;
	headers[nh++] = "Accept: application/json";
	if (body)
		headers[nh++] = "Content-Type: application/json";
	headers[nh] = NULL;
	apf_http_request_init(&req);
	req.method = method;
	req.url = url;
	req.what = what;
	req.headers = headers;
	req.resp_max = RESP_MAX;
	if (body) {
		req.has_body = 1;
		req.body = body;
		req.body_len = body_len;
	}
	rc = apf_http_request(a->http, &req, resp, err);
	if (rc)
		apf_error_prefix(err, "%s %s", method, path);
	free(url);
	free(what);
	return rc;
}

int apf_argilla_call(struct apf_argilla *a, const char *method, const char *path, const char *body,
		     size_t body_len, long *status, json_t **out, struct apf_err *err)
{
	struct apf_http_response resp;
	json_error_t jerr;
	int rc;

	apf_http_response_init(&resp);
	if (status)
		*status = 0;
	rc = argilla_request(a, method, path, body, body_len, &resp, err);
	if (rc)
		goto out;
	if (status)
		*status = resp.status;
	if (resp.status < 200 || resp.status > 299) {
		char *detail = apf_argilla_detail(resp.body.data, resp.body.len);
		rc = apf_error(err, argilla_status_code(resp.status), "%s %s: HTTP %ld%s%s", method, path, resp.status,
			       *detail ? ": " : "", detail);
		free(detail);
		goto out;
	}
	if (out) {
		*out = resp.body.len ? json_loadb(resp.body.data, resp.body.len, 0, &jerr) : json_object();
		if (!*out)
			rc = apf_error(err, APF_ENET, "%s %s: the answer is not JSON: %s", method, path, jerr.text);
	}
out:
	apf_http_response_release(&resp);
	return rc;
}

static const char *jstr(json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "";
}

static void copy_str(char *dst, size_t n, json_t *v)
{
	apf_strlcpy(dst, json_is_string(v) ? json_string_value(v) : "", n);
}

int apf_argilla_me(struct apf_argilla *a, struct apf_argilla_user *out, struct apf_err *err)
{
	json_t *me = NULL;
	int rc = apf_argilla_call(a, "GET", "/api/v1/me", NULL, 0, NULL, &me, err);

	if (rc) {
		if (rc == APF_EAUTH)
			apf_error(err, APF_EAUTH, "Argilla at '%s' refused the API key (HTTP 401): check --api-key or ARGILLA_API_KEY",
				  a->url);
		return rc;
	}
	memset(out, 0, sizeof(*out));
	copy_str(out->id, sizeof(out->id), json_object_get(me, "id"));
	copy_str(out->username, sizeof(out->username), json_object_get(me, "username"));
	copy_str(out->role, sizeof(out->role), json_object_get(me, "role"));
	json_decref(me);
	if (!out->id[0])
		return apf_error(err, APF_ENET, "GET /api/v1/me: the answer has no user id");
	return 0;
}

int apf_argilla_workspace(struct apf_argilla *a, const char *name, char id[64], char name_out[256],
			  struct apf_err *err)
{
	json_t *root = NULL, *items, *w;
	size_t i;
	int rc = apf_argilla_call(a, "GET", "/api/v1/me/workspaces", NULL, 0, NULL, &root, err);

	if (rc)
		return rc;
	items = json_object_get(root, "items");
	json_array_foreach(items, i, w)
	{
		const char *wn = json_string_value(json_object_get(w, "name"));
		if (!wn || !json_is_string(json_object_get(w, "id")))
			continue;
		if (!name || !*name || !strcmp(name, wn)) {
			copy_str(id, 64, json_object_get(w, "id"));
			apf_strlcpy(name_out, wn, 256);
			json_decref(root);
			return 0;
		}
	}
	json_decref(root);
	if (!name || !*name)
		return apf_error(err, APF_ENOTFOUND, "the Argilla API key has no workspace");
	return apf_error(err, APF_ENOTFOUND, "no Argilla workspace '%s' for this API key", name);
}

/* ---- datasets ---- */

static char *path_enc(const char *s)
{
	struct apf_buf b = APF_BUF_INIT;

	apf_buf_init(&b, 0);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-_.~", *p))
			apf_buf_add(&b, p, 1);
		else
			apf_buf_addf(&b, "%%%02X", *p);
	}
	if (!b.data)
		apf_buf_adds(&b, "");
	return apf_buf_detach(&b, NULL);
}

/* Finds the dataset by name: 0 with *found set or not, or an error. */
static int dataset_find(struct apf_argilla *a, const char *ws_id, const char *name, json_t **found,
			struct apf_err *err)
{
	char *qn = path_enc(name), *qw = path_enc(ws_id);
	char *path = apf_xasprintf("/api/v1/me/datasets?workspace_id=%s&name=%s", qw, qn);
	json_t *root = NULL, *d;
	size_t i;
	int rc = apf_argilla_call(a, "GET", path, NULL, 0, NULL, &root, err);

	*found = NULL;
	free(qn);
	free(qw);
	free(path);
	if (rc)
		return rc;
	/* Older servers ignore the filters: match here as well. */
	json_array_foreach(json_object_get(root, "items"), i, d)
	{
		const char *n = json_string_value(json_object_get(d, "name"));
		const char *w = json_string_value(json_object_get(d, "workspace_id"));
		if (n && !strcmp(n, name) && (!w || !strcmp(w, ws_id))) {
			*found = json_incref(d);
			break;
		}
	}
	json_decref(root);
	return 0;
}

/* POST that treats 409 (already there) as success. */
static int post_create(struct apf_argilla *a, const char *path, json_t *body, json_t **out, int *existed,
		       struct apf_err *err)
{
	char *s = json_dumps(body, JSON_COMPACT);
	long status = 0;
	int rc = apf_argilla_call(a, "POST", path, s, strlen(s), &status, out, err);

	free(s);
	if (existed)
		*existed = 0;
	if (rc == APF_EEXISTS) {
		apf_log_debug("%s: already there (HTTP 409), reading it again", path);
		if (existed)
			*existed = 1;
		apf_err_clear(err);
		return 0;
	}
	return rc;
}

static json_t *span_question_body(const struct apf_labelset *ls, const char *field)
{
	json_t *opts = json_array();
	size_t vis = ls->n < 3 ? 3 : ls->n;

	for (size_t i = 0; i < ls->n; i++) {
		json_t *o = json_pack("{s:s, s:s}", "value", ls->labels[i].name, "text", ls->labels[i].name);
		if (ls->labels[i].description && *ls->labels[i].description)
			json_object_set_new(o, "description", json_string(ls->labels[i].description));
		json_array_append_new(opts, o);
	}
	return json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:s, s:o, s:I, s:b}}", "name", ls->question_name, "title",
			 "Entities", "description",
			 "Mark every entity of the labelset; fix or delete wrong suggestions", "required", 1,
			 "settings", "type", "span", "field", field, "options", opts, "visible_options",
			 (json_int_t)(vis > ls->n ? ls->n : vis), "allow_overlapping", 0);
}

static json_t *metadata_body(const char *name, const char *title, const char *type)
{
	json_t *settings = json_pack("{s:s}", "type", type);

	if (!strcmp(type, "terms")) {
		json_object_set_new(settings, "values", json_null());
	} else if (!strcmp(name, "agreement") || !strcmp(name, "min_score")) {
		json_object_set_new(settings, "min", json_real(0.0));
		json_object_set_new(settings, "max", json_real(1.0));
	}
	return json_pack("{s:s, s:s, s:o, s:b}", "name", name, "title", title, "settings", settings,
			 "visible_for_annotators", 1);
}

static json_t *list_items(struct apf_argilla *a, const char *fmt, const char *id, struct apf_err *err, int *rc)
{
	char *path = apf_xasprintf(fmt, id);
	json_t *root = NULL, *items;

	*rc = apf_argilla_call(a, "GET", path, NULL, 0, NULL, &root, err);
	free(path);
	if (*rc)
		return NULL;
	items = json_incref(json_object_get(root, "items"));
	json_decref(root);
	if (!json_is_array(items)) {
		json_decref(items);
		items = json_array();
	}
	return items;
}

static json_t *find_named(json_t *items, const char *name)
{
	size_t i;
	json_t *it;

	json_array_foreach(items, i, it)
	{
		const char *n = json_string_value(json_object_get(it, "name"));
		if (n && !strcmp(n, name))
			return it;
	}
	return NULL;
}

/* Appends to diff why the dataset's settings are not those apflow needs. */
static void check_settings(json_t *fields, json_t *questions, json_t *mprops, const struct apf_labelset *ls,
			   struct apf_buf *diff)
{
	json_t *f = find_named(fields, "text"), *q = find_named(questions, ls->question_name), *s, *opts, *o;
	size_t i;

	if (!f)
		apf_buf_addf(diff, "; no field 'text'");
	else if (strcmp(jstr(json_object_get(json_object_get(f, "settings"), "type")), "text"))
		apf_buf_addf(diff, "; field 'text' is not a text field");
	if (!q) {
		apf_buf_addf(diff, "; no question '%s'", ls->question_name);
	} else {
		s = json_object_get(q, "settings");
		if (strcmp(jstr(json_object_get(s, "type")), "span"))
			apf_buf_addf(diff, "; question '%s' is not a span question", ls->question_name);
		if (strcmp(jstr(json_object_get(s, "field")), "text"))
			apf_buf_addf(diff, "; question '%s' is not on field 'text'", ls->question_name);
		if (json_is_true(json_object_get(s, "allow_overlapping")))
			apf_buf_addf(diff, "; question '%s' allows overlapping spans", ls->question_name);
		opts = json_object_get(s, "options");
		for (size_t l = 0; l < ls->n; l++) {
			int have = 0;
			json_array_foreach(opts, i, o)
			if (!strcmp(jstr(json_object_get(o, "value")), ls->labels[l].name))
				have = 1;
			if (!have)
				apf_buf_addf(diff, "; label %s missing", ls->labels[l].name);
		}
		json_array_foreach(opts, i, o)
		{
			const char *v = jstr(json_object_get(o, "value"));
			if (apf_labelset_find(ls, v) < 0)
				apf_buf_addf(diff, "; label '%s' is not in labelset %s", v, ls->version);
		}
	}
#define X(name, title, type)                                                                         \
	do {                                                                                         \
		json_t *m = find_named(mprops, name);                                                \
		const char *t = json_string_value(json_object_get(json_object_get(m, "settings"), "type")); \
		if (!m)                                                                              \
			apf_buf_addf(diff, "; no metadata property '%s'", name);                     \
		else if (!t || strcmp(t, type))                                                      \
			apf_buf_addf(diff, "; metadata property '%s' is %s, not %s", name, t ? t : "?", type); \
	} while (0);
	APF_ARGILLA_METADATA(X)
#undef X
}

/* Creates what a draft dataset lacks, then publishes it. */
static int complete_draft(struct apf_argilla *a, const char *id, const struct apf_labelset *ls, struct apf_err *err)
{
	json_t *fields = NULL, *questions = NULL, *mprops = NULL, *body;
	char *path;
	int rc = 0;

	fields = list_items(a, "/api/v1/datasets/%s/fields", id, err, &rc);
	if (rc)
		goto out;
	if (!find_named(fields, "text")) {
		body = json_pack("{s:s, s:s, s:b, s:{s:s, s:b}}", "name", "text", "title", "Text", "required", 1,
				 "settings", "type", "text", "use_markdown", 0);
		path = apf_xasprintf("/api/v1/datasets/%s/fields", id);
		rc = post_create(a, path, body, NULL, NULL, err);
		free(path);
		json_decref(body);
		if (rc)
			goto out;
	}
	questions = list_items(a, "/api/v1/datasets/%s/questions", id, err, &rc);
	if (rc)
		goto out;
	if (!find_named(questions, ls->question_name)) {
		body = span_question_body(ls, "text");
		path = apf_xasprintf("/api/v1/datasets/%s/questions", id);
		rc = post_create(a, path, body, NULL, NULL, err);
		free(path);
		json_decref(body);
		if (rc)
			goto out;
	}
	mprops = list_items(a, "/api/v1/me/datasets/%s/metadata-properties", id, err, &rc);
	if (rc)
		goto out;
#define X(name, title, type)                                                                 \
	if (!rc && !find_named(mprops, name)) {                                              \
		body = metadata_body(name, title, type);                                     \
		path = apf_xasprintf("/api/v1/datasets/%s/metadata-properties", id);        \
		rc = post_create(a, path, body, NULL, NULL, err);                            \
		free(path);                                                                  \
		json_decref(body);                                                           \
	}
	APF_ARGILLA_METADATA(X)
#undef X
	if (rc)
		goto out;
	path = apf_xasprintf("/api/v1/datasets/%s/publish", id);
	{
		long status = 0;
		rc = apf_argilla_call(a, "PUT", path, "{}", 2, &status, NULL, err);
		/* Someone else published it between our reads: fine. */
		if (rc == APF_EINVAL && strstr(err->msg, "already been published")) {
			apf_err_clear(err);
			rc = 0;
		}
	}
	free(path);
out:
	json_decref(fields);
	json_decref(questions);
	json_decref(mprops);
	return rc;
}

static int fill_dataset(struct apf_argilla *a, json_t *d, const char *workspace, const struct apf_labelset *ls,
			struct apf_argilla_dataset *out, struct apf_err *err)
{
	json_t *fields = NULL, *questions = NULL, *mprops = NULL, *q;
	struct apf_buf diff = APF_BUF_INIT;
	int rc = 0;

	copy_str(out->id, sizeof(out->id), json_object_get(d, "id"));
	copy_str(out->name, sizeof(out->name), json_object_get(d, "name"));
	copy_str(out->workspace_id, sizeof(out->workspace_id), json_object_get(d, "workspace_id"));
	apf_strlcpy(out->workspace, workspace ? workspace : "", sizeof(out->workspace));
	fields = list_items(a, "/api/v1/datasets/%s/fields", out->id, err, &rc);
	if (!rc)
		questions = list_items(a, "/api/v1/datasets/%s/questions", out->id, err, &rc);
	if (!rc)
		mprops = list_items(a, "/api/v1/me/datasets/%s/metadata-properties", out->id, err, &rc);
	if (rc)
		goto out;
	apf_buf_init(&diff, 0);
	check_settings(fields, questions, mprops, ls, &diff);
	if (diff.len) {
		rc = apf_error(err, APF_EINVAL,
			       "Argilla dataset '%s' in workspace '%s' does not have the settings of labelset %s (%s); "
			       "it was not modified: use another --dataset name",
			       out->name, out->workspace, ls->version, diff.data + 2);
		goto out;
	}
	q = find_named(questions, ls->question_name);
	copy_str(out->question_id, sizeof(out->question_id), json_object_get(q, "id"));
out:
	apf_buf_release(&diff);
	json_decref(fields);
	json_decref(questions);
	json_decref(mprops);
	return rc;
}

int apf_argilla_dataset_lookup(struct apf_argilla *a, const char *workspace_id, const char *workspace,
			       const char *name, const struct apf_labelset *ls, struct apf_argilla_dataset *out,
			       struct apf_err *err)
{
	json_t *d = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!name || !*name || strlen(name) > 200)
		return apf_error(err, APF_EUSAGE, "bad dataset name '%s': 1 to 200 characters", name ? name : "");
	rc = dataset_find(a, workspace_id, name, &d, err);
	if (rc)
		return rc;
	if (!d)
		return apf_error(err, APF_ENOTFOUND, "no Argilla dataset '%s' in workspace '%s'", name, workspace);
	if (strcmp(jstr(json_object_get(d, "status")), "ready")) {
		json_decref(d);
		return apf_error(err, APF_ENOTFOUND, "Argilla dataset '%s' in workspace '%s' is a draft", name, workspace);
	}
	rc = fill_dataset(a, d, workspace, ls, out, err);
	json_decref(d);
	return rc;
}

/* Several POSTs at once, each on a thread of its own (post_create). */
struct post_job {
	struct apf_argilla *a;
	char *path;
	json_t *body;
	json_t *out;   /* the answer, when want_out */
	int want_out;
	int rc;
	struct apf_err err;
};

static void *post_job_run(void *arg)
{
	struct post_job *j = arg;

	apf_err_clear(&j->err);
	j->rc = post_create(j->a, j->path, j->body, j->want_out ? &j->out : NULL, NULL, &j->err);
	return NULL;
}

static int post_all(struct post_job *jobs, size_t n, struct apf_err *err)
{
	pthread_t th[16];
	int started[16] = { 0 };
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (i < 16 && !pthread_create(&th[i], NULL, post_job_run, &jobs[i]))
			started[i] = 1;
		else
			post_job_run(&jobs[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (i < 16 && started[i])
			pthread_join(th[i], NULL);
		if (jobs[i].rc && !rc) {
			rc = jobs[i].rc;
			*err = jobs[i].err;
		}
	}
	return rc;
}

/*
 * Sets up a dataset this process has just created (empty, a draft): the
 * text field and the metadata properties at once, then the question (it
 * names the field), then publish: three round trips instead of the
 * fourteen of reading what is there first and creating one at a time.
 * Fills out from the answers; a published dataset created like this has
 * the settings apflow needs, so they are not read back.
 */
static int setup_created(struct apf_argilla *a, const char *id, const struct apf_labelset *ls,
			 struct apf_argilla_dataset *out, struct apf_err *err)
{
	static const struct {
		const char *name, *title, *type;
	} md[] = {
#define X(name, title, type) { name, title, type },
		APF_ARGILLA_METADATA(X)
#undef X
	};
	enum { NMD = sizeof(md) / sizeof(md[0]) };
	struct post_job jobs[NMD + 1], q;
	char *fields = apf_xasprintf("/api/v1/datasets/%s/fields", id);
	char *mprops = apf_xasprintf("/api/v1/datasets/%s/metadata-properties", id);
	char *path;
	int rc;

	memset(jobs, 0, sizeof(jobs));
	memset(&q, 0, sizeof(q));
	jobs[0].a = a;
	jobs[0].path = fields;
	jobs[0].body = json_pack("{s:s, s:s, s:b, s:{s:s, s:b}}", "name", "text", "title", "Text", "required", 1,
				 "settings", "type", "text", "use_markdown", 0);
	for (size_t i = 0; i < NMD; i++) {
		jobs[i + 1].a = a;
		jobs[i + 1].path = mprops;
		jobs[i + 1].body = metadata_body(md[i].name, md[i].title, md[i].type);
	}
	rc = post_all(jobs, NMD + 1, err);
	for (size_t i = 0; i < NMD + 1; i++)
		json_decref(jobs[i].body);
	free(fields);
	free(mprops);
	if (rc)
		return rc;
	q.a = a;
	q.path = apf_xasprintf("/api/v1/datasets/%s/questions", id);
	q.body = span_question_body(ls, "text");
	q.want_out = 1;
	rc = post_all(&q, 1, err);
	if (!rc)
		copy_str(out->question_id, sizeof(out->question_id), json_object_get(q.out, "id"));
	free(q.path);
	json_decref(q.body);
	json_decref(q.out);
	if (rc)
		return rc;
	if (!out->question_id[0]) /* a 409: another process made it meanwhile */
		return apf_error(err, APF_EEXISTS, "POST /api/v1/datasets/%s/questions: made by another process", id);
	path = apf_xasprintf("/api/v1/datasets/%s/publish", id);
	rc = apf_argilla_call(a, "PUT", path, "{}", 2, NULL, NULL, err);
	free(path);
	return rc;
}

int apf_argilla_dataset_open(struct apf_argilla *a, const char *workspace_id, const char *workspace,
			     const char *name, const struct apf_labelset *ls, int create,
			     struct apf_argilla_dataset *out, struct apf_err *err)
{
	json_t *d = NULL, *body;
	int rc, created = 0;

	memset(out, 0, sizeof(*out));
	if (!name || !*name || strlen(name) > 200)
		return apf_error(err, APF_EUSAGE, "bad dataset name '%s': 1 to 200 characters", name ? name : "");
	for (int attempt = 0; attempt < 3; attempt++) {
		/* The caller has just looked: create first, read on a 409. */
		if (attempt > 0 || create != APF_ARGILLA_CREATE_FIRST) {
			rc = dataset_find(a, workspace_id, name, &d, err);
			if (rc)
				return rc;
			if (d)
				break;
		}
		if (!create)
			return apf_error(err, APF_ENOTFOUND, "no Argilla dataset '%s' in workspace '%s'", name, workspace);
		body = json_pack("{s:s, s:b, s:{s:s, s:i}, s:s}", "name", name, "allow_extra_metadata", 1,
				 "distribution", "strategy", "overlap", "min_submitted", 1, "workspace_id",
				 workspace_id);
		{
			int existed = 0;
			rc = post_create(a, "/api/v1/datasets", body, &d, &existed, err);
			json_decref(body);
			if (rc)
				return rc;
			if (!existed) {
				created = 1;
				break;
			}
			json_decref(d);
			d = NULL; /* 409: someone else made it; read it */
		}
	}
	if (!d)
		return apf_error(err, APF_ENET, "dataset '%s': created by another process but not found", name);
	if (created && !strcmp(jstr(json_object_get(d, "status")), "draft")) {
		copy_str(out->id, sizeof(out->id), json_object_get(d, "id"));
		copy_str(out->name, sizeof(out->name), json_object_get(d, "name"));
		copy_str(out->workspace_id, sizeof(out->workspace_id), json_object_get(d, "workspace_id"));
		apf_strlcpy(out->workspace, workspace ? workspace : "", sizeof(out->workspace));
		json_decref(d);
		d = NULL;
		rc = setup_created(a, out->id, ls, out, err);
		if (!rc) {
			out->created = 1;
			return 0;
		}
		if (rc != APF_EEXISTS && rc != APF_EINVAL)
			return apf_error_prefix(err, "cannot set up Argilla dataset '%s'", name);
		/* Another process found the draft and is completing it (a 409 on
		 * the question, a 422 once it has published): read it again and
		 * go the careful way below. */
		apf_log_debug("dataset '%s' is being set up by another process too (%s)", name, err->msg);
		apf_err_clear(err);
		rc = dataset_find(a, workspace_id, name, &d, err);
		if (rc)
			return rc;
		if (!d)
			return apf_error(err, APF_ENET, "dataset '%s': created but not found", name);
		memset(out, 0, sizeof(*out));
	}
	if (!strcmp(jstr(json_object_get(d, "status")), "draft")) {
		char id[64];
		copy_str(id, sizeof(id), json_object_get(d, "id"));
		if (!created)
			apf_log_info("dataset '%s' is a draft (being created, or an interrupted run): completing it", name);
		rc = complete_draft(a, id, ls, err);
		if (rc == APF_EINVAL) {
			/* Another process set it up and published it while this one
			 * was completing it (a question after publish is a 422): if
			 * it is published now, it is checked like any other. */
			json_t *again = NULL;
			struct apf_err err2;
			apf_err_clear(&err2);
			if (!dataset_find(a, workspace_id, name, &again, &err2) && again &&
			    !strcmp(jstr(json_object_get(again, "status")), "ready")) {
				apf_log_debug("dataset '%s' was published by another process meanwhile", name);
				json_decref(d);
				d = again;
				apf_err_clear(err);
				rc = 0;
			} else {
				json_decref(again);
			}
		}
		if (rc) {
			json_decref(d);
			return apf_error_prefix(err, "cannot set up Argilla dataset '%s'", name);
		}
	}
	rc = fill_dataset(a, d, workspace, ls, out, err);
	json_decref(d);
	out->created = created;
	return rc;
}
