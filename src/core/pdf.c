/*
 * pdf.c: the MuPDF adapter.  Every call into MuPDF, and every
 * fz_try/fz_catch, lives in this file.  Never goto or return out of an
 * fz_try or fz_always block: set a flag and act after fz_catch.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mupdf/fitz.h>
#include <mupdf/pdf.h>

#include "apflow/log.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "apflow/version.h"

struct apf_pdf_ctx {
	fz_context *ctx;
	/* What MuPDF reported and worked around since the last reset_notes():
	 * the first message, and how many. */
	char note[256];
	int notes;
};

struct apf_pdf {
	struct apf_pdf_ctx *pc;
	fz_document *doc;
	int pages;
	int repaired;
	char page_note[256]; /* the first note of the last page read, or "" */
};

const char *apf_pdf_library_version(void)
{
	return FZ_VERSION;
}

/*
 * MuPDF's locks.  One process-wide set serves every context, base or clone,
 * so it never has to outlive anything.  Sharing it across unrelated base
 * contexts (apf_pdf_probe() makes its own) is safe, because MuPDF takes its
 * locks in one fixed order whatever the context.  It does add contention:
 * MuPDF holds FZ_LOCK_ALLOC around every allocation, so MuPDF work does not
 * scale with threads in one process.  Text extraction runs at some 4,000
 * pages/s on one thread and OCR spends its time in Tesseract, so that is
 * not where a stage waits; per-base lock sets would be the fix if it were.
 */
static pthread_mutex_t mupdf_mutexes[FZ_LOCK_MAX] = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
};
_Static_assert(FZ_LOCK_MAX == 3, "mupdf_mutexes needs one initialiser per MuPDF lock");

static void on_mupdf_lock(void *user, int lock)
{
	(void)user;
	pthread_mutex_lock(&mupdf_mutexes[lock]);
}

static void on_mupdf_unlock(void *user, int lock)
{
	(void)user;
	pthread_mutex_unlock(&mupdf_mutexes[lock]);
}

static const fz_locks_context mupdf_locks = { NULL, on_mupdf_lock, on_mupdf_unlock };

/*
 * MuPDF prints errors and warnings to stderr by default; a core function
 * must not.  Errors it throws reach the caller through fz_caught_message();
 * the problems it works around (a missing object read as null, a broken
 * font) are only reported here, so each context keeps the first one for
 * apf_pdf_page_note(), and logs warnings at debug level.  Every context
 * has its own callbacks (user = its struct apf_pdf_ctx), so threads never
 * share these fields.
 */
static void note(struct apf_pdf_ctx *pc, const char *message)
{
	if (!pc->notes++)
		apf_strlcpy(pc->note, message, sizeof(pc->note));
}

static void on_mupdf_warning(void *user, const char *message)
{
	apf_log_debug("mupdf: %s", message);
	note(user, message);
}

static void on_mupdf_error(void *user, const char *message)
{
	note(user, message);
}

static void set_callbacks(struct apf_pdf_ctx *pc)
{
	fz_set_warning_callback(pc->ctx, on_mupdf_warning, pc);
	fz_set_error_callback(pc->ctx, on_mupdf_error, pc);
}

static void reset_notes(struct apf_pdf_ctx *pc)
{
	/* Repeated warnings are held back until a different one comes; let
	 * them out now, so they count for what came before. */
	fz_flush_warnings(pc->ctx);
	pc->notes = 0;
	pc->note[0] = '\0';
}

/* Records the notes of the page just read in pdf->page_note. */
static void keep_page_note(struct apf_pdf *pdf)
{
	fz_flush_warnings(pdf->pc->ctx);
	apf_strlcpy(pdf->page_note, pdf->pc->notes ? pdf->pc->note : "", sizeof(pdf->page_note));
}

/* Turns the exception just caught into an apflow error. */
static int caught(fz_context *ctx, struct apf_err *err, int code, const char *what)
{
	if (fz_caught(ctx) == FZ_ERROR_MEMORY)
		return apf_error(err, APF_ENOMEM, "%s: out of memory", what);
	return apf_error(err, code, "%s: %s", what, fz_caught_message(ctx));
}

