/*
 * deepseek.c: DeepSeek-OCR over vLLM's OpenAI-compatible API or Ollama's
 * chat API (see deepseek.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apflow/deepseek.h"
#include "apflow/http.h"
#include "apflow/json.h"
#include "apflow/log.h"
#include "apflow/utf8.h"
#include "apflow/util.h"

struct apf_deepseek {
	struct apf_http *http;
	enum apf_deepseek_api api;
	char *url;          /* the endpoint, as requested */
	char *display_url;  /* the same without user:password@ */
	char *model;
	char *prompt;       /* as sent: without the leading <image> */
	char *auth_header;  /* "Authorization: Bearer ..." or NULL */
	int max_tokens;
	long timeout_ms;    /* one attempt (deepseek_timeout) */
	int retries;
	const volatile sig_atomic_t *cancel; /* apf_deepseek_set_cancel() */
};

void apf_deepseek_set_cancel(struct apf_deepseek *ds, const volatile sig_atomic_t *cancel)
{
	ds->cancel = cancel;
}

int apf_deepseek_parse_api(const char *s, enum apf_deepseek_api *out)
{
	if (!s)
		return -1;
	if (!strcmp(s, "openai") || !strcmp(s, "vllm")) {
		*out = APF_DEEPSEEK_OPENAI;
		return 0;
	}
	if (!strcmp(s, "ollama")) {
		*out = APF_DEEPSEEK_OLLAMA;
		return 0;
	}
	return -1;
}

const char *apf_deepseek_api_name(enum apf_deepseek_api api)
{
	return api == APF_DEEPSEEK_OLLAMA ? "ollama" : "openai";
}

const char *apf_deepseek_default_model(enum apf_deepseek_api api)
{
	return api == APF_DEEPSEEK_OLLAMA ? "deepseek-ocr" : "deepseek-ai/DeepSeek-OCR";
}

const char *apf_deepseek_model(const struct apf_deepseek *ds)
{
	return ds->model;
}

const char *apf_deepseek_endpoint(const struct apf_deepseek *ds)
{
	return ds->display_url;
}

/* The endpoint for base: the API's path is appended unless already there. */
static char *endpoint_url(const char *base, enum apf_deepseek_api api)
{
	const char *path = api == APF_DEEPSEEK_OLLAMA ? "/api/chat" : "/v1/chat/completions";
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n >= strlen(path) && !strncmp(base + n - strlen(path), path, strlen(path)))
		return apf_xstrndup(base, n);
	/* An OpenAI client's base_url ends in /v1. */
	if (api == APF_DEEPSEEK_OPENAI && n >= 3 && !strncmp(base + n - 3, "/v1", 3))
		return apf_xasprintf("%.*s/chat/completions", (int)n, base);
	return apf_xasprintf("%.*s%s", (int)n, base, path);
}

int apf_deepseek_new(const struct apf_deepseek_options *opt, struct apf_deepseek **out,
		     struct apf_err *err)
{
	struct apf_http_options hopt = { 0 };
	struct apf_deepseek *ds;
	const char *prompt = opt->prompt ? opt->prompt : APF_DEEPSEEK_PROMPT;
	int rc;

