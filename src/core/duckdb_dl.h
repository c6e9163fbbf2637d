/*
 * duckdb_dl.h: DuckDB's C API, loaded when the warehouse is first needed.
 *
 * libduckdb is loaded with dlopen (duckdb_dl.c), not linked: relocating it
 * cost every apflow command about 14 ms of CPU before main() ran, `apflow
 * --help` included.  For each function of duckdb.h that apflow calls, this
 * header declares a pointer apf_dl_duckdb_xxx, typed from duckdb.h, and
 * makes the name duckdb_xxx call through it, so that db.c reads as it would
 * with the library linked.  Include this header instead of <duckdb.h>.
 *
 * The pointers are set once apf_duckdb_need() (apflow/db.h) has returned 0:
 * every path that creates a DuckDB instance calls it first; everything else
 * runs on an instance's handles.
 *
 * The library is libduckdb.so, looked for where the executable looks for
 * its own libraries (LD_LIBRARY_PATH, its RUNPATH, which the Makefile sets
 * to third_party/duckdb/lib, the system directories), then under that name
 * alone (ldconfig's cache).  The environment variable APFLOW_DUCKDB_LIB,
 * when set, names the file to load instead (a path, or a name to search as
 * dlopen does); tests point it at nothing to check the error.
 *
 * A function used from now on goes into APF_DUCKDB_FUNCS, one X(name) a
 * line, sorted: the list is the only place that names it (the #define
 * that redirects the name is made from it, into build/gen).  `nm -D
 * --defined-only libduckdb.so` shows that it is exported (duckdb.h defines
 * none of them as macros or inline functions).
 */
#ifndef APFLOW_DUCKDB_DL_H
#define APFLOW_DUCKDB_DL_H

#include <duckdb.h>

#define APF_DUCKDB_FUNCS(X) \
	X(duckdb_array_type_array_size) \
	X(duckdb_array_type_child_type) \
	X(duckdb_array_vector_get_child) \
	X(duckdb_bind_double) \
	X(duckdb_bind_int64) \
	X(duckdb_bind_null) \
	X(duckdb_bind_varchar) \
	X(duckdb_close) \
	X(duckdb_column_count) \
	X(duckdb_column_logical_type) \
	X(duckdb_column_name) \
	X(duckdb_connect) \
	X(duckdb_create_array_value) \
	X(duckdb_create_bignum) \
	X(duckdb_create_bit) \
	X(duckdb_create_blob) \
	X(duckdb_create_bool) \
	X(duckdb_create_config) \
	X(duckdb_create_date) \
	X(duckdb_create_decimal) \
	X(duckdb_create_double) \
	X(duckdb_create_enum_value) \
	X(duckdb_create_float) \
	X(duckdb_create_hugeint) \
	X(duckdb_create_int16) \
	X(duckdb_create_int32) \
	X(duckdb_create_int64) \
	X(duckdb_create_int8) \
	X(duckdb_create_interval) \
	X(duckdb_create_list_value) \
	X(duckdb_create_map_value) \
	X(duckdb_create_null_value) \
	X(duckdb_create_struct_value) \
	X(duckdb_create_time) \
	X(duckdb_create_time_ns) \
	X(duckdb_create_time_tz_value) \
	X(duckdb_create_timestamp) \
	X(duckdb_create_timestamp_ms) \
	X(duckdb_create_timestamp_ns) \
	X(duckdb_create_timestamp_s) \
	X(duckdb_create_timestamp_tz) \
	X(duckdb_create_uhugeint) \
	X(duckdb_create_uint16) \
	X(duckdb_create_uint32) \
	X(duckdb_create_uint64) \
	X(duckdb_create_uint8) \
	X(duckdb_create_union_value) \
	X(duckdb_create_uuid) \
	X(duckdb_create_varchar_length) \
	X(duckdb_data_chunk_get_size) \
	X(duckdb_data_chunk_get_vector) \
	X(duckdb_decimal_internal_type) \
	X(duckdb_decimal_scale) \
	X(duckdb_decimal_width) \
	X(duckdb_destroy_config) \
	X(duckdb_destroy_data_chunk) \
	X(duckdb_destroy_logical_type) \
	X(duckdb_destroy_pending) \
	X(duckdb_destroy_prepare) \
	X(duckdb_destroy_result) \
	X(duckdb_destroy_value) \
	X(duckdb_disconnect) \
	X(duckdb_enum_internal_type) \
	X(duckdb_execute_pending) \
	X(duckdb_execute_prepared) \
	X(duckdb_fetch_chunk) \
	X(duckdb_free) \
	X(duckdb_get_type_id) \
	X(duckdb_get_varchar) \
	X(duckdb_library_version) \
	X(duckdb_list_type_child_type) \
	X(duckdb_list_vector_get_child) \
	X(duckdb_map_type_key_type) \
	X(duckdb_map_type_value_type) \
	X(duckdb_nparams) \
	X(duckdb_open_ext) \
	X(duckdb_pending_error) \
	X(duckdb_pending_prepared_streaming) \
	X(duckdb_prepare) \
	X(duckdb_prepare_error) \
	X(duckdb_query) \
	X(duckdb_result_error) \
	X(duckdb_result_error_type) \
	X(duckdb_result_return_type) \
	X(duckdb_set_config) \
	X(duckdb_string_t_data) \
	X(duckdb_string_t_length) \
	X(duckdb_struct_type_child_count) \
	X(duckdb_struct_type_child_type) \
	X(duckdb_struct_vector_get_child) \
	X(duckdb_union_type_member_type) \
	X(duckdb_validity_row_is_valid) \
	X(duckdb_vector_get_data) \
	X(duckdb_vector_get_validity)

#define X(f) extern __typeof__(f) *apf_dl_##f;
APF_DUCKDB_FUNCS(X)
#undef X

/* Each name calls through its pointer: "#define duckdb_xxx
 * (*apf_dl_duckdb_xxx)" for each X(duckdb_xxx) line above, made by the
 * Makefile. */
#include "duckdb_dl_names.h"

#endif
