/* cmd_ingest.c: apflow ingest FILE.pdf... | DIR, the upload path from the command line. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apflow/dbwriter.h"
#include "apflow/ingest.h"
#include "apflow/jsonw.h"
#include "apflow/pdf.h"
#include "apflow/progress.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

const char cmd_ingest_usage[] =
	"usage: apflow ingest [--json] FILE.pdf... | DIR...\n"
	"\n"
	"Ingests PDFs exactly as POST /upload does: checks that each is a PDF\n"
	"MuPDF can open, stores it at raw/<doc_id>.pdf (doc_id = the first 20 hex\n"
	"digits of its SHA-256) and records it in md_raw_ocr (documents, uploads).\n"
	"A DIR stands for the files in it whose names end in .pdf (not recursive).\n"
	"Known bytes are reported as duplicates; the upload event is still recorded.\n"
	"\n"
	"  --json    one JSON object per file on stdout: {doc_id, filename, pages,\n"
	"            bytes, sha256, duplicate, uploaded_at, upload_id} or\n"
	"            {filename, error, code, status}; the summary goes to stderr\n"
	"\n"
	"Ends with the line 'N ingested, N duplicates, N failed'.  Exits 1 when a\n"
	"file failed, after naming it and the reason on stderr.\n";

struct list {
	char **v;
	size_t n;
};

static void list_add(struct list *l, char *s)
{
	l->v = apf_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_dir(struct list *l, const char *dir, struct apf_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t first = l->n;

	if (!d)
		return apf_error(err, APF_EIO, "cannot read directory '%s': %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.' || n < 4 || strcasecmp(e->d_name + n - 4, ".pdf"))
			continue;
		char *path = apf_xasprintf("%s/%s", dir, e->d_name);
		struct stat sb;
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			list_add(l, path);
		else
			free(path);
	}
	closedir(d);
	qsort(l->v + first, l->n - first, sizeof(*l->v), cmp_str);
	return 0;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
	signal(sig, SIG_DFL); /* a second one stops at once */
}

/* read() that goes on after a signal unless it was SIGINT or SIGTERM. */
static ssize_t read_some(int fd, char *buf, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, buf, n);
		if (r >= 0 || errno != EINTR || interrupted)
			return r;
	}
}

/*
 * Copies path into a spool (hashing it), so the bytes checked, hashed and
 * stored are one snapshot even if the file changes meanwhile.  Before a
 * byte is spooled the file must start as a PDF does and, when its size is
 * known, fit max_upload_mb; the copy stops at that size whatever the file
 * says (a pipe, /dev/zero) and at SIGINT or SIGTERM.
 */
static int spool_file(struct apf_ingest *ing, const char *path, uint64_t max, struct apf_ingest_spool *sp,
		      struct apf_err *err)
{
	char buf[1 << 16];
	size_t have = 0;
	ssize_t n;
	struct stat sb;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return apf_error(err, errno == ENOENT ? APF_ENOTFOUND : APF_EIO, "cannot open '%s': %s", path,
				 strerror(errno));
	if (!fstat(fd, &sb) && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > max) {
		close(fd);
		return apf_error(err, APF_ETOOBIG, "file of %" PRIu64 " bytes is larger than max_upload_mb (%" PRIu64
				 " MiB)", (uint64_t)sb.st_size, max >> 20);
	}
	/* The head first: a file that is no PDF is refused unread. */
	while (have < APF_PDF_HEAD && (n = read_some(fd, buf + have, APF_PDF_HEAD - have)) > 0)
		have += (size_t)n;
	rc = interrupted ? apf_error(err, APF_EIO, "interrupted")
	     : n < 0	 ? apf_error(err, APF_EIO, "cannot read '%s': %s", path, strerror(errno))
			 : apf_pdf_check_head(buf, have, err);
	if (!rc)
		rc = apf_ingest_spool_open(ing, max, sp, err);
	if (!rc)
		rc = apf_ingest_spool_write(sp, buf, have, err);
	while (!rc && (n = read_some(fd, buf, sizeof(buf))) != 0) {
		if (interrupted) {
			rc = apf_error(err, APF_EIO, "interrupted");
			break;
		}
		if (n < 0) {
			rc = apf_error(err, APF_EIO, "cannot read '%s': %s", path, strerror(errno));
			break;
		}
		rc = apf_ingest_spool_write(sp, buf, (size_t)n, err);
		if (rc == APF_ETOOBIG)
			apf_error(err, APF_ETOOBIG, "larger than max_upload_mb (%" PRIu64 " MiB)", max >> 20);
	}
	close(fd);
	if (!rc)
		rc = apf_ingest_spool_finish(sp, err);
	return rc;
}

