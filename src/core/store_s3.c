/*
 * store_s3.c: the s3:// backend (AWS S3, Cloudflare R2, MinIO) over
 * http.c, signed with SigV4 (sigv4.c).
 *
 * Every request carries the SHA-256 of its real payload in
 * x-amz-content-sha256, so the server checks the bytes as well as the
 * headers; a file body is hashed before it is sent.  Objects up to the
 * multipart size go up in one PUT; larger ones in parts of that size
 * (CreateMultipartUpload, UploadPart..., CompleteMultipartUpload), and a
 * failed multipart upload is aborted.  Either way S3 makes the object
 * visible only when the PUT or the Complete succeeds, so a killed upload
 * leaves nothing under the final key.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/s3xml.h"
#include "core/sigv4.h"
#include "core/store_impl.h"
#include "apflow/http.h"
#include "apflow/log.h"
#include "apflow/util.h"

#define MIB ((uint64_t)1 << 20)
#define MAX_PARTS 10000
#define LIST_PAGE_MAX ((size_t)16 << 20)
#define XML_MAX ((size_t)1 << 20)

struct s3_store {
	struct apf_store base;
	char *bucket;
	char *prefix;        /* "" or "dir/sub/" */
	char *origin;        /* "https://host[:port]" as requested */
	char *host;          /* the Host header, signed */
	char *base_path;     /* the encoded path before the key: "/bucket" (path-style) or "" */
	char *region;
	char *access_key;
	char *secret_key;
	char *session_token; /* NULL when unset */
	uint64_t part_size;
	struct apf_http *http;
};

/* One signed request: what the signer needs on every attempt. */
struct s3_call {
	struct s3_store *st;
	const char *method;
	char *canon_uri;
	char *canon_query;
	char payload_hash[APF_SHA256_HEX];
	const char *content_type;
	char *lines[8];
	const char *hdrs[9];
};

static void call_free_lines(struct s3_call *c)
{
	for (size_t i = 0; i < sizeof(c->lines) / sizeof(c->lines[0]); i++) {
		if (c->lines[i]) {
			/* The Authorization line holds no secret, but the token line does. */
			memset(c->lines[i], 0, strlen(c->lines[i]));
			free(c->lines[i]);
			c->lines[i] = NULL;
		}
	}
}

/* Signs again before every attempt, so a retry after a long backoff
 * still carries a current date. */
static int sign_cb(struct apf_http_request *req, void *arg, struct apf_err *err)
{
	struct s3_call *c = arg;
	struct s3_store *st = c->st;
	struct apf_sigv4_pair h[5];
	struct apf_sigv4_input in;
	struct apf_buf auth;
	char amz_date[17];
	size_t n = 0, l = 0;

	apf_sigv4_amz_date(time(NULL), amz_date);
	h[n++] = (struct apf_sigv4_pair){ "host", st->host };
	h[n++] = (struct apf_sigv4_pair){ "x-amz-content-sha256", c->payload_hash };
	h[n++] = (struct apf_sigv4_pair){ "x-amz-date", amz_date };
	if (st->session_token)
		h[n++] = (struct apf_sigv4_pair){ "x-amz-security-token", st->session_token };
	if (c->content_type)
		h[n++] = (struct apf_sigv4_pair){ "content-type", c->content_type };
	memset(&in, 0, sizeof(in));
	in.method = c->method;
	in.canonical_uri = c->canon_uri;
	in.canonical_query = c->canon_query;
	in.headers = h;
	in.nheaders = n;
	in.payload_hash = c->payload_hash;
	in.amz_date = amz_date;
	in.region = st->region;
	in.service = "s3";
	in.access_key_id = st->access_key;
	in.secret_access_key = st->secret_key;
	apf_buf_init(&auth, 0);
	if (apf_sigv4_authorization(&in, &auth, NULL, NULL)) {
		apf_buf_release(&auth);
		return apf_error(err, APF_EINTERNAL, "cannot sign the request");
	}
	call_free_lines(c);
	c->lines[l++] = apf_xasprintf("Host: %s", st->host);
	c->lines[l++] = apf_xasprintf("x-amz-content-sha256: %s", c->payload_hash);
	c->lines[l++] = apf_xasprintf("x-amz-date: %s", amz_date);
	c->lines[l++] = apf_xasprintf("Authorization: %s", auth.data);
	if (st->session_token)
		c->lines[l++] = apf_xasprintf("x-amz-security-token: %s", st->session_token);
	if (c->content_type)
		c->lines[l++] = apf_xasprintf("Content-Type: %s", c->content_type);
	for (size_t i = 0; i < l; i++)
		c->hdrs[i] = c->lines[i];
	c->hdrs[l] = NULL;
	req->headers = c->hdrs;
	apf_buf_release(&auth);
	return 0;
}

