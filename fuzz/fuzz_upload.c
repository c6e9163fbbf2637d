/*
 * fuzz_upload.c: libFuzzer target for POST /upload (src/server/upload.c):
 * the Content-Type check, the multipart body through libmicrohttpd's post
 * processor and upload.c's part callback, the X-Filename decoding and the
 * filename sanitizer.
 *
 * The request goes through a real libmicrohttpd daemon inside this process,
 * as `apflow serve` runs it: no listening socket, the connection is one end
 * of a socketpair handed to MHD_add_connection(), and MHD_run() is driven
 * from here, so one input is one request, parsed by MHD and handed to
 * upload_begin(), upload_data() and upload_end() by an access handler that
 * follows server.c's.  What lies behind upload.c is replaced by fakes in
 * this file: the server's accessors (server.c; its replies are the real
 * ones) and the spool and ingest calls (ingest.c), so no disk, store or
 * warehouse is touched.  The fakes check what upload.c promises:
 *   - every spool it opens is discarded by the end of the request, however
 *     the request ends (answered, refused, or the client went away);
 *   - a spool is finished before it is ingested, and never written after;
 *   - every request the handler saw gets an answer, a JSON object, never
 *     a 500 (req_reply_json() turns a document jansson cannot encode, such
 *     as a message quoting invalid UTF-8, into 500 "out of memory");
 *   - a sanitized filename is well-formed UTF-8 without '/', '\', control
 *     characters or a leading dot, of 1..APF_FILENAME_MAX bytes.
 *
 * Input: one byte that sets how upload_data() gets the body (0: as MHD
 * gives it, n: in pieces of n bytes), then the Content-Type line, the
 * X-Filename line (empty: no header), the ?filename= line (empty: none),
 * each ended by '\n', then the body.  The seeds are in fuzz/corpus/upload/.
 * FUZZ_UPLOAD_TRACE=1 in the environment prints each answer on stderr.
 *
 * Linked with --allow-multiple-definition: the fakes below come first and
 * win over server.c's and ingest.c's functions of the same names, while
 * server.c's replies and ingest.c's JSON and sanitizer functions stay the
 * real ones.  The warehouse writer is faked too: the target checks that
 * every upload announced to it (apf_dbwriter_expect(), upload.c) is taken
 * back by the end of its request, however the request ends.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "apflow/err.h"
#include "apflow/ingest.h"
#include "apflow/utf8.h"
#include "server/server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "fuzz_upload: check failed at line %d: %s\n", __LINE__, #cond); \
			abort();                                                       \
		}                                                                      \
	} while (0)

#define MAX_UPLOAD 4096 /* small, so that the too-big path is reached */

static struct MHD_Daemon *daemon_;
static long live_spools;
static long live_requests;
static long announced; /* uploads announced to the warehouse writer (upload.c) */
static size_t piece; /* how upload_data() is fed; 0: as MHD gives it */

/* ---- fakes of server.c: the objects behind the handlers (its replies are the real ones) ---- */

struct apf_ingest *server_ingest(struct apf_server *srv)
{
	return (struct apf_ingest *)srv;
}

/* No writer: apf_dbwriter_expect() below only counts. */
struct apf_dbwriter *server_writer(struct apf_server *srv)
{
	(void)srv;
	return NULL;
}

void apf_dbwriter_expect(struct apf_dbwriter *w, int delta)
{
	CHECK(w == NULL);
	CHECK(delta == 1 || delta == -1);
	announced += delta;
	CHECK(announced >= 0); /* never taken back more than announced */
}

uint64_t server_max_upload(struct apf_server *srv)
{
	(void)srv;
	return MAX_UPLOAD;
}

/* ---- fakes of ingest.c: the spool counts bytes, nothing reaches a disk ---- */

int apf_ingest_spool_open(struct apf_ingest *ing, uint64_t max, struct apf_ingest_spool *sp,
			  struct apf_err *err)
{
	(void)err;
	CHECK(ing != NULL);
	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
	sp->max = max;
	sp->path = strdup("fuzz-spool"); /* leaks unless discarded */
	sp->hash = (struct apf_sha256 *)sp->path; /* non-NULL: open for writing */
	live_spools++;
	return 0;
}

