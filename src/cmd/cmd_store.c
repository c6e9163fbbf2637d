/* cmd_store.c: apflow store put|get|ls|rm|head */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apflow/jsonw.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

const char cmd_store_usage[] =
	"usage: apflow store put KEY FILE|-  [--content-type TYPE]\n"
	"       apflow store get KEY [FILE|-]\n"
	"       apflow store ls [PREFIX] [--json | -l]\n"
	"       apflow store rm KEY...\n"
	"       apflow store head KEY [--json]\n"
	"\n"
	"Works on the object store named by 'store' (--store URL): file://DIR or\n"
	"s3://BUCKET[/PREFIX] (endpoint, region and keys from s3_* settings or the\n"
	"AWS_* environment; see 'apflow config').  Keys are relative paths such as\n"
	"raw/ab12.pdf: no leading '/', no '.' or '..' segments.\n"
	"\n"
	"  put KEY FILE|-    upload FILE (or standard input) under KEY; the key shows\n"
	"                    the whole object or nothing, never a part\n"
	"  get KEY [FILE|-]  download KEY to FILE (written atomically) or to standard\n"
	"                    output (the default)\n"
	"  ls [PREFIX]       list keys starting with PREFIX, in byte order, one a line;\n"
	"                    -l adds size and modification time, --json prints an array\n"
	"                    of {key, size, mtime, etag}\n"
	"  rm KEY...         delete keys; a missing key is not an error\n"
	"  head KEY          show size, modification time and etag of KEY\n"
	"\n"
	"Exit status: 0 on success, 1 when the store refused or failed (the message\n"
	"names the object, the bucket or directory and the reason), 2 on usage errors.\n";

#define ARGS_MAX 256

static void iso_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm)) {
		snprintf(out, n, "-");
		return;
	}
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Prints {"key":..,"size":..,"mtime":..,"etag":..} without a newline.  A
 * key that is not UTF-8 keeps its bytes visible rather than fail. */
static int print_stat_json(const char *key, const struct apf_store_stat *s)
{
	char when[32];
	struct apf_jsonw jw;
	int rc = -1;

	iso_time(s->mtime, when, sizeof(when));
	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_object_begin(&jw);
	apf_jsonw_object_string(&jw, "key", key);
	apf_jsonw_object_int(&jw, "size", (int64_t)s->size);
	apf_jsonw_object_string(&jw, "mtime", s->mtime > 0 ? when : NULL);
	apf_jsonw_object_string(&jw, "etag", s->etag[0] ? s->etag : NULL);
	apf_jsonw_end(&jw);
	if (apf_jsonw_ok(&jw) && fputs(jw.buf.data, stdout) != EOF)
		rc = 0;
	apf_jsonw_release(&jw);
	return rc;
}

struct ls_state {
	int json;
	int lng;
	uint64_t count;
};

static int ls_one(const struct apf_store_stat *s, void *arg)
{
	struct ls_state *ls = arg;
	char when[32];

	if (ls->json) {
		fputs(ls->count ? ",\n " : "[\n ", stdout);
		print_stat_json(s->key, s);
	} else if (ls->lng) {
		iso_time(s->mtime, when, sizeof(when));
		printf("%12" PRIu64 "  %-20s  %s\n", s->size, when, s->key);
	} else {
		printf("%s\n", s->key);
	}
	ls->count++;
	return 0;
}

/* Copies a file to stdout. */
static int cat_file(const char *path, struct apf_err *err)
{
	char buf[1 << 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t n;

	if (fd < 0)
		return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			rc = apf_error(err, APF_EIO, "cannot copy to standard output: %s", strerror(errno));
			break;
		}
	}
	close(fd);
	if (!rc && fflush(stdout))
		rc = apf_error(err, APF_EIO, "cannot write standard output: %s", strerror(errno));
	return rc;
}

