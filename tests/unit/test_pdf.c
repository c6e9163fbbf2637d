/*
 * test_pdf.c: the MuPDF text engine and renderer, on the corpus of
 * scripts/gen-corpus.sh.  Each test body runs in a child process
 * (run_isolated), so a crash inside MuPDF fails one test only.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

/* An interrupted download: what is there reads, a page whose object is
 * gone fails with the reason. */
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
	/* The page tree lists page 3, whose object is gone: it cannot be
	 * read, and the error says why. */
	assert_int_equal(apf_pdf_page_text(pdf, 3, &b, NULL, &err), APF_EPDF);
	print_message("# truncated.pdf page 3: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "cannot read the text of page 3: object out of range (12 0 R)"));
	assert_int_equal(apf_pdf_render_gray(pdf, 3, 72, &pm, &err), APF_EPDF);
	assert_non_null(strstr(err.msg, "cannot render page 3: object out of range (12 0 R)"));
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

/* Two threads, each with a context of its own, read the same files at
 * once and get what one thread alone gets. */
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
		assert_int_equal(apf_pdf_ctx_new_single(16 << 20, &r[i].pc, &err), 0);
		apf_buf_init(&r[i].all, 0);
	}
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

/*
 * apf_pdf_page_text() reads the text with a device of its own that must
 * give what MuPDF's structured text gives (apf_pdf_page_text_stext()),
 * character for character.  Compared on every page of the corpus and of
 * two files made here for the device's corner cases: text clipped by the
 * media box (partly, wholly, on a rotated page with an offset box), every
 * text render mode (fill, stroke, fill and stroke of one object, invisible,
 * clip), TJ kerning forwards and backwards, overprinting, rotated,
 * mirrored, scaled, risen, spaced and stretched text, right-to-left
 * letters with digits, a ligature, one glyph for two characters, odd
 * spaces (ToUnicode), and vertical CJK.
 */
static const char edge_content[] =
	"BT /F1 12 Tf 20 170 Td (Inside the box) Tj ET\n"
	"BT /F1 12 Tf -60 150 Td (Half out on the left side) Tj ET\n"
	"BT /F1 12 Tf 240 130 Td (Running off the right edge) Tj ET\n"
	"BT /F1 12 Tf 20 260 Td (Entirely above the page) Tj ET\n"
	"BT /F1 12 Tf 20 196 Td (Straddling the top) Tj ET\n"
	"BT /F1 12 Tf 2 Tr 20 110 Td (Fill and stroke) Tj ET\n"
	"BT /F1 12 Tf 1 Tr 150 110 Td (Stroke only) Tj ET\n"
	"BT /F1 12 Tf 3 Tr 20 95 Td (Invisible text) Tj ET\n"
	"BT /F1 12 Tf 7 Tr 150 95 Td (Clip text) Tj ET\n"
	"BT /F1 12 Tf 0 Tr 20 80 Td [(Kern) -200 (ed) 300 (Text) -2000 (far) 900 (back)] TJ ET\n"
	"BT /F1 12 Tf 20 65 Td (Bold) Tj ET BT /F1 12 Tf 20 65 Td (Bold) Tj ET\n"
	"BT /F1 12 Tf 20 50 Td (AA) Tj -8.004 0 Td (A) Tj ET\n"
	"BT /F1 10 Tf 0.7071 0.7071 -0.7071 0.7071 200 20 Tm (Rotated text) Tj ET\n"
	"BT /F1 12 Tf 20 35 Td 14 TL (line one) Tj T* (line two) Tj 0 -30 Td (far below) Tj ET\n"
	"BT /F1 12 Tf 40 20 Td (indented) Tj ET BT /F1 12 Tf 20 8 Td (next obj) Tj ET\n"
	"BT /F2 12 Tf 100 150 Td (abcde) Tj ET\n"
	"BT /F2 12 Tf 100 140 Td (ab 12 cd) Tj ( e) Tj ET\n"
	"BT /F2 12 Tf 100 180 Td (fghijk) Tj ET\n"
	"BT /F1 12 Tf 3 Ts 20 125 Td (rise) Tj ET\n"
	"BT /F1 12 Tf 200 Tz 150 125 Td (wide) Tj ET\n"
	"BT /F1 12 Tf -1 0 0 1 280 60 Tm (mirrored) Tj ET\n"
	"BT /F1 12 Tf 5 Tc 20 185 Td (spaced out) Tj ET\n"
	"BT /F1 12 Tf 0 Tc 8 Tw 150 185 Td (word spaced) Tj ET\n"
	"q 0.5 0 0 0.5 0 0 cm BT /F1 12 Tf 400 300 Td (scaled by cm) Tj ET Q";