	if (!opt->url || !*opt->url)
		return apf_error(err, APF_ECONFIG, "no DeepSeek server: set deepseek_url");
	if (!apf_starts_with(opt->url, "http://") && !apf_starts_with(opt->url, "https://")) {
		char *shown = apf_http_url_shown(opt->url);
		rc = apf_error(err, APF_ECONFIG, "bad deepseek_url '%s': not an http:// or https:// URL",
			       shown);
		free(shown);
		return rc;
	}
	hopt.low_speed_time_s = opt->timeout_s > 0 ? opt->timeout_s : APF_DEEPSEEK_TIMEOUT_S;
	hopt.max_retries = opt->retries;
	hopt.backoff_base_ms = opt->backoff_base_ms;
	ds = apf_xcalloc(1, sizeof(*ds));
	rc = apf_http_new(&hopt, &ds->http, err);
	if (rc) {
		free(ds);
		return rc;
	}
	ds->api = opt->api;
	ds->timeout_ms = (long)hopt.low_speed_time_s * 1000;
	ds->retries = opt->retries >= 0 ? opt->retries : 4;
	ds->url = endpoint_url(opt->url, opt->api);
	ds->display_url = apf_http_url_shown(ds->url);
	ds->model = apf_xstrdup(opt->model && *opt->model ? opt->model : apf_deepseek_default_model(opt->api));
	/* The image travels as its own part; see deepseek.h. */
	if (apf_starts_with(prompt, "<image>")) {
		prompt += strlen("<image>");
		if (*prompt == '\n')
			prompt++;
	}
	ds->prompt = apf_xstrdup(prompt);
	if (opt->api_key && *opt->api_key)
		ds->auth_header = apf_xasprintf("Authorization: Bearer %s", opt->api_key);
	ds->max_tokens = opt->max_tokens > 0 ? opt->max_tokens : APF_DEEPSEEK_MAX_TOKENS;
	*out = ds;
	return 0;
}

void apf_deepseek_free(struct apf_deepseek *ds)
{
	if (!ds)
		return;
	apf_http_free(ds->http);
	free(ds->url);
	free(ds->display_url);
	free(ds->model);
	free(ds->prompt);
	if (ds->auth_header) {
		/* The key should not linger in freed memory. */
		volatile char *p = ds->auth_header;
		while (*p)
			*p++ = '\0';
		free(ds->auth_header);
	}
	free(ds);
}

int apf_base64_append(struct apf_buf *out, const void *data, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	char q[4096];
	size_t n = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (unsigned)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		q[n++] = tab[(v >> 18) & 63];
		q[n++] = tab[(v >> 12) & 63];
		q[n++] = left > 1 ? tab[(v >> 6) & 63] : '=';
		q[n++] = left > 2 ? tab[v & 63] : '=';
		if (n + 4 > sizeof(q)) {
			if (apf_buf_add(out, q, n))
				return -1;
			n = 0;
		}
	}
	return n ? apf_buf_add(out, q, n) : 0;
}

/* Appends the JSON string literal of s; -1 when s is not UTF-8. */
static int add_json_string(struct apf_buf *b, const char *s)
{
	size_t n = strlen(s);

	return apf_utf8_validate(s, n, NULL) ? -1 : apf_json_str(b, s, n);
}

/* The request body; the PNG is base64'd straight into it, no copies. */
static int build_body(const struct apf_deepseek *ds, const void *png, size_t len, struct apf_buf *b)
{
	int bad = 0;

	if (ds->api == APF_DEEPSEEK_OPENAI) {
		bad |= apf_buf_adds(b, "{\"model\":");
		bad |= add_json_string(b, ds->model);
		bad |= apf_buf_adds(b, ",\"messages\":[{\"role\":\"user\",\"content\":["
				       "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,");
		bad |= apf_base64_append(b, png, len);
		bad |= apf_buf_adds(b, "\"}},{\"type\":\"text\",\"text\":");
		bad |= add_json_string(b, ds->prompt);
		/* vLLM's DeepSeek-OCR recipe: keep the end token visible, and
		 * the n-gram processor's window (whitelisting <td>, </td>). */
		bad |= apf_buf_addf(b, "}]}],\"max_tokens\":%d,\"temperature\":0,\"stream\":false,"
				       "\"skip_special_tokens\":false,\"vllm_xargs\":{\"ngram_size\":30,"
				       "\"window_size\":90,\"whitelist_token_ids\":[128821,128822]}}",
				    ds->max_tokens);
	} else {
		bad |= apf_buf_adds(b, "{\"model\":");
		bad |= add_json_string(b, ds->model);
		bad |= apf_buf_adds(b, ",\"messages\":[{\"role\":\"user\",\"content\":");
		bad |= add_json_string(b, ds->prompt);
		bad |= apf_buf_adds(b, ",\"images\":[\"");
		bad |= apf_base64_append(b, png, len);
		/* num_ctx: Ollama's default context silently truncates. */
		bad |= apf_buf_addf(b, "\"]}],\"stream\":false,\"options\":{\"temperature\":0,"
				       "\"num_ctx\":%d,\"num_predict\":%d}}",
				    ds->max_tokens, ds->max_tokens);
	}
	return bad ? -1 : 0;
}

