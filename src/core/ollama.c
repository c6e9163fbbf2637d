/* ollama.c: entity suggestions from an LLM behind Ollama (see ollama.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apflow/buf.h"
#include "apflow/http.h"
#include "apflow/log.h"
#include "apflow/ollama.h"
#include "apflow/utf8.h"
#include "apflow/util.h"

/* An answer is a list of short entities; more than this is not one. */
#define ANSWER_MAX ((size_t)8 << 20)
/* Room for the instructions, the schema and the answer in num_ctx. */
#define PROMPT_TOKENS 700
#define ANSWER_TOKENS 2048
/* A pessimistic 3 code points per token for OCR'd text. */
#define CHARS_PER_TOKEN 3

struct apf_ollama {
	struct apf_http *http;      /* requests to the model (long timeout) */
	struct apf_http *probe;     /* /api/version and /api/tags (short) */
	const struct apf_labelset *ls;
	char *base;                 /* URL without a trailing slash */
	char *shown;                /* the same without user:password@ */
	char *chat_url;
	char *model;
	char *system;               /* the instructions */
	char *format;               /* the JSON schema, as JSON text */
	int timeout_s, deadline_s, retries, num_ctx, seed, chunk_chars, overlap_chars;
	long backoff_base_ms;
	const volatile sig_atomic_t *cancel; /* apf_ollama_set_cancel() */
};

void apf_ollama_set_cancel(struct apf_ollama *ol, const volatile sig_atomic_t *cancel)
{
	ol->cancel = cancel;
}

char *apf_ollama_agent(const char *model)
{
	char *a = apf_xasprintf("ollama-%s", model ? model : "");
	size_t n = strlen(a);

	for (char *p = a + strlen("ollama-"); *p; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
			c = '-';
		*p = c;
	}
	if (n > 200) /* Argilla's limit for an agent name */
		a[200] = '\0';
	return a;
}

static char *build_system(const struct apf_labelset *ls)
{
	struct apf_buf b = APF_BUF_INIT;

	apf_buf_adds(&b, "You find named entities in text read from maritime documents (OCR output, "
			 "which may contain errors). The entity labels are:\n");
	for (size_t i = 0; i < ls->n; i++)
		apf_buf_addf(&b, "- %s: %s\n", ls->labels[i].name, ls->labels[i].description);
	apf_buf_adds(&b, "Respond using JSON: {\"entities\": [{\"text\": \"...\", \"label\": \"...\"}]}, one item "
			 "per distinct entity in the user's text. Copy \"text\" exactly as it appears in the user's "
			 "text, character for character, without the surrounding words (for a vessel, the name "
			 "without M/V, MT or SS). \"label\" is one of the labels above. Answer {\"entities\": []} "
			 "when there is none.");
	return apf_buf_detach(&b, NULL);
}

