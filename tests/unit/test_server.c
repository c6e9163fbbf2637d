/*
 * test_server.c: the server's error paths, walked from its route table.
 *
 * For every route of server_routes[] the test sends the requests that
 * must be refused (another method, no token, a wrong token, a body where
 * none is taken, a body over the limit, a bad Content-Length, a bad
 * Content-Type, a bad id, a bad query), plus requests no route takes, and
 * checks each error answer: JSON {error, code}, and the HTTP status equal
 * to the one the error table (err.h) gives for that code.  The requests
 * go over a plain socket so that malformed ones can be sent too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "apflow/buf.h"
#include "apflow/db.h"
#include "apflow/migrate.h"
#include "apflow/util.h"
#include "server/httphead.h"
#include "server/server_int.h"

#define TOKEN "test-server-token-5a1e"

struct world {
	char dir[64];
	struct apf_config cfg;
	struct apf_server *srv;
	struct apf_store *store;
	struct apf_dbwriter *writer;
	unsigned port;
	/* What the walk saw. */
	int probes;
	int seen[600];        /* by status */
	int per_route[32];
};

static int world_setup(void **state)
{
	struct world *w = apf_xcalloc(1, sizeof(*w));
	struct apf_server_opts so;
	struct apf_err err;
	struct apf_db *db = NULL;
	char *url;

	snprintf(w->dir, sizeof(w->dir), "/tmp/apflow-test-server.XXXXXX");
	if (!mkdtemp(w->dir) || apf_config_load(&w->cfg, NULL, &err) ||
	    apf_config_set_flag(&w->cfg, "data_dir", w->dir, "test", &err))
		return -1;
	url = apf_xasprintf("file://%s/lake", w->dir);
	if (apf_config_set_flag(&w->cfg, "store", url, "test", &err) || apf_db_open(&w->cfg, &db, &err) ||
	    apf_migrate(db, 0, NULL, NULL, &err))
		return -1;
	free(url);
	apf_db_close(db);
	/* What main.c provisions for apflow serve. */
	if (apf_store_open(&w->cfg, &w->store, &err) ||
	    apf_dbwriter_new_ex(&w->cfg, 0, APF_DB_ONE_THREAD, &w->writer, &err))
		return -1;
	memset(&so, 0, sizeof(so));
	so.store = w->store;
	so.writer = w->writer;
	so.listen = "127.0.0.1:0";
	so.max_upload = 1 << 20;
	so.upload_token = TOKEN;
	so.threads = 2;
	so.workers = 2;
	if (apf_server_start(&w->cfg, &so, &w->srv, &err)) {
		fprintf(stderr, "cannot start the server: %s\n", err.msg);
		return -1;
	}
	w->port = apf_server_port(w->srv);
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;
	char *cmd = apf_xasprintf("rm -rf '%s'", w->dir);

	apf_server_stop(w->srv, 1000);
	apf_dbwriter_free(w->writer);
	apf_store_free(w->store);
	apf_config_release(&w->cfg);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", w->dir);
	free(cmd);
	free(w);
	return 0;
}

/* Sends req (len bytes) and reads the answer until the server closes;
 * returns the status, the body in *body (caller frees). */
static int http_raw(struct world *w, const char *req, size_t len, char **body)
{
	struct sockaddr_in sa;
	struct apf_buf b = APF_BUF_INIT;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
	char chunk[4096];
	const char *p;

	*body = NULL;
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)w->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* The server may answer and close before all is sent (413 at once). */
	(void)!send(fd, req, len, MSG_NOSIGNAL);
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, 10000) <= 0)
			break;
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n <= 0)
			break;
		apf_buf_add(&b, chunk, (size_t)n);
		if (b.len > (1 << 20))
			break;
	}
	close(fd);
	if (b.len > 12 && !strncmp(b.data, "HTTP/1.", 7))
		status = (int)strtol(b.data + 9, NULL, 10);
	if (b.data && strstr(b.data, "\nHTTP/1.")) {
		fprintf(stderr, "# two answers on one connection: %.300s\n", b.data);
		status = -3;
	}
	p = b.data ? strstr(b.data, "\r\n\r\n") : NULL;
	if (p)
		*body = apf_xstrdup(p + 4);
	if (b.data && status > 0 && !strcasestr(b.data, "\r\nContent-Type: application/json") && status >= 400) {
		fprintf(stderr, "# error answer is not JSON: %.200s\n", b.data);
		status = -2;
	}
	apf_buf_release(&b);
	return status;
}

