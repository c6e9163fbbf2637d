/*
 * ingest.c: the shared path from a spooled temp file to a stored, recorded
 * document (see ingest.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "apflow/buf.h"
#include "apflow/db.h"
#include "apflow/ingest.h"
#include "apflow/jsonw.h"
#include "apflow/log.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"
#include "apflow/util.h"

/* Spool files are apflow-upload-<pid>-<random> (see apf_remove_stale_temps). */
#define TMP_PREFIX "apflow-upload-"

struct apf_ingest {
	const struct apf_config *cfg;
	struct apf_store *store;
	struct apf_dbwriter *writer;
	char *tmpdir;
};

void apf_ingest_result_release(struct apf_ingest_result *res)
{
	free(res->filename);
	res->filename = NULL;
}

int apf_ingest_doc_id_valid(const char *s)
{
	size_t i;

	for (i = 0; i < APF_DOC_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

int apf_ingest_new(const struct apf_config *cfg, struct apf_store *store,
		   struct apf_dbwriter *writer, struct apf_ingest **out, struct apf_err *err)
{
	const char *data_dir = apf_config_get(cfg, APF_CFG_DATA_DIR);
	struct apf_ingest *ing;
	char *old_dir;
	int rc = 0;

	if (!data_dir || !*data_dir)
		return apf_error(err, APF_ECONFIG, "data_dir is not set");
	ing = apf_xcalloc(1, sizeof(*ing));
	ing->cfg = cfg;
	ing->store = store;
	ing->writer = writer;
	/* Spooled where the store can rename the file into place (file://),
	 * so that an upload's bytes are written once; else in <data_dir>/tmp. */
	if (store)
		rc = apf_store_tmp_dir(store, &ing->tmpdir, err);
	old_dir = apf_xasprintf("%s/tmp", data_dir);
	if (!rc && !ing->tmpdir) {
		ing->tmpdir = old_dir;
		old_dir = NULL;
		rc = apf_mkdirs(ing->tmpdir, 0700, err);
	}
	if (rc) {
		free(old_dir);
		apf_ingest_free(ing);
		return rc;
	}
	apf_remove_stale_temps(ing->tmpdir, TMP_PREFIX);
	if (old_dir)
		apf_remove_stale_temps(old_dir, TMP_PREFIX); /* left there by an older apflow */
	free(old_dir);
	*out = ing;
	return 0;
}

void apf_ingest_free(struct apf_ingest *ing)
{
	if (!ing)
		return;
	free(ing->tmpdir);
	free(ing);
}

int apf_ingest_spool_open(struct apf_ingest *ing, uint64_t max, struct apf_ingest_spool *sp,
			  struct apf_err *err)
{
	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
	sp->max = max;
	sp->path = apf_xasprintf("%s/" TMP_PREFIX "%d-%016" PRIx64, ing->tmpdir, (int)getpid(),
				 apf_rand64());
	/* 0666 less the umask, as the store makes objects: this file may
	 * become one by a rename.  The directory (0700) keeps it private
	 * meanwhile. */
	sp->fd = open(sp->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (sp->fd < 0) {
		int rc = apf_error(err, APF_EIO, "cannot create '%s': %s", sp->path, strerror(errno));
		free(sp->path);
		sp->path = NULL;
		return rc;
	}
	sp->hash = apf_sha256_new();
	return 0;
}

int apf_ingest_spool_write(struct apf_ingest_spool *sp, const void *data, size_t n,
			   struct apf_err *err)
{
	const char *p = data;

	if (sp->fd < 0)
		return apf_error(err, APF_EINTERNAL, "spool is not open");
	if (sp->max && (n > sp->max || sp->bytes > sp->max - n))
		return apf_error(err, APF_ETOOBIG, "file larger than %" PRIu64 " bytes", sp->max);
	apf_sha256_update(sp->hash, data, n);
	sp->bytes += n;
	while (n) {
		ssize_t w = write(sp->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return apf_error(err, APF_EIO, "cannot write '%s': %s", sp->path, strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int apf_ingest_spool_finish(struct apf_ingest_spool *sp, struct apf_err *err)
{
	int fd = sp->fd;

	if (fd < 0 || !sp->hash)
		return apf_error(err, APF_EINTERNAL, "spool is not open");
	apf_sha256_final_hex(sp->hash, sp->sha256);
	sp->hash = NULL;
	sp->fd = -1;
	/* No fsync here, on the server's network thread: the store syncs
	 * the file when it moves it in (or makes its own durable copy), and
	 * a file that is refused or already stored never needs it. */
	if (close(fd))
		return apf_error(err, APF_EIO, "cannot write '%s': %s", sp->path, strerror(errno));
	return 0;
}

void apf_ingest_spool_discard(struct apf_ingest_spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	if (sp->hash) {
		char dummy[APF_SHA256_HEX];
		apf_sha256_final_hex(sp->hash, dummy); /* frees it */
		sp->hash = NULL;
	}
	if (sp->path) {
		unlink(sp->path);
		free(sp->path);
		sp->path = NULL;
	}
}

/* Characters that are invisible, reorder text, or break lines: dropped. */
static int unwanted(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

char *apf_ingest_sanitize_filename(const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	char out[APF_FILENAME_MAX + 4];
	size_t start = 0, o = 0, i, lo, hi;

	if (!name)
		len = 0;
	/* The last path component only, whichever separator the client used. */
	for (i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == '\\')
			start = i + 1;
	for (i = start; i < len;) {
		uint32_t c;
		size_t n = apf_utf8_decode(name + i, len - i, &c);
		const unsigned char *src = s + i;
		static const unsigned char repl[] = { 0xef, 0xbf, 0xbd };

		i += n;
		if (unwanted(c))
			continue;
		if (c == APF_UTF8_REPLACEMENT) {
			/* An ill-formed sequence reads as one U+FFFD (utf8.h). */
			src = repl;
			n = 3;
		}
		if (o + n > APF_FILENAME_MAX)
			break; /* whole characters only */
		memcpy(out + o, src, n);
		o += n;
	}
	/* No leading dots or spaces (no "..", no hidden names), no trailing spaces. */
	lo = 0;
	while (lo < o && (out[lo] == '.' || out[lo] == ' '))
		lo++;
	hi = o;
	while (hi > lo && out[hi - 1] == ' ')
		hi--;
	if (hi == lo)
		return apf_xstrdup("upload.pdf");
	/* A C string: strndup() may look for its end (fuzz_upload found it
	 * reading past out under ASan's strict_string_checks). */
	out[hi] = '\0';
	return apf_xstrndup(out + lo, hi - lo);
}

static void format_utc(int64_t us, char *out, size_t n)
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;
	char base[24];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%s.%06dZ", base, (int)(us % 1000000));
}

/* The warehouse part of one ingest: runs in the writer's transaction,
 * usually together with the other uploads of the moment (record_rows). */
struct record_job {
	const struct apf_ingest_result *res;
	struct apf_store *store;
	const char *key;     /* raw/<doc_id>.pdf */
	int dir_sync;        /* moved in without the directory's fsync: sync before the commit */
	const char *source;
	const char *client;
	int64_t now_us;
	int presumed_new;    /* the store had no object: presume the doc_id new */
	int look_up;         /* presuming failed: look the doc_id up (kept across runs) */
	int looked_up;       /* a run did look it up */
	/* out, reset on every run */
	int duplicate;
	int64_t upload_id;
	int rc;              /* a verdict about this upload alone */
	struct apf_err err;
};

static void add_literal(struct apf_buf *sql, const char *s)
{
	char *q = apf_db_quote_literal(s);

	apf_buf_adds(sql, q);
	free(q);
}

static int run_sql(struct apf_db *db, struct apf_buf *sql, struct apf_db_result **out, struct apf_err *err)
{
	if (!sql->data)
		return apf_error(err, APF_ENOMEM, "statement too large");
	return out ? apf_db_query(db, sql->data, out, err) : apf_db_exec(db, sql->data, err);
}

static int same_text(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

/*
 * Records n uploads in two statements whatever n is: the new documents
 * rows, then the uploads rows, whose ids come back by RETURNING.  Values
 * are quoted by apf_db_quote_literal(), the one place literals are made.
 *
 * Which doc_ids the warehouse knows takes a third statement, run first,
 * unless every job's object was new to the store: such a doc_id is new to
 * the warehouse too (rows are written after their object), bar a race with
 * another process or an object deleted by hand, and then the documents
 * insert itself is the check.  If it fails, the jobs are marked to look
 * their doc_ids up and the statement's error goes back: the writer runs
 * each job of a failed batch again alone, and apf_ingest_file() runs a
 * job that failed alone once more.  An upload whose doc_id is known with
 * another SHA-256 (two files sharing 80 bits of hash) is refused alone,
 * in its job.
 */
static int record_rows(struct apf_db *db, void *const *args, size_t n, struct apf_err *err)
{
	struct record_job *const *jobs = (struct record_job *const *)args;
	struct apf_buf sql = APF_BUF_INIT;
	struct apf_db_result *r = NULL;
	size_t fresh = 0, live = 0, got = 0, next = 0;
	int rc = 0, look = 0;

	apf_buf_init(&sql, 0);
	/* 0. The objects moved in for these rows become durable first: one
	 * fsync of raw/ for all of them (every key is raw/<doc_id>.pdf). */
	for (size_t i = 0; i < n; i++)
		if (jobs[i]->dir_sync) {
			rc = apf_store_sync_dir(jobs[i]->store, jobs[i]->key, err);
			if (rc)
				goto out;
			break;
		}
	for (size_t i = 0; i < n; i++) {
		jobs[i]->duplicate = 0;
		jobs[i]->upload_id = -1;
		jobs[i]->rc = 0;
		apf_err_clear(&jobs[i]->err);
		if (!jobs[i]->presumed_new || jobs[i]->look_up)
			look = 1;
	}

	/* 1. Known doc_ids, unless all are presumed new (above). */
	if (look) {
		apf_buf_adds(&sql, "SELECT doc_id, sha256 FROM md_raw_ocr.main.documents WHERE doc_id IN (");
		for (size_t i = 0; i < n; i++) {
			if (i)
				apf_buf_adds(&sql, ", ");
			add_literal(&sql, jobs[i]->res->doc_id);
			jobs[i]->looked_up = 1;
		}
		apf_buf_adds(&sql, ")");
		rc = run_sql(db, &sql, &r, err);
		if (rc)
			goto out;
		for (uint64_t row = 0; row < apf_db_result_rows(r); row++) {
			char *id = apf_db_result_text(r, 0, row), *sha = apf_db_result_text(r, 1, row);
			for (size_t i = 0; id && i < n; i++) {
				struct record_job *j = jobs[i];
				if (strcmp(j->res->doc_id, id))
					continue;
				if (sha && strcmp(sha, j->res->sha256))
					j->rc = apf_error(&j->err, APF_EEXISTS,
							  "doc_id '%s' is taken by a file with another SHA-256", id);
				else
					j->duplicate = 1;
			}
			free(id);
			free(sha);
		}
		apf_db_result_free(r);
		r = NULL;
	}
	/* ... and doc_ids that came twice in this batch: the first one is new. */
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < i && !jobs[i]->rc && !jobs[i]->duplicate; k++) {
			if (jobs[k]->rc || strcmp(jobs[k]->res->doc_id, jobs[i]->res->doc_id))
				continue;
			if (strcmp(jobs[k]->res->sha256, jobs[i]->res->sha256))
				jobs[i]->rc = apf_error(&jobs[i]->err, APF_EEXISTS,
							"doc_id '%s' is taken by a file with another SHA-256",
							jobs[i]->res->doc_id);
			else
				jobs[i]->duplicate = 1;
		}
		if (!jobs[i]->rc) {
			live++;
			if (!jobs[i]->duplicate)
				fresh++;
		}
	}
	if (!live)
		goto out;

	/* 2. The new documents. */
	if (fresh) {
		apf_buf_reset(&sql);
		apf_buf_adds(&sql, "INSERT INTO md_raw_ocr.main.documents "
				   "(doc_id, sha256, filename, bytes, pages, uploaded_at, status) VALUES ");
		for (size_t i = 0, k = 0; i < n; i++) {
			const struct apf_ingest_result *res = jobs[i]->res;
			if (jobs[i]->rc || jobs[i]->duplicate)
				continue;
			apf_buf_adds(&sql, k++ ? ", (" : "(");
			add_literal(&sql, res->doc_id);
			apf_buf_adds(&sql, ", ");
			add_literal(&sql, res->sha256);
			apf_buf_adds(&sql, ", ");
			add_literal(&sql, res->filename);
			apf_buf_addf(&sql, ", %" PRIu64 ", %d, make_timestamp(%" PRId64 "), 'uploaded')", res->bytes,
				     res->pages, jobs[i]->now_us);
		}
		rc = run_sql(db, &sql, NULL, err);
		if (rc) {
			if (!look)
				for (size_t i = 0; i < n; i++)
					jobs[i]->look_up = 1;
			goto out;
		}
	}

	/*
	 * 3. Every upload event, duplicates included.  The ids come from the
	 * column's default (the sequence) and come back by RETURNING, in the
	 * order of the VALUES list (DuckDB keeps insertion order).  Each row's
	 * columns are checked against its job all the same; a row found out
	 * of place goes to the first job it matches, and rows that match
	 * several jobs are the same upload event but for a few microseconds.
	 */
	apf_buf_reset(&sql);
	apf_buf_adds(&sql, "INSERT INTO md_raw_ocr.main.uploads (doc_id, filename, bytes, sha256, "
			   "duplicate, source, client, uploaded_at) VALUES ");
	for (size_t i = 0, k = 0; i < n; i++) {
		const struct record_job *j = jobs[i];
		if (j->rc)
			continue;
		apf_buf_adds(&sql, k++ ? ", (" : "(");
		add_literal(&sql, j->res->doc_id);
		apf_buf_adds(&sql, ", ");
		add_literal(&sql, j->res->filename);
		apf_buf_addf(&sql, ", %" PRIu64 ", ", j->res->bytes);
		add_literal(&sql, j->res->sha256);
		apf_buf_addf(&sql, ", %s, ", j->duplicate ? "true" : "false");
		add_literal(&sql, j->source);
		apf_buf_adds(&sql, ", ");
		add_literal(&sql, j->client);
		apf_buf_addf(&sql, ", make_timestamp(%" PRId64 "))", j->now_us);
	}
	apf_buf_adds(&sql, " RETURNING upload_id, doc_id, duplicate::INTEGER, filename, source, client");
	rc = run_sql(db, &sql, &r, err);
	if (rc)
		goto out;
	for (uint64_t row = 0; row < apf_db_result_rows(r); row++) {
		char *id = apf_db_result_text(r, 1, row), *name = apf_db_result_text(r, 3, row);
		char *source = apf_db_result_text(r, 4, row), *client = apf_db_result_text(r, 5, row);
		int64_t dup = apf_db_result_i64(r, 2, row);
		struct record_job *hit = NULL;

		/* next: the job whose VALUES row this would be. */
		while (next < n && jobs[next]->rc)
			next++;
		for (size_t t = 0; !hit && t <= n; t++) {
			size_t i = t == 0 ? next : t - 1;
			struct record_job *j = i < n ? jobs[i] : NULL;
			if (j && !j->rc && j->upload_id < 0 && same_text(id, j->res->doc_id) &&
			    dup == j->duplicate && same_text(name, j->res->filename) &&
			    same_text(source, j->source) && same_text(client, j->client))
				hit = j;
		}
		if (hit) {
			hit->upload_id = apf_db_result_i64(r, 0, row);
			got++;
		}
		next++;
		free(id);
		free(name);
		free(source);
		free(client);
	}
	if (got != live)
		rc = apf_error(err, APF_EDB, "recording %zu uploads gave back %zu of their ids", live, got);
out:
	apf_db_result_free(r);
	apf_buf_release(&sql);
	return rc;
}

/* The last occurrence of needle (m bytes) in hay[0, n), or NULL. */
static const char *find_last(const char *hay, size_t n, const char *needle, size_t m)
{
	for (size_t i = n >= m ? n - m + 1 : 0; i-- > 0;)
		if (hay[i] == needle[0] && !memcmp(hay + i, needle, m))
			return hay + i;
	return NULL;
}

static int is_pdf_space(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\0';
}

/* Whether p[0, n) holds PDF structure: an object ("12 0 obj"), the end of
 * one or of a stream, a cross-reference section or a trailer. */
static int holds_pdf_structure(const char *p, size_t n)
{
	static const char *const words[] = { "endobj", "endstream", "xref", "trailer" };
	const char *q, *end = p + n;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (memmem(p, n, words[i], strlen(words[i])))
			return 1;
	for (q = p; (q = memmem(q, (size_t)(end - q), "obj", 3)); q += 3) {
		const char *b = q;
		if (b == p || !is_pdf_space(b[-1]))
			continue;
		while (b > p && is_pdf_space(b[-1]))
			b--;
		if (b > p && b[-1] >= '0' && b[-1] <= '9')
			return 1;
	}
	return 0;
}

/*
 * Whether a PDF that MuPDF had to repair was cut short.  MuPDF repairs a
 * truncated file quietly (it rebuilds the cross-reference table from
 * whatever objects survive), so a PDF cut short by a failed upload would
 * pass the probe with pages missing.  But it repairs a complete file
 * followed by junk, too, as soon as the junk pushes "startxref" out of the
 * last 1 KiB, where MuPDF looks for it; readers accept such files.  A
 * complete PDF (each revision of it) ends with "%%EOF".  So a repaired
 * file is complete when it has a "%%EOF" and what follows the last one
 * holds no PDF structure (it is junk, not a later revision that was cut);
 * otherwise it is truncated.  Files MuPDF opens without repair never get
 * here: their cross-reference table is where the trailer says.
 */
static int check_complete(const char *path, uint64_t size, struct apf_err *err)
{
	const char *map, *eof;
	int fd, truncated;

	if (size > SIZE_MAX)
		return apf_error(err, APF_ETOOBIG, "cannot read '%s': too large", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return apf_error(err, APF_EIO, "cannot read '%s': %s", path, strerror(errno));
	eof = find_last(map, (size_t)size, "%%EOF", 5);
	truncated = !eof || holds_pdf_structure(eof + 5, (size_t)(map + size - (eof + 5)));
	munmap((void *)map, (size_t)size);
	if (truncated)
		return apf_error(err, APF_EPDF, "damaged PDF: truncated (no %%%%EOF marker at the end)");
	return 0;
}

int apf_ingest_file(struct apf_ingest *ing, const struct apf_ingest_spool *sp, const char *filename,
		    size_t filename_len, const char *source, const char *client,
		    struct apf_ingest_result *res, struct apf_err *err)
{
	struct apf_ingest_result r;
	struct apf_store_stat stat;
	struct record_job job;
	char key[64];
	int rc, repaired = 0;

	memset(&r, 0, sizeof(r));
	r.upload_id = -1;
	if (!sp->path || sp->fd >= 0 || !sp->sha256[0])
		return apf_error(err, APF_EINTERNAL, "ingest of an unfinished spool");
	if (sp->bytes == 0)
		return apf_error(err, APF_EPDF, "empty file");

	/* Its rows will follow in a millisecond or so: the writer may wait
	 * for them and commit them with others (dbwriter.h). */
	apf_dbwriter_expect(ing->writer, +1);
	rc = apf_pdf_probe_ex(sp->path, &r.pages, &repaired, err);
	if (!rc && repaired)
		rc = check_complete(sp->path, sp->bytes, err);
	if (rc) {
		apf_dbwriter_expect(ing->writer, -1);
		return rc;
	}
	memcpy(r.sha256, sp->sha256, sizeof(r.sha256));
	memcpy(r.doc_id, sp->sha256, APF_DOC_ID_LEN);
	r.doc_id[APF_DOC_ID_LEN] = '\0';
	r.bytes = sp->bytes;
	r.filename = apf_ingest_sanitize_filename(filename, filename ? filename_len : 0);
	snprintf(key, sizeof(key), "raw/%s.pdf", r.doc_id);

	/* Content-addressed: bytes already stored under this key need no second PUT. */
	memset(&stat, 0, sizeof(stat));
	memset(&job, 0, sizeof(job));
	rc = apf_store_head(ing->store, key, &stat, err);
	if (rc == APF_ENOTFOUND) {
		job.presumed_new = 1;
		apf_err_clear(err);
		/* The spool becomes the object: moved, not copied, on file://;
		 * its directory is fsync'ed with the others of its batch,
		 * before their rows are committed (record_rows()). */
		rc = apf_store_put_file_move_ex(ing->store, key, sp->path, "application/pdf",
						APF_STORE_DEFER_DIR_SYNC, err);
		job.dir_sync = 1;
	} else if (!rc && stat.size != r.bytes) {
		rc = apf_error(err, APF_EEXISTS, "'%s' exists with %" PRIu64 " bytes, not %" PRIu64, key,
			       stat.size, r.bytes);
	}
	if (rc) {
		apf_dbwriter_expect(ing->writer, -1);
		goto fail;
	}

	job.res = &r;
	job.store = ing->store;
	job.key = key;
	job.source = source;
	job.client = client;
	job.now_us = apf_wall_us();
	rc = apf_dbwriter_run_batch_ex(ing->writer, record_rows, &job, APF_DBWRITER_ANNOUNCED, err);
	if (rc && job.look_up && !job.looked_up) {
		/* Presumed new, it was not (see record_rows()); the writer
		 * runs a failed batch of one only once. */
		apf_err_clear(err);
		rc = apf_dbwriter_run_batch(ing->writer, record_rows, &job, err);
	}
	if (!rc && job.rc) {
		rc = job.rc;
		if (err)
			*err = job.err;
	}
	if (rc == APF_ESQL) {
		/* Our own statements failing means a warehouse that is not
		 * set up, not a bad request: the client cannot fix it. */
		rc = APF_EDB;
		if (err)
			err->code = rc;
		apf_error_prefix(err, "cannot record '%s' (has 'apflow init' run?)", key);
	}
	if (rc)
		goto fail;
	r.duplicate = job.duplicate;
	r.upload_id = job.upload_id;
	format_utc(job.now_us, r.uploaded_at, sizeof(r.uploaded_at));
	*res = r;
	return 0;
fail:
	apf_ingest_result_release(&r);
	return rc;
}

void apf_ingest_result_members(struct apf_jsonw *jw, const struct apf_ingest_result *r)
{
	apf_jsonw_object_string(jw, "doc_id", r->doc_id);
	apf_jsonw_object_string(jw, "filename", r->filename ? r->filename : "");
	apf_jsonw_object_int(jw, "pages", r->pages);
	apf_jsonw_object_int(jw, "bytes", (int64_t)r->bytes);
	apf_jsonw_object_string(jw, "sha256", r->sha256);
	apf_jsonw_object_bool(jw, "duplicate", r->duplicate);
	apf_jsonw_object_string(jw, "uploaded_at", r->uploaded_at);
	if (r->upload_id >= 0)
		apf_jsonw_object_int(jw, "upload_id", r->upload_id);
}

void apf_ingest_error_members(struct apf_jsonw *jw, const char *filename, size_t filename_len,
			      const struct apf_err *err)
{
	char *name = apf_ingest_sanitize_filename(filename, filename ? filename_len : 0);

	apf_jsonw_object_string(jw, "filename", name);
	apf_jsonw_object_string(jw, "error", err->msg[0] ? err->msg : apf_err_desc(err->code));
	apf_jsonw_object_string(jw, "code", apf_err_name(err->code));
	apf_jsonw_object_int(jw, "status", apf_err_http_status(err->code));
	free(name);
}

/* The object jw holds, parsed, and jw released; NULL when it is broken. */
static json_t *jsonw_parse(struct apf_jsonw *jw)
{
	json_t *o = NULL;

	apf_jsonw_end(jw);
	if (apf_jsonw_ok(jw))
		o = json_loadb(jw->buf.data, jw->buf.len, 0, NULL);
	apf_jsonw_release(jw);
	return o;
}

json_t *apf_ingest_result_json(const struct apf_ingest_result *r)
{
	struct apf_jsonw jw;

	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_object_begin(&jw);
	apf_ingest_result_members(&jw, r);
	return jsonw_parse(&jw);
}

json_t *apf_ingest_error_json(const char *filename, size_t filename_len, const struct apf_err *err)
{
	struct apf_jsonw jw;

	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_object_begin(&jw);
	apf_ingest_error_members(&jw, filename, filename_len, err);
	return jsonw_parse(&jw);
}
