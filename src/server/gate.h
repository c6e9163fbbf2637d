/*
 * gate.h: the server's front door.  It owns the listening socket, accepts
 * connections, and hands a connection to libmicrohttpd only once the
 * request's head has arrived in full and passed httphead_parse().
 *
 * Why a gate in front of libmicrohttpd (0.9.75):
 *   - it answers a malformed or ambiguous head with the JSON error of the
 *     error table, where libmicrohttpd answers with its own HTML, twice
 *     for some heads, or waits for a body it cannot delimit;
 *   - the head has a total deadline (header_timeout_ms), not a timeout
 *     that each trickled byte resets;
 *   - it caps connections in total and per client address, and when the
 *     cap is reached the oldest connection that has not yet sent a whole
 *     head makes room (slow and idle clients are the cheap ones to open);
 *   - out of file descriptors, it pauses accepting for a moment and logs
 *     once per interval, instead of spinning on a listening socket that
 *     stays readable.
 *   - a chunked body's framing is checked as it streams, through a relay
 *     thread (a socket pair to libmicrohttpd), where libmicrohttpd would
 *     answer a malformed one with its own HTML page.
 * Every answer the server gives carries "Connection: close", so each
 * request comes through the gate.  The gate peeks (MSG_PEEK) and never
 * consumes what libmicrohttpd will read; a chunked request's relay reads
 * the client's socket and writes libmicrohttpd's.  One thread runs the
 * gate (epoll), one thread each relay (at most 64).
 */
#ifndef APFLOW_SERVER_GATE_H
#define APFLOW_SERVER_GATE_H

#include <stdint.h>
#include <sys/socket.h>

#include "apflow/err.h"

struct gate;
struct MHD_Daemon;

struct gate_opts {
	unsigned max_conns;         /* open connections, in the gate and in MHD */
	unsigned max_per_addr;      /* open connections from one client address */
	int64_t header_timeout_ms;  /* from accept to a complete head */
};

/* Starts the gate's thread on listen_fd (bound, listening, non-blocking;
 * the gate closes it).  Connections go to d (started without a listening
 * socket). */
int gate_start(int listen_fd, struct MHD_Daemon *d, const struct gate_opts *opts, struct gate **out,
	       struct apf_err *err);
/* MHD closed a connection the gate handed over (MHD_OPTION_NOTIFY_CONNECTION). */
void gate_conn_closed(struct gate *g, const struct sockaddr *addr);
/* Stops accepting and closes the connections still in the gate; the
 * ones handed to MHD go on. */
void gate_quiesce(struct gate *g);
/* Connections handed to MHD and not closed yet. */
unsigned gate_in_mhd(struct gate *g);
/* Quiesces if needed, joins the thread and frees g. */
void gate_free(struct gate *g);

#endif