/*
 * The content-stream operators that the text reader must follow as
 * MuPDF's run processor does: a text object ends at a colour or line-state
 * operator, at Q and cm, at a change of render mode; forms (shifted, and
 * one that draws itself); text in hidden optional content (dropped when
 * filled, kept when invisible or clipping); text before any font (a
 * warning); a Q too many (a warning).
 */
static const char proc_content[] =
	"BT 20 30 Td (no font) Tj ET\n"
	"BT /F1 12 Tf 20 180 Td (Red) Tj 1 0 0 rg ( then green) Tj 0 1 0 rg 30 -12 Td (after colour) Tj ET\n"
	"BT /F1 12 Tf 40 150 Td (q in text) Tj q 0.5 g Q 30 -4 Td (after Q) Tj ET\n"
	"BT /F1 12 Tf 20 135 Td (mode change) Tj 1 Tr ( stroked) Tj 0 Tr 40 -3 Td ( filled) Tj ET\n"
	"BT /F1 12 Tf 20 120 Td (line) Tj 2 w ( width) Tj 1 J ( cap) Tj [2 1] 0 d ( dash) Tj /GS1 gs 30 -4 Td (gs) Tj "
	"0.5 0 0 0.5 0 0 cm 40 -3 Td (cm) Tj ET\n"
	"/Fm1 Do q 1 0 0 1 10 -20 cm /Fm1 Do Q /Loop Do\n"
	"/OC /Hid BDC BT /F1 12 Tf 20 60 Td (hidden fill) Tj 3 Tr ( hidden invisible) Tj 7 Tr ( hidden clip) Tj ET "
	"EMC\n"
	"/OC /Vis BDC BT /F1 12 Tf 20 45 Td (visible optional) Tj ET EMC\n"
	"Q\n"
	"BT /F1 12 Tf 20 15 Td (last) Tj ET";

static const char proc_form[] = "BT /F1 10 Tf 20 100 Td (in a form) Tj 0 -11 Td (second line) Tj ET";
static const char proc_loop[] = "BT /F1 9 Tf 150 100 Td (loop) Tj ET /Loop Do";

/*
 * A document as a real producer writes it: Chromium's PDF backend (Skia),
 * with subset TrueType fonts as Type0/Identity-H with ToUnicode, text in
 * transparency-group forms, columns, a table, several scripts, combining
 * marks, emoji, rotated and superscript text, text hidden with CSS.
 * (Not CSS background-clip: text, which Chromium draws as a soft mask
 * holding the text: MuPDF's structured text reads the mask's text too,
 * a second time, and ours does not; see docs/internals/pagetext.md.)
 */
static const char chromium_html[] =
	"<html><head><meta charset='utf-8'><style>body{font-family:sans-serif} .cols{column-count:2}"
	"td{border:1px solid #000} .r{transform:rotate(-30deg);display:inline-block}"
	".sup{vertical-align:super;font-size:60%} .h{visibility:hidden} .o{opacity:0.5}</style></head><body>"
	"<h1>Vessel particulars \u2014 MV \u00c5lesund</h1>"
	"<p>The bulk carrier <b>MV Stena Vinga</b> (IMO 9444522) sails under the flag of <i>Liberia</i>. "
	"Ligatures: office, afflict, flow.</p>"
	"<div class='cols'><p>Column one: the voyage from Santos to Algeciras in fair weather at 16 knots.</p>"
	"<p>Column two: the pilot boarded at the fairway buoy; berthed at 14:30 UTC.</p></div>"
	"<table><tr><td>Port</td><td>ETA</td></tr><tr><td>Rotterdam</td><td>2024-03-18</td></tr></table>"
	"<p>\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u041f\u0440\u0438\u0432\u0435\u0442 "
	"\u05e9\u05dc\u05d5\u05dd 123 e\u0301 \U0001F6A2</p>"
	"<p>Rotated: <span class='r'>tilted words</span>, H<span class='sup'>2</span>O, "
	"<span class='o'>half transparent</span>.</p><p class='h'>hidden by CSS</p>"
	"<svg width='300' height='40'><text x='10' y='30' font-size='20'>SVG text</text></svg>"
	"</body></html>";

