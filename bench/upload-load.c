/*
 * upload-load.c: the HTTP load client of bench/upload.sh.
 *
 *   upload-load apflow URL CONCURRENCY FILE...   POST URL/upload (raw application/pdf)
 *   upload-load s3 URL/BUCKET CONCURRENCY FILE... PUT URL/BUCKET/raw/<sha20>.pdf
 *
 * The files are read into memory first, and CONCURRENCY requests are kept
 * in flight on keep-alive connections by one libcurl multi handle, so that
 * the client takes as little of the machine's CPU as it can: it shares the
 * CPUs with the server it measures.  An answer counts as good when its
 * status is 201 (apflow, whose JSON must carry the file's doc_id) or 200
 * (s3).  Prints one JSON line: {n, ok, errors, seconds, rate, p50_ms,
 * p99_ms, max_ms}; each failure goes to stderr with the file's name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/sha.h>

struct body {
	const char *name; /* basename */
	char *data;
	size_t len;
	char id[21];      /* the first 20 hex digits of its SHA-256 */
};

struct slot {
	CURL *h;
	struct curl_slist *hdr;
	struct body *b;
	char answer[1024];
	size_t answer_len;
	double t0;
};

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct slot *s = arg;
	size_t len = size * n, room = sizeof(s->answer) - 1 - s->answer_len;

	memcpy(s->answer + s->answer_len, p, len < room ? len : room);
	s->answer_len += len < room ? len : room;
	s->answer[s->answer_len] = '\0';
	return len;
}

static int read_file(const char *path, struct body *b)
{
	FILE *f = fopen(path, "rb");
	unsigned char md[SHA256_DIGEST_LENGTH];
	long size;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "upload-load: cannot read '%s': %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	b->len = (size_t)size;
	b->data = malloc(b->len ? b->len : 1);
	if (!b->data || fread(b->data, 1, b->len, f) != b->len) {
		fprintf(stderr, "upload-load: cannot read '%s'\n", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	b->name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	SHA256((const unsigned char *)b->data, b->len, md);
	for (int i = 0; i < 10; i++)
		snprintf(b->id + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void start(CURLM *m, struct slot *s, struct body *b, int apflow, const char *base)
{
	char url[2048], hdr[600];

	s->b = b;
	s->answer_len = 0;
	s->answer[0] = '\0';
	curl_slist_free_all(s->hdr);
	s->hdr = curl_slist_append(NULL, "Content-Type: application/pdf");
	s->hdr = curl_slist_append(s->hdr, "Expect:");
	if (apflow) {
		snprintf(url, sizeof(url), "%s/upload", base);
		snprintf(hdr, sizeof(hdr), "X-Filename: %s", b->name);
		s->hdr = curl_slist_append(s->hdr, hdr);
		curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, NULL);
	} else {
		snprintf(url, sizeof(url), "%s/raw/%s.pdf", base, b->id);
		curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, "PUT");
	}
	curl_easy_setopt(s->h, CURLOPT_URL, url);
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdr);
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, b->data);
	s->t0 = now_ms();
	curl_multi_add_handle(m, s->h);
}

int main(int argc, char **argv)
{
	int apflow, conc, nfiles, next = 0, done = 0, ok = 0, running = 0;
	struct body *bodies;
	struct slot *slots;
	double *lat, t0, seconds;
	const char *base;
	CURLM *m;

	if (argc < 5 || (strcmp(argv[1], "apflow") && strcmp(argv[1], "s3"))) {
		fprintf(stderr, "usage: upload-load apflow|s3 URL CONCURRENCY FILE...\n");
		return 2;
	}
	apflow = !strcmp(argv[1], "apflow");
	base = argv[2];
	conc = (int)strtol(argv[3], NULL, 10);
	nfiles = argc - 4;
	if (conc < 1)
		conc = 1;
	if (conc > nfiles)
		conc = nfiles;
	bodies = calloc((size_t)nfiles, sizeof(*bodies));
	lat = calloc((size_t)nfiles, sizeof(*lat));
	slots = calloc((size_t)conc, sizeof(*slots));
	if (!bodies || !lat || !slots)
		return 1;
	for (int i = 0; i < nfiles; i++)
		if (read_file(argv[4 + i], &bodies[i]))
			return 1;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conc);
	for (int i = 0; i < conc; i++) {
		slots[i].h = curl_easy_init();
		curl_easy_setopt(slots[i].h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(slots[i].h, CURLOPT_WRITEDATA, &slots[i]);
		curl_easy_setopt(slots[i].h, CURLOPT_PRIVATE, &slots[i]);
		curl_easy_setopt(slots[i].h, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(slots[i].h, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(slots[i].h, CURLOPT_TIMEOUT, 120L);
	}

	t0 = now_ms();
	for (int i = 0; i < conc; i++)
		start(m, &slots[i], &bodies[next++], apflow, base);
	while (done < nfiles) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct slot *s;
			long status = 0;
			int good;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			lat[done++] = now_ms() - s->t0;
			curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
			good = msg->data.result == CURLE_OK && status == (apflow ? 201 : 200);
			if (good && apflow) {
				char want[64];
				snprintf(want, sizeof(want), "\"doc_id\":\"%s\"", s->b->id);
				good = strstr(s->answer, want) != NULL;
			}
			if (good)
				ok++;
			else if (msg->data.result != CURLE_OK)
				fprintf(stderr, "%s: %s\n", s->b->name, curl_easy_strerror(msg->data.result));
			else
				fprintf(stderr, "%s: HTTP %ld %.200s\n", s->b->name, status, s->answer);
			curl_multi_remove_handle(m, s->h);
			if (next < nfiles)
				start(m, s, &bodies[next++], apflow, base);
		}
		if (done < nfiles)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	seconds = (now_ms() - t0) / 1e3;

	qsort(lat, (size_t)nfiles, sizeof(*lat), cmp_double);
	printf("{\"n\":%d,\"ok\":%d,\"errors\":%d,\"seconds\":%.3f,\"rate\":%.1f,\"p50_ms\":%.1f,"
	       "\"p99_ms\":%.1f,\"max_ms\":%.1f}\n",
	       nfiles, ok, nfiles - ok, seconds, nfiles / seconds, lat[nfiles / 2],
	       lat[(int)(nfiles * 0.99) < nfiles ? (int)(nfiles * 0.99) : nfiles - 1], lat[nfiles - 1]);

	for (int i = 0; i < conc; i++) {
		curl_easy_cleanup(slots[i].h);
		curl_slist_free_all(slots[i].hdr);
	}
	curl_multi_cleanup(m);
	curl_global_cleanup();
	for (int i = 0; i < nfiles; i++)
		free(bodies[i].data);
	free(bodies);
	free(lat);
	free(slots);
	return ok == nfiles ? 0 : 1;
}
