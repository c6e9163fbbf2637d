/*
 * atomicfile.h: the one way apflow replaces a file, as git's lockfile.c:
 * write a temp file beside the target, fsync it, rename it over the
 * target, fsync the directory.  A reader sees the old file or the new
 * one, never a part; a crash leaves at most a temp file.
 *
 * Temp files are <dir>/.apflow-tmp-<pid>-<16 hex digits>: hidden, skipped
 * by store listings (no key may have a segment starting with the prefix),
 * and swept by apf_remove_stale_temps(dir, APF_TMP_PREFIX) once their
 * process is gone.
 *
 *   struct apf_atomicfile af;
 *   if (apf_atomicfile_open(&af, path, err)) return err->code;
 *   ... write to af.fd, or apf_atomicfile_write(&af, data, len, err) ...
 *   return apf_atomicfile_commit(&af, err);   (or apf_atomicfile_rollback(&af))
 *
 * On any failure the temp file is gone, errno says why and the target is
 * untouched.
 */
#ifndef APFLOW_ATOMICFILE_H
#define APFLOW_ATOMICFILE_H

#include <stddef.h>

#include "apflow/err.h"

#define APF_TMP_PREFIX ".apflow-tmp-"

struct apf_atomicfile {
	char *path; /* the target */
	char *tmp;  /* the temp file beside it */
	int fd;     /* open on tmp for reading and writing; -1 when closed */
};

/* Creates the temp file beside path (mode 0666 less the umask); errors
 * APF_EIO ("cannot create a temporary file beside 'path': reason"). */
int apf_atomicfile_open(struct apf_atomicfile *af, const char *path, struct apf_err *err);
/* Writes all of data (retrying short writes); on failure rolls back. */
int apf_atomicfile_write(struct apf_atomicfile *af, const void *data, size_t len, struct apf_err *err);
/* fsync, close, rename over the target, fsync its directory; releases af
 * whatever happens (on failure the temp file is removed). */
int apf_atomicfile_commit(struct apf_atomicfile *af, struct apf_err *err);
/* Closes and removes the temp file and releases af.  Safe after commit. */
void apf_atomicfile_rollback(struct apf_atomicfile *af);

#endif
