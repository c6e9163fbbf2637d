/*
 * upload.c: POST /upload.  The body streams to temp files under
 * <data_dir>/tmp while it is hashed (never held in memory), then a worker
 * thread runs each file through the shared ingest path (ingest.h).
 *
 * Two body forms:
 *   multipart/form-data       one or more parts named "file"; other fields
 *                             are ignored
 *   application/pdf (or       the bytes of one PDF; its name comes from the
 *   application/octet-stream) X-Filename header (percent-encoded UTF-8) or
 *                             the ?filename= query parameter
 * Anything else is 415.  Temp files are deleted when the request ends,
 * however it ends (answered, refused, or the client went away).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "apflow/ingest.h"
#include "apflow/log.h"
#include "apflow/util.h"
#include "server/server_int.h"

#define MAX_FILES 100
#define PP_BUFFER (64 * 1024)

struct upfile {
	struct apf_ingest_spool sp;
	int spooling;          /* sp is open for writing */
	char *name;            /* as the client gave it, may hold NULs */
	size_t name_len;
	int rc;                /* ingest outcome */
	struct apf_err err;
	struct apf_ingest_result res;
};

struct upload {
	int multipart;
	struct MHD_PostProcessor *pp;
	struct upfile *files;
	size_t nfiles;
	int failed;            /* err holds why the body was refused */
	int part_failed;       /* part_cb stopped the parser; err says why */
	int announced;         /* told the writer a job is coming (announce()) */
	struct apf_err err;
	char client[INET6_ADDRSTRLEN];
};

static struct upfile *current(struct upload *u)
{
	return u->nfiles ? &u->files[u->nfiles - 1] : NULL;
}

static int start_file(struct req *rq, struct upload *u, const char *name, size_t name_len)
{
	struct upfile *f;
	int rc;

	if (u->nfiles == MAX_FILES)
		return apf_error(&u->err, APF_EINVAL, "too many files in one request (at most %d)", MAX_FILES);
	u->files = apf_xrealloc(u->files, (u->nfiles + 1) * sizeof(*u->files));
	f = &u->files[u->nfiles];
	memset(f, 0, sizeof(*f));
	f->sp.fd = -1;
	rc = apf_ingest_spool_open(server_ingest(rq->srv), server_max_upload(rq->srv), &f->sp, &u->err);
	if (rc)
		return rc;
	u->nfiles++;
	f->spooling = 1;
	if (name) {
		f->name = apf_xmalloc(name_len + 1);
		memcpy(f->name, name, name_len);
		f->name[name_len] = '\0';
		f->name_len = name_len;
	}
	return 0;
}

static int finish_file(struct upload *u)
{
	struct upfile *f = current(u);

	if (!f || !f->spooling)
		return 0;
	f->spooling = 0;
	return apf_ingest_spool_finish(&f->sp, &u->err);
}

/*
 * The writer groups the uploads of the moment into one transaction, whose
 * cost hardly depends on its size (dbwriter.h), and waits a moment for the
 * jobs it was told of.  An upload is announced as soon as its head is
 * accepted, while its body still streams in, and taken back once its
 * files go to ingest (which announces each of them itself) or the request
 * fails.  Under load this makes batches larger: fewer transactions for the
 * same uploads.  A body that is slow to come costs a batch at most the
 * writer's wait.
 */
static void announce(struct req *rq, struct upload *u, int on)
{
	if (u->announced == on)
		return;
	u->announced = on;
	apf_dbwriter_expect(server_writer(rq->srv), on ? +1 : -1);
}

static void fail(struct req *rq, struct upload *u)
{
	announce(rq, u, 0);
	u->failed = 1;
	/* The temp files are useless now: free the disk before the rest of
	 * the body has been read and thrown away. */
	for (size_t i = 0; i < u->nfiles; i++) {
		apf_ingest_spool_discard(&u->files[i].sp);
		u->files[i].spooling = 0;
	}
	req_reply_err(rq, &u->err);
}

