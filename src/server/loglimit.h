/*
 * loglimit.h: a log line that cannot flood the log.  An event that may
 * repeat at network speed (a refused connection, accept() failing for
 * want of file descriptors, libmicrohttpd's own messages) logs through a
 * struct loglimit: at most `burst` lines per `interval_ms`; the rest are
 * counted and the next line that gets through says how many were
 * suppressed.  Thread-safe.
 */
#ifndef APFLOW_SERVER_LOGLIMIT_H
#define APFLOW_SERVER_LOGLIMIT_H

#include <pthread.h>
#include <stdint.h>

#include "apflow/log.h"

struct loglimit {
	int64_t interval_ms;
	unsigned burst;
	/* state */
	pthread_mutex_t lock;
	int64_t window_start;
	unsigned in_window;
	unsigned long suppressed;
};

#define LOGLIMIT_INIT(interval_ms, burst) { (interval_ms), (burst), PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 }

void loglimit_log(struct loglimit *ll, enum apf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
