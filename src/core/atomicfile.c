/* atomicfile.c: temp file beside the target, fsync, rename (apflow/atomicfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apflow/atomicfile.h"
#include "apflow/util.h"

int apf_atomicfile_open(struct apf_atomicfile *af, const char *path, struct apf_err *err)
{
	char *copy = apf_xstrdup(path);
	const char *dir = dirname(copy);
	int e = 0;

	af->path = apf_xstrdup(path);
	af->tmp = NULL;
	af->fd = -1;
	for (int tries = 0; tries < 10; tries++) {
		free(af->tmp);
		af->tmp = apf_xasprintf("%s/%s%d-%016" PRIx64, dir, APF_TMP_PREFIX, (int)getpid(), apf_rand64());
		af->fd = open(af->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (af->fd >= 0 || (e = errno) != EEXIST)
			break;
	}
	free(copy);
	if (af->fd < 0) {
		apf_error(err, APF_EIO, "cannot create a temporary file beside '%s': %s", path, strerror(e));
		free(af->tmp);
		af->tmp = NULL;
		apf_atomicfile_rollback(af);
		errno = e;
		return APF_EIO;
	}
	return 0;
}

int apf_atomicfile_write(struct apf_atomicfile *af, const void *data, size_t len, struct apf_err *err)
{
	const char *p = data;

	while (len) {
		ssize_t w = write(af->fd, p, len);
		if (w < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			apf_error(err, APF_EIO, "cannot write '%s': %s", af->tmp, strerror(e));
			apf_atomicfile_rollback(af);
			errno = e;
			return APF_EIO;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int apf_atomicfile_commit(struct apf_atomicfile *af, struct apf_err *err)
{
	int e, rc = 0, fd = af->fd;

	af->fd = -1;
	if (fsync(fd)) {
		e = errno;
		close(fd);
		rc = apf_error(err, APF_EIO, "cannot sync '%s': %s", af->tmp, strerror(e));
		goto fail;
	}
	if (close(fd)) {
		e = errno;
		rc = apf_error(err, APF_EIO, "cannot write '%s': %s", af->tmp, strerror(e));
		goto fail;
	}
	if (rename(af->tmp, af->path)) {
		e = errno;
		rc = apf_error(err, APF_EIO, "cannot rename '%s' to '%s': %s", af->tmp, af->path, strerror(e));
		goto fail;
	}
	free(af->tmp);
	af->tmp = NULL; /* it is the target now */
	if (apf_fsync_dir_of(af->path)) {
		e = errno;
		rc = apf_error(err, APF_EIO, "cannot sync the directory of '%s': %s", af->path, strerror(e));
		apf_atomicfile_rollback(af);
		errno = e;
		return rc;
	}
	apf_atomicfile_rollback(af);
	return 0;
fail:
	apf_atomicfile_rollback(af);
	errno = e;
	return rc;
}

void apf_atomicfile_rollback(struct apf_atomicfile *af)
{
	if (af->fd >= 0)
		close(af->fd);
	af->fd = -1;
	if (af->tmp)
		unlink(af->tmp);
	free(af->tmp);
	af->tmp = NULL;
	free(af->path);
	af->path = NULL;
}
