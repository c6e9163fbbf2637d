/*
 * util.h: small helpers shared by the core: checked allocation, strings,
 * files, time, hashing.
 */
#ifndef APFLOW_UTIL_H
#define APFLOW_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "apflow/err.h"

/* Allocation that aborts on failure; used for small fixed-size things only.
 * Buffers sized by outside input go through struct apf_buf and its cap. */
void *apf_xmalloc(size_t n);
void *apf_xcalloc(size_t n, size_t size);
void *apf_xrealloc(void *p, size_t n);
char *apf_xstrdup(const char *s);
char *apf_xstrndup(const char *s, size_t n);
char *apf_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copies at most size-1 bytes and always NUL-terminates; returns strlen(src). */
size_t apf_strlcpy(char *dst, const char *src, size_t size);

int apf_starts_with(const char *s, const char *prefix);
int apf_ends_with(const char *s, const char *suffix);

/* Parses a whole decimal integer; returns 0 or -1 (trailing junk, range). */
int apf_parse_i64(const char *s, int64_t *out);
/* The one number parser of options and settings: apf_parse_i64() and a
 * range check, lo <= value <= hi; returns 0 or -1 (*out untouched). */
int apf_parse_i64_in(const char *s, int64_t lo, int64_t hi, int64_t *out);
int apf_parse_int_in(const char *s, int lo, int hi, int *out);
/* "yes/true/on/1" and "no/false/off/0"; returns 0 or -1. */
int apf_parse_bool(const char *s, int *out);

/* Constant-time equality of two strings (time depends only on lengths). */
int apf_secret_eq(const char *a, const char *b);

/* Hex SHA-256 (65 bytes with NUL). */
#define APF_SHA256_HEX 65
void apf_sha256_hex(const void *data, size_t len, char out[APF_SHA256_HEX]);
int apf_sha256_file(const char *path, char out[APF_SHA256_HEX], uint64_t *size,
		    struct apf_err *err);
struct apf_sha256; /* incremental hashing, opaque */
struct apf_sha256 *apf_sha256_new(void);
void apf_sha256_update(struct apf_sha256 *h, const void *data, size_t len);
void apf_sha256_final_hex(struct apf_sha256 *h, char out[APF_SHA256_HEX]); /* frees h */
void apf_hex(const unsigned char *in, size_t n, char *out); /* out: 2n+1 bytes */
int apf_hexval(char c); /* the value of a hex digit (either case), or -1 */

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer. */
int apf_read_file(const char *path, size_t max, char **out, size_t *len, struct apf_err *err);

/* Writes atomically: temp file in the same directory, fsync, rename, fsync dir. */
int apf_write_file_atomic(const char *path, const void *data, size_t len, struct apf_err *err);

/* fsyncs the directory holding path, making a rename or create in it durable;
 * returns 0 or -1 (errno set).  File systems that cannot sync a directory count as success. */
int apf_fsync_dir_of(const char *path);

/*
 * Removes the files in dir named <prefix><pid>-... whose process is gone
 * (left by a crash or a kill), files or directories.  Those of a live process, a neighbour sharing
 * the data dir, are left alone.  Best effort: errors are ignored.
 */
void apf_remove_stale_temps(const char *dir, const char *prefix);
/* Removes path, and what is in it when it is a directory (not following
 * links).  Best effort: errors are ignored. */
void apf_rmtree(const char *path);
/* The names in dir, sorted, "." and ".." left out (*out malloc'ed, free
 * with apf_list_free()).  A missing dir is an empty list when missing_ok,
 * else APF_EIO as any other failure ("cannot read directory '...': ..."). */
int apf_list_dir(const char *dir, int missing_ok, char ***out, size_t *n, struct apf_err *err);
void apf_list_free(char **v, size_t n);

/* mkdir -p; returns 0 or an error. */
int apf_mkdirs(const char *path, int mode, struct apf_err *err);

/* Monotonic milliseconds and wall-clock microseconds since the epoch. */
int64_t apf_now_ms(void);
int64_t apf_wall_us(void);
void apf_sleep_ms(int64_t ms);

/*
 * The one reader of ISO 8601 / RFC 3339 times (S3's LastModified, Argilla's
 * updated_at, apflow pull --since): "YYYY-MM-DD", optionally followed by
 * 'T', 't' or ' ' and "hh:mm", then optionally ":ss" with a fraction ('.'
 * or ','; digits past microseconds are dropped), then optionally 'Z' or an
 * offset "+hh:mm", "+hhmm" or "+hh" (also '-').  A time without a zone is
 * UTC.  Writes microseconds since the epoch into *us and returns 0, or
 * returns -1 (s NULL, a field out of range such as month 13 or February
 * 30, anything left over).
 */
int apf_parse_iso8601(const char *s, int64_t *us);

/* Thread-safe random 64 bits (for jitter and temp names, not for secrets). */
uint64_t apf_rand64(void);

#include "apflow/banned.h"

#endif