int apf_deepseek_parse_answer(enum apf_deepseek_api api, const char *body, size_t len,
			      struct apf_buf *raw, int *runaway, struct apf_err *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr), *content = NULL;
	const char *reason = NULL;
	int rc = 0;

	*runaway = 0;
	if (!root)
		return apf_error(err, APF_EOCR, "malformed answer from the DeepSeek server: %s", jerr.text);
	if (api == APF_DEEPSEEK_OPENAI) {
		json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
		content = json_object_get(json_object_get(choice, "message"), "content");
		reason = json_string_value(json_object_get(choice, "finish_reason"));
	} else {
		content = json_object_get(json_object_get(root, "message"), "content");
		reason = json_string_value(json_object_get(root, "done_reason"));
		if (json_is_false(json_object_get(root, "done")))
			rc = apf_error(err, APF_EOCR, "malformed answer from the DeepSeek server: "
				       "the answer is not done (a streamed reply?)");
	}
	if (!rc && !json_is_string(content) && !json_is_null(content))
		rc = apf_error(err, APF_EOCR, "malformed answer from the DeepSeek server: no %s",
			       api == APF_DEEPSEEK_OPENAI ? "choices[0].message.content" : "message.content");
	if (!rc && json_is_string(content) &&
	    apf_buf_add(raw, json_string_value(content), json_string_length(content)))
		rc = apf_error(err, APF_ETOOBIG, "the DeepSeek answer passes %zu bytes", raw->cap);
	if (!rc && reason && !strcmp(reason, "length"))
		*runaway = 1;
	json_decref(root);
	return rc;
}

/* DeepSeek's end-of-sentence token, with full-width bars (U+FF5C) and
 * U+2581 between the words, and an ASCII-bar spelling of it. */
static const char *const end_tokens[] = {
	"<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
	"<|end\xe2\x96\x81of\xe2\x96\x81sentence|>",
	"<|end_of_sentence|>",
};

static const char *find_n(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; n <= len && i <= len - n; i++)
		if (s[i] == needle[0] && !memcmp(s + i, needle, n))
			return s + i;
	return NULL;
}

int apf_deepseek_strip(const char *s, size_t len, struct apf_buf *out)
{
	const char *end = s + len, *p = s;
	int bad = 0;

	for (size_t t = 0; t < sizeof(end_tokens) / sizeof(end_tokens[0]); t++) {
		const char *e = find_n(s, (size_t)(end - s), end_tokens[t]);
		if (e)
			end = e;
	}
	while (p < end && !bad) {
		const char *tag = find_n(p, (size_t)(end - p), "<|"), *close;

		if (!tag) {
			bad |= apf_buf_add(out, p, (size_t)(end - p));
			break;
		}
		bad |= apf_buf_add(out, p, (size_t)(tag - p));
		close = find_n(tag + 2, (size_t)(end - tag - 2), "|>");
		if (!close) {
			/* "<|" that opens no marker: plain text. */
			bad |= apf_buf_add(out, tag, 2);
			p = tag + 2;
			continue;
		}
		size_t name_len = (size_t)(close - tag - 2);
		const char *name = tag + 2, *after = close + 2;

		if (name_len == 3 && !memcmp(name, "ref", 3)) {
			const char *rend = find_n(after, (size_t)(end - after), "<|/ref|>");
			if (!rend) {
				p = after; /* a stray opening tag */
				continue;
			}
			const char *next = rend + strlen("<|/ref|>");
			if ((size_t)(end - next) >= 7 && !memcmp(next, "<|det|>", 7)) {
				/* A layout label with its boxes: all of it goes. */
				const char *dend = find_n(next, (size_t)(end - next), "<|/det|>");
				p = dend ? dend + strlen("<|/det|>") : end;
			} else {
				/* A reference without boxes: its text stays. */
				bad |= apf_buf_add(out, after, (size_t)(rend - after));
				p = next;
			}
		} else if (name_len == 3 && !memcmp(name, "det", 3)) {
			const char *dend = find_n(after, (size_t)(end - after), "<|/det|>");
			p = dend ? dend + strlen("<|/det|>") : end;
		} else if (name_len > 0 && name_len <= 32 &&
			   strspn(name, "abcdefghijklmnopqrstuvwxyz_/") >= name_len) {
			p = after; /* <|grounding|>, a stray <|/ref|> ... */
		} else {
			bad |= apf_buf_add(out, tag, 2);
			p = tag + 2;
		}
	}
	if (!bad && !out->data)
		bad |= apf_buf_add(out, "", 0);
	return bad ? -1 : 0;
}

