/* util.c: allocation, strings, files, time, hashing (see util.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "apflow/log.h"
#include "apflow/atomicfile.h"
#include "apflow/util.h"

static void oom(void)
{
	fputs("apflow: fatal: out of memory\n", stderr);
	abort();
}

void *apf_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *apf_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *apf_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *apf_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

/* Reads s only up to n bytes, NUL or not: strndup() itself does, but
 * ASan's interceptor with strict_string_checks (the test build's) looks for
 * the NUL past n, and a DuckDB string is not terminated (db.c): a heap
 * overflow report whenever one ends a block. */
char *apf_xstrndup(const char *s, size_t n)
{
	const char *z = memchr(s, '\0', n);
	size_t len = z ? (size_t)(z - s) : n;
	char *p = apf_xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *apf_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	return p;
}

size_t apf_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int apf_starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

int apf_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

int apf_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int apf_parse_i64_in(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t v;

	if (!s || apf_parse_i64(s, &v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int apf_parse_int_in(const char *s, int lo, int hi, int *out)
{
	int64_t v;

	if (apf_parse_i64_in(s, lo, hi, &v))
		return -1;
	*out = (int)v;
	return 0;
}

int apf_parse_bool(const char *s, int *out)
{
	static const char *yes[] = { "1", "yes", "true", "on" };
	static const char *no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int apf_secret_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);

	/* Walk the expected secret's length whatever the input, so the time
	 * depends only on the lengths, never on where the first mismatch is. */
	for (size_t i = 0; i < lb; i++)
		diff |= (unsigned char)(b[i] ^ (i < la ? a[i] : 0));
	return diff == 0;
}

void apf_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int apf_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

struct apf_sha256 {
	EVP_MD_CTX *ctx;
};

struct apf_sha256 *apf_sha256_new(void)
{
	struct apf_sha256 *h = apf_xmalloc(sizeof(*h));

	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		oom();
	return h;
}

void apf_sha256_update(struct apf_sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void apf_sha256_final_hex(struct apf_sha256 *h, char out[APF_SHA256_HEX])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_DigestFinal_ex(h->ctx, md, &n);
	apf_hex(md, 32, out);
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void apf_sha256_hex(const void *data, size_t len, char out[APF_SHA256_HEX])
{
	struct apf_sha256 *h = apf_sha256_new();

	apf_sha256_update(h, data, len);
	apf_sha256_final_hex(h, out);
}

int apf_sha256_file(const char *path, char out[APF_SHA256_HEX], uint64_t *size, struct apf_err *err)
{
	unsigned char buf[1 << 16];
	struct apf_sha256 *h;
	uint64_t total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));
	h = apf_sha256_new();
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			apf_sha256_final_hex(h, out);
			return apf_error(err, APF_EIO, "cannot read '%s': %s", path, strerror(e));
		}
		apf_sha256_update(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	close(fd);
	apf_sha256_final_hex(h, out);
	if (size)
		*size = total;
	return 0;
}

int apf_read_file(const char *path, size_t max, char **out, size_t *len, struct apf_err *err)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n = 0, alloc = 0;
	int rc = 0;

	if (!f)
		return apf_error(err, errno == ENOENT ? APF_ENOTFOUND : APF_EIO, "cannot open '%s': %s",
				 path, strerror(errno));
	for (;;) {
		if (n + 4096 + 1 > alloc) {
			alloc = alloc ? alloc * 2 : 8192;
			data = apf_xrealloc(data, alloc);
		}
		size_t got = fread(data + n, 1, alloc - n - 1, f);
		n += got;
		if (n > max) {
			rc = apf_error(err, APF_ETOOBIG, "cannot read '%s': larger than %zu bytes", path, max);
			goto out;
		}
		if (got == 0) {
			if (ferror(f))
				rc = apf_error(err, APF_EIO, "cannot read '%s': %s", path, strerror(errno));
			break;
		}
	}
out:
	fclose(f);
	if (rc) {
		free(data);
		return rc;
	}
	data[n] = '\0';
	*out = data;
	if (len)
		*len = n;
	return 0;
}

int apf_fsync_dir_of(const char *path)
{
	char *copy = apf_xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	free(copy);
	if (fd < 0)
		return -1;
	/* Some file systems cannot sync a directory (EINVAL); rename is then
	 * as durable as they make it. */
	if (fsync(fd) && errno != EINVAL)
		rc = -1;
	close(fd);
	return rc;
}