static char *build_format(const struct apf_labelset *ls)
{
	json_t *labels = json_array(), *schema;
	char *s;

	for (size_t i = 0; i < ls->n; i++)
		json_array_append_new(labels, json_string(ls->labels[i].name));
	schema = json_pack("{s:s, s:{s:{s:s, s:{s:s, s:{s:{s:s}, s:{s:s, s:o}}, s:[s,s]}}}, s:[s]}", "type", "object",
			   "properties", "entities", "type", "array", "items", "type", "object", "properties", "text",
			   "type", "string", "label", "type", "string", "enum", labels, "required", "text", "label",
			   "required", "entities");
	s = json_dumps(schema, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(schema);
	return s;
}

int apf_ollama_new(const struct apf_ollama_options *opt, const struct apf_labelset *ls, struct apf_ollama **out,
		   struct apf_err *err)
{
	struct apf_http_options hopt = { 0 }, popt = { 0 };
	struct apf_ollama *ol;
	size_t n;
	int rc;

	if (!ls)
		return apf_error(err, APF_EINTERNAL, "no labelset");
	if (!opt->url || !*opt->url)
		return apf_error(err, APF_ECONFIG, "no Ollama server: set ollama_url or give --ollama-url");
	if (!apf_starts_with(opt->url, "http://") && !apf_starts_with(opt->url, "https://")) {
		char *shown = apf_http_url_shown(opt->url);
		rc = apf_error(err, APF_ECONFIG, "bad Ollama URL '%s': not an http:// or https:// URL", shown);
		free(shown);
		return rc;
	}
	if (!opt->model || !*opt->model)
		return apf_error(err, APF_ECONFIG, "no Ollama model: set ollama_model or give --model");
	ol = apf_xcalloc(1, sizeof(*ol));
	ol->timeout_s = opt->timeout_s > 0 ? opt->timeout_s : 300;
	ol->deadline_s = opt->deadline_s > 0 ? opt->deadline_s : 900;
	ol->retries = opt->retries >= 0 ? opt->retries : 4;
	ol->backoff_base_ms = opt->backoff_base_ms > 0 ? opt->backoff_base_ms : 500;
	ol->num_ctx = opt->num_ctx > 0 ? opt->num_ctx : 8192;
	ol->seed = opt->seed;
	ol->chunk_chars = opt->chunk_chars > 0 ? opt->chunk_chars
					       : (ol->num_ctx - PROMPT_TOKENS - ANSWER_TOKENS) * CHARS_PER_TOKEN;
	if (ol->chunk_chars < 200)
		ol->chunk_chars = 200;
	ol->overlap_chars = opt->overlap_chars > 0 ? opt->overlap_chars : 200;
	if (ol->overlap_chars > ol->chunk_chars / 2)
		ol->overlap_chars = ol->chunk_chars / 2;
	/* One attempt never outlasts the deadline; retries are ours. */
	hopt.low_speed_time_s = ol->timeout_s < ol->deadline_s ? ol->timeout_s : ol->deadline_s;
	hopt.max_retries = 0;
	popt.connect_timeout_ms = 3000;
	popt.low_speed_time_s = 10;
	popt.max_retries = 0;
	rc = apf_http_new(&hopt, &ol->http, err);
	if (!rc)
		rc = apf_http_new(&popt, &ol->probe, err);
	if (rc) {
		apf_ollama_free(ol);
		return rc;
	}
	ol->ls = ls;
	n = strlen(opt->url);
	while (n > 0 && opt->url[n - 1] == '/')
		n--;
	ol->base = apf_xstrndup(opt->url, n);
	ol->shown = apf_http_url_shown(ol->base);
	ol->chat_url = apf_xasprintf("%s/api/chat", ol->base);
	ol->model = apf_xstrdup(opt->model);
	ol->system = build_system(ls);
	ol->format = build_format(ls);
	*out = ol;
	return 0;
}

void apf_ollama_free(struct apf_ollama *ol)
{
	if (!ol)
		return;
	apf_http_free(ol->http);
	apf_http_free(ol->probe);
	free(ol->base);
	free(ol->shown);
	free(ol->chat_url);
	free(ol->model);
	free(ol->system);
	free(ol->format);
	free(ol);
}

const char *apf_ollama_url(const struct apf_ollama *ol)
{
	return ol->shown;
}

const char *apf_ollama_model(const struct apf_ollama *ol)
{
	return ol->model;
}

int apf_ollama_chunk_chars(const struct apf_ollama *ol)
{
	return ol->chunk_chars;
}

static int probe_get(struct apf_ollama *ol, const char *path, struct apf_http_response *resp, struct apf_err *err)
{
	struct apf_http_request req;
	char *url = apf_xasprintf("%s%s", ol->base, path);
	char *what = apf_xasprintf("%s%s", ol->shown, path);
	int rc;

	apf_http_request_init(&req);
	req.method = "GET";
	req.url = url;
	req.what = what;
	req.max_retries = 0;
	req.resp_max = ANSWER_MAX;
	rc = apf_http_request(ol->probe, &req, resp, err);
	free(url);
	free(what);
	return rc;
}

int apf_ollama_check(struct apf_ollama *ol, struct apf_err *err)
{
	struct apf_http_response resp;
	json_t *root = NULL, *models;
	int rc, found = 0;
	char msg[256];

	apf_http_response_init(&resp);
	rc = probe_get(ol, "/api/version", &resp, err);
	if (rc) {
		char why[APF_ERR_MSG_MAX];
		apf_strlcpy(why, err->msg, sizeof(why));
		rc = apf_error(err, APF_ENET, "cannot reach Ollama at '%s': %s (is 'ollama serve' running?)", ol->shown,
			       why);
		goto out;
	}
	if (resp.status != 200) {
		apf_http_error_text(&resp.body, msg, sizeof(msg));
		rc = apf_error(err, APF_ENET, "'%s/api/version' answered HTTP %ld%s%s: is it Ollama?", ol->shown,
			       resp.status, msg[0] ? ": " : "", msg);
		goto out;
	}
	apf_http_response_release(&resp);
	apf_http_response_init(&resp);
	rc = probe_get(ol, "/api/tags", &resp, err);
	if (rc) {
		apf_error_prefix(err, "cannot list the models of Ollama at '%s'", ol->shown);
		goto out;
	}
	root = resp.status == 200 ? json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL) : NULL;
	models = json_object_get(root, "models");
	if (!json_is_array(models)) {
		rc = apf_error(err, APF_ENET, "'%s/api/tags' answered HTTP %ld without a model list", ol->shown,
			       resp.status);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(models) && !found; i++) {
		json_t *m = json_array_get(models, i);
		const char *names[2] = { json_string_value(json_object_get(m, "name")),
					 json_string_value(json_object_get(m, "model")) };
		for (int k = 0; k < 2; k++) {
			const char *nm = names[k];
			size_t ml = strlen(ol->model);
			if (!nm)
				continue;
			/* "llama3.3" names "llama3.3:latest". */
			if (!strcmp(nm, ol->model) ||
			    (!strchr(ol->model, ':') && !strncmp(nm, ol->model, ml) && !strcmp(nm + ml, ":latest")))
				found = 1;
		}
	}
	if (!found)
		rc = apf_error(err, APF_ENOTFOUND, "model '%s' is not available at '%s': run 'ollama pull %s'", ol->model,
			       ol->shown, ol->model);
out:
	json_decref(root);
	apf_http_response_release(&resp);
	return rc;
}