int apf_pdf_ctx_new(struct apf_pdf_ctx **out, struct apf_err *err)
{
	fz_context *ctx;
	int failed = 0;
	struct apf_pdf_ctx *pc;

	ctx = fz_new_context(NULL, &mupdf_locks, FZ_STORE_DEFAULT);
	if (!ctx)
		return apf_error(err, APF_ENOMEM, "cannot create a MuPDF context");
	pc = apf_xcalloc(1, sizeof(*pc));
	pc->ctx = ctx;
	set_callbacks(pc);
	fz_try(ctx)
		fz_register_document_handlers(ctx);
	fz_catch(ctx)
		failed = 1;
	if (failed) {
		apf_pdf_ctx_free(pc);
		return apf_error(err, APF_ENOMEM, "cannot set up a MuPDF context");
	}
	*out = pc;
	return 0;
}

int apf_pdf_ctx_clone(struct apf_pdf_ctx *base, struct apf_pdf_ctx **out, struct apf_err *err)
{
	struct apf_pdf_ctx *pc;
	fz_context *ctx = fz_clone_context(base->ctx);

	if (!ctx)
		return apf_error(err, APF_ENOMEM, "cannot clone a MuPDF context");
	pc = apf_xcalloc(1, sizeof(*pc));
	pc->ctx = ctx;
	set_callbacks(pc); /* the clone copied base's, user pointer included */
	*out = pc;
	return 0;
}

void apf_pdf_ctx_free(struct apf_pdf_ctx *pc)
{
	if (!pc)
		return;
	fz_drop_context(pc->ctx);
	free(pc);
}

/* Looks for "%PDF-" in the first 1 KiB, as PDF readers do. */
static int has_pdf_signature(const char *path, struct apf_err *err)
{
	char head[1024 + 5];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	if (n == 0)
		return apf_error(err, APF_EPDF, "empty file");
	for (size_t i = 0; i + 5 <= n; i++)
		if (!memcmp(head + i, "%PDF-", 5))
			return 0;
	return apf_error(err, APF_EPDF, "not a PDF (no %%PDF- signature)");
}

int apf_pdf_open(struct apf_pdf_ctx *pc, const char *path, struct apf_pdf **out, struct apf_err *err)
{
	fz_context *ctx = pc->ctx;
	fz_stream *stm = NULL;
	fz_document *doc = NULL;
	int count = 0, encrypted = 0, repaired = 0, rc;
	struct apf_pdf *pdf;

	rc = has_pdf_signature(path, err);
	if (rc)
		return rc;
	fz_var(stm);
	fz_var(doc);
	fz_var(count);
	fz_var(encrypted);
	fz_var(repaired);
	fz_try(ctx) {
		/* The PDF handler whatever the file is called: store keys and
		 * upload spools need not end in ".pdf". */
		stm = fz_open_file(ctx, path);
		doc = fz_open_document_with_stream(ctx, "application/pdf", stm);
		if (fz_needs_password(ctx, doc)) {
			encrypted = 1;
		} else {
			count = fz_count_pages(ctx, doc);
			pdf_document *pdoc = pdf_specifics(ctx, doc);
			repaired = pdoc ? pdf_was_repaired(ctx, pdoc) : 0;
		}
	}
	fz_always(ctx)
		fz_drop_stream(ctx, stm); /* the document keeps its own reference */
	fz_catch(ctx)
		rc = caught(ctx, err, APF_EPDF, "damaged PDF");
	if (!rc && encrypted)
		rc = apf_error(err, APF_EPDF, "encrypted PDF: a password is needed to read it");
	if (!rc && count <= 0)
		rc = apf_error(err, APF_EPDF, "PDF has no pages");
	if (rc) {
		fz_drop_document(ctx, doc);
		return rc;
	}
	pdf = apf_xcalloc(1, sizeof(*pdf));
	pdf->pc = pc;
	pdf->doc = doc;
	pdf->pages = count;
	pdf->repaired = repaired;
	*out = pdf;
	return 0;
}

void apf_pdf_close(struct apf_pdf *pdf)
{
	if (!pdf)
		return;
	fz_drop_document(pdf->pc->ctx, pdf->doc);
	free(pdf);
}

