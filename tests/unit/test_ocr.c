/*
 * test_ocr.c: the Tesseract adapter on clean 300 dpi scans of known text
 * (scripts/gen-corpus.sh), and `auto` on a mixed document.  Each test body
 * runs in a child process (run_isolated), so a crash inside Tesseract
 * fails one test only.  Scanned pages are few: recognition costs about a
 * second a page.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "apflow/buf.h"
#include "apflow/err.h"
#include "apflow/ocr.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"
#include "apflow/util.h"

#include "corpus.h"

#define MIN_WORD_ACCURACY 0.95

/* Renders page p at 300 dpi and recognises it; returns the word accuracy
 * against the expected text. */
static double ocr_page(struct apf_ocr *ocr, struct apf_pdf *pdf, const char *name, int p,
		       struct apf_buf *text)
{
	struct apf_pixmap pm = { 0 };
	struct apf_err err = { 0 };
	struct apf_text_stats st;
	char *want = corpus_text(name, p);
	int conf = -1;
	int64_t t0;
	double acc;

	assert_non_null(want);
	assert_int_equal(apf_pdf_render_gray(pdf, p, 300, &pm, &err), 0);
	t0 = apf_now_ms();
	if (apf_ocr_page(ocr, &pm, 0, text, &conf, &st, &err))
		fail_msg("%s page %d: %s", name, p, err.msg);
	acc = word_accuracy(want, text->data);
	print_message("# %s page %d: word accuracy %.1f%%, confidence %d, %zu words, %.2f s\n", name, p,
		      100 * acc, conf, st.words, (double)(apf_now_ms() - t0) / 1000);
	if (acc < MIN_WORD_ACCURACY)
		print_message("# --- expected\n%s\n# --- got\n%s\n", want, text->data);
	assert_int_equal(apf_utf8_validate(text->data, text->len, NULL), 0);
	assert_int_equal(st.chars, apf_utf8_count(text->data, text->len));
	assert_true(conf >= 0 && conf <= 100);
	assert_true(conf > 70);
	apf_pixmap_release(&pm);
	free(want);
	return acc;
}

/* Clean 300 dpi scans: at least 95% of the words right; OpenMP adds no
 * threads. */
