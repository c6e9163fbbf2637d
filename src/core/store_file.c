/*
 * store_file.c: the file:// backend.  A key is a file under the root
 * directory.  A put writes a hidden temp file in the key's directory,
 * fsyncs it, renames it over the key and fsyncs the directory, so a key is
 * either absent, the old object or the new one, never a part; a crash
 * leaves at most a temp file, which listings skip.  A move (for uploads)
 * renames a file made in the reserved area <root>/.apflow-tmp-spool into
 * place instead of copying it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/store_impl.h"
#include "apflow/atomicfile.h"
#include "apflow/buf.h"
#include "apflow/log.h"
#include "apflow/util.h"

#define COPY_BUF ((size_t)1 << 20)

struct file_store {
	struct apf_store base;
	char *root; /* absolute, no trailing '/' (except "/") */
};

static char *key_path(const struct file_store *fs, const char *key)
{
	return apf_xasprintf("%s%s%s", fs->root, strcmp(fs->root, "/") ? "/" : "", key);
}

static int errno_code(int e)
{
	return e == ENOENT || e == ENOTDIR ? APF_ENOTFOUND : APF_EIO;
}

/* Writes all of p to fd. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies src to dst until EOF; on failure says which side failed. */
static int copy_fd(int src, int dst, int *failed_read)
{
	char *buf = apf_xmalloc(COPY_BUF);
	int rc = 0;

	for (;;) {
		ssize_t n = read(src, buf, COPY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*failed_read = 1;
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		if (write_all(dst, buf, (size_t)n)) {
			*failed_read = 0;
			rc = -1;
			break;
		}
	}
	free(buf);
	return rc;
}

/* mkdir -p; returns 0 or an errno.  A concurrent delete may remove an
 * emptied parent between two mkdir() calls: then it starts over. */
static int mkdir_p(const char *dir)
{
	for (int tries = 0; tries < 10; tries++) {
		char *p = apf_xstrdup(dir);
		int e = 0;

		for (char *s = p + 1;; s++) {
			char c = *s;
			if (c != '/' && c != '\0')
				continue;
			*s = '\0';
			if (mkdir(p, 0777) && errno != EEXIST)
				e = errno;
			*s = c;
			if (e || !c)
				break;
		}
		free(p);
		if (e != ENOENT)
			return e;
	}
	return ENOENT;
}

static const char *put_reason(int e)
{
	return e == ENOTDIR ? "a key above it is an object, not a directory" : strerror(e);
}

/* Makes the directories of path below the root; when it created any, it
 * fsyncs their parents so that the new entries survive a crash too. */
static int make_parent_dirs(const struct file_store *fs, const char *path, const char *url, int sync,
			    struct apf_err *err)
{
	char *dir = apf_xstrdup(path), *d;
	struct stat sb;
	int e;

	d = dirname(dir);
	if (stat(d, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		free(dir);
		return 0;
	}
	e = mkdir_p(d);
	if (e) {
		free(dir);
		return apf_error(err, APF_EIO, "cannot put '%s': %s", url, put_reason(e));
	}
	/* fsync each new directory's parent, up to the root's parent. */
	for (char *p = sync ? apf_xstrdup(d) : NULL; p;) {
		int at_root = strlen(p) <= strlen(fs->root);
		char *up;

		apf_fsync_dir_of(p);
		if (at_root || !strcmp(p, "/")) {
			free(p);
			break;
		}
		up = apf_xstrdup(dirname(p));
		free(p);
		p = up;
	}
	free(dir);
	return 0;
}

static int file_put(struct apf_store *st, const char *key, const struct apf_store_body *body,
		    const char *content_type, struct apf_err *err)
{
	struct file_store *fs = (struct file_store *)st;
	char *path = key_path(fs, key), *url = apf_xasprintf("%s/%s", st->url, key);
	struct apf_atomicfile af = { NULL, NULL, -1 };
	int src = -1, rc = 0, failed_read = 0, e;

	(void)content_type; /* files have no content type */
	if (body->path) {
		src = open(body->path, O_RDONLY | O_CLOEXEC);
		if (src < 0) {
			rc = apf_error(err, errno_code(errno), "cannot open '%s': %s", body->path, strerror(errno));
			goto out;
		}
	}
	/* A concurrent delete may remove an emptied directory between mkdir
	 * and open: make it again a few times. */
	for (int tries = 0; af.fd < 0; tries++) {
		rc = make_parent_dirs(fs, path, url, 1, err);
		if (rc)
			goto out;
		rc = apf_atomicfile_open(&af, path, NULL);
		e = errno;
		if (rc && (e != ENOENT || tries == 10)) {
			rc = apf_error(err, APF_EIO, "cannot put '%s': %s", url, put_reason(e));
			goto out;
		}
	}
	if (src >= 0 ? copy_fd(src, af.fd, &failed_read) : write_all(af.fd, body->data, body->len)) {
		if (failed_read)
			rc = apf_error(err, APF_EIO, "cannot read '%s': %s", body->path, strerror(errno));
		else
			rc = apf_error(err, APF_EIO, "cannot put '%s': %s", url, strerror(errno));
		apf_atomicfile_rollback(&af);
		goto out;
	}
	if (apf_atomicfile_commit(&af, NULL)) {
		e = errno;
		rc = apf_error(err, APF_EIO, "cannot put '%s': %s", url,
			       e == EISDIR || e == ENOTEMPTY ? "a directory of other keys has that name" : strerror(e));
		goto out;
	}
out:
	if (src >= 0)
		close(src);
	free(path);
	free(url);
	return rc;
}

/* A move that cannot be a rename: a put of a copy, then the source goes. */
static int put_copy_unlink(struct apf_store *st, const char *key, const char *path,
			   const char *content_type, struct apf_err *err)
{
	struct apf_store_body body = { NULL, 0, path };
	int rc = file_put(st, key, &body, content_type, err);

	/* The object is durable: a source that will not go away is litter,
	 * not a failed put. */
	if (!rc && unlink(path) && errno != ENOENT)
		apf_log_warn("cannot remove '%s' after storing it: %s", path, strerror(errno));
	return rc;
}

/*
 * A move: the source is fsync'ed where it lies and renamed to the key, so
 * its bytes are written once.  A rename is atomic, so the key is never
 * partly there; the fsync before it makes sure the name never outlives a
 * crash with data missing, the one after it (of the key's directory) that
 * the name survives.  Only a regular file on the store's file system can
 * be renamed in; anything else is copied (put_copy_unlink()).
 */
static int file_put_move(struct apf_store *st, const char *key, const char *path,
			 const char *content_type, unsigned flags, struct apf_err *err)
{
	struct file_store *fs = (struct file_store *)st;
	struct stat sb, root;
	char *dst = NULL, *url = NULL;
	int fd, e, rc = 0, copy = 0;

	/* stat() first: opening a FIFO, even without blocking, would count
	 * as a reader for its writer. */
	if (stat(path, &sb))
		return apf_error(err, errno_code(errno), "cannot open '%s': %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode) || stat(fs->root, &root) || sb.st_dev != root.st_dev)
		return put_copy_unlink(st, key, path, content_type, err);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return apf_error(err, errno_code(errno), "cannot open '%s': %s", path, strerror(errno));
	url = apf_xasprintf("%s/%s", st->url, key);
	e = !(flags & APF_STORE_NO_SYNC) && fsync(fd) ? errno : 0;
	close(fd);
	if (e) {
		rc = apf_error(err, APF_EIO, "cannot put '%s': fsync of '%s': %s", url, path, strerror(e));
		goto out;
	}
	dst = key_path(fs, key);
	/* A concurrent delete may remove an emptied directory between mkdir
	 * and rename: make it again a few times. */
	for (int tries = 0;; tries++) {
		rc = make_parent_dirs(fs, dst, url, !(flags & APF_STORE_NO_SYNC), err);
		if (rc)
			goto out;
		if (!rename(path, dst))
			break;
		e = errno;
		if (e == ENOENT && tries < 10 && access(path, F_OK) == 0)
			continue;
		if (e == EXDEV) {
			copy = 1; /* another file system after all (a bind mount) */
			goto out;
		}
		rc = apf_error(err, e == ENOENT ? APF_ENOTFOUND : APF_EIO, "cannot put '%s': %s", url,
			       e == EISDIR || e == ENOTEMPTY ? "a directory of other keys has that name"
			       : e == ENOENT ? "the file to move is gone" : put_reason(e));
		goto out;
	}
	if (!(flags & (APF_STORE_DEFER_DIR_SYNC | APF_STORE_NO_SYNC)) && apf_fsync_dir_of(dst))
		rc = apf_error(err, APF_EIO, "cannot put '%s': fsync of the directory: %s", url, strerror(errno));
out:
	free(dst);
	free(url);
	return copy ? put_copy_unlink(st, key, path, content_type, err) : rc;
}

/* Makes the renames into key's directory durable (APF_STORE_DEFER_DIR_SYNC). */
static int file_sync_dir(struct apf_store *st, const char *key, struct apf_err *err)
{
	char *path = key_path((struct file_store *)st, key);
	int rc = 0;

	if (apf_fsync_dir_of(path))
		rc = apf_error(err, APF_EIO, "cannot sync '%s/%s': fsync of the directory: %s", st->url, key,
			       strerror(errno));
	free(path);
	return rc;
}

/* The reserved temp area, <root>/.apflow-tmp-spool: a segment no key may
 * have, and one that listings skip. */
static int file_tmp_dir(struct apf_store *st, char **dir, struct apf_err *err)
{
	struct file_store *fs = (struct file_store *)st;
	char *path = key_path(fs, APF_STORE_SPOOL_DIR);
	int e = mkdir_p(fs->root);

	if (!e && mkdir(path, 0700) && errno != EEXIST)
		e = errno;
	if (e) {
		int rc = apf_error(err, APF_EIO, "cannot make the temp area '%s': %s", path, strerror(e));
		free(path);
		return rc;
	}
	*dir = path;
	return 0;
}

/* Opens the object for reading; a directory or a missing file is APF_ENOTFOUND. */
static int open_object(struct file_store *fs, const char *op, const char *key, struct stat *sb,
		       struct apf_err *err)
{
	char *path = key_path(fs, key);
	/* O_NONBLOCK: a FIFO someone left in the store must not hang a get. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int e = errno;

	free(path);
	if (fd >= 0) {
		if (fstat(fd, sb))
			e = errno;
		else if (S_ISREG(sb->st_mode))
			return fd;
		else
			e = ENOENT; /* a directory of other keys, or a special file: no object */
		close(fd);
	}
	apf_error(err, errno_code(e), "cannot %s '%s/%s': %s", op, fs->base.url, key,
		  errno_code(e) == APF_ENOTFOUND ? "no such object" : strerror(e));
	return -1;
}

static int file_get_fd(struct apf_store *st, const char *key, int fd, struct apf_err *err)
{
	struct file_store *fs = (struct file_store *)st;
	struct stat sb;
	int src = open_object(fs, "get", key, &sb, err), failed_read = 0, rc = 0;

	if (src < 0)
		return err ? err->code : APF_EIO;
	if (copy_fd(src, fd, &failed_read))
		rc = apf_error(err, APF_EIO, "cannot get '%s/%s': %s", st->url, key, strerror(errno));
	close(src);
	return rc;
}

static int file_get_buf(struct apf_store *st, const char *key, size_t max, char **data, size_t *len,
			struct apf_err *err)
{
	struct file_store *fs = (struct file_store *)st;
	struct apf_buf b;
	struct stat sb;
	char chunk[65536];
	int fd = open_object(fs, "get", key, &sb, err), rc = 0;

	if (fd < 0)
		return err ? err->code : APF_EIO;
	apf_buf_init(&b, max ? max : 1);
	if ((uint64_t)sb.st_size > max) {
		rc = apf_error(err, APF_ETOOBIG, "cannot get '%s/%s': larger than %zu bytes", st->url, key, max);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = apf_error(err, APF_EIO, "cannot get '%s/%s': %s", st->url, key, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (apf_buf_add(&b, chunk, (size_t)n)) {
			rc = apf_error(err, APF_ETOOBIG, "cannot get '%s/%s': larger than %zu bytes", st->url, key, max);
			goto out;
		}
	}
	*data = apf_buf_detach(&b, len);
out:
	apf_buf_release(&b);
	close(fd);
	return rc;
}

static int file_head(struct apf_store *st, const char *key, struct apf_store_stat *out, struct apf_err *err)
{
	struct file_store *fs = (struct file_store *)st;
	struct stat sb;
	int fd = open_object(fs, "head", key, &sb, err);

	if (fd < 0)
		return err ? err->code : APF_EIO;
	close(fd);
	memset(out, 0, sizeof(*out));
	out->key = NULL;
	out->size = (uint64_t)sb.st_size;
	out->mtime = (int64_t)sb.st_mtime;
	return 0;
}

struct entry {
	char *sortname; /* the name, with '/' appended for a directory */
	int is_dir;
};

static int cmp_entry(const void *a, const void *b)
{
	/* Byte order of "name/" for directories gives the keys below a
	 * directory their place among its files, as S3 orders keys. */
	return strcmp(((const struct entry *)a)->sortname, ((const struct entry *)b)->sortname);
}

struct walk {
	struct file_store *fs;
	const char *prefix;
	size_t plen;
	int (*fn)(const struct apf_store_stat *stat, void *arg);
	void *arg;
	struct apf_err *err;
};

/* Lists the directory for key prefix rel ("" or "a/b/"), recursively. */
static int walk_dir(struct walk *w, struct apf_buf *rel)
{
	char *dirpath = key_path(w->fs, rel->len ? rel->data : "");
	struct entry *ents = NULL;
	size_t n = 0, alloc = 0, base = rel->len;
	struct dirent *de;
	DIR *d = opendir(dirpath);
	int rc = 0;

	if (!d) {
		int e = errno;
		free(dirpath);
		if (e == ENOENT || e == ENOTDIR)
			return 0; /* nothing under this prefix */
		return apf_error(w->err, APF_EIO, "cannot list '%s/%s': %s", w->fs->base.url, w->prefix, strerror(e));
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct stat sb;
		int is_dir;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    apf_starts_with(de->d_name, APF_STORE_TMP_PREFIX))
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_REG) {
			is_dir = de->d_type == DT_DIR;
		} else {
			if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW))
				continue;
			if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
				continue;
			is_dir = S_ISDIR(sb.st_mode);
		}
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 32;
			ents = apf_xrealloc(ents, alloc * sizeof(*ents));
		}
		ents[n].sortname = apf_xasprintf("%s%s", de->d_name, is_dir ? "/" : "");
		ents[n].is_dir = is_dir;
		n++;
	}
	if (errno)
		rc = apf_error(w->err, APF_EIO, "cannot list '%s/%s': %s", w->fs->base.url, w->prefix, strerror(errno));
	if (n)
		qsort(ents, n, sizeof(*ents), cmp_entry);
	for (size_t i = 0; !rc && i < n; i++) {
		const char *name = ents[i].sortname;
		size_t klen;

		rel->len = base;
		if (apf_buf_adds(rel, name)) {
			rc = apf_error(w->err, APF_ETOOBIG, "cannot list '%s/%s': key too long", w->fs->base.url, w->prefix);
			break;
		}
		klen = rel->len;
		if (ents[i].is_dir) {
			/* Descend only where keys can still match the prefix. */
			size_t m = klen < w->plen ? klen : w->plen;
			if (!memcmp(rel->data, w->prefix, m))
				rc = walk_dir(w, rel);
		} else if (klen >= w->plen && !memcmp(rel->data, w->prefix, w->plen)) {
			struct apf_store_stat stat;
			struct stat sb;

			if (fstatat(dirfd(d), name, &sb, 0))
				continue; /* deleted meanwhile */
			memset(&stat, 0, sizeof(stat));
			stat.key = rel->data;
			stat.size = (uint64_t)sb.st_size;
			stat.mtime = (int64_t)sb.st_mtime;
			rc = w->fn(&stat, w->arg);
		}
	}
	rel->len = base;
	if (rel->data)
		rel->data[base] = '\0';
	for (size_t i = 0; i < n; i++)
		free(ents[i].sortname);
	free(ents);
	closedir(d);
	free(dirpath);
	return rc;
}

