/*
 * pdf.c: the MuPDF adapter.  Every call into MuPDF, and every
 * fz_try/fz_catch, lives in this file.  Never goto or return out of an
 * fz_try or fz_always block: set a flag and act after fz_catch.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
#include <mupdf/ucdn.h>

#include "apflow/log.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "apflow/version.h"

struct lockset;

struct apf_pdf_ctx {
	fz_context *ctx;
	struct lockset *locks; /* a private base's lock set, or NULL (the process-wide one) */
	int single;            /* no locks at all: one thread, never cloned */
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
 * A lock set of its own, for a base that shares nothing with the others
 * (apf_pdf_ctx_new_private()), so that its thread does not wait on the
 * others' allocations.  The base and its clones each hold a reference:
 * the set outlives whichever of them goes last.
 */
struct lockset {
	pthread_mutex_t m[FZ_LOCK_MAX];
	int refs; /* under lockset_refs */
};
static pthread_mutex_t lockset_refs = PTHREAD_MUTEX_INITIALIZER;

static void on_lockset_lock(void *user, int lock)
{
	pthread_mutex_lock(&((struct lockset *)user)->m[lock]);
}

static void on_lockset_unlock(void *user, int lock)
{
	pthread_mutex_unlock(&((struct lockset *)user)->m[lock]);
}

static void lockset_ref(struct lockset *ls)
{
	pthread_mutex_lock(&lockset_refs);
	ls->refs++;
	pthread_mutex_unlock(&lockset_refs);
}

