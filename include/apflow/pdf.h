/*
 * pdf.h: PDF documents through MuPDF.  pdf.c (documents, rendering) and
 * pdf_text.c (the text layer) are the only files that call MuPDF; every
 * fz_try/fz_catch stays inside them and is turned into APF_EPDF (damaged,
 * encrypted, unsupported), APF_ENOMEM or APF_ETOOBIG.
 *
 * Threads: a struct apf_pdf_ctx is used by one thread at a time, and
 * contexts share nothing (each its own resource store, font and glyph
 * caches, no locks): a worker makes its own with apf_pdf_ctx_new_single().
 * A document belongs to the context that opened it; two threads that read
 * the same file each open it with their own context.
 *
 * Pages are numbered from 1, as page_num is in the warehouse.  Every page
 * function loads the page, does its work and drops it, so memory does not
 * grow with the number of pages read.
 */
#ifndef APFLOW_PDF_H
#define APFLOW_PDF_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "apflow/buf.h"
#include "apflow/err.h"
#include "apflow/utf8.h"

struct apf_pdf_ctx;
struct apf_pdf;


/*
 * Checks that path is a PDF apflow can work with: it starts with "%PDF-"
 * (after at most 1024 bytes of leading junk, as readers allow), MuPDF opens
 * it, it is not password-protected, and it has at least one page.  Sets
 * *pages.  Errors are APF_EPDF with a plain reason ("not a PDF",
 * "damaged PDF: ...", "encrypted PDF", "PDF has no pages"), or APF_EIO.
 * Safe to call from any thread (uses its own context).
 */
int apf_pdf_probe(const char *path, int *pages, struct apf_err *err);
/*
 * The first check of the probe on the file's first bytes: "%PDF-" within
 * the first 1 KiB, as PDF readers look for it (n: how many of the first
 * APF_PDF_HEAD bytes there are; fewer only at the end of the file).
 * Lets a caller refuse a file before copying it: "empty file", "not a PDF
 * (no %PDF- signature)" (APF_EPDF).
 */
#define APF_PDF_HEAD (1024 + 5)
int apf_pdf_check_head(const void *head, size_t n, struct apf_err *err);
/* The same, and *repaired (if not NULL) says whether MuPDF had to rebuild
 * the cross-reference table to open it (see apf_pdf_was_repaired()). */
int apf_pdf_probe_ex(const char *path, int *pages, int *repaired, struct apf_err *err);

/*
 * A context for one thread at a time, whose resource store (decoded
 * images and fonts kept after their page is dropped) holds at most
 * store_max bytes (0: MuPDF's default, 256 MB).  A scan's page image is
 * never used again, so a stage that reads scans bounds its memory here.
 */
int apf_pdf_ctx_new_single(size_t store_max, struct apf_pdf_ctx **out, struct apf_err *err);
/* The same with MuPDF's default store (apf_pdf_probe(), tests). */
int apf_pdf_ctx_new(struct apf_pdf_ctx **out, struct apf_err *err);
/*
 * The work one page may take, for every page function of the context's
 * documents (text, ink, rendering): a page whose content streams pass
 * max_ops operators (text, ink: each operator counts, those of a form
 * each time it is drawn), whose rendering passes max_draws calls of the
 * renderer to its device, or that takes more than max_ms, fails with
 * APF_ETOOBIG or APF_ETIMEOUT ("the page passes 5000000 content-stream
 * operators", "... 1000000 drawing operations", "the page takes more
 * than 30000 ms"); once *cancel (when not NULL) is non-zero, every page
 * fails at once with APF_EINTERNAL "cancelled".  A form tree in which
 * each form draws the next twice, 30 deep (a 7 KB file), would otherwise
 * take hours on one page: with these bounds its text fails in some 6 s,
 * its rendering in some 5 s.  Zeros are the defaults below, which a page
 * of text (some 10,000 operators) or a dense map (a few 100,000) is far
 * from.  Rendering also fails past 72 levels of nested drawing (forms
 * in forms: the text reader skips forms deeper than 64).
 */
#define APF_PDF_MAX_PAGE_OPS ((int64_t)5000000)
#define APF_PDF_MAX_PAGE_DRAWS ((int64_t)1000000)
#define APF_PDF_MAX_PAGE_MS 30000
struct apf_pdf_limits {
	int64_t max_ops;
	int64_t max_draws;
	int max_ms;
	volatile sig_atomic_t *cancel;
};
void apf_pdf_ctx_set_limits(struct apf_pdf_ctx *ctx, const struct apf_pdf_limits *limits);
/* Frees a context; every document it opened must be closed first.  NULL is fine. */
void apf_pdf_ctx_free(struct apf_pdf_ctx *ctx);

/*
 * Opens the PDF at path, with the PDF handler whatever the file is called.
 * Makes the checks of apf_pdf_probe() and fails with its messages, as the
 * whole of err->msg: "not a PDF (no %PDF- signature)", "empty file",
 * "damaged PDF: <MuPDF's reason>", "encrypted PDF: a password is needed to
 * read it", "PDF has no pages" (APF_EPDF), "cannot open '<path>': <errno
 * text>" (APF_EIO).  A damaged file that MuPDF can repair (a broken
 * cross-reference table, a truncated tail) opens; apf_pdf_was_repaired()
 * then says so.  A file encrypted with an empty user password (only an
 * owner password, common for "no copying" PDFs) opens.
 *
 * The page count is what the page tree holds, not what its /Count says:
 * the tree is walked once, with work bounded by the file's size; a tree
 * that lists more nodes than the file could hold (nodes listed over and
 * over), nested more than 256 deep, or with more than APF_PDF_MAX_PAGES
 * pages is "damaged PDF: <why>".
 */