/* a..e: Hebrew letters; f: U+FB01; g: "AB"; h, i, j: tab, no-break space,
 * ideographic space; k: U+FB03. */
static const char edge_cmap[] =
	"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
	"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
	"/CMapName /Test def /CMapType 2 def\n"
	"1 begincodespacerange <00> <FF> endcodespacerange\n"
	"11 beginbfchar\n"
	"<61> <05D0> <62> <05D1> <63> <05D2> <64> <05D3> <65> <05D4>\n"
	"<66> <FB01> <67> <00410042> <68> <0009> <69> <00A0> <6A> <3000> <6B> <FB03>\n"
	"endbfchar\n"
	"endcmap CMapName currentdict /CMap defineresource pop end end";

/* Writes a PDF of the given objects (1: the catalog) with its xref. */
static void write_pdf(const char *path, const char *const *objs, int n)
{
	long offs[16];
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_true(n < 16);
	fputs("%PDF-1.7\n", f);
	for (int i = 0; i < n; i++) {
		offs[i] = ftell(f);
		fprintf(f, "%d 0 obj\n%s\nendobj\n", i + 1, objs[i]);
	}
	long xref = ftell(f);
	fprintf(f, "xref\n0 %d\n0000000000 65535 f \n", n + 1);
	for (int i = 0; i < n; i++)
		fprintf(f, "%010ld 00000 n \n", offs[i]);
	fprintf(f, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%ld\n%%%%EOF\n", n + 1, xref);
	assert_int_equal(fclose(f), 0);
}

/* Compares the two readings on every page of path; returns the pages. */
static int compare_readings(struct apf_pdf_ctx *pc, const char *path)
{
	struct apf_pdf *pdf = NULL;
	struct apf_err err = { 0 }, err2 = { 0 };
	struct apf_buf a, b;
	struct apf_text_stats sa, sb;
	int n;

	if (apf_pdf_open(pc, path, &pdf, &err))
		return 0; /* the corpus's damaged, encrypted ... files */
	n = apf_pdf_page_count(pdf);
	apf_buf_init(&a, 0);
	apf_buf_init(&b, 0);
	for (int p = 1; p <= n; p++) {
		char note[256];
		int ra = apf_pdf_page_text(pdf, p, &a, &sa, &err);

		apf_strlcpy(note, apf_pdf_page_note(pdf) ? apf_pdf_page_note(pdf) : "", sizeof(note));
		int rb = apf_pdf_page_text_stext(pdf, p, &b, &sb, &err2);

		assert_int_equal(ra, rb);
		if (ra) {
			assert_string_equal(err.msg, err2.msg);
			continue;
		}
		if (a.len != b.len || memcmp(a.data, b.data, a.len))
			fail_msg("%s page %d:\n--- MuPDF's structured text\n%s\n--- ours\n%s\n---", path, p,
				 b.data, a.data);
		assert_int_equal(sa.chars, sb.chars);
		assert_int_equal(sa.nonspace, sb.nonspace);
		assert_int_equal(sa.garbage, sb.garbage);
		assert_int_equal(sa.words, sb.words);
		assert_string_equal(apf_pdf_page_note(pdf) ? apf_pdf_page_note(pdf) : "", note);
	}
	apf_buf_release(&a);
	apf_buf_release(&b);
	apf_pdf_close(pdf);
	return n;
}

/* Makes chromium.pdf in dir from chromium_html and compares the readings. */
static int chromium_pdf(struct apf_pdf_ctx *pc, const char *dir)
{
	char html[PATH_MAX + 16], pdf_path[PATH_MAX + 16], cmd[4 * PATH_MAX];
	struct apf_pdf *pdf = NULL;
	struct apf_err err = { 0 };
	struct apf_buf b;
	FILE *f;
	int n;

	snprintf(html, sizeof(html), "%s/chromium.html", dir);
	snprintf(pdf_path, sizeof(pdf_path), "%s/chromium.pdf", dir);
	f = fopen(html, "w");
	assert_non_null(f);
	fputs(chromium_html, f);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd),
		 "timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir='%s/profile' "
		 "--no-pdf-header-footer --print-to-pdf='%s' 'file://%s' >/dev/null 2>&1",
		 dir, pdf_path, html);
	assert_int_equal(system(cmd), 0);
	n = compare_readings(pc, pdf_path);
	assert_true(n >= 1);
	assert_int_equal(apf_pdf_open(pc, pdf_path, &pdf, &err), 0);
	apf_buf_init(&b, 0);
	assert_int_equal(apf_pdf_page_text(pdf, 1, &b, NULL, &err), 0);
	assert_non_null(strstr(b.data, "Vessel particulars \xe2\x80\x94 MV \xc3\x85lesund"));
	assert_non_null(strstr(b.data, "(IMO 9444522)"));
	assert_non_null(strstr(b.data, "Rotterdam"));
	assert_non_null(strstr(b.data, "\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xe1\xbd\xb3\xcf\x81\xce\xb1") ||
			strstr(b.data, "\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1"));
	assert_non_null(strstr(b.data, "SVG text"));
	assert_null(strstr(b.data, "hidden by CSS"));
	print_message("# chromium.pdf: %d page(s), the same text both ways\n", n);
	apf_buf_release(&b);
	apf_pdf_close(pdf);
	return n;
}