/*
 * Sends one request for key (with the store prefix already on it; NULL for
 * the bucket itself) and the query parameters q.  req carries the body and
 * response settings.  Returns what apf_http_request() returns.
 */
static int s3_send(struct s3_store *st, struct apf_http_request *req, const char *method, const char *key,
		   const struct apf_sigv4_pair *q, size_t nq, const char *payload_hash, const char *content_type,
		   const char *what, struct apf_http_response *resp, struct apf_err *err)
{
	struct s3_call c;
	struct apf_buf uri, query;
	char *url;
	int rc;

	memset(&c, 0, sizeof(c));
	apf_buf_init(&uri, 0);
	apf_buf_init(&query, 0);
	apf_buf_adds(&uri, st->base_path);
	if (key) {
		apf_buf_add(&uri, "/", 1);
		apf_sigv4_encode(&uri, key, 1);
	} else if (!uri.len) {
		apf_buf_add(&uri, "/", 1);
	}
	apf_sigv4_query(&query, q, nq);
	c.st = st;
	c.method = method;
	c.canon_uri = apf_buf_detach(&uri, NULL);
	c.canon_query = apf_buf_detach(&query, NULL);
	apf_strlcpy(c.payload_hash, payload_hash, sizeof(c.payload_hash));
	c.content_type = content_type;
	url = apf_xasprintf("%s%s%s%s", st->origin, c.canon_uri, *c.canon_query ? "?" : "", c.canon_query);
	req->method = method;
	req->url = url;
	req->what = what;
	req->prepare = sign_cb;
	req->prepare_arg = &c;
	rc = apf_http_request(st->http, req, resp, err);
	req->headers = NULL;
	call_free_lines(&c);
	free(c.canon_uri);
	free(c.canon_query);
	free(url);
	return rc;
}

/* Turns a failed transfer into "cannot OP 'WHAT'DETAIL: reason". */
static int transfer_error(const char *op, const char *what, const char *detail, int rc, struct apf_err *err)
{
	apf_error_prefix(err, "cannot %s '%s'%s", op, what, detail ? detail : "");
	if (err && rc == APF_ENET)
		err->code = APF_ESTORE;
	return rc == APF_ENET ? APF_ESTORE : rc;
}

