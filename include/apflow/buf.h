/*
 * buf.h: a growable byte buffer with a hard cap, in the spirit of curl's
 * dynbuf.  Every buffer filled from outside input (HTTP bodies, PDF text,
 * model answers) has a cap, so hostile input cannot exhaust memory.
 *
 * Invariant: data is NUL-terminated whenever len > 0 or after any append,
 * so text buffers can be used as C strings.
 */
#ifndef APFLOW_BUF_H
#define APFLOW_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct apf_buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap; /* the most len may reach; 0 means APF_BUF_DEFAULT_CAP */
};

#define APF_BUF_DEFAULT_CAP ((size_t)64 << 20)
#define APF_BUF_INIT { NULL, 0, 0, 0 }

void apf_buf_init(struct apf_buf *b, size_t cap);
void apf_buf_release(struct apf_buf *b);
void apf_buf_reset(struct apf_buf *b); /* len = 0, keeps the memory */

/* Appends; returns 0, or -1 when the cap would be passed or memory is out
 * (the buffer is then unchanged). */
int apf_buf_add(struct apf_buf *b, const void *p, size_t n);
int apf_buf_adds(struct apf_buf *b, const char *s);
int apf_buf_addf(struct apf_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int apf_buf_vaddf(struct apf_buf *b, const char *fmt, va_list ap);

/* Hands the data to the caller (who frees it) and resets b. Never NULL. */
char *apf_buf_detach(struct apf_buf *b, size_t *len);

#endif
