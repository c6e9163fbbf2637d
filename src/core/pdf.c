/*
 * pdf.c: the MuPDF adapter: contexts, documents, pages, rendering.  Every
 * call into MuPDF, and every fz_try/fz_catch, lives in this file or in
 * pdf_text.c (the text layer), which share core/pdf_impl.h.  Never goto
 * or return out of an fz_try or fz_always block: set a flag and act after
 * fz_catch.
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
#include "core/pdf_impl.h"

const char *apf_pdf_library_version(void)
{
	return FZ_VERSION;
}

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
int apf_pdf_caught(fz_context *ctx, struct apf_err *err, int code, const char *what)
{
	if (fz_caught(ctx) == FZ_ERROR_MEMORY)
		return apf_error(err, APF_ENOMEM, "%s: out of memory", what);
	return apf_error(err, code, "%s: %s", what, fz_caught_message(ctx));
}

/*
 * A context of its own, for one thread at a time: nothing passes between
 * contexts (each opens its own documents, has its own resource store,
 * font and glyph caches), so MuPDF needs no locks (fz_new_context() with
 * none: its lock functions then do nothing).  Contexts cloned from one
 * base would share the store and caches, but MuPDF takes its allocation
 * lock around every allocation, and threads on clones waited on each
 * other: two threads extracting text ran 1.35x one thread on clones, 1.8x
 * on bases of their own, and without locks at all some 5% less CPU again
 * (1,000 born-digital pages, 2 CPUs).  So apflow makes no clones.
 */
int apf_pdf_ctx_new_single(size_t store_max, struct apf_pdf_ctx **out, struct apf_err *err)
{
	fz_context *ctx;
	int failed = 0;
	struct apf_pdf_ctx *pc;

	ctx = fz_new_context(NULL, NULL, store_max ? store_max : FZ_STORE_DEFAULT);
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

int apf_pdf_ctx_new(struct apf_pdf_ctx **out, struct apf_err *err)
{
	return apf_pdf_ctx_new_single(0, out, err);
}

void apf_pdf_ctx_free(struct apf_pdf_ctx *pc)
{
	if (!pc)
		return;
	fz_drop_context(pc->ctx);
	free(pc);
}

int apf_pdf_check_head(const void *head, size_t n, struct apf_err *err)
{
	const char *h = head;

	if (n == 0)
		return apf_error(err, APF_EPDF, "empty file");
	if (n > APF_PDF_HEAD)
		n = APF_PDF_HEAD;
	for (size_t i = 0; i + 5 <= n; i++)
		if (!memcmp(h + i, "%PDF-", 5))
			return 0;
	return apf_error(err, APF_EPDF, "not a PDF (no %%PDF- signature)");
}

static int has_pdf_signature(const char *path, struct apf_err *err)
{
	char head[APF_PDF_HEAD];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	return apf_pdf_check_head(head, n, err);
}

/*
 * Maps the page tree once, so that finding page k is a lookup: without
 * it MuPDF walks the tree from the root for every page, which in a flat
 * tree of n pages (common) resolves up to n objects per page.  A tree it
 * cannot map is walked as before.
 */
static void load_page_tree(struct apf_pdf *pdf)
{
	fz_context *ctx = pdf->pc->ctx;
	pdf_document *pdoc = pdf_specifics(ctx, pdf->doc);
	int done = 0;

	if (!pdoc)
		return;
	fz_var(done);
	fz_try(ctx) {
		pdf_load_page_tree(ctx, pdoc);
		done = 1;
	}
	fz_catch(ctx)
		done = 0;
	pdf->page_tree = done;
}

/*
 * fz_load_page() of page_num.  MuPDF 1.21's pdf_lookup_page_obj() returns
 * a new reference to the page's object when the page tree is mapped, where
 * the caller (pdf_load_page()) takes it as borrowed: one reference leaked
 * per page, which keeps the object from being freed with the document
 * (Bug 706433, fixed in 1.22.0).  The page keeps a reference of its own,
 * so the extra one is dropped here.  Pages are loaded one at a time, so
 * each load is a fresh one (not a page still open, which would come back
 * without a lookup).
 */
fz_page *apf_pdf_load_page_obj(struct apf_pdf *pdf, int page_num)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_page *page = NULL;

#if FZ_VERSION_MAJOR == 1 && FZ_VERSION_MINOR == 21
	if (pdf->page_tree) {
		/*
		 * When the load fails after the lookup (a page whose Parent
		 * chain is a cycle: "cycle in tree (parents)"), the leaked
		 * reference is not the page's to drop: the reference count
		 * of the page's object, looked up here beforehand (a
		 * reference of our own, by the same bug), tells whether it
		 * was taken.  Found by fuzz_pdf.
		 */
		pdf_obj *obj = pdf_lookup_page_obj(ctx, pdf_specifics(ctx, pdf->doc), page_num - 1);
		int refs = pdf_obj_refs(ctx, obj);

		fz_var(page);
		fz_try(ctx)
			page = fz_load_page(ctx, pdf->doc, page_num - 1);
		fz_always(ctx)
			pdf_drop_obj(ctx, obj);
		fz_catch(ctx) {
			if (pdf_obj_refs(ctx, obj) >= refs)
				pdf_drop_obj(ctx, obj);
			fz_rethrow(ctx);
		}
		pdf_drop_obj(ctx, pdf_page_from_fz_page(ctx, page)->obj);
		return page;
	}
#endif
	page = fz_load_page(ctx, pdf->doc, page_num - 1);
	return page;
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
		rc = apf_pdf_caught(ctx, err, APF_EPDF, "damaged PDF");
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
	load_page_tree(pdf);
	*out = pdf;
	return 0;
}