int apf_pdf_page_count(const struct apf_pdf *pdf)
{
	return pdf->pages;
}

int apf_pdf_was_repaired(const struct apf_pdf *pdf)
{
	return pdf->repaired;
}

const char *apf_pdf_page_note(const struct apf_pdf *pdf)
{
	return pdf->page_note[0] ? pdf->page_note : NULL;
}

int apf_pdf_probe(const char *path, int *pages, struct apf_err *err)
{
	struct apf_pdf_ctx *pc = NULL;
	struct apf_pdf *pdf = NULL;
	int rc;

	rc = has_pdf_signature(path, err); /* before paying for a context */
	if (rc)
		return rc;
	rc = apf_pdf_ctx_new(&pc, err);
	if (rc)
		return rc;
	rc = apf_pdf_open(pc, path, &pdf, err);
	if (!rc)
		*pages = pdf->pages;
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
	return rc;
}

static int check_page(const struct apf_pdf *pdf, int page_num, struct apf_err *err)
{
	if (page_num < 1 || page_num > pdf->pages)
		return apf_error(err, APF_EINVAL, "page %d out of range: the PDF has %d page%s",
				 page_num, pdf->pages, pdf->pages == 1 ? "" : "s");
	return 0;
}

/* Feeds the structured text to the normaliser: characters of a line in
 * order, '\n' after each line, a blank line after each block. */
static void stext_to_text(fz_stext_page *st, struct apf_textnorm *n)
{
	for (fz_stext_block *b = st->first_block; b; b = b->next) {
		if (b->type != FZ_STEXT_BLOCK_TEXT)
			continue;
		for (fz_stext_line *l = b->u.t.first_line; l; l = l->next) {
			for (fz_stext_char *c = l->first_char; c; c = c->next)
				apf_textnorm_put(n, c->c);
			apf_textnorm_put(n, '\n');
		}
		apf_textnorm_put(n, '\n');
	}
}

int apf_pdf_page_text(struct apf_pdf *pdf, int page_num, struct apf_buf *out,
		      struct apf_text_stats *stats, struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_page *page = NULL;
	fz_stext_page *st = NULL;
	/* No PRESERVE_LIGATURES (expand them), no PRESERVE_WHITESPACE (tabs and
	 * odd spaces become ' '), no DEHYPHENATE, no PRESERVE_IMAGES (a scan's
	 * image is not text and would only cost memory). */
	fz_stext_options opts = { FZ_STEXT_MEDIABOX_CLIP, 1.0f };
	struct apf_textnorm n;
	struct apf_text_stats st_stats;
	char what[64];
	int rc;

	rc = check_page(pdf, page_num, err);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "cannot read the text of page %d", page_num);
	reset_notes(pdf->pc);
	fz_var(page);
	fz_var(st);
	fz_try(ctx) {
		page = fz_load_page(ctx, pdf->doc, page_num - 1);
		st = fz_new_stext_page_from_page(ctx, page, &opts);
	}
	fz_always(ctx)
		fz_drop_page(ctx, page);
	fz_catch(ctx)
		rc = caught(ctx, err, APF_EPDF, what);
	if (rc)
		return rc;

	keep_page_note(pdf);
	apf_buf_reset(out);
	apf_textnorm_init(&n, out);
	stext_to_text(st, &n);
	fz_drop_stext_page(ctx, st);
	if (apf_textnorm_finish(&n, &st_stats))
		return apf_error(err, APF_ETOOBIG, "the text of page %d passes %zu bytes",
				 page_num, out->cap);
	if (stats)
		*stats = st_stats;
	return 0;
}

int apf_pdf_text_is_real(const struct apf_text_stats *s)
{
	return s->nonspace >= APF_PDF_TEXT_MIN_CHARS &&
	       s->garbage * 100 < s->nonspace * APF_PDF_TEXT_MAX_GARBAGE_PCT;
}

/*
 * Decides the rendering's size for a page of bounds r at dpi: the largest
 * dpi <= the one asked for whose pixmap fits APF_PDF_MAX_PIXELS.  Sets
 * *ctm, *bbox and *dpi_out; returns 0 or an error.
 */
