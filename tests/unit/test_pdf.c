/*
 * test_pdf.c: the MuPDF text engine and renderer, on the corpus of
 * scripts/gen-corpus.sh.  Each test body runs in a child process
 * (run_isolated), so a crash inside MuPDF fails one test only.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
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
#include "apflow/pdf.h"
#include "apflow/utf8.h"
#include "apflow/util.h"

#include "corpus.h"

/* Opens a corpus file or fails the test. */
static struct apf_pdf *open_or_fail(struct apf_pdf_ctx *pc, const char *name)
{
	struct apf_pdf *pdf = NULL;
	struct apf_err err = { 0 };

	if (apf_pdf_open(pc, corpus_path(name), &pdf, &err))
		fail_msg("cannot open %s: %s", name, err.msg);
	return pdf;
}

/* Born-digital pages in every script give exactly the expected text. */
static void born_digital_body(void **state)
{
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_err err = { 0 };
	struct apf_buf b;
	struct apf_text_stats st;

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	pdf = open_or_fail(pc, "scripts.pdf");
	assert_int_equal(apf_pdf_page_count(pdf), 5);
	assert_false(apf_pdf_was_repaired(pdf));
	apf_buf_init(&b, 0);
	for (int p = 1; p <= 5; p++) {
		char *want = corpus_text("scripts.pdf", p);
		assert_non_null(want);
		assert_int_equal(apf_pdf_page_text(pdf, p, &b, &st, &err), 0);
		if (strcmp(b.data, want))
			fail_msg("page %d:\n--- expected\n%s\n--- got\n%s\n---", p, want, b.data);
		assert_int_equal(st.chars, apf_utf8_count(want, strlen(want)));
		assert_int_equal(st.garbage, 0);
		assert_true(st.words > 3);
		assert_true(apf_pdf_text_is_real(&st));
		assert_null(apf_pdf_page_note(pdf));
		print_message("# scripts.pdf page %d: %zu chars, %zu words\n", p, st.chars, st.words);
		free(want);
	}
	apf_buf_release(&b);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(born_digital)

/* `auto`: the predicate says text for the text pages of the mixed
 * document and OCR for its scanned ones (no text layer at all). */
static void auto_predicate_body(void **state)
{
	static const int is_text[] = { 1, 0, 1, 0 };
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_err err = { 0 };
	struct apf_buf b;
	struct apf_text_stats st;

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	pdf = open_or_fail(pc, "mixed.pdf");
	assert_int_equal(apf_pdf_page_count(pdf), 4);
	apf_buf_init(&b, 0);
	for (int p = 1; p <= 4; p++) {
		assert_int_equal(apf_pdf_page_text(pdf, p, &b, &st, &err), 0);
		assert_int_equal(apf_pdf_text_is_real(&st), is_text[p - 1]);
		if (!is_text[p - 1]) {
			assert_string_equal(b.data, "");
			assert_int_equal(st.chars, 0);
		} else {
			char *want = corpus_text("mixed.pdf", p);
			assert_string_equal(b.data, want);
			free(want);
		}
	}
	apf_buf_release(&b);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(auto_predicate)

/* A font without Unicode mapping: long "text" that is garbage. */
static void garbage_body(void **state)
{
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_err err = { 0 };
	struct apf_buf b;
	struct apf_text_stats st;

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	pdf = open_or_fail(pc, "garbage.pdf");
	apf_buf_init(&b, 0);
	assert_int_equal(apf_pdf_page_text(pdf, 1, &b, &st, &err), 0);
	print_message("# garbage.pdf: %zu chars, %zu non-space, %zu garbage\n", st.chars, st.nonspace,
		      st.garbage);
	assert_int_equal(apf_utf8_validate(b.data, b.len, NULL), 0);
	assert_non_null(strstr(b.data, "Page 1"));
	assert_non_null(strstr(b.data, "\xEF\xBF\xBD"));  /* U+FFFD for /g1 */
	assert_non_null(strstr(b.data, "\xEE\x80\x81"));  /* U+E001 for /uniE001 */
	assert_int_equal(st.garbage, 40);
	assert_true(st.nonspace >= APF_PDF_TEXT_MIN_CHARS);
	assert_false(apf_pdf_text_is_real(&st));

	/* The thresholds themselves. */
	st = (struct apf_text_stats){ .chars = 20, .nonspace = 15, .garbage = 0, .words = 3 };
	assert_false(apf_pdf_text_is_real(&st));
	st.nonspace = 16;
	assert_true(apf_pdf_text_is_real(&st));
	st = (struct apf_text_stats){ .chars = 120, .nonspace = 100, .garbage = 9, .words = 20 };
	assert_true(apf_pdf_text_is_real(&st));
	st.garbage = 10;
	assert_false(apf_pdf_text_is_real(&st));
	apf_buf_release(&b);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(garbage)

/* Each broken file gives APF_EPDF with its reason, from open and probe. */
static void errors_body(void **state)
{
	static const struct { const char *file; int code; const char *prefix; } cases[] = {
		{ "damaged.pdf", APF_EPDF, "damaged PDF: " },
		{ "empty.pdf", APF_EPDF, "PDF has no pages" },
		{ "encrypted.pdf", APF_EPDF, "encrypted PDF: a password is needed to read it" },
		{ "notpdf.pdf", APF_EPDF, "not a PDF (no %PDF- signature)" },
		{ "missing.pdf", APF_EIO, "cannot open '" },
	};
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_err err = { 0 };
	int pages;

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pdf = NULL;
		apf_err_clear(&err);
		assert_int_equal(apf_pdf_open(pc, corpus_path(cases[i].file), &pdf, &err), cases[i].code);
		assert_null(pdf);
		print_message("# %s: %s\n", cases[i].file, err.msg);
		if (strncmp(err.msg, cases[i].prefix, strlen(cases[i].prefix)))
			fail_msg("%s: message '%s' does not start with '%s'", cases[i].file, err.msg,
				 cases[i].prefix);
		/* MuPDF's reason follows "damaged PDF: ". */
		if (!strcmp(cases[i].prefix, "damaged PDF: "))
			assert_true(strlen(err.msg) > strlen(cases[i].prefix) + 3);
		pages = -7;
		apf_err_clear(&err);
		assert_int_equal(apf_pdf_probe(corpus_path(cases[i].file), &pages, &err), cases[i].code);
		assert_int_equal(pages, -7); /* out-parameters only on success */
		assert_int_equal(strncmp(err.msg, cases[i].prefix, strlen(cases[i].prefix)), 0);
	}
	assert_int_equal(apf_pdf_probe(corpus_path("scripts.pdf"), &pages, &err), 0);
	assert_int_equal(pages, 5);

	/* Encrypted with an owner password only: readable. */
	struct apf_buf b;
	char *want = corpus_text("owneronly.pdf", 1);
	pdf = open_or_fail(pc, "owneronly.pdf");
	apf_buf_init(&b, 0);
	assert_int_equal(apf_pdf_page_text(pdf, 1, &b, NULL, &err), 0);
	assert_string_equal(b.data, want);
	free(want);
	apf_buf_release(&b);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(errors)

/* A garbage xref is repaired, and the text is all there. */
static void repaired_body(void **state)
{
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_err err = { 0 };
	struct apf_buf b;
	char *want = corpus_text("badxref.pdf", 1);

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	pdf = open_or_fail(pc, "badxref.pdf");
	assert_true(apf_pdf_was_repaired(pdf));
	apf_buf_init(&b, 0);
	assert_int_equal(apf_pdf_page_text(pdf, 1, &b, NULL, &err), 0);
	assert_string_equal(b.data, want);
	free(want);
	apf_buf_release(&b);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(repaired)

/* An interrupted download: what is there reads, the rest is empty and
 * noted. */
static void truncated_body(void **state)
{
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_err err = { 0 };
	struct apf_buf b;
	struct apf_pixmap pm = { 0 };
	char *want = corpus_text("truncated.pdf", 1);
	int pages = 0;

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	assert_int_equal(apf_pdf_probe(corpus_path("truncated.pdf"), &pages, &err), 0);
	assert_int_equal(pages, 3);
	pdf = open_or_fail(pc, "truncated.pdf");
	assert_true(apf_pdf_was_repaired(pdf));
	assert_int_equal(apf_pdf_page_count(pdf), 3);
	apf_buf_init(&b, 0);
	for (int p = 1; p <= 2; p++) {
		assert_int_equal(apf_pdf_page_text(pdf, p, &b, NULL, &err), 0);
		assert_string_equal(b.data, want);
	}
	for (int p = 1; p <= 2; p++) {
		assert_int_equal(apf_pdf_page_text(pdf, p, &b, NULL, &err), 0);
		assert_null(apf_pdf_page_note(pdf));
	}
	/* MuPDF reads the missing page as an empty one, and says why. */
	assert_int_equal(apf_pdf_page_text(pdf, 3, &b, NULL, &err), 0);
	assert_string_equal(b.data, "");
	assert_non_null(apf_pdf_page_note(pdf));
	print_message("# truncated.pdf page 3 note: %s\n", apf_pdf_page_note(pdf));
	assert_non_null(strstr(apf_pdf_page_note(pdf), "object out of range (12 0 R)"));
	assert_int_equal(apf_pdf_render_gray(pdf, 3, 72, &pm, &err), 0);
	assert_non_null(strstr(apf_pdf_page_note(pdf), "object out of range (12 0 R)"));
	apf_pixmap_release(&pm);
	assert_int_equal(apf_pdf_render_gray(pdf, 1, 72, &pm, &err), 0);
	assert_null(apf_pdf_page_note(pdf));
	apf_pixmap_release(&pm);
	free(want);
	apf_buf_release(&b);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(truncated)

/* Bad page numbers, a text cap, bad dpi. */
static void limits_body(void **state)
{
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_err err = { 0 };
	struct apf_buf b;
	struct apf_pixmap pm = { 0 };

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	pdf = open_or_fail(pc, "scripts.pdf");
	apf_buf_init(&b, 100);
	assert_int_equal(apf_pdf_page_text(pdf, 0, &b, NULL, &err), APF_EINVAL);
	assert_string_equal(err.msg, "page 0 out of range: the PDF has 5 pages");
	assert_int_equal(apf_pdf_page_text(pdf, 6, &b, NULL, &err), APF_EINVAL);
	assert_int_equal(apf_pdf_page_text(pdf, 5, &b, NULL, &err), APF_ETOOBIG);
	assert_string_equal(err.msg, "the text of page 5 passes 100 bytes");
	assert_int_equal(apf_pdf_render_gray(pdf, 1, 10, &pm, &err), APF_EINVAL);
	assert_int_equal(apf_pdf_render_gray(pdf, 1, 5000, &pm, &err), APF_EINVAL);
	assert_int_equal(apf_pdf_render_gray(pdf, 9, 72, &pm, &err), APF_EINVAL);
	assert_null(pm.data);
	apf_buf_release(&b);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(limits)

static size_t dark_pixels(const struct apf_pixmap *pm)
{
	size_t n = 0;

	for (int y = 0; y < pm->h; y++)
		for (int x = 0; x < pm->w; x++)
			n += pm->data[(size_t)y * pm->stride + x] < 128;
	return n;
}

/* Rendering: sizes at 72 and 300 dpi, ink where the text is, PNG. */
static void render_body(void **state)
{
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_err err = { 0 };
	struct apf_pixmap pm = { 0 };
	struct apf_buf png;
	int dpi = 0;

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	pdf = open_or_fail(pc, "scan.pdf");
	assert_int_equal(apf_pdf_render_gray(pdf, 1, 72, &pm, &err), 0);
	assert_int_equal(pm.w, 595);
	assert_int_equal(pm.h, 842);
	assert_int_equal(pm.dpi, 72);
	assert_true(pm.stride >= pm.w);
	apf_pixmap_release(&pm);
	assert_null(pm.data);

	assert_int_equal(apf_pdf_render_gray(pdf, 1, 300, &pm, &err), 0);
	assert_int_equal(pm.w, 2480); /* 595 pt = 2479.2 px, rounded out */
	assert_int_equal(pm.h, 3509); /* 842 pt = 3508.3 px */
	assert_int_equal(pm.dpi, 300);
	/* Text covers a few percent of a page, never none, never most. */
	size_t dark = dark_pixels(&pm);
	print_message("# scan.pdf page 1 at 300 dpi: %dx%d, %.2f%% ink\n", pm.w, pm.h,
		      100.0 * (double)dark / ((double)pm.w * pm.h));
	assert_true(dark > (size_t)pm.w * pm.h / 200);
	assert_true(dark < (size_t)pm.w * pm.h / 5);
	/* The top margin (first 0.5 inch) is white. */
	for (int y = 0; y < 150; y++)
		for (int x = 0; x < pm.w; x++)
			assert_true(pm.data[(size_t)y * pm.stride + x] > 200);
	apf_pixmap_release(&pm);

	apf_buf_init(&png, 0);
	assert_int_equal(apf_pdf_render_png(pdf, 1, 100, 1, &png, &dpi, &err), 0);
	assert_int_equal(dpi, 100);
	assert_true(png.len > 1000);
	assert_memory_equal(png.data, "\x89PNG\r\n\x1a\n", 8);
	apf_buf_release(&png);
	apf_buf_init(&png, 0);
	assert_int_equal(apf_pdf_render_png(pdf, 1, 100, 0, &png, NULL, &err), 0);
	assert_memory_equal(png.data, "\x89PNG\r\n\x1a\n", 8);
	apf_buf_release(&png);
	apf_buf_init(&png, 1000);
	assert_int_equal(apf_pdf_render_png(pdf, 1, 100, 1, &png, NULL, &err), APF_ETOOBIG);
	apf_buf_release(&png);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(render)

/* A 200 x 200 inch page is rendered at the dpi that fits the pixel cap. */
static void render_cap_body(void **state)
{
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_err err = { 0 };
	struct apf_pixmap pm = { 0 };

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	pdf = open_or_fail(pc, "huge.pdf");
	assert_int_equal(apf_pdf_render_gray(pdf, 1, 300, &pm, &err), 0);
	print_message("# huge.pdf at 300 dpi asked: %dx%d at %d dpi\n", pm.w, pm.h, pm.dpi);
	assert_true(pm.dpi < 300 && pm.dpi >= APF_PDF_MIN_DPI);
	assert_true((int64_t)pm.w * pm.h <= APF_PDF_MAX_PIXELS);
	assert_true((int64_t)pm.w * pm.h > APF_PDF_MAX_PIXELS / 2);
	apf_pixmap_release(&pm);
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
}
ISOLATED(render_cap)

/* Everything one thread reads from two files, as one string. */
struct reader {
	struct apf_pdf_ctx *pc;
	struct apf_buf all;
	uint64_t ink;
	int rc;
	char msg[APF_ERR_MSG_MAX];
};

static void *read_all(void *arg)
{
	static const char *files[] = { "scripts.pdf", "mixed.pdf", "scan.pdf" };
	struct reader *r = arg;
	struct apf_err err = { 0 };
	struct apf_buf b;

	apf_buf_init(&b, 0);
	for (int round = 0; round < 3 && !r->rc; round++) {
		for (size_t f = 0; f < sizeof(files) / sizeof(files[0]) && !r->rc; f++) {
			struct apf_pdf *pdf = NULL;
			r->rc = apf_pdf_open(r->pc, corpus_path(files[f]), &pdf, &err);
			for (int p = 1; !r->rc && p <= apf_pdf_page_count(pdf); p++) {
				struct apf_pixmap pm;
				r->rc = apf_pdf_page_text(pdf, p, &b, NULL, &err);
				if (!r->rc)
					apf_buf_addf(&r->all, "%s:%d:%s\n", files[f], p, b.data);
				if (!r->rc)
					r->rc = apf_pdf_render_gray(pdf, p, 50, &pm, &err);
				if (!r->rc) {
					for (int y = 0; y < pm.h; y++)
						for (int x = 0; x < pm.w; x++)
							r->ink += 255u - pm.data[(size_t)y * pm.stride + x];
					apf_pixmap_release(&pm);
				}
			}
			apf_pdf_close(pdf);
		}
	}
	if (r->rc)
		apf_strlcpy(r->msg, err.msg, sizeof(r->msg));
	apf_buf_release(&b);
	return NULL;
}

/* Two threads with cloned contexts read the same files at once and get
 * what one thread alone gets. */
static void threads_body(void **state)
{
	struct apf_pdf_ctx *base;
	struct reader solo = { 0 }, r[2] = { { 0 } };
	pthread_t t[2];
	struct apf_err err = { 0 };

	(void)state;
	assert_int_equal(apf_pdf_ctx_new(&base, &err), 0);
	solo.pc = base;
	apf_buf_init(&solo.all, 0);
	read_all(&solo);
	if (solo.rc)
		fail_msg("single thread: %s", solo.msg);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(apf_pdf_ctx_clone(base, &r[i].pc, &err), 0);
		apf_buf_init(&r[i].all, 0);
	}
	/* The base may go before its clones. */
	apf_pdf_ctx_free(base);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, read_all, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (int i = 0; i < 2; i++) {
		if (r[i].rc)
			fail_msg("thread %d: %s", i, r[i].msg);
		assert_int_equal(r[i].all.len, solo.all.len);
		assert_string_equal(r[i].all.data, solo.all.data);
		assert_true(r[i].ink == solo.ink);
		apf_buf_release(&r[i].all);
		apf_pdf_ctx_free(r[i].pc);
	}
	print_message("# 2 threads x 3 rounds x 11 pages: same text (%zu bytes) and same pixels\n",
		      solo.all.len);
	apf_buf_release(&solo.all);
}
ISOLATED(threads)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(born_digital),
		cmocka_unit_test(auto_predicate),
		cmocka_unit_test(garbage),
		cmocka_unit_test(errors),
		cmocka_unit_test(repaired),
		cmocka_unit_test(truncated),
		cmocka_unit_test(limits),
		cmocka_unit_test(render),
		cmocka_unit_test(render_cap),
		cmocka_unit_test(threads),
	};

	return cmocka_run_group_tests(tests, corpus_setup, corpus_teardown);
}
