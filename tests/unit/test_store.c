/*
 * test_store.c: the object store's pieces that need no server: the SigV4
 * signer against AWS's published examples, key checks, the S3 XML parser,
 * the retry arithmetic, and the file:// backend end to end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "apflow/config.h"
#include "apflow/http.h"
#include "apflow/store.h"
#include "apflow/util.h"
#include "core/s3xml.h"
#include "core/sigv4.h"
#include "core/store_impl.h"

/* The example credentials of AWS's SigV4 documentation for S3
 * ("Signature Calculations for the Authorization Header"). */
#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HOST "examplebucket.s3.amazonaws.com"
#define DATE "20130524T000000Z"

static void sign(const char *method, const char *uri, const char *query, const struct apf_sigv4_pair *h,
		 size_t n, const char *payload, struct apf_buf *auth, struct apf_buf *creq)
{
	struct apf_sigv4_input in;

	memset(&in, 0, sizeof(in));
	in.method = method;
	in.canonical_uri = uri;
	in.canonical_query = query;
	in.headers = h;
	in.nheaders = n;
	in.payload_hash = payload;
	in.amz_date = DATE;
	in.region = "us-east-1";
	in.service = "s3";
	in.access_key_id = AK;
	in.secret_access_key = SK;
	assert_int_equal(apf_sigv4_authorization(&in, auth, creq, NULL), 0);
}