/* Downloads to a temp file (so that retries can start over), then to stdout. */
static int get_to_stdout(struct apf_store *st, const char *key, struct apf_err *err)
{
	const char *dir = getenv("TMPDIR");
	char *tmpl = apf_xasprintf("%s/apflow-get-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(tmpl), rc;

	if (fd < 0) {
		rc = apf_error(err, APF_EIO, "cannot create a temporary file in '%s': %s", dir && *dir ? dir : "/tmp",
			       strerror(errno));
		free(tmpl);
		return rc;
	}
	close(fd);
	rc = apf_store_get_file(st, key, tmpl, err);
	if (!rc)
		rc = cat_file(tmpl, err);
	unlink(tmpl);
	free(tmpl);
	return rc;
}

int cmd_store(int argc, char **argv, struct apf_ctx *ctx)
{
	const char *pos[ARGS_MAX];
	const char *sub, *content_type = NULL;
	int npos = 0, json = 0, lng = 0, rc = 0, dashdash = 0;
	struct apf_store *st = NULL;
	struct apf_err err;

	apf_err_clear(&err);
	if (argc < 2)
		return apf_cmd_usage_error("store", "missing subcommand: put, get, ls, rm or head");
	sub = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (dashdash || a[0] != '-' || !strcmp(a, "-")) {
			if (npos == ARGS_MAX)
				return apf_cmd_usage_error("store", "too many arguments");
			pos[npos++] = a;
		} else if (!strcmp(a, "--")) {
			dashdash = 1;
		} else if (!strcmp(a, "--json")) {
			json = 1;
		} else if (!strcmp(a, "-l") || !strcmp(a, "--long")) {
			lng = 1;
		} else if (!strcmp(a, "--content-type") && i + 1 < argc) {
			content_type = argv[++i];
		} else if (apf_starts_with(a, "--content-type=")) {
			content_type = a + strlen("--content-type=");
		} else {
			return apf_cmd_usage_error("store", "unknown option '%s'", a);
		}
	}
	if ((json || lng) && strcmp(sub, "ls") && !(json && !strcmp(sub, "head")))
		return apf_cmd_usage_error("store", "%s is for 'ls'%s", json ? "--json" : "-l",
					   json ? " and 'head'" : "");
	if (content_type && strcmp(sub, "put"))
		return apf_cmd_usage_error("store", "--content-type is for 'put'");
	if (!strcmp(sub, "put")) {
		if (npos != 2)
			return apf_cmd_usage_error("store", "put takes KEY and FILE (or - for standard input)");
	} else if (!strcmp(sub, "get")) {
		if (npos < 1 || npos > 2)
			return apf_cmd_usage_error("store", "get takes KEY and an optional FILE");
	} else if (!strcmp(sub, "ls")) {
		if (npos > 1)
			return apf_cmd_usage_error("store", "ls takes at most one PREFIX");
		if (json && lng)
			return apf_cmd_usage_error("store", "--json and -l do not go together");
	} else if (!strcmp(sub, "rm")) {
		if (npos < 1)
			return apf_cmd_usage_error("store", "rm takes one or more KEYs");
	} else if (!strcmp(sub, "head")) {
		if (npos != 1)
			return apf_cmd_usage_error("store", "head takes one KEY");
	} else {
		return apf_cmd_usage_error("store", "unknown subcommand '%s'", sub);
	}

	st = ctx->store;

	if (!strcmp(sub, "put")) {
		const char *path = strcmp(pos[1], "-") ? pos[1] : "/dev/stdin";
		rc = apf_store_put_file(st, pos[0], path, content_type, &err);
	} else if (!strcmp(sub, "get")) {
		if (npos == 1 || !strcmp(pos[1], "-"))
			rc = get_to_stdout(st, pos[0], &err);
		else
			rc = apf_store_get_file(st, pos[0], pos[1], &err);
	} else if (!strcmp(sub, "ls")) {
		struct ls_state ls = { json, lng, 0 };
		rc = apf_store_list(st, npos ? pos[0] : "", ls_one, &ls, &err);
		if (json)
			fputs(rc ? "\n" : ls.count ? "\n]\n" : "[]\n", stdout);
	} else if (!strcmp(sub, "rm")) {
		int failed = 0;
		for (int i = 0; i < npos; i++) {
			rc = apf_store_delete(st, pos[i], &err);
			if (rc) {
				failed = rc;
				fprintf(stderr, "apflow: error: %s\n", err.msg);
			}
		}
		return failed ? apf_err_exit_code(failed) : 0;
	} else {
		struct apf_store_stat s;
		rc = apf_store_head(st, pos[0], &s, &err);
		if (!rc && json) {
			print_stat_json(pos[0], &s);
			fputc('\n', stdout);
		} else if (!rc) {
			char when[32];
			iso_time(s.mtime, when, sizeof(when));
			printf("key: %s\nsize: %" PRIu64 "\nmtime: %s\netag: %s\n", pos[0], s.size, when,
			       s.etag[0] ? s.etag : "-");
		}
	}
	if (!rc && fflush(stdout))
		rc = apf_error(&err, APF_EIO, "cannot write standard output: %s", strerror(errno));
	return rc ? apf_cmd_fail(&err) : 0;
}
