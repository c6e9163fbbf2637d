/* err.c: the error table (see err.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "apflow/err.h"
#include "apflow/banned.h" /* last: after every system header */

struct err_info {
	const char *name;
	const char *desc;
	int exit_code;
	int http;
};

static const struct err_info errs[] = {
#define APF_ERR_ROW(name, desc, exitcode, http) { "E" #name, desc, exitcode, http },
	APF_ERR_MAP(APF_ERR_ROW)
#undef APF_ERR_ROW
};

static const struct err_info *info(int code)
{
	if (code < 0 || code >= APF_E_COUNT)
		code = APF_EINTERNAL;
	return &errs[code];
}

int apf_error(struct apf_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (code == APF_EOK)
		code = APF_EINTERNAL; /* an error must never read as success */
	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int apf_error_prefix(struct apf_err *err, const char *fmt, ...)
{
	char prefix[APF_ERR_MSG_MAX];
	size_t pl, ml;
	va_list ap;
	int n;

	if (!err)
		return APF_EINTERNAL;
	va_start(ap, fmt);
	n = vsnprintf(prefix, sizeof(prefix) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return err->code ? err->code : APF_EINTERNAL;
	pl = strlen(prefix);
	memcpy(prefix + pl, ": ", 3);
	pl += 2;
	/* Shift the old message right, dropping its tail if it no longer fits. */
	ml = strnlen(err->msg, sizeof(err->msg) - 1);
	if (pl + ml > sizeof(err->msg) - 1)
		ml = pl < sizeof(err->msg) - 1 ? sizeof(err->msg) - 1 - pl : 0;
	memmove(err->msg + pl, err->msg, ml);
	memcpy(err->msg, prefix, pl < sizeof(err->msg) - 1 ? pl : sizeof(err->msg) - 1);
	err->msg[pl + ml < sizeof(err->msg) ? pl + ml : sizeof(err->msg) - 1] = '\0';
	return err->code ? err->code : APF_EINTERNAL;
}

void apf_err_clear(struct apf_err *err)
{
	if (!err)
		return;
	err->code = APF_EOK;
	err->msg[0] = '\0';
}

const char *apf_err_name(int code) { return info(code)->name; }
const char *apf_err_desc(int code) { return info(code)->desc; }
int apf_err_exit_code(int code) { return info(code)->exit_code; }
int apf_err_http_status(int code) { return info(code)->http; }
