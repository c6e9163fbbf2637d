/*
 * db.c: the warehouse over DuckDB's C API (see db.h and docs/internals/db.md).
 *
 * This is the one file that calls DuckDB (through duckdb_dl.h, which loads
 * the library when the first instance is made).  It opens an in-memory
 * DuckDB instance, attaches the two warehouse databases under the names the
 * SQL uses, retries while another process holds a file, and turns DuckDB's
 * results and errors into apflow's.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apflow/db.h"
#include "apflow/log.h"
#include "apflow/version.h"
#include "apflow/util.h"
#include "core/duckdb_dl.h"

/* The two databases, in the order they are attached. */
static const char *const db_names[] = { "md_raw_ocr", "md_annotated" };
#define NDBS (sizeof(db_names) / sizeof(db_names[0]))

/* Backoff while another process holds a warehouse file. */
#define LOCK_WAIT_FIRST_MS 20
#define LOCK_WAIT_MAX_MS 1000

/*
 * One DuckDB instance with the warehouse attached.  Two instances in one
 * process must never attach the same file: POSIX locks do not conflict
 * within a process, so DuckDB could not tell, and two writers would corrupt
 * it.  So instances of a warehouse are shared, keyed by where it lives, and
 * counted; the last close detaches.
 */
struct instance {
	struct instance *next;
	char *key;        /* NULL for a private instance (memory) */
	duckdb_database ddb;
	int readonly;
	int refs;
};

static pthread_mutex_t instances_lock = PTHREAD_MUTEX_INITIALIZER;
static struct instance *instances;

struct apf_db {
	struct instance *inst;
	duckdb_connection conn;
};

struct apf_db_stmt {
	duckdb_prepared_statement ps;
	char bind_error[256]; /* the first bind that failed, or "" */
};

struct apf_db_result {
	duckdb_result res;
	duckdb_result_type kind;
	uint64_t rows, cols, changes;
	duckdb_logical_type *types;  /* one per column */
	duckdb_data_chunk *chunks;
	uint64_t *starts;            /* the first row of each chunk */
	size_t nchunks;
	int borrowed;                /* one chunk of a stream: res and types belong to it */
};

struct apf_db_stream {
	duckdb_result res;
	uint64_t cols;
	duckdb_logical_type *types;
	int done;
};

/* ---- errors ---- */

static int errcode_of(duckdb_error_type t)
{
	switch (t) {
	case DUCKDB_ERROR_OUT_OF_MEMORY:
		return APF_ENOMEM;
	case DUCKDB_ERROR_IO:
	case DUCKDB_ERROR_CONNECTION:
	case DUCKDB_ERROR_TRANSACTION:
	case DUCKDB_ERROR_INTERRUPT:
	case DUCKDB_ERROR_FATAL:
	case DUCKDB_ERROR_INTERNAL:
	case DUCKDB_ERROR_NETWORK:
	case DUCKDB_ERROR_HTTP:
	case DUCKDB_ERROR_SERIALIZATION:
		return APF_EDB;
	default:
		return APF_ESQL;
	}
}

static int result_error(duckdb_result *res, struct apf_err *err)
{
	const char *msg = duckdb_result_error(res);

	return apf_error(err, errcode_of(duckdb_result_error_type(res)), "%s",
			 msg ? msg : "unknown DuckDB error");
}

static int is_lock_conflict(const char *msg)
{
	return msg && (strstr(msg, "Could not set lock on file") || strstr(msg, "Conflicting lock"));
}

/* ---- quoting ---- */

static char *quote(const char *s, char q)
{
	size_t n = 2, i = 0;
	char *out;

	for (const char *p = s; *p; p++)
		n += *p == q ? 2 : 1;
	out = apf_xmalloc(n + 1);
	out[i++] = q;
	for (const char *p = s; *p; p++) {
		out[i++] = *p;
		if (*p == q)
			out[i++] = q;
	}
	out[i++] = q;
	out[i] = '\0';
	return out;
}

char *apf_db_quote_literal(const char *s)
{
	return s ? quote(s, '\'') : apf_xstrdup("NULL");
}

char *apf_db_quote_ident(const char *s)
{
	return quote(s, '"');
}

