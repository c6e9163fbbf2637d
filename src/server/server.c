/*
 * server.c: the daemon, the route table and the checks every request goes
 * through before its handler (see server.h).
 *
 * Life of a request (MHD calls access() several times per request):
 *   1. headers: a struct req is made, route_check() picks the route and
 *      applies method, token and Content-Length; a refusal is answered at
 *      once, before any body is read (MHD then closes the connection).
 *   2. body chunks: counted against the route's max body, handed to the
 *      route's data().  Past the limit the rest is discarded, up to a
 *      bound, and 413 is the answer (MHD cannot answer in the middle of a
 *      body); a client that keeps sending past the bound is cut off.
 *   3. end of body: the route's end() answers, or names work to run on a
 *      worker thread; the connection is suspended until the worker has set
 *      the answer and resumes it.
 *   4. completed: request_completed() frees the request; when the client
 *      went away mid-upload the handler's cleanup deletes its temp files.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apflow/log.h"
#include "apflow/util.h"
#include "apflow/utf8.h"
#include "apflow/web.h"
#include "server/gate.h"
#include "server/loglimit.h"
#include "server/server_int.h"

/* After the limit, this much more is read and dropped so the client can
 * see the 413; beyond it the connection is closed. */
#define DISCARD_MAX ((uint64_t)64 << 20)

/*
 * Each connection's memory pool, which holds the headers and the read
 * buffer a body passes through.  MHD's default, 32 KiB, hands an upload
 * over in chunks of about 16 KiB: a 200 KB PDF costs some 14 recv() and
 * 13 write() calls and as many hash updates; at 128 KiB it is 4 or 5 of
 * each.  MHD clears the pool for every request, so all of it is resident
 * for each connection that has served one: 128 KiB times the connection
 * limit (1000) bounds it.  Larger pools saved no measurable CPU.
 */
#define CONN_MEMORY ((size_t)128 << 10)

/* Defaults of the limits (server.h, docs/security.md). */
#define MAX_CONNECTIONS 1000
#define MAX_PER_ADDR 32
#define HEADER_TIMEOUT 10
#define IDLE_TIMEOUT 30
#define MIN_RATE 1024
/* File descriptors kept for the warehouse, the store, the libraries and
 * the workers' files, besides those open at start; each connection may
 * need three (its socket, an upload's temp file being written, and the
 * same file opened again to be checked). */
#define FD_RESERVE 32
#define FD_PER_CONN 3
#define MIN_CONNECTIONS 4
/* The writer's longest wait for announced uploads (dbwriter.h). */
#define SERVER_GATHER_US 10000L

static struct loglimit ll_mhd = LOGLIMIT_INIT(10000, 5);
static struct loglimit ll_slow = LOGLIMIT_INIT(10000, 3);
static struct loglimit ll_fail = LOGLIMIT_INIT(10000, 20);

/*
 * The route table: every request is checked against it by route_check()
 * before any handler runs.  A page compiled into the binary needs only
 * its asset name.
 *   method  path  prefix  auth  max_body  asset  begin  data  end  cleanup
 */
const struct route server_routes[] = {
	{ "GET", "/", 0, 0, 0, "upload.html", NULL, NULL, NULL, NULL },
	{ "GET", "/upload.html", 0, 0, 0, "upload.html", NULL, NULL, NULL, NULL },
	{ "POST", "/upload", 0, 1, -1, NULL, upload_begin, upload_data, upload_end, upload_cleanup },
	{ "GET", "/api/documents", 0, 1, 0, NULL, NULL, NULL, api_documents_end, api_documents_cleanup },
	{ "GET", "/api/documents/", 1, 1, 0, NULL, NULL, NULL, api_document_end, NULL },
	{ "GET", "/healthz", 0, 0, 0, NULL, NULL, NULL, api_healthz_end, NULL },
	{ "GET", "/dashboard", 0, 0, 0, "dashboard.html", NULL, NULL, NULL, NULL },
	{ "GET", "/api/panels", 0, 1, 0, NULL, NULL, NULL, api_panels_end, NULL },
	{ "GET", "/api/panels/", 1, 1, 0, NULL, NULL, NULL, api_panel_end, api_panel_cleanup },
};
const size_t server_nroutes = sizeof(server_routes) / sizeof(server_routes[0]);

