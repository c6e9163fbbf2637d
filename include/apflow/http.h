/*
 * http.h: a small HTTP client over libcurl with one retry policy, shared by
 * the S3 backend of the object store and the Argilla and Ollama clients.
 *
 * One call, apf_http_request(), sends one request and retries it on
 * transient failures: HTTP 408, 429 and 5xx, connection refused or reset,
 * timeouts and an empty reply.  It never retries any other 4xx.  Between
 * attempts it sleeps with exponential backoff and full jitter
 * (a random delay in [0, min(max, base * 2^attempt)]), or for the time a
 * Retry-After header asks (capped).  Bodies come from memory or from a
 * region of a file descriptor; both are rewound before each attempt, so a
 * retry resends the same bytes.
 *
 * A client (struct apf_http) keeps a small pool of curl handles so that
 * connections are reused; it may be used by several threads at once.
 * Nothing here prints to stdout; retries are logged at warning level with
 * the request's display name, never with its headers (which may carry
 * credentials).
 */
#ifndef APFLOW_HTTP_H
#define APFLOW_HTTP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "apflow/buf.h"
#include "apflow/err.h"

struct apf_http;

struct apf_http_options {
	long connect_timeout_ms;  /* 0: 10 s */
	long low_speed_time_s;    /* abandon a transfer this long below 1 byte/s; 0: 60 s */
	int max_retries;          /* retries after the first attempt; < 0: 4 */
	long backoff_base_ms;     /* 0: 200 ms */
	long backoff_max_ms;      /* 0: 20 s */
	long retry_after_max_ms;  /* longest Retry-After honoured; 0: 60 s */
	const char *user_agent;   /* NULL: "apflow/<version>" */
};

/* Called before every attempt; may replace req->headers (a signer puts a
 * fresh date and signature there).  A non-zero return stops the request
 * with that error. */
struct apf_http_request;
typedef int (*apf_http_prepare_fn)(struct apf_http_request *req, void *arg, struct apf_err *err);

struct apf_http_request {
	const char *method;           /* "GET", "PUT", "POST", "HEAD", "DELETE" ... */
	const char *url;
	const char *what;             /* display name for logs ("s3://b/k"); NULL: the URL */
	const char *const *headers;   /* "Name: value" lines, NULL-terminated; may be NULL */

	/* The body, when has_body: body_len bytes at body, or (body_fd >= 0)
	 * body_size bytes of body_fd from body_off, read with pread(). */
	int has_body;
	const void *body;
	size_t body_len;
	int body_fd;
	uint64_t body_off;
	uint64_t body_size;

	/* The response body of a 2xx answer goes to resp_fd when >= 0
	 * (truncated before each attempt), else into resp->body, at most
	 * resp_max bytes (0: APF_BUF_DEFAULT_CAP; more is APF_ETOOBIG). */
	int resp_fd;
	size_t resp_max;

	int max_retries;              /* < 0: the client's setting */
	long timeout_ms;              /* one attempt's whole time (CURLOPT_TIMEOUT_MS); 0: none */
	/* The whole request's time, every attempt and every wait between
	 * them (monotonic, from the call); 0: none.  An attempt gets at most
	 * what is left, no retry starts (nor is waited for) past it, and a
	 * request that ran out says "deadline of N ms passed". */
	long deadline_ms;
	/* Non-NULL: once *cancel is non-zero (a signal handler sets it), the
	 * attempt in flight stops within APF_HTTP_CANCEL_POLL_MS, no retry
	 * starts and no backoff is waited out: APF_ENET "cancelled".  (Such a
	 * request runs on a multi handle of its own, so its connection is not
	 * kept for the next request.) */
	const volatile sig_atomic_t *cancel;
	apf_http_prepare_fn prepare;
	void *prepare_arg;
};

#define APF_HTTP_CANCEL_POLL_MS 100

struct apf_http_response {
	long status;                  /* 0 when no response was received */
	struct apf_buf body;          /* 2xx body (without resp_fd), or the first 64 KiB of an error body */
	struct apf_buf headers;       /* the final response's header lines, "name: value\r\n" */
	int attempts;
	uint64_t bytes_sent;          /* upload bytes of the last attempt */
};

/* Sets defaults: no body, resp_fd = body_fd = -1, max_retries = -1. */
void apf_http_request_init(struct apf_http_request *req);
void apf_http_response_init(struct apf_http_response *resp);
void apf_http_response_release(struct apf_http_response *resp);

/* Copies the value of the first header called name (case-insensitive),
 * trimmed, into out.  Returns 0, or -1 when absent. */
int apf_http_response_header(const struct apf_http_response *resp, const char *name, char *out,
			     size_t n);

/* url as it may be shown in logs and errors: without "user:password@"
 * after the scheme (malloc'ed). */
char *apf_http_url_shown(const char *url);

/* The server's message in an error body, cleaned for one line of a log
 * (control characters become spaces, at most 200 bytes, NUL-terminated in
 * out[n]): {"error":".."} (Ollama), {"error":{"message":..}} (OpenAI),
 * {"message":..} (vLLM), else the start of the body. */
void apf_http_error_text(const struct apf_buf *body, char *out, size_t n);

/* Initialises libcurl once per process (thread-safe); later calls are free. */
int apf_http_global_init(struct apf_err *err);

int apf_http_new(const struct apf_http_options *opt, struct apf_http **out, struct apf_err *err);
void apf_http_free(struct apf_http *h);

/*
 * Sends req, retrying as described above.  Returns 0 when a response came
 * back, whatever its status (after the last retry of a retryable status,
 * resp->status is that status); the caller decides what a status means.
 * Returns APF_ENET when no response could be had (err->msg is the reason,
 * which names the host and port but not the path, e.g. "Failed to connect
 * to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server (after 5
 * attempts)"; callers put their subject in front), APF_ETOOBIG when the
 * body passed resp_max, APF_EIO when a body file failed.
 */
int apf_http_request(struct apf_http *h, struct apf_http_request *req, struct apf_http_response *resp,
		     struct apf_err *err);

/* Whether an HTTP status is worth retrying (408, 429, 5xx). */
int apf_http_status_retryable(long status);

/* The delay before retry number `retry` (0-based) with full jitter. */
long apf_http_backoff_ms(long base_ms, long max_ms, int retry);

/* Parses a Retry-After value (delta seconds or an HTTP date) into ms from
 * now; -1 when it cannot be parsed. */
long apf_http_parse_retry_after(const char *value, time_t now);

/* Parses an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT"); -1 on error. */
int64_t apf_http_parse_date(const char *s);

#endif
