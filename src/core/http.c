/* http.c: the libcurl adapter, with retries and backoff (see http.h). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The functions are called through pointers (cu below), so not through
 * curl.h's type-checking macros of the same names. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <jansson.h>

#include "apflow/dl.h"
#include "apflow/http.h"
#include "apflow/log.h"
#include "apflow/version.h"
#include "apflow/util.h"

#define POOL_MAX 8
#define ERRBODY_MAX ((size_t)64 << 10)
#define HEADERS_MAX ((size_t)64 << 10)
/* Bodies above this size ask for "100 Continue" first, so that a server
 * refusing the request (bad signature, no such bucket) says so before
 * megabytes are sent; smaller ones save the round trip. */
#define EXPECT_THRESHOLD ((uint64_t)1 << 20)

struct apf_http {
	pthread_mutex_t mu;
	CURL *pool[POOL_MAX];
	int npool;
	long connect_timeout_ms;
	long low_speed_time_s;
	long backoff_base_ms;
	long backoff_max_ms;
	long retry_after_max_ms;
	int max_retries;
	char *user_agent;
};

/*
 * libcurl is loaded on first use (apflow/dl.h), under the soname of the
 * installed library (the Makefile reads it), libcurl.so.4 otherwise.
 */
#ifndef APF_CURL_SONAME
#define APF_CURL_SONAME "libcurl.so.4"
#endif
#define CURL_FUNCS(X)                                                                                  \
	X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) X(curl_easy_perform)               \
	X(curl_easy_reset) X(curl_easy_setopt) X(curl_easy_strerror) X(curl_global_init)               \
	X(curl_slist_append) X(curl_slist_free_all) X(curl_version_info)                               \
	X(curl_multi_init) X(curl_multi_add_handle) X(curl_multi_perform) X(curl_multi_poll)           \
	X(curl_multi_info_read) X(curl_multi_remove_handle) X(curl_multi_cleanup)

static struct {
#define X(f) __typeof__(f) *f;
	CURL_FUNCS(X)
#undef X
} cu;

static const struct apf_dl_sym curl_syms[] = {
#define X(f) { #f, &cu.f },
	CURL_FUNCS(X)
#undef X
};
static struct apf_dl_lib curl_lib =
	APF_DL_LIB("libcurl", APF_CURL_SONAME, RTLD_NOW | RTLD_LOCAL, curl_syms, "run scripts/install-deps.sh");
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void)
{
	global_rc = cu.curl_global_init(CURL_GLOBAL_DEFAULT);
}

int apf_http_global_init(struct apf_err *err)
{
	int rc = apf_dl_need(&curl_lib, APF_ENET, err);

	if (rc)
		return rc;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return apf_error(err, APF_ENET, "cannot initialise libcurl: %s", cu.curl_easy_strerror(global_rc));
	return 0;
}

