/*
 * mhd_dl.c: loads libmicrohttpd (see mhd_dl.h).
 */
#include <pthread.h>
#include <stddef.h>

#include "apflow/dl.h"
#include "server/mhd_dl.h"
#include "apflow/banned.h" /* last: after every system header */

#ifndef APF_MHD_SONAME
#define APF_MHD_SONAME "libmicrohttpd.so.12"
#endif

#define X(f) __typeof__(f) *apf_dl_##f;
APF_MHD_FUNCS(X)
#undef X

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *lib;
static char load_error[256];

static void load(void)
{
	const struct apf_dl_sym syms[] = {
#define X(f) { #f, &apf_dl_##f },
		APF_MHD_FUNCS(X)
#undef X
	};

	lib = apf_dl_open(APF_MHD_SONAME, RTLD_NOW | RTLD_LOCAL, syms, sizeof(syms) / sizeof(syms[0]), load_error, sizeof(load_error));
}

int apf_mhd_need(struct apf_err *err)
{
	pthread_once(&once, load);
	if (lib)
		return 0;
	return apf_error(err, APF_EINTERNAL, "cannot load libmicrohttpd (%s): %s; run scripts/install-deps.sh",
			 APF_MHD_SONAME, load_error);
}