static int code_by_name(const char *name)
{
	for (int c = 0; c < APF_E_COUNT; c++)
		if (!strcmp(apf_err_name(c), name))
			return c;
	return -1;
}

/* One probe: the answer must be want_status; an error answer must carry a
 * code whose table status is that status. */
static void probe(struct world *w, int route, int want_status, const char *fmt, ...)
{
	char req[32768], *body = NULL;
	va_list ap;
	int n, status;

	va_start(ap, fmt);
	n = vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(req));
	status = http_raw(w, req, (size_t)n, &body);
	if (status != want_status)
		fprintf(stderr, "# request: %.200s\n# answer %d: %s\n", req, status, body ? body : "(none)");
	assert_int_equal(status, want_status);
	if (status >= 400) {
		json_error_t je;
		json_t *doc = json_loads(body, 0, &je);
		const char *code;
		int c;

		assert_non_null(doc);
		code = json_string_value(json_object_get(doc, "code"));
		assert_non_null(code);
		assert_non_null(json_string_value(json_object_get(doc, "error")));
		c = code_by_name(code);
		assert_true(c > 0);
		if (apf_err_http_status(c) != status)
			fprintf(stderr, "# %s is %d in the table, answered %d\n", code, apf_err_http_status(c), status);
		assert_int_equal(apf_err_http_status(c), status);
		json_decref(doc);
	}
	free(body);
	w->probes++;
	w->seen[status]++;
	if (route >= 0)
		w->per_route[route]++;
}

#define AUTH "Authorization: Bearer " TOKEN "\r\n"

