/*
 * log.h: diagnostics on stderr.  Core code logs only through here; it never
 * writes to stdout.  Messages must never contain secrets.
 */
#ifndef APFLOW_LOG_H
#define APFLOW_LOG_H

enum apf_log_level { APF_LOG_ERROR = 0, APF_LOG_WARN, APF_LOG_INFO, APF_LOG_DEBUG };

void apf_log_set_level(enum apf_log_level level);
int apf_log_parse_level(const char *s, enum apf_log_level *out);
enum apf_log_level apf_log_get_level(void);
void apf_log(enum apf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define apf_log_error(...) apf_log(APF_LOG_ERROR, __VA_ARGS__)
#define apf_log_warn(...) apf_log(APF_LOG_WARN, __VA_ARGS__)
#define apf_log_info(...) apf_log(APF_LOG_INFO, __VA_ARGS__)
#define apf_log_debug(...) apf_log(APF_LOG_DEBUG, __VA_ARGS__)

#endif