struct apf_server {
	const struct apf_config *cfg;
	struct apf_server_opts opts;
	char *token;
	struct MHD_Daemon *daemon;
	struct gate *gate;
	unsigned port;
	struct apf_store *store;
	struct apf_dbwriter *writer;
	struct apf_ingest *ingest;

	/* Worker pool. */
	pthread_t *workers;
	unsigned nworkers;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct req *queue_head, *queue_tail;
	int stopping;
	long active; /* requests between their first call and completion */
};

struct apf_ingest *server_ingest(struct apf_server *srv) { return srv->ingest; }
struct apf_store *server_store(struct apf_server *srv) { return srv->store; }
struct apf_dbwriter *server_writer(struct apf_server *srv) { return srv->writer; }
uint64_t server_max_upload(struct apf_server *srv) { return srv->opts.max_upload; }
unsigned apf_server_port(const struct apf_server *srv) { return srv->port; }

int req_has_reply(const struct req *rq)
{
	return rq->status != 0;
}

void req_reply_json(struct req *rq, unsigned status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(doc);
	req_reply_json_text(rq, status, text);
}

void req_reply_json_text(struct req *rq, unsigned status, char *text)
{
	free(rq->body);
	if (!text) {
		text = apf_xstrdup("{\"error\":\"out of memory\",\"code\":\"ENOMEM\"}");
		status = 500;
	}
	rq->body_len = strlen(text);
	rq->body = text;
	rq->status = status;
	rq->content_type = "application/json";
}

/*
 * Copies s into out as well-formed UTF-8, each ill-formed subpart becoming
 * U+FFFD.  A message may quote what the client sent (a Content-Type, a
 * path), and jansson refuses a string that is not UTF-8: the answer would
 * become 500 "out of memory" instead of the error it is.
 */
static void utf8_fix(const char *s, char *out, size_t n)
{
	size_t len = strlen(s), o = 0;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		char enc[4];
		size_t k = apf_utf8_decode(s + i, len - i, &cp);
		size_t m = apf_utf8_encode(cp, enc);

		if (o + m >= n)
			break;
		memcpy(out + o, enc, m);
		o += m;
		i += k;
	}
	out[o] = '\0';
}

void req_reply_error(struct req *rq, int code, const char *fmt, ...)
{
	char msg[APF_ERR_MSG_MAX], clean[APF_ERR_MSG_MAX];
	va_list ap;

	if (code <= APF_EOK || code >= APF_E_COUNT)
		code = APF_EINTERNAL; /* an error never reads as success */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_fix(msg, clean, sizeof(clean));
	req_reply_json(rq, (unsigned)apf_err_http_status(code),
		       json_pack("{s:s, s:s}", "error", clean, "code", apf_err_name(code)));
}

/*
 * A failure of the server's side (the warehouse, the store, the disk) is
 * told to the client in general terms: its message names paths, a bucket
 * or, for a held lock, the other process's path and PID, which are the
 * operator's business.  The detail goes to the server log.
 */
static const char *server_side_message(const struct apf_err *err)
{
	static const char *const disk[] = { "No space left on device", "File too large", "Disk quota exceeded" };

	switch (err->code) {
	case APF_ELOCKED:
		return "the warehouse is busy (locked by another apflow process); retry later";
	case APF_EDB:
		return "the warehouse failed; the server log has the detail";
	case APF_ESTORE:
		return "the store failed; the server log has the detail";
	case APF_EIO:
		for (size_t i = 0; i < sizeof(disk) / sizeof(disk[0]); i++)
			if (strstr(err->msg, disk[i]))
				return i == 0 ? "the server is out of disk space (No space left on device); retry later"
				     : i == 1 ? "the server cannot write a file that large (File too large)"
					      : "the server is out of disk quota (Disk quota exceeded); retry later";
		return "an I/O error on the server; the server log has the detail";
	case APF_ENOMEM:
		return "the server is out of memory; retry later";
	case APF_ECONFIG:
	case APF_EOCR:
	case APF_ENET:
	case APF_EINTERNAL:
		return "an internal error on the server; the server log has the detail";
	default:
		return NULL;
	}
}