int cmd_ingest(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct apf_ingest *ing = NULL;
	struct list files = { NULL, 0 };
	struct apf_err err;
	size_t added = 0, dups = 0, failed = 0;
	int json = 0, c, rc = 0;
	struct apf_progress *bar = NULL;
	struct sigaction sa, old_int, old_term;
	int64_t mb;

	apf_err_clear(&err);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else
			return apf_cmd_usage_error("ingest", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind >= argc)
		return apf_cmd_usage_error("ingest", "name at least one PDF file or directory");

	for (int i = optind; i < argc; i++) {
		struct stat sb;
		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
			if (add_dir(&files, argv[i], &err)) {
				rc = apf_cmd_fail(&err);
				goto out;
			}
		} else {
			list_add(&files, apf_xstrdup(argv[i]));
		}
	}

	mb = apf_config_get_i64(&ctx->cfg, APF_CFG_MAX_UPLOAD_MB, -1);
	if (mb < 1 || mb > 1 << 20) {
		rc = apf_cmd_usage_error("ingest", "max_upload_mb wants a number of MiB from 1 to %d", 1 << 20);
		goto out;
	}
	if ((rc = apf_ingest_new(&ctx->cfg, ctx->store, ctx->writer, &ing, &err))) {
		rc = apf_cmd_fail(&err);
		goto out;
	}
	/* SIGINT and SIGTERM stop the copy (read() returns EINTR: no
	 * SA_RESTART); the spool is then removed and nothing recorded. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	bar = apf_progress_new("ingest", "files", files.n, ctx->stderr_tty && files.n > 1);
	for (size_t i = 0; i < files.n && !interrupted; i++) {
		const char *path = files.v[i];
		const char *base = strrchr(path, '/');
		struct apf_ingest_spool sp;
		struct apf_ingest_result res;
		int frc;

		base = base ? base + 1 : path;
		apf_progress_update(bar, i, "%s", base);
		memset(&sp, 0, sizeof(sp));
		sp.fd = -1;
		apf_err_clear(&err);
		frc = spool_file(ing, path, (uint64_t)mb << 20, &sp, &err);
		if (interrupted) {
			apf_ingest_spool_discard(&sp);
			break;
		}
		if (!frc)
			frc = apf_ingest_file(ing, &sp, base, strlen(base), "cli", NULL, &res, &err);
		apf_ingest_spool_discard(&sp);
		apf_progress_clear(bar);
		if (frc) {
			failed++;
			fprintf(stderr, "apflow: error: '%s': %s\n", path, err.msg);
			if (json) {
				struct apf_jsonw jw;
				apf_jsonw_init(&jw, 0, 0);
				apf_jsonw_object_begin(&jw);
				apf_ingest_error_members(&jw, base, strlen(base), &err);
				apf_jsonw_object_string(&jw, "path", path);
				apf_jsonw_end(&jw);
				apf_cmd_print_json(&jw);
			}
			continue;
		}
		if (res.duplicate)
			dups++;
		else
			added++;
		if (json) {
			struct apf_jsonw jw;
			apf_jsonw_init(&jw, 0, 0);
			apf_jsonw_object_begin(&jw);
			apf_ingest_result_members(&jw, &res);
			apf_jsonw_object_string(&jw, "path", path);
			apf_jsonw_end(&jw);
			apf_cmd_print_json(&jw);
		} else {
			printf("%s  %3d page%s  %s%s\n", res.doc_id, res.pages, res.pages == 1 ? " " : "s", path,
			       res.duplicate ? "  (duplicate)" : "");
		}
		fflush(stdout);
		apf_ingest_result_release(&res);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	apf_progress_end(bar, json ? stderr : stdout, "%zu ingested, %zu duplicates, %zu failed", added, dups, failed);
	bar = NULL;
	rc = failed ? 1 : 0;
	if (interrupted) {
		fprintf(stderr, "apflow: interrupted: the file being read was dropped (nothing stored for it)\n");
		rc = 130;
	}
out:
	apf_progress_end(bar, NULL, NULL);
	apf_ingest_free(ing);
	for (size_t i = 0; i < files.n; i++)
		free(files.v[i]);
	free(files.v);
	return rc;
}