#define APF_PDF_MAX_PAGES 1000000
int apf_pdf_open(struct apf_pdf_ctx *ctx, const char *path, struct apf_pdf **out, struct apf_err *err);
void apf_pdf_close(struct apf_pdf *pdf); /* NULL is fine */
int apf_pdf_page_count(const struct apf_pdf *pdf); /* >= 1 */
int apf_pdf_was_repaired(const struct apf_pdf *pdf);

/*
 * The first problem MuPDF reported, and worked around, while the last
 * successful apf_pdf_page_text() or render of this document read its page,
 * or NULL if there was none.  MuPDF is lenient: a page whose objects are
 * missing (a truncated file) reads as an empty page, a broken font as no
 * glyphs, and this note is the only sign of it.  Callers record it with
 * the page (e.g. "object out of range (12 0 R); xref size 12").
 */
const char *apf_pdf_page_note(const struct apf_pdf *pdf);

/*
 * The text layer of page page_num (1-based), as MuPDF's structured text
 * has it (streamed as MuPDF makes it, without building the structured-
 * text page: pdf_text.c), normalised by apf_textnorm (utf8.h): out is reset,
 * then holds well-formed UTF-8 in which the lines of a text block are
 * joined by '\n' and blocks are separated by one blank line; *stats
 * describes it.
 *
 * Blocks and lines come in the order of the page's content stream, which is
 * reading order for the PDFs that word processors and scanners write (MuPDF
 * 1.21 has no layout analysis that would reorder columns).  Ligatures are
 * expanded (U+FB01 gives "fi"), hyphens at line ends are kept (no
 * dehyphenation: the text is what the page shows), characters entirely
 * outside the media box are ignored, glyphs that map to no Unicode become
 * U+FFFD and count as garbage.
 *
 * Errors: APF_EINVAL (page out of range), APF_EPDF (MuPDF cannot read the
 * page: its reason), APF_ETOOBIG (the text passes out's cap), APF_ENOMEM.
 * out's contents are unspecified after an error.
 */
int apf_pdf_page_text(struct apf_pdf *pdf, int page_num, struct apf_buf *out,
		      struct apf_text_stats *stats, struct apf_err *err);
/*
 * The same text through MuPDF's own structured-text page, which
 * apf_pdf_page_text() reproduces without building (pdf_text.c says how), at
 * some 1.4 times the cost; for tests that hold the two to the same text.
 */
int apf_pdf_page_text_stext(struct apf_pdf *pdf, int page_num, struct apf_buf *out,
			    struct apf_text_stats *stats, struct apf_err *err);

/*
 * Whether a text layer with these statistics is real text, for the `auto`
 * engine (otherwise the page is rendered and OCRed).  The thresholds:
 *
 *   - at least APF_PDF_TEXT_MIN_CHARS (16) non-space code points: a scanned
 *     page often carries a stamp, a page number or a header in real text,
 *     and such a page still needs OCR;
 *   - garbage (U+FFFD, private-use) under APF_PDF_TEXT_MAX_GARBAGE_PCT (10)
 *     percent of the non-space code points: fonts without a Unicode mapping
 *     give text that looks long but is not text.
 */
/*
 * Sets *inked to whether page page_num draws anything: a path painted, an
 * image, a shading, text shown, in its content or its forms, or an
 * annotation.  A page without (a blank page, an empty content stream) is
 * what the auto engine stores as empty text without rendering it for
 * Tesseract.  Errors as apf_pdf_page_text().
 */
int apf_pdf_page_inked(struct apf_pdf *pdf, int page_num, int *inked, struct apf_err *err);

#define APF_PDF_TEXT_MIN_CHARS 16
#define APF_PDF_TEXT_MAX_GARBAGE_PCT 10
int apf_pdf_text_is_real(const struct apf_text_stats *stats);

/*
 * A rendered page: 8-bit grayscale, one byte per pixel (0 black, 255
 * white), rows top to bottom, stride bytes apart.  dpi is the resolution
 * actually rendered (see APF_PDF_MAX_PIXELS).  The caller owns data and
 * frees it with apf_pixmap_release().
 */
struct apf_pixmap {
	int w, h;
	int stride;
	int dpi;
	unsigned char *data;
};

/*
 * Renderings are capped at APF_PDF_MAX_PIXELS pixels (64 Mpx: A4 at
 * 300 dpi is 8.7 Mpx, A0 at 200 dpi 48 Mpx).  A page that would pass the
 * cap at the dpi asked for is rendered at the highest dpi that fits, which
 * the result reports; one that would not fit even at APF_PDF_MIN_DPI is
 * APF_ETOOBIG.
 */
#define APF_PDF_MAX_PIXELS ((int64_t)64 << 20)
#define APF_PDF_MIN_DPI 36
#define APF_PDF_MAX_DPI 1200

/* Renders page page_num at dpi (APF_PDF_MIN_DPI..APF_PDF_MAX_DPI) into *out. */
int apf_pdf_render_gray(struct apf_pdf *pdf, int page_num, int dpi, struct apf_pixmap *out,
			struct apf_err *err);
void apf_pixmap_release(struct apf_pixmap *pm);

/*
 * Renders page page_num at dpi as a PNG (grayscale when gray is non-zero,
 * RGB otherwise) into out, which is reset first; *dpi_out (if not NULL)
 * gets the resolution rendered.  Errors as apf_pdf_render_gray(), and
 * APF_ETOOBIG when the PNG passes out's cap.
 */
int apf_pdf_render_png(struct apf_pdf *pdf, int page_num, int dpi, int gray, struct apf_buf *out,
		       int *dpi_out, struct apf_err *err);

#endif