int apf_write_file_atomic(const char *path, const void *data, size_t len, struct apf_err *err)
{
	struct apf_atomicfile af;
	int rc = apf_atomicfile_open(&af, path, err);

	if (!rc)
		rc = apf_atomicfile_write(&af, data, len, err);
	if (!rc)
		rc = apf_atomicfile_commit(&af, err);
	return rc;
}

int apf_mkdirs(const char *path, int mode, struct apf_err *err)
{
	char *p = apf_xstrdup(path);
	int rc = 0;

	for (char *s = p + 1; ; s++) {
		char c = *s;
		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) && errno != EEXIST) {
			rc = apf_error(err, APF_EIO, "cannot create directory '%s': %s", p, strerror(errno));
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return rc;
}

int64_t apf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t apf_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void apf_sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* n decimal digits at s, exactly; 0 or -1. */
static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

int apf_parse_iso8601(const char *s, int64_t *us)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0, leap;
	int64_t frac = 0, t;
	const char *p = s;

	if (!s || digits(p, 4, &y) || p[4] != '-' || digits(p + 5, 2, &mo) || p[7] != '-' || digits(p + 8, 2, &d))
		return -1;
	p += 10;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi) || h > 23 || mi > 59)
			return -1;
		p += 6;
		if (*p == ':') {
			if (digits(p + 1, 2, &sec) || sec > 60) /* 60: a leap second */
				return -1;
			p += 3;
			if (*p == '.' || *p == ',') {
				int64_t scale = 100000;

				if (p[1] < '0' || p[1] > '9')
					return -1;
				for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
					frac += (*p - '0') * scale;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p == '+' ? 1 : -1;
			if (digits(p + 1, 2, &oh))
				return -1;
			p += 3;
			if (*p == ':' || (*p >= '0' && *p <= '9')) {
				p += *p == ':';
				if (digits(p, 2, &om))
					return -1;
				p += 2;
			}
			if (oh > 23 || om > 59)
				return -1;
		}
	}
	if (*p)
		return -1;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	*us = t * 1000000 + frac;
	return 0;
}

uint64_t apf_rand64(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t state;
	uint64_t z;

	pthread_mutex_lock(&lock);
	if (!state)
		state = (uint64_t)apf_wall_us() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
	state += 0x9e3779b97f4a7c15ULL; /* splitmix64 */
	z = state;
	pthread_mutex_unlock(&lock);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void apf_remove_stale_temps(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int64_t pid;
		char num[24];
		const char *p, *dash;

		if (!apf_starts_with(e->d_name, prefix))
			continue;
		p = e->d_name + strlen(prefix);
		dash = strchr(p, '-');
		if (!dash || (size_t)(dash - p) >= sizeof(num))
			continue;
		memcpy(num, p, (size_t)(dash - p));
		num[dash - p] = '\0';
		if (apf_parse_i64(num, &pid) || pid <= 0)
			continue;
		if (pid != (int64_t)getpid() && kill((pid_t)pid, 0) && errno == ESRCH) {
			char *path = apf_xasprintf("%s/%s", dir, e->d_name);
			apf_rmtree(path);
			apf_log_debug("removed stale temp file '%s'", path);
			free(path);
		}
	}
	closedir(d);
}

void apf_rmtree(const char *path)
{
	struct stat sb;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &sb) || !S_ISDIR(sb.st_mode)) {
		unlink(path);
		return;
	}
	if ((d = opendir(path))) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *p = apf_xasprintf("%s/%s", path, e->d_name);
			apf_rmtree(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(path);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int apf_list_dir(const char *dir, int missing_ok, char ***out, size_t *n, struct apf_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (!d) {
		if (errno == ENOENT && missing_ok)
			return 0;
		return apf_error(err, APF_EIO, "cannot read directory '%s': %s", dir, strerror(errno));
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		v = apf_xrealloc(v, (k + 1) * sizeof(*v));
		v[k++] = apf_xstrdup(e->d_name);
	}
	closedir(d);
	if (k)
		qsort(v, k, sizeof(*v), cmp_name);
	*out = v;
	*n = k;
	return 0;
}

void apf_list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
