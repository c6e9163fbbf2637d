/*
 * duckdb_dl.c: loads libduckdb (why and where from: duckdb_dl.h) the one
 * way (apflow/dl.h), in the background when the command line says the
 * warehouse will be needed.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "apflow/db.h"
#include "apflow/dl.h"
#include "apflow/util.h"
#include "core/duckdb_dl.h"

#define X(f) __typeof__(apf_dl_##f) apf_dl_##f;
APF_DUCKDB_FUNCS(X)
#undef X

#define DUCKDB_LIB "libduckdb.so"

/*
 * How libduckdb is opened, measured against linking it (apflow init and
 * sql, release build):
 *  - lazy binding, as when it was linked: it has some 23,000 PLT slots,
 *    and RTLD_NOW resolves them all at load, 4-7 ms of CPU more;
 *  - local: its symbols are for this file alone;
 *  - deep binding: libduckdb looks its own symbols up in itself first.
 *    Most of its ~37,000 symbol relocations name its own symbols, and
 *    without it each lookup first misses in every library of the global
 *    scope (apflow's 48, MuPDF's and libcurl's among them), where a
 *    linked libduckdb came second: 10-14 ms more per command.  There
 *    is nothing there it should bind to instead: no C++ runtime (libstdc++
 *    comes with libduckdb), and of the variables apflow copies (stdout,
 *    stderr) libc's originals hold the same values.  But a malloc
 *    interposed with LD_PRELOAD does not see libduckdb's calls.
 *    AddressSanitizer refuses RTLD_DEEPBIND (libduckdb would bypass its
 *    malloc), so sanitizer builds go without and pay the lookups.
 */
#if defined(__SANITIZE_ADDRESS__)         /* gcc */
#define WITH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)      /* clang */
#define WITH_ASAN 1
#endif
#endif
#ifdef WITH_ASAN
#define DUCKDB_DLOPEN_FLAGS (RTLD_LAZY | RTLD_LOCAL)
#else
#define DUCKDB_DLOPEN_FLAGS (RTLD_LAZY | RTLD_LOCAL | RTLD_DEEPBIND)
#endif

/*
 * The file to load: the first libduckdb.so in the executable's library
 * search path (written into path).  A dlopen() of the bare name would
 * search the RUNPATH of its caller, and under AddressSanitizer the caller
 * is libasan, whose dlopen interceptor calls the real one: so the
 * directories are the executable's, asked of the dynamic loader
 * (RTLD_DI_SERINFO), and tried one by one.  A file that is there but does
 * not load is the error; none there, the bare name (which also finds a
 * library in ldconfig's cache).
 */
static const char *search_path_file(char *path, size_t path_size)
{
	void *self = dlopen(NULL, RTLD_LAZY);
	const char *file = DUCKDB_LIB;
	Dl_serinfo size, *si = NULL;

	if (self && !dlinfo(self, RTLD_DI_SERINFOSIZE, &size)) {
		si = apf_xmalloc(size.dls_size);
		si->dls_size = size.dls_size;
		si->dls_cnt = size.dls_cnt;
		if (dlinfo(self, RTLD_DI_SERINFO, si))
			si->dls_cnt = 0;
		for (unsigned i = 0; i < si->dls_cnt; i++) {
			const char *dir = si->dls_serpath[i].dls_name;

			if ((size_t)snprintf(path, path_size, "%s/" DUCKDB_LIB, *dir ? dir : ".") < path_size &&
			    !access(path, F_OK)) {
				file = path;
				break;
			}
		}
		free(si);
	}
	if (self)
		dlclose(self);
	return file;
}

/* The file to load: APFLOW_DUCKDB_LIB, else the search above. */
static const char *locate(char *path, size_t size)
{
	const char *env = getenv("APFLOW_DUCKDB_LIB");

	if (env && *env) {
		apf_strlcpy(path, env, size);
		return path;
	}
	return search_path_file(path, size);
}

static const struct apf_dl_sym syms[] = {
#define X(f) { #f, &apf_dl_##f },
	APF_DUCKDB_FUNCS(X)
#undef X
};
static struct apf_dl_lib duckdb_lib = {
	.what = "DuckDB", .locate = locate, .flags = DUCKDB_DLOPEN_FLAGS, .syms = syms,
	.n = sizeof(syms) / sizeof(syms[0]), .hint = "run scripts/install-deps.sh", .lock = PTHREAD_MUTEX_INITIALIZER,
};

void apf_duckdb_preload(void)
{
	apf_dl_preload(&duckdb_lib);
}

int apf_duckdb_need(struct apf_err *err)
{
	return apf_dl_need(&duckdb_lib, APF_EDB, err);
}