/* multipart: called by MHD's post processor for each piece of each part. */
static enum MHD_Result part_cb(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *filename, const char *content_type,
			       const char *transfer_encoding, const char *data, uint64_t off,
			       size_t size)
{
	struct req *rq = cls;
	struct upload *u = rq->h;
	struct upfile *f = current(u);

	(void)kind;
	(void)content_type;
	(void)transfer_encoding;
	if (u->failed || u->part_failed)
		return MHD_NO;
	if (!key || strcmp(key, "file"))
		return MHD_YES; /* other form fields are not ours */
	/* A part starts at offset 0; MHD may call with 0 bytes at offset 0
	 * before the data, so an empty current file with the same name is
	 * still the same part. */
	if (off == 0 && (!f || !f->spooling || f->sp.bytes > 0 ||
			 (filename ? !f->name || strcmp(f->name, filename) : f->name != NULL))) {
		if (finish_file(u) || start_file(rq, u, filename, filename ? strlen(filename) : 0)) {
			u->part_failed = 1;
			return MHD_NO;
		}
		f = current(u);
	}
	if (size && apf_ingest_spool_write(&f->sp, data, size, &u->err)) {
		u->part_failed = 1;
		return MHD_NO;
	}
	return MHD_YES;
}

static int content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	while (*ct == ' ')
		ct++;
	return !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Decodes %XX escapes (as encodeURIComponent writes them); other bytes pass. */
