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
 * A function used from now on goes into APF_DUCKDB_FUNCS (sorted) and gets
 * its #define below; `nm -D --defined-only libduckdb.so` shows that it is
 * exported (duckdb.h defines none of them as macros or inline functions).
 */
#ifndef APFLOW_DUCKDB_DL_H
#define APFLOW_DUCKDB_DL_H

#include <duckdb.h>

#define APF_DUCKDB_FUNCS(X)                                                                         \
	X(duckdb_array_type_array_size) X(duckdb_array_type_child_type)                             \
	X(duckdb_array_vector_get_child) X(duckdb_bind_double) X(duckdb_bind_int64)                 \
	X(duckdb_bind_null) X(duckdb_bind_varchar) X(duckdb_close) X(duckdb_column_count)           \
	X(duckdb_column_logical_type) X(duckdb_column_name) X(duckdb_connect)                       \
	X(duckdb_create_array_value) X(duckdb_create_bignum) X(duckdb_create_bit)                   \
	X(duckdb_create_blob) X(duckdb_create_bool) X(duckdb_create_config)                         \
	X(duckdb_create_date) X(duckdb_create_decimal) X(duckdb_create_double)                      \
	X(duckdb_create_enum_value) X(duckdb_create_float) X(duckdb_create_hugeint)                 \
	X(duckdb_create_int16) X(duckdb_create_int32) X(duckdb_create_int64)                        \
	X(duckdb_create_int8) X(duckdb_create_interval) X(duckdb_create_list_value)                 \
	X(duckdb_create_map_value) X(duckdb_create_null_value) X(duckdb_create_struct_value)        \
	X(duckdb_create_time) X(duckdb_create_time_ns) X(duckdb_create_time_tz_value)               \
	X(duckdb_create_timestamp) X(duckdb_create_timestamp_ms) X(duckdb_create_timestamp_ns)      \
	X(duckdb_create_timestamp_s) X(duckdb_create_timestamp_tz) X(duckdb_create_uhugeint)        \
	X(duckdb_create_uint16) X(duckdb_create_uint32) X(duckdb_create_uint64)                     \
	X(duckdb_create_uint8) X(duckdb_create_union_value) X(duckdb_create_uuid)                   \
	X(duckdb_create_varchar_length) X(duckdb_data_chunk_get_size)                               \
	X(duckdb_data_chunk_get_vector) X(duckdb_decimal_internal_type) X(duckdb_decimal_scale)     \
	X(duckdb_decimal_width) X(duckdb_destroy_config) X(duckdb_destroy_data_chunk)               \
	X(duckdb_destroy_logical_type) X(duckdb_destroy_prepare) X(duckdb_destroy_result)           \
	X(duckdb_destroy_value) X(duckdb_disconnect) X(duckdb_enum_internal_type)                   \
	X(duckdb_destroy_pending) X(duckdb_execute_pending)                                        \
	X(duckdb_execute_prepared) X(duckdb_fetch_chunk) X(duckdb_free) X(duckdb_get_type_id)       \
	X(duckdb_get_varchar) X(duckdb_library_version) X(duckdb_list_type_child_type)              \
	X(duckdb_list_vector_get_child) X(duckdb_map_type_key_type)                                 \
	X(duckdb_map_type_value_type) X(duckdb_nparams) X(duckdb_open_ext) X(duckdb_pending_error)                           \
	X(duckdb_pending_prepared_streaming) X(duckdb_prepare)        \
	X(duckdb_prepare_error) X(duckdb_query) X(duckdb_result_error)                              \
	X(duckdb_result_error_type) X(duckdb_result_return_type) X(duckdb_set_config)               \
	X(duckdb_string_t_data) X(duckdb_string_t_length) X(duckdb_struct_type_child_count)         \
	X(duckdb_struct_type_child_type) X(duckdb_struct_vector_get_child)                          \
	X(duckdb_union_type_member_type) X(duckdb_validity_row_is_valid)                            \
	X(duckdb_vector_get_data) X(duckdb_vector_get_validity)