/* ---- splitting ---- */

static int is_space_cp(uint32_t c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == 0x3000 || c == 0xA0;
}

void apf_ollama_split(const char *text, size_t len, size_t chunk_cp, size_t overlap_cp, size_t **starts,
		      size_t **ends, size_t *n)
{
	size_t ncp = 0, cap = 4, k = 0, start = 0;
	uint32_t *cps = apf_xmalloc((len + 1) * sizeof(*cps));
	size_t *s = apf_xmalloc(cap * sizeof(*s)), *e = apf_xmalloc(cap * sizeof(*e));

	for (size_t i = 0; i < len;) {
		i += apf_utf8_decode(text + i, len - i, &cps[ncp]);
		ncp++;
	}
	if (chunk_cp < 2)
		chunk_cp = 2;
	if (overlap_cp >= chunk_cp / 2)
		overlap_cp = chunk_cp / 2;
	for (;;) {
		size_t end = start + chunk_cp < ncp ? start + chunk_cp : ncp;

		if (end < ncp) {
			/* Cut after the last whitespace in the second half. */
			for (size_t j = end; j > start + chunk_cp / 2; j--) {
				if (is_space_cp(cps[j - 1])) {
					end = j;
					break;
				}
			}
		}
		if (k == cap) {
			cap *= 2;
			s = apf_xrealloc(s, cap * sizeof(*s));
			e = apf_xrealloc(e, cap * sizeof(*e));
		}
		s[k] = start;
		e[k] = end;
		k++;
		if (end >= ncp)
			break;
		/* The next chunk starts overlap_cp back, at a word's start
		 * when there is one before the end (else mid-word). */
		size_t next = end > overlap_cp ? end - overlap_cp : 0;
		if (next > 0 && !is_space_cp(cps[next - 1])) {
			for (size_t j = next; j + 1 < end; j++) {
				if (is_space_cp(cps[j])) {
					next = j + 1;
					break;
				}
			}
		}
		if (next <= start)
			next = end;
		start = next;
	}
	free(cps);
	*starts = s;
	*ends = e;
	*n = k;
}

/* ---- requests ---- */

