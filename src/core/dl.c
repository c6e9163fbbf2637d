/*
 * dl.c: see apflow/dl.h.
 */
#include <dlfcn.h>
#include <signal.h>
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

/* Called with lib->lock held. */
static void load(struct apf_dl_lib *lib)
{
	if (lib->tried)
		return;
	if (lib->locate)
		lib->file = lib->locate(lib->path, sizeof(lib->path));
	lib->handle = apf_dl_open(lib->file, lib->flags, lib->syms, lib->n, lib->why, sizeof(lib->why));
	lib->tried = 1;
}

int apf_dl_need(struct apf_dl_lib *lib, int code, struct apf_err *err)
{
	void *h;

	pthread_mutex_lock(&lib->lock);
	if (lib->preload_state == 1) {
		/* One caller joins; the others wait on the lock below. */
		lib->preload_state = 2;
		pthread_mutex_unlock(&lib->lock);
		pthread_join(lib->preload, NULL);
		pthread_mutex_lock(&lib->lock);
	}
	lib->preload_state = 2;
	load(lib);
	h = lib->handle;
	pthread_mutex_unlock(&lib->lock);
	if (h)
		return 0;
	return apf_error(err, code, "cannot load %s (%s): %s; %s", lib->what, lib->file, lib->why, lib->hint);
}

static void *preload_main(void *arg)
{
	struct apf_dl_lib *lib = arg;

	pthread_mutex_lock(&lib->lock);
	load(lib);
	pthread_mutex_unlock(&lib->lock);
	return NULL;
}

void apf_dl_preload(struct apf_dl_lib *lib)
{
	sigset_t all, old;

	pthread_mutex_lock(&lib->lock);
	if (lib->preload_state == 0) {
		sigfillset(&all);
		sigdelset(&all, SIGSEGV);
		sigdelset(&all, SIGBUS);
		sigdelset(&all, SIGFPE);
		sigdelset(&all, SIGILL);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (!pthread_create(&lib->preload, NULL, preload_main, lib))
			lib->preload_state = 1;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_mutex_unlock(&lib->lock);
}