int apf_db_name_valid(const char *s)
{
	if (!s || !(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return 0;
	for (s++; *s; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

const char *apf_db_library_version(void)
{
	if (apf_duckdb_need(NULL))
		return "unavailable";
	return duckdb_library_version();
}

/* ---- opening ---- */

enum target_kind { TARGET_LOCAL, TARGET_MOTHERDUCK, TARGET_MEMORY };

struct target {
	enum target_kind kind;
	int readonly;
	int one_thread;     /* local: the new instance runs queries on one thread */
	const char *data_dir;
	const char *token;
	char *paths[NDBS];  /* local: <data_dir>/<name>.duckdb */
	int exists[NDBS];   /* local: the file is there */
	char *key;          /* what instances are shared by, or NULL */
};

static void target_release(struct target *t)
{
	for (size_t i = 0; i < NDBS; i++)
		free(t->paths[i]);
	free(t->key);
}

static int exec_simple(duckdb_connection c, const char *sql, struct apf_err *err)
{
	duckdb_result res;
	int rc = 0;

	if (duckdb_query(c, sql, &res) == DuckDBError)
		rc = result_error(&res, err);
	duckdb_destroy_result(&res);
	return rc;
}

/*
 * One attempt: a new instance with both databases attached.  A lock
 * conflict sets *locked and leaves DuckDB's message in err; the instance
 * is then closed, so the files this attempt did get are free again and two
 * processes cannot hold one file each while waiting for the other.
 */
static int make_instance(const struct target *t, duckdb_database *out, int *locked,
			 struct apf_err *err)
{
	duckdb_database ddb = NULL;
	duckdb_connection conn = NULL;
	duckdb_config config = NULL;
	char *open_error = NULL;
	int rc = apf_duckdb_need(err);

	*locked = 0;
	if (rc)
		return rc;
	if (duckdb_create_config(&config) == DuckDBError)
		return apf_error(err, APF_ENOMEM, "cannot create a DuckDB configuration");
	duckdb_set_config(config, "custom_user_agent", "apflow/" APFLOW_VERSION);
	/*
	 * The MotherDuck extension reads its token from the configuration (or
	 * from the environment variable motherduck_token, which the config
	 * loader also reads); passing it here avoids setenv() in a process
	 * with threads.
	 */
	if (t->kind == TARGET_MOTHERDUCK && t->token)
		duckdb_set_config(config, "motherduck_token", t->token);
	if (t->kind == TARGET_LOCAL && t->one_thread)
		duckdb_set_config(config, "threads", "1");
	if (duckdb_open_ext(NULL, &ddb, config, &open_error) == DuckDBError) {
		rc = apf_error(err, APF_EDB, "cannot start DuckDB: %s",
			       open_error ? open_error : "unknown error");
		duckdb_free(open_error);
		ddb = NULL;
		goto out;
	}
	if (duckdb_connect(ddb, &conn) == DuckDBError) {
		rc = apf_error(err, APF_EDB, "cannot connect to DuckDB");
		goto out;
	}
	for (size_t i = 0; i < NDBS; i++) {
		char *sql, *lit = NULL;
		const char *shown;

		if (t->kind == TARGET_MOTHERDUCK) {
			/* MotherDuck names the database after the share; no alias. */
			sql = apf_xasprintf("ATTACH 'md:%s'", db_names[i]);
			shown = db_names[i];
		} else if (t->kind == TARGET_MEMORY || (t->readonly && !t->exists[i])) {
			sql = apf_xasprintf("ATTACH ':memory:' AS %s", db_names[i]);
			shown = db_names[i];
		} else {
			lit = apf_db_quote_literal(t->paths[i]);
			sql = apf_xasprintf("ATTACH %s AS %s%s", lit, db_names[i],
					    t->readonly ? " (READ_ONLY)" : "");
			shown = t->paths[i];
		}
		rc = exec_simple(conn, sql, err);
		free(sql);
		free(lit);
		if (rc) {
			*locked = is_lock_conflict(err->msg);
			if (!*locked)
				rc = apf_error_prefix(err, "cannot attach '%s'", shown);
			if (rc == APF_ESQL)
				err->code = rc = APF_EDB;
			goto out;
		}
	}
out:
	if (conn)
		duckdb_disconnect(&conn);
	duckdb_destroy_config(&config);
	if (rc) {
		if (ddb)
			duckdb_close(&ddb);
		return rc;
	}
	*out = ddb;
	return 0;
}

static struct instance *find_instance(const char *key)
{
	for (struct instance *in = instances; in; in = in->next)
		if (!strcmp(in->key, key))
			return in;
	return NULL;
}

static void put_instance(struct instance *in)
{
	if (in->key) {
		pthread_mutex_lock(&instances_lock);
		if (--in->refs > 0) {
			pthread_mutex_unlock(&instances_lock);
			return;
		}
		for (struct instance **p = &instances; *p; p = &(*p)->next) {
			if (*p == in) {
				*p = in->next;
				break;
			}
		}
		/* Close under the lock, so a new instance of the same warehouse
		 * cannot attach the files before this one has let them go. */
		duckdb_close(&in->ddb);
		pthread_mutex_unlock(&instances_lock);
	} else {
		duckdb_close(&in->ddb);
	}
	free(in->key);
	free(in);
}

static int parse_seconds(const char *s, int64_t *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 86400.0 * 365)
		return -1;
	*ms = (int64_t)(v * 1000.0 + 0.5);
	return 0;
}

/* ---- taking turns (apflow/db.h) ---- */

#define LOCK_WANTED_FILE ".lock-wanted"
/* A waiter writes the file at every attempt, LOCK_WAIT_MAX_MS apart at
 * most: older than this, nobody is waiting any more. */
#define LOCK_WANTED_FRESH_MS (2 * LOCK_WAIT_MAX_MS + 500)

static char *wanted_path(const char *data_dir)
{
	return apf_xasprintf("%s/" LOCK_WANTED_FILE, data_dir ? data_dir : "./data");
}

/* Says this process is waiting for the files (a fresh mtime, our pid). */
static void want_lock(const struct target *t)
{
	char *path, pid[32];
	int fd, n;

	if (t->kind != TARGET_LOCAL)
		return;
	path = wanted_path(t->data_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (write(fd, pid, (size_t)n) != n)
			apf_log_debug("cannot write %s", path);
		close(fd);
	}
	free(path);
}

/* The pid in the file at path when it is fresh, else 0. */
static long wanted_by(const char *path)
{
	struct stat st;
	char buf[32];
	ssize_t n;
	int fd;

	if (stat(path, &st) ||
	    apf_now_ms() - ((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000) > LOCK_WANTED_FRESH_MS)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Got the files: our request, if it is still the one on file, is done. */
static void got_lock(const struct target *t)
{
	char *path;

	if (t->kind != TARGET_LOCAL)
		return;
	path = wanted_path(t->data_dir);
	if (wanted_by(path) == (long)getpid())
		unlink(path);
	free(path);
}

static long other_waiter(const struct apf_config *cfg)
{
	const char *wh = apf_config_get(cfg, APF_CFG_WAREHOUSE);
	char *path;
	long pid;

	if (wh && strcmp(wh, "local"))
		return 0; /* MotherDuck: no file lock */
	path = wanted_path(apf_config_get(cfg, APF_CFG_DATA_DIR));
	pid = wanted_by(path);
	free(path);
	return pid && pid != (long)getpid() ? pid : 0;
}

int apf_db_lock_wanted(const struct apf_config *cfg)
{
	return other_waiter(cfg) != 0;
}

void apf_db_yield(const struct apf_config *cfg, int64_t max_ms)
{
	int64_t until = apf_now_ms() + max_ms;

	while (other_waiter(cfg) && apf_now_ms() < until)
		apf_sleep_ms(10);
}

/* Gets an instance for t: shares one that exists or makes one, waiting
 * while another process (or a read-only instance here) holds the files. */
static int get_instance(const struct target *t, int64_t timeout_ms, struct instance **out,
			struct apf_err *err)
{
	int64_t start = apf_now_ms(), wait_ms = LOCK_WAIT_FIRST_MS;
	int logged = 0, locked = 0, rc = 0;

	for (;;) {
		duckdb_database ddb = NULL;
		struct instance *in;

		pthread_mutex_lock(&instances_lock);
		in = t->key ? find_instance(t->key) : NULL;
		if (in && (!in->readonly || t->readonly)) {
			in->refs++;
			pthread_mutex_unlock(&instances_lock);
			*out = in;
			return 0;
		}
		if (in) {
			/* Open read-only in this process: a writer waits as it would
			 * for another process. */
			locked = 1;
			apf_error(err, APF_ELOCKED, "the warehouse is open read-only in this process");
		} else {
			rc = make_instance(t, &ddb, &locked, err);
			if (!rc) {
				in = apf_xcalloc(1, sizeof(*in));
				in->key = t->key ? apf_xstrdup(t->key) : NULL;
				in->ddb = ddb;
				in->readonly = t->readonly;
				in->refs = 1;
				if (in->key) {
					in->next = instances;
					instances = in;
				}
				pthread_mutex_unlock(&instances_lock);
				if (logged)
					got_lock(t);
				*out = in;
				return 0;
			}
		}
		pthread_mutex_unlock(&instances_lock);
		if (!locked)
			return rc;
		want_lock(t);

		int64_t waited = apf_now_ms() - start;
		if (waited >= timeout_ms) {
			char duck[APF_ERR_MSG_MAX];
			got_lock(t); /* no longer waiting */
			apf_strlcpy(duck, err->msg, sizeof(duck));
			/* The configured wait, not the measured one, which the
			 * last attempt stretches by a few milliseconds. */
			return apf_error(err, APF_ELOCKED,
					 "cannot open warehouse '%s': still locked after %.1f s: %s",
					 t->data_dir, (double)timeout_ms / 1000.0, duck);
		}
		if (!logged) {
			apf_log_info("warehouse in '%s' is locked; waiting up to %.1f s",
				     t->data_dir, (double)timeout_ms / 1000.0);
			logged = 1;
		}
		/* Exponential backoff with jitter: half fixed, half random, so
		 * processes that collided once do not keep colliding. */
		int64_t sleep_ms = wait_ms / 2 + (int64_t)(apf_rand64() % (uint64_t)(wait_ms / 2 + 1));
		if (sleep_ms > timeout_ms - waited)
			sleep_ms = timeout_ms - waited;
		apf_sleep_ms(sleep_ms);
		wait_ms = wait_ms * 2 > LOCK_WAIT_MAX_MS ? LOCK_WAIT_MAX_MS : wait_ms * 2;
	}
}

static int connect_db(struct instance *in, struct apf_db **out, struct apf_err *err)
{
	struct apf_db *db = apf_xcalloc(1, sizeof(*db));
	int rc;

	db->inst = in;
	if (duckdb_connect(in->ddb, &db->conn) == DuckDBError) {
		put_instance(in);
		free(db);
		return apf_error(err, APF_EDB, "cannot connect to DuckDB");
	}
	/* One time zone everywhere: a TIMESTAMP cast to TIMESTAMPTZ means UTC
	 * whatever the machine's zone.  The setting comes with the ICU
	 * extension; a DuckDB built without it knows only UTC anyway. */
	rc = exec_simple(db->conn, "SET TimeZone = 'UTC'", err);
	if (rc)
		apf_log_debug("cannot set the time zone to UTC: %s", err->msg);
	apf_err_clear(err);
	*out = db;
	return 0;
}

int apf_db_open_ex(const struct apf_config *cfg, unsigned flags, struct apf_db **out,
		   struct apf_err *err_out)
{
	struct apf_err scratch, *err = err_out ? err_out : &scratch; /* messages are read here */
	const char *wh = apf_config_get(cfg, APF_CFG_WAREHOUSE);
	const char *lt = apf_config_get(cfg, APF_CFG_LOCK_TIMEOUT);
	struct target t;
	struct instance *in = NULL;
	int64_t timeout_ms = 60000;
	int rc;

	memset(&t, 0, sizeof(t));
	t.readonly = !!(flags & APF_DB_READONLY);
	t.one_thread = !!(flags & APF_DB_ONE_THREAD);
	t.data_dir = apf_config_get(cfg, APF_CFG_DATA_DIR);
	if (!t.data_dir)
		t.data_dir = "./data";
	if (lt && parse_seconds(lt, &timeout_ms))
		return apf_error(err, APF_ECONFIG, "bad lock_timeout '%s': expected a number of seconds", lt);

	if (!wh || !strcmp(wh, "local")) {
		struct stat st;
		char real[PATH_MAX];

		t.kind = TARGET_LOCAL;
		if (!t.readonly) {
			rc = apf_mkdirs(t.data_dir, 0755, err);
			if (rc)
				return rc;
		}
		for (size_t i = 0; i < NDBS; i++) {
			t.paths[i] = apf_xasprintf("%s/%s.duckdb", t.data_dir, db_names[i]);
			t.exists[i] = stat(t.paths[i], &st) == 0;
		}
		/* The key is the real directory, so ./data and data share. */
		if (realpath(t.data_dir, real))
			t.key = apf_xasprintf("local:%s", real);
	} else if (!strcmp(wh, "motherduck")) {
		t.kind = TARGET_MOTHERDUCK;
		t.readonly = 0;
		t.data_dir = "md:";
		t.token = apf_config_get(cfg, APF_CFG_MOTHERDUCK_TOKEN);
		if (!t.token)
			return apf_error(err, APF_ECONFIG,
					 "warehouse 'motherduck' needs a token: set motherduck_token");
		t.key = apf_xstrdup("motherduck");
	} else {
		return apf_error(err, APF_ECONFIG, "unknown warehouse '%s': expected local or motherduck", wh);
	}

	rc = get_instance(&t, timeout_ms, &in, err);
	target_release(&t);
	if (rc)
		return rc;
	return connect_db(in, out, err);
}

int apf_db_open(const struct apf_config *cfg, struct apf_db **out, struct apf_err *err)
{
	return apf_db_open_ex(cfg, 0, out, err);
}

int apf_db_open_memory(struct apf_db **out, struct apf_err *err_out)
{
	struct apf_err scratch, *err = err_out ? err_out : &scratch;
	struct target t;
	struct instance *in = NULL;
	int rc;

	memset(&t, 0, sizeof(t));
	t.kind = TARGET_MEMORY;
	t.data_dir = ":memory:";
	rc = get_instance(&t, 0, &in, err);
	if (rc)
		return rc;
	return connect_db(in, out, err);
}

void apf_db_close(struct apf_db *db)
{
	if (!db)
		return;
	duckdb_disconnect(&db->conn);
	put_instance(db->inst);
	free(db);
}

/* ---- results ---- */

void apf_db_result_free(struct apf_db_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nchunks; i++)
		duckdb_destroy_data_chunk(&r->chunks[i]);
	if (!r->borrowed) {
		for (uint64_t c = 0; c < r->cols; c++)
			duckdb_destroy_logical_type(&r->types[c]);
		free(r->types);
		duckdb_destroy_result(&r->res);
	}
	free(r->chunks);
	free(r->starts);
	free(r);
}

/* Takes over res: fetches every chunk, so that cells can be read in any
 * order without DuckDB's deprecated per-value functions. */
static struct apf_db_result *wrap_result(duckdb_result *res)
{
	struct apf_db_result *r = apf_xcalloc(1, sizeof(*r));
	size_t alloc = 0;
	duckdb_data_chunk chunk;

	r->res = *res;
	r->kind = duckdb_result_return_type(r->res);
	r->cols = duckdb_column_count(&r->res);
	r->types = apf_xcalloc(r->cols ? r->cols : 1, sizeof(*r->types));
	for (uint64_t c = 0; c < r->cols; c++)
		r->types[c] = duckdb_column_logical_type(&r->res, c);
	while ((chunk = duckdb_fetch_chunk(r->res)) != NULL) {
		idx_t n = duckdb_data_chunk_get_size(chunk);
		if (n == 0) {
			duckdb_destroy_data_chunk(&chunk);
			continue;
		}
		if (r->nchunks == alloc) {
			alloc = alloc ? alloc * 2 : 4;
			r->chunks = apf_xrealloc(r->chunks, alloc * sizeof(*r->chunks));
			r->starts = apf_xrealloc(r->starts, alloc * sizeof(*r->starts));
		}
		r->chunks[r->nchunks] = chunk;
		r->starts[r->nchunks] = r->rows;
		r->nchunks++;
		r->rows += n;
	}
	if (r->kind == DUCKDB_RESULT_TYPE_CHANGED_ROWS && r->rows > 0 && r->cols > 0)
		r->changes = (uint64_t)apf_db_result_i64(r, 0, 0);
	return r;
}

/* Finds the vector and index of a cell; returns 0, or -1 out of range. */
static int cell(const struct apf_db_result *r, uint64_t col, uint64_t row, duckdb_vector *vec,
		idx_t *idx)
{
	size_t lo = 0, hi;

	if (!r || col >= r->cols || row >= r->rows)
		return -1;
	hi = r->nchunks;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->starts[mid] <= row)
			lo = mid;
		else
			hi = mid;
	}
	*vec = duckdb_data_chunk_get_vector(r->chunks[lo], col);
	*idx = row - r->starts[lo];
	return 0;
}

static int vec_is_null(duckdb_vector v, idx_t i)
{
	uint64_t *validity = duckdb_vector_get_validity(v);
	return validity && !duckdb_validity_row_is_valid(validity, i);
}

static duckdb_hugeint hugeint_of(int64_t v)
{
	duckdb_hugeint h = { (uint64_t)v, v < 0 ? -1 : 0 };
	return h;
}

/* The integer in a vector of an integer type; 0 when it is none. */
static int vec_int(duckdb_vector v, duckdb_type type, idx_t i, int64_t *out)
{
	void *d = duckdb_vector_get_data(v);

	switch (type) {
	case DUCKDB_TYPE_BOOLEAN: *out = ((bool *)d)[i]; return 0;
	case DUCKDB_TYPE_TINYINT: *out = ((int8_t *)d)[i]; return 0;
	case DUCKDB_TYPE_SMALLINT: *out = ((int16_t *)d)[i]; return 0;
	case DUCKDB_TYPE_INTEGER: *out = ((int32_t *)d)[i]; return 0;
	case DUCKDB_TYPE_BIGINT: *out = ((int64_t *)d)[i]; return 0;
	case DUCKDB_TYPE_UTINYINT: *out = ((uint8_t *)d)[i]; return 0;
	case DUCKDB_TYPE_USMALLINT: *out = ((uint16_t *)d)[i]; return 0;
	case DUCKDB_TYPE_UINTEGER: *out = ((uint32_t *)d)[i]; return 0;
	case DUCKDB_TYPE_UBIGINT: {
		uint64_t u = ((uint64_t *)d)[i];
		*out = u > INT64_MAX ? INT64_MAX : (int64_t)u;
		return 0;
	}
	default:
		return -1;
	}
}

/*
 * The cell as a DuckDB value, built from the vector's data; the caller
 * destroys it.  NULL when DuckDB cannot build it or the type is one this
 * code does not know (BIGNUM).  Nested types recurse into their children.
 */
static duckdb_value vec_value(duckdb_vector v, duckdb_logical_type t, idx_t i)
{
	duckdb_type type = duckdb_get_type_id(t);
	void *d = duckdb_vector_get_data(v);
	duckdb_value val = NULL;

	if (vec_is_null(v, i))
		return duckdb_create_null_value();
	switch (type) {
	case DUCKDB_TYPE_BOOLEAN: return duckdb_create_bool(((bool *)d)[i]);
	case DUCKDB_TYPE_TINYINT: return duckdb_create_int8(((int8_t *)d)[i]);
	case DUCKDB_TYPE_SMALLINT: return duckdb_create_int16(((int16_t *)d)[i]);
	case DUCKDB_TYPE_INTEGER: return duckdb_create_int32(((int32_t *)d)[i]);
	case DUCKDB_TYPE_BIGINT: return duckdb_create_int64(((int64_t *)d)[i]);
	case DUCKDB_TYPE_UTINYINT: return duckdb_create_uint8(((uint8_t *)d)[i]);
	case DUCKDB_TYPE_USMALLINT: return duckdb_create_uint16(((uint16_t *)d)[i]);
	case DUCKDB_TYPE_UINTEGER: return duckdb_create_uint32(((uint32_t *)d)[i]);
	case DUCKDB_TYPE_UBIGINT: return duckdb_create_uint64(((uint64_t *)d)[i]);
	case DUCKDB_TYPE_FLOAT: return duckdb_create_float(((float *)d)[i]);
	case DUCKDB_TYPE_DOUBLE: return duckdb_create_double(((double *)d)[i]);
	case DUCKDB_TYPE_DATE: return duckdb_create_date(((duckdb_date *)d)[i]);
	case DUCKDB_TYPE_TIME: return duckdb_create_time(((duckdb_time *)d)[i]);
	case DUCKDB_TYPE_TIME_NS: return duckdb_create_time_ns(((duckdb_time_ns *)d)[i]);
	case DUCKDB_TYPE_TIME_TZ: return duckdb_create_time_tz_value(((duckdb_time_tz *)d)[i]);
	case DUCKDB_TYPE_TIMESTAMP: return duckdb_create_timestamp(((duckdb_timestamp *)d)[i]);
	case DUCKDB_TYPE_TIMESTAMP_TZ: return duckdb_create_timestamp_tz(((duckdb_timestamp *)d)[i]);
	case DUCKDB_TYPE_TIMESTAMP_S: return duckdb_create_timestamp_s(((duckdb_timestamp_s *)d)[i]);
	case DUCKDB_TYPE_TIMESTAMP_MS: return duckdb_create_timestamp_ms(((duckdb_timestamp_ms *)d)[i]);
	case DUCKDB_TYPE_TIMESTAMP_NS: return duckdb_create_timestamp_ns(((duckdb_timestamp_ns *)d)[i]);
	case DUCKDB_TYPE_INTERVAL: return duckdb_create_interval(((duckdb_interval *)d)[i]);
	case DUCKDB_TYPE_HUGEINT: return duckdb_create_hugeint(((duckdb_hugeint *)d)[i]);
	case DUCKDB_TYPE_UHUGEINT: return duckdb_create_uhugeint(((duckdb_uhugeint *)d)[i]);
	case DUCKDB_TYPE_UUID: {
		/* Stored as a hugeint with the top bit flipped (so that UUIDs
		 * sort as unsigned); the C API takes the unsigned form. */
		duckdb_hugeint h = ((duckdb_hugeint *)d)[i];
		duckdb_uhugeint u = { h.lower, (uint64_t)h.upper ^ ((uint64_t)1 << 63) };
		return duckdb_create_uuid(u);
	}
	case DUCKDB_TYPE_VARCHAR: {
		duckdb_string_t *s = &((duckdb_string_t *)d)[i];
		return duckdb_create_varchar_length(duckdb_string_t_data(s), duckdb_string_t_length(*s));
	}
	case DUCKDB_TYPE_BLOB: {
		duckdb_string_t *s = &((duckdb_string_t *)d)[i];
		return duckdb_create_blob((const uint8_t *)duckdb_string_t_data(s), duckdb_string_t_length(*s));
	}
	case DUCKDB_TYPE_BIT: {
		duckdb_string_t *s = &((duckdb_string_t *)d)[i];
		duckdb_bit b = { (uint8_t *)duckdb_string_t_data(s), duckdb_string_t_length(*s) };
		return duckdb_create_bit(b);
	}
	case DUCKDB_TYPE_BIGNUM: {
		/* Stored as a 3-byte header whose top bit is set for positive
		 * numbers, then the magnitude big-endian; a negative number has
		 * header and magnitude bits inverted.  The C API wants the plain
		 * magnitude and a sign. */
		duckdb_string_t *s = &((duckdb_string_t *)d)[i];
		const uint8_t *raw = (const uint8_t *)duckdb_string_t_data(s);
		idx_t len = duckdb_string_t_length(*s);
		duckdb_bignum b;

		if (len < 4)
			return NULL;
		b.is_negative = !(raw[0] & 0x80);
		b.size = len - 3;
		b.data = apf_xmalloc(b.size);
		for (idx_t k = 0; k < b.size; k++)
			b.data[k] = b.is_negative ? (uint8_t)~raw[3 + k] : raw[3 + k];
		val = duckdb_create_bignum(b);
		free(b.data);
		return val;
	}
	case DUCKDB_TYPE_DECIMAL: {
		duckdb_decimal dec;
		dec.width = duckdb_decimal_width(t);
		dec.scale = duckdb_decimal_scale(t);
		switch (duckdb_decimal_internal_type(t)) {
		case DUCKDB_TYPE_SMALLINT: dec.value = hugeint_of(((int16_t *)d)[i]); break;
		case DUCKDB_TYPE_INTEGER: dec.value = hugeint_of(((int32_t *)d)[i]); break;
		case DUCKDB_TYPE_BIGINT: dec.value = hugeint_of(((int64_t *)d)[i]); break;
		case DUCKDB_TYPE_HUGEINT: dec.value = ((duckdb_hugeint *)d)[i]; break;
		default: return NULL;
		}
		return duckdb_create_decimal(dec);
	}
	case DUCKDB_TYPE_ENUM: {
		uint64_t idx;
		switch (duckdb_enum_internal_type(t)) {
		case DUCKDB_TYPE_UTINYINT: idx = ((uint8_t *)d)[i]; break;
		case DUCKDB_TYPE_USMALLINT: idx = ((uint16_t *)d)[i]; break;
		case DUCKDB_TYPE_UINTEGER: idx = ((uint32_t *)d)[i]; break;
		default: return NULL;
		}
		return duckdb_create_enum_value(t, idx);
	}
	case DUCKDB_TYPE_LIST:
	case DUCKDB_TYPE_MAP: {
		duckdb_list_entry e = ((duckdb_list_entry *)d)[i];
		duckdb_vector child = duckdb_list_vector_get_child(v);
		duckdb_value *keys = apf_xcalloc(e.length ? e.length : 1, sizeof(*keys));
		duckdb_value *vals = apf_xcalloc(e.length ? e.length : 1, sizeof(*vals));
		duckdb_logical_type ct, kt = NULL, vt = NULL;
		int ok = 1;

		if (type == DUCKDB_TYPE_LIST) {
			ct = duckdb_list_type_child_type(t);
			for (idx_t k = 0; k < e.length && ok; k++)
				ok = (vals[k] = vec_value(child, ct, e.offset + k)) != NULL;
			if (ok)
				val = duckdb_create_list_value(ct, vals, e.length);
			duckdb_destroy_logical_type(&ct);
		} else {
			duckdb_vector kv = duckdb_struct_vector_get_child(child, 0);
			duckdb_vector vv = duckdb_struct_vector_get_child(child, 1);
			kt = duckdb_map_type_key_type(t);
			vt = duckdb_map_type_value_type(t);
			for (idx_t k = 0; k < e.length && ok; k++) {
				ok = (keys[k] = vec_value(kv, kt, e.offset + k)) != NULL &&
				     (vals[k] = vec_value(vv, vt, e.offset + k)) != NULL;
			}
			if (ok)
				val = duckdb_create_map_value(t, keys, vals, e.length);
			duckdb_destroy_logical_type(&kt);
			duckdb_destroy_logical_type(&vt);
		}
		for (idx_t k = 0; k < e.length; k++) {
			if (keys[k])
				duckdb_destroy_value(&keys[k]);
			if (vals[k])
				duckdb_destroy_value(&vals[k]);
		}
		free(keys);
		free(vals);
		return val;
	}
	case DUCKDB_TYPE_ARRAY: {
		idx_t size = duckdb_array_type_array_size(t);
		duckdb_vector child = duckdb_array_vector_get_child(v);
		duckdb_logical_type ct = duckdb_array_type_child_type(t);
		duckdb_value *vals = apf_xcalloc(size ? size : 1, sizeof(*vals));
		int ok = 1;

		for (idx_t k = 0; k < size && ok; k++)
			ok = (vals[k] = vec_value(child, ct, i * size + k)) != NULL;
		if (ok)
			val = duckdb_create_array_value(ct, vals, size);
		for (idx_t k = 0; k < size; k++)
			if (vals[k])
				duckdb_destroy_value(&vals[k]);
		free(vals);
		duckdb_destroy_logical_type(&ct);
		return val;
	}
	case DUCKDB_TYPE_STRUCT: {
		idx_t nc = duckdb_struct_type_child_count(t);
		duckdb_value *vals = apf_xcalloc(nc ? nc : 1, sizeof(*vals));
		int ok = 1;

		for (idx_t k = 0; k < nc && ok; k++) {
			duckdb_logical_type ct = duckdb_struct_type_child_type(t, k);
			ok = (vals[k] = vec_value(duckdb_struct_vector_get_child(v, k), ct, i)) != NULL;
			duckdb_destroy_logical_type(&ct);
		}
		if (ok)
			val = duckdb_create_struct_value(t, vals);
		for (idx_t k = 0; k < nc; k++)
			if (vals[k])
				duckdb_destroy_value(&vals[k]);
		free(vals);
		return val;
	}
	case DUCKDB_TYPE_UNION: {
		/* A struct whose first child is the tag. */
		uint8_t tag = ((uint8_t *)duckdb_vector_get_data(duckdb_struct_vector_get_child(v, 0)))[i];
		duckdb_logical_type mt = duckdb_union_type_member_type(t, tag);
		duckdb_value member = vec_value(duckdb_struct_vector_get_child(v, (idx_t)tag + 1), mt, i);

		if (member) {
			val = duckdb_create_union_value(t, tag, member);
			duckdb_destroy_value(&member);
		}
		duckdb_destroy_logical_type(&mt);
		return val;
	}
	default:
		return NULL;
	}
}

char *apf_db_result_text(struct apf_db_result *r, uint64_t col, uint64_t row)
{
	duckdb_type type;
	duckdb_vector v;
	duckdb_value val;
	idx_t i;
	int64_t n;
	char *s, *out;

	if (cell(r, col, row, &v, &i) || vec_is_null(v, i))
		return NULL;
	type = duckdb_get_type_id(r->types[col]);
	/* The common types directly; the rest as DuckDB casts them. */
	if (type == DUCKDB_TYPE_VARCHAR) {
		duckdb_string_t *st = &((duckdb_string_t *)duckdb_vector_get_data(v))[i];
		return apf_xstrndup(duckdb_string_t_data(st), duckdb_string_t_length(*st));
	}
	if (type == DUCKDB_TYPE_BOOLEAN)
		return apf_xstrdup(((bool *)duckdb_vector_get_data(v))[i] ? "true" : "false");
	if (type != DUCKDB_TYPE_UBIGINT && !vec_int(v, type, i, &n))
		return apf_xasprintf("%" PRId64, n);
	val = vec_value(v, r->types[col], i);
	if (!val)
		return apf_xasprintf("(value of DuckDB type %d)", (int)type);
	s = duckdb_get_varchar(val);
	out = apf_xstrdup(s ? s : "");
	duckdb_free(s);
	duckdb_destroy_value(&val);
	return out;
}

int apf_db_result_is_null(struct apf_db_result *r, uint64_t col, uint64_t row)
{
	duckdb_vector v;
	idx_t i;

	return cell(r, col, row, &v, &i) || vec_is_null(v, i);
}

const char *apf_db_result_str(struct apf_db_result *r, uint64_t col, uint64_t row, size_t *len)
{
	duckdb_vector v;
	idx_t i;
	duckdb_string_t *st;

	*len = 0;
	if (cell(r, col, row, &v, &i) || vec_is_null(v, i) || duckdb_get_type_id(r->types[col]) != DUCKDB_TYPE_VARCHAR)
		return NULL;
	st = &((duckdb_string_t *)duckdb_vector_get_data(v))[i];
	*len = duckdb_string_t_length(*st);
	return duckdb_string_t_data(st);
}

double apf_db_result_f64(struct apf_db_result *r, uint64_t col, uint64_t row)
{
	duckdb_vector v;
	duckdb_type type;
	idx_t i;
	int64_t n;

	if (cell(r, col, row, &v, &i) || vec_is_null(v, i))
		return NAN;
	type = duckdb_get_type_id(r->types[col]);
	if (type == DUCKDB_TYPE_DOUBLE)
		return ((double *)duckdb_vector_get_data(v))[i];
	if (type == DUCKDB_TYPE_FLOAT)
		return ((float *)duckdb_vector_get_data(v))[i];
	if (!vec_int(v, type, i, &n))
		return (double)n;
	return NAN;
}

int64_t apf_db_result_i64(struct apf_db_result *r, uint64_t col, uint64_t row)
{
	duckdb_vector v;
	idx_t i;
	int64_t n = 0;
	char *s, *end;

	if (cell(r, col, row, &v, &i) || vec_is_null(v, i))
		return 0;
	if (!vec_int(v, duckdb_get_type_id(r->types[col]), i, &n))
		return n;
	s = apf_db_result_text(r, col, row);
	if (s && apf_parse_i64(s, &n)) {
		double d = strtod(s, &end);
		n = *end || !(d > (double)INT64_MIN && d < (double)INT64_MAX) ? 0 : (int64_t)d;
	}
	free(s);
	return n;
}

uint64_t apf_db_result_rows(const struct apf_db_result *r) { return r ? r->rows : 0; }
uint64_t apf_db_result_cols(const struct apf_db_result *r) { return r ? r->cols : 0; }
uint64_t apf_db_result_changes(struct apf_db_result *r) { return r ? r->changes : 0; }

int apf_db_result_is_query(const struct apf_db_result *r)
{
	return r && r->kind == DUCKDB_RESULT_TYPE_QUERY_RESULT;
}

const char *apf_db_result_colname(const struct apf_db_result *r, uint64_t col)
{
	/* duckdb_column_name() takes a non-const pointer but only reads. */
	return r && col < r->cols ? duckdb_column_name((duckdb_result *)&r->res, col) : NULL;
}

enum apf_db_coltype apf_db_result_coltype(const struct apf_db_result *r, uint64_t col)
{
	if (!r || col >= r->cols)
		return APF_DB_COL_OTHER;
	switch (duckdb_get_type_id(r->types[col])) {
	case DUCKDB_TYPE_VARCHAR:
		return APF_DB_COL_TEXT;
	case DUCKDB_TYPE_BOOLEAN:
		return APF_DB_COL_BOOL;
	case DUCKDB_TYPE_TINYINT: case DUCKDB_TYPE_SMALLINT: case DUCKDB_TYPE_INTEGER:
	case DUCKDB_TYPE_BIGINT: case DUCKDB_TYPE_UTINYINT: case DUCKDB_TYPE_USMALLINT:
	case DUCKDB_TYPE_UINTEGER: case DUCKDB_TYPE_UBIGINT: case DUCKDB_TYPE_HUGEINT:
	case DUCKDB_TYPE_UHUGEINT:
		return APF_DB_COL_INT;
	case DUCKDB_TYPE_FLOAT: case DUCKDB_TYPE_DOUBLE: case DUCKDB_TYPE_DECIMAL:
		return APF_DB_COL_REAL;
	default:
		return APF_DB_COL_OTHER;
	}
}

/* ---- statements ---- */

int apf_db_exec(struct apf_db *db, const char *sql, struct apf_err *err)
{
	return exec_simple(db->conn, sql, err);
}

int apf_db_query(struct apf_db *db, const char *sql, struct apf_db_result **out, struct apf_err *err)
{
	duckdb_result res;

	if (duckdb_query(db->conn, sql, &res) == DuckDBError) {
		int rc = result_error(&res, err);
		duckdb_destroy_result(&res);
		return rc;
	}
	*out = wrap_result(&res);
	return 0;
}

int apf_db_query_i64(struct apf_db *db, const char *sql, int64_t *out, struct apf_err *err)
{
	struct apf_db_result *r = NULL;
	int rc = apf_db_query(db, sql, &r, err);

	if (rc)
		return rc;
	if (apf_db_result_rows(r) == 0 || apf_db_result_cols(r) == 0 || apf_db_result_is_null(r, 0, 0))
		rc = apf_error(err, APF_ENOTFOUND, "query returned no value");
	else
		*out = apf_db_result_i64(r, 0, 0);
	apf_db_result_free(r);
	return rc;
}

int apf_db_begin(struct apf_db *db, struct apf_err *err)
{
	return exec_simple(db->conn, "BEGIN TRANSACTION", err);
}

int apf_db_commit(struct apf_db *db, struct apf_err *err)
{
	return exec_simple(db->conn, "COMMIT", err);
}

void apf_db_rollback(struct apf_db *db)
{
	struct apf_err ignored;

	exec_simple(db->conn, "ROLLBACK", &ignored);
}

int apf_db_set_variable(struct apf_db *db, const char *name, const char *value, struct apf_err *err)
{
	char *lit, *sql;
	int rc;

	if (!apf_db_name_valid(name))
		return apf_error(err, APF_EUSAGE, "bad variable name '%s': expected [A-Za-z_][A-Za-z0-9_]*",
				 name ? name : "");
	lit = apf_db_quote_literal(value);
	sql = apf_xasprintf("SET VARIABLE %s = %s%s", name, lit, value ? "" : "::VARCHAR");
	rc = exec_simple(db->conn, sql, err);
	free(sql);
	free(lit);
	return rc;
}

int apf_db_prepare(struct apf_db *db, const char *sql, struct apf_db_stmt **out, struct apf_err *err)
{
	struct apf_db_stmt *st = apf_xcalloc(1, sizeof(*st));

	if (duckdb_prepare(db->conn, sql, &st->ps) == DuckDBError) {
		const char *msg = duckdb_prepare_error(st->ps);
		int rc = apf_error(err, APF_ESQL, "%s", msg ? msg : "cannot prepare statement");
		apf_db_stmt_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

static int bound(struct apf_db_stmt *st, int idx, duckdb_state s)
{
	if (s == DuckDBSuccess)
		return 0;
	if (!st->bind_error[0]) {
		unsigned long long n = (unsigned long long)duckdb_nparams(st->ps);
		if (idx < 1 || (unsigned long long)idx > n)
			snprintf(st->bind_error, sizeof(st->bind_error),
				 "cannot bind parameter %d: the statement has %llu", idx, n);
		else
			snprintf(st->bind_error, sizeof(st->bind_error), "cannot bind parameter %d", idx);
	}
	return APF_ESQL;
}

int apf_db_bind_text(struct apf_db_stmt *st, int idx, const char *s)
{
	if (!s)
		return apf_db_bind_null(st, idx);
	return bound(st, idx, duckdb_bind_varchar(st->ps, (idx_t)idx, s));
}

int apf_db_bind_i64(struct apf_db_stmt *st, int idx, int64_t v)
{
	return bound(st, idx, duckdb_bind_int64(st->ps, (idx_t)idx, v));
}

int apf_db_bind_double(struct apf_db_stmt *st, int idx, double v)
{
	return bound(st, idx, duckdb_bind_double(st->ps, (idx_t)idx, v));
}

int apf_db_bind_null(struct apf_db_stmt *st, int idx)
{
	return bound(st, idx, duckdb_bind_null(st->ps, (idx_t)idx));
}

int apf_db_stmt_exec(struct apf_db_stmt *st, struct apf_db_result **out, struct apf_err *err)
{
	duckdb_result res;

	if (st->bind_error[0])
		return apf_error(err, APF_ESQL, "%s", st->bind_error);
	if (duckdb_execute_prepared(st->ps, &res) == DuckDBError) {
		int rc = result_error(&res, err);
		duckdb_destroy_result(&res);
		return rc;
	}
	if (out)
		*out = wrap_result(&res);
	else
		duckdb_destroy_result(&res);
	return 0;
}

void apf_db_stmt_free(struct apf_db_stmt *st)
{
	if (!st)
		return;
	duckdb_destroy_prepare(&st->ps);
	free(st);
}

/* ---- streams ---- */

int apf_db_stream_open(struct apf_db_stmt *st, struct apf_db_stream **out, struct apf_err *err)
{
	duckdb_pending_result pending = NULL;
	struct apf_db_stream *s;

	if (st->bind_error[0])
		return apf_error(err, APF_ESQL, "%s", st->bind_error);
	if (duckdb_pending_prepared_streaming(st->ps, &pending) == DuckDBError) {
		const char *msg = pending ? duckdb_pending_error(pending) : NULL;
		int rc = apf_error(err, APF_ESQL, "%s", msg ? msg : "cannot start the query");
		duckdb_destroy_pending(&pending);
		return rc;
	}
	s = apf_xcalloc(1, sizeof(*s));
	if (duckdb_execute_pending(pending, &s->res) == DuckDBError) {
		int rc = result_error(&s->res, err);
		duckdb_destroy_result(&s->res);
		duckdb_destroy_pending(&pending);
		free(s);
		return rc;
	}
	duckdb_destroy_pending(&pending);
	s->cols = duckdb_column_count(&s->res);
	s->types = apf_xcalloc(s->cols ? s->cols : 1, sizeof(*s->types));
	for (uint64_t c = 0; c < s->cols; c++)
		s->types[c] = duckdb_column_logical_type(&s->res, c);
	*out = s;
	return 0;
}

int apf_db_stream_next(struct apf_db_stream *s, struct apf_db_result **out, struct apf_err *err)
{
	duckdb_data_chunk chunk = NULL;
	struct apf_db_result *r;
	idx_t n = 0;

	*out = NULL;
	while (!s->done) {
		chunk = duckdb_fetch_chunk(s->res);
		if (!chunk) {
			const char *msg = duckdb_result_error(&s->res);
			s->done = 1;
			if (msg && *msg)
				return apf_error(err, errcode_of(duckdb_result_error_type(&s->res)), "%s", msg);
			return 0;
		}
		n = duckdb_data_chunk_get_size(chunk);
		if (n)
			break;
		duckdb_destroy_data_chunk(&chunk);
	}
	if (s->done)
		return 0;
	r = apf_xcalloc(1, sizeof(*r));
	r->res = s->res;
	r->borrowed = 1;
	r->kind = DUCKDB_RESULT_TYPE_QUERY_RESULT;
	r->cols = s->cols;
	r->types = s->types;
	r->chunks = apf_xmalloc(sizeof(*r->chunks));
	r->starts = apf_xmalloc(sizeof(*r->starts));
	r->chunks[0] = chunk;
	r->starts[0] = 0;
	r->nchunks = 1;
	r->rows = n;
	*out = r;
	return 0;
}

void apf_db_stream_free(struct apf_db_stream *s)
{
	if (!s)
		return;
	for (uint64_t c = 0; c < s->cols; c++)
		duckdb_destroy_logical_type(&s->types[c]);
	free(s->types);
	duckdb_destroy_result(&s->res);
	free(s);
}