static int build_body(const struct apf_ollama *ol, const char *chunk, size_t len, char **out)
{
	json_t *fmt = json_loads(ol->format, 0, NULL);
	json_t *user = json_stringn(chunk, len);
	json_t *body;

	if (!fmt || !user) {
		json_decref(fmt);
		json_decref(user);
		return -1;
	}
	body = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:o}], s:o, s:b, s:{s:i, s:i, s:i, s:i}}", "model", ol->model,
			 "messages", "role", "system", "content", ol->system, "role", "user", "content", user, "format",
			 fmt, "stream", 0, "options", "temperature", 0, "seed", ol->seed, "num_ctx", ol->num_ctx,
			 "num_predict", ANSWER_TOKENS);
	if (!body)
		return -1;
	*out = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	return *out ? 0 : -1;
}

/* The entities of one answer body; APF_EINVAL when it is not what was asked. */
static int parse_answer(const struct apf_ollama *ol, const struct apf_buf *body, json_t **entities,
			struct apf_ollama_stats *st, struct apf_err *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(body->data ? body->data : "", body->len, 0, &jerr), *content, *inner = NULL, *list;
	const char *reason;
	int rc = 0;

	if (!root)
		return apf_error(err, APF_EINVAL, "malformed answer from Ollama at '%s': %s", ol->shown, jerr.text);
	content = json_object_get(json_object_get(root, "message"), "content");
	reason = json_string_value(json_object_get(root, "done_reason"));
	if (!json_is_string(content)) {
		rc = apf_error(err, APF_EINVAL, "malformed answer from Ollama at '%s': no message.content", ol->shown);
		goto out;
	}
	if (reason && !strcmp(reason, "length")) {
		rc = apf_error(err, APF_EINVAL, "the answer of model '%s' was cut at %d tokens (done_reason length)",
			       ol->model, ANSWER_TOKENS);
		goto out;
	}
	if (json_integer_value(json_object_get(root, "prompt_eval_count")) >= ol->num_ctx)
		apf_log_warn("model '%s': the prompt filled num_ctx %d: the chunk may have been truncated", ol->model,
			     ol->num_ctx);
	inner = json_loadb(json_string_value(content), json_string_length(content), 0, &jerr);
	list = json_object_get(inner, "entities");
	if (!json_is_array(list)) {
		rc = apf_error(err, APF_EINVAL, "the answer of model '%s' is not {\"entities\": [...]}: %.80s", ol->model,
			       json_string_value(content));
		goto out;
	}
	*entities = json_array();
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		json_t *t = json_object_get(e, "text"), *l = json_object_get(e, "label");
		if (!json_is_string(t) || !json_is_string(l)) {
			st->dropped_bad++;
			continue;
		}
		json_array_append_new(*entities, json_pack("{s:O, s:O}", "text", t, "label", l));
	}
out:
	json_decref(inner);
	json_decref(root);
	return rc;
}

/* One chunk: POST /api/chat, retried as ollama.h says. */
static int chat(struct apf_ollama *ol, const char *chunk, size_t len, json_t **entities, struct apf_ollama_stats *st,
		struct apf_err *err)
{
	const char *headers[] = { "Content-Type: application/json", NULL };
	int64_t deadline = apf_now_ms() + (int64_t)ol->deadline_s * 1000;
	char *body = NULL;
	int rc = 0;

