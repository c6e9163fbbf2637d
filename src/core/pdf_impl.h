/*
 * pdf_impl.h: what pdf.c (contexts, documents, rendering) shares with
 * pdf_text.c (the text layer), internal to the core.  Only these two
 * files include MuPDF's headers.
 */
#ifndef APFLOW_PDF_IMPL_H
#define APFLOW_PDF_IMPL_H

#include <signal.h>
#include <stdint.h>

#include <mupdf/fitz.h>
#include <mupdf/pdf.h>

#include "apflow/err.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"

/* What MuPDF may allocate for one page (loading, reading, drawing it;
 * the pixmap drawn for OCR is not MuPDF's), beside what its context held
 * before: past it the page fails, "the page takes more than 160 MiB of
 * memory to read". */
#define APF_PDF_PAGE_HEAP_MAX ((size_t)160 << 20)

/* MuPDF's heap for one context, counted: past limit (0: none) an
 * allocation fails (MuPDF then empties its store and throws). */
struct pdf_heap {
	size_t live, limit;
	int hit; /* an allocation failed for the limit */
};

struct apf_pdf_ctx {
	fz_context *ctx;
	struct pdf_heap heap;
	/* What MuPDF reported and worked around since the last reset_notes():
	 * the first message, and how many. */
	char note[256];
	int notes;
	struct apf_pdf_limits limits; /* apf_pdf_ctx_set_limits(); zeros: the defaults */
};

struct text_cache;

struct apf_pdf {
	struct apf_pdf_ctx *pc;
	fz_document *doc;
	int pages;
	int repaired;
	char page_note[256]; /* the first note of the last page read, or "" */
	struct text_cache *tc; /* what reading the text layer keeps from page to page */
};

/*
 * The work of one page (reading its text, rendering it, looking for ink),
 * bounded: every content-stream operator the reader sees, or every call
 * the renderer makes to its device, is a tick; past the context's limits
 * (operators, time) or once its cancel flag is set, a tick throws
 * FZ_ERROR_ABORT, which MuPDF's interpreter passes up through every form
 * (pdf_process_stream() rethrows it), and the caller's catch turns it
 * into tripped's error with why (apf_pdf_caught_budget()).
 */
struct apf_pdf_budget {
	int64_t ops, max_ops;
	int64_t deadline_ms; /* apf_now_ms() */
	int max_ms;
	volatile sig_atomic_t *cancel;
	const char *unit;    /* "content-stream operators", "drawing operations" */
	int tripped;         /* 0, or the APF_E* code of why */
	char why[160];
};
#define APF_PDF_UNIT_OPS "content-stream operators"
#define APF_PDF_UNIT_DRAWS "drawing operations"
/* Starts b for a page: unit is one of the two above. */
void apf_pdf_budget_start(const struct apf_pdf_ctx *pc, struct apf_pdf_budget *b, const char *unit);
/* Whether b is over (sets tripped and why); and the same, throwing. */
int apf_pdf_budget_over(struct apf_pdf_budget *b);
void apf_pdf_budget_check(fz_context *ctx, struct apf_pdf_budget *b);
static inline void apf_pdf_budget_tick(fz_context *ctx, struct apf_pdf_budget *b)
{
	if (++b->ops > b->max_ops || (b->cancel && *b->cancel) || !(b->ops & 255))
		apf_pdf_budget_check(ctx, b);
}
/* apf_pdf_caught(), but b's error when b tripped. */
int apf_pdf_caught_budget(fz_context *ctx, const struct apf_pdf_budget *b, struct apf_err *err, int code,
			  const char *what);

/* Turns the exception just caught into an apflow error: APF_ENOMEM for
 * MuPDF's out of memory, else code with "what: MuPDF's message". */
int apf_pdf_caught(fz_context *ctx, struct apf_err *err, int code, const char *what);

/* fz_load_page() of page_num (1-based), with MuPDF 1.21's leak fixed
 * (pdf.c says which).  Throws as fz_load_page() does. */
fz_page *apf_pdf_load_page_obj(struct apf_pdf *pdf, int page_num);

/*
 * pdf_text.c: the text of page page_num into the normaliser n, by our
 * port of MuPDF's structured-text device (apf_pdf_read_text) or through
 * MuPDF's own structured-text page (apf_pdf_read_stext, for tests).
 * MuPDF's exceptions become APF_EPDF (what: ...) or APF_ENOMEM.
 */
int apf_pdf_read_text(struct apf_pdf *pdf, int page_num, struct apf_textnorm *n, const char *what,
		      struct apf_err *err);
/* Whether page page_num draws anything (apf_pdf_page_inked() in pdf.h). */
int apf_pdf_read_ink(struct apf_pdf *pdf, int page_num, int *inked, const char *what, struct apf_err *err);
int apf_pdf_read_stext(struct apf_pdf *pdf, int page_num, struct apf_textnorm *n, const char *what,
		       struct apf_err *err);
/* Frees what apf_pdf_read_text() keeps from page to page (pdf->tc).  NULL is fine. */
void apf_pdf_text_cache_free(fz_context *ctx, struct text_cache *tc);

#endif