static void scan_accuracy_body(void **state)
{
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_ocr *ocr;
	struct apf_err err = { 0 };
	struct apf_buf text;
	int threads_before = thread_count();

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	pdf = open_or_fail(pc, "scan.pdf");
	if (apf_ocr_new("eng", NULL, &ocr, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(apf_ocr_openmp_limited(), getenv("OMP_THREAD_LIMIT") ? 2 : 1);
	apf_buf_init(&text, 0);
	for (int p = 1; p <= 2; p++)
		assert_true(ocr_page(ocr, pdf, "scan.pdf", p, &text) >= MIN_WORD_ACCURACY);
	/* Unbounded, libgomp would have started 3 more threads (and kept them). */
	print_message("# threads: %d before, %d after recognition\n", threads_before, thread_count());
	assert_int_equal(thread_count(), threads_before);
	apf_buf_release(&text);
	apf_ocr_free(ocr);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(scan_accuracy)

/* `auto` over the mixed document: the text layer where it is real (and
 * exact), Tesseract where there is none. */
static void mixed_auto_body(void **state)
{
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_ocr *ocr;
	struct apf_err err = { 0 };
	struct apf_buf text;
	struct apf_text_stats st;
	const char *engine[5] = { 0 };

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	pdf = open_or_fail(pc, "mixed.pdf");
	if (apf_ocr_new(NULL, NULL, &ocr, &err))
		fail_msg("%s", err.msg);
	apf_buf_init(&text, 0);
	for (int p = 1; p <= apf_pdf_page_count(pdf); p++) {
		assert_int_equal(apf_pdf_page_text(pdf, p, &text, &st, &err), 0);
		if (apf_pdf_text_is_real(&st)) {
			char *want = corpus_text("mixed.pdf", p);
			engine[p] = "text";
			assert_string_equal(text.data, want);
			free(want);
		} else {
			engine[p] = "tesseract";
			assert_true(ocr_page(ocr, pdf, "mixed.pdf", p, &text) >= MIN_WORD_ACCURACY);
		}
	}
	print_message("# mixed.pdf engines: %s %s %s %s\n", engine[1], engine[2], engine[3], engine[4]);
	assert_string_equal(engine[1], "text");
	assert_string_equal(engine[2], "tesseract");
	assert_string_equal(engine[3], "text");
	assert_string_equal(engine[4], "tesseract");
	apf_buf_release(&text);
	apf_ocr_free(ocr);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(mixed_auto)

/* A strip of a page (stride > width), a text cap, a timeout, a blank page,
 * no image, a missing language. */
static void edges_body(void **state)
{
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_ocr *ocr, *none = NULL;
	struct apf_err err = { 0 };
	struct apf_buf text;
	struct apf_pixmap pm = { 0 }, strip, blank = { 0 };
	struct apf_text_stats st;
	int conf = -1;

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	pdf = open_or_fail(pc, "scan.pdf");
	assert_int_equal(apf_ocr_new("eng", NULL, &ocr, &err), 0);
	assert_int_equal(apf_pdf_render_gray(pdf, 1, 300, &pm, &err), 0);

	/* The title line alone: the top 350 rows, the left 5 inches (the
	 * rows keep the page's stride). */
	strip = pm;
	strip.h = 350;
	strip.w = 1500;
	apf_buf_init(&text, 0);
	assert_int_equal(apf_ocr_page(ocr, &strip, 300, &text, &conf, &st, &err), 0);
	print_message("# strip: '%s' (confidence %d)\n", text.data, conf);
	assert_string_equal(text.data, "Vessel particulars and voyage report 4");
	assert_int_equal(st.words, 6);
	apf_buf_release(&text);

	apf_buf_init(&text, 20);
	assert_int_equal(apf_ocr_page(ocr, &strip, 300, &text, &conf, NULL, &err), APF_ETOOBIG);
	assert_string_equal(err.msg, "the recognised text passes 20 bytes");
	apf_buf_release(&text);

	apf_buf_init(&text, 0);
	apf_ocr_set_timeout(ocr, 1);
	assert_int_equal(apf_ocr_page(ocr, &pm, 300, &text, &conf, NULL, &err), APF_EOCR);
	print_message("# 1 ms timeout: %s\n", err.msg);
	assert_int_equal(strncmp(err.msg, "recognition timed out after ", 28), 0);
	apf_ocr_set_timeout(ocr, 0);

	/* The instance is still good after the timeout. */
	assert_int_equal(apf_ocr_page(ocr, &strip, 300, &text, &conf, NULL, &err), 0);
	assert_string_equal(text.data, "Vessel particulars and voyage report 4");

	blank.w = blank.stride = 1200;
	blank.h = 1600;
	blank.dpi = 300;
	blank.data = apf_xmalloc((size_t)blank.stride * blank.h);
	memset(blank.data, 0xFF, (size_t)blank.stride * blank.h);
	conf = -1;
	assert_int_equal(apf_ocr_page(ocr, &blank, 0, &text, &conf, &st, &err), 0);
	assert_string_equal(text.data, "");
	assert_int_equal(conf, 0);
	assert_int_equal(st.chars, 0);
	apf_pixmap_release(&blank);

	assert_int_equal(apf_ocr_page(ocr, &blank, 0, &text, &conf, NULL, &err), APF_EINVAL);
	assert_string_equal(err.msg, "no page image to recognise");

	assert_int_equal(apf_ocr_new("xyz", NULL, &none, &err), APF_EOCR);
	assert_null(none);
	print_message("# %s\n", err.msg);
	assert_non_null(strstr(err.msg, "'xyz'"));
	assert_int_equal(apf_ocr_new("eng", "/nonexistent", &none, &err), APF_EOCR);
	assert_non_null(strstr(err.msg, "'/nonexistent'"));

	apf_buf_release(&text);
	apf_pixmap_release(&pm);
	apf_ocr_free(ocr);
	apf_ocr_free(NULL);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(edges)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scan_accuracy),
		cmocka_unit_test(mixed_auto),
		cmocka_unit_test(edges),
	};

	return cmocka_run_group_tests(tests, corpus_setup, corpus_teardown);
}
