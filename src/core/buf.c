/* buf.c: capped growable buffer (see buf.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/buf.h"
#include "apflow/banned.h" /* last: after every system header */

void apf_buf_init(struct apf_buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap ? cap : APF_BUF_DEFAULT_CAP;
}

void apf_buf_release(struct apf_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

void apf_buf_reset(struct apf_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for n more bytes plus the NUL. */
static int grow(struct apf_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : APF_BUF_DEFAULT_CAP;
	size_t need, want;
	char *p;

	if (n > cap || b->len > cap - n)
		return -1;
	need = b->len + n + 1;
	if (need <= b->alloc)
		return 0;
	want = b->alloc ? b->alloc : 256;
	while (want < need)
		want = want > ((size_t)-1) / 2 ? need : want * 2;
	p = realloc(b->data, want);
	if (!p)
		return -1;
	b->data = p;
	b->alloc = want;
	return 0;
}

int apf_buf_add(struct apf_buf *b, const void *p, size_t n)
{
	if (grow(b, n))
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int apf_buf_adds(struct apf_buf *b, const char *s)
{
	return apf_buf_add(b, s, strlen(s));
}

int apf_buf_vaddf(struct apf_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || grow(b, (size_t)n))
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int apf_buf_addf(struct apf_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = apf_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *apf_buf_detach(struct apf_buf *b, size_t *len)
{
	char *p = b->data;

	if (!p) {
		p = calloc(1, 1);
		if (!p)
			abort();
	}
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}
