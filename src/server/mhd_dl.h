/*
 * mhd_dl.h: libmicrohttpd, loaded when the server starts (apflow/dl.h).
 *
 * Only `apflow serve` uses it, and linked it cost every command its
 * loading (GnuTLS comes with it).  For each function the server calls,
 * this header declares a pointer apf_dl_MHD_xxx typed from microhttpd.h
 * and makes the name MHD_xxx call through it.  Include it instead of
 * <microhttpd.h>; call apf_mhd_need() before the first MHD_ call (the
 * server does, before MHD_start_daemon()).  A function used from now on
 * goes into APF_MHD_FUNCS and gets its #define below.
 */
#ifndef APFLOW_MHD_DL_H
#define APFLOW_MHD_DL_H

#include <microhttpd.h>

#include "apflow/err.h"

#define APF_MHD_FUNCS(X)                                                                                \
	X(MHD_add_connection) X(MHD_add_response_header) X(MHD_create_post_processor) X(MHD_create_response_from_buffer)      \
	X(MHD_destroy_post_processor) X(MHD_destroy_response) X(MHD_get_connection_info)                \
	X(MHD_get_daemon_info) X(MHD_lookup_connection_value) X(MHD_lookup_connection_value_n)          \
	X(MHD_post_process) X(MHD_queue_response) X(MHD_quiesce_daemon) X(MHD_resume_connection)        \
	X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_suspend_connection)

#define X(f) extern __typeof__(f) *apf_dl_##f;
APF_MHD_FUNCS(X)
#undef X

#define MHD_add_connection (*apf_dl_MHD_add_connection)
#define MHD_add_response_header (*apf_dl_MHD_add_response_header)
#define MHD_create_post_processor (*apf_dl_MHD_create_post_processor)
#define MHD_create_response_from_buffer (*apf_dl_MHD_create_response_from_buffer)
#define MHD_destroy_post_processor (*apf_dl_MHD_destroy_post_processor)
#define MHD_destroy_response (*apf_dl_MHD_destroy_response)
#define MHD_get_connection_info (*apf_dl_MHD_get_connection_info)
#define MHD_get_daemon_info (*apf_dl_MHD_get_daemon_info)
#define MHD_lookup_connection_value (*apf_dl_MHD_lookup_connection_value)
#define MHD_lookup_connection_value_n (*apf_dl_MHD_lookup_connection_value_n)
#define MHD_post_process (*apf_dl_MHD_post_process)
#define MHD_queue_response (*apf_dl_MHD_queue_response)
#define MHD_quiesce_daemon (*apf_dl_MHD_quiesce_daemon)
#define MHD_resume_connection (*apf_dl_MHD_resume_connection)
#define MHD_start_daemon (*apf_dl_MHD_start_daemon)
#define MHD_stop_daemon (*apf_dl_MHD_stop_daemon)
#define MHD_suspend_connection (*apf_dl_MHD_suspend_connection)

/* Loads libmicrohttpd once (thread-safe); an error names what is missing. */
int apf_mhd_need(struct apf_err *err);

#endif