/*
 * forms.pdf: a page whose form 1 shows "level 1" and draws form 2, which
 * shows "level 2" and draws form 3 ... down to form n.  Objects: 1 the
 * catalog, 2 the pages, 3 the page, 4 its content, 5 the font, 5 + k form k.
 */
static void write_nested_forms(const char *path, int n)
{
	long *offs = calloc((size_t)n + 6, sizeof(*offs));
	FILE *f = fopen(path, "wb");
	int nobj = 5 + n;

	assert_non_null(offs);
	assert_non_null(f);
	fputs("%PDF-1.7\n", f);
	offs[1] = ftell(f);
	fputs("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n", f);
	offs[2] = ftell(f);
	fputs("2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n", f);
	offs[3] = ftell(f);
	fputs("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
	      "/Resources << /XObject << /F1 6 0 R >> >> /Contents 4 0 R >>\nendobj\n", f);
	offs[4] = ftell(f);
	fputs("4 0 obj\n<< /Length 7 >>\nstream\n/F1 Do\nendstream\nendobj\n", f);
	offs[5] = ftell(f);
	fputs("5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n", f);
	for (int k = 1; k <= n; k++) {
		char body[160], next[64] = "";

		if (k < n)
			snprintf(next, sizeof(next), " /XObject << /F%d %d 0 R >>", k + 1, 5 + k + 1);
		snprintf(body, sizeof(body), "BT /F 6 Tf %d %d Td (level %d) Tj ET%s", 20 + (k % 5) * 110,
			 820 - (k / 5) * 8, k, k < n ? "" : "");
		if (k < n)
			snprintf(body + strlen(body), sizeof(body) - strlen(body), " /F%d Do", k + 1);
		offs[5 + k] = ftell(f);
		fprintf(f,
			"%d 0 obj\n<< /Type /XObject /Subtype /Form /BBox [0 0 595 842] "
			"/Resources << /Font << /F 5 0 R >>%s >> /Length %zu >>\nstream\n%s\nendstream\nendobj\n",
			5 + k, next, strlen(body), body);
	}
	long xref = ftell(f);
	fprintf(f, "xref\n0 %d\n0000000000 65535 f \n", nobj + 1);
	for (int i = 1; i <= nobj; i++)
		fprintf(f, "%010ld 00000 n \n", offs[i]);
	fprintf(f, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%ld\n%%%%EOF\n", nobj + 1, xref);
	assert_int_equal(fclose(f), 0);
	free(offs);
}

/* Forms nested 100 deep: the first 64 levels are read, then a note. */
static void check_nested_forms(struct apf_pdf_ctx *pc, const char *dir)
{
	char path[PATH_MAX + 16], want[32];
	struct apf_pdf *pdf = NULL;
	struct apf_err err = { 0 };
	struct apf_buf b;

	snprintf(path, sizeof(path), "%s/forms.pdf", dir);
	write_nested_forms(path, 100);
	assert_int_equal(apf_pdf_open(pc, path, &pdf, &err), 0);
	apf_buf_init(&b, 0);
	assert_int_equal(apf_pdf_page_text(pdf, 1, &b, NULL, &err), 0);
	for (int k = 1; k <= 100; k++) {
		const char *at = b.data;
		int found = 0;

		snprintf(want, sizeof(want), "level %d", k);
		while (!found && (at = strstr(at, want))) {
			at += strlen(want);
			found = *at < '0' || *at > '9'; /* not "level 10" for "level 1" */
		}
		if (k <= 64 && !found)
			fail_msg("forms.pdf: no '%s' in:\n%s", want, b.data);
		if (k > 64 && found)
			fail_msg("forms.pdf: '%s' read, deeper than 64", want);
	}
	assert_string_equal(apf_pdf_page_note(pdf), "forms nested more than 64 deep: the deeper ones are not read");
	apf_buf_release(&b);
	apf_pdf_close(pdf);
}

/* What proc.pdf gives, besides being what MuPDF gives. */
static void check_proc_text(struct apf_pdf_ctx *pc, const char *path)
{
	struct apf_pdf *pdf = NULL;
	struct apf_err err = { 0 };
	struct apf_buf b;
	const char *t, *at;
	int forms = 0;

	assert_int_equal(apf_pdf_open(pc, path, &pdf, &err), 0);
	apf_buf_init(&b, 0);
	assert_int_equal(apf_pdf_page_text(pdf, 1, &b, NULL, &err), 0);
	t = b.data;
	for (at = t; (at = strstr(at, "in a form")); at++)
		forms++;
	assert_int_equal(forms, 2);
	assert_non_null(strstr(t, "Red then green"));
	assert_non_null(strstr(t, "loop"));
	assert_null(strstr(t, "hidden fill"));
	assert_non_null(strstr(t, "hidden invisible hidden clip"));
	assert_non_null(strstr(t, "visible optional"));
	assert_null(strstr(t, "no font"));
	assert_non_null(strstr(t, "last"));
	assert_string_equal(apf_pdf_page_note(pdf), "cannot draw text since font and size not set");
	apf_buf_release(&b);
	apf_pdf_close(pdf);
}

/* Makes dir/name.pdf with a generator of tests/lib/hostile-pdf.sh. */
static void hostile(const char *dir, const char *gen, const char *name, const char *args, char *out, size_t n)
{
	const char *top = getenv("APFLOW_TOP");
	char cmd[3 * PATH_MAX];

	snprintf(out, n, "%s/%s.pdf", dir, name);
	snprintf(cmd, sizeof(cmd), "bash -c '. \"%s/tests/lib/hostile-pdf.sh\" && %s \"%s\" %s'", top ? top : ".",
		 gen, out, args);
	assert_int_equal(system(cmd), 0);
}

/*
 * Hostile pages: a page tree that lies about its count, a form tree that
 * doubles at each level, forms nested past MuPDF's exception stack, blank
 * pages; the bounds of apf_pdf_ctx_set_limits() and the cancel flag.
 */
static void hostile_pages_body(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], lie[PATH_MAX + 16], bomb[PATH_MAX + 16], deep[PATH_MAX + 16], blank[PATH_MAX + 16];
	struct apf_pdf_ctx *pc;
	struct apf_pdf *pdf;
	struct apf_err err = { 0 };
	struct apf_buf b;
	struct apf_pixmap pm = { 0 };
	volatile sig_atomic_t cancel = 0;
	int inked = -1;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/apflow-hostile.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	hostile(dir, "hpdf_lying_count", "lie", "100000000", lie, sizeof(lie));
	hostile(dir, "hpdf_form_bomb", "bomb", "30", bomb, sizeof(bomb));
	hostile(dir, "hpdf_deep_forms", "deep", "500", deep, sizeof(deep));
	hostile(dir, "hpdf_blank", "blank", "3 2", blank, sizeof(blank));
	apf_buf_init(&b, 0);
	assert_int_equal(apf_pdf_ctx_new(&pc, &err), 0);
	apf_pdf_ctx_set_limits(pc, &(struct apf_pdf_limits){ 20000, 2000, 0, &cancel });

	/* The count is what the tree holds. */
	assert_int_equal(apf_pdf_open(pc, lie, &pdf, &err), 0);
	assert_int_equal(apf_pdf_page_count(pdf), 1);
	assert_int_equal(apf_pdf_page_text(pdf, 1, &b, NULL, &err), 0);
	assert_string_equal(b.data, "Hello");
	assert_int_equal(apf_pdf_page_text(pdf, 2, &b, NULL, &err), APF_EINVAL);
	apf_pdf_close(pdf);

	/* 2^30 draws: each reader stops at its bound, saying which. */
	assert_int_equal(apf_pdf_open(pc, bomb, &pdf, &err), 0);
	assert_int_equal(apf_pdf_page_text(pdf, 1, &b, NULL, &err), APF_ETOOBIG);
	assert_string_equal(err.msg, "cannot read the text of page 1: the page passes 20000 content-stream operators");
	assert_int_equal(apf_pdf_render_gray(pdf, 1, 72, &pm, &err), APF_ETOOBIG);
	assert_string_equal(err.msg, "cannot render page 1: the page passes 2000 drawing operations");
	assert_int_equal(apf_pdf_page_inked(pdf, 1, &inked, &err), 0);
	assert_int_equal(inked, 1);
	/* A cancel stops the page at once. */
	cancel = 1;
	assert_int_equal(apf_pdf_page_text(pdf, 1, &b, NULL, &err), APF_EINTERNAL);
	assert_string_equal(err.msg, "cannot read the text of page 1: cancelled");
	assert_int_equal(apf_pdf_render_gray(pdf, 1, 72, &pm, &err), APF_EINTERNAL);
	assert_string_equal(err.msg, "cannot render page 1: cancelled");
	cancel = 0;
	apf_pdf_close(pdf);

	/* Forms 500 deep: the text reader stops at 64 with a note, the
	 * renderer at 72 levels of drawing (MuPDF's run processor would
	 * recurse all the way). */
	assert_int_equal(apf_pdf_open(pc, deep, &pdf, &err), 0);
	assert_int_equal(apf_pdf_page_text(pdf, 1, &b, NULL, &err), 0);
	assert_non_null(apf_pdf_page_note(pdf));
	assert_non_null(strstr(apf_pdf_page_note(pdf), "forms nested more than 64 deep"));
	assert_int_equal(apf_pdf_render_gray(pdf, 1, 72, &pm, &err), APF_ETOOBIG);
	assert_string_equal(err.msg,
			    "cannot render page 1: the page nests its drawing (forms, clips, groups) more than 72 deep");
	apf_pdf_close(pdf);

	/* Blank pages have no ink; a page of text has. */
	assert_int_equal(apf_pdf_open(pc, blank, &pdf, &err), 0);
	assert_int_equal(apf_pdf_page_inked(pdf, 1, &inked, &err), 0);
	assert_int_equal(inked, 0);
	assert_int_equal(apf_pdf_page_inked(pdf, 2, &inked, &err), 0);
	assert_int_equal(inked, 1);
	assert_int_equal(apf_pdf_page_inked(pdf, 3, &inked, &err), 0);
	assert_int_equal(inked, 0);
	apf_pdf_close(pdf);

	apf_buf_release(&b);
	apf_pdf_ctx_free(pc);
	unlink(lie);
	unlink(bomb);
	unlink(deep);
	unlink(blank);
	rmdir(dir);
}
ISOLATED(hostile_pages)

