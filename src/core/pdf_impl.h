/*
 * pdf_impl.h: what pdf.c (contexts, documents, rendering) shares with
 * pdf_text.c (the text layer), internal to the core.  Only these two
 * files include MuPDF's headers.
 */
#ifndef APFLOW_PDF_IMPL_H
#define APFLOW_PDF_IMPL_H

#include <mupdf/fitz.h>
#include <mupdf/pdf.h>

#include "apflow/err.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"

struct apf_pdf_ctx {
	fz_context *ctx;
	/* What MuPDF reported and worked around since the last reset_notes():
	 * the first message, and how many. */
	char note[256];
	int notes;
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
int apf_pdf_read_stext(struct apf_pdf *pdf, int page_num, struct apf_textnorm *n, const char *what,
		       struct apf_err *err);
/* Frees what apf_pdf_read_text() keeps from page to page (pdf->tc).  NULL is fine. */
void apf_pdf_text_cache_free(fz_context *ctx, struct text_cache *tc);

#endif
