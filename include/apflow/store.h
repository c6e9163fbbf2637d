/*
 * store.h: the object store.  One interface, two backends:
 *
 *   file://DIR             keys are files under DIR; writes go to a temp file
 *                          in the same directory, are fsync'ed and renamed,
 *                          so a key is either absent or whole.
 *   s3://BUCKET[/PREFIX]   S3, R2 or MinIO over libcurl with AWS SigV4;
 *                          path-style or virtual-host URLs; multipart upload
 *                          above a threshold; retries with backoff and jitter
 *                          on 5xx, 429, timeouts and connection resets.
 *
 * Keys are relative ('raw/ab12.pdf'): no leading '/', no '.' or '..'
 * segments, no NUL, no backslash; apf_store_key_valid() checks this and
 * every operation refuses other keys with APF_EINVAL.  It also refuses
 * empty segments ('a//b', 'a/'), control characters, invalid UTF-8, keys
 * over 1024 bytes (S3's limit) and segments starting with ".apflow-tmp-"
 * (the file backend's temp files), so that every valid key means the same
 * object on both backends.
 * Errors name the operation, the bucket or directory, the key and the
 * reason (for S3 the HTTP status and the S3 error code), and never contain
 * credentials.  A missing key is APF_ENOTFOUND; refused credentials are
 * APF_EAUTH; an unreachable or failing store is APF_ESTORE.
 *
 * A store handle may be used by several threads at once.
 */
#ifndef APFLOW_STORE_H
#define APFLOW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/config.h"
#include "apflow/err.h"

struct apf_store;

struct apf_store_stat {
	const char *key;      /* valid during the callback only (list) */
	uint64_t size;
	int64_t mtime;        /* seconds since the epoch, 0 when unknown */
	char etag[80];        /* may be empty */
};

/* Opens the store named by cfg (apf_config_get(cfg, APF_CFG_STORE)). */
int apf_store_open(const struct apf_config *cfg, struct apf_store **out, struct apf_err *err);
/* Opens the store at url with cfg's credentials and settings. */
int apf_store_open_url(const char *url, const struct apf_config *cfg, struct apf_store **out,
		       struct apf_err *err);
void apf_store_free(struct apf_store *st);

/* The root URL, safe to show ("s3://bucket/prefix", "file:///data/lake"). */
const char *apf_store_url(const struct apf_store *st);
/* For file:// the directory whose files the keys are (<root>/<key>), for
 * readers that can read objects in place (DuckDB) instead of copying
 * them; NULL for other stores. */
const char *apf_store_local_root(const struct apf_store *st);

int apf_store_key_valid(const char *key);

int apf_store_put_file(struct apf_store *st, const char *key, const char *path,
		       const char *content_type, struct apf_err *err);
int apf_store_put_buf(struct apf_store *st, const char *key, const void *data, size_t len,
		      const char *content_type, struct apf_err *err);

/*
 * Moving a local file in, for bytes that had to be spooled to disk anyway
 * (an upload), so that they are written once and never copied.
 *
 * apf_store_tmp_dir() names the directory to make such files in: for
 * file:// the store's reserved temp area <root>/.apflow-tmp-spool (made
 * here, mode 0700; no key can name it and listings skip it), on the file
 * system of the keys; *dir is malloc'ed.  Stores without one (s3://) set
 * *dir to NULL: any directory will do.
 *
 * apf_store_put_file_move() then makes the object key from the regular
 * file at path, as apf_store_put_file() would, and removes path.  On
 * file:// with path on the store's file system it fsyncs the file, renames
 * it to the key and fsyncs the key's directory: one write of the bytes,
 * one fsync, no temp copy.  Otherwise (another file system, s3://) it puts
 * a copy and unlinks path once the put succeeded.  Either way the key is
 * absent, the old object or the whole new one at every moment, a crash or
 * kill included, and the call returns only once the object is durable.
 * On failure path is left for the caller to delete (or, if the rename
 * happened and only the directory's fsync failed, is gone).
 */
int apf_store_tmp_dir(struct apf_store *st, char **dir, struct apf_err *err);
int apf_store_put_file_move(struct apf_store *st, const char *key, const char *path,
			    const char *content_type, struct apf_err *err);
/*
 * The same, with flags.  APF_STORE_DEFER_DIR_SYNC leaves out the fsync of
 * the key's directory after a rename on file://: the object is then whole
 * or absent after a crash, but durable only once apf_store_sync_dir() has
 * fsync'ed that directory, which one call does for every key moved into
 * it so far.  A server recording many uploads in one transaction syncs
 * their directory once, before the commit, instead of once per upload.
 * Elsewhere (s3://, a copy) the flag changes nothing: the put is durable
 * when it returns, and apf_store_sync_dir() does nothing.
 */
#define APF_STORE_DEFER_DIR_SYNC 1u
int apf_store_put_file_move_ex(struct apf_store *st, const char *key, const char *path,
			       const char *content_type, unsigned flags, struct apf_err *err);
int apf_store_sync_dir(struct apf_store *st, const char *key, struct apf_err *err);
/*
 * Many objects at once (a dataset export of thousands of small files).
 * APF_STORE_NO_SYNC on apf_store_put_file_move_ex() and
 * apf_store_delete_ex() leaves out every fsync on file:// (of the file,
 * its new directories, the key's directory): the key appears or goes
 * atomically, but its bytes may be missing after a crash until
 * apf_store_sync() has returned, which syncs the store's whole file system
 * once (syncfs).  So it is for keys that nothing points to yet (written,
 * then synced, then named by a manifest written without the flag), and
 * for deleting garbage.  On s3:// the flag changes nothing and
 * apf_store_sync() does nothing.
 */
#define APF_STORE_NO_SYNC 2u
int apf_store_sync(struct apf_store *st, struct apf_err *err);
int apf_store_delete_ex(struct apf_store *st, const char *key, unsigned flags, struct apf_err *err);
/* Writes the object into fd (an empty regular file, the caller's), with no
 * fsync: for temporary local copies. */
int apf_store_get_fd(struct apf_store *st, const char *key, int fd, struct apf_err *err);
/* Writes the object to path atomically (temp + rename). */
int apf_store_get_file(struct apf_store *st, const char *key, const char *path, struct apf_err *err);
/* Reads the object into a malloc'ed buffer (NUL-terminated); more than max bytes is APF_ETOOBIG. */
int apf_store_get_buf(struct apf_store *st, const char *key, size_t max, char **data, size_t *len,
		      struct apf_err *err);
int apf_store_head(struct apf_store *st, const char *key, struct apf_store_stat *out,
		   struct apf_err *err);
/* Calls fn for every key under prefix, in key order; fn returning non-zero stops the listing
 * and that value is returned. */
int apf_store_list(struct apf_store *st, const char *prefix,
		   int (*fn)(const struct apf_store_stat *stat, void *arg), void *arg,
		   struct apf_err *err);
/* Deleting a missing key succeeds. */
int apf_store_delete(struct apf_store *st, const char *key, struct apf_err *err);

#endif