static void text_device_body(void **state)
{
	static const char *const corpus[] = { "scripts.pdf", "mixed.pdf", "garbage.pdf", "badxref.pdf",
					      "truncated.pdf", "owneronly.pdf", "scan.pdf", "huge.pdf" };
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], edge[PATH_MAX + 16], vert[PATH_MAX + 16], src[PATH_MAX + 16], cmd[3 * PATH_MAX];
	char content[2048], cmap[1024], proc[PATH_MAX + 16], pcontent[2048], pform[512], ploop[512];
	struct apf_pdf_ctx *pc;
	struct apf_err err = { 0 };
	int pages = 0;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/apflow-textdev.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(edge, sizeof(edge), "%s/edge.pdf", dir);
	snprintf(vert, sizeof(vert), "%s/vert.pdf", dir);
	snprintf(src, sizeof(src), "%s/vert.txt", dir);
	snprintf(proc, sizeof(proc), "%s/proc.pdf", dir);
	snprintf(content, sizeof(content), "<< /Length %zu >>\nstream\n%s\nendstream", strlen(edge_content),
		 edge_content);
	snprintf(cmap, sizeof(cmap), "<< /Length %zu >>\nstream\n%s\nendstream", strlen(edge_cmap), edge_cmap);
	const char *objs[] = {
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 8 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] "
		"/Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>",
		content,
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 7 0 R >>",
		cmap,
		"<< /Type /Page /Parent 2 0 R /MediaBox [100 50 400 250] /Rotate 90 "
		"/Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>",
	};
	write_pdf(edge, objs, 8);
	snprintf(pcontent, sizeof(pcontent), "<< /Length %zu >>\nstream\n%s\nendstream", strlen(proc_content),
		 proc_content);
	snprintf(pform, sizeof(pform),
		 "<< /Type /XObject /Subtype /Form /BBox [0 0 300 200] /Matrix [1 0 0 1 100 0] "
		 "/Resources << /Font << /F1 5 0 R >> >> /Length %zu >>\nstream\n%s\nendstream",
		 strlen(proc_form), proc_form);
	snprintf(ploop, sizeof(ploop),
		 "<< /Type /XObject /Subtype /Form /BBox [0 0 300 200] "
		 "/Resources << /Font << /F1 5 0 R >> /XObject << /Loop 7 0 R >> >> /Length %zu >>\n"
		 "stream\n%s\nendstream",
		 strlen(proc_loop), proc_loop);
	const char *pobjs[] = {
		"<< /Type /Catalog /Pages 2 0 R /OCProperties << /OCGs [8 0 R 9 0 R] /D << /OFF [8 0 R] >> >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Resources << /Font << /F1 5 0 R >> "
		"/XObject << /Fm1 6 0 R /Loop 7 0 R >> /Properties << /Hid 8 0 R /Vis 9 0 R >> "
		"/ExtGState << /GS1 10 0 R >> >> /Contents 4 0 R >>",
		pcontent,
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		pform,
		ploop,
		"<< /Type /OCG /Name (Hidden) >>",
		"<< /Type /OCG /Name (Visible) >>",
		"<< /Type /ExtGState /LW 3 /CA 0.5 >>",
	};
	write_pdf(proc, pobjs, 10);
	/* Vertical CJK, as mutool makes it (gen-corpus.sh needs mutool too). */
	f = fopen(src, "w");
	assert_non_null(f);
	fputs("%%MediaBox 0 0 300 300\n%%CJKFont V1 ja V sans\n%%CJKFont H1 ja H sans\n"
	      "BT /V1 14 Tf 250 280 Td <6771 4EAC 6E2F> Tj 30 0 Td <30B3 30F3> Tj ET\n"
	      "BT /H1 14 Tf 20 280 Td <6771 4EAC> Tj ET\n",
	      f);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "mutool create -o '%s' '%s' >/dev/null 2>&1", vert, src);
	assert_int_equal(system(cmd), 0);

	assert_int_equal(apf_pdf_ctx_new_single(0, &pc, &err), 0);
	assert_int_equal(compare_readings(pc, edge), 2);
	assert_int_equal(compare_readings(pc, vert), 1);
	assert_int_equal(compare_readings(pc, proc), 1);
	check_proc_text(pc, proc);
	check_nested_forms(pc, dir);
	pages = 4;
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
		pages += compare_readings(pc, corpus_path(corpus[i]));
	pages += chromium_pdf(pc, dir);
	apf_pdf_ctx_free(pc);
	print_message("# %d pages: the text device reads what MuPDF's structured text reads\n", pages);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}
ISOLATED(text_device)

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
		cmocka_unit_test(hostile_pages),
		cmocka_unit_test(text_device),
	};

	return cmocka_run_group_tests(tests, corpus_setup, corpus_teardown);
}