/* Turns an HTTP error status into an error naming the object and S3's code. */
static int status_error(const char *op, const char *what, const char *detail,
			const struct apf_http_response *resp, struct apf_err *err)
{
	char code[128], msg[512], attempts[48] = "";
	int ec = APF_ESTORE;

	apf_s3_parse_error(resp->body.data, resp->body.len, code, sizeof(code), msg, sizeof(msg));
	if (!code[0]) {
		/* HEAD answers have no body; some servers name the error in a header. */
		char h[128];
		size_t j = 0;
		if (!apf_http_response_header(resp, "x-amz-error-code", h, sizeof(h)))
			for (const char *p = h; *p && j + 1 < sizeof(code); p++)
				if ((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
					code[j++] = *p;
		code[j] = '\0';
	}
	if (resp->status == 401 || resp->status == 403)
		ec = APF_EAUTH;
	else if (resp->status == 404 && strcmp(code, "NoSuchBucket"))
		ec = APF_ENOTFOUND; /* a missing bucket is a broken store, not a missing key */
	if (resp->attempts > 1)
		snprintf(attempts, sizeof(attempts), " (after %d attempts)", resp->attempts);
	return apf_error(err, ec, "cannot %s '%s'%s: HTTP %ld%s%s%s%s%s", op, what, detail ? detail : "",
			 resp->status, code[0] ? " " : "", code, msg[0] ? ": " : "", msg, attempts);
}

static char *display(const struct s3_store *st, const char *fullkey)
{
	return apf_xasprintf("s3://%s/%s", st->bucket, fullkey);
}

/* The SHA-256 of len bytes of fd from off. */
static int hash_fd(int fd, uint64_t off, uint64_t len, char out[APF_SHA256_HEX], const char *name,
		   struct apf_err *err)
{
	struct apf_sha256 *h = apf_sha256_new();
	char *buf = apf_xmalloc(MIB);
	int rc = 0;

	while (len) {
		size_t want = len < MIB ? (size_t)len : (size_t)MIB;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = apf_error(err, APF_EIO, "cannot read '%s': %s", name, n < 0 ? strerror(errno) : "file shrank");
			break;
		}
		apf_sha256_update(h, buf, (size_t)n);
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	apf_sha256_final_hex(h, out);
	free(buf);
	return rc;
}

/* Copies a pipe or other unseekable input into an unlinked temp file, so
 * that it can be hashed, split into parts and resent on retries. */
static int spool(int src, const char *name, int *out, struct apf_err *err)
{
	const char *dir = getenv("TMPDIR");
	char *tmpl = apf_xasprintf("%s/apflow-spool-XXXXXX", dir && *dir ? dir : "/tmp");
	char *buf;
	int fd = mkstemp(tmpl), rc = 0;

	if (fd < 0) {
		rc = apf_error(err, APF_EIO, "cannot create a spool file in '%s': %s", dir && *dir ? dir : "/tmp",
			       strerror(errno));
		free(tmpl);
		return rc;
	}
	unlink(tmpl);
	free(tmpl);
	buf = apf_xmalloc(MIB);
	for (;;) {
		ssize_t n = read(src, buf, MIB);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = apf_error(err, APF_EIO, "cannot read '%s': %s", name, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(fd, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = apf_error(err, APF_EIO, "cannot spool '%s': %s", name, strerror(errno));
				goto out;
			}
			done += w;
		}
	}
out:
	free(buf);
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/* A body for one request: a region of fd, or bytes in memory. */
struct src {
	int fd;
	const char *data;
	uint64_t size;
	const char *name;
};

static int set_body(struct apf_http_request *req, const struct src *s, uint64_t off, uint64_t len,
		    char hash[APF_SHA256_HEX], struct apf_err *err)
{
	req->has_body = 1;
	if (s->fd >= 0) {
		req->body_fd = s->fd;
		req->body_off = off;
		req->body_size = len;
		return hash_fd(s->fd, off, len, hash, s->name, err);
	}
	req->body = s->data + off;
	req->body_len = (size_t)len;
	apf_sha256_hex(req->body, req->body_len, hash);
	return 0;
}

static void xml_escape(struct apf_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': apf_buf_adds(b, "&amp;"); break;
		case '<': apf_buf_adds(b, "&lt;"); break;
		case '>': apf_buf_adds(b, "&gt;"); break;
		case '"': apf_buf_adds(b, "&quot;"); break;
		default: apf_buf_add(b, s, 1); break;
		}
	}
}

static void abort_upload(struct s3_store *st, const char *fullkey, const char *upload_id, const char *what)
{
	struct apf_sigv4_pair q[] = { { "uploadId", upload_id } };
	struct apf_http_request req;
	struct apf_http_response resp;
	struct apf_err e;
	int rc;

	apf_http_request_init(&req);
	apf_http_response_init(&resp);
	apf_err_clear(&e);
	req.max_retries = 1; /* the store already failed: do not keep the caller long */
	rc = s3_send(st, &req, "DELETE", fullkey, q, 1, APF_SIGV4_EMPTY_SHA256, NULL, what, &resp, &e);
	if (!rc && resp.status != 204 && resp.status != 200 && resp.status != 404)
		rc = status_error("abort the upload of", what, NULL, &resp, &e);
	else if (rc)
		transfer_error("abort the upload of", what, NULL, rc, &e);
	if (rc)
		apf_log_warn("%s; its parts stay until a lifecycle rule removes them", e.msg);
	apf_http_response_release(&resp);
}

/* After a retried Complete answered NoSuchUpload: the first try may have
 * worked and only its answer been lost.  The object is there when HEAD
 * gives the size just uploaded. */
static int completed_anyway(struct s3_store *st, const char *fullkey, uint64_t size, const char *what)
{
	struct apf_http_request req;
	struct apf_http_response resp;
	struct apf_err e;
	char len[32];
	int64_t n;
	int ok = 0;

	apf_http_request_init(&req);
	apf_http_response_init(&resp);
	apf_err_clear(&e);
	if (!s3_send(st, &req, "HEAD", fullkey, NULL, 0, APF_SIGV4_EMPTY_SHA256, NULL, what, &resp, &e) &&
	    resp.status == 200 && !apf_http_response_header(&resp, "content-length", len, sizeof(len)) &&
	    !apf_parse_i64(len, &n) && (uint64_t)n == size)
		ok = 1;
	apf_http_response_release(&resp);
	return ok;
}

static int put_multipart(struct s3_store *st, const char *fullkey, const struct src *s, const char *ctype,
			 const char *what, struct apf_err *err)
{
	struct apf_sigv4_pair create_q[] = { { "uploads", "" } };
	uint64_t part = st->part_size, nparts;
	struct apf_http_request req;
	struct apf_http_response resp;
	struct apf_buf xml;
	char hash[APF_SHA256_HEX], detail[64];
	char *upload_id = NULL, **etags = NULL;
	int rc;

	/* S3 allows 10,000 parts: grow the parts (in whole MiB) for huge objects. */
	if ((s->size + part - 1) / part > MAX_PARTS)
		part = ((s->size + MAX_PARTS - 1) / MAX_PARTS + MIB - 1) / MIB * MIB;
	nparts = (s->size + part - 1) / part;

	apf_buf_init(&xml, XML_MAX);
	apf_http_response_init(&resp);
	apf_http_request_init(&req);
	req.resp_max = XML_MAX;
	rc = s3_send(st, &req, "POST", fullkey, create_q, 1, APF_SIGV4_EMPTY_SHA256, ctype, what, &resp, err);
	if (rc) {
		rc = transfer_error("put", what, " (creating the multipart upload)", rc, err);
		goto out;
	}
	if (resp.status != 200) {
		rc = status_error("put", what, " (creating the multipart upload)", &resp, err);
		goto out;
	}
	if (apf_xml_text(resp.body.data, resp.body.len, "UploadId", &upload_id) || !*upload_id) {
		rc = apf_error(err, APF_ESTORE, "cannot put '%s': no UploadId in the CreateMultipartUpload answer", what);
		goto out;
	}
	apf_log_debug("multipart upload of '%s': %" PRIu64 " parts of %" PRIu64 " bytes", what, nparts, part);

	etags = apf_xcalloc((size_t)nparts, sizeof(*etags));
	for (uint64_t i = 0; i < nparts; i++) {
		uint64_t off = i * part, len = s->size - off < part ? s->size - off : part;
		char num[24], etag[256];
		struct apf_sigv4_pair q[] = { { "partNumber", num }, { "uploadId", upload_id } };

		snprintf(num, sizeof(num), "%" PRIu64, i + 1);
		snprintf(detail, sizeof(detail), " (part %" PRIu64 " of %" PRIu64 ")", i + 1, nparts);
		apf_http_request_init(&req);
		req.resp_max = XML_MAX;
		rc = set_body(&req, s, off, len, hash, err);
		if (rc)
			goto abort;
		rc = s3_send(st, &req, "PUT", fullkey, q, 2, hash, NULL, what, &resp, err);
		if (rc) {
			rc = transfer_error("put", what, detail, rc, err);
			goto abort;
		}
		if (resp.status != 200) {
			rc = status_error("put", what, detail, &resp, err);
			goto abort;
		}
		if (apf_http_response_header(&resp, "etag", etag, sizeof(etag)) || !etag[0]) {
			rc = apf_error(err, APF_ESTORE, "cannot put '%s'%s: no ETag in the answer", what, detail);
			goto abort;
		}
		etags[i] = apf_xstrdup(etag);
	}

	apf_buf_adds(&xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (uint64_t i = 0; i < nparts; i++) {
		apf_buf_addf(&xml, "<Part><PartNumber>%" PRIu64 "</PartNumber><ETag>", i + 1);
		xml_escape(&xml, etags[i]);
		apf_buf_adds(&xml, "</ETag></Part>");
	}
	if (apf_buf_adds(&xml, "</CompleteMultipartUpload>")) {
		rc = apf_error(err, APF_ETOOBIG, "cannot put '%s': the part list is too long", what);
		goto abort;
	}
	{
		struct apf_sigv4_pair q[] = { { "uploadId", upload_id } };
		struct src body = { -1, xml.data, xml.len, "the part list" };
		char code[128], msg[512];

		apf_http_request_init(&req);
		req.resp_max = XML_MAX;
		set_body(&req, &body, 0, xml.len, hash, err);
		rc = s3_send(st, &req, "POST", fullkey, q, 1, hash, "application/xml", what, &resp, err);
		if (rc) {
			rc = transfer_error("put", what, " (completing the multipart upload)", rc, err);
			goto abort;
		}
		if (resp.status == 404 && resp.attempts > 1 && completed_anyway(st, fullkey, s->size, what))
			goto out;
		if (resp.status != 200) {
			rc = status_error("put", what, " (completing the multipart upload)", &resp, err);
			goto abort;
		}
		/* S3 may answer 200 and still fail the Complete, in the body. */
		apf_s3_parse_error(resp.body.data, resp.body.len, code, sizeof(code), msg, sizeof(msg));
		if (code[0]) {
			rc = apf_error(err, APF_ESTORE, "cannot put '%s' (completing the multipart upload): %s%s%s", what,
				       code, msg[0] ? ": " : "", msg);
			goto abort;
		}
	}
	goto out;
abort:
	abort_upload(st, fullkey, upload_id, what);
out:
	for (uint64_t i = 0; etags && i < nparts; i++)
		free(etags[i]);
	free(etags);
	free(upload_id);
	apf_buf_release(&xml);
	apf_http_response_release(&resp);
	return rc;
}

static int s3_put(struct apf_store *base, const char *key, const struct apf_store_body *body,
		  const char *content_type, struct apf_err *err)
{
	struct s3_store *st = (struct s3_store *)base;
	char *fullkey = apf_xasprintf("%s%s", st->prefix, key), *what = display(st, fullkey);
	struct src s = { -1, NULL, 0, NULL };
	struct apf_http_request req;
	struct apf_http_response resp;
	char hash[APF_SHA256_HEX];
	int rc = 0, fd = -1;

	if (!content_type)
		content_type = apf_store_guess_type(key);
	apf_http_response_init(&resp);
	if (body->path) {
		struct stat sb;
		fd = open(body->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = apf_error(err, errno == ENOENT ? APF_ENOTFOUND : APF_EIO, "cannot open '%s': %s", body->path,
				       strerror(errno));
			goto out;
		}
		if (fstat(fd, &sb)) {
			rc = apf_error(err, APF_EIO, "cannot stat '%s': %s", body->path, strerror(errno));
			goto out;
		}
		if (!S_ISREG(sb.st_mode)) {
			int sp = -1;
			rc = spool(fd, body->path, &sp, err);
			if (rc)
				goto out;
			close(fd);
			fd = sp;
			if (fstat(fd, &sb)) {
				rc = apf_error(err, APF_EIO, "cannot stat the spool of '%s': %s", body->path, strerror(errno));
				goto out;
			}
		}
		s.fd = fd;
		s.size = (uint64_t)sb.st_size;
		s.name = body->path;
	} else {
		s.data = body->data;
		s.size = body->len;
		s.name = "the buffer";
	}
	if (s.size > st->part_size) {
		rc = put_multipart(st, fullkey, &s, content_type, what, err);
		goto out;
	}
	apf_http_request_init(&req);
	req.resp_max = XML_MAX;
	rc = set_body(&req, &s, 0, s.size, hash, err);
	if (rc)
		goto out;
	rc = s3_send(st, &req, "PUT", fullkey, NULL, 0, hash, content_type, what, &resp, err);
	if (rc)
		rc = transfer_error("put", what, NULL, rc, err);
	else if (resp.status != 200)
		rc = status_error("put", what, NULL, &resp, err);
out:
	if (fd >= 0)
		close(fd);
	apf_http_response_release(&resp);
	free(fullkey);
	free(what);
	return rc;
}

/*
 * method on key (the store's prefix put in front), without a body: the one
 * way get, head and delete ask.  A failed transfer is the error "cannot
 * <op> '<what>': <why>"; otherwise the answer, whatever its status, is in
 * resp (which the caller releases).  *what is the object as shown (the
 * caller frees it).  The body goes to fd when >= 0, else into resp of at
 * most max bytes (0: the default).
 */
static int key_call(struct s3_store *st, const char *method, const char *op, const char *key, int fd, size_t max,
		    struct apf_http_response *resp, char **what, struct apf_err *err)
{
	char *fullkey = apf_xasprintf("%s%s", st->prefix, key);
	struct apf_http_request req;
	int rc;

	*what = display(st, fullkey);
	apf_http_request_init(&req);
	apf_http_response_init(resp);
	req.resp_fd = fd;
	req.resp_max = max;
	rc = s3_send(st, &req, method, fullkey, NULL, 0, APF_SIGV4_EMPTY_SHA256, NULL, *what, resp, err);
	if (rc == APF_ETOOBIG && fd < 0)
		rc = apf_error(err, APF_ETOOBIG, "cannot %s '%s': larger than %zu bytes", op, *what, max);
	else if (rc)
		rc = transfer_error(op, *what, NULL, rc, err);
	free(fullkey);
	return rc;
}

/* GET into fd (>= 0) or into a buffer of at most max bytes. */
static int s3_get(struct s3_store *st, const char *key, int fd, size_t max, char **data, size_t *len,
		  struct apf_err *err)
{
	struct apf_http_response resp;
	char *what;
	int rc = key_call(st, "GET", "get", key, fd, fd >= 0 ? XML_MAX : max, &resp, &what, err);

	if (!rc && resp.status != 200)
		rc = status_error("get", what, NULL, &resp, err);
	else if (!rc && fd < 0)
		*data = apf_buf_detach(&resp.body, len);
	apf_http_response_release(&resp);
	free(what);
	return rc;
}

static int s3_get_fd(struct apf_store *base, const char *key, int fd, struct apf_err *err)
{
	return s3_get((struct s3_store *)base, key, fd, 0, NULL, NULL, err);
}

static int s3_get_buf(struct apf_store *base, const char *key, size_t max, char **data, size_t *len,
		      struct apf_err *err)
{
	return s3_get((struct s3_store *)base, key, -1, max, data, len, err);
}

static int s3_head(struct apf_store *base, const char *key, struct apf_store_stat *out, struct apf_err *err)
{
	struct apf_http_response resp;
	char v[256], *what;
	int64_t n;
	int rc = key_call((struct s3_store *)base, "HEAD", "head", key, -1, 0, &resp, &what, err);

	if (!rc && resp.status != 200) {
		rc = status_error("head", what, NULL, &resp, err);
	} else if (!rc && (apf_http_response_header(&resp, "content-length", v, sizeof(v)) ||
			   apf_parse_i64(v, &n) || n < 0)) {
		rc = apf_error(err, APF_ESTORE, "cannot head '%s': no Content-Length in the answer", what);
	} else if (!rc) {
		memset(out, 0, sizeof(*out));
		out->size = (uint64_t)n;
		if (!apf_http_response_header(&resp, "last-modified", v, sizeof(v))) {
			int64_t t = apf_http_parse_date(v);
			out->mtime = t > 0 ? t : 0;
		}
		if (!apf_http_response_header(&resp, "etag", v, sizeof(v))) {
			size_t l = strlen(v);
			const char *e = v;
			if (l >= 2 && v[0] == '"' && v[l - 1] == '"') {
				v[l - 1] = '\0';
				e = v + 1;
			}
			apf_strlcpy(out->etag, e, sizeof(out->etag));
		}
	}
	apf_http_response_release(&resp);
	free(what);
	return rc;
}

static int s3_list(struct apf_store *base, const char *prefix,
		   int (*fn)(const struct apf_store_stat *stat, void *arg), void *arg, struct apf_err *err)
{
	struct s3_store *st = (struct s3_store *)base;
	char *full = apf_xasprintf("%s%s", st->prefix, prefix);
	char *what = *full ? display(st, full) : apf_xstrdup(st->base.url);
	size_t plen = strlen(st->prefix);
	char *token = NULL;
	int rc = 0;

	do {
		struct apf_sigv4_pair q[3];
		struct apf_http_request req;
		struct apf_http_response resp;
		struct apf_s3_list_page page;
		size_t nq = 0;

		q[nq++] = (struct apf_sigv4_pair){ "list-type", "2" };
		if (*full)
			q[nq++] = (struct apf_sigv4_pair){ "prefix", full };
		if (token)
			q[nq++] = (struct apf_sigv4_pair){ "continuation-token", token };
		apf_http_request_init(&req);
		apf_http_response_init(&resp);
		req.resp_max = LIST_PAGE_MAX;
		rc = s3_send(st, &req, "GET", NULL, q, nq, APF_SIGV4_EMPTY_SHA256, NULL, what, &resp, err);
		if (rc)
			rc = transfer_error("list", what, NULL, rc, err);
		else if (resp.status != 200)
			rc = status_error("list", what, NULL, &resp, err);
		else if (apf_s3_parse_list(resp.body.data, resp.body.len, &page))
			rc = apf_error(err, APF_ESTORE, "cannot list '%s': malformed ListObjectsV2 answer", what);
		apf_http_response_release(&resp);
		free(token);
		token = NULL;
		if (rc)
			break;
		for (size_t i = 0; !rc && i < page.n; i++) {
			struct apf_store_stat stat;
			const struct apf_s3_object *o = &page.objects[i];

			if (strncmp(o->key, st->prefix, plen) || !o->key[plen])
				continue;
			memset(&stat, 0, sizeof(stat));
			stat.key = o->key + plen;
			stat.size = o->size;
			stat.mtime = o->mtime;
			apf_strlcpy(stat.etag, o->etag, sizeof(stat.etag));
			rc = fn(&stat, arg);
		}
		if (!rc && page.truncated) {
			token = page.next_token;
			page.next_token = NULL;
		}
		apf_s3_list_page_release(&page);
	} while (!rc && token);
	free(token);
	free(full);
	free(what);
	return rc;
}

static int s3_del(struct apf_store *base, const char *key, struct apf_err *err)
{
	struct apf_http_response resp;
	char *what;
	int rc = key_call((struct s3_store *)base, "DELETE", "delete", key, -1, XML_MAX, &resp, &what, err);

	if (!rc && resp.status != 204 && resp.status != 200) {
		char code[128], msg[8];
		apf_s3_parse_error(resp.body.data, resp.body.len, code, sizeof(code), msg, sizeof(msg));
		/* S3 answers 204 for a missing key; some servers say NoSuchKey. */
		if (!(resp.status == 404 && strcmp(code, "NoSuchBucket")))
			rc = status_error("delete", what, NULL, &resp, err);
	}
	apf_http_response_release(&resp);
	free(what);
	return rc;
}

static void s3_free(struct apf_store *base)
{
	struct s3_store *st = (struct s3_store *)base;

	apf_http_free(st->http);
	free(st->bucket);
	free(st->prefix);
	free(st->origin);
	free(st->host);
	free(st->base_path);
	free(st->region);
	free(st->access_key);
	if (st->secret_key) {
		memset(st->secret_key, 0, strlen(st->secret_key));
		free(st->secret_key);
	}
	if (st->session_token) {
		memset(st->session_token, 0, strlen(st->session_token));
		free(st->session_token);
	}
	free(base->url);
	free(st);
}

static const struct apf_store_ops s3_ops = {
	s3_put, s3_get_fd, s3_get_buf, s3_head, s3_list, s3_del, s3_free,
};

static int bucket_ok(const char *b, size_t n)
{
	if (n < 3 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
	}
	return b[0] != '-' && b[0] != '.' && b[n - 1] != '-' && b[n - 1] != '.';
}

/* Splits an endpoint URL into scheme, authority and path (no trailing '/'). */
static int parse_endpoint(const char *ep, char **scheme, char **authority, char **path)
{
	const char *p = strstr(ep, "://"), *a, *slash;
	size_t n;

	if (p) {
		if (!((p - ep == 4 && !strncmp(ep, "http", 4)) || (p - ep == 5 && !strncmp(ep, "https", 5))))
			return -1;
		*scheme = apf_xstrndup(ep, (size_t)(p - ep));
		a = p + 3;
	} else {
		*scheme = apf_xstrdup("https");
		a = ep;
	}
	slash = strchr(a, '/');
	n = slash ? (size_t)(slash - a) : strlen(a);
	if (n == 0 || memchr(a, '@', n) || memchr(a, '?', n) || memchr(a, '#', n)) {
		free(*scheme);
		return -1;
	}
	*authority = apf_xstrndup(a, n);
	*path = apf_xstrdup(slash ? slash : "");
	n = strlen(*path);
	while (n && (*path)[n - 1] == '/')
		(*path)[--n] = '\0';
	return 0;
}

int apf_store_s3_open(const char *url, const char *rest, const struct apf_config *cfg,
		      struct apf_store **out, struct apf_err *err)
{
	const char *slash = strchr(rest, '/');
	size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);
	const char *endpoint = apf_config_get(cfg, APF_CFG_S3_ENDPOINT);
	const char *region = apf_config_get(cfg, APF_CFG_S3_REGION);
	const char *ak = apf_config_get(cfg, APF_CFG_S3_ACCESS_KEY_ID);
	const char *sk = apf_config_get(cfg, APF_CFG_S3_SECRET_ACCESS_KEY);
	const char *tok = apf_config_get(cfg, APF_CFG_S3_SESSION_TOKEN);
	const char *ps = apf_config_get(cfg, APF_CFG_S3_PATH_STYLE);
	int64_t mb = apf_config_get_i64(cfg, APF_CFG_S3_MULTIPART_MB, -1);
	int64_t retries = apf_config_get_i64(cfg, APF_CFG_S3_RETRIES, -1);
	int64_t timeout = apf_config_get_i64(cfg, APF_CFG_S3_TIMEOUT, -1);
	char *scheme = NULL, *authority = NULL, *eppath = NULL, *prefix;
	struct apf_http_options opt;
	struct s3_store *st;
	int path_style, rc;

	(void)url;
	if (!bucket_ok(rest, blen))
		return apf_error(err, APF_ECONFIG, "cannot open store 's3://%.*s': invalid bucket name (3-63 of a-z 0-9 . -)",
				 (int)(blen > 63 ? 63 : blen), rest);
	prefix = apf_xstrdup(slash ? slash + 1 : "");
	for (size_t n = strlen(prefix); n && prefix[n - 1] == '/';)
		prefix[--n] = '\0';
	if (*prefix && !apf_store_key_valid(prefix)) {
		rc = apf_error(err, APF_ECONFIG, "cannot open store 's3://%.*s': invalid prefix", (int)blen, rest);
		free(prefix);
		return rc;
	}
	if (!ak || !sk) {
		free(prefix);
		return apf_error(err, APF_ECONFIG,
				 "cannot open store 's3://%.*s': no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
				 (int)blen, rest);
	}
	if (!ps || !strcmp(ps, "auto"))
		path_style = endpoint != NULL;
	else if (apf_parse_bool(ps, &path_style)) {
		free(prefix);
		return apf_error(err, APF_ECONFIG, "invalid s3_path_style '%s': use yes, no or auto", ps);
	}
	if (mb < 5 || mb > 5120 || retries < 0 || retries > 20 || timeout < 1) {
		free(prefix);
		return apf_error(err, APF_ECONFIG,
				 "invalid S3 settings: s3_multipart_mb must be 5 to 5120 (S3's smallest part is 5 MiB), "
				 "s3_retries 0 to 20, s3_timeout at least 1");
	}
	if (endpoint) {
		if (parse_endpoint(endpoint, &scheme, &authority, &eppath)) {
			free(prefix);
			/* The endpoint is not shown: a malformed one may hold a password. */
			return apf_error(err, APF_ECONFIG,
					 "invalid s3_endpoint: expected http(s)://HOST[:PORT][/PATH] without user info");
		}
	} else {
		scheme = apf_xstrdup("https");
		authority = apf_xasprintf("s3.%s.amazonaws.com", region ? region : "us-east-1");
		eppath = apf_xstrdup("");
	}

	st = apf_xcalloc(1, sizeof(*st));
	st->base.ops = &s3_ops;
	st->bucket = apf_xstrndup(rest, blen);
	st->prefix = *prefix ? apf_xasprintf("%s/", prefix) : apf_xstrdup("");
	st->base.url = *prefix ? apf_xasprintf("s3://%s/%s", st->bucket, prefix) : apf_xasprintf("s3://%s", st->bucket);
	free(prefix);
	if (path_style) {
		st->host = apf_xstrdup(authority);
		st->base_path = apf_xasprintf("%s/%s", eppath, st->bucket);
	} else {
		st->host = apf_xasprintf("%s.%s", st->bucket, authority);
		st->base_path = apf_xstrdup(eppath);
	}
	st->origin = apf_xasprintf("%s://%s", scheme, st->host);
	st->region = apf_xstrdup(region ? region : "us-east-1");
	st->access_key = apf_xstrdup(ak);
	st->secret_key = apf_xstrdup(sk);
	st->session_token = tok ? apf_xstrdup(tok) : NULL;
	st->part_size = (uint64_t)mb * MIB;
	free(scheme);
	free(authority);
	free(eppath);

	memset(&opt, 0, sizeof(opt));
	opt.max_retries = (int)retries;
	opt.low_speed_time_s = (long)timeout;
	rc = apf_http_new(&opt, &st->http, err);
	if (rc) {
		s3_free(&st->base);
		return rc;
	}
	*out = &st->base;
	return 0;
}