void apf_pdf_close(struct apf_pdf *pdf)
{
	if (!pdf)
		return;
	apf_pdf_text_cache_free(pdf->pc->ctx, pdf->tc);
	if (pdf->page_tree)
		pdf_drop_page_tree(pdf->pc->ctx, pdf_specifics(pdf->pc->ctx, pdf->doc));
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
	return apf_pdf_probe_ex(path, pages, NULL, err);
}

int apf_pdf_probe_ex(const char *path, int *pages, int *repaired, struct apf_err *err)
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
	if (!rc) {
		*pages = pdf->pages;
		if (repaired)
			*repaired = pdf->repaired;
	}
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

static int page_text(struct apf_pdf *pdf, int page_num, int stext, struct apf_buf *out,
		     struct apf_text_stats *stats, struct apf_err *err)
{
	struct apf_textnorm n;
	struct apf_text_stats st_stats;
	char what[64];
	int rc;

	rc = check_page(pdf, page_num, err);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "cannot read the text of page %d", page_num);
	reset_notes(pdf->pc);
	apf_buf_reset(out);
	apf_textnorm_init(&n, out);
	rc = stext ? apf_pdf_read_stext(pdf, page_num, &n, what, err)
		   : apf_pdf_read_text(pdf, page_num, &n, what, err);
	if (rc)
		return rc;
	keep_page_note(pdf);
	if (apf_textnorm_finish(&n, &st_stats))
		return apf_error(err, APF_ETOOBIG, "the text of page %d passes %zu bytes",
				 page_num, out->cap);
	if (stats)
		*stats = st_stats;
	return 0;
}

int apf_pdf_page_text(struct apf_pdf *pdf, int page_num, struct apf_buf *out,
		      struct apf_text_stats *stats, struct apf_err *err)
{
	return page_text(pdf, page_num, 0, out, stats, err);
}

int apf_pdf_page_text_stext(struct apf_pdf *pdf, int page_num, struct apf_buf *out,
			    struct apf_text_stats *stats, struct apf_err *err)
{
	return page_text(pdf, page_num, 1, out, stats, err);
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
		page = apf_pdf_load_page_obj(pdf, page_num);
		*bounds = fz_bound_page(ctx, page);
	}
	fz_catch(ctx) {
		fz_drop_page(ctx, page);
		rc = apf_pdf_caught(ctx, err, APF_EPDF, what);
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
		rc = apf_pdf_caught(ctx, err, APF_EPDF, what);
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
		rc = apf_pdf_caught(ctx, err, APF_EPDF, what);
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