static void test_sigv4_get_object(void **state)
{
	/* GET /test.txt with Range: bytes=0-9. */
	struct apf_sigv4_pair h[] = {
		{ "Host", HOST },
		{ "Range", "bytes=0-9" },
		{ "x-amz-content-sha256", APF_SIGV4_EMPTY_SHA256 },
		{ "x-amz-date", DATE },
	};
	struct apf_buf auth = APF_BUF_INIT, creq = APF_BUF_INIT;

	(void)state;
	sign("GET", "/test.txt", "", h, 4, APF_SIGV4_EMPTY_SHA256, &auth, &creq);
	assert_string_equal(creq.data,
			    "GET\n/test.txt\n\n"
			    "host:examplebucket.s3.amazonaws.com\n"
			    "range:bytes=0-9\n"
			    "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
			    "x-amz-date:20130524T000000Z\n"
			    "\n"
			    "host;range;x-amz-content-sha256;x-amz-date\n"
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(auth.data,
			    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
			    "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
			    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	apf_buf_release(&auth);
	apf_buf_release(&creq);
}

static void test_sigv4_put_object(void **state)
{
	/* PUT /test$file.text, body "Welcome to Amazon S3.", with a Date and a storage class. */
	struct apf_sigv4_pair h[] = {
		{ "Host", HOST },
		{ "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "x-amz-date", DATE },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
		{ "x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072" },
	};
	struct apf_buf auth = APF_BUF_INIT, uri = APF_BUF_INIT;
	char hash[APF_SHA256_HEX];

	(void)state;
	apf_sha256_hex("Welcome to Amazon S3.", 21, hash);
	assert_string_equal(hash, h[4].value);
	apf_buf_add(&uri, "/", 1);
	assert_int_equal(apf_sigv4_encode(&uri, "test$file.text", 1), 0);
	assert_string_equal(uri.data, "/test%24file.text");
	sign("PUT", uri.data, "", h, 5, hash, &auth, NULL);
	assert_non_null(strstr(auth.data, "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
					  "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"));
	apf_buf_release(&auth);
	apf_buf_release(&uri);
}

static void test_sigv4_bucket_queries(void **state)
{
	struct apf_sigv4_pair h[] = {
		{ "host", HOST },
		{ "x-amz-date", DATE },
		{ "x-amz-content-sha256", APF_SIGV4_EMPTY_SHA256 },
	};
	/* Given out of order: the canonical query sorts them. */
	struct apf_sigv4_pair list_q[] = { { "prefix", "J" }, { "max-keys", "2" } };
	struct apf_sigv4_pair lifecycle_q[] = { { "lifecycle", "" } };
	struct apf_buf auth = APF_BUF_INIT, q = APF_BUF_INIT;

	(void)state;
	assert_int_equal(apf_sigv4_query(&q, lifecycle_q, 1), 0);
	assert_string_equal(q.data, "lifecycle=");
	sign("GET", "/", q.data, h, 3, APF_SIGV4_EMPTY_SHA256, &auth, NULL);
	assert_non_null(strstr(auth.data, "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"));
	apf_buf_reset(&auth);
	apf_buf_reset(&q);
	assert_int_equal(apf_sigv4_query(&q, list_q, 2), 0);
	assert_string_equal(q.data, "max-keys=2&prefix=J");
	sign("GET", "/", q.data, h, 3, APF_SIGV4_EMPTY_SHA256, &auth, NULL);
	assert_non_null(strstr(auth.data, "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
	apf_buf_release(&auth);
	apf_buf_release(&q);
}

static void test_sigv4_encoding(void **state)
{
	struct apf_buf b = APF_BUF_INIT;
	struct apf_sigv4_pair q[] = {
		{ "uploadId", "a+b/c=" },
		{ "partNumber", "10" },
		{ "continuation-token", "1/2 3" },
	};
	char date[17];

	(void)state;
	/* Unreserved characters stay; '/' stays in paths only; the rest, UTF-8 bytes included, is %XX. */
	assert_int_equal(apf_sigv4_encode(&b, "raw/a b+c~d_e.f-g!*'()=&%\xc3\xa9", 1), 0);
	assert_string_equal(b.data, "raw/a%20b%2Bc~d_e.f-g%21%2A%27%28%29%3D%26%25%C3%A9");
	apf_buf_reset(&b);
	assert_int_equal(apf_sigv4_encode(&b, "a/b", 0), 0);
	assert_string_equal(b.data, "a%2Fb");
	apf_buf_reset(&b);
	assert_int_equal(apf_sigv4_query(&b, q, 3), 0);
	assert_string_equal(b.data, "continuation-token=1%2F2%203&partNumber=10&uploadId=a%2Bb%2Fc%3D");
	apf_buf_release(&b);
	apf_sigv4_amz_date((time_t)1369353600, date);
	assert_string_equal(date, DATE);
}

static void test_sigv4_header_values(void **state)
{
	/* Values are trimmed and inner runs of spaces collapsed; names lower-cased. */
	struct apf_sigv4_pair h[] = { { "X-Amz-Meta-Note", "  two   spaces  here " }, { "HOST", "h" }, { "x-amz-date", DATE } };
	struct apf_buf auth = APF_BUF_INIT, creq = APF_BUF_INIT;

	(void)state;
	sign("GET", "/k", "", h, 3, "UNSIGNED-PAYLOAD", &auth, &creq);
	assert_non_null(strstr(creq.data, "\nhost:h\nx-amz-date:" DATE "\nx-amz-meta-note:two spaces here\n\n"
					  "host;x-amz-date;x-amz-meta-note\nUNSIGNED-PAYLOAD"));
	apf_buf_release(&auth);
	apf_buf_release(&creq);
}

static void test_key_valid(void **state)
{
	static const char *good[] = { "raw/ab12.pdf", "a", "a/b/c", "a/.hidden", "..a", "a..", "x/...",
				      "argilla/in/ds/pages/doc_id=0123/part-0.parquet", "caf\xc3\xa9/\xe2\x82\xac.txt",
				      "a b+c" };
	static const char *bad[] = { "", "/abs", "../x", "a/../b", "a/..", "./a", "a/./b", "a/.", "a//b", "a/",
				     "a\\b", "a\nb", "a\x7f", "\xff", "\xc0\xaf", "\xed\xa0\x80", ".apflow-tmp-1-2",
				     "a/.apflow-tmp-x", ".." };
	char *longkey;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(apf_store_key_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(apf_store_key_valid(bad[i]));
	assert_false(apf_store_key_valid(NULL));
	longkey = apf_xmalloc(1026);
	memset(longkey, 'k', 1025);
	longkey[1025] = '\0';
	assert_false(apf_store_key_valid(longkey));
	longkey[1024] = '\0';
	assert_true(apf_store_key_valid(longkey));
	free(longkey);
}

static const char list_page[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	"<Name>bucket</Name><Prefix>raw/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
	"<IsTruncated>true</IsTruncated>"
	"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
	"<Contents><Key>raw/a&amp;b &lt;1&gt;.pdf</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
	"<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
	"<StorageClass>STANDARD</StorageClass></Contents>"
	"<Contents>\n  <Key>raw/caf&#233;&#x20AC;</Key>\n  <Size>0</Size>\n"
	"  <Owner><ID>x</ID><DisplayName>y</DisplayName></Owner></Contents>"
	"<Contents><Key><![CDATA[raw/<cdata>]]></Key><ETag>\"abc-3\"</ETag><Size>18446744073709551615</Size></Contents>"
	"</ListBucketResult>";

static void test_xml_list(void **state)
{
	struct apf_s3_list_page page;

	(void)state;
	assert_int_equal(apf_s3_parse_list(list_page, strlen(list_page), &page), 0);
	assert_true(page.truncated);
	assert_string_equal(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	assert_int_equal(page.n, 3);
	assert_string_equal(page.objects[0].key, "raw/a&b <1>.pdf");
	assert_int_equal(page.objects[0].size, 434234);
	assert_int_equal(page.objects[0].mtime, 1255369830);
	assert_string_equal(page.objects[0].etag, "fba9dede5f27731c9771645a39863328");
	assert_string_equal(page.objects[1].key, "raw/caf\xc3\xa9\xe2\x82\xac");
	assert_int_equal(page.objects[1].size, 0);
	assert_int_equal(page.objects[1].mtime, 0);
	assert_string_equal(page.objects[1].etag, "");
	assert_string_equal(page.objects[2].key, "raw/<cdata>");
	assert_true(page.objects[2].size == UINT64_MAX);
	assert_string_equal(page.objects[2].etag, "abc-3");
	apf_s3_list_page_release(&page);
}

static void test_xml_list_last_and_bad(void **state)
{
	static const char last[] = "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>";
	static const char *bad[] = {
		"<Error><Code>AccessDenied</Code></Error>",
		"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", /* no token */
		"<ListBucketResult><Contents><Key>a&bogus;</Key></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a&#0;</Key></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>", /* no key */
		"<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key><Size>99999999999999999999</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key>", /* cut short */
		"",
	};
	struct apf_s3_list_page page;

	(void)state;
	assert_int_equal(apf_s3_parse_list(last, strlen(last), &page), 0);
	assert_false(page.truncated);
	assert_int_equal(page.n, 0);
	assert_null(page.next_token);
	apf_s3_list_page_release(&page);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(apf_s3_parse_list(bad[i], strlen(bad[i]), &page), -1);
}

static void test_xml_error_and_upload_id(void **state)
{
	static const char err_doc[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
		"<Message>The request signature we calculated does not match\x01 the signature you provided.</Message>"
		"<StringToSign>AWS4-HMAC-SHA256...</StringToSign><RequestId>4442587FB7D0A2F9</RequestId></Error>";
	static const char created[] =
		"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
		"<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
		"</InitiateMultipartUploadResult>";
	char code[64], msg[256], *id = NULL;

	(void)state;
	apf_s3_parse_error(err_doc, strlen(err_doc), code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, "SignatureDoesNotMatch");
	assert_string_equal(msg, "The request signature we calculated does not match the signature you provided.");
	apf_s3_parse_error("not xml", 7, code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, "");
	assert_string_equal(msg, "");
	assert_int_equal(apf_xml_text(created, strlen(created), "UploadId", &id), 0);
	assert_string_equal(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
	free(id);
	assert_int_equal(apf_xml_text(created, strlen(created), "ETag", &id), 1);
}

static void test_http_retry_arithmetic(void **state)
{
	(void)state;
	for (int i = 0; i < 200; i++) {
		long d = apf_http_backoff_ms(200, 20000, i % 12);
		long cap = (i % 12) < 7 ? 200L << (i % 12) : 20000;
		assert_true(d >= 0 && d <= cap);
	}
	assert_int_equal(apf_http_backoff_ms(200, 20000, 60) <= 20000, 1);
	assert_true(apf_http_status_retryable(500));
	assert_true(apf_http_status_retryable(503));
	assert_true(apf_http_status_retryable(408));
	assert_true(apf_http_status_retryable(429));
	assert_false(apf_http_status_retryable(400));
	assert_false(apf_http_status_retryable(403));
	assert_false(apf_http_status_retryable(404));
	assert_false(apf_http_status_retryable(200));
	assert_int_equal(apf_http_parse_retry_after("3", 0), 3000);
	assert_int_equal(apf_http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7000);
	assert_int_equal(apf_http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 60), 0);
	assert_int_equal(apf_http_parse_retry_after("soon", 0), -1);
	assert_int_equal(apf_http_parse_retry_after("-1", 0), -1);
	assert_int_equal(apf_http_parse_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
	assert_int_equal(apf_http_parse_date("06 Nov 1994"), -1);

}

/* ---- file:// backend ---- */

struct fixture {
	char dir[256];
	struct apf_store *st;
};

static int setup_store(void **state)
{
	struct fixture *f = apf_xcalloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char *url;
	struct apf_err err;

	snprintf(f->dir, sizeof(f->dir), "%s/apflow-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	url = apf_xasprintf("file://%s/lake/", f->dir);
	if (apf_store_open_url(url, NULL, &f->st, &err)) {
		free(url);
		return -1;
	}
	free(url);
	*state = f;
	return 0;
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d))) {
			char *p;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			p = apf_xasprintf("%s/%s", path, de->d_name);
			rm_rf(p);
			free(p);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int teardown_store(void **state)
{
	struct fixture *f = *state;

	apf_store_free(f->st);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void test_file_url(void **state)
{
	struct fixture *f = *state;
	char *want = apf_xasprintf("file://%s/lake", f->dir);

	assert_string_equal(apf_store_url(f->st), want); /* no trailing slash */
	free(want);
}

static void test_file_roundtrip_buf(void **state)
{
	struct fixture *f = *state;
	struct apf_store_stat s;
	struct apf_err err;
	char *data = NULL;
	size_t len = 99;

	assert_int_equal(apf_store_put_buf(f->st, "raw/empty", "", 0, NULL, &err), 0);
	assert_int_equal(apf_store_get_buf(f->st, "raw/empty", 10, &data, &len, &err), 0);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	free(data);
	assert_int_equal(apf_store_put_buf(f->st, "raw/one", "x", 1, "text/plain", &err), 0);
	assert_int_equal(apf_store_get_buf(f->st, "raw/one", 1, &data, &len, &err), 0);
	assert_int_equal(len, 1);
	assert_string_equal(data, "x");
	free(data);
	/* Overwrite, then a cap too small. */
	assert_int_equal(apf_store_put_buf(f->st, "raw/one", "hello", 5, NULL, &err), 0);
	assert_int_equal(apf_store_head(f->st, "raw/one", &s, &err), 0);
	assert_int_equal(s.size, 5);
	assert_true(s.mtime > 0);
	assert_int_equal(apf_store_get_buf(f->st, "raw/one", 4, &data, &len, &err), APF_ETOOBIG);
	assert_int_equal(apf_store_get_buf(f->st, "raw/none", 4, &data, &len, &err), APF_ENOTFOUND);
	assert_non_null(strstr(err.msg, "raw/none"));
	assert_int_equal(apf_store_head(f->st, "raw", &s, &err), APF_ENOTFOUND); /* a directory is no object */
	assert_int_equal(apf_store_put_buf(f->st, "../escape", "x", 1, NULL, &err), APF_EINVAL);
	assert_non_null(strstr(err.msg, "invalid key"));
	assert_int_equal(apf_store_get_buf(f->st, "/etc/passwd", 10, &data, &len, &err), APF_EINVAL);
}

static void test_file_roundtrip_file(void **state)
{
	struct fixture *f = *state;
	char *src = apf_xasprintf("%s/src.bin", f->dir), *dst = apf_xasprintf("%s/dst.bin", f->dir);
	size_t n = (1 << 20) + 7, len;
	char *data = apf_xmalloc(n), *back = NULL;
	struct apf_err err;

	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 31 + 7);
	assert_int_equal(apf_write_file_atomic(src, data, n, &err), 0);
	assert_int_equal(apf_store_put_file(f->st, "big/one.bin", src, NULL, &err), 0);
	assert_int_equal(apf_store_get_file(f->st, "big/one.bin", dst, &err), 0);
	assert_int_equal(apf_read_file(dst, n, &back, &len, &err), 0);
	assert_int_equal(len, n);
	assert_memory_equal(back, data, n);
	free(back);
	assert_int_equal(apf_store_put_file(f->st, "big/two", "/nonexistent/file", NULL, &err), APF_ENOTFOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/file"));
	assert_int_equal(apf_store_get_file(f->st, "big/none", dst, &err), APF_ENOTFOUND);
	/* A failed get leaves the old file and no temp beside it. */
	assert_int_equal(apf_read_file(dst, n, &back, &len, &err), 0);
	assert_int_equal(len, n);
	free(back);
	free(data);
	free(src);
	free(dst);
}

struct collected {
	char keys[16][64];
	size_t n;
	int stop_at;
};

static int collect(const struct apf_store_stat *s, void *arg)
{
	struct collected *c = arg;

	if (c->n < 16)
		apf_strlcpy(c->keys[c->n], s->key, sizeof(c->keys[0]));
	c->n++;
	return c->stop_at && (int)c->n == c->stop_at ? 42 : 0;
}

static void test_file_list_order(void **state)
{
	struct fixture *f = *state;
	/* Byte order of whole keys: '-' (0x2d) < '.' < '/' (0x2f) < '0', so
	 * "a-c" and "a.b" come before everything under "a/". */
	static const char *keys[] = { "a/b", "a-c", "a.b", "a/b0", "a/a/z", "b", "a0", "A" };
	static const char *want[] = { "A", "a-c", "a.b", "a/a/z", "a/b", "a/b0", "a0", "b" };
	struct collected c;
	struct apf_err err;
	char *tmp;
	FILE *fp;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(apf_store_put_buf(f->st, keys[i], keys[i], strlen(keys[i]), NULL, &err), 0);
	/* A temp file left by a killed put is not listed. */
	tmp = apf_xasprintf("%s/lake/a/" APF_STORE_TMP_PREFIX "123-0000000000000000", f->dir);
	fp = fopen(tmp, "w");
	assert_non_null(fp);
	fclose(fp);
	free(tmp);

	memset(&c, 0, sizeof(c));
	assert_int_equal(apf_store_list(f->st, "", collect, &c, &err), 0);
	assert_int_equal(c.n, 8);
	for (size_t i = 0; i < 8; i++)
		assert_string_equal(c.keys[i], want[i]);

	memset(&c, 0, sizeof(c));
	assert_int_equal(apf_store_list(f->st, "a/b", collect, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.keys[0], "a/b");
	assert_string_equal(c.keys[1], "a/b0");

	memset(&c, 0, sizeof(c));
	assert_int_equal(apf_store_list(f->st, "a/", collect, &c, &err), 0);
	assert_int_equal(c.n, 3);

	memset(&c, 0, sizeof(c));
	assert_int_equal(apf_store_list(f->st, "zzz/", collect, &c, &err), 0);
	assert_int_equal(c.n, 0);

	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	assert_int_equal(apf_store_list(f->st, "", collect, &c, &err), 42);
	assert_int_equal(c.n, 2);

	assert_int_equal(apf_store_list(f->st, "../", collect, &c, &err), APF_EINVAL);
}

static void test_file_delete(void **state)
{
	struct fixture *f = *state;
	struct apf_store_stat s;
	struct apf_err err;
	struct stat sb;
	char *dir = apf_xasprintf("%s/lake/x", f->dir);

	assert_int_equal(apf_store_put_buf(f->st, "x/y/z", "1", 1, NULL, &err), 0);
	assert_int_equal(apf_store_delete(f->st, "x/y/z", &err), 0);
	assert_int_equal(apf_store_head(f->st, "x/y/z", &s, &err), APF_ENOTFOUND);
	assert_int_equal(stat(dir, &sb), -1); /* emptied directories go too */
	assert_int_equal(apf_store_delete(f->st, "x/y/z", &err), 0); /* missing is fine */
	assert_int_equal(apf_store_delete(f->st, "a/../b", &err), APF_EINVAL);
	/* The store root stays. */
	free(dir);
	dir = apf_xasprintf("%s/lake", f->dir);
	assert_int_equal(stat(dir, &sb), 0);
	free(dir);
}

struct worker {
	struct apf_store *st;
	int id;
	int failures;
};

/* Threads share one handle; their keys share parent directories, so
 * deletes that prune directories race with puts that need them. */
static void *work(void *arg)
{
	struct worker *w = arg;
	struct apf_err err;

	for (int i = 0; i < 40; i++) {
		char key[64], val[64], *data = NULL;
		size_t len = 0;

		snprintf(key, sizeof(key), "mt/shared/t%d/k%d", w->id, i % 3);
		snprintf(val, sizeof(val), "thread %d round %d", w->id, i);
		if (apf_store_put_buf(w->st, key, val, strlen(val), NULL, &err) ||
		    apf_store_get_buf(w->st, key, 64, &data, &len, &err) || strcmp(data, val) ||
		    apf_store_delete(w->st, key, &err))
			w->failures++;
		free(data);
	}
	return NULL;
}

static void test_file_threads(void **state)
{
	struct fixture *f = *state;
	struct worker w[4];
	pthread_t t[4];
	struct collected c;
	struct apf_err err;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ f->st, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	/* Join all before any assertion: a failed one must not free the store
	 * under running threads. */
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++)
		assert_int_equal(w[i].failures, 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(apf_store_list(f->st, "mt/", collect, &c, &err), 0);
	assert_int_equal(c.n, 0);
}

/* ---- moves: apf_store_tmp_dir() and apf_store_put_file_move() ---- */

/* Writes n bytes of a pattern that depends on seed to path, without
 * syncing them (as a spool is written), so a move's fsync has work to do. */
static void write_pattern(const char *path, size_t n, int seed)
{
	char *data = apf_xmalloc(n);
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 131 + (size_t)seed * 7 + (i >> 12));
	assert_int_equal(fwrite(data, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
	free(data);
}

/* Whether the object key holds exactly the pattern. */
static int object_is_pattern(struct apf_store *st, const char *key, size_t n, int seed)
{
	char *data = NULL;
	size_t len = 0;
	struct apf_err err;
	int ok;

	if (apf_store_get_buf(st, key, n, &data, &len, &err))
		return 0;
	ok = len == n;
	for (size_t i = 0; ok && i < n; i++)
		ok = data[i] == (char)(i * 131 + (size_t)seed * 7 + (i >> 12));
	free(data);
	return ok;
}

static void test_file_move(void **state)
{
	struct fixture *f = *state;
	char *tmp = NULL, *src, *want;
	struct stat sb, before;
	struct apf_store_stat s;
	struct collected c;
	struct apf_err err;

	assert_int_equal(apf_store_tmp_dir(f->st, &tmp, &err), 0);
	want = apf_xasprintf("%s/lake/.apflow-tmp-spool", f->dir);
	assert_string_equal(tmp, want);
	assert_int_equal(stat(tmp, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0700);
	free(want);
	assert_int_equal(apf_store_tmp_dir(f->st, &want, &err), 0); /* again: it exists */
	free(want);

	/* A move is a rename: the object is the very file, and the source is gone. */
	src = apf_xasprintf("%s/a", tmp);
	write_pattern(src, (1 << 20) + 7, 1);
	assert_int_equal(stat(src, &before), 0);
	assert_int_equal(apf_store_put_file_move(f->st, "raw/a.pdf", src, "application/pdf", &err), 0);
	assert_int_not_equal(access(src, F_OK), 0);
	assert_true(object_is_pattern(f->st, "raw/a.pdf", (1 << 20) + 7, 1));
	want = apf_xasprintf("%s/lake/raw/a.pdf", f->dir);
	assert_int_equal(stat(want, &sb), 0);
	assert_int_equal(sb.st_ino, before.st_ino);
	free(want);

	/* It replaces an object whole, as a put does. */
	write_pattern(src, 1000, 2);
	assert_int_equal(apf_store_put_file_move(f->st, "raw/a.pdf", src, NULL, &err), 0);
	assert_true(object_is_pattern(f->st, "raw/a.pdf", 1000, 2));

	/* Without the directory's fsync: the same rename, made durable later
	 * by one sync of the directory; a key outside the store is refused,
	 * a directory that is not there is an I/O error. */
	write_pattern(src, 4096, 4);
	assert_int_equal(stat(src, &before), 0);
	assert_int_equal(apf_store_put_file_move_ex(f->st, "raw/c.pdf", src, NULL, APF_STORE_DEFER_DIR_SYNC, &err), 0);
	assert_int_not_equal(access(src, F_OK), 0);
	assert_true(object_is_pattern(f->st, "raw/c.pdf", 4096, 4));
	want = apf_xasprintf("%s/lake/raw/c.pdf", f->dir);
	assert_int_equal(stat(want, &sb), 0);
	assert_int_equal(sb.st_ino, before.st_ino);
	free(want);
	assert_int_equal(apf_store_sync_dir(f->st, "raw/c.pdf", &err), 0);
	assert_int_equal(apf_store_sync_dir(f->st, "../c.pdf", &err), APF_EINVAL);
	assert_int_equal(apf_store_sync_dir(f->st, "nowhere/c.pdf", &err), APF_EIO);
	assert_non_null(strstr(err.msg, "fsync of the directory"));
	assert_int_equal(apf_store_delete(f->st, "raw/c.pdf", &err), 0);

	/* The temp area never lists, and only the key does. */
	write_pattern(src, 10, 3);
	memset(&c, 0, sizeof(c));
	assert_int_equal(apf_store_list(f->st, "", collect, &c, &err), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.keys[0], "raw/a.pdf");

	/* Failures leave the source for the caller. */
	assert_int_equal(apf_store_put_file_move(f->st, "../x", src, NULL, &err), APF_EINVAL);
	assert_int_equal(apf_store_put_file_move(f->st, ".apflow-tmp-spool/x", src, NULL, &err), APF_EINVAL);
	assert_int_equal(apf_store_put_file_move(f->st, "raw", src, NULL, &err), APF_EIO);
	assert_non_null(strstr(err.msg, "a directory of other keys"));
	assert_int_equal(access(src, F_OK), 0);
	assert_int_equal(apf_store_head(f->st, "raw", &s, &err), APF_ENOTFOUND);
	assert_int_equal(apf_store_put_file_move(f->st, "raw/b.pdf", "/nonexistent/file", NULL, &err),
			 APF_ENOTFOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/file"));

	/* From another file system it is a copy, then the source goes. */
	if (stat("/dev/shm", &sb) == 0 && stat(tmp, &before) == 0 && sb.st_dev != before.st_dev) {
		char *far = apf_xasprintf("/dev/shm/apflow-unit-move-%d", (int)getpid());
		write_pattern(far, 300000, 4);
		assert_int_equal(apf_store_put_file_move(f->st, "other/fs.bin", far, NULL, &err), 0);
		assert_int_not_equal(access(far, F_OK), 0);
		assert_true(object_is_pattern(f->st, "other/fs.bin", 300000, 4));
		unlink(far);
		free(far);
	}
	free(src);
	free(tmp);
}

/* A backend with only put (as s3:// is): a move is a put, then an unlink. */
static int fake_puts;
static int fake_put(struct apf_store *st, const char *key, const struct apf_store_body *body,
		    const char *content_type, struct apf_err *err)
{
	(void)st;
	(void)content_type;
	if (access(body->path, R_OK))
		return apf_error(err, APF_ENOTFOUND, "cannot open '%s'", body->path);
	if (!strcmp(key, "fail"))
		return apf_error(err, APF_ESTORE, "cannot put '%s': HTTP 503", key);
	fake_puts++;
	return 0;
}

static void test_move_fallback(void **state)
{
	static const struct apf_store_ops ops = { .put = fake_put };
	struct apf_store fake = { &ops, "fake://" };
	char path[] = "/tmp/apflow-unit-fallback-XXXXXX";
	char *dir = (char *)1;
	struct apf_err err;
	int fd;

	(void)state;
	assert_int_equal(apf_store_tmp_dir(&fake, &dir, &err), 0);
	assert_null(dir); /* no temp area: any directory will do */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(apf_store_put_file_move(&fake, "fail", path, NULL, &err), APF_ESTORE);
	assert_int_equal(access(path, F_OK), 0); /* a failed put keeps the source */
	assert_int_equal(apf_store_put_file_move(&fake, "raw/x.pdf", path, NULL, &err), 0);
	assert_int_equal(fake_puts, 1);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(apf_store_put_file_move(&fake, "a//b", path, NULL, &err), APF_EINVAL);
}

/* Counts the entries of dir whose names start with prefix and whose size is at least min. */
static int count_files(const char *dir, const char *prefix, off_t min)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct stat sb;
		if (strncmp(de->d_name, prefix, strlen(prefix)) ||
		    fstatat(dirfd(d), de->d_name, &sb, 0) || sb.st_size < min)
			continue;
		n++;
	}
	closedir(d);
	return n;
}

/*
 * A move killed at any moment leaves the key absent (and the source whole)
 * or the key whole: never a part of it.
 */
static void test_file_move_killed(void **state)
{
	struct fixture *f = *state;
	char *tmp = NULL, *fifo, *kdir;
	struct apf_store_stat s;
	struct collected c;
	struct apf_err err;
	int landed = 0, kept = 0;
	pid_t pid;

	assert_int_equal(apf_store_tmp_dir(f->st, &tmp, &err), 0);

	/* A source that cannot be renamed in (a FIFO) is copied: kill the
	 * copy half-way, when its temp file beside the key has 1 MiB. */
	fifo = apf_xasprintf("%s/fifo", tmp);
	kdir = apf_xasprintf("%s/lake/killed", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(apf_store_put_file_move(f->st, "killed/fifo", fifo, NULL, NULL) ? 1 : 0);
	{
		int fd = open(fifo, O_WRONLY);
		char chunk[65536];
		assert_true(fd >= 0);
		memset(chunk, 'x', sizeof(chunk));
		for (int i = 0; i < 16; i++)
			assert_int_equal(write(fd, chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
		for (int i = 0; i < 200 && count_files(kdir, ".apflow-tmp-", 1 << 20) == 0; i++)
			usleep(10000);
		assert_int_equal(count_files(kdir, ".apflow-tmp-", 1 << 20), 1);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(fd);
	}
	assert_int_equal(apf_store_head(f->st, "killed/fifo", &s, &err), APF_ENOTFOUND);
	memset(&c, 0, sizeof(c));
	assert_int_equal(apf_store_list(f->st, "killed/", collect, &c, &err), 0);
	assert_int_equal(c.n, 0); /* the temp file is there, but hidden */

	/* Renames, killed at spread-out moments around their fsync. */
	for (int i = 0; i < 12; i++) {
		char key[32], *src = apf_xasprintf("%s/r%d", tmp, i);
		size_t n = (size_t)8 << 20;

		snprintf(key, sizeof(key), "killed/r%d", i);
		write_pattern(src, n, 10 + i);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(apf_store_put_file_move(f->st, key, src, NULL, NULL) ? 1 : 0);
		usleep((useconds_t)(i * 700));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (apf_store_head(f->st, key, &s, &err) == 0) {
			assert_true(object_is_pattern(f->st, key, n, 10 + i));
			assert_int_not_equal(access(src, F_OK), 0);
			landed++;
		} else {
			/* Not moved: the source is still all there. */
			struct stat sb;
			assert_int_equal(stat(src, &sb), 0);
			assert_int_equal((size_t)sb.st_size, n);
			kept++;
		}
		unlink(src);
		free(src);
	}
	print_message("# killed moves: %d landed whole, %d left the key absent\n", landed, kept);
	assert_int_equal(landed + kept, 12);
	free(fifo);
	free(kdir);
	free(tmp);
}

static void test_open_errors(void **state)
{
	struct apf_config cfg;
	struct apf_store *st = NULL;
	struct apf_err err;

	(void)state;
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("APFLOW_CONFIG");
	assert_int_equal(apf_config_load(&cfg, "/dev/null", &err), 0);
	assert_int_equal(apf_store_open_url("s3://bucket", &cfg, &st, &err), APF_ECONFIG);
	assert_non_null(strstr(err.msg, "no credentials"));
	assert_int_equal(apf_store_open_url("s3://Bad_Bucket", &cfg, &st, &err), APF_ECONFIG);
	assert_int_equal(apf_store_open_url("https://user:secret@host/x", &cfg, &st, &err), APF_ECONFIG);
	assert_null(strstr(err.msg, "secret"));
	assert_int_equal(apf_config_set_flag(&cfg, "s3_access_key_id", "AKID", "-c", &err), 0);
	assert_int_equal(apf_config_set_flag(&cfg, "s3_secret_access_key", "s3cr3t", "-c", &err), 0);
	assert_int_equal(apf_config_set_flag(&cfg, "s3_endpoint", "http://u:s3cr3t@127.0.0.1:9", "-c", &err), 0);
	assert_int_equal(apf_store_open_url("s3://bucket", &cfg, &st, &err), APF_ECONFIG);
	assert_null(strstr(err.msg, "s3cr3t"));
	assert_int_equal(apf_config_set_flag(&cfg, "s3_endpoint", "http://127.0.0.1:9", "-c", &err), 0);
	assert_int_equal(apf_store_open_url("s3://bucket/some/prefix/", &cfg, &st, &err), 0);
	assert_string_equal(apf_store_url(st), "s3://bucket/some/prefix");
	apf_store_free(st);
	assert_int_equal(apf_config_set_flag(&cfg, "s3_multipart_mb", "1", "-c", &err), 0);
	assert_int_equal(apf_store_open_url("s3://bucket", &cfg, &st, &err), APF_ECONFIG);
	apf_config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigv4_get_object),
		cmocka_unit_test(test_sigv4_put_object),
		cmocka_unit_test(test_sigv4_bucket_queries),
		cmocka_unit_test(test_sigv4_encoding),
		cmocka_unit_test(test_sigv4_header_values),
		cmocka_unit_test(test_key_valid),
		cmocka_unit_test(test_xml_list),
		cmocka_unit_test(test_xml_list_last_and_bad),
		cmocka_unit_test(test_xml_error_and_upload_id),
		cmocka_unit_test(test_http_retry_arithmetic),
		cmocka_unit_test_setup_teardown(test_file_url, setup_store, teardown_store),
		cmocka_unit_test_setup_teardown(test_file_roundtrip_buf, setup_store, teardown_store),
		cmocka_unit_test_setup_teardown(test_file_roundtrip_file, setup_store, teardown_store),
		cmocka_unit_test_setup_teardown(test_file_list_order, setup_store, teardown_store),
		cmocka_unit_test_setup_teardown(test_file_delete, setup_store, teardown_store),
		cmocka_unit_test_setup_teardown(test_file_threads, setup_store, teardown_store),
		cmocka_unit_test_setup_teardown(test_file_move, setup_store, teardown_store),
		cmocka_unit_test(test_move_fallback),
		cmocka_unit_test_setup_teardown(test_file_move_killed, setup_store, teardown_store),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