char *apf_http_url_shown(const char *url)
{
	const char *p = strstr(url, "://"), *host, *at, *slash;

	if (!p)
		return apf_xstrdup(url);
	host = p + 3;
	slash = strchr(host, '/');
	at = strchr(host, '@');
	if (!at || (slash && at > slash))
		return apf_xstrdup(url);
	return apf_xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

void apf_http_error_text(const struct apf_buf *body, char *out, size_t n)
{
	json_t *root = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
	json_t *e = json_object_get(root, "error");
	const char *msg = json_string_value(e);
	size_t o = 0;

	if (!msg)
		msg = json_string_value(json_object_get(e, "message"));
	if (!msg)
		msg = json_string_value(json_object_get(root, "message"));
	if (!msg)
		msg = body->len ? body->data : "";
	for (const char *p = msg; *p && o + 1 < n && o < 200; p++)
		out[o++] = (unsigned char)*p < 0x20 ? ' ' : *p;
	if (n)
		out[o] = '\0';
	json_decref(root);
}

const char *apf_http_library_version(void)
{
	if (apf_http_global_init(NULL))
		return "unavailable";
	return cu.curl_version_info(CURLVERSION_NOW)->version;
}

void apf_http_request_init(struct apf_http_request *req)
{
	memset(req, 0, sizeof(*req));
	req->body_fd = -1;
	req->resp_fd = -1;
	req->max_retries = -1;
}

void apf_http_response_init(struct apf_http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	apf_buf_init(&resp->body, 0);
	apf_buf_init(&resp->headers, HEADERS_MAX);
}

void apf_http_response_release(struct apf_http_response *resp)
{
	apf_buf_release(&resp->body);
	apf_buf_release(&resp->headers);
}

int apf_http_response_header(const struct apf_http_response *resp, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	const char *p = resp->headers.data;

	if (!p)
		return -1;
	while (*p) {
		const char *eol = strchr(p, '\n');
		const char *end = eol ? eol : p + strlen(p);

		if ((size_t)(end - p) > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && isspace((unsigned char)end[-1]))
				end--;
			if (n) {
				size_t len = (size_t)(end - v) < n - 1 ? (size_t)(end - v) : n - 1;
				memcpy(out, v, len);
				out[len] = '\0';
			}
			return 0;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	return -1;
}

int apf_http_new(const struct apf_http_options *opt, struct apf_http **out, struct apf_err *err)
{
	struct apf_http_options dflt = { 0 };
	struct apf_http *h;
	int rc = apf_http_global_init(err);

	if (rc)
		return rc;
	if (!opt) {
		dflt.max_retries = -1;
		opt = &dflt;
	}
	h = apf_xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	h->connect_timeout_ms = opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms : 10000;
	h->low_speed_time_s = opt->low_speed_time_s > 0 ? opt->low_speed_time_s : 60;
	h->max_retries = opt->max_retries >= 0 ? opt->max_retries : 4;
	h->backoff_base_ms = opt->backoff_base_ms > 0 ? opt->backoff_base_ms : 200;
	h->backoff_max_ms = opt->backoff_max_ms > 0 ? opt->backoff_max_ms : 20000;
	h->retry_after_max_ms = opt->retry_after_max_ms > 0 ? opt->retry_after_max_ms : 60000;
	h->user_agent = opt->user_agent ? apf_xstrdup(opt->user_agent) : apf_xstrdup("apflow/" APFLOW_VERSION);
	*out = h;
	return 0;
}

void apf_http_free(struct apf_http *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->npool; i++)
		cu.curl_easy_cleanup(h->pool[i]);
	pthread_mutex_destroy(&h->mu);
	free(h->user_agent);
	free(h);
}

static CURL *handle_get(struct apf_http *h)
{
	CURL *c = NULL;

	pthread_mutex_lock(&h->mu);
	if (h->npool > 0)
		c = h->pool[--h->npool];
	pthread_mutex_unlock(&h->mu);
	if (!c)
		c = cu.curl_easy_init();
	else
		cu.curl_easy_reset(c); /* keeps the connection cache */
	return c;
}

static void handle_put(struct apf_http *h, CURL *c)
{
	pthread_mutex_lock(&h->mu);
	if (h->npool < POOL_MAX) {
		h->pool[h->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&h->mu);
	if (c)
		cu.curl_easy_cleanup(c);
}

int apf_http_status_retryable(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

long apf_http_backoff_ms(long base_ms, long max_ms, int retry)
{
	long cap = max_ms;

	if (retry < 30 && base_ms <= (max_ms >> retry))
		cap = base_ms << retry;
	if (cap <= 0)
		return 0;
	/* Full jitter: spreads clients that failed together over the whole
	 * window instead of letting them retry in lock step. */
	return (long)(apf_rand64() % ((uint64_t)cap + 1));
}

int64_t apf_http_parse_date(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4] = "";
	int day, year, hh, mm, ss;
	const char *comma = strchr(s, ',');
	const char *m;
	struct tm tm;

	/* IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"), which is what
	 * servers send; the obsolete forms are not worth the code. */
	if (!comma)
		return -1;
	if (sscanf(comma + 1, " %d %3s %d %d:%d:%d", &day, mon, &year, &hh, &mm, &ss) != 6)
		return -1;
	m = strlen(mon) == 3 ? strstr(months, mon) : NULL;
	if (!m || (m - months) % 3 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	return (int64_t)timegm(&tm);
}

long apf_http_parse_retry_after(const char *value, time_t now)
{
	const int64_t day_ms = 86400000;
	int64_t secs, when, ms;

	if (!apf_parse_i64(value, &secs)) {
		if (secs < 0)
			return -1;
		ms = secs > day_ms / 1000 ? day_ms : secs * 1000;
	} else {
		when = apf_http_parse_date(value);
		if (when < 0)
			return -1;
		ms = when <= (int64_t)now ? 0 : (when - (int64_t)now) * 1000;
		if (ms > day_ms)
			ms = day_ms;
	}
	return (long)ms;
}

/* The state of one attempt. */
struct xfer {
	struct apf_http_request *req;
	struct apf_http_response *resp;
	CURL *curl;
	uint64_t up_pos;
	uint64_t down_pos;
	int toobig;
	int io_errno;      /* non-zero when a body file failed */
	const char *io_what;
};

static uint64_t body_total(const struct apf_http_request *req)
{
	if (!req->has_body)
		return 0;
	return req->body_fd >= 0 ? req->body_size : (uint64_t)req->body_len;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	const struct apf_http_request *req = x->req;
	uint64_t total = body_total(req);
	size_t want = size * nitems;
	ssize_t n;

	if (x->up_pos >= total)
		return 0;
	if (want > total - x->up_pos)
		want = (size_t)(total - x->up_pos);
	if (req->body_fd < 0) {
		memcpy(buf, (const char *)req->body + x->up_pos, want);
		x->up_pos += want;
		return want;
	}
	do
		n = pread(req->body_fd, buf, want, (off_t)(req->body_off + x->up_pos));
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		/* A file that shrank under us must not be sent short. */
		x->io_errno = n < 0 ? errno : EIO;
		x->io_what = n < 0 ? "cannot read the request body" : "the request body file shrank while it was sent";
		return CURL_READFUNC_ABORT;
	}
	x->up_pos += (uint64_t)n;
	return (size_t)n;
}

static int seek_cb(void *arg, curl_off_t offset, int origin)
{
	struct xfer *x = arg;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > body_total(x->req))
		return CURL_SEEKFUNC_CANTSEEK;
	x->up_pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nmemb;
	long status = 0;

	cu.curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		/* Error bodies are kept for the message only: the first 64 KiB. */
		size_t have = x->resp->body.len;
		size_t room = have < ERRBODY_MAX ? ERRBODY_MAX - have : 0;
		if (room)
			apf_buf_add(&x->resp->body, p, len < room ? len : room);
		return len;
	}
	if (x->req->resp_fd >= 0) {
		size_t done = 0;
		while (done < len) {
			ssize_t w = pwrite(x->req->resp_fd, p + done, len - done, (off_t)x->down_pos);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				x->io_errno = errno;
				x->io_what = "cannot write the response body";
				return 0;
			}
			done += (size_t)w;
			x->down_pos += (uint64_t)w;
		}
		return len;
	}
	if (apf_buf_add(&x->resp->body, p, len)) {
		x->toobig = 1;
		return 0;
	}
	return len;
}