int apf_ingest_spool_write(struct apf_ingest_spool *sp, const void *data, size_t n,
			   struct apf_err *err)
{
	CHECK(sp->path && sp->hash);
	CHECK(data != NULL || n == 0);
	if (sp->max && (n > sp->max || sp->bytes > sp->max - n))
		return apf_error(err, APF_ETOOBIG, "file larger than %llu bytes", (unsigned long long)sp->max);
	sp->bytes += n;
	return 0;
}

int apf_ingest_spool_finish(struct apf_ingest_spool *sp, struct apf_err *err)
{
	(void)err;
	CHECK(sp->path && sp->hash);
	sp->hash = NULL;
	snprintf(sp->sha256, sizeof(sp->sha256), "%064llx", (unsigned long long)sp->bytes);
	return 0;
}

void apf_ingest_spool_discard(struct apf_ingest_spool *sp)
{
	if (sp->path) {
		free(sp->path);
		sp->path = NULL;
		live_spools--;
	}
	sp->hash = NULL;
}

static void check_filename(const char *s)
{
	size_t len = strlen(s), bad;

	CHECK(len >= 1 && len <= APF_FILENAME_MAX);
	CHECK(apf_utf8_validate(s, len, &bad) == 0);
	CHECK(s[0] != '.' && s[0] != ' ');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		CHECK(c >= 0x20 && c != 0x7f && c != '/' && c != '\\');
	}
}

int apf_ingest_file(struct apf_ingest *ing, const struct apf_ingest_spool *sp, const char *filename,
		    size_t filename_len, const char *source, const char *client,
		    struct apf_ingest_result *res, struct apf_err *err)
{
	char *name;

	(void)client;
	CHECK(ing != NULL && source != NULL);
	CHECK(sp->path && !sp->hash && sp->sha256[0]); /* finished, not discarded */
	CHECK(filename != NULL || filename_len == 0);
	name = apf_ingest_sanitize_filename(filename, filename_len);
	check_filename(name);
	memset(res, 0, sizeof(*res));
	if (sp->bytes < 5) {
		free(name);
		return apf_error(err, APF_EPDF, "not a PDF (no %%PDF- signature)");
	}
	snprintf(res->doc_id, sizeof(res->doc_id), "%020llx", (unsigned long long)sp->bytes);
	memcpy(res->sha256, sp->sha256, sizeof(res->sha256));
	res->filename = name;
	res->bytes = sp->bytes;
	res->pages = 1;
	res->duplicate = (int)(sp->bytes & 1);
	res->upload_id = 1;
	snprintf(res->uploaded_at, sizeof(res->uploaded_at), "2025-01-31T12:34:56.789012Z");
	return 0;
}

/* ---- the access handler, as server.c's access_cb for the upload route ---- */

static enum MHD_Result queue_reply(struct req *rq)
{
	struct MHD_Response *resp;
	json_t *doc;
	enum MHD_Result ret;

	/* The answer is a JSON object with error and code, or a result. */
	CHECK(rq->status >= 200 && rq->status != 500);
	doc = json_loadb(rq->body, rq->body_len, 0, NULL);
	CHECK(json_is_object(doc));
	if (rq->status >= 400 && rq->status != 207)
		CHECK(json_is_string(json_object_get(doc, "error")) || json_is_array(json_object_get(doc, "files")));
	json_decref(doc);
	if (getenv("FUZZ_UPLOAD_TRACE"))
		fprintf(stderr, "fuzz_upload: %u %.*s\n", rq->status, (int)rq->body_len, rq->body);
	resp = MHD_create_response_from_buffer(rq->body_len, rq->body, MHD_RESPMEM_MUST_FREE);
	CHECK(resp != NULL);
	rq->body = NULL;
	ret = MHD_queue_response(rq->conn, rq->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *body,
				 size_t *upload_data_size, void **con_cls)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)version;
	if (!rq) {
		CHECK(!strcmp(method, "POST"));
		rq = calloc(1, sizeof(*rq));
		rq->srv = (struct apf_server *)&daemon_;
		rq->conn = conn;
		rq->url = url;
		rq->max_body = MAX_UPLOAD;
		*con_cls = rq;
		live_requests++;
		upload_begin(rq);
		if (req_has_reply(rq))
			return queue_reply(rq);
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		rq->received += n;
		for (size_t off = 0; off < n && !req_has_reply(rq);) {
			size_t k = piece && piece < n - off ? piece : n - off;
			upload_data(rq, body + off, k);
			off += k;
		}
		return MHD_YES;
	}
	if (!req_has_reply(rq) && !rq->work) {
		upload_end(rq);
		if (rq->work && !req_has_reply(rq)) {
			req_work_fn work = rq->work;
			rq->work = NULL;
			work(rq); /* server.c runs it on a worker thread */
		}
	}
	CHECK(req_has_reply(rq)); /* upload.c answers every request it ends */
	return queue_reply(rq);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!rq)
		return;
	upload_cleanup(rq);
	free(rq->body);
	free(rq);
	*con_cls = NULL;
	live_requests--;
}

