/* test_core.c: error table, capped buffers, helpers, configuration. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "apflow/atomicfile.h"
#include "apflow/buf.h"
#include "apflow/config.h"
#include "apflow/err.h"
#include "apflow/json.h"
#include "apflow/util.h"

static void test_err_table(void **state)
{
	struct apf_err err;

	(void)state;
	assert_int_equal(apf_error(&err, APF_EAUTH, "cannot put '%s': HTTP %d", "raw/x.pdf", 403), APF_EAUTH);
	assert_string_equal(err.msg, "cannot put 'raw/x.pdf': HTTP 403");
	assert_int_equal(apf_err_http_status(APF_EAUTH), 401);
	assert_int_equal(apf_err_http_status(APF_ETOOBIG), 413);
	assert_int_equal(apf_err_http_status(APF_ESTORE), 503);
	assert_int_equal(apf_err_exit_code(APF_EUSAGE), 2);
	assert_int_equal(apf_err_exit_code(APF_EIO), 1);
	assert_int_equal(apf_err_exit_code(APF_EOK), 0);
	assert_string_equal(apf_err_name(APF_ENOTFOUND), "ENOTFOUND");
	/* An error never reads as success, and out-of-range codes are internal. */
	assert_int_equal(apf_error(&err, APF_EOK, "x"), APF_EINTERNAL);
	assert_string_equal(apf_err_name(9999), "EINTERNAL");

	apf_error(&err, APF_EIO, "disk full");
	apf_error_prefix(&err, "cannot save '%s'", "a.pdf");
	assert_string_equal(err.msg, "cannot save 'a.pdf': disk full");
	assert_int_equal(err.code, APF_EIO);

	/* A prefix too long for the message keeps the buffer terminated. */
	char longp[2000];
	memset(longp, 'p', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	apf_error(&err, APF_EIO, "tail");
	apf_error_prefix(&err, "%s", longp);
	assert_true(strlen(err.msg) < APF_ERR_MSG_MAX);
}

static void test_buf_cap(void **state)
{
	struct apf_buf b;
	size_t len;
	char *p;

	(void)state;
	apf_buf_init(&b, 10);
	assert_int_equal(apf_buf_adds(&b, "hello"), 0);
	assert_int_equal(apf_buf_addf(&b, "%d", 1234), 0);
	assert_string_equal(b.data, "hello1234");
	/* 9 + 2 > 10: refused, buffer unchanged. */
	assert_int_equal(apf_buf_adds(&b, "xy"), -1);
	assert_string_equal(b.data, "hello1234");
	assert_int_equal(apf_buf_adds(&b, "z"), 0);
	assert_int_equal(b.len, 10);
	assert_int_equal(apf_buf_add(&b, "", 0), 0);
	assert_int_equal(apf_buf_addf(&b, "%s", "q"), -1);
	p = apf_buf_detach(&b, &len);
	assert_int_equal(len, 10);
	assert_string_equal(p, "hello1234z");
	free(p);
	assert_null(b.data);
	p = apf_buf_detach(&b, &len); /* an empty buffer detaches as "" */
	assert_string_equal(p, "");
	free(p);
	apf_buf_release(&b);
}

