/*
 * store_impl.h: what store.c shares with its backends (internal to the core).
 *
 * store.c checks keys and prefixes once, then calls the backend through
 * struct apf_store_ops; a backend embeds struct apf_store as its first
 * member.  Backends see only valid keys.
 */
#ifndef APFLOW_STORE_IMPL_H
#define APFLOW_STORE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/atomicfile.h"
#include "apflow/config.h"
#include "apflow/err.h"
#include "apflow/store.h"

/* What a put writes: len bytes at data, or the file at path. */
struct apf_store_body {
	const void *data;
	size_t len;
	const char *path;
};

struct apf_store_ops {
	int (*put)(struct apf_store *st, const char *key, const struct apf_store_body *body,
		   const char *content_type, struct apf_err *err);
	/* Writes the object to fd (an empty regular file); the caller renames. */
	int (*get_fd)(struct apf_store *st, const char *key, int fd, struct apf_err *err);
	int (*get_buf)(struct apf_store *st, const char *key, size_t max, char **data, size_t *len,
		       struct apf_err *err);
	int (*head)(struct apf_store *st, const char *key, struct apf_store_stat *out, struct apf_err *err);
	int (*list)(struct apf_store *st, const char *prefix,
		    int (*fn)(const struct apf_store_stat *stat, void *arg), void *arg, struct apf_err *err);
	int (*del)(struct apf_store *st, const char *key, struct apf_err *err);
	void (*free)(struct apf_store *st);
	/* Optional (NULL: a put, then unlink(path)): see apf_store_put_file_move(). */
	int (*put_move)(struct apf_store *st, const char *key, const char *path,
			const char *content_type, unsigned flags, struct apf_err *err);
	/* Optional (NULL: nothing to do): see apf_store_sync_dir(). */
	int (*sync_dir)(struct apf_store *st, const char *key, struct apf_err *err);
	/* Optional (NULL: none): see apf_store_tmp_dir(). */
	int (*tmp_dir)(struct apf_store *st, char **dir, struct apf_err *err);
	/* Optional (NULL: nothing to do): see apf_store_sync(). */
	int (*sync)(struct apf_store *st, struct apf_err *err);
	/* Optional (NULL: del): a delete with APF_STORE_NO_SYNC. */
	int (*del_ex)(struct apf_store *st, const char *key, unsigned flags, struct apf_err *err);
};

struct apf_store {
	const struct apf_store_ops *ops;
	char *url; /* display form, no credentials */
};

/* The prefix of temporary files (atomicfile.h); keys may not have a
 * segment starting with it. */
#define APF_STORE_TMP_PREFIX APF_TMP_PREFIX
/* The file backend's temp area for files that will be moved in (apf_store_tmp_dir()). */
#define APF_STORE_SPOOL_DIR APF_STORE_TMP_PREFIX "spool"

int apf_store_file_open(const char *url, const char *dir, struct apf_store **out, struct apf_err *err);
int apf_store_s3_open(const char *url, const char *rest, const struct apf_config *cfg,
		      struct apf_store **out, struct apf_err *err);

/* A content type from the key's extension, or NULL. */
const char *apf_store_guess_type(const char *key);

#endif
