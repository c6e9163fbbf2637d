/*
 * dl.c: see apflow/dl.h.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "apflow/dl.h"
#include "apflow/util.h"

void *apf_dl_open(const char *file, int flags, const struct apf_dl_sym *syms, size_t n, char *why,
		  size_t why_size)
{
	void *lib = dlopen(file, flags);

	if (!lib) {
		const char *e = dlerror();
		snprintf(why, why_size, "%s", e ? e : "cannot be loaded");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		void *p = dlsym(lib, syms[i].name);

		if (!p) {
			snprintf(why, why_size, "%s has no %s", file, syms[i].name);
			dlclose(lib);
			return NULL;
		}
		/* POSIX: a function's address fits in a void *. */
		memcpy(syms[i].fn, &p, sizeof(p));
	}
	return lib;
}

int apf_dl_need(struct apf_dl_lib *lib, int code, struct apf_err *err)
{
	void *h;

	pthread_mutex_lock(&lib->lock);
	if (!lib->tried) {
		lib->handle = apf_dl_open(lib->file, lib->flags, lib->syms, lib->n, lib->why, sizeof(lib->why));
		lib->tried = 1;
	}
	h = lib->handle;
	pthread_mutex_unlock(&lib->lock);
	if (h)
		return 0;
	return apf_error(err, code, "cannot load %s (%s): %s; %s", lib->what, lib->file, lib->why, lib->hint);
}
