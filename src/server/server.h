/*
 * server.h: apflow's HTTP server, the public API `apflow serve` uses.
 *
 * Everything else (the route table, requests, handlers, libmicrohttpd)
 * is private to src/server/ (server_int.h); a front-end includes only
 * this header.
 */
#ifndef APFLOW_SERVER_H
#define APFLOW_SERVER_H

#include <stdint.h>

#include "apflow/config.h"
#include "apflow/err.h"

struct apf_server;

struct apf_server_opts {
	const char *listen;        /* "127.0.0.1:8080", "[::1]:8080"; port 0 picks one */
	uint64_t max_upload;       /* bytes per request body on /upload */
	const char *upload_token;  /* NULL: no token needed; "" is refused */
	unsigned threads;          /* MHD thread pool (0: 4) */
	unsigned workers;          /* threads that finish uploads and read the warehouse (0: 16) */
	struct apf_store *store;   /* borrowed: open until apf_server_stop() returns */
	struct apf_dbwriter *writer; /* borrowed, as store (main.c opens both) */
	/* Without a token, a non-loopback listen address is refused unless
	 * open is set (and then it is logged as a warning). */
	int open;
	/* Limits (docs/security.md); 0 takes the default. */
	unsigned max_connections;  /* 0: what RLIMIT_NOFILE allows, at most 1000 */
	unsigned max_per_addr;     /* connections from one client address (0: 32) */
	unsigned header_timeout;   /* seconds for a whole request head (0: 10) */
	unsigned idle_timeout;     /* seconds a connection may send nothing (0: 30) */
	unsigned min_rate;         /* bytes/s a body must average after header_timeout (0: 1024) */
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

#endif
