/*
 * deepseek.h: DeepSeek-OCR over HTTP, the `deepseek` engine of the OCR
 * stage.  One rendered page (a PNG) goes out, its text comes back.
 *
 * Two APIs, as DeepSeek-OCR is served in practice:
 *
 *   openai   POST <url>/v1/chat/completions (vLLM's OpenAI-compatible
 *            server): one user message whose content is an image_url part
 *            (a data: URL of the PNG) and a text part (the prompt);
 *            temperature 0, max_tokens, and vLLM's extras from the
 *            DeepSeek-OCR recipe (skip_special_tokens false, and
 *            vllm_xargs for its n-gram logits processor, which a server
 *            started without that processor ignores).
 *   ollama   POST <url>/api/chat: one user message with the prompt as
 *            content and the PNG in images (base64); stream false;
 *            options temperature 0, num_ctx and num_predict.
 *
 * The prompt is DeepSeek's ("<image>\nFree OCR." by default).  Both chat
 * APIs carry the image as a part of its own and the server's chat template
 * puts the image token where it belongs, so a leading "<image>" and the
 * newline after it are taken out of the text sent (as vLLM's recipe sends
 * plain "Free OCR."); the rest of the prompt goes as given.
 *
 * The answer is cleaned the way DeepSeek's own PDF script cleans it: the
 * end-of-sentence token and anything after it are cut, grounding tags
 * (<|ref|>label<|/ref|><|det|>[[x1,y1,x2,y2]]<|/det|>) are removed with
 * their label and boxes, a <|ref|>...<|/ref|> without boxes keeps its
 * text, other <|...|> markers go; then the text is normalised like every
 * other engine's (apf_textnorm in utf8.h).
 *
 * An answer that stopped because it reached max_tokens (finish_reason or
 * done_reason "length") is DeepSeek-OCR's runaway repetition, and fails
 * the page rather than storing the loop.
 *
 * Requests are retried by http.c's policy (408, 429 with Retry-After, 5xx,
 * timeouts, resets).  A client may be used by several threads at once; the
 * OCR stage keeps --concurrency requests in flight.  The API key travels
 * only in the Authorization header and is never logged or put in a
 * message.
 */
#ifndef APFLOW_DEEPSEEK_H
#define APFLOW_DEEPSEEK_H

#include <signal.h>
#include <stddef.h>

#include "apflow/buf.h"
#include "apflow/err.h"
#include "apflow/utf8.h"

#define APF_DEEPSEEK_PROMPT "<image>\nFree OCR."
#define APF_DEEPSEEK_DPI 144          /* DeepSeek's PDF script renders at 144 dpi */
#define APF_DEEPSEEK_MAX_TOKENS 8192
#define APF_DEEPSEEK_TIMEOUT_S 300    /* a long page at tens of tokens/s */
#define APF_DEEPSEEK_ANSWER_MAX ((size_t)16 << 20)

enum apf_deepseek_api {
	APF_DEEPSEEK_OPENAI = 0,
	APF_DEEPSEEK_OLLAMA,
};

struct apf_deepseek_options {
	/* The server: "http://host:8000" (the API's path is appended), or a
	 * URL that already ends in /v1/chat/completions or /api/chat. */
	const char *url;
	enum apf_deepseek_api api;
	const char *model;     /* NULL: apf_deepseek_default_model(api) */
	const char *api_key;   /* NULL or "": no Authorization header */
	const char *prompt;    /* NULL: APF_DEEPSEEK_PROMPT */
	int max_tokens;        /* 0: APF_DEEPSEEK_MAX_TOKENS */
	int timeout_s;         /* no byte of answer for this long: give up (retried); 0: default */
	int retries;           /* retries after the first attempt; < 0: http.c's default (4) */
	long backoff_base_ms;  /* 0: http.c's default (200 ms) */
};

/* "openai" or "ollama"; returns 0, or -1 for anything else. */
int apf_deepseek_parse_api(const char *s, enum apf_deepseek_api *out);
const char *apf_deepseek_api_name(enum apf_deepseek_api api);
/* "deepseek-ai/DeepSeek-OCR" (openai, the Hugging Face name vLLM serves)
 * or "deepseek-ocr" (ollama, the library name). */
const char *apf_deepseek_default_model(enum apf_deepseek_api api);

struct apf_deepseek;

/* Errors: APF_ECONFIG (no URL, not http(s)), APF_ENET (libcurl). */
int apf_deepseek_new(const struct apf_deepseek_options *opt, struct apf_deepseek **out,
		     struct apf_err *err);
void apf_deepseek_free(struct apf_deepseek *ds); /* NULL is fine */
/* Once *cancel is non-zero (SIGINT), a page's request in flight stops
 * within 0.1 s and fails with "cancelled" (http.h); NULL: never. */
void apf_deepseek_set_cancel(struct apf_deepseek *ds, const volatile sig_atomic_t *cancel);

const char *apf_deepseek_model(const struct apf_deepseek *ds);
/* The endpoint without user name or password, safe to show and record. */
const char *apf_deepseek_endpoint(const struct apf_deepseek *ds);

/*
 * Reads one page image (PNG bytes).  out is reset and receives the cleaned,
 * normalised text; *stats (if not NULL) its statistics.  what names the
 * page in retry logs ("deepseek 0123abcd...:3").  Thread-safe.
 *
 * Errors: APF_ENET (no answer: refused, timed out, after the retries),
 * APF_EOCR (an HTTP error status, with the server's message; a malformed
 * answer; runaway output), APF_ETOOBIG (text beyond out's cap).
 */
int apf_deepseek_page(struct apf_deepseek *ds, const void *png, size_t len, const char *what,
		      struct apf_buf *out, struct apf_text_stats *stats, struct apf_err *err);

/*
 * The pieces, for tests.
 *
 * apf_deepseek_parse_answer() reads a 2xx body of api: appends the
 * assistant's text to raw (as the server sent it) and sets *runaway when
 * the answer stopped at its token limit.  APF_EOCR when the body is not
 * the API's answer.
 *
 * apf_deepseek_strip() appends s[0..len) to out without the end-of-sentence
 * token (and what follows it) and without grounding markers, as described
 * above; not normalised.  Returns 0, or -1 when out's cap was reached.
 */
int apf_deepseek_parse_answer(enum apf_deepseek_api api, const char *body, size_t len,
			      struct apf_buf *raw, int *runaway, struct apf_err *err);
int apf_deepseek_strip(const char *s, size_t len, struct apf_buf *out);
/* Standard base64 (RFC 4648, with padding) of data, appended to out. */
int apf_base64_append(struct apf_buf *out, const void *data, size_t len);

#endif