static void setup(void)
{
	struct apf_err err = { 0, "" };

	CHECK(apf_mhd_need(&err) == 0);
	daemon_ = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, access_cb, NULL,
				   MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
				   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0, MHD_OPTION_END);
	CHECK(daemon_ != NULL);
}

/* The next '\n'-ended line of the input (without it); stops at the end. */
static const uint8_t *next_line(const uint8_t *p, const uint8_t *end, size_t *len)
{
	const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));

	*len = (size_t)((nl ? nl : end) - p);
	return nl ? nl + 1 : end;
}

/* Appends to the request being built (sprintf is banned: apflow/banned.h). */
static __attribute__((format(printf, 2, 3))) void addf(char **w, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*w, 64, fmt, ap); /* every piece added is short */
	va_end(ap);
	CHECK(n >= 0 && n < 64);
	*w += n;
}

/* Header values cannot hold CR, LF or NUL: those become '_'. */
static void add_clean(char **w, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		*(*w)++ = (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') ? '_' : (char)s[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *ct, *xf, *qf;
	size_t ct_len, xf_len, qf_len, body_len, req_len, sent = 0;
	char *req, *w, head[64], reply[16];
	size_t got = 0;
	struct sockaddr_in addr;
	int sv[2], eof = 0;

	if (!daemon_)
		setup();
	if (size < 1)
		return 0;
	piece = *p++;
	ct = p;
	p = next_line(p, end, &ct_len);
	xf = p;
	p = next_line(p, end, &xf_len);
	qf = p;
	p = next_line(p, end, &qf_len);
	body_len = (size_t)(end - p);

	req = malloc(320 + ct_len + xf_len + 3 * qf_len + body_len);
	w = req;
	addf(&w, "POST /upload");
	if (qf_len) {
		/* The query is percent-encoded byte by byte, as a client would. */
		addf(&w, "?filename=");
		for (size_t i = 0; i < qf_len; i++)
			addf(&w, "%%%02X", qf[i]);
	}
	addf(&w, " HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\nContent-Type: ");
	add_clean(&w, ct, ct_len);
	if (xf_len) {
		addf(&w, "\r\nX-Filename: ");
		add_clean(&w, xf, xf_len);
	}
	addf(&w, "\r\nContent-Length: %zu\r\n\r\n", body_len);
	memcpy(w, p, body_len);
	w += body_len;
	req_len = (size_t)(w - req);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(MHD_add_connection(daemon_, sv[1], (const struct sockaddr *)&addr, sizeof(addr)) == MHD_YES);

	for (int i = 0; i < 100000 && !eof; i++) {
		ssize_t r;

		if (sent < req_len) {
			r = send(sv[0], req + sent, req_len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r > 0)
				sent += (size_t)r;
			else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				sent = req_len; /* MHD closed early: it has answered */
		}
		CHECK(MHD_run(daemon_) == MHD_YES);
		r = recv(sv[0], head, sizeof(head), MSG_DONTWAIT);
		if (r > 0) {
			if (got < sizeof(reply)) {
				size_t k = (size_t)r < sizeof(reply) - got ? (size_t)r : sizeof(reply) - got;
				memcpy(reply + got, head, k);
			}
			got += (size_t)r;
		} else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			eof = 1;
		}
	}
	CHECK(eof); /* MHD closes a Connection: close request once answered */
	if (got)
		CHECK(got >= 9 && !memcmp(reply, "HTTP/1.1 ", 9));
	close(sv[0]);
	for (int i = 0; i < 1000 && live_requests; i++)
		MHD_run(daemon_);
	CHECK(live_requests == 0);
	CHECK(live_spools == 0); /* every temp file deleted, however the request ended */
	CHECK(announced == 0);   /* every announcement taken back (the fake ingest announces nothing) */
	free(req);
	return 0;
}