	if (build_body(ol, chunk, len, &body))
		return apf_error(err, APF_EINVAL, "cannot build the Ollama request: the text is not UTF-8");
	for (int attempt = 0;; attempt++) {
		struct apf_http_request req;
		struct apf_http_response resp;
		int retryable;
		char msg[256] = "";

		apf_http_request_init(&req);
		apf_http_response_init(&resp);
		req.method = "POST";
		req.url = ol->chat_url;
		req.what = ol->shown;
		req.headers = headers;
		req.has_body = 1;
		req.body = body;
		req.body_len = strlen(body);
		req.resp_max = ANSWER_MAX;
		req.max_retries = 0;
		req.cancel = ol->cancel;
		/* One attempt never outlasts the timeout nor the deadline
		 * (curl's low-speed check alone averages over seconds). */
		int64_t left = deadline - apf_now_ms();
		req.timeout_ms = (long)(left < (int64_t)ol->timeout_s * 1000 ? left : (int64_t)ol->timeout_s * 1000);
		if (req.timeout_ms < 1)
			req.timeout_ms = 1;
		st->requests++;
		rc = apf_http_request(ol->http, &req, &resp, err);
		if (!rc && resp.status >= 200 && resp.status <= 299) {
			rc = parse_answer(ol, &resp.body, entities, st, err);
			apf_http_response_release(&resp);
			break;
		}
		retryable = rc == APF_ENET || (!rc && apf_http_status_retryable(resp.status));
		if (!rc) {
			apf_http_error_text(&resp.body, msg, sizeof(msg));
			rc = apf_error(err, APF_ENET, "Ollama at '%s' answered HTTP %ld%s%s", ol->shown, resp.status,
				       msg[0] ? ": " : "", msg);
		}
		apf_http_response_release(&resp);
		if (!retryable || (ol->cancel && *ol->cancel))
			break;
		if (attempt >= ol->retries) {
			apf_error_prefix(err, "model '%s' failed %d time%s", ol->model, attempt + 1, attempt ? "s" : "");
			break;
		}
		long delay = apf_http_backoff_ms(ol->backoff_base_ms, 20000, attempt);
		if (apf_now_ms() + delay >= deadline) {
			apf_error_prefix(err, "model '%s': deadline of %d s passed after %d attempt%s", ol->model,
					 ol->deadline_s, attempt + 1, attempt ? "s" : "");
			break;
		}
		apf_log_warn("model '%s' at '%s': %s; retrying in %ld ms", ol->model, ol->shown, err->msg, delay);
		st->retries++;
		apf_sleep_ms(delay);
		apf_err_clear(err);
	}
	free(body);
	return rc;
}

int apf_ollama_annotate(struct apf_ollama *ol, const char *text, size_t len, json_t **answer,
			struct apf_ollama_stats *st, struct apf_err *err)
{
	size_t *starts = NULL, *ends = NULL, n = 0;
	json_t *chunks = json_array();
	int rc = 0;

	if (apf_utf8_validate(text, len, NULL)) {
		json_decref(chunks);
		return apf_error(err, APF_EINVAL, "the page text is not UTF-8");
	}
	apf_ollama_split(text, len, (size_t)ol->chunk_chars, (size_t)ol->overlap_chars, &starts, &ends, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		size_t bs = 0, be = 0;
		json_t *ents = NULL;

		apf_utf8_cp_to_byte(text, len, starts[i], &bs);
		apf_utf8_cp_to_byte(text, len, ends[i], &be);
		st->chunks++;
		rc = chat(ol, text + bs, be - bs, &ents, st, err);
		if (!rc)
			json_array_append_new(chunks, json_pack("{s:I, s:I, s:o}", "start", (json_int_t)starts[i], "end",
								(json_int_t)ends[i], "entities", ents));
	}
	free(starts);
	free(ends);
	if (rc) {
		json_decref(chunks);
		return rc;
	}
	*answer = json_pack("{s:o}", "chunks", chunks);
	return 0;
}

/* ---- alignment ---- */