static size_t header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nmemb;

	/* A "100 Continue" comes before the final response: keep the last. */
	if (len >= 5 && !strncmp(p, "HTTP/", 5))
		apf_buf_reset(&x->resp->headers);
	apf_buf_add(&x->resp->headers, p, len); /* silently capped */
	return len;
}

static int transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int setup(struct apf_http *h, struct xfer *x, long timeout_ms, struct curl_slist **hdrs, char *errbuf)
{
	struct apf_http_request *req = x->req;
	CURL *c = x->curl;
	struct curl_slist *l = NULL, *t;
	uint64_t total = body_total(req);
	int bad = 0;

#define SET(opt, val) bad |= cu.curl_easy_setopt(c, opt, val) != CURLE_OK
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, h->low_speed_time_s);
	SET(CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 0L);
	SET(CURLOPT_USERAGENT, h->user_agent);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, x);
	if (!strcmp(req->method, "HEAD")) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (req->has_body) {
		SET(CURLOPT_UPLOAD, 1L);
		SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)total);
		SET(CURLOPT_READFUNCTION, read_cb);
		SET(CURLOPT_READDATA, x);
		SET(CURLOPT_SEEKFUNCTION, seek_cb);
		SET(CURLOPT_SEEKDATA, x);
		if (strcmp(req->method, "PUT"))
			SET(CURLOPT_CUSTOMREQUEST, req->method);
	} else if (strcmp(req->method, "GET")) {
		SET(CURLOPT_CUSTOMREQUEST, req->method);
	}
