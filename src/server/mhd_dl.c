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

static const struct apf_dl_sym syms[] = {
#define X(f) { #f, &apf_dl_##f },
	APF_MHD_FUNCS(X)
#undef X
};
static struct apf_dl_lib mhd =
	APF_DL_LIB("libmicrohttpd", APF_MHD_SONAME, RTLD_NOW | RTLD_LOCAL, syms, "run scripts/install-deps.sh");

int apf_mhd_need(struct apf_err *err)
{
	return apf_dl_need(&mhd, APF_EINTERNAL, err);
}
