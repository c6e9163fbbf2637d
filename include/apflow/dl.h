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
#include <stddef.h>

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

#endif
