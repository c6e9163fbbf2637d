/* store.c: the object store's front: URL dispatch, key checks, atomic get (see store.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/store_impl.h"
#include "apflow/atomicfile.h"
#include "apflow/log.h"
#include "apflow/utf8.h"
#include "apflow/util.h"

#define KEY_MAX 1024

int apf_store_open(const struct apf_config *cfg, struct apf_store **out, struct apf_err *err)
{
	return apf_store_open_url(apf_config_get(cfg, APF_CFG_STORE), cfg, out, err);
}

int apf_store_open_url(const char *url, const struct apf_config *cfg, struct apf_store **out,
		       struct apf_err *err)
{
	const char *colon;

	if (!url || !*url)
		return apf_error(err, APF_ECONFIG, "no object store configured (set 'store' to file://DIR or s3://BUCKET)");
	if (apf_starts_with(url, "file://"))
		return apf_store_file_open(url, url + 7, out, err);
	if (apf_starts_with(url, "s3://")) {
		if (!cfg)
			return apf_error(err, APF_ECONFIG, "cannot open store '%s': no configuration for S3", url);
		return apf_store_s3_open(url, url + 5, cfg, out, err);
	}
	/* Show the scheme only: the rest of an unknown URL may hold a password. */
	colon = strstr(url, "://");
	return apf_error(err, APF_ECONFIG, "unsupported object store '%.*s://': use file://DIR or s3://BUCKET[/PREFIX]",
			 colon && colon - url < 16 ? (int)(colon - url) : 0, url);
}

void apf_store_free(struct apf_store *st)
{
	if (st)
		st->ops->free(st);
}

const char *apf_store_url(const struct apf_store *st)
{
	return st->url;
}

/* Why key is not valid, or NULL when it is. */
static const char *key_problem(const char *key)
{
	size_t len;
	const char *seg;

	if (!key || !*key)
		return "empty key";
	len = strlen(key);
	if (len > KEY_MAX)
		return "longer than 1024 bytes";
	if (key[0] == '/')
		return "absolute key (keys are relative, e.g. 'raw/ab12.pdf')";
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if (*p == '\\')
			return "backslash in key";
		if (*p < 0x20 || *p == 0x7f)
			return "control character in key";
	}
	if (apf_utf8_validate(key, len, NULL))
		return "key is not valid UTF-8";
	for (seg = key;;) {
		const char *slash = strchr(seg, '/');
		size_t n = slash ? (size_t)(slash - seg) : strlen(seg);

		if (n == 0)
			return "empty path segment in key";
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return "'.' or '..' segment in key";
		if (n >= strlen(APF_STORE_TMP_PREFIX) && !memcmp(seg, APF_STORE_TMP_PREFIX, strlen(APF_STORE_TMP_PREFIX)))
			return "segment reserved for temporary files";
		if (!slash)
			break;
		seg = slash + 1;
	}
	return NULL;
}

int apf_store_key_valid(const char *key)
{
	return key_problem(key) == NULL;
}