static int plan_render(fz_rect r, int page_num, int dpi, fz_matrix *ctm, fz_irect *bbox,
		       int *dpi_out, struct apf_err *err)
{
	double wpt = (double)r.x1 - r.x0, hpt = (double)r.y1 - r.y0, px;

	if (dpi < APF_PDF_MIN_DPI || dpi > APF_PDF_MAX_DPI)
		return apf_error(err, APF_EINVAL, "cannot render at %d dpi: %d to %d dpi only", dpi,
				 APF_PDF_MIN_DPI, APF_PDF_MAX_DPI);
	if (!(wpt >= 1 && hpt >= 1))
		return apf_error(err, APF_EPDF, "cannot render page %d: its page box is empty", page_num);
	px = wpt * dpi / 72.0 * (hpt * dpi / 72.0);
	if (px > (double)APF_PDF_MAX_PIXELS) {
		int fit = (int)floor(dpi * sqrt((double)APF_PDF_MAX_PIXELS / px));
		if (fit < APF_PDF_MIN_DPI)
			return apf_error(err, APF_ETOOBIG,
					 "cannot render page %d: %.0fx%.0f pt does not fit %lld pixels at %d dpi",
					 page_num, wpt, hpt, (long long)APF_PDF_MAX_PIXELS, APF_PDF_MIN_DPI);
		dpi = fit;
	}
	/* Rounding may add a row or column; step down until it fits for sure. */
	for (;;) {
		*ctm = fz_scale(dpi / 72.0f, dpi / 72.0f);
		*bbox = fz_round_rect(fz_transform_rect(r, *ctm));
		if ((int64_t)(bbox->x1 - bbox->x0) * (bbox->y1 - bbox->y0) <= APF_PDF_MAX_PIXELS ||
		    dpi <= APF_PDF_MIN_DPI)
			break;
		dpi--;
	}
	if (bbox->x1 <= bbox->x0 || bbox->y1 <= bbox->y0)
		return apf_error(err, APF_EPDF, "cannot render page %d: its page box is empty", page_num);
	*dpi_out = dpi;
	return 0;
}

/* Loads page page_num and its bounds; on success the caller drops *out. */
static int load_page(struct apf_pdf *pdf, int page_num, const char *what, fz_page **out,
		     fz_rect *bounds, struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_page *page = NULL;
	int rc = 0;

	fz_var(page);
	fz_try(ctx) {
		page = fz_load_page(ctx, pdf->doc, page_num - 1);
		*bounds = fz_bound_page(ctx, page);
	}
	fz_catch(ctx) {
		fz_drop_page(ctx, page);
		rc = caught(ctx, err, APF_EPDF, what);
	}
	if (!rc)
		*out = page;
	return rc;
}

/* Draws page into a new pixmap of bbox, over data when not NULL (the
 * pixmap then does not own it); drops page either way. */
static int draw_page(fz_context *ctx, fz_page *page, fz_matrix ctm, fz_irect bbox, int gray,
		     unsigned char *data, const char *what, fz_pixmap **out, struct apf_err *err)
{
	fz_pixmap *pix = NULL;
	fz_device *dev = NULL;
	int rc = 0;

	fz_var(pix);
	fz_var(dev);
	fz_try(ctx) {
		fz_colorspace *cs = gray ? fz_device_gray(ctx) : fz_device_rgb(ctx);
		if (data)
			pix = fz_new_pixmap_with_bbox_and_data(ctx, cs, bbox, NULL, 0, data);
		else
			pix = fz_new_pixmap_with_bbox(ctx, cs, bbox, NULL, 0);
		fz_clear_pixmap_with_value(ctx, pix, 0xFF);
		dev = fz_new_draw_device(ctx, ctm, pix);
		fz_run_page(ctx, page, dev, fz_identity, NULL);
		fz_close_device(ctx, dev);
	}
	fz_always(ctx) {
		fz_drop_device(ctx, dev);
		fz_drop_page(ctx, page);
	}
	fz_catch(ctx) {
		fz_drop_pixmap(ctx, pix);
		rc = caught(ctx, err, APF_EPDF, what);
	}
	if (!rc)
		*out = pix;
	return rc;
}

