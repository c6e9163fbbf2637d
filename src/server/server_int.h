/*
 * server_int.h: inside src/server/ only: the route table's types, the
 * request, and the handlers (server.h is the public API).
 *
 * Requests are dispatched from one route table {method, path, handler,
 * auth, max body} in server.c; route_check() applies the method, the
 * bearer token and the size limit before any handler runs.  Handlers
 * never block an MHD thread on the store or the warehouse: work that does
 * (finishing an upload, reading the warehouse) is handed to a small pool
 * of worker threads while the connection is suspended, and the answer is
 * queued when the worker resumes it.
 *
 * Every error answer goes through req_reply_error(), which takes an APF_E*
 * code and derives the HTTP status from the one error table (err.h), so a
 * status and its code name never disagree.
 */
#ifndef APFLOW_SERVER_INT_H
#define APFLOW_SERVER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include "server/mhd_dl.h"

#include "apflow/dbwriter.h"
#include "apflow/err.h"
#include "apflow/ingest.h"
#include "apflow/store.h"
#include "apflow/web.h"
#include "server/server.h"

struct req;
typedef void (*req_work_fn)(struct req *rq);

/* One route: checked by route_check() before the handler's first call. */
struct route {
	const char *method;
	const char *path;
	int prefix;           /* path matches as a prefix ("/api/documents/") */
	int auth;             /* needs the bearer token when one is set */
	int64_t max_body;     /* bytes; -1: the server's max_upload */
	/* A page compiled into the binary (web.h): served as is, no handler. */
	const char *asset;
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
	int64_t started_ms;   /* when the headers were complete */
	/* The answer, once set. */
	unsigned status;
	char *body;
	size_t body_len;
	const char *content_type;
	char allow[32];       /* Allow header for 405 */
	int www_auth;         /* add WWW-Authenticate for 401 */
	const struct apf_asset *asset; /* static page instead of body */
	/* Asynchronous work on a worker thread, while suspended. */
	req_work_fn work;
	int suspended;
	struct req *next_work;
	void *h;              /* the handler's state */
};

/* The route table, for tests that walk it. */
extern const struct route server_routes[];
extern const size_t server_nroutes;

/* Shared objects, for handlers. */
struct apf_ingest *server_ingest(struct apf_server *srv);
struct apf_store *server_store(struct apf_server *srv);
struct apf_dbwriter *server_writer(struct apf_server *srv);
uint64_t server_max_upload(struct apf_server *srv);

/* Sets a JSON answer (doc is stolen).  Only for success: errors go
 * through req_reply_error(). */
void req_reply_json(struct req *rq, unsigned status, json_t *doc);
/* The same with the JSON already written (text is stolen, freed with free()). */
void req_reply_json_text(struct req *rq, unsigned status, char *text);
/* Sets the error answer {error, code} with the status of code in the
 * error table (err.h). */
void req_reply_error(struct req *rq, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same from an apf_err. */
/* Replies with err; a failure of the server's side (EDB, ELOCKED, ESTORE,
 * EIO, ...) in general terms, its detail logged (no paths or PIDs reach
 * the client). */
void req_reply_err(struct req *rq, const struct apf_err *err);
/* Rewrites err's message in those general terms; 1 when it did. */
int server_err_public(struct apf_err *err);
int req_has_reply(const struct req *rq);

/* Route handlers (upload.c, api.c). */
void upload_begin(struct req *rq);
void upload_data(struct req *rq, const char *data, size_t size);
void upload_end(struct req *rq);
void upload_cleanup(struct req *rq);
void api_documents_end(struct req *rq);
void api_documents_cleanup(struct req *rq);
void api_document_end(struct req *rq);
void api_healthz_end(struct req *rq);
/* dashboard.c */
void api_panels_end(struct req *rq);
void api_panel_end(struct req *rq);
void api_panel_cleanup(struct req *rq);

#endif
