/*
 * dl.h: libraries loaded when first needed (dlopen), not linked.
 *
 * Every library linked to apflow is mapped and relocated, and its
 * dependencies with it, before main() runs, for every command.  libcurl
 * brings some 25 libraries (GnuTLS, Kerberos, LDAP, ...) and
 * libmicrohttpd GnuTLS again: linked, they cost each command about 5 ms of
 * start-up, `apflow --help` as much as `apflow ocr`.  So the modules that
 * use them (http.c, the server) load them on first use, through a table of
 * function pointers filled here; Tesseract (ocr.c) and DuckDB
 * (duckdb_dl.c) are loaded the same way.
 */
#ifndef APFLOW_DL_H
#define APFLOW_DL_H

#include <dlfcn.h> /* the flags of apf_dl_open() */
#include <limits.h>
#include <pthread.h>
#include <stddef.h>

#include "apflow/err.h"

/* A function to look up: its name, and the pointer to set (the address of
 * a function-pointer variable). */
struct apf_dl_sym {
	const char *name;
	void *fn;
};

/*
 * dlopen(file, flags) (RTLD_NOW | RTLD_LOCAL unless there is a reason),
 * then every symbol of syms.  Returns the handle (kept for the life of the
 * process), or NULL with the reason in why: dlerror()'s, or "<file> has no
 * <name>".
 */
void *apf_dl_open(const char *file, int flags, const struct apf_dl_sym *syms, size_t n, char *why,
		  size_t why_size);

/*
 * The one way a module loads its library: a static struct apf_dl_lib
 * naming it and its functions (an X-macro list filling the syms array),
 * and apf_dl_need() before the first call.  The functions are then called
 * through the pointers: by a #define per name where the library's header
 * allows it (libmicrohttpd, DuckDB: the code reads as if linked), through
 * a struct of pointers where the header defines some names as macros of
 * its own (libcurl's curl_easy_setopt type check) or the names are few
 * (Tesseract).
 *
 *   static struct apf_dl_lib mhd = APF_DL_LIB("libmicrohttpd", "libmicrohttpd.so.12",
 *                                             RTLD_NOW | RTLD_LOCAL, syms, "run scripts/install-deps.sh");
 *   if (apf_dl_need(&mhd, APF_EINTERNAL, err)) return err->code;
 *
 * A library whose file is found at load time (DuckDB: an environment
 * variable, or the executable's search path) sets locate instead of file.
 */
struct apf_dl_lib {
	const char *what;              /* "libcurl", for the message */
	const char *file;              /* what dlopen() is given (set by locate when there is one) */
	int flags;
	const struct apf_dl_sym *syms;
	size_t n;
	const char *hint;              /* how to install it */
	/* NULL, or called once, under lock, before loading: the file to
	 * load, written into path (of size PATH_MAX) or a constant. */
	const char *(*locate)(char *path, size_t size);
	pthread_mutex_t lock;
	int tried;
	void *handle;                  /* NULL until loaded (or when it failed) */
	char why[256];
	char path[PATH_MAX];           /* locate()'s buffer */
	int preload_state;             /* apf_dl_preload()'s thread: 0 none yet, 1 running (to be
					* joined), 2 no more (joined, or apf_dl_need() came first) */
	pthread_t preload;
};
#define APF_DL_LIB(what_, file_, flags_, syms_, hint_)                                                      \
	{ .what = what_, .file = file_, .flags = flags_, .syms = syms_, .n = sizeof(syms_) / sizeof((syms_)[0]), \
	  .hint = hint_, .lock = PTHREAD_MUTEX_INITIALIZER }

/*
 * Loads lib once (thread-safe; a failure is remembered, not retried),
 * after joining apf_dl_preload()'s thread if one runs.  Returns 0, or
 * code with "cannot load <what> (<file>): <why>; <hint>".  A process that
 * preloaded calls it before exit(), which must not run while the
 * library's constructors do.
 */
int apf_dl_need(struct apf_dl_lib *lib, int code, struct apf_err *err);

/*
 * Starts loading lib on a thread of its own, so that a command which will
 * need it loads it beside its own start (options, config, input files).
 * The thread takes no signals but its own faults: a command that blocks
 * some to sigwait() for them (serve) does not lose them to it.  Nothing
 * happens when lib is loaded, or being loaded, already.
 */
void apf_dl_preload(struct apf_dl_lib *lib);

#endif