/*
 * Renders a page, in gray or RGB, without alpha.  With samples, the pixels
 * go into a buffer of ours (malloc), returned there, which the pixmap does
 * not own; without, MuPDF allocates them.  Sets *out to the pixmap.
 */
static int render(struct apf_pdf *pdf, int page_num, int dpi, int gray, unsigned char **samples,
		  int *dpi_out, fz_pixmap **out, struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_page *page = NULL;
	fz_rect bounds;
	fz_matrix ctm;
	fz_irect bbox;
	unsigned char *data = NULL;
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "cannot render page %d", page_num);
	reset_notes(pdf->pc);
	rc = load_page(pdf, page_num, what, &page, &bounds, err);
	if (rc)
		return rc;
	rc = plan_render(bounds, page_num, dpi, &ctm, &bbox, dpi_out, err);
	if (!rc && samples) {
		data = malloc((size_t)(bbox.x1 - bbox.x0) * (size_t)(bbox.y1 - bbox.y0) *
			      (gray ? 1u : 3u));
		if (!data)
			rc = apf_error(err, APF_ENOMEM, "%s: out of memory", what);
	}
	if (rc) {
		fz_drop_page(ctx, page);
		return rc;
	}
	rc = draw_page(ctx, page, ctm, bbox, gray, data, what, out, err);
	if (rc) {
		free(data);
		return rc;
	}
	keep_page_note(pdf);
	if (samples)
		*samples = data;
	return 0;
}

int apf_pdf_render_gray(struct apf_pdf *pdf, int page_num, int dpi, struct apf_pixmap *out,
			struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	unsigned char *data = NULL;
	fz_pixmap *pix;
	int rc, rdpi = 0;

	rc = check_page(pdf, page_num, err);
	if (rc)
		return rc;
	/* MuPDF draws straight into our own buffer, which then outlives the
	 * pixmap (a pixmap made over given samples does not free them). */
	rc = render(pdf, page_num, dpi, 1, &data, &rdpi, &pix, err);
	if (rc)
		return rc;
	out->w = fz_pixmap_width(ctx, pix);
	out->h = fz_pixmap_height(ctx, pix);
	out->stride = fz_pixmap_stride(ctx, pix);
	out->dpi = rdpi;
	out->data = data;
	fz_drop_pixmap(ctx, pix);
	return 0;
}

void apf_pixmap_release(struct apf_pixmap *pm)
{
	if (!pm)
		return;
	free(pm->data);
	pm->data = NULL;
	pm->w = pm->h = pm->stride = pm->dpi = 0;
}

int apf_pdf_render_png(struct apf_pdf *pdf, int page_num, int dpi, int gray, struct apf_buf *out,
		       int *dpi_out, struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_pixmap *pix;
	fz_buffer *png = NULL;
	unsigned char *bytes = NULL;
	size_t len = 0;
	int rc, rdpi = 0;
	char what[64];

	rc = check_page(pdf, page_num, err);
	if (rc)
		return rc;
	rc = render(pdf, page_num, dpi, gray, NULL, &rdpi, &pix, err);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "cannot encode page %d as PNG", page_num);
	fz_var(png);
	fz_var(bytes);
	fz_var(len);
	fz_try(ctx) {
		png = fz_new_buffer_from_pixmap_as_png(ctx, pix, fz_default_color_params);
		len = fz_buffer_storage(ctx, png, &bytes);
	}
	fz_always(ctx)
		fz_drop_pixmap(ctx, pix);
	fz_catch(ctx)
		rc = caught(ctx, err, APF_EPDF, what);
	if (!rc) {
		apf_buf_reset(out);
		if (apf_buf_add(out, bytes, len))
			rc = apf_error(err, APF_ETOOBIG, "the PNG of page %d (%zu bytes) passes %zu bytes",
				       page_num, len, out->cap);
	}
	fz_drop_buffer(ctx, png);
	if (!rc && dpi_out)
		*dpi_out = rdpi;
	return rc;
}