static int file_list(struct apf_store *st, const char *prefix,
		     int (*fn)(const struct apf_store_stat *stat, void *arg), void *arg, struct apf_err *err)
{
	struct walk w = { (struct file_store *)st, prefix, strlen(prefix), fn, arg, err };
	struct apf_buf rel;
	int rc;

	apf_buf_init(&rel, 4096);
	rc = walk_dir(&w, &rel);
	apf_buf_release(&rel);
	return rc;
}

static int file_del_ex(struct apf_store *st, const char *key, unsigned flags, struct apf_err *err)
{
	struct file_store *fs = (struct file_store *)st;
	char *path = key_path(fs, key);
	int rc = 0;

	if (unlink(path)) {
		/* A missing key, or a name that is only a directory of other keys, has no object to delete. */
		if (errno != ENOENT && errno != ENOTDIR && errno != EISDIR)
			rc = apf_error(err, APF_EIO, "cannot delete '%s/%s': %s", st->url, key, strerror(errno));
		free(path);
		return rc;
	}
	if (!(flags & APF_STORE_NO_SYNC))
		apf_fsync_dir_of(path);
	/* Remove directories the delete left empty, so that the tree mirrors
	 * the keys; a directory that is not empty stops the climb. */
	for (char *p = path;;) {
		char *up = apf_xstrdup(dirname(p));
		free(p);
		p = up;
		if (strlen(p) <= strlen(fs->root) || rmdir(p)) {
			free(p);
			break;
		}
	}
	return 0;
}