/* Copies s for a message, with anything unprintable as '?'. */
static void printable(char *out, size_t n, const char *s)
{
	size_t j = 0;

	for (; s && *s && j + 1 < n; s++)
		out[j++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	if (n)
		out[j] = '\0';
}

static int check_key(const char *op, const char *key, struct apf_err *err)
{
	const char *why = key_problem(key);
	char shown[256];

	if (!why)
		return 0;
	printable(shown, sizeof(shown), key ? key : "");
	return apf_error(err, APF_EINVAL, "cannot %s '%s': invalid key: %s", op, shown, why);
}

int apf_store_put_file(struct apf_store *st, const char *key, const char *path,
		       const char *content_type, struct apf_err *err)
{
	struct apf_store_body body = { NULL, 0, path };
	int rc = check_key("put", key, err);

	return rc ? rc : st->ops->put(st, key, &body, content_type, err);
}

int apf_store_put_buf(struct apf_store *st, const char *key, const void *data, size_t len,
		      const char *content_type, struct apf_err *err)
{
	struct apf_store_body body = { data ? data : "", len, NULL };
	int rc = check_key("put", key, err);

	return rc ? rc : st->ops->put(st, key, &body, content_type, err);
}

int apf_store_tmp_dir(struct apf_store *st, char **dir, struct apf_err *err)
{
	if (!st->ops->tmp_dir) {
		*dir = NULL;
		return 0;
	}
	return st->ops->tmp_dir(st, dir, err);
}

int apf_store_put_file_move(struct apf_store *st, const char *key, const char *path,
			    const char *content_type, struct apf_err *err)
{
	return apf_store_put_file_move_ex(st, key, path, content_type, 0, err);
}

const char *apf_store_local_root(const struct apf_store *st)
{
	return apf_starts_with(st->url, "file://") ? st->url + strlen("file://") : NULL;
}

int apf_store_sync(struct apf_store *st, struct apf_err *err)
{
	return st->ops->sync ? st->ops->sync(st, err) : 0;
}

int apf_store_delete_ex(struct apf_store *st, const char *key, unsigned flags, struct apf_err *err)
{
	int rc = check_key("delete", key, err);

	if (rc)
		return rc;
	return st->ops->del_ex ? st->ops->del_ex(st, key, flags, err) : st->ops->del(st, key, err);
}

int apf_store_get_fd(struct apf_store *st, const char *key, int fd, struct apf_err *err)
{
	int rc = check_key("get", key, err);

	return rc ? rc : st->ops->get_fd(st, key, fd, err);
}

int apf_store_sync_dir(struct apf_store *st, const char *key, struct apf_err *err)
{
	int rc = check_key("sync", key, err);

	if (rc || !st->ops->sync_dir)
		return rc;
	return st->ops->sync_dir(st, key, err);
}

int apf_store_put_file_move_ex(struct apf_store *st, const char *key, const char *path,
			       const char *content_type, unsigned flags, struct apf_err *err)
{
	int rc = check_key("put", key, err);

	if (rc)
		return rc;
	if (st->ops->put_move)
		return st->ops->put_move(st, key, path, content_type, flags, err);
	rc = apf_store_put_file(st, key, path, content_type, err);
	/* The object is durable: a source that will not go away is litter,
	 * not a failed put. */
	if (!rc && unlink(path) && errno != ENOENT)
		apf_log_warn("cannot remove '%s' after storing it: %s", path, strerror(errno));
	return rc;
}

int apf_store_get_file(struct apf_store *st, const char *key, const char *path, struct apf_err *err)
{
	struct apf_atomicfile af;
	int rc = check_key("get", key, err);

	if (rc)
		return rc;
	rc = apf_atomicfile_open(&af, path, err);
	if (rc)
		return rc;
	rc = st->ops->get_fd(st, key, af.fd, err);
	if (rc) {
		apf_atomicfile_rollback(&af);
		return rc;
	}
	return apf_atomicfile_commit(&af, err);
}

int apf_store_get_buf(struct apf_store *st, const char *key, size_t max, char **data, size_t *len,
		      struct apf_err *err)
{
	int rc = check_key("get", key, err);

	return rc ? rc : st->ops->get_buf(st, key, max, data, len, err);
}

int apf_store_head(struct apf_store *st, const char *key, struct apf_store_stat *out, struct apf_err *err)
{
	int rc = check_key("head", key, err);

	return rc ? rc : st->ops->head(st, key, out, err);
}

int apf_store_list(struct apf_store *st, const char *prefix,
		   int (*fn)(const struct apf_store_stat *stat, void *arg), void *arg, struct apf_err *err)
{
	if (!prefix)
		prefix = "";
	if (*prefix) {
		/* A prefix is valid when some key could start with it. */
		char *probe = apf_xasprintf("%sx", prefix);
		const char *why = key_problem(probe);
		char shown[256];

		free(probe);
		if (why) {
			printable(shown, sizeof(shown), prefix);
			return apf_error(err, APF_EINVAL, "cannot list '%s': invalid prefix: %s", shown, why);
		}
	}
	return st->ops->list(st, prefix, fn, arg, err);
}

int apf_store_delete(struct apf_store *st, const char *key, struct apf_err *err)
{
	int rc = check_key("delete", key, err);

	return rc ? rc : st->ops->del(st, key, err);
}

const char *apf_store_guess_type(const char *key)
{
	static const struct {
		const char *ext;
		const char *type;
	} types[] = {
		{ ".pdf", "application/pdf" },
		{ ".parquet", "application/vnd.apache.parquet" },
		{ ".json", "application/json" },
		{ ".jsonl", "application/x-ndjson" },
		{ ".csv", "text/csv" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".md", "text/markdown; charset=utf-8" },
		{ ".html", "text/html; charset=utf-8" },
		{ ".png", "image/png" },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (apf_ends_with(key, types[i].ext))
			return types[i].type;
	return NULL;
}