static char *percent_decode(const char *s, size_t len, size_t *out_len)
{
	char *out = apf_xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < len && (hi = apf_hexval(s[i + 1])) >= 0 &&
		    (lo = apf_hexval(s[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

static void client_address(struct MHD_Connection *conn, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	out[0] = '\0';
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr, out,
			  (socklen_t)n);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr,
			  out, (socklen_t)n);
}

void upload_begin(struct req *rq)
{
	struct upload *u = apf_xcalloc(1, sizeof(*u));
	const char *ct = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Content-Type");

	rq->h = u;
	client_address(rq->conn, u->client, sizeof(u->client));
	announce(rq, u, 1); /* taken back by fail(), upload_work() or upload_cleanup() */
	if (ct && content_type_is(ct, "multipart/form-data")) {
		u->multipart = 1;
		u->pp = MHD_create_post_processor(rq->conn, PP_BUFFER, part_cb, rq);
		if (!u->pp) {
			announce(rq, u, 0);
			req_reply_error(rq, APF_EINVAL, "bad multipart body: no boundary in Content-Type");
		}
		return;
	}
	if (ct && (content_type_is(ct, "application/pdf") || content_type_is(ct, "application/octet-stream"))) {
		const char *name = NULL;
		size_t name_len = 0;
		char *decoded = NULL;

		/* The _n lookups give the length, so a NUL inside the name is
		 * seen (and dropped by the sanitizer), not a silent cut. */
		if (MHD_lookup_connection_value_n(rq->conn, MHD_HEADER_KIND, "X-Filename", 10, &name,
						  &name_len) == MHD_YES && name) {
			decoded = percent_decode(name, name_len, &name_len);
			name = decoded;
		} else if (MHD_lookup_connection_value_n(rq->conn, MHD_GET_ARGUMENT_KIND, "filename", 8,
							 &name, &name_len) != MHD_YES) {
			name = NULL;
			name_len = 0;
		}
		if (start_file(rq, u, name, name_len))
			fail(rq, u);
		free(decoded);
		return;
	}
	announce(rq, u, 0);
	req_reply_error(rq, APF_EMEDIATYPE,
			"unsupported Content-Type '%.80s': send multipart/form-data (field 'file') or application/pdf",
			ct ? ct : "(none)");
}

void upload_data(struct req *rq, const char *data, size_t size)
{
	struct upload *u = rq->h;

	if (u->multipart) {
		if (MHD_post_process(u->pp, data, size) != MHD_YES) {
			if (!u->part_failed)
				apf_error(&u->err, APF_EINVAL, "bad multipart body");
			fail(rq, u);
		}
		return;
	}
	if (apf_ingest_spool_write(&current(u)->sp, data, size, &u->err))
		fail(rq, u);
}

static unsigned file_status(const struct upfile *f)
{
	if (f->rc)
		return (unsigned)apf_err_http_status(f->rc);
	return f->res.duplicate ? 200 : 201;
}

/* On a worker thread: each spooled file through the shared path. */
static void upload_work(struct req *rq)
{
	struct upload *u = rq->h;
	unsigned status = 0;
	int any_failed = 0, all_failed = 1;

	announce(rq, u, 0); /* each file is announced by ingest itself */
	for (size_t i = 0; i < u->nfiles; i++) {
		struct upfile *f = &u->files[i];

		apf_err_clear(&f->err);
		f->rc = apf_ingest_file(server_ingest(rq->srv), &f->sp, f->name, f->name_len, "http",
					u->client[0] ? u->client : NULL, &f->res, &f->err);
		apf_ingest_spool_discard(&f->sp);
		if (f->rc) {
			any_failed = 1;
			apf_log_info("upload from %s refused: %s: %s", u->client, apf_err_name(f->err.code),
				     f->err.msg);
			server_err_public(&f->err); /* no path or PID in the reply */
		} else {
			all_failed = 0;
			apf_log_debug("upload %s (%s) %s", f->res.doc_id, f->res.filename,
				      f->res.duplicate ? "duplicate" : "new");
		}
	}
	if (u->nfiles == 1) {
		struct upfile *f = &u->files[0];
		req_reply_json(rq, file_status(f), f->rc ? apf_ingest_error_json(f->name, f->name_len, &f->err) : apf_ingest_result_json(&f->res));
		return;
	}
	/* Several files: one entry each, in order.  201 when all went in and
	 * one was new, 200 when all were known, the first error's status
	 * when all failed, 207 when some did. */
	json_t *arr = json_array();
	for (size_t i = 0; i < u->nfiles; i++) {
		struct upfile *f = &u->files[i];
		json_array_append_new(arr, f->rc ? apf_ingest_error_json(f->name, f->name_len, &f->err) : apf_ingest_result_json(&f->res));
		if (!f->rc && !f->res.duplicate)
			status = 201;
	}
	if (all_failed)
		status = file_status(&u->files[0]);
	else if (any_failed)
		status = 207;
	else if (!status)
		status = 200;
	req_reply_json(rq, status, json_pack("{s:o}", "files", arr));
}

void upload_end(struct req *rq)
{
	struct upload *u = rq->h;

	if (u->multipart) {
		enum MHD_Result whole = MHD_destroy_post_processor(u->pp);
		u->pp = NULL;
		if (whole != MHD_YES) {
			apf_error(&u->err, APF_EINVAL, "bad multipart body: it ends before its closing boundary");
			fail(rq, u);
			return;
		}
	}
	if (finish_file(u)) {
		fail(rq, u);
		return;
	}
	if (!u->nfiles) {
		apf_error(&u->err, APF_EINVAL, "no file in the request: send it in the form field 'file'");
		fail(rq, u);
		return;
	}
	rq->work = upload_work;
}

void upload_cleanup(struct req *rq)
{
	struct upload *u = rq->h;

	if (!u)
		return;
	announce(rq, u, 0); /* the client went away, or the request was refused */
	if (u->pp)
		MHD_destroy_post_processor(u->pp);
	for (size_t i = 0; i < u->nfiles; i++) {
		apf_ingest_spool_discard(&u->files[i].sp);
		free(u->files[i].name);
		apf_ingest_result_release(&u->files[i].res);
	}
	free(u->files);
	free(u);
	rq->h = NULL;
}