static void test_error_table_walk(void **state)
{
	struct world *w = *state;

	assert_true(server_nroutes < 32);
	for (size_t i = 0; i < server_nroutes; i++) {
		const struct route *r = &server_routes[i];
		char path[128];
		int ri = (int)i;
		const char *auth = r->auth ? AUTH : "";

		snprintf(path, sizeof(path), "%s%s", r->path, r->prefix ? "0123456789abcdef0123" : "");
		/* Another method. */
		probe(w, ri, 405, "%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n",
		      strcmp(r->method, "POST") ? "POST" : "PUT", path, auth);
		probe(w, ri, 405, "DELETE %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", path, auth);
		if (r->auth) {
			probe(w, ri, 401, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
			      r->method, path);
			probe(w, ri, 401,
			      "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "x\r\n"
			      "Connection: close\r\nContent-Length: 0\r\n\r\n",
			      r->method, path);
			probe(w, ri, 401,
			      "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " TOKEN "\r\n"
			      "Connection: close\r\nContent-Length: 0\r\n\r\n",
			      r->method, path);
		}
		if (r->max_body == 0) {
			/* A body where none is taken. */
			probe(w, ri, 413, "%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: 5\r\nConnection: close\r\n\r\nhello",
			      r->method, path, auth);
		} else {
			probe(w, ri, 413, "%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/pdf\r\n"
			      "Content-Length: 1048577\r\nConnection: close\r\n\r\n", r->method, path, auth);
		}
		if (r->prefix) {
			probe(w, ri, 404, "%s %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", r->method, path, auth);
			probe(w, ri, 400, "%s %sNOT-AN-ID HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", r->method,
			      r->path, auth);
		}
	}
	/* The handlers' own refusals. */
	probe(w, -1, 415, "POST /upload HTTP/1.1\r\nHost: x\r\n" AUTH "Content-Type: text/plain\r\n"
	      "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
	probe(w, -1, 415, "POST /upload HTTP/1.1\r\nHost: x\r\n" AUTH "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
	probe(w, -1, 400, "POST /upload HTTP/1.1\r\nHost: x\r\n" AUTH "Content-Type: multipart/form-data\r\n"
	      "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
	probe(w, -1, 400, "POST /upload HTTP/1.1\r\nHost: x\r\n" AUTH "Content-Type: application/pdf\r\n"
	      "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
	probe(w, -1, 400, "POST /upload HTTP/1.1\r\nHost: x\r\n" AUTH "Content-Type: multipart/form-data; boundary=B\r\n"
	      "Content-Length: 4\r\nConnection: close\r\n\r\n--B-");
	probe(w, -1, 400, "GET /api/documents?limit=0 HTTP/1.1\r\nHost: x\r\n" AUTH "Connection: close\r\n\r\n");
	probe(w, -1, 400, "GET /api/documents?after=x HTTP/1.1\r\nHost: x\r\n" AUTH "Connection: close\r\n\r\n");
	probe(w, -1, 404, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	/* Found by fuzz_upload: a refusal quoting bytes that are not UTF-8
	 * was a 500 "out of memory" (jansson refuses such a string). */
	probe(w, -1, 415, "POST /upload HTTP/1.1\r\nHost: x\r\n" AUTH "Content-Type: application/\xa9\xff\r\n"
	      "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
	probe(w, -1, 404, "GET /nope%%FF%%C3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	probe(w, -1, 404, "GET /api/documents/ HTTP/1.1\r\nHost: x\r\n" AUTH "Connection: close\r\n\r\n");
	/* Heads the gate refuses at once (httphead.h), with JSON, once. */
	{
		static const char *bad_heads[] = {
			"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
			"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
			"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n",
			"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n",
			"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
			"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n",
			"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
			"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
			"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
			"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n",
			"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
			"POST /upload HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
			"GET /healthz HTTP/1.1\r\n\r\n",
			"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
			"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n",
			"GET /healthz\r\nHost: x\r\n\r\n",
			"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /healthz HTTP/1.1\nHost: x\n\n",
			"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
			"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
			"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ctl: a\x01b\r\n\r\n",
			"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
			"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		};
		for (size_t i = 0; i < sizeof(bad_heads) / sizeof(bad_heads[0]); i++) {
			int64_t t0 = apf_now_ms();

			probe(w, -1, 400, "%s", bad_heads[i]);
			assert_true(apf_now_ms() - t0 < 3000);
		}
		probe(w, -1, 400, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Nul: a%cb\r\n\r\n", 0);
	}
	{
		/* A head over 16 KiB, and one with 101 fields: 431. */
		char *big = apf_xmalloc(20000), *many = apf_xmalloc(4000);
		size_t o = 0;

		o += (size_t)snprintf(big, 20000, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
		memset(big + o, 'a', 17000);
		o += 17000;
		memcpy(big + o, "\r\n\r\n", 5);
		probe(w, -1, 431, "%s", big);
		o = (size_t)snprintf(many, 4000, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
		for (int i = 0; i < 101; i++)
			o += (size_t)snprintf(many + o, 4000 - o, "X-%d: v\r\n", i);
		snprintf(many + o, 4000 - o, "\r\n");
		probe(w, -1, 431, "%s", many);
		free(big);
		free(many);
	}
	/* And what succeeds, so the walk can tell a refusal from a dead server. */
	probe(w, -1, 200, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	probe(w, -1, 200, "GET /api/documents HTTP/1.1\r\nHost: x\r\n" AUTH "Connection: close\r\n\r\n");
	probe(w, -1, 200, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

	for (size_t i = 0; i < server_nroutes; i++)
		assert_true(w->per_route[i] >= 3);
	for (int s = 400; s < 440; s++)
		if (s == 400 || s == 401 || s == 404 || s == 405 || s == 413 || s == 415 || s == 431)
			assert_true(w->seen[s] > 0);
	printf("# %d probes over %zu routes\n", w->probes, server_nroutes);
}

/* httphead_parse() alone: every prefix of a good head asks for more, the
 * whole head passes with its length and body framing. */
static void test_httphead_prefixes(void **state)
{
	static const char good[] = "\r\nPOST /upload?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length:  42\r\n"
				   "content-length: 42\r\nX-Empty:\r\nX-Utf8: \xc3\xa9\r\n\r\nBODY";
	static const char chunked[] = "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n";
	size_t head = sizeof(good) - 1 - 4;
	struct httphead h;
	struct apf_err err;

	(void)state;
	for (size_t n = 0; n < head; n++)
		assert_int_equal(httphead_parse(good, n, &h, &err), HTTPHEAD_MORE);
	assert_int_equal(httphead_parse(good, head, &h, &err), 0);
	assert_int_equal(h.len, head);
	assert_int_equal(h.content_length, 42);
	assert_int_equal(h.chunked, 0);
	assert_int_equal(h.http11, 1);
	assert_string_equal(h.method, "POST");
	assert_int_equal(httphead_parse(good, sizeof(good) - 1, &h, &err), 0);
	assert_int_equal(h.len, head);
	assert_int_equal(httphead_parse(chunked, sizeof(chunked) - 1, &h, &err), 0);
	assert_int_equal(h.chunked, 1);
	assert_int_equal(h.content_length, -1);
	/* Refused as soon as the bytes show it, before the head ends. */
	assert_int_equal(httphead_parse("\x16\x03\x01", 3, &h, &err), APF_EINVAL);
	assert_int_equal(httphead_parse("GET /a HTTP/2", 13, &h, &err), APF_EINVAL);
	assert_int_equal(httphead_parse("GET /a\x01", 7, &h, &err), APF_EINVAL);
	assert_int_equal(httphead_parse("GET /a HTTP/1.1\n", 16, &h, &err), APF_EINVAL);
	assert_int_equal(httphead_parse("GET /a HT", 9, &h, &err), HTTPHEAD_MORE);
	assert_int_equal(httphead_parse("GET /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 58, &h, &err),
			 APF_EINVAL);
	assert_string_equal(err.msg, "two different Content-Length headers (1 and 2)");
	/* libmicrohttpd keeps a trailing space: "chunked " is not chunked to it. */
	assert_int_equal(httphead_parse("GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1 \r\n\r\n", 48, &h, &err),
			 APF_EINVAL);
	assert_int_equal(httphead_parse("GET /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked \r\n\r\n", 57, &h, &err),
			 APF_EINVAL);
	assert_int_equal(httphead_parse("GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n", 32, &h, &err), APF_EINVAL);
	assert_int_equal(httphead_parse("GET /a?n=%00 HTTP/1.1\r\nHost: h\r\n\r\n", 34, &h, &err), 0);
}

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

static int connect_nb(unsigned port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0)
		(void)!connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	return fd;
}

/* Feeds body to a fresh parser in pieces of step bytes; returns the
 * result and sets *end to the offset where the body ended. */
static int chunk_run(const char *body, size_t len, size_t step, size_t *end, char *msg, size_t msgsz)
{
	struct chunkparse cp;
	struct apf_err err;
	size_t off = 0, used;
	int rc = 0;

	chunkparse_init(&cp);
	apf_err_clear(&err);
	*end = 0;
	while (off < len) {
		size_t k = len - off < step ? len - off : step;

		rc = chunkparse_feed(&cp, body + off, k, &used, &err);
		if (rc == 1) {
			*end = off + used;
			break;
		}
		if (rc) {
			snprintf(msg, msgsz, "%s", err.msg);
			break;
		}
		off += k;
	}
	return rc;
}

static void test_chunkparse(void **state)
{
	static const struct {
		const char *body;
		int rc;
		size_t end; /* where the body ends (rc 1) */
		const char *msg; /* the start of the reason (rc APF_EINVAL) */
	} cases[] = {
		{ "5\r\nhello\r\n0\r\n\r\n", 1, 15, NULL },
		{ "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 1, 15, NULL },
		{ "A;x=\"y\"\r\n0123456789\r\n000\r\nT: 1\r\nU:\r\n\r\n", 1, 38, NULL },
		{ "5\r\nhel", 0, 0, NULL },
		{ "5\r\nhello\r\n0\r\n", 0, 0, NULL },
		{ "zz\r\n", APF_EINVAL, 0, "malformed chunked body: a chunk size must start with a hex digit (got 'z')" },
		{ "3 \r\nabc\r\n0\r\n\r\n", APF_EINVAL, 0, "malformed chunked body: a chunk size must end in CRLF" },
		{ "3\nabc", APF_EINVAL, 0, "malformed chunked body: a chunk size must end in CRLF" },
		{ "3\r\nabcd\r\n", APF_EINVAL, 0, "malformed chunked body: a chunk's data must end in CRLF (got 'd')" },
		{ "ffffffffffffffff\r\n", APF_EINVAL, 0, "malformed chunked body: a chunk size of more than 15 hex digits" },
		{ "-3\r\n", APF_EINVAL, 0, "malformed chunked body: a chunk size must start with a hex digit (got '-')" },
		{ "1;\x01\r\n", APF_EINVAL, 0, "malformed chunked body: a control character in a chunk extension (got byte 0x01)" },
		{ "0\r\nno colon\r\n\r\n", APF_EINVAL, 0, "malformed chunked body: a trailer field's name must be a token" },
		{ "0\r\nnocolon\r\n\r\n", APF_EINVAL, 0, "malformed chunked body: a trailer field without a colon" },
		{ "0\r\n x: y\r\n\r\n", APF_EINVAL, 0, "malformed chunked body: a trailer field must start with a field name" },
		{ "0\r\n\rx", APF_EINVAL, 0, "malformed chunked body: a CR without LF at the end of the body" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Whole, and a byte at a time: the same verdict. */
		for (size_t step = 1; step <= 4096; step += 4095) {
			char msg[APF_ERR_MSG_MAX] = "";
			size_t end;
			int rc = chunk_run(cases[i].body, strlen(cases[i].body), step, &end, msg, sizeof(msg));

			if (rc != cases[i].rc)
				fail_msg("case %zu, step %zu: rc %d, expected %d (%s)", i, step, rc, cases[i].rc, msg);
			if (rc == 1)
				assert_int_equal(end, cases[i].end);
			if (cases[i].msg && strncmp(msg, cases[i].msg, strlen(cases[i].msg)))
				fail_msg("case %zu: '%s', expected '%s...'", i, msg, cases[i].msg);
		}
	}
	/* An extension over CHUNK_EXT_MAX bytes. */
	{
		char body[CHUNK_EXT_MAX + 16], msg[APF_ERR_MSG_MAX] = "";
		size_t end;

		memset(body, 'x', sizeof(body));
		memcpy(body, "1;", 2);
		assert_int_equal(chunk_run(body, sizeof(body), 7, &end, msg, sizeof(msg)), APF_EINVAL);
		assert_string_equal(msg, "malformed chunked body: a chunk extension over 1024 bytes");
	}
}

/*
 * Out of file descriptors: accept() fails with EMFILE while clients keep
 * connecting.  The gate must pause instead of spinning on the readable
 * listening socket, log it once, and serve again once descriptors are
 * back.  A child process is the client (its descriptors are its own).
 */
static void test_out_of_fds(void **state)
{
	struct world *w = *state;
	char logpath[] = "/tmp/apflow-test-server-log.XXXXXX";
	int logfd = mkstemp(logpath), saved = dup(2), status = -1;
	struct rlimit rl, low;
	struct rusage r0, r1;
	int fill[64], nfill = 0;
	pid_t child;
	double cpu;
	char *text = NULL, *body = NULL;
	size_t len = 0;
	struct apf_err err;

	assert_true(logfd >= 0 && saved >= 0);
	dup2(logfd, 2);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int fds[40];

		usleep(200 * 1000); /* the parent lowers its limit meanwhile */
		for (int i = 0; i < 40; i++)
			fds[i] = connect_nb(w->port);
		usleep(1500 * 1000);
		for (int i = 0; i < 40; i++)
			close(fds[i]);
		_exit(0);
	}
	low = rl;
	low.rlim_cur = (rlim_t)count_fds() + 8;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	/* Not one descriptor spare, so the gate has no connection of its own
	 * to close: each accept() fails. */
	while (nfill < 64 && (fill[nfill] = open("/dev/null", O_RDONLY)) >= 0)
		nfill++;
	getrusage(RUSAGE_SELF, &r0);
	usleep(1400 * 1000);
	getrusage(RUSAGE_SELF, &r1);
	while (nfill > 0)
		close(fill[--nfill]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	waitpid(child, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
	      (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
	/* Spinning takes what it gets of a core (0.34 s here under load, with
	 * the pause taken out); pausing takes almost none (0.001 s). */
	printf("# %.3f s of CPU over 1.4 s out of descriptors\n", cpu);
	assert_true(cpu < 0.1);
	/* Descriptors are back: the server answers. */
	usleep(300 * 1000);
	assert_int_equal(http_raw(w, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 53, &body), 200);
	free(body);
	dup2(saved, 2);
	close(saved);
	close(logfd);
	assert_int_equal(apf_read_file(logpath, 1 << 20, &text, &len, &err), 0);
	unlink(logpath);
	printf("# log: %s", text);
	assert_non_null(strstr(text, "cannot accept a connection: Too many open files; pausing for 100 ms"));
	/* Once per 10 s, however many accepts failed. */
	assert_null(strstr(strstr(text, "cannot accept") + 1, "cannot accept"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_httphead_prefixes),
		cmocka_unit_test(test_chunkparse),
		cmocka_unit_test_setup_teardown(test_error_table_walk, world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_out_of_fds, world_setup, world_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