#undef SET
	for (const char *const *p = req->headers; p && *p; p++) {
		t = cu.curl_slist_append(l, *p);
		if (!t)
			goto oom;
		l = t;
	}
	if (req->has_body && total <= EXPECT_THRESHOLD) {
		t = cu.curl_slist_append(l, "Expect:");
		if (!t)
			goto oom;
		l = t;
	}
	if (l && cu.curl_easy_setopt(c, CURLOPT_HTTPHEADER, l) != CURLE_OK)
		bad = 1;
	*hdrs = l;
	return bad ? -1 : 0;
oom:
	cu.curl_slist_free_all(l);
	*hdrs = NULL;
	return -1;
}

/*
 * curl_easy_perform(), or with a cancel flag the same on a multi handle
 * that is polled every APF_HTTP_CANCEL_POLL_MS: curl_easy_perform() calls
 * a progress callback only about once a second while nothing arrives (a
 * model thinking over a page), and a signal interrupts the poll only of
 * the thread it lands on.  Sets *cancelled when it stopped for the flag.
 */
static CURLcode perform(CURL *c, const volatile sig_atomic_t *cancel, int *cancelled)
{
	CURLM *m;
	CURLMsg *msg;
	CURLcode cc = CURLE_OK;
	int running = 1, left;

	*cancelled = 0;
	if (!cancel)
		return cu.curl_easy_perform(c);
	if (*cancel) {
		*cancelled = 1;
		return CURLE_ABORTED_BY_CALLBACK;
	}
	m = cu.curl_multi_init();
	if (!m)
		return CURLE_OUT_OF_MEMORY;
	if (cu.curl_multi_add_handle(m, c) != CURLM_OK) {
		cu.curl_multi_cleanup(m);
		return CURLE_OUT_OF_MEMORY;
	}
	for (;;) {
		if (cu.curl_multi_perform(m, &running) != CURLM_OK) {
			cc = CURLE_OUT_OF_MEMORY;
			break;
		}
		if (!running)
			break;
		if (*cancel) {
			*cancelled = 1;
			cc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (cu.curl_multi_poll(m, NULL, 0, APF_HTTP_CANCEL_POLL_MS, NULL) != CURLM_OK) {
			cc = CURLE_OUT_OF_MEMORY;
			break;
		}
	}
	if (!running)
		while ((msg = cu.curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == c)
				cc = msg->data.result;
	cu.curl_multi_remove_handle(m, c);
	cu.curl_multi_cleanup(m);
	return cc;
}

/* Sleeps ms, in slices, unless *cancel is set; 1 when it was. */
static int sleep_or_cancel(long ms, const volatile sig_atomic_t *cancel)
{
	int64_t end = apf_now_ms() + ms;

	if (!cancel) {
		apf_sleep_ms(ms);
		return 0;
	}
	for (;;) {
		int64_t left = end - apf_now_ms();

		if (*cancel)
			return 1;
		if (left <= 0)
			return 0;
		apf_sleep_ms(left < APF_HTTP_CANCEL_POLL_MS ? left : APF_HTTP_CANCEL_POLL_MS);
	}
}

int apf_http_request(struct apf_http *h, struct apf_http_request *req, struct apf_http_response *resp,
		     struct apf_err *err)
{
	int max_retries = req->max_retries >= 0 ? req->max_retries : h->max_retries;
	const char *what = req->what ? req->what : req->url;
	size_t cap = req->resp_max ? req->resp_max : APF_BUF_DEFAULT_CAP;
	int64_t end = req->deadline_ms > 0 ? apf_now_ms() + req->deadline_ms : 0;
	CURL *c = handle_get(h);
	int rc = 0;

	if (!c)
		return apf_error(err, APF_ENOMEM, "cannot create a curl handle");
	resp->attempts = 0;
	for (int attempt = 0;; attempt++) {
		char errbuf[CURL_ERROR_SIZE] = "";
		char reason[CURL_ERROR_SIZE + 64];
		struct curl_slist *hdrs = NULL;
		struct xfer x = { req, resp, c, 0, 0, 0, 0, NULL };
		CURLcode cc;
		long status = 0, delay, timeout_ms = req->timeout_ms;
		int cancelled;

		if (end) {
			int64_t left = end - apf_now_ms();
			if (left < 1) {
				rc = apf_error(err, APF_ENET, "deadline of %ld ms passed (after %d attempt%s)",
					       req->deadline_ms, attempt, attempt == 1 ? "" : "s");
				break;
			}
			if (timeout_ms <= 0 || timeout_ms > left)
				timeout_ms = (long)left;
		}

		if (req->prepare) {
			rc = req->prepare(req, req->prepare_arg, err);
			if (rc)
				break;
		}
		apf_buf_release(&resp->body);
		apf_buf_init(&resp->body, cap);
		apf_buf_reset(&resp->headers);
		resp->status = 0;
		resp->attempts = attempt + 1;
		if (req->resp_fd >= 0 && ftruncate(req->resp_fd, 0)) {
			rc = apf_error(err, APF_EIO, "cannot truncate the response file: %s", strerror(errno));
			break;
		}
		if (attempt > 0)
			cu.curl_easy_reset(c);
		if (setup(h, &x, timeout_ms, &hdrs, errbuf)) {
			cu.curl_slist_free_all(hdrs);
			rc = apf_error(err, APF_ENET, "cannot set up the request: unsupported by libcurl %s",
				       apf_http_library_version());
			break;
		}
		cc = perform(c, req->cancel, &cancelled);
		cu.curl_slist_free_all(hdrs);
		resp->bytes_sent = x.up_pos;
		if (cancelled) {
			resp->status = 0;
			rc = apf_error(err, APF_ENET, "cancelled");
			break;
		}
		if (x.toobig) {
			rc = apf_error(err, APF_ETOOBIG, "response larger than %zu bytes", cap);
			break;
		}
		if (x.io_errno) {
			rc = apf_error(err, APF_EIO, "%s: %s", x.io_what, strerror(x.io_errno));
			break;
		}
		if (cc == CURLE_OK) {
			cu.curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
			resp->status = status;
			if (!apf_http_status_retryable(status) || attempt >= max_retries)
				break;
			snprintf(reason, sizeof(reason), "HTTP %ld", status);
		} else {
			snprintf(reason, sizeof(reason), "%s", errbuf[0] ? errbuf : cu.curl_easy_strerror(cc));
			if (!transient(cc) || attempt >= max_retries) {
				if (attempt > 0)
					rc = apf_error(err, APF_ENET, "%s (after %d attempts)", reason, attempt + 1);
				else
					rc = apf_error(err, APF_ENET, "%s", reason);
				break;
			}
		}
		delay = apf_http_backoff_ms(h->backoff_base_ms, h->backoff_max_ms, attempt);
		if (status) {
			char ra[128];
			long ms;
			if (!apf_http_response_header(resp, "retry-after", ra, sizeof(ra)) &&
			    (ms = apf_http_parse_retry_after(ra, time(NULL))) >= 0)
				delay = ms < h->retry_after_max_ms ? ms : h->retry_after_max_ms;
		}
		if (end && apf_now_ms() + delay >= end) {
			/* No time for another attempt: the answer so far stands
			 * (a retryable status), or the failure with the reason. */
			if (!status)
				rc = apf_error(err, APF_ENET, "%s (after %d attempt%s; deadline of %ld ms passed)",
					       reason, attempt + 1, attempt ? "s" : "", req->deadline_ms);
			break;
		}
		apf_log_warn("%s '%s': %s; retrying in %ld ms (attempt %d of %d)", req->method, what, reason,
			     delay, attempt + 2, max_retries + 1);
		if (sleep_or_cancel(delay, req->cancel)) {
			resp->status = 0;
			rc = apf_error(err, APF_ENET, "cancelled");
			break;
		}
	}
	handle_put(h, c);
	return rc;
}
