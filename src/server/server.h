/*
 * server.h: apflow's HTTP server (libmicrohttpd), shared by the files in
 * src/server/ and started by `apflow serve`.
 *
 * Requests are dispatched from one route table {method, path, handler, auth,
 * max body}; route_check() in server.c applies the method, the bearer token
 * and the size limit before any handler runs.  Handlers never block an MHD
 * thread on the store or the warehouse: work that does (finishing an
 * upload, reading the warehouse) is handed to a small pool of worker
 * threads while the connection is suspended, and the answer is queued when
 * the worker resumes it.
 */
#ifndef APFLOW_SERVER_H
#define APFLOW_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include "server/mhd_dl.h"

#include "apflow/config.h"
#include "apflow/dbwriter.h"
#include "apflow/err.h"
#include "apflow/ingest.h"
#include "apflow/store.h"

struct apf_server;

struct apf_server_opts {
	const char *listen;        /* "127.0.0.1:8080", "[::1]:8080"; port 0 picks one */
	uint64_t max_upload;       /* bytes per request body on /upload */
	const char *upload_token;  /* NULL or "": no token needed */
	unsigned threads;          /* MHD thread pool (0: 4) */
	unsigned workers;          /* threads that finish uploads and read the warehouse (0: 16) */
	struct apf_store *store;   /* borrowed: open until apf_server_stop() returns */
	struct apf_dbwriter *writer; /* borrowed, as store (main.c opens both) */
};

/* Starts listening on the store and warehouse writer of opts. */
int apf_server_start(const struct apf_config *cfg, const struct apf_server_opts *opts,
		     struct apf_server **out, struct apf_err *err);
/* The port actually bound (useful with port 0). */
unsigned apf_server_port(const struct apf_server *srv);
/*
 * Stops gracefully: stops accepting, lets requests in flight finish for up
 * to grace_ms, finishes the work handed to workers, closes what is left
 * (an unfinished upload's temp file is deleted, nothing is stored or
 * recorded for it) and frees srv; the writer's queue is then empty.
 */
void apf_server_stop(struct apf_server *srv, int64_t grace_ms);

/* ---- inside src/server/ ---- */

struct req;
typedef void (*req_work_fn)(struct req *rq);

/* One route: checked by route_check() before the handler's first call. */
struct route {
	const char *method;
	const char *path;
	int prefix;           /* path matches as a prefix ("/api/documents/") */
	int auth;             /* needs the bearer token when one is set */
	int64_t max_body;     /* bytes; -1: the server's max_upload */
	/* Called once after the checks; may answer at once (req_reply). */
	void (*begin)(struct req *rq);
	/* Called with body data; consumes all of it, or sets an answer. */
	void (*data)(struct req *rq, const char *data, size_t size);
	/* Called when the body is complete: answers, or sets rq->work. */
	void (*end)(struct req *rq);
	/* Frees what the handler keeps in rq->h. */
	void (*cleanup)(struct req *rq);
};

struct req {
	struct apf_server *srv;
	struct MHD_Connection *conn;
	const struct route *route;
	const char *url;
	uint64_t received;    /* body bytes so far */
	int64_t max_body;
	int too_big;          /* body passed max_body: discarding the rest */
	/* The answer, once set. */
	unsigned status;
	char *body;
	size_t body_len;
	const char *content_type;
	char allow[32];       /* Allow header for 405 */
	int www_auth;         /* add WWW-Authenticate for 401 */
	const struct apf_web_asset *asset; /* static page instead of body */
	/* Asynchronous work on a worker thread, while suspended. */
	req_work_fn work;
	int suspended;
	struct req *next_work;
	void *h;              /* the handler's state */
};

/* Shared objects, for handlers. */
struct apf_ingest *server_ingest(struct apf_server *srv);
struct apf_store *server_store(struct apf_server *srv);
struct apf_dbwriter *server_writer(struct apf_server *srv);
uint64_t server_max_upload(struct apf_server *srv);

/* Sets the answer: a JSON document (stolen) or an error {error, code}. */
void req_reply_json(struct req *rq, unsigned status, json_t *doc);
void req_reply_error(struct req *rq, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same from an apf_err, with the status from the error table. */
void req_reply_err(struct req *rq, const struct apf_err *err);
int req_has_reply(const struct req *rq);

/* Route handlers (upload.c, api.c). */
void upload_begin(struct req *rq);
void upload_data(struct req *rq, const char *data, size_t size);
void upload_end(struct req *rq);
void upload_cleanup(struct req *rq);
void api_page_begin(struct req *rq);
void api_documents_end(struct req *rq);
void api_documents_cleanup(struct req *rq);
void api_document_end(struct req *rq);
void api_healthz_end(struct req *rq);

#endif