int server_err_public(struct apf_err *err)
{
	const char *general = server_side_message(err);

	if (!general)
		return 0;
	apf_strlcpy(err->msg, general, sizeof(err->msg));
	return 1;
}

void req_reply_err(struct req *rq, const struct apf_err *err)
{
	struct apf_err pub = *err;

	if (!pub.msg[0])
		apf_strlcpy(pub.msg, apf_err_desc(pub.code), sizeof(pub.msg));
	if (server_err_public(&pub))
		loglimit_log(&ll_fail, APF_LOG_WARN, "%s: %s: %s", rq->url, apf_err_name(err->code), err->msg);
	req_reply_error(rq, pub.code, "%s", pub.msg);
}

/* ---- worker pool ---- */

static void *worker_main(void *arg)
{
	struct apf_server *srv = arg;

	pthread_mutex_lock(&srv->lock);
	for (;;) {
		struct req *rq;

		while (!srv->queue_head && !srv->stopping)
			pthread_cond_wait(&srv->cond, &srv->lock);
		rq = srv->queue_head;
		if (!rq)
			break; /* stopping and nothing left */
		srv->queue_head = rq->next_work;
		if (!srv->queue_head)
			srv->queue_tail = NULL;
		pthread_mutex_unlock(&srv->lock);

		rq->work(rq);
		if (!req_has_reply(rq))
			req_reply_error(rq, APF_EINTERNAL, "request finished without an answer");
		rq->work = NULL;
		MHD_resume_connection(rq->conn);

		pthread_mutex_lock(&srv->lock);
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* Suspends rq's connection and queues its work; when the pool is stopping,
 * answers 503 instead. */
static void submit_work(struct apf_server *srv, struct req *rq)
{
	MHD_suspend_connection(rq->conn);
	pthread_mutex_lock(&srv->lock);
	if (srv->stopping) {
		pthread_mutex_unlock(&srv->lock);
		rq->work = NULL;
		req_reply_error(rq, APF_EUNAVAIL, "the server is shutting down");
		MHD_resume_connection(rq->conn);
		return;
	}
	rq->next_work = NULL;
	if (srv->queue_tail)
		srv->queue_tail->next_work = rq;
	else
		srv->queue_head = rq;
	srv->queue_tail = rq;
	pthread_cond_signal(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

/* ---- responses ---- */

static enum MHD_Result queue_reply(struct req *rq)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (rq->asset) {
		resp = MHD_create_response_from_buffer(rq->asset->size, (void *)rq->asset->data,
						       MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer(rq->body_len, rq->body, MHD_RESPMEM_MUST_FREE);
		if (resp)
			rq->body = NULL; /* MHD frees it now */
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", rq->asset ? rq->asset->content_type : rq->content_type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* One request per connection, so that each one passes the gate. */
	MHD_add_response_header(resp, "Connection", "close");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (rq->asset) {
		/* The page is self-contained: nothing may load from elsewhere. */
		MHD_add_response_header(resp, "Content-Security-Policy",
					"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
					"img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
					"frame-ancestors 'none'");
		MHD_add_response_header(resp, "Cache-Control", "no-cache");
	} else {
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	}
	if (rq->allow[0])
		MHD_add_response_header(resp, "Allow", rq->allow);
	if (rq->www_auth)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"apflow\"");
	ret = MHD_queue_response(rq->conn, rq->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- routing ---- */

static int path_matches(const struct route *r, const char *url)
{
	if (r->prefix)
		return apf_starts_with(url, r->path) && url[strlen(r->path)] != '\0';
	return !strcmp(url, r->path);
}

/* Bearer token from the Authorization header, compared in constant time. */
static int token_ok(struct apf_server *srv, struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

	if (!srv->token)
		return 1;
	if (!h || strncasecmp(h, "Bearer ", 7))
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	return apf_secret_eq(h, srv->token);
}

/*
 * The one place that decides whether a request reaches a handler: route
 * by path and method, then the token, then the declared body size.
 * Answers the refusal itself and returns -1, or returns 0.
 */
static int route_check(struct req *rq, const char *method)
{
	const struct route *path_hit = NULL;
	const char *cl;
	int64_t len;

	for (size_t i = 0; i < server_nroutes; i++) {
		const struct route *r = &server_routes[i];

		if (!path_matches(r, rq->url))
			continue;
		path_hit = r;
		if (!strcmp(r->method, method) || (!strcmp(method, "HEAD") && !strcmp(r->method, "GET"))) {
			rq->route = r;
			break;
		}
	}
	if (!rq->route) {
		if (path_hit) {
			apf_strlcpy(rq->allow, path_hit->method, sizeof(rq->allow));
			req_reply_error(rq, APF_EMETHOD, "method %s not allowed on '%s'", method, rq->url);
		} else {
			req_reply_error(rq, APF_ENOTFOUND, "no such page '%s'", rq->url);
		}
		return -1;
	}
	if (rq->route->auth && !token_ok(rq->srv, rq->conn)) {
		rq->www_auth = 1;
		req_reply_error(rq, APF_EAUTH, "missing or wrong upload token (Authorization: Bearer ...)");
		return -1;
	}
	rq->max_body = rq->route->max_body < 0 ? (int64_t)rq->srv->opts.max_upload : rq->route->max_body;
	cl = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Content-Length");
	if (cl) {
		if (apf_parse_i64(cl, &len) || len < 0) {
			req_reply_error(rq, APF_EINVAL, "bad Content-Length '%.40s'", cl);
			return -1;
		}
		if (len > rq->max_body) {
			req_reply_error(rq, APF_ETOOBIG, "request body of %lld bytes is over the limit of %lld bytes",
					(long long)len, (long long)rq->max_body);
			return -1;
		}
	}
	return 0;
}

/*
 * After the head's deadline, a body must have averaged min_rate bytes/s
 * since the head arrived; libmicrohttpd's own timeout catches a client
 * that sends nothing at all.
 */
static int body_too_slow(const struct req *rq)
{
	const struct apf_server_opts *o = &rq->srv->opts;
	int64_t el = apf_now_ms() - rq->started_ms - (int64_t)o->header_timeout * 1000;

	return el > 0 && rq->received * 1000 < (uint64_t)o->min_rate * (uint64_t)el;
}

/* A route with an asset: the page compiled into the binary (web.h). */
static void serve_asset(struct req *rq)
{
	const struct apf_asset *a = apf_web_find(rq->route->asset);

	if (!a) {
		req_reply_error(rq, APF_ENOTFOUND, "the page '%s' is not built into this binary", rq->route->asset);
		return;
	}
	rq->asset = a;
	rq->status = 200;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct apf_server *srv = cls;
	struct req *rq = *con_cls;

	(void)version;
	if (!rq) {
		rq = apf_xcalloc(1, sizeof(*rq));
		rq->srv = srv;
		rq->conn = conn;
		rq->url = url;
		rq->started_ms = apf_now_ms();
		*con_cls = rq;
		pthread_mutex_lock(&srv->lock);
		srv->active++;
		pthread_mutex_unlock(&srv->lock);
		if (route_check(rq, method) == 0) {
			if (rq->route->asset)
				serve_asset(rq);
			else if (rq->route->begin)
				rq->route->begin(rq);
		}
		if (req_has_reply(rq))
			return queue_reply(rq);
		return MHD_YES;
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		rq->received += n;
		if (body_too_slow(rq)) {
			loglimit_log(&ll_slow, APF_LOG_INFO, "cut off a request to '%s': body slower than %u bytes/s",
				     rq->url, srv->opts.min_rate);
			return MHD_NO;
		}
		if (!rq->too_big && !req_has_reply(rq) && rq->received > (uint64_t)rq->max_body) {
			rq->too_big = 1;
			req_reply_error(rq, APF_ETOOBIG, "request body is over the limit of %lld bytes",
					(long long)rq->max_body);
		}
		/* Whatever the answer already is, a body that goes on this far
		 * past the limit will not stop: cut it off. */
		if (rq->received > (uint64_t)rq->max_body + DISCARD_MAX)
			return MHD_NO;
		if (!req_has_reply(rq)) {
			if (rq->route->data)
				rq->route->data(rq, upload_data, n);
			else
				req_reply_error(rq, APF_ETOOBIG, "this request takes no body");
		}
		return MHD_YES;
	}

	/* The body is complete (or there was none). */
	if (!req_has_reply(rq) && !rq->work && rq->route->end) {
		rq->route->end(rq);
		if (rq->work && !req_has_reply(rq)) {
			submit_work(srv, rq);
			return MHD_YES;
		}
	}
	if (!req_has_reply(rq))
		req_reply_error(rq, APF_EINTERNAL, "no handler answered");
	return queue_reply(rq);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct apf_server *srv = cls;
	struct req *rq = *con_cls;

	(void)conn;
	if (!rq)
		return;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		apf_log_debug("request '%s' ended early (code %d)", rq->url, (int)toe);
	if (rq->route && rq->route->cleanup)
		rq->route->cleanup(rq);
	free(rq->body);
	free(rq);
	*con_cls = NULL;
	pthread_mutex_lock(&srv->lock);
	srv->active--;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	loglimit_log(&ll_mhd, APF_LOG_DEBUG, "http: %s", line);
}

/* "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, struct apf_err *err)
{
	char host[128];
	const char *colon, *h = s;
	size_t hl;
	int64_t port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			goto bad;
		h = s + 1;
		hl = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			goto bad;
		hl = (size_t)(colon - s);
	}
	if (hl >= sizeof(host) || apf_parse_i64(colon + 1, &port) || port < 0 || port > 65535)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (!hl)
		apf_strlcpy(host, "127.0.0.1", sizeof(host));
	if (!strcmp(host, "localhost"))
		apf_strlcpy(host, "127.0.0.1", sizeof(host));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
bad:
	return apf_error(err, APF_EUSAGE, "bad listen address '%s': expected HOST:PORT (an IP address)", s);
}

static int is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

static int listen_socket(const char *listen_s, const struct sockaddr_storage *ss, socklen_t len, int *out,
			 unsigned *port, struct apf_err *err)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int one = 1, fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return apf_error(err, APF_EIO, "cannot listen on '%s': %s", listen_s, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen)) {
		int e = errno;

		close(fd);
		return apf_error(err, APF_EIO, "cannot listen on '%s': %s", listen_s, strerror(e));
	}
	*port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						  : ((struct sockaddr_in *)&bound)->sin_port);
	*out = fd;
	return 0;
}

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		return 64; /* a guess on the safe side */
	while (readdir(d))
		n++;
	closedir(d);
	return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own */
}

/*
 * The connection cap from RLIMIT_NOFILE: the soft limit is raised to the
 * hard one where allowed, then each connection is given FD_PER_CONN of
 * what is left after the descriptors open now and FD_RESERVE.
 */
static int size_connections(struct apf_server *srv, struct apf_err *err)
{
	struct rlimit rl;
	uint64_t nofile, used, budget;
	unsigned want = srv->opts.max_connections ? srv->opts.max_connections : MAX_CONNECTIONS;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return apf_error(err, APF_EIO, "cannot read the file descriptor limit: %s", strerror(errno));
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
		struct rlimit raised = rl;

		raised.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
		if (raised.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl = raised;
	}
	nofile = rl.rlim_cur == RLIM_INFINITY ? 65536 : rl.rlim_cur;
	used = open_fds();
	budget = nofile > used + FD_RESERVE ? (nofile - used - FD_RESERVE) / FD_PER_CONN : 0;
	if (budget < MIN_CONNECTIONS)
		return apf_error(err, APF_ECONFIG,
				 "too few file descriptors for the server: the limit is %llu and %llu are in use; "
				 "raise it (ulimit -n) to at least %llu",
				 (unsigned long long)nofile, (unsigned long long)used,
				 (unsigned long long)(used + FD_RESERVE + FD_PER_CONN * MIN_CONNECTIONS));
	if (budget < want) {
		if (srv->opts.max_connections || nofile < 4096)
			apf_log_warn("%llu file descriptors (ulimit -n) allow %llu connections, not %u",
				     (unsigned long long)nofile, (unsigned long long)budget, want);
		want = (unsigned)budget;
	}
	srv->opts.max_connections = want;
	if (srv->opts.max_per_addr > want)
		srv->opts.max_per_addr = want;
	return 0;
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe)
{
	struct apf_server *srv = cls;
	const union MHD_ConnectionInfo *ci;

	(void)socket_context;
	if (toe != MHD_CONNECTION_NOTIFY_CLOSED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	gate_conn_closed(srv->gate, ci ? ci->client_addr : NULL);
}

static void stop_workers(struct apf_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->stopping = 1;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
	for (unsigned i = 0; i < srv->nworkers; i++)
		pthread_join(srv->workers[i], NULL);
	srv->nworkers = 0;
}

static void server_free(struct apf_server *srv)
{
	/* No new connection reaches MHD, the workers finish what they hold,
	 * MHD closes what is left (telling the gate), then the gate goes. */
	gate_quiesce(srv->gate);
	if (srv->nworkers)
		stop_workers(srv);
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	gate_free(srv->gate);
	apf_ingest_free(srv->ingest);
	pthread_cond_destroy(&srv->cond);
	pthread_mutex_destroy(&srv->lock);
	free(srv->workers);
	free(srv->token);
	free(srv);
}

int apf_server_start(const struct apf_config *cfg, const struct apf_server_opts *opts,
		     struct apf_server **out, struct apf_err *err)
{
	struct apf_server *srv = apf_xcalloc(1, sizeof(*srv));
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	struct gate_opts go;
	unsigned flags;
	int listen_fd = -1;
	int rc = apf_mhd_need(err);

	if (rc) {
		free(srv);
		return rc;
	}
	srv->cfg = cfg;
	srv->opts = *opts;
	srv->opts.listen = NULL;
	if (!srv->opts.threads)
		srv->opts.threads = 4;
	if (!srv->opts.workers)
		srv->opts.workers = 16;
	if (!srv->opts.max_per_addr)
		srv->opts.max_per_addr = MAX_PER_ADDR;
	if (!srv->opts.header_timeout)
		srv->opts.header_timeout = HEADER_TIMEOUT;
	if (!srv->opts.idle_timeout)
		srv->opts.idle_timeout = IDLE_TIMEOUT;
	if (!srv->opts.min_rate)
		srv->opts.min_rate = MIN_RATE;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->cond, NULL);

	rc = parse_listen(opts->listen, &ss, &sslen, err);
	if (rc)
		goto fail;
	/* An empty token would turn authentication off without a word. */
	if (opts->upload_token && !*opts->upload_token) {
		rc = apf_error(err, APF_ECONFIG, "the upload token is empty: set a token, or unset it to run without one");
		goto fail;
	}
	if (opts->upload_token)
		srv->token = apf_xstrdup(opts->upload_token);
	if (!srv->token && !is_loopback(&ss)) {
		if (!opts->open) {
			rc = apf_error(err, APF_EUSAGE,
				       "refusing to listen on '%s' without an upload token: anyone who reaches it "
				       "could upload and list documents; set upload_token (APFLOW_UPLOAD_TOKEN), "
				       "or pass --open to mean it",
				       opts->listen);
			goto fail;
		}
		apf_log_warn("listening on '%s' without an upload token (--open): anyone who reaches it can upload "
			     "and list documents",
			     opts->listen);
	}
	srv->store = opts->store;
	srv->writer = opts->writer;
	/* Uploads are announced to the writer when their head arrives
	 * (upload.c), so it may wait for bodies still streaming in: a few
	 * milliseconds more per commit under load, half the commits. */
	apf_dbwriter_set_gather(srv->writer, SERVER_GATHER_US);
	if (!srv->store || !srv->writer) {
		rc = apf_error(err, APF_EINTERNAL, "the server needs a store and a warehouse writer");
		goto fail;
	}
	rc = apf_ingest_new(cfg, srv->store, srv->writer, &srv->ingest, err);
	if (rc)
		goto fail;

	srv->workers = apf_xcalloc(srv->opts.workers, sizeof(*srv->workers));
	for (unsigned i = 0; i < srv->opts.workers; i++) {
		int e = pthread_create(&srv->workers[i], NULL, worker_main, srv);
		if (e) {
			rc = apf_error(err, APF_EINTERNAL, "cannot start a worker thread: %s", strerror(e));
			goto fail;
		}
		srv->nworkers++;
	}

	rc = listen_socket(opts->listen, &ss, sslen, &listen_fd, &srv->port, err);
	if (rc)
		goto fail;
	/* MHD gets connections only from the gate (gate.h). */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
		MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, srv,
				       MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				       MHD_OPTION_THREAD_POOL_SIZE, srv->opts.threads,
				       MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.idle_timeout,
				       MHD_OPTION_CONNECTION_LIMIT, (unsigned)65536,
				       MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY,
				       MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv,
				       MHD_OPTION_NOTIFY_CONNECTION, notify_connection, srv,
				       MHD_OPTION_END);
	if (!srv->daemon) {
		rc = apf_error(err, APF_EIO, "cannot start the HTTP server on '%s': %s", opts->listen,
			       errno ? strerror(errno) : "libmicrohttpd refused to start");
		goto fail;
	}
	rc = size_connections(srv, err);
	if (rc)
		goto fail;
	memset(&go, 0, sizeof(go));
	go.max_conns = srv->opts.max_connections;
	go.max_per_addr = srv->opts.max_per_addr;
	go.header_timeout_ms = (int64_t)srv->opts.header_timeout * 1000;
	rc = gate_start(listen_fd, srv->daemon, &go, &srv->gate, err);
	listen_fd = -1; /* the gate's now, even when it failed */
	if (rc)
		goto fail;
	*out = srv;
	return 0;
fail:
	if (listen_fd >= 0)
		close(listen_fd);
	server_free(srv);
	return rc;
}

void apf_server_stop(struct apf_server *srv, int64_t grace_ms)
{
	int64_t deadline = apf_now_ms() + grace_ms;
	struct apf_dbwriter *writer;
	struct apf_dbwriter_stats st;
	long active;

	if (!srv)
		return;
	/* Stop accepting: new clients see a refused connection; requests
	 * whose head is still arriving are dropped. */
	gate_quiesce(srv->gate);
	for (;;) {
		pthread_mutex_lock(&srv->lock);
		active = srv->active;
		pthread_mutex_unlock(&srv->lock);
		if ((active <= 0 && gate_in_mhd(srv->gate) == 0) || apf_now_ms() >= deadline)
			break;
		apf_sleep_ms(20);
	}
	if (active > 0)
		apf_log_warn("stopping with %ld request(s) unfinished; they are dropped", active);
	/* Work already handed to workers finishes (an upload whose body was
	 * received is stored and recorded); then the daemon closes what is
	 * left and the writer commits what is queued. */
	writer = srv->writer;
	server_free(srv);
	/* How well uploads were grouped into warehouse transactions. */
	apf_dbwriter_stats(writer, &st);
	apf_log_info("warehouse: %" PRIu64 " jobs committed in %" PRIu64 " transactions (largest %" PRIu64
		     "), %" PRIu64 " failed",
		     st.jobs, st.batches, st.max_batch, st.failures);
}