int apf_deepseek_page(struct apf_deepseek *ds, const void *png, size_t len, const char *what,
		      struct apf_buf *out, struct apf_text_stats *stats, struct apf_err *err)
{
	struct apf_http_request req;
	struct apf_http_response resp;
	struct apf_buf body, raw, clean;
	const char *headers[3];
	int rc = 0, runaway = 0, nh = 0;

	apf_buf_init(&body, len / 3 * 4 + 64 * 1024 + (strlen(ds->prompt) + strlen(ds->model)) * 6);
	apf_buf_init(&raw, APF_DEEPSEEK_ANSWER_MAX);
	apf_buf_init(&clean, APF_DEEPSEEK_ANSWER_MAX);
	apf_http_request_init(&req);
	apf_http_response_init(&resp);
	if (build_body(ds, png, len, &body)) {
		rc = apf_error(err, APF_ENOMEM, "cannot build the DeepSeek request");
		goto out;
	}
	headers[nh++] = "Content-Type: application/json";
	if (ds->auth_header)
		headers[nh++] = ds->auth_header;
	headers[nh] = NULL;
	req.method = "POST";
	req.url = ds->url;
	req.what = what ? what : ds->display_url;
	req.headers = headers;
	req.has_body = 1;
	req.body = body.data;
	req.body_len = body.len;
	req.resp_max = APF_DEEPSEEK_ANSWER_MAX;
	/* An answer comes whole, at the end: the timeout bounds an attempt,
	 * and all of them with their waits get as long as the attempts
	 * together (curl's low-speed check alone averages over seconds: a
	 * 1 s timeout took 7). */
	req.timeout_ms = ds->timeout_ms;
	req.deadline_ms = ds->timeout_ms * (ds->retries + 1);
	req.cancel = ds->cancel;
	rc = apf_http_request(ds->http, &req, &resp, err);
	if (rc) {
		apf_error_prefix(err, "no answer from the DeepSeek server '%s'", ds->display_url);
		goto out;
	}
	if (resp.status < 200 || resp.status > 299) {
		char msg[256];
		apf_http_error_text(&resp.body, msg, sizeof(msg));
		rc = apf_error(err, APF_EOCR, "the DeepSeek server '%s' answered HTTP %ld%s%s%s", ds->display_url,
			       resp.status, resp.attempts > 1 ? " (after retries)" : "", msg[0] ? ": " : "", msg);
		goto out;
	}
	rc = apf_deepseek_parse_answer(ds->api, resp.body.data ? resp.body.data : "", resp.body.len, &raw,
				       &runaway, err);
	if (rc)
		goto out;
	if (runaway) {
		rc = apf_error(err, APF_EOCR,
			       "runaway output: the model stopped at its limit of %d tokens without finishing",
			       ds->max_tokens);
		goto out;
	}
	if (apf_deepseek_strip(raw.data ? raw.data : "", raw.len, &clean)) {
		rc = apf_error(err, APF_ETOOBIG, "the DeepSeek answer passes %zu bytes", clean.cap);
		goto out;
	}
	if (apf_text_normalize(clean.data, clean.len, out, stats))
		rc = apf_error(err, APF_ETOOBIG, "the recognised text passes %zu bytes", out->cap);
out:
	apf_http_response_release(&resp);
	apf_buf_release(&body);
	apf_buf_release(&raw);
	apf_buf_release(&clean);
	return rc;
}
