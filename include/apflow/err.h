/*
 * err.h: every apflow error, defined once.
 *
 * APF_ERR_MAP gives each error its name, its message prefix, the CLI exit
 * code and the HTTP status, so that the command line and the server report
 * the same failure the same way.  Core functions return 0 on success or one
 * of the APF_E* codes, and fill a caller-provided struct apf_err with a
 * message in git's style: lower case, no final full stop, the subject in
 * quotes, the reason after a colon.
 */
#ifndef APFLOW_ERR_H
#define APFLOW_ERR_H

#include <stddef.h>

/*      name      description                 exit  http */
#define APF_ERR_MAP(X)                                        \
	X(OK,       "success",                  0,  200)          \
	X(USAGE,    "usage",                    2,  400)          \
	X(INVAL,    "invalid input",            1,  400)          \
	X(CONFIG,   "configuration",            1,  500)          \
	X(IO,       "i/o error",                1,  500)          \
	X(NOMEM,    "out of memory",            1,  500)          \
	X(NOTFOUND, "not found",                1,  404)          \
	X(EXISTS,   "already exists",           1,  409)          \
	X(AUTH,     "not authorized",           1,  401)          \
	X(TOOBIG,   "too large",                1,  413)          \
	X(STORE,    "object store",             1,  503)          \
	X(DB,       "warehouse",                1,  503)          \
	X(LOCKED,   "warehouse locked",         1,  503)          \
	X(SQL,      "sql",                      1,  400)          \
	X(NET,      "network",                  1,  502)          \
	X(PDF,      "pdf",                      1,  400)          \
	X(OCR,      "ocr",                      1,  500)          \
	X(INTERNAL, "internal error",           1,  500)          \
	X(METHOD,   "method not allowed",       2,  405)          \
	X(MEDIATYPE, "unsupported media type",  2,  415)          \
	X(UNAVAIL,  "unavailable",              1,  503)          \
	X(TIMEOUT,  "timed out",                1,  408)          \
	X(HDRTOOBIG, "headers too large",       2,  431)

enum apf_errcode {
#define APF_ERR_ENUM(name, desc, exitcode, http) APF_E##name,
	APF_ERR_MAP(APF_ERR_ENUM)
#undef APF_ERR_ENUM
	APF_E_COUNT
};

#define APF_ERR_MSG_MAX 1024

/* A filled error: code is one of APF_E*, msg a human sentence. */
struct apf_err {
	int code;
	char msg[APF_ERR_MSG_MAX];
};

/*
 * Records an error and returns its code, so that callers can write
 * `return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));`
 * err may be NULL (the message is then dropped).
 */
int apf_error(struct apf_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes an existing message: "ctx: old message". Returns err->code. */
int apf_error_prefix(struct apf_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Resets err to APF_EOK with an empty message. */
void apf_err_clear(struct apf_err *err);

const char *apf_err_name(int code);   /* "EIO" style name, for logs and JSON */
const char *apf_err_desc(int code);
int apf_err_exit_code(int code);      /* 0, 1 or 2 */
int apf_err_http_status(int code);

#endif
