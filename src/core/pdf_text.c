/*
 * pdf_text.c: the text layer of a page, by a port of MuPDF 1.21.1's
 * structured-text device (fitz/stext-device.c) and of the text parts of
 * its run processor (pdf/pdf-op-run.c).  It tracks MuPDF 1.21 (Debian 12's
 * libmupdf-dev 1.21.1): a MuPDF whose structured text decides differently
 * (new options, layout analysis) needs this file brought up to it, and
 * tests/unit/test_pdf.c, which compares the two on every page of the
 * corpus, says when.  Shares core/pdf_impl.h with pdf.c; never goto or
 * return out of an fz_try or fz_always block.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
#include <mupdf/ucdn.h>

#include "apflow/utf8.h"
#include "apflow/util.h"
#include "core/pdf_impl.h"

/*
 * The text layer, streamed into the normaliser as MuPDF's structured-text
 * device (stext-device.c, 1.21) would build it: the character logic below
 * (struct text_dev, add_char()) is that device's, fed by a content-stream
 * processor of our own further down (struct text_proc) in place of
 * MuPDF's run processor.  MuPDF's device keeps every character with its
 * quad, a font reference and a colour, computes the bounding boxes of
 * every line and block on close, and tests every glyph against the media
 * box with a fresh glyph bound; we would then walk it and throw it away.
 * See docs/internals/pagetext.md for what this saves.
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

/*
 * What a character's code gives in a simple horizontal font (no Type 3
 * procedures): its glyph, width, Unicode and advance, looked up once per
 * document for codes below 256 rather than once per character.
 */
#define FONT_CACHE 8
struct code_info {
	int known;
	int gid, w; /* pdf_font_cid_to_gid(), pdf_lookup_hmtx().w */
	float adv;  /* fz_advance_glyph() */
	int ucslen, ucs[8];
};

struct font_cache {
	pdf_font_desc *fd; /* a reference */
	/* Per first byte of a code: 0 not known yet, -1 not a one-byte code
	 * with a CID (pdf_decode_cmap() and pdf_lookup_cmap() decide), else
	 * 1 + the CID of the one-byte code. */
	int byte_cid[256];
	struct code_info code[256];
};

struct text_cache {
	struct glyph_box box[BOX_CACHE];
	struct font_cache font[FONT_CACHE];
	int next; /* the font entry to replace next */
};

struct text_dev {
	struct apf_textnorm *n;
	struct text_cache *tc;
	fz_rect mediabox;
	fz_point pen, start;
	int new_obj, curdir, lastchar;
	int in_line;       /* a line (in a block) is open */
	fz_point line_dir; /* the open line's direction, normalised */
	int line_wmode;
	/* The last matrix's direction and size (they change with the
	 * font's size or the CTM, not from one character to the next). */
	float da, db, dc, dd;
	int dwmode;
	fz_point dir, ndir;
	float size;
};

/* fz_concat(), fz_pre_translate(), fz_transform_vector(),
 * fz_normalize_vector() and fz_matrix_expansion() (geometry.c): the same
 * arithmetic in the same order, inlined where they run per character. */
static inline fz_matrix concat(fz_matrix one, fz_matrix two)
{
	fz_matrix dst;

	dst.a = one.a * two.a + one.b * two.c;
	dst.b = one.a * two.b + one.b * two.d;
	dst.c = one.c * two.a + one.d * two.c;
	dst.d = one.c * two.b + one.d * two.d;
	dst.e = one.e * two.a + one.f * two.c + two.e;
	dst.f = one.e * two.b + one.f * two.d + two.f;
	return dst;
}

static inline fz_matrix pre_translate(fz_matrix m, float tx, float ty)
{
	m.e += tx * m.a + ty * m.c;
	m.f += tx * m.b + ty * m.d;
	return m;
}

static void text_dir(struct text_dev *td, fz_matrix trm, int wmode)
{
	fz_point p = { wmode ? 0 : 1, wmode ? -1 : 0 };
	float x = p.x, len;

	td->da = trm.a, td->db = trm.b, td->dc = trm.c, td->dd = trm.d, td->dwmode = wmode;
	p.x = x * trm.a + p.y * trm.c;
	p.y = x * trm.b + p.y * trm.d;
	td->dir = p;
	len = p.x * p.x + p.y * p.y;
	if (len != 0) {
		len = sqrtf(len);
		p.x /= len;
		p.y /= len;
	}
	td->ndir = p;
	td->size = sqrtf(fabsf(trm.a * trm.d - trm.b * trm.c));
}