static int ascii_word(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int ws_byte(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* A match [ms, me) must not cut an ASCII word in two. */
static int on_boundary(const char *text, size_t lo, size_t hi, size_t ms, size_t me)
{
	if (ms > lo && ascii_word((unsigned char)text[ms]) && ascii_word((unsigned char)text[ms - 1]))
		return 0;
	if (me < hi && ascii_word((unsigned char)text[me - 1]) && ascii_word((unsigned char)text[me]))
		return 0;
	return 1;
}

/* Matches needle at text+p with any whitespace run in the needle matching
 * any non-empty whitespace run in the text; returns the end, or 0. */
static size_t match_flexible(const char *text, size_t p, size_t hi, const char *needle, size_t nlen)
{
	size_t i = 0;

	while (i < nlen) {
		if (ws_byte((unsigned char)needle[i])) {
			if (p >= hi || !ws_byte((unsigned char)text[p]))
				return 0;
			while (i < nlen && ws_byte((unsigned char)needle[i]))
				i++;
			while (p < hi && ws_byte((unsigned char)text[p]))
				p++;
			continue;
		}
		if (p >= hi || text[p] != needle[i])
			return 0;
		p++;
		i++;
	}
	return p;
}

static int label_of(const struct apf_labelset *ls, const char *label)
{
	char up[64];
	size_t i;
	int k = apf_labelset_find(ls, label);

	if (k >= 0)
		return k;
	for (i = 0; label[i] && i + 1 < sizeof(up); i++) {
		char c = label[i];
		up[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : (c == ' ' || c == '-') ? '_' : c;
	}
	up[i] = '\0';
	return label[i] ? -1 : apf_labelset_find(ls, up);
}

static void add_span(struct apf_spans *out, int64_t s, int64_t e, const char *label)
{
	if (out->n == out->alloc) {
		out->alloc = out->alloc ? out->alloc * 2 : 16;
		out->v = apf_xrealloc(out->v, out->alloc * sizeof(*out->v));
	}
	out->v[out->n++] = (struct apf_span){ s, e, label, -1 };
}

static int cmp_span(const void *a, const void *b)
{
	const struct apf_span *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return strcmp(x->label, y->label);
}

int apf_ollama_align(const char *text, size_t len, const json_t *answer, const struct apf_labelset *ls,
		     struct apf_spans *out, struct apf_ollama_stats *st, struct apf_err *err)
{
	json_t *chunks = json_object_get(answer, "chunks");
	size_t first = out->n, ncp = apf_utf8_count(text, len);
	struct apf_spans mine = { 0 };

	if (!json_is_array(chunks))
		return apf_error(err, APF_EINVAL, "bad Ollama answer: no chunks");
	for (size_t c = 0; c < json_array_size(chunks); c++) {
		json_t *ch = json_array_get(chunks, c), *ents = json_object_get(ch, "entities");
		json_int_t cs = json_integer_value(json_object_get(ch, "start"));
		json_int_t ce = json_integer_value(json_object_get(ch, "end"));
		size_t lo, hi;

		if (cs < 0 || ce < cs || (size_t)ce > ncp || !json_is_array(ents) ||
		    apf_utf8_cp_to_byte(text, len, (size_t)cs, &lo) || apf_utf8_cp_to_byte(text, len, (size_t)ce, &hi)) {
			free(mine.v);
			return apf_error(err, APF_EINVAL, "bad Ollama answer: chunk %zu does not fit the text", c);
		}
		for (size_t i = 0; i < json_array_size(ents); i++) {
			json_t *e = json_array_get(ents, i);
			const char *et = json_string_value(json_object_get(e, "text"));
			const char *el = json_string_value(json_object_get(e, "label"));
			size_t nlen, found = 0;
			int k;

			if (!et || !el) {
				st->dropped_bad++;
				continue;
			}
			k = label_of(ls, el);
			if (k < 0) {
				st->dropped_label++;
				continue;
			}
			/* Surrounding whitespace is not part of an entity. */
			while (ws_byte((unsigned char)*et))
				et++;
			nlen = strlen(et);
			while (nlen && ws_byte((unsigned char)et[nlen - 1]))
				nlen--;
			for (int pass = 0; pass < 2 && !found && nlen; pass++) {
				for (size_t p = lo; p + (pass ? 1 : nlen) <= hi; p++) {
					size_t me;
					if (text[p] != et[0])
						continue;
					if (!pass)
						me = memcmp(text + p, et, nlen) ? 0 : p + nlen;
					else
						me = match_flexible(text, p, hi, et, nlen);
					if (!me || !on_boundary(text, lo, hi, p, me))
						continue;
					size_t s = 0, en = 0;
					apf_utf8_byte_to_cp(text, len, p, &s);
					apf_utf8_byte_to_cp(text, len, me, &en);
					add_span(&mine, (int64_t)s, (int64_t)en, ls->labels[k].name);
					found++;
					p = me - 1;
				}
			}
			if (!found)
				st->dropped_text++;
		}
	}
	if (mine.n)
		qsort(mine.v, mine.n, sizeof(*mine.v), cmp_span);
	for (size_t i = 0; i < mine.n; i++) {
		if (out->n > first && !cmp_span(&out->v[out->n - 1], &mine.v[i]))
			continue;
		add_span(out, mine.v[i].start, mine.v[i].end, mine.v[i].label);
	}
	free(mine.v);
	return 0;
}
