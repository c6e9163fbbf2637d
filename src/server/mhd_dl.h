/*
 * mhd_dl.h: libmicrohttpd, loaded when the server starts (apflow/dl.h).
 *
 * Only `apflow serve` uses it, and linked it cost every command its
 * loading (GnuTLS comes with it).  For each function the server calls,
 * this header declares a pointer apf_dl_MHD_xxx typed from microhttpd.h
 * and makes the name MHD_xxx call through it.  Include it instead of
 * <microhttpd.h>; call apf_mhd_need() before the first MHD_ call (the
 * server does, before MHD_start_daemon()).  A function used from now on
 * goes into APF_MHD_FUNCS, one X(name) a line, sorted: the list is the
 * only place that names it (the #define that redirects the name is made
 * from it by the Makefile, into build/gen, as for duckdb_dl.h).
 */
#ifndef APFLOW_MHD_DL_H
#define APFLOW_MHD_DL_H

#include <microhttpd.h>

#include "apflow/err.h"

#define APF_MHD_FUNCS(X) \
	X(MHD_add_connection) \
	X(MHD_add_response_header) \
	X(MHD_create_post_processor) \
	X(MHD_create_response_from_buffer) \
	X(MHD_destroy_post_processor) \
	X(MHD_destroy_response) \
	X(MHD_get_connection_info) \
	X(MHD_get_daemon_info) \
	X(MHD_lookup_connection_value) \
	X(MHD_lookup_connection_value_n) \
	X(MHD_post_process) \
	X(MHD_queue_response) \
	X(MHD_quiesce_daemon) \
	X(MHD_resume_connection) \
	X(MHD_start_daemon) \
	X(MHD_stop_daemon) \
	X(MHD_suspend_connection)

#define X(f) extern __typeof__(f) *apf_dl_##f;
APF_MHD_FUNCS(X)
#undef X

/* #define MHD_xxx (*apf_dl_MHD_xxx), made from the list by the Makefile */
#include "mhd_dl_names.h"

/* Loads libmicrohttpd once (thread-safe); an error names what is missing. */
int apf_mhd_need(struct apf_err *err);

#endif