static fz_rect glyph_bound(fz_context *ctx, struct text_dev *td, fz_font *font, int gid, fz_matrix trm)
{
	struct glyph_box *g = &td->tc->box[((unsigned)gid ^ (unsigned)((uintptr_t)font >> 4)) % BOX_CACHE];

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

/* ucdn_get_bidi_class() of U+0000..U+007F, filled once. */
static unsigned char bidi_ascii[128];
static pthread_once_t bidi_once = PTHREAD_ONCE_INIT;

static void fill_bidi_ascii(void)
{
	for (int c = 0; c < 128; c++)
		bidi_ascii[c] = (unsigned char)ucdn_get_bidi_class((uint32_t)c);
}

/* fz_add_stext_char_imp() */
static void add_char_imp(struct text_dev *td, int c, int glyph, fz_matrix trm, float adv, int wmode)
{
	int new_para = 0, new_line = 1, add_space = 0;
	fz_point dir, ndir, p, q, delta;
	float size, spacing, base_offset;

	td->curdir = direction_from_bidi_class(c < 128 ? bidi_ascii[c] : ucdn_get_bidi_class((uint32_t)c),
					       td->curdir);
	if (trm.a != td->da || trm.b != td->db || trm.c != td->dc || trm.d != td->dd || wmode != td->dwmode)
		text_dir(td, trm, wmode);
	dir = td->dir;
	ndir = td->ndir;
	size = td->size;
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

/*
 * The content stream is read by a pdf_processor of our own rather than
 * MuPDF's run processor and a device.  The run processor builds an
 * fz_text per text object, bounds every glyph for the object's box
 * (fz_bound_glyph, uncached), keeps the whole graphics state, loads every
 * image, shading and colour space, and hands the text to the device at
 * the end of the object.  This one keeps only what places a character
 * (the CTM, the text state, the text matrices) and hands each character
 * to add_char() as it is shown, with the same matrix the device got:
 * pdf-op-run.c's show_string(), pdf_show_char(), pdf_show_space() and
 * pdf_show_text(), and pdf_tos_make_trm() without the glyph bound.
 *
 * What the device saw as one text object (new_obj) starts where the run
 * processor started one: at the first character after ET, Q, cm, a colour
 * or line-state operator, the end of a content stream, or a change of the
 * render mode.  Text is dropped where the run processor would not have
 * drawn it: filled or stroked (modes 0-2) inside hidden optional content.
 * Type 3 glyphs that MuPDF renders directly count as invisible text, as
 * there; what their glyph procedures draw is not read.
 */
struct text_gstate {
	fz_matrix ctm;
	pdf_text_state text; /* text.font: a reference, or NULL */
};

struct text_proc {
	pdf_processor super;
	struct text_dev *td;
	struct text_gstate *gs;
	int gtop, gbot, gcap;
	fz_matrix tm, tlm;
	int open;      /* a text object is open */
	int text_mode; /* its render mode */
	float char_tx, char_ty;
	pdf_cycle_list *cycle;
	int form_depth; /* forms being read, one inside the other */
	struct apf_pdf_budget *budget;
};

/*
 * Forms are read by recursion, some 3 KB of stack a level: a file whose
 * forms nest thousands deep (not in a loop, which pdf_cycle() stops)
 * would overflow a worker's stack and take the process down.  Past this
 * depth the deeper forms are not read, with a note.
 */
#define MAX_FORM_DEPTH 64

static void tp_flush(struct text_proc *tp)
{
	tp->open = 0;
}

/* pdf_tos_make_trm() for a horizontal font, given the glyph's width w
 * (pdf_lookup_hmtx()). */
static fz_matrix tp_trm_h(struct text_proc *tp, const pdf_text_state *text, int w)
{
	fz_matrix tsm = { text->size * text->scale, 0, 0, text->size, 0, text->rise };
	float w0 = w * 0.001f;

	tp->char_tx = (w0 * text->size + text->char_space) * text->scale;
	tp->char_ty = 0;
	return concat(tsm, tp->tm);
}

/* pdf_tos_make_trm() without the glyph's bounds. */
static int tp_make_trm(fz_context *ctx, struct text_proc *tp, const pdf_text_state *text, pdf_font_desc *fd,
		       int cid, fz_matrix *trm)
{
	fz_matrix tsm;

	if (fd->wmode == 0) {
		*trm = tp_trm_h(tp, text, pdf_lookup_hmtx(ctx, fd, cid).w);
		return pdf_font_cid_to_gid(ctx, fd, cid);
	}
	tsm.a = text->size * text->scale;
	tsm.b = 0;
	tsm.c = 0;
	tsm.d = text->size;
	tsm.e = 0;
	tsm.f = text->rise;
	if (fd->wmode == 1) {
		pdf_vmtx v = pdf_lookup_vmtx(ctx, fd, cid);
		float w1 = v.w * 0.001f;
		tsm.e -= v.x * fabsf(text->size) * 0.001f;
		tsm.f -= v.y * text->size * 0.001f;
		tp->char_tx = 0;
		tp->char_ty = w1 * text->size + text->char_space;
	}
	*trm = concat(tsm, tp->tm);
	return pdf_font_cid_to_gid(ctx, fd, cid);
}

/* One glyph as the device took it from its fz_text span (fz_stext_extract()). */
static void tp_glyph(fz_context *ctx, struct text_dev *td, fz_font *font, fz_matrix trm, int gid, float adv,
		     int ucs, int wmode, fz_matrix ctm)
{
	fz_rect r = glyph_bound(ctx, td, font, gid, (fz_matrix){ trm.a, trm.b, trm.c, trm.d, 0, 0 });
	const fz_rect *box = &td->mediabox;

	r.x0 += trm.e;
	r.y0 += trm.f;
	r.x1 += trm.e;
	r.y1 += trm.f;
	r = transform_rect(r, ctm);
	if (r.x1 <= box->x0 || r.y1 <= box->y0 || r.x0 >= box->x1 || r.y0 >= box->y1)
		return; /* fz_glyph_entirely_outside_box() */
	add_char(td, ucs, gid, concat(trm, ctm), adv, wmode);
}

/* The cache of fd's codes, or NULL for fonts it does not take. */
static struct font_cache *font_cache(fz_context *ctx, struct text_cache *tc, pdf_font_desc *fd)
{
	struct font_cache *fc;

	if (fd->wmode != 0 || fd->font->t3procs)
		return NULL;
	for (int i = 0; i < FONT_CACHE; i++)
		if (tc->font[i].fd == fd)
			return &tc->font[i];
	fc = &tc->font[tc->next];
	tc->next = (tc->next + 1) % FONT_CACHE;
	pdf_drop_font(ctx, fc->fd);
	memset(fc, 0, sizeof(*fc));
	fc->fd = pdf_keep_font(ctx, fd);
	return fc;
}

/* What pdf_show_char() looks up for cid; ucsbuf holds 8. */
static int code_ucs(pdf_font_desc *fd, int cid, int *ucsbuf)
{
	int ucslen = 0;

	if (fd->to_unicode)
		ucslen = pdf_lookup_cmap_full(fd->to_unicode, (unsigned)cid, ucsbuf);
	if (ucslen == 0 && (size_t)cid < fd->cid_to_ucs_len) {
		ucsbuf[0] = fd->cid_to_ucs[cid];
		ucslen = 1;
	}
	if (ucslen == 0 || (ucslen == 1 && ucsbuf[0] == 0)) {
		ucsbuf[0] = FZ_REPLACEMENT_CHARACTER;
		ucslen = 1;
	}
	return ucslen;
}

/* pdf_show_char(); fc: the font's cache, or NULL */
static void tp_show_char(fz_context *ctx, struct text_proc *tp, struct font_cache *fc, int cid)
{
	struct text_gstate *gs = &tp->gs[tp->gtop];
	const pdf_text_state *text = &gs->text;
	pdf_font_desc *fd = text->font;
	int ucsbuf[8], ucslen = 0, gid, direct, shown;
	fz_matrix trm;

	if (cid >= 256)
		fc = NULL;
	if (fc) {
		/* tp_make_trm() with the width and glyph looked up before */
		struct code_info *ci = &fc->code[cid];

		if (!ci->known) {
			ci->gid = pdf_font_cid_to_gid(ctx, fd, cid);
			ci->w = pdf_lookup_hmtx(ctx, fd, cid).w;
			ci->adv = ci->gid >= 0 ? fz_advance_glyph(ctx, fd->font, ci->gid, 0) : 0;
			ci->ucslen = code_ucs(fd, cid, ci->ucs);
			ci->known = 1;
		}
		trm = tp_trm_h(tp, text, ci->w);
		gid = ci->gid;
		direct = 0;
	} else {
		gid = tp_make_trm(ctx, tp, text, fd, cid, &trm);
		direct = !fz_glyph_cacheable(ctx, fd->font, gid);
	}
	if (!tp->open || text->render != tp->text_mode || direct) {
		tp->open = 1;
		tp->text_mode = direct ? 3 : text->render;
		tp->td->new_obj = 1;
	}
	/* pdf_flush_text(): a hidden fill or stroke draws nothing. */
	shown = !(tp->super.hidden && tp->text_mode >= 0 && tp->text_mode <= 2);
	if (shown && fc) {
		const struct code_info *ci = &fc->code[cid];

		tp_glyph(ctx, tp->td, fd->font, trm, gid, ci->adv, ci->ucs[0], 0, gs->ctm);
		for (int i = 1; i < ci->ucslen; i++)
			tp_glyph(ctx, tp->td, fd->font, trm, -1, 0, ci->ucs[i], 0, gs->ctm);
	} else if (shown) {
		float adv = gid >= 0 ? fz_advance_glyph(ctx, fd->font, gid, fd->wmode) : 0;

		ucslen = code_ucs(fd, cid, ucsbuf);
		tp_glyph(ctx, tp->td, fd->font, trm, gid, adv, ucsbuf[0], fd->wmode, gs->ctm);
		for (int i = 1; i < ucslen; i++)
			tp_glyph(ctx, tp->td, fd->font, trm, -1, 0, ucsbuf[i], fd->wmode, gs->ctm);
	}
	tp->tm = pre_translate(tp->tm, tp->char_tx, tp->char_ty);
}

/* pdf_show_space() */
static void tp_show_space(struct text_proc *tp, float tadj)
{
	const struct text_gstate *gs = &tp->gs[tp->gtop];

	if (gs->text.font->wmode == 0)
		tp->tm = pre_translate(tp->tm, tadj * gs->text.scale, 0);
	else
		tp->tm = pre_translate(tp->tm, 0, tadj);
}

/* The CID of the one-byte code b in fc's font, or -1: not one. */
static int byte_cid(struct font_cache *fc, unsigned char b)
{
	if (!fc->byte_cid[b]) {
		const pdf_cmap *cm = fc->fd->encoding;
		int cid = -1;

		for (int k = 0; k < cm->codespace_len; k++)
			if (cm->codespace[k].n == 1 && b >= cm->codespace[k].low && b <= cm->codespace[k].high) {
				cid = pdf_lookup_cmap(fc->fd->encoding, b);
				break;
			}
		fc->byte_cid[b] = cid >= 0 ? cid + 1 : -1;
	}
	return fc->byte_cid[b] - (fc->byte_cid[b] > 0);
}

/* show_string() */
static void tp_show_string(fz_context *ctx, struct text_proc *tp, unsigned char *buf, size_t len)
{
	pdf_font_desc *fd = tp->gs[tp->gtop].text.font;
	struct font_cache *fc = font_cache(ctx, tp->td->tc, fd);
	unsigned char *end = buf + len;
	unsigned int cpt;

	while (buf < end) {
		int w, cid;

		if (fc && (cid = byte_cid(fc, *buf)) >= 0) {
			cpt = *buf;
			w = 1;
		} else {
			w = pdf_decode_cmap(fd->encoding, buf, end, &cpt);
			cid = pdf_lookup_cmap(fd->encoding, cpt);
		}
		buf += w;
		if (cid >= 0)
			tp_show_char(ctx, tp, fc, cid);
		else
			fz_warn(ctx, "cannot encode character");
		if (cpt == 32 && w == 1)
			tp_show_space(tp, tp->gs[tp->gtop].text.word_space);
	}
}

static int tp_has_font(fz_context *ctx, struct text_proc *tp)
{
	if (tp->gs[tp->gtop].text.font)
		return 1;
	fz_warn(ctx, "cannot draw text since font and size not set");
	return 0;
}

static void tp_gsave(fz_context *ctx, struct text_proc *tp)
{
	if (tp->gtop == tp->gcap - 1) {
		tp->gs = fz_realloc_array(ctx, tp->gs, tp->gcap * 2, struct text_gstate);
		tp->gcap *= 2;
	}
	tp->gs[tp->gtop + 1] = tp->gs[tp->gtop];
	tp->gtop++;
	pdf_keep_font(ctx, tp->gs[tp->gtop].text.font);
}

static void tp_grestore(fz_context *ctx, struct text_proc *tp)
{
	if (tp->gtop <= tp->gbot) {
		fz_warn(ctx, "gstate underflow in content stream");
		return;
	}
	pdf_drop_font(ctx, tp->gs[tp->gtop].text.font);
	tp->gtop--;
}

#define TP(proc) ((struct text_proc *)(proc))
#define TS(proc) (&TP(proc)->gs[TP(proc)->gtop].text)
/* Every operator the processor is given counts against the page's budget. */
#define TICK(ctx, proc) apf_pdf_budget_tick((ctx), TP(proc)->budget)

static void tp_q(fz_context *ctx, pdf_processor *proc)
{
	TICK(ctx, proc);
	tp_gsave(ctx, TP(proc));
}

static void tp_Q(fz_context *ctx, pdf_processor *proc)
{
	TICK(ctx, proc);
	tp_flush(TP(proc));
	tp_grestore(ctx, TP(proc));
}

static void tp_cm(fz_context *ctx, pdf_processor *proc, float a, float b, float c, float d, float e, float f)
{
	struct text_proc *tp = TP(proc);
	fz_matrix m = { a, b, c, d, e, f };

	TICK(ctx, proc);
	tp_flush(tp);
	tp->gs[tp->gtop].ctm = fz_concat(m, tp->gs[tp->gtop].ctm);
}

static void tp_BT(fz_context *ctx, pdf_processor *proc)
{
	TICK(ctx, proc);
	TP(proc)->tm = fz_identity;
	TP(proc)->tlm = fz_identity;
}

static void tp_ET(fz_context *ctx, pdf_processor *proc)
{
	TICK(ctx, proc);
	tp_flush(TP(proc));
}

/* The text-state operators that set one value. */
#define TEXT_STATE_OP(op, type, field, value)                         \
	static void tp_##op(fz_context *ctx, pdf_processor *proc, type v) \
	{                                                                 \
		TICK(ctx, proc);                                          \
		TS(proc)->field = (value);                                \
	}
TEXT_STATE_OP(Tc, float, char_space, v)
TEXT_STATE_OP(Tw, float, word_space, v)
TEXT_STATE_OP(Tz, float, scale, v / 100)
TEXT_STATE_OP(TL, float, leading, v)
TEXT_STATE_OP(Tr, int, render, v)
TEXT_STATE_OP(Ts, float, rise, v)

static void tp_Tf(fz_context *ctx, pdf_processor *proc, const char *name, pdf_font_desc *font, float size)
{
	TICK(ctx, proc);
	(void)name;
	pdf_drop_font(ctx, TS(proc)->font);
	TS(proc)->font = pdf_keep_font(ctx, font);
	TS(proc)->size = size;
}

static void tp_Td(fz_context *ctx, pdf_processor *proc, float tx, float ty)
{
	TICK(ctx, proc);
	TP(proc)->tlm = fz_pre_translate(TP(proc)->tlm, tx, ty);
	TP(proc)->tm = TP(proc)->tlm;
}

static void tp_TD(fz_context *ctx, pdf_processor *proc, float tx, float ty)
{
	TICK(ctx, proc);
	TS(proc)->leading = -ty;
	tp_Td(ctx, proc, tx, ty);
}

static void tp_Tm(fz_context *ctx, pdf_processor *proc, float a, float b, float c, float d, float e, float f)
{
	TICK(ctx, proc);
	TP(proc)->tm = (fz_matrix){ a, b, c, d, e, f };
	TP(proc)->tlm = TP(proc)->tm;
}

static void tp_Tstar(fz_context *ctx, pdf_processor *proc)
{
	TICK(ctx, proc);
	tp_Td(ctx, proc, 0, -TS(proc)->leading);
}

static void tp_TJ(fz_context *ctx, pdf_processor *proc, pdf_obj *text)
{
	struct text_proc *tp = TP(proc);

	TICK(ctx, proc);
	if (!tp_has_font(ctx, tp))
		return;
	if (pdf_is_array(ctx, text)) {
		int n = pdf_array_len(ctx, text);
		for (int i = 0; i < n; i++) {
			pdf_obj *item = pdf_array_get(ctx, text, i);
			if (pdf_is_string(ctx, item))
				tp_show_string(ctx, tp, (unsigned char *)pdf_to_str_buf(ctx, item),
					       pdf_to_str_len(ctx, item));
			else
				tp_show_space(tp, -pdf_to_real(ctx, item) * TS(proc)->size * 0.001f);
		}
	} else if (pdf_is_string(ctx, text)) {
		tp_show_string(ctx, tp, (unsigned char *)pdf_to_str_buf(ctx, text), pdf_to_str_len(ctx, text));
	}
}

static void tp_Tj(fz_context *ctx, pdf_processor *proc, char *str, size_t len)
{
	TICK(ctx, proc);
	if (tp_has_font(ctx, TP(proc)))
		tp_show_string(ctx, TP(proc), (unsigned char *)str, len);
}

static void tp_squote(fz_context *ctx, pdf_processor *proc, char *str, size_t len)
{
	TICK(ctx, proc);
	tp_Tstar(ctx, proc);
	tp_Tj(ctx, proc, str, len);
}

static void tp_dquote(fz_context *ctx, pdf_processor *proc, float aw, float ac, char *str, size_t len)
{
	TICK(ctx, proc);
	TS(proc)->word_space = aw;
	TS(proc)->char_space = ac;
	tp_squote(ctx, proc, str, len);
}

/* pdf_run_xobject(), for what places text: the form's matrix, its
 * resources, a graphics state of its own, no loops. */
static void tp_Do_form(fz_context *ctx, pdf_processor *proc, const char *name, pdf_obj *xobj, pdf_obj *page_res)
{
	struct text_proc *tp = TP(proc);
	pdf_cycle_list here, *up = tp->cycle;
	int oldtop = tp->gtop, oldbot = tp->gbot;
	pdf_obj *res;

	TICK(ctx, proc);
	(void)name;
	if (xobj == NULL || pdf_cycle(ctx, &here, up, xobj))
		return;
	if (tp->form_depth >= MAX_FORM_DEPTH) {
		fz_warn(ctx, "forms nested more than %d deep: the deeper ones are not read", MAX_FORM_DEPTH);
		return;
	}
	tp->cycle = &here;
	tp->form_depth++;
	fz_try(ctx) {
		tp_gsave(ctx, tp);
		tp->gs[tp->gtop].ctm = fz_concat(fz_concat(pdf_xobject_matrix(ctx, xobj), fz_identity),
						 tp->gs[tp->gtop].ctm);
		tp_gsave(ctx, tp); /* the run processor's save for the clip */
		res = pdf_xobject_resources(ctx, xobj);
		tp->gbot = tp->gtop;
		pdf_process_contents(ctx, proc, pdf_get_bound_document(ctx, xobj), res ? res : page_res, xobj,
				     NULL);
		while (tp->gtop > tp->gbot)
			tp_grestore(ctx, tp);
		tp->gbot = oldbot;
		while (oldtop < tp->gtop)
			tp_grestore(ctx, tp);
	}
	fz_always(ctx) {
		tp->cycle = up;
		tp->form_depth--;
	}
	fz_catch(ctx) {
		if (fz_caught(ctx) == FZ_ERROR_SYNTAX)
			fz_throw(ctx, FZ_ERROR_GENERIC, "syntax error in xobject");
		fz_rethrow(ctx);
	}
}

/* Operators after which the run processor starts a new text object. */
static void tp_flush_f(fz_context *ctx, pdf_processor *proc, float v)
{
	TICK(ctx, proc);
	(void)v;
	tp_flush(TP(proc));
}

static void tp_flush_i(fz_context *ctx, pdf_processor *proc, int v)
{
	TICK(ctx, proc);
	(void)v;
	tp_flush(TP(proc));
}

static void tp_flush_s(fz_context *ctx, pdf_processor *proc, const char *v)
{
	TICK(ctx, proc);
	(void)v;
	tp_flush(TP(proc));
}

static void tp_flush_o(fz_context *ctx, pdf_processor *proc, pdf_obj *v)
{
	TICK(ctx, proc);
	(void)v;
	tp_flush(TP(proc));
}

static void tp_flush_0(fz_context *ctx, pdf_processor *proc)
{
	TICK(ctx, proc);
	tp_flush(TP(proc));
}

static void tp_d(fz_context *ctx, pdf_processor *proc, pdf_obj *array, float phase)
{
	TICK(ctx, proc);
	(void)array, (void)phase;
	tp_flush(TP(proc));
}

static void tp_gs_SMask(fz_context *ctx, pdf_processor *proc, pdf_obj *smask, pdf_obj *res, float *bc, int lum)
{
	TICK(ctx, proc);
	(void)smask, (void)res, (void)bc, (void)lum;
	tp_flush(TP(proc));
}

static void tp_cs(fz_context *ctx, pdf_processor *proc, const char *name, fz_colorspace *cs)
{
	TICK(ctx, proc);
	(void)name, (void)cs;
	tp_flush(TP(proc));
}

static void tp_sc_pattern(fz_context *ctx, pdf_processor *proc, const char *name, pdf_pattern *pat, int n,
			  float *color)
{
	TICK(ctx, proc);
	(void)name, (void)pat, (void)n, (void)color;
	tp_flush(TP(proc));
}

static void tp_sc_shade(fz_context *ctx, pdf_processor *proc, const char *name, fz_shade *shade)
{
	TICK(ctx, proc);
	(void)name, (void)shade;
	tp_flush(TP(proc));
}

static void tp_sc_color(fz_context *ctx, pdf_processor *proc, int n, float *color)
{
	TICK(ctx, proc);
	(void)n, (void)color;
	tp_flush(TP(proc));
}

static void tp_rgb(fz_context *ctx, pdf_processor *proc, float r, float g, float b)
{
	TICK(ctx, proc);
	(void)r, (void)g, (void)b;
	tp_flush(TP(proc));
}

static void tp_cmyk(fz_context *ctx, pdf_processor *proc, float c, float m, float y, float k)
{
	TICK(ctx, proc);
	(void)c, (void)m, (void)y, (void)k;
	tp_flush(TP(proc));
}

/* Operators that place no text, counted only. */
static void tp_tick_0(fz_context *ctx, pdf_processor *proc)
{
	TICK(ctx, proc);
}

static void tp_tick_f(fz_context *ctx, pdf_processor *proc, float a)
{
	(void)a;
	TICK(ctx, proc);
}

static void tp_tick_2f(fz_context *ctx, pdf_processor *proc, float a, float b)
{
	(void)a, (void)b;
	TICK(ctx, proc);
}

static void tp_tick_4f(fz_context *ctx, pdf_processor *proc, float a, float b, float c, float d)
{
	(void)a, (void)b, (void)c, (void)d;
	TICK(ctx, proc);
}

static void tp_tick_6f(fz_context *ctx, pdf_processor *proc, float a, float b, float c, float d, float e,
		       float f)
{
	(void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
	TICK(ctx, proc);
}

static void tp_drop(fz_context *ctx, pdf_processor *proc)
{
	struct text_proc *tp = TP(proc);

	for (int i = 0; i <= tp->gtop; i++)
		pdf_drop_font(ctx, tp->gs[i].text.font);
	fz_free(ctx, tp->gs);
}

static pdf_processor *new_text_proc(fz_context *ctx, struct text_dev *td, fz_matrix ctm,
				    struct apf_pdf_budget *budget)
{
	struct text_proc *tp = pdf_new_processor(ctx, sizeof(*tp));
	pdf_processor *p = &tp->super;

	p->drop_processor = tp_drop;
	p->op_w = p->op_M = tp_flush_f;
	p->op_j = p->op_J = tp_flush_i;
	p->op_d = tp_d;
	p->op_ri = p->op_gs_BM = tp_flush_s;
	p->op_gs_OP = p->op_gs_op = p->op_gs_OPM = tp_flush_i;
	p->op_gs_UseBlackPtComp = tp_flush_o;
	p->op_gs_CA = p->op_gs_ca = tp_flush_f;
	p->op_gs_SMask = tp_gs_SMask;
	p->op_q = tp_q;
	p->op_Q = tp_Q;
	p->op_cm = tp_cm;
	p->op_BT = tp_BT;
	p->op_ET = tp_ET;
	p->op_Tc = tp_Tc;
	p->op_Tw = tp_Tw;
	p->op_Tz = tp_Tz;
	p->op_TL = tp_TL;
	p->op_Tf = tp_Tf;
	p->op_Tr = tp_Tr;
	p->op_Ts = tp_Ts;
	p->op_Td = tp_Td;
	p->op_TD = tp_TD;
	p->op_Tm = tp_Tm;
	p->op_Tstar = tp_Tstar;
	p->op_TJ = tp_TJ;
	p->op_Tj = tp_Tj;
	p->op_squote = tp_squote;
	p->op_dquote = tp_dquote;
	p->op_CS = p->op_cs = tp_cs;
	p->op_SC_pattern = p->op_sc_pattern = tp_sc_pattern;
	p->op_SC_shade = p->op_sc_shade = tp_sc_shade;
	p->op_SC_color = p->op_sc_color = tp_sc_color;
	p->op_G = p->op_g = tp_flush_f;
	p->op_RG = p->op_rg = tp_rgb;
	p->op_K = p->op_k = tp_cmyk;
	p->op_Do_form = tp_Do_form;
	p->op_END = tp_flush_0;
	p->op_m = p->op_l = tp_tick_2f;
	p->op_c = tp_tick_6f;
	p->op_v = p->op_y = p->op_re = tp_tick_4f;
	p->op_h = p->op_S = p->op_s = p->op_F = p->op_f = p->op_fstar = tp_tick_0;
	p->op_B = p->op_Bstar = p->op_b = p->op_bstar = p->op_n = p->op_W = p->op_Wstar = tp_tick_0;
	p->op_i = tp_tick_f;
	p->usage = "View";
	tp->td = td;
	tp->budget = budget;
	tp->gcap = 8;
	tp->gs = fz_malloc_array(ctx, tp->gcap, struct text_gstate);
	tp->gs[0].ctm = ctm;
	tp->gs[0].text = (pdf_text_state){ .scale = 1, .size = -1 };
	return p;
}

static struct text_cache *text_cache_new(void)
{
	struct text_cache *tc = apf_xcalloc(1, sizeof(*tc));

	for (int i = 0; i < BOX_CACHE; i++)
		tc->box[i].gid = -2; /* matches no glyph */
	return tc;
}

void apf_pdf_text_cache_free(fz_context *ctx, struct text_cache *tc)
{
	if (!tc)
		return;
	for (int i = 0; i < BOX_CACHE; i++)
		fz_drop_font(ctx, tc->box[i].font);
	for (int i = 0; i < FONT_CACHE; i++)
		pdf_drop_font(ctx, tc->font[i].fd);
	free(tc);
}

/* Reads the text of page with the processor above; MuPDF's exceptions
 * become APF_EPDF (what) or APF_ENOMEM. */
int apf_pdf_read_text(struct apf_pdf *pdf, int page_num, struct apf_textnorm *n, const char *what,
		     struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_page *page = NULL;
	pdf_processor *proc = NULL;
	struct text_dev td;
	struct apf_pdf_budget budget;
	int rc = 0;

	apf_pdf_budget_start(pdf->pc, &budget, APF_PDF_UNIT_OPS);
	pthread_once(&bidi_once, fill_bidi_ascii);
	if (!pdf->tc)
		pdf->tc = text_cache_new();
	memset(&td, 0, sizeof(td));
	td.n = n;
	td.tc = pdf->tc;
	td.lastchar = ' ';
	td.curdir = 1;
	fz_var(page);
	fz_var(proc);
	fz_try(ctx) {
		pdf_page *pp;
		fz_rect mediabox;
		fz_matrix page_ctm;

		page = apf_pdf_load_page_obj(pdf, page_num);
		pp = pdf_page_from_fz_page(ctx, page);
		td.mediabox = fz_bound_page(ctx, page);
		pdf_page_transform(ctx, pp, &mediabox, &page_ctm);
		proc = new_text_proc(ctx, &td, fz_concat(page_ctm, fz_identity), &budget);
		pdf_process_contents(ctx, proc, pp->doc, pdf_page_resources(ctx, pp), pdf_page_contents(ctx, pp),
				     NULL);
		pdf_close_processor(ctx, proc);
	}
	fz_always(ctx) {
		pdf_drop_processor(ctx, proc);
		fz_drop_page(ctx, page);
	}
	fz_catch(ctx)
		rc = apf_pdf_caught_budget(ctx, &budget, err, APF_EPDF, what);
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

int apf_pdf_read_stext(struct apf_pdf *pdf, int page_num, struct apf_textnorm *n, const char *what,
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
		page = apf_pdf_load_page_obj(pdf, page_num);
		st = fz_new_stext_page_from_page(ctx, page, &opts);
	}
	fz_always(ctx)
		fz_drop_page(ctx, page);
	fz_catch(ctx)
		rc = apf_pdf_caught(ctx, err, APF_EPDF, what);
	if (!rc) {
		stext_to_text(st, n);
		fz_drop_stext_page(ctx, st);
	}
	return rc;
}

/*
 * Whether a page draws anything, for the auto engine's blank pages: a
 * processor that stops at the first thing drawn (a path painted, a
 * shading, an inline image, a string shown) and otherwise only counts
 * operators.  Images drawn with Do are not loaded to be seen (MuPDF would
 * load, and decode JPEG 2000, to hand one to the processor): any image in
 * the resources of the page or of a form it draws counts as drawn.
 */
struct ink_proc {
	pdf_processor super;
	struct apf_pdf_budget *budget;
	int *found;
	pdf_cycle_list *cycle;
	int form_depth;
};

#define IP(proc) ((struct ink_proc *)(proc))
#define INK_TICK(ctx, proc) apf_pdf_budget_tick((ctx), IP(proc)->budget)

static void ink_found(fz_context *ctx, pdf_processor *proc)
{
	*IP(proc)->found = 1;
	fz_throw(ctx, FZ_ERROR_ABORT, "ink found");
}

/* Whether res has an image among its XObjects. */
static int has_images(fz_context *ctx, pdf_processor *proc, pdf_obj *res)
{
	pdf_obj *xobjs = pdf_dict_get(ctx, res, PDF_NAME(XObject));
	int n = pdf_dict_len(ctx, xobjs);

	for (int i = 0; i < n; i++) {
		INK_TICK(ctx, proc);
		if (pdf_name_eq(ctx, pdf_dict_get(ctx, pdf_dict_get_val(ctx, xobjs, i), PDF_NAME(Subtype)),
				PDF_NAME(Image)))
			return 1;
	}
	return 0;
}

static void ink_paint(fz_context *ctx, pdf_processor *proc)
{
	ink_found(ctx, proc);
}

static void ink_sh(fz_context *ctx, pdf_processor *proc, const char *name, fz_shade *shade)
{
	(void)name, (void)shade;
	ink_found(ctx, proc);
}

static void ink_BI(fz_context *ctx, pdf_processor *proc, fz_image *image, const char *cs)
{
	(void)image, (void)cs;
	ink_found(ctx, proc);
}

static void ink_Tj(fz_context *ctx, pdf_processor *proc, char *str, size_t len)
{
	(void)str;
	INK_TICK(ctx, proc);
	if (len)
		ink_found(ctx, proc);
}

static void ink_squote(fz_context *ctx, pdf_processor *proc, char *str, size_t len)
{
	ink_Tj(ctx, proc, str, len);
}

static void ink_dquote(fz_context *ctx, pdf_processor *proc, float aw, float ac, char *str, size_t len)
{
	(void)aw, (void)ac;
	ink_Tj(ctx, proc, str, len);
}

static void ink_TJ(fz_context *ctx, pdf_processor *proc, pdf_obj *text)
{
	int n = pdf_array_len(ctx, text);

	INK_TICK(ctx, proc);
	if (pdf_is_string(ctx, text) && pdf_to_str_len(ctx, text))
		ink_found(ctx, proc);
	for (int i = 0; i < n; i++)
		if (pdf_to_str_len(ctx, pdf_array_get(ctx, text, i)))
			ink_found(ctx, proc);
}

static void ink_tick_0(fz_context *ctx, pdf_processor *proc)
{
	INK_TICK(ctx, proc);
}

static void ink_tick_f(fz_context *ctx, pdf_processor *proc, float a)
{
	(void)a;
	INK_TICK(ctx, proc);
}

static void ink_tick_2f(fz_context *ctx, pdf_processor *proc, float a, float b)
{
	(void)a, (void)b;
	INK_TICK(ctx, proc);
}

static void ink_tick_4f(fz_context *ctx, pdf_processor *proc, float a, float b, float c, float d)
{
	(void)a, (void)b, (void)c, (void)d;
	INK_TICK(ctx, proc);
}

static void ink_tick_6f(fz_context *ctx, pdf_processor *proc, float a, float b, float c, float d, float e,
			float f)
{
	(void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
	INK_TICK(ctx, proc);
}

/* A form: its images, then its content, as tp_Do_form() reads it. */
static void ink_Do_form(fz_context *ctx, pdf_processor *proc, const char *name, pdf_obj *xobj, pdf_obj *page_res)
{
	struct ink_proc *ip = IP(proc);
	pdf_cycle_list here, *up = ip->cycle;
	pdf_obj *res;

	(void)name;
	INK_TICK(ctx, proc);
	if (xobj == NULL || pdf_cycle(ctx, &here, up, xobj))
		return;
	if (ip->form_depth >= MAX_FORM_DEPTH) {
		fz_warn(ctx, "forms nested more than %d deep: the deeper ones are not read", MAX_FORM_DEPTH);
		return;
	}
	res = pdf_xobject_resources(ctx, xobj);
	if (res && has_images(ctx, proc, res))
		ink_found(ctx, proc);
	ip->cycle = &here;
	ip->form_depth++;
	fz_try(ctx)
		pdf_process_contents(ctx, proc, pdf_get_bound_document(ctx, xobj), res ? res : page_res, xobj, NULL);
	fz_always(ctx) {
		ip->cycle = up;
		ip->form_depth--;
	}
	fz_catch(ctx) {
		if (fz_caught(ctx) == FZ_ERROR_SYNTAX)
			fz_throw(ctx, FZ_ERROR_GENERIC, "syntax error in xobject");
		fz_rethrow(ctx);
	}
}

static pdf_processor *new_ink_proc(fz_context *ctx, struct apf_pdf_budget *budget, int *found)
{
	struct ink_proc *ip = pdf_new_processor(ctx, sizeof(*ip));
	pdf_processor *p = &ip->super;

	p->op_S = p->op_s = p->op_F = p->op_f = p->op_fstar = ink_paint;
	p->op_B = p->op_Bstar = p->op_b = p->op_bstar = ink_paint;
	p->op_sh = ink_sh;
	p->op_BI = ink_BI;
	p->op_Tj = ink_Tj;
	p->op_TJ = ink_TJ;
	p->op_squote = ink_squote;
	p->op_dquote = ink_dquote;
	p->op_Do_form = ink_Do_form;
	p->op_q = p->op_Q = p->op_h = p->op_n = p->op_W = p->op_Wstar = p->op_BT = p->op_ET = ink_tick_0;
	p->op_m = p->op_l = p->op_Td = ink_tick_2f;
	p->op_c = p->op_cm = p->op_Tm = ink_tick_6f;
	p->op_v = p->op_y = p->op_re = ink_tick_4f;
	p->op_w = p->op_i = p->op_G = p->op_g = ink_tick_f;
	p->usage = "View";
	ip->budget = budget;
	ip->found = found;
	return p;
}

int apf_pdf_read_ink(struct apf_pdf *pdf, int page_num, int *inked, const char *what, struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_page *page = NULL;
	pdf_processor *proc = NULL;
	struct apf_pdf_budget budget;
	int found = 0, rc = 0;

	apf_pdf_budget_start(pdf->pc, &budget, APF_PDF_UNIT_OPS);
	fz_var(page);
	fz_var(proc);
	fz_var(found);
	fz_try(ctx) {
		pdf_page *pp;
		pdf_obj *res;

		page = apf_pdf_load_page_obj(pdf, page_num);
		pp = pdf_page_from_fz_page(ctx, page);
		res = pdf_page_resources(ctx, pp);
		/* Annotations (stamps, notes, form fields) are drawn too. */
		if (pdf_array_len(ctx, pdf_dict_get(ctx, pp->obj, PDF_NAME(Annots))) > 0) {
			found = 1;
		} else {
			proc = new_ink_proc(ctx, &budget, &found);
			if (has_images(ctx, proc, res))
				found = 1;
			else
				pdf_process_contents(ctx, proc, pp->doc, res, pdf_page_contents(ctx, pp), NULL);
			pdf_close_processor(ctx, proc);
		}
	}
	fz_always(ctx) {
		pdf_drop_processor(ctx, proc);
		fz_drop_page(ctx, page);
	}
	fz_catch(ctx) {
		if (!found || budget.tripped)
			rc = apf_pdf_caught_budget(ctx, &budget, err, APF_EPDF, what);
	}
	if (!rc)
		*inked = found;
	return rc;
}