static void lockset_unref(struct lockset *ls)
{
	int left;

	pthread_mutex_lock(&lockset_refs);
	left = --ls->refs;
	pthread_mutex_unlock(&lockset_refs);
	if (left)
		return;
	for (int i = 0; i < FZ_LOCK_MAX; i++)
		pthread_mutex_destroy(&ls->m[i]);
	free(ls);
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
static int caught(fz_context *ctx, struct apf_err *err, int code, const char *what)
{
	if (fz_caught(ctx) == FZ_ERROR_MEMORY)
		return apf_error(err, APF_ENOMEM, "%s: out of memory", what);
	return apf_error(err, code, "%s: %s", what, fz_caught_message(ctx));
}

int apf_pdf_ctx_new(struct apf_pdf_ctx **out, struct apf_err *err)
{
	return apf_pdf_ctx_new_ex(FZ_STORE_DEFAULT, out, err);
}

/* A base context over the locks given (MuPDF copies the struct): ls, or
 * the process-wide set, or none at all (single). */
static int new_base(size_t store_max, struct lockset *ls, int single, struct apf_pdf_ctx **out,
		    struct apf_err *err)
{
	fz_locks_context own = { ls, on_lockset_lock, on_lockset_unlock };
	fz_context *ctx;
	int failed = 0;
	struct apf_pdf_ctx *pc;

	/* MuPDF's default lock functions (locks NULL) do nothing. */
	ctx = fz_new_context(NULL, single ? NULL : ls ? &own : &mupdf_locks,
			     store_max ? store_max : FZ_STORE_DEFAULT);
	if (!ctx) {
		if (ls)
			lockset_unref(ls);
		return apf_error(err, APF_ENOMEM, "cannot create a MuPDF context");
	}
	pc = apf_xcalloc(1, sizeof(*pc));
	pc->ctx = ctx;
	pc->locks = ls;
	pc->single = single;
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

int apf_pdf_ctx_new_ex(size_t store_max, struct apf_pdf_ctx **out, struct apf_err *err)
{
	return new_base(store_max, NULL, 0, out, err);
}

int apf_pdf_ctx_new_single(size_t store_max, struct apf_pdf_ctx **out, struct apf_err *err)
{
	return new_base(store_max, NULL, 1, out, err);
}

int apf_pdf_ctx_new_private(size_t store_max, struct apf_pdf_ctx **out, struct apf_err *err)
{
	struct lockset *ls = apf_xcalloc(1, sizeof(*ls));

	for (int i = 0; i < FZ_LOCK_MAX; i++)
		pthread_mutex_init(&ls->m[i], NULL);
	ls->refs = 1;
	return new_base(store_max, ls, 0, out, err);
}

int apf_pdf_ctx_clone(struct apf_pdf_ctx *base, struct apf_pdf_ctx **out, struct apf_err *err)
{
	struct apf_pdf_ctx *pc;
	fz_context *ctx;

	if (base->single)
		return apf_error(err, APF_EINTERNAL, "a single-thread MuPDF context cannot be cloned");
	ctx = fz_clone_context(base->ctx);
	if (!ctx)
		return apf_error(err, APF_ENOMEM, "cannot clone a MuPDF context");
	pc = apf_xcalloc(1, sizeof(*pc));
	pc->ctx = ctx;
	pc->locks = base->locks;
	if (pc->locks)
		lockset_ref(pc->locks);
	set_callbacks(pc); /* the clone copied base's, user pointer included */
	*out = pc;
	return 0;
}

void apf_pdf_ctx_free(struct apf_pdf_ctx *pc)
{
	if (!pc)
		return;
	fz_drop_context(pc->ctx);
	if (pc->locks)
		lockset_unref(pc->locks);
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

/*
 * The text layer, read by a device of our own that streams what MuPDF's
 * structured-text device (stext-device.c, 1.21) would build straight into
 * the normaliser.  MuPDF's device keeps every character with its quad, a
 * font reference and a colour, computes the bounding boxes of every line
 * and block on close, and tests every glyph against the media box with a
 * fresh glyph bound; we then walked it and threw it all away.  Taking the
 * text as it is made, with the glyph bounds of the media-box test cached,
 * reads born-digital pages in about two thirds of the time.
 *
 * The text is the same, character for character: the decisions below (a
 * new block, a new line, a synthetic space, a character dropped as fake
 * bold or outside the media box) are MuPDF 1.21's, made from the same
 * values by the same MuPDF functions in the same order, with its default
 * options (ligatures expanded, white space as ' ', no dehyphenation, no
 * images, media-box clip).  A character goes to the end of the last line
 * of the last block, so the order in which they come is the order of the
 * page MuPDF would build; a new line is a '\n' before its first
 * character, a new block one more, as the walk of that page gave.
 * tests/unit/test_pdf.c compares the two on every page of the corpus.
 */
#define PARAGRAPH_DIST 1.5f
#define SPACE_DIST 0.15f
#define SPACE_MAX_DIST 0.8f
#define BOX_CACHE 128

/* A glyph's bounds under a text matrix, as fz_bound_glyph() gives them. */
struct glyph_box {
	fz_font *font;  /* a reference, so the address is not reused meanwhile */
	int gid;
	float a, b, c, d, e, f;
	fz_rect r;
};

struct text_dev {
	fz_device super;
	struct apf_textnorm *n;
	fz_rect mediabox;
	fz_point pen, start;
	int new_obj, curdir, lastchar;
	int in_line;       /* a line (in a block) is open */
	fz_point line_dir; /* the open line's direction, normalised */
	int line_wmode;
	fz_text *lasttext;
	struct glyph_box box[BOX_CACHE];
};

static fz_rect glyph_bound(fz_context *ctx, struct text_dev *td, fz_font *font, int gid, fz_matrix trm)
{
	struct glyph_box *g = &td->box[((unsigned)gid ^ (unsigned)((uintptr_t)font >> 4)) % BOX_CACHE];

	if (g->font != font || g->gid != gid || g->a != trm.a || g->b != trm.b || g->c != trm.c ||
	    g->d != trm.d || g->e != trm.e || g->f != trm.f) {
		fz_rect r = fz_bound_glyph(ctx, font, gid, trm);
		if (g->font != font) {
			fz_drop_font(ctx, g->font);
			g->font = fz_keep_font(ctx, font);
		}
		g->gid = gid;
		g->a = trm.a, g->b = trm.b, g->c = trm.c, g->d = trm.d, g->e = trm.e, g->f = trm.f;
		g->r = r;
	}
	return g->r;
}

/*
 * fz_transform_rect() (geometry.c) without the call, for the usual matrix
 * without rotation or skew: the same branch and the same arithmetic, in
 * the same order (fz_transform_point_xy()), so the same floats; any other
 * matrix goes to MuPDF's.
 */
static fz_rect transform_rect(fz_rect r, fz_matrix m)
{
	float f;

	if (fz_is_infinite_rect(r) || !(fabsf(m.b) < FLT_EPSILON && fabsf(m.c) < FLT_EPSILON))
		return fz_transform_rect(r, m);
	if (m.a < 0) {
		f = r.x0;
		r.x0 = r.x1;
		r.x1 = f;
	}
	if (m.d < 0) {
		f = r.y0;
		r.y0 = r.y1;
		r.y1 = f;
	}
	fz_rect t = {
		r.x0 * m.a + r.y0 * m.c + m.e, r.x0 * m.b + r.y0 * m.d + m.f,
		r.x1 * m.a + r.y1 * m.c + m.e, r.x1 * m.b + r.y1 * m.d + m.f,
	};
	return t;
}

/* fz_glyph_entirely_outside_box() (glyphbox.c), with the bound cached. */
static int glyph_outside(fz_context *ctx, struct text_dev *td, fz_matrix ctm, const fz_text_span *span,
			 const fz_text_item *item)
{
	fz_rect r = glyph_bound(ctx, td, span->font, item->gid, span->trm);
	const fz_rect *box = &td->mediabox;

	r.x0 += item->x;
	r.y0 += item->y;
	r.x1 += item->x;
	r.y1 += item->y;
	r = transform_rect(r, ctm);
	return r.x1 <= box->x0 || r.y1 <= box->y0 || r.x0 >= box->x1 || r.y0 >= box->y1;
}

static int direction_from_bidi_class(int bidiclass, int curdir)
{
	switch (bidiclass) {
	case UCDN_BIDI_CLASS_L:
		return 1;
	case UCDN_BIDI_CLASS_R:
	case UCDN_BIDI_CLASS_AL:
		return -1;
	case UCDN_BIDI_CLASS_EN:
	case UCDN_BIDI_CLASS_ES:
	case UCDN_BIDI_CLASS_ET:
	case UCDN_BIDI_CLASS_AN:
	case UCDN_BIDI_CLASS_CS:
	case UCDN_BIDI_CLASS_NSM:
	case UCDN_BIDI_CLASS_BN:
	case UCDN_BIDI_CLASS_B:
	case UCDN_BIDI_CLASS_S:
	case UCDN_BIDI_CLASS_WS:
	case UCDN_BIDI_CLASS_ON:
		return curdir;
	default:
		return 0; /* embeddings, overrides: not supported */
	}
}

/* fz_add_stext_char_imp() */
static void add_char_imp(struct text_dev *td, int c, int glyph, fz_matrix trm, float adv, int wmode)
{
	int new_para = 0, new_line = 1, add_space = 0;
	fz_point dir, ndir, p, q, delta;
	float size, spacing, base_offset;

	td->curdir = direction_from_bidi_class(ucdn_get_bidi_class((uint32_t)c), td->curdir);
	if (wmode == 0) {
		dir.x = 1;
		dir.y = 0;
	} else {
		dir.x = 0;
		dir.y = -1;
	}
	dir = fz_transform_vector(dir, trm);
	ndir = fz_normalize_vector(dir);
	size = fz_matrix_expansion(trm);
	if (wmode == 0) {
		p.x = trm.e;
		p.y = trm.f;
		q.x = trm.e + adv * dir.x;
		q.y = trm.f + adv * dir.y;
	} else {
		p.x = trm.e - adv * dir.x;
		p.y = trm.f - adv * dir.y;
		q.x = trm.e;
		q.y = trm.f;
	}

	if (td->in_line && glyph < 0) {
		/* A character of a cluster: no pen motion, no break. */
		apf_textnorm_put(td->n, c);
		td->lastchar = c;
		return;
	}
	if (!td->in_line || td->line_wmode != wmode ||
	    td->line_dir.x * ndir.x + td->line_dir.y * ndir.y < 0.999f) {
		new_para = 1;
		new_line = 1;
	} else {
		/* Fake bold: the same character printed again in place. */
		delta.x = fabsf(q.x - td->pen.x);
		delta.y = fabsf(q.y - td->pen.y);
		if (delta.x < FLT_EPSILON && delta.y < FLT_EPSILON && c == td->lastchar)
			return;
		delta.x = p.x - td->pen.x;
		delta.y = p.y - td->pen.y;
		spacing = ndir.x * delta.x + ndir.y * delta.y;
		base_offset = -ndir.y * delta.x + ndir.x * delta.y;
		if (fabsf(base_offset) < size * 0.8f) {
			if (td->curdir >= 0) {
				if (fabsf(spacing) < size * SPACE_DIST) {
					new_line = 0;
				} else if (fabsf(spacing) > size * SPACE_MAX_DIST) {
					new_line = 1;
				} else if (spacing < 0) {
					new_line = 0;
				} else {
					if (td->lastchar != ' ' && wmode == 0)
						add_space = 1;
					new_line = 0;
				}
			} else {
				new_line = 0;
			}
		} else if (fabsf(base_offset) <= size * PARAGRAPH_DIST) {
			if (wmode == 0 && td->new_obj && fabsf(p.x - td->start.x) > size * 0.5f)
				new_para = 1;
			new_line = 1;
		} else {
			new_para = 1;
			new_line = 1;
		}
	}

	if (new_para || !td->in_line) {
		/* The walk ended each line with '\n' and each block with
		 * another; the normaliser drops them at the start. */
		apf_textnorm_put(td->n, '\n');
		apf_textnorm_put(td->n, '\n');
		td->in_line = 0;
	}
	if (new_line || !td->in_line) {
		if (td->in_line)
			apf_textnorm_put(td->n, '\n');
		td->in_line = 1;
		td->line_dir = ndir;
		td->line_wmode = wmode;
		td->start = p;
	}
	if (add_space)
		apf_textnorm_put(td->n, ' ');
	apf_textnorm_put(td->n, c);
	td->lastchar = c;
	td->pen = q;
	td->new_obj = 0;
}

/* fz_add_stext_char(): ligatures expanded, white space as ' '. */
static void add_char(struct text_dev *td, int c, int glyph, fz_matrix trm, float adv, int wmode)
{
	static const struct {
		int lig;
		char a, b, c;
	} ligs[] = {
		{ 0xFB00, 'f', 'f', 0 }, { 0xFB01, 'f', 'i', 0 }, { 0xFB02, 'f', 'l', 0 },
		{ 0xFB03, 'f', 'f', 'i' }, { 0xFB04, 'f', 'f', 'l' }, { 0xFB05, 's', 't', 0 },
		{ 0xFB06, 's', 't', 0 },
	};

	if (c == -1)
		return; /* one character drawn with several glyphs */
	if (c >= 0xFB00 && c <= 0xFB06) {
		const int k = c - 0xFB00;
		add_char_imp(td, ligs[k].a, glyph, trm, adv, wmode);
		add_char_imp(td, ligs[k].b, -1, trm, 0, wmode);
		if (ligs[k].c)
			add_char_imp(td, ligs[k].c, -1, trm, 0, wmode);
		return;
	}
	switch (c) {
	case 0x0009: case 0x0020: case 0x00A0: case 0x1680: case 0x180E: case 0x2000: case 0x2001:
	case 0x2002: case 0x2003: case 0x2004: case 0x2005: case 0x2006: case 0x2007: case 0x2008:
	case 0x2009: case 0x200A: case 0x202F: case 0x205F: case 0x3000:
		c = ' ';
		break;
	}
	add_char_imp(td, c, glyph, trm, adv, wmode);
}

/* fz_stext_extract() */
static void extract_span(fz_context *ctx, struct text_dev *td, const fz_text_span *span, fz_matrix ctm)
{
	fz_matrix tm = span->trm, trm;
	float adv;

	for (int i = 0; i < span->len; i++) {
		const fz_text_item *it = &span->items[i];

		tm.e = it->x;
		tm.f = it->y;
		trm = fz_concat(tm, ctm);
		if (glyph_outside(ctx, td, ctm, span, it))
			continue;
		adv = it->gid >= 0 ? fz_advance_glyph(ctx, span->font, it->gid, span->wmode) : 0;
		add_char(td, it->ucs, it->gid, trm, adv, span->wmode);
	}
}

/* fill, stroke, clip and ignore text all read the text alike; a text
 * object shown again (a fill then a stroke of it) counts once. */
static void text_dev_text(fz_context *ctx, struct text_dev *td, const fz_text *text, fz_matrix ctm)
{
	if (text == td->lasttext)
		return;
	td->new_obj = 1;
	for (const fz_text_span *span = text->head; span; span = span->next)
		extract_span(ctx, td, span, ctm);
	fz_drop_text(ctx, td->lasttext);
	td->lasttext = fz_keep_text(ctx, text);
}

static void text_dev_fill(fz_context *ctx, fz_device *dev, const fz_text *text, fz_matrix ctm,
			  fz_colorspace *cs, const float *color, float alpha, fz_color_params cp)
{
	(void)cs, (void)color, (void)alpha, (void)cp;
	text_dev_text(ctx, (struct text_dev *)dev, text, ctm);
}

static void text_dev_stroke(fz_context *ctx, fz_device *dev, const fz_text *text, const fz_stroke_state *stroke,
			    fz_matrix ctm, fz_colorspace *cs, const float *color, float alpha, fz_color_params cp)
{
	(void)stroke, (void)cs, (void)color, (void)alpha, (void)cp;
	text_dev_text(ctx, (struct text_dev *)dev, text, ctm);
}

static void text_dev_clip(fz_context *ctx, fz_device *dev, const fz_text *text, fz_matrix ctm, fz_rect scissor)
{
	(void)scissor;
	text_dev_text(ctx, (struct text_dev *)dev, text, ctm);
}

static void text_dev_clip_stroke(fz_context *ctx, fz_device *dev, const fz_text *text,
				 const fz_stroke_state *stroke, fz_matrix ctm, fz_rect scissor)
{
	(void)stroke, (void)scissor;
	text_dev_text(ctx, (struct text_dev *)dev, text, ctm);
}

static void text_dev_ignore(fz_context *ctx, fz_device *dev, const fz_text *text, fz_matrix ctm)
{
	text_dev_text(ctx, (struct text_dev *)dev, text, ctm);
}

static void text_dev_drop(fz_context *ctx, fz_device *dev)
{
	struct text_dev *td = (struct text_dev *)dev;

	fz_drop_text(ctx, td->lasttext);
	for (int i = 0; i < BOX_CACHE; i++)
		fz_drop_font(ctx, td->box[i].font);
}

static fz_device *new_text_dev(fz_context *ctx, struct apf_textnorm *n, fz_rect mediabox)
{
	struct text_dev *td = fz_new_derived_device(ctx, struct text_dev);

	td->super.drop_device = text_dev_drop;
	td->super.fill_text = text_dev_fill;
	td->super.stroke_text = text_dev_stroke;
	td->super.clip_text = text_dev_clip;
	td->super.clip_stroke_text = text_dev_clip_stroke;
	td->super.ignore_text = text_dev_ignore;
	td->n = n;
	td->mediabox = mediabox;
	td->lastchar = ' ';
	td->curdir = 1;
	for (int i = 0; i < BOX_CACHE; i++)
		td->box[i].gid = -2; /* matches no glyph */
	return &td->super;
}

/* Reads the text of page with the text device above; MuPDF's exceptions
 * become APF_EPDF (what) or APF_ENOMEM. */
static int read_text(struct apf_pdf *pdf, int page_num, struct apf_textnorm *n, const char *what,
		     struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_page *page = NULL;
	fz_device *dev = NULL;
	int rc = 0;

	fz_var(page);
	fz_var(dev);
	fz_try(ctx) {
		page = fz_load_page(ctx, pdf->doc, page_num - 1);
		dev = new_text_dev(ctx, n, fz_bound_page(ctx, page));
		fz_run_page_contents(ctx, page, dev, fz_identity, NULL);
		fz_close_device(ctx, dev);
	}
	fz_always(ctx) {
		fz_drop_device(ctx, dev);
		fz_drop_page(ctx, page);
	}
	fz_catch(ctx)
		rc = caught(ctx, err, APF_EPDF, what);
	return rc;
}

/* The same text through MuPDF's own structured text (stext_to_text()),
 * for tests. */
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

static int read_stext(struct apf_pdf *pdf, int page_num, struct apf_textnorm *n, const char *what,
		      struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_page *page = NULL;
	fz_stext_page *st = NULL;
	/* MuPDF's defaults, as above. */
	fz_stext_options opts = { FZ_STEXT_MEDIABOX_CLIP, 1.0f };
	int rc = 0;

	fz_var(page);
	fz_var(st);
	fz_var(rc);
	fz_try(ctx) {
		page = fz_load_page(ctx, pdf->doc, page_num - 1);
		st = fz_new_stext_page_from_page(ctx, page, &opts);
	}
	fz_always(ctx)
		fz_drop_page(ctx, page);
	fz_catch(ctx)
		rc = caught(ctx, err, APF_EPDF, what);
	if (!rc) {
		stext_to_text(st, n);
		fz_drop_stext_page(ctx, st);
	}
	return rc;
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
	rc = stext ? read_stext(pdf, page_num, &n, what, err) : read_text(pdf, page_num, &n, what, err);
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
