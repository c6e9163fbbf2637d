/* test_http.c: the HTTP client's total deadline (http.h, deadline_ms)
 * against a local socket that takes connections and never answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "apflow/http.h"
#include "apflow/util.h"

/* A listening socket nobody accepts on: the kernel completes the
 * handshakes (backlog), the request is sent, no answer ever comes. */
static int silent_server(unsigned *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static void run(unsigned port, long timeout_ms, long deadline_ms, int retries, int64_t *ms,
		struct apf_http_response *resp, struct apf_err *err, int *rc)
{
	struct apf_http_options o;
	struct apf_http *h = NULL;
	struct apf_http_request req;
	char url[64];
	int64_t t0;

	memset(&o, 0, sizeof(o));
	o.backoff_base_ms = 50;
	o.backoff_max_ms = 100;
	o.low_speed_time_s = 60;
	assert_int_equal(apf_http_new(&o, &h, err), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", port);
	apf_http_request_init(&req);
	req.method = "GET";
	req.url = url;
	req.max_retries = retries;
	req.timeout_ms = timeout_ms;
	req.deadline_ms = deadline_ms;
	apf_http_response_init(resp);
	t0 = apf_now_ms();
	*rc = apf_http_request(h, &req, resp, err);
	*ms = apf_now_ms() - t0;
	apf_http_free(h);
}

static void test_deadline(void **state)
{
	struct apf_http_response resp;
	struct apf_err err;
	unsigned port;
	int fd = silent_server(&port), rc;
	int64_t ms;

	(void)state;
	assert_true(fd >= 0);
	/* Attempts of 300 ms, retried up to 10 times, within 1 s in all. */
	apf_err_clear(&err);
	run(port, 300, 1000, 10, &ms, &resp, &err, &rc);
	assert_int_equal(rc, APF_ENET);
	assert_true(ms >= 900);
	assert_true(ms < 1600);
	assert_true(resp.attempts >= 2 && resp.attempts <= 4);
	assert_non_null(strstr(err.msg, "deadline of 1000 ms passed"));
	apf_http_response_release(&resp);

	/* No per-attempt timeout: the deadline alone cuts the one attempt. */
	apf_err_clear(&err);
	run(port, 0, 500, 0, &ms, &resp, &err, &rc);
	assert_int_equal(rc, APF_ENET);
	assert_true(ms >= 450);
	assert_true(ms < 1200);
	assert_int_equal(resp.attempts, 1);
	assert_non_null(strstr(err.msg, "imed out"));
	apf_http_response_release(&resp);
	close(fd);
}

static void test_url_shown(void **state)
{
	const char *cases[][2] = {
		{ "http://user:pw@127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1" },
		{ "https://h.example/p@q", "https://h.example/p@q" },
		{ "http://a@b", "http://b" },
		{ "no-scheme@host", "no-scheme@host" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = apf_http_url_shown(cases[i][0]);
		assert_string_equal(s, cases[i][1]);
		free(s);
	}
}

/* The message of an error body: each server's shape, one line, cut. */
static void test_error_text(void **state)
{
	const char *cases[][2] = {
		{ "{\"error\":\"model \\\"x\\\" not found\"}", "model \"x\" not found" },
		{ "{\"error\":{\"message\":\"bad key\",\"type\":\"auth\"}}", "bad key" },
		{ "{\"object\":\"error\",\"message\":\"too long\"}", "too long" },
		{ "{\"error\":\"line\\none\\tcaf\u00e9\"}", "line one caf\xc3\xa9" },
		{ "Bad Gateway\r\n", "Bad Gateway  " },
		{ "{\"detail\":\"other\"}", "{\"detail\":\"other\"}" },
		{ "", "" },
	};
	struct apf_buf b = APF_BUF_INIT;
	char out[256], small[5];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		apf_buf_reset(&b);
		assert_int_equal(apf_buf_adds(&b, cases[i][0]), 0);
		apf_http_error_text(&b, out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
	/* Cut to the buffer, and to 200 bytes in a large one. */
	apf_http_error_text(&b, small, sizeof(small));
	assert_string_equal(small, "");
	apf_buf_reset(&b);
	for (int i = 0; i < 300; i++)
		assert_int_equal(apf_buf_adds(&b, "x"), 0);
	apf_http_error_text(&b, small, sizeof(small));
	assert_string_equal(small, "xxxx");
	apf_http_error_text(&b, out, sizeof(out));
	assert_int_equal(strlen(out), 200);
	apf_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_url_shown),
		cmocka_unit_test(test_error_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