static int file_del(struct apf_store *st, const char *key, struct apf_err *err)
{
	return file_del_ex(st, key, 0, err);
}

/* One syncfs() of the store's file system makes every earlier
 * APF_STORE_NO_SYNC put durable (see store.h). */
static int file_sync(struct apf_store *st, struct apf_err *err)
{
	struct file_store *fs = (struct file_store *)st;
	int fd = open(fs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return apf_error(err, APF_EIO, "cannot sync '%s': %s", st->url, strerror(errno));
	if (syncfs(fd))
		rc = apf_error(err, APF_EIO, "cannot sync '%s': %s", st->url, strerror(errno));
	close(fd);
	return rc;
}

static void file_free(struct apf_store *st)
{
	struct file_store *fs = (struct file_store *)st;

	free(fs->root);
	free(st->url);
	free(fs);
}

static const struct apf_store_ops file_ops = {
	file_put, file_get_fd, file_get_buf, file_head, file_list, file_del, file_free,
	file_put_move, file_sync_dir, file_tmp_dir, file_sync, file_del_ex,
};

int apf_store_file_open(const char *url, const char *dir, struct apf_store **out, struct apf_err *err)
{
	struct file_store *fs;
	char *root;
	size_t n;

	(void)url;
	if (apf_starts_with(dir, "localhost/"))
		dir += strlen("localhost");
	if (!*dir)
		return apf_error(err, APF_ECONFIG, "cannot open store 'file://': no directory given");
	if (dir[0] == '/') {
		root = apf_xstrdup(dir);
	} else {
		/* Relative to the working directory at open, so a later chdir
		 * does not move the store. */
		char cwd[4096];
		if (!getcwd(cwd, sizeof(cwd)))
			return apf_error(err, APF_EIO, "cannot open store 'file://%s': %s", dir, strerror(errno));
		if (!strcmp(dir, ".") || !strcmp(dir, "./"))
			root = apf_xstrdup(cwd);
		else
			root = apf_xasprintf("%s/%s", strcmp(cwd, "/") ? cwd : "",
					     apf_starts_with(dir, "./") ? dir + 2 : dir);
	}
	n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		root[--n] = '\0';
	fs = apf_xcalloc(1, sizeof(*fs));
	fs->base.ops = &file_ops;
	fs->root = root;
	fs->base.url = apf_xasprintf("file://%s", root);
	*out = &fs->base;
	return 0;
}