static void test_util_parse(void **state)
{
	int64_t v;
	int b;

	(void)state;
	struct apf_buf jb = APF_BUF_INIT;
	static const char raw[] = "a\"b\\c\n\r\t\x01\x1f caf\xc3\xa9 \xf0\x9f\x9a\xa2";
	apf_buf_init(&jb, 0);
	assert_int_equal(apf_json_str(&jb, raw, sizeof(raw) - 1), 0);
	assert_int_equal(apf_buf_add(&jb, "", 1), 0);
	assert_string_equal(jb.data, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f caf\xc3\xa9 \xf0\x9f\x9a\xa2\"");
	apf_buf_release(&jb);
	apf_buf_init(&jb, 4);
	assert_int_equal(apf_json_str(&jb, "abcdef", 6), -1); /* over the cap */
	apf_buf_release(&jb);
	/* Eight bytes at a time: every byte that needs an escape, at every
	 * position of strings of 0..40 bytes, among plain ASCII, UTF-8 and
	 * bytes just around the escaped ranges (0x1f/0x20, '!' '#', '[' ']'),
	 * against a byte-by-byte escaper. */
	{
		static const unsigned char fill[] = { 'a', 0x20, '!', '#', '[', ']', 0xc3, 0xa9, 0x7f, 0x80, 0xff };
		static const unsigned char special[] = { '"', '\\', '\n', '\r', '\t', 0x00, 0x01, 0x1f };
		unsigned seed = 1;
		for (size_t len = 0; len <= 40; len++)
			for (size_t pos = 0; pos <= len; pos++)
				for (size_t k = 0; k < sizeof(special); k++) {
					char in[41], want[41 * 6 + 3];
					size_t w = 0;
					struct apf_buf got = APF_BUF_INIT;
					for (size_t i = 0; i < len; i++) {
						seed = seed * 1103515245u + 12345u;
						in[i] = (char)fill[(seed >> 16) % sizeof(fill)];
					}
					if (pos < len)
						in[pos] = (char)special[k];
					want[w++] = '"';
					for (size_t i = 0; i < len; i++) {
						unsigned char c = (unsigned char)in[i];
						if (c == '"' || c == '\\')
							w += (size_t)snprintf(want + w, sizeof(want) - w, "\\%c", c);
						else if (c == '\n')
							w += (size_t)snprintf(want + w, sizeof(want) - w, "\\n");
						else if (c == '\r')
							w += (size_t)snprintf(want + w, sizeof(want) - w, "\\r");
						else if (c == '\t')
							w += (size_t)snprintf(want + w, sizeof(want) - w, "\\t");
						else if (c < 0x20)
							w += (size_t)snprintf(want + w, sizeof(want) - w, "\\u%04x", c);
						else
							want[w++] = (char)c;
					}
					want[w++] = '"';
					apf_buf_init(&got, 0);
					assert_int_equal(apf_json_str(&got, in, len), 0);
					assert_int_equal(got.len, w);
					assert_memory_equal(got.data, want, w);
					apf_buf_release(&got);
				}
	}
	int n = 7;
	assert_int_equal(apf_parse_int_in("64", 1, 64, &n), 0);
	assert_int_equal(n, 64);
	assert_int_equal(apf_parse_int_in("65", 1, 64, &n), -1);
	assert_int_equal(apf_parse_int_in("0", 1, 64, &n), -1);
	assert_int_equal(apf_parse_int_in("4x", 1, 64, &n), -1);
	assert_int_equal(apf_parse_int_in("99999999999", 1, 64, &n), -1);
	assert_int_equal(apf_parse_int_in(NULL, 1, 64, &n), -1);
	assert_int_equal(n, 64);
	assert_int_equal(apf_parse_i64_in("-5", -5, 5, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(apf_parse_i64_in("6", -5, 5, &v), -1);
	assert_int_equal(apf_parse_i64("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(apf_parse_i64("-7", &v), 0);
	assert_int_equal(v, -7);
	assert_int_equal(apf_parse_i64("4x", &v), -1);
	assert_int_equal(apf_parse_i64("", &v), -1);
	assert_int_equal(apf_parse_i64("99999999999999999999", &v), -1);
	assert_int_equal(apf_parse_bool("Yes", &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(apf_parse_bool("off", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(apf_parse_bool("maybe", &b), -1);
	assert_true(apf_secret_eq("s3cr3t", "s3cr3t"));
	assert_false(apf_secret_eq("s3cr3", "s3cr3t"));
	assert_false(apf_secret_eq("s3cr3tt", "s3cr3t"));
	assert_false(apf_secret_eq("S3cr3t", "s3cr3t"));
	assert_false(apf_secret_eq("", "s3cr3t"));
	assert_true(apf_secret_eq("", ""));
}

static void test_sha256(void **state)
{
	char hex[APF_SHA256_HEX];

	(void)state;
	apf_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	apf_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* apf_xstrndup reads no byte past n: a DuckDB string has no NUL after it
 * (the test build's strict_string_checks made strndup() look for one). */
static void test_xstrndup(void **state)
{
	char *blk = apf_xmalloc(5), *p;

	(void)state;
	memcpy(blk, "abcde", 5);
	p = apf_xstrndup(blk, 5);
	assert_string_equal(p, "abcde");
	free(p);
	p = apf_xstrndup(blk + 2, 3);
	assert_string_equal(p, "cde");
	free(p);
	blk[2] = '\0';
	p = apf_xstrndup(blk, 5);
	assert_string_equal(p, "ab");
	free(p);
	free(blk);
}

/* apf_hex and apf_hexval are inverse, in either case; other bytes are -1. */
static void test_hex(void **state)
{
	const unsigned char in[] = { 0x00, 0x9f, 0xa0, 0xff };
	char out[9];
	int got = 0;

	(void)state;
	apf_hex(in, sizeof(in), out);
	assert_string_equal(out, "009fa0ff");
	for (int i = 0; i < 8; i += 2)
		assert_int_equal(apf_hexval(out[i]) * 16 + apf_hexval(out[i + 1]), in[i / 2]);
	assert_int_equal(apf_hexval('F'), 15);
	assert_int_equal(apf_hexval('a'), 10);
	for (int c = 1; c < 256; c++)
		got += apf_hexval((char)c) >= 0;
	assert_int_equal(got, 22);
	assert_int_equal(apf_hexval('g'), -1);
	assert_int_equal(apf_hexval('/'), -1);
	assert_int_equal(apf_hexval(':'), -1);
	assert_int_equal(apf_hexval('@'), -1);
	assert_int_equal(apf_hexval('`'), -1);
}

static void test_atomic_write(void **state)
{
	char dir[] = "/tmp/apflow-unit.XXXXXX";
	char *path, *data = NULL, *sub;
	struct apf_err err;
	char hex[APF_SHA256_HEX];
	uint64_t size = 0;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	sub = apf_xasprintf("%s/a/b/c", dir);
	assert_int_equal(apf_mkdirs(sub, 0755, &err), 0);
	path = apf_xasprintf("%s/file.txt", sub);
	assert_int_equal(apf_write_file_atomic(path, "abc", 3, &err), 0);
	assert_int_equal(apf_write_file_atomic(path, "abc", 3, &err), 0); /* replaces */
	assert_int_equal(apf_read_file(path, 100, &data, &len, &err), 0);
	assert_int_equal(len, 3);
	assert_string_equal(data, "abc");
	free(data);
	assert_int_equal(apf_read_file(path, 2, &data, &len, &err), APF_ETOOBIG);
	assert_int_equal(apf_sha256_file(path, hex, &size, &err), 0);
	assert_int_equal(size, 3);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* No temp file is left beside the target. */
	char *cmd = apf_xasprintf("test $(ls -A '%s' | wc -l) -eq 1", sub);
	assert_int_equal(system(cmd), 0);
	/* The atomic-file API: a rollback leaves the target as it was and no
	 * temp file; the temp file is hidden, beside the target, named for
	 * the process; a rename that cannot happen removes the temp file. */
	{
		struct apf_atomicfile af;
		char *pfx = apf_xasprintf("%s/" APF_TMP_PREFIX "%d-", sub, (int)getpid());
		assert_int_equal(apf_atomicfile_open(&af, path, &err), 0);
		assert_int_equal(strncmp(af.tmp, pfx, strlen(pfx)), 0);
		assert_int_equal(strlen(af.tmp), strlen(pfx) + 16);
		assert_int_equal(apf_atomicfile_write(&af, "xyz!", 4, &err), 0);
		apf_atomicfile_rollback(&af);
		assert_int_equal(apf_read_file(path, 100, &data, &len, &err), 0);
		assert_string_equal(data, "abc");
		free(data);
		assert_int_equal(system(cmd), 0);
		char *sub2 = apf_xasprintf("%s/d", sub), *inner = apf_xasprintf("%s/d/x", sub);
		assert_int_equal(apf_mkdirs(inner, 0755, &err), 0);
		assert_int_equal(apf_write_file_atomic(sub2, "q", 1, &err), APF_EIO);
		assert_non_null(strstr(err.msg, "cannot rename '"));
		assert_non_null(strstr(err.msg, "/d': Is a directory"));
		assert_int_equal(rmdir(inner), 0);
		assert_int_equal(rmdir(sub2), 0);
		assert_int_equal(system(cmd), 0);
		char *nodir = apf_xasprintf("%s/no/such", dir);
		assert_int_equal(apf_write_file_atomic(nodir, "q", 1, &err), APF_EIO);
		assert_non_null(strstr(err.msg, "cannot create a temporary file beside '"));
		assert_non_null(strstr(err.msg, "/no/such': No such file or directory"));
		free(nodir);
		free(sub2);
		free(inner);
		free(pfx);
	}
	free(cmd);
	/* Directories: listed sorted, removed whole; a stale temp directory
	 * of a process that is gone is swept, a live one's is not. */
	{
		char *t = apf_xasprintf("%s/t", dir), *deep = apf_xasprintf("%s/t/b/c", dir);
		char *stale = apf_xasprintf("%s/t/apflow-x-2147483646-0/d", dir);
		char *live = apf_xasprintf("%s/t/apflow-x-%d-0", dir, (int)getpid());
		char *f = apf_xasprintf("%s/t/b/c/f", dir), **v = NULL;
		size_t nv = 0;
		assert_int_equal(apf_mkdirs(deep, 0755, &err), 0);
		assert_int_equal(apf_mkdirs(stale, 0755, &err), 0);
		assert_int_equal(apf_mkdirs(live, 0755, &err), 0);
		assert_int_equal(apf_write_file_atomic(f, "x", 1, &err), 0);
		assert_int_equal(apf_list_dir(t, 0, &v, &nv, &err), 0);
		assert_int_equal(nv, 3);
		assert_true(strcmp(v[0], v[1]) < 0); /* sorted */
		assert_string_equal(v[2], "b");
		apf_list_free(v, nv);
		apf_remove_stale_temps(t, "apflow-x-");
		assert_int_equal(apf_list_dir(t, 0, &v, &nv, &err), 0);
		assert_int_equal(nv, 2);
		assert_string_equal(v[0], live + strlen(t) + 1);
		apf_list_free(v, nv);
		apf_rmtree(t);
		assert_int_equal(apf_list_dir(t, 1, &v, &nv, &err), 0);
		assert_int_equal(nv, 0);
		assert_int_equal(apf_list_dir(t, 0, &v, &nv, &err), APF_EIO);
		assert_non_null(strstr(err.msg, "cannot read directory '"));
		free(t);
		free(deep);
		free(stale);
		free(live);
		free(f);
	}
	/* A missing file is ENOTFOUND and names the path. */
	char *missing = apf_xasprintf("%s/nope", dir);
	assert_int_equal(apf_read_file(missing, 100, &data, &len, &err), APF_ENOTFOUND);
	assert_non_null(strstr(err.msg, "nope"));
	free(missing);
	cmd = apf_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(path);
	free(sub);
}

static void test_config_precedence(void **state)
{
	char dir[] = "/tmp/apflow-unit.XXXXXX";
	struct apf_config cfg;
	struct apf_err err;
	char *file, shown[256], origin[256];

	(void)state;
	assert_non_null(mkdtemp(dir));
	file = apf_xasprintf("%s/apflow.conf", dir);
	const char *text = "# settings\n"
			   "data_dir = /srv/apflow\n"
			   "s3_region = eu-west-1\n"
			   "argilla_api_key = \"argilla.secret-key\"\n"
			   "lock_timeout = 5\n";
	assert_int_equal(apf_write_file_atomic(file, text, strlen(text), &err), 0);

	setenv("AWS_REGION", "auto", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-very-secret", 1);
	assert_int_equal(apf_config_load(&cfg, file, &err), 0);
	/* file beats default, env beats file, flag beats env */
	assert_string_equal(apf_config_get(&cfg, APF_CFG_DATA_DIR), "/srv/apflow");
	assert_string_equal(apf_config_get(&cfg, APF_CFG_S3_REGION), "auto");
	assert_int_equal(apf_config_set_flag(&cfg, "s3_region", "us-west-2", "-c", &err), 0);
	assert_string_equal(apf_config_get(&cfg, APF_CFG_S3_REGION), "us-west-2");
	apf_config_origin(&cfg, APF_CFG_S3_REGION, origin, sizeof(origin));
	assert_string_equal(origin, "flag -c");
	apf_config_origin(&cfg, APF_CFG_DATA_DIR, origin, sizeof(origin));
	assert_non_null(strstr(origin, "apflow.conf:2"));
	assert_int_equal(apf_config_get_i64(&cfg, APF_CFG_LOCK_TIMEOUT, 60), 5);
	/* The default store follows data_dir. */
	assert_string_equal(apf_config_get(&cfg, APF_CFG_STORE), "file:///srv/apflow/lake");
	/* Secrets are never shown. */
	assert_string_equal(apf_config_get(&cfg, APF_CFG_ARGILLA_API_KEY), "argilla.secret-key");
	apf_config_display(&cfg, APF_CFG_ARGILLA_API_KEY, shown, sizeof(shown));
	assert_string_equal(shown, "(set, hidden)");
	apf_config_display(&cfg, APF_CFG_S3_SECRET_ACCESS_KEY, shown, sizeof(shown));
	assert_string_equal(shown, "(set, hidden)");
	apf_config_display(&cfg, APF_CFG_MOTHERDUCK_TOKEN, shown, sizeof(shown));
	assert_string_equal(shown, "(unset)");
	assert_int_equal(apf_config_set_flag(&cfg, "no_such_key", "1", "-c", &err), APF_EUSAGE);
	assert_non_null(strstr(err.msg, "no_such_key"));
	apf_config_release(&cfg);
	unsetenv("AWS_REGION");
	unsetenv("AWS_SECRET_ACCESS_KEY");

	/* An unknown key in the file is an error naming file:line. */
	const char *bad = "data_dir = x\nbogus = 1\n";
	assert_int_equal(apf_write_file_atomic(file, bad, strlen(bad), &err), 0);
	assert_int_equal(apf_config_load(&cfg, file, &err), APF_ECONFIG);
	assert_non_null(strstr(err.msg, "apflow.conf:2: unknown setting 'bogus'"));
	const char *noeq = "data_dir\n";
	assert_int_equal(apf_write_file_atomic(file, noeq, strlen(noeq), &err), 0);
	assert_int_equal(apf_config_load(&cfg, file, &err), APF_ECONFIG);
	assert_non_null(strstr(err.msg, "apflow.conf:1: expected 'key = value'"));
	/* An empty value reads as unset but is told apart: from an empty
	 * environment variable where nothing else set the key, the file or a
	 * flag.  An empty variable does not hide a file value or a default. */
	const char *empties = "upload_token =\ns3_endpoint = ''\nargilla_api_key = k-from-file\n";
	assert_int_equal(apf_write_file_atomic(file, empties, strlen(empties), &err), 0);
	setenv("APFLOW_UPLOAD_TOKEN", "", 1);
	setenv("motherduck_token", "", 1);
	setenv("ARGILLA_API_KEY", "", 1);
	setenv("APFLOW_LISTEN", "", 1);
	assert_int_equal(apf_config_load(&cfg, file, &err), 0);
	assert_null(apf_config_get(&cfg, APF_CFG_UPLOAD_TOKEN));
	assert_true(apf_config_is_empty(&cfg, APF_CFG_UPLOAD_TOKEN));
	apf_config_display(&cfg, APF_CFG_UPLOAD_TOKEN, shown, sizeof(shown));
	assert_string_equal(shown, "(empty: invalid)");
	apf_config_origin(&cfg, APF_CFG_UPLOAD_TOKEN, origin, sizeof(origin));
	assert_non_null(strstr(origin, "apflow.conf:1"));
	assert_null(apf_config_get(&cfg, APF_CFG_MOTHERDUCK_TOKEN));
	assert_true(apf_config_is_empty(&cfg, APF_CFG_MOTHERDUCK_TOKEN));
	apf_config_display(&cfg, APF_CFG_MOTHERDUCK_TOKEN, shown, sizeof(shown));
	assert_string_equal(shown, "(empty: unset)");
	apf_config_origin(&cfg, APF_CFG_MOTHERDUCK_TOKEN, origin, sizeof(origin));
	assert_string_equal(origin, "env motherduck_token");
	apf_config_display(&cfg, APF_CFG_S3_ENDPOINT, shown, sizeof(shown));
	assert_string_equal(shown, "(empty: unset)");
	assert_string_equal(apf_config_get(&cfg, APF_CFG_ARGILLA_API_KEY), "k-from-file");
	assert_false(apf_config_is_empty(&cfg, APF_CFG_ARGILLA_API_KEY));
	assert_string_equal(apf_config_get(&cfg, APF_CFG_LISTEN), "127.0.0.1:8080");
	apf_config_origin(&cfg, APF_CFG_LISTEN, origin, sizeof(origin));
	assert_string_equal(origin, "default");
	assert_false(apf_config_is_empty(&cfg, APF_CFG_DEEPSEEK_API_KEY));
	apf_config_display(&cfg, APF_CFG_DEEPSEEK_API_KEY, shown, sizeof(shown));
	assert_string_equal(shown, "(unset)");
	/* A flag sets it empty, or back to a value. */
	assert_int_equal(apf_config_set_flag(&cfg, "upload_token", "tok-secret", "--upload-token", &err), 0);
	apf_config_display(&cfg, APF_CFG_UPLOAD_TOKEN, shown, sizeof(shown));
	assert_string_equal(shown, "(set, hidden)");
	assert_int_equal(apf_config_set_flag(&cfg, "deepseek_api_key", "", "-c", &err), 0);
	apf_config_display(&cfg, APF_CFG_DEEPSEEK_API_KEY, shown, sizeof(shown));
	assert_string_equal(shown, "(empty: unset)");
	apf_config_release(&cfg);
	unsetenv("APFLOW_UPLOAD_TOKEN");
	unsetenv("motherduck_token");
	unsetenv("ARGILLA_API_KEY");
	unsetenv("APFLOW_LISTEN");

	/* Found while writing fuzz_config: after a NUL byte the rest of the file was
	 * silently ignored (here the warehouse setting). */
	static const char nul[] = "data_dir = x\n# note\0\nwarehouse = motherduck\n";
	assert_int_equal(apf_write_file_atomic(file, nul, sizeof(nul) - 1, &err), 0);
	assert_int_equal(apf_config_load(&cfg, file, &err), APF_ECONFIG);
	assert_non_null(strstr(err.msg, "apflow.conf:2: NUL byte: not a text file"));

	unlink(file);
	rmdir(dir);
	free(file);
}

/* The one ISO 8601 reader: each form S3, Argilla and --since use, the
 * limits of each field, and every day of 1900-2100 against timegm(). */
static void test_iso8601(void **state)
{
	static const struct {
		const char *s;
		int64_t us;
	} ok[] = {
		{ "1994-11-06T08:49:37.000Z", 784111777000000 },   /* S3 LastModified */
		{ "2024-07-01T10:05:00.654321", 1719828300654321 }, /* Argilla, naive: UTC */
		{ "2024-07-01 10:05", 1719828300000000 },
		{ "2024-07-01", 1719792000000000 },
		{ "2024-07-01t10:05:00z", 1719828300000000 },
		{ "2024-07-01T12:05:00+02:00", 1719828300000000 },
		{ "2024-07-01T12:05:00+0200", 1719828300000000 },
		{ "2024-07-01T12:05:00+02", 1719828300000000 },
		{ "2024-07-01T04:35:00.5-05:30", 1719828300500000 },
		{ "2024-07-01T10:05:00,25Z", 1719828300250000 },
		{ "2024-07-01T10:05:00.1234567891Z", 1719828300123456 }, /* past µs: dropped */
		{ "2024-02-29T00:00:00Z", 1709164800000000 },  /* leap year */
		{ "2000-02-29", 951782400000000 },             /* divisible by 400 */
		{ "2016-12-31T23:59:60Z", 1483228800000000 },  /* leap second: the next minute */
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1969-12-31T23:59:59.5Z", -500000 },
		{ "0001-01-01", -62135596800000000 },
		{ "9999-12-31T23:59:59Z", 253402300799000000 },
	};
	static const char *const bad[] = {
		"", "2024", "2024-7-01", "2024-07-1", "24-07-01", "2024/07/01", "2024-00-10", "2024-13-01",
		"2024-04-31", "2023-02-29", "1900-02-29", "2024-07-00", "2024-07-01T24:00", "2024-07-01T10:60",
		"2024-07-01T10:05:61", "2024-07-01T10", "2024-07-01T10:5", "2024-07-01T10:05:00.",
		"2024-07-01T10:05:00.Z", "2024-07-01T10:05:00+2", "2024-07-01T10:05:00+24:00",
		"2024-07-01T10:05:00+02:60", "2024-07-01T10:05:00+02:", "2024-07-01T10:05:00 Z",
		"2024-07-01T10:05:00ZZ", "2024-07-01xyz", "2024-07-01Z", "yesterday", " 2024-07-01",
		"2024-07-01T10:05:00.5\xef\xbc\xba", "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x94-07-01",
	};
	int64_t us;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		us = 42;
		if (apf_parse_iso8601(ok[i].s, &us) != 0 || us != ok[i].us)
			fail_msg("'%s': got %" PRId64 ", want %" PRId64, ok[i].s, us, ok[i].us);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		us = 42;
		if (apf_parse_iso8601(bad[i], &us) != -1 || us != 42)
			fail_msg("'%s' was read as %" PRId64, bad[i], us);
	}
	assert_int_equal(apf_parse_iso8601(NULL, &us), -1);
	for (int64_t day = -25567; day <= 47482; day++) { /* 1900-01-01 .. 2100-01-01 */
		time_t t = (time_t)(day * 86400 + 3723);
		struct tm tm;
		char s[32];

		gmtime_r(&t, &tm);
		strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (apf_parse_iso8601(s, &us) || us != (int64_t)t * 1000000)
			fail_msg("'%s': got %" PRId64 ", want %" PRId64, s, us, (int64_t)t * 1000000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_table),
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_util_parse),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_xstrndup),
		cmocka_unit_test(test_atomic_write),
		cmocka_unit_test(test_config_precedence),
		cmocka_unit_test(test_iso8601),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