#define X(f) extern __typeof__(f) *apf_dl_##f;
APF_DUCKDB_FUNCS(X)
#undef X

/* Each name calls through its pointer. */
#define duckdb_array_type_array_size (*apf_dl_duckdb_array_type_array_size)
#define duckdb_array_type_child_type (*apf_dl_duckdb_array_type_child_type)
#define duckdb_array_vector_get_child (*apf_dl_duckdb_array_vector_get_child)
#define duckdb_bind_double (*apf_dl_duckdb_bind_double)
#define duckdb_bind_int64 (*apf_dl_duckdb_bind_int64)
#define duckdb_bind_null (*apf_dl_duckdb_bind_null)
#define duckdb_bind_varchar (*apf_dl_duckdb_bind_varchar)
#define duckdb_close (*apf_dl_duckdb_close)
#define duckdb_column_count (*apf_dl_duckdb_column_count)
#define duckdb_column_logical_type (*apf_dl_duckdb_column_logical_type)
#define duckdb_column_name (*apf_dl_duckdb_column_name)
#define duckdb_connect (*apf_dl_duckdb_connect)
#define duckdb_create_array_value (*apf_dl_duckdb_create_array_value)
#define duckdb_create_bignum (*apf_dl_duckdb_create_bignum)
#define duckdb_create_bit (*apf_dl_duckdb_create_bit)
#define duckdb_create_blob (*apf_dl_duckdb_create_blob)
#define duckdb_create_bool (*apf_dl_duckdb_create_bool)
#define duckdb_create_config (*apf_dl_duckdb_create_config)
#define duckdb_create_date (*apf_dl_duckdb_create_date)
#define duckdb_create_decimal (*apf_dl_duckdb_create_decimal)
#define duckdb_create_double (*apf_dl_duckdb_create_double)
#define duckdb_create_enum_value (*apf_dl_duckdb_create_enum_value)
#define duckdb_create_float (*apf_dl_duckdb_create_float)
#define duckdb_create_hugeint (*apf_dl_duckdb_create_hugeint)
#define duckdb_create_int16 (*apf_dl_duckdb_create_int16)
#define duckdb_create_int32 (*apf_dl_duckdb_create_int32)
#define duckdb_create_int64 (*apf_dl_duckdb_create_int64)
#define duckdb_create_int8 (*apf_dl_duckdb_create_int8)
#define duckdb_create_interval (*apf_dl_duckdb_create_interval)
#define duckdb_create_list_value (*apf_dl_duckdb_create_list_value)
#define duckdb_create_map_value (*apf_dl_duckdb_create_map_value)
#define duckdb_create_null_value (*apf_dl_duckdb_create_null_value)
#define duckdb_create_struct_value (*apf_dl_duckdb_create_struct_value)
#define duckdb_create_time (*apf_dl_duckdb_create_time)
#define duckdb_create_time_ns (*apf_dl_duckdb_create_time_ns)
#define duckdb_create_time_tz_value (*apf_dl_duckdb_create_time_tz_value)
#define duckdb_create_timestamp (*apf_dl_duckdb_create_timestamp)
#define duckdb_create_timestamp_ms (*apf_dl_duckdb_create_timestamp_ms)
#define duckdb_create_timestamp_ns (*apf_dl_duckdb_create_timestamp_ns)
#define duckdb_create_timestamp_s (*apf_dl_duckdb_create_timestamp_s)
#define duckdb_create_timestamp_tz (*apf_dl_duckdb_create_timestamp_tz)
#define duckdb_create_uhugeint (*apf_dl_duckdb_create_uhugeint)
#define duckdb_create_uint16 (*apf_dl_duckdb_create_uint16)
#define duckdb_create_uint32 (*apf_dl_duckdb_create_uint32)
#define duckdb_create_uint64 (*apf_dl_duckdb_create_uint64)
#define duckdb_create_uint8 (*apf_dl_duckdb_create_uint8)
#define duckdb_create_union_value (*apf_dl_duckdb_create_union_value)
#define duckdb_create_uuid (*apf_dl_duckdb_create_uuid)
#define duckdb_create_varchar_length (*apf_dl_duckdb_create_varchar_length)
#define duckdb_data_chunk_get_size (*apf_dl_duckdb_data_chunk_get_size)
#define duckdb_data_chunk_get_vector (*apf_dl_duckdb_data_chunk_get_vector)
#define duckdb_decimal_internal_type (*apf_dl_duckdb_decimal_internal_type)
#define duckdb_decimal_scale (*apf_dl_duckdb_decimal_scale)
#define duckdb_decimal_width (*apf_dl_duckdb_decimal_width)
#define duckdb_destroy_config (*apf_dl_duckdb_destroy_config)
#define duckdb_destroy_data_chunk (*apf_dl_duckdb_destroy_data_chunk)
#define duckdb_destroy_logical_type (*apf_dl_duckdb_destroy_logical_type)
#define duckdb_destroy_pending (*apf_dl_duckdb_destroy_pending)
#define duckdb_destroy_prepare (*apf_dl_duckdb_destroy_prepare)
#define duckdb_destroy_result (*apf_dl_duckdb_destroy_result)
#define duckdb_destroy_value (*apf_dl_duckdb_destroy_value)
#define duckdb_disconnect (*apf_dl_duckdb_disconnect)
#define duckdb_enum_internal_type (*apf_dl_duckdb_enum_internal_type)
#define duckdb_execute_pending (*apf_dl_duckdb_execute_pending)
#define duckdb_execute_prepared (*apf_dl_duckdb_execute_prepared)
#define duckdb_fetch_chunk (*apf_dl_duckdb_fetch_chunk)
#define duckdb_free (*apf_dl_duckdb_free)
#define duckdb_get_type_id (*apf_dl_duckdb_get_type_id)
#define duckdb_get_varchar (*apf_dl_duckdb_get_varchar)
#define duckdb_library_version (*apf_dl_duckdb_library_version)
#define duckdb_list_type_child_type (*apf_dl_duckdb_list_type_child_type)
#define duckdb_list_vector_get_child (*apf_dl_duckdb_list_vector_get_child)
#define duckdb_map_type_key_type (*apf_dl_duckdb_map_type_key_type)
#define duckdb_map_type_value_type (*apf_dl_duckdb_map_type_value_type)
#define duckdb_nparams (*apf_dl_duckdb_nparams)
#define duckdb_open_ext (*apf_dl_duckdb_open_ext)
#define duckdb_pending_error (*apf_dl_duckdb_pending_error)
#define duckdb_pending_prepared_streaming (*apf_dl_duckdb_pending_prepared_streaming)
#define duckdb_prepare (*apf_dl_duckdb_prepare)
#define duckdb_prepare_error (*apf_dl_duckdb_prepare_error)
#define duckdb_query (*apf_dl_duckdb_query)
#define duckdb_result_error (*apf_dl_duckdb_result_error)
#define duckdb_result_error_type (*apf_dl_duckdb_result_error_type)
#define duckdb_result_return_type (*apf_dl_duckdb_result_return_type)
#define duckdb_set_config (*apf_dl_duckdb_set_config)
#define duckdb_string_t_data (*apf_dl_duckdb_string_t_data)
#define duckdb_string_t_length (*apf_dl_duckdb_string_t_length)
#define duckdb_struct_type_child_count (*apf_dl_duckdb_struct_type_child_count)
#define duckdb_struct_type_child_type (*apf_dl_duckdb_struct_type_child_type)
#define duckdb_struct_vector_get_child (*apf_dl_duckdb_struct_vector_get_child)
#define duckdb_union_type_member_type (*apf_dl_duckdb_union_type_member_type)
#define duckdb_validity_row_is_valid (*apf_dl_duckdb_validity_row_is_valid)
#define duckdb_vector_get_data (*apf_dl_duckdb_vector_get_data)
#define duckdb_vector_get_validity (*apf_dl_duckdb_vector_get_validity)

#endif
