/* test_progress.c: the progress bar (apflow/progress.h): exact lines,
 * no bar without a terminal, never wider than the terminal, the summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apflow/progress.h"
#include "apflow/util.h"

/* The last line drawn in s ("\r\033[K" starts each). */
static const char *last_draw(const char *s)
{
	const char *p = s, *q;

	while ((q = strstr(p, "\r\033[K")) && q[4])
		p = q + 4;
	return p;
}

static void test_bar_lines(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct apf_progress *p;

	(void)state;
	p = apf_progress_new("ingest", "files", 4, 1);
	apf_progress_set_output(p, f, 200);
	apf_progress_update(p, 0, "a.pdf");
	fflush(f);
	assert_non_null(strstr(buf, "\r\033[Kingest [..............................]   0% 0/4 files  0.0 files/s  a.pdf"));
	/* Reaching the total always draws, however soon. */
	apf_progress_update(p, 4, "%s", "d.pdf");
	fflush(f);
	assert_non_null(strstr(last_draw(buf), "ingest [##############################] 100% 4/4 files  "));
	assert_non_null(strstr(last_draw(buf), "  d.pdf"));
	apf_progress_end(p, f, "%d ingested, %d failed", 3, 1);
	fclose(f);
	/* The bar is erased before the summary line. */
	size_t n = strlen(buf);
	const char *tail = "\r\033[K3 ingested, 1 failed\n";
	assert_true(n > strlen(tail));
	assert_string_equal(buf + n - strlen(tail), tail);
	free(buf);
}

/* apf_progress_cb: the core's (arg, done, total) callback sets both; a
 * NULL bar is allowed. */
static void test_cb(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct apf_progress *p;

	(void)state;
	apf_progress_cb(NULL, 1, 2);
	p = apf_progress_new("push", "records", 0, 1);
	apf_progress_set_output(p, f, 200);
	apf_progress_cb(p, 5, 10);
	apf_progress_cb(p, 10, 10);
	fflush(f);
	assert_non_null(strstr(last_draw(buf), "push [##############################] 100% 10/10 records  "));
	apf_progress_end(p, f, NULL);
	fclose(f);
	free(buf);
}

static void test_no_tty(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct apf_progress *p;

	(void)state;
	p = apf_progress_new("ocr", "pages", 10, 0);
	apf_progress_set_output(p, f, 80);
	for (int i = 0; i <= 10; i++)
		apf_progress_update(p, (uint64_t)i, "page %d", i);
	apf_progress_clear(p);
	apf_progress_end(p, f, "ocr: %d pages", 10);
	fclose(f);
	/* Not a terminal: only the summary. */
	assert_string_equal(buf, "ocr: 10 pages\n");
	free(buf);
	/* NULL bar: the summary still prints. */
	f = open_memstream(&buf, &len);
	apf_progress_end(NULL, f, "x=%d", 1);
	fclose(f);
	assert_string_equal(buf, "x=1\n");
	free(buf);
}

static void test_width_and_note(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct apf_progress *p;
	const char *line;

	(void)state;
	p = apf_progress_new("push", "records", 0, 1);
	apf_progress_set_output(p, f, 40);
	/* A note with a newline and multi-byte text at the cut. */
	apf_progress_update(p, 7, "名前\nfile-éé-🚢-long-name-here.pdf");
	fflush(f);
	line = last_draw(buf);
	/* Unknown total: no percentage, the count and a moving marker. */
	assert_memory_equal(line, "push [.......#......................] 7", 38);
	assert_true(strlen(line) <= 39);
	assert_null(strchr(line, '\n'));
	/* Clearing erases; the next update draws again at once. */
	apf_progress_clear(p);
	apf_progress_add(p, 1);
	fflush(f);
	assert_non_null(strstr(buf, "\r\033[K\r\033[Kpush [........#"));
	apf_progress_end(p, NULL, NULL);
	fclose(f);
	free(buf);
}

static void test_eta(void **state)
{
	char s[32];

	(void)state;
	apf_progress_format_eta(s, sizeof(s), 7.4);
	assert_string_equal(s, "0:07");
	apf_progress_format_eta(s, sizeof(s), 754);
	assert_string_equal(s, "12:34");
	apf_progress_format_eta(s, sizeof(s), 3723);
	assert_string_equal(s, "1:02:03");
	apf_progress_format_eta(s, sizeof(s), -3);
	assert_string_equal(s, "0:00");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bar_lines),
		cmocka_unit_test(test_cb),
		cmocka_unit_test(test_no_tty),
		cmocka_unit_test(test_width_and_note),
		cmocka_unit_test(test_eta),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
